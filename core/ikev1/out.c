/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The output queue of an IKEv1 SA (datagrams, CHILD SA operations, network
 * configuration, state changes, log lines), and the text helpers of the
 * log lines.
 *
 * Each queued item is one allocation: the public struct keel_out plus the
 * bytes its pointers refer to. Items holding key material are wiped on free.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ikev1/sa.h"

struct v1_out_item {
	struct v1_out_item *next;
	struct keel_out out;
	bool secret;
	size_t data_len;
	uint8_t data[]; /* what out's pointers refer to */
};

static void item_free(struct v1_out_item *it)
{
	if (!it)
		return;
	if (it->secret)
		OPENSSL_cleanse(it->data, it->data_len);
	free(it);
}

struct keel_out *keel_v1sa_out_push(struct keel_v1sa *sa, enum keel_out_kind kind, size_t data_len,
                                    bool secret, uint8_t **data)
{
	struct v1_out_item *it = calloc(1, sizeof(*it) + data_len);
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

void keel_v1sa_out_release(struct keel_v1sa *sa)
{
	item_free(sa->out_popped);
	sa->out_popped = NULL;
}

void keel_v1sa_out_clear(struct keel_v1sa *sa)
{
	keel_v1sa_out_release(sa);
	while (sa->out_head) {
		struct v1_out_item *it = sa->out_head;
		sa->out_head = it->next;
		item_free(it);
	}
	sa->out_tail = NULL;
}

bool keel_v1sa_pop(struct keel_v1sa *sa, struct keel_out *out)
{
	if (!sa || !out)
		return false;
	keel_v1sa_out_release(sa);
	struct v1_out_item *it = sa->out_head;
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

__attribute__((format(printf, 3, 0))) static char *push_text(struct keel_v1sa *sa,
                                                             enum keel_out_kind kind,
                                                             const char *fmt, va_list ap,
                                                             struct keel_out **o)
{
	char line[V1_LOG_LINE_MAX];
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		line[0] = '\0';
	size_t len = strlen(line);
	/* one line: no control character may come through a %s */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	uint8_t *data;
	*o = keel_v1sa_out_push(sa, kind, len + 1, false, &data);
	if (!*o)
		return NULL;
	memcpy(data, line, len + 1);
	return (char *)data;
}

void keel_v1sa_log(struct keel_v1sa *sa, enum keel_log_level level, const char *fmt, ...)
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

void keel_v1sa_set_state(struct keel_v1sa *sa, enum keel_state state, enum keel_reason reason,
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

enum keel_state keel_v1sa_state(const struct keel_v1sa *sa)
{
	return sa ? sa->state : KEEL_STATE_IDLE;
}

/* ---- text ---- */

void keel_v1_addr_text(enum keel_af family, const uint8_t *bytes, char *buf, size_t cap)
{
	if (cap == 0)
		return;
	buf[0] = '\0';
	if (family == KEEL_AF_INET) {
		snprintf(buf, cap, "%u.%u.%u.%u", bytes[0], bytes[1], bytes[2], bytes[3]);
		return;
	}
	if (family != KEEL_AF_INET6)
		return;
	/* RFC 5952 §4: the longest run (of at least two) of zero groups becomes "::" */
	uint16_t g[8];
	for (int i = 0; i < 8; i++)
		g[i] = (uint16_t)(bytes[2 * i] << 8 | bytes[2 * i + 1]);
	int best = -1, best_len = 0;
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > best_len && j - i >= 2) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	size_t len = 0;
	for (int i = 0; i < 8 && len < cap; i++) {
		int w;
		if (i == best) {
			w = snprintf(buf + len, cap - len, "::");
			i += best_len - 1;
		} else {
			bool sep = i > 0 && i != best + best_len;
			w = snprintf(buf + len, cap - len, "%s%x", sep ? ":" : "", g[i]);
		}
		if (w < 0)
			return;
		len += (size_t)w;
	}
}

void keel_v1_escape(const uint8_t *p, size_t len, char *buf, size_t cap)
{
	size_t n = 0;
	if (cap == 0)
		return;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			if (n + 1 >= cap)
				break;
			buf[n++] = (char)c;
		} else {
			if (n + 4 >= cap)
				break;
			snprintf(buf + n, cap - n, "\\x%02x", c);
			n += 4;
		}
	}
	buf[n] = '\0';
}

void keel_v1_ts_text(const struct keel_ts *ts, size_t n, char *buf, size_t cap)
{
	size_t len = 0;
	if (cap == 0)
		return;
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

const char *keel_v1sa_domain(const struct keel_v1sa *sa)
{
	return sa && sa->domain[0] ? sa->domain : NULL;
}

const char *keel_v1sa_banner(const struct keel_v1sa *sa)
{
	return sa && sa->banner[0] ? sa->banner : NULL;
}
