/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * keel-esp-peer: Keel's TUN data path with a manually keyed CHILD SA pair,
 * for esp-tunnel-bench to put Keel's ESP at both ends of a tunnel (the
 * lab's gateway does its ESP with strongSwan's user-space code, which would
 * cap any client). Test only: never installed, no IKE, keys from a file.
 *
 *     keel-esp-peer --keys FILE --local ADDR --remote ADDR [--port 4500]
 *                   [--tun NAME] [--no-vnet-hdr] [--no-gso] [--no-gro]
 *                   [--no-coalesce] [--batch N] [--spin-us N]
 *                   [--pin-tx CPU] [--pin-rx CPU]
 *
 * FILE (mode 0600; keys never go on the command line) holds "name = value"
 * lines: encr (IKEv2 transform ID, default 20 = AES-GCM-16), encr-key-bits
 * (default 256), spi-in, spi-out, key-in and key-out (hex KEYMAT with the
 * salt); the other end's file has them mirrored. The traffic selectors are
 * 0.0.0.0/0 both ways. The peer makes the TUN device (MTU for a 1500-byte
 * path), brings it up and runs until SIGINT or SIGTERM; then it prints its
 * counters and peak resident memory on stderr. Addresses and routes on the
 * device are the caller's to set.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <keel-platform/datapath.h>
#include <keel-platform/tun.h>

#define KEY_MAX 64

struct keys {
	unsigned encr, bits;
	uint32_t spi_in, spi_out;
	uint8_t in[KEY_MAX], out[KEY_MAX];
	ptrdiff_t in_len, out_len;
};

static int fill_random(void *ctx, uint8_t *buf, size_t len)
{
	FILE *f = ctx;
	return fread(buf, 1, len, f) == len ? 0 : KEEL_ERR_CRYPTO;
}

static ptrdiff_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (ptrdiff_t)(n / 2);
}

static int read_keys(const char *path, struct keys *k)
{
	char line[512], name[64], val[400];
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "keel-esp-peer: %s: %s\n", path, strerror(errno));
		return -1;
	}
	*k = (struct keys){.encr = 20, .bits = 256, .in_len = -1, .out_len = -1};
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || sscanf(line, "%63s = %399s", name, val) != 2)
			continue;
		if (!strcmp(name, "encr"))
			k->encr = (unsigned)strtoul(val, NULL, 0);
		else if (!strcmp(name, "encr-key-bits"))
			k->bits = (unsigned)strtoul(val, NULL, 0);
		else if (!strcmp(name, "spi-in"))
			k->spi_in = (uint32_t)strtoul(val, NULL, 0);
		else if (!strcmp(name, "spi-out"))
			k->spi_out = (uint32_t)strtoul(val, NULL, 0);
		else if (!strcmp(name, "key-in"))
			k->in_len = unhex(val, k->in, sizeof(k->in));
		else if (!strcmp(name, "key-out"))
			k->out_len = unhex(val, k->out, sizeof(k->out));
	}
	OPENSSL_cleanse(line, sizeof(line));
	OPENSSL_cleanse(val, sizeof(val));
	fclose(f);
	if (k->in_len < 0 || k->in_len != k->out_len || !k->spi_in || !k->spi_out) {
		fprintf(stderr, "keel-esp-peer: %s: need spi-in, spi-out, key-in, key-out\n", path);
		return -1;
	}
	return 0;
}

static int open_udp(const char *local, const char *remote, uint16_t port)
{
	struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons(port)}, ra = la;
	int one = 1;
	if (inet_pton(AF_INET, local, &la.sin_addr) != 1 ||
	    inet_pton(AF_INET, remote, &ra.sin_addr) != 1) {
		fprintf(stderr, "keel-esp-peer: --local and --remote take IPv4 addresses\n");
		return -1;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&la, sizeof(la)) < 0 ||
	    connect(fd, (struct sockaddr *)&ra, sizeof(ra)) < 0) {
		fprintf(stderr, "keel-esp-peer: UDP socket: %s\n", strerror(errno));
		return -1;
	}
	return fd;
}

static void usage(void)
{
	fprintf(stderr, "usage: keel-esp-peer --keys FILE --local ADDR --remote ADDR [--port N] "
	                "[--tun NAME] [--no-vnet-hdr] [--no-gso] [--no-gro] [--no-coalesce] "
	                "[--batch N] [--spin-us N] [--pin-tx CPU] [--pin-rx CPU]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *keyfile = NULL, *local = NULL, *remote = NULL, *tun_name = "kbench0";
	unsigned port = 4500;
	bool vnet = true;
	struct keel_datapath_options opt = {0};
	struct keys k;
	sigset_t mask;
	int sig, rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;
		if (!strcmp(a, "--keys") && has_val)
			keyfile = argv[++i];
		else if (!strcmp(a, "--local") && has_val)
			local = argv[++i];
		else if (!strcmp(a, "--remote") && has_val)
			remote = argv[++i];
		else if (!strcmp(a, "--port") && has_val)
			port = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(a, "--tun") && has_val)
			tun_name = argv[++i];
		else if (!strcmp(a, "--batch") && has_val)
			opt.batch = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(a, "--spin-us") && has_val)
			opt.spin_us = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(a, "--pin-tx") && has_val) {
			opt.pin = true;
			opt.tx_cpu = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(a, "--pin-rx") && has_val) {
			opt.pin = true;
			opt.rx_cpu = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(a, "--no-vnet-hdr"))
			vnet = false;
		else if (!strcmp(a, "--no-gso"))
			opt.no_udp_gso = true;
		else if (!strcmp(a, "--no-gro"))
			opt.no_udp_gro = true;
		else if (!strcmp(a, "--no-coalesce"))
			opt.no_coalesce = true;
		else
			usage();
	}
	if (!keyfile || !local || !remote || port == 0 || port > 65535)
		usage();
	if (read_keys(keyfile, &k) < 0)
		return 1;

	/* signals arrive in sigwait() below, never on the data path's threads */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	int fd = open_udp(local, remote, (uint16_t)port);
	if (fd < 0)
		return 1;
	struct keel_tun tun;
	struct keel_tun_config tc = {.name = tun_name, .offload = vnet};
	if ((rc = keel_tun_open(&tc, &tun)) < 0) {
		fprintf(stderr, "keel-esp-peer: TUN %s: %s\n", tun_name, strerror(-rc));
		return 1;
	}
	FILE *urandom = fopen("/dev/urandom", "re");
	struct keel_env env = {.random = fill_random, .random_ctx = urandom};
	struct keel_datapath *dp = NULL;
	struct keel_ts any = {.family = KEEL_AF_INET, .port_end = 65535};
	memset(any.end, 0xff, 4);
	struct keel_out_child_install ci = {
	    .child_id = 1,
	    .reqid = 1,
	    .protocol = KEEL_PROTO_ESP,
	    .spi_in = k.spi_in,
	    .spi_out = k.spi_out,
	    .encr = (uint16_t)k.encr,
	    .encr_key_bits = (uint16_t)k.bits,
	    .encr_key_in = k.in,
	    .encr_key_out = k.out,
	    .encr_key_len = k.in_len,
	    .encap = true,
	    .ts_local = &any,
	    .n_ts_local = 1,
	    .ts_remote = &any,
	    .n_ts_remote = 1,
	};
	if (!urandom || (rc = keel_datapath_new(fd, &env, &dp)) < 0 ||
	    (rc = keel_datapath_set_options(dp, &opt)) < 0 ||
	    (rc = keel_datapath_install(dp, &ci)) < 0) {
		fprintf(stderr, "keel-esp-peer: data path: %s\n", keel_strerror(rc));
		return 1;
	}
	OPENSSL_cleanse(&k, sizeof(k));
	uint32_t mtu = keel_datapath_tun_mtu(dp, 1500, 20);
	keel_datapath_set_tun(dp, tun.fd, tun.vnet_hdr);
	if ((rc = keel_tun_set_mtu(&tun, mtu)) < 0 || (rc = keel_tun_set_up(&tun, true)) < 0) {
		fprintf(stderr, "keel-esp-peer: %s: %s\n", tun.name, strerror(-rc));
		return 1;
	}
	if ((rc = keel_datapath_start(dp)) < 0) {
		fprintf(stderr, "keel-esp-peer: start: %s\n", keel_strerror(rc));
		return 1;
	}
	bool gso, gro, vh;
	keel_datapath_offloads(dp, &gso, &gro, &vh);
	fprintf(stderr, "keel-esp-peer: %s MTU %u, UDP GSO %s, GRO %s, TUN offloads %s\n", tun.name,
	        mtu, gso ? "on" : "off", gro ? "on" : "off", vh ? "on" : "off");
	sigwait(&mask, &sig);

	struct keel_datapath_stats st;
	keel_datapath_stats(dp, &st);
	keel_datapath_free(dp);
	fprintf(
	    stderr,
	    "keel-esp-peer: tx %llu packets (%llu super-packets in, %llu sends), rx %llu packets "
	    "(%llu datagrams, %llu TUN writes); dropped: tx no SA %llu, tx errors %llu, rx no "
	    "SA %llu, rx bad %llu, rx errors %llu\n",
	    (unsigned long long)st.tx_packets, (unsigned long long)st.tx_super,
	    (unsigned long long)st.tx_sends, (unsigned long long)st.rx_packets,
	    (unsigned long long)st.rx_datagrams, (unsigned long long)st.rx_writes,
	    (unsigned long long)st.tx_no_sa, (unsigned long long)st.tx_errors,
	    (unsigned long long)st.rx_no_sa, (unsigned long long)st.rx_bad,
	    (unsigned long long)st.rx_errors);
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(stderr, "keel-esp-peer: context switches: %ld voluntary, %ld involuntary\n",
		        ru.ru_nvcsw, ru.ru_nivcsw);
	char line[128];
	FILE *f = fopen("/proc/self/status", "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			fprintf(stderr, "keel-esp-peer: peak RSS %s", line + 6);
	if (f)
		fclose(f);
	keel_tun_close(&tun);
	close(fd);
	fclose(urandom);
	return 0;
}
