/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The IKEv2 engine's key schedule, SK payload and PSK AUTH against real
 * exchanges captured from strongSwan 5.9.8 (tests/vectors/strongswan/, with
 * the keys charon logged): SK_* from the logged DH secret and the nonces,
 * every encrypted message opened with them, both PSK AUTH payloads
 * recomputed, the responder's proposal choices checked against what was
 * offered, and the first CHILD SA's KEYMAT.
 */
#include <stdlib.h>
#include <string.h>

#include <keel/config.h>

#include "check.h"
#include "ikev2/keys.h"
#include "ikev2/sa.h"
#include "ikev2/sk.h"
#include "tv.h"
#include "wire/ikev2.h"

#define MAX_DGRAMS 32

struct capture {
	char name[64];
	char ike_proposal[128];
	char esp_proposal[128];
	char psk[128];
	uint32_t esp_spi_i, esp_spi_r;
	size_t n;
	uint8_t *data[MAX_DGRAMS];
	size_t len[MAX_DGRAMS];
	bool i2r[MAX_DGRAMS];
	/* [keys] */
	uint8_t *g_ir, *skeyseed, *sk[7], *encr_i, *encr_r;
	size_t g_ir_len, skeyseed_len, sk_len[7], encr_i_len, encr_r_len;
};

static const char *const sk_names[7] = {"Sk_d secret",  "Sk_ai secret", "Sk_ar secret",
                                        "Sk_ei secret", "Sk_er secret", "Sk_pi secret",
                                        "Sk_pr secret"};

static uint8_t *opt_hex(struct tv_file *f, const char *name, size_t *len)
{
	*len = 0;
	return tv_str(f, name) ? tv_hex(f, name, len) : NULL;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static void load(const char *path, struct capture *c)
{
	struct tv_file *f = tv_open(path);
	memset(c, 0, sizeof(*c));
	while (tv_next(f)) {
		const char *sec = tv_section(f);
		if (strcmp(sec, "exchange") == 0) {
			copy_str(c->name, sizeof(c->name), tv_str(f, "Scenario"));
			copy_str(c->ike_proposal, sizeof(c->ike_proposal),
			         tv_str(f, "IKEProposal"));
			copy_str(c->esp_proposal, sizeof(c->esp_proposal),
			         tv_str(f, "ESPProposal"));
			copy_str(c->psk, sizeof(c->psk), tv_str(f, "PSK"));
			if (tv_str(f, "ESPSPIi"))
				c->esp_spi_i = (uint32_t)strtoul(tv_str(f, "ESPSPIi"), NULL, 16);
			if (tv_str(f, "ESPSPIr"))
				c->esp_spi_r = (uint32_t)strtoul(tv_str(f, "ESPSPIr"), NULL, 16);
		} else if (strcmp(sec, "datagrams") == 0 && tv_str(f, "Data") &&
		           c->n < MAX_DGRAMS) {
			c->data[c->n] = tv_hex(f, "Data", &c->len[c->n]);
			c->i2r[c->n] = strcmp(tv_str(f, "Dir"), "i2r") == 0;
			c->n++;
		} else if (strcmp(sec, "keys") == 0) {
			c->g_ir = opt_hex(f, "shared Diffie Hellman secret", &c->g_ir_len);
			c->skeyseed = opt_hex(f, "SKEYSEED", &c->skeyseed_len);
			for (int i = 0; i < 7; i++)
				c->sk[i] = opt_hex(f, sk_names[i], &c->sk_len[i]);
			c->encr_i = opt_hex(f, "encryption initiator key", &c->encr_i_len);
			c->encr_r = opt_hex(f, "encryption responder key", &c->encr_r_len);
		}
	}
	tv_close(f);
}

static void unload(struct capture *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->data[i]);
	free(c->g_ir);
	free(c->skeyseed);
	for (int i = 0; i < 7; i++)
		free(c->sk[i]);
	free(c->encr_i);
	free(c->encr_r);
}

static const struct keel_v2_raw_payload *find(const struct keel_v2_chain *ch, uint8_t type,
                                              struct keel_v2_payload *out)
{
	const struct keel_v2_raw_payload *raw = keel_v2_chain_find(ch, type, NULL);
	if (raw && out)
		CHECK_INT(keel_v2_payload_decode(raw, out), 0);
	return raw;
}

/* Proposals of every algorithm Keel knows (AEAD, then not), so that any choice is "ours". */
static void everything(enum keel_proposal_kind kind, struct keel_proposal p[2])
{
	const char *aead = kind == KEEL_PROPOSAL_IKE
	                       ? "aes128gcm16-aes256gcm16-chacha20poly1305-prfsha1-prfsha256-"
	                         "prfsha384-prfsha512-x25519-x448-ecp256-ecp384-modp2048-modp3072"
	                       : "aes128gcm16-aes256gcm16-aes128gcm12-chacha20poly1305";
	const char *cbc = kind == KEEL_PROPOSAL_IKE
	                      ? "aes128-aes192-aes256-sha1-sha256-sha384-sha512-prfsha1-"
	                        "prfsha256-prfsha384-prfsha512-x25519-x448-ecp256-ecp384-"
	                        "modp2048-modp3072"
	                      : "aes128-aes192-aes256-sha1-sha256-sha384-sha512";
	CHECK_INT(keel_proposal_from_text(aead, kind, &p[0], NULL), 0);
	CHECK_INT(keel_proposal_from_text(cbc, kind, &p[1], NULL), 0);
}

static struct keel_v2_payload pl;
static struct keel_v2_msg msg;
static struct keel_v2_chain inner;

/* Opens the SK payload of datagram i into `inner`; returns false if it has none. */
static bool open_sk(struct capture *c, size_t i, struct keel_sk *sk, uint8_t *buf)
{
	CHECK_INT(keel_v2_msg_decode(c->data[i], c->len[i], &msg), 0);
	if (msg.chain.n == 0 || msg.chain.p[msg.chain.n - 1].type != KEEL_V2_PAYLOAD_SK)
		return false;
	const struct keel_v2_raw_payload *skp = &msg.chain.p[msg.chain.n - 1];
	uint8_t *plain;
	size_t plain_len;
	memcpy(buf, c->data[i], c->len[i]);
	int rc = keel_sk_open(sk, buf, c->len[i], skp->off, &plain, &plain_len);
	CHECK_INT(rc, 0);
	if (rc < 0)
		return false;
	struct keel_rd r = keel_rd_init(plain, plain_len);
	CHECK_INT(keel_v2_chain_decode(&r, skp->next, KEEL_V2_CHAIN_INNER, &inner), 0);
	CHECK_INT(keel_v2_chain_verify(&inner), 0);
	return true;
}

static void run(const char *path)
{
	struct capture c;
	uint8_t buf[65536];
	load(path, &c);
	printf("# %s: %zu datagrams\n", c.name, c.n);
	CHECK(c.n >= 4);
	if (c.n < 4 || !c.g_ir) {
		unload(&c);
		return;
	}

	/* IKE_SA_INIT: nonces, SPIs and the gateway's choice */
	uint8_t ni[256], nr[256];
	size_t ni_len, nr_len;
	CHECK_INT(keel_v2_msg_decode(c.data[0], c.len[0], &msg), 0);
	uint64_t spi_i = msg.hdr.spi_i;
	CHECK(find(&msg.chain, KEEL_V2_PAYLOAD_NONCE, &pl) != NULL);
	ni_len = pl.u.nonce.len;
	memcpy(ni, pl.u.nonce.p, ni_len);
	CHECK_INT(keel_v2_msg_decode(c.data[1], c.len[1], &msg), 0);
	uint64_t spi_r = msg.hdr.spi_r;
	CHECK(find(&msg.chain, KEEL_V2_PAYLOAD_NONCE, &pl) != NULL);
	nr_len = pl.u.nonce.len;
	memcpy(nr, pl.u.nonce.p, nr_len);
	CHECK(find(&msg.chain, KEEL_V2_PAYLOAD_SA, &pl) != NULL);

	struct keel_proposal all[2];
	struct keel_algs alg;
	char text[160], want[200];
	everything(KEEL_PROPOSAL_IKE, all);
	CHECK_INT(keel_sa_payload_check(&pl.u.sa, all, 2, KEEL_V2_PROTO_IKE, 1, &alg, NULL, NULL),
	          0);
	keel_algs_text(&alg, true, text, sizeof(text));
	snprintf(want, sizeof(want), "IKE:%s", text);
	CHECK(strcmp(want, c.ike_proposal) == 0);
	if (strcmp(want, c.ike_proposal) != 0)
		printf("# got %s, charon selected %s\n", want, c.ike_proposal);
	/* a proposal without the chosen PRF does not cover the choice */
	struct keel_proposal narrow[2] = {all[0], all[1]};
	for (int j = 0; j < 2; j++) {
		narrow[j].n_prf = 0;
		for (uint8_t k = 0; k < all[j].n_prf; k++)
			if (all[j].prf[k] != alg.prf)
				narrow[j].prf[narrow[j].n_prf++] = all[j].prf[k];
	}
	struct keel_algs alg2;
	CHECK(keel_sa_payload_check(&pl.u.sa, narrow, 2, KEEL_V2_PROTO_IKE, 1, &alg2, NULL, NULL) <
	      0);

	/* RFC 7296 §2.14 keys, against charon's */
	struct keel_ike_keyset ks_i, ks_r;
	struct keel_secret *g_ir = keel_secret_new_from(c.g_ir, (ptrdiff_t)c.g_ir_len);
	memset(&ks_i, 0, sizeof(ks_i));
	memset(&ks_r, 0, sizeof(ks_r));
	CHECK_INT(keel_ike_keys_derive(&ks_i, &alg, true, spi_i, spi_r, ni, ni_len, nr, nr_len,
	                               g_ir, 0, NULL),
	          0);
	CHECK_INT(keel_ike_keys_derive(&ks_r, &alg, false, spi_i, spi_r, ni, ni_len, nr, nr_len,
	                               g_ir, 0, NULL),
	          0);
	if (c.skeyseed)
		CHECK_MEM(keel_secret_data(ks_i.keys.skeyseed),
		          (size_t)keel_secret_len(ks_i.keys.skeyseed), c.skeyseed, c.skeyseed_len);
	const struct keel_secret *mine[7] = {ks_i.keys.sk_d,  ks_i.keys.sk_ai, ks_i.keys.sk_ar,
	                                     ks_i.keys.sk_ei, ks_i.keys.sk_er, ks_i.keys.sk_pi,
	                                     ks_i.keys.sk_pr};
	for (int k = 0; k < 7; k++)
		if (c.sk[k])
			CHECK_MEM(keel_secret_data(mine[k]), (size_t)keel_secret_len(mine[k]),
			          c.sk[k], c.sk_len[k]);

	/* every encrypted message opens with the right direction's keys */
	size_t opened = 0;
	bool have_idi = false, have_idr = false;
	uint8_t idi[300], idr[300], auth_i[64], auth_r[64];
	size_t idi_len = 0, idr_len = 0, auth_i_len = 0, auth_r_len = 0;
	uint32_t child_spi_r = 0;
	struct keel_algs child_alg;
	bool have_child = false;
	for (size_t i = 2; i < c.n; i++) {
		/* the gateway (responder) opens what the initiator sent, and vice versa */
		if (!open_sk(&c, i, c.i2r[i] ? &ks_r.sk : &ks_i.sk, buf))
			continue;
		opened++;
		if (msg.hdr.exchange != KEEL_V2_EXCHANGE_IKE_AUTH)
			continue;
		const struct keel_v2_raw_payload *raw;
		if (c.i2r[i] && (raw = find(&inner, KEEL_V2_PAYLOAD_IDI, NULL)) && !have_idi) {
			idi_len = raw->body.len;
			memcpy(idi, raw->body.p, idi_len);
			have_idi = true;
			if (find(&inner, KEEL_V2_PAYLOAD_AUTH, &pl)) {
				auth_i_len = pl.u.auth.data.len;
				memcpy(auth_i, pl.u.auth.data.p, auth_i_len);
			}
		}
		if (!c.i2r[i] && (raw = find(&inner, KEEL_V2_PAYLOAD_IDR, NULL)) && !have_idr) {
			idr_len = raw->body.len;
			memcpy(idr, raw->body.p, idr_len);
			have_idr = true;
			if (find(&inner, KEEL_V2_PAYLOAD_AUTH, &pl)) {
				auth_r_len = pl.u.auth.data.len;
				memcpy(auth_r, pl.u.auth.data.p, auth_r_len);
			}
		}
		if (!c.i2r[i] && find(&inner, KEEL_V2_PAYLOAD_SA, &pl) && !have_child) {
			struct keel_proposal esp[2];
			uint8_t spi[8];
			size_t spi_len = 0;
			everything(KEEL_PROPOSAL_ESP, esp);
			CHECK_INT(keel_sa_payload_check(&pl.u.sa, esp, 2, KEEL_V2_PROTO_ESP, 0,
			                                &child_alg, spi, &spi_len),
			          0);
			CHECK_INT(spi_len, 4);
			child_spi_r = (uint32_t)spi[0] << 24 | (uint32_t)spi[1] << 16 |
			              (uint32_t)spi[2] << 8 | spi[3];
			keel_algs_text(&child_alg, false, text, sizeof(text));
			snprintf(want, sizeof(want), "ESP:%s", text);
			CHECK(strcmp(want, c.esp_proposal) == 0);
			have_child = true;
		}
	}
	CHECK(opened >= 2);
	/* with certificates, strongSwan fragments IKE_AUTH (RFC 7383): only PSK has both IDs */
	if (c.psk[0])
		CHECK(have_idi && have_idr);

	/* a flipped bit anywhere in a protected message fails the ICV */
	for (size_t i = 2; i < c.n; i++) {
		CHECK_INT(keel_v2_msg_decode(c.data[i], c.len[i], &msg), 0);
		if (msg.chain.n == 0 || msg.chain.p[msg.chain.n - 1].type != KEEL_V2_PAYLOAD_SK)
			continue;
		size_t off = msg.chain.p[msg.chain.n - 1].off;
		uint8_t *plain;
		size_t plain_len;
		for (size_t pos = 0; pos < c.len[i]; pos += 7) {
			if (pos >= 24 && pos < 28)
				continue; /* the length field: a structural error, not an ICV one */
			memcpy(buf, c.data[i], c.len[i]);
			buf[pos] ^= 0x01;
			int rc = keel_sk_open(c.i2r[i] ? &ks_r.sk : &ks_i.sk, buf, c.len[i], off,
			                      &plain, &plain_len);
			CHECK(rc < 0);
		}
		break;
	}

	/* RFC 7296 §2.15: both PSK AUTH payloads, recomputed */
	if (c.psk[0] && have_idi && have_idr) {
		struct keel_secret *psk =
		    keel_secret_new_from((const uint8_t *)c.psk, (ptrdiff_t)strlen(c.psk));
		uint8_t out[64];
		ptrdiff_t n = keel_auth_psk(alg.prf, psk, c.data[0], c.len[0], nr, nr_len,
		                            ks_i.keys.sk_pi, idi, idi_len, out, sizeof(out));
		CHECK_MEM(out, (size_t)(n > 0 ? n : 0), auth_i, auth_i_len);
		n = keel_auth_psk(alg.prf, psk, c.data[1], c.len[1], ni, ni_len, ks_i.keys.sk_pr,
		                  idr, idr_len, out, sizeof(out));
		CHECK_MEM(out, (size_t)(n > 0 ? n : 0), auth_r, auth_r_len);
		/* the wrong secret, or the other side's key, gives another value */
		struct keel_secret *wrong = keel_secret_new_from((const uint8_t *)"x", 1);
		n = keel_auth_psk(alg.prf, wrong, c.data[1], c.len[1], ni, ni_len, ks_i.keys.sk_pr,
		                  idr, idr_len, out, sizeof(out));
		CHECK(n > 0 && memcmp(out, auth_r, (size_t)n) != 0);
		n = keel_auth_psk(alg.prf, psk, c.data[1], c.len[1], ni, ni_len, ks_i.keys.sk_pi,
		                  idr, idr_len, out, sizeof(out));
		CHECK(n > 0 && memcmp(out, auth_r, (size_t)n) != 0);
		keel_secret_free(wrong);
		keel_secret_free(psk);
	}

	/* RFC 7296 §2.17 KEYMAT of the first CHILD SA, against charon's */
	if (have_child) {
		CHECK_INT(child_spi_r, c.esp_spi_r);
		struct keel_child_keys ck;
		memset(&ck, 0, sizeof(ck));
		CHECK_INT(keel_child_keys_derive(&alg, &child_alg, ks_i.keys.sk_d, ni, ni_len, nr,
		                                 nr_len, NULL, &ck),
		          0);
		if (c.encr_i)
			CHECK_MEM(keel_secret_data(ck.encr_i), (size_t)keel_secret_len(ck.encr_i),
			          c.encr_i, c.encr_i_len);
		if (c.encr_r)
			CHECK_MEM(keel_secret_data(ck.encr_r), (size_t)keel_secret_len(ck.encr_r),
			          c.encr_r, c.encr_r_len);
		keel_child_keys_clear(&ck);
	}

	keel_ike_keys_clear(&ks_i);
	keel_ike_keys_clear(&ks_r);
	keel_secret_free(g_ir);
	unload(&c);
}

int main(void)
{
	run("strongswan/ikev2-psk.txt");
	run("strongswan/ikev2-cert.txt");
	run("strongswan/ikev2-cert-ecdsa.txt");
	run("strongswan/ikev2-eap.txt");
	return check_done();
}
