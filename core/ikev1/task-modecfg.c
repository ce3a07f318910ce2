/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Mode Config as the client (draft-dukes-ike-mode-cfg-02): the virtual IP,
 * DNS servers and, from Cisco Unity gateways, the split-include networks,
 * the default domain and a banner. Pulled (§3.2: we REQUEST, the gateway
 * REPLYs) or pushed (the gateway SETs, we ACK), in a transaction exchange
 * of its own message ID after phase 1 and XAUTH.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ikev1/sa.h"

static unsigned mask_len(const uint8_t *m, size_t n, bool *contiguous)
{
	unsigned len = 0;
	bool zero_seen = false;
	*contiguous = true;
	for (size_t i = 0; i < n * 8; i++) {
		bool bit = m[i / 8] >> (7 - i % 8) & 1;
		if (bit && zero_seen)
			*contiguous = false;
		if (bit)
			len++;
		else
			zero_seen = true;
	}
	return len;
}

static void prefix_set(struct keel_prefix *p, enum keel_af family, const uint8_t *addr,
                       unsigned plen)
{
	size_t al = (size_t)keel_af_addr_len(family);
	memset(p, 0, sizeof(*p));
	p->addr.family = family;
	memcpy(p->addr.bytes, addr, al);
	for (size_t k = 0; k < al; k++) {
		unsigned keep = plen > k * 8 ? (plen - k * 8 >= 8 ? 8 : plen - k * 8) : 0;
		p->addr.bytes[k] &= (uint8_t)(keep ? 0xff << (8 - keep) : 0);
	}
	p->prefix_len = (uint8_t)plen;
}

/* Peer text kept for the front end: printable ASCII only, the rest as '?'. */
static void text_keep(const struct keel_v1_attr *a, char *out, size_t cap)
{
	size_t n = a->basic ? 0 : a->len;
	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = a->value[i];
		out[i] = c >= 0x20 && c < 0x7f ? (char)c : c == '\n' || c == '\t' ? ' ' : '?';
	}
	out[n] = '\0';
}

struct netcfg {
	bool have_ip4, have_ip6;
	struct keel_prefix ip4, ip6;
	size_t n_dns;
	struct keel_addr dns[V1_MAX_DNS];
	size_t n_split;
	struct keel_prefix split[V1_MAX_SPLIT];
	char domain[V1_TEXT_MAX];
	char banner[V1_TEXT_MAX];
};

static void add_split(struct keel_v1sa *sa, struct netcfg *nc, enum keel_af family,
                      const uint8_t *addr, unsigned plen)
{
	if (nc->n_split >= V1_MAX_SPLIT) {
		keel_v1sa_log(sa, KEEL_LOG_WARN,
		              "too many split networks from the gateway; "
		              "using the first %d",
		              V1_MAX_SPLIT);
		return;
	}
	prefix_set(&nc->split[nc->n_split++], family, addr, plen);
}

/* Reads sa->attrs (a REPLY or SET) into nc; the attribute types taken go to acked. */
static void read_attrs(struct keel_v1sa *sa, struct netcfg *nc, uint16_t *acked, size_t *n_acked)
{
	const struct keel_v1_attrs *l = &sa->attrs;
	uint8_t mask4[4] = {0xff, 0xff, 0xff, 0xff};
	bool have_mask = false;
	memset(nc, 0, sizeof(*nc));
	*n_acked = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct keel_v1_attr *a = &l->a[i];
		const uint8_t *v = a->value;
		size_t vl = a->basic ? 0 : a->len;
		bool took = true;
		switch (a->type) {
		case KEEL_V1_CFG_INTERNAL_IP4_ADDRESS:
			if (vl != 4 || nc->have_ip4)
				break;
			prefix_set(&nc->ip4, KEEL_AF_INET, v, 32);
			nc->have_ip4 = true;
			break;
		case KEEL_V1_CFG_INTERNAL_IP4_NETMASK:
			if (vl == 4) {
				memcpy(mask4, v, 4);
				have_mask = true;
			}
			break;
		case KEEL_V1_CFG_INTERNAL_IP6_ADDRESS:
			/* 16 bytes, or 16 and a prefix length as RFC 7296 §3.15.1 has it */
			if ((vl != 16 && vl != 17) || nc->have_ip6 || (vl == 17 && v[16] > 128))
				break;
			prefix_set(&nc->ip6, KEEL_AF_INET6, v, vl == 17 ? v[16] : 128);
			nc->have_ip6 = true;
			break;
		case KEEL_V1_CFG_INTERNAL_IP4_DNS:
		case KEEL_V1_CFG_INTERNAL_IP6_DNS: {
			size_t want = a->type == KEEL_V1_CFG_INTERNAL_IP4_DNS ? 4 : 16;
			if (vl != want || nc->n_dns >= V1_MAX_DNS)
				break;
			struct keel_addr *d = &nc->dns[nc->n_dns++];
			memset(d, 0, sizeof(*d));
			d->family = want == 4 ? KEEL_AF_INET : KEEL_AF_INET6;
			memcpy(d->bytes, v, want);
			break;
		}
		case KEEL_V1_CFG_INTERNAL_IP4_SUBNET: {
			bool contiguous;
			unsigned plen;
			if (vl != 8)
				break;
			plen = mask_len(v + 4, 4, &contiguous);
			if (contiguous)
				add_split(sa, nc, KEEL_AF_INET, v, plen);
			break;
		}
		case KEEL_V1_CFG_INTERNAL_IP6_SUBNET:
			if (vl == 17 && v[16] <= 128)
				add_split(sa, nc, KEEL_AF_INET6, v, v[16]);
			break;
		case KEEL_V1_CFG_UNITY_SPLIT_INCLUDE: {
			struct keel_v1_unity_net nets[V1_MAX_SPLIT];
			ptrdiff_t n = keel_v1_unity_split_decode(a, nets, V1_MAX_SPLIT);
			if (n == KEEL_ERR_NOBUF) {
				/* more than we keep: the first ones, 14 bytes each */
				struct keel_v1_attr first = *a;
				first.len = V1_MAX_SPLIT * 14;
				n = keel_v1_unity_split_decode(&first, nets, V1_MAX_SPLIT);
				keel_v1sa_log(sa, KEEL_LOG_WARN,
				              "too many split networks from the "
				              "gateway; using the first %d",
				              V1_MAX_SPLIT);
			}
			for (ptrdiff_t k = 0; k < n; k++) {
				bool contiguous;
				unsigned plen = mask_len(nets[k].mask, 4, &contiguous);
				if (!contiguous) {
					keel_v1sa_log(
					    sa, KEEL_LOG_WARN,
					    "ignoring a split network with a non-contiguous "
					    "mask");
					continue;
				}
				add_split(sa, nc, KEEL_AF_INET, nets[k].addr, plen);
			}
			if (n < 0)
				keel_v1sa_log(sa, KEEL_LOG_WARN,
				              "ignoring a malformed split-include list");
			break;
		}
		case KEEL_V1_CFG_UNITY_DEF_DOMAIN:
			text_keep(a, nc->domain, sizeof(nc->domain));
			break;
		case KEEL_V1_CFG_UNITY_BANNER:
			text_keep(a, nc->banner, sizeof(nc->banner));
			break;
		case KEEL_V1_CFG_UNITY_LOCAL_LAN:
			keel_v1sa_log(sa, KEEL_LOG_DEBUG,
			              "ignoring the gateway's local-LAN (split exclude) list");
			took = false;
			break;
		default:
			took = false;
			break;
		}
		if (took && *n_acked < KEEL_V1_MAX_ATTRS) {
			bool dup = false;
			for (size_t k = 0; k < *n_acked; k++)
				dup |= acked[k] == a->type;
			if (!dup)
				acked[(*n_acked)++] = a->type;
		}
	}
	if (nc->have_ip4 && have_mask) {
		/* as for IKEv2: INTERNAL_IP4_ADDRESS with the length of INTERNAL_IP4_NETMASK */
		bool contiguous;
		unsigned plen = mask_len(mask4, 4, &contiguous);
		if (contiguous && plen > 0)
			nc->ip4.prefix_len = (uint8_t)plen;
	}
}

static void apply(struct keel_v1sa *sa, struct v1_p1 *p1, const struct netcfg *nc)
{
	char a[64];
	if (p1 != sa->p1 || sa->established) {
		/* a new phase 1: the tunnels stay on the address they have */
		if (sa->have_ip4 && nc->have_ip4 &&
		    memcmp(sa->ip4.addr.bytes, nc->ip4.addr.bytes, 4) != 0) {
			keel_v1_addr_text(KEEL_AF_INET, nc->ip4.addr.bytes, a, sizeof(a));
			keel_v1sa_log(
			    sa, KEEL_LOG_WARN,
			    "the gateway offers another virtual IP (%s) with the new phase 1; "
			    "keeping the tunnels' address",
			    a);
		}
		return;
	}
	sa->have_ip4 = nc->have_ip4;
	sa->ip4 = nc->ip4;
	sa->have_ip6 = nc->have_ip6;
	sa->ip6 = nc->ip6;
	sa->n_dns = nc->n_dns;
	memcpy(sa->dns, nc->dns, sizeof(sa->dns));
	sa->n_split = nc->n_split;
	memcpy(sa->split, nc->split, sizeof(sa->split));
	memcpy(sa->domain, nc->domain, sizeof(sa->domain));
	memcpy(sa->banner, nc->banner, sizeof(sa->banner));
	if (sa->have_ip4) {
		keel_v1_addr_text(KEEL_AF_INET, sa->ip4.addr.bytes, a, sizeof(a));
		keel_v1sa_log(sa, KEEL_LOG_INFO, "virtual IP %s", a);
	}
	if (sa->have_ip6) {
		keel_v1_addr_text(KEEL_AF_INET6, sa->ip6.addr.bytes, a, sizeof(a));
		keel_v1sa_log(sa, KEEL_LOG_INFO, "virtual IPv6 address %s", a);
	}
	if ((sa->cfg.request_ip4 || sa->cfg.request_ip6) && !sa->have_ip4 && !sa->have_ip6)
		keel_v1sa_log(sa, KEEL_LOG_WARN, "the gateway assigned no virtual IP address");
	for (size_t i = 0; i < sa->n_split; i++) {
		keel_v1_addr_text(sa->split[i].addr.family, sa->split[i].addr.bytes, a, sizeof(a));
		keel_v1sa_log(sa, KEEL_LOG_INFO, "split network %s/%u", a, sa->split[i].prefix_len);
	}
	if (sa->domain[0]) {
		char e[V1_TEXT_MAX * 4];
		keel_v1_escape((const uint8_t *)sa->domain, strlen(sa->domain), e, sizeof(e));
		keel_v1sa_log(sa, KEEL_LOG_INFO, "default domain \"%s\"", e);
	}
	if (sa->banner[0]) {
		char e[V1_TEXT_MAX * 4];
		keel_v1_escape((const uint8_t *)sa->banner, strlen(sa->banner), e, sizeof(e));
		keel_v1sa_log(sa, KEEL_LOG_INFO, "banner from the gateway: \"%s\"", e);
	}
}

int keel_v1_modecfg_start(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	struct v1_wr mw;
	uint8_t *msg;
	size_t len;
	uint32_t mid;
	int rc;

	if ((rc = keel_v1_new_msg_id(sa, p1, &mid)) < 0)
		return rc;
	keel_v1_wr_begin(sa, &mw, p1, KEEL_V1_EXCH_TRANSACTION, mid, true, V1_HASH_1);
	keel_v1_enc_cfg_begin(&mw.e, KEEL_V1_CFG_REQUEST, 0);
	/* draft-dukes §3.3: empty values ask the gateway to choose; a value asks for it again */
	if (sa->cfg.request_ip4) {
		if (sa->have_ip4)
			keel_v1_enc_attr_var(&mw.e, KEEL_V1_CFG_INTERNAL_IP4_ADDRESS,
			                     sa->ip4.addr.bytes, 4);
		else
			keel_v1_enc_attr_var(&mw.e, KEEL_V1_CFG_INTERNAL_IP4_ADDRESS, NULL, 0);
		keel_v1_enc_attr_var(&mw.e, KEEL_V1_CFG_INTERNAL_IP4_NETMASK, NULL, 0);
		if (sa->cfg.request_dns)
			keel_v1_enc_attr_var(&mw.e, KEEL_V1_CFG_INTERNAL_IP4_DNS, NULL, 0);
	}
	if (sa->cfg.request_ip6) {
		keel_v1_enc_attr_var(&mw.e, KEEL_V1_CFG_INTERNAL_IP6_ADDRESS, NULL, 0);
		if (sa->cfg.request_dns)
			keel_v1_enc_attr_var(&mw.e, KEEL_V1_CFG_INTERNAL_IP6_DNS, NULL, 0);
	}
	if (sa->opt.unity && p1->peer_unity) {
		keel_v1_enc_attr_var(&mw.e, KEEL_V1_CFG_UNITY_SPLIT_INCLUDE, NULL, 0);
		keel_v1_enc_attr_var(&mw.e, KEEL_V1_CFG_UNITY_DEF_DOMAIN, NULL, 0);
		keel_v1_enc_attr_var(&mw.e, KEEL_V1_CFG_UNITY_BANNER, NULL, 0);
	}
	keel_v1_enc_cfg_end(&mw.e);
	if ((rc = keel_v1_wr_end(&mw, &msg, &len)) < 0)
		return rc;
	keel_v1sa_req_done(sa);
	sa->req.kind = V1_REQ_MODECFG;
	sa->req.p1 = p1;
	sa->req.msg_id = mid;
	return keel_v1sa_req_send(sa, msg, len);
}

int keel_v1_after_xauth(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	p1->step = P1_MODECFG;
	p1->wait_ns = 0;
	switch (sa->opt.modecfg) {
	case KEEL_V1_MODECFG_OFF:
		keel_v1sa_p1_ready(sa, p1);
		return 0;
	case KEEL_V1_MODECFG_PUSH:
		p1->wait_ns = keel_v1_add_ns(sa->now_ns, keel_v1sa_giveup_ms(sa) * V1_NS_PER_MS);
		return 0;
	case KEEL_V1_MODECFG_PULL:
		return keel_v1_modecfg_start(sa, p1);
	}
	return KEEL_ERR_INVAL;
}

int keel_v1_modecfg_reply(struct keel_v1sa *sa, struct v1_p1 *p1, const struct keel_v1_cfg *cfg,
                          struct v1_xchg *x)
{
	struct netcfg nc;
	uint16_t acked[KEEL_V1_MAX_ATTRS];
	size_t n_acked;
	int rc;

	if (p1->step != P1_MODECFG || p1->modecfg_done) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "ignoring Mode Config outside its turn");
		x->closed = true;
		return KEEL_ERR_STATE;
	}
	read_attrs(sa, &nc, acked, &n_acked);
	if (cfg->type == KEEL_V1_CFG_SET) {
		/* push: ACK what we took, values empty (draft-dukes §3.2) */
		struct v1_wr mw;
		uint8_t *msg;
		size_t len;
		keel_v1_wr_begin(sa, &mw, p1, KEEL_V1_EXCH_TRANSACTION, x->msg_id, true, V1_HASH_1);
		keel_v1_enc_cfg_begin(&mw.e, KEEL_V1_CFG_ACK, cfg->identifier);
		for (size_t i = 0; i < n_acked; i++)
			keel_v1_enc_attr_var(&mw.e, acked[i], NULL, 0);
		keel_v1_enc_cfg_end(&mw.e);
		if ((rc = keel_v1_wr_end(&mw, &msg, &len)) < 0)
			return rc;
		free(x->last_tx);
		x->last_tx = msg;
		x->last_tx_len = len;
		if ((rc = keel_v1sa_send(sa, msg, len)) < 0)
			return rc;
		/* a push answers our pull too */
		if (sa->req_active && sa->req.kind == V1_REQ_MODECFG && sa->req.p1 == p1)
			keel_v1sa_req_done(sa);
		keel_v1sa_log(sa, KEEL_LOG_DEBUG,
		              "Mode Config pushed by the gateway, acknowledged");
	} else {
		keel_v1sa_req_done(sa);
	}
	x->closed = true;
	apply(sa, p1, &nc);
	p1->modecfg_done = true;
	keel_v1sa_p1_ready(sa, p1);
	return 0;
}
