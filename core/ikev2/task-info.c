/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * INFORMATIONAL exchanges (RFC 7296 §1.4): liveness checks (§2.4) both
 * ways, DELETE of CHILD SAs and of the IKE SA both ways (§1.4.1).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ikev2/sa.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int start_info(struct keel_sa *sa, struct ike_sa *ike, enum task_kind kind,
                      struct msg_wr *mw)
{
	struct request *r = &sa->req;
	keel_req_done(sa);
	r->kind = kind;
	r->ike = ike;
	r->exchange = KEEL_V2_EXCHANGE_INFORMATIONAL;
	r->msg_id = ike->next_req_id;
	keel_msg_begin(sa, mw, ike, KEEL_V2_EXCHANGE_INFORMATIONAL, false, r->msg_id, true);
	return 0;
}

static int send_info(struct keel_sa *sa, struct ike_sa *ike, struct msg_wr *mw)
{
	uint8_t *msg;
	size_t len;
	int rc = keel_msg_end(sa, mw, &msg, &len);
	if (rc < 0)
		return rc;
	ike->next_req_id++;
	return keel_req_send(sa, msg, len);
}

int keel_task_dpd_start(struct keel_sa *sa)
{
	struct msg_wr mw;
	struct ike_sa *ike = sa->ike;
	if (!ike || ike->deleting)
		return 0;
	start_info(sa, ike, TASK_DPD, &mw);
	keel_log(sa, KEEL_LOG_DEBUG, "nothing heard from the gateway for a while: liveness check");
	/* RFC 7296 §1.4: an empty INFORMATIONAL request asks "are you alive?" */
	return send_info(sa, ike, &mw);
}

int keel_task_delete_start(struct keel_sa *sa, enum task_kind kind, uint32_t child_id,
                           struct ike_sa *target)
{
	struct msg_wr mw;
	if (kind == TASK_CHILD_DELETE) {
		struct ike_sa *ike = sa->ike;
		struct child_sa *c = keel_child_find(sa, child_id);
		if (!c || !ike || c->state == CHILD_DELETING)
			return 0;
		start_info(sa, ike, TASK_CHILD_DELETE, &mw);
		sa->req.child_id = child_id;
		keel_add_delete(&mw, sa->child_proto, &c->spi_in, 1);
		c->state = CHILD_DELETING;
		keel_log(sa, KEEL_LOG_DEBUG, "deleting CHILD SA %08" PRIx32 "_i %08" PRIx32 "_o",
		         c->spi_in, c->spi_out);
		return send_info(sa, ike, &mw);
	}
	struct ike_sa *ike = target ? target : sa->ike;
	if (!ike || !ike->keyed)
		return 0;
	start_info(sa, ike, TASK_IKE_DELETE, &mw);
	sa->req.target = ike;
	keel_add_delete(&mw, KEEL_V2_PROTO_IKE, NULL, 0);
	if (sa->stopping)
		sa->req.hard_limit_ns = sa->closing_ns;
	keel_log(sa, KEEL_LOG_DEBUG, "deleting IKE SA %016" PRIx64 "_i %016" PRIx64 "_r",
	         ike->spi_i, ike->spi_r);
	return send_info(sa, ike, &mw);
}

void keel_task_info_process(struct keel_sa *sa)
{
	struct request *r = &sa->req;
	switch (r->kind) {
	case TASK_DPD:
		keel_log(sa, KEEL_LOG_DEBUG, "the gateway is alive");
		keel_req_done(sa);
		return;
	case TASK_CHILD_DELETE: {
		struct child_sa *c = keel_child_find(sa, r->child_id);
		keel_req_done(sa);
		if (c)
			keel_child_remove(sa, c, KEEL_REASON_REKEYED);
		return;
	}
	case TASK_IKE_DELETE: {
		struct ike_sa *target = r->target;
		keel_req_done(sa);
		if (sa->stopping && target == sa->ike) {
			keel_sa_close(sa, KEEL_REASON_USER, "disconnected");
			return;
		}
		/* a replaced or redundant IKE SA is gone; the current one carries on */
		keel_ike_free(sa, target);
		return;
	}
	case TASK_NONE:
	case TASK_IKE_INIT:
	case TASK_IKE_AUTH:
	case TASK_CHILD_REKEY:
	case TASK_IKE_REKEY:
		keel_req_done(sa);
		return;
	}
}

int keel_task_info_respond(struct keel_sa *sa, struct ike_sa *ike, uint32_t msg_id)
{
	struct msg_wr mw;
	uint32_t ours[KEEL_MAX_CHILDREN];
	size_t n_ours = 0;
	bool delete_ike = false, deleted_child = false;
	const struct keel_v2_raw_payload *raw = NULL;
	int rc;

	keel_msg_begin(sa, &mw, ike, KEEL_V2_EXCHANGE_INFORMATIONAL, true, msg_id, true);
	while ((raw = keel_v2_chain_find(sa->rx.c, KEEL_V2_PAYLOAD_DELETE, raw)) != NULL) {
		if (keel_v2_payload_decode(raw, &sa->pl_rx) < 0)
			continue;
		const struct keel_v2_delete *d = &sa->pl_rx.u.del;
		if (d->protocol == KEEL_V2_PROTO_IKE) {
			delete_ike = true;
			continue;
		}
		if (d->protocol != sa->child_proto || d->spi_size != 4 ||
		    d->spis.len != (size_t)d->n_spis * 4)
			continue;
		for (size_t i = 0; i < d->n_spis; i++) {
			/* the gateway names the SPI it receives on: our outbound SPI */
			struct child_sa *c = keel_child_by_spi_out(sa, be32(d->spis.p + 4 * i));
			if (!c) {
				keel_log(sa, KEEL_LOG_DEBUG,
				         "the gateway deleted an unknown CHILD SA");
				continue;
			}
			/* RFC 7296 §1.4.1: the paired SAs go in the answer, unless we are
			 * deleting them ourselves (crossed DELETEs) */
			if (c->state != CHILD_DELETING && n_ours < KEEL_MAX_CHILDREN)
				ours[n_ours++] = c->spi_in;
			bool replaced = c->state == CHILD_REKEYED;
			keel_log(sa, replaced ? KEEL_LOG_DEBUG : KEEL_LOG_INFO,
			         "the gateway deleted CHILD SA %08" PRIx32 "_i %08" PRIx32 "_o",
			         c->spi_in, c->spi_out);
			keel_child_remove(sa, c,
			                  replaced ? KEEL_REASON_REKEYED : KEEL_REASON_PEER_DELETE);
			deleted_child |= !replaced;
		}
	}
	if (!delete_ike && n_ours > 0)
		keel_add_delete(&mw, sa->child_proto, ours, n_ours);
	uint16_t err = keel_rx_error(sa);
	if (err)
		keel_log(sa, KEEL_LOG_WARN, "the gateway reports %s", keel_v2_notify_name(err));
	if (!delete_ike && !deleted_child &&
	    keel_v2_chain_find(sa->rx.c, KEEL_V2_PAYLOAD_DELETE, NULL) == NULL)
		keel_log(sa, KEEL_LOG_DEBUG, "answering the gateway's liveness check");
	rc = keel_msg_respond(sa, &mw);
	if (rc < 0)
		return rc;

	if (delete_ike) {
		if (ike != sa->ike) {
			/* the replaced (or a redundant) IKE SA: the current one carries on */
			keel_log(sa, KEEL_LOG_DEBUG, "the gateway deleted IKE SA %016" PRIx64 "_i",
			         ike->spi_i);
			keel_ike_free(sa, ike);
			return 0;
		}
		if (sa->stopping)
			keel_sa_close(sa, KEEL_REASON_USER, "disconnected");
		else
			keel_sa_close(sa, KEEL_REASON_PEER_DELETE,
			              "the gateway closed the connection");
		return 0;
	}
	if (deleted_child && keel_child_count_live(sa) == 0 &&
	    !(sa->req_active && sa->req.kind == TASK_CHILD_REKEY)) {
		/* a client with no tunnel left is of no use */
		keel_sa_fail_delete(sa, KEEL_REASON_PEER_DELETE, "the gateway closed the tunnel");
	}
	return 0;
}
