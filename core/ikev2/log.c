/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The output queue of an SA (datagrams, CHILD SA operations, network
 * configuration, state changes, log lines) and the names of states and
 * reasons.
 *
 * Each queued item is one allocation: the public struct keel_out plus the
 * bytes its pointers refer to. Items holding key material are wiped on free.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ikev1/ikev1.h"
#include "ikev2/sa.h"

struct out_item {
	struct out_item *next;
	struct keel_out out;
	bool secret;
	size_t data_len;
	uint8_t data[]; /* what out's pointers refer to */
};

static void item_free(struct out_item *it)
{
	if (!it)
		return;
	if (it->secret)
		OPENSSL_cleanse(it->data, it->data_len);
	free(it);
}

struct keel_out *keel_out_push(struct keel_sa *sa, enum keel_out_kind kind, size_t data_len,
                               bool secret, uint8_t **data)
{
	struct out_item *it = calloc(1, sizeof(*it) + data_len);
	if (!it) {
		sa->nomem = true;
		return NULL;
	}
	it->out.kind = kind;
	it->secret = secret;
	it->data_len = data_len;
	if (data)
		*data = it->data;
	if (sa->out_tail)
		sa->out_tail->next = it;
	else
		sa->out_head = it;
	sa->out_tail = it;
	return &it->out;
}

void keel_out_clear(struct keel_sa *sa)
{
	item_free(sa->out_popped);
	sa->out_popped = NULL;
	while (sa->out_head) {
		struct out_item *it = sa->out_head;
		sa->out_head = it->next;
		item_free(it);
	}
	sa->out_tail = NULL;
}

void keel_out_release(struct keel_sa *sa)
{
	item_free(sa->out_popped);
	sa->out_popped = NULL;
}

bool keel_sa_pop(struct keel_sa *sa, struct keel_out *out)
{
	if (!sa)
		return false;
	if (sa->v1)
		return keel_v1sa_pop(sa->v1, out);
	keel_out_release(sa);
	struct out_item *it = sa->out_head;
	if (!it)
		return false;
	sa->out_head = it->next;
	if (!sa->out_head)
		sa->out_tail = NULL;
	it->next = NULL;
	sa->out_popped = it;
	*out = it->out;
	return true;
}

__attribute__((format(printf, 3, 0))) static char *push_text(struct keel_sa *sa,
                                                             enum keel_out_kind kind,
                                                             const char *fmt, va_list ap,
                                                             struct keel_out **o)
{
	char line[KEEL_LOG_LINE_MAX];
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		n = 0;
	size_t len = strlen(line);
	/* one line: no control characters may come through a %s */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	uint8_t *data;
	*o = keel_out_push(sa, kind, len + 1, false, &data);
	if (!*o)
		return NULL;
	memcpy(data, line, len + 1);
	return (char *)data;
}

void keel_log(struct keel_sa *sa, enum keel_log_level level, const char *fmt, ...)
{
	if (level > sa->cfg.log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	struct keel_out *o;
	char *text = push_text(sa, KEEL_OUT_LOG, fmt, ap, &o);
	va_end(ap);
	if (!text)
		return;
	o->u.log.level = level;
	o->u.log.text = text;
}

void keel_sa_set_state(struct keel_sa *sa, enum keel_state state, enum keel_reason reason,
                       const char *fmt, ...)
{
	if (sa->state == state)
		return;
	sa->state = state;
	va_list ap;
	va_start(ap, fmt);
	struct keel_out *o;
	char *text = push_text(sa, KEEL_OUT_STATE, fmt, ap, &o);
	va_end(ap);
	if (!text)
		return;
	o->u.state.state = state;
	o->u.state.reason = reason;
	o->u.state.text = text;
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
