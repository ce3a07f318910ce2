/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include <keel-platform/credentials.h>

G_DEFINE_QUARK(keel - cred - error - quark, keel_cred_error)

static const char *const system_bundles[] = {
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
};

struct keel_secret *keel_cred_read(const char *path, const char *base_dir, GError **error)
{
	g_autofree char *full = NULL;
	char *data = NULL;
	gsize len = 0;
	struct keel_secret *s = NULL;

	g_return_val_if_fail(path != NULL, NULL);
	if (g_path_is_absolute(path) || !base_dir)
		full = g_strdup(path);
	else
		full = g_build_filename(base_dir, path, NULL);

	if (!g_file_get_contents(full, &data, &len, error))
		return NULL;
	if (len == 0) {
		g_set_error(error, KEEL_CRED_ERROR, KEEL_CRED_ERROR_EMPTY, "%s: file is empty",
		            full);
	} else if (len > KEEL_CRED_MAX_LEN) {
		g_set_error(error, KEEL_CRED_ERROR, KEEL_CRED_ERROR_TOO_LARGE,
		            "%s: larger than %d bytes", full, KEEL_CRED_MAX_LEN);
	} else {
		s = keel_secret_new_from((const uint8_t *)data, (ptrdiff_t)len);
		if (!s)
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "%s: out of memory",
			            full);
	}
	explicit_bzero(data, len);
	g_free(data);
	return s;
}

struct keel_secret *keel_cred_read_system_trust(const char **path_out, GError **error)
{
	for (gsize i = 0; i < G_N_ELEMENTS(system_bundles); i++) {
		if (!g_file_test(system_bundles[i], G_FILE_TEST_IS_REGULAR))
			continue;
		if (path_out)
			*path_out = system_bundles[i];
		return keel_cred_read(system_bundles[i], NULL, error);
	}
	g_set_error(error, KEEL_CRED_ERROR, KEEL_CRED_ERROR_NO_SYSTEM_STORE,
	            "no system CA bundle found (looked for %s and others)", system_bundles[0]);
	return NULL;
}
