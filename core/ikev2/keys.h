/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Keys of IKE and CHILD SAs and the shared-key AUTH value (RFC 7296 §2.14-2.18). */
#ifndef KEEL_IKEV2_KEYS_H
#define KEEL_IKEV2_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/secret.h>

#include "crypto/cipher.h"
#include "crypto/kdf.h"
#include "crypto/prf.h"
#include "ikev2/sk.h"

/* The algorithms negotiated for an IKE SA or a CHILD SA (IKEv2 transform IDs). */
struct keel_algs {
	uint16_t encr;
	uint16_t encr_key_bits;
	uint16_t prf;   /* IKE only */
	uint16_t integ; /* 0 with AEAD */
	uint16_t dh;    /* 0: none (a CHILD SA without PFS) */
	uint8_t esn;    /* CHILD only */
};

/* SK_* of an IKE SA and the SK payload contexts made from them. */
struct keel_ike_keyset {
	struct keel_ikev2_ike_keys keys;
	struct keel_sk sk;
};

/*
 * Derives SK_* (RFC 7296 §2.14; with old_sk_d, a rekey, §2.18:
 * SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old PRF) and
 * keys the SK contexts. initiator: we are the original initiator of this
 * IKE SA. On error ks is left empty.
 */
int keel_ike_keys_derive(struct keel_ike_keyset *ks, const struct keel_algs *alg, bool initiator,
                         uint64_t spi_i, uint64_t spi_r, const uint8_t *nonce_i, size_t nonce_i_len,
                         const uint8_t *nonce_r, size_t nonce_r_len, const struct keel_secret *g_ir,
                         uint16_t old_prf, const struct keel_secret *old_sk_d);

void keel_ike_keys_clear(struct keel_ike_keyset *ks);

/*
 * RFC 7296 §2.15 shared-key AUTH:
 *   prf(prf(psk, "Key Pad for IKEv2"), msg | nonce | prf(sk_p, id_body))
 * msg: the sender's IKE_SA_INIT message; nonce: the OTHER side's nonce;
 * sk_p: SK_pi for the initiator's AUTH, SK_pr for the responder's; id_body:
 * the ID payload body (ID Type, 3 reserved bytes, identification data).
 * Returns the byte count (the PRF output length) or an error.
 */
ptrdiff_t keel_auth_psk(uint16_t prf_id, const struct keel_secret *psk, const uint8_t *msg,
                        size_t msg_len, const uint8_t *nonce, size_t nonce_len,
                        const struct keel_secret *sk_p, const uint8_t *id_body, size_t id_len,
                        uint8_t *out, size_t cap);

/*
 * MACedIDFor{I,R} of RFC 7296 §2.15: prf(sk_p, id_body), the last part of
 * the octets that AUTH signs. Returns the byte count or an error.
 */
ptrdiff_t keel_auth_maced_id(uint16_t prf_id, const struct keel_secret *sk_p,
                             const uint8_t *id_body, size_t id_len, uint8_t *out, size_t cap);

/* RFC 7296 §2.17 KEYMAT for a CHILD SA with the IKE SA's PRF and SK_d. */
int keel_child_keys_derive(const struct keel_algs *ike_alg, const struct keel_algs *alg,
                           const struct keel_secret *sk_d, const uint8_t *nonce_i,
                           size_t nonce_i_len, const uint8_t *nonce_r, size_t nonce_r_len,
                           const struct keel_secret *g_ir, struct keel_child_keys *out);

#endif
