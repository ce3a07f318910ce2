/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Addresses and routes for the tunnel, through rtnetlink, with an undo
 * journal.
 *
 * Everything added through a struct keel_netcfg is recorded; keel_netcfg_undo()
 * removes it in reverse order. Only what this object added is ever removed:
 * an address or route that already existed (EEXIST) is not recorded, and each
 * removal names the exact address or route (family, prefix, table, device,
 * gateway, protocol), so the kernel refuses to delete anything else.
 *
 * Order for a tunnel: keel_netcfg_pin_gateway() first (so that IKE and ESP
 * keep their path to the gateway), then the virtual IP with
 * keel_netcfg_add_address(), then the routes with keel_netcfg_add_route().
 * On disconnect, on error, or on SIGINT/SIGTERM, call keel_netcfg_undo()
 * from ordinary code (the event loop's signal source), never from an async
 * signal handler: it sends netlink messages and frees memory.
 *
 * With the kernel (XFRM) data path there is no tunnel device: the virtual IP
 * goes on the interface that leads to the gateway
 * (keel_netcfg_gateway_ifindex()), and keel_netcfg_add_route_toward() routes
 * the remote networks along the gateway's path with the virtual IP as
 * preferred source, so that the kernel's policy lookup sees packets from the
 * virtual IP and the IPsec policies take them. Such routes are tagged
 * (keel_netcfg_tag_routes(): protocol KEEL_NETCFG_RTPROT), so that after a
 * crash keel_netcfg_clean_stale() finds them and the virtual IPs they name.
 *
 * Functions return 0 or -errno. Needs CAP_NET_ADMIN. Addresses use the core's
 * struct keel_addr / struct keel_prefix (ports ignored).
 */
#ifndef KEEL_PLATFORM_NETCFG_H
#define KEEL_PLATFORM_NETCFG_H

#include <stdbool.h>
#include <stddef.h>

#include <keel/config.h>
#include <keel/ike.h>

struct keel_netcfg;

/* A new, empty journal with its own rtnetlink socket. 0 or -errno; *out on success. */
int keel_netcfg_new(struct keel_netcfg **out);

/*
 * Frees nc and closes its socket. It does NOT undo: call keel_netcfg_undo()
 * first (addresses and routes on the TUN device go away with the device in
 * any case; a pinned gateway route does not). NULL is fine.
 */
void keel_netcfg_free(struct keel_netcfg *nc);

/*
 * Adds addr (e.g. the virtual IP 100.64.0.2/32, or an IPv6 /128; no DAD) to
 * the interface. -EEXIST if that address is already on it (then not
 * recorded, so never removed), -EINVAL for a bad family or prefix length.
 */
int keel_netcfg_add_address(struct keel_netcfg *nc, int ifindex, const struct keel_prefix *addr);

/*
 * Routes dst through the interface (a device route, main table, protocol
 * static). Host bits of dst are cleared. A default route (0.0.0.0/0, ::/0)
 * becomes the two halves 0.0.0.0/1 + 128.0.0.0/1 (::/1 + 8000::/1), which are
 * more specific than any existing default route and leave it untouched.
 * -EEXIST if the same route exists already (not recorded); when a split
 * default fails half-way, the half already added stays recorded.
 */
int keel_netcfg_add_route(struct keel_netcfg *nc, int ifindex, const struct keel_prefix *dst);

/*
 * Looks up the current route to the gateway (RTM_GETROUTE) and adds a host
 * route (/32 or /128) to it along that path (same device, next hop and table),
 * so that IKE and ESP still reach the gateway once the tunnel routes are in.
 * Nothing is added when the gateway is a local address, or when a host route
 * to it exists already. -ELOOP if the current route already leads into
 * tun_ifindex (call this before adding the tunnel routes), -ENETUNREACH etc.
 * when there is no route.
 */
int keel_netcfg_pin_gateway(struct keel_netcfg *nc, const struct keel_addr *gateway,
                            int tun_ifindex);

/*
 * The interface the current route to the gateway leaves by, into *ifindex.
 * -ENETUNREACH when there is none or the gateway is a local address,
 * -EOPNOTSUPP for a next hop of another family.
 */
int keel_netcfg_gateway_ifindex(struct keel_netcfg *nc, const struct keel_addr *gateway,
                                int *ifindex);

/*
 * Routes dst along the current path to the gateway (its device, next hop
 * and table), with src (may be NULL) as the preferred source address
 * (RTA_PREFSRC; it must be an address of this host already). Host bits of
 * dst are cleared; a default route becomes two halves as with
 * keel_netcfg_add_route(). -EEXIST if the same route exists (not recorded),
 * -EINVAL for mixed families, errors of keel_netcfg_gateway_ifindex().
 */
int keel_netcfg_add_route_toward(struct keel_netcfg *nc, const struct keel_addr *gateway,
                                 const struct keel_prefix *dst, const struct keel_addr *src);

/* Routes added through nc from now on carry rtm_protocol KEEL_NETCFG_RTPROT (tag) or not. */
#define KEEL_NETCFG_RTPROT 0x4b /* 'K'; free in iproute2's rt_protos */
void keel_netcfg_tag_routes(struct keel_netcfg *nc, bool tag);

/*
 * After a crash: deletes every route tagged KEEL_NETCFG_RTPROT in this
 * network namespace, and the host addresses (/32, /128) that were their
 * preferred source (the virtual IPs). Call it only when no other Keel with
 * the kernel data path runs in the namespace (keel_xfrm_census() says so).
 * *n_routes, *n_addrs (may be NULL): how many went. 0 or -errno.
 */
int keel_netcfg_clean_stale(struct keel_netcfg *nc, unsigned *n_routes, unsigned *n_addrs);

/*
 * Removes everything recorded, newest first. Something already gone (the
 * device was deleted, or another program removed it) counts as removed.
 * Entries whose removal failed for another reason stay recorded, and the
 * first such error is returned after trying all; calling again retries only
 * those. Calling it when nothing is recorded does nothing and returns 0.
 */
int keel_netcfg_undo(struct keel_netcfg *nc);

/* How many additions are recorded and not yet undone. */
size_t keel_netcfg_pending(const struct keel_netcfg *nc);

#endif
