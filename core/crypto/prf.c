/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IKE PRFs and IKE/ESP integrity algorithms over OpenSSL 3 EVP_MAC and
 * EVP_CIPHER:
 *   HMAC-SHA1 (RFC 2104, RFC 2404 HMAC-SHA1-96), HMAC-SHA2-256/384/512
 *   (RFC 4868: PRFs and the -128/-192/-256 truncations),
 *   AES-XCBC-MAC (RFC 3566: AES-XCBC-MAC-96; RFC 4434: AES-XCBC-PRF-128 with
 *   its variable key length), AES-CMAC-PRF-128 (RFC 4615, OpenSSL's CMAC).
 *
 * OpenSSL has no XCBC, so it is built here from AES-128-CBC under K1 (the
 * CBC chaining is the XCBC chaining) with the last block folded with K2 or
 * K3 by hand (RFC 3566 §4).
 *
 * A context is keyed once; a computation re-initialises the MAC without
 * setting the key again (EVP_MAC_init with a NULL key keeps the key
 * schedule; for XCBC only the CBC IV is reset).
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <keel/err.h>

#include "crypto/prf.h"

#define AES_BLOCK 16

enum mac_kind {
	MAC_HMAC,
	MAC_XCBC,
	MAC_CMAC,
};

/* The keyed MAC shared by PRFs and integrity algorithms. */
struct mac {
	enum mac_kind kind;
	ptrdiff_t out_len;     /* full MAC length */
	EVP_MAC_CTX *mac;      /* HMAC, CMAC */
	EVP_CIPHER_CTX *cbc;   /* XCBC: AES-128-CBC under K1 */
	uint8_t k2[AES_BLOCK]; /* XCBC: RFC 3566 §4 K2, K3 */
	uint8_t k3[AES_BLOCK];
};

struct keel_prf {
	enum keel_prf_alg alg;
	struct mac m;
};

struct keel_integ {
	enum keel_integ_alg alg;
	ptrdiff_t icv_len;
	struct mac m;
};

static bool iov_ok(const struct keel_iov *in, size_t n_in)
{
	if (n_in > 0 && !in)
		return false;
	for (size_t i = 0; i < n_in; i++)
		if (in[i].len < 0 || (in[i].len > 0 && !in[i].data))
			return false;
	return true;
}

static void mac_clear(struct mac *m)
{
	EVP_MAC_CTX_free(m->mac);
	m->mac = NULL;
	EVP_CIPHER_CTX_free(m->cbc); /* cleanses the key schedule */
	m->cbc = NULL;
	OPENSSL_cleanse(m->k2, sizeof(m->k2));
	OPENSSL_cleanse(m->k3, sizeof(m->k3));
}

/* EVP_MAC keyed with key: HMAC over digest, or CMAC over AES-128-CBC. */
static int evp_mac_setup(struct mac *m, const char *mac_name, const char *param_name,
                         const char *param_value, const uint8_t *key, ptrdiff_t key_len)
{
	int rc = KEEL_ERR_CRYPTO;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, mac_name, NULL);
	OSSL_PARAM params[2];

	if (!mac)
		goto out;
	m->mac = EVP_MAC_CTX_new(mac);
	if (!m->mac) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(param_name, (char *)param_value, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(m->mac, key, (size_t)key_len, params))
		goto out;
	rc = 0;
out:
	EVP_MAC_free(mac);
	return rc;
}

/* One AES-128 block encryption under key (ECB), for the XCBC subkeys. */
static int aes128_block(const uint8_t key[AES_BLOCK], const uint8_t in[AES_BLOCK],
                        uint8_t out[AES_BLOCK])
{
	int rc = KEEL_ERR_CRYPTO;
	int n = 0;
	EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (!aes || !ctx) {
		rc = aes ? KEEL_ERR_NOMEM : KEEL_ERR_CRYPTO;
		goto out;
	}
	if (!EVP_EncryptInit_ex2(ctx, aes, key, NULL, NULL) ||
	    !EVP_CIPHER_CTX_set_padding(ctx, 0) ||
	    !EVP_EncryptUpdate(ctx, out, &n, in, AES_BLOCK) || n != AES_BLOCK)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(aes);
	return rc;
}

/* RFC 3566 §4: K1 = E(K, 0x01..), K2 = E(K, 0x02..), K3 = E(K, 0x03..). */
static int xcbc_setup(struct mac *m, const uint8_t key[AES_BLOCK])
{
	int rc;
	uint8_t k1[AES_BLOCK], c[AES_BLOCK];
	EVP_CIPHER *aes = NULL;

	memset(c, 0x01, sizeof(c));
	rc = aes128_block(key, c, k1);
	if (rc < 0)
		goto out;
	memset(c, 0x02, sizeof(c));
	rc = aes128_block(key, c, m->k2);
	if (rc < 0)
		goto out;
	memset(c, 0x03, sizeof(c));
	rc = aes128_block(key, c, m->k3);
	if (rc < 0)
		goto out;
	rc = KEEL_ERR_CRYPTO;
	aes = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
	if (!aes)
		goto out;
	m->cbc = EVP_CIPHER_CTX_new();
	if (!m->cbc) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	if (!EVP_EncryptInit_ex2(m->cbc, aes, k1, NULL, NULL) ||
	    !EVP_CIPHER_CTX_set_padding(m->cbc, 0))
		goto out;
	rc = 0;
out:
	EVP_CIPHER_free(aes);
	OPENSSL_cleanse(k1, sizeof(k1));
	return rc;
}

/* CBC-encrypts n whole blocks of data under K1, continuing the chain. */
static int xcbc_blocks(struct mac *m, const uint8_t *data, size_t n_blocks)
{
	uint8_t scratch[32 * AES_BLOCK];
	int rc = 0;

	while (n_blocks > 0) {
		size_t take = n_blocks < 32 ? n_blocks : 32;
		int got = 0;
		if (!EVP_EncryptUpdate(m->cbc, scratch, &got, data, (int)(take * AES_BLOCK)) ||
		    got != (int)(take * AES_BLOCK)) {
			rc = KEEL_ERR_CRYPTO;
			break;
		}
		data += take * AES_BLOCK;
		n_blocks -= take;
	}
	OPENSSL_cleanse(scratch, sizeof(scratch));
	return rc;
}

/*
 * RFC 3566 §4: CBC-MAC under K1 over all blocks but the last; the last is
 * XORed with K2 if complete, else padded with 0x80 00.. and XORed with K3
 * (an empty message is one incomplete block).
 */
static int xcbc_run(struct mac *m, const struct keel_iov *in, size_t n_in, uint8_t out[AES_BLOCK])
{
	static const uint8_t zero_iv[AES_BLOCK];
	uint8_t last[AES_BLOCK];
	size_t last_len = 0; /* bytes held back in last: 0..16 */
	int got = 0;
	int rc = KEEL_ERR_CRYPTO;

	if (!EVP_EncryptInit_ex2(m->cbc, NULL, NULL, zero_iv, NULL))
		goto out;
	for (size_t i = 0; i < n_in; i++) {
		const uint8_t *p = in[i].data;
		size_t left = (size_t)in[i].len;

		if (left == 0)
			continue;
		if (last_len + left <= AES_BLOCK) {
			memcpy(last + last_len, p, left);
			last_len += left;
			continue;
		}
		/* more data follows the held block: it is not the last one */
		size_t fill = AES_BLOCK - last_len;
		memcpy(last + last_len, p, fill);
		p += fill;
		left -= fill;
		rc = xcbc_blocks(m, last, 1);
		if (rc < 0)
			goto out;
		/* keep 1..16 bytes back, since they may end the message */
		size_t n_blocks = (left - 1) / AES_BLOCK;
		rc = xcbc_blocks(m, p, n_blocks);
		if (rc < 0)
			goto out;
		p += n_blocks * AES_BLOCK;
		left -= n_blocks * AES_BLOCK;
		memcpy(last, p, left);
		last_len = left;
	}
	rc = KEEL_ERR_CRYPTO;
	if (last_len == AES_BLOCK) {
		for (size_t j = 0; j < AES_BLOCK; j++)
			last[j] ^= m->k2[j];
	} else {
		last[last_len] = 0x80;
		memset(last + last_len + 1, 0, AES_BLOCK - last_len - 1);
		for (size_t j = 0; j < AES_BLOCK; j++)
			last[j] ^= m->k3[j];
	}
	if (!EVP_EncryptUpdate(m->cbc, out, &got, last, AES_BLOCK) || got != AES_BLOCK)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(last, sizeof(last));
	return rc;
}

/* Writes the full MAC (m->out_len bytes) of the concatenated input to out. */
static int mac_run(struct mac *m, const struct keel_iov *in, size_t n_in,
                   uint8_t out[KEEL_PRF_MAX_OUT_LEN])
{
	size_t got = 0;

	switch (m->kind) {
	case MAC_XCBC:
		return xcbc_run(m, in, n_in, out);
	case MAC_HMAC:
	case MAC_CMAC:
		break;
	}
	if (!EVP_MAC_init(m->mac, NULL, 0, NULL))
		return KEEL_ERR_CRYPTO;
	for (size_t i = 0; i < n_in; i++)
		if (in[i].len > 0 && !EVP_MAC_update(m->mac, in[i].data, (size_t)in[i].len))
			return KEEL_ERR_CRYPTO;
	if (!EVP_MAC_final(m->mac, out, &got, KEEL_PRF_MAX_OUT_LEN) || got != (size_t)m->out_len)
		return KEEL_ERR_CRYPTO;
	return 0;
}

static int mac_setup_hmac(struct mac *m, const char *digest, ptrdiff_t out_len, const uint8_t *key,
                          ptrdiff_t key_len)
{
	m->kind = MAC_HMAC;
	m->out_len = out_len;
	return evp_mac_setup(m, OSSL_MAC_NAME_HMAC, OSSL_MAC_PARAM_DIGEST, digest, key, key_len);
}

static int mac_setup_aes128(struct mac *m, enum mac_kind kind, const uint8_t key[AES_BLOCK])
{
	m->kind = kind;
	m->out_len = AES_BLOCK;
	switch (kind) {
	case MAC_XCBC:
		return xcbc_setup(m, key);
	case MAC_CMAC:
		return evp_mac_setup(m, OSSL_MAC_NAME_CMAC, OSSL_MAC_PARAM_CIPHER, "AES-128-CBC",
		                     key, AES_BLOCK);
	case MAC_HMAC:
		break;
	}
	return KEEL_ERR_INVAL;
}

/*
 * Variable key lengths: a key of 16 bytes is used as is. RFC 4434 §2 (XCBC):
 * a shorter key is padded with zero bytes, a longer one is replaced by its
 * MAC under the all-zero key. RFC 4615 §3 (CMAC): any other length, shorter
 * or longer, is replaced by its MAC under the all-zero key.
 */
static int mac_setup_aes128_prf(struct mac *m, enum mac_kind kind, const uint8_t *key,
                                ptrdiff_t key_len)
{
	uint8_t k[AES_BLOCK] = {0};
	uint8_t full[KEEL_PRF_MAX_OUT_LEN];
	struct mac zero = {0};
	int rc;

	if (key_len == AES_BLOCK || (kind == MAC_XCBC && key_len < AES_BLOCK)) {
		memcpy(k, key, (size_t)key_len);
	} else {
		struct keel_iov kv = {key, key_len};
		rc = mac_setup_aes128(&zero, kind, k);
		if (rc < 0)
			goto out;
		rc = mac_run(&zero, &kv, 1, full);
		if (rc < 0)
			goto out;
		memcpy(k, full, AES_BLOCK);
	}
	rc = mac_setup_aes128(m, kind, k);
out:
	mac_clear(&zero);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(full, sizeof(full));
	return rc;
}

int keel_prf_from_ikev2_id(uint16_t id, enum keel_prf_alg *out)
{
	switch (id) {
	case KEEL_PRF_HMAC_SHA1:
	case KEEL_PRF_AES128_XCBC:
	case KEEL_PRF_HMAC_SHA2_256:
	case KEEL_PRF_HMAC_SHA2_384:
	case KEEL_PRF_HMAC_SHA2_512:
	case KEEL_PRF_AES128_CMAC:
		*out = (enum keel_prf_alg)id;
		return 0;
	default: /* a number from the wire, not our enum */
		return KEEL_ERR_UNSUPPORTED;
	}
}

ptrdiff_t keel_prf_out_len(enum keel_prf_alg alg)
{
	switch (alg) {
	case KEEL_PRF_HMAC_SHA1:
		return 20;
	case KEEL_PRF_HMAC_SHA2_256:
		return 32;
	case KEEL_PRF_HMAC_SHA2_384:
		return 48;
	case KEEL_PRF_HMAC_SHA2_512:
		return 64;
	case KEEL_PRF_AES128_XCBC:
	case KEEL_PRF_AES128_CMAC:
		return AES_BLOCK;
	}
	return KEEL_ERR_INVAL;
}

ptrdiff_t keel_prf_key_len(enum keel_prf_alg alg)
{
	/* RFC 7296 §2.13: HMAC: the hash output; RFC 4434 §2, RFC 4615 §3: 128 bits */
	return keel_prf_out_len(alg);
}

bool keel_prf_is_fixed_key(enum keel_prf_alg alg)
{
	switch (alg) {
	case KEEL_PRF_AES128_XCBC:
	case KEEL_PRF_AES128_CMAC:
		return true;
	case KEEL_PRF_HMAC_SHA1:
	case KEEL_PRF_HMAC_SHA2_256:
	case KEEL_PRF_HMAC_SHA2_384:
	case KEEL_PRF_HMAC_SHA2_512:
		break;
	}
	return false;
}

const char *keel_prf_name(enum keel_prf_alg alg)
{
	switch (alg) {
	case KEEL_PRF_HMAC_SHA1:
		return "PRF_HMAC_SHA1";
	case KEEL_PRF_AES128_XCBC:
		return "PRF_AES128_XCBC";
	case KEEL_PRF_HMAC_SHA2_256:
		return "PRF_HMAC_SHA2_256";
	case KEEL_PRF_HMAC_SHA2_384:
		return "PRF_HMAC_SHA2_384";
	case KEEL_PRF_HMAC_SHA2_512:
		return "PRF_HMAC_SHA2_512";
	case KEEL_PRF_AES128_CMAC:
		return "PRF_AES128_CMAC";
	}
	return "PRF_UNKNOWN";
}

int keel_prf_new(enum keel_prf_alg alg, const uint8_t *key, ptrdiff_t key_len,
                 struct keel_prf **out)
{
	struct keel_prf *p = NULL;
	int rc = KEEL_ERR_INVAL;

	if (!key || key_len <= 0 || keel_prf_out_len(alg) < 0)
		goto out;
	rc = KEEL_ERR_NOMEM;
	p = OPENSSL_zalloc(sizeof(*p));
	if (!p)
		goto out;
	p->alg = alg;
	switch (alg) {
	case KEEL_PRF_HMAC_SHA1:
		rc = mac_setup_hmac(&p->m, "SHA1", 20, key, key_len);
		break;
	case KEEL_PRF_HMAC_SHA2_256:
		rc = mac_setup_hmac(&p->m, "SHA2-256", 32, key, key_len);
		break;
	case KEEL_PRF_HMAC_SHA2_384:
		rc = mac_setup_hmac(&p->m, "SHA2-384", 48, key, key_len);
		break;
	case KEEL_PRF_HMAC_SHA2_512:
		rc = mac_setup_hmac(&p->m, "SHA2-512", 64, key, key_len);
		break;
	case KEEL_PRF_AES128_XCBC:
		rc = mac_setup_aes128_prf(&p->m, MAC_XCBC, key, key_len);
		break;
	case KEEL_PRF_AES128_CMAC:
		rc = mac_setup_aes128_prf(&p->m, MAC_CMAC, key, key_len);
		break;
	}
	if (rc < 0)
		goto out;
	*out = p;
	p = NULL;
out:
	keel_prf_free(p);
	return rc;
}

void keel_prf_free(struct keel_prf *p)
{
	if (!p)
		return;
	mac_clear(&p->m);
	OPENSSL_free(p);
}

enum keel_prf_alg keel_prf_alg(const struct keel_prf *p)
{
	return p->alg;
}

ptrdiff_t keel_prf_compute(struct keel_prf *p, const struct keel_iov *in, size_t n_in, uint8_t *out,
                           ptrdiff_t out_cap)
{
	uint8_t full[KEEL_PRF_MAX_OUT_LEN];
	ptrdiff_t rc;

	if (!p || !out || !iov_ok(in, n_in))
		return KEEL_ERR_INVAL;
	if (out_cap < p->m.out_len)
		return KEEL_ERR_NOBUF;
	rc = mac_run(&p->m, in, n_in, full);
	if (rc == 0) {
		memcpy(out, full, (size_t)p->m.out_len);
		rc = p->m.out_len;
	}
	OPENSSL_cleanse(full, sizeof(full));
	return rc;
}

ptrdiff_t keel_prf(enum keel_prf_alg alg, const uint8_t *key, ptrdiff_t key_len,
                   const struct keel_iov *in, size_t n_in, uint8_t *out, ptrdiff_t out_cap)
{
	struct keel_prf *p = NULL;
	ptrdiff_t rc;

	if (!iov_ok(in, n_in) || !out)
		return KEEL_ERR_INVAL;
	if (keel_prf_out_len(alg) > out_cap)
		return KEEL_ERR_NOBUF;
	rc = keel_prf_new(alg, key, key_len, &p);
	if (rc == 0)
		rc = keel_prf_compute(p, in, n_in, out, out_cap);
	keel_prf_free(p);
	return rc;
}

int keel_integ_from_ikev2_id(uint16_t id, enum keel_integ_alg *out)
{
	switch (id) {
	case KEEL_INTEG_NONE:
	case KEEL_INTEG_HMAC_SHA1_96:
	case KEEL_INTEG_AES_XCBC_96:
	case KEEL_INTEG_HMAC_SHA2_256_128:
	case KEEL_INTEG_HMAC_SHA2_384_192:
	case KEEL_INTEG_HMAC_SHA2_512_256:
		*out = (enum keel_integ_alg)id;
		return 0;
	default: /* a number from the wire, not our enum */
		return KEEL_ERR_UNSUPPORTED;
	}
}

ptrdiff_t keel_integ_key_len(enum keel_integ_alg alg)
{
	switch (alg) {
	case KEEL_INTEG_NONE:
		return 0;
	case KEEL_INTEG_HMAC_SHA1_96: /* RFC 2404 §3 */
		return 20;
	case KEEL_INTEG_AES_XCBC_96: /* RFC 3566 §2.1 */
		return 16;
	case KEEL_INTEG_HMAC_SHA2_256_128: /* RFC 4868 §2.1.1 */
		return 32;
	case KEEL_INTEG_HMAC_SHA2_384_192:
		return 48;
	case KEEL_INTEG_HMAC_SHA2_512_256:
		return 64;
	}
	return KEEL_ERR_INVAL;
}

ptrdiff_t keel_integ_icv_len(enum keel_integ_alg alg)
{
	switch (alg) {
	case KEEL_INTEG_NONE:
		return 0;
	case KEEL_INTEG_HMAC_SHA1_96:
	case KEEL_INTEG_AES_XCBC_96:
		return 12;
	case KEEL_INTEG_HMAC_SHA2_256_128: /* RFC 4868 §2.1: half the hash */
		return 16;
	case KEEL_INTEG_HMAC_SHA2_384_192:
		return 24;
	case KEEL_INTEG_HMAC_SHA2_512_256:
		return 32;
	}
	return KEEL_ERR_INVAL;
}

const char *keel_integ_name(enum keel_integ_alg alg)
{
	switch (alg) {
	case KEEL_INTEG_NONE:
		return "AUTH_NONE";
	case KEEL_INTEG_HMAC_SHA1_96:
		return "AUTH_HMAC_SHA1_96";
	case KEEL_INTEG_AES_XCBC_96:
		return "AUTH_AES_XCBC_96";
	case KEEL_INTEG_HMAC_SHA2_256_128:
		return "AUTH_HMAC_SHA2_256_128";
	case KEEL_INTEG_HMAC_SHA2_384_192:
		return "AUTH_HMAC_SHA2_384_192";
	case KEEL_INTEG_HMAC_SHA2_512_256:
		return "AUTH_HMAC_SHA2_512_256";
	}
	return "AUTH_UNKNOWN";
}

int keel_integ_new(enum keel_integ_alg alg, const uint8_t *key, ptrdiff_t key_len,
                   struct keel_integ **out)
{
	struct keel_integ *ig = NULL;
	int rc = KEEL_ERR_INVAL;
	ptrdiff_t want = keel_integ_key_len(alg);

	if (!key || want <= 0 || key_len != want)
		goto out;
	rc = KEEL_ERR_NOMEM;
	ig = OPENSSL_zalloc(sizeof(*ig));
	if (!ig)
		goto out;
	ig->alg = alg;
	ig->icv_len = keel_integ_icv_len(alg);
	rc = KEEL_ERR_INVAL;
	switch (alg) {
	case KEEL_INTEG_NONE:
		break;
	case KEEL_INTEG_HMAC_SHA1_96:
		rc = mac_setup_hmac(&ig->m, "SHA1", 20, key, key_len);
		break;
	case KEEL_INTEG_AES_XCBC_96:
		rc = mac_setup_aes128(&ig->m, MAC_XCBC, key);
		break;
	case KEEL_INTEG_HMAC_SHA2_256_128:
		rc = mac_setup_hmac(&ig->m, "SHA2-256", 32, key, key_len);
		break;
	case KEEL_INTEG_HMAC_SHA2_384_192:
		rc = mac_setup_hmac(&ig->m, "SHA2-384", 48, key, key_len);
		break;
	case KEEL_INTEG_HMAC_SHA2_512_256:
		rc = mac_setup_hmac(&ig->m, "SHA2-512", 64, key, key_len);
		break;
	}
	if (rc < 0)
		goto out;
	*out = ig;
	ig = NULL;
out:
	keel_integ_free(ig);
	return rc;
}

void keel_integ_free(struct keel_integ *ig)
{
	if (!ig)
		return;
	mac_clear(&ig->m);
	OPENSSL_free(ig);
}

enum keel_integ_alg keel_integ_alg(const struct keel_integ *ig)
{
	return ig->alg;
}

ptrdiff_t keel_integ_compute(struct keel_integ *ig, const struct keel_iov *in, size_t n_in,
                             uint8_t *icv, ptrdiff_t icv_cap)
{
	uint8_t full[KEEL_PRF_MAX_OUT_LEN];
	ptrdiff_t rc;

	if (!ig || !icv || !iov_ok(in, n_in))
		return KEEL_ERR_INVAL;
	if (icv_cap < ig->icv_len)
		return KEEL_ERR_NOBUF;
	rc = mac_run(&ig->m, in, n_in, full);
	if (rc == 0) {
		memcpy(icv, full, (size_t)ig->icv_len);
		rc = ig->icv_len;
	}
	OPENSSL_cleanse(full, sizeof(full));
	return rc;
}

int keel_integ_verify(struct keel_integ *ig, const struct keel_iov *in, size_t n_in,
                      const uint8_t *icv, ptrdiff_t icv_len)
{
	uint8_t full[KEEL_PRF_MAX_OUT_LEN];
	int rc;

	if (!ig || !iov_ok(in, n_in))
		return KEEL_ERR_INVAL;
	if (!icv || icv_len != ig->icv_len)
		return KEEL_ERR_AUTH;
	rc = mac_run(&ig->m, in, n_in, full);
	if (rc == 0 && CRYPTO_memcmp(full, icv, (size_t)icv_len) != 0)
		rc = KEEL_ERR_AUTH;
	OPENSSL_cleanse(full, sizeof(full));
	return rc;
}
