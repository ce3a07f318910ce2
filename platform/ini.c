/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Keyfile reader for profiles and secrets files. Hand-written rather than
 * GKeyFile because Keel's errors need line numbers (GKeyFile has none),
 * duplicate groups and keys must be refused (GKeyFile merges them), and a
 * secrets file must be parsed in a buffer we wipe afterwards (GKeyFile keeps
 * its own copies). See ini.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <keel-platform/profile.h>

#include "ini.h"

/* Far above any real file (a profile has 15 keys); keeps the duplicate checks cheap. */
#define MAX_GROUPS  64
#define MAX_ENTRIES 512

void keel_ini_wipe_free(char *buf, size_t len)
{
	if (!buf)
		return;
	OPENSSL_cleanse(buf, len);
	g_free(buf);
}

void keel_ini_clear(struct keel_ini *ini)
{
	if (ini->buf)
		keel_ini_wipe_free(ini->buf, ini->buf_len + 1);
	g_free(ini->groups);
	g_free(ini->entries);
	memset(ini, 0, sizeof(*ini));
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!g_ascii_isalnum(*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

/* Cuts blanks at both ends of [*s, *s + *n). */
static void trim(char **s, size_t *n)
{
	while (*n > 0 && is_blank(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_blank((*s)[*n - 1]))
		(*n)--;
}

/* A '#' or ';' after a blank starts a comment; returns the length before it. */
static size_t cut_inline_comment(const char *s, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if ((s[i] == '#' || s[i] == ';') && is_blank(s[i - 1]))
			return i;
	return n;
}

static bool fail(GError **error, const char *name, int line, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static bool fail(GError **error, const char *name, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_SYNTAX, "%s:%d: %s", name, line,
	            why);
	return false;
}

static bool add_group(struct keel_ini *ini, const char *name, int line, GError **error,
                      const char *file)
{
	for (size_t i = 0; i < ini->n_groups; i++)
		if (strcmp(ini->groups[i].name, name) == 0)
			return fail(error, file, line, "group [%s] given twice (first on line %d)",
			            name, ini->groups[i].line);
	if (ini->n_groups == MAX_GROUPS)
		return fail(error, file, line, "more than %d groups", MAX_GROUPS);
	ini->groups = g_renew(struct keel_ini_group, ini->groups, ini->n_groups + 1);
	ini->groups[ini->n_groups++] = (struct keel_ini_group){.name = name, .line = line};
	return true;
}

static bool add_entry(struct keel_ini *ini, const char *key, const char *value, int line,
                      GError **error, const char *file)
{
	size_t group = ini->n_groups - 1;
	for (size_t i = 0; i < ini->n_entries; i++)
		if (ini->entries[i].group == group && strcmp(ini->entries[i].key, key) == 0)
			return fail(error, file, line, "key '%s' given twice (first on line %d)",
			            key, ini->entries[i].line);
	if (ini->n_entries == MAX_ENTRIES)
		return fail(error, file, line, "more than %d keys", MAX_ENTRIES);
	ini->entries = g_renew(struct keel_ini_entry, ini->entries, ini->n_entries + 1);
	ini->entries[ini->n_entries++] =
	    (struct keel_ini_entry){.group = group, .key = key, .value = value, .line = line};
	return true;
}

bool keel_ini_parse(struct keel_ini *ini, const char *name, char *buf, size_t len, unsigned flags,
                    GError **error)
{
	memset(ini, 0, sizeof(*ini));
	ini->buf = buf;
	ini->buf_len = len;
	buf[len] = '\0';

	size_t pos = 0;
	/* a UTF-8 byte order mark, as some Windows editors write */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;

	for (int line = 1; pos < len; line++) {
		char *s = buf + pos;
		char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl ? 1 : 0);
		if (n > 0 && s[n - 1] == '\r')
			n--; /* CRLF */
		s[n] = '\0';
		if (strlen(s) != n)
			return fail(error, name, line, "NUL byte in line");
		if ((flags & KEEL_INI_UTF8) && !g_utf8_validate(s, (gssize)n, NULL))
			return fail(error, name, line, "not valid UTF-8");

		trim(&s, &n);
		if (n == 0 || s[0] == '#' || s[0] == ';')
			continue;
		if (flags & KEEL_INI_INLINE_COMMENTS) {
			n = cut_inline_comment(s, n);
			trim(&s, &n);
		}
		s[n] = '\0';

		if (s[0] == '[') {
			if (s[n - 1] != ']')
				return fail(error, name, line, "a group line must end with ']'");
			char *g = s + 1;
			size_t gn = n - 2;
			trim(&g, &gn);
			g[gn] = '\0';
			if (!name_ok(g))
				return fail(error, name, line,
				            "a group name is letters, digits, '-', '_' or '.'");
			if (!add_group(ini, g, line, error, name))
				return false;
			continue;
		}

		char *eq = strchr(s, '=');
		if (!eq)
			return fail(error, name, line,
			            "expected 'key = value', '[group]' or a comment");
		char *k = s, *v = eq + 1;
		size_t kn = (size_t)(eq - s), vn = n - kn - 1;
		trim(&k, &kn);
		trim(&v, &vn);
		k[kn] = '\0';
		v[vn] = '\0';
		/* the key is not quoted when malformed: it may be a mistyped secret */
		if (kn == 0)
			return fail(error, name, line, "missing key name before '='");
		if (!name_ok(k))
			return fail(error, name, line,
			            "a key name is letters, digits, '-', '_' or '.'");
		if (ini->n_groups == 0)
			return fail(error, name, line, "key '%s' comes before any [group]", k);
		if (!add_entry(ini, k, v, line, error, name))
			return false;
	}
	return true;
}

static bool io_fail(GError **error, const char *path, int err)
{
	g_set_error(error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_IO, "%s: %s", path,
	            g_strerror(err));
	return false;
}

bool keel_ini_read_file(const char *path, size_t max_len, bool secret, char **buf, size_t *len,
                        GError **error)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return io_fail(error, path, errno);
	if (fstat(fd, &st) < 0) {
		int err = errno;
		close(fd);
		return io_fail(error, path, err);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		g_set_error(error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_IO,
		            "%s: not a regular file", path);
		return false;
	}
	if (secret && st.st_uid != geteuid() && st.st_uid != 0) {
		close(fd);
		g_set_error(error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_PERMISSIONS,
		            "%s: owned by uid %u, not by the user reading it (uid %u) or root",
		            path, (unsigned)st.st_uid, (unsigned)geteuid());
		return false;
	}
	if (secret && (st.st_mode & 077) != 0) {
		close(fd);
		g_set_error(error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_PERMISSIONS,
		            "%s: group or others have access (mode %04o); a secrets file must be "
		            "private: chmod 600 %s",
		            path, (unsigned)(st.st_mode & 07777), path);
		return false;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > max_len) {
		close(fd);
		g_set_error(error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_IO,
		            "%s: larger than %zu bytes", path, max_len);
		return false;
	}

	/* one byte more than the size, to notice a file that grew; one for the NUL */
	size_t cap = (size_t)st.st_size + 1;
	char *b = g_malloc(cap + 1);
	size_t got = 0;
	while (got < cap) {
		ssize_t r = read(fd, b + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;
			close(fd);
			keel_ini_wipe_free(b, cap + 1);
			return io_fail(error, path, err);
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got > (size_t)st.st_size) {
		keel_ini_wipe_free(b, cap + 1);
		g_set_error(error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_IO,
		            "%s: changed while being read", path);
		return false;
	}
	/* the caller sees len = got; the allocation is got + 2 at least */
	*buf = b;
	*len = got;
	return true;
}
