/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private entry points of core/esp/ for known-answer tests: encapsulation
 * with an IV the test gives (published vectors fix the IV), and moving an
 * SA's sequence number (exhaustion and ESN wrap without sending 2^32 packets).
 * The data path never uses them.
 */
#ifndef KEEL_ESP_INTERNAL_H
#define KEEL_ESP_INTERNAL_H

#include <keel/esp.h>

/* keel_esp_encap() with the explicit IV iv (keel_esp_header_len() - 8 bytes). */
ptrdiff_t keel_esp_encap_iv(struct keel_esp_sa *sa, const uint8_t *iv, const uint8_t *inner,
                            ptrdiff_t inner_len, uint8_t *out, ptrdiff_t out_cap);

/*
 * Outbound: makes seq the last sequence number sent (the next packet carries
 * seq + 1). Inbound: empties the replay window and puts its top at seq.
 */
void keel_esp_sa_set_seq(struct keel_esp_sa *sa, uint64_t seq);

#endif
