/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Informational exchanges (RFC 2409 §5.7: HDR*, HASH(1), N/D, one message,
 * no answer): DPD R-U-THERE and R-U-THERE-ACK both ways (RFC 3706 §5),
 * DELETE of ESP SAs and of the ISAKMP SA both ways (RFC 2408 §3.15), the
 * gateway's error notifies and RESPONDER-LIFETIME (RFC 2407 §4.6.3.1).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ikev1/sa.h"

static int send_info(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_wr *mw)
{
	uint8_t *msg;
	size_t len;
	int rc = keel_v1_wr_end(mw, &msg, &len);
	if (rc < 0)
		return rc;
	/* one message, no answer: its message ID is spent */
	struct v1_xchg *x = keel_v1_xchg(sa, p1, mw->msg_id, KEEL_V1_EXCH_INFO, false);
	if (x)
		x->closed = true;
	rc = keel_v1sa_send(sa, msg, len);
	free(msg);
	return rc;
}

static int begin_info(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_wr *mw)
{
	uint32_t mid;
	int rc = keel_v1_new_msg_id(sa, p1, &mid);
	if (rc < 0)
		return rc;
	keel_v1_wr_begin(sa, mw, p1, KEEL_V1_EXCH_INFO, mid, true, V1_HASH_1);
	return 0;
}

int keel_v1_info_notify(struct keel_v1sa *sa, struct v1_p1 *p1, uint8_t protocol,
                        const uint8_t *spi, size_t spi_len, uint16_t type, const uint8_t *data,
                        size_t data_len)
{
	struct v1_wr mw;
	int rc = begin_info(sa, p1, &mw);
	if (rc < 0)
		return rc;
	struct keel_v1_notify n = {
	    .doi = KEEL_V1_DOI_IPSEC,
	    .protocol = protocol,
	    .spi_len = (uint8_t)spi_len,
	    .spi = spi,
	    .type = type,
	    .data = data,
	    .len = data_len,
	};
	keel_v1_enc_notify(&mw.e, &n);
	return send_info(sa, p1, &mw);
}

int keel_v1_info_delete_esp(struct keel_v1sa *sa, struct v1_p1 *p1, const uint32_t *spis, size_t n)
{
	uint8_t buf[4 * V1_MAX_CHILDREN];
	struct v1_wr mw;
	if (n == 0 || n > V1_MAX_CHILDREN)
		return KEEL_ERR_INVAL;
	for (size_t i = 0; i < n; i++)
		keel_v1_put32(buf + 4 * i, spis[i]);
	int rc = begin_info(sa, p1, &mw);
	if (rc < 0)
		return rc;
	/* RFC 2408 §3.15: the SPIs the sender receives on */
	struct keel_v1_delete d = {
	    .doi = KEEL_V1_DOI_IPSEC,
	    .protocol = sa->child_proto,
	    .spi_len = 4,
	    .n_spis = (uint16_t)n,
	    .spis = buf,
	};
	keel_v1_enc_delete(&mw.e, &d);
	keel_v1sa_log(sa, KEEL_LOG_DEBUG, "sending DELETE for %zu %s SA%s", n,
	              sa->child_proto == KEEL_V1_PROTO_AH ? "AH" : "ESP", n > 1 ? "s" : "");
	return send_info(sa, p1, &mw);
}

int keel_v1_info_delete_p1(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	uint8_t spi[2 * KEEL_V1_COOKIE_LEN];
	struct v1_wr mw;
	int rc = begin_info(sa, p1, &mw);
	if (rc < 0)
		return rc;
	memcpy(spi, p1->cky_i, KEEL_V1_COOKIE_LEN);
	memcpy(spi + KEEL_V1_COOKIE_LEN, p1->cky_r, KEEL_V1_COOKIE_LEN);
	struct keel_v1_delete d = {
	    .doi = KEEL_V1_DOI_IPSEC,
	    .protocol = KEEL_V1_PROTO_ISAKMP,
	    .spi_len = sizeof(spi),
	    .n_spis = 1,
	    .spis = spi,
	};
	keel_v1_enc_delete(&mw.e, &d);
	keel_v1sa_log(sa, KEEL_LOG_DEBUG, "sending DELETE for the ISAKMP SA");
	return send_info(sa, p1, &mw);
}

static bool cookies_are(const struct v1_p1 *p1, const uint8_t *spi, size_t len)
{
	return p1 && len == 2 * KEEL_V1_COOKIE_LEN &&
	       memcmp(spi, p1->cky_i, KEEL_V1_COOKIE_LEN) == 0 &&
	       memcmp(spi + KEEL_V1_COOKIE_LEN, p1->cky_r, KEEL_V1_COOKIE_LEN) == 0;
}

/* ---- DPD (RFC 3706) ---- */

/* One R-U-THERE in an informational exchange of its own: returns the message (taken by the caller).
 */
static int build_rut(struct keel_v1sa *sa, struct v1_p1 *p1, uint32_t *mid, uint8_t **msg,
                     size_t *len)
{
	uint8_t spi[2 * KEEL_V1_COOKIE_LEN], seq[4];
	struct v1_wr mw;
	int rc;
	if (p1->dpd_seq == 0) {
		/* RFC 3706 §5.5: the first sequence number is random, below 2^31 to leave room */
		if ((rc = keel_v1sa_random(sa, &p1->dpd_seq, sizeof(p1->dpd_seq))) < 0)
			return rc;
		p1->dpd_seq = (p1->dpd_seq & 0x7fffffff) | 1;
	}
	p1->dpd_seq++;
	if ((rc = begin_info(sa, p1, &mw)) < 0)
		return rc;
	*mid = mw.msg_id;
	memcpy(spi, p1->cky_i, KEEL_V1_COOKIE_LEN);
	memcpy(spi + KEEL_V1_COOKIE_LEN, p1->cky_r, KEEL_V1_COOKIE_LEN);
	keel_v1_put32(seq, p1->dpd_seq);
	/* §5.3: protocol ISAKMP, the cookies as SPI, the sequence number as data */
	struct keel_v1_notify n = {
	    .doi = KEEL_V1_DOI_IPSEC,
	    .protocol = KEEL_V1_PROTO_ISAKMP,
	    .spi_len = sizeof(spi),
	    .spi = spi,
	    .type = KEEL_V1_N_R_U_THERE,
	    .data = seq,
	    .len = sizeof(seq),
	};
	keel_v1_enc_notify(&mw.e, &n);
	if ((rc = keel_v1_wr_end(&mw, msg, len)) < 0)
		return rc;
	struct v1_xchg *x = keel_v1_xchg(sa, p1, *mid, KEEL_V1_EXCH_INFO, false);
	if (x)
		x->closed = true;
	keel_v1sa_log(sa, KEEL_LOG_DEBUG, "DPD: R-U-THERE %" PRIu32, p1->dpd_seq);
	return 0;
}

int keel_v1_dpd_start(struct keel_v1sa *sa)
{
	struct v1_p1 *p1 = sa->p1;
	uint8_t *msg;
	size_t len;
	uint32_t mid;
	int rc;

	if (!p1 || p1->step != P1_READY || !p1->peer_dpd)
		return 0;
	if ((rc = build_rut(sa, p1, &mid, &msg, &len)) < 0)
		return rc;
	p1->dpd_seq_first = p1->dpd_seq;
	keel_v1sa_req_done(sa);
	sa->req.kind = V1_REQ_DPD;
	sa->req.p1 = p1;
	sa->req.msg_id = mid;
	return keel_v1sa_req_send(sa, msg, len);
}

int keel_v1_dpd_resend(struct keel_v1sa *sa)
{
	/* a new exchange and sequence number each time: the gateway's IV for an
	 * informational exchange has moved on after the first copy */
	struct v1_p1 *p1 = sa->req.p1;
	uint8_t *msg;
	size_t len;
	int rc = build_rut(sa, p1, &sa->req.msg_id, &msg, &len);
	if (rc < 0)
		return rc;
	free(sa->req.msg);
	sa->req.msg = msg;
	sa->req.msg_len = len;
	return keel_v1sa_send(sa, msg, len);
}

static void dpd_notify(struct keel_v1sa *sa, struct v1_p1 *p1, const struct keel_v1_notify *n)
{
	if (!cookies_are(p1, n->spi, n->spi_len) || n->len != 4) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG,
		              "ignoring a DPD notify with a wrong SPI or length");
		return;
	}
	uint32_t seq = keel_v1_get32(n->data);
	if (n->type == KEEL_V1_N_R_U_THERE_ACK) {
		if (sa->req_active && sa->req.kind == V1_REQ_DPD && sa->req.p1 == p1 &&
		    seq - p1->dpd_seq_first <= p1->dpd_seq - p1->dpd_seq_first) {
			keel_v1sa_log(sa, KEEL_LOG_DEBUG, "DPD: R-U-THERE-ACK %" PRIu32, seq);
			keel_v1sa_req_done(sa);
		}
		return;
	}
	/* §5.7: an older sequence number than one already answered is a replay */
	if (p1->peer_dpd_seen && (int32_t)(seq - p1->peer_dpd_seq) < 0) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "DPD: ignoring an old R-U-THERE %" PRIu32, seq);
		return;
	}
	p1->peer_dpd_seen = true;
	p1->peer_dpd_seq = seq;
	keel_v1sa_log(sa, KEEL_LOG_DEBUG, "DPD: answering R-U-THERE %" PRIu32, seq);
	keel_v1_info_notify(sa, p1, KEEL_V1_PROTO_ISAKMP, n->spi, n->spi_len,
	                    KEEL_V1_N_R_U_THERE_ACK, n->data, 4);
}

/* ---- what the gateway tells ---- */

static void lifetime_notify(struct keel_v1sa *sa, struct v1_p1 *p1, const struct keel_v1_notify *n)
{
	if (n->protocol == KEEL_V1_PROTO_ISAKMP) {
		uint32_t s = keel_v1_lifetime_attrs(n->data, n->len, true);
		if (!s || (p1->xf.life_s && s >= p1->xf.life_s))
			return;
		/* RFC 2407 §4.6.3.1: the responder keeps the SA this long: renew before */
		p1->xf.life_s = s;
		p1->rekey_ns = keel_v1sa_rekey_at(sa, &sa->cfg.ike_lifetime, s);
		p1->expire_ns = keel_v1_add_ns(sa->now_ns, (uint64_t)s * V1_NS_PER_S);
		keel_v1sa_log(sa, KEEL_LOG_INFO, "the gateway keeps the ISAKMP SA %" PRIu32 " s",
		              s);
		return;
	}
	if (n->protocol != sa->child_proto || n->spi_len != 4)
		return;
	uint32_t spi = keel_v1_get32(n->spi), s = keel_v1_lifetime_attrs(n->data, n->len, false);
	struct v1_child *c = keel_v1_child_by_spi_out(sa, spi);
	if (!c)
		c = keel_v1_child_by_spi_in(sa, spi);
	if (!c || !s)
		return;
	uint64_t exp = keel_v1_add_ns(sa->now_ns, (uint64_t)s * V1_NS_PER_S);
	if (c->expire_ns && exp >= c->expire_ns)
		return;
	c->expire_ns = exp;
	if (c->rekey_ns)
		c->rekey_ns = keel_v1sa_rekey_at(sa, &sa->cfg.child_lifetime, s);
	keel_v1sa_log(sa, KEEL_LOG_INFO, "the gateway keeps CHILD SA %08" PRIx32 "_i %" PRIu32 " s",
	              c->spi_in, s);
}

static void error_notify(struct keel_v1sa *sa, struct v1_p1 *p1, uint16_t type)
{
	const char *name = keel_v1_notify_name(type);
	char buf[24];
	if (!name) {
		snprintf(buf, sizeof(buf), "notify %u", type);
		name = buf;
	}
	if (sa->req_active && sa->req.p1 == p1 && sa->req.kind == V1_REQ_QUICK) {
		keel_v1_quick_refused(sa, type);
		return;
	}
	if (sa->req_active && sa->req.p1 == p1 && sa->req.kind == V1_REQ_MODECFG) {
		keel_v1sa_fail_delete(sa, KEEL_REASON_PEER_ERROR,
		                      "the gateway refused Mode Config (%s)", name);
		return;
	}
	if (p1->step == P1_XAUTH && type == KEEL_V1_N_AUTHENTICATION_FAILED) {
		keel_v1sa_fail(sa, KEEL_REASON_AUTH_REFUSED,
		               "XAUTH password refused: the gateway reports AUTHENTICATION-FAILED");
		return;
	}
	keel_v1sa_log(sa, KEEL_LOG_WARN, "the gateway reports %s", name);
}

static void peer_delete(struct keel_v1sa *sa, struct v1_p1 *p1, const struct keel_v1_delete *d,
                        bool *gone)
{
	if (d->protocol == KEEL_V1_PROTO_ISAKMP) {
		for (size_t i = 0; i < d->n_spis; i++) {
			const uint8_t *spi = keel_v1_delete_spi(d, i);
			struct v1_p1 *t = cookies_are(sa->p1, spi, d->spi_len)       ? sa->p1
			                  : cookies_are(sa->p1_new, spi, d->spi_len) ? sa->p1_new
			                                                             : NULL;
			if (!t)
				continue;
			*gone = true;
			if (t == sa->p1 && sa->p1_new && sa->established) {
				/* the new phase 1 replaces it anyway */
				keel_v1sa_log(sa, KEEL_LOG_DEBUG,
				              "the gateway deleted the ISAKMP SA being replaced");
				keel_v1sa_p1_free(sa, t);
				return;
			}
			keel_v1sa_close(sa, KEEL_REASON_PEER_DELETE,
			                "the gateway closed the connection");
			return;
		}
		(void)p1;
		return;
	}
	if (d->protocol != sa->child_proto || d->spi_len != 4)
		return;
	bool lost = false;
	for (size_t i = 0; i < d->n_spis; i++) {
		uint32_t spi = keel_v1_get32(keel_v1_delete_spi(d, i));
		/* the gateway names the SPI it receives on: our outbound SPI */
		struct v1_child *c = keel_v1_child_by_spi_out(sa, spi);
		if (!c) {
			keel_v1sa_log(sa, KEEL_LOG_DEBUG,
			              "the gateway deleted an unknown CHILD SA");
			continue;
		}
		keel_v1_quick_peer_replaced(sa, c);
		bool replaced = c->replaced;
		keel_v1sa_log(sa, replaced ? KEEL_LOG_DEBUG : KEEL_LOG_INFO,
		              "the gateway deleted CHILD SA %08" PRIx32 "_i %08" PRIx32 "_o",
		              c->spi_in, c->spi_out);
		if (sa->qm.active && sa->qm.rekey_child == c->id)
			sa->qm.rekey_child = 0;
		keel_v1_child_remove(sa, c,
		                     replaced ? KEEL_REASON_REKEYED : KEEL_REASON_PEER_DELETE);
		lost |= !replaced;
	}
	if (lost && sa->established && !sa->stopping && keel_v1_child_count(sa) == 0 &&
	    !(sa->req_active && sa->req.kind == V1_REQ_QUICK)) {
		/* a client with no tunnel left is of no use */
		keel_v1sa_fail_delete(sa, KEEL_REASON_PEER_DELETE, "the gateway closed the tunnel");
		*gone = true;
	}
}

int keel_v1_info(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	const struct keel_v1_msg *m = &sa->rx;
	int rc = keel_v1_rx_hash(sa, p1, V1_HASH_1, NULL, 0, NULL, 0);
	if (rc < 0) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "dropping an informational message: %s",
		              keel_strerror(rc));
		return rc;
	}
	keel_v1_rx_commit(sa, p1);
	struct v1_xchg *x = keel_v1_xchg(sa, p1, m->hdr.msg_id, KEEL_V1_EXCH_INFO, true);
	if (x) {
		x->closed = true;
		keel_v1_dup(&x->last_rx, &x->last_rx_len, sa->dgram->data, (size_t)sa->dgram->len);
	}
	sa->last_heard_ns = sa->now_ns;
	bool gone = false;
	for (size_t i = 1; i < m->n_payloads && !gone && !sa->finished; i++) {
		const struct keel_v1_payload *pl = &m->pl[i];
		if (pl->type == KEEL_V1_PL_NOTIFY) {
			struct keel_v1_notify n;
			if (keel_v1_notify_decode(pl, &n) < 0)
				continue;
			switch (n.type) {
			case KEEL_V1_N_R_U_THERE:
			case KEEL_V1_N_R_U_THERE_ACK:
				dpd_notify(sa, p1, &n);
				break;
			case KEEL_V1_N_RESPONDER_LIFETIME:
				lifetime_notify(sa, p1, &n);
				break;
			case KEEL_V1_N_INITIAL_CONTACT:
			case KEEL_V1_N_CONNECTED:
			case KEEL_V1_N_REPLAY_STATUS:
				keel_v1sa_log(sa, KEEL_LOG_DEBUG, "the gateway sends %s",
				              keel_v1_notify_name(n.type));
				break;
			default:
				if (n.type <= KEEL_V1_N_ERROR_MAX)
					error_notify(sa, p1, n.type);
				else
					keel_v1sa_log(sa, KEEL_LOG_DEBUG,
					              "ignoring status notify %u", n.type);
				break;
			}
		} else if (pl->type == KEEL_V1_PL_DELETE) {
			struct keel_v1_delete d;
			if (keel_v1_delete_decode(pl, &d) == 0 && keel_v1_delete_verify(&d) == 0)
				peer_delete(sa, p1, &d, &gone);
		}
	}
	return 0;
}
