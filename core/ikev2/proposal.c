/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SA payloads (RFC 7296 §3.3): ours from the configured proposals, checking
 * the responder's choice (§2.7), and choosing from the peer's offer when we
 * answer a CREATE_CHILD_SA.
 */
#include <stdio.h>
#include <string.h>

#include "crypto/cipher.h"
#include "crypto/dh.h"
#include "crypto/prf.h"
#include "ikev2/sa.h"

static bool is_aead(uint16_t encr)
{
	return keel_encr_is_aead(encr);
}

/* ESP and AH SAs have 4-byte SPIs and may negotiate ESN (RFC 7296 §3.3.1, §3.3.2). */
static bool is_child_proto(uint8_t protocol)
{
	return protocol == KEEL_V2_PROTO_ESP || protocol == KEEL_V2_PROTO_AH;
}

int keel_sa_payload_build(struct keel_v2_sa *out, const struct keel_proposal *props, size_t n,
                          uint8_t protocol, const uint8_t *spi, size_t spi_len, bool with_dh)
{
	int rc = 0;
	keel_v2_sa_init(out);
	for (size_t i = 0; i < n; i++) {
		const struct keel_proposal *p = &props[i];
		if ((rc = keel_v2_sa_add_proposal(out, protocol, spi, spi_len)) < 0)
			return rc;
		for (uint8_t k = 0; k < p->n_encr && rc == 0; k++)
			rc = keel_v2_sa_add_transform(out, KEEL_V2_TRANSFORM_ENCR, p->encr[k].id,
			                              p->encr[k].key_bits);
		if (protocol == KEEL_V2_PROTO_IKE)
			for (uint8_t k = 0; k < p->n_prf && rc == 0; k++)
				rc = keel_v2_sa_add_transform(out, KEEL_V2_TRANSFORM_PRF, p->prf[k],
				                              0);
		for (uint8_t k = 0; k < p->n_integ && rc == 0; k++)
			rc = keel_v2_sa_add_transform(out, KEEL_V2_TRANSFORM_INTEG, p->integ[k], 0);
		if (with_dh)
			for (uint8_t k = 0; k < p->n_dh && rc == 0; k++)
				rc = keel_v2_sa_add_transform(out, KEEL_V2_TRANSFORM_DH, p->dh[k],
				                              0);
		if (is_child_proto(protocol)) {
			if (p->n_esn == 0 && rc == 0)
				rc = keel_v2_sa_add_transform(out, KEEL_V2_TRANSFORM_ESN, 0, 0);
			for (uint8_t k = 0; k < p->n_esn && k < 2 && rc == 0; k++)
				rc = keel_v2_sa_add_transform(out, KEEL_V2_TRANSFORM_ESN, p->esn[k],
				                              0);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static bool has_encr(const struct keel_proposal *p, uint16_t id, unsigned bits)
{
	for (uint8_t k = 0; k < p->n_encr; k++)
		if (p->encr[k].id == id && p->encr[k].key_bits == bits)
			return true;
	return false;
}

static bool has_u16(const uint16_t *list, uint8_t n, uint16_t v)
{
	for (uint8_t k = 0; k < n; k++)
		if (list[k] == v)
			return true;
	return false;
}

static bool has_esn(const struct keel_proposal *p, uint16_t v)
{
	if (p->n_esn == 0)
		return v == 0;
	for (uint8_t k = 0; k < p->n_esn && k < 2; k++)
		if (p->esn[k] == v)
			return true;
	return false;
}

/*
 * Does the single-choice proposal prop (transforms at t[0..n)) fit ours?
 * want_dh: 1 a DH transform is required, 0 forbidden, -1 either.
 * RFC 7296 §2.7 / §3.3.6: one transform of each type.
 */
static bool fits(const struct keel_v2_transform *t, size_t n, const struct keel_proposal *ours,
                 uint8_t protocol, int want_dh, struct keel_algs *alg)
{
	struct keel_algs a;
	unsigned seen[6] = {0};
	memset(&a, 0, sizeof(a));
	for (size_t i = 0; i < n; i++) {
		if (t[i].type < 1 || t[i].type > 5)
			return false;
		if (seen[t[i].type]++)
			return false;
		switch (t[i].type) {
		case KEEL_V2_TRANSFORM_PRF:
			a.prf = t[i].id;
			if (protocol != KEEL_V2_PROTO_IKE ||
			    !has_u16(ours->prf, ours->n_prf, a.prf))
				return false;
			break;
		case KEEL_V2_TRANSFORM_INTEG:
			a.integ = t[i].id;
			/* INTEG "NONE" with an AEAD is allowed (RFC 5282 §8) */
			if (a.integ != 0 && !has_u16(ours->integ, ours->n_integ, a.integ))
				return false;
			break;
		case KEEL_V2_TRANSFORM_DH:
			a.dh = t[i].id;
			if (a.dh != 0 && !has_u16(ours->dh, ours->n_dh, a.dh))
				return false;
			break;
		case KEEL_V2_TRANSFORM_ENCR:
			/* RFC 7296 §3.3.3: AH has no encryption transform */
			if (protocol == KEEL_V2_PROTO_AH)
				return false;
			a.encr = t[i].id;
			a.encr_key_bits = (uint16_t)keel_v2_transform_key_len(&t[i]);
			if (!has_encr(ours, a.encr, a.encr_key_bits))
				return false;
			break;
		case KEEL_V2_TRANSFORM_ESN:
			if (!is_child_proto(protocol) || !has_esn(ours, t[i].id))
				return false;
			a.esn = (uint8_t)t[i].id;
			break;
		}
	}
	if (protocol == KEEL_V2_PROTO_AH) {
		/* RFC 7296 §3.3.3: AH needs an integrity algorithm, and NONE is none */
		if (a.integ == 0)
			return false;
	} else if (!seen[KEEL_V2_TRANSFORM_ENCR] ||
	           (is_aead(a.encr) ? a.integ != 0 : a.integ == 0)) {
		return false;
	}
	if (protocol == KEEL_V2_PROTO_IKE && (!seen[KEEL_V2_TRANSFORM_PRF] || a.dh == 0))
		return false;
	if (want_dh == 1 && a.dh == 0)
		return false;
	if (want_dh == 0 && a.dh != 0)
		return false;
	*alg = a;
	return true;
}

int keel_sa_payload_check(const struct keel_v2_sa *got, const struct keel_proposal *props, size_t n,
                          uint8_t protocol, int want_dh, struct keel_algs *alg, uint8_t *spi,
                          size_t *spi_len)
{
	if (got->n_proposals != 1)
		return KEEL_ERR_MALFORMED;
	const struct keel_v2_proposal *p = &got->proposals[0];
	if (p->protocol != protocol || (size_t)p->first + p->n_transforms > got->n_transforms)
		return KEEL_ERR_MALFORMED;
	size_t want_spi = is_child_proto(protocol) ? 4 : (spi ? 8 : 0);
	if (p->spi.len != want_spi)
		return KEEL_ERR_MALFORMED;
	const struct keel_v2_transform *t = &got->transforms[p->first];
	/* the proposal number says which of ours was taken (§3.3.1); fall back to any */
	bool ok = false;
	struct keel_algs a;
	if (p->num >= 1 && p->num <= n)
		ok = fits(t, p->n_transforms, &props[p->num - 1], protocol, want_dh, &a);
	for (size_t i = 0; i < n && !ok; i++)
		ok = fits(t, p->n_transforms, &props[i], protocol, want_dh, &a);
	if (!ok)
		return KEEL_ERR_MALFORMED;
	*alg = a;
	if (spi && spi_len) {
		memcpy(spi, p->spi.p, p->spi.len);
		*spi_len = p->spi.len;
	}
	return 0;
}

static bool transform_ok(const struct keel_v2_transform *t, const struct keel_proposal *ours)
{
	switch (t->type) {
	case KEEL_V2_TRANSFORM_ENCR:
		return has_encr(ours, t->id, keel_v2_transform_key_len(t));
	case KEEL_V2_TRANSFORM_PRF:
		return has_u16(ours->prf, ours->n_prf, t->id);
	case KEEL_V2_TRANSFORM_INTEG:
		return t->id == 0 || has_u16(ours->integ, ours->n_integ, t->id);
	case KEEL_V2_TRANSFORM_DH:
		return t->id == 0 ||
		       (has_u16(ours->dh, ours->n_dh, t->id) && keel_dh_supported(t->id));
	case KEEL_V2_TRANSFORM_ESN:
		return has_esn(ours, t->id);
	default:
		return false;
	}
}

/*
 * Responder side (CREATE_CHILD_SA from the peer): for each of the peer's
 * proposals in order, and each of ours, takes per transform type the first
 * of the peer's transforms that ours allows; for DH the group of the peer's
 * KE payload (ke_group) when it is among them. RFC 7296 §2.7.
 */
int keel_sa_payload_choose(const struct keel_v2_sa *offer, const struct keel_proposal *props,
                           size_t n, uint8_t protocol, uint16_t ke_group, struct keel_algs *alg,
                           uint8_t *number, uint8_t *spi, size_t *spi_len)
{
	size_t want_spi = is_child_proto(protocol) ? 4 : 8;
	for (size_t pi = 0; pi < offer->n_proposals; pi++) {
		const struct keel_v2_proposal *p = &offer->proposals[pi];
		if (p->protocol != protocol || p->spi.len != want_spi ||
		    (size_t)p->first + p->n_transforms > offer->n_transforms)
			continue;
		const struct keel_v2_transform *t = &offer->transforms[p->first];
		bool dh_offered = false;
		for (size_t i = 0; i < p->n_transforms; i++)
			if (t[i].type == KEEL_V2_TRANSFORM_DH && t[i].id != 0)
				dh_offered = true;
		for (size_t oi = 0; oi < n; oi++) {
			const struct keel_proposal *ours = &props[oi];
			struct keel_v2_transform pick[6];
			bool have[6] = {false};
			for (size_t i = 0; i < p->n_transforms; i++) {
				uint8_t ty = t[i].type;
				if (ty < 1 || ty > 5 || !transform_ok(&t[i], ours))
					continue;
				bool better = ty == KEEL_V2_TRANSFORM_DH && ke_group != 0 &&
				              t[i].id == ke_group;
				if (have[ty] && !better)
					continue;
				pick[ty] = t[i];
				have[ty] = true;
			}
			struct keel_v2_transform chosen[5];
			size_t nc = 0;
			for (int ty = 1; ty <= 5; ty++)
				if (have[ty])
					chosen[nc++] = pick[ty];
			/* the peer asked for PFS (or a new IKE SA): a group must be agreed */
			int need_dh = (dh_offered || protocol == KEEL_V2_PROTO_IKE) ? 1 : 0;
			struct keel_algs a;
			if (!fits(chosen, nc, ours, protocol, need_dh, &a))
				continue;
			*alg = a;
			*number = p->num;
			memcpy(spi, p->spi.p, p->spi.len);
			*spi_len = p->spi.len;
			return 0;
		}
	}
	return KEEL_ERR_UNSUPPORTED;
}

int keel_sa_payload_build_chosen(struct keel_v2_sa *out, uint8_t number, uint8_t protocol,
                                 const uint8_t *spi, size_t spi_len, const struct keel_algs *alg)
{
	int rc;
	keel_v2_sa_init(out);
	if ((rc = keel_v2_sa_add_proposal(out, protocol, spi, spi_len)) < 0)
		return rc;
	out->proposals[0].num = number;
	if (protocol != KEEL_V2_PROTO_AH)
		rc = keel_v2_sa_add_transform(out, KEEL_V2_TRANSFORM_ENCR, alg->encr,
		                              alg->encr_key_bits);
	if (rc == 0 && protocol == KEEL_V2_PROTO_IKE)
		rc = keel_v2_sa_add_transform(out, KEEL_V2_TRANSFORM_PRF, alg->prf, 0);
	if (rc == 0 && alg->integ)
		rc = keel_v2_sa_add_transform(out, KEEL_V2_TRANSFORM_INTEG, alg->integ, 0);
	if (rc == 0 && alg->dh)
		rc = keel_v2_sa_add_transform(out, KEEL_V2_TRANSFORM_DH, alg->dh, 0);
	if (rc == 0 && is_child_proto(protocol))
		rc = keel_v2_sa_add_transform(out, KEEL_V2_TRANSFORM_ESN, alg->esn, 0);
	return rc;
}

void keel_proposals_text(const struct keel_proposal *props, size_t n, char *buf, size_t cap)
{
	size_t len = 0;
	if (cap == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char one[256];
		if (keel_proposal_to_text(&props[i], one, sizeof(one)) < 0)
			continue;
		int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", one);
		if (w < 0 || (size_t)w >= cap - len)
			return;
		len += (size_t)w;
	}
}

/* strongSwan's names, so that users can compare with the gateway's log */
static const char *encr_text(uint16_t id)
{
	switch (id) {
	case KEEL_V2_ENCR_AES_CBC:
		return "AES_CBC";
	case KEEL_V2_ENCR_AES_CTR:
		return "AES_CTR";
	case KEEL_V2_ENCR_AES_GCM_8:
		return "AES_GCM_8";
	case KEEL_V2_ENCR_AES_GCM_12:
		return "AES_GCM_12";
	case KEEL_V2_ENCR_AES_GCM_16:
		return "AES_GCM_16";
	case KEEL_V2_ENCR_CHACHA20_POLY1305:
		return "CHACHA20_POLY1305";
	default:
		return NULL;
	}
}

static const char *integ_text(uint16_t id)
{
	switch (id) {
	case KEEL_V2_INTEG_HMAC_SHA1_96:
		return "HMAC_SHA1_96";
	case KEEL_V2_INTEG_AES_XCBC_96:
		return "AES_XCBC_96";
	case KEEL_V2_INTEG_HMAC_SHA2_256_128:
		return "HMAC_SHA2_256_128";
	case KEEL_V2_INTEG_HMAC_SHA2_384_192:
		return "HMAC_SHA2_384_192";
	case KEEL_V2_INTEG_HMAC_SHA2_512_256:
		return "HMAC_SHA2_512_256";
	default:
		return NULL;
	}
}

static const char *prf_text(uint16_t id)
{
	switch (id) {
	case KEEL_V2_PRF_HMAC_SHA1:
		return "PRF_HMAC_SHA1";
	case KEEL_V2_PRF_AES128_XCBC:
		return "PRF_AES128_XCBC";
	case KEEL_V2_PRF_HMAC_SHA2_256:
		return "PRF_HMAC_SHA2_256";
	case KEEL_V2_PRF_HMAC_SHA2_384:
		return "PRF_HMAC_SHA2_384";
	case KEEL_V2_PRF_HMAC_SHA2_512:
		return "PRF_HMAC_SHA2_512";
	case KEEL_V2_PRF_AES128_CMAC:
		return "PRF_AES128_CMAC";
	default:
		return NULL;
	}
}

static const char *dh_text(uint16_t id)
{
	switch (id) {
	case KEEL_V2_DH_MODP2048:
		return "MODP_2048";
	case KEEL_V2_DH_MODP3072:
		return "MODP_3072";
	case KEEL_V2_DH_MODP4096:
		return "MODP_4096";
	case KEEL_V2_DH_MODP6144:
		return "MODP_6144";
	case KEEL_V2_DH_MODP8192:
		return "MODP_8192";
	case KEEL_V2_DH_ECP256:
		return "ECP_256";
	case KEEL_V2_DH_ECP384:
		return "ECP_384";
	case KEEL_V2_DH_ECP521:
		return "ECP_521";
	case KEEL_V2_DH_CURVE25519:
		return "CURVE_25519";
	case KEEL_V2_DH_CURVE448:
		return "CURVE_448";
	default:
		return NULL;
	}
}

static bool append(char *buf, size_t cap, size_t *len, const char *sep, const char *name,
                   const char *fallback, unsigned id)
{
	int n = name ? snprintf(buf + *len, cap - *len, "%s%s", sep, name)
	             : snprintf(buf + *len, cap - *len, "%s%s_%u", sep, fallback, id);
	if (n < 0 || (size_t)n >= cap - *len)
		return false;
	*len += (size_t)n;
	return true;
}

void keel_algs_text(const struct keel_algs *alg, bool ike, char *buf, size_t cap)
{
	size_t len = 0;
	if (cap == 0)
		return;
	buf[0] = '\0';
	/* AH: no cipher, the integrity algorithm comes first */
	if (!ike && alg->encr == 0) {
		if (!append(buf, cap, &len, "", integ_text(alg->integ), "INTEG", alg->integ))
			return;
		if (alg->dh && !append(buf, cap, &len, "/", dh_text(alg->dh), "DH", alg->dh))
			return;
		append(buf, cap, &len, "/", alg->esn ? "EXT_SEQ" : "NO_EXT_SEQ", NULL, 0);
		return;
	}
	if (!append(buf, cap, &len, "", encr_text(alg->encr), "ENCR", alg->encr))
		return;
	if (alg->encr_key_bits) {
		int n = snprintf(buf + len, cap - len, "_%u", alg->encr_key_bits);
		if (n < 0 || (size_t)n >= cap - len)
			return;
		len += (size_t)n;
	}
	if (alg->integ && !append(buf, cap, &len, "/", integ_text(alg->integ), "INTEG", alg->integ))
		return;
	if (ike && !append(buf, cap, &len, "/", prf_text(alg->prf), "PRF", alg->prf))
		return;
	if (alg->dh && !append(buf, cap, &len, "/", dh_text(alg->dh), "DH", alg->dh))
		return;
	if (!ike)
		append(buf, cap, &len, "/", alg->esn ? "EXT_SEQ" : "NO_EXT_SEQ", NULL, 0);
}

/* Keel implements every algorithm of p (so we never offer what we cannot do). */
int keel_proposal_check_supported(const struct keel_proposal *p, enum keel_proposal_kind kind)
{
	for (uint8_t k = 0; k < p->n_encr; k++)
		if (!keel_encr_supported(p->encr[k].id, p->encr[k].key_bits))
			return KEEL_ERR_UNSUPPORTED;
	for (uint8_t k = 0; k < p->n_prf; k++) {
		enum keel_prf_alg a;
		if (keel_prf_from_ikev2_id(p->prf[k], &a) < 0)
			return KEEL_ERR_UNSUPPORTED;
	}
	for (uint8_t k = 0; k < p->n_integ; k++) {
		enum keel_integ_alg a;
		if (p->integ[k] == 0 || keel_integ_from_ikev2_id(p->integ[k], &a) < 0)
			return KEEL_ERR_UNSUPPORTED;
	}
	for (uint8_t k = 0; k < p->n_dh; k++)
		if (!keel_dh_supported(p->dh[k]))
			return KEEL_ERR_UNSUPPORTED;
	if (kind == KEEL_PROPOSAL_AH)
		return p->n_encr == 0 && p->n_prf == 0 && p->n_integ > 0 ? 0 : KEEL_ERR_INVAL;
	if (p->n_encr == 0)
		return KEEL_ERR_INVAL;
	bool aead = is_aead(p->encr[0].id);
	for (uint8_t k = 0; k < p->n_encr; k++)
		if (is_aead(p->encr[k].id) != aead)
			return KEEL_ERR_INVAL;
	if (aead ? p->n_integ != 0 : p->n_integ == 0)
		return KEEL_ERR_INVAL;
	if (kind == KEEL_PROPOSAL_IKE && (p->n_prf == 0 || p->n_dh == 0))
		return KEEL_ERR_INVAL;
	return 0;
}
