/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * XAUTH as the client (draft-beaulieu-ike-xauth-02): after phase 1 the
 * gateway asks, in a transaction exchange, for a user name and password;
 * we answer from the profile's secrets; the gateway then SETs the status
 * and we ACK it (§4, §6.1):
 *
 *   <- *HASH, ATTR(REQUEST: TYPE, USER-NAME, USER-PASSWORD, MESSAGE)
 *   -> *HASH, ATTR(REPLY: TYPE, USER-NAME=user, USER-PASSWORD=password)
 *   <- *HASH, ATTR(SET: STATUS=OK|FAIL)
 *   -> *HASH, ATTR(ACK: STATUS)
 *
 * Transaction messages are dispatched here; Mode Config's are passed on.
 */
#include <stdlib.h>
#include <string.h>

#include "ikev1/sa.h"

static int send_answer(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_xchg *x, struct v1_wr *mw)
{
	uint8_t *msg;
	size_t len;
	int rc = keel_v1_wr_end(mw, &msg, &len);
	if (rc < 0)
		return rc;
	(void)p1;
	/* kept: the gateway repeats its message if ours got lost */
	free(x->last_tx);
	x->last_tx = msg;
	x->last_tx_len = len;
	return keel_v1sa_send(sa, msg, len);
}

static int xauth_request(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_xchg *x,
                         const struct keel_v1_cfg *cfg)
{
	const struct keel_v1_attrs *l = &sa->attrs;
	struct v1_wr mw;
	int rc;

	if (!sa->opt.xauth) {
		keel_v1sa_fail_delete(sa, KEEL_REASON_CONFIG,
		                      "the gateway asks for an XAUTH login, but the profile has no "
		                      "XAUTH user name and password");
		return 0;
	}
	if (p1->xauth_done || p1->step != P1_XAUTH || !sa->xauth_user) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "ignoring an XAUTH request after XAUTH");
		x->closed = true;
		return KEEL_ERR_STATE;
	}
	if (p1->xauth_replied) {
		/* a gateway that prompts again has refused what we sent */
		keel_v1sa_fail_delete(sa, KEEL_REASON_AUTH_REFUSED,
		                      "XAUTH password refused: the gateway asked for the user name "
		                      "and password again");
		return 0;
	}
	const struct keel_v1_attr *a;
	if ((a = keel_v1_attrs_find(l, KEEL_V1_CFG_XAUTH_MESSAGE)) && !a->basic && a->len) {
		char m[V1_TEXT_MAX];
		keel_v1_escape(a->value, a->len, m, sizeof(m));
		keel_v1sa_log(sa, KEEL_LOG_INFO, "XAUTH message from the gateway: \"%s\"", m);
	}
	uint32_t type = KEEL_V1_XAUTH_TYPE_GENERIC;
	const struct keel_v1_attr *ta = keel_v1_attrs_find(l, KEEL_V1_CFG_XAUTH_TYPE);
	if (ta && (keel_v1_attr_u32(ta, &type) < 0 || type != KEEL_V1_XAUTH_TYPE_GENERIC)) {
		keel_v1sa_fail_delete(sa, KEEL_REASON_CONFIG,
		                      "the gateway asks for XAUTH type %u; Keel answers only the "
		                      "generic user name and password",
		                      type);
		return 0;
	}
	bool want_pw = keel_v1_attrs_find(l, KEEL_V1_CFG_XAUTH_USER_PASSWORD) != NULL;
	bool want_code = keel_v1_attrs_find(l, KEEL_V1_CFG_XAUTH_PASSCODE) != NULL;
	if (keel_v1_attrs_find(l, KEEL_V1_CFG_XAUTH_NEXT_PIN) ||
	    keel_v1_attrs_find(l, KEEL_V1_CFG_XAUTH_ANSWER) || (!want_pw && !want_code)) {
		keel_v1sa_fail_delete(sa, KEEL_REASON_CONFIG,
		                      "the gateway asks for an XAUTH answer Keel cannot give (a "
		                      "challenge or a new PIN)");
		return 0;
	}
	keel_v1_wr_begin(sa, &mw, p1, KEEL_V1_EXCH_TRANSACTION, x->msg_id, true, V1_HASH_1);
	keel_v1_enc_cfg_begin(&mw.e, KEEL_V1_CFG_REPLY, cfg->identifier);
	if (ta)
		keel_v1_enc_attr_basic(&mw.e, KEEL_V1_CFG_XAUTH_TYPE, (uint16_t)type);
	keel_v1_enc_attr_var(&mw.e, KEEL_V1_CFG_XAUTH_USER_NAME, keel_secret_data(sa->xauth_user),
	                     (size_t)keel_secret_len(sa->xauth_user));
	/* a one-time passcode is what the user keeps as the password */
	keel_v1_enc_attr_var(
	    &mw.e, want_pw ? KEEL_V1_CFG_XAUTH_USER_PASSWORD : KEEL_V1_CFG_XAUTH_PASSCODE,
	    keel_secret_data(sa->xauth_pass), (size_t)keel_secret_len(sa->xauth_pass));
	keel_v1_enc_cfg_end(&mw.e);
	rc = send_answer(sa, p1, x, &mw);
	if (rc < 0)
		return rc;
	p1->xauth_replied = true;
	p1->wait_ns = keel_v1_add_ns(sa->now_ns, keel_v1sa_giveup_ms(sa) * V1_NS_PER_MS);
	keel_v1sa_log(sa, KEEL_LOG_INFO, "XAUTH: sending the user name and password");
	return 0;
}

static int xauth_status(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_xchg *x,
                        const struct keel_v1_cfg *cfg, const struct keel_v1_attr *st)
{
	struct v1_wr mw;
	uint32_t status = KEEL_V1_XAUTH_STATUS_FAIL;
	int rc;

	if (p1->step != P1_XAUTH || p1->xauth_done) {
		x->closed = true;
		return KEEL_ERR_STATE;
	}
	keel_v1_attr_u32(st, &status);
	/* §4: the status is acknowledged either way */
	keel_v1_wr_begin(sa, &mw, p1, KEEL_V1_EXCH_TRANSACTION, x->msg_id, true, V1_HASH_1);
	keel_v1_enc_cfg_begin(&mw.e, KEEL_V1_CFG_ACK, cfg->identifier);
	keel_v1_enc_attr_var(&mw.e, KEEL_V1_CFG_XAUTH_STATUS, NULL, 0);
	keel_v1_enc_cfg_end(&mw.e);
	if ((rc = send_answer(sa, p1, x, &mw)) < 0)
		return rc;
	x->closed = true;
	if (status != KEEL_V1_XAUTH_STATUS_OK) {
		if (p1 == sa->p1_new && sa->established)
			keel_v1sa_fail_delete(sa, KEEL_REASON_AUTH_REFUSED,
			                      "XAUTH password refused when renewing phase 1: the "
			                      "gateway rejected the user name or password");
		else
			keel_v1sa_fail(
			    sa, KEEL_REASON_AUTH_REFUSED,
			    "XAUTH password refused: the gateway rejected the user name or "
			    "password");
		return 0;
	}
	p1->xauth_done = true;
	p1->wait_ns = 0;
	if (p1->xauth_replied)
		keel_v1sa_log(sa, KEEL_LOG_INFO, "XAUTH: the gateway accepted the login");
	else
		keel_v1sa_log(sa, KEEL_LOG_INFO, "XAUTH: the gateway let us in without a login");
	rc = keel_v1_after_xauth(sa, p1);
	if (rc < 0 && !sa->finished)
		keel_v1sa_fail_delete(sa, KEEL_REASON_INTERNAL, "cannot go on after XAUTH: %s",
		                      keel_strerror(rc));
	return 0;
}

static bool has_xauth_attr(const struct keel_v1_attrs *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->a[i].type >= KEEL_V1_CFG_XAUTH_TYPE &&
		    l->a[i].type <= KEEL_V1_CFG_XAUTH_ANSWER)
			return true;
	return false;
}

int keel_v1_transaction(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_xchg *x)
{
	const struct keel_v1_payload *pl = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_ATTR, NULL);
	struct keel_v1_cfg cfg;

	if (!pl || keel_v1_cfg_decode(pl, &cfg) < 0 ||
	    keel_v1_attrs_decode(cfg.attrs, cfg.attrs_len, &sa->attrs) < 0)
		return KEEL_ERR_MALFORMED;
	if (sa->req_active && sa->req.kind == V1_REQ_MODECFG && sa->req.p1 == p1 &&
	    sa->req.msg_id == x->msg_id) {
		x->closed = true;
		if (cfg.type != KEEL_V1_CFG_REPLY)
			return KEEL_ERR_MALFORMED;
		return keel_v1_modecfg_reply(sa, p1, &cfg, x);
	}
	switch (cfg.type) {
	case KEEL_V1_CFG_REQUEST:
		if (has_xauth_attr(&sa->attrs))
			return xauth_request(sa, p1, x, &cfg);
		keel_v1sa_log(sa, KEEL_LOG_DEBUG,
		              "ignoring a Mode Config request from the gateway");
		x->closed = true;
		return KEEL_ERR_STATE;
	case KEEL_V1_CFG_SET: {
		const struct keel_v1_attr *st =
		    keel_v1_attrs_find(&sa->attrs, KEEL_V1_CFG_XAUTH_STATUS);
		if (st)
			return xauth_status(sa, p1, x, &cfg, st);
		return keel_v1_modecfg_reply(sa, p1, &cfg, x);
	}
	default:
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "ignoring a transaction message of type %u",
		              cfg.type);
		x->closed = true;
		return KEEL_ERR_STATE;
	}
}
