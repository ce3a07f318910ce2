/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A thin request/answer helper over libmnl for rtnetlink, shared by tun.c
 * and netcfg.c. libmnl builds and walks the messages; what is left by hand
 * is the one loop every caller needs (send, read until the ACK or
 * NLMSG_DONE, turn an NLMSG_ERROR into -errno), kept here so it is written
 * once.
 */
#ifndef KEEL_PLATFORM_NL_H
#define KEEL_PLATFORM_NL_H

#include <stdint.h>

#include <libmnl/libmnl.h>

struct keel_nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
};

/* Opens and binds an rtnetlink socket. Returns 0 or -errno. */
int keel_nl_open(struct keel_nl *nl);

/* Closes the socket; a closed or never-opened (zeroed) nl is fine. */
void keel_nl_close(struct keel_nl *nl);

/*
 * Sends req (its nlmsg_seq is set here; for requests that are not dumps
 * NLM_F_ACK is added) and reads the answers until the ACK or NLMSG_DONE,
 * handing each data message to cb (NULL: none expected). Returns 0, or
 * -errno from the kernel's NLMSG_ERROR or from the socket.
 */
int keel_nl_talk(struct keel_nl *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data);

/* Size for a request buffer: any single request Keel builds fits. */
#define KEEL_NL_REQ_SIZE 1024

#endif
