/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Key material: a heap buffer that is wiped (OPENSSL_cleanse) when freed.
 *
 * A struct keel_secret is only ever handled by pointer and never copied by
 * value; the copy helpers below make new, independently wiped objects.
 * Every function that returns a new secret returns NULL when memory runs out
 * or an argument is out of range; the caller owns the result.
 */
#ifndef KEEL_SECRET_H
#define KEEL_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keel_secret;

/* A new secret of len bytes (0 allowed), zero-filled. NULL if len < 0 or on ENOMEM. */
struct keel_secret *keel_secret_new(ptrdiff_t len);

/*
 * A new secret holding a copy of the len bytes at data (data may be NULL only
 * when len is 0). NULL if len < 0, data is NULL with len > 0, or on ENOMEM.
 */
struct keel_secret *keel_secret_new_from(const uint8_t *data, ptrdiff_t len);

/* A copy of s. NULL if s is NULL or on ENOMEM. */
struct keel_secret *keel_secret_dup(const struct keel_secret *s);

/*
 * A new secret holding bytes [off, off + len) of s. NULL if s is NULL, the
 * range does not lie inside s, or on ENOMEM.
 */
struct keel_secret *keel_secret_slice(const struct keel_secret *s, ptrdiff_t off, ptrdiff_t len);

/* A new secret a | b. NULL if a or b is NULL or on ENOMEM. */
struct keel_secret *keel_secret_concat(const struct keel_secret *a, const struct keel_secret *b);

/* Wipes and frees s. NULL is fine. */
void keel_secret_free(struct keel_secret *s);

/*
 * The bytes of s, borrowed until s is freed. Never NULL for a non-NULL s
 * (a 0-byte secret still has a valid, unreadable-past-0 pointer).
 * keel_secret_data() is for reading, keel_secret_mut() for filling.
 */
const uint8_t *keel_secret_data(const struct keel_secret *s);
uint8_t *keel_secret_mut(struct keel_secret *s);

/* The length of s in bytes; 0 for NULL. */
ptrdiff_t keel_secret_len(const struct keel_secret *s);

/*
 * Constant-time comparison of contents (CRYPTO_memcmp); the lengths are not
 * secret. True if both have the same length and bytes; false if either is NULL.
 */
bool keel_secret_equal(const struct keel_secret *a, const struct keel_secret *b);

#endif
