/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inside struct keel_sa: the IKE SA generations, CHILD SAs, the one
 * outstanding request (window size 1, RFC 7296 §2.3), the queue of tasks
 * waiting for it, and the prototypes the ikev2/ files share.
 */
#ifndef KEEL_IKEV2_SA_H
#define KEEL_IKEV2_SA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/ike.h>
#include <keel/secret.h>

#include "crypto/dh.h"
#include "crypto/kdf.h"
#include "ikev2/auth.h"
#include "ikev2/keys.h"
#include "ikev2/sk.h"
#include "util/outq.h"
#include "wire/ikev2.h"

#define KEEL_LOG_LINE_MAX   KEEL_OUTQ_LINE_MAX
#define KEEL_NONCE_LEN      32 /* RFC 7296 §2.10: at least half the PRF key size */
#define KEEL_MAX_CHILDREN   8
#define KEEL_MAX_IKE_SAS    3 /* current, the one being replaced, a colliding rekey's */
#define KEEL_MAX_PENDING    8
#define KEEL_MAX_DNS        8
#define KEEL_MAX_ROUTES     64
#define KEEL_MSG_MAX        65535
#define KEEL_MAX_COOKIES    3
#define KEEL_FRAG_MAX       128  /* fragments of one received message (RFC 7383 §2.6) */
#define KEEL_CERTREQ_MAX    4000 /* bytes of the gateway's CERTREQ data kept (200 CAs) */
#define KEEL_MAX_EAP_ROUNDS 16   /* IKE_AUTH exchanges carrying EAP */

/* keel_msg_open(): a fragment was stored, the message is not complete yet */
#define KEEL_MSG_PENDING 1

/* One IKE SA: the first one, or one made by a rekey (RFC 7296 §2.18). */
struct ike_sa {
	bool initiator; /* we are the original initiator of THIS IKE SA */
	uint64_t spi_i;
	uint64_t spi_r;
	struct keel_algs alg;
	struct keel_ike_keyset ks;
	bool keyed;
	bool deleting;        /* replaced or being deleted: no new requests on it */
	uint32_t next_req_id; /* message ID of our next request */
	uint32_t peer_req_id; /* message ID the peer's next request must have */
	/* our answer to the peer's last request, resent if it asks again (§2.1) */
	uint8_t *resp;
	size_t resp_len;
	uint32_t resp_id;
	/* the lower nonce of the exchange that made it, for rekey collisions (§2.8.2) */
	uint8_t nonce_min[KEEL_V2_NONCE_MAX_LEN];
	size_t nonce_min_len;
};

enum child_state {
	CHILD_FREE = 0,
	CHILD_ACTIVE,   /* installed */
	CHILD_REKEYING, /* our CREATE_CHILD_SA rekey of it is in flight */
	CHILD_REKEYED,  /* replaced; waits for its DELETE */
	CHILD_DELETING, /* our DELETE of it is in flight */
};

struct child_sa {
	enum child_state state;
	uint32_t id;
	uint32_t reqid;
	uint32_t spi_in;
	uint32_t spi_out;
	struct keel_algs alg;
	size_t n_ts_l, n_ts_r;
	struct keel_ts ts_l[KEEL_MAX_TS];
	struct keel_ts ts_r[KEEL_MAX_TS];
	uint64_t rekey_ns;  /* soft lifetime: rekey then (0: never) */
	uint64_t expire_ns; /* hard lifetime (0: never) */
	/*
	 * Rekey collision (RFC 7296 §2.8.1): the peer rekeyed this SA while our
	 * rekey was in flight. peer_child is what its exchange made, peer_nonce_min
	 * the lower of that exchange's two nonces.
	 */
	uint32_t peer_child;
	uint8_t peer_nonce_min[KEEL_V2_NONCE_MAX_LEN];
	size_t peer_nonce_min_len;
};

enum task_kind {
	TASK_NONE = 0,
	TASK_IKE_INIT,
	TASK_IKE_AUTH,
	TASK_CHILD_REKEY,
	TASK_IKE_REKEY,
	TASK_DPD,
	TASK_CHILD_DELETE,
	TASK_IKE_DELETE,
};

/* A queued task: what to ask once the window is free. */
struct pending {
	enum task_kind kind;
	uint32_t child_id;
	struct ike_sa *ike; /* TASK_IKE_DELETE: which SA (NULL: the current one) */
};

/* Our one outstanding request and the state of its exchange. */
struct request {
	enum task_kind kind;
	struct ike_sa *ike; /* the IKE SA it travels on */
	uint8_t exchange;
	uint32_t msg_id;
	uint8_t *msg; /* as sent: retransmitted verbatim (§2.1) */
	size_t msg_len;
	unsigned sent;          /* transmissions so far */
	uint64_t wait_ms;       /* the current wait */
	uint64_t next_ns;       /* next retransmission, or give-up after the last */
	uint64_t hard_limit_ns; /* give up at this time at the latest (0: no limit) */
	/* exchange state */
	uint32_t child_id;
	uint32_t reqid; /* CHILD rekey: the tunnel's reqid, kept by the new SA */
	struct keel_dh *dh;
	uint16_t dh_group;
	uint8_t nonce[KEEL_NONCE_LEN];
	uint32_t new_spi;      /* CHILD rekey: our inbound SPI for the new SA */
	uint64_t new_ike_spi;  /* IKE rekey: our new SPI */
	struct ike_sa *target; /* TASK_IKE_DELETE: the SA being deleted */
};

/* What IKE_SA_INIT leaves for IKE_AUTH. */
struct init_state {
	struct keel_dh *dh;
	uint16_t dh_group;
	uint16_t tried_groups[KEEL_PROPOSAL_MAX_ALGS * KEEL_MAX_PROPOSALS];
	size_t n_tried;
	uint8_t nonce_i[KEEL_NONCE_LEN];
	uint8_t nonce_r[KEEL_V2_NONCE_MAX_LEN];
	size_t nonce_r_len;
	uint8_t cookie[64];
	size_t cookie_len;
	unsigned cookies; /* COOKIE answers so far, to stop a loop */
	uint8_t *msg1;    /* our IKE_SA_INIT request as last sent (RealMessage1) */
	size_t msg1_len;
	uint8_t *msg2; /* the responder's IKE_SA_INIT response (RealMessage2) */
	size_t msg2_len;
	uint32_t child_spi_in;
	uint8_t idi_body[4 + KEEL_ID_MAX_LEN]; /* our ID payload body, for AUTH */
	size_t idi_len;
	uint8_t *certreq; /* the gateway's CERTREQ data (SHA-1 key hashes, RFC 7296 §3.7) */
	size_t certreq_len;
};

/* Where IKE_AUTH stands: one exchange, or several with EAP (RFC 7296 §2.16). */
enum auth_stage {
	AUTH_FIRST = 0, /* our IDi (and AUTH unless EAP) is out */
	AUTH_EAP,       /* EAP messages go back and forth */
	AUTH_FINAL,     /* EAP succeeded, our AUTH from its key is out */
};

struct keel_eap;

struct auth_state {
	enum auth_stage stage;
	bool eap_only; /* the gateway took EAP-only authentication (RFC 5998) */
	struct keel_eap *eap;
	unsigned eap_rounds;
	uint8_t asked;                         /* the EAP method the gateway last asked for */
	uint8_t idr_body[4 + KEEL_ID_MAX_LEN]; /* the gateway's ID payload body, for its AUTH */
	size_t idr_len;
	char peer[256]; /* the gateway's identity as text */
};

/* Reassembly of one fragmented message (RFC 7383 §2.6). */
struct frag_rx {
	bool active;
	struct ike_sa *ike;
	uint32_t msg_id;
	bool response;
	uint8_t exchange;
	uint16_t total;
	uint16_t n_have;
	uint8_t first_type; /* from fragment 1 */
	size_t used;
	uint32_t off[KEEL_FRAG_MAX + 1]; /* by fragment number */
	uint32_t len[KEEL_FRAG_MAX + 1];
	bool have[KEEL_FRAG_MAX + 1];
	uint8_t *buf; /* KEEL_MSG_MAX bytes of decrypted fragments, wiped */
};

/* A peer's IKE rekey that collided with ours (RFC 7296 §2.8.2). */
struct ike_collision {
	struct ike_sa *peer_new; /* the IKE SA the peer's exchange made */
};

/* What one received, authenticated message holds: the payloads to read. */
struct rx {
	struct keel_v2_msg outer;
	struct keel_v2_chain inner;
	const struct keel_v2_chain *c; /* outer.chain (IKE_SA_INIT) or inner */
	struct ike_sa *ike;
	const struct keel_dgram *dgram;
	bool authentic;      /* the ICV verified (even if what is inside did not parse) */
	uint8_t unsupported; /* an unknown critical inner payload, RFC 7296 §2.5 */
};

struct keel_v1sa;

struct keel_sa {
	struct keel_v1sa *v1;   /* ike_version 1: every call goes there, nothing else is used */
	struct keel_config cfg; /* no pointers: the copies are psk and creds below */
	/* CHILD SAs: ESP (cfg.esp_proposals) or, with cfg.ah_proposals, AH (RFC 4302) */
	uint8_t child_proto;                     /* KEEL_V2_PROTO_ESP or KEEL_V2_PROTO_AH */
	const struct keel_proposal *child_props; /* points into cfg */
	size_t n_child_props;
	const struct keel_env *env;
	struct keel_secret *psk;
	struct keel_creds creds; /* certificates, key, trust anchors, EAP password */
	struct auth_state auth;

	/* RFC 7383: both sides announced fragmentation; what arrives in pieces */
	bool frag_ok;
	struct frag_rx frag;
	/* RFC 7427 §4: the gateway's SIGNATURE_HASH_ALGORITHMS */
	bool peer_hashes_sent;
	unsigned peer_hashes;
	enum keel_state state;
	bool started;
	bool finished; /* CLOSED or FAILED reported */
	bool established;
	bool stopping;

	/* UDP: after NAT detection every message uses the NAT-T ports (§2.23) */
	bool natt;
	bool nat_local;  /* we are behind a NAT */
	bool nat_remote; /* the gateway is behind a NAT (or encapsulation forced) */

	struct init_state init;
	struct ike_sa *ike; /* the current IKE SA (NULL before IKE_SA_INIT) */
	struct ike_sa *ikes[KEEL_MAX_IKE_SAS];
	struct ike_collision ike_coll;
	uint16_t ike_rekey_group; /* the gateway asked for this group (INVALID_KE) */

	bool req_active;
	struct request req;
	struct pending pending[KEEL_MAX_PENDING];
	size_t n_pending;

	struct child_sa child[KEEL_MAX_CHILDREN];
	uint32_t next_child_id;
	uint32_t next_reqid;

	uint64_t now_ns;
	uint64_t last_heard_ns;
	uint64_t ike_rekey_ns;  /* 0: not scheduled */
	uint64_t ike_expire_ns; /* 0: not scheduled */
	uint64_t retry_ns;      /* re-run a task refused with TEMPORARY_FAILURE (0: none) */
	struct pending retry;
	uint64_t closing_ns; /* keel_sa_stop(): give up waiting at this time */

	/* network configuration from CFG_REPLY, reported with the first CHILD SA */
	bool have_ip4, have_ip6;
	struct keel_prefix ip4, ip6;
	size_t n_dns;
	struct keel_addr dns[KEEL_MAX_DNS];
	size_t n_subnets;
	struct keel_prefix subnets[KEEL_MAX_ROUTES];

	struct keel_outq outq; /* outq.nomem: an output could not be queued */

	/* scratch space, kept off the stack: one payload, one received message */
	struct keel_v2_payload pl;    /* building */
	struct keel_v2_payload pl_rx; /* decoding */
	struct rx rx;
	uint8_t rx_buf[KEEL_MSG_MAX];
	uint8_t tx_buf[KEEL_MSG_MAX];
};

/* ---- log.c: outputs ---- */

/*
 * Appends an output with data_len bytes of storage (*data) for what its
 * pointers refer to; secret storage is wiped when freed. NULL on ENOMEM
 * (sa->outq.nomem is then set).
 */
struct keel_out *keel_out_push(struct keel_sa *sa, enum keel_out_kind kind, size_t data_len,
                               bool secret, uint8_t **data);
void keel_out_clear(struct keel_sa *sa);
void keel_out_release(struct keel_sa *sa);
void keel_log(struct keel_sa *sa, enum keel_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void keel_sa_set_state(struct keel_sa *sa, enum keel_state state, enum keel_reason reason,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- sa.c: the SA core ---- */

/*
 * Ends the connection with a final state: FAILED with reason and text, or
 * CLOSED (keel_sa_close). Removes the CHILD SAs (outputs), drops every task.
 */
void keel_sa_fail(struct keel_sa *sa, enum keel_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void keel_sa_close(struct keel_sa *sa, enum keel_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * As keel_sa_fail(), first sending one unacknowledged DELETE of the IKE SA
 * when it is authenticated (the gateway should not keep a half-open SA).
 */
void keel_sa_fail_delete(struct keel_sa *sa, enum keel_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Queues a task to run when the window is free (no duplicates). */
void keel_task_queue(struct keel_sa *sa, enum task_kind kind, uint32_t child_id,
                     struct ike_sa *ike);
/* Our request is answered (or abandoned): frees its state. */
void keel_req_done(struct keel_sa *sa);
/* Starts the request just built in sa->req: sends msg (taken) and schedules retransmission. */
int keel_req_send(struct keel_sa *sa, uint8_t *msg, size_t len);

struct ike_sa *keel_ike_new(struct keel_sa *sa);
void keel_ike_free(struct keel_sa *sa, struct ike_sa *ike);

/* A random delay in [0, lt->jitter_s] s subtracted from the rekey time, in ns. */
uint64_t keel_rekey_time_ns(struct keel_sa *sa, const struct keel_lifetime *lt);
uint64_t keel_expire_time_ns(struct keel_sa *sa, const struct keel_lifetime *lt);
int keel_random(struct keel_sa *sa, void *buf, size_t len);

/* ---- msg.c: building, protecting, sending, opening messages ---- */

struct msg_wr {
	struct keel_sa *sa;
	struct keel_v2_hdr hdr; /* as begun: fragments repeat it */
	struct keel_wr w;
	struct keel_v2_chain_wr outer;
	struct keel_v2_sk_wr sk;
	struct keel_v2_chain_wr *cw; /* where payloads go: outer (IKE_SA_INIT) or sk.inner */
	struct ike_sa *ike;
	bool protected;
	int err;
};

/* Begins a message in sa->tx_buf. protected: the payloads go into SK. */
void keel_msg_begin(struct keel_sa *sa, struct msg_wr *mw, struct ike_sa *ike, uint8_t exchange,
                    bool response, uint32_t msg_id, bool protected);
/*
 * Ends it (pads, encrypts, ICV) and returns a malloc'd copy in *out. When
 * fragmentation is on and the message is too large for one datagram, *out
 * holds its RFC 7383 fragments back to back, each a whole IKE message
 * (keel_dgram_out() sends them one by one).
 */
int keel_msg_end(struct keel_sa *sa, struct msg_wr *mw, uint8_t **out, size_t *len);

void keel_add_notify(struct msg_wr *mw, uint8_t protocol, const uint8_t *spi, size_t spi_len,
                     uint16_t type, const uint8_t *data, size_t data_len);
void keel_add_bytes(struct msg_wr *mw, uint8_t type, const uint8_t *data, size_t len);
void keel_add_ke(struct msg_wr *mw, const struct keel_dh *dh);
void keel_add_sa(struct msg_wr *mw); /* sa->pl.u.sa, built by the caller just before */
void keel_add_ts(struct msg_wr *mw, uint8_t type, const struct keel_ts *ts, size_t n);
void keel_add_delete(struct msg_wr *mw, uint8_t protocol, const uint32_t *spis, size_t n);

/*
 * Queues a message to the gateway on the current ports: one datagram, or
 * one per fragment when msg holds several IKE messages back to back.
 */
int keel_dgram_out(struct keel_sa *sa, const uint8_t *msg, size_t len);

/*
 * Builds and sends a response on ike to the peer's request msg_id, caching it
 * for retransmitted requests. The caller has added the payloads to mw.
 */
int keel_msg_respond(struct keel_sa *sa, struct msg_wr *mw);

/*
 * Decodes and opens a received datagram into sa->rx (see sa.c for the
 * rules). KEEL_MSG_PENDING: it was a fragment, kept until the message is
 * whole (frag.c).
 */
int keel_msg_open(struct keel_sa *sa, struct ike_sa *ike);
/* The decrypted inner chain (first payload of type first) into sa->rx, authentic. */
int keel_msg_inner(struct keel_sa *sa, const uint8_t *plain, size_t plain_len, uint8_t first);

/* ---- frag.c: IKE fragmentation (RFC 7383) ---- */

/* The largest IKE message we send as one datagram (cfg.fragment_size less headers). */
size_t keel_frag_limit(const struct keel_sa *sa);
/*
 * Splits the protected message laid out (not yet encrypted) in sa->tx_buf
 * by mw into encrypted fragments, returned back to back in a malloc'd *out.
 */
int keel_frag_build(struct keel_sa *sa, struct msg_wr *mw, const struct keel_v2_sk_layout *lay,
                    uint8_t **out, size_t *len);
/*
 * The SKF payload that ends sa->rx: authenticates and keeps the fragment;
 * when the message is whole, opens it into sa->rx like keel_msg_open().
 * Returns 0 (whole), KEEL_MSG_PENDING, or KEEL_ERR_AUTH / KEEL_ERR_MALFORMED
 * (also, unopened, when fragmentation was not negotiated: sa->frag_ok).
 */
int keel_frag_open(struct keel_sa *sa, struct ike_sa *ike);
/* Authenticates the fragment ending sa->rx without keeping it; *frag_num gets its
 * number. KEEL_ERR_MALFORMED, unopened, without sa->frag_ok. */
int keel_frag_check(struct keel_sa *sa, struct ike_sa *ike, uint16_t *frag_num);
/* Forgets a reassembly in progress (and frees its buffer when release). */
void keel_frag_clear(struct keel_sa *sa, bool release);
/* True if the last payload of the datagram in sa->rx is SKF. */
bool keel_rx_is_fragment(const struct keel_sa *sa);

/* Payload lookup in sa->rx: decoded into sa->pl (or a caller's struct); NULL/false if absent. */
const struct keel_v2_raw_payload *keel_rx_find(struct keel_sa *sa, uint8_t type,
                                               struct keel_v2_payload *out);
bool keel_rx_notify(struct keel_sa *sa, uint16_t type, struct keel_v2_notify *out);
/* The first error notify (type < 16384) in sa->rx, 0 if none. */
uint16_t keel_rx_error(struct keel_sa *sa);
/* Reads TS payload entries into our struct; false if malformed or over KEEL_MAX_TS. */
bool keel_ts_from_payload(const struct keel_v2_ts *in, struct keel_ts *out, size_t *n);
/* Lower of two nonces, bytewise (RFC 7296 §2.8.1). */
int keel_nonce_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

/* ---- proposal.c ---- */

int keel_sa_payload_build(struct keel_v2_sa *out, const struct keel_proposal *props, size_t n,
                          uint8_t protocol, const uint8_t *spi, size_t spi_len, bool with_dh);
int keel_sa_payload_check(const struct keel_v2_sa *got, const struct keel_proposal *props, size_t n,
                          uint8_t protocol, int want_dh, struct keel_algs *alg, uint8_t *spi,
                          size_t *spi_len);
int keel_sa_payload_choose(const struct keel_v2_sa *offer, const struct keel_proposal *props,
                           size_t n, uint8_t protocol, uint16_t ke_group, struct keel_algs *alg,
                           uint8_t *number, uint8_t *spi, size_t *spi_len);
int keel_sa_payload_build_chosen(struct keel_v2_sa *out, uint8_t number, uint8_t protocol,
                                 const uint8_t *spi, size_t spi_len, const struct keel_algs *alg);
void keel_proposals_text(const struct keel_proposal *props, size_t n, char *buf, size_t cap);
void keel_algs_text(const struct keel_algs *alg, bool ike, char *buf, size_t cap);
int keel_proposal_check_supported(const struct keel_proposal *p, enum keel_proposal_kind kind);

/* ---- task files ---- */

int keel_task_ike_init_start(struct keel_sa *sa);
void keel_task_ike_init_process(struct keel_sa *sa);
int keel_task_ike_auth_start(struct keel_sa *sa);
void keel_task_ike_auth_process(struct keel_sa *sa);
void keel_init_clear(struct keel_sa *sa);

int keel_task_child_rekey_start(struct keel_sa *sa, uint32_t child_id);
int keel_task_ike_rekey_start(struct keel_sa *sa);
void keel_task_child_rekey_process(struct keel_sa *sa);
void keel_task_ike_rekey_process(struct keel_sa *sa);
/* The peer's CREATE_CHILD_SA request on ike: answer it. */
int keel_task_create_child_respond(struct keel_sa *sa, struct ike_sa *ike, uint32_t msg_id);

int keel_task_dpd_start(struct keel_sa *sa);
int keel_task_delete_start(struct keel_sa *sa, enum task_kind kind, uint32_t child_id,
                           struct ike_sa *ike);
void keel_task_info_process(struct keel_sa *sa);
/* The peer's INFORMATIONAL request on ike: answer it. */
int keel_task_info_respond(struct keel_sa *sa, struct ike_sa *ike, uint32_t msg_id);

/* ---- CHILD SAs (task-child.c) ---- */

struct child_sa *keel_child_find(struct keel_sa *sa, uint32_t id);
struct child_sa *keel_child_by_spi_out(struct keel_sa *sa, uint32_t spi_out);
struct child_sa *keel_child_by_spi_in(struct keel_sa *sa, uint32_t spi_in);
/* Live CHILD SAs (ACTIVE or REKEYING). */
size_t keel_child_count_live(const struct keel_sa *sa);
/*
 * Registers a new CHILD SA and queues its install with its KEYMAT.
 * initiator: we initiated the exchange that made it (which keys go out).
 */
struct child_sa *keel_child_install(struct keel_sa *sa, uint32_t reqid, uint32_t rekeyed_id,
                                    const struct keel_algs *alg, uint32_t spi_in, uint32_t spi_out,
                                    const struct keel_ts *ts_l, size_t n_ts_l,
                                    const struct keel_ts *ts_r, size_t n_ts_r,
                                    const struct keel_child_keys *keys, bool initiator);
/* Queues a CHILD remove output and forgets the SA. */
void keel_child_remove(struct keel_sa *sa, struct child_sa *c, enum keel_reason reason);
/* A fresh inbound SPI, unique among our children, never below 256 (RFC 4303 §2.1). */
int keel_child_new_spi(struct keel_sa *sa, uint32_t *spi);

/* ---- network configuration (task-ike-auth.c) ---- */

void keel_netcfg_emit(struct keel_sa *sa, const struct child_sa *c);

#endif
