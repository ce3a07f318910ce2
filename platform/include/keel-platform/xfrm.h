/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel data path: CHILD SAs as Linux XFRM states and policies, through
 * XFRM netlink (libmnl).
 *
 * What the engine emits (struct keel_out_child_install / _remove, see
 * <keel/ike.h>) goes straight in: keel_xfrm_install() adds the inbound and
 * outbound ESP (or AH) SAs in tunnel mode and, for the first pair of a reqid, the
 * policies out (local TS -> remote TS), in and fwd (remote TS -> local TS),
 * whose templates name the SAs' reqid. keel_xfrm_remove() deletes exactly
 * what was installed for a pair, and the policies with the last pair of
 * their reqid.
 *
 * Rekeying is make-before-break: a pair installed with the same reqid as an
 * existing one adds its two SAs and leaves the policies alone. When the
 * install names the pair it replaces (rekeyed_child_id), that pair's
 * OUTBOUND SA is deleted right after the new pair is in, so outbound
 * traffic moves to the new SA at once (the kernel would otherwise choose
 * among SAs of one reqid by their install time, to the second); the old
 * INBOUND SA stays until the KEEL_OUT_CHILD_REMOVE of that pair, so packets
 * the gateway still sends with the old SPI are accepted. For a rekey the
 * gateway started, keel_xfrm_install_inbound_first() keeps the new
 * outbound SA back until the old pair goes instead.
 *
 * How Keel's state is recognised (crash cleanup):
 *   Every SA and every policy template Keel installs carries a kernel reqid
 *   0x4bIIIRRR: top byte 0x4b ('K'), III a 12-bit instance number, RRR the
 *   engine's reqid (1..4095). Other IPsec software numbers reqids upwards
 *   from 1 (strongSwan) or from 16384 (libreswan), far below 0x4b000000.
 *   The instance number is held by the running process as an abstract unix
 *   socket "keel-xfrm-III" (bound for the life of the struct keel_xfrm). A
 *   crashed process loses it with its file descriptors, so
 *   keel_xfrm_clean_stale() deletes exactly the Keel-marked SAs and
 *   policies whose instance nobody holds, and never anything else: not
 *   another program's state, not a running Keel's. Abstract unix sockets,
 *   like XFRM state, belong to the network namespace. Instance 0 is never
 *   held: it marks keel_xfrm_probe()'s throwaway SA.
 *
 * Policy priority: KEEL_XFRM_PRIORITY_BASE minus the selector's
 * specificity (more specific selectors win among Keel's own policies).
 * Lower numbers win in XFRM. strongSwan's computed priorities lie below
 * 2^20 (5.9 gives 371327 to a /32 <-> /24 tunnel), libreswan recommends
 * staying below 2^16, iproute2's default is 0; Keel's lie in
 * KEEL_XFRM_PRIORITY_BASE - 1027 .. KEEL_XFRM_PRIORITY_BASE (about 4.9
 * million). So another IPsec program's policy that matches a packet takes
 * precedence over Keel's: the VPN carries what no one else claims. A
 * policy with exactly the same selector and direction as another
 * program's cannot coexist with it (the kernel tells them apart by
 * selector and mark, not priority):
 * installing it fails with -EEXIST and a message saying so; Keel never
 * replaces anyone's policy (no XFRM_MSG_UPDPOLICY).
 *
 * Errors are -errno. Each struct keel_xfrm keeps a sentence for the last
 * failure (keel_xfrm_error()) that names the operation, the SPI, the
 * kernel's own explanation (netlink extended ACK) when it gave one, and what
 * to do. Everything needs CAP_NET_ADMIN in the network namespace.
 *
 * Threads: one struct keel_xfrm is used by one thread at a time.
 */
#ifndef KEEL_PLATFORM_XFRM_H
#define KEEL_PLATFORM_XFRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/config.h>
#include <keel/ike.h>

#define KEEL_XFRM_REQID_MAGIC      0x4b000000u
#define KEEL_XFRM_REQID_MAGIC_MASK 0xff000000u
#define KEEL_XFRM_INSTANCE_MAX     4095u /* 1..4095; 0 is the probe's */
#define KEEL_XFRM_CHILD_REQID_MAX  4095u
#define KEEL_XFRM_PRIORITY_BASE    0x4b0800u

/* The kernel reqid for an instance and an engine reqid (see above). */
static inline uint32_t keel_xfrm_reqid_make(uint32_t instance, uint32_t reqid)
{
	return KEEL_XFRM_REQID_MAGIC | (instance & 0xfffu) << 12 | (reqid & 0xfffu);
}

static inline bool keel_xfrm_reqid_is_keel(uint32_t kernel_reqid)
{
	return (kernel_reqid & KEEL_XFRM_REQID_MAGIC_MASK) == KEEL_XFRM_REQID_MAGIC;
}

static inline uint32_t keel_xfrm_reqid_instance(uint32_t kernel_reqid)
{
	return kernel_reqid >> 12 & 0xfffu;
}

/* What keel_xfrm_probe() tries. IDs are IKEv2 transform IDs. */
struct keel_xfrm_algs {
	enum keel_af family; /* outer family; KEEL_AF_UNSPEC means KEEL_AF_INET */
	uint16_t encr; /* Transform Type 1: 12 AES-CBC, 13 AES-CTR, 18/19/20 AES-GCM-8/12/16, 28
	                  ChaCha20-Poly1305 */
	uint16_t encr_key_bits; /* 128, 192, 256; ignored for ChaCha20-Poly1305 (256) */
	uint16_t integ;         /* Transform Type 3: 2 HMAC-SHA1-96, 5 AES-XCBC-96, 12/13/14
	                           HMAC-SHA2-256/384/512; 0 with AEAD */
	bool esn;
	bool encap; /* ESP in UDP (RFC 3948) */
	bool ah;    /* an AH SA (RFC 4302) with integ alone: encr 0, encap false */
};

/*
 * Says whether this kernel, in the current network namespace, takes an
 * ESP SA (an AH SA with algs->ah) with algs, and whether we may install it: adds a throwaway SA
 * 127.0.0.1 -> 127.0.0.1 (::1 for IPv6; no policy, so no traffic is
 * affected) with a Keel-marked reqid (instance 0) and deletes it again.
 * Returns 0 when it can. Otherwise -errno, and a sentence for the user in
 * reason (NUL-terminated, truncated to reason_cap; reason may be NULL):
 *   -EPERM            not allowed: needs CAP_NET_ADMIN
 *   -EPROTONOSUPPORT  no ESP in the kernel (esp4/esp6 neither built in nor
 *                     loadable; with ah, no ah4/ah6), or no XFRM netlink (xfrm_user)
 *   -ENOSYS           the kernel lacks one of the algorithms
 *   -EINVAL           algs names a transform Keel cannot map (reason says which)
 *   others            whatever the kernel said, with its explanation
 * On success reason says what was checked.
 */
int keel_xfrm_probe(const struct keel_xfrm_algs *algs, char *reason, size_t reason_cap);

/* The kernel's algorithm name for an IKEv2 transform ("rfc4106(gcm(aes))"), or NULL. */
const char *keel_xfrm_encr_name(uint16_t encr);
const char *keel_xfrm_integ_name(uint16_t integ);

struct keel_xfrm;

/*
 * Opens an XFRM netlink socket and claims a free instance number (see
 * above). *out on success; the caller owns it (keel_xfrm_free()). On
 * failure a sentence goes to reason (may be NULL). Errors: -EPROTONOSUPPORT
 * (no XFRM netlink), -EADDRINUSE (all 4095 instance numbers taken),
 * -ENOMEM, others from socket calls.
 */
int keel_xfrm_open(struct keel_xfrm **out, char *reason, size_t reason_cap);

/*
 * Closes the sockets and frees x. It does NOT remove what was installed:
 * call keel_xfrm_remove_all() first. Whatever is left is stale from then
 * on and goes with the next keel_xfrm_clean_stale(). NULL is fine.
 */
void keel_xfrm_free(struct keel_xfrm *x);

/* The sentence for the last failed call (never NULL; "" before any failure). */
const char *keel_xfrm_error(const struct keel_xfrm *x);

/* This instance's number (1..4095). */
uint32_t keel_xfrm_instance(const struct keel_xfrm *x);

/*
 * Installs a CHILD SA pair (c borrowed for the call; keys are copied into
 * the netlink request only, which is wiped). A pair whose reqid has no
 * pair yet also gets the policies; a pair whose reqid has one (a rekey)
 * gets only its SAs (see above). Tunnel mode; ESP in UDP when
 * c->encap (local.port -> remote.port); c->protocol KEEL_PROTO_AH installs
 * AH SAs (integrity only, aligned to 32 bits over IPv4 as RFC 4302
 * §3.3.3.2.1 says; policy templates for AH; encap is refused); replay
 * window 128 (ESN when c->esn); c->hard_life_s as the kernel's hard
 * lifetime (0: none; the engine rekeys, the kernel has no soft lifetime).
 * Policies for every pair of one local and
 * one remote TS of the same family (and a compatible protocol), address
 * ranges split into prefixes, port ranges into port/mask blocks (ICMP:
 * any, one type, or one type and code).
 * On failure everything this call added is deleted again.
 * Errors: -EINVAL (a field out of range: the message names it), -EEXIST
 * (child_id installed already, or the kernel has an SA with that SPI or a
 * policy with that selector), -E2BIG (the traffic selectors need more than
 * 128 selector pairs, 32 prefixes for one TS or 16 port blocks for one port
 * range), -EOPNOTSUPP (an ICMP type/code range XFRM cannot express),
 * -ENOSYS (algorithm missing), -EPROTONOSUPPORT (no ESP), -ENOMEM, others
 * from the kernel.
 */
int keel_xfrm_install(struct keel_xfrm *x, const struct keel_out_child_install *c);

/*
 * keel_xfrm_install() for a rekey we answered (c->inbound_first: the
 * gateway's CREATE_CHILD_SA request or IKEv1 Quick Mode, keel/ike.h): the
 * gateway installs its inbound SA for the new pair only once it has our
 * answer, so a packet we sent with the new SPI
 * before then would be lost. The new inbound SA goes in now; the new
 * outbound SA (its keys kept in memory wiped when used or dropped) is added
 * by keel_xfrm_remove() of the pair it replaces (c->rekeyed_child_id: the
 * gateway deletes it once the new pair is in at both ends, RFC 7296 §2.8),
 * just before that pair goes, or by keel_xfrm_activate() (on
 * KEEL_OUT_CHILD_ACTIVATE, IKEv1 Quick Mode message 3). Until then the
 * old outbound SA carries the traffic. Without an installed pair
 * c->rekeyed_child_id of the same reqid, this is keel_xfrm_install().
 * Errors as keel_xfrm_install().
 */
int keel_xfrm_install_inbound_first(struct keel_xfrm *x, const struct keel_out_child_install *c);

/*
 * Adds the outbound SA kept back for the pair child_id (see above) now, and
 * retires the outbound SA of the pair it replaces. 0 (also when nothing was
 * kept back), -ENOENT (no such pair), errors of the kernel.
 */
int keel_xfrm_activate(struct keel_xfrm *x, uint32_t child_id);

/*
 * Removes the pair c->child_id: its SAs, and the policies when it was the
 * last pair of its reqid. An SA or policy already gone (hard expiry,
 * someone flushed it) counts as removed. What fails to go for another
 * reason stays recorded (keel_xfrm_remove_all() retries it); the first such
 * error is returned after trying all. -ENOENT when no such pair is installed.
 */
int keel_xfrm_remove(struct keel_xfrm *x, const struct keel_out_child_remove *c);

/* Removes every SA and policy installed through x. Returns like keel_xfrm_remove(). */
int keel_xfrm_remove_all(struct keel_xfrm *x);

/* How many pairs are installed through x. */
size_t keel_xfrm_pairs(const struct keel_xfrm *x);

/* Counters of one pair, read back from the kernel (XFRM_MSG_GETSA). */
struct keel_xfrm_stats {
	uint64_t in_bytes; /* of ESP payload, as the kernel counts them */
	uint64_t in_packets;
	uint64_t out_bytes;
	uint64_t out_packets;
	uint32_t in_replay_drops;       /* replayed or outside the replay window */
	uint32_t in_integrity_failures; /* ICV check failed */
	uint64_t in_last_use_s;         /* wall-clock seconds of the last packet in; 0: none yet */
	uint64_t out_last_use_s;
	bool out_retired; /* outbound SA deleted at a rekey: out_* are its final values */
};

/* Fills *out for the pair child_id. -ENOENT (no such pair, or its inbound SA is gone). */
int keel_xfrm_stats(struct keel_xfrm *x, uint32_t child_id, struct keel_xfrm_stats *out);

/* What the kernel holds, by owner (see keel_xfrm_census()). */
struct keel_xfrm_census {
	unsigned sa_own, sa_live, sa_stale, sa_other;     /* SAs */
	unsigned pol_own, pol_live, pol_stale, pol_other; /* policies (main type, all directions) */
};

/*
 * Counts the SAs and policies of this network namespace: own (this
 * instance), live (another running Keel), stale (Keel-marked, nobody holds
 * the instance; the probe's instance 0 counts as stale), other (not
 * Keel's; this includes per-socket policies, such as IKE daemons' bypass).
 */
int keel_xfrm_census(struct keel_xfrm *x, struct keel_xfrm_census *out);

/*
 * Deletes stale Keel state (see above): call it once at start-up. *n_sa and
 * *n_pol (either may be NULL) get how many were deleted. Anything not
 * Keel-marked, and anything of a running Keel, is left alone.
 */
int keel_xfrm_clean_stale(struct keel_xfrm *x, unsigned *n_sa, unsigned *n_pol);

/*
 * Socket side of ESP in UDP: marks the UDP socket fd (bound to the local
 * NAT-T port) UDP_ENCAP_ESPINUDP, so the kernel takes ESP arriving on it
 * (RFC 3948 §2.1: a non-zero first word) to XFRM. IKE messages (the 4-byte
 * non-ESP marker, RFC 3948 §2.2) and NAT-T keepalives (one 0xff byte) still
 * reach the socket, marker included. 0 or -errno.
 */
int keel_xfrm_udp_encap(int fd);

/*
 * Lets the IKE socket fd bypass every IPsec policy (a per-socket policy,
 * as IKE daemons do), so that IKE and keepalives to the gateway never go
 * into the tunnel, even when the traffic selectors cover the gateway's
 * address. family: AF_INET or AF_INET6 (the socket's). 0 or -errno.
 */
int keel_xfrm_socket_bypass(int fd, int family);

#endif
