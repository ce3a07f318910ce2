/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * platform/dbus.c, the minimal D-Bus client that talks to systemd-resolved,
 * checked against GDBus as an independent implementation: the calls it
 * writes are read back by GDBus, the replies GDBus writes (both byte
 * orders) are read by it, and every single-byte change or truncation of
 * those messages is parsed without reading out of bounds (run under ASan).
 * A stand-in bus on a socket in a temporary directory then plays what a
 * real bus rarely does: refusing authentication, signals and stray replies
 * before ours, an error reply with odd text, no reply, a closed connection.
 * (The whole path against dbus-daemon: test-dns-resolved-mock.c.)
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "check.h"
#include "dbus.h"

static GDBusMessage *parse_with_gdbus(const GByteArray *m)
{
	g_autoptr(GError) error = NULL;
	GDBusMessage *msg =
	    g_dbus_message_new_from_blob(m->data, m->len, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
	if (!msg)
		fprintf(stderr, "GDBus: %s\n", error->message);
	return msg;
}

static void test_calls_read_by_gdbus(void)
{
	struct keel_dbus_body b;
	struct keel_dbus_array a;
	const uint8_t v4[4] = {198, 51, 100, 53};
	const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x53};

	keel_dbus_body_init(&b);
	keel_dbus_put_i32(&b, 5);
	a = keel_dbus_open_array(&b, 8);
	keel_dbus_open_struct(&b);
	keel_dbus_put_i32(&b, AF_INET);
	keel_dbus_put_bytes(&b, v4, 4);
	keel_dbus_open_struct(&b);
	keel_dbus_put_i32(&b, AF_INET6);
	keel_dbus_put_bytes(&b, v6, 16);
	keel_dbus_close_array(&b, a);
	GByteArray *m =
	    keel_dbus_build_call(41, "org.freedesktop.resolve1", "/org/freedesktop/resolve1",
	                         "org.freedesktop.resolve1.Manager", "SetLinkDNS", "ia(iay)", &b);
	keel_dbus_body_clear(&b);
	g_autoptr(GDBusMessage) msg = parse_with_gdbus(m);
	CHECK(msg != NULL);
	if (msg) {
		CHECK_INT(g_dbus_message_get_message_type(msg), G_DBUS_MESSAGE_TYPE_METHOD_CALL);
		CHECK_INT(g_dbus_message_get_serial(msg), 41);
		CHECK(g_strcmp0(g_dbus_message_get_path(msg), "/org/freedesktop/resolve1") == 0);
		CHECK(g_strcmp0(g_dbus_message_get_interface(msg),
		                "org.freedesktop.resolve1.Manager") == 0);
		CHECK(g_strcmp0(g_dbus_message_get_member(msg), "SetLinkDNS") == 0);
		CHECK(g_strcmp0(g_dbus_message_get_destination(msg), "org.freedesktop.resolve1") ==
		      0);
		CHECK(g_strcmp0(g_dbus_message_get_signature(msg), "ia(iay)") == 0);
		GVariantBuilder servers;
		g_variant_builder_init(&servers, G_VARIANT_TYPE("a(iay)"));
		g_variant_builder_add(
		    &servers, "(i@ay)", AF_INET,
		    g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, v4, sizeof(v4), 1));
		g_variant_builder_add(
		    &servers, "(i@ay)", AF_INET6,
		    g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, v6, sizeof(v6), 1));
		g_autoptr(GVariant) want =
		    g_variant_ref_sink(g_variant_new("(ia(iay))", 5, &servers));
		GVariant *got = g_dbus_message_get_body(msg);
		CHECK(got && g_variant_equal(got, want));
	}
	g_byte_array_unref(m);

	/* strings and booleans in structs, and an empty array (its padding is still there) */
	keel_dbus_body_init(&b);
	keel_dbus_put_i32(&b, 7);
	a = keel_dbus_open_array(&b, 8);
	keel_dbus_open_struct(&b);
	keel_dbus_put_string(&b, "corp.example.org");
	keel_dbus_put_bool(&b, false);
	keel_dbus_open_struct(&b);
	keel_dbus_put_string(&b, ".");
	keel_dbus_put_bool(&b, true);
	keel_dbus_close_array(&b, a);
	a = keel_dbus_open_array(&b, 8);
	keel_dbus_close_array(&b, a);
	m = keel_dbus_build_call(42, NULL, "/x", NULL, "M", "ia(sb)a(iay)", &b);
	keel_dbus_body_clear(&b);
	g_autoptr(GDBusMessage) msg2 = parse_with_gdbus(m);
	CHECK(msg2 != NULL);
	if (msg2) {
		g_autofree char *text = g_variant_print(g_dbus_message_get_body(msg2), FALSE);
		CHECK(strcmp(text, "(7, [('corp.example.org', false), ('.', true)], [])") == 0);
		if (strcmp(text, "(7, [('corp.example.org', false), ('.', true)], [])") != 0)
			fprintf(stderr, "body: %s\n", text);
		CHECK(g_dbus_message_get_interface(msg2) == NULL);
		CHECK(g_dbus_message_get_destination(msg2) == NULL);
	}
	g_byte_array_unref(m);

	/* no body at all: no SIGNATURE field */
	m = keel_dbus_build_call(43, "org.freedesktop.DBus", "/org/freedesktop/DBus",
	                         "org.freedesktop.DBus", "Hello", "", NULL);
	g_autoptr(GDBusMessage) msg3 = parse_with_gdbus(m);
	CHECK(msg3 && g_dbus_message_get_body(msg3) == NULL);
	CHECK(msg3 && g_dbus_message_get_signature(msg3)[0] == '\0');
	g_byte_array_unref(m);
}

/* A reply to serial 7 made by GDBus, as bytes. */
static GBytes *gdbus_reply(bool big_endian, GDBusMessageType type, GVariant *body)
{
	g_autoptr(GDBusMessage) call =
	    g_dbus_message_new_method_call("org.example", "/x", "org.example.I", "M");
	g_dbus_message_set_serial(call, 7);
	g_autoptr(GDBusMessage) r = NULL;
	if (type == G_DBUS_MESSAGE_TYPE_ERROR) {
		r = g_dbus_message_new_method_error_literal(
		    call, "org.freedesktop.resolve1.NoSuchLink", "Link not known");
	} else if (type == G_DBUS_MESSAGE_TYPE_SIGNAL) {
		r = g_dbus_message_new_signal("/org/freedesktop/DBus", "org.freedesktop.DBus",
		                              "NameAcquired");
		g_dbus_message_set_body(r, body);
	} else {
		r = g_dbus_message_new_method_reply(call);
		g_dbus_message_set_body(r, body);
	}
	g_dbus_message_set_serial(r, 99);
	if (big_endian)
		g_dbus_message_set_byte_order(r, G_DBUS_MESSAGE_BYTE_ORDER_BIG_ENDIAN);
	gsize len = 0;
	guchar *blob = g_dbus_message_to_blob(r, &len, G_DBUS_CAPABILITY_FLAGS_NONE, NULL);
	return g_bytes_new_take(blob, len);
}

static bool parse_bytes(GBytes *b, struct keel_dbus_msg *msg)
{
	gsize len;
	const uint8_t *p = g_bytes_get_data(b, &len);
	return len >= 16 && keel_dbus_msg_len(p) == len && keel_dbus_parse(p, len, msg);
}

/*
 * Every truncation is refused; every byte set to a few values either parses
 * or is refused, and never reads past the message (an exact-size copy, so
 * ASan sees any overread).
 */
static void mutate(GBytes *b)
{
	gsize len;
	const uint8_t *orig = g_bytes_get_data(b, &len);
	struct keel_dbus_msg msg;
	unsigned parsed = 0;

	for (size_t k = 16; k < len; k++) {
		uint8_t *copy = g_memdup2(orig, k);
		CHECK(!keel_dbus_parse(copy, k, &msg));
		g_free(copy);
	}
	for (size_t i = 0; i < len; i++) {
		const uint8_t values[] = {0x00, 0x01, 0x08, 0x73,
		                          0x7f, 0x80, 0xff, (uint8_t)(orig[i] ^ 1)};
		for (size_t v = 0; v < sizeof(values); v++) {
			uint8_t *copy = g_memdup2(orig, len);
			copy[i] = values[v];
			size_t n = keel_dbus_msg_len(copy);
			if (n == len && keel_dbus_parse(copy, len, &msg)) {
				parsed++;
				bool bv;
				const char *sv;
				/* the body readers stay in bounds too */
				if (keel_dbus_msg_get_bool(&msg, &bv))
					CHECK(bv == 0 || bv == 1);
				if (keel_dbus_msg_get_string(&msg, &sv))
					CHECK(sv != NULL);
			}
			g_free(copy);
		}
	}
	CHECK(parsed > 0); /* changes in the body alone still parse */
}

static void test_replies_from_gdbus(void)
{
	for (int big = 0; big <= 1; big++) {
		struct keel_dbus_msg msg;
		const char *s = NULL;
		bool v = false;

		g_autoptr(GBytes) rb =
		    gdbus_reply(big, G_DBUS_MESSAGE_TYPE_METHOD_RETURN, g_variant_new("(b)", TRUE));
		CHECK(parse_bytes(rb, &msg));
		CHECK_INT(msg.type, KEEL_DBUS_METHOD_RETURN);
		CHECK_INT(msg.serial, 99);
		CHECK_INT(msg.reply_serial, 7);
		CHECK_INT(msg.big_endian, big);
		CHECK(strcmp(msg.signature, "b") == 0);
		CHECK(keel_dbus_msg_get_bool(&msg, &v) && v);
		CHECK(!keel_dbus_msg_get_string(&msg, &s));
		mutate(rb);

		g_autoptr(GBytes) rs = gdbus_reply(big, G_DBUS_MESSAGE_TYPE_METHOD_RETURN,
		                                   g_variant_new("(s)", ":1.42"));
		CHECK(parse_bytes(rs, &msg));
		CHECK(keel_dbus_msg_get_string(&msg, &s) && strcmp(s, ":1.42") == 0);
		CHECK(!keel_dbus_msg_get_bool(&msg, &v));

		g_autoptr(GBytes) re = gdbus_reply(big, G_DBUS_MESSAGE_TYPE_ERROR, NULL);
		CHECK(parse_bytes(re, &msg));
		CHECK_INT(msg.type, KEEL_DBUS_ERROR_REPLY);
		CHECK_INT(msg.reply_serial, 7);
		CHECK(msg.error_name &&
		      strcmp(msg.error_name, "org.freedesktop.resolve1.NoSuchLink") == 0);
		CHECK(keel_dbus_msg_get_string(&msg, &s) && strcmp(s, "Link not known") == 0);
		mutate(re);

		g_autoptr(GBytes) sig =
		    gdbus_reply(big, G_DBUS_MESSAGE_TYPE_SIGNAL, g_variant_new("(s)", ":1.42"));
		CHECK(parse_bytes(sig, &msg));
		CHECK_INT(msg.type, KEEL_DBUS_SIGNAL);
		CHECK_INT(msg.reply_serial, 0);
	}
}

/* Hand-made little-endian messages that must be refused. */
static void test_refused(void)
{
	struct keel_dbus_msg msg;
	/* a METHOD_RETURN whose one header field is REPLY_SERIAL (u) 7 */
	uint8_t ok[] = {'l', 2, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 5, 1, 'u', 0, 7, 0, 0, 0};
	CHECK_INT(keel_dbus_msg_len(ok), sizeof(ok));
	CHECK(keel_dbus_parse(ok, sizeof(ok), &msg) && msg.reply_serial == 7);

	uint8_t bad[sizeof(ok)];
	memcpy(bad, ok, sizeof(ok));
	bad[0] = 'x'; /* neither 'l' nor 'B' */
	CHECK_INT(keel_dbus_msg_len(bad), 0);
	memcpy(bad, ok, sizeof(ok));
	bad[3] = 2; /* protocol version */
	CHECK_INT(keel_dbus_msg_len(bad), 0);
	memcpy(bad, ok, sizeof(ok));
	bad[18] = 's'; /* REPLY_SERIAL must be a UINT32 */
	CHECK(!keel_dbus_parse(bad, sizeof(bad), &msg));
	memcpy(bad, ok, sizeof(ok));
	bad[8] = 0; /* serial 0 */
	CHECK(!keel_dbus_parse(bad, sizeof(bad), &msg));
	memcpy(bad, ok, sizeof(ok));
	bad[20] = 0; /* a reply to serial 0 */
	CHECK(!keel_dbus_parse(bad, sizeof(bad), &msg));
	memcpy(bad, ok, sizeof(ok));
	bad[17] = 2; /* a signature that runs into the value */
	CHECK(!keel_dbus_parse(bad, sizeof(bad), &msg));

	/* a body longer than we take */
	uint8_t huge[16] = {'l', 2, 0, 1, 0, 0, 0x20, 0, 1, 0, 0, 0, 0, 0, 0, 0};
	CHECK_INT(keel_dbus_msg_len(huge), 0);

	/* an ERROR whose name is not a D-Bus error name */
	uint8_t err[] = {'l', 3, 0, 1, 0,   0,   0,   0,   1,   0, 0, 0, 22,  0,
	                 0,   0, 5, 1, 'u', 0,   7,   0,   0,   0, 4, 1, 's', 0,
	                 5,   0, 0, 0, 'a', '/', '.', 'b', 'c', 0, 0, 0};
	CHECK_INT(keel_dbus_msg_len(err), sizeof(err));
	CHECK(!keel_dbus_parse(err, sizeof(err), &msg));
	err[33] = 'x'; /* "ax.bc" is one */
	CHECK(keel_dbus_parse(err, sizeof(err), &msg));
	CHECK(msg.error_name && strcmp(msg.error_name, "ax.bc") == 0);
}

/* ---- a stand-in bus ---- */

enum script {
	SCRIPT_REJECT,      /* REJECTED to AUTH */
	SCRIPT_CONVERSE,    /* Hello, Ping (error), Slow (no answer) */
	SCRIPT_CLOSE_HELLO, /* closes instead of answering Hello */
};

struct server {
	int listen_fd;
	enum script script;
	bool uid_ok;
	bool begin_seen;
	unsigned calls;
};

static bool read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		if (read(fd, buf + n, 1) != 1)
			return false;
		if (n > 0 && buf[n - 1] == '\r' && buf[n] == '\n') {
			buf[n - 1] = '\0';
			return true;
		}
		n++;
	}
	return false;
}

static bool write_all(int fd, const void *data, size_t len)
{
	return write(fd, data, len) == (ssize_t)len;
}

static bool send_msg(int fd, GDBusMessage *m, uint32_t serial)
{
	gsize len;
	g_dbus_message_set_serial(m, serial);
	g_autofree guchar *blob =
	    g_dbus_message_to_blob(m, &len, G_DBUS_CAPABILITY_FLAGS_NONE, NULL);
	return blob && write_all(fd, blob, len);
}

static gpointer serve(gpointer data)
{
	struct server *s = data;
	char line[256];
	int fd = accept(s->listen_fd, NULL, NULL);
	if (fd < 0)
		return NULL;
	char nul;
	g_autofree char *want = NULL;
	g_autoptr(GString) hex = g_string_new(NULL);
	g_autofree char *uid = g_strdup_printf("%u", (unsigned)geteuid());
	for (const char *c = uid; *c; c++)
		g_string_append_printf(hex, "%02x", (unsigned)*c);
	want = g_strdup_printf("AUTH EXTERNAL %s", hex->str);
	if (read(fd, &nul, 1) != 1 || nul != '\0' || !read_line(fd, line, sizeof(line)))
		goto out;
	s->uid_ok = strcmp(line, want) == 0;
	if (s->script == SCRIPT_REJECT) {
		write_all(fd, "REJECTED EXTERNAL\r\n", 19);
		goto out;
	}
	write_all(fd, "OK 0123456789abcdef0123456789abcdef\r\n", 37);
	if (!read_line(fd, line, sizeof(line)))
		goto out;
	s->begin_seen = strcmp(line, "BEGIN") == 0;
	for (uint32_t serial = 1;; serial++) {
		uint8_t head[16];
		if (read(fd, head, 16) != 16)
			break;
		size_t len = keel_dbus_msg_len(head);
		if (len < 16)
			break;
		g_autofree uint8_t *buf = g_malloc(len);
		memcpy(buf, head, 16);
		if (len > 16 && read(fd, buf + 16, len - 16) != (ssize_t)(len - 16))
			break;
		g_autoptr(GDBusMessage) call =
		    g_dbus_message_new_from_blob(buf, len, G_DBUS_CAPABILITY_FLAGS_NONE, NULL);
		if (!call)
			break;
		s->calls++;
		const char *member = g_dbus_message_get_member(call);
		if (s->script == SCRIPT_CLOSE_HELLO)
			break;
		if (strcmp(member, "Hello") == 0) {
			/* a signal, and a reply to someone else's call, before ours */
			g_autoptr(GDBusMessage) sig = g_dbus_message_new_signal(
			    "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameAcquired");
			g_dbus_message_set_body(sig, g_variant_new("(s)", ":1.7"));
			send_msg(fd, sig, serial++);
			g_autoptr(GDBusMessage) other = g_dbus_message_new_method_reply(call);
			g_dbus_message_set_reply_serial(other, 12345);
			send_msg(fd, other, serial++);
			g_autoptr(GDBusMessage) r = g_dbus_message_new_method_reply(call);
			g_dbus_message_set_body(r, g_variant_new("(s)", ":1.7"));
			send_msg(fd, r, serial);
		} else if (strcmp(member, "Ping") == 0) {
			g_autoptr(GDBusMessage) r = g_dbus_message_new_method_error_literal(
			    call, "org.example.Error.Nope", "no \"way\"\n\x01");
			send_msg(fd, r, serial);
		}
		/* "Slow": no answer */
	}
out:
	close(fd);
	return NULL;
}

static void test_stand_in_bus(void)
{
	g_autofree char *dir = g_dir_make_tmp("keel-dbus-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "bus", NULL);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
	      listen(lfd, 4) == 0);

	/* the first address has no bus; "%75" is 'u'; guid is ignored */
	g_autofree char *addr = g_strdup_printf(
	    "tcp:host=localhost,port=1;unix:path=%s/none;unix:path=%s/b%%75s,guid=0123", dir, dir);
	g_setenv("DBUS_SYSTEM_BUS_ADDRESS", addr, TRUE);

	struct server s = {.listen_fd = lfd, .script = SCRIPT_REJECT};
	g_autoptr(GError) error = NULL;
	GThread *t = g_thread_new("bus", serve, &s);
	struct keel_dbus *bus = keel_dbus_open_system(2000, &error);
	g_thread_join(t);
	CHECK(bus == NULL);
	CHECK(g_error_matches(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_AUTH));
	CHECK(s.uid_ok);
	g_clear_error(&error);

	s = (struct server){.listen_fd = lfd, .script = SCRIPT_CLOSE_HELLO};
	t = g_thread_new("bus", serve, &s);
	bus = keel_dbus_open_system(2000, &error);
	g_thread_join(t);
	CHECK(bus == NULL);
	CHECK(g_error_matches(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_IO));
	CHECK(s.begin_seen);
	g_clear_error(&error);

	s = (struct server){.listen_fd = lfd, .script = SCRIPT_CONVERSE};
	t = g_thread_new("bus", serve, &s);
	bus = keel_dbus_open_system(2000, &error);
	CHECK(bus != NULL);
	if (bus) {
		char *remote = NULL;
		CHECK(!keel_dbus_call(bus, "org.example", "/x", "org.example.I", "Ping", "", NULL,
		                      2000, NULL, &remote, &error));
		CHECK(g_error_matches(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_REMOTE));
		/* the peer's text, escaped */
		CHECK(error && strcmp(error->message, "no \\\"way\\\"\\n\\001") == 0);
		CHECK(remote && strcmp(remote, "org.example.Error.Nope") == 0);
		g_free(remote);
		g_clear_error(&error);
		gint64 t0 = g_get_monotonic_time();
		CHECK(!keel_dbus_call(bus, "org.example", "/x", "org.example.I", "Slow", "", NULL,
		                      200, NULL, NULL, &error));
		CHECK(g_error_matches(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_TIMEOUT));
		gint64 waited_ms = (g_get_monotonic_time() - t0) / 1000;
		CHECK(waited_ms >= 190 && waited_ms < 2000);
		g_clear_error(&error);
	}
	keel_dbus_close(bus);
	g_thread_join(t);
	CHECK_INT(s.calls, 3);

	/* nowhere to connect, and nothing usable */
	close(lfd);
	g_unlink(path);
	CHECK(keel_dbus_open_system(200, &error) == NULL);
	CHECK(g_error_matches(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_CONNECT));
	g_clear_error(&error);
	g_setenv("DBUS_SYSTEM_BUS_ADDRESS", "tcp:host=localhost,port=1;unix:path=%zz", TRUE);
	CHECK(keel_dbus_open_system(200, &error) == NULL);
	CHECK(g_error_matches(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_CONNECT));
	CHECK(error && strstr(error->message, "malformed") != NULL);
	g_clear_error(&error);
	g_unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
	g_rmdir(dir);
}

int main(void)
{
	test_calls_read_by_gdbus();
	test_replies_from_gdbus();
	test_refused();
	test_stand_in_bus();
	return check_done();
}
