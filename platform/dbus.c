/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A minimal D-Bus client (see dbus.h). Section names in comments are those
 * of the D-Bus Specification.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dbus.h"

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_ORDER 'l'
#else
#define HOST_ORDER 'B'
#endif

#define DEFAULT_SYSTEM_BUS "unix:path=/var/run/dbus/system_bus_socket"
#define HEADER_LEN         16
#define MAX_ADDR_LEN       4096
#define MAX_AUTH_LINE      512

/* "Message Format": header field codes */
enum {
	FIELD_PATH = 1,
	FIELD_INTERFACE = 2,
	FIELD_MEMBER = 3,
	FIELD_ERROR_NAME = 4,
	FIELD_REPLY_SERIAL = 5,
	FIELD_DESTINATION = 6,
	FIELD_SIGNATURE = 8,
};

struct keel_dbus {
	int fd;
	uint32_t serial;
	uint8_t *in; /* the last message read: the reply handed out by keel_dbus_call() */
};

GQuark keel_dbus_error_quark(void)
{
	return g_quark_from_static_string("keel-dbus-error-quark");
}

/* ---- writing ("Marshaling (Wire Format)"): host byte order ---- */

static void pad_to(GByteArray *a, size_t align)
{
	static const uint8_t zeros[8];
	g_byte_array_append(a, zeros, (guint)((align - a->len % align) % align));
}

static void put_u32(GByteArray *a, uint32_t v)
{
	pad_to(a, 4);
	g_byte_array_append(a, (const uint8_t *)&v, 4);
}

/* s and o: UINT32 length, the bytes, a NUL */
static void put_str(GByteArray *a, const char *s)
{
	size_t n = strlen(s);
	put_u32(a, (uint32_t)n);
	g_byte_array_append(a, (const uint8_t *)s, (guint)n + 1);
}

/* g: BYTE length, the bytes, a NUL */
static void put_sig(GByteArray *a, const char *s)
{
	uint8_t n = (uint8_t)strlen(s);
	g_byte_array_append(a, &n, 1);
	g_byte_array_append(a, (const uint8_t *)s, n + 1u);
}

void keel_dbus_body_init(struct keel_dbus_body *b)
{
	b->buf = g_byte_array_new();
}

void keel_dbus_body_clear(struct keel_dbus_body *b)
{
	if (b->buf)
		g_byte_array_unref(b->buf);
	b->buf = NULL;
}

void keel_dbus_put_i32(struct keel_dbus_body *b, int32_t v)
{
	put_u32(b->buf, (uint32_t)v);
}

void keel_dbus_put_bool(struct keel_dbus_body *b, bool v)
{
	put_u32(b->buf, v ? 1 : 0);
}

void keel_dbus_put_string(struct keel_dbus_body *b, const char *s)
{
	put_str(b->buf, s);
}

void keel_dbus_put_bytes(struct keel_dbus_body *b, const uint8_t *data, size_t len)
{
	put_u32(b->buf, (uint32_t)len);
	g_byte_array_append(b->buf, data, (guint)len);
}

struct keel_dbus_array keel_dbus_open_array(struct keel_dbus_body *b, size_t elem_align)
{
	struct keel_dbus_array a;
	put_u32(b->buf, 0);
	a.len_pos = b->buf->len - 4;
	/* the padding to the first element is there even when there is none */
	pad_to(b->buf, elem_align);
	a.start = b->buf->len;
	return a;
}

void keel_dbus_close_array(struct keel_dbus_body *b, struct keel_dbus_array a)
{
	/* the array's length leaves out the padding after the length field */
	uint32_t len = (uint32_t)(b->buf->len - a.start);
	memcpy(b->buf->data + a.len_pos, &len, 4);
}

void keel_dbus_open_struct(struct keel_dbus_body *b)
{
	pad_to(b->buf, 8);
}

static void put_field(GByteArray *m, uint8_t code, char type, const char *value)
{
	const uint8_t sig[3] = {1, (uint8_t)type, 0};
	pad_to(m, 8); /* a header field is a STRUCT of BYTE and VARIANT */
	g_byte_array_append(m, &code, 1);
	g_byte_array_append(m, sig, 3);
	if (type == 'g')
		put_sig(m, value);
	else
		put_str(m, value);
}

GByteArray *keel_dbus_build_call(uint32_t serial, const char *dest, const char *path,
                                 const char *iface, const char *member, const char *sig,
                                 const struct keel_dbus_body *body)
{
	const uint8_t fixed[4] = {HOST_ORDER, KEEL_DBUS_METHOD_CALL, 0, 1};
	uint32_t body_len = body && body->buf ? body->buf->len : 0;
	GByteArray *m = g_byte_array_sized_new(256 + body_len);

	g_byte_array_append(m, fixed, 4);
	put_u32(m, body_len);
	put_u32(m, serial);
	put_u32(m, 0); /* the header fields' length, patched below */
	put_field(m, FIELD_PATH, 'o', path);
	if (iface)
		put_field(m, FIELD_INTERFACE, 's', iface);
	put_field(m, FIELD_MEMBER, 's', member);
	if (dest)
		put_field(m, FIELD_DESTINATION, 's', dest);
	if (sig && *sig)
		put_field(m, FIELD_SIGNATURE, 'g', sig);
	uint32_t fields_len = m->len - HEADER_LEN;
	memcpy(m->data + 12, &fields_len, 4);
	pad_to(m, 8); /* the body starts on an 8-byte boundary */
	if (body_len)
		g_byte_array_append(m, body->buf->data, body_len);
	return m;
}

/* ---- reading: either byte order, every length checked ---- */

struct rd {
	const uint8_t *p;
	size_t len;
	size_t pos; /* from a point aligned to 8 in the message */
	bool big;   /* big-endian values ('B'), else little-endian ('l') */
	bool bad;
};

static void rd_align(struct rd *r, size_t align)
{
	size_t n = (align - r->pos % align) % align;
	if (n > r->len - r->pos)
		r->bad = true;
	else
		r->pos += n;
}

static uint8_t rd_u8(struct rd *r)
{
	if (r->bad || r->pos >= r->len) {
		r->bad = true;
		return 0;
	}
	return r->p[r->pos++];
}

static uint64_t rd_uint(struct rd *r, size_t size)
{
	uint8_t b[8];
	uint64_t v = 0;
	rd_align(r, size);
	if (r->bad || size > r->len - r->pos) {
		r->bad = true;
		return 0;
	}
	memcpy(b, r->p + r->pos, size);
	r->pos += size;
	for (size_t i = 0; i < size; i++)
		v |= (uint64_t)b[r->big ? size - 1 - i : i] << (8 * i);
	return v;
}

static uint32_t rd_u32(struct rd *r)
{
	return (uint32_t)rd_uint(r, 4);
}

/* n bytes and a NUL, no NUL inside ("Valid Signatures", "Basic types": STRING) */
static const char *rd_text(struct rd *r, size_t n)
{
	if (r->bad || n >= r->len - r->pos || r->p[r->pos + n] != 0 ||
	    memchr(r->p + r->pos, 0, n)) {
		r->bad = true;
		return NULL;
	}
	const char *s = (const char *)r->p + r->pos;
	r->pos += n + 1;
	return s;
}

static const char *rd_str(struct rd *r)
{
	uint32_t n = rd_u32(r);
	return r->bad ? NULL : rd_text(r, n);
}

static const char *rd_sig(struct rd *r)
{
	uint8_t n = rd_u8(r);
	return r->bad ? NULL : rd_text(r, n);
}

static bool body_reader(const struct keel_dbus_msg *msg, char type, struct rd *r)
{
	if (msg->signature[0] != type)
		return false;
	*r = (struct rd){.p = msg->body, .len = msg->body_len, .big = msg->big_endian};
	return true;
}

bool keel_dbus_msg_get_bool(const struct keel_dbus_msg *msg, bool *out)
{
	struct rd r;
	if (!body_reader(msg, 'b', &r))
		return false;
	uint32_t v = rd_u32(&r);
	if (r.bad || v > 1) /* "BOOLEAN": only 0 and 1 are valid */
		return false;
	*out = v;
	return true;
}

bool keel_dbus_msg_get_string(const struct keel_dbus_msg *msg, const char **out)
{
	struct rd r;
	if (!body_reader(msg, 's', &r))
		return false;
	const char *s = rd_str(&r);
	if (!s)
		return false;
	*out = s;
	return true;
}

size_t keel_dbus_msg_len(const uint8_t head[16])
{
	struct rd r = {.p = head, .len = HEADER_LEN};
	if (head[0] != 'l' && head[0] != 'B')
		return 0;
	if (head[3] != 1) /* major protocol version */
		return 0;
	r.big = head[0] == 'B';
	r.pos = 4;
	uint64_t body_len = rd_u32(&r);
	r.pos = 12;
	uint64_t fields_len = rd_u32(&r);
	/* the header, its fields, padding to 8, the body */
	uint64_t total = (HEADER_LEN + fields_len + 7) / 8 * 8 + body_len;
	if (total > KEEL_DBUS_MAX_MSG_LEN)
		return 0;
	return (size_t)total;
}

/* D-Bus error names: elements of [A-Za-z0-9_] joined by dots ("Error names") */
static bool error_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255 || !strchr(s, '.') || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (; *s; s++)
		if (!g_ascii_isalnum(*s) && *s != '_' && *s != '.')
			return false;
	return true;
}

bool keel_dbus_parse(const uint8_t *buf, size_t len, struct keel_dbus_msg *msg)
{
	if (len < HEADER_LEN || keel_dbus_msg_len(buf) != len)
		return false;
	struct rd r = {.p = buf, .len = len, .big = buf[0] == 'B', .pos = 8};
	struct keel_dbus_msg m = {.type = buf[1], .signature = ""};
	m.serial = rd_u32(&r);
	uint32_t fields_len = rd_u32(&r);
	if (m.type == 0 || m.serial == 0)
		return false;

	/* ARRAY of STRUCT of (BYTE, VARIANT), each element on 8 */
	struct rd f = {.p = buf, .len = HEADER_LEN + (size_t)fields_len, .big = r.big};
	f.pos = HEADER_LEN;
	while (!f.bad && f.pos < f.len) {
		rd_align(&f, 8);
		uint8_t code = rd_u8(&f);
		const char *sig = rd_sig(&f);
		if (f.bad || strlen(sig) != 1)
			return false; /* header fields hold basic types only */
		const char *s = NULL;
		uint64_t u = 0;
		switch (sig[0]) {
		case 'y':
			u = rd_u8(&f);
			break;
		case 'n':
		case 'q':
			u = rd_uint(&f, 2);
			break;
		case 'b':
		case 'i':
		case 'u':
		case 'h':
			u = rd_u32(&f);
			break;
		case 'x':
		case 't':
		case 'd':
			u = rd_uint(&f, 8);
			break;
		case 's':
		case 'o':
			s = rd_str(&f);
			break;
		case 'g':
			s = rd_sig(&f);
			break;
		default:
			return false;
		}
		if (f.bad)
			return false;
		/* a known field must have its own type ("Header Fields") */
		if ((code == FIELD_ERROR_NAME && sig[0] != 's') ||
		    (code == FIELD_REPLY_SERIAL && sig[0] != 'u') ||
		    (code == FIELD_SIGNATURE && sig[0] != 'g'))
			return false;
		if (code == FIELD_ERROR_NAME)
			m.error_name = s;
		else if (code == FIELD_REPLY_SERIAL)
			m.reply_serial = (uint32_t)u;
		else if (code == FIELD_SIGNATURE)
			m.signature = s;
	}
	if (f.bad || f.pos != f.len)
		return false;
	if ((m.type == KEEL_DBUS_METHOD_RETURN || m.type == KEEL_DBUS_ERROR_REPLY) &&
	    m.reply_serial == 0)
		return false;
	if (m.type == KEEL_DBUS_ERROR_REPLY && (!m.error_name || !error_name_ok(m.error_name)))
		return false;
	size_t body_off = ((size_t)HEADER_LEN + fields_len + 7) / 8 * 8;
	m.body = buf + body_off;
	m.body_len = len - body_off;
	m.big_endian = r.big;
	*msg = m;
	return true;
}

/* ---- the connection ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits until fd is readable; false with *error set on timeout or failure. */
static bool wait_readable(int fd, uint64_t deadline_ms, GError **error)
{
	for (;;) {
		uint64_t now = now_ms();
		if (now >= deadline_ms) {
			g_set_error(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_TIMEOUT,
			            "no answer from the bus in time");
			return false;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, (int)(deadline_ms - now));
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR) {
			g_set_error(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_IO, "poll: %s",
			            g_strerror(errno));
			return false;
		}
	}
}

static bool recv_exact(int fd, uint8_t *buf, size_t len, uint64_t deadline_ms, GError **error)
{
	while (len > 0) {
		if (!wait_readable(fd, deadline_ms, error))
			return false;
		ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			g_set_error(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_IO,
			            "reading from the bus: %s",
			            n == 0 ? "connection closed" : g_strerror(errno));
			return false;
		}
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static bool send_all(int fd, const uint8_t *buf, size_t len, GError **error)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			g_set_error(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_IO,
			            "writing to the bus: %s",
			            n == 0 ? "nothing written" : g_strerror(errno));
			return false;
		}
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* "Server Addresses": %XX escapes; false on a malformed one. */
static bool unescape(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '%') {
			if (len - i < 3 || !g_ascii_isxdigit(in[i + 1]) ||
			    !g_ascii_isxdigit(in[i + 2]))
				return false;
			c = (char)(g_ascii_xdigit_value(in[i + 1]) << 4 |
			           g_ascii_xdigit_value(in[i + 2]));
			i += 2;
		}
		if (o + 1 >= cap)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

/*
 * One address ("unix:path=..." or "unix:abstract=..."; other keys such as
 * guid are ignored) into *sun. 1 usable, 0 not a unix address, -1 malformed.
 */
static int parse_address(const char *a, size_t len, struct sockaddr_un *sun, socklen_t *sun_len)
{
	static const char unix_prefix[] = "unix:";
	if (len < sizeof(unix_prefix) - 1 || memcmp(a, unix_prefix, sizeof(unix_prefix) - 1) != 0)
		return 0;
	const char *p = a + sizeof(unix_prefix) - 1, *end = a + len;
	int found = 0;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *kv_end = comma ? comma : end;
		const char *eq = memchr(p, '=', (size_t)(kv_end - p));
		if (!eq)
			return -1;
		bool is_path = (size_t)(eq - p) == 4 && memcmp(p, "path", 4) == 0;
		bool is_abstract = (size_t)(eq - p) == 8 && memcmp(p, "abstract", 8) == 0;
		if (is_path || is_abstract) {
			char value[sizeof(sun->sun_path)];
			if (found ||
			    !unescape(eq + 1, (size_t)(kv_end - eq - 1), value,
			              sizeof(value) - 1) ||
			    !value[0])
				return -1;
			memset(sun, 0, sizeof(*sun));
			sun->sun_family = AF_UNIX;
			size_t n = strlen(value);
			/* an abstract name starts with a NUL and is not terminated */
			memcpy(sun->sun_path + (is_abstract ? 1 : 0), value, n);
			/* a path's NUL, or an abstract name's leading NUL */
			*sun_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
			found = 1;
		}
		p = comma ? comma + 1 : end;
	}
	return found;
}

/* Connects to the first address that answers; the socket or -1 with *error set. */
static int connect_address(const char *addresses, GError **error)
{
	const char *p = addresses;
	int last_errno = 0;
	bool malformed = false;

	while (*p) {
		const char *semi = strchr(p, ';');
		size_t len = semi ? (size_t)(semi - p) : strlen(p);
		struct sockaddr_un sun;
		socklen_t sun_len;
		int r = parse_address(p, len, &sun, &sun_len);
		malformed |= r < 0;
		if (r > 0) {
			int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0) {
				last_errno = errno;
			} else if (connect(fd, (struct sockaddr *)&sun, sun_len) == 0) {
				return fd;
			} else {
				last_errno = errno;
				close(fd);
			}
		}
		p = semi ? semi + 1 : p + len;
	}
	if (last_errno)
		g_set_error(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_CONNECT,
		            "cannot connect to the system bus at %s: %s", addresses,
		            g_strerror(last_errno));
	else
		g_set_error(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_CONNECT,
		            "no usable system bus address in '%s'%s", addresses,
		            malformed ? " (malformed)" : "");
	return -1;
}

/* Reads one line ending in \r\n, no further: the server sends nothing more before BEGIN. */
static bool read_auth_line(int fd, char *line, size_t cap, uint64_t deadline_ms, GError **error)
{
	size_t have = 0;
	for (;;) {
		if (!wait_readable(fd, deadline_ms, error))
			return false;
		ssize_t n = recv(fd, line + have, cap - 1 - have, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			g_set_error(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_IO,
			            "reading from the bus: %s",
			            n == 0 ? "connection closed" : g_strerror(errno));
			return false;
		}
		char *crlf = memmem(line, have + (size_t)n, "\r\n", 2);
		size_t take = crlf ? (size_t)(crlf - line) + 2 - have : (size_t)n;
		if (!recv_exact(fd, (uint8_t *)line + have, take, deadline_ms, error))
			return false;
		have += take;
		if (crlf) {
			line[have - 2] = '\0';
			return true;
		}
		if (have >= cap - 1) {
			g_set_error(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_MALFORMED,
			            "the bus sent an overlong authentication line");
			return false;
		}
	}
}

/* "Authentication Protocol": the EXTERNAL mechanism with our uid. */
static bool authenticate(int fd, uint64_t deadline_ms, GError **error)
{
	char uid[16], line[MAX_AUTH_LINE];
	GString *out = g_string_new(NULL);
	g_string_append_c(out, '\0'); /* the credentials byte */
	g_string_append(out, "AUTH EXTERNAL ");
	snprintf(uid, sizeof(uid), "%u", (unsigned)geteuid());
	for (const char *c = uid; *c; c++)
		g_string_append_printf(out, "%02x", (unsigned)*c);
	g_string_append(out, "\r\n");
	bool ok = send_all(fd, (const uint8_t *)out->str, out->len, error) &&
	          read_auth_line(fd, line, sizeof(line), deadline_ms, error);
	g_string_free(out, TRUE);
	if (!ok)
		return false;
	if (strncmp(line, "OK ", 3) != 0) {
		g_autofree char *shown = g_strescape(line, NULL);
		g_set_error(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_AUTH,
		            "the system bus refused us: \"%s\"", shown);
		return false;
	}
	return send_all(fd, (const uint8_t *)"BEGIN\r\n", 7, error);
}

void keel_dbus_close(struct keel_dbus *bus)
{
	if (!bus)
		return;
	if (bus->fd >= 0)
		close(bus->fd);
	g_free(bus->in);
	g_free(bus);
}

struct keel_dbus *keel_dbus_open_system(int timeout_ms, GError **error)
{
	const char *addr = secure_getenv("DBUS_SYSTEM_BUS_ADDRESS");
	if (!addr || !*addr)
		addr = DEFAULT_SYSTEM_BUS;
	if (strlen(addr) > MAX_ADDR_LEN) {
		g_set_error(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_CONNECT,
		            "the system bus address is too long");
		return NULL;
	}
	int fd = connect_address(addr, error);
	if (fd < 0)
		return NULL;
	struct keel_dbus *bus = g_new0(struct keel_dbus, 1);
	bus->fd = fd;
	/* a bus that stops reading must not block a send for ever */
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* "Message Bus Specification": Hello is the first call on a bus */
	if (!authenticate(fd, now_ms() + (uint64_t)timeout_ms, error) ||
	    !keel_dbus_call(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
	                    "org.freedesktop.DBus", "Hello", "", NULL, timeout_ms, NULL, NULL,
	                    error)) {
		keel_dbus_close(bus);
		return NULL;
	}
	return bus;
}

bool keel_dbus_call(struct keel_dbus *bus, const char *dest, const char *path, const char *iface,
                    const char *member, const char *sig, const struct keel_dbus_body *body,
                    int timeout_ms, struct keel_dbus_msg *reply, char **remote_name, GError **error)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	if (++bus->serial == 0)
		bus->serial = 1;
	uint32_t serial = bus->serial;
	GByteArray *m = keel_dbus_build_call(serial, dest, path, iface, member, sig, body);
	bool sent = send_all(bus->fd, m->data, m->len, error);
	g_byte_array_unref(m);
	if (!sent)
		return false;

	/* other messages (the bus's NameAcquired signal after Hello) are skipped */
	for (;;) {
		uint8_t head[HEADER_LEN];
		struct keel_dbus_msg msg;
		g_clear_pointer(&bus->in, g_free);
		if (!recv_exact(bus->fd, head, sizeof(head), deadline, error))
			return false;
		size_t len = keel_dbus_msg_len(head);
		if (len < HEADER_LEN) {
			g_set_error(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_MALFORMED,
			            "the bus sent a malformed message");
			return false;
		}
		bus->in = g_malloc(len);
		memcpy(bus->in, head, sizeof(head));
		if (!recv_exact(bus->fd, bus->in + sizeof(head), len - sizeof(head), deadline,
		                error))
			return false;
		if (!keel_dbus_parse(bus->in, len, &msg)) {
			g_set_error(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_MALFORMED,
			            "the bus sent a malformed message");
			return false;
		}
		if (msg.reply_serial != serial ||
		    (msg.type != KEEL_DBUS_METHOD_RETURN && msg.type != KEEL_DBUS_ERROR_REPLY))
			continue;
		if (msg.type == KEEL_DBUS_METHOD_RETURN) {
			if (reply)
				*reply = msg;
			return true;
		}
		const char *text = NULL;
		if (!keel_dbus_msg_get_string(&msg, &text))
			text = "(no message)";
		g_autofree char *shown = g_strescape(text, NULL);
		g_set_error(error, KEEL_DBUS_ERROR, KEEL_DBUS_ERROR_REMOTE, "%s", shown);
		if (remote_name)
			*remote_name = g_strdup(msg.error_name);
		return false;
	}
}
