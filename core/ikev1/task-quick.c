/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Quick Mode (RFC 2409 §5.5): ESP SA pairs for the tunnels, made by us
 * (first and on rekey) or by the gateway (its rekeys; we answer), and the
 * CHILD SA table with what the data path is told (install, remove, network
 * configuration).
 *
 *   -> *HASH(1), SA, Ni [, KE] , IDci, IDcr
 *   <- *HASH(2), SA, Nr [, KE] [, IDci, IDcr] [, N(RESPONDER-LIFETIME)]
 *   -> *HASH(3)
 *
 * KEYMAT (§5.5) for each direction's SA from SKEYID_d, the protocol, that
 * SA's SPI (the one its receiver chose), Ni_b and Nr_b, with the quick mode
 * DH secret first when PFS was used.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ikev1/sa.h"

/* ---- the CHILD SA table ---- */

struct v1_child *keel_v1_child_find(struct keel_v1sa *sa, uint32_t id)
{
	for (size_t i = 0; i < V1_MAX_CHILDREN; i++)
		if (sa->child[i].state != V1_CHILD_FREE && sa->child[i].id == id)
			return &sa->child[i];
	return NULL;
}

struct v1_child *keel_v1_child_by_spi_in(struct keel_v1sa *sa, uint32_t spi)
{
	for (size_t i = 0; i < V1_MAX_CHILDREN; i++)
		if (sa->child[i].state != V1_CHILD_FREE && sa->child[i].spi_in == spi)
			return &sa->child[i];
	return NULL;
}

struct v1_child *keel_v1_child_by_spi_out(struct keel_v1sa *sa, uint32_t spi)
{
	for (size_t i = 0; i < V1_MAX_CHILDREN; i++)
		if (sa->child[i].state != V1_CHILD_FREE && sa->child[i].spi_out == spi)
			return &sa->child[i];
	return NULL;
}

size_t keel_v1_child_count(const struct keel_v1sa *sa)
{
	size_t n = 0;
	for (size_t i = 0; i < V1_MAX_CHILDREN; i++)
		if ((sa->child[i].state == V1_CHILD_ACTIVE ||
		     sa->child[i].state == V1_CHILD_REKEYING) &&
		    !sa->child[i].replaced)
			n++;
	return n;
}

int keel_v1_new_spi(struct keel_v1sa *sa, uint32_t *spi)
{
	for (int tries = 0; tries < 64; tries++) {
		uint32_t v;
		int rc = keel_v1sa_random(sa, &v, sizeof(v));
		if (rc < 0)
			return rc;
		/* RFC 4303 §2.1: SPIs 1..255 are reserved, 0 is never sent */
		if (v < 256 || keel_v1_child_by_spi_in(sa, v) || v == sa->qm.spi_in ||
		    v == sa->qm_peer.spi_in)
			continue;
		*spi = v;
		return 0;
	}
	return KEEL_ERR_CRYPTO;
}

void keel_v1_child_remove(struct keel_v1sa *sa, struct v1_child *c, enum keel_reason reason)
{
	struct keel_out *o = keel_v1sa_out_push(sa, KEEL_OUT_CHILD_REMOVE, 0, false, NULL);
	if (o) {
		struct keel_out_child_remove *cr = &o->u.child_remove;
		cr->child_id = c->id;
		cr->reqid = c->reqid;
		cr->protocol = sa->child_proto == KEEL_V1_PROTO_AH ? KEEL_PROTO_AH : KEEL_PROTO_ESP;
		cr->spi_in = c->spi_in;
		cr->spi_out = c->spi_out;
		cr->reason = reason;
	}
	keel_v1sa_log(sa, KEEL_LOG_DEBUG, "CHILD SA %08" PRIx32 "_i %08" PRIx32 "_o removed (%s)",
	              c->spi_in, c->spi_out, keel_reason_name(reason));
	if (c->tunnel < sa->n_tunnels && sa->tunnel[c->tunnel].child_id == c->id)
		sa->tunnel[c->tunnel].child_id = 0;
	memset(c, 0, sizeof(*c));
}

/* ---- selectors <-> ID payloads (RFC 2407 §4.6.2) ---- */

static bool is_prefix(const uint8_t *s, const uint8_t *e, size_t n, unsigned *plen)
{
	unsigned len = 0;
	size_t i = 0;
	for (; i < n && s[i] == e[i]; i++)
		len += 8;
	if (i < n) {
		uint8_t diff = s[i] ^ e[i];
		int b = 7;
		while (b >= 0 && !(diff >> b & 1))
			b--;
		/* the bits that differ must run to the end: s has zeros, e ones */
		uint8_t low = (uint8_t)((1u << (b + 1)) - 1);
		if ((s[i] & low) != 0 || (e[i] & low) != low)
			return false;
		len += (unsigned)(7 - b);
		for (size_t k = i + 1; k < n; k++)
			if (s[k] != 0 || e[k] != 0xff)
				return false;
	}
	*plen = len;
	return true;
}

static void id_from_ts(const struct keel_ts *ts, uint8_t buf[32], struct keel_v1_id *id)
{
	size_t al = (size_t)keel_af_addr_len(ts->family);
	bool v4 = ts->family == KEEL_AF_INET;
	unsigned plen;
	memset(id, 0, sizeof(*id));
	id->protocol = ts->ip_proto;
	id->port = ts->port_start == ts->port_end ? ts->port_start : 0;
	id->data = buf;
	if (memcmp(ts->start, ts->end, al) == 0) {
		id->type = v4 ? KEEL_V1_ID_IPV4_ADDR : KEEL_V1_ID_IPV6_ADDR;
		memcpy(buf, ts->start, al);
		id->len = al;
	} else if (is_prefix(ts->start, ts->end, al, &plen)) {
		id->type = v4 ? KEEL_V1_ID_IPV4_ADDR_SUBNET : KEEL_V1_ID_IPV6_ADDR_SUBNET;
		memcpy(buf, ts->start, al);
		for (size_t k = 0; k < al; k++) {
			unsigned keep = plen > k * 8 ? (plen - k * 8 >= 8 ? 8 : plen - k * 8) : 0;
			buf[al + k] = (uint8_t)(keep ? 0xff << (8 - keep) : 0);
		}
		id->len = 2 * al;
	} else {
		id->type = v4 ? KEEL_V1_ID_IPV4_ADDR_RANGE : KEEL_V1_ID_IPV6_ADDR_RANGE;
		memcpy(buf, ts->start, al);
		memcpy(buf + al, ts->end, al);
		id->len = 2 * al;
	}
}

static bool ts_from_id(const struct keel_v1_id *id, struct keel_ts *ts)
{
	size_t al;
	memset(ts, 0, sizeof(*ts));
	switch (id->type) {
	case KEEL_V1_ID_IPV4_ADDR:
	case KEEL_V1_ID_IPV4_ADDR_SUBNET:
	case KEEL_V1_ID_IPV4_ADDR_RANGE:
		ts->family = KEEL_AF_INET;
		al = 4;
		break;
	case KEEL_V1_ID_IPV6_ADDR:
	case KEEL_V1_ID_IPV6_ADDR_SUBNET:
	case KEEL_V1_ID_IPV6_ADDR_RANGE:
		ts->family = KEEL_AF_INET6;
		al = 16;
		break;
	default:
		return false;
	}
	bool single = id->type == KEEL_V1_ID_IPV4_ADDR || id->type == KEEL_V1_ID_IPV6_ADDR;
	if (id->len != (single ? al : 2 * al))
		return false;
	memcpy(ts->start, id->data, al);
	if (single) {
		memcpy(ts->end, id->data, al);
	} else if (id->type == KEEL_V1_ID_IPV4_ADDR_SUBNET ||
	           id->type == KEEL_V1_ID_IPV6_ADDR_SUBNET) {
		const uint8_t *m = id->data + al;
		for (size_t k = 0; k < al; k++) {
			ts->start[k] = id->data[k] & m[k];
			ts->end[k] = (uint8_t)(ts->start[k] | (uint8_t)~m[k]);
		}
	} else {
		memcpy(ts->end, id->data + al, al);
		if (memcmp(ts->start, ts->end, al) > 0)
			return false;
	}
	ts->ip_proto = id->protocol;
	ts->port_start = id->port;
	ts->port_end = id->port ? id->port : 65535;
	return true;
}

/* a lies inside b */
static bool ts_within(const struct keel_ts *a, const struct keel_ts *b)
{
	size_t al = (size_t)keel_af_addr_len(a->family);
	if (a->family != b->family || al == 0)
		return false;
	if (memcmp(a->start, b->start, al) < 0 || memcmp(a->end, b->end, al) > 0)
		return false;
	if (b->ip_proto && a->ip_proto != b->ip_proto)
		return false;
	return a->port_start >= b->port_start && a->port_end <= b->port_end;
}

static bool ts_eq(const struct keel_ts *a, const struct keel_ts *b)
{
	return ts_within(a, b) && ts_within(b, a);
}

/* Our side of a tunnel: the virtual IP, else a configured selector, else our address. */
static void local_ts(struct keel_v1sa *sa, enum keel_af family, struct keel_ts *ts)
{
	size_t al = (size_t)keel_af_addr_len(family);
	memset(ts, 0, sizeof(*ts));
	ts->family = family;
	ts->port_end = 65535;
	const struct keel_prefix *vip = family == KEEL_AF_INET && sa->have_ip4    ? &sa->ip4
	                                : family == KEEL_AF_INET6 && sa->have_ip6 ? &sa->ip6
	                                                                          : NULL;
	if (vip) {
		memcpy(ts->start, vip->addr.bytes, al);
		memcpy(ts->end, vip->addr.bytes, al);
		return;
	}
	for (size_t i = 0; i < sa->cfg.n_local_ts; i++) {
		if (sa->cfg.local_ts[i].family == family) {
			*ts = sa->cfg.local_ts[i];
			return;
		}
	}
	if (sa->cfg.local.family == family) {
		memcpy(ts->start, sa->cfg.local.bytes, al);
		memcpy(ts->end, sa->cfg.local.bytes, al);
	}
}

/* ---- keys and installation ---- */

/* RFC 2409 §5.5: one SA's keys, its SPI as its receiver chose it. */
static int sa_keys(const struct keel_v1sa *sa, struct v1_p1 *p1, const struct v1_qm *q,
                   uint32_t spi, struct keel_secret **encr, struct keel_secret **integ)
{
	uint8_t spib[4];
	ptrdiff_t el, il;
	int rc = keel_v1_algs_key_lens(&q->alg, &el, &il);
	if (rc < 0)
		return rc;
	keel_v1_put32(spib, spi);
	struct keel_ikev1_qm_params p = {
	    .prf = p1->prf,
	    .skeyid_d = p1->keys.skeyid_d,
	    .g_qm = q->g_qm ? keel_secret_data(q->g_qm) : NULL,
	    .g_qm_len = keel_secret_len(q->g_qm),
	    .protocol = sa->child_proto, /* ESP or AH: it is part of KEYMAT */
	    .spi = spib,
	    .spi_len = 4,
	    .nonce_i = q->initiator ? q->nonce : q->peer_nonce,
	    .nonce_i_len =
	        q->initiator ? (ptrdiff_t)sizeof(q->nonce) : (ptrdiff_t)q->peer_nonce_len,
	    .nonce_r = q->initiator ? q->peer_nonce : q->nonce,
	    .nonce_r_len =
	        q->initiator ? (ptrdiff_t)q->peer_nonce_len : (ptrdiff_t)sizeof(q->nonce),
	};
	return keel_ikev1_qm_keys(&p, el, il, encr, integ);
}

/*
 * A new pair for q. inbound_first: the gateway's quick mode, answered but
 * not yet confirmed by its message 3: the data path receives on the pair at
 * once and sends on it after the KEEL_OUT_CHILD_ACTIVATE; the tunnel keeps
 * its current pair until then.
 */
static struct v1_child *install(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_qm *q,
                                bool inbound_first)
{
	struct keel_secret *e_in = NULL, *i_in = NULL, *e_out = NULL, *i_out = NULL;
	struct v1_child *c = NULL;
	char algs[96], l[128], r[512];

	for (size_t i = 0; i < V1_MAX_CHILDREN && !c; i++)
		if (sa->child[i].state == V1_CHILD_FREE)
			c = &sa->child[i];
	if (!c)
		return NULL;
	if (sa_keys(sa, p1, q, q->spi_in, &e_in, &i_in) < 0 ||
	    sa_keys(sa, p1, q, q->spi_out, &e_out, &i_out) < 0) {
		c = NULL;
		goto out;
	}
	memset(c, 0, sizeof(*c));
	c->state = inbound_first ? V1_CHILD_INBOUND : V1_CHILD_ACTIVE;
	c->id = sa->next_child_id++;
	if (sa->next_child_id == 0)
		sa->next_child_id = 1;
	c->tunnel = q->tunnel;
	c->reqid = sa->tunnel[q->tunnel].reqid;
	c->spi_in = q->spi_in;
	c->spi_out = q->spi_out;
	c->alg = q->alg;
	c->id_l = q->id_l;
	c->id_r = q->id_r;
	/* Cisco Unity: the split-include networks inside what the quick mode covered */
	c->n_ts_r = 0;
	for (size_t i = 0; i < sa->n_split && c->n_ts_r < KEEL_MAX_TS; i++) {
		struct keel_ts t;
		const struct keel_prefix *p = &sa->split[i];
		memset(&t, 0, sizeof(t));
		t.family = p->addr.family;
		t.port_end = 65535;
		size_t al = (size_t)keel_af_addr_len(t.family);
		memcpy(t.start, p->addr.bytes, al);
		for (size_t k = 0; k < al; k++) {
			unsigned keep =
			    p->prefix_len > k * 8
			        ? (p->prefix_len - k * 8 >= 8 ? 8 : p->prefix_len - k * 8)
			        : 0;
			t.end[k] =
			    (uint8_t)(t.start[k] | (uint8_t) ~(keep ? 0xff << (8 - keep) : 0));
		}
		if (ts_within(&t, &q->id_r))
			c->ts_r[c->n_ts_r++] = t;
	}
	if (c->n_ts_r == 0)
		c->ts_r[c->n_ts_r++] = q->id_r;
	c->rekey_ns = keel_v1sa_rekey_at(sa, &sa->cfg.child_lifetime, q->life_s);
	c->expire_ns =
	    q->life_s ? keel_v1_add_ns(sa->now_ns, (uint64_t)q->life_s * V1_NS_PER_S) : 0;

	size_t ek = (size_t)keel_secret_len(e_out), ak = (size_t)keel_secret_len(i_out);
	size_t ts_bytes = (1 + c->n_ts_r) * sizeof(struct keel_ts);
	uint8_t *data;
	struct keel_out *o =
	    keel_v1sa_out_push(sa, KEEL_OUT_CHILD_INSTALL, ts_bytes + 2 * ek + 2 * ak, true, &data);
	if (!o) {
		memset(c, 0, sizeof(*c));
		c = NULL;
		goto out;
	}
	struct keel_out_child_install *ci = &o->u.child_install;
	struct keel_ts *tl = (struct keel_ts *)(void *)data;
	tl[0] = c->id_l;
	memcpy(tl + 1, c->ts_r, c->n_ts_r * sizeof(struct keel_ts));
	uint8_t *k = data + ts_bytes;
	if (ek) { /* none with AH */
		memcpy(k, keel_secret_data(e_in), ek);
		memcpy(k + ek, keel_secret_data(e_out), ek);
	}
	if (ak) {
		memcpy(k + 2 * ek, keel_secret_data(i_in), ak);
		memcpy(k + 2 * ek + ak, keel_secret_data(i_out), ak);
	}
	ci->child_id = c->id;
	ci->reqid = c->reqid;
	ci->rekeyed_child_id = q->rekey_child;
	ci->inbound_first = inbound_first;
	bool ah = sa->child_proto == KEEL_V1_PROTO_AH;
	ci->protocol = ah ? KEEL_PROTO_AH : KEEL_PROTO_ESP;
	ci->spi_in = c->spi_in;
	ci->spi_out = c->spi_out;
	ci->encr = c->alg.encr;
	ci->encr_key_bits = c->alg.encr_key_bits;
	ci->encr_key_in = ek ? k : NULL;
	ci->encr_key_out = ek ? k + ek : NULL;
	ci->encr_key_len = (ptrdiff_t)ek;
	ci->integ = c->alg.integ;
	ci->integ_key_in = ak ? k + 2 * ek : NULL;
	ci->integ_key_out = ak ? k + 2 * ek + ak : NULL;
	ci->integ_key_len = (ptrdiff_t)ak;
	ci->esn = c->alg.esn;
	ci->local = sa->cfg.local;
	ci->remote = sa->cfg.remote;
	/* AH has no UDP encapsulation (a NAT fails the connection, task-phase1.c) */
	ci->encap = sa->natt && !ah;
	if (ci->encap) {
		ci->local.port = sa->cfg.local_natt_port;
		ci->remote.port = sa->cfg.remote_natt_port;
	}
	ci->nat_local = ci->encap && (sa->nat_local || sa->cfg.force_encap);
	ci->ts_local = tl;
	ci->n_ts_local = 1;
	ci->ts_remote = tl + 1;
	ci->n_ts_remote = c->n_ts_r;
	ci->soft_life_s = c->rekey_ns ? (uint32_t)((c->rekey_ns - sa->now_ns) / V1_NS_PER_S) : 0;
	ci->hard_life_s = q->life_s;
	if (!inbound_first)
		sa->tunnel[q->tunnel].child_id = c->id;

	keel_v1_algs_text(&c->alg, algs, sizeof(algs));
	keel_v1_ts_text(&c->id_l, 1, l, sizeof(l));
	keel_v1_ts_text(c->ts_r, c->n_ts_r, r, sizeof(r));
	keel_v1sa_log(sa, KEEL_LOG_INFO,
	              "CHILD SA installed: %s SPIs %08" PRIx32 "_i %08" PRIx32
	              "_o, %s%s, %s === %s",
	              ah ? "AH" : "ESP", c->spi_in, c->spi_out, algs,
	              ci->encap ? ", UDP-encapsulated" : "", l, r);
	if (inbound_first)
		keel_v1sa_log(sa, KEEL_LOG_DEBUG,
		              "CHILD SA %08" PRIx32 "_i: receiving now, sending once the gateway "
		              "confirms with Quick Mode message 3",
		              c->spi_in);
out:
	keel_secret_free(e_in);
	keel_secret_free(i_in);
	keel_secret_free(e_out);
	keel_secret_free(i_out);
	return c;
}

/* Splits an address range into prefixes (appended to out, cap entries). */
static bool range_prefixes(const struct keel_ts *ts, struct keel_prefix *out, size_t cap, size_t *n)
{
	size_t al = (size_t)keel_af_addr_len(ts->family);
	uint8_t cur[16], end[16];
	memcpy(cur, ts->start, al);
	memcpy(end, ts->end, al);
	for (;;) {
		if (*n >= cap)
			return false;
		/* the largest prefix at cur that stays inside [cur, end] */
		unsigned bits = (unsigned)al * 8, plen = bits;
		while (plen > 0) {
			unsigned p = plen - 1;
			uint8_t hi[16];
			bool aligned = true;
			memcpy(hi, cur, al);
			for (unsigned b = p; b < bits; b++) {
				if (cur[b / 8] >> (7 - b % 8) & 1)
					aligned = false;
				hi[b / 8] |= (uint8_t)(1u << (7 - b % 8));
			}
			if (!aligned || memcmp(hi, end, al) > 0)
				break;
			plen = p;
		}
		struct keel_prefix *pf = &out[(*n)++];
		memset(pf, 0, sizeof(*pf));
		pf->addr.family = ts->family;
		memcpy(pf->addr.bytes, cur, al);
		pf->prefix_len = (uint8_t)plen;
		/* last = cur | host bits; done when it reaches end */
		uint8_t last[16];
		memcpy(last, cur, al);
		for (unsigned b = plen; b < bits; b++)
			last[b / 8] |= (uint8_t)(1u << (7 - b % 8));
		if (memcmp(last, end, al) >= 0)
			return true;
		/* cur = last + 1 */
		memcpy(cur, last, al);
		for (size_t k = al; k-- > 0;)
			if (++cur[k] != 0)
				break;
	}
}

void keel_v1_netcfg_emit(struct keel_v1sa *sa, const struct v1_child *c)
{
	struct keel_prefix routes[V1_MAX_SPLIT + 64];
	size_t n_routes = 0;
	bool full = true;
	if (sa->n_split) {
		memcpy(routes, sa->split, sa->n_split * sizeof(routes[0]));
		n_routes = sa->n_split;
	} else {
		for (size_t i = 0; i < sa->n_tunnels; i++) {
			const struct v1_child *t = keel_v1_child_find(sa, sa->tunnel[i].child_id);
			if (!t && i == c->tunnel)
				t = c;
			if (t)
				full &=
				    range_prefixes(&t->id_r, routes,
				                   sizeof(routes) / sizeof(routes[0]), &n_routes);
		}
	}
	if (!full)
		keel_v1sa_log(sa, KEEL_LOG_WARN, "too many routes; using the first %zu", n_routes);
	struct keel_out_netcfg nc = {
	    .has_ip4 = sa->have_ip4,
	    .ip4 = sa->ip4,
	    .has_ip6 = sa->have_ip6,
	    .ip6 = sa->ip6,
	    .dns = sa->dns,
	    .n_dns = sa->n_dns,
	    .routes = routes,
	    .n_routes = n_routes,
	};
	if (keel_outq_push_netcfg(&sa->outq, &nc))
		sa->netcfg_sent = true;
}

static void connected(struct keel_v1sa *sa)
{
	char vip[64] = "", dns[96] = "", a[48];
	if (sa->have_ip4) {
		keel_v1_addr_text(KEEL_AF_INET, sa->ip4.addr.bytes, a, sizeof(a));
		snprintf(vip, sizeof(vip), ", virtual IP %s", a);
	} else if (sa->have_ip6) {
		keel_v1_addr_text(KEEL_AF_INET6, sa->ip6.addr.bytes, a, sizeof(a));
		snprintf(vip, sizeof(vip), ", virtual IP %s", a);
	}
	if (sa->n_dns) {
		keel_v1_addr_text(sa->dns[0].family, sa->dns[0].bytes, a, sizeof(a));
		snprintf(dns, sizeof(dns), ", DNS %s%s", a, sa->n_dns > 1 ? " and more" : "");
	}
	keel_v1sa_set_state(sa, KEEL_STATE_ESTABLISHED, KEEL_REASON_NONE, "connected%s%s", vip,
	                    dns);
}

/* After a new CHILD SA: the old one of a rekey goes, the connection is up. */
static void child_done(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_child *c, uint32_t rekeyed,
                       bool ours)
{
	struct v1_child *old = rekeyed ? keel_v1_child_find(sa, rekeyed) : NULL;
	if (old && ours) {
		/* make-before-break: the new pair is in; the old one is deleted and removed */
		uint32_t spi = old->spi_in;
		keel_v1_info_delete_esp(sa, p1, &spi, 1);
		keel_v1_child_remove(sa, old, KEEL_REASON_REKEYED);
	} else if (old) {
		/* the gateway's rekey: it deletes the old pair itself */
		old->state = V1_CHILD_ACTIVE;
		old->replaced = true;
		old->rekey_ns = 0;
	}
	if (!sa->established) {
		sa->established = true;
		keel_v1_netcfg_emit(sa, c);
		connected(sa);
		return;
	}
	if (!rekeyed && !sa->n_split)
		keel_v1_netcfg_emit(sa, c); /* another tunnel: its routes too */
	if (sa->state == KEEL_STATE_REKEYING)
		keel_v1sa_set_state(sa, KEEL_STATE_ESTABLISHED, KEEL_REASON_NONE, "tunnel rekeyed");
}

/* ---- our quick mode ---- */

int keel_v1_quick_start(struct keel_v1sa *sa, size_t tunnel, uint32_t rekey_child)
{
	struct v1_p1 *p1 = sa->p1;
	struct v1_qm *q = &sa->qm;
	uint8_t ke[KEEL_DH_PUBLIC_MAX_LEN];
	uint8_t idb_l[32], idb_r[32];
	struct keel_v1_id id_l, id_r;
	struct v1_wr mw;
	uint8_t *msg;
	size_t len;
	int rc;

	if (!p1 || p1->step != P1_READY || tunnel >= sa->n_tunnels)
		return 0;
	struct v1_child *old = rekey_child ? keel_v1_child_find(sa, rekey_child) : NULL;
	if (rekey_child && (!old || old->state != V1_CHILD_ACTIVE))
		return 0;
	if (!rekey_child && sa->tunnel[tunnel].child_id)
		return 0;
	keel_v1_qm_clear(q);
	q->active = true;
	q->initiator = true;
	q->tunnel = tunnel;
	q->rekey_child = rekey_child;
	q->group = sa->opt.pfs_group;
	if ((rc = keel_v1_new_msg_id(sa, p1, &q->msg_id)) < 0 ||
	    (rc = keel_v1_new_spi(sa, &q->spi_in)) < 0 ||
	    (rc = keel_v1sa_random(sa, q->nonce, sizeof(q->nonce))) < 0)
		return rc;
	if (q->group && (rc = keel_dh_new(q->group, sa->env, &q->dh)) < 0)
		return rc;
	if (old) {
		q->id_l = old->id_l;
		q->id_r = old->id_r;
	} else {
		q->id_r = sa->tunnel[tunnel].remote;
		local_ts(sa, q->id_r.family, &q->id_l);
	}
	id_from_ts(&q->id_l, idb_l, &id_l);
	id_from_ts(&q->id_r, idb_r, &id_r);

	keel_v1_wr_begin(sa, &mw, p1, KEEL_V1_EXCH_QUICK, q->msg_id, true, V1_HASH_1);
	keel_v1_enc_esp_sa(sa, &mw.e, q->spi_in, q->group);
	keel_v1_enc_data(&mw.e, KEEL_V1_PL_NONCE, q->nonce, sizeof(q->nonce));
	if (q->dh) {
		ptrdiff_t n = keel_dh_public(q->dh, ke, sizeof(ke));
		if (n < 0)
			return (int)n;
		keel_v1_enc_data(&mw.e, KEEL_V1_PL_KE, ke, (size_t)n);
	}
	/* RFC 2409 §5.5: IDci then IDcr */
	keel_v1_enc_id(&mw.e, &id_l);
	keel_v1_enc_id(&mw.e, &id_r);
	if ((rc = keel_v1_wr_end(&mw, &msg, &len)) < 0)
		return rc;
	keel_v1sa_req_done(sa);
	sa->req.kind = V1_REQ_QUICK;
	sa->req.p1 = p1;
	sa->req.msg_id = q->msg_id;
	if (old) {
		old->state = V1_CHILD_REKEYING;
		keel_v1sa_set_state(sa, KEEL_STATE_REKEYING, KEEL_REASON_NONE,
		                    "rekeying the tunnel");
	}
	char l[128], r[128];
	keel_v1_ts_text(&q->id_l, 1, l, sizeof(l));
	keel_v1_ts_text(&q->id_r, 1, r, sizeof(r));
	keel_v1sa_log(sa, KEEL_LOG_DEBUG, "Quick Mode for %s === %s%s", l, r,
	              old ? " (rekey)" : "");
	return keel_v1sa_req_send(sa, msg, len);
}

/* IDci and IDcr of a quick mode message, if there; false if malformed or only one. */
static bool read_ids(struct keel_v1sa *sa, struct keel_ts *ci, struct keel_ts *cr, bool *present)
{
	const struct keel_v1_payload *a = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_ID, NULL);
	const struct keel_v1_payload *b = a ? keel_v1_msg_next(&sa->rx, KEEL_V1_PL_ID, a) : NULL;
	struct keel_v1_id ia, ib;
	*present = a != NULL;
	if (!a)
		return true;
	if (!b || keel_v1_id_decode(a, &ia) < 0 || keel_v1_id_decode(b, &ib) < 0)
		return false;
	return ts_from_id(&ia, ci) && ts_from_id(&ib, cr);
}

static uint32_t responder_lifetime(struct keel_v1sa *sa)
{
	const struct keel_v1_payload *pl = NULL;
	uint32_t life = 0;
	while ((pl = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_NOTIFY, pl)) != NULL) {
		struct keel_v1_notify n;
		if (keel_v1_notify_decode(pl, &n) < 0 || n.type != KEEL_V1_N_RESPONDER_LIFETIME ||
		    n.protocol != sa->child_proto)
			continue;
		/* RFC 2407 §4.6.3.1: the lifetime the responder will really use */
		uint32_t s = keel_v1_lifetime_attrs(n.data, n.len, false);
		if (s && (!life || s < life))
			life = s;
	}
	return life;
}

static int compute_g_qm(struct keel_v1sa *sa, struct v1_qm *q)
{
	const struct keel_v1_payload *ke = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_KE, NULL);
	if (!q->group)
		return ke ? KEEL_ERR_MALFORMED : 0;
	if (!ke)
		return KEEL_ERR_MALFORMED;
	keel_secret_free(q->g_qm);
	q->g_qm = NULL;
	return keel_dh_compute(q->dh, ke->body, ke->len, &q->g_qm);
}

static void quick_failed(struct keel_v1sa *sa, enum keel_reason reason, const char *text)
{
	struct v1_qm *q = &sa->qm;
	if (!sa->established) {
		keel_v1sa_fail_delete(sa, reason, "%s", text);
		return;
	}
	struct v1_child *old = q->rekey_child ? keel_v1_child_find(sa, q->rekey_child) : NULL;
	keel_v1sa_log(sa, KEEL_LOG_WARN, "%s; trying again in a minute", text);
	if (old) {
		old->state = V1_CHILD_ACTIVE;
		uint64_t retry = keel_v1_add_ns(sa->now_ns, 60 * V1_NS_PER_S);
		old->rekey_ns = old->expire_ns && retry >= old->expire_ns ? 0 : retry;
	}
	keel_v1sa_req_done(sa);
	keel_v1_qm_clear(q);
	if (sa->state == KEEL_STATE_REKEYING)
		keel_v1sa_set_state(sa, KEEL_STATE_ESTABLISHED, KEEL_REASON_NONE, "rekey failed");
}

void keel_v1_quick_refused(struct keel_v1sa *sa, uint16_t type)
{
	char text[V1_LOG_LINE_MAX], offer[400], l[128], r[128];
	struct v1_qm *q = &sa->qm;
	keel_v1_ts_text(&q->id_l, 1, l, sizeof(l));
	keel_v1_ts_text(&q->id_r, 1, r, sizeof(r));
	switch (type) {
	case KEEL_V1_N_NO_PROPOSAL_CHOSEN:
		keel_v1_offer_text(sa, true, offer, sizeof(offer));
		snprintf(text, sizeof(text),
		         "the gateway accepted none of our %s proposals (NO-PROPOSAL-CHOSEN); we "
		         "offered %s",
		         sa->child_proto == KEEL_V1_PROTO_AH ? "AH" : "ESP", offer);
		quick_failed(sa, KEEL_REASON_NO_PROPOSAL, text);
		return;
	case KEEL_V1_N_INVALID_ID_INFORMATION:
		snprintf(text, sizeof(text),
		         "the gateway refused the networks we asked for (INVALID-ID-INFORMATION): "
		         "%s === %s",
		         l, r);
		quick_failed(sa, KEEL_REASON_TS_UNACCEPTABLE, text);
		return;
	default: {
		const char *nn = keel_v1_notify_name(type);
		if (nn)
			snprintf(text, sizeof(text), "the gateway refused the tunnel (%s)", nn);
		else
			snprintf(text, sizeof(text), "the gateway refused the tunnel (notify %u)",
			         type);
		quick_failed(sa, KEEL_REASON_PEER_ERROR, text);
		return;
	}
	}
}

int keel_v1_quick_process(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	struct v1_qm *q = &sa->qm;
	const struct keel_dgram *in = sa->dgram;
	struct keel_ts ci, cr;
	bool ids;
	int rc;

	if (!q->active || q->msg_id != sa->rx.hdr.msg_id)
		return KEEL_ERR_STATE;
	/* RFC 2409 §5.5: HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [| KE] [| IDci | IDcr]) */
	rc = keel_v1_rx_hash(sa, p1, V1_HASH_2, q->nonce, sizeof(q->nonce), NULL, 0);
	if (rc < 0) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "dropping Quick Mode message 2: %s",
		              keel_strerror(rc));
		return rc;
	}
	const struct keel_v1_payload *sap = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_SA, NULL);
	const struct keel_v1_payload *nr = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_NONCE, NULL);
	if (!sap || !nr || nr->len > sizeof(q->peer_nonce) || !read_ids(sa, &ci, &cr, &ids))
		return KEEL_ERR_MALFORMED;
	keel_v1_rx_commit(sa, p1);
	sa->last_heard_ns = sa->now_ns;
	memcpy(q->peer_nonce, nr->body, nr->len);
	q->peer_nonce_len = nr->len;
	if (keel_v1_esp_choice(sa, q, sap) < 0) {
		quick_failed(sa, KEEL_REASON_PROTOCOL,
		             "the gateway answered Quick Mode with a proposal we did not offer");
		return 0;
	}
	if (ids) {
		/* strongSwan narrows like IKEv2 (RFC 7296 §2.9); never wider than asked */
		if (!ts_within(&ci, &q->id_l) || !ts_within(&cr, &q->id_r)) {
			quick_failed(sa, KEEL_REASON_TS_UNACCEPTABLE,
			             "the gateway answered with wider networks than we asked for");
			return 0;
		}
		q->id_l = ci;
		q->id_r = cr;
	}
	uint32_t rl = responder_lifetime(sa);
	if (rl && rl < q->life_s) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG,
		              "the gateway's lifetime for the tunnel: %" PRIu32 " s", rl);
		q->life_s = rl;
	}
	if (sa->rx.hdr.flags & KEEL_V1_FLAG_COMMIT)
		keel_v1sa_log(sa, KEEL_LOG_DEBUG,
		              "the gateway set the commit bit; installing at once, as is usual");
	if ((rc = compute_g_qm(sa, q)) < 0) {
		quick_failed(sa, KEEL_REASON_PROTOCOL,
		             "the gateway's Quick Mode key exchange is missing or invalid");
		return 0;
	}
	/* message 3: HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b) */
	struct v1_wr mw;
	uint8_t *msg;
	size_t len;
	keel_v1_wr_begin(sa, &mw, p1, KEEL_V1_EXCH_QUICK, q->msg_id, true, V1_HASH_3);
	mw.n_i = q->nonce;
	mw.n_i_len = sizeof(q->nonce);
	mw.n_r = q->peer_nonce;
	mw.n_r_len = q->peer_nonce_len;
	if ((rc = keel_v1_wr_end(&mw, &msg, &len)) < 0)
		return rc;
	struct v1_xchg *x = keel_v1_xchg(sa, p1, q->msg_id, KEEL_V1_EXCH_QUICK, true);
	if (!x) {
		free(msg);
		return KEEL_ERR_NOMEM;
	}
	free(x->last_tx);
	x->last_tx = msg;
	x->last_tx_len = len;
	x->closed = true;
	if (!keel_v1_dup(&x->last_rx, &x->last_rx_len, in->data, (size_t)in->len))
		return KEEL_ERR_NOMEM;
	if ((rc = keel_v1sa_send(sa, msg, len)) < 0)
		return rc;
	keel_v1sa_req_done(sa);
	struct v1_child *c = install(sa, p1, q, false);
	if (!c) {
		keel_v1sa_fail_delete(sa, KEEL_REASON_INTERNAL, "cannot install the tunnel");
		return 0;
	}
	uint32_t rekeyed = q->rekey_child;
	keel_v1_qm_clear(q);
	child_done(sa, p1, c, rekeyed, true);
	return 0;
}

/* ---- the gateway's quick mode ---- */

/*
 * The gateway has the pair its quick mode made: it sends on it, and so do
 * we from now on. commit: the gateway set the commit bit, after which RFC
 * 2408 §3.1 has us wait for its CONNECTED notify before sending: the pair
 * then stays inbound first until the gateway deletes the old pair (or the
 * data path's own wait ends).
 */
static void peer_activate(struct keel_v1sa *sa, struct v1_child *c, uint32_t rekeyed, bool commit)
{
	c->state = V1_CHILD_ACTIVE;
	if (c->tunnel < sa->n_tunnels)
		sa->tunnel[c->tunnel].child_id = c->id;
	if (commit) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG,
		              "the gateway set the commit bit: sending on CHILD SA %08" PRIx32
		              "_i once it deletes the old pair",
		              c->spi_in);
	} else {
		struct keel_out *o =
		    keel_v1sa_out_push(sa, KEEL_OUT_CHILD_ACTIVATE, 0, false, NULL);
		if (o) {
			struct keel_out_child_activate *ca = &o->u.child_activate;
			ca->child_id = c->id;
			ca->reqid = c->reqid;
			ca->protocol =
			    sa->child_proto == KEEL_V1_PROTO_AH ? KEEL_PROTO_AH : KEEL_PROTO_ESP;
			ca->spi_in = c->spi_in;
			ca->spi_out = c->spi_out;
		}
	}
	child_done(sa, sa->p1, c, rekeyed, false);
}

void keel_v1_quick_peer_drop(struct keel_v1sa *sa, const char *why)
{
	struct v1_qm *q = &sa->qm_peer;
	struct v1_child *c = q->child_id ? keel_v1_child_find(sa, q->child_id) : NULL;
	if (q->active)
		keel_v1sa_log(sa, KEEL_LOG_DEBUG,
		              "the gateway's Quick Mode %08" PRIx32 " ends without message 3 (%s)",
		              q->msg_id, why);
	/* never left half-installed: its outbound SA was never used */
	if (c && c->state == V1_CHILD_INBOUND)
		keel_v1_child_remove(sa, c, KEEL_REASON_TIMEOUT);
	keel_v1_qm_clear(q);
}

void keel_v1_quick_peer_replaced(struct keel_v1sa *sa, struct v1_child *old)
{
	struct v1_qm *q = &sa->qm_peer;
	if (!q->active || !q->child_id || q->rekey_child != old->id)
		return;
	struct v1_child *c = keel_v1_child_find(sa, q->child_id);
	uint32_t rekeyed = q->rekey_child;
	/*
	 * Message 3 is lost or late, but the gateway only deletes the pair its
	 * quick mode replaces once it has the new one: RFC 2408 §3.1 lets a
	 * verified message of the peer's stand for the missing last one.
	 */
	keel_v1sa_log(sa, KEEL_LOG_DEBUG,
	              "the gateway deleted the old pair before Quick Mode %08" PRIx32
	              " message 3: it has the new one",
	              q->msg_id);
	keel_v1_qm_clear(q);
	if (c && c->state == V1_CHILD_INBOUND)
		peer_activate(sa, c, rekeyed, false);
}

/* x: NULL (a new message ID); the exchange is made once the HASH is verified */
static int respond_msg1(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_xchg *x)
{
	struct v1_qm *q = &sa->qm_peer;
	struct keel_ts ci, cr;
	uint8_t ke[KEEL_DH_PUBLIC_MAX_LEN];
	bool ids;
	uint8_t prop_no, xf_no;
	uint16_t encap;
	int rc;

	rc = keel_v1_rx_hash(sa, p1, V1_HASH_1, NULL, 0, NULL, 0);
	if (rc < 0)
		return rc;
	const struct keel_v1_payload *sap = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_SA, NULL);
	const struct keel_v1_payload *ni = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_NONCE, NULL);
	if (!sap || !ni || ni->len > sizeof(q->peer_nonce) || !read_ids(sa, &ci, &cr, &ids))
		return KEEL_ERR_MALFORMED;
	keel_v1_rx_commit(sa, p1);
	sa->last_heard_ns = sa->now_ns;
	x = keel_v1_xchg(sa, p1, sa->rx.hdr.msg_id, KEEL_V1_EXCH_QUICK, true);
	if (!x ||
	    !keel_v1_dup(&x->last_rx, &x->last_rx_len, sa->dgram->data, (size_t)sa->dgram->len))
		return KEEL_ERR_NOMEM;
	keel_v1_quick_peer_drop(sa, "the gateway started another");
	q->msg_id = x->msg_id;
	q->commit = (sa->rx.hdr.flags & KEEL_V1_FLAG_COMMIT) != 0;
	memcpy(q->peer_nonce, ni->body, ni->len);
	q->peer_nonce_len = ni->len;
	/* the gateway's IDci is its side, IDcr ours: which tunnel does it rekey? */
	size_t t = sa->n_tunnels;
	struct v1_child *old = NULL;
	for (size_t i = 0; ids && i < sa->n_tunnels && t == sa->n_tunnels; i++) {
		struct v1_child *c = keel_v1_child_find(sa, sa->tunnel[i].child_id);
		if (c && ts_eq(&c->id_r, &ci) && ts_eq(&c->id_l, &cr)) {
			t = i;
			old = c;
		}
	}
	if (t == sa->n_tunnels) {
		keel_v1sa_log(
		    sa, KEEL_LOG_WARN,
		    "refusing the gateway's Quick Mode for networks we have no tunnel for");
		x->closed = true;
		keel_v1_info_notify(sa, p1, sa->child_proto, NULL, 0,
		                    KEEL_V1_N_INVALID_ID_INFORMATION, NULL, 0);
		return 0;
	}
	if (keel_v1_esp_select(sa, q, sap, &prop_no, &xf_no, &encap) < 0) {
		keel_v1sa_log(sa, KEEL_LOG_WARN,
		              "refusing the gateway's Quick Mode: none of its proposals is ours");
		x->closed = true;
		keel_v1_info_notify(sa, p1, sa->child_proto, NULL, 0, KEEL_V1_N_NO_PROPOSAL_CHOSEN,
		                    NULL, 0);
		return 0;
	}
	q->active = true;
	q->initiator = false;
	q->tunnel = t;
	q->rekey_child = old->id;
	q->id_l = cr;
	q->id_r = ci;
	if ((rc = keel_v1_new_spi(sa, &q->spi_in)) < 0 ||
	    (rc = keel_v1sa_random(sa, q->nonce, sizeof(q->nonce))) < 0)
		return rc;
	if (q->group) {
		const struct keel_v1_payload *kp = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_KE, NULL);
		if (!kp)
			return KEEL_ERR_MALFORMED;
		if ((rc = keel_dh_new(q->group, sa->env, &q->dh)) < 0)
			return rc;
		if ((rc = keel_dh_compute(q->dh, kp->body, kp->len, &q->g_qm)) < 0)
			return rc;
	}
	/* message 2: HASH(2), SA, Nr [, KE], IDci, IDcr as received */
	struct v1_wr mw;
	uint8_t *msg;
	size_t len;
	keel_v1_wr_begin(sa, &mw, p1, KEEL_V1_EXCH_QUICK, q->msg_id, true, V1_HASH_2);
	mw.n_i = q->peer_nonce;
	mw.n_i_len = q->peer_nonce_len;
	keel_v1_enc_esp_chosen(sa, &mw.e, q, prop_no, xf_no, encap);
	keel_v1_enc_data(&mw.e, KEEL_V1_PL_NONCE, q->nonce, sizeof(q->nonce));
	if (q->dh) {
		ptrdiff_t n = keel_dh_public(q->dh, ke, sizeof(ke));
		if (n < 0)
			return (int)n;
		keel_v1_enc_data(&mw.e, KEEL_V1_PL_KE, ke, (size_t)n);
	}
	if (ids) {
		const struct keel_v1_payload *a = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_ID, NULL);
		const struct keel_v1_payload *b = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_ID, a);
		struct keel_v1_id ia, ib;
		keel_v1_id_decode(a, &ia);
		keel_v1_id_decode(b, &ib);
		keel_v1_enc_id(&mw.e, &ia);
		keel_v1_enc_id(&mw.e, &ib);
	}
	if ((rc = keel_v1_wr_end(&mw, &msg, &len)) < 0)
		return rc;
	free(x->last_tx);
	x->last_tx = msg;
	x->last_tx_len = len;
	/*
	 * RFC 2409 §5.5: KEYMAT is known now. The gateway installs the pair as
	 * message 2 reaches it and may send on it before its message 3 reaches
	 * us: the pair goes in before message 2 goes out, sending only later.
	 */
	struct v1_child *c = install(sa, p1, q, true);
	if (!c) {
		keel_v1sa_fail_delete(sa, KEEL_REASON_INTERNAL, "cannot install the tunnel");
		return 0;
	}
	q->child_id = c->id;
	q->wait_ns = keel_v1_add_ns(sa->now_ns, keel_v1sa_giveup_ms(sa) * V1_NS_PER_MS);
	keel_v1sa_log(sa, KEEL_LOG_DEBUG, "answering the gateway's Quick Mode %08" PRIx32,
	              q->msg_id);
	return keel_v1sa_send(sa, msg, len);
}

static int respond_msg3(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_xchg *x)
{
	struct v1_qm *q = &sa->qm_peer;
	int rc = keel_v1_rx_hash(sa, p1, V1_HASH_3, q->peer_nonce, q->peer_nonce_len, q->nonce,
	                         sizeof(q->nonce));
	if (rc < 0)
		return rc;
	keel_v1_rx_commit(sa, p1);
	sa->last_heard_ns = sa->now_ns;
	x->closed = true;
	free(x->last_tx); /* nothing answers message 3 */
	x->last_tx = NULL;
	x->last_tx_len = 0;
	struct v1_child *c = keel_v1_child_find(sa, q->child_id);
	uint32_t rekeyed = q->rekey_child;
	bool commit = q->commit || (sa->rx.hdr.flags & KEEL_V1_FLAG_COMMIT);
	keel_v1_qm_clear(q);
	if (c && c->state == V1_CHILD_INBOUND)
		peer_activate(sa, c, rekeyed, commit);
	return 0;
}

int keel_v1_quick_respond(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_xchg *x)
{
	struct v1_qm *q = &sa->qm_peer;
	if (!sa->established || p1 != sa->p1 || p1->step != P1_READY)
		return KEEL_ERR_STATE;
	if (x && q->active && q->msg_id == x->msg_id)
		return respond_msg3(sa, p1, x);
	if (x)
		return KEEL_ERR_STATE; /* neither message 1 nor 3 of a quick mode we know */
	return respond_msg1(sa, p1, NULL);
}
