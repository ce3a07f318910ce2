/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What shares the NAT-T port with ESP: IKE behind a marker, keepalives (RFC 3948). */
#include <keel/esp.h>

#include "wire/wire.h"

#define NATT_KEEPALIVE 0xff

enum keel_natt_kind keel_natt_classify(const uint8_t *dgram, ptrdiff_t len, ptrdiff_t *payload_off)
{
	struct keel_rd r;
	ptrdiff_t off;
	uint32_t first;

	if (!dgram || len <= 0)
		return KEEL_NATT_INVALID;
	r = keel_rd_init(dgram, (size_t)len);
	/* RFC 3948 §2.3: a NAT-keepalive is the one byte 0xff */
	if (len == 1)
		return keel_rd_u8(&r) == NATT_KEEPALIVE ? KEEL_NATT_KEEPALIVE : KEEL_NATT_INVALID;
	first = keel_rd_u32(&r);
	if (r.bad)
		return KEEL_NATT_INVALID;
	if (first == 0) {
		/* RFC 3948 §2.2: the non-ESP marker; an IKE message follows */
		if (r.left == 0)
			return KEEL_NATT_INVALID;
		off = KEEL_NATT_MARKER_LEN;
	} else {
		/* RFC 3948 §2.1: an ESP header, whose SPI is never 0 */
		if (len < KEEL_ESP_SPI_SEQ_LEN)
			return KEEL_NATT_INVALID;
		off = 0;
	}
	if (payload_off)
		*payload_off = off;
	return off ? KEEL_NATT_IKE : KEEL_NATT_ESP;
}

ptrdiff_t keel_natt_write_keepalive(uint8_t *buf, ptrdiff_t cap)
{
	struct keel_wr w = keel_wr_init(buf, cap > 0 ? (size_t)cap : 0);

	keel_wr_u8(&w, NATT_KEEPALIVE);
	return keel_wr_finish(&w);
}

ptrdiff_t keel_natt_write_marker(uint8_t *buf, ptrdiff_t cap)
{
	struct keel_wr w = keel_wr_init(buf, cap > 0 ? (size_t)cap : 0);

	keel_wr_zero(&w, KEEL_NATT_MARKER_LEN);
	return keel_wr_finish(&w);
}
