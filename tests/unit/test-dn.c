/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Distinguished names from profile text (core/crypto/dn.c, through
 * keel_id_from_text): the DER equals what the openssl command line encodes
 * for the same subject (captured below), both text forms give the same
 * name, escapes, and every malformed form is refused.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include <keel/config.h>

#include "crypto/dn.h"

#include "check.h"

/*
 * `openssl req -new -x509 -key k.pem -subj "/C=CH/O=Keel Test/CN=gw.keel.test"`
 * then the subject's DER (`openssl x509 -noout -subject -nameopt RFC2253` to
 * check, `openssl asn1parse` for the bytes).
 */
static const char openssl_der[] = "3038310b300906035504061302434831123010060355040a0c09"
                                  "4b65656c20546573743115301306035504030c0c67772e6b6565"
                                  "6c2e74657374";

static X509_NAME *name_of(const struct keel_id *id)
{
	const unsigned char *p = id->data;
	return d2i_X509_NAME(NULL, &p, id->len);
}

int main(void)
{
	struct keel_id id, id2;
	size_t want_len = 0;
	uint8_t *want = hex_decode(openssl_der, &want_len);

	CHECK_INT(keel_id_from_text("C=CH, O=Keel Test, CN=gw.keel.test", &id), 0);
	CHECK_INT(id.type, KEEL_ID_DER_ASN1_DN);
	CHECK_MEM(id.data, id.len, want, want_len);

	/* OpenSSL's one-line form and loose blanks: the same bytes */
	CHECK_INT(keel_id_from_text("/C=CH/O=Keel Test/CN=gw.keel.test", &id2), 0);
	CHECK_MEM(id2.data, id2.len, id.data, id.len);
	CHECK_INT(keel_id_from_text("  C = CH ,O=Keel Test,   CN=gw.keel.test  ", &id2), 0);
	CHECK_MEM(id2.data, id2.len, id.data, id.len);

	/* a different order is a different name */
	CHECK_INT(keel_id_from_text("CN=gw.keel.test, O=Keel Test, C=CH", &id2), 0);
	CHECK(id2.len != id.len || memcmp(id2.data, id.data, id.len) != 0);

	/* an escaped comma stays in the value; E is emailAddress; OIDs work */
	CHECK_INT(keel_id_from_text("O=Keel\\, Inc., E=vpn@keel.test, 2.5.4.3=gw", &id2), 0);
	X509_NAME *n = name_of(&id2);
	CHECK(n != NULL);
	if (n) {
		char buf[256];
		CHECK_INT(X509_NAME_entry_count(n), 3);
		CHECK(X509_NAME_get_text_by_NID(n, NID_organizationName, buf, sizeof(buf)) > 0);
		CHECK(strcmp(buf, "Keel, Inc.") == 0);
		CHECK(X509_NAME_get_text_by_NID(n, NID_pkcs9_emailAddress, buf, sizeof(buf)) > 0);
		CHECK(strcmp(buf, "vpn@keel.test") == 0);
		CHECK(X509_NAME_get_text_by_NID(n, NID_commonName, buf, sizeof(buf)) > 0);
		CHECK(strcmp(buf, "gw") == 0);
		X509_NAME_free(n);
	}

	/* the same name in other string types and case is equal; another is not */
	struct keel_id id3;
	CHECK_INT(keel_id_from_text("C=CH, O=KEEL TEST, CN=GW.keel.test", &id3), 0);
	CHECK(keel_dn_equal(id3.data, id3.len, want, want_len));
	CHECK(keel_dn_equal(id.data, id.len, want, want_len));
	CHECK_INT(keel_id_from_text("C=CH, O=Keel Test, CN=other.keel.test", &id3), 0);
	CHECK(!keel_dn_equal(id3.data, id3.len, want, want_len));
	CHECK(!keel_dn_equal(id.data, id.len - 1, want, want_len));
	CHECK(!keel_dn_equal(id.data, 0, want, want_len));

	/* refusals */
	static const char *const bad[] = {
	    "=x",            /* no type */
	    "CN=",           /* no value */
	    "CN=a,",         /* an empty pair at the end */
	    "CN=a,,O=b",     /* an empty pair */
	    "CN=a, bogus",   /* no '=' */
	    "XYZ=a",         /* unknown attribute */
	    "C=Switzerland", /* countryName is two letters */
	    "CN=a\\",        /* a dangling escape */
	    "/C=CH/",        /* an empty pair, one-line form */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = keel_id_from_text(bad[i], &id2);
		if (rc != KEEL_ERR_INVAL)
			fprintf(stderr, "  not refused: \"%s\"\n", bad[i]);
		CHECK_INT(rc, KEEL_ERR_INVAL);
	}

	/* longer than an identity can be */
	char big[900];
	memcpy(big, "CN=", 3);
	memset(big + 3, 'a', sizeof(big) - 4);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(keel_id_from_text(big, &id2), KEEL_ERR_INVAL);
	free(want);
	return check_done();
}
