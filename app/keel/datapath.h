/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The TUN data path: ESP in UDP (RFC 3948) between a TUN device and the
 * NAT-T socket, with the ESP itself done by the core (keel/esp.h).
 *
 * It owns the reading side of the NAT-T socket, because IKE messages (after
 * the non-ESP marker), ESP packets and NAT-keepalives share that port: IKE
 * messages are handed back through a callback, without the marker.
 *
 * One thread, non-blocking descriptors, level-triggered readiness: each
 * *_readable() call handles at most a bounded batch and returns, so the IKE
 * side is never starved; the caller polls again.
 *
 *     keel_datapath_new(natt_fd, &env, &dp);
 *     on KEEL_OUT_CHILD_INSTALL: keel_datapath_install(dp, &o.u.child_install);
 *     once a TUN device exists:  keel_datapath_set_tun(dp, tun_fd);
 *     on KEEL_OUT_CHILD_REMOVE:  keel_datapath_remove(dp, o.u.child_remove.child_id);
 *     natt_fd readable:          keel_datapath_udp_readable(dp, now_ns, on_ike, ctx);
 *     tun_fd readable:           keel_datapath_tun_readable(dp, now_ns);
 *     at keel_datapath_deadline(dp): keel_datapath_tick(dp, now_ns);   (NAT-keepalives)
 *
 * Descriptors are borrowed: the caller opens and closes them.
 */
#ifndef KEEL_APP_DATAPATH_H
#define KEEL_APP_DATAPATH_H

#include <stddef.h>
#include <stdint.h>

#include <keel/env.h>
#include <keel/ike.h>

struct keel_datapath;

/* An IKE message that arrived on the NAT-T socket (marker removed); borrowed for the call. */
typedef void (*keel_datapath_ike_fn)(void *ctx, const uint8_t *msg, ptrdiff_t len);

/* Packets and bytes (inner IP bytes) in each direction, and what was dropped. */
struct keel_datapath_stats {
	uint64_t tx_packets, tx_bytes; /* TUN -> ESP sent */
	uint64_t rx_packets, rx_bytes; /* ESP accepted -> TUN */
	uint64_t tx_no_sa;             /* no SA's selectors matched (or none installed) */
	uint64_t tx_errors;            /* encapsulation or send failed */
	uint64_t rx_no_sa;             /* unknown SPI */
	uint64_t rx_bad;               /* failed decapsulation (replay, ICV, ...) */
	uint64_t rx_selector;          /* decrypted, but outside the SA's selectors */
	uint64_t rx_errors;            /* the TUN write failed */
	uint64_t keepalives;
};

/*
 * A data path sending and receiving on natt_fd (a connected, non-blocking
 * UDP socket). env seeds AES-CBC IV generators and must outlive dp.
 * 0 or a negative enum keel_err; *out on success.
 */
int keel_datapath_new(int natt_fd, const struct keel_env *env, struct keel_datapath **out);

/* Frees dp and wipes every key. NULL is fine. */
void keel_datapath_free(struct keel_datapath *dp);

/*
 * Installs a CHILD SA pair (make-before-break: the newest pair of a reqid
 * carries outbound traffic at once; older pairs still accept inbound until
 * removed). ci is borrowed for the call; its keys are copied into the ESP
 * SAs. A pair with nat_local or encap turns NAT-keepalives on.
 * Errors: KEEL_ERR_UNSUPPORTED (not ESP in UDP, or an algorithm the ESP
 * code lacks), KEEL_ERR_NOBUF (too many pairs), those of keel_esp_sa_new().
 */
int keel_datapath_install(struct keel_datapath *dp, const struct keel_out_child_install *ci);

/* Removes the pair child_id (unknown ids are ignored). */
void keel_datapath_remove(struct keel_datapath *dp, uint32_t child_id);

/*
 * The largest inner packet the newest outbound SA can carry when ESP in UDP
 * must fit in path_mtu bytes over an IP header of ip_hdr_len bytes: the TUN
 * device's MTU. 0 when no SA is installed.
 */
uint32_t keel_datapath_tun_mtu(const struct keel_datapath *dp, uint32_t path_mtu,
                               uint32_t ip_hdr_len);

/* Sets the TUN device's descriptor (non-blocking), -1 for none. */
void keel_datapath_set_tun(struct keel_datapath *dp, int tun_fd);

/* Reads a batch of datagrams from the NAT-T socket: ESP to the TUN device, IKE to ike_fn. */
void keel_datapath_udp_readable(struct keel_datapath *dp, uint64_t now_ns,
                                keel_datapath_ike_fn ike_fn, void *ctx);

/* Reads a batch of packets from the TUN device and sends them as ESP. */
void keel_datapath_tun_readable(struct keel_datapath *dp, uint64_t now_ns);

/*
 * Sends an IKE message on the NAT-T socket with the non-ESP marker
 * (RFC 3948 §2.2). 0 or -errno.
 */
int keel_datapath_send_ike(struct keel_datapath *dp, const uint8_t *msg, ptrdiff_t len,
                           uint64_t now_ns);

/* When keel_datapath_tick() has work next (a NAT-keepalive); UINT64_MAX: never. */
uint64_t keel_datapath_deadline(const struct keel_datapath *dp);

/* Sends a NAT-keepalive (RFC 3948 §2.3) if nothing was sent for the interval. */
void keel_datapath_tick(struct keel_datapath *dp, uint64_t now_ns);

/*
 * A pair whose outbound sequence numbers ran out (RFC 4303 §3.3.3), for
 * keel_sa_rekey(); 0 if none. Reading it clears it.
 */
uint32_t keel_datapath_take_rekey(struct keel_datapath *dp);

void keel_datapath_stats(const struct keel_datapath *dp, struct keel_datapath_stats *out);

#endif
