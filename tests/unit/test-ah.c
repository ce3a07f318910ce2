/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * AH (RFC 4302) CHILD SAs: the ah-proposals syntax, the IKEv2 SA payload
 * with protocol AH (RFC 7296 §3.3: INTEG and ESN transforms only), choosing
 * and checking AH proposals, KEYMAT of integrity keys only (RFC 7296 §2.17),
 * and IKEv1 quick mode offers with AH transform IDs and the Authentication
 * Algorithm attribute (RFC 2407 §4.4.3, §4.5) and KEYMAT over protocol AH
 * (RFC 2409 §5.5). The engines' exchanges with AH are in test-ikev2-engine
 * and test-ikev1-engine.
 */
#include <string.h>

#include <keel/config.h>
#include <keel/secret.h>

#include "check.h"
#include "crypto/kdf.h"
#include "ikev1/sa.h"
#include "ikev2/addr.h"
#include "ikev2/sa.h"
#include "wire/ikev2.h"

static void test_text(void)
{
	struct keel_proposal p;
	size_t pos = 0;
	char buf[128];

	CHECK_INT(keel_proposal_from_text("sha256", KEEL_PROPOSAL_AH, &p, NULL), 0);
	CHECK_INT(p.n_encr, 0);
	CHECK_INT(p.n_prf, 0);
	CHECK_INT(p.n_integ, 1);
	CHECK_INT(p.integ[0], KEEL_V2_INTEG_HMAC_SHA2_256_128);
	CHECK_INT(p.n_esn, 1);
	CHECK_INT(p.esn[0], 0);
	CHECK_INT(keel_proposal_check_supported(&p, KEEL_PROPOSAL_AH), 0);
	/* an AH proposal is not an ESP one, and the other way round */
	CHECK_INT(keel_proposal_check_supported(&p, KEEL_PROPOSAL_ESP), KEEL_ERR_INVAL);

	CHECK_INT(
	    keel_proposal_from_text("sha384-sha512-esn-noesn-modp3072", KEEL_PROPOSAL_AH, &p, NULL),
	    0);
	CHECK_INT(p.n_integ, 2);
	CHECK_INT(p.integ[1], KEEL_V2_INTEG_HMAC_SHA2_512_256);
	CHECK_INT(p.n_esn, 2);
	CHECK_INT(p.n_dh, 1);
	CHECK_INT(p.dh[0], KEEL_V2_DH_MODP3072);
	CHECK(keel_proposal_to_text(&p, buf, sizeof(buf)) > 0);
	CHECK(strcmp(buf, "sha384-sha512-modp3072-esn-noesn") == 0);

	/* integrity only, HMAC-SHA2 only: the offset of what is refused */
	CHECK_INT(keel_proposal_from_text("aes128-sha256", KEEL_PROPOSAL_AH, &p, &pos),
	          KEEL_ERR_INVAL);
	CHECK_INT(pos, 0);
	CHECK_INT(keel_proposal_from_text("sha256-aes128gcm16", KEEL_PROPOSAL_AH, &p, &pos),
	          KEEL_ERR_INVAL);
	CHECK_INT(pos, 7);
	CHECK_INT(keel_proposal_from_text("sha1", KEEL_PROPOSAL_AH, &p, &pos), KEEL_ERR_INVAL);
	CHECK_INT(pos, 0);
	CHECK_INT(keel_proposal_from_text("sha256-aesxcbc", KEEL_PROPOSAL_AH, &p, &pos),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_proposal_from_text("sha256-prfsha256", KEEL_PROPOSAL_AH, &p, &pos),
	          KEEL_ERR_INVAL);
	/* no integrity algorithm at all: incomplete, at the end */
	CHECK_INT(keel_proposal_from_text("modp3072-esn", KEEL_PROPOSAL_AH, &p, &pos),
	          KEEL_ERR_INVAL);
	CHECK_INT(pos, strlen("modp3072-esn"));

	struct keel_proposal d[KEEL_MAX_PROPOSALS];
	CHECK_INT(keel_proposal_defaults(KEEL_PROPOSAL_AH, d, KEEL_MAX_PROPOSALS), 1);
	CHECK_INT(d[0].n_integ, 3);
	CHECK_INT(d[0].n_encr, 0);
}

/* Our AH offer on the wire: RFC 7296 §3.3.1 proposal, §3.3.2 transforms. */
static void test_ikev2_offer(void)
{
	static const uint8_t spi[4] = {0x11, 0x22, 0x33, 0x44};
	/*
	 * SA payload: generic header (length 32); proposal: last, length 28,
	 * number 1, protocol 2 (AH), SPI size 4, 2 transforms, the SPI;
	 * transform INTEG (3) 12 (HMAC-SHA2-256-128), more follow (3); transform
	 * ESN (5) 0, last (0). No ENCR transform (RFC 7296 §3.3.3).
	 */
	static const uint8_t want[] = {
	    0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x1c, 0x01, 0x02, 0x04,
	    0x02, 0x11, 0x22, 0x33, 0x44, 0x03, 0x00, 0x00, 0x08, 0x03, 0x00,
	    0x00, 0x0c, 0x00, 0x00, 0x00, 0x08, 0x05, 0x00, 0x00, 0x00,
	};
	struct keel_proposal p;
	static struct keel_v2_payload pl;
	uint8_t buf[256];

	CHECK_INT(keel_proposal_from_text("sha256", KEEL_PROPOSAL_AH, &p, NULL), 0);
	memset(&pl, 0, sizeof(pl));
	pl.type = KEEL_V2_PAYLOAD_SA;
	CHECK_INT(keel_sa_payload_build(&pl.u.sa, &p, 1, KEEL_V2_PROTO_AH, spi, 4, false), 0);
	CHECK_INT(keel_v2_sa_verify(&pl.u.sa), 0);
	struct keel_wr w = keel_wr_init(buf, sizeof(buf));
	struct keel_v2_chain_wr cw;
	keel_v2_chain_wr_begin(&cw, &w);
	CHECK_INT(keel_v2_chain_add(&cw, &pl), 0);
	ptrdiff_t n = keel_v2_chain_finish(&cw);
	CHECK_MEM(buf, (size_t)(n > 0 ? n : 0), want, sizeof(want));

	/* PFS groups only when asked (CREATE_CHILD_SA), both ESN settings */
	CHECK_INT(keel_proposal_from_text("sha512-x25519-esn-noesn", KEEL_PROPOSAL_AH, &p, NULL),
	          0);
	CHECK_INT(keel_sa_payload_build(&pl.u.sa, &p, 1, KEEL_V2_PROTO_AH, spi, 4, true), 0);
	CHECK_INT(pl.u.sa.n_transforms, 4);
	CHECK_INT(pl.u.sa.transforms[0].type, KEEL_V2_TRANSFORM_INTEG);
	CHECK_INT(pl.u.sa.transforms[1].type, KEEL_V2_TRANSFORM_DH);
	CHECK_INT(pl.u.sa.transforms[2].type, KEEL_V2_TRANSFORM_ESN);
	CHECK_INT(pl.u.sa.transforms[3].type, KEEL_V2_TRANSFORM_ESN);
}

/* The responder's one AH proposal: what keel_sa_payload_check() takes. */
static void answer(struct keel_v2_sa *sa, uint8_t protocol, uint16_t encr, uint16_t integ,
                   uint16_t esn)
{
	static const uint8_t spi[4] = {0xc0, 0, 0, 1};
	keel_v2_sa_init(sa);
	keel_v2_sa_add_proposal(sa, protocol, spi, 4);
	if (encr)
		keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_ENCR, encr, 128);
	if (integ)
		keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_INTEG, integ, 0);
	keel_v2_sa_add_transform(sa, KEEL_V2_TRANSFORM_ESN, esn, 0);
}

static void test_ikev2_choice(void)
{
	struct keel_proposal p[2];
	static struct keel_v2_sa sa;
	struct keel_algs a;
	uint8_t spi[8];
	size_t spi_len = 0;

	CHECK_INT(keel_proposal_from_text("sha256", KEEL_PROPOSAL_AH, &p[0], NULL), 0);
	CHECK_INT(keel_proposal_from_text("sha512-esn", KEEL_PROPOSAL_AH, &p[1], NULL), 0);

	answer(&sa, KEEL_V2_PROTO_AH, 0, KEEL_V2_INTEG_HMAC_SHA2_512_256, 1);
	sa.proposals[0].num = 2;
	CHECK_INT(keel_sa_payload_check(&sa, p, 2, KEEL_V2_PROTO_AH, 0, &a, spi, &spi_len), 0);
	CHECK_INT(a.encr, 0);
	CHECK_INT(a.integ, KEEL_V2_INTEG_HMAC_SHA2_512_256);
	CHECK_INT(a.esn, 1);
	CHECK_INT(spi_len, 4);

	/* what we did not offer, or not AH */
	answer(&sa, KEEL_V2_PROTO_AH, 0, KEEL_V2_INTEG_HMAC_SHA2_384_192, 0);
	CHECK_INT(keel_sa_payload_check(&sa, p, 2, KEEL_V2_PROTO_AH, 0, &a, spi, &spi_len),
	          KEEL_ERR_MALFORMED);
	answer(&sa, KEEL_V2_PROTO_AH, 0, KEEL_V2_INTEG_HMAC_SHA2_256_128, 1); /* ESN not offered */
	sa.proposals[0].num = 1;
	CHECK_INT(keel_sa_payload_check(&sa, p, 1, KEEL_V2_PROTO_AH, 0, &a, spi, &spi_len),
	          KEEL_ERR_MALFORMED);
	answer(&sa, KEEL_V2_PROTO_ESP, 0, KEEL_V2_INTEG_HMAC_SHA2_256_128, 0);
	CHECK_INT(keel_sa_payload_check(&sa, p, 2, KEEL_V2_PROTO_AH, 0, &a, spi, &spi_len),
	          KEEL_ERR_MALFORMED);
	/* RFC 7296 §3.3.3: no ENCR in AH, and INTEG is required */
	answer(&sa, KEEL_V2_PROTO_AH, KEEL_V2_ENCR_AES_CBC, KEEL_V2_INTEG_HMAC_SHA2_256_128, 0);
	CHECK_INT(keel_sa_payload_check(&sa, p, 2, KEEL_V2_PROTO_AH, 0, &a, spi, &spi_len),
	          KEEL_ERR_MALFORMED);
	answer(&sa, KEEL_V2_PROTO_AH, 0, 0, 0);
	CHECK_INT(keel_sa_payload_check(&sa, p, 2, KEEL_V2_PROTO_AH, 0, &a, spi, &spi_len),
	          KEEL_ERR_MALFORMED);

	/* as responder (the gateway's CREATE_CHILD_SA): its second proposal fits our first */
	static struct keel_v2_sa offer;
	static const uint8_t gspi[4] = {0xc0, 0, 0, 2};
	keel_v2_sa_init(&offer);
	keel_v2_sa_add_proposal(&offer, KEEL_V2_PROTO_AH, gspi, 4);
	keel_v2_sa_add_transform(&offer, KEEL_V2_TRANSFORM_INTEG, KEEL_V2_INTEG_HMAC_SHA2_384_192,
	                         0);
	keel_v2_sa_add_transform(&offer, KEEL_V2_TRANSFORM_ESN, 0, 0);
	keel_v2_sa_add_proposal(&offer, KEEL_V2_PROTO_AH, gspi, 4);
	keel_v2_sa_add_transform(&offer, KEEL_V2_TRANSFORM_INTEG, KEEL_V2_INTEG_HMAC_SHA2_384_192,
	                         0);
	keel_v2_sa_add_transform(&offer, KEEL_V2_TRANSFORM_INTEG, KEEL_V2_INTEG_HMAC_SHA2_256_128,
	                         0);
	keel_v2_sa_add_transform(&offer, KEEL_V2_TRANSFORM_ESN, 0, 0);
	uint8_t number = 0;
	CHECK_INT(
	    keel_sa_payload_choose(&offer, p, 2, KEEL_V2_PROTO_AH, 0, &a, &number, spi, &spi_len),
	    0);
	CHECK_INT(number, 2);
	CHECK_INT(a.integ, KEEL_V2_INTEG_HMAC_SHA2_256_128);
	CHECK_INT(a.encr, 0);
	CHECK_INT(
	    keel_sa_payload_choose(&offer, p, 2, KEEL_V2_PROTO_ESP, 0, &a, &number, spi, &spi_len),
	    KEEL_ERR_UNSUPPORTED);
	/* and our answer is AH with INTEG and ESN alone */
	CHECK_INT(keel_sa_payload_build_chosen(&sa, number, KEEL_V2_PROTO_AH, spi, 4, &a), 0);
	CHECK_INT(sa.proposals[0].protocol, KEEL_V2_PROTO_AH);
	CHECK_INT(sa.n_transforms, 2);
	CHECK_INT(sa.transforms[0].type, KEEL_V2_TRANSFORM_INTEG);
	CHECK_INT(sa.transforms[1].type, KEEL_V2_TRANSFORM_ESN);
}

/* RFC 7296 §2.17: an AH SA takes integrity keys only, of the HMAC's key size (RFC 4868 §2.1.1). */
static void test_ikev2_keymat(void)
{
	static const struct {
		uint16_t integ;
		ptrdiff_t len;
	} v[] = {
	    {KEEL_V2_INTEG_HMAC_SHA2_256_128, 32},
	    {KEEL_V2_INTEG_HMAC_SHA2_384_192, 48},
	    {KEEL_V2_INTEG_HMAC_SHA2_512_256, 64},
	};
	uint8_t ni[32], nr[32], d[32];
	memset(ni, 0x11, sizeof(ni));
	memset(nr, 0x22, sizeof(nr));
	memset(d, 0x33, sizeof(d));
	struct keel_secret *sk_d = keel_secret_new_from(d, sizeof(d));
	struct keel_algs ike = {.prf = KEEL_V2_PRF_HMAC_SHA2_256};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct keel_algs ah = {.integ = v[i].integ};
		struct keel_child_keys k;
		memset(&k, 0, sizeof(k));
		CHECK_INT(keel_child_keys_derive(&ike, &ah, sk_d, ni, sizeof(ni), nr, sizeof(nr),
		                                 NULL, &k),
		          0);
		CHECK(k.encr_i == NULL && k.encr_r == NULL);
		CHECK_INT(keel_secret_len(k.integ_i), v[i].len);
		CHECK_INT(keel_secret_len(k.integ_r), v[i].len);
		/* KEYMAT = integ_i | integ_r: the first bytes of prf+ are integ_i */
		struct keel_algs esp = {
		    .encr = KEEL_V2_ENCR_AES_CBC, .encr_key_bits = 128, .integ = v[i].integ};
		struct keel_child_keys e;
		memset(&e, 0, sizeof(e));
		CHECK_INT(keel_child_keys_derive(&ike, &esp, sk_d, ni, sizeof(ni), nr, sizeof(nr),
		                                 NULL, &e),
		          0);
		/* with ESP the cipher key comes first: its first bytes are AH's integ_i */
		CHECK_MEM(keel_secret_data(e.encr_i), 16, keel_secret_data(k.integ_i), 16);
		keel_child_keys_clear(&k);
		keel_child_keys_clear(&e);
	}
	keel_secret_free(sk_d);
}

static int rng_zero(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	memset(buf, 0x5a, len);
	return 0;
}

/* IKEv1: the quick mode offer and KEYMAT with protocol AH. */
static void test_ikev1(void)
{
	static uint8_t psk_bytes[] = "keel-test-psk";
	struct keel_config c;
	struct keel_v1_options o;
	struct keel_env env = {0};
	struct keel_v1sa *sa = NULL;
	keel_config_init(&c);
	c.ike_version = 1;
	keel_addr_parse("192.0.2.2", 9, &c.local);
	keel_addr_parse("192.0.2.1", 9, &c.remote);
	c.local.port = c.remote.port = 500;
	struct keel_secret *psk = keel_secret_new_from(psk_bytes, 13);
	c.psk = psk;
	c.n_ah_proposals = 2;
	CHECK_INT(
	    keel_proposal_from_text("sha256-sha384", KEEL_PROPOSAL_AH, &c.ah_proposals[0], NULL),
	    0);
	CHECK_INT(keel_proposal_from_text("sha512-esn", KEEL_PROPOSAL_AH, &c.ah_proposals[1], NULL),
	          0);
	keel_v1_options_init(&o);
	env.random = rng_zero;
	CHECK_INT(keel_v1sa_new(&c, &o, &env, &sa), 0);
	if (sa) {
		/* RFC 2407 §4.4.3: AH_SHA2_256 = 5 etc., §4.5: Authentication Algorithm */
		CHECK_INT(sa->child_proto, KEEL_V1_PROTO_AH);
		CHECK_INT(sa->n_espx, 3);
		CHECK_INT(sa->espx[0].esp_id, KEEL_V1_AH_SHA2_256);
		CHECK_INT(sa->espx[0].auth_alg, KEEL_V1_IPSEC_AUTH_HMAC_SHA2_256);
		CHECK_INT(sa->espx[0].key_bits, 0);
		CHECK_INT(sa->espx[1].esp_id, KEEL_V1_AH_SHA2_384);
		CHECK_INT(sa->espx[1].auth_alg, KEEL_V1_IPSEC_AUTH_HMAC_SHA2_384);
		CHECK_INT(sa->espx[2].esp_id, KEEL_V1_AH_SHA2_512);
		CHECK(sa->espx[2].esn);
		CHECK_INT(sa->espx_prop[2], 2);
		char text[200];
		keel_v1_offer_text(sa, true, text, sizeof(text));
		CHECK(strcmp(text, "sha256, sha384, sha512-esn") == 0);
	}
	keel_v1sa_free(sa);
	/* and never in UDP */
	c.force_encap = true;
	sa = NULL;
	CHECK_INT(keel_v1sa_new(&c, &o, &env, &sa), KEEL_ERR_INVAL);
	keel_secret_free(psk);

	/* the key sizes: integrity only */
	struct v1_algs a = {.integ = KEEL_V2_INTEG_HMAC_SHA2_384_192};
	ptrdiff_t el = -1, il = -1;
	CHECK_INT(keel_v1_algs_key_lens(&a, &el, &il), 0);
	CHECK_INT(el, 0);
	CHECK_INT(il, 48);
	struct v1_algs none = {0};
	CHECK_INT(keel_v1_algs_key_lens(&none, &el, &il), KEEL_ERR_UNSUPPORTED);

	/* RFC 2409 §5.5: the protocol is part of KEYMAT: AH and ESP keys differ */
	uint8_t d[32], spi[4] = {1, 2, 3, 4}, ni[16], nr[16];
	memset(d, 7, sizeof(d));
	memset(ni, 8, sizeof(ni));
	memset(nr, 9, sizeof(nr));
	struct keel_secret *skeyid_d = keel_secret_new_from(d, sizeof(d));
	struct keel_ikev1_qm_params p = {
	    .prf = KEEL_PRF_HMAC_SHA2_256,
	    .skeyid_d = skeyid_d,
	    .protocol = KEEL_V1_PROTO_AH,
	    .spi = spi,
	    .spi_len = 4,
	    .nonce_i = ni,
	    .nonce_i_len = sizeof(ni),
	    .nonce_r = nr,
	    .nonce_r_len = sizeof(nr),
	};
	struct keel_secret *e = NULL, *i_ah = NULL, *i_esp = NULL;
	CHECK_INT(keel_ikev1_qm_keys(&p, 0, 32, &e, &i_ah), 0);
	CHECK(e == NULL);
	CHECK_INT(keel_secret_len(i_ah), 32);
	p.protocol = KEEL_V1_PROTO_ESP;
	CHECK_INT(keel_ikev1_qm_keys(&p, 0, 32, &e, &i_esp), 0);
	CHECK(i_ah && i_esp && !keel_secret_equal(i_ah, i_esp));
	keel_secret_free(i_ah);
	keel_secret_free(i_esp);
	keel_secret_free(skeyid_d);
}

int main(void)
{
	test_text();
	test_ikev2_offer();
	test_ikev2_choice();
	test_ikev2_keymat();
	test_ikev1();
	return check_done();
}
