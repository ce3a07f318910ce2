/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * keel/config.h: defaults, strongSwan-syntax proposals, identities, traffic
 * selectors; and the selector helpers of the engine (narrowing, routes).
 */
#include <string.h>

#include <keel/config.h>

#include "check.h"
#include "ikev2/addr.h"
#include "ikev2/ts.h"

static void test_defaults(void)
{
	struct keel_config c;
	memset(&c, 0xa5, sizeof(c));
	keel_config_init(&c);
	CHECK_INT(c.ike_version, 2);
	CHECK_INT(c.local.port, 500);
	CHECK_INT(c.remote_natt_port, 4500);
	CHECK_INT(c.auth, KEEL_AUTH_PSK);
	CHECK(c.psk == NULL);
	CHECK(c.request_ip4 && c.request_dns && !c.request_ip6 && !c.force_encap);
	CHECK_INT(c.retransmit_timeout_ms, 4000);
	CHECK_INT(c.retransmit_factor_permille, 1800);
	CHECK_INT(c.retransmit_tries, 5);
	CHECK_INT(c.n_ike_proposals, 0);
	CHECK_INT(c.local_id.type, KEEL_ID_NONE);

	struct keel_proposal p[KEEL_MAX_PROPOSALS];
	char buf[256];
	CHECK_INT(keel_proposal_defaults(KEEL_PROPOSAL_IKE, p, KEEL_MAX_PROPOSALS), 2);
	keel_proposal_to_text(&p[0], buf, sizeof(buf));
	CHECK(strcmp(buf, "aes256gcm16-aes128gcm16-prfsha256-prfsha384-x25519-ecp256-modp2048") ==
	      0);
	keel_proposal_to_text(&p[1], buf, sizeof(buf));
	CHECK(strcmp(buf, "aes256-sha256-prfsha256-prfsha384-x25519-ecp256-modp2048") == 0);
	CHECK_INT(keel_proposal_defaults(KEEL_PROPOSAL_ESP, p, 1), 1);
	keel_proposal_to_text(&p[0], buf, sizeof(buf));
	CHECK(strcmp(buf, "aes256gcm16-aes128gcm16") == 0);
	CHECK_INT(p[0].n_esn, 1);
	CHECK_INT(p[0].esn[0], 0);
}

static void test_proposals(void)
{
	struct keel_proposal p;
	char buf[256];
	size_t pos = 99;

	CHECK_INT(
	    keel_proposal_from_text("aes256gcm16-prfsha384-x25519", KEEL_PROPOSAL_IKE, &p, NULL),
	    0);
	CHECK_INT(p.n_encr, 1);
	CHECK_INT(p.encr[0].id, 20);
	CHECK_INT(p.encr[0].key_bits, 256);
	CHECK_INT(p.n_integ, 0);
	CHECK_INT(p.n_prf, 1);
	CHECK_INT(p.prf[0], 6);
	CHECK_INT(p.n_dh, 1);
	CHECK_INT(p.dh[0], 31);

	/* IKE without a PRF: it follows the integrity algorithm */
	CHECK_INT(keel_proposal_from_text("aes128-sha1-modp2048", KEEL_PROPOSAL_IKE, &p, NULL), 0);
	CHECK_INT(p.encr[0].id, 12);
	CHECK_INT(p.encr[0].key_bits, 128);
	CHECK_INT(p.integ[0], 2);
	CHECK_INT(p.prf[0], 2);
	CHECK_INT(p.dh[0], 14);
	keel_proposal_to_text(&p, buf, sizeof(buf));
	CHECK(strcmp(buf, "aes128-sha1-prfsha1-modp2048") == 0);
	/* ... or with AEAD, SHA-2 PRFs */
	CHECK_INT(
	    keel_proposal_from_text("chacha20poly1305-curve25519", KEEL_PROPOSAL_IKE, &p, NULL), 0);
	CHECK_INT(p.encr[0].id, 28);
	CHECK_INT(p.encr[0].key_bits, 0);
	CHECK_INT(p.n_prf, 3);

	/* ESP with ESN and a PFS group; round trip */
	CHECK_INT(
	    keel_proposal_from_text("aes192-sha384-ecp384-esn-noesn", KEEL_PROPOSAL_ESP, &p, NULL),
	    0);
	CHECK_INT(p.n_esn, 2);
	CHECK_INT(p.n_dh, 1);
	CHECK_INT(p.n_prf, 0);
	keel_proposal_to_text(&p, buf, sizeof(buf));
	CHECK(strcmp(buf, "aes192-sha384-ecp384-esn-noesn") == 0);
	CHECK_INT(keel_proposal_from_text(" aes256gcm ", KEEL_PROPOSAL_ESP, &p, NULL), 0);
	CHECK_INT(p.encr[0].id, 20);

	/* errors: position of the unknown word, or the whole being incomplete */
	CHECK_INT(keel_proposal_from_text("aes256-sha256-modp1024", KEEL_PROPOSAL_IKE, &p, &pos),
	          KEEL_ERR_INVAL);
	CHECK_INT(pos, 14);
	CHECK_INT(keel_proposal_from_text("aes256-sha256", KEEL_PROPOSAL_IKE, &p, &pos),
	          KEEL_ERR_INVAL); /* no DH group */
	CHECK_INT(keel_proposal_from_text("aes256-x25519", KEEL_PROPOSAL_IKE, &p, NULL),
	          KEEL_ERR_INVAL); /* CBC without integrity */
	CHECK_INT(keel_proposal_from_text("aes256gcm16-sha256-x25519", KEEL_PROPOSAL_IKE, &p, NULL),
	          KEEL_ERR_INVAL); /* AEAD with integrity */
	CHECK_INT(keel_proposal_from_text("aes256gcm16-aes256-sha256", KEEL_PROPOSAL_ESP, &p, NULL),
	          KEEL_ERR_INVAL); /* AEAD mixed with CBC */
	CHECK_INT(keel_proposal_from_text("aes256gcm16-prfsha256", KEEL_PROPOSAL_ESP, &p, NULL),
	          KEEL_ERR_INVAL); /* a PRF in ESP */
	CHECK_INT(keel_proposal_from_text("aes256gcm16-esn-x25519-prfsha256", KEEL_PROPOSAL_IKE, &p,
	                                  &pos),
	          KEEL_ERR_INVAL);
	CHECK_INT(pos, 12);
	CHECK_INT(keel_proposal_from_text("", KEEL_PROPOSAL_ESP, &p, NULL), KEEL_ERR_INVAL);
	CHECK_INT(keel_proposal_from_text("aes256gcm16--x25519", KEEL_PROPOSAL_IKE, &p, NULL),
	          KEEL_ERR_INVAL);
	CHECK_INT(keel_proposal_to_text(&p, buf, 4), KEEL_ERR_NOBUF);
	CHECK_INT(strlen(buf), 3);
}

static void test_ids(void)
{
	struct keel_id id;
	char buf[300];
	CHECK_INT(keel_id_from_text("vpn.example.org", &id), 0);
	CHECK_INT(id.type, KEEL_ID_FQDN);
	CHECK_MEM(id.data, id.len, "vpn.example.org", 15);
	CHECK_INT(keel_id_from_text("@vpn.example.org", &id), 0);
	CHECK_INT(id.type, KEEL_ID_FQDN);
	CHECK_INT(id.len, 15);
	CHECK_INT(keel_id_from_text("alice@example.org", &id), 0);
	CHECK_INT(id.type, KEEL_ID_RFC822_ADDR);
	CHECK_INT(keel_id_from_text("192.0.2.1", &id), 0);
	CHECK_INT(id.type, KEEL_ID_IPV4_ADDR);
	CHECK_MEM(id.data, id.len, "\xc0\x00\x02\x01", 4);
	keel_id_to_text(&id, buf, sizeof(buf));
	CHECK(strcmp(buf, "192.0.2.1") == 0);
	CHECK_INT(keel_id_from_text("2001:db8::1", &id), 0);
	CHECK_INT(id.type, KEEL_ID_IPV6_ADDR);
	CHECK_INT(id.len, 16);
	keel_id_to_text(&id, buf, sizeof(buf));
	CHECK(strcmp(buf, "2001:db8::1") == 0);
	CHECK_INT(keel_id_from_text("@#00ff10", &id), 0);
	CHECK_INT(id.type, KEEL_ID_KEY_ID);
	CHECK_MEM(id.data, id.len, "\x00\xff\x10", 3);
	keel_id_to_text(&id, buf, sizeof(buf));
	CHECK(strcmp(buf, "@#00ff10") == 0);
	CHECK_INT(keel_id_from_text("CN=gw, O=Keel", &id), 0);
	CHECK_INT(id.type, KEEL_ID_DER_ASN1_DN);
	keel_id_to_text(&id, buf, sizeof(buf));
	CHECK(strcmp(buf, "CN=gw, O=Keel") == 0);
	CHECK_INT(keel_id_from_text("CN=gw, Q=Keel", &id), KEEL_ERR_INVAL);
	CHECK_INT(keel_id_from_text("", &id), KEEL_ERR_INVAL);
	CHECK_INT(keel_id_from_text("@#abc", &id), KEEL_ERR_INVAL);
	/* peer strings are escaped for logs */
	id.type = KEEL_ID_FQDN;
	memcpy(id.data, "a\"b\n\\", 5);
	id.len = 5;
	keel_id_to_text(&id, buf, sizeof(buf));
	CHECK(strcmp(buf, "a\\x22b\\x0a\\x5c") == 0);
}

static void test_addrs(void)
{
	struct keel_addr a;
	char buf[64];
	static const char *const ok[] = {
	    "::",           "::1", "1::", "2001:db8::", "2001:db8:0:0:1:0:0:1", "::ffff:192.0.2.1",
	    "fe80::1:2:3:4"};
	static const char *const want[] = {
	    "::",           "::1", "1::", "2001:db8::", "2001:db8::1:0:0:1", "::ffff:c000:201",
	    "fe80::1:2:3:4"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK(keel_addr_parse(ok[i], strlen(ok[i]), &a));
		CHECK_INT(a.family, KEEL_AF_INET6);
		keel_addr_format(a.family, a.bytes, buf, sizeof(buf));
		CHECK(strcmp(buf, want[i]) == 0);
	}
	static const char *const bad[] = {
	    "",        "1.2.3",   "1.2.3.4.5",         "256.1.1.1", "1..2.3", ":::",
	    "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1.2.3.4 ",  ":1::"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!keel_addr_parse(bad[i], strlen(bad[i]), &a));
	CHECK(keel_addr_parse("1:2:3:4:5:6:7:8", 15, &a));
	keel_addr_format(a.family, a.bytes, buf, sizeof(buf));
	CHECK(strcmp(buf, "1:2:3:4:5:6:7:8") == 0);
}

static void test_ts(void)
{
	struct keel_ts a, b;
	char buf[128];
	CHECK_INT(keel_ts_from_text("198.51.100.7/24", &a), 0);
	keel_ts_to_text(&a, buf, sizeof(buf));
	CHECK(strcmp(buf, "198.51.100.0/24") == 0);
	CHECK_INT(keel_ts_from_text("0.0.0.0/0", &b), 0);
	CHECK(keel_ts_within(&a, &b));
	CHECK(!keel_ts_within(&b, &a));
	CHECK_INT(keel_ts_from_text("192.0.2.10-192.0.2.20", &a), 0);
	keel_ts_to_text(&a, buf, sizeof(buf));
	CHECK(strcmp(buf, "192.0.2.10-192.0.2.20") == 0);
	CHECK_INT(keel_ts_from_text("2001:db8::/32", &a), 0);
	CHECK(!keel_ts_within(&a, &b)); /* another family */
	CHECK_INT(keel_ts_from_text("192.0.2.20-192.0.2.10", &a), KEEL_ERR_INVAL);
	CHECK_INT(keel_ts_from_text("192.0.2.0/33", &a), KEEL_ERR_INVAL);
	CHECK_INT(keel_ts_from_text("192.0.2.0/", &a), KEEL_ERR_INVAL);
	CHECK_INT(keel_ts_from_text("x", &a), KEEL_ERR_INVAL);

	/* RFC 7296 §2.9: narrowed is fine, widened is not */
	struct keel_ts asked[2], got[2];
	keel_ts_from_text("10.0.0.0/8", &asked[0]);
	keel_ts_from_text("2001:db8::/32", &asked[1]);
	keel_ts_from_text("10.1.0.0/16", &got[0]);
	keel_ts_from_text("2001:db8:1::/48", &got[1]);
	CHECK(keel_ts_narrowed_ok(got, 2, asked, 2));
	keel_ts_from_text("10.0.0.0/7", &got[1]);
	CHECK(!keel_ts_narrowed_ok(got, 2, asked, 2));
	CHECK(!keel_ts_narrowed_ok(got, 0, asked, 2));
	got[0].ip_proto = 6;
	CHECK(keel_ts_within(&got[0], &asked[0])); /* a protocol inside "any" */
	asked[0].ip_proto = 17;
	CHECK(!keel_ts_within(&got[0], &asked[0]));

	/* ranges to routes */
	struct keel_prefix p[64];
	size_t n = 0;
	keel_ts_from_text("192.0.2.10-192.0.2.20", &a);
	CHECK(keel_ts_to_prefixes(&a, p, 64, &n));
	CHECK_INT(n, 4); /* .10/31 .12/30 .16/30 .20/32 */
	CHECK_INT(p[0].prefix_len, 31);
	CHECK_INT(p[0].addr.bytes[3], 10);
	CHECK_INT(p[1].prefix_len, 30);
	CHECK_INT(p[1].addr.bytes[3], 12);
	CHECK_INT(p[2].prefix_len, 30);
	CHECK_INT(p[2].addr.bytes[3], 16);
	CHECK_INT(p[3].prefix_len, 32);
	CHECK_INT(p[3].addr.bytes[3], 20);
	n = 0;
	keel_ts_all(KEEL_AF_INET6, &a);
	CHECK(keel_ts_to_prefixes(&a, p, 64, &n));
	CHECK_INT(n, 1);
	CHECK_INT(p[0].prefix_len, 0);
	n = 0;
	keel_ts_from_text("0.0.0.1-255.255.255.254", &a);
	CHECK(!keel_ts_to_prefixes(&a, p, 8, &n));
	CHECK_INT(n, 8);
}

int main(void)
{
	test_defaults();
	test_proposals();
	test_ids();
	test_addrs();
	test_ts();
	return check_done();
}
