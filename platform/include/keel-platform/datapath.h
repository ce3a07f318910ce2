/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The TUN data path: ESP in UDP (RFC 3948) between a TUN device and the
 * NAT-T socket, with the ESP itself done by the core (keel/esp.h).
 *
 * Two threads carry the packets, one per direction, each owning its half of
 * every CHILD SA (the sending thread the outbound SAs, the receiving thread
 * the inbound ones and their replay windows), so no lock is taken on the
 * packet path:
 *
 *   sending:   TUN read (64 KiB TCP super-packets with IFF_VNET_HDR + TSO),
 *              selector lookup once per super-packet, segmentation while
 *              encrypting into a pre-allocated arena, sendmmsg() with
 *              UDP_SEGMENT (UDP GSO) over runs of equal-sized ESP packets;
 *   receiving: recvmmsg() with UDP_GRO, the coalesced datagrams split at
 *              their segment size, ESP checked and decrypted in place, TCP
 *              segments of one flow coalesced again into one super-packet
 *              written with one writev() (no copy).
 *
 * By default the threads sleep in poll() as soon as their descriptor runs
 * dry and run wherever the scheduler puts them; keel_datapath_options can
 * keep them polling a while first, or pin them to CPUs (both cost CPU per
 * Gbit; tests/bench/esp-tunnel.md has the numbers).
 *
 * Offloads are probed at run time and fall back silently: without UDP GSO
 * each ESP packet is its own message of the sendmmsg() batch, without GRO
 * each datagram one of the recvmmsg() batch, without a virtio-net header
 * on the TUN device one packet per read and write.
 *
 * The engine's thread (the caller) talks to the two threads through
 * single-producer rings and eventfds: keel_datapath_install() and
 * keel_datapath_remove() hand SAs over and return at once; IKE messages
 * that arrive on the NAT-T socket are queued for the caller, whose event
 * loop polls keel_datapath_event_fd() and then calls
 * keel_datapath_udp_readable().
 *
 *     keel_datapath_new(natt_fd, &env, &dp);
 *     keel_datapath_set_tun(dp, tun.fd, tun.vnet_hdr);
 *     keel_datapath_start(dp);                       threads run from here
 *     poll keel_datapath_event_fd(dp): keel_datapath_udp_readable(dp, now, on_ike, ctx);
 *     on KEEL_OUT_CHILD_INSTALL: keel_datapath_install(dp, &o.u.child_install);
 *         (ci->inbound_first, the gateway's rekey: keel_datapath_install_inbound_first())
 *     on KEEL_OUT_CHILD_ACTIVATE: keel_datapath_activate(dp, o.u.child_activate.child_id);
 *     on KEEL_OUT_CHILD_REMOVE:  keel_datapath_remove(dp, o.u.child_remove.child_id);
 *     at keel_datapath_deadline(dp): keel_datapath_tick(dp, now_ns);   (NAT-keepalives)
 *     keel_datapath_free(dp);                        stops and joins the threads
 *
 * Every function here is for the caller's thread only. Descriptors are
 * borrowed: the caller opens them and closes them after keel_datapath_free().
 */
#ifndef KEEL_PLATFORM_DATAPATH_H
#define KEEL_PLATFORM_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/env.h>
#include <keel/ike.h>

struct keel_datapath;

/* An IKE message that arrived on the NAT-T socket (marker removed); borrowed for the call. */
typedef void (*keel_datapath_ike_fn)(void *ctx, const uint8_t *msg, ptrdiff_t len);

/* Packets and bytes (inner IP bytes) in each direction, and what was dropped. */
struct keel_datapath_stats {
	uint64_t tx_packets, tx_bytes; /* TUN -> ESP sent (after segmentation) */
	uint64_t rx_packets, rx_bytes; /* ESP accepted -> TUN */
	uint64_t tx_no_sa;             /* no SA's selectors matched (or none installed) */
	uint64_t tx_errors;            /* malformed from TUN, encapsulation or send failed */
	uint64_t rx_no_sa;             /* unknown SPI */
	uint64_t rx_bad;               /* failed decapsulation (below), or not ESP/IKE */
	uint64_t rx_replayed;          /* ... of which replayed or left of the window */
	uint64_t rx_bad_icv;           /* ... of which the ICV did not verify */
	uint64_t rx_selector;          /* decrypted, but outside the SA's selectors */
	uint64_t rx_errors;            /* the TUN write failed */
	uint64_t rx_ike_dropped;       /* IKE messages dropped: the caller's queue was full */
	uint64_t keepalives;
	uint64_t tx_super;     /* super-packets read from TUN (GSO) */
	uint64_t tx_sends;     /* sendmmsg() messages (a GSO run counts once) */
	uint64_t rx_datagrams; /* recvmmsg() messages (a GRO datagram counts once) */
	uint64_t rx_writes;    /* TUN writes (a coalesced super-packet counts once) */
};

/*
 * Tuning, for benchmarks and tests; all zero is the default (everything
 * the kernel offers).
 */
struct keel_datapath_options {
	bool no_udp_gso;  /* never UDP_SEGMENT */
	bool no_udp_gro;  /* never UDP_GRO */
	bool no_coalesce; /* write decrypted packets one by one */
	unsigned batch;   /* messages per recvmmsg()/sendmmsg(); 0: 64; 1..64 */
	/* keep polling this long after a descriptor ran dry before sleeping (0..10000) */
	unsigned spin_us;
	bool pin; /* pin the sending thread to tx_cpu, the receiving to rx_cpu */
	unsigned tx_cpu, rx_cpu;
};

/*
 * A data path sending and receiving on natt_fd (a connected, non-blocking
 * UDP socket). env seeds AES-CBC IV generators and must outlive dp.
 * 0 or a negative enum keel_err; *out on success.
 */
int keel_datapath_new(int natt_fd, const struct keel_env *env, struct keel_datapath **out);

/* Stops the threads, frees dp and wipes every key. NULL is fine. */
void keel_datapath_free(struct keel_datapath *dp);

/*
 * Before keel_datapath_start(): the TUN device's descriptor (non-blocking),
 * and whether each packet on it starts with a struct virtio_net_hdr
 * (IFF_VNET_HDR; see keel_tun_config.offload).
 */
void keel_datapath_set_tun(struct keel_datapath *dp, int tun_fd, bool vnet_hdr);

/* Before keel_datapath_start(). KEEL_ERR_INVAL for a batch above 64 or spin_us above 10000. */
int keel_datapath_set_options(struct keel_datapath *dp, const struct keel_datapath_options *o);

/*
 * Probes the offloads and starts the two threads. Once only, after
 * keel_datapath_set_tun(). Errors: KEEL_ERR_STATE (no TUN, or started),
 * KEEL_ERR_NOMEM (memory, or a thread could not be made).
 */
int keel_datapath_start(struct keel_datapath *dp);

/*
 * Readable (an eventfd) when keel_datapath_udp_readable() has IKE messages
 * to hand over or keel_datapath_take_rekey() has a pair to name.
 */
int keel_datapath_event_fd(const struct keel_datapath *dp);

/*
 * Installs a CHILD SA pair (make-before-break: the newest pair of a reqid
 * carries outbound traffic as soon as the sending thread sees it, within a
 * batch; older pairs still accept inbound until removed). ci is borrowed
 * for the call; its keys are copied into the ESP SAs. A pair with
 * nat_local or encap turns NAT-keepalives on.
 * Errors: KEEL_ERR_INVAL (an AH pair: AH cannot travel in UDP, only the
 * kernel data path carries it), KEEL_ERR_UNSUPPORTED (not ESP in UDP, or an
 * algorithm the ESP code lacks), KEEL_ERR_NOBUF (too many pairs), those of
 * keel_esp_sa_new().
 */
int keel_datapath_install(struct keel_datapath *dp, const struct keel_out_child_install *ci);

/*
 * How long an outbound SA of a rekey we answered is kept back at most, on
 * either data path: the gateway has its new inbound SA by then at the
 * latest (it installs it on our answer, then deletes the old pair).
 */
#define KEEL_ANSWERED_REKEY_WAIT_NS (2ull * 1000000000ull)

/*
 * keel_datapath_install() for a rekey we answered (ci->inbound_first: the
 * gateway's CREATE_CHILD_SA request or IKEv1 Quick Mode, keel/ike.h): the
 * gateway installs its inbound SA for the new pair only once it has our
 * answer, so a packet sent with the new SPI
 * before then would be lost. The new inbound SA accepts packets at once;
 * the new outbound SA (its keys held by the sending thread, wiped on free)
 * carries nothing until keel_datapath_remove() of the pair it replaces
 * (ci->rekeyed_child_id: the gateway deletes it once the new pair is in at
 * both ends, RFC 7296 §2.8), keel_datapath_activate(), or
 * keel_datapath_tick() at now_ns + KEEL_ANSWERED_REKEY_WAIT_NS, whichever comes first (see
 * keel_datapath_deadline()). Until then the old outbound SA carries the
 * traffic; the switch happens between two packets, the new SA's sequence
 * numbers starting at 1. A pair still kept back that ci replaces takes
 * over first. Without an installed pair ci->rekeyed_child_id, this is
 * keel_datapath_install(). Errors as keel_datapath_install().
 */
int keel_datapath_install_inbound_first(struct keel_datapath *dp,
                                        const struct keel_out_child_install *ci, uint64_t now_ns);

/*
 * The outbound SA kept back for the pair child_id carries traffic from the
 * sending thread's next batch on. 0 (also when nothing was kept back),
 * KEEL_ERR_INVAL (no such pair), KEEL_ERR_NOBUF (the sending thread's
 * queue is full; the removal of the old pair still activates it).
 */
int keel_datapath_activate(struct keel_datapath *dp, uint32_t child_id);

/*
 * Removes the pair child_id (unknown ids are ignored); each thread frees its
 * half. An outbound SA kept back until this pair goes takes over in the same
 * step, before the sending thread's next packet.
 */
void keel_datapath_remove(struct keel_datapath *dp, uint32_t child_id);

/*
 * The largest inner packet the newest outbound SA can carry when ESP in UDP
 * must fit in path_mtu bytes over an IP header of ip_hdr_len bytes: the TUN
 * device's MTU. 0 when no SA is installed.
 */
uint32_t keel_datapath_tun_mtu(const struct keel_datapath *dp, uint32_t path_mtu,
                               uint32_t ip_hdr_len);

/*
 * Hands the IKE messages queued by the receiving thread to ike_fn, in the
 * order they arrived, and clears event_fd.
 */
void keel_datapath_udp_readable(struct keel_datapath *dp, uint64_t now_ns,
                                keel_datapath_ike_fn ike_fn, void *ctx);

/*
 * Sends an IKE message on a connected NAT-T socket fd with the non-ESP
 * marker (RFC 3948 §2.2), trying twice when the first try only collects an
 * earlier ICMP error. 0 or -errno. (The kernel data path uses it too.)
 */
int keel_natt_send_ike(int fd, const uint8_t *msg, ptrdiff_t len);

/* keel_natt_send_ike() on the data path's socket. 0 or -errno. */
int keel_datapath_send_ike(struct keel_datapath *dp, const uint8_t *msg, ptrdiff_t len,
                           uint64_t now_ns);

/*
 * When keel_datapath_tick() has work next (a NAT-keepalive, an outbound SA
 * kept back too long); UINT64_MAX: never.
 */
uint64_t keel_datapath_deadline(const struct keel_datapath *dp);

/*
 * Activates the outbound SAs kept back whose time is up (as
 * keel_datapath_activate()), and sends a NAT-keepalive (RFC 3948 §2.3) if
 * nothing was sent for the interval.
 */
void keel_datapath_tick(struct keel_datapath *dp, uint64_t now_ns);

/*
 * A pair whose outbound sequence numbers ran out (RFC 4303 §3.3.3), for
 * keel_sa_rekey(); 0 if none. Reading it clears it.
 */
uint32_t keel_datapath_take_rekey(struct keel_datapath *dp);

/* A snapshot of the counters (each read atomically; taken while the threads run). */
void keel_datapath_stats(const struct keel_datapath *dp, struct keel_datapath_stats *out);

/* What the offload probe found, for logs: UDP GSO, UDP GRO, the TUN's virtio-net header. */
void keel_datapath_offloads(const struct keel_datapath *dp, bool *udp_gso, bool *udp_gro,
                            bool *vnet_hdr);

#endif
