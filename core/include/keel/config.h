/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the IKE engine needs to know about one connection: addresses,
 * identities, the secret, proposals, traffic selectors and timers.
 *
 * A struct keel_config is a plain value. Fill it with keel_config_init()
 * (every default below), change what the profile says, and hand it to
 * keel_sa_new(), which copies everything it keeps (including the PSK, the
 * private key and the EAP password, which it wipes once it no longer needs
 * them). The config and everything it points to are borrowed for that call
 * only.
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
 * For AH (RFC 4302): integ (HMAC-SHA2 only), esn and dh as for ESP; no encr.
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
	uint8_t esn[2]; /* Transform Type 5: 0 no ESN, 1 ESN; ESP and AH, empty means {0} */
};

enum keel_proposal_kind {
	KEEL_PROPOSAL_IKE,
	KEEL_PROPOSAL_ESP,
	KEEL_PROPOSAL_AH,
};

/*
 * How we authenticate. The gateway always proves itself: with the PSK under
 * KEEL_AUTH_PSK, with its certificate under KEEL_AUTH_CERT and KEEL_AUTH_EAP
 * (or, under EAP with eap_only, with a mutually authenticating EAP method).
 */
enum keel_auth_method {
	KEEL_AUTH_PSK = 1, /* RFC 7296 §2.15 shared key */
	KEEL_AUTH_CERT,    /* our certificate and private key: signatures (RFC 7427) */
	KEEL_AUTH_EAP,     /* EAP with a user name and password (RFC 7296 §2.16) */
};

/* EAP methods the user allows (keel_config.eap_methods); the gateway picks one. */
#define KEEL_EAP_METHOD_MSCHAPV2 (1u << 0) /* EAP-MSCHAPv2: proves the gateway too, makes keys */
#define KEEL_EAP_METHOD_GTC      (1u << 1) /* EAP-GTC: the password in clear inside IKE */
#define KEEL_EAP_METHOD_MD5      (1u << 2) /* EAP-MD5-Challenge */
#define KEEL_EAP_METHODS_ALL     (KEEL_EAP_METHOD_MSCHAPV2 | KEEL_EAP_METHOD_GTC | KEEL_EAP_METHOD_MD5)

/* The default keel_config.fragment_size (strongSwan's too). */
#define KEEL_FRAGMENT_SIZE_DEFAULT 1280
/* The smallest fragment_size accepted (RFC 791's 576-byte datagram every host takes). */
#define KEEL_FRAGMENT_SIZE_MIN 576

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

/* IKEv1 phase 1 exchange (RFC 2409 §5, §5.4). */
enum keel_ikev1_mode {
	KEEL_IKEV1_MAIN = 0,   /* Identity Protection */
	KEEL_IKEV1_AGGRESSIVE, /* 3 messages, the identity in clear */
};

/* IKEv1 Mode Config (draft-dukes-ike-mode-cfg-02). */
enum keel_ikev1_modecfg {
	KEEL_IKEV1_MODECFG_PULL = 0, /* we send a REQUEST; a SET is accepted too */
	KEEL_IKEV1_MODECFG_PUSH,     /* we wait for the gateway's SET and ACK it */
	KEEL_IKEV1_MODECFG_OFF,      /* no virtual IP */
};

#define KEEL_MAX_PROPOSALS 8
#define KEEL_MAX_TS        16

struct keel_config {
	uint8_t ike_version; /* 2 (default) or 1: IKEv1, see the IKEv1 fields at the end */

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
	 * Identities. local_id NONE: our address as IPV4/IPV6_ADDR (with
	 * KEEL_AUTH_CERT: our certificate's subject DN). remote_id NONE: no IDr
	 * is sent and any gateway identity is accepted (a certificate must
	 * still name the IDr the gateway sent); otherwise IDr is sent and the
	 * gateway must identify as exactly remote_id, or, when it proves itself
	 * with a certificate, present one naming remote_id (the profile default
	 * is the gateway as given, see keel_id_from_text()).
	 */
	struct keel_id local_id;
	struct keel_id remote_id;

	enum keel_auth_method auth;
	const struct keel_secret *psk; /* KEEL_AUTH_PSK; borrowed for keel_sa_new() */

	/*
	 * Certificates. Everything below is handed over as bytes (the core
	 * reads no files): borrowed for keel_sa_new(), which parses what it
	 * needs and keeps its own copies (key material wiped when no longer
	 * needed, at the latest by keel_sa_free()).
	 *
	 * cert / cert_len (KEEL_AUTH_CERT): our certificate, then any
	 * intermediate CA certificates to send with it: PEM text with one or
	 * more CERTIFICATE blocks, or one DER certificate. May be NULL when key
	 * is a PKCS#12 file, whose certificates are used then.
	 * key (KEEL_AUTH_CERT): the contents of our private key file: PEM or
	 * DER (PKCS#8, encrypted PKCS#8, traditional RSA or EC keys with or
	 * without PEM encryption) or a PKCS#12 file (key and certificates).
	 * RSA, ECDSA P-256/P-384/P-521, Ed25519 and Ed448 keys are used.
	 * key_passphrase: unlocks an encrypted key or PKCS#12 file; NULL: none.
	 * A missing or wrong passphrase makes keel_sa_new() fail with
	 * KEEL_ERR_AUTH (and keel_config_check() say which).
	 * rsa_pss: with an RSA key, sign with RSASSA-PSS rather than PKCS#1
	 * v1.5 when the gateway takes RFC 7427 signatures (default false).
	 */
	const uint8_t *cert;
	ptrdiff_t cert_len;
	const struct keel_secret *key;
	const struct keel_secret *key_passphrase;
	bool rsa_pss;

	/*
	 * What the gateway's certificate (KEEL_AUTH_CERT, KEEL_AUTH_EAP) must
	 * chain to: ca / ca_len, the profile's CA certificates (PEM with one or
	 * more CERTIFICATE blocks, or one DER certificate; an intermediate CA
	 * may be the anchor), and, with use_system_ca, the system's bundle that
	 * the caller read into system_ca / system_ca_len (PEM). At least one is
	 * required: Keel never accepts a gateway it cannot verify. With
	 * use_system_ca remote_id is required too, since any server of any
	 * public CA would match otherwise. Our CERTREQ names the profile's CAs
	 * (RFC 7296 §3.7), not the system's.
	 *
	 * The gateway's certificate must be valid at now_wall_s (seconds since
	 * the Unix epoch, UTC, read by the caller just before keel_sa_new();
	 * the core has no clock; required with KEEL_AUTH_CERT and EAP),
	 * have digitalSignature or nonRepudiation in keyUsage and serverAuth,
	 * ipsecIKE or anyExtendedKeyUsage in extendedKeyUsage when present, and
	 * name the expected identity: remote_id, or without one the IDr the
	 * gateway sent, in its subjectAltName (DNS, IP, email) or else its
	 * subject DN. When the gateway's IDr differs from remote_id, the
	 * certificate must name both.
	 *
	 * crl / crl_len: certificate revocation lists (PEM with one or more
	 * X509 CRL blocks, or one DER CRL; RFC 5280 §5), optional. Given, every
	 * certificate of the gateway's chain is checked against them and each
	 * CA of the chain must have a CRL there that is valid at now_wall_s and
	 * signed by it: a revoked certificate fails (KEEL_REASON_CERT_UNTRUSTED,
	 * "... has been revoked"), and so does one whose CA has no CRL (Keel
	 * does not fetch CRLs or ask OCSP servers).
	 */
	const uint8_t *ca;
	ptrdiff_t ca_len;
	bool use_system_ca;
	const uint8_t *system_ca;
	ptrdiff_t system_ca_len;
	const uint8_t *crl;
	ptrdiff_t crl_len;
	int64_t now_wall_s;

	/*
	 * EAP (KEEL_AUTH_EAP, RFC 7296 §2.16). eap_identity: the EAP identity
	 * (user name, may be DOMAIN\user), NUL-terminated UTF-8, at most 253
	 * bytes; NULL: local_id as text. eap_password: required. Both borrowed
	 * for keel_sa_new() and copied (the password into wiped memory).
	 * eap_methods: KEEL_EAP_METHOD_* the user allows, 0: all; the gateway
	 * proposes, a method not allowed is answered with a Nak listing the
	 * allowed ones (MS-CHAPv2, GTC, MD5 in that order).
	 * eap_only: offer EAP-only authentication (RFC 5998): if the gateway
	 * takes it, it sends no certificate and proves itself through the EAP
	 * method alone, so only EAP-MSCHAPv2 is then accepted and its MSK must
	 * confirm both AUTH payloads. Default false (the gateway's certificate
	 * is required). Needs KEEL_EAP_METHOD_MSCHAPV2 allowed; without trust
	 * anchors, a gateway that does not take EAP-only fails. In EAP-only the
	 * gateway's IDr must be exactly remote_id (when one is set).
	 */
	const char *eap_identity;
	const struct keel_secret *eap_password;
	unsigned eap_methods;
	bool eap_only;

	/*
	 * IKE fragmentation (RFC 7383): announced in IKE_SA_INIT when
	 * fragmentation is true (default); if the gateway announces it too,
	 * every later message of ours whose datagram would exceed fragment_size
	 * bytes (the whole IP packet: IP and UDP headers and the NAT-T marker
	 * included) goes in encrypted fragments, so certificate chains get
	 * through paths that drop IP fragments. Default KEEL_FRAGMENT_SIZE_DEFAULT
	 * (1280); at least KEEL_FRAGMENT_SIZE_MIN. Fragmented messages from the
	 * gateway are reassembled whatever this says.
	 */
	bool fragmentation;
	uint16_t fragment_size;

	/* Empty (n == 0): Keel's defaults, see keel_config_init(). First is preferred. */
	size_t n_ike_proposals;
	struct keel_proposal ike_proposals[KEEL_MAX_PROPOSALS];
	size_t n_esp_proposals;
	struct keel_proposal esp_proposals[KEEL_MAX_PROPOSALS];
	/*
	 * AH (RFC 4302) instead of ESP: when n_ah_proposals > 0 every CHILD SA
	 * is negotiated with protocol AH from these proposals (esp_proposals
	 * are then ignored), IKEv2 and IKEv1 quick mode alike. AH protects the
	 * outer IP addresses, so it cannot cross a NAT: with AH, force_encap
	 * is refused, and a NAT detected between us and the gateway fails the
	 * connection with KEEL_REASON_CONFIG. The data path must be the
	 * kernel's (AH has no UDP encapsulation).
	 */
	size_t n_ah_proposals;
	struct keel_proposal ah_proposals[KEEL_MAX_PROPOSALS];

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

	/*
	 * IKEv1 only (ike_version 1, RFC 2409); IKEv2 ignores them. IKEv1
	 * takes KEEL_AUTH_PSK and KEEL_AUTH_CERT (RSA signatures, RFC 2409
	 * §5.1, or ECDSA with a P-256/P-384/P-521 key, RFC 4754 methods 9-11;
	 * the gateway's certificate is verified as for IKEv2 and its key must
	 * fit the same method);
	 * ike_proposals / esp_proposals are mapped to their IKEv1 forms (AEAD
	 * ciphers have none in phase 1).
	 * ikev1_mode: phase 1 exchange (default KEEL_IKEV1_MAIN). Aggressive
	 * Mode sends our identity (the group name) in clear and lets an
	 * eavesdropper try PSKs offline; the engine logs that once at warn
	 * level when it starts.
	 * xauth: the proposals carry XAUTH-PSK (draft-beaulieu-ike-xauth-02)
	 * and the gateway's user name and password request is answered with
	 * xauth_user (text, 1..255 bytes) and xauth_password (0..255 bytes),
	 * both required then. Borrowed for keel_sa_new(), which copies them
	 * and wipes the copies when the SA is freed. Default false, NULL.
	 * With KEEL_AUTH_CERT the method is XAUTH with RSA signatures (XAUTHInitRSA):
	 * an ECDSA key is refused there.
	 * ikev1_hybrid: hybrid authentication (draft-ietf-ipsec-isakmp-hybrid-auth-05,
	 * HybridInitRSA): the gateway signs with its certificate, verified as
	 * for KEEL_AUTH_CERT (ca, use_system_ca, now_wall_s, remote_id), and we
	 * prove ourselves with XAUTH alone (xauth required); auth and psk are
	 * then ignored. Default false.
	 * ikev1_modecfg: how Mode Config gives us a virtual IP
	 * (draft-dukes-ike-mode-cfg-02): we ask (PULL, default), the gateway
	 * pushes (PUSH), or none (OFF).
	 * ikev1_pfs_group: quick mode PFS group (14..21, 31, 32), 0 for none
	 * (default).
	 */
	enum keel_ikev1_mode ikev1_mode;
	bool xauth;
	const struct keel_secret *xauth_user;
	const struct keel_secret *xauth_password;
	bool ikev1_hybrid;
	enum keel_ikev1_modecfg ikev1_modecfg;
	uint16_t ikev1_pfs_group;
};

/*
 * Fills c with every default: IKEv2, ports 500/4500, PSK auth (psk NULL: set
 * it), no identities, empty proposal and TS lists (Keel's defaults apply),
 * request_ip4 and request_dns, the timers above, fragmentation on with
 * fragment_size 1280, every EAP method allowed; for IKEv1 Main Mode, no XAUTH,
 * Mode Config pull, no PFS. Addresses are left UNSPEC,
 * credentials NULL.
 */
void keel_config_init(struct keel_config *c);

/*
 * Checks cfg as keel_sa_new() does (IKEv2 or IKEv1), parsing the certificates,
 * the private key and the trust anchors, without making an SA. Returns
 * what keel_sa_new() would return (0 when it would succeed). On an error,
 * why (cap bytes, may be NULL) gets one sentence for the user naming the
 * setting and the problem ("the private key's passphrase is wrong", "the
 * certificate does not belong to the private key"), never a secret; on
 * success why is "". Errors as keel_sa_new() (keel/ike.h).
 */
int keel_config_check(const struct keel_config *cfg, char *why, size_t cap);

/*
 * Keel's default proposals, strong only, as offered when the config lists none:
 *   IKE: aes256gcm16-aes128gcm16-prfsha256-prfsha384-x25519-ecp256-modp2048,
 *        aes256-sha256-prfsha256-prfsha384-x25519-ecp256-modp2048
 *   ESP: aes256gcm16-aes128gcm16, aes256-sha256
 *   AH:  sha256-sha384-sha512
 * Writes up to max proposals to out; returns how many.
 */
size_t keel_proposal_defaults(enum keel_proposal_kind kind, struct keel_proposal *out, size_t max);

/*
 * Parses one proposal in strongSwan syntax ("aes256gcm16-prfsha384-x25519",
 * "aes256-sha256-modp2048", ESP: "aes256gcm16", "aes128-sha256-esn").
 * Keywords: aes128/192/256 (CBC), aes128ctr..., aes128gcm8/12/16 (gcm = gcm16),
 * chacha20poly1305, sha1, sha256, sha384, sha512, aesxcbc, prfsha1..prfsha512,
 * prfaesxcbc, prfaescmac, modp2048..modp8192, ecp256/384/521, x25519
 * (curve25519), x448 (curve448), esn, noesn. AH ("sha256", "sha384-esn",
 * "sha256-modp3072"): sha256, sha384 and sha512 only (HMAC-SHA2-256-128,
 * -384-192, -512-256), with esn/noesn and PFS groups. For IKE, a missing PRF follows
 * the integrity algorithms (sha256 -> prfsha256), or with AEAD is
 * prfsha256-prfsha384-prfsha512. Writes *out on success.
 * Errors: KEEL_ERR_INVAL (unknown keyword: its byte offset goes to
 * *err_pos when err_pos is not NULL; or a proposal that cannot be complete,
 * e.g. CBC without integrity, IKE without a DH group, AEAD mixed with CBC,
 * AH with a cipher or without integrity).
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
 * "user@domain" is RFC822_ADDR; "@#hex" is KEY_ID; text with '=' is a
 * distinguished name, "C=CH, O=Example, CN=gw" or "/C=CH/O=Example/CN=gw",
 * DER_ASN1_DN (the DER of the X.509 Name). Errors: KEEL_ERR_INVAL (empty,
 * too long, bad hex, a DN that does not parse), KEEL_ERR_NOMEM.
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
