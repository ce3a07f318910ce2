/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of crypto/dh: the RFC 5903 §8 ECP vectors, the RFC 7748 §5.2 and
 * §6.1/§6.2 X25519/X448 vectors, MODP agreement checked against an
 * independent computation over the RFC 3526 primes, and the peer-value
 * rejections of RFC 6989 and RFC 8031 §3.2.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>

#include <keel/err.h>
#include <keel/secret.h>

#include "crypto/dh.h"

#include "check.h"
#include "tv.h"

/* ---- seeded randomness (splitmix64), as a struct keel_env ---- */

struct rng {
	uint64_t state;
};

static int rng_fill(void *ctx, uint8_t *buf, size_t len)
{
	struct rng *r = ctx;
	for (size_t i = 0; i < len; i++) {
		uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		buf[i] = (uint8_t)(z ^ (z >> 31));
	}
	return 0;
}

static int rng_fail(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return KEEL_ERR_CRYPTO;
}

static int rng_zero(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	memset(buf, 0, len);
	return 0;
}

static const uint16_t all_groups[] = {14, 15, 16, 17, 18, 19, 20, 21, 31, 32};

static struct keel_dh *new_seeded(uint16_t group, uint64_t seed)
{
	struct rng r = {seed};
	struct keel_env env = {rng_fill, &r};
	struct keel_dh *dh = NULL;
	int rc = keel_dh_new(group, &env, &dh);
	CHECK_INT(rc, 0);
	return rc == 0 ? dh : NULL;
}

static struct keel_dh *new_private(uint16_t group, const uint8_t *priv, size_t len)
{
	struct keel_dh *dh = NULL;
	int rc = keel_dh_new_private(group, priv, len, &dh);
	CHECK_INT(rc, 0);
	return rc == 0 ? dh : NULL;
}

/* Our public value as a malloc'd buffer of keel_dh_public_len() bytes. */
static uint8_t *public_of(const struct keel_dh *dh, size_t *len)
{
	uint8_t *buf = malloc(KEEL_DH_PUBLIC_MAX_LEN);
	if (!buf)
		abort();
	ptrdiff_t n = keel_dh_public(dh, buf, KEEL_DH_PUBLIC_MAX_LEN);
	CHECK_INT(n, keel_dh_public_len(keel_dh_group(dh)));
	*len = n > 0 ? (size_t)n : 0;
	return buf;
}

/* Expects keel_dh_compute() to reject peer with rc, leaving *out alone. */
static void expect_reject(const struct keel_dh *dh, const uint8_t *peer, size_t len, int rc)
{
	struct keel_secret *s = NULL;
	CHECK_INT(keel_dh_compute(dh, peer, len, &s), rc);
	CHECK(s == NULL);
	keel_secret_free(s);
}

/* Computes with peer and compares with want (want_len bytes). */
static void expect_secret(const struct keel_dh *dh, const uint8_t *peer, size_t len,
                          const uint8_t *want, size_t want_len)
{
	struct keel_secret *s = NULL;
	CHECK_INT(keel_dh_compute(dh, peer, len, &s), 0);
	if (!s)
		return;
	CHECK_INT(keel_secret_len(s), keel_dh_secret_len(keel_dh_group(dh)));
	CHECK_MEM(keel_secret_data(s), (size_t)keel_secret_len(s), want, want_len);
	keel_secret_free(s);
}

static void test_registry(void)
{
	static const struct {
		uint16_t group;
		ptrdiff_t public_len, secret_len;
	} known[] = {
	    {14, 256, 256}, {15, 384, 384}, {16, 512, 512}, {17, 768, 768}, {18, 1024, 1024},
	    {19, 64, 32},   {20, 96, 48},   {21, 132, 66},  {31, 32, 32},   {32, 56, 56},
	};
	static const uint16_t unknown[] = {0,  1,  2,  5,  22, 23, 24,    25,
	                                   26, 27, 28, 29, 30, 33, 0xffff};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		CHECK(keel_dh_supported(known[i].group));
		CHECK_INT(keel_dh_public_len(known[i].group), known[i].public_len);
		CHECK_INT(keel_dh_secret_len(known[i].group), known[i].secret_len);
		CHECK(known[i].public_len <= KEEL_DH_PUBLIC_MAX_LEN);
	}
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		struct keel_dh *dh = NULL;
		struct rng r = {1};
		struct keel_env env = {rng_fill, &r};
		uint8_t priv[32] = {1};
		CHECK(!keel_dh_supported(unknown[i]));
		CHECK_INT(keel_dh_public_len(unknown[i]), KEEL_ERR_UNSUPPORTED);
		CHECK_INT(keel_dh_secret_len(unknown[i]), KEEL_ERR_UNSUPPORTED);
		CHECK_INT(keel_dh_new(unknown[i], &env, &dh), KEEL_ERR_UNSUPPORTED);
		CHECK_INT(keel_dh_new_private(unknown[i], priv, sizeof(priv), &dh),
		          KEEL_ERR_UNSUPPORTED);
		CHECK(dh == NULL);
	}
}

/* RFC 5903 §8: both sides of each exchange, then malformed peer values. */
static void test_ecp_vectors(void)
{
	struct tv_file *f = tv_open("rfc5903/ecp.txt");
	int records = 0;
	while (tv_next(f)) {
		uint16_t group = (uint16_t)atoi(tv_str(f, "Group"));
		size_t i_len, gi_len, r_len, gr_len, girx_len, pub_len;
		uint8_t *i = tv_hex(f, "I", &i_len);
		uint8_t *gi = tv_hex(f, "GI", &gi_len);
		uint8_t *r = tv_hex(f, "R", &r_len);
		uint8_t *gr = tv_hex(f, "GR", &gr_len);
		uint8_t *girx = tv_hex(f, "GIRX", &girx_len);
		records++;

		struct keel_dh *dh_i = new_private(group, i, i_len);
		struct keel_dh *dh_r = new_private(group, r, r_len);
		if (!dh_i || !dh_r)
			goto next;
		CHECK_INT(keel_dh_group(dh_i), group);
		uint8_t *pub = public_of(dh_i, &pub_len);
		CHECK_MEM(pub, pub_len, gi, gi_len);
		free(pub);
		pub = public_of(dh_r, &pub_len);
		CHECK_MEM(pub, pub_len, gr, gr_len);
		free(pub);
		expect_secret(dh_i, gr, gr_len, girx, girx_len);
		expect_secret(dh_r, gi, gi_len, girx, girx_len);
		/* computing twice with the same key gives the same value */
		expect_secret(dh_i, gr, gr_len, girx, girx_len);

		/* RFC 6989 §2: a point off the curve */
		uint8_t bad[1 + KEEL_DH_PUBLIC_MAX_LEN];
		memcpy(bad, gr, gr_len);
		bad[gr_len - 1] ^= 0x01;
		expect_reject(dh_i, bad, gr_len, KEEL_ERR_MALFORMED);
		memcpy(bad, gr, gr_len);
		bad[3] ^= 0x40;
		expect_reject(dh_i, bad, gr_len, KEEL_ERR_MALFORMED);
		/* (0, 0): what some encoders write for the point at infinity */
		memset(bad, 0, gr_len);
		expect_reject(dh_i, bad, gr_len, KEEL_ERR_MALFORMED);
		/* coordinates >= p */
		memset(bad, 0xff, gr_len);
		expect_reject(dh_i, bad, gr_len, KEEL_ERR_MALFORMED);
		/* wrong lengths, including the SEC1 form with its 0x04 prefix */
		expect_reject(dh_i, gr, gr_len - 1, KEEL_ERR_MALFORMED);
		memcpy(bad, gr, gr_len);
		bad[gr_len] = 0;
		expect_reject(dh_i, bad, gr_len + 1, KEEL_ERR_MALFORMED);
		bad[0] = 0x04;
		memcpy(bad + 1, gr, gr_len);
		expect_reject(dh_i, bad, gr_len + 1, KEEL_ERR_MALFORMED);
		expect_reject(dh_i, gr, 0, KEEL_ERR_MALFORMED);
		expect_reject(dh_i, NULL, gr_len, KEEL_ERR_MALFORMED);

		/* private scalars: 0 and values >= n are refused, as are wrong lengths */
		struct keel_dh *none = NULL;
		uint8_t scalar[66];
		memset(scalar, 0, sizeof(scalar));
		CHECK_INT(keel_dh_new_private(group, scalar, i_len, &none), KEEL_ERR_INVAL);
		memset(scalar, 0xff, sizeof(scalar));
		CHECK_INT(keel_dh_new_private(group, scalar, i_len, &none), KEEL_ERR_INVAL);
		CHECK_INT(keel_dh_new_private(group, i, i_len - 1, &none), KEEL_ERR_INVAL);
		CHECK(none == NULL);
	next:
		keel_dh_free(dh_i);
		keel_dh_free(dh_r);
		free(i);
		free(gi);
		free(r);
		free(gr);
		free(girx);
	}
	CHECK_INT(records, 3);
	tv_close(f);

	/* P-256 (FIPS 186-4 D.1.2.3): n is refused, n-1 accepted */
	size_t n_len;
	uint8_t *n =
	    hex_decode("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", &n_len);
	struct keel_dh *dh = NULL;
	CHECK_INT(keel_dh_new_private(KEEL_DH_ECP_256, n, n_len, &dh), KEEL_ERR_INVAL);
	n[n_len - 1]--;
	CHECK_INT(keel_dh_new_private(KEEL_DH_ECP_256, n, n_len, &dh), 0);
	keel_dh_free(dh);
	free(n);
}

/* X(k, u) through the API: k as our private key, u as the peer's value. */
static struct keel_secret *xdh(uint16_t group, const uint8_t *k, const uint8_t *u, size_t len)
{
	struct keel_secret *s = NULL;
	struct keel_dh *dh = new_private(group, k, len);
	if (dh)
		CHECK_INT(keel_dh_compute(dh, u, len, &s), 0);
	keel_dh_free(dh);
	return s;
}

static void test_xdh_vectors(void)
{
	struct tv_file *f = tv_open("rfc7748/x25519-x448.txt");
	int records = 0;
	while (tv_next(f)) {
		const char *section = tv_section(f);
		uint16_t group = (uint16_t)atoi(tv_str(f, "Group"));
		size_t len = (size_t)keel_dh_public_len(group);
		records++;
		if (strcmp(section, "function") == 0) {
			size_t k_len, u_len, out_len;
			uint8_t *k = tv_hex(f, "Scalar", &k_len);
			uint8_t *u = tv_hex(f, "U", &u_len);
			uint8_t *out = tv_hex(f, "Out", &out_len);
			CHECK_INT(k_len, len);
			struct keel_secret *s = xdh(group, k, u, u_len);
			if (s)
				CHECK_MEM(keel_secret_data(s), (size_t)keel_secret_len(s), out,
				          out_len);
			keel_secret_free(s);
			free(k);
			free(u);
			free(out);
		} else if (strcmp(section, "iterate") == 0) {
			size_t out_len;
			uint8_t *out = tv_hex(f, "Out", &out_len);
			int count = atoi(tv_str(f, "Count"));
			uint8_t k[56] = {0}, u[56] = {0};
			k[0] = u[0] = group == KEEL_DH_CURVE25519 ? 9 : 5;
			for (int i = 0; i < count; i++) {
				struct keel_secret *s = xdh(group, k, u, len);
				if (!s)
					break;
				memcpy(u, k, len);
				memcpy(k, keel_secret_data(s), len);
				keel_secret_free(s);
			}
			CHECK_MEM(k, len, out, out_len);
			free(out);
		} else if (strcmp(section, "exchange") == 0) {
			size_t a_len, b_len, pa_len, pb_len, k_len, pub_len;
			uint8_t *a = tv_hex(f, "A", &a_len);
			uint8_t *b = tv_hex(f, "B", &b_len);
			uint8_t *pa = tv_hex(f, "PubA", &pa_len);
			uint8_t *pb = tv_hex(f, "PubB", &pb_len);
			uint8_t *k = tv_hex(f, "K", &k_len);
			struct keel_dh *dh_a = new_private(group, a, a_len);
			struct keel_dh *dh_b = new_private(group, b, b_len);
			if (dh_a && dh_b) {
				uint8_t *pub = public_of(dh_a, &pub_len);
				CHECK_MEM(pub, pub_len, pa, pa_len);
				free(pub);
				pub = public_of(dh_b, &pub_len);
				CHECK_MEM(pub, pub_len, pb, pb_len);
				free(pub);
				expect_secret(dh_a, pb, pb_len, k, k_len);
				expect_secret(dh_b, pa, pa_len, k, k_len);
				/* RFC 8031 §3.1: the value is exactly 32/56 bytes */
				expect_reject(dh_a, pb, pb_len - 1, KEEL_ERR_MALFORMED);
				uint8_t longer[57] = {0};
				memcpy(longer, pb, pb_len);
				expect_reject(dh_a, longer, pb_len + 1, KEEL_ERR_MALFORMED);
			}
			struct keel_dh *none = NULL;
			CHECK_INT(keel_dh_new_private(group, a, a_len - 1, &none), KEEL_ERR_INVAL);
			CHECK(none == NULL);
			keel_dh_free(dh_a);
			keel_dh_free(dh_b);
			free(a);
			free(b);
			free(pa);
			free(pb);
			free(k);
		} else {
			CHECK(!"unknown section");
		}
	}
	CHECK_INT(records, 10);
	tv_close(f);
}

/* RFC 8031 §3.2: peer values that give an all-zero shared secret. */
static void test_xdh_low_order(void)
{
	struct tv_file *f = tv_open("rfc7748/low-order.txt");
	int records = 0;
	while (tv_next(f)) {
		uint16_t group = (uint16_t)atoi(tv_str(f, "Group"));
		size_t u_len;
		uint8_t *u = tv_hex(f, "U", &u_len);
		struct keel_dh *dh = new_seeded(group, 77 + (uint64_t)records);
		records++;
		CHECK_INT(u_len, keel_dh_public_len(group));
		if (dh)
			expect_reject(dh, u, u_len, KEEL_ERR_MALFORMED);
		keel_dh_free(dh);
		free(u);
	}
	CHECK_INT(records, 13);
	tv_close(f);
}

/* Big-endian, left-padded to len: base^exp mod p. */
static void modexp(const BIGNUM *base, const BIGNUM *exp, const BIGNUM *p, uint8_t *out, size_t len)
{
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *r = BN_new();
	if (!ctx || !r || !BN_mod_exp(r, base, exp, p, ctx) || BN_bn2binpad(r, out, (int)len) < 0)
		abort();
	BN_free(r);
	BN_CTX_free(ctx);
}

static void test_modp_group(uint16_t group, const uint8_t *p_bytes, size_t p_len)
{
	size_t a_len, b_len;
	BIGNUM *p = BN_bin2bn(p_bytes, (int)p_len, NULL);
	BIGNUM *two = BN_new();
	BIGNUM *x = BN_new();
	BIGNUM *y = BN_new();
	uint8_t *buf = malloc(p_len + 1);
	uint8_t *want = malloc(p_len);
	if (!p || !two || !x || !y || !buf || !want || !BN_set_word(two, 2))
		abort();
	CHECK_INT(keel_dh_public_len(group), p_len);
	CHECK_INT(keel_dh_secret_len(group), p_len);

	/* two parties with fresh keys agree on a secret of the prime's length */
	struct keel_dh *a = new_seeded(group, 1000 + group);
	struct keel_dh *b = new_seeded(group, 2000 + group);
	if (!a || !b)
		goto out;
	uint8_t *pub_a = public_of(a, &a_len);
	uint8_t *pub_b = public_of(b, &b_len);
	CHECK_INT(a_len, p_len);
	CHECK(a_len != b_len || memcmp(pub_a, pub_b, a_len) != 0);
	struct keel_secret *s_a = NULL, *s_b = NULL;
	CHECK_INT(keel_dh_compute(a, pub_b, b_len, &s_a), 0);
	CHECK_INT(keel_dh_compute(b, pub_a, a_len, &s_b), 0);
	CHECK_INT(keel_secret_len(s_a), p_len);
	CHECK(keel_secret_equal(s_a, s_b));
	keel_secret_free(s_a);
	keel_secret_free(s_b);

	/* a known exponent: public value and secret as computed over RFC 3526's p */
	static const uint8_t x_bytes[] = {0x5a, 0x17, 0x00, 0xc3, 0x9e, 0x42, 0x8d, 0x01, 0xf6,
	                                  0x3b, 0x70, 0xaa, 0x28, 0x95, 0x4e, 0xd2, 0x0c, 0x61,
	                                  0xb8, 0x37, 0xe9, 0x04, 0x7f, 0x86, 0x13, 0xcd, 0x58};
	struct keel_dh *k = new_private(group, x_bytes, sizeof(x_bytes));
	if (!k || !BN_bin2bn(x_bytes, sizeof(x_bytes), x))
		goto out_ab;
	size_t k_len;
	uint8_t *pub_k = public_of(k, &k_len);
	modexp(two, x, p, want, p_len);
	CHECK_MEM(pub_k, k_len, want, p_len);
	free(pub_k);
	if (!BN_bin2bn(pub_b, (int)b_len, y))
		abort();
	modexp(y, x, p, want, p_len);
	expect_secret(k, pub_b, b_len, want, p_len);

	/*
	 * RFC 7296 §2.14: the secret is left-padded to the prime length. Use peer
	 * values 2^e (valid: 1 < 2^e < p-1) until the secret has a leading zero.
	 */
	bool found = false;
	for (unsigned e = 2; e < 2000 && !found; e++) {
		struct keel_secret *s = NULL;
		if (!BN_set_word(y, 0) || !BN_set_bit(y, (int)e) ||
		    BN_bn2binpad(y, buf, (int)p_len) < 0)
			abort();
		CHECK_INT(keel_dh_compute(k, buf, p_len, &s), 0);
		if (!s)
			break;
		CHECK_INT(keel_secret_len(s), p_len);
		if (keel_secret_data(s)[0] == 0) {
			found = true;
			modexp(y, x, p, want, p_len);
			CHECK_MEM(keel_secret_data(s), (size_t)keel_secret_len(s), want, p_len);
		}
		keel_secret_free(s);
	}
	CHECK(found);

	/* RFC 6989 §2.1: 1 < y < p-1, and exactly the prime's length */
	memset(buf, 0, p_len);
	expect_reject(k, buf, p_len, KEEL_ERR_MALFORMED); /* 0 */
	buf[p_len - 1] = 1;
	expect_reject(k, buf, p_len, KEEL_ERR_MALFORMED); /* 1 */
	buf[p_len - 1] = 2;
	{
		struct keel_secret *s = NULL; /* 2 is the smallest valid value */
		CHECK_INT(keel_dh_compute(k, buf, p_len, &s), 0);
		keel_secret_free(s);
	}
	memcpy(buf, p_bytes, p_len);
	expect_reject(k, buf, p_len, KEEL_ERR_MALFORMED); /* p */
	buf[p_len - 1]--;
	expect_reject(k, buf, p_len, KEEL_ERR_MALFORMED); /* p-1 */
	buf[p_len - 1]--;
	{
		struct keel_secret *s = NULL; /* p-2 is the largest valid value */
		CHECK_INT(keel_dh_compute(k, buf, p_len, &s), 0);
		keel_secret_free(s);
	}
	if (!BN_copy(y, p) || !BN_add_word(y, 1) || BN_bn2binpad(y, buf, (int)p_len) < 0)
		abort();
	expect_reject(k, buf, p_len, KEEL_ERR_MALFORMED); /* p+1 */
	memset(buf, 0xff, p_len);
	expect_reject(k, buf, p_len, KEEL_ERR_MALFORMED);       /* 2^n - 1 > p */
	expect_reject(k, pub_b, b_len - 1, KEEL_ERR_MALFORMED); /* too short */
	buf[0] = 0;
	memcpy(buf + 1, pub_b, b_len);
	expect_reject(k, buf, b_len + 1, KEEL_ERR_MALFORMED); /* zero-extended: too long */
	expect_reject(k, buf, 0, KEEL_ERR_MALFORMED);

	/* private exponents outside 1 < x < p-1 are refused */
	struct keel_dh *none = NULL;
	memset(buf, 0, p_len);
	CHECK_INT(keel_dh_new_private(group, buf, p_len, &none), KEEL_ERR_INVAL);
	buf[p_len - 1] = 1;
	CHECK_INT(keel_dh_new_private(group, buf, p_len, &none), KEEL_ERR_INVAL);
	memcpy(buf, p_bytes, p_len);
	buf[p_len - 1]--;
	CHECK_INT(keel_dh_new_private(group, buf, p_len, &none), KEEL_ERR_INVAL);
	CHECK_INT(keel_dh_new_private(group, buf, 0, &none), KEEL_ERR_INVAL);
	CHECK(none == NULL);

	keel_dh_free(k);
out_ab:
	free(pub_a);
	free(pub_b);
out:
	keel_dh_free(a);
	keel_dh_free(b);
	free(buf);
	free(want);
	BN_free(p);
	BN_free(two);
	BN_free(x);
	BN_free(y);
}

static void test_modp(void)
{
	struct tv_file *f = tv_open("rfc3526/modp.txt");
	int records = 0;
	while (tv_next(f)) {
		uint16_t group = (uint16_t)atoi(tv_str(f, "Group"));
		size_t p_len;
		uint8_t *p = tv_hex(f, "P", &p_len);
		records++;
		CHECK_INT(p_len * 8, atoi(tv_str(f, "Bits")));
		test_modp_group(group, p, p_len);
		free(p);
	}
	CHECK_INT(records, 5);
	tv_close(f);
}

static void test_env(void)
{
	struct keel_dh *dh = NULL;
	struct keel_env no_fn = {NULL, NULL};
	struct keel_env fail = {rng_fail, NULL};
	struct keel_env zero = {rng_zero, NULL};

	for (size_t i = 0; i < sizeof(all_groups) / sizeof(all_groups[0]); i++) {
		uint16_t group = all_groups[i];
		CHECK_INT(keel_dh_new(group, NULL, &dh), KEEL_ERR_STATE);
		CHECK_INT(keel_dh_new(group, &no_fn, &dh), KEEL_ERR_STATE);
		CHECK_INT(keel_dh_new(group, &fail, &dh), KEEL_ERR_CRYPTO);
		CHECK(dh == NULL);

		/* the same seed gives the same key; another seed another key */
		size_t l1 = 0, l2 = 0, l3 = 0;
		struct keel_dh *d1 = new_seeded(group, 42);
		struct keel_dh *d2 = new_seeded(group, 42);
		struct keel_dh *d3 = new_seeded(group, 43);
		if (d1 && d2 && d3) {
			uint8_t *p1 = public_of(d1, &l1);
			uint8_t *p2 = public_of(d2, &l2);
			uint8_t *p3 = public_of(d3, &l3);
			CHECK_MEM(p1, l1, p2, l2);
			CHECK(l1 == l3 && memcmp(p1, p3, l1) != 0);
			CHECK_INT(keel_dh_group(d1), group);

			/* a buffer one byte short */
			uint8_t small[KEEL_DH_PUBLIC_MAX_LEN];
			CHECK_INT(keel_dh_public(d1, small, l1 - 1), KEEL_ERR_NOBUF);
			CHECK_INT(keel_dh_public(d1, small, l1), l1);
			free(p1);
			free(p2);
			free(p3);
		}
		keel_dh_free(d1);
		keel_dh_free(d2);
		keel_dh_free(d3);
	}

	/* a source that only gives zeros never yields a usable MODP/ECP key */
	static const uint16_t ranged[] = {14, 19, 20, 21};
	for (size_t i = 0; i < sizeof(ranged) / sizeof(ranged[0]); i++) {
		CHECK_INT(keel_dh_new(ranged[i], &zero, &dh), KEEL_ERR_CRYPTO);
		CHECK(dh == NULL);
	}
	keel_dh_free(NULL);
}

int main(void)
{
	test_registry();
	test_ecp_vectors();
	test_xdh_vectors();
	test_xdh_low_order();
	test_modp();
	test_env();
	return check_done();
}
