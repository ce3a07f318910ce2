/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PRFs, integrity algorithms and secrets (core/crypto/prf.c, secret.c)
 * against RFC 2202, 4231, 4868, 3566, 4434 and 4615, plus split-input,
 * context reuse and error paths.
 */
#include <stdlib.h>
#include <string.h>

#include <keel/err.h>
#include <keel/secret.h>

#include "crypto/prf.h"

#include "check.h"
#include "tv.h"

/* Runs keel_prf over msg cut into pieces at the given lengths (the rest last). */
static ptrdiff_t prf_split(enum keel_prf_alg alg, const uint8_t *key, size_t key_len,
                           const uint8_t *msg, size_t msg_len, const size_t *cuts, size_t n_cuts,
                           uint8_t *out)
{
	struct keel_iov iov[16];
	size_t n = 0, off = 0;

	for (size_t i = 0; i < n_cuts && n < 15; i++) {
		size_t c = cuts[i] < msg_len - off ? cuts[i] : msg_len - off;
		iov[n++] = (struct keel_iov){msg + off, (ptrdiff_t)c};
		off += c;
	}
	iov[n++] = (struct keel_iov){msg + off, (ptrdiff_t)(msg_len - off)};
	return keel_prf(alg, key, (ptrdiff_t)key_len, iov, n, out, KEEL_PRF_MAX_OUT_LEN);
}

/* Checks prf(key, msg) against want (a prefix when truncated). */
static void check_prf(enum keel_prf_alg alg, const uint8_t *key, size_t key_len, const uint8_t *msg,
                      size_t msg_len, const uint8_t *want, size_t want_len, bool truncated,
                      const char *file, int line)
{
	uint8_t out[KEEL_PRF_MAX_OUT_LEN];
	struct keel_iov in = {msg, (ptrdiff_t)msg_len};
	ptrdiff_t n = keel_prf(alg, key, (ptrdiff_t)key_len, &in, 1, out, sizeof(out));

	CHECK_INT(n, keel_prf_out_len(alg));
	if (n < 0)
		return;
	if (!truncated && (ptrdiff_t)want_len != n)
		fprintf(stderr, "%s:%d: vector length %zu, PRF gives %td\n", file, line, want_len,
		        n);
	CHECK(truncated || (ptrdiff_t)want_len == n);
	CHECK(want_len <= (size_t)n);
	CHECK_MEM(out, want_len, want, want_len);

	/* The same message in pieces: every 1-, 2- and 3-way split of short ones. */
	size_t step = msg_len > 64 ? 7 : 1;
	for (size_t a = 0; a <= msg_len; a += step) {
		size_t cuts[2] = {a, 0};
		uint8_t o2[KEEL_PRF_MAX_OUT_LEN];
		CHECK_INT(prf_split(alg, key, key_len, msg, msg_len, cuts, 1, o2), n);
		CHECK_MEM(o2, want_len, want, want_len);
		if (msg_len <= 40) {
			for (size_t b = 0; a + b <= msg_len; b++) {
				cuts[1] = b;
				CHECK_INT(prf_split(alg, key, key_len, msg, msg_len, cuts, 2, o2),
				          n);
				CHECK_MEM(o2, want_len, want, want_len);
			}
		}
	}
}

static void test_rfc2202(void)
{
	struct tv_file *f = tv_open("rfc2202/hmac-sha1.txt");
	int count = 0;

	while (tv_next(f)) {
		size_t kl, ml, wl;
		uint8_t *key = tv_hex(f, "Key", &kl), *msg = tv_hex(f, "Msg", &ml);
		uint8_t *mac = tv_hex(f, "Mac", &wl);

		check_prf(KEEL_PRF_HMAC_SHA1, key, kl, msg, ml, mac, wl, false, tv_name(f),
		          tv_line(f));
		/* RFC 2404: HMAC-SHA1-96 takes a 160-bit key; cases 1, 3 and 5 have one */
		if (kl == 20) {
			struct keel_integ *ig = NULL;
			uint8_t icv[KEEL_INTEG_MAX_ICV_LEN];
			struct keel_iov in = {msg, (ptrdiff_t)ml};
			CHECK_INT(keel_integ_new(KEEL_INTEG_HMAC_SHA1_96, key, 20, &ig), 0);
			CHECK_INT(keel_integ_compute(ig, &in, 1, icv, sizeof(icv)), 12);
			CHECK_MEM(icv, 12, mac, 12);
			CHECK_INT(keel_integ_verify(ig, &in, 1, mac, 12), 0);
			keel_integ_free(ig);
		}
		if (tv_str(f, "Mac96")) {
			size_t l96;
			uint8_t *m96 = tv_hex(f, "Mac96", &l96);
			CHECK_INT(l96, 12);
			CHECK_MEM(mac, 12, m96, l96);
			free(m96);
		}
		count++;
		free(key);
		free(msg);
		free(mac);
	}
	CHECK_INT(count, 7);
	tv_close(f);
}

/* RFC 4231 and RFC 4868 §2.7.1 share a layout: SHA256, SHA384, SHA512 per record. */
static int run_sha2_prf_file(const char *path)
{
	static const struct {
		const char *field;
		enum keel_prf_alg alg;
	} algs[] = {
	    {"SHA256", KEEL_PRF_HMAC_SHA2_256},
	    {"SHA384", KEEL_PRF_HMAC_SHA2_384},
	    {"SHA512", KEEL_PRF_HMAC_SHA2_512},
	};
	struct tv_file *f = tv_open(path);
	int count = 0;

	while (tv_next(f)) {
		size_t kl, ml;
		uint8_t *key = tv_hex(f, "Key", &kl), *msg = tv_hex(f, "Msg", &ml);
		const char *trunc = tv_str(f, "Truncated");

		for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
			size_t wl;
			uint8_t *want = tv_hex(f, algs[i].field, &wl);
			if (trunc)
				CHECK_INT(wl, atoi(trunc));
			check_prf(algs[i].alg, key, kl, msg, ml, want, wl, trunc != NULL,
			          tv_name(f), tv_line(f));
			free(want);
		}
		count++;
		free(key);
		free(msg);
	}
	tv_close(f);
	return count;
}

static enum keel_integ_alg integ_by_name(const char *name)
{
	if (strcmp(name, "HMAC-SHA-256-128") == 0)
		return KEEL_INTEG_HMAC_SHA2_256_128;
	if (strcmp(name, "HMAC-SHA-384-192") == 0)
		return KEEL_INTEG_HMAC_SHA2_384_192;
	if (strcmp(name, "HMAC-SHA-512-256") == 0)
		return KEEL_INTEG_HMAC_SHA2_512_256;
	fprintf(stderr, "unknown Alg %s\n", name);
	exit(1);
}

static enum keel_prf_alg prf_for_integ(enum keel_integ_alg a)
{
	switch (a) {
	case KEEL_INTEG_HMAC_SHA2_256_128:
		return KEEL_PRF_HMAC_SHA2_256;
	case KEEL_INTEG_HMAC_SHA2_384_192:
		return KEEL_PRF_HMAC_SHA2_384;
	case KEEL_INTEG_HMAC_SHA2_512_256:
		return KEEL_PRF_HMAC_SHA2_512;
	case KEEL_INTEG_HMAC_SHA1_96:
		return KEEL_PRF_HMAC_SHA1;
	case KEEL_INTEG_AES_XCBC_96:
		return KEEL_PRF_AES128_XCBC;
	case KEEL_INTEG_NONE:
		break;
	}
	abort();
}

/* Compute, verify, and reject a flipped ICV bit, a flipped message bit and a short ICV. */
static void check_integ(enum keel_integ_alg alg, const uint8_t *key, size_t kl, const uint8_t *msg,
                        size_t ml, const uint8_t *icv_want, size_t icv_len)
{
	struct keel_integ *ig = NULL;
	uint8_t icv[KEEL_INTEG_MAX_ICV_LEN], bad[KEEL_INTEG_MAX_ICV_LEN];
	uint8_t *m2 = malloc(ml + 1);
	struct keel_iov in = {msg, (ptrdiff_t)ml};

	CHECK_INT(keel_integ_icv_len(alg), icv_len);
	CHECK_INT(keel_integ_key_len(alg), kl);
	CHECK_INT(keel_integ_new(alg, key, (ptrdiff_t)kl, &ig), 0);
	if (!ig || !m2) {
		free(m2);
		return;
	}
	CHECK_INT(keel_integ_alg(ig), alg);
	/* twice on one context: the key schedule is reused */
	for (int round = 0; round < 2; round++) {
		memset(icv, 0, sizeof(icv));
		CHECK_INT(keel_integ_compute(ig, &in, 1, icv, sizeof(icv)), icv_len);
		CHECK_MEM(icv, icv_len, icv_want, icv_len);
		CHECK_INT(keel_integ_verify(ig, &in, 1, icv_want, (ptrdiff_t)icv_len), 0);
	}
	CHECK_INT(keel_integ_compute(ig, &in, 1, icv, (ptrdiff_t)icv_len - 1), KEEL_ERR_NOBUF);
	for (size_t i = 0; i < icv_len; i++) {
		memcpy(bad, icv_want, icv_len);
		bad[i] ^= 0x01;
		CHECK_INT(keel_integ_verify(ig, &in, 1, bad, (ptrdiff_t)icv_len), KEEL_ERR_AUTH);
	}
	CHECK_INT(keel_integ_verify(ig, &in, 1, icv_want, (ptrdiff_t)icv_len - 1), KEEL_ERR_AUTH);
	CHECK_INT(keel_integ_verify(ig, &in, 1, NULL, (ptrdiff_t)icv_len), KEEL_ERR_AUTH);
	if (ml > 0) {
		memcpy(m2, msg, ml);
		m2[ml / 2] ^= 0x80;
		struct keel_iov in2 = {m2, (ptrdiff_t)ml};
		CHECK_INT(keel_integ_verify(ig, &in2, 1, icv_want, (ptrdiff_t)icv_len),
		          KEEL_ERR_AUTH);
	}
	/* one appended byte changes the MAC too */
	memcpy(m2, msg, ml);
	m2[ml] = 0;
	struct keel_iov in3 = {m2, (ptrdiff_t)ml + 1};
	CHECK_INT(keel_integ_verify(ig, &in3, 1, icv_want, (ptrdiff_t)icv_len), KEEL_ERR_AUTH);
	/* the ICV is the PRF output truncated (RFC 4868 §2.1, RFC 3566 §2.3) */
	if (alg != KEEL_INTEG_AES_XCBC_96 || kl == 16) {
		uint8_t full[KEEL_PRF_MAX_OUT_LEN];
		CHECK(keel_prf(prf_for_integ(alg), key, (ptrdiff_t)kl, &in, 1, full, sizeof(full)) >
		      0);
		CHECK_MEM(full, icv_len, icv_want, icv_len);
	}
	keel_integ_free(ig);
	free(m2);
}

static void test_rfc4868_auth(void)
{
	struct tv_file *f = tv_open("rfc4868/auth.txt");
	int count = 0;

	while (tv_next(f)) {
		size_t kl, ml, pl, il;
		enum keel_integ_alg alg = integ_by_name(tv_str(f, "Alg"));
		uint8_t *key = tv_hex(f, "Key", &kl), *msg = tv_hex(f, "Msg", &ml);
		uint8_t *prf = tv_hex(f, "PRF", &pl), *icv = tv_hex(f, "ICV", &il);

		check_prf(prf_for_integ(alg), key, kl, msg, ml, prf, pl, false, tv_name(f),
		          tv_line(f));
		check_integ(alg, key, kl, msg, ml, icv, il);
		count++;
		free(key);
		free(msg);
		free(prf);
		free(icv);
	}
	CHECK_INT(count, 12);
	tv_close(f);
}

static void test_rfc3566(void)
{
	struct tv_file *f = tv_open("rfc3566/aes-xcbc-mac-96.txt");
	int count = 0;

	while (tv_next(f)) {
		size_t kl, ml, wl, w96;
		uint8_t *key = tv_hex(f, "Key", &kl), *msg = tv_hex(f, "Msg", &ml);
		uint8_t *mac = tv_hex(f, "Mac", &wl), *mac96 = tv_hex(f, "Mac96", &w96);

		/* with a 128-bit key, AES-XCBC-PRF-128 is AES-XCBC-MAC (RFC 4434 §2) */
		check_prf(KEEL_PRF_AES128_XCBC, key, kl, msg, ml, mac, wl, false, tv_name(f),
		          tv_line(f));
		CHECK_INT(w96, 12);
		check_integ(KEEL_INTEG_AES_XCBC_96, key, kl, msg, ml, mac96, w96);
		count++;
		free(key);
		free(msg);
		free(mac);
		free(mac96);
	}
	CHECK_INT(count, 7);
	tv_close(f);
}

static int run_plain_prf_file(const char *path, enum keel_prf_alg alg)
{
	struct tv_file *f = tv_open(path);
	int count = 0;

	while (tv_next(f)) {
		size_t kl, ml, wl;
		uint8_t *key = tv_hex(f, "Key", &kl), *msg = tv_hex(f, "Msg", &ml);
		uint8_t *want = tv_hex(f, "PRF", &wl);

		check_prf(alg, key, kl, msg, ml, want, wl, false, tv_name(f), tv_line(f));
		count++;
		free(key);
		free(msg);
		free(want);
	}
	tv_close(f);
	return count;
}

/* Every split of a long XCBC message, around the 16-byte block boundaries. */
static void test_xcbc_long_splits(void)
{
	uint8_t key[16], msg[200], want[16], got[16];
	struct keel_prf *p = NULL;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x40 + i);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7);
	CHECK_INT(keel_prf_new(KEEL_PRF_AES128_XCBC, key, 16, &p), 0);
	if (!p)
		return;
	for (size_t len = 0; len <= sizeof(msg); len++) {
		struct keel_iov whole = {msg, (ptrdiff_t)len};
		CHECK_INT(keel_prf_compute(p, &whole, 1, want, sizeof(want)), 16);
		for (size_t a = 0; a <= len; a += 5) {
			for (size_t b = 0; a + b <= len; b += 11) {
				struct keel_iov in[4] = {
				    {msg, (ptrdiff_t)a},
				    {NULL, 0},
				    {msg + a, (ptrdiff_t)b},
				    {msg + a + b, (ptrdiff_t)(len - a - b)},
				};
				CHECK_INT(keel_prf_compute(p, in, 4, got, sizeof(got)), 16);
				CHECK_MEM(got, 16, want, 16);
			}
		}
	}
	keel_prf_free(p);
}

static void test_context_reuse(void)
{
	static const uint8_t k1[] = "key one, twenty bytes", k2[] = "another key";
	static const uint8_t m[] = "message";
	struct keel_iov in = {m, 7};
	uint8_t a[KEEL_PRF_MAX_OUT_LEN], b[KEEL_PRF_MAX_OUT_LEN], c[KEEL_PRF_MAX_OUT_LEN];
	uint8_t d[KEEL_PRF_MAX_OUT_LEN];
	static const enum keel_prf_alg algs[] = {
	    KEEL_PRF_HMAC_SHA1,     KEEL_PRF_HMAC_SHA2_256, KEEL_PRF_HMAC_SHA2_384,
	    KEEL_PRF_HMAC_SHA2_512, KEEL_PRF_AES128_XCBC,   KEEL_PRF_AES128_CMAC,
	};

	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		struct keel_prf *p1 = NULL, *p2 = NULL;
		ptrdiff_t n = keel_prf_out_len(algs[i]);
		CHECK_INT(keel_prf_new(algs[i], k1, 20, &p1), 0);
		CHECK_INT(keel_prf_new(algs[i], k2, 11, &p2), 0);
		if (!p1 || !p2) {
			keel_prf_free(p1);
			keel_prf_free(p2);
			continue;
		}
		CHECK_INT(keel_prf_alg(p1), algs[i]);
		CHECK_INT(keel_prf_compute(p1, &in, 1, a, sizeof(a)), n);
		CHECK_INT(keel_prf_compute(p2, &in, 1, b, sizeof(b)), n);
		CHECK_INT(keel_prf_compute(p1, &in, 1, c, sizeof(c)), n);
		CHECK_INT(keel_prf(algs[i], k2, 11, &in, 1, d, sizeof(d)), n);
		CHECK_MEM(a, n, c, n);
		CHECK_MEM(b, n, d, n);
		CHECK(memcmp(a, b, (size_t)n) != 0);
		/* empty input is a valid message */
		CHECK_INT(keel_prf_compute(p1, NULL, 0, c, sizeof(c)), n);
		CHECK(memcmp(a, c, (size_t)n) != 0);
		keel_prf_free(p1);
		keel_prf_free(p2);
	}
}

static void test_prf_errors(void)
{
	static const uint8_t key[64] = {1, 2, 3};
	uint8_t out[KEEL_PRF_MAX_OUT_LEN];
	struct keel_prf *p = NULL, *sentinel = (struct keel_prf *)&p;
	struct keel_iov in = {key, 4};

	p = sentinel;
	CHECK_INT(keel_prf_new(KEEL_PRF_HMAC_SHA2_256, NULL, 4, &p), KEEL_ERR_INVAL);
	CHECK_INT(keel_prf_new(KEEL_PRF_HMAC_SHA2_256, key, 0, &p), KEEL_ERR_INVAL);
	CHECK_INT(keel_prf_new(KEEL_PRF_HMAC_SHA2_256, key, -1, &p), KEEL_ERR_INVAL);
	CHECK_INT(keel_prf_new(KEEL_PRF_AES128_XCBC, key, 0, &p), KEEL_ERR_INVAL);
	CHECK_INT(keel_prf_new((enum keel_prf_alg)1, key, 16, &p), KEEL_ERR_INVAL); /* MD5 */
	CHECK(p == sentinel); /* out-parameters are written only on success */

	CHECK_INT(keel_prf(KEEL_PRF_HMAC_SHA2_256, key, 4, &in, 1, out, 31), KEEL_ERR_NOBUF);
	CHECK_INT(keel_prf(KEEL_PRF_AES128_CMAC, key, 4, &in, 1, out, 15), KEEL_ERR_NOBUF);
	CHECK_INT(keel_prf(KEEL_PRF_HMAC_SHA1, key, 4, &in, 1, NULL, 20), KEEL_ERR_INVAL);
	struct keel_iov neg = {key, -1}, null_data = {NULL, 3}, empty = {NULL, 0};
	CHECK_INT(keel_prf(KEEL_PRF_HMAC_SHA1, key, 4, &neg, 1, out, sizeof(out)), KEEL_ERR_INVAL);
	CHECK_INT(keel_prf(KEEL_PRF_AES128_XCBC, key, 4, &null_data, 1, out, sizeof(out)),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_prf(KEEL_PRF_HMAC_SHA1, key, 4, NULL, 2, out, sizeof(out)), KEEL_ERR_INVAL);
	CHECK_INT(keel_prf(KEEL_PRF_HMAC_SHA1, key, 4, &empty, 1, out, sizeof(out)), 20);

	CHECK_INT(keel_prf_new(KEEL_PRF_HMAC_SHA2_512, key, 64, &p), 0);
	CHECK_INT(keel_prf_compute(p, &in, 1, out, 63), KEEL_ERR_NOBUF);
	CHECK_INT(keel_prf_compute(p, &neg, 1, out, sizeof(out)), KEEL_ERR_INVAL);
	CHECK_INT(keel_prf_compute(NULL, &in, 1, out, sizeof(out)), KEEL_ERR_INVAL);
	keel_prf_free(p);
	keel_prf_free(NULL);
}

static void test_integ_errors(void)
{
	static const uint8_t key[80] = {9};
	struct keel_integ *ig = NULL, *sentinel = (struct keel_integ *)&ig;
	uint8_t icv[KEEL_INTEG_MAX_ICV_LEN];
	struct keel_iov neg = {key, -5};

	ig = sentinel;
	/* RFC 3566 §2.1: AES-XCBC-MAC-96 has a 128-bit key, no other */
	CHECK_INT(keel_integ_new(KEEL_INTEG_AES_XCBC_96, key, 10, &ig), KEEL_ERR_INVAL);
	CHECK_INT(keel_integ_new(KEEL_INTEG_AES_XCBC_96, key, 18, &ig), KEEL_ERR_INVAL);
	CHECK_INT(keel_integ_new(KEEL_INTEG_AES_XCBC_96, key, 0, &ig), KEEL_ERR_INVAL);
	/* RFC 4868 §2.1.1 / RFC 2404 §3: HMAC keys of exactly the hash length */
	CHECK_INT(keel_integ_new(KEEL_INTEG_HMAC_SHA2_256_128, key, 31, &ig), KEEL_ERR_INVAL);
	CHECK_INT(keel_integ_new(KEEL_INTEG_HMAC_SHA2_256_128, key, 33, &ig), KEEL_ERR_INVAL);
	CHECK_INT(keel_integ_new(KEEL_INTEG_HMAC_SHA2_384_192, key, 32, &ig), KEEL_ERR_INVAL);
	CHECK_INT(keel_integ_new(KEEL_INTEG_HMAC_SHA2_512_256, key, 80, &ig), KEEL_ERR_INVAL);
	CHECK_INT(keel_integ_new(KEEL_INTEG_HMAC_SHA1_96, key, 16, &ig), KEEL_ERR_INVAL);
	CHECK_INT(keel_integ_new(KEEL_INTEG_HMAC_SHA1_96, NULL, 20, &ig), KEEL_ERR_INVAL);
	CHECK_INT(keel_integ_new(KEEL_INTEG_NONE, key, 0, &ig), KEEL_ERR_INVAL);
	CHECK_INT(keel_integ_new((enum keel_integ_alg)1, key, 16, &ig), KEEL_ERR_INVAL);
	CHECK(ig == sentinel);

	CHECK_INT(keel_integ_new(KEEL_INTEG_AES_XCBC_96, key, 16, &ig), 0);
	CHECK_INT(keel_integ_compute(ig, &neg, 1, icv, sizeof(icv)), KEEL_ERR_INVAL);
	CHECK_INT(keel_integ_verify(ig, &neg, 1, icv, 12), KEEL_ERR_INVAL);
	CHECK_INT(keel_integ_compute(ig, NULL, 0, icv, 11), KEEL_ERR_NOBUF);
	CHECK_INT(keel_integ_compute(ig, NULL, 0, icv, 12), 12);
	CHECK_INT(keel_integ_verify(ig, NULL, 0, icv, 12), 0);
	CHECK_INT(keel_integ_verify(ig, NULL, 0, icv, 16), KEEL_ERR_AUTH);
	keel_integ_free(ig);
	keel_integ_free(NULL);
}

static void test_tables(void)
{
	enum keel_prf_alg p;
	enum keel_integ_alg i;

	CHECK_INT(keel_prf_from_ikev2_id(5, &p), 0);
	CHECK_INT(p, KEEL_PRF_HMAC_SHA2_256);
	CHECK_INT(keel_prf_from_ikev2_id(4, &p), 0);
	CHECK_INT(p, KEEL_PRF_AES128_XCBC);
	CHECK_INT(keel_prf_from_ikev2_id(1, &p), KEEL_ERR_UNSUPPORTED); /* HMAC-MD5 */
	CHECK_INT(keel_prf_from_ikev2_id(3, &p), KEEL_ERR_UNSUPPORTED); /* TIGER */
	CHECK_INT(keel_prf_from_ikev2_id(9, &p), KEEL_ERR_UNSUPPORTED);
	CHECK_INT(keel_integ_from_ikev2_id(12, &i), 0);
	CHECK_INT(i, KEEL_INTEG_HMAC_SHA2_256_128);
	CHECK_INT(keel_integ_from_ikev2_id(0, &i), 0);
	CHECK_INT(i, KEEL_INTEG_NONE);
	CHECK_INT(keel_integ_from_ikev2_id(1, &i), KEEL_ERR_UNSUPPORTED); /* HMAC-MD5-96 */
	CHECK_INT(keel_integ_from_ikev2_id(8, &i), KEEL_ERR_UNSUPPORTED);

	CHECK_INT(keel_prf_out_len(KEEL_PRF_HMAC_SHA1), 20);
	CHECK_INT(keel_prf_out_len(KEEL_PRF_HMAC_SHA2_384), 48);
	CHECK_INT(keel_prf_key_len(KEEL_PRF_HMAC_SHA2_512), 64);
	CHECK_INT(keel_prf_key_len(KEEL_PRF_AES128_XCBC), 16);
	CHECK_INT(keel_prf_key_len(KEEL_PRF_AES128_CMAC), 16);
	CHECK(keel_prf_is_fixed_key(KEEL_PRF_AES128_CMAC));
	CHECK(!keel_prf_is_fixed_key(KEEL_PRF_HMAC_SHA2_256));
	CHECK_INT(keel_integ_key_len(KEEL_INTEG_HMAC_SHA1_96), 20);
	CHECK_INT(keel_integ_key_len(KEEL_INTEG_NONE), 0);
	CHECK_INT(keel_integ_icv_len(KEEL_INTEG_HMAC_SHA2_512_256), 32);
	CHECK_INT(keel_integ_icv_len(KEEL_INTEG_AES_XCBC_96), 12);
	CHECK(strcmp(keel_prf_name(KEEL_PRF_HMAC_SHA2_256), "PRF_HMAC_SHA2_256") == 0);
	CHECK(strcmp(keel_integ_name(KEEL_INTEG_HMAC_SHA2_384_192), "AUTH_HMAC_SHA2_384_192") == 0);
}

static void test_secret(void)
{
	static const uint8_t bytes[] = {1, 2, 3, 4, 5, 6};
	struct keel_secret *a = keel_secret_new_from(bytes, 6);
	struct keel_secret *z = keel_secret_new(4);
	struct keel_secret *e = keel_secret_new(0);

	CHECK(a && z && e);
	if (!a || !z || !e)
		goto out;
	CHECK_INT(keel_secret_len(a), 6);
	CHECK_MEM(keel_secret_data(a), 6, bytes, 6);
	CHECK_INT(keel_secret_len(z), 4);
	CHECK_MEM(keel_secret_data(z), 4, "\0\0\0\0", 4);
	CHECK_INT(keel_secret_len(e), 0);
	CHECK(keel_secret_data(e) != NULL);
	CHECK_INT(keel_secret_len(NULL), 0);
	CHECK(keel_secret_data(NULL) == NULL);

	struct keel_secret *d = keel_secret_dup(a);
	CHECK(keel_secret_equal(a, d));
	keel_secret_mut(d)[5] ^= 1;
	CHECK(!keel_secret_equal(a, d));
	CHECK(!keel_secret_equal(a, z));
	CHECK(!keel_secret_equal(a, NULL));
	keel_secret_free(d);

	struct keel_secret *s = keel_secret_slice(a, 2, 3);
	CHECK_MEM(keel_secret_data(s), keel_secret_len(s), bytes + 2, 3);
	keel_secret_free(s);
	s = keel_secret_slice(a, 6, 0);
	CHECK(s && keel_secret_len(s) == 0);
	keel_secret_free(s);
	CHECK(keel_secret_slice(a, 4, 3) == NULL);
	CHECK(keel_secret_slice(a, -1, 2) == NULL);
	CHECK(keel_secret_slice(a, 0, 7) == NULL);
	CHECK(keel_secret_slice(NULL, 0, 0) == NULL);

	struct keel_secret *c = keel_secret_concat(a, z);
	CHECK_INT(keel_secret_len(c), 10);
	CHECK_MEM(keel_secret_data(c), 6, bytes, 6);
	CHECK_MEM(keel_secret_data(c) + 6, 4, "\0\0\0\0", 4);
	keel_secret_free(c);
	c = keel_secret_concat(e, e);
	CHECK(c && keel_secret_len(c) == 0);
	keel_secret_free(c);
	CHECK(keel_secret_concat(a, NULL) == NULL);

	CHECK(keel_secret_new(-1) == NULL);
	CHECK(keel_secret_new_from(NULL, 3) == NULL);
	CHECK(keel_secret_new_from(bytes, -3) == NULL);
	c = keel_secret_new_from(NULL, 0);
	CHECK(c && keel_secret_len(c) == 0);
	keel_secret_free(c);
	CHECK(keel_secret_dup(NULL) == NULL);
	keel_secret_free(NULL);
out:
	keel_secret_free(a);
	keel_secret_free(z);
	keel_secret_free(e);
}

int main(void)
{
	test_rfc2202();
	CHECK_INT(run_sha2_prf_file("rfc4231/hmac-sha2.txt"), 7);
	CHECK_INT(run_sha2_prf_file("rfc4868/prf.txt"), 6);
	test_rfc4868_auth();
	test_rfc3566();
	CHECK_INT(run_plain_prf_file("rfc4434/aes-xcbc-prf-128.txt", KEEL_PRF_AES128_XCBC), 3);
	CHECK_INT(run_plain_prf_file("rfc4615/aes-cmac-prf-128.txt", KEEL_PRF_AES128_CMAC), 3);
	test_xcbc_long_splits();
	test_context_reuse();
	test_prf_errors();
	test_integ_errors();
	test_tables();
	test_secret();
	return check_done();
}
