/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Traffic selectors as XFRM selectors (platform/xfrm-ts.c): address ranges
 * to prefixes, port ranges to port/mask blocks, ICMP type and code, family
 * and protocol pairing, caps and priorities. No kernel involved.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <keel-platform/xfrm.h>

#include "check.h"
#include "xfrm-ts.h"

static struct keel_ts ts(const char *start, const char *end, uint8_t proto, uint16_t p0,
                         uint16_t p1)
{
	struct keel_ts t = {.ip_proto = proto, .port_start = p0, .port_end = p1};
	if (inet_pton(AF_INET, start, t.start) == 1 && inet_pton(AF_INET, end, t.end) == 1)
		t.family = KEEL_AF_INET;
	else if (inet_pton(AF_INET6, start, t.start) == 1 && inet_pton(AF_INET6, end, t.end) == 1)
		t.family = KEEL_AF_INET6;
	else
		abort();
	return t;
}

static struct keel_ts any4(void)
{
	return ts("0.0.0.0", "255.255.255.255", 0, 0, 0xffff);
}

static char *text(int af, const xfrm_address_t *a, unsigned plen, char *buf, size_t cap)
{
	char s[INET6_ADDRSTRLEN];
	inet_ntop(af, a, s, sizeof(s));
	snprintf(buf, cap, "%s/%u", s, plen);
	return buf;
}

#define CHECK_SEL_SRC(sel, want)                                                                   \
	do {                                                                                       \
		char b_[64];                                                                       \
		text((sel).family, &(sel).saddr, (sel).prefixlen_s, b_, sizeof(b_));               \
		CHECK(strcmp(b_, want) == 0);                                                      \
		if (strcmp(b_, want) != 0)                                                         \
			fprintf(stderr, "  src %s, expected %s\n", b_, want);                      \
	} while (0)

#define CHECK_SEL_DST(sel, want)                                                                   \
	do {                                                                                       \
		char b_[64];                                                                       \
		text((sel).family, &(sel).daddr, (sel).prefixlen_d, b_, sizeof(b_));               \
		CHECK(strcmp(b_, want) == 0);                                                      \
		if (strcmp(b_, want) != 0)                                                         \
			fprintf(stderr, "  dst %s, expected %s\n", b_, want);                      \
	} while (0)

static void test_prefixes(void)
{
	struct keel_ts l = ts("192.0.2.1", "192.0.2.6", 0, 0, 0xffff);
	struct keel_ts r = ts("198.51.100.0", "198.51.100.255", 0, 0, 0xffff);
	struct keel_xfrm_sel *s = NULL;
	size_t n = 0;

	CHECK_INT(keel_xfrm_ts_selectors(&l, 1, &r, 1, &s, &n, NULL, 0), 0);
	CHECK_INT(n, 4);
	if (n == 4) {
		static const char *want[] = {"192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/31",
		                             "192.0.2.6/32"};
		for (size_t i = 0; i < 4; i++) {
			CHECK_INT(s[i].out.family, AF_INET);
			CHECK_SEL_SRC(s[i].out, want[i]);
			CHECK_SEL_DST(s[i].out, "198.51.100.0/24");
			/* the inbound selector is the mirror image */
			CHECK_SEL_SRC(s[i].in, "198.51.100.0/24");
			CHECK_SEL_DST(s[i].in, want[i]);
			CHECK_INT(s[i].out.proto, 0);
			CHECK_INT(s[i].out.sport_mask | s[i].out.dport_mask, 0);
		}
	}
	free(s);

	/* everything: one /0 */
	l = any4();
	r = any4();
	CHECK_INT(keel_xfrm_ts_selectors(&l, 1, &r, 1, &s, &n, NULL, 0), 0);
	CHECK_INT(n, 1);
	CHECK_SEL_SRC(s[0].out, "0.0.0.0/0");
	CHECK_SEL_DST(s[0].out, "0.0.0.0/0");
	uint32_t prio_any = s[0].priority;
	free(s);

	/* IPv6, and a host pair: more specific, so a lower (winning) priority */
	l = ts("2001:db8::", "2001:db8::ffff", 0, 0, 0xffff);
	r = ts("2001:db8:1::1", "2001:db8:1::1", 0, 0, 0xffff);
	CHECK_INT(keel_xfrm_ts_selectors(&l, 1, &r, 1, &s, &n, NULL, 0), 0);
	CHECK_INT(n, 1);
	CHECK_INT(s[0].out.family, AF_INET6);
	CHECK_SEL_SRC(s[0].out, "2001:db8::/112");
	CHECK_SEL_DST(s[0].out, "2001:db8:1::1/128");
	CHECK(s[0].priority < prio_any);
	CHECK_INT(prio_any, KEEL_XFRM_PRIORITY_BASE);
	CHECK_INT(s[0].priority, KEEL_XFRM_PRIORITY_BASE - (112 + 128) * 4);
	free(s);

	/* the top of the address space ends the split (no wrap to 0.0.0.0) */
	l = ts("255.255.255.254", "255.255.255.255", 0, 0, 0xffff);
	r = any4();
	CHECK_INT(keel_xfrm_ts_selectors(&l, 1, &r, 1, &s, &n, NULL, 0), 0);
	CHECK_INT(n, 1);
	CHECK_SEL_SRC(s[0].out, "255.255.255.254/31");
	free(s);

	/* too many prefixes: 0.0.0.1-255.255.255.254 is 62 of them */
	char err[200] = "";
	l = ts("0.0.0.1", "255.255.255.254", 0, 0, 0xffff);
	s = NULL;
	CHECK_INT(keel_xfrm_ts_selectors(&l, 1, &r, 1, &s, &n, err, sizeof(err)), -E2BIG);
	CHECK(s == NULL);
	CHECK(strstr(err, "prefixes") != NULL);
}

static void test_pairing(void)
{
	struct keel_ts l[2] = {ts("100.64.0.2", "100.64.0.2", 0, 0, 0xffff),
	                       ts("2001:db8::2", "2001:db8::2", 0, 0, 0xffff)};
	struct keel_ts r[3] = {any4(),
	                       ts("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0, 0, 0xffff),
	                       ts("198.51.100.0", "198.51.100.255", 17, 0, 0xffff)};
	struct keel_xfrm_sel *s = NULL;
	size_t n = 0;
	char err[200] = "";

	/* in order: v4 x any4, v4 x udp 198.51.100.0/24, v6 x ::/0 */
	CHECK_INT(keel_xfrm_ts_selectors(l, 2, r, 3, &s, &n, NULL, 0), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_INT(s[0].out.family, AF_INET);
		CHECK_INT(s[1].out.family, AF_INET);
		CHECK_INT(s[1].out.proto, 17);
		CHECK_INT(s[1].in.proto, 17);
		CHECK_SEL_DST(s[1].out, "198.51.100.0/24");
		CHECK(s[1].priority < s[0].priority);
		CHECK_INT(s[2].out.family, AF_INET6);
		CHECK_SEL_DST(s[2].out, "::/0");
	}
	free(s);

	/* TCP against UDP can match nothing */
	struct keel_ts tcp = ts("100.64.0.2", "100.64.0.2", 6, 0, 0xffff);
	struct keel_ts udp = ts("198.51.100.10", "198.51.100.10", 17, 0, 0xffff);
	CHECK_INT(keel_xfrm_ts_selectors(&tcp, 1, &udp, 1, &s, &n, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "nothing to install") != NULL);
	/* no selectors at all */
	CHECK_INT(keel_xfrm_ts_selectors(l, 0, r, 3, &s, &n, NULL, 0), -EINVAL);
}

static void test_ports(void)
{
	struct keel_ts l = ts("100.64.0.2", "100.64.0.2", 6, 0, 0xffff);
	struct keel_ts r = ts("198.51.100.10", "198.51.100.10", 6, 1000, 1999);
	struct keel_xfrm_sel *s = NULL;
	size_t n = 0;

	CHECK_INT(keel_xfrm_ts_selectors(&l, 1, &r, 1, &s, &n, NULL, 0), 0);
	/* 1000-1007, 1008-1023, 1024-1535, 1536-1791, 1792-1919, 1920-1983, 1984-1999 */
	CHECK_INT(n, 7);
	uint32_t next = 1000;
	for (size_t i = 0; i < n; i++) {
		uint16_t port = ntohs(s[i].out.dport), mask = ntohs(s[i].out.dport_mask);
		uint32_t size = (uint32_t)(uint16_t)~mask + 1;
		CHECK_INT(port, next);
		CHECK_INT(port & ~mask, 0); /* aligned */
		CHECK_INT(s[i].out.sport_mask, 0);
		CHECK_INT(ntohs(s[i].in.sport),
		          port); /* mirrored: the remote port is the source inbound */
		CHECK_INT(s[i].in.sport_mask, s[i].out.dport_mask);
		next = port + size;
	}
	CHECK_INT(next, 2000);
	free(s);

	/* one port: an exact match */
	r.port_start = r.port_end = 443;
	CHECK_INT(keel_xfrm_ts_selectors(&l, 1, &r, 1, &s, &n, NULL, 0), 0);
	CHECK_INT(n, 1);
	CHECK_INT(ntohs(s[0].out.dport), 443);
	CHECK_INT(s[0].out.dport_mask, 0xffff);
	free(s);

	/* 1-65534 needs 30 blocks: over the cap */
	char err[200] = "";
	r.port_start = 1;
	r.port_end = 65534;
	CHECK_INT(keel_xfrm_ts_selectors(&l, 1, &r, 1, &s, &n, err, sizeof(err)), -E2BIG);
	CHECK(strstr(err, "port") != NULL);
}

static void test_icmp(void)
{
	/* RFC 7296 §3.13.1: type in the high byte, code in the low byte */
	struct keel_ts l = ts("100.64.0.2", "100.64.0.2", 1, 0x0800, 0x0800); /* echo request */
	struct keel_ts r = ts("198.51.100.10", "198.51.100.10", 1, 0, 0xffff);
	struct keel_xfrm_sel *s = NULL;
	size_t n = 0;
	char err[200] = "";

	CHECK_INT(keel_xfrm_ts_selectors(&l, 1, &r, 1, &s, &n, NULL, 0), 0);
	CHECK_INT(n, 1);
	CHECK_INT(ntohs(s[0].out.sport), 8);
	CHECK_INT(s[0].out.sport_mask, 0xffff);
	CHECK_INT(ntohs(s[0].out.dport), 0);
	CHECK_INT(s[0].out.dport_mask, 0xffff);
	free(s);

	/* destination unreachable, any code */
	l.port_start = 0x0300;
	l.port_end = 0x03ff;
	CHECK_INT(keel_xfrm_ts_selectors(&l, 1, &r, 1, &s, &n, NULL, 0), 0);
	CHECK_INT(n, 1);
	CHECK_INT(ntohs(s[0].out.sport), 3);
	CHECK_INT(s[0].out.sport_mask, 0xffff);
	CHECK_INT(s[0].out.dport_mask, 0);
	free(s);

	/* several types: XFRM cannot say that */
	l.port_start = 0x0000;
	l.port_end = 0x0900;
	CHECK_INT(keel_xfrm_ts_selectors(&l, 1, &r, 1, &s, &n, err, sizeof(err)), -EOPNOTSUPP);
	CHECK(strstr(err, "ICMP") != NULL);
}

/* Random ranges: the prefixes must tile [start, end] exactly, aligned. */
static void test_tiling(void)
{
	uint32_t seed = 0x4b45454c;
	for (int round = 0; round < 2000; round++) {
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		uint32_t a = 0xc6336400 | (seed & 0xff), b = 0xc6336400 | (seed >> 8 & 0xff);
		if (a > b) {
			uint32_t t = a;
			a = b;
			b = t;
		}
		struct keel_ts l = {.family = KEEL_AF_INET, .port_start = 0, .port_end = 0xffff};
		uint32_t abe = htonl(a), bbe = htonl(b);
		memcpy(l.start, &abe, 4);
		memcpy(l.end, &bbe, 4);
		struct keel_ts r = any4();
		struct keel_xfrm_sel *s = NULL;
		size_t n = 0;
		if (keel_xfrm_ts_selectors(&l, 1, &r, 1, &s, &n, NULL, 0) != 0) {
			CHECK(0);
			continue;
		}
		uint64_t next = a;
		bool ok = n <= 14; /* a range in a /24 needs at most 2 * 8 - 2 */
		for (size_t i = 0; i < n; i++) {
			uint32_t p;
			memcpy(&p, &s[i].out.saddr, 4);
			p = ntohl(p);
			uint64_t size = 1ull << (32 - s[i].out.prefixlen_s);
			ok = ok && p == next && (p & (size - 1)) == 0;
			next = p + size;
		}
		ok = ok && next == (uint64_t)b + 1;
		CHECK(ok);
		free(s);
	}
}

int main(void)
{
	test_prefixes();
	test_pairing();
	test_ports();
	test_icmp();
	test_tiling();
	return check_done();
}
