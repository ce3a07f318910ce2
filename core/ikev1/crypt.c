/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Protection of IKEv1 messages under a phase 1 SA: the HASH payloads of
 * quick mode, informational and transaction exchanges (RFC 2409 §5.5, §5.7,
 * draft-dukes-ike-mode-cfg-02 §3.2), CBC encryption of everything after the
 * header (RFC 2408 §3.1) and the IV chains of RFC 2409 Appendix B: phase 1
 * messages chain from hash(g^xi | g^xr); each later exchange starts from
 * hash(last phase 1 CBC block | M-ID) and chains on within its message ID.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ikev1/sa.h"

void keel_v1_xchg_clear(struct v1_xchg *x)
{
	free(x->last_rx);
	free(x->last_tx);
	memset(x, 0, sizeof(*x));
}

static int phase2_iv(struct v1_p1 *p1, uint32_t msg_id, uint8_t iv[V1_BLOCK_LEN])
{
	/* RFC 2409 Appendix B: before phase 1 ends the chain so far stands in for its last block */
	const uint8_t *last = p1->p1_last_set ? p1->p1_last : p1->iv;
	return keel_ikev1_iv_phase2(p1->prf, last, V1_BLOCK_LEN, msg_id, iv);
}

struct v1_xchg *keel_v1_xchg(struct keel_v1sa *sa, struct v1_p1 *p1, uint32_t msg_id,
                             uint8_t exchange, bool create)
{
	struct v1_xchg *x = NULL, *lru = NULL;
	for (size_t i = 0; i < V1_MAX_XCHG; i++) {
		struct v1_xchg *c = &p1->x[i];
		if (c->used && c->msg_id == msg_id) {
			c->stamp = ++p1->x_clock;
			return c;
		}
		if (!c->used && !x)
			x = c;
		/* never the exchanges still under way */
		bool busy = c->used &&
		            ((sa->req_active && sa->req.p1 == p1 && sa->req.msg_id == c->msg_id) ||
		             (sa->qm_peer.active && sa->qm_peer.msg_id == c->msg_id));
		if (c->used && !busy && (!lru || c->stamp < lru->stamp))
			lru = c;
	}
	if (!create || msg_id == 0)
		return NULL;
	if (!x && !lru)
		return NULL;
	if (!x) {
		keel_v1_xchg_clear(lru);
		x = lru;
	}
	if (phase2_iv(p1, msg_id, x->iv) < 0)
		return NULL;
	x->used = true;
	x->msg_id = msg_id;
	x->exchange = exchange;
	x->stamp = ++p1->x_clock;
	return x;
}

int keel_v1_new_msg_id(struct keel_v1sa *sa, struct v1_p1 *p1, uint32_t *out)
{
	for (int tries = 0; tries < 64; tries++) {
		uint32_t id;
		int rc = keel_v1sa_random(sa, &id, sizeof(id));
		if (rc < 0)
			return rc;
		if (id == 0 || keel_v1_xchg(sa, p1, id, 0, false))
			continue;
		*out = id;
		return 0;
	}
	return KEEL_ERR_CRYPTO;
}

int keel_v1_p1_ciphers(struct v1_p1 *p1)
{
	keel_cipher_free(p1->enc);
	keel_cipher_free(p1->dec);
	p1->enc = p1->dec = NULL;
	const uint8_t *k = keel_secret_data(p1->keys.encr_key);
	size_t kl = (size_t)keel_secret_len(p1->keys.encr_key);
	/* IKEv1 AES-CBC is IKEv2's AES-CBC (RFC 3602) with the same key lengths */
	int rc = keel_cipher_new(KEEL_ENCR_AES_CBC, p1->xf.key_bits, KEEL_CIPHER_ENCRYPT, k, kl,
	                         &p1->enc);
	if (rc == 0)
		rc = keel_cipher_new(KEEL_ENCR_AES_CBC, p1->xf.key_bits, KEEL_CIPHER_DECRYPT, k, kl,
		                     &p1->dec);
	return rc;
}

/* ---- building ---- */

void keel_v1_wr_begin(struct keel_v1sa *sa, struct v1_wr *mw, struct v1_p1 *p1, uint8_t exchange,
                      uint32_t msg_id, bool encrypt, enum v1_hash_kind hash)
{
	struct keel_v1_hdr h;
	memset(mw, 0, sizeof(*mw));
	mw->sa = sa;
	mw->p1 = p1;
	mw->msg_id = msg_id;
	mw->encrypt = encrypt;
	mw->hash = hash;
	mw->w = keel_wr_init(sa->tx_buf, sizeof(sa->tx_buf));
	memset(&h, 0, sizeof(h));
	memcpy(h.cookie_i, p1->cky_i, KEEL_V1_COOKIE_LEN);
	memcpy(h.cookie_r, p1->cky_r, KEEL_V1_COOKIE_LEN);
	h.exchange = exchange;
	h.flags = encrypt ? KEEL_V1_FLAG_ENC : 0;
	h.msg_id = msg_id;
	keel_v1_enc_init(&mw->e, &mw->w, &h);
	if (hash != V1_HASH_NONE) {
		mw->hash_len = (size_t)keel_prf_out_len(p1->prf);
		mw->hash_at = keel_v1_enc_hash_slot(&mw->e, mw->hash_len);
	}
}

int keel_v1_wr_end(struct v1_wr *mw, uint8_t **out, size_t *len)
{
	struct v1_p1 *p1 = mw->p1;
	uint8_t *buf = mw->w.buf;
	size_t chain_end = keel_wr_pos(&mw->w);
	ptrdiff_t n;
	int rc;

	if (mw->encrypt)
		keel_v1_enc_pad(&mw->e, V1_BLOCK_LEN);
	n = keel_v1_enc_finish(&mw->e);
	if (n < 0)
		return (int)n;
	if (mw->hash != V1_HASH_NONE) {
		if (mw->hash_at < 0)
			return (int)mw->hash_at;
		size_t after = (size_t)mw->hash_at + mw->hash_len;
		ptrdiff_t h = KEEL_ERR_INVAL;
		switch (mw->hash) {
		case V1_HASH_1:
			h = keel_ikev1_hash1(p1->prf, p1->keys.skeyid_a, mw->msg_id, buf + after,
			                     (ptrdiff_t)(chain_end - after), buf + mw->hash_at,
			                     (ptrdiff_t)mw->hash_len);
			break;
		case V1_HASH_2:
			h = keel_ikev1_hash2(p1->prf, p1->keys.skeyid_a, mw->msg_id, mw->n_i,
			                     (ptrdiff_t)mw->n_i_len, buf + after,
			                     (ptrdiff_t)(chain_end - after), buf + mw->hash_at,
			                     (ptrdiff_t)mw->hash_len);
			break;
		case V1_HASH_3:
			h = keel_ikev1_hash3(p1->prf, p1->keys.skeyid_a, mw->msg_id, mw->n_i,
			                     (ptrdiff_t)mw->n_i_len, mw->n_r,
			                     (ptrdiff_t)mw->n_r_len, buf + mw->hash_at,
			                     (ptrdiff_t)mw->hash_len);
			break;
		case V1_HASH_NONE:
			break;
		}
		if (h < 0)
			return (int)h;
	}
	if (mw->encrypt) {
		uint8_t *iv;
		struct v1_xchg *x = NULL;
		if (!p1->keyed || !p1->enc)
			return KEEL_ERR_STATE;
		if (mw->msg_id == 0) {
			iv = p1->iv;
		} else {
			x = keel_v1_xchg(mw->sa, p1, mw->msg_id, buf[18], true);
			if (!x)
				return KEEL_ERR_CRYPTO;
			iv = x->iv;
		}
		size_t body = (size_t)n - KEEL_V1_HDR_LEN;
		rc = keel_cipher_encrypt(p1->enc, iv, buf + KEEL_V1_HDR_LEN, body,
		                         buf + KEEL_V1_HDR_LEN);
		if (rc < 0)
			return rc;
		/* RFC 2409 Appendix B: the next IV is this message's last CBC block */
		memcpy(iv, buf + n - V1_BLOCK_LEN, V1_BLOCK_LEN);
		if (mw->msg_id == 0) {
			memcpy(p1->p1_last, iv, V1_BLOCK_LEN);
			p1->p1_last_set = true;
		}
	}
	uint8_t *copy = malloc((size_t)n);
	if (!copy)
		return KEEL_ERR_NOMEM;
	memcpy(copy, buf, (size_t)n);
	*out = copy;
	*len = (size_t)n;
	return 0;
}

/* ---- opening ---- */

int keel_v1_rx_open(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	struct keel_v1_msg *m = &sa->rx;
	uint8_t iv[V1_BLOCK_LEN];
	int rc;

	sa->rx_enc = false;
	if (!(m->hdr.flags & KEEL_V1_FLAG_ENC))
		return keel_v1_msg_verify(m) < 0 ? KEEL_ERR_MALFORMED : 0;
	if (!p1->keyed || !p1->dec)
		return KEEL_ERR_STATE;
	/* RFC 2409 Appendix B: CBC, a whole number of blocks */
	if (m->enc_len == 0 || m->enc_len % V1_BLOCK_LEN != 0 || m->enc_len > sizeof(sa->rx_plain))
		return KEEL_ERR_MALFORMED;
	if (m->hdr.msg_id == 0) {
		memcpy(iv, p1->iv, V1_BLOCK_LEN);
	} else {
		struct v1_xchg *x = keel_v1_xchg(sa, p1, m->hdr.msg_id, 0, false);
		if (x)
			memcpy(iv, x->iv, V1_BLOCK_LEN);
		else if ((rc = phase2_iv(p1, m->hdr.msg_id, iv)) < 0)
			return rc;
	}
	rc = keel_cipher_decrypt(p1->dec, iv, m->enc, m->enc_len, sa->rx_plain);
	if (rc < 0)
		return KEEL_ERR_MALFORMED;
	memcpy(sa->rx_last_block, m->enc + m->enc_len - V1_BLOCK_LEN, V1_BLOCK_LEN);
	rc = keel_v1_chain_decode(m->hdr.next, sa->rx_plain, m->enc_len, true, m);
	if (rc == 0)
		rc = keel_v1_msg_verify(m);
	if (rc < 0)
		return KEEL_ERR_MALFORMED;
	sa->rx_enc = true;
	return 0;
}

void keel_v1_rx_commit(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	if (!sa->rx_enc)
		return;
	uint32_t mid = sa->rx.hdr.msg_id;
	if (mid == 0) {
		memcpy(p1->iv, sa->rx_last_block, V1_BLOCK_LEN);
		memcpy(p1->p1_last, sa->rx_last_block, V1_BLOCK_LEN);
		p1->p1_last_set = true;
	} else {
		struct v1_xchg *x = keel_v1_xchg(sa, p1, mid, sa->rx.hdr.exchange, true);
		if (x)
			memcpy(x->iv, sa->rx_last_block, V1_BLOCK_LEN);
	}
	sa->rx_enc = false;
}

int keel_v1_rx_hash(struct keel_v1sa *sa, struct v1_p1 *p1, enum v1_hash_kind kind,
                    const uint8_t *n_i, size_t n_i_len, const uint8_t *n_r, size_t n_r_len)
{
	const struct keel_v1_msg *m = &sa->rx;
	uint8_t want[KEEL_PRF_MAX_OUT_LEN];
	ptrdiff_t n = KEEL_ERR_INVAL;
	int rc = KEEL_ERR_AUTH;

	/* RFC 2409 §5.5, §5.7: the HASH payload comes first */
	if (m->n_payloads == 0 || m->pl[0].type != KEEL_V1_PL_HASH)
		return KEEL_ERR_MALFORMED;
	const struct keel_v1_payload *h = &m->pl[0];
	const struct keel_v1_payload *last = &m->pl[m->n_payloads - 1];
	const uint8_t *rest = h->raw + h->raw_len;
	size_t rest_len = (size_t)(last->raw + last->raw_len - rest);
	switch (kind) {
	case V1_HASH_1:
		n = keel_ikev1_hash1(p1->prf, p1->keys.skeyid_a, m->hdr.msg_id, rest,
		                     (ptrdiff_t)rest_len, want, sizeof(want));
		break;
	case V1_HASH_2:
		n = keel_ikev1_hash2(p1->prf, p1->keys.skeyid_a, m->hdr.msg_id, n_i,
		                     (ptrdiff_t)n_i_len, rest, (ptrdiff_t)rest_len, want,
		                     sizeof(want));
		break;
	case V1_HASH_3:
		if (m->n_payloads != 1)
			return KEEL_ERR_MALFORMED;
		n = keel_ikev1_hash3(p1->prf, p1->keys.skeyid_a, m->hdr.msg_id, n_i,
		                     (ptrdiff_t)n_i_len, n_r, (ptrdiff_t)n_r_len, want,
		                     sizeof(want));
		break;
	case V1_HASH_NONE:
		return KEEL_ERR_INVAL;
	}
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	if ((size_t)n == h->len && CRYPTO_memcmp(want, h->body, (size_t)n) == 0)
		rc = 0;
out:
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}
