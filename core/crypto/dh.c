/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Diffie-Hellman for IKE over OpenSSL 3 EVP_PKEY: MODP groups 14-18
 * (RFC 3526), ECP groups 19-21 (RFC 5903) and Curve25519/Curve448
 * (RFC 8031, RFC 7748), with the peer checks of RFC 6989 and RFC 8031 §3.2.
 *
 * Private keys are drawn from struct keel_env and imported with
 * EVP_PKEY_fromdata() / EVP_PKEY_new_raw_private_key_ex(). OpenSSL 3.0 does
 * not derive a public key on import, so for MODP and ECP it is computed here
 * with BN_mod_exp_mont_consttime() and EC_POINT_mul() and imported with the
 * private key.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include <keel/secret.h>

#include "crypto/dh.h"

enum kind {
	KIND_MODP,
	KIND_ECP,
	KIND_XDH,
};

struct group_info {
	enum keel_dh_group group;
	enum kind kind;
	const char *keytype; /* EVP_PKEY type name */
	const char *name;    /* OSSL_PKEY_PARAM_GROUP_NAME (MODP, ECP) */
	int nid;             /* ECP curve */
	size_t public_len;   /* wire format */
	size_t secret_len;
	size_t priv_len; /* bytes of a generated private key */
};

/*
 * MODP exponents are 2*s bits, s the security strength of the group (112,
 * 128, 152, 176, 200 bits as NIST SP 800-56A rev. 3 appendix D rates the
 * RFC 3526 groups): the shortest private key that keeps the group's
 * strength (SP 800-56A rev. 3 §5.6.1.1), and several times faster than a
 * full-size exponent for the large groups.
 */
static const struct group_info groups[] = {
    {KEEL_DH_MODP_2048, KIND_MODP, "DH", "modp_2048", 0, 256, 256, 224 / 8},
    {KEEL_DH_MODP_3072, KIND_MODP, "DH", "modp_3072", 0, 384, 384, 256 / 8},
    {KEEL_DH_MODP_4096, KIND_MODP, "DH", "modp_4096", 0, 512, 512, 304 / 8},
    {KEEL_DH_MODP_6144, KIND_MODP, "DH", "modp_6144", 0, 768, 768, 352 / 8},
    {KEEL_DH_MODP_8192, KIND_MODP, "DH", "modp_8192", 0, 1024, 1024, 400 / 8},
    {KEEL_DH_ECP_256, KIND_ECP, "EC", "P-256", NID_X9_62_prime256v1, 64, 32, 32},
    {KEEL_DH_ECP_384, KIND_ECP, "EC", "P-384", NID_secp384r1, 96, 48, 48},
    {KEEL_DH_ECP_521, KIND_ECP, "EC", "P-521", NID_secp521r1, 132, 66, 66},
    {KEEL_DH_CURVE25519, KIND_XDH, "X25519", NULL, 0, 32, 32, 32},
    {KEEL_DH_CURVE448, KIND_XDH, "X448", NULL, 0, 56, 56, 56},
};

/* Rejection sampling of a private key gives up after this many draws. */
#define MAX_DRAWS 64

struct keel_dh {
	const struct group_info *info;
	EVP_PKEY *pkey;    /* our key pair */
	BIGNUM *p_minus_1; /* MODP: bound for the peer check */
	size_t public_len;
	uint8_t pub[KEEL_DH_PUBLIC_MAX_LEN]; /* wire format */
};

static const struct group_info *group_info(uint16_t group)
{
	switch ((enum keel_dh_group)group) {
	case KEEL_DH_MODP_2048:
	case KEEL_DH_MODP_3072:
	case KEEL_DH_MODP_4096:
	case KEEL_DH_MODP_6144:
	case KEEL_DH_MODP_8192:
	case KEEL_DH_ECP_256:
	case KEEL_DH_ECP_384:
	case KEEL_DH_ECP_521:
	case KEEL_DH_CURVE25519:
	case KEEL_DH_CURVE448:
		for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
			if (groups[i].group == (enum keel_dh_group)group)
				return &groups[i];
		break;
	}
	return NULL;
}

bool keel_dh_supported(uint16_t group)
{
	const struct group_info *info = group_info(group);
	if (!info)
		return false;
	EVP_KEYMGMT *km = EVP_KEYMGMT_fetch(NULL, info->keytype, NULL);
	EVP_KEYMGMT_free(km);
	return km != NULL;
}

ptrdiff_t keel_dh_public_len(uint16_t group)
{
	const struct group_info *info = group_info(group);
	return info ? (ptrdiff_t)info->public_len : KEEL_ERR_UNSUPPORTED;
}

ptrdiff_t keel_dh_secret_len(uint16_t group)
{
	const struct group_info *info = group_info(group);
	return info ? (ptrdiff_t)info->secret_len : KEEL_ERR_UNSUPPORTED;
}

enum keel_dh_group keel_dh_group(const struct keel_dh *dh)
{
	return dh->info->group;
}

void keel_dh_free(struct keel_dh *dh)
{
	if (!dh)
		return;
	EVP_PKEY_free(dh->pkey); /* clears the private key */
	BN_free(dh->p_minus_1);
	free(dh);
}

/* Imports params (a key pair or a public key) as an EVP_PKEY of keytype. */
static EVP_PKEY *import_key(const char *keytype, int selection, OSSL_PARAM_BLD *bld)
{
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	if (!params)
		goto out;
	pctx = EVP_PKEY_CTX_new_from_name(NULL, keytype, NULL);
	if (!pctx || EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, &pkey, selection, params) <= 0) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
out:
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params); /* clears the private key */
	return pkey;
}

/* The prime of a named MODP group, from the crypto library's own table. */
static BIGNUM *modp_prime(const struct group_info *info)
{
	BIGNUM *p = NULL;
	EVP_PKEY *params = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, info->name, 0))
		goto out;
	params = import_key(info->keytype, EVP_PKEY_KEY_PARAMETERS, bld);
	if (!params || !EVP_PKEY_get_bn_param(params, OSSL_PKEY_PARAM_FFC_P, &p))
		goto out;
out:
	EVP_PKEY_free(params);
	OSSL_PARAM_BLD_free(bld);
	return p;
}

static int modp_new(struct keel_dh *dh, const uint8_t *priv, size_t priv_len)
{
	int rc = KEEL_ERR_CRYPTO;
	const struct group_info *info = dh->info;
	BN_CTX *bnctx = BN_CTX_new();
	BIGNUM *p = modp_prime(info);
	BIGNUM *x = BN_secure_new();
	BIGNUM *y = BN_new();
	BIGNUM *g = BN_new();
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (!bnctx || !p || !x || !y || !g || !bld)
		goto out;
	if ((size_t)BN_num_bytes(p) != info->public_len)
		goto out;
	dh->p_minus_1 = BN_dup(p);
	if (!dh->p_minus_1 || !BN_sub_word(dh->p_minus_1, 1))
		goto out;

	if (!BN_bin2bn(priv, (int)priv_len, x))
		goto out;
	if (BN_cmp(x, BN_value_one()) <= 0 || BN_cmp(x, dh->p_minus_1) >= 0) {
		rc = KEEL_ERR_INVAL;
		goto out;
	}
	BN_set_flags(x, BN_FLG_CONSTTIME);
	if (!BN_set_word(g, 2) || !BN_mod_exp_mont_consttime(y, g, x, p, bnctx, NULL))
		goto out;
	if (BN_bn2binpad(y, dh->pub, (int)info->public_len) != (int)info->public_len)
		goto out;
	dh->public_len = info->public_len;

	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, info->name, 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, x) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y))
		goto out;
	dh->pkey = import_key(info->keytype, EVP_PKEY_KEYPAIR, bld);
	if (!dh->pkey)
		goto out;
	rc = 0;
out:
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(x);
	BN_free(y);
	BN_free(g);
	BN_free(p);
	BN_CTX_free(bnctx);
	return rc;
}

static int ecp_new(struct keel_dh *dh, const uint8_t *priv, size_t priv_len)
{
	int rc = KEEL_ERR_CRYPTO;
	const struct group_info *info = dh->info;
	uint8_t oct[1 + KEEL_DH_PUBLIC_MAX_LEN];
	BN_CTX *bnctx = BN_CTX_new();
	EC_GROUP *group = EC_GROUP_new_by_curve_name_ex(NULL, NULL, info->nid);
	EC_POINT *q = group ? EC_POINT_new(group) : NULL;
	BIGNUM *d = BN_secure_new();
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (!bnctx || !q || !d || !bld)
		goto out;
	if (priv_len != info->secret_len) {
		rc = KEEL_ERR_INVAL;
		goto out;
	}
	if (!BN_bin2bn(priv, (int)priv_len, d))
		goto out;
	/* SP 800-56A rev. 3 §5.6.1.2: 0 < d < n */
	if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(group)) >= 0) {
		rc = KEEL_ERR_INVAL;
		goto out;
	}
	BN_set_flags(d, BN_FLG_CONSTTIME);
	if (!EC_POINT_mul(group, q, d, NULL, NULL, bnctx))
		goto out;
	size_t oct_len =
	    EC_POINT_point2oct(group, q, POINT_CONVERSION_UNCOMPRESSED, oct, sizeof(oct), bnctx);
	if (oct_len != 1 + info->public_len)
		goto out;
	/* RFC 5903 §7: the KE data is x | y without the SEC1 0x04 prefix */
	memcpy(dh->pub, oct + 1, info->public_len);
	dh->public_len = info->public_len;

	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, info->name, 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, oct, oct_len))
		goto out;
	dh->pkey = import_key(info->keytype, EVP_PKEY_KEYPAIR, bld);
	if (!dh->pkey)
		goto out;
	rc = 0;
out:
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	EC_POINT_free(q);
	EC_GROUP_free(group);
	BN_CTX_free(bnctx);
	return rc;
}

static int xdh_new(struct keel_dh *dh, const uint8_t *priv, size_t priv_len)
{
	const struct group_info *info = dh->info;
	size_t len = info->public_len;
	if (priv_len != info->priv_len)
		return KEEL_ERR_INVAL;
	/* RFC 7748 §5: the scalar is clamped when used, by the library */
	dh->pkey = EVP_PKEY_new_raw_private_key_ex(NULL, info->keytype, NULL, priv, priv_len);
	if (!dh->pkey)
		return KEEL_ERR_CRYPTO;
	if (EVP_PKEY_get_raw_public_key(dh->pkey, dh->pub, &len) != 1 || len != info->public_len)
		return KEEL_ERR_CRYPTO;
	dh->public_len = len;
	return 0;
}

int keel_dh_new_private(uint16_t group, const uint8_t *priv, size_t priv_len, struct keel_dh **out)
{
	int rc = KEEL_ERR_UNSUPPORTED;
	struct keel_dh *dh = NULL;
	const struct group_info *info = group_info(group);
	if (!info)
		goto out;
	rc = KEEL_ERR_INVAL;
	if (!priv || priv_len == 0 || priv_len > KEEL_DH_PUBLIC_MAX_LEN)
		goto out;
	rc = KEEL_ERR_NOMEM;
	dh = calloc(1, sizeof(*dh));
	if (!dh)
		goto out;
	dh->info = info;
	switch (info->kind) {
	case KIND_MODP:
		rc = modp_new(dh, priv, priv_len);
		break;
	case KIND_ECP:
		rc = ecp_new(dh, priv, priv_len);
		break;
	case KIND_XDH:
		rc = xdh_new(dh, priv, priv_len);
		break;
	}
	if (rc < 0)
		goto out;
	*out = dh;
	dh = NULL;
out:
	keel_dh_free(dh);
	return rc;
}

/*
 * ECP scalars and MODP exponents are drawn by rejection sampling: a draw
 * outside the valid range is discarded and drawn again, so the result is
 * uniform ("testing candidates", FIPS 186-4 B.4.2). P-521 scalars are 66
 * bytes of which only the low 521 bits are used.
 */
int keel_dh_new(uint16_t group, const struct keel_env *env, struct keel_dh **out)
{
	int rc = KEEL_ERR_UNSUPPORTED;
	uint8_t priv[KEEL_DH_PUBLIC_MAX_LEN];
	const struct group_info *info = group_info(group);
	if (!info)
		goto out;
	rc = KEEL_ERR_STATE;
	if (!env || !env->random)
		goto out;
	for (int draw = 0; draw < MAX_DRAWS; draw++) {
		rc = keel_env_random(env, priv, info->priv_len);
		if (rc < 0)
			goto out;
		if (info->group == KEEL_DH_ECP_521)
			priv[0] &= 0x01;
		rc = keel_dh_new_private(group, priv, info->priv_len, out);
		if (rc != KEEL_ERR_INVAL)
			goto out;
	}
	rc = KEEL_ERR_CRYPTO; /* the random source keeps giving out-of-range values */
out:
	OPENSSL_cleanse(priv, sizeof(priv));
	return rc;
}

ptrdiff_t keel_dh_public(const struct keel_dh *dh, uint8_t *out, size_t out_len)
{
	if (out_len < dh->public_len)
		return KEEL_ERR_NOBUF;
	memcpy(out, dh->pub, dh->public_len);
	return (ptrdiff_t)dh->public_len;
}

/* RFC 6989 §2.1: for the safe-prime MODP groups, 1 < y < p-1 is the whole test. */
static EVP_PKEY *modp_peer(const struct keel_dh *dh, const uint8_t *peer, size_t peer_len)
{
	EVP_PKEY *pkey = NULL;
	BIGNUM *y = BN_bin2bn(peer, (int)peer_len, NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (!y || !bld)
		goto out;
	if (BN_cmp(y, BN_value_one()) <= 0 || BN_cmp(y, dh->p_minus_1) >= 0)
		goto out;
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, dh->info->name, 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y))
		goto out;
	pkey = import_key(dh->info->keytype, EVP_PKEY_PUBLIC_KEY, bld);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(y);
	return pkey;
}

/*
 * RFC 6989 §2 (ECP groups), SP 800-56A rev. 3 §5.6.2.3.3: the point must not be the
 * point at infinity, its coordinates must lie in [0, p-1] and it must be on
 * the curve. Import parses x | y; EVP_PKEY_public_check() then runs the full
 * validation (range, curve equation, n*Q = infinity).
 */
static EVP_PKEY *ecp_peer(const struct keel_dh *dh, const uint8_t *peer, size_t peer_len)
{
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *check = NULL;
	uint8_t oct[1 + KEEL_DH_PUBLIC_MAX_LEN];
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (!bld)
		goto out;
	oct[0] = POINT_CONVERSION_UNCOMPRESSED;
	memcpy(oct + 1, peer, peer_len);
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, dh->info->name, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, oct, 1 + peer_len))
		goto out;
	pkey = import_key(dh->info->keytype, EVP_PKEY_PUBLIC_KEY, bld);
	if (!pkey)
		goto out;
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!check || EVP_PKEY_public_check(check) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
out:
	EVP_PKEY_CTX_free(check);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static EVP_PKEY *xdh_peer(const struct keel_dh *dh, const uint8_t *peer, size_t peer_len)
{
	return EVP_PKEY_new_raw_public_key_ex(NULL, dh->info->keytype, NULL, peer, peer_len);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

int keel_dh_compute(const struct keel_dh *dh, const uint8_t *peer, size_t peer_len,
                    struct keel_secret **out)
{
	int rc = KEEL_ERR_MALFORMED;
	const struct group_info *info = dh->info;
	EVP_PKEY *peer_key = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	struct keel_secret *secret = NULL;

	/* RFC 6989 §2, RFC 5903 §7, RFC 8031 §3.1: the value has exactly the group's length */
	if (!peer || peer_len != info->public_len)
		goto out;
	switch (info->kind) {
	case KIND_MODP:
		peer_key = modp_peer(dh, peer, peer_len);
		break;
	case KIND_ECP:
		peer_key = ecp_peer(dh, peer, peer_len);
		break;
	case KIND_XDH:
		peer_key = xdh_peer(dh, peer, peer_len);
		break;
	}
	if (!peer_key)
		goto out;

	rc = KEEL_ERR_NOMEM;
	secret = keel_secret_new((ptrdiff_t)info->secret_len);
	if (!secret)
		goto out;
	rc = KEEL_ERR_CRYPTO;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, dh->pkey, NULL);
	if (!ctx || EVP_PKEY_derive_init(ctx) <= 0)
		goto out;
	if (info->kind == KIND_MODP) {
		/* RFC 7296 §2.14: g^ir is left-padded with zeros to the prime length */
		unsigned int pad = 1;
		OSSL_PARAM params[] = {
		    OSSL_PARAM_construct_uint(OSSL_EXCHANGE_PARAM_PAD, &pad),
		    OSSL_PARAM_construct_end(),
		};
		if (EVP_PKEY_CTX_set_params(ctx, params) <= 0)
			goto out;
	}
	/* the peer was validated above; the library's own check would repeat it */
	if (EVP_PKEY_derive_set_peer_ex(ctx, peer_key, 0) <= 0)
		goto out;
	size_t len = info->secret_len;
	if (EVP_PKEY_derive(ctx, keel_secret_mut(secret), &len) <= 0) {
		/* X25519/X448: OpenSSL refuses an all-zero result (RFC 8031 §3.2) */
		if (info->kind == KIND_XDH)
			rc = KEEL_ERR_MALFORMED;
		goto out;
	}
	if (len != info->secret_len)
		goto out;
	/* RFC 8031 §3.2: a low-order peer value gives an all-zero secret */
	if (info->kind == KIND_XDH && all_zero(keel_secret_data(secret), len)) {
		rc = KEEL_ERR_MALFORMED;
		goto out;
	}
	*out = secret;
	secret = NULL;
	rc = 0;
out:
	keel_secret_free(secret);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer_key);
	return rc;
}
