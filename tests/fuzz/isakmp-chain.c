/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: a decrypted ISAKMP body (first input byte: the first payload
 * type; second: low bit set means padding is allowed; the rest: the body),
 * as the IKEv1 engine decodes after CBC decryption.
 */
#include "fuzz-common.h"
#include "wire/isakmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct keel_v1_msg msg;
	if (size < 2)
		return 0;
	if (keel_v1_chain_decode(data[0], data + 2, size - 2, data[1] & 1, &msg) != 0)
		return 0;
	for (size_t i = 0; i < msg.n_payloads; i++)
		fuzz_sink((uint64_t)keel_v1_payload_verify(&msg.pl[i]));
	fuzz_sink(msg.pad_len);
	return 0;
}
