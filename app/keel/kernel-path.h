/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * keel connect's kernel data path: choosing it, and the glue between the
 * engine's outputs, the IKE sockets and platform/xfrm.c.
 *
 * With XFRM the kernel does ESP. What is left to keel connect is the NAT-T
 * socket: marked UDP_ENCAP_ESPINUDP, the kernel takes the ESP arriving on
 * it and hands up only IKE messages (after the non-ESP marker, RFC 3948
 * §2.2) and NAT-keepalives, which keel_kpath_natt_readable() sorts;
 * keel_kpath_send_ike() adds the marker; the keepalives a client behind a
 * NAT must send (RFC 3948 §2.3) come from keel_kpath_tick(), since the
 * kernel sends none.
 *
 * Functions returning int give 0 or -errno; keel_kpath_error() has the
 * sentence for the last failure of install/remove. One thread.
 */
#ifndef KEEL_APP_KERNEL_PATH_H
#define KEEL_APP_KERNEL_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/ike.h>
#include <keel-platform/profile.h>
#include <keel-platform/xfrm.h>

#include "keel.h"

/*
 * Which data path to use: cli (the command line) overrides the profile's
 * datapath. auto probes (keel_xfrm_probe()) every ESP algorithm set of the
 * profile's proposals (Keel's defaults when it lists none) for family, and
 * takes XFRM when the kernel takes them all. *xfrm gets the choice and why
 * one sentence saying why. Returns 0, or -1 when the path asked for cannot
 * be used (why says why; nothing was changed).
 */
int keel_kpath_choose(const struct keel_profile *p, enum keel_datapath_choice cli,
                      enum keel_af family, bool *xfrm, char *why, size_t cap);

struct keel_kpath;

/* Opens XFRM netlink and claims an instance (keel_xfrm_open()). why: a sentence on failure. */
int keel_kpath_open(struct keel_kpath **out, char *why, size_t cap);

/*
 * Deletes the XFRM state of earlier runs of Keel that did not exit
 * (keel_xfrm_clean_stale()). *others_live: another Keel with the kernel
 * data path runs in this network namespace now.
 */
int keel_kpath_clean_stale(struct keel_kpath *kp, unsigned *n_sa, unsigned *n_pol,
                           bool *others_live);

/*
 * Takes the sockets (borrowed; ike_fd may be -1 when IKE runs on the NAT-T
 * port): both bypass IPsec policies, natt_fd becomes UDP_ENCAP_ESPINUDP.
 */
int keel_kpath_attach(struct keel_kpath *kp, int ike_fd, int natt_fd, enum keel_af family);

/*
 * A pair installed inbound first (ci->inbound_first: a rekey the gateway
 * started) keeps its outbound SA back until keel_kpath_activate(), the
 * removal of the pair it replaces, or KEEL_ANSWERED_REKEY_WAIT_NS at most
 * (keel_xfrm_install_inbound_first()).
 */
int keel_kpath_install(struct keel_kpath *kp, const struct keel_out_child_install *ci,
                       uint64_t now_ns);

/* KEEL_OUT_CHILD_ACTIVATE: the outbound SA kept back for child_id goes in (if it waits). */
void keel_kpath_activate(struct keel_kpath *kp, uint32_t child_id);
/* Reads the pair's counters into the totals, then removes it. */
int keel_kpath_remove(struct keel_kpath *kp, const struct keel_out_child_remove *cr);
int keel_kpath_remove_all(struct keel_kpath *kp);
size_t keel_kpath_pairs(const struct keel_kpath *kp);
const char *keel_kpath_error(const struct keel_kpath *kp);

/* Traffic of every pair so far, removed or installed (ESP payload bytes, as the kernel counts). */
void keel_kpath_totals(struct keel_kpath *kp, struct keel_xfrm_stats *out);

/* IKE messages on the NAT-T socket (marker removed), borrowed for the call. */
typedef void (*keel_kpath_ike_fn)(void *ctx, const uint8_t *msg, ptrdiff_t len);

/* Reads what the NAT-T socket holds; IKE goes to ike_fn, the rest is dropped. */
void keel_kpath_natt_readable(struct keel_kpath *kp, uint8_t *buf, size_t cap,
                              keel_kpath_ike_fn ike_fn, void *ctx);

/* Sends an IKE message on the NAT-T socket behind the non-ESP marker. */
int keel_kpath_send_ike(struct keel_kpath *kp, const uint8_t *msg, ptrdiff_t len, uint64_t now_ns);

/* When keel_kpath_tick() has work (a NAT-keepalive, a kept-back SA); UINT64_MAX: never. */
uint64_t keel_kpath_deadline(const struct keel_kpath *kp);
void keel_kpath_tick(struct keel_kpath *kp, uint64_t now_ns);

/* Frees kp; it does not remove anything (keel_kpath_remove_all() first). NULL is fine. */
void keel_kpath_free(struct keel_kpath *kp);

#endif
