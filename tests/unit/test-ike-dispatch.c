/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The public keel_sa_*() calls serve both IKE versions: cfg.ike_version
 * picks the engine, and struct keel_config's IKEv1 fields reach it. The
 * engines themselves are tested in test-ikev2-engine and test-ikev1-engine;
 * this checks which one answers, from the first datagram's header (RFC 2408
 * §3.1: version 1.0, RFC 7296 §3.1: version 2.0, and the exchange type).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <keel/config.h>
#include <keel/ike.h>
#include <keel/secret.h>

#include "check.h"

#define SEC 1000000000ull

static int counter_random(void *ctx, uint8_t *buf, size_t len)
{
	uint32_t *n = ctx;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(++*n * 151u);
	return 0;
}

static void addr4(struct keel_addr *a, uint8_t last, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = KEEL_AF_INET;
	a->bytes[0] = 192;
	a->bytes[1] = 0;
	a->bytes[2] = 2;
	a->bytes[3] = last;
	a->port = port;
}

struct first {
	int n_dgram;
	uint8_t version;  /* ISAKMP/IKE header byte 17 */
	uint8_t exchange; /* byte 18 */
	int n_warn;
	enum keel_state last_state;
};

/* Starts an SA for cfg and records what its first outputs were. */
static void start_one(const struct keel_config *cfg, struct first *f)
{
	uint32_t n = 0;
	struct keel_env env = {.random = counter_random, .random_ctx = &n};
	struct keel_sa *sa = NULL;
	struct keel_out o;
	memset(f, 0, sizeof(*f));
	CHECK_INT(keel_sa_new(cfg, &env, &sa), 0);
	if (!sa)
		return;
	CHECK_INT(keel_sa_state(sa), KEEL_STATE_IDLE);
	CHECK(keel_sa_deadline(sa) == UINT64_MAX);
	CHECK_INT(keel_sa_tick(sa, 1 * SEC), KEEL_ERR_STATE); /* not started */
	CHECK_INT(keel_sa_start(sa, 1 * SEC), 0);
	CHECK_INT(keel_sa_start(sa, 1 * SEC), KEEL_ERR_STATE);
	while (keel_sa_pop(sa, &o)) {
		switch (o.kind) {
		case KEEL_OUT_DGRAM:
			if (f->n_dgram++ == 0 && o.u.dgram.len >= 28) {
				f->version = o.u.dgram.data[17];
				f->exchange = o.u.dgram.data[18];
			}
			break;
		case KEEL_OUT_LOG:
			if (o.u.log.level == KEEL_LOG_WARN)
				f->n_warn++;
			break;
		case KEEL_OUT_STATE:
			f->last_state = o.u.state.state;
			break;
		case KEEL_OUT_CHILD_INSTALL:
		case KEEL_OUT_CHILD_REMOVE:
		case KEEL_OUT_CHILD_ACTIVATE:
		case KEEL_OUT_NETCFG:
			break;
		}
	}
	CHECK_INT(keel_sa_state(sa), f->last_state);
	CHECK(keel_sa_deadline(sa) > 1 * SEC && keel_sa_deadline(sa) != UINT64_MAX);
	CHECK_INT(keel_sa_tick(sa, 1 * SEC), 0);
	CHECK_INT(keel_sa_rekey(sa, KEEL_REKEY_CHILD, 0, 1 * SEC), KEEL_ERR_STATE);
	/* garbage is refused by either engine without harm */
	uint8_t junk[8] = {0};
	struct keel_dgram d = {.local = cfg->local, .remote = cfg->remote, .data = junk, .len = 8};
	CHECK(keel_sa_recv(sa, &d, 1 * SEC) < 0);
	CHECK_INT(keel_sa_stop(sa, 2 * SEC), 0);
	enum keel_state end = KEEL_STATE_IDLE;
	while (keel_sa_pop(sa, &o))
		if (o.kind == KEEL_OUT_STATE)
			end = o.u.state.state;
	CHECK_INT(end, KEEL_STATE_CLOSED);
	CHECK_INT(keel_sa_state(sa), KEEL_STATE_CLOSED);
	CHECK_INT(keel_sa_stop(sa, 2 * SEC), KEEL_ERR_STATE);
	CHECK(keel_sa_deadline(sa) == UINT64_MAX);
	keel_sa_free(sa);
}

int main(void)
{
	struct keel_config c;
	struct first f;
	char why[200];
	struct keel_secret *psk = keel_secret_new_from((const uint8_t *)"dispatch-psk", 12);
	struct keel_secret *user = keel_secret_new_from((const uint8_t *)"alice", 5);
	struct keel_secret *pass = keel_secret_new_from((const uint8_t *)"pw", 2);
	CHECK(psk && user && pass);

	keel_config_init(&c);
	CHECK_INT(c.ike_version, 2);
	CHECK_INT(c.ikev1_mode, KEEL_IKEV1_MAIN);
	CHECK_INT(c.ikev1_modecfg, KEEL_IKEV1_MODECFG_PULL);
	CHECK(!c.xauth && !c.xauth_user && !c.xauth_password);
	CHECK_INT(c.ikev1_pfs_group, 0);
	addr4(&c.local, 2, 500);
	addr4(&c.remote, 1, 500);
	c.psk = psk;
	CHECK_INT(keel_id_from_text("@keel-group", &c.local_id), 0);

	/* IKEv2: IKE_SA_INIT (34), version 0x20 */
	start_one(&c, &f);
	CHECK_INT(f.n_dgram, 1);
	CHECK_INT(f.version, 0x20);
	CHECK_INT(f.exchange, 34);
	CHECK_INT(f.n_warn, 0);

	/* IKEv1 Main Mode: Identity Protection (2), version 0x10 */
	c.ike_version = 1;
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), 0);
	CHECK(why[0] == '\0');
	start_one(&c, &f);
	CHECK_INT(f.n_dgram, 1);
	CHECK_INT(f.version, 0x10);
	CHECK_INT(f.exchange, 2);
	CHECK_INT(f.n_warn, 0);
	CHECK_INT(f.last_state, KEEL_STATE_IKE_SA_INIT);

	/* Aggressive (4), with its warning once; XAUTH and PFS reach the engine */
	c.ikev1_mode = KEEL_IKEV1_AGGRESSIVE;
	c.xauth = true;
	c.xauth_user = user;
	c.xauth_password = pass;
	c.ikev1_pfs_group = 14;
	start_one(&c, &f);
	CHECK_INT(f.n_dgram, 1);
	CHECK_INT(f.version, 0x10);
	CHECK_INT(f.exchange, 4);
	CHECK_INT(f.n_warn, 1);

	/* the IKEv1 fields are checked by the IKEv1 engine */
	struct keel_sa *sa = NULL;
	uint32_t n = 0;
	struct keel_env env = {.random = counter_random, .random_ctx = &n};
	c.xauth_password = NULL;
	CHECK_INT(keel_sa_new(&c, &env, &sa), KEEL_ERR_INVAL);
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), KEEL_ERR_INVAL);
	CHECK(strstr(why, "XAUTH") != NULL);
	c.xauth_password = pass;
	c.ikev1_pfs_group = 1; /* MODP-768: not offered */
	CHECK_INT(keel_sa_new(&c, &env, &sa), KEEL_ERR_UNSUPPORTED);
	c.ikev1_pfs_group = 0;
	c.ikev1_mode = (enum keel_ikev1_mode)7;
	CHECK_INT(keel_sa_new(&c, &env, &sa), KEEL_ERR_INVAL);
	c.ikev1_mode = KEEL_IKEV1_MAIN;
	c.auth = KEEL_AUTH_CERT; /* without certificate and key */
	CHECK_INT(keel_sa_new(&c, &env, &sa), KEEL_ERR_INVAL);
	CHECK_INT(keel_config_check(&c, why, sizeof(why)), KEEL_ERR_INVAL);
	CHECK(strstr(why, "private key") != NULL);
	c.auth = KEEL_AUTH_EAP;
	CHECK_INT(keel_sa_new(&c, &env, &sa), KEEL_ERR_UNSUPPORTED);
	CHECK(sa == NULL);

	/* IKEv2 ignores the IKEv1 fields (and does not keep their pointers) */
	c.auth = KEEL_AUTH_PSK;
	c.ike_version = 2;
	CHECK_INT(keel_sa_new(&c, &env, &sa), 0);
	keel_sa_free(sa);
	keel_sa_free(NULL);

	keel_secret_free(psk);
	keel_secret_free(user);
	keel_secret_free(pass);
	return check_done();
}
