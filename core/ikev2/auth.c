/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Loading the credentials of a connection from the bytes in its config:
 * our key (PEM, DER or PKCS#12, perhaps encrypted) and certificates, the
 * trust anchors for the gateway's certificate, the EAP identity and
 * password. Every refusal says which setting is wrong, never its value.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "eap/eap.h"
#include "ikev2/auth.h"

_Static_assert(KEEL_EAP_METHOD_MSCHAPV2 == KEEL_EAP_ALLOW_MSCHAPV2 &&
                   KEEL_EAP_METHOD_GTC == KEEL_EAP_ALLOW_GTC &&
                   KEEL_EAP_METHOD_MD5 == KEEL_EAP_ALLOW_MD5,
               "public EAP method bits are those of eap.h");

int keel_refuse(int rc, char *why, size_t cap, const char *fmt, ...)
{
	if (why && cap > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, cap, fmt, ap);
		va_end(ap);
	}
	return rc;
}

void keel_creds_clear(struct keel_creds *c)
{
	keel_privkey_free(c->key);
	keel_certs_free(c->chain);
	keel_x509_trust_free(c->trust);
	keel_secret_free(c->eap_password);
	OPENSSL_cleanse(c, sizeof(*c));
	memset(c, 0, sizeof(*c));
}

static int key_refusal(int rc, enum keel_key_reason r, bool pkcs12, char *why, size_t cap)
{
	const char *what = pkcs12 ? "PKCS#12 file" : "private key";
	switch (r) {
	case KEEL_KEY_PASSPHRASE_NEEDED:
		return keel_refuse(
		    KEEL_ERR_AUTH, why, cap,
		    "the %s is encrypted and no passphrase (key-passphrase) was given", what);
	case KEEL_KEY_PASSPHRASE_WRONG:
		return keel_refuse(KEEL_ERR_AUTH, why, cap, "the %s's passphrase is wrong", what);
	case KEEL_KEY_NOT_A_KEY:
		return keel_refuse(KEEL_ERR_MALFORMED, why, cap,
		                   "the private key file holds no key Keel can read (PEM, DER or "
		                   "PKCS#12)");
	case KEEL_KEY_UNSUPPORTED_TYPE:
		return keel_refuse(KEEL_ERR_UNSUPPORTED, why, cap,
		                   "the private key is of a type Keel cannot sign with (RSA, ECDSA "
		                   "P-256/384/521, Ed25519 and Ed448 are supported)");
	case KEEL_KEY_UNSUPPORTED_CIPHER:
		return keel_refuse(
		    KEEL_ERR_UNSUPPORTED, why, cap,
		    "the PKCS#12 file is encrypted with a legacy cipher (such as RC2) "
		    "that OpenSSL 3 lacks by default; export it again with AES");
	case KEEL_KEY_NO_CERT:
		return keel_refuse(KEEL_ERR_MALFORMED, why, cap,
		                   "the PKCS#12 file holds no key with its certificate");
	case KEEL_KEY_OK:
		break;
	}
	return keel_refuse(rc, why, cap, "cannot load the private key: %s", keel_strerror(rc));
}

static int load_own(const struct keel_config *cfg, struct keel_creds *c, char *why, size_t cap)
{
	enum keel_key_reason reason = KEEL_KEY_OK;
	struct keel_certs *p12_chain = NULL;
	int rc;

	if (!cfg->key || keel_secret_len(cfg->key) <= 0)
		return keel_refuse(KEEL_ERR_INVAL, why, cap,
		                   "certificate authentication needs a private key (private-key)");
	const uint8_t *k = keel_secret_data(cfg->key);
	ptrdiff_t k_len = keel_secret_len(cfg->key);
	rc = keel_privkey_load(k, k_len, cfg->key_passphrase, &c->key, &reason);
	if (rc == KEEL_ERR_MALFORMED && reason == KEEL_KEY_NOT_A_KEY) {
		/* not PEM or DER key: perhaps a PKCS#12 file */
		enum keel_key_reason r12 = KEEL_KEY_OK;
		rc = keel_pkcs12_load(k, k_len, cfg->key_passphrase, &c->key, &p12_chain, &r12);
		if (rc < 0)
			return key_refusal(rc, r12 == KEEL_KEY_NOT_A_KEY ? reason : r12,
			                   r12 != KEEL_KEY_NOT_A_KEY, why, cap);
	} else if (rc < 0) {
		return key_refusal(rc, reason, false, why, cap);
	}

	if (cfg->cert && cfg->cert_len > 0) {
		keel_certs_free(p12_chain);
		p12_chain = NULL;
		c->chain = keel_certs_new();
		if (!c->chain)
			return KEEL_ERR_NOMEM;
		ptrdiff_t n = keel_certs_add(c->chain, cfg->cert, cfg->cert_len);
		if (n == KEEL_ERR_NOMEM)
			return (int)n;
		if (n < 0)
			return keel_refuse(
			    KEEL_ERR_MALFORMED, why, cap,
			    "the certificate (certificate) does not parse as PEM or DER");
	} else if (p12_chain) {
		c->chain = p12_chain;
		p12_chain = NULL;
	} else {
		return keel_refuse(
		    KEEL_ERR_INVAL, why, cap,
		    "certificate authentication needs our certificate (certificate)");
	}
	if (keel_certs_key_matches(c->chain, 0, c->key) < 0)
		return keel_refuse(KEEL_ERR_INVAL, why, cap,
		                   "the certificate does not belong to the private key");
	return 0;
}

int keel_creds_load_trust(const struct keel_config *cfg, struct keel_creds *c, char *why,
                          size_t cap)
{
	ptrdiff_t n;
	if (cfg->now_wall_s <= 0)
		return keel_refuse(KEEL_ERR_INVAL, why, cap,
		                   "the current time is needed to check the gateway's certificate");
	if (cfg->use_system_ca && (!cfg->system_ca || cfg->system_ca_len <= 0))
		return keel_refuse(KEEL_ERR_INVAL, why, cap,
		                   "the system CA store was asked for but not given");
	if (cfg->use_system_ca && cfg->remote_id.type == KEEL_ID_NONE)
		return keel_refuse(KEEL_ERR_INVAL, why, cap,
		                   "trusting the system CA store needs the gateway's identity "
		                   "(remote-id)");
	bool have_ca = cfg->ca && cfg->ca_len > 0;
	if (!have_ca && !cfg->use_system_ca) {
		if (cfg->auth == KEEL_AUTH_EAP && cfg->eap_only)
			return 0;
		return keel_refuse(
		    KEEL_ERR_INVAL, why, cap,
		    "no CA to verify the gateway's certificate with (ca, or the system "
		    "store)");
	}
	c->trust = keel_x509_trust_new();
	if (!c->trust)
		return KEEL_ERR_NOMEM;
	if (have_ca) {
		n = keel_x509_trust_add(c->trust, cfg->ca, cfg->ca_len);
		if (n == KEEL_ERR_NOMEM)
			return (int)n;
		if (n < 0)
			return keel_refuse(KEEL_ERR_MALFORMED, why, cap,
			                   "the CA certificate (ca) does not parse as PEM or DER");
		c->n_profile_ca = (size_t)n;
	}
	if (cfg->use_system_ca) {
		n = keel_x509_trust_add(c->trust, cfg->system_ca, cfg->system_ca_len);
		if (n == KEEL_ERR_NOMEM)
			return (int)n;
		if (n < 0)
			return keel_refuse(KEEL_ERR_MALFORMED, why, cap,
			                   "the system CA bundle does not parse as PEM");
	}
	if (cfg->crl && cfg->crl_len > 0) {
		n = keel_x509_trust_add_crl(c->trust, cfg->crl, cfg->crl_len);
		if (n == KEEL_ERR_NOMEM)
			return (int)n;
		if (n <= 0)
			return keel_refuse(KEEL_ERR_MALFORMED, why, cap,
			                   "the revocation list (crl) does not parse as a PEM or "
			                   "DER CRL");
	}
	return 0;
}

static int load_eap(const struct keel_config *cfg, struct keel_creds *c, char *why, size_t cap)
{
	if (!cfg->eap_password)
		return keel_refuse(KEEL_ERR_INVAL, why, cap, "EAP needs a password (password)");
	unsigned methods = cfg->eap_methods ? cfg->eap_methods : KEEL_EAP_METHODS_ALL;
	if ((methods & KEEL_EAP_METHODS_ALL) == 0 || (methods & ~KEEL_EAP_METHODS_ALL) != 0)
		return keel_refuse(KEEL_ERR_INVAL, why, cap, "no known EAP method is allowed");
	if (cfg->eap_only && !(methods & KEEL_EAP_METHOD_MSCHAPV2))
		return keel_refuse(
		    KEEL_ERR_INVAL, why, cap,
		    "EAP-only authentication needs EAP-MSCHAPv2, which is not allowed");
	c->eap_methods = methods;
	if (cfg->eap_identity) {
		size_t n = strlen(cfg->eap_identity);
		if (n == 0 || n > sizeof(c->eap_identity))
			return keel_refuse(KEEL_ERR_INVAL, why, cap,
			                   "the EAP user name (username) must be 1 to %zu bytes",
			                   sizeof(c->eap_identity));
		memcpy(c->eap_identity, cfg->eap_identity, n);
		c->eap_identity_len = n;
	} else {
		char text[KEEL_ID_MAX_LEN * 4 + 1];
		ptrdiff_t n = keel_id_to_text(&cfg->local_id, text, sizeof(text));
		if (cfg->local_id.type == KEEL_ID_NONE || n <= 0 ||
		    (size_t)n > sizeof(c->eap_identity))
			return keel_refuse(KEEL_ERR_INVAL, why, cap,
			                   "EAP needs a user name (username, or local-id)");
		memcpy(c->eap_identity, text, (size_t)n);
		c->eap_identity_len = (size_t)n;
	}
	c->eap_password = keel_secret_dup(cfg->eap_password);
	return c->eap_password ? 0 : KEEL_ERR_NOMEM;
}

int keel_creds_load(const struct keel_config *cfg, struct keel_creds *c, char *why, size_t cap)
{
	int rc = 0;
	memset(c, 0, sizeof(*c));
	if (why && cap > 0)
		why[0] = '\0';
	switch (cfg->auth) {
	case KEEL_AUTH_PSK:
		return 0;
	case KEEL_AUTH_CERT:
		rc = load_own(cfg, c, why, cap);
		break;
	case KEEL_AUTH_EAP:
		rc = load_eap(cfg, c, why, cap);
		break;
	}
	if (rc == 0)
		rc = keel_creds_load_trust(cfg, c, why, cap);
	if (rc == KEEL_ERR_NOMEM)
		keel_refuse(rc, why, cap, "out of memory");
	if (rc < 0)
		keel_creds_clear(c);
	return rc;
}

enum keel_reason keel_cert_reason(enum keel_x509_result r)
{
	switch (r) {
	case KEEL_X509_EXPIRED:
	case KEEL_X509_NOT_YET_VALID:
		return KEEL_REASON_CERT_EXPIRED;
	case KEEL_X509_BAD_KEY_USAGE:
		return KEEL_REASON_CERT_KEY_USAGE;
	case KEEL_X509_IDENTITY_MISMATCH:
		return KEEL_REASON_CERT_ID;
	case KEEL_X509_VERIFIED:
	case KEEL_X509_NO_CERT:
	case KEEL_X509_UNKNOWN_CA:
	case KEEL_X509_BAD_SIGNATURE:
	case KEEL_X509_REVOKED:
	case KEEL_X509_REVOCATION_UNKNOWN:
	case KEEL_X509_CHAIN_INVALID:
		break;
	}
	return KEEL_REASON_CERT_UNTRUSTED;
}

void keel_cert_failure_text(const struct keel_x509_verdict *v, char *buf, size_t cap)
{
	switch (v->result) {
	case KEEL_X509_IDENTITY_MISMATCH:
		snprintf(buf, cap,
		         "the gateway's certificate does not name the expected identity: "
		         "expected %s, the certificate names %s",
		         v->expected_id, v->presented_ids);
		return;
	case KEEL_X509_EXPIRED:
	case KEEL_X509_NOT_YET_VALID:
	case KEEL_X509_REVOKED:
		snprintf(buf, cap, "%s %s (%s): %s%s",
		         v->depth > 0 ? "a CA certificate of the gateway's chain"
		                      : "the gateway's certificate",
		         v->result == KEEL_X509_EXPIRED   ? "has expired"
		         : v->result == KEEL_X509_REVOKED ? "has been revoked"
		                                          : "is not yet valid",
		         v->subject, v->detail,
		         v->result == KEEL_X509_REVOKED ? "" : "; check the clock");
		return;
	case KEEL_X509_UNKNOWN_CA:
		snprintf(buf, cap,
		         "the gateway's certificate is not trusted: it does not chain to a "
		         "CA this profile trusts (unknown CA; %s: %s)",
		         v->subject, v->detail);
		return;
	case KEEL_X509_BAD_KEY_USAGE:
		snprintf(buf, cap, "the gateway's certificate is not for IKE: %s (%s)", v->detail,
		         v->subject);
		return;
	case KEEL_X509_NO_CERT:
		snprintf(buf, cap, "the gateway sent no certificate");
		return;
	case KEEL_X509_REVOCATION_UNKNOWN:
		snprintf(buf, cap,
		         "the gateway's certificate is not trusted: the revocation lists (crl) "
		         "have no valid CRL from the CA of %s (%s)",
		         v->subject, v->detail);
		return;
	case KEEL_X509_VERIFIED:
	case KEEL_X509_BAD_SIGNATURE:
	case KEEL_X509_CHAIN_INVALID:
		break;
	}
	snprintf(buf, cap, "the gateway's certificate is not trusted: %s (%s: %s)",
	         keel_x509_result_text(v->result), v->subject, v->detail);
}

int keel_cert_verify_gateway(const struct keel_creds *c, const struct keel_config *cfg,
                             const struct keel_certs *certs, const struct keel_x509_id *claimed,
                             struct keel_x509_verdict *v, struct keel_pubkey **key,
                             enum keel_reason *reason, char *why, size_t cap)
{
	struct keel_pubkey *k = NULL;
	char peer[256];
	keel_x509_id_format(claimed, peer, sizeof(peer));
	/* the identity the certificate must name: the one we expect, else the one it claims */
	struct keel_x509_id want = *claimed;
	if (cfg->remote_id.type != KEEL_ID_NONE)
		want = (struct keel_x509_id){.type = (uint8_t)cfg->remote_id.type,
		                             .data = cfg->remote_id.data,
		                             .len = cfg->remote_id.len};
	int rc = keel_x509_verify(c->trust, certs, &want, cfg->now_wall_s, v, &k);
	if (rc == KEEL_ERR_AUTH) {
		*reason = keel_cert_reason(v->result);
		keel_cert_failure_text(v, why, cap);
		return rc;
	}
	if (rc < 0) {
		*reason = rc == KEEL_ERR_UNSUPPORTED ? KEEL_REASON_PEER_AUTH : KEEL_REASON_INTERNAL;
		return keel_refuse(
		    rc, why, cap, "cannot verify the gateway's certificate (%s): %s", v->subject,
		    rc == KEEL_ERR_UNSUPPORTED ? "a key type Keel cannot use" : keel_strerror(rc));
	}
	/* an identity other than the expected one must be named by the certificate too */
	bool same = want.type == claimed->type && want.len == claimed->len &&
	            memcmp(want.data, claimed->data, (size_t)want.len) == 0;
	if (!same && keel_x509_match_id(certs, 0, claimed) < 0) {
		char names[KEEL_X509_TEXT_LEN], expected[256];
		keel_certs_describe(certs, 0, names, sizeof(names));
		keel_x509_id_format(&want, expected, sizeof(expected));
		keel_pubkey_free(k);
		*reason = KEEL_REASON_CERT_ID;
		return keel_refuse(
		    KEEL_ERR_AUTH, why, cap,
		    "the gateway identified itself as %s, which its certificate does "
		    "not name: expected %s, the certificate names %s",
		    peer, expected, names);
	}
	*key = k;
	return 0;
}
