/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "wire.h"

static const uint8_t empty[1];

static const uint8_t *take(struct keel_rd *r, size_t n)
{
	if (r->bad || n > r->left) {
		r->bad = true;
		r->left = 0;
		return NULL;
	}
	const uint8_t *p = r->p ? r->p : empty;
	if (n > 0)
		r->p += n;
	r->left -= n;
	return p;
}

uint8_t keel_rd_u8(struct keel_rd *r)
{
	const uint8_t *p = take(r, 1);
	return p ? p[0] : 0;
}

uint16_t keel_rd_u16(struct keel_rd *r)
{
	const uint8_t *p = take(r, 2);
	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t keel_rd_u32(struct keel_rd *r)
{
	const uint8_t *p = take(r, 4);
	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

uint64_t keel_rd_u64(struct keel_rd *r)
{
	uint64_t hi = keel_rd_u32(r);
	uint64_t lo = keel_rd_u32(r);
	return r->bad ? 0 : hi << 32 | lo;
}

const uint8_t *keel_rd_bytes(struct keel_rd *r, size_t n)
{
	return take(r, n);
}

bool keel_rd_copy(struct keel_rd *r, void *dst, size_t n)
{
	const uint8_t *p = take(r, n);
	if (!p)
		return false;
	if (n > 0)
		memcpy(dst, p, n);
	return true;
}

bool keel_rd_skip(struct keel_rd *r, size_t n)
{
	return take(r, n) != NULL;
}

struct keel_rd keel_rd_sub(struct keel_rd *r, size_t n)
{
	const uint8_t *p = take(r, n);
	if (!p) {
		struct keel_rd bad = {.p = NULL, .left = 0, .bad = true};
		return bad;
	}
	return keel_rd_init(p, n);
}

struct keel_rd keel_rd_rest(struct keel_rd *r)
{
	return keel_rd_sub(r, r->left);
}

uint8_t *keel_wr_reserve(struct keel_wr *w, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return NULL;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

void keel_wr_u8(struct keel_wr *w, uint8_t v)
{
	uint8_t *p = keel_wr_reserve(w, 1);
	if (p)
		p[0] = v;
}

void keel_wr_u16(struct keel_wr *w, uint16_t v)
{
	uint8_t *p = keel_wr_reserve(w, 2);
	if (p) {
		p[0] = (uint8_t)(v >> 8);
		p[1] = (uint8_t)v;
	}
}

void keel_wr_u32(struct keel_wr *w, uint32_t v)
{
	uint8_t *p = keel_wr_reserve(w, 4);
	if (p) {
		p[0] = (uint8_t)(v >> 24);
		p[1] = (uint8_t)(v >> 16);
		p[2] = (uint8_t)(v >> 8);
		p[3] = (uint8_t)v;
	}
}

void keel_wr_u64(struct keel_wr *w, uint64_t v)
{
	keel_wr_u32(w, (uint32_t)(v >> 32));
	keel_wr_u32(w, (uint32_t)v);
}

void keel_wr_bytes(struct keel_wr *w, const void *src, size_t n)
{
	uint8_t *p = keel_wr_reserve(w, n);
	if (p && n > 0)
		memcpy(p, src, n);
}

void keel_wr_zero(struct keel_wr *w, size_t n)
{
	uint8_t *p = keel_wr_reserve(w, n);
	if (p && n > 0)
		memset(p, 0, n);
}

void keel_wr_patch16(struct keel_wr *w, size_t pos, uint16_t v)
{
	if (w->overflow || pos > w->len || w->len - pos < 2)
		return;
	w->buf[pos] = (uint8_t)(v >> 8);
	w->buf[pos + 1] = (uint8_t)v;
}

void keel_wr_patch32(struct keel_wr *w, size_t pos, uint32_t v)
{
	if (w->overflow || pos > w->len || w->len - pos < 4)
		return;
	w->buf[pos] = (uint8_t)(v >> 24);
	w->buf[pos + 1] = (uint8_t)(v >> 16);
	w->buf[pos + 2] = (uint8_t)(v >> 8);
	w->buf[pos + 3] = (uint8_t)v;
}

ptrdiff_t keel_wr_finish(const struct keel_wr *w)
{
	return w->overflow ? KEEL_ERR_NOBUF : (ptrdiff_t)w->len;
}
