/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the sans-I/O core receives from its caller instead of reaching for the
 * operating system: randomness (time is passed per call).
 */
#ifndef KEEL_ENV_H
#define KEEL_ENV_H

#include <stddef.h>
#include <stdint.h>

/*
 * Fills buf with len random bytes. Returns 0, or a negative enum keel_err.
 * Production callers use a CSPRNG (getrandom, RAND_bytes); tests and fuzzers
 * pass a seeded generator so that runs are reproducible.
 */
typedef int (*keel_random_fn)(void *ctx, uint8_t *buf, size_t len);

struct keel_env {
	keel_random_fn random;
	void *random_ctx;
};

/* Convenience: env->random(env->random_ctx, buf, len). */
int keel_env_random(const struct keel_env *env, uint8_t *buf, size_t len);

#endif
