/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Diffie-Hellman key exchange for IKE: the groups Keel offers, named by their
 * IKEv2 transform type 4 IDs (RFC 7296 §3.3.2, IANA "Transform Type 4").
 *
 *   14..18  MODP 2048/3072/4096/6144/8192 (RFC 3526), generator 2
 *   19..21  ECP P-256/P-384/P-521 (RFC 5903)
 *   31, 32  Curve25519 / Curve448 (RFC 8031, RFC 7748)
 *
 * The same numbers are the IKEv1 Group Description values (RFC 2409 §6,
 * IANA "IPSEC Group Description") for every group here.
 *
 * Wire formats of the public value (the KE payload data, RFC 7296 §3.4):
 *   MODP    big-endian, left-padded with zeros to the prime length
 *   ECP     x | y, each padded to the field length, no 0x04 prefix (RFC 5903 §7)
 *   X25519/X448  the raw 32/56-byte u-coordinate (RFC 8031 §3.1)
 *
 * Shared secret (g^ir) as used by the key derivation:
 *   MODP    left-padded to the prime length (RFC 7296 §2.14, RFC 2409 §5)
 *   ECP     the x coordinate only, padded to the field length (RFC 5903 §7, §9)
 *   X25519/X448  the raw 32/56-byte output (RFC 8031 §2)
 *
 * The peer's public value is checked as RFC 6989 asks before use; a value
 * that fails is KEEL_ERR_MALFORMED.
 *
 * The private key comes from the caller's struct keel_env (never from the
 * operating system), so a seeded run is reproducible.
 */
#ifndef KEEL_CRYPTO_DH_H
#define KEEL_CRYPTO_DH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/env.h>
#include <keel/err.h>

struct keel_secret;

/* IKEv2 Transform Type 4 IDs (and IKEv1 Group Description values). */
enum keel_dh_group {
	KEEL_DH_MODP_2048 = 14,
	KEEL_DH_MODP_3072 = 15,
	KEEL_DH_MODP_4096 = 16,
	KEEL_DH_MODP_6144 = 17,
	KEEL_DH_MODP_8192 = 18,
	KEEL_DH_ECP_256 = 19,
	KEEL_DH_ECP_384 = 20,
	KEEL_DH_ECP_521 = 21,
	KEEL_DH_CURVE25519 = 31,
	KEEL_DH_CURVE448 = 32,
};

/* The longest public value of any supported group (MODP 8192: 1024 bytes). */
#define KEEL_DH_PUBLIC_MAX_LEN 1024

/* One side of one exchange: a group and our private key. Opaque. */
struct keel_dh;

/*
 * True if group (a transform ID as received, any value) is one Keel
 * implements and the crypto library offers.
 */
bool keel_dh_supported(uint16_t group);

/*
 * Length of the public value on the wire (KE payload data) for group, which
 * is also the length the peer's value must have; KEEL_ERR_UNSUPPORTED for an
 * unknown group.
 */
ptrdiff_t keel_dh_public_len(uint16_t group);

/* Length of the shared secret for group; KEEL_ERR_UNSUPPORTED if unknown. */
ptrdiff_t keel_dh_secret_len(uint16_t group);

/*
 * Creates our side of an exchange in group with a fresh private key drawn
 * from env->random. MODP private exponents are 2*s bits long, s being the
 * group's security strength (NIST SP 800-56A rev. 3 §5.6.1.1 and appendix
 * D): 224 bits for MODP 2048 up to 400 bits for MODP 8192. ECP scalars are
 * drawn uniformly in [1, n-1], X25519/X448 keys are 32/56 random bytes.
 * A source that keeps giving out-of-range values ends in KEEL_ERR_CRYPTO.
 *
 * On success *out is set and the caller owns it (keel_dh_free()).
 * Errors: KEEL_ERR_UNSUPPORTED (group), KEEL_ERR_STATE (env or env->random
 * NULL), whatever env->random returned, KEEL_ERR_NOMEM, KEEL_ERR_CRYPTO.
 */
int keel_dh_new(uint16_t group, const struct keel_env *env, struct keel_dh **out);

/*
 * As keel_dh_new() with a known private key, for tests and vector checks.
 *   MODP    the exponent, big-endian, 1..prime length bytes, 1 < x < p-1
 *   ECP     the scalar, big-endian, exactly the field length (32/48/66), 0 < d < n
 *   X25519/X448  the raw 32/56 bytes (clamped by the function, RFC 7748 §5)
 * Errors: KEEL_ERR_UNSUPPORTED, KEEL_ERR_INVAL (length or range),
 * KEEL_ERR_NOMEM, KEEL_ERR_CRYPTO.
 */
int keel_dh_new_private(uint16_t group, const uint8_t *priv, size_t priv_len, struct keel_dh **out);

/* Frees dh and wipes its private key. NULL is fine. */
void keel_dh_free(struct keel_dh *dh);

/* The group dh was created for. */
enum keel_dh_group keel_dh_group(const struct keel_dh *dh);

/*
 * Writes our public value in wire format (keel_dh_public_len() bytes) to out.
 * Returns the byte count, or KEEL_ERR_NOBUF if out_len is too small.
 */
ptrdiff_t keel_dh_public(const struct keel_dh *dh, uint8_t *out, size_t out_len);

/*
 * Checks the peer's public value (wire format) as RFC 6989 §2 asks and
 * computes the shared secret into a new struct keel_secret of
 * keel_dh_secret_len() bytes, owned by the caller (*out, set on success only).
 * dh may be used again (e.g. after a retransmission).
 * Errors: KEEL_ERR_MALFORMED (wrong length, out of range, not on the curve,
 * all-zero X25519/X448 result), KEEL_ERR_NOMEM, KEEL_ERR_CRYPTO.
 */
int keel_dh_compute(const struct keel_dh *dh, const uint8_t *peer, size_t peer_len,
                    struct keel_secret **out);

#endif
