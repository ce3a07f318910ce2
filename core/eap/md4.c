/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MD4 (RFC 1320), needed only for the MS-CHAPv2 NT password hash
 * (RFC 2759 §8.3). Written here because OpenSSL 3 moved MD4 to its legacy
 * provider, a module loaded from disk that distributions may not ship or may
 * disable, and loading it would be file I/O in the sans-I/O core. MD4 is
 * broken as a hash; MS-CHAPv2 leaves no choice. Every local holding message
 * bytes (the password) is wiped.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "eap/eap.h"

struct md4 {
	uint32_t h[4];
	uint8_t block[64];
	size_t block_len;
	uint64_t total_len;
};

#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define F(x, y, z) (((x) & (y)) | (~(x) & (z)))
#define G(x, y, z) (((x) & (y)) | ((x) & (z)) | ((y) & (z)))
#define H(x, y, z) ((x) ^ (y) ^ (z))

static void md4_block(uint32_t h[4], const uint8_t b[64])
{
	uint32_t x[16];
	for (int i = 0; i < 16; i++)
		x[i] = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
		       (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
	uint32_t a = h[0], bb = h[1], c = h[2], d = h[3];

	/* RFC 1320 §3.4, round 1: [abcd k s] a = (a + F(b,c,d) + X[k]) <<< s */
	static const int r1s[4] = {3, 7, 11, 19};
	for (int i = 0; i < 16; i++) {
		uint32_t t = a + F(bb, c, d) + x[i];
		a = d;
		d = c;
		c = bb;
		bb = ROTL(t, r1s[i % 4]);
	}
	/* round 2: a = (a + G(b,c,d) + X[k] + 5A827999) <<< s, k = 0,4,8,12,1,5,... */
	static const int r2s[4] = {3, 5, 9, 13};
	for (int i = 0; i < 16; i++) {
		int k = (i % 4) * 4 + i / 4;
		uint32_t t = a + G(bb, c, d) + x[k] + 0x5a827999u;
		a = d;
		d = c;
		c = bb;
		bb = ROTL(t, r2s[i % 4]);
	}
	/* round 3: a = (a + H(b,c,d) + X[k] + 6ED9EBA1) <<< s, k = 0,8,4,12,2,10,... */
	static const int r3k[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
	static const int r3s[4] = {3, 9, 11, 15};
	for (int i = 0; i < 16; i++) {
		uint32_t t = a + H(bb, c, d) + x[r3k[i]] + 0x6ed9eba1u;
		a = d;
		d = c;
		c = bb;
		bb = ROTL(t, r3s[i % 4]);
	}
	h[0] += a;
	h[1] += bb;
	h[2] += c;
	h[3] += d;
	OPENSSL_cleanse(x, sizeof(x));
}

static void md4_update(struct md4 *m, const uint8_t *p, size_t n)
{
	m->total_len += n;
	while (n > 0) {
		size_t take = 64 - m->block_len < n ? 64 - m->block_len : n;
		memcpy(m->block + m->block_len, p, take);
		m->block_len += take;
		p += take;
		n -= take;
		if (m->block_len == 64) {
			md4_block(m->h, m->block);
			m->block_len = 0;
		}
	}
}

void keel_md4(const uint8_t *data, size_t len, uint8_t out[16])
{
	struct md4 m = {.h = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u}};
	uint8_t pad[72] = {0x80};

	md4_update(&m, data, len);
	uint64_t bits = m.total_len * 8;
	/* RFC 1320 §3.1-3.2: pad to 56 mod 64, then the bit length, little-endian */
	size_t pad_len = m.block_len < 56 ? 56 - m.block_len : 120 - m.block_len;
	for (int i = 0; i < 8; i++)
		pad[pad_len + (size_t)i] = (uint8_t)(bits >> (8 * i));
	md4_update(&m, pad, pad_len + 8);
	for (int i = 0; i < 4; i++) {
		out[4 * i] = (uint8_t)m.h[i];
		out[4 * i + 1] = (uint8_t)(m.h[i] >> 8);
		out[4 * i + 2] = (uint8_t)(m.h[i] >> 16);
		out[4 * i + 3] = (uint8_t)(m.h[i] >> 24);
	}
	OPENSSL_cleanse(&m, sizeof(m));
}
