/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How each side proves itself at the end of phase 1:
 *
 *   PSK      HASH_I / HASH_R (RFC 2409 §5), SKEYID from the pre-shared key
 *   SIG      RFC 2409 §5.1: CERT payloads and SIG_I / SIG_R, the
 *            signature of HASH_I / HASH_R, SKEYID = prf(Ni_b | Nr_b, g^xy):
 *            RSA (method 3, PKCS#1 v1.5, no DigestInfo) or ECDSA on the
 *            curve the method names (RFC 4754: 9 P-256, 10 P-384, 11 P-521);
 *            we propose the method of our key, and both sides sign with it;
 *            with XAUTH the method is XAUTHInitRSA (there is no ECDSA form)
 *            and the gateway asks for a login afterwards
 *   HYBRID   draft-ietf-ipsec-isakmp-hybrid-auth-05: SKEYID as for
 *            signatures, the gateway sends CERT and SIG_R, we send HASH_I
 *            alone and prove ourselves with XAUTH
 *
 * The gateway's certificate is verified with the IKEv2 rules
 * (keel_cert_verify_gateway(): chain to our anchors at cfg->now_wall_s, key
 * usage, the identity it claims and the one we expect) before its
 * signature is checked; there is no path that accepts an unverified peer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ikev1/sa.h"

/* The signature method of a key (RFC 2409 §5.1, RFC 4754 §3), 0 for none. */
static uint16_t sig_method_of(enum keel_key_type t)
{
	switch (t) {
	case KEEL_KEY_RSA:
		return KEEL_V1_AUTH_RSA_SIG;
	case KEEL_KEY_EC_P256:
		return KEEL_V1_AUTH_ECDSA_256;
	case KEEL_KEY_EC_P384:
		return KEEL_V1_AUTH_ECDSA_384;
	case KEEL_KEY_EC_P521:
		return KEEL_V1_AUTH_ECDSA_521;
	case KEEL_KEY_ED25519:
	case KEEL_KEY_ED448:
		break;
	}
	return 0;
}

/* Whether a key signs for method: the RSA methods take RSA, RFC 4754 §3 names the curve. */
static bool key_fits(uint16_t method, enum keel_key_type t)
{
	switch (method) {
	case KEEL_V1_AUTH_RSA_SIG:
	case KEEL_V1_AUTH_XAUTH_INIT_RSA:
	case KEEL_V1_AUTH_HYBRID_INIT_RSA:
		return t == KEEL_KEY_RSA;
	default:
		return sig_method_of(t) == method;
	}
}

/* How the log and refusals name a signature method. */
static const char *method_text(uint16_t method)
{
	switch (method) {
	case KEEL_V1_AUTH_ECDSA_256:
		return "ECDSA with SHA-256 on P-256";
	case KEEL_V1_AUTH_ECDSA_384:
		return "ECDSA with SHA-384 on P-384";
	case KEEL_V1_AUTH_ECDSA_521:
		return "ECDSA with SHA-512 on P-521";
	case KEEL_V1_AUTH_XAUTH_INIT_RSA:
		return "XAUTHInitRSA";
	case KEEL_V1_AUTH_HYBRID_INIT_RSA:
		return "HybridInitRSA";
	default:
		return "RSA signature authentication";
	}
}

uint16_t keel_v1_auth_method(const struct keel_v1sa *sa)
{
	switch (sa->auth) {
	case V1_AUTH_PSK:
		return sa->opt.xauth ? KEEL_V1_AUTH_XAUTH_INIT_PSK : KEEL_V1_AUTH_PSK;
	case V1_AUTH_SIG:
		if (sa->opt.xauth)
			return KEEL_V1_AUTH_XAUTH_INIT_RSA;
		/* a key without a method is refused by keel_v1_auth_ready() */
		return sa->creds.key && sig_method_of(keel_privkey_type(sa->creds.key))
		           ? sig_method_of(keel_privkey_type(sa->creds.key))
		           : KEEL_V1_AUTH_RSA_SIG;
	case V1_AUTH_HYBRID:
		break;
	}
	return KEEL_V1_AUTH_HYBRID_INIT_RSA;
}

int keel_v1_auth_ready(struct keel_v1sa *sa)
{
	if (sa->auth != V1_AUTH_SIG)
		return 0;
	enum keel_key_type t = keel_privkey_type(sa->creds.key);
	uint16_t method = keel_v1_auth_method(sa);
	if (key_fits(method, t))
		return 0;
	if (sa->opt.xauth)
		keel_v1sa_fail(sa, KEEL_REASON_CONFIG,
		               "our key is %s: IKEv1 XAUTH with certificates (XAUTHInitRSA) is "
		               "defined for RSA keys only; use an RSA key, auth = cert, or IKEv2",
		               keel_key_type_name(t));
	else
		keel_v1sa_fail(sa, KEEL_REASON_CONFIG,
		               "our key is %s: IKEv1 has signature methods for RSA and ECDSA "
		               "P-256/P-384/P-521 keys only; use such a key or IKEv2",
		               keel_key_type_name(t));
	return KEEL_ERR_UNSUPPORTED;
}

/* With certificates and no local_id, we are our certificate's subject DN (RFC 4945 §3.1.5). */
static int default_local_id(struct keel_v1sa *sa)
{
	const uint8_t *dn;
	ptrdiff_t len;
	struct keel_id *id = &sa->cfg.local_id;
	if (id->type != KEEL_ID_NONE || sa->auth != V1_AUTH_SIG)
		return 0;
	if (keel_certs_subject_der(sa->creds.chain, 0, &dn, &len) < 0 || len <= 0 ||
	    len > KEEL_ID_MAX_LEN)
		return KEEL_ERR_INVAL;
	id->type = KEEL_ID_DER_ASN1_DN;
	id->len = (uint16_t)len;
	memcpy(id->data, dn, (size_t)len);
	return 0;
}

int keel_v1_creds_load(struct keel_v1sa *sa, const struct keel_config *cfg)
{
	int rc = 0;
	switch (sa->auth) {
	case V1_AUTH_PSK:
		return 0;
	case V1_AUTH_SIG:
		/* whether the key has a method with this profile: keel_v1_auth_ready() */
		rc = keel_creds_load(cfg, &sa->creds, NULL, 0);
		break;
	case V1_AUTH_HYBRID:
		rc = keel_creds_load_trust(cfg, &sa->creds, NULL, 0);
		break;
	}
	if (rc == 0)
		rc = default_local_id(sa);
	if (rc < 0)
		keel_creds_clear(&sa->creds);
	return rc;
}

/* A CERT or CR payload with an X.509 signature certificate, or a CA's DN (RFC 2408 §3.9, §3.10). */
static void enc_x509(struct keel_v1_enc *e, uint8_t type, const uint8_t *der, ptrdiff_t len)
{
	struct keel_v1_cert c = {
	    .encoding = KEEL_V1_CERT_X509_SIG, .data = der, .len = (size_t)len};
	keel_v1_enc_cert(e, type, &c);
}

void keel_v1_add_certreq(struct keel_v1sa *sa, struct keel_v1_enc *e)
{
	const struct keel_x509_trust *t = sa->creds.trust;
	if (sa->auth == V1_AUTH_PSK || !t)
		return;
	/* the profile's CAs by DN; the system store is too large: an empty CA field asks for
	 * the gateway's certificate whatever its CA */
	size_t n = 0;
	for (size_t i = 0; i < sa->creds.n_profile_ca; i++) {
		const uint8_t *dn;
		ptrdiff_t len;
		if (keel_x509_trust_subject_der(t, i, &dn, &len) < 0)
			continue;
		enc_x509(e, KEEL_V1_PL_CR, dn, len);
		n++;
	}
	if (n == 0)
		enc_x509(e, KEEL_V1_PL_CR, NULL, 0);
}

struct keel_ikev1_auth_params keel_v1_auth_params(const struct v1_p1 *p1)
{
	struct keel_ikev1_auth_params ap = {
	    .prf = p1->prf,
	    .skeyid = p1->keys.skeyid,
	    .g_xi = p1->g_xi,
	    .g_xi_len = (ptrdiff_t)p1->g_xi_len,
	    .g_xr = p1->g_xr,
	    .g_xr_len = (ptrdiff_t)p1->g_xr_len,
	    .sai_b = p1->sai_b,
	    .sai_b_len = (ptrdiff_t)p1->sai_b_len,
	};
	memcpy(ap.cky_i, p1->cky_i, KEEL_V1_COOKIE_LEN);
	memcpy(ap.cky_r, p1->cky_r, KEEL_V1_COOKIE_LEN);
	return ap;
}

int keel_v1_add_proof(struct keel_v1sa *sa, struct v1_p1 *p1, struct keel_v1_enc *e)
{
	uint8_t hash_i[KEEL_PRF_MAX_OUT_LEN];
	uint8_t *sig = NULL;
	int rc = 0;
	/* RFC 2409 §5: HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b) */
	struct keel_ikev1_auth_params ap = keel_v1_auth_params(p1);
	ptrdiff_t n =
	    keel_ikev1_hash_i(&ap, p1->idii_b, (ptrdiff_t)p1->idii_b_len, hash_i, sizeof(hash_i));
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	if (sa->auth != V1_AUTH_SIG) {
		keel_v1_enc_data(e, KEEL_V1_PL_HASH, hash_i, (size_t)n);
		goto out;
	}
	/* RFC 2409 §5.1: [CERT,] SIG_I; our chain, end entity first (RFC 4945 §3.2) */
	const struct keel_certs *chain = sa->creds.chain;
	for (size_t i = 0; i < keel_certs_count(chain); i++) {
		const uint8_t *der;
		ptrdiff_t len;
		if (keel_certs_der(chain, i, &der, &len) == 0)
			enc_x509(e, KEEL_V1_PL_CERT, der, len);
	}
	ptrdiff_t cap = keel_sig_v1_max_len(sa->creds.key);
	if (cap <= 0) {
		rc = cap < 0 ? (int)cap : KEEL_ERR_INVAL;
		goto out;
	}
	if (!(sig = malloc((size_t)cap))) {
		rc = KEEL_ERR_NOMEM;
		goto out;
	}
	ptrdiff_t sig_len = keel_sig_v1_sign(sa->creds.key, hash_i, n, sig, cap);
	if (sig_len < 0) {
		rc = (int)sig_len;
		goto out;
	}
	keel_v1_enc_data(e, KEEL_V1_PL_SIG, sig, (size_t)sig_len);
	keel_v1sa_log(
	    sa, KEEL_LOG_DEBUG, "signing HASH_I with our %d-bit %s key (%s), %zu certificates",
	    keel_privkey_bits(sa->creds.key), keel_key_type_name(keel_privkey_type(sa->creds.key)),
	    method_text(p1->xf.auth), keel_certs_count(chain));
out:
	OPENSSL_cleanse(hash_i, sizeof(hash_i));
	free(sig);
	return rc;
}

/* The gateway's identity (IDir) against remote_id, for a PSK; 0, or the connection failed. */
static int check_idr_psk(struct keel_v1sa *sa, const struct keel_v1_id *id, const char *text)
{
	const struct keel_id *want = &sa->cfg.remote_id;
	if (want->type == KEEL_ID_NONE)
		return 0;
	if (want->type == id->type && want->len == id->len &&
	    memcmp(want->data, id->data, id->len) == 0)
		return 0;
	char w[KEEL_ID_MAX_LEN * 4 + 1];
	keel_id_to_text(want, w, sizeof(w));
	keel_v1sa_fail_delete(sa, KEEL_REASON_PEER_ID,
	                      "the gateway identified itself as \"%s\", expected \"%s\"", text, w);
	return KEEL_ERR_AUTH;
}

/*
 * The gateway's CERT payloads (RFC 2408 §3.9), its own first; NULL on
 * ENOMEM. *damaged: one did not parse.
 */
static struct keel_certs *peer_certs(struct keel_v1sa *sa, bool *damaged)
{
	struct keel_certs *certs = keel_certs_new();
	const struct keel_v1_payload *pl = NULL;
	*damaged = false;
	if (!certs)
		return NULL;
	while ((pl = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_CERT, pl)) != NULL) {
		struct keel_v1_cert c;
		int rc = keel_v1_cert_decode(pl, &c);
		if (rc == 0)
			rc = keel_certs_add_payload(certs, c.encoding, c.data, (ptrdiff_t)c.len);
		if (rc == KEEL_ERR_NOMEM) {
			keel_certs_free(certs);
			return NULL;
		}
		*damaged |= rc == KEEL_ERR_MALFORMED;
		if (rc < 0)
			keel_v1sa_log(sa, KEEL_LOG_WARN,
			              "ignoring a certificate of the gateway (%s): %s",
			              keel_v1_cert_encoding_name(c.encoding), keel_strerror(rc));
	}
	return certs;
}

/*
 * CERT and SIG_R: 0, or KEEL_ERR_AUTH (the connection failed, or in Main
 * Mode a message that may have been damaged on the way: dropped), or
 * KEEL_ERR_MALFORMED. The certificate is verified for the identity we
 * expect first, then SIG_R, which covers IDir, then IDir itself when it is
 * another identity: damage to the encrypted message 6 is told from a gateway
 * we must refuse. Aggressive Mode's message 2 is in clear and refused at once.
 */
static int check_sig_r(struct keel_v1sa *sa, struct v1_p1 *p1, const struct keel_v1_id *id,
                       const uint8_t *hash_r, size_t hash_r_len, const char *gw)
{
	struct keel_certs *certs = NULL;
	struct keel_pubkey *key = NULL, *again = NULL;
	struct keel_x509_verdict v;
	enum keel_reason reason = KEEL_REASON_NONE;
	char why[V1_LOG_LINE_MAX];
	bool damaged = false;
	int rc = KEEL_ERR_AUTH;

	const struct keel_v1_payload *sig = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_SIG, NULL);
	if (!sig) {
		if (keel_v1_msg_next(&sa->rx, KEEL_V1_PL_HASH, NULL)) {
			keel_v1sa_fail_delete(sa, KEEL_REASON_PEER_AUTH,
			                      "the gateway \"%s\" proved itself with a pre-shared "
			                      "key; this profile expects its certificate",
			                      gw);
			return KEEL_ERR_AUTH;
		}
		return KEEL_ERR_MALFORMED;
	}
	if (!(certs = peer_certs(sa, &damaged))) {
		keel_v1sa_fail(sa, KEEL_REASON_INTERNAL, "out of memory");
		goto out;
	}
	if (keel_certs_count(certs) == 0) {
		if (damaged && !p1->aggressive) {
			snprintf(sa->bad_sig_why, sizeof(sa->bad_sig_why),
			         "the gateway's certificate does not parse");
			goto out; /* dropped */
		}
		keel_v1sa_fail_delete(sa, KEEL_REASON_CERT_UNTRUSTED,
		                      "the gateway \"%s\" sent no certificate Keel can use", gw);
		goto out;
	}
	struct keel_x509_id claimed = {
	    .type = id->type, .data = id->data, .len = (ptrdiff_t)id->len};
	struct keel_x509_id expected = claimed;
	if (sa->cfg.remote_id.type != KEEL_ID_NONE)
		expected = (struct keel_x509_id){.type = (uint8_t)sa->cfg.remote_id.type,
		                                 .data = sa->cfg.remote_id.data,
		                                 .len = sa->cfg.remote_id.len};
	if (keel_cert_verify_gateway(&sa->creds, &sa->cfg, certs, &expected, &v, &key, &reason, why,
	                             sizeof(why)) < 0) {
		/* a signature broken on the way looks the same: Main Mode drops it */
		if (v.result == KEEL_X509_BAD_SIGNATURE && !p1->aggressive)
			snprintf(sa->bad_sig_why, sizeof(sa->bad_sig_why), "%s", why);
		else
			keel_v1sa_fail_delete(sa, reason, "%s", why);
		goto out;
	}
	/* RFC 2409 §5.1: one method for both sides; RFC 4754 §3: an ECDSA method names the
	 * curve. SIG_R is the signature of HASH_R with it. */
	enum keel_key_type kt = keel_pubkey_type(key);
	if (!key_fits(p1->xf.auth, kt)) {
		keel_v1sa_fail_delete(
		    sa, KEEL_REASON_PEER_AUTH,
		    "the gateway's certificate (%s) has an %s key, which does not "
		    "fit the negotiated authentication method (%s)",
		    v.subject, keel_key_type_name(kt), method_text(p1->xf.auth));
		goto out;
	}
	if (keel_sig_v1_verify(key, hash_r, (ptrdiff_t)hash_r_len, sig->body, (ptrdiff_t)sig->len) <
	    0) {
		if (p1->aggressive)
			keel_v1sa_fail_delete(
			    sa, KEEL_REASON_PEER_AUTH,
			    "the gateway's signature (SIG_R) did not verify with the "
			    "key of its certificate (%s)",
			    v.subject);
		else
			snprintf(
			    sa->bad_sig_why, sizeof(sa->bad_sig_why),
			    "the gateway's signature (SIG_R) did not verify with the key of its "
			    "certificate (%s)",
			    v.subject);
		goto out;
	}
	/* the identity it claimed, when not the one we expect, must be in the certificate too */
	if ((claimed.type != expected.type || claimed.len != expected.len ||
	     memcmp(claimed.data, expected.data, (size_t)claimed.len) != 0) &&
	    keel_cert_verify_gateway(&sa->creds, &sa->cfg, certs, &claimed, &v, &again, &reason,
	                             why, sizeof(why)) < 0) {
		keel_v1sa_fail_delete(sa, reason, "%s", why);
		goto out;
	}
	keel_v1sa_log(sa, KEEL_LOG_INFO,
	              "authenticated the gateway \"%s\" with its certificate (%s), %s signature "
	              "(%s)%s",
	              gw, v.subject, keel_key_type_name(kt), method_text(p1->xf.auth),
	              v.revocation_checked ? "" : "; revocation not checked");
	rc = 0;
out:
	keel_pubkey_free(key);
	keel_pubkey_free(again);
	keel_certs_free(certs);
	return rc;
}

int keel_v1_check_proof(struct keel_v1sa *sa, struct v1_p1 *p1, const struct keel_v1_payload *idr,
                        char *gw, size_t cap)
{
	uint8_t want[KEEL_PRF_MAX_OUT_LEN];
	struct keel_v1_id id;
	int rc = 0;
	if (keel_v1_id_decode(idr, &id) < 0)
		return KEEL_ERR_MALFORMED;
	keel_v1_escape(id.data, id.len, gw, cap);
	/* RFC 2409 §5: HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b) */
	struct keel_ikev1_auth_params ap = keel_v1_auth_params(p1);
	ptrdiff_t n = keel_ikev1_hash_r(&ap, idr->body, (ptrdiff_t)idr->len, want, sizeof(want));
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	if (sa->auth != V1_AUTH_PSK) {
		rc = check_sig_r(sa, p1, &id, want, (size_t)n, gw);
		goto out;
	}
	const struct keel_v1_payload *h = keel_v1_msg_next(&sa->rx, KEEL_V1_PL_HASH, NULL);
	if (!h) {
		rc = KEEL_ERR_MALFORMED;
		goto out;
	}
	if ((size_t)n != h->len || CRYPTO_memcmp(want, h->body, (size_t)n) != 0) {
		rc = KEEL_ERR_AUTH;
		goto out;
	}
	rc = check_idr_psk(sa, &id, gw);
out:
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}
