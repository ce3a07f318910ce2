/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rtnetlink request/answer loop on top of libmnl (see nl.h for why it is
 * ours): libmnl does the parsing and sequence checks, this file only glues
 * send, receive and mnl_cb_run() together and reports -errno.
 */
#include <errno.h>
#include <stdbool.h>
#include <time.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "nl.h"

int keel_nl_open(struct keel_nl *nl)
{
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;
		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return err;
	}
	/* a kernel ACK then carries only the header of a failed request */
	int one = 1;
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

void keel_nl_close(struct keel_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

int keel_nl_talk(struct keel_nl *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	/* 32 KiB: larger than any one batch of a dump the kernel sends */
	char buf[32768];
	bool dump = (req->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;

	if (!nl->sock)
		return -EBADF;
	if (!dump)
		req->nlmsg_flags |= NLM_F_ACK;
	req->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sock, req, req->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		errno = 0;
		int rc = mnl_cb_run(buf, (size_t)n, req->nlmsg_seq, nl->portid, cb, data);
		if (rc < 0)
			return errno ? -errno : -EPROTO;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}
