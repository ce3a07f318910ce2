/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TUN device and rtnetlink configuration, for real, as root, inside a
 * network namespace this process makes for itself (unshare(CLONE_NEWNET)),
 * so nothing on the host is touched. Everything is checked by reading it
 * back over rtnetlink. Skips (77) when not root or without namespaces.
 *
 * Addresses: documentation ranges only (RFC 5737, RFC 3849) and the shared
 * address space 100.64.0.0/10 for the virtual IP; no packet leaves the
 * namespace (only route look-ups are made).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <linux/rtnetlink.h>

#include <keel-platform/netcfg.h>
#include <keel-platform/tun.h>

#include "check.h"
#include "nl.h"

static struct keel_addr addr(const char *text)
{
	struct keel_addr a = {0};
	if (inet_pton(AF_INET, text, a.bytes) == 1)
		a.family = KEEL_AF_INET;
	else if (inet_pton(AF_INET6, text, a.bytes) == 1)
		a.family = KEEL_AF_INET6;
	else
		abort();
	return a;
}

static struct keel_prefix prefix(const char *text, unsigned len)
{
	return (struct keel_prefix){.addr = addr(text), .prefix_len = (uint8_t)len};
}

/* ---- reading back over rtnetlink ---- */

struct route {
	int family;
	uint8_t dst[16];
	unsigned dst_len;
	int oif;
	bool has_gateway;
	uint8_t gateway[16];
	uint32_t table;
	uint8_t protocol;
	bool has_prefsrc;
	uint8_t prefsrc[16];
};

struct routes {
	struct route r[256];
	size_t n;
};

static int route_attr(const struct nlattr *a, void *data)
{
	struct route *r = data;
	size_t len = r->family == AF_INET ? 4 : 16;
	switch (mnl_attr_get_type(a)) {
	case RTA_DST:
		if (mnl_attr_get_payload_len(a) == len)
			memcpy(r->dst, mnl_attr_get_payload(a), len);
		break;
	case RTA_GATEWAY:
		if (mnl_attr_get_payload_len(a) == len) {
			memcpy(r->gateway, mnl_attr_get_payload(a), len);
			r->has_gateway = true;
		}
		break;
	case RTA_OIF:
		r->oif = (int)mnl_attr_get_u32(a);
		break;
	case RTA_TABLE:
		r->table = mnl_attr_get_u32(a);
		break;
	case RTA_PREFSRC:
		if (mnl_attr_get_payload_len(a) == len) {
			memcpy(r->prefsrc, mnl_attr_get_payload(a), len);
			r->has_prefsrc = true;
		}
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct routes *rs = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	if (rs->n == G_N_ELEMENTS(rs->r))
		return MNL_CB_OK;
	struct route *r = &rs->r[rs->n++];
	memset(r, 0, sizeof(*r));
	r->family = rtm->rtm_family;
	r->dst_len = rtm->rtm_dst_len;
	r->table = rtm->rtm_table;
	r->protocol = rtm->rtm_protocol;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr, r);
	return MNL_CB_OK;
}

static void dump_routes(struct routes *rs)
{
	rs->n = 0;
	for (int i = 0; i < 2; i++) {
		char buf[KEEL_NL_REQ_SIZE];
		struct keel_nl nl = {0};
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = RTM_GETROUTE;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = i == 0 ? AF_INET : AF_INET6;
		CHECK_INT(keel_nl_open(&nl), 0);
		CHECK_INT(keel_nl_talk(&nl, nlh, route_cb, rs), 0);
		keel_nl_close(&nl);
	}
}

/*
 * Is there a main-table route to dst/len through oif (and gateway, if
 * given)? With src, it must also be tagged KEEL_NETCFG_RTPROT and have src
 * as its preferred source.
 */
static bool find_route(const char *dst, unsigned len, int oif, const char *gateway, const char *src)
{
	static struct routes rs;
	struct keel_addr d = addr(dst), g = {0}, p = {0};
	int family = d.family == KEEL_AF_INET ? AF_INET : AF_INET6;
	size_t n = family == AF_INET ? 4 : 16;
	if (gateway)
		g = addr(gateway);
	if (src)
		p = addr(src);
	dump_routes(&rs);
	for (size_t i = 0; i < rs.n; i++) {
		const struct route *r = &rs.r[i];
		if (r->family == family && r->dst_len == len && memcmp(r->dst, d.bytes, n) == 0 &&
		    r->oif == oif && r->table == RT_TABLE_MAIN &&
		    r->has_gateway == (gateway != NULL) &&
		    (!gateway || memcmp(r->gateway, g.bytes, n) == 0) &&
		    (!src || (r->protocol == KEEL_NETCFG_RTPROT && r->has_prefsrc &&
		              memcmp(r->prefsrc, p.bytes, n) == 0)))
			return true;
	}
	return false;
}

static bool has_route(const char *dst, unsigned len, int oif, const char *gateway)
{
	return find_route(dst, len, oif, gateway, NULL);
}

struct addr_query {
	int ifindex;
	int family;
	uint8_t want[16];
	unsigned prefix_len;
	bool found;
};

static int addr_attr(const struct nlattr *a, void *data)
{
	struct addr_query *q = data;
	size_t len = q->family == AF_INET ? 4 : 16;
	if (mnl_attr_get_type(a) == IFA_ADDRESS && mnl_attr_get_payload_len(a) == len &&
	    memcmp(mnl_attr_get_payload(a), q->want, len) == 0)
		q->found = true;
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_query *q = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	if ((int)ifa->ifa_index == q->ifindex && ifa->ifa_family == q->family &&
	    ifa->ifa_prefixlen == q->prefix_len)
		mnl_attr_parse(nlh, sizeof(*ifa), addr_attr, q);
	return MNL_CB_OK;
}

static bool has_address(int ifindex, const char *text, unsigned prefix_len)
{
	char buf[KEEL_NL_REQ_SIZE];
	struct keel_nl nl = {0};
	struct keel_addr a = addr(text);
	struct addr_query q = {.ifindex = ifindex, .prefix_len = prefix_len};
	q.family = a.family == KEEL_AF_INET ? AF_INET : AF_INET6;
	memcpy(q.want, a.bytes, 16);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)q.family;
	CHECK_INT(keel_nl_open(&nl), 0);
	CHECK_INT(keel_nl_talk(&nl, nlh, addr_cb, &q), 0);
	keel_nl_close(&nl);
	return q.found;
}

struct link_info {
	int ifindex;
	bool found;
	unsigned flags;
	uint32_t mtu;
};

static int link_attr(const struct nlattr *a, void *data)
{
	struct link_info *l = data;
	if (mnl_attr_get_type(a) == IFLA_MTU)
		l->mtu = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_info *l = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	if (ifi->ifi_index != l->ifindex)
		return MNL_CB_OK;
	l->found = true;
	l->flags = ifi->ifi_flags;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr, l);
	return MNL_CB_OK;
}

static struct link_info get_link(int ifindex)
{
	char buf[KEEL_NL_REQ_SIZE];
	struct keel_nl nl = {0};
	struct link_info l = {.ifindex = ifindex};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	CHECK_INT(keel_nl_open(&nl), 0);
	CHECK_INT(keel_nl_talk(&nl, nlh, link_cb, &l), 0);
	keel_nl_close(&nl);
	return l;
}

/* A route Keel did not add: "ip route add DST via GW dev OIF" (gateway NULL: a device route). */
static int foreign_route(const char *dst, unsigned len, const char *gateway, int oif)
{
	char buf[KEEL_NL_REQ_SIZE];
	struct keel_nl nl = {0};
	struct keel_addr d = addr(dst);
	int family = d.family == KEEL_AF_INET ? AF_INET : AF_INET6;
	size_t n = family == AF_INET ? 4 : 16;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = (uint8_t)len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = gateway || family == AF_INET6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (len)
		mnl_attr_put(nlh, RTA_DST, n, d.bytes);
	if (gateway) {
		struct keel_addr g = addr(gateway);
		mnl_attr_put(nlh, RTA_GATEWAY, n, g.bytes);
	}
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
	int rc = keel_nl_open(&nl);
	if (rc == 0)
		rc = keel_nl_talk(&nl, nlh, NULL, NULL);
	keel_nl_close(&nl);
	return rc;
}

static void test_tun(void)
{
	struct keel_tun t = {.fd = -1}, t2 = {.fd = -1};
	struct keel_tun_config cfg = {.name = "keeltest%d", .mtu = 1400, .up = true};

	CHECK_INT(keel_tun_open(&cfg, &t), 0);
	CHECK(t.fd >= 0 && t.ifindex > 0);
	CHECK(g_str_has_prefix(t.name, "keeltest"));
	CHECK((fcntl(t.fd, F_GETFL) & O_NONBLOCK) != 0);
	CHECK((fcntl(t.fd, F_GETFD) & FD_CLOEXEC) != 0);
	struct link_info l = get_link(t.ifindex);
	CHECK(l.found);
	CHECK_INT(l.mtu, 1400);
	CHECK((l.flags & IFF_UP) != 0);
	/* IFF_TUN: a point-to-point link without ARP */
	CHECK((l.flags & IFF_POINTOPOINT) != 0);

	CHECK_INT(keel_tun_set_mtu(&t, 1300), 0);
	CHECK_INT(keel_tun_set_up(&t, false), 0);
	l = get_link(t.ifindex);
	CHECK_INT(l.mtu, 1300);
	CHECK((l.flags & IFF_UP) == 0);
	CHECK_INT(keel_tun_set_mtu(&t, 67), -EINVAL);

	/* a fixed name; a second device of the same name is refused */
	struct keel_tun_config fixed = {.name = "keelfixed"};
	CHECK_INT(keel_tun_open(&fixed, &t2), 0);
	CHECK(strcmp(t2.name, "keelfixed") == 0);
	struct keel_tun t3 = {.fd = -7};
	CHECK_INT(keel_tun_open(&fixed, &t3), -EBUSY);
	CHECK_INT(t3.fd, -7); /* not written on failure */
	struct keel_tun_config toolong = {.name = "keel-name-too-long-for-ifnamsiz"};
	CHECK_INT(keel_tun_open(&toolong, &t3), -EINVAL);

	/* closing deletes the device; closing twice is harmless */
	int ifindex = t.ifindex;
	keel_tun_close(&t);
	CHECK_INT(t.fd, -1);
	keel_tun_close(&t);
	keel_tun_close(NULL);
	CHECK(!get_link(ifindex).found);
	CHECK_INT(keel_tun_set_mtu(&t, 1400), -EBADF);
	keel_tun_close(&t2);
}

/* The "physical" network the gateway is reached through (up records it), not Keel's. */
static void uplink_up(struct keel_netcfg *up, int ifindex)
{
	struct keel_prefix u4 = prefix("192.0.2.2", 24), u6 = prefix("2001:db8:ffff::2", 64);
	CHECK_INT(keel_netcfg_add_address(up, ifindex, &u4), 0);
	CHECK_INT(keel_netcfg_add_address(up, ifindex, &u6), 0);
	CHECK_INT(foreign_route("0.0.0.0", 0, "192.0.2.1", ifindex), 0);
	CHECK_INT(foreign_route("::", 0, "2001:db8:ffff::1", ifindex), 0);
}

static void test_netcfg(void)
{
	struct keel_tun tun = {.fd = -1}, uplink = {.fd = -1};
	struct keel_tun_config tcfg = {.mtu = 1400, .up = true};
	struct keel_tun_config ucfg = {.name = "keelup0", .up = true};
	struct keel_netcfg *nc = NULL, *up = NULL;

	CHECK_INT(keel_tun_open(&tcfg, &tun), 0);
	CHECK(g_str_has_prefix(tun.name, "keel"));
	CHECK_INT(keel_tun_open(&ucfg, &uplink), 0);
	CHECK_INT(keel_netcfg_new(&nc), 0);
	CHECK_INT(keel_netcfg_new(&up), 0);
	if (!nc || !up || tun.fd < 0 || uplink.fd < 0)
		goto out;

	uplink_up(up, uplink.ifindex);

	/* 1. keep the path to the gateway */
	struct keel_addr gw4 = addr("203.0.113.10"), gw6 = addr("2001:db8:ffff:1::10");
	CHECK_INT(keel_netcfg_pin_gateway(nc, &gw4, tun.ifindex), 0);
	CHECK_INT(keel_netcfg_pin_gateway(nc, &gw6, tun.ifindex), 0);
	CHECK_INT(keel_netcfg_pending(nc), 2);
	CHECK(has_route("203.0.113.10", 32, uplink.ifindex, "192.0.2.1"));
	CHECK(has_route("2001:db8:ffff:1::10", 128, uplink.ifindex, "2001:db8:ffff::1"));
	/* again: the host route exists, nothing more is recorded */
	CHECK_INT(keel_netcfg_pin_gateway(nc, &gw4, tun.ifindex), 0);
	CHECK_INT(keel_netcfg_pending(nc), 2);
	/* a gateway that is this host needs nothing */
	struct keel_addr self = addr("192.0.2.2");
	CHECK_INT(keel_netcfg_pin_gateway(nc, &self, tun.ifindex), 0);
	CHECK_INT(keel_netcfg_pending(nc), 2);

	/* 2. the virtual IPs */
	struct keel_prefix vip4 = prefix("100.64.0.2", 32), vip6 = prefix("2001:db8:1::2", 128);
	CHECK_INT(keel_netcfg_add_address(nc, tun.ifindex, &vip4), 0);
	CHECK_INT(keel_netcfg_add_address(nc, tun.ifindex, &vip6), 0);
	CHECK_INT(keel_netcfg_add_address(nc, tun.ifindex, &vip4), -EEXIST);
	CHECK(has_address(tun.ifindex, "100.64.0.2", 32));
	CHECK(has_address(tun.ifindex, "2001:db8:1::2", 128));

	/* 3. the routes into the tunnel, host bits cleared */
	struct keel_prefix r4 = prefix("198.51.100.77", 24), r6 = prefix("2001:db8::", 32);
	CHECK_INT(keel_netcfg_add_route(nc, tun.ifindex, &r4), 0);
	CHECK_INT(keel_netcfg_add_route(nc, tun.ifindex, &r6), 0);
	CHECK(has_route("198.51.100.0", 24, tun.ifindex, NULL));
	CHECK(has_route("2001:db8::", 32, tun.ifindex, NULL));
	CHECK_INT(keel_netcfg_add_route(nc, tun.ifindex, &r4), -EEXIST);

	/* everything: the split halves, the existing default routes untouched */
	struct keel_prefix all4 = prefix("0.0.0.0", 0), all6 = prefix("::", 0);
	CHECK_INT(keel_netcfg_add_route(nc, tun.ifindex, &all4), 0);
	CHECK_INT(keel_netcfg_add_route(nc, tun.ifindex, &all6), 0);
	CHECK(has_route("0.0.0.0", 1, tun.ifindex, NULL));
	CHECK(has_route("128.0.0.0", 1, tun.ifindex, NULL));
	CHECK(has_route("::", 1, tun.ifindex, NULL));
	CHECK(has_route("8000::", 1, tun.ifindex, NULL));
	CHECK(has_route("0.0.0.0", 0, uplink.ifindex, "192.0.2.1"));
	CHECK_INT(keel_netcfg_pending(nc), 2 + 2 + 2 + 4);

	/* now the path to a new gateway would lead into the tunnel */
	struct keel_addr behind = addr("198.51.100.7");
	CHECK_INT(keel_netcfg_pin_gateway(nc, &behind, tun.ifindex), -ELOOP);

	/* a route someone else made: Keel's attempt fails and is not recorded */
	CHECK_INT(foreign_route("203.0.113.128", 25, NULL, uplink.ifindex), 0);
	struct keel_prefix theirs = prefix("203.0.113.128", 25);
	CHECK_INT(keel_netcfg_add_route(nc, uplink.ifindex, &theirs), -EEXIST);
	CHECK_INT(keel_netcfg_pending(nc), 10);

	/* 4. undo: all of Keel's gone, nothing else */
	CHECK_INT(keel_netcfg_undo(nc), 0);
	CHECK_INT(keel_netcfg_pending(nc), 0);
	CHECK(!has_route("203.0.113.10", 32, uplink.ifindex, "192.0.2.1"));
	CHECK(!has_route("2001:db8:ffff:1::10", 128, uplink.ifindex, "2001:db8:ffff::1"));
	CHECK(!has_address(tun.ifindex, "100.64.0.2", 32));
	CHECK(!has_address(tun.ifindex, "2001:db8:1::2", 128));
	CHECK(!has_route("198.51.100.0", 24, tun.ifindex, NULL));
	CHECK(!has_route("2001:db8::", 32, tun.ifindex, NULL));
	CHECK(!has_route("0.0.0.0", 1, tun.ifindex, NULL));
	CHECK(!has_route("128.0.0.0", 1, tun.ifindex, NULL));
	CHECK(!has_route("::", 1, tun.ifindex, NULL));
	CHECK(!has_route("8000::", 1, tun.ifindex, NULL));
	CHECK(has_route("203.0.113.128", 25, uplink.ifindex, NULL));
	CHECK(has_route("0.0.0.0", 0, uplink.ifindex, "192.0.2.1"));
	CHECK(has_route("::", 0, uplink.ifindex, "2001:db8:ffff::1"));
	CHECK(has_address(uplink.ifindex, "192.0.2.2", 24));

	/* undo twice is harmless */
	CHECK_INT(keel_netcfg_undo(nc), 0);
	CHECK(has_route("203.0.113.128", 25, uplink.ifindex, NULL));

	/* undo after the device went away: the kernel removed it all already */
	CHECK_INT(keel_netcfg_add_address(nc, tun.ifindex, &vip4), 0);
	CHECK_INT(keel_netcfg_add_route(nc, tun.ifindex, &r4), 0);
	CHECK_INT(keel_netcfg_pin_gateway(nc, &gw4, tun.ifindex), 0);
	CHECK_INT(keel_netcfg_pending(nc), 3);
	keel_tun_close(&tun);
	CHECK_INT(keel_netcfg_undo(nc), 0);
	CHECK_INT(keel_netcfg_pending(nc), 0);
	CHECK(!has_route("203.0.113.10", 32, uplink.ifindex, "192.0.2.1"));

	/* bad arguments */
	struct keel_prefix bad = prefix("192.0.2.1", 33);
	CHECK_INT(keel_netcfg_add_route(nc, uplink.ifindex, &bad), -EINVAL);
	struct keel_prefix none = {0};
	CHECK_INT(keel_netcfg_add_address(nc, uplink.ifindex, &none), -EINVAL);

	CHECK_INT(keel_netcfg_undo(up), 0);
	CHECK(!has_address(uplink.ifindex, "192.0.2.2", 24));
out:
	keel_netcfg_free(nc);
	keel_netcfg_free(up);
	keel_tun_close(&tun);
	keel_tun_close(&uplink);
}

/*
 * The kernel data path's configuration: the virtual IP on the interface
 * towards the gateway, routes along the gateway's path from the virtual IP,
 * tagged; after a "crash" (the journal freed without undo), a new journal
 * finds and removes them and the virtual IPs, and nothing else.
 */
static void test_kernel_path(void)
{
	struct keel_tun uplink = {.fd = -1};
	struct keel_tun_config ucfg = {.name = "keelup1", .up = true};
	struct keel_netcfg *nc = NULL, *up = NULL, *next = NULL;
	unsigned n_routes = 99, n_addrs = 99;
	int ifindex = 0;

	CHECK_INT(keel_tun_open(&ucfg, &uplink), 0);
	CHECK_INT(keel_netcfg_new(&nc), 0);
	CHECK_INT(keel_netcfg_new(&up), 0);
	CHECK_INT(keel_netcfg_new(&next), 0);
	if (!nc || !up || !next || uplink.fd < 0)
		goto out;
	uplink_up(up, uplink.ifindex);
	/* an address and a route of someone else's, which no cleanup may touch */
	struct keel_prefix other = prefix("100.64.9.9", 32);
	CHECK_INT(keel_netcfg_add_address(up, uplink.ifindex, &other), 0);
	CHECK_INT(foreign_route("203.0.113.128", 25, "192.0.2.1", uplink.ifindex), 0);

	struct keel_addr gw4 = addr("203.0.113.10"), gw6 = addr("2001:db8:ffff:1::10");
	CHECK_INT(keel_netcfg_gateway_ifindex(nc, &gw4, &ifindex), 0);
	CHECK_INT(ifindex, uplink.ifindex);
	struct keel_addr self = addr("192.0.2.2");
	CHECK_INT(keel_netcfg_gateway_ifindex(nc, &self, &ifindex), -ENETUNREACH);

	keel_netcfg_tag_routes(nc, true);
	struct keel_prefix vip4 = prefix("100.64.0.2", 32), vip6 = prefix("2001:db8:1::2", 128);
	CHECK_INT(keel_netcfg_add_address(nc, uplink.ifindex, &vip4), 0);
	CHECK_INT(keel_netcfg_add_address(nc, uplink.ifindex, &vip6), 0);
	struct keel_prefix r4 = prefix("198.51.100.77", 24), r6 = prefix("2001:db8::", 32);
	struct keel_prefix all4 = prefix("0.0.0.0", 0);
	CHECK_INT(keel_netcfg_add_route_toward(nc, &gw4, &r4, &vip4.addr), 0);
	CHECK_INT(keel_netcfg_add_route_toward(nc, &gw6, &r6, &vip6.addr), 0);
	CHECK_INT(keel_netcfg_add_route_toward(nc, &gw4, &all4, &vip4.addr), 0);
	CHECK(find_route("198.51.100.0", 24, uplink.ifindex, "192.0.2.1", "100.64.0.2"));
	CHECK(find_route("2001:db8::", 32, uplink.ifindex, "2001:db8:ffff::1", "2001:db8:1::2"));
	CHECK(find_route("0.0.0.0", 1, uplink.ifindex, "192.0.2.1", "100.64.0.2"));
	CHECK(find_route("128.0.0.0", 1, uplink.ifindex, "192.0.2.1", "100.64.0.2"));
	CHECK_INT(keel_netcfg_add_route_toward(nc, &gw4, &r4, &vip4.addr), -EEXIST);
	/* mixed families */
	CHECK_INT(keel_netcfg_add_route_toward(nc, &gw4, &r6, &vip6.addr), -EINVAL);
	CHECK_INT(keel_netcfg_add_route_toward(nc, &gw4, &r4, &vip6.addr), -EINVAL);
	/* the gateway's own path pinned, tagged too */
	CHECK_INT(keel_netcfg_pin_gateway(nc, &gw4, 0), 0);
	CHECK_INT(keel_netcfg_pending(nc), 2 + 4 + 1);

	/* undo in order: all gone, the rest stays */
	CHECK_INT(keel_netcfg_undo(nc), 0);
	CHECK(!has_route("198.51.100.0", 24, uplink.ifindex, "192.0.2.1"));
	CHECK(!has_address(uplink.ifindex, "100.64.0.2", 32));
	CHECK(has_address(uplink.ifindex, "100.64.9.9", 32));

	/* a "crash": the same again, and the journal lost */
	CHECK_INT(keel_netcfg_add_address(nc, uplink.ifindex, &vip4), 0);
	CHECK_INT(keel_netcfg_add_address(nc, uplink.ifindex, &vip6), 0);
	CHECK_INT(keel_netcfg_add_route_toward(nc, &gw4, &r4, &vip4.addr), 0);
	CHECK_INT(keel_netcfg_add_route_toward(nc, &gw6, &r6, &vip6.addr), 0);
	CHECK_INT(keel_netcfg_pin_gateway(nc, &gw4, 0), 0);
	keel_netcfg_free(nc);
	nc = NULL;
	CHECK_INT(keel_netcfg_clean_stale(next, &n_routes, &n_addrs), 0);
	CHECK_INT(n_routes, 3);
	CHECK_INT(n_addrs, 2);
	CHECK(!has_route("198.51.100.0", 24, uplink.ifindex, "192.0.2.1"));
	CHECK(!has_route("2001:db8::", 32, uplink.ifindex, "2001:db8:ffff::1"));
	CHECK(!has_route("203.0.113.10", 32, uplink.ifindex, "192.0.2.1"));
	CHECK(!has_address(uplink.ifindex, "100.64.0.2", 32));
	CHECK(!has_address(uplink.ifindex, "2001:db8:1::2", 128));
	CHECK(has_address(uplink.ifindex, "100.64.9.9", 32));
	CHECK(has_address(uplink.ifindex, "192.0.2.2", 24));
	CHECK(has_route("203.0.113.128", 25, uplink.ifindex, "192.0.2.1"));
	CHECK(has_route("0.0.0.0", 0, uplink.ifindex, "192.0.2.1"));
	/* nothing left to find */
	CHECK_INT(keel_netcfg_clean_stale(next, &n_routes, &n_addrs), 0);
	CHECK_INT(n_routes, 0);
	CHECK_INT(n_addrs, 0);
	CHECK_INT(keel_netcfg_undo(up), 0);
out:
	keel_netcfg_free(nc);
	keel_netcfg_free(up);
	keel_netcfg_free(next);
	keel_tun_close(&uplink);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP: needs root (CAP_NET_ADMIN) to create a network namespace\n");
		return CHECK_SKIP;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		printf("SKIP: cannot create a network namespace: %s\n", strerror(errno));
		return CHECK_SKIP;
	}
	if (access("/dev/net/tun", R_OK | W_OK) < 0) {
		printf("SKIP: no /dev/net/tun: %s\n", strerror(errno));
		return CHECK_SKIP;
	}
	test_tun();
	test_netcfg();
	test_kernel_path();
	return check_done();
}
