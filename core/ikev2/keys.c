/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Keys of an IKE SA (RFC 7296 §2.14, §2.18), the shared-key AUTH payload
 * (§2.15) and CHILD SA KEYMAT (§2.17), on top of crypto/kdf.h.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "ikev2/keys.h"

static void spi_bytes(uint64_t spi, uint8_t out[8])
{
	for (int i = 7; i >= 0; i--, spi >>= 8)
		out[i] = (uint8_t)spi;
}

int keel_ike_keys_derive(struct keel_ike_keyset *ks, const struct keel_algs *alg, bool initiator,
                         uint64_t spi_i, uint64_t spi_r, const uint8_t *nonce_i, size_t nonce_i_len,
                         const uint8_t *nonce_r, size_t nonce_r_len, const struct keel_secret *g_ir,
                         uint16_t old_prf, const struct keel_secret *old_sk_d)
{
	int rc;
	enum keel_prf_alg prf, oprf;
	enum keel_integ_alg integ;
	struct keel_ikev2_ike_params p;

	memset(&p, 0, sizeof(p));
	if ((rc = keel_prf_from_ikev2_id(alg->prf, &prf)) < 0 ||
	    (rc = keel_integ_from_ikev2_id(alg->integ, &integ)) < 0)
		return rc;
	ptrdiff_t ek = keel_encr_keymat_len(alg->encr, alg->encr_key_bits);
	if (ek < 0)
		return (int)ek;
	p.prf = prf;
	p.integ = integ;
	p.encr_key_len = ek;
	p.nonce_i = nonce_i;
	p.nonce_i_len = (ptrdiff_t)nonce_i_len;
	p.nonce_r = nonce_r;
	p.nonce_r_len = (ptrdiff_t)nonce_r_len;
	p.g_ir = keel_secret_data(g_ir);
	p.g_ir_len = keel_secret_len(g_ir);
	spi_bytes(spi_i, p.spi_i);
	spi_bytes(spi_r, p.spi_r);
	if (old_sk_d) {
		if ((rc = keel_prf_from_ikev2_id(old_prf, &oprf)) < 0)
			return rc;
		rc = keel_ikev2_derive_ike_rekey(&p, oprf, old_sk_d, &ks->keys);
	} else {
		rc = keel_ikev2_derive_ike(&p, &ks->keys);
	}
	if (rc < 0)
		return rc;
	rc = keel_sk_init(&ks->sk, alg->encr, alg->encr_key_bits, integ, &ks->keys, initiator);
	if (rc < 0) {
		keel_ikev2_ike_keys_clear(&ks->keys);
		return rc;
	}
	return 0;
}

void keel_ike_keys_clear(struct keel_ike_keyset *ks)
{
	keel_sk_clear(&ks->sk);
	keel_ikev2_ike_keys_clear(&ks->keys);
}

/* RFC 7296 §2.15: the key pad of shared-key authentication */
static const char key_pad[] = "Key Pad for IKEv2";

ptrdiff_t keel_auth_maced_id(uint16_t prf_id, const struct keel_secret *sk_p,
                             const uint8_t *id_body, size_t id_len, uint8_t *out, size_t cap)
{
	enum keel_prf_alg prf;
	ptrdiff_t rc;
	if ((rc = keel_prf_from_ikev2_id(prf_id, &prf)) < 0)
		return rc;
	if (!sk_p)
		return KEEL_ERR_INVAL;
	/* MACedIDFor{I,R} = prf(SK_p{i,r}, RestOf{Init,Resp}IDPayload) */
	struct keel_iov id_iov = {.data = id_body, .len = (ptrdiff_t)id_len};
	return keel_prf(prf, keel_secret_data(sk_p), keel_secret_len(sk_p), &id_iov, 1, out,
	                (ptrdiff_t)cap);
}

ptrdiff_t keel_auth_psk(uint16_t prf_id, const struct keel_secret *psk, const uint8_t *msg,
                        size_t msg_len, const uint8_t *nonce, size_t nonce_len,
                        const struct keel_secret *sk_p, const uint8_t *id_body, size_t id_len,
                        uint8_t *out, size_t cap)
{
	enum keel_prf_alg prf;
	uint8_t maced_id[KEEL_PRF_MAX_OUT_LEN];
	uint8_t pad_key[KEEL_PRF_MAX_OUT_LEN];
	ptrdiff_t rc, n_id = 0, n_key = 0;

	if ((rc = keel_prf_from_ikev2_id(prf_id, &prf)) < 0)
		return rc;
	if (!psk || keel_secret_len(psk) <= 0 || !sk_p)
		return KEEL_ERR_INVAL;
	/* MACedIDFor{I,R} = prf(SK_p{i,r}, RestOf{Init,Resp}IDPayload) */
	struct keel_iov id_iov = {.data = id_body, .len = (ptrdiff_t)id_len};
	n_id = keel_prf(prf, keel_secret_data(sk_p), keel_secret_len(sk_p), &id_iov, 1, maced_id,
	                sizeof(maced_id));
	if (n_id < 0) {
		rc = n_id;
		goto out;
	}
	/* prf(Shared Secret, "Key Pad for IKEv2"): the pad without its NUL */
	struct keel_iov pad_iov = {.data = (const uint8_t *)key_pad, .len = sizeof(key_pad) - 1};
	n_key = keel_prf(prf, keel_secret_data(psk), keel_secret_len(psk), &pad_iov, 1, pad_key,
	                 sizeof(pad_key));
	if (n_key < 0) {
		rc = n_key;
		goto out;
	}
	/* AUTH = prf(prf(Shared Secret, pad), <SignedOctets>), SignedOctets =
	 * RealMessage | Nonce{R,I}Data | MACedIDFor{I,R} */
	struct keel_iov signed_octets[3] = {
	    {.data = msg, .len = (ptrdiff_t)msg_len},
	    {.data = nonce, .len = (ptrdiff_t)nonce_len},
	    {.data = maced_id, .len = n_id},
	};
	rc = keel_prf(prf, pad_key, n_key, signed_octets, 3, out, (ptrdiff_t)cap);
out:
	OPENSSL_cleanse(maced_id, sizeof(maced_id));
	OPENSSL_cleanse(pad_key, sizeof(pad_key));
	return rc;
}

int keel_child_keys_derive(const struct keel_algs *ike_alg, const struct keel_algs *alg,
                           const struct keel_secret *sk_d, const uint8_t *nonce_i,
                           size_t nonce_i_len, const uint8_t *nonce_r, size_t nonce_r_len,
                           const struct keel_secret *g_ir, struct keel_child_keys *out)
{
	int rc;
	struct keel_ikev2_child_params p;
	enum keel_prf_alg prf;
	enum keel_integ_alg integ;

	memset(&p, 0, sizeof(p));
	if ((rc = keel_prf_from_ikev2_id(ike_alg->prf, &prf)) < 0 ||
	    (rc = keel_integ_from_ikev2_id(alg->integ, &integ)) < 0)
		return rc;
	/* AH (no cipher): integrity keys only, RFC 7296 §2.17 */
	ptrdiff_t ek = alg->encr ? keel_encr_keymat_len(alg->encr, alg->encr_key_bits) : 0;
	if (ek < 0)
		return (int)ek;
	p.prf = prf;
	p.integ = integ;
	p.encr_key_len = ek;
	p.nonce_i = nonce_i;
	p.nonce_i_len = (ptrdiff_t)nonce_i_len;
	p.nonce_r = nonce_r;
	p.nonce_r_len = (ptrdiff_t)nonce_r_len;
	if (g_ir) {
		p.g_ir = keel_secret_data(g_ir);
		p.g_ir_len = keel_secret_len(g_ir);
	}
	return keel_ikev2_derive_child(&p, sk_d, out);
}
