/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tv.h"

#define TV_MAX_FIELDS 64

struct tv_file {
	FILE *fp;
	char name[512];
	char section[256];
	char next_section[256]; /* a [section] line that ended the previous record */
	bool have_next_section;
	int lineno;
	int record_line;
	size_t n;
	char *keys[TV_MAX_FIELDS];
	char *vals[TV_MAX_FIELDS];
};

static void clear_record(struct tv_file *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->keys[i]);
		free(f->vals[i]);
	}
	f->n = 0;
}

struct tv_file *tv_open(const char *relpath)
{
	const char *dir = getenv("KEEL_VECTORS");
	struct tv_file *f = calloc(1, sizeof(*f));
	if (!f)
		abort();
	snprintf(f->name, sizeof(f->name), "%s/%s", dir ? dir : "tests/vectors", relpath);
	f->fp = fopen(f->name, "r");
	if (!f->fp) {
		fprintf(stderr, "cannot open vector file %s\n", f->name);
		exit(1);
	}
	return f;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
			 s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

bool tv_next(struct tv_file *f)
{
	char *line = NULL;
	size_t cap = 0;
	clear_record(f);
	if (f->have_next_section) {
		memcpy(f->section, f->next_section, sizeof(f->section));
		f->have_next_section = false;
	}
	while (getline(&line, &cap, f->fp) >= 0) {
		f->lineno++;
		char *s = trim(line);
		if (*s == '#')
			continue;
		if (*s == '\0') {
			if (f->n > 0)
				break;
			continue;
		}
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (end)
				*end = '\0';
			if (f->n > 0) {
				/* the section starts with the next record, not this one */
				snprintf(f->next_section, sizeof(f->next_section), "%s", s + 1);
				f->have_next_section = true;
				break;
			}
			snprintf(f->section, sizeof(f->section), "%s", s + 1);
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq || f->n == TV_MAX_FIELDS) {
			fprintf(stderr, "%s:%d: not a 'Name = value' line\n", f->name, f->lineno);
			exit(1);
		}
		*eq = '\0';
		if (f->n == 0)
			f->record_line = f->lineno;
		f->keys[f->n] = strdup(trim(s));
		f->vals[f->n] = strdup(trim(eq + 1));
		if (!f->keys[f->n] || !f->vals[f->n])
			abort();
		f->n++;
	}
	free(line);
	return f->n > 0;
}

const char *tv_str(const struct tv_file *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->keys[i], name) == 0)
			return f->vals[i];
	return NULL;
}

uint8_t *tv_hex(const struct tv_file *f, const char *name, size_t *len)
{
	const char *v = tv_str(f, name);
	if (!v) {
		fprintf(stderr, "%s:%d: record has no '%s'\n", f->name, f->record_line, name);
		exit(1);
	}
	return hex_decode(v, len);
}

const char *tv_section(const struct tv_file *f)
{
	return f->section;
}

int tv_line(const struct tv_file *f)
{
	return f->record_line;
}

const char *tv_name(const struct tv_file *f)
{
	return f->name;
}

void tv_close(struct tv_file *f)
{
	if (!f)
		return;
	clear_record(f);
	fclose(f->fp);
	free(f);
}
