/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The IKE engine: one IKE SA (and its CHILD SAs) as a sans-I/O state machine.
 *
 * The engine never does I/O, never reads a clock and never calls back into
 * its caller. It is fed and drained:
 *
 *   keel_sa_new(&cfg, &env, &sa);
 *   keel_sa_start(sa, now_ns);
 *   for (;;) {
 *           struct keel_out o;
 *           while (keel_sa_pop(sa, &o))
 *                   act_on(&o);          // send, install SA, set address, show state
 *           if (closed or failed was popped)
 *                   break;
 *           wait for a datagram, a command, or keel_sa_deadline(sa);
 *           keel_sa_recv(sa, &dgram, now_ns) / keel_sa_tick(sa, now_ns) /
 *           keel_sa_stop(sa, now_ns) / keel_sa_rekey(sa, ..., now_ns);
 *   }
 *   keel_sa_free(sa);
 *
 * Time is a monotonic clock in nanoseconds, any origin, never going back.
 * Every call that takes now_ns may queue outputs; drain them with
 * keel_sa_pop() after each call, then sleep until keel_sa_deadline().
 *
 * One struct keel_sa is used by one thread at a time.
 *
 * Failures: the connection ends with exactly one KEEL_OUT_STATE output in
 * KEEL_STATE_CLOSED or KEEL_STATE_FAILED, carrying a reason code and a
 * sentence a user understands. After that every call except pop, deadline,
 * state and free returns KEEL_ERR_STATE; to reconnect, make a new SA.
 *
 * Order of outputs on connecting: DGRAMs and STATE (connecting, ike-sa-init,
 * authenticating), then CHILD_INSTALL, NETCFG, and STATE established. With
 * EAP, authenticating spans several IKE_AUTH exchanges (RFC 7296 §2.16).
 * Once both sides announced IKE fragmentation (RFC 7383), a message too
 * large for cfg.fragment_size goes out as several DGRAM outputs in a row,
 * one per fragment, each a complete IKE message; send them all. On a
 * CHILD SA rekey: CHILD_INSTALL of the new pair, then later CHILD_REMOVE of
 * the old one (for a pair installed inbound first, perhaps CHILD_ACTIVATE of
 * it in between). On the end: CHILD_REMOVE of every pair, then the final STATE.
 * LOG lines come in between at any time.
 *
 * Liveness: the engine sends an empty INFORMATIONAL when it has heard no IKE
 * message for cfg.dpd_interval_ms (it does not see ESP traffic).
 *
 * Policy on partial success: if the IKE SA is authenticated but the gateway
 * refuses the first CHILD SA (TS_UNACCEPTABLE, NO_PROPOSAL_CHOSEN,
 * FAILED_CP_REQUIRED, INTERNAL_ADDRESS_FAILURE, ...), the engine deletes the
 * IKE SA and fails: a client with no tunnel is of no use.
 */
#ifndef KEEL_IKE_H
#define KEEL_IKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/config.h>
#include <keel/env.h>
#include <keel/err.h>

struct keel_sa;

/* ---- inputs ---- */

/*
 * A received IKE datagram. data is the IKE message (the platform has removed
 * the 4-byte non-ESP marker on the NAT-T port, RFC 3948 §2.2). local and
 * remote are the addresses and ports it was received on / from. Borrowed for
 * the call.
 */
struct keel_dgram {
	struct keel_addr local;
	struct keel_addr remote;
	const uint8_t *data;
	ptrdiff_t len;
};

/* ---- outputs ---- */

enum keel_out_kind {
	KEEL_OUT_DGRAM = 1,      /* send a datagram */
	KEEL_OUT_CHILD_INSTALL,  /* install a CHILD SA pair (inbound and outbound) */
	KEEL_OUT_CHILD_REMOVE,   /* remove a CHILD SA pair */
	KEEL_OUT_CHILD_ACTIVATE, /* send on a pair installed inbound first */
	KEEL_OUT_NETCFG,         /* network configuration from the gateway */
	KEEL_OUT_STATE,          /* the connection changed state */
	KEEL_OUT_LOG,            /* a log line */
};

/*
 * Send data from local to remote (addresses from the config; the ports say
 * which socket). When natt is true the ports are the NAT-T ports: prefix the
 * 4-byte non-ESP marker (RFC 3948 §2.2) and send from the NAT-T socket. The
 * engine moves to the NAT-T ports after IKE_SA_INIT when a NAT is detected
 * or cfg.force_encap is set (RFC 7296 §2.23); it never sends the marker
 * itself.
 */
struct keel_out_dgram {
	struct keel_addr local;
	struct keel_addr remote;
	bool natt;
	const uint8_t *data;
	ptrdiff_t len;
};

/* IANA Security Protocol Identifiers (RFC 7296 §3.3.1). */
#define KEEL_PROTO_AH  2
#define KEEL_PROTO_ESP 3

/*
 * A CHILD SA pair to install. Keys are the KEYMAT of RFC 7296 §2.17: for
 * AEAD, encr_key_* includes the 4-byte salt (encr_key_len = key + 4) and
 * integ is 0 (no integrity keys). With protocol KEEL_PROTO_AH (RFC 4302,
 * cfg.ah_proposals) there is no cipher: encr is 0, encr_key_* NULL and
 * encr_key_len 0, integ and its keys are set, and encap is always false
 * (AH cannot be UDP-encapsulated; a data path without AH must refuse it).
 *
 * Make-before-break: on a rekey the new pair is installed (same reqid,
 * new child_id) while the old one still exists; the old pair is removed with a
 * KEEL_OUT_CHILD_REMOVE afterwards. Outbound traffic should move to the newest
 * pair of a reqid as soon as it is installed; inbound must accept both
 * until the old one is removed.
 *
 * Inbound first: a rekey the gateway started is installed by the gateway
 * only once it has Keel's answer (IKEv2 CREATE_CHILD_SA response, IKEv1
 * Quick Mode message 2), so a packet sent on the new outbound SA before then
 * would be lost, while the gateway may send on the new inbound SA at once.
 * Such a pair (inbound_first, always with rekeyed_child_id) is installed
 * receiving at once; the old pair keeps carrying outbound traffic until a
 * KEEL_OUT_CHILD_ACTIVATE of child_id (IKEv1: Quick Mode message 3 came) or
 * the KEEL_OUT_CHILD_REMOVE of rekeyed_child_id, whichever comes first; a
 * data path may also activate it on its own a short while after installing
 * it (IKEv2 sends no ACTIVATE: the gateway deletes the old pair once the new
 * one is in at both ends, RFC 7296 §2.8). If the exchange never completes
 * (IKEv1: no message 3), the pair is removed with KEEL_OUT_CHILD_REMOVE.
 */
struct keel_out_child_install {
	uint32_t child_id;         /* unique within this struct keel_sa, never 0 */
	uint32_t reqid;            /* stable over rekeys of the same tunnel (1 for the first) */
	uint32_t rekeyed_child_id; /* on a rekey: the pair this one replaces, else 0 */
	bool inbound_first;        /* keep the outbound SA back (see above) */
	uint8_t protocol;          /* KEEL_PROTO_ESP or KEEL_PROTO_AH */
	uint32_t spi_in;           /* the SPI we chose: ESP packets to us carry it */
	uint32_t spi_out;          /* the gateway's SPI: our ESP packets carry it */
	uint16_t encr;             /* Transform Type 1 ID (e.g. 20 AES-GCM-16, 12 AES-CBC); 0 AH */
	uint16_t encr_key_bits;
	const uint8_t *encr_key_in; /* borrowed until the next call on this sa */
	const uint8_t *encr_key_out;
	ptrdiff_t encr_key_len;
	uint16_t integ; /* Transform Type 3 ID; 0 with AEAD; never 0 with AH */
	const uint8_t *integ_key_in;
	const uint8_t *integ_key_out;
	ptrdiff_t integ_key_len;
	bool esn;
	/*
	 * Tunnel endpoints. encap: ESP in UDP (RFC 3948) between local.port and
	 * remote.port (the NAT-T ports). nat_local: we are behind a NAT, so
	 * the data path must send NAT-T keepalives (RFC 3948 §2.3).
	 */
	struct keel_addr local;
	struct keel_addr remote;
	bool encap;
	bool nat_local;
	/* Negotiated traffic selectors: ours (TSi) and the gateway's side (TSr). */
	const struct keel_ts *ts_local;
	size_t n_ts_local;
	const struct keel_ts *ts_remote;
	size_t n_ts_remote;
	/*
	 * Lifetimes from installation. The engine rekeys before soft_life_s;
	 * hard_life_s is a backstop the data path may enforce (0: none).
	 */
	uint32_t soft_life_s;
	uint32_t hard_life_s;
};

/* Why a CHILD SA or the connection ended (also the reason of KEEL_OUT_STATE). */
enum keel_reason {
	KEEL_REASON_NONE = 0,
	KEEL_REASON_USER,            /* keel_sa_stop() */
	KEEL_REASON_REKEYED,         /* CHILD/IKE SA replaced by a rekeyed one */
	KEEL_REASON_PEER_DELETE,     /* the gateway deleted it */
	KEEL_REASON_TIMEOUT,         /* no answer after every retransmission */
	KEEL_REASON_DEAD_PEER,       /* liveness check unanswered */
	KEEL_REASON_NO_PROPOSAL,     /* NO_PROPOSAL_CHOSEN (IKE or CHILD) */
	KEEL_REASON_AUTH_REFUSED,    /* the gateway sent AUTHENTICATION_FAILED */
	KEEL_REASON_PEER_AUTH,       /* the gateway's AUTH did not verify */
	KEEL_REASON_PEER_ID,         /* the gateway's identity is not remote_id */
	KEEL_REASON_TS_UNACCEPTABLE, /* TS_UNACCEPTABLE, or narrowed beyond what we asked */
	KEEL_REASON_CP_REQUIRED,     /* FAILED_CP_REQUIRED */
	KEEL_REASON_NO_ADDRESS,      /* INTERNAL_ADDRESS_FAILURE or no address given */
	KEEL_REASON_PEER_ERROR,      /* another error notify from the gateway */
	KEEL_REASON_PROTOCOL,        /* the gateway broke the protocol */
	KEEL_REASON_EXPIRED,         /* hard lifetime reached without a rekey */
	KEEL_REASON_CONFIG,          /* the configuration cannot work */
	KEEL_REASON_INTERNAL,        /* out of memory, crypto library failure */
	/*
	 * The gateway's certificate (the text names the certificate at fault,
	 * and what was expected and presented):
	 */
	KEEL_REASON_CERT_UNTRUSTED, /* no chain to a trust anchor (unknown CA), a bad
	                               signature or a broken chain, revoked, or none sent */
	KEEL_REASON_CERT_EXPIRED,   /* expired or not yet valid at cfg.now_wall_s */
	KEEL_REASON_CERT_ID,        /* it does not name the expected identity */
	KEEL_REASON_CERT_KEY_USAGE, /* its key usage forbids IKE (e.g. a client certificate) */
	/* EAP: */
	KEEL_REASON_EAP_REFUSED, /* the gateway refused the user name or password */
	KEEL_REASON_EAP_METHOD,  /* no EAP method in common with the gateway */
};

/* A static English name of a reason ("peer-delete", ...); never NULL. */
const char *keel_reason_name(enum keel_reason r);

struct keel_out_child_remove {
	uint32_t child_id;
	uint32_t reqid;
	uint8_t protocol;
	uint32_t spi_in;
	uint32_t spi_out;
	enum keel_reason reason; /* REKEYED, PEER_DELETE, USER, ... */
};

/* The outbound SA of an inbound-first pair carries traffic from now on. */
struct keel_out_child_activate {
	uint32_t child_id;
	uint32_t reqid;
	uint8_t protocol;
	uint32_t spi_in;
	uint32_t spi_out;
};

/* A prefix: address and length in bits. */
struct keel_prefix {
	struct keel_addr addr; /* port 0 */
	uint8_t prefix_len;
};

/*
 * Network configuration, from the CFG_REPLY (RFC 7296 §3.15) and the
 * narrowed TSr. Sent once, right after the first CHILD SA is installed.
 * Arrays borrowed until the next call on this sa.
 * routes: what to send into the tunnel: the narrowed TSr as prefixes, plus
 * INTERNAL_IP4_SUBNET / INTERNAL_IP6_SUBNET; 0.0.0.0/0 or ::/0 means all
 * traffic of that family.
 */
struct keel_out_netcfg {
	bool has_ip4;
	struct keel_prefix ip4; /* INTERNAL_IP4_ADDRESS (+ NETMASK; /32 without) */
	bool has_ip6;
	struct keel_prefix ip6; /* INTERNAL_IP6_ADDRESS */
	const struct keel_addr *dns;
	size_t n_dns;
	const struct keel_prefix *routes;
	size_t n_routes;
};

enum keel_state {
	KEEL_STATE_IDLE = 0,       /* made, not started */
	KEEL_STATE_CONNECTING,     /* keel_sa_start() called */
	KEEL_STATE_IKE_SA_INIT,    /* IKE_SA_INIT request sent */
	KEEL_STATE_AUTHENTICATING, /* IKE_AUTH request sent */
	KEEL_STATE_ESTABLISHED,    /* IKE SA and first CHILD SA up */
	KEEL_STATE_REKEYING,       /* a rekey is under way; traffic flows */
	KEEL_STATE_CLOSING,        /* DELETE sent, waiting for the answer */
	KEEL_STATE_CLOSED,         /* final: closed in order */
	KEEL_STATE_FAILED,         /* final: see the reason */
};

/* A static English name of a state ("established", ...); never NULL. */
const char *keel_state_name(enum keel_state s);

/*
 * text is a sentence for the user, e.g. "the gateway refused our PSK or
 * identity (AUTHENTICATION_FAILED)", or for a certificate "the gateway's
 * certificate does not name the expected identity: expected FQDN
 * gw.example.org, the certificate names C=XX, O=Example, CN=other.example.org;
 * DNS:other.example.org". Borrowed until the next call on this sa.
 */
struct keel_out_state {
	enum keel_state state;
	enum keel_reason reason; /* NONE on progress */
	const char *text;
};

/* text: one line, no newline, never secrets; peer strings quoted and escaped. */
struct keel_out_log {
	enum keel_log_level level;
	const char *text;
};

struct keel_out {
	enum keel_out_kind kind;
	union {
		struct keel_out_dgram dgram;
		struct keel_out_child_install child_install;
		struct keel_out_child_remove child_remove;
		struct keel_out_child_activate child_activate;
		struct keel_out_netcfg netcfg;
		struct keel_out_state state;
		struct keel_out_log log;
	} u;
};

/* ---- the SA ---- */

/*
 * Makes an IKE SA for cfg (copied, with the PSK, the parsed certificates and
 * key, the EAP identity and password; cfg and everything it points to are
 * borrowed for the call). env is borrowed for the SA's whole life: it must
 * outlive it. Nothing is sent until keel_sa_start(). *out is set on
 * success; the caller owns it (keel_sa_free()). keel_config_check() says
 * in a sentence why a config is refused.
 * Errors: KEEL_ERR_INVAL (a missing address, PSK auth without psk, cert
 * auth without certificate or key, a certificate that does not belong to
 * the key, no trust anchors for the gateway's certificate, EAP without a
 * password, an empty or malformed proposal or TS, local/remote families
 * differ, fragment_size too small, ah_proposals with force_encap: AH has no
 * UDP form), KEEL_ERR_AUTH (our private key is
 * encrypted and key_passphrase is missing or wrong), KEEL_ERR_MALFORMED
 * (certificate, key or CA bytes that do not parse), KEEL_ERR_UNSUPPORTED
 * (an algorithm or key type Keel lacks), KEEL_ERR_NOMEM.
 * With cfg->ike_version 1 the SA speaks IKEv1 (RFC 2409) with the same
 * calls and outputs; what differs (states, no DELETE answer, a new phase 1
 * instead of an IKE rekey) is described with the IKEv1 fields of struct
 * keel_config. IKEv1 takes PSK authentication only (KEEL_ERR_UNSUPPORTED
 * for cert or EAP) and needs xauth_user and xauth_password with xauth
 * (KEEL_ERR_INVAL).
 */
int keel_sa_new(const struct keel_config *cfg, const struct keel_env *env, struct keel_sa **out);

/* Wipes every key and frees sa, with whatever it still queues. NULL is fine. */
void keel_sa_free(struct keel_sa *sa);

/*
 * Starts the connection: queues the IKE_SA_INIT request. Once only, on a
 * new SA. Errors: KEEL_ERR_STATE (already started), KEEL_ERR_NOMEM; a failure
 * of randomness or crypto fails the SA (a FAILED state output) and returns 0.
 */
int keel_sa_start(struct keel_sa *sa, uint64_t now_ns);

/*
 * Hands the engine a received datagram. Anything unexpected is dropped
 * (logged at debug level) and the SA goes on; the return value says why, for
 * tests and statistics, never requires action:
 *   0                   processed (this includes a valid error notify that
 *                       failed the SA: watch the state outputs)
 *   KEEL_ERR_MALFORMED  truncated or garbage, dropped
 *   KEEL_ERR_AUTH       failed the integrity check, dropped
 *   KEEL_ERR_STATE      not for this SA, unexpected message ID or exchange,
 *                       or the SA is not started or already finished
 * Unauthenticated data after IKE_SA_INIT never changes the state. A fragment
 * of a larger message (RFC 7383) is authenticated and kept until the others
 * arrive (0); duplicates are ignored (0), a fragment that contradicts the
 * others is dropped (KEEL_ERR_MALFORMED), and so is any fragment when
 * IKE_SA_INIT did not negotiate fragmentation.
 */
int keel_sa_recv(struct keel_sa *sa, const struct keel_dgram *in, uint64_t now_ns);

/*
 * Lets time pass: retransmissions, give-up, liveness checks, rekeys,
 * lifetimes. Call it when keel_sa_deadline() is reached (calling earlier or
 * more often is harmless). Returns 0, or KEEL_ERR_STATE when finished.
 */
int keel_sa_tick(struct keel_sa *sa, uint64_t now_ns);

/*
 * When keel_sa_tick() next has work: a monotonic time in ns, UINT64_MAX
 * when nothing is scheduled (not started, or finished).
 */
uint64_t keel_sa_deadline(const struct keel_sa *sa);

/*
 * Closes the connection: with an established IKE SA, removes the CHILD SAs,
 * sends a DELETE for the IKE SA (RFC 7296 §1.4.1) and reports CLOSED when
 * the gateway answers or after cfg.delete_timeout_ms; before that it reports
 * CLOSED at once. Returns 0, or KEEL_ERR_STATE when already closing or
 * finished.
 */
int keel_sa_stop(struct keel_sa *sa, uint64_t now_ns);

enum keel_rekey {
	KEEL_REKEY_IKE,   /* rekey the IKE SA (RFC 7296 §2.18) */
	KEEL_REKEY_CHILD, /* rekey a CHILD SA (RFC 7296 §2.8) */
};

/*
 * Rekeys now instead of at the lifetime (the data path may ask when a byte
 * or packet limit is near). child_id: the pair to rekey for KEEL_REKEY_CHILD
 * (0: every CHILD SA); ignored for KEEL_REKEY_IKE. If another exchange is
 * under way the rekey is queued. Errors: KEEL_ERR_STATE (not established),
 * KEEL_ERR_INVAL (no such child).
 */
int keel_sa_rekey(struct keel_sa *sa, enum keel_rekey what, uint32_t child_id, uint64_t now_ns);

/*
 * Takes the next output, oldest first. Returns false when there is none.
 * Pointers inside *out are borrowed until the next call of any keel_sa_*
 * function on sa other than keel_sa_deadline() and keel_sa_state().
 */
bool keel_sa_pop(struct keel_sa *sa, struct keel_out *out);

/* The current state (the last KEEL_OUT_STATE queued). */
enum keel_state keel_sa_state(const struct keel_sa *sa);

#endif
