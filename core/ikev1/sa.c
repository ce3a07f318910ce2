/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The IKEv1 SA object: the API, our one outstanding request and its
 * retransmission, dispatch of what arrives (by cookies, exchange type and
 * message ID), reassembly of fragmented messages, timers (DPD, rekeys,
 * lifetimes, waiting for the gateway) and the end of a connection.
 *
 * Retransmission in IKEv1 (RFC 2408 §5, RFC 2409 §5): a message that
 * expects an answer is resent on a timer; the last message of an exchange
 * is resent only when the peer repeats the message it answers (the peer
 * did not get ours). Both are kept per exchange, see struct v1_xchg and the
 * last_rx/last_tx of a phase 1 SA.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ikev1/sa.h"

void keel_v1_options_init(struct keel_v1_options *o)
{
	memset(o, 0, sizeof(*o));
	o->mode = KEEL_V1_MAIN;
	o->modecfg = KEEL_V1_MODECFG_PULL;
	o->unity = true;
	o->fragmentation = true;
	o->initial_contact = true;
}

int keel_v1sa_random(struct keel_v1sa *sa, void *buf, size_t len)
{
	return keel_env_random(sa->env, buf, len);
}

uint64_t keel_v1_add_ns(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - 1 - b ? UINT64_MAX - 1 : a + b;
}

bool keel_v1_dup(uint8_t **dst, size_t *dst_len, const uint8_t *src, size_t len)
{
	free(*dst);
	*dst = NULL;
	*dst_len = 0;
	if (len == 0)
		return true;
	*dst = malloc(len);
	if (!*dst)
		return false;
	memcpy(*dst, src, len);
	*dst_len = len;
	return true;
}

/* ---- construction ---- */

static bool ts_ok(const struct keel_ts *ts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (keel_af_addr_len(ts[i].family) == 0)
			return false;
	return true;
}

static void ts_all(enum keel_af family, struct keel_ts *ts)
{
	memset(ts, 0, sizeof(*ts));
	ts->family = family;
	ts->port_end = 65535;
	memset(ts->end, 0xff, (size_t)keel_af_addr_len(family));
}

static int check_config(const struct keel_config *cfg, const struct keel_v1_options *v1,
                        const struct keel_env *env)
{
	if (!cfg || !v1 || !env || !env->random)
		return KEEL_ERR_INVAL;
	if (cfg->ike_version != 0 && cfg->ike_version != 1)
		return KEEL_ERR_INVAL;
	/* values from the caller: any int may come, so no switch */
	if (cfg->ikev1_hybrid) {
		if (!v1->xauth) /* the hybrid draft §3: XAUTH authenticates us */
			return KEEL_ERR_INVAL;
	} else if (cfg->auth == KEEL_AUTH_EAP) {
		return KEEL_ERR_UNSUPPORTED;
	} else if (cfg->auth != KEEL_AUTH_PSK && cfg->auth != KEEL_AUTH_CERT) {
		return KEEL_ERR_INVAL;
	}
	if (v1->mode != KEEL_V1_MAIN && v1->mode != KEEL_V1_AGGRESSIVE)
		return KEEL_ERR_INVAL;
	if (v1->modecfg != KEEL_V1_MODECFG_PULL && v1->modecfg != KEEL_V1_MODECFG_PUSH &&
	    v1->modecfg != KEEL_V1_MODECFG_OFF)
		return KEEL_ERR_INVAL;
	if (!cfg->ikev1_hybrid && cfg->auth == KEEL_AUTH_PSK &&
	    (!cfg->psk || keel_secret_len(cfg->psk) <= 0))
		return KEEL_ERR_INVAL;
	if (v1->xauth) {
		ptrdiff_t ul = keel_secret_len(v1->xauth_user);
		if (!v1->xauth_user || !v1->xauth_password || ul <= 0 || ul > 255 ||
		    keel_secret_len(v1->xauth_password) > 255)
			return KEEL_ERR_INVAL;
	}
	if (keel_af_addr_len(cfg->local.family) == 0 || cfg->local.family != cfg->remote.family)
		return KEEL_ERR_INVAL;
	if (cfg->local.port == 0 || cfg->remote.port == 0 || cfg->local_natt_port == 0 ||
	    cfg->remote_natt_port == 0 || cfg->retransmit_timeout_ms == 0)
		return KEEL_ERR_INVAL;
	if (cfg->n_ike_proposals > KEEL_MAX_PROPOSALS ||
	    cfg->n_esp_proposals > KEEL_MAX_PROPOSALS || v1->n_ike_proposals > KEEL_MAX_PROPOSALS ||
	    cfg->n_ah_proposals > KEEL_MAX_PROPOSALS || cfg->n_local_ts > KEEL_MAX_TS ||
	    cfg->n_remote_ts > KEEL_MAX_TS)
		return KEEL_ERR_INVAL;
	/* RFC 4302: AH is never UDP-encapsulated */
	if (cfg->n_ah_proposals > 0 && cfg->force_encap)
		return KEEL_ERR_INVAL;
	if (cfg->local_id.len > KEEL_ID_MAX_LEN || cfg->remote_id.len > KEEL_ID_MAX_LEN)
		return KEEL_ERR_INVAL;
	if (!ts_ok(cfg->local_ts, cfg->n_local_ts) || !ts_ok(cfg->remote_ts, cfg->n_remote_ts))
		return KEEL_ERR_INVAL;
	if (v1->pfs_group && !(((v1->pfs_group >= 14 && v1->pfs_group <= 21) ||
	                        v1->pfs_group == 31 || v1->pfs_group == 32) &&
	                       keel_dh_supported(v1->pfs_group)))
		return KEEL_ERR_UNSUPPORTED;
	return 0;
}

/* Tunnels: one per remote selector of a family we have an inner address of. */
static void tunnels_build(struct keel_v1sa *sa)
{
	const struct keel_config *c = &sa->cfg;
	bool v4, v6;
	if (sa->opt.modecfg != KEEL_V1_MODECFG_OFF) {
		v4 = c->request_ip4 || !c->request_ip6;
		v6 = c->request_ip6;
	} else {
		v4 = v6 = false;
		for (size_t i = 0; i < c->n_local_ts; i++) {
			v4 |= c->local_ts[i].family == KEEL_AF_INET;
			v6 |= c->local_ts[i].family == KEEL_AF_INET6;
		}
		if (c->n_local_ts == 0) {
			v4 = c->local.family == KEEL_AF_INET;
			v6 = c->local.family == KEEL_AF_INET6;
		}
	}
	sa->n_tunnels = 0;
	for (size_t i = 0; i < c->n_remote_ts && sa->n_tunnels < KEEL_MAX_TS; i++) {
		const struct keel_ts *ts = &c->remote_ts[i];
		if ((ts->family == KEEL_AF_INET && v4) || (ts->family == KEEL_AF_INET6 && v6))
			sa->tunnel[sa->n_tunnels++].remote = *ts;
	}
	if (c->n_remote_ts == 0) {
		if (v4)
			ts_all(KEEL_AF_INET, &sa->tunnel[sa->n_tunnels++].remote);
		if (v6)
			ts_all(KEEL_AF_INET6, &sa->tunnel[sa->n_tunnels++].remote);
	}
	for (size_t i = 0; i < sa->n_tunnels; i++)
		sa->tunnel[i].reqid = (uint32_t)i + 1;
}

int keel_v1sa_new(const struct keel_config *cfg, const struct keel_v1_options *v1,
                  const struct keel_env *env, struct keel_v1sa **out)
{
	int rc = check_config(cfg, v1, env);
	struct keel_v1sa *sa = NULL;
	if (rc < 0)
		return rc;
	sa = calloc(1, sizeof(*sa));
	if (!sa)
		return KEEL_ERR_NOMEM;
	sa->cfg = *cfg;
	sa->cfg.psk = NULL;
	/* the credentials are parsed below: none of the caller's pointers is kept */
	sa->cfg.cert = sa->cfg.ca = sa->cfg.system_ca = NULL;
	sa->cfg.key = sa->cfg.key_passphrase = NULL;
	sa->auth = cfg->ikev1_hybrid             ? V1_AUTH_HYBRID
	           : cfg->auth == KEEL_AUTH_CERT ? V1_AUTH_SIG
	                                         : V1_AUTH_PSK;
	sa->opt = *v1;
	sa->opt.xauth_user = sa->opt.xauth_password = NULL;
	sa->env = env;
	sa->state = KEEL_STATE_IDLE;
	sa->next_child_id = 1;
	if (sa->auth == V1_AUTH_PSK && !(sa->psk = keel_secret_dup(cfg->psk))) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	if ((rc = keel_v1_creds_load(sa, cfg)) < 0)
		goto out;
	if (v1->xauth) {
		sa->xauth_user = keel_secret_dup(v1->xauth_user);
		sa->xauth_pass = keel_secret_dup(v1->xauth_password);
		if (!sa->xauth_user || !sa->xauth_pass) {
			rc = KEEL_ERR_NOMEM;
			goto out;
		}
	}
	struct keel_config *c = &sa->cfg;
	struct keel_v1_options *o = &sa->opt;
	if (o->n_ike_proposals == 0) {
		if (c->n_ike_proposals) {
			memcpy(o->ike_proposals, c->ike_proposals,
			       c->n_ike_proposals * sizeof(c->ike_proposals[0]));
			o->n_ike_proposals = c->n_ike_proposals;
		} else {
			o->n_ike_proposals = keel_proposal_defaults(
			    KEEL_PROPOSAL_IKE, o->ike_proposals, KEEL_MAX_PROPOSALS);
		}
	}
	if (c->n_esp_proposals == 0)
		c->n_esp_proposals =
		    keel_proposal_defaults(KEEL_PROPOSAL_ESP, c->esp_proposals, KEEL_MAX_PROPOSALS);
	if ((rc = keel_v1_offer_build(sa)) < 0)
		goto out;
	if (o->mode == KEEL_V1_AGGRESSIVE) {
		/* RFC 2409 §5.4: KE goes in message 1, so every transform has its group */
		size_t n = 0;
		for (size_t i = 0; i < sa->n_p1x; i++)
			if (sa->p1x[i].group == sa->p1x[0].group)
				sa->p1x[n++] = sa->p1x[i];
		sa->n_p1x = n;
	}
	if (c->local_id.type == KEEL_ID_NONE) {
		c->local_id.type =
		    c->local.family == KEEL_AF_INET ? KEEL_ID_IPV4_ADDR : KEEL_ID_IPV6_ADDR;
		c->local_id.len = (uint16_t)keel_af_addr_len(c->local.family);
		memcpy(c->local_id.data, c->local.bytes, c->local_id.len);
	}
	if (c->local_id.len == 0) {
		rc = KEEL_ERR_INVAL;
		goto out;
	}
	tunnels_build(sa);
	if (sa->n_tunnels == 0) {
		rc = KEEL_ERR_INVAL;
		goto out;
	}
	/* a session that starts on the NAT-T port already needs the marker */
	sa->natt = c->local.port == c->local_natt_port;
	*out = sa;
	sa = NULL;
	rc = 0;
out:
	keel_v1sa_free(sa);
	return rc;
}

void keel_v1_qm_clear(struct v1_qm *q)
{
	keel_dh_free(q->dh);
	keel_secret_free(q->g_qm);
	OPENSSL_cleanse(q, sizeof(*q));
	memset(q, 0, sizeof(*q));
}

void keel_v1sa_p1_free(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	if (!p1)
		return;
	if (sa->p1 == p1)
		sa->p1 = NULL;
	if (sa->p1_new == p1)
		sa->p1_new = NULL;
	if (sa->req_active && sa->req.p1 == p1) {
		if (sa->req.kind == V1_REQ_QUICK && sa->qm.active) {
			struct v1_child *c = keel_v1_child_find(sa, sa->qm.rekey_child);
			if (c && c->state == V1_CHILD_REKEYING)
				c->state = V1_CHILD_ACTIVE;
			keel_v1_qm_clear(&sa->qm);
		}
		keel_v1sa_req_done(sa);
	}
	keel_ikev1_keys_clear(&p1->keys);
	keel_cipher_free(p1->enc);
	keel_cipher_free(p1->dec);
	keel_dh_free(p1->dh);
	free(p1->sai_b);
	free(p1->g_xi);
	free(p1->g_xr);
	free(p1->last_rx);
	free(p1->last_tx);
	for (size_t i = 0; i < V1_MAX_XCHG; i++)
		keel_v1_xchg_clear(&p1->x[i]);
	OPENSSL_cleanse(p1, sizeof(*p1));
	free(p1);
}

static void frag_reset(struct v1_frag *f)
{
	for (size_t i = 0; i < V1_MAX_FRAGS; i++)
		free(f->data[i]);
	memset(f, 0, sizeof(*f));
}

void keel_v1sa_free(struct keel_v1sa *sa)
{
	if (!sa)
		return;
	keel_v1sa_req_done(sa);
	keel_v1_qm_clear(&sa->qm);
	keel_v1_qm_clear(&sa->qm_peer);
	keel_v1sa_p1_free(sa, sa->p1);
	keel_v1sa_p1_free(sa, sa->p1_new);
	keel_secret_free(sa->psk);
	keel_secret_free(sa->xauth_user);
	keel_secret_free(sa->xauth_pass);
	keel_creds_clear(&sa->creds);
	frag_reset(&sa->frag);
	keel_v1sa_out_clear(sa);
	OPENSSL_cleanse(sa, sizeof(*sa));
	free(sa);
}

/* ---- timers ---- */

uint64_t keel_v1sa_rekey_at(struct keel_v1sa *sa, const struct keel_lifetime *lt, uint32_t life_s)
{
	if (life_s == 0)
		return 0;
	uint64_t soft_s = life_s > lt->margin_s ? life_s - lt->margin_s : life_s / 2;
	uint64_t jitter_ms = 0;
	/* a short lifetime from the gateway takes a share of the jitter, not all of it */
	uint64_t jitter_max_ms = (uint64_t)lt->jitter_s * 1000;
	if (jitter_max_ms > soft_s * 1000 / 4)
		jitter_max_ms = soft_s * 1000 / 4;
	if (jitter_max_ms > 0) {
		uint32_t r = 0;
		if (keel_v1sa_random(sa, &r, sizeof(r)) == 0)
			jitter_ms = r % (jitter_max_ms + 1);
	}
	uint64_t soft_ms = soft_s * 1000;
	soft_ms = soft_ms > jitter_ms + 1000 ? soft_ms - jitter_ms : 1000;
	return keel_v1_add_ns(sa->now_ns, soft_ms * V1_NS_PER_MS);
}

uint64_t keel_v1sa_giveup_ms(const struct keel_v1sa *sa)
{
	uint64_t w = sa->cfg.retransmit_timeout_ms, total = w;
	for (uint32_t i = 0; i < sa->cfg.retransmit_tries; i++) {
		w = w * sa->cfg.retransmit_factor_permille / 1000;
		if (w == 0)
			w = 1;
		if (sa->cfg.retransmit_limit_ms && w > sa->cfg.retransmit_limit_ms)
			w = sa->cfg.retransmit_limit_ms;
		total += w;
	}
	return total;
}

/* ---- the end of a connection ---- */

static void finish(struct keel_v1sa *sa, enum keel_state state, enum keel_reason reason,
                   const char *text)
{
	if (sa->finished)
		return;
	for (size_t i = 0; i < V1_MAX_CHILDREN; i++)
		if (sa->child[i].state != V1_CHILD_FREE)
			keel_v1_child_remove(sa, &sa->child[i],
			                     reason == KEEL_REASON_NONE ? KEEL_REASON_USER
			                                                : reason);
	keel_v1sa_req_done(sa);
	keel_v1_qm_clear(&sa->qm);
	keel_v1_qm_clear(&sa->qm_peer);
	sa->n_pending = 0;
	keel_v1sa_p1_free(sa, sa->p1);
	keel_v1sa_p1_free(sa, sa->p1_new);
	keel_secret_free(sa->psk);
	keel_secret_free(sa->xauth_user);
	keel_secret_free(sa->xauth_pass);
	sa->psk = sa->xauth_user = sa->xauth_pass = NULL;
	keel_creds_clear(&sa->creds);
	frag_reset(&sa->frag);
	keel_v1sa_log(sa, state == KEEL_STATE_FAILED ? KEEL_LOG_ERROR : KEEL_LOG_INFO, "%s", text);
	keel_v1sa_set_state(sa, state, reason, "%s", text);
	sa->finished = true;
}

void keel_v1sa_fail(struct keel_v1sa *sa, enum keel_reason reason, const char *fmt, ...)
{
	char text[V1_LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	finish(sa, KEEL_STATE_FAILED, reason, text);
}

void keel_v1sa_close(struct keel_v1sa *sa, enum keel_reason reason, const char *fmt, ...)
{
	char text[V1_LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	finish(sa, KEEL_STATE_CLOSED, reason, text);
}

static bool p1_authenticated(const struct v1_p1 *p1)
{
	return p1 && p1->keyed && p1->step >= P1_XAUTH;
}

/* DELETE of every CHILD SA and of the authenticated phase 1 SAs (no answer in IKEv1). */
static void send_deletes(struct keel_v1sa *sa)
{
	struct v1_p1 *p1 = p1_authenticated(sa->p1) ? sa->p1 : sa->p1_new;
	if (p1_authenticated(p1)) {
		uint32_t spis[V1_MAX_CHILDREN];
		size_t n = 0;
		for (size_t i = 0; i < V1_MAX_CHILDREN; i++)
			if (sa->child[i].state != V1_CHILD_FREE)
				spis[n++] = sa->child[i].spi_in;
		if (n)
			keel_v1_info_delete_esp(sa, p1, spis, n);
	}
	if (p1_authenticated(sa->p1_new))
		keel_v1_info_delete_p1(sa, sa->p1_new);
	if (p1_authenticated(sa->p1))
		keel_v1_info_delete_p1(sa, sa->p1);
}

void keel_v1sa_fail_delete(struct keel_v1sa *sa, enum keel_reason reason, const char *fmt, ...)
{
	char text[V1_LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!sa->finished)
		send_deletes(sa);
	finish(sa, KEEL_STATE_FAILED, reason, text);
}

/* ---- requests ---- */

void keel_v1sa_req_done(struct keel_v1sa *sa)
{
	free(sa->req.msg);
	memset(&sa->req, 0, sizeof(sa->req));
	sa->req_active = false;
}

int keel_v1sa_send(struct keel_v1sa *sa, const uint8_t *msg, size_t len)
{
	uint8_t *data;
	struct keel_out *o = keel_v1sa_out_push(sa, KEEL_OUT_DGRAM, len, false, &data);
	if (!o)
		return KEEL_ERR_NOMEM;
	memcpy(data, msg, len);
	struct keel_out_dgram *d = &o->u.dgram;
	d->local = sa->cfg.local;
	d->remote = sa->cfg.remote;
	d->natt = sa->natt;
	if (sa->natt) {
		d->local.port = sa->cfg.local_natt_port;
		d->remote.port = sa->cfg.remote_natt_port;
	}
	d->data = data;
	d->len = (ptrdiff_t)len;
	return 0;
}

static const char *req_name(const struct keel_v1sa *sa)
{
	const struct v1_req *r = &sa->req;
	switch (r->kind) {
	case V1_REQ_P1:
		return r->p1 ? keel_v1_p1_step_name(r->p1->step) : "phase 1";
	case V1_REQ_MODECFG:
		return "Mode Config request";
	case V1_REQ_QUICK:
		return "Quick Mode";
	case V1_REQ_DPD:
		return "DPD R-U-THERE";
	case V1_REQ_NONE:
		break;
	}
	return "request";
}

int keel_v1sa_req_send(struct keel_v1sa *sa, uint8_t *msg, size_t len)
{
	struct v1_req *r = &sa->req;
	free(r->msg);
	r->msg = msg;
	r->msg_len = len;
	r->sent = 1;
	r->wait_ms = sa->cfg.retransmit_timeout_ms;
	r->next_ns = keel_v1_add_ns(sa->now_ns, r->wait_ms * V1_NS_PER_MS);
	sa->req_active = true;
	keel_v1sa_log(sa, KEEL_LOG_DEBUG, "sending %s, message ID %08" PRIx32 " (%zu bytes)",
	              req_name(sa), r->msg_id, len);
	return keel_v1sa_send(sa, msg, len);
}

void keel_v1sa_task_queue(struct keel_v1sa *sa, enum v1_task_kind kind, size_t tunnel,
                          uint32_t child_id)
{
	for (size_t i = 0; i < sa->n_pending; i++)
		if (sa->pending[i].kind == kind && sa->pending[i].tunnel == tunnel &&
		    sa->pending[i].child_id == child_id)
			return;
	if (sa->n_pending >= V1_MAX_PENDING) {
		keel_v1sa_log(sa, KEEL_LOG_WARN, "too many queued exchanges, dropping one");
		return;
	}
	sa->pending[sa->n_pending++] =
	    (struct v1_pending){.kind = kind, .tunnel = tunnel, .child_id = child_id};
}

static void run_pending(struct keel_v1sa *sa)
{
	/* one exchange of ours at a time; none on the old SA while a new phase 1 is made */
	while (!sa->finished && !sa->req_active && sa->n_pending > 0 && sa->established &&
	       !sa->stopping && !sa->p1_new && sa->p1 && sa->p1->step == P1_READY) {
		struct v1_pending p = sa->pending[0];
		memmove(&sa->pending[0], &sa->pending[1], (sa->n_pending - 1) * sizeof(p));
		sa->n_pending--;
		int rc = 0;
		switch (p.kind) {
		case V1_TASK_QUICK:
			rc = keel_v1_quick_start(sa, p.tunnel, p.child_id);
			break;
		case V1_TASK_P1_REKEY:
			rc = keel_v1_p1_start(sa, false);
			break;
		case V1_TASK_DPD:
			rc = keel_v1_dpd_start(sa);
			break;
		case V1_TASK_NONE:
			break;
		}
		if (rc < 0 && !sa->finished)
			keel_v1sa_fail_delete(sa, KEEL_REASON_INTERNAL,
			                      "internal error starting an exchange: %s",
			                      keel_strerror(rc));
	}
}

static void give_up(struct keel_v1sa *sa)
{
	struct v1_req *r = &sa->req;
	const char *what = req_name(sa);
	bool setup = !sa->established;
	unsigned tries = r->sent;

	if (r->kind == V1_REQ_DPD || (!setup && r->p1 != sa->p1_new)) {
		keel_v1sa_fail(sa, KEEL_REASON_DEAD_PEER,
		               "the gateway stopped answering (dead peer, no answer to %s)", what);
		return;
	}
	if (!setup) {
		keel_v1sa_fail_delete(sa, KEEL_REASON_DEAD_PEER,
		                      "the gateway stopped answering (no answer to %s of the new "
		                      "phase 1)",
		                      what);
		return;
	}
	if (sa->bad_hash_r && sa->auth != V1_AUTH_PSK)
		keel_v1sa_fail(sa, KEEL_REASON_PEER_AUTH, "%s, %u tries (%s)", sa->bad_sig_why,
		               tries, what);
	else if (sa->bad_hash_r)
		keel_v1sa_fail(sa, KEEL_REASON_PEER_AUTH,
		               "the gateway's HASH_R did not verify after %u tries (%s): its "
		               "pre-shared key or identity differs from ours",
		               tries, what);
	else if (sa->auth_suspect)
		keel_v1sa_fail(sa, KEEL_REASON_AUTH_REFUSED,
		               "the gateway's answers did not decrypt with our keys after %u tries "
		               "(%s): %s",
		               tries, what,
		               sa->auth == V1_AUTH_PSK
		                   ? "the pre-shared key does not match the gateway's"
		                   : "it may have refused our identity or certificate");
	else
		keel_v1sa_fail(sa, KEEL_REASON_TIMEOUT,
		               "the gateway did not answer after %u tries (%s)", tries, what);
}

static void retransmit(struct keel_v1sa *sa)
{
	struct v1_req *r = &sa->req;
	if (r->sent > sa->cfg.retransmit_tries) {
		give_up(sa);
		return;
	}
	uint64_t w = r->wait_ms * sa->cfg.retransmit_factor_permille / 1000;
	if (w == 0)
		w = 1;
	if (sa->cfg.retransmit_limit_ms && w > sa->cfg.retransmit_limit_ms)
		w = sa->cfg.retransmit_limit_ms;
	r->wait_ms = w;
	r->sent++;
	r->next_ns = keel_v1_add_ns(sa->now_ns, w * V1_NS_PER_MS);
	keel_v1sa_log(sa, KEEL_LOG_DEBUG, "retransmitting %s, message ID %08" PRIx32 " (try %u)",
	              req_name(sa), r->msg_id, r->sent);
	if (r->kind == V1_REQ_DPD) {
		if (keel_v1_dpd_resend(sa) < 0)
			give_up(sa);
		return;
	}
	keel_v1sa_send(sa, r->msg, r->msg_len);
}

/* ---- a phase 1 SA becomes usable ---- */

void keel_v1sa_p1_ready(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	p1->step = P1_READY;
	p1->wait_ns = 0;
	if (p1 == sa->p1 && !sa->established) {
		/* the first tunnel now; the others once it is up */
		for (size_t i = 1; i < sa->n_tunnels; i++)
			keel_v1sa_task_queue(sa, V1_TASK_QUICK, i, 0);
		int rc = keel_v1_quick_start(sa, 0, 0);
		if (rc < 0 && !sa->finished)
			keel_v1sa_fail_delete(sa, KEEL_REASON_INTERNAL,
			                      "cannot start Quick Mode: %s", keel_strerror(rc));
		return;
	}
	if (p1 != sa->p1_new)
		return;
	/* IKEv1 has no rekey of the ISAKMP SA: the new one takes over, the old one goes */
	struct v1_p1 *old = sa->p1;
	sa->p1 = p1;
	sa->p1_new = NULL;
	if (old) {
		if (sa->qm_peer.active)
			keel_v1_quick_peer_drop(sa, "its ISAKMP SA is replaced");
		keel_v1_info_delete_p1(sa, old);
		keel_v1sa_p1_free(sa, old);
	}
	keel_v1sa_log(sa, KEEL_LOG_INFO, "phase 1 renewed (cookies %02x%02x%02x%02x...)",
	              p1->cky_i[0], p1->cky_i[1], p1->cky_i[2], p1->cky_i[3]);
	if (sa->state == KEEL_STATE_REKEYING)
		keel_v1sa_set_state(sa, KEEL_STATE_ESTABLISHED, KEEL_REASON_NONE,
		                    "phase 1 renewed");
}

/* ---- receiving ---- */

static bool same_bytes(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	return a && a_len == b_len && memcmp(a, b, a_len) == 0;
}

static bool cookie_zero(const uint8_t *c)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < KEEL_V1_COOKIE_LEN; i++)
		acc |= c[i];
	return acc == 0;
}

/* The phase 1 SA a message belongs to, by its cookies (RFC 2408 §3.1). */
static struct v1_p1 *find_p1(struct keel_v1sa *sa, const struct keel_v1_hdr *h)
{
	struct v1_p1 *cand[2] = {sa->p1, sa->p1_new};
	for (size_t i = 0; i < 2; i++) {
		struct v1_p1 *p1 = cand[i];
		if (!p1 || memcmp(p1->cky_i, h->cookie_i, KEEL_V1_COOKIE_LEN) != 0)
			continue;
		if (memcmp(p1->cky_r, h->cookie_r, KEEL_V1_COOKIE_LEN) == 0)
			return p1;
		/* the gateway's first message brings its cookie */
		if (cookie_zero(p1->cky_r) && (p1->step == P1_MM1 || p1->step == P1_AM1))
			return p1;
	}
	return NULL;
}

/* Cisco-style fragments (payload 132): collect; true with the whole message in frag_buf. */
static int frag_collect(struct keel_v1sa *sa, size_t *total)
{
	struct v1_frag *f = &sa->frag;
	struct keel_v1_frag fr;
	const struct keel_v1_payload *pl = &sa->rx.pl[0];
	if (sa->rx.n_payloads != 1 || keel_v1_frag_decode(pl, &fr) < 0 ||
	    keel_v1_frag_verify(&fr) < 0 || fr.number > V1_MAX_FRAGS)
		return KEEL_ERR_MALFORMED;
	if (f->have && f->id != fr.id)
		frag_reset(f);
	f->id = fr.id;
	size_t i = (size_t)fr.number - 1;
	if (f->have & (1u << i))
		return 0; /* a repeat */
	f->data[i] = malloc(fr.len);
	if (!f->data[i])
		return KEEL_ERR_NOMEM;
	memcpy(f->data[i], fr.data, fr.len);
	f->len[i] = (uint16_t)fr.len;
	f->have |= (uint16_t)(1u << i);
	if (fr.flags & KEEL_V1_FRAG_LAST)
		f->n_last = fr.number;
	if (!f->n_last)
		return 0;
	size_t n = 0;
	for (size_t k = 0; k < f->n_last; k++) {
		if (!(f->have & (1u << k)))
			return 0;
		if (n + f->len[k] > sizeof(sa->frag_buf)) {
			frag_reset(f);
			return KEEL_ERR_MALFORMED;
		}
		memcpy(sa->frag_buf + n, f->data[k], f->len[k]);
		n += f->len[k];
	}
	frag_reset(f);
	*total = n;
	return 1;
}

static int recv_cleartext_info(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	/* RFC 2409 §5.7: an error can come unprotected only while phase 1 is under way */
	if (p1->step >= P1_XAUTH)
		return KEEL_ERR_STATE;
	if (keel_v1_msg_verify(&sa->rx) < 0)
		return KEEL_ERR_MALFORMED;
	const struct keel_v1_payload *pl = NULL;
	while ((pl = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_NOTIFY, pl)) != NULL) {
		struct keel_v1_notify n;
		if (keel_v1_notify_decode(pl, &n) < 0)
			continue;
		if (n.type <= KEEL_V1_N_ERROR_MAX) {
			keel_v1_p1_notify_failure(sa, p1, n.type);
			return 0;
		}
	}
	keel_v1sa_log(sa, KEEL_LOG_DEBUG, "ignoring an informational message in clear");
	return KEEL_ERR_STATE;
}

/*
 * An encrypted notify before phase 1 is done (Main Mode after message 4): an
 * error under keys that match ours ends phase 1; one that does not decrypt
 * says the gateway's keys differ (a wrong PSK), told at give-up time.
 */
static int recv_phase1_info(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	int rc = p1->keyed ? keel_v1_rx_open(sa, p1) : KEEL_ERR_STATE;
	if (rc == 0)
		rc = keel_v1_rx_hash(sa, p1, V1_HASH_1, NULL, 0, NULL, 0);
	if (rc < 0) {
		if (p1->keyed && p1->step == P1_MM5)
			sa->auth_suspect++;
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "dropping an informational message (%s)",
		              keel_strerror(rc));
		return rc;
	}
	const struct keel_v1_payload *pl = NULL;
	while ((pl = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_NOTIFY, pl)) != NULL) {
		struct keel_v1_notify n;
		if (keel_v1_notify_decode(pl, &n) == 0 && n.type <= KEEL_V1_N_ERROR_MAX) {
			keel_v1_p1_notify_failure(sa, p1, n.type);
			return 0;
		}
	}
	return KEEL_ERR_STATE;
}

static int recv_phase2(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	const struct keel_v1_hdr *h = &sa->rx.hdr;
	const struct keel_dgram *in = sa->dgram;
	int rc;

	if (!(h->flags & KEEL_V1_FLAG_ENC) || !p1->keyed || p1->step < P1_XAUTH)
		return KEEL_ERR_STATE;
	struct v1_xchg *x = keel_v1_xchg(sa, p1, h->msg_id, 0, false);
	if (x && same_bytes(x->last_rx, x->last_rx_len, in->data, (size_t)in->len)) {
		/* the gateway did not get our answer: the same answer again */
		if (x->last_tx) {
			keel_v1sa_log(sa, KEEL_LOG_DEBUG,
			              "the gateway repeated message %08" PRIx32
			              ", resending our answer",
			              h->msg_id);
			return keel_v1sa_send(sa, x->last_tx, x->last_tx_len);
		}
		return KEEL_ERR_STATE;
	}
	if (x && x->closed) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "dropping a replayed message %08" PRIx32,
		              h->msg_id);
		return KEEL_ERR_STATE;
	}
	rc = keel_v1_rx_open(sa, p1);
	if (rc < 0)
		return rc;
	switch (h->exchange) {
	case KEEL_V1_EXCH_INFO:
		return keel_v1_info(sa, p1);
	case KEEL_V1_EXCH_TRANSACTION:
		/* draft-dukes-ike-mode-cfg-02 §3.2: HASH = prf(SKEYID_a, M-ID | ATTR) both ways */
		if ((rc = keel_v1_rx_hash(sa, p1, V1_HASH_1, NULL, 0, NULL, 0)) < 0)
			return rc;
		keel_v1_rx_commit(sa, p1);
		sa->last_heard_ns = sa->now_ns;
		x = keel_v1_xchg(sa, p1, h->msg_id, h->exchange, true);
		if (!x)
			return KEEL_ERR_NOMEM;
		if (!keel_v1_dup(&x->last_rx, &x->last_rx_len, in->data, (size_t)in->len))
			return KEEL_ERR_NOMEM;
		return keel_v1_transaction(sa, p1, x);
	case KEEL_V1_EXCH_QUICK:
		if (sa->req_active && sa->req.kind == V1_REQ_QUICK && sa->req.msg_id == h->msg_id &&
		    sa->req.p1 == p1)
			return keel_v1_quick_process(sa, p1);
		return keel_v1_quick_respond(sa, p1, x);
	default:
		return KEEL_ERR_STATE;
	}
}

static int dispatch(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	const struct keel_v1_hdr *h = &sa->rx.hdr;
	const struct keel_dgram *in = sa->dgram;

	switch (h->exchange) {
	case KEEL_V1_EXCH_MAIN:
	case KEEL_V1_EXCH_AGGRESSIVE:
		if ((h->exchange == KEEL_V1_EXCH_AGGRESSIVE) != p1->aggressive)
			return KEEL_ERR_STATE;
		if (same_bytes(p1->last_rx, p1->last_rx_len, in->data, (size_t)in->len)) {
			if (!p1->last_tx)
				return KEEL_ERR_STATE;
			keel_v1sa_log(sa, KEEL_LOG_DEBUG,
			              "the gateway repeated its phase 1 message, resending ours");
			return keel_v1sa_send(sa, p1->last_tx, p1->last_tx_len);
		}
		return keel_v1_p1_process(sa, p1);
	case KEEL_V1_EXCH_INFO:
		if (!(h->flags & KEEL_V1_FLAG_ENC))
			return recv_cleartext_info(sa, p1);
		if (p1->step < P1_XAUTH)
			return recv_phase1_info(sa, p1);
		return recv_phase2(sa, p1);
	case KEEL_V1_EXCH_TRANSACTION:
	case KEEL_V1_EXCH_QUICK:
		return recv_phase2(sa, p1);
	default:
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "dropping a message of exchange type %u",
		              h->exchange);
		return KEEL_ERR_STATE;
	}
}

static int after_call(struct keel_v1sa *sa)
{
	run_pending(sa);
	if (sa->outq.nomem && !sa->finished) {
		sa->outq.nomem = false;
		keel_v1sa_fail(sa, KEEL_REASON_INTERNAL, "out of memory");
	}
	return 0;
}

int keel_v1sa_recv(struct keel_v1sa *sa, const struct keel_dgram *in, uint64_t now_ns)
{
	struct keel_dgram whole;
	int rc;

	if (!sa || !in || !sa->started || sa->finished)
		return KEEL_ERR_STATE;
	keel_v1sa_out_release(sa);
	if (now_ns > sa->now_ns)
		sa->now_ns = now_ns;
	if (!in->data || in->len < KEEL_V1_HDR_LEN || (size_t)in->len > V1_MSG_MAX) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "dropping a datagram of %td bytes",
		              in ? in->len : 0);
		return KEEL_ERR_MALFORMED;
	}
	rc = keel_v1_msg_decode(in->data, (size_t)in->len, &sa->rx);
	if (rc == 0)
		rc = keel_v1_hdr_verify(&sa->rx.hdr);
	if (rc < 0) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "dropping a malformed datagram of %td bytes (%s)",
		              in->len, keel_strerror(rc));
		return KEEL_ERR_MALFORMED;
	}
	struct v1_p1 *p1 = find_p1(sa, &sa->rx.hdr);
	if (!p1) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "dropping a message for an unknown ISAKMP SA");
		return KEEL_ERR_STATE;
	}
	if (!(sa->rx.hdr.flags & KEEL_V1_FLAG_ENC) && sa->rx.hdr.next == KEEL_V1_PL_FRAG) {
		size_t total = 0;
		rc = frag_collect(sa, &total);
		if (rc <= 0) {
			after_call(sa);
			return rc;
		}
		whole = *in;
		whole.data = sa->frag_buf;
		whole.len = (ptrdiff_t)total;
		in = &whole;
		rc = keel_v1_msg_decode(in->data, (size_t)in->len, &sa->rx);
		if (rc == 0)
			rc = keel_v1_hdr_verify(&sa->rx.hdr);
		if (rc < 0 || find_p1(sa, &sa->rx.hdr) != p1 || sa->rx.hdr.next == KEEL_V1_PL_FRAG)
			return KEEL_ERR_MALFORMED;
	}
	sa->dgram = in;
	rc = dispatch(sa, p1);
	sa->dgram = NULL;
	sa->rx_enc = false;
	after_call(sa);
	return rc;
}

/* ---- time ---- */

static void schedule(struct keel_v1sa *sa)
{
	uint64_t now = sa->now_ns;
	struct v1_p1 *p1s[2] = {sa->p1, sa->p1_new};
	for (size_t i = 0; i < 2; i++) {
		struct v1_p1 *p1 = p1s[i];
		if (!p1 || !p1->wait_ns || now < p1->wait_ns)
			continue;
		const char *what = p1->step == P1_XAUTH ? "XAUTH" : "Mode Config";
		if (!sa->established)
			keel_v1sa_fail_delete(sa, KEEL_REASON_TIMEOUT,
			                      "the gateway did not go on with %s", what);
		else
			keel_v1sa_fail_delete(
			    sa, KEEL_REASON_DEAD_PEER,
			    "the gateway did not go on with %s of the new phase 1", what);
		return;
	}
	if (!sa->established || sa->stopping)
		return;
	if (sa->qm_peer.active && sa->qm_peer.wait_ns && now >= sa->qm_peer.wait_ns)
		keel_v1_quick_peer_drop(sa, "no message 3 in time");
	for (size_t i = 0; i < V1_MAX_CHILDREN; i++) {
		struct v1_child *c = &sa->child[i];
		if (c->state == V1_CHILD_FREE)
			continue;
		if (c->expire_ns && now >= c->expire_ns) {
			keel_v1sa_log(sa, KEEL_LOG_WARN, "CHILD SA %08" PRIx32 "_i expired",
			              c->spi_in);
			uint32_t spi = c->spi_in;
			if (p1_authenticated(sa->p1))
				keel_v1_info_delete_esp(sa, sa->p1, &spi, 1);
			keel_v1_child_remove(sa, c, KEEL_REASON_EXPIRED);
			if (keel_v1_child_count(sa) == 0) {
				keel_v1sa_fail_delete(
				    sa, KEEL_REASON_EXPIRED,
				    "the tunnel expired before it could be rekeyed");
				return;
			}
			continue;
		}
		if (c->state == V1_CHILD_ACTIVE && c->rekey_ns && now >= c->rekey_ns) {
			c->rekey_ns = 0;
			keel_v1sa_task_queue(sa, V1_TASK_QUICK, c->tunnel, c->id);
		}
	}
	struct v1_p1 *p1 = sa->p1;
	if (!p1)
		return;
	if (p1->expire_ns && now >= p1->expire_ns) {
		keel_v1sa_fail_delete(sa, KEEL_REASON_EXPIRED,
		                      "the ISAKMP SA expired before a new phase 1 replaced it");
		return;
	}
	if (p1->rekey_ns && now >= p1->rekey_ns) {
		p1->rekey_ns = 0;
		keel_v1sa_task_queue(sa, V1_TASK_P1_REKEY, 0, 0);
	}
	/* RFC 3706 §5.5: a liveness check only when both announced DPD */
	if (sa->cfg.dpd_interval_ms && p1->peer_dpd && !sa->req_active && sa->n_pending == 0 &&
	    !sa->p1_new &&
	    now >=
	        keel_v1_add_ns(sa->last_heard_ns, (uint64_t)sa->cfg.dpd_interval_ms * V1_NS_PER_MS))
		keel_v1sa_task_queue(sa, V1_TASK_DPD, 0, 0);
}

int keel_v1sa_tick(struct keel_v1sa *sa, uint64_t now_ns)
{
	if (!sa || !sa->started || sa->finished)
		return KEEL_ERR_STATE;
	keel_v1sa_out_release(sa);
	if (now_ns > sa->now_ns)
		sa->now_ns = now_ns;
	if (sa->req_active && sa->now_ns >= sa->req.next_ns)
		retransmit(sa);
	if (!sa->finished)
		schedule(sa);
	return after_call(sa);
}

static uint64_t min_ns(uint64_t a, uint64_t b)
{
	return b != 0 && b < a ? b : a;
}

uint64_t keel_v1sa_deadline(const struct keel_v1sa *sa)
{
	uint64_t d = UINT64_MAX;
	if (!sa || !sa->started || sa->finished)
		return UINT64_MAX;
	if (sa->req_active)
		d = min_ns(d, sa->req.next_ns);
	if (sa->p1)
		d = min_ns(d, sa->p1->wait_ns);
	if (sa->p1_new)
		d = min_ns(d, sa->p1_new->wait_ns);
	if (!sa->established || sa->stopping)
		return d;
	if (sa->qm_peer.active)
		d = min_ns(d, sa->qm_peer.wait_ns);
	for (size_t i = 0; i < V1_MAX_CHILDREN; i++) {
		const struct v1_child *c = &sa->child[i];
		if (c->state == V1_CHILD_FREE)
			continue;
		d = min_ns(d, c->expire_ns);
		if (c->state == V1_CHILD_ACTIVE)
			d = min_ns(d, c->rekey_ns);
	}
	if (sa->p1) {
		d = min_ns(d, sa->p1->expire_ns);
		d = min_ns(d, sa->p1->rekey_ns);
		if (sa->cfg.dpd_interval_ms && sa->p1->peer_dpd && !sa->req_active &&
		    sa->n_pending == 0 && !sa->p1_new)
			d = min_ns(
			    d, keel_v1_add_ns(sa->last_heard_ns,
			                      (uint64_t)sa->cfg.dpd_interval_ms * V1_NS_PER_MS));
	}
	return d;
}

/* ---- commands ---- */

int keel_v1sa_start(struct keel_v1sa *sa, uint64_t now_ns)
{
	if (!sa || sa->started || sa->finished)
		return KEEL_ERR_STATE;
	keel_v1sa_out_release(sa);
	sa->now_ns = now_ns;
	sa->started = true;
	sa->last_heard_ns = now_ns;
	char addr[64];
	keel_v1_addr_text(sa->cfg.remote.family, sa->cfg.remote.bytes, addr, sizeof(addr));
	keel_v1sa_set_state(sa, KEEL_STATE_CONNECTING, KEEL_REASON_NONE, "connecting to %s", addr);
	if (sa->opt.mode == KEEL_V1_AGGRESSIVE && sa->auth == V1_AUTH_PSK) {
		char id[KEEL_ID_MAX_LEN * 4 + 1];
		keel_id_to_text(&sa->cfg.local_id, id, sizeof(id));
		keel_v1sa_log(
		    sa, KEEL_LOG_WARN,
		    "IKEv1 Aggressive Mode with a pre-shared key: our identity \"%s\" goes "
		    "in clear and anyone who sees the exchange can try to guess the "
		    "pre-shared key offline; use Main Mode or IKEv2 if the gateway allows",
		    id);
	}
	int rc = keel_v1_p1_start(sa, true);
	if (rc == KEEL_ERR_NOMEM)
		return rc;
	if (rc < 0 && !sa->finished)
		keel_v1sa_fail(sa, KEEL_REASON_INTERNAL, "cannot start phase 1: %s",
		               keel_strerror(rc));
	return after_call(sa);
}

int keel_v1sa_stop(struct keel_v1sa *sa, uint64_t now_ns)
{
	if (!sa || sa->finished || sa->stopping)
		return KEEL_ERR_STATE;
	keel_v1sa_out_release(sa);
	if (now_ns > sa->now_ns)
		sa->now_ns = now_ns;
	if (!sa->started || !sa->established) {
		if (sa->started)
			send_deletes(sa);
		keel_v1sa_close(sa, KEEL_REASON_USER, "disconnected");
		return 0;
	}
	sa->stopping = true;
	keel_v1sa_req_done(sa);
	sa->n_pending = 0;
	keel_v1sa_set_state(sa, KEEL_STATE_CLOSING, KEEL_REASON_USER, "disconnecting");
	/* RFC 2408 §3.15: informational exchanges have no answer; nothing to wait for */
	send_deletes(sa);
	keel_v1sa_close(sa, KEEL_REASON_USER, "disconnected");
	return 0;
}

int keel_v1sa_rekey(struct keel_v1sa *sa, enum keel_rekey what, uint32_t child_id, uint64_t now_ns)
{
	if (!sa || sa->finished || !sa->established || sa->stopping)
		return KEEL_ERR_STATE;
	keel_v1sa_out_release(sa);
	if (what != KEEL_REKEY_IKE && what != KEEL_REKEY_CHILD)
		return KEEL_ERR_INVAL;
	if (now_ns > sa->now_ns)
		sa->now_ns = now_ns;
	switch (what) {
	case KEEL_REKEY_IKE:
		keel_v1sa_task_queue(sa, V1_TASK_P1_REKEY, 0, 0);
		break;
	case KEEL_REKEY_CHILD:
		if (child_id != 0) {
			struct v1_child *c = keel_v1_child_find(sa, child_id);
			if (!c || c->state != V1_CHILD_ACTIVE)
				return KEEL_ERR_INVAL;
			keel_v1sa_task_queue(sa, V1_TASK_QUICK, c->tunnel, c->id);
		} else {
			for (size_t i = 0; i < V1_MAX_CHILDREN; i++)
				if (sa->child[i].state == V1_CHILD_ACTIVE)
					keel_v1sa_task_queue(sa, V1_TASK_QUICK, sa->child[i].tunnel,
					                     sa->child[i].id);
		}
		break;
	}
	return after_call(sa);
}
