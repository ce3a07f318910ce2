/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Certificates, chains, identities and PKCS#12 over OpenSSL 3 (X509,
 * X509_STORE, X509_VERIFY_PARAM, PKCS12). See x509.h for the rules.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "crypto/x509.h"

#define SHA1_LEN 20

struct cert {
	X509 *x;
	unsigned char *der; /* i2d_X509, OPENSSL_malloc'd */
	int der_len;
	unsigned char *subject_der;
	int subject_len;
};

struct keel_certs {
	struct cert *v;
	size_t n, cap;
};

struct keel_x509_trust {
	X509_STORE *store;
	struct keel_certs *anchors;
	size_t n_crls;
};

/* ---- text ---------------------------------------------------------------- */

/* Bounded text output: never overflows, marks truncation with "...". */
struct text {
	char *buf;
	size_t cap; /* > 0 */
	size_t len;
	bool full;
};

static void text_init(struct text *t, char *buf, size_t cap)
{
	t->buf = buf;
	t->cap = cap;
	t->len = 0;
	t->full = false;
	if (cap > 0)
		buf[0] = '\0';
}

static void text_put(struct text *t, const char *s, size_t n)
{
	if (t->cap == 0 || t->full)
		return;
	if (n > t->cap - 1 - t->len) {
		n = t->cap - 1 - t->len;
		t->full = true;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
	if (t->full && t->cap >= 4)
		memcpy(t->buf + t->cap - 4, "...", 4);
}

static void text_str(struct text *t, const char *s)
{
	text_put(t, s, strlen(s));
}

/* Peer bytes: printable ASCII as is, anything else (and '\') as \xNN. */
static void text_escaped(struct text *t, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
			text_put(t, (const char *)&p[i], 1);
		} else {
			char esc[8];
			snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
			text_str(t, esc);
		}
	}
}

static void text_ip(struct text *t, const uint8_t *a, size_t n)
{
	char s[48];
	if (n == 4) {
		snprintf(s, sizeof(s), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		text_str(t, s);
	} else if (n == 16) {
		for (size_t i = 0; i < 16; i += 2) {
			snprintf(s, sizeof(s), "%s%x", i ? ":" : "",
			         (unsigned)(a[i] << 8 | a[i + 1]));
			text_str(t, s);
		}
	} else {
		text_str(t, "(malformed address)");
	}
}

/* "C=XX, O=Keel Lab, CN=..." with control and non-ASCII bytes escaped. */
static void text_name(struct text *t, const X509_NAME *name)
{
	const unsigned long flags = XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | ASN1_STRFLGS_ESC_2253 |
	                            ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_ESC_MSB |
	                            ASN1_STRFLGS_UTF8_CONVERT | ASN1_STRFLGS_DUMP_UNKNOWN |
	                            ASN1_STRFLGS_DUMP_DER;
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	if (!b || X509_NAME_print_ex(b, name, 0, flags) < 0) {
		text_str(t, "(unprintable name)");
	} else {
		long n = BIO_get_mem_data(b, &p);
		if (n > 0)
			text_escaped(t, (const uint8_t *)p, (size_t)n);
	}
	BIO_free(b);
}

static void text_time(struct text *t, const ASN1_TIME *tm)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	if (b && ASN1_TIME_print(b, tm)) {
		long n = BIO_get_mem_data(b, &p);
		if (n > 0)
			text_escaped(t, (const uint8_t *)p, (size_t)n);
	}
	BIO_free(b);
}

static void text_sans(struct text *t, X509 *x)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool first = true;
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		const ASN1_STRING *s;
		const char *label;
		switch (gn->type) {
		case GEN_DNS:
			label = "DNS:";
			s = gn->d.dNSName;
			break;
		case GEN_EMAIL:
			label = "email:";
			s = gn->d.rfc822Name;
			break;
		case GEN_IPADD:
			label = "IP:";
			s = gn->d.iPAddress;
			break;
		default:
			continue;
		}
		text_str(t, first ? "" : ", ");
		first = false;
		text_str(t, label);
		if (gn->type == GEN_IPADD)
			text_ip(t, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
		else
			text_escaped(t, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
	}
	GENERAL_NAMES_free(sans);
}

static void describe(struct text *t, X509 *x)
{
	text_name(t, X509_get_subject_name(x));
	size_t before = t->len;
	text_str(t, "; ");
	size_t mark = t->len;
	text_sans(t, x);
	if (t->len == mark && !t->full) { /* no names: drop the "; " */
		t->len = before;
		t->buf[before] = '\0';
	}
}

/* ---- certificate lists ------------------------------------------------- */

struct keel_certs *keel_certs_new(void)
{
	return calloc(1, sizeof(struct keel_certs));
}

static void cert_clear(struct cert *c)
{
	X509_free(c->x);
	OPENSSL_free(c->der);
	OPENSSL_free(c->subject_der);
}

void keel_certs_free(struct keel_certs *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		cert_clear(&c->v[i]);
	free(c->v);
	free(c);
}

/* Appends x (taking its reference; freed on failure). */
static int certs_push(struct keel_certs *c, X509 *x)
{
	struct cert e = {.x = x};
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		struct cert *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			goto nomem;
		c->v = v;
		c->cap = cap;
	}
	e.der_len = i2d_X509(x, &e.der);
	e.subject_len = i2d_X509_NAME(X509_get_subject_name(x), &e.subject_der);
	if (e.der_len <= 0 || e.subject_len <= 0)
		goto nomem;
	c->v[c->n++] = e;
	return 0;
nomem:
	cert_clear(&e);
	return KEEL_ERR_NOMEM;
}

static void certs_truncate(struct keel_certs *c, size_t n)
{
	while (c->n > n)
		cert_clear(&c->v[--c->n]);
}

static bool looks_pem(const uint8_t *data, size_t len)
{
	return memmem(data, len, "-----BEGIN ", 11) != NULL;
}

static X509 *der_cert(const uint8_t *data, size_t len)
{
	if (len > LONG_MAX)
		return NULL;
	const unsigned char *p = data;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (x && p != data + len) { /* trailing bytes */
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* Every certificate in data (PEM blocks or one DER certificate) into c. */
static ptrdiff_t add_certs(struct keel_certs *c, const uint8_t *data, ptrdiff_t len)
{
	ptrdiff_t rc = KEEL_ERR_MALFORMED;
	size_t start = c->n;
	BIO *bio = NULL;

	if (!c || !data || len <= 0 || len > INT_MAX)
		return KEEL_ERR_INVAL;
	if (!looks_pem(data, (size_t)len)) {
		X509 *x = der_cert(data, (size_t)len);
		if (!x)
			goto out;
		rc = certs_push(c, x);
		if (rc < 0)
			goto out;
		rc = 1;
		goto out;
	}
	bio = BIO_new_mem_buf(data, (int)len);
	if (!bio) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		/* reads CERTIFICATE and TRUSTED CERTIFICATE blocks, skips others */
		X509 *x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
		if (!x) {
			unsigned long e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) != ERR_LIB_PEM ||
			    ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
				rc = KEEL_ERR_MALFORMED;
				goto out;
			}
			break;
		}
		rc = certs_push(c, x);
		if (rc < 0)
			goto out;
	}
	rc = c->n > start ? (ptrdiff_t)(c->n - start) : KEEL_ERR_MALFORMED;
out:
	if (rc < 0)
		certs_truncate(c, start);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

ptrdiff_t keel_certs_add(struct keel_certs *c, const uint8_t *data, ptrdiff_t len)
{
	return add_certs(c, data, len);
}

int keel_certs_add_payload(struct keel_certs *c, uint8_t encoding, const uint8_t *data,
                           ptrdiff_t len)
{
	if (!c || len < 0 || (len > 0 && !data))
		return KEEL_ERR_INVAL;
	if (encoding != 4) /* RFC 7296 §3.6: X.509 Certificate - Signature */
		return KEEL_ERR_UNSUPPORTED;
	X509 *x = len > 0 ? der_cert(data, (size_t)len) : NULL;
	ERR_clear_error();
	if (!x)
		return KEEL_ERR_MALFORMED;
	return certs_push(c, x);
}

size_t keel_certs_count(const struct keel_certs *c)
{
	return c ? c->n : 0;
}

int keel_certs_der(const struct keel_certs *c, size_t i, const uint8_t **der, ptrdiff_t *len)
{
	if (!c || i >= c->n)
		return KEEL_ERR_INVAL;
	*der = c->v[i].der;
	*len = c->v[i].der_len;
	return 0;
}

int keel_certs_subject_der(const struct keel_certs *c, size_t i, const uint8_t **der,
                           ptrdiff_t *len)
{
	if (!c || i >= c->n)
		return KEEL_ERR_INVAL;
	*der = c->v[i].subject_der;
	*len = c->v[i].subject_len;
	return 0;
}

ptrdiff_t keel_certs_describe(const struct keel_certs *c, size_t i, char *buf, ptrdiff_t cap)
{
	struct text t;
	if (cap <= 0)
		return 0;
	text_init(&t, buf, (size_t)cap);
	if (!c || i >= c->n)
		return 0;
	describe(&t, c->v[i].x);
	ERR_clear_error();
	return (ptrdiff_t)t.len;
}

int keel_certs_key_matches(const struct keel_certs *c, size_t i, const struct keel_privkey *key)
{
	if (!c || i >= c->n || !key)
		return KEEL_ERR_INVAL;
	EVP_PKEY *pub = X509_get0_pubkey(c->v[i].x);
	int eq = pub ? EVP_PKEY_eq(pub, keel_privkey_evp(key)) : 0;
	ERR_clear_error();
	return eq == 1 ? 0 : KEEL_ERR_AUTH;
}

/* SHA-1 of the DER SubjectPublicKeyInfo (RFC 7296 §3.7). */
static int spki_sha1(X509 *x, uint8_t out[SHA1_LEN])
{
	int rc = KEEL_ERR_CRYPTO;
	unsigned char *der = NULL;
	size_t md_len = 0;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (n <= 0)
		goto out;
	if (!EVP_Q_digest(NULL, "SHA1", NULL, der, (size_t)n, out, &md_len) || md_len != SHA1_LEN)
		goto out;
	rc = 0;
out:
	OPENSSL_free(der);
	ERR_clear_error();
	return rc;
}

int keel_certs_certreq_match(const struct keel_certs *chain, const uint8_t *certreq,
                             ptrdiff_t certreq_len, size_t *send_count)
{
	if (!chain || certreq_len < 0 || (certreq_len > 0 && !certreq))
		return KEEL_ERR_INVAL;
	if (certreq_len % SHA1_LEN != 0)
		return KEEL_ERR_MALFORMED;
	for (size_t i = 0; i < chain->n; i++) {
		uint8_t h[SHA1_LEN];
		int rc = spki_sha1(chain->v[i].x, h);
		if (rc < 0)
			return rc;
		for (ptrdiff_t off = 0; off < certreq_len; off += SHA1_LEN) {
			if (memcmp(certreq + off, h, SHA1_LEN) == 0) {
				*send_count = i > 0 ? i : 1;
				return 1;
			}
		}
	}
	*send_count = chain->n;
	return 0;
}

/* ---- trust anchors ------------------------------------------------------ */

struct keel_x509_trust *keel_x509_trust_new(void)
{
	struct keel_x509_trust *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->store = X509_STORE_new();
	t->anchors = keel_certs_new();
	if (!t->store || !t->anchors) {
		keel_x509_trust_free(t);
		return NULL;
	}
	return t;
}

void keel_x509_trust_free(struct keel_x509_trust *t)
{
	if (!t)
		return;
	X509_STORE_free(t->store);
	keel_certs_free(t->anchors);
	free(t);
}

ptrdiff_t keel_x509_trust_add(struct keel_x509_trust *t, const uint8_t *data, ptrdiff_t len)
{
	if (!t)
		return KEEL_ERR_INVAL;
	size_t start = t->anchors->n;
	ptrdiff_t rc = add_certs(t->anchors, data, len);
	if (rc < 0)
		return rc;
	for (size_t i = start; i < t->anchors->n; i++) {
		/* a duplicate is fine: X509_STORE_add_cert() ignores it */
		if (!X509_STORE_add_cert(t->store, t->anchors->v[i].x)) {
			ERR_clear_error();
			certs_truncate(t->anchors, start);
			return KEEL_ERR_NOMEM;
		}
	}
	return rc;
}

ptrdiff_t keel_x509_trust_add_crl(struct keel_x509_trust *t, const uint8_t *data, ptrdiff_t len)
{
	ptrdiff_t rc = KEEL_ERR_MALFORMED, n = 0;
	BIO *bio = NULL;
	if (!t || !data || len <= 0 || len > INT_MAX)
		return KEEL_ERR_INVAL;
	if (!looks_pem(data, (size_t)len)) {
		const unsigned char *p = data;
		X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
		if (!crl || p != data + len) {
			X509_CRL_free(crl);
			goto out;
		}
		int ok = X509_STORE_add_crl(t->store, crl);
		X509_CRL_free(crl);
		if (!ok) {
			rc = KEEL_ERR_NOMEM;
			goto out;
		}
		n = 1;
	} else {
		bio = BIO_new_mem_buf(data, (int)len);
		if (!bio) {
			rc = KEEL_ERR_NOMEM;
			goto out;
		}
		for (;;) {
			X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
			if (!crl) {
				unsigned long e = ERR_peek_last_error();
				if (ERR_GET_LIB(e) != ERR_LIB_PEM ||
				    ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
					goto out;
				break;
			}
			int ok = X509_STORE_add_crl(t->store, crl);
			X509_CRL_free(crl);
			if (!ok) {
				rc = KEEL_ERR_NOMEM;
				goto out;
			}
			n++;
		}
	}
	if (n > 0) {
		t->n_crls += (size_t)n;
		rc = n;
	}
out:
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

size_t keel_x509_trust_count(const struct keel_x509_trust *t)
{
	return t ? t->anchors->n : 0;
}

ptrdiff_t keel_x509_trust_certreq(const struct keel_x509_trust *t, uint8_t *out, ptrdiff_t cap)
{
	if (!t || cap < 0)
		return KEEL_ERR_INVAL;
	if ((size_t)cap / SHA1_LEN < t->anchors->n)
		return KEEL_ERR_NOBUF;
	for (size_t i = 0; i < t->anchors->n; i++) {
		int rc = spki_sha1(t->anchors->v[i].x, out + i * SHA1_LEN);
		if (rc < 0)
			return rc;
	}
	return (ptrdiff_t)(t->anchors->n * SHA1_LEN);
}

int keel_x509_trust_subject_der(const struct keel_x509_trust *t, size_t i, const uint8_t **der,
                                ptrdiff_t *len)
{
	if (!t)
		return KEEL_ERR_INVAL;
	return keel_certs_subject_der(t->anchors, i, der, len);
}

/* ---- identities ---------------------------------------------------------- */

/* ID types (RFC 7296 §3.5; the IKEv1 DOI, RFC 2407 §4.6.2.1, has the same numbers) */
enum {
	ID_IPV4_ADDR = 1,
	ID_FQDN = 2,
	ID_RFC822_ADDR = 3,
	ID_IPV6_ADDR = 5,
	ID_DER_ASN1_DN = 9,
	ID_KEY_ID = 11,
};

ptrdiff_t keel_x509_id_format(const struct keel_x509_id *id, char *buf, ptrdiff_t cap)
{
	struct text t;
	if (cap <= 0)
		return 0;
	text_init(&t, buf, (size_t)cap);
	if (!id || id->len < 0 || (id->len > 0 && !id->data)) {
		text_str(&t, "(no identity)");
		return (ptrdiff_t)t.len;
	}
	size_t n = (size_t)id->len;
	switch (id->type) {
	case ID_IPV4_ADDR:
		text_str(&t, "IPv4 ");
		text_ip(&t, id->data, n == 4 ? 4 : 0);
		break;
	case ID_IPV6_ADDR:
		text_str(&t, "IPv6 ");
		text_ip(&t, id->data, n == 16 ? 16 : 0);
		break;
	case ID_FQDN:
		text_str(&t, "FQDN ");
		text_escaped(&t, id->data, n);
		break;
	case ID_RFC822_ADDR:
		text_str(&t, "email ");
		text_escaped(&t, id->data, n);
		break;
	case ID_DER_ASN1_DN: {
		const unsigned char *p = id->data;
		X509_NAME *name = n > 0 && n < LONG_MAX ? d2i_X509_NAME(NULL, &p, (long)n) : NULL;
		text_str(&t, "DN ");
		if (name)
			text_name(&t, name);
		else
			text_str(&t, "(malformed)");
		X509_NAME_free(name);
		ERR_clear_error();
		break;
	}
	case ID_KEY_ID: {
		text_str(&t, "KEY_ID ");
		for (size_t i = 0; i < n && i < 32; i++) {
			char h[4];
			snprintf(h, sizeof(h), "%02x", id->data[i]);
			text_str(&t, h);
		}
		break;
	}
	default: {
		char s[32];
		snprintf(s, sizeof(s), "ID type %u", id->type);
		text_str(&t, s);
		break;
	}
	}
	return (ptrdiff_t)t.len;
}

static bool ascii_case_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	if (a_len != b_len)
		return false;
	for (size_t i = 0; i < a_len; i++) {
		uint8_t x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (uint8_t)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (uint8_t)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/* Does a subject attribute (commonName, emailAddress) hold the identity? */
static bool subject_attr_matches(X509 *x, int nid, const struct keel_x509_id *id)
{
	const X509_NAME *name = X509_get_subject_name(x);
	for (int pos = X509_NAME_get_index_by_NID(name, nid, -1); pos >= 0;
	     pos = X509_NAME_get_index_by_NID(name, nid, pos)) {
		const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, pos));
		unsigned char *utf8 = NULL;
		int n = ASN1_STRING_to_UTF8(&utf8, s);
		bool match = false;
		if (n > 0 && memchr(utf8, '\0', (size_t)n) == NULL) {
			if (id->type == ID_IPV4_ADDR || id->type == ID_IPV6_ADDR) {
				/* an address written as text in the CN */
				ASN1_OCTET_STRING *ip = a2i_IPADDRESS((const char *)utf8);
				match = ip && ASN1_STRING_length(ip) == id->len &&
				        memcmp(ASN1_STRING_get0_data(ip), id->data,
				               (size_t)id->len) == 0;
				ASN1_OCTET_STRING_free(ip);
			} else {
				match =
				    ascii_case_equal(utf8, (size_t)n, id->data, (size_t)id->len);
			}
		}
		OPENSSL_free(utf8);
		if (match)
			return true;
	}
	return false;
}

static bool id_matches(X509 *x, const struct keel_x509_id *id)
{
	bool match = false;
	int crit = -1;
	GENERAL_NAMES *sans = NULL;

	if (!id || id->len <= 0 || !id->data)
		return false;
	if (id->type == ID_DER_ASN1_DN) {
		/* RFC 4945 §3.1.5: the ID equals the subject DN */
		const unsigned char *p = id->data;
		X509_NAME *name =
		    id->len < LONG_MAX ? d2i_X509_NAME(NULL, &p, (long)id->len) : NULL;
		match = name && p == id->data + id->len &&
		        X509_NAME_cmp(name, X509_get_subject_name(x)) == 0;
		X509_NAME_free(name);
		goto out;
	}
	int want;
	switch (id->type) {
	case ID_FQDN: /* RFC 4945 §3.1.2 */
		want = GEN_DNS;
		break;
	case ID_RFC822_ADDR: /* RFC 4945 §3.1.3 */
		want = GEN_EMAIL;
		break;
	case ID_IPV4_ADDR: /* RFC 4945 §3.1.1 */
		if (id->len != 4)
			goto out;
		want = GEN_IPADD;
		break;
	case ID_IPV6_ADDR:
		if (id->len != 16)
			goto out;
		want = GEN_IPADD;
		break;
	default:
		goto out;
	}

	sans = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	if (crit == -1) {
		/* No subjectAltName at all: the subject DN stands in. */
		match = subject_attr_matches(x, NID_commonName, id) ||
		        (id->type == ID_RFC822_ADDR &&
		         subject_attr_matches(x, NID_pkcs9_emailAddress, id));
		goto out;
	}
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !match; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type != want)
			continue;
		const ASN1_STRING *s = want == GEN_DNS     ? gn->d.dNSName
		                       : want == GEN_EMAIL ? gn->d.rfc822Name
		                                           : gn->d.iPAddress;
		const uint8_t *p = ASN1_STRING_get0_data(s);
		size_t n = (size_t)ASN1_STRING_length(s);
		if (want == GEN_IPADD)
			match = n == (size_t)id->len && memcmp(p, id->data, n) == 0;
		else
			match = ascii_case_equal(p, n, id->data, (size_t)id->len);
	}
out:
	GENERAL_NAMES_free(sans);
	ERR_clear_error();
	return match;
}

int keel_x509_match_id(const struct keel_certs *c, size_t i, const struct keel_x509_id *id)
{
	if (!c || i >= c->n || !id)
		return KEEL_ERR_INVAL;
	return id_matches(c->v[i].x, id) ? 0 : KEEL_ERR_AUTH;
}

/* ---- verification ------------------------------------------------------- */

const char *keel_x509_result_text(enum keel_x509_result r)
{
	switch (r) {
	case KEEL_X509_VERIFIED:
		return "certificate verified";
	case KEEL_X509_NO_CERT:
		return "the gateway sent no certificate";
	case KEEL_X509_UNKNOWN_CA:
		return "certificate issued by an unknown CA";
	case KEEL_X509_EXPIRED:
		return "certificate expired";
	case KEEL_X509_NOT_YET_VALID:
		return "certificate not yet valid";
	case KEEL_X509_BAD_SIGNATURE:
		return "certificate signature invalid";
	case KEEL_X509_REVOKED:
		return "certificate revoked";
	case KEEL_X509_REVOCATION_UNKNOWN:
		return "certificate revocation status unknown (no CRL for its CA)";
	case KEEL_X509_BAD_KEY_USAGE:
		return "certificate not usable for IKE (key usage)";
	case KEEL_X509_IDENTITY_MISMATCH:
		return "certificate does not match the gateway's identity";
	case KEEL_X509_CHAIN_INVALID:
		return "certificate chain invalid";
	}
	return "unknown";
}

static enum keel_x509_result map_verify_error(int err)
{
	switch (err) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
		return KEEL_X509_UNKNOWN_CA;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return KEEL_X509_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return KEEL_X509_NOT_YET_VALID;
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
	case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
		return KEEL_X509_BAD_SIGNATURE;
	case X509_V_ERR_CERT_REVOKED:
		return KEEL_X509_REVOKED;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
		return KEEL_X509_REVOCATION_UNKNOWN;
	default:
		return KEEL_X509_CHAIN_INVALID;
	}
}

/* 1.3.6.1.5.5.8.2.2, Microsoft's "IP security IKE intermediate" */
static const uint8_t oid_ike_intermediate[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x08, 0x02, 0x02};

/* RFC 4945 §5.1.3.2 and §5.1.3.12, as x509.h states the rule. */
static bool usage_ok(X509 *x, struct text *why)
{
	uint32_t ku = X509_get_key_usage(x); /* UINT32_MAX: no extension */
	if (ku != UINT32_MAX && !(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION))) {
		text_str(why, "keyUsage has neither digitalSignature nor nonRepudiation");
		return false;
	}
	int crit = -1;
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	if (crit == -1)
		return true;
	bool ok = false;
	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku) && !ok; i++) {
		const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
		int nid = OBJ_obj2nid(o);
		ok = nid == NID_server_auth || nid == NID_ipsec_IKE ||
		     nid == NID_anyExtendedKeyUsage ||
		     ((size_t)OBJ_length(o) == sizeof(oid_ike_intermediate) &&
		      memcmp(OBJ_get0_data(o), oid_ike_intermediate,
		             sizeof(oid_ike_intermediate)) == 0);
	}
	EXTENDED_KEY_USAGE_free(eku);
	if (!ok)
		text_str(why,
		         "extendedKeyUsage has none of serverAuth, ipsecIKE, anyExtendedKeyUsage");
	return ok;
}

static void verdict_init(struct keel_x509_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->result = KEEL_X509_CHAIN_INVALID;
	v->depth = -1;
}

int keel_x509_verify(const struct keel_x509_trust *t, const struct keel_certs *peer,
                     const struct keel_x509_id *id, int64_t now_s,
                     struct keel_x509_verdict *verdict, struct keel_pubkey **key)
{
	int rc = KEEL_ERR_AUTH;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	struct keel_x509_verdict v;
	struct text subject, detail;

	verdict_init(&v);
	text_init(&subject, v.subject, sizeof(v.subject));
	text_init(&detail, v.detail, sizeof(v.detail));
	if (!t || !peer || !id || !key) {
		rc = KEEL_ERR_INVAL;
		text_str(&detail, "missing argument");
		goto out;
	}
	if (peer->n == 0) {
		v.result = KEEL_X509_NO_CERT;
		goto out;
	}
	X509 *ee = peer->v[0].x;
	describe(&subject, ee);

	ctx = X509_STORE_CTX_new();
	untrusted = sk_X509_new_null();
	if (!ctx || !untrusted) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 1; i < peer->n; i++) {
		if (!sk_X509_push(untrusted, peer->v[i].x)) {
			rc = KEEL_ERR_NOMEM;
			goto out;
		}
	}
	if (!X509_STORE_CTX_init(ctx, t->store, ee, untrusted)) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	unsigned long flags = X509_V_FLAG_PARTIAL_CHAIN;
	if (t->n_crls > 0)
		flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
	X509_VERIFY_PARAM_set_flags(param, flags);
	X509_VERIFY_PARAM_set_time(param, (time_t)now_s);
	X509_VERIFY_PARAM_set_auth_level(param, 1);
	X509_VERIFY_PARAM_set_depth(param, 8);

	if (X509_verify_cert(ctx) != 1) {
		int err = X509_STORE_CTX_get_error(ctx);
		v.result = map_verify_error(err);
		v.depth = X509_STORE_CTX_get_error_depth(ctx);
		X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
		if (bad && bad != ee) {
			text_init(&subject, v.subject, sizeof(v.subject));
			describe(&subject, bad);
		}
		if ((v.result == KEEL_X509_EXPIRED || v.result == KEEL_X509_NOT_YET_VALID) && bad) {
			text_str(&detail, "valid from ");
			text_time(&detail, X509_get0_notBefore(bad));
			text_str(&detail, " until ");
			text_time(&detail, X509_get0_notAfter(bad));
		} else {
			text_str(&detail, X509_verify_cert_error_string(err));
		}
		goto out;
	}
	v.revocation_checked = t->n_crls > 0;

	if (!usage_ok(ee, &detail)) {
		v.result = KEEL_X509_BAD_KEY_USAGE;
		v.depth = 0;
		goto out;
	}
	if (!id_matches(ee, id)) {
		struct text pres;
		v.result = KEEL_X509_IDENTITY_MISMATCH;
		v.depth = 0;
		keel_x509_id_format(id, v.expected_id, sizeof(v.expected_id));
		text_init(&pres, v.presented_ids, sizeof(v.presented_ids));
		describe(&pres, ee);
		goto out;
	}

	struct keel_pubkey *pk = keel_pubkey_take_evp(X509_get_pubkey(ee));
	if (!pk) {
		rc = KEEL_ERR_UNSUPPORTED;
		text_str(&detail, "unsupported public key type");
		goto out;
	}
	v.result = KEEL_X509_VERIFIED;
	*key = pk;
	rc = 0;
out:
	sk_X509_free(untrusted); /* the certificates stay owned by peer */
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	if (verdict)
		*verdict = v;
	return rc;
}

/* ---- PKCS#12 ------------------------------------------------------------ */

int keel_pkcs12_load(const uint8_t *data, ptrdiff_t len, const struct keel_secret *passphrase,
                     struct keel_privkey **key, struct keel_certs **chain,
                     enum keel_key_reason *reason)
{
	int rc = KEEL_ERR_MALFORMED;
	enum keel_key_reason why = KEEL_KEY_NOT_A_KEY;
	PKCS12 *p12 = NULL;
	char *pass = NULL;
	size_t pass_size = 0;
	const char *use_pass = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	STACK_OF(X509) *ca = NULL;
	struct keel_certs *certs = NULL;
	struct keel_privkey *k = NULL;

	if (!data || len <= 0 || len > LONG_MAX || !key || !chain) {
		rc = KEEL_ERR_INVAL;
		why = KEEL_KEY_OK;
		goto out;
	}
	const unsigned char *p = data;
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	if (!p12)
		goto out;

	if (passphrase) {
		size_t n = (size_t)keel_secret_len(passphrase);
		if (memchr(keel_secret_data(passphrase), '\0', n)) {
			rc = KEEL_ERR_INVAL;
			why = KEEL_KEY_OK;
			goto out;
		}
		pass_size = n + 1;
		pass = OPENSSL_malloc(pass_size);
		if (!pass) {
			rc = KEEL_ERR_NOMEM;
			why = KEEL_KEY_OK;
			goto out;
		}
		memcpy(pass, keel_secret_data(passphrase), n);
		pass[n] = '\0';
		use_pass = pass;
	}

	bool mac = PKCS12_mac_present(p12);
	if (mac) {
		/* The MAC tells a wrong passphrase apart from anything else. */
		bool ok = use_pass
		              ? PKCS12_verify_mac(p12, use_pass, -1)
		              : PKCS12_verify_mac(p12, NULL, 0) || PKCS12_verify_mac(p12, "", 0);
		if (!ok) {
			rc = KEEL_ERR_AUTH;
			why = use_pass ? KEEL_KEY_PASSPHRASE_WRONG : KEEL_KEY_PASSPHRASE_NEEDED;
			goto out;
		}
	}
	if (!PKCS12_parse(p12, use_pass ? use_pass : "", &pkey, &x, &ca)) {
		if (mac) {
			rc = KEEL_ERR_UNSUPPORTED;
			why = KEEL_KEY_UNSUPPORTED_CIPHER;
		} else {
			rc = KEEL_ERR_AUTH;
			why = use_pass ? KEEL_KEY_PASSPHRASE_WRONG : KEEL_KEY_PASSPHRASE_NEEDED;
		}
		goto out;
	}
	if (!pkey || !x) {
		why = KEEL_KEY_NO_CERT;
		goto out;
	}
	k = keel_privkey_take_evp(pkey);
	pkey = NULL;
	if (!k) {
		rc = KEEL_ERR_UNSUPPORTED;
		why = KEEL_KEY_UNSUPPORTED_TYPE;
		goto out;
	}
	certs = keel_certs_new();
	if (!certs) {
		rc = KEEL_ERR_NOMEM;
		why = KEEL_KEY_OK;
		goto out;
	}
	rc = certs_push(certs, x);
	x = NULL;
	for (int i = 0; rc == 0 && ca && i < sk_X509_num(ca); i++) {
		X509 *c = sk_X509_value(ca, i);
		if (!X509_up_ref(c)) {
			rc = KEEL_ERR_NOMEM;
			break;
		}
		rc = certs_push(certs, c);
	}
	if (rc < 0) {
		why = KEEL_KEY_OK;
		goto out;
	}
	*key = k;
	*chain = certs;
	k = NULL;
	certs = NULL;
	why = KEEL_KEY_OK;
	rc = 0;
out:
	keel_privkey_free(k);
	keel_certs_free(certs);
	EVP_PKEY_free(pkey);
	X509_free(x);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	OPENSSL_clear_free(pass, pass_size);
	ERR_clear_error();
	if (reason)
		*reason = why;
	return rc;
}
