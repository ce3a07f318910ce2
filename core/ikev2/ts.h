/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Traffic selector checks (RFC 7296 §2.9) and routes from selectors. */
#ifndef KEEL_IKEV2_TS_H
#define KEEL_IKEV2_TS_H

#include <stdbool.h>
#include <stddef.h>

#include <keel/config.h>
#include <keel/ike.h>

/* True if a lies inside b: same family, address range, protocol and port range. */
bool keel_ts_within(const struct keel_ts *a, const struct keel_ts *b);

/*
 * RFC 7296 §2.9: the responder may narrow what we asked for, never widen
 * it. True if every selector of got lies inside one of asked and got is not
 * empty.
 */
bool keel_ts_narrowed_ok(const struct keel_ts *got, size_t n_got, const struct keel_ts *asked,
                         size_t n_asked);

/* The "everything" selector of a family. */
void keel_ts_all(enum keel_af family, struct keel_ts *out);

/*
 * Splits the address range of ts into prefixes, appending to out (cap
 * entries, *n in use). Returns false when cap runs out (what fitted stays).
 */
bool keel_ts_to_prefixes(const struct keel_ts *ts, struct keel_prefix *out, size_t cap, size_t *n);

#endif
