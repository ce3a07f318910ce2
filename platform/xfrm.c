/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel data path over XFRM netlink (see keel-platform/xfrm.h for what
 * is installed and how Keel's state is recognised).
 *
 * libmnl builds and walks the messages. The request/answer loop is not
 * nl.c's keel_nl_talk() because XFRM errors need the kernel's extended ACK
 * text ("Requested AEAD algorithm not found") to tell a user what is
 * missing, so this file reads NLMSG_ERROR itself.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <linux/netlink.h>
#include <linux/udp.h>
#include <linux/xfrm.h>

#include <libmnl/libmnl.h>

#include <keel-platform/xfrm.h>

#include "xfrm-ts.h"

#define ERR_CAP   512
#define EXT_CAP   200
#define REQ_SIZE  4096
#define RECV_SIZE 32768 /* the kernel sizes dump batches to at most this */

#define REPLAY_WINDOW    128 /* packets; LAB.md: what the 6.1 kernel takes */
#define REPLAY_BMP_WORDS (REPLAY_WINDOW / 32)

/* ---------------------------------------------------------------------- */
/* Netlink with the kernel's extended ACK                                  */

struct xnl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	char ext[EXT_CAP]; /* the kernel's message for the last error, or "" */
};

static int xnl_open(struct xnl *n)
{
	int one = 1;

	n->ext[0] = '\0';
	n->sock = mnl_socket_open2(NETLINK_XFRM, SOCK_CLOEXEC);
	if (!n->sock)
		return -errno;
	if (mnl_socket_bind(n->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;
		mnl_socket_close(n->sock);
		n->sock = NULL;
		return err;
	}
	/* errors carry the kernel's text and only the header of our request */
	mnl_socket_setsockopt(n->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(n->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	n->portid = mnl_socket_get_portid(n->sock);
	n->seq = (uint32_t)getpid() << 16;
	return 0;
}

static void xnl_close(struct xnl *n)
{
	if (n->sock)
		mnl_socket_close(n->sock);
	n->sock = NULL;
}

struct talk {
	mnl_cb_t cb;
	void *data;
	char *ext;
	int err; /* the kernel's error for this request, 0 if none */
};

static int ext_attr_cb(const struct nlattr *a, void *data)
{
	struct talk *t = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		snprintf(t->ext, EXT_CAP, "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP; /* the ACK */
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		size_t off = sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		if (mnl_nlmsg_size(off) <= nlh->nlmsg_len)
			mnl_attr_parse(nlh, (unsigned)off, ext_attr_cb, t);
	}
	t->err = e->error;
	errno = -e->error;
	return MNL_CB_ERROR;
}

static int done_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_STOP;
}

static int overrun_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	errno = ENOSPC;
	return MNL_CB_ERROR;
}

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;
	return t->cb ? t->cb(nlh, t->data) : MNL_CB_OK;
}

/*
 * Sends req and reads until the ACK or NLMSG_DONE, handing data messages
 * to cb. 0 or -errno; n->ext gets the kernel's explanation of an error.
 */
static int xnl_talk(struct xnl *n, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	char buf[RECV_SIZE];
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {0};
	struct talk t = {.cb = cb, .data = data, .ext = n->ext};
	bool dump = (req->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;

	n->ext[0] = '\0';
	if (!n->sock)
		return -EBADF;
	/* with a control array, libmnl leaves every control type to it */
	ctl[NLMSG_ERROR] = error_cb;
	ctl[NLMSG_DONE] = done_cb;
	ctl[NLMSG_OVERRUN] = overrun_cb;
	if (!dump)
		req->nlmsg_flags |= NLM_F_ACK;
	req->nlmsg_seq = ++n->seq;
	if (mnl_socket_sendto(n->sock, req, req->nlmsg_len) < 0)
		return -errno;
	int rc;
	for (;;) {
		ssize_t got = mnl_socket_recvfrom(n->sock, buf, sizeof(buf));
		if (got < 0) {
			rc = -errno;
			break;
		}
		errno = 0;
		rc = mnl_cb_run2(buf, (size_t)got, req->nlmsg_seq, n->portid, data_cb, &t, ctl,
		                 NLMSG_MIN_TYPE);
		if (rc < 0 && t.err) {
			rc = t.err;
			break;
		}
		/*
		 * libmnl says ESRCH for another sequence number: the rest of an
		 * earlier request's answer (each answer is its own datagram)
		 */
		if (rc < 0 && errno == ESRCH)
			continue;
		if (rc < 0) {
			rc = errno ? -errno : -EPROTO;
			break;
		}
		if (rc == MNL_CB_STOP) {
			rc = 0;
			break;
		}
	}
	/* the kernel's answers about SAs carry their keys */
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

static struct nlmsghdr *req_start(char *buf, uint16_t type, uint16_t flags)
{
	memset(buf, 0, REQ_SIZE);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

/* ---------------------------------------------------------------------- */
/* Algorithms                                                              */

struct encr_alg {
	uint16_t id;
	const char *name;
	bool aead;
	uint16_t icv_bits;
	/* bytes after the key in KEYMAT: RFC 4106 §8.1, RFC 3686 §5.1, RFC 7634 §2 */
	uint8_t salt_len;
	bool chacha;
};

/* IKEv2 Transform Type 1 IDs (IANA) and the kernel's names. */
static const struct encr_alg encr_algs[] = {
    {12, "cbc(aes)", false, 0, 0, false},                      /* RFC 3602 */
    {13, "rfc3686(ctr(aes))", false, 0, 4, false},             /* RFC 3686 */
    {18, "rfc4106(gcm(aes))", true, 64, 4, false},             /* RFC 4106 */
    {19, "rfc4106(gcm(aes))", true, 96, 4, false},             /* RFC 4106 */
    {20, "rfc4106(gcm(aes))", true, 128, 4, false},            /* RFC 4106 */
    {28, "rfc7539esp(chacha20,poly1305)", true, 128, 4, true}, /* RFC 7634 */
};

struct integ_alg {
	uint16_t id;
	const char *name;
	uint16_t key_len;
	uint16_t trunc_bits; /* ICV length */
};

/* IKEv2 Transform Type 3 IDs (IANA). */
static const struct integ_alg integ_algs[] = {
    {2, "hmac(sha1)", 20, 96},     /* RFC 2404 */
    {5, "xcbc(aes)", 16, 96},      /* RFC 3566 */
    {12, "hmac(sha256)", 32, 128}, /* RFC 4868 */
    {13, "hmac(sha384)", 48, 192}, /* RFC 4868 */
    {14, "hmac(sha512)", 64, 256}, /* RFC 4868 */
};

static const struct encr_alg *encr_find(uint16_t id)
{
	for (size_t i = 0; i < sizeof(encr_algs) / sizeof(encr_algs[0]); i++)
		if (encr_algs[i].id == id)
			return &encr_algs[i];
	return NULL;
}

static const struct integ_alg *integ_find(uint16_t id)
{
	for (size_t i = 0; i < sizeof(integ_algs) / sizeof(integ_algs[0]); i++)
		if (integ_algs[i].id == id)
			return &integ_algs[i];
	return NULL;
}

const char *keel_xfrm_encr_name(uint16_t encr)
{
	const struct encr_alg *a = encr_find(encr);
	return a ? a->name : NULL;
}

const char *keel_xfrm_integ_name(uint16_t integ)
{
	const struct integ_alg *a = integ_find(integ);
	return a ? a->name : NULL;
}

/* The encryption key length in bytes without salt, or 0 when bits is invalid. */
static size_t encr_key_len(const struct encr_alg *e, uint16_t bits)
{
	if (e->chacha)
		return bits == 0 || bits == 256 ? 32 : 0;
	return bits == 128 || bits == 192 || bits == 256 ? bits / 8u : 0;
}

/* ---------------------------------------------------------------------- */
/* Addresses                                                               */

static size_t af_len(int af)
{
	return af == AF_INET ? 4 : af == AF_INET6 ? 16 : 0;
}

static void to_xaddr(const struct keel_addr *a, xfrm_address_t *x)
{
	memset(x, 0, sizeof(*x));
	memcpy(x, a->bytes, af_len(keel_xfrm_af(a->family)));
}

static const char *addr_text(int af, const void *bytes, char *buf, size_t cap)
{
	if (!inet_ntop(af, bytes, buf, (socklen_t)cap))
		snprintf(buf, cap, "?");
	return buf;
}

/* ---------------------------------------------------------------------- */
/* Error sentences                                                         */

enum op {
	OP_OPEN,
	OP_SA,
	OP_SA_AH, /* as OP_SA, for an AH SA */
	OP_POLICY,
	OP_DELETE,
	OP_READ,
};

static const char *explain(int err, enum op op)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return "not permitted: changing IPsec state needs CAP_NET_ADMIN (run Keel as root "
		       "or with that capability)";
	case EPROTONOSUPPORT:
		if (op == OP_OPEN)
			return "the kernel has no XFRM netlink interface (xfrm_user neither "
			       "built in nor loadable); use the TUN data path (datapath = tun)";
		if (op == OP_SA_AH)
			return "the kernel has no AH for this address family (ah4/ah6 neither "
			       "built in nor loadable); use ESP (esp-proposals) instead";
		return "the kernel has no ESP for this address family (esp4/esp6 neither built in "
		       "nor loadable); use the TUN data path (datapath = tun)";
	case ENOSYS:
	case ENOENT:
		if (op == OP_SA || op == OP_SA_AH)
			return "the kernel lacks an algorithm of this SA (a crypto module "
			       "is missing)";
		if (op == OP_DELETE || op == OP_READ)
			return "it is not there (any more)";
		break;
	case ESRCH:
		return "it is not there (any more)";
	case EEXIST:
		if (op == OP_SA || op == OP_SA_AH)
			return "the kernel has an SA with this SPI and destination already";
		if (op == OP_POLICY)
			return "another IPsec policy with exactly these traffic selectors "
			       "exists (another IPsec program, or a stale Keel whose state was "
			       "not cleaned)";
		break;
	case EINVAL:
		return "the kernel refused the request as invalid";
	default:
		break;
	}
	return strerror(err);
}

__attribute__((format(printf, 3, 4))) static void set_msg(char *buf, size_t cap, const char *fmt,
                                                          ...)
{
	va_list ap;
	if (!buf || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

/* "<what>: <explanation> (kernel: <ext>)" into buf. */
static void set_os_msg(char *buf, size_t cap, const char *what, int rc, enum op op, const char *ext)
{
	if (ext && ext[0])
		set_msg(buf, cap, "%s: %s (kernel: %s)", what, explain(-rc, op), ext);
	else
		set_msg(buf, cap, "%s: %s", what, explain(-rc, op));
}

/* ---------------------------------------------------------------------- */
/* SAs                                                                     */

struct sa_spec {
	uint32_t spi; /* host order */
	uint32_t kreqid;
	const struct keel_addr *src;
	const struct keel_addr *dst;
	bool ah;                     /* AH (RFC 4302): encr NULL, integ only, no encap */
	const struct encr_alg *encr; /* NULL with AH */
	const uint8_t *encr_key;     /* key | salt */
	size_t encr_key_len;
	const struct integ_alg *integ;
	const uint8_t *integ_key;
	bool esn;
	bool encap; /* src->port -> dst->port */
	uint32_t hard_life_s;
};

static void sa_describe(const struct sa_spec *s, const char *dir, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], spi[16] = "";
	int af = keel_xfrm_af(s->src->family);
	if (s->spi)
		snprintf(spi, sizeof(spi), " 0x%08x", s->spi);
	snprintf(buf, cap, "adding the %s SA%s (%s -> %s, %s%s%s%s%s)", dir, spi,
	         addr_text(af, s->src->bytes, a, sizeof(a)),
	         addr_text(af, s->dst->bytes, b, sizeof(b)), s->ah ? "AH" : s->encr->name,
	         s->integ ? (s->ah ? " " : " + ") : "", s->integ ? s->integ->name : "",
	         s->esn ? ", ESN" : "", s->encap ? ", in UDP" : "");
}

static void put_lifetime_inf(struct xfrm_lifetime_cfg *lft)
{
	lft->soft_byte_limit = XFRM_INF;
	lft->hard_byte_limit = XFRM_INF;
	lft->soft_packet_limit = XFRM_INF;
	lft->hard_packet_limit = XFRM_INF;
}

static void build_newsa(char *buf, const struct sa_spec *s)
{
	struct nlmsghdr *nlh = req_start(buf, XFRM_MSG_NEWSA, NLM_F_CREATE | NLM_F_EXCL);
	struct xfrm_usersa_info *sa = mnl_nlmsg_put_extra_header(nlh, sizeof(*sa));
	int af = keel_xfrm_af(s->src->family);

	to_xaddr(s->dst, &sa->id.daddr);
	to_xaddr(s->src, &sa->saddr);
	sa->id.spi = htonl(s->spi);
	sa->id.proto = s->ah ? IPPROTO_AH : IPPROTO_ESP;
	sa->family = (uint16_t)af;
	sa->mode = XFRM_MODE_TUNNEL;
	sa->reqid = s->kreqid;
	/*
	 * An open selector of family AF_UNSPEC: the policies decide what goes
	 * in; one tunnel-mode SA carries IPv4 and IPv6 inside.
	 */
	sa->flags = XFRM_STATE_AF_UNSPEC | (s->esn ? XFRM_STATE_ESN : 0);
	/*
	 * RFC 4302 §3.3.3.2.1: over IPv4 the AH header is padded to a multiple
	 * of 32 bits (64 over IPv6); Linux pads to 64 bits unless told, and a
	 * peer that follows the RFC (strongSwan does) then rejects every packet.
	 */
	if (s->ah && af == AF_INET)
		sa->flags |= XFRM_STATE_ALIGN4;
	/* XFRMA_REPLAY_ESN_VAL below carries the window; this must be 0 with it */
	sa->replay_window = 0;
	put_lifetime_inf(&sa->lft);
	sa->lft.hard_add_expires_seconds = s->hard_life_s;

	/* scratch for the algorithm attributes; wiped, they hold keys */
	union {
		struct xfrm_algo_aead aead;
		struct xfrm_algo crypt;
		struct xfrm_algo_auth auth;
		uint8_t raw[sizeof(struct xfrm_algo_auth) + 128];
	} al;
	if (s->encr && s->encr->aead) {
		memset(&al, 0, sizeof(al));
		snprintf(al.aead.alg_name, sizeof(al.aead.alg_name), "%s", s->encr->name);
		al.aead.alg_key_len = (unsigned)(s->encr_key_len * 8);
		al.aead.alg_icv_len = s->encr->icv_bits;
		memcpy(al.aead.alg_key, s->encr_key, s->encr_key_len);
		mnl_attr_put(nlh, XFRMA_ALG_AEAD, sizeof(al.aead) + s->encr_key_len, &al);
	} else {
		if (s->encr) {
			memset(&al, 0, sizeof(al));
			snprintf(al.crypt.alg_name, sizeof(al.crypt.alg_name), "%s", s->encr->name);
			al.crypt.alg_key_len = (unsigned)(s->encr_key_len * 8);
			memcpy(al.crypt.alg_key, s->encr_key, s->encr_key_len);
			mnl_attr_put(nlh, XFRMA_ALG_CRYPT, sizeof(al.crypt) + s->encr_key_len, &al);
		}
		/* AH has only this one: the ICV over the packet (RFC 4302 §3.3.3) */

		memset(&al, 0, sizeof(al));
		snprintf(al.auth.alg_name, sizeof(al.auth.alg_name), "%s", s->integ->name);
		al.auth.alg_key_len = s->integ->key_len * 8u;
		al.auth.alg_trunc_len = s->integ->trunc_bits;
		memcpy(al.auth.alg_key, s->integ_key, s->integ->key_len);
		mnl_attr_put(nlh, XFRMA_ALG_AUTH_TRUNC, sizeof(al.auth) + s->integ->key_len, &al);
	}
	explicit_bzero(&al, sizeof(al));

	/*
	 * The bitmap replay state: a window of 128 needs it (the legacy
	 * replay_window field stops at 32), with or without ESN.
	 */
	struct xfrm_replay_state_esn rs;
	uint8_t replay[sizeof(rs) + REPLAY_BMP_WORDS * sizeof(uint32_t)];
	memset(&rs, 0, sizeof(rs));
	memset(replay, 0, sizeof(replay));
	rs.bmp_len = REPLAY_BMP_WORDS;
	rs.replay_window = REPLAY_WINDOW;
	memcpy(replay, &rs, sizeof(rs));
	mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, sizeof(replay), replay);

	if (s->encap && !s->ah) {
		struct xfrm_encap_tmpl enc;
		memset(&enc, 0, sizeof(enc));
		enc.encap_type = UDP_ENCAP_ESPINUDP;
		enc.encap_sport = htons(s->src->port);
		enc.encap_dport = htons(s->dst->port);
		mnl_attr_put(nlh, XFRMA_ENCAP, sizeof(enc), &enc);
	}
}

static int sa_add(struct xnl *n, const struct sa_spec *s)
{
	char buf[REQ_SIZE];
	build_newsa(buf, s);
	int rc = xnl_talk(n, (struct nlmsghdr *)buf, NULL, NULL);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

static struct nlmsghdr *build_sa_id(char *buf, uint16_t type, int af, const xfrm_address_t *daddr,
                                    const xfrm_address_t *saddr, uint32_t spi_be, uint8_t proto,
                                    const struct xfrm_mark *mark)
{
	struct nlmsghdr *nlh = req_start(buf, type, 0);
	struct xfrm_usersa_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	id->daddr = *daddr;
	id->spi = spi_be;
	id->family = (uint16_t)af;
	id->proto = proto;
	mnl_attr_put(nlh, XFRMA_SRCADDR, sizeof(*saddr), saddr);
	if (mark && (mark->v || mark->m))
		mnl_attr_put(nlh, XFRMA_MARK, sizeof(*mark), mark);
	return nlh;
}

static uint8_t ipproto(bool ah)
{
	return ah ? IPPROTO_AH : IPPROTO_ESP;
}

/* Deletes the ESP (or AH) SA (dst, spi); 0 also when it is gone already. */
static int sa_del(struct xnl *n, const struct keel_addr *src, const struct keel_addr *dst,
                  uint32_t spi, bool ah)
{
	char buf[REQ_SIZE];
	xfrm_address_t d, s;
	to_xaddr(dst, &d);
	to_xaddr(src, &s);
	int rc = xnl_talk(n,
	                  build_sa_id(buf, XFRM_MSG_DELSA, keel_xfrm_af(dst->family), &d, &s,
	                              htonl(spi), ipproto(ah), NULL),
	                  NULL, NULL);
	return rc == -ESRCH || rc == -ENOENT ? 0 : rc;
}

struct sa_read {
	bool found;
	struct xfrm_lifetime_cur cur;
	struct xfrm_stats stats;
};

static int sa_read_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sa_read *r = data;
	if (nlh->nlmsg_type != XFRM_MSG_NEWSA ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct xfrm_usersa_info))
		return MNL_CB_OK;
	const struct xfrm_usersa_info *sa = mnl_nlmsg_get_payload(nlh);
	r->found = true;
	r->cur = sa->curlft;
	r->stats = sa->stats;
	return MNL_CB_OK;
}

static int sa_get(struct xnl *n, const struct keel_addr *src, const struct keel_addr *dst,
                  uint32_t spi, bool ah, struct sa_read *out)
{
	char buf[REQ_SIZE];
	xfrm_address_t d, s;
	to_xaddr(dst, &d);
	to_xaddr(src, &s);
	memset(out, 0, sizeof(*out));
	int rc = xnl_talk(n,
	                  build_sa_id(buf, XFRM_MSG_GETSA, keel_xfrm_af(dst->family), &d, &s,
	                              htonl(spi), ipproto(ah), NULL),
	                  sa_read_cb, out);
	if ((rc == 0 && !out->found) || rc == -ESRCH)
		rc = -ENOENT;
	return rc;
}

static const uint8_t zero_key[64 + 4];

/* Adds the probe SA (trying a few SPIs) and deletes it again. 0 or -errno. */
static int probe_once(struct xnl *n, struct sa_spec *s)
{
	int rc = -EEXIST;
	for (int k = 0; k < 8 && rc == -EEXIST; k++) {
		s->spi = KEEL_XFRM_REQID_MAGIC |
		         (((uint32_t)getpid() + (uint32_t)k * 7919u) & 0xffffffu);
		rc = sa_add(n, s);
	}
	if (rc == 0)
		sa_del(n, s->src, s->dst, s->spi, s->ah);
	return rc;
}

/*
 * The algorithm is looked up before the ESP type, so a kernel without ESP
 * says "no such algorithm" first: ask again with AES-CBC + HMAC-SHA2-256,
 * which every ESP kernel has, on loopback. -EPROTONOSUPPORT means no ESP.
 * With ah, the same for AH (ah4/ah6) with HMAC-SHA2-256 alone.
 */
static int esp_baseline(struct xnl *n, enum keel_af family, bool ah)
{
	struct keel_addr lo = {.family = family};
	if (family == KEEL_AF_INET6)
		lo.bytes[15] = 1;
	else
		memcpy(lo.bytes, (const uint8_t[]){127, 0, 0, 1}, 4);
	struct sa_spec base = {
	    .kreqid = keel_xfrm_reqid_make(0, 0),
	    .src = &lo,
	    .dst = &lo,
	    .ah = ah,
	    .encr = ah ? NULL : encr_find(12),
	    .encr_key = zero_key,
	    .encr_key_len = ah ? 0 : 16,
	    .integ = integ_find(12),
	    .integ_key = zero_key,
	};
	return probe_once(n, &base);
}

/* ---------------------------------------------------------------------- */
/* Policies                                                                */

struct pol {
	struct xfrm_selector sel;
	uint32_t priority;
	uint8_t dir;
	bool present;
};

static const char *dir_name(uint8_t dir)
{
	return dir == XFRM_POLICY_OUT ? "out" : dir == XFRM_POLICY_IN ? "in" : "fwd";
}

static void sel_describe(const struct xfrm_selector *s, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	snprintf(buf, cap, "%s/%u -> %s/%u", addr_text(s->family, &s->saddr, a, sizeof(a)),
	         s->prefixlen_s, addr_text(s->family, &s->daddr, b, sizeof(b)), s->prefixlen_d);
}

static int pol_add(struct xnl *n, const struct pol *p, uint32_t kreqid, bool ah,
                   const struct keel_addr *tsrc, const struct keel_addr *tdst)
{
	char buf[REQ_SIZE];
	struct nlmsghdr *nlh = req_start(buf, XFRM_MSG_NEWPOLICY, NLM_F_CREATE | NLM_F_EXCL);
	struct xfrm_userpolicy_info *pi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pi));
	struct xfrm_user_tmpl t;

	pi->sel = p->sel;
	put_lifetime_inf(&pi->lft);
	pi->priority = p->priority;
	pi->dir = p->dir;
	pi->action = XFRM_POLICY_ALLOW;
	pi->share = XFRM_SHARE_ANY;

	memset(&t, 0, sizeof(t));
	to_xaddr(tdst, &t.id.daddr);
	to_xaddr(tsrc, &t.saddr);
	t.id.proto = ipproto(ah);
	t.family = (uint16_t)keel_xfrm_af(tsrc->family);
	t.reqid = kreqid;
	t.mode = XFRM_MODE_TUNNEL;
	t.share = XFRM_SHARE_ANY;
	t.aalgos = t.ealgos = t.calgos = ~0u;
	mnl_attr_put(nlh, XFRMA_TMPL, sizeof(t), &t);
	return xnl_talk(n, nlh, NULL, NULL);
}

static int pol_del(struct xnl *n, const struct pol *p)
{
	char buf[REQ_SIZE];
	struct nlmsghdr *nlh = req_start(buf, XFRM_MSG_DELPOLICY, 0);
	struct xfrm_userpolicy_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	id->sel = p->sel;
	id->dir = p->dir;
	int rc = xnl_talk(n, nlh, NULL, NULL);
	return rc == -ENOENT || rc == -ESRCH ? 0 : rc;
}

/* ---------------------------------------------------------------------- */
/* The context                                                             */

struct pair {
	uint32_t child_id;
	uint32_t reqid;
	bool ah; /* AH SAs, not ESP */
	uint32_t spi_in;
	uint32_t spi_out;
	struct keel_addr local;
	struct keel_addr remote;
	bool in_present;
	bool out_present;
	bool out_retired;
	struct sa_read out_final; /* the outbound SA's counters when it was retired */
	/* keel_xfrm_install_inbound_first(): the outbound SA kept back until pair
	 * pending_for goes (or keel_xfrm_activate()) */
	uint32_t pending_for;
	struct pending_out *out_pending;
};

/* An outbound SA not yet added, with copies of its keys (wiped when dropped). */
struct pending_out {
	struct sa_spec spec; /* src, dst: set from the pair when it is added */
	uint8_t encr_key[64 + 4];
	uint8_t integ_key[64];
};

static void pending_drop(struct pair *p)
{
	if (p->out_pending) {
		explicit_bzero(p->out_pending, sizeof(*p->out_pending));
		free(p->out_pending);
	}
	p->out_pending = NULL;
	p->pending_for = 0;
}

struct tunnel {
	uint32_t reqid; /* the engine's */
	struct pol *pols;
	size_t n_pols;
};

struct keel_xfrm {
	struct xnl nl;
	int lock_fd;
	uint32_t instance;
	struct pair *pairs;
	size_t n_pairs;
	size_t cap_pairs;
	struct tunnel *tunnels;
	size_t n_tunnels;
	size_t cap_tunnels;
	char err[ERR_CAP];
};

#define LOCK_NAME "keel-xfrm-%u"

/* Binds the abstract unix socket of instance; the fd, or -errno (-EADDRINUSE: held). */
static int instance_bind(uint32_t instance)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	int len = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, LOCK_NAME, instance);
	if (bind(fd, (struct sockaddr *)&sa,
	         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int keel_xfrm_open(struct keel_xfrm **out, char *reason, size_t reason_cap)
{
	struct keel_xfrm *x = calloc(1, sizeof(*x));
	int rc;

	if (!x) {
		set_msg(reason, reason_cap, "out of memory");
		return -ENOMEM;
	}
	x->lock_fd = -1;
	rc = xnl_open(&x->nl);
	if (rc < 0) {
		set_os_msg(reason, reason_cap, "opening XFRM netlink", rc, OP_OPEN, NULL);
		goto fail;
	}
	uint32_t first = (uint32_t)getpid() % KEEL_XFRM_INSTANCE_MAX;
	rc = -EADDRINUSE;
	for (uint32_t k = 0; k < KEEL_XFRM_INSTANCE_MAX; k++) {
		uint32_t inst = (first + k) % KEEL_XFRM_INSTANCE_MAX + 1;
		rc = instance_bind(inst);
		if (rc >= 0) {
			x->lock_fd = rc;
			x->instance = inst;
			break;
		}
		if (rc != -EADDRINUSE)
			break;
	}
	if (rc < 0) {
		if (rc == -EADDRINUSE)
			set_msg(reason, reason_cap,
			        "every Keel XFRM instance number (1..%u) is taken",
			        KEEL_XFRM_INSTANCE_MAX);
		else
			set_os_msg(reason, reason_cap, "claiming a Keel XFRM instance number", rc,
			           OP_OPEN, NULL);
		goto fail;
	}
	*out = x;
	return 0;
fail:
	keel_xfrm_free(x);
	return rc;
}

void keel_xfrm_free(struct keel_xfrm *x)
{
	if (!x)
		return;
	xnl_close(&x->nl);
	if (x->lock_fd >= 0)
		close(x->lock_fd);
	for (size_t i = 0; i < x->n_tunnels; i++)
		free(x->tunnels[i].pols);
	for (size_t i = 0; i < x->n_pairs; i++)
		pending_drop(&x->pairs[i]);
	free(x->tunnels);
	free(x->pairs);
	free(x);
}

const char *keel_xfrm_error(const struct keel_xfrm *x)
{
	return x->err;
}

uint32_t keel_xfrm_instance(const struct keel_xfrm *x)
{
	return x->instance;
}

size_t keel_xfrm_pairs(const struct keel_xfrm *x)
{
	return x->n_pairs;
}

static struct pair *pair_find(struct keel_xfrm *x, uint32_t child_id)
{
	for (size_t i = 0; i < x->n_pairs; i++)
		if (x->pairs[i].child_id == child_id)
			return &x->pairs[i];
	return NULL;
}

static struct tunnel *tunnel_find(struct keel_xfrm *x, uint32_t reqid)
{
	for (size_t i = 0; i < x->n_tunnels; i++)
		if (x->tunnels[i].reqid == reqid)
			return &x->tunnels[i];
	return NULL;
}

/* arr with room for n + 1 elements (reallocated as needed), or NULL (arr unchanged). */
static void *grow(void *arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return arr;
	size_t ncap = *cap ? *cap * 2 : 4;
	void *p = realloc(arr, ncap * elem);
	if (p)
		*cap = ncap;
	return p;
}

static bool addr_valid(const struct keel_addr *a)
{
	return a->family == KEEL_AF_INET || a->family == KEEL_AF_INET6;
}

/* The integrity algorithm of c and its keys; -EINVAL with x->err otherwise. */
static int integ_check(struct keel_xfrm *x, const struct keel_out_child_install *c,
                       const struct integ_alg **integ)
{
	*integ = integ_find(c->integ);
	if (!*integ) {
		set_msg(x->err, sizeof(x->err),
		        "child %u: integrity transform %u is not supported by the "
		        "kernel data path",
		        c->child_id, c->integ);
		return -EINVAL;
	}
	if (c->integ_key_len != (*integ)->key_len || !c->integ_key_in || !c->integ_key_out) {
		set_msg(x->err, sizeof(x->err), "child %u: %s key of %td bytes", c->child_id,
		        (*integ)->name, c->integ_key_len);
		return -EINVAL;
	}
	return 0;
}

/* Checks c and resolves its algorithms (encr NULL with AH); -EINVAL with x->err otherwise. */
static int install_check(struct keel_xfrm *x, const struct keel_out_child_install *c,
                         const struct encr_alg **encr, const struct integ_alg **integ)
{
	if (c->protocol != KEEL_PROTO_ESP && c->protocol != KEEL_PROTO_AH) {
		set_msg(x->err, sizeof(x->err), "child %u: protocol %u is neither ESP nor AH",
		        c->child_id, c->protocol);
		return -EINVAL;
	}
	/* RFC 4302 §3.3.3: AH covers the outer addresses; there is no AH in UDP */
	if (c->protocol == KEEL_PROTO_AH && c->encap) {
		set_msg(x->err, sizeof(x->err),
		        "child %u: AH cannot be encapsulated in UDP (it cannot cross a NAT)",
		        c->child_id);
		return -EINVAL;
	}
	if (c->child_id == 0 || c->reqid == 0 || c->reqid > KEEL_XFRM_CHILD_REQID_MAX) {
		set_msg(x->err, sizeof(x->err),
		        "child %u: reqid %u out of range 1..%u (or child id 0)", c->child_id,
		        c->reqid, KEEL_XFRM_CHILD_REQID_MAX);
		return -EINVAL;
	}
	/* RFC 4303 §2.1: SPIs 1..255 are reserved, 0 means none */
	if (c->spi_in < 256 || c->spi_out < 256) {
		set_msg(x->err, sizeof(x->err), "child %u: SPI 0x%x/0x%x is reserved", c->child_id,
		        c->spi_in, c->spi_out);
		return -EINVAL;
	}
	if (!addr_valid(&c->local) || c->local.family != c->remote.family) {
		set_msg(x->err, sizeof(x->err),
		        "child %u: tunnel endpoints of no or different families", c->child_id);
		return -EINVAL;
	}
	if (c->encap && (c->local.port == 0 || c->remote.port == 0)) {
		set_msg(x->err, sizeof(x->err), "child %u: UDP encapsulation without ports",
		        c->child_id);
		return -EINVAL;
	}
	if ((c->n_ts_local && !c->ts_local) || (c->n_ts_remote && !c->ts_remote)) {
		set_msg(x->err, sizeof(x->err), "child %u: traffic selector list missing",
		        c->child_id);
		return -EINVAL;
	}
	*encr = NULL;
	*integ = NULL;
	if (c->protocol == KEEL_PROTO_AH) {
		if (c->encr != 0 || c->encr_key_len != 0) {
			set_msg(x->err, sizeof(x->err), "child %u: AH with encryption transform %u",
			        c->child_id, c->encr);
			return -EINVAL;
		}
		return integ_check(x, c, integ);
	}
	*encr = encr_find(c->encr);
	if (!*encr) {
		set_msg(x->err, sizeof(x->err),
		        "child %u: encryption transform %u is not supported by "
		        "the kernel data path",
		        c->child_id, c->encr);
		return -EINVAL;
	}
	size_t klen = encr_key_len(*encr, c->encr_key_bits);
	if (klen == 0 || c->encr_key_len < 0 ||
	    (size_t)c->encr_key_len != klen + (*encr)->salt_len || !c->encr_key_in ||
	    !c->encr_key_out) {
		set_msg(x->err, sizeof(x->err), "child %u: %s key of %td bytes for %u bits",
		        c->child_id, (*encr)->name, c->encr_key_len, c->encr_key_bits);
		return -EINVAL;
	}
	if ((*encr)->aead) {
		if (c->integ != 0) {
			set_msg(x->err, sizeof(x->err),
			        "child %u: integrity transform %u with AEAD %s", c->child_id,
			        c->integ, (*encr)->name);
			return -EINVAL;
		}
		return 0;
	}
	return integ_check(x, c, integ);
}

/* Deletes the policies of t that are present; first error kept. */
static int tunnel_del_policies(struct keel_xfrm *x, struct tunnel *t)
{
	int first = 0;
	/* out first: traffic stops going into a tunnel that is going away */
	static const uint8_t order[] = {XFRM_POLICY_OUT, XFRM_POLICY_IN, XFRM_POLICY_FWD};
	for (size_t o = 0; o < sizeof(order); o++)
		for (size_t i = 0; i < t->n_pols; i++) {
			struct pol *p = &t->pols[i];
			if (!p->present || p->dir != order[o])
				continue;
			int rc = pol_del(&x->nl, p);
			if (rc == 0) {
				p->present = false;
			} else if (first == 0) {
				char what[160], sel[120];
				sel_describe(&p->sel, sel, sizeof(sel));
				snprintf(what, sizeof(what), "deleting the %s policy %s",
				         dir_name(p->dir), sel);
				set_os_msg(x->err, sizeof(x->err), what, rc, OP_DELETE, x->nl.ext);
				first = rc;
			}
		}
	return first;
}

static void tunnel_drop(struct keel_xfrm *x, struct tunnel *t)
{
	free(t->pols);
	*t = x->tunnels[--x->n_tunnels];
}

static int retire_out(struct keel_xfrm *x, struct pair *p)
{
	/* keep its final counters for keel_xfrm_stats() */
	if (sa_get(&x->nl, &p->local, &p->remote, p->spi_out, p->ah, &p->out_final) < 0)
		memset(&p->out_final, 0, sizeof(p->out_final));
	int rc = sa_del(&x->nl, &p->local, &p->remote, p->spi_out, p->ah);
	if (rc == 0) {
		p->out_present = false;
		p->out_retired = true;
	}
	return rc;
}

static struct pending_out *pending_new(const struct sa_spec *outsa,
                                       const struct keel_out_child_install *c)
{
	struct pending_out *po;
	if ((size_t)c->encr_key_len > sizeof(po->encr_key) ||
	    (size_t)c->integ_key_len > sizeof(po->integ_key) || !(po = calloc(1, sizeof(*po))))
		return NULL;
	po->spec = *outsa;
	if (outsa->encr_key) {
		memcpy(po->encr_key, outsa->encr_key, (size_t)c->encr_key_len);
		po->spec.encr_key = po->encr_key;
	}
	if (outsa->integ_key) {
		memcpy(po->integ_key, outsa->integ_key, (size_t)c->integ_key_len);
		po->spec.integ_key = po->integ_key;
	}
	po->spec.src = po->spec.dst = NULL;
	return po;
}

/* Adds p's kept-back outbound SA. */
static int activate_out(struct keel_xfrm *x, struct pair *p)
{
	char what[200];
	struct sa_spec *s = &p->out_pending->spec;
	s->src = &p->local;
	s->dst = &p->remote;
	int rc = sa_add(&x->nl, s);
	if (rc < 0) {
		sa_describe(s, "outbound", what, sizeof(what));
		set_os_msg(x->err, sizeof(x->err), what, rc, s->ah ? OP_SA_AH : OP_SA, x->nl.ext);
		return rc;
	}
	p->out_present = true;
	pending_drop(p);
	return 0;
}

static int install(struct keel_xfrm *x, const struct keel_out_child_install *c, bool out_later);

int keel_xfrm_install(struct keel_xfrm *x, const struct keel_out_child_install *c)
{
	return install(x, c, false);
}

int keel_xfrm_install_inbound_first(struct keel_xfrm *x, const struct keel_out_child_install *c)
{
	struct pair *old = c->rekeyed_child_id ? pair_find(x, c->rekeyed_child_id) : NULL;
	/* nothing to wait for without an outbound SA in use that this one replaces */
	return install(x, c, old && old->out_present && old->reqid == c->reqid);
}

int keel_xfrm_activate(struct keel_xfrm *x, uint32_t child_id)
{
	struct pair *p = pair_find(x, child_id);
	if (!p || !p->out_pending)
		return p ? 0 : -ENOENT;
	uint32_t old_id = p->pending_for;
	int rc = activate_out(x, p);
	if (rc < 0)
		return rc;
	struct pair *old = pair_find(x, old_id);
	if (old && old->out_present)
		retire_out(x, old); /* if this fails, keel_xfrm_remove() retries */
	return 0;
}

static int install(struct keel_xfrm *x, const struct keel_out_child_install *c, bool out_later)
{
	const struct encr_alg *encr;
	const struct integ_alg *integ;
	struct keel_xfrm_sel *sels = NULL;
	size_t n_sels = 0;
	uint32_t kreqid;
	char what[200];
	int rc;

	rc = install_check(x, c, &encr, &integ);
	if (rc < 0)
		return rc;
	if (pair_find(x, c->child_id)) {
		set_msg(x->err, sizeof(x->err), "child %u is installed already", c->child_id);
		return -EEXIST;
	}
	kreqid = keel_xfrm_reqid_make(x->instance, c->reqid);
	struct tunnel *t = tunnel_find(x, c->reqid);
	if (!t) {
		rc = keel_xfrm_ts_selectors(c->ts_local, c->n_ts_local, c->ts_remote,
		                            c->n_ts_remote, &sels, &n_sels, x->err, sizeof(x->err));
		if (rc < 0)
			return rc;
	}
	/* room first: after the kernel has the SAs, nothing may fail for memory */
	struct pair *pairs = grow(x->pairs, &x->cap_pairs, x->n_pairs, sizeof(*x->pairs));
	if (pairs)
		x->pairs = pairs;
	bool room = pairs != NULL;
	if (!t) {
		struct tunnel *tunnels =
		    grow(x->tunnels, &x->cap_tunnels, x->n_tunnels, sizeof(*x->tunnels));
		if (tunnels)
			x->tunnels = tunnels;
		room = room && tunnels;
	}
	if (!room) {
		free(sels);
		set_msg(x->err, sizeof(x->err), "out of memory");
		return -ENOMEM;
	}
	struct pol *pols = NULL;
	if (!t) {
		pols = calloc(n_sels * 3, sizeof(*pols));
		if (!pols) {
			free(sels);
			set_msg(x->err, sizeof(x->err), "out of memory");
			return -ENOMEM;
		}
	}

	struct sa_spec in = {
	    .spi = c->spi_in,
	    .kreqid = kreqid,
	    .src = &c->remote,
	    .dst = &c->local,
	    .ah = c->protocol == KEEL_PROTO_AH,
	    .encr = encr,
	    .encr_key = c->encr_key_in,
	    .encr_key_len = (size_t)c->encr_key_len,
	    .integ = integ,
	    .integ_key = c->integ_key_in,
	    .esn = c->esn,
	    .encap = c->encap && c->protocol != KEEL_PROTO_AH,
	    .hard_life_s = c->hard_life_s,
	};
	struct sa_spec outsa = in;
	outsa.spi = c->spi_out;
	outsa.src = &c->local;
	outsa.dst = &c->remote;
	outsa.encr_key = c->encr_key_out;
	outsa.integ_key = c->integ_key_out;

	rc = sa_add(&x->nl, &in);
	if (rc < 0) {
		char ext[EXT_CAP];
		memcpy(ext, x->nl.ext, sizeof(ext));
		if ((rc == -ENOSYS || rc == -ENOENT) &&
		    esp_baseline(&x->nl, c->local.family, in.ah) == -EPROTONOSUPPORT) {
			rc = -EPROTONOSUPPORT;
			memcpy(ext, x->nl.ext, sizeof(ext));
		}
		sa_describe(&in, "inbound", what, sizeof(what));
		set_os_msg(x->err, sizeof(x->err), what, rc, in.ah ? OP_SA_AH : OP_SA, ext);
		goto fail;
	}
	struct pending_out *po = NULL;
	if (out_later && !(po = pending_new(&outsa, c))) {
		set_msg(x->err, sizeof(x->err), "out of memory");
		rc = -ENOMEM;
	} else if (!out_later) {
		rc = sa_add(&x->nl, &outsa);
		if (rc < 0) {
			sa_describe(&outsa, "outbound", what, sizeof(what));
			set_os_msg(x->err, sizeof(x->err), what, rc, in.ah ? OP_SA_AH : OP_SA,
			           x->nl.ext);
		}
	}
	if (rc < 0) {
		sa_del(&x->nl, &c->remote, &c->local, c->spi_in, in.ah);
		goto fail;
	}

	struct tunnel nt = {.reqid = c->reqid, .pols = pols, .n_pols = 0};
	if (!t) {
		/* in and fwd before out: inbound is accepted before anything is sent */
		for (size_t i = 0; i < n_sels; i++) {
			pols[nt.n_pols++] =
			    (struct pol){sels[i].in, sels[i].priority, XFRM_POLICY_IN, false};
			pols[nt.n_pols++] =
			    (struct pol){sels[i].in, sels[i].priority, XFRM_POLICY_FWD, false};
		}
		for (size_t i = 0; i < n_sels; i++)
			pols[nt.n_pols++] =
			    (struct pol){sels[i].out, sels[i].priority, XFRM_POLICY_OUT, false};
		for (size_t i = 0; i < nt.n_pols; i++) {
			struct pol *p = &pols[i];
			bool out = p->dir == XFRM_POLICY_OUT;
			rc = pol_add(&x->nl, p, kreqid, in.ah, out ? &c->local : &c->remote,
			             out ? &c->remote : &c->local);
			if (rc < 0) {
				char sel[120];
				sel_describe(&p->sel, sel, sizeof(sel));
				snprintf(what, sizeof(what), "adding the %s policy %s (child %u)",
				         dir_name(p->dir), sel, c->child_id);
				set_os_msg(x->err, sizeof(x->err), what, rc, OP_POLICY, x->nl.ext);
				char keep[ERR_CAP];
				memcpy(keep, x->err, sizeof(keep));
				tunnel_del_policies(x, &nt);
				memcpy(x->err, keep, sizeof(keep));
				sa_del(&x->nl, &c->local, &c->remote, c->spi_out, in.ah);
				sa_del(&x->nl, &c->remote, &c->local, c->spi_in, in.ah);
				goto fail;
			}
			p->present = true;
		}
		x->tunnels[x->n_tunnels++] = nt;
		pols = NULL;
	}

	x->pairs[x->n_pairs++] = (struct pair){
	    .child_id = c->child_id,
	    .reqid = c->reqid,
	    .ah = in.ah,
	    .spi_in = c->spi_in,
	    .spi_out = c->spi_out,
	    .local = c->local,
	    .remote = c->remote,
	    .in_present = true,
	    .out_present = !out_later,
	    .pending_for = out_later ? c->rekeyed_child_id : 0,
	    .out_pending = po,
	};
	free(sels);

	/* make-before-break: outbound moves to the new pair now (see xfrm.h) */
	if (c->rekeyed_child_id && !out_later) {
		struct pair *old = pair_find(x, c->rekeyed_child_id);
		if (old && old->out_present && old->reqid == c->reqid)
			retire_out(x, old); /* if this fails, keel_xfrm_remove() retries */
	}
	return 0;

fail:
	free(pols);
	free(sels);
	return rc;
}

/* Removes pair i (its SAs; its tunnel's policies if it was the last). */
static int pair_remove(struct keel_xfrm *x, size_t i)
{
	struct pair *p = &x->pairs[i];
	char what[120];
	int first = 0, rc;

	if (p->in_present) {
		rc = sa_del(&x->nl, &p->remote, &p->local, p->spi_in, p->ah);
		if (rc == 0) {
			p->in_present = false;
		} else {
			snprintf(what, sizeof(what), "deleting the inbound SA 0x%08x", p->spi_in);
			set_os_msg(x->err, sizeof(x->err), what, rc, OP_DELETE, x->nl.ext);
			first = rc;
		}
	}
	if (p->out_present) {
		rc = sa_del(&x->nl, &p->local, &p->remote, p->spi_out, p->ah);
		if (rc == 0) {
			p->out_present = false;
		} else if (first == 0) {
			snprintf(what, sizeof(what), "deleting the outbound SA 0x%08x", p->spi_out);
			set_os_msg(x->err, sizeof(x->err), what, rc, OP_DELETE, x->nl.ext);
			first = rc;
		}
	}
	if (p->in_present || p->out_present)
		return first;

	pending_drop(p);
	uint32_t reqid = p->reqid;
	x->pairs[i] = x->pairs[--x->n_pairs];
	for (size_t k = 0; k < x->n_pairs; k++)
		if (x->pairs[k].reqid == reqid)
			return first; /* policies stay for the other pair */
	struct tunnel *t = tunnel_find(x, reqid);
	if (!t)
		return first;
	rc = tunnel_del_policies(x, t);
	if (rc < 0)
		return first ? first : rc;
	tunnel_drop(x, t);
	return first;
}

int keel_xfrm_remove(struct keel_xfrm *x, const struct keel_out_child_remove *c)
{
	/* pairs waiting for this one to go get their outbound SA first */
	for (size_t i = 0; i < x->n_pairs; i++)
		if (x->pairs[i].out_pending && x->pairs[i].pending_for == c->child_id)
			activate_out(x, &x->pairs[i]); /* on failure: no outbound; said in err */
	for (size_t i = 0; i < x->n_pairs; i++)
		if (x->pairs[i].child_id == c->child_id)
			return pair_remove(x, i);
	set_msg(x->err, sizeof(x->err), "child %u is not installed", c->child_id);
	return -ENOENT;
}

int keel_xfrm_remove_all(struct keel_xfrm *x)
{
	int first = 0;
	char keep[ERR_CAP] = "";

	for (size_t i = x->n_pairs; i-- > 0;) {
		int rc = pair_remove(x, i);
		if (rc < 0 && first == 0) {
			first = rc;
			memcpy(keep, x->err, sizeof(keep));
		}
	}
	/* tunnels whose pairs went earlier but whose policies did not */
	for (size_t i = x->n_tunnels; i-- > 0;) {
		int rc = tunnel_del_policies(x, &x->tunnels[i]);
		if (rc == 0)
			tunnel_drop(x, &x->tunnels[i]);
		else if (first == 0) {
			first = rc;
			memcpy(keep, x->err, sizeof(keep));
		}
	}
	if (first)
		memcpy(x->err, keep, sizeof(keep));
	return first;
}

int keel_xfrm_stats(struct keel_xfrm *x, uint32_t child_id, struct keel_xfrm_stats *out)
{
	struct pair *p = pair_find(x, child_id);
	struct sa_read in, o;
	char what[80];
	int rc;

	if (!p || !p->in_present) {
		set_msg(x->err, sizeof(x->err), "child %u is not installed", child_id);
		return -ENOENT;
	}
	rc = sa_get(&x->nl, &p->remote, &p->local, p->spi_in, p->ah, &in);
	if (rc < 0) {
		snprintf(what, sizeof(what), "reading the inbound SA 0x%08x", p->spi_in);
		set_os_msg(x->err, sizeof(x->err), what, rc, OP_READ, x->nl.ext);
		return rc;
	}
	if (p->out_present) {
		rc = sa_get(&x->nl, &p->local, &p->remote, p->spi_out, p->ah, &o);
		if (rc < 0) {
			snprintf(what, sizeof(what), "reading the outbound SA 0x%08x", p->spi_out);
			set_os_msg(x->err, sizeof(x->err), what, rc, OP_READ, x->nl.ext);
			return rc;
		}
	} else {
		o = p->out_final;
	}
	*out = (struct keel_xfrm_stats){
	    .in_bytes = in.cur.bytes,
	    .in_packets = in.cur.packets,
	    .out_bytes = o.cur.bytes,
	    .out_packets = o.cur.packets,
	    .in_replay_drops = in.stats.replay + in.stats.replay_window,
	    .in_integrity_failures = in.stats.integrity_failed,
	    .in_last_use_s = in.cur.use_time,
	    .out_last_use_s = o.cur.use_time,
	    .out_retired = p->out_retired,
	};
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Census and stale cleanup                                                */

struct dumped_sa {
	xfrm_address_t daddr;
	xfrm_address_t saddr;
	uint32_t spi_be;
	uint16_t family;
	uint8_t proto;
	uint32_t reqid;
	struct xfrm_mark mark;
};

struct dumped_pol {
	uint32_t index;
	uint8_t dir;
	uint8_t type;
	bool keel;
	uint32_t reqid; /* the first Keel-marked template reqid */
	struct xfrm_mark mark;
	uint32_t if_id;
	bool has_if_id;
};

struct dump {
	struct dumped_sa *sas;
	size_t n_sas, cap_sas;
	struct dumped_pol *pols;
	size_t n_pols, cap_pols;
	bool nomem;
};

struct attrs {
	const struct nlattr *tb[XFRMA_MAX + 1];
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct attrs *at = data;
	uint16_t type = mnl_attr_get_type(a);
	if (type <= XFRMA_MAX)
		at->tb[type] = a;
	return MNL_CB_OK;
}

static int dump_sa_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	struct attrs at;

	if (nlh->nlmsg_type != XFRM_MSG_NEWSA ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct xfrm_usersa_info))
		return MNL_CB_OK;
	const struct xfrm_usersa_info *sa = mnl_nlmsg_get_payload(nlh);
	memset(&at, 0, sizeof(at));
	mnl_attr_parse(nlh, sizeof(*sa), attr_cb, &at);
	void *grown = grow(d->sas, &d->cap_sas, d->n_sas, sizeof(*d->sas));
	if (!grown) {
		d->nomem = true;
		return MNL_CB_OK;
	}
	d->sas = grown;
	struct dumped_sa *e = &d->sas[d->n_sas++];
	memset(e, 0, sizeof(*e));
	e->daddr = sa->id.daddr;
	e->saddr = sa->saddr;
	e->spi_be = sa->id.spi;
	e->family = sa->family;
	e->proto = sa->id.proto;
	e->reqid = sa->reqid;
	if (at.tb[XFRMA_MARK] && mnl_attr_get_payload_len(at.tb[XFRMA_MARK]) >= sizeof(e->mark))
		memcpy(&e->mark, mnl_attr_get_payload(at.tb[XFRMA_MARK]), sizeof(e->mark));
	return MNL_CB_OK;
}

static int dump_pol_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	struct attrs at;

	if (nlh->nlmsg_type != XFRM_MSG_NEWPOLICY ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct xfrm_userpolicy_info))
		return MNL_CB_OK;
	const struct xfrm_userpolicy_info *pi = mnl_nlmsg_get_payload(nlh);
	memset(&at, 0, sizeof(at));
	mnl_attr_parse(nlh, sizeof(*pi), attr_cb, &at);
	void *grown = grow(d->pols, &d->cap_pols, d->n_pols, sizeof(*d->pols));
	if (!grown) {
		d->nomem = true;
		return MNL_CB_OK;
	}
	d->pols = grown;
	struct dumped_pol *e = &d->pols[d->n_pols++];
	memset(e, 0, sizeof(*e));
	e->index = pi->index;
	e->dir = pi->dir;
	e->type = XFRM_POLICY_TYPE_MAIN;
	if (at.tb[XFRMA_TMPL]) {
		size_t len = mnl_attr_get_payload_len(at.tb[XFRMA_TMPL]);
		const uint8_t *p = mnl_attr_get_payload(at.tb[XFRMA_TMPL]);
		for (size_t off = 0; off + sizeof(struct xfrm_user_tmpl) <= len;
		     off += sizeof(struct xfrm_user_tmpl)) {
			struct xfrm_user_tmpl t;
			memcpy(&t, p + off, sizeof(t));
			if (keel_xfrm_reqid_is_keel(t.reqid)) {
				e->keel = true;
				e->reqid = t.reqid;
				break;
			}
		}
	}
	if (at.tb[XFRMA_MARK] && mnl_attr_get_payload_len(at.tb[XFRMA_MARK]) >= sizeof(e->mark))
		memcpy(&e->mark, mnl_attr_get_payload(at.tb[XFRMA_MARK]), sizeof(e->mark));
	if (at.tb[XFRMA_IF_ID] && mnl_attr_get_payload_len(at.tb[XFRMA_IF_ID]) >= 4) {
		e->if_id = mnl_attr_get_u32(at.tb[XFRMA_IF_ID]);
		e->has_if_id = true;
	}
	if (at.tb[XFRMA_POLICY_TYPE] && mnl_attr_get_payload_len(at.tb[XFRMA_POLICY_TYPE]) >=
	                                    sizeof(struct xfrm_userpolicy_type)) {
		const struct xfrm_userpolicy_type *ut =
		    mnl_attr_get_payload(at.tb[XFRMA_POLICY_TYPE]);
		e->type = ut->type;
	}
	return MNL_CB_OK;
}

static void dump_free(struct dump *d)
{
	free(d->sas);
	free(d->pols);
}

static int dump_all(struct keel_xfrm *x, struct dump *d)
{
	char buf[REQ_SIZE];
	int rc;

	memset(d, 0, sizeof(*d));
	req_start(buf, XFRM_MSG_GETSA, NLM_F_DUMP);
	rc = xnl_talk(&x->nl, (struct nlmsghdr *)buf, dump_sa_cb, d);
	if (rc < 0) {
		set_os_msg(x->err, sizeof(x->err), "listing the kernel's SAs", rc, OP_READ,
		           x->nl.ext);
		return rc;
	}
	req_start(buf, XFRM_MSG_GETPOLICY, NLM_F_DUMP);
	rc = xnl_talk(&x->nl, (struct nlmsghdr *)buf, dump_pol_cb, d);
	if (rc < 0) {
		set_os_msg(x->err, sizeof(x->err), "listing the kernel's policies", rc, OP_READ,
		           x->nl.ext);
		return rc;
	}
	if (d->nomem) {
		set_msg(x->err, sizeof(x->err), "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/*
 * Who owns a Keel reqid. While a struct liveness is held, the names of the
 * instances found dead stay bound by us, so no new Keel can claim one of
 * them between the check and the deletion.
 */
enum owner {
	OWNER_OWN,
	OWNER_LIVE,
	OWNER_STALE,
};

struct liveness {
	int8_t state[KEEL_XFRM_INSTANCE_MAX + 1]; /* 0 unknown, 1 live, 2 dead */
	int fds[KEEL_XFRM_INSTANCE_MAX + 1];
};

static enum owner owner_of(const struct keel_xfrm *x, struct liveness *l, uint32_t kreqid)
{
	uint32_t inst = keel_xfrm_reqid_instance(kreqid);
	if (inst == x->instance)
		return OWNER_OWN;
	if (inst == 0)
		return OWNER_STALE; /* the probe's: never held */
	if (l->state[inst] == 0) {
		int fd = instance_bind(inst);
		l->state[inst] = fd >= 0 ? 2 : 1;
		l->fds[inst] = fd;
	}
	return l->state[inst] == 2 ? OWNER_STALE : OWNER_LIVE;
}

static void liveness_release(struct liveness *l)
{
	for (size_t i = 0; i <= KEEL_XFRM_INSTANCE_MAX; i++)
		if (l->state[i] == 2 && l->fds[i] >= 0)
			close(l->fds[i]);
	free(l);
}

int keel_xfrm_census(struct keel_xfrm *x, struct keel_xfrm_census *out)
{
	struct dump d;
	struct keel_xfrm_census c;
	struct liveness *l = calloc(1, sizeof(*l));
	int rc;

	if (!l) {
		set_msg(x->err, sizeof(x->err), "out of memory");
		return -ENOMEM;
	}
	rc = dump_all(x, &d);
	if (rc < 0)
		goto out;
	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < d.n_sas; i++) {
		if (!keel_xfrm_reqid_is_keel(d.sas[i].reqid)) {
			c.sa_other++;
			continue;
		}
		switch (owner_of(x, l, d.sas[i].reqid)) {
		case OWNER_OWN:
			c.sa_own++;
			break;
		case OWNER_LIVE:
			c.sa_live++;
			break;
		case OWNER_STALE:
			c.sa_stale++;
			break;
		}
	}
	for (size_t i = 0; i < d.n_pols; i++) {
		if (!d.pols[i].keel) {
			c.pol_other++;
			continue;
		}
		switch (owner_of(x, l, d.pols[i].reqid)) {
		case OWNER_OWN:
			c.pol_own++;
			break;
		case OWNER_LIVE:
			c.pol_live++;
			break;
		case OWNER_STALE:
			c.pol_stale++;
			break;
		}
	}
	*out = c;
out:
	dump_free(&d);
	liveness_release(l);
	return rc;
}

int keel_xfrm_clean_stale(struct keel_xfrm *x, unsigned *n_sa, unsigned *n_pol)
{
	struct dump d;
	struct liveness *l = calloc(1, sizeof(*l));
	unsigned sas = 0, pols = 0;
	char buf[REQ_SIZE];
	int rc, first = 0;

	if (!l) {
		set_msg(x->err, sizeof(x->err), "out of memory");
		return -ENOMEM;
	}
	rc = dump_all(x, &d);
	if (rc < 0) {
		first = rc;
		goto out;
	}
	/* policies first, so no traffic is sent towards SAs about to go */
	for (size_t i = 0; i < d.n_pols; i++) {
		struct dumped_pol *p = &d.pols[i];
		if (!p->keel || owner_of(x, l, p->reqid) != OWNER_STALE)
			continue;
		struct nlmsghdr *nlh = req_start(buf, XFRM_MSG_DELPOLICY, 0);
		struct xfrm_userpolicy_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
		id->index = p->index;
		id->dir = p->dir;
		if (p->mark.v || p->mark.m)
			mnl_attr_put(nlh, XFRMA_MARK, sizeof(p->mark), &p->mark);
		if (p->has_if_id)
			mnl_attr_put_u32(nlh, XFRMA_IF_ID, p->if_id);
		if (p->type != XFRM_POLICY_TYPE_MAIN) {
			struct xfrm_userpolicy_type ut = {.type = p->type};
			mnl_attr_put(nlh, XFRMA_POLICY_TYPE, sizeof(ut), &ut);
		}
		rc = xnl_talk(&x->nl, nlh, NULL, NULL);
		if (rc == 0) {
			pols++;
		} else if (rc != -ENOENT && rc != -ESRCH && first == 0) {
			char what[80];
			snprintf(what, sizeof(what), "deleting a stale Keel %s policy (index %u)",
			         dir_name(p->dir), p->index);
			set_os_msg(x->err, sizeof(x->err), what, rc, OP_DELETE, x->nl.ext);
			first = rc;
		}
	}
	for (size_t i = 0; i < d.n_sas; i++) {
		struct dumped_sa *s = &d.sas[i];
		if (!keel_xfrm_reqid_is_keel(s->reqid) || owner_of(x, l, s->reqid) != OWNER_STALE)
			continue;
		struct nlmsghdr *nlh = build_sa_id(buf, XFRM_MSG_DELSA, s->family, &s->daddr,
		                                   &s->saddr, s->spi_be, s->proto, &s->mark);
		rc = xnl_talk(&x->nl, nlh, NULL, NULL);
		if (rc == 0) {
			sas++;
		} else if (rc != -ENOENT && rc != -ESRCH && first == 0) {
			char what[80];
			snprintf(what, sizeof(what), "deleting a stale Keel SA 0x%08x",
			         ntohl(s->spi_be));
			set_os_msg(x->err, sizeof(x->err), what, rc, OP_DELETE, x->nl.ext);
			first = rc;
		}
	}
out:
	dump_free(&d);
	liveness_release(l);
	if (n_sa)
		*n_sa = sas;
	if (n_pol)
		*n_pol = pols;
	return first;
}

/* ---------------------------------------------------------------------- */
/* The probe                                                               */

int keel_xfrm_probe(const struct keel_xfrm_algs *algs, char *reason, size_t reason_cap)
{
	enum keel_af fam = algs->family == KEEL_AF_UNSPEC ? KEEL_AF_INET : algs->family;
	const char *fam_name = fam == KEEL_AF_INET6 ? "IPv6" : "IPv4";
	struct keel_addr lo = {.family = fam, .port = 4500};
	const struct encr_alg *encr = algs->ah ? NULL : encr_find(algs->encr);
	const struct integ_alg *integ = NULL;
	enum op op = algs->ah ? OP_SA_AH : OP_SA;
	struct xnl n = {0};
	char what[200];
	int rc;

	if (fam == KEEL_AF_INET6)
		lo.bytes[15] = 1;
	else if (fam == KEEL_AF_INET)
		memcpy(lo.bytes, (const uint8_t[]){127, 0, 0, 1}, 4);
	else {
		set_msg(reason, reason_cap, "unknown address family %d", (int)algs->family);
		return -EINVAL;
	}
	if (algs->ah && (algs->encr || algs->encap)) {
		set_msg(reason, reason_cap,
		        "AH takes no encryption transform and no UDP "
		        "encapsulation");
		return -EINVAL;
	}
	if (!algs->ah && (!encr || encr_key_len(encr, algs->encr_key_bits) == 0)) {
		set_msg(reason, reason_cap,
		        "encryption transform %u with %u-bit keys is not supported by "
		        "the kernel data path",
		        algs->encr, algs->encr_key_bits);
		return -EINVAL;
	}
	if (!encr || !encr->aead) {
		integ = integ_find(algs->integ);
		if (!integ) {
			set_msg(reason, reason_cap,
			        "integrity transform %u is not supported by the kernel "
			        "data path",
			        algs->integ);
			return -EINVAL;
		}
	} else if (algs->integ) {
		set_msg(reason, reason_cap, "an integrity transform with AEAD %s", encr->name);
		return -EINVAL;
	}

	rc = xnl_open(&n);
	if (rc < 0) {
		set_os_msg(reason, reason_cap, "XFRM netlink", rc, OP_OPEN, NULL);
		return rc;
	}
	struct sa_spec s = {
	    .kreqid = keel_xfrm_reqid_make(0, 0),
	    .src = &lo,
	    .dst = &lo,
	    .ah = algs->ah,
	    .encr = encr,
	    .encr_key = zero_key,
	    .encr_key_len = encr ? encr_key_len(encr, algs->encr_key_bits) + encr->salt_len : 0,
	    .integ = integ,
	    .integ_key = zero_key,
	    .esn = algs->esn,
	    .encap = algs->encap,
	};
	sa_describe(&s, "test", what, sizeof(what));

	rc = probe_once(&n, &s);
	if (rc == 0) {
		set_msg(reason, reason_cap, "the kernel takes %s over %s with %s%s%s%s%s",
		        algs->ah ? "AH" : "ESP", fam_name, encr ? encr->name : "",
		        integ && encr ? " + " : "", integ ? integ->name : "",
		        algs->esn ? ", ESN" : "", algs->encap ? ", in UDP" : "");
		goto out;
	}
	if (rc == -ENOSYS || rc == -ENOENT) {
		/* "no ESP at all" or "no such algorithm"? */
		char ext[EXT_CAP];
		memcpy(ext, n.ext, sizeof(ext));
		int rc2 = esp_baseline(&n, fam, algs->ah);
		if (rc2 == -EPROTONOSUPPORT || rc2 == -EPERM) {
			rc = rc2;
			set_os_msg(reason, reason_cap, what, rc, op, n.ext);
		} else {
			char alg[160];
			snprintf(alg, sizeof(alg), "%s%s%s%s", encr ? encr->name : "",
			         integ && encr ? " + " : "", integ ? integ->name : "",
			         algs->esn ? " with ESN" : "");
			rc = -ENOSYS;
			if (ext[0])
				set_msg(reason, reason_cap,
				        "%s: the kernel lacks %s (a crypto module is "
				        "missing) (kernel: %s)",
				        what, alg, ext);
			else
				set_msg(reason, reason_cap,
				        "%s: the kernel lacks %s (a crypto module is "
				        "missing)",
				        what, alg);
		}
		goto out;
	}
	set_os_msg(reason, reason_cap, what, rc, op, n.ext);
out:
	xnl_close(&n);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Sockets                                                                 */

int keel_xfrm_udp_encap(int fd)
{
	int type = UDP_ENCAP_ESPINUDP;
	if (setsockopt(fd, IPPROTO_UDP, UDP_ENCAP, &type, sizeof(type)) < 0)
		return -errno;
	return 0;
}

int keel_xfrm_socket_bypass(int fd, int family)
{
	struct xfrm_userpolicy_info pol;
	int level, opt;

	if (family == AF_INET) {
		level = IPPROTO_IP;
		opt = IP_XFRM_POLICY;
	} else if (family == AF_INET6) {
		level = IPPROTO_IPV6;
		opt = IPV6_XFRM_POLICY;
	} else {
		return -EAFNOSUPPORT;
	}
	for (int dir = XFRM_POLICY_IN; dir <= XFRM_POLICY_OUT; dir++) {
		memset(&pol, 0, sizeof(pol));
		put_lifetime_inf(&pol.lft);
		pol.action = XFRM_POLICY_ALLOW;
		pol.sel.family = (uint16_t)family;
		pol.dir = (uint8_t)dir;
		if (setsockopt(fd, level, opt, &pol, sizeof(pol)) < 0)
			return -errno;
	}
	return 0;
}
