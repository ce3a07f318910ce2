/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The keel command: what its source files share. */
#ifndef KEEL_APP_KEEL_H
#define KEEL_APP_KEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/config.h>
#include <keel/secret.h>

/* Exit statuses (keel(1)). */
enum {
	KEEL_EXIT_OK = 0,      /* connected, then disconnected on request */
	KEEL_EXIT_FAILURE = 1, /* could not connect, or the connection was lost */
	KEEL_EXIT_USAGE = 2,   /* bad command line, profile or secrets file */
};

/* --datapath: overrides the profile's datapath key */
enum keel_datapath_choice {
	KEEL_DATAPATH_CHOICE_PROFILE = 0, /* what the profile says */
	KEEL_DATAPATH_CHOICE_AUTO,
	KEEL_DATAPATH_CHOICE_XFRM,
	KEEL_DATAPATH_CHOICE_TUN,
};

/* `keel connect`'s options; numbers 0 mean "the default". */
struct keel_connect_opts {
	const char *profile;
	const char *secrets;     /* --secrets FILE */
	const char *resolv_conf; /* --resolv-conf FILE: that file, never systemd-resolved */
	int verbose;             /* -v: 1, -vv: 2 */
	enum keel_datapath_choice datapath;
	bool dpd_set;
	uint32_t dpd_ms; /* --dpd; 0: off */
	uint32_t retransmit_timeout_ms;
	bool retransmit_tries_set;
	uint32_t retransmit_tries;
};

/* Runs `keel connect`; returns the exit status. */
int keel_connect_run(const struct keel_connect_opts *o);

/*
 * Asks for a secret on the terminal (fd 0 must be a tty) without echo.
 * label names it ("pre-shared key"). A signal arriving on sigfd (a
 * signalfd, or -1) aborts the prompt. Returns the secret (caller owns it),
 * or NULL with a message printed: nothing typed, read error, interrupted
 * (*interrupted set).
 */
struct keel_secret *keel_prompt_secret(const char *label, int sigfd, bool *interrupted);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t keel_now_ns(void);

#endif
