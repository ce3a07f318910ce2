/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A test-only IKEv1 gateway for test-ikev1-engine.c, written from the ISAKMP
 * codec and the key derivation alone (not from the engine's code): it
 * answers Aggressive and Main Mode, XAUTH, Mode Config, quick mode, DPD and
 * DELETE, starts rekeys, and has switches for the failures a real gateway
 * produces. Seeded randomness too. Test code only: it trusts what it is
 * given far more than Keel does.
 */
#ifndef KEEL_TEST_IKEV1_GW_H
#define KEEL_TEST_IKEV1_GW_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/config.h>
#include <keel/ike.h>
#include <keel/secret.h>

#include "check.h"
#include "crypto/cipher.h"
#include "crypto/dh.h"
#include "crypto/kdf.h"
#include "crypto/prf.h"
#include "crypto/sig.h"
#include "crypto/x509.h"
#include "ikev1/ikev1.h"
#include "wire/isakmp.h"

#define MS      1000000ull
#define SEC     1000000000ull
#define PKT_MAX 8192
#define QMAX    32

/* ------------------------------------------------------------------ */
/* seeded randomness                                                  */

struct rng {
	uint64_t s;
};

static int rng_fill(void *ctx, uint8_t *buf, size_t len)
{
	struct rng *r = ctx;
	for (size_t i = 0; i < len; i++) {
		r->s ^= r->s << 13;
		r->s ^= r->s >> 7;
		r->s ^= r->s << 17;
		buf[i] = (uint8_t)(r->s >> 24);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* the test gateway                                                   */

struct pkt {
	uint8_t data[PKT_MAX];
	size_t len;
	bool natt;
};

struct gw_cfg {
	const char *psk;
	bool xauth;
	bool xauth_fail;
	bool xauth_type_attr; /* the request carries XAUTH-TYPE generic */
	bool push;            /* Mode Config pushed (SET/ACK) */
	bool modecfg;         /* answer Mode Config at all */
	bool unity;           /* Unity VID, split-include and default domain */
	bool natt_rfc;        /* RFC 3947 VID */
	bool natt_draft;      /* draft-02\n VID only */
	bool fake_nat;        /* our own NAT-D cannot match: encapsulation forced */
	bool dpd;
	bool bad_hash_r;
	bool no_proposal_p1;
	bool no_proposal_qm;
	bool commit;
	bool commit_rekey;       /* its own quick mode sets the commit bit (RFC 2408 §3.1) */
	bool narrow;             /* IDcr narrowed to 198.51.100.0/24 */
	uint32_t p1_life;        /* the life we answer, 0: echo */
	uint32_t qm_life;        /* the life in our transform, 0: echo */
	uint32_t qm_notify_life; /* RESPONDER-LIFETIME notify, 0: none */
	bool silent;             /* answer nothing */
	bool silent_dpd;         /* answer no R-U-THERE */
	bool fragment;           /* long messages in Cisco-style fragments, the last one first */
	const char *gw_id;       /* FQDN */
	/* certificates (RFC 2409 §5.1; hybrid draft): SIG_R with key and cert; SIG_I checked
	 * with client_key (GW_AUTH_SIG), HASH_I (GW_AUTH_HYBRID) */
	int auth_mode;
	const struct keel_privkey *key;
	const uint8_t *cert_der;
	size_t cert_len;
	const struct keel_pubkey *client_key;
	bool bad_sig; /* SIG_R over another hash */
};

enum { GW_AUTH_PSK = 0, GW_AUTH_SIG, GW_AUTH_HYBRID };

struct gsa {
	bool used;
	uint8_t cky_i[8], cky_r[8];
	bool aggressive;
	int stage; /* 1: msg2 sent, 2: msg4 sent (MM), 3: authenticated */
	enum keel_prf_alg prf;
	uint16_t hash, key_bits, group, auth;
	uint32_t life;
	struct keel_dh *dh;
	uint8_t ni[256];
	size_t ni_len;
	uint8_t nr[32];
	uint8_t g_xi[1024], g_xr[1024];
	size_t g_xi_len, g_xr_len;
	uint8_t sai_b[2048];
	size_t sai_b_len;
	uint8_t idii_b[300];
	size_t idii_b_len;
	struct keel_ikev1_keys keys;
	struct keel_cipher *enc, *dec;
	uint8_t iv[16], p1_last[16];
	struct gx {
		uint32_t mid;
		uint8_t iv[16];
		uint64_t rx_digest; /* the client's last message under this ID */
		uint8_t tx[2048];   /* and our answer to it */
		size_t tx_len;
		bool tx_natt;
	} ivs[32];
	size_t n_ivs;             /* a ring: the oldest goes */
	uint8_t last_rx[PKT_MAX]; /* to spot repeats of the engine's phase 1 messages */
	size_t last_rx_len;
	uint8_t last_tx[PKT_MAX];
	size_t last_tx_len;
	bool last_tx_natt;
	/* quick mode in progress */
	uint32_t qm_mid;
	bool qm_ours; /* the gateway started it */
	uint8_t qm_ni[256], qm_nr[32];
	size_t qm_ni_len;
	uint32_t spi_i, spi_r;
	uint8_t qm_proto; /* the client's proposal: ESP, or AH (RFC 2407 §4.4.3) */
	uint16_t qm_esp, qm_bits, qm_auth, qm_encap, qm_group;
	uint32_t qm_life;
	struct keel_dh *qm_dh;
	struct keel_secret *g_qm;
	uint8_t idci[64], idcr[64];
	size_t idci_len, idcr_len;
	uint32_t xauth_mid, set_mid;
};

struct gw {
	struct gw_cfg cfg;
	struct rng rng;
	struct keel_env env;
	struct gsa sa[3];
	struct pkt q[QMAX]; /* to the engine */
	size_t nq;
	/* what the gateway saw */
	char xauth_user[64], xauth_pass[64];
	unsigned n_xauth_replies, n_acks, n_modecfg_req, n_qm1, n_qm3, n_info;
	unsigned n_rut, n_rut_ack, n_initial_contact, n_del_esp, n_del_isakmp, n_p1;
	uint8_t del_proto; /* of the last ESP or AH DELETE from the engine */
	uint32_t del_spis[16];
	size_t n_del_spis;
	uint32_t rut_seq_acked;
	uint16_t last_encap;
	unsigned n_cr, n_client_certs, n_sig_i_ok; /* CERT_REQUESTs, CERTs, good SIG_Is seen */
	unsigned n_cr_any;                         /* CERT_REQUESTs naming no CA */
	bool natd_ok; /* the engine's first NAT-D hashed our address and port */
	uint8_t natd_type_seen;
	unsigned n_retransmits_seen;
	/* keys of the last quick mode, by SPI */
	uint32_t k_spi_i, k_spi_r;
	uint8_t k_ei[64], k_ai[64], k_er[64], k_ar[64];
	size_t k_e_len, k_a_len;
};

static const uint8_t vid_xauth[] = {0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12};
static const uint8_t vid_dpd[] = {0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9,
                                  0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00};
static const uint8_t vid_unity[] = {0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9,
                                    0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc, 0x01, 0x00};
static const uint8_t vid_rfc3947[] = {0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45,
                                      0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f};
static const uint8_t vid_draft02n[] = {0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e,
                                       0x08, 0x63, 0x81, 0xb5, 0xec, 0x42, 0x7b, 0x1f};

static const uint8_t ip_cli[4] = {192, 0, 2, 2};
static const uint8_t ip_gw[4] = {192, 0, 2, 1};
static const uint8_t vip[4] = {100, 64, 0, 7};
static const uint8_t dns1[4] = {198, 51, 100, 53};

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static enum keel_prf_alg prf_of(uint16_t hash)
{
	switch (hash) {
	case 4:
		return KEEL_PRF_HMAC_SHA2_256;
	case 5:
		return KEEL_PRF_HMAC_SHA2_384;
	case 6:
		return KEEL_PRF_HMAC_SHA2_512;
	default:
		return KEEL_PRF_HMAC_SHA1;
	}
}

static struct gsa *gw_find(struct gw *g, const struct keel_v1_hdr *h, bool create)
{
	for (size_t i = 0; i < 3; i++)
		if (g->sa[i].used && memcmp(g->sa[i].cky_i, h->cookie_i, 8) == 0)
			return &g->sa[i];
	if (!create)
		return NULL;
	for (size_t i = 0; i < 3; i++) {
		if (!g->sa[i].used) {
			memset(&g->sa[i], 0, sizeof(g->sa[i]));
			g->sa[i].used = true;
			memcpy(g->sa[i].cky_i, h->cookie_i, 8);
			rng_fill(&g->rng, g->sa[i].cky_r, 8);
			return &g->sa[i];
		}
	}
	return NULL;
}

static void gsa_free(struct gsa *s)
{
	keel_dh_free(s->dh);
	keel_dh_free(s->qm_dh);
	keel_secret_free(s->g_qm);
	keel_ikev1_keys_clear(&s->keys);
	keel_cipher_free(s->enc);
	keel_cipher_free(s->dec);
	memset(s, 0, sizeof(*s));
}

static void gw_free(struct gw *g)
{
	for (size_t i = 0; i < 3; i++)
		gsa_free(&g->sa[i]);
}

static void gw_push(struct gw *g, const uint8_t *d, size_t len, bool natt)
{
	CHECK(g->nq < QMAX && len <= PKT_MAX);
	if (g->nq >= QMAX || len > PKT_MAX)
		return;
	memcpy(g->q[g->nq].data, d, len);
	g->q[g->nq].len = len;
	g->q[g->nq].natt = natt;
	g->nq++;
}

static struct gx *gw_x(struct gsa *s, uint32_t mid)
{
	size_t n = s->n_ivs < 32 ? s->n_ivs : 32;
	for (size_t i = 0; i < n; i++)
		if (s->ivs[i].mid == mid)
			return &s->ivs[i];
	struct gx *x = &s->ivs[s->n_ivs++ % 32];
	memset(x, 0, sizeof(*x));
	x->mid = mid;
	keel_ikev1_iv_phase2(s->prf, s->p1_last, 16, mid, x->iv);
	return x;
}

static uint8_t *gw_iv(struct gsa *s, uint32_t mid)
{
	return mid == 0 ? s->iv : gw_x(s, mid)->iv;
}

static uint64_t digest(const uint8_t *d, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ d[i]) * 1099511628211ull;
	return h;
}

/* Decrypts in place; the IV moves on. */
static bool gw_decrypt(struct gsa *s, const struct keel_v1_hdr *h, uint8_t *body, size_t len)
{
	uint8_t *iv = gw_iv(s, h->msg_id), last[16];
	if (!iv || len % 16 || !s->dec)
		return false;
	memcpy(last, body + len - 16, 16);
	if (keel_cipher_decrypt(s->dec, iv, body, len, body) < 0)
		return false;
	memcpy(iv, last, 16);
	if (h->msg_id == 0)
		memcpy(s->p1_last, last, 16);
	return true;
}

/* A message under construction by the gateway. */
struct gmsg {
	uint8_t buf[PKT_MAX];
	struct keel_wr w;
	struct keel_v1_enc e;
	ptrdiff_t hash_at;
	size_t hash_len;
	uint32_t mid;
	bool enc;
};

static void gm_begin(struct gmsg *m, struct gsa *s, uint8_t exch, uint32_t mid, bool enc, bool hash,
                     uint8_t flags)
{
	struct keel_v1_hdr h;
	memset(&h, 0, sizeof(h));
	memcpy(h.cookie_i, s->cky_i, 8);
	memcpy(h.cookie_r, s->cky_r, 8);
	h.exchange = exch;
	h.flags = (uint8_t)((enc ? KEEL_V1_FLAG_ENC : 0) | flags);
	h.msg_id = mid;
	m->w = keel_wr_init(m->buf, sizeof(m->buf));
	keel_v1_enc_init(&m->e, &m->w, &h);
	m->mid = mid;
	m->enc = enc;
	m->hash_at = -1;
	if (hash) {
		m->hash_len = (size_t)keel_prf_out_len(s->prf);
		m->hash_at = keel_v1_enc_hash_slot(&m->e, m->hash_len);
	}
}

enum { GH_NONE, GH_1, GH_2, GH_3 };

static void gm_send(struct gw *g, struct gsa *s, struct gmsg *m, int kind, const uint8_t *ni,
                    size_t ni_len, const uint8_t *nr, size_t nr_len, bool natt)
{
	size_t chain_end = keel_wr_pos(&m->w);
	if (m->enc) {
		/* pad with at least one byte, as strongSwan does */
		size_t body = chain_end - KEEL_V1_HDR_LEN;
		keel_wr_zero(&m->w, 16 - body % 16);
		m->e.padded = true;
	}
	ptrdiff_t n = keel_v1_enc_finish(&m->e);
	CHECK(n > 0);
	if (n <= 0)
		return;
	if (kind != GH_NONE) {
		size_t after = (size_t)m->hash_at + m->hash_len;
		ptrdiff_t r = -1;
		if (kind == GH_1)
			r = keel_ikev1_hash1(s->prf, s->keys.skeyid_a, m->mid, m->buf + after,
			                     (ptrdiff_t)(chain_end - after), m->buf + m->hash_at,
			                     64);
		else if (kind == GH_2)
			r = keel_ikev1_hash2(
			    s->prf, s->keys.skeyid_a, m->mid, ni, (ptrdiff_t)ni_len, m->buf + after,
			    (ptrdiff_t)(chain_end - after), m->buf + m->hash_at, 64);
		else
			r = keel_ikev1_hash3(s->prf, s->keys.skeyid_a, m->mid, ni,
			                     (ptrdiff_t)ni_len, nr, (ptrdiff_t)nr_len,
			                     m->buf + m->hash_at, 64);
		CHECK(r > 0);
	}
	if (m->enc) {
		uint8_t *iv = gw_iv(s, m->mid);
		CHECK(keel_cipher_encrypt(s->enc, iv, m->buf + 28, (size_t)n - 28, m->buf + 28) ==
		      0);
		memcpy(iv, m->buf + n - 16, 16);
		if (m->mid == 0)
			memcpy(s->p1_last, iv, 16);
	}
	if (!g->cfg.silent && g->cfg.fragment && n > 300) {
		size_t pieces = ((size_t)n + 199) / 200;
		for (size_t k = 0; k < pieces; k++) {
			size_t i = (k + pieces - 1) % pieces; /* the last one first */
			size_t at = i * 200, len = (size_t)n - at < 200 ? (size_t)n - at : 200;
			uint8_t fb[300];
			struct keel_wr w = keel_wr_init(fb, sizeof(fb));
			struct keel_v1_hdr h;
			CHECK(keel_v1_hdr_decode(m->buf, (size_t)n, &h) == 0);
			h.next = KEEL_V1_PL_FRAG;
			h.flags = 0;
			h.len = (uint32_t)(28 + 8 + len);
			keel_v1_hdr_write(&w, &h);
			struct keel_v1_enc e;
			keel_v1_enc_init(&e, &w, NULL);
			struct keel_v1_frag f = {.id = 1,
			                         .number = (uint8_t)(i + 1),
			                         .flags = i + 1 == pieces ? KEEL_V1_FRAG_LAST : 0,
			                         .data = m->buf + at,
			                         .len = len};
			keel_v1_enc_frag(&e, &f);
			CHECK(keel_v1_enc_finish(&e) > 0);
			gw_push(g, fb, w.len, natt);
		}
	} else if (!g->cfg.silent) {
		gw_push(g, m->buf, (size_t)n, natt);
	}
	if (m->mid && (size_t)n <= sizeof(s->ivs[0].tx)) {
		struct gx *x = gw_x(s, m->mid);
		memcpy(x->tx, m->buf, (size_t)n);
		x->tx_len = (size_t)n;
		x->tx_natt = natt;
	}
	memcpy(s->last_tx, m->buf, (size_t)n);
	s->last_tx_len = (size_t)n;
	s->last_tx_natt = natt;
}

/* Checks the leading HASH of a decrypted chain (HASH(1) form, or HASH(2)/(3)). */
static bool gw_check_hash(struct gsa *s, const struct keel_v1_msg *m, int kind, const uint8_t *ni,
                          size_t ni_len, const uint8_t *nr, size_t nr_len)
{
	uint8_t want[64];
	ptrdiff_t n;
	if (m->n_payloads == 0 || m->pl[0].type != KEEL_V1_PL_HASH)
		return false;
	const uint8_t *rest = m->pl[0].raw + m->pl[0].raw_len;
	const struct keel_v1_payload *last = &m->pl[m->n_payloads - 1];
	ptrdiff_t rest_len = last->raw + last->raw_len - rest;
	if (kind == GH_1)
		n = keel_ikev1_hash1(s->prf, s->keys.skeyid_a, m->hdr.msg_id, rest, rest_len, want,
		                     64);
	else if (kind == GH_2)
		n = keel_ikev1_hash2(s->prf, s->keys.skeyid_a, m->hdr.msg_id, ni, (ptrdiff_t)ni_len,
		                     rest, rest_len, want, 64);
	else
		n = keel_ikev1_hash3(s->prf, s->keys.skeyid_a, m->hdr.msg_id, ni, (ptrdiff_t)ni_len,
		                     nr, (ptrdiff_t)nr_len, want, 64);
	return n > 0 && (size_t)n == m->pl[0].len && memcmp(want, m->pl[0].body, (size_t)n) == 0;
}

static void natd_hash(struct gsa *s, const uint8_t ip[4], uint16_t port, uint8_t *out, size_t *len)
{
	uint8_t p[2] = {(uint8_t)(port >> 8), (uint8_t)port};
	struct keel_iov in[4] = {{s->cky_i, 8}, {s->cky_r, 8}, {ip, 4}, {p, 2}};
	ptrdiff_t n = keel_ikev1_hash(s->prf, in, 4, out, 64);
	*len = n > 0 ? (size_t)n : 0;
}

static uint8_t natd_pl(const struct gw *g)
{
	return g->cfg.natt_rfc ? KEEL_V1_PL_NAT_D : KEEL_V1_PL_NAT_D_DRAFT;
}

static void gw_add_natd(struct gw *g, struct gsa *s, struct gmsg *m, uint16_t port)
{
	uint8_t h[64];
	size_t n;
	if (!g->cfg.natt_rfc && !g->cfg.natt_draft)
		return;
	natd_hash(s, ip_cli, port, h, &n); /* what we see: the client */
	keel_v1_enc_data(&m->e, natd_pl(g), h, n);
	natd_hash(s, ip_gw, port, h, &n);
	if (g->cfg.fake_nat)
		h[0] ^= 0xff;
	keel_v1_enc_data(&m->e, natd_pl(g), h, n);
}

static void gw_check_natd(struct gw *g, struct gsa *s, const struct keel_v1_msg *m, uint16_t port)
{
	uint8_t h[64];
	size_t n;
	const struct keel_v1_payload *pl = keel_v1_msg_next(m, KEEL_V1_PL_NAT_D, NULL);
	if (!pl)
		return;
	g->natd_type_seen = pl->type;
	natd_hash(s, ip_gw, port, h, &n);
	g->natd_ok = pl->len == n && memcmp(pl->body, h, n) == 0;
}

static void gw_add_vids(struct gw *g, struct gmsg *m)
{
	if (g->cfg.xauth)
		keel_v1_enc_data(&m->e, KEEL_V1_PL_VID, vid_xauth, sizeof(vid_xauth));
	if (g->cfg.dpd)
		keel_v1_enc_data(&m->e, KEEL_V1_PL_VID, vid_dpd, sizeof(vid_dpd));
	if (g->cfg.unity)
		keel_v1_enc_data(&m->e, KEEL_V1_PL_VID, vid_unity, sizeof(vid_unity));
	if (g->cfg.natt_rfc)
		keel_v1_enc_data(&m->e, KEEL_V1_PL_VID, vid_rfc3947, sizeof(vid_rfc3947));
	else if (g->cfg.natt_draft)
		keel_v1_enc_data(&m->e, KEEL_V1_PL_VID, vid_draft02n, sizeof(vid_draft02n));
}

/* The first acceptable phase 1 transform; writes its choice into s. */
static bool gw_choose_p1(struct gw *g, struct gsa *s, const struct keel_v1_payload *pl)
{
	static struct keel_v1_sa sa;
	struct keel_v1_attrs l;
	if (keel_v1_sa_decode(pl, &sa) < 0 || keel_v1_sa_verify(&sa) < 0 || sa.n_proposals != 1)
		return false;
	memcpy(s->sai_b, pl->body, pl->len);
	s->sai_b_len = pl->len;
	for (size_t i = 0; i < sa.n_transforms; i++) {
		uint16_t encr = 0, bits = 0, hash = 0, group = 0, auth = 0;
		uint32_t life = 0;
		CHECK(keel_v1_attrs_decode(sa.transforms[i].attrs, sa.transforms[i].attrs_len,
		                           &l) == 0);
		for (size_t k = 0; k < l.n; k++) {
			uint32_t v = 0;
			keel_v1_attr_u32(&l.a[k], &v);
			switch (l.a[k].type) {
			case KEEL_V1_IKE_ATTR_ENCR:
				encr = (uint16_t)v;
				break;
			case KEEL_V1_IKE_ATTR_KEY_LENGTH:
				bits = (uint16_t)v;
				break;
			case KEEL_V1_IKE_ATTR_HASH:
				hash = (uint16_t)v;
				break;
			case KEEL_V1_IKE_ATTR_GROUP_DESC:
				group = (uint16_t)v;
				break;
			case KEEL_V1_IKE_ATTR_AUTH_METHOD:
				auth = (uint16_t)v;
				break;
			case KEEL_V1_IKE_ATTR_LIFE_DURATION:
				life = v;
				break;
			default:
				break;
			}
		}
		if (encr != KEEL_V1_ENCR_AES_CBC || !keel_dh_supported(group))
			continue;
		s->hash = hash;
		s->prf = prf_of(hash);
		s->key_bits = bits;
		s->group = group;
		s->auth = auth;
		s->life = g->cfg.p1_life ? g->cfg.p1_life : life;
		return true;
	}
	return false;
}

static void gw_enc_p1_sa(struct gsa *s, struct keel_v1_enc *e)
{
	keel_v1_enc_sa_begin(e, 1, 1);
	keel_v1_enc_proposal_begin(e, 1, KEEL_V1_PROTO_ISAKMP, NULL, 0);
	keel_v1_enc_transform_begin(e, 1, KEEL_V1_KEY_IKE);
	keel_v1_enc_attr_basic(e, KEEL_V1_IKE_ATTR_ENCR, KEEL_V1_ENCR_AES_CBC);
	keel_v1_enc_attr_basic(e, KEEL_V1_IKE_ATTR_KEY_LENGTH, s->key_bits);
	keel_v1_enc_attr_basic(e, KEEL_V1_IKE_ATTR_HASH, s->hash);
	keel_v1_enc_attr_basic(e, KEEL_V1_IKE_ATTR_GROUP_DESC, s->group);
	keel_v1_enc_attr_basic(e, KEEL_V1_IKE_ATTR_AUTH_METHOD, s->auth);
	keel_v1_enc_attr_basic(e, KEEL_V1_IKE_ATTR_LIFE_TYPE, 1);
	keel_v1_enc_attr_int(e, KEEL_V1_IKE_ATTR_LIFE_DURATION, s->life);
	keel_v1_enc_transform_end(e);
	keel_v1_enc_proposal_end(e);
	keel_v1_enc_sa_end(e);
}

/* DH, SKEYID (with the gateway's idea of the PSK), keys, phase 1 IV. */
static bool gw_derive(struct gw *g, struct gsa *s)
{
	struct keel_secret *gxy = NULL, *skeyid = NULL;
	bool ok = keel_dh_compute(s->dh, s->g_xi, s->g_xi_len, &gxy) == 0 &&
	          (g->cfg.auth_mode != GW_AUTH_PSK
	               ? keel_ikev1_skeyid_sig(s->prf, s->ni, (ptrdiff_t)s->ni_len, s->nr, 32,
	                                       keel_secret_data(gxy), keel_secret_len(gxy), &skeyid)
	               : keel_ikev1_skeyid_psk(s->prf, (const uint8_t *)g->cfg.psk,
	                                       (ptrdiff_t)strlen(g->cfg.psk), s->ni,
	                                       (ptrdiff_t)s->ni_len, s->nr, 32, &skeyid)) == 0 &&
	          keel_ikev1_derive(s->prf, skeyid, keel_secret_data(gxy), keel_secret_len(gxy),
	                            s->cky_i, s->cky_r, s->key_bits / 8, &s->keys) == 0 &&
	          keel_ikev1_iv_phase1(s->prf, s->g_xi, (ptrdiff_t)s->g_xi_len, s->g_xr,
	                               (ptrdiff_t)s->g_xr_len, 16, s->iv) == 0 &&
	          keel_cipher_new(KEEL_ENCR_AES_CBC, s->key_bits, KEEL_CIPHER_ENCRYPT,
	                          keel_secret_data(s->keys.encr_key),
	                          (size_t)keel_secret_len(s->keys.encr_key), &s->enc) == 0 &&
	          keel_cipher_new(KEEL_ENCR_AES_CBC, s->key_bits, KEEL_CIPHER_DECRYPT,
	                          keel_secret_data(s->keys.encr_key),
	                          (size_t)keel_secret_len(s->keys.encr_key), &s->dec) == 0;
	keel_secret_free(gxy);
	keel_secret_free(skeyid);
	return ok;
}

static struct keel_ikev1_auth_params gw_ap(struct gsa *s)
{
	struct keel_ikev1_auth_params ap = {
	    .prf = s->prf,
	    .skeyid = s->keys.skeyid,
	    .g_xi = s->g_xi,
	    .g_xi_len = (ptrdiff_t)s->g_xi_len,
	    .g_xr = s->g_xr,
	    .g_xr_len = (ptrdiff_t)s->g_xr_len,
	    .sai_b = s->sai_b,
	    .sai_b_len = (ptrdiff_t)s->sai_b_len,
	};
	memcpy(ap.cky_i, s->cky_i, 8);
	memcpy(ap.cky_r, s->cky_r, 8);
	return ap;
}

static void gw_id(struct gw *g, struct keel_v1_id *id)
{
	memset(id, 0, sizeof(*id));
	id->type = KEEL_V1_ID_FQDN;
	id->data = (const uint8_t *)g->cfg.gw_id;
	id->len = strlen(g->cfg.gw_id);
}

static void gw_notify_clear(struct gw *g, struct gsa *s, uint16_t type)
{
	struct gmsg m;
	gm_begin(&m, s, KEEL_V1_EXCH_INFO, 0, false, false, 0);
	struct keel_v1_notify n = {.doi = 1, .protocol = KEEL_V1_PROTO_ISAKMP, .type = type};
	keel_v1_enc_notify(&m.e, &n);
	gm_send(g, s, &m, GH_NONE, NULL, 0, NULL, 0, false);
}

static void gw_xauth_request(struct gw *g, struct gsa *s, bool natt)
{
	struct gmsg m;
	rng_fill(&g->rng, (uint8_t *)&s->xauth_mid, 4);
	gm_begin(&m, s, KEEL_V1_EXCH_TRANSACTION, s->xauth_mid, true, true, 0);
	keel_v1_enc_cfg_begin(&m.e, KEEL_V1_CFG_REQUEST, 7);
	if (g->cfg.xauth_type_attr)
		keel_v1_enc_attr_basic(&m.e, KEEL_V1_CFG_XAUTH_TYPE, 0);
	keel_v1_enc_attr_var(&m.e, KEEL_V1_CFG_XAUTH_USER_NAME, NULL, 0);
	keel_v1_enc_attr_var(&m.e, KEEL_V1_CFG_XAUTH_USER_PASSWORD, NULL, 0);
	keel_v1_enc_attr_var(&m.e, KEEL_V1_CFG_XAUTH_MESSAGE, "Enter\nPIN", 9);
	keel_v1_enc_cfg_end(&m.e);
	gm_send(g, s, &m, GH_1, NULL, 0, NULL, 0, natt);
}

static void gw_modecfg_attrs(struct gw *g, struct keel_v1_enc *e)
{
	static const uint8_t mask[4] = {255, 255, 255, 0};
	keel_v1_enc_attr_var(e, KEEL_V1_CFG_INTERNAL_IP4_ADDRESS, vip, 4);
	keel_v1_enc_attr_var(e, KEEL_V1_CFG_INTERNAL_IP4_NETMASK, mask, 4);
	keel_v1_enc_attr_var(e, KEEL_V1_CFG_INTERNAL_IP4_DNS, dns1, 4);
	if (g->cfg.unity) {
		struct keel_v1_unity_net nets[2] = {
		    {.addr = {198, 51, 100, 0}, .mask = {255, 255, 255, 0}},
		    {.addr = {203, 0, 113, 0}, .mask = {255, 255, 255, 128}},
		};
		uint8_t buf[28];
		struct keel_wr w = keel_wr_init(buf, sizeof(buf));
		keel_v1_unity_split_write(&w, nets, 2);
		keel_v1_enc_attr_var(e, KEEL_V1_CFG_UNITY_SPLIT_INCLUDE, buf, w.len);
		keel_v1_enc_attr_var(e, KEEL_V1_CFG_UNITY_DEF_DOMAIN, "corp.example", 12);
		keel_v1_enc_attr_var(e, KEEL_V1_CFG_UNITY_BANNER, "Welcome\x01", 8);
	}
}

static void gw_modecfg_push(struct gw *g, struct gsa *s, bool natt)
{
	struct gmsg m;
	uint32_t mid;
	rng_fill(&g->rng, (uint8_t *)&mid, 4);
	gm_begin(&m, s, KEEL_V1_EXCH_TRANSACTION, mid, true, true, 0);
	keel_v1_enc_cfg_begin(&m.e, KEEL_V1_CFG_SET, 9);
	gw_modecfg_attrs(g, &m.e);
	keel_v1_enc_cfg_end(&m.e);
	gm_send(g, s, &m, GH_1, NULL, 0, NULL, 0, natt);
}

/* After phase 1: XAUTH, push, or wait for the client's pull. */
static void gw_after_p1(struct gw *g, struct gsa *s, bool natt)
{
	s->stage = 3;
	if (g->cfg.xauth)
		gw_xauth_request(g, s, natt);
	else if (g->cfg.push)
		gw_modecfg_push(g, s, natt);
}

static void gw_info_notify(struct gw *g, struct gsa *s, uint8_t proto, const uint8_t *spi,
                           size_t spi_len, uint16_t type, const uint8_t *data, size_t len,
                           bool natt);

/* HASH_R as it is, or CERT and SIG_R = the signature of HASH_R with the key (RFC 2409 §5.1,
 * RSA; RFC 4754, ECDSA). */
static void gw_add_proof_r(struct gw *g, struct gmsg *m, uint8_t *hr, size_t n)
{
	if (g->cfg.auth_mode == GW_AUTH_PSK) {
		keel_v1_enc_data(&m->e, KEEL_V1_PL_HASH, hr, n);
		return;
	}
	uint8_t sig[1024];
	struct keel_v1_cert c = {
	    .encoding = KEEL_V1_CERT_X509_SIG, .data = g->cfg.cert_der, .len = g->cfg.cert_len};
	keel_v1_enc_cert(&m->e, KEEL_V1_PL_CERT, &c);
	if (g->cfg.bad_sig)
		hr[1] ^= 0x40;
	ptrdiff_t sl = keel_sig_v1_sign(g->cfg.key, hr, (ptrdiff_t)n, sig, sizeof(sig));
	CHECK(sl > 0);
	keel_v1_enc_data(&m->e, KEEL_V1_PL_SIG, sig, sl > 0 ? (size_t)sl : 0);
}

/* The client's proof: HASH_I, or SIG_I with its certificate. */
static void gw_check_proof_i(struct gw *g, const struct keel_v1_msg *m, const uint8_t *hi, size_t n)
{
	const struct keel_v1_payload *pl = NULL;
	while ((pl = keel_v1_msg_next(m, KEEL_V1_PL_CERT, pl)) != NULL)
		g->n_client_certs++;
	if (g->cfg.auth_mode != GW_AUTH_SIG) {
		const struct keel_v1_payload *hp = keel_v1_msg_next(m, KEEL_V1_PL_HASH, NULL);
		CHECK(hp && (size_t)n == hp->len && memcmp(hi, hp->body, n) == 0);
		CHECK(keel_v1_msg_next(m, KEEL_V1_PL_SIG, NULL) == NULL);
		return;
	}
	const struct keel_v1_payload *sp = keel_v1_msg_next(m, KEEL_V1_PL_SIG, NULL);
	CHECK(sp != NULL && keel_v1_msg_next(m, KEEL_V1_PL_HASH, NULL) == NULL);
	if (sp && keel_sig_v1_verify(g->cfg.client_key, hi, (ptrdiff_t)n, sp->body,
	                             (ptrdiff_t)sp->len) == 0)
		g->n_sig_i_ok++;
}

static void gw_count_cr(struct gw *g, const struct keel_v1_msg *m)
{
	const struct keel_v1_payload *pl = NULL;
	while ((pl = keel_v1_msg_next(m, KEEL_V1_PL_CR, pl)) != NULL) {
		g->n_cr++;
		g->n_cr_any += pl->len == 1 && pl->body[0] == KEEL_V1_CERT_X509_SIG;
	}
}

static void gw_phase1(struct gw *g, struct gsa *s, const struct keel_v1_msg *m, uint8_t *plain,
                      size_t plain_len, bool natt)
{
	struct gmsg out;
	uint8_t ke[1024];
	const struct keel_v1_hdr *h = &m->hdr;
	bool aggr = h->exchange == KEEL_V1_EXCH_AGGRESSIVE;
	uint16_t port = natt ? 4500 : 500;
	(void)plain_len;

	if (!(h->flags & KEEL_V1_FLAG_ENC) && keel_v1_msg_next(m, KEEL_V1_PL_SA, NULL)) {
		/* message 1 */
		s->aggressive = aggr;
		g->n_p1++;
		if (g->cfg.no_proposal_p1 ||
		    !gw_choose_p1(g, s, keel_v1_msg_next(m, KEEL_V1_PL_SA, NULL))) {
			gw_notify_clear(g, s, KEEL_V1_N_NO_PROPOSAL_CHOSEN);
			return;
		}
		if (aggr) {
			const struct keel_v1_payload *ke_pl =
			    keel_v1_msg_next(m, KEEL_V1_PL_KE, NULL);
			const struct keel_v1_payload *ni =
			    keel_v1_msg_next(m, KEEL_V1_PL_NONCE, NULL);
			const struct keel_v1_payload *id = keel_v1_msg_next(m, KEEL_V1_PL_ID, NULL);
			CHECK(ke_pl && ni && id);
			if (!ke_pl || !ni || !id)
				return;
			memcpy(s->g_xi, ke_pl->body, ke_pl->len);
			s->g_xi_len = ke_pl->len;
			memcpy(s->ni, ni->body, ni->len);
			s->ni_len = ni->len;
			memcpy(s->idii_b, id->body, id->len);
			s->idii_b_len = id->len;
			CHECK(keel_dh_new(s->group, &g->env, &s->dh) == 0);
			s->g_xr_len = (size_t)keel_dh_public(s->dh, s->g_xr, sizeof(s->g_xr));
			rng_fill(&g->rng, s->nr, 32);
			CHECK(gw_derive(g, s));
			gm_begin(&out, s, KEEL_V1_EXCH_AGGRESSIVE, 0, false, false, 0);
			gw_enc_p1_sa(s, &out.e);
			keel_v1_enc_data(&out.e, KEEL_V1_PL_KE, s->g_xr, s->g_xr_len);
			keel_v1_enc_data(&out.e, KEEL_V1_PL_NONCE, s->nr, 32);
			struct keel_v1_id gid;
			gw_id(g, &gid);
			keel_v1_enc_id(&out.e, &gid);
			size_t idr_at = out.e.last_body_at, idr_len = out.e.last_body_len;
			gw_add_vids(g, &out);
			gw_add_natd(g, s, &out, port);
			uint8_t hr[64];
			struct keel_ikev1_auth_params ap = gw_ap(s);
			ptrdiff_t n =
			    keel_ikev1_hash_r(&ap, out.buf + idr_at, (ptrdiff_t)idr_len, hr, 64);
			if (g->cfg.bad_hash_r)
				hr[3] ^= 1;
			gw_count_cr(g, m);
			gw_add_proof_r(g, &out, hr, (size_t)n);
		} else {
			gm_begin(&out, s, KEEL_V1_EXCH_MAIN, 0, false, false, 0);
			gw_enc_p1_sa(s, &out.e);
			gw_add_vids(g, &out);
		}
		s->stage = 1;
		gm_send(g, s, &out, GH_NONE, NULL, 0, NULL, 0, natt);
		return;
	}
	if (!(h->flags & KEEL_V1_FLAG_ENC) && !aggr && s->stage == 1) {
		/* Main Mode message 3 */
		const struct keel_v1_payload *ke_pl = keel_v1_msg_next(m, KEEL_V1_PL_KE, NULL);
		const struct keel_v1_payload *ni = keel_v1_msg_next(m, KEEL_V1_PL_NONCE, NULL);
		CHECK(ke_pl && ni);
		if (!ke_pl || !ni)
			return;
		memcpy(s->g_xi, ke_pl->body, ke_pl->len);
		s->g_xi_len = ke_pl->len;
		memcpy(s->ni, ni->body, ni->len);
		s->ni_len = ni->len;
		gw_check_natd(g, s, m, port);
		gw_count_cr(g, m);
		CHECK(keel_dh_new(s->group, &g->env, &s->dh) == 0);
		s->g_xr_len = (size_t)keel_dh_public(s->dh, ke, sizeof(ke));
		memcpy(s->g_xr, ke, s->g_xr_len);
		rng_fill(&g->rng, s->nr, 32);
		CHECK(gw_derive(g, s));
		gm_begin(&out, s, KEEL_V1_EXCH_MAIN, 0, false, false, 0);
		keel_v1_enc_data(&out.e, KEEL_V1_PL_KE, s->g_xr, s->g_xr_len);
		keel_v1_enc_data(&out.e, KEEL_V1_PL_NONCE, s->nr, 32);
		gw_add_natd(g, s, &out, port);
		s->stage = 2;
		gm_send(g, s, &out, GH_NONE, NULL, 0, NULL, 0, natt);
		return;
	}
	if (!(h->flags & KEEL_V1_FLAG_ENC))
		return;
	/* Aggressive Mode message 3 or Main Mode message 5: decrypted already */
	static struct keel_v1_msg pm;
	if (keel_v1_chain_decode(h->next, plain, plain_len, true, &pm) != 0) {
		/* not our keys: a different PSK. Say so under our keys, as strongSwan does */
		CHECK(strcmp(g->cfg.psk, "keel-test-psk") != 0);
		gw_info_notify(g, s, KEEL_V1_PROTO_ISAKMP, NULL, 0, KEEL_V1_N_PAYLOAD_MALFORMED,
		               NULL, 0, natt);
		return;
	}
	const struct keel_v1_payload *idp = keel_v1_msg_next(&pm, KEEL_V1_PL_ID, NULL);
	if (!aggr) {
		CHECK(idp != NULL);
		if (!idp)
			return;
		memcpy(s->idii_b, idp->body, idp->len);
		s->idii_b_len = idp->len;
	} else {
		gw_check_natd(g, s, &pm, port);
	}
	uint8_t hi[64];
	struct keel_ikev1_auth_params ap = gw_ap(s);
	ptrdiff_t n = keel_ikev1_hash_i(&ap, s->idii_b, (ptrdiff_t)s->idii_b_len, hi, 64);
	CHECK(n > 0);
	gw_check_proof_i(g, &pm, hi, n > 0 ? (size_t)n : 0);
	const struct keel_v1_payload *np = NULL;
	while ((np = keel_v1_msg_next(&pm, KEEL_V1_PL_NOTIFY, np)) != NULL) {
		struct keel_v1_notify nn;
		if (keel_v1_notify_decode(np, &nn) == 0 && nn.type == KEEL_V1_N_INITIAL_CONTACT) {
			CHECK(nn.spi_len == 16 && memcmp(nn.spi, s->cky_i, 8) == 0 &&
			      memcmp(nn.spi + 8, s->cky_r, 8) == 0);
			g->n_initial_contact++;
		}
	}
	if (!aggr) {
		gm_begin(&out, s, KEEL_V1_EXCH_MAIN, 0, true, false, 0);
		struct keel_v1_id gid;
		gw_id(g, &gid);
		keel_v1_enc_id(&out.e, &gid);
		uint8_t hr[64];
		n = keel_ikev1_hash_r(&ap, out.buf + out.e.last_body_at,
		                      (ptrdiff_t)out.e.last_body_len, hr, 64);
		if (g->cfg.bad_hash_r)
			hr[0] ^= 1;
		gw_add_proof_r(g, &out, hr, (size_t)n);
		gm_send(g, s, &out, GH_NONE, NULL, 0, NULL, 0, natt);
	}
	gw_after_p1(g, s, natt);
}

static void gw_transaction(struct gw *g, struct gsa *s, const struct keel_v1_msg *pm, bool natt)
{
	struct gmsg out;
	struct keel_v1_cfg cfg;
	struct keel_v1_attrs l;
	const struct keel_v1_payload *ap = keel_v1_msg_next(pm, KEEL_V1_PL_ATTR, NULL);
	CHECK(gw_check_hash(s, pm, GH_1, NULL, 0, NULL, 0));
	CHECK(ap != NULL);
	if (!ap || keel_v1_cfg_decode(ap, &cfg) < 0 ||
	    keel_v1_attrs_decode(cfg.attrs, cfg.attrs_len, &l) < 0)
		return;
	switch (cfg.type) {
	case KEEL_V1_CFG_REPLY: {
		/* the XAUTH login */
		g->n_xauth_replies++;
		CHECK(pm->hdr.msg_id == s->xauth_mid);
		CHECK(cfg.identifier == 7);
		const struct keel_v1_attr *u = keel_v1_attrs_find(&l, KEEL_V1_CFG_XAUTH_USER_NAME);
		const struct keel_v1_attr *p =
		    keel_v1_attrs_find(&l, KEEL_V1_CFG_XAUTH_USER_PASSWORD);
		CHECK(u && p && u->len < 64 && p->len < 64);
		CHECK((keel_v1_attrs_find(&l, KEEL_V1_CFG_XAUTH_TYPE) != NULL) ==
		      g->cfg.xauth_type_attr);
		if (u && u->len < 64)
			snprintf(g->xauth_user, sizeof(g->xauth_user), "%.*s", (int)u->len,
			         u->value);
		if (p && p->len < 64)
			snprintf(g->xauth_pass, sizeof(g->xauth_pass), "%.*s", (int)p->len,
			         p->value);
		rng_fill(&g->rng, (uint8_t *)&s->set_mid, 4);
		gm_begin(&out, s, KEEL_V1_EXCH_TRANSACTION, s->set_mid, true, true, 0);
		keel_v1_enc_cfg_begin(&out.e, KEEL_V1_CFG_SET, 8);
		keel_v1_enc_attr_basic(&out.e, KEEL_V1_CFG_XAUTH_STATUS, g->cfg.xauth_fail ? 0 : 1);
		keel_v1_enc_cfg_end(&out.e);
		gm_send(g, s, &out, GH_1, NULL, 0, NULL, 0, natt);
		return;
	}
	case KEEL_V1_CFG_ACK:
		g->n_acks++;
		if (keel_v1_attrs_find(&l, KEEL_V1_CFG_XAUTH_STATUS)) {
			CHECK(pm->hdr.msg_id == s->set_mid && cfg.identifier == 8);
			if (g->cfg.push && !g->cfg.xauth_fail)
				gw_modecfg_push(g, s, natt);
		} else {
			CHECK(keel_v1_attrs_find(&l, KEEL_V1_CFG_INTERNAL_IP4_ADDRESS) != NULL);
		}
		return;
	case KEEL_V1_CFG_REQUEST:
		g->n_modecfg_req++;
		CHECK(keel_v1_attrs_find(&l, KEEL_V1_CFG_INTERNAL_IP4_ADDRESS) != NULL);
		if (!g->cfg.modecfg)
			return;
		gm_begin(&out, s, KEEL_V1_EXCH_TRANSACTION, pm->hdr.msg_id, true, true, 0);
		keel_v1_enc_cfg_begin(&out.e, KEEL_V1_CFG_REPLY, cfg.identifier);
		gw_modecfg_attrs(g, &out.e);
		keel_v1_enc_cfg_end(&out.e);
		gm_send(g, s, &out, GH_1, NULL, 0, NULL, 0, natt);
		return;
	default:
		CHECK(!"unexpected transaction message");
	}
}

static void gw_info_notify(struct gw *g, struct gsa *s, uint8_t proto, const uint8_t *spi,
                           size_t spi_len, uint16_t type, const uint8_t *data, size_t len,
                           bool natt)
{
	struct gmsg out;
	uint32_t mid;
	rng_fill(&g->rng, (uint8_t *)&mid, 4);
	gm_begin(&out, s, KEEL_V1_EXCH_INFO, mid | 1, true, true, 0);
	struct keel_v1_notify n = {.doi = 1,
	                           .protocol = proto,
	                           .spi_len = (uint8_t)spi_len,
	                           .spi = spi,
	                           .type = type,
	                           .data = data,
	                           .len = len};
	keel_v1_enc_notify(&out.e, &n);
	gm_send(g, s, &out, GH_1, NULL, 0, NULL, 0, natt);
}

static void gw_info_delete(struct gw *g, struct gsa *s, uint8_t proto, const uint8_t *spis,
                           size_t spi_len, bool natt)
{
	struct gmsg out;
	uint32_t mid;
	rng_fill(&g->rng, (uint8_t *)&mid, 4);
	gm_begin(&out, s, KEEL_V1_EXCH_INFO, mid | 1, true, true, 0);
	struct keel_v1_delete d = {
	    .doi = 1, .protocol = proto, .spi_len = (uint8_t)spi_len, .n_spis = 1, .spis = spis};
	keel_v1_enc_delete(&out.e, &d);
	gm_send(g, s, &out, GH_1, NULL, 0, NULL, 0, natt);
}

static void gw_info(struct gw *g, struct gsa *s, const struct keel_v1_msg *pm, bool natt)
{
	g->n_info++;
	CHECK(gw_check_hash(s, pm, GH_1, NULL, 0, NULL, 0));
	for (size_t i = 1; i < pm->n_payloads; i++) {
		const struct keel_v1_payload *pl = &pm->pl[i];
		if (pl->type == KEEL_V1_PL_NOTIFY) {
			struct keel_v1_notify n;
			CHECK(keel_v1_notify_decode(pl, &n) == 0);
			if (n.type == KEEL_V1_N_R_U_THERE) {
				g->n_rut++;
				CHECK(n.spi_len == 16 && memcmp(n.spi, s->cky_i, 8) == 0 &&
				      n.len == 4);
				if (!g->cfg.silent_dpd)
					gw_info_notify(g, s, KEEL_V1_PROTO_ISAKMP, n.spi, 16,
					               KEEL_V1_N_R_U_THERE_ACK, n.data, 4, natt);
			} else if (n.type == KEEL_V1_N_R_U_THERE_ACK) {
				g->n_rut_ack++;
				if (n.len == 4)
					g->rut_seq_acked = get32(n.data);
			} else if (n.type == KEEL_V1_N_INITIAL_CONTACT) {
				g->n_initial_contact++;
			}
		} else if (pl->type == KEEL_V1_PL_DELETE) {
			struct keel_v1_delete d;
			CHECK(keel_v1_delete_decode(pl, &d) == 0 && keel_v1_delete_verify(&d) == 0);
			if (d.protocol == KEEL_V1_PROTO_ESP || d.protocol == KEEL_V1_PROTO_AH) {
				g->n_del_esp++;
				g->del_proto = d.protocol;
				for (size_t k = 0; k < d.n_spis && g->n_del_spis < 16; k++)
					g->del_spis[g->n_del_spis++] =
					    get32(keel_v1_delete_spi(&d, k));
			} else if (d.protocol == KEEL_V1_PROTO_ISAKMP) {
				g->n_del_isakmp++;
				CHECK(memcmp(d.spis, s->cky_i, 8) == 0 &&
				      memcmp(d.spis + 8, s->cky_r, 8) == 0);
			}
		}
	}
}

static void id_bytes(const struct keel_v1_payload *pl, uint8_t *buf, size_t *len)
{
	memcpy(buf, pl->body, pl->len);
	*len = pl->len;
}

static void gw_qm_keys(struct gw *g, struct gsa *s, bool gw_initiated)
{
	uint8_t spi[4];
	/* AH: no cipher, the transform ID names the integrity algorithm */
	ptrdiff_t el =
	    s->qm_proto == KEEL_V1_PROTO_AH ? 0 : keel_encr_keymat_len(s->qm_esp, s->qm_bits);
	ptrdiff_t il = 0;
	if (s->qm_auth == 2)
		il = 20;
	else if (s->qm_auth == 5)
		il = 32;
	else if (s->qm_auth == 6)
		il = 48;
	else if (s->qm_auth == 7)
		il = 64;
	const uint8_t *ni = gw_initiated ? s->qm_nr : s->qm_ni; /* the quick mode initiator's */
	size_t ni_len = gw_initiated ? 32 : s->qm_ni_len;
	const uint8_t *nr = gw_initiated ? s->qm_ni : s->qm_nr;
	size_t nr_len = gw_initiated ? s->qm_ni_len : 32;
	for (int dir = 0; dir < 2; dir++) {
		struct keel_secret *e = NULL, *a = NULL;
		uint32_t v = dir == 0 ? s->spi_i : s->spi_r;
		put32(spi, v);
		struct keel_ikev1_qm_params p = {
		    .prf = s->prf,
		    .skeyid_d = s->keys.skeyid_d,
		    .g_qm = s->g_qm ? keel_secret_data(s->g_qm) : NULL,
		    .g_qm_len = keel_secret_len(s->g_qm),
		    .protocol = s->qm_proto ? s->qm_proto : KEEL_V1_PROTO_ESP,
		    .spi = spi,
		    .spi_len = 4,
		    .nonce_i = ni,
		    .nonce_i_len = (ptrdiff_t)ni_len,
		    .nonce_r = nr,
		    .nonce_r_len = (ptrdiff_t)nr_len,
		};
		CHECK(keel_ikev1_qm_keys(&p, el, il, &e, &a) == 0);
		if (!e && !a)
			return;
		uint8_t *ke = dir == 0 ? g->k_ei : g->k_er, *ka = dir == 0 ? g->k_ai : g->k_ar;
		if (el)
			memcpy(ke, keel_secret_data(e), (size_t)el);
		if (il)
			memcpy(ka, keel_secret_data(a), (size_t)il);
		keel_secret_free(e);
		keel_secret_free(a);
	}
	g->k_spi_i = s->spi_i;
	g->k_spi_r = s->spi_r;
	g->k_e_len = (size_t)el;
	g->k_a_len = (size_t)il;
}

static void gw_enc_esp_sa(struct gw *g, struct gsa *s, struct keel_v1_enc *e, uint8_t prop,
                          uint8_t xf)
{
	uint8_t spi[4];
	put32(spi, s->spi_r);
	keel_v1_enc_sa_begin(e, 1, 1);
	keel_v1_enc_proposal_begin(e, prop, s->qm_proto ? s->qm_proto : KEEL_V1_PROTO_ESP, spi, 4);
	keel_v1_enc_transform_begin(e, xf, (uint8_t)s->qm_esp);
	if (s->qm_proto != KEEL_V1_PROTO_AH)
		keel_v1_enc_attr_basic(e, KEEL_V1_IPSEC_ATTR_KEY_LENGTH, s->qm_bits);
	if (s->qm_auth)
		keel_v1_enc_attr_basic(e, KEEL_V1_IPSEC_ATTR_AUTH_ALG, s->qm_auth);
	keel_v1_enc_attr_basic(e, KEEL_V1_IPSEC_ATTR_ENCAP_MODE, s->qm_encap);
	if (s->qm_group)
		keel_v1_enc_attr_basic(e, KEEL_V1_IPSEC_ATTR_GROUP_DESC, s->qm_group);
	keel_v1_enc_attr_basic(e, KEEL_V1_IPSEC_ATTR_LIFE_TYPE, 1);
	keel_v1_enc_attr_int(e, KEEL_V1_IPSEC_ATTR_LIFE_DURATION, s->qm_life);
	keel_v1_enc_transform_end(e);
	keel_v1_enc_proposal_end(e);
	keel_v1_enc_sa_end(e);
	(void)g;
}

static void gw_quick(struct gw *g, struct gsa *s, const struct keel_v1_msg *pm, bool natt)
{
	struct gmsg out;
	uint32_t mid = pm->hdr.msg_id;
	if (s->qm_mid == mid && !s->qm_ours) {
		/* message 3 of the client's quick mode */
		CHECK(gw_check_hash(s, pm, GH_3, s->qm_ni, s->qm_ni_len, s->qm_nr, 32));
		g->n_qm3++;
		gw_qm_keys(g, s, false);
		return;
	}
	if (s->qm_mid == mid && s->qm_ours) {
		/* message 2 of our quick mode: HASH(2) with our nonce as Ni */
		CHECK(gw_check_hash(s, pm, GH_2, s->qm_nr, 32, NULL, 0));
		const struct keel_v1_payload *sap = keel_v1_msg_next(pm, KEEL_V1_PL_SA, NULL);
		const struct keel_v1_payload *nr = keel_v1_msg_next(pm, KEEL_V1_PL_NONCE, NULL);
		static struct keel_v1_sa sa;
		CHECK(sap && nr && keel_v1_sa_decode(sap, &sa) == 0 && sa.n_proposals == 1);
		if (!sap || !nr || sa.n_proposals != 1)
			return;
		s->spi_i = get32(sa.proposals[0].spi); /* the client's SPI */
		memcpy(s->qm_ni, nr->body, nr->len);
		s->qm_ni_len = nr->len;
		gm_begin(&out, s, KEEL_V1_EXCH_QUICK, mid, true, true, 0);
		gm_send(g, s, &out, GH_3, s->qm_nr, 32, s->qm_ni, s->qm_ni_len, natt);
		gw_qm_keys(g, s, true);
		g->n_qm3++;
		return;
	}
	/* message 1 of the client's quick mode */
	g->n_qm1++;
	CHECK(gw_check_hash(s, pm, GH_1, NULL, 0, NULL, 0));
	const struct keel_v1_payload *sap = keel_v1_msg_next(pm, KEEL_V1_PL_SA, NULL);
	const struct keel_v1_payload *ni = keel_v1_msg_next(pm, KEEL_V1_PL_NONCE, NULL);
	const struct keel_v1_payload *ke = keel_v1_msg_next(pm, KEEL_V1_PL_KE, NULL);
	const struct keel_v1_payload *idci = keel_v1_msg_next(pm, KEEL_V1_PL_ID, NULL);
	const struct keel_v1_payload *idcr =
	    idci ? keel_v1_msg_next(pm, KEEL_V1_PL_ID, idci) : NULL;
	static struct keel_v1_sa sa;
	struct keel_v1_attrs l;
	CHECK(sap && ni && idci && idcr);
	if (!sap || !ni || !idci || !idcr || keel_v1_sa_decode(sap, &sa) < 0)
		return;
	if (g->cfg.no_proposal_qm) {
		gw_info_notify(g, s, KEEL_V1_PROTO_ESP, sa.proposals[0].spi, 4,
		               KEEL_V1_N_NO_PROPOSAL_CHOSEN, NULL, 0, natt);
		return;
	}
	s->qm_mid = mid;
	s->qm_ours = false;
	memcpy(s->qm_ni, ni->body, ni->len);
	s->qm_ni_len = ni->len;
	s->spi_i = get32(sa.proposals[0].spi);
	rng_fill(&g->rng, (uint8_t *)&s->spi_r, 4);
	s->spi_r |= 0x1000;
	rng_fill(&g->rng, s->qm_nr, 32);
	const struct keel_v1_transform *t = &sa.transforms[sa.proposals[0].first];
	CHECK(keel_v1_attrs_decode(t->attrs, t->attrs_len, &l) == 0);
	s->qm_proto = sa.proposals[0].protocol;
	s->qm_esp = t->id;
	s->qm_bits = s->qm_auth = s->qm_encap = s->qm_group = 0;
	s->qm_life = 0;
	for (size_t k = 0; k < l.n; k++) {
		uint32_t v = 0;
		keel_v1_attr_u32(&l.a[k], &v);
		if (l.a[k].type == KEEL_V1_IPSEC_ATTR_KEY_LENGTH)
			s->qm_bits = (uint16_t)v;
		else if (l.a[k].type == KEEL_V1_IPSEC_ATTR_AUTH_ALG)
			s->qm_auth = (uint16_t)v;
		else if (l.a[k].type == KEEL_V1_IPSEC_ATTR_ENCAP_MODE)
			s->qm_encap = (uint16_t)v;
		else if (l.a[k].type == KEEL_V1_IPSEC_ATTR_GROUP_DESC)
			s->qm_group = (uint16_t)v;
		else if (l.a[k].type == KEEL_V1_IPSEC_ATTR_LIFE_DURATION)
			s->qm_life = v;
	}
	g->last_encap = s->qm_encap;
	if (g->cfg.qm_life)
		s->qm_life = g->cfg.qm_life;
	keel_dh_free(s->qm_dh);
	s->qm_dh = NULL;
	keel_secret_free(s->g_qm);
	s->g_qm = NULL;
	uint8_t kr[1024];
	size_t kr_len = 0;
	if (s->qm_group) {
		CHECK(ke != NULL);
		if (!ke)
			return;
		CHECK(keel_dh_new(s->qm_group, &g->env, &s->qm_dh) == 0);
		CHECK(keel_dh_compute(s->qm_dh, ke->body, ke->len, &s->g_qm) == 0);
		kr_len = (size_t)keel_dh_public(s->qm_dh, kr, sizeof(kr));
	}
	id_bytes(idci, s->idci, &s->idci_len);
	id_bytes(idcr, s->idcr, &s->idcr_len);
	gm_begin(&out, s, KEEL_V1_EXCH_QUICK, mid, true, true,
	         g->cfg.commit ? KEEL_V1_FLAG_COMMIT : 0);
	gw_enc_esp_sa(g, s, &out.e, sa.proposals[0].number, t->number);
	keel_v1_enc_data(&out.e, KEEL_V1_PL_NONCE, s->qm_nr, 32);
	if (kr_len)
		keel_v1_enc_data(&out.e, KEEL_V1_PL_KE, kr, kr_len);
	struct keel_v1_id a, b;
	CHECK(keel_v1_id_decode(idci, &a) == 0 && keel_v1_id_decode(idcr, &b) == 0);
	keel_v1_enc_id(&out.e, &a);
	static const uint8_t narrowed[8] = {198, 51, 100, 0, 255, 255, 255, 0};
	if (g->cfg.narrow) {
		struct keel_v1_id n = {
		    .type = KEEL_V1_ID_IPV4_ADDR_SUBNET, .data = narrowed, .len = 8};
		keel_v1_enc_id(&out.e, &n);
	} else {
		keel_v1_enc_id(&out.e, &b);
	}
	if (g->cfg.qm_notify_life) {
		uint8_t attrs[8], spi[4];
		struct keel_wr w = keel_wr_init(attrs, sizeof(attrs));
		struct keel_v1_attr t1 = {.type = 1, .basic = true, .basic_value = 1};
		struct keel_v1_attr t2 = {
		    .type = 2, .basic = true, .basic_value = (uint16_t)g->cfg.qm_notify_life};
		keel_v1_attr_write(&w, &t1);
		keel_v1_attr_write(&w, &t2);
		put32(spi, s->spi_r);
		struct keel_v1_notify n = {.doi = 1,
		                           .protocol = KEEL_V1_PROTO_ESP,
		                           .spi_len = 4,
		                           .spi = spi,
		                           .type = KEEL_V1_N_RESPONDER_LIFETIME,
		                           .data = attrs,
		                           .len = w.len};
		keel_v1_enc_notify(&out.e, &n);
	}
	gm_send(g, s, &out, GH_2, s->qm_ni, s->qm_ni_len, NULL, 0, natt);
}

/* The gateway starts a quick mode to rekey the client's tunnel. */
static void gw_quick_start(struct gw *g, struct gsa *s, bool natt)
{
	struct gmsg out;
	uint8_t idci[8] = {198, 51, 100, 0, 255, 255, 255, 0};
	rng_fill(&g->rng, (uint8_t *)&s->qm_mid, 4);
	s->qm_mid |= 1;
	s->qm_ours = true;
	rng_fill(&g->rng, s->qm_nr, 32);
	rng_fill(&g->rng, (uint8_t *)&s->spi_r, 4);
	s->spi_r |= 0x2000;
	gm_begin(&out, s, KEEL_V1_EXCH_QUICK, s->qm_mid, true, true,
	         g->cfg.commit_rekey ? KEEL_V1_FLAG_COMMIT : 0);
	gw_enc_esp_sa(g, s, &out.e, 1, 1);
	keel_v1_enc_data(&out.e, KEEL_V1_PL_NONCE, s->qm_nr, 32);
	struct keel_v1_id a = {.type = KEEL_V1_ID_IPV4_ADDR_SUBNET, .data = idci, .len = 8};
	struct keel_v1_id b = {.type = KEEL_V1_ID_IPV4_ADDR, .data = vip, .len = 4};
	keel_v1_enc_id(&out.e, &a);
	keel_v1_enc_id(&out.e, &b);
	gm_send(g, s, &out, GH_1, NULL, 0, NULL, 0, natt);
}

static void gw_input(struct gw *g, const uint8_t *d, size_t len, bool natt)
{
	static struct keel_v1_msg m, pm;
	static uint8_t plain[PKT_MAX];
	CHECK(keel_v1_msg_decode(d, len, &m) == 0);
	CHECK(keel_v1_hdr_verify(&m.hdr) == 0);
	if (keel_v1_msg_decode(d, len, &m) != 0)
		return;
	bool p1msg =
	    m.hdr.exchange == KEEL_V1_EXCH_MAIN || m.hdr.exchange == KEEL_V1_EXCH_AGGRESSIVE;
	struct gsa *s = gw_find(g, &m.hdr, p1msg);
	CHECK(s != NULL);
	if (!s)
		return;
	if (p1msg && s->last_rx_len == len && memcmp(s->last_rx, d, len) == 0) {
		/* the client repeats itself: so do we */
		g->n_retransmits_seen++;
		if (s->last_tx_len && !g->cfg.silent)
			gw_push(g, s->last_tx, s->last_tx_len, s->last_tx_natt);
		return;
	}
	if (p1msg) {
		memcpy(s->last_rx, d, len);
		s->last_rx_len = len;
	}
	if (!p1msg && m.hdr.msg_id) {
		/* a repeat of the client's message: our answer again (strongSwan does the same) */
		struct gx *x = gw_x(s, m.hdr.msg_id);
		uint64_t dg = digest(d, len);
		if (x->rx_digest == dg) {
			g->n_retransmits_seen++;
			if (x->tx_len && !g->cfg.silent)
				gw_push(g, x->tx, x->tx_len, x->tx_natt);
			return;
		}
		x->rx_digest = dg;
	}
	size_t plen = 0;
	if (m.hdr.flags & KEEL_V1_FLAG_ENC) {
		memcpy(plain, m.enc, m.enc_len);
		plen = m.enc_len;
		CHECK(gw_decrypt(s, &m.hdr, plain, plen));
	}
	switch (m.hdr.exchange) {
	case KEEL_V1_EXCH_MAIN:
	case KEEL_V1_EXCH_AGGRESSIVE:
		gw_phase1(g, s, &m, plain, plen, natt);
		return;
	default:
		break;
	}
	CHECK(m.hdr.flags & KEEL_V1_FLAG_ENC);
	if (keel_v1_chain_decode(m.hdr.next, plain, plen, true, &pm) != 0) {
		CHECK(!"undecodable message from the client");
		return;
	}
	pm.hdr = m.hdr;
	switch (m.hdr.exchange) {
	case KEEL_V1_EXCH_TRANSACTION:
		gw_transaction(g, s, &pm, natt);
		return;
	case KEEL_V1_EXCH_QUICK:
		gw_quick(g, s, &pm, natt);
		return;
	case KEEL_V1_EXCH_INFO: {
		unsigned before = g->n_del_isakmp;
		gw_info(g, s, &pm, natt);
		if (g->n_del_isakmp != before)
			gsa_free(s);
		return;
	}
	default:
		CHECK(!"unexpected exchange");
	}
}

#endif
