/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Certificates (core/crypto/x509.c) with the lab PKI of
 * tests/vectors/strongswan/pki/ and certificates made here, signed by the lab
 * CA: each verification result (verified, unknown CA, expired, not yet valid,
 * bad signature, revoked, revocation unknown, key usage, identity mismatch
 * for FQDN, IP, email and DN, the subject-DN fallback without
 * subjectAltName), CERTREQ hashes against the one strongSwan sent, CERT
 * payloads, PKCS#12 with right and wrong passphrases.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "crypto/sig.h"
#include "crypto/x509.h"
#include "fixture-auth.h"

/* 2026-11-23T14:02:10Z, when the lab certificates are valid */
#define T_LAB ((int64_t)1795442530)
#define DAY   ((int64_t)86400)

static struct keel_certs *certs_of(const char *const *files, size_t n)
{
	struct keel_certs *c = keel_certs_new();
	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint8_t *d = fx_pki(files[i], &len);
		CHECK(keel_certs_add(c, d, (ptrdiff_t)len) == 1);
		free(d);
	}
	return c;
}

static struct keel_x509_trust *trust_of(const char *file)
{
	struct keel_x509_trust *t = keel_x509_trust_new();
	size_t len;
	uint8_t *d = fx_pki(file, &len);
	CHECK(keel_x509_trust_add(t, d, (ptrdiff_t)len) == 1);
	free(d);
	return t;
}

static struct keel_privkey *lab_key(const char *file)
{
	size_t len;
	uint8_t *d = fx_pki(file, &len);
	struct keel_privkey *k = NULL;
	CHECK_INT(keel_privkey_load(d, (ptrdiff_t)len, NULL, &k, NULL), 0);
	free(d);
	return k;
}

static struct keel_x509_id fqdn(const char *s)
{
	return (struct keel_x509_id){2, (const uint8_t *)s, (ptrdiff_t)strlen(s)};
}

static struct keel_x509_id ipv4(const uint8_t *a)
{
	return (struct keel_x509_id){1, a, 4};
}

static struct keel_x509_id email(const char *s)
{
	return (struct keel_x509_id){3, (const uint8_t *)s, (ptrdiff_t)strlen(s)};
}

/* Runs keel_x509_verify and checks the result; returns the verdict. */
static struct keel_x509_verdict verify(const struct keel_x509_trust *t,
                                       const struct keel_certs *peer, const struct keel_x509_id *id,
                                       int64_t now, enum keel_x509_result want, int line)
{
	struct keel_x509_verdict v;
	struct keel_pubkey *key = NULL;
	int rc = keel_x509_verify(t, peer, id, now, &v, &key);
	if (v.result != want)
		fprintf(stderr, "line %d: result %d (%s: %s; %s)\n", line, v.result,
		        keel_x509_result_text(v.result), v.detail, v.subject);
	CHECK_INT(v.result, want);
	CHECK_INT(rc, want == KEEL_X509_VERIFIED ? 0 : KEEL_ERR_AUTH);
	CHECK((key != NULL) == (want == KEEL_X509_VERIFIED));
	keel_pubkey_free(key);
	return v;
}

static void test_lab_chains(void)
{
	static const uint8_t gw_ip[4] = {192, 0, 2, 1}, wrong_ip[4] = {192, 0, 2, 99};
	struct keel_x509_trust *ca = trust_of("ca.pem");
	struct keel_x509_id gw = fqdn("gw.keel.test"), ip = ipv4(gw_ip);
	struct keel_x509_verdict v;

	const char *rsa[] = {"gw-rsa.pem"};
	struct keel_certs *c = certs_of(rsa, 1);
	struct keel_pubkey *key = NULL;
	CHECK_INT(keel_x509_verify(ca, c, &gw, T_LAB, &v, &key), 0);
	CHECK_INT(v.result, KEEL_X509_VERIFIED);
	CHECK(!v.revocation_checked);
	CHECK(key && keel_pubkey_type(key) == KEEL_KEY_RSA && keel_pubkey_bits(key) == 3072);
	keel_pubkey_free(key);
	verify(ca, c, &ip, T_LAB, KEEL_X509_VERIFIED, __LINE__);
	struct keel_x509_id upper = fqdn("GW.Keel.Test");
	verify(ca, c, &upper, T_LAB, KEEL_X509_VERIFIED, __LINE__);
	/* the subject DN as a DER_ASN1_DN identity */
	const uint8_t *dn;
	ptrdiff_t dn_len;
	CHECK_INT(keel_certs_subject_der(c, 0, &dn, &dn_len), 0);
	struct keel_x509_id der_dn = {9, dn, dn_len};
	verify(ca, c, &der_dn, T_LAB, KEEL_X509_VERIFIED, __LINE__);
	/* the validity window, with the time passed in */
	v = verify(ca, c, &gw, T_LAB - 2 * DAY, KEEL_X509_NOT_YET_VALID, __LINE__);
	CHECK(strstr(v.detail, "valid from Nov 23 13:55:16 2026 GMT") != NULL);
	verify(ca, c, &gw, T_LAB + 3 * 365 * DAY, KEEL_X509_EXPIRED, __LINE__);
	/* a wrong host name, address, DN */
	struct keel_x509_id other = fqdn("vpn.keel.test"), gw_prefix = fqdn("gw.keel.tes");
	v = verify(ca, c, &other, T_LAB, KEEL_X509_IDENTITY_MISMATCH, __LINE__);
	CHECK(strcmp(v.expected_id, "FQDN vpn.keel.test") == 0);
	CHECK(strcmp(v.presented_ids,
	             "C=XX, O=Keel Lab, CN=gw.keel.test; DNS:gw.keel.test, IP:192.0.2.1") == 0);
	verify(ca, c, &gw_prefix, T_LAB, KEEL_X509_IDENTITY_MISMATCH, __LINE__);
	struct keel_x509_id wip = ipv4(wrong_ip);
	v = verify(ca, c, &wip, T_LAB, KEEL_X509_IDENTITY_MISMATCH, __LINE__);
	CHECK(strcmp(v.expected_id, "IPv4 192.0.2.99") == 0);
	struct keel_x509_id as_email = email("gw.keel.test");
	verify(ca, c, &as_email, T_LAB, KEEL_X509_IDENTITY_MISMATCH, __LINE__);
	const char *alice_file[] = {"alice.pem"};
	struct keel_certs *alice = certs_of(alice_file, 1);
	CHECK_INT(keel_certs_subject_der(alice, 0, &dn, &dn_len), 0);
	struct keel_x509_id alice_dn = {9, dn, dn_len};
	v = verify(ca, c, &alice_dn, T_LAB, KEEL_X509_IDENTITY_MISMATCH, __LINE__);
	CHECK(strcmp(v.expected_id, "DN C=XX, O=Keel Lab, CN=alice@keel.test") == 0);
	/* a malformed DN never matches */
	struct keel_x509_id bad_dn = {9, (const uint8_t *)"\x30\x05", 2};
	verify(ca, c, &bad_dn, T_LAB, KEEL_X509_IDENTITY_MISMATCH, __LINE__);

	/* the client's certificate: e-mail identity, but only for clientAuth */
	struct keel_x509_id alice_id = email("alice@keel.test"),
	                    alice_up = email("ALICE@keel.test");
	CHECK_INT(keel_x509_match_id(alice, 0, &alice_id), 0);
	CHECK_INT(keel_x509_match_id(alice, 0, &alice_up), 0);
	struct keel_x509_id bob = email("bob@keel.test");
	CHECK_INT(keel_x509_match_id(alice, 0, &bob), KEEL_ERR_AUTH);
	v = verify(ca, alice, &alice_id, T_LAB, KEEL_X509_BAD_KEY_USAGE, __LINE__);
	CHECK(strstr(v.detail, "extendedKeyUsage") != NULL);
	keel_certs_free(alice);
	keel_certs_free(c);

	/* the gateway's ECDSA certificate via the intermediate it sends */
	const char *ec_chain[] = {"gw-ecdsa.pem", "int.pem"};
	c = certs_of(ec_chain, 2);
	key = NULL;
	CHECK_INT(keel_x509_verify(ca, c, &gw, T_LAB, &v, &key), 0);
	CHECK(key && keel_pubkey_type(key) == KEEL_KEY_EC_P256);
	keel_pubkey_free(key);
	keel_certs_free(c);
	c = certs_of(ec_chain, 1); /* without the intermediate */
	v = verify(ca, c, &gw, T_LAB, KEEL_X509_UNKNOWN_CA, __LINE__);
	CHECK(strstr(v.subject, "CN=gw.keel.test") != NULL);
	/* the intermediate as the profile's trust anchor: enough */
	struct keel_x509_trust *int_only = trust_of("int.pem");
	verify(int_only, c, &gw, T_LAB, KEEL_X509_VERIFIED, __LINE__);
	keel_x509_trust_free(int_only);
	keel_certs_free(c);

	const char *unknown[] = {"gw-unknown.pem"};
	c = certs_of(unknown, 1);
	verify(ca, c, &gw, T_LAB, KEEL_X509_UNKNOWN_CA, __LINE__);
	struct keel_x509_trust *uca = trust_of("unknown-ca.pem");
	verify(uca, c, &gw, T_LAB, KEEL_X509_VERIFIED, __LINE__);
	keel_x509_trust_free(uca);
	keel_certs_free(c);

	const char *expired[] = {"gw-expired.pem"};
	c = certs_of(expired, 1);
	v = verify(ca, c, &gw, T_LAB, KEEL_X509_EXPIRED, __LINE__);
	CHECK(strstr(v.detail, "until Nov 23 13:55:16 2025 GMT") != NULL);
	CHECK_INT(v.depth, 0);
	/* while it was valid, the CA was not yet: the fault is at depth 1 */
	v = verify(ca, c, &gw, T_LAB - 365 * DAY, KEEL_X509_NOT_YET_VALID, __LINE__);
	CHECK_INT(v.depth, 1);
	CHECK(strstr(v.subject, "CN=Keel Lab Root CA") != NULL);
	keel_certs_free(c);

	const char *wrongid[] = {"gw-wrongid.pem"};
	c = certs_of(wrongid, 1);
	v = verify(ca, c, &gw, T_LAB, KEEL_X509_IDENTITY_MISMATCH, __LINE__);
	CHECK(strstr(v.presented_ids, "DNS:wrong.keel.test, IP:192.0.2.99") != NULL);
	verify(ca, c, &ip, T_LAB, KEEL_X509_IDENTITY_MISMATCH, __LINE__);
	verify(ca, c, &wip, T_LAB, KEEL_X509_VERIFIED, __LINE__);
	keel_certs_free(c);

	/* nothing sent; bad arguments */
	c = keel_certs_new();
	verify(ca, c, &gw, T_LAB, KEEL_X509_NO_CERT, __LINE__);
	key = NULL;
	CHECK_INT(keel_x509_verify(ca, c, NULL, T_LAB, &v, &key), KEEL_ERR_INVAL);
	keel_certs_free(c);

	/* a certificate whose signature was tampered with */
	c = certs_of(rsa, 1);
	const uint8_t *der;
	ptrdiff_t der_len;
	keel_certs_der(c, 0, &der, &der_len);
	uint8_t *bad = malloc((size_t)der_len);
	memcpy(bad, der, (size_t)der_len);
	bad[der_len - 10] ^= 0x55;
	struct keel_certs *b = keel_certs_new();
	CHECK_INT(keel_certs_add_payload(b, 4, bad, der_len), 0);
	verify(ca, b, &gw, T_LAB, KEEL_X509_BAD_SIGNATURE, __LINE__);
	keel_certs_free(b);
	free(bad);
	keel_certs_free(c);
	keel_x509_trust_free(ca);
}

/* ---- certificates made here ---------------------------------------------- */

struct issuer {
	X509 *cert;
	EVP_PKEY *key;
};

static ASN1_TIME *at(int64_t t)
{
	return ASN1_TIME_set(NULL, (time_t)t);
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	CHECK(ext != NULL);
	if (ext)
		X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
}

/* A certificate for the key `subject` (or a new P-256 key), signed by is. */
static struct keel_certs *make(const struct issuer *is, const char *cn, const char *san,
                               const char *ku, const char *eku, long serial)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME *name = X509_NAME_new();
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Keel Test", -1,
	                           -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, X509_get_subject_name(is->cert));
	ASN1_TIME *nb = at(T_LAB - DAY), *na = at(T_LAB + 30 * DAY);
	X509_set1_notBefore(x, nb);
	X509_set1_notAfter(x, na);
	X509_set_pubkey(x, key);
	if (san)
		add_ext(x, is->cert, NID_subject_alt_name, san);
	if (ku)
		add_ext(x, is->cert, NID_key_usage, ku);
	if (eku)
		add_ext(x, is->cert, NID_ext_key_usage, eku);
	CHECK(X509_sign(x, is->key, EVP_sha256()) > 0);
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	struct keel_certs *c = keel_certs_new();
	CHECK(keel_certs_add(c, der, len) == 1);
	OPENSSL_free(der);
	ASN1_TIME_free(nb);
	ASN1_TIME_free(na);
	X509_NAME_free(name);
	X509_free(x);
	EVP_PKEY_free(key);
	return c;
}

static void test_made_certs(void)
{
	struct keel_x509_trust *ca = trust_of("ca.pem");
	struct keel_privkey *ca_key = lab_key("ca.key");
	size_t len;
	uint8_t *ca_pem = fx_pki("ca.pem", &len);
	struct keel_certs *ca_certs = keel_certs_new();
	keel_certs_add(ca_certs, ca_pem, (ptrdiff_t)len);
	const uint8_t *der;
	ptrdiff_t der_len;
	keel_certs_der(ca_certs, 0, &der, &der_len);
	const unsigned char *p = der;
	struct issuer is = {d2i_X509(NULL, &p, der_len), ca_key ? keel_privkey_evp(ca_key) : NULL};
	if (!is.cert || !is.key)
		goto out;

	struct keel_x509_id vpn = fqdn("vpn.example.org"), other = fqdn("other.example.org");
	struct keel_certs *c;
	/* no subjectAltName: the subject's CN stands in */
	c = make(&is, "vpn.example.org", NULL, NULL, NULL, 101);
	verify(ca, c, &vpn, T_LAB, KEEL_X509_VERIFIED, __LINE__);
	verify(ca, c, &other, T_LAB, KEEL_X509_IDENTITY_MISMATCH, __LINE__);
	keel_certs_free(c);
	/* ... but not when there is one */
	c = make(&is, "vpn.example.org", "DNS:other.example.org", NULL, NULL, 102);
	verify(ca, c, &vpn, T_LAB, KEEL_X509_IDENTITY_MISMATCH, __LINE__);
	verify(ca, c, &other, T_LAB, KEEL_X509_VERIFIED, __LINE__);
	keel_certs_free(c);
	/* an address in the CN; an e-mail address in the CN */
	static const uint8_t addr[4] = {198, 51, 100, 7};
	struct keel_x509_id ip = ipv4(addr);
	c = make(&is, "198.51.100.7", NULL, NULL, NULL, 103);
	verify(ca, c, &ip, T_LAB, KEEL_X509_VERIFIED, __LINE__);
	keel_certs_free(c);
	struct keel_x509_id carol = email("carol@example.org");
	c = make(&is, "carol@example.org", NULL, NULL, NULL, 104);
	CHECK_INT(keel_x509_match_id(c, 0, &carol), 0);
	keel_certs_free(c);
	/* IPv6 and e-mail subjectAltNames */
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	struct keel_x509_id ip6 = {5, v6, 16};
	c = make(&is, "gw6", "IP:2001:db8::1, email:gw@example.org", NULL, NULL, 105);
	verify(ca, c, &ip6, T_LAB, KEEL_X509_VERIFIED, __LINE__);
	struct keel_x509_id gw_mail = email("gw@example.org");
	verify(ca, c, &gw_mail, T_LAB, KEEL_X509_VERIFIED, __LINE__);
	char text[128];
	keel_x509_id_format(&ip6, text, sizeof(text));
	CHECK(strcmp(text, "IPv6 2001:db8:0:0:0:0:0:1") == 0);
	keel_certs_free(c);

	/* key usage (RFC 4945 §5.1.3.2) and extended key usage */
	static const struct {
		const char *ku, *eku;
		enum keel_x509_result want;
	} usage[] = {
	    {"digitalSignature", NULL, KEEL_X509_VERIFIED},
	    {"nonRepudiation", NULL, KEEL_X509_VERIFIED},
	    {"keyEncipherment", NULL, KEEL_X509_BAD_KEY_USAGE},
	    {NULL, "serverAuth", KEEL_X509_VERIFIED},
	    {NULL, "1.3.6.1.5.5.7.3.17", KEEL_X509_VERIFIED},
	    {NULL, "1.3.6.1.5.5.8.2.2", KEEL_X509_VERIFIED},
	    {NULL, "anyExtendedKeyUsage", KEEL_X509_VERIFIED},
	    {NULL, "emailProtection, clientAuth", KEEL_X509_BAD_KEY_USAGE},
	    {"digitalSignature", "clientAuth, serverAuth", KEEL_X509_VERIFIED},
	};
	for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
		c = make(&is, "vpn.example.org", "DNS:vpn.example.org", usage[i].ku, usage[i].eku,
		         200 + (long)i);
		verify(ca, c, &vpn, T_LAB, usage[i].want, __LINE__);
		keel_certs_free(c);
	}

	/* CRLs: revoked, not revoked (checked), and a chain whose CA has none */
	c = make(&is, "vpn.example.org", "DNS:vpn.example.org", NULL, NULL, 301);
	struct keel_certs *ok =
	    make(&is, "vpn.example.org", "DNS:vpn.example.org", NULL, NULL, 302);
	X509_CRL *crl = X509_CRL_new();
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(is.cert));
	ASN1_TIME *last = at(T_LAB - DAY), *next = at(T_LAB + 7 * DAY);
	X509_CRL_set1_lastUpdate(crl, last);
	X509_CRL_set1_nextUpdate(crl, next);
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	ASN1_INTEGER_set(serial, 301);
	X509_REVOKED_set_serialNumber(rev, serial);
	X509_REVOKED_set_revocationDate(rev, last);
	X509_CRL_add0_revoked(crl, rev);
	X509_CRL_sort(crl);
	CHECK(X509_CRL_sign(crl, is.key, EVP_sha256()) > 0);
	unsigned char *crl_der = NULL;
	int crl_len = i2d_X509_CRL(crl, &crl_der);
	struct keel_x509_trust *with_crl = trust_of("ca.pem");
	CHECK_INT(keel_x509_trust_add_crl(with_crl, crl_der, crl_len), 1);
	CHECK_INT(keel_x509_trust_add_crl(with_crl, crl_der, crl_len / 2), KEEL_ERR_MALFORMED);
	verify(with_crl, c, &vpn, T_LAB, KEEL_X509_REVOKED, __LINE__);
	struct keel_x509_verdict v =
	    verify(with_crl, ok, &vpn, T_LAB, KEEL_X509_VERIFIED, __LINE__);
	CHECK(v.revocation_checked);
	verify(ca, c, &vpn, T_LAB, KEEL_X509_VERIFIED, __LINE__); /* no CRL: not checked */
	const char *ec_chain[] = {"gw-ecdsa.pem", "int.pem"};
	struct keel_certs *ecc = certs_of(ec_chain, 2);
	struct keel_x509_id gw = fqdn("gw.keel.test");
	verify(with_crl, ecc, &gw, T_LAB, KEEL_X509_REVOCATION_UNKNOWN, __LINE__);
	keel_certs_free(ecc);
	keel_x509_trust_free(with_crl);
	OPENSSL_free(crl_der);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	keel_certs_free(c);
	keel_certs_free(ok);
out:
	X509_free(is.cert);
	keel_privkey_free(ca_key);
	keel_certs_free(ca_certs);
	free(ca_pem);
	keel_x509_trust_free(ca);
}

/* ---- payloads, lists, texts ----------------------------------------------- */

static void test_certreq_and_lists(void)
{
	/* the CERTREQ strongSwan sent in its IKE_SA_INIT response holds the SHA-1
	 * of the SubjectPublicKeyInfo (RFC 7296 §3.7) of each CA the gateway has:
	 * the lab's intermediate, then its root */
	struct fx f;
	fx_load(&f, "strongswan/ikev2-cert.txt");
	static struct keel_v2_msg m;
	struct keel_v2_payload cr;
	CHECK_INT(keel_v2_msg_decode(f.data[1], f.len[1], &m), 0);
	CHECK(fx_find(&m.chain, KEEL_V2_PAYLOAD_CERTREQ, NULL, &cr));
	CHECK_INT(cr.u.cert.encoding, 4);
	struct keel_x509_trust *both = trust_of("int.pem");
	size_t ca_len;
	uint8_t *ca_pem = fx_pki("ca.pem", &ca_len);
	CHECK_INT(keel_x509_trust_add(both, ca_pem, (ptrdiff_t)ca_len), 1);
	free(ca_pem);
	uint8_t req[64];
	ptrdiff_t n = keel_x509_trust_certreq(both, req, sizeof(req));
	CHECK_INT(n, 40);
	CHECK_MEM(req, (size_t)(n < 0 ? 0 : n), cr.u.cert.data.p, cr.u.cert.data.len);
	CHECK_INT(keel_x509_trust_certreq(both, req, 39), KEEL_ERR_NOBUF);
	keel_x509_trust_free(both);
	struct keel_x509_trust *ca = trust_of("ca.pem");
	n = keel_x509_trust_certreq(ca, req, sizeof(req));
	CHECK_INT(n, 20);
	CHECK_INT(keel_x509_trust_count(ca), 1);
	const uint8_t *dn;
	ptrdiff_t dn_len;
	CHECK_INT(keel_x509_trust_subject_der(ca, 0, &dn, &dn_len), 0);
	CHECK(dn_len > 10 && dn[0] == 0x30);
	CHECK_INT(keel_x509_trust_subject_der(ca, 1, &dn, &dn_len), KEEL_ERR_INVAL);

	/* our chain against requests */
	const char *files[] = {"gw-ecdsa.pem", "int.pem", "ca.pem"};
	struct keel_certs *chain = certs_of(files, 3);
	size_t send = 0;
	CHECK_INT(keel_certs_certreq_match(chain, req, n, &send), 1);
	CHECK_INT(send, 2); /* the end entity and the intermediate */
	struct keel_x509_trust *it = trust_of("int.pem");
	uint8_t req2[20];
	CHECK_INT(keel_x509_trust_certreq(it, req2, sizeof(req2)), 20);
	CHECK_INT(keel_certs_certreq_match(chain, req2, 20, &send), 1);
	CHECK_INT(send, 1);
	uint8_t none[40] = {0};
	CHECK_INT(keel_certs_certreq_match(chain, none, 40, &send), 0);
	CHECK_INT(send, 3);
	CHECK_INT(keel_certs_certreq_match(chain, none, 19, &send), KEEL_ERR_MALFORMED);
	keel_x509_trust_free(it);

	char text[200];
	keel_certs_describe(chain, 0, text, sizeof(text));
	CHECK(strcmp(text, "C=XX, O=Keel Lab, CN=gw.keel.test; DNS:gw.keel.test, IP:192.0.2.1") ==
	      0);
	keel_certs_describe(chain, 1, text, sizeof(text));
	CHECK(strcmp(text, "C=XX, O=Keel Lab, CN=Keel Lab Intermediate CA") == 0);
	keel_certs_describe(chain, 0, text, 12);
	CHECK(strcmp(text, "C=XX, O=...") == 0);
	keel_certs_free(chain);

	/* PEM bundles, DER, garbage */
	size_t l1, l2;
	uint8_t *a = fx_pki("int.pem", &l1), *b = fx_pki("ca.pem", &l2);
	uint8_t *bundle = malloc(l1 + l2 + 32);
	memcpy(bundle, a, l1);
	memcpy(bundle + l1, "junk between blocks\n", 20);
	memcpy(bundle + l1 + 20, b, l2);
	struct keel_certs *c = keel_certs_new();
	CHECK_INT(keel_certs_add(c, bundle, (ptrdiff_t)(l1 + l2 + 20)), 2);
	/* a damaged second block: nothing of this call is kept */
	bundle[l1 + 20 + 100] = '!';
	CHECK_INT(keel_certs_add(c, bundle, (ptrdiff_t)(l1 + l2 + 20)), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_certs_count(c), 2);
	const uint8_t *der;
	ptrdiff_t der_len;
	CHECK_INT(keel_certs_der(c, 1, &der, &der_len), 0);
	CHECK_INT(keel_certs_add(c, der, der_len), 1);
	CHECK_INT(keel_certs_add(c, der, der_len - 1), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_certs_add(c, (const uint8_t *)"hello", 5), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_certs_add(c, (const uint8_t *)"-----BEGIN X-----\n", 18),
	          KEEL_ERR_MALFORMED);
	CHECK_INT(keel_certs_add_payload(c, 12, der, der_len), KEEL_ERR_UNSUPPORTED);
	CHECK_INT(keel_certs_add_payload(c, 4, der, 10), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_certs_count(c), 3);
	CHECK_INT(keel_certs_der(c, 3, &der, &der_len), KEEL_ERR_INVAL);
	keel_certs_free(c);
	free(bundle);
	free(a);
	free(b);

	/* identities as text, peer bytes escaped */
	static const struct {
		struct keel_x509_id id;
		const char *want;
	} ids[] = {
	    {{1, (const uint8_t *)"\xc0\x00\x02\x01", 4}, "IPv4 192.0.2.1"},
	    {{1, (const uint8_t *)"\xc0\x00\x02", 3}, "IPv4 (malformed address)"},
	    {{2, (const uint8_t *)"a\nb", 3}, "FQDN a\\x0ab"},
	    {{3, (const uint8_t *)"x@y", 3}, "email x@y"},
	    {{11, (const uint8_t *)"\x01\xab", 2}, "KEY_ID 01ab"},
	    {{13, (const uint8_t *)"", 0}, "ID type 13"},
	};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		keel_x509_id_format(&ids[i].id, text, sizeof(text));
		CHECK(strcmp(text, ids[i].want) == 0);
	}
	keel_x509_trust_free(ca);
	fx_free(&f);
}

/* ---- PKCS#12 ---------------------------------------------------------------- */

static void check_p12(const uint8_t *d, size_t n, const char *pass, int want_rc,
                      enum keel_key_reason want_reason, size_t want_certs, int line)
{
	struct keel_secret *s =
	    pass ? keel_secret_new_from((const uint8_t *)pass, (ptrdiff_t)strlen(pass)) : NULL;
	struct keel_privkey *k = NULL;
	struct keel_certs *chain = NULL;
	enum keel_key_reason r = 99;
	int rc = keel_pkcs12_load(d, (ptrdiff_t)n, s, &k, &chain, &r);
	if (rc != want_rc)
		fprintf(stderr, "line %d: rc %d reason %d\n", line, rc, r);
	CHECK_INT(rc, want_rc);
	CHECK_INT(r, want_reason);
	if (rc == 0) {
		CHECK_INT(keel_certs_count(chain), want_certs);
		CHECK_INT(keel_certs_key_matches(chain, 0, k), 0);
		if (keel_certs_count(chain) > 1)
			CHECK_INT(keel_certs_key_matches(chain, 1, k), KEEL_ERR_AUTH);
	}
	keel_privkey_free(k);
	keel_certs_free(chain);
	keel_secret_free(s);
}

static void test_pkcs12(void)
{
	struct keel_privkey *key = lab_key("alice.key");
	const char *files[] = {"alice.pem", "ca.pem"};
	struct keel_certs *certs = certs_of(files, 2);
	X509 *x[2] = {NULL, NULL};
	for (int i = 0; i < 2; i++) {
		const uint8_t *der;
		ptrdiff_t len;
		keel_certs_der(certs, (size_t)i, &der, &len);
		const unsigned char *p = der;
		x[i] = d2i_X509(NULL, &p, len);
	}
	STACK_OF(X509) *ca = sk_X509_new_null();
	sk_X509_push(ca, x[1]);
	if (!key)
		goto out;
	for (int variant = 0; variant < 2; variant++) {
		const char *pass = variant ? "" : "p12 secret";
		PKCS12 *p12 =
		    PKCS12_create(pass, "alice", keel_privkey_evp(key), x[0], ca, 0, 0, 0, 0, 0);
		CHECK(p12 != NULL);
		unsigned char *der = NULL;
		int len = p12 ? i2d_PKCS12(p12, &der) : 0;
		if (variant == 0) {
			check_p12(der, (size_t)len, "p12 secret", 0, KEEL_KEY_OK, 2, __LINE__);
			check_p12(der, (size_t)len, "p12 secreT", KEEL_ERR_AUTH,
			          KEEL_KEY_PASSPHRASE_WRONG, 0, __LINE__);
			check_p12(der, (size_t)len, NULL, KEEL_ERR_AUTH, KEEL_KEY_PASSPHRASE_NEEDED,
			          0, __LINE__);
			check_p12(der, (size_t)len / 2, "p12 secret", KEEL_ERR_MALFORMED,
			          KEEL_KEY_NOT_A_KEY, 0, __LINE__);
		} else {
			/* an empty password: no passphrase needed */
			check_p12(der, (size_t)len, NULL, 0, KEEL_KEY_OK, 2, __LINE__);
		}
		OPENSSL_free(der);
		PKCS12_free(p12);
	}
	/* a passphrase with a NUL byte cannot be a PKCS#12 password */
	struct keel_secret *nul = keel_secret_new_from((const uint8_t *)"a\0b", 3);
	struct keel_privkey *k = NULL;
	struct keel_certs *ch = NULL;
	CHECK_INT(keel_pkcs12_load((const uint8_t *)"\x30\x03\x02\x01\x03", 5, nul, &k, &ch, NULL),
	          KEEL_ERR_MALFORMED);
	keel_secret_free(nul);
out:
	sk_X509_free(ca);
	X509_free(x[0]);
	X509_free(x[1]);
	keel_certs_free(certs);
	keel_privkey_free(key);
}

int main(void)
{
	test_lab_chains();
	test_made_certs();
	test_certreq_and_lists();
	test_pkcs12();
	return check_done();
}
