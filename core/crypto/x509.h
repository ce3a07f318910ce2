/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * X.509 certificates for IKE: parsing our own and the peer's certificates,
 * verifying the gateway's chain to trust anchors at a given time, its key
 * usage and its identity, PKCS#12, and the contents of CERT and CERTREQ
 * payloads (RFC 7296 §3.6, §3.7; RFC 4945 for the rules of the IKE PKI
 * profile).
 *
 * Nothing here reads files or the clock: the platform hands the bytes of
 * certificate files and trust stores, and the caller passes the wall-clock
 * time for validity checks.
 *
 * Verification (keel_x509_verify()), in this order:
 *  1. The chain: the peer's certificate, the certificates it sent, up to a
 *     trust anchor, with signatures, validity at now_s, CA basic constraints,
 *     path length and CA key usage (OpenSSL's X509_verify_cert). A trust
 *     anchor need not be self-signed (X509_V_FLAG_PARTIAL_CHAIN): a profile
 *     may name an intermediate CA as the one it trusts. Keys under 80 bits of
 *     security and MD5 signatures are refused (security level 1).
 *  2. Revocation: only against CRLs the caller added to the trust store
 *     (keel_x509_trust_add_crl()); Keel never fetches CRLs or asks OCSP. With
 *     no CRLs the verdict says revocation_checked = false.
 *  3. The peer's certificate's key usage (RFC 4945 §5.1.3.2): if the
 *     keyUsage extension is present, digitalSignature or nonRepudiation must
 *     be set. Extended key usage (RFC 4945 §5.1.3.12, and what gateways use
 *     in practice): if the extension is present it must contain serverAuth,
 *     id-kp-ipsecIKE (1.3.6.1.5.5.7.3.17), anyExtendedKeyUsage or Microsoft's
 *     IP security IKE intermediate (1.3.6.1.5.5.8.2.2); a certificate only
 *     for clientAuth or e-mail is refused.
 *  4. The identity (keel_x509_match_id()).
 *
 * Identity rules (RFC 4945 §3.1), for the expected IKE identity:
 *  - FQDN: a subjectAltName dNSName equal to it (ASCII case-insensitive, no
 *    wildcards); RFC822_ADDR: an rfc822Name equal to it (case-insensitive);
 *    IPV4_ADDR / IPV6_ADDR: an iPAddress of the same bytes.
 *  - If the certificate has no subjectAltName extension at all, the subject
 *    DN stands in: FQDN and IP addresses are compared with the subject's
 *    commonName (an address as its text form), RFC822_ADDR with its
 *    emailAddress or commonName.
 *  - DER_ASN1_DN: equal to the subject DN (X509_NAME_cmp: canonical
 *    comparison, case- and whitespace-insensitive for strings).
 *  - Other types (KEY_ID, DER_ASN1_GN, NULL) never match a certificate.
 */
#ifndef KEEL_CRYPTO_X509_H
#define KEEL_CRYPTO_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/err.h>
#include <keel/secret.h>

#include "crypto/sig.h"

/* ---- certificate lists -------------------------------------------------- */

/*
 * An ordered list of parsed certificates: our own chain (end entity first),
 * what the peer sent, or any set of certificates.
 */
struct keel_certs;

/* A new empty list; NULL on ENOMEM. */
struct keel_certs *keel_certs_new(void);
/* Frees the list and its certificates. NULL is fine. */
void keel_certs_free(struct keel_certs *c);

/*
 * Appends the certificates in data: every CERTIFICATE block of PEM text
 * (other blocks, such as keys, are skipped), or one DER certificate. Returns
 * the number added (at least 1). KEEL_ERR_MALFORMED when there is none or a
 * certificate does not parse (nothing is then added), KEEL_ERR_NOMEM.
 */
ptrdiff_t keel_certs_add(struct keel_certs *c, const uint8_t *data, ptrdiff_t len);

/*
 * Appends the certificate of a received CERT payload (RFC 7296 §3.6).
 * Encoding 4 (X.509 Certificate - Signature): the DER certificate.
 * KEEL_ERR_UNSUPPORTED for other encodings (hash and URL needs fetching,
 * which Keel does not do), KEEL_ERR_MALFORMED, KEEL_ERR_NOMEM.
 */
int keel_certs_add_payload(struct keel_certs *c, uint8_t encoding, const uint8_t *data,
                           ptrdiff_t len);

size_t keel_certs_count(const struct keel_certs *c);

/*
 * The DER of certificate i, borrowed while c lives: the data of a CERT
 * payload with encoding 4 (KEEL_V2_CERT_X509_SIGNATURE). KEEL_ERR_INVAL for
 * an index out of range.
 */
int keel_certs_der(const struct keel_certs *c, size_t i, const uint8_t **der, ptrdiff_t *len);

/*
 * The DER of certificate i's subject Name, borrowed while c lives: the data of
 * an ID payload of type DER_ASN1_DN naming ourselves.
 */
int keel_certs_subject_der(const struct keel_certs *c, size_t i, const uint8_t **der,
                           ptrdiff_t *len);

/*
 * A one-line description of certificate i for logs and messages:
 * subject DN and subjectAltNames, peer text escaped ("C=XX, O=Keel Lab,
 * CN=gw.keel.test; DNS:gw.keel.test, IP:192.0.2.1"). Truncated to fit cap
 * (always NUL-terminated when cap > 0). Returns the length written.
 */
ptrdiff_t keel_certs_describe(const struct keel_certs *c, size_t i, char *buf, ptrdiff_t cap);

/* 0 if certificate i holds the public half of key, KEEL_ERR_AUTH if not. */
int keel_certs_key_matches(const struct keel_certs *c, size_t i, const struct keel_privkey *key);

/*
 * RFC 7296 §3.7: does our chain lead to a CA the peer asked for? certreq is
 * the data of one or more CERTREQ payloads with encoding 4 (concatenated
 * 20-byte SHA-1 hashes of CA SubjectPublicKeyInfos). *send_count is set to
 * the number of certificates to send from chain[0] on: up to, not including,
 * the first one whose key the peer listed (it has that CA), or all of them
 * when none matched. Returns 1 when a requested CA was found, 0 when not,
 * KEEL_ERR_MALFORMED when certreq_len is not a multiple of 20. Only CAs
 * carried in the chain can match: include the root in it (PKCS#12 files
 * usually do) to learn whether the peer asked for it.
 */
int keel_certs_certreq_match(const struct keel_certs *chain, const uint8_t *certreq,
                             ptrdiff_t certreq_len, size_t *send_count);

/* ---- trust anchors ------------------------------------------------------ */

/*
 * Trust anchors (a profile's CA certificates, or the system store that the
 * platform read), optional intermediates and CRLs.
 */
struct keel_x509_trust;

struct keel_x509_trust *keel_x509_trust_new(void);
void keel_x509_trust_free(struct keel_x509_trust *t);

/*
 * Adds trust anchors: PEM text (every CERTIFICATE / TRUSTED CERTIFICATE
 * block) or one DER certificate. Returns the number added; errors as
 * keel_certs_add().
 */
ptrdiff_t keel_x509_trust_add(struct keel_x509_trust *t, const uint8_t *data, ptrdiff_t len);

/*
 * Adds CRLs (PEM: every X509 CRL block; or one DER CRL) and turns on
 * revocation checking for every certificate of a chain: a chain whose CA
 * has no CRL here then fails with KEEL_X509_REVOCATION_UNKNOWN.
 * Returns the number added; KEEL_ERR_MALFORMED, KEEL_ERR_NOMEM.
 */
ptrdiff_t keel_x509_trust_add_crl(struct keel_x509_trust *t, const uint8_t *data, ptrdiff_t len);

size_t keel_x509_trust_count(const struct keel_x509_trust *t);

/*
 * The data of our CERTREQ payload with encoding 4 (RFC 7296 §3.7): the SHA-1
 * hash of each trust anchor's SubjectPublicKeyInfo, 20 bytes each, in order
 * of addition. Returns the byte count; KEEL_ERR_NOBUF.
 */
ptrdiff_t keel_x509_trust_certreq(const struct keel_x509_trust *t, uint8_t *out, ptrdiff_t cap);

/*
 * The DER subject Name of trust anchor i, borrowed while t lives: the data of
 * an IKEv1 CERTREQ (RFC 2408 §3.10, Certificate Authority = the CA's DN).
 */
int keel_x509_trust_subject_der(const struct keel_x509_trust *t, size_t i, const uint8_t **der,
                                ptrdiff_t *len);

/* ---- verification ------------------------------------------------------- */

/* An IKE identity (ID payload type and data). */
struct keel_x509_id {
	uint8_t type; /* enum keel_v2_id_type; the IKEv1 DOI uses the same numbers */
	const uint8_t *data;
	ptrdiff_t len;
};

enum keel_x509_result {
	KEEL_X509_VERIFIED = 0,
	KEEL_X509_NO_CERT,            /* the peer sent no certificate */
	KEEL_X509_UNKNOWN_CA,         /* no path to a trust anchor */
	KEEL_X509_EXPIRED,            /* a certificate of the chain, after notAfter */
	KEEL_X509_NOT_YET_VALID,      /* before notBefore */
	KEEL_X509_BAD_SIGNATURE,      /* a certificate's signature does not verify */
	KEEL_X509_REVOKED,            /* listed in a CRL the caller gave */
	KEEL_X509_REVOCATION_UNKNOWN, /* CRLs were given, but none for a CA of the chain */
	KEEL_X509_BAD_KEY_USAGE,      /* keyUsage / extendedKeyUsage rules above */
	KEEL_X509_IDENTITY_MISMATCH,  /* the certificate is not for the expected identity */
	KEEL_X509_CHAIN_INVALID,      /* anything else: CA flags, path length, weak key, ... */
};

/* Static English text of a result ("certificate expired", ...); never NULL. */
const char *keel_x509_result_text(enum keel_x509_result r);

#define KEEL_X509_TEXT_LEN 256

/* What keel_x509_verify() found, for the user and the log. Texts are
 * NUL-terminated, peer-supplied characters escaped. */
struct keel_x509_verdict {
	enum keel_x509_result result;
	bool revocation_checked;          /* CRLs were given and every CA of the chain had one */
	int depth;                        /* chain position at fault (0: the peer's own), -1 none */
	char subject[KEEL_X509_TEXT_LEN]; /* the certificate at fault (or the peer's) */
	char detail[KEEL_X509_TEXT_LEN];  /* validity dates, OpenSSL's reason, ... */
	char expected_id[KEEL_X509_TEXT_LEN];   /* IDENTITY_MISMATCH: what we wanted */
	char presented_ids[KEEL_X509_TEXT_LEN]; /* ... and what the certificate names */
};

/*
 * Verifies the peer's certificate peer[0], with peer[1..] as untrusted
 * intermediates, against t at wall-clock time now_s (seconds since the Unix
 * epoch, UTC) and for the identity id (required: the gateway's expected
 * identity, e.g. the IDr it sent once that matched the profile).
 *
 * Returns 0 only when every check passed: then *verdict says
 * KEEL_X509_VERIFIED and *key holds the peer's public key (caller frees with
 * keel_pubkey_free()), the only way to get one for keel_sig_auth_verify().
 * KEEL_ERR_AUTH when a check failed: *verdict says which; *key untouched.
 * KEEL_ERR_INVAL (NULL arguments), KEEL_ERR_NOMEM, KEEL_ERR_UNSUPPORTED (a
 * key type Keel cannot use) otherwise. *verdict is written in every case.
 */
int keel_x509_verify(const struct keel_x509_trust *t, const struct keel_certs *peer,
                     const struct keel_x509_id *id, int64_t now_s,
                     struct keel_x509_verdict *verdict, struct keel_pubkey **key);

/* 0 if certificate i matches id under the rules above, KEEL_ERR_AUTH if not. */
int keel_x509_match_id(const struct keel_certs *c, size_t i, const struct keel_x509_id *id);

/*
 * An identity as text for messages: "FQDN gw.keel.test", "IPv4 192.0.2.1",
 * "email alice@keel.test", "DN C=XX, O=Keel Lab, CN=gw.keel.test", ...
 * Truncated, always NUL-terminated when cap > 0; returns the length written.
 */
ptrdiff_t keel_x509_id_format(const struct keel_x509_id *id, char *buf, ptrdiff_t cap);

/* ---- PKCS#12 ------------------------------------------------------------ */

/*
 * Loads a PKCS#12 file (data, len bytes): the private key, its certificate
 * and any other certificates. On success *key and *chain are set (caller
 * frees); the chain has the key's certificate first. passphrase may be NULL
 * (for files with an empty or no password). *reason (may be NULL) is always
 * written. Errors: KEEL_ERR_AUTH (PASSPHRASE_NEEDED, PASSPHRASE_WRONG: the MAC
 * does not verify), KEEL_ERR_MALFORMED (NOT_A_KEY: not PKCS#12; NO_CERT),
 * KEEL_ERR_UNSUPPORTED (UNSUPPORTED_CIPHER: legacy encryption such as RC2-40
 * that OpenSSL 3's default provider lacks; UNSUPPORTED_TYPE), KEEL_ERR_INVAL
 * (a passphrase with a NUL byte), KEEL_ERR_NOMEM.
 */
int keel_pkcs12_load(const uint8_t *data, ptrdiff_t len, const struct keel_secret *passphrase,
                     struct keel_privkey **key, struct keel_certs **chain,
                     enum keel_key_reason *reason);

#endif
