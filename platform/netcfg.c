/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Addresses and routes over rtnetlink with an undo journal.
 *
 * libmnl builds and parses the messages. The journal and the route
 * bookkeeping are Keel's own: neither libmnl nor GLib has a notion of
 * "undo exactly what I added", and the rule that a removal must name the
 * route precisely enough that the kernel cannot match someone else's is the
 * point of this file.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include <keel-platform/netcfg.h>

#include "nl.h"

enum entry_kind {
	ENTRY_ADDRESS,
	ENTRY_ROUTE,
};

/* One addition, with everything needed to remove exactly it. */
struct entry {
	enum entry_kind kind;
	bool done;
	int family; /* AF_INET, AF_INET6 */
	int ifindex;
	uint8_t addr[16]; /* the address, or the route's destination */
	uint8_t prefix_len;
	bool has_gateway;
	uint8_t gateway[16];
	uint32_t table;
	uint8_t scope;
	uint8_t protocol; /* RTPROT_STATIC, or KEEL_NETCFG_RTPROT */
	bool has_src;     /* RTA_PREFSRC */
	uint8_t src[16];
};

struct keel_netcfg {
	struct keel_nl nl;
	bool tag_routes; /* routes carry KEEL_NETCFG_RTPROT */
	struct entry *entries;
	size_t n_entries;
	size_t cap_entries;
};

static int sys_family(enum keel_af af)
{
	switch (af) {
	case KEEL_AF_INET:
		return AF_INET;
	case KEEL_AF_INET6:
		return AF_INET6;
	case KEEL_AF_UNSPEC:
		break;
	}
	return -1;
}

static unsigned family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static size_t family_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

int keel_netcfg_new(struct keel_netcfg **out)
{
	struct keel_netcfg *nc = calloc(1, sizeof(*nc));
	if (!nc)
		return -ENOMEM;
	int rc = keel_nl_open(&nc->nl);
	if (rc < 0) {
		free(nc);
		return rc;
	}
	*out = nc;
	return 0;
}

void keel_netcfg_free(struct keel_netcfg *nc)
{
	if (!nc)
		return;
	keel_nl_close(&nc->nl);
	free(nc->entries);
	free(nc);
}

size_t keel_netcfg_pending(const struct keel_netcfg *nc)
{
	size_t n = 0;
	for (size_t i = 0; i < nc->n_entries; i++)
		n += !nc->entries[i].done;
	return n;
}

static int record(struct keel_netcfg *nc, const struct entry *e)
{
	if (nc->n_entries == nc->cap_entries) {
		size_t cap = nc->cap_entries ? 2 * nc->cap_entries : 8;
		struct entry *n = realloc(nc->entries, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		nc->entries = n;
		nc->cap_entries = cap;
	}
	nc->entries[nc->n_entries++] = *e;
	return 0;
}

/* ---- messages ---- */

static struct nlmsghdr *addr_msg(char *buf, const struct entry *e, bool add)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	size_t len = family_len(e->family);

	nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)e->family;
	ifa->ifa_prefixlen = e->prefix_len;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)e->ifindex;
	/* a point-to-point TUN link has no neighbours to detect duplicates with */
	ifa->ifa_flags = e->family == AF_INET6 ? IFA_F_NODAD : 0;
	mnl_attr_put(nlh, IFA_LOCAL, len, e->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len, e->addr);
	return nlh;
}

static struct nlmsghdr *route_msg(char *buf, const struct entry *e, bool add)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	size_t len = family_len(e->family);

	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)e->family;
	rtm->rtm_dst_len = e->prefix_len;
	rtm->rtm_table = e->table < 256 ? (uint8_t)e->table : RT_TABLE_UNSPEC;
	/* the kernel matches a deletion on the protocol too: only ours go */
	rtm->rtm_protocol = e->protocol ? e->protocol : RTPROT_STATIC;
	rtm->rtm_scope = add ? e->scope : RT_SCOPE_NOWHERE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, e->table);
	if (e->prefix_len > 0)
		mnl_attr_put(nlh, RTA_DST, len, e->addr);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)e->ifindex);
	if (e->has_gateway)
		mnl_attr_put(nlh, RTA_GATEWAY, len, e->gateway);
	if (e->has_src)
		mnl_attr_put(nlh, RTA_PREFSRC, len, e->src);
	return nlh;
}

static int apply(struct keel_netcfg *nc, const struct entry *e, bool add)
{
	char buf[KEEL_NL_REQ_SIZE];
	struct nlmsghdr *nlh =
	    e->kind == ENTRY_ADDRESS ? addr_msg(buf, e, add) : route_msg(buf, e, add);
	return keel_nl_talk(&nc->nl, nlh, NULL, NULL);
}

static int add_recorded(struct keel_netcfg *nc, const struct entry *e)
{
	/* make room first, so that nothing is added that could not be recorded */
	int rc = record(nc, e);
	if (rc < 0)
		return rc;
	rc = apply(nc, e, true);
	if (rc < 0)
		nc->n_entries--;
	return rc;
}

/* ---- public ---- */

static bool prefix_ok(const struct keel_prefix *p, int *family)
{
	*family = sys_family(p->addr.family);
	return *family >= 0 && p->prefix_len <= family_bits(*family);
}

static void clear_host_bits(uint8_t *addr, unsigned prefix_len, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned keep = prefix_len > i * 8 ? prefix_len - (unsigned)i * 8 : 0;
		if (keep < 8)
			addr[i] &= (uint8_t)(0xff00u >> keep);
	}
}

int keel_netcfg_add_address(struct keel_netcfg *nc, int ifindex, const struct keel_prefix *addr)
{
	struct entry e = {.kind = ENTRY_ADDRESS, .ifindex = ifindex};
	if (!prefix_ok(addr, &e.family) || ifindex <= 0)
		return -EINVAL;
	e.prefix_len = addr->prefix_len;
	memcpy(e.addr, addr->addr.bytes, family_len(e.family));
	return add_recorded(nc, &e);
}

/* Adds e for dst; a default route becomes its two halves (see keel_netcfg_add_route()). */
static int add_route_entry(struct keel_netcfg *nc, struct entry *e, const struct keel_prefix *dst)
{
	size_t len = family_len(e->family);
	memcpy(e->addr, dst->addr.bytes, len);
	clear_host_bits(e->addr, dst->prefix_len, len);
	if (nc->tag_routes)
		e->protocol = KEEL_NETCFG_RTPROT;
	if (dst->prefix_len > 0) {
		e->prefix_len = dst->prefix_len;
		return add_recorded(nc, e);
	}
	/* everything: two halves, more specific than any default route */
	e->prefix_len = 1;
	int rc = add_recorded(nc, e);
	if (rc < 0)
		return rc;
	e->addr[0] = 0x80;
	return add_recorded(nc, e);
}

int keel_netcfg_add_route(struct keel_netcfg *nc, int ifindex, const struct keel_prefix *dst)
{
	struct entry e = {
	    .kind = ENTRY_ROUTE,
	    .ifindex = ifindex,
	    .table = RT_TABLE_MAIN,
	    .scope = RT_SCOPE_LINK,
	};
	if (!prefix_ok(dst, &e.family) || ifindex <= 0)
		return -EINVAL;
	if (e.family == AF_INET6)
		e.scope = RT_SCOPE_UNIVERSE;
	return add_route_entry(nc, &e, dst);
}

/* A route as the kernel reports it (a look-up's answer, or a dump's entry). */
struct lookup {
	int family;
	bool found;
	uint8_t type;
	uint32_t table;
	int oif;
	bool has_gateway;
	uint8_t gateway[16];
	bool via;
	uint8_t dst[16];
	bool has_src;
	uint8_t src[16];
};

static void attr_addr(const struct nlattr *a, size_t len, uint8_t *out, bool *has)
{
	if (mnl_attr_get_payload_len(a) != len)
		return;
	memcpy(out, mnl_attr_get_payload(a), len);
	if (has)
		*has = true;
}

static int lookup_attr(const struct nlattr *a, void *data)
{
	struct lookup *l = data;
	size_t len = family_len(l->family);

	switch (mnl_attr_get_type(a)) {
	case RTA_TABLE:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->table = mnl_attr_get_u32(a);
		break;
	case RTA_OIF:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->oif = (int)mnl_attr_get_u32(a);
		break;
	case RTA_GATEWAY:
		attr_addr(a, len, l->gateway, &l->has_gateway);
		break;
	case RTA_VIA:
		l->via = true;
		break;
	case RTA_DST:
		attr_addr(a, len, l->dst, NULL);
		break;
	case RTA_PREFSRC:
		attr_addr(a, len, l->src, &l->has_src);
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

static int lookup_cb(const struct nlmsghdr *nlh, void *data)
{
	struct lookup *l = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != l->family)
		return MNL_CB_OK;
	l->found = true;
	l->type = rtm->rtm_type;
	l->table = rtm->rtm_table;
	mnl_attr_parse(nlh, sizeof(*rtm), lookup_attr, l);
	return MNL_CB_OK;
}

/*
 * The current route to gateway (RTM_GETROUTE) into *l: a unicast route
 * with its device (0), or RTN_LOCAL when the gateway is this host (0 too,
 * l->type says so); -ENETUNREACH, -EOPNOTSUPP (RTA_VIA) otherwise.
 */
static int gateway_route(struct keel_netcfg *nc, const struct keel_addr *gateway, struct lookup *l)
{
	char buf[KEEL_NL_REQ_SIZE];
	int family = sys_family(gateway->family);
	if (family < 0)
		return -EINVAL;
	size_t len = family_len(family);

	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = (uint8_t)family_bits(family);
	/* report the FIB table the route came from, not the cache's */
	rtm->rtm_flags = RTM_F_LOOKUP_TABLE;
	mnl_attr_put(nlh, RTA_DST, len, gateway->bytes);

	memset(l, 0, sizeof(*l));
	l->family = family;
	int rc = keel_nl_talk(&nc->nl, nlh, lookup_cb, l);
	if (rc < 0)
		return rc;
	if (!l->found)
		return -ENETUNREACH;
	if (l->type == RTN_LOCAL)
		return 0;
	if (l->type != RTN_UNICAST)
		return -ENETUNREACH;
	if (l->via)
		return -EOPNOTSUPP; /* a next hop of the other family (RTA_VIA) */
	if (l->oif <= 0)
		return -ENETUNREACH;
	return 0;
}

/* A route entry along the path l describes (same device, next hop, table). */
static struct entry entry_along(const struct lookup *l)
{
	return (struct entry){
	    .kind = ENTRY_ROUTE,
	    .family = l->family,
	    .ifindex = l->oif,
	    .has_gateway = l->has_gateway,
	    .table = l->table ? l->table : RT_TABLE_MAIN,
	    .scope = l->has_gateway || l->family == AF_INET6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
	};
}

int keel_netcfg_pin_gateway(struct keel_netcfg *nc, const struct keel_addr *gateway,
                            int tun_ifindex)
{
	struct lookup l;
	int rc = gateway_route(nc, gateway, &l);
	if (rc < 0)
		return rc;
	if (l.type == RTN_LOCAL)
		return 0; /* the gateway is this host: nothing to keep */
	if (l.oif == tun_ifindex)
		return -ELOOP;

	struct entry e = entry_along(&l);
	size_t len = family_len(e.family);
	e.prefix_len = (uint8_t)family_bits(e.family);
	memcpy(e.addr, gateway->bytes, len);
	memcpy(e.gateway, l.gateway, len);
	if (nc->tag_routes)
		e.protocol = KEEL_NETCFG_RTPROT;
	rc = add_recorded(nc, &e);
	return rc == -EEXIST ? 0 : rc;
}

int keel_netcfg_gateway_ifindex(struct keel_netcfg *nc, const struct keel_addr *gateway,
                                int *ifindex)
{
	struct lookup l;
	int rc = gateway_route(nc, gateway, &l);
	if (rc < 0)
		return rc;
	if (l.type == RTN_LOCAL)
		return -ENETUNREACH;
	*ifindex = l.oif;
	return 0;
}

int keel_netcfg_add_route_toward(struct keel_netcfg *nc, const struct keel_addr *gateway,
                                 const struct keel_prefix *dst, const struct keel_addr *src)
{
	struct lookup l;
	int family;
	if (!prefix_ok(dst, &family) || family != sys_family(gateway->family) ||
	    (src && sys_family(src->family) != family))
		return -EINVAL;
	int rc = gateway_route(nc, gateway, &l);
	if (rc < 0)
		return rc;
	if (l.type == RTN_LOCAL)
		return -ENETUNREACH;
	struct entry e = entry_along(&l);
	size_t len = family_len(family);
	memcpy(e.gateway, l.gateway, len);
	if (src) {
		e.has_src = true;
		memcpy(e.src, src->bytes, len);
	}
	return add_route_entry(nc, &e, dst);
}

void keel_netcfg_tag_routes(struct keel_netcfg *nc, bool tag)
{
	nc->tag_routes = tag;
}

static bool already_gone(int err)
{
	return err == -ESRCH || err == -ENOENT || err == -ENODEV || err == -EADDRNOTAVAIL ||
	       err == -ENXIO;
}

int keel_netcfg_undo(struct keel_netcfg *nc)
{
	int first = 0;
	for (size_t i = nc->n_entries; i-- > 0;) {
		struct entry *e = &nc->entries[i];
		if (e->done)
			continue;
		int rc = apply(nc, e, false);
		if (rc == 0 || already_gone(rc))
			e->done = true;
		else if (first == 0)
			first = rc;
	}
	if (first == 0)
		nc->n_entries = 0;
	return first;
}

/* ---- what a crashed run left ---- */

/* At most this many stale routes and addresses are found in one call. */
#define STALE_MAX 256

struct stale {
	struct entry routes[STALE_MAX];
	size_t n_routes;
	struct entry addrs[STALE_MAX];
	size_t n_addrs;
};

static int stale_route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct stale *st = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_protocol != KEEL_NETCFG_RTPROT ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
	    st->n_routes == STALE_MAX)
		return MNL_CB_OK;
	struct lookup l = {.family = rtm->rtm_family, .table = rtm->rtm_table};
	mnl_attr_parse(nlh, sizeof(*rtm), lookup_attr, &l);
	if (l.oif <= 0)
		return MNL_CB_OK;
	struct entry e = entry_along(&l);
	size_t len = family_len(e.family);
	e.prefix_len = rtm->rtm_dst_len;
	e.scope = rtm->rtm_scope;
	e.protocol = KEEL_NETCFG_RTPROT;
	e.has_src = l.has_src;
	memcpy(e.addr, l.dst, len);
	memcpy(e.gateway, l.gateway, len);
	memcpy(e.src, l.src, len);
	st->routes[st->n_routes++] = e;
	return MNL_CB_OK;
}

/* An address that is the preferred source of a stale route: that run's virtual IP. */
static int stale_addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct stale *st = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	int family = ifa->ifa_family;
	if (nlh->nlmsg_type != RTM_NEWADDR || (family != AF_INET && family != AF_INET6) ||
	    ifa->ifa_prefixlen != family_bits(family) || st->n_addrs == STALE_MAX)
		return MNL_CB_OK;
	size_t len = family_len(family);
	mnl_attr_for_each(a, nlh, sizeof(*ifa))
	{
		if (mnl_attr_get_type(a) != (family == AF_INET ? IFA_LOCAL : IFA_ADDRESS) ||
		    mnl_attr_get_payload_len(a) != len)
			continue;
		for (size_t i = 0; i < st->n_routes; i++) {
			const struct entry *r = &st->routes[i];
			if (!r->has_src || r->family != family ||
			    memcmp(r->src, mnl_attr_get_payload(a), len) != 0)
				continue;
			struct entry *e = &st->addrs[st->n_addrs++];
			*e = (struct entry){
			    .kind = ENTRY_ADDRESS,
			    .family = family,
			    .ifindex = (int)ifa->ifa_index,
			    .prefix_len = ifa->ifa_prefixlen,
			};
			memcpy(e->addr, r->src, len);
			return MNL_CB_OK;
		}
	}
	return MNL_CB_OK;
}

static int dump(struct keel_netcfg *nc, uint16_t type, mnl_cb_t cb, struct stale *st)
{
	char buf[KEEL_NL_REQ_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	struct rtgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	return keel_nl_talk(&nc->nl, nlh, cb, st);
}

/* Deletes the n entries e; *count: how many went. 0, or the first failure. */
static int delete_found(struct keel_netcfg *nc, const struct entry *e, size_t n, unsigned *count)
{
	for (size_t i = 0; i < n; i++) {
		int rc = apply(nc, &e[i], false);
		if (rc == 0)
			++*count;
		else if (!already_gone(rc))
			return rc;
	}
	return 0;
}

int keel_netcfg_clean_stale(struct keel_netcfg *nc, unsigned *n_routes, unsigned *n_addrs)
{
	unsigned routes = 0, addrs = 0;
	struct stale *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	int rc = dump(nc, RTM_GETROUTE, stale_route_cb, st);
	if (rc == 0 && st->n_routes > 0)
		rc = dump(nc, RTM_GETADDR, stale_addr_cb, st);
	/* routes first: they name the addresses as their source */
	if (rc == 0)
		rc = delete_found(nc, st->routes, st->n_routes, &routes);
	if (rc == 0)
		rc = delete_found(nc, st->addrs, st->n_addrs, &addrs);
	free(st);
	if (n_routes)
		*n_routes = routes;
	if (n_addrs)
		*n_addrs = addrs;
	return rc;
}
