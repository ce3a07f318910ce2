/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Address and text helpers shared inside core/ikev2 (no socket headers). */
#ifndef KEEL_IKEV2_ADDR_H
#define KEEL_IKEV2_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/config.h>

/* Parses an IPv4 or IPv6 literal of len bytes (no port). */
bool keel_addr_parse(const char *s, size_t len, struct keel_addr *out);

/*
 * Formats the address bytes of family (RFC 5952 for IPv6) into buf,
 * NUL-terminated and truncated to cap; returns the untruncated length.
 */
size_t keel_addr_format(enum keel_af family, const uint8_t *bytes, char *buf, size_t cap);

/*
 * Escapes peer bytes for logs: printable ASCII stays, everything else
 * (and '\\', '"') becomes \xHH. Stops before overflowing; returns the length.
 */
size_t keel_escape(const uint8_t *p, size_t len, char *buf, size_t cap);

/* The prefix length if [start, end] (n bytes each) is exactly one prefix, else -1. */
int keel_range_prefix_len(const uint8_t *start, const uint8_t *end, size_t n);

#endif
