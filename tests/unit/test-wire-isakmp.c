/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ISAKMP / IKEv1 codec (core/wire/isakmp.c). */
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "check.h"
#include "tv.h"
#include "wire/isakmp.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                            */

/* A byte string built by hand from hex pieces, independent of the codec. */
struct bytes {
	uint8_t b[4096];
	size_t n;
};

static void put_hex(struct bytes *s, const char *hex)
{
	size_t len;
	uint8_t *p = hex_decode(hex, &len);
	if (s->n + len > sizeof(s->b))
		abort();
	memcpy(s->b + s->n, p, len);
	s->n += len;
	free(p);
}

static void put_fill(struct bytes *s, size_t len, uint8_t v)
{
	if (s->n + len > sizeof(s->b))
		abort();
	memset(s->b + s->n, v, len);
	s->n += len;
}

static const uint8_t COOKIE_I[8] = {0x1c, 0x2d, 0x3e, 0x4f, 0x50, 0x61, 0x72, 0x83};
static const uint8_t COOKIE_R[8] = {0x94, 0xa5, 0xb6, 0xc7, 0xd8, 0xe9, 0xfa, 0x0b};

static struct keel_v1_hdr make_hdr(uint8_t exchange, uint8_t flags, uint32_t msg_id)
{
	struct keel_v1_hdr h;
	memset(&h, 0, sizeof(h));
	memcpy(h.cookie_i, COOKIE_I, 8);
	memcpy(h.cookie_r, COOKIE_R, 8);
	h.exchange = exchange;
	h.flags = flags;
	h.msg_id = msg_id;
	return h;
}

/* Exact-size heap copy, so that the sanitizer sees any read past the end. */
static uint8_t *dup_exact(const uint8_t *p, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);
	if (!c)
		abort();
	if (len)
		memcpy(c, p, len);
	return c;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Every truncation of a cleartext message fails, both as cut (header length
 * then disagrees) and with the header length patched to the cut, which sends
 * the short chain through the payload parser.
 */
static void check_truncations_msg(const uint8_t *msg, size_t len)
{
	struct keel_v1_msg m;
	size_t fails = 0;

	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *c = dup_exact(msg, cut);
		if (keel_v1_msg_decode(c, cut, &m) >= 0)
			fails++;
		if (cut >= KEEL_V1_HDR_LEN) {
			put_be32(c + 24, (uint32_t)cut);
			if (keel_v1_msg_decode(c, cut, &m) >= 0)
				fails++;
		}
		free(c);
	}
	CHECK_INT(fails, 0);
}

/* Every truncation of a payload chain fails, padded or not. */
static void check_truncations_chain(uint8_t first, const uint8_t *chain, size_t len)
{
	struct keel_v1_msg m;
	size_t fails = 0;

	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *c = dup_exact(chain, cut);
		if (keel_v1_chain_decode(first, c, cut, false, &m) >= 0)
			fails++;
		if (keel_v1_chain_decode(first, c, cut, true, &m) >= 0)
			fails++;
		free(c);
	}
	CHECK_INT(fails, 0);
}

/* ------------------------------------------------------------------ */
/* Header                                                             */

static void test_header(void)
{
	uint8_t buf[64];
	struct keel_wr w = keel_wr_init(buf, sizeof(buf));
	struct keel_v1_hdr h = make_hdr(KEEL_V1_EXCH_AGGRESSIVE, KEEL_V1_FLAG_COMMIT, 0);
	struct keel_v1_enc e;
	struct keel_v1_hdr got;
	struct keel_v1_msg m;

	keel_v1_enc_init(&e, &w, &h);
	CHECK_INT(keel_v1_enc_finish(&e), KEEL_V1_HDR_LEN);
	static const char want_hex[] =
	    "1c2d3e4f50617283 94a5b6c7d8e9fa0b 00 10 04 02 00000000 0000001c";
	size_t want_len;
	uint8_t *want = hex_decode(want_hex, &want_len);
	CHECK_MEM(buf, KEEL_V1_HDR_LEN, want, want_len);
	free(want);

	CHECK_INT(keel_v1_hdr_decode(buf, KEEL_V1_HDR_LEN, &got), 0);
	CHECK_MEM(got.cookie_i, 8, COOKIE_I, 8);
	CHECK_MEM(got.cookie_r, 8, COOKIE_R, 8);
	CHECK_INT(got.next, 0);
	CHECK_INT(got.version, 0x10);
	CHECK_INT(got.exchange, KEEL_V1_EXCH_AGGRESSIVE);
	CHECK_INT(got.flags, KEEL_V1_FLAG_COMMIT);
	CHECK_INT(got.msg_id, 0);
	CHECK_INT(got.len, 28);
	CHECK_INT(keel_v1_hdr_verify(&got), 0);

	/* header alone: decodes (no payloads), but a message needs one */
	CHECK_INT(keel_v1_msg_decode(buf, KEEL_V1_HDR_LEN, &m), 0);
	CHECK_INT(m.n_payloads, 0);
	CHECK_INT(keel_v1_msg_verify(&m), KEEL_ERR_MALFORMED);

	/* bad lengths: short datagram, length field above / below the datagram */
	CHECK_INT(keel_v1_hdr_decode(buf, 27, &got), KEEL_ERR_MALFORMED);
	uint8_t big[40] = {0};
	memcpy(big, buf, 28);
	CHECK_INT(keel_v1_hdr_decode(big, 40, &got), KEEL_ERR_MALFORMED);
	put_be32(big + 24, 27);
	CHECK_INT(keel_v1_hdr_decode(big, 28, &got), KEEL_ERR_MALFORMED);
	put_be32(big + 24, 0xffffffff);
	CHECK_INT(keel_v1_hdr_decode(big, 28, &got), KEEL_ERR_MALFORMED);
	put_be32(big + 24, 0);
	CHECK_INT(keel_v1_hdr_decode(big, 28, &got), KEEL_ERR_MALFORMED);

	/* RFC 2408 §5.1: IKEv2 (major 2) is not ours */
	uint8_t v2[28];
	memcpy(v2, buf, 28);
	v2[17] = 0x20;
	CHECK_INT(keel_v1_hdr_decode(v2, 28, &got), KEEL_ERR_UNSUPPORTED);
	v2[17] = 0x00;
	CHECK_INT(keel_v1_hdr_decode(v2, 28, &got), KEEL_ERR_UNSUPPORTED);

	/* E flag: body opaque; an empty encrypted body is malformed */
	uint8_t enc[44];
	memcpy(enc, buf, 28);
	enc[16] = KEEL_V1_PL_HASH;
	enc[19] = KEEL_V1_FLAG_ENC;
	for (size_t i = 28; i < sizeof(enc); i++)
		enc[i] = (uint8_t)(0x80 + i);
	put_be32(enc + 24, sizeof(enc));
	CHECK_INT(keel_v1_msg_decode(enc, sizeof(enc), &m), 0);
	CHECK(m.enc == enc + 28);
	CHECK_INT(m.enc_len, 16);
	CHECK_INT(m.n_payloads, 0);
	put_be32(enc + 24, 28);
	CHECK_INT(keel_v1_msg_decode(enc, 28, &m), KEEL_ERR_MALFORMED);

	/* verify */
	struct keel_v1_hdr v = got;
	CHECK_INT(keel_v1_hdr_verify(&v), 0);
	v.version = 0x11; /* minor 1 */
	CHECK_INT(keel_v1_hdr_verify(&v), KEEL_ERR_MALFORMED);
	v = got;
	v.flags = 0x08;
	CHECK_INT(keel_v1_hdr_verify(&v), KEEL_ERR_MALFORMED);
	v = got;
	memset(v.cookie_i, 0, 8);
	CHECK_INT(keel_v1_hdr_verify(&v), KEEL_ERR_MALFORMED);
	v = got;
	v.msg_id = 7; /* phase 1 */
	CHECK_INT(keel_v1_hdr_verify(&v), KEEL_ERR_MALFORMED);
	v.exchange = KEEL_V1_EXCH_MAIN;
	CHECK_INT(keel_v1_hdr_verify(&v), KEEL_ERR_MALFORMED);
	v.exchange = KEEL_V1_EXCH_QUICK;
	CHECK_INT(keel_v1_hdr_verify(&v), 0);
	v.msg_id = 0;
	CHECK_INT(keel_v1_hdr_verify(&v), KEEL_ERR_MALFORMED);
	v.exchange = KEEL_V1_EXCH_INFO;
	CHECK_INT(keel_v1_hdr_verify(&v), 0);
	v.exchange = KEEL_V1_EXCH_TRANSACTION;
	CHECK_INT(keel_v1_hdr_verify(&v), 0);
	v.exchange = 99;
	CHECK_INT(keel_v1_hdr_verify(&v), KEEL_ERR_MALFORMED);
}

/* ------------------------------------------------------------------ */
/* Data attributes                                                    */

static void test_attributes(void)
{
	uint8_t buf[128];
	struct keel_wr w = keel_wr_init(buf, sizeof(buf));
	static const uint8_t life4[] = {0x00, 0x01, 0x51, 0x80}; /* 86400 */
	static const uint8_t life8[] = {0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02};
	static const uint8_t life3[] = {0x01, 0x02, 0x03};
	static const uint8_t nine[9] = {1};
	struct keel_v1_attr in[] = {
	    {.type = KEEL_V1_IKE_ATTR_ENCR, .basic = true, .basic_value = KEEL_V1_ENCR_AES_CBC},
	    {.type = KEEL_V1_IKE_ATTR_LIFE_DURATION, .value = life4, .len = 4},
	    {.type = KEEL_V1_IKE_ATTR_LIFE_DURATION, .value = life8, .len = 8},
	    {.type = KEEL_V1_IKE_ATTR_LIFE_DURATION, .value = life3, .len = 3},
	    {.type = KEEL_V1_CFG_XAUTH_USER_NAME, .value = NULL, .len = 0},
	    {.type = 0x7fff, .basic = true, .basic_value = 0xffff},
	    {.type = KEEL_V1_IKE_ATTR_GROUP_PRIME, .value = nine, .len = 9},
	};
	size_t n_in = sizeof(in) / sizeof(in[0]);

	for (size_t i = 0; i < n_in; i++)
		CHECK_INT(keel_v1_attr_write(&w, &in[i]), 0);
	ptrdiff_t len = keel_wr_finish(&w);
	CHECK_INT(len, 4 + 8 + 12 + 7 + 4 + 4 + 13);
	static const char want_hex[] = "8001 0007"
	                               "000c 0004 00015180"
	                               "000c 0008 0000000100000002"
	                               "000c 0003 010203"
	                               "4089 0000"
	                               "ffff ffff"
	                               "0006 0009 010000000000000000";
	size_t want_len;
	uint8_t *want = hex_decode(want_hex, &want_len);
	CHECK_MEM(buf, (size_t)len, want, want_len);
	free(want);

	struct keel_v1_attrs list;
	CHECK_INT(keel_v1_attrs_decode(buf, (size_t)len, &list), 0);
	CHECK_INT(list.n, n_in);
	for (size_t i = 0; i < n_in && i < list.n; i++) {
		CHECK_INT(list.a[i].type, in[i].type);
		CHECK_INT(list.a[i].basic, in[i].basic);
		CHECK_INT(list.a[i].basic_value, in[i].basic_value);
		CHECK_MEM(list.a[i].value, list.a[i].len, in[i].value, in[i].len);
	}

	/* integer helpers (RFC 2408 §3.3: a 4-byte TLV life duration is an integer) */
	uint64_t v64 = 0;
	uint32_t v32 = 0;
	CHECK_INT(keel_v1_attr_u32(&list.a[0], &v32), 0);
	CHECK_INT(v32, 7);
	CHECK_INT(keel_v1_attr_u32(&list.a[1], &v32), 0);
	CHECK_INT(v32, 86400);
	CHECK_INT(keel_v1_attr_u64(&list.a[2], &v64), 0);
	CHECK(v64 == 0x0000000100000002ULL);
	v32 = 42;
	CHECK_INT(keel_v1_attr_u32(&list.a[2], &v32), KEEL_ERR_MALFORMED);
	CHECK_INT(v32, 42); /* untouched on failure */
	CHECK_INT(keel_v1_attr_u32(&list.a[3], &v32), 0);
	CHECK_INT(v32, 0x010203);
	CHECK_INT(keel_v1_attr_u64(&list.a[4], &v64), KEEL_ERR_MALFORMED); /* empty */
	CHECK_INT(keel_v1_attr_u32(&list.a[5], &v32), 0);
	CHECK_INT(v32, 0xffff);
	CHECK_INT(keel_v1_attr_u64(&list.a[6], &v64), KEEL_ERR_MALFORMED); /* 9 bytes */

	/* find */
	CHECK(keel_v1_attrs_find(&list, KEEL_V1_IKE_ATTR_LIFE_DURATION) == &list.a[1]);
	CHECK(keel_v1_attrs_find(&list, KEEL_V1_IKE_ATTR_HASH) == NULL);

	/* write: values the format cannot carry */
	uint8_t small[8];
	struct keel_wr w2 = keel_wr_init(small, sizeof(small));
	struct keel_v1_attr bad = {.type = 0x8001, .basic = true};
	CHECK_INT(keel_v1_attr_write(&w2, &bad), KEEL_ERR_INVAL);
	bad = (struct keel_v1_attr){.type = 1, .value = nine, .len = 70000};
	CHECK_INT(keel_v1_attr_write(&w2, &bad), KEEL_ERR_INVAL);
	CHECK_INT(keel_wr_finish(&w2), 0);

	/* attribute length past the end, and a lone half attribute */
	static const uint8_t past[] = {0x00, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x51, 0x80};
	CHECK_INT(keel_v1_attrs_decode(past, sizeof(past), &list), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_v1_attrs_decode(past, 2, &list), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_v1_attrs_decode(past, 0, &list), 0);
	CHECK_INT(list.n, 0);
	for (size_t cut = 1; cut < (size_t)len; cut++) {
		uint8_t *c = dup_exact(buf, cut);
		int rc = keel_v1_attrs_decode(c, cut, &list);
		/* attribute boundaries: 4, 12, 24, 31, 35, 39 */
		bool boundary =
		    cut == 4 || cut == 12 || cut == 24 || cut == 31 || cut == 35 || cut == 39;
		CHECK_INT(rc, boundary ? 0 : KEEL_ERR_MALFORMED);
		free(c);
	}

	/* cap: KEEL_V1_MAX_ATTRS attributes fit, one more does not */
	uint8_t many[4 * (KEEL_V1_MAX_ATTRS + 1)];
	for (size_t i = 0; i < KEEL_V1_MAX_ATTRS + 1; i++) {
		many[4 * i] = 0x80;
		many[4 * i + 1] = 0x01;
		many[4 * i + 2] = 0x00;
		many[4 * i + 3] = (uint8_t)i;
	}
	CHECK_INT(keel_v1_attrs_decode(many, 4 * KEEL_V1_MAX_ATTRS, &list), 0);
	CHECK_INT(list.n, KEEL_V1_MAX_ATTRS);
	CHECK_INT(keel_v1_attrs_decode(many, sizeof(many), &list), KEEL_ERR_MALFORMED);

	/* reader form: one attribute at a time */
	struct keel_rd r = keel_rd_init(buf + 4, 8);
	struct keel_v1_attr one;
	CHECK_INT(keel_v1_attr_read(&r, &one), 0);
	CHECK(!one.basic && one.type == 12 && one.len == 4);
	CHECK(keel_rd_done(&r));
	r = keel_rd_init(past, 4);
	CHECK_INT(keel_v1_attr_read(&r, &one), KEEL_ERR_MALFORMED);
}

/* keel_v1_enc_attr_int picks the basic form when it can (strongSwan does too). */
static void test_attr_int_encoding(void)
{
	uint8_t buf[128];
	struct keel_wr w = keel_wr_init(buf, sizeof(buf));
	struct keel_v1_enc e;
	struct keel_v1_msg m;
	struct keel_v1_cfg cfg;
	struct keel_v1_attrs list;
	uint64_t v;

	keel_v1_enc_init(&e, &w, NULL);
	keel_v1_enc_cfg_begin(&e, KEEL_V1_CFG_SET, 1);
	keel_v1_enc_attr_int(&e, 1, 3600);
	keel_v1_enc_attr_int(&e, 2, 86400);
	keel_v1_enc_attr_int(&e, 3, 0x123456789aULL);
	keel_v1_enc_attr_int(&e, 4, 0xffff);
	keel_v1_enc_attr_int(&e, 5, 0x10000);
	keel_v1_enc_cfg_end(&e);
	ptrdiff_t n = keel_v1_enc_finish(&e);
	CHECK_INT(n, 4 + 4 + 4 + 8 + 12 + 4 + 8);
	CHECK_INT(e.first, KEEL_V1_PL_ATTR);
	CHECK_INT(keel_v1_chain_decode(e.first, buf, (size_t)n, false, &m), 0);
	CHECK_INT(keel_v1_cfg_decode(&m.pl[0], &cfg), 0);
	CHECK_INT(keel_v1_attrs_decode(cfg.attrs, cfg.attrs_len, &list), 0);
	CHECK_INT(list.n, 5);
	CHECK(list.a[0].basic);
	CHECK(!list.a[1].basic && list.a[1].len == 4);
	CHECK(!list.a[2].basic && list.a[2].len == 8);
	CHECK(list.a[3].basic);
	CHECK(!list.a[4].basic && list.a[4].len == 4);
	static const uint64_t want[] = {3600, 86400, 0x123456789aULL, 0xffff, 0x10000};
	for (size_t i = 0; i < 5; i++) {
		CHECK_INT(keel_v1_attr_u64(&list.a[i], &v), 0);
		CHECK(v == want[i]);
	}
}

/* ------------------------------------------------------------------ */
/* Round trip of every payload type                                   */

static size_t attrs_blob(uint8_t *buf, size_t cap, const struct keel_v1_attr *a, size_t n)
{
	struct keel_wr w = keel_wr_init(buf, cap);
	for (size_t i = 0; i < n; i++)
		if (keel_v1_attr_write(&w, &a[i]) != 0)
			abort();
	ptrdiff_t len = keel_wr_finish(&w);
	if (len < 0)
		abort();
	return (size_t)len;
}

static void check_sa_equal(const struct keel_v1_sa *got, const struct keel_v1_sa *want)
{
	CHECK_INT(got->doi, want->doi);
	CHECK_INT(got->situation, want->situation);
	CHECK_INT(got->n_proposals, want->n_proposals);
	CHECK_INT(got->n_transforms, want->n_transforms);
	if (got->n_proposals != want->n_proposals || got->n_transforms != want->n_transforms)
		return;
	for (size_t i = 0; i < got->n_proposals; i++) {
		const struct keel_v1_proposal *g = &got->proposals[i], *x = &want->proposals[i];
		CHECK_INT(g->number, x->number);
		CHECK_INT(g->protocol, x->protocol);
		CHECK_MEM(g->spi, g->spi_len, x->spi, x->spi_len);
		CHECK_INT(g->first, x->first);
		CHECK_INT(g->n_transforms, x->n_transforms);
	}
	for (size_t i = 0; i < got->n_transforms; i++) {
		const struct keel_v1_transform *g = &got->transforms[i], *x = &want->transforms[i];
		CHECK_INT(g->number, x->number);
		CHECK_INT(g->id, x->id);
		CHECK_MEM(g->attrs, g->attrs_len, x->attrs, x->attrs_len);
		CHECK_INT(g->n_attrs, x->n_attrs);
	}
}

/* The decoded structs, re-encoded in the same order, give the same bytes. */
static ptrdiff_t reencode(const struct keel_v1_msg *m, bool with_hdr, uint8_t *out, size_t cap)
{
	struct keel_wr w = keel_wr_init(out, cap);
	struct keel_v1_enc e;

	keel_v1_enc_init(&e, &w, with_hdr ? &m->hdr : NULL);
	for (size_t i = 0; i < m->n_payloads; i++) {
		const struct keel_v1_payload *pl = &m->pl[i];
		struct keel_v1_sa sa;
		struct keel_v1_id id;
		struct keel_v1_cert cert;
		struct keel_v1_notify n;
		struct keel_v1_delete d;
		struct keel_v1_nat_oa oa;
		struct keel_v1_cfg cfg;
		struct keel_v1_frag frag;
		switch (pl->type) {
		case KEEL_V1_PL_SA:
			CHECK_INT(keel_v1_sa_decode(pl, &sa), 0);
			keel_v1_enc_sa(&e, &sa);
			break;
		case KEEL_V1_PL_ID:
			CHECK_INT(keel_v1_id_decode(pl, &id), 0);
			keel_v1_enc_id(&e, &id);
			break;
		case KEEL_V1_PL_CERT:
		case KEEL_V1_PL_CR:
			CHECK_INT(keel_v1_cert_decode(pl, &cert), 0);
			keel_v1_enc_cert(&e, pl->type, &cert);
			break;
		case KEEL_V1_PL_NOTIFY:
			CHECK_INT(keel_v1_notify_decode(pl, &n), 0);
			keel_v1_enc_notify(&e, &n);
			break;
		case KEEL_V1_PL_DELETE:
			CHECK_INT(keel_v1_delete_decode(pl, &d), 0);
			keel_v1_enc_delete(&e, &d);
			break;
		case KEEL_V1_PL_NAT_OA:
		case KEEL_V1_PL_NAT_OA_DRAFT:
			CHECK_INT(keel_v1_nat_oa_decode(pl, &oa), 0);
			keel_v1_enc_nat_oa(&e, pl->type, &oa);
			break;
		case KEEL_V1_PL_ATTR:
			CHECK_INT(keel_v1_cfg_decode(pl, &cfg), 0);
			keel_v1_enc_cfg(&e, &cfg);
			break;
		case KEEL_V1_PL_FRAG:
			CHECK_INT(keel_v1_frag_decode(pl, &frag), 0);
			keel_v1_enc_frag(&e, &frag);
			break;
		default:
			keel_v1_enc_data(&e, pl->type, pl->body, pl->len);
			break;
		}
	}
	return keel_v1_enc_finish(&e);
}

static void test_roundtrip_all(void)
{
	static uint8_t buf[4096], again[4096];
	struct keel_wr w = keel_wr_init(buf, sizeof(buf));
	struct keel_v1_enc e;
	struct keel_v1_hdr hdr = make_hdr(KEEL_V1_EXCH_INFO, 0, 0x01020304);

	/* SA: an AH+ESP bundle (proposal 1 twice) and an ESP alternative (2) */
	uint8_t a1[64], a2[64], a3[64], a4[64];
	struct keel_v1_attr esp_attrs[] = {
	    {.type = KEEL_V1_IPSEC_ATTR_LIFE_TYPE, .basic = true, .basic_value = 1},
	    {.type = KEEL_V1_IPSEC_ATTR_LIFE_DURATION,
	     .value = (const uint8_t *)"\0\0\x70\x80",
	     .len = 4},
	    {.type = KEEL_V1_IPSEC_ATTR_ENCAP_MODE,
	     .basic = true,
	     .basic_value = KEEL_V1_ENCAP_UDP_TUNNEL},
	    {.type = KEEL_V1_IPSEC_ATTR_AUTH_ALG, .basic = true, .basic_value = 5},
	    {.type = KEEL_V1_IPSEC_ATTR_KEY_LENGTH, .basic = true, .basic_value = 256},
	};
	struct keel_v1_attr ah_attrs[] = {
	    {.type = KEEL_V1_IPSEC_ATTR_AUTH_ALG, .basic = true, .basic_value = 2},
	};
	static const uint8_t spi_ah[4] = {0xaa, 0, 0, 1}, spi_esp[4] = {0xee, 0, 0, 2},
	                     spi_esp2[4] = {0xee, 0, 0, 3};
	struct keel_v1_sa sa;
	memset(&sa, 0, sizeof(sa));
	sa.doi = KEEL_V1_DOI_IPSEC;
	sa.situation = KEEL_V1_SIT_IDENTITY_ONLY;
	sa.n_proposals = 3;
	sa.proposals[0] = (struct keel_v1_proposal){1, KEEL_V1_PROTO_AH, 4, spi_ah, 0, 1};
	sa.proposals[1] = (struct keel_v1_proposal){1, KEEL_V1_PROTO_ESP, 4, spi_esp, 1, 2};
	sa.proposals[2] = (struct keel_v1_proposal){2, KEEL_V1_PROTO_ESP, 4, spi_esp2, 3, 1};
	sa.n_transforms = 4;
	sa.transforms[0] = (struct keel_v1_transform){1, KEEL_V1_AH_SHA, a1,
	                                              attrs_blob(a1, sizeof(a1), ah_attrs, 1), 1};
	sa.transforms[1] = (struct keel_v1_transform){1, KEEL_V1_ESP_AES_CBC, a2,
	                                              attrs_blob(a2, sizeof(a2), esp_attrs, 5), 5};
	sa.transforms[2] = (struct keel_v1_transform){2, KEEL_V1_ESP_AES_GCM_16, a3,
	                                              attrs_blob(a3, sizeof(a3), esp_attrs, 3), 3};
	sa.transforms[3] = (struct keel_v1_transform){1, KEEL_V1_ESP_3DES, a4, 0, 0};

	uint8_t ke[128], hash[20], sig[70], nonce[32], natd[20], vid[16], cert_der[40];
	for (size_t i = 0; i < sizeof(ke); i++)
		ke[i] = (uint8_t)(i * 7 + 1);
	memset(hash, 0x48, sizeof(hash));
	memset(sig, 0x53, sizeof(sig));
	memset(nonce, 0x4e, sizeof(nonce));
	memset(natd, 0xd0, sizeof(natd));
	memcpy(vid, "\xaf\xca\xd7\x13\x68\xa1\xf1\xc9\x6b\x86\x96\xfc\x77\x57\x01\x00", 16);
	memset(cert_der, 0x30, sizeof(cert_der));
	static const uint8_t ipv4[4] = {192, 0, 2, 2},
	                     ipv6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	                                 0,    0,    0,    0,    0, 0, 0, 1};
	static const uint8_t subnet[8] = {198, 51, 100, 0, 255, 255, 255, 0};
	struct keel_v1_id id = {KEEL_V1_ID_IPV4_ADDR_SUBNET, 17, 4500, subnet, 8};
	struct keel_v1_cert cert = {KEEL_V1_CERT_X509_SIG, cert_der, sizeof(cert_der)};
	struct keel_v1_cert cr = {KEEL_V1_CERT_X509_SIG, NULL, 0};
	uint8_t cookies[16];
	memcpy(cookies, COOKIE_I, 8);
	memcpy(cookies + 8, COOKIE_R, 8);
	static const uint8_t seq[4] = {0, 0, 0x12, 0x34};
	struct keel_v1_notify n = {
	    KEEL_V1_DOI_IPSEC, KEEL_V1_PROTO_ISAKMP, 16, cookies, KEEL_V1_N_R_U_THERE, seq, 4};
	static const uint8_t spis[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct keel_v1_delete d = {KEEL_V1_DOI_IPSEC, KEEL_V1_PROTO_ESP, 4, 2, spis};
	struct keel_v1_nat_oa oa4 = {KEEL_V1_ID_IPV4_ADDR, ipv4, 4};
	struct keel_v1_nat_oa oa6 = {KEEL_V1_ID_IPV6_ADDR, ipv6, 16};
	uint8_t cfg_attrs[64];
	struct keel_v1_attr ca[] = {
	    {.type = KEEL_V1_CFG_INTERNAL_IP4_ADDRESS, .value = ipv4, .len = 4},
	    {.type = KEEL_V1_CFG_XAUTH_STATUS, .basic = true, .basic_value = 1},
	};
	struct keel_v1_cfg cfg = {KEEL_V1_CFG_SET, 0xbeef, cfg_attrs,
	                          attrs_blob(cfg_attrs, sizeof(cfg_attrs), ca, 2), 2};
	static const uint8_t frag_data[] = "fragment bytes";
	struct keel_v1_frag frag = {0x0102, 3, KEEL_V1_FRAG_LAST, frag_data, sizeof(frag_data)};

	keel_v1_enc_init(&e, &w, &hdr);
	keel_v1_enc_sa(&e, &sa);
	size_t sa_body_at = e.last_body_at, sa_body_len = e.last_body_len;
	keel_v1_enc_data(&e, KEEL_V1_PL_KE, ke, sizeof(ke));
	keel_v1_enc_id(&e, &id);
	size_t id_body_at = e.last_body_at;
	keel_v1_enc_cert(&e, KEEL_V1_PL_CERT, &cert);
	keel_v1_enc_cert(&e, KEEL_V1_PL_CR, &cr);
	keel_v1_enc_data(&e, KEEL_V1_PL_HASH, hash, sizeof(hash));
	keel_v1_enc_data(&e, KEEL_V1_PL_SIG, sig, sizeof(sig));
	keel_v1_enc_data(&e, KEEL_V1_PL_NONCE, nonce, sizeof(nonce));
	keel_v1_enc_notify(&e, &n);
	keel_v1_enc_delete(&e, &d);
	keel_v1_enc_data(&e, KEEL_V1_PL_VID, vid, sizeof(vid));
	keel_v1_enc_cfg(&e, &cfg);
	keel_v1_enc_data(&e, KEEL_V1_PL_NAT_D, natd, sizeof(natd));
	keel_v1_enc_data(&e, KEEL_V1_PL_NAT_D_DRAFT, natd, sizeof(natd));
	keel_v1_enc_nat_oa(&e, KEEL_V1_PL_NAT_OA, &oa4);
	keel_v1_enc_nat_oa(&e, KEEL_V1_PL_NAT_OA_DRAFT, &oa6);
	keel_v1_enc_frag(&e, &frag);
	ptrdiff_t len = keel_v1_enc_finish(&e);
	CHECK(len > 0);
	if (len <= 0)
		return;

	struct keel_v1_msg m;
	CHECK_INT(keel_v1_msg_decode(buf, (size_t)len, &m), 0);
	CHECK_INT(keel_v1_msg_verify(&m), 0);
	CHECK_INT(m.hdr.len, len);
	CHECK_INT(m.hdr.next, KEEL_V1_PL_SA);
	CHECK_INT(m.hdr.msg_id, 0x01020304);
	CHECK_INT(m.n_payloads, 17);
	CHECK_INT(m.chain_len, (size_t)len - KEEL_V1_HDR_LEN);
	CHECK_INT(m.pad_len, 0);
	static const uint8_t types[] = {1,  4,  5,  6,  7,   8,  9,   10, 11,
	                                12, 13, 14, 20, 130, 21, 131, 132};
	for (size_t i = 0; i < m.n_payloads && i < sizeof(types); i++)
		CHECK_INT(m.pl[i].type, types[i]);

	struct keel_v1_sa sa2;
	CHECK_INT(keel_v1_sa_decode(&m.pl[0], &sa2), 0);
	check_sa_equal(&sa2, &sa);
	CHECK_INT(keel_v1_sa_verify(&sa2), 0);
	/* SAi_b: the SA body as sent, for the RFC 2409 §5 hashes */
	CHECK(sa2.body == buf + sa_body_at);
	CHECK_INT(sa2.body_len, sa_body_len);
	CHECK(m.pl[2].body == buf + id_body_at);

	CHECK_MEM(m.pl[1].body, m.pl[1].len, ke, sizeof(ke));
	struct keel_v1_id id2;
	CHECK_INT(keel_v1_id_decode(&m.pl[2], &id2), 0);
	CHECK_INT(id2.type, id.type);
	CHECK_INT(id2.protocol, 17);
	CHECK_INT(id2.port, 4500);
	CHECK_MEM(id2.data, id2.len, subnet, 8);
	struct keel_v1_cert c2;
	CHECK_INT(keel_v1_cert_decode(&m.pl[3], &c2), 0);
	CHECK_INT(c2.encoding, KEEL_V1_CERT_X509_SIG);
	CHECK_MEM(c2.data, c2.len, cert_der, sizeof(cert_der));
	CHECK_INT(keel_v1_cert_decode(&m.pl[4], &c2), 0);
	CHECK_INT(c2.len, 0);
	CHECK_MEM(m.pl[5].body, m.pl[5].len, hash, sizeof(hash));
	CHECK_MEM(m.pl[6].body, m.pl[6].len, sig, sizeof(sig));
	CHECK_MEM(m.pl[7].body, m.pl[7].len, nonce, sizeof(nonce));
	struct keel_v1_notify n2;
	CHECK_INT(keel_v1_notify_decode(&m.pl[8], &n2), 0);
	CHECK_INT(n2.doi, 1);
	CHECK_INT(n2.protocol, KEEL_V1_PROTO_ISAKMP);
	CHECK_MEM(n2.spi, n2.spi_len, cookies, 16);
	CHECK_INT(n2.type, KEEL_V1_N_R_U_THERE);
	CHECK_MEM(n2.data, n2.len, seq, 4);
	struct keel_v1_delete d2;
	CHECK_INT(keel_v1_delete_decode(&m.pl[9], &d2), 0);
	CHECK_INT(d2.doi, 1);
	CHECK_INT(d2.protocol, KEEL_V1_PROTO_ESP);
	CHECK_INT(d2.spi_len, 4);
	CHECK_INT(d2.n_spis, 2);
	CHECK_MEM(keel_v1_delete_spi(&d2, 1), 4, spis + 4, 4);
	CHECK(keel_v1_delete_spi(&d2, 2) == NULL);
	CHECK_MEM(m.pl[10].body, m.pl[10].len, vid, sizeof(vid));
	struct keel_v1_cfg cfg2;
	CHECK_INT(keel_v1_cfg_decode(&m.pl[11], &cfg2), 0);
	CHECK_INT(cfg2.type, KEEL_V1_CFG_SET);
	CHECK_INT(cfg2.identifier, 0xbeef);
	CHECK_INT(cfg2.n_attrs, 2);
	CHECK_MEM(cfg2.attrs, cfg2.attrs_len, cfg.attrs, cfg.attrs_len);
	CHECK_MEM(m.pl[12].body, m.pl[12].len, natd, sizeof(natd));
	CHECK_MEM(m.pl[13].body, m.pl[13].len, natd, sizeof(natd));
	struct keel_v1_nat_oa oa2;
	CHECK_INT(keel_v1_nat_oa_decode(&m.pl[14], &oa2), 0);
	CHECK_INT(oa2.id_type, KEEL_V1_ID_IPV4_ADDR);
	CHECK_MEM(oa2.addr, oa2.len, ipv4, 4);
	CHECK_INT(keel_v1_nat_oa_decode(&m.pl[15], &oa2), 0);
	CHECK_INT(oa2.id_type, KEEL_V1_ID_IPV6_ADDR);
	CHECK_MEM(oa2.addr, oa2.len, ipv6, 16);
	struct keel_v1_frag f2;
	CHECK_INT(keel_v1_frag_decode(&m.pl[16], &f2), 0);
	CHECK_INT(f2.id, 0x0102);
	CHECK_INT(f2.number, 3);
	CHECK_INT(f2.flags, KEEL_V1_FRAG_LAST);
	CHECK_MEM(f2.data, f2.len, frag_data, sizeof(frag_data));

	/* typed decoders refuse the wrong payload */
	CHECK_INT(keel_v1_sa_decode(&m.pl[1], &sa2), KEEL_ERR_INVAL);
	CHECK_INT(keel_v1_id_decode(&m.pl[0], &id2), KEEL_ERR_INVAL);
	CHECK_INT(keel_v1_cfg_decode(&m.pl[0], &cfg2), KEEL_ERR_INVAL);

	/* lookup, with the NAT-T draft numbers folded in */
	const struct keel_v1_payload *p = keel_v1_msg_next(&m, KEEL_V1_PL_NAT_D, NULL);
	CHECK(p == &m.pl[12]);
	p = keel_v1_msg_next(&m, KEEL_V1_PL_NAT_D, p);
	CHECK(p == &m.pl[13]);
	CHECK(keel_v1_msg_next(&m, KEEL_V1_PL_NAT_D, p) == NULL);
	CHECK(keel_v1_msg_next(&m, KEEL_V1_PL_NAT_OA_DRAFT, NULL) == &m.pl[14]);
	CHECK(keel_v1_msg_next(&m, KEEL_V1_PL_VID, NULL) == &m.pl[10]);
	CHECK(keel_v1_msg_next(&m, KEEL_V1_PL_KE, &m.pl[1]) == NULL);

	/* encode(decode(encode(x))) == encode(x) */
	ptrdiff_t len2 = reencode(&m, true, again, sizeof(again));
	CHECK_MEM(again, (size_t)(len2 > 0 ? len2 : 0), buf, (size_t)len);

	/* every truncation fails without reading past the end */
	check_truncations_msg(buf, (size_t)len);
}

/* ------------------------------------------------------------------ */
/* Hand-built realistic messages                                      */

/* Aggressive Mode message 1 of an XAUTH-PSK client (RFC 2409 §5.4). */
static void build_aggr1(struct bytes *s)
{
	s->n = 0;
	put_hex(s, "1c2d3e4f50617283 0000000000000000 01 10 04 00 00000000 000001b4");
	/* SA: DOI 1, SIT_IDENTITY_ONLY, proposal 1 ISAKMP, transform 1 KEY_IKE */
	put_hex(s, "04 00 003c 00000001 00000001");
	put_hex(s, "00 00 0030 01 01 00 01");
	put_hex(s, "00 00 0028 01 01 0000");
	put_hex(s, "8001 0007"            /* AES-CBC */
	           "800e 0100"            /* 256-bit key */
	           "8002 0002"            /* SHA */
	           "8003 fde9"            /* XAUTHInitPreShared */
	           "8004 000e"            /* modp2048 */
	           "800b 0001"            /* seconds */
	           "000c 0004 00015180"); /* 86400, as a 4-byte TLV */
	/* KE: 256 bytes */
	put_hex(s, "0a 00 0104");
	put_fill(s, 256, 0xab);
	/* Nonce: 16 bytes */
	put_hex(s, "05 00 0014");
	put_fill(s, 16, 0x4e);
	/* ID: KEY_ID "vpngroup", UDP/500 */
	put_hex(s, "0d 00 0010 0b 11 01f4 76706e67726f7570");
	/* VIDs: XAUTH, DPD, RFC 3947 */
	put_hex(s, "0d 00 000c 09002689dfd6b712");
	put_hex(s, "0d 00 0014 afcad71368a1f1c96b8696fc77570100");
	put_hex(s, "00 00 0014 4a131c81070358455c5728f20e95452f");
}

static void test_aggressive_mode(void)
{
	struct bytes s;
	struct keel_v1_msg m;
	struct keel_v1_sa sa;
	struct keel_v1_attrs attrs;
	struct keel_v1_id id;

	build_aggr1(&s);
	CHECK_INT(s.n, 0x1b4);
	CHECK_INT(keel_v1_msg_decode(s.b, s.n, &m), 0);
	CHECK_INT(keel_v1_msg_verify(&m), 0);
	CHECK_INT(m.hdr.exchange, KEEL_V1_EXCH_AGGRESSIVE);
	CHECK_INT(m.n_payloads, 7);
	CHECK_INT(keel_v1_sa_decode(&m.pl[0], &sa), 0);
	CHECK_INT(sa.n_proposals, 1);
	CHECK_INT(sa.n_transforms, 1);
	CHECK_INT(sa.proposals[0].protocol, KEEL_V1_PROTO_ISAKMP);
	CHECK_INT(sa.proposals[0].spi_len, 0);
	CHECK_INT(sa.transforms[0].id, KEEL_V1_KEY_IKE);
	CHECK_INT(sa.transforms[0].n_attrs, 7);
	CHECK(sa.body == s.b + 28 + 4);
	CHECK_INT(sa.body_len, 0x3c - 4);
	CHECK_INT(keel_v1_attrs_decode(sa.transforms[0].attrs, sa.transforms[0].attrs_len, &attrs),
	          0);
	uint32_t v = 0;
	CHECK_INT(keel_v1_attr_u32(keel_v1_attrs_find(&attrs, KEEL_V1_IKE_ATTR_AUTH_METHOD), &v),
	          0);
	CHECK_INT(v, KEEL_V1_AUTH_XAUTH_INIT_PSK);
	CHECK_INT(keel_v1_attr_u32(keel_v1_attrs_find(&attrs, KEEL_V1_IKE_ATTR_LIFE_DURATION), &v),
	          0);
	CHECK_INT(v, 86400);
	CHECK_INT(keel_v1_attr_u32(keel_v1_attrs_find(&attrs, KEEL_V1_IKE_ATTR_KEY_LENGTH), &v), 0);
	CHECK_INT(v, 256);
	CHECK_INT(m.pl[1].type, KEEL_V1_PL_KE);
	CHECK_INT(m.pl[1].len, 256);
	CHECK_INT(m.pl[2].len, 16);
	CHECK_INT(keel_v1_id_decode(&m.pl[3], &id), 0);
	CHECK_INT(id.type, KEEL_V1_ID_KEY_ID);
	CHECK_INT(id.protocol, 17);
	CHECK_INT(id.port, 500);
	CHECK_MEM(id.data, id.len, "vpngroup", 8);
	int vids = 0;
	for (const struct keel_v1_payload *p = keel_v1_msg_next(&m, KEEL_V1_PL_VID, NULL); p;
	     p = keel_v1_msg_next(&m, KEEL_V1_PL_VID, p))
		vids++;
	CHECK_INT(vids, 3);

	/* the encoder writes the same bytes */
	uint8_t out[1024];
	uint8_t ke[256], nonce[16];
	memset(ke, 0xab, sizeof(ke));
	memset(nonce, 0x4e, sizeof(nonce));
	struct keel_wr w = keel_wr_init(out, sizeof(out));
	struct keel_v1_enc e;
	struct keel_v1_hdr h = make_hdr(KEEL_V1_EXCH_AGGRESSIVE, 0, 0);
	memset(h.cookie_r, 0, 8);
	keel_v1_enc_init(&e, &w, &h);
	keel_v1_enc_sa_begin(&e, KEEL_V1_DOI_IPSEC, KEEL_V1_SIT_IDENTITY_ONLY);
	keel_v1_enc_proposal_begin(&e, 1, KEEL_V1_PROTO_ISAKMP, NULL, 0);
	keel_v1_enc_transform_begin(&e, 1, KEEL_V1_KEY_IKE);
	keel_v1_enc_attr_basic(&e, KEEL_V1_IKE_ATTR_ENCR, KEEL_V1_ENCR_AES_CBC);
	keel_v1_enc_attr_basic(&e, KEEL_V1_IKE_ATTR_KEY_LENGTH, 256);
	keel_v1_enc_attr_basic(&e, KEEL_V1_IKE_ATTR_HASH, KEEL_V1_HASH_SHA1);
	keel_v1_enc_attr_basic(&e, KEEL_V1_IKE_ATTR_AUTH_METHOD, KEEL_V1_AUTH_XAUTH_INIT_PSK);
	keel_v1_enc_attr_basic(&e, KEEL_V1_IKE_ATTR_GROUP_DESC, 14);
	keel_v1_enc_attr_basic(&e, KEEL_V1_IKE_ATTR_LIFE_TYPE, KEEL_V1_LIFE_SECONDS);
	keel_v1_enc_attr_var(&e, KEEL_V1_IKE_ATTR_LIFE_DURATION, "\x00\x01\x51\x80", 4);
	keel_v1_enc_transform_end(&e);
	keel_v1_enc_proposal_end(&e);
	keel_v1_enc_sa_end(&e);
	CHECK(e.last_body_at == 28 + 4 && e.last_body_len == 0x3c - 4);
	keel_v1_enc_data(&e, KEEL_V1_PL_KE, ke, sizeof(ke));
	keel_v1_enc_data(&e, KEEL_V1_PL_NONCE, nonce, sizeof(nonce));
	struct keel_v1_id myid = {KEEL_V1_ID_KEY_ID, 17, 500, (const uint8_t *)"vpngroup", 8};
	keel_v1_enc_id(&e, &myid);
	keel_v1_enc_data(&e, KEEL_V1_PL_VID, "\x09\x00\x26\x89\xdf\xd6\xb7\x12", 8);
	keel_v1_enc_data(&e, KEEL_V1_PL_VID,
	                 "\xaf\xca\xd7\x13\x68\xa1\xf1\xc9\x6b\x86\x96\xfc\x77\x57\x01\x00", 16);
	keel_v1_enc_data(&e, KEEL_V1_PL_VID,
	                 "\x4a\x13\x1c\x81\x07\x03\x58\x45\x5c\x57\x28\xf2\x0e\x95\x45\x2f", 16);
	ptrdiff_t n = keel_v1_enc_finish(&e);
	CHECK_MEM(out, (size_t)(n > 0 ? n : 0), s.b, s.n);

	check_truncations_msg(s.b, s.n);
}

/* Quick Mode message 1 (RFC 2409 §5.5), as decrypted: HASH(1), SA, Ni, IDci, IDcr. */
static void build_quick1_chain(struct bytes *s)
{
	s->n = 0;
	put_hex(s, "01 00 0018");
	put_fill(s, 20, 0x11);
	put_hex(s, "0a 00 0034 00000001 00000001");
	put_hex(s, "00 00 0028 01 03 04 01 c0ffee01");
	put_hex(s, "00 00 001c 01 0c 0000"
	           "8001 0001"   /* seconds */
	           "8002 0e10"   /* 3600 */
	           "8004 0003"   /* UDP-Encapsulated-Tunnel */
	           "8005 0002"   /* HMAC-SHA */
	           "8006 0100"); /* 256-bit key */
	put_hex(s, "05 00 0014");
	put_fill(s, 16, 0x22);
	put_hex(s, "05 00 000c 01 00 0000 64400005");
	put_hex(s, "00 00 0010 04 00 0000 c6336400 ffffff00");
}

static void test_quick_mode(void)
{
	struct bytes chain, msg;
	struct keel_v1_msg m;
	struct keel_v1_sa sa;
	struct keel_v1_id id;

	build_quick1_chain(&chain);
	CHECK_INT(chain.n, 124);

	/* on the wire: header with E set, body padded to 128 bytes, then encrypted */
	msg.n = 0;
	put_hex(&msg, "1c2d3e4f50617283 94a5b6c7d8e9fa0b 08 10 20 01 1a2b3c4d 0000009c");
	memcpy(msg.b + msg.n, chain.b, chain.n);
	msg.n += chain.n;
	put_fill(&msg, 4, 0);
	CHECK_INT(keel_v1_msg_decode(msg.b, msg.n, &m), 0);
	CHECK_INT(m.hdr.exchange, KEEL_V1_EXCH_QUICK);
	CHECK_INT(m.hdr.next, KEEL_V1_PL_HASH);
	CHECK(m.enc == msg.b + 28);
	CHECK_INT(m.enc_len, 128);
	CHECK_INT(m.n_payloads, 0);

	/* "decrypted" (here: the cleartext as is) body with its padding */
	CHECK_INT(keel_v1_chain_decode(m.hdr.next, m.enc, m.enc_len, true, &m), 0);
	CHECK_INT(keel_v1_msg_verify(&m), 0);
	CHECK_INT(m.n_payloads, 5);
	CHECK_INT(m.chain_len, 124);
	CHECK_INT(m.pad_len, 4);
	/* HASH(1) covers everything after the HASH payload, without padding */
	CHECK(m.pl[1].raw == msg.b + 28 + 24);
	CHECK_INT(m.pl[4].raw + m.pl[4].raw_len - m.pl[1].raw, 100);
	/* cleartext chains do not take padding */
	CHECK_INT(keel_v1_chain_decode(m.hdr.next, m.enc, m.enc_len, false, &m),
	          KEEL_ERR_MALFORMED);

	CHECK_INT(keel_v1_sa_decode(&m.pl[1], &sa), 0);
	CHECK_INT(keel_v1_sa_verify(&sa), 0);
	CHECK_INT(sa.proposals[0].protocol, KEEL_V1_PROTO_ESP);
	CHECK_MEM(sa.proposals[0].spi, sa.proposals[0].spi_len, "\xc0\xff\xee\x01", 4);
	CHECK_INT(sa.transforms[0].id, KEEL_V1_ESP_AES_CBC);
	struct keel_v1_attrs attrs;
	uint32_t v = 0;
	CHECK_INT(keel_v1_attrs_decode(sa.transforms[0].attrs, sa.transforms[0].attrs_len, &attrs),
	          0);
	CHECK_INT(keel_v1_attr_u32(keel_v1_attrs_find(&attrs, KEEL_V1_IPSEC_ATTR_ENCAP_MODE), &v),
	          0);
	CHECK_INT(v, KEEL_V1_ENCAP_UDP_TUNNEL);
	CHECK_INT(keel_v1_id_decode(&m.pl[3], &id), 0);
	CHECK_INT(id.type, KEEL_V1_ID_IPV4_ADDR);
	CHECK_MEM(id.data, id.len, "\x64\x40\x00\x05", 4);
	CHECK_INT(keel_v1_id_verify(&id), 0);
	CHECK_INT(keel_v1_id_decode(&m.pl[4], &id), 0);
	CHECK_INT(id.type, KEEL_V1_ID_IPV4_ADDR_SUBNET);
	CHECK_MEM(id.data, id.len, "\xc6\x33\x64\x00\xff\xff\xff\x00", 8);

	/* the encoder, with a hash slot and padding, writes the same bytes */
	uint8_t out[512], fill[20];
	struct keel_wr w = keel_wr_init(out, sizeof(out));
	struct keel_v1_enc e;
	struct keel_v1_hdr h = make_hdr(KEEL_V1_EXCH_QUICK, KEEL_V1_FLAG_ENC, 0x1a2b3c4d);
	keel_v1_enc_init(&e, &w, &h);
	ptrdiff_t hash_at = keel_v1_enc_hash_slot(&e, 20);
	CHECK_INT(hash_at, 28 + 4);
	keel_v1_enc_sa_begin(&e, KEEL_V1_DOI_IPSEC, KEEL_V1_SIT_IDENTITY_ONLY);
	keel_v1_enc_proposal_begin(&e, 1, KEEL_V1_PROTO_ESP, (const uint8_t *)"\xc0\xff\xee\x01",
	                           4);
	keel_v1_enc_transform_begin(&e, 1, KEEL_V1_ESP_AES_CBC);
	keel_v1_enc_attr_int(&e, KEEL_V1_IPSEC_ATTR_LIFE_TYPE, KEEL_V1_LIFE_SECONDS);
	keel_v1_enc_attr_int(&e, KEEL_V1_IPSEC_ATTR_LIFE_DURATION, 3600);
	keel_v1_enc_attr_basic(&e, KEEL_V1_IPSEC_ATTR_ENCAP_MODE, KEEL_V1_ENCAP_UDP_TUNNEL);
	keel_v1_enc_attr_basic(&e, KEEL_V1_IPSEC_ATTR_AUTH_ALG, KEEL_V1_IPSEC_AUTH_HMAC_SHA1);
	keel_v1_enc_attr_basic(&e, KEEL_V1_IPSEC_ATTR_KEY_LENGTH, 256);
	keel_v1_enc_transform_end(&e);
	keel_v1_enc_proposal_end(&e);
	keel_v1_enc_sa_end(&e);
	memset(fill, 0x22, 16);
	keel_v1_enc_data(&e, KEEL_V1_PL_NONCE, fill, 16);
	struct keel_v1_id idci = {KEEL_V1_ID_IPV4_ADDR, 0, 0, (const uint8_t *)"\x64\x40\x00\x05",
	                          4};
	struct keel_v1_id idcr = {KEEL_V1_ID_IPV4_ADDR_SUBNET, 0, 0,
	                          (const uint8_t *)"\xc6\x33\x64\x00\xff\xff\xff\x00", 8};
	keel_v1_enc_id(&e, &idci);
	keel_v1_enc_id(&e, &idcr);
	size_t chain_end = keel_wr_pos(&w);
	CHECK_INT(chain_end, 28 + 124);
	keel_v1_enc_pad(&e, 16);
	/* nothing may follow the padding */
	ptrdiff_t n = keel_v1_enc_finish(&e);
	CHECK_INT(n, 156);
	if (hash_at > 0 && n == 156) {
		memset(fill, 0x11, 20);
		memcpy(out + hash_at, fill, 20); /* the engine fills in HASH(1) */
		CHECK_MEM(out, 156, msg.b, msg.n);
	}
	struct keel_wr w2 = keel_wr_init(out, sizeof(out));
	keel_v1_enc_init(&e, &w2, &h);
	keel_v1_enc_data(&e, KEEL_V1_PL_NONCE, fill, 16);
	keel_v1_enc_pad(&e, 16);
	keel_v1_enc_data(&e, KEEL_V1_PL_VID, fill, 16);
	CHECK_INT(keel_v1_enc_finish(&e), KEEL_ERR_STATE);

	check_truncations_chain(KEEL_V1_PL_HASH, chain.b, chain.n);
}

/* XAUTH request from the gateway (draft-beaulieu-ike-xauth-02 §4.1), decrypted. */
static void test_xauth_request(void)
{
	struct bytes s;
	struct keel_v1_msg m;
	struct keel_v1_cfg cfg;
	struct keel_v1_attrs attrs;

	s.n = 0;
	put_hex(&s, "0e 00 0018");
	put_fill(&s, 20, 0x33);
	put_hex(&s, "00 00 001d 01 00 5a5a"
	            "c088 0000"              /* XAUTH-TYPE Generic */
	            "4089 0000"              /* XAUTH-USER-NAME, asked for */
	            "408a 0000"              /* XAUTH-USER-PASSWORD, asked for */
	            "408c 0005 456e746572"); /* XAUTH-MESSAGE "Enter" */
	CHECK_INT(s.n, 53);
	size_t chain_n = s.n;
	/* padding whose last byte is its length, as some gateways send it */
	put_hex(&s, "00000000 00000000 00000a");

	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_HASH, s.b, s.n, true, &m), 0);
	CHECK_INT(m.n_payloads, 2);
	CHECK_INT(m.pad_len, 11);
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_HASH, s.b, s.n, false, &m), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_HASH, s.b, chain_n, false, &m), 0);
	for (size_t i = 0; i < m.n_payloads; i++)
		CHECK_INT(keel_v1_payload_verify(&m.pl[i]), 0);
	CHECK_INT(keel_v1_cfg_decode(&m.pl[1], &cfg), 0);
	CHECK_INT(keel_v1_cfg_verify(&cfg), 0);
	CHECK_INT(cfg.type, KEEL_V1_CFG_REQUEST);
	CHECK_INT(cfg.identifier, 0x5a5a);
	CHECK_INT(cfg.n_attrs, 4);
	CHECK_INT(keel_v1_attrs_decode(cfg.attrs, cfg.attrs_len, &attrs), 0);
	CHECK_INT(attrs.a[0].type, KEEL_V1_CFG_XAUTH_TYPE);
	CHECK(attrs.a[0].basic && attrs.a[0].basic_value == KEEL_V1_XAUTH_TYPE_GENERIC);
	CHECK_INT(attrs.a[1].type, KEEL_V1_CFG_XAUTH_USER_NAME);
	CHECK(!attrs.a[1].basic && attrs.a[1].len == 0);
	CHECK_INT(attrs.a[2].type, KEEL_V1_CFG_XAUTH_USER_PASSWORD);
	const struct keel_v1_attr *msg = keel_v1_attrs_find(&attrs, KEEL_V1_CFG_XAUTH_MESSAGE);
	CHECK(msg != NULL);
	if (msg)
		CHECK_MEM(msg->value, msg->len, "Enter", 5);

	/* the encoder writes the same bytes */
	uint8_t out[128], hash[20];
	memset(hash, 0x33, sizeof(hash));
	struct keel_wr w = keel_wr_init(out, sizeof(out));
	struct keel_v1_enc e;
	keel_v1_enc_init(&e, &w, NULL);
	keel_v1_enc_data(&e, KEEL_V1_PL_HASH, hash, sizeof(hash));
	keel_v1_enc_cfg_begin(&e, KEEL_V1_CFG_REQUEST, 0x5a5a);
	keel_v1_enc_attr_basic(&e, KEEL_V1_CFG_XAUTH_TYPE, KEEL_V1_XAUTH_TYPE_GENERIC);
	keel_v1_enc_attr_var(&e, KEEL_V1_CFG_XAUTH_USER_NAME, NULL, 0);
	keel_v1_enc_attr_var(&e, KEEL_V1_CFG_XAUTH_USER_PASSWORD, NULL, 0);
	keel_v1_enc_attr_var(&e, KEEL_V1_CFG_XAUTH_MESSAGE, "Enter", 5);
	keel_v1_enc_cfg_end(&e);
	ptrdiff_t n = keel_v1_enc_finish(&e);
	CHECK_INT(e.first, KEEL_V1_PL_HASH);
	CHECK_MEM(out, (size_t)(n > 0 ? n : 0), s.b, chain_n);

	check_truncations_chain(KEEL_V1_PL_HASH, s.b, chain_n);

	/* an attribute whose length runs past the payload */
	struct bytes bad = s;
	bad.b[24 + 8 + 12 + 3] = 0x06; /* XAUTH-MESSAGE length 5 -> 6 */
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_HASH, bad.b, chain_n, false, &m),
	          KEEL_ERR_MALFORMED);
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_HASH, bad.b, bad.n, true, &m),
	          KEEL_ERR_MALFORMED);
}

/* Mode Config reply with Cisco Unity attributes (draft-dukes-ike-mode-cfg-02 §4). */
static void test_modecfg_reply(void)
{
	struct bytes s;
	struct keel_v1_msg m;
	struct keel_v1_cfg cfg;
	struct keel_v1_attrs attrs;

	s.n = 0;
	put_hex(&s, "0e 00 0018");
	put_fill(&s, 20, 0x44);
	put_hex(&s, "00 00 0060 02 00 1234"
	            "0001 0004 64400005"               /* INTERNAL_IP4_ADDRESS 100.64.0.5 */
	            "0002 0004 ffffff00"               /* INTERNAL_IP4_NETMASK */
	            "0003 0004 c6336401"               /* INTERNAL_IP4_DNS 198.51.100.1 */
	            "7002 000b 6578616d706c652e6f7267" /* UNITY_DEF_DOMAIN example.org */
	            "7004 001c"                        /* UNITY_SPLIT_INCLUDE, 2 entries */
	            "c6336400 ffffff00 0000 0000 0000" /* 198.51.100.0/24 */
	            "c0000200 ffffff80 0006 0000 0016" /* 192.0.2.0/25 tcp/22 */
	            "7000 0005 48656c6c6f"             /* UNITY_BANNER "Hello" */
	            "f001 0000"                        /* UNITY_SAVE_PASSWD 0 */
	            "f007 0001");                      /* UNITY_PFS 1 */
	CHECK_INT(s.n, 120);
	put_fill(&s, 8, 0);

	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_HASH, s.b, s.n, true, &m), 0);
	CHECK_INT(m.pad_len, 8);
	CHECK_INT(keel_v1_cfg_decode(&m.pl[1], &cfg), 0);
	CHECK_INT(cfg.type, KEEL_V1_CFG_REPLY);
	CHECK_INT(cfg.identifier, 0x1234);
	CHECK_INT(keel_v1_attrs_decode(cfg.attrs, cfg.attrs_len, &attrs), 0);
	CHECK_INT(attrs.n, 8);
	const struct keel_v1_attr *a = keel_v1_attrs_find(&attrs, KEEL_V1_CFG_INTERNAL_IP4_ADDRESS);
	CHECK(a && a->len == 4 && memcmp(a->value, "\x64\x40\x00\x05", 4) == 0);
	a = keel_v1_attrs_find(&attrs, KEEL_V1_CFG_UNITY_DEF_DOMAIN);
	CHECK(a && a->len == 11 && memcmp(a->value, "example.org", 11) == 0);
	a = keel_v1_attrs_find(&attrs, KEEL_V1_CFG_UNITY_PFS);
	CHECK(a && a->basic && a->basic_value == 1);

	a = keel_v1_attrs_find(&attrs, KEEL_V1_CFG_UNITY_SPLIT_INCLUDE);
	CHECK(a != NULL);
	if (!a)
		return;
	struct keel_v1_unity_net nets[4];
	CHECK_INT(keel_v1_unity_split_decode(a, nets, 4), 2);
	CHECK_MEM(nets[0].addr, 4, "\xc6\x33\x64\x00", 4);
	CHECK_MEM(nets[0].mask, 4, "\xff\xff\xff\x00", 4);
	CHECK_INT(nets[0].protocol, 0);
	CHECK_MEM(nets[1].addr, 4, "\xc0\x00\x02\x00", 4);
	CHECK_MEM(nets[1].mask, 4, "\xff\xff\xff\x80", 4);
	CHECK_INT(nets[1].protocol, 6);
	CHECK_INT(nets[1].sport, 0);
	CHECK_INT(nets[1].dport, 22);
	CHECK_INT(keel_v1_unity_split_decode(a, nets, 1), KEEL_ERR_NOBUF);

	/* the writer gives the same value back */
	uint8_t val[64];
	struct keel_wr w = keel_wr_init(val, sizeof(val));
	keel_v1_unity_split_write(&w, nets, 2);
	CHECK_MEM(val, (size_t)keel_wr_finish(&w), a->value, a->len);

	/* an 8-byte last entry (no ports) is taken; other lengths are not */
	struct keel_v1_attr short_last = *a;
	short_last.len = 14 + 8;
	CHECK_INT(keel_v1_unity_split_decode(&short_last, nets, 4), 2);
	CHECK_MEM(nets[1].mask, 4, "\xff\xff\xff\x80", 4);
	CHECK_INT(nets[1].dport, 0);
	for (size_t len = 0; len < a->len; len++) {
		struct keel_v1_attr cut = *a;
		cut.len = len;
		ptrdiff_t rc = keel_v1_unity_split_decode(&cut, nets, 4);
		ptrdiff_t want = len == 0 ? 0 : len == 8 || len == 14 ? 1 : len == 22 ? 2 : -2;
		CHECK_INT(rc, want);
	}
	struct keel_v1_attr basic = {.type = KEEL_V1_CFG_UNITY_SPLIT_INCLUDE, .basic = true};
	CHECK_INT(keel_v1_unity_split_decode(&basic, nets, 4), KEEL_ERR_MALFORMED);

	check_truncations_chain(KEEL_V1_PL_HASH, s.b, 120);
}

/* ------------------------------------------------------------------ */
/* Malformed input                                                    */

static void test_malformed_chain(void)
{
	struct keel_v1_msg m;
	uint8_t buf[512];

	/* payload length below 4 (would loop forever if taken) */
	static const uint8_t len0[] = {0x00, 0x00, 0x00, 0x00};
	static const uint8_t len3[] = {0x00, 0x00, 0x00, 0x03, 0x00};
	static const uint8_t len4[] = {0x00, 0x00, 0x00, 0x04};
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_VID, len0, 4, false, &m), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_VID, len3, 5, false, &m), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_VID, len4, 4, false, &m), 0);
	CHECK_INT(m.n_payloads, 1);
	CHECK_INT(m.pl[0].len, 0);
	/* a zero-length chain of VIDs pointing at each other ends at the cap */
	uint8_t loop[4 * (KEEL_V1_MAX_PAYLOADS + 1)];
	for (size_t i = 0; i < KEEL_V1_MAX_PAYLOADS + 1; i++) {
		loop[4 * i] = KEEL_V1_PL_VID;
		loop[4 * i + 1] = 0;
		loop[4 * i + 2] = 0;
		loop[4 * i + 3] = 4;
	}
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_VID, loop, sizeof(loop), false, &m),
	          KEEL_ERR_MALFORMED);
	loop[4 * (KEEL_V1_MAX_PAYLOADS - 1)] = 0; /* the 32nd ends the chain: fits */
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_VID, loop, 4 * KEEL_V1_MAX_PAYLOADS, false, &m),
	          0);
	CHECK_INT(m.n_payloads, KEEL_V1_MAX_PAYLOADS);

	/* too many payloads, encoded properly */
	struct keel_wr w = keel_wr_init(buf, sizeof(buf));
	struct keel_v1_enc e;
	keel_v1_enc_init(&e, &w, NULL);
	for (size_t i = 0; i < KEEL_V1_MAX_PAYLOADS + 1; i++)
		keel_v1_enc_data(&e, KEEL_V1_PL_VID, "vid", 3);
	ptrdiff_t n = keel_v1_enc_finish(&e);
	CHECK_INT(n, 7 * (KEEL_V1_MAX_PAYLOADS + 1));
	CHECK_INT(keel_v1_chain_decode(e.first, buf, (size_t)n, false, &m), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_v1_chain_decode(e.first, buf, (size_t)n, true, &m), KEEL_ERR_MALFORMED);

	/* length past the end */
	static const uint8_t past[] = {0x00, 0x00, 0x00, 0x09, 1, 2, 3, 4};
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_VID, past, sizeof(past), true, &m),
	          KEEL_ERR_MALFORMED);
	/* next payload announced but absent */
	static const uint8_t dangling[] = {KEEL_V1_PL_VID, 0x00, 0x00, 0x04};
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_VID, dangling, 4, true, &m), KEEL_ERR_MALFORMED);
	/* empty chain */
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_NONE, NULL, 0, false, &m), 0);
	CHECK_INT(m.n_payloads, 0);
	/* padding: up to 255 bytes after the last payload, only when padded */
	uint8_t padded[4 + 256] = {0x00, 0x00, 0x00, 0x04};
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_VID, padded, 4 + 255, true, &m), 0);
	CHECK_INT(m.pad_len, 255);
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_VID, padded, 4 + 256, true, &m),
	          KEEL_ERR_MALFORMED);
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_VID, padded, 4 + 1, false, &m),
	          KEEL_ERR_MALFORMED);

	/* an unknown payload type decodes (opaque) but does not verify */
	static const uint8_t unknown[] = {0x00, 0x00, 0x00, 0x06, 0xaa, 0xbb};
	CHECK_INT(keel_v1_chain_decode(99, unknown, sizeof(unknown), false, &m), 0);
	CHECK_INT(keel_v1_payload_verify(&m.pl[0]), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_v1_chain_decode(KEEL_V1_PL_PROPOSAL, unknown, sizeof(unknown), false, &m),
	          0);
	CHECK_INT(keel_v1_payload_verify(&m.pl[0]), KEEL_ERR_MALFORMED);
}

/* An SA payload body as a one-payload chain; returns decode + verify result. */
static int sa_chain(const char *hex, struct keel_v1_sa *sa, bool verify)
{
	size_t len;
	uint8_t *body = hex_decode(hex, &len);
	uint8_t *chain = malloc(len + 4);
	struct keel_v1_msg m;
	int rc;

	if (!chain)
		abort();
	chain[0] = 0;
	chain[1] = 0;
	chain[2] = (uint8_t)((len + 4) >> 8);
	chain[3] = (uint8_t)(len + 4);
	memcpy(chain + 4, body, len);
	free(body);
	rc = keel_v1_chain_decode(KEEL_V1_PL_SA, chain, len + 4, false, &m);
	if (rc == 0)
		rc = keel_v1_sa_decode(&m.pl[0], sa);
	if (rc == 0 && verify)
		rc = keel_v1_sa_verify(sa);
	free(chain);
	return rc;
}

static void test_malformed_sa(void)
{
	static struct keel_v1_sa sa;

	/* the reference: one ESP proposal with two transforms */
	static const char ok[] = "00000001 00000001"
	                         "00 00 0020 01 03 04 02 11223344"
	                         "03 00 0008 01 0c 0000"
	                         "00 00 000c 02 03 0000 8001 0001";
	CHECK_INT(sa_chain(ok, &sa, true), 0);
	CHECK_INT(sa.n_transforms, 2);
	CHECK_INT(sa.transforms[0].n_attrs, 0);
	CHECK_INT(sa.transforms[1].n_attrs, 1);

	/* "# of Transforms" says 3 */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 0020 01 03 04 03 11223344"
	                   "03 00 0008 01 0c 0000"
	                   "00 00 000c 02 03 0000 8001 0001",
	                   &sa, false),
	          KEEL_ERR_MALFORMED);
	/* a transform claims a successor that is not there */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 001c 01 03 04 02 11223344"
	                   "03 00 0008 01 0c 0000"
	                   "03 00 0008 02 03 0000",
	                   &sa, false),
	          KEEL_ERR_MALFORMED);
	/* the first transform says it is the last */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 001c 01 03 04 02 11223344"
	                   "00 00 0008 01 0c 0000"
	                   "00 00 0008 02 03 0000",
	                   &sa, false),
	          KEEL_ERR_MALFORMED);
	/* a proposal's next payload is neither 2 nor 0 */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "03 00 0014 01 03 04 01 11223344"
	                   "00 00 0008 01 0c 0000",
	                   &sa, false),
	          KEEL_ERR_MALFORMED);
	/* a proposal announced but missing */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "02 00 0014 01 03 04 01 11223344"
	                   "00 00 0008 01 0c 0000",
	                   &sa, false),
	          KEEL_ERR_MALFORMED);
	/* bytes after the last proposal */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 0014 01 03 04 01 11223344"
	                   "00 00 0008 01 0c 0000 00000000",
	                   &sa, false),
	          KEEL_ERR_MALFORMED);
	/* proposal and transform lengths below their fixed parts */
	CHECK_INT(sa_chain("00000001 00000001 00 00 0004", &sa, false), KEEL_ERR_MALFORMED);
	CHECK_INT(sa_chain("00000001 00000001 00 00 0007 01 03 04", &sa, false),
	          KEEL_ERR_MALFORMED);
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 000c 01 01 00 01"
	                   "00 00 0004",
	                   &sa, false),
	          KEEL_ERR_MALFORMED);
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 0000 01 01 00 01",
	                   &sa, false),
	          KEEL_ERR_MALFORMED);
	/* SPI size past the proposal */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 000c 01 03 08 00 11223344",
	                   &sa, false),
	          KEEL_ERR_MALFORMED);
	/* transform attribute running past the transform */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 0018 01 03 04 01 11223344"
	                   "00 00 000c 01 0c 0000 000c 0004",
	                   &sa, false),
	          KEEL_ERR_MALFORMED);
	/* DOI/situation cut short */
	CHECK_INT(sa_chain("00000001 0000", &sa, false), KEEL_ERR_MALFORMED);
	/* labelled situations are not parsed */
	CHECK_INT(sa_chain("00000001 00000003", &sa, false), KEEL_ERR_UNSUPPORTED);

	/* verify rejections */
	CHECK_INT(sa_chain("00000002 00000001"
	                   "00 00 0014 01 03 04 01 11223344"
	                   "00 00 0008 01 0c 0000",
	                   &sa, true),
	          KEEL_ERR_MALFORMED); /* DOI 2 */
	CHECK_INT(sa_chain("00000001 00000001", &sa, false), 0);
	CHECK_INT(keel_v1_sa_verify(&sa), KEEL_ERR_MALFORMED); /* no proposal */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 000b 01 03 03 00 112233",
	                   &sa, false),
	          0);
	CHECK_INT(keel_v1_sa_verify(&sa), KEEL_ERR_MALFORMED); /* ESP SPI 3 bytes, no transform */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 0013 01 03 03 01 112233"
	                   "00 00 0008 01 0c 0000",
	                   &sa, true),
	          KEEL_ERR_MALFORMED); /* ESP SPI 3 bytes */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 0010 01 01 00 01"
	                   "00 00 0008 01 02 0000",
	                   &sa, true),
	          KEEL_ERR_MALFORMED); /* ISAKMP transform not KEY_IKE */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 0014 01 01 00 01"
	                   "00 00 000c 01 01 0000 8001 0007",
	                   &sa, true),
	          0);
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 0021 01 01 11 01 000102030405060708090a0b0c0d0e0f10"
	                   "00 00 0008 01 01 0000",
	                   &sa, true),
	          KEEL_ERR_MALFORMED); /* ISAKMP SPI of 17 bytes */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "02 00 0014 02 03 04 01 11223344"
	                   "00 00 0008 01 0c 0000"
	                   "00 00 0014 01 03 04 01 11223355"
	                   "00 00 0008 01 0c 0000",
	                   &sa, true),
	          KEEL_ERR_MALFORMED); /* proposal numbers going down */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 0014 01 09 04 01 11223344"
	                   "00 00 0008 01 0c 0000",
	                   &sa, true),
	          KEEL_ERR_MALFORMED); /* unknown protocol */
	CHECK_INT(sa_chain("00000001 00000001"
	                   "00 00 0012 01 04 02 01 1122"
	                   "00 00 0008 01 02 0000",
	                   &sa, true),
	          0); /* IPCOMP with a 2-byte CPI */

	/* caps: more proposals than KEEL_V1_MAX_PROPOSALS */
	struct bytes s;
	s.n = 0;
	put_hex(&s, "00000001 00000001");
	for (size_t i = 0; i < KEEL_V1_MAX_PROPOSALS + 1; i++) {
		put_hex(&s, i == KEEL_V1_MAX_PROPOSALS ? "00" : "02");
		put_hex(&s, "00 0014 01 03 04 01 11223344 00 00 0008 01 0c 0000");
	}
	struct keel_v1_payload pl = {KEEL_V1_PL_SA, s.b, s.n, s.b, s.n};
	CHECK_INT(keel_v1_sa_decode(&pl, &sa), KEEL_ERR_MALFORMED);
	/* KEEL_V1_MAX_PROPOSALS exactly: fine */
	s.n = 0;
	put_hex(&s, "00000001 00000001");
	for (size_t i = 0; i < KEEL_V1_MAX_PROPOSALS; i++) {
		put_hex(&s, i == KEEL_V1_MAX_PROPOSALS - 1 ? "00" : "02");
		put_hex(&s, "00 0014 01 03 04 01 11223344 00 00 0008 01 0c 0000");
	}
	pl = (struct keel_v1_payload){KEEL_V1_PL_SA, s.b, s.n, s.b, s.n};
	CHECK_INT(keel_v1_sa_decode(&pl, &sa), 0);
	CHECK_INT(sa.n_proposals, KEEL_V1_MAX_PROPOSALS);
	CHECK_INT(keel_v1_sa_verify(&sa), 0);
}

/* A big SA as strongSwan's initiator sends it: many transforms in one proposal. */
static void test_many_transforms(void)
{
	static uint8_t buf[16384];
	static struct keel_v1_sa sa;
	struct keel_v1_msg m;

	for (size_t count = 200; count <= KEEL_V1_MAX_TRANSFORMS + 1; count += 57) {
		struct keel_wr w = keel_wr_init(buf, sizeof(buf));
		struct keel_v1_enc e;
		keel_v1_enc_init(&e, &w, NULL);
		keel_v1_enc_sa_begin(&e, KEEL_V1_DOI_IPSEC, KEEL_V1_SIT_IDENTITY_ONLY);
		size_t left = count;
		for (uint8_t p = 1; left > 0; p++) {
			size_t here = left > 200 ? 200 : left;
			keel_v1_enc_proposal_begin(&e, p, KEEL_V1_PROTO_ISAKMP, NULL, 0);
			for (size_t t = 0; t < here; t++) {
				keel_v1_enc_transform_begin(&e, (uint8_t)(t + 1), KEEL_V1_KEY_IKE);
				keel_v1_enc_attr_basic(&e, KEEL_V1_IKE_ATTR_ENCR, 7);
				keel_v1_enc_attr_int(&e, KEEL_V1_IKE_ATTR_LIFE_DURATION, 86400);
				keel_v1_enc_transform_end(&e);
			}
			keel_v1_enc_proposal_end(&e);
			left -= here;
		}
		keel_v1_enc_sa_end(&e);
		ptrdiff_t n = keel_v1_enc_finish(&e);
		CHECK(n > 0);
		int rc = keel_v1_chain_decode(KEEL_V1_PL_SA, buf, (size_t)n, false, &m);
		if (count <= KEEL_V1_MAX_TRANSFORMS) {
			CHECK_INT(rc, 0);
			CHECK_INT(keel_v1_sa_decode(&m.pl[0], &sa), 0);
			CHECK_INT(sa.n_transforms, count);
			CHECK_INT(sa.proposals[0].n_transforms, 200);
			CHECK_INT(keel_v1_sa_verify(&sa), 0);
		} else {
			CHECK_INT(rc, KEEL_ERR_MALFORMED);
		}
	}
}

static void test_malformed_other(void)
{
	struct keel_v1_payload pl;
	struct keel_v1_delete d;
	struct keel_v1_notify n;
	struct keel_v1_id id;
	struct keel_v1_cfg cfg;
	struct keel_v1_nat_oa oa;
	struct keel_v1_frag frag;

	/* Delete: SPI count and size must cover the rest exactly */
	static const uint8_t del[] = {0, 0, 0, 1, 3, 4, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
	pl = (struct keel_v1_payload){KEEL_V1_PL_DELETE, del, 0, del, sizeof(del)};
	CHECK_INT(keel_v1_delete_decode(&pl, &d), 0);
	CHECK_INT(keel_v1_delete_verify(&d), 0);
	pl.len = sizeof(del) - 1;
	CHECK_INT(keel_v1_delete_decode(&pl, &d), KEEL_ERR_MALFORMED);
	static const uint8_t del_big[] = {0, 0, 0, 1, 3, 4, 0xff, 0xff, 1, 2, 3, 4};
	pl = (struct keel_v1_payload){KEEL_V1_PL_DELETE, del_big, 0, del_big, sizeof(del_big)};
	CHECK_INT(keel_v1_delete_decode(&pl, &d), KEEL_ERR_MALFORMED);
	d = (struct keel_v1_delete){1, KEEL_V1_PROTO_ISAKMP, 8, 1, del};
	CHECK_INT(keel_v1_delete_verify(&d), KEEL_ERR_MALFORMED); /* ISAKMP SPI is 16 bytes */
	d.spi_len = 16;
	CHECK_INT(keel_v1_delete_verify(&d), 0);
	d.n_spis = 0;
	CHECK_INT(keel_v1_delete_verify(&d), KEEL_ERR_MALFORMED);
	d = (struct keel_v1_delete){7, KEEL_V1_PROTO_ESP, 4, 1, del};
	CHECK_INT(keel_v1_delete_verify(&d), KEEL_ERR_MALFORMED);

	/* Notify: SPI past the end; verify */
	static const uint8_t nt[] = {0, 0, 0, 1, 3, 8, 0x60, 0x02, 1, 2, 3, 4};
	pl = (struct keel_v1_payload){KEEL_V1_PL_NOTIFY, nt, 0, nt, sizeof(nt)};
	CHECK_INT(keel_v1_notify_decode(&pl, &n), KEEL_ERR_MALFORMED);
	pl.len = 7;
	CHECK_INT(keel_v1_notify_decode(&pl, &n), KEEL_ERR_MALFORMED);
	n = (struct keel_v1_notify){1, KEEL_V1_PROTO_ESP, 4, nt, KEEL_V1_N_RESPONDER_LIFETIME, NULL,
	                            0};
	CHECK_INT(keel_v1_notify_verify(&n), 0);
	n.spi_len = 3;
	CHECK_INT(keel_v1_notify_verify(&n), KEEL_ERR_MALFORMED);
	n.spi_len = 0;
	CHECK_INT(keel_v1_notify_verify(&n), 0);
	n.doi = 5;
	CHECK_INT(keel_v1_notify_verify(&n), KEEL_ERR_MALFORMED);
	n.doi = 0;
	n.type = 0;
	CHECK_INT(keel_v1_notify_verify(&n), KEEL_ERR_MALFORMED);
	n.type = KEEL_V1_N_INITIAL_CONTACT;
	n.protocol = KEEL_V1_PROTO_ISAKMP;
	n.spi_len = 16;
	CHECK_INT(keel_v1_notify_verify(&n), 0);
	n.spi_len = 17;
	CHECK_INT(keel_v1_notify_verify(&n), KEEL_ERR_MALFORMED);
	n.spi_len = 0;
	n.protocol = 9;
	CHECK_INT(keel_v1_notify_verify(&n), KEEL_ERR_MALFORMED);

	/* ID: too short; verify by type */
	static const uint8_t idb[] = {1, 0, 0, 0, 192, 0, 2, 1};
	pl = (struct keel_v1_payload){KEEL_V1_PL_ID, idb, 0, idb, 3};
	CHECK_INT(keel_v1_id_decode(&pl, &id), KEEL_ERR_MALFORMED);
	pl.len = sizeof(idb);
	CHECK_INT(keel_v1_id_decode(&pl, &id), 0);
	CHECK_INT(keel_v1_id_verify(&id), 0);
	id.len = 3;
	CHECK_INT(keel_v1_id_verify(&id), KEEL_ERR_MALFORMED);
	id = (struct keel_v1_id){KEEL_V1_ID_FQDN, 0, 0, idb, 0};
	CHECK_INT(keel_v1_id_verify(&id), KEEL_ERR_MALFORMED);
	id.len = 1;
	CHECK_INT(keel_v1_id_verify(&id), 0);
	id.type = 99;
	CHECK_INT(keel_v1_id_verify(&id), KEEL_ERR_MALFORMED);
	id = (struct keel_v1_id){KEEL_V1_ID_IPV6_ADDR_SUBNET, 0, 0, idb, 32};
	CHECK_INT(keel_v1_id_verify(&id), 0);
	id.len = 16;
	CHECK_INT(keel_v1_id_verify(&id), KEEL_ERR_MALFORMED);
	id = (struct keel_v1_id){KEEL_V1_ID_IPV4_ADDR_RANGE, 0, 0, idb, 8};
	CHECK_INT(keel_v1_id_verify(&id), 0);

	/* Attribute payload: cut header, attribute past the end, bad type */
	static const uint8_t cfgb[] = {2, 0, 0, 1, 0x00, 0x01, 0x00, 0x04, 1, 2, 3, 4};
	pl = (struct keel_v1_payload){KEEL_V1_PL_ATTR, cfgb, 0, cfgb, 3};
	CHECK_INT(keel_v1_cfg_decode(&pl, &cfg), KEEL_ERR_MALFORMED);
	pl.len = sizeof(cfgb) - 1;
	CHECK_INT(keel_v1_cfg_decode(&pl, &cfg), KEEL_ERR_MALFORMED);
	pl.len = sizeof(cfgb);
	CHECK_INT(keel_v1_cfg_decode(&pl, &cfg), 0);
	CHECK_INT(keel_v1_cfg_verify(&cfg), 0);
	cfg.type = 9;
	CHECK_INT(keel_v1_cfg_verify(&cfg), KEEL_ERR_MALFORMED);

	/* NAT-OA */
	static const uint8_t oab[] = {1, 0, 0, 0, 192, 0, 2, 1};
	pl = (struct keel_v1_payload){KEEL_V1_PL_NAT_OA, oab, 0, oab, 3};
	CHECK_INT(keel_v1_nat_oa_decode(&pl, &oa), KEEL_ERR_MALFORMED);
	pl.len = sizeof(oab);
	CHECK_INT(keel_v1_nat_oa_decode(&pl, &oa), 0);
	CHECK_INT(keel_v1_nat_oa_verify(&oa), 0);
	oa.id_type = KEEL_V1_ID_IPV6_ADDR;
	CHECK_INT(keel_v1_nat_oa_verify(&oa), KEEL_ERR_MALFORMED);
	oa.id_type = KEEL_V1_ID_FQDN;
	CHECK_INT(keel_v1_nat_oa_verify(&oa), KEEL_ERR_MALFORMED);

	/* Fragment */
	static const uint8_t fb[] = {0, 1, 1, 1, 0xaa};
	pl = (struct keel_v1_payload){KEEL_V1_PL_FRAG, fb, 0, fb, 3};
	CHECK_INT(keel_v1_frag_decode(&pl, &frag), KEEL_ERR_MALFORMED);
	pl.len = sizeof(fb);
	CHECK_INT(keel_v1_frag_decode(&pl, &frag), 0);
	CHECK_INT(keel_v1_frag_verify(&frag), 0);
	frag.number = 0;
	CHECK_INT(keel_v1_frag_verify(&frag), KEEL_ERR_MALFORMED);
	frag.number = 1;
	frag.flags = 2;
	CHECK_INT(keel_v1_frag_verify(&frag), KEEL_ERR_MALFORMED);
	frag.flags = 0;
	frag.len = 0;
	CHECK_INT(keel_v1_frag_verify(&frag), KEEL_ERR_MALFORMED);

	/* CERT needs data, CR may be empty */
	static const uint8_t certb[] = {4};
	pl = (struct keel_v1_payload){KEEL_V1_PL_CERT, certb, 0, certb, 1};
	CHECK_INT(keel_v1_payload_verify(&pl), KEEL_ERR_MALFORMED);
	pl.type = KEEL_V1_PL_CR;
	CHECK_INT(keel_v1_payload_verify(&pl), 0);
	pl.len = 0;
	CHECK_INT(keel_v1_payload_verify(&pl), KEEL_ERR_MALFORMED);
}

/* Nonce 8..256 (RFC 2409 §5), HASH and NAT-D 16..64, KE 1..1024. */
static void test_verify_lengths(void)
{
	static uint8_t data[1100];
	struct keel_v1_payload pl = {KEEL_V1_PL_NONCE, data, 0, data, 0};
	static const struct {
		uint8_t type;
		size_t len;
		int want;
	} cases[] = {
	    {KEEL_V1_PL_NONCE, 7, KEEL_ERR_MALFORMED},
	    {KEEL_V1_PL_NONCE, 8, 0},
	    {KEEL_V1_PL_NONCE, 256, 0},
	    {KEEL_V1_PL_NONCE, 257, KEEL_ERR_MALFORMED},
	    {KEEL_V1_PL_HASH, 15, KEEL_ERR_MALFORMED},
	    {KEEL_V1_PL_HASH, 16, 0},
	    {KEEL_V1_PL_HASH, 64, 0},
	    {KEEL_V1_PL_HASH, 65, KEEL_ERR_MALFORMED},
	    {KEEL_V1_PL_NAT_D, 20, 0},
	    {KEEL_V1_PL_NAT_D, 65, KEEL_ERR_MALFORMED},
	    {KEEL_V1_PL_NAT_D_DRAFT, 0, KEEL_ERR_MALFORMED},
	    {KEEL_V1_PL_KE, 0, KEEL_ERR_MALFORMED},
	    {KEEL_V1_PL_KE, 32, 0},
	    {KEEL_V1_PL_KE, 1024, 0},
	    {KEEL_V1_PL_KE, 1025, KEEL_ERR_MALFORMED},
	    {KEEL_V1_PL_SIG, 0, KEEL_ERR_MALFORMED},
	    {KEEL_V1_PL_SIG, 256, 0},
	    {KEEL_V1_PL_VID, 0, 0},
	    {KEEL_V1_PL_TRANSFORM, 8, KEEL_ERR_MALFORMED},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pl.type = cases[i].type;
		pl.len = cases[i].len;
		CHECK_INT(keel_v1_payload_verify(&pl), cases[i].want);
	}
}

/* ------------------------------------------------------------------ */
/* Encoder misuse                                                     */

static void test_encoder_errors(void)
{
	uint8_t buf[64];
	struct keel_wr w;
	struct keel_v1_enc e;
	struct keel_v1_hdr h = make_hdr(KEEL_V1_EXCH_INFO, 0, 1);

	/* proposal outside an SA, attribute outside a transform */
	w = keel_wr_init(buf, sizeof(buf));
	keel_v1_enc_init(&e, &w, &h);
	keel_v1_enc_proposal_begin(&e, 1, KEEL_V1_PROTO_ESP, NULL, 0);
	CHECK_INT(keel_v1_enc_finish(&e), KEEL_ERR_STATE);

	w = keel_wr_init(buf, sizeof(buf));
	keel_v1_enc_init(&e, &w, &h);
	keel_v1_enc_sa_begin(&e, 1, 1);
	keel_v1_enc_attr_basic(&e, 1, 1);
	CHECK_INT(keel_v1_enc_finish(&e), KEEL_ERR_STATE);

	/* SA left open; payload inside an open SA; end without begin */
	w = keel_wr_init(buf, sizeof(buf));
	keel_v1_enc_init(&e, &w, &h);
	keel_v1_enc_sa_begin(&e, 1, 1);
	CHECK_INT(keel_v1_enc_finish(&e), KEEL_ERR_STATE);
	w = keel_wr_init(buf, sizeof(buf));
	keel_v1_enc_init(&e, &w, &h);
	keel_v1_enc_sa_begin(&e, 1, 1);
	keel_v1_enc_data(&e, KEEL_V1_PL_VID, "x", 1);
	CHECK_INT(keel_v1_enc_finish(&e), KEEL_ERR_STATE);
	w = keel_wr_init(buf, sizeof(buf));
	keel_v1_enc_init(&e, &w, &h);
	keel_v1_enc_transform_end(&e);
	CHECK_INT(keel_v1_enc_finish(&e), KEEL_ERR_STATE);
	w = keel_wr_init(buf, sizeof(buf));
	keel_v1_enc_init(&e, &w, &h);
	keel_v1_enc_cfg_end(&e);
	CHECK_INT(keel_v1_enc_finish(&e), KEEL_ERR_STATE);

	/* wrong payload type for cert / NAT-OA encoders */
	w = keel_wr_init(buf, sizeof(buf));
	keel_v1_enc_init(&e, &w, &h);
	struct keel_v1_cert c = {4, NULL, 0};
	keel_v1_enc_cert(&e, KEEL_V1_PL_VID, &c);
	CHECK_INT(keel_v1_enc_finish(&e), KEEL_ERR_INVAL);

	/* buffer too small */
	w = keel_wr_init(buf, sizeof(buf));
	keel_v1_enc_init(&e, &w, &h);
	keel_v1_enc_data(&e, KEEL_V1_PL_VID, buf, 40);
	CHECK_INT(keel_v1_enc_hash_slot(&e, 20), KEEL_ERR_NOBUF);
	CHECK_INT(keel_v1_enc_finish(&e), KEEL_ERR_NOBUF);

	/* payload too long for its 16-bit length */
	static uint8_t huge[70000];
	static uint8_t big[80000];
	w = keel_wr_init(big, sizeof(big));
	keel_v1_enc_init(&e, &w, NULL);
	keel_v1_enc_data(&e, KEEL_V1_PL_CERT, huge, sizeof(huge));
	CHECK_INT(keel_v1_enc_finish(&e), KEEL_ERR_INVAL);
	w = keel_wr_init(big, sizeof(big));
	keel_v1_enc_init(&e, &w, NULL);
	keel_v1_enc_cfg_begin(&e, KEEL_V1_CFG_REPLY, 1);
	for (int i = 0; i < 2; i++)
		keel_v1_enc_attr_var(&e, KEEL_V1_CFG_UNITY_BANNER, huge, 33000);
	keel_v1_enc_cfg_end(&e);
	CHECK_INT(keel_v1_enc_finish(&e), KEEL_ERR_INVAL);

	/* padding: the header length covers it; no padding when already aligned */
	w = keel_wr_init(buf, sizeof(buf));
	keel_v1_enc_init(&e, &w, &h);
	keel_v1_enc_data(&e, KEEL_V1_PL_VID, "abcd", 4); /* body 8 bytes */
	keel_v1_enc_pad(&e, 8);
	CHECK_INT(keel_v1_enc_finish(&e), 36);
	w = keel_wr_init(buf, sizeof(buf));
	keel_v1_enc_init(&e, &w, &h);
	keel_v1_enc_data(&e, KEEL_V1_PL_VID, "abcde", 5); /* body 9 bytes */
	keel_v1_enc_pad(&e, 16);
	CHECK_INT(keel_v1_enc_finish(&e), 44);
	CHECK_INT(buf[27], 44);
	CHECK(buf[28 + 9] == 0 && buf[43] == 0);
	struct keel_v1_msg m;
	CHECK_INT(keel_v1_hdr_decode(buf, 44, &m.hdr), 0);
	CHECK_INT(keel_v1_chain_decode(m.hdr.next, buf + 28, 16, true, &m), 0);
	CHECK_INT(m.pad_len, 7);
}

/* ------------------------------------------------------------------ */
/* Names                                                              */

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static void test_names(void)
{
	CHECK(streq(keel_v1_payload_name(KEEL_V1_PL_NAT_D_DRAFT), "NAT-D(draft)"));
	CHECK(streq(keel_v1_payload_name(KEEL_V1_PL_FRAG), "FRAG"));
	CHECK(keel_v1_payload_name(99) == NULL);
	CHECK(streq(keel_v1_exchange_name(KEEL_V1_EXCH_TRANSACTION), "TRANSACTION"));
	CHECK(streq(keel_v1_exchange_name(32), "QUICK_MODE"));
	CHECK(streq(keel_v1_notify_name(24578), "INITIAL-CONTACT"));
	CHECK(streq(keel_v1_notify_name(24576), "RESPONDER-LIFETIME"));
	CHECK(streq(keel_v1_notify_name(24577), "REPLAY-STATUS"));
	CHECK(streq(keel_v1_notify_name(36136), "R-U-THERE"));
	CHECK(streq(keel_v1_notify_name(36137), "R-U-THERE-ACK"));
	CHECK(streq(keel_v1_notify_name(14), "NO-PROPOSAL-CHOSEN"));
	CHECK(keel_v1_notify_name(12345) == NULL);
	CHECK(streq(keel_v1_protocol_name(3), "ESP"));
	CHECK(streq(keel_v1_id_type_name(11), "ID_KEY_ID"));
	CHECK(streq(keel_v1_cert_encoding_name(4), "X509_SIGNATURE"));
	CHECK(streq(keel_v1_ike_attr_name(12), "LIFE_DURATION"));
	CHECK(streq(keel_v1_ipsec_attr_name(4), "ENCAPSULATION_MODE"));
	CHECK(streq(keel_v1_cfg_attr_name(16520), "XAUTH-TYPE"));
	CHECK(streq(keel_v1_cfg_attr_name(16529), "XAUTH-ANSWER"));
	CHECK(streq(keel_v1_cfg_attr_name(28676), "UNITY_SPLIT_INCLUDE"));
	CHECK(streq(keel_v1_cfg_attr_name(28675), "UNITY_SPLIT_DNS_NAME"));
	CHECK(streq(keel_v1_cfg_attr_name(28679), "UNITY_PFS"));
	CHECK(keel_v1_cfg_attr_name(0) == NULL);
	CHECK(streq(keel_v1_cfg_type_name(2), "CFG_REPLY"));
	CHECK(streq(keel_v1_encr_name(7), "AES-CBC"));
	CHECK(streq(keel_v1_hash_name(4), "SHA2-256"));
	CHECK(streq(keel_v1_auth_method_name(65001), "XAUTHInitPreShared"));
	CHECK(streq(keel_v1_auth_method_name(64221), "HybridInitRSA"));
	CHECK(streq(keel_v1_group_name(14), "modp2048"));
	CHECK(streq(keel_v1_encap_mode_name(61443), "UDP-Encapsulated-Tunnel(draft)"));
	CHECK(streq(keel_v1_encap_mode_name(3), "UDP-Encapsulated-Tunnel"));
	CHECK(streq(keel_v1_esp_transform_name(12), "ESP_AES_CBC"));
	CHECK(streq(keel_v1_ipsec_auth_name(5), "HMAC-SHA2-256"));
}

/* ------------------------------------------------------------------ */
/* Captured strongSwan messages, when present                         */

#define MAX_DGRAMS 128

struct capture {
	size_t n;
	uint8_t *data[MAX_DGRAMS];
	size_t len[MAX_DGRAMS];
	int line[MAX_DGRAMS];
};

struct iv_state {
	size_t n;
	uint32_t mid[MAX_DGRAMS];
	uint8_t iv[MAX_DGRAMS][16];
};

/* AES-CBC without padding, in place of a real engine's decryption. */
static bool aes_cbc_decrypt(const uint8_t *key, size_t key_len, const uint8_t *iv,
                            const uint8_t *in, size_t len, uint8_t *out)
{
	const EVP_CIPHER *c = key_len == 16   ? EVP_aes_128_cbc()
	                      : key_len == 24 ? EVP_aes_192_cbc()
	                      : key_len == 32 ? EVP_aes_256_cbc()
	                                      : NULL;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0;
	bool ok = c && ctx && len % 16 == 0 && len <= INT_MAX &&
	          EVP_DecryptInit_ex(ctx, c, NULL, key, iv) == 1 &&
	          EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
	          EVP_DecryptUpdate(ctx, out, &n1, in, (int)len) == 1 &&
	          EVP_DecryptFinal_ex(ctx, out + n1, &n2) == 1 && (size_t)(n1 + n2) == len;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

/*
 * The IV of an encrypted IKEv1 message (RFC 2409 Appendix B): the first one
 * of an exchange comes from charon's log ("initial IV" for phase 1, "next IV
 * for MID n" for the others), each later one is the last ciphertext block of
 * the exchange's previous message.
 */
static bool iv_for(struct iv_state *st, const struct tv_file *f, uint32_t mid, uint8_t iv[16])
{
	char name[64];
	const char *hex;
	size_t len;

	for (size_t i = 0; i < st->n; i++) {
		if (st->mid[i] == mid) {
			memcpy(iv, st->iv[i], 16);
			return true;
		}
	}
	if (mid == 0)
		snprintf(name, sizeof(name), "initial IV");
	else
		snprintf(name, sizeof(name), "next IV for MID %u", mid);
	hex = tv_str(f, name);
	if (!hex)
		return false;
	uint8_t *p = hex_decode(hex, &len);
	bool ok = len == 16;
	if (ok)
		memcpy(iv, p, 16);
	free(p);
	return ok;
}

static void iv_update(struct iv_state *st, uint32_t mid, const uint8_t *last_block)
{
	size_t i = 0;
	while (i < st->n && st->mid[i] != mid)
		i++;
	if (i == MAX_DGRAMS)
		return;
	if (i == st->n)
		st->n++;
	st->mid[i] = mid;
	memcpy(st->iv[i], last_block, 16);
}

/*
 * Every datagram: decodes; cleartext ones verify and re-encode to the same
 * bytes. With the phase 1 key from the [keys] record (f positioned on it),
 * encrypted ones are decrypted and their padded chains decoded, verified and
 * re-encoded too.
 */
static void check_capture(const char *file, struct capture *cap, const struct tv_file *keys,
                          size_t *clear, size_t *decrypted)
{
	struct iv_state st = {0};
	uint8_t *ka = NULL;
	size_t ka_len = 0;
	static uint8_t again[8192];

	if (keys && tv_str(keys, "encryption key Ka"))
		ka = tv_hex(keys, "encryption key Ka", &ka_len);

	for (size_t i = 0; i < cap->n; i++) {
		uint8_t *c = dup_exact(cap->data[i], cap->len[i]);
		size_t len = cap->len[i];
		struct keel_v1_msg m;
		int rc = keel_v1_msg_decode(c, len, &m);
		if (rc == 0 && !(m.hdr.flags & KEEL_V1_FLAG_ENC)) {
			rc = keel_v1_msg_verify(&m);
			ptrdiff_t n = reencode(&m, true, again, sizeof(again));
			CHECK_MEM(again, (size_t)(n > 0 ? n : 0), c, len);
			(*clear)++;
		} else if (rc == 0 && ka) {
			uint8_t iv[16];
			uint8_t *plain = malloc(m.enc_len);
			if (!plain)
				abort();
			if (!iv_for(&st, keys, m.hdr.msg_id, iv) ||
			    !aes_cbc_decrypt(ka, ka_len, iv, m.enc, m.enc_len, plain)) {
				rc = KEEL_ERR_CRYPTO;
			} else {
				iv_update(&st, m.hdr.msg_id, m.enc + m.enc_len - 16);
				uint8_t *pc = dup_exact(plain, m.enc_len);
				rc = keel_v1_chain_decode(m.hdr.next, pc, m.enc_len, true, &m);
				if (rc == 0)
					rc = keel_v1_msg_verify(&m);
				if (rc == 0) {
					/* charon pads 1..16 bytes, a whole block when aligned */
					CHECK(m.pad_len >= 1 && m.pad_len <= 16);
					ptrdiff_t n = reencode(&m, false, again, sizeof(again));
					CHECK_MEM(again, (size_t)(n > 0 ? n : 0), pc, m.chain_len);
				}
				free(pc);
				(*decrypted)++;
			}
			free(plain);
		}
		if (rc != 0)
			printf("# %s:%d: %s\n", file, cap->line[i], keel_strerror(rc));
		CHECK_INT(rc, 0);
		free(c);
	}
	free(ka);
}

static void test_strongswan_vectors(void)
{
	const char *base = getenv("KEEL_VECTORS");
	char dir[512], rel[512];
	size_t files = 0, clear = 0, decrypted = 0;

	snprintf(dir, sizeof(dir), "%s/strongswan", base ? base : "tests/vectors");
	DIR *d = opendir(dir);
	if (!d) {
		printf("# no captured strongSwan messages under %s: skipped\n", dir);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		if (strncmp(de->d_name, "ikev1-", 6) != 0 || nl < 4 ||
		    strcmp(de->d_name + nl - 4, ".txt") != 0)
			continue;
		snprintf(rel, sizeof(rel), "strongswan/%s", de->d_name);
		struct tv_file *f = tv_open(rel);
		struct capture cap = {0};
		bool done = false;
		while (tv_next(f)) {
			if (strcmp(tv_section(f), "datagrams") == 0 && tv_str(f, "Data") &&
			    cap.n < MAX_DGRAMS) {
				cap.data[cap.n] = tv_hex(f, "Data", &cap.len[cap.n]);
				cap.line[cap.n] = tv_line(f);
				cap.n++;
			} else if (strcmp(tv_section(f), "keys") == 0 && !done) {
				check_capture(rel, &cap, f, &clear, &decrypted);
				done = true;
			}
		}
		if (!done)
			check_capture(rel, &cap, NULL, &clear, &decrypted);
		CHECK(cap.n > 0);
		for (size_t i = 0; i < cap.n; i++)
			free(cap.data[i]);
		tv_close(f);
		files++;
	}
	closedir(d);
	printf("# strongSwan captures: %zu files, %zu cleartext and %zu decrypted IKEv1 "
	       "messages decoded\n",
	       files, clear, decrypted);
}

int main(void)
{
	test_header();
	test_attributes();
	test_attr_int_encoding();
	test_roundtrip_all();
	test_aggressive_mode();
	test_quick_mode();
	test_xauth_request();
	test_modecfg_reply();
	test_malformed_chain();
	test_malformed_sa();
	test_many_transforms();
	test_malformed_other();
	test_verify_lengths();
	test_encoder_errors();
	test_names();
	test_strongswan_vectors();
	return check_done();
}
