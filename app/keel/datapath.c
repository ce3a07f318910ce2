/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The TUN data path, kept simple: one thread, one packet per system call,
 * a bounded batch per readiness event. See datapath.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <keel/esp.h>

#include "datapath.h"

/* Pairs alive at once: the current one, the one it replaces, and spare room. */
#define MAX_PAIRS 8
/* Packets handled per readiness event before the event loop runs again. */
#define BATCH 64
/* RFC 3948 §2.3: a NAT-keepalive after 20 s without sending anything. */
#define KEEPALIVE_NS (20ull * 1000000000ull)

struct pair {
	uint32_t child_id; /* 0: free */
	uint64_t order;    /* installation order: the newest has the largest */
	struct keel_esp_sa *in;
	struct keel_esp_sa *out;
	size_t n_ts_local;
	size_t n_ts_remote;
	struct keel_ts ts_local[KEEL_MAX_TS];
	struct keel_ts ts_remote[KEEL_MAX_TS];
};

struct keel_datapath {
	int natt_fd;
	int tun_fd;
	const struct keel_env *env;
	struct pair pairs[MAX_PAIRS];
	uint64_t next_order;
	bool keepalive;
	uint64_t last_tx_ns;
	uint32_t rekey_child_id;
	struct keel_datapath_stats st;
	/* One packet at a time, in either direction: room for ESP around the largest. */
	uint8_t buf[KEEL_ESP_HEADROOM + KEEL_ESP_INNER_MAX_LEN + KEEL_ESP_TRAILER_MAX_LEN];
};

int keel_datapath_new(int natt_fd, const struct keel_env *env, struct keel_datapath **out)
{
	/* calloc: the large buffer's pages are only touched as packets need them */
	struct keel_datapath *dp = calloc(1, sizeof(*dp));
	if (!dp)
		return KEEL_ERR_NOMEM;
	dp->natt_fd = natt_fd;
	dp->tun_fd = -1;
	dp->env = env;
	dp->next_order = 1;
	*out = dp;
	return 0;
}

static void pair_clear(struct pair *p)
{
	keel_esp_sa_free(p->in);
	keel_esp_sa_free(p->out);
	memset(p, 0, sizeof(*p));
}

void keel_datapath_free(struct keel_datapath *dp)
{
	if (!dp)
		return;
	for (size_t i = 0; i < MAX_PAIRS; i++)
		pair_clear(&dp->pairs[i]);
	free(dp);
}

void keel_datapath_set_tun(struct keel_datapath *dp, int tun_fd)
{
	dp->tun_fd = tun_fd;
}

void keel_datapath_stats(const struct keel_datapath *dp, struct keel_datapath_stats *out)
{
	*out = dp->st;
}

uint32_t keel_datapath_take_rekey(struct keel_datapath *dp)
{
	uint32_t id = dp->rekey_child_id;
	dp->rekey_child_id = 0;
	return id;
}

/* ---- SAs ---- */

int keel_datapath_install(struct keel_datapath *dp, const struct keel_out_child_install *ci)
{
	struct pair *p = NULL;
	int rc;

	if (ci->protocol != KEEL_PROTO_ESP || !ci->encap)
		return KEEL_ERR_UNSUPPORTED; /* the TUN path only speaks ESP in UDP */
	if (ci->n_ts_local > KEEL_MAX_TS || ci->n_ts_remote > KEEL_MAX_TS)
		return KEEL_ERR_INVAL;
	for (size_t i = 0; i < MAX_PAIRS && !p; i++)
		if (dp->pairs[i].child_id == 0)
			p = &dp->pairs[i];
	if (!p)
		return KEEL_ERR_NOBUF;

	struct keel_esp_sa_params in = {
	    .dir = KEEL_ESP_INBOUND,
	    .spi = ci->spi_in,
	    .encr = ci->encr,
	    .encr_key_bits = ci->encr_key_bits,
	    .encr_keymat = ci->encr_key_in,
	    .encr_keymat_len = ci->encr_key_len,
	    .integ = ci->integ,
	    .integ_key = ci->integ_key_in,
	    .integ_key_len = ci->integ_key_len,
	    .esn = ci->esn,
	    .env = dp->env,
	};
	struct keel_esp_sa_params out = in;
	out.dir = KEEL_ESP_OUTBOUND;
	out.spi = ci->spi_out;
	out.encr_keymat = ci->encr_key_out;
	out.integ_key = ci->integ_key_out;

	if ((rc = keel_esp_sa_new(&in, &p->in)) < 0 || (rc = keel_esp_sa_new(&out, &p->out)) < 0) {
		pair_clear(p);
		return rc;
	}
	p->child_id = ci->child_id;
	p->order = dp->next_order++;
	p->n_ts_local = ci->n_ts_local;
	p->n_ts_remote = ci->n_ts_remote;
	if (ci->n_ts_local)
		memcpy(p->ts_local, ci->ts_local, ci->n_ts_local * sizeof(p->ts_local[0]));
	if (ci->n_ts_remote)
		memcpy(p->ts_remote, ci->ts_remote, ci->n_ts_remote * sizeof(p->ts_remote[0]));
	if (ci->nat_local || ci->encap)
		dp->keepalive = true;
	return 0;
}

void keel_datapath_remove(struct keel_datapath *dp, uint32_t child_id)
{
	for (size_t i = 0; i < MAX_PAIRS; i++)
		if (child_id != 0 && dp->pairs[i].child_id == child_id)
			pair_clear(&dp->pairs[i]);
}

static const struct pair *newest_pair(const struct keel_datapath *dp)
{
	const struct pair *best = NULL;
	for (size_t i = 0; i < MAX_PAIRS; i++) {
		const struct pair *p = &dp->pairs[i];
		if (p->child_id && (!best || p->order > best->order))
			best = p;
	}
	return best;
}

uint32_t keel_datapath_tun_mtu(const struct keel_datapath *dp, uint32_t path_mtu,
                               uint32_t ip_hdr_len)
{
	const struct pair *p = newest_pair(dp);
	if (!p || path_mtu <= ip_hdr_len + KEEL_ESP_UDP_HDR_LEN)
		return 0;
	ptrdiff_t n = keel_esp_max_inner_len(p->out, path_mtu - ip_hdr_len - KEEL_ESP_UDP_HDR_LEN);
	return n > 0 ? (uint32_t)n : 0;
}

/* ---- selectors ---- */

/* What traffic selectors look at in an IP packet (RFC 7296 §3.13.1). */
struct sel {
	enum keel_af af;
	const uint8_t *src;
	const uint8_t *dst;
	uint8_t proto;
	bool has_ports;
	uint16_t sport;
	uint16_t dport;
};

static bool proto_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
	       proto == IPPROTO_UDPLITE;
}

/* False for anything that is not a whole IPv4 or IPv6 header. */
static bool parse_sel(const uint8_t *p, ptrdiff_t len, struct sel *s)
{
	ptrdiff_t l4 = 0;
	bool first_fragment = true;

	if (len < 1)
		return false;
	memset(s, 0, sizeof(*s));
	switch (p[0] >> 4) {
	case 4: {
		ptrdiff_t ihl = (ptrdiff_t)(p[0] & 0x0f) * 4;
		if (len < 20 || ihl < 20 || ihl > len)
			return false;
		s->af = KEEL_AF_INET;
		s->proto = p[9];
		s->src = p + 12;
		s->dst = p + 16;
		/* only the first fragment (offset 0) carries the ports */
		first_fragment = ((p[6] & 0x1f) << 8 | p[7]) == 0;
		l4 = ihl;
		break;
	}
	case 6:
		if (len < 40)
			return false;
		s->af = KEEL_AF_INET6;
		s->proto =
		    p[6]; /* extension headers are not followed: such packets match "any" TS only */
		s->src = p + 8;
		s->dst = p + 24;
		l4 = 40;
		break;
	default:
		return false;
	}
	if (first_fragment && proto_has_ports(s->proto) && len - l4 >= 4) {
		s->has_ports = true;
		s->sport = (uint16_t)(p[l4] << 8 | p[l4 + 1]);
		s->dport = (uint16_t)(p[l4 + 2] << 8 | p[l4 + 3]);
	}
	return true;
}

static bool ts_match(const struct keel_ts *ts, const struct sel *s, const uint8_t *addr,
                     uint16_t port)
{
	size_t n = s->af == KEEL_AF_INET ? 4 : 16;
	if (ts->family != s->af)
		return false;
	if (memcmp(addr, ts->start, n) < 0 || memcmp(addr, ts->end, n) > 0)
		return false;
	if (ts->ip_proto != 0 && ts->ip_proto != s->proto)
		return false;
	if (ts->port_start == 0 && ts->port_end == 65535)
		return true;
	return s->has_ports && port >= ts->port_start && port <= ts->port_end;
}

static bool ts_any(const struct keel_ts *ts, size_t n, const struct sel *s, const uint8_t *addr,
                   uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (ts_match(&ts[i], s, addr, port))
			return true;
	return false;
}

/* RFC 4301 §5.1: the newest pair whose selectors cover the packet. */
static struct pair *pair_for_out(struct keel_datapath *dp, const struct sel *s)
{
	struct pair *best = NULL;
	for (size_t i = 0; i < MAX_PAIRS; i++) {
		struct pair *p = &dp->pairs[i];
		if (!p->child_id || (best && p->order < best->order))
			continue;
		if (ts_any(p->ts_local, p->n_ts_local, s, s->src, s->sport) &&
		    ts_any(p->ts_remote, p->n_ts_remote, s, s->dst, s->dport))
			best = p;
	}
	return best;
}

static struct pair *pair_for_spi(struct keel_datapath *dp, uint32_t spi)
{
	for (size_t i = 0; i < MAX_PAIRS; i++) {
		struct pair *p = &dp->pairs[i];
		if (p->child_id && keel_esp_sa_spi(p->in) == spi)
			return p;
	}
	return NULL;
}

/* ---- sending ---- */

int keel_datapath_send_ike(struct keel_datapath *dp, const uint8_t *msg, ptrdiff_t len,
                           uint64_t now_ns)
{
	uint8_t marker[KEEL_NATT_MARKER_LEN];
	keel_natt_write_marker(marker, sizeof(marker));
	struct iovec iov[2] = {
	    {.iov_base = marker, .iov_len = sizeof(marker)},
	    {.iov_base = (void *)msg, .iov_len = (size_t)len},
	};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	for (int tries = 0; tries < 2; tries++) {
		if (sendmsg(dp->natt_fd, &mh, 0) >= 0) {
			dp->last_tx_ns = now_ns;
			return 0;
		}
		/* the first try may only collect an earlier ICMP error */
		if (errno != ECONNREFUSED && errno != EINTR)
			break;
	}
	return -errno;
}

void keel_datapath_tun_readable(struct keel_datapath *dp, uint64_t now_ns)
{
	uint8_t *inner = dp->buf + KEEL_ESP_HEADROOM;
	const ptrdiff_t inner_cap = KEEL_ESP_INNER_MAX_LEN;

	if (dp->tun_fd < 0)
		return;
	for (int i = 0; i < BATCH; i++) {
		ssize_t n = read(dp->tun_fd, inner, (size_t)inner_cap);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* EAGAIN: drained */
		}
		struct sel s;
		struct pair *p = parse_sel(inner, n, &s) ? pair_for_out(dp, &s) : NULL;
		if (!p) {
			dp->st.tx_no_sa++;
			continue;
		}
		uint8_t *esp = inner - keel_esp_header_len(p->out);
		ptrdiff_t cap = dp->buf + sizeof(dp->buf) - esp;
		ptrdiff_t len = keel_esp_encap(p->out, inner, n, esp, cap);
		if (len < 0) {
			if (len == KEEL_ERR_STATE && !dp->rekey_child_id)
				dp->rekey_child_id = p->child_id; /* RFC 4303 §3.3.3: rekey */
			dp->st.tx_errors++;
			continue;
		}
		/* a full socket buffer drops the packet, as a full link would */
		if (send(dp->natt_fd, esp, (size_t)len, 0) < 0) {
			dp->st.tx_errors++;
			continue;
		}
		dp->last_tx_ns = now_ns;
		dp->st.tx_packets++;
		dp->st.tx_bytes += (uint64_t)n;
	}
}

/* ---- receiving ---- */

static void esp_in(struct keel_datapath *dp, uint8_t *pkt, ptrdiff_t len)
{
	uint32_t spi;
	struct keel_esp_rx rx;
	struct sel s;

	if (keel_esp_read_spi(pkt, len, &spi) < 0) {
		dp->st.rx_bad++;
		return;
	}
	struct pair *p = pair_for_spi(dp, spi);
	if (!p) {
		dp->st.rx_no_sa++;
		return;
	}
	enum keel_esp_status st = keel_esp_decap(p->in, pkt, len, &rx);
	if (st != KEEL_ESP_OK) {
		if (st != KEEL_ESP_DUMMY)
			dp->st.rx_bad++;
		return;
	}
	/* RFC 4301 §5.2 step 4: the inner packet must match the SA's selectors */
	if (!parse_sel(rx.inner, rx.inner_len, &s) ||
	    !ts_any(p->ts_remote, p->n_ts_remote, &s, s.src, s.sport) ||
	    !ts_any(p->ts_local, p->n_ts_local, &s, s.dst, s.dport)) {
		dp->st.rx_selector++;
		return;
	}
	if (dp->tun_fd < 0 || write(dp->tun_fd, rx.inner, (size_t)rx.inner_len) < 0) {
		dp->st.rx_errors++;
		return;
	}
	dp->st.rx_packets++;
	dp->st.rx_bytes += (uint64_t)rx.inner_len;
}

void keel_datapath_udp_readable(struct keel_datapath *dp, uint64_t now_ns,
                                keel_datapath_ike_fn ike_fn, void *ctx)
{
	(void)now_ns;
	for (int i = 0; i < BATCH; i++) {
		ssize_t n = recv(dp->natt_fd, dp->buf, sizeof(dp->buf), 0);
		if (n < 0) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue; /* an ICMP error for an earlier datagram: go on */
			return;
		}
		ptrdiff_t off = 0;
		switch (keel_natt_classify(dp->buf, n, &off)) {
		case KEEL_NATT_ESP:
			esp_in(dp, dp->buf + off, n - off);
			break;
		case KEEL_NATT_IKE:
			ike_fn(ctx, dp->buf + off, n - off);
			break;
		case KEEL_NATT_KEEPALIVE:
			break;
		case KEEL_NATT_INVALID:
			dp->st.rx_bad++;
			break;
		}
	}
}

/* ---- NAT-keepalives ---- */

uint64_t keel_datapath_deadline(const struct keel_datapath *dp)
{
	if (!dp->keepalive)
		return UINT64_MAX;
	return dp->last_tx_ns + KEEPALIVE_NS;
}

void keel_datapath_tick(struct keel_datapath *dp, uint64_t now_ns)
{
	uint8_t ka[1];
	if (!dp->keepalive || now_ns < dp->last_tx_ns + KEEPALIVE_NS)
		return;
	ptrdiff_t n = keel_natt_write_keepalive(ka, sizeof(ka));
	/* a failed keepalive is not retried before the next interval */
	dp->last_tx_ns = now_ns;
	if (n > 0 && send(dp->natt_fd, ka, (size_t)n, 0) == n)
		dp->st.keepalives++;
}
