/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the kernel's offloads leave to the TUN data path: the Internet
 * checksum (RFC 1071), cutting a TCP super-packet read from a TUN device
 * with a virtio-net header into segments (what TSO hardware would do), and
 * the reverse: gathering consecutive TCP segments of one flow into one
 * super-packet for the kernel (what GRO does), without copying the data.
 *
 * A TUN device opened with IFF_VNET_HDR puts a struct virtio_net_hdr
 * before every packet, in the host's byte order (legacy virtio), both ways.
 */
#ifndef KEEL_PLATFORM_OFFLOAD_H
#define KEEL_PLATFORM_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_net.h>

#define KEEL_VNET_HDR_LEN ((ptrdiff_t)sizeof(struct virtio_net_hdr))

/* ---- checksum ---- */

/*
 * Adds len bytes at p to a running one's complement sum. Pieces after the
 * first must start at an even offset of the summed range (all but the last
 * have an even length).
 */
uint64_t keel_csum_add(uint64_t sum, const void *p, size_t len);
/* Folds a running sum to the 16 bits stored in a header (not inverted). */
uint16_t keel_csum_fold(uint64_t sum);
/* The TCP/UDP pseudo-header's sum (RFC 793 §3.1, RFC 8200 §8.1) for l4_len bytes. */
uint64_t keel_csum_pseudo(bool v6, const uint8_t *ip, uint8_t proto, uint32_t l4_len);

/* ---- sending: TUN -> segments ---- */

/* A packet read from the TUN device, as its virtio-net header describes it. */
struct keel_tso {
	uint8_t *pkt; /* the IP packet after the virtio-net header */
	ptrdiff_t len;
	ptrdiff_t ip_hlen; /* IPv4 header (with options) or the IPv6 fixed header */
	ptrdiff_t hlen;    /* IP and TCP headers: the part every segment repeats */
	bool v6;
	uint16_t gso_size; /* payload bytes per segment; 0: not a super-packet */
	ptrdiff_t n_segs;  /* 1 when not a super-packet */
};

/*
 * Reads the virtio-net header vh of the packet pkt (len bytes after the
 * header). A plain packet whose checksum the kernel left to us (NEEDS_CSUM)
 * has it completed here, in place. A TCP super-packet is described for
 * keel_tso_segment(). KEEL_ERR_MALFORMED for anything else (a GSO type we
 * did not enable, lengths that do not add up).
 */
int keel_tso_parse(const struct virtio_net_hdr *vh, uint8_t *pkt, ptrdiff_t len,
                   struct keel_tso *out);

/*
 * Writes segment i (0 <= i < t->n_segs) of a super-packet to dst as a whole
 * IP packet: headers copied and fixed (lengths, IPv4 ID and checksum, TCP
 * sequence number, FIN/PSH on the last segment only, CWR on the first
 * only), then its payload, then the TCP checksum. dst must not overlap
 * t->pkt and has room for t->hlen + t->gso_size bytes. Returns the length.
 */
ptrdiff_t keel_tso_segment(const struct keel_tso *t, ptrdiff_t i, uint8_t *dst);

/* ---- receiving: packets -> coalesced super-packets ---- */

#define KEEL_GRO_MAX_PKTS   1024 /* packets per keel_gro batch */
#define KEEL_GRO_MAX_SEGS   64   /* segments in one super-packet */
#define KEEL_GRO_MAX_GROUPS 1024

/*
 * A batch of decrypted packets, in arrival order, gathered into groups:
 * a group is one packet, or consecutive TCP segments of one flow that the
 * kernel can take as one super-packet (same addresses, ports, ACK number,
 * window, options and IP fields, contiguous sequence numbers, only ACK or
 * PSH set, full-sized but for the last). Packets of one flow stay in order;
 * groups come out in the order of their first packet.
 */
struct keel_gro {
	ptrdiff_t n_pkts;
	ptrdiff_t n_groups;
	struct {
		uint8_t *pkt;
		ptrdiff_t len;
		ptrdiff_t next; /* the next packet of its group, -1 */
	} pkts[KEEL_GRO_MAX_PKTS];
	struct {
		ptrdiff_t first, last;
		ptrdiff_t n_segs;
		ptrdiff_t payload_len; /* all segments' TCP payload */
		ptrdiff_t hlen;        /* IP + TCP header length; 0: not coalescible */
		ptrdiff_t ip_hlen;
		uint16_t gso_size;
		bool v6;
		bool closed; /* a short or PSH segment ended it */
	} groups[KEEL_GRO_MAX_GROUPS];
	/* open flows, by group index; small: few flows share one batch */
	ptrdiff_t open[8];
	ptrdiff_t n_open;
};

void keel_gro_init(struct keel_gro *g);
/* Adds a packet; false when the batch is full (flush, then add again). */
bool keel_gro_add(struct keel_gro *g, uint8_t *pkt, ptrdiff_t len);
/*
 * Makes group gi ready to write: a single packet gets an empty virtio-net
 * header; several get their first packet's headers rewritten for the whole
 * (lengths, IPv4 checksum, PSH of the last, the TCP checksum field holding
 * the pseudo-header sum) and a header asking the kernel for GSO (TCPV4 or
 * TCPV6, gso_size) with a partial checksum. Fills iov[0] = vh, then the
 * first packet whole, then each further segment's payload; returns the
 * number of iovecs (at most 1 + KEEL_GRO_MAX_SEGS).
 */
struct iovec;
int keel_gro_group(struct keel_gro *g, ptrdiff_t gi, struct virtio_net_hdr *vh, struct iovec *iov);

#endif
