/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The IKEv1 SA's side of the output queue (util/outq.c), and the text
 * helpers of the log lines.
 */
#include <stdarg.h>
#include <stdio.h>

#include "ikev1/sa.h"

struct keel_out *keel_v1sa_out_push(struct keel_v1sa *sa, enum keel_out_kind kind, size_t data_len,
                                    bool secret, uint8_t **data)
{
	return keel_outq_push(&sa->outq, kind, data_len, secret, data);
}

void keel_v1sa_out_release(struct keel_v1sa *sa)
{
	keel_outq_release(&sa->outq);
}

void keel_v1sa_out_clear(struct keel_v1sa *sa)
{
	keel_outq_clear(&sa->outq);
}

bool keel_v1sa_pop(struct keel_v1sa *sa, struct keel_out *out)
{
	return sa && keel_outq_pop(&sa->outq, out);
}

void keel_v1sa_log(struct keel_v1sa *sa, enum keel_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	keel_outq_vlog(&sa->outq, sa->cfg.log_level, level, fmt, ap);
	va_end(ap);
}

void keel_v1sa_set_state(struct keel_v1sa *sa, enum keel_state state, enum keel_reason reason,
                         const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	keel_outq_vset_state(&sa->outq, &sa->state, state, reason, fmt, ap);
	va_end(ap);
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
