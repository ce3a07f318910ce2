/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The IKEv1 engine against real exchanges captured from strongSwan 5.9.8
 * (tests/vectors/strongswan/ikev1-*.txt, with the keys charon logged).
 *
 * The randomness of a captured run cannot be replayed (the nonces and DH
 * keys are charon's), so the engine is given the captured phase 1 keys and
 * then fed the gateway's recorded messages from XAUTH on: its answers must
 * be the initiator's recorded answers byte for byte (up to padding, which
 * each side chooses), HASH payloads included, and the CHILD SA it installs
 * must carry exactly the keys charon derived. Before that, what the engine
 * sends in phase 1 is checked piece by piece: its SA payloads against the
 * recorded ones, SKEYID and its children, the IVs, HASH_I and HASH_R from
 * the recorded inputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/config.h>
#include <keel/ike.h>
#include <keel/secret.h>

#include "check.h"
#include "crypto/cipher.h"
#include "crypto/kdf.h"
#include "ikev1/sa.h"
#include "tv.h"
#include "wire/isakmp.h"

#define MAX_DGRAMS 32

struct capture {
	const char *file;
	char psk[128], user[64], pass[64];
	uint32_t spi_i, spi_r;
	size_t n;
	uint8_t *data[MAX_DGRAMS];
	size_t len[MAX_DGRAMS];
	bool i2r[MAX_DGRAMS];
	uint8_t *key[16];
	size_t key_len[16];
};

enum {
	K_GXY,
	K_SKEYID,
	K_D,
	K_A,
	K_E,
	K_KA,
	K_IV,
	K_HASH_I,
	K_HASH_R,
	K_IV_MID0,
	K_ENC_I,
	K_ENC_R,
	K_INT_I,
	K_INT_R,
	K_N,
};

static const char *const key_names[K_N] = {
    "shared Diffie Hellman secret",
    "SKEYID",
    "SKEYID_d",
    "SKEYID_a",
    "SKEYID_e",
    "encryption key Ka",
    "initial IV",
    "HASH_I",
    "HASH_R",
    "next IV for MID 0",
    "encryption initiator key",
    "encryption responder key",
    "integrity initiator key",
    "integrity responder key",
};

static void load(const char *file, struct capture *c)
{
	struct tv_file *f = tv_open(file);
	memset(c, 0, sizeof(*c));
	c->file = file;
	while (tv_next(f)) {
		const char *sec = tv_section(f);
		if (strcmp(sec, "exchange") == 0) {
			snprintf(c->psk, sizeof(c->psk), "%s",
			         tv_str(f, "PSK") ? tv_str(f, "PSK") : "");
			snprintf(c->user, sizeof(c->user), "%s",
			         tv_str(f, "XAUTHUser") ? tv_str(f, "XAUTHUser") : "");
			snprintf(c->pass, sizeof(c->pass), "%s",
			         tv_str(f, "XAUTHPassword") ? tv_str(f, "XAUTHPassword") : "");
			c->spi_i = (uint32_t)strtoul(tv_str(f, "ESPSPIi"), NULL, 16);
			c->spi_r = (uint32_t)strtoul(tv_str(f, "ESPSPIr"), NULL, 16);
		} else if (strcmp(sec, "datagrams") == 0 && c->n < MAX_DGRAMS) {
			c->data[c->n] = tv_hex(f, "Data", &c->len[c->n]);
			c->i2r[c->n] = strcmp(tv_str(f, "Dir"), "i2r") == 0;
			c->n++;
		} else if (strcmp(sec, "keys") == 0) {
			for (size_t k = 0; k < K_N; k++)
				if (tv_str(f, key_names[k]))
					c->key[k] = tv_hex(f, key_names[k], &c->key_len[k]);
		}
	}
	tv_close(f);
}

static void unload(struct capture *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->data[i]);
	for (size_t k = 0; k < K_N; k++)
		free(c->key[k]);
}

static uint32_t mid_of(const uint8_t *d)
{
	return (uint32_t)d[20] << 24 | (uint32_t)d[21] << 16 | (uint32_t)d[22] << 8 | d[23];
}

/* The index of the k-th message (from 0) of exchange in direction i2r, or -1. */
static int find(const struct capture *c, uint8_t exchange, bool i2r, int k)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->data[i][18] == exchange && c->i2r[i] == i2r && k-- == 0)
			return (int)i;
	return -1;
}

/* Decrypts message i of c with iv (16 bytes, moved on) into plain; the chain length. */
static size_t decrypt(const struct capture *c, size_t i, uint8_t iv[16], uint8_t *plain,
                      struct keel_v1_msg *m)
{
	struct keel_cipher *dec = NULL;
	size_t len = c->len[i] - 28;
	CHECK(keel_cipher_new(KEEL_ENCR_AES_CBC, (unsigned)c->key_len[K_KA] * 8,
	                      KEEL_CIPHER_DECRYPT, c->key[K_KA], c->key_len[K_KA], &dec) == 0);
	CHECK(keel_cipher_decrypt(dec, iv, c->data[i] + 28, len, plain) == 0);
	memcpy(iv, c->data[i] + c->len[i] - 16, 16);
	keel_cipher_free(dec);
	CHECK(keel_v1_chain_decode(c->data[i][16], plain, len, true, m) == 0);
	return m->chain_len;
}

static enum keel_prf_alg prf_of(const struct capture *c)
{
	return c->key_len[K_SKEYID] == 32 ? KEEL_PRF_HMAC_SHA2_256 : KEEL_PRF_HMAC_SHA1;
}

struct scenario {
	const char *file;
	enum keel_v1_mode mode;
	bool xauth;
	const char *local_id;
	const char *ike, *esp;
};

static int rng_fill(void *ctx, uint8_t *buf, size_t len)
{
	uint64_t *s = ctx;
	for (size_t i = 0; i < len; i++) {
		*s = *s * 6364136223846793005ull + 1442695040888963407ull;
		buf[i] = (uint8_t)(*s >> 33);
	}
	return 0;
}

static struct keel_v1sa *engine(const struct scenario *sc, const struct capture *c,
                                struct keel_env *env, struct keel_secret **secrets)
{
	struct keel_config cfg;
	struct keel_v1_options v1;
	struct keel_v1sa *sa = NULL;
	keel_config_init(&cfg);
	cfg.ike_version = 1;
	cfg.local.family = cfg.remote.family = KEEL_AF_INET;
	memcpy(cfg.local.bytes, (const uint8_t[]){192, 0, 2, 2}, 4);
	memcpy(cfg.remote.bytes, (const uint8_t[]){192, 0, 2, 1}, 4);
	secrets[0] = keel_secret_new_from((const uint8_t *)c->psk, (ptrdiff_t)strlen(c->psk));
	secrets[1] = keel_secret_new_from((const uint8_t *)c->user, (ptrdiff_t)strlen(c->user));
	secrets[2] = keel_secret_new_from((const uint8_t *)c->pass, (ptrdiff_t)strlen(c->pass));
	cfg.psk = secrets[0];
	CHECK(keel_id_from_text(sc->local_id, &cfg.local_id) == 0);
	CHECK(keel_id_from_text("gw.keel.test", &cfg.remote_id) == 0);
	cfg.n_ike_proposals = cfg.n_esp_proposals = 1;
	CHECK(keel_proposal_from_text(sc->ike, KEEL_PROPOSAL_IKE, &cfg.ike_proposals[0], NULL) ==
	      0);
	CHECK(keel_proposal_from_text(sc->esp, KEEL_PROPOSAL_ESP, &cfg.esp_proposals[0], NULL) ==
	      0);
	cfg.log_level = KEEL_LOG_DEBUG;
	keel_v1_options_init(&v1);
	v1.mode = sc->mode;
	v1.xauth = sc->xauth;
	v1.xauth_user = secrets[1];
	v1.xauth_password = secrets[2];
	CHECK(keel_v1sa_new(&cfg, &v1, env, &sa) == 0);
	return sa;
}

/* The engine's next datagram, decrypted with iv into its chain (padding dropped). */
static size_t engine_out(struct keel_v1sa *sa, const struct capture *c, uint8_t iv[16],
                         uint8_t *plain, uint8_t *hdr, struct keel_v1_msg *m)
{
	struct keel_out o;
	size_t n = 0;
	while (keel_v1sa_pop(sa, &o)) {
		if (o.kind == KEEL_OUT_LOG && getenv("KEEL_TEST_VERBOSE"))
			fprintf(stderr, "  %s\n", o.u.log.text);
		if (o.kind != KEEL_OUT_DGRAM || n)
			continue;
		CHECK(o.u.dgram.natt);
		struct keel_cipher *dec = NULL;
		size_t len = (size_t)o.u.dgram.len - 28;
		memcpy(hdr, o.u.dgram.data, 28);
		CHECK(keel_cipher_new(KEEL_ENCR_AES_CBC, (unsigned)c->key_len[K_KA] * 8,
		                      KEEL_CIPHER_DECRYPT, c->key[K_KA], c->key_len[K_KA],
		                      &dec) == 0);
		CHECK(keel_cipher_decrypt(dec, iv, o.u.dgram.data + 28, len, plain) == 0);
		keel_cipher_free(dec);
		CHECK(keel_v1_chain_decode(hdr[16], plain, len, true, m) == 0);
		n = m->chain_len;
	}
	return n;
}

static int feed(struct keel_v1sa *sa, const struct capture *c, size_t i, uint64_t now)
{
	struct keel_dgram dg;
	memset(&dg, 0, sizeof(dg));
	dg.data = c->data[i];
	dg.len = (ptrdiff_t)c->len[i];
	return keel_v1sa_recv(sa, &dg, now);
}

/* Our answer to recorded message r2i must be recorded message i2r, up to padding. */
static void answer_matches(struct keel_v1sa *sa, const struct capture *c, size_t r2i, size_t i2r,
                           const char *what)
{
	static uint8_t ours[8192], theirs[8192];
	static struct keel_v1_msg mo, mt;
	uint8_t hdr[28], iv[16];
	CHECK_INT(feed(sa, c, r2i, 2000000000ull), 0);
	memcpy(iv, c->data[r2i] + c->len[r2i] - 16, 16); /* the same exchange: CBC chains on */
	size_t n_ours = engine_out(sa, c, iv, ours, hdr, &mo);
	memcpy(iv, c->data[r2i] + c->len[r2i] - 16, 16);
	size_t n_theirs = decrypt(c, i2r, iv, theirs, &mt);
	if (n_ours != n_theirs || memcmp(ours, theirs, n_theirs) != 0)
		fprintf(stderr, "%s: %s differs\n", c->file, what);
	CHECK_MEM(ours, n_ours, theirs, n_theirs);
	/* the same header but for the length (padding is each side's choice) */
	CHECK_MEM(hdr, 24, c->data[i2r], 24);
}

static void one(const struct scenario *sc)
{
	struct capture c;
	static uint8_t plain[8192];
	static struct keel_v1_msg m;
	struct keel_secret *secrets[3] = {0};
	uint64_t seed = 42;
	struct keel_env env = {.random = rng_fill, .random_ctx = &seed};
	uint8_t iv[16], out[64];

	load(sc->file, &c);
	enum keel_prf_alg prf = prf_of(&c);
	bool aggr = sc->mode == KEEL_V1_AGGRESSIVE;
	uint8_t p1x = aggr ? KEEL_V1_EXCH_AGGRESSIVE : KEEL_V1_EXCH_MAIN;
	struct keel_v1sa *sa = engine(sc, &c, &env, secrets);
	CHECK(sa != NULL);
	if (!sa)
		goto out;

	/* -- phase 1: our SA payload is the initiator's, byte for byte -- */
	static struct keel_v1_msg m0;
	CHECK(keel_v1_msg_decode(c.data[0], c.len[0], &m0) == 0);
	const struct keel_v1_payload *sap = keel_v1_msg_next(&m0, KEEL_V1_PL_SA, NULL);
	static uint8_t buf[4096];
	struct keel_wr w = keel_wr_init(buf, sizeof(buf));
	struct keel_v1_enc e;
	keel_v1_enc_init(&e, &w, NULL);
	keel_v1_enc_p1_sa(sa, &e);
	CHECK(keel_v1_enc_finish(&e) > 0);
	CHECK_MEM(buf + e.last_body_at, e.last_body_len, sap->body, sap->len);

	/* -- the keys, from the PSK, the nonces and the DH secret -- */
	const struct keel_v1_payload *ni = keel_v1_msg_next(&m0, KEEL_V1_PL_NONCE, NULL);
	int ke_i = aggr ? 0 : find(&c, p1x, true, 1),
	    ke_r = aggr ? find(&c, p1x, false, 0) : find(&c, p1x, false, 1);
	static struct keel_v1_msg mi, mr;
	CHECK(keel_v1_msg_decode(c.data[ke_i], c.len[ke_i], &mi) == 0);
	CHECK(keel_v1_msg_decode(c.data[ke_r], c.len[ke_r], &mr) == 0);
	ni = keel_v1_msg_next(&mi, KEEL_V1_PL_NONCE, NULL);
	const struct keel_v1_payload *nr = keel_v1_msg_next(&mr, KEEL_V1_PL_NONCE, NULL);
	const struct keel_v1_payload *gxi = keel_v1_msg_next(&mi, KEEL_V1_PL_KE, NULL);
	const struct keel_v1_payload *gxr = keel_v1_msg_next(&mr, KEEL_V1_PL_KE, NULL);
	CHECK(ni && nr && gxi && gxr);
	struct keel_secret *skeyid = NULL;
	CHECK(keel_ikev1_skeyid_psk(prf, (const uint8_t *)c.psk, (ptrdiff_t)strlen(c.psk), ni->body,
	                            (ptrdiff_t)ni->len, nr->body, (ptrdiff_t)nr->len,
	                            &skeyid) == 0);
	CHECK_MEM(keel_secret_data(skeyid), (size_t)keel_secret_len(skeyid), c.key[K_SKEYID],
	          c.key_len[K_SKEYID]);
	struct keel_ikev1_keys k = {0};
	CHECK(keel_ikev1_derive(prf, skeyid, c.key[K_GXY], (ptrdiff_t)c.key_len[K_GXY], c.data[1],
	                        c.data[1] + 8, (ptrdiff_t)c.key_len[K_KA], &k) == 0);
	CHECK_MEM(keel_secret_data(k.skeyid_d), (size_t)keel_secret_len(k.skeyid_d), c.key[K_D],
	          c.key_len[K_D]);
	CHECK_MEM(keel_secret_data(k.skeyid_a), (size_t)keel_secret_len(k.skeyid_a), c.key[K_A],
	          c.key_len[K_A]);
	CHECK_MEM(keel_secret_data(k.encr_key), (size_t)keel_secret_len(k.encr_key), c.key[K_KA],
	          c.key_len[K_KA]);
	CHECK(keel_ikev1_iv_phase1(prf, gxi->body, (ptrdiff_t)gxi->len, gxr->body,
	                           (ptrdiff_t)gxr->len, 16, iv) == 0);
	CHECK_MEM(iv, 16, c.key[K_IV], 16);

	/* HASH_I and HASH_R from the recorded inputs, as the engine computes them */
	int hi = aggr ? find(&c, p1x, true, 1) : find(&c, p1x, true, 2);
	size_t cl = decrypt(&c, (size_t)hi, iv, plain, &m);
	(void)cl;
	const struct keel_v1_payload *hash_i = keel_v1_msg_next(&m, KEEL_V1_PL_HASH, NULL);
	uint8_t idii[300];
	size_t idii_len = 0;
	if (aggr) {
		const struct keel_v1_payload *id = keel_v1_msg_next(&m0, KEEL_V1_PL_ID, NULL);
		memcpy(idii, id->body, id->len);
		idii_len = id->len;
	} else {
		const struct keel_v1_payload *id = keel_v1_msg_next(&m, KEEL_V1_PL_ID, NULL);
		memcpy(idii, id->body, id->len);
		idii_len = id->len;
	}
	struct keel_ikev1_auth_params ap = {
	    .prf = prf,
	    .skeyid = skeyid,
	    .g_xi = gxi->body,
	    .g_xi_len = (ptrdiff_t)gxi->len,
	    .g_xr = gxr->body,
	    .g_xr_len = (ptrdiff_t)gxr->len,
	    .sai_b = sap->body,
	    .sai_b_len = (ptrdiff_t)sap->len,
	};
	memcpy(ap.cky_i, c.data[1], 8);
	memcpy(ap.cky_r, c.data[1] + 8, 8);
	ptrdiff_t hn = keel_ikev1_hash_i(&ap, idii, (ptrdiff_t)idii_len, out, sizeof(out));
	CHECK_MEM(out, (size_t)hn, c.key[K_HASH_I], c.key_len[K_HASH_I]);
	CHECK_MEM(out, (size_t)hn, hash_i->body, hash_i->len);
	/* our own identity payload is the recorded one */
	struct keel_v1sa *s = sa;
	CHECK(keel_v1_p1_start(s, true) == 0);
	CHECK_MEM(s->p1->idii_b, s->p1->idii_b_len, idii, idii_len);
	uint8_t p1_last[16];
	const struct keel_v1_payload *idr;
	if (aggr) {
		memcpy(p1_last, c.data[hi] + c.len[hi] - 16, 16);
		idr = keel_v1_msg_next(&mr, KEEL_V1_PL_ID, NULL);
		const struct keel_v1_payload *h = keel_v1_msg_next(&mr, KEEL_V1_PL_HASH, NULL);
		hn = keel_ikev1_hash_r(&ap, idr->body, (ptrdiff_t)idr->len, out, sizeof(out));
		CHECK_MEM(out, (size_t)hn, h->body, h->len);
	} else {
		int i6 = find(&c, p1x, false, 2);
		static uint8_t p6[1024];
		static struct keel_v1_msg m6;
		decrypt(&c, (size_t)i6, iv, p6, &m6);
		memcpy(p1_last, c.data[i6] + c.len[i6] - 16, 16);
		idr = keel_v1_msg_next(&m6, KEEL_V1_PL_ID, NULL);
		const struct keel_v1_payload *h = keel_v1_msg_next(&m6, KEEL_V1_PL_HASH, NULL);
		hn = keel_ikev1_hash_r(&ap, idr->body, (ptrdiff_t)idr->len, out, sizeof(out));
		CHECK_MEM(out, (size_t)hn, h->body, h->len);
	}
	CHECK_MEM(out, (size_t)hn, c.key[K_HASH_R], c.key_len[K_HASH_R]);
	/* charon logs the IV that follows the message carrying HASH_I (Appendix B chaining) */
	CHECK_MEM(c.data[hi] + c.len[hi] - 16, 16, c.key[K_IV_MID0], 16);

	/* -- from here the engine runs on the captured keys -- */
	keel_v1sa_out_clear(s);
	keel_v1sa_req_done(s);
	struct v1_p1 *p1 = s->p1;
	memcpy(p1->cky_i, c.data[1], 8);
	memcpy(p1->cky_r, c.data[1] + 8, 8);
	p1->prf = prf;
	p1->xf = s->p1x[0];
	p1->keys.skeyid_a = keel_secret_new_from(c.key[K_A], (ptrdiff_t)c.key_len[K_A]);
	p1->keys.skeyid_d = keel_secret_new_from(c.key[K_D], (ptrdiff_t)c.key_len[K_D]);
	p1->keys.encr_key = keel_secret_new_from(c.key[K_KA], (ptrdiff_t)c.key_len[K_KA]);
	CHECK(keel_v1_p1_ciphers(p1) == 0);
	p1->keyed = true;
	memcpy(p1->iv, p1_last, 16);
	memcpy(p1->p1_last, p1_last, 16);
	p1->p1_last_set = true;
	p1->peer_dpd = true;
	keel_dh_free(p1->dh);
	p1->dh = NULL;
	s->natt = true; /* the lab forces UDP encapsulation */
	s->nat_remote = true;
	s->started = true;
	s->state = KEEL_STATE_AUTHENTICATING;

	int tr = 0; /* which transaction message */
	if (sc->xauth) {
		p1->step = P1_XAUTH;
		/* REQUEST -> REPLY with user and password; SET -> ACK */
		answer_matches(s, &c, (size_t)find(&c, KEEL_V1_EXCH_TRANSACTION, false, 0),
		               (size_t)find(&c, KEEL_V1_EXCH_TRANSACTION, true, 0), "XAUTH REPLY");
		answer_matches(s, &c, (size_t)find(&c, KEEL_V1_EXCH_TRANSACTION, false, 1),
		               (size_t)find(&c, KEEL_V1_EXCH_TRANSACTION, true, 1), "XAUTH ACK");
		CHECK(p1->xauth_done);
		CHECK_INT(p1->step, P1_MODECFG);
		tr = 2;
	} else {
		p1->step = P1_MODECFG;
		CHECK(keel_v1_modecfg_start(s, p1) == 0);
	}
	/* Mode Config: the gateway's REPLY to the recorded REQUEST */
	CHECK(s->req_active && s->req.kind == V1_REQ_MODECFG);
	int rq = find(&c, KEEL_V1_EXCH_TRANSACTION, true, tr);
	int rp = find(&c, KEEL_V1_EXCH_TRANSACTION, false, tr);
	CHECK(rq >= 0 && rp >= 0);
	s->req.msg_id = mid_of(c.data[rq]);
	struct v1_xchg *x = keel_v1_xchg(s, p1, s->req.msg_id, KEEL_V1_EXCH_TRANSACTION, true);
	memcpy(x->iv, c.data[rq] + c.len[rq] - 16, 16);
	keel_v1sa_out_clear(s);
	CHECK_INT(feed(s, &c, (size_t)rp, 3000000000ull), 0);
	static const uint8_t vip[4] = {100, 64, 0, 1}, dns[4] = {198, 51, 100, 53};
	CHECK(s->have_ip4);
	CHECK_MEM(s->ip4.addr.bytes, 4, vip, 4);
	CHECK_INT(s->n_dns, 1);
	CHECK_MEM(s->dns[0].bytes, 4, dns, 4);

	/* Quick Mode: the recorded message 1 as ours, the gateway's message 2 answered */
	CHECK(s->req_active && s->req.kind == V1_REQ_QUICK);
	int q1 = find(&c, KEEL_V1_EXCH_QUICK, true, 0), q2 = find(&c, KEEL_V1_EXCH_QUICK, false, 0);
	int q3 = find(&c, KEEL_V1_EXCH_QUICK, true, 1);
	CHECK(q1 >= 0 && q2 >= 0 && q3 >= 0);
	uint32_t qmid = mid_of(c.data[q1]);
	uint8_t qiv[16];
	CHECK(keel_ikev1_iv_phase2(prf, p1_last, 16, qmid, qiv) == 0);
	static uint8_t qp[4096];
	static struct keel_v1_msg qm;
	decrypt(&c, (size_t)q1, qiv, qp, &qm);
	const struct keel_v1_payload *qni = keel_v1_msg_next(&qm, KEEL_V1_PL_NONCE, NULL);
	const struct keel_v1_payload *qsa = keel_v1_msg_next(&qm, KEEL_V1_PL_SA, NULL);
	CHECK(qni && qni->len == sizeof(s->qm.nonce) && qsa);
	/* our ESP SA payload is the recorded one */
	w = keel_wr_init(buf, sizeof(buf));
	keel_v1_enc_init(&e, &w, NULL);
	keel_v1_enc_esp_sa(s, &e, c.spi_i, 0);
	CHECK(keel_v1_enc_finish(&e) > 0);
	CHECK_MEM(buf + e.last_body_at, e.last_body_len, qsa->body, qsa->len);
	memcpy(s->qm.nonce, qni->body, sizeof(s->qm.nonce));
	s->qm.spi_in = c.spi_i;
	s->qm.msg_id = qmid;
	s->req.msg_id = qmid;
	x = keel_v1_xchg(s, p1, qmid, KEEL_V1_EXCH_QUICK, true);
	memcpy(x->iv, c.data[q1] + c.len[q1] - 16, 16);
	keel_v1sa_out_clear(s);
	CHECK_INT(feed(s, &c, (size_t)q2, 4000000000ull), 0);
	/* message 3 (HASH(3)) as recorded, then the CHILD SA with charon's keys */
	struct keel_out o;
	bool installed = false, netcfg = false, sent3 = false;
	while (keel_v1sa_pop(s, &o)) {
		if (o.kind == KEEL_OUT_DGRAM && !sent3) {
			static uint8_t p3[256], r3[256];
			static struct keel_v1_msg m3o, m3r;
			uint8_t iv3[16];
			memcpy(iv3, c.data[q2] + c.len[q2] - 16, 16);
			struct keel_cipher *dec = NULL;
			size_t l3 = (size_t)o.u.dgram.len - 28;
			CHECK(l3 <= sizeof(p3));
			CHECK(keel_cipher_new(KEEL_ENCR_AES_CBC, (unsigned)c.key_len[K_KA] * 8,
			                      KEEL_CIPHER_DECRYPT, c.key[K_KA], c.key_len[K_KA],
			                      &dec) == 0);
			CHECK(keel_cipher_decrypt(dec, iv3, o.u.dgram.data + 28, l3, p3) == 0);
			keel_cipher_free(dec);
			CHECK(keel_v1_chain_decode(o.u.dgram.data[16], p3, l3, true, &m3o) == 0);
			memcpy(iv3, c.data[q2] + c.len[q2] - 16, 16);
			decrypt(&c, (size_t)q3, iv3, r3, &m3r);
			CHECK_MEM(p3, m3o.chain_len, r3, m3r.chain_len);
			sent3 = true;
		} else if (o.kind == KEEL_OUT_CHILD_INSTALL) {
			const struct keel_out_child_install *ci = &o.u.child_install;
			installed = true;
			CHECK_INT(ci->spi_in, c.spi_i);
			CHECK_INT(ci->spi_out, c.spi_r);
			/* charon's "initiator" keys protect initiator-to-responder: ours out */
			CHECK_MEM(ci->encr_key_out, (size_t)ci->encr_key_len, c.key[K_ENC_I],
			          c.key_len[K_ENC_I]);
			CHECK_MEM(ci->encr_key_in, (size_t)ci->encr_key_len, c.key[K_ENC_R],
			          c.key_len[K_ENC_R]);
			if (c.key[K_INT_I]) {
				CHECK_MEM(ci->integ_key_out, (size_t)ci->integ_key_len,
				          c.key[K_INT_I], c.key_len[K_INT_I]);
				CHECK_MEM(ci->integ_key_in, (size_t)ci->integ_key_len,
				          c.key[K_INT_R], c.key_len[K_INT_R]);
			} else {
				CHECK_INT(ci->integ_key_len, 0);
			}
			CHECK(ci->encap);
		} else if (o.kind == KEEL_OUT_NETCFG) {
			netcfg = true;
			CHECK(o.u.netcfg.has_ip4);
			CHECK_MEM(o.u.netcfg.ip4.addr.bytes, 4, vip, 4);
			CHECK_INT(o.u.netcfg.n_routes, 1);
			static const uint8_t net[4] = {198, 51, 100, 0};
			if (o.u.netcfg.n_routes == 1) {
				CHECK_MEM(o.u.netcfg.routes[0].addr.bytes, 4, net, 4);
				CHECK_INT(o.u.netcfg.routes[0].prefix_len, 24);
			}
		} else if (o.kind == KEEL_OUT_LOG && getenv("KEEL_TEST_VERBOSE")) {
			fprintf(stderr, "  %s\n", o.u.log.text);
		}
	}
	CHECK(sent3 && installed && netcfg);
	CHECK_INT(keel_v1sa_state(s), KEEL_STATE_ESTABLISHED);

	/* DELETEs: the payloads charon's initiator sent */
	CHECK(keel_v1sa_stop(s, 5000000000ull) == 0);
	int d1 = find(&c, KEEL_V1_EXCH_INFO, true, 0), d2 = find(&c, KEEL_V1_EXCH_INFO, true, 1);
	CHECK(d1 >= 0 && d2 >= 0);
	const struct keel_v1_payload *want[2];
	static uint8_t dp[2][256];
	static struct keel_v1_msg dm[2];
	for (int i = 0; i < 2; i++) {
		int idx = i ? d2 : d1;
		uint8_t div[16];
		CHECK(keel_ikev1_iv_phase2(prf, p1_last, 16, mid_of(c.data[idx]), div) == 0);
		decrypt(&c, (size_t)idx, div, dp[i], &dm[i]);
		want[i] = keel_v1_msg_next(&dm[i], KEEL_V1_PL_DELETE, NULL);
	}
	int got = 0;
	while (keel_v1sa_pop(s, &o)) {
		if (o.kind != KEEL_OUT_DGRAM)
			continue;
		static uint8_t gp[256];
		static struct keel_v1_msg gm;
		uint8_t div[16];
		CHECK(keel_ikev1_iv_phase2(prf, p1_last, 16, mid_of(o.u.dgram.data), div) == 0);
		struct keel_cipher *dec = NULL;
		size_t l = (size_t)o.u.dgram.len - 28;
		CHECK(keel_cipher_new(KEEL_ENCR_AES_CBC, (unsigned)c.key_len[K_KA] * 8,
		                      KEEL_CIPHER_DECRYPT, c.key[K_KA], c.key_len[K_KA],
		                      &dec) == 0);
		CHECK(l <= sizeof(gp) &&
		      keel_cipher_decrypt(dec, div, o.u.dgram.data + 28, l, gp) == 0);
		keel_cipher_free(dec);
		CHECK(keel_v1_chain_decode(o.u.dgram.data[16], gp, l, true, &gm) == 0);
		const struct keel_v1_payload *d = keel_v1_msg_next(&gm, KEEL_V1_PL_DELETE, NULL);
		CHECK(d && got < 2);
		if (d && got < 2 && want[got])
			CHECK_MEM(d->raw, d->raw_len, want[got]->raw, want[got]->raw_len);
		got++;
	}
	CHECK_INT(got, 2);
	CHECK_INT(keel_v1sa_state(s), KEEL_STATE_CLOSED);

	keel_secret_free(skeyid);
	keel_ikev1_keys_clear(&k);
out:
	keel_v1sa_free(sa);
	for (int i = 0; i < 3; i++)
		keel_secret_free(secrets[i]);
	unload(&c);
}

int main(void)
{
	static const struct scenario scenarios[] = {
	    {"strongswan/ikev1-aggr-psk-xauth.txt", KEEL_V1_AGGRESSIVE, true,
	     "@#6b65656c2d67726f7570", "aes256-sha256-modp2048", "aes256-sha256"},
	    {"strongswan/ikev1-aggr-psk.txt", KEEL_V1_AGGRESSIVE, false, "alice@keel.test",
	     "aes128-sha1-modp2048", "aes128-sha1"},
	    {"strongswan/ikev1-main-psk.txt", KEEL_V1_MAIN, false, "alice@keel.test",
	     "aes256-sha256-ecp256", "aes128gcm16"},
	};
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		one(&scenarios[i]);
	return check_done();
}
