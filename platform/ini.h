/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The keyfile reader behind profiles and secrets files.
 *
 * It is hand-written because GLib's GKeyFile keeps no line numbers, and every
 * profile error must name file:line:key; GKeyFile also silently merges
 * duplicate groups and keeps the last of duplicate keys, where Keel must
 * refuse both, and it copies values into buffers we could not wipe, where a
 * secrets file must leave no copy of a secret behind.
 *
 * The parser works in place: it takes a buffer, cuts it into NUL-terminated
 * names and values and keeps pointers into it; keel_ini_clear() wipes the
 * buffer before freeing it.
 */
#ifndef KEEL_PLATFORM_INI_H
#define KEEL_PLATFORM_INI_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

struct keel_ini_group {
	const char *name;
	int line;
};

struct keel_ini_entry {
	size_t group; /* index into groups */
	const char *key;
	const char *value; /* surrounding blanks removed */
	int line;
};

struct keel_ini {
	char *buf; /* owned; wiped on clear */
	size_t buf_len;
	struct keel_ini_group *groups;
	size_t n_groups;
	struct keel_ini_entry *entries;
	size_t n_entries;
};

enum keel_ini_flags {
	/*
	 * " # comment" / " ; comment" after a value is a comment (blank before
	 * the mark required). Off for secrets files, where a value runs to the
	 * end of its line.
	 */
	KEEL_INI_INLINE_COMMENTS = 1 << 0,
	/* Lines must be valid UTF-8 (profiles); off for secrets (any bytes). */
	KEEL_INI_UTF8 = 1 << 1,
};

/*
 * Parses buf (len bytes; buf must have room for one more byte, buf[len]).
 * Takes ownership of buf in every case: after the call it belongs to ini and
 * is wiped by keel_ini_clear(). Errors (domain KEEL_PROFILE_ERROR, code
 * SYNTAX) say "name:line: why" and never quote the line, which may hold a
 * secret: a line that is not "[group]", "key = value", blank or a comment;
 * a key before any group; a bad group or key name; a group or key given
 * twice. On error ini is still cleared by keel_ini_clear().
 */
bool keel_ini_parse(struct keel_ini *ini, const char *name, char *buf, size_t len, unsigned flags,
                    GError **error);

/* Wipes and frees everything; ini is then empty and reusable. */
void keel_ini_clear(struct keel_ini *ini);

/*
 * Reads a whole file into a new buffer (one spare byte at the end for
 * keel_ini_parse()), refusing files over max_len bytes or not regular.
 * If secret is true the file must also be owned by the effective user or
 * root and give no permissions to group or others (like OpenSSH's private
 * keys); that is checked on the opened file. The buffer is freed with
 * keel_ini_wipe_free() or handed to keel_ini_parse().
 */
bool keel_ini_read_file(const char *path, size_t max_len, bool secret, char **buf, size_t *len,
                        GError **error);

/* Wipes len bytes at buf and frees it. NULL is fine. */
void keel_ini_wipe_free(char *buf, size_t len);

#endif
