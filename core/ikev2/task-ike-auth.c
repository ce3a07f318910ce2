/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IKE_AUTH as the initiator with a pre-shared key (RFC 7296 §1.2, §2.15),
 * the configuration payload (§3.15: virtual IP and DNS) and the first
 * CHILD SA (§1.2, traffic selectors §2.9). Also what we hand the platform:
 * the network configuration.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ikev2/addr.h"
#include "ikev2/sa.h"
#include "ikev2/ts.h"

static size_t id_body(const struct keel_id *id, uint8_t *out, size_t cap)
{
	/* RFC 7296 §3.5: ID Type, 3 reserved bytes, identification data */
	size_t n = 4 + id->len;
	if (n > cap)
		return 0;
	out[0] = (uint8_t)id->type;
	out[1] = out[2] = out[3] = 0;
	memcpy(out + 4, id->data, id->len);
	return n;
}

static void add_id(struct msg_wr *mw, uint8_t type, const struct keel_id *id)
{
	struct keel_v2_id *p = &mw->sa->pl.u.id;
	p->type = (uint8_t)id->type;
	p->data = (struct keel_v2_bytes){.p = id->data, .len = id->len};
	mw->sa->pl.type = type;
	mw->sa->pl.critical = false;
	int rc = keel_v2_chain_add(mw->cw, &mw->sa->pl);
	if (rc < 0 && mw->err == 0)
		mw->err = rc;
}

static void add_cp_request(struct keel_sa *sa, struct msg_wr *mw)
{
	static const uint8_t none[1];
	struct keel_v2_cp *cp = &sa->pl.u.cp;
	memset(cp, 0, sizeof(*cp));
	cp->cfg_type = KEEL_V2_CFG_REQUEST;
	/* RFC 7296 §3.15.1: empty values ask the gateway to choose */
	if (sa->cfg.request_ip4) {
		cp->attrs[cp->n++].type = KEEL_V2_CP_INTERNAL_IP4_ADDRESS;
		if (sa->cfg.request_dns)
			cp->attrs[cp->n++].type = KEEL_V2_CP_INTERNAL_IP4_DNS;
	}
	if (sa->cfg.request_ip6) {
		cp->attrs[cp->n++].type = KEEL_V2_CP_INTERNAL_IP6_ADDRESS;
		if (sa->cfg.request_dns)
			cp->attrs[cp->n++].type = KEEL_V2_CP_INTERNAL_IP6_DNS;
	}
	if (cp->n == 0)
		return;
	for (size_t i = 0; i < cp->n; i++)
		cp->attrs[i].value = (struct keel_v2_bytes){.p = none, .len = 0};
	sa->pl.type = KEEL_V2_PAYLOAD_CP;
	sa->pl.critical = false;
	int rc = keel_v2_chain_add(mw->cw, &sa->pl);
	if (rc < 0 && mw->err == 0)
		mw->err = rc;
}

int keel_task_ike_auth_start(struct keel_sa *sa)
{
	struct ike_sa *ike = sa->ike;
	struct init_state *in = &sa->init;
	struct msg_wr mw;
	uint8_t auth[KEEL_PRF_MAX_OUT_LEN], spi[4];
	uint8_t *msg;
	size_t len;
	int rc;

	keel_req_done(sa);
	sa->req.kind = TASK_IKE_AUTH;
	sa->req.ike = ike;
	sa->req.exchange = KEEL_V2_EXCHANGE_IKE_AUTH;
	sa->req.msg_id = ike->next_req_id++;

	if ((rc = keel_child_new_spi(sa, &in->child_spi_in)) < 0)
		return rc;
	in->idi_len = id_body(&sa->cfg.local_id, in->idi_body, sizeof(in->idi_body));
	/* RFC 7296 §2.15: the initiator signs its IKE_SA_INIT request, Nr and prf(SK_pi, IDi') */
	ptrdiff_t n = keel_auth_psk(ike->alg.prf, sa->psk, in->msg1, in->msg1_len, in->nonce_r,
	                            in->nonce_r_len, ike->ks.keys.sk_pi, in->idi_body, in->idi_len,
	                            auth, sizeof(auth));
	if (n < 0)
		return (int)n;

	keel_msg_begin(sa, &mw, ike, KEEL_V2_EXCHANGE_IKE_AUTH, false, sa->req.msg_id, true);
	add_id(&mw, KEEL_V2_PAYLOAD_IDI, &sa->cfg.local_id);
	/* we hold no other IKE SA with this gateway (RFC 7296 §2.4) */
	keel_add_notify(&mw, 0, NULL, 0, KEEL_V2_N_INITIAL_CONTACT, NULL, 0);
	if (sa->cfg.remote_id.type != KEEL_ID_NONE)
		add_id(&mw, KEEL_V2_PAYLOAD_IDR, &sa->cfg.remote_id);
	sa->pl.u.auth.method = KEEL_V2_AUTH_PSK;
	sa->pl.u.auth.data = (struct keel_v2_bytes){.p = auth, .len = (size_t)n};
	sa->pl.type = KEEL_V2_PAYLOAD_AUTH;
	sa->pl.critical = false;
	if ((rc = keel_v2_chain_add(mw.cw, &sa->pl)) < 0 && mw.err == 0)
		mw.err = rc;
	add_cp_request(sa, &mw);
	for (int i = 0; i < 4; i++)
		spi[i] = (uint8_t)(in->child_spi_in >> (24 - 8 * i));
	/* the first CHILD SA's proposals carry no DH group (RFC 7296 §1.2) */
	rc = keel_sa_payload_build(&sa->pl.u.sa, sa->cfg.esp_proposals, sa->cfg.n_esp_proposals,
	                           KEEL_V2_PROTO_ESP, spi, 4, false);
	if (rc < 0)
		goto out;
	keel_add_sa(&mw);
	keel_add_ts(&mw, KEEL_V2_PAYLOAD_TSI, sa->cfg.local_ts, sa->cfg.n_local_ts);
	keel_add_ts(&mw, KEEL_V2_PAYLOAD_TSR, sa->cfg.remote_ts, sa->cfg.n_remote_ts);
	rc = keel_msg_end(sa, &mw, &msg, &len);
	if (rc < 0)
		goto out;
	rc = keel_req_send(sa, msg, len);
	if (rc < 0)
		goto out;
	char idtxt[256];
	keel_id_to_text(&sa->cfg.local_id, idtxt, sizeof(idtxt));
	keel_sa_set_state(sa, KEEL_STATE_AUTHENTICATING, KEEL_REASON_NONE,
	                  "authenticating as \"%s\" with a pre-shared key", idtxt);
out:
	OPENSSL_cleanse(auth, sizeof(auth));
	return rc;
}

static bool id_matches(const struct keel_id *want, const struct keel_v2_id *got)
{
	return want->type == got->type && want->len == got->data.len &&
	       memcmp(want->data, got->data.p, want->len) == 0;
}

static void read_cp(struct keel_sa *sa)
{
	struct keel_v2_cp *cp;
	sa->have_ip4 = sa->have_ip6 = false;
	sa->n_dns = 0;
	sa->n_subnets = 0;
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_CP, &sa->pl_rx))
		return;
	cp = &sa->pl_rx.u.cp;
	if (cp->cfg_type != KEEL_V2_CFG_REPLY) {
		keel_log(sa, KEEL_LOG_WARN, "ignoring a configuration payload of type %s",
		         keel_v2_cfg_type_name(cp->cfg_type));
		return;
	}
	uint8_t mask4[4] = {0xff, 0xff, 0xff, 0xff};
	bool have_mask = false;
	for (size_t i = 0; i < cp->n; i++) {
		const struct keel_v2_cp_attr *a = &cp->attrs[i];
		const uint8_t *v = a->value.p;
		size_t vl = a->value.len;
		switch (a->type) {
		case KEEL_V2_CP_INTERNAL_IP4_ADDRESS:
			if (vl == 4 && !sa->have_ip4) {
				memset(&sa->ip4, 0, sizeof(sa->ip4));
				sa->ip4.addr.family = KEEL_AF_INET;
				memcpy(sa->ip4.addr.bytes, v, 4);
				sa->ip4.prefix_len = 32;
				sa->have_ip4 = true;
			}
			break;
		case KEEL_V2_CP_INTERNAL_IP4_NETMASK:
			if (vl == 4) {
				memcpy(mask4, v, 4);
				have_mask = true;
			}
			break;
		case KEEL_V2_CP_INTERNAL_IP6_ADDRESS:
			/* RFC 7296 §3.15.1: 16 bytes of address and a prefix length */
			if (vl == 17 && !sa->have_ip6 && v[16] <= 128) {
				memset(&sa->ip6, 0, sizeof(sa->ip6));
				sa->ip6.addr.family = KEEL_AF_INET6;
				memcpy(sa->ip6.addr.bytes, v, 16);
				sa->ip6.prefix_len = v[16];
				sa->have_ip6 = true;
			}
			break;
		case KEEL_V2_CP_INTERNAL_IP4_DNS:
		case KEEL_V2_CP_INTERNAL_IP6_DNS: {
			size_t want = a->type == KEEL_V2_CP_INTERNAL_IP4_DNS ? 4 : 16;
			if (vl != want || sa->n_dns >= KEEL_MAX_DNS)
				break;
			struct keel_addr *d = &sa->dns[sa->n_dns++];
			memset(d, 0, sizeof(*d));
			d->family = want == 4 ? KEEL_AF_INET : KEEL_AF_INET6;
			memcpy(d->bytes, v, want);
			break;
		}
		case KEEL_V2_CP_INTERNAL_IP4_SUBNET:
		case KEEL_V2_CP_INTERNAL_IP6_SUBNET: {
			bool v4 = a->type == KEEL_V2_CP_INTERNAL_IP4_SUBNET;
			if ((v4 ? vl != 8 : vl != 17) || sa->n_subnets >= KEEL_MAX_ROUTES)
				break;
			struct keel_ts ts;
			memset(&ts, 0, sizeof(ts));
			ts.family = v4 ? KEEL_AF_INET : KEEL_AF_INET6;
			size_t al = v4 ? 4 : 16;
			unsigned plen = 0;
			if (v4) {
				/* address and netmask; a netmask must be contiguous */
				for (int b = 0; b < 32 && (v[4 + b / 8] >> (7 - b % 8) & 1); b++)
					plen++;
			} else {
				plen = v[16] <= 128 ? v[16] : 128;
			}
			struct keel_prefix *p = &sa->subnets[sa->n_subnets++];
			memset(p, 0, sizeof(*p));
			p->addr.family = ts.family;
			memcpy(p->addr.bytes, v, al);
			for (size_t k = 0; k < al; k++) {
				unsigned keep =
				    plen > k * 8 ? (plen - k * 8 >= 8 ? 8 : plen - k * 8) : 0;
				p->addr.bytes[k] &= (uint8_t)(keep ? 0xff << (8 - keep) : 0);
			}
			p->prefix_len = (uint8_t)plen;
			break;
		}
		default:
			break;
		}
	}
	if (sa->have_ip4 && have_mask) {
		unsigned plen = 0;
		for (int b = 0; b < 32 && (mask4[b / 8] >> (7 - b % 8) & 1); b++)
			plen++;
		sa->ip4.prefix_len = (uint8_t)plen;
	}
}

void keel_netcfg_emit(struct keel_sa *sa, const struct child_sa *c)
{
	struct keel_prefix routes[KEEL_MAX_ROUTES];
	size_t n_routes = 0;
	bool full = true;
	for (size_t i = 0; i < c->n_ts_r; i++)
		full &= keel_ts_to_prefixes(&c->ts_r[i], routes, KEEL_MAX_ROUTES, &n_routes);
	for (size_t i = 0; i < sa->n_subnets && n_routes < KEEL_MAX_ROUTES; i++)
		routes[n_routes++] = sa->subnets[i];
	if (!full)
		keel_log(sa, KEEL_LOG_WARN, "too many routes from the gateway; using the first %zu",
		         n_routes);
	uint8_t *data;
	size_t dns_len = sa->n_dns * sizeof(struct keel_addr);
	size_t routes_len = n_routes * sizeof(struct keel_prefix);
	struct keel_out *o = keel_out_push(sa, KEEL_OUT_NETCFG, dns_len + routes_len, false, &data);
	if (!o)
		return;
	struct keel_out_netcfg *nc = &o->u.netcfg;
	nc->has_ip4 = sa->have_ip4;
	nc->ip4 = sa->ip4;
	nc->has_ip6 = sa->have_ip6;
	nc->ip6 = sa->ip6;
	/* struct keel_addr and keel_prefix are 4-byte aligned; data is max-aligned */
	memcpy(data, sa->dns, dns_len);
	memcpy(data + dns_len, routes, routes_len);
	nc->dns = sa->n_dns ? (const struct keel_addr *)(void *)data : NULL;
	nc->n_dns = sa->n_dns;
	nc->routes = n_routes ? (const struct keel_prefix *)(void *)(data + dns_len) : NULL;
	nc->n_routes = n_routes;
}

static const char *child_error_text(uint16_t err, enum keel_reason *reason)
{
	switch (err) {
	case KEEL_V2_N_NO_PROPOSAL_CHOSEN:
		*reason = KEEL_REASON_NO_PROPOSAL;
		return "the gateway accepted none of our ESP proposals";
	case KEEL_V2_N_TS_UNACCEPTABLE:
		*reason = KEEL_REASON_TS_UNACCEPTABLE;
		return "the gateway refused the networks we asked for (TS_UNACCEPTABLE)";
	case KEEL_V2_N_FAILED_CP_REQUIRED:
		*reason = KEEL_REASON_CP_REQUIRED;
		return "the gateway requires a virtual IP request (FAILED_CP_REQUIRED)";
	case KEEL_V2_N_INTERNAL_ADDRESS_FAILURE:
		*reason = KEEL_REASON_NO_ADDRESS;
		return "the gateway has no virtual IP address for us (INTERNAL_ADDRESS_FAILURE)";
	case KEEL_V2_N_SINGLE_PAIR_REQUIRED:
		*reason = KEEL_REASON_TS_UNACCEPTABLE;
		return "the gateway wants a single address pair (SINGLE_PAIR_REQUIRED)";
	default:
		*reason = KEEL_REASON_PEER_ERROR;
		return "the gateway refused the tunnel";
	}
}

void keel_task_ike_auth_process(struct keel_sa *sa)
{
	struct init_state *in = &sa->init;
	struct ike_sa *ike = sa->ike;
	struct keel_child_keys keys;
	uint8_t auth[KEEL_PRF_MAX_OUT_LEN];
	char text[256];
	int rc;

	memset(&keys, 0, sizeof(keys));
	uint16_t err = keel_rx_error(sa);
	if (err == KEEL_V2_N_AUTHENTICATION_FAILED) {
		keel_sa_fail(sa, KEEL_REASON_AUTH_REFUSED,
		             "the gateway refused our PSK or identity (AUTHENTICATION_FAILED)");
		goto out;
	}
	const struct keel_v2_raw_payload *idr_raw =
	    keel_rx_find(sa, KEEL_V2_PAYLOAD_IDR, &sa->pl_rx);
	if (!idr_raw || !keel_rx_find(sa, KEEL_V2_PAYLOAD_AUTH, NULL)) {
		if (err)
			keel_sa_fail(sa, KEEL_REASON_PEER_ERROR,
			             "the gateway refused the connection (%s)",
			             keel_v2_notify_name(err));
		else
			keel_sa_fail(sa, KEEL_REASON_PROTOCOL,
			             "the gateway's IKE_AUTH answer lacks its identity or AUTH");
		goto out;
	}
	struct keel_v2_id idr = sa->pl_rx.u.id;
	keel_escape(idr.data.p, idr.data.len, text, sizeof(text));
	if (sa->cfg.remote_id.type != KEEL_ID_NONE && !id_matches(&sa->cfg.remote_id, &idr)) {
		char want[256];
		keel_id_to_text(&sa->cfg.remote_id, want, sizeof(want));
		keel_sa_fail_delete(sa, KEEL_REASON_PEER_ID,
		                    "the gateway identified itself as \"%s\", expected \"%s\"",
		                    text, want);
		goto out;
	}
	keel_rx_find(sa, KEEL_V2_PAYLOAD_AUTH, &sa->pl_rx);
	struct keel_v2_auth a = sa->pl_rx.u.auth;
	if (a.method != KEEL_V2_AUTH_PSK) {
		keel_sa_fail_delete(sa, KEEL_REASON_PEER_AUTH,
		                    "the gateway authenticated with %s; this profile expects a "
		                    "pre-shared key",
		                    keel_v2_auth_method_name(a.method));
		goto out;
	}
	/* RFC 7296 §2.15: the responder signs its IKE_SA_INIT response, Ni and prf(SK_pr, IDr') */
	ptrdiff_t n = keel_auth_psk(ike->alg.prf, sa->psk, in->msg2, in->msg2_len, in->nonce_i,
	                            sizeof(in->nonce_i), ike->ks.keys.sk_pr, idr_raw->body.p,
	                            idr_raw->body.len, auth, sizeof(auth));
	if (n < 0) {
		keel_sa_fail(sa, KEEL_REASON_INTERNAL, "cannot compute AUTH (%s)",
		             keel_strerror((int)n));
		goto out;
	}
	if ((size_t)n != a.data.len || CRYPTO_memcmp(auth, a.data.p, (size_t)n) != 0) {
		keel_sa_fail_delete(sa, KEEL_REASON_PEER_AUTH,
		                    "the gateway's PSK proof did not match (wrong PSK?)");
		goto out;
	}
	keel_log(sa, KEEL_LOG_INFO, "authenticated the gateway \"%s\" (%s) with the pre-shared key",
	         text, keel_v2_id_type_name(idr.type));
	/* the PSK did its work */
	keel_secret_free(sa->psk);
	sa->psk = NULL;

	/* the IKE SA is up; a refused CHILD SA ends the connection (see keel/ike.h) */
	if (err) {
		enum keel_reason reason;
		const char *why = child_error_text(err, &reason);
		keel_sa_fail_delete(sa, reason, "%s", why);
		goto out;
	}
	struct keel_algs alg;
	uint8_t spi[8];
	size_t spi_len = 0;
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_SA, &sa->pl_rx) ||
	    keel_sa_payload_check(&sa->pl_rx.u.sa, sa->cfg.esp_proposals, sa->cfg.n_esp_proposals,
	                          KEEL_V2_PROTO_ESP, 0, &alg, spi, &spi_len) < 0) {
		keel_sa_fail_delete(sa, KEEL_REASON_PROTOCOL,
		                    "the gateway chose an ESP proposal we did not offer");
		goto out;
	}
	uint32_t spi_out =
	    (uint32_t)spi[0] << 24 | (uint32_t)spi[1] << 16 | (uint32_t)spi[2] << 8 | spi[3];
	struct keel_ts tsi[KEEL_MAX_TS], tsr[KEEL_MAX_TS];
	size_t n_tsi = 0, n_tsr = 0;
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_TSI, &sa->pl_rx) ||
	    !keel_ts_from_payload(&sa->pl_rx.u.ts, tsi, &n_tsi) ||
	    !keel_rx_find(sa, KEEL_V2_PAYLOAD_TSR, &sa->pl_rx) ||
	    !keel_ts_from_payload(&sa->pl_rx.u.ts, tsr, &n_tsr)) {
		keel_sa_fail_delete(sa, KEEL_REASON_PROTOCOL,
		                    "the gateway's IKE_AUTH answer lacks usable traffic selectors");
		goto out;
	}
	/* RFC 7296 §2.9: narrowed, never widened */
	if (!keel_ts_narrowed_ok(tsi, n_tsi, sa->cfg.local_ts, sa->cfg.n_local_ts) ||
	    !keel_ts_narrowed_ok(tsr, n_tsr, sa->cfg.remote_ts, sa->cfg.n_remote_ts)) {
		keel_sa_fail_delete(
		    sa, KEEL_REASON_TS_UNACCEPTABLE,
		    "the gateway answered with traffic selectors wider than we asked");
		goto out;
	}
	if (keel_rx_notify(sa, KEEL_V2_N_USE_TRANSPORT_MODE, NULL)) {
		keel_sa_fail_delete(sa, KEEL_REASON_PROTOCOL,
		                    "the gateway wants transport mode, which we did not ask for");
		goto out;
	}
	read_cp(sa);
	if (sa->cfg.request_ip4 && !sa->have_ip4 && !sa->have_ip6 && !sa->cfg.request_ip6)
		keel_log(sa, KEEL_LOG_WARN, "the gateway assigned no virtual IP address");

	rc = keel_child_keys_derive(&ike->alg, &alg, ike->ks.keys.sk_d, in->nonce_i,
	                            sizeof(in->nonce_i), in->nonce_r, in->nonce_r_len, NULL, &keys);
	if (rc < 0) {
		keel_sa_fail_delete(sa, KEEL_REASON_INTERNAL, "cannot derive the ESP keys (%s)",
		                    keel_strerror(rc));
		goto out;
	}
	struct child_sa *c = keel_child_install(sa, sa->next_reqid++, 0, &alg, in->child_spi_in,
	                                        spi_out, tsi, n_tsi, tsr, n_tsr, &keys, true);
	if (!c) {
		keel_sa_fail_delete(sa, KEEL_REASON_INTERNAL, "out of memory");
		goto out;
	}
	keel_netcfg_emit(sa, c);
	keel_req_done(sa);
	keel_init_clear(sa);
	sa->established = true;
	sa->ike_rekey_ns = keel_rekey_time_ns(sa, &sa->cfg.ike_lifetime);
	sa->ike_expire_ns = keel_expire_time_ns(sa, &sa->cfg.ike_lifetime);

	char vip[64] = "", dns[128] = "";
	if (sa->have_ip4) {
		char a4[48];
		keel_addr_format(KEEL_AF_INET, sa->ip4.addr.bytes, a4, sizeof(a4));
		snprintf(vip, sizeof(vip), ", virtual IP %s", a4);
	} else if (sa->have_ip6) {
		char a6[48];
		keel_addr_format(KEEL_AF_INET6, sa->ip6.addr.bytes, a6, sizeof(a6));
		snprintf(vip, sizeof(vip), ", virtual IP %s", a6);
	}
	if (sa->n_dns) {
		char d[48];
		keel_addr_format(sa->dns[0].family, sa->dns[0].bytes, d, sizeof(d));
		snprintf(dns, sizeof(dns), ", DNS %s%s", d, sa->n_dns > 1 ? " and more" : "");
	}
	keel_sa_set_state(sa, KEEL_STATE_ESTABLISHED, KEEL_REASON_NONE, "connected%s%s", vip, dns);
out:
	keel_child_keys_clear(&keys);
	OPENSSL_cleanse(auth, sizeof(auth));
}
