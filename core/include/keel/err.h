/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Error codes shared by every layer of Keel's core.
 *
 * Core functions return 0 on success, a non-negative byte count where they
 * produce bytes (as ptrdiff_t), or one of these negative codes.
 */
#ifndef KEEL_ERR_H
#define KEEL_ERR_H

enum keel_err {
	KEEL_OK = 0,
	KEEL_ERR_NOMEM = -1,     /* allocation failed */
	KEEL_ERR_MALFORMED = -2, /* the peer's fault: drop or notify, never crash */
	KEEL_ERR_AUTH = -3,      /* an ICV, a hash, a signature or a secret did not match */
	KEEL_ERR_STATE = -4,     /* the caller's fault: asked out of order */
	KEEL_ERR_NOBUF = -5,     /* the output buffer is too small */
	KEEL_ERR_INVAL = -6,     /* an argument is out of range */
	KEEL_ERR_UNSUPPORTED = -7, /* a known but unimplemented algorithm or feature */
	KEEL_ERR_CRYPTO = -8,    /* the crypto library failed where it should not */
};

/* A short, static, English name of an error code; never NULL. */
const char *keel_strerror(int err);

#endif
