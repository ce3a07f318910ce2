/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Distinguished names from text (dn.c). */
#ifndef KEEL_CRYPTO_DN_H
#define KEEL_CRYPTO_DN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/err.h>

/*
 * The DER of the X.509 Name written in text as "C=CH, O=Example, CN=gw"
 * (RDNs in the order written; '\' escapes a ',' or '=' in a value) or
 * "/C=CH/O=Example/CN=gw". Attribute types: OpenSSL's short and long names
 * (C, ST, L, O, OU, CN, DC, serialNumber, emailAddress, ...), "E" or
 * "Email" for emailAddress, or dotted OIDs. Writes at most cap bytes to out
 * and the length to *len. KEEL_ERR_INVAL: empty, a pair without '=' or
 * with an empty side, an unknown attribute, a value the attribute cannot
 * take (a country that is not two letters); KEEL_ERR_NOBUF: longer than cap.
 */
int keel_dn_from_text(const char *text, uint8_t *out, size_t cap, size_t *len);

/*
 * Whether two DER Names are the same name (X509_NAME_cmp: string types,
 * case and repeated blanks do not count). false if either does not parse.
 */
bool keel_dn_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

#endif
