/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Profiles and secrets files: keel.conf(5).
 *
 * Validation is hand-written on top of ini.c (see there why not GKeyFile):
 * each rule needs the file, line and key in its message, and the proposal,
 * identity and traffic-selector syntax is delegated to the core's text
 * helpers so that the CLI, the daemon and the importers agree. What is
 * Keel's own here is the policy: which keys exist, which values they take,
 * that secrets stay out of profiles, and which algorithms count as weak.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <keel-platform/profile.h>

#include "ini.h"

/* A profile is small; anything larger is a mistake (or not a profile). */
#define PROFILE_MAX_LEN (256 * 1024)
#define SECRETS_MAX_LEN (64 * 1024)

GQuark keel_profile_error_quark(void)
{
	return g_quark_from_static_string("keel-profile-error-quark");
}

/* ---- messages ---- */

struct ctx {
	const char *name;
	const char *base_dir;
	GError **error;
};

/* "name:line: key 'key': why" (key NULL: "name:line: why"); always returns false. */
static bool fail(const struct ctx *c, enum keel_profile_error code, int line, const char *key,
                 const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static bool fail(const struct ctx *c, enum keel_profile_error code, int line, const char *key,
                 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (key)
		g_set_error(c->error, KEEL_PROFILE_ERROR, (int)code, "%s:%d: key '%s': %s", c->name,
		            line, key, why);
	else
		g_set_error(c->error, KEEL_PROFILE_ERROR, (int)code, "%s:%d: %s", c->name, line,
		            why);
	return false;
}

/*
 * A value quoted for a message: printable ASCII as is, other bytes, '"' and
 * '\\' as \xHH, cut after 80 bytes. Only ever used on profile values.
 */
static char *quote(const char *v)
{
	GString *s = g_string_new("\"");
	size_t n = strlen(v);
	for (size_t i = 0; i < n && i < 80; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
			g_string_append_c(s, (char)ch);
		else
			g_string_append_printf(s, "\\x%02x", ch);
	}
	g_string_append(s, n > 80 ? "...\"" : "\"");
	return g_string_free(s, FALSE);
}

/* ---- keys ---- */

enum key_id {
	K_GATEWAY,
	K_IKE,
	K_MODE,
	K_AUTH,
	K_LOCAL_ID,
	K_REMOTE_ID,
	K_IKE_PROPOSALS,
	K_ESP_PROPOSALS,
	K_AH_PROPOSALS,
	K_REMOTE_TS,
	K_DATAPATH,
	K_ALLOW_WEAK,
	K_IKE_REKEY_TIME,
	K_CHILD_REKEY_TIME,
	K_DPD,
	K_USERNAME,
	K_CERTIFICATE,
	K_PRIVATE_KEY,
	K_CA,
	K_CRL,
	K_EAP_ONLY,
	K_COUNT,
};

static const struct {
	const char *group;
	const char *key;
} keys[K_COUNT] = {
    [K_GATEWAY] = {"connection", "gateway"},
    [K_IKE] = {"connection", "ike"},
    [K_MODE] = {"connection", "mode"},
    [K_AUTH] = {"connection", "auth"},
    [K_LOCAL_ID] = {"connection", "local-id"},
    [K_REMOTE_ID] = {"connection", "remote-id"},
    [K_IKE_PROPOSALS] = {"connection", "ike-proposals"},
    [K_ESP_PROPOSALS] = {"connection", "esp-proposals"},
    [K_AH_PROPOSALS] = {"connection", "ah-proposals"},
    [K_REMOTE_TS] = {"connection", "remote-ts"},
    [K_DATAPATH] = {"connection", "datapath"},
    [K_ALLOW_WEAK] = {"connection", "allow-weak"},
    [K_IKE_REKEY_TIME] = {"connection", "ike-rekey-time"},
    [K_CHILD_REKEY_TIME] = {"connection", "child-rekey-time"},
    [K_DPD] = {"connection", "dpd"},
    [K_USERNAME] = {"auth", "username"},
    [K_CERTIFICATE] = {"auth", "certificate"},
    [K_PRIVATE_KEY] = {"auth", "private-key"},
    [K_CA] = {"auth", "ca"},
    [K_CRL] = {"auth", "crl"},
    [K_EAP_ONLY] = {"auth", "eap-only"},
};

/* psk, password, secret, key-passphrase, xauth-password, ...: never in a profile */
static bool key_is_secret(const char *key)
{
	static const char *const words[] = {"psk", "password", "secret", "passphrase"};
	for (size_t i = 0; i < G_N_ELEMENTS(words); i++)
		if (strstr(key, words[i]))
			return true;
	return false;
}

#define SECRETS_ADVICE                                                                             \
	"secrets do not belong in a profile; keep them in the keyring or in a private file "       \
	"given with --secrets FILE"

/* ---- values ---- */

static bool parse_choice(const struct ctx *c, const struct keel_ini_entry *e,
                         const char *const *names, size_t n, const char *expected, int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(e->value, names[i]) == 0) {
			*out = (int)i;
			return true;
		}
	}
	g_autofree char *q = quote(e->value);
	return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key, "expected %s, got %s", expected,
	            q);
}

static bool parse_port(const char *s, uint16_t *out)
{
	unsigned v = 0;
	if (!*s || strlen(s) > 5)
		return false;
	for (; *s; s++) {
		if (!g_ascii_isdigit(*s))
			return false;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* RFC 1123 §2.1 host names: labels of letters, digits and '-', 1..63 bytes each. */
static bool host_name_ok(const char *s)
{
	size_t n = strlen(s), label = 0;
	bool all_numeric = true;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!g_ascii_isalnum(ch) && ch != '-')
			return false;
		if (ch == '-' && label == 0)
			return false;
		if (!g_ascii_isdigit(ch))
			all_numeric = false;
		if (++label > 63)
			return false;
	}
	/* "192.0.2.300" is a broken address, not a name */
	return !all_numeric && s[n - 1] != '-';
}

/*
 * A duration as strongSwan writes one: whole seconds, or a number with the
 * unit s, m, h or d ("90s", "20m", "4h", "1d"). Between min_s and max_s, or 0
 * when zero_ok.
 */
static bool parse_duration(const struct ctx *c, const struct keel_ini_entry *e, uint32_t min_s,
                           uint32_t max_s, bool zero_ok, uint32_t *out)
{
	static const struct {
		char unit;
		uint32_t s;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	const char *v = e->value;
	uint64_t n = 0;
	size_t i = 0;
	g_autofree char *q = quote(v);

	for (; g_ascii_isdigit(v[i]); i++)
		if (n <= max_s) /* past max_s it stays past: no overflow */
			n = n * 10 + (uint64_t)(v[i] - '0');
	if (i == 0)
		goto bad;
	if (v[i]) {
		size_t u = 0;
		while (u < G_N_ELEMENTS(units) && units[u].unit != v[i])
			u++;
		if (u == G_N_ELEMENTS(units) || v[i + 1])
			goto bad;
		n *= units[u].s;
	}
	if (n == 0 && zero_ok) {
		*out = 0;
		return true;
	}
	if (n < min_s)
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
		            "must be at least %" PRIu32 "s%s, got %s", min_s,
		            zero_ok ? " or 0 (off)" : "", q);
	if (n > max_s)
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
		            "must be at most %" PRIu32 "d, got %s", max_s / 86400, q);
	*out = (uint32_t)n;
	return true;
bad:
	return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
	            "expected a duration in seconds or with a unit (90s, 20m, 4h, 1d), got %s", q);
}

void keel_profile_lifetime(uint32_t rekey_s, struct keel_lifetime *out)
{
	/* strongSwan: over_time defaults to 10% of rekey_time, rand_time to over_time */
	uint32_t tenth_s = rekey_s / 10 + (rekey_s % 10 != 0);
	*out = (struct keel_lifetime){
	    .life_s = rekey_s + tenth_s, .margin_s = tenth_s, .jitter_s = tenth_s};
}

static bool parse_gateway(const struct ctx *c, const struct keel_ini_entry *e,
                          struct keel_profile *p)
{
	g_autofree char *host = NULL;
	const char *port = NULL;
	const char *v = e->value;
	const char *why = "expected a host name or an address, with an optional :port";
	struct keel_addr a = {.family = KEEL_AF_UNSPEC};
	uint16_t port_num = KEEL_PROFILE_DEFAULT_PORT;

	if (v[0] == '[') {
		const char *end = strchr(v, ']');
		if (!end)
			goto bad;
		host = g_strndup(v + 1, (size_t)(end - v - 1));
		if (inet_pton(AF_INET6, host, a.bytes) != 1) {
			why = "expected an IPv6 address inside [ ]";
			goto bad;
		}
		a.family = KEEL_AF_INET6;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			goto bad;
	} else {
		const char *colon = strchr(v, ':');
		if (colon && strchr(colon + 1, ':')) {
			/* two or more colons: a bare IPv6 address, no port possible */
			if (inet_pton(AF_INET6, v, a.bytes) != 1) {
				why = "an IPv6 address with a port is written [2001:db8::1]:4500";
				goto bad;
			}
			host = g_strdup(v);
			a.family = KEEL_AF_INET6;
		} else {
			host = colon ? g_strndup(v, (size_t)(colon - v)) : g_strdup(v);
			port = colon ? colon + 1 : NULL;
			if (inet_pton(AF_INET, host, a.bytes) == 1)
				a.family = KEEL_AF_INET;
			else if (!host_name_ok(host))
				goto bad;
		}
	}
	if (port && !parse_port(port, &port_num)) {
		why = "the port must be a number from 1 to 65535";
		goto bad;
	}
	a.port = port_num;
	p->gateway_host = g_steal_pointer(&host);
	p->gateway_addr = a;
	p->gateway_port = port_num;
	return true;
bad:;
	g_autofree char *q = quote(v);
	return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key, "%s, got %s", why, q);
}

static bool parse_id(const struct ctx *c, const struct keel_ini_entry *e, char **text,
                     struct keel_id *id)
{
	int rc = keel_id_from_text(e->value, id);
	if (rc < 0) {
		g_autofree char *q = quote(e->value);
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key, "%s, got %s",
		            rc == KEEL_ERR_NOMEM
		                ? "out of memory"
		                : "expected an address, a host name, user@domain, "
		                  "@#hex or a distinguished name (C=.., O=.., CN=..)",
		            q);
	}
	*text = g_strdup(e->value);
	return true;
}

/* Splits a comma-separated list; empty items are kept so that they can be reported. */
static char **split_list(const char *v, size_t *n)
{
	char **items = g_strsplit(v, ",", -1);
	for (char **it = items; *it; it++)
		g_strstrip(*it);
	*n = g_strv_length(items);
	return items;
}

static bool parse_ts(const struct ctx *c, const struct keel_ini_entry *e, struct keel_profile *p)
{
	size_t n;
	g_auto(GStrv) items = split_list(e->value, &n);
	if (n > KEEL_MAX_TS)
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
		            "at most %d entries, got %zu", KEEL_MAX_TS, n);
	for (size_t i = 0; i < n; i++) {
		if (keel_ts_from_text(items[i], &p->remote_ts[i]) < 0) {
			g_autofree char *q = quote(items[i]);
			return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
			            "expected an address, a prefix like 198.51.100.0/24 or a "
			            "range a-b, got %s",
			            q);
		}
	}
	p->n_remote_ts = n;
	return true;
}

static bool parse_path(const struct ctx *c, const struct keel_ini_entry *e, char **out)
{
	if (!e->value[0])
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
		            "expected a file name, got \"\"");
	*out = g_canonicalize_filename(e->value, c->base_dir);
	return true;
}

/* ---- proposals ---- */

/*
 * Algorithms refused as weak (RFC 8247 §2.1, §2.2, §2.4 mark them MUST NOT
 * or deprecated). The core does not implement them, so allow-weak cannot
 * bring them back; they are named here to say "weak" instead of "unknown".
 */
static bool weak_unsupported(const char *alg)
{
	static const char *const names[] = {
	    "modp768",      "modp1024", "modp1536", "modp1024s160", "modp2048s224",
	    "modp2048s256", "md5",      "md5_128",  "prfmd5",       "des",
	    "3des",         "blowfish", "cast128",  "null",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
		if (strcmp(alg, names[i]) == 0)
			return true;
	return false;
}

static bool known_alg(const char *alg, enum keel_proposal_kind kind)
{
	struct keel_proposal tmp;
	size_t pos = SIZE_MAX;
	/* an unknown keyword fails at offset 0, a known one later or not at all */
	return keel_proposal_from_text(alg, kind, &tmp, &pos) == 0 || pos != 0;
}

static const char *kind_name(enum keel_proposal_kind kind)
{
	switch (kind) {
	case KEEL_PROPOSAL_IKE:
		return "an IKE";
	case KEEL_PROPOSAL_ESP:
		return "an ESP";
	case KEEL_PROPOSAL_AH:
		return "an AH";
	}
	return "a";
}

static bool encr_is_aead(uint16_t id)
{
	/* IANA IKEv2 Transform Type 1: 18-20 AES-GCM, 28 ChaCha20-Poly1305 */
	return id == 18 || id == 19 || id == 20 || id == 28;
}

static bool parse_one_proposal(const struct ctx *c, const struct keel_ini_entry *e,
                               const char *text, enum keel_proposal_kind kind,
                               const struct keel_profile *p, struct keel_proposal *out)
{
	g_autofree char *q = quote(text);
	g_auto(GStrv) algs = g_strsplit(text, "-", -1);

	if (!text[0])
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key, "empty proposal");
	for (char **a = algs; *a; a++) {
		g_strstrip(*a);
		if (!**a)
			return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
			            "empty algorithm name in %s", q);
		if (weak_unsupported(*a))
			return fail(c, KEEL_PROFILE_ERROR_WEAK, e->line, e->key,
			            "'%s' is a weak algorithm (RFC 8247) that Keel does not "
			            "offer, in %s",
			            *a, q);
	}

	size_t pos = SIZE_MAX;
	if (keel_proposal_from_text(text, kind, out, &pos) < 0) {
		enum keel_proposal_kind other =
		    kind == KEEL_PROPOSAL_IKE ? KEEL_PROPOSAL_ESP : KEEL_PROPOSAL_IKE;
		size_t len = strlen(text);
		if (kind == KEEL_PROPOSAL_AH && pos >= len)
			return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
			            "incomplete proposal %s: an AH proposal needs an integrity "
			            "algorithm (sha256, sha384, sha512) and no cipher",
			            q);
		if (pos >= len)
			return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
			            "incomplete proposal %s: %s proposal needs a cipher, an "
			            "integrity algorithm unless the cipher is AEAD (and none with "
			            "one)%s, and AEAD and other ciphers go in separate proposals",
			            q, kind_name(kind),
			            kind == KEEL_PROPOSAL_IKE ? ", a DH group" : "");
		size_t end = pos;
		while (end < len && text[end] != '-')
			end++;
		g_autofree char *alg = g_strstrip(g_strndup(text + pos, end - pos));
		if (known_alg(alg, kind))
			return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
			            "too many algorithms of the kind of '%s' (at most %d), in %s",
			            alg, KEEL_PROPOSAL_MAX_ALGS, q);
		if (known_alg(alg, other))
			return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
			            "'%s' does not belong in %s proposal, in %s", alg,
			            kind_name(kind), q);
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
		            "unknown algorithm '%s' in %s", alg, q);
	}

	/* RFC 8247 §2.3/§2.4: HMAC-SHA1 is MUST-; alone it is weak */
	if (!p->allow_weak && out->n_integ == 1 && out->integ[0] == 2)
		return fail(c, KEEL_PROFILE_ERROR_WEAK, e->line, e->key,
		            "'sha1' as the only integrity algorithm is weak (RFC 8247), in %s; "
		            "add sha256 or set allow-weak = yes",
		            q);
	if (!p->allow_weak && out->n_prf == 1 && out->prf[0] == 2)
		return fail(c, KEEL_PROFILE_ERROR_WEAK, e->line, e->key,
		            "'prfsha1' as the only PRF is weak (RFC 8247), in %s; add prfsha256 "
		            "or set allow-weak = yes",
		            q);
	if (kind == KEEL_PROPOSAL_IKE && p->ike_version == 1)
		for (uint8_t i = 0; i < out->n_encr; i++)
			if (encr_is_aead(out->encr[i].id))
				return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
				            "IKEv1 has no AEAD ciphers for IKE (RFC 2409), in %s",
				            q);
	return true;
}

static bool parse_proposals(const struct ctx *c, const struct keel_ini_entry *e,
                            enum keel_proposal_kind kind, const struct keel_profile *p,
                            struct keel_proposal *out, size_t *n_out)
{
	size_t n;
	g_auto(GStrv) items = split_list(e->value, &n);
	if (n > KEEL_MAX_PROPOSALS)
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
		            "at most %d proposals, got %zu", KEEL_MAX_PROPOSALS, n);
	for (size_t i = 0; i < n; i++)
		if (!parse_one_proposal(c, e, items[i], kind, p, &out[i]))
			return false;
	*n_out = n;
	return true;
}

/* ---- profile ---- */

void keel_profile_free(struct keel_profile *p)
{
	if (!p)
		return;
	g_free(p->gateway_host);
	g_free(p->local_id_text);
	g_free(p->remote_id_text);
	g_free(p->username);
	g_free(p->certificate);
	g_free(p->private_key);
	g_free(p->ca);
	g_free(p->crl);
	g_free(p);
}

static const struct keel_ini_group *group_named(const struct keel_ini *ini, const char *name)
{
	for (size_t i = 0; i < ini->n_groups; i++)
		if (strcmp(ini->groups[i].name, name) == 0)
			return &ini->groups[i];
	return NULL;
}

/* Groups and keys that may exist at all, checked in file order. */
static bool check_names(const struct ctx *c, const struct keel_ini *ini,
                        const struct keel_ini_entry *by_key[K_COUNT])
{
	size_t gi = 0, ei = 0;
	while (gi < ini->n_groups || ei < ini->n_entries) {
		bool take_group =
		    gi < ini->n_groups &&
		    (ei == ini->n_entries || ini->groups[gi].line < ini->entries[ei].line);
		if (take_group) {
			const struct keel_ini_group *g = &ini->groups[gi++];
			if (strcmp(g->name, "secrets") == 0)
				return fail(c, KEEL_PROFILE_ERROR_SECRET, g->line, NULL,
				            "group [secrets]: " SECRETS_ADVICE);
			if (strcmp(g->name, "connection") != 0 && strcmp(g->name, "auth") != 0)
				return fail(c, KEEL_PROFILE_ERROR_INVALID, g->line, NULL,
				            "unknown group [%s] (a profile has [connection] and "
				            "[auth])",
				            g->name);
			continue;
		}
		const struct keel_ini_entry *e = &ini->entries[ei++];
		const char *group = ini->groups[e->group].name;
		if (key_is_secret(e->key))
			return fail(c, KEEL_PROFILE_ERROR_SECRET, e->line, e->key, SECRETS_ADVICE);
		size_t k = 0;
		while (k < K_COUNT &&
		       (strcmp(keys[k].key, e->key) != 0 || strcmp(keys[k].group, group) != 0))
			k++;
		if (k == K_COUNT)
			return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
			            "unknown key in [%s]", group);
		by_key[k] = e;
	}
	return true;
}

static bool parse_values(const struct ctx *c, const struct keel_ini_entry *const by_key[K_COUNT],
                         struct keel_profile *p)
{
	static const char *const ike_names[] = {"1", "2"};
	static const char *const mode_names[] = {"main", "aggressive"};
	static const char *const auth_names[] = {"psk",       "cert",       "eap",
	                                         "xauth-psk", "xauth-cert", "hybrid"};
	static const char *const datapath_names[] = {"auto", "xfrm", "tun"};
	static const char *const bool_names[] = {"no", "yes", "false", "true"};
	const struct keel_ini_entry *e;
	int v = 0;

	if ((e = by_key[K_IKE])) {
		if (!parse_choice(c, e, ike_names, 2, "1 or 2", &v))
			return false;
		p->ike_version = (uint8_t)(v + 1);
	}
	if ((e = by_key[K_MODE])) {
		if (!parse_choice(c, e, mode_names, 2, "main or aggressive", &v))
			return false;
		p->mode = v == 0 ? KEEL_PROFILE_MODE_MAIN : KEEL_PROFILE_MODE_AGGRESSIVE;
	}
	if ((e = by_key[K_AUTH])) {
		if (!parse_choice(c, e, auth_names, 6,
		                  "psk, cert, eap, xauth-psk, xauth-cert or hybrid", &v))
			return false;
		p->auth = (enum keel_profile_auth)(KEEL_PROFILE_AUTH_PSK + v);
	}
	if ((e = by_key[K_DATAPATH])) {
		if (!parse_choice(c, e, datapath_names, 3, "auto, xfrm or tun", &v))
			return false;
		p->datapath = v == 0   ? KEEL_PROFILE_DATAPATH_AUTO
		              : v == 1 ? KEEL_PROFILE_DATAPATH_XFRM
		                       : KEEL_PROFILE_DATAPATH_TUN;
	}
	if ((e = by_key[K_ALLOW_WEAK])) {
		if (!parse_choice(c, e, bool_names, 4, "yes or no", &v))
			return false;
		p->allow_weak = v % 2 == 1;
	}
	if ((e = by_key[K_EAP_ONLY])) {
		if (!parse_choice(c, e, bool_names, 4, "yes or no", &v))
			return false;
		p->eap_only = v % 2 == 1;
	}
	if ((e = by_key[K_GATEWAY]) && !parse_gateway(c, e, p))
		return false;
	if ((e = by_key[K_IKE_REKEY_TIME]) &&
	    !parse_duration(c, e, KEEL_PROFILE_REKEY_MIN_S, KEEL_PROFILE_REKEY_MAX_S, false,
	                    &p->ike_rekey_s))
		return false;
	if ((e = by_key[K_CHILD_REKEY_TIME]) &&
	    !parse_duration(c, e, KEEL_PROFILE_REKEY_MIN_S, KEEL_PROFILE_REKEY_MAX_S, false,
	                    &p->child_rekey_s))
		return false;
	if ((e = by_key[K_DPD])) {
		if (!parse_duration(c, e, 1, KEEL_PROFILE_DPD_MAX_S, true, &p->dpd_s))
			return false;
		p->dpd_set = true;
	}
	if ((e = by_key[K_LOCAL_ID]) && !parse_id(c, e, &p->local_id_text, &p->local_id))
		return false;
	if ((e = by_key[K_REMOTE_ID]) && !parse_id(c, e, &p->remote_id_text, &p->remote_id))
		return false;
	if ((e = by_key[K_REMOTE_TS]) && !parse_ts(c, e, p))
		return false;
	if ((e = by_key[K_USERNAME])) {
		if (!e->value[0])
			return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
			            "expected a user name, got \"\"");
		p->username = g_strdup(e->value);
	}
	if ((e = by_key[K_CERTIFICATE]) && !parse_path(c, e, &p->certificate))
		return false;
	if ((e = by_key[K_PRIVATE_KEY]) && !parse_path(c, e, &p->private_key))
		return false;
	if ((e = by_key[K_CA]) && !parse_path(c, e, &p->ca))
		return false;
	if ((e = by_key[K_CRL]) && !parse_path(c, e, &p->crl))
		return false;
	/* proposals last: they depend on ike and allow-weak, wherever those are */
	if ((e = by_key[K_IKE_PROPOSALS]) &&
	    !parse_proposals(c, e, KEEL_PROPOSAL_IKE, p, p->ike_proposals, &p->n_ike_proposals))
		return false;
	if ((e = by_key[K_ESP_PROPOSALS]) &&
	    !parse_proposals(c, e, KEEL_PROPOSAL_ESP, p, p->esp_proposals, &p->n_esp_proposals))
		return false;
	if ((e = by_key[K_AH_PROPOSALS]) &&
	    !parse_proposals(c, e, KEEL_PROPOSAL_AH, p, p->ah_proposals, &p->n_ah_proposals))
		return false;
	return true;
}

static bool auth_ikev1_only(enum keel_profile_auth a)
{
	return a == KEEL_PROFILE_AUTH_XAUTH_PSK || a == KEEL_PROFILE_AUTH_XAUTH_CERT ||
	       a == KEEL_PROFILE_AUTH_HYBRID;
}

/* Rules between keys, and the keys a profile must have. */
static bool check_profile(const struct ctx *c, const struct keel_ini *ini,
                          const struct keel_ini_entry *const by_key[K_COUNT],
                          struct keel_profile *p)
{
	const struct keel_ini_group *conn = group_named(ini, "connection");
	const struct keel_ini_entry *e;

	if (!conn) {
		g_set_error(c->error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_INVALID,
		            "%s: no [connection] group", c->name);
		return false;
	}
	if (!by_key[K_GATEWAY])
		return fail(c, KEEL_PROFILE_ERROR_INVALID, conn->line, "gateway",
		            "missing from [connection]");
	if (!by_key[K_AUTH])
		return fail(c, KEEL_PROFILE_ERROR_INVALID, conn->line, "auth",
		            "missing from [connection] (psk, cert, eap, xauth-psk, xauth-cert "
		            "or hybrid)");
	if ((e = by_key[K_MODE]) && p->ike_version != 1)
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
		            "only for IKEv1 (ike = 1)");
	e = by_key[K_AUTH];
	if (auth_ikev1_only(p->auth) && p->ike_version != 1)
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key, "%s needs ike = 1",
		            e->value);
	if (p->auth == KEEL_PROFILE_AUTH_EAP && p->ike_version != 2)
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key, "eap needs ike = 2");
	if ((p->auth == KEEL_PROFILE_AUTH_CERT || p->auth == KEEL_PROFILE_AUTH_XAUTH_CERT) &&
	    (!p->certificate || !p->private_key))
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
		            "%s needs certificate and private-key in [auth]", e->value);
	if ((e = by_key[K_EAP_ONLY]) && p->eap_only && p->auth != KEEL_PROFILE_AUTH_EAP)
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key, "only with auth = eap");
	/* RFC 4302: AH cannot travel in UDP, so not over the TUN data path */
	if ((e = by_key[K_AH_PROPOSALS]) && p->datapath == KEEL_PROFILE_DATAPATH_TUN)
		return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
		            "AH needs the kernel data path (datapath = xfrm), not tun");

	if (!p->remote_id_text) {
		/* the gateway as given; a host name that is not a valid ID stays NONE */
		p->remote_id_text = g_strdup(p->gateway_host);
		if (keel_id_from_text(p->remote_id_text, &p->remote_id) < 0)
			p->remote_id.type = KEEL_ID_NONE;
		p->remote_id_default = true;
	}
	return true;
}

static struct keel_profile *parse_taken(const char *name, const char *base_dir, char *buf,
                                        size_t len, GError **error)
{
	const struct ctx c = {.name = name, .base_dir = base_dir, .error = error};
	const struct keel_ini_entry *by_key[K_COUNT] = {0};
	struct keel_ini ini;
	struct keel_profile *p = g_new0(struct keel_profile, 1);

	p->ike_version = 2;
	p->mode = KEEL_PROFILE_MODE_MAIN;
	p->datapath = KEEL_PROFILE_DATAPATH_AUTO;
	p->gateway_port = KEEL_PROFILE_DEFAULT_PORT;

	bool ok =
	    keel_ini_parse(&ini, name, buf, len, KEEL_INI_INLINE_COMMENTS | KEEL_INI_UTF8, error) &&
	    check_names(&c, &ini, by_key) && parse_values(&c, by_key, p) &&
	    check_profile(&c, &ini, by_key, p);
	keel_ini_clear(&ini);
	if (!ok) {
		keel_profile_free(p);
		return NULL;
	}
	return p;
}

struct keel_profile *keel_profile_parse(const char *name, const char *base_dir, const char *text,
                                        size_t len, GError **error)
{
	g_autofree char *dir = base_dir ? g_strdup(base_dir) : g_get_current_dir();
	char *buf = g_malloc(len + 1);
	memcpy(buf, text, len);
	return parse_taken(name, dir, buf, len, error);
}

struct keel_profile *keel_profile_load(const char *path, GError **error)
{
	char *buf;
	size_t len;
	if (!keel_ini_read_file(path, PROFILE_MAX_LEN, false, &buf, &len, error))
		return NULL;
	g_autofree char *abs = g_canonicalize_filename(path, NULL);
	g_autofree char *dir = g_path_get_dirname(abs);
	return parse_taken(path, dir, buf, len, error);
}

/* ---- secrets ---- */

void keel_secrets_free(struct keel_secrets *s)
{
	if (!s)
		return;
	keel_secret_free(s->psk);
	keel_secret_free(s->password);
	keel_secret_free(s->key_passphrase);
	g_free(s);
}

static bool secrets_from_ini(const struct ctx *c, const struct keel_ini *ini,
                             struct keel_secrets *s)
{
	for (size_t i = 0; i < ini->n_groups; i++)
		if (strcmp(ini->groups[i].name, "secrets") != 0)
			return fail(c, KEEL_PROFILE_ERROR_INVALID, ini->groups[i].line, NULL,
			            "unknown group [%s] (a secrets file has only [secrets])",
			            ini->groups[i].name);
	if (ini->n_groups == 0) {
		g_set_error(c->error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_INVALID,
		            "%s: no [secrets] group", c->name);
		return false;
	}
	for (size_t i = 0; i < ini->n_entries; i++) {
		const struct keel_ini_entry *e = &ini->entries[i];
		struct keel_secret **slot;
		if (strcmp(e->key, "psk") == 0)
			slot = &s->psk;
		else if (strcmp(e->key, "password") == 0)
			slot = &s->password;
		else if (strcmp(e->key, "key-passphrase") == 0)
			slot = &s->key_passphrase;
		else
			return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key,
			            "unknown key in [secrets] (psk, password, key-passphrase)");
		size_t n = strlen(e->value);
		if (n == 0)
			return fail(c, KEEL_PROFILE_ERROR_INVALID, e->line, e->key, "empty value");
		*slot = keel_secret_new_from((const uint8_t *)e->value, (ptrdiff_t)n);
		if (!*slot)
			return fail(c, KEEL_PROFILE_ERROR_IO, e->line, e->key, "out of memory");
	}
	return true;
}

static struct keel_secrets *secrets_taken(const char *name, char *buf, size_t len, GError **error)
{
	const struct ctx c = {.name = name, .error = error};
	struct keel_ini ini;
	struct keel_secrets *s = g_new0(struct keel_secrets, 1);
	bool ok = keel_ini_parse(&ini, name, buf, len, 0, error) && secrets_from_ini(&c, &ini, s);
	keel_ini_clear(&ini); /* wipes buf */
	if (!ok) {
		keel_secrets_free(s);
		return NULL;
	}
	return s;
}

struct keel_secrets *keel_secrets_parse(const char *name, const char *text, size_t len,
                                        GError **error)
{
	char *buf = g_malloc(len + 1);
	memcpy(buf, text, len);
	return secrets_taken(name, buf, len, error);
}

struct keel_secrets *keel_secrets_load(const char *path, GError **error)
{
	char *buf;
	size_t len;
	if (!keel_ini_read_file(path, SECRETS_MAX_LEN, true, &buf, &len, error))
		return NULL;
	return secrets_taken(path, buf, len, error);
}
