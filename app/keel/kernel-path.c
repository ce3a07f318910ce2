/* SPDX-License-Identifier: GPL-2.0-or-later */
/* keel connect's kernel data path (see kernel-path.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <keel/esp.h>

#include <keel-platform/datapath.h>

#include "kernel-path.h"

/* RFC 3948 §2.3: a NAT-keepalive after 20 s without sending anything. */
#define KEEPALIVE_NS (20ull * 1000000000ull)

struct keel_kpath {
	struct keel_xfrm *x;
	int natt_fd;
	bool keepalive; /* a pair was installed with us behind a NAT */
	uint64_t last_tx_ns;
	uint32_t *children; /* child_ids installed */
	size_t n_children;
	size_t cap_children;
	struct keel_xfrm_stats gone; /* the counters of removed pairs */
	uint32_t waiting_child;      /* a pair whose outbound SA is kept back; 0: none */
	uint32_t waiting_for;        /* ... until this pair goes */
	uint64_t waiting_until_ns;   /* ... or until then */
};

/* ---- choosing ---- */

static bool encr_is_aead(uint16_t id)
{
	/* AES-GCM-8/12/16, ChaCha20-Poly1305 */
	return id == 18 || id == 19 || id == 20 || id == 28;
}

/*
 * The probe's sentence without what the caller says itself: the test SA it
 * added ("adding the test SA (...): ") and the advice to use TUN.
 */
static void strip_advice(char *s)
{
	static const char test_sa[] = "adding the test SA (";
	char *end = strncmp(s, test_sa, sizeof(test_sa) - 1) == 0 ? strstr(s, "): ") : NULL;
	if (end)
		memmove(s, end + 3, strlen(end + 3) + 1);
	char *advice = strstr(s, "; use the TUN data path");
	if (advice) {
		char *close = strchr(advice, ')');
		char *rest = close ? close + 1 : advice + strlen(advice);
		memmove(advice, rest, strlen(rest) + 1);
	}
}

/* Probes one algorithm set: 0 (the first one's answer kept in first), or -errno and why. */
static int probe_set(const struct keel_xfrm_algs *a, char *first, size_t first_cap,
                     unsigned *checked, char *why, size_t cap)
{
	char r[256];
	int rc = keel_xfrm_probe(a, r, sizeof(r));
	if (rc < 0) {
		strip_advice(r);
		snprintf(why, cap, "%s", r);
		return rc;
	}
	if (!(*checked)++)
		snprintf(first, first_cap, "%s", r);
	return 0;
}

/*
 * Probes every algorithm set of the ESP proposals (with ah, of the AH
 * proposals: integrity alone): 0 when the kernel takes them all (why: what
 * it takes), else the first failure's -errno and why.
 */
static int probe_proposals(const struct keel_proposal *props, size_t n, bool ah,
                           enum keel_af family, char *why, size_t cap)
{
	const char *kind = ah ? "AH" : "ESP";
	char first[256] = "";
	unsigned checked = 0;
	for (size_t i = 0; i < n; i++) {
		const struct keel_proposal *p = &props[i];
		bool esn = p->n_esn > 0;
		for (size_t k = 0; k < p->n_esn; k++)
			esn &= p->esn[k] == 1; /* ESN only when the proposal leaves no choice */
		for (size_t g = 0; ah && g < p->n_integ; g++) {
			struct keel_xfrm_algs a = {
			    .family = family, .integ = p->integ[g], .esn = esn, .ah = true};
			int rc = probe_set(&a, first, sizeof(first), &checked, why, cap);
			if (rc < 0)
				return rc;
		}
		for (size_t e = 0; !ah && e < p->n_encr; e++) {
			bool aead = encr_is_aead(p->encr[e].id);
			size_t n_integ = aead ? 1 : p->n_integ;
			for (size_t g = 0; g < n_integ; g++) {
				struct keel_xfrm_algs a = {
				    .family = family,
				    .encr = p->encr[e].id,
				    .encr_key_bits = p->encr[e].key_bits,
				    .integ = aead ? 0 : p->integ[g],
				    .esn = esn,
				};
				int rc = probe_set(&a, first, sizeof(first), &checked, why, cap);
				if (rc < 0)
					return rc;
			}
		}
	}
	if (checked == 0) {
		snprintf(why, cap, "the profile's %s proposals name no algorithm to check", kind);
		return -EINVAL;
	}
	if (checked == 1)
		snprintf(why, cap, "%s", first);
	else
		snprintf(why, cap, "%s, and %u more algorithm sets of the %s proposals", first,
		         checked - 1, kind);
	return 0;
}

int keel_kpath_choose(const struct keel_profile *p, enum keel_datapath_choice cli,
                      enum keel_af family, bool *xfrm, char *why, size_t cap)
{
	struct keel_proposal defaults[KEEL_MAX_PROPOSALS];
	const struct keel_proposal *props = p->esp_proposals;
	size_t n = p->n_esp_proposals;
	const char *forced_by = NULL;
	bool want_xfrm = false, want_tun = false;
	char r[512];

	switch (cli) {
	case KEEL_DATAPATH_CHOICE_PROFILE:
		break;
	case KEEL_DATAPATH_CHOICE_AUTO:
		forced_by = "";
		break;
	case KEEL_DATAPATH_CHOICE_XFRM:
		forced_by = "--datapath xfrm";
		want_xfrm = true;
		break;
	case KEEL_DATAPATH_CHOICE_TUN:
		forced_by = "--datapath tun";
		want_tun = true;
		break;
	}
	if (!forced_by) {
		switch (p->datapath) {
		case KEEL_PROFILE_DATAPATH_AUTO:
			break;
		case KEEL_PROFILE_DATAPATH_XFRM:
			forced_by = "datapath = xfrm";
			want_xfrm = true;
			break;
		case KEEL_PROFILE_DATAPATH_TUN:
			forced_by = "datapath = tun";
			want_tun = true;
			break;
		}
	}
	bool ah = p->n_ah_proposals > 0;
	if (want_tun) {
		if (ah) {
			snprintf(why, cap,
			         "ah-proposals need the kernel data path, but %s asks for TUN "
			         "(user-space ESP has no AH)",
			         forced_by);
			return -1;
		}
		*xfrm = false;
		snprintf(why, cap, "%s", forced_by);
		return 0;
	}
	if (ah) {
		props = p->ah_proposals;
		n = p->n_ah_proposals;
	}
	if (n == 0) {
		n = keel_proposal_defaults(KEEL_PROPOSAL_ESP, defaults, KEEL_MAX_PROPOSALS);
		props = defaults;
	}
	int rc = probe_proposals(props, n, ah, family, r, sizeof(r));
	if (rc == 0) {
		*xfrm = true;
		snprintf(why, cap, "%s", r);
		return 0;
	}
	if (want_xfrm || ah) {
		snprintf(why, cap, "%s, but the kernel data path cannot be used here: %s",
		         want_xfrm ? forced_by : "ah-proposals need the kernel data path", r);
		return -1;
	}
	*xfrm = false;
	snprintf(why, cap, "%s", r);
	return 0;
}

/* ---- the path ---- */

int keel_kpath_open(struct keel_kpath **out, char *why, size_t cap)
{
	struct keel_kpath *kp = calloc(1, sizeof(*kp));
	if (!kp) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	kp->natt_fd = -1;
	int rc = keel_xfrm_open(&kp->x, why, cap);
	if (rc < 0) {
		free(kp);
		return rc;
	}
	*out = kp;
	return 0;
}

void keel_kpath_free(struct keel_kpath *kp)
{
	if (!kp)
		return;
	keel_xfrm_free(kp->x);
	free(kp->children);
	free(kp);
}

int keel_kpath_clean_stale(struct keel_kpath *kp, unsigned *n_sa, unsigned *n_pol,
                           bool *others_live)
{
	int rc = keel_xfrm_clean_stale(kp->x, n_sa, n_pol);
	if (rc < 0)
		return rc;
	struct keel_xfrm_census cs;
	rc = keel_xfrm_census(kp->x, &cs);
	if (rc < 0)
		return rc;
	*others_live = cs.sa_live > 0 || cs.pol_live > 0;
	return 0;
}

int keel_kpath_attach(struct keel_kpath *kp, int ike_fd, int natt_fd, enum keel_af family)
{
	int af = family == KEEL_AF_INET6 ? AF_INET6 : AF_INET;
	int rc;
	if (ike_fd >= 0 && (rc = keel_xfrm_socket_bypass(ike_fd, af)) < 0)
		return rc;
	if ((rc = keel_xfrm_socket_bypass(natt_fd, af)) < 0)
		return rc;
	/*
	 * Marked from the start, whether or not NAT-T will be used: IKE on this
	 * port carries the marker either way, and ESP the gateway sends before
	 * our SAs are in is dropped by the kernel instead of reaching us.
	 */
	if ((rc = keel_xfrm_udp_encap(natt_fd)) < 0)
		return rc;
	kp->natt_fd = natt_fd;
	return 0;
}

const char *keel_kpath_error(const struct keel_kpath *kp)
{
	return keel_xfrm_error(kp->x);
}

size_t keel_kpath_pairs(const struct keel_kpath *kp)
{
	return kp->n_children;
}

/* The kept-back outbound SA goes in now. */
static void activate_waiting(struct keel_kpath *kp)
{
	if (kp->waiting_child)
		keel_xfrm_activate(kp->x, kp->waiting_child); /* on failure: the remove retries */
	kp->waiting_child = kp->waiting_for = 0;
}

void keel_kpath_activate(struct keel_kpath *kp, uint32_t child_id)
{
	if (kp->waiting_child == child_id)
		activate_waiting(kp);
}

int keel_kpath_install(struct keel_kpath *kp, const struct keel_out_child_install *ci,
                       uint64_t now_ns)
{
	if (kp->n_children == kp->cap_children) {
		size_t cap = kp->cap_children ? 2 * kp->cap_children : 4;
		uint32_t *c = realloc(kp->children, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		kp->children = c;
		kp->cap_children = cap;
	}
	bool wait = ci->inbound_first && ci->rekeyed_child_id;
	if (wait)
		activate_waiting(kp); /* one at a time */
	int rc = wait ? keel_xfrm_install_inbound_first(kp->x, ci) : keel_xfrm_install(kp->x, ci);
	if (rc < 0)
		return rc;
	if (wait) {
		kp->waiting_child = ci->child_id;
		kp->waiting_for = ci->rekeyed_child_id;
		kp->waiting_until_ns = now_ns + KEEL_ANSWERED_REKEY_WAIT_NS;
	}
	kp->children[kp->n_children++] = ci->child_id;
	if (ci->encap && ci->nat_local)
		kp->keepalive = true;
	return 0;
}

static void stats_add(struct keel_xfrm_stats *sum, const struct keel_xfrm_stats *s)
{
	sum->in_bytes += s->in_bytes;
	sum->in_packets += s->in_packets;
	sum->out_bytes += s->out_bytes;
	sum->out_packets += s->out_packets;
	sum->in_replay_drops += s->in_replay_drops;
	sum->in_integrity_failures += s->in_integrity_failures;
}

int keel_kpath_remove(struct keel_kpath *kp, const struct keel_out_child_remove *cr)
{
	struct keel_xfrm_stats s;
	if (keel_xfrm_stats(kp->x, cr->child_id, &s) == 0)
		stats_add(&kp->gone, &s);
	for (size_t i = 0; i < kp->n_children; i++) {
		if (kp->children[i] == cr->child_id) {
			kp->children[i] = kp->children[--kp->n_children];
			break;
		}
	}
	/* keel_xfrm_remove() adds the outbound SA that waited for this pair */
	if (kp->waiting_for == cr->child_id || kp->waiting_child == cr->child_id)
		kp->waiting_child = kp->waiting_for = 0;
	return keel_xfrm_remove(kp->x, cr);
}

int keel_kpath_remove_all(struct keel_kpath *kp)
{
	struct keel_xfrm_stats s;
	for (size_t i = 0; i < kp->n_children; i++)
		if (keel_xfrm_stats(kp->x, kp->children[i], &s) == 0)
			stats_add(&kp->gone, &s);
	kp->n_children = 0;
	kp->waiting_child = kp->waiting_for = 0;
	return keel_xfrm_remove_all(kp->x);
}

void keel_kpath_totals(struct keel_kpath *kp, struct keel_xfrm_stats *out)
{
	struct keel_xfrm_stats s;
	*out = kp->gone;
	for (size_t i = 0; i < kp->n_children; i++)
		if (keel_xfrm_stats(kp->x, kp->children[i], &s) == 0)
			stats_add(out, &s);
}

/* ---- the NAT-T socket ---- */

void keel_kpath_natt_readable(struct keel_kpath *kp, uint8_t *buf, size_t cap,
                              keel_kpath_ike_fn ike_fn, void *ctx)
{
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(kp->natt_fd, buf, cap, 0);
		if (n < 0) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			return;
		}
		ptrdiff_t off = 0;
		/* ESP here had no SA in the kernel (yet, or any more): dropped, as by the kernel */
		if (keel_natt_classify(buf, n, &off) == KEEL_NATT_IKE)
			ike_fn(ctx, buf + off, n - off);
	}
}

int keel_kpath_send_ike(struct keel_kpath *kp, const uint8_t *msg, ptrdiff_t len, uint64_t now_ns)
{
	int rc = keel_natt_send_ike(kp->natt_fd, msg, len);
	if (rc == 0)
		kp->last_tx_ns = now_ns;
	return rc;
}

uint64_t keel_kpath_deadline(const struct keel_kpath *kp)
{
	uint64_t d = kp->keepalive ? kp->last_tx_ns + KEEPALIVE_NS : UINT64_MAX;
	if (kp->waiting_child && kp->waiting_until_ns < d)
		d = kp->waiting_until_ns;
	return d;
}

void keel_kpath_tick(struct keel_kpath *kp, uint64_t now_ns)
{
	uint8_t ka[1];
	if (kp->waiting_child && now_ns >= kp->waiting_until_ns)
		activate_waiting(kp);
	if (!kp->keepalive || now_ns < kp->last_tx_ns + KEEPALIVE_NS)
		return;
	keel_natt_write_keepalive(ka, sizeof(ka));
	/* a failed keepalive is not retried before the next interval */
	ssize_t w = send(kp->natt_fd, ka, sizeof(ka), 0);
	(void)w;
	kp->last_tx_ns = now_ns;
}
