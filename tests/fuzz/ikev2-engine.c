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
 *
 * For 1-3 the next byte is the first inner payload type; the test gateway
 * (tests/unit/ikev2-gw.h) encrypts the rest with the real keys, so the
 * fuzzer reaches the parsing behind the ICV check. Datagrams in 0 and 4 are
 * a 2-byte big-endian length followed by that many bytes, repeated.
 * Everything is seeded: a run is reproducible.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <keel/config.h>
#include <keel/ike.h>
#include <keel/secret.h>

#include "../unit/ikev2-gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	struct rng rng;
	struct keel_env env;
	struct keel_sa *sa;
	struct gw gw;
	uint64_t now;
	uint8_t ans[8][8192];
	size_t ans_len[8];
};

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	static uint8_t msg[65536];
	static const char psk[] = "keel-fuzz-psk";
	if (size < 1)
		return 0;
	uint8_t mode = data[0] % 5;
	data++;
	size--;

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
	if (keel_sa_new(&cfg, &f.env, &f.sa) < 0)
		goto out;
	keel_sa_start(f.sa, f.now);

	if (mode == 0) {
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
	gw_free(&f.gw);
	return 0;
}
