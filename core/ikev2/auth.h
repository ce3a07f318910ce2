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

/*
 * Writes the reason (printf-style) into why (cap bytes; why may be NULL)
 * and returns rc: for functions that return an error and say why.
 */
int keel_refuse(int rc, char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

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

/*
 * The trust anchors alone (cfg->ca, the system store) into c->trust, after
 * checking cfg->now_wall_s: for peers that prove themselves with a
 * certificate while we do not (IKEv1 hybrid). Errors and why as
 * keel_creds_load(); on error c->trust may be set: keel_creds_clear() it.
 */
int keel_creds_load_trust(const struct keel_config *cfg, struct keel_creds *c, char *why,
                          size_t cap);

/* One sentence for a failed verdict: what was wrong, expected vs presented. */
void keel_cert_failure_text(const struct keel_x509_verdict *v, char *buf, size_t cap);

/*
 * Verifies the gateway's certificates (certs[0] its own, the rest to build
 * the path) with c->trust at cfg->now_wall_s for the identity it claimed in
 * its ID payload and the one we expect (cfg->remote_id; NONE: the claimed
 * one): the certificate must name the expected identity, and the claimed
 * one too when they differ. 0 and *key (caller frees) when it passed;
 * otherwise *reason and why (a sentence naming expected and presented)
 * are written: KEEL_ERR_AUTH, KEEL_ERR_UNSUPPORTED (a key type Keel cannot
 * use), KEEL_ERR_NOMEM. *v is written in every case.
 */
int keel_cert_verify_gateway(const struct keel_creds *c, const struct keel_config *cfg,
                             const struct keel_certs *certs, const struct keel_x509_id *claimed,
                             struct keel_x509_verdict *v, struct keel_pubkey **key,
                             enum keel_reason *reason, char *why, size_t cap);

#endif
