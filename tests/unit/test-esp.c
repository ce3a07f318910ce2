/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ESP and ESP in UDP (core/esp/): RFC 4303, RFC 3948.
 *
 * Published packets (draft-mcgrew-gcm-test-01, RFC 3602 §4, RFC 7634
 * Appendix A) are decapsulated and, where the IV can be fixed, built again;
 * every other check decrypts what keel_esp_encap() made with the raw cipher
 * and integrity API of core/crypto/, independently of core/esp/.
 */
#include <stdlib.h>
#include <string.h>

#include <keel/esp.h>

#include "check.h"
#include "crypto/cipher.h"
#include "crypto/prf.h"
#include "esp/esp-internal.h"
#include "esp/replay.h"
#include "tv.h"

#define TEST_SPI 0xc0ffee01u

struct alg {
	const char *name;
	uint16_t encr;
	uint16_t key_bits;
	uint16_t integ;
	size_t iv_len; /* expected sizes, from the RFCs */
	size_t icv_len;
	size_t align; /* the ciphertext's length is a multiple of this */
};

static const struct alg algs[] = {
    {"aes128-cbc-sha1-96", KEEL_ENCR_AES_CBC, 128, KEEL_INTEG_HMAC_SHA1_96, 16, 12, 16},
    {"aes128-cbc-sha256", KEEL_ENCR_AES_CBC, 128, KEEL_INTEG_HMAC_SHA2_256_128, 16, 16, 16},
    {"aes192-cbc-sha384", KEEL_ENCR_AES_CBC, 192, KEEL_INTEG_HMAC_SHA2_384_192, 16, 24, 16},
    {"aes256-cbc-sha256", KEEL_ENCR_AES_CBC, 256, KEEL_INTEG_HMAC_SHA2_256_128, 16, 16, 16},
    {"aes256-cbc-sha512", KEEL_ENCR_AES_CBC, 256, KEEL_INTEG_HMAC_SHA2_512_256, 16, 32, 16},
    {"aes128-ctr-sha256", KEEL_ENCR_AES_CTR, 128, KEEL_INTEG_HMAC_SHA2_256_128, 8, 16, 4},
    {"aes256-ctr-sha1-96", KEEL_ENCR_AES_CTR, 256, KEEL_INTEG_HMAC_SHA1_96, 8, 12, 4},
    {"aes128-gcm8", KEEL_ENCR_AES_GCM_8, 128, KEEL_INTEG_NONE, 8, 8, 4},
    {"aes192-gcm12", KEEL_ENCR_AES_GCM_12, 192, KEEL_INTEG_NONE, 8, 12, 4},
    {"aes128-gcm16", KEEL_ENCR_AES_GCM_16, 128, KEEL_INTEG_NONE, 8, 16, 4},
    {"aes256-gcm16", KEEL_ENCR_AES_GCM_16, 256, KEEL_INTEG_NONE, 8, 16, 4},
    {"chacha20-poly1305", KEEL_ENCR_CHACHA20_POLY1305, 0, KEEL_INTEG_NONE, 8, 16, 4},
};
#define N_ALGS (sizeof(algs) / sizeof(algs[0]))

static const struct alg *alg_named(const char *name)
{
	for (size_t i = 0; i < N_ALGS; i++) {
		if (strcmp(algs[i].name, name) == 0)
			return &algs[i];
	}
	abort();
}

/* ---- helpers ---- */

/* xorshift64*: a seeded generator, so every run makes the same IVs. */
static int test_random(void *ctx, uint8_t *buf, size_t len)
{
	uint64_t *s = ctx;
	for (size_t i = 0; i < len; i++) {
		*s ^= *s >> 12;
		*s ^= *s << 25;
		*s ^= *s >> 27;
		buf[i] = (uint8_t)((*s * 0x2545f4914f6cdd1dULL) >> 56);
	}
	return 0;
}

static int failing_random(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return KEEL_ERR_CRYPTO;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static struct keel_env test_env = {.random = test_random, .random_ctx = &rng_state};

static uint64_t rand64(void)
{
	uint8_t b[8];
	uint64_t v = 0;
	test_random(&rng_state, b, sizeof(b));
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static uint8_t keymat[KEEL_ENCR_KEYMAT_MAX_LEN];
static uint8_t integ_key[KEEL_INTEG_MAX_KEY_LEN];

static void init_keys(void)
{
	for (size_t i = 0; i < sizeof(keymat); i++)
		keymat[i] = (uint8_t)(0x40 + i);
	for (size_t i = 0; i < sizeof(integ_key); i++)
		integ_key[i] = (uint8_t)(0x90 + 3 * i);
}

static struct keel_esp_sa_params params(const struct alg *a, enum keel_esp_dir dir, bool esn)
{
	struct keel_esp_sa_params p = {
	    .dir = dir,
	    .spi = TEST_SPI,
	    .encr = a->encr,
	    .encr_key_bits = a->key_bits,
	    .encr_keymat = keymat,
	    .encr_keymat_len = keel_encr_keymat_len(a->encr, a->key_bits),
	    .integ = a->integ,
	    .integ_key = a->integ ? integ_key : NULL,
	    .integ_key_len = keel_integ_key_len((enum keel_integ_alg)a->integ),
	    .esn = esn,
	    .env = &test_env,
	};
	return p;
}

static struct keel_esp_sa *new_sa(const struct alg *a, enum keel_esp_dir dir, bool esn)
{
	struct keel_esp_sa_params p = params(a, dir, esn);
	struct keel_esp_sa *sa = NULL;
	int rc = keel_esp_sa_new(&p, &sa);
	CHECK_INT(rc, 0);
	if (rc < 0)
		abort();
	return sa;
}

/* An IPv4 or IPv6 packet of len bytes whose length field says len. */
static void make_ip(uint8_t *p, size_t len, int version, uint8_t fill)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(fill + i * 7);
	if (version == 4) {
		p[0] = 0x45;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
	} else {
		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
	}
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint64_t be_n(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* A buffer with room around an inner packet, on the heap for ASan. */
struct pkt {
	uint8_t *buf;
	size_t cap;
	uint8_t *inner;
};

static struct pkt pkt_new(size_t inner_len)
{
	struct pkt p;
	p.cap = KEEL_ESP_HEADROOM + inner_len + KEEL_ESP_TRAILER_MAX_LEN;
	p.buf = calloc(1, p.cap);
	if (!p.buf)
		abort();
	p.inner = p.buf + KEEL_ESP_HEADROOM;
	return p;
}

/* Encapsulates in place the inner packet at p->inner; *esp is where the packet starts. */
static ptrdiff_t encap_in_place(struct keel_esp_sa *sa, struct pkt *p, size_t inner_len,
                                uint8_t **esp)
{
	*esp = p->inner - keel_esp_header_len(sa);
	return keel_esp_encap(sa, p->inner, (ptrdiff_t)inner_len, *esp,
	                      (ptrdiff_t)(p->buf + p->cap - *esp));
}

static enum keel_esp_status decap_copy(struct keel_esp_sa *sa, const uint8_t *pkt, size_t len)
{
	/* exactly len bytes on the heap: ASan catches any read past them */
	uint8_t *copy = malloc(len ? len : 1);
	struct keel_esp_rx rx;
	enum keel_esp_status st;

	if (!copy)
		abort();
	memcpy(copy, pkt, len);
	st = keel_esp_decap(sa, copy, (ptrdiff_t)len, &rx);
	free(copy);
	return st;
}

/* ---- round trips ---- */

static void test_roundtrip(void)
{
	static const size_t lens[] = {20, 21, 22, 23,  24,  25,   26,   27,   28,   29,   30,
	                              31, 32, 33, 34,  40,  41,   45,   46,   47,   48,   49,
	                              63, 64, 65, 100, 576, 1279, 1280, 1400, 1500, 9000, 65535};

	for (size_t ai = 0; ai < N_ALGS; ai++) {
		for (int esn = 0; esn <= 1; esn++) {
			const struct alg *a = &algs[ai];
			struct keel_esp_sa *out = new_sa(a, KEEL_ESP_OUTBOUND, esn);
			struct keel_esp_sa *in = new_sa(a, KEEL_ESP_INBOUND, esn);
			uint64_t seq = 0;

			for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
				for (int version = 4; version <= 6; version += 2) {
					size_t len = lens[li];
					struct pkt p;
					uint8_t *want, *esp;
					struct keel_esp_rx rx;
					ptrdiff_t n;

					if (version == 6 && len < 40)
						continue;
					p = pkt_new(len);
					want = malloc(len);
					make_ip(want, len, version, (uint8_t)(li + ai));
					memcpy(p.inner, want, len);
					n = encap_in_place(out, &p, len, &esp);
					seq++;
					CHECK_INT(n, (ptrdiff_t)len +
					                 keel_esp_overhead(out, (ptrdiff_t)len));
					CHECK(keel_esp_sa_seq(out) == seq);
					CHECK_INT(keel_esp_decap(in, esp, n, &rx), KEEL_ESP_OK);
					CHECK(rx.inner == p.inner); /* decrypted where it was */
					CHECK_MEM(rx.inner, (size_t)rx.inner_len, want, len);
					CHECK_INT(rx.next_header, version == 4 ? 4 : 41);
					CHECK(rx.seq == seq);
					CHECK(keel_esp_sa_seq(in) == seq);
					free(want);
					free(p.buf);
				}
			}
			struct keel_esp_stats so, si;
			keel_esp_sa_stats(out, &so);
			keel_esp_sa_stats(in, &si);
			CHECK(so.packets == seq && si.packets == seq);
			CHECK(so.bytes == si.bytes && si.bytes > 0);
			CHECK(si.bad_icv == 0 && si.replayed == 0 && si.malformed == 0);
			keel_esp_sa_free(out);
			keel_esp_sa_free(in);
		}
	}
}

/*
 * Where the inner packet lies does not change the result: in place, in a
 * separate buffer, or overlapping the header. Two SAs made alike (the same
 * keys, and for CBC the same seeded IV generator) must produce the same bytes.
 */
static void test_copy_modes(void)
{
	for (size_t ai = 0; ai < N_ALGS; ai++) {
		const struct alg *a = &algs[ai];
		struct keel_esp_sa *sa[3];
		uint8_t *res[3];
		ptrdiff_t n[3];
		const size_t len = 77;
		uint8_t inner[77];

		make_ip(inner, len, 4, 0x33);
		for (int m = 0; m < 3; m++) {
			uint64_t saved = rng_state;
			struct pkt p = pkt_new(len);
			uint8_t *esp = p.inner - (a->iv_len + 8);

			sa[m] = new_sa(a, KEEL_ESP_OUTBOUND, false);
			rng_state = saved; /* the next SA gets the same IV generator */
			switch (m) {
			case 0: /* in place */
				memcpy(p.inner, inner, len);
				n[m] = keel_esp_encap(sa[m], p.inner, (ptrdiff_t)len, esp,
				                      (ptrdiff_t)(p.buf + p.cap - esp));
				break;
			case 1: /* from a separate buffer */
				n[m] = keel_esp_encap(sa[m], inner, (ptrdiff_t)len, esp,
				                      (ptrdiff_t)(p.buf + p.cap - esp));
				break;
			default: /* overlapping the header: moved forward first */
				memcpy(esp, inner, len);
				n[m] = keel_esp_encap(sa[m], esp, (ptrdiff_t)len, esp,
				                      (ptrdiff_t)(p.buf + p.cap - esp));
				break;
			}
			res[m] = malloc(p.cap);
			memcpy(res[m], esp, n[m] > 0 ? (size_t)n[m] : 0);
			free(p.buf);
		}
		CHECK(n[0] > 0);
		CHECK_MEM(res[1], (size_t)n[1], res[0], (size_t)n[0]);
		CHECK_MEM(res[2], (size_t)n[2], res[0], (size_t)n[0]);
		for (int m = 0; m < 3; m++) {
			keel_esp_sa_free(sa[m]);
			free(res[m]);
		}
	}
}

/* ---- layout, checked with the raw crypto API ---- */

/*
 * Opens pkt (n bytes, sent with the full sequence number seq) with core/crypto
 * directly, as an ESP receiver would, AAD / ICV input built here by hand.
 * aad_esn chooses the AAD form. Writes the decrypted payload to plain and
 * returns its length, or a negative error.
 */
static ptrdiff_t raw_open(const struct alg *a, const uint8_t *pkt, size_t n, uint64_t seq, bool esn,
                          uint8_t *plain)
{
	size_t hdr = 8 + a->iv_len, ct_len;
	ptrdiff_t rc;

	if (n < hdr + a->icv_len)
		return KEEL_ERR_MALFORMED;
	ct_len = n - hdr - a->icv_len;
	if (a->integ == KEEL_INTEG_NONE) {
		struct keel_aead *aead = NULL;
		uint8_t aad[12];
		size_t aad_len = 0;

		put32(aad, be32(pkt));
		aad_len = 4;
		if (esn) {
			put32(aad + aad_len, (uint32_t)(seq >> 32));
			aad_len += 4;
		}
		put32(aad + aad_len, (uint32_t)seq);
		aad_len += 4;
		rc = keel_aead_new(a->encr, a->key_bits, KEEL_CIPHER_DECRYPT, keymat,
		                   (size_t)keel_encr_keymat_len(a->encr, a->key_bits), &aead);
		if (rc == 0)
			rc = keel_aead_open(aead, pkt + 8, aad, aad_len, pkt + hdr, ct_len, plain,
			                    pkt + hdr + ct_len);
		keel_aead_free(aead);
	} else {
		struct keel_integ *ig = NULL;
		struct keel_cipher *c = NULL;
		uint8_t seq_hi[4];
		struct keel_iov in[2] = {{pkt, (ptrdiff_t)(hdr + ct_len)}, {seq_hi, 4}};

		put32(seq_hi, (uint32_t)(seq >> 32));
		rc = keel_integ_new((enum keel_integ_alg)a->integ, integ_key,
		                    keel_integ_key_len((enum keel_integ_alg)a->integ), &ig);
		if (rc == 0)
			rc = keel_integ_verify(ig, in, esn ? 2 : 1, pkt + hdr + ct_len,
			                       (ptrdiff_t)a->icv_len);
		if (rc == 0)
			rc =
			    keel_cipher_new(a->encr, a->key_bits, KEEL_CIPHER_DECRYPT, keymat,
			                    (size_t)keel_encr_keymat_len(a->encr, a->key_bits), &c);
		if (rc == 0)
			rc = keel_cipher_decrypt(c, pkt + 8, pkt + hdr, ct_len, plain);
		keel_cipher_free(c);
		keel_integ_free(ig);
	}
	return rc < 0 ? rc : (ptrdiff_t)ct_len;
}

static void test_layout(void)
{
	static const size_t lens[] = {20, 21, 22, 33, 46, 64, 100, 1400};

	for (size_t ai = 0; ai < N_ALGS; ai++) {
		for (int esn = 0; esn <= 1; esn++) {
			const struct alg *a = &algs[ai];
			struct keel_esp_sa *out = new_sa(a, KEEL_ESP_OUTBOUND, esn);
			/* with ESN, a high half that is not 0 */
			uint64_t seq = esn ? 0x100000003ULL : 0x1233;
			uint8_t prev_iv[16] = {0};

			CHECK_INT(keel_esp_header_len(out), (ptrdiff_t)(8 + a->iv_len));
			keel_esp_sa_set_seq(out, seq);
			for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
				size_t len = lens[li], hdr = 8 + a->iv_len;
				size_t ct_len = (len + 2 + a->align - 1) / a->align * a->align;
				size_t pad = ct_len - len - 2;
				struct pkt p = pkt_new(len);
				uint8_t *want = malloc(len), *plain = malloc(ct_len + 16), *esp;
				ptrdiff_t n;

				seq++;
				make_ip(want, len, li % 2 ? 6 : 4, (uint8_t)li);
				if (li % 2 && len < 40)
					make_ip(want, len, 4, (uint8_t)li);
				memcpy(p.inner, want, len);
				n = encap_in_place(out, &p, len, &esp);
				/* RFC 4303 §2: SPI | seq | IV | ciphertext | ICV, minimal padding
				 */
				CHECK_INT(n, (ptrdiff_t)(hdr + ct_len + a->icv_len));
				CHECK_INT((hdr + ct_len) % 4, 0);
				CHECK_INT(be32(esp), TEST_SPI);
				CHECK_INT(be32(esp + 4), (uint32_t)seq);
				if (a->encr == KEEL_ENCR_AES_CBC) {
					/* random IVs: not the last one, not all zero */
					static const uint8_t zero[16];
					CHECK(memcmp(esp + 8, prev_iv, 16) != 0);
					CHECK(memcmp(esp + 8, zero, 16) != 0);
					memcpy(prev_iv, esp + 8, 16);
				} else {
					/* the 64-bit sequence number as IV */
					CHECK(be_n(esp + 8, 8) == seq);
				}
				CHECK_INT(raw_open(a, esp, (size_t)n, seq, esn, plain),
				          (ptrdiff_t)ct_len);
				CHECK_MEM(plain, len, want, len);
				for (size_t i = 0; i < pad; i++)
					CHECK_INT(plain[len + i], i + 1);
				CHECK_INT(plain[ct_len - 2], pad);
				CHECK_INT(plain[ct_len - 1], (want[0] >> 4) == 4 ? 4 : 41);
				/* the other AAD / ICV form must not verify: ESN is material */
				CHECK(raw_open(a, esp, (size_t)n, seq, !esn, plain) ==
				      KEEL_ERR_AUTH);
				free(want);
				free(plain);
				free(p.buf);
			}
			keel_esp_sa_free(out);
		}
	}
}

/* ---- published packets ---- */

static void test_vector_file(const char *path, uint16_t encr, uint16_t integ)
{
	struct tv_file *f = tv_open(path);
	int cases = 0;

	while (tv_next(f)) {
		size_t key_len, salt_len = 0, spi_len, seq_len, iv_len, pt_len, pkt_len;
		uint8_t *key = tv_hex(f, "Key", &key_len);
		uint8_t *salt = tv_str(f, "Salt") ? tv_hex(f, "Salt", &salt_len) : NULL;
		uint8_t *spi = tv_hex(f, "SPI", &spi_len);
		uint8_t *seqb = tv_hex(f, "Seq", &seq_len);
		uint8_t *iv = tv_hex(f, "IV", &iv_len);
		uint8_t *pt = tv_hex(f, "Plaintext", &pt_len);
		uint8_t *vpkt = tv_hex(f, "Packet", &pkt_len);
		uint16_t bits = (uint16_t)atoi(tv_str(f, "KeyBits"));
		bool esn = seq_len == 8;
		uint64_t seq = be_n(seqb, seq_len);
		uint8_t km[KEEL_ENCR_KEYMAT_MAX_LEN];
		struct keel_esp_sa_params p = {
		    .spi = be32(spi),
		    .encr = encr,
		    .encr_key_bits = encr == KEEL_ENCR_CHACHA20_POLY1305 ? 0 : bits,
		    .encr_keymat = km,
		    .encr_keymat_len = (ptrdiff_t)(key_len + salt_len),
		    .integ = integ,
		    .integ_key = integ_key,
		    .integ_key_len = keel_integ_key_len((enum keel_integ_alg)integ),
		    .esn = esn,
		    .env = &test_env,
		};
		struct keel_esp_sa *in = NULL, *out = NULL;
		size_t icv_len = (size_t)keel_integ_icv_len((enum keel_integ_alg)integ);
		size_t hdr = 8 + iv_len, full_len = pkt_len + icv_len;
		uint8_t *pkt = malloc(full_len), *copy = malloc(full_len);
		uint8_t nh = pt[pt_len - 1];
		size_t inner_len = pt_len - 2 - pt[pt_len - 2];
		struct keel_esp_rx rx = {0};
		enum keel_esp_status st;

		cases++;
		memcpy(km, key, key_len);
		if (salt_len)
			memcpy(km + key_len, salt, salt_len);
		memcpy(pkt, vpkt, pkt_len);
		if (icv_len) {
			/* RFC 3602's packets have no ICV: append one with our key */
			struct keel_integ *ig = NULL;
			uint8_t seq_hi[4];
			struct keel_iov iov[2] = {{vpkt, (ptrdiff_t)pkt_len}, {seq_hi, 4}};

			put32(seq_hi, (uint32_t)(seq >> 32));
			CHECK_INT(keel_integ_new((enum keel_integ_alg)integ, integ_key,
			                         keel_integ_key_len((enum keel_integ_alg)integ),
			                         &ig),
			          0);
			CHECK_INT(keel_integ_compute(ig, iov, esn ? 2 : 1, pkt + pkt_len,
			                             (ptrdiff_t)icv_len),
			          (ptrdiff_t)icv_len);
			keel_integ_free(ig);
		}

		p.dir = KEEL_ESP_INBOUND;
		CHECK_INT(keel_esp_sa_new(&p, &in), 0);
		if (!in) {
			fprintf(stderr, "%s line %d: no SA\n", tv_name(f), tv_line(f));
			abort();
		}
		/* the window just below the packet, so that ESN infers seq_hi */
		keel_esp_sa_set_seq(in, seq - 1);
		memcpy(copy, pkt, full_len);
		st = keel_esp_decap(in, copy, (ptrdiff_t)full_len, &rx);
		if (nh == KEEL_ESP_NEXT_IPV4 || nh == KEEL_ESP_NEXT_IPV6) {
			CHECK_INT(st, KEEL_ESP_OK);
			CHECK_MEM(rx.inner, (size_t)rx.inner_len, pt, inner_len);
			CHECK(rx.seq == seq);
		} else {
			/* authentic and decrypted in place, then refused in tunnel mode */
			CHECK_INT(st, KEEL_ESP_BAD_NEXT_HEADER);
			CHECK_MEM(copy + hdr, pt_len, pt, pt_len);
		}
		if (st != KEEL_ESP_OK && st != KEEL_ESP_BAD_NEXT_HEADER)
			fprintf(stderr, "%s line %d: %s\n", tv_name(f), tv_line(f),
			        keel_esp_status_name(st));
		CHECK(keel_esp_sa_seq(in) == seq);
		/* authentic, so the window moved: a second copy is a replay */
		CHECK_INT(decap_copy(in, pkt, full_len), KEEL_ESP_REPLAYED);
		/* one bit of the ICV flipped, the window put back */
		keel_esp_sa_set_seq(in, seq - 1);
		memcpy(copy, pkt, full_len);
		copy[full_len - 1] ^= 0x01;
		CHECK_INT(keel_esp_decap(in, copy, (ptrdiff_t)full_len, &rx), KEEL_ESP_BAD_ICV);
		keel_esp_sa_free(in);

		/* the same packet built again, with the vector's IV */
		if (nh == KEEL_ESP_NEXT_IPV4 || nh == KEEL_ESP_NEXT_IPV6) {
			uint8_t *buf = calloc(1, full_len + 64);
			ptrdiff_t n;

			p.dir = KEEL_ESP_OUTBOUND;
			CHECK_INT(keel_esp_sa_new(&p, &out), 0);
			keel_esp_sa_set_seq(out, seq - 1);
			n = keel_esp_encap_iv(out, iv, pt, (ptrdiff_t)inner_len, buf,
			                      (ptrdiff_t)full_len + 64);
			CHECK_INT(n, (ptrdiff_t)full_len);
			CHECK_MEM(buf, full_len, pkt, full_len);
			keel_esp_sa_free(out);
			free(buf);
		}
		free(key);
		free(salt);
		free(spi);
		free(seqb);
		free(iv);
		free(pt);
		free(vpkt);
		free(pkt);
		free(copy);
	}
	CHECK(cases > 0);
	tv_close(f);
}

static void test_vectors(void)
{
	test_vector_file("draft-mcgrew-gcm-test/esp-aes-gcm.txt", KEEL_ENCR_AES_GCM_16,
	                 KEEL_INTEG_NONE);
	test_vector_file("rfc7634/esp-chacha20-poly1305.txt", KEEL_ENCR_CHACHA20_POLY1305,
	                 KEEL_INTEG_NONE);
	test_vector_file("rfc3602/esp-aes-cbc.txt", KEEL_ENCR_AES_CBC,
	                 KEEL_INTEG_HMAC_SHA2_256_128);
}

/* ---- the replay window on its own ---- */

static enum keel_esp_status rcheck(struct keel_replay *r, uint64_t seq, bool accept)
{
	uint64_t got = 0;
	enum keel_esp_status st = keel_replay_check(r, (uint32_t)seq, &got);
	if (st == KEEL_ESP_OK) {
		CHECK(got == seq);
		if (accept)
			keel_replay_accept(r, got);
	}
	return st;
}

static void test_replay_basic(void)
{
	struct keel_replay r;

	keel_replay_init(&r, 128, false);
	CHECK_INT(rcheck(&r, 0, false), KEEL_ESP_TOO_OLD); /* numbering starts at 1 */
	for (uint64_t s = 1; s <= 300; s++)
		CHECK_INT(rcheck(&r, s, true), KEEL_ESP_OK);
	for (uint64_t s = 173; s <= 300; s++)
		CHECK_INT(rcheck(&r, s, false), KEEL_ESP_REPLAYED);
	CHECK_INT(rcheck(&r, 172, false), KEEL_ESP_TOO_OLD);
	CHECK_INT(rcheck(&r, 1, false), KEEL_ESP_TOO_OLD);
	CHECK_INT(rcheck(&r, 0, false), KEEL_ESP_TOO_OLD);

	/* out of order within the window; the edges */
	keel_replay_init(&r, 128, false);
	CHECK_INT(rcheck(&r, 1000, true), KEEL_ESP_OK);
	CHECK_INT(rcheck(&r, 872, false), KEEL_ESP_TOO_OLD);
	CHECK_INT(rcheck(&r, 873, true), KEEL_ESP_OK); /* T - W + 1 */
	CHECK_INT(rcheck(&r, 873, false), KEEL_ESP_REPLAYED);
	for (uint64_t s = 999; s > 873; s -= 3)
		CHECK_INT(rcheck(&r, s, true), KEEL_ESP_OK);
	for (uint64_t s = 999; s > 873; s--)
		CHECK_INT(rcheck(&r, s, false), (999 - s) % 3 ? KEEL_ESP_OK : KEEL_ESP_REPLAYED);
	CHECK_INT(rcheck(&r, 1000, false), KEEL_ESP_REPLAYED);
	CHECK_INT(rcheck(&r, 1001, true), KEEL_ESP_OK); /* slides by one: 873 falls out */
	CHECK_INT(rcheck(&r, 873, false), KEEL_ESP_TOO_OLD);
	CHECK_INT(rcheck(&r, 874, false), KEEL_ESP_OK);

	/* a large jump empties the window; an old bit never reappears */
	keel_replay_init(&r, 128, false);
	for (uint64_t s = 1; s <= 5000; s++)
		CHECK_INT(rcheck(&r, s, true), KEEL_ESP_OK);
	CHECK_INT(rcheck(&r, 5070, true), KEEL_ESP_OK);
	for (uint64_t s = 5001; s < 5070; s++)
		CHECK_INT(rcheck(&r, s, false), KEEL_ESP_OK);
	for (uint64_t s = 4943; s <= 5000; s++)
		CHECK_INT(rcheck(&r, s, false), KEEL_ESP_REPLAYED);
	CHECK_INT(rcheck(&r, 4942, false), KEEL_ESP_TOO_OLD);
	CHECK_INT(rcheck(&r, 1000000, true), KEEL_ESP_OK);
	for (uint64_t s = 1000000 - 127; s < 1000000; s++)
		CHECK_INT(rcheck(&r, s, false), KEEL_ESP_OK);
	CHECK_INT(rcheck(&r, 1000000 - 128, false), KEEL_ESP_TOO_OLD);
	CHECK_INT(rcheck(&r, 5070, false), KEEL_ESP_TOO_OLD);
	/* jumps of exactly the ring's size, and one less, in 64-bit words */
	for (uint64_t jump = r.n_words * 64 - 1; jump <= r.n_words * 64 + 1; jump++) {
		uint64_t top = r.top;
		CHECK_INT(rcheck(&r, top + jump, true), KEEL_ESP_OK);
		for (uint64_t s = top + jump - 127; s < top + jump; s++)
			CHECK_INT(rcheck(&r, s, false), s == top ? KEEL_ESP_REPLAYED : KEEL_ESP_OK);
	}

	/* 32-bit sequence numbers end at 2^32 - 1 */
	keel_replay_init(&r, 64, false);
	keel_replay_reset(&r, 0xfffffff0);
	CHECK_INT(rcheck(&r, 0xffffffff, true), KEEL_ESP_OK);
	CHECK_INT(rcheck(&r, 0xffffffff, false), KEEL_ESP_REPLAYED);
	CHECK_INT(rcheck(&r, 0xffffffc0, false), KEEL_ESP_OK);
	CHECK_INT(rcheck(&r, 0xffffffbf, false), KEEL_ESP_TOO_OLD);
	CHECK_INT(rcheck(&r, 0, false), KEEL_ESP_TOO_OLD);
}

/*
 * The window against a plain model (a set of seen numbers and the top), for
 * random traffic around the top: small reorders, duplicates, old packets and
 * jumps. With ESN a packet left of the window may be placed in the next 2^32
 * subspace (RFC 4303 A2.2); the ICV then fails, which the model cannot know,
 * so then only "not accepted as itself" is required.
 */
static void test_replay_model(uint32_t window, bool esn, uint64_t start)
{
	enum { SPAN = 1 << 24 };
	const uint64_t base = start - 2 * KEEL_ESP_REPLAY_WINDOW_MAX;
	uint8_t *seen = calloc(SPAN / 8, 1);
	struct keel_replay r;
	uint64_t top = start;

	keel_replay_init(&r, window, esn);
	keel_replay_reset(&r, start);
	for (int i = 0; i < 60000 && top - base < SPAN - 300000; i++) {
		uint64_t roll = rand64(), s, got = 0;
		enum keel_esp_status want, st;
		int64_t delta = (int64_t)(roll % (window + 300)) - (int64_t)window - 60;

		if (roll % 997 == 0)
			delta = (int64_t)(roll % 100000);
		s = (uint64_t)((int64_t)top + delta);
		if (s <= base) /* far left: nothing to model */
			continue;
		if (s > top)
			want = KEEL_ESP_OK;
		else if (top - s >= window)
			want = KEEL_ESP_TOO_OLD;
		else if ((seen[(s - base) / 8] >> ((s - base) % 8)) & 1)
			want = KEEL_ESP_REPLAYED;
		else
			want = KEEL_ESP_OK;
		st = keel_replay_check(&r, (uint32_t)s, &got);
		if (esn && want == KEEL_ESP_TOO_OLD && st == KEEL_ESP_OK) {
			CHECK(got != s && got > r.top);
			continue;
		}
		CHECK_INT(st, want);
		if (st != KEEL_ESP_OK)
			continue;
		CHECK(got == s);
		if (roll % 5 == 0)
			continue; /* as if the ICV had failed: the window must not move */
		keel_replay_accept(&r, s);
		seen[(s - base) / 8] |= (uint8_t)(1u << ((s - base) % 8));
		if (s > top)
			top = s;
		CHECK(r.top == top);
	}
	free(seen);
}

static void test_replay_esn(void)
{
	struct keel_replay r;

	/* a fresh SA: 0xffffffff would be below 0, 0 is never valid, 1 is */
	keel_replay_init(&r, 128, true);
	CHECK_INT(rcheck(&r, 0xffffffff, false), KEEL_ESP_TOO_OLD);
	CHECK_INT(rcheck(&r, 0, false), KEEL_ESP_TOO_OLD);
	CHECK_INT(rcheck(&r, 1, true), KEEL_ESP_OK);

	/* forward across 2^32: seq_lo 5 after 0xfffffff6 is 2^32 + 5 */
	keel_replay_reset(&r, 0xfffffff6);
	uint64_t got = 0;
	CHECK_INT(keel_replay_check(&r, 5, &got), KEEL_ESP_OK);
	CHECK(got == 0x100000005ULL);
	keel_replay_accept(&r, got);
	CHECK_INT(keel_replay_check(&r, 0, &got), KEEL_ESP_OK); /* 2^32 itself */
	CHECK(got == 0x100000000ULL);
	/* backward across it: a late 0xfffffff0 belongs to the subspace before */
	CHECK_INT(keel_replay_check(&r, 0xfffffff0, &got), KEEL_ESP_OK);
	CHECK(got == 0xfffffff0ULL);
	keel_replay_accept(&r, got);
	CHECK_INT(keel_replay_check(&r, 0xfffffff0, &got), KEEL_ESP_REPLAYED);
	CHECK(r.top == 0x100000005ULL);
	/* the window's left edge, 2^32 + 5 - 127, straddles the boundary */
	CHECK_INT(keel_replay_check(&r, 0xffffff86, &got), KEEL_ESP_OK);
	CHECK(got == 0xffffff86ULL);
	/* just left of the window: placed in the next subspace (A2.2), as new */
	CHECK_INT(keel_replay_check(&r, 0xffffff85, &got), KEEL_ESP_OK);
	CHECK(got == 0x1ffffff85ULL);

	/* case A: the window within one subspace */
	keel_replay_reset(&r, 0x700001000ULL);
	CHECK_INT(keel_replay_check(&r, 0x1000 - 127, &got), KEEL_ESP_OK);
	CHECK(got == 0x700001000ULL - 127);
	CHECK_INT(keel_replay_check(&r, 0x1000 - 128, &got), KEEL_ESP_OK);
	CHECK(got == 0x800001000ULL - 128);
	CHECK_INT(keel_replay_check(&r, 0xffffffff, &got), KEEL_ESP_OK);
	CHECK(got == 0x7ffffffffULL);

	/* the last subspace: nothing lies beyond 2^64 - 1 */
	keel_replay_reset(&r, 0xffffffff00001000ULL);
	CHECK_INT(keel_replay_check(&r, 5, &got), KEEL_ESP_TOO_OLD);
	CHECK_INT(keel_replay_check(&r, 0xffffffff, &got), KEEL_ESP_OK);
	CHECK(got == UINT64_MAX);
	keel_replay_accept(&r, got);
	CHECK_INT(keel_replay_check(&r, 0xffffffff, &got), KEEL_ESP_REPLAYED);
}

static void test_replay(void)
{
	static const uint32_t windows[] = {64, 65, 100, 128, 1000, 1024, 4096};

	test_replay_basic();
	test_replay_esn();
	for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		test_replay_model(windows[i], false, 2 * KEEL_ESP_REPLAY_WINDOW_MAX);
		test_replay_model(windows[i], true, 2 * KEEL_ESP_REPLAY_WINDOW_MAX);
		/* across 2^32 */
		test_replay_model(windows[i], true, 0xffffffffULL - 20000);
	}
}

/* ---- the replay window through an SA ---- */

struct sent {
	uint8_t data[200];
	ptrdiff_t len;
};

static void send_n(struct keel_esp_sa *out, struct sent *s, int n)
{
	for (int i = 0; i < n; i++) {
		uint8_t inner[64];
		make_ip(inner, sizeof(inner), 4, (uint8_t)i);
		s[i].len = keel_esp_encap(out, inner, sizeof(inner), s[i].data, sizeof(s[i].data));
		CHECK(s[i].len > 0);
	}
}

static enum keel_esp_status recv_sent(struct keel_esp_sa *in, const struct sent *s, uint64_t *seq)
{
	uint8_t copy[200];
	struct keel_esp_rx rx;
	enum keel_esp_status st;

	memcpy(copy, s->data, (size_t)s->len);
	st = keel_esp_decap(in, copy, s->len, &rx);
	if (st == KEEL_ESP_OK && seq)
		*seq = rx.seq;
	return st;
}

static void test_sa_replay(void)
{
	const struct alg *a = alg_named("aes128-gcm16");

	for (int esn = 0; esn <= 1; esn++) {
		struct keel_esp_sa *out = new_sa(a, KEEL_ESP_OUTBOUND, esn);
		struct keel_esp_sa *in = new_sa(a, KEEL_ESP_INBOUND, esn);
		struct sent s[300];
		struct keel_esp_stats st;
		uint64_t seq = 0;

		send_n(out, s, 300);
		/* in order, then a duplicate */
		for (int i = 0; i < 10; i++) {
			CHECK_INT(recv_sent(in, &s[i], &seq), KEEL_ESP_OK);
			CHECK(seq == (uint64_t)i + 1);
		}
		CHECK_INT(recv_sent(in, &s[9], NULL), KEEL_ESP_REPLAYED);
		/* reordered within the window */
		CHECK_INT(recv_sent(in, &s[200], NULL), KEEL_ESP_OK);
		for (int i = 199; i >= 73; i--)
			CHECK_INT(recv_sent(in, &s[i], NULL), KEEL_ESP_OK);
		/*
		 * Just left of the window. With ESN, RFC 4303 A2.2 places it in
		 * the next 2^32 subspace, where its ICV cannot verify.
		 */
		CHECK_INT(recv_sent(in, &s[72], NULL), esn ? KEEL_ESP_BAD_ICV : KEEL_ESP_TOO_OLD);
		CHECK_INT(recv_sent(in, &s[100], NULL), KEEL_ESP_REPLAYED);
		/* a forged packet far ahead fails the ICV and must not move the window */
		struct sent forged = s[250];
		forged.data[4] ^= 0x40; /* seq + 2^30 */
		CHECK_INT(recv_sent(in, &forged, NULL), KEEL_ESP_BAD_ICV);
		CHECK(keel_esp_sa_seq(in) == 201);
		CHECK_INT(recv_sent(in, &s[80], NULL), KEEL_ESP_REPLAYED);
		CHECK_INT(recv_sent(in, &s[250], NULL), KEEL_ESP_OK);
		/* a tampered packet does not mark its number: the genuine one passes */
		forged = s[240];
		forged.data[forged.len - 1] ^= 1;
		CHECK_INT(recv_sent(in, &forged, NULL), KEEL_ESP_BAD_ICV);
		CHECK_INT(recv_sent(in, &s[240], NULL), KEEL_ESP_OK);
		keel_esp_sa_stats(in, &st);
		CHECK(st.replayed == 3 && st.too_old == (esn ? 0 : 1));
		CHECK(st.bad_icv == (esn ? 3 : 2));
		CHECK(st.packets == 10 + 1 + 127 + 2);
		keel_esp_sa_free(out);
		keel_esp_sa_free(in);
	}
}

/* ESN through SAs: across 2^32 in both directions, and a wrong seq_hi. */
static void test_sa_esn(void)
{
	for (size_t ai = 0; ai < N_ALGS; ai++) {
		const struct alg *a = &algs[ai];
		struct keel_esp_sa *out = new_sa(a, KEEL_ESP_OUTBOUND, true);
		struct keel_esp_sa *in = new_sa(a, KEEL_ESP_INBOUND, true);
		static const int order[] = {0, 1, 3, 2, 5, 4};
		struct sent s[6];
		uint64_t seq = 0;

		keel_esp_sa_set_seq(out, 0xfffffffdULL); /* sends 2^32 - 2 ... 2^32 + 3 */
		keel_esp_sa_set_seq(in, 0xfffffff0ULL);
		send_n(out, s, 6);
		CHECK_INT(be32(s[2].data + 4), 0); /* 2^32: seq_lo 0 on the wire */
		for (int i = 0; i < 6; i++) {
			CHECK_INT(recv_sent(in, &s[order[i]], &seq), KEEL_ESP_OK);
			CHECK(seq == 0xfffffffeULL + (uint64_t)order[i]);
		}
		CHECK(keel_esp_sa_seq(in) == 0x100000003ULL);
		CHECK_INT(recv_sent(in, &s[1], NULL), KEEL_ESP_REPLAYED);
		CHECK_INT(recv_sent(in, &s[3], NULL), KEEL_ESP_REPLAYED);

		/* the receiver places seq_lo in another 2^32 subspace: the ICV fails */
		keel_esp_sa_set_seq(in, 0x200000000ULL + 100);
		CHECK_INT(recv_sent(in, &s[4], NULL), KEEL_ESP_BAD_ICV);
		keel_esp_sa_set_seq(in, 0x100000000ULL - 1000);
		CHECK_INT(recv_sent(in, &s[4], &seq), KEEL_ESP_OK);
		CHECK(seq == 0x100000002ULL);
		keel_esp_sa_free(out);
		keel_esp_sa_free(in);
	}
}

/* ---- tampering and truncation ---- */

static void test_tamper(void)
{
	for (size_t ai = 0; ai < N_ALGS; ai++) {
		for (int esn = 0; esn <= 1; esn++) {
			const struct alg *a = &algs[ai];
			struct keel_esp_sa *out = new_sa(a, KEEL_ESP_OUTBOUND, esn);
			struct keel_esp_sa *in = new_sa(a, KEEL_ESP_INBOUND, esn);
			struct sent s[1];
			size_t hdr = 8 + a->iv_len,
			       min_len = hdr + a->icv_len + (a->align == 16 ? 16 : 2);
			uint8_t copy[201];

			send_n(out, s, 1);
			size_t n = (size_t)s[0].len;
			/* every byte, one bit each */
			for (size_t i = 0; i < n; i++) {
				for (int bit = 0; bit < 8; bit += 3) {
					enum keel_esp_status st;
					memcpy(copy, s[0].data, n);
					copy[i] ^= (uint8_t)(1u << bit);
					st = decap_copy(in, copy, n);
					if (i < 4)
						CHECK_INT(st, KEEL_ESP_BAD_SPI);
					else if (i == 7 && bit == 0) /* seq 1 became 0 */
						CHECK_INT(st, KEEL_ESP_TOO_OLD);
					else
						CHECK_INT(st, KEEL_ESP_BAD_ICV);
				}
			}
			/* every truncation, and one byte more */
			for (size_t len = 0; len < n; len++) {
				enum keel_esp_status st = decap_copy(in, s[0].data, len);
				if (len < min_len)
					CHECK_INT(st, KEEL_ESP_MALFORMED);
				else
					CHECK(st == KEEL_ESP_BAD_ICV || st == KEEL_ESP_MALFORMED);
			}
			memcpy(copy, s[0].data, n);
			copy[n] = 0;
			CHECK(decap_copy(in, copy, n + 1) != KEEL_ESP_OK);
			/* none of that moved the window or delivered anything */
			struct keel_esp_stats st;
			keel_esp_sa_stats(in, &st);
			CHECK(st.packets == 0 && keel_esp_sa_seq(in) == 0);
			CHECK_INT(decap_copy(in, s[0].data, n), KEEL_ESP_OK);
			keel_esp_sa_free(out);
			keel_esp_sa_free(in);
		}
	}
}

/* ---- hand-made authentic packets: padding, next header, inner length ---- */

/*
 * An authentic ESP packet of SA alg with sequence number seq whose encrypted
 * part is pt (pt_len bytes, whole cipher blocks), made with core/crypto
 * directly. Returns its length.
 */
static size_t forge(const struct alg *a, bool esn, uint64_t seq, const uint8_t *pt, size_t pt_len,
                    uint8_t *pkt)
{
	size_t hdr = 8 + a->iv_len;
	uint8_t *ct = pkt + hdr, *icv = ct + pt_len;
	uint8_t seq_hi[4];

	put32(pkt, TEST_SPI);
	put32(pkt + 4, (uint32_t)seq);
	put32(seq_hi, (uint32_t)(seq >> 32));
	for (size_t i = 0; i < a->iv_len; i++)
		pkt[8 + i] = (uint8_t)(0xa0 + i + seq);
	if (a->integ == KEEL_INTEG_NONE) {
		struct keel_aead *aead = NULL;
		uint8_t aad[12];
		size_t aad_len = esn ? 12 : 8;

		put32(aad, TEST_SPI);
		if (esn)
			memcpy(aad + 4, seq_hi, 4);
		put32(aad + aad_len - 4, (uint32_t)seq);
		CHECK_INT(keel_aead_new(a->encr, a->key_bits, KEEL_CIPHER_ENCRYPT, keymat,
		                        (size_t)keel_encr_keymat_len(a->encr, a->key_bits), &aead),
		          0);
		CHECK_INT(keel_aead_seal(aead, pkt + 8, aad, aad_len, pt, pt_len, ct, icv), 0);
		keel_aead_free(aead);
	} else {
		struct keel_cipher *c = NULL;
		struct keel_integ *ig = NULL;
		struct keel_iov in[2] = {{pkt, (ptrdiff_t)(hdr + pt_len)}, {seq_hi, 4}};

		CHECK_INT(keel_cipher_new(a->encr, a->key_bits, KEEL_CIPHER_ENCRYPT, keymat,
		                          (size_t)keel_encr_keymat_len(a->encr, a->key_bits), &c),
		          0);
		CHECK_INT(keel_cipher_encrypt(c, pkt + 8, pt, pt_len, ct), 0);
		CHECK_INT(keel_integ_new((enum keel_integ_alg)a->integ, integ_key,
		                         keel_integ_key_len((enum keel_integ_alg)a->integ), &ig),
		          0);
		CHECK_INT(keel_integ_compute(ig, in, esn ? 2 : 1, icv, (ptrdiff_t)a->icv_len),
		          (ptrdiff_t)a->icv_len);
		keel_cipher_free(c);
		keel_integ_free(ig);
	}
	return hdr + pt_len + a->icv_len;
}

enum { PAYLOAD_LEN = 30, PT_LEN = 48 }; /* 30 + 16 padding + 2: three AES blocks */

/* payload (an IPv4 packet with Total Length ip_len) | padding 1..16 | 16 | nh */
static void make_pt(uint8_t *pt, uint16_t ip_len, uint8_t nh)
{
	make_ip(pt, PAYLOAD_LEN, 4, 0x77);
	pt[2] = (uint8_t)(ip_len >> 8);
	pt[3] = (uint8_t)ip_len;
	for (int i = 0; i < 16; i++)
		pt[PAYLOAD_LEN + i] = (uint8_t)(i + 1);
	pt[PT_LEN - 2] = 16;
	pt[PT_LEN - 1] = nh;
}

static void test_payload_checks(void)
{
	static const char *names[] = {"aes128-gcm16", "chacha20-poly1305", "aes128-cbc-sha256",
	                              "aes128-ctr-sha256"};

	for (size_t ni = 0; ni < sizeof(names) / sizeof(names[0]); ni++) {
		for (int esn = 0; esn <= 1; esn++) {
			const struct alg *a = alg_named(names[ni]);
			struct keel_esp_sa *in = new_sa(a, KEEL_ESP_INBOUND, esn);
			uint8_t pt[PT_LEN], pkt[200];
			struct keel_esp_rx rx;
			struct keel_esp_stats st;
			uint64_t seq = esn ? 0x300000000ULL : 0;
			size_t n;

			keel_esp_sa_set_seq(in, seq);
			/* non-minimal padding is valid (RFC 4303 §2.4: up to 255 bytes) */
			make_pt(pt, PAYLOAD_LEN, 4);
			n = forge(a, esn, ++seq, pt, PT_LEN, pkt);
			CHECK_INT(keel_esp_decap(in, pkt, (ptrdiff_t)n, &rx), KEEL_ESP_OK);
			CHECK_INT(rx.inner_len, PAYLOAD_LEN);
			CHECK_MEM(rx.inner, PAYLOAD_LEN, pt, PAYLOAD_LEN);

			/* a padding byte out of sequence */
			make_pt(pt, PAYLOAD_LEN, 4);
			pt[PAYLOAD_LEN + 5] = 0;
			n = forge(a, esn, ++seq, pt, PT_LEN, pkt);
			CHECK_INT(decap_copy(in, pkt, n), KEEL_ESP_BAD_PADDING);
			/* authentic all the same: the window moved */
			CHECK_INT(decap_copy(in, pkt, n), KEEL_ESP_REPLAYED);
			make_pt(pt, PAYLOAD_LEN, 4);
			pt[PT_LEN - 3] = 17; /* the last padding byte */
			n = forge(a, esn, ++seq, pt, PT_LEN, pkt);
			CHECK_INT(decap_copy(in, pkt, n), KEEL_ESP_BAD_PADDING);

			/* pad length beyond the payload */
			make_pt(pt, PAYLOAD_LEN, 4);
			pt[PT_LEN - 2] = PT_LEN - 1;
			n = forge(a, esn, ++seq, pt, PT_LEN, pkt);
			CHECK_INT(decap_copy(in, pkt, n), KEEL_ESP_MALFORMED);
			pt[PT_LEN - 2] = 255;
			n = forge(a, esn, ++seq, pt, PT_LEN, pkt);
			CHECK_INT(decap_copy(in, pkt, n), KEEL_ESP_MALFORMED);
			/* all padding, no packet */
			for (int i = 0; i < PT_LEN - 2; i++)
				pt[i] = (uint8_t)(i + 1);
			pt[PT_LEN - 2] = PT_LEN - 2;
			n = forge(a, esn, ++seq, pt, PT_LEN, pkt);
			CHECK_INT(decap_copy(in, pkt, n), KEEL_ESP_MALFORMED);

			/* RFC 4303 §2.6: Next Header 59 is a dummy packet */
			make_pt(pt, PAYLOAD_LEN, 59);
			n = forge(a, esn, ++seq, pt, PT_LEN, pkt);
			CHECK_INT(decap_copy(in, pkt, n), KEEL_ESP_DUMMY);
			/* UDP (17) is transport mode: not ours */
			make_pt(pt, PAYLOAD_LEN, 17);
			n = forge(a, esn, ++seq, pt, PT_LEN, pkt);
			CHECK_INT(decap_copy(in, pkt, n), KEEL_ESP_BAD_NEXT_HEADER);
			/* IPv6 announced, IPv4 inside */
			make_pt(pt, PAYLOAD_LEN, 41);
			n = forge(a, esn, ++seq, pt, PT_LEN, pkt);
			CHECK_INT(decap_copy(in, pkt, n), KEEL_ESP_MALFORMED);

			/* RFC 4303 §2.7: TFC padding after the inner packet is cut off */
			make_pt(pt, 24, 4);
			n = forge(a, esn, ++seq, pt, PT_LEN, pkt);
			CHECK_INT(keel_esp_decap(in, pkt, (ptrdiff_t)n, &rx), KEEL_ESP_OK);
			CHECK_INT(rx.inner_len, 24);
			CHECK(rx.seq == seq);
			/* an inner length beyond the payload, or below a header */
			make_pt(pt, PAYLOAD_LEN + 1, 4);
			n = forge(a, esn, ++seq, pt, PT_LEN, pkt);
			CHECK_INT(decap_copy(in, pkt, n), KEEL_ESP_MALFORMED);
			make_pt(pt, 19, 4);
			n = forge(a, esn, ++seq, pt, PT_LEN, pkt);
			CHECK_INT(decap_copy(in, pkt, n), KEEL_ESP_MALFORMED);

			keel_esp_sa_stats(in, &st);
			CHECK(st.packets == 2 && st.bytes == PAYLOAD_LEN + 24);
			CHECK(st.bad_padding == 2 && st.replayed == 1 && st.dummy == 1);
			CHECK(st.bad_next_header == 1 && st.malformed == 6 && st.bad_icv == 0);
			keel_esp_sa_free(in);
		}
	}
	/* CBC: a ciphertext that is not whole blocks is refused before any crypto */
	{
		const struct alg *a = alg_named("aes256-cbc-sha256");
		struct keel_esp_sa *in = new_sa(a, KEEL_ESP_INBOUND, false);
		uint8_t pkt[200] = {0};
		put32(pkt, TEST_SPI);
		put32(pkt + 4, 1);
		CHECK_INT(decap_copy(in, pkt, 8 + 16 + 17 + 16), KEEL_ESP_MALFORMED);
		CHECK_INT(decap_copy(in, pkt, 8 + 16 + 16 + 16), KEEL_ESP_BAD_ICV);
		keel_esp_sa_free(in);
	}
}

/* ---- sequence number exhaustion ---- */

static void test_exhaustion(void)
{
	for (size_t ai = 0; ai < N_ALGS; ai++) {
		const struct alg *a = &algs[ai];
		uint8_t inner[40], buf[200];
		struct keel_esp_rx rx;
		ptrdiff_t n;

		make_ip(inner, sizeof(inner), 4, 1);
		/* without ESN: the last sequence number is 2^32 - 1 (RFC 4303 §3.3.3) */
		struct keel_esp_sa *out = new_sa(a, KEEL_ESP_OUTBOUND, false);
		struct keel_esp_sa *in = new_sa(a, KEEL_ESP_INBOUND, false);
		CHECK(keel_esp_sa_seq_left(out) == UINT32_MAX);
		keel_esp_sa_set_seq(out, 0xfffffffeULL);
		keel_esp_sa_set_seq(in, 0xfffffff0ULL);
		CHECK(keel_esp_sa_seq_left(out) == 1);
		n = keel_esp_encap(out, inner, sizeof(inner), buf, sizeof(buf));
		CHECK(n > 0);
		CHECK_INT(be32(buf + 4), 0xffffffff);
		CHECK(keel_esp_sa_seq_left(out) == 0);
		CHECK_INT(keel_esp_encap(out, inner, sizeof(inner), buf + 100, 100),
		          KEEL_ERR_STATE);
		CHECK(keel_esp_sa_seq(out) == 0xffffffffULL);
		CHECK_INT(keel_esp_decap(in, buf, n, &rx), KEEL_ESP_OK);
		CHECK(rx.seq == 0xffffffffULL);
		CHECK(keel_esp_sa_seq_left(in) == 0);
		keel_esp_sa_free(out);
		keel_esp_sa_free(in);

		/* with ESN: 2^64 - 1 */
		out = new_sa(a, KEEL_ESP_OUTBOUND, true);
		in = new_sa(a, KEEL_ESP_INBOUND, true);
		CHECK(keel_esp_sa_seq_left(out) == UINT64_MAX);
		keel_esp_sa_set_seq(out, UINT64_MAX - 1);
		keel_esp_sa_set_seq(in, UINT64_MAX - 5);
		n = keel_esp_encap(out, inner, sizeof(inner), buf, sizeof(buf));
		CHECK(n > 0);
		if (a->encr != KEEL_ENCR_AES_CBC)
			CHECK(be_n(buf + 8, 8) == UINT64_MAX);
		CHECK_INT(keel_esp_encap(out, inner, sizeof(inner), buf + 100, 100),
		          KEEL_ERR_STATE);
		CHECK_INT(keel_esp_decap(in, buf, n, &rx), KEEL_ESP_OK);
		CHECK(rx.seq == UINT64_MAX);
		keel_esp_sa_free(out);
		keel_esp_sa_free(in);
	}
}

/* ---- CBC IVs ---- */

static void test_cbc_iv(void)
{
	const struct alg *a = alg_named("aes256-cbc-sha256");
	uint64_t seed1 = 1, seed2 = 2, seed1b = 1;
	struct keel_env env1 = {.random = test_random, .random_ctx = &seed1};
	struct keel_env env2 = {.random = test_random, .random_ctx = &seed2};
	struct keel_env env1b = {.random = test_random, .random_ctx = &seed1b};
	struct keel_esp_sa_params p = params(a, KEEL_ESP_OUTBOUND, false);
	struct keel_esp_sa *s1 = NULL, *s2 = NULL, *s1b = NULL;
	uint8_t inner[40], buf[3][200];
	uint8_t ivs[100][16];

	make_ip(inner, sizeof(inner), 4, 9);
	p.env = &env1;
	CHECK_INT(keel_esp_sa_new(&p, &s1), 0);
	p.env = &env2;
	CHECK_INT(keel_esp_sa_new(&p, &s2), 0);
	p.env = &env1b;
	CHECK_INT(keel_esp_sa_new(&p, &s1b), 0);
	/* 100 packets: more than one batch of the generator; no IV twice */
	for (int i = 0; i < 100; i++) {
		CHECK(keel_esp_encap(s1, inner, sizeof(inner), buf[0], 200) > 0);
		CHECK(keel_esp_encap(s2, inner, sizeof(inner), buf[1], 200) > 0);
		CHECK(keel_esp_encap(s1b, inner, sizeof(inner), buf[2], 200) > 0);
		memcpy(ivs[i], buf[0] + 8, 16);
		for (int j = 0; j < i; j++)
			CHECK(memcmp(ivs[i], ivs[j], 16) != 0);
		/* another seed, other IVs; the same seed, the same (reproducible) */
		CHECK(memcmp(buf[0] + 8, buf[1] + 8, 16) != 0);
		CHECK(memcmp(buf[0] + 8, buf[2] + 8, 16) == 0);
	}
	keel_esp_sa_free(s1);
	keel_esp_sa_free(s2);
	keel_esp_sa_free(s1b);
}

/* ---- API edges ---- */

static void test_api(void)
{
	const struct alg *gcm = alg_named("aes256-gcm16"), *cbc = alg_named("aes128-cbc-sha256");
	struct keel_esp_sa_params p;
	struct keel_esp_sa *sa = (struct keel_esp_sa *)1;
	struct keel_env bad_env = {.random = failing_random};

	p = params(gcm, KEEL_ESP_INBOUND, false);
	CHECK_INT(keel_esp_sa_new(NULL, &sa), KEEL_ERR_INVAL);
	CHECK_INT(keel_esp_sa_new(&p, NULL), KEEL_ERR_INVAL);
	p.spi = 0;
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_INVAL);
	p.spi = 255;
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_INVAL);
	p.spi = 256;
	p.dir = (enum keel_esp_dir)7;
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_INVAL);
	p = params(gcm, KEEL_ESP_INBOUND, false);
	p.encr = 3; /* 3DES */
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_UNSUPPORTED);
	p = params(gcm, KEEL_ESP_INBOUND, false);
	p.encr_key_bits = 100;
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_UNSUPPORTED);
	p = params(gcm, KEEL_ESP_INBOUND, false);
	p.encr_keymat_len--; /* the salt missing */
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_INVAL);
	p = params(gcm, KEEL_ESP_INBOUND, false);
	p.encr_keymat = NULL;
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_INVAL);
	p = params(gcm, KEEL_ESP_INBOUND, false);
	p.integ = KEEL_INTEG_HMAC_SHA2_256_128; /* integrity with an AEAD */
	p.integ_key = integ_key;
	p.integ_key_len = 32;
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_INVAL);
	p = params(cbc, KEEL_ESP_INBOUND, false);
	p.integ = KEEL_INTEG_NONE; /* CBC without integrity */
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_INVAL);
	p = params(cbc, KEEL_ESP_INBOUND, false);
	p.integ = 99;
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_UNSUPPORTED);
	p = params(cbc, KEEL_ESP_INBOUND, false);
	p.integ_key_len = 31;
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_INVAL);
	p = params(gcm, KEEL_ESP_INBOUND, false);
	p.replay_window = 63;
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_INVAL);
	p.replay_window = 4097;
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_INVAL);
	CHECK(sa == (struct keel_esp_sa *)1); /* untouched on failure */
	p.replay_window = 4096;
	CHECK_INT(keel_esp_sa_new(&p, &sa), 0);
	keel_esp_sa_free(sa);
	p = params(cbc, KEEL_ESP_OUTBOUND, false);
	p.env = NULL; /* CBC sends random IVs: randomness is required */
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_INVAL);
	p.env = &bad_env;
	CHECK_INT(keel_esp_sa_new(&p, &sa), KEEL_ERR_CRYPTO);
	p = params(gcm, KEEL_ESP_OUTBOUND, false);
	p.env = NULL; /* AEAD needs none */
	CHECK_INT(keel_esp_sa_new(&p, &sa), 0);

	/* encapsulation */
	uint8_t inner[60], buf[200];
	ptrdiff_t need;
	struct keel_esp_rx rx;

	make_ip(inner, sizeof(inner), 4, 0);
	need = (ptrdiff_t)sizeof(inner) + keel_esp_overhead(sa, sizeof(inner));
	CHECK_INT(keel_esp_encap(sa, inner, sizeof(inner), buf, need - 1), KEEL_ERR_NOBUF);
	CHECK(keel_esp_sa_seq(sa) == 0); /* nothing used up */
	CHECK_INT(keel_esp_encap(sa, inner, 0, buf, sizeof(buf)), KEEL_ERR_INVAL);
	CHECK_INT(keel_esp_encap(sa, inner, -1, buf, sizeof(buf)), KEEL_ERR_INVAL);
	CHECK_INT(keel_esp_encap(sa, inner, KEEL_ESP_INNER_MAX_LEN + 1, buf, sizeof(buf)),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_esp_encap(sa, NULL, 10, buf, sizeof(buf)), KEEL_ERR_INVAL);
	CHECK_INT(keel_esp_encap(NULL, inner, sizeof(inner), buf, sizeof(buf)), KEEL_ERR_INVAL);
	inner[0] = 0x55; /* IP version 5 */
	CHECK_INT(keel_esp_encap(sa, inner, sizeof(inner), buf, sizeof(buf)), KEEL_ERR_INVAL);
	inner[0] = 0x45;
	CHECK_INT(keel_esp_encap(sa, inner, sizeof(inner), buf, need), need);
	CHECK(keel_esp_sa_seq(sa) == 1);
	CHECK_INT(keel_esp_decap(sa, buf, need, &rx), KEEL_ESP_ERROR); /* outbound */
	CHECK_INT(keel_esp_sa_dir(sa), KEEL_ESP_OUTBOUND);
	CHECK_INT(keel_esp_sa_spi(sa), TEST_SPI);
	keel_esp_sa_free(sa);

	sa = new_sa(gcm, KEEL_ESP_INBOUND, false);
	CHECK_INT(keel_esp_encap(sa, inner, sizeof(inner), buf, sizeof(buf)), KEEL_ERR_STATE);
	CHECK_INT(keel_esp_decap(sa, NULL, 10, &rx), KEEL_ESP_ERROR);
	CHECK_INT(keel_esp_decap(sa, buf, -1, &rx), KEEL_ESP_ERROR);
	CHECK_INT(keel_esp_decap(sa, buf, 100, NULL), KEEL_ESP_ERROR);
	CHECK_INT(keel_esp_decap(NULL, buf, 100, &rx), KEEL_ESP_ERROR);
	put32(buf, TEST_SPI + 1);
	CHECK_INT(keel_esp_decap(sa, buf, 100, &rx), KEEL_ESP_BAD_SPI);
	struct keel_esp_stats st;
	keel_esp_sa_stats(sa, &st);
	CHECK(st.errors == 3 && st.bad_spi == 1);
	keel_esp_sa_free(sa);
	keel_esp_sa_free(NULL);

	uint32_t spi = 0;
	CHECK_INT(keel_esp_read_spi(buf, 8, &spi), 0);
	CHECK_INT(spi, TEST_SPI + 1);
	CHECK_INT(keel_esp_read_spi(buf, 7, &spi), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_esp_read_spi(NULL, 8, &spi), KEEL_ERR_MALFORMED);

	CHECK(strcmp(keel_esp_status_name(KEEL_ESP_REPLAYED), "replayed") == 0);
	CHECK(strcmp(keel_esp_status_name(KEEL_ESP_ERROR), "error") == 0);
	CHECK(strcmp(keel_esp_status_name((enum keel_esp_status)99), "unknown") == 0);
}

static void test_sizes(void)
{
	for (size_t ai = 0; ai < N_ALGS; ai++) {
		const struct alg *a = &algs[ai];
		struct keel_esp_sa *sa = new_sa(a, KEEL_ESP_OUTBOUND, false);
		ptrdiff_t hdr = keel_esp_header_len(sa), tmax = keel_esp_trailer_max_len(sa);

		CHECK_INT(hdr, (ptrdiff_t)(8 + a->iv_len));
		CHECK(hdr <= KEEL_ESP_HEADER_MAX_LEN);
		CHECK_INT(tmax, (ptrdiff_t)(a->align - 1 + 2 + a->icv_len));
		CHECK(tmax <= KEEL_ESP_TRAILER_MAX_LEN);
		CHECK_INT(keel_esp_overhead(sa, -1), KEEL_ERR_INVAL);
		CHECK_INT(keel_esp_overhead(sa, KEEL_ESP_INNER_MAX_LEN + 1), KEEL_ERR_INVAL);
		for (ptrdiff_t len = 0; len < 100; len++) {
			ptrdiff_t o = keel_esp_overhead(sa, len);
			CHECK(o >= hdr + 2 + (ptrdiff_t)a->icv_len && o <= hdr + tmax);
			CHECK_INT((len + o - hdr - (ptrdiff_t)a->icv_len) % (ptrdiff_t)a->align, 0);
		}
		/* the largest inner packet for a packet size fits, one more does not */
		for (ptrdiff_t plen = 0; plen < 200; plen++) {
			ptrdiff_t m = keel_esp_max_inner_len(sa, plen);
			CHECK(m >= 0);
			if (m > 0)
				CHECK(m + keel_esp_overhead(sa, m) <= plen);
			CHECK(m + 1 + keel_esp_overhead(sa, m + 1) > plen);
		}
		CHECK_INT(keel_esp_max_inner_len(sa, -5), 0);
		CHECK_INT(keel_esp_max_inner_len(sa, 1000000), KEEL_ESP_INNER_MAX_LEN);
		keel_esp_sa_free(sa);
	}
}

/* ---- RFC 3948 ---- */

static void test_natt(void)
{
	static const uint8_t keepalive[] = {0xff};
	static const uint8_t ike[] = {0, 0, 0, 0, 0x11, 0x22, 0x33};
	static const uint8_t esp[] = {0, 0, 1, 0, 0, 0, 0, 1};
	static const uint8_t zero1[] = {0};
	ptrdiff_t off = -1;
	uint8_t buf[8];

	CHECK_INT(keel_natt_classify(keepalive, 1, &off), KEEL_NATT_KEEPALIVE);
	CHECK_INT(off, -1);
	CHECK_INT(keel_natt_classify(zero1, 1, &off), KEEL_NATT_INVALID);
	CHECK_INT(keel_natt_classify(ike, sizeof(ike), &off), KEEL_NATT_IKE);
	CHECK_INT(off, KEEL_NATT_MARKER_LEN);
	CHECK_INT(keel_natt_classify(ike, 4, &off), KEEL_NATT_INVALID); /* marker alone */
	CHECK_INT(keel_natt_classify(ike, 3, &off), KEEL_NATT_INVALID);
	CHECK_INT(keel_natt_classify(esp, sizeof(esp), &off), KEEL_NATT_ESP);
	CHECK_INT(off, 0);
	CHECK_INT(keel_natt_classify(esp, 7, &off), KEEL_NATT_INVALID);
	CHECK_INT(keel_natt_classify(esp, 2, NULL), KEEL_NATT_INVALID);
	CHECK_INT(keel_natt_classify(esp, 0, NULL), KEEL_NATT_INVALID);
	CHECK_INT(keel_natt_classify(NULL, 8, NULL), KEEL_NATT_INVALID);
	CHECK_INT(keel_natt_classify(esp, sizeof(esp), NULL), KEEL_NATT_ESP);
	/* a keepalive built here is classified as one */
	CHECK_INT(keel_natt_write_keepalive(buf, sizeof(buf)), 1);
	CHECK_INT(buf[0], 0xff);
	CHECK_INT(keel_natt_classify(buf, 1, NULL), KEEL_NATT_KEEPALIVE);
	CHECK_INT(keel_natt_write_keepalive(buf, 0), KEEL_ERR_NOBUF);
	CHECK_INT(keel_natt_write_keepalive(NULL, 1), KEEL_ERR_NOBUF);
	memset(buf, 0xaa, sizeof(buf));
	CHECK_INT(keel_natt_write_marker(buf, sizeof(buf)), 4);
	CHECK(buf[0] == 0 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0 && buf[4] == 0xaa);
	CHECK_INT(keel_natt_write_marker(buf, 3), KEEL_ERR_NOBUF);
}

int main(void)
{
	init_keys();
	test_api();
	test_sizes();
	test_natt();
	test_vectors();
	test_roundtrip();
	test_copy_modes();
	test_layout();
	test_replay();
	test_sa_replay();
	test_sa_esn();
	test_tamper();
	test_payload_checks();
	test_exhaustion();
	test_cbc_iv();
	return check_done();
}
