/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the wire fuzz targets: walk a decoded chain through every typed decoder. */
#ifndef KEEL_FUZZ_COMMON_H
#define KEEL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Keeps the optimiser from discarding results, so every decoded field is
 * really produced. A volatile sink, not a check: the fuzzer's checks are the
 * sanitizers.
 */
volatile uint64_t fuzz_sink_value; /* one per target binary: only the target includes this */

static inline void fuzz_sink(uint64_t v)
{
	fuzz_sink_value += v;
}

#endif
