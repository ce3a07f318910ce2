/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The credentials of an IKEv2 SA, parsed once by keel_sa_new(): our private
 * key and certificate chain (RFC 7296 §2.15 signatures), the trust anchors
 * that the gateway's certificate must chain to, the EAP identity and
 * password (§2.16); and the AUTH payloads made and checked with them.
 */
#ifndef KEEL_IKEV2_AUTH_H
#define KEEL_IKEV2_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/config.h>
#include <keel/ike.h>
#include <keel/secret.h>

#include "crypto/sig.h"
#include "crypto/x509.h"

#define KEEL_EAP_IDENTITY_MAX_LEN 253

struct keel_creds {
	struct keel_privkey *key;      /* KEEL_AUTH_CERT: ours */
	struct keel_certs *chain;      /* KEEL_AUTH_CERT: ours, end entity first */
	struct keel_x509_trust *trust; /* the gateway's anchors; NULL: none (EAP-only) */
	size_t n_profile_ca;           /* anchors from cfg->ca: the first ones in trust */
	uint8_t eap_identity[KEEL_EAP_IDENTITY_MAX_LEN];
	size_t eap_identity_len;
	struct keel_secret *eap_password;
	unsigned eap_methods; /* KEEL_EAP_METHOD_*, never 0 */
};

/*
 * Parses the credentials cfg->auth needs into c (zeroed first) and checks
 * them; on error c is left empty and why (may be NULL) gets a sentence for
 * the user. Errors as keel_sa_new().
 */
int keel_creds_load(const struct keel_config *cfg, struct keel_creds *c, char *why, size_t cap);

/* Frees and wipes what c holds; c is empty and reusable. */
void keel_creds_clear(struct keel_creds *c);

/* What a failed certificate verification means for the user. */
enum keel_reason keel_cert_reason(enum keel_x509_result r);

#endif
