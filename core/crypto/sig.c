/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Keys and IKE signatures over OpenSSL 3 EVP (EVP_DigestSign/Verify,
 * EVP_PKEY_sign/verify, OSSL_DECODER). The only ASN.1 handled here by hand is
 * the AlgorithmIdentifier of RFC 7427 (a few fixed OIDs and the RSASSA-PSS
 * parameters of RFC 4055 §3.1), read with the bounds-checked reader.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/sig.h"
#include "wire/wire.h"

struct keel_privkey {
	EVP_PKEY *pkey;
	enum keel_key_type type;
};

struct keel_pubkey {
	EVP_PKEY *pkey;
	enum keel_key_type type;
};

enum kind {
	KIND_PKCS1,
	KIND_PSS,
	KIND_ECDSA,
	KIND_EDDSA,
};

/* ---- AlgorithmIdentifiers (RFC 7427 Appendix A, RFC 8420 §2) ------------ */

/* OBJECT IDENTIFIER contents */
static const uint8_t oid_sha1_rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05};
static const uint8_t oid_sha256_rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
static const uint8_t oid_sha384_rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c};
static const uint8_t oid_sha512_rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d};
static const uint8_t oid_rsassa_pss[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a};
static const uint8_t oid_mgf1[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08};
static const uint8_t oid_ecdsa_sha256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t oid_ecdsa_sha384[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
static const uint8_t oid_ecdsa_sha512[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};
static const uint8_t oid_sha1[] = {0x2b, 0x0e, 0x03, 0x02, 0x1a};
static const uint8_t oid_sha256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
static const uint8_t oid_sha384[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02};
static const uint8_t oid_sha512[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03};
static const uint8_t oid_ed25519[] = {0x2b, 0x65, 0x70};
static const uint8_t oid_ed448[] = {0x2b, 0x65, 0x71};

/* Whole AlgorithmIdentifiers as Keel sends them. PKCS#1: NULL parameters
 * (RFC 7427 A.1); ECDSA and EdDSA: none (A.3, RFC 8420 §2). */
#define RSA_ALG(last)                                                                              \
	0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, last, 0x05, 0x00
static const uint8_t alg_sha1_rsa[] = {RSA_ALG(0x05)};
static const uint8_t alg_sha256_rsa[] = {RSA_ALG(0x0b)};
static const uint8_t alg_sha384_rsa[] = {RSA_ALG(0x0c)};
static const uint8_t alg_sha512_rsa[] = {RSA_ALG(0x0d)};
#define ECDSA_ALG(last) 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, last
static const uint8_t alg_ecdsa_sha256[] = {ECDSA_ALG(0x02)};
static const uint8_t alg_ecdsa_sha384[] = {ECDSA_ALG(0x03)};
static const uint8_t alg_ecdsa_sha512[] = {ECDSA_ALG(0x04)};
static const uint8_t alg_ed25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
static const uint8_t alg_ed448[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71};
/* RSASSA-PSS-params (RFC 4055 §3.1): hash, MGF1 with the same hash, salt =
 * hash length; the trailer field keeps its default and so is left out (DER). */
#define PSS_ALG(h, salt)                                                                           \
	0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34,  \
	    0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, h, \
	    0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,    \
	    0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,    \
	    0x02, h, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, salt
static const uint8_t alg_pss_sha256[] = {PSS_ALG(0x01, 32)};
static const uint8_t alg_pss_sha384[] = {PSS_ALG(0x02, 48)};
static const uint8_t alg_pss_sha512[] = {PSS_ALG(0x03, 64)};

struct scheme_info {
	enum keel_sig_scheme scheme;
	enum kind kind;
	enum keel_hash_alg hash;
	const char *md; /* OpenSSL digest name; NULL for EdDSA */
	const uint8_t *alg;
	size_t alg_len;
	const char *name;
};

#define ALG(a) a, sizeof(a)
static const struct scheme_info schemes[] = {
    {KEEL_SIG_RSA_PKCS1_SHA1, KIND_PKCS1, KEEL_HASH_SHA1, "SHA1", ALG(alg_sha1_rsa),
     "RSA PKCS#1 v1.5 SHA-1"},
    {KEEL_SIG_RSA_PKCS1_SHA256, KIND_PKCS1, KEEL_HASH_SHA2_256, "SHA256", ALG(alg_sha256_rsa),
     "RSA PKCS#1 v1.5 SHA-256"},
    {KEEL_SIG_RSA_PKCS1_SHA384, KIND_PKCS1, KEEL_HASH_SHA2_384, "SHA384", ALG(alg_sha384_rsa),
     "RSA PKCS#1 v1.5 SHA-384"},
    {KEEL_SIG_RSA_PKCS1_SHA512, KIND_PKCS1, KEEL_HASH_SHA2_512, "SHA512", ALG(alg_sha512_rsa),
     "RSA PKCS#1 v1.5 SHA-512"},
    {KEEL_SIG_RSA_PSS_SHA256, KIND_PSS, KEEL_HASH_SHA2_256, "SHA256", ALG(alg_pss_sha256),
     "RSASSA-PSS SHA-256"},
    {KEEL_SIG_RSA_PSS_SHA384, KIND_PSS, KEEL_HASH_SHA2_384, "SHA384", ALG(alg_pss_sha384),
     "RSASSA-PSS SHA-384"},
    {KEEL_SIG_RSA_PSS_SHA512, KIND_PSS, KEEL_HASH_SHA2_512, "SHA512", ALG(alg_pss_sha512),
     "RSASSA-PSS SHA-512"},
    {KEEL_SIG_ECDSA_SHA256, KIND_ECDSA, KEEL_HASH_SHA2_256, "SHA256", ALG(alg_ecdsa_sha256),
     "ECDSA SHA-256"},
    {KEEL_SIG_ECDSA_SHA384, KIND_ECDSA, KEEL_HASH_SHA2_384, "SHA384", ALG(alg_ecdsa_sha384),
     "ECDSA SHA-384"},
    {KEEL_SIG_ECDSA_SHA512, KIND_ECDSA, KEEL_HASH_SHA2_512, "SHA512", ALG(alg_ecdsa_sha512),
     "ECDSA SHA-512"},
    {KEEL_SIG_ED25519, KIND_EDDSA, KEEL_HASH_IDENTITY, NULL, ALG(alg_ed25519), "Ed25519"},
    {KEEL_SIG_ED448, KIND_EDDSA, KEEL_HASH_IDENTITY, NULL, ALG(alg_ed448), "Ed448"},
};

static const struct scheme_info *scheme_info(enum keel_sig_scheme s)
{
	switch (s) {
	case KEEL_SIG_RSA_PKCS1_SHA1:
	case KEEL_SIG_RSA_PKCS1_SHA256:
	case KEEL_SIG_RSA_PKCS1_SHA384:
	case KEEL_SIG_RSA_PKCS1_SHA512:
	case KEEL_SIG_RSA_PSS_SHA256:
	case KEEL_SIG_RSA_PSS_SHA384:
	case KEEL_SIG_RSA_PSS_SHA512:
	case KEEL_SIG_ECDSA_SHA256:
	case KEEL_SIG_ECDSA_SHA384:
	case KEEL_SIG_ECDSA_SHA512:
	case KEEL_SIG_ED25519:
	case KEEL_SIG_ED448:
		for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
			if (schemes[i].scheme == s)
				return &schemes[i];
		break;
	}
	return NULL;
}

const char *keel_sig_scheme_name(enum keel_sig_scheme s)
{
	const struct scheme_info *si = scheme_info(s);
	return si ? si->name : "unknown signature scheme";
}

const uint8_t *keel_sig_algorithm_id(enum keel_sig_scheme s, ptrdiff_t *len)
{
	const struct scheme_info *si = scheme_info(s);
	*len = si ? (ptrdiff_t)si->alg_len : 0;
	return si ? si->alg : NULL;
}

const char *keel_key_reason_text(enum keel_key_reason r)
{
	switch (r) {
	case KEEL_KEY_OK:
		return "loaded";
	case KEEL_KEY_PASSPHRASE_NEEDED:
		return "the key is encrypted and needs a passphrase";
	case KEEL_KEY_PASSPHRASE_WRONG:
		return "wrong passphrase";
	case KEEL_KEY_NOT_A_KEY:
		return "not a private key in a known format";
	case KEEL_KEY_UNSUPPORTED_TYPE:
		return "unsupported key type";
	case KEEL_KEY_UNSUPPORTED_CIPHER:
		return "encrypted with an unsupported (legacy) algorithm";
	case KEEL_KEY_NO_CERT:
		return "no private key and certificate in the file";
	}
	return "unknown";
}

const char *keel_key_type_name(enum keel_key_type t)
{
	switch (t) {
	case KEEL_KEY_RSA:
		return "RSA";
	case KEEL_KEY_EC_P256:
		return "ECDSA P-256";
	case KEEL_KEY_EC_P384:
		return "ECDSA P-384";
	case KEEL_KEY_EC_P521:
		return "ECDSA P-521";
	case KEEL_KEY_ED25519:
		return "Ed25519";
	case KEEL_KEY_ED448:
		return "Ed448";
	}
	return "unknown";
}

/* ---- DER reading -------------------------------------------------------- */

/* One TLV: a low tag number and a definite, minimally encoded length. */
static bool der_next(struct keel_rd *r, uint8_t *tag, struct keel_rd *content)
{
	*tag = keel_rd_u8(r);
	uint8_t l = keel_rd_u8(r);
	size_t len;

	if (r->bad || (*tag & 0x1f) == 0x1f)
		return false;
	if (l < 0x80) {
		len = l;
	} else if (l == 0x81) {
		len = keel_rd_u8(r);
		if (len < 0x80)
			return false;
	} else if (l == 0x82) {
		len = keel_rd_u16(r);
		if (len < 0x100)
			return false;
	} else {
		return false;
	}
	*content = keel_rd_sub(r, len);
	return !r->bad;
}

static bool rd_equals(const struct keel_rd *r, const uint8_t *p, size_t n)
{
	return r->left == n && memcmp(r->p, p, n) == 0;
}

#define DER_SEQUENCE 0x30
#define DER_OID      0x06
#define DER_NULL     0x05
#define DER_INTEGER  0x02

/* A small non-negative INTEGER (up to 16 bits). */
static bool der_small_int(struct keel_rd *r, unsigned *out)
{
	uint8_t tag;
	struct keel_rd c;
	if (!der_next(r, &tag, &c) || tag != DER_INTEGER || c.left < 1 || c.left > 3)
		return false;
	unsigned v = 0;
	bool first = true;
	while (c.left > 0) {
		uint8_t b = keel_rd_u8(&c);
		if (first && (b & 0x80))
			return false; /* negative */
		first = false;
		v = v << 8 | b;
	}
	if (v > 0xffff)
		return false;
	*out = v;
	return true;
}

/* AlgorithmIdentifier of a hash (RFC 4055 §2.1: parameters NULL or absent). */
static int der_hash_alg(struct keel_rd *r, enum keel_hash_alg *out)
{
	uint8_t tag;
	struct keel_rd seq, oid, par;
	if (!der_next(r, &tag, &seq) || tag != DER_SEQUENCE || !der_next(&seq, &tag, &oid) ||
	    tag != DER_OID)
		return KEEL_ERR_MALFORMED;
	if (seq.left > 0 &&
	    (!der_next(&seq, &tag, &par) || tag != DER_NULL || par.left != 0 || seq.left != 0))
		return KEEL_ERR_MALFORMED;
	if (rd_equals(&oid, oid_sha1, sizeof(oid_sha1)))
		*out = KEEL_HASH_SHA1;
	else if (rd_equals(&oid, oid_sha256, sizeof(oid_sha256)))
		*out = KEEL_HASH_SHA2_256;
	else if (rd_equals(&oid, oid_sha384, sizeof(oid_sha384)))
		*out = KEEL_HASH_SHA2_384;
	else if (rd_equals(&oid, oid_sha512, sizeof(oid_sha512)))
		*out = KEEL_HASH_SHA2_512;
	else
		return KEEL_ERR_UNSUPPORTED;
	return 0;
}

static unsigned hash_len(enum keel_hash_alg h)
{
	switch (h) {
	case KEEL_HASH_SHA1:
		return 20;
	case KEEL_HASH_SHA2_256:
		return 32;
	case KEEL_HASH_SHA2_384:
		return 48;
	case KEEL_HASH_SHA2_512:
		return 64;
	case KEEL_HASH_IDENTITY:
		return 0;
	}
	return 0;
}

/* RSASSA-PSS-params, RFC 4055 §3.1 (every field optional, with defaults). */
static int der_pss_params(struct keel_rd *r, enum keel_sig_scheme *out)
{
	enum keel_hash_alg hash = KEEL_HASH_SHA1, mgf_hash = KEEL_HASH_SHA1;
	unsigned salt = 20, trailer = 1;
	uint8_t tag;
	struct keel_rd seq, field;
	int rc;

	if (!der_next(r, &tag, &seq) || tag != DER_SEQUENCE)
		return KEEL_ERR_MALFORMED;
	int last = -1;
	while (seq.left > 0) {
		if (!der_next(&seq, &tag, &field) || tag < 0xa0 || tag > 0xa3 ||
		    (int)(tag - 0xa0) <= last)
			return KEEL_ERR_MALFORMED; /* [0]..[3], each at most once, in order */
		last = tag - 0xa0;
		switch (tag) {
		case 0xa0:
			rc = der_hash_alg(&field, &hash);
			if (rc < 0)
				return rc;
			break;
		case 0xa1: {
			struct keel_rd mgf, oid;
			if (!der_next(&field, &tag, &mgf) || tag != DER_SEQUENCE ||
			    !der_next(&mgf, &tag, &oid) || tag != DER_OID)
				return KEEL_ERR_MALFORMED;
			if (!rd_equals(&oid, oid_mgf1, sizeof(oid_mgf1)))
				return KEEL_ERR_UNSUPPORTED;
			rc = der_hash_alg(&mgf, &mgf_hash);
			if (rc < 0)
				return rc;
			if (mgf.left != 0)
				return KEEL_ERR_MALFORMED;
			break;
		}
		case 0xa2:
			if (!der_small_int(&field, &salt))
				return KEEL_ERR_MALFORMED;
			break;
		case 0xa3:
			if (!der_small_int(&field, &trailer))
				return KEEL_ERR_MALFORMED;
			break;
		default:
			return KEEL_ERR_MALFORMED;
		}
		if (field.left != 0)
			return KEEL_ERR_MALFORMED;
	}
	/* RFC 4055 §3.1: trailerField 1 is the only one defined. Keel verifies
	 * the common profile: MGF1 with the message hash, salt of hash length
	 * (RFC 8247 §3.2 and what RFC 7427 A.4.3 shows). */
	if (trailer != 1 || hash != mgf_hash || salt != hash_len(hash))
		return KEEL_ERR_UNSUPPORTED;
	switch (hash) {
	case KEEL_HASH_SHA2_256:
		*out = KEEL_SIG_RSA_PSS_SHA256;
		return 0;
	case KEEL_HASH_SHA2_384:
		*out = KEEL_SIG_RSA_PSS_SHA384;
		return 0;
	case KEEL_HASH_SHA2_512:
		*out = KEEL_SIG_RSA_PSS_SHA512;
		return 0;
	case KEEL_HASH_SHA1:
	case KEEL_HASH_IDENTITY:
		break;
	}
	return KEEL_ERR_UNSUPPORTED;
}

int keel_sig_parse_algorithm_id(const uint8_t *der, ptrdiff_t len, enum keel_sig_scheme *out)
{
	if (!der || len <= 0)
		return KEEL_ERR_MALFORMED;
	struct keel_rd r = keel_rd_init(der, (size_t)len);
	struct keel_rd seq, oid, par;
	uint8_t tag;
	enum keel_sig_scheme s;

	if (!der_next(&r, &tag, &seq) || tag != DER_SEQUENCE || r.left != 0 ||
	    !der_next(&seq, &tag, &oid) || tag != DER_OID)
		return KEEL_ERR_MALFORMED;

	if (rd_equals(&oid, oid_rsassa_pss, sizeof(oid_rsassa_pss))) {
		/* RFC 7427 §3: parameters are required for PSS (no "empty" form). */
		int rc = der_pss_params(&seq, &s);
		if (rc < 0)
			return rc;
		if (seq.left != 0)
			return KEEL_ERR_MALFORMED;
		*out = s;
		return 0;
	}

	if (rd_equals(&oid, oid_sha1_rsa, sizeof(oid_sha1_rsa))) {
		s = KEEL_SIG_RSA_PKCS1_SHA1;
	} else if (rd_equals(&oid, oid_sha256_rsa, sizeof(oid_sha256_rsa))) {
		s = KEEL_SIG_RSA_PKCS1_SHA256;
	} else if (rd_equals(&oid, oid_sha384_rsa, sizeof(oid_sha384_rsa))) {
		s = KEEL_SIG_RSA_PKCS1_SHA384;
	} else if (rd_equals(&oid, oid_sha512_rsa, sizeof(oid_sha512_rsa))) {
		s = KEEL_SIG_RSA_PKCS1_SHA512;
	} else if (rd_equals(&oid, oid_ecdsa_sha256, sizeof(oid_ecdsa_sha256))) {
		s = KEEL_SIG_ECDSA_SHA256;
	} else if (rd_equals(&oid, oid_ecdsa_sha384, sizeof(oid_ecdsa_sha384))) {
		s = KEEL_SIG_ECDSA_SHA384;
	} else if (rd_equals(&oid, oid_ecdsa_sha512, sizeof(oid_ecdsa_sha512))) {
		s = KEEL_SIG_ECDSA_SHA512;
	} else if (rd_equals(&oid, oid_ed25519, sizeof(oid_ed25519))) {
		s = KEEL_SIG_ED25519;
	} else if (rd_equals(&oid, oid_ed448, sizeof(oid_ed448))) {
		s = KEEL_SIG_ED448;
	} else {
		return KEEL_ERR_UNSUPPORTED;
	}
	/* PKCS#1 has NULL parameters (RFC 4055 §5), the others none; an absent
	 * NULL or an extra NULL is tolerated: both are seen and mean nothing. */
	if (seq.left > 0) {
		if (!der_next(&seq, &tag, &par) || tag != DER_NULL || par.left != 0 ||
		    seq.left != 0)
			return KEEL_ERR_MALFORMED;
	}
	*out = s;
	return 0;
}

/* ---- keys ---------------------------------------------------------------- */

static bool key_type_of(EVP_PKEY *pkey, enum keel_key_type *out)
{
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		*out = KEEL_KEY_RSA;
		return true;
	}
	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		*out = KEEL_KEY_ED25519;
		return true;
	}
	if (EVP_PKEY_is_a(pkey, "ED448")) {
		*out = KEEL_KEY_ED448;
		return true;
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		char name[64];
		size_t name_len = 0;
		if (!EVP_PKEY_get_group_name(pkey, name, sizeof(name), &name_len))
			return false;
		int nid = OBJ_sn2nid(name);
		if (nid == NID_undef)
			nid = EC_curve_nist2nid(name);
		switch (nid) {
		case NID_X9_62_prime256v1:
			*out = KEEL_KEY_EC_P256;
			return true;
		case NID_secp384r1:
			*out = KEEL_KEY_EC_P384;
			return true;
		case NID_secp521r1:
			*out = KEEL_KEY_EC_P521;
			return true;
		default:
			return false;
		}
	}
	return false;
}

struct keel_privkey *keel_privkey_take_evp(EVP_PKEY *pkey)
{
	enum keel_key_type type;
	struct keel_privkey *k = NULL;
	if (!pkey || !key_type_of(pkey, &type))
		goto out;
	k = calloc(1, sizeof(*k));
	if (!k)
		goto out;
	k->pkey = pkey;
	k->type = type;
	return k;
out:
	EVP_PKEY_free(pkey);
	return NULL;
}

struct keel_pubkey *keel_pubkey_take_evp(EVP_PKEY *pkey)
{
	enum keel_key_type type;
	struct keel_pubkey *k = NULL;
	if (!pkey || !key_type_of(pkey, &type))
		goto out;
	k = calloc(1, sizeof(*k));
	if (!k)
		goto out;
	k->pkey = pkey;
	k->type = type;
	return k;
out:
	EVP_PKEY_free(pkey);
	return NULL;
}

EVP_PKEY *keel_privkey_evp(const struct keel_privkey *k)
{
	return k->pkey;
}

EVP_PKEY *keel_pubkey_evp(const struct keel_pubkey *k)
{
	return k->pkey;
}

void keel_privkey_free(struct keel_privkey *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

void keel_pubkey_free(struct keel_pubkey *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

enum keel_key_type keel_privkey_type(const struct keel_privkey *k)
{
	return k->type;
}

enum keel_key_type keel_pubkey_type(const struct keel_pubkey *k)
{
	return k->type;
}

int keel_privkey_bits(const struct keel_privkey *k)
{
	return EVP_PKEY_get_bits(k->pkey);
}

int keel_pubkey_bits(const struct keel_pubkey *k)
{
	return EVP_PKEY_get_bits(k->pkey);
}

int keel_privkey_public(const struct keel_privkey *k, struct keel_pubkey **out)
{
	int rc = KEEL_ERR_CRYPTO;
	unsigned char *der = NULL;
	EVP_PKEY *pub = NULL;
	int der_len = i2d_PUBKEY(k->pkey, &der);
	if (der_len <= 0)
		goto out;
	const unsigned char *p = der;
	pub = d2i_PUBKEY(NULL, &p, der_len);
	if (!pub)
		goto out;
	struct keel_pubkey *pk = keel_pubkey_take_evp(pub);
	pub = NULL;
	if (!pk) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	*out = pk;
	rc = 0;
out:
	OPENSSL_free(der);
	ERR_clear_error();
	return rc;
}

struct pw_state {
	const struct keel_secret *pass;
	bool asked;
};

/* OSSL_PASSPHRASE_CALLBACK: OpenSSL owns (and cleanses) buf. */
static int pw_cb(char *buf, size_t size, size_t *len, const OSSL_PARAM params[], void *arg)
{
	struct pw_state *st = arg;
	(void)params;
	st->asked = true;
	if (!st->pass)
		return 0;
	size_t n = (size_t)keel_secret_len(st->pass);
	if (n > size)
		return 0;
	if (n > 0)
		memcpy(buf, keel_secret_data(st->pass), n);
	*len = n;
	return 1;
}

/* Finds the first PEM block whose label ends in "PRIVATE KEY"; *is_pem tells
 * whether there is any PEM at all. */
static const uint8_t *find_pem_key(const uint8_t *data, size_t len, bool *is_pem)
{
	static const char begin[] = "-----BEGIN ";
	static const char label_end[] = "PRIVATE KEY-----";
	const uint8_t *p = data;
	size_t left = len;

	*is_pem = false;
	for (;;) {
		const uint8_t *b = memmem(p, left, begin, sizeof(begin) - 1);
		if (!b)
			return NULL;
		*is_pem = true;
		size_t off = (size_t)(b - data) + sizeof(begin) - 1;
		const uint8_t *eol = memchr(data + off, '\n', len - off);
		size_t line_len = eol ? (size_t)(eol - (data + off)) : len - off;
		if (line_len > 0 && data[off + line_len - 1] == '\r')
			line_len--;
		if (line_len >= sizeof(label_end) - 1 &&
		    memcmp(data + off + line_len - (sizeof(label_end) - 1), label_end,
		           sizeof(label_end) - 1) == 0)
			return b;
		p = data + off;
		left = len - off;
	}
}

int keel_privkey_load(const uint8_t *data, ptrdiff_t len, const struct keel_secret *passphrase,
                      struct keel_privkey **out, enum keel_key_reason *reason)
{
	enum keel_key_reason why = KEEL_KEY_NOT_A_KEY;
	int rc = KEEL_ERR_MALFORMED;
	EVP_PKEY *pkey = NULL;
	OSSL_DECODER_CTX *dctx = NULL;
	struct pw_state pw = {.pass = passphrase, .asked = false};
	bool is_pem;

	if (!data || len <= 0) {
		rc = KEEL_ERR_INVAL;
		goto out;
	}
	const uint8_t *start = find_pem_key(data, (size_t)len, &is_pem);
	if (is_pem && !start)
		goto out; /* PEM, but no private key block */
	if (!start)
		start = data;
	size_t in_len = (size_t)len - (size_t)(start - data);

	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, is_pem ? "PEM" : "DER", NULL, NULL,
	                                     EVP_PKEY_KEYPAIR, NULL, NULL);
	if (!dctx || !OSSL_DECODER_CTX_set_passphrase_cb(dctx, pw_cb, &pw)) {
		rc = KEEL_ERR_NOMEM;
		why = KEEL_KEY_OK;
		goto out;
	}
	const unsigned char *p = start;
	size_t p_len = in_len;
	if (!OSSL_DECODER_from_data(dctx, &p, &p_len) || !pkey) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
		if (pw.asked) {
			rc = KEEL_ERR_AUTH;
			why = passphrase ? KEEL_KEY_PASSPHRASE_WRONG : KEEL_KEY_PASSPHRASE_NEEDED;
		}
		goto out;
	}
	enum keel_key_type type;
	if (!key_type_of(pkey, &type)) {
		rc = KEEL_ERR_UNSUPPORTED;
		why = KEEL_KEY_UNSUPPORTED_TYPE;
		goto out;
	}
	struct keel_privkey *k = keel_privkey_take_evp(pkey);
	pkey = NULL;
	if (!k) {
		rc = KEEL_ERR_NOMEM;
		why = KEEL_KEY_OK;
		goto out;
	}
	*out = k;
	rc = 0;
	why = KEEL_KEY_OK;
out:
	EVP_PKEY_free(pkey);
	OSSL_DECODER_CTX_free(dctx);
	ERR_clear_error();
	if (reason)
		*reason = why;
	return rc;
}

/* ---- signing and verifying ---------------------------------------------- */

/* Bytes of r and of s in the RFC 4754 §7 encoding. */
static size_t ecdsa_field_len(enum keel_key_type t)
{
	switch (t) {
	case KEEL_KEY_EC_P256:
		return 32;
	case KEEL_KEY_EC_P384:
		return 48;
	case KEEL_KEY_EC_P521:
		return 66;
	case KEEL_KEY_RSA:
	case KEEL_KEY_ED25519:
	case KEEL_KEY_ED448:
		break;
	}
	return 0;
}

static bool scheme_fits_key(const struct scheme_info *si, enum keel_key_type t)
{
	switch (si->kind) {
	case KIND_PKCS1:
	case KIND_PSS:
		return t == KEEL_KEY_RSA;
	case KIND_ECDSA:
		return ecdsa_field_len(t) != 0;
	case KIND_EDDSA:
		return (si->scheme == KEEL_SIG_ED25519 && t == KEEL_KEY_ED25519) ||
		       (si->scheme == KEEL_SIG_ED448 && t == KEEL_KEY_ED448);
	}
	return false;
}

/* The classic ECDSA methods of RFC 4754 §3 / RFC 7296 §3.8: curve and hash fixed. */
static bool classic_ecdsa(uint8_t method, enum keel_key_type *curve, enum keel_sig_scheme *s)
{
	switch (method) {
	case 9:
		*curve = KEEL_KEY_EC_P256;
		*s = KEEL_SIG_ECDSA_SHA256;
		return true;
	case 10:
		*curve = KEEL_KEY_EC_P384;
		*s = KEEL_SIG_ECDSA_SHA384;
		return true;
	case 11:
		*curve = KEEL_KEY_EC_P521;
		*s = KEEL_SIG_ECDSA_SHA512;
		return true;
	default:
		return false;
	}
}

static bool iov_ok(const struct keel_iov *in, size_t n)
{
	if (n > 0 && !in)
		return false;
	for (size_t i = 0; i < n; i++)
		if (in[i].len < 0 || (in[i].len > 0 && !in[i].data))
			return false;
	return true;
}

/* EdDSA signs in one pass over the whole message (RFC 8032): flatten it. */
static uint8_t *flatten(const struct keel_iov *in, size_t n, size_t *out_len)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += (size_t)in[i].len;
	uint8_t *buf = malloc(total ? total : 1);
	if (!buf)
		return NULL;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i].len > 0)
			memcpy(buf + off, in[i].data, (size_t)in[i].len);
		off += (size_t)in[i].len;
	}
	*out_len = total;
	return buf;
}

static int setup_pss(EVP_PKEY_CTX *pctx, const struct scheme_info *si)
{
	if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, si->md, NULL) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0)
		return KEEL_ERR_CRYPTO;
	return 0;
}

/* Signs with EVP; sig has room for EVP_PKEY_get_size() bytes. */
static int evp_sign(EVP_PKEY *pkey, const struct scheme_info *si, const struct keel_iov *in,
                    size_t n, uint8_t *sig, size_t *sig_len)
{
	int rc = KEEL_ERR_CRYPTO;
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t *flat = NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	if (!mctx) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestSignInit_ex(mctx, &pctx, si->md, NULL, NULL, pkey, NULL) <= 0)
		goto out;
	if (si->kind == KIND_PSS && setup_pss(pctx, si) < 0)
		goto out;
	if (si->kind == KIND_EDDSA) {
		size_t flat_len;
		flat = flatten(in, n, &flat_len);
		if (!flat) {
			rc = KEEL_ERR_NOMEM;
			goto out;
		}
		if (EVP_DigestSign(mctx, sig, sig_len, flat, flat_len) <= 0)
			goto out;
	} else {
		for (size_t i = 0; i < n; i++)
			if (in[i].len > 0 &&
			    EVP_DigestSignUpdate(mctx, in[i].data, (size_t)in[i].len) <= 0)
				goto out;
		if (EVP_DigestSignFinal(mctx, sig, sig_len) <= 0)
			goto out;
	}
	rc = 0;
out:
	free(flat);
	EVP_MD_CTX_free(mctx);
	ERR_clear_error();
	return rc;
}

/* 0 for a good signature, KEEL_ERR_AUTH for a bad one. */
static int evp_verify(EVP_PKEY *pkey, const struct scheme_info *si, const struct keel_iov *in,
                      size_t n, const uint8_t *sig, size_t sig_len)
{
	int rc = KEEL_ERR_CRYPTO;
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t *flat = NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	if (!mctx) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit_ex(mctx, &pctx, si->md, NULL, NULL, pkey, NULL) <= 0)
		goto out;
	if (si->kind == KIND_PSS && setup_pss(pctx, si) < 0)
		goto out;
	int ok;
	if (si->kind == KIND_EDDSA) {
		size_t flat_len;
		flat = flatten(in, n, &flat_len);
		if (!flat) {
			rc = KEEL_ERR_NOMEM;
			goto out;
		}
		ok = EVP_DigestVerify(mctx, sig, sig_len, flat, flat_len);
	} else {
		for (size_t i = 0; i < n; i++)
			if (in[i].len > 0 &&
			    EVP_DigestVerifyUpdate(mctx, in[i].data, (size_t)in[i].len) <= 0)
				goto out;
		ok = EVP_DigestVerifyFinal(mctx, sig, sig_len);
	}
	/* 0: wrong signature; < 0: one that does not even parse (DER, length) */
	rc = ok == 1 ? 0 : KEEL_ERR_AUTH;
out:
	free(flat);
	EVP_MD_CTX_free(mctx);
	ERR_clear_error();
	return rc;
}

/* DER Ecdsa-Sig-Value -> r | s, each field_len bytes (RFC 4754 §7). */
static int ecdsa_der_to_rs(const uint8_t *der, size_t der_len, size_t field_len, uint8_t *out)
{
	int rc = KEEL_ERR_CRYPTO;
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (!es)
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, out, (int)field_len) < 0 ||
	    BN_bn2binpad(s, out + field_len, (int)field_len) < 0)
		goto out;
	rc = 0;
out:
	ECDSA_SIG_free(es);
	return rc;
}

/* r | s -> DER; *der is OPENSSL_malloc'd. */
static int ecdsa_rs_to_der(const uint8_t *rs, size_t field_len, uint8_t **der, size_t *der_len)
{
	int rc = KEEL_ERR_CRYPTO;
	BIGNUM *r = BN_bin2bn(rs, (int)field_len, NULL);
	BIGNUM *s = BN_bin2bn(rs + field_len, (int)field_len, NULL);
	ECDSA_SIG *es = ECDSA_SIG_new();
	if (!r || !s || !es)
		goto out;
	if (!ECDSA_SIG_set0(es, r, s))
		goto out;
	r = s = NULL; /* owned by es */
	unsigned char *p = NULL;
	int n = i2d_ECDSA_SIG(es, &p);
	if (n <= 0)
		goto out;
	*der = p;
	*der_len = (size_t)n;
	rc = 0;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return rc;
}

/* ---- SIGNATURE_HASH_ALGORITHMS ------------------------------------------ */

ptrdiff_t keel_sig_hashes_build(uint8_t *out, ptrdiff_t cap)
{
	static const uint16_t ours[] = {KEEL_HASH_SHA2_256, KEEL_HASH_SHA2_384, KEEL_HASH_SHA2_512,
	                                KEEL_HASH_IDENTITY};
	if (cap < 0)
		return KEEL_ERR_NOBUF;
	struct keel_wr w = keel_wr_init(out, (size_t)cap);
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		keel_wr_u16(&w, ours[i]);
	return keel_wr_finish(&w);
}

int keel_sig_hashes_parse(const uint8_t *data, ptrdiff_t len, unsigned *mask)
{
	if (len < 0 || (len > 0 && !data) || len % 2 != 0)
		return KEEL_ERR_MALFORMED;
	struct keel_rd r = keel_rd_init(data, (size_t)len);
	unsigned m = 0;
	while (r.left > 0) {
		uint16_t h = keel_rd_u16(&r);
		if (h >= KEEL_HASH_SHA1 && h <= KEEL_HASH_IDENTITY)
			m |= KEEL_HASH_BIT(h);
	}
	*mask = m;
	return 0;
}

/* ---- IKEv2 AUTH ---------------------------------------------------------- */

static enum keel_sig_scheme scheme_for(enum kind kind, enum keel_hash_alg h)
{
	switch (h) {
	case KEEL_HASH_SHA2_384:
		return kind == KIND_PSS     ? KEEL_SIG_RSA_PSS_SHA384
		       : kind == KIND_ECDSA ? KEEL_SIG_ECDSA_SHA384
		                            : KEEL_SIG_RSA_PKCS1_SHA384;
	case KEEL_HASH_SHA2_512:
		return kind == KIND_PSS     ? KEEL_SIG_RSA_PSS_SHA512
		       : kind == KIND_ECDSA ? KEEL_SIG_ECDSA_SHA512
		                            : KEEL_SIG_RSA_PKCS1_SHA512;
	case KEEL_HASH_SHA2_256:
	case KEEL_HASH_SHA1:
	case KEEL_HASH_IDENTITY:
		break;
	}
	return kind == KIND_PSS     ? KEEL_SIG_RSA_PSS_SHA256
	       : kind == KIND_ECDSA ? KEEL_SIG_ECDSA_SHA256
	                            : KEEL_SIG_RSA_PKCS1_SHA256;
}

int keel_sig_choose(const struct keel_privkey *key, unsigned peer_hashes, bool prefer_pss,
                    struct keel_sig_choice *out)
{
	static const enum keel_hash_alg sha2[] = {KEEL_HASH_SHA2_256, KEEL_HASH_SHA2_384,
	                                          KEEL_HASH_SHA2_512};
	enum keel_hash_alg common = KEEL_HASH_SHA1;
	for (size_t i = 0; i < 3; i++) {
		if (peer_hashes & KEEL_HASH_BIT(sha2[i])) {
			common = sha2[i];
			break;
		}
	}

	switch (key->type) {
	case KEEL_KEY_RSA:
		if (common == KEEL_HASH_SHA1) {
			out->auth_method = 1; /* RFC 7296 §3.8 RSA Digital Signature */
			out->scheme = KEEL_SIG_RSA_PKCS1_SHA1;
		} else {
			out->auth_method = 14;
			out->scheme = scheme_for(prefer_pss ? KIND_PSS : KIND_PKCS1, common);
		}
		return 0;
	case KEEL_KEY_EC_P256:
	case KEEL_KEY_EC_P384:
	case KEEL_KEY_EC_P521: {
		enum keel_hash_alg own = key->type == KEEL_KEY_EC_P256   ? KEEL_HASH_SHA2_256
		                         : key->type == KEEL_KEY_EC_P384 ? KEEL_HASH_SHA2_384
		                                                         : KEEL_HASH_SHA2_512;
		if (common == KEEL_HASH_SHA1) {
			out->auth_method = key->type == KEEL_KEY_EC_P256   ? 9
			                   : key->type == KEEL_KEY_EC_P384 ? 10
			                                                   : 11;
			out->scheme = scheme_for(KIND_ECDSA, own);
		} else {
			out->auth_method = 14;
			out->scheme = scheme_for(KIND_ECDSA,
			                         (peer_hashes & KEEL_HASH_BIT(own)) ? own : common);
		}
		return 0;
	}
	case KEEL_KEY_ED25519:
	case KEEL_KEY_ED448:
		/* RFC 8420 §2: only with the Identity "hash" announced */
		if (!(peer_hashes & KEEL_HASH_BIT(KEEL_HASH_IDENTITY)))
			return KEEL_ERR_UNSUPPORTED;
		out->auth_method = 14;
		out->scheme = key->type == KEEL_KEY_ED25519 ? KEEL_SIG_ED25519 : KEEL_SIG_ED448;
		return 0;
	}
	return KEEL_ERR_UNSUPPORTED;
}

#define ALG_ID_MAX_LEN 80

ptrdiff_t keel_sig_auth_max_len(const struct keel_privkey *key)
{
	return 1 + ALG_ID_MAX_LEN + EVP_PKEY_get_size(key->pkey);
}

ptrdiff_t keel_sig_auth_sign(const struct keel_privkey *key, const struct keel_sig_choice *choice,
                             const struct keel_iov *octets, size_t n_octets, uint8_t *out,
                             ptrdiff_t cap)
{
	ptrdiff_t rc = KEEL_ERR_INVAL;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	const struct scheme_info *si = scheme_info(choice->scheme);
	enum keel_key_type curve;
	enum keel_sig_scheme classic;

	if (!si || !scheme_fits_key(si, key->type) || !iov_ok(octets, n_octets) || cap < 0)
		goto out;
	switch (choice->auth_method) {
	case 1: /* RFC 7296 §3.8: RSASSA-PKCS1-v1_5; SHA-1 is what implementations use */
		if (si->scheme != KEEL_SIG_RSA_PKCS1_SHA1)
			goto out;
		break;
	case 9:
	case 10:
	case 11:
		if (!classic_ecdsa(choice->auth_method, &curve, &classic) || curve != key->type ||
		    classic != si->scheme)
			goto out;
		break;
	case 14:
		break;
	default:
		goto out;
	}

	int max = EVP_PKEY_get_size(key->pkey);
	if (max <= 0) {
		rc = KEEL_ERR_CRYPTO;
		goto out;
	}
	sig_len = (size_t)max;
	sig = malloc(sig_len);
	if (!sig) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	rc = evp_sign(key->pkey, si, octets, n_octets, sig, &sig_len);
	if (rc < 0)
		goto out;

	struct keel_wr w = keel_wr_init(out, (size_t)cap);
	if (choice->auth_method == 14) {
		/* RFC 7427 §3: ASN.1 Length (1 octet) | AlgorithmIdentifier | Signature */
		keel_wr_u8(&w, (uint8_t)si->alg_len);
		keel_wr_bytes(&w, si->alg, si->alg_len);
		keel_wr_bytes(&w, sig, sig_len);
	} else if (si->kind == KIND_ECDSA) {
		size_t field = ecdsa_field_len(key->type);
		uint8_t *rs = keel_wr_reserve(&w, 2 * field);
		if (rs) {
			rc = ecdsa_der_to_rs(sig, sig_len, field, rs);
			if (rc < 0)
				goto out;
		}
	} else {
		keel_wr_bytes(&w, sig, sig_len);
	}
	rc = keel_wr_finish(&w);
out:
	free(sig);
	return rc;
}

int keel_sig_auth_verify(const struct keel_pubkey *key, uint8_t auth_method, const uint8_t *data,
                         ptrdiff_t len, const struct keel_iov *octets, size_t n_octets,
                         unsigned flags, enum keel_sig_scheme *scheme)
{
	int rc;
	const struct scheme_info *si;
	enum keel_sig_scheme s;
	enum keel_key_type curve;
	uint8_t *der = NULL;

	if (!data || len <= 0)
		return KEEL_ERR_MALFORMED;
	if (!iov_ok(octets, n_octets))
		return KEEL_ERR_INVAL;
	struct keel_rd r = keel_rd_init(data, (size_t)len);

	switch (auth_method) {
	case 1:
		si = scheme_info(KEEL_SIG_RSA_PKCS1_SHA1);
		if (key->type != KEEL_KEY_RSA)
			return KEEL_ERR_AUTH;
		break;
	case 9:
	case 10:
	case 11:
		classic_ecdsa(auth_method, &curve, &s);
		si = scheme_info(s);
		/* RFC 4754 §3: the method names the curve */
		if (key->type != curve)
			return KEEL_ERR_AUTH;
		break;
	case 14: {
		/* RFC 7427 §3 */
		uint8_t alg_len = keel_rd_u8(&r);
		const uint8_t *alg = keel_rd_bytes(&r, alg_len);
		if (r.bad || alg_len == 0)
			return KEEL_ERR_MALFORMED;
		rc = keel_sig_parse_algorithm_id(alg, alg_len, &s);
		if (rc < 0)
			return rc;
		si = scheme_info(s);
		if (!scheme_fits_key(si, key->type))
			return KEEL_ERR_AUTH;
		break;
	}
	default:
		return KEEL_ERR_UNSUPPORTED;
	}
	if (si->hash == KEEL_HASH_SHA1 && !(flags & KEEL_SIG_ALLOW_SHA1))
		return KEEL_ERR_AUTH;
	if (r.left == 0)
		return KEEL_ERR_MALFORMED;

	const uint8_t *sig = r.p;
	size_t sig_len = r.left;
	if (auth_method >= 9 && auth_method <= 11) {
		size_t field = ecdsa_field_len(key->type);
		if (sig_len != 2 * field)
			return KEEL_ERR_MALFORMED;
		size_t der_len;
		rc = ecdsa_rs_to_der(sig, field, &der, &der_len);
		if (rc < 0)
			goto out;
		sig = der;
		sig_len = der_len;
	}
	rc = evp_verify(key->pkey, si, octets, n_octets, sig, sig_len);
	if (rc == 0 && scheme)
		*scheme = si->scheme;
out:
	OPENSSL_free(der);
	return rc;
}

/* ---- IKEv1 --------------------------------------------------------------- */

ptrdiff_t keel_sig_v1_max_len(const struct keel_privkey *key)
{
	size_t field = ecdsa_field_len(key->type);
	return field ? (ptrdiff_t)(2 * field) : EVP_PKEY_get_size(key->pkey);
}

/* RFC 2409 §5.1: PKCS#1 type 1 padding of HASH_I itself, no DigestInfo. */
static ptrdiff_t v1_rsa_sign(EVP_PKEY *pkey, const uint8_t *hash, size_t hash_len, uint8_t *out,
                             size_t cap)
{
	ptrdiff_t rc = KEEL_ERR_CRYPTO;
	if (cap < (size_t)EVP_PKEY_get_size(pkey))
		return KEEL_ERR_NOBUF;
	/* no signature digest is set on the context */
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
		goto out;
	size_t out_len = cap;
	if (EVP_PKEY_sign(ctx, out, &out_len, hash, hash_len) <= 0)
		goto out;
	rc = (ptrdiff_t)out_len;
out:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* ECDSA with HASH_I as the digest (no signature digest on the context), as r | s. */
static ptrdiff_t v1_ecdsa_sign(EVP_PKEY *pkey, size_t field, const uint8_t *hash, size_t hash_len,
                               uint8_t *out, size_t cap)
{
	ptrdiff_t rc = KEEL_ERR_CRYPTO;
	uint8_t der[160];
	size_t der_len = sizeof(der);
	if (cap < 2 * field)
		return KEEL_ERR_NOBUF;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 ||
	    EVP_PKEY_sign(ctx, der, &der_len, hash, hash_len) <= 0)
		goto out;
	if ((rc = ecdsa_der_to_rs(der, der_len, field, out)) == 0)
		rc = (ptrdiff_t)(2 * field);
out:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

ptrdiff_t keel_sig_v1_sign(const struct keel_privkey *key, const uint8_t *hash, ptrdiff_t hash_len,
                           uint8_t *out, ptrdiff_t cap)
{
	if (!hash || hash_len <= 0 || hash_len > 64 || cap < 0)
		return KEEL_ERR_INVAL;
	switch (key->type) {
	case KEEL_KEY_RSA:
		return v1_rsa_sign(key->pkey, hash, (size_t)hash_len, out, (size_t)cap);
	case KEEL_KEY_EC_P256:
	case KEEL_KEY_EC_P384:
	case KEEL_KEY_EC_P521:
		return v1_ecdsa_sign(key->pkey, ecdsa_field_len(key->type), hash, (size_t)hash_len,
		                     out, (size_t)cap);
	case KEEL_KEY_ED25519:
	case KEEL_KEY_ED448:
		break;
	}
	return KEEL_ERR_UNSUPPORTED;
}

static int v1_rsa_verify(EVP_PKEY *pkey, const uint8_t *hash, size_t hash_len, const uint8_t *sig,
                         size_t sig_len)
{
	int rc = KEEL_ERR_CRYPTO;
	if (sig_len != (size_t)EVP_PKEY_get_size(pkey))
		return KEEL_ERR_MALFORMED;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!ctx || EVP_PKEY_verify_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
		goto out;
	rc = EVP_PKEY_verify(ctx, sig, sig_len, hash, hash_len) == 1 ? 0 : KEEL_ERR_AUTH;
out:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/*
 * r | s of the curve's length (RFC 4754 §7) over HASH_R as the digest, as
 * strongSwan signs; failing that, over the method's hash of HASH_R (RFC 4754
 * §4 read as ECDSA signing HASH_R as its message).
 */
static int v1_ecdsa_verify(const struct keel_pubkey *key, const uint8_t *hash, size_t hash_len,
                           const uint8_t *sig, size_t sig_len)
{
	int rc = KEEL_ERR_CRYPTO;
	size_t field = ecdsa_field_len(key->type), der_len = 0;
	uint8_t *der = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	if (sig_len != 2 * field)
		return KEEL_ERR_MALFORMED;
	if ((rc = ecdsa_rs_to_der(sig, field, &der, &der_len)) < 0)
		goto out;
	rc = KEEL_ERR_CRYPTO;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
	if (!ctx || EVP_PKEY_verify_init(ctx) <= 0)
		goto out;
	if (EVP_PKEY_verify(ctx, der, der_len, hash, hash_len) == 1) {
		rc = 0;
		goto out;
	}
	enum keel_hash_alg h = key->type == KEEL_KEY_EC_P256   ? KEEL_HASH_SHA2_256
	                       : key->type == KEEL_KEY_EC_P384 ? KEEL_HASH_SHA2_384
	                                                       : KEEL_HASH_SHA2_512;
	struct keel_iov in = {hash, (ptrdiff_t)hash_len};
	rc = evp_verify(key->pkey, scheme_info(scheme_for(KIND_ECDSA, h)), &in, 1, der, der_len);
out:
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_free(der);
	ERR_clear_error();
	return rc;
}

int keel_sig_v1_verify(const struct keel_pubkey *key, const uint8_t *hash, ptrdiff_t hash_len,
                       const uint8_t *sig, ptrdiff_t sig_len)
{
	if (!hash || hash_len <= 0 || hash_len > 64)
		return KEEL_ERR_INVAL;
	if (!sig || sig_len <= 0)
		return KEEL_ERR_MALFORMED;
	switch (key->type) {
	case KEEL_KEY_RSA:
		return v1_rsa_verify(key->pkey, hash, (size_t)hash_len, sig, (size_t)sig_len);
	case KEEL_KEY_EC_P256:
	case KEEL_KEY_EC_P384:
	case KEEL_KEY_EC_P521:
		return v1_ecdsa_verify(key, hash, (size_t)hash_len, sig, (size_t)sig_len);
	case KEEL_KEY_ED25519:
	case KEEL_KEY_ED448:
		break;
	}
	return KEEL_ERR_AUTH;
}
