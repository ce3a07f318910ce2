/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Proposals in IKEv1 form: Keel's proposals (IKEv2 transform IDs) flattened
 * into phase 1 transforms (RFC 2409 Appendix A attributes) and ESP
 * transforms (RFC 2407 §4.4.4, §4.5), the SA payloads we send, and the
 * checks of what the gateway chose (RFC 2408 §4.2: one proposal, one
 * transform, from our offer).
 */
#include <stdio.h>
#include <string.h>

#include "crypto/prf.h"
#include "ikev1/sa.h"

/* ---- mappings ---- */

static uint16_t hash_from_prf(uint16_t prf)
{
	switch (prf) {
	case KEEL_PRF_HMAC_SHA1:
		return KEEL_V1_HASH_SHA1;
	case KEEL_PRF_HMAC_SHA2_256:
		return KEEL_V1_HASH_SHA2_256;
	case KEEL_PRF_HMAC_SHA2_384:
		return KEEL_V1_HASH_SHA2_384;
	case KEEL_PRF_HMAC_SHA2_512:
		return KEEL_V1_HASH_SHA2_512;
	default:
		return 0; /* AES-XCBC/CMAC PRFs have no IKEv1 form */
	}
}

static uint16_t hash_from_integ(uint16_t integ)
{
	switch (integ) {
	case KEEL_INTEG_HMAC_SHA1_96:
		return KEEL_V1_HASH_SHA1;
	case KEEL_INTEG_HMAC_SHA2_256_128:
		return KEEL_V1_HASH_SHA2_256;
	case KEEL_INTEG_HMAC_SHA2_384_192:
		return KEEL_V1_HASH_SHA2_384;
	case KEEL_INTEG_HMAC_SHA2_512_256:
		return KEEL_V1_HASH_SHA2_512;
	default:
		return 0;
	}
}

enum keel_prf_alg keel_v1_hash_prf(uint16_t hash)
{
	switch (hash) {
	case KEEL_V1_HASH_SHA2_256:
		return KEEL_PRF_HMAC_SHA2_256;
	case KEEL_V1_HASH_SHA2_384:
		return KEEL_PRF_HMAC_SHA2_384;
	case KEEL_V1_HASH_SHA2_512:
		return KEEL_PRF_HMAC_SHA2_512;
	default:
		return KEEL_PRF_HMAC_SHA1;
	}
}

/* IKEv2 integrity ID <-> IPsec DOI Authentication Algorithm (RFC 2407 §4.5, RFC 4868 §2.2) */
static uint16_t auth_from_integ(uint16_t integ)
{
	switch (integ) {
	case KEEL_INTEG_HMAC_SHA1_96:
		return KEEL_V1_IPSEC_AUTH_HMAC_SHA1;
	case KEEL_INTEG_HMAC_SHA2_256_128:
		return KEEL_V1_IPSEC_AUTH_HMAC_SHA2_256;
	case KEEL_INTEG_HMAC_SHA2_384_192:
		return KEEL_V1_IPSEC_AUTH_HMAC_SHA2_384;
	case KEEL_INTEG_HMAC_SHA2_512_256:
		return KEEL_V1_IPSEC_AUTH_HMAC_SHA2_512;
	case KEEL_INTEG_AES_XCBC_96:
		return KEEL_V1_IPSEC_AUTH_AES_XCBC_MAC;
	default:
		return 0;
	}
}

static uint16_t integ_from_auth(uint16_t auth)
{
	switch (auth) {
	case KEEL_V1_IPSEC_AUTH_HMAC_SHA1:
		return KEEL_INTEG_HMAC_SHA1_96;
	case KEEL_V1_IPSEC_AUTH_HMAC_SHA2_256:
		return KEEL_INTEG_HMAC_SHA2_256_128;
	case KEEL_V1_IPSEC_AUTH_HMAC_SHA2_384:
		return KEEL_INTEG_HMAC_SHA2_384_192;
	case KEEL_V1_IPSEC_AUTH_HMAC_SHA2_512:
		return KEEL_INTEG_HMAC_SHA2_512_256;
	case KEEL_V1_IPSEC_AUTH_AES_XCBC_MAC:
		return KEEL_INTEG_AES_XCBC_96;
	default:
		return 0;
	}
}

/* IKEv2 encryption ID -> ESP transform ID: the numbers agree for what Keel speaks */
static uint8_t esp_from_encr(uint16_t encr)
{
	switch (encr) {
	case KEEL_ENCR_AES_CBC:
		return KEEL_V1_ESP_AES_CBC;
	case KEEL_ENCR_AES_CTR:
		return KEEL_V1_ESP_AES_CTR;
	case KEEL_ENCR_AES_GCM_8:
		return KEEL_V1_ESP_AES_GCM_8;
	case KEEL_ENCR_AES_GCM_12:
		return KEEL_V1_ESP_AES_GCM_12;
	case KEEL_ENCR_AES_GCM_16:
		return KEEL_V1_ESP_AES_GCM_16;
	default:
		return 0; /* ChaCha20-Poly1305 has no IKEv1 ESP transform ID */
	}
}

/* IKEv2 integrity ID -> AH transform ID (RFC 2407 §4.4.3, RFC 4868 §2.2): HMAC-SHA2 only */
static uint8_t ah_from_integ(uint16_t integ)
{
	switch (integ) {
	case KEEL_INTEG_HMAC_SHA2_256_128:
		return KEEL_V1_AH_SHA2_256;
	case KEEL_INTEG_HMAC_SHA2_384_192:
		return KEEL_V1_AH_SHA2_384;
	case KEEL_INTEG_HMAC_SHA2_512_256:
		return KEEL_V1_AH_SHA2_512;
	default:
		return 0;
	}
}

/* Appends transform id with auth_alg once per ESN setting p allows. */
static void add_espx(struct keel_v1sa *sa, const struct keel_proposal *p, uint8_t prop, uint8_t id,
                     uint16_t key_bits, uint16_t auth_alg)
{
	bool esn_off = p->n_esn == 0, esn_on = false;
	for (size_t k = 0; k < p->n_esn; k++) {
		esn_off |= p->esn[k] == 0;
		esn_on |= p->esn[k] == 1;
	}
	for (int esn = 0; esn < 2; esn++) {
		if ((esn ? !esn_on : !esn_off) || sa->n_espx >= V1_MAX_ESP_XFORMS)
			continue;
		sa->espx_prop[sa->n_espx] = prop;
		sa->espx[sa->n_espx++] = (struct v1_esp_xform){
		    .esp_id = id,
		    .key_bits = key_bits,
		    .auth_alg = auth_alg,
		    .esn = esn != 0,
		};
	}
}

static bool group_ok(uint16_t g)
{
	return ((g >= 14 && g <= 21) || g == 31 || g == 32) && keel_dh_supported(g);
}

/* ---- our offers ---- */

int keel_v1_offer_build(struct keel_v1sa *sa)
{
	const struct keel_v1_options *o = &sa->opt;
	uint16_t auth = keel_v1_auth_method(sa);

	sa->n_p1x = 0;
	for (size_t i = 0; i < o->n_ike_proposals; i++) {
		const struct keel_proposal *p = &o->ike_proposals[i];
		uint16_t hashes[KEEL_PROPOSAL_MAX_ALGS];
		size_t n_h = 0;
		for (size_t k = 0; k < p->n_prf; k++) {
			uint16_t h = hash_from_prf(p->prf[k]);
			if (h && n_h < KEEL_PROPOSAL_MAX_ALGS)
				hashes[n_h++] = h;
		}
		for (size_t k = 0; p->n_prf == 0 && k < p->n_integ; k++) {
			uint16_t h = hash_from_integ(p->integ[k]);
			if (h && n_h < KEEL_PROPOSAL_MAX_ALGS)
				hashes[n_h++] = h;
		}
		for (size_t e = 0; e < p->n_encr; e++) {
			const struct keel_encr_alg *ea = &p->encr[e];
			/* RFC 3602 AES-CBC is the one phase 1 cipher: IKEv1 has no AEAD form */
			if (ea->id != KEEL_ENCR_AES_CBC ||
			    !keel_encr_supported(ea->id, ea->key_bits))
				continue;
			for (size_t h = 0; h < n_h; h++) {
				for (size_t g = 0; g < p->n_dh; g++) {
					if (!group_ok(p->dh[g]) || sa->n_p1x >= V1_MAX_P1_XFORMS)
						continue;
					sa->p1x[sa->n_p1x++] = (struct v1_p1_xform){
					    .encr = KEEL_V1_ENCR_AES_CBC,
					    .key_bits = ea->key_bits,
					    .hash = hashes[h],
					    .group = p->dh[g],
					    .auth = auth,
					    .life_s = sa->cfg.ike_lifetime.life_s,
					};
				}
			}
		}
	}
	sa->n_espx = 0;
	sa->child_proto = sa->cfg.n_ah_proposals ? KEEL_V1_PROTO_AH : KEEL_V1_PROTO_ESP;
	/* RFC 2407 §4.4.3, §4.5: an AH transform ID and its Authentication Algorithm */
	for (size_t i = 0; i < sa->cfg.n_ah_proposals; i++) {
		const struct keel_proposal *p = &sa->cfg.ah_proposals[i];
		for (size_t k = 0; k < p->n_integ; k++)
			if (ah_from_integ(p->integ[k]))
				add_espx(sa, p, (uint8_t)(i + 1), ah_from_integ(p->integ[k]), 0,
				         auth_from_integ(p->integ[k]));
	}
	for (size_t i = 0; !sa->cfg.n_ah_proposals && i < sa->cfg.n_esp_proposals; i++) {
		const struct keel_proposal *p = &sa->cfg.esp_proposals[i];
		for (size_t e = 0; e < p->n_encr; e++) {
			const struct keel_encr_alg *ea = &p->encr[e];
			uint8_t id = esp_from_encr(ea->id);
			if (!id || !keel_encr_supported(ea->id, ea->key_bits))
				continue;
			bool aead = keel_encr_is_aead(ea->id);
			size_t n_i = aead ? 1 : p->n_integ;
			for (size_t k = 0; k < n_i; k++) {
				uint16_t a = aead ? 0 : auth_from_integ(p->integ[k]);
				if (!aead && !a)
					continue;
				add_espx(sa, p, (uint8_t)(i + 1), id, ea->key_bits, a);
			}
		}
	}
	if (sa->n_p1x == 0 || sa->n_espx == 0)
		return KEEL_ERR_UNSUPPORTED;
	return 0;
}

void keel_v1_enc_p1_sa(struct keel_v1sa *sa, struct keel_v1_enc *e)
{
	/* RFC 2409 §5: one ISAKMP proposal, one transform per acceptable combination */
	keel_v1_enc_sa_begin(e, KEEL_V1_DOI_IPSEC, KEEL_V1_SIT_IDENTITY_ONLY);
	keel_v1_enc_proposal_begin(e, 1, KEEL_V1_PROTO_ISAKMP, NULL, 0);
	for (size_t i = 0; i < sa->n_p1x; i++) {
		const struct v1_p1_xform *x = &sa->p1x[i];
		keel_v1_enc_transform_begin(e, (uint8_t)(i + 1), KEEL_V1_KEY_IKE);
		keel_v1_enc_attr_basic(e, KEEL_V1_IKE_ATTR_ENCR, x->encr);
		keel_v1_enc_attr_basic(e, KEEL_V1_IKE_ATTR_KEY_LENGTH, x->key_bits);
		keel_v1_enc_attr_basic(e, KEEL_V1_IKE_ATTR_HASH, x->hash);
		keel_v1_enc_attr_basic(e, KEEL_V1_IKE_ATTR_GROUP_DESC, x->group);
		keel_v1_enc_attr_basic(e, KEEL_V1_IKE_ATTR_AUTH_METHOD, x->auth);
		if (x->life_s) {
			keel_v1_enc_attr_basic(e, KEEL_V1_IKE_ATTR_LIFE_TYPE, KEEL_V1_LIFE_SECONDS);
			keel_v1_enc_attr_int(e, KEEL_V1_IKE_ATTR_LIFE_DURATION, x->life_s);
		}
		keel_v1_enc_transform_end(e);
	}
	keel_v1_enc_proposal_end(e);
	keel_v1_enc_sa_end(e);
}

/*
 * Life Type / Life Duration pairs (RFC 2409 Appendix A, RFC 2407 §4.5): a
 * duration applies to the type before it. Returns the seconds, 0 if none.
 */
static uint32_t life_seconds(const struct keel_v1_attrs *l, uint16_t type_class, uint16_t dur_class)
{
	uint16_t type = 0;
	uint32_t secs = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct keel_v1_attr *a = &l->a[i];
		uint32_t v;
		if (a->type == type_class && keel_v1_attr_u32(a, &v) == 0)
			type = (uint16_t)v;
		else if (a->type == dur_class && type == KEEL_V1_LIFE_SECONDS &&
		         keel_v1_attr_u32(a, &v) == 0)
			secs = v;
	}
	return secs;
}

static uint32_t lower_life(uint32_t ours, uint32_t theirs)
{
	if (!ours)
		return theirs;
	if (!theirs)
		return ours;
	return theirs < ours ? theirs : ours;
}

uint32_t keel_v1_lifetime_attrs(const uint8_t *p, size_t len, bool ike)
{
	struct keel_v1_attrs l;
	if (keel_v1_attrs_decode(p, len, &l) < 0)
		return 0;
	uint32_t s =
	    ike ? life_seconds(&l, KEEL_V1_IKE_ATTR_LIFE_TYPE, KEEL_V1_IKE_ATTR_LIFE_DURATION) : 0;
	if (!s) /* RFC 2407 §4.6.3.1 speaks of the IPsec SA attributes; some use them for IKE too */
		s = life_seconds(&l, KEEL_V1_IPSEC_ATTR_LIFE_TYPE,
		                 KEEL_V1_IPSEC_ATTR_LIFE_DURATION);
	return s;
}

static bool attr_val(const struct keel_v1_attrs *l, uint16_t type, uint16_t *out)
{
	const struct keel_v1_attr *a = keel_v1_attrs_find(l, type);
	uint32_t v;
	if (!a || keel_v1_attr_u32(a, &v) < 0 || v > UINT16_MAX)
		return false;
	*out = (uint16_t)v;
	return true;
}

int keel_v1_p1_choice(struct keel_v1sa *sa, struct v1_p1 *p1, const struct keel_v1_payload *pl)
{
	struct keel_v1_sa *s = &sa->rx_sa;
	struct keel_v1_attrs *l = &sa->attrs;
	uint16_t encr, bits = 0, hash, group, auth;

	if (keel_v1_sa_decode(pl, s) < 0 || keel_v1_sa_verify(s) < 0)
		return KEEL_ERR_MALFORMED;
	/* RFC 2408 §4.2: the responder answers with the one proposal and transform it chose */
	if (s->n_proposals != 1 || s->proposals[0].protocol != KEEL_V1_PROTO_ISAKMP ||
	    s->proposals[0].n_transforms != 1)
		return KEEL_ERR_MALFORMED;
	const struct keel_v1_transform *t = &s->transforms[s->proposals[0].first];
	if (t->id != KEEL_V1_KEY_IKE || keel_v1_attrs_decode(t->attrs, t->attrs_len, l) < 0)
		return KEEL_ERR_MALFORMED;
	if (!attr_val(l, KEEL_V1_IKE_ATTR_ENCR, &encr) ||
	    !attr_val(l, KEEL_V1_IKE_ATTR_HASH, &hash) ||
	    !attr_val(l, KEEL_V1_IKE_ATTR_GROUP_DESC, &group) ||
	    !attr_val(l, KEEL_V1_IKE_ATTR_AUTH_METHOD, &auth))
		return KEEL_ERR_MALFORMED;
	attr_val(l, KEEL_V1_IKE_ATTR_KEY_LENGTH, &bits);
	/* attributes we never offer: a PRF, a private group */
	if (keel_v1_attrs_find(l, KEEL_V1_IKE_ATTR_PRF) ||
	    keel_v1_attrs_find(l, KEEL_V1_IKE_ATTR_GROUP_TYPE) ||
	    keel_v1_attrs_find(l, KEEL_V1_IKE_ATTR_GROUP_PRIME))
		return KEEL_ERR_MALFORMED;
	for (size_t i = 0; i < sa->n_p1x; i++) {
		const struct v1_p1_xform *x = &sa->p1x[i];
		if (x->encr != encr || x->key_bits != bits || x->hash != hash ||
		    x->group != group || x->auth != auth)
			continue;
		p1->xf = *x;
		uint32_t life =
		    life_seconds(l, KEEL_V1_IKE_ATTR_LIFE_TYPE, KEEL_V1_IKE_ATTR_LIFE_DURATION);
		p1->xf.life_s = lower_life(x->life_s, life);
		p1->prf = keel_v1_hash_prf(hash);
		return 0;
	}
	return KEEL_ERR_MALFORMED;
}

static uint16_t encap_mode(const struct keel_v1sa *sa)
{
	/* RFC 3947 §5.2 (and the drafts' private value) once a NAT is between us */
	if (!sa->natt)
		return KEEL_V1_ENCAP_TUNNEL;
	return sa->natt_draft ? KEEL_V1_ENCAP_UDP_TUNNEL_DRAFT : KEEL_V1_ENCAP_UDP_TUNNEL;
}

static void enc_esp_attrs(struct keel_v1_enc *e, const struct v1_esp_xform *x, uint16_t group,
                          uint16_t encap, uint32_t life_s)
{
	if (x->key_bits)
		keel_v1_enc_attr_basic(e, KEEL_V1_IPSEC_ATTR_KEY_LENGTH, x->key_bits);
	/* RFC 4106 §8.1: with GCM no Authentication Algorithm */
	if (x->auth_alg)
		keel_v1_enc_attr_basic(e, KEEL_V1_IPSEC_ATTR_AUTH_ALG, x->auth_alg);
	keel_v1_enc_attr_basic(e, KEEL_V1_IPSEC_ATTR_ENCAP_MODE, encap);
	if (group)
		keel_v1_enc_attr_basic(e, KEEL_V1_IPSEC_ATTR_GROUP_DESC, group);
	if (life_s) {
		keel_v1_enc_attr_basic(e, KEEL_V1_IPSEC_ATTR_LIFE_TYPE, KEEL_V1_LIFE_SECONDS);
		keel_v1_enc_attr_int(e, KEEL_V1_IPSEC_ATTR_LIFE_DURATION, life_s);
	}
	if (x->esn) /* RFC 4304 §2 */
		keel_v1_enc_attr_basic(e, KEEL_V1_IPSEC_ATTR_ESN, 1);
}

void keel_v1_enc_esp_sa(struct keel_v1sa *sa, struct keel_v1_enc *e, uint32_t spi, uint16_t group)
{
	uint8_t spib[4];
	keel_v1_put32(spib, spi);
	keel_v1_enc_sa_begin(e, KEEL_V1_DOI_IPSEC, KEEL_V1_SIT_IDENTITY_ONLY);
	/* one proposal per configured proposal, its combinations as transforms (alternatives) */
	for (size_t i = 0; i < sa->n_espx;) {
		uint8_t prop = sa->espx_prop[i];
		uint8_t xn = 1;
		keel_v1_enc_proposal_begin(e, prop, sa->child_proto, spib, 4);
		for (; i < sa->n_espx && sa->espx_prop[i] == prop; i++) {
			keel_v1_enc_transform_begin(e, xn++, sa->espx[i].esp_id);
			enc_esp_attrs(e, &sa->espx[i], group, encap_mode(sa),
			              sa->cfg.child_lifetime.life_s);
			keel_v1_enc_transform_end(e);
		}
		keel_v1_enc_proposal_end(e);
	}
	keel_v1_enc_sa_end(e);
}

static bool encap_ok(const struct keel_v1sa *sa, uint16_t encap)
{
	if (!sa->natt)
		return encap == KEEL_V1_ENCAP_TUNNEL;
	return encap == KEEL_V1_ENCAP_UDP_TUNNEL || encap == KEEL_V1_ENCAP_UDP_TUNNEL_DRAFT;
}

/* The transform's values; false if it is not one we could have offered. */
static bool esp_xform_read(const struct keel_v1_attrs *l, uint8_t id, struct v1_esp_xform *x,
                           uint16_t *group, uint16_t *encap)
{
	uint16_t esn = 0;
	memset(x, 0, sizeof(*x));
	x->esp_id = id;
	*group = 0;
	*encap = KEEL_V1_ENCAP_TUNNEL; /* RFC 2407 §4.5: unspecified means tunnel... by policy */
	attr_val(l, KEEL_V1_IPSEC_ATTR_KEY_LENGTH, &x->key_bits);
	attr_val(l, KEEL_V1_IPSEC_ATTR_AUTH_ALG, &x->auth_alg);
	attr_val(l, KEEL_V1_IPSEC_ATTR_GROUP_DESC, group);
	attr_val(l, KEEL_V1_IPSEC_ATTR_ENCAP_MODE, encap);
	attr_val(l, KEEL_V1_IPSEC_ATTR_ESN, &esn);
	x->esn = esn == 1;
	return true;
}

static bool esp_xform_eq(const struct v1_esp_xform *a, const struct v1_esp_xform *b)
{
	return a->esp_id == b->esp_id && a->key_bits == b->key_bits && a->auth_alg == b->auth_alg &&
	       a->esn == b->esn;
}

static void algs_from(const struct keel_v1sa *sa, const struct v1_esp_xform *x, uint16_t group,
                      struct v1_algs *alg)
{
	memset(alg, 0, sizeof(*alg));
	if (sa->child_proto == KEEL_V1_PROTO_ESP) {
		alg->encr = x->esp_id; /* same numbers, see esp_from_encr() */
		alg->encr_key_bits = x->key_bits;
	}
	alg->integ = integ_from_auth(x->auth_alg);
	alg->esn = x->esn;
	alg->group = group;
}

int keel_v1_esp_choice(struct keel_v1sa *sa, struct v1_qm *q, const struct keel_v1_payload *pl)
{
	struct keel_v1_sa *s = &sa->rx_sa;
	struct keel_v1_attrs *l = &sa->attrs;
	struct v1_esp_xform x;
	uint16_t group, encap;

	if (keel_v1_sa_decode(pl, s) < 0 || keel_v1_sa_verify(s) < 0)
		return KEEL_ERR_MALFORMED;
	if (s->n_proposals != 1 || s->proposals[0].protocol != sa->child_proto ||
	    s->proposals[0].spi_len != 4 || s->proposals[0].n_transforms != 1)
		return KEEL_ERR_MALFORMED;
	const struct keel_v1_transform *t = &s->transforms[s->proposals[0].first];
	if (keel_v1_attrs_decode(t->attrs, t->attrs_len, l) < 0)
		return KEEL_ERR_MALFORMED;
	esp_xform_read(l, t->id, &x, &group, &encap);
	if (group != q->group || !encap_ok(sa, encap))
		return KEEL_ERR_MALFORMED;
	for (size_t i = 0; i < sa->n_espx; i++) {
		if (!esp_xform_eq(&sa->espx[i], &x))
			continue;
		algs_from(sa, &x, group, &q->alg);
		q->life_s = lower_life(sa->cfg.child_lifetime.life_s,
		                       life_seconds(l, KEEL_V1_IPSEC_ATTR_LIFE_TYPE,
		                                    KEEL_V1_IPSEC_ATTR_LIFE_DURATION));
		q->spi_out = keel_v1_get32(s->proposals[0].spi);
		return 0;
	}
	return KEEL_ERR_MALFORMED;
}

int keel_v1_esp_select(struct keel_v1sa *sa, struct v1_qm *q, const struct keel_v1_payload *pl,
                       uint8_t *prop_no, uint8_t *xf_no, uint16_t *encap_out)
{
	struct keel_v1_sa *s = &sa->rx_sa;
	struct keel_v1_attrs *l = &sa->attrs;

	if (keel_v1_sa_decode(pl, s) < 0 || keel_v1_sa_verify(s) < 0)
		return KEEL_ERR_MALFORMED;
	for (size_t p = 0; p < s->n_proposals; p++) {
		const struct keel_v1_proposal *pr = &s->proposals[p];
		/* a bundle (AH + ESP under one number) is not for us */
		bool bundle =
		    (p + 1 < s->n_proposals && s->proposals[p + 1].number == pr->number) ||
		    (p > 0 && s->proposals[p - 1].number == pr->number);
		if (bundle || pr->protocol != sa->child_proto || pr->spi_len != 4)
			continue;
		for (size_t k = 0; k < pr->n_transforms; k++) {
			const struct keel_v1_transform *t = &s->transforms[pr->first + k];
			struct v1_esp_xform x;
			uint16_t group, encap;
			if (keel_v1_attrs_decode(t->attrs, t->attrs_len, l) < 0)
				continue;
			esp_xform_read(l, t->id, &x, &group, &encap);
			if (!encap_ok(sa, encap) || (group && !group_ok(group)))
				continue;
			for (size_t i = 0; i < sa->n_espx; i++) {
				if (!esp_xform_eq(&sa->espx[i], &x))
					continue;
				algs_from(sa, &x, group, &q->alg);
				q->group = group;
				q->life_s =
				    lower_life(sa->cfg.child_lifetime.life_s,
				               life_seconds(l, KEEL_V1_IPSEC_ATTR_LIFE_TYPE,
				                            KEEL_V1_IPSEC_ATTR_LIFE_DURATION));
				q->spi_out = keel_v1_get32(pr->spi);
				*prop_no = pr->number;
				*xf_no = t->number;
				*encap_out = encap;
				return 0;
			}
		}
	}
	return KEEL_ERR_UNSUPPORTED;
}

void keel_v1_enc_esp_chosen(struct keel_v1sa *sa, struct keel_v1_enc *e, const struct v1_qm *q,
                            uint8_t prop_no, uint8_t xf_no, uint16_t encap)
{
	uint8_t spib[4];
	struct v1_esp_xform x = {
	    .esp_id = sa->child_proto == KEEL_V1_PROTO_AH ? ah_from_integ(q->alg.integ)
	                                                  : (uint8_t)q->alg.encr,
	    .key_bits = q->alg.encr_key_bits,
	    .auth_alg = auth_from_integ(q->alg.integ),
	    .esn = q->alg.esn,
	};
	keel_v1_put32(spib, q->spi_in);
	keel_v1_enc_sa_begin(e, KEEL_V1_DOI_IPSEC, KEEL_V1_SIT_IDENTITY_ONLY);
	keel_v1_enc_proposal_begin(e, prop_no, sa->child_proto, spib, 4);
	keel_v1_enc_transform_begin(e, xf_no, x.esp_id);
	enc_esp_attrs(e, &x, q->group, encap, q->life_s);
	keel_v1_enc_transform_end(e);
	keel_v1_enc_proposal_end(e);
	keel_v1_enc_sa_end(e);
}

int keel_v1_algs_key_lens(const struct v1_algs *a, ptrdiff_t *encr_len, ptrdiff_t *integ_len)
{
	enum keel_integ_alg ia = KEEL_INTEG_NONE;
	/* AH (encr 0): integrity keys only */
	ptrdiff_t el = a->encr ? keel_encr_keymat_len(a->encr, a->encr_key_bits) : 0;
	if (el < 0)
		return (int)el;
	if (a->integ && keel_integ_from_ikev2_id(a->integ, &ia) < 0)
		return KEEL_ERR_UNSUPPORTED;
	if (el == 0 && ia == KEEL_INTEG_NONE)
		return KEEL_ERR_UNSUPPORTED;
	*encr_len = el;
	*integ_len = keel_integ_key_len(ia);
	return 0;
}

/* ---- text, in the profile syntax ---- */

static const char *hash_kw(uint16_t h)
{
	switch (h) {
	case KEEL_V1_HASH_SHA1:
		return "sha1";
	case KEEL_V1_HASH_SHA2_256:
		return "sha256";
	case KEEL_V1_HASH_SHA2_384:
		return "sha384";
	case KEEL_V1_HASH_SHA2_512:
		return "sha512";
	default:
		return "?";
	}
}

static const char *group_kw(uint16_t g)
{
	switch (g) {
	case 14:
		return "modp2048";
	case 15:
		return "modp3072";
	case 16:
		return "modp4096";
	case 17:
		return "modp6144";
	case 18:
		return "modp8192";
	case 19:
		return "ecp256";
	case 20:
		return "ecp384";
	case 21:
		return "ecp521";
	case 31:
		return "x25519";
	case 32:
		return "x448";
	default:
		return "?";
	}
}

void keel_v1_p1_xform_text(const struct v1_p1_xform *x, char *buf, size_t cap)
{
	snprintf(buf, cap, "aes%u-%s-%s", x->key_bits, hash_kw(x->hash), group_kw(x->group));
}

static const char *integ_kw(uint16_t integ)
{
	switch (integ) {
	case KEEL_INTEG_HMAC_SHA1_96:
		return "sha1";
	case KEEL_INTEG_HMAC_SHA2_256_128:
		return "sha256";
	case KEEL_INTEG_HMAC_SHA2_384_192:
		return "sha384";
	case KEEL_INTEG_HMAC_SHA2_512_256:
		return "sha512";
	case KEEL_INTEG_AES_XCBC_96:
		return "aesxcbc";
	default:
		return NULL;
	}
}

static void esp_text(uint16_t encr, uint16_t bits, uint16_t integ, bool esn, uint16_t group,
                     char *buf, size_t cap)
{
	const char *mode = "";
	switch (encr) {
	case KEEL_ENCR_AES_CTR:
		mode = "ctr";
		break;
	case KEEL_ENCR_AES_GCM_8:
		mode = "gcm8";
		break;
	case KEEL_ENCR_AES_GCM_12:
		mode = "gcm12";
		break;
	case KEEL_ENCR_AES_GCM_16:
		mode = "gcm16";
		break;
	default:
		break;
	}
	const char *i = integ_kw(integ);
	if (encr == 0) { /* AH */
		snprintf(buf, cap, "%s%s%s%s", i ? i : "?", group ? "-" : "",
		         group ? group_kw(group) : "", esn ? "-esn" : "");
		return;
	}
	snprintf(buf, cap, "aes%u%s%s%s%s%s%s", bits, mode, i ? "-" : "", i ? i : "",
	         group ? "-" : "", group ? group_kw(group) : "", esn ? "-esn" : "");
}

void keel_v1_algs_text(const struct v1_algs *a, char *buf, size_t cap)
{
	esp_text(a->encr, a->encr_key_bits, a->integ, a->esn, a->group, buf, cap);
}

void keel_v1_offer_text(const struct keel_v1sa *sa, bool esp, char *buf, size_t cap)
{
	size_t len = 0, n = esp ? sa->n_espx : sa->n_p1x;
	if (cap == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char one[80];
		if (esp) {
			const struct v1_esp_xform *x = &sa->espx[i];
			esp_text(sa->child_proto == KEEL_V1_PROTO_AH ? 0 : x->esp_id, x->key_bits,
			         integ_from_auth(x->auth_alg), x->esn, sa->opt.pfs_group, one,
			         sizeof(one));
		} else {
			keel_v1_p1_xform_text(&sa->p1x[i], one, sizeof(one));
		}
		int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", one);
		if (w < 0 || (size_t)w >= cap - len) {
			if (cap > 4)
				memcpy(buf + cap - 4, "...", 4);
			return;
		}
		len += (size_t)w;
	}
}
