/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * keel.conf(5): profiles and secrets files, parsed from memory and from
 * files. Every error class is asserted with its exact "file:line: ..." text,
 * and no secret may appear in any error message.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include <keel-platform/profile.h>

#include "check.h"

#define CHECK_STR(got, want) check_str(__FILE__, __LINE__, (got), (want))

static void check_str(const char *file, int line, const char *got, const char *want)
{
	check_count++;
	if (!got || strcmp(got, want) != 0) {
		char m[1024];
		snprintf(m, sizeof(m), "got '%s', expected '%s'", got ? got : "(null)", want);
		check_fail(file, line, m);
	}
}

static struct keel_profile *parse(const char *text, GError **error)
{
	return keel_profile_parse("office.conf", "/home/alice/vpn", text, strlen(text), error);
}

/* Parses text, which must fail with exactly msg and code. */
#define EXPECT_ERROR(text, code, msg) expect_error(__LINE__, (text), (code), (msg), NULL)
#define EXPECT_ERROR_HIDING(text, code, msg, secret)                                               \
	expect_error(__LINE__, (text), (code), (msg), (secret))

static void expect_error(int line, const char *text, int code, const char *msg, const char *secret)
{
	g_autoptr(GError) error = NULL;
	struct keel_profile *p = parse(text, &error);
	check_count++;
	if (p || !error) {
		check_fail(__FILE__, line, "profile parsed, expected an error");
		keel_profile_free(p);
		return;
	}
	check_str(__FILE__, line, error->message, msg);
	CHECK(g_error_matches(error, KEEL_PROFILE_ERROR, code));
	if (secret)
		CHECK(strstr(error->message, secret) == NULL);
}

static const char full_profile[] =
    "# Office VPN\n"
    "[connection]\n"
    "gateway = vpn.example.org:4500\n"
    "ike = 2\n"
    "auth = psk\n"
    "local-id = alice@example.org\n"
    "remote-id = vpn.example.org\n"
    "ike-proposals = aes256gcm16-prfsha384-x25519, aes256-sha256-modp2048, "
    "aes128gcm16-ecp256\n"
    "esp-proposals = aes128gcm16, chacha20poly1305, aes256-sha256-ecp256-esn\n"
    "remote-ts = 198.51.100.0/24, 2001:db8::/32\n"
    "datapath = tun\n"
    "\n"
    "[auth]\n"
    "username = alice\n"
    "certificate = certs/client.pem\n"
    "private-key = /etc/keel/client.key\n"
    "ca = ../ca.pem\n"
    "crl = revoked.crl\n";

static void test_full(void)
{
	g_autoptr(GError) error = NULL;
	struct keel_profile *p = parse(full_profile, &error);
	CHECK(p != NULL);
	if (!p) {
		fprintf(stderr, "%s\n", error->message);
		return;
	}
	CHECK_STR(p->gateway_host, "vpn.example.org");
	CHECK_INT(p->gateway_port, 4500);
	CHECK_INT(p->gateway_addr.family, KEEL_AF_UNSPEC);
	CHECK_INT(p->ike_version, 2);
	CHECK_INT(p->auth, KEEL_PROFILE_AUTH_PSK);
	CHECK_STR(p->local_id_text, "alice@example.org");
	CHECK_INT(p->local_id.type, KEEL_ID_RFC822_ADDR);
	CHECK_MEM(p->local_id.data, p->local_id.len, "alice@example.org", 17);
	CHECK_STR(p->remote_id_text, "vpn.example.org");
	CHECK_INT(p->remote_id.type, KEEL_ID_FQDN);
	CHECK(!p->remote_id_default);
	CHECK_INT(p->datapath, KEEL_PROFILE_DATAPATH_TUN);

	/* IANA IKEv2 transform IDs (RFC 7296 §3.3.2 and the IANA registry) */
	CHECK_INT(p->n_ike_proposals, 3);
	const struct keel_proposal *a = &p->ike_proposals[0];
	CHECK_INT(a->n_encr, 1);
	CHECK_INT(a->encr[0].id, 20); /* ENCR_AES_GCM_16 */
	CHECK_INT(a->encr[0].key_bits, 256);
	CHECK_INT(a->n_integ, 0);
	CHECK_INT(a->n_prf, 1);
	CHECK_INT(a->prf[0], 6); /* PRF_HMAC_SHA2_384 */
	CHECK_INT(a->n_dh, 1);
	CHECK_INT(a->dh[0], 31); /* Curve25519 */
	a = &p->ike_proposals[1];
	CHECK_INT(a->encr[0].id, 12); /* ENCR_AES_CBC */
	CHECK_INT(a->encr[0].key_bits, 256);
	CHECK_INT(a->n_integ, 1);
	CHECK_INT(a->integ[0], 12); /* AUTH_HMAC_SHA2_256_128 */
	CHECK_INT(a->n_prf, 1);
	CHECK_INT(a->prf[0], 5); /* PRF_HMAC_SHA2_256, from the integrity algorithm */
	CHECK_INT(a->dh[0], 14); /* modp2048 */
	a = &p->ike_proposals[2];
	CHECK_INT(a->encr[0].id, 20);
	CHECK_INT(a->encr[0].key_bits, 128);
	CHECK_INT(a->dh[0], 19); /* ecp256 */
	/* AEAD without a PRF: the core offers prfsha256, prfsha384 and prfsha512 */
	CHECK_INT(a->n_prf, 3);
	CHECK_INT(a->prf[0], 5);
	CHECK_INT(a->prf[1], 6);
	CHECK_INT(a->prf[2], 7);

	CHECK_INT(p->n_esp_proposals, 3);
	a = &p->esp_proposals[0];
	CHECK_INT(a->encr[0].id, 20);
	CHECK_INT(a->encr[0].key_bits, 128);
	CHECK_INT(a->n_esn, 1);
	CHECK_INT(a->esn[0], 0); /* no ESN unless asked */
	a = &p->esp_proposals[1];
	CHECK_INT(a->encr[0].id, 28); /* ENCR_CHACHA20_POLY1305 */
	a = &p->esp_proposals[2];
	CHECK_INT(a->encr[0].id, 12);
	CHECK_INT(a->integ[0], 12);
	CHECK_INT(a->dh[0], 19);
	CHECK_INT(a->n_esn, 1);
	CHECK_INT(a->esn[0], 1);

	CHECK_INT(p->n_remote_ts, 2);
	CHECK_INT(p->remote_ts[0].family, KEEL_AF_INET);
	CHECK_MEM(p->remote_ts[0].start, 4, "\xc6\x33\x64\x00", 4);
	CHECK_MEM(p->remote_ts[0].end, 4, "\xc6\x33\x64\xff", 4);
	CHECK_INT(p->remote_ts[1].family, KEEL_AF_INET6);
	CHECK_MEM(p->remote_ts[1].start, 16, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	CHECK_MEM(p->remote_ts[1].end, 16,
	          "\x20\x01\x0d\xb8\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 16);

	CHECK_STR(p->username, "alice");
	CHECK_STR(p->certificate, "/home/alice/vpn/certs/client.pem");
	CHECK_STR(p->private_key, "/etc/keel/client.key");
	CHECK_STR(p->ca, "/home/alice/ca.pem");
	CHECK_STR(p->crl, "/home/alice/vpn/revoked.crl");
	keel_profile_free(p);
}

static void test_defaults(void)
{
	g_autoptr(GError) error = NULL;
	struct keel_profile *p = parse("[connection]\ngateway = 192.0.2.1\nauth = psk\n", &error);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_STR(p->gateway_host, "192.0.2.1");
	CHECK_INT(p->gateway_addr.family, KEEL_AF_INET);
	CHECK_MEM(p->gateway_addr.bytes, 4, "\xc0\x00\x02\x01", 4);
	CHECK_INT(p->gateway_port, 500);
	CHECK_INT(p->gateway_addr.port, 500);
	CHECK_INT(p->ike_version, 2);
	CHECK_INT(p->mode, KEEL_PROFILE_MODE_MAIN);
	CHECK_INT(p->datapath, KEEL_PROFILE_DATAPATH_AUTO);
	CHECK(!p->allow_weak);
	CHECK_INT(p->n_ike_proposals, 0);
	CHECK_INT(p->n_esp_proposals, 0);
	CHECK_INT(p->n_remote_ts, 0);
	CHECK(p->local_id_text == NULL);
	CHECK_INT(p->local_id.type, KEEL_ID_NONE);
	/* remote-id defaults to the gateway as given */
	CHECK(p->remote_id_default);
	CHECK_STR(p->remote_id_text, "192.0.2.1");
	CHECK_INT(p->remote_id.type, KEEL_ID_IPV4_ADDR);
	CHECK_MEM(p->remote_id.data, p->remote_id.len, "\xc0\x00\x02\x01", 4);
	CHECK(p->username == NULL && p->certificate == NULL && p->private_key == NULL &&
	      p->ca == NULL && p->crl == NULL);
	CHECK(!p->eap_only);
	CHECK_INT(p->ike_rekey_s, 0);
	CHECK_INT(p->child_rekey_s, 0);
	CHECK(!p->dpd_set);
	keel_profile_free(p);

	/* EAP-only (RFC 5998) is offered only when asked for */
	p = parse("[connection]\ngateway = 192.0.2.1\nauth = eap\n[auth]\nusername = alice\n"
	          "eap-only = yes\n",
	          NULL);
	CHECK(p && p->eap_only);
	keel_profile_free(p);

	/* IKEv1 aggressive mode */
	p = parse("[connection]\ngateway = vpn.example.org\nike = 1\nmode = aggressive\n"
	          "auth = xauth-psk\nlocal-id = @group\nike-proposals = aes256-sha256-modp2048\n",
	          NULL);
	CHECK(p != NULL);
	if (p) {
		CHECK_INT(p->ike_version, 1);
		CHECK_INT(p->mode, KEEL_PROFILE_MODE_AGGRESSIVE);
		CHECK_INT(p->auth, KEEL_PROFILE_AUTH_XAUTH_PSK);
		CHECK_INT(p->local_id.type, KEEL_ID_FQDN);
		CHECK_MEM(p->local_id.data, p->local_id.len, "group", 5);
		CHECK_INT(p->remote_id.type, KEEL_ID_FQDN);
	}
	keel_profile_free(p);
}

static void check_gateway(const char *value, const char *host, enum keel_af af, uint16_t port)
{
	g_autofree char *text = g_strdup_printf("[connection]\ngateway = %s\nauth = psk\n", value);
	g_autoptr(GError) error = NULL;
	struct keel_profile *p = parse(text, &error);
	CHECK(p != NULL);
	if (!p) {
		fprintf(stderr, "  %s: %s\n", value, error->message);
		return;
	}
	CHECK_STR(p->gateway_host, host);
	CHECK_INT(p->gateway_addr.family, af);
	CHECK_INT(p->gateway_port, port);
	keel_profile_free(p);
}

static void gateway_error(const char *value, const char *why)
{
	g_autofree char *text = g_strdup_printf("[connection]\ngateway = %s\nauth = psk\n", value);
	g_autofree char *msg = g_strdup_printf("office.conf:2: key 'gateway': %s", why);
	EXPECT_ERROR(text, KEEL_PROFILE_ERROR_INVALID, msg);
}

static void test_gateway(void)
{
	check_gateway("vpn.example.org", "vpn.example.org", KEEL_AF_UNSPEC, 500);
	check_gateway("vpn.example.org:4500", "vpn.example.org", KEEL_AF_UNSPEC, 4500);
	check_gateway("192.0.2.1:4500", "192.0.2.1", KEEL_AF_INET, 4500);
	check_gateway("2001:db8::1", "2001:db8::1", KEEL_AF_INET6, 500);
	check_gateway("[2001:db8::1]", "2001:db8::1", KEEL_AF_INET6, 500);
	check_gateway("[2001:db8::1]:4500", "2001:db8::1", KEEL_AF_INET6, 4500);

	const char *generic = "expected a host name or an address, with an optional :port";
	g_autofree char *m1 = g_strdup_printf("%s, got \"bad_host!\"", generic);
	gateway_error("bad_host!", m1);
	g_autofree char *m2 = g_strdup_printf("%s, got \"192.0.2.300\"", generic);
	gateway_error("192.0.2.300", m2);
	g_autofree char *m3 = g_strdup_printf("%s, got \"\"", generic);
	gateway_error("", m3);
	gateway_error("vpn.example.org:0",
	              "the port must be a number from 1 to 65535, got \"vpn.example.org:0\"");
	gateway_error("vpn.example.org:65536",
	              "the port must be a number from 1 to 65535, got \"vpn.example.org:65536\"");
	gateway_error("[vpn.example.org]:500",
	              "expected an IPv6 address inside [ ], got \"[vpn.example.org]:500\"");
	gateway_error("2001:db8::zz:4500", "an IPv6 address with a port is written "
	                                   "[2001:db8::1]:4500, got \"2001:db8::zz:4500\"");
}

static void test_errors(void)
{
	/* bad values: file, line, key, why, and the value */
	EXPECT_ERROR("[connection]\ngateway = vpn.example.org\nike = 3\nauth = psk\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:3: key 'ike': expected 1 or 2, got \"3\"");
	EXPECT_ERROR("[connection]\ngateway = g.example\nauth = psk\nike = 1\nmode = fast\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:5: key 'mode': expected main or aggressive, got \"fast\"");
	EXPECT_ERROR("[connection]\ngateway = g.example\nauth = pks\n", KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:3: key 'auth': expected psk, cert, eap, xauth-psk, xauth-cert or "
	             "hybrid, got \"pks\"");
	EXPECT_ERROR("[connection]\ngateway = g.example\nauth = psk\ndatapath = kernel\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:4: key 'datapath': expected auto, xfrm or tun, got \"kernel\"");
	EXPECT_ERROR("[connection]\ngateway = g.example\nauth = psk\nallow-weak = maybe\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:4: key 'allow-weak': expected yes or no, got \"maybe\"");
	EXPECT_ERROR("[connection]\ngateway = g.example\nauth = psk\nremote-ts = 198.51.100.0/33\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:4: key 'remote-ts': expected an address, a prefix like "
	             "198.51.100.0/24 or a range a-b, got \"198.51.100.0/33\"");
	EXPECT_ERROR(
	    "[connection]\ngateway = g.example\nauth = psk\nremote-ts = 198.51.100.0/24,\n",
	    KEEL_PROFILE_ERROR_INVALID,
	    "office.conf:4: key 'remote-ts': expected an address, a prefix like "
	    "198.51.100.0/24 or a range a-b, got \"\"");
	/* a value with '=' inside: split at the first '=' only (a DN, here a bad one) */
	EXPECT_ERROR("[connection]\ngateway = g.example\nauth = psk\nlocal-id = C=CH, Q=Example\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:4: key 'local-id': expected an address, a host name, "
	             "user@domain, @#hex or a distinguished name (C=.., O=.., CN=..), got "
	             "\"C=CH, Q=Example\"");
	/* control bytes are escaped when echoed */
	EXPECT_ERROR("[connection]\ngateway = g.example\nauth = psk\nike = 2\x01\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:4: key 'ike': expected 1 or 2, got \"2\\x01\"");

	/* unknown groups and keys */
	EXPECT_ERROR(
	    "[connection]\ngateway = g.example\nauth = psk\n[routes]\n", KEEL_PROFILE_ERROR_INVALID,
	    "office.conf:4: unknown group [routes] (a profile has [connection] and [auth])");
	EXPECT_ERROR("[connection]\ngateway = g.example\ncolour = blue\nauth = psk\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:3: key 'colour': unknown key in [connection]");
	EXPECT_ERROR("[connection]\ngateway = g.example\nauth = psk\nusername = alice\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:4: key 'username': unknown key in [connection]");
	EXPECT_ERROR("[auth]\ngateway = g.example\n", KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:2: key 'gateway': unknown key in [auth]");

	/* syntax */
	EXPECT_ERROR("[connection]\ngateway = g.example\nike = 2\nike = 1\nauth = psk\n",
	             KEEL_PROFILE_ERROR_SYNTAX,
	             "office.conf:4: key 'ike' given twice (first on line 3)");
	EXPECT_ERROR("[connection]\ngateway = g.example\n[auth]\n[connection]\nauth = psk\n",
	             KEEL_PROFILE_ERROR_SYNTAX,
	             "office.conf:4: group [connection] given twice (first on line 1)");
	EXPECT_ERROR("[connection]\ngateway g.example\n", KEEL_PROFILE_ERROR_SYNTAX,
	             "office.conf:2: expected 'key = value', '[group]' or a comment");
	EXPECT_ERROR("gateway = g.example\n[connection]\n", KEEL_PROFILE_ERROR_SYNTAX,
	             "office.conf:1: key 'gateway' comes before any [group]");
	EXPECT_ERROR("[connection\n", KEEL_PROFILE_ERROR_SYNTAX,
	             "office.conf:1: a group line must end with ']'");
	EXPECT_ERROR("[connection]\n = g.example\n", KEEL_PROFILE_ERROR_SYNTAX,
	             "office.conf:2: missing key name before '='");
	EXPECT_ERROR("[connection]\nthe gateway = g.example\n", KEEL_PROFILE_ERROR_SYNTAX,
	             "office.conf:2: a key name is letters, digits, '-', '_' or '.'");
	EXPECT_ERROR("[connection]\ngateway = caf\xe9.example\n", KEEL_PROFILE_ERROR_SYNTAX,
	             "office.conf:2: not valid UTF-8");
	{
		static const char nul[] = "[connection]\ngateway = g\0x\nauth = psk\n";
		g_autoptr(GError) error = NULL;
		struct keel_profile *p =
		    keel_profile_parse("office.conf", "/", nul, sizeof(nul) - 1, &error);
		CHECK(p == NULL);
		CHECK_STR(error ? error->message : NULL, "office.conf:2: NUL byte in line");
	}

	/* missing keys, rules between keys */
	EXPECT_ERROR("# nothing\n[auth]\n", KEEL_PROFILE_ERROR_INVALID,
	             "office.conf: no [connection] group");
	EXPECT_ERROR("\n[connection]\nauth = psk\n", KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:2: key 'gateway': missing from [connection]");
	EXPECT_ERROR("[connection]\ngateway = g.example\n", KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:1: key 'auth': missing from [connection] (psk, cert, eap, "
	             "xauth-psk, xauth-cert or hybrid)");
	EXPECT_ERROR("[connection]\ngateway = g.example\nmode = aggressive\nauth = psk\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:3: key 'mode': only for IKEv1 (ike = 1)");
	EXPECT_ERROR("[connection]\ngateway = g.example\nauth = xauth-psk\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:3: key 'auth': xauth-psk needs ike = 1");
	EXPECT_ERROR("[connection]\ngateway = g.example\nike = 1\nauth = eap\n",
	             KEEL_PROFILE_ERROR_INVALID, "office.conf:4: key 'auth': eap needs ike = 2");
	EXPECT_ERROR("[connection]\ngateway = g.example\nauth = psk\n[auth]\neap-only = yes\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:5: key 'eap-only': only with auth = eap");
	EXPECT_ERROR("[connection]\ngateway = g.example\nauth = eap\n[auth]\neap-only = maybe\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:5: key 'eap-only': expected yes or no, got \"maybe\"");
	EXPECT_ERROR(
	    "[connection]\ngateway = g.example\nauth = cert\n[auth]\ncertificate = c.pem\n",
	    KEEL_PROFILE_ERROR_INVALID,
	    "office.conf:3: key 'auth': cert needs certificate and private-key in [auth]");
	EXPECT_ERROR("[connection]\ngateway = g.example\nauth = psk\n[auth]\nca =\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:5: key 'ca': expected a file name, got \"\"");
}

static void test_secrets_in_profile(void)
{
	static const char *const keys[] = {"psk", "password", "secret", "key-passphrase",
	                                   "xauth-password"};
	for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
		g_autofree char *text = g_strdup_printf(
		    "[connection]\ngateway = g.example\nauth = psk\n%s = Hunter2Secret\n", keys[i]);
		g_autofree char *msg = g_strdup_printf(
		    "office.conf:4: key '%s': secrets do not belong in a profile; keep them in "
		    "the keyring or in a private file given with --secrets FILE",
		    keys[i]);
		EXPECT_ERROR_HIDING(text, KEEL_PROFILE_ERROR_SECRET, msg, "Hunter2Secret");
	}
	/* in [auth] too, and ahead of any other complaint about the file */
	EXPECT_ERROR_HIDING(
	    "[connection]\n[auth]\npassword = Hunter2Secret\n", KEEL_PROFILE_ERROR_SECRET,
	    "office.conf:3: key 'password': secrets do not belong in a profile; "
	    "keep them in the keyring or in a private file given with --secrets FILE",
	    "Hunter2Secret");
	EXPECT_ERROR_HIDING(
	    "[connection]\ngateway = g.example\nauth = psk\n[secrets]\n"
	    "psk = Hunter2Secret\n",
	    KEEL_PROFILE_ERROR_SECRET,
	    "office.conf:4: group [secrets]: secrets do not belong in a profile; "
	    "keep them in the keyring or in a private file given with --secrets FILE",
	    "Hunter2Secret");
	/* a secret pasted on a line of its own is a syntax error that does not quote it */
	EXPECT_ERROR_HIDING("[connection]\nHunter2Secret\n", KEEL_PROFILE_ERROR_SYNTAX,
	                    "office.conf:2: expected 'key = value', '[group]' or a comment",
	                    "Hunter2Secret");
}

/* "key = value" on line 4 of a minimal profile (extra lines after it) must fail with why. */
static void key_error(const char *key, const char *value, int code, const char *why,
                      const char *extra)
{
	g_autofree char *text = g_strdup_printf("[connection]\ngateway = g.example\nauth = psk\n"
	                                        "%s = %s\n%s",
	                                        key, value, extra ? extra : "");
	g_autofree char *msg = g_strdup_printf("office.conf:4: key '%s': %s", key, why);
	EXPECT_ERROR(text, code, msg);
}

static void test_proposals(void)
{
	key_error("ike-proposals", "aes257-sha256-modp2048", KEEL_PROFILE_ERROR_INVALID,
	          "unknown algorithm 'aes257' in \"aes257-sha256-modp2048\"", NULL);
	key_error("ike-proposals", "aes256-sha256-modp1024", KEEL_PROFILE_ERROR_WEAK,
	          "'modp1024' is a weak algorithm (RFC 8247) that Keel does not offer, in "
	          "\"aes256-sha256-modp1024\"",
	          NULL);
	/* allow-weak cannot bring back what Keel does not implement */
	key_error("ike-proposals", "3des-sha256-modp2048", KEEL_PROFILE_ERROR_WEAK,
	          "'3des' is a weak algorithm (RFC 8247) that Keel does not offer, in "
	          "\"3des-sha256-modp2048\"",
	          "allow-weak = yes\n");
	key_error("esp-proposals", "aes128-md5", KEEL_PROFILE_ERROR_WEAK,
	          "'md5' is a weak algorithm (RFC 8247) that Keel does not offer, in "
	          "\"aes128-md5\"",
	          NULL);
	key_error("ike-proposals", "aes256-sha1-modp2048", KEEL_PROFILE_ERROR_WEAK,
	          "'sha1' as the only integrity algorithm is weak (RFC 8247), in "
	          "\"aes256-sha1-modp2048\"; add sha256 or set allow-weak = yes",
	          NULL);
	key_error("esp-proposals", "aes256gcm16, aes128-sha1", KEEL_PROFILE_ERROR_WEAK,
	          "'sha1' as the only integrity algorithm is weak (RFC 8247), in "
	          "\"aes128-sha1\"; add sha256 or set allow-weak = yes",
	          NULL);
	key_error("ike-proposals", "aes256gcm16-prfsha1-x25519", KEEL_PROFILE_ERROR_WEAK,
	          "'prfsha1' as the only PRF is weak (RFC 8247), in "
	          "\"aes256gcm16-prfsha1-x25519\"; add prfsha256 or set allow-weak = yes",
	          NULL);
	key_error("ike-proposals", "aes256-modp2048", KEEL_PROFILE_ERROR_INVALID,
	          "incomplete proposal \"aes256-modp2048\": an IKE proposal needs a cipher, "
	          "an integrity algorithm unless the cipher is AEAD (and none with one), a DH "
	          "group, and AEAD and other ciphers go in separate proposals",
	          NULL);
	key_error("esp-proposals", "aes128gcm16-sha256", KEEL_PROFILE_ERROR_INVALID,
	          "incomplete proposal \"aes128gcm16-sha256\": an ESP proposal needs a "
	          "cipher, an integrity algorithm unless the cipher is AEAD (and none with "
	          "one), and AEAD and other ciphers go in separate proposals",
	          NULL);
	key_error("ike-proposals", "aes256-sha256-modp2048-esn", KEEL_PROFILE_ERROR_INVALID,
	          "'esn' does not belong in an IKE proposal, in "
	          "\"aes256-sha256-modp2048-esn\"",
	          NULL);
	key_error("esp-proposals", "aes256-sha256-prfsha256", KEEL_PROFILE_ERROR_INVALID,
	          "'prfsha256' does not belong in an ESP proposal, in "
	          "\"aes256-sha256-prfsha256\"",
	          NULL);
	key_error("esp-proposals", "aes256--sha256", KEEL_PROFILE_ERROR_INVALID,
	          "empty algorithm name in \"aes256--sha256\"", NULL);
	key_error("esp-proposals", "aes256gcm16,", KEEL_PROFILE_ERROR_INVALID, "empty proposal",
	          NULL);
	key_error("ike-proposals", "aes256gcm16-prfsha256-x25519", KEEL_PROFILE_ERROR_INVALID,
	          "IKEv1 has no AEAD ciphers for IKE (RFC 2409), in "
	          "\"aes256gcm16-prfsha256-x25519\"",
	          "ike = 1\n");

	/* allow-weak = yes, even after the proposals in the file, lets a lone sha1 through */
	g_autoptr(GError) error = NULL;
	struct keel_profile *p = parse("[connection]\ngateway = g.example\nauth = psk\n"
	                               "ike-proposals = aes128-sha1-modp2048\n"
	                               "esp-proposals = aes128-sha1\nallow-weak = yes\n",
	                               &error);
	CHECK(p != NULL);
	if (p) {
		CHECK(p->allow_weak);
		CHECK_INT(p->ike_proposals[0].integ[0], 2); /* AUTH_HMAC_SHA1_96 */
		CHECK_INT(p->ike_proposals[0].prf[0], 2);   /* PRF_HMAC_SHA1 */
		CHECK_INT(p->ike_proposals[0].encr[0].key_bits, 128);
		CHECK_INT(p->esp_proposals[0].integ[0], 2);
	}
	keel_profile_free(p);

	/* sha1 next to a strong algorithm is fine; more DH groups, ctr, aesxcbc, x448 */
	p = parse("[connection]\ngateway = g.example\nauth = psk\n"
	          "ike-proposals = aes192ctr-sha1-sha512-aesxcbc-x448-modp8192-ecp521\n"
	          "esp-proposals = aes256gcm8, aes192gcm12-noesn-esn\n",
	          NULL);
	CHECK(p != NULL);
	if (p) {
		const struct keel_proposal *a = &p->ike_proposals[0];
		CHECK_INT(a->encr[0].id, 13); /* ENCR_AES_CTR */
		CHECK_INT(a->encr[0].key_bits, 192);
		CHECK_INT(a->n_integ, 3);
		CHECK_INT(a->integ[0], 2);
		CHECK_INT(a->integ[1], 14); /* AUTH_HMAC_SHA2_512_256 */
		CHECK_INT(a->integ[2], 5);  /* AUTH_AES_XCBC_96 */
		CHECK_INT(a->n_prf, 3);
		CHECK_INT(a->prf[2], 4); /* PRF_AES128_XCBC */
		CHECK_INT(a->n_dh, 3);
		CHECK_INT(a->dh[0], 32);                       /* Curve448 */
		CHECK_INT(a->dh[1], 18);                       /* modp8192 */
		CHECK_INT(a->dh[2], 21);                       /* ecp521 */
		CHECK_INT(p->esp_proposals[0].encr[0].id, 18); /* ENCR_AES_GCM_8 */
		CHECK_INT(p->esp_proposals[1].encr[0].id, 19); /* ENCR_AES_GCM_12 */
		CHECK_INT(p->esp_proposals[1].n_esn, 2);
	}
	keel_profile_free(p);
}

/* ah-proposals: AH (RFC 4302) instead of ESP, integrity algorithms only, kernel data path */
static void test_ah_proposals(void)
{
	struct keel_profile *p = parse("[connection]\ngateway = g.example\nauth = psk\n"
	                               "ah-proposals = sha384-sha256-esn, sha512-modp3072\n"
	                               "datapath = xfrm\n",
	                               NULL);
	CHECK(p != NULL);
	if (p) {
		CHECK_INT(p->n_ah_proposals, 2);
		CHECK_INT(p->n_esp_proposals, 0);
		CHECK_INT(p->ah_proposals[0].n_encr, 0);
		CHECK_INT(p->ah_proposals[0].n_integ, 2);
		CHECK_INT(p->ah_proposals[0].integ[0], 13); /* AUTH_HMAC_SHA2_384_192 */
		CHECK_INT(p->ah_proposals[0].esn[0], 1);
		CHECK_INT(p->ah_proposals[1].integ[0], 14); /* AUTH_HMAC_SHA2_512_256 */
		CHECK_INT(p->ah_proposals[1].dh[0], 15);    /* modp3072 */
	}
	keel_profile_free(p);

	key_error("ah-proposals", "aes256-sha256", KEEL_PROFILE_ERROR_INVALID,
	          "'aes256' does not belong in an AH proposal, in \"aes256-sha256\"", NULL);
	key_error("ah-proposals", "esn", KEEL_PROFILE_ERROR_INVALID,
	          "incomplete proposal \"esn\": an AH proposal needs an integrity algorithm "
	          "(sha256, sha384, sha512) and no cipher",
	          NULL);
	key_error("ah-proposals", "md5", KEEL_PROFILE_ERROR_WEAK,
	          "'md5' is a weak algorithm (RFC 8247) that Keel does not offer, in \"md5\"",
	          NULL);
	/* RFC 4302: no AH in UDP, so not over the TUN data path */
	key_error("ah-proposals", "sha256", KEEL_PROFILE_ERROR_INVALID,
	          "AH needs the kernel data path (datapath = xfrm), not tun", "datapath = tun\n");
}

/* ike-rekey-time, child-rekey-time, dpd: strongSwan's duration syntax, bounds, derived lifetimes */
static uint32_t rekey_value(const char *key, const char *value)
{
	g_autofree char *text =
	    g_strdup_printf("[connection]\ngateway = g.example\nauth = psk\n%s = %s\n", key, value);
	g_autoptr(GError) error = NULL;
	struct keel_profile *p = parse(text, &error);
	uint32_t v = UINT32_MAX;
	CHECK(p != NULL);
	if (p && strcmp(key, "ike-rekey-time") == 0)
		v = p->ike_rekey_s;
	else if (p && strcmp(key, "child-rekey-time") == 0)
		v = p->child_rekey_s;
	else if (p && p->dpd_set)
		v = p->dpd_s;
	keel_profile_free(p);
	return v;
}

static void test_timers(void)
{
	CHECK_INT(rekey_value("ike-rekey-time", "4h"), 14400);
	CHECK_INT(rekey_value("ike-rekey-time", "3600"), 3600);
	CHECK_INT(rekey_value("ike-rekey-time", "1d"), 86400);
	CHECK_INT(rekey_value("ike-rekey-time", "365d"), KEEL_PROFILE_REKEY_MAX_S);
	CHECK_INT(rekey_value("child-rekey-time", "20m"), 1200);
	CHECK_INT(rekey_value("child-rekey-time", "90s"), 90);
	CHECK_INT(rekey_value("child-rekey-time", "2"), KEEL_PROFILE_REKEY_MIN_S);
	CHECK_INT(rekey_value("dpd", "30s"), 30);
	CHECK_INT(rekey_value("dpd", "0"), 0);
	CHECK_INT(rekey_value("dpd", "0s"), 0);
	CHECK_INT(rekey_value("dpd", "1d"), KEEL_PROFILE_DPD_MAX_S);

	key_error("ike-rekey-time", "0", KEEL_PROFILE_ERROR_INVALID,
	          "must be at least 2s, got \"0\"", NULL);
	key_error("child-rekey-time", "1s", KEEL_PROFILE_ERROR_INVALID,
	          "must be at least 2s, got \"1s\"", NULL);
	key_error("child-rekey-time", "366d", KEEL_PROFILE_ERROR_INVALID,
	          "must be at most 365d, got \"366d\"", NULL);
	key_error("ike-rekey-time", "99999999999999999999999h", KEEL_PROFILE_ERROR_INVALID,
	          "must be at most 365d, got \"99999999999999999999999h\"", NULL);
	key_error("dpd", "25h", KEEL_PROFILE_ERROR_INVALID, "must be at most 1d, got \"25h\"",
	          NULL);
	key_error("dpd", "-1", KEEL_PROFILE_ERROR_INVALID,
	          "expected a duration in seconds or with a unit (90s, 20m, 4h, 1d), got \"-1\"",
	          NULL);
	static const char *const bad[] = {"", "h", "4x", "4hh", "4 h", "-5", "1.5h", "4H", "+3"};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *why = g_strdup_printf(
		    "expected a duration in seconds or with a unit (90s, 20m, 4h, 1d), got \"%s\"",
		    bad[i]);
		key_error(i % 2 ? "ike-rekey-time" : "child-rekey-time", bad[i],
		          KEEL_PROFILE_ERROR_INVALID, why, NULL);
	}
	/* the line number is the key's, wherever it stands */
	EXPECT_ERROR("[connection]\ngateway = g.example\n\n# rekeys\nauth = psk\n"
	             "child-rekey-time = 1m\nike-rekey-time = 1\n",
	             KEEL_PROFILE_ERROR_INVALID,
	             "office.conf:7: key 'ike-rekey-time': must be at least 2s, got \"1\"");
	EXPECT_ERROR("[connection]\ngateway = g.example\nauth = psk\n[auth]\ndpd = 30s\n",
	             KEEL_PROFILE_ERROR_INVALID, "office.conf:5: key 'dpd': unknown key in [auth]");

	/* strongSwan's 10 % margin and jitter, rounded up; 4h and 1h give the defaults */
	struct keel_config cfg;
	struct keel_lifetime lt;
	keel_config_init(&cfg);
	keel_profile_lifetime(14400, &lt);
	CHECK_MEM(&lt, sizeof(lt), &cfg.ike_lifetime, sizeof(cfg.ike_lifetime));
	keel_profile_lifetime(3600, &lt);
	CHECK_MEM(&lt, sizeof(lt), &cfg.child_lifetime, sizeof(cfg.child_lifetime));
	keel_profile_lifetime(4, &lt);
	CHECK(lt.life_s == 5 && lt.margin_s == 1 && lt.jitter_s == 1);
	keel_profile_lifetime(95, &lt);
	CHECK(lt.life_s == 105 && lt.margin_s == 10 && lt.jitter_s == 10);
	keel_profile_lifetime(KEEL_PROFILE_REKEY_MAX_S, &lt);
	CHECK_INT(lt.life_s, 34689600u);
	keel_profile_lifetime(0, &lt);
	CHECK(lt.life_s == 0 && lt.margin_s == 0 && lt.jitter_s == 0);
}

static void test_format(void)
{
	/* BOM, CRLF, comments of both kinds, inline comments, blanks around '=' */
	static const char text[] = "\xef\xbb\xbf# office\r\n"
	                           "; also a comment\r\n"
	                           "  [ connection ]   # the one connection\r\n"
	                           "\tgateway=vpn.example.org\t; inline\r\n"
	                           "auth   =   psk\r\n"
	                           "\r\n"
	                           "[auth]\r\n"
	                           "certificate = dir/a=b.pem\r\n"
	                           "private-key = key#1.pem\r\n"
	                           "ike = 3\r\n";
	g_autoptr(GError) error = NULL;
	struct keel_profile *p = parse(text, &error);
	CHECK(p == NULL);
	/* the line count survives CRLF and the BOM */
	CHECK_STR(error ? error->message : NULL,
	          "office.conf:10: key 'ike': unknown key in [auth]");

	g_clear_error(&error);
	size_t len = strlen(text) - strlen("ike = 3\r\n");
	p = keel_profile_parse("office.conf", "/srv", text, len, &error);
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->gateway_host, "vpn.example.org");
		CHECK_INT(p->auth, KEEL_PROFILE_AUTH_PSK);
		CHECK_STR(p->certificate, "/srv/dir/a=b.pem");
		/* '#' not after a blank is part of the value */
		CHECK_STR(p->private_key, "/srv/key#1.pem");
	}
	keel_profile_free(p);

	/* no final newline; an empty file */
	p = parse("[connection]\ngateway = g.example\nauth = psk", NULL);
	CHECK(p != NULL);
	keel_profile_free(p);
	EXPECT_ERROR("", KEEL_PROFILE_ERROR_INVALID, "office.conf: no [connection] group");

	/* a bound on keys and groups */
	GString *many = g_string_new("[connection]\n");
	for (int i = 0; i < 600; i++)
		g_string_append_printf(many, "k%d = v\n", i);
	EXPECT_ERROR(many->str, KEEL_PROFILE_ERROR_SYNTAX, "office.conf:514: more than 512 keys");
	g_string_truncate(many, 0);
	for (int i = 0; i < 70; i++)
		g_string_append_printf(many, "[g%d]\n", i);
	EXPECT_ERROR(many->str, KEEL_PROFILE_ERROR_SYNTAX, "office.conf:65: more than 64 groups");
	g_string_free(many, TRUE);
}

static char *write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *path = g_build_filename(dir, name, NULL);
	CHECK(g_file_set_contents(path, text, -1, NULL));
	CHECK(chmod(path, mode) == 0);
	return path;
}

static void test_files(const char *dir)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = write_file(dir, "office.conf",
	                                   "[connection]\ngateway = g.example\nauth = cert\n"
	                                   "[auth]\ncertificate = client.pem\nprivate-key = "
	                                   "keys/client.key\nca = /etc/ssl/ca.pem\n",
	                                   0644);
	struct keel_profile *p = keel_profile_load(path, &error);
	CHECK(p != NULL);
	if (p) {
		g_autofree char *cert = g_build_filename(dir, "client.pem", NULL);
		g_autofree char *key = g_build_filename(dir, "keys", "client.key", NULL);
		CHECK_STR(p->certificate, cert);
		CHECK_STR(p->private_key, key);
		CHECK_STR(p->ca, "/etc/ssl/ca.pem");
		CHECK_INT(p->auth, KEEL_PROFILE_AUTH_CERT);
	}
	keel_profile_free(p);

	/* errors name the file as given */
	g_autofree char *bad = write_file(dir, "bad.conf", "[connection]\nike = 3\n", 0644);
	p = keel_profile_load(bad, &error);
	CHECK(p == NULL);
	g_autofree char *want = g_strdup_printf("%s:2: key 'ike': expected 1 or 2, got \"3\"", bad);
	CHECK_STR(error ? error->message : NULL, want);
	g_clear_error(&error);

	g_autofree char *missing = g_build_filename(dir, "missing.conf", NULL);
	p = keel_profile_load(missing, &error);
	CHECK(p == NULL);
	CHECK(g_error_matches(error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_IO));
	g_autofree char *want2 = g_strdup_printf("%s: No such file or directory", missing);
	CHECK_STR(error ? error->message : NULL, want2);
	g_clear_error(&error);

	p = keel_profile_load(dir, &error);
	CHECK(p == NULL);
	CHECK(g_error_matches(error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_IO));
}

static void expect_secrets_error(int line, const char *text, const char *msg)
{
	g_autoptr(GError) error = NULL;
	struct keel_secrets *s = keel_secrets_parse("vpn.secrets", text, strlen(text), &error);
	check_count++;
	if (s || !error) {
		check_fail(__FILE__, line, "secrets parsed, expected an error");
		keel_secrets_free(s);
		return;
	}
	check_str(__FILE__, line, error->message, msg);
	/* the secret used in every case below never shows */
	CHECK(strstr(error->message, "TopSecret") == NULL);
	CHECK(strstr(error->message, "opSecre") == NULL);
}

static void test_secrets(const char *dir)
{
	static const char text[] = "\xef\xbb\xbf# automation\r\n"
	                           "[secrets]\r\n"
	                           "psk =  a=b # c ;d \r\n"
	                           "password = \xff\xfe pw\r\n"
	                           "key-passphrase=kp\r\n";
	g_autoptr(GError) error = NULL;
	struct keel_secrets *s = keel_secrets_parse("vpn.secrets", text, sizeof(text) - 1, &error);
	CHECK(s != NULL);
	if (s) {
		/* a secret runs to the end of its line: no inline comments, any bytes */
		CHECK_MEM(keel_secret_data(s->psk), (size_t)keel_secret_len(s->psk), "a=b # c ;d",
		          10);
		CHECK_MEM(keel_secret_data(s->password), (size_t)keel_secret_len(s->password),
		          "\xff\xfe pw", 5);
		CHECK_MEM(keel_secret_data(s->key_passphrase),
		          (size_t)keel_secret_len(s->key_passphrase), "kp", 2);
	}
	keel_secrets_free(s);

	s = keel_secrets_parse("vpn.secrets", "[secrets]\npsk = x\n", 18, NULL);
	CHECK(s && s->psk && !s->password && !s->key_passphrase);
	keel_secrets_free(s);

	expect_secrets_error(__LINE__, "[secrets]\npks = TopSecret\n",
	                     "vpn.secrets:2: key 'pks': unknown key in [secrets] (psk, password, "
	                     "key-passphrase)");
	expect_secrets_error(__LINE__, "[secrets]\npsk TopSecret\n",
	                     "vpn.secrets:2: expected 'key = value', '[group]' or a comment");
	expect_secrets_error(__LINE__, "[secrets]\nTopSecret\n",
	                     "vpn.secrets:2: expected 'key = value', '[group]' or a comment");
	expect_secrets_error(__LINE__, "[secrets]\npsk: TopSecret = 1\n",
	                     "vpn.secrets:2: a key name is letters, digits, '-', '_' or '.'");
	expect_secrets_error(__LINE__, "[secrets]\npsk = TopSecret\npsk = TopSecret\n",
	                     "vpn.secrets:3: key 'psk' given twice (first on line 2)");
	expect_secrets_error(__LINE__, "psk = TopSecret\n",
	                     "vpn.secrets:1: key 'psk' comes before any [group]");
	expect_secrets_error(__LINE__, "[secrets]\npsk = TopSecret\n[TopSecret\n",
	                     "vpn.secrets:3: a group line must end with ']'");
	expect_secrets_error(__LINE__, "[secrets]\npsk = TopSecret\n[other]\n",
	                     "vpn.secrets:3: unknown group [other] (a secrets file has only "
	                     "[secrets])");
	expect_secrets_error(__LINE__, "[secrets]\npsk =\npassword = TopSecret\n",
	                     "vpn.secrets:2: key 'psk': empty value");
	expect_secrets_error(__LINE__, "# psk = TopSecret\n", "vpn.secrets: no [secrets] group");
	{
		static const char nul[] = "[secrets]\npsk = Top\0Secret\n";
		g_autoptr(GError) e2 = NULL;
		s = keel_secrets_parse("vpn.secrets", nul, sizeof(nul) - 1, &e2);
		CHECK(s == NULL);
		CHECK_STR(e2 ? e2->message : NULL, "vpn.secrets:2: NUL byte in line");
	}

	/* files: private ones only */
	g_autofree char *path =
	    write_file(dir, "vpn.secrets", "[secrets]\npsk = TopSecret\n", 0600);
	g_clear_error(&error);
	s = keel_secrets_load(path, &error);
	CHECK(s != NULL);
	if (s)
		CHECK_MEM(keel_secret_data(s->psk), (size_t)keel_secret_len(s->psk), "TopSecret",
		          9);
	keel_secrets_free(s);

	CHECK(chmod(path, 0640) == 0);
	s = keel_secrets_load(path, &error);
	CHECK(s == NULL);
	CHECK(g_error_matches(error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_PERMISSIONS));
	g_autofree char *want = g_strdup_printf("%s: group or others have access (mode 0640); a "
	                                        "secrets file must be private: chmod 600 %s",
	                                        path, path);
	CHECK_STR(error ? error->message : NULL, want);
	g_clear_error(&error);

	CHECK(chmod(path, 0604) == 0);
	s = keel_secrets_load(path, &error);
	CHECK(s == NULL &&
	      g_error_matches(error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_PERMISSIONS));
	g_clear_error(&error);

	CHECK(chmod(path, 0600) == 0);
	if (geteuid() == 0) {
		/* someone else's file, however private, is not trusted */
		CHECK(chown(path, 65534, 65534) == 0);
		s = keel_secrets_load(path, &error);
		CHECK(s == NULL &&
		      g_error_matches(error, KEEL_PROFILE_ERROR, KEEL_PROFILE_ERROR_PERMISSIONS));
		g_autofree char *want2 = g_strdup_printf(
		    "%s: owned by uid 65534, not by the user reading it (uid 0) or root", path);
		CHECK_STR(error ? error->message : NULL, want2);
		g_clear_error(&error);
	} else {
		printf("not root: skipping the owner check of secrets files\n");
	}
}

static void remove_tree(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(dir, name, NULL);
		g_unlink(p);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(dir);
}

int main(void)
{
	g_autofree char *dir = g_dir_make_tmp("keel-profile-XXXXXX", NULL);
	CHECK(dir != NULL);
	test_full();
	test_defaults();
	test_gateway();
	test_errors();
	test_secrets_in_profile();
	test_proposals();
	test_ah_proposals();
	test_timers();
	test_format();
	if (dir) {
		test_files(dir);
		test_secrets(dir);
		remove_tree(dir);
	}
	return check_done();
}
