/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * struct keel_config defaults and the profile text helpers: strongSwan
 * proposal syntax, identities, traffic selectors, addresses.
 */
#include <stdio.h>
#include <string.h>

#include <keel/config.h>

#include "crypto/dn.h"
#include "crypto/x509.h"
#include "ikev2/addr.h"

ptrdiff_t keel_af_addr_len(enum keel_af family)
{
	switch (family) {
	case KEEL_AF_INET:
		return 4;
	case KEEL_AF_INET6:
		return 16;
	case KEEL_AF_UNSPEC:
		return 0;
	}
	return 0;
}

void keel_config_init(struct keel_config *c)
{
	memset(c, 0, sizeof(*c));
	c->ike_version = 2;
	c->local.port = 500;
	c->remote.port = 500;
	c->local_natt_port = 4500;
	c->remote_natt_port = 4500;
	c->auth = KEEL_AUTH_PSK;
	c->request_ip4 = true;
	c->request_dns = true;
	c->retransmit_timeout_ms = 4000;
	c->retransmit_factor_permille = 1800;
	c->retransmit_tries = 5;
	c->retransmit_limit_ms = 0;
	c->dpd_interval_ms = 30000;
	c->delete_timeout_ms = 3000;
	c->ike_lifetime =
	    (struct keel_lifetime){.life_s = 15840, .margin_s = 1440, .jitter_s = 1440};
	c->child_lifetime =
	    (struct keel_lifetime){.life_s = 3960, .margin_s = 360, .jitter_s = 360};
	c->log_level = KEEL_LOG_INFO;
	c->fragmentation = true;
	c->fragment_size = KEEL_FRAGMENT_SIZE_DEFAULT;
	c->ikev1_mode = KEEL_IKEV1_MAIN;
	c->xauth = false;
	c->ikev1_modecfg = KEEL_IKEV1_MODECFG_PULL;
	c->ikev1_pfs_group = 0;
}

/* ---- proposals ---- */

enum kw_type {
	KW_ENCR,
	KW_INTEG,
	KW_PRF,
	KW_DH,
	KW_ESN,
};

struct keyword {
	const char *name;
	enum kw_type type;
	uint16_t id;
	uint16_t key_bits;
};

/* First match wins in keel_proposal_to_text(): canonical names come first. */
static const struct keyword keywords[] = {
    {"aes128gcm16", KW_ENCR, 20, 128},
    {"aes192gcm16", KW_ENCR, 20, 192},
    {"aes256gcm16", KW_ENCR, 20, 256},
    {"aes128gcm12", KW_ENCR, 19, 128},
    {"aes192gcm12", KW_ENCR, 19, 192},
    {"aes256gcm12", KW_ENCR, 19, 256},
    {"aes128gcm8", KW_ENCR, 18, 128},
    {"aes192gcm8", KW_ENCR, 18, 192},
    {"aes256gcm8", KW_ENCR, 18, 256},
    {"aes128gcm", KW_ENCR, 20, 128},
    {"aes192gcm", KW_ENCR, 20, 192},
    {"aes256gcm", KW_ENCR, 20, 256},
    {"aes128gcm128", KW_ENCR, 20, 128},
    {"aes192gcm128", KW_ENCR, 20, 192},
    {"aes256gcm128", KW_ENCR, 20, 256},
    {"aes128gcm96", KW_ENCR, 19, 128},
    {"aes192gcm96", KW_ENCR, 19, 192},
    {"aes256gcm96", KW_ENCR, 19, 256},
    {"aes128gcm64", KW_ENCR, 18, 128},
    {"aes192gcm64", KW_ENCR, 18, 192},
    {"aes256gcm64", KW_ENCR, 18, 256},
    {"chacha20poly1305", KW_ENCR, 28, 0},
    {"aes128", KW_ENCR, 12, 128},
    {"aes192", KW_ENCR, 12, 192},
    {"aes256", KW_ENCR, 12, 256},
    {"aes", KW_ENCR, 12, 128},
    {"aes128ctr", KW_ENCR, 13, 128},
    {"aes192ctr", KW_ENCR, 13, 192},
    {"aes256ctr", KW_ENCR, 13, 256},
    {"sha256", KW_INTEG, 12, 0},
    {"sha384", KW_INTEG, 13, 0},
    {"sha512", KW_INTEG, 14, 0},
    {"sha1", KW_INTEG, 2, 0},
    {"aesxcbc", KW_INTEG, 5, 0},
    {"sha", KW_INTEG, 2, 0},
    {"sha2_256", KW_INTEG, 12, 0},
    {"sha2_384", KW_INTEG, 13, 0},
    {"sha2_512", KW_INTEG, 14, 0},
    {"prfsha256", KW_PRF, 5, 0},
    {"prfsha384", KW_PRF, 6, 0},
    {"prfsha512", KW_PRF, 7, 0},
    {"prfsha1", KW_PRF, 2, 0},
    {"prfaesxcbc", KW_PRF, 4, 0},
    {"prfaescmac", KW_PRF, 8, 0},
    {"x25519", KW_DH, 31, 0},
    {"x448", KW_DH, 32, 0},
    {"ecp256", KW_DH, 19, 0},
    {"ecp384", KW_DH, 20, 0},
    {"ecp521", KW_DH, 21, 0},
    {"modp2048", KW_DH, 14, 0},
    {"modp3072", KW_DH, 15, 0},
    {"modp4096", KW_DH, 16, 0},
    {"modp6144", KW_DH, 17, 0},
    {"modp8192", KW_DH, 18, 0},
    {"curve25519", KW_DH, 31, 0},
    {"curve448", KW_DH, 32, 0},
    {"noesn", KW_ESN, 0, 0},
    {"esn", KW_ESN, 1, 0},
};

static bool encr_is_aead(uint16_t id)
{
	return id == 18 || id == 19 || id == 20 || id == 28;
}

static bool add_u16(uint16_t *list, uint8_t *n, uint16_t v)
{
	for (uint8_t i = 0; i < *n; i++)
		if (list[i] == v)
			return true;
	if (*n >= KEEL_PROPOSAL_MAX_ALGS)
		return false;
	list[(*n)++] = v;
	return true;
}

static bool add_kw(struct keel_proposal *p, const struct keyword *k)
{
	switch (k->type) {
	case KW_ENCR:
		for (uint8_t i = 0; i < p->n_encr; i++)
			if (p->encr[i].id == k->id && p->encr[i].key_bits == k->key_bits)
				return true;
		if (p->n_encr >= KEEL_PROPOSAL_MAX_ALGS)
			return false;
		p->encr[p->n_encr++] = (struct keel_encr_alg){.id = k->id, .key_bits = k->key_bits};
		return true;
	case KW_INTEG:
		return add_u16(p->integ, &p->n_integ, k->id);
	case KW_PRF:
		return add_u16(p->prf, &p->n_prf, k->id);
	case KW_DH:
		return add_u16(p->dh, &p->n_dh, k->id);
	case KW_ESN:
		for (uint8_t i = 0; i < p->n_esn; i++)
			if (p->esn[i] == k->id)
				return true;
		if (p->n_esn >= 2)
			return false;
		p->esn[p->n_esn++] = (uint8_t)k->id;
		return true;
	}
	return false;
}

/* AH takes HMAC-SHA2 integrity (RFC 8221 §6), ESN and PFS groups, nothing else. */
static bool ah_keyword(const struct keyword *k)
{
	switch (k->type) {
	case KW_INTEG:
		return k->id == 12 || k->id == 13 || k->id == 14;
	case KW_DH:
	case KW_ESN:
		return true;
	case KW_ENCR:
	case KW_PRF:
		return false;
	}
	return false;
}

static uint16_t prf_for_integ(uint16_t integ)
{
	switch (integ) {
	case 2:
		return 2;
	case 5:
		return 4;
	case 12:
		return 5;
	case 13:
		return 6;
	case 14:
		return 7;
	default:
		return 0;
	}
}

int keel_proposal_from_text(const char *text, enum keel_proposal_kind kind,
                            struct keel_proposal *out, size_t *err_pos)
{
	struct keel_proposal p;
	memset(&p, 0, sizeof(p));
	size_t pos = 0, len = strlen(text);

	while (pos <= len) {
		size_t end = pos;
		while (end < len && text[end] != '-')
			end++;
		/* allow surrounding blanks: " aes256-sha256 " */
		size_t s = pos, e = end;
		while (s < e && (text[s] == ' ' || text[s] == '\t'))
			s++;
		while (e > s && (text[e - 1] == ' ' || text[e - 1] == '\t'))
			e--;
		const struct keyword *k = NULL;
		for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
			if (strlen(keywords[i].name) == e - s &&
			    strncmp(keywords[i].name, text + s, e - s) == 0) {
				k = &keywords[i];
				break;
			}
		}
		if (!k || (kind == KEEL_PROPOSAL_IKE && k->type == KW_ESN) ||
		    (kind != KEEL_PROPOSAL_IKE && k->type == KW_PRF) ||
		    (kind == KEEL_PROPOSAL_AH && !ah_keyword(k)) || !add_kw(&p, k)) {
			if (err_pos)
				*err_pos = s;
			return KEEL_ERR_INVAL;
		}
		pos = end + 1;
	}

	if (kind == KEEL_PROPOSAL_AH) {
		/* RFC 4302: integrity only */
		if (p.n_integ == 0)
			goto invalid;
		if (p.n_esn == 0)
			p.n_esn = 1; /* p.esn[0] is 0: no ESN */
		*out = p;
		return 0;
	}
	unsigned n_aead = 0;
	for (uint8_t i = 0; i < p.n_encr; i++)
		n_aead += encr_is_aead(p.encr[i].id);
	bool aead = n_aead > 0;
	if (p.n_encr == 0 || (aead && n_aead != p.n_encr) || (aead && p.n_integ > 0) ||
	    (!aead && p.n_integ == 0))
		goto invalid;
	if (kind == KEEL_PROPOSAL_IKE) {
		if (p.n_dh == 0)
			goto invalid;
		if (p.n_prf == 0) {
			if (aead) {
				p.prf[0] = 5;
				p.prf[1] = 6;
				p.prf[2] = 7;
				p.n_prf = 3;
			} else {
				for (uint8_t i = 0; i < p.n_integ; i++)
					if (prf_for_integ(p.integ[i]))
						add_u16(p.prf, &p.n_prf, prf_for_integ(p.integ[i]));
			}
		}
	} else if (p.n_esn == 0) {
		p.n_esn = 1;
		p.esn[0] = 0;
	}
	*out = p;
	return 0;
invalid:
	if (err_pos)
		*err_pos = len;
	return KEEL_ERR_INVAL;
}

struct sbuf {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

static void sb_add(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);
	if (b->len + n + 1 > b->cap) {
		b->overflow = true;
		n = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
	}
	if (b->cap > 0) {
		memcpy(b->buf + b->len, s, n);
		b->len += n;
		b->buf[b->len] = '\0';
	}
}

static const char *kw_name(enum kw_type type, uint16_t id, uint16_t key_bits)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (keywords[i].type == type && keywords[i].id == id &&
		    (type != KW_ENCR || keywords[i].key_bits == key_bits))
			return keywords[i].name;
	return NULL;
}

static void sb_kw(struct sbuf *b, enum kw_type type, uint16_t id, uint16_t key_bits)
{
	const char *name = kw_name(type, id, key_bits);
	char tmp[32];
	if (!name) {
		static const char *const prefix[] = {"encr", "integ", "prf", "dh", "esn"};
		snprintf(tmp, sizeof(tmp), "%s%u", prefix[type], (unsigned)id);
		name = tmp;
	}
	if (b->len > 0)
		sb_add(b, "-");
	sb_add(b, name);
}

ptrdiff_t keel_proposal_to_text(const struct keel_proposal *p, char *buf, size_t cap)
{
	struct sbuf b = {.buf = buf, .cap = cap};
	if (cap > 0)
		buf[0] = '\0';
	for (uint8_t i = 0; i < p->n_encr && i < KEEL_PROPOSAL_MAX_ALGS; i++)
		sb_kw(&b, KW_ENCR, p->encr[i].id, p->encr[i].key_bits);
	for (uint8_t i = 0; i < p->n_integ && i < KEEL_PROPOSAL_MAX_ALGS; i++)
		sb_kw(&b, KW_INTEG, p->integ[i], 0);
	for (uint8_t i = 0; i < p->n_prf && i < KEEL_PROPOSAL_MAX_ALGS; i++)
		sb_kw(&b, KW_PRF, p->prf[i], 0);
	for (uint8_t i = 0; i < p->n_dh && i < KEEL_PROPOSAL_MAX_ALGS; i++)
		sb_kw(&b, KW_DH, p->dh[i], 0);
	/* "noesn" alone is the default and not worth printing */
	if (!(p->n_esn == 0 || (p->n_esn == 1 && p->esn[0] == 0)))
		for (uint8_t i = 0; i < p->n_esn && i < 2; i++)
			sb_kw(&b, KW_ESN, p->esn[i], 0);
	if (b.overflow || cap == 0)
		return KEEL_ERR_NOBUF;
	return (ptrdiff_t)b.len;
}

size_t keel_proposal_defaults(enum keel_proposal_kind kind, struct keel_proposal *out, size_t max)
{
	static const char *const ike[] = {
	    "aes256gcm16-aes128gcm16-prfsha256-prfsha384-x25519-ecp256-modp2048",
	    "aes256-sha256-prfsha256-prfsha384-x25519-ecp256-modp2048",
	};
	static const char *const esp[] = {
	    "aes256gcm16-aes128gcm16",
	    "aes256-sha256",
	};
	static const char *const ah[] = {
	    "sha256-sha384-sha512",
	};
	const char *const *list = esp;
	size_t n_list = 2;
	switch (kind) {
	case KEEL_PROPOSAL_IKE:
		list = ike;
		break;
	case KEEL_PROPOSAL_ESP:
		break;
	case KEEL_PROPOSAL_AH:
		list = ah;
		n_list = 1;
		break;
	}
	size_t n = 0;
	for (size_t i = 0; i < n_list && n < max; i++)
		if (keel_proposal_from_text(list[i], kind, &out[n], NULL) == 0)
			n++;
	return n;
}

/* ---- addresses ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool parse_ip4(const char *s, size_t len, uint8_t out[4])
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return false;
		out[part] = (uint8_t)v;
		if (part < 3) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
	}
	return i == len;
}

static bool parse_ip6(const char *s, size_t len, uint8_t out[16])
{
	uint8_t b[16] = {0};
	int n = 0, gap = -1;
	size_t i = 0;
	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		gap = 0;
		i = 2;
		if (i == len)
			goto done;
	} else if (len > 0 && s[0] == ':') {
		return false;
	}
	for (;;) {
		/* an embedded IPv4 address ends the address */
		size_t j = i;
		while (j < len && s[j] != ':' && s[j] != '.')
			j++;
		if (j < len && s[j] == '.') {
			if (n > 12 || !parse_ip4(s + i, len - i, b + n))
				return false;
			n += 4;
			break;
		}
		unsigned v = 0, digits = 0;
		while (i < len && hexval(s[i]) >= 0) {
			v = (v << 4) | (unsigned)hexval(s[i]);
			i++;
			if (++digits > 4)
				return false;
		}
		if (digits == 0 || n > 14)
			return false;
		b[n++] = (uint8_t)(v >> 8);
		b[n++] = (uint8_t)v;
		if (i == len)
			break;
		if (s[i] != ':')
			return false;
		i++;
		if (i < len && s[i] == ':') {
			if (gap >= 0)
				return false;
			gap = n;
			i++;
			if (i == len)
				break;
		} else if (i == len) {
			return false;
		}
	}
done:
	if (gap >= 0) {
		if (n >= 16)
			return false;
		memmove(out + 16 - (n - gap), b + gap, (size_t)(n - gap));
		memcpy(out, b, (size_t)gap);
		memset(out + gap, 0, (size_t)(16 - n));
	} else {
		if (n != 16)
			return false;
		memcpy(out, b, 16);
	}
	return true;
}

bool keel_addr_parse(const char *s, size_t len, struct keel_addr *out)
{
	struct keel_addr a;
	memset(&a, 0, sizeof(a));
	if (parse_ip4(s, len, a.bytes)) {
		a.family = KEEL_AF_INET;
	} else if (parse_ip6(s, len, a.bytes)) {
		a.family = KEEL_AF_INET6;
	} else {
		return false;
	}
	*out = a;
	return true;
}

size_t keel_addr_format(enum keel_af family, const uint8_t *bytes, char *buf, size_t cap)
{
	char tmp[48];
	if (family == KEEL_AF_INET) {
		snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u", bytes[0], bytes[1], bytes[2], bytes[3]);
	} else if (family == KEEL_AF_INET6) {
		/* RFC 5952 §4: the longest run (>= 2) of zero groups becomes "::" */
		unsigned g[8];
		for (int i = 0; i < 8; i++)
			g[i] = (unsigned)bytes[2 * i] << 8 | bytes[2 * i + 1];
		int best = -1, best_len = 0;
		for (int i = 0; i < 8;) {
			if (g[i] != 0) {
				i++;
				continue;
			}
			int j = i;
			while (j < 8 && g[j] == 0)
				j++;
			if (j - i > best_len && j - i >= 2) {
				best = i;
				best_len = j - i;
			}
			i = j;
		}
		size_t n = 0;
		for (int i = 0; i < 8; i++) {
			if (i == best) {
				n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "::");
				i += best_len - 1;
				continue;
			}
			if (n > 0 && tmp[n - 1] != ':')
				tmp[n++] = ':';
			n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%x", g[i]);
		}
		tmp[n] = '\0';
	} else {
		snprintf(tmp, sizeof(tmp), "(none)");
	}
	size_t n = strlen(tmp);
	if (cap > 0) {
		size_t c = n < cap - 1 ? n : cap - 1;
		memcpy(buf, tmp, c);
		buf[c] = '\0';
	}
	return n;
}

/* ---- identities ---- */

int keel_id_from_text(const char *text, struct keel_id *out)
{
	struct keel_id id;
	memset(&id, 0, sizeof(id));
	size_t len = strlen(text);
	struct keel_addr a;
	if (len == 0)
		return KEEL_ERR_INVAL;
	if (keel_addr_parse(text, len, &a)) {
		id.type = a.family == KEEL_AF_INET ? KEEL_ID_IPV4_ADDR : KEEL_ID_IPV6_ADDR;
		id.len = (uint16_t)keel_af_addr_len(a.family);
		memcpy(id.data, a.bytes, id.len);
	} else if (len >= 2 && text[0] == '@' && text[1] == '#') {
		size_t n = len - 2;
		if (n == 0 || n % 2 != 0 || n / 2 > KEEL_ID_MAX_LEN)
			return KEEL_ERR_INVAL;
		for (size_t i = 0; i < n / 2; i++) {
			int hi = hexval(text[2 + 2 * i]), lo = hexval(text[3 + 2 * i]);
			if (hi < 0 || lo < 0)
				return KEEL_ERR_INVAL;
			id.data[i] = (uint8_t)(hi << 4 | lo);
		}
		id.type = KEEL_ID_KEY_ID;
		id.len = (uint16_t)(n / 2);
	} else if (strchr(text, '=')) {
		size_t n;
		int rc = keel_dn_from_text(text, id.data, sizeof(id.data), &n);
		if (rc < 0)
			return rc == KEEL_ERR_NOMEM ? rc : KEEL_ERR_INVAL;
		id.type = KEEL_ID_DER_ASN1_DN;
		id.len = (uint16_t)n;
	} else {
		const char *v = text;
		if (text[0] == '@') {
			id.type = KEEL_ID_FQDN;
			v++;
		} else {
			id.type = strchr(text, '@') ? KEEL_ID_RFC822_ADDR : KEEL_ID_FQDN;
		}
		size_t n = strlen(v);
		if (n == 0 || n > KEEL_ID_MAX_LEN)
			return KEEL_ERR_INVAL;
		memcpy(id.data, v, n);
		id.len = (uint16_t)n;
	}
	*out = id;
	return 0;
}

size_t keel_escape(const uint8_t *p, size_t len, char *buf, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char tmp[5];
		size_t k;
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '"') {
			tmp[0] = (char)p[i];
			k = 1;
		} else {
			snprintf(tmp, sizeof(tmp), "\\x%02x", p[i]);
			k = 4;
		}
		if (n + k + 1 > cap)
			break;
		memcpy(buf + n, tmp, k);
		n += k;
	}
	if (cap > 0)
		buf[n] = '\0';
	return n;
}

ptrdiff_t keel_id_to_text(const struct keel_id *id, char *buf, size_t cap)
{
	char tmp[4 * KEEL_ID_MAX_LEN + 8];
	size_t len = id->len <= KEEL_ID_MAX_LEN ? id->len : KEEL_ID_MAX_LEN;
	/* a type value outside the enum still prints, escaped */
	keel_escape(id->data, len, tmp, sizeof(tmp));
	switch (id->type) {
	case KEEL_ID_IPV4_ADDR:
	case KEEL_ID_IPV6_ADDR: {
		enum keel_af af = id->type == KEEL_ID_IPV4_ADDR ? KEEL_AF_INET : KEEL_AF_INET6;
		if ((ptrdiff_t)len != keel_af_addr_len(af)) {
			keel_escape(id->data, len, tmp, sizeof(tmp));
			break;
		}
		keel_addr_format(af, id->data, tmp, sizeof(tmp));
		break;
	}
	case KEEL_ID_KEY_ID: {
		size_t n = 0;
		tmp[n++] = '@';
		tmp[n++] = '#';
		for (size_t i = 0; i < len; i++)
			n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%02x", id->data[i]);
		break;
	}
	case KEEL_ID_NONE:
		snprintf(tmp, sizeof(tmp), "%%any");
		break;
	case KEEL_ID_FQDN:
	case KEEL_ID_RFC822_ADDR:
		keel_escape(id->data, len, tmp, sizeof(tmp));
		break;
	case KEEL_ID_DER_ASN1_DN: {
		/* "C=CH, O=Example, CN=gw", escaped as for certificates */
		static const char prefix[] = "DN ";
		struct keel_x509_id x = {.type = KEEL_ID_DER_ASN1_DN, .data = id->data, .len = len};
		keel_x509_id_format(&x, tmp, sizeof(tmp));
		if (strncmp(tmp, prefix, sizeof(prefix) - 1) == 0)
			memmove(tmp, tmp + sizeof(prefix) - 1, strlen(tmp) - (sizeof(prefix) - 2));
		break;
	}
	}
	size_t n = strlen(tmp);
	if (cap == 0)
		return KEEL_ERR_NOBUF;
	size_t c = n < cap - 1 ? n : cap - 1;
	memcpy(buf, tmp, c);
	buf[c] = '\0';
	return c == n ? (ptrdiff_t)n : KEEL_ERR_NOBUF;
}

/* ---- traffic selectors ---- */

int keel_ts_from_text(const char *text, struct keel_ts *out)
{
	struct keel_ts ts;
	memset(&ts, 0, sizeof(ts));
	size_t len = strlen(text);
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	const char *slash = memchr(text, '/', len);
	const char *dash = memchr(text, '-', len);
	struct keel_addr a, b;
	ts.port_start = 0;
	ts.port_end = 0xffff;
	if (slash) {
		if (!keel_addr_parse(text, (size_t)(slash - text), &a))
			return KEEL_ERR_INVAL;
		unsigned plen = 0, digits = 0;
		for (const char *p = slash + 1; p < text + len; p++) {
			if (*p < '0' || *p > '9' || ++digits > 3)
				return KEEL_ERR_INVAL;
			plen = plen * 10 + (unsigned)(*p - '0');
		}
		unsigned bits = (unsigned)keel_af_addr_len(a.family) * 8;
		if (digits == 0 || plen > bits)
			return KEEL_ERR_INVAL;
		ts.family = a.family;
		for (unsigned i = 0; i < bits / 8; i++) {
			unsigned keep = plen > i * 8 ? (plen - i * 8 >= 8 ? 8 : plen - i * 8) : 0;
			uint8_t mask = (uint8_t)(keep ? 0xff << (8 - keep) : 0);
			ts.start[i] = a.bytes[i] & mask;
			ts.end[i] = (uint8_t)(a.bytes[i] | (uint8_t)~mask);
		}
	} else if (dash) {
		if (!keel_addr_parse(text, (size_t)(dash - text), &a) ||
		    !keel_addr_parse(dash + 1, (size_t)(text + len - dash - 1), &b) ||
		    a.family != b.family)
			return KEEL_ERR_INVAL;
		ptrdiff_t n = keel_af_addr_len(a.family);
		if (memcmp(a.bytes, b.bytes, (size_t)n) > 0)
			return KEEL_ERR_INVAL;
		ts.family = a.family;
		memcpy(ts.start, a.bytes, (size_t)n);
		memcpy(ts.end, b.bytes, (size_t)n);
	} else {
		if (!keel_addr_parse(text, len, &a))
			return KEEL_ERR_INVAL;
		ts.family = a.family;
		memcpy(ts.start, a.bytes, 16);
		memcpy(ts.end, a.bytes, 16);
	}
	*out = ts;
	return 0;
}

/* The prefix length if [start, end] is exactly a prefix, else -1. */
int keel_range_prefix_len(const uint8_t *start, const uint8_t *end, size_t n)
{
	size_t bits = n * 8, i = 0;
	while (i < bits) {
		int sb = start[i / 8] >> (7 - i % 8) & 1, eb = end[i / 8] >> (7 - i % 8) & 1;
		if (sb != eb)
			break;
		i++;
	}
	for (size_t j = i; j < bits; j++) {
		int sb = start[j / 8] >> (7 - j % 8) & 1, eb = end[j / 8] >> (7 - j % 8) & 1;
		if (sb != 0 || eb != 1)
			return -1;
	}
	return (int)i;
}

ptrdiff_t keel_ts_to_text(const struct keel_ts *ts, char *buf, size_t cap)
{
	char tmp[128], a[48], b[48];
	ptrdiff_t n = keel_af_addr_len(ts->family);
	if (n == 0) {
		snprintf(tmp, sizeof(tmp), "(none)");
	} else {
		keel_addr_format(ts->family, ts->start, a, sizeof(a));
		int plen = keel_range_prefix_len(ts->start, ts->end, (size_t)n);
		if (plen >= 0) {
			snprintf(tmp, sizeof(tmp), "%s/%d", a, plen);
		} else {
			keel_addr_format(ts->family, ts->end, b, sizeof(b));
			snprintf(tmp, sizeof(tmp), "%s-%s", a, b);
		}
		size_t l = strlen(tmp);
		if (ts->ip_proto != 0 || ts->port_start != 0 || ts->port_end != 0xffff) {
			if (ts->port_start == ts->port_end)
				snprintf(tmp + l, sizeof(tmp) - l, "[%u/%u]", ts->ip_proto,
				         ts->port_start);
			else if (ts->port_start == 0 && ts->port_end == 0xffff)
				snprintf(tmp + l, sizeof(tmp) - l, "[%u]", ts->ip_proto);
			else
				snprintf(tmp + l, sizeof(tmp) - l, "[%u/%u-%u]", ts->ip_proto,
				         ts->port_start, ts->port_end);
		}
	}
	size_t l = strlen(tmp);
	if (cap == 0)
		return KEEL_ERR_NOBUF;
	size_t c = l < cap - 1 ? l : cap - 1;
	memcpy(buf, tmp, c);
	buf[c] = '\0';
	return c == l ? (ptrdiff_t)l : KEEL_ERR_NOBUF;
}
