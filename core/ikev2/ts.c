/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "ikev2/ts.h"

bool keel_ts_within(const struct keel_ts *a, const struct keel_ts *b)
{
	size_t n = (size_t)keel_af_addr_len(a->family);
	if (a->family != b->family || n == 0)
		return false;
	if (b->ip_proto != 0 && a->ip_proto != b->ip_proto)
		return false;
	if (a->port_start < b->port_start || a->port_end > b->port_end)
		return false;
	if (a->port_start > a->port_end || memcmp(a->start, a->end, n) > 0)
		return false;
	return memcmp(a->start, b->start, n) >= 0 && memcmp(a->end, b->end, n) <= 0;
}

bool keel_ts_narrowed_ok(const struct keel_ts *got, size_t n_got, const struct keel_ts *asked,
                         size_t n_asked)
{
	if (n_got == 0)
		return false;
	for (size_t i = 0; i < n_got; i++) {
		bool ok = false;
		for (size_t j = 0; j < n_asked && !ok; j++)
			ok = keel_ts_within(&got[i], &asked[j]);
		if (!ok)
			return false;
	}
	return true;
}

void keel_ts_all(enum keel_af family, struct keel_ts *out)
{
	memset(out, 0, sizeof(*out));
	out->family = family;
	out->port_start = 0;
	out->port_end = 0xffff;
	memset(out->end, 0xff, (size_t)keel_af_addr_len(family));
}

/* a += 1 over n bytes; returns true on wrap-around to zero */
static bool addr_inc(uint8_t *a, size_t n)
{
	for (size_t i = n; i-- > 0;)
		if (++a[i] != 0)
			return false;
	return true;
}

bool keel_ts_to_prefixes(const struct keel_ts *ts, struct keel_prefix *out, size_t cap, size_t *n)
{
	size_t len = (size_t)keel_af_addr_len(ts->family);
	size_t bits = len * 8;
	uint8_t cur[16];
	if (len == 0 || memcmp(ts->start, ts->end, len) > 0)
		return true;
	memcpy(cur, ts->start, len);
	for (;;) {
		/* the largest block starting at cur that is aligned and ends <= end */
		size_t host = 0;
		while (host < bits) {
			size_t bit = bits - 1 - host; /* bit index from the left */
			if (cur[bit / 8] & (1u << (7 - bit % 8)))
				break; /* not aligned for a larger block */
			uint8_t last[16];
			memcpy(last, cur, len);
			for (size_t k = bits - host - 1; k < bits; k++)
				last[k / 8] |= (uint8_t)(1u << (7 - k % 8));
			if (memcmp(last, ts->end, len) > 0)
				break;
			host++;
		}
		if (*n >= cap)
			return false;
		struct keel_prefix *p = &out[(*n)++];
		memset(p, 0, sizeof(*p));
		p->addr.family = ts->family;
		memcpy(p->addr.bytes, cur, len);
		p->prefix_len = (uint8_t)(bits - host);
		/* advance past the block */
		uint8_t last[16];
		memcpy(last, cur, len);
		for (size_t k = bits - host; k < bits; k++)
			last[k / 8] |= (uint8_t)(1u << (7 - k % 8));
		if (memcmp(last, ts->end, len) >= 0)
			return true;
		memcpy(cur, last, len);
		if (addr_inc(cur, len))
			return true;
	}
}
