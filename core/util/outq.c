/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/outq.h"

struct keel_outq_item {
	struct keel_outq_item *next;
	struct keel_out out;
	bool secret;
	size_t data_len;
	uint8_t data[]; /* what out's pointers refer to */
};

static void item_free(struct keel_outq_item *it)
{
	if (!it)
		return;
	if (it->secret)
		OPENSSL_cleanse(it->data, it->data_len);
	free(it);
}

struct keel_out *keel_outq_push(struct keel_outq *q, enum keel_out_kind kind, size_t data_len,
                                bool secret, uint8_t **data)
{
	struct keel_out *o = NULL;
	struct keel_outq_item *it = calloc(1, sizeof(*it) + data_len);
	if (!it) {
		q->nomem = true;
		goto out;
	}
	it->out.kind = kind;
	it->secret = secret;
	it->data_len = data_len;
	if (data)
		*data = it->data;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	o = &it->out;
out:
	return o;
}

bool keel_outq_push_netcfg(struct keel_outq *q, const struct keel_out_netcfg *nc)
{
	uint8_t *data;
	size_t dns_len = nc->n_dns * sizeof(struct keel_addr);
	size_t routes_len = nc->n_routes * sizeof(struct keel_prefix);
	struct keel_out *o = keel_outq_push(q, KEEL_OUT_NETCFG, dns_len + routes_len, false, &data);
	if (!o)
		return false;
	struct keel_out_netcfg *copy = &o->u.netcfg;
	*copy = *nc;
	/* struct keel_addr and keel_prefix are 4-byte aligned; data is max-aligned */
	if (dns_len)
		memcpy(data, nc->dns, dns_len);
	if (routes_len)
		memcpy(data + dns_len, nc->routes, routes_len);
	copy->dns = nc->n_dns ? (const struct keel_addr *)(void *)data : NULL;
	copy->routes = nc->n_routes ? (const struct keel_prefix *)(void *)(data + dns_len) : NULL;
	return true;
}

void keel_outq_release(struct keel_outq *q)
{
	item_free(q->popped);
	q->popped = NULL;
}

void keel_outq_clear(struct keel_outq *q)
{
	keel_outq_release(q);
	while (q->head) {
		struct keel_outq_item *it = q->head;
		q->head = it->next;
		item_free(it);
	}
	q->tail = NULL;
}

bool keel_outq_pop(struct keel_outq *q, struct keel_out *out)
{
	bool ok = false;
	struct keel_outq_item *it;
	if (!out)
		goto out;
	keel_outq_release(q);
	it = q->head;
	if (!it)
		goto out;
	q->head = it->next;
	if (!q->head)
		q->tail = NULL;
	it->next = NULL;
	q->popped = it;
	*out = it->out;
	ok = true;
out:
	return ok;
}

/*
 * Queues a copy of tmpl (a log line or a state change) whose text is the
 * formatted line.
 */
__attribute__((format(printf, 3, 0))) static void
push_text(struct keel_outq *q, const struct keel_out *tmpl, const char *fmt, va_list ap)
{
	char line[KEEL_OUTQ_LINE_MAX];
	if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
		line[0] = '\0';
	size_t len = strlen(line);
	/* one line: no control character may come through a %s */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	uint8_t *data;
	struct keel_out *o = keel_outq_push(q, tmpl->kind, len + 1, false, &data);
	if (!o)
		goto out;
	memcpy(data, line, len + 1);
	*o = *tmpl;
	if (o->kind == KEEL_OUT_LOG)
		o->u.log.text = (const char *)data;
	else
		o->u.state.text = (const char *)data;
out:
	return;
}

void keel_outq_vlog(struct keel_outq *q, enum keel_log_level max, enum keel_log_level level,
                    const char *fmt, va_list ap)
{
	struct keel_out tmpl = {.kind = KEEL_OUT_LOG, .u.log.level = level};
	if (level <= max)
		push_text(q, &tmpl, fmt, ap);
}

void keel_outq_vset_state(struct keel_outq *q, enum keel_state *cur, enum keel_state state,
                          enum keel_reason reason, const char *fmt, va_list ap)
{
	struct keel_out tmpl = {.kind = KEEL_OUT_STATE,
	                        .u.state = {.state = state, .reason = reason}};
	if (*cur == state)
		return;
	*cur = state;
	push_text(q, &tmpl, fmt, ap);
}
