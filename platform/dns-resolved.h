/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The systemd-resolved side of dns.c (see keel-platform/dns.h). */
#ifndef KEEL_PLATFORM_DNS_RESOLVED_H
#define KEEL_PLATFORM_DNS_RESOLVED_H

#include <keel-platform/dns.h>

/*
 * Gives cfg's servers and domains to resolved for cfg->ifindex. 1 when
 * done; 0 when resolved is not there to ask (no system bus, or no owner of
 * org.freedesktop.resolve1), with *error saying so (KEEL_DNS_ERROR_NOT_FOUND);
 * -1 when resolved or the bus failed a call (KEEL_DNS_ERROR_RESOLVED), with
 * nothing left applied.
 */
int keel_dns_resolved_apply(const struct keel_dns_config *cfg, GError **error);

/* RevertLink for ifindex; a link resolved no longer knows counts as reverted. */
bool keel_dns_resolved_revert(int ifindex, GError **error);

#endif
