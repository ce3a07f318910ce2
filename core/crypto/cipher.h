/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Encryption transforms of IKE and ESP, named by their IKEv2 transform type 1
 * IDs (RFC 7296 §3.3.2, IANA "Transform Type 1"; the ESP transform IDs of the
 * IKEv1 IPsec DOI use the same numbers for these algorithms).
 *
 * Two families, each a context created once per SA and direction with its key
 * (the algorithm is fetched and the key schedule built once; per packet only
 * the IV is set, nothing is allocated):
 *
 *  - AEAD (struct keel_aead): AES-GCM with an 8, 12 or 16-byte ICV (RFC 4106
 *    for ESP, RFC 5282 for IKEv2) and ChaCha20-Poly1305 (RFC 7634, RFC 8439).
 *    Key material is key | 4-byte salt; the nonce is salt | 8-byte explicit IV.
 *
 *  - Block/stream ciphers without integrity (struct keel_cipher): AES-CBC
 *    (RFC 3602: 16-byte IV, input a multiple of 16 bytes) and AES-CTR
 *    (RFC 3686: key material is key | 4-byte nonce; counter block is
 *    nonce | 8-byte IV | 32-bit counter starting at 1). No padding is done
 *    here: callers pad as RFC 4303 §2.4 / RFC 7296 §3.14 say.
 *
 * Every function accepts in == out (in place); other overlaps are not allowed.
 * A context is not safe for concurrent use: one per thread, or a lock.
 * Freeing a context wipes its key.
 */
#ifndef KEEL_CRYPTO_CIPHER_H
#define KEEL_CRYPTO_CIPHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/err.h>

/* IKEv2 Transform Type 1 IDs. */
enum keel_encr {
	KEEL_ENCR_AES_CBC = 12,           /* RFC 3602; key 128/192/256 */
	KEEL_ENCR_AES_CTR = 13,           /* RFC 3686, RFC 5930; key 128/192/256 */
	KEEL_ENCR_AES_GCM_8 = 18,         /* RFC 4106, RFC 5282; 8-byte ICV */
	KEEL_ENCR_AES_GCM_12 = 19,        /* 12-byte ICV */
	KEEL_ENCR_AES_GCM_16 = 20,        /* 16-byte ICV */
	KEEL_ENCR_CHACHA20_POLY1305 = 28, /* RFC 7634; 256-bit key, no Key Length attribute */
};

/* Explicit IV of every AEAD here (RFC 4106 §3.1, RFC 5282 §3.1, RFC 7634 §2). */
#define KEEL_AEAD_IV_LEN 8
/* Salt appended to the AEAD key, and nonce appended to the AES-CTR key. */
#define KEEL_ENCR_SALT_LEN 4
/* Upper bounds over every algorithm, for stack buffers. */
#define KEEL_ENCR_IV_MAX_LEN     16
#define KEEL_ENCR_ICV_MAX_LEN    16
#define KEEL_ENCR_KEYMAT_MAX_LEN 36

enum keel_cipher_op {
	KEEL_CIPHER_ENCRYPT,
	KEEL_CIPHER_DECRYPT,
};

/*
 * key_bits below is the value of the Key Length attribute (RFC 7296 §3.3.5):
 * 128, 192 or 256 for the AES transforms; for ChaCha20-Poly1305, which has no
 * such attribute (RFC 7634 §3), 0 (or 256).
 */

/* True if Keel implements encr (any value, as received) with key_bits. */
bool keel_encr_supported(uint16_t encr, unsigned key_bits);
/* True for the AEAD transforms (GCM, ChaCha20-Poly1305), whatever the key length. */
bool keel_encr_is_aead(uint16_t encr);
/*
 * Bytes of key material to take from the key derivation for one direction:
 * the key plus the 4-byte salt (GCM, RFC 4106 §8.1 / RFC 5282 §7.1;
 * ChaCha20-Poly1305, RFC 7634 §4) or nonce (CTR, RFC 3686 §5.1).
 * KEEL_ERR_UNSUPPORTED if !keel_encr_supported(encr, key_bits).
 */
ptrdiff_t keel_encr_keymat_len(uint16_t encr, unsigned key_bits);
/* Bytes of the explicit IV sent in each packet: 16 for CBC, 8 for the others. */
ptrdiff_t keel_encr_iv_len(uint16_t encr);
/* Bytes of the ICV: 8/12/16 for GCM, 16 for ChaCha20-Poly1305, 0 for CBC/CTR. */
ptrdiff_t keel_encr_icv_len(uint16_t encr);
/*
 * Block size the plaintext must be padded to: 16 for CBC, 1 for the stream
 * modes (CTR, GCM, ChaCha20). ESP also aligns to 4 bytes (RFC 4303 §2.4).
 */
ptrdiff_t keel_encr_block_len(uint16_t encr);

/* ---- AEAD ---- */

struct keel_aead;

/*
 * Creates a context for encr (an AEAD transform) keyed with keymat, which is
 * keel_encr_keymat_len(encr, key_bits) bytes: key | salt. op says whether the
 * context seals or opens. keymat is copied; the caller may wipe its own copy.
 * On success *out is set and owned by the caller (keel_aead_free()).
 * Errors: KEEL_ERR_UNSUPPORTED (not an AEAD or bad key_bits), KEEL_ERR_INVAL
 * (keymat_len), KEEL_ERR_NOMEM, KEEL_ERR_CRYPTO.
 */
int keel_aead_new(uint16_t encr, unsigned key_bits, enum keel_cipher_op op, const uint8_t *keymat,
                  size_t keymat_len, struct keel_aead **out);
/* Frees a and wipes its key. NULL is fine. */
void keel_aead_free(struct keel_aead *a);
/* ICV length of a's transform (8, 12 or 16). */
size_t keel_aead_icv_len(const struct keel_aead *a);

/*
 * Encrypts len bytes of in to out (in == out allowed) with nonce salt | iv,
 * authenticating aad (aad_len may be 0, aad then may be NULL), and writes
 * keel_aead_icv_len() bytes of ICV to icv. len must be at most INT_MAX.
 * Errors: KEEL_ERR_STATE (a decrypting context), KEEL_ERR_INVAL (len),
 * KEEL_ERR_CRYPTO.
 */
int keel_aead_seal(struct keel_aead *a, const uint8_t iv[KEEL_AEAD_IV_LEN], const uint8_t *aad,
                   size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t *icv);

/*
 * Checks icv (keel_aead_icv_len() bytes) over aad and the ciphertext in and
 * decrypts len bytes to out (in == out allowed). On KEEL_ERR_AUTH (the ICV
 * does not match) the len bytes of out are zeroed, so nothing unauthenticated
 * is ever handed on. Errors: KEEL_ERR_AUTH, KEEL_ERR_STATE (an encrypting
 * context), KEEL_ERR_MALFORMED (len above INT_MAX), KEEL_ERR_CRYPTO.
 */
int keel_aead_open(struct keel_aead *a, const uint8_t iv[KEEL_AEAD_IV_LEN], const uint8_t *aad,
                   size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, const uint8_t *icv);

/* ---- CBC / CTR ---- */

struct keel_cipher;

/*
 * Creates a context for encr (AES-CBC or AES-CTR) keyed with keymat of
 * keel_encr_keymat_len(encr, key_bits) bytes (CTR: key | nonce).
 * On success *out is set and owned by the caller (keel_cipher_free()).
 * Errors: KEEL_ERR_UNSUPPORTED (an AEAD or bad key_bits), KEEL_ERR_INVAL
 * (keymat_len), KEEL_ERR_NOMEM, KEEL_ERR_CRYPTO.
 */
int keel_cipher_new(uint16_t encr, unsigned key_bits, enum keel_cipher_op op, const uint8_t *keymat,
                    size_t keymat_len, struct keel_cipher **out);
/* Frees c and wipes its key. NULL is fine. */
void keel_cipher_free(struct keel_cipher *c);
/* Explicit IV length (16 CBC, 8 CTR) and block length (16 CBC, 1 CTR). */
size_t keel_cipher_iv_len(const struct keel_cipher *c);
size_t keel_cipher_block_len(const struct keel_cipher *c);

/*
 * Encrypts len bytes with the explicit IV iv (keel_cipher_iv_len() bytes),
 * in == out allowed. len must be a multiple of keel_cipher_block_len() and
 * at most INT_MAX. Errors: KEEL_ERR_STATE (a decrypting context),
 * KEEL_ERR_INVAL (len), KEEL_ERR_CRYPTO.
 */
int keel_cipher_encrypt(struct keel_cipher *c, const uint8_t *iv, const uint8_t *in, size_t len,
                        uint8_t *out);
/*
 * Decrypts likewise. A len that is not a multiple of the block length (or
 * above INT_MAX) came from the peer: KEEL_ERR_MALFORMED. Errors also
 * KEEL_ERR_STATE (an encrypting context), KEEL_ERR_CRYPTO.
 */
int keel_cipher_decrypt(struct keel_cipher *c, const uint8_t *iv, const uint8_t *in, size_t len,
                        uint8_t *out);

#endif
