/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small IKEv2 responder for the engine's tests and fuzzer: the gateway the
 * engine talks to. Built from the wire codec and the crypto modules (not
 * from the engine's own task code), it checks what the engine sends (AUTH
 * recomputed per RFC 7296 §2.15 with the PRF directly, keys from kdf.h) and
 * answers as a gateway would, with switches for the failures a real one
 * produces. It can also start exchanges: DELETE, liveness checks, CHILD SA
 * and IKE SA rekeys. Beyond PSK it proves itself with a certificate and a
 * signature (RFC 7427 or the classic methods), checks the engine's
 * certificate and signature, runs the server side of EAP-Identity,
 * EAP-MSCHAPv2 (from the RFC 2759 primitives), EAP-MD5 and EAP-GTC with
 * the final MSK-based AUTH (RFC 7296 §2.16, EAP-only RFC 5998), and sends
 * and reassembles RFC 7383 fragments.
 *
 * Test code only: it trusts what it is given far more than Keel does.
 */
#ifndef KEEL_TEST_IKEV2_GW_H
#define KEEL_TEST_IKEV2_GW_H

#pragma GCC diagnostic ignored "-Wunused-function"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <keel/config.h>
#include <keel/env.h>
#include <keel/secret.h>

#include "crypto/dh.h"
#include "crypto/kdf.h"
#include "crypto/prf.h"
#include "crypto/sig.h"
#include "crypto/x509.h"
#include "eap/eap.h"
#include "ikev2/addr.h"
#include "ikev2/keys.h"
#include "ikev2/nat.h"
#include "ikev2/sk.h"
#include "wire/ikev2.h"

/* ---- seeded randomness (splitmix64) ---- */

struct rng {
	uint64_t s;
};

static int rng_fill(void *ctx, uint8_t *buf, size_t len)
{
	struct rng *r = ctx;
	while (len > 0) {
		uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		for (int i = 0; i < 8 && len > 0; i++, len--)
			*buf++ = (uint8_t)(z >> (8 * i));
	}
	return 0;
}

/* ---- the gateway ---- */

#define GW_MAX_IKE   4
#define GW_MAX_CHILD 8

struct gw_ike {
	bool used;
	bool gw_initiator; /* the gateway is this IKE SA's original initiator */
	uint64_t spi_i, spi_r;
	struct keel_algs alg;
	struct keel_ikev2_ike_keys keys;
	struct keel_sk sk; /* the gateway's view */
	uint32_t next_req; /* the gateway's next request */
	uint32_t expect;   /* the engine's next request */
	uint8_t last_resp[16384];
	size_t last_resp_len;
};

struct gw_child {
	bool used;
	uint32_t spi_gw; /* inbound at the gateway = the engine's outbound */
	uint32_t spi_cl; /* the engine's inbound */
	struct keel_algs alg;
	uint8_t encr_to_gw[64], encr_to_cl[64], integ_to_gw[64], integ_to_cl[64];
	size_t encr_len, integ_len;
};

enum gw_pending {
	GW_NONE,
	GW_INFO,
	GW_REKEY_CHILD,
	GW_REKEY_IKE,
};

enum gw_eap_stage {
	GW_EAP_NONE,       /* no EAP under way */
	GW_EAP_IDENTITY,   /* Request/Identity sent */
	GW_EAP_METHOD,     /* the method's first request sent */
	GW_EAP_MS_SUCCESS, /* MS-CHAPv2 Success request sent */
	GW_EAP_MS_FAILURE, /* MS-CHAPv2 Failure request sent */
	GW_EAP_OK,         /* EAP-Success sent: the engine's AUTH comes next */
	GW_EAP_FAILED,     /* EAP-Failure sent */
};

#define GW_MAX_FRAGS 96
#define GW_FRAG_LEN  1500

struct gw {
	struct rng rng;
	struct keel_env env;
	char psk[64];
	struct keel_id id;
	struct keel_addr addr;   /* the gateway */
	struct keel_addr client; /* where the engine is, as the gateway sees it */

	/* behaviour switches */
	bool want_cookie;
	uint16_t want_group;      /* answer INVALID_KE_PAYLOAD unless KE has this group */
	bool no_proposal;         /* IKE_SA_INIT: NO_PROPOSAL_CHOSEN */
	uint16_t auth_notify;     /* IKE_AUTH: answer with this error notify */
	bool auth_notify_with_id; /* ... after IDr and AUTH (the IKE SA is up) */
	bool bad_auth;            /* send a wrong AUTH */
	bool wrong_idr;           /* identify as someone else */
	bool fake_nat;            /* NAT_DETECTION_DESTINATION_IP that cannot match */
	bool no_natd;             /* no NAT detection notifies */
	bool child_ah;            /* CHILD SAs are AH (RFC 4302), not ESP */
	uint8_t deleted_proto;    /* the protocol of the last CHILD SA the engine deleted */
	uint16_t create_notify;   /* CREATE_CHILD_SA from the engine: answer this error once */
	bool silent;              /* answer nothing */

	/* certificates: with key set the gateway signs (RFC 7296 §2.15, RFC 7427) */
	struct keel_privkey *key;
	struct keel_certs *certs; /* sent in CERT payloads, in order */
	bool no_cert;             /* ... or not at all */
	bool no_hashes;           /* no SIGNATURE_HASH_ALGORITHMS: classic methods */
	bool rsa_pss;
	X509 *client_ca;     /* the engine's certificate must be signed by it */
	uint8_t certreq[64]; /* CERTREQ data in the IKE_SA_INIT answer */
	size_t certreq_len;
	bool idr_as_ip; /* identify as IPv4 192.0.2.1 rather than gw.keel.test */

	/* EAP server (the engine sends no AUTH in its first IKE_AUTH) */
	uint8_t eap_method;         /* KEEL_EAP_TYPE_*; 0: no EAP accepted */
	unsigned eap_alt;           /* KEEL_EAP_ALLOW_* the gateway takes after a Nak */
	bool eap_no_identity;       /* skip the EAP-Identity round */
	bool eap_only_ok;           /* takes RFC 5998 EAP-only authentication */
	bool eap_bad_final_auth;    /* a wrong AUTH after EAP */
	bool eap_bad_authenticator; /* a wrong MS-CHAPv2 authenticator response */
	char eap_user[64];
	char eap_password[64];

	/* fragmentation (RFC 7383) */
	bool frag;         /* announce support */
	size_t frag_limit; /* send fragments when an answer exceeds this (IKE bytes) */
	bool frag_on;      /* both announced */

	/* EAP state */
	enum gw_eap_stage eap_stage;
	uint8_t eap_cur;      /* the method under way */
	uint8_t eap_next_id;  /* next EAP Identifier */
	uint8_t eap_chal[16]; /* MD5 / MS-CHAPv2 challenge */
	uint8_t eap_last_id;
	uint8_t eap_nt_hash[16];
	uint8_t eap_nt_response[24];
	uint8_t eap_msk[64];
	bool eap_have_msk;
	bool eap_only; /* EAP-only in force */
	uint8_t auth_idi[4 + KEEL_ID_MAX_LEN];
	size_t auth_idi_len;
	uint8_t auth_idr[4 + KEEL_ID_MAX_LEN]; /* our ID body, for the last AUTH */
	size_t auth_idr_len;
	struct keel_algs auth_alg; /* the first CHILD SA, chosen from the first request */
	uint8_t auth_num;
	uint32_t auth_spi_cl;
	bool auth_have_sa;

	/* fragmentation state: what arrives, what goes */
	uint32_t fr_msgid;
	uint16_t fr_total, fr_have;
	uint8_t fr_first;
	bool fr_got[GW_MAX_FRAGS + 1];
	size_t fr_off[GW_MAX_FRAGS + 1], fr_len[GW_MAX_FRAGS + 1], fr_used;
	uint8_t fr_buf[65536];                 /* decrypted fragments as they came */
	uint8_t fr_plain[65536];               /* the whole inner chain */
	uint8_t fq[GW_MAX_FRAGS][GW_FRAG_LEN]; /* our fragments 2..n waiting to go */
	size_t fq_len[GW_MAX_FRAGS];
	size_t n_fq, fq_pos;
	uint8_t cache_fq[GW_MAX_FRAGS][GW_FRAG_LEN]; /* ... of the last answer, for resending */
	size_t cache_fq_len[GW_MAX_FRAGS];
	size_t n_cache_fq;

	/* state */
	uint8_t cookie[16];
	struct gw_ike ike[GW_MAX_IKE];
	int cur; /* current IKE SA */
	uint8_t ni[256], nr[32];
	size_t ni_len;
	uint8_t msg1[4096], msg2[4096];
	size_t msg1_len, msg2_len;
	struct gw_child child[GW_MAX_CHILD];

	/* observations */
	unsigned n_init, n_auth, n_info, n_create, n_cookie_seen;
	bool auth_ok;
	bool saw_initial_contact;
	bool saw_cp;
	bool saw_idr;
	bool natd_src_ok;
	uint16_t ke_group_seen;
	unsigned deleted_ike, deleted_child;
	uint64_t deleted_ike_spi_i;
	uint32_t deleted_spi;
	uint32_t last_msg_id;
	uint8_t last_exchange;
	uint8_t init_inner_types[16];
	bool saw_frag_supported;
	bool saw_hashes;
	unsigned client_hashes;
	uint8_t client_auth_method;
	enum keel_sig_scheme client_scheme;
	unsigned client_certs;
	uint8_t client_certreq[256];
	size_t client_certreq_len;
	bool saw_eap_only;
	bool sent_sig;      /* the gateway signed its AUTH */
	uint8_t sig_method; /* ... with this AUTH method */
	unsigned n_eap;     /* EAP messages received */
	char eap_identity_seen[64];
	unsigned eap_naks;
	int eap_result; /* 1 success, -1 failure, 0 none */
	bool final_auth_ok;
	unsigned frags_rx;       /* fragments of the last reassembled message */
	unsigned frags_rx_total; /* every authentic fragment received */
	unsigned frags_bad;      /* fragments that failed their ICV */
	size_t max_frag_dgram;   /* largest fragment datagram (IKE bytes) */
	unsigned frags_tx;       /* fragments of our last fragmented answer */

	/* the gateway's own request in flight */
	enum gw_pending pending;
	int pending_ike;
	int pending_child;
	uint8_t req_nonce[32];
	struct keel_dh *req_dh;
	uint32_t req_spi;
	uint64_t req_ike_spi;
	uint8_t cc_ni[256], cc_nr[32]; /* nonces of the engine's last CREATE_CHILD_SA */
	size_t cc_ni_len;
	uint32_t cc_new_spi_cl; /* ... and the engine's SPI of the SA it made */
	uint8_t resp_nr[256];   /* the engine's nonce answering our CREATE_CHILD_SA */
	size_t resp_nr_len;
	uint32_t resp_id_seen;
	uint16_t resp_notify; /* error notify in the engine's answer to our request */

	struct keel_v2_payload pl;
	struct keel_v2_payload pl2;
	struct keel_v2_msg msg;
	struct keel_v2_chain inner;
	uint8_t buf[65536];
	uint8_t tmp[65536];
};

static void gw_init(struct gw *g, uint64_t seed, const char *psk)
{
	memset(g, 0, sizeof(*g));
	g->rng.s = seed;
	g->env.random = rng_fill;
	g->env.random_ctx = &g->rng;
	snprintf(g->psk, sizeof(g->psk), "%s", psk);
	keel_id_from_text("gw.keel.test", &g->id);
	keel_addr_parse("192.0.2.1", 9, &g->addr);
	g->addr.port = 500;
	keel_addr_parse("192.0.2.2", 9, &g->client);
	g->client.port = 500;
}

static void gw_free(struct gw *g)
{
	for (int i = 0; i < GW_MAX_IKE; i++) {
		keel_ikev2_ike_keys_clear(&g->ike[i].keys);
		keel_sk_clear(&g->ike[i].sk);
	}
	keel_dh_free(g->req_dh);
	keel_privkey_free(g->key);
	keel_certs_free(g->certs);
	X509_free(g->client_ca);
	OPENSSL_cleanse(g, sizeof(*g));
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- building ---- */

struct gw_wr {
	struct keel_wr w;
	struct keel_v2_chain_wr outer;
	struct keel_v2_sk_wr sk;
	struct keel_v2_chain_wr *cw;
	struct gw_ike *ike;
	bool prot;
	int err;
};

static void gw_begin(struct gw *g, struct gw_wr *b, struct gw_ike *ike, uint64_t spi_i,
                     uint64_t spi_r, uint8_t exch, bool response, uint32_t msg_id, bool prot,
                     uint8_t *out, size_t cap)
{
	memset(b, 0, sizeof(*b));
	(void)g;
	b->ike = ike;
	b->prot = prot;
	b->w = keel_wr_init(out, cap);
	struct keel_v2_hdr h = {
	    .spi_i = spi_i,
	    .spi_r = spi_r,
	    .major_version = 2,
	    .exchange = exch,
	    .flags = (uint8_t)((ike && ike->gw_initiator ? KEEL_V2_FLAG_INITIATOR : 0) |
	                       (response ? KEEL_V2_FLAG_RESPONSE : 0)),
	    .msg_id = msg_id,
	};
	keel_v2_msg_wr_begin(&b->outer, &b->w, &h);
	b->cw = &b->outer;
	if (prot) {
		keel_v2_sk_begin(&b->outer, &b->sk, ike->sk.iv_len);
		b->cw = &b->sk.inner;
	}
}

static void gw_add(struct gw *g, struct gw_wr *b, uint8_t type)
{
	g->pl.type = type;
	g->pl.critical = false;
	int rc = keel_v2_chain_add(b->cw, &g->pl);
	if (rc < 0 && !b->err)
		b->err = rc;
}

static void gw_notify(struct gw *g, struct gw_wr *b, uint8_t proto, const uint8_t *spi,
                      size_t spi_len, uint16_t type, const uint8_t *data, size_t len)
{
	static const uint8_t none[1];
	memset(&g->pl.u.notify, 0, sizeof(g->pl.u.notify));
	g->pl.u.notify.protocol = proto;
	g->pl.u.notify.type = type;
	g->pl.u.notify.spi = (struct keel_v2_bytes){.p = spi ? spi : none, .len = spi_len};
	g->pl.u.notify.data = (struct keel_v2_bytes){.p = data ? data : none, .len = len};
	gw_add(g, b, KEEL_V2_PAYLOAD_NOTIFY);
}

/*
 * RFC 7383 §2.5: the inner chain inner (first payload of type first) of a
 * message with header h as encrypted fragments of at most limit bytes under
 * sk, into dst[0..]. Returns how many (0 on failure).
 */
static size_t gw_make_frags(struct gw *g, struct keel_sk *sk, const struct keel_v2_hdr *h,
                            uint8_t first, const uint8_t *inner, size_t inner_len, size_t limit,
                            uint8_t (*dst)[GW_FRAG_LEN], size_t *dst_len)
{
	size_t block = sk->block_len;
	size_t over = KEEL_V2_HDR_LEN + KEEL_V2_SKF_HDR_LEN + sk->iv_len + sk->icv_len;
	if (limit > GW_FRAG_LEN || limit < over + block + 1)
		return 0;
	size_t chunk = (limit - over) / block * block - 1;
	size_t total = (inner_len + chunk - 1) / chunk;
	if (total > GW_MAX_FRAGS)
		return 0;
	for (size_t i = 1; i <= total; i++) {
		size_t off = (i - 1) * chunk,
		       len = inner_len - off < chunk ? inner_len - off : chunk;
		struct keel_wr w = keel_wr_init(dst[i - 1], GW_FRAG_LEN);
		struct keel_v2_chain_wr cw;
		struct keel_v2_sk_wr skw;
		struct keel_v2_sk_layout fl;
		keel_v2_msg_wr_begin(&cw, &w, h);
		keel_v2_skf_begin(&cw, &skw, sk->iv_len, (uint16_t)i, (uint16_t)total,
		                  i == 1 ? first : 0);
		keel_wr_bytes(&w, inner + off, len);
		if (keel_v2_sk_end(&skw, block, sk->icv_len, &fl) < 0)
			return 0;
		ptrdiff_t m = keel_v2_chain_finish(&cw);
		if (m < 0 || keel_sk_protect(sk, &g->env, dst[i - 1], &fl) < 0)
			return 0;
		dst_len[i - 1] = (size_t)m;
	}
	return total;
}

/*
 * The message laid out in b (not yet encrypted) as fragments of at most
 * g->frag_limit bytes: fragment 1 goes to b's buffer (its length
 * returned), the others wait in g->fq.
 */
static size_t gw_fragment(struct gw *g, struct gw_wr *b, const struct keel_v2_sk_layout *lay,
                          size_t n)
{
	struct keel_v2_hdr h;
	if (keel_v2_hdr_decode(b->w.buf, n, &h) < 0)
		return 0;
	size_t pad = b->w.buf[lay->plain_off + lay->plain_len - 1];
	size_t inner_len = lay->plain_len - pad - 1;
	memcpy(g->tmp, b->w.buf + lay->plain_off, inner_len);
	size_t total = gw_make_frags(g, &b->ike->sk, &h, b->sk.inner.first_type, g->tmp, inner_len,
	                             g->frag_limit, g->fq, g->fq_len);
	if (total == 0 || g->fq_len[0] > b->w.cap)
		return 0;
	size_t first_len = g->fq_len[0];
	memcpy(b->w.buf, g->fq[0], first_len);
	memmove(g->fq[0], g->fq[1], (total - 1) * sizeof(g->fq[0]));
	memmove(g->fq_len, g->fq_len + 1, (total - 1) * sizeof(g->fq_len[0]));
	g->n_fq = total - 1;
	g->fq_pos = 0;
	g->frags_tx = (unsigned)total;
	return first_len;
}

static size_t gw_end(struct gw *g, struct gw_wr *b)
{
	struct keel_v2_sk_layout lay;
	if (b->prot && keel_v2_sk_end(&b->sk, b->ike->sk.block_len, b->ike->sk.icv_len, &lay) < 0)
		return 0;
	ptrdiff_t n = keel_v2_chain_finish(&b->outer);
	if (n < 0 || b->err)
		return 0;
	if (b->prot && g->frag_on && g->frag_limit && (size_t)n > g->frag_limit)
		return gw_fragment(g, b, &lay, (size_t)n);
	if (b->prot && keel_sk_protect(&b->ike->sk, &g->env, b->w.buf, &lay) < 0)
		return 0;
	return (size_t)n;
}

/* The next fragment of the gateway's last answer still to go; 0 when none. */
static size_t gw_pop(struct gw *g, uint8_t *out, size_t cap)
{
	if (g->fq_pos >= g->n_fq || g->fq_len[g->fq_pos] > cap)
		return 0;
	size_t n = g->fq_len[g->fq_pos];
	memcpy(out, g->fq[g->fq_pos++], n);
	return n;
}

static void gw_ts(struct gw *g, struct gw_wr *b, uint8_t type, const char *text)
{
	struct keel_ts ts;
	keel_ts_from_text(text, &ts);
	memset(&g->pl.u.ts, 0, sizeof(g->pl.u.ts));
	g->pl.u.ts.n = 1;
	struct keel_v2_ts_entry *e = &g->pl.u.ts.ts[0];
	e->type =
	    ts.family == KEEL_AF_INET ? KEEL_V2_TS_IPV4_ADDR_RANGE : KEEL_V2_TS_IPV6_ADDR_RANGE;
	e->start_port = 0;
	e->end_port = 0xffff;
	memcpy(e->start_addr, ts.start, 16);
	memcpy(e->end_addr, ts.end, 16);
	gw_add(g, b, type);
}

/* ---- choosing ---- */

/* The first proposal of protocol proto, first transform of each type (want_group for DH). */
static bool gw_choose(const struct keel_v2_sa *sa, uint8_t proto, uint16_t want_group,
                      struct keel_algs *alg, uint8_t *num, uint8_t *spi, size_t *spi_len)
{
	for (size_t p = 0; p < sa->n_proposals; p++) {
		const struct keel_v2_proposal *pr = &sa->proposals[p];
		if (pr->protocol != proto)
			continue;
		struct keel_algs a;
		bool have[6] = {false};
		memset(&a, 0, sizeof(a));
		for (size_t i = 0; i < pr->n_transforms; i++) {
			const struct keel_v2_transform *t = &sa->transforms[pr->first + i];
			if (t->type < 1 || t->type > 5)
				continue;
			if (t->type == KEEL_V2_TRANSFORM_DH && want_group && t->id == want_group) {
				a.dh = t->id;
				have[4] = true;
				continue;
			}
			if (have[t->type])
				continue;
			have[t->type] = true;
			switch (t->type) {
			case KEEL_V2_TRANSFORM_ENCR:
				a.encr = t->id;
				a.encr_key_bits = (uint16_t)keel_v2_transform_key_len(t);
				break;
			case KEEL_V2_TRANSFORM_PRF:
				a.prf = t->id;
				break;
			case KEEL_V2_TRANSFORM_INTEG:
				a.integ = t->id;
				break;
			case KEEL_V2_TRANSFORM_DH:
				a.dh = t->id;
				break;
			case KEEL_V2_TRANSFORM_ESN:
				a.esn = (uint8_t)t->id;
				break;
			}
		}
		if (want_group && proto == KEEL_V2_PROTO_IKE && a.dh != want_group) {
			/* this proposal lacks the group: it is still chosen, as a gateway
			 * that insists on want_group would answer INVALID_KE */
			a.dh = want_group;
		}
		*alg = a;
		*num = pr->num;
		if (spi) {
			memcpy(spi, pr->spi.p, pr->spi.len);
			*spi_len = pr->spi.len;
		}
		return true;
	}
	return false;
}

/* The protocol of the gateway's CHILD SAs. */
static uint8_t gw_cproto(const struct gw *g)
{
	return g->child_ah ? KEEL_V2_PROTO_AH : KEEL_V2_PROTO_ESP;
}

static void gw_sa_chosen(struct gw *g, uint8_t num, uint8_t proto, const uint8_t *spi,
                         size_t spi_len, const struct keel_algs *a)
{
	struct keel_v2_sa *sa = &g->pl.u.sa;
	keel_v2_sa_init(sa);
	keel_v2_sa_add_proposal(sa, proto, spi, spi_len);
	sa->proposals[0].num = num;
	if (proto != KEEL_V2_PROTO_AH) /* RFC 7296 §3.3.3: AH has no ENCR */
		keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_ENCR, a->encr, a->encr_key_bits);
	if (proto == KEEL_V2_PROTO_IKE)
		keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_PRF, a->prf, 0);
	if (a->integ)
		keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_INTEG, a->integ, 0);
	if (a->dh)
		keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_DH, a->dh, 0);
	if (proto != KEEL_V2_PROTO_IKE)
		keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_ESN, a->esn, 0);
}

/* ---- keys ---- */

static int gw_ike_keys(struct gw_ike *ike, const uint8_t *ni, size_t ni_len, const uint8_t *nr,
                       size_t nr_len, const struct keel_secret *g_ir, const struct gw_ike *old)
{
	struct keel_ikev2_ike_params p;
	enum keel_prf_alg prf;
	enum keel_integ_alg integ;
	memset(&p, 0, sizeof(p));
	if (keel_prf_from_ikev2_id(ike->alg.prf, &prf) < 0 ||
	    keel_integ_from_ikev2_id(ike->alg.integ, &integ) < 0)
		return -1;
	p.prf = prf;
	p.integ = integ;
	p.encr_key_len = keel_encr_keymat_len(ike->alg.encr, ike->alg.encr_key_bits);
	p.nonce_i = ni;
	p.nonce_i_len = (ptrdiff_t)ni_len;
	p.nonce_r = nr;
	p.nonce_r_len = (ptrdiff_t)nr_len;
	p.g_ir = keel_secret_data(g_ir);
	p.g_ir_len = keel_secret_len(g_ir);
	put64(p.spi_i, ike->spi_i);
	put64(p.spi_r, ike->spi_r);
	int rc;
	if (old) {
		enum keel_prf_alg oprf;
		keel_prf_from_ikev2_id(old->alg.prf, &oprf);
		rc = keel_ikev2_derive_ike_rekey(&p, oprf, old->keys.sk_d, &ike->keys);
	} else {
		rc = keel_ikev2_derive_ike(&p, &ike->keys);
	}
	if (rc < 0)
		return rc;
	/* the gateway's view: it sends with SK_e of its role in this IKE SA */
	return keel_sk_init(&ike->sk, ike->alg.encr, ike->alg.encr_key_bits, integ, &ike->keys,
	                    ike->gw_initiator);
}

static void gw_child_keys(struct gw_child *c, const struct gw_ike *ike, const uint8_t *ni,
                          size_t ni_len, const uint8_t *nr, size_t nr_len,
                          const struct keel_secret *g_ir, bool gw_initiated)
{
	struct keel_ikev2_child_params p;
	struct keel_child_keys k;
	enum keel_prf_alg prf;
	enum keel_integ_alg integ;
	memset(&p, 0, sizeof(p));
	memset(&k, 0, sizeof(k));
	keel_prf_from_ikev2_id(ike->alg.prf, &prf);
	keel_integ_from_ikev2_id(c->alg.integ, &integ);
	p.prf = prf;
	p.integ = integ;
	p.encr_key_len = c->alg.encr ? keel_encr_keymat_len(c->alg.encr, c->alg.encr_key_bits) : 0;
	p.nonce_i = ni;
	p.nonce_i_len = (ptrdiff_t)ni_len;
	p.nonce_r = nr;
	p.nonce_r_len = (ptrdiff_t)nr_len;
	if (g_ir) {
		p.g_ir = keel_secret_data(g_ir);
		p.g_ir_len = keel_secret_len(g_ir);
	}
	if (keel_ikev2_derive_child(&p, ike->keys.sk_d, &k) < 0)
		return;
	/* encr_i goes from the exchange initiator to the responder */
	const struct keel_secret *to_gw_e = gw_initiated ? k.encr_r : k.encr_i;
	const struct keel_secret *to_cl_e = gw_initiated ? k.encr_i : k.encr_r;
	c->encr_len = to_gw_e ? (size_t)keel_secret_len(to_gw_e) : 0;
	if (c->encr_len) {
		memcpy(c->encr_to_gw, keel_secret_data(to_gw_e), c->encr_len);
		memcpy(c->encr_to_cl, keel_secret_data(to_cl_e), c->encr_len);
	}
	if (k.integ_i) {
		const struct keel_secret *to_gw_a = gw_initiated ? k.integ_r : k.integ_i;
		const struct keel_secret *to_cl_a = gw_initiated ? k.integ_i : k.integ_r;
		c->integ_len = (size_t)keel_secret_len(to_gw_a);
		memcpy(c->integ_to_gw, keel_secret_data(to_gw_a), c->integ_len);
		memcpy(c->integ_to_cl, keel_secret_data(to_cl_a), c->integ_len);
	}
	keel_child_keys_clear(&k);
}

static struct gw_child *gw_child_new(struct gw *g)
{
	for (int i = 0; i < GW_MAX_CHILD; i++)
		if (!g->child[i].used) {
			memset(&g->child[i], 0, sizeof(g->child[i]));
			g->child[i].used = true;
			return &g->child[i];
		}
	return NULL;
}

static struct gw_child *gw_child_by_cl(struct gw *g, uint32_t spi_cl)
{
	for (int i = 0; i < GW_MAX_CHILD; i++)
		if (g->child[i].used && g->child[i].spi_cl == spi_cl)
			return &g->child[i];
	return NULL;
}

static struct gw_child *gw_child_by_gw(struct gw *g, uint32_t spi_gw)
{
	for (int i = 0; i < GW_MAX_CHILD; i++)
		if (g->child[i].used && g->child[i].spi_gw == spi_gw)
			return &g->child[i];
	return NULL;
}

/* MACedID: prf(SK_p, ID'), RFC 7296 §2.15, with the PRF module directly */
static ptrdiff_t gw_maced(uint16_t prf_id, const struct keel_secret *sk_p, const uint8_t *id,
                          size_t id_len, uint8_t *out)
{
	enum keel_prf_alg prf;
	keel_prf_from_ikev2_id(prf_id, &prf);
	struct keel_iov iov_id = {id, (ptrdiff_t)id_len};
	return keel_prf(prf, keel_secret_data(sk_p), keel_secret_len(sk_p), &iov_id, 1, out, 64);
}

/* Shared-key AUTH (RFC 7296 §2.15) with key: the PSK, an EAP MSK or SK_p (§2.16). */
static size_t gw_shared_auth(uint16_t prf_id, const uint8_t *k, size_t k_len, const uint8_t *msg,
                             size_t msg_len, const uint8_t *nonce, size_t nonce_len,
                             const struct keel_secret *sk_p, const uint8_t *id, size_t id_len,
                             uint8_t *out)
{
	enum keel_prf_alg prf;
	uint8_t mac_id[64], key[64];
	keel_prf_from_ikev2_id(prf_id, &prf);
	ptrdiff_t n_id = gw_maced(prf_id, sk_p, id, id_len, mac_id);
	struct keel_iov iov_pad = {(const uint8_t *)"Key Pad for IKEv2", 17};
	ptrdiff_t n_key = keel_prf(prf, k, (ptrdiff_t)k_len, &iov_pad, 1, key, sizeof(key));
	struct keel_iov so[3] = {
	    {msg, (ptrdiff_t)msg_len}, {nonce, (ptrdiff_t)nonce_len}, {mac_id, n_id}};
	ptrdiff_t n = keel_prf(prf, key, n_key, so, 3, out, 64);
	return n > 0 ? (size_t)n : 0;
}

static size_t gw_psk_auth(struct gw *g, uint16_t prf_id, const uint8_t *msg, size_t msg_len,
                          const uint8_t *nonce, size_t nonce_len, const struct keel_secret *sk_p,
                          const uint8_t *id, size_t id_len, uint8_t *out)
{
	return gw_shared_auth(prf_id, (const uint8_t *)g->psk, strlen(g->psk), msg, msg_len, nonce,
	                      nonce_len, sk_p, id, id_len, out);
}

/*
 * Gives the gateway a key and the certificates it sends (PEM bytes), so that
 * it signs its AUTH. Returns false if they do not load.
 */
static bool gw_set_cert(struct gw *g, const uint8_t *key, size_t key_len, const uint8_t *certs,
                        size_t certs_len)
{
	keel_privkey_free(g->key);
	keel_certs_free(g->certs);
	g->key = NULL;
	g->certs = keel_certs_new();
	return keel_privkey_load(key, (ptrdiff_t)key_len, NULL, &g->key, NULL) == 0 && g->certs &&
	       keel_certs_add(g->certs, certs, (ptrdiff_t)certs_len) > 0;
}

/* ---- receiving ---- */

static struct gw_ike *gw_find_ike(struct gw *g, const struct keel_v2_hdr *h)
{
	for (int i = 0; i < GW_MAX_IKE; i++)
		if (g->ike[i].used && g->ike[i].spi_i == h->spi_i && g->ike[i].spi_r == h->spi_r)
			return &g->ike[i];
	return NULL;
}

/* One SKF fragment (RFC 7383): kept; true once the message is whole (in g->inner). */
static bool gw_frag_in(struct gw *g, struct gw_ike *ike, const uint8_t *data, size_t len)
{
	const struct keel_v2_chain *c = &g->msg.chain;
	const struct keel_v2_raw_payload *raw = &c->p[c->n - 1];
	if (keel_v2_payload_decode(raw, &g->pl2) < 0)
		return false;
	struct keel_v2_skf f = g->pl2.u.skf;
	if (f.total > GW_MAX_FRAGS || len > sizeof(g->buf))
		return false;
	memcpy(g->buf, data, len);
	uint8_t *plain;
	size_t plain_len;
	if (keel_sk_open_payload(&ike->sk, g->buf, len, raw->off, KEEL_V2_SKF_HDR_LEN, &plain,
	                         &plain_len) < 0) {
		g->frags_bad++;
		return false;
	}
	g->frags_rx_total++;
	if (len > g->max_frag_dgram)
		g->max_frag_dgram = len;
	if (g->msg.hdr.msg_id != g->fr_msgid || f.total != g->fr_total || g->fr_have == 0) {
		memset(g->fr_got, 0, sizeof(g->fr_got));
		g->fr_have = 0;
		g->fr_used = 0;
		g->fr_msgid = g->msg.hdr.msg_id;
		g->fr_total = f.total;
	}
	if (g->fr_got[f.frag_num])
		return false;
	g->fr_got[f.frag_num] = true;
	g->fr_off[f.frag_num] = g->fr_used;
	g->fr_len[f.frag_num] = plain_len;
	memcpy(g->fr_buf + g->fr_used, plain, plain_len);
	g->fr_used += plain_len;
	if (f.frag_num == 1)
		g->fr_first = f.inner_type;
	if (++g->fr_have < g->fr_total)
		return false;
	size_t n = 0;
	for (uint16_t i = 1; i <= g->fr_total; i++) {
		memcpy(g->fr_plain + n, g->fr_buf + g->fr_off[i], g->fr_len[i]);
		n += g->fr_len[i];
	}
	g->frags_rx = g->fr_total;
	g->fr_have = 0;
	struct keel_rd r = keel_rd_init(g->fr_plain, n);
	return keel_v2_chain_decode(&r, g->fr_first, KEEL_V2_CHAIN_INNER, &g->inner) == 0;
}

static bool gw_open(struct gw *g, struct gw_ike *ike, const uint8_t *data, size_t len)
{
	const struct keel_v2_chain *c = &g->msg.chain;
	if (c->n > 0 && c->p[c->n - 1].type == KEEL_V2_PAYLOAD_SKF)
		return gw_frag_in(g, ike, data, len);
	g->frags_rx = 0;
	if (c->n == 0 || c->p[c->n - 1].type != KEEL_V2_PAYLOAD_SK || len > sizeof(g->buf))
		return false;
	memcpy(g->buf, data, len);
	uint8_t *plain;
	size_t plain_len;
	if (keel_sk_open(&ike->sk, g->buf, len, c->p[c->n - 1].off, &plain, &plain_len) < 0)
		return false;
	struct keel_rd r = keel_rd_init(plain, plain_len);
	return keel_v2_chain_decode(&r, c->p[c->n - 1].next, KEEL_V2_CHAIN_INNER, &g->inner) == 0;
}

static const struct keel_v2_raw_payload *gw_find(struct gw *g, const struct keel_v2_chain *c,
                                                 uint8_t type, struct keel_v2_payload *out)
{
	const struct keel_v2_raw_payload *raw = keel_v2_chain_find(c, type, NULL);
	(void)g;
	if (raw && out && keel_v2_payload_decode(raw, out) < 0)
		return NULL;
	return raw;
}

static size_t gw_ike_sa_init(struct gw *g, const uint8_t *data, size_t len, uint8_t *out,
                             size_t cap)
{
	const struct keel_v2_hdr *h = &g->msg.hdr;
	struct keel_v2_notify n;
	struct gw_wr b;
	g->n_init++;
	if (g->want_cookie) {
		bool ok = keel_v2_chain_find_notify(&g->msg.chain, KEEL_V2_N_COOKIE, NULL, &n) &&
		          n.data.len == sizeof(g->cookie) &&
		          memcmp(n.data.p, g->cookie, sizeof(g->cookie)) == 0;
		/* RFC 7296 §2.6: the cookie must come first */
		ok = ok && g->msg.chain.p[0].type == KEEL_V2_PAYLOAD_NOTIFY;
		if (!ok) {
			rng_fill(&g->rng, g->cookie, sizeof(g->cookie));
			gw_begin(g, &b, NULL, h->spi_i, 0, KEEL_V2_EXCHANGE_IKE_SA_INIT, true, 0,
			         false, out, cap);
			gw_notify(g, &b, 0, NULL, 0, KEEL_V2_N_COOKIE, g->cookie,
			          sizeof(g->cookie));
			return gw_end(g, &b);
		}
		g->n_cookie_seen++;
	}
	if (!gw_find(g, &g->msg.chain, KEEL_V2_PAYLOAD_SA, &g->pl2))
		return 0;
	struct keel_algs alg;
	uint8_t num;
	bool chosen =
	    gw_choose(&g->pl2.u.sa, KEEL_V2_PROTO_IKE, g->want_group, &alg, &num, NULL, NULL);
	if (g->no_proposal || !chosen) {
		gw_begin(g, &b, NULL, h->spi_i, 0, KEEL_V2_EXCHANGE_IKE_SA_INIT, true, 0, false,
		         out, cap);
		gw_notify(g, &b, 0, NULL, 0, KEEL_V2_N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return gw_end(g, &b);
	}
	if (!gw_find(g, &g->msg.chain, KEEL_V2_PAYLOAD_KE, &g->pl2))
		return 0;
	struct keel_v2_ke ke = g->pl2.u.ke;
	g->ke_group_seen = ke.group;
	if (ke.group != alg.dh) {
		uint8_t grp[2] = {(uint8_t)(alg.dh >> 8), (uint8_t)alg.dh};
		gw_begin(g, &b, NULL, h->spi_i, 0, KEEL_V2_EXCHANGE_IKE_SA_INIT, true, 0, false,
		         out, cap);
		gw_notify(g, &b, 0, NULL, 0, KEEL_V2_N_INVALID_KE_PAYLOAD, grp, 2);
		return gw_end(g, &b);
	}
	if (!gw_find(g, &g->msg.chain, KEEL_V2_PAYLOAD_NONCE, &g->pl2))
		return 0;
	g->ni_len = g->pl2.u.nonce.len;
	memcpy(g->ni, g->pl2.u.nonce.p, g->ni_len);
	/* the engine's NAT_DETECTION_SOURCE_IP: its address and port as we see them */
	uint8_t spi_i[8], spi_r[8] = {0}, hash[20];
	put64(spi_i, h->spi_i);
	keel_nat_hash(spi_i, spi_r, &g->client, hash);
	g->natd_src_ok =
	    keel_v2_chain_find_notify(&g->msg.chain, KEEL_V2_N_NAT_DETECTION_SOURCE_IP, NULL, &n) &&
	    n.data.len == 20 && memcmp(n.data.p, hash, 20) == 0;

	struct gw_ike *ike = &g->ike[0];
	keel_ikev2_ike_keys_clear(&ike->keys);
	keel_sk_clear(&ike->sk);
	memset(ike, 0, sizeof(*ike));
	ike->used = true;
	ike->spi_i = h->spi_i;
	rng_fill(&g->rng, (uint8_t *)&ike->spi_r, 8);
	ike->alg = alg;
	ike->expect = 1;
	g->cur = 0;
	rng_fill(&g->rng, g->nr, sizeof(g->nr));
	struct keel_dh *dh = NULL;
	struct keel_secret *g_ir = NULL;
	if (keel_dh_new(alg.dh, &g->env, &dh) < 0 ||
	    keel_dh_compute(dh, ke.data.p, ke.data.len, &g_ir) < 0 ||
	    gw_ike_keys(ike, g->ni, g->ni_len, g->nr, sizeof(g->nr), g_ir, NULL) < 0) {
		keel_dh_free(dh);
		keel_secret_free(g_ir);
		return 0;
	}
	keel_secret_free(g_ir);
	memcpy(g->msg1, data, len);
	g->msg1_len = len;

	gw_begin(g, &b, ike, ike->spi_i, ike->spi_r, KEEL_V2_EXCHANGE_IKE_SA_INIT, true, 0, false,
	         out, cap);
	gw_sa_chosen(g, num, KEEL_V2_PROTO_IKE, NULL, 0, &alg);
	gw_add(g, &b, KEEL_V2_PAYLOAD_SA);
	uint8_t pub[KEEL_DH_PUBLIC_MAX_LEN];
	ptrdiff_t pub_len = keel_dh_public(dh, pub, sizeof(pub));
	keel_dh_free(dh);
	g->pl.u.ke.group = alg.dh;
	g->pl.u.ke.data = (struct keel_v2_bytes){pub, (size_t)pub_len};
	gw_add(g, &b, KEEL_V2_PAYLOAD_KE);
	g->pl.u.nonce = (struct keel_v2_bytes){g->nr, sizeof(g->nr)};
	gw_add(g, &b, KEEL_V2_PAYLOAD_NONCE);
	if (!g->no_natd) {
		put64(spi_r, ike->spi_r);
		keel_nat_hash(spi_i, spi_r, &g->addr, hash);
		gw_notify(g, &b, 0, NULL, 0, KEEL_V2_N_NAT_DETECTION_SOURCE_IP, hash, 20);
		keel_nat_hash(spi_i, spi_r, &g->client, hash);
		if (g->fake_nat)
			hash[0] ^= 0xff;
		gw_notify(g, &b, 0, NULL, 0, KEEL_V2_N_NAT_DETECTION_DESTINATION_IP, hash, 20);
	}
	g->saw_frag_supported =
	    keel_v2_chain_find_notify(&g->msg.chain, KEEL_V2_N_IKEV2_FRAGMENTATION_SUPPORTED, NULL,
	                              &n) != NULL;
	g->frag_on = g->frag && g->saw_frag_supported;
	if (g->frag)
		gw_notify(g, &b, 0, NULL, 0, KEEL_V2_N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
	g->client_hashes = 0;
	g->saw_hashes =
	    keel_v2_chain_find_notify(&g->msg.chain, KEEL_V2_N_SIGNATURE_HASH_ALGORITHMS, NULL,
	                              &n) &&
	    keel_sig_hashes_parse(n.data.p, (ptrdiff_t)n.data.len, &g->client_hashes) == 0;
	if (g->key && !g->no_hashes) {
		uint8_t hashes[16];
		ptrdiff_t hn = keel_sig_hashes_build(hashes, sizeof(hashes));
		gw_notify(g, &b, 0, NULL, 0, KEEL_V2_N_SIGNATURE_HASH_ALGORITHMS, hashes,
		          (size_t)hn);
	}
	if (g->certreq_len) {
		g->pl.u.cert.encoding = KEEL_V2_CERT_X509_SIGNATURE;
		g->pl.u.cert.data = (struct keel_v2_bytes){g->certreq, g->certreq_len};
		gw_add(g, &b, KEEL_V2_PAYLOAD_CERTREQ);
	}
	size_t n_out = gw_end(g, &b);
	memcpy(g->msg2, out, n_out);
	g->msg2_len = n_out;
	return n_out;
}

/* The CFG_REPLY, the first CHILD SA and its selectors, as chosen from the first request. */
static void gw_add_child(struct gw *g, struct gw_wr *b, struct gw_ike *ike)
{
	/* CFG_REPLY: a virtual IP, its netmask, a DNS server, a subnet */
	static const uint8_t vip[4] = {100, 64, 0, 2}, mask[4] = {255, 255, 255, 0},
	                     dns[4] = {198, 51, 100, 53},
	                     subnet[8] = {203, 0, 113, 0, 255, 255, 255, 0};
	memset(&g->pl.u.cp, 0, sizeof(g->pl.u.cp));
	g->pl.u.cp.cfg_type = KEEL_V2_CFG_REPLY;
	g->pl.u.cp.attrs[0] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP4_ADDRESS, {vip, 4}};
	g->pl.u.cp.attrs[1] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP4_NETMASK, {mask, 4}};
	g->pl.u.cp.attrs[2] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP4_DNS, {dns, 4}};
	g->pl.u.cp.attrs[3] = (struct keel_v2_cp_attr){KEEL_V2_CP_INTERNAL_IP4_SUBNET, {subnet, 8}};
	g->pl.u.cp.n = 4;
	gw_add(g, b, KEEL_V2_PAYLOAD_CP);

	if (!g->auth_have_sa)
		return;
	struct gw_child *ch = gw_child_new(g);
	uint8_t spi_gw[4];
	ch->alg = g->auth_alg;
	ch->spi_cl = g->auth_spi_cl;
	rng_fill(&g->rng, spi_gw, 4);
	spi_gw[0] |= 0x80;
	ch->spi_gw = get32(spi_gw);
	gw_child_keys(ch, ike, g->ni, g->ni_len, g->nr, sizeof(g->nr), NULL, false);
	gw_sa_chosen(g, g->auth_num, gw_cproto(g), spi_gw, 4, &ch->alg);
	gw_add(g, b, KEEL_V2_PAYLOAD_SA);
	gw_ts(g, b, KEEL_V2_PAYLOAD_TSI, "100.64.0.2");
	gw_ts(g, b, KEEL_V2_PAYLOAD_TSR, "198.51.100.0/24");
}

/* Our CERTs and signed AUTH (RFC 7296 §2.15, RFC 7427 when the engine announced hashes). */
static void gw_add_sig(struct gw *g, struct gw_wr *b, struct gw_ike *ike)
{
	if (!g->key)
		return;
	if (!g->no_cert)
		for (size_t i = 0; i < keel_certs_count(g->certs); i++) {
			const uint8_t *der;
			ptrdiff_t len;
			keel_certs_der(g->certs, i, &der, &len);
			g->pl.u.cert.encoding = KEEL_V2_CERT_X509_SIGNATURE;
			g->pl.u.cert.data = (struct keel_v2_bytes){der, (size_t)len};
			gw_add(g, b, KEEL_V2_PAYLOAD_CERT);
		}
	uint8_t maced[64];
	static uint8_t sig[2048];
	ptrdiff_t m = gw_maced(ike->alg.prf, ike->keys.sk_pr, g->auth_idr, g->auth_idr_len, maced);
	struct keel_iov oct[3] = {
	    {g->msg2, (ptrdiff_t)g->msg2_len}, {g->ni, (ptrdiff_t)g->ni_len}, {maced, m}};
	struct keel_sig_choice ch;
	keel_sig_choose(g->key, g->no_hashes ? 0 : g->client_hashes, g->rsa_pss, &ch);
	ptrdiff_t n = keel_sig_auth_sign(g->key, &ch, oct, 3, sig, sizeof(sig));
	if (n <= 0)
		return;
	if (g->bad_auth)
		sig[n - 5] ^= 0x40;
	g->sent_sig = true;
	g->sig_method = ch.auth_method;
	g->pl.u.auth.method = ch.auth_method;
	g->pl.u.auth.data = (struct keel_v2_bytes){sig, (size_t)n};
	gw_add(g, b, KEEL_V2_PAYLOAD_AUTH);
}

/* The engine's certificate and signature: its CERT[0] key, its issuer our client_ca. */
static bool gw_check_sig(struct gw *g, struct gw_ike *ike, const struct keel_v2_raw_payload *idi,
                         const struct keel_v2_auth *a)
{
	const struct keel_v2_chain *c = &g->inner;
	const struct keel_v2_raw_payload *raw = keel_v2_chain_find(c, KEEL_V2_PAYLOAD_CERT, NULL);
	if (!raw || keel_v2_payload_decode(raw, &g->pl2) < 0)
		return false;
	const uint8_t *p = g->pl2.u.cert.data.p;
	X509 *x = d2i_X509(NULL, &p, (long)g->pl2.u.cert.data.len);
	if (!x)
		return false;
	bool ok = !g->client_ca || X509_verify(x, X509_get0_pubkey(g->client_ca)) == 1;
	struct keel_pubkey *pk = keel_pubkey_take_evp(X509_get_pubkey(x));
	X509_free(x);
	uint8_t maced[64];
	ptrdiff_t m = gw_maced(ike->alg.prf, ike->keys.sk_pi, idi->body.p, idi->body.len, maced);
	struct keel_iov oct[3] = {
	    {g->msg1, (ptrdiff_t)g->msg1_len}, {g->nr, sizeof(g->nr)}, {maced, m}};
	ok = ok && pk &&
	     keel_sig_auth_verify(pk, a->method, a->data.p, (ptrdiff_t)a->data.len, oct, 3,
	                          KEEL_SIG_ALLOW_SHA1, &g->client_scheme) == 0;
	keel_pubkey_free(pk);
	return ok;
}

static void gw_eap(struct gw *g, struct gw_wr *b, uint8_t code, uint8_t type, const uint8_t *data,
                   size_t len)
{
	static const uint8_t none[1];
	struct keel_v2_eap *e = &g->pl.u.eap;
	memset(e, 0, sizeof(*e));
	e->code = code;
	e->identifier = code == KEEL_V2_EAP_REQUEST ? g->eap_next_id++ : g->eap_last_id;
	e->has_type = code == KEEL_V2_EAP_REQUEST;
	e->type = type;
	e->data = (struct keel_v2_bytes){data ? data : none, len};
	if (code == KEEL_V2_EAP_REQUEST)
		g->eap_last_id = e->identifier;
	gw_add(g, b, KEEL_V2_PAYLOAD_EAP);
}

/* The first request of a method (RFC 3748 §5.4, §5.6; MS-CHAPv2 Challenge). */
static void gw_eap_method_request(struct gw *g, struct gw_wr *b, uint8_t method)
{
	uint8_t d[64];
	size_t n = 0;
	g->eap_cur = method;
	rng_fill(&g->rng, g->eap_chal, sizeof(g->eap_chal));
	switch (method) {
	case KEEL_EAP_TYPE_MD5:
		d[n++] = 16;
		memcpy(d + n, g->eap_chal, 16);
		n += 16;
		break;
	case KEEL_EAP_TYPE_GTC:
		memcpy(d, "Password: ", 10);
		n = 10;
		break;
	case KEEL_EAP_TYPE_MSCHAPV2:
		/* OpCode Challenge, MS-CHAPv2-ID, MS-Length, Value-Size, Challenge, Name */
		d[n++] = 1;
		d[n++] = g->eap_next_id;
		d[n++] = 0;
		d[n++] = 4 + 1 + 16 + 2;
		d[n++] = 16;
		memcpy(d + n, g->eap_chal, 16);
		n += 16;
		memcpy(d + n, "gw", 2);
		n += 2;
		break;
	}
	gw_eap(g, b, KEEL_V2_EAP_REQUEST, method, d, n);
	g->eap_stage = GW_EAP_METHOD;
}

static void gw_eap_end(struct gw *g, struct gw_wr *b, bool ok)
{
	gw_eap(g, b, ok ? KEEL_V2_EAP_SUCCESS : KEEL_V2_EAP_FAILURE, 0, NULL, 0);
	g->eap_stage = ok ? GW_EAP_OK : GW_EAP_FAILED;
	g->eap_result = ok ? 1 : -1;
}

/* The engine's EAP Response: the next request, or the end. */
static void gw_eap_answer(struct gw *g, struct gw_wr *b, const struct keel_v2_eap *e)
{
	g->n_eap++;
	const uint8_t *d = e->data.p;
	size_t n = e->data.len;
	if (e->code != KEEL_V2_EAP_RESPONSE || !e->has_type) {
		gw_eap_end(g, b, false);
		return;
	}
	if (g->eap_stage == GW_EAP_IDENTITY && e->type == KEEL_EAP_TYPE_IDENTITY) {
		snprintf(g->eap_identity_seen, sizeof(g->eap_identity_seen), "%.*s", (int)n,
		         (const char *)d);
		gw_eap_method_request(g, b, g->eap_method);
		return;
	}
	if (e->type == KEEL_EAP_TYPE_NAK && g->eap_stage == GW_EAP_METHOD) {
		/* RFC 3748 §5.3.1: the methods the peer would do instead */
		g->eap_naks++;
		for (size_t i = 0; i < n; i++) {
			unsigned bit = d[i] == KEEL_EAP_TYPE_MSCHAPV2 ? KEEL_EAP_ALLOW_MSCHAPV2
			               : d[i] == KEEL_EAP_TYPE_GTC    ? KEEL_EAP_ALLOW_GTC
			               : d[i] == KEEL_EAP_TYPE_MD5    ? KEEL_EAP_ALLOW_MD5
			                                              : 0;
			if (bit & g->eap_alt) {
				gw_eap_method_request(g, b, d[i]);
				return;
			}
		}
		gw_eap_end(g, b, false);
		return;
	}
	if (e->type != g->eap_cur) {
		gw_eap_end(g, b, false);
		return;
	}
	struct keel_secret *pw = keel_secret_new_from((const uint8_t *)g->eap_password,
	                                              (ptrdiff_t)strlen(g->eap_password));
	switch (g->eap_cur) {
	case KEEL_EAP_TYPE_MD5: {
		/* RFC 1994 §4.1: MD5(Identifier | secret | Challenge) */
		uint8_t want[16];
		unsigned int wl = 0;
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
		EVP_DigestUpdate(ctx, &g->eap_last_id, 1);
		EVP_DigestUpdate(ctx, g->eap_password, strlen(g->eap_password));
		EVP_DigestUpdate(ctx, g->eap_chal, 16);
		EVP_DigestFinal_ex(ctx, want, &wl);
		EVP_MD_CTX_free(ctx);
		gw_eap_end(g, b, n == 17 && d[0] == 16 && memcmp(d + 1, want, 16) == 0);
		break;
	}
	case KEEL_EAP_TYPE_GTC:
		gw_eap_end(g, b,
		           n == strlen(g->eap_password) && memcmp(d, g->eap_password, n) == 0);
		break;
	case KEEL_EAP_TYPE_MSCHAPV2: {
		uint8_t op = n ? d[0] : 0;
		if (g->eap_stage == GW_EAP_MS_SUCCESS && op == 3) {
			struct keel_secret *msk = NULL;
			keel_mschapv2_msk(g->eap_nt_hash, g->eap_nt_response, &msk);
			memcpy(g->eap_msk, keel_secret_data(msk), 64);
			keel_secret_free(msk);
			g->eap_have_msk = true;
			gw_eap_end(g, b, true);
			break;
		}
		if (g->eap_stage == GW_EAP_MS_FAILURE && op == 4) {
			gw_eap_end(g, b, false);
			break;
		}
		/* Response: OpCode 2, MS-ID, MS-Length, Value-Size 49, Peer-Challenge,
		 * 8 reserved, NT-Response, Flags, Name */
		if (g->eap_stage != GW_EAP_METHOD || op != 2 || n < 4 + 1 + 49 || d[4] != 49) {
			gw_eap_end(g, b, false);
			break;
		}
		const uint8_t *peer_chal = d + 5, *nt = d + 5 + 16 + 8;
		const uint8_t *user;
		size_t user_len;
		keel_mschapv2_user(d + 54, n - 54, &user, &user_len);
		uint8_t want[24];
		keel_mschapv2_nt_hash(pw, g->eap_nt_hash);
		keel_mschapv2_nt_response(g->eap_chal, peer_chal, user, user_len, g->eap_nt_hash,
		                          want);
		bool user_ok =
		    user_len == strlen(g->eap_user) && memcmp(user, g->eap_user, user_len) == 0;
		uint8_t msg[128];
		size_t m = 0;
		if (user_ok && memcmp(nt, want, 24) == 0) {
			char resp[KEEL_MSCHAPV2_AUTH_RESP_LEN + 1];
			memcpy(g->eap_nt_response, nt, 24);
			keel_mschapv2_auth_response(g->eap_nt_hash, nt, peer_chal, g->eap_chal,
			                            user, user_len, resp);
			if (g->eap_bad_authenticator)
				resp[5] = resp[5] == '0' ? '1' : '0';
			msg[m++] = 3; /* Success */
			msg[m++] = d[1];
			m += 2;
			m += (size_t)snprintf((char *)msg + m, sizeof(msg) - m, "%s M=Welcome",
			                      resp);
			g->eap_stage = GW_EAP_MS_SUCCESS;
		} else {
			msg[m++] = 4; /* Failure */
			msg[m++] = d[1];
			m += 2;
			m += (size_t)snprintf((char *)msg + m, sizeof(msg) - m,
			                      "E=691 R=0 C=00000000000000000000000000000000 V=3 "
			                      "M=Authentication failure");
			g->eap_stage = GW_EAP_MS_FAILURE;
		}
		msg[2] = (uint8_t)(m >> 8); /* MS-Length: the EAP Length less 5 */
		msg[3] = (uint8_t)m;
		gw_eap(g, b, KEEL_V2_EAP_REQUEST, KEEL_EAP_TYPE_MSCHAPV2, msg, m);
		break;
	}
	}
	keel_secret_free(pw);
}

static size_t gw_ike_auth(struct gw *g, struct gw_ike *ike, uint32_t msg_id, uint8_t *out,
                          size_t cap)
{
	struct gw_wr b;
	const struct keel_v2_chain *c = &g->inner;
	g->n_auth++;
	gw_begin(g, &b, ike, ike->spi_i, ike->spi_r, KEEL_V2_EXCHANGE_IKE_AUTH, true, msg_id, true,
	         out, cap);

	if (msg_id > 1) {
		/* RFC 7296 §2.16: EAP rounds, then the engine's AUTH from the MSK */
		if (g->eap_stage == GW_EAP_OK) {
			uint8_t want[64], auth[64];
			const uint8_t *k = g->eap_have_msk ? g->eap_msk : NULL;
			size_t kl = 64;
			if (!k) {
				k = keel_secret_data(ike->keys.sk_pi);
				kl = (size_t)keel_secret_len(ike->keys.sk_pi);
			}
			size_t n = gw_shared_auth(ike->alg.prf, k, kl, g->msg1, g->msg1_len, g->nr,
			                          sizeof(g->nr), ike->keys.sk_pi, g->auth_idi,
			                          g->auth_idi_len, want);
			g->final_auth_ok = gw_find(g, c, KEEL_V2_PAYLOAD_AUTH, &g->pl2) &&
			                   g->pl2.u.auth.data.len == n &&
			                   memcmp(g->pl2.u.auth.data.p, want, n) == 0;
			if (!g->final_auth_ok) {
				gw_notify(g, &b, 0, NULL, 0, KEEL_V2_N_AUTHENTICATION_FAILED, NULL,
				          0);
				return gw_end(g, &b);
			}
			if (!g->eap_have_msk) {
				k = keel_secret_data(ike->keys.sk_pr);
				kl = (size_t)keel_secret_len(ike->keys.sk_pr);
			}
			n = gw_shared_auth(ike->alg.prf, k, kl, g->msg2, g->msg2_len, g->ni,
			                   g->ni_len, ike->keys.sk_pr, g->auth_idr, g->auth_idr_len,
			                   auth);
			if (g->eap_bad_final_auth)
				auth[0] ^= 1;
			g->pl.u.auth.method = KEEL_V2_AUTH_PSK;
			g->pl.u.auth.data = (struct keel_v2_bytes){auth, n};
			gw_add(g, &b, KEEL_V2_PAYLOAD_AUTH);
			g->auth_ok = true;
			gw_add_child(g, &b, ike);
			return gw_end(g, &b);
		}
		if (!gw_find(g, c, KEEL_V2_PAYLOAD_EAP, &g->pl2)) {
			gw_notify(g, &b, 0, NULL, 0, KEEL_V2_N_AUTHENTICATION_FAILED, NULL, 0);
			return gw_end(g, &b);
		}
		struct keel_v2_eap e = g->pl2.u.eap;
		gw_eap_answer(g, &b, &e);
		return gw_end(g, &b);
	}

	const struct keel_v2_raw_payload *idi = gw_find(g, c, KEEL_V2_PAYLOAD_IDI, NULL);
	if (!idi || idi->body.len > sizeof(g->auth_idi))
		return 0;
	memcpy(g->auth_idi, idi->body.p, idi->body.len);
	g->auth_idi_len = idi->body.len;
	struct keel_v2_notify nt;
	g->saw_initial_contact =
	    keel_v2_chain_find_notify(c, KEEL_V2_N_INITIAL_CONTACT, NULL, &nt) != NULL;
	g->saw_eap_only =
	    keel_v2_chain_find_notify(c, KEEL_V2_N_EAP_ONLY_AUTHENTICATION, NULL, &nt) != NULL;
	g->saw_cp = gw_find(g, c, KEEL_V2_PAYLOAD_CP, NULL) != NULL;
	g->saw_idr = gw_find(g, c, KEEL_V2_PAYLOAD_IDR, NULL) != NULL;
	g->client_certs = 0;
	const struct keel_v2_raw_payload *raw = NULL;
	while ((raw = keel_v2_chain_find(c, KEEL_V2_PAYLOAD_CERT, raw)))
		g->client_certs++;
	g->client_certreq_len = 0;
	if (gw_find(g, c, KEEL_V2_PAYLOAD_CERTREQ, &g->pl2) &&
	    g->pl2.u.cert.data.len <= sizeof(g->client_certreq)) {
		memcpy(g->client_certreq, g->pl2.u.cert.data.p, g->pl2.u.cert.data.len);
		g->client_certreq_len = g->pl2.u.cert.data.len;
	}
	g->auth_have_sa = false;
	if (gw_find(g, c, KEEL_V2_PAYLOAD_SA, &g->pl2)) {
		uint8_t spi[8];
		size_t spi_len = 0;
		g->auth_have_sa = gw_choose(&g->pl2.u.sa, gw_cproto(g), 0, &g->auth_alg,
		                            &g->auth_num, spi, &spi_len) &&
		                  spi_len == 4;
		g->auth_spi_cl = get32(spi);
	}

	/* our identity */
	struct keel_id id = g->id;
	if (g->wrong_idr)
		keel_id_from_text("evil.example", &id);
	if (g->idr_as_ip)
		keel_id_from_text("192.0.2.1", &id);
	g->auth_idr[0] = (uint8_t)id.type;
	g->auth_idr[1] = g->auth_idr[2] = g->auth_idr[3] = 0;
	memcpy(g->auth_idr + 4, id.data, id.len);
	g->auth_idr_len = 4 + id.len;

	bool has_auth = gw_find(g, c, KEEL_V2_PAYLOAD_AUTH, &g->pl2) != NULL;
	if (!has_auth) {
		/* EAP (RFC 7296 §2.16) */
		if (!g->eap_method || g->auth_notify == KEEL_V2_N_AUTHENTICATION_FAILED) {
			gw_notify(g, &b, 0, NULL, 0, KEEL_V2_N_AUTHENTICATION_FAILED, NULL, 0);
			return gw_end(g, &b);
		}
		g->eap_only = g->saw_eap_only && g->eap_only_ok;
		g->eap_next_id = 1;
		g->eap_result = 0;
		g->eap_have_msk = false;
		g->pl.u.id.type = (uint8_t)id.type;
		g->pl.u.id.data = (struct keel_v2_bytes){id.data, id.len};
		gw_add(g, &b, KEEL_V2_PAYLOAD_IDR);
		if (!g->eap_only)
			gw_add_sig(g, &b, ike);
		if (g->eap_no_identity) {
			gw_eap_method_request(g, &b, g->eap_method);
		} else {
			gw_eap(g, &b, KEEL_V2_EAP_REQUEST, KEEL_EAP_TYPE_IDENTITY, NULL, 0);
			g->eap_stage = GW_EAP_IDENTITY;
		}
		return gw_end(g, &b);
	}

	struct keel_v2_auth a = g->pl2.u.auth;
	g->client_auth_method = a.method;
	if (a.method == KEEL_V2_AUTH_PSK) {
		uint8_t want[64];
		size_t n = gw_psk_auth(g, ike->alg.prf, g->msg1, g->msg1_len, g->nr, sizeof(g->nr),
		                       ike->keys.sk_pi, idi->body.p, idi->body.len, want);
		g->auth_ok = n == a.data.len && memcmp(want, a.data.p, n) == 0;
	} else {
		g->auth_ok = gw_check_sig(g, ike, idi, &a);
	}
	if (!g->auth_ok || g->auth_notify == KEEL_V2_N_AUTHENTICATION_FAILED) {
		gw_notify(g, &b, 0, NULL, 0, KEEL_V2_N_AUTHENTICATION_FAILED, NULL, 0);
		return gw_end(g, &b);
	}
	g->pl.u.id.type = (uint8_t)id.type;
	g->pl.u.id.data = (struct keel_v2_bytes){id.data, id.len};
	gw_add(g, &b, KEEL_V2_PAYLOAD_IDR);
	if (g->key) {
		gw_add_sig(g, &b, ike);
	} else {
		uint8_t auth[64];
		size_t n = gw_psk_auth(g, ike->alg.prf, g->msg2, g->msg2_len, g->ni, g->ni_len,
		                       ike->keys.sk_pr, g->auth_idr, g->auth_idr_len, auth);
		if (g->bad_auth)
			auth[3] ^= 0x40;
		g->pl.u.auth.method = KEEL_V2_AUTH_PSK;
		g->pl.u.auth.data = (struct keel_v2_bytes){auth, n};
		gw_add(g, &b, KEEL_V2_PAYLOAD_AUTH);
	}
	if (g->auth_notify) {
		gw_notify(g, &b, 0, NULL, 0, g->auth_notify, NULL, 0);
		return gw_end(g, &b);
	}
	if (!g->auth_have_sa)
		return 0;
	gw_add_child(g, &b, ike);
	return gw_end(g, &b);
}

static size_t gw_info(struct gw *g, struct gw_ike *ike, uint32_t msg_id, uint8_t *out, size_t cap)
{
	struct gw_wr b;
	const struct keel_v2_raw_payload *raw = NULL;
	uint8_t spis[4 * GW_MAX_CHILD];
	size_t n = 0;
	bool del_ike = false;
	g->n_info++;
	while ((raw = keel_v2_chain_find(&g->inner, KEEL_V2_PAYLOAD_DELETE, raw))) {
		keel_v2_payload_decode(raw, &g->pl2);
		if (g->pl2.u.del.protocol == KEEL_V2_PROTO_IKE) {
			del_ike = true;
			continue;
		}
		for (size_t i = 0; i < g->pl2.u.del.n_spis; i++) {
			uint32_t s = get32(g->pl2.u.del.spis.p + 4 * i);
			struct gw_child *c = gw_child_by_cl(g, s);
			g->deleted_child++;
			g->deleted_spi = s;
			g->deleted_proto = g->pl2.u.del.protocol;
			if (c && n < sizeof(spis) / 4) {
				put32(spis + 4 * n++, c->spi_gw);
				c->used = false;
			}
		}
	}
	gw_begin(g, &b, ike, ike->spi_i, ike->spi_r, KEEL_V2_EXCHANGE_INFORMATIONAL, true, msg_id,
	         true, out, cap);
	if (n) {
		memset(&g->pl.u.del, 0, sizeof(g->pl.u.del));
		g->pl.u.del.protocol = gw_cproto(g);
		g->pl.u.del.spi_size = 4;
		g->pl.u.del.n_spis = (uint16_t)n;
		g->pl.u.del.spis = (struct keel_v2_bytes){spis, 4 * n};
		gw_add(g, &b, KEEL_V2_PAYLOAD_DELETE);
	}
	size_t len = gw_end(g, &b);
	if (del_ike) {
		g->deleted_ike++;
		g->deleted_ike_spi_i = ike->spi_i;
		ike->used = false;
	}
	return len;
}

static size_t gw_create_child(struct gw *g, struct gw_ike *ike, uint32_t msg_id, uint8_t *out,
                              size_t cap)
{
	struct gw_wr b;
	const struct keel_v2_chain *c = &g->inner;
	g->n_create++;
	gw_begin(g, &b, ike, ike->spi_i, ike->spi_r, KEEL_V2_EXCHANGE_CREATE_CHILD_SA, true, msg_id,
	         true, out, cap);
	if (g->create_notify) {
		gw_notify(g, &b, 0, NULL, 0, g->create_notify, NULL, 0);
		g->create_notify = 0;
		return gw_end(g, &b);
	}
	uint8_t ni[256], nr[32];
	size_t ni_len;
	if (!gw_find(g, c, KEEL_V2_PAYLOAD_NONCE, &g->pl2))
		return 0;
	ni_len = g->pl2.u.nonce.len;
	memcpy(ni, g->pl2.u.nonce.p, ni_len);
	rng_fill(&g->rng, nr, sizeof(nr));
	memcpy(g->cc_ni, ni, ni_len);
	g->cc_ni_len = ni_len;
	memcpy(g->cc_nr, nr, sizeof(nr));
	bool have_ke = gw_find(g, c, KEEL_V2_PAYLOAD_KE, &g->pl2) != NULL;
	struct keel_v2_ke ke = g->pl2.u.ke;
	struct keel_v2_notify rekey;
	bool is_rekey = keel_v2_chain_find_notify(c, KEEL_V2_N_REKEY_SA, NULL, &rekey) != NULL;
	uint32_t old_cl = is_rekey && rekey.spi.len == 4 ? get32(rekey.spi.p) : 0;
	if (!gw_find(g, c, KEEL_V2_PAYLOAD_SA, &g->pl2))
		return 0;
	struct keel_algs alg;
	uint8_t num, spi[8];
	size_t spi_len = 0;
	bool ike_rekey = g->pl2.u.sa.proposals[0].protocol == KEEL_V2_PROTO_IKE;
	gw_choose(&g->pl2.u.sa, ike_rekey ? KEEL_V2_PROTO_IKE : gw_cproto(g), 0, &alg, &num, spi,
	          &spi_len);
	struct keel_dh *dh = NULL;
	struct keel_secret *g_ir = NULL;
	uint8_t pub[KEEL_DH_PUBLIC_MAX_LEN];
	ptrdiff_t pub_len = 0;
	if (alg.dh) {
		if (!have_ke || ke.group != alg.dh || keel_dh_new(alg.dh, &g->env, &dh) < 0 ||
		    keel_dh_compute(dh, ke.data.p, ke.data.len, &g_ir) < 0)
			return 0;
		pub_len = keel_dh_public(dh, pub, sizeof(pub));
		keel_dh_free(dh);
	}
	if (ike_rekey) {
		struct gw_ike *nike = NULL;
		for (int i = 0; i < GW_MAX_IKE && !nike; i++)
			if (!g->ike[i].used)
				nike = &g->ike[i];
		keel_ikev2_ike_keys_clear(&nike->keys);
		keel_sk_clear(&nike->sk);
		memset(nike, 0, sizeof(*nike));
		nike->used = true;
		nike->gw_initiator = false;
		nike->spi_i = get64(spi);
		rng_fill(&g->rng, (uint8_t *)&nike->spi_r, 8);
		nike->alg = alg;
		gw_ike_keys(nike, ni, ni_len, nr, sizeof(nr), g_ir, ike);
		uint8_t myspi[8];
		put64(myspi, nike->spi_r);
		gw_sa_chosen(g, num, KEEL_V2_PROTO_IKE, myspi, 8, &alg);
		gw_add(g, &b, KEEL_V2_PAYLOAD_SA);
		g->pl.u.nonce = (struct keel_v2_bytes){nr, sizeof(nr)};
		gw_add(g, &b, KEEL_V2_PAYLOAD_NONCE);
		g->pl.u.ke.group = alg.dh;
		g->pl.u.ke.data = (struct keel_v2_bytes){pub, (size_t)pub_len};
		gw_add(g, &b, KEEL_V2_PAYLOAD_KE);
		g->cur = (int)(nike - g->ike);
	} else {
		struct gw_child *old = gw_child_by_cl(g, old_cl);
		struct gw_child *ch = gw_child_new(g);
		uint8_t spi_gw[4];
		ch->alg = alg;
		ch->spi_cl = get32(spi);
		g->cc_new_spi_cl = ch->spi_cl;
		rng_fill(&g->rng, spi_gw, 4);
		spi_gw[0] |= 0x80;
		ch->spi_gw = get32(spi_gw);
		gw_child_keys(ch, ike, ni, ni_len, nr, sizeof(nr), g_ir, false);
		(void)old;
		gw_sa_chosen(g, num, gw_cproto(g), spi_gw, 4, &alg);
		gw_add(g, &b, KEEL_V2_PAYLOAD_SA);
		g->pl.u.nonce = (struct keel_v2_bytes){nr, sizeof(nr)};
		gw_add(g, &b, KEEL_V2_PAYLOAD_NONCE);
		if (alg.dh) {
			g->pl.u.ke.group = alg.dh;
			g->pl.u.ke.data = (struct keel_v2_bytes){pub, (size_t)pub_len};
			gw_add(g, &b, KEEL_V2_PAYLOAD_KE);
		}
		gw_ts(g, &b, KEEL_V2_PAYLOAD_TSI, "100.64.0.2");
		gw_ts(g, &b, KEEL_V2_PAYLOAD_TSR, "198.51.100.0/24");
	}
	keel_secret_free(g_ir);
	return gw_end(g, &b);
}

static void gw_response(struct gw *g, struct gw_ike *ike);

/*
 * Hands the gateway one datagram from the engine. Returns the length of its
 * answer in out (0: none).
 */
static size_t gw_input(struct gw *g, const uint8_t *data, size_t len, uint8_t *out, size_t cap)
{
	if (keel_v2_msg_decode(data, len, &g->msg) < 0)
		return 0;
	const struct keel_v2_hdr *h = &g->msg.hdr;
	g->last_msg_id = h->msg_id;
	g->last_exchange = h->exchange;
	if (g->silent)
		return 0;
	if (h->exchange == KEEL_V2_EXCHANGE_IKE_SA_INIT && !(h->flags & KEEL_V2_FLAG_RESPONSE)) {
		/* a retransmission of the request we answered: the same answer */
		if (g->ike[0].used && g->ike[0].spi_i == h->spi_i && g->msg1_len == len &&
		    memcmp(g->msg1, data, len) == 0) {
			memcpy(out, g->msg2, g->msg2_len);
			return g->msg2_len;
		}
		return gw_ike_sa_init(g, data, len, out, cap);
	}
	struct gw_ike *ike = gw_find_ike(g, h);
	if (!ike || !gw_open(g, ike, data, len))
		return 0;
	if (h->flags & KEEL_V2_FLAG_RESPONSE) {
		gw_response(g, ike);
		return 0;
	}
	if (h->msg_id + 1 == ike->expect && ike->last_resp_len) {
		/* a retransmission: the same answer, every fragment of it */
		memcpy(out, ike->last_resp, ike->last_resp_len);
		for (size_t i = 0; i < g->n_cache_fq; i++) {
			memcpy(g->fq[i], g->cache_fq[i], g->cache_fq_len[i]);
			g->fq_len[i] = g->cache_fq_len[i];
		}
		g->n_fq = g->n_cache_fq;
		g->fq_pos = 0;
		return ike->last_resp_len;
	}
	if (h->msg_id != ike->expect)
		return 0;
	size_t n = 0;
	g->n_fq = g->fq_pos = 0;
	switch (h->exchange) {
	case KEEL_V2_EXCHANGE_IKE_AUTH:
		n = gw_ike_auth(g, ike, h->msg_id, out, cap);
		break;
	case KEEL_V2_EXCHANGE_INFORMATIONAL:
		n = gw_info(g, ike, h->msg_id, out, cap);
		break;
	case KEEL_V2_EXCHANGE_CREATE_CHILD_SA:
		n = gw_create_child(g, ike, h->msg_id, out, cap);
		break;
	default:
		return 0;
	}
	ike->expect++;
	if (n && n <= sizeof(ike->last_resp)) {
		memcpy(ike->last_resp, out, n);
		ike->last_resp_len = n;
		for (size_t i = 0; i < g->n_fq; i++) {
			memcpy(g->cache_fq[i], g->fq[i], g->fq_len[i]);
			g->cache_fq_len[i] = g->fq_len[i];
		}
		g->n_cache_fq = g->n_fq;
	}
	return n;
}

/* ---- the gateway's own requests ---- */

static size_t gw_request_info(struct gw *g, bool del_ike, uint32_t del_spi_gw, uint8_t *out,
                              size_t cap)
{
	struct gw_ike *ike = &g->ike[g->cur];
	struct gw_wr b;
	uint8_t spi[4];
	gw_begin(g, &b, ike, ike->spi_i, ike->spi_r, KEEL_V2_EXCHANGE_INFORMATIONAL, false,
	         ike->next_req, true, out, cap);
	memset(&g->pl.u.del, 0, sizeof(g->pl.u.del));
	if (del_ike) {
		g->pl.u.del.protocol = KEEL_V2_PROTO_IKE;
		g->pl.u.del.spis = (struct keel_v2_bytes){spi, 0};
		gw_add(g, &b, KEEL_V2_PAYLOAD_DELETE);
	} else if (del_spi_gw) {
		put32(spi, del_spi_gw);
		g->pl.u.del.protocol = gw_cproto(g);
		g->pl.u.del.spi_size = 4;
		g->pl.u.del.n_spis = 1;
		g->pl.u.del.spis = (struct keel_v2_bytes){spi, 4};
		gw_add(g, &b, KEEL_V2_PAYLOAD_DELETE);
	}
	g->pending = GW_INFO;
	g->pending_ike = g->cur;
	ike->next_req++;
	return gw_end(g, &b);
}

static size_t gw_request_rekey_child(struct gw *g, struct gw_child *old, uint16_t pfs_group,
                                     uint8_t *out, size_t cap)
{
	struct gw_ike *ike = &g->ike[g->cur];
	struct gw_wr b;
	uint8_t spi[4], oldspi[4];
	gw_begin(g, &b, ike, ike->spi_i, ike->spi_r, KEEL_V2_EXCHANGE_CREATE_CHILD_SA, false,
	         ike->next_req, true, out, cap);
	put32(oldspi, old->spi_gw);
	gw_notify(g, &b, gw_cproto(g), oldspi, 4, KEEL_V2_N_REKEY_SA, NULL, 0);
	rng_fill(&g->rng, spi, 4);
	spi[0] |= 0x80;
	g->req_spi = get32(spi);
	struct keel_algs a = old->alg;
	a.dh = pfs_group;
	gw_sa_chosen(g, 1, gw_cproto(g), spi, 4, &a);
	gw_add(g, &b, KEEL_V2_PAYLOAD_SA);
	rng_fill(&g->rng, g->req_nonce, sizeof(g->req_nonce));
	g->pl.u.nonce = (struct keel_v2_bytes){g->req_nonce, sizeof(g->req_nonce)};
	gw_add(g, &b, KEEL_V2_PAYLOAD_NONCE);
	keel_dh_free(g->req_dh);
	g->req_dh = NULL;
	if (pfs_group) {
		uint8_t pub[KEEL_DH_PUBLIC_MAX_LEN];
		keel_dh_new(pfs_group, &g->env, &g->req_dh);
		ptrdiff_t n = keel_dh_public(g->req_dh, pub, sizeof(pub));
		g->pl.u.ke.group = pfs_group;
		g->pl.u.ke.data = (struct keel_v2_bytes){pub, (size_t)n};
		gw_add(g, &b, KEEL_V2_PAYLOAD_KE);
	}
	gw_ts(g, &b, KEEL_V2_PAYLOAD_TSI, "198.51.100.0/24");
	gw_ts(g, &b, KEEL_V2_PAYLOAD_TSR, "100.64.0.2");
	g->pending = GW_REKEY_CHILD;
	g->pending_ike = g->cur;
	g->pending_child = (int)(old - g->child);
	ike->next_req++;
	return gw_end(g, &b);
}

static size_t gw_request_rekey_ike(struct gw *g, uint8_t *out, size_t cap)
{
	struct gw_ike *ike = &g->ike[g->cur];
	struct gw_wr b;
	uint8_t spi[8], pub[KEEL_DH_PUBLIC_MAX_LEN];
	gw_begin(g, &b, ike, ike->spi_i, ike->spi_r, KEEL_V2_EXCHANGE_CREATE_CHILD_SA, false,
	         ike->next_req, true, out, cap);
	do
		rng_fill(&g->rng, (uint8_t *)&g->req_ike_spi, 8);
	while (g->req_ike_spi == 0);
	put64(spi, g->req_ike_spi);
	gw_sa_chosen(g, 1, KEEL_V2_PROTO_IKE, spi, 8, &ike->alg);
	gw_add(g, &b, KEEL_V2_PAYLOAD_SA);
	rng_fill(&g->rng, g->req_nonce, sizeof(g->req_nonce));
	g->pl.u.nonce = (struct keel_v2_bytes){g->req_nonce, sizeof(g->req_nonce)};
	gw_add(g, &b, KEEL_V2_PAYLOAD_NONCE);
	keel_dh_free(g->req_dh);
	keel_dh_new(ike->alg.dh, &g->env, &g->req_dh);
	ptrdiff_t n = keel_dh_public(g->req_dh, pub, sizeof(pub));
	g->pl.u.ke.group = ike->alg.dh;
	g->pl.u.ke.data = (struct keel_v2_bytes){pub, (size_t)n};
	gw_add(g, &b, KEEL_V2_PAYLOAD_KE);
	g->pending = GW_REKEY_IKE;
	g->pending_ike = g->cur;
	ike->next_req++;
	return gw_end(g, &b);
}

/* The engine's answer to the gateway's request. */
static void gw_response(struct gw *g, struct gw_ike *ike)
{
	const struct keel_v2_chain *c = &g->inner;
	g->resp_id_seen = g->msg.hdr.msg_id;
	g->resp_notify = 0;
	const struct keel_v2_raw_payload *raw = NULL;
	while ((raw = keel_v2_chain_find(c, KEEL_V2_PAYLOAD_NOTIFY, raw))) {
		keel_v2_payload_decode(raw, &g->pl2);
		if (keel_v2_notify_is_error(g->pl2.u.notify.type))
			g->resp_notify = g->pl2.u.notify.type;
	}
	enum gw_pending p = g->pending;
	g->pending = GW_NONE;
	if (g->resp_notify)
		return;
	uint8_t nr[256];
	size_t nr_len = 0;
	if (p == GW_REKEY_CHILD || p == GW_REKEY_IKE) {
		if (!gw_find(g, c, KEEL_V2_PAYLOAD_NONCE, &g->pl2))
			return;
		nr_len = g->pl2.u.nonce.len;
		memcpy(nr, g->pl2.u.nonce.p, nr_len);
		memcpy(g->resp_nr, nr, nr_len);
		g->resp_nr_len = nr_len;
	}
	struct keel_secret *g_ir = NULL;
	if (p == GW_REKEY_IKE || (p == GW_REKEY_CHILD && g->req_dh)) {
		if (!gw_find(g, c, KEEL_V2_PAYLOAD_KE, &g->pl2) ||
		    keel_dh_compute(g->req_dh, g->pl2.u.ke.data.p, g->pl2.u.ke.data.len, &g_ir) < 0)
			return;
	}
	struct keel_algs alg;
	uint8_t num, spi[8];
	size_t spi_len = 0;
	if (p == GW_REKEY_CHILD) {
		if (!gw_find(g, c, KEEL_V2_PAYLOAD_SA, &g->pl2))
			goto out;
		gw_choose(&g->pl2.u.sa, gw_cproto(g), 0, &alg, &num, spi, &spi_len);
		struct gw_child *ch = gw_child_new(g);
		ch->alg = alg;
		ch->spi_gw = g->req_spi;
		ch->spi_cl = get32(spi);
		gw_child_keys(ch, ike, g->req_nonce, sizeof(g->req_nonce), nr, nr_len, g_ir, true);
	} else if (p == GW_REKEY_IKE) {
		if (!gw_find(g, c, KEEL_V2_PAYLOAD_SA, &g->pl2))
			goto out;
		gw_choose(&g->pl2.u.sa, KEEL_V2_PROTO_IKE, 0, &alg, &num, spi, &spi_len);
		struct gw_ike *nike = NULL;
		for (int i = 0; i < GW_MAX_IKE && !nike; i++)
			if (!g->ike[i].used)
				nike = &g->ike[i];
		keel_ikev2_ike_keys_clear(&nike->keys);
		keel_sk_clear(&nike->sk);
		memset(nike, 0, sizeof(*nike));
		nike->used = true;
		nike->gw_initiator = true;
		nike->spi_i = g->req_ike_spi;
		nike->spi_r = get64(spi);
		nike->alg = alg;
		gw_ike_keys(nike, g->req_nonce, sizeof(g->req_nonce), nr, nr_len, g_ir, ike);
		g->cur = (int)(nike - g->ike);
	}
out:
	keel_secret_free(g_ir);
}

#endif
