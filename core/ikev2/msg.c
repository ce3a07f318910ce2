/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Messages of an SA: building them with the IKEv2 codec, protecting them
 * with the SK payload, sending datagrams on the right ports, caching our
 * responses, and opening what arrives.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ikev2/sa.h"

void keel_msg_begin(struct keel_sa *sa, struct msg_wr *mw, struct ike_sa *ike, uint8_t exchange,
                    bool response, uint32_t msg_id, bool protected)
{
	memset(mw, 0, sizeof(*mw));
	mw->sa = sa;
	mw->ike = ike;
	mw->protected = protected;
	mw->w = keel_wr_init(sa->tx_buf, sizeof(sa->tx_buf));
	struct keel_v2_hdr h = {
	    .spi_i = ike->spi_i,
	    .spi_r = ike->spi_r,
	    .major_version = 2,
	    .minor_version = 0,
	    .exchange = exchange,
	    /* RFC 7296 §3.1: I marks the original initiator of this IKE SA */
	    .flags = (uint8_t)((ike->initiator ? KEEL_V2_FLAG_INITIATOR : 0) |
	                       (response ? KEEL_V2_FLAG_RESPONSE : 0)),
	    .msg_id = msg_id,
	};
	mw->hdr = h;
	keel_v2_msg_wr_begin(&mw->outer, &mw->w, &h);
	mw->cw = &mw->outer;
	if (protected) {
		int rc = keel_v2_sk_begin(&mw->outer, &mw->sk, ike->ks.sk.iv_len);
		if (rc < 0)
			mw->err = rc;
		mw->cw = &mw->sk.inner;
	}
}

int keel_msg_end(struct keel_sa *sa, struct msg_wr *mw, uint8_t **out, size_t *len)
{
	int rc = mw->err;
	struct keel_v2_sk_layout lay;
	ptrdiff_t n;

	if (rc < 0)
		return rc;
	if (mw->protected) {
		rc =
		    keel_v2_sk_end(&mw->sk, mw->ike->ks.sk.block_len, mw->ike->ks.sk.icv_len, &lay);
		if (rc < 0)
			return rc;
	}
	n = keel_v2_chain_finish(&mw->outer);
	if (n < 0)
		return (int)n;
	/* RFC 7383 §2.5: once both sides support it, what does not fit one
	 * datagram goes in fragments (never IKE_SA_INIT, which is unprotected) */
	if (mw->protected && sa->frag_ok && (size_t)n > keel_frag_limit(sa))
		return keel_frag_build(sa, mw, &lay, out, len);
	if (mw->protected) {
		rc = keel_sk_protect(&mw->ike->ks.sk, sa->env, sa->tx_buf, &lay);
		if (rc < 0)
			return rc;
	}
	uint8_t *copy = malloc((size_t)n);
	if (!copy)
		return KEEL_ERR_NOMEM;
	memcpy(copy, sa->tx_buf, (size_t)n);
	*out = copy;
	*len = (size_t)n;
	return 0;
}

static void add(struct msg_wr *mw, uint8_t type)
{
	struct keel_v2_payload *pl = &mw->sa->pl;
	pl->type = type;
	pl->critical = false;
	int rc = keel_v2_chain_add(mw->cw, pl);
	if (rc < 0 && mw->err == 0)
		mw->err = rc;
}

void keel_add_notify(struct msg_wr *mw, uint8_t protocol, const uint8_t *spi, size_t spi_len,
                     uint16_t type, const uint8_t *data, size_t data_len)
{
	static const uint8_t none[1];
	struct keel_v2_notify *n = &mw->sa->pl.u.notify;
	memset(n, 0, sizeof(*n));
	n->protocol = protocol;
	n->type = type;
	n->spi = (struct keel_v2_bytes){.p = spi ? spi : none, .len = spi_len};
	n->data = (struct keel_v2_bytes){.p = data ? data : none, .len = data_len};
	add(mw, KEEL_V2_PAYLOAD_NOTIFY);
}

void keel_add_bytes(struct msg_wr *mw, uint8_t type, const uint8_t *data, size_t len)
{
	struct keel_v2_payload *pl = &mw->sa->pl;
	struct keel_v2_bytes b = {.p = data, .len = len};
	switch (type) {
	case KEEL_V2_PAYLOAD_NONCE:
		pl->u.nonce = b;
		break;
	case KEEL_V2_PAYLOAD_VENDOR:
		pl->u.vendor = b;
		break;
	default:
		pl->u.raw = b;
		break;
	}
	add(mw, type);
}

void keel_add_ke(struct msg_wr *mw, const struct keel_dh *dh)
{
	uint8_t pub[KEEL_DH_PUBLIC_MAX_LEN];
	ptrdiff_t n = keel_dh_public(dh, pub, sizeof(pub));
	if (n < 0) {
		if (mw->err == 0)
			mw->err = (int)n;
		return;
	}
	mw->sa->pl.u.ke.group = (uint16_t)keel_dh_group(dh);
	mw->sa->pl.u.ke.data = (struct keel_v2_bytes){.p = pub, .len = (size_t)n};
	add(mw, KEEL_V2_PAYLOAD_KE);
}

void keel_add_sa(struct msg_wr *mw)
{
	add(mw, KEEL_V2_PAYLOAD_SA);
}

void keel_add_ts(struct msg_wr *mw, uint8_t type, const struct keel_ts *ts, size_t n)
{
	struct keel_v2_ts *out = &mw->sa->pl.u.ts;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n && i < KEEL_V2_MAX_TS; i++) {
		struct keel_v2_ts_entry *e = &out->ts[out->n++];
		e->type = ts[i].family == KEEL_AF_INET6 ? KEEL_V2_TS_IPV6_ADDR_RANGE
		                                        : KEEL_V2_TS_IPV4_ADDR_RANGE;
		e->ip_proto = ts[i].ip_proto;
		e->start_port = ts[i].port_start;
		e->end_port = ts[i].port_end;
		memcpy(e->start_addr, ts[i].start, 16);
		memcpy(e->end_addr, ts[i].end, 16);
	}
	add(mw, type);
}

void keel_add_delete(struct msg_wr *mw, uint8_t protocol, const uint32_t *spis, size_t n)
{
	uint8_t buf[4 * KEEL_MAX_CHILDREN];
	struct keel_v2_delete *d = &mw->sa->pl.u.del;
	memset(d, 0, sizeof(*d));
	d->protocol = protocol;
	if (protocol == KEEL_V2_PROTO_IKE) {
		/* RFC 7296 §3.11: deleting the IKE SA: SPI size 0, no SPIs */
		d->spi_size = 0;
		d->n_spis = 0;
		d->spis = (struct keel_v2_bytes){.p = buf, .len = 0};
	} else {
		if (n > KEEL_MAX_CHILDREN)
			n = KEEL_MAX_CHILDREN;
		for (size_t i = 0; i < n; i++) {
			buf[4 * i] = (uint8_t)(spis[i] >> 24);
			buf[4 * i + 1] = (uint8_t)(spis[i] >> 16);
			buf[4 * i + 2] = (uint8_t)(spis[i] >> 8);
			buf[4 * i + 3] = (uint8_t)spis[i];
		}
		d->spi_size = 4;
		d->n_spis = (uint16_t)n;
		d->spis = (struct keel_v2_bytes){.p = buf, .len = 4 * n};
	}
	add(mw, KEEL_V2_PAYLOAD_DELETE);
}

static int dgram_out_one(struct keel_sa *sa, const uint8_t *msg, size_t len)
{
	uint8_t *data;
	struct keel_out *o = keel_out_push(sa, KEEL_OUT_DGRAM, len, false, &data);
	if (!o)
		return KEEL_ERR_NOMEM;
	memcpy(data, msg, len);
	struct keel_out_dgram *d = &o->u.dgram;
	d->local = sa->cfg.local;
	d->remote = sa->cfg.remote;
	if (sa->natt) {
		d->local.port = sa->cfg.local_natt_port;
		d->remote.port = sa->cfg.remote_natt_port;
	}
	d->natt = sa->natt || d->local.port == sa->cfg.local_natt_port;
	d->data = data;
	d->len = (ptrdiff_t)len;
	return 0;
}

int keel_dgram_out(struct keel_sa *sa, const uint8_t *msg, size_t len)
{
	/* each fragment is a whole IKE message: its header Length says where it ends */
	while (len > 0) {
		size_t n = len;
		if (len >= KEEL_V2_HDR_LEN) {
			struct keel_rd r = keel_rd_init(msg + 24, 4);
			uint32_t l = keel_rd_u32(&r);
			if (l >= KEEL_V2_HDR_LEN && l <= len)
				n = l;
		}
		int rc = dgram_out_one(sa, msg, n);
		if (rc < 0)
			return rc;
		msg += n;
		len -= n;
	}
	return 0;
}

int keel_msg_respond(struct keel_sa *sa, struct msg_wr *mw)
{
	uint8_t *msg;
	size_t len;
	struct ike_sa *ike = mw->ike;
	int rc = keel_msg_end(sa, mw, &msg, &len);
	if (rc < 0)
		return rc;
	rc = keel_dgram_out(sa, msg, len);
	if (rc < 0) {
		free(msg);
		return rc;
	}
	free(ike->resp);
	ike->resp = msg;
	ike->resp_len = len;
	ike->resp_id = ike->peer_req_id;
	ike->peer_req_id++;
	return 0;
}

int keel_msg_open(struct keel_sa *sa, struct ike_sa *ike)
{
	struct rx *rx = &sa->rx;
	const struct keel_v2_chain *c = &rx->outer.chain;
	uint8_t *plain;
	size_t plain_len;
	int rc;

	rx->authentic = false;
	rx->unsupported = 0;
	if (!ike->keyed)
		return KEEL_ERR_STATE;
	/* RFC 7383 §2.5: an SKF payload carries one fragment (kept only when
	 * fragmentation was negotiated, keel_frag_open()) */
	if (keel_rx_is_fragment(sa))
		return keel_frag_open(sa, ike);
	/* RFC 7296 §3.14: SK is the last payload; what precedes it is not protected
	 * and is ignored */
	if (c->n == 0 || c->p[c->n - 1].type != KEEL_V2_PAYLOAD_SK)
		return KEEL_ERR_MALFORMED;
	const struct keel_v2_raw_payload *skp = &c->p[c->n - 1];
	size_t len = rx->outer.raw.len;
	if (len > sizeof(sa->rx_buf))
		return KEEL_ERR_MALFORMED;
	memcpy(sa->rx_buf, rx->outer.raw.p, len);
	rc = keel_sk_open(&ike->ks.sk, sa->rx_buf, len, skp->off, &plain, &plain_len);
	if (rc < 0)
		return rc == KEEL_ERR_AUTH ? KEEL_ERR_AUTH : KEEL_ERR_MALFORMED;
	return keel_msg_inner(sa, plain, plain_len, skp->next);
}

int keel_msg_inner(struct keel_sa *sa, const uint8_t *plain, size_t plain_len, uint8_t first)
{
	struct rx *rx = &sa->rx;
	int rc;
	rx->authentic = true;
	struct keel_rd r = keel_rd_init(plain, plain_len);
	rc = keel_v2_chain_decode(&r, first, KEEL_V2_CHAIN_INNER, &rx->inner);
	if (rc == KEEL_ERR_UNSUPPORTED) {
		rx->unsupported = rx->inner.unsupported_type ? rx->inner.unsupported_type : 0xff;
		keel_log(sa, KEEL_LOG_WARN, "message %u carries an unknown critical payload (%u)",
		         rx->outer.hdr.msg_id, rx->inner.unsupported_type);
		return KEEL_ERR_MALFORMED;
	}
	if (rc < 0)
		return KEEL_ERR_MALFORMED;
	rc = keel_v2_chain_verify(&rx->inner);
	if (rc < 0)
		return KEEL_ERR_MALFORMED;
	rx->c = &rx->inner;
	return 0;
}

const struct keel_v2_raw_payload *keel_rx_find(struct keel_sa *sa, uint8_t type,
                                               struct keel_v2_payload *out)
{
	const struct keel_v2_raw_payload *raw = keel_v2_chain_find(sa->rx.c, type, NULL);
	if (raw && out && keel_v2_payload_decode(raw, out) < 0)
		return NULL;
	return raw;
}

bool keel_rx_notify(struct keel_sa *sa, uint16_t type, struct keel_v2_notify *out)
{
	struct keel_v2_notify tmp;
	return keel_v2_chain_find_notify(sa->rx.c, type, NULL, out ? out : &tmp) != NULL;
}

uint16_t keel_rx_error(struct keel_sa *sa)
{
	const struct keel_v2_raw_payload *raw = NULL;
	while ((raw = keel_v2_chain_find(sa->rx.c, KEEL_V2_PAYLOAD_NOTIFY, raw)) != NULL) {
		if (keel_v2_payload_decode(raw, &sa->pl_rx) < 0)
			continue;
		if (keel_v2_notify_is_error(sa->pl_rx.u.notify.type))
			return sa->pl_rx.u.notify.type;
	}
	return 0;
}

bool keel_ts_from_payload(const struct keel_v2_ts *in, struct keel_ts *out, size_t *n)
{
	size_t k = 0;
	for (size_t i = 0; i < in->n; i++) {
		const struct keel_v2_ts_entry *e = &in->ts[i];
		enum keel_af af;
		if (e->type == KEEL_V2_TS_IPV4_ADDR_RANGE)
			af = KEEL_AF_INET;
		else if (e->type == KEEL_V2_TS_IPV6_ADDR_RANGE)
			af = KEEL_AF_INET6;
		else
			continue; /* a selector type we cannot use: not part of our SA */
		if (k >= KEEL_MAX_TS)
			return false;
		struct keel_ts *t = &out[k++];
		memset(t, 0, sizeof(*t));
		t->family = af;
		t->ip_proto = e->ip_proto;
		t->port_start = e->start_port;
		t->port_end = e->end_port;
		memcpy(t->start, e->start_addr, (size_t)keel_af_addr_len(af));
		memcpy(t->end, e->end_addr, (size_t)keel_af_addr_len(af));
	}
	*n = k;
	return k > 0;
}

int keel_nonce_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	size_t n = a_len < b_len ? a_len : b_len;
	int c = memcmp(a, b, n);
	if (c != 0)
		return c;
	return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}
