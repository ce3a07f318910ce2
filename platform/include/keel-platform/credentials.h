/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading credential files for the core, which reads no files itself:
 * certificates, private keys, PKCS#12 files, CA bundles and CRLs are read
 * here and handed over as bytes (the core's crypto/x509.h and crypto/sig.h
 * parse PEM, DER and PKCS#12). Contents come back in a struct keel_secret,
 * wiped when freed, since key files are secrets; GLib's own copy is wiped
 * before it is released.
 *
 * Errors are GErrors of G_FILE_ERROR (from the file system) or
 * KEEL_CRED_ERROR (below); messages name the file, never its contents.
 */
#ifndef KEEL_PLATFORM_CREDENTIALS_H
#define KEEL_PLATFORM_CREDENTIALS_H

#include <glib.h>

#include <keel/secret.h>

#define KEEL_CRED_ERROR keel_cred_error_quark()
GQuark keel_cred_error_quark(void);

enum keel_cred_error {
	KEEL_CRED_ERROR_TOO_LARGE, /* over KEEL_CRED_MAX_LEN */
	KEEL_CRED_ERROR_EMPTY,
	KEEL_CRED_ERROR_NO_SYSTEM_STORE, /* none of the known bundle paths exists */
};

/* Largest file read (a system CA bundle is about 200 KiB). */
#define KEEL_CRED_MAX_LEN (4 * 1024 * 1024)

/*
 * The contents of path; a relative path is taken from base_dir (the
 * profile's directory; NULL: the current directory). Returns a new secret
 * (caller frees with keel_secret_free()) or NULL with *error set.
 */
struct keel_secret *keel_cred_read(const char *path, const char *base_dir, GError **error);

/*
 * The system's CA bundle (PEM): the first that exists of
 * /etc/ssl/certs/ca-certificates.crt (Debian, Ubuntu, Arch),
 * /etc/pki/tls/certs/ca-bundle.crt (Fedora, RHEL), /etc/ssl/ca-bundle.pem
 * (openSUSE), /etc/ssl/cert.pem (Alpine). *path_out (may be NULL) gets the
 * path used (static string). NULL with *error set when there is none.
 */
struct keel_secret *keel_cred_read_system_trust(const char **path_out, GError **error);

#endif
