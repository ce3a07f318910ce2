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
};

struct keel_netcfg {
	struct keel_nl nl;
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
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = add ? e->scope : RT_SCOPE_NOWHERE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, e->table);
	if (e->prefix_len > 0)
		mnl_attr_put(nlh, RTA_DST, len, e->addr);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)e->ifindex);
	if (e->has_gateway)
		mnl_attr_put(nlh, RTA_GATEWAY, len, e->gateway);
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
	size_t len = family_len(e.family);
	memcpy(e.addr, dst->addr.bytes, len);
	clear_host_bits(e.addr, dst->prefix_len, len);
	if (dst->prefix_len > 0) {
		e.prefix_len = dst->prefix_len;
		return add_recorded(nc, &e);
	}
	/* everything: two halves, more specific than any default route */
	e.prefix_len = 1;
	int rc = add_recorded(nc, &e);
	if (rc < 0)
		return rc;
	e.addr[0] = 0x80;
	return add_recorded(nc, &e);
}

struct lookup {
	int family;
	bool found;
	uint8_t type;
	uint32_t table;
	int oif;
	bool has_gateway;
	uint8_t gateway[16];
	bool via;
};

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
		if (mnl_attr_get_payload_len(a) == len) {
			memcpy(l->gateway, mnl_attr_get_payload(a), len);
			l->has_gateway = true;
		}
		break;
	case RTA_VIA:
		l->via = true;
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

int keel_netcfg_pin_gateway(struct keel_netcfg *nc, const struct keel_addr *gateway,
                            int tun_ifindex)
{
	char buf[KEEL_NL_REQ_SIZE];
	struct lookup l = {0};
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

	l.family = family;
	int rc = keel_nl_talk(&nc->nl, nlh, lookup_cb, &l);
	if (rc < 0)
		return rc;
	if (!l.found)
		return -ENETUNREACH;
	if (l.type == RTN_LOCAL)
		return 0; /* the gateway is this host: nothing to keep */
	if (l.type != RTN_UNICAST)
		return -ENETUNREACH;
	if (l.via)
		return -EOPNOTSUPP; /* a next hop of the other family (RTA_VIA) */
	if (l.oif <= 0)
		return -ENETUNREACH;
	if (l.oif == tun_ifindex)
		return -ELOOP;

	struct entry e = {
	    .kind = ENTRY_ROUTE,
	    .family = family,
	    .ifindex = l.oif,
	    .prefix_len = (uint8_t)family_bits(family),
	    .has_gateway = l.has_gateway,
	    .table = l.table ? l.table : RT_TABLE_MAIN,
	    .scope = l.has_gateway || family == AF_INET6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
	};
	memcpy(e.addr, gateway->bytes, len);
	memcpy(e.gateway, l.gateway, len);
	rc = add_recorded(nc, &e);
	return rc == -EEXIST ? 0 : rc;
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
