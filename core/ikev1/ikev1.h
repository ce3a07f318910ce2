/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The IKEv1 initiator engine: one connection to a gateway over IKEv1
 * (RFC 2409), as a sans-I/O state machine with the same call contract and
 * the same outputs (struct keel_out) as the IKEv2 engine of <keel/ike.h>.
 *
 * What one connection does, in order:
 *   phase 1    Main Mode (6 messages) or Aggressive Mode (3 messages) with a
 *              pre-shared key (RFC 2409 §5, §5.4), RSA or ECDSA signatures
 *              (§5.1, RFC 4754: cfg->auth KEEL_AUTH_CERT; CERT, CERT_REQUEST
 *              and SIG payloads)
 *              or hybrid authentication (cfg->ikev1_hybrid: the gateway
 *              signs, we send HASH_I, draft-ietf-ipsec-isakmp-hybrid-auth-05);
 *              the gateway's certificate is verified as the IKEv2 engine
 *              does (ikev2/auth.h), NAT detection (RFC 3947),
 *              Vendor IDs for XAUTH, DPD (RFC 3706), NAT-T (RFC 3947 and
 *              draft-ietf-ipsec-nat-t-ike-02/03), Cisco Unity, fragmentation
 *   XAUTH      the gateway asks for a user name and password
 *              (draft-beaulieu-ike-xauth-02), answered from the options
 *   Mode Config virtual IP, DNS, default domain and Cisco Unity split-include
 *              networks, pulled (REQUEST/REPLY) or pushed (SET/ACK) as the
 *              gateway prefers (draft-dukes-ike-mode-cfg-02)
 *   quick mode one ESP tunnel per remote network asked for (RFC 2409 §5.5),
 *              with PFS when asked for
 * then, while established: DPD both ways, DELETE both ways, quick mode
 * rekeys before the CHILD SAs expire (make-before-break, as <keel/ike.h>
 * describes), a new phase 1 before the ISAKMP SA expires, and the gateway's
 * own quick mode rekeys (we answer as the quick mode responder).
 *
 * Call contract: exactly that of keel_sa_*() in <keel/ike.h> (read it):
 * new, start, then recv/tick/stop/rekey fed with a monotonic now_ns, pop
 * after every call, sleep until deadline, free. One KEEL_OUT_STATE in CLOSED
 * or FAILED ends the connection; after it every call but pop, deadline,
 * state and free returns KEEL_ERR_STATE.
 *
 * IKEv1 specifics the outputs reflect:
 *  - States: IKE_SA_INIT while phase 1 keys are exchanged (the first
 *    message of Main or Aggressive Mode is out), AUTHENTICATING from the
 *    message carrying HASH_I until the first CHILD SA is up (XAUTH, Mode
 *    Config and quick mode included), ESTABLISHED, REKEYING during a quick
 *    mode rekey or a new phase 1, CLOSING then CLOSED on keel_v1sa_stop().
 *  - Informational exchanges have no answer in IKEv1: keel_v1sa_stop()
 *    sends the DELETEs and reports CLOSED at once (no delete_timeout_ms).
 *  - A phase 1 SA cannot be rekeyed in IKEv1: KEEL_REKEY_IKE (or its
 *    lifetime) makes a new one (new cookies, XAUTH and Mode Config again,
 *    asking for the same virtual IP), then deletes the old one. CHILD SAs
 *    live on.
 *  - Aggressive Mode with a PSK sends our identity in clear and lets an
 *    eavesdropper try PSKs offline: keel_v1sa_start() logs that once at warn
 *    level, so a front end shows it.
 *  - netcfg routes are the Cisco Unity split-include networks when the
 *    gateway sent some (and the CHILD SA's remote selectors are narrowed to
 *    them when the quick mode covered more), else the negotiated remote IDs.
 *    The default domain and the login banner have no field in struct
 *    keel_out_netcfg: they are logged at info level and kept for
 *    keel_v1sa_domain() / keel_v1sa_banner().
 *
 * Configuration: struct keel_config as for IKEv2 (addresses, ports,
 * identities, PSK, proposals, traffic selectors, timers, log level), with
 * ike_version 1, plus struct keel_v1_options for what IKEv1 needs beyond it.
 * Proposals keep Keel's IKEv2 transform IDs and are mapped to IKEv1 values:
 *   phase 1  encryption AES-CBC (IKEv2 12) -> 7 with Key Length 128/192/256;
 *            hash from the PRF (prfsha1/256/384/512 -> 2/4/5/6; without a
 *            PRF from the integrity algorithm); groups 14..21, 31, 32 keep
 *            their numbers (Group Description); every combination of one
 *            proposal becomes one transform, with the authentication method
 *            (PSK 1, XAUTH-PSK 65001, RSA signatures 3, ECDSA 9/10/11 by the
 *            curve of our key, XAUTHInitRSA 65005, HybridInitRSA 64221) and
 *            Life Type seconds + Duration.
 *            AEAD ciphers have no IKEv1 phase 1 form and are skipped.
 *   ESP      AES-CBC 12, AES-CTR 13, AES-GCM-8/12/16 18/19/20 keep their
 *            numbers as ESP transform IDs with Key Length; integrity
 *            HMAC-SHA1-96 -> Authentication Algorithm 2, HMAC-SHA2-256-128
 *            -> 5, -384-192 -> 6, -512-256 -> 7, AES-XCBC-96 -> 9;
 *            Encapsulation Mode tunnel (1), or UDP-encapsulated tunnel when
 *            NAT-T is in use (3 with RFC 3947, 61443 with the draft);
 *            Group Description with PFS; ChaCha20-Poly1305 is skipped.
 * CHILD_INSTALL reports the IKEv2 IDs again (encr 12/20..., integ 2/12...),
 * keys split from each SA's KEYMAT (RFC 2409 §5.5) as RFC 7296 §2.17 does
 * (encryption key, with the 4-byte salt for GCM, then the integrity key).
 */
#ifndef KEEL_IKEV1_IKEV1_H
#define KEEL_IKEV1_IKEV1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/config.h>
#include <keel/env.h>
#include <keel/err.h>
#include <keel/ike.h>

struct keel_secret;
struct keel_v1sa;

enum keel_v1_mode {
	KEEL_V1_MAIN = 0,       /* Identity Protection, RFC 2409 §5 (default) */
	KEEL_V1_AGGRESSIVE = 1, /* RFC 2409 §5.4: the identity goes in clear */
};

enum keel_v1_modecfg {
	KEEL_V1_MODECFG_PULL = 0, /* we send a REQUEST (default); a SET is accepted too */
	KEEL_V1_MODECFG_PUSH,     /* we wait for the gateway's SET and ACK it */
	KEEL_V1_MODECFG_OFF,      /* no virtual IP: our address is IDci */
};

/*
 * What IKEv1 needs beyond struct keel_config. Fill with
 * keel_v1_options_init() (the defaults below), then change fields. The
 * secrets are borrowed for keel_v1sa_new(), which copies them; the copies
 * (and the PSK's) live as long as the connection, since every new phase 1
 * needs them, and are wiped when it ends.
 */
struct keel_v1_options {
	enum keel_v1_mode mode;

	/*
	 * XAUTH (draft-beaulieu-ike-xauth-02): the phase 1 proposals carry
	 * authentication method XAUTH-PSK (65001) and the gateway's user name and
	 * password request is answered with these. Without xauth (default) a
	 * request from the gateway fails the connection (KEEL_REASON_CONFIG).
	 * With xauth both secrets are required (the user name is text, not
	 * NUL-terminated, 1..255 bytes; the password 0..255 bytes).
	 */
	bool xauth;
	const struct keel_secret *xauth_user;
	const struct keel_secret *xauth_password;

	enum keel_v1_modecfg modecfg;

	/* Quick mode PFS group (14..21, 31, 32), 0 for none (default). */
	uint16_t pfs_group;

	/*
	 * Phase 1 proposals when they differ from cfg->ike_proposals (e.g. a
	 * profile with "ikev1-proposals"); empty (default): cfg->ike_proposals,
	 * then Keel's defaults. Mapped as the comment at the top says.
	 */
	size_t n_ike_proposals;
	struct keel_proposal ike_proposals[KEEL_MAX_PROPOSALS];

	/*
	 * Vendor IDs we send besides XAUTH (with xauth), DPD and NAT-T (always):
	 * Cisco Unity (default true: also asks for split-include networks and
	 * the default domain in Mode Config) and IKE fragmentation (default true).
	 */
	bool unity;
	bool fragmentation;

	/* INITIAL-CONTACT in the first phase 1 (default true, RFC 2407 §4.6.3.3). */
	bool initial_contact;
};

/* The defaults: Main Mode, no XAUTH, Mode Config pull, no PFS, Unity, fragmentation,
 * INITIAL-CONTACT. */
void keel_v1_options_init(struct keel_v1_options *o);

/*
 * As keel_sa_new(), for cfg->ike_version 1 (0 and 1 are accepted; the
 * value is not otherwise used). cfg, cfg->psk, v1 and its secrets are
 * borrowed for the call; env for the SA's whole life.
 * Errors: KEEL_ERR_INVAL (a missing address, PSK auth without psk, xauth
 * without user or password, a malformed proposal or TS, local/remote
 * families differ, an unknown mode; certificates, key or CA that do not
 * load, as keel_config_check() says; hybrid without xauth),
 * KEEL_ERR_AUTH (an encrypted key without its passphrase, or a wrong one),
 * KEEL_ERR_UNSUPPORTED (EAP auth, no proposal with an IKEv1 form, an
 * unknown PFS group), KEEL_ERR_NOMEM. A key with no method for the profile
 * (ECDSA with XAUTH, EdDSA) fails the SA with its reason when it starts,
 * before anything is sent.
 */
int keel_v1sa_new(const struct keel_config *cfg, const struct keel_v1_options *v1,
                  const struct keel_env *env, struct keel_v1sa **out);

/* Wipes every key and frees sa, with whatever it still queues. NULL is fine. */
void keel_v1sa_free(struct keel_v1sa *sa);

/*
 * Starts the connection: queues the first phase 1 message. Once only.
 * Errors: KEEL_ERR_STATE (already started), KEEL_ERR_NOMEM; a failure of
 * randomness or crypto fails the SA (a FAILED state output) and returns 0.
 */
int keel_v1sa_start(struct keel_v1sa *sa, uint64_t now_ns);

/*
 * A received IKE datagram (the non-ESP marker removed). As keel_sa_recv():
 * 0 processed; KEEL_ERR_MALFORMED truncated, garbage, or a decrypted body
 * that does not parse; KEEL_ERR_AUTH a HASH that did not verify;
 * KEEL_ERR_STATE not for this SA, unexpected, replayed, or the SA is not
 * started or finished. Only authenticated messages change the state, with
 * exceptions IKEv1 cannot avoid, since nothing authenticates phase 1
 * before HASH_R: while phase 1 is under way an error notify in clear
 * (NO-PROPOSAL-CHOSEN, AUTHENTICATION-FAILED, ...) carrying our cookie fails
 * the connection, and so does a phase 1 answer in clear that is well formed
 * but unacceptable (a proposal we did not offer; in Aggressive Mode a HASH_R
 * that does not verify: a different PSK or group name). A Main Mode message
 * 6 that does not decrypt or verify is dropped, and named at give-up time
 * (a wrong PSK).
 */
int keel_v1sa_recv(struct keel_v1sa *sa, const struct keel_dgram *in, uint64_t now_ns);

/* As keel_sa_tick(): retransmissions, give-up, DPD, rekeys, lifetimes. */
int keel_v1sa_tick(struct keel_v1sa *sa, uint64_t now_ns);

/* As keel_sa_deadline(): UINT64_MAX when nothing is scheduled. */
uint64_t keel_v1sa_deadline(const struct keel_v1sa *sa);

/*
 * Closes the connection: removes the CHILD SAs, sends DELETE for each ESP
 * SA and for the ISAKMP SA (RFC 2408 §3.15, informational exchanges that
 * have no answer) and reports CLOSING, then CLOSED. Before phase 1 is done
 * it reports CLOSED at once. Errors: KEEL_ERR_STATE when finished.
 */
int keel_v1sa_stop(struct keel_v1sa *sa, uint64_t now_ns);

/*
 * As keel_sa_rekey(). KEEL_REKEY_CHILD: a new quick mode for that tunnel
 * (child_id 0: every tunnel), then the old pair is removed and deleted.
 * KEEL_REKEY_IKE: a new phase 1 (see above). Queued if an exchange is under
 * way. Errors: KEEL_ERR_STATE (not established), KEEL_ERR_INVAL (no such
 * child, unknown what).
 */
int keel_v1sa_rekey(struct keel_v1sa *sa, enum keel_rekey what, uint32_t child_id, uint64_t now_ns);

/* As keel_sa_pop(): the next output, oldest first; pointers borrowed until the next call. */
bool keel_v1sa_pop(struct keel_v1sa *sa, struct keel_out *out);

/* The current state (the last KEEL_OUT_STATE queued). */
enum keel_state keel_v1sa_state(const struct keel_v1sa *sa);

/*
 * The gateway's default domain (Cisco Unity UNITY_DEF_DOMAIN) and login
 * banner (UNITY_BANNER) from Mode Config, NUL-terminated, unescaped peer
 * text; NULL when none. Borrowed until the next call on sa.
 */
const char *keel_v1sa_domain(const struct keel_v1sa *sa);
const char *keel_v1sa_banner(const struct keel_v1sa *sa);

#endif
