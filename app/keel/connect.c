/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * keel connect: the IKE engine in an event loop (epoll over the two UDP
 * sockets, a signalfd and a timerfd on CLOCK_MONOTONIC), with a data path
 * and the network configuration it needs. The data path is the kernel's
 * (XFRM, kernel-path.c: no TUN device, the virtual IP on the interface
 * towards the gateway) or Keel's own ESP over a TUN device (datapath.c),
 * chosen at start (keel_kpath_choose()).
 *
 * Everything this command changes on the system (TUN device, XFRM SAs and
 * policies, addresses, routes, DNS) is recorded and undone on every way
 * out, in teardown().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <keel/ike.h>
#include <keel/secret.h>
#include <keel-platform/credentials.h>
#include <keel-platform/datapath.h>
#include <keel-platform/dns.h>
#include <keel-platform/netcfg.h>
#include <keel-platform/profile.h>
#include <keel-platform/tun.h>

#include "kernel-path.h"
#include "keel.h"

/* The path MTU assumed towards the gateway (Ethernet). */
#define PATH_MTU        1500
#define IKE_NATT_PORT   4500
#define IKE_MSG_MAX_LEN 65535

enum tag {
	TAG_IKE = 1,
	TAG_NATT, /* the data path's event fd: IKE messages from the NAT-T socket */
	TAG_SIGNAL,
	TAG_TIMER,
	TAG_DNS,
};

struct dns_job {
	pthread_t thread;
	bool running; /* started and not joined */
	int done_fd;  /* an eventfd the thread writes when done */
	struct keel_dns *dns;
	struct keel_dns_config cfg;
	struct keel_addr *servers;
	bool ok;
	GError *error;
};

struct conn {
	const struct keel_connect_opts *o;
	uint64_t t0_ns;
	struct keel_profile *profile;
	struct keel_secrets *secrets;
	struct keel_secret *psk; /* PSK or EAP password: from secrets, or prompted (owned) */
	bool psk_owned;
	struct keel_env env;

	struct keel_addr gw; /* port: the IKE port */
	int ike_fd;          /* to the IKE port; -1 when that is the NAT-T port */
	int natt_fd;
	struct keel_addr local_ike;
	struct keel_addr local_natt;

	int epfd;
	int sigfd;
	int timerfd;
	uint64_t armed_ns; /* the deadline the timerfd is set to */
	bool timer_stale;  /* it fired: set it again even for the same deadline */

	struct keel_sa *sa;
	struct keel_datapath *dp; /* the TUN data path, or NULL */
	struct keel_tun tun;
	bool tun_up;
	struct keel_kpath *kp; /* the kernel data path, or NULL */
	bool kp_up;            /* its first SAs are in */
	int vip_ifindex;       /* where the virtual IP and DNS go: the TUN device, or the
	                          interface towards the gateway */
	char vip_dev[32];
	struct keel_netcfg *nc;
	struct keel_dns *dns;
	bool netcfg_applied;
	struct dns_job dns_job;
	/* the parts of the "tunnel up: ..." line */
	char summary_vip[128];
	char summary_dns[256];
	char summary_routes[512];
	bool up_said;
	bool first_tx_seen;
	bool first_rx_seen;

	bool stop_requested;
	bool abort_pending; /* a local error: stop the engine after this drain */
	bool local_failure;
	bool done;
	bool up;

	uint8_t rx[IKE_MSG_MAX_LEN];
};

uint64_t keel_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int os_random(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	while (len > 0) {
		ssize_t n = getrandom(buf, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return KEEL_ERR_CRYPTO;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- output ---- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void complain(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("keel: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A log line's head: at -vv with the milliseconds since start, to see where time goes. */
static void log_head(struct conn *c, const char *level)
{
	if (c->o->verbose >= 2)
		fprintf(stderr, "[%9.3f] ", (double)(keel_now_ns() - c->t0_ns) / 1e6);
	fprintf(stderr, "%s: ", level);
}

static void debug(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void debug(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	if (c->o->verbose < 1)
		return;
	va_start(ap, fmt);
	log_head(c, "debug");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A local failure: say why, then close the connection and undo everything. */
static void fail_local(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_local(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("keel: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	c->local_failure = true;
	c->abort_pending = true;
}

static const char *addr_text(const struct keel_addr *a, char *buf, size_t cap)
{
	int af = a->family == KEEL_AF_INET6 ? AF_INET6 : AF_INET;
	if (a->family == KEEL_AF_UNSPEC || !inet_ntop(af, a->bytes, buf, (socklen_t)cap))
		snprintf(buf, cap, "?");
	return buf;
}

static const char *prefix_text(const struct keel_prefix *p, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];
	snprintf(buf, cap, "%s/%u", addr_text(&p->addr, a, sizeof(a)), p->prefix_len);
	return buf;
}

/* ---- addresses and sockets ---- */

static socklen_t to_sockaddr(const struct keel_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == KEEL_AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a->bytes, 4);
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	memcpy(&s6->sin6_addr, a->bytes, 16);
	return sizeof(*s6);
}

static bool from_sockaddr(const struct sockaddr *sa, struct keel_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		out->family = KEEL_AF_INET;
		memcpy(out->bytes, &s4->sin_addr, 4);
		out->port = ntohs(s4->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		out->family = KEEL_AF_INET6;
		memcpy(out->bytes, &s6->sin6_addr, 16);
		out->port = ntohs(s6->sin6_port);
		return true;
	}
	return false;
}

static bool resolve_gateway(struct conn *c)
{
	const struct keel_profile *p = c->profile;
	if (p->gateway_addr.family != KEEL_AF_UNSPEC) {
		c->gw = p->gateway_addr;
		c->gw.port = p->gateway_port;
		return true;
	}
	say("resolving %s", p->gateway_host);
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_ADDRCONFIG};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(p->gateway_host, NULL, &hints, &res);
	if (rc != 0) {
		complain("cannot resolve the gateway %s: %s", p->gateway_host,
		         rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return false;
	}
	bool ok = false;
	for (struct addrinfo *ai = res; ai && !ok; ai = ai->ai_next)
		ok = from_sockaddr(ai->ai_addr, &c->gw);
	freeaddrinfo(res);
	if (!ok) {
		complain("the gateway %s has no IPv4 or IPv6 address", p->gateway_host);
		return false;
	}
	c->gw.port = p->gateway_port;
	return true;
}

/* A non-blocking UDP socket connected to the gateway's port; *local: where it is bound. */
static int open_udp(const struct keel_addr *gw, uint16_t port, struct keel_addr *local)
{
	struct sockaddr_storage ss;
	socklen_t len = to_sockaddr(gw, port, &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    !from_sockaddr((struct sockaddr *)&ss, local)) {
		int err = errno ? errno : EAFNOSUPPORT;
		close(fd);
		return -err;
	}
	return fd;
}

static bool epoll_add(struct conn *c, int fd, enum tag tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		complain("epoll: %s", strerror(errno));
		return false;
	}
	return true;
}

static bool open_sockets(struct conn *c)
{
	char a[INET6_ADDRSTRLEN];
	int fd;
	c->ike_fd = -1;
	if (c->gw.port != IKE_NATT_PORT) {
		fd = open_udp(&c->gw, c->gw.port, &c->local_ike);
		if (fd < 0) {
			complain("cannot reach the gateway %s port %u: %s",
			         addr_text(&c->gw, a, sizeof(a)), c->gw.port, strerror(-fd));
			return false;
		}
		c->ike_fd = fd;
	}
	fd = open_udp(&c->gw, IKE_NATT_PORT, &c->local_natt);
	if (fd < 0) {
		complain("cannot reach the gateway %s port %u: %s", addr_text(&c->gw, a, sizeof(a)),
		         IKE_NATT_PORT, strerror(-fd));
		return false;
	}
	c->natt_fd = fd;
	if (c->ike_fd < 0)
		c->local_ike = c->local_natt;
	/* the NAT-T socket is read by the data path's thread */
	return c->ike_fd < 0 || epoll_add(c, c->ike_fd, TAG_IKE);
}

/* ---- network configuration ---- */

static bool prefix_covers(const struct keel_prefix *p, const struct keel_addr *a)
{
	if (p->addr.family != a->family)
		return false;
	unsigned bits = p->prefix_len;
	for (unsigned i = 0; i < bits / 8; i++)
		if (p->addr.bytes[i] != a->bytes[i])
			return false;
	if (bits % 8) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits % 8));
		if ((p->addr.bytes[bits / 8] & mask) != (a->bytes[bits / 8] & mask))
			return false;
	}
	return true;
}

static void append(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;
	if (n >= cap - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
}

/*
 * DNS is applied on a helper thread: the resolv.conf fallback fsyncs a
 * backup and the new file (and D-Bus to systemd-resolved is a round trip),
 * which would stall the first packets through the tunnel by 10 ms or more.
 * The thread owns c->dns and dns_job until it signals done_fd.
 */
static void *dns_thread(void *arg)
{
	struct dns_job *j = arg;
	uint64_t one = 1;
	j->ok = keel_dns_apply(j->dns, &j->cfg, &j->error);
	ssize_t w = write(j->done_fd, &one, sizeof(one)); /* cannot fail: written once */
	(void)w;
	return NULL;
}

static bool dns_start(struct conn *c, const struct keel_out_netcfg *n, bool full)
{
	struct dns_job *j = &c->dns_job;
	j->servers = calloc(n->n_dns, sizeof(*j->servers));
	j->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!j->servers || j->done_fd < 0 || !epoll_add(c, j->done_fd, TAG_DNS))
		return false;
	memcpy(j->servers, n->dns, n->n_dns * sizeof(*j->servers));
	j->dns = c->dns;
	j->cfg = (struct keel_dns_config){
	    .ifindex = c->vip_ifindex,
	    .servers = j->servers,
	    .n_servers = n->n_dns,
	    .default_route = full,
	};
	if (pthread_create(&j->thread, NULL, dns_thread, j) != 0)
		return false;
	j->running = true;
	return true;
}

static void dns_job_clear(struct dns_job *j)
{
	free(j->servers);
	j->servers = NULL;
	if (j->done_fd >= 0)
		close(j->done_fd);
	j->done_fd = -1;
}

/* Waits for the DNS thread (if any); says what became of it. */
static void dns_finish(struct conn *c)
{
	struct dns_job *j = &c->dns_job;
	if (!j->running)
		return;
	pthread_join(j->thread, NULL);
	j->running = false;
	/* the eventfd stays readable: left in the epoll set it would spin the loop */
	dns_job_clear(j);
	if (!j->ok) {
		/* the tunnel works without it; the user should know */
		complain("warning: cannot set the DNS servers: %s", j->error->message);
		append(c->summary_dns, sizeof(c->summary_dns), " (not set)");
	} else if (keel_dns_backend_used(c->dns) == KEEL_DNS_RESOLVED) {
		append(c->summary_dns, sizeof(c->summary_dns), " (systemd-resolved)");
	}
	g_clear_error(&j->error);
}

/* "tunnel up: ..." once the engine says so and DNS is settled. */
static void maybe_say_up(struct conn *c)
{
	if (!c->up || c->up_said || c->dns_job.running || c->local_failure)
		return;
	c->up_said = true;
	say("tunnel up:%s%s%s", c->summary_vip, c->summary_dns, c->summary_routes);
	debug(c, "tunnel up %.1f ms after start", (double)(keel_now_ns() - c->t0_ns) / 1e6);
}

static void apply_netcfg(struct conn *c, const struct keel_out_netcfg *n)
{
	char t[64];
	int rc;
	bool full = false;

	if (c->netcfg_applied) {
		debug(c, "the gateway sent its network configuration again; keeping the first");
		return;
	}
	c->netcfg_applied = true;
	if (!c->tun_up && !c->kp_up) {
		fail_local(c, "network configuration arrived before the tunnel");
		return;
	}
	/* the kernel path has no device of its own: the virtual IP goes where the gateway is */
	if (c->kp && (rc = keel_netcfg_gateway_ifindex(c->nc, &c->gw, &c->vip_ifindex)) < 0) {
		fail_local(c, "cannot find the interface towards the gateway: %s", strerror(-rc));
		return;
	}
	if (c->kp && !if_indextoname((unsigned)c->vip_ifindex, c->vip_dev))
		snprintf(c->vip_dev, sizeof(c->vip_dev), "interface %d", c->vip_ifindex);
	/* keep IKE and ESP on their path when the tunnel's routes would cover the gateway */
	bool covers_gw = false;
	for (size_t i = 0; i < n->n_routes; i++) {
		full |= n->routes[i].prefix_len == 0;
		covers_gw |= prefix_covers(&n->routes[i], &c->gw);
	}
	if (covers_gw && (rc = keel_netcfg_pin_gateway(c->nc, &c->gw, c->tun.ifindex)) < 0 &&
	    rc != -EEXIST) {
		fail_local(c, "cannot keep a route to the gateway: %s", strerror(-rc));
		return;
	}
	const struct keel_prefix *vips[2] = {n->has_ip4 ? &n->ip4 : NULL,
	                                     n->has_ip6 ? &n->ip6 : NULL};
	for (size_t i = 0; i < 2; i++) {
		if (!vips[i])
			continue;
		rc = keel_netcfg_add_address(c->nc, c->vip_ifindex, vips[i]);
		if (rc < 0 && rc != -EEXIST) {
			fail_local(c, "cannot add the virtual IP %s to %s: %s",
			           prefix_text(vips[i], t, sizeof(t)), c->vip_dev, strerror(-rc));
			return;
		}
		append(c->summary_vip, sizeof(c->summary_vip), "%s %s",
		       c->summary_vip[0] ? "," : " virtual IP",
		       addr_text(&vips[i]->addr, t, sizeof(t)));
	}
	if (!c->summary_vip[0])
		append(c->summary_vip, sizeof(c->summary_vip), " no virtual IP");
	append(c->summary_vip, sizeof(c->summary_vip), " on %s", c->vip_dev);

	append(c->summary_routes, sizeof(c->summary_routes), ", routes");
	for (size_t i = 0; i < n->n_routes; i++) {
		const struct keel_prefix *r = &n->routes[i];
		/* XFRM: along the gateway's path, from the virtual IP, which the policies match */
		const struct keel_addr *src =
		    r->addr.family == KEEL_AF_INET && n->has_ip4    ? &n->ip4.addr
		    : r->addr.family == KEEL_AF_INET6 && n->has_ip6 ? &n->ip6.addr
		                                                    : NULL;
		rc = c->kp ? keel_netcfg_add_route_toward(c->nc, &c->gw, r, src)
		           : keel_netcfg_add_route(c->nc, c->vip_ifindex, r);
		if (rc < 0 && rc != -EEXIST) {
			fail_local(c, "cannot add the route %s via %s: %s",
			           prefix_text(r, t, sizeof(t)), c->vip_dev, strerror(-rc));
			return;
		}
		append(c->summary_routes, sizeof(c->summary_routes), "%s %s", i ? "," : "",
		       prefix_text(&n->routes[i], t, sizeof(t)));
	}
	if (n->n_routes == 0)
		append(c->summary_routes, sizeof(c->summary_routes), " none");

	if (n->n_dns == 0) {
		append(c->summary_dns, sizeof(c->summary_dns), ", no DNS");
		return;
	}
	append(c->summary_dns, sizeof(c->summary_dns), ", DNS");
	for (size_t i = 0; i < n->n_dns; i++)
		append(c->summary_dns, sizeof(c->summary_dns), "%s %s", i ? "," : "",
		       addr_text(&n->dns[i], t, sizeof(t)));
	if (!dns_start(c, n, full))
		fail_local(c, "cannot start setting the DNS servers");
}

/* ---- the engine's outputs ---- */

static void child_install_kernel(struct conn *c, const struct keel_out_child_install *ci)
{
	const char *proto = ci->protocol == KEEL_PROTO_AH ? "AH" : "ESP";
	if (keel_kpath_install(c->kp, ci, keel_now_ns()) < 0) {
		fail_local(c, "cannot install the %s SAs in the kernel: %s", proto,
		           keel_kpath_error(c->kp));
		return;
	}
	debug(c, "%s SAs %08" PRIx32 "_i %08" PRIx32 "_o in the kernel%s%s", proto, ci->spi_in,
	      ci->spi_out, ci->encap ? " (ESP in UDP)" : "",
	      ci->inbound_first ? "; outbound once the gateway deletes the old pair or confirms"
	                        : "");
	c->kp_up = true;
}

/*
 * Disconnecting, the last pair goes: the routes and addresses first, so
 * that nothing meant for the tunnel leaves in clear while the gateway's
 * answer is awaited. (A pair the gateway deletes either fails the
 * connection, and teardown() follows at once, or is being replaced by a
 * rekey of ours, whose SAs need the routes.)
 */
static void child_remove_kernel(struct conn *c, const struct keel_out_child_remove *cr)
{
	int rc;
	if (cr->reason == KEEL_REASON_USER && keel_kpath_pairs(c->kp) == 1 && c->nc &&
	    (rc = keel_netcfg_undo(c->nc)) < 0)
		complain("cannot remove every address and route: %s", strerror(-rc));
	if (keel_kpath_remove(c->kp, cr) < 0)
		complain("cannot remove SAs from the kernel: %s", keel_kpath_error(c->kp));
}

static void child_install(struct conn *c, const struct keel_out_child_install *ci)
{
	if (c->kp) {
		child_install_kernel(c, ci);
		return;
	}
	/* as on the kernel path: a rekey we answered sends on the new SA once the gateway has it */
	bool wait = ci->inbound_first;
	int rc = wait ? keel_datapath_install_inbound_first(c->dp, ci, keel_now_ns())
	              : keel_datapath_install(c->dp, ci);
	if (rc < 0) {
		fail_local(c, "cannot install the ESP SAs: %s", keel_strerror(rc));
		return;
	}
	debug(c, "ESP SAs %08" PRIx32 "_i %08" PRIx32 "_o in the data path%s", ci->spi_in,
	      ci->spi_out,
	      wait ? "; outbound once the gateway deletes the old pair or confirms" : "");
	if (c->tun_up)
		return;
	uint32_t ip_hdr = c->gw.family == KEEL_AF_INET ? 20 : 40;
	uint32_t mtu = keel_datapath_tun_mtu(c->dp, PATH_MTU, ip_hdr);
	if (mtu < 576) {
		fail_local(c, "the ESP overhead leaves no usable MTU");
		return;
	}
	if ((rc = keel_tun_set_mtu(&c->tun, mtu)) < 0 ||
	    (rc = keel_tun_set_up(&c->tun, true)) < 0) {
		fail_local(c, "cannot set up %s: %s", c->tun.name, strerror(-rc));
		return;
	}
	c->tun_up = true;
	debug(c, "%s up, MTU %" PRIu32, c->tun.name, mtu);
}

static void on_state(struct conn *c, const struct keel_out_state *s)
{
	switch (s->state) {
	case KEEL_STATE_IDLE:
		break;
	case KEEL_STATE_CONNECTING:
	case KEEL_STATE_IKE_SA_INIT:
	case KEEL_STATE_AUTHENTICATING:
		say("%s", s->text);
		break;
	case KEEL_STATE_ESTABLISHED:
		if (!c->up) {
			c->up = true;
			maybe_say_up(c);
		} else if (c->o->verbose > 0) {
			say("%s", s->text);
		}
		break;
	case KEEL_STATE_REKEYING:
		if (c->o->verbose > 0)
			say("%s", s->text);
		break;
	case KEEL_STATE_CLOSING:
		say("%s", s->text);
		break;
	case KEEL_STATE_CLOSED:
	case KEEL_STATE_FAILED:
		c->done = true;
		if (s->state == KEEL_STATE_CLOSED && s->reason == KEEL_REASON_USER)
			say("%s", s->text);
		else if (!c->local_failure)
			complain("%s", s->text);
		break;
	}
}

static void on_log(struct conn *c, const struct keel_out_log *l)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	/* an error line repeats the FAILED state's text, which is printed anyway */
	if (l->level == KEEL_LOG_ERROR)
		return;
	log_head(c, names[l->level <= KEEL_LOG_DEBUG ? l->level : KEEL_LOG_DEBUG]);
	fprintf(stderr, "%s\n", l->text);
}

static void send_dgram(struct conn *c, const struct keel_out_dgram *d)
{
	int rc = 0;
	if (d->natt && c->kp) {
		rc = keel_kpath_send_ike(c->kp, d->data, d->len, keel_now_ns());
	} else if (d->natt) {
		rc = keel_datapath_send_ike(c->dp, d->data, d->len, keel_now_ns());
	} else if (c->ike_fd >= 0) {
		for (int tries = 0; tries < 2; tries++) {
			rc = send(c->ike_fd, d->data, (size_t)d->len, 0) < 0 ? -errno : 0;
			if (rc != -ECONNREFUSED && rc != -EINTR)
				break; /* ECONNREFUSED: an earlier ICMP error; try again once */
		}
	} else {
		rc = -EDESTADDRREQ;
	}
	/* a lost datagram is the engine's to retransmit */
	if (rc < 0)
		debug(c, "sending %td bytes to the gateway failed: %s", d->len, strerror(-rc));
}

static void drain(struct conn *c)
{
	struct keel_out o;
	while (keel_sa_pop(c->sa, &o)) {
		switch (o.kind) {
		case KEEL_OUT_DGRAM:
			send_dgram(c, &o.u.dgram);
			break;
		case KEEL_OUT_CHILD_INSTALL:
			child_install(c, &o.u.child_install);
			break;
		case KEEL_OUT_CHILD_REMOVE:
			if (c->kp)
				child_remove_kernel(c, &o.u.child_remove);
			else
				keel_datapath_remove(c->dp, o.u.child_remove.child_id);
			debug(c, "%s SAs %08" PRIx32 "_i %08" PRIx32 "_o removed (%s)",
			      o.u.child_remove.protocol == KEEL_PROTO_AH ? "AH" : "ESP",
			      o.u.child_remove.spi_in, o.u.child_remove.spi_out,
			      keel_reason_name(o.u.child_remove.reason));
			break;
		case KEEL_OUT_CHILD_ACTIVATE: {
			const struct keel_out_child_activate *ca = &o.u.child_activate;
			/* a full ring or a failed XFRM add: the old pair's removal retries */
			if (c->kp)
				keel_kpath_activate(c->kp, ca->child_id);
			else
				keel_datapath_activate(c->dp, ca->child_id);
			debug(c,
			      "%s SAs %08" PRIx32 "_i %08" PRIx32
			      "_o: outbound now, the gateway has them",
			      ca->protocol == KEEL_PROTO_AH ? "AH" : "ESP", ca->spi_in,
			      ca->spi_out);
			break;
		}
		case KEEL_OUT_NETCFG:
			apply_netcfg(c, &o.u.netcfg);
			break;
		case KEEL_OUT_STATE:
			on_state(c, &o.u.state);
			break;
		case KEEL_OUT_LOG:
			on_log(c, &o.u.log);
			break;
		}
	}
	if (c->abort_pending) {
		c->abort_pending = false;
		if (!c->done && keel_sa_stop(c->sa, keel_now_ns()) == 0)
			drain(c);
	}
}

static void ike_in(void *ctx, const uint8_t *msg, ptrdiff_t len)
{
	struct conn *c = ctx;
	struct keel_dgram d = {
	    .local = c->local_natt,
	    .remote = c->gw,
	    .data = msg,
	    .len = len,
	};
	d.remote.port = IKE_NATT_PORT;
	if (c->done)
		return;
	keel_sa_recv(c->sa, &d, keel_now_ns());
	drain(c);
}

static void ike_socket_readable(struct conn *c)
{
	for (int i = 0; i < 16 && !c->done; i++) {
		ssize_t n = recv(c->ike_fd, c->rx, sizeof(c->rx), 0);
		if (n < 0) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			return;
		}
		struct keel_dgram d = {
		    .local = c->local_ike, .remote = c->gw, .data = c->rx, .len = n};
		keel_sa_recv(c->sa, &d, keel_now_ns());
		drain(c);
	}
}

static void signal_readable(struct conn *c)
{
	struct signalfd_siginfo si;
	while (read(c->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (c->stop_requested) {
			complain("%s again: quitting without waiting for the gateway",
			         strsignal((int)si.ssi_signo));
			c->done = true;
			return;
		}
		c->stop_requested = true;
		debug(c, "%s: disconnecting", strsignal((int)si.ssi_signo));
		if (!c->done && keel_sa_stop(c->sa, keel_now_ns()) == 0)
			drain(c);
	}
}

/* At -vv: when the first packet went through the tunnel each way (start-up latency). */
static void note_first_packets(struct conn *c)
{
	struct keel_datapath_stats st;
	if (c->o->verbose < 2 || !c->dp || (c->first_tx_seen && c->first_rx_seen))
		return;
	keel_datapath_stats(c->dp, &st);
	if (!c->first_tx_seen && st.tx_packets > 0) {
		c->first_tx_seen = true;
		debug(c, "first packet sent into the tunnel");
	}
	if (!c->first_rx_seen && st.rx_packets > 0) {
		c->first_rx_seen = true;
		debug(c, "first packet received from the tunnel");
	}
}

static void arm_timer(struct conn *c)
{
	uint64_t d = keel_sa_deadline(c->sa);
	uint64_t k = c->kp ? keel_kpath_deadline(c->kp) : keel_datapath_deadline(c->dp);
	if (k < d)
		d = k;
	if (d == c->armed_ns && !c->timer_stale)
		return;
	struct itimerspec its = {0};
	if (d != UINT64_MAX) {
		if (d == 0)
			d = 1; /* zero would disarm */
		its.it_value.tv_sec = (time_t)(d / 1000000000ull);
		its.it_value.tv_nsec = (long)(d % 1000000000ull);
	}
	if (timerfd_settime(c->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0) {
		c->armed_ns = d;
		c->timer_stale = false;
	}
}

static void run_loop(struct conn *c)
{
	while (!c->done) {
		struct epoll_event ev[8];
		arm_timer(c);
		int n = epoll_wait(c->epfd, ev, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail_local(c, "epoll: %s", strerror(errno));
			c->done = true;
			break;
		}
		for (int i = 0; i < n && !c->done; i++) {
			uint64_t expirations;
			switch ((enum tag)ev[i].data.u32) {
			case TAG_IKE:
				ike_socket_readable(c);
				break;
			case TAG_NATT:
				if (c->kp) {
					keel_kpath_natt_readable(c->kp, c->rx, sizeof(c->rx),
					                         ike_in, c);
					break;
				}
				keel_datapath_udp_readable(c->dp, keel_now_ns(), ike_in, c);
				note_first_packets(c);
				break;
			case TAG_SIGNAL:
				signal_readable(c);
				break;
			case TAG_DNS:
				dns_finish(c);
				maybe_say_up(c);
				break;
			case TAG_TIMER:
				/* expired, hence disarmed: arm it again after the tick */
				if (read(c->timerfd, &expirations, sizeof(expirations)) < 0)
					expirations = 0;
				c->timer_stale = true;
				break;
			}
		}
		if (c->done)
			break;
		uint64_t now = keel_now_ns();
		if (now >= keel_sa_deadline(c->sa)) {
			keel_sa_tick(c->sa, now);
			drain(c);
		}
		if (c->kp) {
			keel_kpath_tick(c->kp, now);
			continue;
		}
		keel_datapath_tick(c->dp, now);
		uint32_t child = keel_datapath_take_rekey(c->dp);
		if (child && !c->done && keel_sa_rekey(c->sa, KEEL_REKEY_CHILD, child, now) == 0)
			drain(c);
	}
}

/* ---- setting up and tearing down ---- */

/*
 * A secret the secrets file does not give, asked for on the terminal into
 * *slot; 0, or the exit status. what names it in a sentence ("pre-shared
 * key"), label in the prompt; name is the key the file would hold.
 */
static int ask_secret(struct conn *c, const char *what, const char *label, const char *name,
                      const char *auth, struct keel_secret **slot)
{
	const struct keel_connect_opts *o = c->o;
	if (!isatty(STDIN_FILENO)) {
		if (o->secrets)
			fprintf(stderr, "%s: no key '%s' in [secrets], which auth = %s needs\n",
			        o->secrets, name, auth);
		else
			complain("no %s: give it in a file with --secrets FILE, or run keel on a "
			         "terminal to be asked for it",
			         what);
		return KEEL_EXIT_USAGE;
	}
	bool interrupted;
	*slot = keel_prompt_secret(label, c->sigfd, &interrupted);
	if (!*slot)
		return interrupted ? KEEL_EXIT_FAILURE : KEEL_EXIT_USAGE;
	return 0;
}

/*
 * The secrets auth needs, from --secrets FILE, asked on the terminal when
 * the file does not give them; 0, or the exit status. What is asked for
 * goes into c->secrets as if the file had it.
 */
static int load_secrets(struct conn *c)
{
	const struct keel_connect_opts *o = c->o;
	enum keel_profile_auth pa = c->profile->auth;
	/* no PSK: our certificate, or (hybrid) the gateway's alone */
	bool cert = pa == KEEL_PROFILE_AUTH_CERT || pa == KEEL_PROFILE_AUTH_XAUTH_CERT ||
	            pa == KEEL_PROFILE_AUTH_HYBRID;
	bool eap = pa == KEEL_PROFILE_AUTH_EAP;
	bool xauth = pa == KEEL_PROFILE_AUTH_XAUTH_PSK || pa == KEEL_PROFILE_AUTH_XAUTH_CERT ||
	             pa == KEEL_PROFILE_AUTH_HYBRID;
	const char *auth = eap                                  ? "eap"
	                   : pa == KEEL_PROFILE_AUTH_XAUTH_PSK  ? "xauth-psk"
	                   : pa == KEEL_PROFILE_AUTH_XAUTH_CERT ? "xauth-cert"
	                   : pa == KEEL_PROFILE_AUTH_HYBRID     ? "hybrid"
	                                                        : "psk";
	int rc;
	if (xauth && !c->profile->username) {
		complain("auth = %s needs username in [auth]", auth);
		return KEEL_EXIT_USAGE;
	}
	if (o->secrets) {
		GError *err = NULL;
		c->secrets = keel_secrets_load(o->secrets, &err);
		if (!c->secrets) {
			fprintf(stderr, "%s\n", err->message);
			g_error_free(err);
			return KEEL_EXIT_USAGE;
		}
	} else {
		c->secrets = g_new0(struct keel_secrets, 1);
	}
	/* auth = cert: key-passphrase, asked for by read_credentials() if the key needs it */
	struct keel_secret **slot = eap ? &c->secrets->password : &c->secrets->psk;
	if (!cert && !*slot &&
	    (rc = ask_secret(c, eap ? "EAP password" : "pre-shared key",
	                     eap ? "EAP password" : "Pre-shared key", eap ? "password" : "psk",
	                     auth, slot)) != 0)
		return rc;
	c->psk = cert ? NULL : *slot;
	if (xauth && !c->secrets->password &&
	    (rc = ask_secret(c, "XAUTH password", "XAUTH password", "password", auth,
	                     &c->secrets->password)) != 0)
		return rc;
	return 0;
}

/* 0, or the exit status of a refusal. */
static int check_profile(struct conn *c)
{
	const struct keel_profile *p = c->profile;
	if (p->ike_version != 2 && p->ike_version != 1) {
		complain("IKEv%u is not supported", p->ike_version);
		return KEEL_EXIT_FAILURE;
	}
	if (p->ike_version == 1 && p->auth == KEEL_PROFILE_AUTH_EAP) {
		complain("auth = eap needs ike = 2");
		return KEEL_EXIT_FAILURE;
	}
	if (p->ike_version == 2 && p->auth != KEEL_PROFILE_AUTH_PSK &&
	    p->auth != KEEL_PROFILE_AUTH_CERT && p->auth != KEEL_PROFILE_AUTH_EAP) {
		complain("only auth = psk, cert and eap are supported with ike = 2");
		return KEEL_EXIT_FAILURE;
	}
	return 0;
}

/*
 * The [auth] files for auth = cert and eap, read into *cert, *key, *ca, *crl
 * (the caller frees them) and set in cfg; without ca, the system's CA store.
 */
static bool read_credentials(struct conn *c, struct keel_config *cfg, struct keel_secret **cert,
                             struct keel_secret **key, struct keel_secret **ca,
                             struct keel_secret **crl)
{
	const struct keel_profile *p = c->profile;
	const char *store = NULL;
	GError *err = NULL;
	bool own = p->auth == KEEL_PROFILE_AUTH_CERT || p->auth == KEEL_PROFILE_AUTH_XAUTH_CERT;
	if (own) {
		if (!p->private_key) {
			complain("auth = cert needs private-key in [auth] (and certificate, unless "
			         "it is a PKCS#12 file)");
			return false;
		}
		if ((p->certificate && !(*cert = keel_cred_read(p->certificate, NULL, &err))) ||
		    !(*key = keel_cred_read(p->private_key, NULL, &err)))
			goto fail;
		if (*cert) {
			cfg->cert = keel_secret_data(*cert);
			cfg->cert_len = keel_secret_len(*cert);
		}
		cfg->key = *key;
		cfg->key_passphrase = c->secrets->key_passphrase;
	}
	if (p->ca) {
		if (!(*ca = keel_cred_read(p->ca, NULL, &err)))
			goto fail;
		cfg->ca = keel_secret_data(*ca);
		cfg->ca_len = keel_secret_len(*ca);
	} else {
		if (!(*ca = keel_cred_read_system_trust(&store, &err)))
			goto fail;
		debug(c, "verifying the gateway's certificate with the system CA store %s", store);
		cfg->use_system_ca = true;
		cfg->system_ca = keel_secret_data(*ca);
		cfg->system_ca_len = keel_secret_len(*ca);
	}
	if (p->crl) {
		if (!(*crl = keel_cred_read(p->crl, NULL, &err)))
			goto fail;
		cfg->crl = keel_secret_data(*crl);
		cfg->crl_len = keel_secret_len(*crl);
	}
	if (p->auth == KEEL_PROFILE_AUTH_EAP) {
		cfg->eap_identity = p->username;
		cfg->eap_password = c->psk;
		cfg->eap_only = p->eap_only;
	}
	cfg->now_wall_s = (int64_t)time(NULL);
	/* an encrypted key (KEEL_ERR_AUTH) and no key-passphrase in the secrets: ask for it */
	if (own && !cfg->key_passphrase && isatty(STDIN_FILENO) &&
	    keel_config_check(cfg, NULL, 0) == KEEL_ERR_AUTH) {
		bool interrupted;
		c->secrets->key_passphrase =
		    keel_prompt_secret("Passphrase of the private key", c->sigfd, &interrupted);
		if (!c->secrets->key_passphrase)
			return false;
		cfg->key_passphrase = c->secrets->key_passphrase;
	}
	return true;
fail:
	complain("%s", err->message);
	g_error_free(err);
	return false;
}

/* 0, or the exit status of a refusal. */
static int make_sa(struct conn *c)
{
	const struct keel_profile *p = c->profile;
	const struct keel_connect_opts *o = c->o;
	struct keel_secret *cert = NULL, *key = NULL, *ca = NULL, *crl = NULL, *xauth_user = NULL;
	struct keel_config cfg;
	char why[256];
	int status = KEEL_EXIT_FAILURE;

	keel_config_init(&cfg);
	cfg.ike_version = p->ike_version == 1 ? 1 : 2;
	cfg.ikev1_mode =
	    p->mode == KEEL_PROFILE_MODE_AGGRESSIVE ? KEEL_IKEV1_AGGRESSIVE : KEEL_IKEV1_MAIN;
	if (p->auth == KEEL_PROFILE_AUTH_XAUTH_PSK || p->auth == KEEL_PROFILE_AUTH_XAUTH_CERT ||
	    p->auth == KEEL_PROFILE_AUTH_HYBRID) {
		xauth_user = keel_secret_new_from((const uint8_t *)p->username,
		                                  (ptrdiff_t)strlen(p->username));
		if (!xauth_user) {
			complain("out of memory");
			goto out;
		}
		cfg.xauth = true;
		cfg.xauth_user = xauth_user;
		cfg.xauth_password = c->secrets ? c->secrets->password : NULL;
	}
	cfg.local = c->local_ike;
	cfg.remote = c->gw;
	cfg.local_natt_port = c->local_natt.port;
	cfg.remote_natt_port = IKE_NATT_PORT;
	cfg.local_id = p->local_id;
	cfg.remote_id = p->remote_id;
	cfg.auth = p->auth == KEEL_PROFILE_AUTH_CERT || p->auth == KEEL_PROFILE_AUTH_XAUTH_CERT
	               ? KEEL_AUTH_CERT
	           : p->auth == KEEL_PROFILE_AUTH_EAP ? KEEL_AUTH_EAP
	                                              : KEEL_AUTH_PSK;
	cfg.ikev1_hybrid = p->auth == KEEL_PROFILE_AUTH_HYBRID;
	cfg.psk = cfg.auth == KEEL_AUTH_PSK ? c->psk : NULL;
	cfg.n_ike_proposals = p->n_ike_proposals;
	memcpy(cfg.ike_proposals, p->ike_proposals, sizeof(cfg.ike_proposals));
	cfg.n_esp_proposals = p->n_esp_proposals;
	memcpy(cfg.esp_proposals, p->esp_proposals, sizeof(cfg.esp_proposals));
	cfg.n_ah_proposals = p->n_ah_proposals; /* AH: refused by the engine with force_encap */
	memcpy(cfg.ah_proposals, p->ah_proposals, sizeof(cfg.ah_proposals));
	cfg.n_remote_ts = p->n_remote_ts;
	memcpy(cfg.remote_ts, p->remote_ts, sizeof(cfg.remote_ts));
	cfg.force_encap = !c->kp; /* the TUN data path carries ESP in UDP only */
	if (p->ike_rekey_s)
		keel_profile_lifetime(p->ike_rekey_s, &cfg.ike_lifetime);
	if (p->child_rekey_s)
		keel_profile_lifetime(p->child_rekey_s, &cfg.child_lifetime);
	if (p->dpd_set)
		cfg.dpd_interval_ms = p->dpd_s * 1000; /* at most a day: no overflow */
	/* the command line wins over the profile */
	if (o->dpd_set)
		cfg.dpd_interval_ms = o->dpd_ms;
	if (o->retransmit_timeout_ms)
		cfg.retransmit_timeout_ms = o->retransmit_timeout_ms;
	if (o->retransmit_tries_set)
		cfg.retransmit_tries = o->retransmit_tries;
	cfg.log_level = o->verbose >= 2   ? KEEL_LOG_DEBUG
	                : o->verbose == 1 ? KEEL_LOG_INFO
	                                  : KEEL_LOG_WARN;
	if ((cfg.auth != KEEL_AUTH_PSK || cfg.ikev1_hybrid) &&
	    !read_credentials(c, &cfg, &cert, &key, &ca, &crl)) {
		status = KEEL_EXIT_USAGE;
		goto out;
	}
	/* a certificate, key or passphrase that will not do: say which, a bad profile */
	int rc = keel_config_check(&cfg, why, sizeof(why));
	if (rc < 0 && rc != KEEL_ERR_UNSUPPORTED && rc != KEEL_ERR_NOMEM) {
		complain("%s", why);
		status = KEEL_EXIT_USAGE;
		goto out;
	}
	rc = keel_sa_new(&cfg, &c->env, &c->sa);
	if (rc == KEEL_ERR_UNSUPPORTED) {
		complain(
		    "the profile asks for an algorithm or a setting Keel does not support yet");
		goto out;
	}
	if (rc < 0) {
		complain("cannot set up the connection: %s", keel_strerror(rc));
		goto out;
	}
	status = 0;
out:
	/* the engine keeps what it needs */
	keel_secret_free(cert);
	keel_secret_free(key);
	keel_secret_free(ca);
	keel_secret_free(crl);
	keel_secret_free(xauth_user);
	return status;
}

static bool open_tun(struct conn *c)
{
	struct keel_tun_config tc = {.name = NULL, .offload = true};
	int rc = keel_tun_open(&tc, &c->tun);
	if (rc < 0) {
		complain("cannot create a TUN device: %s%s", strerror(-rc),
		         rc == -EPERM ? " (keel needs root or CAP_NET_ADMIN)" : "");
		return false;
	}
	c->vip_ifindex = c->tun.ifindex;
	snprintf(c->vip_dev, sizeof(c->vip_dev), "%s", c->tun.name);
	return true; /* read by the data path's thread */
}

static void print_memory(struct conn *c)
{
	char line[256];
	unsigned long kb;
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lu kB", &kb) == 1)
			debug(c, "peak resident memory (VmHWM): %lu kB", kb);
	fclose(f);
}

static void teardown(struct conn *c)
{
	GError *err = NULL;
	if (c->dp && c->o->verbose > 0) {
		struct keel_datapath_stats st;
		keel_datapath_stats(c->dp, &st);
		debug(c,
		      "data path: sent %" PRIu64 " packets (%" PRIu64 " bytes), received %" PRIu64
		      " (%" PRIu64 " bytes); dropped: %" PRIu64 " without SA out, %" PRIu64
		      " send errors, %" PRIu64 " unknown SPI, %" PRIu64 " invalid, %" PRIu64
		      " off-selector, %" PRIu64 " TUN write errors; %" PRIu64 " keepalives",
		      st.tx_packets, st.tx_bytes, st.rx_packets, st.rx_bytes, st.tx_no_sa,
		      st.tx_errors, st.rx_no_sa, st.rx_bad, st.rx_selector, st.rx_errors,
		      st.keepalives);
	}
	if (c->kp && c->o->verbose > 0) {
		struct keel_xfrm_stats xs;
		keel_kpath_totals(c->kp, &xs);
		debug(c,
		      "data path: kernel XFRM sent %" PRIu64 " packets (%" PRIu64
		      " bytes), received %" PRIu64 " (%" PRIu64 " bytes); dropped: %" PRIu32
		      " replayed, %" PRIu32 " failed integrity",
		      xs.out_packets, xs.out_bytes, xs.in_packets, xs.in_bytes, xs.in_replay_drops,
		      xs.in_integrity_failures);
	}
	/* the data path's threads use the TUN device and the sockets: stop them first */
	keel_datapath_free(c->dp);
	c->dp = NULL;
	dns_finish(c);
	dns_job_clear(&c->dns_job);
	if (c->dns && !keel_dns_revert(c->dns, &err)) {
		complain("cannot restore the DNS settings: %s", err->message);
		g_clear_error(&err);
	}
	if (c->nc) {
		int rc = keel_netcfg_undo(c->nc);
		if (rc < 0)
			complain("cannot remove every address and route: %s", strerror(-rc));
	}
	/* after the routes, so that nothing meant for the tunnel leaves in clear */
	if (c->kp && keel_kpath_remove_all(c->kp) < 0)
		complain("cannot remove every SA and policy from the kernel: %s",
		         keel_kpath_error(c->kp));
	keel_kpath_free(c->kp);
	c->kp = NULL;
	keel_tun_close(&c->tun);
	keel_dns_free(c->dns);
	keel_netcfg_free(c->nc);
	keel_datapath_free(c->dp);
	keel_sa_free(c->sa);
	if (c->ike_fd >= 0)
		close(c->ike_fd);
	if (c->natt_fd >= 0)
		close(c->natt_fd);
	if (c->timerfd >= 0)
		close(c->timerfd);
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->psk_owned)
		keel_secret_free(c->psk);
	keel_secrets_free(c->secrets);
	keel_profile_free(c->profile);
	if (c->o->verbose > 0)
		print_memory(c);
	if (c->sigfd >= 0)
		close(c->sigfd);
}

static bool start_datapath(struct conn *c)
{
	int rc;
	if ((rc = keel_datapath_new(c->natt_fd, &c->env, &c->dp)) < 0) {
		complain("cannot set up the data path: %s", keel_strerror(rc));
		return false;
	}
	keel_datapath_set_tun(c->dp, c->tun.fd, c->tun.vnet_hdr);
	if ((rc = keel_datapath_start(c->dp)) < 0 ||
	    !epoll_add(c, keel_datapath_event_fd(c->dp), TAG_NATT)) {
		complain("cannot start the data path: %s",
		         keel_strerror(rc < 0 ? rc : KEEL_ERR_NOMEM));
		return false;
	}
	bool gso, gro, vnet;
	keel_datapath_offloads(c->dp, &gso, &gro, &vnet);
	debug(c, "data path: UDP GSO %s, UDP GRO %s, TUN offloads %s", gso ? "on" : "off",
	      gro ? "on" : "off", vnet ? "on" : "off");
	return true;
}

/*
 * 0, or the exit status: which data path, said in one line. Nothing on the
 * system is changed yet (the probe's throwaway SA aside); the kernel path's
 * XFRM handle is opened here, so that a failure to open it is said before
 * anything is touched.
 */
static int choose_path(struct conn *c)
{
	char why[768];
	bool xfrm = false;
	int rc;
	if (keel_kpath_choose(c->profile, c->o->datapath, c->gw.family, &xfrm, why, sizeof(why)) <
	    0) {
		complain("%s", why);
		return KEEL_EXIT_FAILURE;
	}
	say("data path: %s (%s)", xfrm ? "kernel XFRM" : "user-space ESP over TUN", why);
	if (xfrm && (rc = keel_kpath_open(&c->kp, why, sizeof(why))) < 0) {
		complain("cannot use the kernel data path: %s", why);
		return KEEL_EXIT_FAILURE;
	}
	return 0;
}

/* The kernel path: what a crashed run of keel left (SAs, policies, routes, virtual IPs) goes. */
static bool clean_stale(struct conn *c)
{
	unsigned n_sa = 0, n_pol = 0, n_routes = 0, n_addrs = 0;
	bool others_live = false;
	int rc = keel_kpath_clean_stale(c->kp, &n_sa, &n_pol, &others_live);
	/* routes and addresses carry no owner: only when no other keel runs here */
	if (rc == 0 && !others_live)
		rc = keel_netcfg_clean_stale(c->nc, &n_routes, &n_addrs);
	if (rc < 0) {
		complain("cannot remove the IPsec state of an earlier run: %s", strerror(-rc));
		return false;
	}
	if (n_sa + n_pol + n_routes + n_addrs > 0)
		say("removed what an earlier run of keel left behind: SAs %u, policies %u, routes "
		    "%u, addresses %u",
		    n_sa, n_pol, n_routes, n_addrs);
	keel_netcfg_tag_routes(c->nc, true);
	return true;
}

static bool attach_kernel_path(struct conn *c)
{
	int rc = keel_kpath_attach(c->kp, c->ike_fd, c->natt_fd, c->gw.family);
	if (rc < 0) {
		complain("cannot set up the IKE sockets for the kernel data path: %s",
		         strerror(-rc));
		return false;
	}
	/* the kernel takes ESP; IKE and keepalives on the NAT-T port are ours to read */
	return epoll_add(c, c->natt_fd, TAG_NATT);
}

static int connect_run(struct conn *c)
{
	const struct keel_connect_opts *o = c->o;
	GError *err = NULL;
	int rc;

	c->profile = keel_profile_load(o->profile, &err);
	if (!c->profile) {
		fprintf(stderr, "%s\n", err->message);
		g_error_free(err);
		return KEEL_EXIT_USAGE;
	}
	if ((rc = check_profile(c)) != 0)
		return rc;
	if ((rc = load_secrets(c)) != 0)
		return rc;
	if (!resolve_gateway(c))
		return KEEL_EXIT_FAILURE;
	if ((rc = choose_path(c)) != 0)
		return rc;

	/*
	 * With the kernel path there is no link of Keel's own: per-link DNS in
	 * systemd-resolved would replace, and RevertLink then drop, the physical
	 * link's own servers. resolv.conf is restored exactly instead.
	 */
	struct keel_dns_options dopts = {
	    .backend = o->resolv_conf || c->kp ? KEEL_DNS_RESOLV_CONF : KEEL_DNS_AUTO,
	    .resolv_conf = o->resolv_conf,
	};
	int rec = keel_dns_recover(o->resolv_conf, &err);
	if (rec < 0) {
		complain("cannot restore the DNS settings of an earlier run: %s", err->message);
		g_error_free(err);
		return KEEL_EXIT_FAILURE;
	}
	if (rec > 0)
		say("restored %s, left changed by an earlier run",
		    o->resolv_conf ? o->resolv_conf : "/etc/resolv.conf");
	c->dns = keel_dns_new(&dopts);

	if ((rc = keel_netcfg_new(&c->nc)) < 0) {
		complain("cannot open rtnetlink: %s", strerror(-rc));
		return KEEL_EXIT_FAILURE;
	}
	if (c->kp ? !clean_stale(c) : !open_tun(c))
		return KEEL_EXIT_FAILURE;
	if (!open_sockets(c) || (c->kp && !attach_kernel_path(c)))
		return KEEL_EXIT_FAILURE;
	if ((rc = make_sa(c)) != 0)
		return rc;
	/* the engine keeps its own copy: ours goes now */
	if (c->psk_owned)
		keel_secret_free(c->psk);
	c->psk = NULL;
	c->psk_owned = false;
	keel_secrets_free(c->secrets);
	c->secrets = NULL;

	/*
	 * IKE_SA_INIT goes out before the data path's threads start: they are
	 * needed from IKE_AUTH on (NAT-T port), and starting them can take
	 * milliseconds on a busy machine, which the gateway's answer then
	 * hides. A gateway on the NAT-T port needs them at once.
	 */
	bool sa_init_first = c->ike_fd >= 0;
	if (sa_init_first) {
		keel_sa_start(c->sa, keel_now_ns());
		drain(c);
	}
	if (!c->kp && !start_datapath(c))
		return KEEL_EXIT_FAILURE;
	if (!sa_init_first) {
		keel_sa_start(c->sa, keel_now_ns());
		drain(c);
	}
	run_loop(c);

	if (c->local_failure)
		return KEEL_EXIT_FAILURE;
	if (c->stop_requested)
		return KEEL_EXIT_OK;
	return KEEL_EXIT_FAILURE;
}

int keel_connect_run(const struct keel_connect_opts *o)
{
	struct conn *c = calloc(1, sizeof(*c));
	sigset_t mask;
	int status;

	if (!c) {
		complain("out of memory");
		return KEEL_EXIT_FAILURE;
	}
	c->o = o;
	c->t0_ns = keel_now_ns();
	c->ike_fd = c->natt_fd = c->epfd = c->sigfd = c->timerfd = -1;
	c->tun.fd = -1;
	c->dns_job.done_fd = -1;
	c->env.random = os_random;
	c->armed_ns = UINT64_MAX;
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* SIGINT and SIGTERM arrive through the event loop, never mid-change */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed stdout must not kill keel before it cleans up */
	c->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->sigfd < 0 || c->epfd < 0 || c->timerfd < 0 || !epoll_add(c, c->sigfd, TAG_SIGNAL) ||
	    !epoll_add(c, c->timerfd, TAG_TIMER)) {
		complain("cannot set up the event loop: %s", strerror(errno));
		status = KEEL_EXIT_FAILURE;
	} else {
		status = connect_run(c);
	}
	teardown(c);
	free(c);
	return status;
}
