/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RFC 7296 §3.14 Encrypted payload:
 *
 *   generic header | IV | E(inner payloads | padding | pad length) | ICV
 *
 * Block cipher + integrity: the ICV covers the whole message from the IKE
 * header to the end of the ciphertext. AEAD (RFC 5282 §5): the associated
 * data is the IKE header and the SK generic header; the ICV is the AEAD tag.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "ikev2/sk.h"

static int key_of(const struct keel_secret *s, const uint8_t **p, size_t *len)
{
	if (!s)
		return KEEL_ERR_INVAL;
	*p = keel_secret_data(s);
	*len = (size_t)keel_secret_len(s);
	return 0;
}

int keel_sk_init(struct keel_sk *sk, uint16_t encr, unsigned key_bits, enum keel_integ_alg integ,
                 const struct keel_ikev2_ike_keys *keys, bool initiator)
{
	int rc;
	const uint8_t *ke_out, *ke_in, *ka_out, *ka_in;
	size_t ke_out_len, ke_in_len, ka_out_len, ka_in_len;
	const struct keel_secret *e_out = initiator ? keys->sk_ei : keys->sk_er;
	const struct keel_secret *e_in = initiator ? keys->sk_er : keys->sk_ei;

	memset(sk, 0, sizeof(*sk));
	sk->encr = encr;
	sk->key_bits = key_bits;
	sk->integ = integ;
	if ((rc = key_of(e_out, &ke_out, &ke_out_len)) < 0 ||
	    (rc = key_of(e_in, &ke_in, &ke_in_len)) < 0)
		goto out;
	if (keel_encr_is_aead(encr)) {
		if (integ != KEEL_INTEG_NONE) {
			rc = KEEL_ERR_INVAL;
			goto out;
		}
		rc = keel_aead_new(encr, key_bits, KEEL_CIPHER_ENCRYPT, ke_out, ke_out_len,
		                   &sk->aead_out);
		if (rc < 0)
			goto out;
		rc = keel_aead_new(encr, key_bits, KEEL_CIPHER_DECRYPT, ke_in, ke_in_len,
		                   &sk->aead_in);
		if (rc < 0)
			goto out;
		sk->iv_len = KEEL_AEAD_IV_LEN;
		sk->icv_len = keel_aead_icv_len(sk->aead_out);
		sk->block_len = 1;
	} else {
		if (integ == KEEL_INTEG_NONE) {
			rc = KEEL_ERR_INVAL;
			goto out;
		}
		rc = keel_cipher_new(encr, key_bits, KEEL_CIPHER_ENCRYPT, ke_out, ke_out_len,
		                     &sk->cipher_out);
		if (rc < 0)
			goto out;
		rc = keel_cipher_new(encr, key_bits, KEEL_CIPHER_DECRYPT, ke_in, ke_in_len,
		                     &sk->cipher_in);
		if (rc < 0)
			goto out;
		if ((rc = key_of(initiator ? keys->sk_ai : keys->sk_ar, &ka_out, &ka_out_len)) <
		        0 ||
		    (rc = key_of(initiator ? keys->sk_ar : keys->sk_ai, &ka_in, &ka_in_len)) < 0)
			goto out;
		rc = keel_integ_new(integ, ka_out, (ptrdiff_t)ka_out_len, &sk->integ_out);
		if (rc < 0)
			goto out;
		rc = keel_integ_new(integ, ka_in, (ptrdiff_t)ka_in_len, &sk->integ_in);
		if (rc < 0)
			goto out;
		sk->iv_len = keel_cipher_iv_len(sk->cipher_out);
		sk->block_len = keel_cipher_block_len(sk->cipher_out);
		sk->icv_len = (size_t)keel_integ_icv_len(integ);
	}
	rc = 0;
out:
	if (rc < 0)
		keel_sk_clear(sk);
	return rc;
}

void keel_sk_clear(struct keel_sk *sk)
{
	keel_aead_free(sk->aead_out);
	keel_aead_free(sk->aead_in);
	keel_cipher_free(sk->cipher_out);
	keel_cipher_free(sk->cipher_in);
	keel_integ_free(sk->integ_out);
	keel_integ_free(sk->integ_in);
	memset(sk, 0, sizeof(*sk));
}

int keel_sk_protect(struct keel_sk *sk, const struct keel_env *env, uint8_t *buf,
                    const struct keel_v2_sk_layout *lay)
{
	int rc;
	uint8_t *msg = buf + lay->msg_off;
	uint8_t *iv = buf + lay->iv_off;
	uint8_t *pt = buf + lay->plain_off;
	uint8_t *icv = buf + lay->icv_off;
	if (!sk->aead_out && !sk->cipher_out)
		return KEEL_ERR_STATE;
	if (lay->iv_len != sk->iv_len || lay->icv_len != sk->icv_len)
		return KEEL_ERR_INVAL;
	if (sk->aead_out) {
		/* RFC 5282 §3.1: the IV must never repeat under one key: a counter */
		uint64_t c = ++sk->iv_counter;
		for (int i = 7; i >= 0; i--, c >>= 8)
			iv[i] = (uint8_t)c;
		return keel_aead_seal(sk->aead_out, iv, msg, lay->aad_len, pt, lay->plain_len, pt,
		                      icv);
	}
	/* RFC 7296 §3.14: CBC IVs MUST be unpredictable */
	rc = keel_env_random(env, iv, sk->iv_len);
	if (rc < 0)
		return rc;
	rc = keel_cipher_encrypt(sk->cipher_out, iv, pt, lay->plain_len, pt);
	if (rc < 0)
		return rc;
	struct keel_iov iov = {.data = msg, .len = (ptrdiff_t)(lay->icv_off - lay->msg_off)};
	ptrdiff_t n = keel_integ_compute(sk->integ_out, &iov, 1, icv, (ptrdiff_t)sk->icv_len);
	return n < 0 ? (int)n : 0;
}

int keel_sk_open(struct keel_sk *sk, uint8_t *msg, size_t msg_len, size_t sk_off, uint8_t **plain,
                 size_t *plain_len)
{
	return keel_sk_open_payload(sk, msg, msg_len, sk_off, KEEL_V2_GENERIC_HDR_LEN, plain,
	                            plain_len);
}

int keel_sk_open_payload(struct keel_sk *sk, uint8_t *msg, size_t msg_len, size_t sk_off,
                         size_t hdr_len, uint8_t **plain, size_t *plain_len)
{
	int rc;
	if (!sk->aead_in && !sk->cipher_in)
		return KEEL_ERR_STATE;
	/* RFC 7296 §3.14, RFC 7383 §2.5: SK and SKF are the last payload: they run
	 * to the end */
	if (hdr_len < KEEL_V2_GENERIC_HDR_LEN || sk_off > msg_len ||
	    msg_len - sk_off < hdr_len + sk->iv_len + sk->icv_len + 1)
		return KEEL_ERR_MALFORMED;
	struct keel_rd r = keel_rd_init(msg + sk_off + 2, 2);
	size_t pl_len = keel_rd_u16(&r);
	if (pl_len != msg_len - sk_off)
		return KEEL_ERR_MALFORMED;
	uint8_t *iv = msg + sk_off + hdr_len;
	uint8_t *ct = iv + sk->iv_len;
	size_t ct_len = pl_len - hdr_len - sk->iv_len - sk->icv_len;
	uint8_t *icv = ct + ct_len;

	if (sk->aead_in) {
		/* RFC 5282 §5.1, RFC 7383 §2.5: the associated data runs up to the IV */
		rc = keel_aead_open(sk->aead_in, iv, msg, sk_off + hdr_len, ct, ct_len, ct, icv);
		if (rc < 0)
			return rc;
	} else {
		struct keel_iov iov = {.data = msg, .len = (ptrdiff_t)(msg_len - sk->icv_len)};
		rc = keel_integ_verify(sk->integ_in, &iov, 1, icv, (ptrdiff_t)sk->icv_len);
		if (rc < 0)
			return rc;
		if (ct_len % sk->block_len != 0)
			return KEEL_ERR_MALFORMED;
		rc = keel_cipher_decrypt(sk->cipher_in, iv, ct, ct_len, ct);
		if (rc < 0)
			return rc;
	}
	size_t pad = ct[ct_len - 1];
	if (pad + 1 > ct_len)
		return KEEL_ERR_MALFORMED;
	*plain = ct;
	*plain_len = ct_len - pad - 1;
	return 0;
}
