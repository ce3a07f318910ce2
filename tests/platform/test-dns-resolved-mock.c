/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The systemd-resolved path of dns.c against a stand-in: a private
 * dbus-daemon, and in this process a thread that owns
 * org.freedesktop.resolve1 on it and records the SetLinkDNS,
 * SetLinkDomains and RevertLink calls it gets (signatures as resolved's
 * org.freedesktop.resolve1(5)). DBUS_SYSTEM_BUS_ADDRESS points Keel at that
 * bus. Skips (77) without dbus-daemon. The real resolved is
 * test-dns-resolved.c.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include <keel-platform/dns.h>

#include "check.h"

static const char introspection[] =
    "<node><interface name='org.freedesktop.resolve1.Manager'>"
    "<method name='SetLinkDNS'><arg type='i' direction='in'/>"
    "<arg type='a(iay)' direction='in'/></method>"
    "<method name='SetLinkDomains'><arg type='i' direction='in'/>"
    "<arg type='a(sb)' direction='in'/></method>"
    "<method name='RevertLink'><arg type='i' direction='in'/></method>"
    "</interface></node>";

struct mock {
	GMutex lock;
	GCond cond;
	bool ready;
	bool failed;
	char *address;
	GMainContext *ctx;
	GMainLoop *loop;
	/* what was called */
	int dns_ifindex;
	GVariant *dns;
	int domains_ifindex;
	GVariant *domains;
	int reverts;
	int revert_ifindex;
	int gone_ifindex; /* links resolved does not know (as after the TUN device went away) */
};

static void method_call(GDBusConnection *conn, const char *sender, const char *path,
                        const char *iface, const char *method, GVariant *params,
                        GDBusMethodInvocation *inv, gpointer data)
{
	struct mock *m = data;
	int ifindex;
	(void)conn, (void)sender, (void)path, (void)iface;

	g_variant_get_child(params, 0, "i", &ifindex);
	g_mutex_lock(&m->lock);
	bool gone = ifindex == 999 || ifindex == m->gone_ifindex;
	if (!gone && strcmp(method, "SetLinkDNS") == 0) {
		m->dns_ifindex = ifindex;
		g_clear_pointer(&m->dns, g_variant_unref);
		m->dns = g_variant_get_child_value(params, 1);
	} else if (!gone && strcmp(method, "SetLinkDomains") == 0) {
		m->domains_ifindex = ifindex;
		g_clear_pointer(&m->domains, g_variant_unref);
		m->domains = g_variant_get_child_value(params, 1);
	} else if (!gone && strcmp(method, "RevertLink") == 0) {
		m->reverts++;
		m->revert_ifindex = ifindex;
	}
	g_mutex_unlock(&m->lock);
	if (gone)
		g_dbus_method_invocation_return_dbus_error(
		    inv, "org.freedesktop.resolve1.NoSuchLink", "Link not known");
	else
		g_dbus_method_invocation_return_value(inv, NULL);
}

static gpointer service(gpointer data)
{
	struct mock *m = data;
	static const GDBusInterfaceVTable vtable = {.method_call = method_call};
	g_autoptr(GError) error = NULL;
	unsigned id = 0;

	g_main_context_push_thread_default(m->ctx);
	GDBusConnection *conn = g_dbus_connection_new_for_address_sync(
	    m->address,
	    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	    NULL, NULL, &error);
	GDBusNodeInfo *node = g_dbus_node_info_new_for_xml(introspection, NULL);
	if (conn)
		id = g_dbus_connection_register_object(conn, "/org/freedesktop/resolve1",
		                                       node->interfaces[0], &vtable, m, NULL,
		                                       &error);
	GVariant *r = NULL;
	if (id)
		r = g_dbus_connection_call_sync(
		    conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
		    "RequestName", g_variant_new("(su)", "org.freedesktop.resolve1", 4),
		    G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
	if (error)
		fprintf(stderr, "mock resolved: %s\n", error->message);
	g_mutex_lock(&m->lock);
	m->ready = true;
	m->failed = r == NULL;
	g_cond_signal(&m->cond);
	g_mutex_unlock(&m->lock);
	if (r) {
		g_variant_unref(r);
		g_main_loop_run(m->loop);
	}
	if (id)
		g_dbus_connection_unregister_object(conn, id);
	if (conn) {
		g_dbus_connection_close_sync(conn, NULL, NULL);
		g_object_unref(conn);
	}
	g_dbus_node_info_unref(node);
	g_main_context_pop_thread_default(m->ctx);
	return NULL;
}

static gboolean quit_loop(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

/* Starts a private dbus-daemon; its address goes to *address. */
static bool start_bus(const char *dir, GPid *pid, char **address)
{
	g_autofree char *listen = g_strdup_printf("unix:path=%s/bus", dir);
	char *argv[] = {"dbus-daemon", "--session", "--nofork", "--print-address=1",
	                "--address",   listen,      NULL};
	g_autoptr(GError) error = NULL;
	int out = -1;
	if (!g_spawn_async_with_pipes(NULL, argv, NULL,
	                              G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
	                              pid, NULL, &out, NULL, &error)) {
		printf("SKIP: cannot start dbus-daemon: %s\n", error->message);
		return false;
	}
	char line[512];
	size_t n = 0;
	while (n < sizeof(line) - 1) {
		ssize_t r = read(out, line + n, 1);
		if (r <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	close(out);
	if (n == 0) {
		printf("SKIP: dbus-daemon printed no address\n");
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
		g_spawn_close_pid(*pid);
		return false;
	}
	*address = g_strdup(line);
	return true;
}

static void check_servers(GVariant *dns)
{
	CHECK(dns != NULL);
	if (!dns)
		return;
	CHECK_INT(g_variant_n_children(dns), 2);
	int family;
	g_autoptr(GVariant) bytes = NULL;
	gsize len;
	g_variant_get_child(dns, 0, "(i@ay)", &family, &bytes);
	CHECK_INT(family, AF_INET);
	const uint8_t *b = g_variant_get_fixed_array(bytes, &len, 1);
	CHECK_MEM(b, len, "\xc6\x33\x64\x35", 4); /* 198.51.100.53 */
	g_clear_pointer(&bytes, g_variant_unref);
	g_variant_get_child(dns, 1, "(i@ay)", &family, &bytes);
	CHECK_INT(family, AF_INET6);
	b = g_variant_get_fixed_array(bytes, &len, 1);
	CHECK_MEM(b, len, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x53", 16); /* 2001:db8::53 */
}

static void run(struct mock *m, const char *dir)
{
	g_autofree char *resolv = g_build_filename(dir, "resolv.conf", NULL);
	struct keel_dns_options opts = {.backend = KEEL_DNS_AUTO, .resolv_conf = resolv};
	struct keel_addr servers[2] = {{.family = KEEL_AF_INET}, {.family = KEEL_AF_INET6}};
	const char *const domains[] = {"corp.example.org"};
	g_autoptr(GError) error = NULL;

	inet_pton(AF_INET, "198.51.100.53", servers[0].bytes);
	inet_pton(AF_INET6, "2001:db8::53", servers[1].bytes);
	struct keel_dns_config cfg = {.ifindex = 5,
	                              .servers = servers,
	                              .n_servers = 2,
	                              .domains = domains,
	                              .n_domains = 1,
	                              .default_route = true};

	struct keel_dns *dns = keel_dns_new(&opts);
	CHECK(keel_dns_apply(dns, &cfg, &error));
	if (error)
		fprintf(stderr, "%s\n", error->message);
	CHECK_INT(keel_dns_backend_used(dns), KEEL_DNS_RESOLVED);
	/* resolved was used, resolv.conf not touched */
	CHECK(!g_file_test(resolv, G_FILE_TEST_EXISTS));

	g_mutex_lock(&m->lock);
	CHECK_INT(m->dns_ifindex, 5);
	check_servers(m->dns);
	CHECK_INT(m->domains_ifindex, 5);
	CHECK(m->domains != NULL);
	if (m->domains) {
		g_autofree char *text = g_variant_print(m->domains, FALSE);
		/* the search domain, then "~." for the full tunnel */
		CHECK(strcmp(text, "[('corp.example.org', false), ('.', true)]") == 0);
	}
	CHECK_INT(m->reverts, 0);
	g_mutex_unlock(&m->lock);

	CHECK(keel_dns_revert(dns, &error));
	CHECK(keel_dns_revert(dns, &error));
	g_mutex_lock(&m->lock);
	CHECK_INT(m->reverts, 1);
	CHECK_INT(m->revert_ifindex, 5);
	g_mutex_unlock(&m->lock);

	/* split tunnel: no "~." */
	cfg.default_route = false;
	CHECK(keel_dns_apply(dns, &cfg, &error));
	g_mutex_lock(&m->lock);
	if (m->domains) {
		g_autofree char *text = g_variant_print(m->domains, FALSE);
		CHECK(strcmp(text, "[('corp.example.org', false)]") == 0);
	}
	/* the link went away before the revert: nothing left to undo, not an error */
	m->gone_ifindex = 5;
	g_mutex_unlock(&m->lock);
	CHECK(keel_dns_revert(dns, &error));
	CHECK_INT(keel_dns_backend_used(dns), KEEL_DNS_AUTO);

	/* resolved refuses: the error says who and why, nothing is left applied */
	cfg.ifindex = 999;
	CHECK(!keel_dns_apply(dns, &cfg, &error));
	CHECK(error && strcmp(error->message, "systemd-resolved SetLinkDNS: Link not known "
	                                      "(org.freedesktop.resolve1.NoSuchLink)") == 0);
	if (error)
		printf("error as reported: %s\n", error->message);
	CHECK_INT(keel_dns_backend_used(dns), KEEL_DNS_AUTO);
	g_clear_error(&error);
	keel_dns_free(dns);
}

int main(void)
{
	g_autofree char *dir = g_dir_make_tmp("keel-resolved-XXXXXX", NULL);
	struct mock m = {0};
	GPid pid;

	if (!dir || !start_bus(dir, &pid, &m.address)) {
		if (dir)
			g_rmdir(dir);
		return CHECK_SKIP;
	}
	g_setenv("DBUS_SYSTEM_BUS_ADDRESS", m.address, TRUE);
	g_mutex_init(&m.lock);
	g_cond_init(&m.cond);
	m.ctx = g_main_context_new();
	m.loop = g_main_loop_new(m.ctx, FALSE);
	GThread *thread = g_thread_new("mock-resolved", service, &m);
	g_mutex_lock(&m.lock);
	while (!m.ready)
		g_cond_wait(&m.cond, &m.lock);
	g_mutex_unlock(&m.lock);
	CHECK(!m.failed);

	if (!m.failed)
		run(&m, dir);

	g_main_context_invoke(m.ctx, quit_loop, m.loop);
	g_thread_join(thread);
	g_main_loop_unref(m.loop);
	g_main_context_unref(m.ctx);
	g_clear_pointer(&m.dns, g_variant_unref);
	g_clear_pointer(&m.domains, g_variant_unref);
	g_mutex_clear(&m.lock);
	g_cond_clear(&m.cond);
	g_free(m.address);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	g_spawn_close_pid(pid);
	g_autofree char *sock = g_build_filename(dir, "bus", NULL);
	g_unlink(sock);
	g_rmdir(dir);
	return check_done();
}
