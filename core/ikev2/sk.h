/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Encrypted payload (SK, RFC 7296 §3.14) of one IKE SA: sealing our
 * messages and opening the peer's, with AEAD (RFC 5282) or a block cipher
 * plus integrity.
 */
#ifndef KEEL_IKEV2_SK_H
#define KEEL_IKEV2_SK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/env.h>

#include "crypto/cipher.h"
#include "crypto/kdf.h"
#include "crypto/prf.h"
#include "wire/ikev2.h"

struct keel_sk {
	uint16_t encr;
	unsigned key_bits;
	enum keel_integ_alg integ;
	struct keel_aead *aead_out, *aead_in;
	struct keel_cipher *cipher_out, *cipher_in;
	struct keel_integ *integ_out, *integ_in;
	size_t iv_len;
	size_t icv_len;
	size_t block_len;
	uint64_t iv_counter; /* AEAD: the explicit IV is a counter, never reused under one key */
};

/*
 * Keys sk for one IKE SA. initiator: we are the original initiator of this
 * IKE SA (we send with SK_ei/SK_ai and receive with SK_er/SK_ar).
 * Errors: those of the cipher and integrity modules.
 */
int keel_sk_init(struct keel_sk *sk, uint16_t encr, unsigned key_bits, enum keel_integ_alg integ,
                 const struct keel_ikev2_ike_keys *keys, bool initiator);

/* Frees the contexts (wiping keys); sk is empty and reusable. */
void keel_sk_clear(struct keel_sk *sk);

/*
 * Fills the IV, encrypts and computes the ICV of a message laid out by
 * keel_v2_sk_end() and keel_v2_chain_finish() in buf.
 */
int keel_sk_protect(struct keel_sk *sk, const struct keel_env *env, uint8_t *buf,
                    const struct keel_v2_sk_layout *lay);

/*
 * Opens the SK payload at offset sk_off of msg (msg_len bytes, the whole
 * message, writable: decrypted in place). The ICV is checked first, in
 * constant time. On success *plain / *plain_len is the inner chain with the
 * padding removed (inside msg).
 * Errors: KEEL_ERR_MALFORMED (lengths), KEEL_ERR_AUTH (ICV), crypto errors.
 */
int keel_sk_open(struct keel_sk *sk, uint8_t *msg, size_t msg_len, size_t sk_off, uint8_t **plain,
                 size_t *plain_len);

/*
 * The same for a payload whose header before the IV is hdr_len bytes:
 * KEEL_V2_GENERIC_HDR_LEN for SK, KEEL_V2_SKF_HDR_LEN for an SKF fragment
 * (RFC 7383 §2.5, whose associated data and ICV cover Fragment Number and
 * Total Fragments too).
 */
int keel_sk_open_payload(struct keel_sk *sk, uint8_t *msg, size_t msg_len, size_t sk_off,
                         size_t hdr_len, uint8_t **plain, size_t *plain_len);

#endif
