/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Profiles (keel.conf(5)) and secrets files.
 *
 * A profile is a keyfile with the groups [connection] and [auth]; one file,
 * one connection. It never holds a secret: the keys psk, password, secret and
 * key-passphrase (and a [secrets] group) are refused with an error that
 * points to the keyring or --secrets FILE. Every error is one line,
 * "FILE:LINE: key 'KEY': why" (or "FILE:LINE: why" for syntax), names the
 * file as the caller gave it, and quotes the offending value only for
 * profile keys, which are never secret. Proposal, identity and traffic
 * selector strings are parsed with the core's helpers (keel/config.h), so
 * every front end reads them the same way.
 *
 * A secrets file is a keyfile with one group [secrets] and the keys psk,
 * password and key-passphrase. It must be owned by the user reading it (or
 * root) and give no permissions to group or others. Its values are held in
 * struct keel_secret (wiped on free); the buffers the file was read into are
 * wiped as well; errors never quote a value from it.
 *
 * Errors are GErrors in the domain KEEL_PROFILE_ERROR.
 */
#ifndef KEEL_PLATFORM_PROFILE_H
#define KEEL_PLATFORM_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include <keel/config.h>
#include <keel/secret.h>

#define KEEL_PROFILE_ERROR (keel_profile_error_quark())
GQuark keel_profile_error_quark(void);

enum keel_profile_error {
	KEEL_PROFILE_ERROR_IO,          /* cannot read the file (or too large) */
	KEEL_PROFILE_ERROR_SYNTAX,      /* not a keyfile: bad line, duplicate group or key */
	KEEL_PROFILE_ERROR_INVALID,     /* unknown group or key, bad or missing value */
	KEEL_PROFILE_ERROR_SECRET,      /* a secret in a profile */
	KEEL_PROFILE_ERROR_WEAK,        /* a weak algorithm without allow-weak = yes */
	KEEL_PROFILE_ERROR_PERMISSIONS, /* a secrets file others may read, or not ours */
};

enum keel_profile_auth {
	KEEL_PROFILE_AUTH_PSK = 1,
	KEEL_PROFILE_AUTH_CERT,
	KEEL_PROFILE_AUTH_EAP,        /* IKEv2 only */
	KEEL_PROFILE_AUTH_XAUTH_PSK,  /* IKEv1 only */
	KEEL_PROFILE_AUTH_XAUTH_CERT, /* IKEv1 only */
	KEEL_PROFILE_AUTH_HYBRID,     /* IKEv1 only */
};

enum keel_profile_mode {
	KEEL_PROFILE_MODE_MAIN = 0, /* IKEv1 main mode (default) */
	KEEL_PROFILE_MODE_AGGRESSIVE,
};

enum keel_profile_datapath {
	KEEL_PROFILE_DATAPATH_AUTO = 0,
	KEEL_PROFILE_DATAPATH_XFRM,
	KEEL_PROFILE_DATAPATH_TUN,
};

#define KEEL_PROFILE_DEFAULT_PORT 500

struct keel_profile {
	/* [connection] gateway: host name or address literal, without brackets or port. */
	char *gateway_host;
	/* The address when gateway_host is a literal (port = gateway_port), else UNSPEC. */
	struct keel_addr gateway_addr;
	uint16_t gateway_port; /* KEEL_PROFILE_DEFAULT_PORT unless given */

	uint8_t ike_version;         /* 2 (default) or 1 */
	enum keel_profile_mode mode; /* IKEv1 only; MAIN unless given */
	enum keel_profile_auth auth; /* required */

	/* local-id: NULL and KEEL_ID_NONE when not given. */
	char *local_id_text;
	struct keel_id local_id;
	/* remote-id: when not given, the gateway host as written (remote_id_default set). */
	char *remote_id_text;
	struct keel_id remote_id;
	bool remote_id_default;

	/* Parsed proposals, first preferred. n == 0: not given, Keel's defaults apply. */
	size_t n_ike_proposals;
	struct keel_proposal ike_proposals[KEEL_MAX_PROPOSALS];
	size_t n_esp_proposals;
	struct keel_proposal esp_proposals[KEEL_MAX_PROPOSALS];
	/* ah-proposals: n > 0 asks for AH (RFC 4302) instead of ESP; kernel data path only. */
	size_t n_ah_proposals;
	struct keel_proposal ah_proposals[KEEL_MAX_PROPOSALS];

	/* remote-ts. n == 0: not given, everything (0.0.0.0/0 and ::/0). */
	size_t n_remote_ts;
	struct keel_ts remote_ts[KEEL_MAX_TS];

	enum keel_profile_datapath datapath;
	bool allow_weak;

	/*
	 * ike-rekey-time, child-rekey-time: seconds after which Keel rekeys the
	 * IKE SA or the CHILD SA (0: not given, the engine's defaults, 4h and
	 * 1h); turn them into lifetimes with keel_profile_lifetime().
	 * dpd: the liveness check after this many seconds of silence (0: off),
	 * when dpd_set.
	 */
	uint32_t ike_rekey_s;
	uint32_t child_rekey_s;
	bool dpd_set;
	uint32_t dpd_s;

	/* [auth]. NULL when not given; paths are absolute (relative ones are
	 * taken from the profile's directory). */
	char *username;
	char *certificate;
	char *private_key;
	char *ca;
	/* crl: certificate revocation lists for the gateway's chain */
	char *crl;
	/* eap-only: offer EAP-only authentication (RFC 5998); default no */
	bool eap_only;
};

/*
 * Reads and validates the profile at path; relative paths in it are resolved
 * against the directory of path. Returns a new profile (free it with
 * keel_profile_free()) or NULL with *error set.
 */
struct keel_profile *keel_profile_load(const char *path, GError **error);

/*
 * The same from memory: name is what errors call the file ("office.conf"),
 * base_dir the directory relative paths are taken from (NULL: the current
 * directory). text need not be NUL-terminated; len bytes are read.
 */
struct keel_profile *keel_profile_parse(const char *name, const char *base_dir, const char *text,
                                        size_t len, GError **error);

/* Frees p. NULL is fine. */
void keel_profile_free(struct keel_profile *p);

/* The bounds of ike-rekey-time and child-rekey-time, and of dpd (0 aside). */
#define KEEL_PROFILE_REKEY_MIN_S 2
#define KEEL_PROFILE_REKEY_MAX_S (365u * 24 * 3600)
#define KEEL_PROFILE_DPD_MAX_S   (24u * 3600)

/*
 * The lifetime for a rekey time, derived as strongSwan derives its times
 * from rekey_time: a tenth of it, rounded up to whole seconds, is both the
 * margin and the jitter, and the hard life is the rekey time plus that
 * tenth. The engine rekeys at life - margin - random(0..jitter), so between
 * 0.9 x rekey_s and rekey_s, and drops the SA at 1.1 x rekey_s. 14400 (4h)
 * and 3600 (1h) give exactly keel_config_init()'s defaults. rekey_s 0: all
 * zero (never rekey); otherwise at most KEEL_PROFILE_REKEY_MAX_S.
 */
void keel_profile_lifetime(uint32_t rekey_s, struct keel_lifetime *out);

/* The contents of a secrets file; each member NULL when not given. */
struct keel_secrets {
	struct keel_secret *psk;
	struct keel_secret *password;       /* EAP or XAUTH */
	struct keel_secret *key_passphrase; /* for [auth] private-key */
};

/*
 * Reads a secrets file. Refused (KEEL_PROFILE_ERROR_PERMISSIONS) unless it is
 * a regular file owned by the effective user or root with no permissions for
 * group or others (chmod 600). Returns a new struct (free it with
 * keel_secrets_free()) or NULL with *error set.
 */
struct keel_secrets *keel_secrets_load(const char *path, GError **error);

/*
 * The same from memory, without the permission check. text is only read;
 * the parser's own copy is wiped before returning.
 */
struct keel_secrets *keel_secrets_parse(const char *name, const char *text, size_t len,
                                        GError **error);

/* Wipes and frees s. NULL is fine. */
void keel_secrets_free(struct keel_secrets *s);

#endif
