/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The systemd-resolved path of dns.c against the real resolved on the
 * system bus: a temporary TUN device gets a DNS server and a search domain,
 * they are read back from resolved's Link object, then reverted. Skips (77),
 * saying why, without root, a system bus, or resolved on it. (The
 * marshalling is also tested against a stand-in in test-dns-resolved-mock.c.)
 */
#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include <keel-platform/dns.h>
#include <keel-platform/tun.h>

#include "check.h"

static GVariant *link_property(GDBusConnection *bus, int ifindex, const char *name)
{
	g_autoptr(GVariant) link = g_dbus_connection_call_sync(
	    bus, "org.freedesktop.resolve1", "/org/freedesktop/resolve1",
	    "org.freedesktop.resolve1.Manager", "GetLink", g_variant_new("(i)", ifindex),
	    G_VARIANT_TYPE("(o)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
	if (!link)
		return NULL;
	const char *path;
	g_variant_get(link, "(&o)", &path);
	g_autoptr(GVariant) v = g_dbus_connection_call_sync(
	    bus, "org.freedesktop.resolve1", path, "org.freedesktop.DBus.Properties", "Get",
	    g_variant_new("(ss)", "org.freedesktop.resolve1.Link", name), G_VARIANT_TYPE("(v)"),
	    G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
	if (!v)
		return NULL;
	GVariant *inner;
	g_variant_get(v, "(v)", &inner);
	return inner;
}

int main(void)
{
	g_autoptr(GError) error = NULL;
	if (geteuid() != 0) {
		printf("SKIP: needs root to create a TUN device and change its DNS settings\n");
		return CHECK_SKIP;
	}
	GDBusConnection *bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
	if (!bus) {
		printf("SKIP: no system bus (%s)\n", error->message);
		return CHECK_SKIP;
	}
	g_autoptr(GVariant) owned = g_dbus_connection_call_sync(
	    bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
	    "NameHasOwner", g_variant_new("(s)", "org.freedesktop.resolve1"), G_VARIANT_TYPE("(b)"),
	    G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
	gboolean has = FALSE;
	if (owned)
		g_variant_get(owned, "(b)", &has);
	if (!has) {
		printf("SKIP: systemd-resolved does not run on the system bus\n");
		g_object_unref(bus);
		return CHECK_SKIP;
	}

	struct keel_tun tun = {.fd = -1};
	struct keel_tun_config tcfg = {.name = "keeltest%d", .up = true};
	CHECK_INT(keel_tun_open(&tcfg, &tun), 0);
	struct keel_addr server = {.family = KEEL_AF_INET};
	inet_pton(AF_INET, "198.51.100.53", server.bytes);
	const char *const domains[] = {"keel-test.example"};
	struct keel_dns_config cfg = {.ifindex = tun.ifindex,
	                              .servers = &server,
	                              .n_servers = 1,
	                              .domains = domains,
	                              .n_domains = 1};
	struct keel_dns_options opts = {.backend = KEEL_DNS_RESOLVED};
	struct keel_dns *dns = keel_dns_new(&opts);

	CHECK(tun.fd >= 0 && keel_dns_apply(dns, &cfg, &error));
	if (error)
		fprintf(stderr, "%s\n", error->message);
	g_autoptr(GVariant) got = link_property(bus, tun.ifindex, "DNS");
	g_autofree char *text = got ? g_variant_print(got, FALSE) : NULL;
	printf("resolved's DNS for %s: %s\n", tun.name, text ? text : "(none)");
	CHECK(text && strstr(text, "[0xc6, 0x33, 0x64, 0x35]") != NULL);
	g_autoptr(GVariant) doms = link_property(bus, tun.ifindex, "Domains");
	g_autofree char *dtext = doms ? g_variant_print(doms, FALSE) : NULL;
	CHECK(dtext && strstr(dtext, "keel-test.example") != NULL);

	CHECK(keel_dns_revert(dns, &error));
	g_autoptr(GVariant) after = link_property(bus, tun.ifindex, "DNS");
	CHECK(after && g_variant_n_children(after) == 0);
	CHECK(keel_dns_revert(dns, &error));

	keel_dns_free(dns);
	keel_tun_close(&tun);
	g_object_unref(bus);
	return check_done();
}
