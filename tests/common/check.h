/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A very small test harness for Keel's C tests: CHECK macros that count
 * failures and keep going, hex helpers, and an exit code for meson
 * (0 pass, 1 fail, 77 skip).
 */
#ifndef KEEL_TEST_CHECK_H
#define KEEL_TEST_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern unsigned check_count;
extern unsigned check_failures;

void check_fail(const char *file, int line, const char *what);
void check_fail_mem(const char *file, int line, const char *what, const uint8_t *got,
		    size_t got_len, const uint8_t *want, size_t want_len);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		check_count++;                                                                     \
		if (!(cond))                                                                       \
			check_fail(__FILE__, __LINE__, #cond);                                     \
	} while (0)

#define CHECK_INT(got, want)                                                                       \
	do {                                                                                       \
		long long got_ = (long long)(got), want_ = (long long)(want);                      \
		check_count++;                                                                     \
		if (got_ != want_) {                                                               \
			char m_[256];                                                              \
			snprintf(m_, sizeof(m_), "%s == %lld, expected %s == %lld", #got, got_,   \
				 #want, want_);                                                    \
			check_fail(__FILE__, __LINE__, m_);                                        \
		}                                                                                  \
	} while (0)

#define CHECK_MEM(got, got_len, want, want_len)                                                    \
	do {                                                                                       \
		const uint8_t *g_ = (const uint8_t *)(got), *w_ = (const uint8_t *)(want);         \
		size_t gl_ = (got_len), wl_ = (want_len);                                          \
		check_count++;                                                                     \
		if (gl_ != wl_ || (gl_ && memcmp(g_, w_, gl_) != 0))                               \
			check_fail_mem(__FILE__, __LINE__, #got " vs " #want, g_, gl_, w_, wl_);   \
	} while (0)

/*
 * Decodes a hex string (whitespace allowed between digit pairs) into a new
 * malloc'd buffer. Aborts the test on a malformed string: test data is ours.
 */
uint8_t *hex_decode(const char *hex, size_t *out_len);
/* Prints a buffer as hex to f (no newline). */
void hex_print(FILE *f, const uint8_t *p, size_t len);

/* Ends the test: prints a summary line and returns the exit code for main(). */
int check_done(void);

/* Exit code meson reads as "skipped". */
#define CHECK_SKIP 77

#endif
