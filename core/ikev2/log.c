/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The IKEv2 SA's side of the output queue (util/outq.c) and the names of
 * states and reasons.
 */
#include <stdarg.h>

#include "ikev1/ikev1.h"
#include "ikev2/sa.h"

struct keel_out *keel_out_push(struct keel_sa *sa, enum keel_out_kind kind, size_t data_len,
                               bool secret, uint8_t **data)
{
	return keel_outq_push(&sa->outq, kind, data_len, secret, data);
}

void keel_out_clear(struct keel_sa *sa)
{
	keel_outq_clear(&sa->outq);
}

void keel_out_release(struct keel_sa *sa)
{
	keel_outq_release(&sa->outq);
}

bool keel_sa_pop(struct keel_sa *sa, struct keel_out *out)
{
	if (!sa)
		return false;
	if (sa->v1)
		return keel_v1sa_pop(sa->v1, out);
	return keel_outq_pop(&sa->outq, out);
}

void keel_log(struct keel_sa *sa, enum keel_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	keel_outq_vlog(&sa->outq, sa->cfg.log_level, level, fmt, ap);
	va_end(ap);
}

void keel_sa_set_state(struct keel_sa *sa, enum keel_state state, enum keel_reason reason,
                       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	keel_outq_vset_state(&sa->outq, &sa->state, state, reason, fmt, ap);
	va_end(ap);
}

const char *keel_state_name(enum keel_state s)
{
	switch (s) {
	case KEEL_STATE_IDLE:
		return "idle";
	case KEEL_STATE_CONNECTING:
		return "connecting";
	case KEEL_STATE_IKE_SA_INIT:
		return "ike-sa-init";
	case KEEL_STATE_AUTHENTICATING:
		return "authenticating";
	case KEEL_STATE_ESTABLISHED:
		return "established";
	case KEEL_STATE_REKEYING:
		return "rekeying";
	case KEEL_STATE_CLOSING:
		return "closing";
	case KEEL_STATE_CLOSED:
		return "closed";
	case KEEL_STATE_FAILED:
		return "failed";
	}
	return "unknown";
}

const char *keel_reason_name(enum keel_reason r)
{
	switch (r) {
	case KEEL_REASON_NONE:
		return "none";
	case KEEL_REASON_USER:
		return "user";
	case KEEL_REASON_REKEYED:
		return "rekeyed";
	case KEEL_REASON_PEER_DELETE:
		return "peer-delete";
	case KEEL_REASON_TIMEOUT:
		return "timeout";
	case KEEL_REASON_DEAD_PEER:
		return "dead-peer";
	case KEEL_REASON_NO_PROPOSAL:
		return "no-proposal";
	case KEEL_REASON_AUTH_REFUSED:
		return "auth-refused";
	case KEEL_REASON_PEER_AUTH:
		return "peer-auth";
	case KEEL_REASON_PEER_ID:
		return "peer-id";
	case KEEL_REASON_TS_UNACCEPTABLE:
		return "ts-unacceptable";
	case KEEL_REASON_CP_REQUIRED:
		return "cp-required";
	case KEEL_REASON_NO_ADDRESS:
		return "no-address";
	case KEEL_REASON_PEER_ERROR:
		return "peer-error";
	case KEEL_REASON_PROTOCOL:
		return "protocol";
	case KEEL_REASON_EXPIRED:
		return "expired";
	case KEEL_REASON_CONFIG:
		return "config";
	case KEEL_REASON_INTERNAL:
		return "internal";
	case KEEL_REASON_CERT_UNTRUSTED:
		return "cert-untrusted";
	case KEEL_REASON_CERT_EXPIRED:
		return "cert-expired";
	case KEEL_REASON_CERT_ID:
		return "cert-id";
	case KEEL_REASON_CERT_KEY_USAGE:
		return "cert-key-usage";
	case KEEL_REASON_EAP_REFUSED:
		return "eap-refused";
	case KEEL_REASON_EAP_METHOD:
		return "eap-method";
	}
	return "unknown";
}
