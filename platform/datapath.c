/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The TUN data path; see keel-platform/datapath.h for the design.
 *
 * Threads and what they own:
 *   caller (engine): the live-pair list used for sizing and limits, the IKE
 *     queue's consuming end, NAT-keepalives;
 *   sending thread: the outbound halves of the pairs, the TUN read buffer,
 *     the send arena and its mmsghdrs;
 *   receiving thread: the inbound halves (replay windows), the receive
 *     buffers, the coalescing state, the IKE queue's producing end.
 * The caller hands each thread its halves through a single-producer,
 * single-consumer ring of commands; a thread frees the halves it owns.
 * Counters have one writer each and are read with relaxed atomics.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <keel/esp.h>
#include <keel-platform/datapath.h>

#include "offload.h"

/* Pairs alive at once: the current one, the one it replaces, and spare room. */
#define MAX_PAIRS 8
#define CMD_RING  32
#define IKE_SLOTS 8
#define IKE_MAX   65535
#define BATCH_MAX 64
/*
 * Receive buffers: a UDP_GRO datagram is at most 64 KiB, and carries 17
 * ESP packets on average under a TCP stream: 8 of them per recvmmsg() are
 * about 140 packets per call, and half a MiB resident.
 */
#define RX_BUF_LEN   65536
#define RX_GRO_BATCH 8
/* Largest TUN read: a virtio-net header and an IP packet of 64 KiB. */
#define TUN_READ_LEN (KEEL_VNET_HDR_LEN + 65535 + 64)
/*
 * The send arena: ESP packets laid end to end, runs of equal size sent as
 * one GSO; room for 4 TUN super-packets per sendmmsg().
 */
#define ARENA_LEN (4 * 66 * 1024)
/* UDP GSO (kernel udp_send_skb): at most 64 segments, a datagram below 64 KiB. */
#define GSO_MAX_SEGS  64
#define GSO_MAX_BYTES 65000
/* The longest busy-poll window keel_datapath_set_options() takes. */
#define SPIN_MAX_US 10000
/* RFC 3948 §2.3: a NAT-keepalive after 20 s without sending anything. */
#define KEEPALIVE_NS (20ull * 1000000000ull)

#define STAT(x) _Atomic uint64_t x
struct stats {
	STAT(tx_packets);
	STAT(tx_bytes);
	STAT(rx_packets);
	STAT(rx_bytes);
	STAT(tx_no_sa);
	STAT(tx_errors);
	STAT(rx_no_sa);
	STAT(rx_bad);
	STAT(rx_replayed);
	STAT(rx_bad_icv);
	STAT(rx_selector);
	STAT(rx_errors);
	STAT(rx_ike_dropped);
	STAT(keepalives);
	STAT(tx_super);
	STAT(tx_sends);
	STAT(rx_datagrams);
	STAT(rx_writes);
};
#undef STAT

/* One writer per counter: a relaxed load and store, no locked instruction. */
#define ADD(dp, f, n)                                                                              \
	atomic_store_explicit(&(dp)->st.f,                                                         \
	                      atomic_load_explicit(&(dp)->st.f, memory_order_relaxed) + (n),       \
	                      memory_order_relaxed)

/* One direction of a pair, owned by the thread of that direction once handed over. */
struct half {
	uint32_t child_id;
	uint64_t order; /* installation order: the newest has the largest */
	uint32_t spi;
	/*
	 * An outbound half kept back (keel_datapath_install_inbound_first()):
	 * it carries nothing until CMD_ACTIVATE, or the CMD_REMOVE of the
	 * pair waiting_for, applied in the same pass as that removal.
	 */
	bool waiting;
	uint32_t waiting_for;
	struct keel_esp_sa *sa;
	size_t n_ts_local;
	size_t n_ts_remote;
	struct keel_ts ts_local[KEEL_MAX_TS];
	struct keel_ts ts_remote[KEEL_MAX_TS];
};

enum cmd_op {
	CMD_INSTALL = 1,
	CMD_REMOVE,
	CMD_ACTIVATE, /* a kept-back outbound half carries traffic from now on */
};

struct cmd {
	enum cmd_op op;
	uint32_t child_id;
	struct half *half; /* CMD_INSTALL: the receiver owns it */
};

/* Single producer (the caller), single consumer (one thread). */
struct ring {
	_Atomic uint32_t head;
	_Atomic uint32_t tail;
	struct cmd cmds[CMD_RING];
	int efd; /* wakes the consumer */
};

struct ike_slot {
	ptrdiff_t len;
	uint8_t *data;
};

struct tx {
	struct half *pairs[MAX_PAIRS];
	uint8_t *rbuf;
	uint8_t *arena;
	ptrdiff_t used;
	int n_msgs;
	struct mmsghdr msgs[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	uint16_t seg_len[BATCH_MAX]; /* the run's ESP packet length */
	uint16_t n_segs[BATCH_MAX];
	bool run_open; /* the last run may grow */
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cm[BATCH_MAX];
	int gso_failures;
	bool gso; /* UDP GSO in use: cleared here if the kernel keeps refusing it */
};

struct rx {
	struct half *pairs[MAX_PAIRS];
	uint8_t *bufs;
	struct mmsghdr msgs[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm[BATCH_MAX];
	struct keel_gro *gro;
	struct iovec wiov[2 + KEEL_GRO_MAX_SEGS];
	uint8_t saved_hdr[128];
	bool coalesce;   /* cleared here if the kernel refuses a super-packet */
	bool ike_queued; /* the caller must be woken after this batch */
};

struct keel_datapath {
	int natt_fd;
	int tun_fd;
	bool vnet_hdr;
	const struct keel_env *env;
	struct keel_datapath_options opt;
	bool udp_gso;
	bool udp_gro;
	bool coalesce;
	int batch;

	/* the caller's view */
	struct {
		uint32_t child_id;
		uint64_t order;
		const struct keel_esp_sa *out; /* sizing only: immutable fields */
		bool waiting;                  /* its outbound half is kept back ... */
		uint32_t waiting_for;          /* ... until this pair goes */
		uint64_t activate_ns;          /* ... or until then (keel_datapath_tick()) */
	} live[MAX_PAIRS];
	uint64_t next_order;
	bool keepalive;
	uint64_t last_ike_tx_ns;

	int event_fd; /* wakes the caller */
	struct ring tx_ring;
	struct ring rx_ring;
	struct ike_slot ike[IKE_SLOTS];
	_Atomic uint32_t ike_head, ike_tail;
	_Atomic uint32_t rekey_child_id;
	_Atomic uint64_t last_tx_ns;
	_Atomic bool stop;

	bool started;
	bool tx_running, rx_running;
	pthread_t tx_thread, rx_thread;
	struct tx tx;
	struct rx rx;
	struct stats st;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void wake(int efd)
{
	uint64_t one = 1;
	ssize_t w = write(efd, &one, sizeof(one)); /* EAGAIN: already pending */
	(void)w;
}

static void unwake(int efd)
{
	uint64_t v;
	ssize_t r = read(efd, &v, sizeof(v));
	(void)r;
}

/*
 * Sleeps until fd has data or the caller sent a command (efd). A descriptor
 * in one of the states broken (a TUN device deleted under us: POLLERR) is
 * retried every 100 ms rather than spun on. On a UDP socket POLLERR is only
 * a pending ICMP error, which the next receive clears.
 */
static void wait_readable(int fd, int efd, short broken)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = efd, .events = POLLIN}};
	if (poll(p, 2, -1) <= 0)
		return;
	if (p[1].revents)
		unwake(efd);
	if (p[0].revents & broken)
		poll(&p[1], 1, 100);
}

/*
 * With a spin window: true while fd ran dry less than spin_us ago (*since
 * is when; 0: it had data), and the thread should try it again rather
 * than sleep; this trades CPU for fewer sleeps and wake-ups.
 */
static bool keep_spinning(const struct keel_datapath *dp, uint64_t *since)
{
	if (dp->opt.spin_us == 0)
		return false;
	uint64_t now = now_ns();
	if (*since == 0)
		*since = now;
	if (now - *since < (uint64_t)dp->opt.spin_us * 1000u)
		return true;
	*since = 0;
	return false;
}

/* Pins the calling thread to cpu; best effort (a CPU outside the set is ignored). */
static void pin_self(unsigned cpu)
{
	cpu_set_t set;
	if (cpu >= CPU_SETSIZE)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void half_free(struct half *h)
{
	if (!h)
		return;
	keel_esp_sa_free(h->sa);
	free(h);
}

/* ---- command rings ---- */

static bool ring_push(struct ring *r, const struct cmd *c)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (h - t >= CMD_RING)
		return false;
	r->cmds[h % CMD_RING] = *c;
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	wake(r->efd);
	return true;
}

static bool ring_pending(struct ring *r)
{
	return atomic_load_explicit(&r->tail, memory_order_relaxed) !=
	       atomic_load_explicit(&r->head, memory_order_acquire);
}

/* The consumer applies every pending command to its table of halves. */
static void ring_apply(struct ring *r, struct half **pairs)
{
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	for (; t != h; t++) {
		struct cmd *c = &r->cmds[t % CMD_RING];
		switch (c->op) {
		case CMD_INSTALL: {
			size_t i = 0;
			while (i < MAX_PAIRS && pairs[i])
				i++;
			if (i < MAX_PAIRS)
				pairs[i] = c->half;
			else
				half_free(c->half); /* cannot happen: the caller counts pairs */
			break;
		}
		case CMD_REMOVE:
			for (size_t i = 0; i < MAX_PAIRS; i++) {
				if (!pairs[i])
					continue;
				/* its successor takes over before the next packet */
				if (pairs[i]->waiting && pairs[i]->waiting_for == c->child_id)
					pairs[i]->waiting = false;
				if (pairs[i]->child_id == c->child_id) {
					half_free(pairs[i]);
					pairs[i] = NULL;
				}
			}
			break;
		case CMD_ACTIVATE:
			for (size_t i = 0; i < MAX_PAIRS; i++)
				if (pairs[i] && pairs[i]->child_id == c->child_id)
					pairs[i]->waiting = false;
			break;
		}
	}
	atomic_store_explicit(&r->tail, t, memory_order_release);
}

/* ---- selectors ---- */

/* What traffic selectors look at in an IP packet (RFC 7296 §3.13.1). */
struct sel {
	enum keel_af af;
	const uint8_t *src;
	const uint8_t *dst;
	uint8_t proto;
	bool has_ports;
	uint16_t sport;
	uint16_t dport;
};

static bool proto_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
	       proto == IPPROTO_UDPLITE;
}

/* False for anything that is not a whole IPv4 or IPv6 header. */
static bool parse_sel(const uint8_t *p, ptrdiff_t len, struct sel *s)
{
	ptrdiff_t l4 = 0;
	bool first_fragment = true;

	if (len < 1)
		return false;
	memset(s, 0, sizeof(*s));
	switch (p[0] >> 4) {
	case 4: {
		ptrdiff_t ihl = (ptrdiff_t)(p[0] & 0x0f) * 4;
		if (len < 20 || ihl < 20 || ihl > len)
			return false;
		s->af = KEEL_AF_INET;
		s->proto = p[9];
		s->src = p + 12;
		s->dst = p + 16;
		/* only the first fragment (offset 0) carries the ports */
		first_fragment = ((p[6] & 0x1f) << 8 | p[7]) == 0;
		l4 = ihl;
		break;
	}
	case 6:
		if (len < 40)
			return false;
		s->af = KEEL_AF_INET6;
		/* extension headers are not followed: such packets match "any" TS only */
		s->proto = p[6];
		s->src = p + 8;
		s->dst = p + 24;
		l4 = 40;
		break;
	default:
		return false;
	}
	if (first_fragment && proto_has_ports(s->proto) && len - l4 >= 4) {
		s->has_ports = true;
		s->sport = (uint16_t)(p[l4] << 8 | p[l4 + 1]);
		s->dport = (uint16_t)(p[l4 + 2] << 8 | p[l4 + 3]);
	}
	return true;
}

static bool ts_match(const struct keel_ts *ts, const struct sel *s, const uint8_t *addr,
                     uint16_t port)
{
	size_t n = s->af == KEEL_AF_INET ? 4 : 16;
	if (ts->family != s->af)
		return false;
	if (memcmp(addr, ts->start, n) < 0 || memcmp(addr, ts->end, n) > 0)
		return false;
	if (ts->ip_proto != 0 && ts->ip_proto != s->proto)
		return false;
	if (ts->port_start == 0 && ts->port_end == 65535)
		return true;
	return s->has_ports && port >= ts->port_start && port <= ts->port_end;
}

static bool ts_any(const struct keel_ts *ts, size_t n, const struct sel *s, const uint8_t *addr,
                   uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (ts_match(&ts[i], s, addr, port))
			return true;
	return false;
}

/* ---- the caller's side ---- */

int keel_datapath_new(int natt_fd, const struct keel_env *env, struct keel_datapath **out)
{
	/* calloc: the large buffers' pages are only touched as packets need them */
	struct keel_datapath *dp = calloc(1, sizeof(*dp));
	if (!dp)
		return KEEL_ERR_NOMEM;
	dp->natt_fd = natt_fd;
	dp->tun_fd = -1;
	dp->env = env;
	dp->next_order = 1;
	dp->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	dp->tx_ring.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	dp->rx_ring.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	dp->tx.rbuf = malloc(TUN_READ_LEN);
	dp->tx.arena = malloc(ARENA_LEN);
	dp->rx.bufs = malloc((size_t)BATCH_MAX * RX_BUF_LEN);
	dp->rx.gro = malloc(sizeof(*dp->rx.gro));
	bool ok = dp->event_fd >= 0 && dp->tx_ring.efd >= 0 && dp->rx_ring.efd >= 0 &&
	          dp->tx.rbuf && dp->tx.arena && dp->rx.bufs && dp->rx.gro;
	for (size_t i = 0; i < IKE_SLOTS && ok; i++)
		ok = (dp->ike[i].data = malloc(IKE_MAX)) != NULL;
	if (!ok) {
		keel_datapath_free(dp);
		return KEEL_ERR_NOMEM;
	}
	*out = dp;
	return 0;
}

static void stop_threads(struct keel_datapath *dp)
{
	atomic_store(&dp->stop, true);
	wake(dp->tx_ring.efd);
	wake(dp->rx_ring.efd);
	if (dp->tx_running)
		pthread_join(dp->tx_thread, NULL);
	if (dp->rx_running)
		pthread_join(dp->rx_thread, NULL);
	dp->tx_running = dp->rx_running = false;
}

void keel_datapath_free(struct keel_datapath *dp)
{
	if (!dp)
		return;
	stop_threads(dp);
	/* commands never taken: their halves are still ours */
	ring_apply(&dp->tx_ring, dp->tx.pairs);
	ring_apply(&dp->rx_ring, dp->rx.pairs);
	for (size_t i = 0; i < MAX_PAIRS; i++) {
		half_free(dp->tx.pairs[i]);
		half_free(dp->rx.pairs[i]);
	}
	for (size_t i = 0; i < IKE_SLOTS; i++)
		free(dp->ike[i].data);
	if (dp->event_fd >= 0)
		close(dp->event_fd);
	if (dp->tx_ring.efd >= 0)
		close(dp->tx_ring.efd);
	if (dp->rx_ring.efd >= 0)
		close(dp->rx_ring.efd);
	free(dp->tx.rbuf);
	free(dp->tx.arena);
	free(dp->rx.bufs);
	free(dp->rx.gro);
	free(dp);
}

void keel_datapath_set_tun(struct keel_datapath *dp, int tun_fd, bool vnet_hdr)
{
	if (dp->started)
		return;
	dp->tun_fd = tun_fd;
	dp->vnet_hdr = vnet_hdr;
}

int keel_datapath_set_options(struct keel_datapath *dp, const struct keel_datapath_options *o)
{
	if (dp->started)
		return KEEL_ERR_STATE;
	if (o->batch > BATCH_MAX || o->spin_us > SPIN_MAX_US)
		return KEEL_ERR_INVAL;
	dp->opt = *o;
	return 0;
}

int keel_datapath_event_fd(const struct keel_datapath *dp)
{
	return dp->event_fd;
}

void keel_datapath_offloads(const struct keel_datapath *dp, bool *udp_gso, bool *udp_gro,
                            bool *vnet_hdr)
{
	*udp_gso = dp->udp_gso;
	*udp_gro = dp->udp_gro;
	*vnet_hdr = dp->vnet_hdr;
}

#define LOAD(f) atomic_load_explicit(&m->st.f, memory_order_relaxed)
void keel_datapath_stats(const struct keel_datapath *dp, struct keel_datapath_stats *out)
{
	/* C11 (before DR 459) has atomic_load take a pointer to non-const */
	struct keel_datapath *m = (struct keel_datapath *)dp;
	*out = (struct keel_datapath_stats){
	    .tx_packets = LOAD(tx_packets),
	    .tx_bytes = LOAD(tx_bytes),
	    .rx_packets = LOAD(rx_packets),
	    .rx_bytes = LOAD(rx_bytes),
	    .tx_no_sa = LOAD(tx_no_sa),
	    .tx_errors = LOAD(tx_errors),
	    .rx_no_sa = LOAD(rx_no_sa),
	    .rx_bad = LOAD(rx_bad),
	    .rx_replayed = LOAD(rx_replayed),
	    .rx_bad_icv = LOAD(rx_bad_icv),
	    .rx_selector = LOAD(rx_selector),
	    .rx_errors = LOAD(rx_errors),
	    .rx_ike_dropped = LOAD(rx_ike_dropped),
	    .keepalives = LOAD(keepalives),
	    .tx_super = LOAD(tx_super),
	    .tx_sends = LOAD(tx_sends),
	    .rx_datagrams = LOAD(rx_datagrams),
	    .rx_writes = LOAD(rx_writes),
	};
}
#undef LOAD

uint32_t keel_datapath_take_rekey(struct keel_datapath *dp)
{
	return atomic_exchange(&dp->rekey_child_id, 0);
}

static struct half *half_new(const struct keel_out_child_install *ci, uint64_t order)
{
	struct half *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->child_id = ci->child_id;
	h->order = order;
	h->n_ts_local = ci->n_ts_local;
	h->n_ts_remote = ci->n_ts_remote;
	if (ci->n_ts_local)
		memcpy(h->ts_local, ci->ts_local, ci->n_ts_local * sizeof(h->ts_local[0]));
	if (ci->n_ts_remote)
		memcpy(h->ts_remote, ci->ts_remote, ci->n_ts_remote * sizeof(h->ts_remote[0]));
	return h;
}

/*
 * Hands the pair ci to the threads; with waiting_for, its outbound half is
 * kept back until that pair goes or activate_ns.
 */
static int install(struct keel_datapath *dp, const struct keel_out_child_install *ci,
                   uint32_t waiting_for, uint64_t activate_ns)
{
	struct half *in = NULL, *out = NULL;
	size_t slot = MAX_PAIRS;
	int rc;

	if (ci->protocol == KEEL_PROTO_AH)
		return KEEL_ERR_INVAL; /* RFC 4302: AH has no UDP form; kernel path only */
	if (ci->protocol != KEEL_PROTO_ESP || !ci->encap)
		return KEEL_ERR_UNSUPPORTED; /* the TUN path only speaks ESP in UDP */
	if (ci->child_id == 0 || ci->n_ts_local > KEEL_MAX_TS || ci->n_ts_remote > KEEL_MAX_TS)
		return KEEL_ERR_INVAL;
	for (size_t i = 0; i < MAX_PAIRS && slot == MAX_PAIRS; i++)
		if (dp->live[i].child_id == 0)
			slot = i;
	if (slot == MAX_PAIRS)
		return KEEL_ERR_NOBUF;

	struct keel_esp_sa_params pin = {
	    .dir = KEEL_ESP_INBOUND,
	    .spi = ci->spi_in,
	    .encr = ci->encr,
	    .encr_key_bits = ci->encr_key_bits,
	    .encr_keymat = ci->encr_key_in,
	    .encr_keymat_len = ci->encr_key_len,
	    .integ = ci->integ,
	    .integ_key = ci->integ_key_in,
	    .integ_key_len = ci->integ_key_len,
	    .esn = ci->esn,
	    .env = dp->env,
	};
	struct keel_esp_sa_params pout = pin;
	pout.dir = KEEL_ESP_OUTBOUND;
	pout.spi = ci->spi_out;
	pout.encr_keymat = ci->encr_key_out;
	pout.integ_key = ci->integ_key_out;

	uint64_t order = dp->next_order++;
	in = half_new(ci, order);
	out = half_new(ci, order);
	if (!in || !out) {
		rc = KEEL_ERR_NOMEM;
		goto fail;
	}
	in->spi = ci->spi_in;
	out->spi = ci->spi_out;
	out->waiting = waiting_for != 0;
	out->waiting_for = waiting_for;
	if ((rc = keel_esp_sa_new(&pin, &in->sa)) < 0 ||
	    (rc = keel_esp_sa_new(&pout, &out->sa)) < 0)
		goto fail;
	const struct keel_esp_sa *out_sa = out->sa;
	/* inbound first: the gateway may use the new SA as soon as it sees our reply */
	if (!ring_push(&dp->rx_ring, &(struct cmd){CMD_INSTALL, ci->child_id, in})) {
		rc = KEEL_ERR_NOBUF;
		goto fail;
	}
	in = NULL;
	if (!ring_push(&dp->tx_ring, &(struct cmd){CMD_INSTALL, ci->child_id, out})) {
		/* the inbound half is the receiving thread's now: take it back by id */
		ring_push(&dp->rx_ring, &(struct cmd){CMD_REMOVE, ci->child_id, NULL});
		rc = KEEL_ERR_NOBUF;
		goto fail;
	}
	dp->live[slot].child_id = ci->child_id;
	dp->live[slot].order = order;
	dp->live[slot].out = out_sa;
	dp->live[slot].waiting = waiting_for != 0;
	dp->live[slot].waiting_for = waiting_for;
	dp->live[slot].activate_ns = activate_ns;
	if (ci->nat_local || ci->encap)
		dp->keepalive = true;
	return 0;
fail:
	half_free(in);
	half_free(out);
	return rc;
}

int keel_datapath_install(struct keel_datapath *dp, const struct keel_out_child_install *ci)
{
	return install(dp, ci, 0, 0);
}

static ptrdiff_t live_find(const struct keel_datapath *dp, uint32_t child_id)
{
	for (size_t i = 0; child_id && i < MAX_PAIRS; i++)
		if (dp->live[i].child_id == child_id)
			return (ptrdiff_t)i;
	return -1;
}

int keel_datapath_install_inbound_first(struct keel_datapath *dp,
                                        const struct keel_out_child_install *ci, uint64_t now)
{
	ptrdiff_t old = live_find(dp, ci->rekeyed_child_id);
	if (old < 0)
		return install(dp, ci, 0, 0); /* nothing in use that this pair replaces */
	/* one at a time: a pair still kept back itself takes over first */
	if (dp->live[old].waiting)
		keel_datapath_activate(dp, dp->live[old].child_id);
	return install(dp, ci, ci->rekeyed_child_id, now + KEEL_ANSWERED_REKEY_WAIT_NS);
}

int keel_datapath_activate(struct keel_datapath *dp, uint32_t child_id)
{
	ptrdiff_t i = live_find(dp, child_id);
	if (i < 0)
		return KEEL_ERR_INVAL;
	if (!dp->live[i].waiting)
		return 0;
	dp->live[i].waiting = false;
	/* a full ring: the sending thread is stuck; the old pair's removal still activates */
	if (!ring_push(&dp->tx_ring, &(struct cmd){CMD_ACTIVATE, child_id, NULL}))
		return KEEL_ERR_NOBUF;
	return 0;
}

void keel_datapath_remove(struct keel_datapath *dp, uint32_t child_id)
{
	if (child_id == 0)
		return;
	for (size_t i = 0; i < MAX_PAIRS; i++) {
		/* the sending thread activates what waited for child_id as it removes it */
		if (dp->live[i].child_id && dp->live[i].waiting &&
		    dp->live[i].waiting_for == child_id)
			dp->live[i].waiting = false;
		if (dp->live[i].child_id != child_id)
			continue;
		dp->live[i].child_id = 0;
		dp->live[i].out = NULL;
		dp->live[i].waiting = false;
		/* a full ring means a thread is stuck; the halves then go with keel_datapath_free()
		 */
		ring_push(&dp->tx_ring, &(struct cmd){CMD_REMOVE, child_id, NULL});
		ring_push(&dp->rx_ring, &(struct cmd){CMD_REMOVE, child_id, NULL});
	}
}

uint32_t keel_datapath_tun_mtu(const struct keel_datapath *dp, uint32_t path_mtu,
                               uint32_t ip_hdr_len)
{
	const struct keel_esp_sa *sa = NULL;
	uint64_t best = 0;
	for (size_t i = 0; i < MAX_PAIRS; i++)
		if (dp->live[i].child_id && !dp->live[i].waiting && dp->live[i].order > best) {
			best = dp->live[i].order;
			sa = dp->live[i].out;
		}
	if (!sa || path_mtu <= ip_hdr_len + KEEL_ESP_UDP_HDR_LEN)
		return 0;
	ptrdiff_t n = keel_esp_max_inner_len(sa, path_mtu - ip_hdr_len - KEEL_ESP_UDP_HDR_LEN);
	return n > 0 ? (uint32_t)n : 0;
}

void keel_datapath_udp_readable(struct keel_datapath *dp, uint64_t now_ns_,
                                keel_datapath_ike_fn ike_fn, void *ctx)
{
	(void)now_ns_;
	unwake(dp->event_fd);
	uint32_t t = atomic_load_explicit(&dp->ike_tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&dp->ike_head, memory_order_acquire);
	for (; t != h; t++) {
		struct ike_slot *s = &dp->ike[t % IKE_SLOTS];
		ike_fn(ctx, s->data, s->len);
		atomic_store_explicit(&dp->ike_tail, t + 1, memory_order_release);
	}
}

int keel_natt_send_ike(int fd, const uint8_t *msg, ptrdiff_t len)
{
	uint8_t marker[KEEL_NATT_MARKER_LEN];
	keel_natt_write_marker(marker, sizeof(marker));
	struct iovec iov[2] = {
	    {.iov_base = marker, .iov_len = sizeof(marker)},
	    {.iov_base = (void *)msg, .iov_len = (size_t)len},
	};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	for (int tries = 0; tries < 2; tries++) {
		if (sendmsg(fd, &mh, 0) >= 0)
			return 0;
		/* the first try may only collect an earlier ICMP error */
		if (errno != ECONNREFUSED && errno != EINTR)
			break;
	}
	return -errno;
}

int keel_datapath_send_ike(struct keel_datapath *dp, const uint8_t *msg, ptrdiff_t len,
                           uint64_t now)
{
	int rc = keel_natt_send_ike(dp->natt_fd, msg, len);
	if (rc == 0)
		dp->last_ike_tx_ns = now;
	return rc;
}

static uint64_t last_tx(const struct keel_datapath *dp)
{
	uint64_t t =
	    atomic_load_explicit(&((struct keel_datapath *)dp)->last_tx_ns, memory_order_relaxed);
	return t > dp->last_ike_tx_ns ? t : dp->last_ike_tx_ns;
}

uint64_t keel_datapath_deadline(const struct keel_datapath *dp)
{
	uint64_t d = dp->keepalive ? last_tx(dp) + KEEPALIVE_NS : UINT64_MAX;
	for (size_t i = 0; i < MAX_PAIRS; i++)
		if (dp->live[i].child_id && dp->live[i].waiting && dp->live[i].activate_ns < d)
			d = dp->live[i].activate_ns;
	return d;
}

void keel_datapath_tick(struct keel_datapath *dp, uint64_t now)
{
	uint8_t ka[1];
	for (size_t i = 0; i < MAX_PAIRS; i++)
		if (dp->live[i].child_id && dp->live[i].waiting && now >= dp->live[i].activate_ns)
			keel_datapath_activate(dp, dp->live[i].child_id);
	if (!dp->keepalive || now < last_tx(dp) + KEEPALIVE_NS)
		return;
	ptrdiff_t n = keel_natt_write_keepalive(ka, sizeof(ka));
	/* a failed keepalive is not retried before the next interval */
	dp->last_ike_tx_ns = now;
	if (n > 0 && send(dp->natt_fd, ka, (size_t)n, 0) == n)
		ADD(dp, keepalives, 1);
}

/* ---- the sending thread ---- */

/* RFC 4301 §5.1: the newest pair whose selectors cover the packet (none kept back). */
static struct half *tx_pair(struct keel_datapath *dp, const struct sel *s)
{
	struct half *best = NULL;
	for (size_t i = 0; i < MAX_PAIRS; i++) {
		struct half *h = dp->tx.pairs[i];
		if (!h || h->waiting || (best && h->order < best->order))
			continue;
		if (ts_any(h->ts_local, h->n_ts_local, s, s->src, s->sport) &&
		    ts_any(h->ts_remote, h->n_ts_remote, s, s->dst, s->dport))
			best = h;
	}
	return best;
}

static void tx_reset(struct tx *tx)
{
	tx->used = 0;
	tx->n_msgs = 0;
	tx->run_open = false;
}

/* Waits up to 100 ms for room in the socket's send buffer. */
static bool wait_writable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	return poll(&p, 1, 100) > 0;
}

/* Sends one run as separate datagrams (GSO refused, e.g. a segment above the MTU). */
static int tx_send_split(struct keel_datapath *dp, int k)
{
	struct tx *tx = &dp->tx;
	uint8_t *p = tx->iov[k].iov_base;
	size_t left = tx->iov[k].iov_len, seg = tx->seg_len[k];
	int errors = 0;
	while (left > 0) {
		size_t n = left < seg ? left : seg;
		if (send(dp->natt_fd, p, n, 0) < 0)
			errors++;
		p += n;
		left -= n;
	}
	return errors;
}

static void tx_flush(struct keel_datapath *dp)
{
	struct tx *tx = &dp->tx;
	int i = 0;

	for (int k = 0; k < tx->n_msgs; k++) {
		struct msghdr *mh = &tx->msgs[k].msg_hdr;
		memset(mh, 0, sizeof(*mh));
		mh->msg_iov = &tx->iov[k];
		mh->msg_iovlen = 1;
		if (tx->n_segs[k] > 1) {
			mh->msg_control = tx->cm[k].buf;
			mh->msg_controllen = sizeof(tx->cm[k].buf);
			struct cmsghdr *cm = CMSG_FIRSTHDR(mh);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			memcpy(CMSG_DATA(cm), &tx->seg_len[k], sizeof(uint16_t));
		}
	}
	while (i < tx->n_msgs) {
		int n = sendmmsg(dp->natt_fd, &tx->msgs[i], (unsigned)(tx->n_msgs - i), 0);
		if (n > 0) {
			i += n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == ENOBUFS) {
			/* back-pressure: wait rather than drop, the TUN queue fills meanwhile */
			if (wait_writable(dp->natt_fd) && !atomic_load(&dp->stop))
				continue;
		} else if (tx->n_segs[i] > 1 && (errno == EINVAL || errno == EIO)) {
			/* GSO refused for this run: send it datagram by datagram */
			ADD(dp, tx_errors, (uint64_t)tx_send_split(dp, i));
			if (++tx->gso_failures >= 8)
				tx->gso = false;
			i++;
			continue;
		}
		/* the message at i is lost (ECONNREFUSED: an ICMP error; the peer is not there) */
		ADD(dp, tx_errors, tx->n_segs[i]);
		i++;
	}
	ADD(dp, tx_sends, (uint64_t)tx->n_msgs);
	if (tx->n_msgs)
		atomic_store_explicit(&dp->last_tx_ns, now_ns(), memory_order_relaxed);
	tx_reset(tx);
}

/* Adds the ESP packet just built at the arena's end to the batch. */
static void tx_append(struct keel_datapath *dp, ptrdiff_t len)
{
	struct tx *tx = &dp->tx;
	int k = tx->n_msgs - 1;
	uint8_t *p = tx->arena + tx->used;
	tx->used += len;
	if (k >= 0 && tx->run_open && len <= tx->seg_len[k] && tx->n_segs[k] < GSO_MAX_SEGS &&
	    tx->iov[k].iov_len + (size_t)len <= GSO_MAX_BYTES) {
		tx->iov[k].iov_len += (size_t)len;
		tx->n_segs[k]++;
		tx->run_open = len == tx->seg_len[k]; /* a shorter packet ends the run */
		return;
	}
	k = tx->n_msgs++;
	tx->iov[k] = (struct iovec){.iov_base = p, .iov_len = (size_t)len};
	tx->seg_len[k] = (uint16_t)len;
	tx->n_segs[k] = 1;
	tx->run_open = tx->gso;
}

/* Whether an ESP packet of len bytes would start a new message. */
static bool tx_needs_msg(const struct tx *tx, ptrdiff_t len)
{
	int k = tx->n_msgs - 1;
	return !(k >= 0 && tx->run_open && len <= tx->seg_len[k] && tx->n_segs[k] < GSO_MAX_SEGS &&
	         tx->iov[k].iov_len + (size_t)len <= GSO_MAX_BYTES);
}

static void tx_packet(struct keel_datapath *dp, uint8_t *buf, ptrdiff_t n)
{
	struct tx *tx = &dp->tx;
	struct keel_tso t = {.pkt = buf, .len = n, .n_segs = 1};
	struct sel s;

	if (dp->vnet_hdr) {
		struct virtio_net_hdr vh;
		if (n < KEEL_VNET_HDR_LEN) {
			ADD(dp, tx_errors, 1);
			return;
		}
		memcpy(&vh, buf, sizeof(vh));
		if (keel_tso_parse(&vh, buf + KEEL_VNET_HDR_LEN, n - KEEL_VNET_HDR_LEN, &t) < 0) {
			ADD(dp, tx_errors, 1);
			return;
		}
	}
	struct half *h = parse_sel(t.pkt, t.len, &s) ? tx_pair(dp, &s) : NULL;
	if (!h) {
		ADD(dp, tx_no_sa, (uint64_t)t.n_segs);
		return;
	}
	ptrdiff_t hdr = keel_esp_header_len(h->sa);
	/* a GSO packet, even of one segment: its TCP checksum is ours to write */
	bool super = t.gso_size > 0;
	ptrdiff_t seg_max = super ? t.hlen + t.gso_size : t.len;
	ptrdiff_t need = t.n_segs * (seg_max + KEEL_ESP_HEADER_MAX_LEN + KEEL_ESP_TRAILER_MAX_LEN);
	if (need > ARENA_LEN - tx->used)
		tx_flush(dp);
	if (super)
		ADD(dp, tx_super, 1);

	uint64_t packets = 0, bytes = 0;
	for (ptrdiff_t i = 0; i < t.n_segs; i++) {
		ptrdiff_t ilen = seg_max;
		if (super && i == t.n_segs - 1)
			ilen = t.len - i * (ptrdiff_t)t.gso_size; /* the last, maybe shorter */
		ptrdiff_t over = keel_esp_overhead(h->sa, ilen);
		if (over < 0) {
			ADD(dp, tx_errors, 1);
			continue;
		}
		/* a super-packet of many small segments may not fit at once */
		if ((tx->n_msgs == dp->batch && tx_needs_msg(tx, ilen + over)) ||
		    ARENA_LEN - tx->used <
		        seg_max + KEEL_ESP_HEADER_MAX_LEN + KEEL_ESP_TRAILER_MAX_LEN)
			tx_flush(dp);
		uint8_t *esp = tx->arena + tx->used;
		uint8_t *inner = esp + hdr;
		if (super)
			ilen = keel_tso_segment(&t, i, inner);
		else
			memcpy(inner, t.pkt, (size_t)t.len);
		ptrdiff_t len = keel_esp_encap(h->sa, inner, ilen, esp, ARENA_LEN - tx->used);
		if (len < 0) {
			if (len == KEEL_ERR_STATE) {
				uint32_t zero = 0;
				/* RFC 4303 §3.3.3: sequence numbers ran out, the caller rekeys */
				if (atomic_compare_exchange_strong(&dp->rekey_child_id, &zero,
				                                   h->child_id))
					wake(dp->event_fd);
			}
			ADD(dp, tx_errors, 1);
			continue;
		}
		tx_append(dp, len);
		packets++;
		bytes += (uint64_t)ilen;
	}
	ADD(dp, tx_packets, packets);
	ADD(dp, tx_bytes, bytes);
}

static void *tx_main(void *arg)
{
	struct keel_datapath *dp = arg;
	struct tx *tx = &dp->tx;
	uint64_t dry_since = 0;

	pthread_setname_np(pthread_self(), "keel-tx");
	if (dp->opt.pin)
		pin_self(dp->opt.tx_cpu);
	tx->gso = dp->udp_gso;
	tx_reset(tx);
	while (!atomic_load_explicit(&dp->stop, memory_order_relaxed)) {
		if (ring_pending(&dp->tx_ring))
			ring_apply(&dp->tx_ring, tx->pairs);
		bool drained = false;
		/* read until the TUN queue is empty or the batch is full */
		for (int i = 0; i < 4 * BATCH_MAX; i++) {
			ssize_t n = read(dp->tun_fd, tx->rbuf, TUN_READ_LEN);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				drained = true; /* EAGAIN; or an error we cannot act on */
				break;
			}
			dry_since = 0;
			tx_packet(dp, tx->rbuf, n);
			if (tx->n_msgs >= dp->batch)
				break;
		}
		tx_flush(dp);
		if (drained && !keep_spinning(dp, &dry_since))
			wait_readable(dp->tun_fd, dp->tx_ring.efd, POLLERR | POLLHUP | POLLNVAL);
	}
	return NULL;
}

/* ---- the receiving thread ---- */

static struct half *rx_pair(struct keel_datapath *dp, uint32_t spi)
{
	for (size_t i = 0; i < MAX_PAIRS; i++) {
		struct half *h = dp->rx.pairs[i];
		if (h && h->spi == spi)
			return h;
	}
	return NULL;
}

static void rx_write(struct keel_datapath *dp, struct iovec *iov, int n)
{
	for (;;) {
		if (writev(dp->tun_fd, iov, n) >= 0) {
			ADD(dp, rx_writes, 1);
			return;
		}
		if (errno != EINTR)
			break;
	}
	ADD(dp, rx_errors, 1);
}

/* Writes the packets gathered in this batch to the TUN device. */
static void rx_flush(struct keel_datapath *dp)
{
	struct rx *rx = &dp->rx;
	struct keel_gro *g = rx->gro;
	struct virtio_net_hdr vh;

	for (ptrdiff_t gi = 0; gi < g->n_groups; gi++) {
		if (!dp->vnet_hdr) {
			ptrdiff_t pi = g->groups[gi].first;
			struct iovec iov = {g->pkts[pi].pkt, (size_t)g->pkts[pi].len};
			rx_write(dp, &iov, 1);
			continue;
		}
		ptrdiff_t first = g->groups[gi].first;
		ptrdiff_t hlen = g->groups[gi].hlen;
		bool merged = g->groups[gi].n_segs > 1;
		if (merged)
			memcpy(rx->saved_hdr, g->pkts[first].pkt, (size_t)hlen);
		int n = keel_gro_group(g, gi, &vh, rx->wiov);
		if (writev(dp->tun_fd, rx->wiov, n) >= 0) {
			ADD(dp, rx_writes, 1);
			continue;
		}
		if (!merged) {
			ADD(dp, rx_errors, 1);
			continue;
		}
		/* the kernel refused the super-packet: restore the first header, write one by one
		 */
		rx->coalesce = false;
		memcpy(g->pkts[first].pkt, rx->saved_hdr, (size_t)hlen);
		memset(&vh, 0, sizeof(vh));
		for (ptrdiff_t pi = first; pi >= 0; pi = g->pkts[pi].next) {
			struct iovec iov[2] = {{&vh, sizeof(vh)},
			                       {g->pkts[pi].pkt, (size_t)g->pkts[pi].len}};
			rx_write(dp, iov, 2);
		}
	}
	keel_gro_init(g);
}

static void rx_ike(struct keel_datapath *dp, const uint8_t *msg, ptrdiff_t len)
{
	uint32_t h = atomic_load_explicit(&dp->ike_head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&dp->ike_tail, memory_order_acquire);
	if (h - t >= IKE_SLOTS || len > IKE_MAX) {
		ADD(dp, rx_ike_dropped, 1); /* the peer retransmits */
		return;
	}
	struct ike_slot *s = &dp->ike[h % IKE_SLOTS];
	memcpy(s->data, msg, (size_t)len);
	s->len = len;
	atomic_store_explicit(&dp->ike_head, h + 1, memory_order_release);
	dp->rx.ike_queued = true;
}

static void rx_esp(struct keel_datapath *dp, uint8_t *pkt, ptrdiff_t len)
{
	uint32_t spi;
	struct keel_esp_rx r;
	struct sel s;

	if (keel_esp_read_spi(pkt, len, &spi) < 0) {
		ADD(dp, rx_bad, 1);
		return;
	}
	struct half *h = rx_pair(dp, spi);
	if (!h && ring_pending(&dp->rx_ring)) {
		/* installed by the caller a moment ago */
		ring_apply(&dp->rx_ring, dp->rx.pairs);
		h = rx_pair(dp, spi);
	}
	if (!h) {
		ADD(dp, rx_no_sa, 1);
		return;
	}
	enum keel_esp_status st = keel_esp_decap(h->sa, pkt, len, &r);
	switch (st) {
	case KEEL_ESP_OK:
		break;
	case KEEL_ESP_DUMMY:
		return;
	case KEEL_ESP_REPLAYED:
	case KEEL_ESP_TOO_OLD:
		ADD(dp, rx_replayed, 1);
		ADD(dp, rx_bad, 1);
		return;
	case KEEL_ESP_BAD_ICV:
		ADD(dp, rx_bad_icv, 1);
		ADD(dp, rx_bad, 1);
		return;
	case KEEL_ESP_BAD_PADDING:
	case KEEL_ESP_BAD_NEXT_HEADER:
	case KEEL_ESP_MALFORMED:
	case KEEL_ESP_BAD_SPI:
	case KEEL_ESP_ERROR:
		ADD(dp, rx_bad, 1);
		return;
	}
	/* RFC 4301 §5.2 step 4: the inner packet must match the SA's selectors */
	if (!parse_sel(r.inner, r.inner_len, &s) ||
	    !ts_any(h->ts_remote, h->n_ts_remote, &s, s.src, s.sport) ||
	    !ts_any(h->ts_local, h->n_ts_local, &s, s.dst, s.dport)) {
		ADD(dp, rx_selector, 1);
		return;
	}
	ADD(dp, rx_packets, 1);
	ADD(dp, rx_bytes, (uint64_t)r.inner_len);
	struct keel_gro *g = dp->rx.gro;
	if (!dp->rx.coalesce || !dp->vnet_hdr) {
		/* every packet its own group */
		ptrdiff_t gi = g->n_groups;
		if (g->n_pkts >= KEEL_GRO_MAX_PKTS || gi >= KEEL_GRO_MAX_GROUPS)
			rx_flush(dp);
		gi = g->n_groups++;
		ptrdiff_t pi = g->n_pkts++;
		g->pkts[pi].pkt = r.inner;
		g->pkts[pi].len = r.inner_len;
		g->pkts[pi].next = -1;
		memset(&g->groups[gi], 0, sizeof(g->groups[gi]));
		g->groups[gi].first = g->groups[gi].last = pi;
		g->groups[gi].n_segs = 1;
		return;
	}
	if (!keel_gro_add(g, r.inner, r.inner_len)) {
		rx_flush(dp);
		keel_gro_add(g, r.inner, r.inner_len);
	}
}

static void rx_datagram(struct keel_datapath *dp, uint8_t *d, ptrdiff_t n)
{
	ptrdiff_t off = 0;
	switch (keel_natt_classify(d, n, &off)) {
	case KEEL_NATT_ESP:
		rx_esp(dp, d + off, n - off);
		break;
	case KEEL_NATT_IKE:
		rx_ike(dp, d + off, n - off);
		break;
	case KEEL_NATT_KEEPALIVE:
		break;
	case KEEL_NATT_INVALID:
		ADD(dp, rx_bad, 1);
		break;
	}
}

static void *rx_main(void *arg)
{
	struct keel_datapath *dp = arg;
	struct rx *rx = &dp->rx;
	int vlen = dp->udp_gro && dp->batch > RX_GRO_BATCH ? RX_GRO_BATCH : dp->batch;
	uint64_t dry_since = 0;

	pthread_setname_np(pthread_self(), "keel-rx");
	if (dp->opt.pin)
		pin_self(dp->opt.rx_cpu);
	rx->coalesce = dp->coalesce;
	keel_gro_init(rx->gro);
	for (int i = 0; i < vlen; i++)
		rx->iov[i] = (struct iovec){rx->bufs + (size_t)i * RX_BUF_LEN, RX_BUF_LEN};
	while (!atomic_load_explicit(&dp->stop, memory_order_relaxed)) {
		if (ring_pending(&dp->rx_ring))
			ring_apply(&dp->rx_ring, rx->pairs);
		for (int i = 0; i < vlen; i++) {
			struct msghdr *mh = &rx->msgs[i].msg_hdr;
			memset(mh, 0, sizeof(*mh));
			mh->msg_iov = &rx->iov[i];
			mh->msg_iovlen = 1;
			if (dp->udp_gro) {
				mh->msg_control = rx->cm[i].buf;
				mh->msg_controllen = sizeof(rx->cm[i].buf);
			}
		}
		int n = recvmmsg(dp->natt_fd, rx->msgs, (unsigned)vlen, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue; /* ECONNREFUSED: an ICMP error for an earlier datagram */
			if (!keep_spinning(dp, &dry_since))
				wait_readable(dp->natt_fd, dp->rx_ring.efd, POLLNVAL);
			continue;
		}
		dry_since = 0;
		ADD(dp, rx_datagrams, (uint64_t)n);
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &rx->msgs[i].msg_hdr;
			uint8_t *d = rx->iov[i].iov_base;
			ptrdiff_t len = rx->msgs[i].msg_len, seg = len;
			if (mh->msg_flags & MSG_TRUNC) {
				ADD(dp, rx_bad, 1);
				continue;
			}
			for (struct cmsghdr *cm = dp->udp_gro ? CMSG_FIRSTHDR(mh) : NULL; cm;
			     cm = CMSG_NXTHDR(mh, cm)) {
				int v;
				if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
				    cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
					memcpy(&v, CMSG_DATA(cm), sizeof(v));
					if (v > 0)
						seg = v;
				}
			}
			/* a GRO datagram: segments of seg bytes, the last maybe shorter */
			for (ptrdiff_t off = 0; off < len; off += seg)
				rx_datagram(dp, d + off, len - off < seg ? len - off : seg);
		}
		rx_flush(dp);
		if (rx->ike_queued) {
			rx->ike_queued = false;
			wake(dp->event_fd);
		}
	}
	return NULL;
}

/* ---- start ---- */

int keel_datapath_start(struct keel_datapath *dp)
{
	int one = 1;
	if (dp->started || dp->tun_fd < 0)
		return KEEL_ERR_STATE;
	dp->batch = dp->opt.batch ? (int)dp->opt.batch : BATCH_MAX;
	dp->coalesce = !dp->opt.no_coalesce;
	/* UDP GSO (Linux 4.18) and GRO (5.0): a socket option the kernel knows, or none */
	int v = 0;
	socklen_t vl = sizeof(v);
	dp->udp_gso =
	    !dp->opt.no_udp_gso && getsockopt(dp->natt_fd, SOL_UDP, UDP_SEGMENT, &v, &vl) == 0;
	dp->udp_gro = !dp->opt.no_udp_gro &&
	              setsockopt(dp->natt_fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	dp->started = true;
	if (pthread_create(&dp->rx_thread, NULL, rx_main, dp) != 0)
		return KEEL_ERR_NOMEM;
	dp->rx_running = true;
	if (pthread_create(&dp->tx_thread, NULL, tx_main, dp) != 0) {
		stop_threads(dp);
		return KEEL_ERR_NOMEM;
	}
	dp->tx_running = true;
	return 0;
}
