/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: a whole IKEv2 datagram (RFC 7296 §3) through the header and
 * chain decoders, every typed payload decoder, verify() and the name tables.
 */
#include <string.h>

#include "fuzz-common.h"
#include "wire/ikev2.h"

static void walk(const struct keel_v2_chain *c)
{
	static struct keel_v2_payload pl;
	for (size_t i = 0; i < c->n; i++) {
		if (keel_v2_payload_decode(&c->p[i], &pl) != 0)
			continue;
		fuzz_sink((uint64_t)keel_v2_payload_verify(&pl));
		fuzz_sink(strlen(keel_v2_payload_name(pl.type)));
		if (pl.type == KEEL_V2_PAYLOAD_NOTIFY)
			fuzz_sink(strlen(keel_v2_notify_name(pl.u.notify.type)));
	}
	fuzz_sink((uint64_t)keel_v2_chain_verify(c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct keel_v2_msg msg;
	if (keel_v2_msg_decode(data, size, &msg) != 0)
		return 0;
	fuzz_sink(strlen(keel_v2_exchange_name(msg.hdr.exchange)));
	walk(&msg.chain);
	return 0;
}
