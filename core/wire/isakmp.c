/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ISAKMP / IKEv1 wire codec: see isakmp.h. */
#include <string.h>

#include "isakmp.h"

#define PROPOSAL_FIXED_LEN  8 /* generic header + number, protocol, SPI size, # transforms */
#define TRANSFORM_FIXED_LEN 8 /* generic header + number, ID, RESERVED2 */

/* ------------------------------------------------------------------ */
/* Header                                                             */

static void hdr_read(struct keel_rd *r, struct keel_v1_hdr *h)
{
	keel_rd_copy(r, h->cookie_i, KEEL_V1_COOKIE_LEN);
	keel_rd_copy(r, h->cookie_r, KEEL_V1_COOKIE_LEN);
	h->next = keel_rd_u8(r);
	h->version = keel_rd_u8(r);
	h->exchange = keel_rd_u8(r);
	h->flags = keel_rd_u8(r);
	h->msg_id = keel_rd_u32(r);
	h->len = keel_rd_u32(r);
}

int keel_v1_hdr_decode(const uint8_t *buf, size_t len, struct keel_v1_hdr *hdr)
{
	struct keel_rd r = keel_rd_init(buf, len);
	struct keel_v1_hdr h;

	hdr_read(&r, &h);
	if (r.bad)
		return KEEL_ERR_MALFORMED;
	/* RFC 2408 §5.1: a major version we do not speak (IKEv2 is 2) */
	if (h.version >> 4 != 1)
		return KEEL_ERR_UNSUPPORTED;
	/* RFC 2408 §3.1: the length covers the whole message, padding included */
	if ((size_t)h.len != len)
		return KEEL_ERR_MALFORMED;
	*hdr = h;
	return 0;
}

void keel_v1_hdr_write(struct keel_wr *w, const struct keel_v1_hdr *hdr)
{
	keel_wr_bytes(w, hdr->cookie_i, KEEL_V1_COOKIE_LEN);
	keel_wr_bytes(w, hdr->cookie_r, KEEL_V1_COOKIE_LEN);
	keel_wr_u8(w, hdr->next);
	keel_wr_u8(w, hdr->version);
	keel_wr_u8(w, hdr->exchange);
	keel_wr_u8(w, hdr->flags);
	keel_wr_u32(w, hdr->msg_id);
	keel_wr_u32(w, hdr->len);
}

/* ------------------------------------------------------------------ */
/* Data attributes                                                    */

int keel_v1_attr_read(struct keel_rd *r, struct keel_v1_attr *a)
{
	struct keel_v1_attr at = {0};
	uint16_t type = keel_rd_u16(r);

	/* RFC 2408 §3.3: AF set: TV with a 16-bit value; clear: TLV */
	at.type = type & 0x7fff;
	at.basic = (type & 0x8000) != 0;
	if (at.basic) {
		at.basic_value = keel_rd_u16(r);
	} else {
		at.len = keel_rd_u16(r);
		at.value = keel_rd_bytes(r, at.len);
	}
	if (r->bad)
		return KEEL_ERR_MALFORMED;
	*a = at;
	return 0;
}

/* Walks len bytes of attributes; their count, capped, in *n. */
static int attrs_count(const uint8_t *p, size_t len, size_t *n)
{
	struct keel_rd r = keel_rd_init(p, len);
	struct keel_v1_attr a;
	size_t count = 0;

	while (r.left > 0) {
		/* each attribute takes at least 4 bytes: the loop always advances */
		if (keel_v1_attr_read(&r, &a) != 0 || ++count > KEEL_V1_MAX_ATTRS)
			return KEEL_ERR_MALFORMED;
	}
	*n = count;
	return 0;
}

int keel_v1_attrs_decode(const uint8_t *p, size_t len, struct keel_v1_attrs *list)
{
	struct keel_rd r = keel_rd_init(p, len);
	struct keel_v1_attrs l;

	l.n = 0;
	while (r.left > 0) {
		if (l.n >= KEEL_V1_MAX_ATTRS || keel_v1_attr_read(&r, &l.a[l.n]) != 0)
			return KEEL_ERR_MALFORMED;
		l.n++;
	}
	list->n = l.n;
	memcpy(list->a, l.a, l.n * sizeof(l.a[0]));
	return 0;
}

const struct keel_v1_attr *keel_v1_attrs_find(const struct keel_v1_attrs *list, uint16_t type)
{
	for (size_t i = 0; i < list->n; i++)
		if (list->a[i].type == type)
			return &list->a[i];
	return NULL;
}

int keel_v1_attr_u64(const struct keel_v1_attr *a, uint64_t *out)
{
	uint64_t v = 0;

	if (a->basic) {
		*out = a->basic_value;
		return 0;
	}
	/* RFC 2408 §3.3: a variable-length value may carry an integer (life duration) */
	if (a->len == 0 || a->len > 8 || !a->value)
		return KEEL_ERR_MALFORMED;
	for (size_t i = 0; i < a->len; i++)
		v = v << 8 | a->value[i];
	*out = v;
	return 0;
}

int keel_v1_attr_u32(const struct keel_v1_attr *a, uint32_t *out)
{
	uint64_t v;
	int rc = keel_v1_attr_u64(a, &v);

	if (rc != 0)
		return rc;
	if (v > UINT32_MAX)
		return KEEL_ERR_MALFORMED;
	*out = (uint32_t)v;
	return 0;
}

int keel_v1_attr_write(struct keel_wr *w, const struct keel_v1_attr *a)
{
	if (a->type & 0x8000)
		return KEEL_ERR_INVAL;
	if (a->basic) {
		keel_wr_u16(w, (uint16_t)(0x8000 | a->type));
		keel_wr_u16(w, a->basic_value);
		return 0;
	}
	if (a->len > UINT16_MAX || (a->len > 0 && !a->value))
		return KEEL_ERR_INVAL;
	keel_wr_u16(w, a->type);
	keel_wr_u16(w, (uint16_t)a->len);
	keel_wr_bytes(w, a->value, a->len);
	return 0;
}

#define UNITY_NET_LEN       14
#define UNITY_NET_SHORT_LEN 8 /* address and mask only */

ptrdiff_t keel_v1_unity_split_decode(const struct keel_v1_attr *a, struct keel_v1_unity_net *out,
                                     size_t cap)
{
	size_t n, rem;

	if (a->basic)
		return KEEL_ERR_MALFORMED;
	n = a->len / UNITY_NET_LEN;
	rem = a->len % UNITY_NET_LEN;
	if (rem == UNITY_NET_SHORT_LEN)
		n++;
	else if (rem != 0)
		return KEEL_ERR_MALFORMED;
	if (n > cap)
		return KEEL_ERR_NOBUF;
	if (n > PTRDIFF_MAX)
		return KEEL_ERR_MALFORMED;

	struct keel_rd r = keel_rd_init(a->value, a->len);
	for (size_t i = 0; i < n; i++) {
		struct keel_v1_unity_net net = {0};
		keel_rd_copy(&r, net.addr, 4);
		keel_rd_copy(&r, net.mask, 4);
		if (r.left > 0) {
			net.protocol = keel_rd_u16(&r);
			net.sport = keel_rd_u16(&r);
			net.dport = keel_rd_u16(&r);
		}
		if (r.bad)
			return KEEL_ERR_MALFORMED;
		out[i] = net;
	}
	return (ptrdiff_t)n;
}

void keel_v1_unity_split_write(struct keel_wr *w, const struct keel_v1_unity_net *nets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		keel_wr_bytes(w, nets[i].addr, 4);
		keel_wr_bytes(w, nets[i].mask, 4);
		keel_wr_u16(w, nets[i].protocol);
		keel_wr_u16(w, nets[i].sport);
		keel_wr_u16(w, nets[i].dport);
	}
}

/* ------------------------------------------------------------------ */
/* Typed payload decoders                                             */

static struct keel_rd body_reader(const struct keel_v1_payload *pl)
{
	return keel_rd_init(pl->body, pl->len);
}

/* Proposal or transform header inside an SA payload (RFC 2408 §3.5, §3.6). */
static struct keel_rd sub_payload(struct keel_rd *r, uint8_t *next, size_t min_len)
{
	uint8_t nx = keel_rd_u8(r);
	keel_rd_u8(r); /* RESERVED */
	uint16_t len = keel_rd_u16(r);
	if (r->bad || len < min_len) {
		struct keel_rd bad = {.p = NULL, .left = 0, .bad = true};
		r->bad = true;
		return bad;
	}
	*next = nx;
	return keel_rd_sub(r, len - KEEL_V1_GENERIC_HDR_LEN);
}

static int proposal_read(struct keel_rd *r, struct keel_v1_sa *sa, uint8_t *next)
{
	struct keel_rd pb = sub_payload(r, next, PROPOSAL_FIXED_LEN);
	struct keel_v1_proposal *p;
	uint8_t n_declared;

	/* RFC 2408 §3.5: a proposal's next payload is 2, or 0 on the last one */
	if (r->bad || (*next != KEEL_V1_PL_PROPOSAL && *next != KEEL_V1_PL_NONE))
		return KEEL_ERR_MALFORMED;
	if (sa->n_proposals >= KEEL_V1_MAX_PROPOSALS)
		return KEEL_ERR_MALFORMED;
	p = &sa->proposals[sa->n_proposals];
	p->number = keel_rd_u8(&pb);
	p->protocol = keel_rd_u8(&pb);
	p->spi_len = keel_rd_u8(&pb);
	n_declared = keel_rd_u8(&pb);
	p->spi = keel_rd_bytes(&pb, p->spi_len);
	if (pb.bad)
		return KEEL_ERR_MALFORMED;
	p->first = sa->n_transforms;
	p->n_transforms = 0;

	while (pb.left > 0) {
		uint8_t tnext;
		struct keel_rd tb = sub_payload(&pb, &tnext, TRANSFORM_FIXED_LEN);
		struct keel_v1_transform *t;

		/* RFC 2408 §3.6: next payload 3, or 0 on the proposal's last transform */
		if (pb.bad || (tnext != KEEL_V1_PL_TRANSFORM && tnext != KEEL_V1_PL_NONE))
			return KEEL_ERR_MALFORMED;
		if ((tnext == KEEL_V1_PL_NONE) != (pb.left == 0))
			return KEEL_ERR_MALFORMED;
		if (sa->n_transforms >= KEEL_V1_MAX_TRANSFORMS)
			return KEEL_ERR_MALFORMED;
		t = &sa->transforms[sa->n_transforms];
		t->number = keel_rd_u8(&tb);
		t->id = keel_rd_u8(&tb);
		keel_rd_u16(&tb); /* RESERVED2 */
		if (tb.bad)
			return KEEL_ERR_MALFORMED;
		t->attrs = tb.p;
		t->attrs_len = tb.left;
		if (attrs_count(t->attrs, t->attrs_len, &t->n_attrs) != 0)
			return KEEL_ERR_MALFORMED;
		sa->n_transforms++;
		p->n_transforms++;
	}
	/* RFC 2408 §3.5: "# of Transforms" matches what follows */
	if (p->n_transforms != n_declared)
		return KEEL_ERR_MALFORMED;
	sa->n_proposals++;
	return 0;
}

int keel_v1_sa_decode(const struct keel_v1_payload *pl, struct keel_v1_sa *out)
{
	struct keel_rd r = body_reader(pl);
	struct keel_v1_sa sa;
	uint8_t next = KEEL_V1_PL_PROPOSAL;
	int rc;

	if (pl->type != KEEL_V1_PL_SA)
		return KEEL_ERR_INVAL;
	sa.doi = keel_rd_u32(&r);
	sa.situation = keel_rd_u32(&r);
	if (r.bad)
		return KEEL_ERR_MALFORMED;
	/* RFC 2407 §4.2: labelled secrecy/integrity domains follow the situation */
	if (sa.doi == KEEL_V1_DOI_IPSEC &&
	    (sa.situation & (KEEL_V1_SIT_SECRECY | KEEL_V1_SIT_INTEGRITY)))
		return KEEL_ERR_UNSUPPORTED;
	sa.body = pl->body;
	sa.body_len = pl->len;
	sa.n_proposals = 0;
	sa.n_transforms = 0;
	while (r.left > 0) {
		if (next != KEEL_V1_PL_PROPOSAL)
			return KEEL_ERR_MALFORMED; /* bytes after the last proposal */
		rc = proposal_read(&r, &sa, &next);
		if (rc != 0)
			return rc;
	}
	if (sa.n_proposals > 0 && next != KEEL_V1_PL_NONE)
		return KEEL_ERR_MALFORMED; /* a proposal announced but missing */
	out->doi = sa.doi;
	out->situation = sa.situation;
	out->body = sa.body;
	out->body_len = sa.body_len;
	out->n_proposals = sa.n_proposals;
	memcpy(out->proposals, sa.proposals, sa.n_proposals * sizeof(sa.proposals[0]));
	out->n_transforms = sa.n_transforms;
	memcpy(out->transforms, sa.transforms, sa.n_transforms * sizeof(sa.transforms[0]));
	return 0;
}

int keel_v1_id_decode(const struct keel_v1_payload *pl, struct keel_v1_id *out)
{
	struct keel_rd r = body_reader(pl);
	struct keel_v1_id id;

	if (pl->type != KEEL_V1_PL_ID)
		return KEEL_ERR_INVAL;
	id.type = keel_rd_u8(&r);
	id.protocol = keel_rd_u8(&r);
	id.port = keel_rd_u16(&r);
	id.len = r.left;
	id.data = keel_rd_bytes(&r, id.len);
	if (r.bad)
		return KEEL_ERR_MALFORMED;
	*out = id;
	return 0;
}

int keel_v1_cert_decode(const struct keel_v1_payload *pl, struct keel_v1_cert *out)
{
	struct keel_rd r = body_reader(pl);
	struct keel_v1_cert c;

	if (pl->type != KEEL_V1_PL_CERT && pl->type != KEEL_V1_PL_CR)
		return KEEL_ERR_INVAL;
	c.encoding = keel_rd_u8(&r);
	c.len = r.left;
	c.data = keel_rd_bytes(&r, c.len);
	if (r.bad)
		return KEEL_ERR_MALFORMED;
	*out = c;
	return 0;
}

int keel_v1_notify_decode(const struct keel_v1_payload *pl, struct keel_v1_notify *out)
{
	struct keel_rd r = body_reader(pl);
	struct keel_v1_notify n;

	if (pl->type != KEEL_V1_PL_NOTIFY)
		return KEEL_ERR_INVAL;
	/* RFC 2408 §3.14 */
	n.doi = keel_rd_u32(&r);
	n.protocol = keel_rd_u8(&r);
	n.spi_len = keel_rd_u8(&r);
	n.type = keel_rd_u16(&r);
	n.spi = keel_rd_bytes(&r, n.spi_len);
	n.len = r.left;
	n.data = keel_rd_bytes(&r, n.len);
	if (r.bad)
		return KEEL_ERR_MALFORMED;
	*out = n;
	return 0;
}

int keel_v1_delete_decode(const struct keel_v1_payload *pl, struct keel_v1_delete *out)
{
	struct keel_rd r = body_reader(pl);
	struct keel_v1_delete d;

	if (pl->type != KEEL_V1_PL_DELETE)
		return KEEL_ERR_INVAL;
	/* RFC 2408 §3.15 */
	d.doi = keel_rd_u32(&r);
	d.protocol = keel_rd_u8(&r);
	d.spi_len = keel_rd_u8(&r);
	d.n_spis = keel_rd_u16(&r);
	if (r.bad || (size_t)d.n_spis * d.spi_len != r.left)
		return KEEL_ERR_MALFORMED;
	d.spis = keel_rd_bytes(&r, r.left);
	if (r.bad)
		return KEEL_ERR_MALFORMED;
	*out = d;
	return 0;
}

const uint8_t *keel_v1_delete_spi(const struct keel_v1_delete *d, size_t i)
{
	if (i >= d->n_spis || d->spi_len == 0)
		return NULL;
	return d->spis + i * d->spi_len;
}

int keel_v1_nat_oa_decode(const struct keel_v1_payload *pl, struct keel_v1_nat_oa *out)
{
	struct keel_rd r = body_reader(pl);
	struct keel_v1_nat_oa oa;

	if (pl->type != KEEL_V1_PL_NAT_OA && pl->type != KEEL_V1_PL_NAT_OA_DRAFT)
		return KEEL_ERR_INVAL;
	/* RFC 3947 §5.2: ID type, RESERVED (1), RESERVED (2), address */
	oa.id_type = keel_rd_u8(&r);
	keel_rd_u8(&r);
	keel_rd_u16(&r);
	oa.len = r.left;
	oa.addr = keel_rd_bytes(&r, oa.len);
	if (r.bad)
		return KEEL_ERR_MALFORMED;
	*out = oa;
	return 0;
}

int keel_v1_cfg_decode(const struct keel_v1_payload *pl, struct keel_v1_cfg *out)
{
	struct keel_rd r = body_reader(pl);
	struct keel_v1_cfg c;

	if (pl->type != KEEL_V1_PL_ATTR)
		return KEEL_ERR_INVAL;
	/* draft-dukes-ike-mode-cfg-02 §3.2: type, RESERVED, identifier, attributes */
	c.type = keel_rd_u8(&r);
	keel_rd_u8(&r);
	c.identifier = keel_rd_u16(&r);
	if (r.bad)
		return KEEL_ERR_MALFORMED;
	c.attrs = r.p;
	c.attrs_len = r.left;
	if (attrs_count(c.attrs, c.attrs_len, &c.n_attrs) != 0)
		return KEEL_ERR_MALFORMED;
	*out = c;
	return 0;
}

int keel_v1_frag_decode(const struct keel_v1_payload *pl, struct keel_v1_frag *out)
{
	struct keel_rd r = body_reader(pl);
	struct keel_v1_frag f;

	if (pl->type != KEEL_V1_PL_FRAG)
		return KEEL_ERR_INVAL;
	f.id = keel_rd_u16(&r);
	f.number = keel_rd_u8(&r);
	f.flags = keel_rd_u8(&r);
	f.len = r.left;
	f.data = keel_rd_bytes(&r, f.len);
	if (r.bad)
		return KEEL_ERR_MALFORMED;
	*out = f;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Payload chain                                                      */

/* Structural check of one payload by its typed decoder, if it has one. */
static int payload_check(const struct keel_v1_payload *pl)
{
	union {
		struct keel_v1_id id;
		struct keel_v1_cert cert;
		struct keel_v1_notify n;
		struct keel_v1_delete d;
		struct keel_v1_nat_oa oa;
		struct keel_v1_cfg cfg;
		struct keel_v1_frag frag;
	} u;

	switch (pl->type) {
	case KEEL_V1_PL_SA: {
		struct keel_v1_sa sa;
		return keel_v1_sa_decode(pl, &sa);
	}
	case KEEL_V1_PL_ID:
		return keel_v1_id_decode(pl, &u.id);
	case KEEL_V1_PL_CERT:
	case KEEL_V1_PL_CR:
		return keel_v1_cert_decode(pl, &u.cert);
	case KEEL_V1_PL_NOTIFY:
		return keel_v1_notify_decode(pl, &u.n);
	case KEEL_V1_PL_DELETE:
		return keel_v1_delete_decode(pl, &u.d);
	case KEEL_V1_PL_NAT_OA:
	case KEEL_V1_PL_NAT_OA_DRAFT:
		return keel_v1_nat_oa_decode(pl, &u.oa);
	case KEEL_V1_PL_ATTR:
		return keel_v1_cfg_decode(pl, &u.cfg);
	case KEEL_V1_PL_FRAG:
		return keel_v1_frag_decode(pl, &u.frag);
	default:
		return 0; /* opaque body, or a type left to keel_v1_payload_verify() */
	}
}

int keel_v1_chain_decode(uint8_t first, const uint8_t *p, size_t len, bool padded,
                         struct keel_v1_msg *msg)
{
	struct keel_rd r = keel_rd_init(p, len);
	struct keel_v1_payload pl[KEEL_V1_MAX_PAYLOADS];
	size_t n = 0;
	uint8_t type = first;
	int rc;

	while (type != KEEL_V1_PL_NONE) {
		/* RFC 2408 §3.2 generic payload header */
		const uint8_t *raw = r.p;
		uint8_t next = keel_rd_u8(&r);
		keel_rd_u8(&r); /* RESERVED: ignored on receipt */
		uint16_t plen = keel_rd_u16(&r);
		if (r.bad || plen < KEEL_V1_GENERIC_HDR_LEN || n >= KEEL_V1_MAX_PAYLOADS)
			return KEEL_ERR_MALFORMED; /* plen >= 4: the loop always advances */
		struct keel_rd body = keel_rd_sub(&r, plen - KEEL_V1_GENERIC_HDR_LEN);
		if (r.bad)
			return KEEL_ERR_MALFORMED;
		pl[n].type = type;
		pl[n].raw = raw;
		pl[n].raw_len = plen;
		pl[n].body = body.p;
		pl[n].len = body.left;
		rc = payload_check(&pl[n]);
		if (rc != 0)
			return rc;
		n++;
		type = next;
	}
	/* bytes after the last payload: padding of a decrypted body, else an error */
	if (r.left > 0 && (!padded || r.left > KEEL_V1_MAX_PAD_LEN))
		return KEEL_ERR_MALFORMED;
	msg->n_payloads = n;
	memcpy(msg->pl, pl, n * sizeof(pl[0]));
	msg->chain_len = len - r.left;
	msg->pad_len = r.left;
	return 0;
}

int keel_v1_msg_decode(const uint8_t *buf, size_t len, struct keel_v1_msg *msg)
{
	struct keel_v1_msg m;
	int rc = keel_v1_hdr_decode(buf, len, &m.hdr);

	if (rc != 0)
		return rc;
	m.n_payloads = 0;
	m.chain_len = 0;
	m.pad_len = 0;
	if (m.hdr.flags & KEEL_V1_FLAG_ENC) {
		/* RFC 2408 §3.1: everything after the header is encrypted */
		m.enc = buf + KEEL_V1_HDR_LEN;
		m.enc_len = len - KEEL_V1_HDR_LEN;
		if (m.enc_len == 0)
			return KEEL_ERR_MALFORMED;
	} else {
		m.enc = NULL;
		m.enc_len = 0;
		rc = keel_v1_chain_decode(m.hdr.next, buf + KEEL_V1_HDR_LEN, len - KEEL_V1_HDR_LEN,
		                          false, &m);
		if (rc != 0)
			return rc;
	}
	msg->hdr = m.hdr;
	msg->enc = m.enc;
	msg->enc_len = m.enc_len;
	msg->n_payloads = m.n_payloads;
	memcpy(msg->pl, m.pl, m.n_payloads * sizeof(m.pl[0]));
	msg->chain_len = m.chain_len;
	msg->pad_len = m.pad_len;
	return 0;
}

/* NAT-D and NAT-OA under their draft numbers are the same payloads. */
static uint8_t std_type(uint8_t type)
{
	if (type == KEEL_V1_PL_NAT_D_DRAFT)
		return KEEL_V1_PL_NAT_D;
	if (type == KEEL_V1_PL_NAT_OA_DRAFT)
		return KEEL_V1_PL_NAT_OA;
	return type;
}

const struct keel_v1_payload *keel_v1_msg_next(const struct keel_v1_msg *msg, uint8_t type,
                                               const struct keel_v1_payload *after)
{
	size_t i = 0;

	if (after) {
		if (after < msg->pl || after >= msg->pl + msg->n_payloads)
			return NULL;
		i = (size_t)(after - msg->pl) + 1;
	}
	for (; i < msg->n_payloads; i++)
		if (std_type(msg->pl[i].type) == std_type(type))
			return &msg->pl[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Semantic checks                                                    */

static bool all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

int keel_v1_hdr_verify(const struct keel_v1_hdr *hdr)
{
	/* RFC 2408 §5.1: INVALID-MINOR-VERSION */
	if ((hdr->version & 0x0f) != 0)
		return KEEL_ERR_MALFORMED;
	/* RFC 2408 §3.1: only the E, C and A flags are defined */
	if (hdr->flags & ~(KEEL_V1_FLAG_ENC | KEEL_V1_FLAG_COMMIT | KEEL_V1_FLAG_AUTH_ONLY))
		return KEEL_ERR_MALFORMED;
	/* RFC 2408 §3.1, §5.1: a zero initiator cookie identifies nothing */
	if (all_zero(hdr->cookie_i, KEEL_V1_COOKIE_LEN))
		return KEEL_ERR_MALFORMED;
	switch (hdr->exchange) {
	case KEEL_V1_EXCH_MAIN:
	case KEEL_V1_EXCH_AGGRESSIVE:
	case KEEL_V1_EXCH_BASE:
	case KEEL_V1_EXCH_AUTH_ONLY:
		/* RFC 2408 §3.1: phase 1 messages carry message ID 0 */
		return hdr->msg_id == 0 ? 0 : KEEL_ERR_MALFORMED;
	case KEEL_V1_EXCH_QUICK:
	case KEEL_V1_EXCH_NEW_GROUP:
		/* RFC 2409 §5.5, §6.2: phase 2 runs under a non-zero message ID */
		return hdr->msg_id != 0 ? 0 : KEEL_ERR_MALFORMED;
	case KEEL_V1_EXCH_INFO:
	case KEEL_V1_EXCH_TRANSACTION:
		return 0;
	default:
		return KEEL_ERR_MALFORMED; /* RFC 2408 §5.1: INVALID-EXCHANGE-TYPE */
	}
}

static bool proto_spi_ok(uint8_t protocol, uint8_t spi_len)
{
	/* RFC 2408 §3.5: for ISAKMP the SPI is the cookie pair, its size 0..16 */
	switch (protocol) {
	case KEEL_V1_PROTO_ISAKMP:
		return spi_len <= 16;
	case KEEL_V1_PROTO_AH:
	case KEEL_V1_PROTO_ESP:
		return spi_len == 4; /* RFC 2407 §4.4.1 */
	case KEEL_V1_PROTO_IPCOMP:
		return spi_len == 2 || spi_len == 4; /* RFC 2407 §4.4.1: CPI, 2 bytes (or 4) */
	default:
		return false;
	}
}

int keel_v1_sa_verify(const struct keel_v1_sa *sa)
{
	/* RFC 2407 §4.2 */
	if (sa->doi != KEEL_V1_DOI_IPSEC || sa->situation != KEEL_V1_SIT_IDENTITY_ONLY)
		return KEEL_ERR_MALFORMED;
	if (sa->n_proposals == 0)
		return KEEL_ERR_MALFORMED;
	for (size_t i = 0; i < sa->n_proposals; i++) {
		const struct keel_v1_proposal *p = &sa->proposals[i];
		/* RFC 2408 §4.2: proposal numbers increase; equal numbers bundle */
		if (i > 0 && p->number < sa->proposals[i - 1].number)
			return KEEL_ERR_MALFORMED;
		if (p->n_transforms == 0 || !proto_spi_ok(p->protocol, p->spi_len))
			return KEEL_ERR_MALFORMED;
		if (p->first > sa->n_transforms || p->n_transforms > sa->n_transforms - p->first)
			return KEEL_ERR_MALFORMED;
		for (size_t k = 0; k < p->n_transforms; k++) {
			uint8_t id = sa->transforms[p->first + k].id;
			/* RFC 2407 §4.4.2: KEY_IKE is the one ISAKMP transform; 0 is reserved */
			if (p->protocol == KEEL_V1_PROTO_ISAKMP ? id != KEEL_V1_KEY_IKE : id == 0)
				return KEEL_ERR_MALFORMED;
		}
	}
	return 0;
}

int keel_v1_id_verify(const struct keel_v1_id *id)
{
	size_t want;

	/* RFC 2407 §4.6.2.1 */
	switch (id->type) {
	case KEEL_V1_ID_IPV4_ADDR:
		want = 4;
		break;
	case KEEL_V1_ID_IPV4_ADDR_SUBNET:
	case KEEL_V1_ID_IPV4_ADDR_RANGE:
		want = 8;
		break;
	case KEEL_V1_ID_IPV6_ADDR:
		want = 16;
		break;
	case KEEL_V1_ID_IPV6_ADDR_SUBNET:
	case KEEL_V1_ID_IPV6_ADDR_RANGE:
		want = 32;
		break;
	case KEEL_V1_ID_FQDN:
	case KEEL_V1_ID_USER_FQDN:
	case KEEL_V1_ID_DER_ASN1_DN:
	case KEEL_V1_ID_DER_ASN1_GN:
	case KEEL_V1_ID_KEY_ID:
		return id->len > 0 ? 0 : KEEL_ERR_MALFORMED;
	default:
		return KEEL_ERR_MALFORMED;
	}
	return id->len == want ? 0 : KEEL_ERR_MALFORMED;
}

int keel_v1_notify_verify(const struct keel_v1_notify *n)
{
	/* RFC 2408 §3.14: DOI 0 (ISAKMP) or 1 (IPsec) */
	if (n->doi != KEEL_V1_DOI_ISAKMP && n->doi != KEEL_V1_DOI_IPSEC)
		return KEEL_ERR_MALFORMED;
	if (n->type == 0)
		return KEEL_ERR_MALFORMED;
	switch (n->protocol) {
	case 0:
	case KEEL_V1_PROTO_ISAKMP:
		return n->spi_len <= 16 ? 0 : KEEL_ERR_MALFORMED;
	case KEEL_V1_PROTO_AH:
	case KEEL_V1_PROTO_ESP:
	case KEEL_V1_PROTO_IPCOMP:
		/* an error may concern no SA yet: no SPI then */
		return n->spi_len == 0 || proto_spi_ok(n->protocol, n->spi_len)
		           ? 0
		           : KEEL_ERR_MALFORMED;
	default:
		return KEEL_ERR_MALFORMED;
	}
}

int keel_v1_delete_verify(const struct keel_v1_delete *d)
{
	/* RFC 2408 §3.15 */
	if (d->doi != KEEL_V1_DOI_ISAKMP && d->doi != KEEL_V1_DOI_IPSEC)
		return KEEL_ERR_MALFORMED;
	if (d->n_spis == 0)
		return KEEL_ERR_MALFORMED;
	if (d->protocol == KEEL_V1_PROTO_ISAKMP)
		return d->spi_len == 2 * KEEL_V1_COOKIE_LEN ? 0 : KEEL_ERR_MALFORMED;
	return proto_spi_ok(d->protocol, d->spi_len) ? 0 : KEEL_ERR_MALFORMED;
}

int keel_v1_nat_oa_verify(const struct keel_v1_nat_oa *oa)
{
	/* RFC 3947 §5.2 */
	if (oa->id_type == KEEL_V1_ID_IPV4_ADDR && oa->len == 4)
		return 0;
	if (oa->id_type == KEEL_V1_ID_IPV6_ADDR && oa->len == 16)
		return 0;
	return KEEL_ERR_MALFORMED;
}

int keel_v1_cfg_verify(const struct keel_v1_cfg *cfg)
{
	switch (cfg->type) {
	case KEEL_V1_CFG_REQUEST:
	case KEEL_V1_CFG_REPLY:
	case KEEL_V1_CFG_SET:
	case KEEL_V1_CFG_ACK:
		return 0;
	default:
		return KEEL_ERR_MALFORMED;
	}
}

int keel_v1_frag_verify(const struct keel_v1_frag *frag)
{
	if (frag->number == 0 || frag->len == 0 || (frag->flags & ~KEEL_V1_FRAG_LAST))
		return KEEL_ERR_MALFORMED;
	return 0;
}

static int len_in(size_t len, size_t min, size_t max)
{
	return len >= min && len <= max ? 0 : KEEL_ERR_MALFORMED;
}

int keel_v1_payload_verify(const struct keel_v1_payload *pl)
{
	union {
		struct keel_v1_id id;
		struct keel_v1_cert cert;
		struct keel_v1_notify n;
		struct keel_v1_delete d;
		struct keel_v1_nat_oa oa;
		struct keel_v1_cfg cfg;
		struct keel_v1_frag frag;
	} u;
	int rc;

	switch (pl->type) {
	case KEEL_V1_PL_SA: {
		struct keel_v1_sa sa;
		rc = keel_v1_sa_decode(pl, &sa);
		return rc != 0 ? rc : keel_v1_sa_verify(&sa);
	}
	case KEEL_V1_PL_KE:
		return len_in(pl->len, 1, 1024); /* up to MODP-8192 */
	case KEEL_V1_PL_ID:
		rc = keel_v1_id_decode(pl, &u.id);
		return rc != 0 ? rc : keel_v1_id_verify(&u.id);
	case KEEL_V1_PL_CERT:
		rc = keel_v1_cert_decode(pl, &u.cert);
		return rc != 0 ? rc : len_in(u.cert.len, 1, SIZE_MAX);
	case KEEL_V1_PL_CR:
		return keel_v1_cert_decode(pl, &u.cert); /* the CA may be empty */
	case KEEL_V1_PL_HASH:
	case KEEL_V1_PL_NAT_D:
	case KEEL_V1_PL_NAT_D_DRAFT:
		return len_in(pl->len, 16, 64); /* MD5 .. SHA2-512 output */
	case KEEL_V1_PL_SIG:
		return len_in(pl->len, 1, SIZE_MAX);
	case KEEL_V1_PL_NONCE:
		return len_in(pl->len, 8, 256); /* RFC 2409 §5 */
	case KEEL_V1_PL_NOTIFY:
		rc = keel_v1_notify_decode(pl, &u.n);
		return rc != 0 ? rc : keel_v1_notify_verify(&u.n);
	case KEEL_V1_PL_DELETE:
		rc = keel_v1_delete_decode(pl, &u.d);
		return rc != 0 ? rc : keel_v1_delete_verify(&u.d);
	case KEEL_V1_PL_VID:
		return 0;
	case KEEL_V1_PL_ATTR:
		rc = keel_v1_cfg_decode(pl, &u.cfg);
		return rc != 0 ? rc : keel_v1_cfg_verify(&u.cfg);
	case KEEL_V1_PL_NAT_OA:
	case KEEL_V1_PL_NAT_OA_DRAFT:
		rc = keel_v1_nat_oa_decode(pl, &u.oa);
		return rc != 0 ? rc : keel_v1_nat_oa_verify(&u.oa);
	case KEEL_V1_PL_FRAG:
		rc = keel_v1_frag_decode(pl, &u.frag);
		return rc != 0 ? rc : keel_v1_frag_verify(&u.frag);
	default:
		/* RFC 2408 §5.2: INVALID-PAYLOAD-TYPE (P and T only inside an SA) */
		return KEEL_ERR_MALFORMED;
	}
}

int keel_v1_msg_verify(const struct keel_v1_msg *msg)
{
	int rc = keel_v1_hdr_verify(&msg->hdr);

	if (rc != 0)
		return rc;
	if (msg->n_payloads == 0)
		return KEEL_ERR_MALFORMED;
	for (size_t i = 0; i < msg->n_payloads; i++) {
		rc = keel_v1_payload_verify(&msg->pl[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                           */

static void enc_fail(struct keel_v1_enc *e, int err)
{
	if (e->err == 0)
		e->err = err;
}

static void patch8(struct keel_wr *w, size_t pos, uint8_t v)
{
	if (!w->overflow && pos < w->len)
		w->buf[pos] = v;
}

static void patch_len16(struct keel_v1_enc *e, size_t at)
{
	size_t len = e->w->len - at;

	if (len > UINT16_MAX) {
		enc_fail(e, KEEL_ERR_INVAL);
		return;
	}
	keel_wr_patch16(e->w, at + 2, (uint16_t)len);
}

void keel_v1_enc_init(struct keel_v1_enc *enc, struct keel_wr *w, const struct keel_v1_hdr *hdr)
{
	memset(enc, 0, sizeof(*enc));
	enc->w = w;
	enc->start = w->len;
	if (hdr) {
		struct keel_v1_hdr h = *hdr;
		h.next = KEEL_V1_PL_NONE; /* filled in by the first payload */
		h.version = KEEL_V1_VERSION;
		h.len = 0; /* patched by keel_v1_enc_finish() */
		keel_v1_hdr_write(w, &h);
		enc->has_hdr = true;
		enc->has_next_at = true;
		enc->next_at = enc->start + 2 * KEEL_V1_COOKIE_LEN;
	}
}

/* Opens a top-level payload: chains it to the previous one, reserves its header. */
static size_t payload_begin(struct keel_v1_enc *e, uint8_t type)
{
	struct keel_wr *w = e->w;
	size_t at = w->len;

	if (e->pl_open || e->padded)
		enc_fail(e, KEEL_ERR_STATE);
	if (e->has_next_at)
		patch8(w, e->next_at, type);
	if (e->n_payloads++ == 0)
		e->first = type;
	keel_wr_u8(w, KEEL_V1_PL_NONE); /* next payload: set by whatever follows */
	keel_wr_u8(w, 0);               /* RESERVED */
	keel_wr_u16(w, 0);              /* length: patched in payload_end() */
	e->next_at = at;
	e->has_next_at = true;
	return at;
}

static void payload_end(struct keel_v1_enc *e, size_t at)
{
	patch_len16(e, at);
	e->last_body_at = at + KEEL_V1_GENERIC_HDR_LEN;
	e->last_body_len = e->w->len - e->last_body_at;
}

void keel_v1_enc_data(struct keel_v1_enc *enc, uint8_t type, const void *data, size_t len)
{
	size_t at = payload_begin(enc, type);

	if (len > UINT16_MAX - KEEL_V1_GENERIC_HDR_LEN) {
		enc_fail(enc, KEEL_ERR_INVAL);
		return;
	}
	keel_wr_bytes(enc->w, data, len);
	payload_end(enc, at);
}

ptrdiff_t keel_v1_enc_hash_slot(struct keel_v1_enc *enc, size_t len)
{
	size_t at = payload_begin(enc, KEEL_V1_PL_HASH);
	size_t hash_at = enc->w->len;

	if (len > UINT16_MAX - KEEL_V1_GENERIC_HDR_LEN)
		enc_fail(enc, KEEL_ERR_INVAL);
	else
		keel_wr_zero(enc->w, len);
	payload_end(enc, at);
	if (enc->err != 0)
		return enc->err;
	if (enc->w->overflow)
		return KEEL_ERR_NOBUF;
	return (ptrdiff_t)hash_at;
}

void keel_v1_enc_id(struct keel_v1_enc *enc, const struct keel_v1_id *id)
{
	size_t at = payload_begin(enc, KEEL_V1_PL_ID);

	keel_wr_u8(enc->w, id->type);
	keel_wr_u8(enc->w, id->protocol);
	keel_wr_u16(enc->w, id->port);
	keel_wr_bytes(enc->w, id->data, id->len);
	payload_end(enc, at);
}

void keel_v1_enc_cert(struct keel_v1_enc *enc, uint8_t type, const struct keel_v1_cert *cert)
{
	if (type != KEEL_V1_PL_CERT && type != KEEL_V1_PL_CR) {
		enc_fail(enc, KEEL_ERR_INVAL);
		return;
	}
	size_t at = payload_begin(enc, type);
	keel_wr_u8(enc->w, cert->encoding);
	keel_wr_bytes(enc->w, cert->data, cert->len);
	payload_end(enc, at);
}

void keel_v1_enc_notify(struct keel_v1_enc *enc, const struct keel_v1_notify *n)
{
	size_t at = payload_begin(enc, KEEL_V1_PL_NOTIFY);

	keel_wr_u32(enc->w, n->doi);
	keel_wr_u8(enc->w, n->protocol);
	keel_wr_u8(enc->w, n->spi_len);
	keel_wr_u16(enc->w, n->type);
	keel_wr_bytes(enc->w, n->spi, n->spi_len);
	keel_wr_bytes(enc->w, n->data, n->len);
	payload_end(enc, at);
}

void keel_v1_enc_delete(struct keel_v1_enc *enc, const struct keel_v1_delete *d)
{
	size_t at = payload_begin(enc, KEEL_V1_PL_DELETE);

	keel_wr_u32(enc->w, d->doi);
	keel_wr_u8(enc->w, d->protocol);
	keel_wr_u8(enc->w, d->spi_len);
	keel_wr_u16(enc->w, d->n_spis);
	keel_wr_bytes(enc->w, d->spis, (size_t)d->n_spis * d->spi_len);
	payload_end(enc, at);
}

void keel_v1_enc_nat_oa(struct keel_v1_enc *enc, uint8_t type, const struct keel_v1_nat_oa *oa)
{
	if (type != KEEL_V1_PL_NAT_OA && type != KEEL_V1_PL_NAT_OA_DRAFT) {
		enc_fail(enc, KEEL_ERR_INVAL);
		return;
	}
	size_t at = payload_begin(enc, type);
	keel_wr_u8(enc->w, oa->id_type);
	keel_wr_zero(enc->w, 3); /* RESERVED */
	keel_wr_bytes(enc->w, oa->addr, oa->len);
	payload_end(enc, at);
}

void keel_v1_enc_frag(struct keel_v1_enc *enc, const struct keel_v1_frag *frag)
{
	size_t at = payload_begin(enc, KEEL_V1_PL_FRAG);

	keel_wr_u16(enc->w, frag->id);
	keel_wr_u8(enc->w, frag->number);
	keel_wr_u8(enc->w, frag->flags);
	keel_wr_bytes(enc->w, frag->data, frag->len);
	payload_end(enc, at);
}

void keel_v1_enc_sa_begin(struct keel_v1_enc *enc, uint32_t doi, uint32_t situation)
{
	size_t at = payload_begin(enc, KEEL_V1_PL_SA);

	keel_wr_u32(enc->w, doi);
	keel_wr_u32(enc->w, situation);
	enc->pl_open = true;
	enc->pl_type = KEEL_V1_PL_SA;
	enc->pl_at = at;
	enc->prop_open = false;
	enc->prop_had = false;
}

void keel_v1_enc_proposal_begin(struct keel_v1_enc *enc, uint8_t number, uint8_t protocol,
                                const uint8_t *spi, size_t spi_len)
{
	struct keel_wr *w = enc->w;

	if (!enc->pl_open || enc->pl_type != KEEL_V1_PL_SA || enc->prop_open) {
		enc_fail(enc, KEEL_ERR_STATE);
		return;
	}
	if (spi_len > UINT8_MAX) {
		enc_fail(enc, KEEL_ERR_INVAL);
		return;
	}
	/* RFC 2408 §3.5: the previous proposal now has a successor */
	if (enc->prop_had)
		patch8(w, enc->prop_at, KEEL_V1_PL_PROPOSAL);
	enc->prop_at = w->len;
	keel_wr_u8(w, KEEL_V1_PL_NONE);
	keel_wr_u8(w, 0);
	keel_wr_u16(w, 0);
	keel_wr_u8(w, number);
	keel_wr_u8(w, protocol);
	keel_wr_u8(w, (uint8_t)spi_len);
	keel_wr_u8(w, 0); /* # of transforms: patched in proposal_end */
	keel_wr_bytes(w, spi, spi_len);
	enc->prop_open = true;
	enc->prop_had = true;
	enc->prop_count = 0;
	enc->xf_open = false;
	enc->xf_had = false;
}

void keel_v1_enc_transform_begin(struct keel_v1_enc *enc, uint8_t number, uint8_t id)
{
	struct keel_wr *w = enc->w;

	if (!enc->prop_open || enc->xf_open) {
		enc_fail(enc, KEEL_ERR_STATE);
		return;
	}
	if (enc->prop_count >= UINT8_MAX) {
		enc_fail(enc, KEEL_ERR_INVAL);
		return;
	}
	/* RFC 2408 §3.6: the previous transform now has a successor */
	if (enc->xf_had)
		patch8(w, enc->xf_at, KEEL_V1_PL_TRANSFORM);
	enc->xf_at = w->len;
	keel_wr_u8(w, KEEL_V1_PL_NONE);
	keel_wr_u8(w, 0);
	keel_wr_u16(w, 0);
	keel_wr_u8(w, number);
	keel_wr_u8(w, id);
	keel_wr_u16(w, 0); /* RESERVED2 */
	enc->xf_open = true;
	enc->xf_had = true;
	enc->prop_count++;
}

void keel_v1_enc_transform_end(struct keel_v1_enc *enc)
{
	if (!enc->xf_open) {
		enc_fail(enc, KEEL_ERR_STATE);
		return;
	}
	patch_len16(enc, enc->xf_at);
	enc->xf_open = false;
}

void keel_v1_enc_proposal_end(struct keel_v1_enc *enc)
{
	if (!enc->prop_open || enc->xf_open) {
		enc_fail(enc, KEEL_ERR_STATE);
		return;
	}
	patch_len16(enc, enc->prop_at);
	patch8(enc->w, enc->prop_at + 7, (uint8_t)enc->prop_count);
	enc->prop_open = false;
}

void keel_v1_enc_sa_end(struct keel_v1_enc *enc)
{
	if (!enc->pl_open || enc->pl_type != KEEL_V1_PL_SA || enc->prop_open) {
		enc_fail(enc, KEEL_ERR_STATE);
		return;
	}
	enc->pl_open = false;
	payload_end(enc, enc->pl_at);
}

void keel_v1_enc_sa(struct keel_v1_enc *enc, const struct keel_v1_sa *sa)
{
	if (sa->n_proposals > KEEL_V1_MAX_PROPOSALS) {
		enc_fail(enc, KEEL_ERR_INVAL);
		return;
	}
	keel_v1_enc_sa_begin(enc, sa->doi, sa->situation);
	for (size_t i = 0; i < sa->n_proposals; i++) {
		const struct keel_v1_proposal *p = &sa->proposals[i];
		if (p->first > sa->n_transforms || p->n_transforms > sa->n_transforms - p->first ||
		    sa->n_transforms > KEEL_V1_MAX_TRANSFORMS) {
			enc_fail(enc, KEEL_ERR_INVAL);
			return;
		}
		keel_v1_enc_proposal_begin(enc, p->number, p->protocol, p->spi, p->spi_len);
		for (size_t k = 0; k < p->n_transforms; k++) {
			const struct keel_v1_transform *t = &sa->transforms[p->first + k];
			keel_v1_enc_transform_begin(enc, t->number, t->id);
			keel_wr_bytes(enc->w, t->attrs, t->attrs_len);
			keel_v1_enc_transform_end(enc);
		}
		keel_v1_enc_proposal_end(enc);
	}
	keel_v1_enc_sa_end(enc);
}

void keel_v1_enc_cfg_begin(struct keel_v1_enc *enc, uint8_t type, uint16_t identifier)
{
	size_t at = payload_begin(enc, KEEL_V1_PL_ATTR);

	keel_wr_u8(enc->w, type);
	keel_wr_u8(enc->w, 0); /* RESERVED */
	keel_wr_u16(enc->w, identifier);
	enc->pl_open = true;
	enc->pl_type = KEEL_V1_PL_ATTR;
	enc->pl_at = at;
}

void keel_v1_enc_cfg_end(struct keel_v1_enc *enc)
{
	if (!enc->pl_open || enc->pl_type != KEEL_V1_PL_ATTR) {
		enc_fail(enc, KEEL_ERR_STATE);
		return;
	}
	enc->pl_open = false;
	payload_end(enc, enc->pl_at);
}

void keel_v1_enc_cfg(struct keel_v1_enc *enc, const struct keel_v1_cfg *cfg)
{
	keel_v1_enc_cfg_begin(enc, cfg->type, cfg->identifier);
	keel_wr_bytes(enc->w, cfg->attrs, cfg->attrs_len);
	keel_v1_enc_cfg_end(enc);
}

static bool attr_allowed(const struct keel_v1_enc *enc)
{
	return enc->xf_open || (enc->pl_open && enc->pl_type == KEEL_V1_PL_ATTR);
}

void keel_v1_enc_attr(struct keel_v1_enc *enc, const struct keel_v1_attr *a)
{
	int rc;

	if (!attr_allowed(enc)) {
		enc_fail(enc, KEEL_ERR_STATE);
		return;
	}
	rc = keel_v1_attr_write(enc->w, a);
	if (rc != 0)
		enc_fail(enc, rc);
}

void keel_v1_enc_attr_basic(struct keel_v1_enc *enc, uint16_t type, uint16_t value)
{
	struct keel_v1_attr a = {.type = type, .basic = true, .basic_value = value};
	keel_v1_enc_attr(enc, &a);
}

void keel_v1_enc_attr_var(struct keel_v1_enc *enc, uint16_t type, const void *value, size_t len)
{
	struct keel_v1_attr a = {.type = type, .basic = false, .value = value, .len = len};
	keel_v1_enc_attr(enc, &a);
}

void keel_v1_enc_attr_int(struct keel_v1_enc *enc, uint16_t type, uint64_t value)
{
	uint8_t be[8];
	size_t n = value > UINT32_MAX ? 8 : 4;

	if (value <= UINT16_MAX) {
		keel_v1_enc_attr_basic(enc, type, (uint16_t)value);
		return;
	}
	for (size_t i = 0; i < n; i++)
		be[i] = (uint8_t)(value >> (8 * (n - 1 - i)));
	keel_v1_enc_attr_var(enc, type, be, n);
}

void keel_v1_enc_pad(struct keel_v1_enc *enc, size_t block_len)
{
	size_t body_at = enc->start + (enc->has_hdr ? KEEL_V1_HDR_LEN : 0);
	size_t body_len;

	if (enc->pl_open) {
		enc_fail(enc, KEEL_ERR_STATE);
		return;
	}
	enc->padded = true;
	if (block_len <= 1 || enc->w->overflow)
		return;
	body_len = enc->w->len - body_at;
	keel_wr_zero(enc->w, (block_len - body_len % block_len) % block_len);
}

ptrdiff_t keel_v1_enc_finish(struct keel_v1_enc *enc)
{
	size_t total = enc->w->len - enc->start;

	if (enc->pl_open)
		enc_fail(enc, KEEL_ERR_STATE);
	if (enc->has_hdr) {
		if (total > UINT32_MAX)
			enc_fail(enc, KEEL_ERR_INVAL);
		else
			keel_wr_patch32(enc->w, enc->start + 24, (uint32_t)total);
	}
	if (enc->err != 0)
		return enc->err;
	if (enc->w->overflow)
		return KEEL_ERR_NOBUF;
	return (ptrdiff_t)total;
}
