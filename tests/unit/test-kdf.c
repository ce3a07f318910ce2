/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IKEv2 and IKEv1 key derivation (core/crypto/kdf.c) against the NIST CAVP
 * SP 800-135 IKE KDF samples, NSS's cross-check vectors for the expansions,
 * the formulas of RFC 7296 / RFC 2409 rebuilt by hand from the PRF, and the
 * error paths.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <keel/err.h>
#include <keel/secret.h>

#include "crypto/kdf.h"
#include "crypto/prf.h"

#include "check.h"
#include "tv.h"

#define SENTINEL ((struct keel_secret *)(uintptr_t)0x5a5a5a5a)

static enum keel_prf_alg prf_by_hash(const char *name)
{
	if (strcmp(name, "SHA-1") == 0)
		return KEEL_PRF_HMAC_SHA1;
	if (strcmp(name, "SHA-256") == 0)
		return KEEL_PRF_HMAC_SHA2_256;
	if (strcmp(name, "SHA-384") == 0)
		return KEEL_PRF_HMAC_SHA2_384;
	if (strcmp(name, "SHA-512") == 0)
		return KEEL_PRF_HMAC_SHA2_512;
	fprintf(stderr, "unknown Hash %s\n", name);
	exit(1);
}

/* A secret must equal want[off, off + its length), as far as want reaches. */
static void check_part(const struct keel_secret *s, ptrdiff_t want_len_of_s, const uint8_t *want,
                       size_t want_len, size_t *off)
{
	CHECK_INT(keel_secret_len(s), want_len_of_s);
	if (!s)
		return;
	if (*off < want_len) {
		size_t n = want_len - *off;
		if (n > (size_t)keel_secret_len(s))
			n = (size_t)keel_secret_len(s);
		CHECK_MEM(keel_secret_data(s), n, want + *off, n);
	}
	*off += (size_t)keel_secret_len(s);
}

/* ---- NIST SP 800-135 IKEv2 ---- */

static void nist_ikev2_record(struct tv_file *f)
{
	enum keel_prf_alg prf = prf_by_hash(tv_str(f, "Hash"));
	ptrdiff_t plen = keel_prf_out_len(prf);
	size_t nil, nrl, gl, gnl, sil, srl, skl, dl, rl;
	uint8_t *ni = tv_hex(f, "Ni", &nil), *nr = tv_hex(f, "Nr", &nrl);
	uint8_t *gir = tv_hex(f, "g^ir", &gl), *gir_new = tv_hex(f, "g^ir (new)", &gnl);
	uint8_t *spi_i = tv_hex(f, "SPIi", &sil), *spi_r = tv_hex(f, "SPIr", &srl);
	uint8_t *skeyseed = tv_hex(f, "SKEYSEED", &skl), *dkm = tv_hex(f, "DKM", &dl);
	uint8_t *rekey = tv_hex(f, "SKEYSEED(Rekey)", &rl);
	struct keel_secret *s = NULL, *sk_d = NULL;
	uint8_t *out = malloc(dl);

	CHECK_INT(sil, 8);
	CHECK_INT(srl, 8);
	/* SKEYSEED = prf(Ni | Nr, g^ir) */
	CHECK_INT(keel_ikev2_skeyseed(prf, ni, (ptrdiff_t)nil, nr, (ptrdiff_t)nrl, gir,
	                              (ptrdiff_t)gl, &s),
	          0);
	CHECK_MEM(keel_secret_data(s), keel_secret_len(s), skeyseed, skl);

	/* DKM = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) */
	struct keel_iov seed[] = {
	    {ni, (ptrdiff_t)nil},
	    {nr, (ptrdiff_t)nrl},
	    {spi_i, 8},
	    {spi_r, 8},
	};
	CHECK_INT(keel_prf_plus(prf, skeyseed, (ptrdiff_t)skl, seed, 4, out, (ptrdiff_t)dl), 0);
	CHECK_MEM(out, dl, dkm, dl);

	/* The same through the IKE SA API: each SK_* is its slice of the DKM. */
	static const struct {
		enum keel_integ_alg integ;
		ptrdiff_t encr;
	} shapes[] = {
	    {KEEL_INTEG_HMAC_SHA1_96, 16},      /* AES-128-CBC + HMAC-SHA1-96 */
	    {KEEL_INTEG_HMAC_SHA2_256_128, 32}, /* AES-256-CBC + SHA2-256-128 */
	    {KEEL_INTEG_NONE, 36},              /* AES-256-GCM: key + 4-byte salt */
	    {KEEL_INTEG_AES_XCBC_96, 24},
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		struct keel_ikev2_ike_params p = {
		    .prf = prf,
		    .integ = shapes[i].integ,
		    .encr_key_len = shapes[i].encr,
		    .nonce_i = ni,
		    .nonce_i_len = (ptrdiff_t)nil,
		    .nonce_r = nr,
		    .nonce_r_len = (ptrdiff_t)nrl,
		    .g_ir = gir,
		    .g_ir_len = (ptrdiff_t)gl,
		};
		struct keel_ikev2_ike_keys k = {0};
		ptrdiff_t il = keel_integ_key_len(shapes[i].integ);
		size_t off = 0;
		memcpy(p.spi_i, spi_i, 8);
		memcpy(p.spi_r, spi_r, 8);
		CHECK_INT(keel_ikev2_derive_ike(&p, &k), 0);
		CHECK_MEM(keel_secret_data(k.skeyseed), keel_secret_len(k.skeyseed), skeyseed, skl);
		check_part(k.sk_d, plen, dkm, dl, &off);
		check_part(k.sk_ai, il, dkm, dl, &off);
		check_part(k.sk_ar, il, dkm, dl, &off);
		check_part(k.sk_ei, shapes[i].encr, dkm, dl, &off);
		check_part(k.sk_er, shapes[i].encr, dkm, dl, &off);
		check_part(k.sk_pi, plen, dkm, dl, &off);
		check_part(k.sk_pr, plen, dkm, dl, &off);
		if (shapes[i].integ == KEEL_INTEG_NONE)
			CHECK(k.sk_ai == NULL && k.sk_ar == NULL);
		if (i == 0 && k.sk_d)
			sk_d = keel_secret_dup(k.sk_d);
		keel_ikev2_ike_keys_clear(&k);
		CHECK(k.sk_d == NULL && k.skeyseed == NULL);
	}

	/* SKEYSEED(Rekey) = prf(SK_d, g^ir (new) | Ni | Nr) */
	CHECK(sk_d != NULL);
	CHECK_MEM(keel_secret_data(sk_d), keel_secret_len(sk_d), dkm, (size_t)plen);
	keel_secret_free(s);
	s = NULL;
	CHECK_INT(keel_ikev2_skeyseed_rekey(prf, sk_d, gir_new, (ptrdiff_t)gnl, ni, (ptrdiff_t)nil,
	                                    nr, (ptrdiff_t)nrl, &s),
	          0);
	CHECK_MEM(keel_secret_data(s), keel_secret_len(s), rekey, rl);
	{
		struct keel_ikev2_ike_params p = {
		    .prf = prf,
		    .integ = KEEL_INTEG_NONE,
		    .encr_key_len = 20,
		    .nonce_i = ni,
		    .nonce_i_len = (ptrdiff_t)nil,
		    .nonce_r = nr,
		    .nonce_r_len = (ptrdiff_t)nrl,
		    .g_ir = gir_new,
		    .g_ir_len = (ptrdiff_t)gnl,
		};
		struct keel_ikev2_ike_keys k = {0};
		CHECK_INT(keel_ikev2_derive_ike_rekey(&p, prf, sk_d, &k), 0);
		CHECK_MEM(keel_secret_data(k.skeyseed), keel_secret_len(k.skeyseed), rekey, rl);
		keel_ikev2_ike_keys_clear(&k);
	}

	/* DKM(Child SA) = prf+(SK_d, Ni | Nr); DKM(Child SA D-H) adds g^ir (new) first */
	for (int dh = 0; dh < 2; dh++) {
		const char *name = dh ? "DKM(Child SA D-H)" : "DKM(Child SA)";
		size_t cl;
		if (!tv_str(f, name))
			continue;
		uint8_t *child = tv_hex(f, name, &cl);
		/* 2 * (46 + 20) = 132 bytes: the whole DKM, split as RFC 7296 §2.17 */
		struct keel_ikev2_child_params cp = {
		    .prf = prf,
		    .integ = KEEL_INTEG_HMAC_SHA1_96,
		    .encr_key_len = 46,
		    .nonce_i = ni,
		    .nonce_i_len = (ptrdiff_t)nil,
		    .nonce_r = nr,
		    .nonce_r_len = (ptrdiff_t)nrl,
		    .g_ir = dh ? gir_new : NULL,
		    .g_ir_len = dh ? (ptrdiff_t)gnl : 0,
		};
		struct keel_child_keys ck = {0};
		size_t off = 0;
		CHECK_INT(cl, 132);
		CHECK_INT(keel_ikev2_derive_child(&cp, sk_d, &ck), 0);
		check_part(ck.encr_i, 46, child, cl, &off);
		check_part(ck.integ_i, 20, child, cl, &off);
		check_part(ck.encr_r, 46, child, cl, &off);
		check_part(ck.integ_r, 20, child, cl, &off);
		CHECK_INT(off, cl);
		keel_child_keys_clear(&ck);
		CHECK(ck.encr_i == NULL && ck.integ_r == NULL);
		free(child);
	}

	keel_secret_free(s);
	keel_secret_free(sk_d);
	free(out);
	free(ni);
	free(nr);
	free(gir);
	free(gir_new);
	free(spi_i);
	free(spi_r);
	free(skeyseed);
	free(dkm);
	free(rekey);
}

static void test_nist_ikev2(void)
{
	struct tv_file *f = tv_open("nist-cavp-sp800-135/ikev2.txt");
	int count = 0, child = 0;

	while (tv_next(f)) {
		nist_ikev2_record(f);
		child += tv_str(f, "DKM(Child SA)") != NULL;
		count++;
	}
	CHECK_INT(count, 4);
	CHECK_INT(child, 2);
	tv_close(f);
}

/* ---- NIST SP 800-135 IKEv1 ---- */

static void check_ikev1_dae(struct tv_file *f, enum keel_prf_alg prf,
                            const struct keel_secret *skeyid)
{
	size_t gl, cil, crl, dl, al, el;
	uint8_t *gxy = tv_hex(f, "g^xy", &gl);
	uint8_t *cky_i = tv_hex(f, "CKY_I", &cil), *cky_r = tv_hex(f, "CKY_R", &crl);
	uint8_t *d = tv_hex(f, "SKEYID_d", &dl), *a = tv_hex(f, "SKEYID_a", &al);
	uint8_t *e = tv_hex(f, "SKEYID_e", &el);
	ptrdiff_t plen = keel_prf_out_len(prf);

	CHECK_INT(cil, 8);
	CHECK_INT(crl, 8);
	/* three cipher key lengths: shorter than, equal to, longer than SKEYID_e */
	ptrdiff_t lens[] = {16, plen, 32, 0};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct keel_ikev1_keys k = {0};
		CHECK_INT(
		    keel_ikev1_derive(prf, skeyid, gxy, (ptrdiff_t)gl, cky_i, cky_r, lens[i], &k),
		    0);
		CHECK(keel_secret_equal(k.skeyid, skeyid));
		CHECK_MEM(keel_secret_data(k.skeyid_d), keel_secret_len(k.skeyid_d), d, dl);
		CHECK_MEM(keel_secret_data(k.skeyid_a), keel_secret_len(k.skeyid_a), a, al);
		CHECK_MEM(keel_secret_data(k.skeyid_e), keel_secret_len(k.skeyid_e), e, el);
		if (lens[i] == 0) {
			CHECK(k.encr_key == NULL);
		} else {
			struct keel_secret *x = NULL;
			CHECK_INT(keel_secret_len(k.encr_key), lens[i]);
			CHECK_INT(keel_ikev1_encr_key_expand(prf, k.skeyid_e, lens[i], &x), 0);
			CHECK(keel_secret_equal(x, k.encr_key));
			if (lens[i] <= plen)
				CHECK_MEM(keel_secret_data(k.encr_key), (size_t)lens[i], e,
				          (size_t)lens[i]);
			keel_secret_free(x);
		}
		keel_ikev1_keys_clear(&k);
	}
	free(gxy);
	free(cky_i);
	free(cky_r);
	free(d);
	free(a);
	free(e);
}

static void test_nist_ikev1(void)
{
	struct tv_file *f = tv_open("nist-cavp-sp800-135/ikev1-dsa.txt");
	int count = 0, full = 0;

	while (tv_next(f)) {
		enum keel_prf_alg prf = prf_by_hash(tv_str(f, "Hash"));
		size_t nil, nrl, gl, sl;
		uint8_t *ni = tv_hex(f, "Ni", &nil), *nr = tv_hex(f, "Nr", &nrl);
		uint8_t *gxy = tv_hex(f, "g^xy", &gl), *skeyid = tv_hex(f, "SKEYID", &sl);
		struct keel_secret *s = NULL;
		/* SKEYID = prf(Ni_b | Nr_b, g^xy) */
		CHECK_INT(keel_ikev1_skeyid_sig(prf, ni, (ptrdiff_t)nil, nr, (ptrdiff_t)nrl, gxy,
		                                (ptrdiff_t)gl, &s),
		          0);
		CHECK_MEM(keel_secret_data(s), keel_secret_len(s), skeyid, sl);
		if (s)
			check_ikev1_dae(f, prf, s);
		keel_secret_free(s);
		free(ni);
		free(nr);
		free(gxy);
		free(skeyid);
		count++;
	}
	CHECK_INT(count, 3);
	tv_close(f);

	f = tv_open("nist-cavp-sp800-135/ikev1-psk.txt");
	count = 0;
	while (tv_next(f)) {
		enum keel_prf_alg prf = prf_by_hash(tv_str(f, "Hash"));
		size_t nil, nrl, pl, sl;
		uint8_t *ni = tv_hex(f, "Ni", &nil), *nr = tv_hex(f, "Nr", &nrl);
		uint8_t *psk = tv_hex(f, "pre-shared-key", &pl);
		uint8_t *skeyid = tv_hex(f, "SKEYID", &sl);
		struct keel_secret *s = NULL;
		/* SKEYID = prf(pre-shared-key, Ni_b | Nr_b) */
		CHECK_INT(keel_ikev1_skeyid_psk(prf, psk, (ptrdiff_t)pl, ni, (ptrdiff_t)nil, nr,
		                                (ptrdiff_t)nrl, &s),
		          0);
		CHECK_MEM(keel_secret_data(s), keel_secret_len(s), skeyid, sl);
		if (s && tv_str(f, "g^xy")) {
			check_ikev1_dae(f, prf, s);
			full++;
		}
		keel_secret_free(s);
		free(ni);
		free(nr);
		free(psk);
		free(skeyid);
		count++;
	}
	CHECK_INT(count, 4);
	CHECK_INT(full, 1);
	tv_close(f);
}

/* ---- NSS cross-check vectors ---- */

static void test_nss_expand(void)
{
	struct tv_file *f = tv_open("nss/ike-expand.txt");
	int count = 0;

	while (tv_next(f)) {
		const char *type = tv_str(f, "Type");
		size_t kl, ol;
		uint8_t *key = tv_hex(f, "Key", &kl), *want = tv_hex(f, "Out", &ol);
		uint8_t *out = malloc(ol + 1);

		if (strcmp(type, "AppendixB") == 0) {
			struct keel_secret *e = keel_secret_new_from(key, (ptrdiff_t)kl), *x = NULL;
			enum keel_prf_alg prf = prf_by_hash(tv_str(f, "Hash"));
			CHECK_INT(atoi(tv_str(f, "Len")), ol);
			CHECK_INT(keel_ikev1_encr_key_expand(prf, e, (ptrdiff_t)ol, &x), 0);
			CHECK_MEM(keel_secret_data(x), keel_secret_len(x), want, ol);
			keel_secret_free(x);
			keel_secret_free(e);
		} else if (strcmp(type, "KeymatExpand") == 0) {
			size_t sl;
			uint8_t *seed = tv_hex(f, "Seed", &sl);
			struct keel_iov in = {seed, (ptrdiff_t)sl};
			enum keel_prf_alg prf = prf_by_hash(tv_str(f, "Hash"));
			CHECK_INT(keel_ikev1_keymat_expand(prf, key, (ptrdiff_t)kl, &in, 1, out,
			                                   (ptrdiff_t)ol),
			          0);
			CHECK_MEM(out, ol, want, ol);
			free(seed);
		} else if (strcmp(type, "XcbcPrf") == 0) {
			size_t ml;
			uint8_t *msg = tv_hex(f, "Msg", &ml);
			struct keel_iov in = {msg, (ptrdiff_t)ml};
			CHECK_INT(keel_prf(KEEL_PRF_AES128_XCBC, key, (ptrdiff_t)kl, &in, 1, out,
			                   (ptrdiff_t)ol),
			          16);
			CHECK_MEM(out, ol, want, ol);
			/* a record whose key is two 8-byte nonces: IKEv2 SKEYSEED */
			if (kl == 16) {
				struct keel_secret *s = NULL;
				CHECK_INT(keel_ikev2_skeyseed(KEEL_PRF_AES128_XCBC, key, 8, key + 8,
				                              8, msg, (ptrdiff_t)ml, &s),
				          0);
				CHECK_MEM(keel_secret_data(s), keel_secret_len(s), want, ol);
				keel_secret_free(s);
			}
			free(msg);
		} else if (strcmp(type, "XcbcPrfPlus") == 0) {
			size_t ml;
			uint8_t *msg = tv_hex(f, "Msg", &ml);
			struct keel_iov in = {msg, (ptrdiff_t)ml};
			CHECK_INT(keel_prf_plus(KEEL_PRF_AES128_XCBC, key, (ptrdiff_t)kl, &in, 1,
			                        out, (ptrdiff_t)ol),
			          0);
			CHECK_MEM(out, ol, want, ol);
			free(msg);
		} else {
			fprintf(stderr, "%s:%d: unknown Type\n", tv_name(f), tv_line(f));
			CHECK(0);
		}
		count++;
		free(key);
		free(want);
		free(out);
	}
	CHECK_INT(count, 16);
	tv_close(f);
}

/* ---- formulas rebuilt by hand ---- */

/* prf(key, concatenation of the n buffers), computed over one flat buffer. */
static size_t flat_prf(enum keel_prf_alg prf, const struct keel_secret *key,
                       const struct keel_iov *parts, size_t n, uint8_t *out)
{
	size_t total = 0, off = 0;
	for (size_t i = 0; i < n; i++)
		total += (size_t)parts[i].len;
	uint8_t *buf = malloc(total + 1);
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + off, parts[i].data, (size_t)parts[i].len);
		off += (size_t)parts[i].len;
	}
	struct keel_iov in = {buf, (ptrdiff_t)total};
	ptrdiff_t r = keel_prf(prf, keel_secret_data(key), keel_secret_len(key), &in, 1, out,
	                       KEEL_PRF_MAX_OUT_LEN);
	free(buf);
	return r < 0 ? 0 : (size_t)r;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

static void test_ikev1_hashes(void)
{
	static const enum keel_prf_alg prf = KEEL_PRF_HMAC_SHA2_256;
	uint8_t gxi[256], gxr[256], sai[52], idii[12], idir[9], ni[32], nr[24], pl[60];
	uint8_t a[64], b[64];
	static const uint8_t mid[4] = {0x12, 0x34, 0x56, 0x78};
	static const uint8_t zero = 0;
	struct keel_secret *skeyid = keel_secret_new(32), *skeyid_a = keel_secret_new(32);

	fill(gxi, sizeof(gxi), 1);
	fill(gxr, sizeof(gxr), 2);
	fill(sai, sizeof(sai), 3);
	fill(idii, sizeof(idii), 4);
	fill(idir, sizeof(idir), 5);
	fill(ni, sizeof(ni), 6);
	fill(nr, sizeof(nr), 7);
	fill(pl, sizeof(pl), 8);
	fill(keel_secret_mut(skeyid), 32, 9);
	fill(keel_secret_mut(skeyid_a), 32, 10);

	struct keel_ikev1_auth_params p = {
	    .prf = prf,
	    .skeyid = skeyid,
	    .g_xi = gxi,
	    .g_xi_len = sizeof(gxi),
	    .g_xr = gxr,
	    .g_xr_len = sizeof(gxr),
	    .cky_i = {1, 2, 3, 4, 5, 6, 7, 8},
	    .cky_r = {9, 10, 11, 12, 13, 14, 15, 16},
	    .sai_b = sai,
	    .sai_b_len = sizeof(sai),
	};
	/* HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b) */
	struct keel_iov hi[] = {
	    {gxi, sizeof(gxi)}, {gxr, sizeof(gxr)}, {p.cky_i, 8},
	    {p.cky_r, 8},       {sai, sizeof(sai)}, {idii, sizeof(idii)},
	};
	CHECK_INT(keel_ikev1_hash_i(&p, idii, sizeof(idii), a, sizeof(a)), 32);
	CHECK_INT(flat_prf(prf, skeyid, hi, 6, b), 32);
	CHECK_MEM(a, 32, b, 32);
	/* HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b) */
	struct keel_iov hr[] = {
	    {gxr, sizeof(gxr)}, {gxi, sizeof(gxi)}, {p.cky_r, 8},
	    {p.cky_i, 8},       {sai, sizeof(sai)}, {idir, sizeof(idir)},
	};
	CHECK_INT(keel_ikev1_hash_r(&p, idir, sizeof(idir), a, sizeof(a)), 32);
	CHECK_INT(flat_prf(prf, skeyid, hr, 6, b), 32);
	CHECK_MEM(a, 32, b, 32);
	CHECK_INT(keel_ikev1_hash_r(&p, idir, sizeof(idir), a, 31), KEEL_ERR_NOBUF);
	CHECK_INT(keel_ikev1_hash_i(&p, NULL, 0, a, sizeof(a)), KEEL_ERR_INVAL);
	p.prf = KEEL_PRF_AES128_XCBC;
	CHECK_INT(keel_ikev1_hash_i(&p, idii, sizeof(idii), a, sizeof(a)), KEEL_ERR_UNSUPPORTED);
	p.prf = prf;
	p.sai_b_len = 0;
	CHECK_INT(keel_ikev1_hash_i(&p, idii, sizeof(idii), a, sizeof(a)), KEEL_ERR_INVAL);

	/* quick mode HASH(1..3), M-ID in network order */
	struct keel_iov h1[] = {{mid, 4}, {pl, sizeof(pl)}};
	CHECK_INT(keel_ikev1_hash1(prf, skeyid_a, 0x12345678, pl, sizeof(pl), a, sizeof(a)), 32);
	CHECK_INT(flat_prf(prf, skeyid_a, h1, 2, b), 32);
	CHECK_MEM(a, 32, b, 32);
	struct keel_iov h2[] = {{mid, 4}, {ni, sizeof(ni)}, {pl, sizeof(pl)}};
	CHECK_INT(keel_ikev1_hash2(prf, skeyid_a, 0x12345678, ni, sizeof(ni), pl, sizeof(pl), a,
	                           sizeof(a)),
	          32);
	CHECK_INT(flat_prf(prf, skeyid_a, h2, 3, b), 32);
	CHECK_MEM(a, 32, b, 32);
	struct keel_iov h3[] = {{&zero, 1}, {mid, 4}, {ni, sizeof(ni)}, {nr, sizeof(nr)}};
	CHECK_INT(keel_ikev1_hash3(prf, skeyid_a, 0x12345678, ni, sizeof(ni), nr, sizeof(nr), a,
	                           sizeof(a)),
	          32);
	CHECK_INT(flat_prf(prf, skeyid_a, h3, 4, b), 32);
	CHECK_MEM(a, 32, b, 32);
	/* an informational HASH(1) may cover an empty remainder */
	CHECK_INT(keel_ikev1_hash1(prf, skeyid_a, 1, NULL, 0, a, sizeof(a)), 32);
	CHECK_INT(keel_ikev1_hash1(prf, NULL, 1, pl, 4, a, sizeof(a)), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_hash3(prf, skeyid_a, 1, ni, 0, nr, 4, a, sizeof(a)), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_hash2(KEEL_PRF_AES128_CMAC, skeyid_a, 1, ni, 4, pl, 4, a, sizeof(a)),
	          KEEL_ERR_UNSUPPORTED);

	keel_secret_free(skeyid);
	keel_secret_free(skeyid_a);
}

static void sha(const char *name, const uint8_t *a, size_t al, const uint8_t *b, size_t bl,
                uint8_t *out)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
	unsigned int n = 0;
	CHECK(c && md && EVP_DigestInit_ex2(c, md, NULL) && EVP_DigestUpdate(c, a, al) &&
	      EVP_DigestUpdate(c, b, bl) && EVP_DigestFinal_ex(c, out, &n));
	EVP_MD_free(md);
	EVP_MD_CTX_free(c);
}

static void test_ikev1_ivs(void)
{
	uint8_t gxi[128], gxr[128], last[16], iv[16], want[64], h[64];
	static const uint8_t mid[4] = {0xde, 0xad, 0xbe, 0xef};

	fill(gxi, sizeof(gxi), 0x21);
	fill(gxr, sizeof(gxr), 0x42);
	fill(last, sizeof(last), 0x63);
	/* RFC 2409 Appendix B: IV = hash(g^xi | g^xr), cut to the block size */
	sha("SHA1", gxi, sizeof(gxi), gxr, sizeof(gxr), want);
	CHECK_INT(
	    keel_ikev1_iv_phase1(KEEL_PRF_HMAC_SHA1, gxi, sizeof(gxi), gxr, sizeof(gxr), 16, iv),
	    0);
	CHECK_MEM(iv, 16, want, 16);
	CHECK_INT(
	    keel_ikev1_iv_phase1(KEEL_PRF_HMAC_SHA1, gxi, sizeof(gxi), gxr, sizeof(gxr), 8, iv), 0);
	CHECK_MEM(iv, 8, want, 8);
	sha("SHA2-384", gxi, sizeof(gxi), gxr, sizeof(gxr), want);
	CHECK_INT(keel_ikev1_iv_phase1(KEEL_PRF_HMAC_SHA2_384, gxi, sizeof(gxi), gxr, sizeof(gxr),
	                               16, iv),
	          0);
	CHECK_MEM(iv, 16, want, 16);
	/* IV = hash(last phase 1 CBC block | M-ID) */
	sha("SHA2-256", last, sizeof(last), mid, 4, want);
	CHECK_INT(keel_ikev1_iv_phase2(KEEL_PRF_HMAC_SHA2_256, last, 16, 0xdeadbeef, iv), 0);
	CHECK_MEM(iv, 16, want, 16);
	sha("SHA2-512", last, 8, mid, 4, want);
	CHECK_INT(keel_ikev1_iv_phase2(KEEL_PRF_HMAC_SHA2_512, last, 8, 0xdeadbeef, iv), 0);
	CHECK_MEM(iv, 8, want, 8);
	/* the negotiated hash, for NAT-D */
	struct keel_iov in[] = {{gxi, 5}, {gxr, 7}};
	sha("SHA2-256", gxi, 5, gxr, 7, want);
	CHECK_INT(keel_ikev1_hash(KEEL_PRF_HMAC_SHA2_256, in, 2, h, sizeof(h)), 32);
	CHECK_MEM(h, 32, want, 32);
	CHECK_INT(keel_ikev1_hash(KEEL_PRF_HMAC_SHA2_256, in, 2, h, 31), KEEL_ERR_NOBUF);
	CHECK_INT(keel_ikev1_hash(KEEL_PRF_AES128_XCBC, in, 2, h, sizeof(h)), KEEL_ERR_UNSUPPORTED);

	CHECK_INT(keel_ikev1_iv_phase1(KEEL_PRF_HMAC_SHA1, gxi, 0, gxr, 4, 16, iv), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_iv_phase1(KEEL_PRF_HMAC_SHA1, gxi, 4, gxr, 4, 0, iv), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_iv_phase1(KEEL_PRF_HMAC_SHA1, gxi, 4, gxr, 4, 21, iv), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_iv_phase1(KEEL_PRF_AES128_XCBC, gxi, 4, gxr, 4, 16, iv),
	          KEEL_ERR_UNSUPPORTED);
	CHECK_INT(keel_ikev1_iv_phase2(KEEL_PRF_HMAC_SHA1, last, 0, 1, iv), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_iv_phase2(KEEL_PRF_HMAC_SHA1, NULL, 16, 1, iv), KEEL_ERR_INVAL);
}

static void test_ikev1_pke_and_qm(void)
{
	static const enum keel_prf_alg prf = KEEL_PRF_HMAC_SHA1;
	uint8_t ni[16], nr[20], cky_i[8], cky_r[8], g[96], want[64], out[200];
	static const uint8_t spi[4] = {0xc0, 0x01, 0xd0, 0x0d}, proto = 3;
	struct keel_secret *s = NULL, *skeyid_d = keel_secret_new(20);

	fill(ni, sizeof(ni), 0x11);
	fill(nr, sizeof(nr), 0x22);
	fill(cky_i, 8, 0x33);
	fill(cky_r, 8, 0x44);
	fill(g, sizeof(g), 0x55);
	fill(keel_secret_mut(skeyid_d), 20, 0x66);

	/* SKEYID = prf(hash(Ni_b | Nr_b), CKY-I | CKY-R) */
	uint8_t hk[20];
	sha("SHA1", ni, sizeof(ni), nr, sizeof(nr), hk);
	struct keel_secret *hks = keel_secret_new_from(hk, 20);
	struct keel_iov ck[] = {{cky_i, 8}, {cky_r, 8}};
	CHECK_INT(flat_prf(prf, hks, ck, 2, want), 20);
	CHECK_INT(keel_ikev1_skeyid_pke(prf, ni, sizeof(ni), nr, sizeof(nr), cky_i, cky_r, &s), 0);
	CHECK_MEM(keel_secret_data(s), keel_secret_len(s), want, 20);
	keel_secret_free(s);
	keel_secret_free(hks);

	/* KEYMAT, with and without PFS, 1 and 3 blocks */
	for (int pfs = 0; pfs < 2; pfs++) {
		struct keel_ikev1_qm_params q = {
		    .prf = prf,
		    .skeyid_d = skeyid_d,
		    .g_qm = pfs ? g : NULL,
		    .g_qm_len = pfs ? (ptrdiff_t)sizeof(g) : 0,
		    .protocol = proto,
		    .spi = spi,
		    .spi_len = 4,
		    .nonce_i = ni,
		    .nonce_i_len = sizeof(ni),
		    .nonce_r = nr,
		    .nonce_r_len = sizeof(nr),
		};
		/* K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b) */
		struct keel_iov k1[] = {
		    {g, pfs ? (ptrdiff_t)sizeof(g) : 0},
		    {&proto, 1},
		    {spi, 4},
		    {ni, sizeof(ni)},
		    {nr, sizeof(nr)},
		};
		CHECK_INT(flat_prf(prf, skeyid_d, k1, 5, want), 20);
		/* K2 = prf(SKEYID_d, K1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b) */
		struct keel_iov k2[] = {
		    {want, 20}, k1[0], k1[1], k1[2], k1[3], k1[4],
		};
		CHECK_INT(flat_prf(prf, skeyid_d, k2, 6, want + 20), 20);
		struct keel_secret *km = NULL, *e = NULL, *a = NULL;
		CHECK_INT(keel_ikev1_qm_keymat(&q, 36, &km), 0);
		CHECK_MEM(keel_secret_data(km), keel_secret_len(km), want, 36);
		keel_secret_free(km);
		/* AES-128 then HMAC-SHA1: encryption key first */
		CHECK_INT(keel_ikev1_qm_keys(&q, 16, 20, &e, &a), 0);
		CHECK_MEM(keel_secret_data(e), keel_secret_len(e), want, 16);
		CHECK_MEM(keel_secret_data(a), keel_secret_len(a), want + 16, 20);
		keel_secret_free(e);
		keel_secret_free(a);
		e = a = SENTINEL;
		CHECK_INT(keel_ikev1_qm_keys(&q, 20, 0, &e, &a), 0);
		CHECK(a == NULL);
		CHECK_MEM(keel_secret_data(e), keel_secret_len(e), want, 20);
		keel_secret_free(e);
		/* 255 blocks is the most; one more byte is refused */
		CHECK_INT(keel_ikev1_qm_keymat(&q, 255 * 20, &km), 0);
		keel_secret_free(km);
		km = SENTINEL;
		CHECK_INT(keel_ikev1_qm_keymat(&q, 255 * 20 + 1, &km), KEEL_ERR_INVAL);
		CHECK_INT(keel_ikev1_qm_keymat(&q, 0, &km), KEEL_ERR_INVAL);
		CHECK(km == SENTINEL);
		q.spi_len = 0;
		CHECK_INT(keel_ikev1_qm_keymat(&q, 16, &km), KEEL_ERR_INVAL);
		q.spi_len = 4;
		q.nonce_r_len = 0;
		CHECK_INT(keel_ikev1_qm_keymat(&q, 16, &km), KEEL_ERR_INVAL);
		q.nonce_r_len = sizeof(nr);
		q.prf = KEEL_PRF_AES128_XCBC;
		CHECK_INT(keel_ikev1_qm_keymat(&q, 16, &km), KEEL_ERR_UNSUPPORTED);
		CHECK(km == SENTINEL);
	}
	CHECK_INT(keel_ikev1_keymat_expand(prf, keel_secret_data(skeyid_d), 20, NULL, 0, out,
	                                   sizeof(out)),
	          0);
	keel_secret_free(skeyid_d);
}

/* ---- prf+ limits and the IKEv2 rules ---- */

static void test_prf_plus_limits(void)
{
	static const uint8_t key[16] = {7}, s[5] = {1, 2, 3, 4, 5};
	struct keel_iov seed = {s, 5};
	static const enum keel_prf_alg algs[] = {KEEL_PRF_HMAC_SHA1, KEEL_PRF_HMAC_SHA2_512,
	                                         KEEL_PRF_AES128_XCBC, KEEL_PRF_AES128_CMAC};

	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		ptrdiff_t n = keel_prf_out_len(algs[i]);
		ptrdiff_t max = 255 * n;
		uint8_t *full = malloc((size_t)max + 1), *part = malloc((size_t)max + 1);
		uint8_t t[KEEL_PRF_MAX_OUT_LEN];
		CHECK_INT(keel_prf_plus_max_len(algs[i]), max);
		/* RFC 7296 §2.13: 255 blocks are allowed, the 256th is not */
		CHECK_INT(keel_prf_plus(algs[i], key, 16, &seed, 1, full, max), 0);
		memset(part, 0xee, (size_t)max + 1);
		CHECK_INT(keel_prf_plus(algs[i], key, 16, &seed, 1, part, max + 1), KEEL_ERR_INVAL);
		CHECK_INT(keel_prf_plus(algs[i], key, 16, &seed, 1, part, -1), KEEL_ERR_INVAL);
		/* a prefix of a longer run is the shorter run */
		CHECK_INT(keel_prf_plus(algs[i], key, 16, &seed, 1, part, 3 * n + 1), 0);
		CHECK_MEM(part, (size_t)(3 * n + 1), full, (size_t)(3 * n + 1));
		/* T255 = prf(K, T254 | S | 0xff), by hand */
		uint8_t ff = 0xff;
		struct keel_iov last[] = {{full + 253 * n, n}, seed, {&ff, 1}};
		CHECK_INT(keel_prf(algs[i], key, 16, last, 3, t, sizeof(t)), n);
		CHECK_MEM(full + 254 * n, (size_t)n, t, (size_t)n);
		/* T1 = prf(K, S | 0x01) */
		uint8_t one = 1;
		struct keel_iov first[] = {seed, {&one, 1}};
		CHECK_INT(keel_prf(algs[i], key, 16, first, 2, t, sizeof(t)), n);
		CHECK_MEM(full, (size_t)n, t, (size_t)n);
		free(full);
		free(part);
	}
	uint8_t out[64];
	struct keel_iov many[KEEL_KDF_MAX_IOV + 1];
	for (size_t i = 0; i <= KEEL_KDF_MAX_IOV; i++)
		many[i] = seed;
	CHECK_INT(keel_prf_plus(KEEL_PRF_HMAC_SHA1, key, 16, many, KEEL_KDF_MAX_IOV, out, 64), 0);
	CHECK_INT(keel_prf_plus(KEEL_PRF_HMAC_SHA1, key, 16, many, KEEL_KDF_MAX_IOV + 1, out, 64),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_prf_plus(KEEL_PRF_HMAC_SHA1, key, 16, &seed, 1, out, 0), 0);
	CHECK_INT(keel_prf_plus(KEEL_PRF_HMAC_SHA1, NULL, 16, &seed, 1, out, 20), KEEL_ERR_INVAL);
	CHECK_INT(keel_prf_plus(KEEL_PRF_HMAC_SHA1, key, 0, &seed, 1, out, 20), KEEL_ERR_INVAL);
	CHECK_INT(keel_prf_plus(KEEL_PRF_HMAC_SHA1, key, 16, NULL, 1, out, 20), KEEL_ERR_INVAL);
	CHECK_INT(keel_prf_plus(KEEL_PRF_HMAC_SHA1, key, 16, &seed, 1, NULL, 20), KEEL_ERR_INVAL);
	CHECK_INT(keel_prf_plus((enum keel_prf_alg)0, key, 16, &seed, 1, out, 20), KEEL_ERR_INVAL);
	/* an empty seed is a valid input */
	CHECK_INT(keel_prf_plus(KEEL_PRF_HMAC_SHA1, key, 16, NULL, 0, out, 20), 0);
}

static void test_ikev2_rules(void)
{
	uint8_t ni[32], nr[32], g[64], key[16], want[16];
	struct keel_secret *s = NULL, *t = NULL;

	fill(ni, sizeof(ni), 0x10);
	fill(nr, sizeof(nr), 0x90);
	fill(g, sizeof(g), 0x30);
	/* RFC 7296 §2.14: XCBC/CMAC key SKEYSEED with the first 64 bits of each nonce */
	for (int cmac = 0; cmac < 2; cmac++) {
		enum keel_prf_alg prf = cmac ? KEEL_PRF_AES128_CMAC : KEEL_PRF_AES128_XCBC;
		struct keel_iov in = {g, sizeof(g)};
		memcpy(key, ni, 8);
		memcpy(key + 8, nr, 8);
		CHECK_INT(keel_prf(prf, key, 16, &in, 1, want, sizeof(want)), 16);
		CHECK_INT(
		    keel_ikev2_skeyseed(prf, ni, sizeof(ni), nr, sizeof(nr), g, sizeof(g), &s), 0);
		CHECK_MEM(keel_secret_data(s), keel_secret_len(s), want, 16);
		keel_secret_free(s);
		s = SENTINEL;
		CHECK_INT(keel_ikev2_skeyseed(prf, ni, 7, nr, sizeof(nr), g, sizeof(g), &s),
		          KEEL_ERR_INVAL);
		CHECK_INT(keel_ikev2_skeyseed(prf, ni, 8, nr, 7, g, sizeof(g), &s), KEEL_ERR_INVAL);
		CHECK(s == SENTINEL);
		/* ...but all of each nonce goes into prf+ */
		struct keel_ikev2_ike_params p = {
		    .prf = prf,
		    .integ = KEEL_INTEG_AES_XCBC_96,
		    .encr_key_len = 16,
		    .nonce_i = ni,
		    .nonce_i_len = sizeof(ni),
		    .nonce_r = nr,
		    .nonce_r_len = sizeof(nr),
		    .g_ir = g,
		    .g_ir_len = sizeof(g),
		    .spi_i = {1, 1, 1, 1, 1, 1, 1, 1},
		    .spi_r = {2, 2, 2, 2, 2, 2, 2, 2},
		};
		struct keel_ikev2_ike_keys k = {0};
		uint8_t km[16 * 7];
		struct keel_iov seed[] = {
		    {ni, sizeof(ni)},
		    {nr, sizeof(nr)},
		    {p.spi_i, 8},
		    {p.spi_r, 8},
		};
		CHECK_INT(keel_prf_plus(prf, want, 16, seed, 4, km, sizeof(km)), 0);
		CHECK_INT(keel_ikev2_derive_ike(&p, &k), 0);
		size_t off = 0;
		check_part(k.sk_d, 16, km, sizeof(km), &off);
		check_part(k.sk_ai, 16, km, sizeof(km), &off);
		check_part(k.sk_ar, 16, km, sizeof(km), &off);
		check_part(k.sk_ei, 16, km, sizeof(km), &off);
		check_part(k.sk_er, 16, km, sizeof(km), &off);
		check_part(k.sk_pi, 16, km, sizeof(km), &off);
		check_part(k.sk_pr, 16, km, sizeof(km), &off);
		keel_ikev2_ike_keys_clear(&k);
	}
	/* HMAC PRFs key SKEYSEED with all of Ni | Nr */
	{
		uint8_t nn[64], w[32];
		struct keel_iov in = {g, sizeof(g)};
		memcpy(nn, ni, 32);
		memcpy(nn + 32, nr, 32);
		CHECK_INT(keel_prf(KEEL_PRF_HMAC_SHA2_256, nn, 64, &in, 1, w, sizeof(w)), 32);
		CHECK_INT(
		    keel_ikev2_skeyseed(KEEL_PRF_HMAC_SHA2_256, ni, 32, nr, 32, g, sizeof(g), &s),
		    0);
		CHECK_MEM(keel_secret_data(s), keel_secret_len(s), w, 32);
	}
	/* rekey: the old SA's PRF makes SKEYSEED, the new one expands it (§2.18) */
	{
		struct keel_ikev2_ike_params p = {
		    .prf = KEEL_PRF_HMAC_SHA2_512,
		    .integ = KEEL_INTEG_NONE,
		    .encr_key_len = 36,
		    .nonce_i = ni,
		    .nonce_i_len = sizeof(ni),
		    .nonce_r = nr,
		    .nonce_r_len = sizeof(nr),
		    .g_ir = g,
		    .g_ir_len = sizeof(g),
		};
		struct keel_ikev2_ike_keys k = {0}, k2 = {0};
		CHECK_INT(keel_ikev2_skeyseed_rekey(KEEL_PRF_HMAC_SHA1, s, g, sizeof(g), ni,
		                                    sizeof(ni), nr, sizeof(nr), &t),
		          0);
		CHECK_INT(keel_secret_len(t), 20);
		CHECK_INT(keel_ikev2_derive_ike_rekey(&p, KEEL_PRF_HMAC_SHA1, s, &k), 0);
		CHECK(keel_secret_equal(k.skeyseed, t));
		CHECK_INT(keel_secret_len(k.sk_d), 64);
		CHECK_INT(keel_secret_len(k.sk_ei), 36);
		CHECK(k.sk_ai == NULL && k.sk_ar == NULL);
		CHECK_INT(keel_ikev2_expand_ike(&p, t, &k2), 0);
		CHECK(keel_secret_equal(k.sk_d, k2.sk_d));
		CHECK(keel_secret_equal(k.sk_pr, k2.sk_pr));
		CHECK(!keel_secret_equal(k.sk_pi, k.sk_pr));
		CHECK(!keel_secret_equal(k.sk_ei, k.sk_er));
		keel_ikev2_ike_keys_clear(&k);
		keel_ikev2_ike_keys_clear(&k2);
		keel_ikev2_ike_keys_clear(NULL);
	}
	keel_secret_free(s);
	keel_secret_free(t);
}

static void test_ikev2_errors(void)
{
	uint8_t ni[16] = {1}, nr[16] = {2}, g[32] = {3};
	struct keel_secret *s = SENTINEL, *skd = keel_secret_new(32);
	struct keel_ikev2_ike_params p = {
	    .prf = KEEL_PRF_HMAC_SHA2_256,
	    .integ = KEEL_INTEG_HMAC_SHA2_256_128,
	    .encr_key_len = 32,
	    .nonce_i = ni,
	    .nonce_i_len = sizeof(ni),
	    .nonce_r = nr,
	    .nonce_r_len = sizeof(nr),
	    .g_ir = g,
	    .g_ir_len = sizeof(g),
	};
	struct keel_ikev2_ike_keys k = {0};
	struct keel_child_keys ck = {0};

	/* zero-length and missing inputs */
	CHECK_INT(keel_ikev2_skeyseed(p.prf, ni, 0, nr, 16, g, 32, &s), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev2_skeyseed(p.prf, ni, 16, NULL, 16, g, 32, &s), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev2_skeyseed(p.prf, ni, 16, nr, 16, g, 0, &s), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev2_skeyseed(p.prf, ni, 16, nr, 16, g, 32, NULL), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev2_skeyseed((enum keel_prf_alg)1, ni, 16, nr, 16, g, 32, &s),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev2_skeyseed_rekey(p.prf, NULL, g, 32, ni, 16, nr, 16, &s),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev2_skeyseed_rekey(p.prf, skd, g, 0, ni, 16, nr, 16, &s), KEEL_ERR_INVAL);
	CHECK(s == SENTINEL);

	p.encr_key_len = 0;
	CHECK_INT(keel_ikev2_derive_ike(&p, &k), KEEL_ERR_INVAL);
	p.encr_key_len = -4;
	CHECK_INT(keel_ikev2_derive_ike(&p, &k), KEEL_ERR_INVAL);
	/* more than prf+ can give: 255 * 16 bytes with XCBC */
	p.prf = KEEL_PRF_AES128_XCBC;
	p.encr_key_len = 2000;
	CHECK_INT(keel_ikev2_derive_ike(&p, &k), KEEL_ERR_INVAL);
	p.encr_key_len = 1900; /* 3 * 16 + 2 * 16 + 2 * 1900 = 3880 <= 4080 */
	CHECK_INT(keel_ikev2_derive_ike(&p, &k), 0);
	keel_ikev2_ike_keys_clear(&k);
	p.prf = KEEL_PRF_HMAC_SHA2_256;
	p.encr_key_len = 32;
	p.integ = (enum keel_integ_alg)99;
	CHECK_INT(keel_ikev2_derive_ike(&p, &k), KEEL_ERR_INVAL);
	p.integ = KEEL_INTEG_NONE;
	p.nonce_r_len = 0;
	CHECK_INT(keel_ikev2_derive_ike(&p, &k), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev2_expand_ike(&p, skd, &k), KEEL_ERR_INVAL);
	p.nonce_r_len = sizeof(nr);
	CHECK_INT(keel_ikev2_expand_ike(&p, NULL, &k), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev2_derive_ike(NULL, &k), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev2_derive_ike_rekey(&p, p.prf, NULL, &k), KEEL_ERR_INVAL);
	CHECK(k.skeyseed == NULL && k.sk_d == NULL); /* untouched */

	struct keel_ikev2_child_params cp = {
	    .prf = KEEL_PRF_HMAC_SHA2_256,
	    .integ = KEEL_INTEG_NONE,
	    .encr_key_len = 0,
	    .nonce_i = ni,
	    .nonce_i_len = sizeof(ni),
	    .nonce_r = nr,
	    .nonce_r_len = sizeof(nr),
	};
	CHECK_INT(keel_ikev2_derive_child(&cp, skd, &ck), KEEL_ERR_INVAL); /* nothing to derive */
	cp.encr_key_len = 20;
	cp.g_ir_len = 5; /* length without data */
	CHECK_INT(keel_ikev2_derive_child(&cp, skd, &ck), KEEL_ERR_INVAL);
	cp.g_ir = g;
	cp.g_ir_len = -1;
	CHECK_INT(keel_ikev2_derive_child(&cp, skd, &ck), KEEL_ERR_INVAL);
	cp.g_ir_len = 0;
	cp.nonce_i_len = 0;
	CHECK_INT(keel_ikev2_derive_child(&cp, skd, &ck), KEEL_ERR_INVAL);
	cp.nonce_i_len = sizeof(ni);
	CHECK_INT(keel_ikev2_derive_child(&cp, NULL, &ck), KEEL_ERR_INVAL);
	cp.encr_key_len = 4081; /* 2 * 4081 > 255 * 32 */
	CHECK_INT(keel_ikev2_derive_child(&cp, skd, &ck), KEEL_ERR_INVAL);
	cp.encr_key_len = 4080;
	CHECK_INT(keel_ikev2_derive_child(&cp, skd, &ck), 0);
	CHECK_INT(keel_secret_len(ck.encr_r), 4080);
	keel_child_keys_clear(&ck);
	CHECK(ck.encr_i == NULL);
	/* NULL encryption with integrity only is a valid (if unwise) child SA */
	cp.encr_key_len = 0;
	cp.integ = KEEL_INTEG_HMAC_SHA2_256_128;
	CHECK_INT(keel_ikev2_derive_child(&cp, skd, &ck), 0);
	CHECK(ck.encr_i == NULL && ck.encr_r == NULL);
	CHECK_INT(keel_secret_len(ck.integ_i), 32);
	CHECK(!keel_secret_equal(ck.integ_i, ck.integ_r));
	keel_child_keys_clear(&ck);
	keel_child_keys_clear(NULL);
	keel_secret_free(skd);
}

static void test_ikev1_errors(void)
{
	uint8_t ni[8] = {1}, nr[8] = {2}, g[32] = {3}, c[8] = {4};
	struct keel_secret *s = SENTINEL, *skeyid = keel_secret_new_from(g, 20);
	struct keel_ikev1_keys k = {0};

	CHECK_INT(keel_ikev1_skeyid_psk(KEEL_PRF_HMAC_SHA1, g, 0, ni, 8, nr, 8, &s),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_skeyid_psk(KEEL_PRF_HMAC_SHA1, g, 4, ni, 0, nr, 8, &s),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_skeyid_psk(KEEL_PRF_AES128_XCBC, g, 4, ni, 8, nr, 8, &s),
	          KEEL_ERR_UNSUPPORTED);
	CHECK_INT(keel_ikev1_skeyid_sig(KEEL_PRF_HMAC_SHA1, ni, 8, nr, 8, g, 0, &s),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_skeyid_sig(KEEL_PRF_AES128_CMAC, ni, 8, nr, 8, g, 32, &s),
	          KEEL_ERR_UNSUPPORTED);
	CHECK_INT(keel_ikev1_skeyid_pke(KEEL_PRF_HMAC_SHA1, ni, 8, nr, 8, NULL, c, &s),
	          KEEL_ERR_INVAL);
	CHECK(s == SENTINEL);

	CHECK_INT(keel_ikev1_derive(KEEL_PRF_HMAC_SHA1, skeyid, g, 0, c, c, 16, &k),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_derive(KEEL_PRF_HMAC_SHA1, NULL, g, 32, c, c, 16, &k), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_derive(KEEL_PRF_HMAC_SHA1, skeyid, g, 32, c, c, -1, &k),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_derive(KEEL_PRF_HMAC_SHA1, skeyid, g, 32, c, c, 255 * 20 + 1, &k),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_derive(KEEL_PRF_AES128_XCBC, skeyid, g, 32, c, c, 16, &k),
	          KEEL_ERR_UNSUPPORTED);
	CHECK(k.skeyid == NULL && k.skeyid_d == NULL && k.encr_key == NULL);

	CHECK_INT(keel_ikev1_encr_key_expand(KEEL_PRF_HMAC_SHA1, skeyid, 0, &s), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_encr_key_expand(KEEL_PRF_HMAC_SHA1, NULL, 16, &s), KEEL_ERR_INVAL);
	CHECK_INT(keel_ikev1_encr_key_expand(KEEL_PRF_AES128_XCBC, skeyid, 16, &s),
	          KEEL_ERR_UNSUPPORTED);
	CHECK(s == SENTINEL);
	CHECK_INT(keel_ikev1_encr_key_expand(KEEL_PRF_HMAC_SHA1, skeyid, 255 * 20, &s), 0);
	keel_secret_free(s);
	keel_ikev1_keys_clear(NULL);
	keel_secret_free(skeyid);
}

int main(void)
{
	test_nist_ikev2();
	test_nist_ikev1();
	test_nss_expand();
	test_ikev1_hashes();
	test_ikev1_ivs();
	test_ikev1_pke_and_qm();
	test_prf_plus_limits();
	test_ikev2_rules();
	test_ikev2_errors();
	test_ikev1_errors();
	return check_done();
}
