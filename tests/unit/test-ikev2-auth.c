/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IKE_AUTH of the IKEv2 engine beyond pre-shared keys, through its public
 * API against the test gateway (ikev2-gw.h) with the lab PKI of
 * tests/vectors/strongswan/pki/: certificates and signatures both ways
 * (RSA, RSASSA-PSS, ECDSA, Ed25519; RFC 7427 and the classic methods),
 * CERTREQ, intermediate chains, every way the gateway's certificate can be
 * refused, our key's passphrase and PKCS#12; EAP-MSCHAPv2, MD5, GTC, the
 * Nak, EAP-only (RFC 5998) and refused passwords; IKE fragmentation
 * (RFC 7383) both ways with lost, repeated, stale and forged fragments, and
 * fragments refused when IKE_SA_INIT did not negotiate fragmentation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <keel/config.h>
#include <keel/ike.h>
#include <keel/secret.h>

#include "check.h"
#include "ikev2-gw.h"

#define MS       1000000ull
#define S        1000000000ull
#define NOW_WALL 1811808000 /* 2027-06-01T00:00:00Z: inside the lab PKI's validity */
#define EAP_PW   "keel-lab-eap-password"
#define KEY_PASS "keel-key-passphrase"
#define MAX_REC  512
#define MAX_ANS  128

#define MAX_NOTIFY 12

struct rec {
	uint8_t exchange;
	uint32_t msg_id;
	bool response;
	size_t len;
	bool natt;
	bool skf;
	uint16_t notify[MAX_NOTIFY]; /* Notify Message Types, as on the wire */
	size_t n_notify;
};

struct h {
	struct rng rng;
	struct keel_env env;
	struct keel_config cfg;
	struct keel_secret *key, *pass, *eap_pw, *p12;
	uint8_t *cert, *ca;
	size_t cert_len, ca_len;
	struct keel_sa *sa;
	struct gw gw;
	uint64_t now;

	int drop_to_gw;   /* drop the engine's datagram with this number (1-based), once */
	int drop_from_gw; /* drop the gateway's datagram with this number (1-based), once */
	int n_to_gw, n_from_gw;
	bool hold; /* keep the gateway's answers in held[] instead of delivering */
	uint8_t held[MAX_ANS][GW_FRAG_LEN * 4];
	size_t held_len[MAX_ANS], n_held;

	size_t n_dgram;
	struct rec dgram[MAX_REC];
	size_t n_recv_rc;
	int recv_rc[MAX_REC];

	enum keel_state state;
	enum keel_reason reason;
	char text[600];
	size_t n_install;
	struct keel_out_child_install inst;
	uint8_t inst_ekey_out[64];
	bool leak;
	char logs[16384];
};

static bool verbose;

static uint8_t *pki(const char *name, size_t *len)
{
	char path[512];
	const char *dir = getenv("KEEL_VECTORS");
	snprintf(path, sizeof(path), "%s/strongswan/pki/%s", dir ? dir : "tests/vectors", name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		abort();
	}
	uint8_t *buf = malloc(1 << 16);
	*len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

static struct keel_secret *pki_secret(const char *name)
{
	size_t len;
	uint8_t *p = pki(name, &len);
	struct keel_secret *s = keel_secret_new_from(p, (ptrdiff_t)len);
	free(p);
	return s;
}

/* Concatenated files of the PKI. */
static uint8_t *pki_cat(const char *a, const char *b, size_t *len)
{
	size_t la, lb = 0;
	uint8_t *pa = pki(a, &la), *pb = b ? pki(b, &lb) : NULL;
	uint8_t *out = malloc(la + lb + 1);
	memcpy(out, pa, la);
	if (pb)
		memcpy(out + la, pb, lb);
	*len = la + lb;
	free(pa);
	free(pb);
	return out;
}

static void set_gw_cert(struct gw *g, const char *key, const char *c1, const char *c2)
{
	size_t kl, cl;
	uint8_t *k = pki(key, &kl), *c = pki_cat(c1, c2, &cl);
	CHECK(gw_set_cert(g, k, kl, c, cl));
	free(k);
	free(c);
}

static X509 *load_x509(const char *name)
{
	size_t len;
	uint8_t *p = pki(name, &len);
	BIO *b = BIO_new_mem_buf(p, (int)len);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	free(p);
	return x;
}

/* The engine with our certificate (alice) and the lab CA; the gateway gw-rsa. */
static void h_init(struct h *h, uint64_t seed, enum keel_auth_method auth)
{
	memset(h, 0, sizeof(*h));
	h->rng.s = seed;
	h->env.random = rng_fill;
	h->env.random_ctx = &h->rng;
	gw_init(&h->gw, seed * 7 + 1, "unused-psk");
	set_gw_cert(&h->gw, "gw-rsa.key", "gw-rsa.pem", NULL);
	h->gw.client_ca = load_x509("ca.pem");
	keel_config_init(&h->cfg);
	keel_addr_parse("192.0.2.2", 9, &h->cfg.local);
	keel_addr_parse("192.0.2.1", 9, &h->cfg.remote);
	h->cfg.local.port = h->cfg.remote.port = 500;
	keel_id_from_text("alice@keel.test", &h->cfg.local_id);
	keel_id_from_text("gw.keel.test", &h->cfg.remote_id);
	h->cfg.log_level = KEEL_LOG_DEBUG;
	h->cfg.auth = auth;
	h->cfg.now_wall_s = NOW_WALL;
	h->ca = pki("ca.pem", &h->ca_len);
	h->cfg.ca = h->ca;
	h->cfg.ca_len = (ptrdiff_t)h->ca_len;
	if (auth == KEEL_AUTH_CERT) {
		h->cert = pki("alice.pem", &h->cert_len);
		h->key = pki_secret("alice.key");
		h->cfg.cert = h->cert;
		h->cfg.cert_len = (ptrdiff_t)h->cert_len;
		h->cfg.key = h->key;
	}
	if (auth == KEEL_AUTH_EAP) {
		h->eap_pw = keel_secret_new_from((const uint8_t *)EAP_PW, strlen(EAP_PW));
		h->cfg.eap_identity = "alice";
		h->cfg.eap_password = h->eap_pw;
		h->gw.eap_method = KEEL_EAP_TYPE_MSCHAPV2;
		snprintf(h->gw.eap_user, sizeof(h->gw.eap_user), "alice");
		snprintf(h->gw.eap_password, sizeof(h->gw.eap_password), "%s", EAP_PW);
	}
}

static struct h *fresh(uint64_t seed, enum keel_auth_method auth)
{
	struct h *h = calloc(1, sizeof(*h));
	h_init(h, seed, auth);
	return h;
}

static void done(struct h *h)
{
	CHECK(!h->leak);
	keel_sa_free(h->sa);
	keel_secret_free(h->key);
	keel_secret_free(h->pass);
	keel_secret_free(h->eap_pw);
	keel_secret_free(h->p12);
	free(h->cert);
	free(h->ca);
	gw_free(&h->gw);
	free(h);
}

static bool has(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

static void secret_check(struct h *h, const char *text)
{
	/* never a secret, at any level */
	if (has(text, EAP_PW) || has(text, KEY_PASS))
		h->leak = true;
}

/*
 * The Notify Message Types of one of the engine's messages, read from the
 * bytes rather than through the codec's names: RFC 7296 §3.10, a Notify
 * payload (type 41) starts with Protocol ID, SPI Size and the 2-octet type.
 * An SK payload is opened with the gateway's keys.
 */
static void rec_notifies(struct h *h, const uint8_t *data, size_t len, const struct keel_v2_msg *m,
                         struct rec *r)
{
	static uint8_t buf[65536];
	static struct keel_v2_chain inner;
	const struct keel_v2_chain *c = &m->chain;
	if (c->n > 0 && c->p[c->n - 1].type == KEEL_V2_PAYLOAD_SK) {
		struct gw_ike *ike = gw_find_ike(&h->gw, &m->hdr);
		uint8_t *plain;
		size_t plain_len;
		if (!ike || len > sizeof(buf))
			return;
		memcpy(buf, data, len);
		if (keel_sk_open(&ike->sk, buf, len, c->p[c->n - 1].off, &plain, &plain_len) < 0)
			return;
		struct keel_rd rd = keel_rd_init(plain, plain_len);
		if (keel_v2_chain_decode(&rd, c->p[c->n - 1].next, KEEL_V2_CHAIN_INNER, &inner) < 0)
			return;
		c = &inner;
	}
	for (size_t i = 0; i < c->n && r->n_notify < MAX_NOTIFY; i++) {
		const struct keel_v2_raw_payload *p = &c->p[i];
		if (p->type == 41 && p->body.len >= 4)
			r->notify[r->n_notify++] = (uint16_t)(p->body.p[2] << 8 | p->body.p[3]);
	}
}

static void record(struct h *h, const struct keel_out *o)
{
	switch (o->kind) {
	case KEEL_OUT_DGRAM: {
		struct keel_v2_msg m;
		struct rec r = {.len = (size_t)o->u.dgram.len, .natt = o->u.dgram.natt};
		if (keel_v2_msg_decode(o->u.dgram.data, (size_t)o->u.dgram.len, &m) == 0) {
			r.exchange = m.hdr.exchange;
			r.msg_id = m.hdr.msg_id;
			r.response = (m.hdr.flags & KEEL_V2_FLAG_RESPONSE) != 0;
			r.skf = m.chain.n && m.chain.p[m.chain.n - 1].type == KEEL_V2_PAYLOAD_SKF;
			rec_notifies(h, o->u.dgram.data, (size_t)o->u.dgram.len, &m, &r);
		}
		if (h->n_dgram < MAX_REC)
			h->dgram[h->n_dgram++] = r;
		break;
	}
	case KEEL_OUT_STATE:
		h->state = o->u.state.state;
		h->reason = o->u.state.reason;
		snprintf(h->text, sizeof(h->text), "%s", o->u.state.text);
		secret_check(h, o->u.state.text);
		if (verbose)
			printf("# [state] %s (%s): %s\n", keel_state_name(o->u.state.state),
			       keel_reason_name(o->u.state.reason), o->u.state.text);
		break;
	case KEEL_OUT_LOG: {
		secret_check(h, o->u.log.text);
		size_t l = strlen(h->logs);
		snprintf(h->logs + l, sizeof(h->logs) - l, "%s\n", o->u.log.text);
		if (verbose)
			printf("# [log %d] %s\n", o->u.log.level, o->u.log.text);
		break;
	}
	case KEEL_OUT_CHILD_INSTALL:
		h->n_install++;
		h->inst = o->u.child_install;
		memcpy(h->inst_ekey_out, o->u.child_install.encr_key_out,
		       (size_t)o->u.child_install.encr_key_len);
		break;
	case KEEL_OUT_CHILD_REMOVE:
	case KEEL_OUT_CHILD_ACTIVATE:
	case KEEL_OUT_NETCFG:
		break;
	}
}

static int deliver(struct h *h, const uint8_t *data, size_t len)
{
	struct keel_dgram d;
	memset(&d, 0, sizeof(d));
	d.local = h->cfg.local;
	d.remote = h->cfg.remote;
	d.local.port = d.remote.port = h->n_dgram && h->dgram[h->n_dgram - 1].natt ? 4500 : 500;
	d.data = data;
	d.len = (ptrdiff_t)len;
	int rc = keel_sa_recv(h->sa, &d, h->now);
	if (h->n_recv_rc < MAX_REC)
		h->recv_rc[h->n_recv_rc++] = rc;
	return rc;
}

/* Drains the engine, lets the gateway answer (every fragment), feeds the answers back. */
static void pump(struct h *h)
{
	static uint8_t ans[MAX_ANS][GW_FRAG_LEN * 4];
	static size_t ans_len[MAX_ANS];
	for (int round = 0; round < 200; round++) {
		size_t n = 0;
		struct keel_out o;
		while (keel_sa_pop(h->sa, &o)) {
			record(h, &o);
			if (o.kind != KEEL_OUT_DGRAM)
				continue;
			if (++h->n_to_gw == h->drop_to_gw)
				continue;
			uint8_t buf[GW_FRAG_LEN * 4];
			size_t a = gw_input(&h->gw, o.u.dgram.data, (size_t)o.u.dgram.len, buf,
			                    sizeof(buf));
			while (a > 0) {
				if (++h->n_from_gw != h->drop_from_gw) {
					if (h->hold && h->n_held < MAX_ANS) {
						memcpy(h->held[h->n_held], buf, a);
						h->held_len[h->n_held++] = a;
					} else if (!h->hold && n < MAX_ANS) {
						memcpy(ans[n], buf, a);
						ans_len[n++] = a;
					}
				}
				a = gw_pop(&h->gw, buf, sizeof(buf));
			}
		}
		if (n == 0)
			return;
		for (size_t i = 0; i < n; i++)
			deliver(h, ans[i], ans_len[i]);
	}
	CHECK(!"pump did not settle");
}

static int start(struct h *h)
{
	int rc = keel_sa_new(&h->cfg, &h->env, &h->sa);
	if (rc < 0) {
		char why[256];
		keel_config_check(&h->cfg, why, sizeof(why));
		printf("# keel_sa_new: %s: %s\n", keel_strerror(rc), why);
		return rc;
	}
	CHECK_INT(keel_sa_start(h->sa, h->now), 0);
	pump(h);
	return 0;
}

/* Runs the clock from deadline to deadline until `until`. */
static void run_until(struct h *h, uint64_t until)
{
	for (int i = 0; i < 1000; i++) {
		uint64_t d = keel_sa_deadline(h->sa);
		if (d == UINT64_MAX || d > until || h->state == KEEL_STATE_FAILED)
			break;
		if (d > h->now)
			h->now = d;
		keel_sa_tick(h->sa, h->now);
		pump(h);
		if (h->state == KEEL_STATE_ESTABLISHED)
			break;
	}
}

static bool keys_match(struct h *h)
{
	struct gw_child *gc = gw_child_by_cl(&h->gw, h->inst.spi_in);
	return h->n_install == 1 && gc && h->inst.spi_out == gc->spi_gw &&
	       (size_t)h->inst.encr_key_len == gc->encr_len &&
	       memcmp(h->inst_ekey_out, gc->encr_to_gw, gc->encr_len) == 0;
}

static size_t count_dgrams(struct h *h, uint8_t exchange, bool response)
{
	size_t n = 0;
	for (size_t i = 0; i < h->n_dgram; i++)
		n += h->dgram[i].exchange == exchange && h->dgram[i].response == response;
	return n;
}

/* ---- certificates ---- */

static void test_cert_rsa(void)
{
	struct h *h = fresh(1, KEEL_AUTH_CERT);
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(keys_match(h));
	/* RFC 7427 both ways: each side announced its hashes */
	CHECK(h->gw.saw_hashes);
	CHECK(h->gw.client_hashes & KEEL_HASH_BIT(KEEL_HASH_SHA2_256));
	CHECK(h->gw.auth_ok);
	CHECK_INT(h->gw.client_auth_method, KEEL_V2_AUTH_DIGITAL_SIG);
	CHECK_INT(h->gw.client_scheme, KEEL_SIG_RSA_PKCS1_SHA256);
	CHECK_INT(h->gw.sig_method, KEEL_V2_AUTH_DIGITAL_SIG);
	CHECK_INT(h->gw.client_certs, 1);
	/* our CERTREQ: the SHA-1 hash of the lab CA's SubjectPublicKeyInfo */
	size_t hl;
	uint8_t *want = hex_decode("9f472f12f751f57a2a261dc824560ecf9208df85", &hl);
	CHECK_MEM(h->gw.client_certreq, h->gw.client_certreq_len, want, hl);
	free(want);
	CHECK(has(h->logs, "authenticated the gateway FQDN gw.keel.test with its certificate"));
	CHECK(has(h->logs, "RSA PKCS#1"));
	CHECK(h->gw.saw_frag_supported);
	done(h);

	/* no local_id: our certificate's subject DN (RFC 7296 §3.5 ID_DER_ASN1_DN) */
	h = fresh(2, KEEL_AUTH_CERT);
	memset(&h->cfg.local_id, 0, sizeof(h->cfg.local_id));
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.auth_idi[0], KEEL_V2_ID_DER_ASN1_DN);
	CHECK(has(h->text, "connected") || has(h->logs, "DN C=XX, O=Keel Lab, CN=alice@keel.test"));
	done(h);

	/* RSASSA-PSS both ways */
	h = fresh(3, KEEL_AUTH_CERT);
	h->cfg.rsa_pss = true;
	h->gw.rsa_pss = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.client_scheme, KEEL_SIG_RSA_PSS_SHA256);
	CHECK(has(h->logs, "RSASSA-PSS") || has(h->logs, "PSS"));
	done(h);

	/* a gateway without RFC 7427: RSA method 1 (SHA-1) both ways */
	h = fresh(4, KEEL_AUTH_CERT);
	h->gw.no_hashes = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.client_auth_method, KEEL_V2_AUTH_RSA_SIG);
	CHECK_INT(h->gw.sig_method, KEEL_V2_AUTH_RSA_SIG);
	done(h);

	/* the gateway identifies as its address; the certificate names it and gw.keel.test */
	h = fresh(5, KEEL_AUTH_CERT);
	h->gw.idr_as_ip = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);

	/* no remote_id: the certificate must name the IDr the gateway sent */
	h = fresh(6, KEEL_AUTH_CERT);
	memset(&h->cfg.remote_id, 0, sizeof(h->cfg.remote_id));
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(!h->gw.saw_idr);
	done(h);
}

static void test_cert_certreq(void)
{
	/* our chain with the root: without a CERTREQ every certificate goes */
	struct h *h = fresh(10, KEEL_AUTH_CERT);
	free(h->cert);
	h->cert = pki_cat("alice.pem", "ca.pem", &h->cert_len);
	h->cfg.cert = h->cert;
	h->cfg.cert_len = (ptrdiff_t)h->cert_len;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.client_certs, 2);
	done(h);

	/* the gateway's CERTREQ names the root: it has it, only ours goes (RFC 7296 §3.7) */
	h = fresh(11, KEEL_AUTH_CERT);
	free(h->cert);
	h->cert = pki_cat("alice.pem", "ca.pem", &h->cert_len);
	h->cfg.cert = h->cert;
	h->cfg.cert_len = (ptrdiff_t)h->cert_len;
	size_t hl;
	uint8_t *ca_hash = hex_decode("9f472f12f751f57a2a261dc824560ecf9208df85", &hl);
	memcpy(h->gw.certreq, ca_hash, hl);
	h->gw.certreq_len = hl;
	free(ca_hash);
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.client_certs, 1);
	CHECK(has(h->logs, "the gateway asks for certificates of 1 CAs"));
	done(h);
}

static void test_cert_ecdsa(void)
{
	/* ECDSA P-256 gateway certificate through the intermediate CA it sends */
	struct h *h = fresh(20, KEEL_AUTH_CERT);
	set_gw_cert(&h->gw, "gw-ecdsa.key", "gw-ecdsa.pem", "int.pem");
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.sig_method, KEEL_V2_AUTH_DIGITAL_SIG);
	CHECK(has(h->logs, "ECDSA"));
	done(h);

	/* the classic method 9 (RFC 4754) */
	h = fresh(21, KEEL_AUTH_CERT);
	set_gw_cert(&h->gw, "gw-ecdsa.key", "gw-ecdsa.pem", "int.pem");
	h->gw.no_hashes = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.sig_method, KEEL_V2_AUTH_ECDSA_SHA256_P256);
	done(h);

	/* without the intermediate the chain breaks: the CA is unknown */
	h = fresh(22, KEEL_AUTH_CERT);
	set_gw_cert(&h->gw, "gw-ecdsa.key", "gw-ecdsa.pem", NULL);
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_CERT_UNTRUSTED);
	CHECK(has(h->text, "unknown CA"));
	done(h);

	/* an ECDSA key of ours (the gateway takes any certificate here) */
	h = fresh(23, KEEL_AUTH_CERT);
	X509_free(h->gw.client_ca);
	h->gw.client_ca = NULL;
	free(h->cert);
	h->cert = pki_cat("gw-ecdsa.pem", "int.pem", &h->cert_len);
	h->cfg.cert = h->cert;
	h->cfg.cert_len = (ptrdiff_t)h->cert_len;
	keel_secret_free(h->key);
	h->key = pki_secret("gw-ecdsa.key");
	h->cfg.key = h->key;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.client_scheme, KEEL_SIG_ECDSA_SHA256);
	CHECK_INT(h->gw.client_certs, 2);
	done(h);
}

/* ---- Ed25519: a CA and a gateway certificate made here ---- */

static X509 *mint(EVP_PKEY *key, EVP_PKEY *issuer_key, X509 *issuer, const char *cn,
                  const char *san, bool ca)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
	X509_NAME *n = X509_NAME_new();
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Keel Test", -1, -1,
	                           0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	ASN1_TIME_set(X509_getm_notBefore(x), NOW_WALL - 86400);
	ASN1_TIME_set(X509_getm_notAfter(x), NOW_WALL + 86400);
	X509_set_pubkey(x, key);
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	const char *ext[][2] = {
	    {"basicConstraints", ca ? "critical,CA:TRUE" : "CA:FALSE"},
	    {"keyUsage", ca ? "critical,keyCertSign,cRLSign" : "digitalSignature"},
	    {ca ? NULL : "subjectAltName", san},
	    {ca ? NULL : "extendedKeyUsage", "serverAuth"},
	};
	for (size_t i = 0; i < 4; i++) {
		if (!ext[i][0])
			continue;
		X509_EXTENSION *e = X509V3_EXT_conf(NULL, &ctx, ext[i][0], ext[i][1]);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	X509_sign(x, issuer_key, NULL);
	return x;
}

static uint8_t *to_pem(X509 *x, EVP_PKEY *k, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (x)
		PEM_write_bio_X509(b, x);
	if (k)
		PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	char *p;
	long n = BIO_get_mem_data(b, &p);
	uint8_t *out = malloc((size_t)n);
	memcpy(out, p, (size_t)n);
	*len = (size_t)n;
	BIO_free(b);
	return out;
}

static void test_cert_ed25519(void)
{
	EVP_PKEY *ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *gw_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *ca = mint(ca_key, ca_key, NULL, "Keel Test Ed25519 CA", NULL, true);
	X509 *gw = mint(gw_key, ca_key, ca, "gw.keel.test", "DNS:gw.keel.test", false);
	size_t ca_len, gw_len, key_len;
	uint8_t *ca_pem = to_pem(ca, NULL, &ca_len), *gw_pem = to_pem(gw, NULL, &gw_len);
	uint8_t *key_pem = to_pem(NULL, gw_key, &key_len);

	struct h *h = fresh(30, KEEL_AUTH_CERT);
	CHECK(gw_set_cert(&h->gw, key_pem, key_len, gw_pem, gw_len));
	free(h->ca);
	h->ca = ca_pem;
	h->cfg.ca = ca_pem;
	h->cfg.ca_len = (ptrdiff_t)ca_len;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(has(h->logs, "Ed25519"));
	done(h);
	free(gw_pem);
	free(key_pem);
	X509_free(ca);
	X509_free(gw);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(gw_key);
}

static void test_cert_refused(void)
{
	struct h *h;

	/* issued by a CA we do not trust */
	h = fresh(40, KEEL_AUTH_CERT);
	set_gw_cert(&h->gw, "gw-rsa.key", "gw-unknown.pem", NULL);
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_CERT_UNTRUSTED);
	CHECK(has(h->text, "not trusted") && has(h->text, "unknown CA"));
	CHECK(has(h->text, "CN=gw.keel.test"));
	CHECK_INT(h->n_install, 0);
	done(h);

	/* expired a year ago */
	h = fresh(41, KEEL_AUTH_CERT);
	set_gw_cert(&h->gw, "gw-rsa.key", "gw-expired.pem", NULL);
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_CERT_EXPIRED);
	CHECK(has(h->text, "has expired") && has(h->text, "2025"));
	done(h);

	/* not yet valid: a clock far behind */
	h = fresh(42, KEEL_AUTH_CERT);
	h->cfg.now_wall_s = 1767225600; /* 2026-01-01 */
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_CERT_EXPIRED);
	CHECK(has(h->text, "not yet valid") && has(h->text, "check the clock"));
	done(h);

	/* for another name: what was expected and what was presented */
	h = fresh(43, KEEL_AUTH_CERT);
	set_gw_cert(&h->gw, "gw-rsa.key", "gw-wrongid.pem", NULL);
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_CERT_ID);
	CHECK(has(h->text, "expected FQDN gw.keel.test"));
	CHECK(has(h->text, "DNS:wrong.keel.test"));
	done(h);

	/* ... also when the gateway's IDr is its address and the certificate names another */
	h = fresh(44, KEEL_AUTH_CERT);
	set_gw_cert(&h->gw, "gw-rsa.key", "gw-wrongid.pem", NULL);
	h->gw.idr_as_ip = true;
	memset(&h->cfg.remote_id, 0, sizeof(h->cfg.remote_id));
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_CERT_ID);
	CHECK(has(h->text, "expected IPv4 192.0.2.1") && has(h->text, "IP:192.0.2.99"));
	done(h);

	/* a client certificate (extendedKeyUsage clientAuth only) as the gateway's */
	h = fresh(45, KEEL_AUTH_CERT);
	set_gw_cert(&h->gw, "alice.key", "alice.pem", NULL);
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_CERT_KEY_USAGE);
	CHECK(has(h->text, "not for IKE"));
	done(h);

	/* a bad signature */
	h = fresh(46, KEEL_AUTH_CERT);
	h->gw.bad_auth = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_PEER_AUTH);
	CHECK(has(h->text, "signature"));
	/* the gateway was told: a DELETE of the half-made IKE SA */
	CHECK_INT(h->gw.deleted_ike, 1);
	done(h);

	/* no certificate at all */
	h = fresh(47, KEEL_AUTH_CERT);
	h->gw.no_cert = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_CERT_UNTRUSTED);
	CHECK(has(h->text, "sent no certificate"));
	done(h);

	/* a PSK AUTH where a certificate was expected */
	h = fresh(48, KEEL_AUTH_CERT);
	keel_privkey_free(h->gw.key);
	h->gw.key = NULL;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_PEER_AUTH);
	CHECK(has(h->text, "pre-shared key"));
	done(h);

	/* the gateway refuses our certificate */
	h = fresh(49, KEEL_AUTH_CERT);
	X509_free(h->gw.client_ca);
	h->gw.client_ca = load_x509("unknown-ca.pem");
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_AUTH_REFUSED);
	CHECK(has(h->text, "refused our certificate"));
	done(h);
}

/* ---- our key ---- */

static struct keel_secret *encrypt_key(const char *name, const char *pass)
{
	size_t len;
	uint8_t *p = pki(name, &len);
	BIO *in = BIO_new_mem_buf(p, (int)len);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
	BIO *out = BIO_new(BIO_s_mem());
	PEM_write_bio_PKCS8PrivateKey(out, k, EVP_aes_256_cbc(), NULL, 0, NULL, (void *)pass);
	char *data;
	long n = BIO_get_mem_data(out, &data);
	struct keel_secret *s = keel_secret_new_from((const uint8_t *)data, n);
	BIO_free(in);
	BIO_free(out);
	EVP_PKEY_free(k);
	free(p);
	return s;
}

static struct keel_secret *make_p12(const char *pass)
{
	size_t len;
	uint8_t *p = pki("alice.key", &len);
	BIO *in = BIO_new_mem_buf(p, (int)len);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
	X509 *x = load_x509("alice.pem");
	STACK_OF(X509) *ca = sk_X509_new_null();
	sk_X509_push(ca, load_x509("ca.pem"));
	PKCS12 *p12 =
	    PKCS12_create(pass, "alice", k, x, ca, NID_aes_256_cbc, NID_aes_256_cbc, 2048, 2048, 0);
	unsigned char *der = NULL;
	int n = i2d_PKCS12(p12, &der);
	struct keel_secret *s = keel_secret_new_from(der, n);
	OPENSSL_free(der);
	PKCS12_free(p12);
	sk_X509_pop_free(ca, X509_free);
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(in);
	free(p);
	return s;
}

/* Revocation lists (RFC 5280 §6.3): the gateway's chain checked against the CRLs given. */
static void test_cert_crl(void)
{
	size_t len, other_len;
	struct h *h;

	/* the CA's CRL lists another certificate: the gateway is accepted */
	uint8_t *other = pki("crl-ca.pem", &other_len);
	h = fresh(80, KEEL_AUTH_CERT);
	h->cfg.crl = other;
	h->cfg.crl_len = (ptrdiff_t)other_len;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);

	/* it lists the gateway's certificate: refused, nothing installed */
	uint8_t *revoked = pki("crl-gw-rsa.pem", &len);
	h = fresh(81, KEEL_AUTH_CERT);
	h->cfg.crl = revoked;
	h->cfg.crl_len = (ptrdiff_t)len;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_CERT_UNTRUSTED);
	CHECK(has(h->text, "the gateway's certificate has been revoked"));
	CHECK(has(h->text, "CN=gw.keel.test"));
	CHECK_INT(h->n_install, 0);
	done(h);

	/* the CRL is not yet valid on the clock given */
	h = fresh(82, KEEL_AUTH_CERT);
	h->cfg.crl = other;
	h->cfg.crl_len = (ptrdiff_t)other_len;
	h->cfg.now_wall_s = 1796083200; /* 2026-12-01, before the CRL's thisUpdate */
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK(has(h->text, "no valid CRL from the CA of"));
	done(h);

	/* through the intermediate CA, which has no CRL here: revocation unknown */
	h = fresh(83, KEEL_AUTH_CERT);
	set_gw_cert(&h->gw, "gw-ecdsa.key", "gw-ecdsa.pem", "int.pem");
	h->cfg.crl = other;
	h->cfg.crl_len = (ptrdiff_t)other_len;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_CERT_UNTRUSTED);
	CHECK(has(h->text, "no valid CRL from the CA of") && has(h->text, "gw.keel.test"));
	done(h);

	/* not a CRL: refused before anything is sent */
	char why[256];
	h = fresh(84, KEEL_AUTH_CERT);
	h->cfg.crl = (const uint8_t *)"junk";
	h->cfg.crl_len = 4;
	CHECK_INT(keel_sa_new(&h->cfg, &h->env, &h->sa), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_config_check(&h->cfg, why, sizeof(why)), KEEL_ERR_MALFORMED);
	CHECK(has(why, "revocation list (crl)"));
	done(h);
	free(other);
	free(revoked);
}

static void test_key_passphrase(void)
{
	char why[256];
	struct h *h = fresh(50, KEEL_AUTH_CERT);
	keel_secret_free(h->key);
	h->key = encrypt_key("alice.key", KEY_PASS);
	h->cfg.key = h->key;

	/* no passphrase, a wrong one: its own error, and a sentence saying which */
	CHECK_INT(keel_sa_new(&h->cfg, &h->env, &h->sa), KEEL_ERR_AUTH);
	CHECK_INT(keel_config_check(&h->cfg, why, sizeof(why)), KEEL_ERR_AUTH);
	CHECK(has(why, "encrypted") && has(why, "no passphrase"));
	h->pass = keel_secret_new_from((const uint8_t *)"wrong", 5);
	h->cfg.key_passphrase = h->pass;
	CHECK_INT(keel_sa_new(&h->cfg, &h->env, &h->sa), KEEL_ERR_AUTH);
	CHECK(h->sa == NULL);
	CHECK_INT(keel_config_check(&h->cfg, why, sizeof(why)), KEEL_ERR_AUTH);
	CHECK(has(why, "passphrase is wrong"));
	secret_check(h, why);

	/* the right one */
	keel_secret_free(h->pass);
	h->pass = keel_secret_new_from((const uint8_t *)KEY_PASS, strlen(KEY_PASS));
	h->cfg.key_passphrase = h->pass;
	CHECK_INT(keel_config_check(&h->cfg, why, sizeof(why)), 0);
	CHECK_INT(why[0], 0);
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);

	/* PKCS#12 with key, certificate and CA: no separate certificate needed */
	h = fresh(51, KEEL_AUTH_CERT);
	h->p12 = make_p12(KEY_PASS);
	h->cfg.key = h->p12;
	h->cfg.cert = NULL;
	h->cfg.cert_len = 0;
	h->pass = keel_secret_new_from((const uint8_t *)"wrong", 5);
	h->cfg.key_passphrase = h->pass;
	CHECK_INT(keel_sa_new(&h->cfg, &h->env, &h->sa), KEEL_ERR_AUTH);
	CHECK_INT(keel_config_check(&h->cfg, why, sizeof(why)), KEEL_ERR_AUTH);
	CHECK(has(why, "PKCS#12") && has(why, "passphrase is wrong"));
	keel_secret_free(h->pass);
	h->pass = keel_secret_new_from((const uint8_t *)KEY_PASS, strlen(KEY_PASS));
	h->cfg.key_passphrase = h->pass;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.client_certs, 2);
	done(h);
}

static void test_config(void)
{
	char why[256];
	struct h *h = fresh(60, KEEL_AUTH_CERT);
	struct keel_config c = h->cfg;

	/* the key of another certificate */
	struct keel_secret *other = pki_secret("gw-rsa.key");
	c.key = other;
	CHECK_INT(keel_sa_new(&c, &h->env, &h->sa), KEEL_ERR_INVAL);
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), KEEL_ERR_INVAL);
	CHECK(has(why, "does not belong to the private key"));
	keel_secret_free(other);

	/* garbage */
	struct keel_secret *junk = keel_secret_new_from((const uint8_t *)"not a key", 9);
	c = h->cfg;
	c.key = junk;
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), KEEL_ERR_MALFORMED);
	CHECK(has(why, "no key"));
	c = h->cfg;
	c.cert = (const uint8_t *)"junk";
	c.cert_len = 4;
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), KEEL_ERR_MALFORMED);
	CHECK(has(why, "certificate"));
	c = h->cfg;
	c.ca = (const uint8_t *)"junk";
	c.ca_len = 4;
	CHECK_INT(keel_sa_new(&c, &h->env, &h->sa), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), KEEL_ERR_MALFORMED);
	CHECK(has(why, "CA"));
	keel_secret_free(junk);

	/* never an unverifiable gateway */
	c = h->cfg;
	c.ca = NULL;
	c.ca_len = 0;
	CHECK_INT(keel_sa_new(&c, &h->env, &h->sa), KEEL_ERR_INVAL);
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), KEEL_ERR_INVAL);
	CHECK(has(why, "no CA"));
	c.use_system_ca = true;
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), KEEL_ERR_INVAL);
	c.system_ca = h->ca;
	c.system_ca_len = (ptrdiff_t)h->ca_len;
	memset(&c.remote_id, 0, sizeof(c.remote_id));
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), KEEL_ERR_INVAL);
	CHECK(has(why, "remote-id"));
	c = h->cfg;
	c.now_wall_s = 0;
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), KEEL_ERR_INVAL);
	c = h->cfg;
	c.fragment_size = 500;
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), KEEL_ERR_INVAL);
	CHECK(has(why, "fragment size"));
	c.fragmentation = false;
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), 0);

	/* EAP needs a password, and EAP-only needs MS-CHAPv2 */
	c = h->cfg;
	c.auth = KEEL_AUTH_EAP;
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), KEEL_ERR_INVAL);
	CHECK(has(why, "password"));
	struct keel_secret *pw = keel_secret_new_from((const uint8_t *)"pw", 2);
	c.eap_password = pw;
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), 0);
	c.eap_only = true;
	c.eap_methods = KEEL_EAP_METHOD_GTC;
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), KEEL_ERR_INVAL);
	CHECK(has(why, "MSCHAPv2"));
	c.eap_methods = 0;
	c.ca = NULL;
	c.ca_len = 0;
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), 0); /* EAP-only: no CA needed */
	keel_secret_free(pw);

	/* the system store, with an identity to check; its CAs are not in CERTREQ */
	h->cfg.ca = NULL;
	h->cfg.ca_len = 0;
	h->cfg.use_system_ca = true;
	h->cfg.system_ca = h->ca;
	h->cfg.system_ca_len = (ptrdiff_t)h->ca_len;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.client_certreq_len, 0);
	done(h);
}

/* ---- EAP ---- */

static void test_eap_mschapv2(void)
{
	struct h *h = fresh(70, KEEL_AUTH_EAP);
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(keys_match(h));
	CHECK(strcmp(h->gw.eap_identity_seen, "alice") == 0);
	CHECK_INT(h->gw.eap_result, 1);
	CHECK(h->gw.eap_have_msk);
	/* the engine's AUTH was made with the MSK, and it checked ours */
	CHECK(h->gw.final_auth_ok);
	CHECK(h->gw.sent_sig);
	/* IKE_AUTH 1, EAP-Identity, MS-CHAPv2 Response, Success Response, AUTH */
	CHECK_INT(h->gw.n_auth, 5);
	CHECK_INT(count_dgrams(h, KEEL_V2_EXCHANGE_IKE_AUTH, false), 5);
	CHECK(!h->gw.saw_eap_only);
	CHECK(has(h->logs, "EAP-MSCHAPv2 succeeded"));
	done(h);

	/* without the Identity round, and with the gateway's address as its IDr */
	h = fresh(71, KEEL_AUTH_EAP);
	h->gw.eap_no_identity = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.n_auth, 4);
	done(h);

	/* no eap_identity: local_id as text */
	h = fresh(72, KEEL_AUTH_EAP);
	h->cfg.eap_identity = NULL;
	snprintf(h->gw.eap_user, sizeof(h->gw.eap_user), "alice@keel.test");
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(strcmp(h->gw.eap_identity_seen, "alice@keel.test") == 0);
	done(h);
}

static void test_eap_refused(void)
{
	/* a wrong password: MS-CHAPv2 E=691 */
	struct h *h = fresh(80, KEEL_AUTH_EAP);
	snprintf(h->gw.eap_password, sizeof(h->gw.eap_password), "another password");
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_EAP_REFUSED);
	CHECK(has(h->text, "refused the user name or password"));
	CHECK(has(h->text, "E=691"));
	CHECK_INT(h->gw.eap_result, -1);
	CHECK_INT(h->n_install, 0);
	done(h);

	/* a wrong user name, the same way */
	h = fresh(81, KEEL_AUTH_EAP);
	h->cfg.eap_identity = "bob";
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_EAP_REFUSED);
	done(h);

	/* EAP-MD5 with a wrong password: EAP-Failure after our answer */
	h = fresh(82, KEEL_AUTH_EAP);
	h->gw.eap_method = KEEL_EAP_TYPE_MD5;
	snprintf(h->gw.eap_password, sizeof(h->gw.eap_password), "another password");
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_EAP_REFUSED);
	CHECK(has(h->text, "EAP-MD5"));
	done(h);

	/* a gateway that takes no EAP for us */
	h = fresh(83, KEEL_AUTH_EAP);
	h->gw.eap_method = 0;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_AUTH_REFUSED);
	done(h);

	/* the gateway does not know the password: wrong authenticator response */
	h = fresh(84, KEEL_AUTH_EAP);
	h->gw.eap_bad_authenticator = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_PEER_AUTH);
	CHECK(has(h->text, "did not prove"));
	done(h);

	/* ... or its AUTH after EAP is wrong */
	h = fresh(85, KEEL_AUTH_EAP);
	h->gw.eap_bad_final_auth = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_PEER_AUTH);
	CHECK(has(h->text, "after EAP"));
	done(h);

	/* the gateway's certificate is checked before EAP starts */
	h = fresh(86, KEEL_AUTH_EAP);
	set_gw_cert(&h->gw, "gw-rsa.key", "gw-expired.pem", NULL);
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_CERT_EXPIRED);
	CHECK_INT(h->gw.n_eap, 0);
	done(h);
}

static void test_eap_methods(void)
{
	/* EAP-MD5: no MSK, AUTH from SK_pi / SK_pr (RFC 7296 §2.16) */
	struct h *h = fresh(90, KEEL_AUTH_EAP);
	h->gw.eap_method = KEEL_EAP_TYPE_MD5;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(!h->gw.eap_have_msk);
	CHECK(h->gw.final_auth_ok);
	CHECK(keys_match(h));
	done(h);

	/* EAP-GTC */
	h = fresh(91, KEEL_AUTH_EAP);
	h->gw.eap_method = KEEL_EAP_TYPE_GTC;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(h->gw.final_auth_ok);
	done(h);

	/* a method we do not allow: Nak, and the gateway moves to MS-CHAPv2 */
	h = fresh(92, KEEL_AUTH_EAP);
	h->cfg.eap_methods = KEEL_EAP_METHOD_MSCHAPV2;
	h->gw.eap_method = KEEL_EAP_TYPE_MD5;
	h->gw.eap_alt = KEEL_EAP_ALLOW_MSCHAPV2;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.eap_naks, 1);
	CHECK(h->gw.eap_have_msk);
	done(h);

	/* ... and one that has nothing else: no common method */
	h = fresh(93, KEEL_AUTH_EAP);
	h->cfg.eap_methods = KEEL_EAP_METHOD_MSCHAPV2 | KEEL_EAP_METHOD_GTC;
	h->gw.eap_method = KEEL_EAP_TYPE_MD5;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_EAP_METHOD);
	CHECK(has(h->text, "EAP-MD5") && has(h->text, "MSCHAPv2, GTC"));
	done(h);
}

static void test_eap_only(void)
{
	/* RFC 5998: the gateway takes it: no certificate, MS-CHAPv2 proves it */
	struct h *h = fresh(100, KEEL_AUTH_EAP);
	h->cfg.eap_only = true;
	h->cfg.ca = NULL;
	h->cfg.ca_len = 0;
	h->gw.eap_only_ok = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(h->gw.saw_eap_only);
	CHECK(!h->gw.sent_sig);
	CHECK(h->gw.final_auth_ok);
	CHECK(has(h->logs, "EAP-only"));
	CHECK(keys_match(h));
	done(h);

	/* ... but then only MS-CHAPv2: an MD5 request gets a Nak */
	h = fresh(101, KEEL_AUTH_EAP);
	h->cfg.eap_only = true;
	h->gw.eap_only_ok = true;
	h->gw.eap_method = KEEL_EAP_TYPE_MD5;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_EAP_METHOD);
	CHECK(has(h->text, "EAP-only needs EAP-MSCHAPv2"));
	CHECK_INT(h->gw.eap_naks, 1);
	done(h);

	/* ... and the gateway must be who we expect */
	h = fresh(102, KEEL_AUTH_EAP);
	h->cfg.eap_only = true;
	h->gw.eap_only_ok = true;
	h->gw.wrong_idr = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_PEER_ID);
	CHECK(has(h->text, "evil.example") && has(h->text, "gw.keel.test"));
	done(h);

	/* a gateway that does not take EAP-only proves itself with its certificate */
	h = fresh(103, KEEL_AUTH_EAP);
	h->cfg.eap_only = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(h->gw.sent_sig);
	done(h);

	/* ... which needs a CA to check it with */
	h = fresh(104, KEEL_AUTH_EAP);
	h->cfg.eap_only = true;
	h->cfg.ca = NULL;
	h->cfg.ca_len = 0;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->reason, KEEL_REASON_CERT_UNTRUSTED);
	CHECK(has(h->text, "no CA"));
	done(h);

	/* without EAP-only asked for, a gateway that does not prove itself is refused */
	h = fresh(105, KEEL_AUTH_EAP);
	h->gw.eap_only_ok = true;
	h->gw.saw_eap_only = false;
	keel_privkey_free(h->gw.key);
	h->gw.key = NULL;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK(h->reason == KEEL_REASON_PEER_AUTH || h->reason == KEEL_REASON_PROTOCOL);
	done(h);
}

/* ---- fragmentation (RFC 7383) ---- */

/* The engine's IKE_AUTH datagrams and the most bytes of one. */
static size_t auth_dgrams(struct h *h, size_t *max_len)
{
	size_t n = 0;
	*max_len = 0;
	for (size_t i = 0; i < h->n_dgram; i++)
		if (h->dgram[i].exchange == KEEL_V2_EXCHANGE_IKE_AUTH && !h->dgram[i].response) {
			n++;
			if (h->dgram[i].len > *max_len)
				*max_len = h->dgram[i].len;
		}
	return n;
}

static void test_frag(void)
{
	size_t max;
	/* both ways, on the NAT-T port: 576-byte datagrams, IP, UDP and marker included */
	struct h *h = fresh(110, KEEL_AUTH_CERT);
	h->cfg.fragment_size = 576;
	h->cfg.force_encap = true;
	h->gw.frag = true;
	h->gw.frag_limit = 540;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	size_t n = auth_dgrams(h, &max);
	CHECK(n >= 4);
	CHECK(max <= 576 - 20 - 8 - 4);
	CHECK(h->dgram[1].skf && h->dgram[1].natt);
	CHECK_INT(h->gw.frags_rx, n);
	CHECK(h->gw.max_frag_dgram <= 544);
	CHECK(h->gw.frags_tx >= 4); /* the gateway's answer came in pieces too */
	CHECK(has(h->logs, "reassembled from"));
	CHECK(keys_match(h));
	done(h);

	/* the default 1280 bytes: our 3072-bit certificate still needs two */
	h = fresh(111, KEEL_AUTH_CERT);
	h->gw.frag = true;
	h->gw.frag_limit = 1252;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(auth_dgrams(h, &max), 2);
	CHECK(max <= 1280 - 28);
	done(h);

	/* a gateway without RFC 7383: one big datagram */
	h = fresh(112, KEEL_AUTH_CERT);
	h->cfg.fragment_size = 576;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(auth_dgrams(h, &max), 1);
	CHECK(max > 576);
	done(h);

	/* switched off: not announced */
	h = fresh(113, KEEL_AUTH_CERT);
	h->cfg.fragmentation = false;
	h->gw.frag = true;
	h->gw.frag_limit = 540;
	CHECK_INT(start(h), 0);
	CHECK(!h->gw.saw_frag_supported);
	CHECK_INT(auth_dgrams(h, &max), 1);
	CHECK_INT(h->gw.frags_tx, 0);
	done(h);

	/* EAP rounds are small; the first IKE_AUTH answer with the certificate is not */
	h = fresh(114, KEEL_AUTH_EAP);
	h->cfg.fragment_size = 576;
	h->gw.frag = true;
	h->gw.frag_limit = 548;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(h->gw.frags_tx == 0 || h->gw.frags_tx >= 2);
	CHECK(has(h->logs, "reassembled from"));
	done(h);
}

static void test_frag_lost(void)
{
	size_t max;
	/* one of our fragments lost: after the timeout every fragment goes again */
	struct h *h = fresh(120, KEEL_AUTH_CERT);
	h->cfg.fragment_size = 576;
	h->gw.frag = true;
	h->gw.frag_limit = 548;
	h->drop_to_gw = 3; /* IKE_SA_INIT, fragment 1, fragment 2 */
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_AUTHENTICATING);
	size_t first = auth_dgrams(h, &max);
	CHECK(first >= 3);
	run_until(h, 10 * S);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(auth_dgrams(h, &max), 2 * first);
	CHECK(h->now >= 4 * S);
	done(h);

	/* one of the gateway's fragments lost: we ask again, it answers again, whole */
	h = fresh(121, KEEL_AUTH_CERT);
	h->cfg.fragment_size = 576;
	h->gw.frag = true;
	h->gw.frag_limit = 548;
	h->drop_from_gw = 3; /* IKE_SA_INIT answer, fragment 1, fragment 2 */
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_AUTHENTICATING);
	run_until(h, 10 * S);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.n_auth, 1); /* the gateway resent its cached answer */
	CHECK(keys_match(h));
	done(h);
}

/* Opens the gateway's message f (SK, or one SKF fragment) with our keys: its plaintext
 * into out, the first inner payload type (if it carries one) into *first. */
static size_t open_frag(struct h *h, const uint8_t *f, size_t len, uint8_t *first, uint8_t *out)
{
	static struct keel_v2_msg m;
	struct keel_sk sk;
	struct gw_ike *ike = &h->gw.ike[0];
	enum keel_integ_alg integ;
	keel_integ_from_ikev2_id(ike->alg.integ, &integ);
	keel_sk_init(&sk, ike->alg.encr, ike->alg.encr_key_bits, integ, &ike->keys, true);
	uint8_t buf[GW_FRAG_LEN * 4], *plain = NULL;
	size_t plain_len = 0;
	memcpy(buf, f, len);
	CHECK_INT(keel_v2_msg_decode(buf, len, &m), 0);
	const struct keel_v2_raw_payload *raw = &m.chain.p[m.chain.n - 1];
	if (raw->next)
		*first = raw->next;
	size_t hdr_len =
	    raw->type == KEEL_V2_PAYLOAD_SKF ? KEEL_V2_SKF_HDR_LEN : KEEL_V2_GENERIC_HDR_LEN;
	CHECK_INT(keel_sk_open_payload(&sk, buf, len, raw->off, hdr_len, &plain, &plain_len), 0);
	memcpy(out, plain, plain_len);
	keel_sk_clear(&sk);
	return plain_len;
}

static void test_frag_reassembly(void)
{
	static uint8_t inner[65536], set_b[GW_MAX_FRAGS][GW_FRAG_LEN];
	static size_t set_b_len[GW_MAX_FRAGS];
	struct h *h = fresh(130, KEEL_AUTH_CERT);
	h->gw.frag = true;
	h->gw.frag_limit = 700;
	h->hold = true;
	CHECK_INT(keel_sa_new(&h->cfg, &h->env, &h->sa), 0);
	CHECK_INT(keel_sa_start(h->sa, 0), 0);
	pump(h);
	/* deliver the IKE_SA_INIT answer, hold the IKE_AUTH answer's fragments (set A) */
	CHECK_INT(h->n_held, 1);
	h->n_held = 0;
	deliver(h, h->held[0], h->held_len[0]);
	pump(h);
	size_t na = h->n_held;
	CHECK(na >= 3);

	/* the same message cut smaller (set B, more fragments), as after a PMTU change */
	uint8_t first = 0;
	size_t inner_len = 0;
	for (size_t i = 0; i < na; i++)
		inner_len += open_frag(h, h->held[i], h->held_len[i], &first, inner + inner_len);
	struct keel_v2_hdr hdr;
	keel_v2_hdr_decode(h->held[0], h->held_len[0], &hdr);
	size_t nb = gw_make_frags(&h->gw, &h->gw.ike[0].sk, &hdr, first, inner, inner_len, 500,
	                          set_b, set_b_len);
	CHECK(nb > na);

	/* A2, A2 again (a duplicate is ignored) */
	CHECK_INT(deliver(h, h->held[1], h->held_len[1]), 0);
	CHECK_INT(deliver(h, h->held[1], h->held_len[1]), 0);
	/* a forged fragment: its ICV fails */
	uint8_t bad[GW_FRAG_LEN * 4];
	memcpy(bad, h->held[2], h->held_len[2]);
	bad[h->held_len[2] - 20] ^= 1;
	CHECK_INT(deliver(h, bad, h->held_len[2]), KEEL_ERR_AUTH);
	/* a fragment number above the total */
	memcpy(bad, h->held[0], h->held_len[0]);
	bad[KEEL_V2_HDR_LEN + 4] = 0;
	bad[KEEL_V2_HDR_LEN + 5] = (uint8_t)(na + 1);
	CHECK_INT(deliver(h, bad, h->held_len[0]), KEEL_ERR_MALFORMED);
	/* garbage */
	CHECK_INT(deliver(h, (const uint8_t *)"garbage", 7), KEEL_ERR_MALFORMED);
	CHECK_INT(h->state, KEEL_STATE_AUTHENTICATING);
	/* B arrives with a larger total: A is forgotten; then a stale A is dropped */
	CHECK_INT(deliver(h, set_b[nb - 1], set_b_len[nb - 1]), 0);
	CHECK_INT(deliver(h, h->held[0], h->held_len[0]), KEEL_ERR_MALFORMED);
	/* the rest of B, backwards, with a duplicate */
	CHECK_INT(deliver(h, set_b[nb - 1], set_b_len[nb - 1]), 0);
	h->hold = false;
	for (size_t i = nb - 1; i-- > 0;)
		deliver(h, set_b[i], set_b_len[i]);
	pump(h);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(keys_match(h));

	/* a gateway request in fragments: answered once; its fragment 2 repeated is
	 * ignored, its fragment 1 repeated gets the answer again (RFC 7383 §2.6.1) */
	struct gw_ike *gi = &h->gw.ike[h->gw.cur];
	struct keel_v2_hdr rh = {.spi_i = gi->spi_i,
	                         .spi_r = gi->spi_r,
	                         .major_version = 2,
	                         .exchange = KEEL_V2_EXCHANGE_INFORMATIONAL,
	                         .msg_id = gi->next_req++};
	uint8_t vendor[44] = {0, 0, 0, 44}; /* a Vendor ID payload, the last one */
	memset(vendor + 4, 'k', 40);
	size_t nr = gw_make_frags(&h->gw, &gi->sk, &rh, KEEL_V2_PAYLOAD_VENDOR, vendor,
	                          sizeof(vendor), 90, set_b, set_b_len);
	CHECK_INT(nr, 2);
	const uint8_t *req = set_b[0], *frag2 = set_b[1];
	size_t r1 = set_b_len[0], r2 = set_b_len[1];
	size_t before = h->n_dgram;
	CHECK_INT(deliver(h, frag2, r2), 0);
	CHECK_INT(deliver(h, req, r1), 0);
	struct keel_out o;
	while (keel_sa_pop(h->sa, &o))
		record(h, &o);
	CHECK_INT(h->n_dgram, before + 1);
	CHECK(h->dgram[h->n_dgram - 1].response);
	CHECK_INT(deliver(h, frag2, r2), 0);
	while (keel_sa_pop(h->sa, &o))
		record(h, &o);
	CHECK_INT(h->n_dgram, before + 1);
	CHECK_INT(deliver(h, req, r1), 0);
	while (keel_sa_pop(h->sa, &o))
		record(h, &o);
	CHECK_INT(h->n_dgram, before + 2);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);
}

/* Pops what the engine queued; returns how many datagrams. */
static size_t drain(struct h *h)
{
	size_t before = h->n_dgram;
	struct keel_out o;
	while (keel_sa_pop(h->sa, &o))
		record(h, &o);
	return h->n_dgram - before;
}

/*
 * RFC 7383 §2.3, §2.5: fragments only once both sides announced
 * IKEV2_FRAGMENTATION_SUPPORTED. Otherwise an SKF message is invalid and
 * dropped, even one authentic under the real keys, with no state change;
 * the exchange completes with the gateway's whole answer.
 */
static void frag_unnegotiated(uint64_t seed, bool gw_announces)
{
	static uint8_t inner[65536], frags[GW_MAX_FRAGS][GW_FRAG_LEN];
	static size_t frags_len[GW_MAX_FRAGS];
	size_t max;
	struct h *h = fresh(seed, KEEL_AUTH_CERT);
	if (gw_announces) {
		h->cfg.fragmentation = false;
		h->gw.frag = true;
		h->gw.frag_limit = 700;
	} /* else we announce it and the gateway does not */
	h->hold = true;
	CHECK_INT(keel_sa_new(&h->cfg, &h->env, &h->sa), 0);
	CHECK_INT(keel_sa_start(h->sa, 0), 0);
	pump(h);
	CHECK_INT(h->n_held, 1);
	h->n_held = 0;
	deliver(h, h->held[0], h->held_len[0]);
	pump(h);
	CHECK_INT(h->gw.saw_frag_supported, !gw_announces);
	CHECK(!h->gw.frag_on);
	CHECK_INT(h->n_held, 1); /* the IKE_AUTH answer, whole */
	CHECK_INT(h->gw.frags_tx, 0);
	CHECK_INT(auth_dgrams(h, &max), 1);

	/* the same answer cut into fragments under the real keys: each dropped */
	uint8_t first = 0;
	size_t inner_len = open_frag(h, h->held[0], h->held_len[0], &first, inner);
	CHECK(inner_len > 700);
	CHECK_INT(first, KEEL_V2_PAYLOAD_IDR);
	struct keel_v2_hdr hdr;
	CHECK_INT(keel_v2_hdr_decode(h->held[0], h->held_len[0], &hdr), 0);
	size_t n = gw_make_frags(&h->gw, &h->gw.ike[0].sk, &hdr, first, inner, inner_len, 700,
	                         frags, frags_len);
	CHECK(n >= 2);
	h->logs[0] = 0;
	for (size_t i = 0; i < n; i++)
		CHECK_INT(deliver(h, frags[i], frags_len[i]), KEEL_ERR_MALFORMED);
	CHECK_INT(drain(h), 0);
	CHECK(has(h->logs, "fragmentation was not negotiated"));
	CHECK(!has(h->logs, "reassembled"));
	CHECK_INT(h->state, KEEL_STATE_AUTHENTICATING);
	CHECK_INT(h->n_install, 0);

	/* we ask again; the gateway answers again, whole */
	h->hold = false;
	run_until(h, 10 * S);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(auth_dgrams(h, &max), 2);
	CHECK_INT(h->gw.n_auth, 1);
	CHECK(keys_match(h));

	/* a gateway request in fragments: dropped, not answered */
	struct gw_ike *gi = &h->gw.ike[h->gw.cur];
	struct keel_v2_hdr rh = {.spi_i = gi->spi_i,
	                         .spi_r = gi->spi_r,
	                         .major_version = 2,
	                         .exchange = KEEL_V2_EXCHANGE_INFORMATIONAL,
	                         .msg_id = gi->next_req};
	uint8_t vendor[44] = {0, 0, 0, 44}; /* a Vendor ID payload, the last one */
	memset(vendor + 4, 'k', 40);
	n = gw_make_frags(&h->gw, &gi->sk, &rh, KEEL_V2_PAYLOAD_VENDOR, vendor, sizeof(vendor), 90,
	                  frags, frags_len);
	CHECK_INT(n, 2);
	CHECK_INT(deliver(h, frags[1], frags_len[1]), KEEL_ERR_MALFORMED);
	CHECK_INT(deliver(h, frags[0], frags_len[0]), KEEL_ERR_MALFORMED);
	CHECK_INT(drain(h), 0);
	/* the same request (message ID) whole: answered */
	uint8_t req[2048];
	size_t req_len = gw_request_info(&h->gw, false, 0, req, sizeof(req));
	CHECK(req_len > 0);
	CHECK_INT(deliver(h, req, req_len), 0);
	CHECK_INT(drain(h), 1);
	CHECK(h->dgram[h->n_dgram - 1].response);
	/* its fragment 1 again: no answer (RFC 7383 §2.6.1 applies only when negotiated);
	 * the whole request again: the same answer (RFC 7296 §2.1) */
	CHECK_INT(deliver(h, frags[0], frags_len[0]), KEEL_ERR_MALFORMED);
	CHECK_INT(drain(h), 0);
	CHECK_INT(deliver(h, req, req_len), 0);
	CHECK_INT(drain(h), 1);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);
}

static void test_frag_unnegotiated(void)
{
	frag_unnegotiated(140, false);
	frag_unnegotiated(141, true);
}

/* ---- Notify Message Types on the wire ---- */

/* The engine's first message of this exchange and direction, NULL if none. */
static const struct rec *find_rec(struct h *h, uint8_t exchange, bool response, size_t nth)
{
	for (size_t i = 0; i < h->n_dgram; i++)
		if (h->dgram[i].exchange == exchange && h->dgram[i].response == response &&
		    nth-- == 0)
			return &h->dgram[i];
	return NULL;
}

static bool rec_has(const struct rec *r, uint16_t type)
{
	for (size_t i = 0; r && i < r->n_notify; i++)
		if (r->notify[i] == type)
			return true;
	return false;
}

/*
 * The Notify Message Types the engine sends, read off the wire, and the
 * codec's constants it sends and recognises, against the numbers of the
 * defining documents: RFC 7296 §3.10.1 (its table as in RFC 5996 §3.10.1,
 * unchanged), RFC 7383 (16430), RFC 7427 §4 (16431), RFC 5998 §3 (16417).
 * Exchange types 34..37 are RFC 7296 §3.1's IKE_SA_INIT .. INFORMATIONAL.
 */
static void test_notify_numbers(void)
{
	/* IKE_SA_INIT: NAT detection, fragmentation, signature hashes; IKE_AUTH:
	 * INITIAL_CONTACT; a CHILD SA rekey: REKEY_SA */
	struct h *h = fresh(150, KEEL_AUTH_CERT);
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	const struct rec *r = find_rec(h, 34, false, 0);
	CHECK(r != NULL);
	if (r) {
		CHECK_INT(r->n_notify, 4);
		CHECK_INT(r->notify[0], 16388); /* NAT_DETECTION_SOURCE_IP */
		CHECK_INT(r->notify[1], 16389); /* NAT_DETECTION_DESTINATION_IP */
		CHECK_INT(r->notify[2], 16430); /* IKEV2_FRAGMENTATION_SUPPORTED */
		CHECK_INT(r->notify[3], 16431); /* SIGNATURE_HASH_ALGORITHMS */
	}
	r = find_rec(h, 35, false, 0);
	CHECK(rec_has(r, 16384)); /* INITIAL_CONTACT */
	CHECK_INT(keel_sa_rekey(h->sa, KEEL_REKEY_CHILD, 0, h->now), 0);
	pump(h);
	CHECK(rec_has(find_rec(h, 36, false, 0), 16393)); /* REKEY_SA */
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);

	/* the gateway asks for a cookie: it goes back first (RFC 7296 §2.6) */
	h = fresh(151, KEEL_AUTH_CERT);
	h->cfg.fragmentation = false;
	h->gw.want_cookie = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	r = find_rec(h, 34, false, 1);
	CHECK(r != NULL);
	if (r) {
		CHECK_INT(r->n_notify, 4);
		CHECK_INT(r->notify[0], 16390); /* COOKIE */
		CHECK_INT(r->notify[1], 16388);
		CHECK_INT(r->notify[2], 16389);
		CHECK_INT(r->notify[3], 16431); /* not announcing fragmentation: no 16430 */
	}
	done(h);

	/* EAP-only authentication (RFC 5998) */
	h = fresh(152, KEEL_AUTH_EAP);
	h->cfg.eap_only = true;
	h->cfg.ca = NULL;
	h->cfg.ca_len = 0;
	h->gw.eap_only_ok = true;
	CHECK_INT(start(h), 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(rec_has(find_rec(h, 35, false, 0), 16417)); /* EAP_ONLY_AUTHENTICATION */
	done(h);

	/* the constants the engine sends and compares with */
	static const struct {
		unsigned keel, value;
		const char *name;
	} pins[] = {
	    {KEEL_V2_N_UNSUPPORTED_CRITICAL_PAYLOAD, 1, "UNSUPPORTED_CRITICAL_PAYLOAD"},
	    {KEEL_V2_N_INVALID_SYNTAX, 7, "INVALID_SYNTAX"},
	    {KEEL_V2_N_NO_PROPOSAL_CHOSEN, 14, "NO_PROPOSAL_CHOSEN"},
	    {KEEL_V2_N_INVALID_KE_PAYLOAD, 17, "INVALID_KE_PAYLOAD"},
	    {KEEL_V2_N_AUTHENTICATION_FAILED, 24, "AUTHENTICATION_FAILED"},
	    {KEEL_V2_N_SINGLE_PAIR_REQUIRED, 34, "SINGLE_PAIR_REQUIRED"},
	    {KEEL_V2_N_NO_ADDITIONAL_SAS, 35, "NO_ADDITIONAL_SAS"},
	    {KEEL_V2_N_INTERNAL_ADDRESS_FAILURE, 36, "INTERNAL_ADDRESS_FAILURE"},
	    {KEEL_V2_N_FAILED_CP_REQUIRED, 37, "FAILED_CP_REQUIRED"},
	    {KEEL_V2_N_TS_UNACCEPTABLE, 38, "TS_UNACCEPTABLE"},
	    {KEEL_V2_N_TEMPORARY_FAILURE, 43, "TEMPORARY_FAILURE"},
	    {KEEL_V2_N_CHILD_SA_NOT_FOUND, 44, "CHILD_SA_NOT_FOUND"},
	    {KEEL_V2_N_INITIAL_CONTACT, 16384, "INITIAL_CONTACT"},
	    {KEEL_V2_N_NAT_DETECTION_SOURCE_IP, 16388, "NAT_DETECTION_SOURCE_IP"},
	    {KEEL_V2_N_NAT_DETECTION_DESTINATION_IP, 16389, "NAT_DETECTION_DESTINATION_IP"},
	    {KEEL_V2_N_COOKIE, 16390, "COOKIE"},
	    {KEEL_V2_N_USE_TRANSPORT_MODE, 16391, "USE_TRANSPORT_MODE"},
	    {KEEL_V2_N_REKEY_SA, 16393, "REKEY_SA"},
	    {KEEL_V2_N_EAP_ONLY_AUTHENTICATION, 16417, "EAP_ONLY_AUTHENTICATION"},
	    {KEEL_V2_N_IKEV2_FRAGMENTATION_SUPPORTED, 16430, "IKEV2_FRAGMENTATION_SUPPORTED"},
	    {KEEL_V2_N_SIGNATURE_HASH_ALGORITHMS, 16431, "SIGNATURE_HASH_ALGORITHMS"},
	};
	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		CHECK_INT(pins[i].keel, pins[i].value);
		CHECK(strcmp(keel_v2_notify_name((uint16_t)pins[i].value), pins[i].name) == 0);
		/* RFC 7296 §3.10.1: 0..16383 are errors */
		CHECK_INT(keel_v2_notify_is_error((uint16_t)pins[i].value), pins[i].value <= 16383);
	}
}

int main(void)
{
	verbose = getenv("KEEL_TEST_VERBOSE") != NULL;
	test_cert_rsa();
	test_cert_certreq();
	test_cert_ecdsa();
	test_cert_ed25519();
	test_cert_refused();
	test_cert_crl();
	test_key_passphrase();
	test_config();
	test_eap_mschapv2();
	test_eap_refused();
	test_eap_methods();
	test_eap_only();
	test_frag();
	test_frag_lost();
	test_frag_reassembly();
	test_frag_unnegotiated();
	test_notify_numbers();
	return check_done();
}
