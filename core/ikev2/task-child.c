/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CHILD SAs and CREATE_CHILD_SA (RFC 7296 §1.3): our rekeys of a CHILD SA
 * (§1.3.3, §2.8) and of the IKE SA (§1.3.2, §2.18), the gateway's rekeys
 * of either (we answer), and rekey collisions (§2.8.1, §2.8.2, §2.25).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ikev2/sa.h"
#include "ikev2/ts.h"

#define NS_PER_S 1000000000ull

/* ---- the CHILD SA table ---- */

struct child_sa *keel_child_find(struct keel_sa *sa, uint32_t id)
{
	for (size_t i = 0; i < KEEL_MAX_CHILDREN; i++)
		if (sa->child[i].state != CHILD_FREE && sa->child[i].id == id)
			return &sa->child[i];
	return NULL;
}

struct child_sa *keel_child_by_spi_out(struct keel_sa *sa, uint32_t spi_out)
{
	for (size_t i = 0; i < KEEL_MAX_CHILDREN; i++)
		if (sa->child[i].state != CHILD_FREE && sa->child[i].spi_out == spi_out)
			return &sa->child[i];
	return NULL;
}

struct child_sa *keel_child_by_spi_in(struct keel_sa *sa, uint32_t spi_in)
{
	for (size_t i = 0; i < KEEL_MAX_CHILDREN; i++)
		if (sa->child[i].state != CHILD_FREE && sa->child[i].spi_in == spi_in)
			return &sa->child[i];
	return NULL;
}

size_t keel_child_count_live(const struct keel_sa *sa)
{
	size_t n = 0;
	for (size_t i = 0; i < KEEL_MAX_CHILDREN; i++)
		if (sa->child[i].state == CHILD_ACTIVE || sa->child[i].state == CHILD_REKEYING)
			n++;
	return n;
}

int keel_child_new_spi(struct keel_sa *sa, uint32_t *spi)
{
	for (int tries = 0; tries < 64; tries++) {
		uint32_t v;
		int rc = keel_random(sa, &v, sizeof(v));
		if (rc < 0)
			return rc;
		/* RFC 4303 §2.1: SPIs 1..255 are reserved, 0 is never sent */
		if (v < 256 || keel_child_by_spi_in(sa, v) ||
		    (sa->init.child_spi_in == v && v != 0))
			continue;
		*spi = v;
		return 0;
	}
	return KEEL_ERR_CRYPTO;
}

static void ts_text(const struct keel_ts *ts, size_t n, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char one[96];
		keel_ts_to_text(&ts[i], one, sizeof(one));
		int w = snprintf(buf + len, cap - len, "%s%s", i ? " " : "", one);
		if (w < 0 || (size_t)w >= cap - len)
			return;
		len += (size_t)w;
	}
}

struct child_sa *keel_child_install(struct keel_sa *sa, uint32_t reqid, uint32_t rekeyed_id,
                                    const struct keel_algs *alg, uint32_t spi_in, uint32_t spi_out,
                                    const struct keel_ts *ts_l, size_t n_ts_l,
                                    const struct keel_ts *ts_r, size_t n_ts_r,
                                    const struct keel_child_keys *keys, bool initiator)
{
	struct child_sa *c = NULL;
	for (size_t i = 0; i < KEEL_MAX_CHILDREN && !c; i++)
		if (sa->child[i].state == CHILD_FREE)
			c = &sa->child[i];
	if (!c || n_ts_l > KEEL_MAX_TS || n_ts_r > KEEL_MAX_TS)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->state = CHILD_ACTIVE;
	c->id = sa->next_child_id++;
	if (sa->next_child_id == 0)
		sa->next_child_id = 1;
	c->reqid = reqid;
	c->spi_in = spi_in;
	c->spi_out = spi_out;
	c->alg = *alg;
	c->n_ts_l = n_ts_l;
	c->n_ts_r = n_ts_r;
	memcpy(c->ts_l, ts_l, n_ts_l * sizeof(*ts_l));
	memcpy(c->ts_r, ts_r, n_ts_r * sizeof(*ts_r));
	c->rekey_ns = keel_rekey_time_ns(sa, &sa->cfg.child_lifetime);
	c->expire_ns = keel_expire_time_ns(sa, &sa->cfg.child_lifetime);

	char algs[160], l[512], r[512];
	keel_algs_text(alg, false, algs, sizeof(algs));
	ts_text(ts_l, n_ts_l, l, sizeof(l));
	ts_text(ts_r, n_ts_r, r, sizeof(r));
	bool ah = sa->child_proto == KEEL_V2_PROTO_AH;
	keel_log(sa, KEEL_LOG_INFO,
	         "CHILD SA installed: %s SPIs %08" PRIx32 "_i %08" PRIx32 "_o, %s%s, %s === %s",
	         ah ? "AH" : "ESP", spi_in, spi_out, algs,
	         sa->natt && !ah ? ", UDP-encapsulated" : "", l, r);

	/* KEYMAT (RFC 7296 §2.17): the exchange initiator's outbound keys come first */
	const struct keel_secret *e_out = initiator ? keys->encr_i : keys->encr_r;
	const struct keel_secret *e_in = initiator ? keys->encr_r : keys->encr_i;
	const struct keel_secret *a_out = initiator ? keys->integ_i : keys->integ_r;
	const struct keel_secret *a_in = initiator ? keys->integ_r : keys->integ_i;
	size_t ek = (size_t)keel_secret_len(e_out), ak = (size_t)keel_secret_len(a_out);
	size_t ts_bytes = (n_ts_l + n_ts_r) * sizeof(struct keel_ts);
	uint8_t *data;
	struct keel_out *o =
	    keel_out_push(sa, KEEL_OUT_CHILD_INSTALL, ts_bytes + 2 * ek + 2 * ak, true, &data);
	if (!o) {
		memset(c, 0, sizeof(*c));
		return NULL;
	}
	struct keel_out_child_install *ci = &o->u.child_install;
	/* the TS arrays first: data is aligned for them */
	struct keel_ts *tl = (struct keel_ts *)(void *)data;
	memcpy(tl, ts_l, n_ts_l * sizeof(*ts_l));
	memcpy(tl + n_ts_l, ts_r, n_ts_r * sizeof(*ts_r));
	uint8_t *k = data + ts_bytes;
	if (ek) { /* none with AH */
		memcpy(k, keel_secret_data(e_in), ek);
		memcpy(k + ek, keel_secret_data(e_out), ek);
	}
	if (ak) {
		memcpy(k + 2 * ek, keel_secret_data(a_in), ak);
		memcpy(k + 2 * ek + ak, keel_secret_data(a_out), ak);
	}
	ci->child_id = c->id;
	ci->reqid = reqid;
	ci->rekeyed_child_id = rekeyed_id;
	/* a rekey the gateway started: it installs the pair on our answer */
	ci->inbound_first = rekeyed_id && !initiator;
	ci->protocol = ah ? KEEL_PROTO_AH : KEEL_PROTO_ESP;
	ci->spi_in = spi_in;
	ci->spi_out = spi_out;
	ci->encr = alg->encr;
	ci->encr_key_bits = alg->encr_key_bits;
	ci->encr_key_in = ek ? k : NULL;
	ci->encr_key_out = ek ? k + ek : NULL;
	ci->encr_key_len = (ptrdiff_t)ek;
	ci->integ = alg->integ;
	ci->integ_key_in = ak ? k + 2 * ek : NULL;
	ci->integ_key_out = ak ? k + 2 * ek + ak : NULL;
	ci->integ_key_len = (ptrdiff_t)ak;
	ci->esn = alg->esn != 0;
	ci->local = sa->cfg.local;
	ci->remote = sa->cfg.remote;
	/* AH has no UDP encapsulation (a NAT fails the connection, task-ike-init.c) */
	ci->encap = sa->natt && !ah;
	if (ci->encap) {
		ci->local.port = sa->cfg.local_natt_port;
		ci->remote.port = sa->cfg.remote_natt_port;
	}
	ci->nat_local = ci->encap && (sa->nat_local || sa->cfg.force_encap);
	ci->ts_local = n_ts_l ? tl : NULL;
	ci->n_ts_local = n_ts_l;
	ci->ts_remote = n_ts_r ? tl + n_ts_l : NULL;
	ci->n_ts_remote = n_ts_r;
	ci->soft_life_s = c->rekey_ns ? (uint32_t)((c->rekey_ns - sa->now_ns) / NS_PER_S) : 0;
	ci->hard_life_s = sa->cfg.child_lifetime.life_s;

	return c;
}

void keel_child_remove(struct keel_sa *sa, struct child_sa *c, enum keel_reason reason)
{
	struct keel_out *o = keel_out_push(sa, KEEL_OUT_CHILD_REMOVE, 0, false, NULL);
	if (o) {
		struct keel_out_child_remove *cr = &o->u.child_remove;
		cr->child_id = c->id;
		cr->reqid = c->reqid;
		cr->protocol = sa->child_proto == KEEL_V2_PROTO_AH ? KEEL_PROTO_AH : KEEL_PROTO_ESP;
		cr->spi_in = c->spi_in;
		cr->spi_out = c->spi_out;
		cr->reason = reason;
	}
	keel_log(sa, KEEL_LOG_DEBUG, "CHILD SA %08" PRIx32 "_i %08" PRIx32 "_o removed (%s)",
	         c->spi_in, c->spi_out, keel_reason_name(reason));
	for (size_t i = 0; i < KEEL_MAX_CHILDREN; i++)
		if (sa->child[i].peer_child == c->id)
			sa->child[i].peer_child = 0;
	memset(c, 0, sizeof(*c));
}

/* ---- helpers ---- */

static uint32_t be32(const uint8_t *p)
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

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The PFS group of our ESP/AH proposals (RFC 7296 §1.3.1): the first one listed, or 0. */
static uint16_t pfs_group(const struct keel_sa *sa)
{
	for (size_t i = 0; i < sa->n_child_props; i++)
		if (sa->child_props[i].n_dh)
			return sa->child_props[i].dh[0];
	return 0;
}

static bool child_offers_group(const struct keel_sa *sa, uint16_t g)
{
	for (size_t i = 0; i < sa->n_child_props; i++)
		for (uint8_t k = 0; k < sa->child_props[i].n_dh; k++)
			if (sa->child_props[i].dh[k] == g)
				return true;
	return false;
}

static void nonce_min(const uint8_t *a, size_t al, const uint8_t *b, size_t bl, uint8_t *out,
                      size_t *out_len)
{
	if (keel_nonce_cmp(a, al, b, bl) <= 0) {
		memcpy(out, a, al);
		*out_len = al;
	} else {
		memcpy(out, b, bl);
		*out_len = bl;
	}
}

static uint64_t retry_delay_ns(struct keel_sa *sa)
{
	/* RFC 7296 §2.25: retry after a short, random while */
	uint32_t r = 0;
	keel_random(sa, &r, sizeof(r));
	return 2 * NS_PER_S + (uint64_t)(r % 8000) * 1000000ull;
}

static void back_to_established(struct keel_sa *sa, const char *text)
{
	if (sa->state == KEEL_STATE_REKEYING)
		keel_sa_set_state(sa, KEEL_STATE_ESTABLISHED, KEEL_REASON_NONE, "%s", text);
}

/* ---- our CHILD SA rekey ---- */

int keel_task_child_rekey_start(struct keel_sa *sa, uint32_t child_id)
{
	struct child_sa *c = keel_child_find(sa, child_id);
	struct ike_sa *ike = sa->ike;
	struct request *r = &sa->req;
	struct msg_wr mw;
	uint8_t spi[4], old_spi[4];
	uint8_t *msg;
	size_t len;
	int rc;

	if (!c || c->state != CHILD_ACTIVE || !ike || ike->deleting)
		return 0;
	keel_req_done(sa);
	r->kind = TASK_CHILD_REKEY;
	r->ike = ike;
	r->exchange = KEEL_V2_EXCHANGE_CREATE_CHILD_SA;
	r->child_id = child_id;
	r->reqid = c->reqid;
	r->dh_group = c->alg.dh ? c->alg.dh : pfs_group(sa);
	if ((rc = keel_child_new_spi(sa, &r->new_spi)) < 0 ||
	    (rc = keel_random(sa, r->nonce, sizeof(r->nonce))) < 0)
		return rc;
	if (r->dh_group && (rc = keel_dh_new(r->dh_group, sa->env, &r->dh)) < 0)
		return rc;
	r->msg_id = ike->next_req_id;

	keel_msg_begin(sa, &mw, ike, KEEL_V2_EXCHANGE_CREATE_CHILD_SA, false, r->msg_id, true);
	/* RFC 7296 §1.3.3: REKEY_SA names the SA by the SPI we receive on */
	put32(old_spi, c->spi_in);
	keel_add_notify(&mw, sa->child_proto, old_spi, 4, KEEL_V2_N_REKEY_SA, NULL, 0);
	put32(spi, r->new_spi);
	rc = keel_sa_payload_build(&sa->pl.u.sa, sa->child_props, sa->n_child_props,
	                           sa->child_proto, spi, 4, r->dh != NULL);
	if (rc < 0)
		return rc;
	keel_add_sa(&mw);
	keel_add_bytes(&mw, KEEL_V2_PAYLOAD_NONCE, r->nonce, sizeof(r->nonce));
	if (r->dh)
		keel_add_ke(&mw, r->dh);
	keel_add_ts(&mw, KEEL_V2_PAYLOAD_TSI, c->ts_l, c->n_ts_l);
	keel_add_ts(&mw, KEEL_V2_PAYLOAD_TSR, c->ts_r, c->n_ts_r);
	if ((rc = keel_msg_end(sa, &mw, &msg, &len)) < 0)
		return rc;
	ike->next_req_id++;
	c->state = CHILD_REKEYING;
	c->peer_child = 0;
	keel_sa_set_state(sa, KEEL_STATE_REKEYING, KEEL_REASON_NONE, "rekeying the tunnel");
	return keel_req_send(sa, msg, len);
}

void keel_task_child_rekey_process(struct keel_sa *sa)
{
	struct request *r = &sa->req;
	struct ike_sa *ike = r->ike;
	struct child_sa *c = keel_child_find(sa, r->child_id);
	struct keel_secret *g_ir = NULL;
	struct keel_child_keys keys;
	struct keel_v2_notify n;
	uint32_t old_id = r->child_id;
	uint32_t reqid = r->reqid;
	int rc;

	memset(&keys, 0, sizeof(keys));
	if (c && c->state == CHILD_REKEYING)
		c->state = CHILD_ACTIVE;
	uint16_t err = keel_rx_error(sa);
	if (err == KEEL_V2_N_TEMPORARY_FAILURE) {
		keel_log(sa, KEEL_LOG_INFO,
		         "the gateway is busy (TEMPORARY_FAILURE); rekeying later");
		sa->retry = (struct pending){.kind = TASK_CHILD_REKEY, .child_id = old_id};
		sa->retry_ns = sa->now_ns + retry_delay_ns(sa);
		keel_req_done(sa);
		back_to_established(sa, "connected");
		return;
	}
	if (err == KEEL_V2_N_INVALID_KE_PAYLOAD &&
	    keel_rx_notify(sa, KEEL_V2_N_INVALID_KE_PAYLOAD, &n) && n.data.len == 2 && c) {
		uint16_t g = (uint16_t)(n.data.p[0] << 8 | n.data.p[1]);
		if (child_offers_group(sa, g) && g != r->dh_group && keel_dh_supported(g)) {
			keel_log(sa, KEEL_LOG_INFO, "the gateway wants PFS group %s; retrying",
			         keel_v2_dh_name(g));
			c->alg.dh = g;
			keel_req_done(sa);
			keel_task_queue(sa, TASK_CHILD_REKEY, old_id, NULL);
			return;
		}
	}
	if (err == KEEL_V2_N_CHILD_SA_NOT_FOUND && c) {
		keel_log(sa, KEEL_LOG_WARN,
		         "the gateway no longer knows the tunnel we tried to rekey");
		keel_req_done(sa);
		keel_child_remove(sa, c, KEEL_REASON_PEER_DELETE);
		if (keel_child_count_live(sa) == 0)
			keel_sa_fail_delete(sa, KEEL_REASON_PEER_DELETE,
			                    "the gateway closed the tunnel");
		return;
	}
	if (err) {
		keel_log(sa, KEEL_LOG_WARN,
		         "the gateway refused to rekey the tunnel (%s); it stays until it expires",
		         keel_v2_notify_name(err));
		keel_req_done(sa);
		back_to_established(sa, "connected");
		return;
	}

	struct keel_ts tsi[KEEL_MAX_TS], tsr[KEEL_MAX_TS];
	size_t n_tsi = 0, n_tsr = 0;
	uint8_t nonce_r[KEEL_V2_NONCE_MAX_LEN];
	size_t nonce_r_len;
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_NONCE, &sa->pl_rx))
		goto protocol;
	nonce_r_len = sa->pl_rx.u.nonce.len;
	memcpy(nonce_r, sa->pl_rx.u.nonce.p, nonce_r_len);
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_TSI, &sa->pl_rx) ||
	    !keel_ts_from_payload(&sa->pl_rx.u.ts, tsi, &n_tsi) ||
	    !keel_rx_find(sa, KEEL_V2_PAYLOAD_TSR, &sa->pl_rx) ||
	    !keel_ts_from_payload(&sa->pl_rx.u.ts, tsr, &n_tsr))
		goto protocol;
	if (c && (!keel_ts_narrowed_ok(tsi, n_tsi, c->ts_l, c->n_ts_l) ||
	          !keel_ts_narrowed_ok(tsr, n_tsr, c->ts_r, c->n_ts_r)))
		goto protocol;
	bool have_ke = keel_rx_find(sa, KEEL_V2_PAYLOAD_KE, &sa->pl_rx) != NULL;
	struct keel_v2_ke ke = sa->pl_rx.u.ke;
	struct keel_algs alg;
	uint8_t spi[8];
	size_t spi_len = 0;
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_SA, &sa->pl_rx) ||
	    keel_sa_payload_check(&sa->pl_rx.u.sa, sa->child_props, sa->n_child_props,
	                          sa->child_proto, r->dh ? 1 : 0, &alg, spi, &spi_len) < 0)
		goto protocol;
	if (alg.dh) {
		if (!have_ke || ke.group != alg.dh || alg.dh != r->dh_group)
			goto protocol;
		rc = keel_dh_compute(r->dh, ke.data.p, ke.data.len, &g_ir);
		if (rc < 0)
			goto protocol;
	}
	rc = keel_child_keys_derive(&ike->alg, &alg, ike->ks.keys.sk_d, r->nonce, sizeof(r->nonce),
	                            nonce_r, nonce_r_len, g_ir, &keys);
	if (rc < 0) {
		keel_sa_fail_delete(sa, KEEL_REASON_INTERNAL,
		                    "cannot derive the CHILD SA keys (%s)", keel_strerror(rc));
		goto out;
	}
	struct child_sa *nc = keel_child_install(sa, reqid, old_id, &alg, r->new_spi, be32(spi),
	                                         tsi, n_tsi, tsr, n_tsr, &keys, true);
	if (!nc) {
		keel_sa_fail_delete(sa, KEEL_REASON_INTERNAL, "out of memory");
		goto out;
	}
	c = keel_child_find(sa, old_id); /* the table may have moved nothing, but be sure */
	uint8_t our_min[KEEL_V2_NONCE_MAX_LEN];
	size_t our_min_len;
	nonce_min(r->nonce, sizeof(r->nonce), nonce_r, nonce_r_len, our_min, &our_min_len);
	uint32_t new_id = nc->id;
	keel_req_done(sa);
	if (c && c->peer_child) {
		/* RFC 7296 §2.8.1: both rekeyed it. The SA made by the exchange with the
		 * lowest nonce is redundant; whoever started that exchange deletes it. */
		bool ours_lost = keel_nonce_cmp(our_min, our_min_len, c->peer_nonce_min,
		                                c->peer_nonce_min_len) < 0;
		c->state = CHILD_REKEYED;
		if (ours_lost) {
			keel_log(sa, KEEL_LOG_INFO,
			         "rekey collision: ours has the lower nonce, deleting our new SA");
			struct child_sa *mine = keel_child_find(sa, new_id);
			if (mine)
				mine->state = CHILD_REKEYED;
			keel_task_queue(sa, TASK_CHILD_DELETE, new_id, NULL);
		} else {
			keel_log(
			    sa, KEEL_LOG_INFO,
			    "rekey collision: the gateway's has the lower nonce, keeping ours");
			keel_task_queue(sa, TASK_CHILD_DELETE, old_id, NULL);
		}
	} else if (c) {
		/* make-before-break: the new pair is in; now the old one goes */
		c->state = CHILD_REKEYED;
		keel_task_queue(sa, TASK_CHILD_DELETE, old_id, NULL);
	}
	keel_log(sa, KEEL_LOG_INFO, "tunnel rekeyed");
	back_to_established(sa, "connected (tunnel rekeyed)");
	goto out;
protocol:
	keel_sa_fail_delete(sa, KEEL_REASON_PROTOCOL,
	                    "the gateway answered our CHILD SA rekey with an invalid message");
out:
	keel_secret_free(g_ir);
	keel_child_keys_clear(&keys);
}

/* ---- our IKE SA rekey ---- */

int keel_task_ike_rekey_start(struct keel_sa *sa)
{
	struct ike_sa *ike = sa->ike;
	struct request *r = &sa->req;
	struct msg_wr mw;
	uint8_t spi[8];
	uint8_t *msg;
	size_t len;
	int rc;

	if (!ike || ike->deleting)
		return 0;
	keel_req_done(sa);
	r->kind = TASK_IKE_REKEY;
	r->ike = ike;
	r->exchange = KEEL_V2_EXCHANGE_CREATE_CHILD_SA;
	r->dh_group = sa->ike_rekey_group ? sa->ike_rekey_group : ike->alg.dh;
	do {
		if ((rc = keel_random(sa, &r->new_ike_spi, sizeof(r->new_ike_spi))) < 0)
			return rc;
	} while (r->new_ike_spi == 0);
	if ((rc = keel_random(sa, r->nonce, sizeof(r->nonce))) < 0 ||
	    (rc = keel_dh_new(r->dh_group, sa->env, &r->dh)) < 0)
		return rc;
	r->msg_id = ike->next_req_id;

	keel_msg_begin(sa, &mw, ike, KEEL_V2_EXCHANGE_CREATE_CHILD_SA, false, r->msg_id, true);
	put64(spi, r->new_ike_spi);
	/* RFC 7296 §1.3.2: SA (with the new SPI), Ni, KEi */
	rc = keel_sa_payload_build(&sa->pl.u.sa, sa->cfg.ike_proposals, sa->cfg.n_ike_proposals,
	                           KEEL_V2_PROTO_IKE, spi, 8, true);
	if (rc < 0)
		return rc;
	keel_add_sa(&mw);
	keel_add_bytes(&mw, KEEL_V2_PAYLOAD_NONCE, r->nonce, sizeof(r->nonce));
	keel_add_ke(&mw, r->dh);
	if ((rc = keel_msg_end(sa, &mw, &msg, &len)) < 0)
		return rc;
	ike->next_req_id++;
	sa->ike_coll.peer_new = NULL;
	keel_sa_set_state(sa, KEEL_STATE_REKEYING, KEEL_REASON_NONE, "rekeying the IKE SA");
	return keel_req_send(sa, msg, len);
}

/* Makes new the current IKE SA and retires old (children need nothing: keys stay). */
static void ike_switch(struct keel_sa *sa, struct ike_sa *old, struct ike_sa *new_ike)
{
	sa->ike = new_ike;
	if (old)
		old->deleting = true;
	sa->ike_rekey_ns = keel_rekey_time_ns(sa, &sa->cfg.ike_lifetime);
	sa->ike_expire_ns = keel_expire_time_ns(sa, &sa->cfg.ike_lifetime);
	/* tasks queued for the old SA now go on the new one */
	for (size_t i = 0; i < sa->n_pending; i++)
		if (sa->pending[i].kind != TASK_IKE_DELETE && sa->pending[i].ike == old)
			sa->pending[i].ike = NULL;
}

void keel_task_ike_rekey_process(struct keel_sa *sa)
{
	struct request *r = &sa->req;
	struct ike_sa *old = r->ike;
	struct keel_secret *g_ir = NULL;
	struct keel_v2_notify n;
	int rc;

	uint16_t err = keel_rx_error(sa);
	sa->ike_rekey_group = 0;
	if (err == KEEL_V2_N_TEMPORARY_FAILURE) {
		keel_log(sa, KEEL_LOG_INFO,
		         "the gateway is busy (TEMPORARY_FAILURE); rekeying later");
		sa->retry = (struct pending){.kind = TASK_IKE_REKEY};
		sa->retry_ns = sa->now_ns + retry_delay_ns(sa);
		keel_req_done(sa);
		back_to_established(sa, "connected");
		return;
	}
	if (err == KEEL_V2_N_INVALID_KE_PAYLOAD &&
	    keel_rx_notify(sa, KEEL_V2_N_INVALID_KE_PAYLOAD, &n) && n.data.len == 2) {
		uint16_t g = (uint16_t)(n.data.p[0] << 8 | n.data.p[1]);
		bool offered = false;
		for (size_t i = 0; i < sa->cfg.n_ike_proposals; i++)
			for (uint8_t k = 0; k < sa->cfg.ike_proposals[i].n_dh; k++)
				offered |= sa->cfg.ike_proposals[i].dh[k] == g;
		if (offered && g != r->dh_group && keel_dh_supported(g)) {
			keel_log(sa, KEEL_LOG_INFO, "the gateway wants group %s for the new IKE SA",
			         keel_v2_dh_name(g));
			sa->ike_rekey_group = g;
			keel_req_done(sa);
			keel_task_queue(sa, TASK_IKE_REKEY, 0, NULL);
			return;
		}
	}
	if (err) {
		keel_log(sa, KEEL_LOG_WARN,
		         "the gateway refused to rekey the IKE SA (%s); it stays until it expires",
		         keel_v2_notify_name(err));
		keel_req_done(sa);
		back_to_established(sa, "connected");
		return;
	}
	struct keel_algs alg;
	uint8_t spi[8];
	size_t spi_len = 0;
	uint8_t nonce_r[KEEL_V2_NONCE_MAX_LEN];
	size_t nonce_r_len;
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_NONCE, &sa->pl_rx))
		goto protocol;
	nonce_r_len = sa->pl_rx.u.nonce.len;
	memcpy(nonce_r, sa->pl_rx.u.nonce.p, nonce_r_len);
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_KE, &sa->pl_rx))
		goto protocol;
	struct keel_v2_ke ke = sa->pl_rx.u.ke;
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_SA, &sa->pl_rx) ||
	    keel_sa_payload_check(&sa->pl_rx.u.sa, sa->cfg.ike_proposals, sa->cfg.n_ike_proposals,
	                          KEEL_V2_PROTO_IKE, 1, &alg, spi, &spi_len) < 0 ||
	    spi_len != 8 || be64(spi) == 0)
		goto protocol;
	if (ke.group != alg.dh || alg.dh != r->dh_group)
		goto protocol;
	if (keel_dh_compute(r->dh, ke.data.p, ke.data.len, &g_ir) < 0)
		goto protocol;
	struct ike_sa *nike = keel_ike_new(sa);
	if (!nike) {
		keel_sa_fail_delete(sa, KEEL_REASON_INTERNAL, "too many IKE SAs or out of memory");
		goto out;
	}
	nike->initiator = true;
	nike->spi_i = r->new_ike_spi;
	nike->spi_r = be64(spi);
	nike->alg = alg;
	/* RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) */
	rc = keel_ike_keys_derive(&nike->ks, &alg, true, nike->spi_i, nike->spi_r, r->nonce,
	                          sizeof(r->nonce), nonce_r, nonce_r_len, g_ir, old->alg.prf,
	                          old->ks.keys.sk_d);
	if (rc < 0) {
		keel_ike_free(sa, nike);
		keel_sa_fail_delete(sa, KEEL_REASON_INTERNAL, "cannot derive the new IKE keys (%s)",
		                    keel_strerror(rc));
		goto out;
	}
	nike->keyed = true;
	nonce_min(r->nonce, sizeof(r->nonce), nonce_r, nonce_r_len, nike->nonce_min,
	          &nike->nonce_min_len);
	keel_req_done(sa);

	char algs[160];
	keel_algs_text(&alg, true, algs, sizeof(algs));
	struct ike_sa *peer_new = sa->ike_coll.peer_new;
	sa->ike_coll.peer_new = NULL;
	if (peer_new) {
		/* RFC 7296 §2.8.2: the IKE SA made with the lowest nonce is redundant and
		 * deleted by whoever started that exchange; the other side then deletes
		 * the old one, which the surviving SA's initiator does. */
		if (keel_nonce_cmp(nike->nonce_min, nike->nonce_min_len, peer_new->nonce_min,
		                   peer_new->nonce_min_len) < 0) {
			keel_log(
			    sa, KEEL_LOG_INFO,
			    "IKE rekey collision: ours has the lower nonce, keeping the gateway's");
			ike_switch(sa, old, peer_new);
			nike->deleting = true;
			keel_task_queue(sa, TASK_IKE_DELETE, 0, nike);
		} else {
			keel_log(
			    sa, KEEL_LOG_INFO,
			    "IKE rekey collision: the gateway's has the lower nonce, keeping ours");
			ike_switch(sa, old, nike);
			peer_new->deleting = true;
			keel_task_queue(sa, TASK_IKE_DELETE, 0, old);
		}
	} else {
		ike_switch(sa, old, nike);
		keel_task_queue(sa, TASK_IKE_DELETE, 0, old);
	}
	keel_log(sa, KEEL_LOG_INFO, "IKE SA rekeyed: %s, SPIs %016" PRIx64 "_i %016" PRIx64 "_r",
	         algs, sa->ike->spi_i, sa->ike->spi_r);
	back_to_established(sa, "connected (IKE SA rekeyed)");
	goto out;
protocol:
	keel_sa_fail_delete(sa, KEEL_REASON_PROTOCOL,
	                    "the gateway answered our IKE SA rekey with an invalid message");
out:
	keel_secret_free(g_ir);
}

/* ---- the gateway's CREATE_CHILD_SA: we answer ---- */

static int respond_error(struct keel_sa *sa, struct ike_sa *ike, uint32_t msg_id, uint16_t type,
                         const uint8_t *data, size_t len)
{
	struct msg_wr mw;
	keel_msg_begin(sa, &mw, ike, KEEL_V2_EXCHANGE_CREATE_CHILD_SA, true, msg_id, true);
	keel_add_notify(&mw, 0, NULL, 0, type, data, len);
	keel_log(sa, KEEL_LOG_DEBUG, "answering the gateway's CREATE_CHILD_SA with %s",
	         keel_v2_notify_name(type));
	return keel_msg_respond(sa, &mw);
}

struct peer_req {
	uint8_t nonce_i[KEEL_V2_NONCE_MAX_LEN];
	size_t nonce_i_len;
	bool have_ke;
	struct keel_v2_ke ke;
	struct keel_ts tsi[KEEL_MAX_TS], tsr[KEEL_MAX_TS];
	size_t n_tsi, n_tsr;
	bool have_ts;
};

static int respond_ike_rekey(struct keel_sa *sa, struct ike_sa *ike, uint32_t msg_id,
                             struct peer_req *pr)
{
	struct keel_algs alg;
	uint8_t number, spi_peer[8], spi_ours[8], nonce_r[KEEL_NONCE_LEN], grp[2];
	size_t spi_len = 0;
	struct keel_dh *dh = NULL;
	struct keel_secret *g_ir = NULL;
	struct ike_sa *nike = NULL;
	struct msg_wr mw;
	uint64_t new_spi;
	int rc;

	/* RFC 7296 §2.25.2: not while we delete it or run a CHILD SA exchange on it */
	if (ike->deleting || sa->stopping ||
	    (sa->req_active &&
	     (sa->req.kind == TASK_CHILD_REKEY || sa->req.kind == TASK_CHILD_DELETE ||
	      sa->req.kind == TASK_IKE_DELETE)))
		return respond_error(sa, ike, msg_id, KEEL_V2_N_TEMPORARY_FAILURE, NULL, 0);
	rc = keel_sa_payload_choose(&sa->pl_rx.u.sa, sa->cfg.ike_proposals, sa->cfg.n_ike_proposals,
	                            KEEL_V2_PROTO_IKE, pr->have_ke ? pr->ke.group : 0, &alg,
	                            &number, spi_peer, &spi_len);
	if (rc < 0 || !pr->have_ke)
		return respond_error(sa, ike, msg_id, KEEL_V2_N_NO_PROPOSAL_CHOSEN, NULL, 0);
	if (pr->ke.group != alg.dh) {
		grp[0] = (uint8_t)(alg.dh >> 8);
		grp[1] = (uint8_t)alg.dh;
		return respond_error(sa, ike, msg_id, KEEL_V2_N_INVALID_KE_PAYLOAD, grp, 2);
	}
	if ((rc = keel_dh_new(alg.dh, sa->env, &dh)) < 0)
		goto out;
	rc = keel_dh_compute(dh, pr->ke.data.p, pr->ke.data.len, &g_ir);
	if (rc == KEEL_ERR_MALFORMED) {
		rc = respond_error(sa, ike, msg_id, KEEL_V2_N_INVALID_SYNTAX, NULL, 0);
		goto out;
	}
	if (rc < 0)
		goto out;
	do {
		if ((rc = keel_random(sa, &new_spi, sizeof(new_spi))) < 0)
			goto out;
	} while (new_spi == 0);
	if ((rc = keel_random(sa, nonce_r, sizeof(nonce_r))) < 0)
		goto out;
	nike = keel_ike_new(sa);
	if (!nike) {
		rc = respond_error(sa, ike, msg_id, KEEL_V2_N_TEMPORARY_FAILURE, NULL, 0);
		goto out;
	}
	/* the gateway started this rekey, so it is the new SA's original initiator */
	nike->initiator = false;
	nike->spi_i = be64(spi_peer);
	nike->spi_r = new_spi;
	nike->alg = alg;
	rc = keel_ike_keys_derive(&nike->ks, &alg, false, nike->spi_i, nike->spi_r, pr->nonce_i,
	                          pr->nonce_i_len, nonce_r, sizeof(nonce_r), g_ir, ike->alg.prf,
	                          ike->ks.keys.sk_d);
	if (rc < 0) {
		keel_ike_free(sa, nike);
		goto out;
	}
	nike->keyed = true;
	nonce_min(pr->nonce_i, pr->nonce_i_len, nonce_r, sizeof(nonce_r), nike->nonce_min,
	          &nike->nonce_min_len);

	keel_msg_begin(sa, &mw, ike, KEEL_V2_EXCHANGE_CREATE_CHILD_SA, true, msg_id, true);
	put64(spi_ours, new_spi);
	rc = keel_sa_payload_build_chosen(&sa->pl.u.sa, number, KEEL_V2_PROTO_IKE, spi_ours, 8,
	                                  &alg);
	if (rc < 0) {
		keel_ike_free(sa, nike);
		goto out;
	}
	keel_add_sa(&mw);
	keel_add_bytes(&mw, KEEL_V2_PAYLOAD_NONCE, nonce_r, sizeof(nonce_r));
	keel_add_ke(&mw, dh);
	rc = keel_msg_respond(sa, &mw);
	if (rc < 0) {
		keel_ike_free(sa, nike);
		goto out;
	}
	if (sa->req_active && sa->req.kind == TASK_IKE_REKEY && sa->req.ike == ike) {
		/* both rekey: decided when our own exchange completes (§2.8.2) */
		sa->ike_coll.peer_new = nike;
		keel_log(sa, KEEL_LOG_INFO, "the gateway rekeys the IKE SA too (collision)");
	} else {
		ike_switch(sa, ike, nike);
		char algs[160];
		keel_algs_text(&alg, true, algs, sizeof(algs));
		keel_log(sa, KEEL_LOG_INFO,
		         "the gateway rekeyed the IKE SA: %s, SPIs %016" PRIx64 "_i %016" PRIx64
		         "_r",
		         algs, nike->spi_i, nike->spi_r);
	}
out:
	keel_dh_free(dh);
	keel_secret_free(g_ir);
	OPENSSL_cleanse(nonce_r, sizeof(nonce_r));
	return rc;
}

static int respond_child_rekey(struct keel_sa *sa, struct ike_sa *ike, uint32_t msg_id,
                               struct peer_req *pr, const struct keel_v2_notify *rekey)
{
	struct keel_algs alg;
	uint8_t number, spi_peer[8], spi_ours[4], nonce_r[KEEL_NONCE_LEN], grp[2];
	size_t spi_len = 0;
	struct keel_dh *dh = NULL;
	struct keel_secret *g_ir = NULL;
	struct keel_child_keys keys;
	struct msg_wr mw;
	uint32_t spi_in;
	int rc;

	memset(&keys, 0, sizeof(keys));
	if (rekey->protocol != sa->child_proto || rekey->spi.len != 4)
		return respond_error(sa, ike, msg_id, KEEL_V2_N_INVALID_SYNTAX, NULL, 0);
	/* the SPI the gateway receives on: our outbound SPI */
	struct child_sa *old = keel_child_by_spi_out(sa, be32(rekey->spi.p));
	if (!old)
		return respond_error(sa, ike, msg_id, KEEL_V2_N_CHILD_SA_NOT_FOUND, NULL, 0);
	/* RFC 7296 §2.25.1: not while we delete it; §2.25.2: not while the IKE SA is rekeyed */
	if (old->state == CHILD_DELETING || old->state == CHILD_REKEYED || sa->stopping ||
	    (sa->req_active && sa->req.kind == TASK_IKE_REKEY))
		return respond_error(sa, ike, msg_id, KEEL_V2_N_TEMPORARY_FAILURE, NULL, 0);
	rc = keel_sa_payload_choose(&sa->pl_rx.u.sa, sa->child_props, sa->n_child_props,
	                            sa->child_proto, pr->have_ke ? pr->ke.group : 0, &alg, &number,
	                            spi_peer, &spi_len);
	if (rc < 0)
		return respond_error(sa, ike, msg_id, KEEL_V2_N_NO_PROPOSAL_CHOSEN, NULL, 0);
	if (alg.dh && (!pr->have_ke || pr->ke.group != alg.dh)) {
		grp[0] = (uint8_t)(alg.dh >> 8);
		grp[1] = (uint8_t)alg.dh;
		return respond_error(sa, ike, msg_id, KEEL_V2_N_INVALID_KE_PAYLOAD, grp, 2);
	}
	/* the gateway's TSi is its side, our remote; narrowing to the SA's selectors */
	if (!pr->have_ts || !keel_ts_narrowed_ok(old->ts_r, old->n_ts_r, pr->tsi, pr->n_tsi) ||
	    !keel_ts_narrowed_ok(old->ts_l, old->n_ts_l, pr->tsr, pr->n_tsr))
		return respond_error(sa, ike, msg_id, KEEL_V2_N_TS_UNACCEPTABLE, NULL, 0);
	if (alg.dh) {
		if ((rc = keel_dh_new(alg.dh, sa->env, &dh)) < 0)
			goto out;
		rc = keel_dh_compute(dh, pr->ke.data.p, pr->ke.data.len, &g_ir);
		if (rc == KEEL_ERR_MALFORMED) {
			rc = respond_error(sa, ike, msg_id, KEEL_V2_N_INVALID_SYNTAX, NULL, 0);
			goto out;
		}
		if (rc < 0)
			goto out;
	}
	if ((rc = keel_child_new_spi(sa, &spi_in)) < 0 ||
	    (rc = keel_random(sa, nonce_r, sizeof(nonce_r))) < 0)
		goto out;
	rc = keel_child_keys_derive(&ike->alg, &alg, ike->ks.keys.sk_d, pr->nonce_i,
	                            pr->nonce_i_len, nonce_r, sizeof(nonce_r), g_ir, &keys);
	if (rc < 0)
		goto out;
	uint32_t old_id = old->id, reqid = old->reqid;
	struct child_sa *nc =
	    keel_child_install(sa, reqid, old_id, &alg, spi_in, be32(spi_peer), old->ts_l,
	                       old->n_ts_l, old->ts_r, old->n_ts_r, &keys, false);
	if (!nc) {
		rc = respond_error(sa, ike, msg_id, KEEL_V2_N_TEMPORARY_FAILURE, NULL, 0);
		goto out;
	}
	keel_msg_begin(sa, &mw, ike, KEEL_V2_EXCHANGE_CREATE_CHILD_SA, true, msg_id, true);
	put32(spi_ours, spi_in);
	rc = keel_sa_payload_build_chosen(&sa->pl.u.sa, number, sa->child_proto, spi_ours, 4, &alg);
	if (rc < 0)
		goto out;
	keel_add_sa(&mw);
	keel_add_bytes(&mw, KEEL_V2_PAYLOAD_NONCE, nonce_r, sizeof(nonce_r));
	if (dh)
		keel_add_ke(&mw, dh);
	/* answer with the selectors the SA has: TSi is the gateway's side */
	keel_add_ts(&mw, KEEL_V2_PAYLOAD_TSI, old->ts_r, old->n_ts_r);
	keel_add_ts(&mw, KEEL_V2_PAYLOAD_TSR, old->ts_l, old->n_ts_l);
	rc = keel_msg_respond(sa, &mw);
	if (rc < 0)
		goto out;
	old = keel_child_find(sa, old_id);
	if (old && old->state == CHILD_REKEYING) {
		/* we rekey it too: settled when our exchange completes (§2.8.1) */
		old->peer_child = nc->id;
		nonce_min(pr->nonce_i, pr->nonce_i_len, nonce_r, sizeof(nonce_r),
		          old->peer_nonce_min, &old->peer_nonce_min_len);
		keel_log(sa, KEEL_LOG_INFO, "the gateway rekeys the tunnel too (collision)");
	} else if (old) {
		/* the gateway deletes the old pair next */
		old->state = CHILD_REKEYED;
		keel_log(sa, KEEL_LOG_INFO, "the gateway rekeyed the tunnel");
	}
out:
	keel_dh_free(dh);
	keel_secret_free(g_ir);
	keel_child_keys_clear(&keys);
	OPENSSL_cleanse(nonce_r, sizeof(nonce_r));
	return rc;
}

int keel_task_create_child_respond(struct keel_sa *sa, struct ike_sa *ike, uint32_t msg_id)
{
	struct peer_req pr;
	struct keel_v2_notify rekey;
	int rc;

	memset(&pr, 0, sizeof(pr));
	if (!sa->established)
		return respond_error(sa, ike, msg_id, KEEL_V2_N_NO_ADDITIONAL_SAS, NULL, 0);
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_NONCE, &sa->pl_rx) ||
	    keel_v2_nonce_verify(sa->pl_rx.u.nonce) < 0)
		return respond_error(sa, ike, msg_id, KEEL_V2_N_INVALID_SYNTAX, NULL, 0);
	pr.nonce_i_len = sa->pl_rx.u.nonce.len;
	memcpy(pr.nonce_i, sa->pl_rx.u.nonce.p, pr.nonce_i_len);
	if (keel_rx_find(sa, KEEL_V2_PAYLOAD_KE, &sa->pl_rx)) {
		pr.have_ke = true;
		pr.ke = sa->pl_rx.u.ke;
	}
	if (keel_rx_find(sa, KEEL_V2_PAYLOAD_TSI, &sa->pl_rx) &&
	    keel_ts_from_payload(&sa->pl_rx.u.ts, pr.tsi, &pr.n_tsi) &&
	    keel_rx_find(sa, KEEL_V2_PAYLOAD_TSR, &sa->pl_rx) &&
	    keel_ts_from_payload(&sa->pl_rx.u.ts, pr.tsr, &pr.n_tsr))
		pr.have_ts = true;
	bool is_rekey = keel_rx_notify(sa, KEEL_V2_N_REKEY_SA, &rekey);
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_SA, &sa->pl_rx) || sa->pl_rx.u.sa.n_proposals == 0)
		return respond_error(sa, ike, msg_id, KEEL_V2_N_INVALID_SYNTAX, NULL, 0);
	if (sa->pl_rx.u.sa.proposals[0].protocol == KEEL_V2_PROTO_IKE)
		rc = respond_ike_rekey(sa, ike, msg_id, &pr);
	else if (is_rekey)
		rc = respond_child_rekey(sa, ike, msg_id, &pr, &rekey);
	else /* a client takes no new CHILD SAs from the gateway */
		rc = respond_error(sa, ike, msg_id, KEEL_V2_N_NO_ADDITIONAL_SAS, NULL, 0);
	OPENSSL_cleanse(&pr, sizeof(pr));
	return rc;
}
