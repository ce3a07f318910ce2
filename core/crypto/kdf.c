/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IKE key derivation:
 *   IKEv2 (RFC 7296): prf+ (§2.13), SKEYSEED and the IKE SA keys (§2.14),
 *   Child SA KEYMAT (§2.17), IKE SA rekey (§2.18).
 *   IKEv1 (RFC 2409): SKEYID for signatures, pre-shared keys and public key
 *   encryption, SKEYID_d/a/e (§5), HASH_I/HASH_R (§5), quick mode HASH(1..3)
 *   and KEYMAT (§5.5), cipher key expansion and IVs (Appendix B).
 *
 * Everything is computed with the PRFs of crypto/prf.c; every buffer that
 * held key material is wiped before it is released.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <keel/err.h>

#include "crypto/kdf.h"

/* ---- helpers ---- */

static bool buf_ok(const uint8_t *p, ptrdiff_t len)
{
	return len >= 0 && (len == 0 || p != NULL);
}

/* A non-empty input: present and at least one byte. */
static bool need(const uint8_t *p, ptrdiff_t len)
{
	return p != NULL && len > 0;
}

/* Wipes and frees a heap buffer of len bytes. NULL is fine. */
static void wipe_free(uint8_t *p, ptrdiff_t len)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, (size_t)len);
	free(p);
}

/* A new secret holding prf(key, in...). */
static int prf_secret(struct keel_prf *p, const struct keel_iov *in, size_t n_in,
                      struct keel_secret **out)
{
	uint8_t t[KEEL_PRF_MAX_OUT_LEN];
	struct keel_secret *s = NULL;
	ptrdiff_t n = keel_prf_compute(p, in, n_in, t, sizeof(t));
	int rc = (int)n;

	if (n < 0)
		goto out;
	rc = KEEL_ERR_NOMEM;
	s = keel_secret_new_from(t, n);
	if (!s)
		goto out;
	*out = s;
	rc = 0;
out:
	OPENSSL_cleanse(t, sizeof(t));
	return rc;
}

/* One-shot prf(key, in...) into a new secret. */
static int prf_secret_once(enum keel_prf_alg alg, const uint8_t *key, ptrdiff_t key_len,
                           const struct keel_iov *in, size_t n_in, struct keel_secret **out)
{
	struct keel_prf *p = NULL;
	int rc = keel_prf_new(alg, key, key_len, &p);

	if (rc == 0)
		rc = prf_secret(p, in, n_in, out);
	keel_prf_free(p);
	return rc;
}

/* One-shot PRF into a caller's buffer (for the IKEv1 hashes). */
static ptrdiff_t prf_buf_once(enum keel_prf_alg alg, const struct keel_secret *key,
                              const struct keel_iov *in, size_t n_in, uint8_t *out,
                              ptrdiff_t out_cap)
{
	if (!key || !out)
		return KEEL_ERR_INVAL;
	return keel_prf(alg, keel_secret_data(key), keel_secret_len(key), in, n_in, out, out_cap);
}

/* Cuts len bytes at *off from km into a new secret; NULL *out for len 0. */
static int take(const uint8_t *km, ptrdiff_t *off, ptrdiff_t len, struct keel_secret **out)
{
	*out = NULL;
	if (len == 0)
		return 0;
	*out = keel_secret_new_from(km + *off, len);
	if (!*out)
		return KEEL_ERR_NOMEM;
	*off += len;
	return 0;
}

/* ---- prf+ ---- */

ptrdiff_t keel_prf_plus_max_len(enum keel_prf_alg alg)
{
	ptrdiff_t n = keel_prf_out_len(alg);
	return n < 0 ? n : n * KEEL_PRF_PLUS_MAX_BLOCKS;
}

int keel_prf_plus(enum keel_prf_alg alg, const uint8_t *key, ptrdiff_t key_len,
                  const struct keel_iov *seed, size_t n_seed, uint8_t *out, ptrdiff_t out_len)
{
	struct keel_iov in[KEEL_KDF_MAX_IOV + 2];
	uint8_t t[KEEL_PRF_MAX_OUT_LEN];
	uint8_t counter;
	struct keel_prf *p = NULL;
	ptrdiff_t max = keel_prf_plus_max_len(alg);
	ptrdiff_t done = 0, t_len = 0;
	int rc = KEEL_ERR_INVAL;

	/* RFC 7296 §2.13: at most 255 blocks, the counter being one octet */
	if (max < 0 || out_len < 0 || out_len > max || n_seed > KEEL_KDF_MAX_IOV ||
	    (n_seed > 0 && !seed) || (out_len > 0 && !out) || !need(key, key_len))
		goto out;
	rc = keel_prf_new(alg, key, key_len, &p);
	if (rc < 0)
		goto out;
	for (counter = 1; done < out_len; counter++) {
		size_t n = 0;
		in[n++] = (struct keel_iov){t, t_len}; /* T0 is empty */
		for (size_t i = 0; i < n_seed; i++)
			in[n++] = seed[i];
		in[n++] = (struct keel_iov){&counter, 1};
		ptrdiff_t got = keel_prf_compute(p, in, n, t, sizeof(t));
		if (got < 0) {
			rc = (int)got;
			goto out;
		}
		t_len = got;
		ptrdiff_t use = out_len - done < got ? out_len - done : got;
		memcpy(out + done, t, (size_t)use);
		done += use;
	}
	rc = 0;
out:
	keel_prf_free(p);
	OPENSSL_cleanse(t, sizeof(t));
	if (rc < 0 && out && out_len > 0 && out_len <= max)
		OPENSSL_cleanse(out, (size_t)out_len);
	return rc;
}

/* ---- IKEv2 ---- */

void keel_ikev2_ike_keys_clear(struct keel_ikev2_ike_keys *k)
{
	if (!k)
		return;
	keel_secret_free(k->skeyseed);
	keel_secret_free(k->sk_d);
	keel_secret_free(k->sk_ai);
	keel_secret_free(k->sk_ar);
	keel_secret_free(k->sk_ei);
	keel_secret_free(k->sk_er);
	keel_secret_free(k->sk_pi);
	keel_secret_free(k->sk_pr);
	memset(k, 0, sizeof(*k));
}

int keel_ikev2_skeyseed(enum keel_prf_alg prf, const uint8_t *nonce_i, ptrdiff_t nonce_i_len,
                        const uint8_t *nonce_r, ptrdiff_t nonce_r_len, const uint8_t *g_ir,
                        ptrdiff_t g_ir_len, struct keel_secret **out)
{
	uint8_t *key = NULL;
	ptrdiff_t ki = nonce_i_len, kr = nonce_r_len;
	int rc = KEEL_ERR_INVAL;

	if (!out || !need(nonce_i, nonce_i_len) || !need(nonce_r, nonce_r_len) ||
	    !need(g_ir, g_ir_len) || keel_prf_out_len(prf) < 0)
		goto out;
	if (keel_prf_is_fixed_key(prf)) {
		/* RFC 7296 §2.14: XCBC/CMAC take the first 64 bits of each nonce */
		if (nonce_i_len < 8 || nonce_r_len < 8)
			goto out;
		ki = kr = 8;
	}
	if (ki > PTRDIFF_MAX - kr)
		goto out;
	rc = KEEL_ERR_NOMEM;
	key = malloc((size_t)(ki + kr));
	if (!key)
		goto out;
	memcpy(key, nonce_i, (size_t)ki);
	memcpy(key + ki, nonce_r, (size_t)kr);
	struct keel_iov in = {g_ir, g_ir_len};
	rc = prf_secret_once(prf, key, ki + kr, &in, 1, out);
out:
	wipe_free(key, ki + kr);
	return rc;
}

int keel_ikev2_skeyseed_rekey(enum keel_prf_alg old_prf, const struct keel_secret *sk_d_old,
                              const uint8_t *g_ir, ptrdiff_t g_ir_len, const uint8_t *nonce_i,
                              ptrdiff_t nonce_i_len, const uint8_t *nonce_r, ptrdiff_t nonce_r_len,
                              struct keel_secret **out)
{
	if (!out || !sk_d_old || !need(g_ir, g_ir_len) || !need(nonce_i, nonce_i_len) ||
	    !need(nonce_r, nonce_r_len))
		return KEEL_ERR_INVAL;
	/* RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) */
	struct keel_iov in[] = {
	    {g_ir, g_ir_len},
	    {nonce_i, nonce_i_len},
	    {nonce_r, nonce_r_len},
	};
	return prf_secret_once(old_prf, keel_secret_data(sk_d_old), keel_secret_len(sk_d_old), in,
	                       3, out);
}

int keel_ikev2_expand_ike(const struct keel_ikev2_ike_params *p, const struct keel_secret *skeyseed,
                          struct keel_ikev2_ike_keys *out)
{
	struct keel_ikev2_ike_keys k = {0};
	uint8_t *km = NULL;
	ptrdiff_t total = 0, off = 0;
	int rc = KEEL_ERR_INVAL;

	if (!p || !skeyseed || !out || !need(p->nonce_i, p->nonce_i_len) ||
	    !need(p->nonce_r, p->nonce_r_len))
		goto out;
	ptrdiff_t prf_len = keel_prf_key_len(p->prf);
	ptrdiff_t integ_len = keel_integ_key_len(p->integ);
	ptrdiff_t encr_len = p->encr_key_len;
	ptrdiff_t max = keel_prf_plus_max_len(p->prf);
	if (prf_len < 0 || integ_len < 0 || encr_len <= 0 || max < 0 || encr_len > max)
		goto out;
	total = 3 * prf_len + 2 * integ_len + 2 * encr_len;
	if (total > max)
		goto out;
	rc = KEEL_ERR_NOMEM;
	km = malloc((size_t)total);
	if (!km)
		goto out;
	/* RFC 7296 §2.14: prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) */
	struct keel_iov seed[] = {
	    {p->nonce_i, p->nonce_i_len},
	    {p->nonce_r, p->nonce_r_len},
	    {p->spi_i, 8},
	    {p->spi_r, 8},
	};
	rc = keel_prf_plus(p->prf, keel_secret_data(skeyseed), keel_secret_len(skeyseed), seed, 4,
	                   km, total);
	if (rc < 0)
		goto out;
	rc = KEEL_ERR_NOMEM;
	k.skeyseed = keel_secret_dup(skeyseed);
	if (!k.skeyseed)
		goto out;
	/* {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} */
	if ((rc = take(km, &off, prf_len, &k.sk_d)) < 0 ||
	    (rc = take(km, &off, integ_len, &k.sk_ai)) < 0 ||
	    (rc = take(km, &off, integ_len, &k.sk_ar)) < 0 ||
	    (rc = take(km, &off, encr_len, &k.sk_ei)) < 0 ||
	    (rc = take(km, &off, encr_len, &k.sk_er)) < 0 ||
	    (rc = take(km, &off, prf_len, &k.sk_pi)) < 0 ||
	    (rc = take(km, &off, prf_len, &k.sk_pr)) < 0)
		goto out;
	*out = k;
	memset(&k, 0, sizeof(k));
	rc = 0;
out:
	keel_ikev2_ike_keys_clear(&k);
	wipe_free(km, total);
	return rc;
}

int keel_ikev2_derive_ike(const struct keel_ikev2_ike_params *p, struct keel_ikev2_ike_keys *out)
{
	struct keel_secret *skeyseed = NULL;
	int rc;

	if (!p || !out)
		return KEEL_ERR_INVAL;
	rc = keel_ikev2_skeyseed(p->prf, p->nonce_i, p->nonce_i_len, p->nonce_r, p->nonce_r_len,
	                         p->g_ir, p->g_ir_len, &skeyseed);
	if (rc == 0)
		rc = keel_ikev2_expand_ike(p, skeyseed, out);
	keel_secret_free(skeyseed);
	return rc;
}

int keel_ikev2_derive_ike_rekey(const struct keel_ikev2_ike_params *p, enum keel_prf_alg old_prf,
                                const struct keel_secret *sk_d_old, struct keel_ikev2_ike_keys *out)
{
	struct keel_secret *skeyseed = NULL;
	int rc;

	if (!p || !out)
		return KEEL_ERR_INVAL;
	/* RFC 7296 §2.18: the old SA's PRF makes SKEYSEED, the new SA's PRF expands it */
	rc = keel_ikev2_skeyseed_rekey(old_prf, sk_d_old, p->g_ir, p->g_ir_len, p->nonce_i,
	                               p->nonce_i_len, p->nonce_r, p->nonce_r_len, &skeyseed);
	if (rc == 0)
		rc = keel_ikev2_expand_ike(p, skeyseed, out);
	keel_secret_free(skeyseed);
	return rc;
}

void keel_child_keys_clear(struct keel_child_keys *k)
{
	if (!k)
		return;
	keel_secret_free(k->encr_i);
	keel_secret_free(k->integ_i);
	keel_secret_free(k->encr_r);
	keel_secret_free(k->integ_r);
	memset(k, 0, sizeof(*k));
}

int keel_ikev2_derive_child(const struct keel_ikev2_child_params *p, const struct keel_secret *sk_d,
                            struct keel_child_keys *out)
{
	struct keel_child_keys k = {0};
	uint8_t *km = NULL;
	ptrdiff_t total = 0, off = 0;
	int rc = KEEL_ERR_INVAL;

	if (!p || !sk_d || !out || !need(p->nonce_i, p->nonce_i_len) ||
	    !need(p->nonce_r, p->nonce_r_len) || !buf_ok(p->g_ir, p->g_ir_len))
		goto out;
	ptrdiff_t integ_len = keel_integ_key_len(p->integ);
	ptrdiff_t encr_len = p->encr_key_len;
	ptrdiff_t max = keel_prf_plus_max_len(p->prf);
	if (integ_len < 0 || encr_len < 0 || max < 0 || encr_len > max ||
	    (encr_len == 0 && integ_len == 0))
		goto out;
	total = 2 * encr_len + 2 * integ_len;
	if (total > max)
		goto out;
	rc = KEEL_ERR_NOMEM;
	km = malloc((size_t)total);
	if (!km)
		goto out;
	/* RFC 7296 §2.17: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) */
	struct keel_iov seed[3];
	size_t n = 0;
	if (p->g_ir_len > 0)
		seed[n++] = (struct keel_iov){p->g_ir, p->g_ir_len};
	seed[n++] = (struct keel_iov){p->nonce_i, p->nonce_i_len};
	seed[n++] = (struct keel_iov){p->nonce_r, p->nonce_r_len};
	rc = keel_prf_plus(p->prf, keel_secret_data(sk_d), keel_secret_len(sk_d), seed, n, km,
	                   total);
	if (rc < 0)
		goto out;
	/* RFC 7296 §2.17: initiator-to-responder first; encryption before integrity */
	if ((rc = take(km, &off, encr_len, &k.encr_i)) < 0 ||
	    (rc = take(km, &off, integ_len, &k.integ_i)) < 0 ||
	    (rc = take(km, &off, encr_len, &k.encr_r)) < 0 ||
	    (rc = take(km, &off, integ_len, &k.integ_r)) < 0)
		goto out;
	*out = k;
	memset(&k, 0, sizeof(k));
	rc = 0;
out:
	keel_child_keys_clear(&k);
	wipe_free(km, total);
	return rc;
}

/* ---- IKEv1 ---- */

/* RFC 2409 §4: without a negotiated PRF, the PRF is HMAC of the negotiated hash. */
static const char *ikev1_digest(enum keel_prf_alg prf)
{
	switch (prf) {
	case KEEL_PRF_HMAC_SHA1:
		return "SHA1";
	case KEEL_PRF_HMAC_SHA2_256:
		return "SHA2-256";
	case KEEL_PRF_HMAC_SHA2_384:
		return "SHA2-384";
	case KEEL_PRF_HMAC_SHA2_512:
		return "SHA2-512";
	case KEEL_PRF_AES128_XCBC:
	case KEEL_PRF_AES128_CMAC:
		break;
	}
	return NULL;
}

ptrdiff_t keel_ikev1_hash(enum keel_prf_alg prf, const struct keel_iov *in, size_t n_in,
                          uint8_t *out, ptrdiff_t out_cap)
{
	const char *name = ikev1_digest(prf);
	EVP_MD *md = NULL;
	EVP_MD_CTX *ctx = NULL;
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned int h_len = 0;
	ptrdiff_t rc = KEEL_ERR_UNSUPPORTED;

	if (!name)
		goto out;
	rc = KEEL_ERR_INVAL;
	if (!out || (n_in > 0 && !in))
		goto out;
	for (size_t i = 0; i < n_in; i++)
		if (!buf_ok(in[i].data, in[i].len))
			goto out;
	rc = KEEL_ERR_NOBUF;
	if (out_cap < keel_prf_out_len(prf))
		goto out;
	rc = KEEL_ERR_CRYPTO;
	md = EVP_MD_fetch(NULL, name, NULL);
	ctx = EVP_MD_CTX_new();
	if (!md || !ctx || !EVP_DigestInit_ex2(ctx, md, NULL))
		goto out;
	for (size_t i = 0; i < n_in; i++)
		if (in[i].len > 0 && !EVP_DigestUpdate(ctx, in[i].data, (size_t)in[i].len))
			goto out;
	if (!EVP_DigestFinal_ex(ctx, h, &h_len) || (ptrdiff_t)h_len != keel_prf_out_len(prf))
		goto out;
	memcpy(out, h, h_len);
	rc = h_len;
out:
	EVP_MD_CTX_free(ctx);
	EVP_MD_free(md);
	OPENSSL_cleanse(h, sizeof(h));
	return rc;
}

int keel_ikev1_skeyid_psk(enum keel_prf_alg prf, const uint8_t *psk, ptrdiff_t psk_len,
                          const uint8_t *nonce_i, ptrdiff_t nonce_i_len, const uint8_t *nonce_r,
                          ptrdiff_t nonce_r_len, struct keel_secret **out)
{
	if (!ikev1_digest(prf))
		return KEEL_ERR_UNSUPPORTED;
	if (!out || !need(psk, psk_len) || !need(nonce_i, nonce_i_len) ||
	    !need(nonce_r, nonce_r_len))
		return KEEL_ERR_INVAL;
	/* RFC 2409 §5: SKEYID = prf(pre-shared-key, Ni_b | Nr_b) */
	struct keel_iov in[] = {{nonce_i, nonce_i_len}, {nonce_r, nonce_r_len}};
	return prf_secret_once(prf, psk, psk_len, in, 2, out);
}

int keel_ikev1_skeyid_sig(enum keel_prf_alg prf, const uint8_t *nonce_i, ptrdiff_t nonce_i_len,
                          const uint8_t *nonce_r, ptrdiff_t nonce_r_len, const uint8_t *g_xy,
                          ptrdiff_t g_xy_len, struct keel_secret **out)
{
	uint8_t *key = NULL;
	ptrdiff_t key_len = 0;
	int rc = KEEL_ERR_UNSUPPORTED;

	if (!ikev1_digest(prf))
		goto out;
	rc = KEEL_ERR_INVAL;
	if (!out || !need(nonce_i, nonce_i_len) || !need(nonce_r, nonce_r_len) ||
	    !need(g_xy, g_xy_len) || nonce_i_len > PTRDIFF_MAX - nonce_r_len)
		goto out;
	rc = KEEL_ERR_NOMEM;
	key_len = nonce_i_len + nonce_r_len;
	key = malloc((size_t)key_len);
	if (!key)
		goto out;
	memcpy(key, nonce_i, (size_t)nonce_i_len);
	memcpy(key + nonce_i_len, nonce_r, (size_t)nonce_r_len);
	/* RFC 2409 §5: SKEYID = prf(Ni_b | Nr_b, g^xy) */
	struct keel_iov in = {g_xy, g_xy_len};
	rc = prf_secret_once(prf, key, key_len, &in, 1, out);
out:
	wipe_free(key, key_len);
	return rc;
}

int keel_ikev1_skeyid_pke(enum keel_prf_alg prf, const uint8_t *nonce_i, ptrdiff_t nonce_i_len,
                          const uint8_t *nonce_r, ptrdiff_t nonce_r_len, const uint8_t cky_i[8],
                          const uint8_t cky_r[8], struct keel_secret **out)
{
	uint8_t key[KEEL_PRF_MAX_OUT_LEN];
	ptrdiff_t key_len;
	int rc = KEEL_ERR_UNSUPPORTED;

	if (!ikev1_digest(prf))
		goto out;
	rc = KEEL_ERR_INVAL;
	if (!out || !cky_i || !cky_r || !need(nonce_i, nonce_i_len) || !need(nonce_r, nonce_r_len))
		goto out;
	/* RFC 2409 §5: SKEYID = prf(hash(Ni_b | Nr_b), CKY-I | CKY-R) */
	struct keel_iov nonces[] = {{nonce_i, nonce_i_len}, {nonce_r, nonce_r_len}};
	key_len = keel_ikev1_hash(prf, nonces, 2, key, sizeof(key));
	if (key_len < 0) {
		rc = (int)key_len;
		goto out;
	}
	struct keel_iov in[] = {{cky_i, 8}, {cky_r, 8}};
	rc = prf_secret_once(prf, key, key_len, in, 2, out);
out:
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

void keel_ikev1_keys_clear(struct keel_ikev1_keys *k)
{
	if (!k)
		return;
	keel_secret_free(k->skeyid);
	keel_secret_free(k->skeyid_d);
	keel_secret_free(k->skeyid_a);
	keel_secret_free(k->skeyid_e);
	keel_secret_free(k->encr_key);
	memset(k, 0, sizeof(*k));
}

int keel_ikev1_encr_key_expand(enum keel_prf_alg prf, const struct keel_secret *skeyid_e,
                               ptrdiff_t len, struct keel_secret **out)
{
	struct keel_secret *k = NULL;
	struct keel_prf *p = NULL;
	uint8_t t[KEEL_PRF_MAX_OUT_LEN];
	ptrdiff_t done = 0, t_len = 0;
	int rc = KEEL_ERR_UNSUPPORTED;

	if (!ikev1_digest(prf))
		goto out;
	rc = KEEL_ERR_INVAL;
	if (!skeyid_e || !out || len <= 0 || len > keel_prf_plus_max_len(prf))
		goto out;
	rc = KEEL_ERR_NOMEM;
	/* RFC 2409 Appendix B: a long enough SKEYID_e is used directly (first bits) */
	if (len <= keel_secret_len(skeyid_e)) {
		k = keel_secret_slice(skeyid_e, 0, len);
		if (!k)
			goto out;
		goto done;
	}
	k = keel_secret_new(len);
	if (!k)
		goto out;
	rc = keel_prf_new(prf, keel_secret_data(skeyid_e), keel_secret_len(skeyid_e), &p);
	if (rc < 0)
		goto out;
	/* K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, Kn-1); "0" is one zero octet */
	t[0] = 0;
	t_len = 1;
	while (done < len) {
		struct keel_iov in = {t, t_len};
		ptrdiff_t got = keel_prf_compute(p, &in, 1, t, sizeof(t));
		if (got < 0) {
			rc = (int)got;
			goto out;
		}
		t_len = got;
		ptrdiff_t use = len - done < got ? len - done : got;
		memcpy(keel_secret_mut(k) + done, t, (size_t)use);
		done += use;
	}
done:
	*out = k;
	k = NULL;
	rc = 0;
out:
	keel_secret_free(k);
	keel_prf_free(p);
	OPENSSL_cleanse(t, sizeof(t));
	return rc;
}

int keel_ikev1_derive(enum keel_prf_alg prf, const struct keel_secret *skeyid, const uint8_t *g_xy,
                      ptrdiff_t g_xy_len, const uint8_t cky_i[8], const uint8_t cky_r[8],
                      ptrdiff_t encr_key_len, struct keel_ikev1_keys *out)
{
	static const uint8_t c012[3] = {0, 1, 2};
	struct keel_ikev1_keys k = {0};
	struct keel_prf *p = NULL;
	int rc = KEEL_ERR_UNSUPPORTED;

	if (!ikev1_digest(prf))
		goto out;
	rc = KEEL_ERR_INVAL;
	if (!skeyid || keel_secret_len(skeyid) <= 0 || !need(g_xy, g_xy_len) || !cky_i || !cky_r ||
	    !out || encr_key_len < 0)
		goto out;
	rc = KEEL_ERR_NOMEM;
	k.skeyid = keel_secret_dup(skeyid);
	if (!k.skeyid)
		goto out;
	rc = keel_prf_new(prf, keel_secret_data(skeyid), keel_secret_len(skeyid), &p);
	if (rc < 0)
		goto out;
	/*
	 * RFC 2409 §5, each key feeding the next:
	 *   SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
	 *   SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
	 *   SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
	 */
	struct keel_secret **chain[3] = {&k.skeyid_d, &k.skeyid_a, &k.skeyid_e};
	const struct keel_secret *prev = NULL;
	for (size_t i = 0; i < 3; i++) {
		struct keel_iov in[] = {
		    {prev ? keel_secret_data(prev) : NULL, prev ? keel_secret_len(prev) : 0},
		    {g_xy, g_xy_len},
		    {cky_i, 8},
		    {cky_r, 8},
		    {&c012[i], 1},
		};
		rc = prf_secret(p, in, 5, chain[i]);
		if (rc < 0)
			goto out;
		prev = *chain[i];
	}
	if (encr_key_len > 0) {
		rc = keel_ikev1_encr_key_expand(prf, k.skeyid_e, encr_key_len, &k.encr_key);
		if (rc < 0)
			goto out;
	}
	*out = k;
	memset(&k, 0, sizeof(k));
	rc = 0;
out:
	keel_prf_free(p);
	keel_ikev1_keys_clear(&k);
	return rc;
}

/* The first block_len bytes of hash(in...): the IVs of RFC 2409 Appendix B. */
static int ikev1_iv(enum keel_prf_alg prf, const struct keel_iov *in, size_t n_in,
                    ptrdiff_t block_len, uint8_t *iv)
{
	uint8_t h[KEEL_PRF_MAX_OUT_LEN];
	ptrdiff_t n;
	int rc = KEEL_ERR_UNSUPPORTED;

	if (!ikev1_digest(prf))
		goto out;
	rc = KEEL_ERR_INVAL;
	if (!iv || block_len <= 0 || block_len > keel_prf_out_len(prf))
		goto out;
	n = keel_ikev1_hash(prf, in, n_in, h, sizeof(h));
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	memcpy(iv, h, (size_t)block_len);
	rc = 0;
out:
	OPENSSL_cleanse(h, sizeof(h));
	return rc;
}

int keel_ikev1_iv_phase1(enum keel_prf_alg prf, const uint8_t *g_xi, ptrdiff_t g_xi_len,
                         const uint8_t *g_xr, ptrdiff_t g_xr_len, ptrdiff_t block_len, uint8_t *iv)
{
	if (!need(g_xi, g_xi_len) || !need(g_xr, g_xr_len))
		return ikev1_digest(prf) ? KEEL_ERR_INVAL : KEEL_ERR_UNSUPPORTED;
	/* RFC 2409 Appendix B: IV = hash(g^xi | g^xr) */
	struct keel_iov in[] = {{g_xi, g_xi_len}, {g_xr, g_xr_len}};
	return ikev1_iv(prf, in, 2, block_len, iv);
}

int keel_ikev1_iv_phase2(enum keel_prf_alg prf, const uint8_t *last_block, ptrdiff_t block_len,
                         uint32_t msg_id, uint8_t *iv)
{
	uint8_t mid[4] = {
	    (uint8_t)(msg_id >> 24),
	    (uint8_t)(msg_id >> 16),
	    (uint8_t)(msg_id >> 8),
	    (uint8_t)msg_id,
	};

	if (!need(last_block, block_len))
		return ikev1_digest(prf) ? KEEL_ERR_INVAL : KEEL_ERR_UNSUPPORTED;
	/* RFC 2409 Appendix B: IV = hash(last phase 1 CBC output block | M-ID) */
	struct keel_iov in[] = {{last_block, block_len}, {mid, 4}};
	return ikev1_iv(prf, in, 2, block_len, iv);
}

static bool auth_params_ok(const struct keel_ikev1_auth_params *p)
{
	return p && p->skeyid && need(p->g_xi, p->g_xi_len) && need(p->g_xr, p->g_xr_len) &&
	       need(p->sai_b, p->sai_b_len);
}

ptrdiff_t keel_ikev1_hash_i(const struct keel_ikev1_auth_params *p, const uint8_t *idii_b,
                            ptrdiff_t idii_b_len, uint8_t *out, ptrdiff_t out_cap)
{
	if (p && !ikev1_digest(p->prf))
		return KEEL_ERR_UNSUPPORTED;
	if (!auth_params_ok(p) || !need(idii_b, idii_b_len))
		return KEEL_ERR_INVAL;
	/* RFC 2409 §5: HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b) */
	struct keel_iov in[] = {
	    {p->g_xi, p->g_xi_len}, {p->g_xr, p->g_xr_len},   {p->cky_i, 8},
	    {p->cky_r, 8},          {p->sai_b, p->sai_b_len}, {idii_b, idii_b_len},
	};
	return prf_buf_once(p->prf, p->skeyid, in, 6, out, out_cap);
}

ptrdiff_t keel_ikev1_hash_r(const struct keel_ikev1_auth_params *p, const uint8_t *idir_b,
                            ptrdiff_t idir_b_len, uint8_t *out, ptrdiff_t out_cap)
{
	if (p && !ikev1_digest(p->prf))
		return KEEL_ERR_UNSUPPORTED;
	if (!auth_params_ok(p) || !need(idir_b, idir_b_len))
		return KEEL_ERR_INVAL;
	/* RFC 2409 §5: HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b) */
	struct keel_iov in[] = {
	    {p->g_xr, p->g_xr_len}, {p->g_xi, p->g_xi_len},   {p->cky_r, 8},
	    {p->cky_i, 8},          {p->sai_b, p->sai_b_len}, {idir_b, idir_b_len},
	};
	return prf_buf_once(p->prf, p->skeyid, in, 6, out, out_cap);
}

static void put_be32(uint8_t b[4], uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

ptrdiff_t keel_ikev1_hash1(enum keel_prf_alg prf, const struct keel_secret *skeyid_a,
                           uint32_t msg_id, const uint8_t *payloads, ptrdiff_t payloads_len,
                           uint8_t *out, ptrdiff_t out_cap)
{
	uint8_t mid[4];

	if (!ikev1_digest(prf))
		return KEEL_ERR_UNSUPPORTED;
	if (!buf_ok(payloads, payloads_len))
		return KEEL_ERR_INVAL;
	put_be32(mid, msg_id);
	/* RFC 2409 §5.5: HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [ | KE ] [ | IDci | IDcr ]) */
	struct keel_iov in[] = {{mid, 4}, {payloads, payloads_len}};
	return prf_buf_once(prf, skeyid_a, in, 2, out, out_cap);
}

ptrdiff_t keel_ikev1_hash2(enum keel_prf_alg prf, const struct keel_secret *skeyid_a,
                           uint32_t msg_id, const uint8_t *nonce_i, ptrdiff_t nonce_i_len,
                           const uint8_t *payloads, ptrdiff_t payloads_len, uint8_t *out,
                           ptrdiff_t out_cap)
{
	uint8_t mid[4];

	if (!ikev1_digest(prf))
		return KEEL_ERR_UNSUPPORTED;
	if (!need(nonce_i, nonce_i_len) || !buf_ok(payloads, payloads_len))
		return KEEL_ERR_INVAL;
	put_be32(mid, msg_id);
	/* RFC 2409 §5.5: HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [ | KE ] [ | IDci | IDcr ])
	 */
	struct keel_iov in[] = {{mid, 4}, {nonce_i, nonce_i_len}, {payloads, payloads_len}};
	return prf_buf_once(prf, skeyid_a, in, 3, out, out_cap);
}

ptrdiff_t keel_ikev1_hash3(enum keel_prf_alg prf, const struct keel_secret *skeyid_a,
                           uint32_t msg_id, const uint8_t *nonce_i, ptrdiff_t nonce_i_len,
                           const uint8_t *nonce_r, ptrdiff_t nonce_r_len, uint8_t *out,
                           ptrdiff_t out_cap)
{
	static const uint8_t zero = 0;
	uint8_t mid[4];

	if (!ikev1_digest(prf))
		return KEEL_ERR_UNSUPPORTED;
	if (!need(nonce_i, nonce_i_len) || !need(nonce_r, nonce_r_len))
		return KEEL_ERR_INVAL;
	put_be32(mid, msg_id);
	/* RFC 2409 §5.5: HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b) */
	struct keel_iov in[] = {
	    {&zero, 1},
	    {mid, 4},
	    {nonce_i, nonce_i_len},
	    {nonce_r, nonce_r_len},
	};
	return prf_buf_once(prf, skeyid_a, in, 4, out, out_cap);
}

int keel_ikev1_keymat_expand(enum keel_prf_alg prf, const uint8_t *key, ptrdiff_t key_len,
                             const struct keel_iov *seed, size_t n_seed, uint8_t *out,
                             ptrdiff_t len)
{
	struct keel_iov in[KEEL_KDF_MAX_IOV + 1];
	uint8_t t[KEEL_PRF_MAX_OUT_LEN];
	struct keel_prf *p = NULL;
	ptrdiff_t done = 0, t_len = 0;
	int rc = KEEL_ERR_UNSUPPORTED;

	if (!ikev1_digest(prf))
		goto out;
	rc = KEEL_ERR_INVAL;
	if (!out || len <= 0 || len > keel_prf_plus_max_len(prf) || n_seed > KEEL_KDF_MAX_IOV ||
	    (n_seed > 0 && !seed) || !need(key, key_len))
		goto out;
	rc = keel_prf_new(prf, key, key_len, &p);
	if (rc < 0)
		goto out;
	/* RFC 2409 §5.5: K1 = prf(key, S), Kn = prf(key, Kn-1 | S) */
	while (done < len) {
		size_t n = 0;
		if (t_len > 0)
			in[n++] = (struct keel_iov){t, t_len};
		for (size_t i = 0; i < n_seed; i++)
			in[n++] = seed[i];
		ptrdiff_t got = keel_prf_compute(p, in, n, t, sizeof(t));
		if (got < 0) {
			rc = (int)got;
			goto out;
		}
		t_len = got;
		ptrdiff_t use = len - done < got ? len - done : got;
		memcpy(out + done, t, (size_t)use);
		done += use;
	}
	rc = 0;
out:
	keel_prf_free(p);
	OPENSSL_cleanse(t, sizeof(t));
	if (rc < 0 && out && len > 0 && len <= keel_prf_plus_max_len(prf))
		OPENSSL_cleanse(out, (size_t)len);
	return rc;
}

static bool qm_params_ok(const struct keel_ikev1_qm_params *p)
{
	return p && p->skeyid_d && keel_secret_len(p->skeyid_d) > 0 &&
	       buf_ok(p->g_qm, p->g_qm_len) && need(p->spi, p->spi_len) &&
	       need(p->nonce_i, p->nonce_i_len) && need(p->nonce_r, p->nonce_r_len);
}

int keel_ikev1_qm_keymat(const struct keel_ikev1_qm_params *p, ptrdiff_t len,
                         struct keel_secret **out)
{
	struct keel_secret *k = NULL;
	int rc = KEEL_ERR_INVAL;

	if (!qm_params_ok(p) || !out)
		goto out;
	rc = KEEL_ERR_UNSUPPORTED;
	if (!ikev1_digest(p->prf))
		goto out;
	rc = KEEL_ERR_INVAL;
	if (len <= 0 || len > keel_prf_plus_max_len(p->prf))
		goto out;
	rc = KEEL_ERR_NOMEM;
	k = keel_secret_new(len);
	if (!k)
		goto out;
	/* RFC 2409 §5.5: S = [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b */
	struct keel_iov seed[5];
	size_t n = 0;
	if (p->g_qm_len > 0)
		seed[n++] = (struct keel_iov){p->g_qm, p->g_qm_len};
	seed[n++] = (struct keel_iov){&p->protocol, 1};
	seed[n++] = (struct keel_iov){p->spi, p->spi_len};
	seed[n++] = (struct keel_iov){p->nonce_i, p->nonce_i_len};
	seed[n++] = (struct keel_iov){p->nonce_r, p->nonce_r_len};
	rc = keel_ikev1_keymat_expand(p->prf, keel_secret_data(p->skeyid_d),
	                              keel_secret_len(p->skeyid_d), seed, n, keel_secret_mut(k),
	                              len);
	if (rc < 0)
		goto out;
	*out = k;
	k = NULL;
out:
	keel_secret_free(k);
	return rc;
}

int keel_ikev1_qm_keys(const struct keel_ikev1_qm_params *p, ptrdiff_t encr_key_len,
                       ptrdiff_t integ_key_len, struct keel_secret **encr,
                       struct keel_secret **integ)
{
	struct keel_secret *km = NULL, *e = NULL, *a = NULL;
	int rc = KEEL_ERR_INVAL;

	if (!encr || !integ || encr_key_len < 0 || integ_key_len < 0 ||
	    encr_key_len > PTRDIFF_MAX - integ_key_len || encr_key_len + integ_key_len == 0)
		goto out;
	rc = keel_ikev1_qm_keymat(p, encr_key_len + integ_key_len, &km);
	if (rc < 0)
		goto out;
	rc = KEEL_ERR_NOMEM;
	if (encr_key_len > 0 && !(e = keel_secret_slice(km, 0, encr_key_len)))
		goto out;
	if (integ_key_len > 0 && !(a = keel_secret_slice(km, encr_key_len, integ_key_len)))
		goto out;
	*encr = e;
	*integ = a;
	e = a = NULL;
	rc = 0;
out:
	keel_secret_free(km);
	keel_secret_free(e);
	keel_secret_free(a);
	return rc;
}
