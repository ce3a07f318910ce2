/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A TUN device for the user-space ESP data path: IP packets without any
 * packet-information header (IFF_TUN | IFF_NO_PI), on a non-blocking,
 * close-on-exec file descriptor.
 *
 * The device is not persistent: closing the descriptor (keel_tun_close(),
 * or the process ending in any way) makes the kernel delete it together
 * with every address and route on it.
 *
 * Errors are -errno. Needs CAP_NET_ADMIN.
 */
#ifndef KEEL_PLATFORM_TUN_H
#define KEEL_PLATFORM_TUN_H

#include <stdbool.h>
#include <stdint.h>

#include <net/if.h>

struct keel_tun {
	int fd; /* -1 once closed */
	int ifindex;
	char name[IFNAMSIZ]; /* the name the kernel gave, e.g. "keel0" */
	/*
	 * Each packet read or written starts with a struct virtio_net_hdr
	 * (IFF_VNET_HDR), and the kernel hands over TCP super-packets of up
	 * to 64 KiB with their checksums left to us (TUNSETOFFLOAD with
	 * TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6): set when cfg->offload was asked
	 * for and the kernel accepted it.
	 */
	bool vnet_hdr;
};

/*
 * What to create. Later options (IFF_MULTI_QUEUE for one queue per
 * data-path thread) will be added here as new fields whose zero value
 * means "off", so existing callers stay valid.
 */
struct keel_tun_config {
	const char *name; /* NULL or "": "keel%d"; a name with "%d" lets the kernel number it */
	uint32_t mtu;     /* 0: the kernel's default (1500); else 68..65535 */
	bool up;          /* bring the link up once created (and the MTU set) */
	/*
	 * Ask for a virtio-net header and TCP segmentation offload (see
	 * keel_tun.vnet_hdr). A kernel that refuses it gets a plain device:
	 * check out->vnet_hdr.
	 */
	bool offload;
};

/*
 * Creates the device. On success fills *out (fd, ifindex, name) and returns
 * 0; on failure nothing is left behind and *out is not written.
 * Errors: -EINVAL (name too long or mtu out of range), -EBUSY (a fixed
 * name already used by another device), -EPERM, -ENOENT (no /dev/net/tun),
 * others from the kernel.
 */
int keel_tun_open(const struct keel_tun_config *cfg, struct keel_tun *out);

/* Sets the link MTU (68..65535; an MTU below 1280 disables IPv6 on it). 0 or -errno. */
int keel_tun_set_mtu(const struct keel_tun *tun, uint32_t mtu);

/* Sets the link administratively up or down. 0 or -errno. */
int keel_tun_set_up(const struct keel_tun *tun, bool up);

/*
 * Closes the descriptor, which deletes the device. NULL, or a tun already
 * closed, is fine (idempotent).
 */
void keel_tun_close(struct keel_tun *tun);

#endif
