/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the IKE engine needs to know about one connection: addresses,
 * identities, the secret, proposals, traffic selectors and timers.
 *
 * A struct keel_config is a plain value. Fill it with keel_config_init()
 * (every default below), change what the profile says, and hand it to
 * keel_sa_new(), which copies everything it keeps (including the PSK, which it
 * wipes once it no longer needs it). The config and the secret it points to
 * are borrowed for that call only.
 *
 * The text helpers at the end turn profile strings (identities, traffic
 * selectors, strongSwan-syntax proposals) into these structs, so that every
 * front end reads profiles the same way.
 */
#ifndef KEEL_CONFIG_H
#define KEEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/err.h>

struct keel_secret;

/* Address families, our own numbers: the core has no socket headers. */
enum keel_af {
	KEEL_AF_UNSPEC = 0,
	KEEL_AF_INET = 4,
	KEEL_AF_INET6 = 6,
};

/* An IP address and UDP port. IPv4 uses bytes[0..3]; port is in host order. */
struct keel_addr {
	enum keel_af family;
	uint8_t bytes[16];
	uint16_t port;
};

/* Bytes of the address part for family (4, 16; 0 for UNSPEC). */
ptrdiff_t keel_af_addr_len(enum keel_af family);

/* RFC 7296 §3.5 ID types. */
enum keel_id_type {
	KEEL_ID_NONE = 0, /* no identity configured */
	KEEL_ID_IPV4_ADDR = 1,
	KEEL_ID_FQDN = 2,
	KEEL_ID_RFC822_ADDR = 3,
	KEEL_ID_IPV6_ADDR = 5,
	KEEL_ID_DER_ASN1_DN = 9,
	KEEL_ID_KEY_ID = 11,
};

#define KEEL_ID_MAX_LEN 256

/* An IKE identity: type and the ID payload's identification data. */
struct keel_id {
	enum keel_id_type type;
	uint16_t len;
	uint8_t data[KEEL_ID_MAX_LEN];
};

/* IKEv2 traffic selector (RFC 7296 §3.13.1): an address range, protocol and port range. */
struct keel_ts {
	enum keel_af family;
	uint8_t ip_proto;    /* 0: any */
	uint16_t port_start; /* 0..65535: any */
	uint16_t port_end;
	uint8_t start[16]; /* IPv4 in the first 4 bytes */
	uint8_t end[16];
};

/* Proposal transform lists. Values are IANA IKEv2 transform IDs. */
#define KEEL_PROPOSAL_MAX_ALGS 8

struct keel_encr_alg {
	uint16_t id; /* Transform Type 1: 12 AES-CBC, 20 AES-GCM-16, 28 ChaCha20-Poly1305, ... */
	uint16_t key_bits; /* Key Length attribute (RFC 7296 §3.3.5); 0 for ChaCha20-Poly1305 */
};

/*
 * One proposal: any combination of the listed algorithms is acceptable
 * (RFC 7296 §3.3). For IKE: encr, prf, integ (empty with AEAD), dh (at least
 * one). For ESP: encr, integ (empty with AEAD), esn, and dh only for PFS in
 * CREATE_CHILD_SA (as in strongSwan, the groups are left out of IKE_AUTH).
 */
struct keel_proposal {
	uint8_t n_encr;
	struct keel_encr_alg encr[KEEL_PROPOSAL_MAX_ALGS];
	uint8_t n_prf;
	uint16_t prf[KEEL_PROPOSAL_MAX_ALGS]; /* Transform Type 2 */
	uint8_t n_integ;
	uint16_t integ[KEEL_PROPOSAL_MAX_ALGS]; /* Transform Type 3 */
	uint8_t n_dh;
	uint16_t dh[KEEL_PROPOSAL_MAX_ALGS]; /* Transform Type 4 */
	uint8_t n_esn;
	uint8_t esn[2]; /* Transform Type 5: 0 no ESN, 1 ESN; ESP only, empty means {0} */
};

enum keel_proposal_kind {
	KEEL_PROPOSAL_IKE,
	KEEL_PROPOSAL_ESP,
};

enum keel_auth_method {
	KEEL_AUTH_PSK = 1, /* RFC 7296 §2.15 shared key */
	KEEL_AUTH_CERT,    /* not yet implemented: keel_sa_new() says KEEL_ERR_UNSUPPORTED */
	KEEL_AUTH_EAP,     /* not yet implemented */
};

enum keel_log_level {
	KEEL_LOG_ERROR = 0, /* this connection failed, and why */
	KEEL_LOG_WARN = 1,  /* odd but continuing */
	KEEL_LOG_INFO = 2,  /* what a user cares about */
	KEEL_LOG_DEBUG = 3, /* exchanges and payload summaries */
};

/*
 * Lifetime of an SA. The engine rekeys at life_s - margin_s - a random
 * 0..jitter_s; life_s is the hard limit (0 everywhere: never rekey).
 */
struct keel_lifetime {
	uint32_t life_s;
	uint32_t margin_s;
	uint32_t jitter_s;
};

#define KEEL_MAX_PROPOSALS 8
#define KEEL_MAX_TS        16

struct keel_config {
	uint8_t ike_version; /* 2; 1 is reserved for IKEv1 (KEEL_ERR_UNSUPPORTED for now) */

	/*
	 * Where we send from and to. local.port / remote.port: the IKE ports of
	 * the first exchange (default 500 / 500; local may be an ephemeral
	 * port). After NAT detection (or with force_encap) every message moves
	 * to local_natt_port / remote_natt_port (default 4500 / 4500), RFC 7296
	 * §2.23. The addresses also feed the NAT_DETECTION hashes, so local must
	 * be the address the packets really leave from.
	 */
	struct keel_addr local;
	struct keel_addr remote;
	uint16_t local_natt_port;
	uint16_t remote_natt_port;

	/*
	 * Identities. local_id NONE: our address as IPV4/IPV6_ADDR. remote_id
	 * NONE: no IDr is sent and any gateway identity is accepted; otherwise
	 * IDr is sent and the gateway must identify as exactly remote_id (the
	 * profile default is the gateway as given, see keel_id_from_text()).
	 */
	struct keel_id local_id;
	struct keel_id remote_id;

	enum keel_auth_method auth;
	const struct keel_secret *psk; /* KEEL_AUTH_PSK; borrowed for keel_sa_new() */

	/* Empty (n == 0): Keel's defaults, see keel_config_init(). First is preferred. */
	size_t n_ike_proposals;
	struct keel_proposal ike_proposals[KEEL_MAX_PROPOSALS];
	size_t n_esp_proposals;
	struct keel_proposal esp_proposals[KEEL_MAX_PROPOSALS];

	/*
	 * Traffic selectors we ask for. Empty local_ts: 0.0.0.0-255.255.255.255
	 * (plus ::/0 when request_ip6); empty remote_ts: 0.0.0.0/0 and ::/0.
	 * The gateway may narrow them (RFC 7296 §2.9).
	 */
	size_t n_local_ts;
	struct keel_ts local_ts[KEEL_MAX_TS];
	size_t n_remote_ts;
	struct keel_ts remote_ts[KEEL_MAX_TS];

	/* Configuration payload requests (RFC 7296 §3.15). */
	bool request_ip4; /* INTERNAL_IP4_ADDRESS (default true) */
	bool request_ip6; /* INTERNAL_IP6_ADDRESS (default false) */
	bool request_dns; /* INTERNAL_IP4_DNS / INTERNAL_IP6_DNS for each family asked (default
	                     true) */

	/*
	 * UDP-encapsulate ESP even without a NAT (the TUN data path needs it):
	 * like strongSwan's encap=yes, our NAT_DETECTION_SOURCE_IP is a hash that
	 * cannot match, so both sides see a NAT, move to the NAT-T ports and
	 * encapsulate.
	 */
	bool force_encap;

	/*
	 * Retransmission (RFC 7296 §2.1, strongSwan's schedule): a request is
	 * resent after retransmit_timeout_ms, then each wait grows by
	 * retransmit_factor_permille/1000 (1800: x1.8), capped at
	 * retransmit_limit_ms (0: no cap); after retransmit_tries resends and one
	 * last wait the engine gives up. Defaults 4000, 1800, 5, 0 (give up after
	 * about 165 s).
	 */
	uint32_t retransmit_timeout_ms;
	uint32_t retransmit_factor_permille;
	uint32_t retransmit_tries;
	uint32_t retransmit_limit_ms;

	/* Liveness check when nothing was heard for this long (0: off). Default 30000. */
	uint32_t dpd_interval_ms;
	/* keel_sa_stop(): how long to wait for the answer to our DELETE. Default 3000. */
	uint32_t delete_timeout_ms;

	/* Defaults: IKE 14400 s rekey window (life 15840, margin 1440, jitter 1440); CHILD
	 * life 3960, margin 360, jitter 360. */
	struct keel_lifetime ike_lifetime;
	struct keel_lifetime child_lifetime;

	/* Lines below this level are not queued (default KEEL_LOG_INFO). */
	enum keel_log_level log_level;
};

/*
 * Fills c with every default: IKEv2, ports 500/4500, PSK auth (psk NULL: set
 * it), no identities, empty proposal and TS lists (Keel's defaults apply),
 * request_ip4 and request_dns, the timers above. Addresses are left UNSPEC.
 */
void keel_config_init(struct keel_config *c);

/*
 * Keel's default proposals, strong only, as offered when the config lists none:
 *   IKE: aes256gcm16-aes128gcm16-prfsha256-prfsha384-x25519-ecp256-modp2048,
 *        aes256-sha256-prfsha256-prfsha384-x25519-ecp256-modp2048
 *   ESP: aes256gcm16-aes128gcm16, aes256-sha256
 * Writes up to max proposals to out; returns how many.
 */
size_t keel_proposal_defaults(enum keel_proposal_kind kind, struct keel_proposal *out, size_t max);

/*
 * Parses one proposal in strongSwan syntax ("aes256gcm16-prfsha384-x25519",
 * "aes256-sha256-modp2048", ESP: "aes256gcm16", "aes128-sha256-esn").
 * Keywords: aes128/192/256 (CBC), aes128ctr..., aes128gcm8/12/16 (gcm = gcm16),
 * chacha20poly1305, sha1, sha256, sha384, sha512, aesxcbc, prfsha1..prfsha512,
 * prfaesxcbc, prfaescmac, modp2048..modp8192, ecp256/384/521, x25519
 * (curve25519), x448 (curve448), esn, noesn. For IKE, a missing PRF follows
 * the integrity algorithms (sha256 -> prfsha256), or with AEAD is
 * prfsha256-prfsha384-prfsha512. Writes *out on success.
 * Errors: KEEL_ERR_INVAL (unknown keyword: its byte offset goes to
 * *err_pos when err_pos is not NULL; or a proposal that cannot be complete,
 * e.g. CBC without integrity, IKE without a DH group, AEAD mixed with CBC).
 */
int keel_proposal_from_text(const char *text, enum keel_proposal_kind kind,
                            struct keel_proposal *out, size_t *err_pos);

/*
 * Writes p in the strongSwan syntax that keel_proposal_from_text() reads
 * ("aes256gcm16-prfsha256-x25519"; "noesn" alone is left out) into buf,
 * NUL-terminated. Returns the length without the NUL, or KEEL_ERR_NOBUF if it
 * does not fit (buf then holds a truncated string).
 */
ptrdiff_t keel_proposal_to_text(const struct keel_proposal *p, char *buf, size_t cap);

/*
 * Parses an identity as strongSwan does: an IPv4 or IPv6 literal is an
 * address ID; "@name" or a name without '@' is FQDN (without the '@');
 * "user@domain" is RFC822_ADDR; "@#hex" is KEY_ID. A distinguished name
 * (contains '=') is KEEL_ERR_UNSUPPORTED for now. Errors: KEEL_ERR_INVAL
 * (empty, too long, bad hex).
 */
int keel_id_from_text(const char *text, struct keel_id *out);

/*
 * Writes id as text (addresses in their usual notation, others as-is with
 * non-printable bytes escaped as \xHH) into buf, NUL-terminated. Returns the
 * length without the NUL or KEEL_ERR_NOBUF (truncated).
 */
ptrdiff_t keel_id_to_text(const struct keel_id *id, char *buf, size_t cap);

/*
 * Parses a traffic selector: "198.51.100.0/24", "2001:db8::/32", a single
 * address, or a range "192.0.2.10-192.0.2.20"; any protocol and port.
 * Errors: KEEL_ERR_INVAL.
 */
int keel_ts_from_text(const char *text, struct keel_ts *out);

/* Writes ts as "198.51.100.0/24" (or "a-b" for a non-prefix range). Like keel_id_to_text(). */
ptrdiff_t keel_ts_to_text(const struct keel_ts *ts, char *buf, size_t cap);

#endif
