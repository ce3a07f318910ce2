/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of crypto/cipher: AES-CBC (RFC 3602 §4, NIST SP 800-38A F.2),
 * AES-CTR (RFC 3686 §6), AES-GCM with 8/12/16-byte ICVs (the test cases of
 * McGrew/Viega's GCM specification, nonce split as RFC 4106 builds it) and
 * ChaCha20-Poly1305 (RFC 7539 §2.8.2, A.5), in place and out of place, with
 * contexts reused across packets; tampered packets must fail with
 * KEEL_ERR_AUTH and leave no plaintext behind.
 */
#include <stdlib.h>
#include <string.h>

#include <keel/err.h>

#include "crypto/cipher.h"

#include "check.h"
#include "tv.h"

/* Concatenation a | b in a new malloc'd buffer. */
static uint8_t *concat(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	uint8_t *p = malloc(a_len + b_len + 1);
	if (!p)
		abort();
	if (a_len)
		memcpy(p, a, a_len);
	if (b_len)
		memcpy(p + a_len, b, b_len);
	return p;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static struct keel_aead *aead_new(uint16_t encr, unsigned bits, enum keel_cipher_op op,
                                  const uint8_t *keymat, size_t len)
{
	struct keel_aead *a = NULL;
	CHECK_INT(keel_aead_new(encr, bits, op, keymat, len, &a), 0);
	return a;
}

static struct keel_cipher *cipher_new(uint16_t encr, unsigned bits, enum keel_cipher_op op,
                                      const uint8_t *keymat, size_t len)
{
	struct keel_cipher *c = NULL;
	CHECK_INT(keel_cipher_new(encr, bits, op, keymat, len, &c), 0);
	return c;
}

/* Expects open() to fail with KEEL_ERR_AUTH and to zero its output. */
static void expect_auth_fail(struct keel_aead *dec, const uint8_t *iv, const uint8_t *aad,
                             size_t aad_len, const uint8_t *ct, size_t len, const uint8_t *icv)
{
	uint8_t *out = malloc(len + 1);
	if (!out)
		abort();
	memset(out, 0xa5, len + 1);
	CHECK_INT(keel_aead_open(dec, iv, aad, aad_len, ct, len, out, icv), KEEL_ERR_AUTH);
	CHECK(all_zero(out, len));
	CHECK(out[len] == 0xa5); /* nothing written past the end */
	free(out);
}

/*
 * One AEAD vector with transform encr: seal and open out of place and in
 * place, then every kind of tampering. tag is the full 16-byte tag; the ICV
 * is its leading keel_encr_icv_len(encr) bytes.
 */
static void aead_vector(uint16_t encr, unsigned bits, const uint8_t *keymat, size_t keymat_len,
                        const uint8_t *iv, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                        const uint8_t *ct, size_t len, const uint8_t *tag)
{
	size_t icv_len = (size_t)keel_encr_icv_len(encr);
	uint8_t icv[KEEL_ENCR_ICV_MAX_LEN], bad_icv[KEEL_ENCR_ICV_MAX_LEN];
	uint8_t *buf = malloc(len + 1);
	uint8_t *tampered = malloc(len + 1);
	uint8_t *aad2 = malloc(aad_len + 1);
	if (!buf || !tampered || !aad2)
		abort();
	struct keel_aead *enc = aead_new(encr, bits, KEEL_CIPHER_ENCRYPT, keymat, keymat_len);
	struct keel_aead *dec = aead_new(encr, bits, KEEL_CIPHER_DECRYPT, keymat, keymat_len);
	if (!enc || !dec)
		goto out;
	CHECK_INT(keel_aead_icv_len(enc), icv_len);

	/* out of place */
	memset(icv, 0, sizeof(icv));
	CHECK_INT(keel_aead_seal(enc, iv, aad, aad_len, pt, len, buf, icv), 0);
	CHECK_MEM(buf, len, ct, len);
	CHECK_MEM(icv, icv_len, tag, icv_len);
	CHECK_INT(keel_aead_open(dec, iv, aad, aad_len, ct, len, buf, tag), 0);
	CHECK_MEM(buf, len, pt, len);

	/* in place, on the same contexts (only the IV is set per packet) */
	if (len)
		memcpy(buf, pt, len);
	memset(icv, 0, sizeof(icv));
	CHECK_INT(keel_aead_seal(enc, iv, aad, aad_len, buf, len, buf, icv), 0);
	CHECK_MEM(buf, len, ct, len);
	CHECK_MEM(icv, icv_len, tag, icv_len);
	CHECK_INT(keel_aead_open(dec, iv, aad, aad_len, buf, len, buf, icv), 0);
	CHECK_MEM(buf, len, pt, len);

	/* a flipped bit anywhere: ciphertext (first, last), AAD, ICV, IV */
	if (len) {
		memcpy(tampered, ct, len);
		tampered[0] ^= 0x01;
		expect_auth_fail(dec, iv, aad, aad_len, tampered, len, tag);
		tampered[0] ^= 0x01;
		tampered[len - 1] ^= 0x80;
		expect_auth_fail(dec, iv, aad, aad_len, tampered, len, tag);
		/* in place: the buffer is wiped, not left as unauthenticated plaintext */
		memcpy(buf, tampered, len);
		CHECK_INT(keel_aead_open(dec, iv, aad, aad_len, buf, len, buf, tag), KEEL_ERR_AUTH);
		CHECK(all_zero(buf, len));
	}
	if (aad_len) {
		memcpy(aad2, aad, aad_len);
		aad2[aad_len - 1] ^= 0x04;
		expect_auth_fail(dec, iv, aad2, aad_len, ct, len, tag);
		expect_auth_fail(dec, iv, aad, aad_len - 1, ct, len, tag);
	}
	aad2[0] = 0;
	expect_auth_fail(dec, iv, aad2, aad_len ? aad_len : 1, ct, len, tag); /* AAD changed */
	for (size_t i = 0; i < icv_len; i += icv_len - 1) {
		memcpy(bad_icv, tag, icv_len);
		bad_icv[i] ^= 0x10;
		expect_auth_fail(dec, iv, aad, aad_len, ct, len, bad_icv);
	}
	uint8_t iv2[KEEL_AEAD_IV_LEN];
	memcpy(iv2, iv, sizeof(iv2));
	iv2[7] ^= 0x01;
	expect_auth_fail(dec, iv2, aad, aad_len, ct, len, tag);
	if (len) { /* a shorter packet with the same ICV */
		expect_auth_fail(dec, iv, aad, aad_len, ct, len - 1, tag);
	}

	/* after failures, the context still opens a good packet */
	CHECK_INT(keel_aead_open(dec, iv, aad, aad_len, ct, len, buf, tag), 0);
	CHECK_MEM(buf, len, pt, len);

	/* each context works in one direction only */
	CHECK_INT(keel_aead_seal(dec, iv, aad, aad_len, pt, len, buf, icv), KEEL_ERR_STATE);
	CHECK_INT(keel_aead_open(enc, iv, aad, aad_len, ct, len, buf, tag), KEEL_ERR_STATE);
out:
	keel_aead_free(enc);
	keel_aead_free(dec);
	free(buf);
	free(tampered);
	free(aad2);
}

static void test_gcm(void)
{
	static const uint16_t transforms[] = {KEEL_ENCR_AES_GCM_8, KEEL_ENCR_AES_GCM_12,
	                                      KEEL_ENCR_AES_GCM_16};
	struct tv_file *f = tv_open("gcm-spec/aes-gcm.txt");
	int records = 0;
	while (tv_next(f)) {
		size_t key_len, salt_len, iv_len, aad_len, pt_len, ct_len, tag_len;
		uint8_t *key = tv_hex(f, "Key", &key_len);
		uint8_t *salt = tv_hex(f, "Salt", &salt_len);
		uint8_t *iv = tv_hex(f, "IV", &iv_len);
		uint8_t *aad = tv_hex(f, "AAD", &aad_len);
		uint8_t *pt = tv_hex(f, "PT", &pt_len);
		uint8_t *ct = tv_hex(f, "CT", &ct_len);
		uint8_t *tag = tv_hex(f, "Tag", &tag_len);
		uint8_t *keymat = concat(key, key_len, salt, salt_len);
		records++;
		CHECK_INT(salt_len, KEEL_ENCR_SALT_LEN);
		CHECK_INT(iv_len, KEEL_AEAD_IV_LEN);
		CHECK_INT(pt_len, ct_len);
		CHECK_INT(tag_len, 16);
		for (size_t t = 0; t < sizeof(transforms) / sizeof(transforms[0]); t++) {
			unsigned bits = (unsigned)key_len * 8;
			CHECK_INT(keel_encr_keymat_len(transforms[t], bits), key_len + salt_len);
			aead_vector(transforms[t], bits, keymat, key_len + salt_len, iv,
			            aad_len ? aad : NULL, aad_len, pt, ct, ct_len, tag);
		}
		free(key);
		free(salt);
		free(iv);
		free(aad);
		free(pt);
		free(ct);
		free(tag);
		free(keymat);
	}
	CHECK_INT(records, 12);
	tv_close(f);
}

static void test_chacha20_poly1305(void)
{
	struct tv_file *f = tv_open("rfc7539/chacha20-poly1305.txt");
	int records = 0;
	while (tv_next(f)) {
		size_t key_len, salt_len, iv_len, aad_len, pt_len, ct_len, tag_len;
		uint8_t *key = tv_hex(f, "Key", &key_len);
		uint8_t *salt = tv_hex(f, "Salt", &salt_len);
		uint8_t *iv = tv_hex(f, "IV", &iv_len);
		uint8_t *aad = tv_hex(f, "AAD", &aad_len);
		uint8_t *pt = tv_hex(f, "PT", &pt_len);
		uint8_t *ct = tv_hex(f, "CT", &ct_len);
		uint8_t *tag = tv_hex(f, "Tag", &tag_len);
		uint8_t *keymat = concat(key, key_len, salt, salt_len);
		records++;
		CHECK_INT(key_len, 32);
		CHECK_INT(pt_len, ct_len);
		CHECK_INT(keel_encr_keymat_len(KEEL_ENCR_CHACHA20_POLY1305, 0), 36);
		/* RFC 7634 §3: no Key Length attribute; 256 is accepted too */
		aead_vector(KEEL_ENCR_CHACHA20_POLY1305, 0, keymat, 36, iv, aad, aad_len, pt, ct,
		            ct_len, tag);
		aead_vector(KEEL_ENCR_CHACHA20_POLY1305, 256, keymat, 36, iv, aad, aad_len, pt, ct,
		            ct_len, tag);
		free(key);
		free(salt);
		free(iv);
		free(aad);
		free(pt);
		free(ct);
		free(tag);
		free(keymat);
	}
	CHECK_INT(records, 2);
	tv_close(f);
}

/* One CBC or CTR vector: both directions, out of place and in place, twice. */
static void block_vector(uint16_t encr, unsigned bits, const uint8_t *keymat, size_t keymat_len,
                         const uint8_t *iv, const uint8_t *pt, const uint8_t *ct, size_t len)
{
	uint8_t *buf = malloc(len + 1);
	if (!buf)
		abort();
	struct keel_cipher *enc = cipher_new(encr, bits, KEEL_CIPHER_ENCRYPT, keymat, keymat_len);
	struct keel_cipher *dec = cipher_new(encr, bits, KEEL_CIPHER_DECRYPT, keymat, keymat_len);
	if (!enc || !dec)
		goto out;
	CHECK_INT(keel_cipher_iv_len(enc), keel_encr_iv_len(encr));
	CHECK_INT(keel_cipher_block_len(dec), keel_encr_block_len(encr));
	for (int round = 0; round < 2; round++) {
		memset(buf, 0, len);
		CHECK_INT(keel_cipher_encrypt(enc, iv, pt, len, buf), 0);
		CHECK_MEM(buf, len, ct, len);
		CHECK_INT(keel_cipher_decrypt(dec, iv, ct, len, buf), 0);
		CHECK_MEM(buf, len, pt, len);
		memcpy(buf, pt, len);
		CHECK_INT(keel_cipher_encrypt(enc, iv, buf, len, buf), 0);
		CHECK_MEM(buf, len, ct, len);
		CHECK_INT(keel_cipher_decrypt(dec, iv, buf, len, buf), 0);
		CHECK_MEM(buf, len, pt, len);
	}
	CHECK_INT(keel_cipher_encrypt(dec, iv, pt, len, buf), KEEL_ERR_STATE);
	CHECK_INT(keel_cipher_decrypt(enc, iv, ct, len, buf), KEEL_ERR_STATE);
	if (encr == KEEL_ENCR_AES_CBC) {
		/* RFC 3602 §3: whole blocks only; the peer's short data is malformed */
		CHECK_INT(keel_cipher_decrypt(dec, iv, ct, len - 1, buf), KEEL_ERR_MALFORMED);
		CHECK_INT(keel_cipher_encrypt(enc, iv, pt, len - 1, buf), KEEL_ERR_INVAL);
		/* another IV changes the first block only */
		uint8_t iv2[16];
		memcpy(iv2, iv, 16);
		iv2[0] ^= 0x01;
		CHECK_INT(keel_cipher_decrypt(dec, iv2, ct, len, buf), 0);
		CHECK(buf[0] == (pt[0] ^ 0x01));
		CHECK_MEM(buf + 1, len - 1, pt + 1, len - 1);
	} else {
		/* a stream: any prefix decrypts to the plaintext's prefix */
		CHECK_INT(keel_cipher_decrypt(dec, iv, ct, len - 1, buf), 0);
		CHECK_MEM(buf, len - 1, pt, len - 1);
	}
out:
	keel_cipher_free(enc);
	keel_cipher_free(dec);
	free(buf);
}

static void test_cbc_file(const char *path, int want_records)
{
	struct tv_file *f = tv_open(path);
	int records = 0;
	while (tv_next(f)) {
		size_t key_len, iv_len, pt_len, ct_len;
		uint8_t *key = tv_hex(f, "Key", &key_len);
		uint8_t *iv = tv_hex(f, "IV", &iv_len);
		uint8_t *pt = tv_hex(f, "PT", &pt_len);
		uint8_t *ct = tv_hex(f, "CT", &ct_len);
		records++;
		CHECK_INT(iv_len, 16);
		CHECK_INT(pt_len, ct_len);
		CHECK_INT(keel_encr_keymat_len(KEEL_ENCR_AES_CBC, (unsigned)key_len * 8), key_len);
		block_vector(KEEL_ENCR_AES_CBC, (unsigned)key_len * 8, key, key_len, iv, pt, ct,
		             ct_len);
		free(key);
		free(iv);
		free(pt);
		free(ct);
	}
	CHECK_INT(records, want_records);
	tv_close(f);
}

static void test_ctr(void)
{
	struct tv_file *f = tv_open("rfc3686/aes-ctr.txt");
	int records = 0;
	while (tv_next(f)) {
		size_t key_len, nonce_len, iv_len, pt_len, ct_len;
		uint8_t *key = tv_hex(f, "Key", &key_len);
		uint8_t *nonce = tv_hex(f, "Nonce", &nonce_len);
		uint8_t *iv = tv_hex(f, "IV", &iv_len);
		uint8_t *pt = tv_hex(f, "PT", &pt_len);
		uint8_t *ct = tv_hex(f, "CT", &ct_len);
		uint8_t *keymat = concat(key, key_len, nonce, nonce_len);
		unsigned bits = (unsigned)key_len * 8;
		records++;
		CHECK_INT(iv_len, KEEL_AEAD_IV_LEN);
		CHECK_INT(pt_len, ct_len);
		CHECK_INT(keel_encr_keymat_len(KEEL_ENCR_AES_CTR, bits), key_len + 4);
		block_vector(KEEL_ENCR_AES_CTR, bits, keymat, key_len + nonce_len, iv, pt, ct,
		             ct_len);
		/* the nonce is part of the counter block: another nonce, another stream */
		keymat[key_len] ^= 0x01;
		struct keel_cipher *c = cipher_new(KEEL_ENCR_AES_CTR, bits, KEEL_CIPHER_ENCRYPT,
		                                   keymat, key_len + nonce_len);
		uint8_t *buf = malloc(pt_len);
		if (c && buf) {
			CHECK_INT(keel_cipher_encrypt(c, iv, pt, pt_len, buf), 0);
			CHECK(memcmp(buf, ct, ct_len) != 0);
		}
		keel_cipher_free(c);
		free(buf);
		free(key);
		free(nonce);
		free(iv);
		free(pt);
		free(ct);
		free(keymat);
	}
	CHECK_INT(records, 9);
	tv_close(f);
}

static void test_registry(void)
{
	static const struct {
		uint16_t encr;
		unsigned bits;
		ptrdiff_t keymat, iv, icv, block;
		bool aead;
	} known[] = {
	    {12, 128, 16, 16, 0, 16, false}, {12, 192, 24, 16, 0, 16, false},
	    {12, 256, 32, 16, 0, 16, false}, {13, 128, 20, 8, 0, 1, false},
	    {13, 192, 28, 8, 0, 1, false},   {13, 256, 36, 8, 0, 1, false},
	    {18, 128, 20, 8, 8, 1, true},    {18, 256, 36, 8, 8, 1, true},
	    {19, 192, 28, 8, 12, 1, true},   {19, 256, 36, 8, 12, 1, true},
	    {20, 128, 20, 8, 16, 1, true},   {20, 256, 36, 8, 16, 1, true},
	    {28, 0, 36, 8, 16, 1, true},     {28, 256, 36, 8, 16, 1, true},
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		CHECK(keel_encr_supported(known[i].encr, known[i].bits));
		CHECK_INT(keel_encr_keymat_len(known[i].encr, known[i].bits), known[i].keymat);
		CHECK_INT(keel_encr_iv_len(known[i].encr), known[i].iv);
		CHECK_INT(keel_encr_icv_len(known[i].encr), known[i].icv);
		CHECK_INT(keel_encr_block_len(known[i].encr), known[i].block);
		CHECK(keel_encr_is_aead(known[i].encr) == known[i].aead);
		CHECK(known[i].keymat <= KEEL_ENCR_KEYMAT_MAX_LEN);
		CHECK(known[i].iv <= KEEL_ENCR_IV_MAX_LEN);
	}

	/* unknown transforms (3DES 3, CCM 14-16, NULL 11, ...) and key lengths */
	static const struct {
		uint16_t encr;
		unsigned bits;
	} unknown[] = {{12, 0},  {12, 64}, {12, 512}, {13, 0},   {20, 0},  {20, 384},    {28, 128},
	               {3, 192}, {11, 0},  {14, 128}, {23, 128}, {0, 128}, {0xffff, 256}};
	uint8_t keymat[KEEL_ENCR_KEYMAT_MAX_LEN] = {0};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		struct keel_aead *a = NULL;
		struct keel_cipher *c = NULL;
		CHECK(!keel_encr_supported(unknown[i].encr, unknown[i].bits));
		CHECK_INT(keel_encr_keymat_len(unknown[i].encr, unknown[i].bits),
		          KEEL_ERR_UNSUPPORTED);
		CHECK_INT(keel_aead_new(unknown[i].encr, unknown[i].bits, KEEL_CIPHER_ENCRYPT,
		                        keymat, sizeof(keymat), &a),
		          KEEL_ERR_UNSUPPORTED);
		CHECK_INT(keel_cipher_new(unknown[i].encr, unknown[i].bits, KEEL_CIPHER_ENCRYPT,
		                          keymat, sizeof(keymat), &c),
		          KEEL_ERR_UNSUPPORTED);
		CHECK(a == NULL && c == NULL);
	}
	CHECK_INT(keel_encr_iv_len(3), KEEL_ERR_UNSUPPORTED);
	CHECK_INT(keel_encr_icv_len(3), KEEL_ERR_UNSUPPORTED);
	CHECK_INT(keel_encr_block_len(3), KEEL_ERR_UNSUPPORTED);
	CHECK(!keel_encr_is_aead(3));

	/* each family refuses the other's transforms; key material must fit exactly */
	struct keel_aead *a = NULL;
	struct keel_cipher *c = NULL;
	CHECK_INT(keel_aead_new(KEEL_ENCR_AES_CBC, 128, KEEL_CIPHER_ENCRYPT, keymat, 16, &a),
	          KEEL_ERR_UNSUPPORTED);
	CHECK_INT(keel_cipher_new(KEEL_ENCR_AES_GCM_16, 128, KEEL_CIPHER_ENCRYPT, keymat, 20, &c),
	          KEEL_ERR_UNSUPPORTED);
	CHECK_INT(keel_aead_new(KEEL_ENCR_AES_GCM_16, 128, KEEL_CIPHER_ENCRYPT, keymat, 16, &a),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_aead_new(KEEL_ENCR_AES_GCM_16, 128, KEEL_CIPHER_ENCRYPT, keymat, 21, &a),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_aead_new(KEEL_ENCR_AES_GCM_16, 128, KEEL_CIPHER_ENCRYPT, NULL, 20, &a),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_cipher_new(KEEL_ENCR_AES_CTR, 128, KEEL_CIPHER_ENCRYPT, keymat, 16, &c),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_cipher_new(KEEL_ENCR_AES_CBC, 256, KEEL_CIPHER_ENCRYPT, keymat, 36, &c),
	          KEEL_ERR_INVAL);
	CHECK(a == NULL && c == NULL);
	keel_aead_free(NULL);
	keel_cipher_free(NULL);
}

/*
 * Packets of many sizes through one context per direction, as the ESP fast
 * path uses them: each must match what a fresh context produces (no state
 * carried from packet to packet) and round-trip.
 */
static void test_reuse(void)
{
	static const struct {
		uint16_t encr;
		unsigned bits;
	} algs[] = {{KEEL_ENCR_AES_GCM_16, 256},
	            {KEEL_ENCR_AES_GCM_8, 128},
	            {KEEL_ENCR_CHACHA20_POLY1305, 0}};
	uint8_t keymat[KEEL_ENCR_KEYMAT_MAX_LEN];
	uint8_t pt[1500], ct[1500], ct2[1500], back[1500], aad[12];
	uint8_t iv[KEEL_AEAD_IV_LEN], icv[16], icv2[16];
	for (size_t i = 0; i < sizeof(keymat); i++)
		keymat[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)(i * 13 + 1);
	for (size_t i = 0; i < sizeof(aad); i++)
		aad[i] = (uint8_t)(0xf0 + i);
	for (size_t k = 0; k < sizeof(algs) / sizeof(algs[0]); k++) {
		size_t km = (size_t)keel_encr_keymat_len(algs[k].encr, algs[k].bits);
		size_t icv_len = (size_t)keel_encr_icv_len(algs[k].encr);
		struct keel_aead *enc =
		    aead_new(algs[k].encr, algs[k].bits, KEEL_CIPHER_ENCRYPT, keymat, km);
		struct keel_aead *dec =
		    aead_new(algs[k].encr, algs[k].bits, KEEL_CIPHER_DECRYPT, keymat, km);
		if (!enc || !dec)
			goto next;
		static const size_t sizes[] = {0, 1, 15, 16, 17, 64, 255, 1400, 1500};
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			size_t len = sizes[s];
			memset(iv, 0, sizeof(iv));
			iv[7] = (uint8_t)s; /* ESP: the sequence number as IV */
			CHECK_INT(keel_aead_seal(enc, iv, aad, sizeof(aad), pt, len, ct, icv), 0);
			struct keel_aead *fresh =
			    aead_new(algs[k].encr, algs[k].bits, KEEL_CIPHER_ENCRYPT, keymat, km);
			if (fresh) {
				CHECK_INT(
				    keel_aead_seal(fresh, iv, aad, sizeof(aad), pt, len, ct2, icv2),
				    0);
				CHECK_MEM(ct, len, ct2, len);
				CHECK_MEM(icv, icv_len, icv2, icv_len);
			}
			keel_aead_free(fresh);
			CHECK(len < 16 || memcmp(ct, pt, len) != 0);
			CHECK_INT(keel_aead_open(dec, iv, aad, sizeof(aad), ct, len, back, icv), 0);
			CHECK_MEM(back, len, pt, len);
		}
	next:
		keel_aead_free(enc);
		keel_aead_free(dec);
	}

	/* CBC across packets: the chaining state does not leak into the next packet */
	struct keel_cipher *enc =
	    cipher_new(KEEL_ENCR_AES_CBC, 128, KEEL_CIPHER_ENCRYPT, keymat, 16);
	struct keel_cipher *fresh =
	    cipher_new(KEEL_ENCR_AES_CBC, 128, KEEL_CIPHER_ENCRYPT, keymat, 16);
	uint8_t cbc_iv[16] = {1, 2, 3};
	if (enc && fresh) {
		CHECK_INT(keel_cipher_encrypt(enc, cbc_iv, pt, 64, ct), 0);
		CHECK_INT(keel_cipher_encrypt(enc, cbc_iv, pt + 64, 32, ct), 0);
		CHECK_INT(keel_cipher_encrypt(fresh, cbc_iv, pt + 64, 32, ct2), 0);
		CHECK_MEM(ct, 32, ct2, 32);
		CHECK_INT(keel_cipher_encrypt(enc, cbc_iv, pt, 0, ct), 0);
	}
	keel_cipher_free(enc);
	keel_cipher_free(fresh);
}

int main(void)
{
	test_registry();
	test_cbc_file("rfc3602/aes-cbc.txt", 4);
	test_cbc_file("nist-sp800-38a/aes-cbc.txt", 2);
	test_ctr();
	test_gcm();
	test_chacha20_poly1305();
	test_reuse();
	return check_done();
}
