/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Key material held in heap memory that is wiped with OPENSSL_cleanse()
 * before it is released. One allocation per secret: the length header and
 * the bytes.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <keel/secret.h>

struct keel_secret {
	ptrdiff_t len;
	uint8_t data[]; /* len bytes */
};

struct keel_secret *keel_secret_new(ptrdiff_t len)
{
	if (len < 0 || (size_t)len > SIZE_MAX - sizeof(struct keel_secret))
		return NULL;
	struct keel_secret *s = calloc(1, sizeof(*s) + (size_t)len);
	if (!s)
		return NULL;
	s->len = len;
	return s;
}

struct keel_secret *keel_secret_new_from(const uint8_t *data, ptrdiff_t len)
{
	if (len > 0 && !data)
		return NULL;
	struct keel_secret *s = keel_secret_new(len);
	if (s && len > 0)
		memcpy(s->data, data, (size_t)len);
	return s;
}

struct keel_secret *keel_secret_dup(const struct keel_secret *s)
{
	if (!s)
		return NULL;
	return keel_secret_new_from(s->data, s->len);
}

struct keel_secret *keel_secret_slice(const struct keel_secret *s, ptrdiff_t off, ptrdiff_t len)
{
	if (!s || off < 0 || len < 0 || off > s->len || len > s->len - off)
		return NULL;
	return keel_secret_new_from(s->data + off, len);
}

struct keel_secret *keel_secret_concat(const struct keel_secret *a, const struct keel_secret *b)
{
	if (!a || !b || a->len > PTRDIFF_MAX - b->len)
		return NULL;
	struct keel_secret *s = keel_secret_new(a->len + b->len);
	if (!s)
		return NULL;
	if (a->len > 0)
		memcpy(s->data, a->data, (size_t)a->len);
	if (b->len > 0)
		memcpy(s->data + a->len, b->data, (size_t)b->len);
	return s;
}

void keel_secret_free(struct keel_secret *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s->data, (size_t)s->len);
	s->len = 0;
	free(s);
}

const uint8_t *keel_secret_data(const struct keel_secret *s)
{
	return s ? s->data : NULL;
}

uint8_t *keel_secret_mut(struct keel_secret *s)
{
	return s ? s->data : NULL;
}

ptrdiff_t keel_secret_len(const struct keel_secret *s)
{
	return s ? s->len : 0;
}

bool keel_secret_equal(const struct keel_secret *a, const struct keel_secret *b)
{
	if (!a || !b || a->len != b->len)
		return false;
	return CRYPTO_memcmp(a->data, b->data, (size_t)a->len) == 0;
}
