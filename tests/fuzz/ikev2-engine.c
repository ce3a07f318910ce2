/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: the IKEv2 engine at the stages where a gateway's bytes reach
 * it. The first input byte picks the stage, the rest is what arrives:
 *
 *   0  raw datagrams while IKE_SA_INIT is outstanding
 *   1  the inner payload chain of a correctly encrypted IKE_AUTH answer
 *   2  the inner chain of an encrypted INFORMATIONAL request (established)
 *   3  the inner chain of an encrypted CREATE_CHILD_SA request (established)
 *   4  raw datagrams once established
 *   5  one IKE_AUTH answer of a real exchange, changed (below)
 *
 * For 1-3 the next byte is the first inner payload type; the test gateway
 * (tests/unit/ikev2-gw.h) encrypts the rest with the real keys, so the
 * fuzzer reaches the parsing behind the ICV check. Datagrams in 0 and 4 are
 * a 2-byte big-endian length followed by that many bytes, repeated.
 *
 * Mode 5 reaches certificates, EAP and fragment reassembly. Byte 1 picks
 * the authentication (% 6: PSK, certificates both ways, EAP-MSCHAPv2,
 * EAP-MD5, EAP-GTC after the gateway's certificate, EAP-only with
 * MS-CHAPv2; the lab PKI of tests/vectors/strongswan/pki) and, with
 * (byte 1 / 6) & 1, RFC 7383 fragmentation announced on both sides.
 * Byte 2 picks which IKE_AUTH answer of the gateway is changed (% 6 + 1;
 * the earlier ones pass unchanged), byte 3 how (% 3), the rest says what:
 *   0  replaced: the first inner payload type, then the inner chain
 *   1  XORed: a 2-byte offset into the real inner chain, then the bytes
 *      XORed into it from there
 *   2  sent as SKF fragments: 6-byte records, Fragment Number (1 byte),
 *      Total Fragments (1), and where the slice of the real inner chain each
 *      fragment carries starts (2) and ends (2), in 65535ths of its length
 * The gateway goes on answering whatever the engine sends after that.
 * Everything is seeded: a run is reproducible.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include <openssl/pem.h>

#include <keel/config.h>
#include <keel/ike.h>
#include <keel/secret.h>

#include "../unit/ikev2-gw.h"

#ifndef KEEL_FUZZ_PKI
#define KEEL_FUZZ_PKI "tests/vectors/strongswan/pki"
#endif
#define NOW_WALL 1811808000 /* 2027-06-01T00:00:00Z: inside the lab PKI's validity */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	struct rng rng;
	struct keel_env env;
	struct keel_sa *sa;
	struct gw gw;
	uint64_t now;
	uint8_t ans[8][8192];
	size_t ans_len[8];
	/* mode 5: the IKE_AUTH answer held back, its inner chain in the clear */
	unsigned auth_answers;
	unsigned hold_at;
	bool held;
	uint8_t held_msg[8192];
	size_t held_len;
	uint8_t plain[8192];
	size_t plain_len;
	uint8_t first;
};

/* The lab PKI, read once. */
struct pem {
	uint8_t data[8192];
	size_t len;
};

static bool pem_read(const char *name, struct pem *p)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", KEEL_FUZZ_PKI, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	p->len = fread(p->data, 1, sizeof(p->data), f);
	fclose(f);
	return p->len > 0 && p->len < sizeof(p->data);
}

static struct {
	bool tried, ok;
	struct pem ca, alice, alice_key, gw, gw_key;
} pki;

static bool pki_load(void)
{
	if (!pki.tried) {
		pki.tried = true;
		pki.ok = pem_read("ca.pem", &pki.ca) && pem_read("alice.pem", &pki.alice) &&
		         pem_read("alice.key", &pki.alice_key) && pem_read("gw-rsa.pem", &pki.gw) &&
		         pem_read("gw-rsa.key", &pki.gw_key);
		if (!pki.ok)
			fprintf(stderr, "fuzz-ikev2-engine: cannot read the PKI in %s\n",
			        KEEL_FUZZ_PKI);
	}
	return pki.ok;
}

static int feed(struct fz *f, const uint8_t *msg, size_t len)
{
	struct keel_dgram d;
	memset(&d, 0, sizeof(d));
	keel_addr_parse("192.0.2.2", 9, &d.local);
	keel_addr_parse("192.0.2.1", 9, &d.remote);
	d.local.port = d.remote.port = 500;
	d.data = msg;
	d.len = (ptrdiff_t)len;
	return keel_sa_recv(f->sa, &d, f->now);
}

/* Drains the engine; with talk, the gateway answers and the answers go back. */
static void pump(struct fz *f, bool talk)
{
	for (int round = 0; round < 20; round++) {
		size_t n = 0;
		struct keel_out o;
		while (keel_sa_pop(f->sa, &o)) {
			if (o.kind != KEEL_OUT_DGRAM || !talk || n >= 8)
				continue;
			f->ans_len[n] = gw_input(&f->gw, o.u.dgram.data, (size_t)o.u.dgram.len,
			                         f->ans[n], sizeof(f->ans[n]));
			if (f->ans_len[n] > KEEL_V2_HDR_LEN &&
			    f->ans[n][18] == KEEL_V2_EXCHANGE_IKE_AUTH && f->hold_at && !f->held &&
			    ++f->auth_answers == f->hold_at) {
				memcpy(f->held_msg, f->ans[n], f->ans_len[n]);
				f->held_len = f->ans_len[n];
				f->held = true;
				continue;
			}
			if (f->ans_len[n])
				n++;
		}
		if (n == 0)
			return;
		for (size_t i = 0; i < n; i++)
			feed(f, f->ans[i], f->ans_len[i]);
	}
}

/* A message on ike whose SK payload holds inner (first type first) under the real keys. */
static size_t wrap(struct fz *f, struct gw_ike *ike, uint8_t exchange, bool response,
                   uint32_t msg_id, uint8_t first, const uint8_t *inner, size_t inner_len,
                   uint8_t *out, size_t cap)
{
	struct keel_sk *sk = &ike->sk;
	size_t block = sk->block_len ? sk->block_len : 1;
	size_t pad = (block - (inner_len + 1) % block) % block;
	size_t plain_len = inner_len + pad + 1;
	size_t sk_len = 4 + sk->iv_len + plain_len + sk->icv_len;
	size_t total = 28 + sk_len;
	if (total > cap || sk_len > 0xffff)
		return 0;
	struct keel_wr w = keel_wr_init(out, cap);
	keel_wr_u64(&w, ike->spi_i);
	keel_wr_u64(&w, ike->spi_r);
	keel_wr_u8(&w, KEEL_V2_PAYLOAD_SK);
	keel_wr_u8(&w, 0x20);
	keel_wr_u8(&w, exchange);
	keel_wr_u8(&w, (uint8_t)((ike->gw_initiator ? KEEL_V2_FLAG_INITIATOR : 0) |
	                         (response ? KEEL_V2_FLAG_RESPONSE : 0)));
	keel_wr_u32(&w, msg_id);
	keel_wr_u32(&w, (uint32_t)total);
	keel_wr_u8(&w, first);
	keel_wr_u8(&w, 0);
	keel_wr_u16(&w, (uint16_t)sk_len);
	keel_wr_zero(&w, sk->iv_len);
	keel_wr_bytes(&w, inner, inner_len);
	keel_wr_zero(&w, pad);
	keel_wr_u8(&w, (uint8_t)pad);
	keel_wr_zero(&w, sk->icv_len);
	if (keel_wr_finish(&w) < 0)
		return 0;
	struct keel_v2_sk_layout lay = {
	    .msg_off = 0,
	    .msg_len = total,
	    .aad_len = 28 + 4,
	    .iv_off = 28 + 4,
	    .iv_len = sk->iv_len,
	    .plain_off = 28 + 4 + sk->iv_len,
	    .plain_len = plain_len,
	    .icv_off = total - sk->icv_len,
	    .icv_len = sk->icv_len,
	};
	if (keel_sk_protect(sk, &f->gw.env, out, &lay) < 0)
		return 0;
	return total;
}

static void feed_datagrams(struct fz *f, const uint8_t *p, size_t n)
{
	while (n >= 2) {
		size_t len = (size_t)p[0] << 8 | p[1];
		p += 2;
		n -= 2;
		if (len > n)
			len = n;
		feed(f, p, len);
		pump(f, false);
		p += len;
		n -= len;
	}
}

/* One SKF fragment (RFC 7383 §2.5) of a message with header h, under the real keys. */
static size_t wrap_frag(struct fz *f, struct gw_ike *ike, const struct keel_v2_hdr *h, uint16_t num,
                        uint16_t total, uint8_t first, const uint8_t *inner, size_t inner_len,
                        uint8_t *out, size_t cap)
{
	struct keel_sk *sk = &ike->sk;
	struct keel_wr w = keel_wr_init(out, cap);
	struct keel_v2_chain_wr cw;
	struct keel_v2_sk_wr skw;
	struct keel_v2_sk_layout lay;
	keel_v2_msg_wr_begin(&cw, &w, h);
	keel_v2_skf_begin(&cw, &skw, sk->iv_len, num, total, first);
	keel_wr_bytes(&w, inner, inner_len);
	if (keel_v2_sk_end(&skw, sk->block_len, sk->icv_len, &lay) < 0)
		return 0;
	ptrdiff_t n = keel_v2_chain_finish(&cw);
	if (n < 0 || keel_sk_protect(sk, &f->gw.env, out, &lay) < 0)
		return 0;
	return (size_t)n;
}

/* The held IKE_AUTH answer's inner chain in the clear, opened as the engine would. */
static bool open_held(struct fz *f, struct gw_ike *ike)
{
	struct keel_sk sk;
	uint8_t *plain;
	size_t plain_len;
	bool ok = false;
	memcpy(f->plain, f->held_msg, f->held_len);
	if (f->held_len <= KEEL_V2_HDR_LEN + 4 || f->plain[16] != KEEL_V2_PAYLOAD_SK ||
	    keel_sk_init(&sk, ike->sk.encr, ike->sk.key_bits, ike->sk.integ, &ike->keys, true) < 0)
		return false;
	f->first = f->plain[KEEL_V2_HDR_LEN];
	if (keel_sk_open(&sk, f->plain, f->held_len, KEEL_V2_HDR_LEN, &plain, &plain_len) == 0) {
		memmove(f->plain, plain, plain_len);
		f->plain_len = plain_len;
		ok = true;
	}
	keel_sk_clear(&sk);
	return ok;
}

/* Mode 5 after the held answer: op (see the top) with what follows it. */
static void change_held(struct fz *f, uint8_t op, const uint8_t *p, size_t n, uint8_t *msg,
                        size_t cap)
{
	struct gw_ike *ike = &f->gw.ike[f->gw.cur];
	struct keel_v2_hdr h;
	if (!open_held(f, ike) || keel_v2_hdr_decode(f->held_msg, f->held_len, &h) < 0)
		return;
	uint32_t msg_id = get32(f->held_msg + 20);
	size_t len;
	switch (op % 3) {
	case 0:
		if (n < 1)
			return;
		len = wrap(f, ike, KEEL_V2_EXCHANGE_IKE_AUTH, true, msg_id, p[0], p + 1, n - 1, msg,
		           cap);
		feed(f, msg, len);
		break;
	case 1:
		if (n < 2)
			return;
		for (size_t i = 0, off = (size_t)p[0] << 8 | p[1];
		     i + 2 < n && off + i < f->plain_len; i++)
			f->plain[off + i] ^= p[2 + i];
		len = wrap(f, ike, KEEL_V2_EXCHANGE_IKE_AUTH, true, msg_id, f->first, f->plain,
		           f->plain_len, msg, cap);
		feed(f, msg, len);
		break;
	case 2:
		for (int i = 0; i < 64 && n >= 6; i++, p += 6, n -= 6) {
			size_t off = ((size_t)p[2] << 8 | p[3]) * f->plain_len / 0xffff,
			       end = ((size_t)p[4] << 8 | p[5]) * f->plain_len / 0xffff;
			len = wrap_frag(f, ike, &h, p[0], p[1], p[0] == 1 ? f->first : 0,
			                f->plain + off, end > off ? end - off : 0, msg, cap);
			feed(f, msg, len);
			pump(f, true);
		}
		break;
	}
	pump(f, true);
}

/* Mode 5's authentication (byte 1, see the top): the engine's config and the gateway's part. */
struct fz_creds {
	struct keel_secret *key, *eap_password;
};

static bool set_auth(struct fz *f, uint8_t b, struct keel_config *cfg, struct fz_creds *cr)
{
	static const char eap_pw[] = "keel-lab-eap-password";
	unsigned auth = b % 6u;
	if ((b / 6u) & 1u) {
		cfg->fragment_size = KEEL_FRAGMENT_SIZE_MIN;
		f->gw.frag = true;
	}
	if (auth == 0)
		return true; /* PSK, as modes 0-4 */
	if (!pki_load() ||
	    !gw_set_cert(&f->gw, pki.gw_key.data, pki.gw_key.len, pki.gw.data, pki.gw.len))
		return false;
	cfg->ca = pki.ca.data;
	cfg->ca_len = (ptrdiff_t)pki.ca.len;
	cfg->now_wall_s = NOW_WALL;
	if (auth == 1) {
		BIO *bio = BIO_new_mem_buf(pki.ca.data, (int)pki.ca.len);
		f->gw.client_ca = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		cr->key = keel_secret_new_from(pki.alice_key.data, (ptrdiff_t)pki.alice_key.len);
		cfg->auth = KEEL_AUTH_CERT;
		cfg->cert = pki.alice.data;
		cfg->cert_len = (ptrdiff_t)pki.alice.len;
		cfg->key = cr->key;
		return cr->key && f->gw.client_ca;
	}
	static const uint8_t methods[] = {KEEL_EAP_TYPE_MSCHAPV2, KEEL_EAP_TYPE_MD5,
	                                  KEEL_EAP_TYPE_GTC, KEEL_EAP_TYPE_MSCHAPV2};
	cr->eap_password = keel_secret_new_from((const uint8_t *)eap_pw, sizeof(eap_pw) - 1);
	cfg->auth = KEEL_AUTH_EAP;
	cfg->eap_identity = "alice";
	cfg->eap_password = cr->eap_password;
	cfg->eap_only = auth == 5;
	f->gw.eap_method = methods[auth - 2];
	f->gw.eap_only_ok = auth == 5;
	snprintf(f->gw.eap_user, sizeof(f->gw.eap_user), "alice");
	snprintf(f->gw.eap_password, sizeof(f->gw.eap_password), "%s", eap_pw);
	return cr->eap_password != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	static uint8_t msg[65536];
	static const char psk[] = "keel-fuzz-psk";
	if (size < 1)
		return 0;
	uint8_t mode = data[0] % 6;
	data++;
	size--;
	struct fz_creds cr = {0};

	memset(&f, 0, sizeof(f));
	f.rng.s = 1;
	f.env.random = rng_fill;
	f.env.random_ctx = &f.rng;
	gw_init(&f.gw, 2, psk);
	struct keel_config cfg;
	keel_config_init(&cfg);
	keel_addr_parse("192.0.2.2", 9, &cfg.local);
	keel_addr_parse("192.0.2.1", 9, &cfg.remote);
	cfg.local.port = cfg.remote.port = 500;
	keel_id_from_text("alice@keel.test", &cfg.local_id);
	keel_id_from_text("gw.keel.test", &cfg.remote_id);
	cfg.log_level = KEEL_LOG_DEBUG;
	struct keel_secret *k = keel_secret_new_from((const uint8_t *)psk, sizeof(psk) - 1);
	cfg.psk = k;
	if (mode == 5) {
		if (size < 3 || !set_auth(&f, data[0], &cfg, &cr))
			goto out;
		if (cfg.auth != KEEL_AUTH_PSK)
			cfg.psk = NULL;
		f.hold_at = data[1] % 6u + 1;
	}
	if (keel_sa_new(&cfg, &f.env, &f.sa) < 0)
		goto out;
	keel_sa_start(f.sa, f.now);

	if (mode == 5) {
		pump(&f, true);
		if (f.held)
			change_held(&f, data[2], data + 3, size - 3, msg, sizeof(msg));
	} else if (mode == 0) {
		pump(&f, false);
		feed_datagrams(&f, data, size);
	} else if (mode == 1) {
		/* IKE_SA_INIT through the gateway; IKE_AUTH's answer is the input */
		struct keel_out o;
		while (keel_sa_pop(f.sa, &o)) {
			if (o.kind != KEEL_OUT_DGRAM)
				continue;
			size_t n = gw_input(&f.gw, o.u.dgram.data, (size_t)o.u.dgram.len, f.ans[0],
			                    sizeof(f.ans[0]));
			feed(&f, f.ans[0], n);
			break;
		}
		pump(&f, false);
		if (size >= 1 && f.gw.ike[0].used) {
			size_t n = wrap(&f, &f.gw.ike[0], KEEL_V2_EXCHANGE_IKE_AUTH, true, 1,
			                data[0], data + 1, size - 1, msg, sizeof(msg));
			feed(&f, msg, n);
			pump(&f, false);
		}
	} else {
		pump(&f, true);
		if (keel_sa_state(f.sa) != KEEL_STATE_ESTABLISHED)
			goto out;
		if (mode == 4) {
			feed_datagrams(&f, data, size);
		} else if (size >= 1) {
			struct gw_ike *ike = &f.gw.ike[f.gw.cur];
			uint8_t exch = mode == 2 ? KEEL_V2_EXCHANGE_INFORMATIONAL
			                         : KEEL_V2_EXCHANGE_CREATE_CHILD_SA;
			size_t n = wrap(&f, ike, exch, false, ike->next_req++, data[0], data + 1,
			                size - 1, msg, sizeof(msg));
			feed(&f, msg, n);
			pump(&f, true);
		}
	}
	/* let time pass: retransmissions, liveness checks, lifetimes */
	for (int i = 0; i < 8; i++) {
		uint64_t d = keel_sa_deadline(f.sa);
		if (d == UINT64_MAX)
			break;
		f.now = d > f.now ? d : f.now;
		keel_sa_tick(f.sa, f.now);
		pump(&f, false);
	}
	keel_sa_stop(f.sa, f.now);
	pump(&f, false);
out:
	keel_sa_free(f.sa);
	keel_secret_free(k);
	keel_secret_free(cr.key);
	keel_secret_free(cr.eap_password);
	gw_free(&f.gw);
	return 0;
}
