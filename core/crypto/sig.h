/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private keys, public keys and the signatures of IKE authentication:
 *
 *  - IKEv2 AUTH (RFC 7296 §3.8): method 1 (RSA PKCS#1 v1.5 with SHA-1),
 *    methods 9/10/11 (ECDSA P-256/SHA-256, P-384/SHA-384, P-521/SHA-512, the
 *    signature as the fixed-length r | s of RFC 4754 §7) and method 14,
 *    "Digital Signature" (RFC 7427 §3): ASN.1 length | AlgorithmIdentifier |
 *    signature, for RSA PKCS#1 v1.5, RSASSA-PSS (MGF1 with the same hash,
 *    salt as long as the hash), ECDSA (DER Ecdsa-Sig-Value) with SHA-256/384/512,
 *    and Ed25519/Ed448 (RFC 8420).
 *  - The SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 §4).
 *  - IKEv1 signatures of HASH_I / HASH_R (RFC 2409 §5.1): RSA PKCS#1 v1.5
 *    without DigestInfo, and ECDSA (methods 9/10/11, RFC 4754) as r | s.
 *    Implementations differ on whether HASH_I is hashed again before ECDSA
 *    signs it: Keel signs HASH_I itself as the digest, as strongSwan does
 *    (the one IKEv1 ECDSA peer it is tested against), and accepts either.
 *
 * Keys are loaded from bytes the platform read (PEM or DER; PKCS#8, encrypted
 * PKCS#8, the traditional RSA/EC forms and their PEM encryption); PKCS#12 is
 * in crypto/x509.h since it also carries certificates.
 *
 * A struct keel_pubkey of a peer is only ever made by keel_x509_verify()
 * (after the chain and identity checks) or from one of our own private keys:
 * there is no way to verify an AUTH payload with an unverified certificate.
 *
 * Randomness: ECDSA nonces, RSASSA-PSS salts and RSA blinding are drawn by
 * OpenSSL inside the primitive (its DRBG, seeded by the OS); they are not
 * visible to the protocol state and are the one exception to keel_env.
 * PKCS#1 v1.5 and EdDSA signatures are deterministic.
 */
#ifndef KEEL_CRYPTO_SIG_H
#define KEEL_CRYPTO_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include <keel/err.h>
#include <keel/secret.h>

#include "crypto/prf.h" /* struct keel_iov */

/* IANA "IKEv2 Hash Algorithms" (RFC 7427 §7, RFC 8420 §2). */
enum keel_hash_alg {
	KEEL_HASH_SHA1 = 1,
	KEEL_HASH_SHA2_256 = 2,
	KEEL_HASH_SHA2_384 = 3,
	KEEL_HASH_SHA2_512 = 4,
	KEEL_HASH_IDENTITY = 5, /* RFC 8420: EdDSA signs the message itself */
};

/* Bit for a hash in the masks below. */
#define KEEL_HASH_BIT(h) (1u << (unsigned)(h))

/* A signature scheme: key type, padding and hash. */
enum keel_sig_scheme {
	KEEL_SIG_RSA_PKCS1_SHA1 = 1,
	KEEL_SIG_RSA_PKCS1_SHA256,
	KEEL_SIG_RSA_PKCS1_SHA384,
	KEEL_SIG_RSA_PKCS1_SHA512,
	KEEL_SIG_RSA_PSS_SHA256,
	KEEL_SIG_RSA_PSS_SHA384,
	KEEL_SIG_RSA_PSS_SHA512,
	KEEL_SIG_ECDSA_SHA256,
	KEEL_SIG_ECDSA_SHA384,
	KEEL_SIG_ECDSA_SHA512,
	KEEL_SIG_ED25519,
	KEEL_SIG_ED448,
};

enum keel_key_type {
	KEEL_KEY_RSA = 1,
	KEEL_KEY_EC_P256,
	KEEL_KEY_EC_P384,
	KEEL_KEY_EC_P521,
	KEEL_KEY_ED25519,
	KEEL_KEY_ED448,
};

/* Why a key (or PKCS#12 file) did not load; goes with the error code. */
enum keel_key_reason {
	KEEL_KEY_OK = 0,
	KEEL_KEY_PASSPHRASE_NEEDED,  /* KEEL_ERR_AUTH: encrypted, no passphrase given */
	KEEL_KEY_PASSPHRASE_WRONG,   /* KEEL_ERR_AUTH: the passphrase does not decrypt it */
	KEEL_KEY_NOT_A_KEY,          /* KEEL_ERR_MALFORMED: no key in a format Keel reads */
	KEEL_KEY_UNSUPPORTED_TYPE,   /* KEEL_ERR_UNSUPPORTED: DSA, other curves, ... */
	KEEL_KEY_UNSUPPORTED_CIPHER, /* KEEL_ERR_UNSUPPORTED: PKCS#12 with RC2/legacy PBE */
	KEEL_KEY_NO_CERT,            /* KEEL_ERR_MALFORMED: PKCS#12 without key or certificate */
};

/* Static English text of a reason ("wrong passphrase", ...); never NULL. */
const char *keel_key_reason_text(enum keel_key_reason r);
/* "RSA", "ECDSA P-256", ...; never NULL. */
const char *keel_key_type_name(enum keel_key_type t);
/* "RSA PKCS#1 v1.5 SHA-256", ...; never NULL. */
const char *keel_sig_scheme_name(enum keel_sig_scheme s);

struct keel_privkey;
struct keel_pubkey;

/*
 * Loads a private key from data (len bytes): PEM (the first block whose label
 * ends in "PRIVATE KEY"; other blocks such as certificates may surround it)
 * or DER (PKCS#8, EncryptedPrivateKeyInfo, RSAPrivateKey, ECPrivateKey).
 * passphrase may be NULL; it is used only if the key is encrypted and is not
 * kept. On success *out is set (caller frees with keel_privkey_free()).
 * *reason (may be NULL) is always written.
 * Errors: KEEL_ERR_AUTH (reason PASSPHRASE_NEEDED or PASSPHRASE_WRONG),
 * KEEL_ERR_MALFORMED (NOT_A_KEY), KEEL_ERR_UNSUPPORTED (UNSUPPORTED_TYPE),
 * KEEL_ERR_INVAL (len < 0, NULL data), KEEL_ERR_NOMEM.
 */
int keel_privkey_load(const uint8_t *data, ptrdiff_t len, const struct keel_secret *passphrase,
                      struct keel_privkey **out, enum keel_key_reason *reason);

/* Frees k (OpenSSL clears the key material). NULL is fine. */
void keel_privkey_free(struct keel_privkey *k);

enum keel_key_type keel_privkey_type(const struct keel_privkey *k);
/* Size of the key in bits (RSA modulus, curve order). */
int keel_privkey_bits(const struct keel_privkey *k);

/* The public half of our own key (for self-checks and tests). */
int keel_privkey_public(const struct keel_privkey *k, struct keel_pubkey **out);

void keel_pubkey_free(struct keel_pubkey *k);
enum keel_key_type keel_pubkey_type(const struct keel_pubkey *k);
int keel_pubkey_bits(const struct keel_pubkey *k);

/*
 * Core-internal bridges to OpenSSL (x509.c, tests). The _take_ functions
 * own pkey from the call on, also on failure (NULL: ENOMEM or a key type
 * Keel does not use). keel_pubkey_take_evp() is for keys whose certificate
 * has been verified, and for tests.
 */
EVP_PKEY *keel_privkey_evp(const struct keel_privkey *k);
EVP_PKEY *keel_pubkey_evp(const struct keel_pubkey *k);
struct keel_privkey *keel_privkey_take_evp(EVP_PKEY *pkey);
struct keel_pubkey *keel_pubkey_take_evp(EVP_PKEY *pkey);

/* ---- SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4) ---------------------------- */

/* What Keel announces and accepts in RFC 7427 signatures: SHA2-256/384/512, Identity. */
#define KEEL_SIG_OUR_HASHES                                                                        \
	(KEEL_HASH_BIT(KEEL_HASH_SHA2_256) | KEEL_HASH_BIT(KEEL_HASH_SHA2_384) |                   \
	 KEEL_HASH_BIT(KEEL_HASH_SHA2_512) | KEEL_HASH_BIT(KEEL_HASH_IDENTITY))

/*
 * Writes the notify data: our hashes as 16-bit values, in order of preference.
 * Returns the byte count (8) or KEEL_ERR_NOBUF.
 */
ptrdiff_t keel_sig_hashes_build(uint8_t *out, ptrdiff_t cap);

/*
 * Reads a peer's notify data into a mask of KEEL_HASH_BIT()s of the values
 * Keel knows (unknown values are ignored, RFC 7427 §4). KEEL_ERR_MALFORMED
 * for an odd length.
 */
int keel_sig_hashes_parse(const uint8_t *data, ptrdiff_t len, unsigned *mask);

/* ---- IKEv2 AUTH --------------------------------------------------------- */

/* The AUTH method and scheme to sign with. */
struct keel_sig_choice {
	uint8_t auth_method; /* 1, 9, 10, 11 or 14 (enum keel_v2_auth_method) */
	enum keel_sig_scheme scheme;
};

/*
 * Picks how to sign with key for a peer that announced peer_hashes (a mask
 * from keel_sig_hashes_parse(); 0 when it sent no SIGNATURE_HASH_ALGORITHMS).
 * With RFC 7427 (a common hash): method 14 with the first common of SHA2-256,
 * 384, 512 (ECDSA: the one matching the curve if the peer has it), RSASSA-PSS instead
 * of PKCS#1 v1.5 if prefer_pss, EdDSA if the peer has Identity. Without:
 * method 1 for RSA, 9/10/11 for ECDSA keys on their curve.
 * KEEL_ERR_UNSUPPORTED when no method fits (an EdDSA key and a peer without
 * Identity).
 */
int keel_sig_choose(const struct keel_privkey *key, unsigned peer_hashes, bool prefer_pss,
                    struct keel_sig_choice *out);

/* Upper bound of keel_sig_auth_sign() output for key, in bytes. */
ptrdiff_t keel_sig_auth_max_len(const struct keel_privkey *key);

/*
 * Signs octets[0] | ... | octets[n - 1] (RFC 7296 §2.15: the message, the
 * peer's nonce and prf(SK_p, ID')) and writes the AUTH payload's
 * Authentication Data (what follows Auth Method and RESERVED). Returns its
 * length. Errors: KEEL_ERR_INVAL (a choice that does not fit the key, bad
 * iov), KEEL_ERR_NOBUF, KEEL_ERR_NOMEM, KEEL_ERR_CRYPTO.
 */
ptrdiff_t keel_sig_auth_sign(const struct keel_privkey *key, const struct keel_sig_choice *choice,
                             const struct keel_iov *octets, size_t n_octets, uint8_t *out,
                             ptrdiff_t cap);

/* keel_sig_auth_verify() flags */
enum keel_sig_flags {
	/* Accept SHA-1 (method 1, or sha1With... in method 14). Set it for peers
	 * that did not send SIGNATURE_HASH_ALGORITHMS: an RFC 7427 peer has no
	 * reason to use SHA-1 (RFC 8247 §3.2). */
	KEEL_SIG_ALLOW_SHA1 = 1,
};

/*
 * Verifies a peer's AUTH payload (auth_method and its Authentication Data)
 * over octets with key. Returns 0 if the signature is good; *scheme (may be
 * NULL) then says which scheme it was.
 * KEEL_ERR_AUTH: a bad signature, a method or AlgorithmIdentifier that does
 * not fit the key (an ECDSA method on another curve, PSS with an EC key), SHA-1
 * without KEEL_SIG_ALLOW_SHA1. KEEL_ERR_MALFORMED: data that does not parse
 * (ASN.1 length, AlgorithmIdentifier, r | s length). KEEL_ERR_UNSUPPORTED: an
 * auth method or algorithm Keel does not know (DSS, PSS with odd parameters).
 */
int keel_sig_auth_verify(const struct keel_pubkey *key, uint8_t auth_method, const uint8_t *data,
                         ptrdiff_t len, const struct keel_iov *octets, size_t n_octets,
                         unsigned flags, enum keel_sig_scheme *scheme);

/*
 * The RFC 7427 AlgorithmIdentifier DER of a scheme (borrowed, static), or
 * NULL with *len 0 for a scheme that has none. PSS: hash, MGF1 with the same
 * hash, salt length = hash length, trailer field left at its DER default.
 */
const uint8_t *keel_sig_algorithm_id(enum keel_sig_scheme s, ptrdiff_t *len);

/*
 * Parses an AlgorithmIdentifier as RFC 7427 §3 carries it.
 * KEEL_ERR_MALFORMED (not DER-shaped), KEEL_ERR_UNSUPPORTED (an algorithm or
 * PSS parameters Keel does not do: PSS salt length other than the hash length,
 * MGF1 hash different from the hash, trailer other than 1).
 */
int keel_sig_parse_algorithm_id(const uint8_t *der, ptrdiff_t len, enum keel_sig_scheme *out);

/* ---- IKEv1 (RFC 2409 §5.1) --------------------------------------------- */

/* Upper bound of keel_sig_v1_sign() output for key. */
ptrdiff_t keel_sig_v1_max_len(const struct keel_privkey *key);

/*
 * SIG_I / SIG_R over HASH_I / HASH_R (hash, hash_len bytes, 1..64). An RSA
 * key signs the hash as it is with PKCS#1 v1.5 type 1 padding and no
 * DigestInfo (RFC 2409 §5.1); an ECDSA P-256/P-384/P-521 key signs it as
 * the digest (no second hash, truncated to the curve order as ECDSA does)
 * and writes r | s, each as long as the curve's field (RFC 4754 §7).
 * Which key fits which IKEv1 authentication method is the caller's check.
 * Returns the signature length. Errors: KEEL_ERR_UNSUPPORTED (an EdDSA
 * key), KEEL_ERR_INVAL, KEEL_ERR_NOBUF, KEEL_ERR_CRYPTO.
 */
ptrdiff_t keel_sig_v1_sign(const struct keel_privkey *key, const uint8_t *hash, ptrdiff_t hash_len,
                           uint8_t *out, ptrdiff_t cap);

/*
 * The check of keel_sig_v1_sign()'s signatures: 0, KEEL_ERR_AUTH (a bad
 * signature, an EdDSA key), KEEL_ERR_MALFORMED (not the key's length: the
 * RSA modulus, or r | s of the curve). With an ECDSA key, a signature of the
 * curve's hash of HASH_R (SHA-256/384/512, RFC 4754 §4 read literally) is
 * accepted too.
 */
int keel_sig_v1_verify(const struct keel_pubkey *key, const uint8_t *hash, ptrdiff_t hash_len,
                       const uint8_t *sig, ptrdiff_t sig_len);

#endif
