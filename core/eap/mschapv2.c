/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2-02): the packets, the
 * MS-CHAPv2 computations of RFC 2759 §8 and the keys of RFC 3079 §3.4.
 *
 * MD4 is Keel's own (md4.c, see there why). DES, which OpenSSL 3 also moved
 * to the legacy provider as a single cipher, is run as DES-EDE3 with the same
 * key three times (E_K(D_K(E_K(x))) = E_K(x)) from the default provider.
 */
#include <stdio.h>
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "eap/eap-internal.h"

/* MS-CHAPv2 OpCodes (draft-kamath-pppext-eap-mschapv2 §2) */
enum {
	OP_CHALLENGE = 1,
	OP_RESPONSE = 2,
	OP_SUCCESS = 3,
	OP_FAILURE = 4,
	OP_CHANGE_PASSWORD = 7,
};

#define MAX_PASSWORD_UNITS 256 /* RFC 2759 §8.1: 0-to-256-unicode-char Password */
#define RESPONSE_VALUE_LEN 49  /* PeerChallenge 16, Reserved 8, NT-Response 24, Flags 1 */

/* SHA-1 over pieces, into a 20-byte digest. */
static int sha1(const uint8_t *const *p, const size_t *n, size_t count, uint8_t out[20])
{
	int rc = KEEL_ERR_CRYPTO;
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex2(ctx, EVP_sha1(), NULL))
		goto out;
	for (size_t i = 0; i < count; i++)
		if (n[i] > 0 && !EVP_DigestUpdate(ctx, p[i], n[i]))
			goto out;
	if (!EVP_DigestFinal_ex(ctx, out, &len) || len != 20)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* Next code point of UTF-8 text; -1 for invalid UTF-8 (overlong, surrogate, > U+10FFFF). */
static long utf8_next(const uint8_t *s, size_t n, size_t *i)
{
	uint8_t c = s[*i];
	long cp;
	size_t extra;
	if (c < 0x80) {
		*i += 1;
		return c;
	} else if ((c & 0xe0) == 0xc0) {
		cp = c & 0x1f;
		extra = 1;
	} else if ((c & 0xf0) == 0xe0) {
		cp = c & 0x0f;
		extra = 2;
	} else if ((c & 0xf8) == 0xf0) {
		cp = c & 0x07;
		extra = 3;
	} else {
		return -1;
	}
	if (extra > n - *i - 1)
		return -1;
	for (size_t k = 1; k <= extra; k++) {
		uint8_t cc = s[*i + k];
		if ((cc & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (cc & 0x3f);
	}
	static const long min[4] = {0, 0x80, 0x800, 0x10000};
	if (cp < min[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += extra + 1;
	return cp;
}

int keel_mschapv2_nt_hash(const struct keel_secret *password, uint8_t hash[KEEL_MSCHAPV2_HASH_LEN])
{
	int rc = KEEL_ERR_INVAL;
	uint8_t unicode[2 * MAX_PASSWORD_UNITS];
	size_t units = 0;
	if (!password)
		return KEEL_ERR_INVAL;
	const uint8_t *s = keel_secret_data(password);
	size_t n = (size_t)keel_secret_len(password);

	/* RFC 2759 §8.3: the password as Unicode (UTF-16, little-endian) */
	for (size_t i = 0; i < n;) {
		long cp = utf8_next(s, n, &i);
		if (cp < 0)
			goto out;
		uint16_t u[2];
		size_t k = 1;
		if (cp >= 0x10000) {
			u[0] = (uint16_t)(0xd800 + ((cp - 0x10000) >> 10));
			u[1] = (uint16_t)(0xdc00 + ((cp - 0x10000) & 0x3ff));
			k = 2;
		} else {
			u[0] = (uint16_t)cp;
		}
		if (units + k > MAX_PASSWORD_UNITS)
			goto out;
		for (size_t j = 0; j < k; j++) {
			unicode[2 * units] = (uint8_t)u[j];
			unicode[2 * units + 1] = (uint8_t)(u[j] >> 8);
			units++;
		}
		OPENSSL_cleanse(u, sizeof(u));
	}
	keel_md4(unicode, 2 * units, hash);
	rc = 0;
out:
	OPENSSL_cleanse(unicode, sizeof(unicode));
	return rc;
}

void keel_mschapv2_user(const uint8_t *identity, size_t identity_len, const uint8_t **user,
                        size_t *user_len)
{
	/* RFC 2759 §4: "the user name ... without any domain" (DOMAIN\user) */
	const uint8_t *bs = identity_len ? memchr(identity, '\\', identity_len) : NULL;
	if (bs) {
		*user = bs + 1;
		*user_len = identity_len - (size_t)(bs + 1 - identity);
	} else {
		*user = identity;
		*user_len = identity_len;
	}
}

int keel_mschapv2_challenge_hash(const uint8_t peer_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN],
                                 const uint8_t auth_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN],
                                 const uint8_t *user, size_t user_len, uint8_t out[8])
{
	/* RFC 2759 §8.2: SHA1(PeerChallenge | AuthenticatorChallenge | UserName)[0..7] */
	const uint8_t *p[3] = {peer_challenge, auth_challenge, user};
	size_t n[3] = {KEEL_MSCHAPV2_CHALLENGE_LEN, KEEL_MSCHAPV2_CHALLENGE_LEN, user_len};
	uint8_t d[20];
	int rc = sha1(p, n, 3, d);
	if (rc == 0)
		memcpy(out, d, 8);
	return rc;
}

/* RFC 2759 §8.6 DesEncrypt: a 7-byte key spread over 8 bytes (parity bits ignored). */
static int des_encrypt(const uint8_t clear[8], const uint8_t key7[7], uint8_t cypher[8])
{
	int rc = KEEL_ERR_CRYPTO;
	uint8_t k[24];
	int len = 0, fin = 0;
	EVP_CIPHER *des = EVP_CIPHER_fetch(NULL, "DES-EDE3-ECB", NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	k[0] = key7[0];
	k[1] = (uint8_t)(key7[0] << 7 | key7[1] >> 1);
	k[2] = (uint8_t)(key7[1] << 6 | key7[2] >> 2);
	k[3] = (uint8_t)(key7[2] << 5 | key7[3] >> 3);
	k[4] = (uint8_t)(key7[3] << 4 | key7[4] >> 4);
	k[5] = (uint8_t)(key7[4] << 3 | key7[5] >> 5);
	k[6] = (uint8_t)(key7[5] << 2 | key7[6] >> 6);
	k[7] = (uint8_t)(key7[6] << 1);
	memcpy(k + 8, k, 8);
	memcpy(k + 16, k, 8);
	if (!des || !ctx || !EVP_EncryptInit_ex2(ctx, des, k, NULL, NULL) ||
	    !EVP_CIPHER_CTX_set_padding(ctx, 0) ||
	    !EVP_EncryptUpdate(ctx, cypher, &len, clear, 8) ||
	    !EVP_EncryptFinal_ex(ctx, cypher + len, &fin) || len + fin != 8)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(k, sizeof(k));
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(des);
	ERR_clear_error();
	return rc;
}

int keel_mschapv2_nt_response(const uint8_t auth_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN],
                              const uint8_t peer_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN],
                              const uint8_t *user, size_t user_len,
                              const uint8_t password_hash[KEEL_MSCHAPV2_HASH_LEN],
                              uint8_t out[KEEL_MSCHAPV2_NT_RESPONSE_LEN])
{
	uint8_t challenge[8];
	uint8_t z[21] = {0}; /* RFC 2759 §8.5: ZPasswordHash, the hash zero-padded to 21 */
	int rc =
	    keel_mschapv2_challenge_hash(peer_challenge, auth_challenge, user, user_len, challenge);
	if (rc < 0)
		goto out;
	memcpy(z, password_hash, KEEL_MSCHAPV2_HASH_LEN);
	for (int i = 0; i < 3 && rc == 0; i++)
		rc = des_encrypt(challenge, z + 7 * i, out + 8 * i);
out:
	OPENSSL_cleanse(z, sizeof(z));
	return rc;
}

static const uint8_t magic_auth1[39] = "Magic server to client signing constant";
static const uint8_t magic_auth2[41] = "Pad to make it do more than one iteration";

int keel_mschapv2_auth_response(const uint8_t password_hash[KEEL_MSCHAPV2_HASH_LEN],
                                const uint8_t nt_response[KEEL_MSCHAPV2_NT_RESPONSE_LEN],
                                const uint8_t peer_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN],
                                const uint8_t auth_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN],
                                const uint8_t *user, size_t user_len,
                                char out[KEEL_MSCHAPV2_AUTH_RESP_LEN + 1])
{
	uint8_t hash_hash[16], digest[20], challenge[8];
	int rc;

	/* RFC 2759 §8.7 */
	keel_md4(password_hash, KEEL_MSCHAPV2_HASH_LEN, hash_hash);
	const uint8_t *p1[3] = {hash_hash, nt_response, magic_auth1};
	size_t n1[3] = {16, KEEL_MSCHAPV2_NT_RESPONSE_LEN, sizeof(magic_auth1)};
	rc = sha1(p1, n1, 3, digest);
	if (rc < 0)
		goto out;
	rc =
	    keel_mschapv2_challenge_hash(peer_challenge, auth_challenge, user, user_len, challenge);
	if (rc < 0)
		goto out;
	const uint8_t *p2[3] = {digest, challenge, magic_auth2};
	size_t n2[3] = {20, 8, sizeof(magic_auth2)};
	rc = sha1(p2, n2, 3, digest);
	if (rc < 0)
		goto out;
	out[0] = 'S';
	out[1] = '=';
	for (int i = 0; i < 20; i++)
		snprintf(out + 2 + 2 * i, 3, "%02X", digest[i]);
out:
	OPENSSL_cleanse(hash_hash, sizeof(hash_hash));
	return rc;
}

static const uint8_t magic_master[27] = "This is the MPPE Master Key";
static const uint8_t magic_send_client[84] =
    "On the client side, this is the send key; on the server side, it is the receive key.";
static const uint8_t magic_recv_client[84] =
    "On the client side, this is the receive key; on the server side, it is the send key.";

int keel_mschapv2_master_key(const uint8_t password_hash[KEEL_MSCHAPV2_HASH_LEN],
                             const uint8_t nt_response[KEEL_MSCHAPV2_NT_RESPONSE_LEN],
                             uint8_t out[16])
{
	uint8_t hash_hash[16], digest[20];
	/* RFC 3079 §3.4 GetMasterKey: SHA1(PasswordHashHash | NTResponse | Magic1)[0..15] */
	keel_md4(password_hash, KEEL_MSCHAPV2_HASH_LEN, hash_hash);
	const uint8_t *p[3] = {hash_hash, nt_response, magic_master};
	size_t n[3] = {16, KEEL_MSCHAPV2_NT_RESPONSE_LEN, sizeof(magic_master)};
	int rc = sha1(p, n, 3, digest);
	if (rc == 0)
		memcpy(out, digest, 16);
	OPENSSL_cleanse(hash_hash, sizeof(hash_hash));
	OPENSSL_cleanse(digest, sizeof(digest));
	return rc;
}

int keel_mschapv2_start_key(const uint8_t master_key[16], bool send, bool server, uint8_t out[16])
{
	uint8_t pad1[40], pad2[40], digest[20];
	memset(pad1, 0x00, sizeof(pad1)); /* SHSpad1 */
	memset(pad2, 0xf2, sizeof(pad2)); /* SHSpad2 */
	/* RFC 3079 §3.4 GetAsymmetricStartKey */
	const uint8_t *magic = send == server ? magic_recv_client : magic_send_client;
	const uint8_t *p[4] = {master_key, pad1, magic, pad2};
	size_t n[4] = {16, sizeof(pad1), 84, sizeof(pad2)};
	int rc = sha1(p, n, 4, digest);
	if (rc == 0)
		memcpy(out, digest, 16);
	OPENSSL_cleanse(digest, sizeof(digest));
	return rc;
}

int keel_mschapv2_msk(const uint8_t password_hash[KEEL_MSCHAPV2_HASH_LEN],
                      const uint8_t nt_response[KEEL_MSCHAPV2_NT_RESPONSE_LEN],
                      struct keel_secret **out)
{
	uint8_t master[16];
	struct keel_secret *msk = keel_secret_new(KEEL_MSCHAPV2_MSK_LEN); /* zero-filled */
	int rc = KEEL_ERR_NOMEM;
	if (!msk)
		goto out;
	rc = keel_mschapv2_master_key(password_hash, nt_response, master);
	if (rc < 0)
		goto out;
	uint8_t *m = keel_secret_mut(msk);
	rc = keel_mschapv2_start_key(master, true, false, m);
	if (rc < 0)
		goto out;
	rc = keel_mschapv2_start_key(master, false, false, m + 16);
	if (rc < 0)
		goto out;
	*out = msk;
	msk = NULL;
out:
	keel_secret_free(msk);
	OPENSSL_cleanse(master, sizeof(master));
	return rc;
}

/* ---- packets ------------------------------------------------------------- */

static int hex_nibble(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The value of "K=..." in a Success/Failure message ("S=... M=...", "E=691 R=0 ..."). */
static bool msg_field(const uint8_t *msg, size_t n, char key, const uint8_t **val, size_t *val_len)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if ((i == 0 || msg[i - 1] == ' ') && msg[i] == (uint8_t)key && msg[i + 1] == '=') {
			size_t start = i + 2, end = start;
			/* M= runs to the end; the others to the next space */
			while (end < n && (key == 'M' || msg[end] != ' '))
				end++;
			*val = msg + start;
			*val_len = end - start;
			return true;
		}
	}
	return false;
}

static int on_challenge(struct keel_eap *e, uint8_t ms_id, struct keel_rd *r, struct keel_wr *w)
{
	uint8_t auth_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN];
	uint8_t peer_challenge[KEEL_MSCHAPV2_CHALLENGE_LEN];
	const uint8_t *user;
	size_t user_len;
	int rc;

	/* Value-Size, Challenge, Name (RFC 2759 §4 as framed by the draft §2.1) */
	uint8_t value_size = keel_rd_u8(r);
	if (r->bad || value_size != KEEL_MSCHAPV2_CHALLENGE_LEN ||
	    !keel_rd_copy(r, auth_challenge, sizeof(auth_challenge)))
		return KEEL_ERR_MALFORMED;
	/* the rest is the server's Name: not used */

	if (!e->ms_have_hash) {
		rc = keel_mschapv2_nt_hash(e->password, e->ms_password_hash);
		if (rc < 0)
			return rc;
		e->ms_have_hash = true;
	}
	rc = keel_env_random(e->env, peer_challenge, sizeof(peer_challenge));
	if (rc < 0)
		return rc;
	keel_mschapv2_user(e->identity, e->identity_len, &user, &user_len);
	rc = keel_mschapv2_nt_response(auth_challenge, peer_challenge, user, user_len,
	                               e->ms_password_hash, e->ms_nt_response);
	if (rc < 0)
		return rc;
	rc = keel_mschapv2_auth_response(e->ms_password_hash, e->ms_nt_response, peer_challenge,
	                                 auth_challenge, user, user_len, e->ms_auth_response);
	if (rc < 0)
		return rc;

	/* Response: OpCode, MS-CHAPv2-ID (the challenge's), MS-Length, Value-Size,
	 * Response (PeerChallenge, 8 reserved zeros, NT-Response, Flags 0), Name */
	size_t ms_len = 4 + 1 + RESPONSE_VALUE_LEN + e->identity_len;
	keel_wr_u8(w, OP_RESPONSE);
	keel_wr_u8(w, ms_id);
	keel_wr_u16(w, (uint16_t)ms_len);
	keel_wr_u8(w, RESPONSE_VALUE_LEN);
	keel_wr_bytes(w, peer_challenge, sizeof(peer_challenge));
	keel_wr_zero(w, 8);
	keel_wr_bytes(w, e->ms_nt_response, sizeof(e->ms_nt_response));
	keel_wr_u8(w, 0);
	keel_wr_bytes(w, e->identity, e->identity_len);
	e->ms_responded = true;
	e->responded = true;
	e->method_done = false;
	return 0;
}

static int on_success(struct keel_eap *e, struct keel_rd *r, struct keel_wr *w)
{
	const uint8_t *s = NULL, *m = NULL;
	size_t s_len = 0, m_len = 0;
	uint8_t got[20], want[20];
	int rc = KEEL_ERR_MALFORMED;

	if (!e->ms_responded)
		return KEEL_ERR_MALFORMED; /* a Success with no Response of ours */
	size_t msg_len = r->left;
	const uint8_t *msg = keel_rd_bytes(r, msg_len);
	bool ok = msg_field(msg, msg_len, 'S', &s, &s_len) && s_len == 40;
	for (int i = 0; i < 20; i++) {
		int hi = ok ? hex_nibble(s[2 * i]) : 0, lo = ok ? hex_nibble(s[2 * i + 1]) : 0;
		int whi = hex_nibble((uint8_t)e->ms_auth_response[2 + 2 * i]);
		int wlo = hex_nibble((uint8_t)e->ms_auth_response[3 + 2 * i]);
		ok = ok && hi >= 0 && lo >= 0;
		got[i] = (uint8_t)((hi & 0xf) << 4 | (lo & 0xf));
		want[i] = (uint8_t)(whi << 4 | wlo);
	}
	if (msg_field(msg, msg_len, 'M', &m, &m_len))
		eap_set_message(e, m, m_len);
	/* RFC 2759 §8.8 CheckAuthenticatorResponse, in constant time. A Success
	 * without a well-formed S= proves nothing either. */
	if (CRYPTO_memcmp(got, want, sizeof(got)) != 0 || !ok) {
		e->status = KEEL_EAP_FAILURE;
		e->result = KEEL_EAP_RESULT_SERVER_NOT_AUTHENTICATED;
		rc = KEEL_ERR_AUTH;
		goto out;
	}
	rc = keel_mschapv2_msk(e->ms_password_hash, e->ms_nt_response, &e->msk);
	if (rc < 0)
		goto out;
	/* draft §2.3: the Success Response is the OpCode alone */
	keel_wr_u8(w, OP_SUCCESS);
	e->method_done = true;
	rc = 0;
out:
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}

static int on_failure(struct keel_eap *e, struct keel_rd *r, struct keel_wr *w)
{
	const uint8_t *v;
	size_t v_len;
	size_t msg_len = r->left;
	const uint8_t *msg = keel_rd_bytes(r, msg_len);
	int code = 0;

	/* RFC 2759 §6: "E=eeeeeeeeee R=r C=cccc... V=vvvvvvvvvv M=<msg>" */
	if (msg_field(msg, msg_len, 'E', &v, &v_len) && v_len >= 1 && v_len <= 10) {
		/* up to ten digits: add them up where they cannot overflow */
		uint64_t value = 0;
		for (size_t i = 0; i < v_len && code >= 0; i++) {
			if (v[i] < '0' || v[i] > '9')
				code = -1;
			else
				value = value * 10 + (uint64_t)(v[i] - '0');
		}
		if (code >= 0)
			code = value <= INT_MAX ? (int)value : -1;
	}
	if (code <= 0)
		code = -1; /* a Failure without a readable error */
	if (msg_field(msg, msg_len, 'M', &v, &v_len))
		eap_set_message(e, v, v_len);
	e->ms_error = code;
	switch (code) {
	case 646:
		e->result = KEEL_EAP_RESULT_RESTRICTED_HOURS;
		break;
	case 647:
		e->result = KEEL_EAP_RESULT_ACCOUNT_DISABLED;
		break;
	case 648:
		e->result = KEEL_EAP_RESULT_PASSWORD_EXPIRED;
		break;
	case 649:
		e->result = KEEL_EAP_RESULT_NO_DIALIN;
		break;
	case 691:
		e->result = KEEL_EAP_RESULT_CREDENTIALS_REFUSED;
		break;
	default:
		e->result = KEEL_EAP_RESULT_FAILURE;
		break;
	}
	/* Keel does not retry (R=1) nor change passwords: acknowledge, and the
	 * gateway ends with EAP-Failure (draft §2.4: the Failure Response is the
	 * OpCode alone). */
	keel_wr_u8(w, OP_FAILURE);
	e->method_done = false;
	return 0;
}

int eap_mschapv2_respond(struct keel_eap *e, struct keel_rd *req, struct keel_wr *w)
{
	uint8_t op = keel_rd_u8(req);
	uint8_t ms_id = keel_rd_u8(req);
	(void)keel_rd_u16(req);
	/* MS-Length repeats the EAP Length minus 5; some servers get it wrong
	 * and the EAP Length is authoritative, so it is not checked. */
	if (req->bad)
		return KEEL_ERR_MALFORMED;
	switch (op) {
	case OP_CHALLENGE:
		return on_challenge(e, ms_id, req, w);
	case OP_SUCCESS:
		return on_success(e, req, w);
	case OP_FAILURE:
		if (!e->ms_responded)
			return KEEL_ERR_MALFORMED;
		return on_failure(e, req, w);
	default: /* Response, Change-Password: not sent to a peer that did not ask */
		return KEEL_ERR_MALFORMED;
	}
}
