/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checksums, TCP segmentation and coalescing for the TUN data path; see
 * offload.h. Written here because no library does it for a TUN device:
 * it is what a NIC's TSO and the kernel's GRO do, over plain buffers.
 */
#include <string.h>
#include <sys/uio.h>

#include <netinet/in.h>

#include <keel/err.h>

#include "offload.h"

#define IPV4_HDR_LEN 20
#define IPV6_HDR_LEN 40
#define TCP_HDR_LEN  20
#define IP_MAX_LEN   65535

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- checksum ---- */

/*
 * RFC 1071 §2: the sum is the same in either byte order, so words are
 * summed as the host loads them and the folded result is stored the same
 * way (memcpy), which puts the bytes right on either kind of host.
 */
uint64_t keel_csum_add(uint64_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t s0 = 0, s1 = 0;
	while (len >= 16) {
		uint64_t a, c;
		memcpy(&a, b, 8);
		memcpy(&c, b + 8, 8);
		s0 += (a & 0xffffffffu) + (a >> 32);
		s1 += (c & 0xffffffffu) + (c >> 32);
		b += 16;
		len -= 16;
	}
	while (len >= 4) {
		uint32_t w;
		memcpy(&w, b, 4);
		s0 += w;
		b += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;
		memcpy(&h, b, 2);
		s0 += h;
		b += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = {b[0], 0}; /* padded with a zero byte (RFC 1071 §4.1) */
		uint16_t h;
		memcpy(&h, last, 2);
		s0 += h;
	}
	/* each of s0, s1 stays below 2^63 for any packet; fold them into sum */
	s0 += s1;
	sum += s0;
	if (sum < s0)
		sum++;
	return sum;
}

uint16_t keel_csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint64_t keel_csum_pseudo(bool v6, const uint8_t *ip, uint8_t proto, uint32_t l4_len)
{
	uint8_t tail[8] = {0};
	uint64_t sum;
	if (v6) {
		sum = keel_csum_add(0, ip + 8, 32); /* source and destination */
		wr32(tail, l4_len);
		tail[7] = proto;
		return keel_csum_add(sum, tail, 8);
	}
	sum = keel_csum_add(0, ip + 12, 8);
	tail[1] = proto;
	wr16(tail + 2, (uint16_t)l4_len);
	return keel_csum_add(sum, tail, 4);
}

static void ipv4_set_csum(uint8_t *ip, ptrdiff_t ip_hlen)
{
	uint16_t c;
	ip[10] = ip[11] = 0;
	c = (uint16_t)~keel_csum_fold(keel_csum_add(0, ip, (size_t)ip_hlen));
	memcpy(ip + 10, &c, 2);
}

/* ---- parsing ---- */

/*
 * The IP and TCP header lengths of a TCP packet, or 0 when it is not one
 * we can segment or coalesce (IPv4 fragments, IPv6 extension headers).
 */
static ptrdiff_t tcp_headers(const uint8_t *p, ptrdiff_t len, bool *v6, ptrdiff_t *ip_hlen)
{
	ptrdiff_t ih, th;
	if (len < IPV4_HDR_LEN)
		return 0;
	switch (p[0] >> 4) {
	case 4:
		ih = (ptrdiff_t)(p[0] & 0x0f) * 4;
		if (ih < IPV4_HDR_LEN || p[9] != IPPROTO_TCP || (rd16(p + 6) & 0x3fff) != 0)
			return 0;
		*v6 = false;
		break;
	case 6:
		ih = IPV6_HDR_LEN;
		if (p[6] != IPPROTO_TCP)
			return 0;
		*v6 = true;
		break;
	default:
		return 0;
	}
	if (len < ih + TCP_HDR_LEN)
		return 0;
	th = (ptrdiff_t)(p[ih + 12] >> 4) * 4;
	if (th < TCP_HDR_LEN || len < ih + th)
		return 0;
	*ip_hlen = ih;
	return ih + th;
}

/* The IP length field agrees with what was read (no trailing bytes either). */
static bool ip_len_ok(const uint8_t *p, ptrdiff_t len, bool v6)
{
	if (v6)
		return rd16(p + 4) + IPV6_HDR_LEN == len;
	return rd16(p + 2) == len;
}

int keel_tso_parse(const struct virtio_net_hdr *vh, uint8_t *pkt, ptrdiff_t len,
                   struct keel_tso *out)
{
	struct keel_tso t = {.pkt = pkt, .len = len, .n_segs = 1};
	uint8_t gso_type = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (len <= 0 || len > IP_MAX_LEN + IPV6_HDR_LEN)
		return KEEL_ERR_MALFORMED;
	if (gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			/* virtio 1.x §5.1.6.2: sum from csum_start to the end, store at
			 * +csum_offset */
			ptrdiff_t start = vh->csum_start, at = start + vh->csum_offset;
			if (start >= len || at + 2 > len || (vh->csum_offset & 1))
				return KEEL_ERR_MALFORMED;
			uint16_t c = (uint16_t)~keel_csum_fold(
			    keel_csum_add(0, pkt + start, (size_t)(len - start)));
			if (c == 0 && vh->csum_offset == 6)
				c = 0xffff; /* RFC 768: a UDP checksum of 0 is sent as all ones */
			memcpy(pkt + at, &c, 2);
		}
		*out = t;
		return 0;
	}
	if (gso_type != VIRTIO_NET_HDR_GSO_TCPV4 && gso_type != VIRTIO_NET_HDR_GSO_TCPV6)
		return KEEL_ERR_MALFORMED;
	t.hlen = tcp_headers(pkt, len, &t.v6, &t.ip_hlen);
	if (t.hlen == 0 || t.v6 != (gso_type == VIRTIO_NET_HDR_GSO_TCPV6) || vh->gso_size == 0 ||
	    len <= t.hlen)
		return KEEL_ERR_MALFORMED;
	t.gso_size = vh->gso_size;
	t.n_segs = (len - t.hlen + t.gso_size - 1) / t.gso_size;
	*out = t;
	return 0;
}

ptrdiff_t keel_tso_segment(const struct keel_tso *t, ptrdiff_t i, uint8_t *dst)
{
	ptrdiff_t off = i * t->gso_size;
	ptrdiff_t seg = t->len - t->hlen - off;
	uint8_t *tcp = dst + t->ip_hlen;
	uint16_t c;
	if (seg > t->gso_size)
		seg = t->gso_size;
	memcpy(dst, t->pkt, (size_t)t->hlen);
	memcpy(dst + t->hlen, t->pkt + t->hlen + off, (size_t)seg);

	ptrdiff_t l4_len = t->hlen - t->ip_hlen + seg;
	if (t->v6) {
		wr16(dst + 4, (uint16_t)l4_len);
	} else {
		wr16(dst + 2, (uint16_t)(t->hlen + seg));
		wr16(dst + 4, (uint16_t)(rd16(t->pkt + 4) + i)); /* the ID, one per segment */
		ipv4_set_csum(dst, t->ip_hlen);
	}
	wr32(tcp + 4, rd32(t->pkt + t->ip_hlen + 4) + (uint32_t)off);
	if (i != t->n_segs - 1)
		tcp[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
	if (i != 0)
		tcp[13] &= (uint8_t)~TCP_CWR;
	tcp[16] = tcp[17] = 0;
	uint64_t sum = keel_csum_pseudo(t->v6, dst, IPPROTO_TCP, (uint32_t)l4_len);
	sum = keel_csum_add(sum, tcp, (size_t)l4_len);
	c = (uint16_t)~keel_csum_fold(sum);
	memcpy(tcp + 16, &c, 2);
	return t->hlen + seg;
}

/* ---- coalescing ---- */

void keel_gro_init(struct keel_gro *g)
{
	g->n_pkts = 0;
	g->n_groups = 0;
	g->n_open = 0;
}

/* Whether p may follow the last packet of group gr (RFC 9293 §3.1 header fields). */
static bool gro_fits(const struct keel_gro *g, ptrdiff_t gi, const uint8_t *p, ptrdiff_t len,
                     ptrdiff_t hlen, ptrdiff_t ip_hlen, bool v6)
{
	const __typeof__(g->groups[0]) *gr = &g->groups[gi];
	const uint8_t *f = g->pkts[gr->first].pkt;
	const uint8_t *l = g->pkts[gr->last].pkt;
	ptrdiff_t seg = len - hlen;
	ptrdiff_t last_seg = g->pkts[gr->last].len - hlen;

	if (gr->closed || gr->hlen != hlen || gr->v6 != v6 || gr->ip_hlen != ip_hlen)
		return false;
	if (v6) {
		/* version, class, flow label; addresses; hop limit */
		if (memcmp(f, p, 4) != 0 || memcmp(f + 8, p + 8, 32) != 0 || f[7] != p[7])
			return false;
	} else {
		/* header length and TOS, DF, TTL and protocol, addresses, options */
		if (f[0] != p[0] || f[1] != p[1] || f[6] != p[6] || f[8] != p[8] ||
		    memcmp(f + 12, p + 12, 8) != 0 ||
		    memcmp(f + IPV4_HDR_LEN, p + IPV4_HDR_LEN, (size_t)(ip_hlen - IPV4_HDR_LEN)) !=
		        0)
			return false;
	}
	const uint8_t *ft = f + ip_hlen, *lt = l + ip_hlen, *pt = p + ip_hlen;
	/* ports; ACK number, header length and flags checked below; window; options */
	if (memcmp(ft, pt, 4) != 0 || memcmp(ft + 8, pt + 8, 4) != 0 || ft[12] != pt[12] ||
	    memcmp(ft + 14, pt + 14, 2) != 0 ||
	    memcmp(ft + TCP_HDR_LEN, pt + TCP_HDR_LEN, (size_t)(hlen - ip_hlen - TCP_HDR_LEN)) != 0)
		return false;
	if (rd32(pt + 4) != rd32(lt + 4) + (uint32_t)last_seg)
		return false;
	if (seg > gr->gso_size || gr->n_segs >= KEEL_GRO_MAX_SEGS ||
	    hlen + gr->payload_len + seg > IP_MAX_LEN)
		return false;
	return true;
}

bool keel_gro_add(struct keel_gro *g, uint8_t *pkt, ptrdiff_t len)
{
	bool v6 = false;
	ptrdiff_t ip_hlen = 0, hlen = 0;

	if (g->n_pkts >= KEEL_GRO_MAX_PKTS || g->n_groups >= KEEL_GRO_MAX_GROUPS)
		return false;
	ptrdiff_t pi = g->n_pkts++;
	g->pkts[pi].pkt = pkt;
	g->pkts[pi].len = len;
	g->pkts[pi].next = -1;

	hlen = tcp_headers(pkt, len, &v6, &ip_hlen);
	uint8_t flags = hlen ? pkt[ip_hlen + 13] : 0;
	/* only data segments with ACK (and PSH, which ends a group) are merged */
	if (hlen && (len == hlen || !ip_len_ok(pkt, len, v6) || (flags & ~TCP_PSH) != TCP_ACK))
		hlen = 0;

	if (hlen) {
		for (ptrdiff_t k = 0; k < g->n_open; k++) {
			ptrdiff_t gi = g->open[k];
			if (!gro_fits(g, gi, pkt, len, hlen, ip_hlen, v6))
				continue;
			g->pkts[g->groups[gi].last].next = pi;
			g->groups[gi].last = pi;
			g->groups[gi].n_segs++;
			g->groups[gi].payload_len += len - hlen;
			if ((flags & TCP_PSH) || len - hlen < g->groups[gi].gso_size)
				g->groups[gi].closed = true;
			return true;
		}
	}
	ptrdiff_t gi = g->n_groups++;
	g->groups[gi].first = g->groups[gi].last = pi;
	g->groups[gi].n_segs = 1;
	g->groups[gi].payload_len = hlen ? len - hlen : 0;
	g->groups[gi].hlen = hlen;
	g->groups[gi].ip_hlen = ip_hlen;
	g->groups[gi].v6 = v6;
	g->groups[gi].gso_size = (uint16_t)(hlen ? len - hlen : 0);
	g->groups[gi].closed = !hlen || (flags & TCP_PSH);
	if (hlen && !g->groups[gi].closed) {
		/* a new flow replaces one of the same flow that closed, or the oldest */
		ptrdiff_t slot = g->n_open;
		for (ptrdiff_t k = 0; k < g->n_open; k++)
			if (g->groups[g->open[k]].closed) {
				slot = k;
				break;
			}
		if (slot == (ptrdiff_t)(sizeof(g->open) / sizeof(g->open[0]))) {
			memmove(g->open, g->open + 1, sizeof(g->open) - sizeof(g->open[0]));
			slot--;
		} else if (slot == g->n_open) {
			g->n_open++;
		}
		g->open[slot] = gi;
	}
	return true;
}

int keel_gro_group(struct keel_gro *g, ptrdiff_t gi, struct virtio_net_hdr *vh, struct iovec *iov)
{
	const __typeof__(g->groups[0]) *gr = &g->groups[gi];
	uint8_t *f = g->pkts[gr->first].pkt;
	int n = 0;

	memset(vh, 0, sizeof(*vh));
	iov[n++] = (struct iovec){.iov_base = vh, .iov_len = sizeof(*vh)};
	iov[n++] = (struct iovec){.iov_base = f, .iov_len = (size_t)g->pkts[gr->first].len};
	if (gr->n_segs == 1)
		return n;

	ptrdiff_t total = gr->hlen + gr->payload_len;
	uint8_t *tcp = f + gr->ip_hlen;
	const uint8_t *l = g->pkts[gr->last].pkt;
	if (gr->v6) {
		wr16(f + 4, (uint16_t)(total - IPV6_HDR_LEN));
	} else {
		wr16(f + 2, (uint16_t)total);
		ipv4_set_csum(f, gr->ip_hlen);
	}
	tcp[13] |= l[gr->ip_hlen + 13] & TCP_PSH;
	/* CHECKSUM_PARTIAL: the field holds the pseudo-header sum, the kernel adds the rest */
	uint16_t c = keel_csum_fold(
	    keel_csum_pseudo(gr->v6, f, IPPROTO_TCP, (uint32_t)(total - gr->ip_hlen)));
	memcpy(tcp + 16, &c, 2);
	for (ptrdiff_t pi = g->pkts[gr->first].next; pi >= 0; pi = g->pkts[pi].next)
		iov[n++] = (struct iovec){.iov_base = g->pkts[pi].pkt + gr->hlen,
		                          .iov_len = (size_t)(g->pkts[pi].len - gr->hlen)};
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->gso_type = gr->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	vh->gso_size = gr->gso_size;
	vh->hdr_len = (uint16_t)gr->hlen;
	vh->csum_start = (uint16_t)gr->ip_hlen;
	vh->csum_offset = 16;
	return n;
}
