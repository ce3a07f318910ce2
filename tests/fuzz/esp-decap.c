/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: ESP decapsulation (RFC 4303) on one inbound AES-GCM SA.
 *
 * Input byte 0 picks a mode. Even: the rest is an ESP packet as received
 * (SPI and sequence number forced to the SA's when bit 1 is set, so the
 * replay and ICV checks are reached). Odd: the rest is a plaintext payload,
 * trailer included, that the target seals with the SA's own key and a
 * sequence number from the input, so the checks after the ICV (padding,
 * pad length, next header, inner length, replay window updates) see
 * arbitrary authentic contents.
 */
#include <stdlib.h>
#include <string.h>

#include <keel/esp.h>

#include "crypto/cipher.h"
#include "fuzz-common.h"

#define SPI 0x0000c0deu

static const uint8_t keymat[36] = {
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
	0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
	0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0xca, 0xfe, 0xba, 0xbe,
};

static struct keel_esp_sa *sa;
static struct keel_aead *sealer;

static void setup(void)
{
	struct keel_esp_sa_params p = {
		.dir = KEEL_ESP_INBOUND,
		.spi = SPI,
		.encr = 20,
		.encr_key_bits = 256,
		.encr_keymat = keymat,
		.encr_keymat_len = sizeof(keymat),
		.replay_window = 64,
	};
	if (keel_esp_sa_new(&p, &sa) != 0 ||
	    keel_aead_new(20, 256, KEEL_CIPHER_ENCRYPT, keymat, sizeof(keymat), &sealer) != 0)
		abort();
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pkt[70000];
	struct keel_esp_rx rx;
	if (!sa)
		setup();
	if (size < 1 || size > 65000)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;

	if (!(mode & 1)) {
		memcpy(pkt, data, size);
		if ((mode & 2) && size >= 8) {
			put32(pkt, SPI);
			put32(pkt + 4, 1 + (mode >> 2));
		}
		fuzz_sink((uint64_t)keel_esp_decap(sa, pkt, (ptrdiff_t)size, &rx));
		return 0;
	}

	/* seal data[4..] as the encrypted part, sequence number from data[0..3] */
	if (size < 4)
		return 0;
	uint32_t seq = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
		       (uint32_t)data[2] << 8 | data[3];
	const uint8_t *plain = data + 4;
	size_t plain_len = size - 4;
	put32(pkt, SPI);
	put32(pkt + 4, seq);
	memcpy(pkt + 8, pkt + 4, 4); /* IV: any 8 bytes */
	memcpy(pkt + 12, "\0\0\0\0", 4);
	if (keel_aead_seal(sealer, pkt + 8, pkt, 8, plain, plain_len, pkt + 16,
			   pkt + 16 + plain_len) != 0)
		return 0;
	enum keel_esp_status st = keel_esp_decap(sa, pkt, (ptrdiff_t)(16 + plain_len + 16), &rx);
	if (st == KEEL_ESP_OK)
		fuzz_sink(rx.inner[0] ^ rx.inner[rx.inner_len - 1]);
	return 0;
}
