/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: the IKEv1 engine (core/ikev1) once phase 1 keys are known.
 *
 * Each input picks a stage of a connection, made afresh with fixed keys:
 *   0  waiting for the gateway's XAUTH request
 *   1  our Mode Config REQUEST out
 *   2  our first quick mode out
 *   3  established, with a CHILD SA (DPD, DELETE, the gateway's rekeys)
 *   4  Main Mode message 5 out, waiting for message 6
 *   5  Aggressive Mode message 1 out, waiting for message 2 (in clear)
 * with a pre-shared key, or (the first byte's 6..11 and 12..17) with RSA
 * signatures and XAUTH, or hybrid authentication: our key and certificate
 * and the trust anchor are the lab PKI's (alice, ca), and in stage 4 a
 * SIG_R made with the gateway's key (gw-rsa) over the HASH_R of the input's
 * ID payload is appended when the message ID byte has its top bit set, so
 * that the certificate checks and what follows them are reached;
 * and how the rest is delivered:
 *   chain     the bytes are a decrypted payload chain, sent behind a HASH
 *             payload that verifies (HASH(1), or HASH(2) for a quick mode
 *             answer), encrypted with the IV the engine expects, so the
 *             payload handlers after the integrity check are reached;
 *   raw       the bytes are a datagram, given our cookies so that it reaches
 *             the SA's dispatch.
 * Then time passes and the connection is stopped. The checks are the
 * sanitizers'.
 *
 * Input: stage and authentication (1 byte), mode and exchange (1 byte),
 * message ID choice (1 byte), first payload type (1 byte), then the chain or
 * datagram.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/config.h>
#include <keel/ike.h>
#include <keel/secret.h>

#include "fuzz-common.h"
#include "crypto/cipher.h"
#include "crypto/kdf.h"
#include "crypto/sig.h"
#include "ikev1/sa.h"
#include "wire/isakmp.h"

#ifndef KEEL_FUZZ_PKI
#define KEEL_FUZZ_PKI "tests/vectors/strongswan/pki"
#endif

/* The lab PKI's alice (our key and certificate), its root CA, and the gateway's key. */
static struct {
	uint8_t *data;
	size_t len;
} pki[3];
static struct keel_privkey *gw_key;

static void pki_load(void)
{
	static const char *const names[4] = {"alice.pem", "alice.key", "ca.pem", "gw-rsa.key"};
	static uint8_t buf[4][8192];
	size_t n[4];
	for (size_t i = 0; i < 4; i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", KEEL_FUZZ_PKI, names[i]);
		FILE *f = fopen(path, "rb");
		n[i] = f ? fread(buf[i], 1, sizeof(buf[i]), f) : 0;
		if (f)
			fclose(f);
		if (n[i] == 0)
			abort();
	}
	for (size_t i = 0; i < 3; i++) {
		pki[i].data = buf[i];
		pki[i].len = n[i];
	}
	if (keel_privkey_load(buf[3], (ptrdiff_t)n[3], NULL, &gw_key, NULL) < 0)
		abort();
}

static uint64_t seed;

static int rng(void *ctx, uint8_t *buf, size_t len)
{
	uint64_t *s = ctx;
	for (size_t i = 0; i < len; i++) {
		*s = *s * 6364136223846793005ull + 1442695040888963407ull;
		buf[i] = (uint8_t)(*s >> 33);
	}
	return 0;
}

static struct keel_env env = {.random = rng, .random_ctx = &seed};

static const uint8_t key_a[32] = {0xa1, 0xa2, 0xa3};
static const uint8_t key_d[32] = {0xd1, 0xd2, 0xd3};
static const uint8_t key_e[32] = {0xe1, 0xe2, 0xe3};
static const uint8_t cky_i[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t cky_r[8] = {9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t last[16] = {0x55, 0x66};

static void drain(struct keel_v1sa *sa)
{
	struct keel_out o;
	while (keel_v1sa_pop(sa, &o))
		fuzz_sink((uint64_t)o.kind);
}

static struct keel_v1sa *make(unsigned stage, unsigned auth)
{
	struct keel_config cfg;
	struct keel_v1_options v1;
	struct keel_v1sa *sa = NULL;
	struct keel_secret *psk = keel_secret_new_from((const uint8_t *)"fuzz", 4);
	struct keel_secret *user = keel_secret_new_from((const uint8_t *)"user", 4);
	struct keel_secret *pass = keel_secret_new_from((const uint8_t *)"pass", 4);
	struct keel_secret *key = NULL;

	keel_config_init(&cfg);
	cfg.ike_version = 1;
	cfg.local.family = cfg.remote.family = KEEL_AF_INET;
	cfg.local.bytes[0] = 192;
	cfg.remote.bytes[0] = 198;
	cfg.psk = psk;
	cfg.log_level = KEEL_LOG_DEBUG;
	keel_id_from_text(auth ? "gw.keel.test" : "gw.example", &cfg.remote_id);
	if (auth) {
		if (!gw_key)
			pki_load();
		cfg.auth = auth == 1 ? KEEL_AUTH_CERT : KEEL_AUTH_PSK;
		cfg.ikev1_hybrid = auth == 2;
		cfg.cert = pki[0].data;
		cfg.cert_len = (ptrdiff_t)pki[0].len;
		key = keel_secret_new_from(pki[1].data, (ptrdiff_t)pki[1].len);
		cfg.key = key;
		cfg.ca = pki[2].data;
		cfg.ca_len = (ptrdiff_t)pki[2].len;
		cfg.now_wall_s = 1795478400; /* 2026-11-24: the lab PKI is valid */
	}
	keel_v1_options_init(&v1);
	v1.mode = stage == 4 ? KEEL_V1_MAIN : KEEL_V1_AGGRESSIVE;
	v1.xauth = true;
	v1.xauth_user = user;
	v1.xauth_password = pass;
	v1.pfs_group = stage == 3 ? 19 : 0;
	seed = 7;
	if (keel_v1sa_new(&cfg, &v1, &env, &sa) < 0)
		goto out;
	if (keel_v1sa_start(sa, 1000000000ull) < 0 || !sa->p1) {
		keel_v1sa_free(sa);
		sa = NULL;
		goto out;
	}
	drain(sa);
	if (stage == 5)
		goto out;
	struct v1_p1 *p1 = sa->p1;
	memcpy(p1->cky_i, cky_i, 8);
	memcpy(p1->cky_r, cky_r, 8);
	p1->prf = KEEL_PRF_HMAC_SHA2_256;
	p1->xf = sa->p1x[0];
	p1->keys.skeyid = keel_secret_new_from(key_a, 32);
	p1->keys.skeyid_a = keel_secret_new_from(key_a, 32);
	p1->keys.skeyid_d = keel_secret_new_from(key_d, 32);
	p1->keys.encr_key = keel_secret_new_from(key_e, p1->xf.key_bits / 8);
	if (keel_v1_p1_ciphers(p1) < 0)
		goto out;
	p1->keyed = true;
	memcpy(p1->iv, last, 16);
	memcpy(p1->p1_last, last, 16);
	p1->p1_last_set = true;
	p1->peer_dpd = p1->peer_unity = true;
	p1->natd_type = KEEL_V1_PL_NAT_D;
	sa->natt = true;
	if (stage == 4) {
		/* Main Mode, message 5 out: the inputs of HASH_R */
		static const uint8_t g[64] = {1}, sai[8] = {0, 0, 0, 1, 0, 0, 0, 1};
		keel_v1_dup(&p1->g_xi, &p1->g_xi_len, g, sizeof(g));
		keel_v1_dup(&p1->g_xr, &p1->g_xr_len, g, sizeof(g));
		keel_v1_dup(&p1->sai_b, &p1->sai_b_len, sai, sizeof(sai));
		p1->step = P1_MM5;
		sa->req.p1 = p1;
		goto out;
	}
	keel_v1sa_req_done(sa);
	p1->step = P1_XAUTH;
	p1->xauth_done = stage > 0;
	if (stage == 0)
		goto out;
	p1->step = P1_MODECFG;
	if (keel_v1_modecfg_start(sa, p1) < 0 || stage == 1)
		goto out;
	keel_v1sa_req_done(sa);
	sa->have_ip4 = true;
	sa->ip4.addr.family = KEEL_AF_INET;
	sa->ip4.addr.bytes[0] = 100;
	sa->ip4.prefix_len = 32;
	p1->modecfg_done = true;
	keel_v1sa_p1_ready(sa, p1); /* our first quick mode goes out */
	if (stage == 2)
		goto out;
	/* established: the quick mode done by hand, one CHILD SA */
	keel_v1sa_req_done(sa);
	keel_v1_qm_clear(&sa->qm);
	struct v1_child *c = &sa->child[0];
	memset(c, 0, sizeof(*c));
	c->state = V1_CHILD_ACTIVE;
	c->id = sa->next_child_id++;
	c->reqid = 1;
	c->spi_in = 0x11111111;
	c->spi_out = 0x22222222;
	c->alg = (struct v1_algs){.encr = 12, .encr_key_bits = 256, .integ = 12};
	c->id_l.family = c->id_r.family = KEEL_AF_INET;
	c->id_l.start[0] = c->id_l.end[0] = 100;
	c->id_r.port_end = c->id_l.port_end = 65535;
	memset(c->id_r.end, 0xff, 4);
	c->n_ts_r = 1;
	c->ts_r[0] = c->id_r;
	sa->tunnel[0].child_id = c->id;
	sa->established = true;
	sa->state = KEEL_STATE_ESTABLISHED;
out:
	drain(sa);
	keel_secret_free(psk);
	keel_secret_free(user);
	keel_secret_free(pass);
	keel_secret_free(key);
	return sa;
}

/*
 * chain with a SIG payload appended: the gateway's signature of the HASH_R
 * the engine computes for the chain's first ID payload (RFC 2409 §5.1).
 * Returns the new length, or 0 when the chain has no ID payload.
 */
static size_t add_sig_r(struct keel_v1sa *sa, uint8_t first, const uint8_t *chain, size_t len,
                        uint8_t *out, size_t cap)
{
	static struct keel_v1_msg m;
	struct v1_p1 *p1 = sa->p1;
	uint8_t hash[64], sig[512];
	if (keel_v1_chain_decode(first, chain, len, false, &m) < 0 || m.n_payloads == 0)
		return 0;
	const struct keel_v1_payload *id = keel_v1_msg_next(&m, KEEL_V1_PL_ID, NULL);
	if (!id)
		return 0;
	struct keel_ikev1_auth_params ap = keel_v1_auth_params(p1);
	ptrdiff_t n = keel_ikev1_hash_r(&ap, id->body, (ptrdiff_t)id->len, hash, sizeof(hash));
	ptrdiff_t sl = n > 0 ? keel_sig_v1_sign(gw_key, hash, n, sig, sizeof(sig)) : -1;
	size_t used = m.chain_len;
	if (sl <= 0 || used + 4 + (size_t)sl > cap)
		return 0;
	memcpy(out, chain, used);
	/* the last payload now points at the SIG payload */
	size_t last_at = (size_t)(m.pl[m.n_payloads - 1].raw - chain);
	out[last_at] = KEEL_V1_PL_SIG;
	out[used] = 0;
	out[used + 1] = 0;
	out[used + 2] = (uint8_t)((4 + sl) >> 8);
	out[used + 3] = (uint8_t)(4 + sl);
	memcpy(out + used + 4, sig, (size_t)sl);
	return used + 4 + (size_t)sl;
}

static const uint8_t exchanges[4] = {KEEL_V1_EXCH_INFO, KEEL_V1_EXCH_TRANSACTION,
                                     KEEL_V1_EXCH_QUICK, KEEL_V1_EXCH_MAIN};

/* A message carrying chain behind a HASH that verifies, encrypted as the engine expects. */
static size_t wrap(struct keel_v1sa *sa, uint8_t exch, uint32_t mid, uint8_t first,
                   const uint8_t *chain, size_t chain_len, uint8_t *out, size_t cap)
{
	struct v1_p1 *p1 = sa->p1;
	struct keel_wr w = keel_wr_init(out, cap);
	uint8_t iv[16];
	bool quick2 = exch == KEEL_V1_EXCH_QUICK && sa->qm.active && sa->qm.msg_id == mid;
	if (!p1 || !p1->keyed || chain_len > 4096)
		return 0;
	struct keel_v1_hdr h = {.exchange = exch,
	                        .flags = KEEL_V1_FLAG_ENC,
	                        .msg_id = mid,
	                        .next = exch == KEEL_V1_EXCH_MAIN ? first : KEEL_V1_PL_HASH,
	                        .version = KEEL_V1_VERSION};
	memcpy(h.cookie_i, p1->cky_i, 8);
	memcpy(h.cookie_r, p1->cky_r, 8);
	keel_v1_hdr_write(&w, &h);
	size_t hash_at = 0;
	if (exch != KEEL_V1_EXCH_MAIN) {
		keel_wr_u8(&w, first);
		keel_wr_u8(&w, 0);
		keel_wr_u16(&w, 4 + 32);
		hash_at = keel_wr_pos(&w);
		keel_wr_zero(&w, 32);
	}
	size_t body_at = keel_wr_pos(&w);
	keel_wr_bytes(&w, chain, chain_len);
	size_t pad = (16 - (keel_wr_pos(&w) - 28) % 16) % 16;
	keel_wr_zero(&w, pad);
	ptrdiff_t n = keel_wr_finish(&w);
	if (n < 0)
		return 0;
	keel_wr_patch32(&w, 24, (uint32_t)n);
	if (hash_at) {
		if (quick2)
			keel_ikev1_hash2(p1->prf, p1->keys.skeyid_a, mid, sa->qm.nonce,
			                 sizeof(sa->qm.nonce), out + body_at, (ptrdiff_t)chain_len,
			                 out + hash_at, 32);
		else
			keel_ikev1_hash1(p1->prf, p1->keys.skeyid_a, mid, out + body_at,
			                 (ptrdiff_t)chain_len, out + hash_at, 32);
	}
	struct v1_xchg *x = mid ? keel_v1_xchg(sa, p1, mid, 0, false) : NULL;
	if (mid == 0)
		memcpy(iv, p1->iv, 16);
	else if (x)
		memcpy(iv, x->iv, 16);
	else if (keel_ikev1_iv_phase2(p1->prf, p1->p1_last, 16, mid, iv) < 0)
		return 0;
	if (keel_cipher_encrypt(p1->enc, iv, out + 28, (size_t)n - 28, out + 28) < 0)
		return 0;
	return (size_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[8192], signed_chain[8192];
	if (size < 4)
		return 0;
	unsigned stage = data[0] % 6;
	unsigned auth = data[0] / 6 % 3; /* PSK, RSA signatures + XAUTH, hybrid */
	bool raw = data[1] & 0x80;
	uint8_t exch = exchanges[data[1] & 3];
	uint8_t first = data[3];
	struct keel_v1sa *sa = make(stage, auth);
	if (!sa)
		return 0;
	uint64_t now = 2000000000ull;
	struct keel_dgram dg = {.local = sa->cfg.local, .remote = sa->cfg.remote};
	size_t len = 0;

	if (raw) {
		len = size - 4 < sizeof(msg) ? size - 4 : sizeof(msg);
		memcpy(msg, data + 4, len);
		if (len >= 28 && sa->p1) {
			memcpy(msg, sa->p1->cky_i, 8);
			if (data[2] & 1)
				memcpy(msg + 8, sa->p1->cky_r, 8);
		}
	} else {
		/* the message ID of what is under way, or one from the input */
		uint32_t mid = 0;
		if (exch == KEEL_V1_EXCH_MAIN)
			mid = 0;
		else if ((data[2] & 3) == 0 && sa->req_active)
			mid = sa->req.msg_id;
		else if ((data[2] & 3) == 1 && sa->qm.active)
			mid = sa->qm.msg_id;
		else
			mid = (uint32_t)data[2] << 24 | 0x00abcd00u | (data[2] & 0xf0u);
		if (mid == 0 && exch != KEEL_V1_EXCH_MAIN)
			mid = 0x01020304;
		const uint8_t *chain = data + 4;
		size_t chain_len = size - 4;
		if (auth && stage == 4 && exch == KEEL_V1_EXCH_MAIN && (data[2] & 0x80)) {
			chain_len = add_sig_r(sa, first, chain, chain_len, signed_chain,
			                      sizeof(signed_chain));
			chain = signed_chain;
		}
		len =
		    chain_len ? wrap(sa, exch, mid, first, chain, chain_len, msg, sizeof(msg)) : 0;
	}
	if (len) {
		dg.data = msg;
		dg.len = (ptrdiff_t)len;
		fuzz_sink((uint64_t)keel_v1sa_recv(sa, &dg, now));
		drain(sa);
		/* the same again: a retransmission or a replay */
		fuzz_sink((uint64_t)keel_v1sa_recv(sa, &dg, now + 1));
		drain(sa);
	}
	fuzz_sink(keel_v1sa_deadline(sa));
	keel_v1sa_tick(sa, now + 60000000000ull);
	drain(sa);
	keel_v1sa_rekey(sa, KEEL_REKEY_CHILD, 0, now + 60000000001ull);
	drain(sa);
	keel_v1sa_stop(sa, now + 60000000002ull);
	drain(sa);
	keel_v1sa_free(sa);
	return 0;
}
