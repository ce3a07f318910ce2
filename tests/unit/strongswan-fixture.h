/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Loading a strongSwan exchange captured by tests/lab/capture-fixtures
 * (tests/vectors/strongswan/<scenario>.txt) for test-strongswan.c: the
 * datagrams, the [exchange] facts and the keys charon logged.
 */
#ifndef KEEL_TEST_STRONGSWAN_FIXTURE_H
#define KEEL_TEST_STRONGSWAN_FIXTURE_H

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <keel/err.h>
#include <keel/secret.h>

#include "check.h"
#include "crypto/cipher.h"
#include "crypto/dh.h"
#include "crypto/kdf.h"
#include "crypto/prf.h"
#include "tv.h"
#include "wire/ikev2.h"
#include "wire/isakmp.h"

#define MAX_DGRAMS 40
#define MAX_OWNED  128
#define MAX_MIDS   16
#define CBC_BLOCK  16

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* The fixture                                                        */

struct dgram {
	uint8_t *data;
	size_t len;
	bool i2r;
	unsigned src_port;
	unsigned dst_port;
	bool marker;
};

/* What was checked, per scenario. */
struct tally {
	unsigned decoded;    /* datagrams through the codec */
	unsigned decrypted;  /* SK/SKF payloads or IKEv1 bodies opened */
	unsigned fragments;  /* of which fragments */
	unsigned keys;       /* values equal to charon's logged ones */
	unsigned auth;       /* AUTH / HASH_I / HASH_R equal to the transmitted ones */
	unsigned sigs;       /* signatures verified over Keel's octets */
	unsigned msg_hashes; /* IKEv1 HASH(1..3) and Mode Config / informational hashes */
	unsigned ivs;        /* IKEv1 IVs equal to charon's */
	unsigned natd;       /* NAT detection hashes */
	unsigned tamper;     /* altered messages refused */
};

struct fixture {
	const char *file;
	struct tv_file *tv; /* left on the [keys] record */
	char *scenario;
	int version;
	char *ike_proposal;
	char *esp_proposal;
	char *psk;
	char *eap_user;
	char *xauth_user;
	char *xauth_password;
	char *client_cert;
	char *gateway_cert;
	uint8_t addr_i[4];
	uint8_t addr_r[4];
	uint32_t esp_spi_i;
	uint32_t esp_spi_r;
	size_t n;
	struct dgram d[MAX_DGRAMS];
	uint8_t *owned[MAX_OWNED]; /* logged values handed out, freed with the fixture */
	size_t n_owned;
	struct tally t;
};

static char *dup_opt(const struct tv_file *f, const char *name)
{
	const char *v = tv_str(f, name);
	char *s = v ? strdup(v) : NULL;
	if (v && !s)
		abort();
	return s;
}

static const char *need(const struct tv_file *f, const char *name)
{
	const char *v = tv_str(f, name);
	if (!v)
		fprintf(stderr, "# %s:%d: no '%s'\n", tv_name(f), tv_line(f), name);
	CHECK(v != NULL);
	return v ? v : "";
}

static void parse_addr(const char *s, uint8_t out[4])
{
	CHECK_INT(inet_pton(AF_INET, s, out), 1);
}

static void load(struct fixture *fx, const char *file)
{
	struct tv_file *f = tv_open(file);

	memset(fx, 0, sizeof(*fx));
	fx->file = file;
	while (tv_next(f)) {
		const char *sec = tv_section(f);
		if (strcmp(sec, "exchange") == 0) {
			CHECK(fx->scenario == NULL); /* one [exchange] record */
			if (fx->scenario)
				continue;
			fx->scenario = dup_opt(f, "Scenario");
			fx->version = atoi(need(f, "IKEVersion"));
			fx->ike_proposal = dup_opt(f, "IKEProposal");
			fx->esp_proposal = dup_opt(f, "ESPProposal");
			fx->psk = dup_opt(f, "PSK");
			fx->eap_user = dup_opt(f, "EAPUser");
			fx->xauth_user = dup_opt(f, "XAUTHUser");
			fx->xauth_password = dup_opt(f, "XAUTHPassword");
			fx->client_cert = dup_opt(f, "ClientCert");
			fx->gateway_cert = dup_opt(f, "GatewayCert");
			parse_addr(need(f, "Initiator"), fx->addr_i);
			parse_addr(need(f, "Responder"), fx->addr_r);
			fx->esp_spi_i = (uint32_t)strtoul(need(f, "ESPSPIi"), NULL, 16);
			fx->esp_spi_r = (uint32_t)strtoul(need(f, "ESPSPIr"), NULL, 16);
		} else if (strcmp(sec, "datagrams") == 0) {
			CHECK(fx->n < MAX_DGRAMS);
			if (fx->n == MAX_DGRAMS)
				continue;
			struct dgram *d = &fx->d[fx->n];
			CHECK_INT(strtoul(need(f, "Index"), NULL, 10), fx->n);
			const char *dir = need(f, "Dir");
			CHECK(strcmp(dir, "i2r") == 0 || strcmp(dir, "r2i") == 0);
			d->i2r = strcmp(dir, "i2r") == 0;
			d->src_port = (unsigned)strtoul(need(f, "SrcPort"), NULL, 10);
			d->dst_port = (unsigned)strtoul(need(f, "DstPort"), NULL, 10);
			d->marker = strcmp(need(f, "NonESPMarker"), "yes") == 0;
			need(f, "Data");
			d->data = tv_hex(f, "Data", &d->len);
			fx->n++;
		} else if (strcmp(sec, "keys") == 0) {
			fx->tv = f; /* the last record: keep it for logged() */
			return;
		}
	}
	fprintf(stderr, "# %s: no [keys] record\n", file);
	CHECK(!"a [keys] record");
	tv_close(f);
}

static void unload(struct fixture *fx)
{
	for (size_t i = 0; i < fx->n; i++)
		free(fx->d[i].data);
	for (size_t i = 0; i < fx->n_owned; i++)
		free(fx->owned[i]);
	free(fx->scenario);
	free(fx->ike_proposal);
	free(fx->esp_proposal);
	free(fx->psk);
	free(fx->eap_user);
	free(fx->xauth_user);
	free(fx->xauth_password);
	free(fx->client_cert);
	free(fx->gateway_cert);
	tv_close(fx->tv);
}

/* charon's value under label, or NULL when it logged none. */
static const uint8_t *logged(struct fixture *fx, const char *label, size_t *len)
{
	*len = 0;
	if (!fx->tv || !tv_str(fx->tv, label))
		return NULL;
	CHECK(fx->n_owned < MAX_OWNED);
	if (fx->n_owned == MAX_OWNED)
		return NULL;
	uint8_t *p = tv_hex(fx->tv, label, len);
	fx->owned[fx->n_owned++] = p;
	return p;
}

/* Keel's value against the one charon logged under label. */
static void check_logged(struct fixture *fx, const char *label, const uint8_t *got, size_t got_len)
{
	size_t len;
	const uint8_t *want = logged(fx, label, &len);

	if (!want)
		fprintf(stderr, "# %s: charon logged no '%s'\n", fx->file, label);
	CHECK(want != NULL);
	if (!want)
		return;
	if (!got || got_len != len || memcmp(got, want, len) != 0)
		fprintf(stderr, "# %s: '%s' differs from charon's\n", fx->file, label);
	CHECK_MEM(got, got ? got_len : 0, want, len);
	fx->t.keys++;
}

static void check_logged_secret(struct fixture *fx, const char *label, const struct keel_secret *s)
{
	CHECK(s != NULL);
	check_logged(fx, label, s ? keel_secret_data(s) : NULL, (size_t)keel_secret_len(s));
}

/* A label charon must not have logged (e.g. SK_ai with an AEAD cipher). */
static void check_not_logged(struct fixture *fx, const char *label)
{
	CHECK(fx->tv == NULL || tv_str(fx->tv, label) == NULL);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint8_t *xmalloc(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}


#endif
