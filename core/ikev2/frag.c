/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IKE fragmentation (RFC 7383): our messages that would not fit one
 * datagram go as Encrypted Fragment payloads (SKF), each encrypted and
 * authenticated on its own, so that certificate chains pass paths that drop
 * IP fragments; the gateway's fragments are authenticated one by one and
 * put back together.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ikev2/sa.h"

#define IPV4_HDR_LEN   20
#define IPV6_HDR_LEN   40
#define UDP_HDR_LEN    8
#define NON_ESP_MARKER 4 /* RFC 3948 §2.2 */

size_t keel_frag_limit(const struct keel_sa *sa)
{
	size_t ip = sa->cfg.local.family == KEEL_AF_INET6 ? IPV6_HDR_LEN : IPV4_HDR_LEN;
	size_t over = ip + UDP_HDR_LEN + (sa->natt ? NON_ESP_MARKER : 0);
	size_t size = sa->cfg.fragment_size;
	return size > over ? size - over : 0;
}

int keel_frag_build(struct keel_sa *sa, struct msg_wr *mw, const struct keel_v2_sk_layout *lay,
                    uint8_t **out, size_t *len)
{
	struct keel_sk *sk = &mw->ike->ks.sk;
	uint8_t *plain = NULL, *msgs = NULL;
	size_t used = 0;
	int rc = KEEL_ERR_INVAL;

	/* the inner payloads: the plaintext less Padding and Pad Length */
	if (lay->plain_len == 0)
		return KEEL_ERR_STATE;
	size_t pad = sa->tx_buf[lay->plain_off + lay->plain_len - 1];
	if (pad + 1 > lay->plain_len)
		return KEEL_ERR_STATE;
	size_t inner_len = lay->plain_len - pad - 1;
	uint8_t first = mw->sk.inner.first_type;

	/* RFC 7383 §2.5.1: every fragment datagram within the limit. Each carries
	 * header, SKF header, IV, ICV and whole cipher blocks of fragment data,
	 * Padding and Pad Length. */
	size_t limit = keel_frag_limit(sa);
	size_t block = sk->block_len ? sk->block_len : 1;
	size_t over = KEEL_V2_HDR_LEN + KEEL_V2_SKF_HDR_LEN + sk->iv_len + sk->icv_len;
	if (limit < over + 2 * block + 64)
		return KEEL_ERR_INVAL;
	size_t chunk = (limit - over) / block * block - 1;
	size_t total = inner_len ? (inner_len + chunk - 1) / chunk : 1;
	if (total > UINT16_MAX)
		return KEEL_ERR_INVAL;

	plain = malloc(inner_len ? inner_len : 1);
	msgs = malloc(total * limit);
	if (!plain || !msgs) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	memcpy(plain, sa->tx_buf + lay->plain_off, inner_len);

	for (size_t i = 1; i <= total; i++) {
		size_t off = (i - 1) * chunk;
		size_t n = inner_len - off < chunk ? inner_len - off : chunk;
		struct keel_wr w = keel_wr_init(sa->tx_buf, sizeof(sa->tx_buf));
		struct keel_v2_chain_wr cw;
		struct keel_v2_sk_wr skw;
		struct keel_v2_sk_layout fl;
		keel_v2_msg_wr_begin(&cw, &w, &mw->hdr);
		/* RFC 7383 §2.5: the first inner payload's type in fragment 1 only */
		rc = keel_v2_skf_begin(&cw, &skw, sk->iv_len, (uint16_t)i, (uint16_t)total,
		                       i == 1 ? first : 0);
		if (rc < 0)
			goto out;
		keel_wr_bytes(&w, plain + off, n);
		rc = keel_v2_sk_end(&skw, block, sk->icv_len, &fl);
		if (rc < 0)
			goto out;
		ptrdiff_t m = keel_v2_chain_finish(&cw);
		if (m < 0) {
			rc = (int)m;
			goto out;
		}
		if ((size_t)m > limit) {
			rc = KEEL_ERR_STATE;
			goto out;
		}
		rc = keel_sk_protect(sk, sa->env, sa->tx_buf, &fl);
		if (rc < 0)
			goto out;
		memcpy(msgs + used, sa->tx_buf, (size_t)m);
		used += (size_t)m;
	}
	keel_log(sa, KEEL_LOG_DEBUG, "%s %s %u: %zu bytes in %zu fragments",
	         keel_v2_exchange_name(mw->hdr.exchange),
	         mw->hdr.flags & KEEL_V2_FLAG_RESPONSE ? "response" : "request", mw->hdr.msg_id,
	         inner_len, total);
	*out = msgs;
	*len = used;
	msgs = NULL;
	rc = 0;
out:
	if (plain) {
		OPENSSL_cleanse(plain, inner_len);
		free(plain);
	}
	free(msgs);
	return rc;
}

bool keel_rx_is_fragment(const struct keel_sa *sa)
{
	const struct keel_v2_chain *c = &sa->rx.outer.chain;
	return c->n > 0 && c->p[c->n - 1].type == KEEL_V2_PAYLOAD_SKF;
}

void keel_frag_clear(struct keel_sa *sa, bool release)
{
	struct frag_rx *f = &sa->frag;
	uint8_t *buf = f->buf;
	if (buf && f->used)
		OPENSSL_cleanse(buf, f->used);
	if (release) {
		free(buf);
		buf = NULL;
	}
	memset(f, 0, sizeof(*f));
	f->buf = buf;
}

/* Decodes and authenticates the fragment ending sa->rx; *plain borrows sa->rx_buf. */
static int open_one(struct keel_sa *sa, struct ike_sa *ike, struct keel_v2_skf *skf,
                    uint8_t **plain, size_t *plain_len)
{
	const struct keel_v2_chain *c = &sa->rx.outer.chain;
	const struct keel_v2_raw_payload *raw = &c->p[c->n - 1];
	struct keel_v2_payload pl;
	/* RFC 7383 §2.3, §2.5: fragments are sent only once both sides announced
	 * IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT. Without that an SKF
	 * message is invalid: dropped unopened, as any malformed message. */
	if (!sa->frag_ok) {
		keel_log(sa, KEEL_LOG_DEBUG,
		         "dropping a fragment of %s %s %u: fragmentation was not negotiated",
		         keel_v2_exchange_name(sa->rx.outer.hdr.exchange),
		         sa->rx.outer.hdr.flags & KEEL_V2_FLAG_RESPONSE ? "response" : "request",
		         sa->rx.outer.hdr.msg_id);
		return KEEL_ERR_MALFORMED;
	}
	if (keel_v2_payload_decode(raw, &pl) < 0 || keel_v2_skf_verify(&pl.u.skf) < 0)
		return KEEL_ERR_MALFORMED;
	*skf = pl.u.skf;
	if (skf->total > KEEL_FRAG_MAX)
		return KEEL_ERR_MALFORMED;
	size_t len = sa->rx.outer.raw.len;
	if (len > sizeof(sa->rx_buf))
		return KEEL_ERR_MALFORMED;
	memcpy(sa->rx_buf, sa->rx.outer.raw.p, len);
	/* RFC 7383 §2.6: a fragment is authenticated before anything is done with it */
	int rc = keel_sk_open_payload(&ike->ks.sk, sa->rx_buf, len, raw->off, KEEL_V2_SKF_HDR_LEN,
	                              plain, plain_len);
	if (rc < 0)
		return rc == KEEL_ERR_AUTH ? KEEL_ERR_AUTH : KEEL_ERR_MALFORMED;
	return 0;
}

int keel_frag_check(struct keel_sa *sa, struct ike_sa *ike, uint16_t *frag_num)
{
	struct keel_v2_skf skf;
	uint8_t *plain;
	size_t plain_len;
	int rc = open_one(sa, ike, &skf, &plain, &plain_len);
	if (rc < 0)
		return rc;
	OPENSSL_cleanse(plain, plain_len);
	*frag_num = skf.frag_num;
	return 0;
}

int keel_frag_open(struct keel_sa *sa, struct ike_sa *ike)
{
	struct frag_rx *f = &sa->frag;
	const struct keel_v2_hdr *h = &sa->rx.outer.hdr;
	struct keel_v2_skf skf;
	uint8_t *plain;
	size_t plain_len;
	int rc = open_one(sa, ike, &skf, &plain, &plain_len);
	if (rc < 0)
		return rc;

	bool response = (h->flags & KEEL_V2_FLAG_RESPONSE) != 0;
	bool same = f->active && f->ike == ike && f->msg_id == h->msg_id &&
	            f->response == response && f->exchange == h->exchange;
	if (same && skf.total < f->total) {
		/* RFC 7383 §2.6: fewer fragments than before: a stale one, dropped */
		keel_log(sa, KEEL_LOG_DEBUG, "dropping fragment %u/%u of message %u: %u expected",
		         skf.frag_num, skf.total, h->msg_id, f->total);
		rc = KEEL_ERR_MALFORMED;
		goto out;
	}
	if (!same || skf.total > f->total) {
		/* a new message, or the peer fragmented it again with more fragments
		 * (RFC 7383 §2.6): what was kept goes */
		keel_frag_clear(sa, false);
		if (!f->buf && !(f->buf = malloc(KEEL_MSG_MAX))) {
			rc = KEEL_ERR_NOMEM;
			goto out;
		}
		f->active = true;
		f->ike = ike;
		f->msg_id = h->msg_id;
		f->response = response;
		f->exchange = h->exchange;
		f->total = skf.total;
	}
	if (f->have[skf.frag_num]) {
		/* a duplicate: ignored (RFC 7383 §2.6) */
		rc = KEEL_MSG_PENDING;
		goto out;
	}
	if (plain_len > KEEL_MSG_MAX - f->used) {
		keel_log(sa, KEEL_LOG_DEBUG, "message %u: fragments exceed %d bytes, dropped",
		         h->msg_id, KEEL_MSG_MAX);
		keel_frag_clear(sa, false);
		rc = KEEL_ERR_MALFORMED;
		goto out;
	}
	memcpy(f->buf + f->used, plain, plain_len);
	f->off[skf.frag_num] = (uint32_t)f->used;
	f->len[skf.frag_num] = (uint32_t)plain_len;
	f->have[skf.frag_num] = true;
	f->used += plain_len;
	f->n_have++;
	if (skf.frag_num == 1)
		f->first_type = skf.inner_type;
	if (f->n_have < f->total) {
		rc = KEEL_MSG_PENDING;
		goto out;
	}

	/* whole: the inner chain is the fragments' data in order (RFC 7383 §2.6) */
	size_t n = 0;
	for (uint16_t i = 1; i <= f->total; i++) {
		memcpy(sa->rx_buf + n, f->buf + f->off[i], f->len[i]);
		n += f->len[i];
	}
	uint8_t first = f->first_type;
	uint16_t total = f->total;
	keel_frag_clear(sa, false);
	keel_log(sa, KEEL_LOG_DEBUG, "message %u reassembled from %u fragments (%zu bytes)",
	         h->msg_id, total, n);
	rc = keel_msg_inner(sa, sa->rx_buf, n, first);
	return rc;
out:
	OPENSSL_cleanse(plain, plain_len);
	return rc;
}
