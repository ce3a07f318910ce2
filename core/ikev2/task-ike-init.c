/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IKE_SA_INIT as the initiator (RFC 7296 §1.2): proposals, key exchange,
 * nonce, NAT detection (§2.23); the responder's COOKIE (§2.6),
 * INVALID_KE_PAYLOAD (§1.2, §3.10.1) and NO_PROPOSAL_CHOSEN; the IKE SA's
 * keys (§2.14).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ikev2/nat.h"
#include "ikev2/sa.h"

static void be64(uint64_t v, uint8_t out[8])
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

static struct keel_addr local_now(const struct keel_sa *sa)
{
	struct keel_addr a = sa->cfg.local;
	if (sa->natt)
		a.port = sa->cfg.local_natt_port;
	return a;
}

static struct keel_addr remote_now(const struct keel_sa *sa)
{
	struct keel_addr a = sa->cfg.remote;
	if (sa->natt)
		a.port = sa->cfg.remote_natt_port;
	return a;
}

static bool offered_group(const struct keel_sa *sa, uint16_t group)
{
	for (size_t i = 0; i < sa->cfg.n_ike_proposals; i++)
		for (uint8_t k = 0; k < sa->cfg.ike_proposals[i].n_dh; k++)
			if (sa->cfg.ike_proposals[i].dh[k] == group)
				return true;
	return false;
}

/* Builds and sends the IKE_SA_INIT request from sa->init (again after COOKIE / INVALID_KE). */
static int send_init(struct keel_sa *sa)
{
	struct ike_sa *ike = sa->ike;
	struct init_state *in = &sa->init;
	struct msg_wr mw;
	uint8_t spi_i[8], zero[8] = {0}, hash[KEEL_NAT_HASH_LEN];
	uint8_t *msg;
	size_t len;
	int rc;

	keel_req_done(sa);
	sa->req.kind = TASK_IKE_INIT;
	sa->req.ike = ike;
	sa->req.exchange = KEEL_V2_EXCHANGE_IKE_SA_INIT;
	sa->req.msg_id = 0;

	keel_msg_begin(sa, &mw, ike, KEEL_V2_EXCHANGE_IKE_SA_INIT, false, 0, false);
	/* RFC 7296 §2.6: the cookie goes first */
	if (in->cookie_len)
		keel_add_notify(&mw, 0, NULL, 0, KEEL_V2_N_COOKIE, in->cookie, in->cookie_len);
	rc = keel_sa_payload_build(&sa->pl.u.sa, sa->cfg.ike_proposals, sa->cfg.n_ike_proposals,
	                           KEEL_V2_PROTO_IKE, NULL, 0, true);
	if (rc < 0)
		return rc;
	keel_add_sa(&mw);
	keel_add_ke(&mw, in->dh);
	keel_add_bytes(&mw, KEEL_V2_PAYLOAD_NONCE, in->nonce_i, sizeof(in->nonce_i));
	be64(ike->spi_i, spi_i);
	struct keel_addr l = local_now(sa), r = remote_now(sa);
	if (sa->cfg.force_encap) {
		/* like strongSwan's encap=yes: a source hash that cannot match, so that the
		 * gateway sees a NAT and both sides encapsulate ESP in UDP */
		if ((rc = keel_random(sa, hash, sizeof(hash))) < 0)
			return rc;
	} else if ((rc = keel_nat_hash(spi_i, zero, &l, hash)) < 0) {
		return rc;
	}
	keel_add_notify(&mw, 0, NULL, 0, KEEL_V2_N_NAT_DETECTION_SOURCE_IP, hash, sizeof(hash));
	if ((rc = keel_nat_hash(spi_i, zero, &r, hash)) < 0)
		return rc;
	keel_add_notify(&mw, 0, NULL, 0, KEEL_V2_N_NAT_DETECTION_DESTINATION_IP, hash,
	                sizeof(hash));
	/* RFC 7383 §2.3: we can send and take fragments */
	if (sa->cfg.fragmentation)
		keel_add_notify(&mw, 0, NULL, 0, KEEL_V2_N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
	/* RFC 7427 §4: the hashes we verify signatures with, when a signature is to come */
	if (sa->cfg.auth != KEEL_AUTH_PSK) {
		uint8_t hashes[16];
		ptrdiff_t n = keel_sig_hashes_build(hashes, sizeof(hashes));
		if (n < 0)
			return (int)n;
		keel_add_notify(&mw, 0, NULL, 0, KEEL_V2_N_SIGNATURE_HASH_ALGORITHMS, hashes,
		                (size_t)n);
	}
	rc = keel_msg_end(sa, &mw, &msg, &len);
	if (rc < 0)
		return rc;
	/* RealMessage1 of the AUTH computation is the request as finally sent */
	free(in->msg1);
	in->msg1 = malloc(len);
	if (!in->msg1) {
		free(msg);
		return KEEL_ERR_NOMEM;
	}
	memcpy(in->msg1, msg, len);
	in->msg1_len = len;
	return keel_req_send(sa, msg, len);
}

static int new_dh(struct keel_sa *sa, uint16_t group)
{
	struct init_state *in = &sa->init;
	keel_dh_free(in->dh);
	in->dh = NULL;
	int rc = keel_dh_new(group, sa->env, &in->dh);
	if (rc < 0)
		return rc;
	in->dh_group = group;
	if (in->n_tried < sizeof(in->tried_groups) / sizeof(in->tried_groups[0]))
		in->tried_groups[in->n_tried++] = group;
	return 0;
}

int keel_task_ike_init_start(struct keel_sa *sa)
{
	struct ike_sa *ike = keel_ike_new(sa);
	int rc;
	if (!ike)
		return KEEL_ERR_NOMEM;
	sa->ike = ike;
	ike->initiator = true;
	do {
		if ((rc = keel_random(sa, &ike->spi_i, sizeof(ike->spi_i))) < 0)
			return rc;
	} while (ike->spi_i == 0);
	/* RFC 7296 §1.2: KE carries the first group of the first proposal */
	if ((rc = new_dh(sa, sa->cfg.ike_proposals[0].dh[0])) < 0)
		return rc;
	if ((rc = keel_random(sa, sa->init.nonce_i, sizeof(sa->init.nonce_i))) < 0)
		return rc;
	char offer[512];
	keel_proposals_text(sa->cfg.ike_proposals, sa->cfg.n_ike_proposals, offer, sizeof(offer));
	keel_log(sa, KEEL_LOG_DEBUG, "offering IKE proposals: %s", offer);
	if ((rc = send_init(sa)) < 0)
		return rc;
	keel_sa_set_state(sa, KEEL_STATE_IKE_SA_INIT, KEEL_REASON_NONE,
	                  "sending IKE_SA_INIT (SPI %016" PRIx64 ")", ike->spi_i);
	return 0;
}

static const char *group_name(uint16_t g)
{
	return keel_v2_dh_name(g);
}

static void detect_nat(struct keel_sa *sa)
{
	const struct keel_dgram *d = sa->rx.dgram;
	const struct keel_v2_chain *c = sa->rx.c;
	struct ike_sa *ike = sa->ike;
	struct keel_v2_notify n;
	uint8_t spi_i[8], spi_r[8], want[KEEL_NAT_HASH_LEN];
	bool have_src = false, src_ok = false, have_dst = false, dst_ok = false;

	be64(ike->spi_i, spi_i);
	be64(ike->spi_r, spi_r);
	/* what the packet really carried, when the platform says so */
	struct keel_addr src = d && d->remote.family ? d->remote : remote_now(sa);
	struct keel_addr dst = d && d->local.family ? d->local : local_now(sa);

	const struct keel_v2_raw_payload *raw = NULL;
	if (keel_nat_hash(spi_i, spi_r, &src, want) == 0)
		while ((raw = keel_v2_chain_find_notify(c, KEEL_V2_N_NAT_DETECTION_SOURCE_IP, raw,
		                                        &n))) {
			have_src = true;
			if (n.data.len == sizeof(want) && memcmp(n.data.p, want, sizeof(want)) == 0)
				src_ok = true;
		}
	raw = NULL;
	if (keel_nat_hash(spi_i, spi_r, &dst, want) == 0)
		while ((raw = keel_v2_chain_find_notify(c, KEEL_V2_N_NAT_DETECTION_DESTINATION_IP,
		                                        raw, &n))) {
			have_dst = true;
			if (n.data.len == sizeof(want) && memcmp(n.data.p, want, sizeof(want)) == 0)
				dst_ok = true;
		}
	if (!have_src || !have_dst) {
		if (sa->cfg.force_encap)
			keel_log(sa, KEEL_LOG_WARN,
			         "the gateway does not support NAT traversal; ESP cannot be "
			         "encapsulated in UDP");
		return;
	}
	sa->nat_remote = !src_ok;
	sa->nat_local = !dst_ok;
	if (sa->nat_local)
		keel_log(sa, KEEL_LOG_INFO, "NAT detected: we are behind a NAT");
	if (sa->nat_remote)
		keel_log(sa, KEEL_LOG_INFO,
		         "NAT detected: the gateway is behind a NAT (or forces UDP encapsulation)");
	if (sa->nat_local || sa->nat_remote || sa->cfg.force_encap) {
		if (!sa->nat_local && !sa->nat_remote)
			keel_log(sa, KEEL_LOG_INFO, "UDP encapsulation forced");
		/* RFC 7296 §2.23: from now on we send from and to the NAT-T ports */
		sa->natt = true;
	}
}

/*
 * What the gateway's IKE_SA_INIT answer says about the extensions: RFC 7383
 * fragmentation, its RFC 7427 signature hashes, and the CAs it trusts
 * (CERTREQ, RFC 7296 §3.7; only X.509 hashes are of use to us).
 */
static int read_extensions(struct keel_sa *sa)
{
	struct init_state *in = &sa->init;
	struct keel_v2_notify n;
	sa->frag_ok = sa->cfg.fragmentation &&
	              keel_rx_notify(sa, KEEL_V2_N_IKEV2_FRAGMENTATION_SUPPORTED, NULL);
	if (sa->frag_ok)
		keel_log(sa, KEEL_LOG_DEBUG, "IKE fragmentation negotiated");
	sa->peer_hashes = 0;
	sa->peer_hashes_sent = false;
	if (keel_rx_notify(sa, KEEL_V2_N_SIGNATURE_HASH_ALGORITHMS, &n) &&
	    keel_sig_hashes_parse(n.data.p, (ptrdiff_t)n.data.len, &sa->peer_hashes) == 0)
		sa->peer_hashes_sent = true;

	free(in->certreq);
	in->certreq = NULL;
	in->certreq_len = 0;
	const struct keel_v2_raw_payload *raw = NULL;
	while ((raw = keel_v2_chain_find(sa->rx.c, KEEL_V2_PAYLOAD_CERTREQ, raw)) != NULL) {
		if (keel_v2_payload_decode(raw, &sa->pl_rx) < 0 ||
		    sa->pl_rx.u.cert.encoding != KEEL_V2_CERT_X509_SIGNATURE)
			continue;
		const struct keel_v2_bytes *d = &sa->pl_rx.u.cert.data;
		size_t room = KEEL_CERTREQ_MAX - in->certreq_len;
		size_t take = d->len <= room ? d->len : room - room % 20;
		if (take == 0)
			continue;
		uint8_t *p = realloc(in->certreq, in->certreq_len + take);
		if (!p)
			return KEEL_ERR_NOMEM;
		memcpy(p + in->certreq_len, d->p, take);
		in->certreq = p;
		in->certreq_len += take;
	}
	if (in->certreq_len)
		keel_log(sa, KEEL_LOG_DEBUG, "the gateway asks for certificates of %zu CAs",
		         in->certreq_len / 20);
	return 0;
}

void keel_task_ike_init_process(struct keel_sa *sa)
{
	struct init_state *in = &sa->init;
	struct ike_sa *ike = sa->ike;
	const struct keel_v2_hdr *h = &sa->rx.outer.hdr;
	struct keel_v2_notify n;
	struct keel_secret *g_ir = NULL;
	struct keel_algs alg;
	char offer[512];
	int rc;

	keel_proposals_text(sa->cfg.ike_proposals, sa->cfg.n_ike_proposals, offer, sizeof(offer));

	if (keel_rx_notify(sa, KEEL_V2_N_COOKIE, &n)) {
		/* a late copy of the answer we already followed */
		if (n.data.len == in->cookie_len && in->cookie_len &&
		    memcmp(n.data.p, in->cookie, in->cookie_len) == 0) {
			keel_log(sa, KEEL_LOG_DEBUG, "dropping a repeated COOKIE answer");
			return;
		}
		/* RFC 7296 §2.6: repeat the request with the cookie first */
		if (++in->cookies > KEEL_MAX_COOKIES || n.data.len == 0 ||
		    n.data.len > sizeof(in->cookie)) {
			keel_sa_fail(sa, KEEL_REASON_PROTOCOL,
			             "the gateway keeps asking for a cookie (COOKIE)");
			return;
		}
		memcpy(in->cookie, n.data.p, n.data.len);
		in->cookie_len = n.data.len;
		keel_log(sa, KEEL_LOG_INFO, "the gateway asked for a cookie; sending it");
		if ((rc = send_init(sa)) < 0)
			keel_sa_fail(sa, KEEL_REASON_INTERNAL, "internal error: %s",
			             keel_strerror(rc));
		return;
	}
	if (keel_rx_notify(sa, KEEL_V2_N_INVALID_KE_PAYLOAD, &n)) {
		uint16_t g = n.data.len == 2 ? (uint16_t)(n.data.p[0] << 8 | n.data.p[1]) : 0;
		if (g == in->dh_group) {
			/* a late copy of the answer we already followed */
			keel_log(sa, KEEL_LOG_DEBUG,
			         "dropping a repeated INVALID_KE_PAYLOAD answer");
			return;
		}
		bool tried = false;
		for (size_t i = 0; i < in->n_tried; i++)
			tried |= in->tried_groups[i] == g;
		if (!offered_group(sa, g) || tried || !keel_dh_supported(g)) {
			keel_sa_fail(
			    sa, KEEL_REASON_NO_PROPOSAL,
			    "the gateway wants key exchange group %s, which we did not offer "
			    "(we offered: %s)",
			    group_name(g), offer);
			return;
		}
		keel_log(sa, KEEL_LOG_INFO, "the gateway asked for key exchange group %s; retrying",
		         group_name(g));
		in->cookie_len = 0;
		if ((rc = new_dh(sa, g)) < 0 || (rc = send_init(sa)) < 0)
			keel_sa_fail(sa, KEEL_REASON_INTERNAL, "internal error: %s",
			             keel_strerror(rc));
		return;
	}
	uint16_t err = keel_rx_error(sa);
	if (err == KEEL_V2_N_NO_PROPOSAL_CHOSEN) {
		keel_sa_fail(sa, KEEL_REASON_NO_PROPOSAL,
		             "the gateway accepted none of our IKE proposals (we offered: %s)",
		             offer);
		return;
	}
	if (err) {
		keel_sa_fail(sa, KEEL_REASON_PEER_ERROR, "the gateway refused IKE_SA_INIT (%s)",
		             keel_v2_notify_name(err));
		return;
	}

	if (h->spi_r == 0 || !keel_rx_find(sa, KEEL_V2_PAYLOAD_SA, &sa->pl_rx)) {
		keel_sa_fail(sa, KEEL_REASON_PROTOCOL,
		             "the gateway's IKE_SA_INIT answer lacks its SPI or SA payload");
		return;
	}
	if (keel_sa_payload_check(&sa->pl_rx.u.sa, sa->cfg.ike_proposals, sa->cfg.n_ike_proposals,
	                          KEEL_V2_PROTO_IKE, 1, &alg, NULL, NULL) < 0) {
		keel_sa_fail(sa, KEEL_REASON_PROTOCOL,
		             "the gateway chose an IKE proposal we did not offer (we offered: %s)",
		             offer);
		return;
	}
	struct keel_v2_ke ke;
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_KE, &sa->pl_rx)) {
		keel_sa_fail(sa, KEEL_REASON_PROTOCOL, "the gateway's IKE_SA_INIT answer lacks KE");
		return;
	}
	ke = sa->pl_rx.u.ke;
	if (ke.group != alg.dh || ke.group != in->dh_group) {
		keel_sa_fail(sa, KEEL_REASON_PROTOCOL,
		             "the gateway's key exchange (%s) does not match the chosen group (%s)",
		             group_name(ke.group), group_name(alg.dh));
		return;
	}
	if (!keel_rx_find(sa, KEEL_V2_PAYLOAD_NONCE, &sa->pl_rx) ||
	    keel_v2_nonce_verify(sa->pl_rx.u.nonce) < 0) {
		keel_sa_fail(sa, KEEL_REASON_PROTOCOL,
		             "the gateway's IKE_SA_INIT answer lacks a valid nonce");
		return;
	}
	memcpy(in->nonce_r, sa->pl_rx.u.nonce.p, sa->pl_rx.u.nonce.len);
	in->nonce_r_len = sa->pl_rx.u.nonce.len;

	rc = keel_dh_compute(in->dh, ke.data.p, ke.data.len, &g_ir);
	if (rc < 0) {
		keel_sa_fail(sa,
		             rc == KEEL_ERR_MALFORMED ? KEEL_REASON_PROTOCOL : KEEL_REASON_INTERNAL,
		             "the gateway's key exchange value is invalid (%s)", keel_strerror(rc));
		goto out;
	}
	ike->spi_r = h->spi_r;
	ike->alg = alg;
	rc = keel_ike_keys_derive(&ike->ks, &alg, true, ike->spi_i, ike->spi_r, in->nonce_i,
	                          sizeof(in->nonce_i), in->nonce_r, in->nonce_r_len, g_ir, 0, NULL);
	if (rc < 0) {
		keel_sa_fail(sa, KEEL_REASON_INTERNAL, "cannot derive the IKE keys (%s)",
		             keel_strerror(rc));
		goto out;
	}
	ike->keyed = true;
	ike->next_req_id = 1;
	ike->peer_req_id = 0;
	detect_nat(sa);
	/* RFC 4302 §3.3.3: AH authenticates the outer addresses a NAT rewrites */
	if (sa->child_proto == KEEL_V2_PROTO_AH && (sa->nat_local || sa->nat_remote)) {
		keel_sa_fail(sa, KEEL_REASON_CONFIG,
		             "AH cannot cross the NAT detected between us and the gateway "
		             "(RFC 4302); use ESP (esp-proposals) instead of ah-proposals");
		goto out;
	}
	if ((rc = read_extensions(sa)) < 0) {
		keel_sa_fail(sa, KEEL_REASON_INTERNAL, "out of memory");
		goto out;
	}

	free(in->msg2);
	in->msg2 = malloc(sa->rx.outer.raw.len);
	if (!in->msg2) {
		keel_sa_fail(sa, KEEL_REASON_INTERNAL, "out of memory");
		goto out;
	}
	memcpy(in->msg2, sa->rx.outer.raw.p, sa->rx.outer.raw.len);
	in->msg2_len = sa->rx.outer.raw.len;
	keel_dh_free(in->dh);
	in->dh = NULL;

	char algs[160];
	keel_algs_text(&alg, true, algs, sizeof(algs));
	keel_log(sa, KEEL_LOG_INFO, "IKE_SA_INIT done: %s, SPIs %016" PRIx64 "_i %016" PRIx64 "_r",
	         algs, ike->spi_i, ike->spi_r);
	keel_req_done(sa);
	rc = keel_task_ike_auth_start(sa);
	if (rc < 0 && !sa->finished)
		keel_sa_fail(sa, KEEL_REASON_INTERNAL, "cannot start IKE_AUTH (%s)",
		             keel_strerror(rc));
out:
	keel_secret_free(g_ir);
}
