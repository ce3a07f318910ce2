/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Keyed hashes of IKE and ESP: the IKE pseudo-random functions (IKEv2
 * transform type 2; the HMAC of the negotiated hash in IKEv1) and the
 * integrity algorithms of IKEv2/ESP (transform type 3).
 *
 * Data is passed as a list of pieces (struct keel_iov) that are hashed as if
 * concatenated, so that "prf(K, A | B | C)" needs no temporary buffer.
 *
 * Contexts (struct keel_prf, struct keel_integ) are keyed once and then
 * reused for any number of computations; each computation touches only the
 * data. A context is not safe to use from two threads at once (give each
 * thread, or each SA direction, its own).
 */
#ifndef KEEL_CRYPTO_PRF_H
#define KEEL_CRYPTO_PRF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A borrowed piece of input. len 0 is fine (data may then be NULL). */
struct keel_iov {
	const uint8_t *data;
	ptrdiff_t len;
};

/* Largest PRF output and integrity ICV, in bytes (HMAC-SHA2-512). */
#define KEEL_PRF_MAX_OUT_LEN   64
#define KEEL_INTEG_MAX_ICV_LEN 32
/* Largest integrity key (HMAC-SHA2-512-256: 64 bytes). */
#define KEEL_INTEG_MAX_KEY_LEN 64

/*
 * PRFs. The values are the IKEv2 transform IDs (IANA "Transform Type 2"), so
 * a received ID maps with keel_prf_from_ikev2_id(). HMAC-MD5 (1) and
 * AES128-CBC-PRF are not offered.
 */
enum keel_prf_alg {
	KEEL_PRF_HMAC_SHA1 = 2,     /* RFC 2104 */
	KEEL_PRF_AES128_XCBC = 4,   /* RFC 4434 */
	KEEL_PRF_HMAC_SHA2_256 = 5, /* RFC 4868 */
	KEEL_PRF_HMAC_SHA2_384 = 6, /* RFC 4868 */
	KEEL_PRF_HMAC_SHA2_512 = 7, /* RFC 4868 */
	KEEL_PRF_AES128_CMAC = 8,   /* RFC 4615 */
};

/* Maps an IKEv2 PRF transform ID; KEEL_ERR_UNSUPPORTED for any other. */
int keel_prf_from_ikev2_id(uint16_t id, enum keel_prf_alg *out);

/* Output length in bytes (20, 32, 48, 64; 16 for XCBC and CMAC). */
ptrdiff_t keel_prf_out_len(enum keel_prf_alg alg);

/*
 * Preferred key length in bytes (RFC 7296 §2.13: the hash output length for
 * HMAC; 16 for AES-XCBC-PRF-128 and AES-CMAC-PRF-128). This is the length of
 * SK_d, SK_pi and SK_pr (RFC 7296 §2.14).
 */
ptrdiff_t keel_prf_key_len(enum keel_prf_alg alg);

/*
 * True for PRFs built on a cipher with a fixed key size (AES-XCBC, AES-CMAC).
 * They accept any key length other than 0 (RFC 4434 §2: a short key is
 * zero-padded, a long one first hashed with the PRF under a zero key;
 * RFC 4615 §3: any key not of 16 bytes is first hashed under a zero key),
 * and RFC 7296 §2.14 keys SKEYSEED with the first 8 bytes of each nonce.
 */
bool keel_prf_is_fixed_key(enum keel_prf_alg alg);

/* The name used in logs and proposals ("PRF_HMAC_SHA2_256", ...). */
const char *keel_prf_name(enum keel_prf_alg alg);

struct keel_prf;

/*
 * A PRF keyed with key (key_len > 0 bytes, copied; any length: HMAC hashes
 * long keys itself, XCBC/CMAC follow RFC 4434/4615). Writes *out on success.
 * Errors: KEEL_ERR_INVAL (key NULL or key_len <= 0), KEEL_ERR_NOMEM,
 * KEEL_ERR_CRYPTO.
 */
int keel_prf_new(enum keel_prf_alg alg, const uint8_t *key, ptrdiff_t key_len,
                 struct keel_prf **out);

/* Frees p and wipes its key schedule. NULL is fine. */
void keel_prf_free(struct keel_prf *p);

/* The algorithm p was made with. */
enum keel_prf_alg keel_prf_alg(const struct keel_prf *p);

/*
 * out = prf(key, in[0] | in[1] | ... | in[n_in - 1]). Writes exactly
 * keel_prf_out_len() bytes and returns that count.
 * Errors: KEEL_ERR_NOBUF (out_cap too small), KEEL_ERR_INVAL (an iov with
 * len < 0, or NULL data with len > 0), KEEL_ERR_CRYPTO.
 */
ptrdiff_t keel_prf_compute(struct keel_prf *p, const struct keel_iov *in, size_t n_in, uint8_t *out,
                           ptrdiff_t out_cap);

/* One-shot form: keel_prf_new() + keel_prf_compute() + keel_prf_free(). */
ptrdiff_t keel_prf(enum keel_prf_alg alg, const uint8_t *key, ptrdiff_t key_len,
                   const struct keel_iov *in, size_t n_in, uint8_t *out, ptrdiff_t out_cap);

/*
 * Integrity algorithms. The values are the IKEv2 transform IDs (IANA
 * "Transform Type 3"); KEEL_INTEG_NONE stands for "none" (an AEAD cipher).
 * The MAC is truncated to the ICV length in the name.
 */
enum keel_integ_alg {
	KEEL_INTEG_NONE = 0,
	KEEL_INTEG_HMAC_SHA1_96 = 2,       /* RFC 2404 */
	KEEL_INTEG_AES_XCBC_96 = 5,        /* RFC 3566 */
	KEEL_INTEG_HMAC_SHA2_256_128 = 12, /* RFC 4868 */
	KEEL_INTEG_HMAC_SHA2_384_192 = 13, /* RFC 4868 */
	KEEL_INTEG_HMAC_SHA2_512_256 = 14, /* RFC 4868 */
};

/* Maps an IKEv2 integrity transform ID (0 = NONE); KEEL_ERR_UNSUPPORTED otherwise. */
int keel_integ_from_ikev2_id(uint16_t id, enum keel_integ_alg *out);

/* Key length in bytes: 20, 16, 32, 48, 64 (0 for NONE). Fixed: no other is accepted. */
ptrdiff_t keel_integ_key_len(enum keel_integ_alg alg);

/* ICV length in bytes: 12, 12, 16, 24, 32 (0 for NONE). */
ptrdiff_t keel_integ_icv_len(enum keel_integ_alg alg);

/* The name used in logs and proposals ("AUTH_HMAC_SHA2_256_128", ...). */
const char *keel_integ_name(enum keel_integ_alg alg);

struct keel_integ;

/*
 * An integrity context keyed with key, which must be exactly
 * keel_integ_key_len(alg) bytes (RFC 2404 §2, RFC 3566 §2.1, RFC 4868 §2.1.1).
 * Errors: KEEL_ERR_INVAL (NONE, NULL key, wrong key length), KEEL_ERR_NOMEM,
 * KEEL_ERR_CRYPTO.
 */
int keel_integ_new(enum keel_integ_alg alg, const uint8_t *key, ptrdiff_t key_len,
                   struct keel_integ **out);

/* Frees ig and wipes its key schedule. NULL is fine. */
void keel_integ_free(struct keel_integ *ig);

enum keel_integ_alg keel_integ_alg(const struct keel_integ *ig);

/*
 * icv = the truncated MAC of in[0] | ... | in[n_in - 1]. Writes exactly
 * keel_integ_icv_len() bytes and returns that count.
 * Errors: KEEL_ERR_NOBUF, KEEL_ERR_INVAL (bad iov), KEEL_ERR_CRYPTO.
 */
ptrdiff_t keel_integ_compute(struct keel_integ *ig, const struct keel_iov *in, size_t n_in,
                             uint8_t *icv, ptrdiff_t icv_cap);

/*
 * Checks a received ICV in constant time (CRYPTO_memcmp). Returns 0 if it
 * matches, KEEL_ERR_AUTH if it does not or if icv_len is not the ICV length,
 * KEEL_ERR_INVAL (bad iov), KEEL_ERR_CRYPTO.
 */
int keel_integ_verify(struct keel_integ *ig, const struct keel_iov *in, size_t n_in,
                      const uint8_t *icv, ptrdiff_t icv_len);

#endif
