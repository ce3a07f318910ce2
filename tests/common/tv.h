/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reader for test-vector files under tests/vectors/, in the NIST CAVP
 * ".rsp" shape:
 *
 *     # comment (each file names its source in its first comment lines)
 *     [section]               optional; remembered until the next one
 *     Key = 000102...         a record is a run of "Name = value" lines,
 *     PT = ...                ended by a blank line or end of file
 *
 * Names are case-sensitive. Values are kept as text; tv_hex() decodes.
 * The directory comes from $KEEL_VECTORS (set by meson).
 */
#ifndef KEEL_TEST_TV_H
#define KEEL_TEST_TV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tv_file;

/* Opens $KEEL_VECTORS/relpath; aborts the test with a message if it cannot. */
struct tv_file *tv_open(const char *relpath);
/* Reads the next record; false at end of file. */
bool tv_next(struct tv_file *f);
/* The value of Name in the current record, or NULL. */
const char *tv_str(const struct tv_file *f, const char *name);
/* The hex value of Name, malloc'd (caller frees); aborts if missing. Empty value: len 0. */
uint8_t *tv_hex(const struct tv_file *f, const char *name, size_t *len);
/* The current [section] text without brackets, or "". */
const char *tv_section(const struct tv_file *f);
/* Line number where the current record starts, for messages. */
int tv_line(const struct tv_file *f);
/* File name for messages. */
const char *tv_name(const struct tv_file *f);
void tv_close(struct tv_file *f);

#endif
