/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Asking for a secret on the terminal, without echo. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "keel.h"

/* A PSK or password longer than this is not typed by hand. */
#define SECRET_MAX_LEN 1024

struct keel_secret *keel_prompt_secret(const char *label, int sigfd, bool *interrupted)
{
	char line[SECRET_MAX_LEN + 2];
	size_t len = 0;
	struct termios old, quiet;
	struct keel_secret *s = NULL;
	bool eol = false;

	*interrupted = false;
	if (tcgetattr(STDIN_FILENO, &old) < 0) {
		fprintf(stderr, "keel: cannot read the terminal settings: %s\n", strerror(errno));
		return NULL;
	}
	quiet = old;
	quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* echo off before the prompt shows: what is typed after it is never echoed or flushed */
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	fprintf(stderr, "%s: ", label);
	fflush(stderr);

	while (!eol && len < sizeof(line)) {
		struct pollfd pfd[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
		                        {.fd = sigfd, .events = POLLIN}};
		if (poll(pfd, sigfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (sigfd >= 0 && (pfd[1].revents & POLLIN)) {
			*interrupted = true;
			break;
		}
		ssize_t n = read(STDIN_FILENO, line + len, sizeof(line) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* end of input: what was typed so far, if anything */
		len += (size_t)n;
		eol = memchr(line, '\n', len) != NULL;
	}
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);

	char *nl = memchr(line, '\n', len);
	if (nl)
		len = (size_t)(nl - line);
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (*interrupted)
		fprintf(stderr, "keel: interrupted\n");
	else if (!nl && len >= SECRET_MAX_LEN)
		fprintf(stderr, "keel: the %s is too long (at most %d bytes)\n", label,
		        SECRET_MAX_LEN);
	else if (len == 0)
		fprintf(stderr, "keel: no %s given\n", label);
	else if (!(s = keel_secret_new_from((const uint8_t *)line, (ptrdiff_t)len)))
		fprintf(stderr, "keel: out of memory\n");
	OPENSSL_cleanse(line, sizeof(line));
	return s;
}
