/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Distinguished names written as text in a profile ("C=CH, O=Example,
 * CN=vpn.example.org", or OpenSSL's "/C=CH/O=Example/CN=vpn.example.org")
 * turned into the DER of an X.509 Name, for ID_DER_ASN1_DN identities
 * (RFC 7296 §3.5, RFC 4945 §3.1.5).
 *
 * OpenSSL has no parser for the comma-separated form (X509_NAME_oneline
 * only prints), so the split into attribute=value pairs is done here and
 * each pair goes through X509_NAME_add_entry_by_OBJ, which picks the string
 * type the attribute needs (PrintableString for countryName, UTF8String
 * otherwise). Identities are compared with X509_NAME_cmp, which ignores the
 * string types and case, so the exact encoding chosen here does not decide
 * a match.
 */
#include <limits.h>
#include <strings.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "crypto/dn.h"

#define DN_TEXT_MAX 1024

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* The attribute type: short or long names, dotted OIDs, and "E" / "Email". */
static ASN1_OBJECT *attribute(const char *name)
{
	if (strcmp(name, "E") == 0 || strcasecmp(name, "email") == 0)
		return OBJ_nid2obj(NID_pkcs9_emailAddress);
	return OBJ_txt2obj(name, 0);
}

/*
 * Cuts the next "type=value" off *pos into type and value (unescaped,
 * trimmed). sep ends a pair; '\' takes the next character as it is.
 * false on a pair without '=' or with an empty side.
 */
static bool next_pair(const char **pos, char sep, char *type, char *value, size_t cap, bool *more)
{
	const char *p = *pos;
	size_t nt = 0, nv = 0, keep_v = 0;
	bool in_value = false;

	while (is_space(*p))
		p++;
	for (; *p && *p != sep; p++) {
		char ch = *p;
		bool escaped = false;
		if (ch == '\\') {
			if (!p[1])
				return false;
			ch = *++p;
			escaped = true;
		}
		if (!in_value && ch == '=' && !escaped) {
			in_value = true;
			continue;
		}
		if (nt + 1 >= cap || nv + 1 >= cap)
			return false;
		if (!in_value) {
			type[nt++] = ch;
		} else if (nv > 0 || !is_space(ch) || escaped) {
			value[nv++] = ch;
			if (!is_space(ch) || escaped)
				keep_v = nv; /* trailing blanks go, escaped ones stay */
		}
	}
	while (nt > 0 && is_space(type[nt - 1]))
		nt--;
	type[nt] = '\0';
	value[keep_v] = '\0';
	*more = *p == sep;
	*pos = *p ? p + 1 : p;
	return in_value && nt > 0 && keep_v > 0;
}

int keel_dn_from_text(const char *text, uint8_t *out, size_t cap, size_t *len)
{
	char type[DN_TEXT_MAX], value[DN_TEXT_MAX];
	unsigned char *der = NULL;
	int rc = KEEL_ERR_INVAL;
	X509_NAME *name = X509_NAME_new();

	if (!name)
		return KEEL_ERR_NOMEM;
	if (strlen(text) >= DN_TEXT_MAX)
		goto out;
	const char *p = text;
	while (is_space(*p))
		p++;
	char sep = ',';
	if (*p == '/') { /* OpenSSL's one-line form */
		sep = '/';
		p++;
	}
	for (bool more = *p != '\0'; more;) {
		if (!next_pair(&p, sep, type, value, sizeof(type), &more))
			goto out;
		ASN1_OBJECT *obj = attribute(type);
		if (!obj)
			goto out;
		int ok = X509_NAME_add_entry_by_OBJ(name, obj, MBSTRING_UTF8,
		                                    (const unsigned char *)value, -1, -1, 0);
		ASN1_OBJECT_free(obj);
		if (!ok)
			goto out; /* e.g. a country that is not two letters */
	}
	if (X509_NAME_entry_count(name) == 0)
		goto out;
	int n = i2d_X509_NAME(name, &der);
	if (n <= 0) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	if ((size_t)n > cap) {
		rc = KEEL_ERR_NOBUF;
		goto out;
	}
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	rc = 0;
out:
	OPENSSL_free(der);
	X509_NAME_free(name);
	return rc;
}

bool keel_dn_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	const unsigned char *pa = a, *pb = b;
	if (a_len == 0 || b_len == 0 || a_len > LONG_MAX || b_len > LONG_MAX)
		return false;
	X509_NAME *na = d2i_X509_NAME(NULL, &pa, (long)a_len);
	X509_NAME *nb = d2i_X509_NAME(NULL, &pb, (long)b_len);
	bool eq = na && nb && pa == a + a_len && pb == b + b_len && X509_NAME_cmp(na, nb) == 0;
	X509_NAME_free(na);
	X509_NAME_free(nb);
	ERR_clear_error();
	return eq;
}
