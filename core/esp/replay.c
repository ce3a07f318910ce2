/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Anti-replay window and ESN inference (RFC 4303 §3.4.3, Appendix A). */
#include <string.h>

#include "esp/replay.h"

void keel_replay_init(struct keel_replay *r, uint32_t window, bool esn)
{
	memset(r, 0, sizeof(*r));
	r->window = window;
	r->n_words = (window + 63) / 64 + 1;
	r->esn = esn;
}

void keel_replay_reset(struct keel_replay *r, uint64_t top)
{
	memset(r->bits, 0, sizeof(r->bits));
	r->top = top;
}

static bool seen(const struct keel_replay *r, uint64_t seq)
{
	uint64_t word = r->bits[(seq / 64) % r->n_words];
	return (word >> (seq % 64)) & 1;
}

/*
 * RFC 4303 A2.2: the window [T - W + 1, T] either lies within one 2^32
 * subspace (case A) or straddles two (case B); Seql is placed in the
 * subspace that puts it nearest to the window. A high half that would
 * underflow 0 or overflow 2^32 - 1 names no sequence number this SA can
 * have received: false.
 */
static bool infer_seq(const struct keel_replay *r, uint32_t seq_lo, uint64_t *seq)
{
	uint32_t th = (uint32_t)(r->top >> 32);
	uint32_t tl = (uint32_t)r->top;
	uint32_t bottom = tl - r->window + 1; /* mod 2^32 */
	uint32_t sh;

	if (!r->esn) {
		*seq = seq_lo;
		return true;
	}
	if (tl >= r->window - 1) { /* case A */
		if (seq_lo >= bottom) {
			sh = th;
		} else {
			if (th == UINT32_MAX)
				return false;
			sh = th + 1;
		}
	} else { /* case B */
		if (seq_lo >= bottom) {
			if (th == 0)
				return false;
			sh = th - 1;
		} else {
			sh = th;
		}
	}
	*seq = (uint64_t)sh << 32 | seq_lo;
	return true;
}

enum keel_esp_status keel_replay_check(const struct keel_replay *r, uint32_t seq_lo, uint64_t *seq)
{
	uint64_t s;

	if (!infer_seq(r, seq_lo, &s) || s == 0)
		return KEEL_ESP_TOO_OLD;
	if (s > r->top) {
		*seq = s;
		return KEEL_ESP_OK;
	}
	if (r->top - s >= r->window)
		return KEEL_ESP_TOO_OLD;
	if (seen(r, s))
		return KEEL_ESP_REPLAYED;
	*seq = s;
	return KEEL_ESP_OK;
}

void keel_replay_accept(struct keel_replay *r, uint64_t seq)
{
	if (seq > r->top) {
		uint64_t from = r->top / 64, to = seq / 64;
		if (to - from >= r->n_words) {
			memset(r->bits, 0, sizeof(r->bits));
		} else {
			for (uint64_t w = from + 1; w <= to; w++)
				r->bits[w % r->n_words] = 0;
		}
		r->top = seq;
	} else if (seq == 0 || r->top - seq >= r->window) {
		return; /* keel_replay_check() refused it: nothing to mark */
	}
	r->bits[(seq / 64) % r->n_words] |= UINT64_C(1) << (seq % 64);
}
