/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IKE_AUTH as the initiator (RFC 7296 §1.2): with a pre-shared key (§2.15),
 * with our certificate and a signature (§2.15, §3.6-3.8, RFC 7427), or with
 * EAP after the gateway's certificate (§2.16) or alone (EAP-only, RFC 5998);
 * the gateway's proof checked the same ways; the configuration payload
 * (§3.15: virtual IP and DNS) and the first CHILD SA (§1.2, traffic
 * selectors §2.9). Also what we hand the platform: the network
 * configuration.
 *
 * With EAP, IKE_AUTH takes several exchanges (§2.16):
 *   IDi, [CERTREQ,] [IDr,] SAi2, TSi, TSr, CP   ->  IDr, [CERT,] AUTH, EAP
 *   EAP                                         ->  EAP            (repeated)
 *   AUTH (from the MSK, or SK_pi)               ->  AUTH, SAr2, TSi, TSr, CP
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/dn.h"
#include "eap/eap.h"
#include "ikev2/addr.h"
#include "ikev2/sa.h"
#include "ikev2/ts.h"

#define EAP_MSG_MAX 1024 /* our EAP Responses: MS-CHAPv2's is under 300 bytes */

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

static void add_pl(struct msg_wr *mw, uint8_t type)
{
	mw->sa->pl.type = type;
	mw->sa->pl.critical = false;
	int rc = keel_v2_chain_add(mw->cw, &mw->sa->pl);
	if (rc < 0 && mw->err == 0)
		mw->err = rc;
}

static void add_id(struct msg_wr *mw, uint8_t type, const struct keel_id *id)
{
	struct keel_v2_id *p = &mw->sa->pl.u.id;
	p->type = (uint8_t)id->type;
	p->data = (struct keel_v2_bytes){.p = id->data, .len = id->len};
	add_pl(mw, type);
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
	add_pl(mw, KEEL_V2_PAYLOAD_CP);
}

/* An identity for messages: "FQDN gw.example.org", "DN C=XX, O=..., CN=...". */
static void id_text(uint8_t type, const uint8_t *data, size_t len, char *buf, size_t cap)
{
	struct keel_x509_id x = {.type = type, .data = data, .len = (ptrdiff_t)len};
	keel_x509_id_format(&x, buf, (ptrdiff_t)cap);
}

static bool id_matches(const struct keel_id *want, const struct keel_v2_id *got)
{
	if (want->type == KEEL_ID_DER_ASN1_DN && got->type == KEEL_ID_DER_ASN1_DN)
		return keel_dn_equal(want->data, want->len, got->data.p, got->data.len);
	return want->type == got->type && want->len == got->data.len &&
	       memcmp(want->data, got->data.p, want->len) == 0;
}

/* The credentials did their work: wipe them. */
static void auth_done(struct keel_sa *sa)
{
	keel_secret_free(sa->psk);
	sa->psk = NULL;
	keel_eap_free(sa->auth.eap);
	sa->auth.eap = NULL;
	keel_creds_clear(&sa->creds);
}

/* Starts the next IKE_AUTH request on the current IKE SA. */
static void next_request(struct keel_sa *sa, struct msg_wr *mw)
{
	struct ike_sa *ike = sa->ike;
	keel_req_done(sa);
	sa->req.kind = TASK_IKE_AUTH;
	sa->req.ike = ike;
	sa->req.exchange = KEEL_V2_EXCHANGE_IKE_AUTH;
	sa->req.msg_id = ike->next_req_id++;
	keel_msg_begin(sa, mw, ike, KEEL_V2_EXCHANGE_IKE_AUTH, false, sa->req.msg_id, true);
}

static int send_request(struct keel_sa *sa, struct msg_wr *mw)
{
	uint8_t *msg;
	size_t len;
	int rc = keel_msg_end(sa, mw, &msg, &len);
	if (rc < 0)
		return rc;
	return keel_req_send(sa, msg, len);
}

/* ---- our proof ---- */

/*
 * RFC 7296 §2.15 with RFC 7427: our signature over RealMessage1 | NonceRData
 * | MACedIDForI, in the form the gateway's SIGNATURE_HASH_ALGORITHMS allows
 * (none: the classic methods 1, 9-11). *out is malloc'd.
 */
static int sign_auth(struct keel_sa *sa, uint8_t *method, uint8_t **out, size_t *out_len)
{
	struct ike_sa *ike = sa->ike;
	struct init_state *in = &sa->init;
	struct keel_sig_choice ch;
	uint8_t maced[KEEL_PRF_MAX_OUT_LEN];
	uint8_t *buf = NULL;
	int rc = keel_sig_choose(sa->creds.key, sa->peer_hashes, sa->cfg.rsa_pss, &ch);
	if (rc < 0)
		return rc;
	ptrdiff_t n = keel_auth_maced_id(ike->alg.prf, ike->ks.keys.sk_pi, in->idi_body,
	                                 in->idi_len, maced, sizeof(maced));
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	struct keel_iov octets[3] = {
	    {.data = in->msg1, .len = (ptrdiff_t)in->msg1_len},
	    {.data = in->nonce_r, .len = (ptrdiff_t)in->nonce_r_len},
	    {.data = maced, .len = n},
	};
	ptrdiff_t cap = keel_sig_auth_max_len(sa->creds.key);
	buf = malloc(cap > 0 ? (size_t)cap : 1);
	if (!buf) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	n = keel_sig_auth_sign(sa->creds.key, &ch, octets, 3, buf, cap);
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	keel_log(sa, KEEL_LOG_DEBUG, "signing AUTH with %s (%s)", keel_sig_scheme_name(ch.scheme),
	         keel_v2_auth_method_name(ch.auth_method));
	*method = ch.auth_method;
	*out = buf;
	*out_len = (size_t)n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	OPENSSL_cleanse(maced, sizeof(maced));
	return rc;
}

/* Our certificates (RFC 7296 §3.6), as far as the gateway's CERTREQ needs them (§3.7). */
static void add_certs(struct keel_sa *sa, struct msg_wr *mw)
{
	size_t n = 0;
	const struct keel_certs *chain = sa->creds.chain;
	int rc =
	    keel_certs_certreq_match(chain, sa->init.certreq, (ptrdiff_t)sa->init.certreq_len, &n);
	if (rc < 0 || n == 0)
		n = keel_certs_count(chain);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *der;
		ptrdiff_t len;
		if (keel_certs_der(chain, i, &der, &len) < 0)
			continue;
		sa->pl.u.cert.encoding = KEEL_V2_CERT_X509_SIGNATURE;
		sa->pl.u.cert.data = (struct keel_v2_bytes){.p = der, .len = (size_t)len};
		add_pl(mw, KEEL_V2_PAYLOAD_CERT);
	}
	keel_log(sa, KEEL_LOG_DEBUG, "sending %zu of our %zu certificates%s", n,
	         keel_certs_count(chain), rc == 1 ? " (up to a CA the gateway asked for)" : "");
}

/* CERTREQ with the SHA-1 key hashes of the profile's CAs (RFC 7296 §3.7). */
static void add_certreq(struct keel_sa *sa, struct msg_wr *mw, uint8_t **buf)
{
	const struct keel_x509_trust *t = sa->creds.trust;
	if (!t || sa->creds.n_profile_ca == 0)
		return;
	size_t all = keel_x509_trust_count(t) * 20;
	*buf = malloc(all);
	if (!*buf) {
		if (mw->err == 0)
			mw->err = KEEL_ERR_NOMEM;
		return;
	}
	ptrdiff_t n = keel_x509_trust_certreq(t, *buf, (ptrdiff_t)all);
	if (n < (ptrdiff_t)(sa->creds.n_profile_ca * 20))
		return;
	sa->pl.u.cert.encoding = KEEL_V2_CERT_X509_SIGNATURE;
	sa->pl.u.cert.data = (struct keel_v2_bytes){.p = *buf, .len = sa->creds.n_profile_ca * 20};
	add_pl(mw, KEEL_V2_PAYLOAD_CERTREQ);
}

int keel_task_ike_auth_start(struct keel_sa *sa)
{
	struct ike_sa *ike = sa->ike;
	struct init_state *in = &sa->init;
	struct msg_wr mw;
	uint8_t psk_auth[KEEL_PRF_MAX_OUT_LEN], spi[4];
	uint8_t *auth = NULL, *certreq = NULL;
	size_t auth_len = 0;
	uint8_t method = 0;
	char idtxt[256];
	int rc;

	keel_eap_free(sa->auth.eap);
	memset(&sa->auth, 0, sizeof(sa->auth));
	if ((rc = keel_child_new_spi(sa, &in->child_spi_in)) < 0)
		return rc;
	in->idi_len = id_body(&sa->cfg.local_id, in->idi_body, sizeof(in->idi_body));
	switch (sa->cfg.auth) {
	case KEEL_AUTH_PSK: {
		/* RFC 7296 §2.15: the initiator signs its IKE_SA_INIT request, Nr and
		 * prf(SK_pi, IDi') */
		ptrdiff_t n = keel_auth_psk(ike->alg.prf, sa->psk, in->msg1, in->msg1_len,
		                            in->nonce_r, in->nonce_r_len, ike->ks.keys.sk_pi,
		                            in->idi_body, in->idi_len, psk_auth, sizeof(psk_auth));
		if (n < 0)
			return (int)n;
		auth = psk_auth;
		auth_len = (size_t)n;
		method = KEEL_V2_AUTH_PSK;
		break;
	}
	case KEEL_AUTH_CERT:
		rc = sign_auth(sa, &method, &auth, &auth_len);
		if (rc == KEEL_ERR_UNSUPPORTED) {
			keel_sa_fail(sa, KEEL_REASON_CONFIG,
			             "our %s key cannot sign for this gateway: it announced no "
			             "signature hash fit for it (RFC 7427/8420)",
			             keel_key_type_name(keel_privkey_type(sa->creds.key)));
			return 0;
		}
		if (rc < 0)
			return rc;
		break;
	case KEEL_AUTH_EAP:
		/* RFC 7296 §2.16: no AUTH: EAP follows */
		break;
	}

	next_request(sa, &mw);
	add_id(&mw, KEEL_V2_PAYLOAD_IDI, &sa->cfg.local_id);
	if (sa->cfg.auth == KEEL_AUTH_CERT)
		add_certs(sa, &mw);
	if (sa->cfg.auth != KEEL_AUTH_PSK)
		add_certreq(sa, &mw, &certreq);
	/* we hold no other IKE SA with this gateway (RFC 7296 §2.4) */
	keel_add_notify(&mw, 0, NULL, 0, KEEL_V2_N_INITIAL_CONTACT, NULL, 0);
	if (sa->cfg.remote_id.type != KEEL_ID_NONE)
		add_id(&mw, KEEL_V2_PAYLOAD_IDR, &sa->cfg.remote_id);
	if (auth) {
		sa->pl.u.auth.method = method;
		sa->pl.u.auth.data = (struct keel_v2_bytes){.p = auth, .len = auth_len};
		add_pl(&mw, KEEL_V2_PAYLOAD_AUTH);
	}
	/* RFC 5998 §3: the gateway may prove itself with the EAP method alone */
	if (sa->cfg.auth == KEEL_AUTH_EAP && sa->cfg.eap_only)
		keel_add_notify(&mw, 0, NULL, 0, KEEL_V2_N_EAP_ONLY_AUTHENTICATION, NULL, 0);
	add_cp_request(sa, &mw);
	for (int i = 0; i < 4; i++)
		spi[i] = (uint8_t)(in->child_spi_in >> (24 - 8 * i));
	/* the first CHILD SA's proposals carry no DH group (RFC 7296 §1.2) */
	rc = keel_sa_payload_build(&sa->pl.u.sa, sa->child_props, sa->n_child_props,
	                           sa->child_proto, spi, 4, false);
	if (rc < 0)
		goto out;
	keel_add_sa(&mw);
	keel_add_ts(&mw, KEEL_V2_PAYLOAD_TSI, sa->cfg.local_ts, sa->cfg.n_local_ts);
	keel_add_ts(&mw, KEEL_V2_PAYLOAD_TSR, sa->cfg.remote_ts, sa->cfg.n_remote_ts);
	rc = send_request(sa, &mw);
	if (rc < 0)
		goto out;
	switch (sa->cfg.auth) {
	case KEEL_AUTH_PSK:
		keel_id_to_text(&sa->cfg.local_id, idtxt, sizeof(idtxt));
		keel_sa_set_state(sa, KEEL_STATE_AUTHENTICATING, KEEL_REASON_NONE,
		                  "authenticating as \"%s\" with a pre-shared key", idtxt);
		break;
	case KEEL_AUTH_CERT:
		id_text((uint8_t)sa->cfg.local_id.type, sa->cfg.local_id.data, sa->cfg.local_id.len,
		        idtxt, sizeof(idtxt));
		keel_sa_set_state(sa, KEEL_STATE_AUTHENTICATING, KEEL_REASON_NONE,
		                  "authenticating as %s with a certificate", idtxt);
		break;
	case KEEL_AUTH_EAP: {
		char user[KEEL_EAP_IDENTITY_MAX_LEN * 4 + 1];
		keel_escape(sa->creds.eap_identity, sa->creds.eap_identity_len, user, sizeof(user));
		keel_id_to_text(&sa->cfg.local_id, idtxt, sizeof(idtxt));
		keel_sa_set_state(sa, KEEL_STATE_AUTHENTICATING, KEEL_REASON_NONE,
		                  "authenticating as \"%s\" with EAP (user \"%s\")", idtxt, user);
		break;
	}
	}
out:
	OPENSSL_cleanse(psk_auth, sizeof(psk_auth));
	if (auth != psk_auth)
		free(auth);
	free(certreq);
	return rc;
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
	keel_outq_push_netcfg(&sa->outq, &nc);
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

/* ---- the gateway's proof ---- */

/* RFC 7296 §2.15: the responder's PSK AUTH, over its IKE_SA_INIT answer, Ni, prf(SK_pr, IDr'). */
static bool shared_auth_ok(struct keel_sa *sa, const struct keel_secret *key, const uint8_t *idr,
                           size_t idr_len, const struct keel_v2_auth *a)
{
	struct ike_sa *ike = sa->ike;
	struct init_state *in = &sa->init;
	uint8_t want[KEEL_PRF_MAX_OUT_LEN];
	ptrdiff_t n = keel_auth_psk(ike->alg.prf, key, in->msg2, in->msg2_len, in->nonce_i,
	                            sizeof(in->nonce_i), ike->ks.keys.sk_pr, idr, idr_len, want,
	                            sizeof(want));
	bool ok = n > 0 && a->method == KEEL_V2_AUTH_PSK && (size_t)n == a->data.len &&
	          CRYPTO_memcmp(want, a->data.p, (size_t)n) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

static bool verify_psk(struct keel_sa *sa, const struct keel_v2_raw_payload *idr_raw,
                       const struct keel_v2_id *idr, const struct keel_v2_auth *a)
{
	char text[256];
	keel_escape(idr->data.p, idr->data.len, text, sizeof(text));
	if (sa->cfg.remote_id.type != KEEL_ID_NONE && !id_matches(&sa->cfg.remote_id, idr)) {
		char want[256];
		keel_id_to_text(&sa->cfg.remote_id, want, sizeof(want));
		keel_sa_fail_delete(sa, KEEL_REASON_PEER_ID,
		                    "the gateway identified itself as \"%s\", expected \"%s\"",
		                    text, want);
		return false;
	}
	if (a->method != KEEL_V2_AUTH_PSK) {
		keel_sa_fail_delete(sa, KEEL_REASON_PEER_AUTH,
		                    "the gateway authenticated with %s; this profile expects a "
		                    "pre-shared key",
		                    keel_v2_auth_method_name(a->method));
		return false;
	}
	if (!shared_auth_ok(sa, sa->psk, idr_raw->body.p, idr_raw->body.len, a)) {
		keel_sa_fail_delete(sa, KEEL_REASON_PEER_AUTH,
		                    "the gateway's PSK proof did not match (wrong PSK?)");
		return false;
	}
	keel_log(sa, KEEL_LOG_INFO, "authenticated the gateway \"%s\" (%s) with the pre-shared key",
	         text, keel_v2_id_type_name(idr->type));
	return true;
}

/*
 * The gateway's certificate chain (RFC 7296 §3.6: the first CERT holds the
 * key that signed AUTH; the others help build the path) and its signature
 * (§2.15, RFC 7427). Fails the SA and returns false on any problem.
 */
static bool verify_cert(struct keel_sa *sa, const struct keel_v2_raw_payload *idr_raw,
                        const struct keel_v2_id *idr, const struct keel_v2_auth *a)
{
	struct ike_sa *ike = sa->ike;
	struct init_state *in = &sa->init;
	struct keel_certs *certs = NULL;
	struct keel_pubkey *key = NULL;
	struct keel_x509_verdict v;
	uint8_t maced[KEEL_PRF_MAX_OUT_LEN];
	char peer[256];
	bool ok = false;
	int rc;

	id_text(idr->type, idr->data.p, idr->data.len, peer, sizeof(peer));
	if (a->method == KEEL_V2_AUTH_PSK) {
		keel_sa_fail_delete(sa, KEEL_REASON_PEER_AUTH,
		                    "the gateway authenticated with a pre-shared key; this profile "
		                    "expects its certificate");
		goto out;
	}
	if (!sa->creds.trust) {
		keel_sa_fail_delete(sa, KEEL_REASON_CERT_UNTRUSTED,
		                    "the gateway proves itself with a certificate, but no CA is "
		                    "configured to verify it");
		goto out;
	}
	certs = keel_certs_new();
	if (!certs) {
		keel_sa_fail(sa, KEEL_REASON_INTERNAL, "out of memory");
		goto out;
	}
	const struct keel_v2_raw_payload *raw = NULL;
	while ((raw = keel_v2_chain_find(sa->rx.c, KEEL_V2_PAYLOAD_CERT, raw)) != NULL) {
		if (keel_v2_payload_decode(raw, &sa->pl_rx) < 0)
			continue;
		const struct keel_v2_cert *c = &sa->pl_rx.u.cert;
		rc = keel_certs_add_payload(certs, c->encoding, c->data.p, (ptrdiff_t)c->data.len);
		if (rc == KEEL_ERR_NOMEM) {
			keel_sa_fail(sa, KEEL_REASON_INTERNAL, "out of memory");
			goto out;
		}
		if (rc < 0)
			keel_log(sa, KEEL_LOG_WARN,
			         "ignoring a certificate of the gateway (%s): %s",
			         keel_v2_cert_encoding_name(c->encoding), keel_strerror(rc));
	}
	if (keel_certs_count(certs) == 0) {
		keel_sa_fail_delete(sa, KEEL_REASON_CERT_UNTRUSTED,
		                    "the gateway (%s) sent no certificate Keel can use", peer);
		goto out;
	}
	struct keel_x509_id claimed = {
	    .type = idr->type, .data = idr->data.p, .len = (ptrdiff_t)idr->data.len};
	enum keel_reason reason = KEEL_REASON_NONE;
	char why[KEEL_OUTQ_LINE_MAX];
	rc = keel_cert_verify_gateway(&sa->creds, &sa->cfg, certs, &claimed, &v, &key, &reason, why,
	                              sizeof(why));
	if (rc < 0) {
		keel_sa_fail_delete(sa, reason, "%s", why);
		goto out;
	}

	/* RFC 7296 §2.15: RealMessage2 | NonceIData | prf(SK_pr, IDr') */
	ptrdiff_t n = keel_auth_maced_id(ike->alg.prf, ike->ks.keys.sk_pr, idr_raw->body.p,
	                                 idr_raw->body.len, maced, sizeof(maced));
	if (n < 0) {
		keel_sa_fail(sa, KEEL_REASON_INTERNAL, "cannot compute AUTH (%s)",
		             keel_strerror((int)n));
		goto out;
	}
	struct keel_iov octets[3] = {
	    {.data = in->msg2, .len = (ptrdiff_t)in->msg2_len},
	    {.data = in->nonce_i, .len = (ptrdiff_t)sizeof(in->nonce_i)},
	    {.data = maced, .len = n},
	};
	/* RFC 8247 §3.2: SHA-1 only from a gateway that announced no RFC 7427 hashes */
	enum keel_sig_scheme scheme = 0;
	rc = keel_sig_auth_verify(key, a->method, a->data.p, (ptrdiff_t)a->data.len, octets, 3,
	                          sa->peer_hashes_sent ? 0 : KEEL_SIG_ALLOW_SHA1, &scheme);
	if (rc < 0) {
		keel_sa_fail_delete(
		    sa, KEEL_REASON_PEER_AUTH,
		    rc == KEEL_ERR_UNSUPPORTED
		        ? "the gateway signed with %s in a form Keel does not support"
		        : "the gateway's signature (%s) did not verify with the key "
		          "of its certificate",
		    keel_v2_auth_method_name(a->method));
		goto out;
	}
	keel_log(sa, KEEL_LOG_INFO,
	         "authenticated the gateway %s with its certificate (%s), %s signature%s", peer,
	         v.subject, keel_sig_scheme_name(scheme),
	         v.revocation_checked ? "" : "; revocation not checked");
	ok = true;
out:
	OPENSSL_cleanse(maced, sizeof(maced));
	keel_pubkey_free(key);
	keel_certs_free(certs);
	return ok;
}

/* ---- EAP (RFC 7296 §2.16) ---- */

static const char *eap_method_name(uint8_t type)
{
	switch (type) {
	case KEEL_EAP_TYPE_MSCHAPV2:
		return "EAP-MSCHAPv2";
	case KEEL_EAP_TYPE_MD5:
		return "EAP-MD5";
	case KEEL_EAP_TYPE_GTC:
		return "EAP-GTC";
	case KEEL_EAP_TYPE_IDENTITY:
		return "EAP-Identity";
	case 0:
		return "EAP";
	default:
		return "an unknown EAP method";
	}
}

static void methods_text(unsigned m, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s%s%s", m & KEEL_EAP_METHOD_MSCHAPV2 ? "MSCHAPv2" : "",
	         (m & KEEL_EAP_METHOD_MSCHAPV2) && (m & ~KEEL_EAP_METHOD_MSCHAPV2) ? ", " : "",
	         m & KEEL_EAP_METHOD_GTC ? "GTC" : "",
	         (m & KEEL_EAP_METHOD_GTC) && (m & KEEL_EAP_METHOD_MD5) ? ", " : "",
	         m & KEEL_EAP_METHOD_MD5 ? "MD5" : "");
}

static void eap_failed(struct keel_sa *sa)
{
	struct keel_eap *e = sa->auth.eap;
	const char *method = eap_method_name(keel_eap_method(e));
	const char *msg = keel_eap_message(e);
	char detail[320] = "";
	int code = keel_eap_mschapv2_error(e);
	if (code > 0 && msg[0])
		snprintf(detail, sizeof(detail), " (%s, E=%d: \"%s\")", method, code, msg);
	else if (code > 0)
		snprintf(detail, sizeof(detail), " (%s, E=%d)", method, code);
	else if (msg[0])
		snprintf(detail, sizeof(detail), " (%s: \"%s\")", method, msg);
	else
		snprintf(detail, sizeof(detail), " (%s)", method);
	char allowed[64];
	methods_text(sa->auth.eap_only ? KEEL_EAP_METHOD_MSCHAPV2 : sa->creds.eap_methods, allowed,
	             sizeof(allowed));

	enum keel_eap_result r = keel_eap_result(e);
	switch (r) {
	case KEEL_EAP_RESULT_CREDENTIALS_REFUSED:
		keel_sa_fail(sa, KEEL_REASON_EAP_REFUSED,
		             "the gateway refused the user name or password%s", detail);
		return;
	case KEEL_EAP_RESULT_RESTRICTED_HOURS:
	case KEEL_EAP_RESULT_ACCOUNT_DISABLED:
	case KEEL_EAP_RESULT_PASSWORD_EXPIRED:
	case KEEL_EAP_RESULT_NO_DIALIN:
		keel_sa_fail(sa, KEEL_REASON_AUTH_REFUSED, "the gateway refused the login: %s%s",
		             keel_eap_result_text(r), detail);
		return;
	case KEEL_EAP_RESULT_NO_COMMON_METHOD:
		keel_sa_fail(sa, KEEL_REASON_EAP_METHOD,
		             "the gateway asked for %s, which this profile does not allow, and "
		             "offered nothing else (allowed: %s%s)",
		             eap_method_name(sa->auth.asked), allowed,
		             sa->auth.eap_only ? "; EAP-only needs EAP-MSCHAPv2" : "");
		return;
	case KEEL_EAP_RESULT_SERVER_NOT_AUTHENTICATED:
		keel_sa_fail_delete(sa, KEEL_REASON_PEER_AUTH,
		                    "the gateway did not prove that it knows the password (wrong "
		                    "EAP-MSCHAPv2 authenticator response)");
		return;
	case KEEL_EAP_RESULT_EARLY_SUCCESS:
		keel_sa_fail_delete(sa, KEEL_REASON_PEER_AUTH,
		                    "the gateway ended EAP with success before %s was done",
		                    method);
		return;
	case KEEL_EAP_RESULT_NONE:
	case KEEL_EAP_RESULT_OK:
	case KEEL_EAP_RESULT_FAILURE:
		break;
	}
	keel_sa_fail(sa, KEEL_REASON_AUTH_REFUSED, "EAP authentication failed%s", detail);
}

/* Our AUTH once EAP succeeded: the MSK, or SK_pi, as the shared key (RFC 7296 §2.16). */
static int send_final_auth(struct keel_sa *sa)
{
	struct ike_sa *ike = sa->ike;
	struct init_state *in = &sa->init;
	const struct keel_secret *msk = keel_eap_msk(sa->auth.eap);
	uint8_t auth[KEEL_PRF_MAX_OUT_LEN];
	struct msg_wr mw;
	int rc;

	ptrdiff_t n = keel_auth_psk(ike->alg.prf, msk ? msk : ike->ks.keys.sk_pi, in->msg1,
	                            in->msg1_len, in->nonce_r, in->nonce_r_len, ike->ks.keys.sk_pi,
	                            in->idi_body, in->idi_len, auth, sizeof(auth));
	if (n < 0)
		return (int)n;
	next_request(sa, &mw);
	sa->pl.u.auth.method = KEEL_V2_AUTH_PSK;
	sa->pl.u.auth.data = (struct keel_v2_bytes){.p = auth, .len = (size_t)n};
	add_pl(&mw, KEEL_V2_PAYLOAD_AUTH);
	rc = send_request(sa, &mw);
	OPENSSL_cleanse(auth, sizeof(auth));
	if (rc == 0)
		sa->auth.stage = AUTH_FINAL;
	return rc;
}

static int send_eap(struct keel_sa *sa, const uint8_t *msg, size_t len)
{
	struct msg_wr mw;
	next_request(sa, &mw);
	/* our Response as it is: header fields, then everything after them */
	struct keel_v2_eap *e = &sa->pl.u.eap;
	memset(e, 0, sizeof(*e));
	e->code = msg[0];
	e->identifier = msg[1];
	e->has_type = false;
	e->data = (struct keel_v2_bytes){.p = msg + 4, .len = len - 4};
	add_pl(&mw, KEEL_V2_PAYLOAD_EAP);
	int rc = send_request(sa, &mw);
	if (rc == 0)
		sa->auth.stage = AUTH_EAP;
	return rc;
}

/* One EAP message from the gateway (RFC 7296 §2.16): answer it, or finish. */
static void eap_step(struct keel_sa *sa, const struct keel_v2_eap *in)
{
	uint8_t out[EAP_MSG_MAX];
	int rc;

	if (!sa->auth.eap) {
		struct keel_eap_config ec = {
		    .identity = sa->creds.eap_identity,
		    .identity_len = (ptrdiff_t)sa->creds.eap_identity_len,
		    .password = sa->creds.eap_password,
		    /* RFC 5998 §4: without the gateway's certificate only a method that
		     * proves the gateway and makes keys will do */
		    .methods = sa->auth.eap_only ? KEEL_EAP_METHOD_MSCHAPV2 : sa->creds.eap_methods,
		};
		rc = keel_eap_new(&ec, sa->env, &sa->auth.eap);
		if (rc < 0) {
			keel_sa_fail_delete(sa, KEEL_REASON_INTERNAL, "cannot start EAP: %s",
			                    keel_strerror(rc));
			return;
		}
	}
	if (++sa->auth.eap_rounds > KEEL_MAX_EAP_ROUNDS) {
		keel_sa_fail_delete(sa, KEEL_REASON_PROTOCOL,
		                    "the gateway does not end the EAP conversation");
		return;
	}
	/* which method the gateway asks for, for the message if we cannot do it */
	if (in->code == KEEL_V2_EAP_REQUEST && in->has_type && in->type != KEEL_EAP_TYPE_IDENTITY &&
	    in->type != KEEL_EAP_TYPE_NOTIFICATION)
		sa->auth.asked = in->type;
	ptrdiff_t n =
	    keel_eap_process(sa->auth.eap, in->msg.p, (ptrdiff_t)in->msg.len, out, sizeof(out));
	if (n < 0 && n != KEEL_ERR_AUTH) {
		keel_sa_fail_delete(
		    sa, n == KEEL_ERR_MALFORMED ? KEEL_REASON_PROTOCOL : KEEL_REASON_INTERNAL,
		    "the gateway's EAP message cannot be answered (%s)", keel_strerror((int)n));
		goto out;
	}
	switch (keel_eap_status(sa->auth.eap)) {
	case KEEL_EAP_CONTINUE:
		if (n < 4) {
			keel_sa_fail_delete(sa, KEEL_REASON_PROTOCOL,
			                    "the gateway's EAP message leaves nothing to answer");
			goto out;
		}
		keel_log(sa, KEEL_LOG_DEBUG, "EAP: answering the gateway's %s request",
		         in->has_type ? eap_method_name(in->type) : "EAP");
		rc = send_eap(sa, out, (size_t)n);
		break;
	case KEEL_EAP_SUCCESS:
		if (sa->auth.eap_only && !keel_eap_msk(sa->auth.eap)) {
			keel_sa_fail_delete(
			    sa, KEEL_REASON_PEER_AUTH,
			    "with EAP-only the gateway must prove itself with a method "
			    "that makes keys; %s does not",
			    eap_method_name(keel_eap_method(sa->auth.eap)));
			goto out;
		}
		keel_log(sa, KEEL_LOG_INFO, "%s succeeded%s",
		         eap_method_name(keel_eap_method(sa->auth.eap)),
		         keel_eap_msk(sa->auth.eap) ? "; its key confirms the AUTH payloads" : "");
		rc = send_final_auth(sa);
		break;
	case KEEL_EAP_FAILURE:
		eap_failed(sa);
		goto out;
	}
	if (rc < 0 && !sa->finished)
		keel_sa_fail_delete(sa, KEEL_REASON_INTERNAL, "cannot send IKE_AUTH (%s)",
		                    keel_strerror(rc));
out:
	OPENSSL_cleanse(out, sizeof(out));
}

/* ---- the answers ---- */

/* The IKE SA is up; the first CHILD SA and the network configuration follow. */
static void establish(struct keel_sa *sa, uint16_t err)
{
	struct init_state *in = &sa->init;
	struct ike_sa *ike = sa->ike;
	struct keel_child_keys keys;
	int rc;

	memset(&keys, 0, sizeof(keys));
	auth_done(sa);
	/* the IKE SA is up; a refused CHILD SA ends the connection (see keel/ike.h) */
	if (err) {
		enum keel_reason reason;
		const char *why = child_error_text(err, &reason);
		if (err == KEEL_V2_N_NO_PROPOSAL_CHOSEN && sa->child_proto == KEEL_V2_PROTO_AH)
			why = "the gateway accepted none of our AH proposals";
		keel_sa_fail_delete(sa, reason, "%s", why);
		goto out;
	}
	struct keel_algs alg;
	uint8_t spi[8];
	size_t spi_len = 0;
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_SA, &sa->pl_rx) ||
	    keel_sa_payload_check(&sa->pl_rx.u.sa, sa->child_props, sa->n_child_props,
	                          sa->child_proto, 0, &alg, spi, &spi_len) < 0) {
		keel_sa_fail_delete(sa, KEEL_REASON_PROTOCOL,
		                    "the gateway chose an %s proposal we did not offer",
		                    sa->child_proto == KEEL_V2_PROTO_AH ? "AH" : "ESP");
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
		keel_sa_fail_delete(sa, KEEL_REASON_INTERNAL,
		                    "cannot derive the CHILD SA keys (%s)", keel_strerror(rc));
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
}

static const char *refused_text(const struct keel_sa *sa)
{
	switch (sa->cfg.auth) {
	case KEEL_AUTH_PSK:
		break;
	case KEEL_AUTH_CERT:
		return "the gateway refused our certificate or identity (AUTHENTICATION_FAILED)";
	case KEEL_AUTH_EAP:
		return "the gateway refused our identity or EAP authentication "
		       "(AUTHENTICATION_FAILED)";
	}
	return "the gateway refused our PSK or identity (AUTHENTICATION_FAILED)";
}

/* The answer to our first IKE_AUTH request: the gateway's identity and proof. */
static void process_first(struct keel_sa *sa)
{
	uint16_t err = keel_rx_error(sa);
	if (err == KEEL_V2_N_AUTHENTICATION_FAILED) {
		keel_sa_fail(sa, KEEL_REASON_AUTH_REFUSED, "%s", refused_text(sa));
		return;
	}
	bool eap = sa->cfg.auth == KEEL_AUTH_EAP;
	bool has_auth = keel_rx_find(sa, KEEL_V2_PAYLOAD_AUTH, NULL) != NULL;
	/* RFC 5998 §3: a gateway that takes EAP-only sends no AUTH now */
	bool eap_only = eap && sa->cfg.eap_only && !has_auth &&
	                keel_rx_find(sa, KEEL_V2_PAYLOAD_EAP, NULL) != NULL;
	const struct keel_v2_raw_payload *idr_raw =
	    keel_rx_find(sa, KEEL_V2_PAYLOAD_IDR, &sa->pl_rx);
	if (!idr_raw || (!has_auth && !eap_only)) {
		if (err)
			keel_sa_fail(sa, KEEL_REASON_PEER_ERROR,
			             "the gateway refused the connection (%s)",
			             keel_v2_notify_name(err));
		else if (idr_raw && eap)
			keel_sa_fail_delete(
			    sa, KEEL_REASON_PEER_AUTH,
			    "the gateway did not authenticate itself (no AUTH before "
			    "EAP)");
		else
			keel_sa_fail(sa, KEEL_REASON_PROTOCOL,
			             "the gateway's IKE_AUTH answer lacks its identity or AUTH");
		return;
	}
	struct keel_v2_id idr = sa->pl_rx.u.id;
	if (idr_raw->body.len > sizeof(sa->auth.idr_body)) {
		keel_sa_fail_delete(sa, KEEL_REASON_PROTOCOL, "the gateway's identity is too long");
		return;
	}
	memcpy(sa->auth.idr_body, idr_raw->body.p, idr_raw->body.len);
	sa->auth.idr_len = idr_raw->body.len;
	id_text(idr.type, idr.data.p, idr.data.len, sa->auth.peer, sizeof(sa->auth.peer));

	if (eap_only) {
		if (sa->cfg.remote_id.type != KEEL_ID_NONE &&
		    !id_matches(&sa->cfg.remote_id, &idr)) {
			char want[256];
			id_text((uint8_t)sa->cfg.remote_id.type, sa->cfg.remote_id.data,
			        sa->cfg.remote_id.len, want, sizeof(want));
			keel_sa_fail_delete(sa, KEEL_REASON_PEER_ID,
			                    "the gateway identified itself as %s, expected %s",
			                    sa->auth.peer, want);
			return;
		}
		sa->auth.eap_only = true;
		keel_log(sa, KEEL_LOG_INFO,
		         "the gateway %s takes EAP-only authentication (RFC 5998): it must prove "
		         "itself with EAP-MSCHAPv2",
		         sa->auth.peer);
	} else {
		keel_rx_find(sa, KEEL_V2_PAYLOAD_AUTH, &sa->pl_rx);
		struct keel_v2_auth a = sa->pl_rx.u.auth;
		bool ok = sa->cfg.auth == KEEL_AUTH_PSK ? verify_psk(sa, idr_raw, &idr, &a)
		                                        : verify_cert(sa, idr_raw, &idr, &a);
		if (!ok)
			return;
	}
	if (!eap) {
		establish(sa, err);
		return;
	}
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_EAP, &sa->pl_rx)) {
		if (err)
			keel_sa_fail_delete(sa, KEEL_REASON_PEER_ERROR,
			                    "the gateway refused the connection (%s)",
			                    keel_v2_notify_name(err));
		else
			keel_sa_fail_delete(
			    sa, KEEL_REASON_PROTOCOL,
			    "the gateway did not start EAP (no EAP payload); does it "
			    "expect a certificate?");
		return;
	}
	struct keel_v2_eap e = sa->pl_rx.u.eap;
	eap_step(sa, &e);
}

static void process_eap(struct keel_sa *sa)
{
	uint16_t err = keel_rx_error(sa);
	if (keel_rx_find(sa, KEEL_V2_PAYLOAD_EAP, &sa->pl_rx)) {
		struct keel_v2_eap e = sa->pl_rx.u.eap;
		eap_step(sa, &e);
		return;
	}
	if (err == KEEL_V2_N_AUTHENTICATION_FAILED)
		keel_sa_fail(sa, KEEL_REASON_AUTH_REFUSED,
		             "the gateway ended the EAP authentication (AUTHENTICATION_FAILED)");
	else if (err)
		keel_sa_fail(sa, KEEL_REASON_PEER_ERROR,
		             "the gateway ended the EAP authentication (%s)",
		             keel_v2_notify_name(err));
	else
		keel_sa_fail_delete(sa, KEEL_REASON_PROTOCOL,
		                    "the gateway's answer during EAP carries no EAP message");
}

/* The answer to our AUTH after EAP: the gateway's AUTH from the same key, and the tunnel. */
static void process_final(struct keel_sa *sa)
{
	struct ike_sa *ike = sa->ike;
	uint16_t err = keel_rx_error(sa);
	if (err == KEEL_V2_N_AUTHENTICATION_FAILED) {
		keel_sa_fail(sa, KEEL_REASON_AUTH_REFUSED,
		             "the gateway refused our AUTH after EAP (AUTHENTICATION_FAILED)");
		return;
	}
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_AUTH, &sa->pl_rx)) {
		if (err)
			keel_sa_fail_delete(sa, KEEL_REASON_PEER_ERROR,
			                    "the gateway refused the connection (%s)",
			                    keel_v2_notify_name(err));
		else
			keel_sa_fail_delete(sa, KEEL_REASON_PROTOCOL,
			                    "the gateway's last IKE_AUTH answer lacks AUTH");
		return;
	}
	struct keel_v2_auth a = sa->pl_rx.u.auth;
	const struct keel_secret *msk = keel_eap_msk(sa->auth.eap);
	/* RFC 7296 §2.16: the responder's AUTH with the MSK, or SK_pr, as the shared key */
	if (!shared_auth_ok(sa, msk ? msk : ike->ks.keys.sk_pr, sa->auth.idr_body, sa->auth.idr_len,
	                    &a)) {
		keel_sa_fail_delete(sa, KEEL_REASON_PEER_AUTH,
		                    "the gateway's AUTH after EAP did not match%s",
		                    msk ? " (it does not hold the EAP key)" : "");
		return;
	}
	if (sa->auth.eap_only)
		keel_log(sa, KEEL_LOG_INFO, "authenticated the gateway %s through %s",
		         sa->auth.peer, eap_method_name(keel_eap_method(sa->auth.eap)));
	establish(sa, err);
}

void keel_task_ike_auth_process(struct keel_sa *sa)
{
	switch (sa->auth.stage) {
	case AUTH_FIRST:
		process_first(sa);
		return;
	case AUTH_EAP:
		process_eap(sa);
		return;
	case AUTH_FINAL:
		process_final(sa);
		return;
	}
}
