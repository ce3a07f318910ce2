/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The IKEv2 wire codec (core/wire/ikev2.c). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "check.h"
#include "tv.h"
#include "wire/ikev2.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static struct keel_v2_bytes bytes(const void *p, size_t len)
{
	struct keel_v2_bytes b = {.p = p, .len = len};
	return b;
}

static bool bytes_eq(struct keel_v2_bytes a, struct keel_v2_bytes b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool in_range(struct keel_v2_bytes b, const uint8_t *buf, size_t len)
{
	if (b.len == 0)
		return true;
	return b.p >= buf && (size_t)(b.p - buf) <= len && b.len <= len - (size_t)(b.p - buf);
}

/* A copy of exactly len bytes on the heap, so that ASan sees any overread. */
static uint8_t *dup_exact(const uint8_t *p, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);
	if (!d)
		abort();
	if (len)
		memcpy(d, p, len);
	return d;
}

static uint32_t rng_state = 0x12345678;

static uint32_t rng(void)
{
	uint32_t x = rng_state; /* xorshift32: reproducible */
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

static bool attr_eq(const struct keel_v2_attr *a, const struct keel_v2_attr *b)
{
	if (a->type != b->type || a->tv != b->tv)
		return false;
	if (a->tv)
		return a->tv_value == b->tv_value;
	return bytes_eq(bytes(a->value, a->len), bytes(b->value, b->len));
}

static bool sa_eq(const struct keel_v2_sa *a, const struct keel_v2_sa *b)
{
	if (a->n_proposals != b->n_proposals || a->n_transforms != b->n_transforms)
		return false;
	for (size_t i = 0; i < a->n_proposals; i++) {
		const struct keel_v2_proposal *x = &a->proposals[i], *y = &b->proposals[i];
		if (x->num != y->num || x->protocol != y->protocol || x->first != y->first ||
		    x->n_transforms != y->n_transforms || !bytes_eq(x->spi, y->spi))
			return false;
	}
	for (size_t i = 0; i < a->n_transforms; i++) {
		const struct keel_v2_transform *x = &a->transforms[i], *y = &b->transforms[i];
		if (x->type != y->type || x->id != y->id || x->n_attrs != y->n_attrs)
			return false;
		for (size_t k = 0; k < x->n_attrs; k++)
			if (!attr_eq(&x->attrs[k], &y->attrs[k]))
				return false;
	}
	return true;
}

static bool ts_eq(const struct keel_v2_ts *a, const struct keel_v2_ts *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct keel_v2_ts_entry *x = &a->ts[i], *y = &b->ts[i];
		size_t alen = x->type == KEEL_V2_TS_IPV4_ADDR_RANGE   ? 4
		              : x->type == KEEL_V2_TS_IPV6_ADDR_RANGE ? 16
		                                                      : 0;
		if (x->type != y->type || x->ip_proto != y->ip_proto ||
		    x->start_port != y->start_port || x->end_port != y->end_port ||
		    memcmp(x->start_addr, y->start_addr, alen) != 0 ||
		    memcmp(x->end_addr, y->end_addr, alen) != 0 || !bytes_eq(x->data, y->data))
			return false;
	}
	return true;
}

static bool payload_eq(const struct keel_v2_payload *a, const struct keel_v2_payload *b)
{
	if (a->type != b->type || a->critical != b->critical)
		return false;
	switch (a->type) {
	case KEEL_V2_PAYLOAD_SA:
		return sa_eq(&a->u.sa, &b->u.sa);
	case KEEL_V2_PAYLOAD_KE:
		return a->u.ke.group == b->u.ke.group && bytes_eq(a->u.ke.data, b->u.ke.data);
	case KEEL_V2_PAYLOAD_IDI:
	case KEEL_V2_PAYLOAD_IDR:
		return a->u.id.type == b->u.id.type && bytes_eq(a->u.id.data, b->u.id.data);
	case KEEL_V2_PAYLOAD_CERT:
	case KEEL_V2_PAYLOAD_CERTREQ:
		return a->u.cert.encoding == b->u.cert.encoding &&
		       bytes_eq(a->u.cert.data, b->u.cert.data);
	case KEEL_V2_PAYLOAD_AUTH:
		return a->u.auth.method == b->u.auth.method &&
		       bytes_eq(a->u.auth.data, b->u.auth.data);
	case KEEL_V2_PAYLOAD_NONCE:
		return bytes_eq(a->u.nonce, b->u.nonce);
	case KEEL_V2_PAYLOAD_NOTIFY:
		return a->u.notify.protocol == b->u.notify.protocol &&
		       a->u.notify.type == b->u.notify.type &&
		       bytes_eq(a->u.notify.spi, b->u.notify.spi) &&
		       bytes_eq(a->u.notify.data, b->u.notify.data);
	case KEEL_V2_PAYLOAD_DELETE:
		return a->u.del.protocol == b->u.del.protocol &&
		       a->u.del.spi_size == b->u.del.spi_size &&
		       a->u.del.n_spis == b->u.del.n_spis && bytes_eq(a->u.del.spis, b->u.del.spis);
	case KEEL_V2_PAYLOAD_VENDOR:
		return bytes_eq(a->u.vendor, b->u.vendor);
	case KEEL_V2_PAYLOAD_TSI:
	case KEEL_V2_PAYLOAD_TSR:
		return ts_eq(&a->u.ts, &b->u.ts);
	case KEEL_V2_PAYLOAD_SK:
		return a->u.sk.inner_type == b->u.sk.inner_type &&
		       bytes_eq(a->u.sk.body, b->u.sk.body);
	case KEEL_V2_PAYLOAD_CP:
		if (a->u.cp.cfg_type != b->u.cp.cfg_type || a->u.cp.n != b->u.cp.n)
			return false;
		for (size_t i = 0; i < a->u.cp.n; i++)
			if (a->u.cp.attrs[i].type != b->u.cp.attrs[i].type ||
			    !bytes_eq(a->u.cp.attrs[i].value, b->u.cp.attrs[i].value))
				return false;
		return true;
	case KEEL_V2_PAYLOAD_EAP:
		return a->u.eap.code == b->u.eap.code &&
		       a->u.eap.identifier == b->u.eap.identifier &&
		       a->u.eap.has_type == b->u.eap.has_type && a->u.eap.type == b->u.eap.type &&
		       bytes_eq(a->u.eap.data, b->u.eap.data);
	case KEEL_V2_PAYLOAD_SKF:
		return a->u.skf.inner_type == b->u.skf.inner_type &&
		       a->u.skf.frag_num == b->u.skf.frag_num && a->u.skf.total == b->u.skf.total &&
		       bytes_eq(a->u.skf.body, b->u.skf.body);
	default:
		return bytes_eq(a->u.raw, b->u.raw);
	}
}

/* Typed payloads are large (an SA is several KB): keep them static. */
static struct keel_v2_payload pl_a, pl_b;
static struct keel_v2_chain chain_a, chain_b;
static struct keel_v2_msg msg_a, msg_b;

static ptrdiff_t encode_one(const struct keel_v2_payload *pl, uint8_t *buf, size_t cap)
{
	struct keel_wr w = keel_wr_init(buf, cap);
	struct keel_v2_chain_wr cw;
	keel_v2_chain_wr_begin(&cw, &w);
	keel_v2_chain_add(&cw, pl);
	return keel_v2_chain_finish(&cw);
}

/*
 * decode(encode(x)) == x, re-encoding gives the same bytes, every shorter
 * buffer gives NOBUF, every truncation of the bytes is refused, and every
 * truncation of the body alone decodes or fails without reading past it.
 */
static void roundtrip(const struct keel_v2_payload *pl, const char *what)
{
	static uint8_t buf[8192], buf2[8192];
	ptrdiff_t n = encode_one(pl, buf, sizeof(buf));
	if (n <= 0) {
		check_fail(__FILE__, __LINE__, what);
		return;
	}
	uint8_t *copy = dup_exact(buf, (size_t)n);
	struct keel_rd r = keel_rd_init(copy, (size_t)n);
	int rc = keel_v2_chain_decode(&r, pl->type, KEEL_V2_CHAIN_OUTER, &chain_a);
	CHECK_INT(rc, 0);
	CHECK(keel_rd_done(&r));
	CHECK_INT(chain_a.n, 1);
	CHECK_INT(chain_a.p[0].off, 0);
	CHECK_INT(keel_v2_payload_decode(&chain_a.p[0], &pl_b), 0);
	if (!payload_eq(pl, &pl_b))
		check_fail(__FILE__, __LINE__, what);
	CHECK_INT(encode_one(&pl_b, buf2, sizeof(buf2)), n);
	CHECK_MEM(buf2, (size_t)n, buf, (size_t)n);

	for (size_t cap = 0; cap < (size_t)n; cap++)
		CHECK_INT(encode_one(pl, buf2, cap), KEEL_ERR_NOBUF);

	for (size_t len = 0; len < (size_t)n; len++) {
		uint8_t *t = dup_exact(buf, len);
		struct keel_rd tr = keel_rd_init(t, len);
		rc = keel_v2_chain_decode(&tr, pl->type, KEEL_V2_CHAIN_OUTER, &chain_b);
		CHECK(rc == KEEL_ERR_MALFORMED);
		CHECK_INT(chain_b.n, 0);
		CHECK(tr.left == len); /* left as it was */
		free(t);
	}

	struct keel_v2_bytes body = chain_a.p[0].body;
	for (size_t len = 0; len < body.len; len++) {
		uint8_t *t = dup_exact(body.p, len);
		struct keel_v2_raw_payload raw = chain_a.p[0];
		raw.body = bytes(t, len);
		if (keel_v2_payload_decode(&raw, &pl_b) == 0 &&
		    pl_b.type == KEEL_V2_PAYLOAD_NONCE) /* any prefix of a nonce is a nonce */
			CHECK(pl_b.u.nonce.len == len);
		free(t);
	}
	free(copy);
}

/* ------------------------------------------------------------------------ */
/* Every payload type                                                       */
/* ------------------------------------------------------------------------ */

static const uint8_t spi_esp[4] = {0xc0, 0xff, 0xee, 0x01};
static const uint8_t spi_ike[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t unknown_attr_value[3] = {0xaa, 0xbb, 0xcc};

static void build_ike_sa(struct keel_v2_sa *sa)
{
	keel_v2_sa_init(sa);
	CHECK_INT(keel_v2_sa_add_proposal(sa, KEEL_V2_PROTO_IKE, NULL, 0), 0);
	CHECK_INT(keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_ENCR, KEEL_V2_ENCR_AES_CBC, 256),
	          0);
	CHECK_INT(keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_PRF, KEEL_V2_PRF_HMAC_SHA2_256, 0),
	          0);
	CHECK_INT(keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_INTEG,
	                                   KEEL_V2_INTEG_HMAC_SHA2_256_128, 0),
	          0);
	CHECK_INT(keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_DH, KEEL_V2_DH_CURVE25519, 0), 0);
	CHECK_INT(keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_DH, KEEL_V2_DH_ECP256, 0), 0);
	CHECK_INT(keel_v2_sa_add_proposal(sa, KEEL_V2_PROTO_IKE, NULL, 0), 0);
	CHECK_INT(
	    keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_ENCR, KEEL_V2_ENCR_AES_GCM_16, 256), 0);
	CHECK_INT(
	    keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_ENCR, KEEL_V2_ENCR_CHACHA20_POLY1305, 0),
	    0);
	CHECK_INT(keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_PRF, KEEL_V2_PRF_HMAC_SHA2_384, 0),
	          0);
	CHECK_INT(keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_DH, KEEL_V2_DH_MODP2048, 0), 0);
}

static void test_sa(void)
{
	struct keel_v2_payload *pl = &pl_a;
	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_SA;
	build_ike_sa(&pl->u.sa);
	CHECK_INT(pl->u.sa.n_proposals, 2);
	CHECK_INT(pl->u.sa.proposals[1].num, 2);
	CHECK_INT(pl->u.sa.proposals[1].first, 5);
	CHECK_INT(keel_v2_transform_key_len(&pl->u.sa.transforms[0]), 256);
	CHECK_INT(keel_v2_transform_key_len(&pl->u.sa.transforms[1]), 0);
	CHECK_INT(keel_v2_sa_verify(&pl->u.sa), 0);
	roundtrip(pl, "SA ike");

	/* ESP with an SPI, ESN, and a transform carrying an unknown TLV attribute */
	struct keel_v2_sa *sa = &pl->u.sa;
	keel_v2_sa_init(sa);
	CHECK_INT(keel_v2_sa_add_proposal(sa, KEEL_V2_PROTO_ESP, spi_esp, 4), 0);
	CHECK_INT(
	    keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_ENCR, KEEL_V2_ENCR_AES_GCM_16, 128), 0);
	CHECK_INT(keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_ESN, KEEL_V2_ESN_NO, 0), 0);
	CHECK_INT(keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_ESN, KEEL_V2_ESN_YES, 0), 0);
	struct keel_v2_transform *t = &sa->transforms[0];
	t->attrs[1].type = 0x1234;
	t->attrs[1].tv = false;
	t->attrs[1].value = unknown_attr_value;
	t->attrs[1].len = sizeof(unknown_attr_value);
	t->n_attrs = 2;
	CHECK_INT(keel_v2_sa_verify(sa), 0);
	roundtrip(pl, "SA esp");
	CHECK_INT(pl_b.u.sa.transforms[0].attrs[1].len, 3); /* the unknown attribute is kept */
	CHECK_INT(keel_v2_transform_key_len(&pl_b.u.sa.transforms[0]), 128);

	/* IKE rekey: an 8-byte SPI */
	keel_v2_sa_init(sa);
	CHECK_INT(keel_v2_sa_add_proposal(sa, KEEL_V2_PROTO_IKE, spi_ike, 8), 0);
	CHECK_INT(
	    keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_ENCR, KEEL_V2_ENCR_CHACHA20_POLY1305, 0),
	    0);
	CHECK_INT(keel_v2_sa_verify(sa), 0);
	roundtrip(pl, "SA rekey");

	/* builder limits */
	keel_v2_sa_init(sa);
	CHECK_INT(keel_v2_sa_add_transform(sa, 1, 12, 0), KEEL_ERR_INVAL); /* no proposal */
	CHECK_INT(keel_v2_sa_add_proposal(sa, KEEL_V2_PROTO_ESP, spi_esp, 256), KEEL_ERR_INVAL);
	for (int i = 0; i < KEEL_V2_MAX_PROPOSALS; i++)
		CHECK_INT(keel_v2_sa_add_proposal(sa, KEEL_V2_PROTO_ESP, spi_esp, 4), 0);
	CHECK_INT(keel_v2_sa_add_proposal(sa, KEEL_V2_PROTO_ESP, spi_esp, 4), KEEL_ERR_INVAL);
	for (int i = 0; i < KEEL_V2_MAX_TRANSFORMS; i++)
		CHECK_INT(keel_v2_sa_add_transform(sa, 1, 12, 128), 0);
	CHECK_INT(keel_v2_sa_add_transform(sa, 1, 12, 128), KEEL_ERR_INVAL);
}

static void test_small_payloads(void)
{
	static const uint8_t ke_data[32] = {0x42, 1, 2, 3};
	static const uint8_t text[] = "vpn.example.org";
	static const uint8_t addr4[4] = {192, 0, 2, 1};
	static const uint8_t cert[] = {0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01};
	static const uint8_t hashes[40] = {1, [20] = 2};
	static const uint8_t mic[32] = {9, 8, 7};
	static const uint8_t nonce[32] = {0x5a, 0x5b};
	static const uint8_t natd[20] = {0xde, 0xad};
	static const uint8_t spis[8] = {0, 0, 0, 1, 0, 0, 0, 2};
	static const uint8_t vid[16] = {0x88, 0x2f, 0xe5, 0x6d};
	static const uint8_t sk_body[48] = {0x10, 0x11, [47] = 0xff};
	static const uint8_t raw[5] = {1, 2, 3, 4, 5};
	struct keel_v2_payload *pl = &pl_a;

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_KE;
	pl->u.ke.group = KEEL_V2_DH_CURVE25519;
	pl->u.ke.data = bytes(ke_data, sizeof(ke_data));
	CHECK_INT(keel_v2_ke_verify(&pl->u.ke), 0);
	roundtrip(pl, "KE");

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_IDI;
	pl->u.id.type = KEEL_V2_ID_FQDN;
	pl->u.id.data = bytes(text, sizeof(text) - 1);
	CHECK_INT(keel_v2_id_verify(&pl->u.id), 0);
	roundtrip(pl, "IDi");
	pl->type = KEEL_V2_PAYLOAD_IDR;
	pl->u.id.type = KEEL_V2_ID_IPV4_ADDR;
	pl->u.id.data = bytes(addr4, 4);
	CHECK_INT(keel_v2_id_verify(&pl->u.id), 0);
	roundtrip(pl, "IDr");

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_CERT;
	pl->u.cert.encoding = KEEL_V2_CERT_X509_SIGNATURE;
	pl->u.cert.data = bytes(cert, sizeof(cert));
	CHECK_INT(keel_v2_cert_verify(pl->type, &pl->u.cert), 0);
	roundtrip(pl, "CERT");
	pl->type = KEEL_V2_PAYLOAD_CERTREQ;
	pl->u.cert.data = bytes(hashes, sizeof(hashes));
	CHECK_INT(keel_v2_cert_verify(pl->type, &pl->u.cert), 0);
	roundtrip(pl, "CERTREQ");
	pl->u.cert.data = bytes(hashes, 0); /* an empty request is fine */
	CHECK_INT(keel_v2_cert_verify(pl->type, &pl->u.cert), 0);
	roundtrip(pl, "CERTREQ empty");

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_AUTH;
	pl->u.auth.method = KEEL_V2_AUTH_PSK;
	pl->u.auth.data = bytes(mic, sizeof(mic));
	CHECK_INT(keel_v2_auth_verify(&pl->u.auth), 0);
	roundtrip(pl, "AUTH");

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_NONCE;
	pl->u.nonce = bytes(nonce, sizeof(nonce));
	CHECK_INT(keel_v2_nonce_verify(pl->u.nonce), 0);
	roundtrip(pl, "Nonce");

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_NOTIFY;
	pl->u.notify.type = KEEL_V2_N_NAT_DETECTION_SOURCE_IP;
	pl->u.notify.data = bytes(natd, sizeof(natd));
	CHECK_INT(keel_v2_notify_verify(&pl->u.notify), 0);
	roundtrip(pl, "N NAT-D");
	pl->u.notify.type = KEEL_V2_N_REKEY_SA;
	pl->u.notify.protocol = KEEL_V2_PROTO_ESP;
	pl->u.notify.spi = bytes(spi_esp, 4);
	pl->u.notify.data = bytes(NULL, 0);
	CHECK_INT(keel_v2_notify_verify(&pl->u.notify), 0);
	roundtrip(pl, "N REKEY_SA");

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_DELETE;
	pl->u.del.protocol = KEEL_V2_PROTO_ESP;
	pl->u.del.spi_size = 4;
	pl->u.del.n_spis = 2;
	pl->u.del.spis = bytes(spis, sizeof(spis));
	CHECK_INT(keel_v2_delete_verify(&pl->u.del), 0);
	roundtrip(pl, "D esp");
	pl->u.del.protocol = KEEL_V2_PROTO_IKE;
	pl->u.del.spi_size = 0;
	pl->u.del.n_spis = 0;
	pl->u.del.spis = bytes(NULL, 0);
	CHECK_INT(keel_v2_delete_verify(&pl->u.del), 0);
	roundtrip(pl, "D ike");

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_VENDOR;
	pl->u.vendor = bytes(vid, sizeof(vid));
	roundtrip(pl, "V");

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_SK;
	pl->u.sk.inner_type = KEEL_V2_PAYLOAD_IDI;
	pl->u.sk.body = bytes(sk_body, sizeof(sk_body));
	roundtrip(pl, "SK");

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_SKF;
	pl->u.skf.inner_type = KEEL_V2_PAYLOAD_IDI;
	pl->u.skf.frag_num = 1;
	pl->u.skf.total = 3;
	pl->u.skf.body = bytes(sk_body, sizeof(sk_body));
	CHECK_INT(keel_v2_skf_verify(&pl->u.skf), 0);
	roundtrip(pl, "SKF 1/3");
	pl->u.skf.inner_type = 0;
	pl->u.skf.frag_num = 3;
	CHECK_INT(keel_v2_skf_verify(&pl->u.skf), 0);
	roundtrip(pl, "SKF 3/3");

	/* a type Keel does not parse, not critical: kept as raw bytes */
	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_GSPM;
	pl->u.raw = bytes(raw, sizeof(raw));
	roundtrip(pl, "unknown");
	CHECK(!chain_a.p[0].known);
}

static void test_ts(void)
{
	struct keel_v2_payload *pl = &pl_a;
	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_TSI;
	struct keel_v2_ts *ts = &pl->u.ts;
	ts->n = 3;
	ts->ts[0].type = KEEL_V2_TS_IPV4_ADDR_RANGE;
	ts->ts[0].start_port = 0;
	ts->ts[0].end_port = 65535;
	memcpy(ts->ts[0].start_addr, (uint8_t[]){100, 64, 0, 2}, 4);
	memcpy(ts->ts[0].end_addr, (uint8_t[]){100, 64, 0, 2}, 4);
	ts->ts[1].type = KEEL_V2_TS_IPV6_ADDR_RANGE;
	ts->ts[1].ip_proto = 17;
	ts->ts[1].start_port = 53;
	ts->ts[1].end_port = 53;
	static const uint8_t v6lo[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	                                 0,    0,    0,    0,    0, 0, 0, 0};
	static const uint8_t v6hi[16] = {0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,
	                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	memcpy(ts->ts[1].start_addr, v6lo, 16);
	memcpy(ts->ts[1].end_addr, v6hi, 16);
	/* OPAQUE ports (RFC 7296 §3.13.1) */
	ts->ts[2].type = KEEL_V2_TS_IPV6_ADDR_RANGE;
	ts->ts[2].start_port = 65535;
	ts->ts[2].end_port = 0;
	memset(ts->ts[2].end_addr, 0xff, 16);
	CHECK_INT(keel_v2_ts_verify(ts), 0);
	roundtrip(pl, "TSi v4+v6");
	/* the IPv6 selector is 40 bytes, the IPv4 one 16 (RFC 7296 §3.13.1) */
	uint8_t buf[256];
	CHECK_INT(encode_one(pl, buf, sizeof(buf)), 4 + 4 + 16 + 40 + 40);

	/* an unknown selector type is kept */
	static const uint8_t label[] = {0x01, 0x02, 0x03};
	pl->type = KEEL_V2_PAYLOAD_TSR;
	ts->n = 1;
	memset(&ts->ts[0], 0, sizeof(ts->ts[0]));
	ts->ts[0].type = KEEL_V2_TS_SECLABEL;
	ts->ts[0].data = bytes(label, sizeof(label));
	roundtrip(pl, "TSr seclabel");
	CHECK_INT(keel_v2_ts_verify(ts), KEEL_ERR_MALFORMED); /* not a type Keel uses */
}

static void test_cp(void)
{
	static const uint8_t ip4[4] = {100, 64, 0, 2}, mask[4] = {255, 255, 255, 0};
	static const uint8_t dns1[4] = {198, 51, 100, 53}, dns2[4] = {198, 51, 100, 54};
	static const uint8_t subnet[8] = {198, 51, 100, 0, 255, 255, 255, 0};
	static const uint8_t ip6[17] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 64};
	static const uint8_t dns6[16] = {0xfd, 0, [15] = 0x35};
	static const uint8_t app[] = "Keel";
	static const uint8_t supported[4] = {0, 1, 0, 3};
	struct keel_v2_payload *pl = &pl_a;
	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_CP;
	struct keel_v2_cp *cp = &pl->u.cp;
	cp->cfg_type = KEEL_V2_CFG_REQUEST;
	cp->n = 4;
	cp->attrs[0].type = KEEL_V2_CP_INTERNAL_IP4_ADDRESS;
	cp->attrs[1].type = KEEL_V2_CP_INTERNAL_IP4_DNS;
	cp->attrs[2].type = KEEL_V2_CP_INTERNAL_IP6_ADDRESS;
	cp->attrs[3].type = KEEL_V2_CP_APPLICATION_VERSION;
	cp->attrs[3].value = bytes(app, 4);
	CHECK_INT(keel_v2_cp_verify(cp), 0);
	roundtrip(pl, "CP request");

	cp->cfg_type = KEEL_V2_CFG_REPLY;
	cp->n = 8;
	cp->attrs[0] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP4_ADDRESS, bytes(ip4, 4)};
	cp->attrs[1] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP4_NETMASK, bytes(mask, 4)};
	cp->attrs[2] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP4_DNS, bytes(dns1, 4)};
	cp->attrs[3] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP4_DNS, bytes(dns2, 4)};
	cp->attrs[4] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP4_SUBNET, bytes(subnet, 8)};
	cp->attrs[5] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP6_ADDRESS, bytes(ip6, 17)};
	cp->attrs[6] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP6_DNS, bytes(dns6, 16)};
	cp->attrs[7] =
	    (struct keel_v2_cp_attr){KEEL_V2_CP_SUPPORTED_ATTRIBUTES, bytes(supported, 4)};
	CHECK_INT(keel_v2_cp_verify(cp), 0);
	roundtrip(pl, "CP reply");
}

static void test_eap(void)
{
	static const uint8_t identity[] = "alice";
	static const uint8_t challenge[16] = {0x10, 0x20};
	struct keel_v2_payload *pl = &pl_a;
	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_EAP;
	struct keel_v2_eap *eap = &pl->u.eap;
	eap->code = KEEL_V2_EAP_REQUEST;
	eap->identifier = 7;
	eap->has_type = true;
	eap->type = 1; /* Identity, empty prompt */
	CHECK_INT(keel_v2_eap_verify(eap), 0);
	roundtrip(pl, "EAP request");
	CHECK_INT(pl_b.u.eap.msg.len, 5);

	eap->code = KEEL_V2_EAP_RESPONSE;
	eap->data = bytes(identity, 5);
	roundtrip(pl, "EAP response");
	eap->type = 26; /* MSCHAPv2 */
	eap->data = bytes(challenge, sizeof(challenge));
	roundtrip(pl, "EAP mschapv2");

	eap->code = KEEL_V2_EAP_SUCCESS;
	eap->has_type = false;
	eap->type = 0;
	eap->data = bytes(NULL, 0);
	CHECK_INT(keel_v2_eap_verify(eap), 0);
	roundtrip(pl, "EAP success");
	CHECK_INT(pl_b.u.eap.msg.len, 4);
}

/* ------------------------------------------------------------------------ */
/* Whole messages                                                           */
/* ------------------------------------------------------------------------ */

/*
 * An IKE_SA_INIT request built by hand from RFC 7296 §3: SA (AES-CBC-256,
 * PRF-HMAC-SHA2-256, HMAC-SHA2-256-128, Curve25519), KE, Nonce, the two NAT-D
 * notifies and IKEV2_FRAGMENTATION_SUPPORTED.
 */
static const char sa_init_hex[] = "0102030405060708 0000000000000000 21 20 22 08 00000000 000000c8"
                                  /* SA: next KE, length 48; one proposal, 44 bytes, 4 transforms */
                                  "22 00 0030  00 00 002c 01 01 00 04"
                                  "03 00 000c 01 00 000c 800e 0100"
                                  "03 00 0008 02 00 0005"
                                  "03 00 0008 03 00 000c"
                                  "00 00 0008 04 00 001f"
                                  /* KE: next Nonce, Curve25519, 32 bytes */
                                  "28 00 0028 001f 0000"
                                  "1111111111111111111111111111111111111111111111111111111111111111"
                                  /* Nonce: next N, 16 bytes */
                                  "29 00 0014 22222222222222222222222222222222"
                                  /* N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP) */
                                  "29 00 001c 00 00 4004 3333333333333333333333333333333333333333"
                                  "29 00 001c 00 00 4005 4444444444444444444444444444444444444444"
                                  /* N(IKEV2_FRAGMENTATION_SUPPORTED), last */
                                  "00 00 0008 00 00 402e";

static void fill(uint8_t *p, uint8_t v, size_t n)
{
	memset(p, v, n);
}

static ptrdiff_t build_sa_init(uint8_t *buf, size_t cap)
{
	static uint8_t ke[32], nonce[16], natd_s[20], natd_d[20];
	fill(ke, 0x11, sizeof(ke));
	fill(nonce, 0x22, sizeof(nonce));
	fill(natd_s, 0x33, sizeof(natd_s));
	fill(natd_d, 0x44, sizeof(natd_d));
	struct keel_v2_hdr hdr = {.spi_i = 0x0102030405060708ull,
	                          .major_version = 2,
	                          .exchange = KEEL_V2_EXCHANGE_IKE_SA_INIT,
	                          .flags = KEEL_V2_FLAG_INITIATOR};
	struct keel_wr w = keel_wr_init(buf, cap);
	struct keel_v2_chain_wr cw;
	keel_v2_msg_wr_begin(&cw, &w, &hdr);

	struct keel_v2_payload *pl = &pl_a;
	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_SA;
	struct keel_v2_sa *sa = &pl->u.sa;
	keel_v2_sa_init(sa);
	keel_v2_sa_add_proposal(sa, KEEL_V2_PROTO_IKE, NULL, 0);
	keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_ENCR, KEEL_V2_ENCR_AES_CBC, 256);
	keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_PRF, KEEL_V2_PRF_HMAC_SHA2_256, 0);
	keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_INTEG, KEEL_V2_INTEG_HMAC_SHA2_256_128, 0);
	keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_DH, KEEL_V2_DH_CURVE25519, 0);
	keel_v2_chain_add(&cw, pl);

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_KE;
	pl->u.ke.group = KEEL_V2_DH_CURVE25519;
	pl->u.ke.data = bytes(ke, sizeof(ke));
	keel_v2_chain_add(&cw, pl);

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_NONCE;
	pl->u.nonce = bytes(nonce, sizeof(nonce));
	keel_v2_chain_add(&cw, pl);

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_NOTIFY;
	pl->u.notify.type = KEEL_V2_N_NAT_DETECTION_SOURCE_IP;
	pl->u.notify.data = bytes(natd_s, sizeof(natd_s));
	keel_v2_chain_add(&cw, pl);
	pl->u.notify.type = KEEL_V2_N_NAT_DETECTION_DESTINATION_IP;
	pl->u.notify.data = bytes(natd_d, sizeof(natd_d));
	keel_v2_chain_add(&cw, pl);
	pl->u.notify.type = KEEL_V2_N_IKEV2_FRAGMENTATION_SUPPORTED;
	pl->u.notify.data = bytes(NULL, 0);
	keel_v2_chain_add(&cw, pl);
	return keel_v2_chain_finish(&cw);
}

/* Every payload record lies inside the message and the chain walks in order. */
static void check_consistent(const struct keel_v2_msg *m, const uint8_t *buf, size_t len)
{
	size_t pos = KEEL_V2_HDR_LEN;
	for (size_t i = 0; i < m->chain.n; i++) {
		const struct keel_v2_raw_payload *p = &m->chain.p[i];
		CHECK_INT(p->off, pos);
		CHECK(in_range(p->body, buf, len));
		CHECK(p->body.p == buf + p->off + KEEL_V2_GENERIC_HDR_LEN);
		pos = p->off + KEEL_V2_GENERIC_HDR_LEN + p->body.len;
		if (i + 1 < m->chain.n)
			CHECK_INT(m->chain.p[i + 1].type, p->next);
	}
	CHECK_INT(pos, len);
}

/*
 * Every truncation: as is (Length now disagrees) and with the header Length
 * patched to match. Decoding must fail, or give a chain that stays inside
 * the shortened buffer; nothing may be read past it (ASan).
 */
static void truncations(const uint8_t *msg, size_t len)
{
	for (size_t n = 0; n < len; n++) {
		uint8_t *t = dup_exact(msg, n);
		CHECK(keel_v2_msg_decode(t, n, &msg_b) != 0);
		if (n >= KEEL_V2_HDR_LEN) {
			struct keel_wr w = keel_wr_init(t, n);
			w.len = n;
			keel_wr_patch32(&w, 24, (uint32_t)n);
			int rc = keel_v2_msg_decode(t, n, &msg_b);
			if (n == KEEL_V2_HDR_LEN)
				CHECK_INT(rc, KEEL_ERR_MALFORMED); /* Next Payload points nowhere */
			if (rc == 0)
				check_consistent(&msg_b, t, n);
			else
				CHECK_INT(msg_b.chain.n, 0);
		}
		free(t);
	}
}

/* Seeded random byte flips: decode must never read out of bounds. */
static void mutations(const uint8_t *msg, size_t len, unsigned rounds)
{
	uint8_t *t = dup_exact(msg, len);
	for (unsigned i = 0; i < rounds; i++) {
		memcpy(t, msg, len);
		unsigned flips = 1 + rng() % 4;
		for (unsigned k = 0; k < flips; k++) {
			size_t at = KEEL_V2_HDR_LEN + rng() % (len - KEEL_V2_HDR_LEN);
			t[at] = (uint8_t)rng();
		}
		if (keel_v2_msg_decode(t, len, &msg_b) == 0) {
			check_consistent(&msg_b, t, len);
			keel_v2_chain_verify(&msg_b.chain); /* must not crash either */
		}
	}
	free(t);
}

static void test_sa_init(void)
{
	size_t want_len;
	uint8_t *want = hex_decode(sa_init_hex, &want_len);
	uint8_t buf[512];
	ptrdiff_t n = build_sa_init(buf, sizeof(buf));
	CHECK_INT(n, 200);
	CHECK_INT(want_len, 200);
	CHECK_MEM(buf, (size_t)n, want, want_len); /* the encoder writes RFC 7296 bytes */

	/* a buffer one byte short: NOBUF */
	uint8_t small[199];
	CHECK_INT(build_sa_init(small, sizeof(small)), KEEL_ERR_NOBUF);

	uint8_t *m = dup_exact(want, want_len);
	struct keel_v2_msg *msg = &msg_a;
	CHECK_INT(keel_v2_msg_decode(m, want_len, msg), 0);
	CHECK(msg->hdr.spi_i == 0x0102030405060708ull);
	CHECK(msg->hdr.spi_r == 0);
	CHECK_INT(msg->hdr.major_version, 2);
	CHECK_INT(msg->hdr.minor_version, 0);
	CHECK_INT(msg->hdr.exchange, KEEL_V2_EXCHANGE_IKE_SA_INIT);
	CHECK_INT(msg->hdr.flags, KEEL_V2_FLAG_INITIATOR);
	CHECK_INT(msg->hdr.msg_id, 0);
	CHECK_INT(msg->hdr.len, 200);
	CHECK_INT(msg->hdr.next_payload, KEEL_V2_PAYLOAD_SA);
	CHECK(msg->raw.p == m && msg->raw.len == want_len);
	CHECK_INT(msg->chain.n, 6);
	static const uint8_t types[] = {33, 34, 40, 41, 41, 41};
	for (size_t i = 0; i < 6; i++) {
		CHECK_INT(msg->chain.p[i].type, types[i]);
		CHECK(msg->chain.p[i].known);
		CHECK(!msg->chain.p[i].critical);
	}
	check_consistent(msg, m, want_len);
	CHECK_INT(keel_v2_chain_verify(&msg->chain), 0);

	const struct keel_v2_raw_payload *p = keel_v2_chain_find(&msg->chain, 40, NULL);
	CHECK(p == &msg->chain.p[2]);
	CHECK(keel_v2_chain_find(&msg->chain, 40, p) == NULL);
	CHECK(keel_v2_chain_find(&msg->chain, 47, NULL) == NULL);
	struct keel_v2_notify nt;
	p = keel_v2_chain_find_notify(&msg->chain, KEEL_V2_N_NAT_DETECTION_DESTINATION_IP, NULL,
	                              &nt);
	CHECK(p == &msg->chain.p[4]);
	CHECK_INT(nt.data.len, 20);
	CHECK_INT(nt.data.p[0], 0x44);
	CHECK(keel_v2_chain_find_notify(&msg->chain, KEEL_V2_N_NAT_DETECTION_DESTINATION_IP, p,
	                                &nt) == NULL);
	CHECK(keel_v2_chain_find_notify(&msg->chain, KEEL_V2_N_COOKIE, NULL, &nt) == NULL);

	CHECK_INT(keel_v2_payload_decode(&msg->chain.p[0], &pl_a), 0);
	CHECK_INT(pl_a.u.sa.n_proposals, 1);
	CHECK_INT(pl_a.u.sa.n_transforms, 4);
	CHECK_INT(pl_a.u.sa.transforms[0].id, KEEL_V2_ENCR_AES_CBC);
	CHECK_INT(keel_v2_transform_key_len(&pl_a.u.sa.transforms[0]), 256);
	CHECK_INT(pl_a.u.sa.transforms[3].type, KEEL_V2_TRANSFORM_DH);
	CHECK_INT(pl_a.u.sa.transforms[3].id, KEEL_V2_DH_CURVE25519);
	CHECK_INT(keel_v2_payload_decode(&msg->chain.p[1], &pl_a), 0);
	CHECK_INT(pl_a.u.ke.group, 31);
	CHECK_INT(pl_a.u.ke.data.len, 32);

	truncations(m, want_len);
	mutations(m, want_len, 20000);
	free(m);
	free(want);
}

/* A capture of strongSwan 5.9.8's IKE_SA_INIT request, from tests/vectors/strongswan/ikev2-psk.txt.
 */
static const char strongswan_sa_init_hex[] =
    "53f99a3a39a04c7000000000000000002120220800000000000000f0220000300000002c0101000403"
    "00000c0100000c800e0080030000080300000c0300000802000005000000080400001f280000280"
    "01f0000637ac942b01399dd3063c7b3b60651993828a9ee190d2695e906455af49bca48290000241"
    "b9775daf66a060a11cbbe45871897be4ce3a762a89d3e452cc7144b477742112900001c000040046"
    "8e7f99c9b8f0662eb538bce7800c4d0d61048792900001c000040057bb3d0f92e91edf431ab182fb"
    "1af6f693ec3b66c290000080000402e290000100000402f00020003000400050000000800004016";

static void test_known_capture(void)
{
	size_t len;
	uint8_t *m = hex_decode(strongswan_sa_init_hex, &len);
	CHECK_INT(len, 240);
	CHECK_INT(keel_v2_msg_decode(m, len, &msg_a), 0);
	CHECK_INT(msg_a.hdr.exchange, KEEL_V2_EXCHANGE_IKE_SA_INIT);
	CHECK_INT(msg_a.chain.n, 8);
	CHECK_INT(keel_v2_chain_verify(&msg_a.chain), 0);
	CHECK_INT(keel_v2_payload_decode(&msg_a.chain.p[0], &pl_a), 0);
	CHECK_INT(keel_v2_transform_key_len(&pl_a.u.sa.transforms[0]), 128);
	struct keel_v2_notify nt;
	CHECK(keel_v2_chain_find_notify(&msg_a.chain, KEEL_V2_N_SIGNATURE_HASH_ALGORITHMS, NULL,
	                                &nt) != NULL);
	CHECK_INT(nt.data.len, 8); /* SHA2-256, -384, -512, Identity (RFC 7427, 8420) */
	CHECK(keel_v2_chain_find_notify(&msg_a.chain, KEEL_V2_N_REDIRECT_SUPPORTED, NULL, &nt) !=
	      NULL);
	free(m);
}

/*
 * An IKE_AUTH response with IDr, AUTH, CP(REPLY), SA, TSi, TSr (IPv6) inside
 * SK, built in place; then built again around a pre-encrypted body. With a
 * null "cipher" the layout must describe exactly where things went.
 */
static const uint8_t auth_mic[32] = {0xa0};
static const uint8_t gw_id[] = "gw.keel.test";

static void add_auth_inner(struct keel_v2_chain_wr *cw)
{
	static const uint8_t ip4[4] = {100, 64, 0, 2}, dns[4] = {198, 51, 100, 53};
	static const uint8_t ip6[17] = {0xfd, 0x00, [15] = 2, [16] = 64};
	struct keel_v2_payload *pl = &pl_a;

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_IDR;
	pl->u.id.type = KEEL_V2_ID_FQDN;
	pl->u.id.data = bytes(gw_id, sizeof(gw_id) - 1);
	keel_v2_chain_add(cw, pl);

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_AUTH;
	pl->u.auth.method = KEEL_V2_AUTH_PSK;
	pl->u.auth.data = bytes(auth_mic, sizeof(auth_mic));
	keel_v2_chain_add(cw, pl);

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_CP;
	pl->u.cp.cfg_type = KEEL_V2_CFG_REPLY;
	pl->u.cp.n = 3;
	pl->u.cp.attrs[0] =
	    (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP4_ADDRESS, bytes(ip4, 4)};
	pl->u.cp.attrs[1] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP4_DNS, bytes(dns, 4)};
	pl->u.cp.attrs[2] =
	    (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP6_ADDRESS, bytes(ip6, 17)};
	keel_v2_chain_add(cw, pl);

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_SA;
	keel_v2_sa_init(&pl->u.sa);
	keel_v2_sa_add_proposal(&pl->u.sa, KEEL_V2_PROTO_ESP, spi_esp, 4);
	keel_v2_sa_add_transform(&pl->u.sa, KEEL_V2_TRANSFORM_ENCR, KEEL_V2_ENCR_AES_GCM_16, 256);
	keel_v2_sa_add_transform(&pl->u.sa, KEEL_V2_TRANSFORM_ESN, KEEL_V2_ESN_NO, 0);
	keel_v2_chain_add(cw, pl);

	memset(pl, 0, sizeof(*pl));
	pl->type = KEEL_V2_PAYLOAD_TSI;
	pl->u.ts.n = 1;
	pl->u.ts.ts[0].type = KEEL_V2_TS_IPV6_ADDR_RANGE;
	pl->u.ts.ts[0].end_port = 65535;
	memcpy(pl->u.ts.ts[0].start_addr, ip6, 16);
	memcpy(pl->u.ts.ts[0].end_addr, ip6, 16);
	keel_v2_chain_add(cw, pl);
	pl->type = KEEL_V2_PAYLOAD_TSR;
	memset(pl->u.ts.ts[0].start_addr, 0, 16);
	memset(pl->u.ts.ts[0].end_addr, 0xff, 16);
	keel_v2_chain_add(cw, pl);
}

static const struct keel_v2_hdr auth_hdr = {.spi_i = 0x1111111111111111ull,
                                            .spi_r = 0x2222222222222222ull,
                                            .major_version = 2,
                                            .exchange = KEEL_V2_EXCHANGE_IKE_AUTH,
                                            .flags = KEEL_V2_FLAG_RESPONSE,
                                            .msg_id = 1};

static void test_sk_in_place(void)
{
	enum { IV = 16, ICV = 16, BLOCK = 16 };
	static uint8_t buf[2048], buf2[2048], inner[1024];
	struct keel_wr w = keel_wr_init(buf, sizeof(buf));
	struct keel_v2_chain_wr cw;
	struct keel_v2_sk_wr sk;
	struct keel_v2_sk_layout lay;

	keel_v2_msg_wr_begin(&cw, &w, &auth_hdr);
	CHECK_INT(keel_v2_sk_begin(&cw, &sk, IV), 0);
	add_auth_inner(&sk.inner);
	CHECK_INT(sk.inner.first_type, KEEL_V2_PAYLOAD_IDR);
	CHECK_INT(keel_v2_chain_add(&cw, &pl_a), KEEL_ERR_STATE); /* nothing after SK */
	cw.err = 0;
	CHECK_INT(keel_v2_chain_finish(&cw), KEEL_ERR_STATE); /* SK still open */
	cw.err = 0;
	CHECK_INT(keel_v2_sk_end(&sk, BLOCK, ICV, &lay), 0);
	ptrdiff_t n = keel_v2_chain_finish(&cw);
	CHECK(n > 0);
	CHECK_INT(lay.msg_off, 0);
	CHECK_INT(lay.msg_len, n);
	CHECK_INT(lay.aad_len, KEEL_V2_HDR_LEN + KEEL_V2_GENERIC_HDR_LEN);
	CHECK_INT(lay.iv_off, 32);
	CHECK_INT(lay.iv_len, IV);
	CHECK_INT(lay.plain_off, 48);
	CHECK_INT(lay.plain_len % BLOCK, 0);
	CHECK_INT(lay.icv_off, lay.plain_off + lay.plain_len);
	CHECK_INT(lay.icv_off + lay.icv_len, (size_t)n);
	CHECK_INT(buf[16], KEEL_V2_PAYLOAD_SK);    /* header Next Payload */
	CHECK_INT(buf[17], 0x20);                  /* version survives the patch */
	CHECK_INT(buf[28], KEEL_V2_PAYLOAD_IDR);   /* SK Next Payload: the inner chain */
	CHECK_INT(buf[31] | buf[30] << 8, n - 28); /* SK length */
	CHECK_INT(buf[lay.icv_off - 1], buf[lay.icv_off - 1] % BLOCK); /* Pad Length */

	/* the receiving side, with the identity cipher */
	uint8_t *m = dup_exact(buf, (size_t)n);
	CHECK_INT(keel_v2_msg_decode(m, (size_t)n, &msg_a), 0);
	CHECK_INT(msg_a.chain.n, 1);
	CHECK_INT(keel_v2_payload_decode(&msg_a.chain.p[0], &pl_b), 0);
	CHECK_INT(pl_b.u.sk.inner_type, KEEL_V2_PAYLOAD_IDR);
	struct keel_v2_sk_parts parts;
	CHECK_INT(keel_v2_sk_split(pl_b.u.sk.body, IV, ICV, &parts), 0);
	CHECK(parts.iv.p == m + lay.iv_off);
	CHECK(parts.ciphertext.p == m + lay.plain_off);
	CHECK_INT(parts.ciphertext.len, lay.plain_len);
	CHECK(parts.icv.p == m + lay.icv_off);
	struct keel_v2_bytes in;
	CHECK_INT(keel_v2_sk_unpad(parts.ciphertext, &in), 0);
	struct keel_rd r = keel_rd_init(in.p, in.len);
	CHECK_INT(keel_v2_chain_decode(&r, pl_b.u.sk.inner_type, KEEL_V2_CHAIN_INNER, &chain_a), 0);
	CHECK_INT(chain_a.n, 6);
	CHECK_INT(keel_v2_chain_verify(&chain_a), 0);
	const struct keel_v2_raw_payload *cp =
	    keel_v2_chain_find(&chain_a, KEEL_V2_PAYLOAD_CP, NULL);
	CHECK(cp != NULL);
	if (cp) {
		CHECK_INT(keel_v2_payload_decode(cp, &pl_b), 0);
		CHECK_INT(pl_b.u.cp.cfg_type, KEEL_V2_CFG_REPLY);
		CHECK_INT(pl_b.u.cp.n, 3);
		CHECK_INT(pl_b.u.cp.attrs[2].type, KEEL_V2_CP_INTERNAL_IP6_ADDRESS);
		CHECK_INT(pl_b.u.cp.attrs[2].value.len, 17);
		CHECK_INT(pl_b.u.cp.attrs[0].value.p[3], 2);
	}
	const struct keel_v2_raw_payload *tsr =
	    keel_v2_chain_find(&chain_a, KEEL_V2_PAYLOAD_TSR, NULL);
	CHECK(tsr != NULL);
	if (tsr) {
		CHECK_INT(keel_v2_payload_decode(tsr, &pl_b), 0);
		CHECK_INT(pl_b.u.ts.ts[0].type, KEEL_V2_TS_IPV6_ADDR_RANGE);
		CHECK_INT(pl_b.u.ts.ts[0].end_addr[15], 0xff);
	}
	truncations(m, (size_t)n);
	mutations(m, (size_t)n, 5000);

	/* the same message, around a body encrypted elsewhere */
	struct keel_wr wi = keel_wr_init(inner, sizeof(inner));
	struct keel_v2_chain_wr ci;
	keel_v2_chain_wr_begin(&ci, &wi);
	add_auth_inner(&ci);
	ptrdiff_t in_len = keel_v2_chain_finish(&ci);
	CHECK_INT(in_len, in.len);
	CHECK_MEM(inner, (size_t)in_len, in.p, in.len);
	static uint8_t body[1024];
	size_t pad = lay.plain_len - (size_t)in_len - 1;
	memset(body, 0, sizeof(body));
	memcpy(body + IV, inner, (size_t)in_len);
	body[IV + in_len + pad] = (uint8_t)pad;
	size_t body_len = IV + lay.plain_len + ICV;
	struct keel_wr w2 = keel_wr_init(buf2, sizeof(buf2));
	keel_v2_msg_wr_begin(&cw, &w2, &auth_hdr);
	memset(&pl_a, 0, sizeof(pl_a));
	pl_a.type = KEEL_V2_PAYLOAD_SK;
	pl_a.u.sk.inner_type = ci.first_type;
	pl_a.u.sk.body = bytes(body, body_len);
	CHECK_INT(keel_v2_chain_add(&cw, &pl_a), 0);
	CHECK_INT(keel_v2_chain_finish(&cw), n);
	CHECK_MEM(buf2, (size_t)n, buf, (size_t)n);

	/* an empty SK (an INFORMATIONAL liveness check), AEAD-style: no padding */
	w = keel_wr_init(buf, sizeof(buf));
	keel_v2_msg_wr_begin(&cw, &w, &auth_hdr);
	CHECK_INT(keel_v2_sk_begin(&cw, &sk, 8), 0);
	CHECK_INT(keel_v2_sk_end(&sk, 1, 16, &lay), 0);
	CHECK_INT(keel_v2_chain_finish(&cw), 28 + 4 + 8 + 1 + 16);
	CHECK_INT(lay.plain_len, 1);
	CHECK_INT(buf[28], 0);
	CHECK_INT(keel_v2_msg_decode(buf, 57, &msg_a), 0);
	CHECK_INT(keel_v2_payload_decode(&msg_a.chain.p[0], &pl_b), 0);
	CHECK_INT(keel_v2_sk_split(pl_b.u.sk.body, 8, 16, &parts), 0);
	CHECK_INT(keel_v2_sk_unpad(parts.ciphertext, &in), 0);
	CHECK_INT(in.len, 0);
	r = keel_rd_init(in.p, in.len);
	CHECK_INT(keel_v2_chain_decode(&r, pl_b.u.sk.inner_type, KEEL_V2_CHAIN_INNER, &chain_a), 0);
	CHECK_INT(chain_a.n, 0);

	/* NOBUF for every short buffer, reported once at the end */
	for (size_t cap = 0; cap < (size_t)n; cap++) {
		w = keel_wr_init(buf2, cap);
		keel_v2_msg_wr_begin(&cw, &w, &auth_hdr);
		keel_v2_sk_begin(&cw, &sk, IV);
		add_auth_inner(&sk.inner);
		int rc = keel_v2_sk_end(&sk, BLOCK, ICV, &lay);
		CHECK(rc == KEEL_ERR_NOBUF);
		CHECK_INT(keel_v2_chain_finish(&cw), KEEL_ERR_NOBUF);
	}

	/* bad arguments */
	w = keel_wr_init(buf, sizeof(buf));
	keel_v2_msg_wr_begin(&cw, &w, &auth_hdr);
	keel_v2_sk_begin(&cw, &sk, IV);
	CHECK_INT(keel_v2_sk_end(&sk, 0, ICV, &lay), KEEL_ERR_INVAL);
	free(m);
}

static void test_skf_in_place(void)
{
	static uint8_t buf[512];
	static const uint8_t frag[100] = {0x29, 0x00};
	struct keel_wr w = keel_wr_init(buf, sizeof(buf));
	struct keel_v2_chain_wr cw;
	struct keel_v2_sk_wr sk;
	struct keel_v2_sk_layout lay;
	keel_v2_msg_wr_begin(&cw, &w, &auth_hdr);
	CHECK_INT(keel_v2_skf_begin(&cw, &sk, 16, 1, 2, KEEL_V2_PAYLOAD_IDR), 0);
	keel_wr_bytes(cw.w, frag, sizeof(frag));
	CHECK_INT(keel_v2_chain_add(&sk.inner, &pl_a), KEEL_ERR_STATE); /* bytes, not payloads */
	CHECK_INT(keel_v2_sk_end(&sk, 16, 16, &lay), 0);
	ptrdiff_t n = keel_v2_chain_finish(&cw);
	CHECK(n > 0);
	CHECK_INT(lay.aad_len, KEEL_V2_HDR_LEN + KEEL_V2_SKF_HDR_LEN); /* RFC 7383 §2.5.3 */
	CHECK_INT(lay.plain_off, 28 + 8 + 16);
	CHECK_INT(lay.plain_len, 112);
	CHECK_INT(keel_v2_msg_decode(buf, (size_t)n, &msg_a), 0);
	CHECK_INT(msg_a.chain.p[0].type, KEEL_V2_PAYLOAD_SKF);
	CHECK_INT(keel_v2_payload_decode(&msg_a.chain.p[0], &pl_b), 0);
	CHECK_INT(pl_b.u.skf.frag_num, 1);
	CHECK_INT(pl_b.u.skf.total, 2);
	CHECK_INT(pl_b.u.skf.inner_type, KEEL_V2_PAYLOAD_IDR);
	CHECK(pl_b.u.skf.body.p == buf + lay.iv_off);
	CHECK_INT(keel_v2_chain_verify(&msg_a.chain), 0);

	w = keel_wr_init(buf, sizeof(buf));
	keel_v2_msg_wr_begin(&cw, &w, &auth_hdr);
	CHECK_INT(keel_v2_skf_begin(&cw, &sk, 16, 3, 2, 0), KEEL_ERR_INVAL);
	CHECK_INT(keel_v2_chain_finish(&cw), KEEL_ERR_INVAL);
}

/* ------------------------------------------------------------------------ */
/* Malformed input                                                          */
/* ------------------------------------------------------------------------ */

/* A message from a header and a hex chain; the header Length is right. */
static uint8_t *mk_msg(uint8_t first, uint8_t version, const char *chain_hex, size_t *len)
{
	size_t clen;
	uint8_t *chain = hex_decode(chain_hex, &clen);
	size_t total = KEEL_V2_HDR_LEN + clen;
	uint8_t *m = malloc(total);
	if (!m)
		abort();
	struct keel_wr w = keel_wr_init(m, total);
	keel_wr_u64(&w, 0xaaaaaaaaaaaaaaaaull);
	keel_wr_u64(&w, 0);
	keel_wr_u8(&w, first);
	keel_wr_u8(&w, version);
	keel_wr_u8(&w, KEEL_V2_EXCHANGE_INFORMATIONAL);
	keel_wr_u8(&w, KEEL_V2_FLAG_INITIATOR);
	keel_wr_u32(&w, 7);
	keel_wr_u32(&w, (uint32_t)total);
	keel_wr_bytes(&w, chain, clen);
	free(chain);
	*len = total;
	return m;
}

static int decode_hex(uint8_t first, const char *chain_hex)
{
	size_t len;
	uint8_t *m = mk_msg(first, 0x20, chain_hex, &len);
	int rc = keel_v2_msg_decode(m, len, &msg_b);
	if (rc != 0)
		CHECK_INT(msg_b.chain.n, 0);
	free(m);
	return rc;
}

static void test_malformed(void)
{
	const int M = KEEL_ERR_MALFORMED;
	size_t len;
	uint8_t *m;

	/* header */
	m = mk_msg(41, 0x20, "00 00 0008 00 00 4000", &len);
	CHECK_INT(keel_v2_msg_decode(m, len, &msg_b), 0);
	CHECK_INT(keel_v2_msg_decode(m, len - 1, &msg_b), M); /* Length != datagram */
	CHECK_INT(keel_v2_msg_decode(m, 27, &msg_b), M);
	CHECK_INT(keel_v2_msg_decode(m, 0, &msg_b), M);
	CHECK_INT(keel_v2_msg_decode(NULL, 0, &msg_b), M);
	m[27] = (uint8_t)(len + 1);
	CHECK_INT(keel_v2_msg_decode(m, len, &msg_b), M);
	free(m);
	m = mk_msg(41, 0x30, "00 00 0008 00 00 4000", &len); /* IKE version 3.0 */
	memset(&msg_b.hdr, 0, sizeof(msg_b.hdr));
	CHECK_INT(keel_v2_msg_decode(m, len, &msg_b), KEEL_ERR_UNSUPPORTED);
	CHECK_INT(msg_b.hdr.major_version, 3); /* filled, to answer INVALID_MAJOR_VERSION */
	CHECK_INT(msg_b.hdr.msg_id, 7);
	free(m);
	m = mk_msg(41, 0x10, "00 00 0008 00 00 4000", &len); /* an ISAKMP message */
	CHECK_INT(keel_v2_msg_decode(m, len, &msg_b), KEEL_ERR_UNSUPPORTED);
	free(m);

	/* generic payload header: length 0..3, past the end, zero-length loops */
	CHECK_INT(decode_hex(43, "00 00 0000"), M);
	CHECK_INT(decode_hex(43, "00 00 0003"), M);
	CHECK_INT(decode_hex(43, "00 00 0004"), 0); /* an empty Vendor ID */
	CHECK_INT(decode_hex(43, "00 00 0005"), M);
	CHECK_INT(decode_hex(43, "00 00 ffff 00"), M);
	CHECK_INT(decode_hex(43, "2b 00 0004 00 00 0000"), M);
	CHECK_INT(decode_hex(43, "00 00"), M);
	/* Next Payload says more, but the bytes end */
	CHECK_INT(decode_hex(43, "2b 00 0004"), M);
	/* Next Payload says none, but bytes follow */
	CHECK_INT(decode_hex(43, "00 00 0004 2b 00 0004"), M);
	CHECK_INT(decode_hex(0, "00 00 0004"), M);
	CHECK_INT(decode_hex(0, ""), 0); /* no payloads at all */
	/* a known payload that does not parse */
	CHECK_INT(decode_hex(34, "00 00 0006 001f"), M);                /* KE short of its group */
	CHECK_INT(decode_hex(41, "00 00 0008 00 04 4000"), M);          /* N: SPI past the end */
	CHECK_INT(decode_hex(42, "00 00 000c 03 04 0002 00000001"), M); /* D: one SPI of two */
	CHECK_INT(decode_hex(35, "00 00 0007 01 0000"), M);             /* ID short of its header */

	/* too many payloads: 64 empty Vendor IDs pass, 65 do not */
	char many[65 * 12 + 1];
	for (int count = 64; count <= 65; count++) {
		many[0] = '\0';
		for (int i = 0; i < count; i++)
			strcat(many, i + 1 < count ? "2b 00 0004 " : "00 00 0004 ");
		CHECK_INT(decode_hex(43, many), count <= KEEL_V2_MAX_PAYLOADS ? 0 : M);
	}

	/* unknown payloads: skipped and kept, unless critical (RFC 7296 §2.5) */
	CHECK_INT(decode_hex(49, "2b 00 0006 abcd 00 00 0004"), 0);
	m = mk_msg(49, 0x20, "2b 00 0006 abcd 00 00 0004", &len);
	CHECK_INT(keel_v2_msg_decode(m, len, &msg_b), 0);
	CHECK(!msg_b.chain.p[0].known && msg_b.chain.p[0].body.len == 2);
	CHECK(msg_b.chain.p[1].known);
	free(m);
	CHECK_INT(decode_hex(49, "2b 80 0006 abcd 00 00 0004"), KEEL_ERR_UNSUPPORTED);
	CHECK_INT(msg_b.chain.unsupported_type, 49);
	CHECK_INT(decode_hex(43, "c8 00 0004 00 80 0004"), KEEL_ERR_UNSUPPORTED);
	CHECK_INT(msg_b.chain.unsupported_type, 200);
	/* the critical bit on a known payload is ignored */
	CHECK_INT(decode_hex(43, "00 80 0004"), 0);
	CHECK(msg_b.chain.p[0].critical);

	/* SK must be last, and never inside SK */
	CHECK_INT(decode_hex(46, "29 00 0014 00112233445566778899aabbccddeeff"), 0);
	CHECK_INT(decode_hex(46, "29 00 0014 00112233445566778899aabbccddeeff 00 00 0004"), M);
	CHECK_INT(decode_hex(43, "2e 00 0004 29 00 0014 00112233445566778899aabbccddeeff"), 0);
	CHECK_INT(decode_hex(53, "29 00 0008 0001 0001"), 0);
	CHECK_INT(decode_hex(53, "29 00 0008 0001 0001 00 00 0004"), M);
	static const uint8_t inner_sk[] = {0x00, 0x00, 0x00, 0x05, 0x00};
	struct keel_rd r = keel_rd_init(inner_sk, sizeof(inner_sk));
	CHECK_INT(keel_v2_chain_decode(&r, 46, KEEL_V2_CHAIN_OUTER, &chain_b), 0);
	r = keel_rd_init(inner_sk, sizeof(inner_sk));
	CHECK_INT(keel_v2_chain_decode(&r, 46, KEEL_V2_CHAIN_INNER, &chain_b), M);
	CHECK_INT(r.left, sizeof(inner_sk)); /* r untouched on error */
	r = keel_rd_init(inner_sk, sizeof(inner_sk));
	CHECK_INT(keel_v2_chain_decode(&r, 53, KEEL_V2_CHAIN_INNER, &chain_b), M);

	/* SKF fragment numbers: 1..total (RFC 7383 §2.5) */
	CHECK_INT(decode_hex(53, "00 00 0008 0000 0002"), M);
	CHECK_INT(decode_hex(53, "00 00 0008 0003 0002"), M);
	CHECK_INT(decode_hex(53, "00 00 0008 0002 0002"), 0);
	CHECK_INT(decode_hex(53, "00 00 0007 0001 00"), M);

	/* SA structure */
	static const char sa_ok[] = "00 00 0014 00 00 0010 01 01 00 01 00 00 0008 01 00 000c";
	CHECK_INT(decode_hex(33, sa_ok), 0);
	/* Num Transforms 2, one present */
	CHECK_INT(decode_hex(33, "00 00 0014 00 00 0010 01 01 00 02 00 00 0008 01 00 000c"), M);
	/* transform length 7 */
	CHECK_INT(decode_hex(33, "00 00 0014 00 00 0010 01 01 00 01 00 00 0007 01 00 000c"), M);
	/* proposal length past the SA */
	CHECK_INT(decode_hex(33, "00 00 0014 00 00 0011 01 01 00 01 00 00 0008 01 00 000c"), M);
	/* Last Substruc 2 on the only proposal; 3 on the only transform; 1 */
	CHECK_INT(decode_hex(33, "00 00 0014 02 00 0010 01 01 00 01 00 00 0008 01 00 000c"), M);
	CHECK_INT(decode_hex(33, "00 00 0014 00 00 0010 01 01 00 01 03 00 0008 01 00 000c"), M);
	CHECK_INT(decode_hex(33, "00 00 0014 01 00 0010 01 01 00 01 00 00 0008 01 00 000c"), M);
	/* SPI size past the proposal */
	CHECK_INT(decode_hex(33, "00 00 0014 00 00 0010 01 03 09 01 00 00 0008 01 00 000c"), M);
	/* attribute: a TLV whose value runs past the transform; a lone half header */
	CHECK_INT(decode_hex(33, "00 00 0018 00 00 0014 01 01 00 01 00 00 000c 01 00 000c 000e "
	                         "0004"),
	          M);
	CHECK_INT(decode_hex(33, "00 00 0016 00 00 0012 01 01 00 01 00 00 000a 01 00 000c 800e"),
	          M);
	/* too many proposals */
	char sa_many[40 * 80];
	for (int count = KEEL_V2_MAX_PROPOSALS; count <= KEEL_V2_MAX_PROPOSALS + 1; count++) {
		snprintf(sa_many, sizeof(sa_many), "00 00 %04x ", 4 + 20 * count);
		for (int i = 0; i < count; i++) {
			char one[64];
			snprintf(one, sizeof(one),
			         "%s 00 0014 %02x 03 04 01 00000001 00 00 0008 05 00 0000 ",
			         i + 1 < count ? "02" : "00", i + 1);
			strcat(sa_many, one);
		}
		CHECK_INT(decode_hex(33, sa_many), count <= KEEL_V2_MAX_PROPOSALS ? 0 : M);
	}

	/* TS: count mismatch, IPv4 selector of the wrong length, too many */
	static const char ts4[] = "07 00 0010 0000 ffff 0a000000 0affffff";
	char ts_hex[64 * 48];
	snprintf(ts_hex, sizeof(ts_hex), "00 00 0018 01 000000 %s", ts4);
	CHECK_INT(decode_hex(44, ts_hex), 0);
	snprintf(ts_hex, sizeof(ts_hex), "00 00 0018 02 000000 %s", ts4);
	CHECK_INT(decode_hex(44, ts_hex), M);
	snprintf(ts_hex, sizeof(ts_hex), "00 00 0008 01 000000");
	CHECK_INT(decode_hex(44, ts_hex), M);
	CHECK_INT(decode_hex(44, "00 00 001c 01 000000 07 00 0014 0000 ffff 0a000000 0affffff "
	                         "00000000"),
	          M);
	for (int count = KEEL_V2_MAX_TS; count <= KEEL_V2_MAX_TS + 1; count++) {
		snprintf(ts_hex, sizeof(ts_hex), "00 00 %04x %02x 000000", 8 + 16 * count, count);
		for (int i = 0; i < count; i++)
			strcat(ts_hex, ts4);
		CHECK_INT(decode_hex(44, ts_hex), count <= KEEL_V2_MAX_TS ? 0 : M);
	}

	/* CP: attribute past the end; too many attributes */
	CHECK_INT(decode_hex(47, "00 00 000c 01 000000 0001 0004"), M);
	static char cp_hex[80 * 12];
	for (int count = KEEL_V2_MAX_CP_ATTRS; count <= KEEL_V2_MAX_CP_ATTRS + 1; count++) {
		snprintf(cp_hex, sizeof(cp_hex), "00 00 %04x 01 000000", 8 + 4 * count);
		for (int i = 0; i < count; i++)
			strcat(cp_hex, " 0003 0000");
		CHECK_INT(decode_hex(47, cp_hex), count <= KEEL_V2_MAX_CP_ATTRS ? 0 : M);
	}

	/* EAP: Length must be the payload's; at least 4 */
	CHECK_INT(decode_hex(48, "00 00 0009 01 01 0005 01"), 0);
	CHECK_INT(decode_hex(48, "00 00 0009 01 01 0006 01"), M);
	CHECK_INT(decode_hex(48, "00 00 0009 01 01 0004 01"), M);
	CHECK_INT(decode_hex(48, "00 00 0007 03 01 0003"), M);
	CHECK_INT(decode_hex(48, "00 00 0008 03 01 0004"), 0);
}

/* ------------------------------------------------------------------------ */
/* Semantic checks                                                          */
/* ------------------------------------------------------------------------ */

static void test_verify(void)
{
	const int M = KEEL_ERR_MALFORMED;
	static uint8_t big[300];

	/* Nonce 16..256 (RFC 7296 §3.9) */
	CHECK_INT(keel_v2_nonce_verify(bytes(big, 15)), M);
	CHECK_INT(keel_v2_nonce_verify(bytes(big, 16)), 0);
	CHECK_INT(keel_v2_nonce_verify(bytes(big, 256)), 0);
	CHECK_INT(keel_v2_nonce_verify(bytes(big, 257)), M);

	/* SA */
	static struct keel_v2_sa sa;
	build_ike_sa(&sa);
	CHECK_INT(keel_v2_sa_verify(&sa), 0);
	sa.proposals[1].num = 3; /* 1, 3 */
	CHECK_INT(keel_v2_sa_verify(&sa), M);
	sa.proposals[1].num = 2;
	sa.proposals[0].num = 0;
	CHECK_INT(keel_v2_sa_verify(&sa), M);
	/* a responder's lone proposal keeps the number of the offer it took */
	build_ike_sa(&sa);
	sa.proposals[0] = sa.proposals[1];
	sa.n_proposals = 1;
	CHECK_INT(sa.proposals[0].num, 2);
	CHECK_INT(keel_v2_sa_verify(&sa), 0);
	sa.proposals[0].num = 0;
	CHECK_INT(keel_v2_sa_verify(&sa), M);
	build_ike_sa(&sa);
	sa.proposals[0].spi = bytes(spi_esp, 4); /* IKE with a 4-byte SPI */
	CHECK_INT(keel_v2_sa_verify(&sa), M);
	sa.proposals[0].spi = bytes(spi_ike, 8);
	CHECK_INT(keel_v2_sa_verify(&sa), 0);
	sa.proposals[0].protocol = KEEL_V2_PROTO_ESP; /* ESP with an 8-byte SPI */
	CHECK_INT(keel_v2_sa_verify(&sa), M);
	sa.proposals[0].spi = bytes(NULL, 0); /* ESP without SPI */
	CHECK_INT(keel_v2_sa_verify(&sa), M);
	sa.proposals[0].protocol = 9;
	CHECK_INT(keel_v2_sa_verify(&sa), M);
	build_ike_sa(&sa);
	sa.transforms[1].attrs[0] = sa.transforms[0].attrs[0]; /* Key Length on a PRF */
	sa.transforms[1].n_attrs = 1;
	CHECK_INT(keel_v2_sa_verify(&sa), M);
	build_ike_sa(&sa);
	sa.transforms[0].attrs[0].tv = false; /* Key Length as TLV */
	CHECK_INT(keel_v2_sa_verify(&sa), M);
	build_ike_sa(&sa);
	sa.transforms[0].attrs[1] = sa.transforms[0].attrs[0]; /* twice */
	sa.transforms[0].n_attrs = 2;
	CHECK_INT(keel_v2_sa_verify(&sa), M);
	build_ike_sa(&sa);
	sa.transforms[2].type = 0;
	CHECK_INT(keel_v2_sa_verify(&sa), M);
	build_ike_sa(&sa);
	sa.proposals[1].n_transforms = 0;
	CHECK_INT(keel_v2_sa_verify(&sa), M);
	keel_v2_sa_init(&sa);
	CHECK_INT(keel_v2_sa_verify(&sa), M);

	/* KE length by group */
	struct keel_v2_ke ke = {.group = KEEL_V2_DH_ECP256, .data = bytes(big, 64)};
	CHECK_INT(keel_v2_ke_verify(&ke), 0);
	ke.data.len = 65;
	CHECK_INT(keel_v2_ke_verify(&ke), M);
	ke.group = KEEL_V2_DH_MODP2048;
	CHECK_INT(keel_v2_ke_verify(&ke), M);
	ke.data.len = 256;
	CHECK_INT(keel_v2_ke_verify(&ke), 0);
	ke.group = 0;
	CHECK_INT(keel_v2_ke_verify(&ke), M);
	ke.group = 1234; /* unknown: any length */
	CHECK_INT(keel_v2_ke_verify(&ke), 0);
	CHECK_INT(keel_v2_dh_public_len(KEEL_V2_DH_CURVE25519), 32);
	CHECK_INT(keel_v2_dh_public_len(KEEL_V2_DH_CURVE448), 56);
	CHECK_INT(keel_v2_dh_public_len(KEEL_V2_DH_ECP521), 132);
	CHECK_INT(keel_v2_dh_public_len(KEEL_V2_DH_MODP8192), 1024);
	CHECK_INT(keel_v2_dh_public_len(KEEL_V2_DH_ML_KEM_768), KEEL_ERR_UNSUPPORTED);

	/* TS */
	static struct keel_v2_ts ts;
	memset(&ts, 0, sizeof(ts));
	CHECK_INT(keel_v2_ts_verify(&ts), M); /* none */
	ts.n = 1;
	ts.ts[0].type = KEEL_V2_TS_IPV4_ADDR_RANGE;
	ts.ts[0].end_port = 65535;
	memset(ts.ts[0].end_addr, 0xff, 4);
	CHECK_INT(keel_v2_ts_verify(&ts), 0);
	ts.ts[0].start_addr[3] = 1;
	ts.ts[0].end_addr[0] = 0; /* 0.0.0.1 .. 0.255.255.255 */
	CHECK_INT(keel_v2_ts_verify(&ts), 0);
	ts.ts[0].start_addr[0] = 1; /* 1.0.0.1 .. 0.255.255.255 */
	CHECK_INT(keel_v2_ts_verify(&ts), M);
	memset(ts.ts[0].start_addr, 0, 16);
	ts.ts[0].start_port = 500;
	ts.ts[0].end_port = 499;
	CHECK_INT(keel_v2_ts_verify(&ts), M);
	ts.ts[0].start_port = 65535;
	ts.ts[0].end_port = 0; /* OPAQUE */
	CHECK_INT(keel_v2_ts_verify(&ts), 0);
	ts.ts[0].type = KEEL_V2_TS_IPV6_ADDR_RANGE;
	ts.ts[0].start_addr[15] = 1; /* ::1 .. 0::: the IPv6 bytes count too */
	memset(ts.ts[0].end_addr, 0, 16);
	CHECK_INT(keel_v2_ts_verify(&ts), M);

	/* ID */
	struct keel_v2_id id = {.type = KEEL_V2_ID_IPV4_ADDR, .data = bytes(big, 5)};
	CHECK_INT(keel_v2_id_verify(&id), M);
	id.data.len = 4;
	CHECK_INT(keel_v2_id_verify(&id), 0);
	id.type = 4; /* ID_IPV4_ADDR_SUBNET is IKEv1 only */
	CHECK_INT(keel_v2_id_verify(&id), M);
	id.type = KEEL_V2_ID_FQDN;
	id.data.len = 0;
	CHECK_INT(keel_v2_id_verify(&id), M);
	id.type = KEEL_V2_ID_NULL;
	CHECK_INT(keel_v2_id_verify(&id), 0);

	/* Notify */
	struct keel_v2_notify n = {.type = KEEL_V2_N_NAT_DETECTION_SOURCE_IP,
	                           .data = bytes(big, 19)};
	CHECK_INT(keel_v2_notify_verify(&n), M);
	n.data.len = 20;
	CHECK_INT(keel_v2_notify_verify(&n), 0);
	n.type = KEEL_V2_N_COOKIE;
	CHECK_INT(keel_v2_notify_verify(&n), 0);
	n.data.len = 65;
	CHECK_INT(keel_v2_notify_verify(&n), M);
	n.data.len = 0;
	CHECK_INT(keel_v2_notify_verify(&n), M);
	n.type = KEEL_V2_N_INVALID_KE_PAYLOAD;
	n.data.len = 2;
	CHECK_INT(keel_v2_notify_verify(&n), 0);
	n.data.len = 3;
	CHECK_INT(keel_v2_notify_verify(&n), M);
	n.type = KEEL_V2_N_INITIAL_CONTACT;
	n.data.len = 0;
	n.spi = bytes(big, 3); /* SPI of 3 bytes */
	CHECK_INT(keel_v2_notify_verify(&n), M);
	n.spi.len = 4;
	n.protocol = KEEL_V2_PROTO_IKE; /* a 4-byte SPI must be AH/ESP */
	CHECK_INT(keel_v2_notify_verify(&n), M);
	n.protocol = KEEL_V2_PROTO_ESP;
	CHECK_INT(keel_v2_notify_verify(&n), 0);
	n.type = KEEL_V2_N_REKEY_SA;
	n.spi.len = 0;
	CHECK_INT(keel_v2_notify_verify(&n), M);
	n.type = KEEL_V2_N_SIGNATURE_HASH_ALGORITHMS;
	n.data.len = 3;
	CHECK_INT(keel_v2_notify_verify(&n), M);

	/* Delete */
	struct keel_v2_delete d = {
	    .protocol = KEEL_V2_PROTO_IKE, .spi_size = 4, .n_spis = 1, .spis = bytes(big, 4)};
	CHECK_INT(keel_v2_delete_verify(&d), M);
	d.protocol = KEEL_V2_PROTO_ESP;
	CHECK_INT(keel_v2_delete_verify(&d), 0);
	d.n_spis = 0;
	d.spis.len = 0;
	CHECK_INT(keel_v2_delete_verify(&d), M);

	/* CP */
	static struct keel_v2_cp cp;
	memset(&cp, 0, sizeof(cp));
	cp.cfg_type = 5;
	CHECK_INT(keel_v2_cp_verify(&cp), M);
	cp.cfg_type = KEEL_V2_CFG_REPLY;
	cp.n = 1;
	cp.attrs[0] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP4_ADDRESS, bytes(big, 3)};
	CHECK_INT(keel_v2_cp_verify(&cp), M);
	cp.attrs[0].value.len = 4;
	CHECK_INT(keel_v2_cp_verify(&cp), 0);
	cp.attrs[0] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP6_ADDRESS, bytes(big, 16)};
	CHECK_INT(keel_v2_cp_verify(&cp), M);
	cp.attrs[0] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP4_SUBNET, bytes(big, 4)};
	CHECK_INT(keel_v2_cp_verify(&cp), M);
	cp.attrs[0] = (struct keel_v2_cp_attr){0x5000, bytes(big, 7)}; /* private: any */
	CHECK_INT(keel_v2_cp_verify(&cp), 0);

	/* EAP */
	struct keel_v2_eap eap = {.code = KEEL_V2_EAP_REQUEST};
	CHECK_INT(keel_v2_eap_verify(&eap), M); /* no Type */
	eap.code = KEEL_V2_EAP_SUCCESS;
	CHECK_INT(keel_v2_eap_verify(&eap), 0);
	eap.data = bytes(big, 1);
	CHECK_INT(keel_v2_eap_verify(&eap), M);
	eap.code = 9;
	eap.data.len = 0;
	CHECK_INT(keel_v2_eap_verify(&eap), M);

	/* AUTH, CERT, SKF */
	struct keel_v2_auth auth = {.method = 0, .data = bytes(big, 32)};
	CHECK_INT(keel_v2_auth_verify(&auth), M);
	auth.method = KEEL_V2_AUTH_DIGITAL_SIG;
	CHECK_INT(keel_v2_auth_verify(&auth), 0);
	struct keel_v2_cert cert = {.encoding = KEEL_V2_CERT_X509_SIGNATURE,
	                            .data = bytes(big, 21)};
	CHECK_INT(keel_v2_cert_verify(KEEL_V2_PAYLOAD_CERTREQ, &cert), M);
	CHECK_INT(keel_v2_cert_verify(KEEL_V2_PAYLOAD_CERT, &cert), 0);
	cert.data.len = 0;
	CHECK_INT(keel_v2_cert_verify(KEEL_V2_PAYLOAD_CERT, &cert), M);
	struct keel_v2_skf skf = {.inner_type = 35, .frag_num = 2, .total = 2};
	CHECK_INT(keel_v2_skf_verify(&skf), M); /* Next Payload only in fragment 1 */
	skf.inner_type = 0;
	CHECK_INT(keel_v2_skf_verify(&skf), 0);

	/* the dispatcher and the chain check */
	memset(&pl_a, 0, sizeof(pl_a));
	pl_a.type = KEEL_V2_PAYLOAD_NONCE;
	pl_a.u.nonce = bytes(big, 8);
	CHECK_INT(keel_v2_payload_verify(&pl_a), M);
	CHECK_INT(decode_hex(40, "00 00 000c 0000000000000000"), 0);
	CHECK_INT(keel_v2_chain_verify(&msg_b.chain), M);
	CHECK_INT(decode_hex(40, "00 00 0014 00000000000000000000000000000000"), 0);
	CHECK_INT(keel_v2_chain_verify(&msg_b.chain), 0);
}

static void test_encode_errors(void)
{
	uint8_t buf[256];
	struct keel_wr w = keel_wr_init(buf, sizeof(buf));
	struct keel_v2_chain_wr cw;
	keel_v2_chain_wr_begin(&cw, &w);
	memset(&pl_a, 0, sizeof(pl_a));
	pl_a.type = KEEL_V2_PAYLOAD_DELETE; /* SPIs do not match their count */
	pl_a.u.del.protocol = KEEL_V2_PROTO_ESP;
	pl_a.u.del.spi_size = 4;
	pl_a.u.del.n_spis = 2;
	pl_a.u.del.spis = bytes(spi_esp, 4);
	CHECK_INT(keel_v2_chain_add(&cw, &pl_a), KEEL_ERR_INVAL);
	memset(&pl_a, 0, sizeof(pl_a));
	pl_a.type = KEEL_V2_PAYLOAD_VENDOR;
	CHECK_INT(keel_v2_chain_add(&cw, &pl_a), KEEL_ERR_INVAL); /* sticky */
	CHECK_INT(keel_v2_chain_finish(&cw), KEEL_ERR_INVAL);

	/* a payload over 65535 bytes */
	static uint8_t huge[70000], out[70100];
	w = keel_wr_init(out, sizeof(out));
	keel_v2_chain_wr_begin(&cw, &w);
	pl_a.u.vendor = bytes(huge, sizeof(huge));
	CHECK_INT(keel_v2_chain_add(&cw, &pl_a), KEEL_ERR_INVAL);

	/* a NULL pointer with a length */
	w = keel_wr_init(buf, sizeof(buf));
	keel_v2_chain_wr_begin(&cw, &w);
	pl_a.u.vendor = bytes(NULL, 4);
	CHECK_INT(keel_v2_chain_add(&cw, &pl_a), KEEL_ERR_INVAL);

	/* SKF numbering */
	w = keel_wr_init(buf, sizeof(buf));
	keel_v2_chain_wr_begin(&cw, &w);
	memset(&pl_a, 0, sizeof(pl_a));
	pl_a.type = KEEL_V2_PAYLOAD_SKF;
	pl_a.u.skf.frag_num = 0;
	pl_a.u.skf.total = 1;
	CHECK_INT(keel_v2_chain_add(&cw, &pl_a), KEEL_ERR_INVAL);

	/* a bare chain: the first type is reported, nothing patched before it */
	w = keel_wr_init(buf, sizeof(buf));
	keel_v2_chain_wr_begin(&cw, &w);
	memset(&pl_a, 0, sizeof(pl_a));
	pl_a.type = KEEL_V2_PAYLOAD_VENDOR;
	keel_v2_chain_add(&cw, &pl_a);
	pl_a.type = KEEL_V2_PAYLOAD_NONCE;
	keel_v2_chain_add(&cw, &pl_a);
	CHECK_INT(keel_v2_chain_finish(&cw), 8);
	static const uint8_t want[] = {0x28, 0, 0, 4, 0, 0, 0, 4};
	CHECK_MEM(buf, 8, want, sizeof(want));
	CHECK_INT(cw.first_type, KEEL_V2_PAYLOAD_VENDOR);
	CHECK_INT(cw.n, 2);
}

/* ------------------------------------------------------------------------ */
/* Names                                                                    */
/* ------------------------------------------------------------------------ */

static bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static void test_names(void)
{
	CHECK(streq(keel_v2_exchange_name(34), "IKE_SA_INIT"));
	CHECK(streq(keel_v2_exchange_name(37), "INFORMATIONAL"));
	CHECK(streq(keel_v2_exchange_name(43), "IKE_INTERMEDIATE"));
	CHECK(streq(keel_v2_exchange_name(33), "unknown"));
	CHECK(streq(keel_v2_payload_name(33), "SA"));
	CHECK(streq(keel_v2_payload_name(46), "SK"));
	CHECK(streq(keel_v2_payload_name(53), "SKF"));
	CHECK(streq(keel_v2_payload_name(255), "unknown"));
	CHECK(streq(keel_v2_notify_name(1), "UNSUPPORTED_CRITICAL_PAYLOAD"));
	CHECK(streq(keel_v2_notify_name(16388), "NAT_DETECTION_SOURCE_IP"));
	CHECK(streq(keel_v2_notify_name(16390), "COOKIE"));
	CHECK(streq(keel_v2_notify_name(16417), "EAP_ONLY_AUTHENTICATION"));
	CHECK(streq(keel_v2_notify_name(16430), "IKEV2_FRAGMENTATION_SUPPORTED"));
	CHECK(streq(keel_v2_notify_name(16431), "SIGNATURE_HASH_ALGORITHMS"));
	CHECK(streq(keel_v2_notify_name(3), "unknown"));
	CHECK(keel_v2_notify_is_error(KEEL_V2_N_AUTHENTICATION_FAILED));
	CHECK(!keel_v2_notify_is_error(KEEL_V2_N_INITIAL_CONTACT));
	CHECK(streq(keel_v2_transform_type_name(4), "KE"));
	CHECK(streq(keel_v2_encr_name(12), "AES_CBC"));
	CHECK(streq(keel_v2_encr_name(13), "AES_CTR"));
	CHECK(streq(keel_v2_encr_name(18), "AES_GCM_8"));
	CHECK(streq(keel_v2_encr_name(19), "AES_GCM_12"));
	CHECK(streq(keel_v2_encr_name(20), "AES_GCM_16"));
	CHECK(streq(keel_v2_encr_name(28), "CHACHA20_POLY1305"));
	CHECK(streq(keel_v2_encr_name(3), "3DES"));
	CHECK(streq(keel_v2_encr_name(11), "NULL"));
	CHECK(streq(keel_v2_prf_name(5), "PRF_HMAC_SHA2_256"));
	CHECK(streq(keel_v2_integ_name(12), "AUTH_HMAC_SHA2_256_128"));
	CHECK(streq(keel_v2_integ_name(0), "NONE"));
	CHECK(streq(keel_v2_transform_id_name(1, 20), "AES_GCM_16"));
	CHECK(streq(keel_v2_transform_id_name(4, 31), "CURVE25519"));
	CHECK(streq(keel_v2_transform_id_name(6, 14), "MODP2048"));
	CHECK(streq(keel_v2_transform_id_name(5, 1), "YES"));
	CHECK(streq(keel_v2_transform_id_name(99, 1), "unknown"));
	static const unsigned groups[] = {14, 15, 16, 17, 18, 19, 20, 21, 31, 32};
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		CHECK(!streq(keel_v2_dh_name(groups[i]), "unknown"));
		CHECK(keel_v2_dh_public_len(groups[i]) > 0);
	}
	CHECK(streq(keel_v2_id_type_name(2), "ID_FQDN"));
	CHECK(streq(keel_v2_id_type_name(13), "ID_NULL"));
	CHECK(streq(keel_v2_auth_method_name(2), "SHARED_KEY_MIC"));
	CHECK(streq(keel_v2_auth_method_name(13), "NULL"));
	CHECK(streq(keel_v2_cert_encoding_name(4), "X509_SIGNATURE"));
	CHECK(streq(keel_v2_ts_type_name(8), "TS_IPV6_ADDR_RANGE"));
	CHECK(streq(keel_v2_cfg_type_name(2), "CFG_REPLY"));
	CHECK(streq(keel_v2_cp_attr_name(1), "INTERNAL_IP4_ADDRESS"));
	CHECK(streq(keel_v2_cp_attr_name(13), "INTERNAL_IP4_SUBNET"));
	CHECK(streq(keel_v2_cp_attr_name(15), "INTERNAL_IP6_SUBNET"));
	CHECK(streq(keel_v2_cp_attr_name(25), "INTERNAL_DNS_DOMAIN"));
	CHECK(streq(keel_v2_protocol_name(3), "ESP"));
	CHECK(streq(keel_v2_eap_code_name(3), "Success"));
	/* every registered notify type Keel lists has a name */
	static const unsigned notifies[] = {
	    1,     4,     5,     7,     9,     11,    14,    17,    24,    34,    35,
	    36,    37,    38,    39,    40,    41,    42,    43,    44,    45,    46,
	    47,    48,    16384, 16385, 16386, 16387, 16388, 16389, 16390, 16391, 16392,
	    16393, 16394, 16395, 16396, 16397, 16398, 16399, 16400, 16401, 16402, 16403,
	    16404, 16405, 16406, 16407, 16408, 16409, 16410, 16411, 16412, 16413, 16414,
	    16415, 16416, 16417, 16418, 16419, 16420, 16421, 16422, 16423, 16424, 16425,
	    16426, 16427, 16428, 16429, 16430, 16431, 16432, 16433, 16434, 16435, 16436,
	    16437, 16438, 16439, 16440, 16441, 16442, 16443, 16444};
	for (size_t i = 0; i < sizeof(notifies) / sizeof(notifies[0]); i++)
		CHECK(!streq(keel_v2_notify_name(notifies[i]), "unknown"));
}

/* ------------------------------------------------------------------------ */
/* Captured strongSwan exchanges (tests/vectors/strongswan/ikev2-*.txt)      */
/* ------------------------------------------------------------------------ */

struct capture_keys {
	char suite[128];
	uint8_t *ei, *er, *ai, *ar;
	size_t ei_len, er_len, ai_len, ar_len;
};

static uint8_t *opt_hex(struct tv_file *f, const char *name, size_t *len)
{
	*len = 0;
	return tv_str(f, name) ? tv_hex(f, name, len) : NULL;
}

/*
 * Decrypts an SK/SKF body with the capture's keys, checking the ICV:
 * AES-CBC + HMAC-SHA2-256-128 (RFC 7296 §3.14, RFC 4868), AES-GCM-16
 * (RFC 5282) or ChaCha20-Poly1305 (RFC 7634). Returns the plaintext length
 * or -1.
 */
static long sk_decrypt(const struct capture_keys *k, bool from_initiator, const uint8_t *msg,
                       struct keel_v2_bytes body, uint8_t *plain)
{
	const uint8_t *ke = from_initiator ? k->ei : k->er;
	size_t ke_len = from_initiator ? k->ei_len : k->er_len;
	const uint8_t *ka = from_initiator ? k->ai : k->ar;
	size_t ka_len = from_initiator ? k->ai_len : k->ar_len;
	bool cbc = strstr(k->suite, "AES_CBC") != NULL;
	bool gcm = strstr(k->suite, "AES_GCM_16") != NULL;
	bool chacha = strstr(k->suite, "CHACHA20_POLY1305") != NULL;
	size_t iv_len = cbc ? 16 : 8, icv_len = 16;
	struct keel_v2_sk_parts parts;
	long out = -1;
	int n = 0, fin = 0;
	if (!ke || (!cbc && !gcm && !chacha) || (cbc && !ka) ||
	    keel_v2_sk_split(body, iv_len, icv_len, &parts) != 0)
		return -1;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -1;
	if (cbc) {
		uint8_t mac[32];
		size_t mac_len = 0;
		size_t covered = (size_t)(parts.icv.p - msg);
		if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, ka, ka_len, msg, covered, mac,
		               sizeof(mac), &mac_len) ||
		    CRYPTO_memcmp(mac, parts.icv.p, icv_len) != 0)
			goto out;
		const EVP_CIPHER *c = ke_len == 16   ? EVP_aes_128_cbc()
		                      : ke_len == 24 ? EVP_aes_192_cbc()
		                                     : EVP_aes_256_cbc();
		if (!EVP_DecryptInit_ex(ctx, c, NULL, ke, parts.iv.p) ||
		    !EVP_CIPHER_CTX_set_padding(ctx, 0) ||
		    !EVP_DecryptUpdate(ctx, plain, &n, parts.ciphertext.p,
		                       (int)parts.ciphertext.len) ||
		    !EVP_DecryptFinal_ex(ctx, plain + n, &fin))
			goto out;
	} else {
		/* key || 4-byte salt; nonce = salt || IV; AAD = header .. IV */
		uint8_t nonce[12];
		size_t key_len = ke_len - 4;
		memcpy(nonce, ke + key_len, 4);
		memcpy(nonce + 4, parts.iv.p, 8);
		const EVP_CIPHER *c = chacha          ? EVP_chacha20_poly1305()
		                      : key_len == 16 ? EVP_aes_128_gcm()
		                      : key_len == 24 ? EVP_aes_192_gcm()
		                                      : EVP_aes_256_gcm();
		int aad_n = 0;
		if (!EVP_DecryptInit_ex(ctx, c, NULL, NULL, NULL) ||
		    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) ||
		    !EVP_DecryptInit_ex(ctx, NULL, NULL, ke, nonce) ||
		    !EVP_DecryptUpdate(ctx, NULL, &aad_n, msg, (int)(parts.iv.p - msg)) ||
		    !EVP_DecryptUpdate(ctx, plain, &n, parts.ciphertext.p,
		                       (int)parts.ciphertext.len) ||
		    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)icv_len,
		                         (void *)parts.icv.p) ||
		    EVP_DecryptFinal_ex(ctx, plain + n, &fin) <= 0)
			goto out;
	}
	out = n + fin;
out:
	EVP_CIPHER_CTX_free(ctx);
	return out;
}

/* Re-encodes a decoded chain; the bytes must come out the same. */
static void check_reencode(const struct keel_v2_chain *c, const struct keel_v2_hdr *hdr,
                           const uint8_t *want, size_t want_len, const char *where)
{
	static uint8_t buf[65536];
	struct keel_wr w = keel_wr_init(buf, sizeof(buf));
	struct keel_v2_chain_wr cw;
	if (hdr)
		keel_v2_msg_wr_begin(&cw, &w, hdr);
	else
		keel_v2_chain_wr_begin(&cw, &w);
	for (size_t i = 0; i < c->n; i++) {
		if (keel_v2_payload_decode(&c->p[i], &pl_b) != 0)
			check_fail(__FILE__, __LINE__, where);
		keel_v2_chain_add(&cw, &pl_b);
	}
	ptrdiff_t n = keel_v2_chain_finish(&cw);
	if (n < 0 || (size_t)n != want_len || memcmp(buf, want, want_len) != 0)
		check_fail(__FILE__, __LINE__, where);
	check_count++;
}

static void print_chain(const struct keel_v2_chain *c)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct keel_v2_raw_payload *p = &c->p[i];
		struct keel_v2_notify nt;
		if (p->type == KEEL_V2_PAYLOAD_NOTIFY && keel_v2_payload_decode(p, &pl_b) == 0) {
			nt = pl_b.u.notify;
			printf(" N(%s)", keel_v2_notify_name(nt.type));
		} else {
			printf(" %s", keel_v2_payload_name(p->type));
		}
	}
}

static uint8_t asm_buf[65536];
static size_t asm_len;
static unsigned asm_next;
static uint8_t asm_type;
static uint32_t asm_msg_id;

/* Parses decrypted contents: the inner chain must decode, verify and re-encode. */
static void parse_inner(struct keel_v2_bytes inner, uint8_t inner_type, const char *where,
                        unsigned *n_decrypted)
{
	uint8_t *ic = dup_exact(inner.p, inner.len);
	struct keel_rd r = keel_rd_init(ic, inner.len);
	int rc = keel_v2_chain_decode(&r, inner_type, KEEL_V2_CHAIN_INNER, &chain_a);
	CHECK_INT(rc, 0);
	if (rc == 0) {
		CHECK_INT(keel_v2_chain_verify(&chain_a), 0);
		check_reencode(&chain_a, NULL, ic, inner.len, where);
		printf(" {");
		print_chain(&chain_a);
		printf(" }");
		(*n_decrypted)++;
	}
	free(ic);
}

static void test_capture_file(const char *rel, unsigned *n_msgs, unsigned *n_decrypted,
                              unsigned *n_reassembled)
{
	struct capture_keys k;
	memset(&k, 0, sizeof(k));
	struct tv_file *f = tv_open(rel);
	while (tv_next(f)) {
		if (streq(tv_section(f), "exchange") && tv_str(f, "IKEProposal"))
			snprintf(k.suite, sizeof(k.suite), "%s", tv_str(f, "IKEProposal"));
		if (streq(tv_section(f), "keys")) {
			k.ei = opt_hex(f, "Sk_ei secret", &k.ei_len);
			k.er = opt_hex(f, "Sk_er secret", &k.er_len);
			k.ai = opt_hex(f, "Sk_ai secret", &k.ai_len);
			k.ar = opt_hex(f, "Sk_ar secret", &k.ar_len);
		}
	}
	tv_close(f);

	f = tv_open(rel);
	while (tv_next(f)) {
		if (!streq(tv_section(f), "datagrams") || !tv_str(f, "Data"))
			continue;
		char where[256];
		snprintf(where, sizeof(where), "%s:%d", tv_name(f), tv_line(f));
		size_t len;
		uint8_t *data = tv_hex(f, "Data", &len);
		uint8_t *m = dup_exact(data, len);
		free(data);
		int rc = keel_v2_msg_decode(m, len, &msg_a);
		if (rc != 0 || keel_v2_chain_verify(&msg_a.chain) != 0) {
			check_fail(__FILE__, __LINE__, where);
			free(m);
			continue;
		}
		(*n_msgs)++;
		check_consistent(&msg_a, m, len);
		check_reencode(&msg_a.chain, &msg_a.hdr, m, len, where);
		bool from_initiator = (msg_a.hdr.flags & KEEL_V2_FLAG_INITIATOR) != 0;
		printf("  %s %s #%u %s:", where, keel_v2_exchange_name(msg_a.hdr.exchange),
		       (unsigned)msg_a.hdr.msg_id,
		       msg_a.hdr.flags & KEEL_V2_FLAG_RESPONSE ? "response" : "request");
		print_chain(&msg_a.chain);
		const struct keel_v2_raw_payload *sk =
		    keel_v2_chain_find(&msg_a.chain, KEEL_V2_PAYLOAD_SK, NULL);
		const struct keel_v2_raw_payload *skf =
		    keel_v2_chain_find(&msg_a.chain, KEEL_V2_PAYLOAD_SKF, NULL);
		static uint8_t plain[65536];
		struct keel_v2_bytes inner;
		if (sk && keel_v2_payload_decode(sk, &pl_a) == 0) {
			uint8_t inner_type = pl_a.u.sk.inner_type;
			long pn = sk_decrypt(&k, from_initiator, m, pl_a.u.sk.body, plain);
			if (pn < 0 || keel_v2_sk_unpad(bytes(plain, (size_t)pn), &inner) != 0)
				check_fail(__FILE__, __LINE__, where);
			else
				parse_inner(inner, inner_type, where, n_decrypted);
			/* the harness itself: a flipped ICV bit must fail */
			uint8_t *bad = dup_exact(m, len);
			bad[len - 1] ^= 1;
			struct keel_v2_bytes body = pl_a.u.sk.body;
			body.p = bad + (body.p - m);
			CHECK(sk_decrypt(&k, from_initiator, bad, body, plain) < 0);
			free(bad);
		} else if (skf && keel_v2_payload_decode(skf, &pl_a) == 0) {
			/* RFC 7383 §2.6: decrypt each fragment, join them in order */
			struct keel_v2_skf frag = pl_a.u.skf;
			long pn = sk_decrypt(&k, from_initiator, m, frag.body, plain);
			if (frag.frag_num == 1) {
				asm_len = 0;
				asm_next = 1;
				asm_type = frag.inner_type;
				asm_msg_id = msg_a.hdr.msg_id;
			}
			if (pn < 0 || keel_v2_sk_unpad(bytes(plain, (size_t)pn), &inner) != 0 ||
			    frag.frag_num != asm_next || msg_a.hdr.msg_id != asm_msg_id ||
			    inner.len > sizeof(asm_buf) - asm_len) {
				check_fail(__FILE__, __LINE__, where);
			} else {
				printf(" (%u/%u)", frag.frag_num, frag.total);
				memcpy(asm_buf + asm_len, inner.p, inner.len);
				asm_len += inner.len;
				asm_next++;
				if (frag.frag_num == frag.total) {
					parse_inner(bytes(asm_buf, asm_len), asm_type, where,
					            n_decrypted);
					(*n_reassembled)++;
				}
			}
		}
		printf("\n");
		free(m);
	}
	tv_close(f);
	free(k.ei);
	free(k.er);
	free(k.ai);
	free(k.ar);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_strongswan_captures(void)
{
	const char *dir = getenv("KEEL_VECTORS");
	char path[1024];
	snprintf(path, sizeof(path), "%s/strongswan", dir ? dir : "tests/vectors");
	DIR *d = opendir(path);
	if (!d) {
		printf("no strongSwan captures in %s: not tested\n", path);
		return;
	}
	char *names[64];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < 64) {
		size_t l = strlen(e->d_name);
		if (strncmp(e->d_name, "ikev2-", 6) == 0 && l > 4 &&
		    strcmp(e->d_name + l - 4, ".txt") == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	unsigned msgs = 0, decrypted = 0, reassembled = 0;
	for (size_t i = 0; i < n; i++) {
		char rel[512];
		snprintf(rel, sizeof(rel), "strongswan/%s", names[i]);
		test_capture_file(rel, &msgs, &decrypted, &reassembled);
		free(names[i]);
	}
	printf("strongSwan captures: %zu files, %u messages decoded, %u encrypted contents "
	       "decrypted and parsed, %u of them reassembled from SKF fragments\n",
	       n, msgs, decrypted, reassembled);
	if (n > 0) {
		CHECK(msgs > 0);
		CHECK(decrypted > 0);
		CHECK(reassembled > 0);
	}
}

int main(void)
{
	test_sa();
	test_small_payloads();
	test_ts();
	test_cp();
	test_eap();
	test_sa_init();
	test_known_capture();
	test_sk_in_place();
	test_skf_in_place();
	test_malformed();
	test_verify();
	test_encode_errors();
	test_names();
	test_strongswan_captures();
	return check_done();
}
