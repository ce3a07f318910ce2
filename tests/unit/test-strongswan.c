/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Keel's key derivation, message protection and wire codecs against real
 * exchanges between two strongSwan 5.9.8 daemons, captured in the lab
 * together with the keys charon logged at level 4
 * (tests/vectors/strongswan/<scenario>.txt; tests/lab/README.md describes
 * the format and charon's key labels).
 *
 * Only Keel's building blocks are used here (crypto/kdf, prf, cipher, the
 * IKEv2 and ISAKMP codecs), not the engine. The one input taken from the
 * log is the Diffie-Hellman shared secret: the private values were not
 * logged. Everything else is computed from the datagrams and the test
 * secrets, and compared byte for byte with charon's values and with what
 * went over the wire:
 *
 * IKEv2: SKEYSEED and SK_* (RFC 7296 §2.14), every SK payload opened (RFC
 * 5282 for AEAD, RFC 7296 §3.14 for CBC + ICV) and SKF fragments put back
 * together (RFC 7383 §2.6), the inner chains decoded; PSK and EAP (MSK)
 * AUTH recomputed (§2.15, §2.16), signature AUTH checked against the CERT
 * payload (RFC 7427); NAT detection (§2.23); CHILD_SA KEYMAT (§2.17).
 *
 * IKEv1: SKEYID and SKEYID_d/a/e (RFC 2409 §5), the cipher key (Appendix
 * B), the phase 1 and phase 2 IVs and the CBC IV chain (Appendix B), HASH_I
 * and HASH_R (§5; signed ones checked against the CERT payload), the
 * HASH(1..3) of quick mode (§5.5), informational exchanges (§5.7) and
 * Mode Config / XAUTH, NAT-D (RFC 3947 §3.2), quick mode KEYMAT (§5.5),
 * fragments reassembled, every encrypted body decoded.
 *
 * Signatures are checked with OpenSSL directly: they prove the signed
 * octets Keel builds are the ones strongSwan signed.
 */
#include "strongswan-fixture.h"

/* ------------------------------------------------------------------ */
/* charon's algorithm names, to compare with its "selected proposal"   */

struct name {
	unsigned id;
	const char *name;
};

static const struct name encr_names[] = {
    {KEEL_ENCR_AES_CBC, "AES_CBC"},       {KEEL_ENCR_AES_CTR, "AES_CTR"},
    {KEEL_ENCR_AES_GCM_8, "AES_GCM_8"},   {KEEL_ENCR_AES_GCM_12, "AES_GCM_12"},
    {KEEL_ENCR_AES_GCM_16, "AES_GCM_16"}, {KEEL_ENCR_CHACHA20_POLY1305, "CHACHA20_POLY1305"},
};
static const struct name integ_names[] = {
    {KEEL_INTEG_HMAC_SHA1_96, "HMAC_SHA1_96"},
    {KEEL_INTEG_AES_XCBC_96, "AES_XCBC_96"},
    {KEEL_INTEG_HMAC_SHA2_256_128, "HMAC_SHA2_256_128"},
    {KEEL_INTEG_HMAC_SHA2_384_192, "HMAC_SHA2_384_192"},
    {KEEL_INTEG_HMAC_SHA2_512_256, "HMAC_SHA2_512_256"},
};
static const struct name prf_names[] = {
    {KEEL_PRF_HMAC_SHA1, "PRF_HMAC_SHA1"},         {KEEL_PRF_AES128_XCBC, "PRF_AES128_XCBC"},
    {KEEL_PRF_HMAC_SHA2_256, "PRF_HMAC_SHA2_256"}, {KEEL_PRF_HMAC_SHA2_384, "PRF_HMAC_SHA2_384"},
    {KEEL_PRF_HMAC_SHA2_512, "PRF_HMAC_SHA2_512"}, {KEEL_PRF_AES128_CMAC, "PRF_AES_CMAC"},
};
static const struct name dh_names[] = {
    {KEEL_DH_MODP_2048, "MODP_2048"},    {KEEL_DH_MODP_3072, "MODP_3072"},
    {KEEL_DH_MODP_4096, "MODP_4096"},    {KEEL_DH_MODP_6144, "MODP_6144"},
    {KEEL_DH_MODP_8192, "MODP_8192"},    {KEEL_DH_ECP_256, "ECP_256"},
    {KEEL_DH_ECP_384, "ECP_384"},        {KEEL_DH_ECP_521, "ECP_521"},
    {KEEL_DH_CURVE25519, "CURVE_25519"}, {KEEL_DH_CURVE448, "CURVE_448"},
};

static const char *lookup(const struct name *t, size_t n, unsigned id)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].id == id)
			return t[i].name;
	return "?";
}

/* Appends one algorithm to "IKE:..." / "ESP:...", '/'-separated. */
static void add_alg(char *buf, size_t cap, const char *name, unsigned bits)
{
	size_t n = strlen(buf);
	const char *sep = n > 0 && buf[n - 1] != ':' ? "/" : "";
	if (bits)
		snprintf(buf + n, cap - n, "%s%s_%u", sep, name, bits);
	else
		snprintf(buf + n, cap - n, "%s%s", sep, name);
}

static void check_proposal_text(struct fixture *fx, const char *got, const char *want)
{
	CHECK(want != NULL);
	if (!want)
		return;
	if (strcmp(got, want) != 0)
		fprintf(stderr, "# %s: decoded %s, charon selected %s\n", fx->file, got, want);
	CHECK(strcmp(got, want) == 0);
}

/* ------------------------------------------------------------------ */
/* Signatures (test-only, with OpenSSL): the signed octets are Keel's   */

static EVP_PKEY *cert_key(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	EVP_PKEY *k = x ? X509_get_pubkey(x) : NULL;
	CHECK(x != NULL && p == der + len);
	X509_free(x);
	return k;
}

/* The certificate of a PEM file of the test PKI equals the DER sent. */
static void check_cert_file(struct fixture *fx, const char *rel, const uint8_t *der, size_t len)
{
	char path[512];
	const char *dir = getenv("KEEL_VECTORS");
	snprintf(path, sizeof(path), "%s/strongswan/%s", dir ? dir : "tests/vectors", rel);
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char *want = NULL;
	int want_len = x ? i2d_X509(x, &want) : -1;
	if (!x)
		fprintf(stderr, "# %s: cannot read %s\n", fx->file, path);
	CHECK(want_len > 0);
	if (want_len > 0)
		CHECK_MEM(der, len, want, (size_t)want_len);
	OPENSSL_free(want);
	X509_free(x);
	if (f)
		fclose(f);
}

/* RFC 2409 §5.1: an RSA signature of HASH_I/HASH_R, PKCS #1 v1.5 without DigestInfo. */
static bool v1_sig_ok(const uint8_t *cert, size_t cert_len, const uint8_t *hash, size_t hash_len,
                      const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY *k = cert_key(cert, cert_len);
	EVP_PKEY_CTX *ctx = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;
	bool ok = ctx && EVP_PKEY_verify_init(ctx) == 1 &&
	          EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
	          EVP_PKEY_verify(ctx, sig, sig_len, hash, hash_len) == 1;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(k);
	return ok;
}

static bool digest_verify(EVP_PKEY *k, const EVP_MD *md, bool pss, const uint8_t *sig,
                          size_t sig_len, const uint8_t *tbs, size_t tbs_len)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	bool ok = m && EVP_DigestVerifyInit(m, &pctx, md, NULL, k) == 1;
	if (ok && pss)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1;
	ok = ok && EVP_DigestVerify(m, sig, sig_len, tbs, tbs_len) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

/*
 * An IKEv2 signature AUTH over octets: RFC 7427 §3 (method 14: length of
 * the AlgorithmIdentifier, the AlgorithmIdentifier, the signature), RFC
 * 7296 §3.8 (method 1: RSA PKCS #1 v1.5 with SHA-1), RFC 4754 (9/10/11:
 * ECDSA r | s).
 */
static bool v2_sig_ok(const uint8_t *cert, size_t cert_len, uint8_t method, const uint8_t *data,
                      size_t len, const uint8_t *octets, size_t octets_len)
{
	EVP_PKEY *k = cert_key(cert, cert_len);
	bool ok = false;

	if (!k)
		return false;
	if (method == KEEL_V2_AUTH_DIGITAL_SIG && len > 1 && data[0] < len - 1) {
		const unsigned char *p = data + 1;
		X509_ALGOR *alg = d2i_X509_ALGOR(NULL, &p, data[0]);
		int md_nid = NID_undef, pk_nid = NID_undef;
		const ASN1_OBJECT *obj = NULL;
		if (alg)
			X509_ALGOR_get0(&obj, NULL, NULL, alg);
		int nid = obj ? OBJ_obj2nid(obj) : NID_undef;
		if (alg && p == data + 1 + data[0]) {
			const uint8_t *sig = data + 1 + data[0];
			size_t sig_len = len - 1 - data[0];
			if (nid == NID_rsassaPss) /* RFC 7427 §3: parameters as in RFC 4055 */
				ok = digest_verify(k, EVP_sha256(), true, sig, sig_len, octets,
				                   octets_len);
			else if (OBJ_find_sigid_algs(nid, &md_nid, &pk_nid) == 1)
				ok = digest_verify(k, EVP_get_digestbynid(md_nid), false, sig,
				                   sig_len, octets, octets_len);
		}
		X509_ALGOR_free(alg);
	} else if (method == KEEL_V2_AUTH_RSA_SIG) {
		ok = digest_verify(k, EVP_sha1(), false, data, len, octets, octets_len);
	}
	EVP_PKEY_free(k);
	return ok;
}

/* ------------------------------------------------------------------ */
/* IKEv2                                                              */

enum { I2R = 0, R2I = 1 };

struct v2_algs {
	uint8_t protocol;
	struct keel_v2_bytes spi;
	uint16_t encr;
	unsigned key_bits;
	uint16_t prf, integ, dh, esn;
	bool has_encr, has_prf, has_integ, has_dh, has_esn;
};

struct v2_auth {
	uint8_t method;
	struct keel_v2_bytes data;
};

struct v2_run {
	struct fixture *fx;
	struct v2_algs ike, esp;
	enum keel_prf_alg prf;
	enum keel_integ_alg integ;
	uint8_t spi_i[8], spi_r[8];
	struct keel_v2_bytes ni, nr;
	struct keel_ikev2_ike_keys k;
	bool keyed;
	struct keel_aead *aead[2];
	struct keel_cipher *cbc[2];
	struct keel_integ *icv[2];
	/* SKF reassembly, one message per direction at a time (RFC 7383 §2.6) */
	uint8_t *frag[2];
	size_t frag_len[2];
	uint16_t frag_next[2];
	uint8_t frag_first[2];
	/* decrypted inner chains: the payloads below borrow from them */
	uint8_t *plain[MAX_DGRAMS];
	size_t n_plain;
	bool tampered[2];
	/* what the protected messages carried */
	uint64_t seen_auth[2]; /* payload types seen in IKE_AUTH, as bits */
	uint64_t seen_info[2];
	unsigned n_cert[2];
	struct keel_v2_bytes id[2]; /* IDi and IDr bodies (RFC 7296 §2.15: RestOfIDPayload) */
	bool has_id[2];
	struct keel_v2_bytes cert[2]; /* first CERT data each way */
	bool has_cert[2];
	struct v2_auth auth[2][4];
	size_t n_auth[2];
	struct keel_v2_bytes child_sa_req; /* SA payload bodies of IKE_AUTH */
	bool has_child_sa_req, has_child_sa_resp;
	bool cp_reply_ok;
	bool eap_identity_ok, eap_success;
};

static struct keel_v2_payload pl2; /* large (SA): one, reused */
static struct keel_v2_payload sa_req2;
static struct keel_v2_msg msg2;
static struct keel_v2_chain inner2;

static void v2_algs_from(struct v2_algs *a, const struct keel_v2_sa *sa)
{
	memset(a, 0, sizeof(*a));
	/* RFC 7296 §2.7: the response carries the one proposal accepted */
	CHECK_INT(sa->n_proposals, 1);
	if (sa->n_proposals != 1)
		return;
	const struct keel_v2_proposal *p = &sa->proposals[0];
	a->protocol = p->protocol;
	a->spi = p->spi;
	for (size_t i = 0; i < p->n_transforms; i++) {
		const struct keel_v2_transform *t = &sa->transforms[p->first + i];
		bool *has = NULL;
		uint16_t *id = NULL;
		if (t->type == KEEL_V2_TRANSFORM_ENCR) {
			has = &a->has_encr, id = &a->encr;
			a->key_bits = keel_v2_transform_key_len(t);
		} else if (t->type == KEEL_V2_TRANSFORM_PRF) {
			has = &a->has_prf, id = &a->prf;
		} else if (t->type == KEEL_V2_TRANSFORM_INTEG) {
			has = &a->has_integ, id = &a->integ;
		} else if (t->type == KEEL_V2_TRANSFORM_DH) {
			has = &a->has_dh, id = &a->dh;
		} else if (t->type == KEEL_V2_TRANSFORM_ESN) {
			has = &a->has_esn, id = &a->esn;
		}
		CHECK(has != NULL && !*has); /* §2.7: one transform of each type */
		if (has) {
			*has = true;
			*id = t->id;
		}
	}
	/* RFC 7296 §3.3.2: "none" integrity may be sent or left out with AEAD */
	if (a->has_integ && a->integ == KEEL_V2_INTEG_NONE)
		a->has_integ = false;
}

static void v2_algs_text(const struct v2_algs *a, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s:", a->protocol == KEEL_V2_PROTO_IKE ? "IKE" : "ESP");
	add_alg(buf, cap, lookup(encr_names, ARRAY_LEN(encr_names), a->encr), a->key_bits);
	if (a->has_integ)
		add_alg(buf, cap, lookup(integ_names, ARRAY_LEN(integ_names), a->integ), 0);
	if (a->has_prf)
		add_alg(buf, cap, lookup(prf_names, ARRAY_LEN(prf_names), a->prf), 0);
	if (a->has_dh && a->dh != KEEL_V2_DH_NONE)
		add_alg(buf, cap, lookup(dh_names, ARRAY_LEN(dh_names), a->dh), 0);
	if (a->has_esn)
		add_alg(buf, cap, a->esn ? "EXT_SEQ" : "NO_EXT_SEQ", 0);
}

/* The responder's choice was among the initiator's offers (RFC 7296 §2.7). */
static bool v2_offered(const struct keel_v2_sa *req, uint8_t protocol, uint8_t type, uint16_t id,
                       unsigned bits)
{
	for (size_t i = 0; i < req->n_proposals; i++) {
		const struct keel_v2_proposal *p = &req->proposals[i];
		if (p->protocol != protocol)
			continue;
		for (size_t j = 0; j < p->n_transforms; j++) {
			const struct keel_v2_transform *t = &req->transforms[p->first + j];
			if (t->type == type && t->id == id &&
			    (type != KEEL_V2_TRANSFORM_ENCR ||
			     keel_v2_transform_key_len(t) == bits))
				return true;
		}
	}
	return false;
}

static void v2_check_offered(const struct keel_v2_sa *req, const struct v2_algs *a)
{
	CHECK(v2_offered(req, a->protocol, KEEL_V2_TRANSFORM_ENCR, a->encr, a->key_bits));
	if (a->has_prf)
		CHECK(v2_offered(req, a->protocol, KEEL_V2_TRANSFORM_PRF, a->prf, 0));
	if (a->has_integ)
		CHECK(v2_offered(req, a->protocol, KEEL_V2_TRANSFORM_INTEG, a->integ, 0));
	if (a->has_dh)
		CHECK(v2_offered(req, a->protocol, KEEL_V2_TRANSFORM_DH, a->dh, 0));
}

static const struct keel_v2_raw_payload *v2_find(const struct keel_v2_chain *c, uint8_t type,
                                                 struct keel_v2_payload *out)
{
	const struct keel_v2_raw_payload *raw = keel_v2_chain_find(c, type, NULL);
	CHECK(raw != NULL);
	if (raw && out)
		CHECK_INT(keel_v2_payload_decode(raw, out), 0);
	return raw;
}

/*
 * RFC 7296 §2.23: NAT_DETECTION_DESTINATION_IP = SHA-1(SPIi | SPIr | IP |
 * port) of the address the message went to. (Only the destination: with
 * encap = yes strongSwan fakes its source hash on purpose.) SHA-1 through
 * keel_ikev1_hash(), the plain hash under HMAC-SHA1.
 */
static void v2_check_natd(struct v2_run *r, const struct keel_v2_chain *c, const uint8_t *spi_r,
                          const uint8_t addr[4], unsigned port)
{
	struct keel_v2_notify n;
	uint8_t port_be[2] = {(uint8_t)(port >> 8), (uint8_t)port}, want[20];
	struct keel_iov in[4] = {{r->spi_i, 8}, {spi_r, 8}, {addr, 4}, {port_be, 2}};

	CHECK(keel_v2_chain_find_notify(c, KEEL_V2_N_NAT_DETECTION_DESTINATION_IP, NULL, &n) !=
	      NULL);
	CHECK_INT(keel_ikev1_hash(KEEL_PRF_HMAC_SHA1, in, 4, want, sizeof(want)), 20);
	CHECK_MEM(n.data.p, n.data.len, want, sizeof(want));
	r->fx->t.natd++;
}

/* IKE_SA_INIT: nonces, SPIs, the gateway's choice; then Keel's keys against charon's. */
static bool v2_ike_sa_init(struct v2_run *r)
{
	struct fixture *fx = r->fx;
	struct keel_v2_bytes ke_i = {0}, ke_r = {0};
	uint16_t group_i = 0, group_r = 0;
	char text[200];

	CHECK(fx->n >= 4 && fx->d[0].i2r && !fx->d[1].i2r);
	if (fx->n < 4)
		return false;
	for (int m = 0; m < 2; m++) {
		const struct dgram *d = &fx->d[m];
		CHECK_INT(keel_v2_msg_decode(d->data, d->len, &msg2), 0);
		CHECK_INT(msg2.hdr.exchange, KEEL_V2_EXCHANGE_IKE_SA_INIT);
		CHECK_INT(keel_v2_chain_verify(&msg2.chain), 0);
		if (m == 0) {
			memcpy(r->spi_i, d->data, 8);
			if (v2_find(&msg2.chain, KEEL_V2_PAYLOAD_NONCE, &pl2))
				r->ni = pl2.u.nonce;
			if (v2_find(&msg2.chain, KEEL_V2_PAYLOAD_KE, &pl2)) {
				ke_i = pl2.u.ke.data;
				group_i = pl2.u.ke.group;
			}
			if (v2_find(&msg2.chain, KEEL_V2_PAYLOAD_SA, &sa_req2))
				CHECK(sa_req2.u.sa.n_proposals >= 1);
			v2_check_natd(r, &msg2.chain, (const uint8_t *)"\0\0\0\0\0\0\0\0",
			              fx->addr_r, d->dst_port);
		} else {
			memcpy(r->spi_r, d->data + 8, 8);
			if (v2_find(&msg2.chain, KEEL_V2_PAYLOAD_NONCE, &pl2))
				r->nr = pl2.u.nonce;
			if (v2_find(&msg2.chain, KEEL_V2_PAYLOAD_KE, &pl2)) {
				ke_r = pl2.u.ke.data;
				group_r = pl2.u.ke.group;
			}
			if (v2_find(&msg2.chain, KEEL_V2_PAYLOAD_SA, &pl2))
				v2_algs_from(&r->ike, &pl2.u.sa);
			v2_check_natd(r, &msg2.chain, r->spi_r, fx->addr_i, d->dst_port);
		}
	}
	if (!r->ni.p || !r->nr.p || !r->ike.has_encr || !r->ike.has_prf || !r->ike.has_dh)
		return false;
	CHECK_INT(r->ike.protocol, KEEL_V2_PROTO_IKE);
	CHECK_INT(r->ike.spi.len, 0);
	v2_algs_text(&r->ike, text, sizeof(text));
	check_proposal_text(fx, text, fx->ike_proposal);
	v2_check_offered(&sa_req2.u.sa, &r->ike);

	/* the KE payloads are of the chosen group, of its public value length */
	CHECK_INT(group_i, r->ike.dh);
	CHECK_INT(group_r, r->ike.dh);
	CHECK_INT(ke_i.len, keel_dh_public_len(r->ike.dh));
	CHECK_INT(ke_r.len, keel_dh_public_len(r->ike.dh));

	int rc = keel_prf_from_ikev2_id(r->ike.prf, &r->prf);
	CHECK_INT(rc, 0);
	r->integ = KEEL_INTEG_NONE;
	if (r->ike.has_integ)
		CHECK_INT(keel_integ_from_ikev2_id(r->ike.integ, &r->integ), 0);
	CHECK(keel_encr_supported(r->ike.encr, r->ike.key_bits));
	/* RFC 5282 §8 / RFC 7634 §4: AEAD without an integrity transform and vice versa */
	CHECK(keel_encr_is_aead(r->ike.encr) == !r->ike.has_integ);
	if (rc != 0 || !keel_encr_supported(r->ike.encr, r->ike.key_bits))
		return false;

	/* charon's "seed" of the CHILD_SA is Ni | Nr: the nonces are read right */
	size_t seed_len;
	const uint8_t *seed = logged(fx, "seed", &seed_len);
	CHECK(seed && seed_len == r->ni.len + r->nr.len);
	if (seed && seed_len == r->ni.len + r->nr.len) {
		CHECK_MEM(seed, r->ni.len, r->ni.p, r->ni.len);
		CHECK_MEM(seed + r->ni.len, r->nr.len, r->nr.p, r->nr.len);
		fx->t.keys++;
	}

	/* RFC 7296 §2.14 */
	size_t g_len;
	const uint8_t *g_ir = logged(fx, "shared Diffie Hellman secret", &g_len);
	CHECK(g_ir != NULL);
	if (!g_ir)
		return false;
	CHECK_INT(g_len, keel_dh_secret_len(r->ike.dh));
	struct keel_ikev2_ike_params p = {
	    .prf = r->prf,
	    .integ = r->integ,
	    .encr_key_len = keel_encr_keymat_len(r->ike.encr, r->ike.key_bits),
	    .nonce_i = r->ni.p,
	    .nonce_i_len = (ptrdiff_t)r->ni.len,
	    .nonce_r = r->nr.p,
	    .nonce_r_len = (ptrdiff_t)r->nr.len,
	    .g_ir = g_ir,
	    .g_ir_len = (ptrdiff_t)g_len,
	};
	memcpy(p.spi_i, r->spi_i, 8);
	memcpy(p.spi_r, r->spi_r, 8);
	rc = keel_ikev2_derive_ike(&p, &r->k);
	CHECK_INT(rc, 0);
	if (rc != 0)
		return false;
	r->keyed = true;
	check_logged_secret(fx, "SKEYSEED", r->k.skeyseed);
	check_logged_secret(fx, "Sk_d secret", r->k.sk_d);
	if (r->integ != KEEL_INTEG_NONE) {
		check_logged_secret(fx, "Sk_ai secret", r->k.sk_ai);
		check_logged_secret(fx, "Sk_ar secret", r->k.sk_ar);
	} else {
		CHECK(r->k.sk_ai == NULL && r->k.sk_ar == NULL);
		check_not_logged(fx, "Sk_ai secret");
		check_not_logged(fx, "Sk_ar secret");
	}
	check_logged_secret(fx, "Sk_ei secret", r->k.sk_ei);
	check_logged_secret(fx, "Sk_er secret", r->k.sk_er);
	check_logged_secret(fx, "Sk_pi secret", r->k.sk_pi);
	check_logged_secret(fx, "Sk_pr secret", r->k.sk_pr);

	/* Keel's keys (not charon's) protect the rest of the exchange */
	const struct keel_secret *ke[2] = {r->k.sk_ei, r->k.sk_er};
	const struct keel_secret *ka[2] = {r->k.sk_ai, r->k.sk_ar};
	for (int dir = 0; dir < 2; dir++) {
		const uint8_t *key = keel_secret_data(ke[dir]);
		size_t key_len = (size_t)keel_secret_len(ke[dir]);
		if (keel_encr_is_aead(r->ike.encr)) {
			CHECK_INT(keel_aead_new(r->ike.encr, r->ike.key_bits, KEEL_CIPHER_DECRYPT,
			                        key, key_len, &r->aead[dir]),
			          0);
		} else {
			CHECK_INT(keel_cipher_new(r->ike.encr, r->ike.key_bits, KEEL_CIPHER_DECRYPT,
			                          key, key_len, &r->cbc[dir]),
			          0);
			CHECK_INT(keel_integ_new(r->integ, keel_secret_data(ka[dir]),
			                         keel_secret_len(ka[dir]), &r->icv[dir]),
			          0);
		}
	}
	return true;
}

/*
 * Opens an SK/SKF payload whose body (IV | ciphertext | ICV) lies in the
 * message m of len bytes, sent in direction dir. RFC 5282 §5.1: the AEAD's
 * associated data is the message from the IKE header to the IV (RFC 7383
 * §2.5: with the fragment fields); RFC 7296 §3.14: otherwise the ICV covers
 * the message up to the ICV and is checked before decrypting. On success
 * *out is a new buffer with the inner payloads, padding removed.
 */
static int v2_unprotect(struct v2_run *r, int dir, const uint8_t *m, size_t len,
                        struct keel_v2_bytes body, uint8_t **out, size_t *out_len)
{
	bool aead = keel_encr_is_aead(r->ike.encr);
	size_t iv_len = (size_t)keel_encr_iv_len(r->ike.encr);
	size_t icv_len =
	    aead ? (size_t)keel_encr_icv_len(r->ike.encr) : (size_t)keel_integ_icv_len(r->integ);
	struct keel_v2_sk_parts parts;
	struct keel_v2_bytes plain, inner;
	int rc = keel_v2_sk_split(body, iv_len, icv_len, &parts);

	if (rc != 0)
		return rc;
	if (parts.icv.p + icv_len != m + len)
		return KEEL_ERR_MALFORMED; /* SK/SKF is the last payload */
	uint8_t *buf = xmalloc(parts.ciphertext.len);
	if (aead) {
		if (!r->aead[dir]) {
			rc = KEEL_ERR_STATE;
		} else {
			rc = keel_aead_open(r->aead[dir], parts.iv.p, m, (size_t)(body.p - m),
			                    parts.ciphertext.p, parts.ciphertext.len, buf,
			                    parts.icv.p);
		}
	} else if (!r->cbc[dir] || !r->icv[dir]) {
		rc = KEEL_ERR_STATE;
	} else {
		struct keel_iov covered = {m, (ptrdiff_t)(parts.icv.p - m)};
		rc = keel_integ_verify(r->icv[dir], &covered, 1, parts.icv.p, (ptrdiff_t)icv_len);
		if (rc == 0)
			rc = keel_cipher_decrypt(r->cbc[dir], parts.iv.p, parts.ciphertext.p,
			                         parts.ciphertext.len, buf);
	}
	plain.p = buf;
	plain.len = parts.ciphertext.len;
	if (rc == 0)
		rc = keel_v2_sk_unpad(plain, &inner);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = inner.len;
	return 0;
}

/* A flipped bit in the header (associated data) or in the ciphertext is refused. */
static void v2_tamper(struct v2_run *r, int dir, const struct dgram *d, struct keel_v2_bytes body)
{
	uint8_t *copy = xmalloc(d->len);
	size_t body_off = (size_t)(body.p - d->data);
	size_t spots[2] = {20 /* Message ID */, body_off + body.len / 2};

	for (size_t i = 0; i < 2; i++) {
		uint8_t *out = NULL;
		size_t out_len;
		memcpy(copy, d->data, d->len);
		copy[spots[i]] ^= 0x04;
		struct keel_v2_bytes b = {copy + body_off, body.len};
		CHECK_INT(v2_unprotect(r, dir, copy, d->len, b, &out, &out_len), KEEL_ERR_AUTH);
		free(out);
		r->fx->t.tamper++;
	}
	free(copy);
}

/* Records what one decrypted IKE_AUTH or INFORMATIONAL chain carried. */
static void v2_inner(struct v2_run *r, int dir, uint8_t exchange, const struct keel_v2_chain *c)
{
	struct fixture *fx = r->fx;

	for (size_t i = 0; i < c->n; i++) {
		const struct keel_v2_raw_payload *raw = &c->p[i];
		if (raw->type < 64 && exchange == KEEL_V2_EXCHANGE_IKE_AUTH)
			r->seen_auth[dir] |= 1ull << raw->type;
		if (raw->type < 64 && exchange == KEEL_V2_EXCHANGE_INFORMATIONAL)
			r->seen_info[dir] |= 1ull << raw->type;
		if (exchange != KEEL_V2_EXCHANGE_IKE_AUTH)
			continue;
		CHECK_INT(keel_v2_payload_decode(raw, &pl2), 0);
		switch (raw->type) {
		case KEEL_V2_PAYLOAD_IDI:
		case KEEL_V2_PAYLOAD_IDR:
			/* RFC 7296 §1.2: IDi only in requests; the request may name the
			 * IDr it wants, the responder's own IDr is in its response */
			CHECK(raw->type == KEEL_V2_PAYLOAD_IDR || dir == I2R);
			if (raw->type != (dir == I2R ? KEEL_V2_PAYLOAD_IDI : KEEL_V2_PAYLOAD_IDR))
				break;
			CHECK(!r->has_id[dir]); /* one identity each way (no multiple auth) */
			r->id[dir] = raw->body;
			r->has_id[dir] = true;
			break;
		case KEEL_V2_PAYLOAD_CERT:
			if (!r->has_cert[dir]) {
				r->cert[dir] = pl2.u.cert.data;
				r->has_cert[dir] = true;
				CHECK_INT(pl2.u.cert.encoding, KEEL_V2_CERT_X509_SIGNATURE);
			}
			r->n_cert[dir]++;
			break;
		case KEEL_V2_PAYLOAD_AUTH:
			CHECK(r->n_auth[dir] < ARRAY_LEN(r->auth[dir]));
			if (r->n_auth[dir] < ARRAY_LEN(r->auth[dir])) {
				r->auth[dir][r->n_auth[dir]].method = pl2.u.auth.method;
				r->auth[dir][r->n_auth[dir]].data = pl2.u.auth.data;
				r->n_auth[dir]++;
			}
			break;
		case KEEL_V2_PAYLOAD_SA: {
			/* the CHILD_SA: SPIs as charon reported them, the choice as it printed */
			if (dir == I2R) {
				bool found = false;
				r->child_sa_req = raw->body;
				r->has_child_sa_req = true;
				for (size_t j = 0; j < pl2.u.sa.n_proposals; j++) {
					const struct keel_v2_proposal *p = &pl2.u.sa.proposals[j];
					found |= p->spi.len == 4 && be32(p->spi.p) == fx->esp_spi_i;
				}
				CHECK(found);
				sa_req2 = pl2;
			} else {
				char text[200];
				v2_algs_from(&r->esp, &pl2.u.sa);
				CHECK_INT(r->esp.protocol, KEEL_V2_PROTO_ESP);
				CHECK(r->esp.spi.len == 4 && be32(r->esp.spi.p) == fx->esp_spi_r);
				v2_algs_text(&r->esp, text, sizeof(text));
				check_proposal_text(fx, text, fx->esp_proposal);
				CHECK(r->has_child_sa_req);
				if (r->has_child_sa_req)
					v2_check_offered(&sa_req2.u.sa, &r->esp);
				r->has_child_sa_resp = true;
			}
			break;
		}
		case KEEL_V2_PAYLOAD_CP: {
			/* the lab's pool 100.64.0.0/24 and DNS 198.51.100.53 */
			const struct keel_v2_cp *cp = &pl2.u.cp;
			bool addr = false, dns = false;
			CHECK_INT(cp->cfg_type,
			          dir == I2R ? KEEL_V2_CFG_REQUEST : KEEL_V2_CFG_REPLY);
			if (cp->cfg_type != KEEL_V2_CFG_REPLY)
				break;
			for (size_t j = 0; j < cp->n; j++) {
				const struct keel_v2_cp_attr *a = &cp->attrs[j];
				if (a->type == KEEL_V2_CP_INTERNAL_IP4_ADDRESS && a->value.len == 4)
					addr = memcmp(a->value.p, "\x64\x40\x00", 3) == 0;
				if (a->type == KEEL_V2_CP_INTERNAL_IP4_DNS && a->value.len == 4)
					dns = memcmp(a->value.p, "\xc6\x33\x64\x35", 4) == 0;
			}
			CHECK(addr && dns);
			r->cp_reply_ok = addr && dns;
			break;
		}
		case KEEL_V2_PAYLOAD_EAP: {
			const struct keel_v2_eap *e = &pl2.u.eap;
			if (dir == I2R && e->code == KEEL_V2_EAP_RESPONSE && e->has_type &&
			    e->type == 1 /* Identity, RFC 3748 §5.1 */) {
				CHECK(fx->eap_user != NULL);
				if (fx->eap_user)
					CHECK_MEM(e->data.p, e->data.len, fx->eap_user,
					          strlen(fx->eap_user));
				r->eap_identity_ok = true;
			}
			if (dir == R2I && e->code == KEEL_V2_EAP_SUCCESS)
				r->eap_success = true;
			break;
		}
		default:
			break;
		}
	}
}

/* Every datagram after IKE_SA_INIT: decoded, opened, its inner chain decoded. */
static void v2_protected(struct v2_run *r)
{
	struct fixture *fx = r->fx;
	uint32_t last_request_mid = 0;

	for (size_t i = 0; i < fx->n; i++) {
		const struct dgram *d = &fx->d[i];
		int dir = d->i2r ? I2R : R2I;
		int rc = keel_v2_msg_decode(d->data, d->len, &msg2);
		CHECK_INT(rc, 0);
		if (rc != 0)
			continue;
		fx->t.decoded++;
		/* the client initiated the SA and sent every request (RFC 7296 §3.1 flags) */
		CHECK_INT(msg2.hdr.len, d->len);
		CHECK_MEM(d->data, 8, r->spi_i, 8);
		if (i > 0)
			CHECK_MEM(d->data + 8, 8, r->spi_r, 8);
		CHECK(!!(msg2.hdr.flags & KEEL_V2_FLAG_INITIATOR) == d->i2r);
		CHECK(!!(msg2.hdr.flags & KEEL_V2_FLAG_RESPONSE) == !d->i2r);
		if (d->i2r)
			last_request_mid = msg2.hdr.msg_id;
		else
			CHECK_INT(msg2.hdr.msg_id, last_request_mid);
		/* RFC 3948 §2.2 / RFC 7296 §2.23: the non-ESP marker exactly on port 4500 */
		CHECK(d->marker == (d->src_port == 4500));
		if (i < 2)
			continue; /* IKE_SA_INIT: v2_ike_sa_init() */
		CHECK(msg2.chain.n >= 1);
		if (msg2.chain.n == 0)
			continue;
		const struct keel_v2_raw_payload *last = &msg2.chain.p[msg2.chain.n - 1];
		CHECK(last->type == KEEL_V2_PAYLOAD_SK || last->type == KEEL_V2_PAYLOAD_SKF);
		CHECK_INT(keel_v2_payload_decode(last, &pl2), 0);
		struct keel_v2_bytes body =
		    last->type == KEEL_V2_PAYLOAD_SKF ? pl2.u.skf.body : pl2.u.sk.body;
		uint8_t exchange = msg2.hdr.exchange;
		struct keel_v2_skf skf = pl2.u.skf;
		uint8_t *plain = NULL;
		size_t plain_len = 0;
		rc = v2_unprotect(r, dir, d->data, d->len, body, &plain, &plain_len);
		CHECK_INT(rc, 0);
		if (rc != 0)
			continue;
		fx->t.decrypted++;
		if (!r->tampered[dir]) {
			v2_tamper(r, dir, d, body);
			r->tampered[dir] = true;
		}
		uint8_t first = last->next;
		if (last->type == KEEL_V2_PAYLOAD_SKF) {
			/* RFC 7383 §2.5, §2.6: alone in its message, in order, put together */
			fx->t.fragments++;
			CHECK_INT(msg2.chain.n, 1);
			CHECK_INT(keel_v2_skf_verify(&skf), 0);
			if (skf.frag_num == 1) {
				free(r->frag[dir]);
				r->frag[dir] = NULL;
				r->frag_len[dir] = 0;
				r->frag_next[dir] = 1;
				r->frag_first[dir] = skf.inner_type;
			}
			CHECK_INT(skf.frag_num, r->frag_next[dir]);
			uint8_t *grown = realloc(r->frag[dir], r->frag_len[dir] + plain_len + 1);
			if (!grown)
				abort();
			memcpy(grown + r->frag_len[dir], plain, plain_len);
			r->frag[dir] = grown;
			r->frag_len[dir] += plain_len;
			r->frag_next[dir]++;
			free(plain);
			if (skf.frag_num != skf.total)
				continue;
			plain = r->frag[dir];
			plain_len = r->frag_len[dir];
			first = r->frag_first[dir];
			r->frag[dir] = NULL;
		}
		r->plain[r->n_plain++] = plain;
		struct keel_rd rd = keel_rd_init(plain, plain_len);
		rc = keel_v2_chain_decode(&rd, first, KEEL_V2_CHAIN_INNER, &inner2);
		CHECK_INT(rc, 0);
		CHECK(!rd.bad && rd.left == 0);
		CHECK_INT(keel_v2_chain_verify(&inner2), 0);
		if (rc == 0)
			v2_inner(r, dir, exchange, &inner2);
	}
}

/* RFC 7296 §2.15: prf(prf(secret, "Key Pad for IKEv2"), msg | nonce | prf(SK_p, ID')). */
static ptrdiff_t v2_auth_psk(const struct v2_run *r, const uint8_t *secret, size_t secret_len,
                             const struct dgram *real, struct keel_v2_bytes nonce,
                             const struct keel_secret *sk_p, struct keel_v2_bytes id,
                             uint8_t *pad_key, uint8_t out[KEEL_PRF_MAX_OUT_LEN])
{
	static const char keypad[] = "Key Pad for IKEv2"; /* 17 bytes, no NUL */
	uint8_t maced[KEEL_PRF_MAX_OUT_LEN];
	struct keel_iov in = {(const uint8_t *)keypad, (ptrdiff_t)strlen(keypad)};
	struct keel_iov id_in = {id.p, (ptrdiff_t)id.len};
	ptrdiff_t n =
	    keel_prf(r->prf, secret, (ptrdiff_t)secret_len, &in, 1, pad_key, KEEL_PRF_MAX_OUT_LEN);
	ptrdiff_t m = keel_prf(r->prf, keel_secret_data(sk_p), keel_secret_len(sk_p), &id_in, 1,
	                       maced, sizeof(maced));
	if (n < 0 || m < 0)
		return -1;
	struct keel_iov octets[3] = {
	    {real->data, (ptrdiff_t)real->len}, {nonce.p, (ptrdiff_t)nonce.len}, {maced, m}};
	return keel_prf(r->prf, pad_key, n, octets, 3, out, KEEL_PRF_MAX_OUT_LEN);
}

/* The signed octets of RFC 7296 §2.15, as one buffer. */
static uint8_t *v2_signed_octets(const struct v2_run *r, const struct dgram *real,
                                 struct keel_v2_bytes nonce, const struct keel_secret *sk_p,
                                 struct keel_v2_bytes id, size_t *len)
{
	uint8_t maced[KEEL_PRF_MAX_OUT_LEN];
	struct keel_iov id_in = {id.p, (ptrdiff_t)id.len};
	ptrdiff_t m = keel_prf(r->prf, keel_secret_data(sk_p), keel_secret_len(sk_p), &id_in, 1,
	                       maced, sizeof(maced));
	CHECK(m > 0);
	if (m <= 0)
		m = 0;
	uint8_t *o = xmalloc(real->len + nonce.len + (size_t)m);
	memcpy(o, real->data, real->len);
	memcpy(o + real->len, nonce.p, nonce.len);
	memcpy(o + real->len + nonce.len, maced, (size_t)m);
	*len = real->len + nonce.len + (size_t)m;
	return o;
}

/*
 * AUTH with a shared secret: the PSK (RFC 7296 §2.15) or the EAP MSK
 * (§2.16), against the AUTH payload received, for the initiator (dir
 * I2R) and the responder; and prf(secret, keypad) against charon's.
 */
static void v2_check_auth_shared(struct v2_run *r, const uint8_t *secret, size_t secret_len,
                                 const struct v2_auth *auth_i, const struct v2_auth *auth_r)
{
	struct fixture *fx = r->fx;
	uint8_t pad_key[KEEL_PRF_MAX_OUT_LEN], out[KEEL_PRF_MAX_OUT_LEN];
	ptrdiff_t n;

	CHECK_INT(auth_i->method, KEEL_V2_AUTH_PSK);
	n = v2_auth_psk(r, secret, secret_len, &fx->d[0], r->nr, r->k.sk_pi, r->id[I2R], pad_key,
	                out);
	CHECK(n > 0);
	if (n > 0) {
		check_logged(fx, "prf(secret, keypad)", pad_key, (size_t)keel_prf_out_len(r->prf));
		CHECK_MEM(out, (size_t)n, auth_i->data.p, auth_i->data.len);
		fx->t.auth++;
	}
	CHECK_INT(auth_r->method, KEEL_V2_AUTH_PSK);
	n = v2_auth_psk(r, secret, secret_len, &fx->d[1], r->ni, r->k.sk_pr, r->id[R2I], pad_key,
	                out);
	CHECK(n > 0);
	if (n > 0) {
		CHECK_MEM(out, (size_t)n, auth_r->data.p, auth_r->data.len);
		fx->t.auth++;
	}
	/* the other side's SK_p does not give the initiator's AUTH */
	n = v2_auth_psk(r, secret, secret_len, &fx->d[0], r->nr, r->k.sk_pr, r->id[I2R], pad_key,
	                out);
	CHECK(n > 0 && ((size_t)n != auth_i->data.len || memcmp(out, auth_i->data.p, (size_t)n)));
}

static void v2_check_auth_sig(struct v2_run *r, int dir, const struct v2_auth *auth)
{
	struct fixture *fx = r->fx;
	size_t len;
	uint8_t *octets;

	CHECK(r->has_cert[dir]);
	if (!r->has_cert[dir])
		return;
	if (dir == I2R)
		octets = v2_signed_octets(r, &fx->d[0], r->nr, r->k.sk_pi, r->id[I2R], &len);
	else
		octets = v2_signed_octets(r, &fx->d[1], r->ni, r->k.sk_pr, r->id[R2I], &len);
	bool ok = v2_sig_ok(r->cert[dir].p, r->cert[dir].len, auth->method, auth->data.p,
	                    auth->data.len, octets, len);
	if (!ok)
		fprintf(stderr, "# %s: the %s AUTH (method %u) does not verify\n", fx->file,
		        dir == I2R ? "initiator's" : "responder's", auth->method);
	CHECK(ok);
	/* one byte fewer signed does not verify */
	CHECK(!v2_sig_ok(r->cert[dir].p, r->cert[dir].len, auth->method, auth->data.p,
	                 auth->data.len, octets, len - 1));
	free(octets);
	fx->t.sigs++;
}

/* RFC 7296 §2.17: KEYMAT = prf+(SK_d, Ni | Nr), encr_i | integ_i | encr_r | integ_r. */
static void v2_check_child(struct v2_run *r)
{
	struct fixture *fx = r->fx;
	enum keel_integ_alg integ = KEEL_INTEG_NONE;
	struct keel_child_keys ck = {0};

	CHECK(r->has_child_sa_resp);
	if (!r->has_child_sa_resp)
		return;
	if (r->esp.has_integ)
		CHECK_INT(keel_integ_from_ikev2_id(r->esp.integ, &integ), 0);
	struct keel_ikev2_child_params cp = {
	    .prf = r->prf,
	    .integ = integ,
	    .encr_key_len = keel_encr_keymat_len(r->esp.encr, r->esp.key_bits),
	    .nonce_i = r->ni.p,
	    .nonce_i_len = (ptrdiff_t)r->ni.len,
	    .nonce_r = r->nr.p,
	    .nonce_r_len = (ptrdiff_t)r->nr.len,
	};
	CHECK(cp.encr_key_len > 0);
	CHECK_INT(keel_ikev2_derive_child(&cp, r->k.sk_d, &ck), 0);
	check_logged_secret(fx, "encryption initiator key", ck.encr_i);
	check_logged_secret(fx, "encryption responder key", ck.encr_r);
	if (integ != KEEL_INTEG_NONE) {
		check_logged_secret(fx, "integrity initiator key", ck.integ_i);
		check_logged_secret(fx, "integrity responder key", ck.integ_r);
	} else {
		CHECK(ck.integ_i == NULL && ck.integ_r == NULL);
		check_not_logged(fx, "integrity initiator key");
		check_not_logged(fx, "integrity responder key");
	}
	keel_child_keys_clear(&ck);
}

#define BIT(t) (1ull << (t))

static void run_ikev2(struct fixture *fx)
{
	struct v2_run *r = calloc(1, sizeof(*r));
	bool cert = fx->client_cert != NULL, eap = fx->eap_user != NULL, psk = fx->psk != NULL;

	if (!r)
		abort();
	r->fx = fx;
	CHECK_INT(fx->version, 2);
	CHECK_INT(cert + eap + psk, 1); /* one kind of client authentication */
	if (v2_ike_sa_init(r) && r->keyed)
		v2_protected(r);

	/* RFC 7296 §1.2 IKE_AUTH contents, and the certificates (§3.6) or EAP (§2.16) */
	uint64_t want_i = BIT(KEEL_V2_PAYLOAD_IDI) | BIT(KEEL_V2_PAYLOAD_AUTH) |
	                  BIT(KEEL_V2_PAYLOAD_SA) | BIT(KEEL_V2_PAYLOAD_TSI) |
	                  BIT(KEEL_V2_PAYLOAD_TSR) | BIT(KEEL_V2_PAYLOAD_CP);
	uint64_t want_r = BIT(KEEL_V2_PAYLOAD_IDR) | BIT(KEEL_V2_PAYLOAD_AUTH) |
	                  BIT(KEEL_V2_PAYLOAD_SA) | BIT(KEEL_V2_PAYLOAD_TSI) |
	                  BIT(KEEL_V2_PAYLOAD_TSR) | BIT(KEEL_V2_PAYLOAD_CP);
	if (cert)
		want_i |= BIT(KEEL_V2_PAYLOAD_CERT);
	if (cert || eap)
		want_r |= BIT(KEEL_V2_PAYLOAD_CERT);
	if (eap) {
		want_i |= BIT(KEEL_V2_PAYLOAD_EAP);
		want_r |= BIT(KEEL_V2_PAYLOAD_EAP);
	}
	CHECK((r->seen_auth[I2R] & want_i) == want_i);
	CHECK((r->seen_auth[R2I] & want_r) == want_r);
	if (!psk && !cert)
		CHECK((r->seen_auth[I2R] & BIT(KEEL_V2_PAYLOAD_CERT)) == 0);
	if (fx->scenario && strcmp(fx->scenario, "ikev2-cert-ecdsa") == 0)
		CHECK_INT(r->n_cert[R2I], 2); /* the gateway's and the intermediate CA's */
	CHECK(r->seen_info[I2R] & BIT(KEEL_V2_PAYLOAD_DELETE));
	CHECK(r->cp_reply_ok);
	CHECK(r->has_id[I2R] && r->has_id[R2I]);
	if (cert && r->has_cert[I2R])
		check_cert_file(fx, fx->client_cert, r->cert[I2R].p, r->cert[I2R].len);
	if ((cert || eap) && r->has_cert[R2I] && fx->gateway_cert)
		check_cert_file(fx, fx->gateway_cert, r->cert[R2I].p, r->cert[R2I].len);

	if (r->keyed && r->has_id[I2R] && r->has_id[R2I]) {
		if (psk) {
			CHECK(r->n_auth[I2R] == 1 && r->n_auth[R2I] == 1);
			/* charon's "secret" is the PSK as given */
			check_logged(fx, "secret", (const uint8_t *)fx->psk, strlen(fx->psk));
			if (r->n_auth[I2R] == 1 && r->n_auth[R2I] == 1)
				v2_check_auth_shared(r, (const uint8_t *)fx->psk, strlen(fx->psk),
				                     &r->auth[I2R][0], &r->auth[R2I][0]);
		} else if (cert) {
			CHECK(r->n_auth[I2R] == 1 && r->n_auth[R2I] == 1);
			if (r->n_auth[I2R] == 1 && r->n_auth[R2I] == 1) {
				v2_check_auth_sig(r, I2R, &r->auth[I2R][0]);
				v2_check_auth_sig(r, R2I, &r->auth[R2I][0]);
			}
		} else {
			/* the gateway signs first; then both AUTH with the MSK after EAP Success */
			size_t msk_len;
			const uint8_t *msk = logged(fx, "secret", &msk_len);
			CHECK(r->eap_identity_ok && r->eap_success);
			CHECK(r->n_auth[I2R] == 1 && r->n_auth[R2I] == 2);
			CHECK(msk != NULL);
			if (r->n_auth[R2I] >= 1)
				v2_check_auth_sig(r, R2I, &r->auth[R2I][0]);
			if (msk && r->n_auth[I2R] == 1 && r->n_auth[R2I] == 2)
				v2_check_auth_shared(r, msk, msk_len, &r->auth[I2R][0],
				                     &r->auth[R2I][1]);
		}
		v2_check_child(r);
	}

	for (int dir = 0; dir < 2; dir++) {
		keel_aead_free(r->aead[dir]);
		keel_cipher_free(r->cbc[dir]);
		keel_integ_free(r->icv[dir]);
		free(r->frag[dir]);
	}
	for (size_t i = 0; i < r->n_plain; i++)
		free(r->plain[i]);
	keel_ikev2_ike_keys_clear(&r->k);
	free(r);
}

/* ------------------------------------------------------------------ */
/* IKEv1                                                              */

struct v1_iv {
	uint32_t mid;
	uint8_t iv[CBC_BLOCK];
	unsigned n_msgs; /* messages of this exchange so far */
};

struct v1_run {
	struct fixture *fx;
	/* phase 1 choice (RFC 2409 Appendix A attributes) */
	uint16_t encr, key_bits, hash, auth_method, group;
	enum keel_prf_alg prf;
	uint8_t cky_i[8], cky_r[8];
	struct keel_v1_payload sai, ke_i, ke_r, n_i, n_r, id_i, id_r, hash_i, hash_r, sig_i, sig_r,
	    cert_i, cert_r;
	bool has_sai, has_ke_i, has_ke_r, has_n_i, has_n_r, has_id_i, has_id_r, has_hash_i,
	    has_hash_r, has_sig_i, has_sig_r, has_cert_i, has_cert_r;
	/* keys and the CBC state */
	struct keel_ikev1_keys k;
	bool keyed, key_failed;
	struct keel_cipher *cbc;
	struct v1_iv ivs[MAX_MIDS];
	size_t n_ivs;
	uint8_t last_p1[CBC_BLOCK]; /* last CBC block of phase 1 (Appendix B) */
	bool phase1_done;
	/* fragments (payload 132), one message per direction at a time */
	uint8_t *frag[2];
	size_t frag_len[2];
	unsigned frag_next[2];
	uint16_t frag_id[2];
	/* decrypted or reassembled messages: the payloads above borrow from them */
	uint8_t *kept[2 * MAX_DGRAMS];
	size_t n_kept;
	/* quick mode */
	uint32_t qm_mid;
	struct keel_v1_payload qm_n_i, qm_n_r;
	bool has_qm_n_i, has_qm_n_r, qm_done;
	uint8_t esp_id;
	uint16_t esp_bits, esp_auth;
	bool has_esp;
	/* Mode Config and XAUTH */
	bool cfg_reply_ok, xauth_user_ok, xauth_pass_ok;
	uint64_t seen[2];
	bool delete_seen;
	bool tampered;
};

static struct keel_v1_msg m1;
static struct keel_v1_sa sa1;

static enum keel_prf_alg v1_prf_of(uint16_t hash)
{
	/* RFC 2409 §4: without a PRF attribute, the HMAC of the negotiated hash */
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

/* charon names IKEv1's hash as an integrity algorithm too. */
static enum keel_integ_alg v1_integ_of_hash(uint16_t hash)
{
	switch (hash) {
	case KEEL_V1_HASH_SHA1:
		return KEEL_INTEG_HMAC_SHA1_96;
	case KEEL_V1_HASH_SHA2_256:
		return KEEL_INTEG_HMAC_SHA2_256_128;
	case KEEL_V1_HASH_SHA2_384:
		return KEEL_INTEG_HMAC_SHA2_384_192;
	case KEEL_V1_HASH_SHA2_512:
		return KEEL_INTEG_HMAC_SHA2_512_256;
	default:
		return KEEL_INTEG_NONE;
	}
}

/* RFC 2407 §4.5 Authentication Algorithm to the IKEv2/ESP integrity transform. */
static enum keel_integ_alg v1_integ_of_auth(uint16_t auth)
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
	default:
		return KEEL_INTEG_NONE;
	}
}

static uint16_t attr16(const struct keel_v1_attrs *list, uint16_t type)
{
	const struct keel_v1_attr *a = keel_v1_attrs_find(list, type);
	uint32_t v = 0;
	if (a)
		CHECK_INT(keel_v1_attr_u32(a, &v), 0);
	return (uint16_t)v;
}

static struct keel_v1_attrs attrs1;

/* Phase 1: the responder returns one proposal with one transform (RFC 2408 §4.2). */
static void v1_phase1_choice(struct v1_run *r, const struct keel_v1_payload *pl)
{
	struct fixture *fx = r->fx;
	char text[200] = "IKE:";

	CHECK_INT(keel_v1_sa_decode(pl, &sa1), 0);
	CHECK_INT(sa1.n_proposals, 1);
	CHECK_INT(sa1.n_transforms, 1);
	if (sa1.n_transforms != 1)
		return;
	CHECK_INT(sa1.proposals[0].protocol, KEEL_V1_PROTO_ISAKMP);
	CHECK_INT(sa1.transforms[0].id, KEEL_V1_KEY_IKE);
	CHECK_INT(
	    keel_v1_attrs_decode(sa1.transforms[0].attrs, sa1.transforms[0].attrs_len, &attrs1), 0);
	r->encr = attr16(&attrs1, KEEL_V1_IKE_ATTR_ENCR);
	r->key_bits = attr16(&attrs1, KEEL_V1_IKE_ATTR_KEY_LENGTH);
	r->hash = attr16(&attrs1, KEEL_V1_IKE_ATTR_HASH);
	r->auth_method = attr16(&attrs1, KEEL_V1_IKE_ATTR_AUTH_METHOD);
	r->group = attr16(&attrs1, KEEL_V1_IKE_ATTR_GROUP_DESC);
	CHECK(keel_v1_attrs_find(&attrs1, KEEL_V1_IKE_ATTR_PRF) == NULL);
	r->prf = v1_prf_of(r->hash);
	CHECK_INT(r->encr, KEEL_V1_ENCR_AES_CBC);
	add_alg(text, sizeof(text), r->encr == KEEL_V1_ENCR_AES_CBC ? "AES_CBC" : "?", r->key_bits);
	add_alg(text, sizeof(text),
	        lookup(integ_names, ARRAY_LEN(integ_names), v1_integ_of_hash(r->hash)), 0);
	add_alg(text, sizeof(text), lookup(prf_names, ARRAY_LEN(prf_names), r->prf), 0);
	add_alg(text, sizeof(text), lookup(dh_names, ARRAY_LEN(dh_names), r->group), 0);
	check_proposal_text(fx, text, fx->ike_proposal);
	if (fx->psk)
		CHECK(r->auth_method == KEEL_V1_AUTH_PSK ||
		      r->auth_method == KEEL_V1_AUTH_XAUTH_INIT_PSK);
	else
		CHECK_INT(r->auth_method, KEEL_V1_AUTH_RSA_SIG);
	if (fx->xauth_user)
		CHECK_INT(r->auth_method, KEEL_V1_AUTH_XAUTH_INIT_PSK);
}

/*
 * RFC 3947 §3.2: the first NAT-D is HASH(CKY-I | CKY-R | IP | port) of the
 * destination, with the negotiated hash. (strongSwan's encap = yes fakes
 * the source hashes that follow.)
 */
static void v1_check_natd(struct v1_run *r, const struct keel_v1_msg *m, const uint8_t addr[4],
                          unsigned port)
{
	const struct keel_v1_payload *pl = keel_v1_msg_next(m, KEEL_V1_PL_NAT_D, NULL);
	uint8_t port_be[2] = {(uint8_t)(port >> 8), (uint8_t)port}, want[KEEL_PRF_MAX_OUT_LEN];
	struct keel_iov in[4] = {{r->cky_i, 8}, {r->cky_r, 8}, {addr, 4}, {port_be, 2}};
	ptrdiff_t n = keel_ikev1_hash(r->prf, in, 4, want, sizeof(want));

	CHECK(pl != NULL && n > 0);
	if (pl && n > 0)
		CHECK_MEM(pl->body, pl->len, want, (size_t)n);
	r->fx->t.natd++;
}

/* Phase 1 payloads of a cleartext (or decrypted phase 1) message. */
static void v1_phase1_payloads(struct v1_run *r, const struct keel_v1_msg *m, bool i2r)
{
	for (size_t i = 0; i < m->n_payloads; i++) {
		const struct keel_v1_payload *pl = &m->pl[i];
		struct keel_v1_payload *slot = NULL;
		bool *has = NULL;
		switch (pl->type) {
		case KEEL_V1_PL_SA:
			if (i2r) {
				slot = &r->sai, has = &r->has_sai;
			} else {
				v1_phase1_choice(r, pl);
			}
			break;
		case KEEL_V1_PL_KE:
			slot = i2r ? &r->ke_i : &r->ke_r, has = i2r ? &r->has_ke_i : &r->has_ke_r;
			break;
		case KEEL_V1_PL_NONCE:
			slot = i2r ? &r->n_i : &r->n_r, has = i2r ? &r->has_n_i : &r->has_n_r;
			break;
		case KEEL_V1_PL_ID:
			slot = i2r ? &r->id_i : &r->id_r, has = i2r ? &r->has_id_i : &r->has_id_r;
			break;
		case KEEL_V1_PL_HASH:
			slot = i2r ? &r->hash_i : &r->hash_r;
			has = i2r ? &r->has_hash_i : &r->has_hash_r;
			break;
		case KEEL_V1_PL_SIG:
			slot = i2r ? &r->sig_i : &r->sig_r,
			has = i2r ? &r->has_sig_i : &r->has_sig_r;
			break;
		case KEEL_V1_PL_CERT:
			if (i2r ? !r->has_cert_i : !r->has_cert_r) {
				slot = i2r ? &r->cert_i : &r->cert_r;
				has = i2r ? &r->has_cert_i : &r->has_cert_r;
			}
			break;
		default:
			break;
		}
		if (slot) {
			CHECK(!*has); /* each once per direction in phase 1 */
			*slot = *pl;
			*has = true;
		}
	}
}

static struct v1_iv *v1_iv_for(struct v1_run *r, uint32_t mid)
{
	for (size_t i = 0; i < r->n_ivs; i++)
		if (r->ivs[i].mid == mid)
			return &r->ivs[i];
	CHECK(r->n_ivs < MAX_MIDS);
	if (r->n_ivs == MAX_MIDS)
		return NULL;
	struct v1_iv *iv = &r->ivs[r->n_ivs++];
	memset(iv, 0, sizeof(*iv));
	iv->mid = mid;
	return iv;
}

/* RFC 2409 §5 and Appendix B: SKEYID and its children, the cipher key, the first IV. */
static bool v1_derive(struct v1_run *r)
{
	struct fixture *fx = r->fx;
	struct keel_secret *skeyid = NULL;
	size_t g_len;
	const uint8_t *g_xy = logged(fx, "shared Diffie Hellman secret", &g_len);
	int rc;

	CHECK(r->has_n_i && r->has_n_r && r->has_ke_i && r->has_ke_r && r->has_sai && g_xy);
	if (!r->has_n_i || !r->has_n_r || !r->has_ke_i || !r->has_ke_r || !r->has_sai || !g_xy)
		return false;
	CHECK_INT(g_len, keel_dh_secret_len(r->group));
	CHECK_INT(r->ke_i.len, keel_dh_public_len(r->group));
	CHECK_INT(r->ke_r.len, keel_dh_public_len(r->group));
	if (fx->psk)
		rc = keel_ikev1_skeyid_psk(
		    r->prf, (const uint8_t *)fx->psk, (ptrdiff_t)strlen(fx->psk), r->n_i.body,
		    (ptrdiff_t)r->n_i.len, r->n_r.body, (ptrdiff_t)r->n_r.len, &skeyid);
	else
		rc = keel_ikev1_skeyid_sig(r->prf, r->n_i.body, (ptrdiff_t)r->n_i.len, r->n_r.body,
		                           (ptrdiff_t)r->n_r.len, g_xy, (ptrdiff_t)g_len, &skeyid);
	CHECK_INT(rc, 0);
	if (rc != 0)
		return false;
	rc = keel_ikev1_derive(r->prf, skeyid, g_xy, (ptrdiff_t)g_len, r->cky_i, r->cky_r,
	                       r->key_bits / 8, &r->k);
	keel_secret_free(skeyid);
	CHECK_INT(rc, 0);
	if (rc != 0)
		return false;
	check_logged_secret(fx, "SKEYID", r->k.skeyid);
	check_logged_secret(fx, "SKEYID_d", r->k.skeyid_d);
	check_logged_secret(fx, "SKEYID_a", r->k.skeyid_a);
	check_logged_secret(fx, "SKEYID_e", r->k.skeyid_e);
	check_logged_secret(fx, "encryption key Ka", r->k.encr_key);

	struct v1_iv *iv = v1_iv_for(r, 0);
	CHECK(iv != NULL);
	if (!iv)
		return false;
	CHECK_INT(keel_ikev1_iv_phase1(r->prf, r->ke_i.body, (ptrdiff_t)r->ke_i.len, r->ke_r.body,
	                               (ptrdiff_t)r->ke_r.len, CBC_BLOCK, iv->iv),
	          0);
	check_logged(fx, "initial IV", iv->iv, CBC_BLOCK);
	fx->t.ivs++;
	CHECK_INT(keel_cipher_new(KEEL_ENCR_AES_CBC, r->key_bits, KEEL_CIPHER_DECRYPT,
	                          keel_secret_data(r->k.encr_key),
	                          (size_t)keel_secret_len(r->k.encr_key), &r->cbc),
	          0);
	r->keyed = r->cbc != NULL;
	return r->keyed;
}

/* The bytes after the HASH payload up to the end of the chain (RFC 2409 §5.5). */
static void v1_after_hash(const struct keel_v1_msg *m, const uint8_t *chain, const uint8_t **p,
                          size_t *len)
{
	const struct keel_v1_payload *h = &m->pl[0];
	*p = h->raw + h->raw_len;
	*len = m->chain_len - (size_t)(*p - chain);
}

/*
 * The HASH a protected phase 2 message must carry: HASH(1), HASH(2),
 * HASH(3) of quick mode (RFC 2409 §5.5), the HASH(1) form for
 * informational exchanges (§5.7) and Mode Config / XAUTH transactions
 * (draft-dukes-ike-mode-cfg-02 §3.2). nth counts the messages of the
 * exchange from 0. Returns the hash length, or -1 when the message does
 * not start with a HASH payload or an input is missing.
 */
static ptrdiff_t v1_msg_hash(const struct v1_run *r, const struct keel_v1_msg *m,
                             const uint8_t *chain, unsigned nth, uint8_t want[KEEL_PRF_MAX_OUT_LEN])
{
	const uint8_t *after;
	size_t after_len;

	if (m->n_payloads < 1 || m->pl[0].type != KEEL_V1_PL_HASH || m->pl[0].raw != chain)
		return -1;
	v1_after_hash(m, chain, &after, &after_len);
	if (m->hdr.exchange != KEEL_V1_EXCH_QUICK || nth == 0)
		return keel_ikev1_hash1(r->prf, r->k.skeyid_a, m->hdr.msg_id, after,
		                        (ptrdiff_t)after_len, want, KEEL_PRF_MAX_OUT_LEN);
	if (nth == 1 && r->has_qm_n_i)
		return keel_ikev1_hash2(r->prf, r->k.skeyid_a, m->hdr.msg_id, r->qm_n_i.body,
		                        (ptrdiff_t)r->qm_n_i.len, after, (ptrdiff_t)after_len, want,
		                        KEEL_PRF_MAX_OUT_LEN);
	if (nth == 2 && r->has_qm_n_i && r->has_qm_n_r && after_len == 0) /* HASH(3) alone */
		return keel_ikev1_hash3(r->prf, r->k.skeyid_a, m->hdr.msg_id, r->qm_n_i.body,
		                        (ptrdiff_t)r->qm_n_i.len, r->qm_n_r.body,
		                        (ptrdiff_t)r->qm_n_r.len, want, KEEL_PRF_MAX_OUT_LEN);
	return -1;
}

static bool v1_msg_hash_ok(const struct v1_run *r, const struct keel_v1_msg *m,
                           const uint8_t *chain, unsigned nth)
{
	uint8_t want[KEEL_PRF_MAX_OUT_LEN];
	ptrdiff_t n = v1_msg_hash(r, m, chain, nth, want);
	return n > 0 && (size_t)n == m->pl[0].len && memcmp(want, m->pl[0].body, (size_t)n) == 0;
}

static void v1_check_msg_hash(struct v1_run *r, const struct keel_v1_msg *m, const uint8_t *chain,
                              unsigned nth)
{
	bool ok = v1_msg_hash_ok(r, m, chain, nth);
	if (!ok)
		fprintf(stderr, "# %s: HASH of %s MID %u message %u differs\n", r->fx->file,
		        keel_v1_exchange_name(m->hdr.exchange), m->hdr.msg_id, nth + 1);
	CHECK(ok);
	r->fx->t.msg_hashes++;
}

/*
 * IKEv1 has no ICV: the HASH inside the encrypted body protects it. A bit
 * flipped in the first or the second-to-last ciphertext block (CBC garbles
 * that block and flips one bit of the next) must leave a message that no
 * longer decodes or whose HASH no longer matches.
 */
static void v1_tamper(struct v1_run *r, const struct keel_v1_hdr *hdr, const uint8_t *iv,
                      const uint8_t *enc, size_t enc_len, unsigned nth)
{
	struct keel_v1_msg *m = calloc(1, sizeof(*m));
	uint8_t *buf = xmalloc(enc_len);
	size_t spots[2] = {5, enc_len - CBC_BLOCK - 3};

	if (!m)
		abort();
	for (size_t i = 0; i < 2 && enc_len >= 2 * CBC_BLOCK; i++) {
		memcpy(buf, enc, enc_len);
		buf[spots[i]] ^= 0x10;
		CHECK_INT(keel_cipher_decrypt(r->cbc, iv, buf, enc_len, buf), 0);
		bool accepted = keel_v1_chain_decode(hdr->next, buf, enc_len, true, m) == 0;
		if (accepted) {
			m->hdr = *hdr;
			accepted = keel_v1_msg_verify(m) == 0 && v1_msg_hash_ok(r, m, buf, nth);
		}
		CHECK(!accepted);
		r->fx->t.tamper++;
	}
	free(buf);
	free(m);
}

static void v1_quick(struct v1_run *r, const struct keel_v1_msg *m, bool i2r, unsigned nth)
{
	struct fixture *fx = r->fx;
	const struct keel_v1_payload *pl;

	if (nth == 0)
		r->qm_mid = m->hdr.msg_id;
	CHECK_INT(m->hdr.msg_id, r->qm_mid); /* one quick mode in these captures */
	CHECK(keel_v1_msg_next(m, KEEL_V1_PL_KE, NULL) == NULL); /* no PFS */
	if (nth == 0 || nth == 1) {
		pl = keel_v1_msg_next(m, KEEL_V1_PL_NONCE, NULL);
		CHECK(pl != NULL);
		if (pl && nth == 0)
			r->qm_n_i = *pl, r->has_qm_n_i = true;
		if (pl && nth == 1)
			r->qm_n_r = *pl, r->has_qm_n_r = true;
		/* RFC 2409 §5.5: IDci and IDcr, both or neither */
		pl = keel_v1_msg_next(m, KEEL_V1_PL_ID, NULL);
		CHECK(pl && keel_v1_msg_next(m, KEEL_V1_PL_ID, pl));
		pl = keel_v1_msg_next(m, KEEL_V1_PL_SA, NULL);
		CHECK(pl != NULL);
		if (!pl)
			return;
		CHECK_INT(keel_v1_sa_decode(pl, &sa1), 0);
		bool spi_found = false;
		for (size_t i = 0; i < sa1.n_proposals; i++) {
			const struct keel_v1_proposal *p = &sa1.proposals[i];
			CHECK_INT(p->protocol, KEEL_V1_PROTO_ESP);
			spi_found |= p->spi_len == 4 &&
			             be32(p->spi) == (i2r ? fx->esp_spi_i : fx->esp_spi_r);
		}
		CHECK(spi_found);
		if (nth == 1 && sa1.n_transforms == 1 && sa1.n_proposals == 1) {
			const struct keel_v1_transform *t = &sa1.transforms[0];
			char text[200] = "ESP:";
			CHECK_INT(keel_v1_attrs_decode(t->attrs, t->attrs_len, &attrs1), 0);
			r->esp_id = t->id;
			r->esp_bits = attr16(&attrs1, KEEL_V1_IPSEC_ATTR_KEY_LENGTH);
			r->esp_auth = attr16(&attrs1, KEEL_V1_IPSEC_ATTR_AUTH_ALG);
			r->has_esp = true;
			add_alg(text, sizeof(text),
			        lookup(encr_names, ARRAY_LEN(encr_names), t->id), r->esp_bits);
			if (r->esp_auth)
				add_alg(text, sizeof(text),
				        lookup(integ_names, ARRAY_LEN(integ_names),
				               v1_integ_of_auth(r->esp_auth)),
				        0);
			add_alg(text, sizeof(text),
			        attr16(&attrs1, KEEL_V1_IPSEC_ATTR_ESN) ? "EXT_SEQ" : "NO_EXT_SEQ",
			        0);
			check_proposal_text(fx, text, fx->esp_proposal);
		} else if (nth == 1) {
			CHECK(!"one proposal, one transform in the quick mode response");
		}
	}
	if (nth == 2)
		r->qm_done = true;
}

/* Mode Config (draft-dukes-ike-mode-cfg-02) and XAUTH (draft-beaulieu-ike-xauth-02). */
static void v1_transaction(struct v1_run *r, const struct keel_v1_msg *m, bool i2r)
{
	struct fixture *fx = r->fx;
	const struct keel_v1_payload *pl = keel_v1_msg_next(m, KEEL_V1_PL_ATTR, NULL);
	struct keel_v1_cfg cfg;
	const struct keel_v1_attr *a;

	CHECK(pl != NULL);
	if (!pl)
		return;
	CHECK_INT(keel_v1_cfg_decode(pl, &cfg), 0);
	CHECK_INT(keel_v1_attrs_decode(cfg.attrs, cfg.attrs_len, &attrs1), 0);
	if (i2r && cfg.type == KEEL_V1_CFG_REPLY &&
	    (a = keel_v1_attrs_find(&attrs1, KEEL_V1_CFG_XAUTH_USER_NAME)) != NULL) {
		CHECK(fx->xauth_user && fx->xauth_password);
		if (fx->xauth_user)
			CHECK_MEM(a->value, a->len, fx->xauth_user, strlen(fx->xauth_user));
		r->xauth_user_ok = fx->xauth_user && a->len == strlen(fx->xauth_user);
		a = keel_v1_attrs_find(&attrs1, KEEL_V1_CFG_XAUTH_USER_PASSWORD);
		CHECK(a != NULL);
		if (a && fx->xauth_password) {
			CHECK(a->len == strlen(fx->xauth_password) &&
			      memcmp(a->value, fx->xauth_password, a->len) == 0);
			r->xauth_pass_ok = a->len == strlen(fx->xauth_password);
		}
	}
	if (!i2r && cfg.type == KEEL_V1_CFG_REPLY) {
		/* the lab's pool 100.64.0.0/24 and DNS 198.51.100.53 */
		a = keel_v1_attrs_find(&attrs1, KEEL_V1_CFG_INTERNAL_IP4_ADDRESS);
		bool addr = a && a->len == 4 && memcmp(a->value, "\x64\x40\x00", 3) == 0;
		a = keel_v1_attrs_find(&attrs1, KEEL_V1_CFG_INTERNAL_IP4_DNS);
		bool dns = a && a->len == 4 && memcmp(a->value, "\xc6\x33\x64\x35", 4) == 0;
		CHECK(addr && dns);
		r->cfg_reply_ok = addr && dns;
	}
}

/* One whole ISAKMP message (a datagram or reassembled fragments). */
static void v1_message(struct v1_run *r, const uint8_t *data, size_t len, bool i2r,
                       const struct dgram *d)
{
	struct fixture *fx = r->fx;
	int rc = keel_v1_msg_decode(data, len, &m1);

	CHECK_INT(rc, 0);
	if (rc != 0)
		return;
	CHECK_INT(m1.hdr.len, len);
	CHECK_INT(keel_v1_hdr_verify(&m1.hdr), 0);
	CHECK_MEM(m1.hdr.cookie_i, 8, r->cky_i, 8);
	if (!(m1.hdr.flags & KEEL_V1_FLAG_ENC)) {
		/* cleartext phase 1: Main Mode messages 1-4, Aggressive Mode 1-2 */
		CHECK(m1.hdr.exchange == KEEL_V1_EXCH_MAIN ||
		      m1.hdr.exchange == KEEL_V1_EXCH_AGGRESSIVE);
		CHECK_INT(keel_v1_msg_verify(&m1), 0);
		v1_phase1_payloads(r, &m1, i2r);
		for (size_t i = 0; i < m1.n_payloads; i++)
			if (m1.pl[i].type < 64)
				r->seen[i2r ? I2R : R2I] |= BIT(m1.pl[i].type);
		if (keel_v1_msg_next(&m1, KEEL_V1_PL_NAT_D, NULL) && d)
			v1_check_natd(r, &m1, i2r ? fx->addr_r : fx->addr_i, d->dst_port);
		return;
	}

	/* RFC 2409 Appendix B: AES-CBC under the phase 1 key, the IV chained per M-ID */
	if (!r->keyed && !r->key_failed && !v1_derive(r))
		r->key_failed = true;
	if (!r->keyed)
		return;
	uint32_t mid = m1.hdr.msg_id;
	if (mid != 0 && !r->phase1_done) {
		struct v1_iv *p1 = v1_iv_for(r, 0);
		if (p1)
			memcpy(r->last_p1, p1->iv, CBC_BLOCK);
		r->phase1_done = true;
	}
	bool fresh = true;
	for (size_t i = 0; i < r->n_ivs; i++)
		fresh &= r->ivs[i].mid != mid;
	struct v1_iv *iv = v1_iv_for(r, mid);
	if (!iv)
		return;
	if (fresh && mid != 0) {
		char label[64];
		CHECK(r->phase1_done);
		CHECK_INT(keel_ikev1_iv_phase2(r->prf, r->last_p1, CBC_BLOCK, mid, iv->iv), 0);
		snprintf(label, sizeof(label), "next IV for MID %u", mid);
		check_logged(fx, label, iv->iv, CBC_BLOCK);
		fx->t.ivs++;
	}
	CHECK(m1.enc_len % CBC_BLOCK == 0);
	uint8_t iv_used[CBC_BLOCK];
	memcpy(iv_used, iv->iv, CBC_BLOCK);
	uint8_t *plain = xmalloc(m1.enc_len);
	rc = keel_cipher_decrypt(r->cbc, iv->iv, m1.enc, m1.enc_len, plain);
	CHECK_INT(rc, 0);
	if (rc != 0 || m1.enc_len < CBC_BLOCK) {
		free(plain);
		return;
	}
	r->kept[r->n_kept++] = plain;
	fx->t.decrypted++;
	memcpy(iv->iv, m1.enc + m1.enc_len - CBC_BLOCK, CBC_BLOCK);
	if (mid == 0 && iv->n_msgs == 0) {
		check_logged(fx, "next IV for MID 0", iv->iv, CBC_BLOCK);
		fx->t.ivs++;
	}
	unsigned nth = iv->n_msgs++;

	struct keel_v1_hdr hdr = m1.hdr;
	rc = keel_v1_chain_decode(hdr.next, plain, m1.enc_len, true, &m1);
	CHECK_INT(rc, 0);
	if (rc != 0)
		return;
	m1.hdr = hdr;
	CHECK_INT(keel_v1_msg_verify(&m1), 0);
	/* RFC 2409 Appendix B: padded to the block; strongSwan adds at most one block */
	CHECK(m1.pad_len <= CBC_BLOCK);
	for (size_t i = 0; i < m1.n_payloads; i++)
		if (m1.pl[i].type < 64)
			r->seen[i2r ? I2R : R2I] |= BIT(m1.pl[i].type);

	switch (hdr.exchange) {
	case KEEL_V1_EXCH_MAIN:
	case KEEL_V1_EXCH_AGGRESSIVE:
		CHECK_INT(mid, 0);
		v1_phase1_payloads(r, &m1, i2r);
		if (keel_v1_msg_next(&m1, KEEL_V1_PL_NAT_D, NULL) && d)
			v1_check_natd(r, &m1, i2r ? fx->addr_r : fx->addr_i, d->dst_port);
		break;
	case KEEL_V1_EXCH_QUICK:
		v1_check_msg_hash(r, &m1, plain, nth);
		v1_quick(r, &m1, i2r, nth);
		if (!r->tampered) {
			v1_tamper(r, &hdr, iv_used, m1.enc, m1.enc_len, nth);
			r->tampered = true;
		}
		break;
	case KEEL_V1_EXCH_TRANSACTION:
		v1_check_msg_hash(r, &m1, plain, 0);
		v1_transaction(r, &m1, i2r);
		break;
	case KEEL_V1_EXCH_INFO:
		v1_check_msg_hash(r, &m1, plain, 0);
		r->delete_seen |= keel_v1_msg_next(&m1, KEEL_V1_PL_DELETE, NULL) != NULL;
		break;
	default:
		CHECK(!"a known exchange");
		break;
	}
}

/* A datagram carrying one fragment (payload 132): put the message back together. */
static void v1_fragment(struct v1_run *r, const struct keel_v1_msg *m, int dir,
                        const struct dgram *d)
{
	const struct keel_v1_payload *pl = keel_v1_msg_next(m, KEEL_V1_PL_FRAG, NULL);
	struct keel_v1_frag f;

	CHECK(pl != NULL && m->n_payloads == 1);
	CHECK_INT(keel_v1_msg_verify(m), 0);
	if (!pl)
		return;
	CHECK_INT(keel_v1_frag_decode(pl, &f), 0);
	CHECK_INT(keel_v1_frag_verify(&f), 0);
	r->fx->t.fragments++;
	if (f.number == 1) {
		free(r->frag[dir]);
		r->frag[dir] = NULL;
		r->frag_len[dir] = 0;
		r->frag_next[dir] = 1;
		r->frag_id[dir] = f.id;
	}
	CHECK_INT(f.number, r->frag_next[dir]);
	CHECK_INT(f.id, r->frag_id[dir]);
	uint8_t *grown = realloc(r->frag[dir], r->frag_len[dir] + f.len + 1);
	if (!grown)
		abort();
	memcpy(grown + r->frag_len[dir], f.data, f.len);
	r->frag[dir] = grown;
	r->frag_len[dir] += f.len;
	r->frag_next[dir]++;
	if (!(f.flags & KEEL_V1_FRAG_LAST))
		return;
	uint8_t *whole = r->frag[dir];
	size_t whole_len = r->frag_len[dir];
	r->frag[dir] = NULL;
	r->kept[r->n_kept++] = whole;
	v1_message(r, whole, whole_len, dir == I2R, d);
}

/* RFC 2409 §5: HASH_I and HASH_R, against charon's and what was sent or signed. */
static void v1_check_auth(struct v1_run *r)
{
	struct fixture *fx = r->fx;
	uint8_t hi[KEEL_PRF_MAX_OUT_LEN], hr[KEEL_PRF_MAX_OUT_LEN];

	CHECK(r->has_id_i && r->has_id_r);
	if (!r->keyed || !r->has_id_i || !r->has_id_r)
		return;
	struct keel_ikev1_auth_params p = {
	    .prf = r->prf,
	    .skeyid = r->k.skeyid,
	    .g_xi = r->ke_i.body,
	    .g_xi_len = (ptrdiff_t)r->ke_i.len,
	    .g_xr = r->ke_r.body,
	    .g_xr_len = (ptrdiff_t)r->ke_r.len,
	    .sai_b = r->sai.body,
	    .sai_b_len = (ptrdiff_t)r->sai.len,
	};
	memcpy(p.cky_i, r->cky_i, 8);
	memcpy(p.cky_r, r->cky_r, 8);
	ptrdiff_t ni = keel_ikev1_hash_i(&p, r->id_i.body, (ptrdiff_t)r->id_i.len, hi, sizeof(hi));
	ptrdiff_t nr = keel_ikev1_hash_r(&p, r->id_r.body, (ptrdiff_t)r->id_r.len, hr, sizeof(hr));
	CHECK(ni > 0 && nr > 0);
	if (ni <= 0 || nr <= 0)
		return;
	check_logged(fx, "HASH_I", hi, (size_t)ni);
	check_logged(fx, "HASH_R", hr, (size_t)nr);
	if (fx->psk) {
		CHECK(r->has_hash_i && r->has_hash_r && !r->has_sig_i && !r->has_sig_r);
		if (r->has_hash_i) {
			CHECK_MEM(hi, (size_t)ni, r->hash_i.body, r->hash_i.len);
			fx->t.auth++;
		}
		if (r->has_hash_r) {
			CHECK_MEM(hr, (size_t)nr, r->hash_r.body, r->hash_r.len);
			fx->t.auth++;
		}
		return;
	}
	CHECK(r->has_sig_i && r->has_sig_r && r->has_cert_i && r->has_cert_r);
	if (!r->has_sig_i || !r->has_sig_r || !r->has_cert_i || !r->has_cert_r)
		return;
	struct keel_v1_cert ci, cr;
	CHECK_INT(keel_v1_cert_decode(&r->cert_i, &ci), 0);
	CHECK_INT(keel_v1_cert_decode(&r->cert_r, &cr), 0);
	CHECK_INT(ci.encoding, KEEL_V1_CERT_X509_SIG);
	CHECK_INT(cr.encoding, KEEL_V1_CERT_X509_SIG);
	if (fx->client_cert)
		check_cert_file(fx, fx->client_cert, ci.data, ci.len);
	if (fx->gateway_cert)
		check_cert_file(fx, fx->gateway_cert, cr.data, cr.len);
	CHECK(v1_sig_ok(ci.data, ci.len, hi, (size_t)ni, r->sig_i.body, r->sig_i.len));
	CHECK(v1_sig_ok(cr.data, cr.len, hr, (size_t)nr, r->sig_r.body, r->sig_r.len));
	/* the other hash does not verify under the same signature */
	CHECK(!v1_sig_ok(ci.data, ci.len, hr, (size_t)nr, r->sig_i.body, r->sig_i.len));
	fx->t.sigs += 2;
}

/* RFC 2409 §5.5: KEYMAT = prf(SKEYID_d, protocol | SPI | Ni_b | Nr_b) expanded. */
static void v1_check_child(struct v1_run *r)
{
	struct fixture *fx = r->fx;
	uint8_t spi_i[4], spi_r[4];

	CHECK(r->has_qm_n_i && r->has_qm_n_r && r->has_esp && r->qm_done);
	if (!r->keyed || !r->has_qm_n_i || !r->has_qm_n_r || !r->has_esp)
		return;
	put_be32(spi_i, fx->esp_spi_i);
	put_be32(spi_r, fx->esp_spi_r);

	/* charon's seeds: the SA to the responder is keyed with the SPI it chose */
	for (int dir = 0; dir < 2; dir++) {
		const uint8_t *spi = dir == I2R ? spi_r : spi_i;
		size_t len = 1 + 4 + r->qm_n_i.len + r->qm_n_r.len;
		uint8_t *seed = xmalloc(len);
		seed[0] = KEEL_V1_PROTO_ESP;
		memcpy(seed + 1, spi, 4);
		memcpy(seed + 5, r->qm_n_i.body, r->qm_n_i.len);
		memcpy(seed + 5 + r->qm_n_i.len, r->qm_n_r.body, r->qm_n_r.len);
		check_logged(fx, dir == I2R ? "initiator SA seed" : "responder SA seed", seed, len);
		free(seed);
	}

	ptrdiff_t encr_len = keel_encr_keymat_len(r->esp_id, r->esp_bits);
	enum keel_integ_alg integ = v1_integ_of_auth(r->esp_auth);
	ptrdiff_t integ_len = keel_integ_key_len(integ);
	CHECK(encr_len > 0);
	CHECK(r->esp_auth == 0 || integ != KEEL_INTEG_NONE);
	if (encr_len <= 0)
		return;
	for (int dir = 0; dir < 2; dir++) {
		struct keel_secret *encr = NULL, *integ_key = NULL;
		struct keel_ikev1_qm_params q = {
		    .prf = r->prf,
		    .skeyid_d = r->k.skeyid_d,
		    .protocol = KEEL_V1_PROTO_ESP,
		    .spi = dir == I2R ? spi_r : spi_i,
		    .spi_len = 4,
		    .nonce_i = r->qm_n_i.body,
		    .nonce_i_len = (ptrdiff_t)r->qm_n_i.len,
		    .nonce_r = r->qm_n_r.body,
		    .nonce_r_len = (ptrdiff_t)r->qm_n_r.len,
		};
		CHECK_INT(keel_ikev1_qm_keys(&q, encr_len, integ_len, &encr, &integ_key), 0);
		check_logged_secret(
		    fx, dir == I2R ? "encryption initiator key" : "encryption responder key", encr);
		if (integ_len > 0) {
			check_logged_secret(
			    fx, dir == I2R ? "integrity initiator key" : "integrity responder key",
			    integ_key);
		} else {
			CHECK(integ_key == NULL);
			check_not_logged(fx, dir == I2R ? "integrity initiator key"
			                                : "integrity responder key");
		}
		keel_secret_free(encr);
		keel_secret_free(integ_key);
	}
}

static void run_ikev1(struct fixture *fx)
{
	struct v1_run *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	r->fx = fx;
	CHECK_INT(fx->version, 1);
	CHECK(fx->n >= 4);
	if (fx->n < 4) {
		free(r);
		return;
	}
	memcpy(r->cky_i, fx->d[0].data, 8);
	memcpy(r->cky_r, fx->d[1].data + 8, 8);
	for (size_t i = 0; i < fx->n; i++) {
		const struct dgram *d = &fx->d[i];
		int dir = d->i2r ? I2R : R2I;
		int rc = keel_v1_msg_decode(d->data, d->len, &m1);
		CHECK_INT(rc, 0);
		if (rc != 0)
			continue;
		fx->t.decoded++;
		CHECK(d->marker == (d->src_port == 4500));
		CHECK_MEM(d->data, 8, r->cky_i, 8);
		if (i > 0)
			CHECK_MEM(d->data + 8, 8, r->cky_r, 8);
		else
			CHECK_MEM(d->data + 8, 8, "\0\0\0\0\0\0\0\0", 8);
		if (!(m1.hdr.flags & KEEL_V1_FLAG_ENC) && m1.hdr.next == KEEL_V1_PL_FRAG)
			v1_fragment(r, &m1, dir, d);
		else
			v1_message(r, d->data, d->len, d->i2r, d);
	}

	/* what each exchange carried (RFC 2409 §5, §5.5; XAUTH and Mode Config) */
	uint64_t want_i = BIT(KEEL_V1_PL_SA) | BIT(KEEL_V1_PL_KE) | BIT(KEEL_V1_PL_NONCE) |
	                  BIT(KEEL_V1_PL_ID) | BIT(KEEL_V1_PL_HASH) | BIT(KEEL_V1_PL_ATTR) |
	                  BIT(KEEL_V1_PL_DELETE);
	uint64_t want_r = BIT(KEEL_V1_PL_SA) | BIT(KEEL_V1_PL_KE) | BIT(KEEL_V1_PL_NONCE) |
	                  BIT(KEEL_V1_PL_ID) | BIT(KEEL_V1_PL_HASH) | BIT(KEEL_V1_PL_ATTR);
	if (!fx->psk) {
		want_i |= BIT(KEEL_V1_PL_SIG) | BIT(KEEL_V1_PL_CERT);
		want_r |= BIT(KEEL_V1_PL_SIG) | BIT(KEEL_V1_PL_CERT);
	}
	CHECK((r->seen[I2R] & want_i) == want_i);
	CHECK((r->seen[R2I] & want_r) == want_r);
	CHECK(r->delete_seen);
	CHECK(r->cfg_reply_ok);
	if (fx->xauth_user)
		CHECK(r->xauth_user_ok && r->xauth_pass_ok);

	v1_check_auth(r);
	v1_check_child(r);
	CHECK(r->tampered);

	keel_cipher_free(r->cbc);
	keel_ikev1_keys_clear(&r->k);
	for (int dir = 0; dir < 2; dir++)
		free(r->frag[dir]);
	for (size_t i = 0; i < r->n_kept; i++)
		free(r->kept[i]);
	free(r);
}

/* ------------------------------------------------------------------ */

static void run(const char *file)
{
	struct fixture fx;
	unsigned before = check_count, failed = check_failures;

	load(&fx, file);
	if (fx.version == 2)
		run_ikev2(&fx);
	else
		run_ikev1(&fx);
	printf("# %-22s %2zu datagrams decoded %2u, opened %2u (%u fragments); %2u values equal "
	       "charon's; AUTH/HASH_I/R %u, signatures %u, message hashes %u, IVs %u, NAT-D %u, "
	       "tampered %u; %u checks, %u failed\n",
	       fx.scenario ? fx.scenario : file, fx.n, fx.t.decoded, fx.t.decrypted, fx.t.fragments,
	       fx.t.keys, fx.t.auth, fx.t.sigs, fx.t.msg_hashes, fx.t.ivs, fx.t.natd, fx.t.tamper,
	       check_count - before, check_failures - failed);
	unload(&fx);
}

int main(void)
{
	static const char *const files[] = {
	    "strongswan/ikev2-psk.txt",
	    "strongswan/ikev2-cert.txt",
	    "strongswan/ikev2-cert-ecdsa.txt",
	    "strongswan/ikev2-eap.txt",
	    "strongswan/ikev1-aggr-psk-xauth.txt",
	    "strongswan/ikev1-aggr-psk.txt",
	    "strongswan/ikev1-main-psk.txt",
	    "strongswan/ikev1-main-cert.txt",
	};

	for (size_t i = 0; i < ARRAY_LEN(files); i++)
		run(files[i]);
	return check_done();
}
