/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Phase 1 as the initiator: Main Mode (RFC 2409 §5, six messages,
 * identities encrypted) and Aggressive Mode (§5.4, three messages), Vendor
 * IDs, NAT detection and the move to the NAT-T ports (RFC 3947 §3, §4), with
 * a pre-shared key, signatures (§5.1) or hybrid authentication (auth.c says
 * which proof goes where: PROOF_I is HASH_I or [CERT,] SIG_I, PROOF_R
 * HASH_R or [CERT,] SIG_R; CR only with certificates).
 *
 *   Main Mode                         Aggressive Mode
 *   -> SA, VIDs                       -> SA, KE, Ni, IDii, [CR,] VIDs
 *   <- SA, VIDs                       <- SA, KE, Nr, IDir, VIDs, NAT-D, PROOF_R
 *   -> KE, Ni, NAT-D, [CR]            -> *PROOF_I, NAT-D, N(INITIAL-CONTACT)
 *   <- KE, Nr, NAT-D
 *   -> *IDii, PROOF_I, N(INITIAL-CONTACT)
 *   <- *IDir, PROOF_R
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ikev1/sa.h"

/* Vendor IDs: MD5 of a string, with version bytes where the owner added them */
static const uint8_t vid_xauth[] = {0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12};
/* RFC 3706 §5: the DPD VID, major version 1, minor 0 */
static const uint8_t vid_dpd[] = {0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9,
                                  0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00};
/* MD5("CISCO-UNITY") with its last two bytes the version 1.0 */
static const uint8_t vid_unity[] = {0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9,
                                    0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc, 0x01, 0x00};
/* MD5("FRAGMENTATION") and capability flags, as Cisco and strongSwan send it */
static const uint8_t vid_frag[] = {0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7,
                                   0xde, 0x7f, 0x00, 0xd6, 0xc2, 0xd3, 0x80, 0x00, 0x00, 0x00};
/* RFC 3947 §3.1: MD5("RFC 3947") */
static const uint8_t vid_natt_rfc[] = {0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45,
                                       0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f};
/* MD5 of "draft-ietf-ipsec-nat-t-ike-03", "-02\n" and "-02" */
static const uint8_t vid_natt_03[] = {0x7d, 0x94, 0x19, 0xa6, 0x53, 0x10, 0xca, 0x6f,
                                      0x2c, 0x17, 0x9d, 0x92, 0x15, 0x52, 0x9d, 0x56};
static const uint8_t vid_natt_02n[] = {0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e,
                                       0x08, 0x63, 0x81, 0xb5, 0xec, 0x42, 0x7b, 0x1f};
static const uint8_t vid_natt_02[] = {0xcd, 0x60, 0x46, 0x43, 0x35, 0xdf, 0x21, 0xf8,
                                      0x7c, 0xfd, 0xb2, 0xfc, 0x68, 0xb6, 0xa4, 0x48};

const char *keel_v1_p1_step_name(enum p1_step s)
{
	switch (s) {
	case P1_MM1:
		return "Main Mode message 1";
	case P1_MM3:
		return "Main Mode message 3";
	case P1_MM5:
		return "Main Mode message 5";
	case P1_AM1:
		return "Aggressive Mode message 1";
	case P1_XAUTH:
		return "XAUTH";
	case P1_MODECFG:
		return "Mode Config";
	case P1_READY:
		return "phase 1";
	case P1_IDLE:
		break;
	}
	return "phase 1";
}

static bool cookie_is_zero(const uint8_t *c)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < KEEL_V1_COOKIE_LEN; i++)
		acc |= c[i];
	return acc == 0;
}

static size_t id_body(const struct keel_id *id, uint8_t *out, size_t cap)
{
	/* RFC 2407 §4.6.2: type, protocol and port 0 in phase 1, identification data */
	size_t n = 4 + id->len;
	if (n > cap)
		return 0;
	out[0] = (uint8_t)id->type;
	out[1] = out[2] = out[3] = 0;
	memcpy(out + 4, id->data, id->len);
	return n;
}

static void add_vids(struct keel_v1sa *sa, struct keel_v1_enc *e)
{
	if (sa->opt.xauth)
		keel_v1_enc_data(e, KEEL_V1_PL_VID, vid_xauth, sizeof(vid_xauth));
	keel_v1_enc_data(e, KEEL_V1_PL_VID, vid_dpd, sizeof(vid_dpd));
	if (sa->opt.unity)
		keel_v1_enc_data(e, KEEL_V1_PL_VID, vid_unity, sizeof(vid_unity));
	if (sa->opt.fragmentation)
		keel_v1_enc_data(e, KEEL_V1_PL_VID, vid_frag, sizeof(vid_frag));
	keel_v1_enc_data(e, KEEL_V1_PL_VID, vid_natt_rfc, sizeof(vid_natt_rfc));
	keel_v1_enc_data(e, KEEL_V1_PL_VID, vid_natt_03, sizeof(vid_natt_03));
	keel_v1_enc_data(e, KEEL_V1_PL_VID, vid_natt_02n, sizeof(vid_natt_02n));
	keel_v1_enc_data(e, KEEL_V1_PL_VID, vid_natt_02, sizeof(vid_natt_02));
}

static bool vid_is(const struct keel_v1_payload *pl, const uint8_t *v, size_t prefix)
{
	return pl->len >= prefix && memcmp(pl->body, v, prefix) == 0;
}

static void read_vids(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	bool rfc = false, draft = false;
	const struct keel_v1_payload *pl = NULL;
	while ((pl = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_VID, pl)) != NULL) {
		if (pl->len == sizeof(vid_xauth) && vid_is(pl, vid_xauth, sizeof(vid_xauth)))
			p1->peer_xauth = true;
		else if (pl->len == sizeof(vid_dpd) && vid_is(pl, vid_dpd, 15))
			p1->peer_dpd = true; /* any minor version of major 1 */
		else if (pl->len == sizeof(vid_unity) && vid_is(pl, vid_unity, 14))
			p1->peer_unity = true;
		else if (vid_is(pl, vid_frag, 16))
			p1->peer_frag = true;
		else if (pl->len == 16 && vid_is(pl, vid_natt_rfc, 16))
			rfc = true;
		else if (pl->len == 16 &&
		         (vid_is(pl, vid_natt_03, 16) || vid_is(pl, vid_natt_02n, 16) ||
		          vid_is(pl, vid_natt_02, 16)))
			draft = true;
	}
	/* RFC 3947 §3.1: the RFC numbers when both sides speak them, else the drafts' */
	p1->natd_type = rfc ? KEEL_V1_PL_NAT_D : draft ? KEEL_V1_PL_NAT_D_DRAFT : 0;
	keel_v1sa_log(sa, KEEL_LOG_DEBUG, "gateway Vendor IDs:%s%s%s%s%s",
	              p1->peer_xauth ? " XAUTH" : "", p1->peer_dpd ? " DPD" : "",
	              p1->peer_unity ? " Cisco-Unity" : "", p1->peer_frag ? " fragmentation" : "",
	              rfc     ? " NAT-T (RFC 3947)"
	              : draft ? " NAT-T (draft)"
	                      : "");
}

/* RFC 3947 §3.2: HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash */
static int natd_hash(const struct v1_p1 *p1, const struct keel_addr *a, uint8_t *out, size_t cap)
{
	uint8_t port[2] = {(uint8_t)(a->port >> 8), (uint8_t)a->port};
	struct keel_iov in[4] = {
	    {p1->cky_i, KEEL_V1_COOKIE_LEN},
	    {p1->cky_r, KEEL_V1_COOKIE_LEN},
	    {a->bytes, keel_af_addr_len(a->family)},
	    {port, 2},
	};
	ptrdiff_t n = keel_ikev1_hash(p1->prf, in, 4, out, (ptrdiff_t)cap);
	return n < 0 ? (int)n : (int)n;
}

static struct keel_addr cur_addr(const struct keel_v1sa *sa, bool local)
{
	struct keel_addr a = local ? sa->cfg.local : sa->cfg.remote;
	if (sa->natt)
		a.port = local ? sa->cfg.local_natt_port : sa->cfg.remote_natt_port;
	return a;
}

/* Our NAT-D payloads: the gateway's address first, then ours (RFC 3947 §3.2). */
static int add_natd(struct keel_v1sa *sa, struct v1_p1 *p1, struct keel_v1_enc *e)
{
	uint8_t h[KEEL_PRF_MAX_OUT_LEN];
	struct keel_addr remote = cur_addr(sa, false), local = cur_addr(sa, true);
	int n;
	if (!p1->natd_type)
		return 0;
	if ((n = natd_hash(p1, &remote, h, sizeof(h))) < 0)
		return n;
	keel_v1_enc_data(e, p1->natd_type, h, (size_t)n);
	if (sa->cfg.force_encap) {
		/* as strongSwan's encap=yes: a hash that cannot match makes the gateway see a NAT
		 */
		uint8_t r[16];
		int rc = keel_v1sa_random(sa, r, sizeof(r));
		if (rc < 0)
			return rc;
		memcpy(local.bytes, r, sizeof(local.bytes));
		local.port = (uint16_t)(r[0] << 8 | r[1]);
	}
	if ((n = natd_hash(p1, &local, h, sizeof(h))) < 0)
		return n;
	keel_v1_enc_data(e, p1->natd_type, h, (size_t)n);
	return 0;
}

/*
 * The gateway's NAT-D payloads: its view of us first, then its own addresses.
 * Returns 1 when a NAT makes the configured AH impossible (the SA has failed).
 */
static int check_natd(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	uint8_t me[KEEL_PRF_MAX_OUT_LEN], gw[KEEL_PRF_MAX_OUT_LEN];
	struct keel_addr remote = cur_addr(sa, false), local = cur_addr(sa, true);
	int n_me, n_gw;
	if (!p1->natd_type)
		return 0;
	if ((n_me = natd_hash(p1, &local, me, sizeof(me))) < 0 ||
	    (n_gw = natd_hash(p1, &remote, gw, sizeof(gw))) < 0)
		return n_me < 0 ? n_me : n_gw;
	const struct keel_v1_payload *pl = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_NAT_D, NULL);
	if (!pl) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "the gateway sent no NAT-D payloads");
		return 0;
	}
	bool me_ok = pl->len == (size_t)n_me && CRYPTO_memcmp(pl->body, me, pl->len) == 0;
	bool gw_ok = false;
	while ((pl = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_NAT_D, pl)) != NULL)
		gw_ok |= pl->len == (size_t)n_gw && CRYPTO_memcmp(pl->body, gw, pl->len) == 0;
	sa->nat_local = !me_ok;
	sa->nat_remote = !gw_ok;
	/* RFC 4302 §3.3.3: AH authenticates the outer addresses a NAT rewrites */
	if (sa->child_proto == KEEL_V1_PROTO_AH && (sa->nat_local || sa->nat_remote)) {
		keel_v1sa_fail(sa, KEEL_REASON_CONFIG,
		               "AH cannot cross the NAT detected between us and the gateway "
		               "(RFC 4302); use ESP (esp-proposals) instead of ah-proposals");
		return 1;
	}
	if (sa->nat_local || sa->nat_remote || sa->cfg.force_encap) {
		sa->natt = true;
		sa->natt_draft = p1->natd_type == KEEL_V1_PL_NAT_D_DRAFT;
	}
	keel_v1sa_log(sa, KEEL_LOG_DEBUG, "NAT detection: %s%s%s",
	              sa->nat_local ? "we are behind a NAT; " : "",
	              sa->nat_remote ? "the gateway is behind a NAT (or forces UDP encapsulation); "
	                             : "",
	              sa->natt ? "moving to the NAT-T ports" : "no NAT");
	return 0;
}

static void add_initial_contact(struct keel_v1sa *sa, struct v1_p1 *p1, struct keel_v1_enc *e)
{
	uint8_t spi[2 * KEEL_V1_COOKIE_LEN];
	if (!p1->first || !sa->opt.initial_contact)
		return;
	memcpy(spi, p1->cky_i, KEEL_V1_COOKIE_LEN);
	memcpy(spi + KEEL_V1_COOKIE_LEN, p1->cky_r, KEEL_V1_COOKIE_LEN);
	/* RFC 2407 §4.6.3.3: the ISAKMP SA names itself by its cookies */
	struct keel_v1_notify n = {
	    .doi = KEEL_V1_DOI_IPSEC,
	    .protocol = KEEL_V1_PROTO_ISAKMP,
	    .spi_len = sizeof(spi),
	    .spi = spi,
	    .type = KEEL_V1_N_INITIAL_CONTACT,
	};
	keel_v1_enc_notify(e, &n);
}

/* ---- message 1 ---- */

static int send_msg1(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	uint8_t ke[KEEL_DH_PUBLIC_MAX_LEN];
	struct v1_wr mw;
	uint8_t *msg;
	size_t len;
	int rc;

	keel_v1_wr_begin(sa, &mw, p1, p1->aggressive ? KEEL_V1_EXCH_AGGRESSIVE : KEEL_V1_EXCH_MAIN,
	                 0, false, V1_HASH_NONE);
	keel_v1_enc_p1_sa(sa, &mw.e);
	if (!keel_v1_dup(&p1->sai_b, &p1->sai_b_len, mw.w.buf + mw.e.last_body_at,
	                 mw.e.last_body_len))
		return KEEL_ERR_NOMEM;
	if (p1->aggressive) {
		ptrdiff_t n = keel_dh_public(p1->dh, ke, sizeof(ke));
		if (n < 0)
			return (int)n;
		if (!keel_v1_dup(&p1->g_xi, &p1->g_xi_len, ke, (size_t)n))
			return KEEL_ERR_NOMEM;
		keel_v1_enc_data(&mw.e, KEEL_V1_PL_KE, ke, (size_t)n);
		keel_v1_enc_data(&mw.e, KEEL_V1_PL_NONCE, p1->nonce_i, sizeof(p1->nonce_i));
		struct keel_v1_id id = {
		    .type = p1->idii_b[0],
		    .data = p1->idii_b + 4,
		    .len = p1->idii_b_len - 4,
		};
		keel_v1_enc_id(&mw.e, &id);
		keel_v1_add_certreq(sa, &mw.e);
	}
	add_vids(sa, &mw.e);
	if ((rc = keel_v1_wr_end(&mw, &msg, &len)) < 0)
		return rc;
	keel_v1sa_req_done(sa);
	sa->req.kind = V1_REQ_P1;
	sa->req.p1 = p1;
	sa->req.msg_id = 0;
	return keel_v1sa_req_send(sa, msg, len);
}

int keel_v1_p1_start(struct keel_v1sa *sa, bool first)
{
	int rc;
	if (first && (rc = keel_v1_auth_ready(sa)) < 0)
		return rc; /* nothing sent */
	struct v1_p1 *p1 = calloc(1, sizeof(*p1));
	if (!p1)
		return KEEL_ERR_NOMEM;
	if (first)
		sa->p1 = p1;
	else
		sa->p1_new = p1;
	p1->first = first;
	p1->aggressive = sa->opt.mode == KEEL_V1_AGGRESSIVE;
	do {
		if ((rc = keel_v1sa_random(sa, p1->cky_i, sizeof(p1->cky_i))) < 0)
			return rc;
	} while (cookie_is_zero(p1->cky_i));
	if ((rc = keel_v1sa_random(sa, p1->nonce_i, sizeof(p1->nonce_i))) < 0)
		return rc;
	p1->idii_b_len = id_body(&sa->cfg.local_id, p1->idii_b, sizeof(p1->idii_b));
	if (p1->idii_b_len == 0)
		return KEEL_ERR_INVAL;
	/* RFC 2409 §5.4: Aggressive Mode sends KE at once, in the group of the first offer */
	if (p1->aggressive && (rc = keel_dh_new(sa->p1x[0].group, sa->env, &p1->dh)) < 0)
		return rc;
	char offer[512];
	keel_v1_offer_text(sa, false, offer, sizeof(offer));
	keel_v1sa_log(sa, KEEL_LOG_DEBUG, "offering phase 1 proposals: %s", offer);
	p1->step = p1->aggressive ? P1_AM1 : P1_MM1;
	if ((rc = send_msg1(sa, p1)) < 0)
		return rc;
	char addr[64];
	keel_v1_addr_text(sa->cfg.remote.family, sa->cfg.remote.bytes, addr, sizeof(addr));
	if (first)
		keel_v1sa_set_state(sa, KEEL_STATE_IKE_SA_INIT, KEEL_REASON_NONE,
		                    "phase 1 (%s) with %s",
		                    p1->aggressive ? "Aggressive Mode" : "Main Mode", addr);
	else
		keel_v1sa_set_state(sa, KEEL_STATE_REKEYING, KEEL_REASON_NONE, "renewing phase 1");
	return 0;
}

/* ---- what the gateway sent ---- */

static const char *notify_text(uint16_t type, char *buf, size_t cap)
{
	const char *n = keel_v1_notify_name(type);
	if (n)
		return n;
	snprintf(buf, cap, "notify %u", type);
	return buf;
}

void keel_v1_p1_notify_failure(struct keel_v1sa *sa, struct v1_p1 *p1, uint16_t type)
{
	char name[32], offer[400], id[KEEL_ID_MAX_LEN * 4 + 1];
	const char *nt = notify_text(type, name, sizeof(name));
	if (p1 != sa->p1 && p1 == sa->p1_new && sa->established) {
		keel_v1sa_fail_delete(sa, KEEL_REASON_PEER_ERROR,
		                      "the gateway refused a new phase 1 (%s)", nt);
		return;
	}
	keel_id_to_text(&sa->cfg.local_id, id, sizeof(id));
	switch (type) {
	case KEEL_V1_N_NO_PROPOSAL_CHOSEN:
		keel_v1_offer_text(sa, false, offer, sizeof(offer));
		keel_v1sa_fail(
		    sa, KEEL_REASON_NO_PROPOSAL,
		    "the gateway accepted none of our phase 1 proposals (NO-PROPOSAL-CHOSEN); "
		    "we offered %s",
		    offer);
		return;
	case KEEL_V1_N_AUTHENTICATION_FAILED:
	case KEEL_V1_N_INVALID_HASH_INFORMATION:
		keel_v1sa_fail(sa, KEEL_REASON_AUTH_REFUSED,
		               "the gateway refused our %s or identity \"%s\" (%s)",
		               sa->auth == V1_AUTH_SIG ? "certificate" : "pre-shared key", id, nt);
		return;
	case KEEL_V1_N_INVALID_ID_INFORMATION:
		keel_v1sa_fail(sa, KEEL_REASON_AUTH_REFUSED,
		               "the gateway does not know our identity \"%s\" (%s)", id, nt);
		return;
	default:
		keel_v1sa_fail(sa, KEEL_REASON_PEER_ERROR, "the gateway refused phase 1 (%s)", nt);
		return;
	}
}

static int read_ke_nonce(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	const struct keel_v1_payload *ke = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_KE, NULL);
	const struct keel_v1_payload *nr = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_NONCE, NULL);
	if (!ke || !nr || nr->len > sizeof(p1->nonce_r) ||
	    ke->len != (size_t)keel_dh_public_len(p1->xf.group))
		return KEEL_ERR_MALFORMED;
	if (!keel_v1_dup(&p1->g_xr, &p1->g_xr_len, ke->body, ke->len))
		return KEEL_ERR_NOMEM;
	memcpy(p1->nonce_r, nr->body, nr->len);
	p1->nonce_r_len = nr->len;
	return 0;
}

/*
 * RFC 2409 §5: SKEYID = prf(pre-shared-key, Ni_b | Nr_b), or for signatures
 * (and hybrid, which signs on the gateway's side) prf(Ni_b | Nr_b, g^xy);
 * then SKEYID_d/a/e and the IV.
 */
static int derive(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	struct keel_secret *g_xy = NULL, *skeyid = NULL;
	int rc = keel_dh_compute(p1->dh, p1->g_xr, p1->g_xr_len, &g_xy);
	if (rc < 0)
		goto out;
	if (sa->auth == V1_AUTH_PSK)
		rc = keel_ikev1_skeyid_psk(
		    p1->prf, keel_secret_data(sa->psk), keel_secret_len(sa->psk), p1->nonce_i,
		    sizeof(p1->nonce_i), p1->nonce_r, (ptrdiff_t)p1->nonce_r_len, &skeyid);
	else
		rc = keel_ikev1_skeyid_sig(p1->prf, p1->nonce_i, sizeof(p1->nonce_i), p1->nonce_r,
		                           (ptrdiff_t)p1->nonce_r_len, keel_secret_data(g_xy),
		                           keel_secret_len(g_xy), &skeyid);
	if (rc < 0)
		goto out;
	keel_ikev1_keys_clear(&p1->keys);
	rc = keel_ikev1_derive(p1->prf, skeyid, keel_secret_data(g_xy), keel_secret_len(g_xy),
	                       p1->cky_i, p1->cky_r, p1->xf.key_bits / 8, &p1->keys);
	if (rc < 0)
		goto out;
	/* RFC 2409 Appendix B: IV = hash(g^xi | g^xr) */
	rc = keel_ikev1_iv_phase1(p1->prf, p1->g_xi, (ptrdiff_t)p1->g_xi_len, p1->g_xr,
	                          (ptrdiff_t)p1->g_xr_len, V1_BLOCK_LEN, p1->iv);
	if (rc < 0)
		goto out;
	if ((rc = keel_v1_p1_ciphers(p1)) < 0)
		goto out;
	p1->keyed = true;
out:
	keel_secret_free(g_xy);
	keel_secret_free(skeyid);
	return rc;
}

/* What the AUTHENTICATING state says we prove ourselves with. */
static const char *proof_text(const struct keel_v1sa *sa)
{
	switch (sa->auth) {
	case V1_AUTH_PSK:
		return "a pre-shared key";
	case V1_AUTH_SIG:
		return "our certificate";
	case V1_AUTH_HYBRID:
		break;
	}
	return "XAUTH (hybrid: the gateway proves itself with its certificate)";
}

/* Phase 1 is authenticated both ways: XAUTH, Mode Config, then quick mode. */
static void authenticated(struct keel_v1sa *sa, struct v1_p1 *p1, const char *gw)
{
	char xf[64];
	sa->auth_suspect = 0;
	sa->bad_hash_r = 0;
	sa->last_heard_ns = sa->now_ns;
	keel_v1_p1_xform_text(&p1->xf, xf, sizeof(xf));
	/* RFC 2407 §4.6.3.1: a RESPONDER-LIFETIME for the ISAKMP SA may come with the answer */
	const struct keel_v1_payload *pl = NULL;
	while ((pl = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_NOTIFY, pl)) != NULL) {
		struct keel_v1_notify n;
		if (keel_v1_notify_decode(pl, &n) == 0 && n.type == KEEL_V1_N_RESPONDER_LIFETIME &&
		    n.protocol == KEEL_V1_PROTO_ISAKMP) {
			uint32_t s = keel_v1_lifetime_attrs(n.data, n.len, true);
			if (s && (!p1->xf.life_s || s < p1->xf.life_s))
				p1->xf.life_s = s;
		}
	}
	p1->rekey_ns = keel_v1sa_rekey_at(sa, &sa->cfg.ike_lifetime, p1->xf.life_s);
	p1->expire_ns =
	    p1->xf.life_s ? keel_v1_add_ns(sa->now_ns, (uint64_t)p1->xf.life_s * V1_NS_PER_S) : 0;
	/* the exchange material is spent */
	keel_dh_free(p1->dh);
	p1->dh = NULL;
	keel_v1sa_log(sa, KEEL_LOG_INFO,
	              "phase 1 (%s) established with \"%s\": %s, lifetime %" PRIu32 " s%s",
	              p1->aggressive ? "Aggressive Mode" : "Main Mode", gw, xf, p1->xf.life_s,
	              sa->natt ? ", NAT-T" : "");
	if (sa->cfg.dpd_interval_ms && !p1->peer_dpd && p1->first)
		keel_v1sa_log(sa, KEEL_LOG_INFO,
		              "the gateway does not announce DPD: no liveness checks");
	if (sa->opt.xauth) {
		if (!p1->peer_xauth)
			keel_v1sa_log(sa, KEEL_LOG_DEBUG, "the gateway sent no XAUTH Vendor ID");
		p1->step = P1_XAUTH;
		p1->wait_ns = keel_v1_add_ns(sa->now_ns, keel_v1sa_giveup_ms(sa) * V1_NS_PER_MS);
		return;
	}
	int rc = keel_v1_after_xauth(sa, p1);
	if (rc < 0 && !sa->finished)
		keel_v1sa_fail_delete(sa, KEEL_REASON_INTERNAL, "cannot go on after phase 1: %s",
		                      keel_strerror(rc));
}

static int switch_ports(struct keel_v1sa *sa)
{
	/* RFC 3947 §4: once a NAT is seen, the initiator moves to port 4500 */
	if (sa->natt)
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "switching to the NAT-T ports %u/%u",
		              sa->cfg.local_natt_port, sa->cfg.remote_natt_port);
	return 0;
}

static int remember(struct v1_p1 *p1, const struct keel_dgram *in, const uint8_t *tx, size_t tx_len)
{
	if (!keel_v1_dup(&p1->last_rx, &p1->last_rx_len, in->data, (size_t)in->len) ||
	    !keel_v1_dup(&p1->last_tx, &p1->last_tx_len, tx, tx_len))
		return KEEL_ERR_NOMEM;
	return 0;
}

/*
 * Main Mode's next request: ends mw, keeps the exchange for retransmission
 * and sends it as the request in flight, now waiting at step next.
 */
static int send_mm(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_wr *mw, enum p1_step next)
{
	uint8_t *msg = NULL;
	size_t len;
	int rc;
	if ((rc = keel_v1_wr_end(mw, &msg, &len)) < 0)
		return rc;
	if ((rc = remember(p1, sa->dgram, msg, len)) < 0) {
		free(msg);
		return rc;
	}
	sa->last_heard_ns = sa->now_ns;
	p1->step = next;
	keel_v1sa_req_done(sa);
	sa->req.kind = V1_REQ_P1;
	sa->req.p1 = p1;
	return keel_v1sa_req_send(sa, msg, len);
}

static int take_choice(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	const struct keel_v1_payload *sap = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_SA, NULL);
	if (!sap || keel_v1_p1_choice(sa, p1, sap) < 0) {
		char offer[400];
		keel_v1_offer_text(sa, false, offer, sizeof(offer));
		keel_v1sa_fail(sa, KEEL_REASON_PROTOCOL,
		               "the gateway answered phase 1 with a proposal we did not offer (we "
		               "offered %s)",
		               offer);
		return KEEL_ERR_MALFORMED;
	}
	if (cookie_is_zero(sa->rx.hdr.cookie_r))
		return KEEL_ERR_MALFORMED;
	memcpy(p1->cky_r, sa->rx.hdr.cookie_r, KEEL_V1_COOKIE_LEN);
	read_vids(sa, p1);
	return 0;
}

static int process_mm2(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	uint8_t ke[KEEL_DH_PUBLIC_MAX_LEN];
	struct v1_wr mw;
	int rc;

	if (sa->rx.hdr.flags & KEEL_V1_FLAG_ENC)
		return KEEL_ERR_STATE;
	if (keel_v1_msg_verify(&sa->rx) < 0)
		return KEEL_ERR_MALFORMED;
	if (keel_v1_msg_next(&sa->rx, KEEL_V1_PL_SA, NULL) == NULL)
		return KEEL_ERR_MALFORMED;
	if ((rc = take_choice(sa, p1)) < 0)
		return rc == KEEL_ERR_MALFORMED && sa->finished ? 0 : rc;
	if ((rc = keel_dh_new(p1->xf.group, sa->env, &p1->dh)) < 0)
		return rc;
	ptrdiff_t n = keel_dh_public(p1->dh, ke, sizeof(ke));
	if (n < 0)
		return (int)n;
	if (!keel_v1_dup(&p1->g_xi, &p1->g_xi_len, ke, (size_t)n))
		return KEEL_ERR_NOMEM;
	keel_v1_wr_begin(sa, &mw, p1, KEEL_V1_EXCH_MAIN, 0, false, V1_HASH_NONE);
	keel_v1_enc_data(&mw.e, KEEL_V1_PL_KE, ke, (size_t)n);
	keel_v1_enc_data(&mw.e, KEEL_V1_PL_NONCE, p1->nonce_i, sizeof(p1->nonce_i));
	if ((rc = add_natd(sa, p1, &mw.e)) < 0)
		return rc;
	keel_v1_add_certreq(sa, &mw.e);
	return send_mm(sa, p1, &mw, P1_MM3);
}

static int process_mm4(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	struct v1_wr mw;
	int rc;

	if (sa->rx.hdr.flags & KEEL_V1_FLAG_ENC)
		return KEEL_ERR_STATE;
	if (keel_v1_msg_verify(&sa->rx) < 0)
		return KEEL_ERR_MALFORMED;
	if ((rc = read_ke_nonce(sa, p1)) < 0)
		return rc;
	if ((rc = derive(sa, p1)) < 0) {
		p1->keyed = false;
		if (rc == KEEL_ERR_MALFORMED) /* RFC 6989: a bad public value is dropped */
			return rc;
		keel_v1sa_fail(sa, KEEL_REASON_INTERNAL, "cannot derive the phase 1 keys (%s)",
		               keel_strerror(rc));
		return 0;
	}
	if ((rc = check_natd(sa, p1)) != 0)
		return rc < 0 ? rc : 0;
	switch_ports(sa);
	keel_v1_wr_begin(sa, &mw, p1, KEEL_V1_EXCH_MAIN, 0, true, V1_HASH_NONE);
	struct keel_v1_id id = {
	    .type = p1->idii_b[0], .data = p1->idii_b + 4, .len = p1->idii_b_len - 4};
	keel_v1_enc_id(&mw.e, &id);
	if ((rc = keel_v1_add_proof(sa, p1, &mw.e)) < 0)
		return rc;
	add_initial_contact(sa, p1, &mw.e);
	if ((rc = send_mm(sa, p1, &mw, P1_MM5)) < 0)
		return rc;
	if (p1->first) {
		char idt[KEEL_ID_MAX_LEN * 4 + 1];
		keel_id_to_text(&sa->cfg.local_id, idt, sizeof(idt));
		keel_v1sa_set_state(sa, KEEL_STATE_AUTHENTICATING, KEEL_REASON_NONE,
		                    "authenticating as \"%s\" with %s", idt, proof_text(sa));
	}
	return 0;
}

static int process_mm6(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	char gw[KEEL_ID_MAX_LEN * 4 + 1];
	int rc;

	if (!(sa->rx.hdr.flags & KEEL_V1_FLAG_ENC))
		return KEEL_ERR_STATE;
	rc = keel_v1_rx_open(sa, p1);
	if (rc < 0) {
		/* garbage under our keys: the gateway's key differs, or an attacker */
		sa->auth_suspect++;
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "Main Mode message 6 does not decrypt (%s)",
		              keel_strerror(rc));
		return KEEL_ERR_AUTH;
	}
	const struct keel_v1_payload *idr = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_ID, NULL);
	if (!idr)
		return KEEL_ERR_MALFORMED;
	rc = keel_v1_check_proof(sa, p1, idr, gw, sizeof(gw));
	if (sa->finished)
		return 0; /* a certificate, signature or identity refused: said why */
	if (rc == KEEL_ERR_AUTH) {
		/* keys that decrypt but a HASH_R that does not verify: damaged on the way,
		 * or a gateway that authenticates another identity; told at give-up */
		sa->bad_hash_r++;
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "Main Mode message 6: %s does not verify",
		              sa->auth == V1_AUTH_PSK ? "HASH_R" : "the certificate or SIG_R");
		return rc;
	}
	if (rc < 0)
		return rc;
	keel_v1_rx_commit(sa, p1);
	keel_v1sa_req_done(sa);
	/* the answer to message 5 came: nothing more to resend for phase 1 */
	free(p1->last_tx);
	p1->last_tx = NULL;
	p1->last_tx_len = 0;
	if (!keel_v1_dup(&p1->last_rx, &p1->last_rx_len, sa->dgram->data, (size_t)sa->dgram->len))
		return KEEL_ERR_NOMEM;
	authenticated(sa, p1, gw);
	return 0;
}

static int process_am2(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	char gw[KEEL_ID_MAX_LEN * 4 + 1];
	struct v1_wr mw;
	uint8_t *msg = NULL;
	size_t len;
	int rc;

	if (sa->rx.hdr.flags & KEEL_V1_FLAG_ENC)
		return KEEL_ERR_STATE;
	if (keel_v1_msg_verify(&sa->rx) < 0)
		return KEEL_ERR_MALFORMED;
	const struct keel_v1_payload *idr = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_ID, NULL);
	if (!keel_v1_msg_next(&sa->rx, KEEL_V1_PL_SA, NULL) || !idr ||
	    !keel_v1_msg_next(&sa->rx, sa->auth == V1_AUTH_PSK ? KEEL_V1_PL_HASH : KEEL_V1_PL_SIG,
	                      NULL) ||
	    !keel_v1_msg_next(&sa->rx, KEEL_V1_PL_KE, NULL) ||
	    !keel_v1_msg_next(&sa->rx, KEEL_V1_PL_NONCE, NULL))
		return KEEL_ERR_MALFORMED;
	/* nothing changes before HASH_R verified: work on a copy */
	uint8_t cky_r[KEEL_V1_COOKIE_LEN];
	memcpy(cky_r, p1->cky_r, sizeof(cky_r));
	if ((rc = take_choice(sa, p1)) < 0)
		return sa->finished ? 0 : rc;
	if (p1->xf.group != keel_dh_group(p1->dh)) {
		keel_v1sa_fail(sa, KEEL_REASON_PROTOCOL,
		               "the gateway chose DH group %u, but Aggressive Mode sent group %u",
		               p1->xf.group, keel_dh_group(p1->dh));
		return 0;
	}
	if ((rc = read_ke_nonce(sa, p1)) < 0 || (rc = derive(sa, p1)) < 0) {
		p1->keyed = false;
		memcpy(p1->cky_r, cky_r, sizeof(cky_r));
		return rc == KEEL_ERR_NOMEM ? rc : KEEL_ERR_MALFORMED;
	}
	rc = keel_v1_check_proof(sa, p1, idr, gw, sizeof(gw));
	if (sa->finished)
		return 0; /* a certificate, signature or identity refused: said why */
	if (rc == KEEL_ERR_AUTH) {
		keel_v1sa_fail(
		    sa, KEEL_REASON_PEER_AUTH,
		    "the gateway's HASH_R did not verify: the pre-shared key (or the group "
		    "name) differs from the gateway's");
		return 0;
	}
	if (rc < 0)
		return rc;
	if ((rc = check_natd(sa, p1)) != 0)
		return rc < 0 ? rc : 0;
	switch_ports(sa);
	/* message 3: PROOF_I (encrypted, as deployed implementations do), NAT-D,
	 * INITIAL-CONTACT */
	keel_v1_wr_begin(sa, &mw, p1, KEEL_V1_EXCH_AGGRESSIVE, 0, true, V1_HASH_NONE);
	rc = keel_v1_add_proof(sa, p1, &mw.e);
	if (rc == 0)
		rc = add_natd(sa, p1, &mw.e);
	if (rc == 0) {
		add_initial_contact(sa, p1, &mw.e);
		rc = keel_v1_wr_end(&mw, &msg, &len);
	}
	if (rc < 0)
		return rc;
	keel_v1sa_req_done(sa);
	rc = remember(p1, sa->dgram, msg, len);
	if (rc == 0)
		rc = keel_v1sa_send(sa, msg, len);
	free(msg);
	if (rc < 0)
		return rc;
	if (p1->first) {
		char idt[KEEL_ID_MAX_LEN * 4 + 1];
		keel_id_to_text(&sa->cfg.local_id, idt, sizeof(idt));
		keel_v1sa_set_state(sa, KEEL_STATE_AUTHENTICATING, KEEL_REASON_NONE,
		                    "authenticating as \"%s\" with %s", idt, proof_text(sa));
	}
	authenticated(sa, p1, gw);
	return 0;
}

int keel_v1_p1_process(struct keel_v1sa *sa, struct v1_p1 *p1)
{
	if (!sa->req_active || sa->req.kind != V1_REQ_P1 || sa->req.p1 != p1) {
		keel_v1sa_log(sa, KEEL_LOG_DEBUG, "dropping an unexpected phase 1 message");
		return KEEL_ERR_STATE;
	}
	switch (p1->step) {
	case P1_MM1:
		return process_mm2(sa, p1);
	case P1_MM3:
		return process_mm4(sa, p1);
	case P1_MM5:
		return process_mm6(sa, p1);
	case P1_AM1:
		return process_am2(sa, p1);
	case P1_IDLE:
	case P1_XAUTH:
	case P1_MODECFG:
	case P1_READY:
		break;
	}
	return KEEL_ERR_STATE;
}
