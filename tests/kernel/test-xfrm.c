/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * platform/xfrm.c against a kernel that has ESP. Runs inside the
 * user-mode-linux guest (tests/kernel/cases/20-xfrm.sh); on a kernel
 * without ESP it skips (77).
 *
 * Two network namespaces made here (unshare), joined by veth:
 *
 *   A  192.0.2.2 (va) ---- (vb) 192.0.2.1  B
 *      inner 100.64.0.2                    inner 198.51.100.10
 *
 * Both ends install a manually keyed SA pair and policies with
 * keel_xfrm_install() (mirror-image SPIs and keys), A pings B's inner
 * address through the tunnel, the SA counters must show the packets, and
 * after keel_xfrm_remove() the kernel's SA and policy dumps must hold
 * nothing of Keel's. Also: make-before-break rekeying, rollback of a failed
 * install, stale cleanup (a "crashed" instance's state goes, a running
 * instance's and another program's stay), the probe, and ESP in UDP with a
 * UDP_ENCAP socket on port 4500 at each end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <net/if.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>

#include <keel-platform/xfrm.h>

#include "check.h"
#include "nl.h"

static int ns_a = -1, ns_b = -1;

static void enter(int ns)
{
	if (setns(ns, CLONE_NEWNET) < 0) {
		perror("setns");
		exit(1);
	}
}

static struct keel_addr addr4(const char *text, uint16_t port)
{
	struct keel_addr a = {.family = KEEL_AF_INET, .port = port};
	if (inet_pton(AF_INET, text, a.bytes) != 1)
		abort();
	return a;
}

static struct keel_ts ts4(const char *start, const char *end)
{
	struct keel_ts t = {.family = KEEL_AF_INET, .port_start = 0, .port_end = 0xffff};
	if (inet_pton(AF_INET, start, t.start) != 1 || inet_pton(AF_INET, end, t.end) != 1)
		abort();
	return t;
}

/* ---- rtnetlink set-up of the two namespaces ---- */

static int rtnl(struct nlmsghdr *nlh)
{
	struct keel_nl nl = {0};
	int rc = keel_nl_open(&nl);
	if (rc == 0)
		rc = keel_nl_talk(&nl, nlh, NULL, NULL);
	keel_nl_close(&nl);
	return rc;
}

/* veth va (here) <-> vb (in peer_ns). */
static int veth_add(const char *name, const char *peer, int peer_ns)
{
	char buf[KEEL_NL_REQ_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	struct nlattr *p = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	struct ifinfomsg *pi = mnl_nlmsg_get_payload_tail(nlh);
	memset(pi, 0, sizeof(*pi));
	nlh->nlmsg_len += MNL_ALIGN(sizeof(*pi));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_ns);
	mnl_attr_nest_end(nlh, p);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return rtnl(nlh);
}

static int link_up(const char *name)
{
	char buf[KEEL_NL_REQ_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)if_nametoindex(name);
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = IFF_UP;
	return ifi->ifi_index ? rtnl(nlh) : -ENODEV;
}

static int addr_add(const char *dev, const char *a, unsigned plen)
{
	char buf[KEEL_NL_REQ_SIZE];
	struct keel_addr k = addr4(a, 0);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (uint8_t)plen;
	ifa->ifa_index = if_nametoindex(dev);
	mnl_attr_put(nlh, IFA_LOCAL, 4, k.bytes);
	mnl_attr_put(nlh, IFA_ADDRESS, 4, k.bytes);
	return ifa->ifa_index ? rtnl(nlh) : -ENODEV;
}

static int route_add(const char *dst, unsigned plen, const char *dev, const char *src)
{
	char buf[KEEL_NL_REQ_SIZE];
	struct keel_addr d = addr4(dst, 0), s = addr4(src, 0);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = (uint8_t)plen;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, 4, d.bytes);
	mnl_attr_put(nlh, RTA_PREFSRC, 4, s.bytes);
	mnl_attr_put_u32(nlh, RTA_OIF, if_nametoindex(dev));
	return rtnl(nlh);
}

static int new_ns(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	return open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
}

static bool net_up(void)
{
	ns_a = new_ns();
	ns_b = new_ns();
	if (ns_a < 0 || ns_b < 0) {
		perror("unshare(CLONE_NEWNET)");
		return false;
	}
	/* now in B */
	int rc = veth_add("vb", "va", ns_a);
	rc = rc ? rc : link_up("lo");
	rc = rc ? rc : link_up("vb");
	rc = rc ? rc : addr_add("vb", "192.0.2.1", 24);
	rc = rc ? rc : addr_add("lo", "198.51.100.10", 32);
	rc = rc ? rc : route_add("100.64.0.0", 24, "vb", "198.51.100.10");
	if (rc) {
		fprintf(stderr, "setting up namespace B: %s\n", strerror(-rc));
		return false;
	}
	enter(ns_a);
	rc = link_up("lo");
	rc = rc ? rc : link_up("va");
	rc = rc ? rc : addr_add("va", "192.0.2.2", 24);
	rc = rc ? rc : addr_add("lo", "100.64.0.2", 32);
	rc = rc ? rc : route_add("198.51.100.0", 24, "va", "100.64.0.2");
	if (rc) {
		fprintf(stderr, "setting up namespace A: %s\n", strerror(-rc));
		return false;
	}
	return true;
}

/* ---- ICMP echo from A's inner address to B's, through whatever XFRM does ---- */

static uint16_t csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Sends count echo requests (one at a time, 1 s wait each); returns how many were answered. */
static int ping(int count)
{
	static uint16_t seq;
	struct keel_addr src = addr4("100.64.0.2", 0), dst = addr4("198.51.100.10", 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int answered = 0;
	uint16_t id = (uint16_t)getpid();

	enter(ns_a);
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0) {
		perror("socket(SOCK_RAW)");
		return -1;
	}
	memcpy(&sa.sin_addr, src.bytes, 4);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("bind");
		close(fd);
		return -1;
	}
	memcpy(&sa.sin_addr, dst.bytes, 4);
	for (int i = 0; i < count; i++) {
		uint8_t req[64] = {0};
		struct icmphdr *ic = (struct icmphdr *)req;
		ic->type = ICMP_ECHO;
		ic->un.echo.id = htons(id);
		ic->un.echo.sequence = htons(++seq);
		memcpy(req + sizeof(*ic), "keel-xfrm-test", 14);
		ic->checksum = csum(req, sizeof(req));
		if (sendto(fd, req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("sendto");
			continue;
		}
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			long left_ms = 1000 - ((t.tv_sec - t0.tv_sec) * 1000 +
			                       (t.tv_nsec - t0.tv_nsec) / 1000000);
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			if (left_ms <= 0 || poll(&pfd, 1, (int)left_ms) <= 0)
				break;
			uint8_t buf[1500];
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n < (ssize_t)sizeof(struct iphdr))
				continue;
			size_t ihl = (size_t)(buf[0] & 0xf) * 4;
			if ((size_t)n < ihl + sizeof(struct icmphdr))
				continue;
			const struct icmphdr *r = (const struct icmphdr *)(buf + ihl);
			if (r->type == ICMP_ECHOREPLY && ntohs(r->un.echo.id) == id &&
			    ntohs(r->un.echo.sequence) == seq) {
				answered++;
				break;
			}
		}
	}
	close(fd);
	return answered;
}

/* ---- the pair of ends ---- */

struct tcase {
	const char *name;
	uint16_t encr;
	uint16_t encr_key_bits;
	ptrdiff_t encr_key_len;
	uint16_t integ;
	ptrdiff_t integ_key_len;
	bool esn;
	bool encap;
	bool ah; /* AH (RFC 4302): integrity only, encr 0 */
};

struct keys {
	uint8_t a2b_encr[64], b2a_encr[64], a2b_integ[64], b2a_integ[64];
};

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31u + i * 7u + 1u);
}

static struct keel_ts ts_a, ts_b;

/*
 * The install for end A (a_side) or B. SPIs: A receives spi_a, B receives
 * spi_b. Keys a2b protect A -> B.
 */
static struct keel_out_child_install mk_install(const struct tcase *tc, bool a_side,
                                                uint32_t child_id, uint32_t rekeyed, uint32_t spi_a,
                                                uint32_t spi_b, const struct keys *k)
{
	uint16_t port = tc->encap ? 4500 : 0;
	struct keel_out_child_install c = {
	    .child_id = child_id,
	    .reqid = 1,
	    .rekeyed_child_id = rekeyed,
	    .protocol = tc->ah ? KEEL_PROTO_AH : KEEL_PROTO_ESP,
	    .encr = tc->encr,
	    .encr_key_bits = tc->encr_key_bits,
	    .encr_key_len = tc->encr_key_len,
	    .integ = tc->integ,
	    .integ_key_len = tc->integ_key_len,
	    .esn = tc->esn,
	    .encap = tc->encap,
	    .n_ts_local = 1,
	    .n_ts_remote = 1,
	    .soft_life_s = 3000,
	    .hard_life_s = 3600,
	};
	if (a_side) {
		c.spi_in = spi_a;
		c.spi_out = spi_b;
		c.encr_key_in = tc->ah ? NULL : k->b2a_encr;
		c.encr_key_out = tc->ah ? NULL : k->a2b_encr;
		c.integ_key_in = tc->integ ? k->b2a_integ : NULL;
		c.integ_key_out = tc->integ ? k->a2b_integ : NULL;
		c.local = addr4("192.0.2.2", port);
		c.remote = addr4("192.0.2.1", port);
		c.ts_local = &ts_a;
		c.ts_remote = &ts_b;
	} else {
		c.spi_in = spi_b;
		c.spi_out = spi_a;
		c.encr_key_in = tc->ah ? NULL : k->a2b_encr;
		c.encr_key_out = tc->ah ? NULL : k->b2a_encr;
		c.integ_key_in = tc->integ ? k->a2b_integ : NULL;
		c.integ_key_out = tc->integ ? k->b2a_integ : NULL;
		c.local = addr4("192.0.2.1", port);
		c.remote = addr4("192.0.2.2", port);
		c.ts_local = &ts_b;
		c.ts_remote = &ts_a;
	}
	return c;
}

static struct keel_out_child_remove mk_remove(uint32_t child_id, enum keel_reason why)
{
	return (struct keel_out_child_remove){
	    .child_id = child_id, .reqid = 1, .protocol = KEEL_PROTO_ESP, .reason = why};
}

static int install(struct keel_xfrm *x, const struct keel_out_child_install *c, const char *who)
{
	int rc = keel_xfrm_install(x, c);
	if (rc < 0)
		fprintf(stderr, "  install on %s: %s\n", who, keel_xfrm_error(x));
	return rc;
}

static struct keel_xfrm_census census(struct keel_xfrm *x)
{
	struct keel_xfrm_census c = {0};
	int rc = keel_xfrm_census(x, &c);
	CHECK_INT(rc, 0);
	return c;
}

/* A UDP socket on port 4500 with UDP_ENCAP, in the current namespace. */
static int encap_socket(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(4500)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("UDP 4500");
		exit(1);
	}
	CHECK_INT(keel_xfrm_udp_encap(fd), 0);
	CHECK_INT(keel_xfrm_socket_bypass(fd, AF_INET), 0);
	return fd;
}

/* The whole output of a shell line run in the current namespace (malloc'ed, NUL-terminated). */
static char *capture(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	if (!f || !buf)
		abort();
	size_t got;
	while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += got;
		if (cap - len < 1024) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
	}
	buf[len] = '\0';
	pclose(f);
	return buf;
}

static int count_str(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/*
 * What iproute2 sees of the pair just installed in A: the SAs' reqid,
 * flags, replay window and encapsulation, the policies' directions,
 * priority and template reqid.
 */
static void check_iproute2(struct keel_xfrm *xa, const struct tcase *tc)
{
	char want[80];
	enter(ns_a);
	char *st = capture("ip -s xfrm state list; ip -s xfrm policy list");
	unsigned bad = check_failures;
	snprintf(want, sizeof(want), "(0x%08x)", keel_xfrm_reqid_make(keel_xfrm_instance(xa), 1));
	CHECK_INT(count_str(st, want), 5); /* two SAs, three policy templates */
	const char *proto = tc->ah ? "ah" : "esp";
	snprintf(want, sizeof(want), "proto %s spi 0xc0000a01(", proto);
	CHECK_INT(count_str(st, want), 1);
	snprintf(want, sizeof(want), "proto %s spi 0xc0000b01(", proto);
	CHECK_INT(count_str(st, want), 1);
	/* two SAs and the three policy templates name the protocol */
	snprintf(want, sizeof(want), "proto %s spi 0x", proto);
	CHECK_INT(count_str(st, want), 5);
	CHECK_INT(count_str(st, "auth-trunc hmac(sha256)"), tc->integ == 12 ? 2 : 0);
	/* RFC 4302 §3.3.3.2.1: AH over IPv4 is aligned to 32 bits */
	CHECK_INT(count_str(st, " align4"), tc->ah ? 2 : 0);
	CHECK_INT(count_str(st, "mode tunnel"), 5);
	CHECK_INT(count_str(st, "encap type espinudp sport 4500 dport 4500"), tc->encap ? 2 : 0);
	/* iproute2 prints the flags in this order */
	CHECK_INT(count_str(st, tc->ah ? "flag af-unspec align4 esn" : "flag af-unspec esn"),
	          tc->esn ? 2 : 0);
	CHECK_INT(count_str(st, "flag af-unspec"), 2);
	CHECK_INT(count_str(st, "replay_window 128"), 2);
	snprintf(want, sizeof(want), "priority %u ", KEEL_XFRM_PRIORITY_BASE - (32 + 32) * 4);
	CHECK_INT(count_str(st, want), 3);
	CHECK_INT(count_str(st, "src 100.64.0.2/32 dst 198.51.100.10/32"), 1);
	CHECK_INT(count_str(st, "src 198.51.100.10/32 dst 100.64.0.2/32"), 2);
	CHECK_INT(count_str(st, "dir out"), 1);
	CHECK_INT(count_str(st, "dir in"), 1);
	CHECK_INT(count_str(st, "dir fwd"), 1);
	/* keel_xfrm_socket_bypass() on A's UDP 4500 socket */
	CHECK_INT(count_str(st, "socket in action allow "), tc->encap ? 1 : 0);
	CHECK_INT(count_str(st, "socket out action allow "), tc->encap ? 1 : 0);
	if (check_failures != bad || getenv("KEEL_TEST_VERBOSE"))
		printf("%s", st);
	free(st);
}

static void case_traffic(struct keel_xfrm *xa, struct keel_xfrm *xb, const struct tcase *tc)
{
	struct keys k;
	int fda = -1, fdb = -1;

	printf("case %s\n", tc->name);
	fill(k.a2b_encr, sizeof(k.a2b_encr), 1);
	fill(k.b2a_encr, sizeof(k.b2a_encr), 2);
	fill(k.a2b_integ, sizeof(k.a2b_integ), 3);
	fill(k.b2a_integ, sizeof(k.b2a_integ), 4);
	if (tc->encap) {
		enter(ns_a);
		fda = encap_socket();
		enter(ns_b);
		fdb = encap_socket();
	}
	struct keel_out_child_install ca = mk_install(tc, true, 1, 0, 0xc0000a01, 0xc0000b01, &k);
	struct keel_out_child_install cb = mk_install(tc, false, 1, 0, 0xc0000a01, 0xc0000b01, &k);
	enter(ns_b);
	CHECK_INT(install(xb, &cb, "B"), 0);
	enter(ns_a);
	CHECK_INT(install(xa, &ca, "A"), 0);

	struct keel_xfrm_census c = census(xa);
	CHECK_INT(c.sa_own, 2);
	CHECK_INT(c.pol_own, 3); /* one selector pair: out, in, fwd */
	check_iproute2(xa, tc);

	int got = ping(3);
	CHECK_INT(got, 3);

	struct keel_xfrm_stats sa = {0}, sb = {0};
	enter(ns_a);
	CHECK_INT(keel_xfrm_stats(xa, 1, &sa), 0);
	enter(ns_b);
	CHECK_INT(keel_xfrm_stats(xb, 1, &sb), 0);
	printf("  A: out %llu packets %llu bytes, in %llu packets; B: in %llu, out %llu packets\n",
	       (unsigned long long)sa.out_packets, (unsigned long long)sa.out_bytes,
	       (unsigned long long)sa.in_packets, (unsigned long long)sb.in_packets,
	       (unsigned long long)sb.out_packets);
	CHECK(sa.out_packets >= 3);
	CHECK(sa.in_packets >= 3);
	CHECK(sb.in_packets >= 3);
	CHECK(sb.out_packets >= 3);
	CHECK(sa.out_bytes > 0);
	CHECK_INT(sa.in_integrity_failures, 0);
	CHECK_INT(sb.in_replay_drops, 0);
	CHECK(sa.in_last_use_s > 0);

	/* more traffic, higher counters */
	CHECK_INT(ping(2), 2);
	struct keel_xfrm_stats sa2 = {0};
	enter(ns_a);
	CHECK_INT(keel_xfrm_stats(xa, 1, &sa2), 0);
	CHECK(sa2.out_packets >= sa.out_packets + 2);
	CHECK(sa2.in_packets >= sa.in_packets + 2);

	struct keel_out_child_remove r = mk_remove(1, KEEL_REASON_USER);
	CHECK_INT(keel_xfrm_remove(xa, &r), 0);
	enter(ns_b);
	CHECK_INT(keel_xfrm_remove(xb, &r), 0);
	CHECK_INT(keel_xfrm_pairs(xb), 0);
	c = census(xb);
	CHECK_INT(c.sa_own + c.pol_own + c.sa_stale + c.pol_stale, 0);
	enter(ns_a);
	c = census(xa);
	CHECK_INT(c.sa_own + c.pol_own + c.sa_stale + c.pol_stale, 0);
	CHECK_INT(keel_xfrm_remove(xa, &r), -ENOENT);
	if (fda >= 0)
		close(fda);
	if (fdb >= 0)
		close(fdb);
}

/* Make-before-break: a second pair with the same reqid, then the old one goes. */
static void case_rekey(struct keel_xfrm *xa, struct keel_xfrm *xb)
{
	const struct tcase tc = {"rekey aes256gcm16", 20, 256, 36, 0, 0, false, false};
	struct keys k1, k2;

	printf("case %s\n", tc.name);
	fill(k1.a2b_encr, sizeof(k1.a2b_encr), 11);
	fill(k1.b2a_encr, sizeof(k1.b2a_encr), 12);
	fill(k2.a2b_encr, sizeof(k2.a2b_encr), 21);
	fill(k2.b2a_encr, sizeof(k2.b2a_encr), 22);
	struct keel_out_child_install a1 = mk_install(&tc, true, 1, 0, 0xc1000a01, 0xc1000b01, &k1);
	struct keel_out_child_install b1 =
	    mk_install(&tc, false, 1, 0, 0xc1000a01, 0xc1000b01, &k1);
	struct keel_out_child_install a2 = mk_install(&tc, true, 2, 1, 0xc2000a02, 0xc2000b02, &k2);
	struct keel_out_child_install b2 =
	    mk_install(&tc, false, 2, 1, 0xc2000a02, 0xc2000b02, &k2);

	enter(ns_b);
	CHECK_INT(install(xb, &b1, "B"), 0);
	enter(ns_a);
	CHECK_INT(install(xa, &a1, "A"), 0);
	CHECK_INT(ping(2), 2);

	/* the responder's side first, as after a CREATE_CHILD_SA exchange */
	enter(ns_b);
	CHECK_INT(install(xb, &b2, "B"), 0);
	enter(ns_a);
	CHECK_INT(install(xa, &a2, "A"), 0);
	struct keel_xfrm_census c = census(xa);
	CHECK_INT(c.sa_own, 3);  /* old inbound, new inbound, new outbound */
	CHECK_INT(c.pol_own, 3); /* unchanged */

	struct keel_xfrm_stats old1 = {0}, new1 = {0}, new2 = {0};
	CHECK_INT(keel_xfrm_stats(xa, 1, &old1), 0);
	CHECK(old1.out_retired);
	CHECK(old1.out_packets >= 2);
	CHECK_INT(keel_xfrm_stats(xa, 2, &new1), 0);
	CHECK_INT(ping(3), 3);
	enter(ns_a);
	CHECK_INT(keel_xfrm_stats(xa, 2, &new2), 0);
	CHECK(new2.out_packets >= new1.out_packets + 3);
	CHECK(new2.in_packets >= new1.in_packets + 3);

	/* the old pair goes: policies stay for the new one */
	struct keel_out_child_remove r1 = mk_remove(1, KEEL_REASON_REKEYED);
	CHECK_INT(keel_xfrm_remove(xa, &r1), 0);
	enter(ns_b);
	CHECK_INT(keel_xfrm_remove(xb, &r1), 0);
	enter(ns_a);
	c = census(xa);
	CHECK_INT(c.sa_own, 2);
	CHECK_INT(c.pol_own, 3);
	CHECK_INT(ping(2), 2);

	CHECK_INT(keel_xfrm_remove_all(xa), 0);
	enter(ns_b);
	CHECK_INT(keel_xfrm_remove_all(xb), 0);
	c = census(xb);
	CHECK_INT(c.sa_own + c.pol_own, 0);
	enter(ns_a);
	c = census(xa);
	CHECK_INT(c.sa_own + c.pol_own, 0);
	CHECK_INT(keel_xfrm_pairs(xa), 0);
}

/*
 * A rekey A answered (keel_xfrm_install_inbound_first()): A's new outbound
 * SA waits while B (the rekey's initiator) has not installed its new pair,
 * so traffic keeps flowing on the old SAs; B's new outbound SA is taken by
 * A's new inbound one; A's outbound moves when the old pair goes (B's
 * DELETE), or with keel_xfrm_activate().
 */
static void case_rekey_answered(struct keel_xfrm *xa, struct keel_xfrm *xb)
{
	const struct tcase tc = {"aes256gcm16", 20, 256, 36, 0, 0, false, false};
	struct keys k1, k2, k3;
	struct keel_xfrm_stats s1 = {0}, s2 = {0}, s3 = {0};

	fill(k1.a2b_encr, sizeof(k1.a2b_encr), 31);
	fill(k1.b2a_encr, sizeof(k1.b2a_encr), 32);
	fill(k2.a2b_encr, sizeof(k2.a2b_encr), 41);
	fill(k2.b2a_encr, sizeof(k2.b2a_encr), 42);
	fill(k3.a2b_encr, sizeof(k3.a2b_encr), 51);
	fill(k3.b2a_encr, sizeof(k3.b2a_encr), 52);
	struct keel_out_child_install a1 = mk_install(&tc, true, 1, 0, 0xd1000a01, 0xd1000b01, &k1);
	struct keel_out_child_install b1 =
	    mk_install(&tc, false, 1, 0, 0xd1000a01, 0xd1000b01, &k1);
	struct keel_out_child_install a2 = mk_install(&tc, true, 2, 1, 0xd2000a02, 0xd2000b02, &k2);
	struct keel_out_child_install b2 =
	    mk_install(&tc, false, 2, 1, 0xd2000a02, 0xd2000b02, &k2);
	struct keel_out_child_install a3 = mk_install(&tc, true, 3, 2, 0xd3000a03, 0xd3000b03, &k3);
	struct keel_out_child_install b3 =
	    mk_install(&tc, false, 3, 2, 0xd3000a03, 0xd3000b03, &k3);

	enter(ns_b);
	CHECK_INT(install(xb, &b1, "B"), 0);
	enter(ns_a);
	CHECK_INT(install(xa, &a1, "A"), 0);
	CHECK_INT(ping(2), 2);

	/* A answers: new inbound only; B has not processed the answer yet */
	enter(ns_a);
	CHECK_INT(keel_xfrm_install_inbound_first(xa, &a2), 0);
	CHECK_INT(census(xa).sa_own, 3); /* old in, old out, new in */
	CHECK_INT(ping(2), 2);           /* on the old SAs, both ways */
	enter(ns_a);
	CHECK_INT(keel_xfrm_stats(xa, 2, &s2), 0);
	CHECK(s2.out_packets == 0 && !s2.out_retired);

	/* B installs (its outbound moves), A's new inbound takes B's packets */
	enter(ns_b);
	CHECK_INT(install(xb, &b2, "B"), 0);
	enter(ns_a);
	CHECK_INT(ping(3), 3);
	enter(ns_a);
	CHECK_INT(keel_xfrm_stats(xa, 2, &s2), 0);
	CHECK(s2.in_packets >= 3);
	CHECK_INT((int)s2.out_packets, 0);
	CHECK_INT(keel_xfrm_stats(xa, 1, &s1), 0);
	CHECK(s1.out_packets >= 7 && !s1.out_retired);

	/* B deletes the old pair: A's new outbound goes in first */
	struct keel_out_child_remove r1 = mk_remove(1, KEEL_REASON_REKEYED);
	enter(ns_b);
	CHECK_INT(keel_xfrm_remove(xb, &r1), 0);
	enter(ns_a);
	CHECK_INT(keel_xfrm_remove(xa, &r1), 0);
	CHECK_INT(census(xa).sa_own, 2);
	CHECK_INT(census(xa).pol_own, 3);
	CHECK_INT(ping(2), 2);
	enter(ns_a);
	CHECK_INT(keel_xfrm_stats(xa, 2, &s2), 0);
	CHECK(s2.out_packets >= 2);

	/* again, moved by keel_xfrm_activate() this time */
	enter(ns_a);
	CHECK_INT(keel_xfrm_install_inbound_first(xa, &a3), 0);
	enter(ns_b);
	CHECK_INT(install(xb, &b3, "B"), 0);
	enter(ns_a);
	CHECK_INT(keel_xfrm_activate(xa, 3), 0);
	CHECK_INT(keel_xfrm_activate(xa, 3), 0); /* nothing kept back any more */
	CHECK_INT(keel_xfrm_activate(xa, 99), -ENOENT);
	CHECK_INT(census(xa).sa_own, 3); /* pair 2's inbound, pair 3's two */
	CHECK_INT(keel_xfrm_stats(xa, 2, &s2), 0);
	CHECK(s2.out_retired);
	CHECK_INT(ping(2), 2);
	enter(ns_a);
	CHECK_INT(keel_xfrm_stats(xa, 3, &s3), 0);
	CHECK(s3.out_packets >= 2 && s3.in_packets >= 2);

	/* a pair still waiting goes with remove_all, keys and all */
	struct keel_out_child_install a4 = mk_install(&tc, true, 4, 3, 0xd4000a04, 0xd4000b04, &k1);
	CHECK_INT(keel_xfrm_install_inbound_first(xa, &a4), 0);
	CHECK_INT(keel_xfrm_remove_all(xa), 0);
	enter(ns_b);
	CHECK_INT(keel_xfrm_remove_all(xb), 0);
	CHECK_INT(census(xb).sa_own + census(xb).pol_own, 0);
	enter(ns_a);
	CHECK_INT(census(xa).sa_own + census(xa).pol_own, 0);
	CHECK_INT(keel_xfrm_pairs(xa), 0);
}

/* Runs cmd (a shell line) in the current namespace; its exit status. */
static int sh(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* How many lines of cmd's output contain needle. */
static int count_lines(const char *cmd, const char *needle)
{
	FILE *f = popen(cmd, "r");
	char line[512];
	int n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	pclose(f);
	return n;
}

#define FOREIGN_SA                                                                                 \
	"ip xfrm state add src 203.0.113.9 dst 203.0.113.8 proto esp spi 0x00001234 reqid 7 "      \
	"mode tunnel aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128"
#define FOREIGN_POLICY                                                                             \
	"ip xfrm policy add src 203.0.113.16/28 dst 203.0.113.32/28 dir out "                      \
	"tmpl src 203.0.113.9 dst 203.0.113.8 proto esp reqid 7 mode tunnel"
/* exactly the selector Keel's out policy of the traffic cases would have */
#define CLASHING_POLICY                                                                            \
	"ip xfrm policy add src 100.64.0.2/32 dst 198.51.100.10/32 dir out priority 100 "          \
	"tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 9 mode tunnel"

/* Stale cleanup, in A: a crashed instance's state goes, nothing else. */
static void case_stale(void)
{
	const struct tcase tc = {"stale", 12, 256, 32, 12, 32, false, false};
	struct keel_xfrm *crashed = NULL, *live = NULL, *cleaner = NULL;
	char why[256];
	struct keys k;

	printf("case stale cleanup\n");
	fill(k.a2b_encr, sizeof(k.a2b_encr), 31);
	fill(k.b2a_encr, sizeof(k.b2a_encr), 32);
	fill(k.a2b_integ, sizeof(k.a2b_integ), 33);
	fill(k.b2a_integ, sizeof(k.b2a_integ), 34);
	enter(ns_a);
	CHECK_INT(sh(FOREIGN_SA), 0);
	CHECK_INT(sh(FOREIGN_POLICY), 0);

	CHECK_INT(keel_xfrm_open(&crashed, why, sizeof(why)), 0);
	CHECK_INT(keel_xfrm_open(&live, why, sizeof(why)), 0);
	CHECK_INT(keel_xfrm_open(&cleaner, why, sizeof(why)), 0);
	if (!crashed || !live || !cleaner)
		goto out;
	CHECK(keel_xfrm_instance(crashed) != keel_xfrm_instance(live));
	CHECK(keel_xfrm_instance(live) != keel_xfrm_instance(cleaner));

	struct keel_out_child_install c1 = mk_install(&tc, true, 1, 0, 0xc3000a01, 0xc3000b01, &k);
	CHECK_INT(install(crashed, &c1, "A (crashed)"), 0);
	/* the live instance: other SPIs and another local TS, so no policy clash */
	struct keel_ts other = ts4("100.64.0.3", "100.64.0.3");
	struct keel_out_child_install c2 = mk_install(&tc, true, 1, 0, 0xc4000a01, 0xc4000b01, &k);
	c2.ts_local = &other;
	CHECK_INT(install(live, &c2, "A (live)"), 0);
	/* the crash: the process is gone, its state stays */
	keel_xfrm_free(crashed);
	crashed = NULL;

	struct keel_xfrm_census c = census(cleaner);
	printf("  before: SAs %u stale %u live %u other; policies %u stale %u live %u other\n",
	       c.sa_stale, c.sa_live, c.sa_other, c.pol_stale, c.pol_live, c.pol_other);
	CHECK_INT(c.sa_stale, 2);
	CHECK_INT(c.pol_stale, 3);
	CHECK_INT(c.sa_live, 2);
	CHECK_INT(c.pol_live, 3);
	CHECK_INT(c.sa_other, 1);
	CHECK_INT(c.pol_other, 1);
	CHECK_INT(c.sa_own + c.pol_own, 0);

	unsigned n_sa = 99, n_pol = 99;
	CHECK_INT(keel_xfrm_clean_stale(cleaner, &n_sa, &n_pol), 0);
	CHECK_INT(n_sa, 2);
	CHECK_INT(n_pol, 3);
	c = census(cleaner);
	CHECK_INT(c.sa_stale + c.pol_stale, 0);
	CHECK_INT(c.sa_live, 2);
	CHECK_INT(c.pol_live, 3);
	CHECK_INT(c.sa_other, 1);
	CHECK_INT(c.pol_other, 1);
	/* iproute2's view of the same */
	CHECK_INT(count_lines("ip xfrm state list", "spi 0x00001234"), 1);
	CHECK_INT(count_lines("ip xfrm policy list", "src 203.0.113.16/28"), 1);
	CHECK_INT(count_lines("ip xfrm state list", "spi 0xc3000"), 0);

	/* nothing stale left: a second cleanup deletes nothing */
	CHECK_INT(keel_xfrm_clean_stale(cleaner, &n_sa, &n_pol), 0);
	CHECK_INT(n_sa + n_pol, 0);

	CHECK_INT(keel_xfrm_remove_all(live), 0);
	c = census(cleaner);
	CHECK_INT(c.sa_live + c.pol_live, 0);
	CHECK_INT(c.sa_other, 1);
	CHECK_INT(c.pol_other, 1);
out:
	keel_xfrm_free(crashed);
	keel_xfrm_free(live);
	keel_xfrm_free(cleaner);
	CHECK_INT(
	    sh("ip xfrm state delete src 203.0.113.9 dst 203.0.113.8 proto esp spi 0x00001234 && "
	       "ip xfrm policy delete src 203.0.113.16/28 dst 203.0.113.32/28 dir out"),
	    0);
}

/* A policy clash: the install fails, says why and leaves nothing behind. */
static void case_clash(struct keel_xfrm *xa)
{
	const struct tcase tc = {"clash", 28, 256, 36, 0, 0, false, false};
	struct keys k;

	printf("case policy clash rollback\n");
	fill(k.a2b_encr, sizeof(k.a2b_encr), 41);
	fill(k.b2a_encr, sizeof(k.b2a_encr), 42);
	enter(ns_a);
	CHECK_INT(sh(CLASHING_POLICY), 0);
	struct keel_out_child_install c = mk_install(&tc, true, 1, 0, 0xc5000a01, 0xc5000b01, &k);
	int rc = keel_xfrm_install(xa, &c);
	CHECK_INT(rc, -EEXIST);
	printf("  error: %s\n", keel_xfrm_error(xa));
	CHECK(strstr(keel_xfrm_error(xa), "another IPsec policy") != NULL);
	CHECK(strstr(keel_xfrm_error(xa), "out policy 100.64.0.2/32 -> 198.51.100.10/32") != NULL);
	struct keel_xfrm_census cs = census(xa);
	CHECK_INT(cs.sa_own + cs.pol_own, 0);
	CHECK_INT(cs.pol_other, 1);
	CHECK_INT(keel_xfrm_pairs(xa), 0);
	CHECK_INT(count_lines("ip xfrm policy list", "priority 100 "), 1);
	CHECK_INT(sh("ip xfrm policy delete src 100.64.0.2/32 dst 198.51.100.10/32 dir out"), 0);

	/* a reserved SPI is refused before the kernel is asked */
	c.spi_in = 255;
	CHECK_INT(keel_xfrm_install(xa, &c), -EINVAL);
}

static void case_probe(void)
{
	static const struct keel_xfrm_algs algs[] = {
	    {KEEL_AF_INET, 20, 256, 0, false, false},  {KEEL_AF_INET, 20, 128, 0, true, true},
	    {KEEL_AF_INET, 28, 0, 0, false, true},     {KEEL_AF_INET, 12, 256, 12, true, false},
	    {KEEL_AF_INET, 12, 128, 2, false, false},  {KEEL_AF_INET, 12, 256, 14, false, true},
	    {KEEL_AF_INET6, 20, 256, 0, false, false},
	};
	char why[256];

	printf("case probe\n");
	enter(ns_a);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		int rc = keel_xfrm_probe(&algs[i], why, sizeof(why));
		printf("  probe %u/%u/%u: %d %s\n", algs[i].encr, algs[i].encr_key_bits,
		       algs[i].integ, rc, why);
		CHECK_INT(rc, 0);
	}
	/* AH (RFC 4302): HMAC-SHA2 alone; never in UDP */
	static const struct keel_xfrm_algs ah[] = {
	    {KEEL_AF_INET, 0, 0, 12, false, false, true},
	    {KEEL_AF_INET, 0, 0, 13, true, false, true},
	    {KEEL_AF_INET6, 0, 0, 14, false, false, true},
	};
	for (size_t i = 0; i < sizeof(ah) / sizeof(ah[0]); i++) {
		int rc = keel_xfrm_probe(&ah[i], why, sizeof(why));
		printf("  probe AH %u: %d %s\n", ah[i].integ, rc, why);
		CHECK_INT(rc, 0);
		CHECK(strstr(why, "takes AH") != NULL);
	}
	struct keel_xfrm_algs ah_udp = {KEEL_AF_INET, 0, 0, 12, false, true, true};
	CHECK_INT(keel_xfrm_probe(&ah_udp, why, sizeof(why)), -EINVAL);
	/* unknown to Keel's kernel path */
	struct keel_xfrm_algs bad = {KEEL_AF_INET, 3, 192, 2, false, false};
	CHECK_INT(keel_xfrm_probe(&bad, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "encryption transform 3") != NULL);

	/* without CAP_NET_ADMIN */
	pid_t pid = fork();
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			_exit(3);
		int rc = keel_xfrm_probe(&algs[0], why, sizeof(why));
		printf("  probe as nobody: %d %s\n", rc, why);
		fflush(stdout);
		_exit(rc == -EPERM && strstr(why, "CAP_NET_ADMIN") ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the probe leaves nothing behind */
	CHECK_INT(count_lines("ip xfrm state list", "src 127.0.0.1"), 0);
}

int main(void)
{
	char why[256];
	struct keel_xfrm *xa = NULL, *xb = NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("SKIP: needs root (namespaces, XFRM)\n");
		return CHECK_SKIP;
	}
	if (!net_up())
		return 1;
	struct keel_xfrm_algs gcm = {KEEL_AF_INET, 20, 256, 0, false, false};
	int rc = keel_xfrm_probe(&gcm, why, sizeof(why));
	if (rc < 0) {
		printf("SKIP: this kernel cannot do ESP: %s\n", why);
		return CHECK_SKIP;
	}
	ts_a = ts4("100.64.0.2", "100.64.0.2");
	ts_b = ts4("198.51.100.10", "198.51.100.10");

	enter(ns_b);
	CHECK_INT(keel_xfrm_open(&xb, why, sizeof(why)), 0);
	enter(ns_a);
	CHECK_INT(keel_xfrm_open(&xa, why, sizeof(why)), 0);
	if (!xa || !xb)
		return check_done();

	static const struct tcase cases[] = {
	    {"aes256gcm16", 20, 256, 36, 0, 0, false, false},
	    {"aes256gcm16 in UDP", 20, 256, 36, 0, 0, false, true},
	    {"chacha20poly1305", 28, 256, 36, 0, 0, false, false},
	    {"chacha20poly1305 in UDP, ESN", 28, 256, 36, 0, 0, true, true},
	    {"aes256-sha256", 12, 256, 32, 12, 32, false, false},
	    {"aes256-sha256 in UDP", 12, 256, 32, 12, 32, false, true},
	    {"aes256-sha256-esn", 12, 256, 32, 12, 32, true, false},
	    {"aes128gcm16-esn", 20, 128, 20, 0, 0, true, false},
	    /* AH (RFC 4302) with HMAC-SHA2-256-128, -512-256, with ESN */
	    {"ah sha256", 0, 0, 0, 12, 32, false, false, true},
	    {"ah sha512-esn", 0, 0, 0, 14, 64, true, false, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned before = check_failures;
		case_traffic(xa, xb, &cases[i]);
		printf("%s: %s\n", check_failures == before ? "ok" : "FAIL", cases[i].name);
	}
	unsigned before = check_failures;
	case_rekey(xa, xb);
	printf("%s: rekey\n", check_failures == before ? "ok" : "FAIL");
	before = check_failures;
	case_rekey_answered(xa, xb);
	printf("%s: rekey we answered\n", check_failures == before ? "ok" : "FAIL");
	before = check_failures;
	case_clash(xa);
	printf("%s: clash\n", check_failures == before ? "ok" : "FAIL");
	before = check_failures;
	case_stale();
	printf("%s: stale cleanup\n", check_failures == before ? "ok" : "FAIL");
	before = check_failures;
	case_probe();
	printf("%s: probe\n", check_failures == before ? "ok" : "FAIL");

	/* the end: nothing of Keel's in either namespace, says iproute2 too */
	enter(ns_a);
	CHECK_INT(count_lines("ip -s xfrm state list; ip -s xfrm policy list", "(0x4b"), 0);
	enter(ns_b);
	CHECK_INT(count_lines("ip -s xfrm state list; ip -s xfrm policy list", "(0x4b"), 0);
	keel_xfrm_free(xa);
	keel_xfrm_free(xb);
	return check_done();
}
