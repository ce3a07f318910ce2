/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * EAP (core/eap/): MD4 against RFC 1320, MS-CHAPv2 against RFC 2759 §9.2 and
 * RFC 3079 §3.5.3, EAP-MD5 against a computation done here, the state machine
 * (Identity, Notification, Nak, MD5, GTC, MS-CHAPv2 success and failure codes,
 * retransmissions, malformed input), and a replay of the EAP-MSCHAPv2
 * exchange strongSwan had in tests/vectors/strongswan/ikev2-eap.txt: every
 * answer byte-exact, the MSK equal to the one charon logged, and the
 * client's AUTH payload recomputed from it.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <keel/env.h>
#include <keel/secret.h>

#include "check.h"
#include "eap/eap.h"
#include "fixture-auth.h"
#include "tv.h"

/* ---- a scripted random source ------------------------------------------ */

struct script {
	const uint8_t *bytes;
	size_t len, off;
	unsigned counter; /* past the script: a counter pattern */
};

static int script_random(void *ctx, uint8_t *buf, size_t len)
{
	struct script *s = ctx;
	for (size_t i = 0; i < len; i++)
		buf[i] = s->off < s->len ? s->bytes[s->off++] : (uint8_t)(s->counter++ * 7 + 1);
	return 0;
}

static struct keel_secret *secret_str(const char *s)
{
	return keel_secret_new_from((const uint8_t *)s, (ptrdiff_t)strlen(s));
}

static struct keel_eap *eap_new(const char *user, const char *password, unsigned methods,
                                const struct keel_env *env)
{
	struct keel_secret *pw = secret_str(password);
	struct keel_eap_config cfg = {
	    .identity = (const uint8_t *)user,
	    .identity_len = (ptrdiff_t)strlen(user),
	    .password = pw,
	    .methods = methods,
	};
	struct keel_eap *e = NULL;
	CHECK_INT(keel_eap_new(&cfg, env, &e), 0);
	keel_secret_free(pw);
	return e;
}

/* Feeds a hex request; returns the response length (or error), response in out. */
static ptrdiff_t feed(struct keel_eap *e, const char *hex, uint8_t *out, size_t cap)
{
	size_t n;
	uint8_t *in = hex_decode(hex, &n);
	ptrdiff_t rc = keel_eap_process(e, in, (ptrdiff_t)n, out, (ptrdiff_t)cap);
	free(in);
	return rc;
}

static void check_hex(const uint8_t *got, ptrdiff_t got_len, const char *want_hex)
{
	size_t n;
	uint8_t *want = hex_decode(want_hex, &n);
	CHECK(got_len >= 0);
	CHECK_MEM(got, got_len < 0 ? 0 : (size_t)got_len, want, n);
	free(want);
}

/* ---- vectors ------------------------------------------------------------- */

static void test_md4(void)
{
	struct tv_file *f = tv_open("rfc1320/md4.txt");
	int count = 0;
	while (tv_next(f)) {
		size_t ml, dl;
		uint8_t *msg = tv_hex(f, "Msg", &ml), *md = tv_hex(f, "MD", &dl);
		uint8_t out[16];
		keel_md4(msg, ml, out);
		CHECK_MEM(out, sizeof(out), md, dl);
		free(msg);
		free(md);
		count++;
	}
	tv_close(f);
	CHECK_INT(count, 7);

	/* lengths around the padding boundary agree with a split computation of
	 * the same data through the public function (55, 56, 63, 64, 65 bytes) */
	uint8_t buf[130], a[16], b[16];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	keel_md4(buf, 55, a);
	keel_md4(buf, 56, b);
	CHECK(memcmp(a, b, 16) != 0);
	keel_md4(buf, 64, a);
	keel_md4(buf, 65, b);
	CHECK(memcmp(a, b, 16) != 0);
}

static void test_rfc2759(void)
{
	struct tv_file *f = tv_open("rfc2759/mschapv2.txt");
	CHECK(tv_next(f));
	size_t ul, pl, acl, pcl, cl, phl, ntl, phhl;
	uint8_t *user = tv_hex(f, "UserName", &ul), *pw = tv_hex(f, "Password", &pl);
	uint8_t *ac = tv_hex(f, "AuthenticatorChallenge", &acl);
	uint8_t *pc = tv_hex(f, "PeerChallenge", &pcl);
	uint8_t *ch = tv_hex(f, "Challenge", &cl);
	uint8_t *ph = tv_hex(f, "PasswordHash", &phl);
	uint8_t *nt = tv_hex(f, "NTResponse", &ntl);
	uint8_t *phh = tv_hex(f, "PasswordHashHash", &phhl);
	const char *ar = tv_str(f, "AuthenticatorResponse");

	struct keel_secret *password = keel_secret_new_from(pw, (ptrdiff_t)pl);
	uint8_t hash[16], hh[16], chal[8], resp[24];
	char auth[KEEL_MSCHAPV2_AUTH_RESP_LEN + 1];

	CHECK_INT(keel_mschapv2_nt_hash(password, hash), 0);
	CHECK_MEM(hash, 16, ph, phl);
	keel_md4(hash, 16, hh);
	CHECK_MEM(hh, 16, phh, phhl);
	CHECK_INT(keel_mschapv2_challenge_hash(pc, ac, user, ul, chal), 0);
	CHECK_MEM(chal, 8, ch, cl);
	CHECK_INT(keel_mschapv2_nt_response(ac, pc, user, ul, hash, resp), 0);
	CHECK_MEM(resp, 24, nt, ntl);
	CHECK_INT(keel_mschapv2_auth_response(hash, resp, pc, ac, user, ul, auth), 0);
	CHECK(ar && strcmp(auth, ar) == 0);

	/* RFC 2759 §4: a domain prefix is not part of the hashed user name */
	const uint8_t *u;
	size_t u_len;
	keel_mschapv2_user((const uint8_t *)"ACME\\User", 9, &u, &u_len);
	CHECK_MEM(u, u_len, user, ul);
	keel_mschapv2_user(user, ul, &u, &u_len);
	CHECK_MEM(u, u_len, user, ul);

	keel_secret_free(password);
	free(user);
	free(pw);
	free(ac);
	free(pc);
	free(ch);
	free(ph);
	free(nt);
	free(phh);
	tv_close(f);
}

static void test_rfc3079(void)
{
	struct tv_file *f = tv_open("rfc3079/mppe.txt");
	CHECK(tv_next(f));
	size_t phl, ntl, mkl, skl;
	uint8_t *ph = tv_hex(f, "PasswordHash", &phl), *nt = tv_hex(f, "NTResponse", &ntl);
	uint8_t *mk = tv_hex(f, "MasterKey", &mkl), *sk = tv_hex(f, "SendStartKey128", &skl);
	uint8_t master[16], server_send[16], client_recv[16], client_send[16];

	CHECK_INT(keel_mschapv2_master_key(ph, nt, master), 0);
	CHECK_MEM(master, 16, mk, mkl);
	CHECK_INT(keel_mschapv2_start_key(master, true, true, server_send), 0);
	CHECK_MEM(server_send, 16, sk, skl);
	CHECK_INT(keel_mschapv2_start_key(master, false, false, client_recv), 0);
	CHECK_MEM(client_recv, 16, sk, skl);
	CHECK_INT(keel_mschapv2_start_key(master, true, false, client_send), 0);
	CHECK(memcmp(client_send, client_recv, 16) != 0);

	/* MSK: the client's send key, its receive key, 32 zero bytes */
	struct keel_secret *msk = NULL;
	CHECK_INT(keel_mschapv2_msk(ph, nt, &msk), 0);
	CHECK_INT(keel_secret_len(msk), 64);
	if (msk) {
		static const uint8_t zero[32];
		CHECK_MEM(keel_secret_data(msk), 16, client_send, 16);
		CHECK_MEM(keel_secret_data(msk) + 16, 16, client_recv, 16);
		CHECK_MEM(keel_secret_data(msk) + 32, 32, zero, 32);
	}
	keel_secret_free(msk);
	free(ph);
	free(nt);
	free(mk);
	free(sk);
	tv_close(f);
}

static void test_nt_hash_unicode(void)
{
	uint8_t a[16], b[16];
	/* "é€😀" → UTF-16LE e9 00, ac 20, 3d d8 00 de */
	struct keel_secret *pw = secret_str("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	static const uint8_t utf16[] = {0xe9, 0x00, 0xac, 0x20, 0x3d, 0xd8, 0x00, 0xde};
	CHECK_INT(keel_mschapv2_nt_hash(pw, a), 0);
	keel_md4(utf16, sizeof(utf16), b);
	CHECK_MEM(a, 16, b, 16);
	keel_secret_free(pw);

	static const char *bad[] = {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pw = secret_str(bad[i]);
		CHECK_INT(keel_mschapv2_nt_hash(pw, a), KEEL_ERR_INVAL);
		keel_secret_free(pw);
	}
	/* RFC 2759 §8.1: at most 256 characters */
	char long_pw[258];
	memset(long_pw, 'a', 256);
	long_pw[256] = '\0';
	pw = secret_str(long_pw);
	CHECK_INT(keel_mschapv2_nt_hash(pw, a), 0);
	keel_secret_free(pw);
	long_pw[256] = 'a';
	long_pw[257] = '\0';
	pw = secret_str(long_pw);
	CHECK_INT(keel_mschapv2_nt_hash(pw, a), KEEL_ERR_INVAL);
	keel_secret_free(pw);
}

/* ---- state machine ------------------------------------------------------- */

static void test_identity_notification_nak(void)
{
	struct script s = {0};
	struct keel_env env = {script_random, &s};
	uint8_t out[512];
	struct keel_eap *e = eap_new("alice", "pw", 0, &env);
	if (!e)
		return;

	/* Identity (RFC 3748 §5.1), with a prompt in the request */
	ptrdiff_t n = feed(e, "0107000a0148656c6c6f", out, sizeof(out));
	check_hex(out, n, "0207000a01616c696365");
	CHECK_INT(keel_eap_status(e), KEEL_EAP_CONTINUE);

	/* Notification (§5.2): shown, answered with an empty Notification */
	n = feed(e, "010800090248690a07", out, sizeof(out));
	check_hex(out, n, "0208000502");
	CHECK(strcmp(keel_eap_message(e), "Hi\\x0a\\x07") == 0);

	/* EAP-TLS (13) is not Keel's: a legacy Nak with ours in order */
	n = feed(e, "0109000a0d2000000000", out, sizeof(out));
	check_hex(out, n, "02090008031a0604");
	/* an Expanded Type request (254) gets the same */
	n = feed(e, "010a000cfe0000000000000001", out, sizeof(out));
	check_hex(out, n, "020a0008031a0604");
	/* a Nak is never a Request */
	CHECK_INT(feed(e, "010b0006031a", out, sizeof(out)), KEEL_ERR_MALFORMED);

	CHECK_INT(feed(e, "040b0004", out, sizeof(out)), 0);
	CHECK_INT(keel_eap_status(e), KEEL_EAP_FAILURE);
	CHECK_INT(keel_eap_result(e), KEEL_EAP_RESULT_NO_COMMON_METHOD);
	CHECK(keel_eap_msk(e) == NULL);
	CHECK_INT(feed(e, "0101000501", out, sizeof(out)), KEEL_ERR_STATE);
	keel_eap_free(e);

	/* only MS-CHAPv2 allowed: MD5 is refused with a Nak naming MS-CHAPv2 */
	e = eap_new("alice", "pw", KEEL_EAP_ALLOW_MSCHAPV2, &env);
	n = feed(e, "010100150410000102030405060708090a0b0c0d0e0f", out, sizeof(out));
	check_hex(out, n, "02010006031a");
	keel_eap_free(e);
}

static void test_md5(void)
{
	struct script s = {0};
	struct keel_env env = {script_random, &s};
	uint8_t out[512];
	struct keel_eap *e = eap_new("alice", "keel-md5-secret", 0, &env);
	if (!e)
		return;

	/* Identifier 0x2a, Value-Size 16, challenge 00..0f, Name "gw" */
	ptrdiff_t n = feed(e,
	                   "012a0017041000010203040506070809"
	                   "0a0b0c0d0e0f6777",
	                   out, sizeof(out));
	/* RFC 1994 §4.1: MD5(Identifier | secret | Challenge), computed here too */
	uint8_t want[16];
	unsigned int wl = 0;
	uint8_t in[1 + 15 + 16];
	in[0] = 0x2a;
	memcpy(in + 1, "keel-md5-secret", 15);
	for (int i = 0; i < 16; i++)
		in[16 + i] = (uint8_t)i;
	CHECK(EVP_Digest(in, sizeof(in), want, &wl, EVP_md5(), NULL) == 1);
	check_hex(out, n,
	          "022a00160410"
	          "9f33757db58d3f38cc924b6e04d45fea");
	CHECK(n == 22 && memcmp(out + 6, want, 16) == 0);
	CHECK_INT(keel_eap_method(e), KEEL_EAP_TYPE_MD5);

	/* a zero Value-Size is malformed and changes nothing */
	CHECK_INT(feed(e, "012b00060400", out, sizeof(out)), KEEL_ERR_MALFORMED);
	/* Value-Size past the end */
	CHECK_INT(feed(e, "012b0007040501", out, sizeof(out)), KEEL_ERR_MALFORMED);

	CHECK_INT(feed(e, "032a0004", out, sizeof(out)), 0);
	CHECK_INT(keel_eap_status(e), KEEL_EAP_SUCCESS);
	CHECK_INT(keel_eap_result(e), KEEL_EAP_RESULT_OK);
	CHECK(keel_eap_msk(e) == NULL); /* MD5 makes no keys: AUTH uses SK_pi */
	keel_eap_free(e);
}

static void test_gtc(void)
{
	struct script s = {0};
	struct keel_env env = {script_random, &s};
	uint8_t out[512];
	struct keel_eap *e = eap_new("alice", "123456", 0, &env);
	if (!e)
		return;
	ptrdiff_t n = feed(e, "0105000f0650617373776f72643a20", out, sizeof(out));
	check_hex(out, n, "0205000b06313233343536");
	CHECK(strcmp(keel_eap_message(e), "Password: ") == 0);
	CHECK_INT(feed(e, "04050004", out, sizeof(out)), 0);
	CHECK_INT(keel_eap_status(e), KEEL_EAP_FAILURE);
	CHECK_INT(keel_eap_result(e), KEEL_EAP_RESULT_CREDENTIALS_REFUSED);
	keel_eap_free(e);

	/* GTC not allowed: Nak */
	e = eap_new("alice", "123456", KEEL_EAP_ALLOW_MSCHAPV2 | KEEL_EAP_ALLOW_MD5, &env);
	n = feed(e, "0105000f0650617373776f72643a20", out, sizeof(out));
	check_hex(out, n, "02050007031a04");
	keel_eap_free(e);
}

/* The RFC 2759 §9.2 exchange framed in EAP-MSCHAPv2. */
static const char rfc_challenge[] = "0103001a1a0103001510"
                                    "5B5D7C7D7B3F2F3E3C2C602132262628";
static const uint8_t rfc_peer_challenge[16] = {0x21, 0x40, 0x23, 0x24, 0x25, 0x5E, 0x26, 0x2A,
                                               0x28, 0x29, 0x5F, 0x2B, 0x3A, 0x33, 0x7C, 0x7E};

static void test_mschapv2(void)
{
	struct script s = {rfc_peer_challenge, 16, 0, 0};
	struct keel_env env = {script_random, &s};
	uint8_t out[512];
	struct keel_eap *e = eap_new("User", "clientPass", 0, &env);
	if (!e)
		return;

	ptrdiff_t n = feed(e, rfc_challenge, out, sizeof(out));
	/* Response: OpCode 2, MS-CHAPv2-ID 3, MS-Length 58, Value-Size 49,
	 * PeerChallenge, 8 zeros, NT-Response, Flags 0, Name "User" */
	check_hex(out, n,
	          "0203003f1a0203003a31"
	          "21402324255E262A28295F2B3A337C7E"
	          "0000000000000000"
	          "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"
	          "00"
	          "55736572");
	/* retransmitted request: the same answer, no new challenge drawn */
	uint8_t again[512];
	CHECK_INT(feed(e, rfc_challenge, again, sizeof(again)), n);
	CHECK(n > 0 && memcmp(out, again, (size_t)n) == 0);
	CHECK_INT(s.off, 16);

	/* Success request with the RFC's authenticator response */
	const char *msg = "s=407a5589115fd0d6209f510fe9c04566932cda56 M=Welcome";
	char hex[256];
	size_t ml = strlen(msg);
	snprintf(hex, sizeof(hex), "0104%04zx1a0303%04zx", ml + 9, ml + 4);
	for (size_t i = 0; i < ml; i++)
		snprintf(hex + strlen(hex), 3, "%02x", (unsigned char)msg[i]);
	/* "s=" is not "S=": no authenticator response, so refused */
	n = feed(e, hex, out, sizeof(out));
	CHECK_INT(n, KEEL_ERR_AUTH);
	CHECK_INT(keel_eap_result(e), KEEL_EAP_RESULT_SERVER_NOT_AUTHENTICATED);
	CHECK_INT(keel_eap_status(e), KEEL_EAP_FAILURE);
	keel_eap_free(e);

	s.off = 0;
	e = eap_new("User", "clientPass", 0, &env);
	feed(e, rfc_challenge, out, sizeof(out));
	msg = "S=407a5589115fd0d6209f510fe9c04566932cda56 M=Welcome"; /* hex case is free */
	snprintf(hex, sizeof(hex), "0104%04zx1a0303%04zx", ml + 9, ml + 4);
	for (size_t i = 0; i < ml; i++)
		snprintf(hex + strlen(hex), 3, "%02x", (unsigned char)msg[i]);
	n = feed(e, hex, out, sizeof(out));
	check_hex(out, n, "020400061a03");
	CHECK(strcmp(keel_eap_message(e), "Welcome") == 0);
	CHECK(keel_eap_msk(e) == NULL); /* not before EAP-Success */
	CHECK_INT(feed(e, "03040004", out, sizeof(out)), 0);
	CHECK_INT(keel_eap_status(e), KEEL_EAP_SUCCESS);
	CHECK_INT(keel_eap_method(e), KEEL_EAP_TYPE_MSCHAPV2);
	const struct keel_secret *msk = keel_eap_msk(e);
	CHECK(msk != NULL);
	if (msk) {
		uint8_t ph[16], nt[24];
		struct keel_secret *want = NULL;
		memcpy(ph, "\x44\xEB\xBA\x8D\x53\x12\xB8\xD6\x11\x47\x44\x11\xF5\x69\x89\xAE", 16);
		memcpy(nt,
		       "\x82\x30\x9E\xCD\x8D\x70\x8B\x5E\xA0\x8F\xAA\x39\x81\xCD\x83\x54\x42\x33"
		       "\x11\x4A\x3D\x85\xD6\xDF",
		       24);
		CHECK_INT(keel_mschapv2_msk(ph, nt, &want), 0);
		CHECK(keel_secret_equal(msk, want));
		keel_secret_free(want);
	}
	keel_eap_free(e);

	/* a wrong authenticator response: the gateway does not know the password */
	s.off = 0;
	e = eap_new("User", "clientPass", 0, &env);
	feed(e, rfc_challenge, out, sizeof(out));
	msg = "S=407A5589115FD0D6209F510FE9C04566932CDA57 M=Welcome";
	snprintf(hex, sizeof(hex), "0104%04zx1a0303%04zx", ml + 9, ml + 4);
	for (size_t i = 0; i < ml; i++)
		snprintf(hex + strlen(hex), 3, "%02x", (unsigned char)msg[i]);
	CHECK_INT(feed(e, hex, out, sizeof(out)), KEEL_ERR_AUTH);
	CHECK_INT(keel_eap_result(e), KEEL_EAP_RESULT_SERVER_NOT_AUTHENTICATED);
	CHECK(keel_eap_msk(e) == NULL);
	keel_eap_free(e);

	/* Success before any method: refused */
	e = eap_new("User", "clientPass", 0, &env);
	feed(e, "0101000501", out, sizeof(out));
	CHECK_INT(feed(e, "03010004", out, sizeof(out)), 0);
	CHECK_INT(keel_eap_status(e), KEEL_EAP_FAILURE);
	CHECK_INT(keel_eap_result(e), KEEL_EAP_RESULT_EARLY_SUCCESS);
	keel_eap_free(e);

	/* an MS-CHAPv2 Success request with no Response of ours: dropped */
	e = eap_new("User", "clientPass", 0, &env);
	CHECK_INT(feed(e, "010400091a03030004", out, sizeof(out)), KEEL_ERR_MALFORMED);
	/* a Value-Size other than 16 */
	CHECK_INT(feed(e,
	               "010300121a0103000d08"
	               "0001020304050607",
	               out, sizeof(out)),
	          KEEL_ERR_MALFORMED);
	/* truncated challenge */
	CHECK_INT(feed(e,
	               "010300121a0103000d10"
	               "0001020304050607",
	               out, sizeof(out)),
	          KEEL_ERR_MALFORMED);
	/* no room for the answer */
	s.off = 0;
	CHECK_INT(feed(e, rfc_challenge, out, 20), KEEL_ERR_NOBUF);
	keel_eap_free(e);
}

static void test_mschapv2_failures(void)
{
	static const struct {
		const char *msg;
		int code;
		enum keel_eap_result result;
	} cases[] = {
	    {"E=691 R=0 C=00112233445566778899AABBCCDDEEFF V=3 M=Authentication failure", 691,
	     KEEL_EAP_RESULT_CREDENTIALS_REFUSED},
	    {"E=648 R=0 V=3", 648, KEEL_EAP_RESULT_PASSWORD_EXPIRED},
	    {"E=647 R=0 V=3", 647, KEEL_EAP_RESULT_ACCOUNT_DISABLED},
	    {"E=646 R=0 V=3", 646, KEEL_EAP_RESULT_RESTRICTED_HOURS},
	    {"E=649 R=0 V=3", 649, KEEL_EAP_RESULT_NO_DIALIN},
	    {"E=709 R=0 V=3", 709, KEEL_EAP_RESULT_FAILURE},
	    {"garbage", 0, KEEL_EAP_RESULT_FAILURE},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct script s = {rfc_peer_challenge, 16, 0, 0};
		struct keel_env env = {script_random, &s};
		uint8_t out[512];
		struct keel_eap *e = eap_new("User", "clientPass", 0, &env);
		if (!e)
			return;
		feed(e, rfc_challenge, out, sizeof(out));
		char hex[512];
		size_t ml = strlen(cases[c].msg);
		snprintf(hex, sizeof(hex), "0104%04zx1a0403%04zx", ml + 9, ml + 4);
		for (size_t i = 0; i < ml; i++)
			snprintf(hex + strlen(hex), 3, "%02x", (unsigned char)cases[c].msg[i]);
		ptrdiff_t n = feed(e, hex, out, sizeof(out));
		check_hex(out, n, "020400061a04");
		CHECK_INT(keel_eap_mschapv2_error(e), cases[c].code);
		CHECK_INT(keel_eap_status(e), KEEL_EAP_CONTINUE);
		CHECK_INT(feed(e, "04040004", out, sizeof(out)), 0);
		CHECK_INT(keel_eap_status(e), KEEL_EAP_FAILURE);
		CHECK_INT(keel_eap_result(e), cases[c].result);
		if (c == 0)
			CHECK(strcmp(keel_eap_message(e), "Authentication failure") == 0);
		keel_eap_free(e);
	}
}

static void test_malformed(void)
{
	struct script s = {0};
	struct keel_env env = {script_random, &s};
	uint8_t out[512];
	struct keel_eap *e = eap_new("alice", "pw", 0, &env);
	if (!e)
		return;
	static const char *bad[] = {
	    "",           /* empty */
	    "0101",       /* short header */
	    "01010003",   /* Length below 4 */
	    "0101000901", /* Length past the data */
	    "01010004",   /* Request without a Type */
	    "0201000501", /* a Response */
	    "0501000501", /* unknown Code */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(feed(e, bad[i], out, sizeof(out)), KEEL_ERR_MALFORMED);
	CHECK_INT(keel_eap_status(e), KEEL_EAP_CONTINUE);
	/* octets past Length are padding (RFC 3748 §4.1) */
	ptrdiff_t n = feed(e, "0101000501ffff", out, sizeof(out));
	check_hex(out, n, "0201000a01616c696365");
	keel_eap_free(e);

	struct keel_eap_config cfg = {0};
	struct keel_eap *x = NULL;
	CHECK_INT(keel_eap_new(&cfg, &env, &x), KEEL_ERR_INVAL); /* no password */
	keel_eap_free(NULL);
}

/* ---- strongSwan 5.9.8, EAP-Identity + EAP-MSCHAPv2 ----------------------- */

static void test_strongswan(void)
{
	struct fx f;
	fx_load(&f, "strongswan/ikev2-eap.txt");
	static uint8_t plain[65536];
	static struct keel_v2_chain inner;
	struct keel_v2_payload pl;
	const struct keel_v2_bytes *gw_eap[8], *cl_eap[8];
	static struct keel_v2_bytes store[16];
	static uint8_t copies[16][512];
	size_t n_gw = 0, n_cl = 0, n_store = 0;
	struct keel_v2_bytes client_auth = {0};

	/* every EAP payload of IKE_AUTH, both ways, in order */
	for (size_t i = 2; i < f.n; i++) {
		size_t plain_len, first = i;
		if (!fx_open(&f, &i, plain, &plain_len, &inner))
			continue;
		if (fx_find(&inner, KEEL_V2_PAYLOAD_EAP, NULL, &pl) && n_store < 16 &&
		    pl.u.eap.msg.len <= sizeof(copies[0])) {
			memcpy(copies[n_store], pl.u.eap.msg.p, pl.u.eap.msg.len);
			store[n_store] = (struct keel_v2_bytes){copies[n_store], pl.u.eap.msg.len};
			if (f.i2r[first] && n_cl < 8)
				cl_eap[n_cl++] = &store[n_store];
			else if (!f.i2r[first] && n_gw < 8)
				gw_eap[n_gw++] = &store[n_store];
			n_store++;
		}
		if (f.i2r[first] && fx_find(&inner, KEEL_V2_PAYLOAD_AUTH, NULL, &pl) &&
		    n_store < 16) {
			memcpy(copies[n_store], pl.u.auth.data.p, pl.u.auth.data.len);
			client_auth = (struct keel_v2_bytes){copies[n_store], pl.u.auth.data.len};
			n_store++;
		}
	}
	/* gateway: Identity, MS-CHAPv2 Challenge, Success, EAP-Success;
	 * client: Identity, Response, Success Response */
	CHECK_INT(n_gw, 4);
	CHECK_INT(n_cl, 3);
	CHECK(client_auth.len > 0);
	if (n_gw != 4 || n_cl != 3)
		goto out;

	/* the client's PeerChallenge: after Code..Type (5), OpCode, ID, MS-Length,
	 * Value-Size (5) */
	CHECK(cl_eap[1]->len > 26);
	struct script s = {cl_eap[1]->p + 10, 16, 0, 0};
	struct keel_env env = {script_random, &s};
	struct keel_eap *e = eap_new(f.eap_user, f.eap_password, 0, &env);
	uint8_t out[512];
	for (size_t k = 0; e && k < 4; k++) {
		ptrdiff_t n =
		    keel_eap_process(e, gw_eap[k]->p, (ptrdiff_t)gw_eap[k]->len, out, sizeof(out));
		if (k < 3) {
			CHECK_MEM(out, n < 0 ? 0 : (size_t)n, cl_eap[k]->p, cl_eap[k]->len);
		} else {
			CHECK_INT(n, 0);
		}
	}
	CHECK(e && keel_eap_status(e) == KEEL_EAP_SUCCESS);
	CHECK(e && strcmp(keel_eap_message(e), "Welcome2strongSwan") == 0);
	const struct keel_secret *msk = e ? keel_eap_msk(e) : NULL;
	size_t want_len;
	const uint8_t *want = fx_key(&f, "secret", &want_len);
	CHECK(msk && want);
	if (msk && want) {
		CHECK_MEM(keel_secret_data(msk), (size_t)keel_secret_len(msk), want, want_len);

		/* RFC 7296 §2.16/§2.15: AUTH = prf(prf(MSK, "Key Pad for IKEv2"),
		 * RealMessage1 | Nr | prf(SK_pi, IDi')) */
		uint8_t pad_key[32], maced[32], auth[32];
		struct keel_iov kp = {(const uint8_t *)"Key Pad for IKEv2", 17};
		CHECK_INT(keel_prf(KEEL_PRF_HMAC_SHA2_256, keel_secret_data(msk),
		                   keel_secret_len(msk), &kp, 1, pad_key, sizeof(pad_key)),
		          32);
		size_t pk_len;
		const uint8_t *pk = fx_key(&f, "prf(secret, keypad)", &pk_len);
		CHECK(pk != NULL);
		if (pk)
			CHECK_MEM(pad_key, 32, pk, pk_len);

		size_t sk_pi_len;
		const uint8_t *sk_pi = fx_key(&f, "Sk_pi secret", &sk_pi_len);
		static struct keel_v2_msg m0, m1;
		struct keel_v2_payload nonce, id;
		size_t i, plain_len;
		bool ok = sk_pi && keel_v2_msg_decode(f.data[0], f.len[0], &m0) == 0 &&
		          keel_v2_msg_decode(f.data[1], f.len[1], &m1) == 0 &&
		          fx_find(&m1.chain, KEEL_V2_PAYLOAD_NONCE, NULL, &nonce);
		/* IDi' is the IDi payload body, from the first IKE_AUTH request */
		i = 2;
		ok = ok && fx_open(&f, &i, plain, &plain_len, &inner) &&
		     fx_find(&inner, KEEL_V2_PAYLOAD_IDI, NULL, &id);
		CHECK(ok);
		if (ok) {
			const struct keel_v2_raw_payload *raw =
			    keel_v2_chain_find(&inner, KEEL_V2_PAYLOAD_IDI, NULL);
			struct keel_iov idv = {raw->body.p, (ptrdiff_t)raw->body.len};
			CHECK_INT(keel_prf(KEEL_PRF_HMAC_SHA2_256, sk_pi, (ptrdiff_t)sk_pi_len,
			                   &idv, 1, maced, sizeof(maced)),
			          32);
			struct keel_iov octets[3] = {
			    {f.data[0], (ptrdiff_t)f.len[0]},
			    {nonce.u.nonce.p, (ptrdiff_t)nonce.u.nonce.len},
			    {maced, 32},
			};
			CHECK_INT(keel_prf(KEEL_PRF_HMAC_SHA2_256, pad_key, 32, octets, 3, auth,
			                   sizeof(auth)),
			          32);
			CHECK_MEM(auth, 32, client_auth.p, client_auth.len);
		}
	}
	keel_eap_free(e);
out:
	fx_free(&f);
}

int main(void)
{
	test_md4();
	test_rfc2759();
	test_rfc3079();
	test_nt_hash_unicode();
	test_identity_notification_nak();
	test_md5();
	test_gtc();
	test_mschapv2();
	test_mschapv2_failures();
	test_malformed();
	test_strongswan();
	return check_done();
}
