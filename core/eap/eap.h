/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The client (peer) side of EAP (RFC 3748) as IKEv2 carries it in EAP
 * payloads (RFC 7296 §2.16): Identity, Notification, legacy Nak, EAP-MD5
 * (RFC 3748 §5.4), EAP-GTC (RFC 3748 §5.6) and EAP-MSCHAPv2
 * (draft-kamath-pppext-eap-mschapv2-02 over RFC 2759, keys per RFC 3079).
 *
 * The engine feeds each EAP message from the gateway to keel_eap_process()
 * and sends back what it writes, until keel_eap_status() is SUCCESS or
 * FAILURE. Then, RFC 7296 §2.16: with a method that generates keys
 * (MS-CHAPv2) the AUTH payloads use keel_eap_msk() as the shared secret;
 * with one that does not (MD5, GTC) they use SK_pi / SK_pr as in §2.15.
 *
 * Success is only accepted after the method did its part (for MS-CHAPv2:
 * after the gateway's authenticator response proved that it knows the
 * password, RFC 2759 §8.7, checked in constant time).
 */
#ifndef KEEL_EAP_EAP_H
#define KEEL_EAP_EAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/env.h>
#include <keel/err.h>
#include <keel/secret.h>

/* EAP Codes (RFC 3748 §4) */
enum keel_eap_code {
	KEEL_EAP_CODE_REQUEST = 1,
	KEEL_EAP_CODE_RESPONSE = 2,
	KEEL_EAP_CODE_SUCCESS = 3,
	KEEL_EAP_CODE_FAILURE = 4,
};

/* EAP Types (IANA "Method Types") */
enum keel_eap_type {
	KEEL_EAP_TYPE_IDENTITY = 1,
	KEEL_EAP_TYPE_NOTIFICATION = 2,
	KEEL_EAP_TYPE_NAK = 3,
	KEEL_EAP_TYPE_MD5 = 4,
	KEEL_EAP_TYPE_GTC = 6,
	KEEL_EAP_TYPE_MSCHAPV2 = 26,
};

/* Methods the user allows (keel_eap_config.methods). */
#define KEEL_EAP_ALLOW_MSCHAPV2 (1u << 0)
#define KEEL_EAP_ALLOW_GTC      (1u << 1)
#define KEEL_EAP_ALLOW_MD5      (1u << 2)
#define KEEL_EAP_ALLOW_ALL      (KEEL_EAP_ALLOW_MSCHAPV2 | KEEL_EAP_ALLOW_GTC | KEEL_EAP_ALLOW_MD5)

enum keel_eap_status {
	KEEL_EAP_CONTINUE, /* send what keel_eap_process() wrote, wait for more */
	KEEL_EAP_SUCCESS,  /* authenticated; keel_eap_msk() may hold the MSK */
	KEEL_EAP_FAILURE,  /* keel_eap_result() says why */
};

enum keel_eap_result {
	KEEL_EAP_RESULT_NONE = 0,                 /* still running */
	KEEL_EAP_RESULT_OK,                       /* EAP-Success after a completed method */
	KEEL_EAP_RESULT_CREDENTIALS_REFUSED,      /* user name or password refused (MS-CHAPv2 E=691,
	                                           * or EAP-Failure after an MD5/GTC answer) */
	KEEL_EAP_RESULT_RESTRICTED_HOURS,         /* MS-CHAPv2 E=646 */
	KEEL_EAP_RESULT_ACCOUNT_DISABLED,         /* E=647 */
	KEEL_EAP_RESULT_PASSWORD_EXPIRED,         /* E=648 */
	KEEL_EAP_RESULT_NO_DIALIN,                /* E=649: no dial-in permission */
	KEEL_EAP_RESULT_SERVER_NOT_AUTHENTICATED, /* bad MS-CHAPv2 authenticator response */
	KEEL_EAP_RESULT_NO_COMMON_METHOD,         /* we sent a Nak and the gateway gave up */
	KEEL_EAP_RESULT_EARLY_SUCCESS,            /* EAP-Success before a method completed */
	KEEL_EAP_RESULT_FAILURE,                  /* EAP-Failure, nothing more specific known */
};

/* Static English text of a result ("user name or password refused", ...). */
const char *keel_eap_result_text(enum keel_eap_result r);

struct keel_eap_config {
	const uint8_t *identity; /* EAP identity (user name, may be DOMAIN\user), UTF-8 */
	ptrdiff_t identity_len;  /* 0..253 */
	const struct keel_secret *password; /* UTF-8; copied */
	unsigned methods;                   /* KEEL_EAP_ALLOW_*; 0 means all */
};

struct keel_eap;

/*
 * A new client-side EAP conversation. cfg is copied (the password into a
 * wiped secret); env is borrowed for the object's life (MS-CHAPv2 peer
 * challenges come from it). Errors: KEEL_ERR_INVAL (missing password,
 * identity too long), KEEL_ERR_NOMEM.
 */
int keel_eap_new(const struct keel_eap_config *cfg, const struct keel_env *env,
                 struct keel_eap **out);

/* Frees e, wiping the password, its hash and the MSK. NULL is fine. */
void keel_eap_free(struct keel_eap *e);

/*
 * Processes one EAP message from the gateway (the body of an EAP payload)
 * and writes our EAP message into out. Returns the bytes to send (> 0), or 0
 * when there is nothing to send (after Success or Failure: see
 * keel_eap_status()). A retransmitted request (same Identifier as the one
 * last answered) gets the same answer again (RFC 3748 §4.1).
 * Errors: KEEL_ERR_MALFORMED (the message does not parse, or is a Response or
 * a Nak request: dropped, nothing changes), KEEL_ERR_AUTH (the gateway's
 * MS-CHAPv2 authenticator response is wrong: status FAILURE), KEEL_ERR_STATE
 * (already finished), KEEL_ERR_NOBUF, KEEL_ERR_NOMEM, KEEL_ERR_CRYPTO.
 */
ptrdiff_t keel_eap_process(struct keel_eap *e, const uint8_t *in, ptrdiff_t in_len, uint8_t *out,
                           ptrdiff_t out_cap);

enum keel_eap_status keel_eap_status(const struct keel_eap *e);
enum keel_eap_result keel_eap_result(const struct keel_eap *e);

/* The method in use or used (enum keel_eap_type), 0 before any. */
uint8_t keel_eap_method(const struct keel_eap *e);

/*
 * The MSK (64 bytes) after SUCCESS with a method that generates keys,
 * otherwise NULL. Borrowed until e is freed.
 */
const struct keel_secret *keel_eap_msk(const struct keel_eap *e);

/*
 * The last text the gateway showed (Notification, GTC prompt, MS-CHAPv2
 * "M=" message), control and non-ASCII bytes escaped; "" when none.
 */
const char *keel_eap_message(const struct keel_eap *e);

/* The MS-CHAPv2 failure code (E=691, ...), 0 when none was received. */
int keel_eap_mschapv2_error(const struct keel_eap *e);

/* ---- MS-CHAPv2 primitives (RFC 2759 §8, RFC 3079 §3.4) ------------------ */

#define KEEL_MSCHAPV2_CHALLENGE_LEN   16
#define KEEL_MSCHAPV2_NT_RESPONSE_LEN 24
#define KEEL_MSCHAPV2_HASH_LEN        16
#define KEEL_MSCHAPV2_AUTH_RESP_LEN   42 /* "S=" and 40 hex digits */
#define KEEL_MSCHAPV2_MSK_LEN         64

/*
 * NtPasswordHash (RFC 2759 §8.3): MD4 of the password as UTF-16LE. The
 * password is UTF-8, at most 256 UTF-16 units (RFC 2759 §8.1). KEEL_ERR_INVAL
 * for invalid UTF-8 or a longer password.
 */
int keel_mschapv2_nt_hash(const struct keel_secret *password, uint8_t hash[KEEL_MSCHAPV2_HASH_LEN]);

/* The user name MS-CHAPv2 hashes: without a "DOMAIN\" prefix (RFC 2759 §4). */
void keel_mschapv2_user(const uint8_t *identity, size_t identity_len, const uint8_t **user,
                        size_t *user_len);

/* ChallengeHash (RFC 2759 §8.2). */
int keel_mschapv2_challenge_hash(const uint8_t peer_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN],
                                 const uint8_t auth_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN],
                                 const uint8_t *user, size_t user_len, uint8_t out[8]);

/* GenerateNTResponse (RFC 2759 §8.1), from the password hash. */
int keel_mschapv2_nt_response(const uint8_t auth_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN],
                              const uint8_t peer_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN],
                              const uint8_t *user, size_t user_len,
                              const uint8_t password_hash[KEEL_MSCHAPV2_HASH_LEN],
                              uint8_t out[KEEL_MSCHAPV2_NT_RESPONSE_LEN]);

/* GenerateAuthenticatorResponse (RFC 2759 §8.7): "S=" and 40 upper-case hex digits, NUL-terminated.
 */
int keel_mschapv2_auth_response(const uint8_t password_hash[KEEL_MSCHAPV2_HASH_LEN],
                                const uint8_t nt_response[KEEL_MSCHAPV2_NT_RESPONSE_LEN],
                                const uint8_t peer_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN],
                                const uint8_t auth_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN],
                                const uint8_t *user, size_t user_len,
                                char out[KEEL_MSCHAPV2_AUTH_RESP_LEN + 1]);

/* GetMasterKey (RFC 3079 §3.4), from the password hash. */
int keel_mschapv2_master_key(const uint8_t password_hash[KEEL_MSCHAPV2_HASH_LEN],
                             const uint8_t nt_response[KEEL_MSCHAPV2_NT_RESPONSE_LEN],
                             uint8_t out[16]);

/* GetAsymmetricStartKey (RFC 3079 §3.4), 16-byte keys. */
int keel_mschapv2_start_key(const uint8_t master_key[16], bool send, bool server, uint8_t out[16]);

/*
 * The EAP-MSCHAPv2 MSK as strongSwan (and Windows) compute it: the peer's
 * MasterSendKey | MasterReceiveKey (= the server's MasterReceiveKey |
 * MasterSendKey), 32 bytes, zero-padded to 64. *out is a new secret.
 */
int keel_mschapv2_msk(const uint8_t password_hash[KEEL_MSCHAPV2_HASH_LEN],
                      const uint8_t nt_response[KEEL_MSCHAPV2_NT_RESPONSE_LEN],
                      struct keel_secret **out);

/* ---- MD4 (RFC 1320), for the NT password hash ----------------------------- */

void keel_md4(const uint8_t *data, size_t len, uint8_t out[16]);

#endif
