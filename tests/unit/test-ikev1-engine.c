/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The IKEv1 engine (core/ikev1) against the test-only gateway of ikev1-gw.h,
 * built from the ISAKMP codec and the key derivation alone: Aggressive Mode with
 * XAUTH and Mode Config, Main Mode, quick mode, NAT-T, DPD both ways,
 * DELETE both ways, rekeys of CHILD SAs (ours and the gateway's), a new
 * phase 1, retransmission and give-up, the failures a user must be told
 * about, and malformed, garbage and replayed input at every stage; RSA
 * signatures (RFC 2409 §5.1), XAUTH with them and hybrid authentication with
 * the lab's PKI (tests/vectors/strongswan/pki/): a good run and each refusal
 * of the gateway's certificate or signature.
 * Fake clock, seeded randomness: every run is the same.
 */
#include "ikev1-gw.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fixture-auth.h"

/* ------------------------------------------------------------------ */
/* the harness: the engine, its outputs, the gateway between          */

struct rec_install {
	struct keel_out_child_install ci;
	unsigned sent_before; /* datagrams the engine had sent when it came */
	uint8_t ek_in[64], ek_out[64], ik_in[64], ik_out[64];
	struct keel_ts ts_l[4], ts_r[16];
};

struct t {
	struct rng rng;
	struct keel_env env;
	struct keel_config cfg;
	struct keel_v1_options v1;
	struct keel_secret *psk, *user, *pass;
	struct keel_v1sa *sa;
	struct gw g;
	/* certificates: ours (alice) and the gateway's */
	uint8_t *cert, *ca;
	struct keel_secret *key;
	struct keel_privkey *gw_key;
	struct keel_certs *gw_cert;
	struct keel_pubkey *client_pub;
	uint64_t now;
	struct rec_install inst[16];
	size_t n_inst;
	struct keel_out_child_remove rm[16];
	size_t n_rm;
	struct keel_out_child_activate act[16];
	size_t n_act;
	unsigned n_netcfg;
	struct keel_out_netcfg nc;
	struct keel_addr dns[8];
	struct keel_prefix routes[64];
	enum keel_state states[64];
	enum keel_reason reasons[64];
	char texts[64][300];
	size_t n_states;
	unsigned n_aggr_warn, n_logs;
	char last_error[300];
	struct pkt out[QMAX]; /* from the engine, for the gateway */
	size_t n_out;
	unsigned n_sent;
	bool last_natt;
	bool lose; /* the engine's datagrams get lost */
	bool hold; /* keep the engine's datagrams for the test */
};

static void t_drain(struct t *t)
{
	struct keel_out o;
	while (keel_v1sa_pop(t->sa, &o)) {
		switch (o.kind) {
		case KEEL_OUT_DGRAM:
			CHECK(o.u.dgram.len > 0 && o.u.dgram.len <= PKT_MAX);
			CHECK(o.u.dgram.remote.port == (o.u.dgram.natt ? 4500 : 500));
			t->n_sent++;
			t->last_natt = o.u.dgram.natt;
			if (t->n_out < QMAX && o.u.dgram.len <= PKT_MAX) {
				memcpy(t->out[t->n_out].data, o.u.dgram.data,
				       (size_t)o.u.dgram.len);
				t->out[t->n_out].len = (size_t)o.u.dgram.len;
				t->out[t->n_out].natt = o.u.dgram.natt;
				t->n_out++;
			}
			break;
		case KEEL_OUT_CHILD_INSTALL: {
			CHECK(t->n_inst < 16);
			if (t->n_inst >= 16)
				break;
			struct rec_install *r = &t->inst[t->n_inst++];
			const struct keel_out_child_install *ci = &o.u.child_install;
			r->ci = *ci;
			r->sent_before = t->n_sent;
			CHECK(!ci->inbound_first || ci->rekeyed_child_id != 0);
			CHECK(ci->encr_key_len <= 64 && ci->integ_key_len <= 64);
			if (ci->encr_key_len) { /* none with AH */
				memcpy(r->ek_in, ci->encr_key_in, (size_t)ci->encr_key_len);
				memcpy(r->ek_out, ci->encr_key_out, (size_t)ci->encr_key_len);
			}
			if (ci->integ_key_len) {
				memcpy(r->ik_in, ci->integ_key_in, (size_t)ci->integ_key_len);
				memcpy(r->ik_out, ci->integ_key_out, (size_t)ci->integ_key_len);
			}
			CHECK(ci->n_ts_local >= 1 && ci->n_ts_local <= 4 && ci->n_ts_remote >= 1 &&
			      ci->n_ts_remote <= 16);
			memcpy(r->ts_l, ci->ts_local, ci->n_ts_local * sizeof(struct keel_ts));
			memcpy(r->ts_r, ci->ts_remote, ci->n_ts_remote * sizeof(struct keel_ts));
			break;
		}
		case KEEL_OUT_CHILD_REMOVE:
			if (t->n_rm < 16)
				t->rm[t->n_rm++] = o.u.child_remove;
			break;
		case KEEL_OUT_CHILD_ACTIVATE:
			if (t->n_act < 16)
				t->act[t->n_act++] = o.u.child_activate;
			break;
		case KEEL_OUT_NETCFG:
			t->n_netcfg++;
			t->nc = o.u.netcfg;
			CHECK(o.u.netcfg.n_dns <= 8 && o.u.netcfg.n_routes <= 64);
			if (o.u.netcfg.n_dns)
				memcpy(t->dns, o.u.netcfg.dns,
				       o.u.netcfg.n_dns * sizeof(struct keel_addr));
			if (o.u.netcfg.n_routes)
				memcpy(t->routes, o.u.netcfg.routes,
				       o.u.netcfg.n_routes * sizeof(struct keel_prefix));
			break;
		case KEEL_OUT_STATE:
			if (t->n_states < 64) {
				t->states[t->n_states] = o.u.state.state;
				t->reasons[t->n_states] = o.u.state.reason;
				snprintf(t->texts[t->n_states], sizeof(t->texts[0]), "%s",
				         o.u.state.text);
				t->n_states++;
			}
			break;
		case KEEL_OUT_LOG:
			t->n_logs++;
			CHECK(strchr(o.u.log.text, '\n') == NULL);
			/* never the secrets, at any level */
			CHECK(strstr(o.u.log.text, "keel-test-psk") == NULL);
			CHECK(strstr(o.u.log.text, "s3cret-pw") == NULL);
			if (o.u.log.level == KEEL_LOG_WARN &&
			    strstr(o.u.log.text, "Aggressive Mode") &&
			    strstr(o.u.log.text, "offline"))
				t->n_aggr_warn++;
			if (o.u.log.level == KEEL_LOG_ERROR)
				snprintf(t->last_error, sizeof(t->last_error), "%s", o.u.log.text);
			if (getenv("KEEL_TEST_VERBOSE"))
				fprintf(stderr, "  [%d] %s\n", o.u.log.level, o.u.log.text);
			break;
		}
	}
}

static int t_recv(struct t *t, const uint8_t *d, size_t len, bool natt)
{
	struct keel_dgram dg = {
	    .local = t->cfg.local,
	    .remote = t->cfg.remote,
	    .data = d,
	    .len = (ptrdiff_t)len,
	};
	if (natt) {
		dg.local.port = 4500;
		dg.remote.port = 4500;
	}
	int rc = keel_v1sa_recv(t->sa, &dg, t->now);
	t_drain(t);
	return rc;
}

/* Runs the engine and the gateway until neither has anything to say. */
static void t_run(struct t *t)
{
	for (int round = 0; round < 64; round++) {
		t_drain(t);
		bool any = false;
		if (!t->hold) {
			for (size_t i = 0; i < t->n_out; i++)
				if (!t->lose)
					gw_input(&t->g, t->out[i].data, t->out[i].len,
					         t->out[i].natt);
			any |= t->n_out > 0;
			t->n_out = 0;
		}
		size_t nq = t->g.nq;
		static struct pkt q[QMAX];
		memcpy(q, t->g.q, nq * sizeof(q[0]));
		t->g.nq = 0;
		for (size_t i = 0; i < nq; i++)
			t_recv(t, q[i].data, q[i].len, q[i].natt);
		any |= nq > 0;
		if (!any)
			return;
	}
	CHECK(!"the exchange does not settle");
}

/* Lets time pass to at (ticking at every deadline on the way). */
static void t_advance(struct t *t, uint64_t at)
{
	for (int i = 0; i < 10000; i++) {
		uint64_t d = keel_v1sa_deadline(t->sa);
		if (d > at)
			break;
		if (d > t->now)
			t->now = d;
		keel_v1sa_tick(t->sa, t->now);
		t_run(t);
		if (keel_v1sa_state(t->sa) == KEEL_STATE_FAILED ||
		    keel_v1sa_state(t->sa) == KEEL_STATE_CLOSED)
			break;
	}
	if (at > t->now)
		t->now = at;
}

/* The CHILD_REMOVE of pair id, or NULL. */
static const struct keel_out_child_remove *t_removed(const struct t *t, uint32_t id)
{
	for (size_t i = 0; i < t->n_rm; i++)
		if (t->rm[i].child_id == id)
			return &t->rm[i];
	return NULL;
}

static bool t_has_state(const struct t *t, enum keel_state s)
{
	for (size_t i = 0; i < t->n_states; i++)
		if (t->states[i] == s)
			return true;
	return false;
}

static const char *t_last_text(const struct t *t)
{
	return t->n_states ? t->texts[t->n_states - 1] : "";
}

static enum keel_reason t_last_reason(const struct t *t)
{
	return t->n_states ? t->reasons[t->n_states - 1] : KEEL_REASON_NONE;
}

static void addr4(struct keel_addr *a, const uint8_t ip[4], uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = KEEL_AF_INET;
	memcpy(a->bytes, ip, 4);
	a->port = port;
}

struct t_opts {
	enum keel_v1_mode mode;
	bool xauth;
	enum keel_v1_modecfg modecfg;
	const char *ike;
	const char *esp;
	const char *ah; /* ah-proposals: AH instead of ESP */
	uint16_t pfs;
	bool force_encap;
	const char *remote_ts;
	const char *remote_ts2;
	int auth;            /* GW_AUTH_PSK, _SIG (with xauth: XAUTHInitRSA), _HYBRID */
	const char *gw_cert; /* file of the pki the gateway presents (gw-rsa.pem) */
	const char *gw_key;  /* and signs with (gw-rsa.key) */
	const char *ca;      /* the CA we trust (ca.pem) */
	const char *key;     /* our key and certificate (alice) */
	const char *cert;
};

/* The lab PKI's certificates are valid now: 2026-11-24T00:00:00Z. */
#define T_WALL_S 1795478400

/* Our credentials and the gateway's for o->auth. */
static void t_init_certs(struct t *t, const struct t_opts *o)
{
	struct keel_config *c = &t->cfg;
	size_t len;
	uint8_t *pem;
	t->g.cfg.auth_mode = o->auth;
	if (o->auth == GW_AUTH_PSK)
		return;
	t->ca = fx_pki(o->ca ? o->ca : "ca.pem", &len);
	c->ca = t->ca;
	c->ca_len = (ptrdiff_t)len;
	c->now_wall_s = T_WALL_S;
	pem = fx_pki(o->gw_key ? o->gw_key : "gw-rsa.key", &len);
	CHECK(keel_privkey_load(pem, (ptrdiff_t)len, NULL, &t->gw_key, NULL) == 0);
	free(pem);
	pem = fx_pki(o->gw_cert ? o->gw_cert : "gw-rsa.pem", &len);
	t->gw_cert = keel_certs_new();
	CHECK(keel_certs_add(t->gw_cert, pem, (ptrdiff_t)len) == 1);
	free(pem);
	const uint8_t *der = NULL;
	ptrdiff_t der_len = 0;
	CHECK(keel_certs_der(t->gw_cert, 0, &der, &der_len) == 0);
	t->g.cfg.key = t->gw_key;
	t->g.cfg.cert_der = der;
	t->g.cfg.cert_len = (size_t)der_len;
	if (o->auth == GW_AUTH_HYBRID) {
		c->ikev1_hybrid = true;
		return;
	}
	c->auth = KEEL_AUTH_CERT;
	t->cert = fx_pki(o->cert ? o->cert : "alice.pem", &len);
	c->cert = t->cert;
	c->cert_len = (ptrdiff_t)len;
	pem = fx_pki(o->key ? o->key : "alice.key", &len);
	t->key = keel_secret_new_from(pem, (ptrdiff_t)len);
	struct keel_privkey *k = NULL;
	if (keel_privkey_load(pem, (ptrdiff_t)len, NULL, &k, NULL) == 0)
		CHECK(keel_privkey_public(k, &t->client_pub) == 0);
	keel_privkey_free(k);
	free(pem);
	c->key = t->key;
	t->g.cfg.client_key = t->client_pub;
}

static void t_init(struct t *t, const struct t_opts *o, const struct gw_cfg *gc)
{
	memset(t, 0, sizeof(*t));
	t->rng.s = 0x1234567890abcdefull;
	t->env.random = rng_fill;
	t->env.random_ctx = &t->rng;
	t->g.rng.s = 0xfeedfacecafebeefull;
	t->g.env.random = rng_fill;
	t->g.env.random_ctx = &t->g.rng;
	t->g.cfg = *gc;
	if (!t->g.cfg.psk)
		t->g.cfg.psk = "keel-test-psk";
	if (!t->g.cfg.gw_id)
		t->g.cfg.gw_id = "gw.keel.test";
	t->now = 1000 * SEC;

	struct keel_config *c = &t->cfg;
	keel_config_init(c);
	c->ike_version = 1;
	addr4(&c->local, ip_cli, 500);
	addr4(&c->remote, ip_gw, 500);
	c->force_encap = o->force_encap;
	c->log_level = KEEL_LOG_DEBUG;
	t->psk = keel_secret_new_from((const uint8_t *)"keel-test-psk", 13);
	c->psk = t->psk;
	if (o->mode == KEEL_V1_AGGRESSIVE && o->auth == GW_AUTH_PSK)
		CHECK(keel_id_from_text("@#6b65656c2d67726f7570", &c->local_id) ==
		      0); /* keel-group */
	else
		CHECK(keel_id_from_text("alice@keel.test", &c->local_id) == 0);
	CHECK(keel_id_from_text("gw.keel.test", &c->remote_id) == 0);
	c->n_ike_proposals = 1;
	CHECK(keel_proposal_from_text(o->ike ? o->ike : "aes256-sha256-modp2048", KEEL_PROPOSAL_IKE,
	                              &c->ike_proposals[0], NULL) == 0);
	c->n_esp_proposals = 1;
	CHECK(keel_proposal_from_text(o->esp ? o->esp : "aes256-sha256", KEEL_PROPOSAL_ESP,
	                              &c->esp_proposals[0], NULL) == 0);
	if (o->ah) {
		c->n_ah_proposals = 1;
		CHECK(keel_proposal_from_text(o->ah, KEEL_PROPOSAL_AH, &c->ah_proposals[0], NULL) ==
		      0);
	}
	if (o->remote_ts) {
		c->n_remote_ts = 1;
		CHECK(keel_ts_from_text(o->remote_ts, &c->remote_ts[0]) == 0);
	}
	if (o->remote_ts2) {
		CHECK(keel_ts_from_text(o->remote_ts2, &c->remote_ts[c->n_remote_ts++]) == 0);
	}
	t_init_certs(t, o);
	keel_v1_options_init(&t->v1);
	t->v1.mode = o->mode;
	t->v1.modecfg = o->modecfg;
	t->v1.pfs_group = o->pfs;
	if (o->xauth) {
		t->user = keel_secret_new_from((const uint8_t *)"alice", 5);
		t->pass = keel_secret_new_from((const uint8_t *)"s3cret-pw", 9);
		t->v1.xauth = true;
		t->v1.xauth_user = t->user;
		t->v1.xauth_password = t->pass;
	}
	CHECK(keel_v1sa_new(c, &t->v1, &t->env, &t->sa) == 0);
}

static void t_free(struct t *t)
{
	keel_v1sa_free(t->sa);
	keel_secret_free(t->psk);
	keel_secret_free(t->user);
	keel_secret_free(t->pass);
	gw_free(&t->g);
	free(t->cert);
	free(t->ca);
	keel_secret_free(t->key);
	keel_privkey_free(t->gw_key);
	keel_certs_free(t->gw_cert);
	keel_pubkey_free(t->client_pub);
}

static void t_start(struct t *t)
{
	CHECK(keel_v1sa_start(t->sa, t->now) == 0);
	t_run(t);
}

static struct gw_cfg gw_default(void)
{
	struct gw_cfg c;
	memset(&c, 0, sizeof(c));
	c.modecfg = true;
	c.natt_rfc = true;
	c.dpd = true;
	return c;
}

/* The keys the gateway derived are the keys the engine installed. */
static void check_keys(struct t *t, const struct rec_install *r)
{
	const struct gw *g = &t->g;
	CHECK_INT(r->ci.spi_in, g->k_spi_i);
	CHECK_INT(r->ci.spi_out, g->k_spi_r);
	CHECK_MEM(r->ek_in, (size_t)r->ci.encr_key_len, g->k_ei, g->k_e_len);
	CHECK_MEM(r->ek_out, (size_t)r->ci.encr_key_len, g->k_er, g->k_e_len);
	CHECK_INT(r->ci.integ_key_len, g->k_a_len);
	if (g->k_a_len) {
		CHECK_MEM(r->ik_in, g->k_a_len, g->k_ai, g->k_a_len);
		CHECK_MEM(r->ik_out, g->k_a_len, g->k_ar, g->k_a_len);
	}
}

/* ------------------------------------------------------------------ */
/* the tests                                                          */

/* Aggressive Mode, XAUTH, Mode Config pull with Cisco Unity, quick mode. */
static void test_aggressive_xauth(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_AGGRESSIVE, .xauth = true};
	struct gw_cfg gc = gw_default();
	gc.xauth = true;
	gc.unity = true;
	gc.fake_nat = true; /* the gateway forces UDP encapsulation, as the lab's */
	t_init(&t, &o, &gc);
	t_start(&t);

	CHECK_INT(t.n_aggr_warn, 1);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK(t_has_state(&t, KEEL_STATE_CONNECTING));
	CHECK(t_has_state(&t, KEEL_STATE_IKE_SA_INIT));
	CHECK(t_has_state(&t, KEEL_STATE_AUTHENTICATING));
	CHECK(strstr(t_last_text(&t), "100.64.0.7") != NULL);
	CHECK(strcmp(t.g.xauth_user, "alice") == 0);
	CHECK(strcmp(t.g.xauth_pass, "s3cret-pw") == 0);
	CHECK_INT(t.g.n_xauth_replies, 1);
	CHECK_INT(t.g.n_acks, 1);
	CHECK_INT(t.g.n_modecfg_req, 1);
	CHECK_INT(t.g.n_initial_contact, 1);
	CHECK(t.g.natd_ok);
	CHECK_INT(t.g.natd_type_seen, KEEL_V1_PL_NAT_D);
	/* NAT-T: UDP-encapsulated tunnel of RFC 3947 */
	CHECK_INT(t.g.last_encap, KEEL_V1_ENCAP_UDP_TUNNEL);
	CHECK(t.last_natt);
	CHECK_INT(t.n_inst, 1);
	const struct rec_install *r = &t.inst[0];
	check_keys(&t, r);
	CHECK_INT(r->ci.encr, 12);
	CHECK_INT(r->ci.encr_key_bits, 256);
	CHECK_INT(r->ci.encr_key_len, 32);
	CHECK_INT(r->ci.integ, 12);
	CHECK_INT(r->ci.integ_key_len, 32);
	CHECK_INT(r->ci.reqid, 1);
	CHECK_INT(r->ci.rekeyed_child_id, 0);
	CHECK(r->ci.encap);
	CHECK_INT(r->ci.local.port, 4500);
	CHECK_INT(r->ci.remote.port, 4500);
	CHECK(r->ci.nat_local == false);
	CHECK_INT(r->ci.hard_life_s, 3960);
	CHECK(r->ci.soft_life_s > 0 && r->ci.soft_life_s < 3960);
	/* IDci the virtual IP; the remote side narrowed to the split networks */
	CHECK_MEM(r->ts_l[0].start, 4, vip, 4);
	CHECK_MEM(r->ts_l[0].end, 4, vip, 4);
	CHECK_INT(r->ci.n_ts_remote, 2);
	/* network configuration */
	CHECK_INT(t.n_netcfg, 1);
	CHECK(t.nc.has_ip4);
	CHECK_MEM(t.nc.ip4.addr.bytes, 4, vip, 4);
	CHECK_INT(t.nc.ip4.prefix_len, 24);
	CHECK_INT(t.nc.n_dns, 1);
	CHECK_MEM(t.dns[0].bytes, 4, dns1, 4);
	CHECK_INT(t.nc.n_routes, 2);
	static const uint8_t r1[4] = {198, 51, 100, 0}, r2[4] = {203, 0, 113, 0};
	CHECK_MEM(t.routes[0].addr.bytes, 4, r1, 4);
	CHECK_INT(t.routes[0].prefix_len, 24);
	CHECK_MEM(t.routes[1].addr.bytes, 4, r2, 4);
	CHECK_INT(t.routes[1].prefix_len, 25);
	CHECK(keel_v1sa_domain(t.sa) && strcmp(keel_v1sa_domain(t.sa), "corp.example") == 0);
	CHECK(keel_v1sa_banner(t.sa) && strcmp(keel_v1sa_banner(t.sa), "Welcome?") == 0);

	/* closing: DELETE for the ESP SA (our inbound SPI) and the ISAKMP SA */
	CHECK(keel_v1sa_stop(t.sa, t.now) == 0);
	t_run(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_CLOSED);
	CHECK(t_has_state(&t, KEEL_STATE_CLOSING));
	CHECK_INT(t.g.n_del_esp, 1);
	CHECK_INT(t.g.n_del_spis, 1);
	CHECK_INT(t.g.del_spis[0], r->ci.spi_in);
	CHECK_INT(t.g.n_del_isakmp, 1);
	CHECK_INT(t.n_rm, 1);
	CHECK_INT(t.rm[0].reason, KEEL_REASON_USER);
	CHECK_INT(keel_v1sa_deadline(t.sa), UINT64_MAX);
	CHECK_INT(keel_v1sa_tick(t.sa, t.now), KEEL_ERR_STATE);
	t_free(&t);
}

/* Main Mode with a PSK, AES-GCM ESP with PFS, no NAT, IDcr narrowed by the gateway. */
static void test_main_mode(void)
{
	static struct t t;
	struct t_opts o = {
	    .mode = KEEL_V1_MAIN, .ike = "aes256-sha256-ecp256", .esp = "aes128gcm16", .pfs = 19};
	struct gw_cfg gc = gw_default();
	gc.narrow = true;
	gc.commit = true; /* ignored: installed at once */
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.n_aggr_warn, 0);
	CHECK_INT(t.g.n_initial_contact, 1);
	CHECK(t.g.natd_ok);
	CHECK(!t.last_natt);
	CHECK_INT(t.g.last_encap, KEEL_V1_ENCAP_TUNNEL);
	CHECK_INT(t.g.sa[0].group, 19);
	CHECK_INT(t.g.sa[0].qm_group, 19);
	CHECK_INT(t.n_inst, 1);
	const struct rec_install *r = &t.inst[0];
	check_keys(&t, r);
	CHECK_INT(r->ci.encr, 20);
	CHECK_INT(r->ci.encr_key_bits, 128);
	CHECK_INT(r->ci.encr_key_len, 20); /* RFC 4106 §8.1: key and salt */
	CHECK_INT(r->ci.integ, 0);
	CHECK_INT(r->ci.integ_key_len, 0);
	CHECK(!r->ci.encap);
	CHECK_INT(r->ci.remote.port, 500);
	static const uint8_t net[4] = {198, 51, 100, 0}, bcast[4] = {198, 51, 100, 255};
	CHECK_INT(r->ci.n_ts_remote, 1);
	CHECK_MEM(r->ts_r[0].start, 4, net, 4);
	CHECK_MEM(r->ts_r[0].end, 4, bcast, 4);
	CHECK_INT(t.nc.n_routes, 1);
	CHECK_MEM(t.routes[0].addr.bytes, 4, net, 4);
	CHECK_INT(t.routes[0].prefix_len, 24);
	CHECK(keel_v1sa_domain(t.sa) == NULL);
	t_free(&t);
}

/* A gateway with another PSK: Aggressive Mode names it at once. */
static void test_bad_psk(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_AGGRESSIVE, .xauth = true};
	struct gw_cfg gc = gw_default();
	gc.xauth = true;
	gc.psk = "another-psk";
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_PEER_AUTH);
	CHECK(strstr(t_last_text(&t), "pre-shared key") != NULL);
	CHECK(strstr(t_last_text(&t), "HASH_R") != NULL);
	CHECK(strstr(t.last_error, "pre-shared key") != NULL);
	CHECK_INT(t.n_inst, 0);
	t_free(&t);

	/* a HASH_R that is wrong for another reason reads the same */
	gc = gw_default();
	gc.bad_hash_r = true;
	o.xauth = false;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_PEER_AUTH);
	t_free(&t);

	/* Main Mode: the gateway's answers do not decrypt; at give-up the PSK is named */
	struct t_opts om = {.mode = KEEL_V1_MAIN};
	gc = gw_default();
	gc.psk = "another-psk";
	t_init(&t, &om, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_AUTHENTICATING);
	t_advance(&t, t.now + 200 * SEC);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_AUTH_REFUSED);
	CHECK(strstr(t_last_text(&t), "pre-shared key") != NULL);
	t_free(&t);

	/* Main Mode, a HASH_R that does not verify under keys that do: named at give-up */
	gc = gw_default();
	gc.bad_hash_r = true;
	t_init(&t, &om, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_AUTHENTICATING);
	t_advance(&t, t.now + 200 * SEC);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_PEER_AUTH);
	CHECK(strstr(t_last_text(&t), "HASH_R") != NULL);
	CHECK(t.g.n_retransmits_seen >= 5); /* it saw our message 5 again and answered */
	t_free(&t);
}

static void test_xauth_refused(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_AGGRESSIVE, .xauth = true};
	struct gw_cfg gc = gw_default();
	gc.xauth = true;
	gc.xauth_fail = true;
	gc.xauth_type_attr = true;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_AUTH_REFUSED);
	CHECK(strstr(t_last_text(&t), "XAUTH password refused") != NULL);
	CHECK(strstr(t_last_text(&t), "alice") == NULL); /* no XAUTH attribute in texts */
	CHECK_INT(t.g.n_acks, 1);                        /* the status was acknowledged */
	CHECK_INT(t.g.n_modecfg_req, 0);
	t_free(&t);

	/* the gateway asks for XAUTH, the profile has none */
	gc = gw_default();
	gc.xauth = true;
	o.xauth = false;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_CONFIG);
	CHECK(strstr(t_last_text(&t), "XAUTH") != NULL);
	t_free(&t);
}

static void test_no_proposal(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_MAIN};
	struct gw_cfg gc = gw_default();
	gc.no_proposal_p1 = true;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_NO_PROPOSAL);
	CHECK(strstr(t_last_text(&t), "aes256-sha256-modp2048") != NULL);
	t_free(&t);

	gc = gw_default();
	gc.no_proposal_qm = true;
	struct t_opts o2 = {.mode = KEEL_V1_MAIN, .esp = "aes256gcm16-aes128gcm16"};
	t_init(&t, &o2, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_NO_PROPOSAL);
	CHECK(strstr(t_last_text(&t), "ESP") != NULL);
	CHECK(strstr(t_last_text(&t), "aes256gcm16, aes128gcm16") != NULL);
	CHECK_INT(t.n_inst, 0);
	CHECK_INT(t.g.n_del_isakmp, 1); /* no tunnel: the ISAKMP SA goes too */
	t_free(&t);
}

static void test_retransmit(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_AGGRESSIVE};
	struct gw_cfg gc = gw_default();
	gc.silent = true;
	t_init(&t, &o, &gc);
	uint64_t t0 = t.now;
	t_start(&t);
	CHECK_INT(t.n_sent, 1);
	static uint8_t first[PKT_MAX];
	size_t first_len = t.out[0].len;
	memcpy(first, t.out[0].data, first_len);
	t.n_out = 0;
	t.hold = true;
	/* 4 s, then each wait x1.8 (strongSwan's schedule), five resends */
	static const uint64_t waits_ms[] = {4000, 7200, 12960, 23328, 41990};
	uint64_t at = t0;
	for (size_t i = 0; i < 5; i++) {
		at += waits_ms[i] * MS;
		uint64_t d = keel_v1sa_deadline(t.sa);
		CHECK(d >= at - MS && d <= at + MS);
		CHECK(keel_v1sa_tick(t.sa, d - 1) == 0);
		t_drain(&t);
		CHECK_INT(t.n_sent, i + 1);
		t.now = d;
		CHECK(keel_v1sa_tick(t.sa, d) == 0);
		t_drain(&t);
		CHECK_INT(t.n_sent, i + 2);
		CHECK(t.n_out == 1 && t.out[0].len == first_len &&
		      memcmp(t.out[0].data, first, first_len) == 0);
		t.n_out = 0;
		at = d;
	}
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_IKE_SA_INIT);
	uint64_t d = keel_v1sa_deadline(t.sa);
	CHECK(d > at + 75 * SEC && d < at + 76 * SEC);
	keel_v1sa_tick(t.sa, d);
	t_drain(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_TIMEOUT);
	CHECK(strstr(t_last_text(&t), "6 tries") != NULL);
	CHECK_INT(t.n_sent, 6);
	CHECK(d - t0 > 165 * SEC && d - t0 < 166 * SEC);
	t_free(&t);
}

static void test_dpd(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_MAIN};
	struct gw_cfg gc = gw_default();
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	struct gsa *s = &t.g.sa[0];

	/* the gateway asks */
	uint8_t spi[16], seq[4];
	memcpy(spi, s->cky_i, 8);
	memcpy(spi + 8, s->cky_r, 8);
	put32(seq, 100);
	gw_info_notify(&t.g, s, KEEL_V1_PROTO_ISAKMP, spi, 16, KEEL_V1_N_R_U_THERE, seq, 4, false);
	struct pkt rut = t.g.q[0];
	t_run(&t);
	CHECK_INT(t.g.n_rut_ack, 1);
	CHECK_INT(t.g.rut_seq_acked, 100);
	/* the same message again is a replay: no answer */
	CHECK(t_recv(&t, rut.data, rut.len, false) != 0);
	t_run(&t);
	CHECK_INT(t.g.n_rut_ack, 1);
	/* an older sequence number in a new message: no answer either */
	put32(seq, 99);
	gw_info_notify(&t.g, s, KEEL_V1_PROTO_ISAKMP, spi, 16, KEEL_V1_N_R_U_THERE, seq, 4, false);
	t_run(&t);
	CHECK_INT(t.g.n_rut_ack, 1);

	/* we ask after 30 s of silence, and go on when answered */
	uint64_t quiet = t.now;
	t_advance(&t, quiet + 29 * SEC);
	CHECK_INT(t.g.n_rut, 0);
	t_advance(&t, quiet + 31 * SEC);
	CHECK_INT(t.g.n_rut, 1);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	t_advance(&t, t.now + 31 * SEC);
	CHECK_INT(t.g.n_rut, 2);

	/* a gateway that stops answering is a dead peer */
	t.g.cfg.silent_dpd = true;
	t_advance(&t, t.now + 400 * SEC);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_DEAD_PEER);
	CHECK(t.g.n_rut >= 3 + 5);
	CHECK_INT(t.n_rm, 1);
	CHECK_INT(t.rm[0].reason, KEEL_REASON_DEAD_PEER);
	t_free(&t);

	/* a gateway without the DPD Vendor ID gets no R-U-THERE */
	gc = gw_default();
	gc.dpd = false;
	t_init(&t, &o, &gc);
	t_start(&t);
	t_advance(&t, t.now + 120 * SEC);
	CHECK_INT(t.g.n_rut, 0);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	t_free(&t);
}

static void test_peer_delete(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_MAIN};
	struct gw_cfg gc = gw_default();
	t_init(&t, &o, &gc);
	t_start(&t);
	struct gsa *s = &t.g.sa[0];
	uint8_t spi[4];
	uint32_t gw_spi = s->spi_r;
	/* the gateway names the SPI it receives on */
	put32(spi, gw_spi);
	gw_info_delete(&t.g, s, KEEL_V1_PROTO_ESP, spi, 4, false);
	t_run(&t);
	CHECK_INT(t.n_rm, 1);
	CHECK_INT(t.rm[0].reason, KEEL_REASON_PEER_DELETE);
	CHECK_INT(t.rm[0].spi_out, gw_spi);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_PEER_DELETE);
	CHECK_INT(t.g.n_del_isakmp, 1);
	t_free(&t);

	t_init(&t, &o, &gc);
	t_start(&t);
	s = &t.g.sa[0];
	uint8_t cookies[16];
	memcpy(cookies, s->cky_i, 8);
	memcpy(cookies + 8, s->cky_r, 8);
	gw_info_delete(&t.g, s, KEEL_V1_PROTO_ISAKMP, cookies, 16, false);
	t_run(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_CLOSED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_PEER_DELETE);
	CHECK_INT(t.n_rm, 1);
	t_free(&t);
}

/* Our quick mode rekey: make the new pair, then delete and remove the old one. */
static void test_child_rekey(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_AGGRESSIVE, .xauth = true, .pfs = 14};
	struct gw_cfg gc = gw_default();
	gc.xauth = true;
	gc.fake_nat = true;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(t.n_inst, 1);
	uint32_t first = t.inst[0].ci.child_id, old_in = t.inst[0].ci.spi_in;
	uint64_t soft = t.now + (uint64_t)t.inst[0].ci.soft_life_s * SEC;
	t_advance(&t, soft - 2 * SEC);
	CHECK_INT(t.n_inst, 1);
	t_advance(&t, soft + 2 * SEC);
	CHECK_INT(t.n_inst, 2);
	const struct rec_install *r = &t.inst[1];
	CHECK_INT(r->ci.rekeyed_child_id, first);
	CHECK_INT(r->ci.reqid, t.inst[0].ci.reqid);
	CHECK(r->ci.child_id != first);
	CHECK(r->ci.spi_in != old_in);
	check_keys(&t, r);
	CHECK_INT(t.g.sa[0].qm_group, 14);
	CHECK_INT(t.n_rm, 1);
	CHECK_INT(t.rm[0].child_id, first);
	CHECK_INT(t.rm[0].reason, KEEL_REASON_REKEYED);
	CHECK_INT(t.g.n_del_spis, 1);
	CHECK_INT(t.g.del_spis[0], old_in);
	CHECK(t_has_state(&t, KEEL_STATE_REKEYING));
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.n_netcfg, 1);

	/* by request */
	CHECK(keel_v1sa_rekey(t.sa, KEEL_REKEY_CHILD, 12345, t.now) == KEEL_ERR_INVAL);
	CHECK(keel_v1sa_rekey(t.sa, KEEL_REKEY_CHILD, r->ci.child_id, t.now) == 0);
	t_run(&t);
	CHECK_INT(t.n_inst, 3);
	CHECK_INT(t.inst[2].ci.rekeyed_child_id, r->ci.child_id);
	check_keys(&t, &t.inst[2]);
	CHECK_INT(t.n_rm, 2);
	t_free(&t);
}

/* The gateway rekeys: we answer its quick mode; it deletes the old pair. */
static void test_gateway_rekey(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_MAIN};
	struct gw_cfg gc = gw_default();
	gc.narrow = true;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(t.n_inst, 1);
	struct gsa *s = &t.g.sa[0];
	uint32_t old_gw_spi = s->spi_r, old_id = t.inst[0].ci.child_id;
	gw_quick_start(&t.g, s, false);
	t_run(&t);
	CHECK_INT(t.n_inst, 2);
	const struct rec_install *r = &t.inst[1];
	CHECK_INT(r->ci.rekeyed_child_id, old_id);
	CHECK_INT(r->ci.spi_out, s->spi_r);
	check_keys(&t, r);
	CHECK_INT(t.n_rm, 0); /* the gateway deletes the old one itself */
	uint8_t spi[4];
	put32(spi, old_gw_spi);
	gw_info_delete(&t.g, s, KEEL_V1_PROTO_ESP, spi, 4, false);
	t_run(&t);
	CHECK_INT(t.n_rm, 1);
	CHECK_INT(t.rm[0].reason, KEEL_REASON_REKEYED);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	/* the replaced pair is not rekeyed by us */
	t_advance(&t, t.now + 4000 * SEC);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	t_free(&t);
}

/*
 * The gateway's quick mode installs the pair as our message 2 reaches it and
 * may send on it at once: we install it before sending message 2, receiving
 * only, and send on it once message 3 comes (RFC 2409 §5.5). Without
 * message 3 the pair goes again; the commit bit (RFC 2408 §3.1) keeps it
 * receiving only until the gateway deletes the old pair.
 */
static void test_gateway_rekey_inbound_first(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_AGGRESSIVE, .xauth = true};
	struct gw_cfg gc = gw_default();
	gc.xauth = true;
	gc.narrow = true;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(t.n_inst, 1);
	CHECK(!t.inst[0].ci.inbound_first);
	struct gsa *s = &t.g.sa[0];
	uint32_t old_id = t.inst[0].ci.child_id, old_gw_spi = s->spi_r;
	uint8_t spi[4];

	/* message 1 in, our message 2 held back: the pair is in, receiving only */
	t.hold = true;
	gw_quick_start(&t.g, s, false);
	unsigned qm3 = t.g.n_qm3;
	t_run(&t);
	CHECK_INT(t.n_inst, 2);
	const struct rec_install *r = &t.inst[1];
	CHECK(r->ci.inbound_first);
	CHECK_INT(r->ci.rekeyed_child_id, old_id);
	CHECK_INT(r->ci.reqid, t.inst[0].ci.reqid);
	CHECK_INT(r->ci.spi_out, s->spi_r);
	CHECK_INT(t.n_out, 1);                   /* message 2 ... */
	CHECK_INT(r->sent_before + 1, t.n_sent); /* ... sent after the install */
	CHECK_INT(t.n_act, 0);
	CHECK_INT(t.n_rm, 0);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	/* message 2 reaches the gateway, its message 3 comes back: send on the pair */
	t.hold = false;
	t_run(&t);
	CHECK_INT(t.g.n_qm3, qm3 + 1);
	check_keys(&t, r);
	CHECK_INT(t.n_inst, 2);
	CHECK_INT(t.n_act, 1);
	CHECK_INT(t.act[0].child_id, r->ci.child_id);
	CHECK_INT(t.act[0].reqid, r->ci.reqid);
	CHECK_INT(t.act[0].spi_in, r->ci.spi_in);
	CHECK_INT(t.act[0].spi_out, r->ci.spi_out);
	CHECK_INT(t.act[0].protocol, KEEL_PROTO_ESP);
	CHECK_INT(t.n_rm, 0); /* the gateway deletes the old pair itself */
	put32(spi, old_gw_spi);
	gw_info_delete(&t.g, s, KEEL_V1_PROTO_ESP, spi, 4, false);
	t_run(&t);
	CHECK_INT(t.n_rm, 1);
	CHECK_INT(t.rm[0].child_id, old_id);
	CHECK_INT(t.rm[0].reason, KEEL_REASON_REKEYED);
	CHECK_INT(t.n_act, 1);
	uint32_t cur_id = r->ci.child_id;
	old_gw_spi = s->spi_r;

	/* message 2 lost, no message 3: the pair goes, the tunnel keeps its pair */
	t.hold = true;
	gw_quick_start(&t.g, s, false);
	t_run(&t);
	CHECK_INT(t.n_inst, 3);
	CHECK(t.inst[2].ci.inbound_first);
	CHECK_INT(t.inst[2].ci.rekeyed_child_id, cur_id);
	uint32_t lost_id = t.inst[2].ci.child_id;
	t.n_out = 0;
	t.hold = false;
	t_advance(&t, t.now + 2 * SEC);
	CHECK(t_removed(&t, lost_id) == NULL);
	t_advance(&t, t.now + 600 * SEC);
	const struct keel_out_child_remove *rm = t_removed(&t, lost_id);
	CHECK(rm != NULL);
	if (rm) {
		CHECK_INT(rm->reason, KEEL_REASON_TIMEOUT);
		CHECK_INT(rm->spi_in, t.inst[2].ci.spi_in);
	}
	CHECK(t_removed(&t, cur_id) == NULL);
	CHECK_INT(t.n_act, 1);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	/* our own rekey replaces the pair in use, at once (no inbound first) */
	size_t n_inst = t.n_inst;
	CHECK(keel_v1sa_rekey(t.sa, KEEL_REKEY_CHILD, cur_id, t.now) == 0);
	t_run(&t);
	CHECK_INT(t.n_inst, n_inst + 1);
	CHECK_INT(t.inst[n_inst].ci.rekeyed_child_id, cur_id);
	CHECK(!t.inst[n_inst].ci.inbound_first);
	CHECK(t_removed(&t, cur_id) != NULL);
	cur_id = t.inst[n_inst].ci.child_id;
	CHECK_INT(t.n_act, 1);

	/* the gateway starts another quick mode instead: the unconfirmed pair goes */
	t.hold = true;
	gw_quick_start(&t.g, s, false);
	t_run(&t);
	lost_id = t.inst[t.n_inst - 1].ci.child_id;
	t.n_out = 0;
	gw_quick_start(&t.g, s, false);
	t_run(&t);
	rm = t_removed(&t, lost_id);
	CHECK(rm != NULL && rm->reason == KEEL_REASON_TIMEOUT);
	t.hold = false;
	t_run(&t); /* message 2 of the second one, then its message 3 */
	CHECK_INT(t.n_act, 2);
	CHECK_INT(t.act[1].child_id, t.inst[t.n_inst - 1].ci.child_id);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	t_free(&t);

	/* message 3 lost, but the gateway deletes the old pair: it has the new one */
	t_init(&t, &o, &gc);
	t_start(&t);
	s = &t.g.sa[0];
	old_id = t.inst[0].ci.child_id;
	old_gw_spi = s->spi_r;
	gw_quick_start(&t.g, s, false);
	t.hold = true;
	t_run(&t);
	gw_input(&t.g, t.out[0].data, t.out[0].len, t.out[0].natt);
	t.n_out = 0;
	t.g.nq = 0; /* message 3 lost */
	t.hold = false;
	CHECK_INT(t.n_act, 0);
	put32(spi, old_gw_spi);
	gw_info_delete(&t.g, s, KEEL_V1_PROTO_ESP, spi, 4, false);
	t_run(&t);
	CHECK_INT(t.n_act, 1);
	CHECK_INT(t.act[0].child_id, t.inst[1].ci.child_id);
	CHECK_INT(t.n_rm, 1);
	CHECK_INT(t.rm[0].child_id, old_id);
	CHECK_INT(t.rm[0].reason, KEEL_REASON_REKEYED);
	t_advance(&t, t.now + 600 * SEC);
	CHECK_INT(t.n_rm, 1);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	t_free(&t);

	/* a new phase 1 while message 3 is awaited: the pair goes with the old one */
	t_init(&t, &o, &gc);
	t_start(&t);
	s = &t.g.sa[0];
	old_id = t.inst[0].ci.child_id;
	gw_quick_start(&t.g, s, false);
	t.hold = true;
	t_run(&t);
	CHECK_INT(t.n_inst, 2);
	lost_id = t.inst[1].ci.child_id;
	t.n_out = 0;
	t.hold = false;
	CHECK(keel_v1sa_rekey(t.sa, KEEL_REKEY_IKE, 0, t.now) == 0);
	t_run(&t);
	CHECK_INT(t.g.n_p1, 2);
	rm = t_removed(&t, lost_id);
	CHECK(rm != NULL && rm->reason == KEEL_REASON_TIMEOUT);
	CHECK(t_removed(&t, old_id) == NULL);
	CHECK_INT(t.n_act, 0);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	t_free(&t);

	/* the commit bit: no activation at message 3; the old pair's delete switches */
	gc.commit_rekey = true;
	t_init(&t, &o, &gc);
	t_start(&t);
	s = &t.g.sa[0];
	old_id = t.inst[0].ci.child_id;
	old_gw_spi = s->spi_r;
	gw_quick_start(&t.g, s, false);
	t_run(&t);
	CHECK_INT(t.n_inst, 2);
	CHECK(t.inst[1].ci.inbound_first);
	check_keys(&t, &t.inst[1]);
	CHECK_INT(t.n_act, 0);
	t_advance(&t, t.now + 600 * SEC);
	CHECK(t_removed(&t, t.inst[1].ci.child_id) == NULL); /* confirmed: it stays */
	put32(spi, old_gw_spi);
	gw_info_delete(&t.g, s, KEEL_V1_PROTO_ESP, spi, 4, false);
	t_run(&t);
	rm = t_removed(&t, old_id);
	CHECK(rm != NULL && rm->reason == KEEL_REASON_REKEYED);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	t_free(&t);
}

/* A new phase 1 before the ISAKMP SA expires: XAUTH and Mode Config again, old one deleted. */
static void test_phase1_renewal(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_AGGRESSIVE, .xauth = true};
	struct gw_cfg gc = gw_default();
	gc.xauth = true;
	gc.fake_nat = true;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(t.g.n_p1, 1);
	CHECK(keel_v1sa_rekey(t.sa, KEEL_REKEY_IKE, 0, t.now) == 0);
	t_run(&t);
	CHECK_INT(t.g.n_p1, 2);
	CHECK_INT(t.g.n_xauth_replies, 2);
	CHECK_INT(t.g.n_modecfg_req, 2);
	CHECK_INT(t.g.n_del_isakmp, 1);
	CHECK_INT(t.g.n_initial_contact, 1); /* not on a renewal */
	CHECK_INT(t.n_inst, 1);
	CHECK_INT(t.n_rm, 0);
	CHECK_INT(t.n_netcfg, 1);
	CHECK(t_has_state(&t, KEEL_STATE_REKEYING));
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	/* the tunnel is rekeyed under the new phase 1 */
	CHECK(keel_v1sa_rekey(t.sa, KEEL_REKEY_CHILD, 0, t.now) == 0);
	t_run(&t);
	CHECK_INT(t.n_inst, 2);
	CHECK(t.g.sa[1].qm_mid != 0);
	check_keys(&t, &t.inst[1]);
	t_free(&t);

	/* by lifetime: the gateway keeps the ISAKMP SA 3600 s */
	gc.p1_life = 3600;
	t_init(&t, &o, &gc);
	t_start(&t);
	uint64_t t0 = t.now;
	/* renewed at 3600 s less the margin (1440 s) less up to the jitter (1440 s) */
	t_advance(&t, t0 + 700 * SEC);
	CHECK_INT(t.g.n_p1, 1);
	t_advance(&t, t0 + 3600 * SEC);
	CHECK(t.g.n_p1 >= 2);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	t_advance(&t, t0 + 20000 * SEC);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK(t.g.n_p1 >= 6);
	t_free(&t);
}

static void test_lifetimes(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_MAIN};
	struct gw_cfg gc = gw_default();
	gc.qm_life = 1200;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(t.inst[0].ci.hard_life_s, 1200);
	CHECK(t.inst[0].ci.soft_life_s < 1200 && t.inst[0].ci.soft_life_s >= 600);
	t_free(&t);

	gc.qm_life = 0;
	gc.qm_notify_life = 900;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(t.inst[0].ci.hard_life_s, 900);
	uint64_t t0 = t.now;
	t_advance(&t, t0 + 900 * SEC);
	CHECK(t.n_inst >= 2); /* rekeyed before the gateway's lifetime */
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	t_free(&t);
}

static void test_variants(void)
{
	static struct t t;
	/* NAT-T as the drafts: NAT-D payload 130, encapsulation mode 61443 */
	struct t_opts o = {.mode = KEEL_V1_MAIN};
	struct gw_cfg gc = gw_default();
	gc.natt_rfc = false;
	gc.natt_draft = true;
	gc.fake_nat = true;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.g.natd_type_seen, KEEL_V1_PL_NAT_D_DRAFT);
	CHECK_INT(t.g.last_encap, KEEL_V1_ENCAP_UDP_TUNNEL_DRAFT);
	CHECK(t.inst[0].ci.encap);
	t_free(&t);

	/* we force encapsulation: the gateway sees a NAT, both move to 4500 */
	struct t_opts of = {.mode = KEEL_V1_MAIN, .force_encap = true};
	gc = gw_default();
	t_init(&t, &of, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK(t.inst[0].ci.encap);
	CHECK(t.inst[0].ci.nat_local);
	CHECK_INT(t.g.last_encap, KEEL_V1_ENCAP_UDP_TUNNEL);
	t_free(&t);

	/* Mode Config pushed after XAUTH */
	struct t_opts op = {
	    .mode = KEEL_V1_AGGRESSIVE, .xauth = true, .modecfg = KEEL_V1_MODECFG_PUSH};
	gc = gw_default();
	gc.xauth = true;
	gc.push = true;
	t_init(&t, &op, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.g.n_modecfg_req, 0);
	CHECK_INT(t.g.n_acks, 2);
	CHECK(t.nc.has_ip4);
	CHECK_MEM(t.inst[0].ts_l[0].start, 4, vip, 4);
	t_free(&t);

	/* pushed although we would pull: taken, and our request is dropped */
	op.modecfg = KEEL_V1_MODECFG_PULL;
	t_init(&t, &op, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK(t.nc.has_ip4);
	t_free(&t);

	/* no Mode Config: IDci is our address, a network of our choosing */
	struct t_opts on = {
	    .mode = KEEL_V1_MAIN, .modecfg = KEEL_V1_MODECFG_OFF, .remote_ts = "198.51.100.0/24"};
	gc = gw_default();
	t_init(&t, &on, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.g.n_modecfg_req, 0);
	CHECK_MEM(t.inst[0].ts_l[0].start, 4, ip_cli, 4);
	CHECK(!t.nc.has_ip4);
	CHECK_INT(t.nc.n_routes, 1);
	CHECK_INT(t.routes[0].prefix_len, 24);
	t_free(&t);

	/* a phase 1 answer in fragments, the last one first */
	gc = gw_default();
	gc.fragment = true;
	struct t_opts oa = {.mode = KEEL_V1_AGGRESSIVE};
	t_init(&t, &oa, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	check_keys(&t, &t.inst[0]);
	t_free(&t);

	/* two remote networks: two tunnels, two quick modes, the routes of both */
	struct t_opts o2 = {
	    .mode = KEEL_V1_MAIN, .remote_ts = "198.51.100.0/24", .remote_ts2 = "203.0.113.0/24"};
	gc = gw_default();
	t_init(&t, &o2, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.n_inst, 2);
	CHECK_INT(t.inst[0].ci.reqid, 1);
	CHECK_INT(t.inst[1].ci.reqid, 2);
	CHECK_INT(t.g.n_qm1, 2);
	CHECK_INT(t.n_netcfg, 2);
	CHECK_INT(t.nc.n_routes, 2);
	check_keys(&t, &t.inst[1]);
	t_free(&t);

	/* the gateway sends no Mode Config answer: timeout */
	gc = gw_default();
	gc.modecfg = false;
	t_init(&t, &o, &gc);
	t_start(&t);
	t_advance(&t, t.now + 200 * SEC);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_TIMEOUT);
	CHECK(strstr(t_last_text(&t), "Mode Config") != NULL);
	t_free(&t);
}

static void test_api(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_MAIN};
	struct gw_cfg gc = gw_default();
	t_init(&t, &o, &gc);
	struct keel_dgram dg = {.data = (const uint8_t *)"x", .len = 1};
	CHECK_INT(keel_v1sa_recv(t.sa, &dg, t.now), KEEL_ERR_STATE);
	CHECK_INT(keel_v1sa_tick(t.sa, t.now), KEEL_ERR_STATE);
	CHECK_INT(keel_v1sa_deadline(t.sa), UINT64_MAX);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_IDLE);
	CHECK_INT(keel_v1sa_rekey(t.sa, KEEL_REKEY_IKE, 0, t.now), KEEL_ERR_STATE);
	t_start(&t);
	CHECK_INT(keel_v1sa_start(t.sa, t.now), KEEL_ERR_STATE);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(keel_v1sa_recv(t.sa, &dg, t.now), KEEL_ERR_MALFORMED);
	CHECK(keel_v1sa_stop(t.sa, t.now) == 0);
	CHECK_INT(keel_v1sa_stop(t.sa, t.now), KEEL_ERR_STATE);
	t_drain(&t);
	t_free(&t);

	/* stopping before phase 1 is done */
	t_init(&t, &o, &gc);
	t.g.cfg.silent = true;
	t_start(&t);
	CHECK(keel_v1sa_stop(t.sa, t.now) == 0);
	t_drain(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_CLOSED);
	t_free(&t);

	/* configurations that cannot work */
	struct keel_v1sa *sa = NULL;
	struct rng rng = {1};
	struct keel_env env = {.random = rng_fill, .random_ctx = &rng};
	struct keel_config c;
	struct keel_v1_options v1;
	struct keel_secret *psk = keel_secret_new_from((const uint8_t *)"x", 1);
	keel_config_init(&c);
	addr4(&c.local, ip_cli, 500);
	addr4(&c.remote, ip_gw, 500);
	c.psk = psk;
	keel_v1_options_init(&v1);
	CHECK_INT(keel_v1sa_new(&c, &v1, &env, &sa), KEEL_ERR_INVAL); /* ike_version 2 */
	c.ike_version = 1;
	v1.xauth = true;
	CHECK_INT(keel_v1sa_new(&c, &v1, &env, &sa), KEEL_ERR_INVAL); /* no XAUTH secrets */
	v1.xauth = false;
	v1.pfs_group = 2;
	CHECK_INT(keel_v1sa_new(&c, &v1, &env, &sa), KEEL_ERR_UNSUPPORTED);
	v1.pfs_group = 0;
	c.n_ike_proposals = 1;
	CHECK(keel_proposal_from_text("aes256gcm16-prfsha256-x25519", KEEL_PROPOSAL_IKE,
	                              &c.ike_proposals[0], NULL) == 0);
	CHECK_INT(keel_v1sa_new(&c, &v1, &env, &sa), KEEL_ERR_UNSUPPORTED); /* no IKEv1 form */
	c.n_ike_proposals = 0;
	c.auth = KEEL_AUTH_EAP;
	CHECK_INT(keel_v1sa_new(&c, &v1, &env, &sa), KEEL_ERR_UNSUPPORTED);
	c.auth = KEEL_AUTH_PSK;
	c.psk = NULL;
	CHECK_INT(keel_v1sa_new(&c, &v1, &env, &sa), KEEL_ERR_INVAL);
	c.psk = psk;
	CHECK_INT(keel_v1sa_new(&c, &v1, &env, &sa), 0); /* Keel's default proposals */
	keel_v1sa_free(sa);
	keel_v1sa_free(NULL);
	keel_secret_free(psk);
}

/* ---- hostile input at every stage ---- */

static struct pkt hist[128];
static size_t n_hist;

/* Broken copies of p first: none may crash, change the state or install anything. */
static void hostile(struct t *t, const struct pkt *p)
{
	static uint8_t buf[PKT_MAX + 16];
	size_t n_states = t->n_states, n_inst = t->n_inst, n_rm = t->n_rm, n_nc = t->n_netcfg;
	enum keel_state st = keel_v1sa_state(t->sa);
	size_t len = p->len;
	bool enc = len > 19 && (p->data[19] & KEEL_V1_FLAG_ENC);
	const size_t cuts[] = {0, 1, 27, 28, 29, len / 2, len - 1};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		if (cuts[i] >= len)
			continue;
		memcpy(buf, p->data, cuts[i]);
		CHECK(t_recv(t, buf, cuts[i], p->natt) != 0);
	}
	/* one byte more than the header says */
	memcpy(buf, p->data, len);
	buf[len] = 0;
	CHECK(t_recv(t, buf, len + 1, p->natt) != 0);
	/* a header length that lies */
	memcpy(buf, p->data, len);
	buf[27] ^= 0x04;
	CHECK(t_recv(t, buf, len, p->natt) != 0);
	/* the same header, a random body */
	memcpy(buf, p->data, 28);
	rng_fill(&t->g.rng, buf + 28, len - 28);
	t_recv(t, buf, len, p->natt);
	if (enc && len >= 28 + 32) {
		/* damage in the first and a middle block: the HASH or the chain breaks */
		size_t at[] = {28, 28 + 5, 28 + ((len - 28) / 16 / 2) * 16 + 3};
		for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
			if (at[i] >= len - 16)
				continue;
			memcpy(buf, p->data, len);
			buf[at[i]] ^= 0x5a;
			CHECK(t_recv(t, buf, len, p->natt) != 0);
		}
		/* another message ID: the IV is wrong, nothing decrypts */
		memcpy(buf, p->data, len);
		buf[23] ^= 0x01;
		CHECK(t_recv(t, buf, len, p->natt) != 0);
	}
	/* another responder cookie: for no SA of ours (phase 1 answers in clear are
	 * taken as they come: IKEv1 cannot tell a forged one before HASH_R) */
	if (enc) {
		memcpy(buf, p->data, len);
		buf[15] ^= 0x80;
		CHECK(t_recv(t, buf, len, p->natt) != 0);
	}
	CHECK_INT(t->n_states, n_states);
	CHECK_INT(t->n_inst, n_inst);
	CHECK_INT(t->n_rm, n_rm);
	CHECK_INT(t->n_netcfg, n_nc);
	CHECK_INT(keel_v1sa_state(t->sa), st);
	t->n_out = 0; /* whatever the engine resent is not for the gateway */
}

static void t_run_hostile(struct t *t)
{
	for (int round = 0; round < 64; round++) {
		t_drain(t);
		bool any = t->n_out > 0;
		for (size_t i = 0; i < t->n_out; i++)
			gw_input(&t->g, t->out[i].data, t->out[i].len, t->out[i].natt);
		t->n_out = 0;
		size_t nq = t->g.nq;
		static struct pkt q[QMAX];
		memcpy(q, t->g.q, nq * sizeof(q[0]));
		t->g.nq = 0;
		for (size_t i = 0; i < nq; i++) {
			hostile(t, &q[i]);
			if (n_hist < 128)
				hist[n_hist++] = q[i];
			t_recv(t, q[i].data, q[i].len, q[i].natt);
		}
		any |= nq > 0;
		if (!any)
			return;
	}
}

static void test_hostile(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_AGGRESSIVE, .xauth = true};
	struct gw_cfg gc = gw_default();
	gc.xauth = true;
	gc.unity = true;
	gc.fake_nat = true;
	n_hist = 0;
	t_init(&t, &o, &gc);
	CHECK(keel_v1sa_start(t.sa, t.now) == 0);
	t_run_hostile(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.n_inst, 1);
	check_keys(&t, &t.inst[0]);
	CHECK(n_hist >= 5);

	/* every message of the gateway again: replays change nothing */
	size_t n_states = t.n_states, n_inst = t.n_inst, n_nc = t.n_netcfg;
	for (size_t i = 0; i < n_hist; i++) {
		t_recv(&t, hist[i].data, hist[i].len, hist[i].natt);
		t.n_out = 0;
	}
	CHECK_INT(t.n_states, n_states);
	CHECK_INT(t.n_inst, n_inst);
	CHECK_INT(t.n_netcfg, n_nc);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);

	/* and while established: DPD, a rekey, a gateway's rekey, all under fire */
	struct gsa *s = &t.g.sa[0];
	uint8_t spi[16], seq[4];
	memcpy(spi, s->cky_i, 8);
	memcpy(spi + 8, s->cky_r, 8);
	put32(seq, 7);
	gw_info_notify(&t.g, s, KEEL_V1_PROTO_ISAKMP, spi, 16, KEEL_V1_N_R_U_THERE, seq, 4, true);
	t_run_hostile(&t);
	CHECK_INT(t.g.n_rut_ack, 1);
	CHECK(keel_v1sa_rekey(t.sa, KEEL_REKEY_CHILD, 0, t.now) == 0);
	t_run_hostile(&t);
	CHECK_INT(t.n_inst, 2);
	check_keys(&t, &t.inst[1]);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	t_free(&t);

	/* Main Mode under fire, with a PSK and with certificates; hybrid Aggressive Mode */
	struct t_opts om[3] = {{.mode = KEEL_V1_MAIN},
	                       {.mode = KEEL_V1_MAIN, .auth = GW_AUTH_SIG},
	                       {.mode = KEEL_V1_AGGRESSIVE, .auth = GW_AUTH_HYBRID, .xauth = true}};
	for (size_t i = 0; i < 3; i++) {
		gc = gw_default();
		gc.xauth = om[i].xauth;
		t_init(&t, &om[i], &gc);
		CHECK(keel_v1sa_start(t.sa, t.now) == 0);
		t_run_hostile(&t);
		CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
		CHECK_INT(t.n_inst, 1);
		check_keys(&t, &t.inst[0]);
		t_free(&t);
	}
}

/* Lost messages: the gateway repeats its message, we repeat our answer. */
static void test_lost_answers(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_AGGRESSIVE, .xauth = true};
	struct gw_cfg gc = gw_default();
	gc.xauth = true;
	t_init(&t, &o, &gc);
	CHECK(keel_v1sa_start(t.sa, t.now) == 0);
	t_drain(&t);
	/* AM1 to the gateway, AM2 back; AM3 lost */
	gw_input(&t.g, t.out[0].data, t.out[0].len, t.out[0].natt);
	t.n_out = 0;
	struct pkt am2 = t.g.q[0];
	t.g.nq = 0;
	t_recv(&t, am2.data, am2.len, am2.natt);
	CHECK(t.n_out == 1);
	struct pkt am3 = t.out[0];
	t.n_out = 0;
	/* the gateway (whose XAUTH request is also lost) sends AM2 again */
	size_t n_states = t.n_states;
	CHECK_INT(t_recv(&t, am2.data, am2.len, am2.natt), 0);
	CHECK_INT(t.n_out, 1);
	CHECK(t.out[0].len == am3.len && memcmp(t.out[0].data, am3.data, am3.len) == 0);
	CHECK_INT(t.n_states, n_states);
	t.n_out = 0;
	gw_input(&t.g, am3.data, am3.len, am3.natt);
	/* the XAUTH request arrives, our reply is lost, the request comes again */
	struct pkt req = t.g.q[0];
	t.g.nq = 0;
	t_recv(&t, req.data, req.len, req.natt);
	CHECK_INT(t.n_out, 1);
	struct pkt reply = t.out[0];
	t.n_out = 0;
	t_recv(&t, req.data, req.len, req.natt);
	CHECK_INT(t.n_out, 1);
	CHECK(t.out[0].len == reply.len && memcmp(t.out[0].data, reply.data, reply.len) == 0);
	t.n_out = 1;
	t_run(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.g.n_xauth_replies, 1);

	/* the gateway never goes on after XAUTH: the wait ends */
	t_free(&t);
	gc.push = true; /* it will push... */
	gc.modecfg = true;
	struct t_opts op = {
	    .mode = KEEL_V1_AGGRESSIVE, .xauth = true, .modecfg = KEEL_V1_MODECFG_PUSH};
	t_init(&t, &op, &gc);
	t.g.cfg.push = false; /* ...but does not */
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_AUTHENTICATING);
	t_advance(&t, t.now + 200 * SEC);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_TIMEOUT);
	t_free(&t);
}

/* ---- certificates (RFC 2409 §5.1) and hybrid authentication ---- */

/* Main or Aggressive Mode with RSA signatures both ways, optionally XAUTH after. */
static void cert_run(enum keel_v1_mode mode, bool xauth)
{
	static struct t t;
	struct t_opts o = {.mode = mode, .auth = GW_AUTH_SIG, .xauth = xauth};
	struct gw_cfg gc = gw_default();
	gc.xauth = xauth;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.n_aggr_warn, 0); /* no PSK to guess offline */
	CHECK_INT(t.g.sa[0].auth, xauth ? KEEL_V1_AUTH_XAUTH_INIT_RSA : KEEL_V1_AUTH_RSA_SIG);
	CHECK_INT(t.g.n_sig_i_ok, 1);     /* our SIG_I verified with alice's key */
	CHECK_INT(t.g.n_client_certs, 1); /* alice.pem */
	CHECK_INT(t.g.n_cr, 1);           /* naming the one CA of the profile */
	CHECK_INT(t.g.n_xauth_replies, xauth ? 1 : 0);
	CHECK(!xauth || strcmp(t.g.xauth_pass, "s3cret-pw") == 0);
	CHECK_INT(t.n_inst, 1);
	check_keys(&t, &t.inst[0]);
	/* a new phase 1 signs again with the same credentials */
	CHECK(keel_v1sa_rekey(t.sa, KEEL_REKEY_IKE, 0, t.now) == 0);
	t_run(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.g.n_sig_i_ok, 2);
	t_free(&t);
}

static void test_cert(void)
{
	cert_run(KEEL_V1_MAIN, false);
	cert_run(KEEL_V1_AGGRESSIVE, false);
	cert_run(KEEL_V1_MAIN, true);
	cert_run(KEEL_V1_AGGRESSIVE, true);
}

/*
 * Hybrid: the gateway signs, we send HASH_I and log in with XAUTH. With the
 * CA as the system store: a CERT_REQUEST naming no CA.
 */
static void hybrid_run(enum keel_v1_mode mode, bool system_store)
{
	static struct t t;
	struct t_opts o = {.mode = mode, .auth = GW_AUTH_HYBRID, .xauth = true};
	struct gw_cfg gc = gw_default();
	gc.xauth = true;
	t_init(&t, &o, &gc);
	if (system_store) {
		struct keel_config c = t.cfg;
		c.use_system_ca = true;
		c.system_ca = c.ca;
		c.system_ca_len = c.ca_len;
		c.ca = NULL;
		c.ca_len = 0;
		keel_v1sa_free(t.sa);
		CHECK(keel_v1sa_new(&c, &t.v1, &t.env, &t.sa) == 0);
	}
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.g.sa[0].auth, KEEL_V1_AUTH_HYBRID_INIT_RSA);
	CHECK_INT(t.g.n_client_certs, 0);
	CHECK_INT(t.g.n_sig_i_ok, 0);
	CHECK_INT(t.g.n_cr, 1);
	CHECK_INT(t.g.n_cr_any, system_store ? 1 : 0);
	CHECK_INT(t.g.n_xauth_replies, 1);
	CHECK(strcmp(t.g.xauth_user, "alice") == 0);
	CHECK_INT(t.n_inst, 1);
	check_keys(&t, &t.inst[0]);
	t_free(&t);
}

static void test_hybrid(void)
{
	hybrid_run(KEEL_V1_MAIN, false);
	hybrid_run(KEEL_V1_AGGRESSIVE, false);
	hybrid_run(KEEL_V1_MAIN, true);
}

/* One refused exchange: failed with reason and text, nothing installed, no XAUTH. */
static void v1_refused(const struct t_opts *o, const struct gw_cfg *gc, bool at_once,
                       enum keel_reason reason, const char *says, const char *says2)
{
	static struct t t;
	t_init(&t, o, gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa) == KEEL_STATE_FAILED, at_once);
	if (!at_once)
		t_advance(&t, t.now + 300 * SEC);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), reason);
	bool said = strstr(t.last_error, says) != NULL && (!says2 || strstr(t.last_error, says2));
	CHECK(said);
	if (!said)
		fprintf(stderr, "  said: %s\n", t.last_error);
	CHECK_INT(t.n_inst, 0);
	CHECK_INT(t.g.n_xauth_replies, 0);
	t_free(&t);
}

/* A gateway certificate or signature we must refuse: no CHILD SA, a specific reason. */
static void cert_refused(int auth, enum keel_v1_mode mode, const char *gw_cert, const char *ca,
                         bool bad_sig, enum keel_reason reason, const char *says, const char *says2)
{
	struct t_opts o = {.mode = mode,
	                   .auth = auth,
	                   .xauth = auth == GW_AUTH_HYBRID,
	                   .gw_cert = gw_cert,
	                   .ca = ca};
	struct gw_cfg gc = gw_default();
	gc.xauth = auth == GW_AUTH_HYBRID;
	gc.bad_sig = bad_sig;
	/* a bad SIG_R in Main Mode might be damage on the way: refused when we give up */
	v1_refused(&o, &gc, !(bad_sig && mode == KEEL_V1_MAIN), reason, says, says2);
}

static void test_cert_refused(void)
{
	for (int a = GW_AUTH_SIG; a <= GW_AUTH_HYBRID; a++) {
		for (int m = 0; m < 2; m++) {
			enum keel_v1_mode mode = m ? KEEL_V1_AGGRESSIVE : KEEL_V1_MAIN;
			cert_refused(a, mode, "gw-wrongid.pem", NULL, false, KEEL_REASON_CERT_ID,
			             "expected FQDN gw.keel.test", "wrong.keel.test");
			cert_refused(a, mode, "gw-unknown.pem", NULL, false,
			             KEEL_REASON_CERT_UNTRUSTED, "unknown CA", "gw.keel.test");
			cert_refused(a, mode, NULL, "unknown-ca.pem", false,
			             KEEL_REASON_CERT_UNTRUSTED, "unknown CA", NULL);
			cert_refused(a, mode, "gw-expired.pem", NULL, false,
			             KEEL_REASON_CERT_EXPIRED, "has expired", NULL);
			cert_refused(a, mode, NULL, NULL, true, KEEL_REASON_PEER_AUTH,
			             "(SIG_R) did not verify", NULL);
		}
	}
}

/* What keel_v1sa_new() refuses with certificates. */
static void test_cert_config(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_MAIN, .auth = GW_AUTH_SIG};
	struct gw_cfg gc = gw_default();
	struct keel_v1sa *sa = NULL;
	t_init(&t, &o, &gc);
	struct keel_config c = t.cfg;
	c.now_wall_s = 0; /* no clock to check the gateway's certificate with */
	CHECK_INT(keel_v1sa_new(&c, &t.v1, &t.env, &sa), KEEL_ERR_INVAL);
	c = t.cfg;
	c.key = NULL;
	CHECK_INT(keel_v1sa_new(&c, &t.v1, &t.env, &sa), KEEL_ERR_INVAL);
	c = t.cfg;
	c.ca = NULL;
	c.ca_len = 0;
	CHECK_INT(keel_v1sa_new(&c, &t.v1, &t.env, &sa), KEEL_ERR_INVAL);
	/* an ECDSA key: RFC 4754 method 9 (with XAUTH it is refused at the start, test_ecdsa) */
	size_t kl, cl;
	uint8_t *kp = fx_pki("gw-ecdsa.key", &kl), *cp = fx_pki("gw-ecdsa.pem", &cl);
	struct keel_secret *ek = keel_secret_new_from(kp, (ptrdiff_t)kl);
	c = t.cfg;
	c.key = ek;
	c.cert = cp;
	c.cert_len = (ptrdiff_t)cl;
	CHECK_INT(keel_v1sa_new(&c, &t.v1, &t.env, &sa), 0);
	keel_v1sa_free(sa);
	sa = NULL;
	keel_secret_free(ek);
	free(kp);
	free(cp);
	/* hybrid needs XAUTH and a CA, but no key and no PSK */
	c = t.cfg;
	c.ikev1_hybrid = true;
	c.key = NULL;
	c.cert = NULL;
	c.psk = NULL;
	CHECK_INT(keel_v1sa_new(&c, &t.v1, &t.env, &sa), KEEL_ERR_INVAL);
	struct keel_v1_options v1 = t.v1;
	struct keel_secret *u = keel_secret_new_from((const uint8_t *)"alice", 5);
	v1.xauth = true;
	v1.xauth_user = u;
	v1.xauth_password = u;
	CHECK_INT(keel_v1sa_new(&c, &v1, &t.env, &sa), 0);
	keel_v1sa_free(sa);
	sa = NULL;
	c.ca = NULL;
	c.ca_len = 0;
	CHECK_INT(keel_v1sa_new(&c, &v1, &t.env, &sa), KEEL_ERR_INVAL);
	keel_secret_free(u);
	/* our certificate's subject DN is our identity when local_id is not set */
	c = t.cfg;
	c.local_id.type = KEEL_ID_NONE;
	c.local_id.len = 0;
	CHECK_INT(keel_v1sa_new(&c, &t.v1, &t.env, &sa), 0);
	keel_v1sa_free(sa);
	t_free(&t);
}

/*
 * ECDSA signatures (RFC 4754 method 9, P-256): our key and certificate are
 * gw-ecdsa's, the gateway's too (issued by the intermediate CA, trusted as
 * the anchor). Both SIG payloads are r | s of 64 bytes.
 */
static const struct t_opts ecdsa_opts = {.auth = GW_AUTH_SIG,
                                         .gw_cert = "gw-ecdsa.pem",
                                         .gw_key = "gw-ecdsa.key",
                                         .ca = "int.pem",
                                         .key = "gw-ecdsa.key",
                                         .cert = "gw-ecdsa.pem"};

static void ecdsa_run(enum keel_v1_mode mode)
{
	static struct t t;
	struct t_opts o = ecdsa_opts;
	o.mode = mode;
	struct gw_cfg gc = gw_default();
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.g.sa[0].auth, KEEL_V1_AUTH_ECDSA_256);
	CHECK_INT(t.g.n_sig_i_ok, 1); /* SIG_I verified with our public key */
	CHECK_INT(t.g.n_client_certs, 1);
	CHECK_INT(t.n_inst, 1);
	check_keys(&t, &t.inst[0]);
	/* a new phase 1 signs again */
	CHECK(keel_v1sa_rekey(t.sa, KEEL_REKEY_IKE, 0, t.now) == 0);
	t_run(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.g.n_sig_i_ok, 2);
	t_free(&t);
}

/* A P-384 (or Ed25519) key and a self-signed certificate for it, PEM (test-only;
 * nobody checks it). */
static void test_creds(bool ed25519, struct keel_secret **key, uint8_t **cert, size_t *cert_len)
{
	EVP_PKEY *pk = ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") : EVP_EC_gen("P-384");
	X509 *x = X509_new();
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	CHECK(pk && x && kb && cb);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"alice", -1, -1,
	                           0);
	X509_set_issuer_name(x, name);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 384);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pk);
	CHECK(X509_sign(x, pk, ed25519 ? NULL : EVP_sha384()) > 0);
	CHECK(PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL) == 1);
	CHECK(PEM_write_bio_X509(cb, x) == 1);
	char *p = NULL;
	long n = BIO_get_mem_data(kb, &p);
	*key = keel_secret_new_from((const uint8_t *)p, n);
	n = BIO_get_mem_data(cb, &p);
	*cert = malloc((size_t)n);
	memcpy(*cert, p, (size_t)n);
	*cert_len = (size_t)n;
	BIO_free(kb);
	BIO_free(cb);
	X509_free(x);
	EVP_PKEY_free(pk);
}

static void ecdsa_p384(void)
{
	static struct t t;
	struct t_opts o = ecdsa_opts;
	o.mode = KEEL_V1_MAIN;
	struct gw_cfg gc = gw_default();
	t_init(&t, &o, &gc);
	struct keel_secret *key = NULL;
	uint8_t *cert = NULL;
	size_t cert_len = 0;
	struct keel_privkey *k = NULL;
	struct keel_pubkey *pub = NULL;
	test_creds(false, &key, &cert, &cert_len);
	CHECK(keel_privkey_load(keel_secret_data(key), keel_secret_len(key), NULL, &k, NULL) == 0);
	CHECK(k && keel_privkey_public(k, &pub) == 0);
	keel_privkey_free(k);
	struct keel_config c = t.cfg;
	c.key = key;
	c.cert = cert;
	c.cert_len = (ptrdiff_t)cert_len;
	keel_v1sa_free(t.sa);
	CHECK(keel_v1sa_new(&c, &t.v1, &t.env, &t.sa) == 0);
	t.g.cfg.client_key = pub;
	t_start(&t);
	CHECK_INT(t.g.sa[0].auth, KEEL_V1_AUTH_ECDSA_384);
	CHECK_INT(t.g.n_sig_i_ok, 1); /* r | s of 96 bytes, verified with our P-384 key */
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_PEER_AUTH);
	CHECK(strstr(t.last_error, "has an ECDSA P-256 key") != NULL &&
	      strstr(t.last_error, "(ECDSA with SHA-384 on P-384)") != NULL);
	CHECK_INT(t.n_inst, 0);
	t.g.cfg.client_key = NULL;
	t_free(&t);
	keel_pubkey_free(pub);
	keel_secret_free(key);
	free(cert);
}

static void test_ecdsa(void)
{
	ecdsa_run(KEEL_V1_MAIN);
	ecdsa_run(KEEL_V1_AGGRESSIVE);

	for (int m = 0; m < 2; m++) {
		struct t_opts o = ecdsa_opts;
		o.mode = m ? KEEL_V1_AGGRESSIVE : KEEL_V1_MAIN;
		struct gw_cfg gc = gw_default();
		/* a SIG_R over another hash: Main Mode waits for a good copy, then gives up */
		gc.bad_sig = true;
		v1_refused(&o, &gc, m == 1, KEEL_REASON_PEER_AUTH, "(SIG_R) did not verify", NULL);
		/* an RSA gateway for method 9 (RFC 4754 §3: the method names the key) */
		gc = gw_default();
		o.gw_cert = "gw-rsa.pem";
		o.gw_key = "gw-rsa.key";
		o.ca = "ca.pem";
		v1_refused(&o, &gc, true, KEEL_REASON_PEER_AUTH, "has an RSA key",
		           "ECDSA with SHA-256 on P-256");
		/* the gateway's ECDSA certificate without its CA */
		o = ecdsa_opts;
		o.mode = m ? KEEL_V1_AGGRESSIVE : KEEL_V1_MAIN;
		o.ca = "unknown-ca.pem";
		v1_refused(&o, &gc, true, KEEL_REASON_CERT_UNTRUSTED, "unknown CA", NULL);
	}

	/* a P-384 key proposes method 10 and signs with it; the P-256 gateway does not fit */
	ecdsa_p384();

	/* an RSA client stays on method 3 and refuses an ECDSA gateway's key */
	struct t_opts o = ecdsa_opts;
	o.mode = KEEL_V1_MAIN;
	o.key = o.cert = NULL;
	struct gw_cfg gc = gw_default();
	v1_refused(&o, &gc, true, KEEL_REASON_PEER_AUTH, "has an ECDSA P-256 key",
	           "(RSA signature authentication)");

	/* hybrid is HybridInitRSA: an ECDSA gateway is refused before any XAUTH */
	o = ecdsa_opts;
	o.mode = KEEL_V1_MAIN;
	o.auth = GW_AUTH_HYBRID;
	o.xauth = true;
	gc.xauth = true;
	v1_refused(&o, &gc, true, KEEL_REASON_PEER_AUTH, "has an ECDSA P-256 key",
	           "(HybridInitRSA)");

	/* XAUTH with certificates is XAUTHInitRSA: our ECDSA key is refused before
	 * anything is sent */
	static struct t t;
	o = ecdsa_opts;
	o.mode = KEEL_V1_MAIN;
	o.xauth = true;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_CONFIG);
	CHECK(strstr(t.last_error, "XAUTHInitRSA") != NULL &&
	      strstr(t.last_error, "ECDSA P-256") != NULL);
	CHECK_INT(t.n_sent, 0);
	CHECK_INT(t.g.n_p1, 0);
	t_free(&t);

	/* an Ed25519 key has no IKEv1 method at all: refused the same way */
	o = ecdsa_opts;
	o.mode = KEEL_V1_MAIN;
	t_init(&t, &o, &gc);
	struct keel_secret *key = NULL;
	uint8_t *cert = NULL;
	size_t cert_len = 0;
	test_creds(true, &key, &cert, &cert_len);
	struct keel_config c = t.cfg;
	c.key = key;
	c.cert = cert;
	c.cert_len = (ptrdiff_t)cert_len;
	keel_v1sa_free(t.sa);
	CHECK(keel_v1sa_new(&c, &t.v1, &t.env, &t.sa) == 0);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_CONFIG);
	CHECK(strstr(t.last_error, "our key is Ed25519") != NULL);
	CHECK_INT(t.n_sent, 0);
	t_free(&t);
	keel_secret_free(key);
	free(cert);
}

/* Quick mode with AH (RFC 2407 §4.4.3, RFC 2409 §5.5): install, keys, rekey, DELETE, NAT. */
static void test_ah(void)
{
	static struct t t;
	struct t_opts o = {.mode = KEEL_V1_MAIN, .ah = "sha256"};
	struct gw_cfg gc = gw_default();
	gc.narrow = true; /* the networks of the gateway's own quick mode below */
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	/* the gateway saw an AH proposal: AH_SHA2_256 with HMAC-SHA2-256 as its attribute */
	CHECK_INT(t.g.sa[0].qm_proto, KEEL_V1_PROTO_AH);
	CHECK_INT(t.g.sa[0].qm_esp, KEEL_V1_AH_SHA2_256);
	CHECK_INT(t.g.sa[0].qm_auth, KEEL_V1_IPSEC_AUTH_HMAC_SHA2_256);
	CHECK_INT(t.g.sa[0].qm_bits, 0);
	CHECK_INT(t.n_inst, 1);
	const struct rec_install *r = &t.inst[0];
	CHECK_INT(r->ci.protocol, KEEL_PROTO_AH);
	CHECK_INT(r->ci.encr, 0);
	CHECK_INT(r->ci.encr_key_len, 0);
	CHECK_INT(r->ci.integ, 12);
	CHECK_INT(r->ci.integ_key_len, 32);
	CHECK(!r->ci.encap);
	/* KEYMAT with protocol AH (the gateway derived its own) */
	check_keys(&t, r);
	CHECK(keel_v1sa_rekey(t.sa, KEEL_REKEY_CHILD, r->ci.child_id, t.now) == 0);
	t_run(&t);
	CHECK_INT(t.n_inst, 2);
	CHECK_INT(t.inst[1].ci.protocol, KEEL_PROTO_AH);
	check_keys(&t, &t.inst[1]);
	CHECK_INT(t.n_rm, 1);
	CHECK_INT(t.rm[0].protocol, KEEL_PROTO_AH);
	CHECK_INT(t.g.del_proto, KEEL_V1_PROTO_AH);
	/* the gateway's quick mode: we choose from its AH proposal and answer with AH */
	struct gsa *s = &t.g.sa[0];
	uint32_t old_gw_spi = s->spi_r;
	gw_quick_start(&t.g, s, false);
	t_run(&t);
	CHECK_INT(t.n_inst, 3);
	CHECK_INT(t.inst[2].ci.protocol, KEEL_PROTO_AH);
	CHECK_INT(t.inst[2].ci.integ, 12);
	check_keys(&t, &t.inst[2]);
	uint8_t spi[4];
	put32(spi, old_gw_spi);
	gw_info_delete(&t.g, s, KEEL_V1_PROTO_AH, spi, 4, false);
	t_run(&t);
	CHECK_INT(t.n_rm, 2);
	CHECK_INT(t.rm[1].reason, KEEL_REASON_REKEYED);
	/* the gateway deletes the AH SA in use */
	put32(spi, s->spi_r);
	gw_info_delete(&t.g, s, KEEL_V1_PROTO_AH, spi, 4, false);
	t_run(&t);
	CHECK_INT(t.n_rm, 3);
	CHECK_INT(t.rm[2].reason, KEEL_REASON_PEER_DELETE);
	t_free(&t);

	/* HMAC-SHA2-512-256 (RFC 4868: 64-byte keys) */
	struct t_opts o2 = {.mode = KEEL_V1_MAIN, .ah = "sha512"};
	gc = gw_default();
	t_init(&t, &o2, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_ESTABLISHED);
	CHECK_INT(t.g.sa[0].qm_esp, KEEL_V1_AH_SHA2_512);
	CHECK_INT(t.inst[0].ci.integ_key_len, 64);
	check_keys(&t, &t.inst[0]);
	t_free(&t);

	/* a NAT: AH cannot cross it, refused after NAT-D, nothing installed */
	gc = gw_default();
	gc.fake_nat = true;
	t_init(&t, &o, &gc);
	t_start(&t);
	CHECK_INT(keel_v1sa_state(t.sa), KEEL_STATE_FAILED);
	CHECK_INT(t_last_reason(&t), KEEL_REASON_CONFIG);
	CHECK(strstr(t_last_text(&t), "AH cannot cross the NAT") != NULL);
	CHECK_INT(t.n_inst, 0);
	CHECK_INT(t.g.n_qm1, 0);
	t_free(&t);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
    {"aggressive_xauth", test_aggressive_xauth},
    {"main_mode", test_main_mode},
    {"bad_psk", test_bad_psk},
    {"xauth_refused", test_xauth_refused},
    {"no_proposal", test_no_proposal},
    {"retransmit", test_retransmit},
    {"dpd", test_dpd},
    {"peer_delete", test_peer_delete},
    {"child_rekey", test_child_rekey},
    {"gateway_rekey", test_gateway_rekey},
    {"gateway_rekey_inbound_first", test_gateway_rekey_inbound_first},
    {"phase1_renewal", test_phase1_renewal},
    {"lifetimes", test_lifetimes},
    {"variants", test_variants},
    {"hostile", test_hostile},
    {"lost_answers", test_lost_answers},
    {"api", test_api},
    {"cert", test_cert},
    {"hybrid", test_hybrid},
    {"cert_refused", test_cert_refused},
    {"cert_config", test_cert_config},
    {"ecdsa", test_ecdsa},
    {"ah", test_ah},
};

int main(int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
			continue;
		unsigned before = check_failures;
		tests[i].fn();
		if (check_failures != before)
			fprintf(stderr, "test %s: %u failures\n", tests[i].name,
			        check_failures - before);
	}
	return check_done();
}
