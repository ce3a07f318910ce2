/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * EAP-GTC, Generic Token Card (RFC 3748 §5.6): the request carries a
 * displayable prompt, the response the password (or token) as it is, not
 * NUL-terminated. It makes no keys: AUTH then uses SK_pi (RFC 7296 §2.16).
 * The password travels inside the IKE SA, after the gateway authenticated
 * itself with its certificate.
 */
#include "eap/eap-internal.h"

int eap_gtc_respond(struct keel_eap *e, struct keel_rd *req, struct keel_wr *w)
{
	size_t n = req->left;
	const uint8_t *prompt = keel_rd_bytes(req, n);
	if (req->bad)
		return KEEL_ERR_MALFORMED;
	eap_set_message(e, prompt, n);
	keel_wr_bytes(w, keel_secret_data(e->password), (size_t)keel_secret_len(e->password));
	e->responded = true;
	e->method_done = true;
	return 0;
}
