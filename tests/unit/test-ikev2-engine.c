/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The IKEv2 initiator engine (keel/ike.h) driven through its public API with
 * a fake clock and seeded randomness, against the test gateway of
 * ikev2-gw.h: what it sends, what it hands the data path, how it fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/config.h>
#include <keel/ike.h>
#include <keel/secret.h>

#include "check.h"
#include "ikev2-gw.h"

#define MS      1000000ull
#define S       1000000000ull
#define PSK     "keel-test-psk-0123"
#define MAX_REC 512

struct rec_dgram {
	uint64_t at;
	uint16_t lport, rport;
	bool natt;
	uint8_t exchange;
	uint32_t msg_id;
	bool response;
	size_t len;
};

struct h {
	struct rng rng;
	struct keel_env env;
	struct keel_config cfg;
	struct keel_secret *psk;
	struct keel_sa *sa;
	struct gw gw;
	uint64_t now;
	int drop_to_gw;   /* drop this many of the engine's datagrams */
	int drop_from_gw; /* drop this many of the gateway's answers */
	bool hold;        /* keep the engine's datagrams in `held` instead of sending */
	uint8_t held[4][8192];
	size_t held_len[4];
	size_t n_held;

	size_t n_dgram;
	struct rec_dgram dgram[MAX_REC];
	uint8_t last_sent[8192];
	size_t last_sent_len;
	uint8_t last_recv[8192]; /* the last gateway datagram delivered */
	size_t last_recv_len;

	size_t n_states;
	enum keel_state states[64];
	enum keel_state state;
	enum keel_reason reason;
	char text[512];

	size_t n_install, n_remove;
	size_t removes_at_install[16];
	struct keel_out_child_install inst[16];
	uint8_t inst_ekey_in[16][64], inst_ekey_out[16][64], inst_akey_in[16][64],
	    inst_akey_out[16][64];
	struct keel_ts inst_ts_l[16], inst_ts_r[16];
	struct keel_out_child_remove rem[16];

	size_t n_netcfg;
	struct keel_out_netcfg netcfg;
	struct keel_addr dns[8];
	struct keel_prefix routes[64];

	size_t n_logs;
	bool leak;
	bool saw_log_level[4];
};

static bool verbose;

static void h_init(struct h *h, uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	h->rng.s = seed;
	h->env.random = rng_fill;
	h->env.random_ctx = &h->rng;
	gw_init(&h->gw, seed * 7 + 1, PSK);
	keel_config_init(&h->cfg);
	keel_addr_parse("192.0.2.2", 9, &h->cfg.local);
	h->cfg.local.port = 500;
	keel_addr_parse("192.0.2.1", 9, &h->cfg.remote);
	h->cfg.remote.port = 500;
	keel_id_from_text("alice@keel.test", &h->cfg.local_id);
	keel_id_from_text("gw.keel.test", &h->cfg.remote_id);
	h->cfg.log_level = KEEL_LOG_DEBUG;
	h->psk = keel_secret_new_from((const uint8_t *)PSK, (ptrdiff_t)strlen(PSK));
	h->cfg.psk = h->psk;
}

static void h_free(struct h *h)
{
	keel_sa_free(h->sa);
	keel_secret_free(h->psk);
	gw_free(&h->gw);
}

static void record(struct h *h, const struct keel_out *o)
{
	switch (o->kind) {
	case KEEL_OUT_DGRAM: {
		const struct keel_out_dgram *d = &o->u.dgram;
		struct keel_v2_hdr hdr;
		memset(&hdr, 0, sizeof(hdr));
		keel_v2_hdr_decode(d->data, (size_t)d->len, &hdr);
		if (h->n_dgram < MAX_REC)
			h->dgram[h->n_dgram++] = (struct rec_dgram){
			    .at = h->now,
			    .lport = d->local.port,
			    .rport = d->remote.port,
			    .natt = d->natt,
			    .exchange = hdr.exchange,
			    .msg_id = hdr.msg_id,
			    .response = (hdr.flags & KEEL_V2_FLAG_RESPONSE) != 0,
			    .len = (size_t)d->len,
			};
		if (!(d->len > 0 && (size_t)d->len <= sizeof(h->last_sent)))
			CHECK(!"datagram size");
		CHECK(d->local.family == h->cfg.local.family &&
		      d->remote.family == h->cfg.remote.family);
		if ((size_t)d->len <= sizeof(h->last_sent)) {
			memcpy(h->last_sent, d->data, (size_t)d->len);
			h->last_sent_len = (size_t)d->len;
		}
		break;
	}
	case KEEL_OUT_STATE:
		if (h->n_states < 64)
			h->states[h->n_states++] = o->u.state.state;
		h->state = o->u.state.state;
		h->reason = o->u.state.reason;
		snprintf(h->text, sizeof(h->text), "%s", o->u.state.text);
		CHECK(o->u.state.text != NULL && o->u.state.text[0] != '\0');
		if (verbose)
			printf("# [state] %s (%s): %s\n", keel_state_name(o->u.state.state),
			       keel_reason_name(o->u.state.reason), o->u.state.text);
		break;
	case KEEL_OUT_LOG:
		h->n_logs++;
		h->saw_log_level[o->u.log.level] = true;
		/* never a secret, at any level */
		if (strstr(o->u.log.text, PSK))
			h->leak = true;
		if (verbose)
			printf("# [log %d] %s\n", o->u.log.level, o->u.log.text);
		break;
	case KEEL_OUT_CHILD_INSTALL: {
		const struct keel_out_child_install *ci = &o->u.child_install;
		if (h->n_install < 16) {
			size_t i = h->n_install++;
			h->inst[i] = *ci;
			h->removes_at_install[i] = h->n_remove;
			/* AH (RFC 4302): integrity keys only */
			CHECK(ci->protocol == KEEL_PROTO_AH
			          ? ci->encr_key_len == 0 && !ci->encr_key_in &&
			                ci->integ_key_len > 0
			          : ci->encr_key_len > 0 && ci->encr_key_len <= 64);
			CHECK(ci->integ_key_len >= 0 && ci->integ_key_len <= 64);
			if (ci->encr_key_len) {
				memcpy(h->inst_ekey_in[i], ci->encr_key_in,
				       (size_t)ci->encr_key_len);
				memcpy(h->inst_ekey_out[i], ci->encr_key_out,
				       (size_t)ci->encr_key_len);
			}
			if (ci->integ_key_len) {
				memcpy(h->inst_akey_in[i], ci->integ_key_in,
				       (size_t)ci->integ_key_len);
				memcpy(h->inst_akey_out[i], ci->integ_key_out,
				       (size_t)ci->integ_key_len);
			}
			CHECK(ci->n_ts_local >= 1 && ci->n_ts_remote >= 1);
			if (ci->n_ts_local)
				h->inst_ts_l[i] = ci->ts_local[0];
			if (ci->n_ts_remote)
				h->inst_ts_r[i] = ci->ts_remote[0];
		}
		break;
	}
	case KEEL_OUT_CHILD_REMOVE:
		if (h->n_remove < 16)
			h->rem[h->n_remove++] = o->u.child_remove;
		break;
	case KEEL_OUT_CHILD_ACTIVATE:
		CHECK(!"IKEv2 leaves activation to the gateway's DELETE");
		break;
	case KEEL_OUT_NETCFG:
		h->n_netcfg++;
		h->netcfg = o->u.netcfg;
		CHECK(o->u.netcfg.n_dns <= 8 && o->u.netcfg.n_routes <= 64);
		memcpy(h->dns, o->u.netcfg.dns, o->u.netcfg.n_dns * sizeof(struct keel_addr));
		memcpy(h->routes, o->u.netcfg.routes,
		       o->u.netcfg.n_routes * sizeof(struct keel_prefix));
		h->netcfg.dns = h->dns;
		h->netcfg.routes = h->routes;
		break;
	}
}

static int deliver(struct h *h, const uint8_t *data, size_t len)
{
	struct keel_dgram d;
	memset(&d, 0, sizeof(d));
	d.local = h->cfg.local;
	d.remote = h->cfg.remote;
	/* the gateway answers to the port the engine used last */
	if (h->n_dgram) {
		d.local.port = h->dgram[h->n_dgram - 1].lport;
		d.remote.port = h->dgram[h->n_dgram - 1].rport;
	}
	d.data = data;
	d.len = (ptrdiff_t)len;
	if (len <= sizeof(h->last_recv)) {
		memcpy(h->last_recv, data, len);
		h->last_recv_len = len;
	}
	return keel_sa_recv(h->sa, &d, h->now);
}

/* Drains the engine, lets the gateway answer, feeds the answers back, until quiet. */
static void pump(struct h *h)
{
	static uint8_t answers[8][8192];
	size_t answer_len[8];
	for (int round = 0; round < 100; round++) {
		size_t n = 0;
		struct keel_out o;
		while (keel_sa_pop(h->sa, &o)) {
			record(h, &o);
			if (o.kind != KEEL_OUT_DGRAM)
				continue;
			if (h->hold) {
				if (h->n_held < 4) {
					memcpy(h->held[h->n_held], o.u.dgram.data,
					       (size_t)o.u.dgram.len);
					h->held_len[h->n_held++] = (size_t)o.u.dgram.len;
				}
				continue;
			}
			if (h->drop_to_gw > 0) {
				h->drop_to_gw--;
				continue;
			}
			size_t a = gw_input(&h->gw, o.u.dgram.data, (size_t)o.u.dgram.len,
			                    answers[n < 8 ? n : 7], sizeof(answers[0]));
			if (a == 0)
				continue;
			if (h->drop_from_gw > 0) {
				h->drop_from_gw--;
				continue;
			}
			if (n < 8)
				answer_len[n++] = a;
		}
		if (n == 0)
			return;
		for (size_t i = 0; i < n; i++)
			deliver(h, answers[i], answer_len[i]);
	}
	CHECK(!"pump did not settle");
}

/* A gateway request delivered to the engine, then everything pumped. */
static int gw_says(struct h *h, const uint8_t *msg, size_t len)
{
	int rc = deliver(h, msg, len);
	pump(h);
	return rc;
}

static void start(struct h *h)
{
	CHECK_INT(keel_sa_new(&h->cfg, &h->env, &h->sa), 0);
	CHECK_INT(keel_sa_start(h->sa, h->now), 0);
	pump(h);
}

/* Runs the clock to each deadline (ticking) until `until`, pumping as it goes. */
static void run_until(struct h *h, uint64_t until)
{
	for (int i = 0; i < 10000; i++) {
		uint64_t d = keel_sa_deadline(h->sa);
		if (d == UINT64_MAX || d > until)
			break;
		if (d > h->now)
			h->now = d;
		keel_sa_tick(h->sa, h->now);
		pump(h);
		if (h->state == KEEL_STATE_FAILED || h->state == KEEL_STATE_CLOSED)
			return;
	}
	if (until > h->now && until != UINT64_MAX)
		h->now = until;
}

static bool contains(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

/* ---- the tests ---- */

static void test_connect_and_stop(void)
{
	struct h *h = calloc(1, sizeof(*h));
	h_init(h, 1);
	start(h);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(contains(h->text, "100.64.0.2"));
	CHECK(h->gw.auth_ok);
	CHECK(h->gw.saw_initial_contact);
	CHECK(h->gw.saw_cp);
	CHECK(h->gw.saw_idr);
	CHECK(h->gw.natd_src_ok);
	/* connecting, IKE_SA_INIT, authenticating, established */
	CHECK_INT(h->n_states, 4);
	CHECK_INT(h->states[0], KEEL_STATE_CONNECTING);
	CHECK_INT(h->states[1], KEEL_STATE_IKE_SA_INIT);
	CHECK_INT(h->states[2], KEEL_STATE_AUTHENTICATING);
	CHECK_INT(h->states[3], KEEL_STATE_ESTABLISHED);
	/* no NAT: everything on port 500, no marker */
	CHECK_INT(h->n_dgram, 2);
	CHECK_INT(h->dgram[0].exchange, KEEL_V2_EXCHANGE_IKE_SA_INIT);
	CHECK_INT(h->dgram[1].exchange, KEEL_V2_EXCHANGE_IKE_AUTH);
	CHECK_INT(h->dgram[1].msg_id, 1);
	CHECK_INT(h->dgram[1].lport, 500);
	CHECK(!h->dgram[1].natt);

	/* the CHILD SA: the gateway derived the same keys, independently */
	CHECK_INT(h->n_install, 1);
	struct keel_out_child_install *ci = &h->inst[0];
	struct gw_child *gc = &h->gw.child[0];
	CHECK(gc->used);
	CHECK_INT(ci->spi_in, gc->spi_cl);
	CHECK_INT(ci->spi_out, gc->spi_gw);
	CHECK_INT(ci->protocol, KEEL_PROTO_ESP);
	CHECK_INT(ci->encr, KEEL_V2_ENCR_AES_GCM_16);
	CHECK_INT(ci->encr_key_bits, 256);
	CHECK_INT(ci->encr_key_len, 36);
	CHECK_INT(ci->integ, 0);
	CHECK_MEM(h->inst_ekey_out[0], (size_t)ci->encr_key_len, gc->encr_to_gw, gc->encr_len);
	CHECK_MEM(h->inst_ekey_in[0], (size_t)ci->encr_key_len, gc->encr_to_cl, gc->encr_len);
	CHECK(!ci->encap);
	CHECK_INT(ci->reqid, 1);
	CHECK(ci->child_id != 0);
	CHECK_INT(ci->rekeyed_child_id, 0);
	char t[64];
	keel_ts_to_text(&h->inst_ts_l[0], t, sizeof(t));
	CHECK(strcmp(t, "100.64.0.2/32") == 0);
	keel_ts_to_text(&h->inst_ts_r[0], t, sizeof(t));
	CHECK(strcmp(t, "198.51.100.0/24") == 0);

	/* network configuration */
	CHECK_INT(h->n_netcfg, 1);
	CHECK(h->netcfg.has_ip4);
	keel_addr_format(KEEL_AF_INET, h->netcfg.ip4.addr.bytes, t, sizeof(t));
	CHECK(strcmp(t, "100.64.0.2") == 0);
	CHECK_INT(h->netcfg.ip4.prefix_len, 24);
	CHECK_INT(h->netcfg.n_dns, 1);
	keel_addr_format(KEEL_AF_INET, h->dns[0].bytes, t, sizeof(t));
	CHECK(strcmp(t, "198.51.100.53") == 0);
	CHECK_INT(h->netcfg.n_routes, 2);
	keel_addr_format(KEEL_AF_INET, h->routes[0].addr.bytes, t, sizeof(t));
	CHECK(strcmp(t, "198.51.100.0") == 0 && h->routes[0].prefix_len == 24);
	keel_addr_format(KEEL_AF_INET, h->routes[1].addr.bytes, t, sizeof(t));
	CHECK(strcmp(t, "203.0.113.0") == 0 && h->routes[1].prefix_len == 24);

	/* liveness check scheduled: 30 s after the last message */
	CHECK(keel_sa_deadline(h->sa) == h->now + 30 * S);

	/* stop: DELETE of the IKE SA, CHILD removed, closed */
	h->now += 1 * S;
	CHECK_INT(keel_sa_stop(h->sa, h->now), 0);
	pump(h);
	CHECK_INT(h->gw.deleted_ike, 1);
	CHECK_INT(h->dgram[h->n_dgram - 1].exchange, KEEL_V2_EXCHANGE_INFORMATIONAL);
	CHECK_INT(h->dgram[h->n_dgram - 1].msg_id, 2);
	CHECK_INT(h->n_remove, 1);
	CHECK_INT(h->rem[0].spi_in, ci->spi_in);
	CHECK_INT(h->rem[0].reason, KEEL_REASON_USER);
	CHECK_INT(h->state, KEEL_STATE_CLOSED);
	CHECK_INT(h->reason, KEEL_REASON_USER);
	CHECK_INT(h->states[h->n_states - 2], KEEL_STATE_CLOSING);
	CHECK(keel_sa_deadline(h->sa) == UINT64_MAX);
	CHECK_INT(keel_sa_tick(h->sa, h->now), KEEL_ERR_STATE);
	CHECK_INT(keel_sa_stop(h->sa, h->now), KEEL_ERR_STATE);
	CHECK_INT(keel_sa_state(h->sa), KEEL_STATE_CLOSED);
	CHECK(!h->leak);
	h_free(h);
	free(h);
}

/* Drains outputs; returns how many were not log lines. */
static size_t drain_quiet(struct h *h)
{
	struct keel_out o;
	size_t n = 0;
	while (keel_sa_pop(h->sa, &o)) {
		record(h, &o);
		if (o.kind != KEEL_OUT_LOG)
			n++;
	}
	return n;
}

static struct h *fresh(uint64_t seed)
{
	struct h *h = calloc(1, sizeof(*h));
	h_init(h, seed);
	return h;
}

static void done(struct h *h)
{
	CHECK(!h->leak);
	h_free(h);
	free(h);
}

static void test_force_encap(void)
{
	struct h *h = fresh(2);
	h->cfg.force_encap = true;
	start(h);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	/* our NAT_DETECTION_SOURCE_IP cannot match: the gateway sees a NAT */
	CHECK(!h->gw.natd_src_ok);
	CHECK_INT(h->dgram[0].lport, 500);
	CHECK(!h->dgram[0].natt);
	/* RFC 7296 §2.23: IKE_AUTH and everything after on the NAT-T ports, with the marker */
	CHECK_INT(h->dgram[1].lport, 4500);
	CHECK_INT(h->dgram[1].rport, 4500);
	CHECK(h->dgram[1].natt);
	CHECK_INT(h->n_install, 1);
	CHECK(h->inst[0].encap);
	CHECK_INT(h->inst[0].local.port, 4500);
	CHECK_INT(h->inst[0].remote.port, 4500);
	keel_sa_stop(h->sa, h->now);
	pump(h);
	CHECK_INT(h->dgram[h->n_dgram - 1].lport, 4500);
	CHECK_INT(h->state, KEEL_STATE_CLOSED);
	done(h);
}

static void test_nat_detected(void)
{
	struct h *h = fresh(3);
	h->gw.fake_nat = true; /* the gateway saw another source than we sent from */
	start(h);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(h->gw.natd_src_ok);
	CHECK_INT(h->dgram[1].lport, 4500);
	CHECK(h->inst[0].encap);
	CHECK(h->inst[0].nat_local);
	done(h);

	/* a gateway without NAT-T: no move, even when forced (with a warning) */
	h = fresh(4);
	h->gw.no_natd = true;
	h->cfg.force_encap = true;
	start(h);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->dgram[1].lport, 500);
	CHECK(!h->inst[0].encap);
	CHECK(h->saw_log_level[KEEL_LOG_WARN]);
	done(h);
}

static void test_retransmit_schedule(void)
{
	/* strongSwan's defaults: 4 s x 1.8^n, 5 retransmissions, then give up */
	struct h *h = fresh(5);
	h->gw.silent = true;
	start(h);
	run_until(h, UINT64_MAX);
	static const uint64_t at_ms[] = {0, 4000, 11200, 24160, 47488, 89478};
	CHECK_INT(h->n_dgram, 6);
	for (size_t i = 0; i < 6 && i < h->n_dgram; i++) {
		CHECK_INT(h->dgram[i].at, at_ms[i] * MS);
		CHECK_INT(h->dgram[i].exchange, KEEL_V2_EXCHANGE_IKE_SA_INIT);
		CHECK_INT(h->dgram[i].msg_id, 0);
	}
	CHECK_INT(h->now, (89478 + 75582) * MS);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_TIMEOUT);
	CHECK(contains(h->text, "did not answer after 6 tries"));
	CHECK(keel_sa_deadline(h->sa) == UINT64_MAX);
	done(h);

	/* small test values: 100 ms x 2, 2 retransmissions, capped at 300 ms */
	h = fresh(6);
	h->gw.silent = true;
	h->cfg.retransmit_timeout_ms = 100;
	h->cfg.retransmit_factor_permille = 2000;
	h->cfg.retransmit_tries = 3;
	h->cfg.retransmit_limit_ms = 300;
	h->now = 1000 * S;
	start(h);
	run_until(h, UINT64_MAX);
	CHECK_INT(h->n_dgram, 4);
	CHECK_INT(h->dgram[1].at - h->dgram[0].at, 100 * MS);
	CHECK_INT(h->dgram[2].at - h->dgram[1].at, 200 * MS);
	CHECK_INT(h->dgram[3].at - h->dgram[2].at, 300 * MS);
	CHECK_INT(h->now - h->dgram[3].at, 300 * MS);
	CHECK_INT(h->reason, KEEL_REASON_TIMEOUT);
	done(h);

	/* ticking early or twice changes nothing */
	h = fresh(7);
	h->gw.silent = true;
	start(h);
	keel_sa_tick(h->sa, 1 * S);
	keel_sa_tick(h->sa, 1 * S);
	pump(h);
	CHECK_INT(h->n_dgram, 1);
	keel_sa_tick(h->sa, 4 * S);
	pump(h);
	CHECK_INT(h->n_dgram, 2);
	done(h);
}

static void test_lost_replies(void)
{
	/* the IKE_SA_INIT answer is lost: resent after 4 s, answered again */
	struct h *h = fresh(8);
	h->drop_from_gw = 1;
	start(h);
	CHECK_INT(h->state, KEEL_STATE_IKE_SA_INIT);
	run_until(h, 5 * S);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.n_init, 1); /* the gateway answered the retransmission from memory */
	done(h);

	/* the IKE_AUTH answer is lost: the gateway answers the retransmission from its cache */
	h = fresh(9);
	h->now = 50 * S;
	CHECK_INT(keel_sa_new(&h->cfg, &h->env, &h->sa), 0);
	keel_sa_start(h->sa, h->now);
	/* let IKE_SA_INIT through, lose the answer to IKE_AUTH */
	struct keel_out o;
	static uint8_t ans[8192];
	while (keel_sa_pop(h->sa, &o)) {
		record(h, &o);
		if (o.kind == KEEL_OUT_DGRAM) {
			size_t n = gw_input(&h->gw, o.u.dgram.data, (size_t)o.u.dgram.len, ans,
			                    sizeof(ans));
			deliver(h, ans, n);
			break;
		}
	}
	h->drop_from_gw = 1;
	pump(h);
	CHECK_INT(h->state, KEEL_STATE_AUTHENTICATING);
	CHECK_INT(h->gw.n_auth, 1);
	run_until(h, h->now + 5 * S);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.n_auth, 1);
	CHECK_INT(h->dgram[h->n_dgram - 1].exchange, KEEL_V2_EXCHANGE_IKE_AUTH);
	CHECK_INT(h->dgram[h->n_dgram - 1].at, 54 * S);
	done(h);
}

static void test_invalid_ke(void)
{
	/* the gateway wants ECP-256 (offered second): one retry with it */
	struct h *h = fresh(10);
	h->gw.want_group = KEEL_V2_DH_ECP256;
	start(h);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.n_init, 2);
	CHECK_INT(h->gw.ke_group_seen, KEEL_V2_DH_ECP256);
	CHECK_INT(h->dgram[1].exchange, KEEL_V2_EXCHANGE_IKE_SA_INIT);
	CHECK_INT(h->dgram[1].msg_id, 0);
	done(h);

	/* a late copy of the INVALID_KE answer, after we followed it, changes nothing */
	static uint8_t a1[8192], a2[8192];
	h = fresh(19);
	h->gw.want_group = KEEL_V2_DH_ECP256;
	h->hold = true;
	start(h);
	size_t n1 = gw_input(&h->gw, h->held[0], h->held_len[0], a1, sizeof(a1));
	CHECK(n1 > 0);
	deliver(h, a1, n1);
	pump(h);
	CHECK_INT(h->n_held, 2);
	CHECK_INT(deliver(h, a1, n1), 0);
	CHECK_INT(drain_quiet(h), 0);
	CHECK_INT(h->state, KEEL_STATE_IKE_SA_INIT);
	h->hold = false;
	size_t n2 = gw_input(&h->gw, h->held[1], h->held_len[1], a2, sizeof(a2));
	gw_says(h, a2, n2);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);

	/* a group we never offered: failed, and the reason says what we offered */
	h = fresh(11);
	h->gw.want_group = KEEL_V2_DH_ECP384;
	start(h);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_NO_PROPOSAL);
	CHECK(contains(h->text, "we offered: aes256gcm16"));
	CHECK_INT(h->gw.n_init, 1);
	done(h);
}

static void test_cookie(void)
{
	struct h *h = fresh(12);
	h->gw.want_cookie = true;
	start(h);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->gw.n_init, 2);
	CHECK_INT(h->gw.n_cookie_seen, 1);
	CHECK(h->gw.auth_ok); /* AUTH signs the request that carried the cookie */
	done(h);
}

static void test_no_proposal(void)
{
	struct h *h = fresh(13);
	h->gw.no_proposal = true;
	h->cfg.n_ike_proposals = 1;
	CHECK_INT(keel_proposal_from_text("aes128-sha256-modp3072", KEEL_PROPOSAL_IKE,
	                                  &h->cfg.ike_proposals[0], NULL),
	          0);
	start(h);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_NO_PROPOSAL);
	CHECK(contains(h->text, "accepted none of our IKE proposals"));
	CHECK(contains(h->text, "aes128-sha256-prfsha256-modp3072"));
	done(h);
}

static void test_auth_failures(void)
{
	/* the gateway refuses us */
	struct h *h = fresh(14);
	h->gw.auth_notify = KEEL_V2_N_AUTHENTICATION_FAILED;
	start(h);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_AUTH_REFUSED);
	CHECK(contains(h->text, "refused our PSK or identity"));
	CHECK_INT(h->n_install, 0);
	done(h);

	/* a wrong PSK on our side: the gateway's check fails, same answer */
	h = fresh(15);
	snprintf(h->gw.psk, sizeof(h->gw.psk), "another-psk");
	start(h);
	CHECK(!h->gw.auth_ok);
	CHECK_INT(h->reason, KEEL_REASON_AUTH_REFUSED);
	done(h);

	/* the gateway's proof is wrong: we refuse it and delete the IKE SA */
	h = fresh(16);
	h->gw.bad_auth = true;
	start(h);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_PEER_AUTH);
	CHECK(contains(h->text, "PSK proof did not match (wrong PSK?)"));
	CHECK_INT(h->n_install, 0);
	CHECK_INT(h->gw.deleted_ike, 1);
	done(h);

	/* the gateway is not who we asked for */
	h = fresh(17);
	h->gw.wrong_idr = true;
	start(h);
	CHECK_INT(h->reason, KEEL_REASON_PEER_ID);
	CHECK(contains(h->text, "\"evil.example\""));
	CHECK(contains(h->text, "\"gw.keel.test\""));
	done(h);

	/* an authentic IKE_AUTH answer that does not parse: failed, not retried forever */
	static uint8_t a[8192];
	h = fresh(19);
	h->hold = true;
	start(h);
	size_t n = gw_input(&h->gw, h->held[0], h->held_len[0], a, sizeof(a));
	gw_says(h, a, n);
	CHECK_INT(h->state, KEEL_STATE_AUTHENTICATING);
	struct gw_wr gb;
	struct gw_ike *gi = &h->gw.ike[0];
	gw_begin(&h->gw, &gb, gi, gi->spi_i, gi->spi_r, KEEL_V2_EXCHANGE_IKE_AUTH, true, 1, true, a,
	         sizeof(a));
	h->gw.pl.u.nonce = (struct keel_v2_bytes){(const uint8_t *)"abc", 3};
	gw_add(&h->gw, &gb, KEEL_V2_PAYLOAD_NONCE);
	n = gw_end(&h->gw, &gb);
	CHECK_INT(deliver(h, a, n), KEEL_ERR_MALFORMED);
	drain_quiet(h);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_PROTOCOL);
	done(h);

	/* no remote identity configured: none sent, any accepted */
	h = fresh(18);
	h->cfg.remote_id.type = KEEL_ID_NONE;
	h->gw.wrong_idr = true;
	start(h);
	CHECK(!h->gw.saw_idr);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);
}

static void test_child_refused(void)
{
	static const struct {
		uint16_t notify;
		enum keel_reason reason;
		const char *text;
	} cases[] = {
	    {KEEL_V2_N_TS_UNACCEPTABLE, KEEL_REASON_TS_UNACCEPTABLE, "TS_UNACCEPTABLE"},
	    {KEEL_V2_N_FAILED_CP_REQUIRED, KEEL_REASON_CP_REQUIRED, "FAILED_CP_REQUIRED"},
	    {KEEL_V2_N_INTERNAL_ADDRESS_FAILURE, KEEL_REASON_NO_ADDRESS, "no virtual IP"},
	    {KEEL_V2_N_NO_PROPOSAL_CHOSEN, KEEL_REASON_NO_PROPOSAL, "none of our ESP proposals"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct h *h = fresh(20 + i);
		h->gw.auth_notify = cases[i].notify;
		start(h);
		CHECK_INT(h->state, KEEL_STATE_FAILED);
		CHECK_INT(h->reason, cases[i].reason);
		CHECK(contains(h->text, cases[i].text));
		CHECK_INT(h->n_install, 0);
		/* the IKE SA was up: we deleted it */
		CHECK_INT(h->gw.deleted_ike, 1);
		done(h);
	}
}

/*
 * Everything broken that can be made of a genuine message: every truncation,
 * every single-bit change (step apart), garbage. None may change the state or
 * produce anything but log lines; returns false if one did.
 */
static bool reject_all(struct h *h, const uint8_t *msg, size_t len, size_t step, bool flips)
{
	static uint8_t buf[8192];
	enum keel_state before = keel_sa_state(h->sa);
	bool ok = true;
	for (size_t n = 0; n < len; n++) {
		memcpy(buf, msg, n);
		int rc = deliver(h, buf, n);
		ok &= rc < 0 && drain_quiet(h) == 0;
	}
	for (size_t pos = 0; flips && pos < len; pos += step) {
		memcpy(buf, msg, len);
		buf[pos] ^= (uint8_t)(1u << (pos % 8));
		int rc = deliver(h, buf, len);
		ok &= rc < 0 && drain_quiet(h) == 0;
	}
	struct rng r = {.s = len};
	for (int i = 0; i < 200; i++) {
		size_t n = 1 + (size_t)(i * 37) % 600;
		rng_fill(&r, buf, n);
		if (i % 3 == 0 && n >= 28) {
			/* garbage behind a plausible header */
			memcpy(buf, msg, 28 < len ? 28 : len);
			buf[24] = (uint8_t)(n >> 24);
			buf[25] = (uint8_t)(n >> 16);
			buf[26] = (uint8_t)(n >> 8);
			buf[27] = (uint8_t)n;
		}
		int rc = deliver(h, buf, n);
		ok &= rc < 0 && drain_quiet(h) == 0;
	}
	ok &= keel_sa_state(h->sa) == before;
	return ok;
}

static void test_garbage(void)
{
	static uint8_t req[8192], ans[8192];
	struct h *h = fresh(30);
	struct keel_out o;

	/* not started yet */
	CHECK_INT(keel_sa_new(&h->cfg, &h->env, &h->sa), 0);
	CHECK_INT(deliver(h, (const uint8_t *)"garbage", 7), KEEL_ERR_STATE);
	CHECK_INT(keel_sa_tick(h->sa, 0), KEEL_ERR_STATE);

	/* waiting for IKE_SA_INIT's answer */
	keel_sa_start(h->sa, h->now);
	size_t req_len = 0, ans_len;
	while (keel_sa_pop(h->sa, &o)) {
		record(h, &o);
		if (o.kind == KEEL_OUT_DGRAM) {
			req_len = (size_t)o.u.dgram.len;
			memcpy(req, o.u.dgram.data, req_len);
		}
	}
	ans_len = gw_input(&h->gw, req, req_len, ans, sizeof(ans));
	CHECK(ans_len > 0);
	CHECK(reject_all(h, ans, ans_len, 1, false));
	CHECK_INT(deliver(h, ans, ans_len), 0);

	/* waiting for IKE_AUTH's answer: nothing unauthenticated gets in */
	req_len = 0;
	while (keel_sa_pop(h->sa, &o)) {
		record(h, &o);
		if (o.kind == KEEL_OUT_DGRAM) {
			req_len = (size_t)o.u.dgram.len;
			memcpy(req, o.u.dgram.data, req_len);
		}
	}
	CHECK_INT(h->state, KEEL_STATE_AUTHENTICATING);
	ans_len = gw_input(&h->gw, req, req_len, ans, sizeof(ans));
	CHECK(ans_len > 0);
	CHECK(reject_all(h, ans, ans_len, 1, true));
	/* the IKE_SA_INIT answer again: a duplicate, dropped */
	CHECK_INT(deliver(h, h->gw.msg2, h->gw.msg2_len), KEEL_ERR_STATE);
	CHECK_INT(drain_quiet(h), 0);
	CHECK_INT(deliver(h, ans, ans_len), 0);
	pump(h);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);

	/* established: a broken request from the gateway gets no answer */
	size_t n = gw_request_info(&h->gw, false, 0, ans, sizeof(ans));
	size_t sent = h->n_dgram;
	CHECK(reject_all(h, ans, n, 3, true));
	CHECK_INT(h->n_dgram, sent);
	CHECK_INT(gw_says(h, ans, n), 0);
	CHECK_INT(h->n_dgram, sent + 1);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);

	/* changed IKE_SA_INIT answers (unauthenticated): any outcome, but a clean one */
	for (size_t pos = 0; pos < 400; pos += 11) {
		h = fresh(31);
		CHECK_INT(keel_sa_new(&h->cfg, &h->env, &h->sa), 0);
		keel_sa_start(h->sa, h->now);
		while (keel_sa_pop(h->sa, &o))
			if (o.kind == KEEL_OUT_DGRAM) {
				req_len = (size_t)o.u.dgram.len;
				memcpy(req, o.u.dgram.data, req_len);
			}
		ans_len = gw_input(&h->gw, req, req_len, ans, sizeof(ans));
		if (pos < ans_len)
			ans[pos] ^= 0x5a;
		deliver(h, ans, ans_len);
		pump(h);
		run_until(h, h->now + 200 * S);
		CHECK(h->state == KEEL_STATE_ESTABLISHED || h->state == KEEL_STATE_FAILED);
		done(h);
	}
}

static void test_duplicates_and_ids(void)
{
	static uint8_t a[8192], b[8192];
	struct h *h = fresh(32);
	start(h);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	/* the IKE_AUTH answer again: no request is waiting for it */
	uint8_t auth_ans[8192];
	size_t auth_ans_len = h->last_recv_len;
	memcpy(auth_ans, h->last_recv, auth_ans_len);
	CHECK_INT(deliver(h, auth_ans, auth_ans_len), KEEL_ERR_STATE);
	CHECK_INT(drain_quiet(h), 0);

	/* the gateway's liveness check, twice: the same answer twice, one state change */
	size_t n = gw_request_info(&h->gw, false, 0, a, sizeof(a));
	size_t sent = h->n_dgram;
	CHECK_INT(deliver(h, a, n), 0);
	struct keel_out o;
	size_t first_len = 0;
	while (keel_sa_pop(h->sa, &o)) {
		record(h, &o);
		if (o.kind == KEEL_OUT_DGRAM) {
			first_len = (size_t)o.u.dgram.len;
			memcpy(b, o.u.dgram.data, first_len);
		}
	}
	CHECK_INT(h->n_dgram, sent + 1);
	CHECK(h->dgram[sent].response);
	CHECK_INT(h->dgram[sent].msg_id, 0);
	CHECK_INT(deliver(h, a, n), 0);
	drain_quiet(h);
	CHECK_INT(h->n_dgram, sent + 2);
	CHECK_MEM(h->last_sent, h->last_sent_len, b, first_len);

	/* a request from the future, and one from the past: dropped */
	h->gw.ike[h->gw.cur].next_req = 7;
	n = gw_request_info(&h->gw, false, 0, a, sizeof(a));
	CHECK_INT(deliver(h, a, n), KEEL_ERR_STATE);
	CHECK_INT(drain_quiet(h), 0);
	h->gw.ike[h->gw.cur].next_req = 0;
	n = gw_request_info(&h->gw, false, 0, a, sizeof(a));
	CHECK_INT(deliver(h, a, n), 0); /* msg 0 again: answered from the cache */
	drain_quiet(h);
	CHECK_MEM(h->last_sent, h->last_sent_len, b, first_len);

	/* authentic but unparsable: INVALID_SYNTAX, and the window moves on */
	h->gw.ike[h->gw.cur].next_req = 1;
	struct gw_wr gb;
	struct gw_ike *gi = &h->gw.ike[h->gw.cur];
	gw_begin(&h->gw, &gb, gi, gi->spi_i, gi->spi_r, KEEL_V2_EXCHANGE_INFORMATIONAL, false, 1,
	         true, a, sizeof(a));
	/* a nonce of 3 bytes: well formed, semantically wrong (RFC 7296 §3.9) */
	h->gw.pl.u.nonce = (struct keel_v2_bytes){(const uint8_t *)"abc", 3};
	gw_add(&h->gw, &gb, KEEL_V2_PAYLOAD_NONCE);
	h->gw.ike[h->gw.cur].next_req = 2;
	n = gw_end(&h->gw, &gb);
	CHECK_INT(gw_says(h, a, n), KEEL_ERR_MALFORMED);
	CHECK_INT(h->gw.resp_id_seen, 1);
	CHECK_INT(h->gw.resp_notify, KEEL_V2_N_INVALID_SYNTAX);

	/* the next one in order is answered */
	n = gw_request_info(&h->gw, false, 0, a, sizeof(a));
	CHECK_INT(gw_says(h, a, n), 0);
	CHECK_INT(h->gw.resp_id_seen, 2);
	CHECK_INT(h->gw.resp_notify, 0);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);
}

static void test_dpd(void)
{
	static uint8_t a[8192];
	struct h *h = fresh(33);
	start(h);
	uint64_t t0 = h->now;
	/* nothing heard for 30 s: an empty INFORMATIONAL, answered */
	run_until(h, t0 + 30 * S);
	CHECK_INT(h->n_dgram, 3);
	CHECK_INT(h->dgram[2].at, t0 + 30 * S);
	CHECK_INT(h->dgram[2].exchange, KEEL_V2_EXCHANGE_INFORMATIONAL);
	CHECK_INT(h->dgram[2].msg_id, 2);
	CHECK_INT(h->gw.n_info, 1);
	CHECK_INT(keel_sa_deadline(h->sa), t0 + 60 * S);

	/* the gateway's own check at +50 s counts as hearing from it */
	h->now = t0 + 50 * S;
	size_t n = gw_request_info(&h->gw, false, 0, a, sizeof(a));
	gw_says(h, a, n);
	CHECK_INT(keel_sa_deadline(h->sa), t0 + 80 * S);

	/* then it goes silent: checked at +80 s, retransmitted, declared dead */
	h->gw.silent = true;
	run_until(h, UINT64_MAX);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_DEAD_PEER);
	CHECK(contains(h->text, "stopped answering (dead peer)"));
	CHECK_INT(h->now, t0 + 80 * S + 165060 * MS);
	CHECK_INT(h->n_remove, 1);
	CHECK_INT(h->rem[0].reason, KEEL_REASON_DEAD_PEER);
	done(h);

	/* dpd off: nothing scheduled once established */
	h = fresh(34);
	h->cfg.dpd_interval_ms = 0;
	h->cfg.ike_lifetime.life_s = 0;
	h->cfg.child_lifetime.life_s = 0;
	start(h);
	CHECK(keel_sa_deadline(h->sa) == UINT64_MAX);
	done(h);
}

static void test_gateway_deletes(void)
{
	static uint8_t a[8192];
	/* the gateway deletes the IKE SA */
	struct h *h = fresh(35);
	start(h);
	size_t n = gw_request_info(&h->gw, true, 0, a, sizeof(a));
	gw_says(h, a, n);
	CHECK_INT(h->gw.resp_id_seen, 0);
	CHECK_INT(h->state, KEEL_STATE_CLOSED);
	CHECK_INT(h->reason, KEEL_REASON_PEER_DELETE);
	CHECK(contains(h->text, "the gateway closed the connection"));
	CHECK_INT(h->n_remove, 1);
	CHECK_INT(h->rem[0].reason, KEEL_REASON_PEER_DELETE);
	done(h);

	/* the gateway deletes the only CHILD SA: we answer with ours, then give up */
	h = fresh(36);
	start(h);
	uint32_t spi_in = h->inst[0].spi_in;
	n = gw_request_info(&h->gw, false, h->gw.child[0].spi_gw, a, sizeof(a));
	gw_says(h, a, n);
	CHECK_INT(h->n_remove, 1);
	CHECK_INT(h->rem[0].spi_in, spi_in);
	CHECK_INT(h->rem[0].reason, KEEL_REASON_PEER_DELETE);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_PEER_DELETE);
	CHECK(contains(h->text, "closed the tunnel"));
	CHECK_INT(h->gw.deleted_ike, 1);
	done(h);
}

static void test_stop(void)
{
	/* the gateway never confirms: closed after delete_timeout_ms */
	struct h *h = fresh(37);
	start(h);
	h->gw.silent = true;
	uint64_t t0 = h->now;
	CHECK_INT(keel_sa_stop(h->sa, t0), 0);
	pump(h);
	CHECK_INT(h->state, KEEL_STATE_CLOSING);
	CHECK_INT(h->n_remove, 1);
	CHECK(keel_sa_deadline(h->sa) <= t0 + 3 * S);
	CHECK_INT(keel_sa_stop(h->sa, t0), KEEL_ERR_STATE);
	run_until(h, UINT64_MAX);
	CHECK_INT(h->state, KEEL_STATE_CLOSED);
	CHECK_INT(h->reason, KEEL_REASON_USER);
	CHECK_INT(h->now, t0 + 3 * S);
	done(h);

	/* stopped before it is up: closed at once, nothing sent */
	h = fresh(38);
	h->hold = true;
	start(h);
	size_t sent = h->n_dgram;
	CHECK_INT(keel_sa_stop(h->sa, h->now), 0);
	drain_quiet(h);
	CHECK_INT(h->n_dgram, sent);
	CHECK_INT(h->state, KEEL_STATE_CLOSED);
	done(h);
}

static void test_api(void)
{
	struct h *h = fresh(39);
	struct keel_sa *sa = NULL;
	struct keel_config c = h->cfg;
	c.psk = NULL;
	CHECK_INT(keel_sa_new(&c, &h->env, &sa), KEEL_ERR_INVAL);
	c = h->cfg;
	c.ike_version = 3;
	CHECK_INT(keel_sa_new(&c, &h->env, &sa), KEEL_ERR_INVAL);
	c.ike_version = 1; /* IKEv1 has no EAP */
	c.auth = KEEL_AUTH_EAP;
	CHECK_INT(keel_sa_new(&c, &h->env, &sa), KEEL_ERR_UNSUPPORTED);
	c = h->cfg;
	c.auth = KEEL_AUTH_CERT; /* without certificate and key */
	CHECK_INT(keel_sa_new(&c, &h->env, &sa), KEEL_ERR_INVAL);
	c = h->cfg;
	c.remote.family = KEEL_AF_INET6;
	CHECK_INT(keel_sa_new(&c, &h->env, &sa), KEEL_ERR_INVAL);
	c = h->cfg;
	c.n_esp_proposals = 1;
	keel_proposal_from_text("aes256-sha256", KEEL_PROPOSAL_ESP, &c.esp_proposals[0], NULL);
	c.esp_proposals[0].encr[0].id = 3; /* 3DES: not something Keel offers */
	CHECK_INT(keel_sa_new(&c, &h->env, &sa), KEEL_ERR_UNSUPPORTED);
	CHECK_INT(keel_sa_new(&h->cfg, NULL, &sa), KEEL_ERR_INVAL);
	CHECK(sa == NULL);

	CHECK_INT(keel_sa_new(&h->cfg, &h->env, &h->sa), 0);
	/* the config and the PSK were copied: the caller may wipe its own */
	keel_secret_free(h->psk);
	h->psk = NULL;
	memset(&h->cfg.local_id, 0, sizeof(h->cfg.local_id));
	CHECK_INT(keel_sa_state(h->sa), KEEL_STATE_IDLE);
	CHECK(keel_sa_deadline(h->sa) == UINT64_MAX);
	CHECK_INT(keel_sa_rekey(h->sa, KEEL_REKEY_IKE, 0, 0), KEEL_ERR_STATE);
	CHECK_INT(keel_sa_start(h->sa, 0), 0);
	CHECK_INT(keel_sa_start(h->sa, 0), KEEL_ERR_STATE);
	pump(h);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(h->gw.auth_ok);
	CHECK_INT(keel_sa_rekey(h->sa, KEEL_REKEY_CHILD, 999, h->now), KEEL_ERR_INVAL);
	struct keel_out o;
	CHECK(!keel_sa_pop(NULL, &o));
	keel_sa_free(NULL);
	done(h);
}

static struct gw_child *gw_child_for(struct h *h, uint32_t spi_cl)
{
	return gw_child_by_cl(&h->gw, spi_cl);
}

/* The install i carries the keys the gateway derived on its own. */
static void check_keys(struct h *h, size_t i)
{
	struct gw_child *gc = gw_child_for(h, h->inst[i].spi_in);
	CHECK(gc != NULL);
	if (!gc)
		return;
	CHECK_INT(h->inst[i].spi_out, gc->spi_gw);
	CHECK_MEM(h->inst_ekey_out[i], (size_t)h->inst[i].encr_key_len, gc->encr_to_gw,
	          gc->encr_len);
	CHECK_MEM(h->inst_ekey_in[i], (size_t)h->inst[i].encr_key_len, gc->encr_to_cl,
	          gc->encr_len);
	CHECK_MEM(h->inst_akey_out[i], (size_t)h->inst[i].integ_key_len, gc->integ_to_gw,
	          gc->integ_len);
	CHECK_MEM(h->inst_akey_in[i], (size_t)h->inst[i].integ_key_len, gc->integ_to_cl,
	          gc->integ_len);
}

static bool saw_state(struct h *h, enum keel_state s)
{
	for (size_t i = 0; i < h->n_states; i++)
		if (h->states[i] == s)
			return true;
	return false;
}

static void test_child_rekey(void)
{
	/* at the lifetime: 1000 s, rekeyed 100 s before */
	struct h *h = fresh(40);
	h->cfg.child_lifetime = (struct keel_lifetime){.life_s = 1000, .margin_s = 100};
	start(h);
	uint64_t t0 = h->now;
	CHECK_INT(h->inst[0].soft_life_s, 900);
	CHECK_INT(h->inst[0].hard_life_s, 1000);
	run_until(h, t0 + 899 * S);
	CHECK_INT(h->n_install, 1);
	run_until(h, t0 + 900 * S);
	CHECK_INT(h->gw.n_create, 1);
	CHECK_INT(h->n_install, 2);
	CHECK_INT(h->inst[1].reqid, h->inst[0].reqid);
	CHECK_INT(h->inst[1].rekeyed_child_id, h->inst[0].child_id);
	CHECK(!h->inst[1].inbound_first); /* ours: the gateway had the pair first */
	CHECK(h->inst[1].child_id != h->inst[0].child_id);
	CHECK_INT(h->inst[1].spi_in, h->gw.cc_new_spi_cl);
	check_keys(h, 1);
	/* make-before-break: the old pair goes after the new one is in */
	CHECK_INT(h->removes_at_install[1], 0);
	CHECK_INT(h->n_remove, 1);
	CHECK_INT(h->rem[0].child_id, h->inst[0].child_id);
	CHECK_INT(h->rem[0].reason, KEEL_REASON_REKEYED);
	CHECK_INT(h->gw.deleted_spi, h->inst[0].spi_in);
	CHECK(saw_state(h, KEEL_STATE_REKEYING));
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	/* and again, 900 s later */
	run_until(h, t0 + 1800 * S);
	CHECK_INT(h->n_install, 3);
	CHECK_INT(h->inst[2].rekeyed_child_id, h->inst[1].child_id);
	check_keys(h, 2);
	done(h);

	/* with PFS: a KE payload, and g^ir in the KEYMAT on both sides */
	h = fresh(41);
	h->cfg.n_esp_proposals = 1;
	keel_proposal_from_text("aes128-sha256-x25519", KEEL_PROPOSAL_ESP, &h->cfg.esp_proposals[0],
	                        NULL);
	start(h);
	CHECK_INT(h->inst[0].encr, KEEL_V2_ENCR_AES_CBC);
	CHECK_INT(h->inst[0].integ, KEEL_V2_INTEG_HMAC_SHA2_256_128);
	CHECK_INT(h->inst[0].integ_key_len, 32);
	check_keys(h, 0);
	CHECK_INT(keel_sa_rekey(h->sa, KEEL_REKEY_CHILD, 0, h->now), 0);
	pump(h);
	CHECK_INT(h->n_install, 2);
	CHECK_INT(h->gw.child[1].alg.dh, KEEL_V2_DH_CURVE25519);
	check_keys(h, 1);
	done(h);

	/* the gateway is busy: retried a few seconds later */
	h = fresh(42);
	start(h);
	h->gw.create_notify = KEEL_V2_N_TEMPORARY_FAILURE;
	keel_sa_rekey(h->sa, KEEL_REKEY_CHILD, h->inst[0].child_id, h->now);
	pump(h);
	CHECK_INT(h->n_install, 1);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	run_until(h, h->now + 11 * S);
	CHECK_INT(h->gw.n_create, 2);
	CHECK_INT(h->n_install, 2);
	check_keys(h, 1);
	done(h);

	/* the gateway refuses: the SA stays until its hard lifetime, then we give up */
	h = fresh(43);
	h->cfg.child_lifetime = (struct keel_lifetime){.life_s = 1000, .margin_s = 100};
	h->cfg.dpd_interval_ms = 0;
	start(h);
	t0 = h->now;
	h->gw.create_notify = KEEL_V2_N_NO_PROPOSAL_CHOSEN;
	run_until(h, t0 + 950 * S);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(h->saw_log_level[KEEL_LOG_WARN]);
	run_until(h, UINT64_MAX);
	CHECK_INT(h->now, t0 + 1000 * S);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_EXPIRED);
	done(h);
}

static void test_ike_rekey(void)
{
	struct h *h = fresh(44);
	h->cfg.ike_lifetime = (struct keel_lifetime){.life_s = 2000, .margin_s = 200};
	start(h);
	uint64_t t0 = h->now;
	uint64_t old_spi = h->gw.ike[0].spi_i;
	run_until(h, t0 + 1800 * S);
	CHECK_INT(h->gw.n_create, 1);
	CHECK(h->gw.cur != 0);
	struct gw_ike *nike = &h->gw.ike[h->gw.cur];
	CHECK(nike->spi_i != old_spi);
	/* the old IKE SA deleted on itself, then everything goes over the new one */
	CHECK_INT(h->gw.deleted_ike, 1);
	CHECK_INT(h->gw.deleted_ike_spi_i, old_spi);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(saw_state(h, KEEL_STATE_REKEYING));
	CHECK_INT(h->n_install, 1);
	unsigned info = h->gw.n_info;
	run_until(h, h->now + 30 * S);
	CHECK_INT(h->gw.n_info, info + 1);
	CHECK_INT(h->dgram[h->n_dgram - 1].msg_id, 0); /* message IDs start again (§2.18) */
	/* a CHILD SA rekeyed under the new IKE SA: KEYMAT from the new SK_d */
	keel_sa_rekey(h->sa, KEEL_REKEY_CHILD, 0, h->now);
	pump(h);
	CHECK_INT(h->n_install, 2);
	check_keys(h, 1);
	/* and the next IKE rekey 1800 s after the first */
	run_until(h, t0 + 3600 * S);
	CHECK_INT(h->gw.n_create, 3);
	CHECK_INT(h->gw.deleted_ike, 2);
	keel_sa_stop(h->sa, h->now);
	pump(h);
	CHECK_INT(h->gw.deleted_ike, 3);
	CHECK_INT(h->state, KEEL_STATE_CLOSED);
	done(h);
}

static void test_gateway_rekeys(void)
{
	static uint8_t a[8192];
	/* the gateway rekeys the CHILD SA, then deletes the old one */
	struct h *h = fresh(45);
	start(h);
	size_t n = gw_request_rekey_child(&h->gw, &h->gw.child[0], 0, a, sizeof(a));
	gw_says(h, a, n);
	CHECK_INT(h->gw.resp_notify, 0);
	CHECK_INT(h->n_install, 2);
	CHECK_INT(h->inst[1].rekeyed_child_id, h->inst[0].child_id);
	CHECK(h->inst[1].inbound_first && !h->inst[0].inbound_first);
	CHECK_INT(h->inst[1].reqid, h->inst[0].reqid);
	check_keys(h, 1);
	CHECK_INT(h->n_remove, 0);
	n = gw_request_info(&h->gw, false, h->gw.child[0].spi_gw, a, sizeof(a));
	gw_says(h, a, n);
	CHECK_INT(h->n_remove, 1);
	CHECK_INT(h->rem[0].child_id, h->inst[0].child_id);
	CHECK_INT(h->rem[0].reason, KEEL_REASON_REKEYED);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);

	/* with PFS the gateway needs a group we allow */
	h = fresh(46);
	start(h);
	n = gw_request_rekey_child(&h->gw, &h->gw.child[0], KEEL_V2_DH_CURVE25519, a, sizeof(a));
	gw_says(h, a, n);
	CHECK_INT(h->gw.resp_notify, KEEL_V2_N_NO_PROPOSAL_CHOSEN);
	CHECK_INT(h->n_install, 1);
	done(h);
	h = fresh(47);
	h->cfg.n_esp_proposals = 1;
	keel_proposal_from_text("aes256gcm16-x25519", KEEL_PROPOSAL_ESP, &h->cfg.esp_proposals[0],
	                        NULL);
	start(h);
	n = gw_request_rekey_child(&h->gw, &h->gw.child[0], KEEL_V2_DH_CURVE25519, a, sizeof(a));
	gw_says(h, a, n);
	CHECK_INT(h->gw.resp_notify, 0);
	CHECK_INT(h->n_install, 2);
	check_keys(h, 1);
	/* a rekey of an SA that does not exist */
	struct gw_child ghost = h->gw.child[0];
	ghost.spi_gw = 0x12345678;
	n = gw_request_rekey_child(&h->gw, &ghost, 0, a, sizeof(a));
	gw_says(h, a, n);
	CHECK_INT(h->gw.resp_notify, KEEL_V2_N_CHILD_SA_NOT_FOUND);
	CHECK_INT(h->n_install, 2);
	done(h);

	/* the gateway rekeys the IKE SA, then deletes the old one on it */
	h = fresh(48);
	start(h);
	int old = h->gw.cur;
	n = gw_request_rekey_ike(&h->gw, a, sizeof(a));
	gw_says(h, a, n);
	CHECK_INT(h->gw.resp_notify, 0);
	CHECK(h->gw.cur != old);
	int cur = h->gw.cur;
	h->gw.cur = old;
	n = gw_request_info(&h->gw, true, 0, a, sizeof(a));
	h->gw.cur = cur;
	gw_says(h, a, n);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->n_remove, 0);
	/* the new IKE SA works both ways: our liveness check, a CHILD rekey */
	unsigned info = h->gw.n_info;
	run_until(h, h->now + 30 * S);
	CHECK_INT(h->gw.n_info, info + 1);
	keel_sa_rekey(h->sa, KEEL_REKEY_CHILD, 0, h->now);
	pump(h);
	CHECK_INT(h->n_install, 2);
	check_keys(h, 1);
	n = gw_request_info(&h->gw, false, 0, a, sizeof(a));
	gw_says(h, a, n);
	CHECK_INT(h->gw.resp_id_seen, 0); /* the gateway's first request on the new SA */
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);
}

/* byte-wise order of nonces, the shorter first on a tie */
static int ncmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : (al > bl) - (al < bl);
}

static int collision_child(uint64_t seed)
{
	static uint8_t a[8192], ans[8192];
	struct h *h = fresh(seed);
	start(h);
	uint32_t old_spi_in = h->inst[0].spi_in;
	/* we ask to rekey; our request is in flight when the gateway asks too */
	h->hold = true;
	keel_sa_rekey(h->sa, KEEL_REKEY_CHILD, 0, h->now);
	pump(h);
	CHECK_INT(h->n_held, 1);
	h->hold = false;
	size_t n = gw_request_rekey_child(&h->gw, &h->gw.child[0], 0, a, sizeof(a));
	gw_says(h, a, n);
	CHECK_INT(h->gw.resp_notify, 0);
	CHECK_INT(h->n_install, 2); /* the gateway's new SA */
	uint8_t peer_min[256], our_min[256];
	size_t peer_min_len, our_min_len;
	bool lo = ncmp(h->gw.req_nonce, 32, h->gw.resp_nr, h->gw.resp_nr_len) <= 0;
	memcpy(peer_min, lo ? h->gw.req_nonce : h->gw.resp_nr, lo ? 32 : h->gw.resp_nr_len);
	peer_min_len = lo ? 32 : h->gw.resp_nr_len;
	/* now our request arrives and is answered */
	n = gw_input(&h->gw, h->held[0], h->held_len[0], ans, sizeof(ans));
	CHECK(n > 0);
	lo = ncmp(h->gw.cc_ni, h->gw.cc_ni_len, h->gw.cc_nr, 32) <= 0;
	memcpy(our_min, lo ? h->gw.cc_ni : h->gw.cc_nr, lo ? h->gw.cc_ni_len : 32);
	our_min_len = lo ? h->gw.cc_ni_len : 32;
	gw_says(h, ans, n);
	CHECK_INT(h->n_install, 3);
	/* RFC 7296 §2.8.1: the SA from the exchange with the lowest nonce is deleted by
	 * whoever started that exchange */
	bool ours_redundant = ncmp(our_min, our_min_len, peer_min, peer_min_len) < 0;
	CHECK_INT(h->gw.deleted_child, 1);
	if (ours_redundant)
		CHECK_INT(h->gw.deleted_spi, h->inst[2].spi_in);
	else
		CHECK_INT(h->gw.deleted_spi, old_spi_in);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);
	return ours_redundant;
}

static int collision_ike(uint64_t seed)
{
	static uint8_t a[8192], ans[8192];
	struct h *h = fresh(seed);
	start(h);
	uint64_t old_spi = h->gw.ike[0].spi_i;
	h->hold = true;
	keel_sa_rekey(h->sa, KEEL_REKEY_IKE, 0, h->now);
	pump(h);
	CHECK_INT(h->n_held, 1);
	h->hold = false;
	size_t n = gw_request_rekey_ike(&h->gw, a, sizeof(a));
	gw_says(h, a, n);
	CHECK_INT(h->gw.resp_notify, 0);
	uint64_t gw_new = h->gw.req_ike_spi;
	bool lo = ncmp(h->gw.req_nonce, 32, h->gw.resp_nr, h->gw.resp_nr_len) <= 0;
	uint8_t peer_min[256], our_min[256];
	size_t peer_min_len = lo ? 32 : h->gw.resp_nr_len, our_min_len;
	memcpy(peer_min, lo ? h->gw.req_nonce : h->gw.resp_nr, peer_min_len);
	n = gw_input(&h->gw, h->held[0], h->held_len[0], ans, sizeof(ans));
	CHECK(n > 0);
	uint64_t our_new = h->gw.ike[h->gw.cur].spi_i;
	lo = ncmp(h->gw.cc_ni, h->gw.cc_ni_len, h->gw.cc_nr, 32) <= 0;
	our_min_len = lo ? h->gw.cc_ni_len : 32;
	memcpy(our_min, lo ? h->gw.cc_ni : h->gw.cc_nr, our_min_len);
	gw_says(h, ans, n);
	bool ours_redundant = ncmp(our_min, our_min_len, peer_min, peer_min_len) < 0;
	/* RFC 7296 §2.8.2: we delete ours if redundant, else the old one */
	CHECK_INT(h->gw.deleted_ike, 1);
	CHECK_INT(h->gw.deleted_ike_spi_i, ours_redundant ? our_new : old_spi);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	/* the survivor carries the next exchange */
	for (int i = 0; i < GW_MAX_IKE; i++)
		if (h->gw.ike[i].used && h->gw.ike[i].spi_i == (ours_redundant ? gw_new : our_new))
			h->gw.cur = i;
	unsigned info = h->gw.n_info;
	keel_sa_rekey(h->sa, KEEL_REKEY_CHILD, 0, h->now);
	pump(h);
	CHECK_INT(h->n_install, 2);
	check_keys(h, 1);
	n = gw_request_info(&h->gw, false, 0, a, sizeof(a));
	gw_says(h, a, n);
	CHECK(h->gw.n_info >= info);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	done(h);
	return ours_redundant;
}

static void test_collisions(void)
{
	int ours = 0, theirs = 0;
	for (uint64_t seed = 100; seed < 112; seed++) {
		if (collision_child(seed))
			ours++;
		else
			theirs++;
	}
	/* both outcomes were exercised */
	CHECK(ours > 0 && theirs > 0);
	ours = theirs = 0;
	for (uint64_t seed = 200; seed < 212; seed++) {
		if (collision_ike(seed))
			ours++;
		else
			theirs++;
	}
	CHECK(ours > 0 && theirs > 0);
}

static void test_algorithms(void)
{
	static const char *const ike[] = {
	    "aes256-sha256-modp2048",
	    "aes128-sha1-ecp256",
	    "chacha20poly1305-prfsha256-x25519",
	    "aes256gcm16-prfsha512-x448",
	    "aes192-sha384-ecp384",
	    "aes128gcm8-prfsha384-ecp521",
	    "aes256-sha512-prfsha256-modp3072",
	};
	static const char *const esp[] = {
	    "aes128-sha1", "chacha20poly1305", "aes256gcm12",   "aes256-sha512-esn",
	    "aes192gcm16", "aes128ctr-sha256", "aes256-sha384",
	};
	for (size_t i = 0; i < sizeof(ike) / sizeof(ike[0]); i++) {
		struct h *h = fresh(60 + i);
		h->cfg.n_ike_proposals = 1;
		h->cfg.n_esp_proposals = 1;
		CHECK_INT(keel_proposal_from_text(ike[i], KEEL_PROPOSAL_IKE,
		                                  &h->cfg.ike_proposals[0], NULL),
		          0);
		CHECK_INT(keel_proposal_from_text(esp[i], KEEL_PROPOSAL_ESP,
		                                  &h->cfg.esp_proposals[0], NULL),
		          0);
		start(h);
		CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
		CHECK(h->gw.auth_ok);
		CHECK_INT(h->inst[0].encr, h->cfg.esp_proposals[0].encr[0].id);
		check_keys(h, 0);
		/* the protected exchanges work both ways with these algorithms */
		keel_sa_rekey(h->sa, KEEL_REKEY_IKE, 0, h->now);
		pump(h);
		keel_sa_rekey(h->sa, KEEL_REKEY_CHILD, 0, h->now);
		pump(h);
		CHECK_INT(h->n_install, 2);
		check_keys(h, 1);
		CHECK_INT(h->inst[1].esn, h->cfg.esp_proposals[0].esn[0]);
		keel_sa_stop(h->sa, h->now);
		pump(h);
		CHECK_INT(h->state, KEEL_STATE_CLOSED);
		CHECK_INT(h->gw.deleted_ike, 2);
		done(h);
	}
}

/* A harness whose config asks for AH with one proposal, and a gateway that answers AH. */
static struct h *fresh_ah(uint64_t seed, const char *proposal)
{
	struct h *h = fresh(seed);
	h->gw.child_ah = true;
	h->cfg.n_ah_proposals = 1;
	CHECK_INT(
	    keel_proposal_from_text(proposal, KEEL_PROPOSAL_AH, &h->cfg.ah_proposals[0], NULL), 0);
	return h;
}

/* AH instead of ESP (RFC 4302, RFC 7296 §3.3.3): IKE_AUTH, rekeys both ways, DELETE, NAT */
static void test_ah(void)
{
	static uint8_t a[8192];
	struct h *h = fresh_ah(90, "sha256");
	start(h);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK_INT(h->n_install, 1);
	CHECK_INT(h->inst[0].protocol, KEEL_PROTO_AH);
	CHECK_INT(h->inst[0].encr, 0);
	CHECK_INT(h->inst[0].encr_key_len, 0);
	CHECK_INT(h->inst[0].integ, KEEL_V2_INTEG_HMAC_SHA2_256_128);
	CHECK_INT(h->inst[0].integ_key_len, 32); /* RFC 4868 §2.1.1: the HMAC key is 256 bits */
	CHECK(!h->inst[0].encap);
	CHECK(!h->inst[0].esn);
	check_keys(h, 0);
	/* our rekey: REKEY_SA and the new SA are AH, the old pair is deleted as AH */
	CHECK_INT(keel_sa_rekey(h->sa, KEEL_REKEY_CHILD, 0, h->now), 0);
	pump(h);
	CHECK_INT(h->n_install, 2);
	CHECK_INT(h->inst[1].protocol, KEEL_PROTO_AH);
	check_keys(h, 1);
	CHECK_INT(h->n_remove, 1);
	CHECK_INT(h->rem[0].protocol, KEEL_PROTO_AH);
	CHECK_INT(h->gw.deleted_spi, h->inst[0].spi_in);
	CHECK_INT(h->gw.deleted_proto, KEEL_V2_PROTO_AH);
	/* the gateway's rekey of an AH SA is answered with AH */
	struct gw_child *gc = gw_child_for(h, h->inst[1].spi_in);
	CHECK(gc != NULL);
	if (gc) {
		size_t n = gw_request_rekey_child(&h->gw, gc, 0, a, sizeof(a));
		gw_says(h, a, n);
		CHECK_INT(h->gw.resp_notify, 0);
		CHECK_INT(h->n_install, 3);
		CHECK_INT(h->inst[2].protocol, KEEL_PROTO_AH);
		check_keys(h, 2);
	}
	keel_sa_stop(h->sa, h->now);
	pump(h);
	CHECK_INT(h->state, KEEL_STATE_CLOSED);
	for (size_t i = 0; i < h->n_remove; i++)
		CHECK_INT(h->rem[i].protocol, KEEL_PROTO_AH);
	done(h);

	/* HMAC-SHA2-384-192 and HMAC-SHA2-512-256 keys, ESN */
	static const struct {
		const char *text;
		uint16_t integ;
		ptrdiff_t key_len;
		bool esn;
	} v[] = {
	    {"sha384-esn", KEEL_V2_INTEG_HMAC_SHA2_384_192, 48, true},
	    {"sha512", KEEL_V2_INTEG_HMAC_SHA2_512_256, 64, false},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		h = fresh_ah(91 + i, v[i].text);
		start(h);
		CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
		CHECK_INT(h->inst[0].integ, v[i].integ);
		CHECK_INT(h->inst[0].integ_key_len, v[i].key_len);
		CHECK_INT(h->inst[0].esn, v[i].esn);
		check_keys(h, 0);
		done(h);
	}

	/* a rekey with PFS: KE in CREATE_CHILD_SA, g^ir in the AH KEYMAT on both sides */
	h = fresh_ah(97, "sha256-x25519");
	start(h);
	CHECK_INT(keel_sa_rekey(h->sa, KEEL_REKEY_CHILD, 0, h->now), 0);
	pump(h);
	CHECK_INT(h->n_install, 2);
	CHECK_INT(h->inst[1].protocol, KEEL_PROTO_AH);
	CHECK_INT(h->gw.child[1].alg.dh, KEEL_V2_DH_CURVE25519);
	check_keys(h, 1);
	done(h);

	/* RFC 4302 cannot cross a NAT: refused after IKE_SA_INIT, nothing installed */
	h = fresh_ah(95, "sha256");
	h->gw.fake_nat = true;
	start(h);
	CHECK_INT(h->state, KEEL_STATE_FAILED);
	CHECK_INT(h->reason, KEEL_REASON_CONFIG);
	CHECK(contains(h->text, "AH cannot cross the NAT"));
	CHECK_INT(h->n_install, 0);
	CHECK_INT(h->gw.n_auth, 0);
	done(h);

	/* nor travel in UDP: force_encap (the TUN data path) is refused up front */
	h = fresh_ah(96, "sha256");
	h->cfg.force_encap = true;
	char why[256];
	CHECK_INT(keel_config_check(&h->cfg, why, sizeof(why)), KEEL_ERR_INVAL);
	CHECK(contains(why, "AH cannot be encapsulated in UDP"));
	CHECK_INT(keel_sa_new(&h->cfg, &h->env, &h->sa), KEEL_ERR_INVAL);
	/* and an AH proposal with a cipher is no AH proposal */
	h->cfg.force_encap = false;
	keel_proposal_from_text("aes128-sha256", KEEL_PROPOSAL_ESP, &h->cfg.ah_proposals[0], NULL);
	CHECK_INT(keel_config_check(&h->cfg, why, sizeof(why)), KEEL_ERR_INVAL);
	done(h);
}

static void test_ipv6(void)
{
	struct h *h = fresh(70);
	keel_addr_parse("2001:db8::2", 11, &h->cfg.local);
	keel_addr_parse("2001:db8::1", 11, &h->cfg.remote);
	h->cfg.local.port = h->cfg.remote.port = 500;
	h->gw.client = h->cfg.local;
	h->gw.addr = h->cfg.remote;
	h->cfg.request_ip6 = true;
	h->cfg.local_id.type = KEEL_ID_NONE; /* our address as the identity */
	snprintf(h->gw.psk, sizeof(h->gw.psk), "%s", PSK);
	start(h);
	CHECK_INT(h->state, KEEL_STATE_ESTABLISHED);
	CHECK(h->gw.natd_src_ok);
	CHECK_INT(h->dgram[1].lport, 500);
	CHECK_INT(h->inst[0].local.family, KEEL_AF_INET6);
	done(h);
}

int main(void)
{
	verbose = getenv("KEEL_TEST_VERBOSE") != NULL;
	test_connect_and_stop();
	test_force_encap();
	test_nat_detected();
	test_retransmit_schedule();
	test_lost_replies();
	test_invalid_ke();
	test_cookie();
	test_no_proposal();
	test_auth_failures();
	test_child_refused();
	test_garbage();
	test_duplicates_and_ids();
	test_dpd();
	test_gateway_deletes();
	test_stop();
	test_api();
	test_child_rekey();
	test_ike_rekey();
	test_gateway_rekeys();
	test_collisions();
	test_algorithms();
	test_ah();
	test_ipv6();
	return check_done();
}
