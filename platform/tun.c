/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TUN device creation. There is no library for this beyond the kernel's
 * two-call interface (open /dev/net/tun, TUNSETIFF), so it is written here
 * directly; the link settings (MTU, up) go through rtnetlink with libmnl,
 * like the rest of the network configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/rtnetlink.h>

#include <keel-platform/tun.h>

#include "nl.h"

static int link_change(int ifindex, uint32_t mtu, int up)
{
	char buf[KEEL_NL_REQ_SIZE];
	struct keel_nl nl = {0};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;
	int rc;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (up >= 0) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = up ? IFF_UP : 0;
	}
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);

	rc = keel_nl_open(&nl);
	if (rc == 0)
		rc = keel_nl_talk(&nl, nlh, NULL, NULL);
	keel_nl_close(&nl);
	return rc;
}

static bool mtu_valid(uint32_t mtu)
{
	/* RFC 791: every IPv4 link carries 68 bytes; 65535 is the IPv4 maximum */
	return mtu >= 68 && mtu <= 65535;
}

int keel_tun_open(const struct keel_tun_config *cfg, struct keel_tun *out)
{
	const char *name = cfg->name && cfg->name[0] ? cfg->name : "keel%d";
	struct ifreq ifr;
	int fd, rc;

	if (strlen(name) >= IFNAMSIZ || (cfg->mtu && !mtu_valid(cfg->mtu)))
		return -EINVAL;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	/*
	 * TUNSETIFF on an existing name would attach to that device if it is
	 * a TUN we may open: a fixed name must be new, so look first.
	 */
	if (!strchr(name, '%') && if_nametoindex(name) != 0) {
		close(fd);
		return -EBUSY;
	}
	if (cfg->offload)
		ifr.ifr_flags |= IFF_VNET_HDR;
	rc = ioctl(fd, TUNSETIFF, &ifr);
	if (rc < 0 && cfg->offload && errno == EINVAL) {
		ifr.ifr_flags &= ~IFF_VNET_HDR; /* a kernel without it: a plain device */
		rc = ioctl(fd, TUNSETIFF, &ifr);
	}
	if (rc < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}

	struct keel_tun t = {.fd = fd};
	if (ifr.ifr_flags & IFF_VNET_HDR) {
		/* TSO needs the checksum offload too; without TSO the header stays, unused */
		if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0)
			(void)ioctl(fd, TUNSETOFFLOAD, 0);
		t.vnet_hdr = true;
	}
	memcpy(t.name, ifr.ifr_name, IFNAMSIZ);
	t.name[IFNAMSIZ - 1] = '\0';
	t.ifindex = (int)if_nametoindex(t.name);
	if (t.ifindex == 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (cfg->mtu || cfg->up) {
		rc = link_change(t.ifindex, cfg->mtu, cfg->up ? 1 : -1);
		if (rc < 0) {
			close(fd);
			return rc;
		}
	}
	*out = t;
	return 0;
}

int keel_tun_set_mtu(const struct keel_tun *tun, uint32_t mtu)
{
	if (tun->fd < 0)
		return -EBADF;
	if (!mtu_valid(mtu))
		return -EINVAL;
	return link_change(tun->ifindex, mtu, -1);
}

int keel_tun_set_up(const struct keel_tun *tun, bool up)
{
	if (tun->fd < 0)
		return -EBADF;
	return link_change(tun->ifindex, 0, up ? 1 : 0);
}

void keel_tun_close(struct keel_tun *tun)
{
	if (!tun || tun->fd < 0)
		return;
	close(tun->fd);
	tun->fd = -1;
	tun->ifindex = 0;
}
