/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the EAP state machine (eap.c) and its methods (md5.c, gtc.c,
 * mschapv2.c) share. Not for other modules.
 */
#ifndef KEEL_EAP_INTERNAL_H
#define KEEL_EAP_INTERNAL_H

#include "eap/eap.h"
#include "wire/wire.h"

#define EAP_HDR_LEN     4   /* Code, Identifier, Length (RFC 3748 §4) */
#define EAP_MESSAGE_LEN 256 /* displayable text kept, escaped */

struct keel_eap {
	uint8_t *identity;
	size_t identity_len;
	struct keel_secret *password;
	unsigned methods;
	const struct keel_env *env;

	enum keel_eap_status status;
	enum keel_eap_result result;
	uint8_t method;   /* type of the method in use, 0 before one */
	bool method_done; /* it did its part: EAP-Success may now be accepted */
	bool responded;   /* we answered a method request (for the Failure result) */
	bool nak_sent;
	int last_id;                       /* Identifier of the request last answered, -1 none */
	struct keel_secret *last_response; /* for retransmitted requests; may hold a password */
	struct keel_secret *msk;
	char message[EAP_MESSAGE_LEN];
	int ms_error;

	/* MS-CHAPv2 */
	bool ms_have_hash;
	uint8_t ms_password_hash[KEEL_MSCHAPV2_HASH_LEN];
	uint8_t ms_nt_response[KEEL_MSCHAPV2_NT_RESPONSE_LEN];
	char ms_auth_response[KEEL_MSCHAPV2_AUTH_RESP_LEN + 1]; /* what the gateway must send */
	bool ms_responded;
};

/* Keeps peer text for keel_eap_message(), escaped. */
void eap_set_message(struct keel_eap *e, const uint8_t *p, size_t n);

/*
 * Method handlers: req is the Type-Data of a Request (after the Type octet),
 * id its Identifier; they write the Type-Data of the Response into w (the
 * caller wrote the header and Type). They return 0 or a negative
 * enum keel_err; KEEL_ERR_MALFORMED leaves e unchanged.
 */
int eap_md5_respond(struct keel_eap *e, uint8_t id, struct keel_rd *req, struct keel_wr *w);
int eap_gtc_respond(struct keel_eap *e, struct keel_rd *req, struct keel_wr *w);
int eap_mschapv2_respond(struct keel_eap *e, struct keel_rd *req, struct keel_wr *w);

#endif
