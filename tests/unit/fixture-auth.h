/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading the strongSwan captures under tests/vectors/strongswan/ for the
 * authentication tests (test-sig.c, test-x509.c, test-eap.c): the records,
 * IKEv2 SK / SKF payloads opened with the logged keys (fragments put back
 * together), and the files of the lab PKI. Header-only: each test includes
 * it once.
 */
#ifndef KEEL_TEST_FIXTURE_AUTH_H
#define KEEL_TEST_FIXTURE_AUTH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "crypto/cipher.h"
#include "crypto/prf.h"
#include "tv.h"
#include "wire/ikev2.h"

#define FX_MAX_DGRAMS 32
#define FX_MAX_KEYS   48

struct fx {
	char scenario[64];
	char ike_proposal[160];
	char eap_user[64];
	char eap_password[64];
	int64_t capture_time; /* CaptureTime, seconds since the epoch */
	size_t n;
	uint8_t *data[FX_MAX_DGRAMS];
	size_t len[FX_MAX_DGRAMS];
	bool i2r[FX_MAX_DGRAMS];
	size_t n_keys;
	char key_name[FX_MAX_KEYS][64];
	uint8_t *key[FX_MAX_KEYS];
	size_t key_len[FX_MAX_KEYS];
};

static inline void fx_copy(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* All "Name = hex" lines of the [keys] record: tv.h has no iteration, so
 * the record is read again line by line. */
static inline void fx_read_keys(struct fx *f, const char *relpath)
{
	char path[512];
	const char *dir = getenv("KEEL_VECTORS");
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/vectors", relpath);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return;
	char line[8192];
	bool in_keys = false;
	while (fgets(line, sizeof(line), fp)) {
		if (line[0] == '[') {
			in_keys = strncmp(line, "[keys]", 6) == 0;
			continue;
		}
		char *eq = strstr(line, " = ");
		if (!in_keys || !eq || f->n_keys == FX_MAX_KEYS)
			continue;
		*eq = '\0';
		char *val = eq + 3;
		val[strcspn(val, "\r\n")] = '\0';
		/* first value of each label only (as the capture tool says) */
		bool seen = false;
		for (size_t i = 0; i < f->n_keys; i++)
			seen = seen || strcmp(f->key_name[i], line) == 0;
		if (seen)
			continue;
		fx_copy(f->key_name[f->n_keys], sizeof(f->key_name[0]), line);
		f->key[f->n_keys] = hex_decode(val, &f->key_len[f->n_keys]);
		f->n_keys++;
	}
	fclose(fp);
}

static inline void fx_load(struct fx *f, const char *relpath)
{
	struct tv_file *t = tv_open(relpath);
	memset(f, 0, sizeof(*f));
	while (tv_next(t)) {
		const char *sec = tv_section(t);
		if (strcmp(sec, "exchange") == 0) {
			fx_copy(f->scenario, sizeof(f->scenario), tv_str(t, "Scenario"));
			fx_copy(f->ike_proposal, sizeof(f->ike_proposal), tv_str(t, "IKEProposal"));
			fx_copy(f->eap_user, sizeof(f->eap_user), tv_str(t, "EAPUser"));
			fx_copy(f->eap_password, sizeof(f->eap_password), tv_str(t, "EAPPassword"));
			const char *ct = tv_str(t, "CaptureTime");
			struct tm tm = {0};
			if (ct && strptime(ct, "%Y-%m-%dT%H:%M:%SZ", &tm))
				f->capture_time = (int64_t)timegm(&tm);
		} else if (strcmp(sec, "datagrams") == 0 && tv_str(t, "Data") &&
		           f->n < FX_MAX_DGRAMS) {
			f->data[f->n] = tv_hex(t, "Data", &f->len[f->n]);
			f->i2r[f->n] = strcmp(tv_str(t, "Dir"), "i2r") == 0;
			f->n++;
		}
	}
	tv_close(t);
	fx_read_keys(f, relpath);
}

static inline void fx_free(struct fx *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->data[i]);
	for (size_t i = 0; i < f->n_keys; i++)
		free(f->key[i]);
}

/* A logged key by charon's label, or NULL. */
static inline const uint8_t *fx_key(const struct fx *f, const char *name, size_t *len)
{
	for (size_t i = 0; i < f->n_keys; i++) {
		if (strcmp(f->key_name[i], name) == 0) {
			if (len)
				*len = f->key_len[i];
			return f->key[i];
		}
	}
	return NULL;
}

/* The first payload of a type in a chain, decoded; false if absent. */
static inline bool fx_find(const struct keel_v2_chain *ch, uint8_t type,
                           const struct keel_v2_raw_payload *after, struct keel_v2_payload *out)
{
	const struct keel_v2_raw_payload *raw = keel_v2_chain_find(ch, type, after);
	return raw && keel_v2_payload_decode(raw, out) == 0;
}

/*
 * Decrypts one SK or SKF payload body of datagram i into plain (appended at
 * *plain_len). Returns false on any failure.
 */
static inline bool fx_open_one(const struct fx *f, size_t i, const struct keel_v2_msg *m,
                               struct keel_v2_bytes body, uint8_t *plain, size_t *plain_len)
{
	bool aead = strstr(f->ike_proposal, "GCM") || strstr(f->ike_proposal, "CHACHA");
	uint16_t encr = strstr(f->ike_proposal, "CHACHA")       ? KEEL_ENCR_CHACHA20_POLY1305
	                : strstr(f->ike_proposal, "AES_GCM_16") ? KEEL_ENCR_AES_GCM_16
	                                                        : KEEL_ENCR_AES_CBC;
	unsigned bits = strstr(f->ike_proposal, "_256") ? 256 : 128;
	if (encr == KEEL_ENCR_CHACHA20_POLY1305)
		bits = 0;
	size_t key_len;
	const uint8_t *key = fx_key(f, f->i2r[i] ? "Sk_ei secret" : "Sk_er secret", &key_len);
	if (!key)
		return false;
	size_t iv_len = (size_t)keel_encr_iv_len(encr);
	size_t icv_len = aead ? (size_t)keel_encr_icv_len(encr) : 16; /* HMAC_SHA2_256_128 */
	struct keel_v2_sk_parts parts;
	if (keel_v2_sk_split(body, iv_len, icv_len, &parts) != 0)
		return false;
	uint8_t *out = plain + *plain_len;
	bool ok = false;
	if (aead) {
		struct keel_aead *a = NULL;
		size_t aad_len = (size_t)(parts.iv.p - m->raw.p); /* RFC 5282 §5.1 */
		ok = keel_aead_new(encr, bits, KEEL_CIPHER_DECRYPT, key, key_len, &a) == 0 &&
		     keel_aead_open(a, parts.iv.p, m->raw.p, aad_len, parts.ciphertext.p,
		                    parts.ciphertext.len, out, parts.icv.p) == 0;
		keel_aead_free(a);
	} else {
		size_t ik_len;
		const uint8_t *ik = fx_key(f, f->i2r[i] ? "Sk_ai secret" : "Sk_ar secret", &ik_len);
		struct keel_integ *ig = NULL;
		struct keel_cipher *c = NULL;
		struct keel_iov covered = {m->raw.p, (ptrdiff_t)(parts.icv.p - m->raw.p)};
		ok =
		    ik &&
		    keel_integ_new(KEEL_INTEG_HMAC_SHA2_256_128, ik, (ptrdiff_t)ik_len, &ig) == 0 &&
		    keel_integ_verify(ig, &covered, 1, parts.icv.p, (ptrdiff_t)parts.icv.len) ==
		        0 &&
		    keel_cipher_new(encr, bits, KEEL_CIPHER_DECRYPT, key, key_len, &c) == 0 &&
		    keel_cipher_decrypt(c, parts.iv.p, parts.ciphertext.p, parts.ciphertext.len,
		                        out) == 0;
		keel_integ_free(ig);
		keel_cipher_free(c);
	}
	if (!ok)
		return false;
	struct keel_v2_bytes p = {out, parts.ciphertext.len}, inner;
	if (keel_v2_sk_unpad(p, &inner) != 0)
		return false;
	*plain_len += inner.len;
	return true;
}

/*
 * Opens the encrypted payload of datagram *i (and of the fragments that
 * follow it, RFC 7383) into plain; *i moves to the last datagram used.
 * Decodes the inner chain into *inner (which borrows plain).
 */
static inline bool fx_open(const struct fx *f, size_t *i, uint8_t *plain, size_t *plain_len,
                           struct keel_v2_chain *inner)
{
	static struct keel_v2_msg m;
	struct keel_v2_payload pl;
	uint8_t first = 0;
	*plain_len = 0;
	for (;;) {
		if (*i >= f->n || keel_v2_msg_decode(f->data[*i], f->len[*i], &m) != 0 ||
		    m.chain.n == 0)
			return false;
		const struct keel_v2_raw_payload *last = &m.chain.p[m.chain.n - 1];
		if (keel_v2_payload_decode(last, &pl) != 0)
			return false;
		if (last->type == KEEL_V2_PAYLOAD_SK) {
			if (!fx_open_one(f, *i, &m, pl.u.sk.body, plain, plain_len))
				return false;
			first = pl.u.sk.inner_type;
			break;
		}
		if (last->type != KEEL_V2_PAYLOAD_SKF)
			return false;
		if (pl.u.skf.frag_num == 1)
			first = pl.u.skf.inner_type;
		if (!fx_open_one(f, *i, &m, pl.u.skf.body, plain, plain_len))
			return false;
		if (pl.u.skf.frag_num == pl.u.skf.total)
			break;
		(*i)++;
	}
	struct keel_rd r = keel_rd_init(plain, *plain_len);
	return keel_v2_chain_decode(&r, first, KEEL_V2_CHAIN_INNER, inner) == 0;
}

/* A file of tests/vectors/strongswan/pki/, malloc'd. */
static inline uint8_t *fx_pki(const char *name, size_t *len)
{
	char path[512];
	const char *dir = getenv("KEEL_VECTORS");
	snprintf(path, sizeof(path), "%s/strongswan/pki/%s", dir ? dir : "tests/vectors", name);
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		fprintf(stderr, "cannot open %s\n", path);
		abort();
	}
	uint8_t *buf = malloc(1 << 16);
	if (!buf)
		abort();
	*len = fread(buf, 1, 1 << 16, fp);
	fclose(fp);
	return buf;
}

#endif
