/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The smallest D-Bus client that sets a link's DNS in systemd-resolved: one
 * connection to the system bus, method calls waited for one at a time, and
 * the replies (a method return or an error). No signals, no objects of our
 * own, no file descriptors, no introspection.
 *
 * Written by hand rather than with GDBus so that `keel` does not load GIO,
 * GObject and their six further libraries (about 1.2 MiB resident and a
 * millisecond of start-up in every run) for three calls made at most twice
 * per connection. What it implements, from the D-Bus Specification:
 * addresses ("unix:path=" and "unix:abstract=", ';'-separated alternatives,
 * %-escapes), the EXTERNAL authentication mechanism, the message format in
 * either byte order (marshalling: basic types, strings, arrays and structs
 * as the calls need them), and the bus's Hello.
 *
 * Errors are GErrors in KEEL_DBUS_ERROR; KEEL_DBUS_ERROR_REMOTE is an error
 * reply, whose D-Bus error name keel_dbus_call() hands back separately.
 */
#ifndef KEEL_PLATFORM_DBUS_H
#define KEEL_PLATFORM_DBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define KEEL_DBUS_ERROR (keel_dbus_error_quark())
GQuark keel_dbus_error_quark(void);

enum keel_dbus_error {
	KEEL_DBUS_ERROR_CONNECT,   /* no bus at the address, or a bad address */
	KEEL_DBUS_ERROR_AUTH,      /* the bus refused us */
	KEEL_DBUS_ERROR_IO,        /* the connection failed or closed */
	KEEL_DBUS_ERROR_TIMEOUT,   /* no reply in time */
	KEEL_DBUS_ERROR_MALFORMED, /* the bus sent something that is not D-Bus */
	KEEL_DBUS_ERROR_REMOTE,    /* an error reply; the message is the error's text */
};

/* The largest message accepted from the bus (the protocol allows 128 MiB). */
#define KEEL_DBUS_MAX_MSG_LEN (1 << 20)

/* Message types (D-Bus Specification, "Message Format"). */
enum keel_dbus_type {
	KEEL_DBUS_METHOD_CALL = 1,
	KEEL_DBUS_METHOD_RETURN = 2,
	KEEL_DBUS_ERROR_REPLY = 3,
	KEEL_DBUS_SIGNAL = 4,
};

/*
 * A message body being written, in host byte order. Offsets are from the
 * body's start, which the header pads to 8 bytes, so alignment inside the
 * body is alignment in the message. Writing never fails (GByteArray).
 */
struct keel_dbus_body {
	GByteArray *buf;
};

void keel_dbus_body_init(struct keel_dbus_body *b);
void keel_dbus_body_clear(struct keel_dbus_body *b);
void keel_dbus_put_i32(struct keel_dbus_body *b, int32_t v);
void keel_dbus_put_bool(struct keel_dbus_body *b, bool v);
/* s (and o): s must be valid UTF-8 without NUL; D-Bus forbids more. */
void keel_dbus_put_string(struct keel_dbus_body *b, const char *s);
/* ay: len bytes. */
void keel_dbus_put_bytes(struct keel_dbus_body *b, const uint8_t *data, size_t len);
/*
 * An array: keel_dbus_open_array() writes its length (patched by
 * keel_dbus_close_array()) and the padding for its elements, whose
 * alignment is elem_align (8 for structs). keel_dbus_open_struct() pads
 * for a struct (an element of an array, or alone).
 */
struct keel_dbus_array {
	size_t len_pos; /* where the length goes */
	size_t start;   /* where the first element goes */
};
struct keel_dbus_array keel_dbus_open_array(struct keel_dbus_body *b, size_t elem_align);
void keel_dbus_close_array(struct keel_dbus_body *b, struct keel_dbus_array a);
void keel_dbus_open_struct(struct keel_dbus_body *b);

/*
 * A whole METHOD_CALL message (for keel_dbus_call(), and tests): dest and
 * iface may be NULL, sig "" or NULL with no body. Caller owns the result.
 */
GByteArray *keel_dbus_build_call(uint32_t serial, const char *dest, const char *path,
                                 const char *iface, const char *member, const char *sig,
                                 const struct keel_dbus_body *body);

/* A message received, parsed. Borrowed pointers into the buffer given to keel_dbus_parse(). */
struct keel_dbus_msg {
	enum keel_dbus_type type;
	uint32_t serial;
	uint32_t reply_serial;  /* 0: none */
	const char *error_name; /* ERROR_REPLY; NULL otherwise */
	const char *signature;  /* "" when the message has none */
	const uint8_t *body;
	size_t body_len;
	bool big_endian; /* the sender wrote it in big-endian order ('B') */
};

/*
 * The total length of the message whose first 16 bytes are head, or 0 when
 * they cannot start a message (or it is longer than KEEL_DBUS_MAX_MSG_LEN).
 */
size_t keel_dbus_msg_len(const uint8_t head[16]);

/*
 * Parses one whole message of len bytes (as keel_dbus_msg_len() said) into
 * *msg, which borrows from buf. Checks every length against the buffer;
 * false for anything malformed.
 */
bool keel_dbus_parse(const uint8_t *buf, size_t len, struct keel_dbus_msg *msg);

/* The body's first value as a boolean ("b..."), or a string ("s..."); false if it is not one. */
bool keel_dbus_msg_get_bool(const struct keel_dbus_msg *msg, bool *out);
bool keel_dbus_msg_get_string(const struct keel_dbus_msg *msg, const char **out);

struct keel_dbus;

/*
 * Connects to the system bus: $DBUS_SYSTEM_BUS_ADDRESS, else
 * unix:path=/var/run/dbus/system_bus_socket (the Specification's default),
 * authenticates with EXTERNAL and says Hello. Each step waits at most
 * timeout_ms. Returns the connection or NULL with *error set.
 */
struct keel_dbus *keel_dbus_open_system(int timeout_ms, GError **error);

/* Closes bus; NULL is fine. */
void keel_dbus_close(struct keel_dbus *bus);

/*
 * Calls iface.member on path at dest with body (signature sig; NULL body
 * and "" for none) and waits up to timeout_ms for its reply, skipping
 * other messages. On a method return: true, and if reply is not NULL the
 * reply's message in *reply, valid until the next call or close. On an
 * error reply: false, *error in KEEL_DBUS_ERROR_REMOTE with the error's
 * text, and its D-Bus name in *remote_name (if not NULL; g_free it).
 * Other failures: false, *error set, and the connection is unusable.
 */
bool keel_dbus_call(struct keel_dbus *bus, const char *dest, const char *path, const char *iface,
                    const char *member, const char *sig, const struct keel_dbus_body *body,
                    int timeout_ms, struct keel_dbus_msg *reply, char **remote_name,
                    GError **error);

#endif
