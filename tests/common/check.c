/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

unsigned check_count;
unsigned check_failures;

void check_fail(const char *file, int line, const char *what)
{
	check_failures++;
	fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
}

void hex_print(FILE *f, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(f, "%02x", p[i]);
}

void check_fail_mem(const char *file, int line, const char *what, const uint8_t *got,
		    size_t got_len, const uint8_t *want, size_t want_len)
{
	check_fail(file, line, what);
	fprintf(stderr, "  got  (%zu): ", got_len);
	hex_print(stderr, got, got_len);
	fprintf(stderr, "\n  want (%zu): ", want_len);
	hex_print(stderr, want, want_len);
	fprintf(stderr, "\n");
}

static int nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

uint8_t *hex_decode(const char *hex, size_t *out_len)
{
	size_t n = strlen(hex);
	uint8_t *out = malloc(n / 2 + 1);
	size_t len = 0;
	if (!out)
		abort();
	for (size_t i = 0; i < n;) {
		if (isspace((unsigned char)hex[i]) || hex[i] == ':') {
			i++;
			continue;
		}
		int hi = nibble((unsigned char)hex[i]);
		int lo = i + 1 < n ? nibble((unsigned char)hex[i + 1]) : -1;
		if (hi < 0 || lo < 0) {
			fprintf(stderr, "bad hex in test data near '%.16s'\n", hex + i);
			abort();
		}
		out[len++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	*out_len = len;
	return out;
}

int check_done(void)
{
	if (check_failures) {
		fprintf(stderr, "%u of %u checks failed\n", check_failures, check_count);
		return 1;
	}
	if (check_count == 0) {
		fprintf(stderr, "no checks ran\n");
		return 1;
	}
	printf("%u checks passed\n", check_count);
	return 0;
}
