/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * EAP-MD5-Challenge (RFC 3748 §5.4): the CHAP computation of RFC 1994 §4.1,
 * MD5(Identifier | secret | Challenge). It authenticates only the client
 * and makes no keys: AUTH then uses SK_pi (RFC 7296 §2.16).
 */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "eap/eap-internal.h"

#define MD5_LEN 16

int eap_md5_respond(struct keel_eap *e, uint8_t id, struct keel_rd *req, struct keel_wr *w)
{
	int rc = KEEL_ERR_CRYPTO;
	uint8_t digest[MD5_LEN];
	unsigned int digest_len = 0;
	EVP_MD_CTX *ctx = NULL;

	/* Value-Size, Value (the challenge), Name (RFC 1994 §4.1) */
	uint8_t value_size = keel_rd_u8(req);
	const uint8_t *challenge = keel_rd_bytes(req, value_size);
	if (req->bad || value_size == 0)
		return KEEL_ERR_MALFORMED;

	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex2(ctx, EVP_md5(), NULL) || !EVP_DigestUpdate(ctx, &id, 1) ||
	    (keel_secret_len(e->password) > 0 &&
	     !EVP_DigestUpdate(ctx, keel_secret_data(e->password),
	                       (size_t)keel_secret_len(e->password))) ||
	    !EVP_DigestUpdate(ctx, challenge, value_size) ||
	    !EVP_DigestFinal_ex(ctx, digest, &digest_len) || digest_len != MD5_LEN)
		goto out;
	/* Response: Value-Size 16, the digest; no Name (it adds nothing here) */
	keel_wr_u8(w, MD5_LEN);
	keel_wr_bytes(w, digest, MD5_LEN);
	e->responded = true;
	e->method_done = true;
	rc = 0;
out:
	OPENSSL_cleanse(digest, sizeof(digest));
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}
