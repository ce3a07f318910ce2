/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IKEv2 traffic selectors (RFC 7296 §3.13.1: address ranges, a protocol,
 * port ranges) as XFRM selectors (prefixes, a protocol, port/mask), for
 * xfrm.c's policies. Private to the platform library; its own file so the
 * arithmetic is unit-tested on any kernel (tests/kernel/test-xfrm-ts.c).
 */
#ifndef KEEL_PLATFORM_XFRM_TS_H
#define KEEL_PLATFORM_XFRM_TS_H

#include <stddef.h>
#include <stdint.h>

#include <linux/xfrm.h>

#include <keel/config.h>

/* Caps on what the TS lists of one CHILD SA may expand to. */
#define KEEL_XFRM_MAX_PREFIXES_PER_TS    32
#define KEEL_XFRM_MAX_PORT_BLOCKS_PER_TS 16
#define KEEL_XFRM_MAX_SELECTOR_PAIRS     128

/* One pair of policy selectors and their priority. */
struct keel_xfrm_sel {
	struct xfrm_selector out; /* local -> remote: the out policy */
	struct xfrm_selector in;  /* remote -> local: the in and fwd policies */
	uint32_t priority;        /* KEEL_XFRM_PRIORITY_BASE - specificity */
};

/* AF_INET, AF_INET6 or AF_UNSPEC for a Keel address family. */
int keel_xfrm_af(enum keel_af f);

/*
 * Every selector pair for each local TS with each remote TS of the same
 * family and a compatible protocol (equal, or one of them any): address
 * ranges split into the fewest prefixes, port ranges into the fewest
 * aligned port/mask blocks. ICMP (1; ICMPv6 58): the TS ports hold type
 * (high byte) and code (low byte); XFRM matches the type as the source
 * port and the code as the destination port; a TS may say any, one type,
 * or one type and code.
 * *out is malloc'ed (the caller frees it) with *n_out entries, written only
 * on success. Errors (with a sentence in err, which may be NULL): -EINVAL
 * (no pair of the same family and protocol), -E2BIG (beyond the caps
 * above), -EOPNOTSUPP (an ICMP range over several types), -ENOMEM.
 */
int keel_xfrm_ts_selectors(const struct keel_ts *local, size_t n_local,
                           const struct keel_ts *remote, size_t n_remote,
                           struct keel_xfrm_sel **out, size_t *n_out, char *err, size_t err_cap);

#endif
