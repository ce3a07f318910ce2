/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: a decrypted IKEv2 payload chain, as found inside SK (first
 * input byte: the first payload type; the rest: the chain), and the SK
 * helpers that split and unpad an SK body.
 */
#include <string.h>

#include "fuzz-common.h"
#include "wire/ikev2.h"
#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct keel_v2_chain chain;
	static struct keel_v2_payload pl;
	if (size < 1)
		return 0;
	struct keel_rd r = keel_rd_init(data + 1, size - 1);
	if (keel_v2_chain_decode(&r, data[0], KEEL_V2_CHAIN_INNER, &chain) == 0) {
		for (size_t i = 0; i < chain.n; i++)
			if (keel_v2_payload_decode(&chain.p[i], &pl) == 0)
				fuzz_sink((uint64_t)keel_v2_payload_verify(&pl));
		fuzz_sink((uint64_t)keel_v2_chain_verify(&chain));
	}
	/* the same bytes as an SK body: IV 8 or 16, ICV 16 or 12, then unpadded */
	struct keel_v2_bytes body = {.p = data + 1, .len = size - 1};
	struct keel_v2_sk_parts parts;
	size_t iv_len = data[0] & 1 ? 16 : 8, icv_len = data[0] & 2 ? 12 : 16;
	if (keel_v2_sk_split(body, iv_len, icv_len, &parts) == 0) {
		struct keel_v2_bytes inner;
		if (keel_v2_sk_unpad(parts.ciphertext, &inner) == 0)
			fuzz_sink(inner.len);
	}
	return 0;
}
