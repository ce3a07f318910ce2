/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inside struct keel_v1sa: the phase 1 SAs (the current one, and a new one
 * while it replaces the current), the exchanges under them (keyed by
 * message ID, each with its CBC IV chain, RFC 2409 Appendix B), our one
 * outstanding retransmitted request, the queue of exchanges waiting for it,
 * the tunnels and CHILD SAs, and the prototypes the ikev1/ files share.
 */
#ifndef KEEL_IKEV1_SA_H
#define KEEL_IKEV1_SA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/ike.h>
#include <keel/secret.h>

#include "crypto/cipher.h"
#include "crypto/dh.h"
#include "crypto/kdf.h"
#include "ikev1/ikev1.h"
#include "ikev2/auth.h"
#include "util/outq.h"
#include "wire/isakmp.h"

#define V1_LOG_LINE_MAX   KEEL_OUTQ_LINE_MAX
#define V1_NONCE_LEN      32 /* RFC 2409 §5: 8..256 bytes; 32 as for IKEv2 */
#define V1_BLOCK_LEN      16 /* AES, the only phase 1 cipher Keel offers */
#define V1_MSG_MAX        65535
#define V1_MAX_P1_XFORMS  64
#define V1_MAX_ESP_XFORMS 64
#define V1_MAX_CHILDREN   16
#define V1_MAX_XCHG       12 /* exchanges remembered per phase 1 SA (IVs, replays) */
#define V1_MAX_PENDING    16
#define V1_MAX_DNS        8
#define V1_MAX_SPLIT      32
#define V1_MAX_FRAGS      16
#define V1_TEXT_MAX       256 /* default domain, banner */

#define V1_NS_PER_MS 1000000ull
#define V1_NS_PER_S  1000000000ull

static inline void keel_v1_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t keel_v1_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One phase 1 transform in IKEv1 attribute values (RFC 2409 Appendix A). */
struct v1_p1_xform {
	uint16_t encr;     /* KEEL_V1_ENCR_AES_CBC */
	uint16_t key_bits; /* Key Length */
	uint16_t hash;     /* enum keel_v1_ike_hash */
	uint16_t group;    /* Group Description */
	uint16_t auth;     /* PSK or XAUTH_INIT_PSK */
	uint32_t life_s;   /* 0: no lifetime attribute */
};

/* One ESP transform in IPsec DOI values (RFC 2407 §4.4.4, §4.5). */
struct v1_esp_xform {
	uint8_t esp_id; /* enum keel_v1_esp_id */
	uint16_t key_bits;
	uint16_t auth_alg; /* enum keel_v1_ipsec_auth; 0 with AEAD */
	bool esn;
};

/* A negotiated ESP SA in Keel's IKEv2 numbering, as CHILD_INSTALL reports it. */
struct v1_algs {
	uint16_t encr; /* IKEv2 transform type 1 ID */
	uint16_t encr_key_bits;
	uint16_t integ; /* IKEv2 transform type 3 ID, 0 with AEAD */
	bool esn;
	uint16_t group; /* PFS group of the quick mode that made it, 0: none */
};

/* Where one exchange under a phase 1 SA stands: its IV and what to resend. */
struct v1_xchg {
	bool used;
	uint32_t msg_id;
	uint8_t exchange;
	uint64_t stamp; /* least recently used goes first */
	uint8_t iv[V1_BLOCK_LEN];
	bool closed;      /* finished: another message under this ID is a replay */
	uint8_t *last_rx; /* the peer's last datagram in it, to spot retransmissions */
	size_t last_rx_len;
	uint8_t *last_tx; /* our answer to it, resent when it comes again */
	size_t last_tx_len;
};

enum p1_step {
	P1_IDLE = 0,
	P1_MM1,     /* Main Mode message 1 sent, waiting for 2 */
	P1_MM3,     /* message 3 sent, waiting for 4 */
	P1_MM5,     /* message 5 (HASH_I) sent, waiting for 6 */
	P1_AM1,     /* Aggressive Mode message 1 sent, waiting for 2 */
	P1_XAUTH,   /* authenticated; the gateway runs XAUTH */
	P1_MODECFG, /* XAUTH done or skipped; Mode Config under way */
	P1_READY,   /* usable: quick modes, informational exchanges */
};

/* One ISAKMP SA. */
struct v1_p1 {
	uint8_t cky_i[KEEL_V1_COOKIE_LEN];
	uint8_t cky_r[KEEL_V1_COOKIE_LEN];
	enum p1_step step;
	bool aggressive;
	bool first; /* the connection's first phase 1 */

	/* what was negotiated */
	struct v1_p1_xform xf;
	enum keel_prf_alg prf;
	bool keyed; /* SKEYID_* known: messages can be protected */
	struct keel_ikev1_keys keys;
	struct keel_cipher *enc;
	struct keel_cipher *dec;
	uint8_t iv[V1_BLOCK_LEN];      /* phase 1 CBC chain (message ID 0) */
	uint8_t p1_last[V1_BLOCK_LEN]; /* last CBC block of phase 1: phase 2 IVs come from it */
	bool p1_last_set;

	/* exchange material of phase 1 */
	struct keel_dh *dh;
	uint8_t nonce_i[V1_NONCE_LEN];
	uint8_t nonce_r[256];
	size_t nonce_r_len;
	uint8_t *sai_b; /* our SA payload body (SAi_b) */
	size_t sai_b_len;
	uint8_t *g_xi; /* the KE payload bodies */
	size_t g_xi_len;
	uint8_t *g_xr;
	size_t g_xr_len;
	uint8_t idii_b[4 + KEEL_ID_MAX_LEN];
	size_t idii_b_len;

	/* the gateway's Vendor IDs */
	bool peer_xauth, peer_dpd, peer_unity, peer_frag;
	uint8_t natd_type; /* KEEL_V1_PL_NAT_D (RFC 3947), _DRAFT, or 0: no NAT-T */

	/* the gateway's last phase 1 message and our answer to it */
	uint8_t *last_rx;
	size_t last_rx_len;
	uint8_t *last_tx;
	size_t last_tx_len;

	/* after phase 1 */
	bool xauth_replied; /* we answered an XAUTH request */
	bool xauth_done;
	bool modecfg_done;
	uint64_t wait_ns;  /* the gateway must make its next move by then (0: not waiting) */
	uint64_t rekey_ns; /* start a new phase 1 then (0: never) */
	uint64_t expire_ns;
	uint32_t dpd_seq;       /* our last R-U-THERE sequence number (RFC 3706 §5.5) */
	uint32_t dpd_seq_first; /* the first one of the check under way */
	uint32_t peer_dpd_seq;
	bool peer_dpd_seen;

	struct v1_xchg x[V1_MAX_XCHG];
	uint64_t x_clock;
};

enum v1_child_state {
	V1_CHILD_FREE = 0,
	V1_CHILD_ACTIVE,
	V1_CHILD_REKEYING, /* our quick mode replacing it is under way */
	V1_CHILD_INBOUND,  /* the gateway's quick mode made it: installed inbound first
	                      at message 2, sending once message 3 comes */
};

/* A tunnel: one remote network asked for, one CHILD SA at a time (rekeys aside). */
struct v1_tunnel {
	struct keel_ts remote; /* as asked for */
	uint32_t reqid;
	uint32_t child_id; /* its current CHILD SA, 0: none */
};

struct v1_child {
	enum v1_child_state state;
	uint32_t id;
	uint32_t reqid;
	size_t tunnel;
	uint32_t spi_in;
	uint32_t spi_out;
	bool replaced; /* the gateway rekeyed it: it deletes this one soon */
	struct v1_algs alg;
	struct keel_ts id_l; /* the negotiated IDci and IDcr */
	struct keel_ts id_r;
	size_t n_ts_r; /* the remote selectors installed (Unity split-include narrowing) */
	struct keel_ts ts_r[KEEL_MAX_TS];
	uint64_t rekey_ns;
	uint64_t expire_ns;
};

/* One quick mode, ours or the gateway's. */
struct v1_qm {
	bool active;
	bool initiator; /* we sent message 1 */
	size_t tunnel;
	uint32_t rekey_child; /* the CHILD SA it replaces, 0: none */
	uint32_t msg_id;
	uint32_t spi_in;             /* ours */
	uint32_t spi_out;            /* the gateway's */
	uint8_t nonce[V1_NONCE_LEN]; /* ours */
	uint8_t peer_nonce[256];
	size_t peer_nonce_len;
	struct keel_dh *dh;
	struct keel_secret *g_qm;
	uint16_t group;
	struct keel_ts id_l, id_r;
	struct v1_algs alg;
	uint32_t life_s;
	bool commit;       /* the gateway set the commit bit (RFC 2408 §3.1) */
	uint32_t child_id; /* the gateway's: the pair installed at message 2 */
	uint64_t wait_ns;  /* the gateway's: its message 3 by then, or that pair goes */
};

enum v1_req_kind {
	V1_REQ_NONE = 0,
	V1_REQ_P1,      /* a phase 1 message (Main or Aggressive Mode) */
	V1_REQ_MODECFG, /* our Mode Config REQUEST */
	V1_REQ_QUICK,   /* quick mode message 1 */
	V1_REQ_DPD,     /* R-U-THERE */
};

/* Our one outstanding request: retransmitted until the answer comes. */
struct v1_req {
	enum v1_req_kind kind;
	struct v1_p1 *p1;
	uint32_t msg_id;
	uint8_t *msg;
	size_t msg_len;
	unsigned sent;
	uint64_t wait_ms;
	uint64_t next_ns;
};

enum v1_task_kind {
	V1_TASK_NONE = 0,
	V1_TASK_QUICK,    /* a new CHILD SA for a tunnel (child_id: the one it replaces) */
	V1_TASK_P1_REKEY, /* a new phase 1 */
	V1_TASK_DPD,
};

struct v1_pending {
	enum v1_task_kind kind;
	size_t tunnel;
	uint32_t child_id;
};

/* Fragments of one message being reassembled (Cisco-style, payload 132). */
struct v1_frag {
	uint16_t id;
	uint8_t n_last; /* number of the last fragment, 0: not seen yet */
	uint16_t have;  /* bitmap of fragments 1..16 */
	uint16_t len[V1_MAX_FRAGS];
	uint8_t *data[V1_MAX_FRAGS];
};

/* How phase 1 authenticates each side (RFC 2409 §5, the hybrid draft). */
enum v1_auth {
	V1_AUTH_PSK = 0, /* both: HASH_I / HASH_R keyed with the pre-shared key */
	V1_AUTH_SIG,     /* both: RSA or ECDSA signatures of HASH_I / HASH_R, RFC 2409 §5.1 */
	V1_AUTH_HYBRID,  /* we: HASH_I, then XAUTH; the gateway: SIG_R */
};

struct keel_v1sa {
	struct keel_config cfg;     /* psk NULL: the copy is psk below */
	enum v1_auth auth;          /* how phase 1 proves each side */
	struct keel_creds creds;    /* SIG: our key and chain; SIG, HYBRID: the gateway's anchors */
	struct keel_v1_options opt; /* secrets NULL: the copies are below */
	const struct keel_env *env;
	struct keel_secret *psk;
	struct keel_secret *xauth_user;
	struct keel_secret *xauth_pass;

	/* our offers, flattened */
	size_t n_p1x;
	struct v1_p1_xform p1x[V1_MAX_P1_XFORMS];
	uint8_t child_proto; /* KEEL_V1_PROTO_ESP, or KEEL_V1_PROTO_AH with cfg.ah_proposals */
	size_t n_espx;
	struct v1_esp_xform espx[V1_MAX_ESP_XFORMS];
	uint8_t espx_prop[V1_MAX_ESP_XFORMS]; /* proposal number of each */

	enum keel_state state;
	bool started;
	bool finished;
	bool established;
	bool stopping;

	bool natt;       /* messages and ESP use the NAT-T ports */
	bool nat_local;  /* we are behind a NAT */
	bool nat_remote; /* the gateway is (or forces encapsulation) */
	bool natt_draft; /* NAT-T as the drafts: encapsulation mode 61443 */

	struct v1_p1 *p1;                  /* the current phase 1 SA */
	struct v1_p1 *p1_new;              /* a new one replacing it */
	unsigned auth_suspect;             /* undecryptable answers after HASH_I (wrong PSK?) */
	unsigned bad_hash_r;               /* Main Mode answers whose HASH_R did not verify */
	char bad_sig_why[V1_LOG_LINE_MAX]; /* ... or whose certificate or SIG_R did not */

	bool req_active;
	struct v1_req req;
	struct v1_qm qm;      /* our quick mode (with V1_REQ_QUICK) */
	struct v1_qm qm_peer; /* the gateway's quick mode */
	struct v1_pending pending[V1_MAX_PENDING];
	size_t n_pending;

	size_t n_tunnels;
	struct v1_tunnel tunnel[KEEL_MAX_TS];
	struct v1_child child[V1_MAX_CHILDREN];
	uint32_t next_child_id;

	uint64_t now_ns;
	uint64_t last_heard_ns;

	/* Mode Config */
	bool have_ip4, have_ip6;
	struct keel_prefix ip4, ip6;
	size_t n_dns;
	struct keel_addr dns[V1_MAX_DNS];
	size_t n_split;
	struct keel_prefix split[V1_MAX_SPLIT];
	char domain[V1_TEXT_MAX];
	char banner[V1_TEXT_MAX];
	bool netcfg_sent;

	struct v1_frag frag;

	struct keel_outq outq;

	/* the message being processed and scratch space, kept off the stack */
	const struct keel_dgram *dgram;
	struct keel_v1_msg rx;
	struct keel_v1_sa rx_sa;
	struct keel_v1_attrs attrs;
	bool rx_enc; /* rx was decrypted: commit the IV once it is verified */
	uint8_t rx_last_block[V1_BLOCK_LEN];
	uint8_t rx_plain[V1_MSG_MAX];
	uint8_t tx_buf[V1_MSG_MAX];
	uint8_t frag_buf[V1_MSG_MAX];
};

/* ---- out.c: outputs, log lines, states, text ---- */

struct keel_out *keel_v1sa_out_push(struct keel_v1sa *sa, enum keel_out_kind kind, size_t data_len,
                                    bool secret, uint8_t **data);
void keel_v1sa_out_clear(struct keel_v1sa *sa);
void keel_v1sa_out_release(struct keel_v1sa *sa);
void keel_v1sa_log(struct keel_v1sa *sa, enum keel_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void keel_v1sa_set_state(struct keel_v1sa *sa, enum keel_state state, enum keel_reason reason,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Address bytes of family as text (RFC 5952 for IPv6) into buf (cap > 0). */
void keel_v1_addr_text(enum keel_af family, const uint8_t *bytes, char *buf, size_t cap);
/* Peer bytes for a log line: printable ASCII stays, the rest (and \ ") as \xHH. */
void keel_v1_escape(const uint8_t *p, size_t len, char *buf, size_t cap);
void keel_v1_ts_text(const struct keel_ts *ts, size_t n, char *buf, size_t cap);

/* ---- sa.c: the SA core ---- */

int keel_v1sa_random(struct keel_v1sa *sa, void *buf, size_t len);
/* Ends the connection: FAILED with reason and text (CHILD SAs removed, tasks dropped). */
void keel_v1sa_fail(struct keel_v1sa *sa, enum keel_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* As keel_v1sa_fail(), after one DELETE of each authenticated phase 1 SA. */
void keel_v1sa_fail_delete(struct keel_v1sa *sa, enum keel_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void keel_v1sa_close(struct keel_v1sa *sa, enum keel_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Starts sa->req (filled in but kind/p1/msg_id): sends msg (taken) and schedules retransmission. */
int keel_v1sa_req_send(struct keel_v1sa *sa, uint8_t *msg, size_t len);
void keel_v1sa_req_done(struct keel_v1sa *sa);
void keel_v1sa_task_queue(struct keel_v1sa *sa, enum v1_task_kind kind, size_t tunnel,
                          uint32_t child_id);
/* Sends a datagram to the gateway on the current ports. */
int keel_v1sa_send(struct keel_v1sa *sa, const uint8_t *msg, size_t len);
/* How long, in ms, a request is retransmitted before we give up. */
uint64_t keel_v1sa_giveup_ms(const struct keel_v1sa *sa);
uint64_t keel_v1_add_ns(uint64_t a, uint64_t b);
/* Rekey (soft) time from now for a lifetime of life_s with the margins of lt. */
uint64_t keel_v1sa_rekey_at(struct keel_v1sa *sa, const struct keel_lifetime *lt, uint32_t life_s);
/* A phase 1 SA is ready (XAUTH and Mode Config done): go on with quick mode or a swap. */
void keel_v1sa_p1_ready(struct keel_v1sa *sa, struct v1_p1 *p1);
void keel_v1sa_p1_free(struct keel_v1sa *sa, struct v1_p1 *p1);
/* Copies bytes into a new heap buffer (*dst freed first). false on ENOMEM. */
bool keel_v1_dup(uint8_t **dst, size_t *dst_len, const uint8_t *src, size_t len);

/* ---- crypt.c: building, protecting and opening messages ---- */

enum v1_hash_kind {
	V1_HASH_NONE = 0,
	V1_HASH_1, /* prf(SKEYID_a, M-ID | payloads after HASH): QM 1, info, transaction */
	V1_HASH_2, /* prf(SKEYID_a, M-ID | Ni_b | payloads after HASH): QM 2 */
	V1_HASH_3, /* prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b): QM 3 */
};

struct v1_wr {
	struct keel_v1sa *sa;
	struct v1_p1 *p1;
	struct keel_wr w;
	struct keel_v1_enc e;
	uint32_t msg_id;
	bool encrypt;
	enum v1_hash_kind hash;
	ptrdiff_t hash_at;
	size_t hash_len;
	const uint8_t *n_i, *n_r; /* for HASH(2), HASH(3) */
	size_t n_i_len, n_r_len;
};

/*
 * Begins a message in sa->tx_buf. encrypt: under p1's keys (the IV of
 * msg_id's exchange). hash: a HASH payload goes first and is filled in by
 * keel_v1_wr_end().
 */
void keel_v1_wr_begin(struct keel_v1sa *sa, struct v1_wr *mw, struct v1_p1 *p1, uint8_t exchange,
                      uint32_t msg_id, bool encrypt, enum v1_hash_kind hash);
/* Ends it (hash, padding, encryption, the IV moves on); a malloc'd copy in *out. */
int keel_v1_wr_end(struct v1_wr *mw, uint8_t **out, size_t *len);

/* The exchange with msg_id under p1, or NULL. create: make it (IV from phase 1). */
struct v1_xchg *keel_v1_xchg(struct keel_v1sa *sa, struct v1_p1 *p1, uint32_t msg_id,
                             uint8_t exchange, bool create);
void keel_v1_xchg_clear(struct v1_xchg *x);
/* A fresh message ID (non-zero, not in use under p1). */
int keel_v1_new_msg_id(struct keel_v1sa *sa, struct v1_p1 *p1, uint32_t *out);

/*
 * Opens sa->dgram's message (already header-decoded into sa->rx) under p1:
 * decrypts with the IV of its exchange into sa->rx_plain and decodes the
 * payload chain; does not commit the IV (keel_v1_rx_commit()).
 * KEEL_ERR_MALFORMED, KEEL_ERR_STATE (no keys).
 */
int keel_v1_rx_open(struct keel_v1sa *sa, struct v1_p1 *p1);
/* The message passed its HASH: its last CBC block becomes the exchange's IV. */
void keel_v1_rx_commit(struct keel_v1sa *sa, struct v1_p1 *p1);
/* Checks sa->rx's leading HASH payload of the given kind. KEEL_ERR_AUTH / _MALFORMED. */
int keel_v1_rx_hash(struct keel_v1sa *sa, struct v1_p1 *p1, enum v1_hash_kind kind,
                    const uint8_t *n_i, size_t n_i_len, const uint8_t *n_r, size_t n_r_len);
/* Sets up p1's ciphers from keys.encr_key. */
int keel_v1_p1_ciphers(struct v1_p1 *p1);

/* ---- proposal.c ---- */

int keel_v1_offer_build(struct keel_v1sa *sa);
void keel_v1_enc_p1_sa(struct keel_v1sa *sa, struct keel_v1_enc *e);
/*
 * Checks the gateway's phase 1 SA payload against our offer; on success
 * p1->xf (with the lower lifetime) and p1->prf are set.
 */
int keel_v1_p1_choice(struct keel_v1sa *sa, struct v1_p1 *p1, const struct keel_v1_payload *pl);
/* Our quick mode SA payload: spi, PFS group (0: none), encapsulation mode, lifetime. */
void keel_v1_enc_esp_sa(struct keel_v1sa *sa, struct keel_v1_enc *e, uint32_t spi, uint16_t group);
/*
 * The gateway's answer to our quick mode SA: one proposal, one transform we
 * offered. Sets q->alg, q->life_s (the lower), q->spi_out.
 */
int keel_v1_esp_choice(struct keel_v1sa *sa, struct v1_qm *q, const struct keel_v1_payload *pl);
/*
 * Chooses from the gateway's quick mode offer (as responder): fills q->alg,
 * q->life_s, q->spi_out, q->group, and the chosen proposal/transform numbers.
 */
int keel_v1_esp_select(struct keel_v1sa *sa, struct v1_qm *q, const struct keel_v1_payload *pl,
                       uint8_t *prop_no, uint8_t *xf_no, uint16_t *encap);
/* Our answer: one proposal with the chosen transform. */
void keel_v1_enc_esp_chosen(struct keel_v1sa *sa, struct keel_v1_enc *e, const struct v1_qm *q,
                            uint8_t prop_no, uint8_t xf_no, uint16_t encap);
/* "aes256-sha256-modp2048, ..." of what we offer in phase 1 / quick mode. */
void keel_v1_offer_text(const struct keel_v1sa *sa, bool esp, char *buf, size_t cap);
void keel_v1_p1_xform_text(const struct v1_p1_xform *x, char *buf, size_t cap);
void keel_v1_algs_text(const struct v1_algs *a, char *buf, size_t cap);
enum keel_prf_alg keel_v1_hash_prf(uint16_t hash);
/* Key lengths of an ESP SA: encryption (with salt) and integrity. */
int keel_v1_algs_key_lens(const struct v1_algs *a, ptrdiff_t *encr_len, ptrdiff_t *integ_len);
/* Attribute list from a RESPONDER-LIFETIME notify: the seconds, 0 if none. */
uint32_t keel_v1_lifetime_attrs(const uint8_t *p, size_t len, bool ike);

/* ---- auth.c: certificates and signatures in phase 1 ---- */

/* The inputs of HASH_I / HASH_R (RFC 2409 §5) from p1's exchange. */
struct keel_ikev1_auth_params keel_v1_auth_params(const struct v1_p1 *p1);
/* The phase 1 authentication method of our offers (RFC 2409 App. A, XAUTH and hybrid drafts). */
uint16_t keel_v1_auth_method(const struct keel_v1sa *sa);
/* Loads the credentials sa->auth needs (cfg's pointers are borrowed). Errors as keel_v1sa_new(). */
int keel_v1_creds_load(struct keel_v1sa *sa, const struct keel_config *cfg);
/* Before phase 1 starts: 0, or our key has no method here (an ECDSA key with XAUTH):
 * the SA failed with the reason, KEEL_ERR_UNSUPPORTED. */
int keel_v1_auth_ready(struct keel_v1sa *sa);
/* CERT_REQUEST payloads naming our CAs (RFC 2408 §3.10); none with a PSK. */
void keel_v1_add_certreq(struct keel_v1sa *sa, struct keel_v1_enc *e);
/* Our proof after IDii: HASH_I (PSK, hybrid) or CERTs and SIG_I (RFC 2409 §5.1). */
int keel_v1_add_proof(struct keel_v1sa *sa, struct v1_p1 *p1, struct keel_v1_enc *e);
/*
 * The gateway's proof in sa->rx for its identity payload idr: HASH_R (PSK),
 * or CERTs and SIG_R, verified with its certificate after the chain and
 * identity checks. 0: authenticated, *gw the identity as text.
 * KEEL_ERR_AUTH: a HASH_R that does not verify, or in Main Mode a SIG_R or
 * a damaged certificate (the SA is not failed: perhaps damaged on the way),
 * or a certificate, identity or Aggressive Mode signature refused (the SA is
 * failed, saying why: sa->finished). KEEL_ERR_MALFORMED: a payload missing.
 */
int keel_v1_check_proof(struct keel_v1sa *sa, struct v1_p1 *p1, const struct keel_v1_payload *idr,
                        char *gw, size_t cap);

/* ---- task-phase1.c ---- */

int keel_v1_p1_start(struct keel_v1sa *sa, bool first);
/* The gateway's answer to our phase 1 message (sa->rx decoded, cleartext or not). */
int keel_v1_p1_process(struct keel_v1sa *sa, struct v1_p1 *p1);
/* An error notify in clear during phase 1. */
void keel_v1_p1_notify_failure(struct keel_v1sa *sa, struct v1_p1 *p1, uint16_t type);
const char *keel_v1_p1_step_name(enum p1_step s);

/* ---- task-xauth.c, task-modecfg.c: transaction exchanges ---- */

/* A transaction exchange message from the gateway (sa->rx opened, HASH verified). */
int keel_v1_transaction(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_xchg *x);
int keel_v1_modecfg_start(struct keel_v1sa *sa, struct v1_p1 *p1);
/* After XAUTH (or phase 1 when there is none): Mode Config, or ready. */
int keel_v1_after_xauth(struct keel_v1sa *sa, struct v1_p1 *p1);
/* The gateway's REPLY to our REQUEST, or its SET (answered with an ACK in x). */
int keel_v1_modecfg_reply(struct keel_v1sa *sa, struct v1_p1 *p1, const struct keel_v1_cfg *cfg,
                          struct v1_xchg *x);

/* ---- task-quick.c ---- */

int keel_v1_quick_start(struct keel_v1sa *sa, size_t tunnel, uint32_t rekey_child);
/* The gateway's message 2 of our quick mode. */
int keel_v1_quick_process(struct keel_v1sa *sa, struct v1_p1 *p1);
/* The gateway's quick mode (message 1: x NULL, or 3). */
int keel_v1_quick_respond(struct keel_v1sa *sa, struct v1_p1 *p1, struct v1_xchg *x);
/* The gateway refused our quick mode with this error notify. */
void keel_v1_quick_refused(struct keel_v1sa *sa, uint16_t type);
/*
 * The gateway's quick mode ends without its message 3 (why: for the log):
 * the pair installed inbound first at message 2 is removed.
 */
void keel_v1_quick_peer_drop(struct keel_v1sa *sa, const char *why);
/* The gateway deletes the pair its quick mode replaces: it has the new pair. */
void keel_v1_quick_peer_replaced(struct keel_v1sa *sa, struct v1_child *old);
void keel_v1_qm_clear(struct v1_qm *q);
struct v1_child *keel_v1_child_find(struct keel_v1sa *sa, uint32_t id);
struct v1_child *keel_v1_child_by_spi_in(struct keel_v1sa *sa, uint32_t spi);
struct v1_child *keel_v1_child_by_spi_out(struct keel_v1sa *sa, uint32_t spi);
size_t keel_v1_child_count(const struct keel_v1sa *sa);
void keel_v1_child_remove(struct keel_v1sa *sa, struct v1_child *c, enum keel_reason reason);
int keel_v1_new_spi(struct keel_v1sa *sa, uint32_t *spi);
void keel_v1_netcfg_emit(struct keel_v1sa *sa, const struct v1_child *c);

/* ---- task-info.c ---- */

/* An informational exchange from the gateway (opened; HASH checked inside). */
int keel_v1_info(struct keel_v1sa *sa, struct v1_p1 *p1);
/* One informational message under p1 with a notify (spi_len bytes of spi) or deletes. */
int keel_v1_info_notify(struct keel_v1sa *sa, struct v1_p1 *p1, uint8_t protocol,
                        const uint8_t *spi, size_t spi_len, uint16_t type, const uint8_t *data,
                        size_t data_len);
int keel_v1_info_delete_esp(struct keel_v1sa *sa, struct v1_p1 *p1, const uint32_t *spis, size_t n);
int keel_v1_info_delete_p1(struct keel_v1sa *sa, struct v1_p1 *p1);
int keel_v1_dpd_start(struct keel_v1sa *sa);
/* Our R-U-THERE again, as a new exchange (a retransmission). */
int keel_v1_dpd_resend(struct keel_v1sa *sa);

#endif
