/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Encryption transforms for IKE and ESP over OpenSSL 3 EVP_CIPHER:
 * AES-CBC (RFC 3602), AES-CTR (RFC 3686, RFC 5930), AES-GCM (RFC 4106,
 * RFC 5282) and ChaCha20-Poly1305 (RFC 7634, RFC 8439).
 *
 * The EVP_CIPHER is fetched and the key schedule built once per context;
 * each packet only sets the IV with EVP_CipherInit_ex2(), so the per-packet
 * path neither fetches nor allocates.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/cipher.h"

#define AES_BLOCK_LEN  16
#define AEAD_NONCE_LEN (KEEL_ENCR_SALT_LEN + KEEL_AEAD_IV_LEN) /* RFC 4106 §4 */

/* AES key length in bytes for key_bits, or 0 if not an AES key length. */
static size_t aes_key_len(unsigned key_bits)
{
	switch (key_bits) {
	case 128:
	case 192:
	case 256:
		return key_bits / 8;
	}
	return 0;
}

/* Cipher key length in bytes (without salt or nonce), or 0 if unsupported. */
static size_t key_len(uint16_t encr, unsigned key_bits)
{
	switch ((enum keel_encr)encr) {
	case KEEL_ENCR_AES_CBC:
	case KEEL_ENCR_AES_CTR:
	case KEEL_ENCR_AES_GCM_8:
	case KEEL_ENCR_AES_GCM_12:
	case KEEL_ENCR_AES_GCM_16:
		return aes_key_len(key_bits);
	case KEEL_ENCR_CHACHA20_POLY1305:
		/* RFC 7634 §3: no Key Length attribute; the key is 256 bits */
		return key_bits == 0 || key_bits == 256 ? 32 : 0;
	}
	return 0;
}

static const char *cipher_name(uint16_t encr, size_t klen)
{
	switch ((enum keel_encr)encr) {
	case KEEL_ENCR_AES_CBC:
		return klen == 16 ? "AES-128-CBC" : klen == 24 ? "AES-192-CBC" : "AES-256-CBC";
	case KEEL_ENCR_AES_CTR:
		return klen == 16 ? "AES-128-CTR" : klen == 24 ? "AES-192-CTR" : "AES-256-CTR";
	case KEEL_ENCR_AES_GCM_8:
	case KEEL_ENCR_AES_GCM_12:
	case KEEL_ENCR_AES_GCM_16:
		return klen == 16 ? "AES-128-GCM" : klen == 24 ? "AES-192-GCM" : "AES-256-GCM";
	case KEEL_ENCR_CHACHA20_POLY1305:
		return "ChaCha20-Poly1305";
	}
	return NULL;
}

bool keel_encr_supported(uint16_t encr, unsigned key_bits)
{
	return key_len(encr, key_bits) != 0;
}

bool keel_encr_is_aead(uint16_t encr)
{
	switch ((enum keel_encr)encr) {
	case KEEL_ENCR_AES_CBC:
	case KEEL_ENCR_AES_CTR:
		return false;
	case KEEL_ENCR_AES_GCM_8:
	case KEEL_ENCR_AES_GCM_12:
	case KEEL_ENCR_AES_GCM_16:
	case KEEL_ENCR_CHACHA20_POLY1305:
		return true;
	}
	return false;
}

ptrdiff_t keel_encr_keymat_len(uint16_t encr, unsigned key_bits)
{
	size_t klen = key_len(encr, key_bits);
	if (klen == 0)
		return KEEL_ERR_UNSUPPORTED;
	switch ((enum keel_encr)encr) {
	case KEEL_ENCR_AES_CBC:
		return (ptrdiff_t)klen;
	case KEEL_ENCR_AES_CTR:   /* RFC 3686 §5.1 */
	case KEEL_ENCR_AES_GCM_8: /* RFC 4106 §8.1, RFC 5282 §7.1 */
	case KEEL_ENCR_AES_GCM_12:
	case KEEL_ENCR_AES_GCM_16:
	case KEEL_ENCR_CHACHA20_POLY1305: /* RFC 7634 §4 */
		return (ptrdiff_t)(klen + KEEL_ENCR_SALT_LEN);
	}
	return KEEL_ERR_UNSUPPORTED;
}

ptrdiff_t keel_encr_iv_len(uint16_t encr)
{
	switch ((enum keel_encr)encr) {
	case KEEL_ENCR_AES_CBC:
		return AES_BLOCK_LEN; /* RFC 3602 §3 */
	case KEEL_ENCR_AES_CTR:
	case KEEL_ENCR_AES_GCM_8:
	case KEEL_ENCR_AES_GCM_12:
	case KEEL_ENCR_AES_GCM_16:
	case KEEL_ENCR_CHACHA20_POLY1305:
		return KEEL_AEAD_IV_LEN;
	}
	return KEEL_ERR_UNSUPPORTED;
}

ptrdiff_t keel_encr_icv_len(uint16_t encr)
{
	switch ((enum keel_encr)encr) {
	case KEEL_ENCR_AES_CBC:
	case KEEL_ENCR_AES_CTR:
		return 0;
	case KEEL_ENCR_AES_GCM_8:
		return 8;
	case KEEL_ENCR_AES_GCM_12:
		return 12;
	case KEEL_ENCR_AES_GCM_16:
	case KEEL_ENCR_CHACHA20_POLY1305:
		return 16;
	}
	return KEEL_ERR_UNSUPPORTED;
}

ptrdiff_t keel_encr_block_len(uint16_t encr)
{
	switch ((enum keel_encr)encr) {
	case KEEL_ENCR_AES_CBC:
		return AES_BLOCK_LEN;
	case KEEL_ENCR_AES_CTR:   /* RFC 3686 §2.3 */
	case KEEL_ENCR_AES_GCM_8: /* RFC 4106 §3.2 */
	case KEEL_ENCR_AES_GCM_12:
	case KEEL_ENCR_AES_GCM_16:
	case KEEL_ENCR_CHACHA20_POLY1305: /* RFC 7634 §2 */
		return 1;
	}
	return KEEL_ERR_UNSUPPORTED;
}

/*
 * Fetches the cipher for encr and initialises a new context with key
 * (klen bytes) in direction op, without an IV.
 */
static int ctx_new(uint16_t encr, size_t klen, enum keel_cipher_op op, const uint8_t *key,
                   EVP_CIPHER_CTX **out)
{
	int rc = KEEL_ERR_CRYPTO;
	int enc = 0;
	switch (op) {
	case KEEL_CIPHER_ENCRYPT:
		enc = 1;
		break;
	case KEEL_CIPHER_DECRYPT:
		enc = 0;
		break;
	}
	EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, cipher_name(encr, klen), NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	if (!cipher || EVP_CIPHER_get_key_length(cipher) != (int)klen)
		goto out;
	/* the context keeps its own reference to the cipher */
	if (!EVP_CipherInit_ex2(ctx, cipher, key, NULL, enc, NULL))
		goto out;
	/*
	 * CBC: no PKCS#7 padding, ESP pads itself (RFC 4303 §2.4). Only there:
	 * OpenSSL 3.0 re-applies the flag through OSSL_PARAMs at every IV set.
	 */
	if (EVP_CIPHER_get_block_size(cipher) > 1 && !EVP_CIPHER_CTX_set_padding(ctx, 0))
		goto out;
	*out = ctx;
	ctx = NULL;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	return rc;
}

/* ---- AEAD ---- */

struct keel_aead {
	EVP_CIPHER_CTX *ctx;
	enum keel_cipher_op op;
	size_t icv_len;
	uint8_t salt[KEEL_ENCR_SALT_LEN];
};

int keel_aead_new(uint16_t encr, unsigned key_bits, enum keel_cipher_op op, const uint8_t *keymat,
                  size_t keymat_len, struct keel_aead **out)
{
	int rc = KEEL_ERR_UNSUPPORTED;
	struct keel_aead *a = NULL;
	size_t klen = key_len(encr, key_bits);
	if (klen == 0 || !keel_encr_is_aead(encr))
		goto out;
	rc = KEEL_ERR_INVAL;
	if (!keymat || keymat_len != klen + KEEL_ENCR_SALT_LEN)
		goto out;
	rc = KEEL_ERR_NOMEM;
	a = calloc(1, sizeof(*a));
	if (!a)
		goto out;
	a->op = op;
	a->icv_len = (size_t)keel_encr_icv_len(encr);
	/* RFC 4106 §8.1, RFC 7634 §4: the salt is the last 4 bytes of the key material */
	memcpy(a->salt, keymat + klen, KEEL_ENCR_SALT_LEN);
	rc = ctx_new(encr, klen, op, keymat, &a->ctx);
	if (rc < 0)
		goto out;
	*out = a;
	a = NULL;
out:
	keel_aead_free(a);
	return rc;
}

void keel_aead_free(struct keel_aead *a)
{
	if (!a)
		return;
	EVP_CIPHER_CTX_free(a->ctx); /* clears the key schedule */
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

size_t keel_aead_icv_len(const struct keel_aead *a)
{
	return a->icv_len;
}

/* Sets the nonce salt | iv (RFC 4106 §4, RFC 7634 §2) and feeds the AAD. */
static bool aead_start(struct keel_aead *a, const uint8_t *iv, const uint8_t *aad, size_t aad_len)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	int outl;
	memcpy(nonce, a->salt, KEEL_ENCR_SALT_LEN);
	memcpy(nonce + KEEL_ENCR_SALT_LEN, iv, KEEL_AEAD_IV_LEN);
	bool ok = EVP_CipherInit_ex2(a->ctx, NULL, NULL, nonce, -1, NULL) == 1;
	OPENSSL_cleanse(nonce, sizeof(nonce));
	if (ok && aad_len > 0)
		ok = EVP_CipherUpdate(a->ctx, NULL, &outl, aad, (int)aad_len) == 1;
	return ok;
}

int keel_aead_seal(struct keel_aead *a, const uint8_t iv[KEEL_AEAD_IV_LEN], const uint8_t *aad,
                   size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t *icv)
{
	int outl = 0, finl = 0;
	if (a->op != KEEL_CIPHER_ENCRYPT)
		return KEEL_ERR_STATE;
	if (len > INT_MAX || aad_len > INT_MAX)
		return KEEL_ERR_INVAL;
	if (!aead_start(a, iv, aad, aad_len))
		return KEEL_ERR_CRYPTO;
	if (len > 0 &&
	    (EVP_CipherUpdate(a->ctx, out, &outl, in, (int)len) != 1 || (size_t)outl != len))
		return KEEL_ERR_CRYPTO;
	if (EVP_CipherFinal_ex(a->ctx, out + outl, &finl) != 1 || finl != 0)
		return KEEL_ERR_CRYPTO;
	/* GCM with an 8 or 12-byte ICV sends the leading bytes of the tag (RFC 4106 §6) */
	OSSL_PARAM tag[2] = {
	    OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, icv, a->icv_len),
	    OSSL_PARAM_construct_end(),
	};
	if (EVP_CIPHER_CTX_get_params(a->ctx, tag) != 1)
		return KEEL_ERR_CRYPTO;
	return 0;
}

int keel_aead_open(struct keel_aead *a, const uint8_t iv[KEEL_AEAD_IV_LEN], const uint8_t *aad,
                   size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, const uint8_t *icv)
{
	int outl = 0, finl = 0;
	if (a->op != KEEL_CIPHER_DECRYPT)
		return KEEL_ERR_STATE;
	if (len > INT_MAX || aad_len > INT_MAX)
		return KEEL_ERR_MALFORMED;
	if (!aead_start(a, iv, aad, aad_len))
		return KEEL_ERR_CRYPTO;
	/* the library compares the ICV in constant time in EVP_CipherFinal_ex() */
	OSSL_PARAM tag[2] = {
	    OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, (void *)icv, a->icv_len),
	    OSSL_PARAM_construct_end(),
	};
	if (EVP_CIPHER_CTX_set_params(a->ctx, tag) != 1)
		return KEEL_ERR_CRYPTO;
	if (len > 0 &&
	    (EVP_CipherUpdate(a->ctx, out, &outl, in, (int)len) != 1 || (size_t)outl != len)) {
		OPENSSL_cleanse(out, len);
		return KEEL_ERR_CRYPTO;
	}
	if (EVP_CipherFinal_ex(a->ctx, out + outl, &finl) != 1 || finl != 0) {
		OPENSSL_cleanse(out, len);
		return KEEL_ERR_AUTH;
	}
	return 0;
}

/* ---- CBC / CTR ---- */

struct keel_cipher {
	EVP_CIPHER_CTX *ctx;
	enum keel_cipher_op op;
	bool ctr;
	size_t iv_len;
	size_t block_len;
	uint8_t nonce[KEEL_ENCR_SALT_LEN]; /* CTR */
};

int keel_cipher_new(uint16_t encr, unsigned key_bits, enum keel_cipher_op op, const uint8_t *keymat,
                    size_t keymat_len, struct keel_cipher **out)
{
	int rc = KEEL_ERR_UNSUPPORTED;
	struct keel_cipher *c = NULL;
	size_t klen = key_len(encr, key_bits);
	if (klen == 0 || keel_encr_is_aead(encr))
		goto out;
	rc = KEEL_ERR_INVAL;
	if (!keymat || keymat_len != (size_t)keel_encr_keymat_len(encr, key_bits))
		goto out;
	rc = KEEL_ERR_NOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out;
	c->op = op;
	c->ctr = encr == KEEL_ENCR_AES_CTR;
	c->iv_len = (size_t)keel_encr_iv_len(encr);
	c->block_len = (size_t)keel_encr_block_len(encr);
	/* RFC 3686 §5.1: the nonce is the last 4 bytes of the key material */
	if (c->ctr)
		memcpy(c->nonce, keymat + klen, KEEL_ENCR_SALT_LEN);
	rc = ctx_new(encr, klen, op, keymat, &c->ctx);
	if (rc < 0)
		goto out;
	*out = c;
	c = NULL;
out:
	keel_cipher_free(c);
	return rc;
}

void keel_cipher_free(struct keel_cipher *c)
{
	if (!c)
		return;
	EVP_CIPHER_CTX_free(c->ctx); /* clears the key schedule */
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

size_t keel_cipher_iv_len(const struct keel_cipher *c)
{
	return c->iv_len;
}

size_t keel_cipher_block_len(const struct keel_cipher *c)
{
	return c->block_len;
}

static int cipher_run(struct keel_cipher *c, const uint8_t *iv, const uint8_t *in, size_t len,
                      uint8_t *out)
{
	int rc = KEEL_ERR_CRYPTO;
	int outl = 0, finl = 0;
	uint8_t block[AES_BLOCK_LEN];
	const uint8_t *full_iv = iv;
	if (c->ctr) {
		/* RFC 3686 §4: counter block = nonce | IV | 32-bit counter, from 1 */
		memcpy(block, c->nonce, KEEL_ENCR_SALT_LEN);
		memcpy(block + KEEL_ENCR_SALT_LEN, iv, KEEL_AEAD_IV_LEN);
		memcpy(block + KEEL_ENCR_SALT_LEN + KEEL_AEAD_IV_LEN, "\0\0\0\1", 4);
		full_iv = block;
	}
	if (EVP_CipherInit_ex2(c->ctx, NULL, NULL, full_iv, -1, NULL) != 1)
		goto out;
	if (len > 0 && (EVP_CipherUpdate(c->ctx, out, &outl, in, (int)len) != 1 || outl < 0))
		goto out;
	if (EVP_CipherFinal_ex(c->ctx, out + outl, &finl) != 1 ||
	    (size_t)outl + (size_t)finl != len)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(block, sizeof(block));
	return rc;
}

int keel_cipher_encrypt(struct keel_cipher *c, const uint8_t *iv, const uint8_t *in, size_t len,
                        uint8_t *out)
{
	if (c->op != KEEL_CIPHER_ENCRYPT)
		return KEEL_ERR_STATE;
	/* len <= INT_MAX also keeps the CTR counter far below 2^32 blocks */
	if (len > INT_MAX || len % c->block_len != 0)
		return KEEL_ERR_INVAL;
	return cipher_run(c, iv, in, len, out);
}

int keel_cipher_decrypt(struct keel_cipher *c, const uint8_t *iv, const uint8_t *in, size_t len,
                        uint8_t *out)
{
	if (c->op != KEEL_CIPHER_DECRYPT)
		return KEEL_ERR_STATE;
	/* RFC 3602 §3: CBC ciphertext is a whole number of blocks */
	if (len > INT_MAX || len % c->block_len != 0)
		return KEEL_ERR_MALFORMED;
	return cipher_run(c, iv, in, len, out);
}
