/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Traffic selectors -> XFRM selectors (see xfrm-ts.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <keel-platform/xfrm.h>

#include "xfrm-ts.h"

#define IPPROTO_ICMPV6_ 58

__attribute__((format(printf, 3, 4))) static void set_msg(char *buf, size_t cap, const char *fmt,
                                                          ...)
{
	va_list ap;
	if (!buf || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

int keel_xfrm_af(enum keel_af f)
{
	switch (f) {
	case KEEL_AF_INET:
		return AF_INET;
	case KEEL_AF_INET6:
		return AF_INET6;
	case KEEL_AF_UNSPEC:
		return AF_UNSPEC;
	}
	return AF_UNSPEC;
}

struct pfx {
	uint8_t addr[16];
	uint8_t len;
};

static bool bit_get(const uint8_t *a, unsigned i)
{
	return a[i / 8] >> (7 - i % 8) & 1;
}

/* Splits [start, end] (nbytes each, big-endian) into prefixes. Count, or -E2BIG. */
static int range_to_prefixes(const uint8_t *start, const uint8_t *end, size_t nbytes,
                             struct pfx *out, size_t max)
{
	unsigned nbits = (unsigned)nbytes * 8;
	uint8_t cur[16], last[16];
	size_t n = 0;

	if (memcmp(start, end, nbytes) > 0)
		return 0;
	memcpy(cur, start, nbytes);
	for (;;) {
		/* the largest block that starts at cur and ends by end */
		unsigned plen;
		for (plen = 0; plen < nbits; plen++) {
			bool aligned = true;
			for (unsigned i = plen; i < nbits && aligned; i++)
				aligned = !bit_get(cur, i);
			if (!aligned)
				continue;
			memcpy(last, cur, nbytes);
			for (unsigned i = plen; i < nbits; i++)
				last[i / 8] |= (uint8_t)(0x80 >> (i % 8));
			if (memcmp(last, end, nbytes) <= 0)
				break;
		}
		if (plen == nbits)
			memcpy(last, cur, nbytes);
		if (n == max)
			return -E2BIG;
		memcpy(out[n].addr, cur, nbytes);
		out[n].len = (uint8_t)plen;
		n++;
		if (memcmp(last, end, nbytes) >= 0)
			break;
		/* cur = last + 1; cannot wrap since last < end */
		memcpy(cur, last, nbytes);
		for (size_t i = nbytes; i-- > 0;)
			if (++cur[i] != 0)
				break;
	}
	return (int)n;
}

struct port_block {
	uint16_t port;
	uint16_t mask; /* 0: any */
};

/* Splits [start, end] into aligned port/mask blocks. Count, or -E2BIG. */
static int ports_to_blocks(uint16_t start, uint16_t end, struct port_block *out, size_t max)
{
	uint32_t cur = start;
	size_t n = 0;

	while (cur <= end) {
		uint32_t size = 1;
		while (size < 65536 && cur % (size * 2) == 0 && cur + size * 2 - 1 <= end)
			size *= 2;
		if (n == max)
			return -E2BIG;
		out[n].port = (uint16_t)cur;
		out[n].mask = (uint16_t)(~(size - 1) & 0xffff);
		n++;
		cur += size;
	}
	return (int)n;
}

/*
 * ICMP: the TS port fields hold type (high byte) and code (low byte), RFC
 * 7296 §3.13.1; XFRM selectors match type as the source port and code as
 * the destination port. What one TS says is "any", one type, or one type
 * and code. Returns 0 and sets *has_type and *has_code, or -EOPNOTSUPP.
 */
static int icmp_part(const struct keel_ts *ts, bool *has_type, uint8_t *type, bool *has_code,
                     uint8_t *code)
{
	*has_type = *has_code = false;
	if (ts->port_start == 0 && ts->port_end == 0xffff)
		return 0;
	if ((ts->port_start >> 8) != (ts->port_end >> 8))
		return -EOPNOTSUPP;
	*has_type = true;
	*type = (uint8_t)(ts->port_start >> 8);
	if ((ts->port_start & 0xff) == 0 && (ts->port_end & 0xff) == 0xff)
		return 0;
	if (ts->port_start != ts->port_end)
		return -EOPNOTSUPP;
	*has_code = true;
	*code = (uint8_t)ts->port_start;
	return 0;
}

static uint32_t priority_of(const struct xfrm_selector *s)
{
	/* more specific selectors get lower numbers, which win */
	uint32_t spec = ((uint32_t)s->prefixlen_s + s->prefixlen_d) * 4u;
	spec += s->proto ? 2 : 0;
	spec += s->sport_mask || s->dport_mask ? 1 : 0;
	return KEEL_XFRM_PRIORITY_BASE - spec;
}

static void sel_mirror(const struct xfrm_selector *o, struct xfrm_selector *i)
{
	memset(i, 0, sizeof(*i));
	i->family = o->family;
	i->proto = o->proto;
	i->saddr = o->daddr;
	i->daddr = o->saddr;
	i->prefixlen_s = o->prefixlen_d;
	i->prefixlen_d = o->prefixlen_s;
	i->sport = o->dport;
	i->sport_mask = o->dport_mask;
	i->dport = o->sport;
	i->dport_mask = o->sport_mask;
}

int keel_xfrm_ts_selectors(const struct keel_ts *local, size_t n_local,
                           const struct keel_ts *remote, size_t n_remote,
                           struct keel_xfrm_sel **out, size_t *n_out, char *err, size_t err_cap)
{
	struct keel_xfrm_sel *v = calloc(KEEL_XFRM_MAX_SELECTOR_PAIRS, sizeof(*v));
	struct pfx lp[KEEL_XFRM_MAX_PREFIXES_PER_TS], rp[KEEL_XFRM_MAX_PREFIXES_PER_TS];
	struct port_block lb[KEEL_XFRM_MAX_PORT_BLOCKS_PER_TS],
	    rb[KEEL_XFRM_MAX_PORT_BLOCKS_PER_TS];
	size_t n = 0;
	int rc = 0;

	if (!v) {
		set_msg(err, err_cap, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_local; i++) {
		const struct keel_ts *l = &local[i];
		for (size_t j = 0; j < n_remote; j++) {
			const struct keel_ts *r = &remote[j];
			int af = keel_xfrm_af(l->family);
			size_t alen = af == AF_INET ? 4 : af == AF_INET6 ? 16 : 0;
			if (l->family != r->family || alen == 0)
				continue;
			if (l->ip_proto && r->ip_proto && l->ip_proto != r->ip_proto)
				continue; /* no packet can match both */
			uint8_t proto = l->ip_proto ? l->ip_proto : r->ip_proto;
			int nl = range_to_prefixes(l->start, l->end, alen, lp,
			                           KEEL_XFRM_MAX_PREFIXES_PER_TS);
			int nr = range_to_prefixes(r->start, r->end, alen, rp,
			                           KEEL_XFRM_MAX_PREFIXES_PER_TS);
			if (nl < 0 || nr < 0) {
				set_msg(err, err_cap,
				        "a traffic selector spans more than %d prefixes",
				        KEEL_XFRM_MAX_PREFIXES_PER_TS);
				rc = -E2BIG;
				goto out;
			}
			bool icmp = (af == AF_INET && proto == IPPROTO_ICMP) ||
			            (af == AF_INET6 && proto == IPPROTO_ICMPV6_);
			int nlb = 1, nrb = 1;
			struct xfrm_selector icmp_sel;
			memset(&icmp_sel, 0, sizeof(icmp_sel));
			if (icmp) {
				bool lt, lc, rt, rc2;
				uint8_t ltv = 0, lcv = 0, rtv = 0, rcv = 0;
				if (icmp_part(l, &lt, &ltv, &lc, &lcv) < 0 ||
				    icmp_part(r, &rt, &rtv, &rc2, &rcv) < 0) {
					set_msg(err, err_cap,
					        "an ICMP traffic selector spans several types, "
					        "which XFRM cannot express");
					rc = -EOPNOTSUPP;
					goto out;
				}
				if ((lt && rt && ltv != rtv) || (lc && rc2 && lcv != rcv))
					continue;
				if (lt || rt) {
					icmp_sel.sport = htons(lt ? ltv : rtv);
					icmp_sel.sport_mask = 0xffff;
				}
				if (lc || rc2) {
					icmp_sel.dport = htons(lc ? lcv : rcv);
					icmp_sel.dport_mask = 0xffff;
				}
			} else {
				nlb = ports_to_blocks(l->port_start, l->port_end, lb,
				                      KEEL_XFRM_MAX_PORT_BLOCKS_PER_TS);
				nrb = ports_to_blocks(r->port_start, r->port_end, rb,
				                      KEEL_XFRM_MAX_PORT_BLOCKS_PER_TS);
				if (nlb < 0 || nrb < 0) {
					set_msg(
					    err, err_cap,
					    "a traffic selector's port range needs more than %d "
					    "port/mask blocks",
					    KEEL_XFRM_MAX_PORT_BLOCKS_PER_TS);
					rc = -E2BIG;
					goto out;
				}
			}
			for (int a = 0; a < nl; a++)
				for (int b = 0; b < nr; b++)
					for (int pa = 0; pa < nlb; pa++)
						for (int pb = 0; pb < nrb; pb++) {
							if (n == KEEL_XFRM_MAX_SELECTOR_PAIRS) {
								set_msg(
								    err, err_cap,
								    "the traffic selectors need "
								    "more than %d "
								    "selector pairs",
								    KEEL_XFRM_MAX_SELECTOR_PAIRS);
								rc = -E2BIG;
								goto out;
							}
							struct xfrm_selector *s = &v[n].out;
							*s = icmp_sel;
							s->family = (uint16_t)af;
							s->proto = proto;
							memcpy(&s->saddr, lp[a].addr, alen);
							s->prefixlen_s = lp[a].len;
							memcpy(&s->daddr, rp[b].addr, alen);
							s->prefixlen_d = rp[b].len;
							if (!icmp) {
								s->sport = htons(lb[pa].port);
								s->sport_mask = htons(lb[pa].mask);
								s->dport = htons(rb[pb].port);
								s->dport_mask = htons(rb[pb].mask);
							}
							sel_mirror(s, &v[n].in);
							v[n].priority = priority_of(s);
							n++;
						}
		}
	}
	if (n == 0) {
		set_msg(err, err_cap,
		        "no local and remote traffic selector of the same address "
		        "family and protocol: nothing to install");
		rc = -EINVAL;
	}
out:
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n_out = n;
	return 0;
}
