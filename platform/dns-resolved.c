/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * DNS per link in systemd-resolved: SetLinkDNS, SetLinkDomains and
 * RevertLink of org.freedesktop.resolve1.Manager (org.freedesktop.resolve1(5)),
 * over the minimal D-Bus client of dbus.c. A connection is made for each
 * apply and each revert: there are two per tunnel.
 */
#include <string.h>
#include <sys/socket.h>

#include "dbus.h"
#include "dns-resolved.h"

#define RESOLVED_NAME       "org.freedesktop.resolve1"
#define RESOLVED_PATH       "/org/freedesktop/resolve1"
#define RESOLVED_MANAGER    "org.freedesktop.resolve1.Manager"
#define RESOLVED_TIMEOUT_MS 10000

static bool resolved_running(struct keel_dbus *bus)
{
	struct keel_dbus_body body;
	struct keel_dbus_msg reply;
	bool owned = false;

	keel_dbus_body_init(&body);
	keel_dbus_put_string(&body, RESOLVED_NAME);
	if (!keel_dbus_call(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
	                    "org.freedesktop.DBus", "NameHasOwner", "s", &body, RESOLVED_TIMEOUT_MS,
	                    &reply, NULL, NULL) ||
	    !keel_dbus_msg_get_bool(&reply, &owned))
		owned = false;
	keel_dbus_body_clear(&body);
	return owned;
}

/*
 * Calls a Manager method. An error reads "systemd-resolved METHOD: message
 * (org.freedesktop.resolve1.Name)"; the D-Bus error name also goes to
 * *remote (if not NULL; g_free it).
 */
static bool resolved_call(struct keel_dbus *bus, const char *method, const char *sig,
                          struct keel_dbus_body *body, char **remote, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autofree char *name = NULL;
	bool ok = keel_dbus_call(bus, RESOLVED_NAME, RESOLVED_PATH, RESOLVED_MANAGER, method, sig,
	                         body, RESOLVED_TIMEOUT_MS, NULL, &name, &local);
	keel_dbus_body_clear(body);
	if (ok)
		return true;
	g_set_error(error, KEEL_DNS_ERROR, KEEL_DNS_ERROR_RESOLVED, "systemd-resolved %s: %s%s%s%s",
	            method, local->message, name ? " (" : "", name ? name : "", name ? ")" : "");
	if (remote)
		*remote = g_steal_pointer(&name);
	return false;
}

static bool revert_link(struct keel_dbus *bus, int ifindex, char **remote, GError **error)
{
	struct keel_dbus_body body;
	keel_dbus_body_init(&body);
	keel_dbus_put_i32(&body, ifindex);
	return resolved_call(bus, "RevertLink", "i", &body, remote, error);
}

int keel_dns_resolved_apply(const struct keel_dns_config *cfg, GError **error)
{
	g_autoptr(GError) bus_error = NULL;
	struct keel_dbus *bus = keel_dbus_open_system(RESOLVED_TIMEOUT_MS, &bus_error);
	if (!bus || !resolved_running(bus)) {
		keel_dbus_close(bus);
		g_set_error(error, KEEL_DNS_ERROR, KEEL_DNS_ERROR_NOT_FOUND,
		            "systemd-resolved is not running%s%s", bus_error ? ": " : "",
		            bus_error ? bus_error->message : "");
		return 0;
	}

	struct keel_dbus_body body;
	struct keel_dbus_array a;
	keel_dbus_body_init(&body); /* SetLinkDNS(i ifindex, a(iay) addresses) */
	keel_dbus_put_i32(&body, cfg->ifindex);
	a = keel_dbus_open_array(&body, 8);
	for (size_t i = 0; i < cfg->n_servers; i++) {
		const struct keel_addr *s = &cfg->servers[i];
		bool v4 = s->family == KEEL_AF_INET;
		keel_dbus_open_struct(&body);
		keel_dbus_put_i32(&body, v4 ? AF_INET : AF_INET6);
		keel_dbus_put_bytes(&body, s->bytes, v4 ? 4 : 16);
	}
	keel_dbus_close_array(&body, a);
	bool ok = resolved_call(bus, "SetLinkDNS", "ia(iay)", &body, NULL, error);

	if (ok) {
		keel_dbus_body_init(&body); /* SetLinkDomains(i ifindex, a(sb) domains) */
		keel_dbus_put_i32(&body, cfg->ifindex);
		a = keel_dbus_open_array(&body, 8);
		for (size_t i = 0; i < cfg->n_domains; i++) {
			keel_dbus_open_struct(&body);
			keel_dbus_put_string(&body, cfg->domains[i]);
			keel_dbus_put_bool(&body, false); /* a search domain */
		}
		if (cfg->default_route) {
			keel_dbus_open_struct(&body); /* "~.": the routing domain for every query */
			keel_dbus_put_string(&body, ".");
			keel_dbus_put_bool(&body, true);
		}
		keel_dbus_close_array(&body, a);
		ok = resolved_call(bus, "SetLinkDomains", "ia(sb)", &body, NULL, error);
		if (!ok)
			revert_link(bus, cfg->ifindex, NULL, NULL);
	}
	keel_dbus_close(bus);
	return ok ? 1 : -1;
}

bool keel_dns_resolved_revert(int ifindex, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autofree char *remote = NULL;
	struct keel_dbus *bus = keel_dbus_open_system(RESOLVED_TIMEOUT_MS, &local);
	if (!bus) {
		g_set_error(error, KEEL_DNS_ERROR, KEEL_DNS_ERROR_RESOLVED,
		            "systemd-resolved RevertLink: %s", local->message);
		return false;
	}
	bool ok = revert_link(bus, ifindex, &remote, &local);
	keel_dbus_close(bus);
	/* a link that is gone has nothing left to revert */
	if (!ok && !(remote && strcmp(remote, RESOLVED_NAME ".NoSuchLink") == 0)) {
		g_propagate_error(error, g_steal_pointer(&local));
		return false;
	}
	return true;
}
