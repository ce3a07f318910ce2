/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The IKE SA object: the public API, message-ID windows (we keep one request
 * outstanding, RFC 7296 §2.3), retransmission (§2.1), dispatch of what
 * arrives, timers (liveness, rekeying, lifetimes) and the end of a
 * connection.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "eap/eap.h"
#include "ikev1/ikev1.h"
#include "ikev2/addr.h"
#include "ikev2/auth.h"
#include "ikev2/sa.h"
#include "ikev2/ts.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull

int keel_random(struct keel_sa *sa, void *buf, size_t len)
{
	return keel_env_random(sa->env, buf, len);
}

/* ---- construction ---- */

/* The checks that need no parsing; why (may be NULL) says what is wrong. */
#define AH_ENCAP_WHY                                                                               \
	"AH cannot be encapsulated in UDP (RFC 4302): it needs the kernel data path and no NAT; "  \
	"use ESP"

static int check_config(const struct keel_config *cfg, char *why, size_t cap)
{
	if (why && cap > 0)
		why[0] = '\0';
	if (!cfg)
		return keel_refuse(KEEL_ERR_INVAL, why, cap, "no configuration");
	if (cfg->ike_version != 2)
		return keel_refuse(KEEL_ERR_INVAL, why, cap, "unknown IKE version %u",
		                   cfg->ike_version);
	if (cfg->auth != KEEL_AUTH_PSK && cfg->auth != KEEL_AUTH_CERT && cfg->auth != KEEL_AUTH_EAP)
		return keel_refuse(KEEL_ERR_INVAL, why, cap, "unknown authentication method");
	if (cfg->auth == KEEL_AUTH_PSK && (!cfg->psk || keel_secret_len(cfg->psk) <= 0))
		return keel_refuse(KEEL_ERR_INVAL, why, cap,
		                   "PSK authentication needs a pre-shared key");
	if (keel_af_addr_len(cfg->local.family) == 0 || cfg->local.family != cfg->remote.family)
		return keel_refuse(
		    KEEL_ERR_INVAL, why, cap,
		    "the local and gateway addresses are missing or of different families");
	if (cfg->local.port == 0 || cfg->remote.port == 0 || cfg->local_natt_port == 0 ||
	    cfg->remote_natt_port == 0)
		return keel_refuse(KEEL_ERR_INVAL, why, cap, "a port is 0");
	if (cfg->n_ike_proposals > KEEL_MAX_PROPOSALS ||
	    cfg->n_esp_proposals > KEEL_MAX_PROPOSALS || cfg->n_ah_proposals > KEEL_MAX_PROPOSALS ||
	    cfg->n_local_ts > KEEL_MAX_TS || cfg->n_remote_ts > KEEL_MAX_TS)
		return keel_refuse(KEEL_ERR_INVAL, why, cap,
		                   "too many proposals or traffic selectors");
	/* RFC 4302 §3.3.3: AH covers the outer IP addresses; there is no AH in UDP */
	if (cfg->n_ah_proposals > 0 && cfg->force_encap)
		return keel_refuse(KEEL_ERR_INVAL, why, cap, AH_ENCAP_WHY);
	if (cfg->local_id.len > KEEL_ID_MAX_LEN || cfg->remote_id.len > KEEL_ID_MAX_LEN)
		return keel_refuse(KEEL_ERR_INVAL, why, cap, "an identity is too long");
	if (cfg->retransmit_timeout_ms == 0)
		return keel_refuse(KEEL_ERR_INVAL, why, cap, "the retransmission timeout is 0");
	if (cfg->fragmentation && cfg->fragment_size < KEEL_FRAGMENT_SIZE_MIN)
		return keel_refuse(KEEL_ERR_INVAL, why, cap,
		                   "the fragment size must be at least %d bytes",
		                   KEEL_FRAGMENT_SIZE_MIN);
	for (size_t i = 0; i < cfg->n_local_ts; i++)
		if (keel_af_addr_len(cfg->local_ts[i].family) == 0)
			return keel_refuse(KEEL_ERR_INVAL, why, cap,
			                   "a local traffic selector is empty");
	for (size_t i = 0; i < cfg->n_remote_ts; i++)
		if (keel_af_addr_len(cfg->remote_ts[i].family) == 0)
			return keel_refuse(KEEL_ERR_INVAL, why, cap,
			                   "a remote traffic selector is empty");
	return 0;
}

/* With certificates and no local_id, we are our certificate's subject DN. */
static int default_local_id(struct keel_config *c, const struct keel_creds *cr, char *why,
                            size_t cap)
{
	if (c->local_id.type != KEEL_ID_NONE)
		return c->local_id.len > 0
		           ? 0
		           : keel_refuse(KEEL_ERR_INVAL, why, cap, "our identity is empty");
	if (c->auth == KEEL_AUTH_CERT) {
		const uint8_t *dn;
		ptrdiff_t len;
		if (keel_certs_subject_der(cr->chain, 0, &dn, &len) < 0 || len <= 0 ||
		    len > KEEL_ID_MAX_LEN)
			return keel_refuse(
			    KEEL_ERR_INVAL, why, cap,
			    "our certificate's subject cannot be our identity; set local-id");
		c->local_id.type = KEEL_ID_DER_ASN1_DN;
		c->local_id.len = (uint16_t)len;
		memcpy(c->local_id.data, dn, (size_t)len);
		return 0;
	}
	c->local_id.type = c->local.family == KEEL_AF_INET ? KEEL_ID_IPV4_ADDR : KEEL_ID_IPV6_ADDR;
	c->local_id.len = (uint16_t)keel_af_addr_len(c->local.family);
	memcpy(c->local_id.data, c->local.bytes, c->local_id.len);
	return 0;
}

static int v1_new(const struct keel_config *cfg, const struct keel_env *env, struct keel_sa **out,
                  char *why, size_t cap);

int keel_config_check(const struct keel_config *cfg, char *why, size_t cap)
{
	struct keel_creds creds;
	struct keel_config c;
	if (cfg && cfg->ike_version == 1) {
		if (why && cap > 0)
			why[0] = '\0';
		return v1_new(cfg, NULL, NULL, why, cap);
	}
	int rc = check_config(cfg, why, cap);
	if (rc < 0)
		return rc;
	c = *cfg;
	for (size_t i = 0; i < c.n_ike_proposals; i++)
		if ((rc = keel_proposal_check_supported(&c.ike_proposals[i], KEEL_PROPOSAL_IKE)) <
		    0)
			return keel_refuse(rc, why, cap, "IKE proposal %zu is not supported",
			                   i + 1);
	for (size_t i = 0; i < c.n_esp_proposals; i++)
		if ((rc = keel_proposal_check_supported(&c.esp_proposals[i], KEEL_PROPOSAL_ESP)) <
		    0)
			return keel_refuse(rc, why, cap, "ESP proposal %zu is not supported",
			                   i + 1);
	for (size_t i = 0; i < c.n_ah_proposals; i++)
		if ((rc = keel_proposal_check_supported(&c.ah_proposals[i], KEEL_PROPOSAL_AH)) < 0)
			return keel_refuse(rc, why, cap, "AH proposal %zu is not supported", i + 1);
	rc = keel_creds_load(&c, &creds, why, cap);
	if (rc < 0)
		return rc;
	rc = default_local_id(&c, &creds, why, cap);
	keel_creds_clear(&creds);
	OPENSSL_cleanse(&c, sizeof(c));
	return rc;
}

/* The caller's pointers are not kept: what they point to is copied or parsed. */
static void forget_pointers(struct keel_config *c)
{
	c->psk = NULL;
	c->cert = NULL;
	c->cert_len = 0;
	c->key = NULL;
	c->key_passphrase = NULL;
	c->ca = NULL;
	c->ca_len = 0;
	c->system_ca = NULL;
	c->system_ca_len = 0;
	c->eap_identity = NULL;
	c->eap_password = NULL;
	c->xauth_user = NULL;
	c->xauth_password = NULL;
}

/* struct keel_config's IKEv1 fields as the IKEv1 engine takes them. */
static int v1_options(const struct keel_config *cfg, struct keel_v1_options *o)
{
	keel_v1_options_init(o);
	switch (cfg->ikev1_mode) {
	case KEEL_IKEV1_MAIN:
		o->mode = KEEL_V1_MAIN;
		break;
	case KEEL_IKEV1_AGGRESSIVE:
		o->mode = KEEL_V1_AGGRESSIVE;
		break;
	}
	if (cfg->ikev1_mode != KEEL_IKEV1_MAIN && cfg->ikev1_mode != KEEL_IKEV1_AGGRESSIVE)
		return KEEL_ERR_INVAL;
	switch (cfg->ikev1_modecfg) {
	case KEEL_IKEV1_MODECFG_PULL:
		o->modecfg = KEEL_V1_MODECFG_PULL;
		break;
	case KEEL_IKEV1_MODECFG_PUSH:
		o->modecfg = KEEL_V1_MODECFG_PUSH;
		break;
	case KEEL_IKEV1_MODECFG_OFF:
		o->modecfg = KEEL_V1_MODECFG_OFF;
		break;
	}
	if (cfg->ikev1_modecfg != KEEL_IKEV1_MODECFG_PULL &&
	    cfg->ikev1_modecfg != KEEL_IKEV1_MODECFG_PUSH &&
	    cfg->ikev1_modecfg != KEEL_IKEV1_MODECFG_OFF)
		return KEEL_ERR_INVAL;
	o->xauth = cfg->xauth;
	o->xauth_user = cfg->xauth_user;
	o->xauth_password = cfg->xauth_password;
	o->pfs_group = cfg->ikev1_pfs_group;
	o->fragmentation = cfg->fragmentation;
	return 0;
}

static int v1_no_random(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return KEEL_ERR_CRYPTO;
}

/* keel_sa_new() and keel_config_check() for IKEv1; env NULL: check only. */
static int v1_new(const struct keel_config *cfg, const struct keel_env *env, struct keel_sa **out,
                  char *why, size_t cap)
{
	static const struct keel_env check_env = {.random = v1_no_random};
	struct keel_v1_options o;
	struct keel_v1sa *v1 = NULL;
	struct keel_sa *sa = NULL;
	int rc = v1_options(cfg, &o);
	if (rc < 0) {
		keel_refuse(rc, why, cap, "unknown IKEv1 mode or Mode Config setting");
		goto out;
	}
	if (cfg->n_ah_proposals > 0 && cfg->force_encap) {
		rc = keel_refuse(KEEL_ERR_INVAL, why, cap, AH_ENCAP_WHY);
		goto out;
	}
	rc = keel_v1sa_new(cfg, &o, env ? env : &check_env, &v1);
	if (rc < 0 && (cfg->auth == KEEL_AUTH_CERT || cfg->ikev1_hybrid)) {
		/* the credentials' own sentence, when they are what failed */
		struct keel_creds cr;
		memset(&cr, 0, sizeof(cr));
		int crc = cfg->ikev1_hybrid ? keel_creds_load_trust(cfg, &cr, why, cap)
		                            : keel_creds_load(cfg, &cr, why, cap);
		keel_creds_clear(&cr);
		if (crc < 0)
			goto out;
	}
	if (rc < 0) {
		if (rc == KEEL_ERR_UNSUPPORTED)
			keel_refuse(rc, why, cap,
			            "IKEv1 takes PSK, RSA or ECDSA certificate (auth = cert), RSA "
			            "certificate (xauth-cert) and hybrid authentication and "
			            "proposals with an IKEv1 form only");
		else if (rc == KEEL_ERR_INVAL)
			keel_refuse(
			    rc, why, cap,
			    "the IKEv1 settings are incomplete (addresses, PSK, XAUTH user name "
			    "and password, proposals or traffic selectors)");
		else
			keel_refuse(rc, why, cap, "cannot make the IKEv1 SA: %s",
			            keel_strerror(rc));
		goto out;
	}
	if (!env) {
		rc = 0;
		goto out;
	}
	sa = calloc(1, sizeof(*sa));
	if (!sa) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	sa->v1 = v1;
	v1 = NULL;
	*out = sa;
	rc = 0;
out:
	keel_v1sa_free(v1);
	OPENSSL_cleanse(&o, sizeof(o));
	return rc;
}

int keel_sa_new(const struct keel_config *cfg, const struct keel_env *env, struct keel_sa **out)
{
	struct keel_sa *sa = NULL;
	if (!env || !env->random || !out)
		return KEEL_ERR_INVAL;
	if (cfg && cfg->ike_version == 1)
		return v1_new(cfg, env, out, NULL, 0);
	int rc = check_config(cfg, NULL, 0);
	if (rc < 0)
		return rc;
	sa = calloc(1, sizeof(*sa));
	if (!sa)
		return KEEL_ERR_NOMEM;
	sa->cfg = *cfg;
	sa->env = env;
	if (cfg->auth == KEEL_AUTH_PSK) {
		sa->psk = keel_secret_dup(cfg->psk);
		if (!sa->psk) {
			rc = KEEL_ERR_NOMEM;
			goto out;
		}
	}
	rc = keel_creds_load(&sa->cfg, &sa->creds, NULL, 0);
	forget_pointers(&sa->cfg);
	if (rc < 0)
		goto out;
	struct keel_config *c = &sa->cfg;
	if (c->n_ike_proposals == 0)
		c->n_ike_proposals =
		    keel_proposal_defaults(KEEL_PROPOSAL_IKE, c->ike_proposals, KEEL_MAX_PROPOSALS);
	if (c->n_esp_proposals == 0)
		c->n_esp_proposals =
		    keel_proposal_defaults(KEEL_PROPOSAL_ESP, c->esp_proposals, KEEL_MAX_PROPOSALS);
	for (size_t i = 0; i < c->n_ike_proposals; i++)
		if ((rc = keel_proposal_check_supported(&c->ike_proposals[i], KEEL_PROPOSAL_IKE)) <
		    0)
			goto out;
	for (size_t i = 0; i < c->n_esp_proposals; i++)
		if ((rc = keel_proposal_check_supported(&c->esp_proposals[i], KEEL_PROPOSAL_ESP)) <
		    0)
			goto out;
	for (size_t i = 0; i < c->n_ah_proposals; i++)
		if ((rc = keel_proposal_check_supported(&c->ah_proposals[i], KEEL_PROPOSAL_AH)) < 0)
			goto out;
	sa->child_proto = c->n_ah_proposals > 0 ? KEEL_V2_PROTO_AH : KEEL_V2_PROTO_ESP;
	sa->child_props = c->n_ah_proposals > 0 ? c->ah_proposals : c->esp_proposals;
	sa->n_child_props = c->n_ah_proposals > 0 ? c->n_ah_proposals : c->n_esp_proposals;
	if (c->n_local_ts == 0) {
		keel_ts_all(KEEL_AF_INET, &c->local_ts[c->n_local_ts++]);
		if (c->request_ip6)
			keel_ts_all(KEEL_AF_INET6, &c->local_ts[c->n_local_ts++]);
	}
	if (c->n_remote_ts == 0) {
		keel_ts_all(KEEL_AF_INET, &c->remote_ts[c->n_remote_ts++]);
		keel_ts_all(KEEL_AF_INET6, &c->remote_ts[c->n_remote_ts++]);
	}
	if ((rc = default_local_id(c, &sa->creds, NULL, 0)) < 0)
		goto out;
	sa->state = KEEL_STATE_IDLE;
	sa->next_child_id = 1;
	sa->next_reqid = 1;
	/* a session that starts on the NAT-T port already needs the marker */
	sa->natt = c->local.port == c->local_natt_port;
	*out = sa;
	sa = NULL;
	rc = 0;
out:
	keel_sa_free(sa);
	return rc;
}

void keel_init_clear(struct keel_sa *sa)
{
	struct init_state *in = &sa->init;
	keel_dh_free(in->dh);
	free(in->msg1);
	free(in->msg2);
	free(in->certreq);
	OPENSSL_cleanse(in, sizeof(*in));
	memset(in, 0, sizeof(*in));
}

static void req_clear(struct request *r)
{
	free(r->msg);
	keel_dh_free(r->dh);
	OPENSSL_cleanse(r, sizeof(*r));
	memset(r, 0, sizeof(*r));
}

void keel_sa_free(struct keel_sa *sa)
{
	if (!sa)
		return;
	if (sa->v1) {
		keel_v1sa_free(sa->v1);
		free(sa);
		return;
	}
	keel_init_clear(sa);
	req_clear(&sa->req);
	for (size_t i = 0; i < KEEL_MAX_IKE_SAS; i++)
		keel_ike_free(sa, sa->ikes[i]);
	keel_secret_free(sa->psk);
	keel_creds_clear(&sa->creds);
	keel_eap_free(sa->auth.eap);
	keel_frag_clear(sa, true);
	keel_out_clear(sa);
	OPENSSL_cleanse(sa, sizeof(*sa));
	free(sa);
}

struct ike_sa *keel_ike_new(struct keel_sa *sa)
{
	for (size_t i = 0; i < KEEL_MAX_IKE_SAS; i++) {
		if (sa->ikes[i])
			continue;
		struct ike_sa *ike = calloc(1, sizeof(*ike));
		if (!ike) {
			sa->outq.nomem = true;
			return NULL;
		}
		sa->ikes[i] = ike;
		return ike;
	}
	return NULL;
}

void keel_ike_free(struct keel_sa *sa, struct ike_sa *ike)
{
	if (!ike)
		return;
	for (size_t i = 0; i < KEEL_MAX_IKE_SAS; i++)
		if (sa->ikes[i] == ike)
			sa->ikes[i] = NULL;
	if (sa->ike == ike)
		sa->ike = NULL;
	if (sa->ike_coll.peer_new == ike)
		sa->ike_coll.peer_new = NULL;
	if (sa->req_active && (sa->req.ike == ike || sa->req.target == ike))
		keel_req_done(sa);
	for (size_t i = 0; i < sa->n_pending;) {
		if (sa->pending[i].ike == ike) {
			memmove(&sa->pending[i], &sa->pending[i + 1],
			        (sa->n_pending - i - 1) * sizeof(sa->pending[0]));
			sa->n_pending--;
		} else {
			i++;
		}
	}
	keel_ike_keys_clear(&ike->ks);
	free(ike->resp);
	OPENSSL_cleanse(ike, sizeof(*ike));
	free(ike);
}

/* ---- timers ---- */

static uint64_t add_ns(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX - 1 : a + b;
}

uint64_t keel_rekey_time_ns(struct keel_sa *sa, const struct keel_lifetime *lt)
{
	if (lt->life_s == 0)
		return 0;
	uint64_t soft_s = lt->life_s > lt->margin_s ? lt->life_s - lt->margin_s : lt->life_s / 2;
	uint64_t jitter_ms = 0;
	if (lt->jitter_s > 0) {
		uint32_t r = 0;
		if (keel_random(sa, &r, sizeof(r)) == 0)
			jitter_ms = r % ((uint64_t)lt->jitter_s * 1000 + 1);
	}
	uint64_t soft_ms = soft_s * 1000;
	soft_ms = soft_ms > jitter_ms + 1000 ? soft_ms - jitter_ms : 1000;
	return add_ns(sa->now_ns, soft_ms * NS_PER_MS);
}

uint64_t keel_expire_time_ns(struct keel_sa *sa, const struct keel_lifetime *lt)
{
	if (lt->life_s == 0)
		return 0;
	return add_ns(sa->now_ns, (uint64_t)lt->life_s * NS_PER_S);
}

/* ---- the end of a connection ---- */

static void finish(struct keel_sa *sa, enum keel_state state, enum keel_reason reason,
                   const char *text)
{
	if (sa->finished)
		return;
	for (size_t i = 0; i < KEEL_MAX_CHILDREN; i++)
		if (sa->child[i].state != CHILD_FREE)
			keel_child_remove(sa, &sa->child[i],
			                  reason == KEEL_REASON_NONE ? KEEL_REASON_USER : reason);
	if (sa->req_active)
		keel_req_done(sa);
	sa->n_pending = 0;
	sa->retry_ns = 0;
	keel_init_clear(sa);
	for (size_t i = 0; i < KEEL_MAX_IKE_SAS; i++)
		keel_ike_free(sa, sa->ikes[i]);
	keel_secret_free(sa->psk);
	sa->psk = NULL;
	keel_creds_clear(&sa->creds);
	keel_eap_free(sa->auth.eap);
	sa->auth.eap = NULL;
	keel_frag_clear(sa, true);
	keel_log(sa, state == KEEL_STATE_FAILED ? KEEL_LOG_ERROR : KEEL_LOG_INFO, "%s", text);
	keel_sa_set_state(sa, state, reason, "%s", text);
	sa->finished = true;
}

void keel_sa_fail(struct keel_sa *sa, enum keel_reason reason, const char *fmt, ...)
{
	char text[KEEL_LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	finish(sa, KEEL_STATE_FAILED, reason, text);
}

void keel_sa_close(struct keel_sa *sa, enum keel_reason reason, const char *fmt, ...)
{
	char text[KEEL_LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	finish(sa, KEEL_STATE_CLOSED, reason, text);
}

/* One DELETE of the IKE SA, sent once and not waited for. */
static void send_delete_once(struct keel_sa *sa, struct ike_sa *ike)
{
	struct msg_wr mw;
	uint8_t *msg;
	size_t len;
	if (!ike || !ike->keyed)
		return;
	keel_msg_begin(sa, &mw, ike, KEEL_V2_EXCHANGE_INFORMATIONAL, false, ike->next_req_id, true);
	keel_add_delete(&mw, KEEL_V2_PROTO_IKE, NULL, 0);
	if (keel_msg_end(sa, &mw, &msg, &len) < 0)
		return;
	ike->next_req_id++;
	keel_dgram_out(sa, msg, len);
	free(msg);
}

void keel_sa_fail_delete(struct keel_sa *sa, enum keel_reason reason, const char *fmt, ...)
{
	char text[KEEL_LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!sa->finished && sa->ike && sa->ike->keyed) {
		/* the message ID after an abandoned request: the gateway may never have seen
		 * it, but then it drops this one too, which costs nothing */
		if (sa->req_active && sa->req.ike == sa->ike &&
		    sa->ike->next_req_id <= sa->req.msg_id)
			sa->ike->next_req_id = sa->req.msg_id + 1;
		send_delete_once(sa, sa->ike);
	}
	finish(sa, KEEL_STATE_FAILED, reason, text);
}

/* ---- requests: window size 1, retransmission ---- */

void keel_req_done(struct keel_sa *sa)
{
	req_clear(&sa->req);
	sa->req_active = false;
	/* fragments of its response are of no use any more */
	if (sa->frag.active && sa->frag.response)
		keel_frag_clear(sa, false);
}

int keel_req_send(struct keel_sa *sa, uint8_t *msg, size_t len)
{
	struct request *r = &sa->req;
	free(r->msg);
	r->msg = msg;
	r->msg_len = len;
	r->sent = 1;
	r->wait_ms = sa->cfg.retransmit_timeout_ms;
	r->next_ns = add_ns(sa->now_ns, r->wait_ms * NS_PER_MS);
	sa->req_active = true;
	keel_log(sa, KEEL_LOG_DEBUG, "sending %s request, message ID %" PRIu32 " (%zu bytes)",
	         keel_v2_exchange_name(r->exchange), r->msg_id, len);
	/* RFC 7383 §2.6.1: retransmissions repeat every fragment (r->msg holds them all) */
	return keel_dgram_out(sa, msg, len);
}

void keel_task_queue(struct keel_sa *sa, enum task_kind kind, uint32_t child_id, struct ike_sa *ike)
{
	for (size_t i = 0; i < sa->n_pending; i++)
		if (sa->pending[i].kind == kind && sa->pending[i].child_id == child_id &&
		    sa->pending[i].ike == ike)
			return;
	if (sa->req_active && sa->req.kind == kind && sa->req.child_id == child_id &&
	    (kind != TASK_IKE_DELETE || sa->req.target == ike))
		return;
	if (sa->n_pending >= KEEL_MAX_PENDING) {
		keel_log(sa, KEEL_LOG_WARN, "too many queued exchanges, dropping one");
		return;
	}
	sa->pending[sa->n_pending++] =
	    (struct pending){.kind = kind, .child_id = child_id, .ike = ike};
}

static void run_pending(struct keel_sa *sa)
{
	while (!sa->finished && !sa->req_active && sa->n_pending > 0 && sa->ike &&
	       sa->established) {
		struct pending p = sa->pending[0];
		memmove(&sa->pending[0], &sa->pending[1], (sa->n_pending - 1) * sizeof(p));
		sa->n_pending--;
		int rc = 0;
		switch (p.kind) {
		case TASK_CHILD_REKEY:
			rc = keel_task_child_rekey_start(sa, p.child_id);
			break;
		case TASK_IKE_REKEY:
			rc = keel_task_ike_rekey_start(sa);
			break;
		case TASK_DPD:
			rc = keel_task_dpd_start(sa);
			break;
		case TASK_CHILD_DELETE:
		case TASK_IKE_DELETE:
			rc = keel_task_delete_start(sa, p.kind, p.child_id, p.ike);
			break;
		case TASK_NONE:
		case TASK_IKE_INIT:
		case TASK_IKE_AUTH:
			break;
		}
		if (rc < 0 && !sa->finished)
			keel_sa_fail(sa, KEEL_REASON_INTERNAL,
			             "internal error starting an exchange: %s", keel_strerror(rc));
	}
}

static void give_up(struct keel_sa *sa)
{
	struct request *r = &sa->req;
	unsigned tries = r->sent;
	switch (r->kind) {
	case TASK_IKE_INIT:
	case TASK_IKE_AUTH:
		keel_sa_fail(sa, KEEL_REASON_TIMEOUT,
		             "the gateway did not answer after %u tries (%s)", tries,
		             keel_v2_exchange_name(r->exchange));
		return;
	case TASK_DPD:
		keel_sa_fail(sa, KEEL_REASON_DEAD_PEER,
		             "the gateway stopped answering (dead peer)");
		return;
	case TASK_IKE_DELETE:
		if (sa->stopping) {
			keel_sa_close(sa, KEEL_REASON_USER,
			              "disconnected (the gateway did not confirm)");
			return;
		}
		if (r->target && r->target != sa->ike) {
			/* the replaced IKE SA: forget it, the new one carries on */
			struct ike_sa *old = r->target;
			keel_req_done(sa);
			keel_ike_free(sa, old);
			return;
		}
		keel_sa_fail(sa, KEEL_REASON_DEAD_PEER,
		             "the gateway stopped answering (dead peer)");
		return;
	case TASK_CHILD_REKEY:
	case TASK_IKE_REKEY:
	case TASK_CHILD_DELETE:
	case TASK_NONE:
		keel_sa_fail(sa, KEEL_REASON_DEAD_PEER,
		             "the gateway stopped answering (dead peer, no answer to %s)",
		             keel_v2_exchange_name(r->exchange));
		return;
	}
}

static void retransmit(struct keel_sa *sa)
{
	struct request *r = &sa->req;
	bool hard = r->hard_limit_ns && sa->now_ns >= r->hard_limit_ns;
	if (hard || r->sent > sa->cfg.retransmit_tries) {
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
	r->next_ns = add_ns(sa->now_ns, w * NS_PER_MS);
	keel_log(sa, KEEL_LOG_DEBUG, "retransmitting %s request %" PRIu32 " (try %u)",
	         keel_v2_exchange_name(r->exchange), r->msg_id, r->sent);
	keel_dgram_out(sa, r->msg, r->msg_len);
}

/* ---- the API ---- */

static int after_call(struct keel_sa *sa)
{
	run_pending(sa);
	if (sa->outq.nomem && !sa->finished) {
		sa->outq.nomem = false;
		keel_sa_fail(sa, KEEL_REASON_INTERNAL, "out of memory");
	}
	return 0;
}

int keel_sa_start(struct keel_sa *sa, uint64_t now_ns)
{
	if (sa && sa->v1)
		return keel_v1sa_start(sa->v1, now_ns);
	if (!sa || sa->started || sa->finished)
		return KEEL_ERR_STATE;
	keel_out_release(sa);
	sa->now_ns = now_ns;
	sa->started = true;
	sa->last_heard_ns = now_ns;
	char addr[64];
	keel_addr_format(sa->cfg.remote.family, sa->cfg.remote.bytes, addr, sizeof(addr));
	keel_sa_set_state(sa, KEEL_STATE_CONNECTING, KEEL_REASON_NONE, "connecting to %s", addr);
	int rc = keel_task_ike_init_start(sa);
	if (rc == KEEL_ERR_NOMEM)
		return rc;
	if (rc < 0 && !sa->finished)
		keel_sa_fail(sa, KEEL_REASON_INTERNAL, "cannot start IKE_SA_INIT: %s",
		             keel_strerror(rc));
	return after_call(sa);
}

static struct ike_sa *find_ike(struct keel_sa *sa, const struct keel_v2_hdr *h)
{
	bool response = h->flags & KEEL_V2_FLAG_RESPONSE;
	for (size_t i = 0; i < KEEL_MAX_IKE_SAS; i++) {
		struct ike_sa *ike = sa->ikes[i];
		if (!ike || ike->spi_i != h->spi_i)
			continue;
		/* RFC 7296 §3.1: the peer sets I only as the original initiator */
		bool peer_is_initiator = (h->flags & KEEL_V2_FLAG_INITIATOR) != 0;
		if (peer_is_initiator == ike->initiator)
			continue;
		if (ike->spi_r == h->spi_r)
			return ike;
		/* the IKE_SA_INIT response brings the responder's SPI */
		if (ike->spi_r == 0 && response && h->exchange == KEEL_V2_EXCHANGE_IKE_SA_INIT &&
		    sa->req_active && sa->req.kind == TASK_IKE_INIT)
			return ike;
	}
	return NULL;
}

static int recv_response(struct keel_sa *sa, struct ike_sa *ike)
{
	const struct keel_v2_hdr *h = &sa->rx.outer.hdr;
	struct request *r = &sa->req;
	int rc;
	if (!sa->req_active || r->ike != ike || r->msg_id != h->msg_id ||
	    r->exchange != h->exchange) {
		keel_log(sa, KEEL_LOG_DEBUG, "dropping unexpected %s response, message ID %" PRIu32,
		         keel_v2_exchange_name(h->exchange), h->msg_id);
		return KEEL_ERR_STATE;
	}
	if (h->exchange == KEEL_V2_EXCHANGE_IKE_SA_INIT) {
		rc = keel_v2_chain_verify(&sa->rx.outer.chain);
		if (rc < 0) {
			keel_log(sa, KEEL_LOG_DEBUG, "dropping malformed IKE_SA_INIT response");
			return KEEL_ERR_MALFORMED;
		}
		sa->rx.c = &sa->rx.outer.chain;
	} else {
		rc = keel_msg_open(sa, ike);
		if (rc == KEEL_MSG_PENDING) {
			/* an authentic fragment: the gateway is there, the rest will come */
			sa->last_heard_ns = sa->now_ns;
			return 0;
		}
		if (rc < 0 && sa->rx.authentic) {
			/* from the gateway, and broken: the exchange cannot complete */
			keel_sa_fail_delete(sa, KEEL_REASON_PROTOCOL,
			                    "the gateway's answer to %s cannot be parsed",
			                    keel_v2_exchange_name(h->exchange));
			return rc;
		}
		if (rc < 0) {
			keel_log(sa, KEEL_LOG_DEBUG, "dropping %s response %" PRIu32 ": %s",
			         keel_v2_exchange_name(h->exchange), h->msg_id, keel_strerror(rc));
			return rc;
		}
	}
	sa->last_heard_ns = sa->now_ns;
	keel_log(sa, KEEL_LOG_DEBUG, "received %s response, message ID %" PRIu32,
	         keel_v2_exchange_name(h->exchange), h->msg_id);
	switch (r->kind) {
	case TASK_IKE_INIT:
		keel_task_ike_init_process(sa);
		break;
	case TASK_IKE_AUTH:
		keel_task_ike_auth_process(sa);
		break;
	case TASK_CHILD_REKEY:
		keel_task_child_rekey_process(sa);
		break;
	case TASK_IKE_REKEY:
		keel_task_ike_rekey_process(sa);
		break;
	case TASK_DPD:
	case TASK_CHILD_DELETE:
	case TASK_IKE_DELETE:
		keel_task_info_process(sa);
		break;
	case TASK_NONE:
		keel_req_done(sa);
		break;
	}
	return 0;
}

/*
 * An authentic request whose contents do not parse still gets an answer, so
 * that the gateway's window moves on (RFC 7296 §2.5: UNSUPPORTED_CRITICAL_PAYLOAD
 * names an unknown critical payload; §2.21: INVALID_SYNTAX otherwise).
 */
static void answer_unparsable(struct keel_sa *sa, struct ike_sa *ike, const struct keel_v2_hdr *h)
{
	struct msg_wr mw;
	uint8_t type = sa->rx.unsupported;
	sa->last_heard_ns = sa->now_ns;
	keel_msg_begin(sa, &mw, ike, h->exchange, true, h->msg_id, true);
	if (type)
		keel_add_notify(&mw, 0, NULL, 0, KEEL_V2_N_UNSUPPORTED_CRITICAL_PAYLOAD, &type, 1);
	else
		keel_add_notify(&mw, 0, NULL, 0, KEEL_V2_N_INVALID_SYNTAX, NULL, 0);
	if (keel_msg_respond(sa, &mw) < 0)
		keel_log(sa, KEEL_LOG_DEBUG, "cannot answer the unparsable request");
}

static int recv_request(struct keel_sa *sa, struct ike_sa *ike)
{
	const struct keel_v2_hdr *h = &sa->rx.outer.hdr;
	int rc;
	if (!ike->keyed || h->exchange == KEEL_V2_EXCHANGE_IKE_SA_INIT ||
	    h->exchange == KEEL_V2_EXCHANGE_IKE_AUTH) {
		keel_log(sa, KEEL_LOG_DEBUG, "dropping %s request: we are the initiator",
		         keel_v2_exchange_name(h->exchange));
		return KEEL_ERR_STATE;
	}
	bool again = ike->resp && h->msg_id == ike->resp_id && h->msg_id + 1 == ike->peer_req_id;
	if (!again && h->msg_id != ike->peer_req_id) {
		keel_log(sa, KEEL_LOG_DEBUG,
		         "dropping %s request with message ID %" PRIu32 " (expected %" PRIu32 ")",
		         keel_v2_exchange_name(h->exchange), h->msg_id, ike->peer_req_id);
		return KEEL_ERR_STATE;
	}
	if (again && keel_rx_is_fragment(sa)) {
		/* RFC 7383 §2.6.1: a retransmitted fragmented request gets our response
		 * again only for its fragment 1 */
		uint16_t num = 0;
		rc = keel_frag_check(sa, ike, &num);
		if (rc < 0)
			return rc;
		sa->last_heard_ns = sa->now_ns;
		if (num != 1)
			return 0;
		keel_log(sa, KEEL_LOG_DEBUG, "resending our response to %s request %" PRIu32,
		         keel_v2_exchange_name(h->exchange), h->msg_id);
		return keel_dgram_out(sa, ike->resp, ike->resp_len);
	}
	rc = keel_msg_open(sa, ike);
	if (rc == KEEL_MSG_PENDING) {
		sa->last_heard_ns = sa->now_ns;
		return 0;
	}
	if (rc < 0) {
		keel_log(sa, KEEL_LOG_DEBUG, "dropping %s request %" PRIu32 ": %s",
		         keel_v2_exchange_name(h->exchange), h->msg_id, keel_strerror(rc));
		if (sa->rx.authentic && !again)
			answer_unparsable(sa, ike, h);
		return rc;
	}
	sa->last_heard_ns = sa->now_ns;
	if (again) {
		/* RFC 7296 §2.1: a retransmitted request gets the same response again */
		keel_log(sa, KEEL_LOG_DEBUG, "resending our response to %s request %" PRIu32,
		         keel_v2_exchange_name(h->exchange), h->msg_id);
		return keel_dgram_out(sa, ike->resp, ike->resp_len);
	}
	switch (h->exchange) {
	case KEEL_V2_EXCHANGE_INFORMATIONAL:
		rc = keel_task_info_respond(sa, ike, h->msg_id);
		break;
	case KEEL_V2_EXCHANGE_CREATE_CHILD_SA:
		rc = keel_task_create_child_respond(sa, ike, h->msg_id);
		break;
	default:
		keel_log(sa, KEEL_LOG_DEBUG, "dropping request of unknown exchange %u",
		         h->exchange);
		return KEEL_ERR_STATE;
	}
	if (rc < 0 && !sa->finished)
		keel_sa_fail(sa, KEEL_REASON_INTERNAL, "internal error answering %s: %s",
		             keel_v2_exchange_name(h->exchange), keel_strerror(rc));
	return 0;
}

int keel_sa_recv(struct keel_sa *sa, const struct keel_dgram *in, uint64_t now_ns)
{
	int rc;
	if (sa && sa->v1)
		return keel_v1sa_recv(sa->v1, in, now_ns);
	if (!sa || !in || !sa->started || sa->finished)
		return KEEL_ERR_STATE;
	keel_out_release(sa);
	if (now_ns > sa->now_ns)
		sa->now_ns = now_ns;
	if (!in->data || in->len <= 0) {
		keel_log(sa, KEEL_LOG_DEBUG, "dropping empty datagram");
		return KEEL_ERR_MALFORMED;
	}
	memset(&sa->rx.outer.hdr, 0, sizeof(sa->rx.outer.hdr));
	rc = keel_v2_msg_decode(in->data, (size_t)in->len, &sa->rx.outer);
	if (rc < 0) {
		keel_log(sa, KEEL_LOG_DEBUG, "dropping malformed datagram of %td bytes (%s)",
		         in->len, keel_strerror(rc));
		return KEEL_ERR_MALFORMED;
	}
	sa->rx.dgram = in;
	struct ike_sa *ike = find_ike(sa, &sa->rx.outer.hdr);
	if (!ike) {
		keel_log(sa, KEEL_LOG_DEBUG,
		         "dropping message for an unknown IKE SA %016" PRIx64 "_i %016" PRIx64 "_r",
		         sa->rx.outer.hdr.spi_i, sa->rx.outer.hdr.spi_r);
		return KEEL_ERR_STATE;
	}
	sa->rx.ike = ike;
	if (sa->rx.outer.hdr.flags & KEEL_V2_FLAG_RESPONSE)
		rc = recv_response(sa, ike);
	else
		rc = recv_request(sa, ike);
	sa->rx.dgram = NULL;
	after_call(sa);
	return rc;
}

static void schedule(struct keel_sa *sa)
{
	uint64_t now = sa->now_ns;
	if (!sa->established || sa->stopping || sa->finished)
		return;
	for (size_t i = 0; i < KEEL_MAX_CHILDREN; i++) {
		struct child_sa *c = &sa->child[i];
		if (c->state == CHILD_FREE)
			continue;
		if (c->expire_ns && now >= c->expire_ns) {
			keel_log(sa, KEEL_LOG_WARN, "CHILD SA %08" PRIx32 "_i expired", c->spi_in);
			keel_child_remove(sa, c, KEEL_REASON_EXPIRED);
			if (keel_child_count_live(sa) == 0) {
				keel_sa_fail_delete(
				    sa, KEEL_REASON_EXPIRED,
				    "the tunnel expired before it could be rekeyed");
				return;
			}
			continue;
		}
		if (c->state == CHILD_ACTIVE && c->rekey_ns && now >= c->rekey_ns) {
			c->rekey_ns = 0;
			keel_task_queue(sa, TASK_CHILD_REKEY, c->id, NULL);
		}
	}
	if (sa->ike_expire_ns && now >= sa->ike_expire_ns) {
		keel_sa_fail_delete(sa, KEEL_REASON_EXPIRED,
		                    "the IKE SA expired before it could be rekeyed");
		return;
	}
	if (sa->ike_rekey_ns && now >= sa->ike_rekey_ns) {
		sa->ike_rekey_ns = 0;
		keel_task_queue(sa, TASK_IKE_REKEY, 0, NULL);
	}
	if (sa->retry_ns && now >= sa->retry_ns) {
		sa->retry_ns = 0;
		keel_task_queue(sa, sa->retry.kind, sa->retry.child_id, NULL);
	}
	if (sa->cfg.dpd_interval_ms && !sa->req_active && sa->n_pending == 0 &&
	    now >= add_ns(sa->last_heard_ns, sa->cfg.dpd_interval_ms * NS_PER_MS))
		keel_task_queue(sa, TASK_DPD, 0, NULL);
}

int keel_sa_tick(struct keel_sa *sa, uint64_t now_ns)
{
	if (sa && sa->v1)
		return keel_v1sa_tick(sa->v1, now_ns);
	if (!sa || !sa->started || sa->finished)
		return KEEL_ERR_STATE;
	keel_out_release(sa);
	if (now_ns > sa->now_ns)
		sa->now_ns = now_ns;
	if (sa->stopping && sa->closing_ns && sa->now_ns >= sa->closing_ns) {
		keel_sa_close(sa, KEEL_REASON_USER, "disconnected (the gateway did not confirm)");
		return 0;
	}
	if (sa->req_active && sa->now_ns >= sa->req.next_ns)
		retransmit(sa);
	else if (sa->req_active && sa->req.hard_limit_ns && sa->now_ns >= sa->req.hard_limit_ns)
		give_up(sa);
	if (!sa->finished)
		schedule(sa);
	return after_call(sa);
}

static uint64_t min_ns(uint64_t a, uint64_t b)
{
	return b != 0 && b < a ? b : a;
}

uint64_t keel_sa_deadline(const struct keel_sa *sa)
{
	uint64_t d = UINT64_MAX;
	if (sa && sa->v1)
		return keel_v1sa_deadline(sa->v1);
	if (!sa || !sa->started || sa->finished)
		return UINT64_MAX;
	if (sa->req_active) {
		d = min_ns(d, sa->req.next_ns);
		d = min_ns(d, sa->req.hard_limit_ns);
	}
	if (sa->stopping)
		return min_ns(d, sa->closing_ns);
	if (!sa->established)
		return d;
	for (size_t i = 0; i < KEEL_MAX_CHILDREN; i++) {
		const struct child_sa *c = &sa->child[i];
		if (c->state == CHILD_FREE)
			continue;
		d = min_ns(d, c->expire_ns);
		if (c->state == CHILD_ACTIVE)
			d = min_ns(d, c->rekey_ns);
	}
	d = min_ns(d, sa->ike_expire_ns);
	d = min_ns(d, sa->ike_rekey_ns);
	d = min_ns(d, sa->retry_ns);
	if (sa->cfg.dpd_interval_ms && !sa->req_active && sa->n_pending == 0)
		d = min_ns(d, add_ns(sa->last_heard_ns, sa->cfg.dpd_interval_ms * NS_PER_MS));
	return d;
}

int keel_sa_stop(struct keel_sa *sa, uint64_t now_ns)
{
	if (sa && sa->v1)
		return keel_v1sa_stop(sa->v1, now_ns);
	if (!sa || sa->finished || sa->stopping)
		return KEEL_ERR_STATE;
	keel_out_release(sa);
	if (now_ns > sa->now_ns)
		sa->now_ns = now_ns;
	if (!sa->started || !sa->established || !sa->ike) {
		/* RFC 7296 §1.4: INFORMATIONAL only after the initial exchanges */
		keel_sa_close(sa, KEEL_REASON_USER, "disconnected");
		return 0;
	}
	sa->stopping = true;
	for (size_t i = 0; i < KEEL_MAX_CHILDREN; i++)
		if (sa->child[i].state != CHILD_FREE)
			keel_child_remove(sa, &sa->child[i], KEEL_REASON_USER);
	/* an exchange still in flight is abandoned; its message ID stays used */
	if (sa->req_active && sa->req.ike == sa->ike && sa->ike->next_req_id <= sa->req.msg_id)
		sa->ike->next_req_id = sa->req.msg_id + 1;
	if (sa->req_active)
		keel_req_done(sa);
	sa->n_pending = 0;
	sa->retry_ns = 0;
	sa->closing_ns = add_ns(sa->now_ns, (uint64_t)sa->cfg.delete_timeout_ms * NS_PER_MS);
	keel_sa_set_state(sa, KEEL_STATE_CLOSING, KEEL_REASON_USER, "disconnecting");
	int rc = keel_task_delete_start(sa, TASK_IKE_DELETE, 0, sa->ike);
	if (rc < 0)
		keel_sa_close(sa, KEEL_REASON_USER, "disconnected");
	return after_call(sa);
}

int keel_sa_rekey(struct keel_sa *sa, enum keel_rekey what, uint32_t child_id, uint64_t now_ns)
{
	if (sa && sa->v1)
		return keel_v1sa_rekey(sa->v1, what, child_id, now_ns);
	if (!sa || sa->finished || !sa->established || sa->stopping)
		return KEEL_ERR_STATE;
	if (what != KEEL_REKEY_IKE && what != KEEL_REKEY_CHILD)
		return KEEL_ERR_INVAL;
	keel_out_release(sa);
	if (now_ns > sa->now_ns)
		sa->now_ns = now_ns;
	switch (what) {
	case KEEL_REKEY_IKE:
		keel_task_queue(sa, TASK_IKE_REKEY, 0, NULL);
		break;
	case KEEL_REKEY_CHILD:
		if (child_id != 0) {
			struct child_sa *c = keel_child_find(sa, child_id);
			if (!c || c->state != CHILD_ACTIVE)
				return KEEL_ERR_INVAL;
			keel_task_queue(sa, TASK_CHILD_REKEY, child_id, NULL);
		} else {
			for (size_t i = 0; i < KEEL_MAX_CHILDREN; i++)
				if (sa->child[i].state == CHILD_ACTIVE)
					keel_task_queue(sa, TASK_CHILD_REKEY, sa->child[i].id,
					                NULL);
		}
		break;
	}
	return after_call(sa);
}

enum keel_state keel_sa_state(const struct keel_sa *sa)
{
	if (sa && sa->v1)
		return keel_v1sa_state(sa->v1);
	return sa ? sa->state : KEEL_STATE_IDLE;
}
