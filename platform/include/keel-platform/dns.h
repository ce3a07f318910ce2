/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * DNS servers and search domains for the tunnel.
 *
 * Where systemd-resolved runs (its name org.freedesktop.resolve1 is owned on
 * the system bus), the settings are made per link over D-Bus (SetLinkDNS,
 * SetLinkDomains) and undone with RevertLink; resolved forgets them by itself
 * when the TUN device goes away.
 *
 * Otherwise resolv.conf is replaced. Before that, the original is saved next
 * to it as "<path>.keel-backup": a copy of the file (same bytes, mode, owner
 * and times), a symbolic link with the same target if it was one, or a
 * symbolic link to "keel:absent" if there was none. Reverting renames the
 * backup over the file, so the original comes back exactly. The backup
 * survives a crash: keel_dns_recover() puts it back on the next start, and
 * keel_dns_apply() refuses to run while one exists. While its change is in
 * place, a run holds an flock() on "<path>.keel-lock", so the backup of a
 * keel that is still running is never taken for a crashed one's: recovery
 * leaves it alone, and a second keel's apply is refused.
 *
 * Errors are GErrors in KEEL_DNS_ERROR. Nothing here needs GIO: the D-Bus
 * calls to resolved go through a minimal client of Keel's own (dbus.c).
 */
#ifndef KEEL_PLATFORM_DNS_H
#define KEEL_PLATFORM_DNS_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include <keel/config.h>

#define KEEL_DNS_ERROR (keel_dns_error_quark())
GQuark keel_dns_error_quark(void);

enum keel_dns_error {
	KEEL_DNS_ERROR_FAILED,    /* a file could not be read, written or replaced */
	KEEL_DNS_ERROR_EXISTS,    /* already applied, or a backup left by a crash */
	KEEL_DNS_ERROR_INVALID,   /* a search domain or server that cannot be used */
	KEEL_DNS_ERROR_NOT_FOUND, /* backend RESOLVED, and systemd-resolved is not running */
	KEEL_DNS_ERROR_RESOLVED,  /* systemd-resolved (or the bus) failed or refused a call;
	                             the message names the D-Bus error */
};

enum keel_dns_backend {
	KEEL_DNS_AUTO = 0,    /* resolved if it runs, else resolv.conf */
	KEEL_DNS_RESOLVED,    /* systemd-resolved only */
	KEEL_DNS_RESOLV_CONF, /* resolv.conf only */
};

struct keel_dns_options {
	enum keel_dns_backend backend;
	const char *resolv_conf; /* NULL: /etc/resolv.conf (tests use a temporary file) */
};

struct keel_dns_config {
	int ifindex; /* the TUN device (resolved needs it) */
	const struct keel_addr *servers;
	size_t n_servers;
	const char *const *domains; /* search domains: letters, digits, '-', '_', '.' */
	size_t n_domains;
	/*
	 * Send every query to these servers (full tunnel): resolved gets the
	 * routing domain "~."; resolv.conf lists only these servers anyway.
	 */
	bool default_route;
};

struct keel_dns;

/* A new handle; opts may be NULL (AUTO, /etc/resolv.conf). Copies what it keeps. */
struct keel_dns *keel_dns_new(const struct keel_dns_options *opts);

/*
 * Frees dns. It does NOT revert: call keel_dns_revert() first. (A crash
 * leaves the resolv.conf backup for keel_dns_recover().) NULL is fine.
 */
void keel_dns_free(struct keel_dns *dns);

/*
 * Applies cfg (copied; borrowed for the call). With no servers nothing is
 * changed and TRUE is returned. Fails (nothing changed) on a domain with
 * other characters, when already applied, when a resolv.conf backup
 * exists (KEEL_DNS_ERROR_EXISTS: call keel_dns_recover() first), or when the
 * chosen backend fails; a resolv.conf half-written is rolled back.
 */
bool keel_dns_apply(struct keel_dns *dns, const struct keel_dns_config *cfg, GError **error);

/*
 * Undoes keel_dns_apply(): RevertLink, or the backup renamed back over
 * resolv.conf. Idempotent: with nothing applied it does nothing and returns
 * TRUE. A link that no longer exists counts as reverted.
 */
bool keel_dns_revert(struct keel_dns *dns, GError **error);

/* The backend keel_dns_apply() used; KEEL_DNS_AUTO before (or when it changed nothing). */
enum keel_dns_backend keel_dns_backend_used(const struct keel_dns *dns);

/*
 * After a crash: if "<resolv_conf>.keel-backup" exists and no running keel
 * holds its lock, puts it back over resolv_conf (NULL: /etc/resolv.conf).
 * Returns 1 when it restored something, 0 when there was no backup (or it
 * belongs to a running keel), -1 with *error set on failure.
 */
int keel_dns_recover(const char *resolv_conf, GError **error);

#endif
