/* SPDX-License-Identifier: GPL-2.0-or-later */
/* keel: the command line client. Commands and options; see keel(1). */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keel.h"

#ifndef KEEL_VERSION
#define KEEL_VERSION "unknown"
#endif

static const char usage_text[] =
    "Usage: keel connect PROFILE [OPTIONS]\n"
    "       keel help [COMMAND]\n"
    "       keel --version\n"
    "\n"
    "Keel is an IPsec VPN client. Commands:\n"
    "  connect PROFILE   connect to the gateway of PROFILE and stay connected until\n"
    "                    interrupted (Ctrl-C, SIGTERM)\n"
    "  help [COMMAND]    show this help, or a command's\n"
    "\n"
    "Profiles are described in keel.conf(5); the command in keel(1).\n";

static const char connect_text[] =
    "Usage: keel connect PROFILE [OPTIONS]\n"
    "\n"
    "Connects to the gateway that PROFILE (a keel.conf(5) file) names, prints each\n"
    "step, and stays in the foreground. On Ctrl-C or SIGTERM it closes the\n"
    "connection and restores the network configuration it changed.\n"
    "\n"
    "Options:\n"
    "  -s, --secrets FILE            read secrets from FILE ([secrets] psk = ...,\n"
    "                                mode 0600) instead of asking on the terminal\n"
    "  -v, --verbose                 say more (-vv: every exchange); never secrets\n"
    "      --datapath auto|xfrm|tun  where ESP is done: the kernel (xfrm), Keel itself\n"
    "                                over a TUN device (tun), or the kernel when it\n"
    "                                can (auto); overrides the profile's datapath\n"
    "      --dpd SECONDS             check that the gateway is alive after SECONDS of\n"
    "                                silence (default: the profile's dpd, else 30;\n"
    "                                0: never)\n"
    "      --retransmit-timeout SECONDS\n"
    "                                first IKE retransmission after SECONDS (default 4)\n"
    "      --retransmit-tries N      retransmissions before giving up (default 5)\n"
    "      --resolv-conf FILE        write the DNS servers to FILE instead of\n"
    "                                /etc/resolv.conf, never to systemd-resolved\n"
    "  -h, --help                    show this help\n"
    "\n"
    "Exit status: 0 after disconnecting on request, 1 when the connection could not\n"
    "be made or was lost, 2 for a bad command line, profile or secrets file.\n";

enum {
	OPT_DATAPATH = 256,
	OPT_DPD,
	OPT_RETRANSMIT_TIMEOUT,
	OPT_RETRANSMIT_TRIES,
	OPT_RESOLV_CONF,
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("keel: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'keel help connect'.\n", stderr);
	return KEEL_EXIT_USAGE;
}

/*
 * A duration: "5", "5s", "1.5", "1500ms". Whole milliseconds, at most a
 * day; false for anything else.
 */
static bool parse_duration_ms(const char *s, uint32_t *out)
{
	uint64_t milli = 0, scale = 1000; /* the number, in thousandths of its unit */
	const char *p = s;
	bool digits = false;

	for (; *p >= '0' && *p <= '9'; p++, digits = true) {
		milli = milli * 10 + (uint64_t)(*p - '0') * 1000;
		if (milli > 100000000000ull)
			return false;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9' && scale > 1; p++, digits = true) {
			scale /= 10;
			milli += (uint64_t)(*p - '0') * scale;
		}
	}
	if (!digits)
		return false;
	uint64_t ms;
	if (strcmp(p, "ms") == 0) {
		if (milli % 1000)
			return false; /* "1.5ms": not whole milliseconds */
		ms = milli / 1000;
	} else if (*p == '\0' || strcmp(p, "s") == 0) {
		ms = milli;
	} else {
		return false;
	}
	if (ms > 86400000)
		return false;
	*out = (uint32_t)ms;
	return true;
}

static bool parse_count(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;
	if (*s < '0' || *s > '9')
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v > 100)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int cmd_connect(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"secrets", required_argument, NULL, 's'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"datapath", required_argument, NULL, OPT_DATAPATH},
	    {"dpd", required_argument, NULL, OPT_DPD},
	    {"retransmit-timeout", required_argument, NULL, OPT_RETRANSMIT_TIMEOUT},
	    {"retransmit-tries", required_argument, NULL, OPT_RETRANSMIT_TRIES},
	    {"resolv-conf", required_argument, NULL, OPT_RESOLV_CONF},
	    {NULL, 0, NULL, 0},
	};
	struct keel_connect_opts o = {0};
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":s:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o.secrets = optarg;
			break;
		case 'v':
			o.verbose++;
			break;
		case 'h':
			fputs(connect_text, stdout);
			return KEEL_EXIT_OK;
		case OPT_DATAPATH:
			if (strcmp(optarg, "auto") == 0)
				o.datapath = KEEL_DATAPATH_CHOICE_AUTO;
			else if (strcmp(optarg, "xfrm") == 0)
				o.datapath = KEEL_DATAPATH_CHOICE_XFRM;
			else if (strcmp(optarg, "tun") == 0)
				o.datapath = KEEL_DATAPATH_CHOICE_TUN;
			else
				return usage_error(
				    "--datapath: expected auto, xfrm or tun, got '%s'", optarg);
			break;
		case OPT_DPD:
			if (!parse_duration_ms(optarg, &o.dpd_ms))
				return usage_error("--dpd: expected seconds, got '%s'", optarg);
			o.dpd_set = true;
			break;
		case OPT_RETRANSMIT_TIMEOUT:
			if (!parse_duration_ms(optarg, &o.retransmit_timeout_ms) ||
			    o.retransmit_timeout_ms == 0)
				return usage_error(
				    "--retransmit-timeout: expected seconds above 0, "
				    "got '%s'",
				    optarg);
			break;
		case OPT_RETRANSMIT_TRIES:
			if (!parse_count(optarg, &o.retransmit_tries))
				return usage_error(
				    "--retransmit-tries: expected 0 to 100, got '%s'", optarg);
			o.retransmit_tries_set = true;
			break;
		case OPT_RESOLV_CONF:
			if (!*optarg)
				return usage_error("--resolv-conf: expected a file name");
			o.resolv_conf = optarg;
			break;
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("connect: which profile?");
	if (optind + 1 < argc)
		return usage_error("connect: one profile only; what is '%s'?", argv[optind + 1]);
	o.profile = argv[optind];
	/*
	 * OpenSSL with the system's configuration as always (a FIPS system's
	 * providers and policy come from it) but without its error strings:
	 * Keel never prints OpenSSL's error texts (it only compares reason
	 * codes), and loading them costs about 250 KiB of libcrypto's pages
	 * and 60 KiB of heap in every connection (tests/bench/connect-bench).
	 */
	if (!OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
	                         NULL)) {
		fputs("keel: OpenSSL could not be initialised (is its configuration file "
		      "valid?)\n",
		      stderr);
		return KEEL_EXIT_FAILURE;
	}
	return keel_connect_run(&o);
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stdout);
		return KEEL_EXIT_OK;
	}
	if (strcmp(argv[1], "connect") == 0) {
		fputs(connect_text, stdout);
		return KEEL_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		return KEEL_EXIT_OK;
	}
	fprintf(stderr, "keel: no command '%s'\n", argv[1]);
	return KEEL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return KEEL_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("keel %s\n", KEEL_VERSION);
		return KEEL_EXIT_OK;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
		return cmd_help(1, argv);
	if (strcmp(cmd, "help") == 0)
		return cmd_help(argc - 1, argv + 1);
	if (strcmp(cmd, "connect") == 0)
		return cmd_connect(argc - 1, argv + 1);
	fprintf(stderr, "keel: no command '%s'\nTry 'keel --help'.\n", cmd);
	return KEEL_EXIT_USAGE;
}
