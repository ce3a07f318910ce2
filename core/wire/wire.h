/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one bounds-checked reader and writer that every wire format in Keel
 * (IKEv2, ISAKMP, attributes, EAP, configuration payloads, ESP) goes through.
 *
 * Reader: a cursor over borrowed bytes. The first read past the end sets
 * `bad`, returns zeros / NULL, and every later read fails too, so a parser may
 * read a whole header and check `bad` once. Lengths are compared as sizes
 * (n > left), never as pointers.
 *
 * Writer: writes into a caller-owned buffer. Running out of room sets
 * `overflow` and drops the write; keel_wr_finish() then reports
 * KEEL_ERR_NOBUF once. Length fields are reserved, then back-patched.
 */
#ifndef KEEL_WIRE_H
#define KEEL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/err.h>

struct keel_rd {
	const uint8_t *p; /* next unread byte */
	size_t left;      /* bytes left */
	bool bad;         /* a read ran past the end */
};

static inline struct keel_rd keel_rd_init(const void *buf, size_t len)
{
	struct keel_rd r = {.p = buf, .left = buf ? len : 0, .bad = false};
	return r;
}

uint8_t keel_rd_u8(struct keel_rd *r);
uint16_t keel_rd_u16(struct keel_rd *r); /* network byte order */
uint32_t keel_rd_u32(struct keel_rd *r);
uint64_t keel_rd_u64(struct keel_rd *r);
/* Borrows n bytes; NULL (and bad set) if fewer are left. n == 0 gives a non-NULL pointer. */
const uint8_t *keel_rd_bytes(struct keel_rd *r, size_t n);
/* Copies n bytes into dst; false (and bad set, dst untouched) if fewer are left. */
bool keel_rd_copy(struct keel_rd *r, void *dst, size_t n);
bool keel_rd_skip(struct keel_rd *r, size_t n);
/*
 * Splits off the next n bytes as a reader of their own and advances r past
 * them. If fewer than n are left, r->bad is set and an empty, bad reader is
 * returned.
 */
struct keel_rd keel_rd_sub(struct keel_rd *r, size_t n);
/* Everything that is left, as a reader; r is left empty. */
struct keel_rd keel_rd_rest(struct keel_rd *r);
/* True when the reader is exhausted exactly and never ran short. */
static inline bool keel_rd_done(const struct keel_rd *r)
{
	return !r->bad && r->left == 0;
}

struct keel_wr {
	uint8_t *buf;  /* caller-owned */
	size_t cap;    /* bytes available in buf */
	size_t len;    /* bytes written so far */
	bool overflow; /* a write did not fit */
};

static inline struct keel_wr keel_wr_init(void *buf, size_t cap)
{
	struct keel_wr w = {.buf = buf, .cap = buf ? cap : 0, .len = 0, .overflow = false};
	return w;
}

void keel_wr_u8(struct keel_wr *w, uint8_t v);
void keel_wr_u16(struct keel_wr *w, uint16_t v);
void keel_wr_u32(struct keel_wr *w, uint32_t v);
void keel_wr_u64(struct keel_wr *w, uint64_t v);
void keel_wr_bytes(struct keel_wr *w, const void *p, size_t n);
void keel_wr_zero(struct keel_wr *w, size_t n);
/*
 * Reserves room for n bytes and returns a pointer to write them in place, or
 * NULL (overflow set) when they do not fit.
 */
uint8_t *keel_wr_reserve(struct keel_wr *w, size_t n);
/* Position of the next byte: remember it to back-patch a length later. */
static inline size_t keel_wr_pos(const struct keel_wr *w)
{
	return w->len;
}
/* Writes a big-endian 16/32-bit value at an earlier position (no-op after overflow). */
void keel_wr_patch16(struct keel_wr *w, size_t pos, uint16_t v);
void keel_wr_patch32(struct keel_wr *w, size_t pos, uint32_t v);
/* The bytes written (ptrdiff_t), or KEEL_ERR_NOBUF if anything overflowed. */
ptrdiff_t keel_wr_finish(const struct keel_wr *w);

#endif
