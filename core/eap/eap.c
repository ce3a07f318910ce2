/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The EAP peer state machine (RFC 3748 §4, §5.1-5.3, RFC 7296 §2.16):
 * Identity, Notification and Nak here; the methods in md5.c, gtc.c and
 * mschapv2.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "eap/eap-internal.h"

#define MAX_IDENTITY_LEN 253 /* what RADIUS can carry onwards (RFC 2865 §5.1) */

/* Methods in our order of preference, for the Nak (RFC 3748 §5.3.1). */
static const struct {
	uint8_t type;
	unsigned allow;
} methods[] = {
    {KEEL_EAP_TYPE_MSCHAPV2, KEEL_EAP_ALLOW_MSCHAPV2},
    {KEEL_EAP_TYPE_GTC, KEEL_EAP_ALLOW_GTC},
    {KEEL_EAP_TYPE_MD5, KEEL_EAP_ALLOW_MD5},
};

const char *keel_eap_result_text(enum keel_eap_result r)
{
	switch (r) {
	case KEEL_EAP_RESULT_NONE:
		return "in progress";
	case KEEL_EAP_RESULT_OK:
		return "authenticated";
	case KEEL_EAP_RESULT_CREDENTIALS_REFUSED:
		return "user name or password refused";
	case KEEL_EAP_RESULT_RESTRICTED_HOURS:
		return "logon not allowed at this time";
	case KEEL_EAP_RESULT_ACCOUNT_DISABLED:
		return "account disabled";
	case KEEL_EAP_RESULT_PASSWORD_EXPIRED:
		return "password expired";
	case KEEL_EAP_RESULT_NO_DIALIN:
		return "account has no dial-in permission";
	case KEEL_EAP_RESULT_SERVER_NOT_AUTHENTICATED:
		return "the gateway did not prove that it knows the password";
	case KEEL_EAP_RESULT_NO_COMMON_METHOD:
		return "no EAP method in common with the gateway";
	case KEEL_EAP_RESULT_EARLY_SUCCESS:
		return "the gateway ended EAP before authenticating";
	case KEEL_EAP_RESULT_FAILURE:
		return "EAP authentication failed";
	}
	return "unknown";
}

void eap_set_message(struct keel_eap *e, const uint8_t *p, size_t n)
{
	size_t len = 0;
	while (n > 0 && p[n - 1] == '\0') /* some servers NUL-terminate */
		n--;
	for (size_t i = 0; i < n && len + 5 < sizeof(e->message); i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
			e->message[len++] = (char)p[i];
		} else {
			snprintf(e->message + len, 5, "\\x%02x", p[i]);
			len += 4;
		}
	}
	e->message[len] = '\0';
}

int keel_eap_new(const struct keel_eap_config *cfg, const struct keel_env *env,
                 struct keel_eap **out)
{
	int rc = KEEL_ERR_INVAL;
	struct keel_eap *e = NULL;

	if (!cfg || !cfg->password || !env || !out || cfg->identity_len < 0 ||
	    cfg->identity_len > MAX_IDENTITY_LEN || (cfg->identity_len > 0 && !cfg->identity))
		goto out;
	unsigned allow = cfg->methods ? cfg->methods & KEEL_EAP_ALLOW_ALL : KEEL_EAP_ALLOW_ALL;
	if (!allow)
		goto out;
	rc = KEEL_ERR_NOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		goto out;
	e->identity = malloc(cfg->identity_len > 0 ? (size_t)cfg->identity_len : 1);
	e->password = keel_secret_dup(cfg->password);
	if (!e->identity || !e->password)
		goto out;
	if (cfg->identity_len > 0)
		memcpy(e->identity, cfg->identity, (size_t)cfg->identity_len);
	e->identity_len = (size_t)cfg->identity_len;
	e->methods = allow;
	e->env = env;
	e->status = KEEL_EAP_CONTINUE;
	e->result = KEEL_EAP_RESULT_NONE;
	e->last_id = -1;
	*out = e;
	e = NULL;
	rc = 0;
out:
	keel_eap_free(e);
	return rc;
}

void keel_eap_free(struct keel_eap *e)
{
	if (!e)
		return;
	free(e->identity);
	keel_secret_free(e->password);
	keel_secret_free(e->last_response);
	keel_secret_free(e->msk);
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
}

enum keel_eap_status keel_eap_status(const struct keel_eap *e)
{
	return e->status;
}

enum keel_eap_result keel_eap_result(const struct keel_eap *e)
{
	return e->result;
}

uint8_t keel_eap_method(const struct keel_eap *e)
{
	return e->method;
}

const struct keel_secret *keel_eap_msk(const struct keel_eap *e)
{
	return e->status == KEEL_EAP_SUCCESS ? e->msk : NULL;
}

const char *keel_eap_message(const struct keel_eap *e)
{
	return e->message;
}

int keel_eap_mschapv2_error(const struct keel_eap *e)
{
	return e->ms_error > 0 ? e->ms_error : 0;
}

static bool allowed(const struct keel_eap *e, uint8_t type)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (methods[i].type == type)
			return (e->methods & methods[i].allow) != 0;
	return false;
}

/* Answers a Request; w already holds Code, Identifier and a Length to patch. */
static int answer(struct keel_eap *e, uint8_t id, uint8_t type, struct keel_rd *req,
                  struct keel_wr *w)
{
	int rc;
	switch (type) {
	case KEEL_EAP_TYPE_IDENTITY:
		/* RFC 3748 §5.1; the request's data is a displayable prompt */
		keel_wr_u8(w, KEEL_EAP_TYPE_IDENTITY);
		keel_wr_bytes(w, e->identity, e->identity_len);
		return 0;
	case KEEL_EAP_TYPE_NOTIFICATION:
		/* RFC 3748 §5.2: show it, answer with an empty Notification */
		eap_set_message(e, req->p, req->left);
		keel_wr_u8(w, KEEL_EAP_TYPE_NOTIFICATION);
		return 0;
	case KEEL_EAP_TYPE_NAK:
		return KEEL_ERR_MALFORMED; /* RFC 3748 §5.3: only in a Response */
	case KEEL_EAP_TYPE_MD5:
	case KEEL_EAP_TYPE_GTC:
	case KEEL_EAP_TYPE_MSCHAPV2:
		if (!allowed(e, type))
			break;
		keel_wr_u8(w, type);
		rc = type == KEEL_EAP_TYPE_MD5   ? eap_md5_respond(e, id, req, w)
		     : type == KEEL_EAP_TYPE_GTC ? eap_gtc_respond(e, req, w)
		                                 : eap_mschapv2_respond(e, req, w);
		if (rc == 0)
			e->method = type;
		return rc;
	default:
		break;
	}
	/* RFC 3748 §5.3.1: a legacy Nak listing the methods we would do (also
	 * the answer to an Expanded Type request, §5.3.2, when not supported) */
	keel_wr_u8(w, KEEL_EAP_TYPE_NAK);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (e->methods & methods[i].allow)
			keel_wr_u8(w, methods[i].type);
	e->nak_sent = true;
	return 0;
}

ptrdiff_t keel_eap_process(struct keel_eap *e, const uint8_t *in, ptrdiff_t in_len, uint8_t *out,
                           ptrdiff_t out_cap)
{
	if (!e || !in || in_len < 0 || !out || out_cap < 0)
		return KEEL_ERR_INVAL;
	if (e->status != KEEL_EAP_CONTINUE)
		return KEEL_ERR_STATE;

	/* RFC 3748 §4: Code, Identifier, Length; octets past Length are padding */
	struct keel_rd r = keel_rd_init(in, (size_t)in_len);
	uint8_t code = keel_rd_u8(&r);
	uint8_t id = keel_rd_u8(&r);
	uint16_t len = keel_rd_u16(&r);
	if (r.bad || len < EAP_HDR_LEN || len > in_len)
		return KEEL_ERR_MALFORMED;
	struct keel_rd body = keel_rd_sub(&r, len - EAP_HDR_LEN);

	switch (code) {
	case KEEL_EAP_CODE_REQUEST:
		break;
	case KEEL_EAP_CODE_SUCCESS:
		/* RFC 3748 §4.2 Success is 4 octets; trailing data (seen from some
		 * gateways) carries no authentication and is ignored. */
		e->status = e->method_done ? KEEL_EAP_SUCCESS : KEEL_EAP_FAILURE;
		e->result = e->method_done ? KEEL_EAP_RESULT_OK : KEEL_EAP_RESULT_EARLY_SUCCESS;
		return 0;
	case KEEL_EAP_CODE_FAILURE:
		e->status = KEEL_EAP_FAILURE;
		if (e->result == KEEL_EAP_RESULT_NONE)
			e->result = e->responded  ? KEEL_EAP_RESULT_CREDENTIALS_REFUSED
			            : e->nak_sent ? KEEL_EAP_RESULT_NO_COMMON_METHOD
			                          : KEEL_EAP_RESULT_FAILURE;
		return 0;
	default: /* a Response, or an unknown Code (RFC 3748 §4: silently discarded) */
		return KEEL_ERR_MALFORMED;
	}

	uint8_t type = keel_rd_u8(&body);
	if (body.bad)
		return KEEL_ERR_MALFORMED;

	/* RFC 3748 §4.1: a retransmitted Request gets the same Response */
	if (e->last_response && id == e->last_id) {
		ptrdiff_t n = keel_secret_len(e->last_response);
		if (n > out_cap)
			return KEEL_ERR_NOBUF;
		memcpy(out, keel_secret_data(e->last_response), (size_t)n);
		return n;
	}

	struct keel_wr w = keel_wr_init(out, (size_t)out_cap);
	keel_wr_u8(&w, KEEL_EAP_CODE_RESPONSE);
	keel_wr_u8(&w, id);
	size_t len_pos = keel_wr_pos(&w);
	keel_wr_u16(&w, 0);
	int rc = answer(e, id, type, &body, &w);
	if (rc < 0)
		return rc;
	ptrdiff_t n = keel_wr_finish(&w);
	if (n < 0)
		return n;
	if (n > UINT16_MAX)
		return KEEL_ERR_NOBUF;
	keel_wr_patch16(&w, len_pos, (uint16_t)n);

	struct keel_secret *copy = keel_secret_new_from(out, n);
	if (!copy)
		return KEEL_ERR_NOMEM;
	keel_secret_free(e->last_response);
	e->last_response = copy;
	e->last_id = id;
	return n;
}
