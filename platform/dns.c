/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * DNS for the tunnel: resolv.conf here, systemd-resolved in dns-resolved.c.
 *
 * The resolv.conf side is hand-written because no library offers "replace
 * this file, keep an exact crash-safe copy (bytes, mode, owner, times, or
 * the symbolic link), put it back": the order of writes, fsyncs and renames
 * is what makes it safe, so it is spelled out here. (resolvconf(8) would do
 * it for us, but is absent on most machines, and exactly on those where
 * this fallback runs.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <keel-platform/dns.h>

#include "dns-resolved.h"

/* The target of the backup link that says "there was no resolv.conf". */
#define ABSENT_MARKER "keel:absent"

struct keel_dns {
	enum keel_dns_backend backend; /* what the caller asked for */
	char *path;
	char *backup;
	char *lock;                 /* "<path>.keel-lock": flock()ed while our change is in place */
	int lock_fd;                /* -1: not held */
	enum keel_dns_backend used; /* AUTO: nothing applied */
	int ifindex;
};

GQuark keel_dns_error_quark(void)
{
	return g_quark_from_static_string("keel-dns-error-quark");
}

static char *backup_path(const char *path)
{
	return g_strconcat(path, ".keel-backup", NULL);
}

static char *lock_path(const char *path)
{
	return g_strconcat(path, ".keel-lock", NULL);
}

/*
 * The lock that tells a running keel's backup from a crashed one's: held
 * (flock, so it dies with its process) from before the backup is made until
 * it has been put back. 0 and *fd held; 1 when another process holds it;
 * -1 (errno set) on failure. The file is removed while locked on release,
 * so a locker that opened it before checks that its file is still the one
 * at the path.
 */
static int lock_take(const char *lock, int *fd)
{
	for (int tries = 0; tries < 8; tries++) {
		struct stat a, b;
		int f = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (f < 0)
			return -1;
		if (flock(f, LOCK_EX | LOCK_NB) < 0) {
			int err = errno;
			close(f);
			if (err == EWOULDBLOCK)
				return 1;
			errno = err;
			return -1;
		}
		if (fstat(f, &a) == 0 && stat(lock, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino) {
			*fd = f;
			return 0;
		}
		close(f); /* removed or replaced while we waited: take the new one */
	}
	errno = EAGAIN;
	return -1;
}

static void lock_release(const char *lock, int *fd)
{
	if (*fd < 0)
		return;
	unlink(lock);
	close(*fd);
	*fd = -1;
}

struct keel_dns *keel_dns_new(const struct keel_dns_options *opts)
{
	struct keel_dns *d = g_new0(struct keel_dns, 1);
	d->backend = opts ? opts->backend : KEEL_DNS_AUTO;
	d->path = g_strdup(opts && opts->resolv_conf ? opts->resolv_conf : "/etc/resolv.conf");
	d->backup = backup_path(d->path);
	d->lock = lock_path(d->path);
	d->lock_fd = -1;
	d->used = KEEL_DNS_AUTO;
	return d;
}

void keel_dns_free(struct keel_dns *d)
{
	if (!d)
		return;
	if (d->lock_fd >= 0)
		close(d->lock_fd); /* as a crash would: the backup stays for recovery */
	g_free(d->path);
	g_free(d->backup);
	g_free(d->lock);
	g_free(d);
}

enum keel_dns_backend keel_dns_backend_used(const struct keel_dns *d)
{
	return d->used;
}

static bool errno_fail(GError **error, int err, const char *what, const char *path)
{
	g_set_error(error, KEEL_DNS_ERROR, KEEL_DNS_ERROR_FAILED, "%s %s: %s", what, path,
	            g_strerror(err));
	return false;
}

/* ---- resolv.conf ---- */

static bool fsync_dir_of(const char *path)
{
	g_autofree char *dir = g_path_get_dirname(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

static bool write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		data += w;
		len -= (size_t)w;
	}
	return true;
}

/*
 * Writes a new file at path (which must not exist) with data and mode; with
 * like non-NULL, also its owner and times. 0 or an errno value.
 */
static int write_new_file(const char *path, const char *data, size_t len, mode_t mode,
                          const struct stat *like)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno;
	int err = 0;
	if (!write_all(fd, data, len) || fchmod(fd, mode) < 0)
		err = errno;
	if (!err && like) {
		/* only root can give a file away; as anyone else it is ours anyway */
		if (fchown(fd, like->st_uid, like->st_gid) < 0 && errno != EPERM)
			err = errno;
		struct timespec times[2] = {like->st_atim, like->st_mtim};
		if (!err && futimens(fd, times) < 0)
			err = errno;
	}
	if (!err && fsync(fd) < 0)
		err = errno;
	if (close(fd) < 0 && !err)
		err = errno;
	if (err)
		unlink(path);
	return err;
}

/*
 * Puts src in place of dst with rename(). A dst that is a mount point (a
 * container's bind-mounted resolv.conf) cannot be replaced, only rewritten:
 * then src's bytes are written into dst and src removed.
 */
static int replace_file(const char *src, const char *dst)
{
	if (rename(src, dst) == 0) {
		fsync_dir_of(dst);
		return 0;
	}
	if (errno != EBUSY)
		return errno;
	g_autofree char *data = NULL;
	gsize len;
	if (!g_file_get_contents(src, &data, &len, NULL))
		return EIO;
	int fd = open(dst, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int err = write_all(fd, data, len) && fsync(fd) == 0 ? 0 : errno;
	close(fd);
	if (!err)
		unlink(src);
	return err;
}

/* 1 restored, 0 no backup, -1 error. */
static int restore_backup(const char *path, const char *backup, GError **error)
{
	struct stat st;
	if (lstat(backup, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		errno_fail(error, errno, "cannot read", backup);
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		g_autofree char *target = g_file_read_link(backup, NULL);
		if (target && strcmp(target, ABSENT_MARKER) == 0) {
			if (unlink(path) < 0 && errno != ENOENT) {
				errno_fail(error, errno, "cannot remove", path);
				return -1;
			}
			if (unlink(backup) < 0) {
				errno_fail(error, errno, "cannot remove", backup);
				return -1;
			}
			fsync_dir_of(path);
			return 1;
		}
	}
	int err = replace_file(backup, path);
	if (err) {
		errno_fail(error, err, "cannot restore", path);
		return -1;
	}
	return 1;
}

int keel_dns_recover(const char *resolv_conf, GError **error)
{
	const char *path = resolv_conf ? resolv_conf : "/etc/resolv.conf";
	g_autofree char *backup = backup_path(path);
	g_autofree char *lock = lock_path(path);
	struct stat st;
	int fd = -1;
	if (lstat(backup, &st) < 0 && errno == ENOENT)
		return 0;
	int held = lock_take(lock, &fd);
	if (held < 0) {
		errno_fail(error, errno, "cannot lock", lock);
		return -1;
	}
	if (held > 0)
		return 0; /* the backup of a keel that is still running */
	int r = restore_backup(path, backup, error);
	lock_release(lock, &fd);
	return r;
}

/* Saves path as backup (see dns.h); the original's text (or NULL) goes to *text. */
static bool save_original(const char *path, const char *backup, char **text, GError **error)
{
	g_autofree char *tmp = g_strconcat(backup, ".tmp", NULL);
	struct stat st;
	int err = 0;

	*text = NULL;
	unlink(tmp); /* a leftover of an interrupted earlier save */
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return errno_fail(error, errno, "cannot read", path);
		if (symlink(ABSENT_MARKER, tmp) < 0)
			err = errno;
	} else if (S_ISLNK(st.st_mode)) {
		g_autofree char *target = g_file_read_link(path, NULL);
		if (!target)
			return errno_fail(error, errno, "cannot read", path);
		if (symlink(target, tmp) < 0)
			err = errno;
		g_file_get_contents(path, text, NULL, NULL); /* a dangling link has no text */
	} else if (S_ISREG(st.st_mode)) {
		gsize len;
		if (!g_file_get_contents(path, text, &len, error))
			return false;
		err = write_new_file(tmp, *text, len, st.st_mode & 07777, &st);
	} else {
		g_set_error(error, KEEL_DNS_ERROR, KEEL_DNS_ERROR_FAILED,
		            "%s is neither a file nor a symbolic link", path);
		return false;
	}
	if (!err && rename(tmp, backup) < 0)
		err = errno;
	if (err) {
		unlink(tmp);
		g_clear_pointer(text, g_free);
		return errno_fail(error, err, "cannot save a copy of", path);
	}
	fsync_dir_of(backup);
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* resolv.conf(5): our servers, our domains then the old ones, the old options. */
static char *resolv_conf_text(const struct keel_dns_config *cfg, const char *old)
{
	GString *s = g_string_new("# Generated by Keel for a VPN connection; the previous file is "
	                          "restored on disconnect.\n");
	for (size_t i = 0; i < cfg->n_servers; i++) {
		char buf[INET6_ADDRSTRLEN];
		int af = cfg->servers[i].family == KEEL_AF_INET ? AF_INET : AF_INET6;
		inet_ntop(af, cfg->servers[i].bytes, buf, sizeof(buf));
		g_string_append_printf(s, "nameserver %s\n", buf);
	}
	GString *search = g_string_new(NULL);
	for (size_t i = 0; i < cfg->n_domains; i++)
		g_string_append_printf(search, " %s", cfg->domains[i]);
	GString *options = g_string_new(NULL);
	g_auto(GStrv) lines = g_strsplit(old ? old : "", "\n", -1);
	for (char **l = lines; *l; l++) {
		const char *line = *l;
		while (is_blank(*line))
			line++;
		if ((g_str_has_prefix(line, "search") && is_blank(line[6])) ||
		    (g_str_has_prefix(line, "domain") && is_blank(line[6]))) {
			g_auto(GStrv) words = g_strsplit_set(line + 6, " \t\r", -1);
			for (char **w = words; *w; w++)
				if (**w)
					g_string_append_printf(search, " %s", *w);
		} else if (g_str_has_prefix(line, "options") && is_blank(line[7])) {
			g_string_append_printf(options, "%s\n", line);
		}
	}
	if (search->len > 0)
		g_string_append_printf(s, "search%s\n", search->str);
	g_string_append(s, options->str);
	g_string_free(search, TRUE);
	g_string_free(options, TRUE);
	return g_string_free(s, FALSE);
}

static bool file_apply(struct keel_dns *d, const struct keel_dns_config *cfg, GError **error)
{
	struct stat st;
	int held = lock_take(d->lock, &d->lock_fd);
	if (held < 0)
		return errno_fail(error, errno, "cannot lock", d->lock);
	if (held > 0) {
		g_set_error(error, KEEL_DNS_ERROR, KEEL_DNS_ERROR_EXISTS,
		            "another running keel has changed %s; the DNS servers of this "
		            "connection are not set",
		            d->path);
		return false;
	}
	if (lstat(d->backup, &st) == 0) {
		g_set_error(error, KEEL_DNS_ERROR, KEEL_DNS_ERROR_EXISTS,
		            "%s exists: an earlier run did not restore %s (recover it first)",
		            d->backup, d->path);
		lock_release(d->lock, &d->lock_fd);
		return false;
	}
	g_autofree char *old = NULL;
	if (!save_original(d->path, d->backup, &old, error)) {
		lock_release(d->lock, &d->lock_fd);
		return false;
	}

	g_autofree char *text = resolv_conf_text(cfg, old);
	g_autofree char *tmp = g_strconcat(d->path, ".keel-new", NULL);
	unlink(tmp);
	int err = write_new_file(tmp, text, strlen(text), 0644, NULL);
	if (!err)
		err = replace_file(tmp, d->path);
	if (err) {
		unlink(tmp);
		errno_fail(error, err, "cannot write", d->path);
		if (restore_backup(d->path, d->backup, NULL) >= 0)
			lock_release(d->lock, &d->lock_fd);
		return false;
	}
	return true;
}

/* ---- public ---- */

static bool domain_ok(const char *d)
{
	if (!d || !*d || strlen(d) > 253)
		return false;
	for (; *d; d++)
		if (!g_ascii_isalnum(*d) && *d != '-' && *d != '_' && *d != '.')
			return false;
	return true;
}

bool keel_dns_apply(struct keel_dns *d, const struct keel_dns_config *cfg, GError **error)
{
	if (d->used != KEEL_DNS_AUTO) {
		g_set_error(error, KEEL_DNS_ERROR, KEEL_DNS_ERROR_EXISTS,
		            "DNS settings already applied");
		return false;
	}
	for (size_t i = 0; i < cfg->n_domains; i++) {
		if (!domain_ok(cfg->domains[i])) {
			/* peer-supplied text: not quoted, it could be anything */
			g_set_error(error, KEEL_DNS_ERROR, KEEL_DNS_ERROR_INVALID,
			            "DNS search domain %zu is not a valid domain name", i + 1);
			return false;
		}
	}
	for (size_t i = 0; i < cfg->n_servers; i++) {
		if (cfg->servers[i].family != KEEL_AF_INET &&
		    cfg->servers[i].family != KEEL_AF_INET6) {
			g_set_error(error, KEEL_DNS_ERROR, KEEL_DNS_ERROR_INVALID,
			            "DNS server %zu has no address family", i + 1);
			return false;
		}
	}
	if (cfg->n_servers == 0)
		return true;

	if (d->backend != KEEL_DNS_RESOLV_CONF) {
		g_autoptr(GError) err = NULL;
		int r = keel_dns_resolved_apply(cfg, &err);
		if (r > 0) {
			d->used = KEEL_DNS_RESOLVED;
			d->ifindex = cfg->ifindex;
			return true;
		}
		if (r < 0 || d->backend == KEEL_DNS_RESOLVED) {
			g_propagate_error(error, g_steal_pointer(&err));
			return false;
		}
	}
	if (!file_apply(d, cfg, error))
		return false;
	d->used = KEEL_DNS_RESOLV_CONF;
	return true;
}

bool keel_dns_revert(struct keel_dns *d, GError **error)
{
	switch (d->used) {
	case KEEL_DNS_AUTO:
		return true;
	case KEEL_DNS_RESOLV_CONF:
		if (restore_backup(d->path, d->backup, error) < 0)
			return false;
		lock_release(d->lock, &d->lock_fd);
		break;
	case KEEL_DNS_RESOLVED:
		if (!keel_dns_resolved_revert(d->ifindex, error))
			return false;
		break;
	}
	d->used = KEEL_DNS_AUTO;
	return true;
}
