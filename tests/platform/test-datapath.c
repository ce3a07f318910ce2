/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The TUN data path's fast path, fed from outside: a datagram socketpair
 * plays the TUN device (with and without a virtio-net header) and a UDP
 * socket on 127.0.0.1 plays the gateway, holding the mirror image of the
 * data path's SAs. No root, no device, nothing beyond the loopback address.
 *
 * Inbound: ESP packets out of order, replayed, left of the window,
 * corrupted (bad ICV), for an unknown SPI, several in one UDP GSO datagram
 * (which the data path receives as one GRO datagram); the accepted packets
 * and each drop counter must come out exact. Outbound: sequence numbers
 * consecutive, contents intact, TCP super-packets cut into valid segments
 * (IP and TCP checksums), TCP segments coalesced into one super-packet on
 * the way in. IKE messages reach the caller; a new pair carries outbound
 * traffic at once while the old one still accepts inbound until removed;
 * a pair installed inbound-first (a rekey the gateway started) receives
 * at once and sends only once the old pair goes or its deadline passes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <keel/esp.h>
#include <keel-platform/datapath.h>

#include "check.h"
#include "offload.h"

#define SPI_DP_IN   0x1001 /* the data path receives with it; the test sends with it */
#define SPI_DP_OUT  0x2002
#define SPI2_DP_IN  0x3003
#define SPI2_DP_OUT 0x4004
#define SPI3_DP_IN  0x5005
#define SPI3_DP_OUT 0x6006
#define SPI4_DP_OUT 0x8008
#define SPI5_DP_OUT 0xa00a
#define SPI6_DP_OUT 0xc00c
#define KEYMAT_LEN  20 /* AES-GCM-128: key and salt */
#define BUF_LEN     (KEEL_ESP_HEADROOM + 70000)

/* how long an answered rekey keeps its outbound SA back */
#define WAIT_NS 2000000000ull

static const uint8_t key_a[KEYMAT_LEN] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                          11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
static const uint8_t key_b[KEYMAT_LEN] = {21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
                                          31, 32, 33, 34, 35, 36, 37, 38, 39, 40};

static int fake_random(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	memset(buf, 0x5a, len);
	return 0;
}
static const struct keel_env env = {.random = fake_random};

struct rig {
	struct keel_datapath *dp;
	int natt;    /* the data path's socket */
	int peer;    /* the gateway's */
	int tun;     /* the data path's end of the socketpair */
	int tun_far; /* ours */
	bool vnet;
	struct keel_esp_sa *to_dp;   /* outbound, SPI_DP_IN */
	struct keel_esp_sa *from_dp; /* inbound, SPI_DP_OUT */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int udp_on_loopback(struct sockaddr_in *bound)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*bound = a;
	return fd;
}

static struct keel_esp_sa *sa(enum keel_esp_dir dir, uint32_t spi, const uint8_t *key)
{
	struct keel_esp_sa_params p = {
	    .dir = dir,
	    .spi = spi,
	    .encr = 20,
	    .encr_key_bits = 128,
	    .encr_keymat = key,
	    .encr_keymat_len = KEYMAT_LEN,
	    .env = &env,
	};
	struct keel_esp_sa *s = NULL;
	CHECK_INT(keel_esp_sa_new(&p, &s), 0);
	return s;
}

/*
 * A pair with selectors for everything: the pair SPI_DP_IN/SPI_DP_OUT
 * receives with key_a and sends with key_b, every other pair the other way.
 */
static struct keel_out_child_install pair_of(uint32_t child_id, uint32_t spi_in, uint32_t spi_out)
{
	static struct keel_ts any = {
	    .family = KEEL_AF_INET, .port_end = 65535, .end = {255, 255, 255, 255}};
	return (struct keel_out_child_install){
	    .child_id = child_id,
	    .reqid = 1,
	    .protocol = KEEL_PROTO_ESP,
	    .spi_in = spi_in,
	    .spi_out = spi_out,
	    .encr = 20,
	    .encr_key_bits = 128,
	    .encr_key_in = spi_in == SPI_DP_IN ? key_a : key_b,
	    .encr_key_out = spi_in == SPI_DP_IN ? key_b : key_a,
	    .encr_key_len = KEYMAT_LEN,
	    .encap = true,
	    .ts_local = &any,
	    .n_ts_local = 1,
	    .ts_remote = &any,
	    .n_ts_remote = 1,
	};
}

static int install(struct keel_datapath *dp, uint32_t child_id, uint32_t spi_in, uint32_t spi_out)
{
	struct keel_out_child_install ci = pair_of(child_id, spi_in, spi_out);
	return keel_datapath_install(dp, &ci);
}

static bool rig_up(struct rig *r, bool vnet, const struct keel_datapath_options *opt)
{
	struct sockaddr_in a, b;
	int sp[2];
	memset(r, 0, sizeof(*r));
	r->vnet = vnet;
	r->natt = udp_on_loopback(&a);
	r->peer = udp_on_loopback(&b);
	if (r->natt < 0 || r->peer < 0 || connect(r->natt, (struct sockaddr *)&b, sizeof(b)) < 0 ||
	    connect(r->peer, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0)
		return false;
	int big = 4 << 20;
	setsockopt(r->peer, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	r->tun = sp[0];
	r->tun_far = sp[1];
	/* ours blocks: a datagram socketpair queues only net.unix.max_dgram_qlen packets */
	if (fcntl(r->tun_far, F_SETFL, 0) < 0)
		return false;
	if (keel_datapath_new(r->natt, &env, &r->dp) < 0)
		return false;
	if (opt)
		CHECK_INT(keel_datapath_set_options(r->dp, opt), 0);
	CHECK_INT(install(r->dp, 1, SPI_DP_IN, SPI_DP_OUT), 0);
	keel_datapath_set_tun(r->dp, r->tun, vnet);
	CHECK_INT(keel_datapath_start(r->dp), 0);
	r->to_dp = sa(KEEL_ESP_OUTBOUND, SPI_DP_IN, key_a);
	r->from_dp = sa(KEEL_ESP_INBOUND, SPI_DP_OUT, key_b);
	return r->to_dp && r->from_dp;
}

static void rig_down(struct rig *r)
{
	keel_datapath_free(r->dp);
	keel_esp_sa_free(r->to_dp);
	keel_esp_sa_free(r->from_dp);
	close(r->natt);
	close(r->peer);
	close(r->tun);
	close(r->tun_far);
}

/* An IPv4 UDP packet 10.0.0.1:1000 -> 10.0.0.2:2000 whose payload starts with tag. */
static ptrdiff_t udp_packet(uint8_t *p, uint32_t tag, ptrdiff_t len)
{
	memset(p, 0, (size_t)len);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	memcpy(p + 12, (uint8_t[]){10, 0, 0, 1, 10, 0, 0, 2}, 8);
	p[20] = 0x03;
	p[21] = 0xe8;
	p[22] = 0x07;
	p[23] = 0xd0;
	p[24] = (uint8_t)((len - 20) >> 8);
	p[25] = (uint8_t)(len - 20);
	memcpy(p + 28, &tag, sizeof(tag));
	return len;
}

/* An IPv4 TCP segment of a flow 10.0.0.1:5000 -> 10.0.0.2:6000, checksums right. */
static ptrdiff_t tcp_packet(uint8_t *p, uint32_t seq, ptrdiff_t payload_len, uint8_t flags)
{
	ptrdiff_t len = 40 + payload_len;
	memset(p, 0, 40);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[6] = 0x40; /* DF */
	p[8] = 64;
	p[9] = IPPROTO_TCP;
	memcpy(p + 12, (uint8_t[]){10, 0, 0, 1, 10, 0, 0, 2}, 8);
	uint16_t c = (uint16_t)~keel_csum_fold(keel_csum_add(0, p, 20));
	memcpy(p + 10, &c, 2);
	uint8_t *t = p + 20;
	t[0] = 0x13;
	t[1] = 0x88;
	t[2] = 0x17;
	t[3] = 0x70;
	t[4] = (uint8_t)(seq >> 24);
	t[5] = (uint8_t)(seq >> 16);
	t[6] = (uint8_t)(seq >> 8);
	t[7] = (uint8_t)seq;
	t[11] = 7; /* ACK number */
	t[12] = 5 << 4;
	t[13] = flags;
	t[14] = 0x10; /* window */
	for (ptrdiff_t i = 0; i < payload_len; i++)
		t[20 + i] = (uint8_t)(seq + (uint32_t)i);
	c = (uint16_t)~keel_csum_fold(keel_csum_add(
	    keel_csum_pseudo(false, p, IPPROTO_TCP, (uint32_t)(len - 20)), t, (size_t)(len - 20)));
	memcpy(t + 16, &c, 2);
	return len;
}

/* The IPv4 header and TCP checksums of p verify. */
static bool tcp_valid(const uint8_t *p, ptrdiff_t len)
{
	if (len < 40 || ((p[2] << 8) | p[3]) != len)
		return false;
	if (keel_csum_fold(keel_csum_add(0, p, 20)) != 0xffff)
		return false;
	uint64_t s = keel_csum_pseudo(false, p, IPPROTO_TCP, (uint32_t)(len - 20));
	return keel_csum_fold(keel_csum_add(s, p + 20, (size_t)(len - 20))) == 0xffff;
}

/* Encapsulates inner with the test's outbound SA; the ESP packet goes to out. */
static ptrdiff_t esp_of(struct rig *r, const uint8_t *inner, ptrdiff_t len, uint8_t *out)
{
	return keel_esp_encap(r->to_dp, inner, len, out, BUF_LEN);
}

static void send_to_dp(struct rig *r, const uint8_t *esp, ptrdiff_t len)
{
	CHECK(send(r->peer, esp, (size_t)len, 0) == len);
}

/* Several ESP packets of one size in one UDP_SEGMENT datagram. */
static void send_gso(struct rig *r, const uint8_t *buf, ptrdiff_t len, uint16_t seg)
{
	union {
		char b[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = {(void *)buf, (size_t)len};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof(cm.b)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	CHECK(sendmsg(r->peer, &mh, 0) == len);
}

/* Waits until f(stats) holds, at most 5 s. */
static bool wait_stats(struct rig *r, bool (*f)(const struct keel_datapath_stats *, uint64_t),
                       uint64_t want)
{
	struct keel_datapath_stats st;
	uint64_t deadline = now_ms() + 5000;
	do {
		keel_datapath_stats(r->dp, &st);
		if (f(&st, want))
			return true;
		usleep(1000);
	} while (now_ms() < deadline);
	return false;
}

static bool rx_settled(const struct keel_datapath_stats *st, uint64_t want)
{
	return st->rx_packets + st->rx_bad + st->rx_no_sa + st->rx_selector == want;
}

static bool tx_settled(const struct keel_datapath_stats *st, uint64_t want)
{
	return st->tx_packets + st->tx_no_sa + st->tx_errors == want;
}

/* tx_packets counts a packet as it is built; tx_sends only once its batch went out. */
static bool tx_sent_at_least(const struct keel_datapath_stats *st, uint64_t want)
{
	return st->tx_sends >= want;
}

/* Reads what the data path wrote to the TUN side (without a virtio-net header). */
static ptrdiff_t tun_read(struct rig *r, uint8_t *buf, ptrdiff_t cap)
{
	struct pollfd p = {.fd = r->tun_far, .events = POLLIN};
	if (poll(&p, 1, 2000) <= 0)
		return -1;
	return recv(r->tun_far, buf, (size_t)cap, MSG_DONTWAIT);
}

static uint8_t inner[70000], esp[BUF_LEN], got[BUF_LEN], gso_buf[BUF_LEN];

/* Sends udp_packet(tag, 100 bytes) in ESP; the ESP packet stays in esp, its length returned. */
static ptrdiff_t send_udp_to_dp(struct rig *r, uint32_t tag)
{
	udp_packet(inner, tag, 100);
	ptrdiff_t n = esp_of(r, inner, 100, esp);
	send_to_dp(r, esp, n);
	return n;
}

/*
 * Writes an IPv4 TCP super-packet (payload_len bytes from seq, PSH) to the
 * TUN side as the kernel hands it over with TSO: vh filled in for a
 * gso_size MSS, the TCP checksum left to the data path.
 */
static void tun_send_super(struct rig *r, struct virtio_net_hdr *vh, uint32_t seq,
                           ptrdiff_t payload_len, uint16_t gso_size)
{
	ptrdiff_t len = tcp_packet(inner + KEEL_VNET_HDR_LEN, seq, payload_len, 0x18);
	*vh = (struct virtio_net_hdr){
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	    .gso_size = gso_size,
	    .hdr_len = 40,
	    .csum_start = 20,
	    .csum_offset = 16,
	};
	memcpy(inner, vh, sizeof(*vh));
	CHECK(send(r->tun_far, inner, (size_t)(len + KEEL_VNET_HDR_LEN), 0) ==
	      len + KEEL_VNET_HDR_LEN);
}

static void test_inbound(void)
{
	struct rig r;
	struct keel_datapath_stats st;
	uint8_t pkts[300][200];
	ptrdiff_t lens[300];
	uint64_t sent = 0;

	CHECK(rig_up(&r, false, NULL));
	/* 300 ESP packets, sequence numbers 1..300, each with its number inside */
	for (uint32_t i = 0; i < 300; i++) {
		udp_packet(inner, i + 1, 100);
		lens[i] = esp_of(&r, inner, 100, pkts[i]);
		CHECK(lens[i] > 0 && lens[i] <= 200);
	}
	/* in order 1..10, then 20..11 (reordered within the window) */
	for (int i = 0; i < 10; i++, sent++)
		send_to_dp(&r, pkts[i], lens[i]);
	for (int i = 19; i >= 10; i--, sent++)
		send_to_dp(&r, pkts[i], lens[i]);
	/* replays: 5, 15, 20 again */
	send_to_dp(&r, pkts[4], lens[4]);
	send_to_dp(&r, pkts[14], lens[14]);
	send_to_dp(&r, pkts[19], lens[19]);
	sent += 3;
	/* corrupted: 21 with a flipped ciphertext bit, then 22 with a flipped ICV bit */
	memcpy(got, pkts[20], (size_t)lens[20]);
	got[30] ^= 1;
	send_to_dp(&r, got, lens[20]);
	memcpy(got, pkts[21], (size_t)lens[21]);
	got[lens[21] - 1] ^= 0x80;
	send_to_dp(&r, got, lens[21]);
	sent += 2;
	/* an unknown SPI, and a datagram too short for ESP */
	memcpy(got, pkts[22], (size_t)lens[22]);
	got[3] ^= 0x40;
	send_to_dp(&r, got, lens[22]);
	send_to_dp(&r, (const uint8_t *)"\x00\x00\x10\x01\x00", 5);
	sent += 2;
	/* now the genuine 21 and 22 are still welcome: the forgeries moved nothing */
	send_to_dp(&r, pkts[20], lens[20]);
	send_to_dp(&r, pkts[21], lens[21]);
	sent += 2;
	/* 23..299 skipped but for 300: the window moves to 300; then 100 is too old */
	send_to_dp(&r, pkts[299], lens[299]);
	send_to_dp(&r, pkts[99], lens[99]);
	/* 250 is inside the window (300 - 128 < 250): accepted late, then replayed */
	send_to_dp(&r, pkts[249], lens[249]);
	send_to_dp(&r, pkts[249], lens[249]);
	sent += 4;
	CHECK(wait_stats(&r, rx_settled, sent));

	keel_datapath_stats(r.dp, &st);
	CHECK_INT(st.rx_packets, 20 + 2 + 2);
	CHECK_INT(st.rx_replayed, 3 + 1 + 1);
	CHECK_INT(st.rx_bad_icv, 2);
	CHECK_INT(st.rx_no_sa, 1);
	CHECK_INT(st.rx_bad, 3 + 1 + 1 + 2 + 1); /* replays, too old, ICVs, short */
	CHECK_INT(st.rx_selector, 0);
	CHECK_INT(st.rx_errors, 0);

	/* each accepted packet reached the TUN side once, intact */
	bool seen[301] = {false};
	for (int i = 0; i < 24; i++) {
		ptrdiff_t n = tun_read(&r, got, sizeof(got));
		uint32_t tag = 0;
		CHECK_INT(n, 100);
		if (n != 100)
			break;
		memcpy(&tag, got + 28, sizeof(tag));
		CHECK(tag >= 1 && tag <= 300 && !seen[tag]);
		if (tag >= 1 && tag <= 300)
			seen[tag] = true;
		udp_packet(inner, tag, 100);
		CHECK_MEM(got, 100, inner, 100);
	}
	for (int i = 1; i <= 22; i++)
		CHECK(seen[i]);
	CHECK(seen[250] && seen[300] && !seen[100] && !seen[23]);
	CHECK(recv(r.tun_far, got, sizeof(got), MSG_DONTWAIT) < 0);

	/* a GRO datagram: 301..340 sent as one UDP_SEGMENT, two replays in it */
	ptrdiff_t off = 0, seg = 0;
	struct keel_esp_stats es;
	keel_esp_sa_stats(r.to_dp, &es);
	for (uint32_t i = 0; i < 40; i++) {
		udp_packet(inner, 301 + i, 100);
		seg = esp_of(&r, inner, 100, gso_buf + off);
		off += seg;
	}
	memcpy(gso_buf + off, gso_buf, (size_t)seg); /* 301 again */
	off += seg;
	memcpy(gso_buf + off, gso_buf + 10 * seg, (size_t)seg); /* 311 again */
	off += seg;
	send_gso(&r, gso_buf, off, (uint16_t)seg);
	sent += 42;
	CHECK(wait_stats(&r, rx_settled, sent));
	keel_datapath_stats(r.dp, &st);
	CHECK_INT(st.rx_packets, 24 + 40);
	CHECK_INT(st.rx_replayed, 5 + 2);
	for (int i = 0; i < 40; i++) {
		ptrdiff_t n = tun_read(&r, got, sizeof(got));
		uint32_t tag = 0;
		CHECK_INT(n, 100);
		memcpy(&tag, got + 28, sizeof(tag));
		CHECK_INT(tag, 301 + i); /* in order */
	}
	rig_down(&r);
}

/* IKE on the NAT-T port: the marker is stripped and the message reaches the caller. */
static int ike_calls;
static void on_ike(void *ctx, const uint8_t *msg, ptrdiff_t len)
{
	(void)ctx;
	ike_calls++;
	CHECK_MEM(msg, (size_t)len, "IKEMSG", 6);
}

static void test_ike_and_outbound(void)
{
	struct rig r;
	struct keel_datapath_stats st;
	struct keel_esp_rx rx;

	CHECK(rig_up(&r, false, NULL));
	send_to_dp(&r, (const uint8_t *)"\0\0\0\0IKEMSG", 10);
	send_to_dp(&r, (const uint8_t *)"\xff", 1); /* a NAT-keepalive: ignored */
	struct pollfd p = {.fd = keel_datapath_event_fd(r.dp), .events = POLLIN};
	CHECK(poll(&p, 1, 2000) == 1);
	keel_datapath_udp_readable(r.dp, 0, on_ike, NULL);
	CHECK_INT(ike_calls, 1);
	/* sent from the caller's thread: the marker in front */
	CHECK_INT(keel_datapath_send_ike(r.dp, (const uint8_t *)"REPLY", 5, 0), 0);
	CHECK_INT(recv(r.peer, got, sizeof(got), 0), 9);
	CHECK_MEM(got, 9, "\0\0\0\0REPLY", 9);

	/* 100 packets into the TUN side: ESP with sequence numbers 1..100, intact */
	for (uint32_t i = 0; i < 100; i++) {
		udp_packet(inner, i, 1000);
		CHECK(send(r.tun_far, inner, 1000, 0) == 1000);
	}
	CHECK(wait_stats(&r, tx_settled, 100));
	for (uint32_t i = 0; i < 100; i++) {
		ptrdiff_t n = recv(r.peer, got, sizeof(got), 0);
		uint32_t tag = 0;
		CHECK_INT(keel_esp_decap(r.from_dp, got, n, &rx), KEEL_ESP_OK);
		CHECK_INT(rx.seq, i + 1);
		CHECK_INT(rx.inner_len, 1000);
		memcpy(&tag, rx.inner + 28, sizeof(tag));
		CHECK_INT(tag, i);
	}

	/* AH (RFC 4302) cannot travel in UDP: the TUN path refuses it with its own error */
	struct keel_out_child_install ah = {
	    .child_id = 9, .reqid = 1, .protocol = KEEL_PROTO_AH, .spi_in = 0x900, .integ = 12};
	CHECK_INT(keel_datapath_install(r.dp, &ah), KEEL_ERR_INVAL);

	/* make-before-break: pair 2 carries outbound at once, pair 1 still inbound */
	CHECK_INT(install(r.dp, 2, SPI2_DP_IN, SPI2_DP_OUT), 0);
	udp_packet(inner, 7777, 200);
	CHECK(send(r.tun_far, inner, 200, 0) == 200);
	CHECK(wait_stats(&r, tx_settled, 101));
	ptrdiff_t n = recv(r.peer, got, sizeof(got), 0);
	uint32_t spi = 0;
	CHECK_INT(keel_esp_read_spi(got, n, &spi), 0);
	CHECK_INT(spi, SPI2_DP_OUT);
	send_udp_to_dp(&r, 8888);
	CHECK(wait_stats(&r, rx_settled, 1));
	CHECK_INT(tun_read(&r, got, sizeof(got)), 100);
	keel_datapath_remove(r.dp, 1);
	send_udp_to_dp(&r, 9999);
	CHECK(wait_stats(&r, rx_settled, 2));
	keel_datapath_stats(r.dp, &st);
	CHECK_INT(st.rx_no_sa, 1);
	CHECK_INT(st.rx_packets, 1);
	rig_down(&r);
}

/*
 * One UDP packet (tag inside) through the TUN side; the ESP packet the
 * gateway got is left in got. Returns once the sending thread has flushed
 * its batch (tx_sends is counted after the read loop), so that a command
 * given after this is applied before it reads the next packet.
 */
static ptrdiff_t tx_one(struct rig *r, uint32_t tag, uint32_t *spi)
{
	struct keel_datapath_stats st;
	keel_datapath_stats(r->dp, &st);
	udp_packet(inner, tag, 120);
	CHECK(send(r->tun_far, inner, 120, 0) == 120);
	CHECK(wait_stats(r, tx_sent_at_least, st.tx_sends + 1));
	ptrdiff_t n = recv(r->peer, got, sizeof(got), MSG_DONTWAIT);
	*spi = 0;
	CHECK_INT(keel_esp_read_spi(got, n, spi), 0);
	return n;
}

/* tx_one(), and the gateway's SA from (SPI want_spi) opens it as sequence number want_seq. */
static void expect_sent(struct rig *r, uint32_t tag, uint32_t want_spi, struct keel_esp_sa *from,
                        uint32_t want_seq)
{
	struct keel_esp_rx rx;
	uint32_t spi, got_tag = 0;
	ptrdiff_t n = tx_one(r, tag, &spi);
	CHECK_INT(spi, want_spi);
	if (spi != want_spi)
		return;
	CHECK_INT(keel_esp_decap(from, got, n, &rx), KEEL_ESP_OK);
	CHECK_INT(rx.seq, want_seq);
	CHECK_INT(rx.inner_len, 120);
	memcpy(&got_tag, rx.inner + 28, sizeof(got_tag));
	CHECK_INT(got_tag, tag);
}

/* The gateway sends tag with its SA to (ESP to the data path); the TUN side must get it. */
static void expect_received(struct rig *r, struct keel_esp_sa *to, uint32_t tag, uint64_t settled)
{
	uint32_t got_tag = 0;
	udp_packet(inner, tag, 100);
	send_to_dp(r, esp, keel_esp_encap(to, inner, 100, esp, BUF_LEN));
	CHECK(wait_stats(r, rx_settled, settled));
	CHECK_INT(tun_read(r, got, sizeof(got)), 100);
	memcpy(&got_tag, got + 28, sizeof(got_tag));
	CHECK_INT(got_tag, tag);
}

/*
 * A rekey the gateway started (keel_datapath_install_inbound_first()): the
 * new inbound SA at once, the old outbound SA until the old pair goes, the
 * 2 s deadline passes (keel_datapath_deadline()/tick() with a made-up
 * clock) or keel_datapath_activate(); then the new outbound SA from
 * sequence number 1.
 */
static void test_answered_rekey(void)
{
	struct rig r;
	struct keel_datapath_stats st;
	const uint64_t t0 = 1000, t1 = 5000;

	CHECK(rig_up(&r, false, NULL));
	struct keel_esp_sa *to2 = sa(KEEL_ESP_OUTBOUND, SPI2_DP_IN, key_b);
	struct keel_esp_sa *to3 = sa(KEEL_ESP_OUTBOUND, SPI3_DP_IN, key_b);
	struct keel_esp_sa *from2 = sa(KEEL_ESP_INBOUND, SPI2_DP_OUT, key_a);
	struct keel_esp_sa *from3 = sa(KEEL_ESP_INBOUND, SPI3_DP_OUT, key_a);
	struct keel_esp_sa *from4 = sa(KEEL_ESP_INBOUND, SPI4_DP_OUT, key_a);
	struct keel_esp_sa *from5 = sa(KEEL_ESP_INBOUND, SPI5_DP_OUT, key_a);
	struct keel_esp_sa *from6 = sa(KEEL_ESP_INBOUND, SPI6_DP_OUT, key_a);
	expect_sent(&r, 1, SPI_DP_OUT, r.from_dp, 1);
	expect_sent(&r, 2, SPI_DP_OUT, r.from_dp, 2);

	/* pair 2 replaces pair 1: it receives at once, pair 1 still carries outbound */
	struct keel_out_child_install ci = pair_of(2, SPI2_DP_IN, SPI2_DP_OUT);
	ci.rekeyed_child_id = 1;
	CHECK_INT(keel_datapath_install_inbound_first(r.dp, &ci, t0), 0);
	expect_received(&r, to2, 20, 1);
	expect_sent(&r, 3, SPI_DP_OUT, r.from_dp, 3);
	expect_received(&r, r.to_dp, 10, 2); /* the old pair too */
	CHECK_INT(keel_datapath_deadline(r.dp), t0 + WAIT_NS);
	keel_datapath_tick(r.dp, t0 + WAIT_NS - 1);
	expect_sent(&r, 4, SPI_DP_OUT, r.from_dp, 4);
	/* the gateway deletes pair 1: pair 2 sends from then on, from 1 */
	keel_datapath_remove(r.dp, 1);
	expect_sent(&r, 5, SPI2_DP_OUT, from2, 1);
	expect_sent(&r, 6, SPI2_DP_OUT, from2, 2);
	CHECK(keel_datapath_deadline(r.dp) > t0 + WAIT_NS); /* a NAT-keepalive's, 20 s on */
	expect_received(&r, to2, 21, 3);
	send_udp_to_dp(&r, 11);
	CHECK(wait_stats(&r, rx_settled, 4));
	keel_datapath_stats(r.dp, &st);
	CHECK_INT(st.rx_no_sa, 1);

	/* pair 3 replaces pair 2, which the gateway does not delete: the deadline */
	ci = pair_of(3, SPI3_DP_IN, SPI3_DP_OUT);
	ci.rekeyed_child_id = 2;
	CHECK_INT(keel_datapath_install_inbound_first(r.dp, &ci, t1), 0);
	expect_received(&r, to3, 30, 5);
	expect_sent(&r, 7, SPI2_DP_OUT, from2, 3);
	CHECK_INT(keel_datapath_deadline(r.dp), t1 + WAIT_NS);
	keel_datapath_tick(r.dp, t1 + WAIT_NS);
	CHECK(keel_datapath_deadline(r.dp) > t1 + WAIT_NS);
	expect_sent(&r, 8, SPI3_DP_OUT, from3, 1);
	expect_received(&r, to2, 22, 6); /* pair 2 still receives until removed */
	keel_datapath_remove(r.dp, 2);
	expect_sent(&r, 9, SPI3_DP_OUT, from3, 2);

	/* explicit activation; an unknown pair */
	ci = pair_of(4, 0x7007, SPI4_DP_OUT);
	ci.rekeyed_child_id = 3;
	CHECK_INT(keel_datapath_install_inbound_first(r.dp, &ci, t1), 0);
	expect_sent(&r, 10, SPI3_DP_OUT, from3, 3);
	CHECK_INT(keel_datapath_activate(r.dp, 4), 0);
	CHECK_INT(keel_datapath_activate(r.dp, 4), 0); /* nothing kept back any more */
	CHECK_INT(keel_datapath_activate(r.dp, 42), KEEL_ERR_INVAL);
	expect_sent(&r, 11, SPI4_DP_OUT, from4, 1);
	keel_datapath_remove(r.dp, 3);

	/* a pair kept back that the next answered rekey replaces takes over first */
	ci = pair_of(5, 0x9009, SPI5_DP_OUT);
	ci.rekeyed_child_id = 4;
	CHECK_INT(keel_datapath_install_inbound_first(r.dp, &ci, t1), 0);
	expect_sent(&r, 12, SPI4_DP_OUT, from4, 2);
	ci = pair_of(6, 0xb00b, SPI6_DP_OUT);
	ci.rekeyed_child_id = 5;
	CHECK_INT(keel_datapath_install_inbound_first(r.dp, &ci, t1), 0);
	expect_sent(&r, 13, SPI5_DP_OUT, from5, 1);
	/* removing pair 6 itself before it took over leaves pair 5 sending */
	keel_datapath_remove(r.dp, 6);
	expect_sent(&r, 14, SPI5_DP_OUT, from5, 2);
	CHECK(keel_datapath_deadline(r.dp) > t1 + WAIT_NS);

	/* nothing installed that the pair replaces: as keel_datapath_install() */
	ci = pair_of(7, 0xd00d, SPI6_DP_OUT);
	ci.rekeyed_child_id = 99;
	CHECK_INT(keel_datapath_install_inbound_first(r.dp, &ci, t1), 0);
	keel_esp_sa_free(from6);
	from6 = sa(KEEL_ESP_INBOUND, SPI6_DP_OUT, key_a);
	expect_sent(&r, 15, SPI6_DP_OUT, from6, 1);
	keel_datapath_stats(r.dp, &st);
	CHECK_INT(st.tx_no_sa, 0);
	CHECK_INT(st.tx_errors, 0);

	keel_esp_sa_free(to2);
	keel_esp_sa_free(to3);
	keel_esp_sa_free(from2);
	keel_esp_sa_free(from3);
	keel_esp_sa_free(from4);
	keel_esp_sa_free(from5);
	keel_esp_sa_free(from6);
	rig_down(&r);
}

static void test_offloads(void)
{
	struct rig r;
	struct keel_esp_rx rx;
	struct virtio_net_hdr vh = {0};

	CHECK(rig_up(&r, true, NULL));
	/* a 10000-byte TCP super-packet with a 1000-byte MSS, checksum left to us */
	tun_send_super(&r, &vh, 1000000, 10000, 1000);
	CHECK(wait_stats(&r, tx_settled, 10));
	for (uint32_t i = 0; i < 10; i++) {
		ptrdiff_t n = recv(r.peer, got, sizeof(got), 0);
		CHECK_INT(keel_esp_decap(r.from_dp, got, n, &rx), KEEL_ESP_OK);
		CHECK_INT(rx.inner_len, 1040);
		CHECK(tcp_valid(rx.inner, rx.inner_len));
		uint32_t seq = (uint32_t)rx.inner[24] << 24 | (uint32_t)rx.inner[25] << 16 |
		               (uint32_t)rx.inner[26] << 8 | rx.inner[27];
		CHECK_INT(seq, 1000000 + i * 1000);
		CHECK_INT(rx.inner[33], i == 9 ? 0x18 : 0x10); /* PSH on the last only */
		CHECK_INT(rx.inner[40], (uint8_t)seq);
		CHECK_INT(rx.inner[5], i); /* IPv4 ID, one per segment */
	}
	/* a GSO packet of one segment (gso_size above its payload): still checksummed */
	ptrdiff_t len = tcp_packet(inner + KEEL_VNET_HDR_LEN, 77, 600, 0x18);
	vh.gso_size = 1000;
	memset(inner + KEEL_VNET_HDR_LEN + 36, 0x55, 2); /* a partial sum: not a checksum */
	memcpy(inner, &vh, sizeof(vh));
	CHECK(send(r.tun_far, inner, (size_t)(len + KEEL_VNET_HDR_LEN), 0) > 0);
	CHECK(wait_stats(&r, tx_settled, 11));
	ptrdiff_t n1 = recv(r.peer, got, sizeof(got), 0);
	CHECK_INT(keel_esp_decap(r.from_dp, got, n1, &rx), KEEL_ESP_OK);
	CHECK_INT(rx.inner_len, 640);
	CHECK(tcp_valid(rx.inner, rx.inner_len));
	/* a plain UDP packet whose checksum the kernel left to us */
	len = udp_packet(inner + KEEL_VNET_HDR_LEN, 42, 300);
	memset(&vh, 0, sizeof(vh));
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.csum_start = 20;
	vh.csum_offset = 6;
	uint16_t c =
	    keel_csum_fold(keel_csum_pseudo(false, inner + KEEL_VNET_HDR_LEN, IPPROTO_UDP, 280));
	memcpy(inner + KEEL_VNET_HDR_LEN + 26, &c, 2);
	memcpy(inner, &vh, sizeof(vh));
	CHECK(send(r.tun_far, inner, (size_t)(len + KEEL_VNET_HDR_LEN), 0) > 0);
	CHECK(wait_stats(&r, tx_settled, 12));
	ptrdiff_t n = recv(r.peer, got, sizeof(got), 0);
	CHECK_INT(keel_esp_decap(r.from_dp, got, n, &rx), KEEL_ESP_OK);
	uint64_t s = keel_csum_pseudo(false, rx.inner, IPPROTO_UDP, 280);
	CHECK_INT(keel_csum_fold(keel_csum_add(s, rx.inner + 20, 280)), 0xffff);

	/* inbound: 8 consecutive segments in one GRO datagram, one replayed, one off-flow */
	ptrdiff_t off = 0, seg = 0;
	for (uint32_t i = 0; i < 8; i++) {
		tcp_packet(inner, 5000 + i * 1000, 1000, i == 7 ? 0x18 : 0x10);
		seg = esp_of(&r, inner, 1040, gso_buf + off);
		off += seg;
	}
	memcpy(gso_buf + off, gso_buf + 2 * seg, (size_t)seg); /* replay of the third */
	off += seg;
	send_gso(&r, gso_buf, off, (uint16_t)seg);
	tcp_packet(inner, 99000, 500, 0x10); /* a gap: not coalesced with the rest */
	send_to_dp(&r, esp, esp_of(&r, inner, 540, esp));
	CHECK(wait_stats(&r, rx_settled, 10));
	struct keel_datapath_stats st;
	keel_datapath_stats(r.dp, &st);
	CHECK_INT(st.rx_packets, 9);
	CHECK_INT(st.rx_replayed, 1);
	n = tun_read(&r, got, sizeof(got));
	CHECK_INT(n, KEEL_VNET_HDR_LEN + 40 + 8000);
	memcpy(&vh, got, sizeof(vh));
	CHECK_INT(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_INT(vh.gso_size, 1000);
	CHECK_INT(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_INT(vh.csum_start, 20);
	CHECK_INT(vh.csum_offset, 16);
	uint8_t *ip = got + KEEL_VNET_HDR_LEN;
	CHECK_INT((ip[2] << 8) | ip[3], 8040);
	CHECK_INT(keel_csum_fold(keel_csum_add(0, ip, 20)), 0xffff);
	CHECK_INT(ip[33], 0x18); /* the last segment's PSH */
	bool data_ok = true;
	for (uint32_t i = 0; i < 8000; i++)
		data_ok &= ip[40 + i] == (uint8_t)(5000 + i);
	CHECK(data_ok);
	/* the partial checksum completed as the kernel would: the whole verifies */
	uint16_t partial;
	memcpy(&partial, ip + 36, 2);
	uint16_t full = (uint16_t)~keel_csum_fold(keel_csum_add(0, ip + 20, 8020));
	memcpy(ip + 36, &full, 2);
	CHECK(tcp_valid(ip, 8040));
	CHECK_INT(partial, keel_csum_fold(keel_csum_pseudo(false, ip, IPPROTO_TCP, 8020)));
	n = tun_read(&r, got, sizeof(got));
	CHECK_INT(n, KEEL_VNET_HDR_LEN + 540);
	memcpy(&vh, got, sizeof(vh));
	CHECK_INT(vh.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	CHECK(tcp_valid(got + KEEL_VNET_HDR_LEN, 540));
	rig_down(&r);
}

/* Without GSO, GRO or batching the counts are the same. */
static void test_no_offloads(void)
{
	struct rig r;
	struct keel_datapath_options o = {.no_udp_gso = true, .no_udp_gro = true, .batch = 1};
	struct keel_datapath_stats st;
	bool gso, gro, vnet;

	CHECK(rig_up(&r, true, &o));
	keel_datapath_offloads(r.dp, &gso, &gro, &vnet);
	CHECK(!gso && !gro && vnet);
	ptrdiff_t off = 0, seg = 0;
	for (uint32_t i = 0; i < 20; i++) {
		udp_packet(inner, i, 100);
		seg = esp_of(&r, inner, 100, gso_buf + off);
		off += seg;
	}
	memcpy(gso_buf + off, gso_buf, (size_t)seg);
	off += seg;
	/* the kernel segments it for a socket without UDP_GRO */
	send_gso(&r, gso_buf, off, (uint16_t)seg);
	CHECK(wait_stats(&r, rx_settled, 21));
	keel_datapath_stats(r.dp, &st);
	CHECK_INT(st.rx_packets, 20);
	CHECK_INT(st.rx_replayed, 1);
	CHECK_INT(st.rx_datagrams, 21);
	rig_down(&r);
}

/*
 * Spinning before sleeping, pinned threads, and sends flushed in the middle
 * of a super-packet (batch 2, 250 segments): every segment leaves once, in
 * order, with its own sequence number; inbound still checks the window.
 */
static void test_spin_pin(void)
{
	struct rig r;
	struct keel_esp_rx rx;
	struct keel_datapath_stats st;
	struct virtio_net_hdr vh = {0};
	struct keel_datapath_options o = {.spin_us = 200, .pin = true, .batch = 2};
	struct keel_datapath *dp = NULL;

	CHECK_INT(keel_datapath_new(-1, &env, &dp), 0);
	o.spin_us = 10001;
	CHECK_INT(keel_datapath_set_options(dp, &o), KEEL_ERR_INVAL);
	keel_datapath_free(dp);
	o.spin_us = 200;

	CHECK(rig_up(&r, true, &o));
	tun_send_super(&r, &vh, 7000, 4000, 16);
	CHECK(wait_stats(&r, tx_settled, 250));
	keel_datapath_stats(r.dp, &st);
	CHECK_INT(st.tx_packets, 250);
	CHECK_INT(st.tx_errors, 0);
	CHECK(wait_stats(&r, tx_sent_at_least, 4)); /* 64 segments per GSO send at most */
	for (uint32_t i = 0; i < 250; i++) {
		ptrdiff_t n = recv(r.peer, got, sizeof(got), 0);
		CHECK_INT(keel_esp_decap(r.from_dp, got, n, &rx), KEEL_ESP_OK);
		CHECK_INT(rx.seq, i + 1);
		CHECK_INT(rx.inner_len, 56);
		CHECK(tcp_valid(rx.inner, rx.inner_len));
		uint32_t seq = (uint32_t)rx.inner[24] << 24 | (uint32_t)rx.inner[25] << 16 |
		               (uint32_t)rx.inner[26] << 8 | rx.inner[27];
		CHECK_INT(seq, 7000 + i * 16);
		if (rx.seq != i + 1)
			break;
	}
	CHECK(recv(r.peer, got, sizeof(got), MSG_DONTWAIT) < 0);

	/* inbound while spinning: 3 packets, the second replayed */
	ptrdiff_t n1 = send_udp_to_dp(&r, 1);
	send_to_dp(&r, esp, n1);
	send_udp_to_dp(&r, 2);
	CHECK(wait_stats(&r, rx_settled, 3));
	keel_datapath_stats(r.dp, &st);
	CHECK_INT(st.rx_packets, 2);
	CHECK_INT(st.rx_replayed, 1);
	rig_down(&r);
}

/* An IPv6 TCP packet 2001:db8::1 -> 2001:db8::2 with a timestamp option (12 bytes). */
static ptrdiff_t tcp6_packet(uint8_t *p, uint32_t seq, ptrdiff_t payload_len)
{
	ptrdiff_t tcp_len = 32 + payload_len;
	memset(p, 0, 72);
	p[0] = 0x60;
	p[4] = (uint8_t)(tcp_len >> 8);
	p[5] = (uint8_t)tcp_len;
	p[6] = IPPROTO_TCP;
	p[7] = 64;
	p[8] = 0x20;
	p[9] = 0x01;
	p[10] = 0x0d;
	p[11] = 0xb8;
	memcpy(p + 24, p + 8, 16);
	p[23] = 1;
	p[39] = 2;
	uint8_t *t = p + 40;
	t[1] = 80;
	t[3] = 81;
	t[4] = (uint8_t)(seq >> 24);
	t[5] = (uint8_t)(seq >> 16);
	t[6] = (uint8_t)(seq >> 8);
	t[7] = (uint8_t)seq;
	t[12] = 8 << 4;
	t[13] = 0x10;
	t[15] = 0xff;
	memcpy(t + 20, (uint8_t[]){1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7}, 12);
	for (ptrdiff_t i = 0; i < payload_len; i++)
		t[32 + i] = (uint8_t)(i * 3);
	return 40 + tcp_len;
}

/* The offload functions alone, over IPv6 (the data path tests above are IPv4). */
static void test_offload_v6(void)
{
	static uint8_t super[70000], segs[8][2000];
	struct virtio_net_hdr vh = {.gso_type = VIRTIO_NET_HDR_GSO_TCPV6, .gso_size = 1200};
	struct keel_tso t;
	ptrdiff_t len = tcp6_packet(super, 0xfffffc00, 5000); /* the sequence number wraps */
	CHECK_INT(keel_tso_parse(&vh, super, len, &t), 0);
	CHECK_INT(t.n_segs, 5);
	CHECK_INT(t.hlen, 72);
	CHECK(t.v6);
	struct keel_gro *g = malloc(sizeof(*g));
	keel_gro_init(g);
	for (ptrdiff_t i = 0; i < t.n_segs; i++) {
		ptrdiff_t n = keel_tso_segment(&t, i, segs[i]);
		CHECK_INT(n, 72 + (i < 4 ? 1200 : 200));
		CHECK_INT((segs[i][4] << 8) | segs[i][5], n - 40);
		uint64_t sum = keel_csum_pseudo(true, segs[i], IPPROTO_TCP, (uint32_t)(n - 40));
		CHECK_INT(keel_csum_fold(keel_csum_add(sum, segs[i] + 40, (size_t)(n - 40))),
		          0xffff);
		CHECK(keel_gro_add(g, segs[i], n));
	}
	/* a wrong length, a malformed GSO type, a too short packet: refused */
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	CHECK_INT(keel_tso_parse(&vh, super, len, &t), KEEL_ERR_MALFORMED);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	CHECK_INT(keel_tso_parse(&vh, super, len, &t), KEEL_ERR_MALFORMED);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	CHECK_INT(keel_tso_parse(&vh, super, 50, &t), KEEL_ERR_MALFORMED);
	vh = (struct virtio_net_hdr){
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 40, .csum_offset = 16};
	CHECK_INT(keel_tso_parse(&vh, super, 40, &t), KEEL_ERR_MALFORMED);

	/* and back: one group of five, the kernel's GSO header for IPv6 */
	CHECK_INT(g->n_groups, 1);
	struct iovec iov[2 + KEEL_GRO_MAX_SEGS];
	int n = keel_gro_group(g, 0, &vh, iov);
	CHECK_INT(n, 1 + 5);
	CHECK_INT(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	CHECK_INT(vh.gso_size, 1200);
	CHECK_INT(vh.hdr_len, 72);
	CHECK_INT(vh.csum_start, 40);
	CHECK_INT((segs[0][4] << 8) | segs[0][5], 32 + 5000);
	size_t total = 0;
	for (int i = 1; i < n; i++)
		total += iov[i].iov_len;
	CHECK_INT(total, 72 + 5000);
	/* a segment with another timestamp does not join */
	keel_gro_init(g);
	tcp6_packet(segs[0], 1, 100);
	tcp6_packet(segs[1], 101, 100);
	tcp6_packet(segs[2], 201, 100);
	segs[1][40 + 27] ^= 1;
	for (int i = 0; i < 3; i++)
		CHECK(keel_gro_add(g, segs[i], 172));
	CHECK_INT(g->n_groups, 3); /* and the third cannot follow the first: 101 is missing */
	free(g);
}

int main(void)
{
	test_offload_v6();
	test_inbound();
	test_ike_and_outbound();
	test_answered_rekey();
	test_offloads();
	test_no_offloads();
	test_spin_pin();
	return check_done();
}
