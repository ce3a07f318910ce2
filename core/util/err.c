/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <keel/err.h>
#include <keel/env.h>

const char *keel_strerror(int err)
{
	if (err >= 0)
		return "success";
	switch ((enum keel_err)err) {
	case KEEL_OK:
		return "success";
	case KEEL_ERR_NOMEM:
		return "out of memory";
	case KEEL_ERR_MALFORMED:
		return "malformed message";
	case KEEL_ERR_AUTH:
		return "authentication failed";
	case KEEL_ERR_STATE:
		return "operation not valid in this state";
	case KEEL_ERR_NOBUF:
		return "buffer too small";
	case KEEL_ERR_INVAL:
		return "invalid argument";
	case KEEL_ERR_UNSUPPORTED:
		return "not supported";
	case KEEL_ERR_CRYPTO:
		return "cryptographic operation failed";
	}
	return "unknown error";
}

int keel_env_random(const struct keel_env *env, uint8_t *buf, size_t len)
{
	if (!env || !env->random)
		return KEEL_ERR_STATE;
	return env->random(env->random_ctx, buf, len);
}
