/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: the client EAP state machine (RFC 3748, MS-CHAPv2, MD5,
 * GTC) fed the gateway's EAP messages. The input is a sequence of messages,
 * each a 2-byte big-endian length and that many bytes; every answer the
 * client produces is discarded.
 */
#include <string.h>

#include <keel/env.h>
#include <keel/secret.h>

#include "eap/eap.h"
#include "fuzz-common.h"

static int fixed_random(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	memset(buf, 0x5a, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct keel_env env = {.random = fixed_random};
	static const char user[] = "alice", pass[] = "keel-lab-eap-password";
	struct keel_secret *password = keel_secret_new_from((const uint8_t *)pass, strlen(pass));
	struct keel_eap_config cfg = {
		.identity = (const uint8_t *)user,
		.identity_len = (ptrdiff_t)strlen(user),
		.password = password,
	};
	struct keel_eap *e = NULL;
	if (!password || keel_eap_new(&cfg, &env, &e) != 0)
		goto out;
	static uint8_t reply[2048];
	for (int i = 0; i < 16 && size >= 2; i++) {
		size_t len = (size_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		ptrdiff_t n = keel_eap_process(e, data, (ptrdiff_t)len, reply, sizeof(reply));
		fuzz_sink((uint64_t)n);
		data += len;
		size -= len;
	}
	fuzz_sink(keel_eap_msk(e) != NULL);
out:
	keel_eap_free(e);
	keel_secret_free(password);
	return 0;
}
