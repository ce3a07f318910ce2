/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The anti-replay window of an inbound ESP SA (RFC 4303 §3.4.3) and the
 * inference of the high half of an extended sequence number (RFC 4303
 * Appendix A2).
 *
 * The window is a bitmap of the last `window` sequence numbers below and
 * including `top`, kept as a ring of 64-bit words (the layout of RFC 6479):
 * sliding forward clears whole words and never shifts, so a jump of any size
 * costs at most one pass over the ring.
 *
 * Use: keel_replay_check() before the ICV (cheap rejection of replays and
 * old packets, and the full sequence number for the ICV), then
 * keel_replay_accept() only once the ICV has verified.
 */
#ifndef KEEL_ESP_REPLAY_H
#define KEEL_ESP_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/esp.h>

/* ceil(KEEL_ESP_REPLAY_WINDOW_MAX / 64) + 1: a spare word lets the ring cover the window. */
#define KEEL_REPLAY_MAX_WORDS (KEEL_ESP_REPLAY_WINDOW_MAX / 64 + 1)

struct keel_replay {
	uint64_t top;     /* highest sequence number accepted; 0 before the first */
	uint32_t window;  /* W, in packets */
	uint32_t n_words; /* words of the ring in use: ceil(W / 64) + 1 */
	bool esn;
	uint64_t bits[KEEL_REPLAY_MAX_WORDS];
};

/* window must lie in KEEL_ESP_REPLAY_WINDOW_MIN..MAX (the caller checked). */
void keel_replay_init(struct keel_replay *r, uint32_t window, bool esn);

/*
 * Places the received 32-bit sequence number seq_lo: writes the full
 * sequence number to *seq (with ESN, seq_hi inferred as RFC 4303 A2.2 says)
 * and returns KEEL_ESP_OK if a packet with it may be new, KEEL_ESP_REPLAYED
 * if it was already accepted, KEEL_ESP_TOO_OLD if it lies left of the
 * window (sequence number 0 included: numbering starts at 1, §3.3.3).
 * *seq is written only on KEEL_ESP_OK.
 */
enum keel_esp_status keel_replay_check(const struct keel_replay *r, uint32_t seq_lo, uint64_t *seq);

/* Marks seq (checked OK, then authenticated) as received, sliding the window. */
void keel_replay_accept(struct keel_replay *r, uint64_t seq);

/* Empties the window and puts its top at top (tests; a fresh SA has top 0). */
void keel_replay_reset(struct keel_replay *r, uint64_t top);

#endif
