/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Key derivation of IKEv2 (RFC 7296 §2.13, §2.14, §2.17, §2.18) and IKEv1
 * (RFC 2409 §5, §5.5, Appendix B), and the IKEv1 hashes that are pure
 * functions of the same inputs (HASH_I/HASH_R, quick mode HASH(1..3)).
 *
 * Conventions for every function here:
 * - Inputs are borrowed for the call. Nonces are the nonce payload bodies
 *   (Ni_b, Nr_b), "g^ir"/"g^xy" is the Diffie-Hellman shared secret as the
 *   DH module produces it (big endian, zero-padded to the group's length).
 * - Outputs are new keel_secret objects (the caller frees them, or clears the
 *   key structs with their _clear() function) or bytes in a caller's buffer,
 *   and are written only on success.
 * - Errors: KEEL_ERR_INVAL for a missing or zero-length input, an empty
 *   nonce, or a length out of range; KEEL_ERR_UNSUPPORTED for a PRF the
 *   derivation is not defined for (IKEv1 with AES-XCBC/CMAC);
 *   KEEL_ERR_NOBUF for a short output buffer; KEEL_ERR_NOMEM; KEEL_ERR_CRYPTO.
 * - Every intermediate buffer is wiped before return.
 */
#ifndef KEEL_CRYPTO_KDF_H
#define KEEL_CRYPTO_KDF_H

#include <stddef.h>
#include <stdint.h>

#include <keel/secret.h>

#include "crypto/prf.h"

/* RFC 7296 §2.13: the counter octet of prf+ stops at 0xff. */
#define KEEL_PRF_PLUS_MAX_BLOCKS 255

/* Most seed pieces (struct keel_iov) the expansion functions take. */
#define KEEL_KDF_MAX_IOV 16

/* The most prf+ can produce with alg: 255 * keel_prf_out_len(alg). */
ptrdiff_t keel_prf_plus_max_len(enum keel_prf_alg alg);

/*
 * RFC 7296 §2.13: out = first out_len bytes of T1 | T2 | ..., where
 * T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), S = seed[0] | ...
 * (at most KEEL_KDF_MAX_IOV pieces). out_len 0 writes nothing and returns 0.
 * KEEL_ERR_INVAL if out_len < 0 or out_len > keel_prf_plus_max_len(alg)
 * (255 blocks), the key is empty, or there are too many seed pieces.
 */
int keel_prf_plus(enum keel_prf_alg alg, const uint8_t *key, ptrdiff_t key_len,
                  const struct keel_iov *seed, size_t n_seed, uint8_t *out, ptrdiff_t out_len);

/* ---- IKEv2 ---- */

/* Inputs of the IKE SA key derivation. */
struct keel_ikev2_ike_params {
	enum keel_prf_alg prf;     /* negotiated for this (new) IKE SA */
	enum keel_integ_alg integ; /* KEEL_INTEG_NONE with an AEAD cipher */
	ptrdiff_t encr_key_len;    /* SK_e length: cipher key plus salt for AEAD
	                              (4 for GCM, RFC 5282 §7.1; ChaCha20, RFC 7634 §2) */
	const uint8_t *nonce_i;    /* Ni */
	ptrdiff_t nonce_i_len;
	const uint8_t *nonce_r; /* Nr */
	ptrdiff_t nonce_r_len;
	const uint8_t *g_ir; /* this exchange's DH shared secret */
	ptrdiff_t g_ir_len;
	uint8_t spi_i[8]; /* SPIi, SPIr as on the wire; for a rekey the */
	uint8_t spi_r[8]; /* new SPIs from the SA payloads (§2.18) */
};

/* The keys of an IKE SA. sk_ai and sk_ar are NULL with KEEL_INTEG_NONE. */
struct keel_ikev2_ike_keys {
	struct keel_secret *skeyseed;
	struct keel_secret *sk_d;
	struct keel_secret *sk_ai;
	struct keel_secret *sk_ar;
	struct keel_secret *sk_ei;
	struct keel_secret *sk_er;
	struct keel_secret *sk_pi;
	struct keel_secret *sk_pr;
};

/* Frees (wipes) every key in k and sets the pointers to NULL. NULL is fine. */
void keel_ikev2_ike_keys_clear(struct keel_ikev2_ike_keys *k);

/*
 * RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir); with AES-XCBC/CMAC only the
 * first 8 bytes of each nonce form the key (each nonce must then have at
 * least 8 bytes).
 */
int keel_ikev2_skeyseed(enum keel_prf_alg prf, const uint8_t *nonce_i, ptrdiff_t nonce_i_len,
                        const uint8_t *nonce_r, ptrdiff_t nonce_r_len, const uint8_t *g_ir,
                        ptrdiff_t g_ir_len, struct keel_secret **out);

/*
 * RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), with the
 * OLD IKE SA's PRF. (The same formula chains additional key exchanges.)
 */
int keel_ikev2_skeyseed_rekey(enum keel_prf_alg old_prf, const struct keel_secret *sk_d_old,
                              const uint8_t *g_ir, ptrdiff_t g_ir_len, const uint8_t *nonce_i,
                              ptrdiff_t nonce_i_len, const uint8_t *nonce_r, ptrdiff_t nonce_r_len,
                              struct keel_secret **out);

/*
 * RFC 7296 §2.14: {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} =
 * prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) with p->prf; SK_d/pi/pr have the
 * PRF's preferred key length. out->skeyseed is a copy of skeyseed.
 * p->g_ir is not used here.
 */
int keel_ikev2_expand_ike(const struct keel_ikev2_ike_params *p, const struct keel_secret *skeyseed,
                          struct keel_ikev2_ike_keys *out);

/* keel_ikev2_skeyseed() then keel_ikev2_expand_ike(): the IKE_SA_INIT keys. */
int keel_ikev2_derive_ike(const struct keel_ikev2_ike_params *p, struct keel_ikev2_ike_keys *out);

/* keel_ikev2_skeyseed_rekey() then keel_ikev2_expand_ike(): keys of a rekeyed IKE SA. */
int keel_ikev2_derive_ike_rekey(const struct keel_ikev2_ike_params *p, enum keel_prf_alg old_prf,
                                const struct keel_secret *sk_d_old,
                                struct keel_ikev2_ike_keys *out);

/* Inputs of a Child SA's KEYMAT (one ESP SA pair). */
struct keel_ikev2_child_params {
	enum keel_prf_alg prf;     /* the IKE SA's PRF */
	enum keel_integ_alg integ; /* KEEL_INTEG_NONE with an AEAD cipher */
	ptrdiff_t encr_key_len;    /* cipher key plus salt for AEAD */
	const uint8_t *nonce_i;
	ptrdiff_t nonce_i_len;
	const uint8_t *nonce_r;
	ptrdiff_t nonce_r_len;
	const uint8_t *g_ir; /* NULL and 0 without PFS */
	ptrdiff_t g_ir_len;
};

/* Keys of an ESP SA pair. integ_* are NULL with KEEL_INTEG_NONE. */
struct keel_child_keys {
	struct keel_secret *encr_i; /* initiator to responder */
	struct keel_secret *integ_i;
	struct keel_secret *encr_r; /* responder to initiator */
	struct keel_secret *integ_r;
};

void keel_child_keys_clear(struct keel_child_keys *k);

/*
 * RFC 7296 §2.17: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr), taken as
 * encr_i | integ_i | encr_r | integ_r (initiator-to-responder first, the
 * encryption key before the integrity key).
 */
int keel_ikev2_derive_child(const struct keel_ikev2_child_params *p, const struct keel_secret *sk_d,
                            struct keel_child_keys *out);

/* ---- IKEv1 ---- (only HMAC PRFs: the PRF is HMAC of the negotiated hash) */

/*
 * The negotiated hash, i.e. the hash under an HMAC PRF (for the IVs of
 * RFC 2409 Appendix B and NAT-D, RFC 3947 §3.2). Returns the byte count
 * written (the hash length). KEEL_ERR_UNSUPPORTED for XCBC/CMAC.
 */
ptrdiff_t keel_ikev1_hash(enum keel_prf_alg prf, const struct keel_iov *in, size_t n_in,
                          uint8_t *out, ptrdiff_t out_cap);

/* RFC 2409 §5: pre-shared keys: SKEYID = prf(pre-shared-key, Ni_b | Nr_b). */
int keel_ikev1_skeyid_psk(enum keel_prf_alg prf, const uint8_t *psk, ptrdiff_t psk_len,
                          const uint8_t *nonce_i, ptrdiff_t nonce_i_len, const uint8_t *nonce_r,
                          ptrdiff_t nonce_r_len, struct keel_secret **out);

/* RFC 2409 §5: signatures: SKEYID = prf(Ni_b | Nr_b, g^xy). */
int keel_ikev1_skeyid_sig(enum keel_prf_alg prf, const uint8_t *nonce_i, ptrdiff_t nonce_i_len,
                          const uint8_t *nonce_r, ptrdiff_t nonce_r_len, const uint8_t *g_xy,
                          ptrdiff_t g_xy_len, struct keel_secret **out);

/* RFC 2409 §5: public key encryption: SKEYID = prf(hash(Ni_b | Nr_b), CKY-I | CKY-R). */
int keel_ikev1_skeyid_pke(enum keel_prf_alg prf, const uint8_t *nonce_i, ptrdiff_t nonce_i_len,
                          const uint8_t *nonce_r, ptrdiff_t nonce_r_len, const uint8_t cky_i[8],
                          const uint8_t cky_r[8], struct keel_secret **out);

/* The phase 1 keys. encr_key is SKEYID_e expanded or cut to the cipher's key length. */
struct keel_ikev1_keys {
	struct keel_secret *skeyid;
	struct keel_secret *skeyid_d;
	struct keel_secret *skeyid_a;
	struct keel_secret *skeyid_e;
	struct keel_secret *encr_key;
};

void keel_ikev1_keys_clear(struct keel_ikev1_keys *k);

/*
 * RFC 2409 §5:
 *   SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
 *   SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
 *   SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
 * and RFC 2409 Appendix B: the cipher key is the first encr_key_len bytes of
 * SKEYID_e, or, when SKEYID_e is shorter, of K1 | K2 | ... with
 * K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, Kn-1). out->skeyid is a copy.
 * encr_key_len 0 is allowed (no cipher yet): encr_key is then NULL.
 */
int keel_ikev1_derive(enum keel_prf_alg prf, const struct keel_secret *skeyid, const uint8_t *g_xy,
                      ptrdiff_t g_xy_len, const uint8_t cky_i[8], const uint8_t cky_r[8],
                      ptrdiff_t encr_key_len, struct keel_ikev1_keys *out);

/* Largest cipher block (AES). */
#define KEEL_IKEV1_MAX_BLOCK_LEN 16

/*
 * RFC 2409 Appendix B: phase 1 IV = hash(g^xi | g^xr), first block_len bytes
 * (g^xi, g^xr: the KE payload bodies). Writes block_len bytes to iv.
 * KEEL_ERR_INVAL if block_len is not in 1..hash length.
 */
int keel_ikev1_iv_phase1(enum keel_prf_alg prf, const uint8_t *g_xi, ptrdiff_t g_xi_len,
                         const uint8_t *g_xr, ptrdiff_t g_xr_len, ptrdiff_t block_len, uint8_t *iv);

/*
 * RFC 2409 Appendix B: IV of a quick mode or informational exchange =
 * hash(last phase 1 CBC output block | M-ID), first block_len bytes.
 * msg_id is in host order; it is hashed in network order, as in the header.
 */
int keel_ikev1_iv_phase2(enum keel_prf_alg prf, const uint8_t *last_block, ptrdiff_t block_len,
                         uint32_t msg_id, uint8_t *iv);

/* Inputs of HASH_I / HASH_R (RFC 2409 §5). */
struct keel_ikev1_auth_params {
	enum keel_prf_alg prf;
	const struct keel_secret *skeyid;
	const uint8_t *g_xi; /* initiator's KE payload body */
	ptrdiff_t g_xi_len;
	const uint8_t *g_xr; /* responder's KE payload body */
	ptrdiff_t g_xr_len;
	uint8_t cky_i[8];
	uint8_t cky_r[8];
	const uint8_t *sai_b; /* the initiator's whole SA payload body, for both hashes */
	ptrdiff_t sai_b_len;
};

/*
 * HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b).
 * Returns the byte count written (the PRF output length).
 */
ptrdiff_t keel_ikev1_hash_i(const struct keel_ikev1_auth_params *p, const uint8_t *idii_b,
                            ptrdiff_t idii_b_len, uint8_t *out, ptrdiff_t out_cap);

/*
 * HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b).
 * Takes the same params as keel_ikev1_hash_i(); the order is swapped inside.
 */
ptrdiff_t keel_ikev1_hash_r(const struct keel_ikev1_auth_params *p, const uint8_t *idir_b,
                            ptrdiff_t idir_b_len, uint8_t *out, ptrdiff_t out_cap);

/*
 * RFC 2409 §5.5 HASH(1) = prf(SKEYID_a, M-ID | <payloads after HASH>); the
 * same form serves informational exchanges (§5.7) and Mode Config.
 * payloads: the message's payloads following the HASH payload, with their
 * generic headers. Returns the byte count written.
 */
ptrdiff_t keel_ikev1_hash1(enum keel_prf_alg prf, const struct keel_secret *skeyid_a,
                           uint32_t msg_id, const uint8_t *payloads, ptrdiff_t payloads_len,
                           uint8_t *out, ptrdiff_t out_cap);

/* RFC 2409 §5.5 HASH(2) = prf(SKEYID_a, M-ID | Ni_b | <payloads after HASH>). */
ptrdiff_t keel_ikev1_hash2(enum keel_prf_alg prf, const struct keel_secret *skeyid_a,
                           uint32_t msg_id, const uint8_t *nonce_i, ptrdiff_t nonce_i_len,
                           const uint8_t *payloads, ptrdiff_t payloads_len, uint8_t *out,
                           ptrdiff_t out_cap);

/* RFC 2409 §5.5 HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b). */
ptrdiff_t keel_ikev1_hash3(enum keel_prf_alg prf, const struct keel_secret *skeyid_a,
                           uint32_t msg_id, const uint8_t *nonce_i, ptrdiff_t nonce_i_len,
                           const uint8_t *nonce_r, ptrdiff_t nonce_r_len, uint8_t *out,
                           ptrdiff_t out_cap);

/*
 * RFC 2409 Appendix B: the first len bytes of SKEYID_e if it is long enough,
 * else of K1 | K2 | ... with K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, Kn-1).
 * len must be 1..255 PRF blocks' worth. (keel_ikev1_derive() calls it.)
 */
int keel_ikev1_encr_key_expand(enum keel_prf_alg prf, const struct keel_secret *skeyid_e,
                               ptrdiff_t len, struct keel_secret **out);

/*
 * RFC 2409 §5.5 expansion: out = first len bytes of K1 | K2 | ..., with
 * K1 = prf(key, S), Kn = prf(key, Kn-1 | S), S = seed[0] | ... (at most
 * KEEL_KDF_MAX_IOV pieces). len must be 1..255 PRF blocks' worth.
 * (keel_ikev1_qm_keymat() calls it.)
 */
int keel_ikev1_keymat_expand(enum keel_prf_alg prf, const uint8_t *key, ptrdiff_t key_len,
                             const struct keel_iov *seed, size_t n_seed, uint8_t *out,
                             ptrdiff_t len);

/* Inputs of one quick mode SA's KEYMAT (RFC 2409 §5.5). */
struct keel_ikev1_qm_params {
	enum keel_prf_alg prf;
	const struct keel_secret *skeyid_d;
	const uint8_t *g_qm; /* quick mode DH shared secret; NULL and 0 without PFS */
	ptrdiff_t g_qm_len;
	uint8_t protocol;   /* RFC 2407 §4.4.1 protocol ID: PROTO_IPSEC_ESP = 3 */
	const uint8_t *spi; /* this SA's SPI as on the wire: the one its receiver chose */
	ptrdiff_t spi_len;
	const uint8_t *nonce_i; /* Ni_b, Nr_b of this quick mode */
	ptrdiff_t nonce_i_len;
	const uint8_t *nonce_r;
	ptrdiff_t nonce_r_len;
};

/*
 * RFC 2409 §5.5: KEYMAT = K1 | K2 | ..., first len bytes, with
 * K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b) and
 * Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b).
 * len must be 1..255 PRF blocks' worth.
 */
int keel_ikev1_qm_keymat(const struct keel_ikev1_qm_params *p, ptrdiff_t len,
                         struct keel_secret **out);

/*
 * One SA's keys from its KEYMAT: the encryption key first, then the
 * integrity key. RFC 2409 does not fix the order; this is the order of
 * RFC 7296 §2.17, which IKEv1 implementations also follow.
 * encr_key_len 0 (NULL cipher) leaves *encr NULL, integ_key_len 0 (AEAD)
 * leaves *integ NULL; not both.
 */
int keel_ikev1_qm_keys(const struct keel_ikev1_qm_params *p, ptrdiff_t encr_key_len,
                       ptrdiff_t integ_key_len, struct keel_secret **encr,
                       struct keel_secret **integ);

#endif
