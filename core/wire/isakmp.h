/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ISAKMP / IKEv1 wire codec: the message header, the payload chain, every
 * payload Keel speaks in IKEv1 and the data attributes inside them.
 *
 * Sources: RFC 2408 (ISAKMP), RFC 2409 (IKE), RFC 2407 (IPsec DOI), RFC 3947
 * (NAT-T), RFC 3706 (DPD), draft-beaulieu-ike-xauth-02 (XAUTH),
 * draft-dukes-ike-mode-cfg-02 (Mode Config), Cisco Unity and Cisco-style IKE
 * fragmentation as deployed.
 *
 * Decoding
 * --------
 * Decoders fill structs that BORROW from the input buffer: every pointer in a
 * decoded struct points into the caller's bytes and is valid as long as they
 * are. Nothing is allocated. Arrays have fixed caps (KEEL_V1_MAX_*); input
 * past a cap is KEEL_ERR_MALFORMED. Out-parameters are written only on
 * success.
 *
 * Two steps, as everywhere in Keel:
 *  1. structural decode (*_decode): lengths, counts, nesting. Anything that
 *     does not add up is KEEL_ERR_MALFORMED.
 *  2. semantic checks (*_verify): known types, sizes the RFCs require
 *     (nonce 8..256 bytes, SPI sizes, DOI 1, ...). KEEL_ERR_MALFORMED too.
 *
 * Receiving a message:
 *
 *     struct keel_v1_msg m;
 *     rc = keel_v1_msg_decode(dgram, dgram_len, &m);
 *     if (rc == 0 && (m.hdr.flags & KEEL_V1_FLAG_ENC)) {
 *             // m.enc / m.enc_len: the ciphertext after the 28-byte header,
 *             // opaque until the engine decrypts it into `plain`
 *             rc = keel_v1_chain_decode(m.hdr.next, plain, plain_len, true, &m);
 *     }
 *     if (rc == 0)
 *             rc = keel_v1_msg_verify(&m);
 *     // m borrows from dgram, and its payloads from plain: keep both alive
 *     for (pl = keel_v1_msg_next(&m, KEEL_V1_PL_VID, NULL); pl;
 *          pl = keel_v1_msg_next(&m, KEEL_V1_PL_VID, pl)) ...
 *     keel_v1_sa_decode(pl, &sa); keel_v1_id_decode(pl, &id); ...
 *
 * keel_v1_msg_decode() and keel_v1_chain_decode() run every typed decoder on
 * the payloads they know, so once they succeed the typed decoders cannot fail
 * on those payloads. KE, HASH, SIG, Nonce, Vendor ID and NAT-D have no inner
 * structure: their data is the payload body (pl->body, pl->len).
 *
 * Padding of decrypted bodies: RFC 2408 §3.1 counts the padding an encrypted
 * body needs (RFC 2409 Appendix B: CBC, the plaintext a whole number of
 * blocks) in the header length. Senders fill it with zeros or put the pad
 * length in its last byte, and some (strongSwan 5.9) add a whole block when
 * the payloads end on a block boundary. keel_v1_chain_decode(padded = true)
 * therefore stops at the payload whose next-payload field is 0 and accepts up
 * to KEEL_V1_MAX_PAD_LEN following bytes of any content, reported in pad_len.
 * Cleartext chains (padded = false) must end exactly with their last payload.
 *
 * Encoding
 * --------
 * struct keel_v1_enc writes a header and a payload chain through a struct
 * keel_wr: every payload's next-payload field is filled in by the payload
 * that follows it (0 for the last one), length fields are reserved and
 * back-patched, and the header length is patched by keel_v1_enc_finish().
 * Encoders do not return errors one by one: the first problem sticks in the
 * encoder (KEEL_ERR_INVAL for a value the format cannot carry, KEEL_ERR_STATE
 * for begin/end calls out of order, KEEL_ERR_NOBUF for a full buffer) and
 * keel_v1_enc_finish() reports it.
 *
 *     struct keel_wr w = keel_wr_init(buf, sizeof(buf));
 *     struct keel_v1_enc e;
 *     keel_v1_enc_init(&e, &w, &hdr);         // hdr.flags has KEEL_V1_FLAG_ENC
 *     ptrdiff_t hash_at = keel_v1_enc_hash_slot(&e, hash_len);
 *     keel_v1_enc_sa_begin(&e, KEEL_V1_DOI_IPSEC, KEEL_V1_SIT_IDENTITY_ONLY);
 *     keel_v1_enc_proposal_begin(&e, 1, KEEL_V1_PROTO_ESP, spi, 4);
 *     keel_v1_enc_transform_begin(&e, 1, KEEL_V1_ESP_AES_CBC);
 *     keel_v1_enc_attr_basic(&e, KEEL_V1_IPSEC_ATTR_KEY_LENGTH, 256);
 *     ...
 *     keel_v1_enc_transform_end(&e);
 *     keel_v1_enc_proposal_end(&e);
 *     keel_v1_enc_sa_end(&e);
 *     keel_v1_enc_data(&e, KEEL_V1_PL_NONCE, nonce, nonce_len);
 *     size_t chain_end = keel_wr_pos(&w);    // HASH(1) covers up to here
 *     keel_v1_enc_pad(&e, block_len);
 *     ptrdiff_t n = keel_v1_enc_finish(&e);
 *
 * Encrypting (RFC 2408 §3.1, RFC 2409 Appendix B): IKEv1 encrypts everything
 * after the 28-byte header. keel_v1_enc_pad() appends zero bytes until the
 * body (from KEEL_V1_HDR_LEN past the header to the end) is a whole number of
 * cipher blocks, and keel_v1_enc_finish() writes a header length that covers
 * the padding. The engine then computes any HASH over the unpadded payloads,
 * fills in the slot, and encrypts buf[KEEL_V1_HDR_LEN .. n) in place with the
 * cipher's own padding switched off: ciphertext and plaintext have the same
 * length, so the header stays valid.
 */
#ifndef KEEL_WIRE_ISAKMP_H
#define KEEL_WIRE_ISAKMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define KEEL_V1_HDR_LEN         28 /* RFC 2408 §3.1 */
#define KEEL_V1_GENERIC_HDR_LEN 4  /* RFC 2408 §3.2 */
#define KEEL_V1_COOKIE_LEN      8
#define KEEL_V1_VERSION         0x10 /* major 1, minor 0 */

/* Caps: input beyond them is KEEL_ERR_MALFORMED. */
#define KEEL_V1_MAX_PAYLOADS   32  /* payloads in one message */
#define KEEL_V1_MAX_PROPOSALS  16  /* proposals in one SA payload */
#define KEEL_V1_MAX_TRANSFORMS 256 /* transforms in one SA payload, all proposals */
#define KEEL_V1_MAX_ATTRS      64  /* data attributes in one transform or attribute payload */
#define KEEL_V1_MAX_PAD_LEN    255 /* padding after the last decrypted payload */

/* Header flags, RFC 2408 §3.1 */
#define KEEL_V1_FLAG_ENC       0x01
#define KEEL_V1_FLAG_COMMIT    0x02
#define KEEL_V1_FLAG_AUTH_ONLY 0x04

/* Payload types: RFC 2408 §3.1, RFC 2409, RFC 3947 §3.2/§5, drafts, Cisco */
enum keel_v1_payload_type {
	KEEL_V1_PL_NONE = 0,
	KEEL_V1_PL_SA = 1,
	KEEL_V1_PL_PROPOSAL = 2,  /* only inside an SA payload */
	KEEL_V1_PL_TRANSFORM = 3, /* only inside a proposal */
	KEEL_V1_PL_KE = 4,
	KEEL_V1_PL_ID = 5,
	KEEL_V1_PL_CERT = 6,
	KEEL_V1_PL_CR = 7,
	KEEL_V1_PL_HASH = 8,
	KEEL_V1_PL_SIG = 9,
	KEEL_V1_PL_NONCE = 10,
	KEEL_V1_PL_NOTIFY = 11,
	KEEL_V1_PL_DELETE = 12,
	KEEL_V1_PL_VID = 13,
	KEEL_V1_PL_ATTR = 14, /* Mode Config / XAUTH attribute payload */
	KEEL_V1_PL_NAT_D = 20,
	KEEL_V1_PL_NAT_OA = 21,
	KEEL_V1_PL_NAT_D_DRAFT = 130, /* draft-ietf-ipsec-nat-t-ike-02/03 */
	KEEL_V1_PL_NAT_OA_DRAFT = 131,
	KEEL_V1_PL_FRAG = 132, /* Cisco-style IKE fragmentation */
};

/* Exchange types, RFC 2408 §3.1 / RFC 2409 */
enum keel_v1_exchange {
	KEEL_V1_EXCH_NONE = 0,
	KEEL_V1_EXCH_BASE = 1,
	KEEL_V1_EXCH_MAIN = 2, /* Identity Protection */
	KEEL_V1_EXCH_AUTH_ONLY = 3,
	KEEL_V1_EXCH_AGGRESSIVE = 4,
	KEEL_V1_EXCH_INFO = 5,
	KEEL_V1_EXCH_TRANSACTION = 6, /* Mode Config / XAUTH */
	KEEL_V1_EXCH_QUICK = 32,
	KEEL_V1_EXCH_NEW_GROUP = 33,
};

/* Domain of interpretation and situation, RFC 2408 §3.4, RFC 2407 §4.2 */
#define KEEL_V1_DOI_ISAKMP        0
#define KEEL_V1_DOI_IPSEC         1
#define KEEL_V1_SIT_IDENTITY_ONLY 0x01
#define KEEL_V1_SIT_SECRECY       0x02
#define KEEL_V1_SIT_INTEGRITY     0x04

/* Protocol IDs, RFC 2407 §4.4.1 */
enum keel_v1_protocol {
	KEEL_V1_PROTO_ISAKMP = 1,
	KEEL_V1_PROTO_AH = 2,
	KEEL_V1_PROTO_ESP = 3,
	KEEL_V1_PROTO_IPCOMP = 4,
};

/* Transform IDs. ISAKMP: RFC 2407 §4.4.2; AH §4.4.3; ESP §4.4.4 + IANA */
#define KEEL_V1_KEY_IKE 1
enum keel_v1_ah_id {
	KEEL_V1_AH_MD5 = 2,
	KEEL_V1_AH_SHA = 3,
	KEEL_V1_AH_DES = 4,
	KEEL_V1_AH_SHA2_256 = 5,
	KEEL_V1_AH_SHA2_384 = 6,
	KEEL_V1_AH_SHA2_512 = 7,
};
enum keel_v1_esp_id {
	KEEL_V1_ESP_DES_IV64 = 1,
	KEEL_V1_ESP_DES = 2,
	KEEL_V1_ESP_3DES = 3,
	KEEL_V1_ESP_RC5 = 4,
	KEEL_V1_ESP_IDEA = 5,
	KEEL_V1_ESP_CAST = 6,
	KEEL_V1_ESP_BLOWFISH = 7,
	KEEL_V1_ESP_3IDEA = 8,
	KEEL_V1_ESP_DES_IV32 = 9,
	KEEL_V1_ESP_RC4 = 10,
	KEEL_V1_ESP_NULL = 11,
	KEEL_V1_ESP_AES_CBC = 12,
	KEEL_V1_ESP_AES_CTR = 13,
	KEEL_V1_ESP_AES_CCM_8 = 14,
	KEEL_V1_ESP_AES_CCM_12 = 15,
	KEEL_V1_ESP_AES_CCM_16 = 16,
	KEEL_V1_ESP_AES_GCM_8 = 18,
	KEEL_V1_ESP_AES_GCM_12 = 19,
	KEEL_V1_ESP_AES_GCM_16 = 20,
	KEEL_V1_ESP_NULL_AES_GMAC = 21,
	KEEL_V1_ESP_CAMELLIA = 22,
};

/* Identification types, RFC 2407 §4.6.2.1 */
enum keel_v1_id_type {
	KEEL_V1_ID_IPV4_ADDR = 1,
	KEEL_V1_ID_FQDN = 2,
	KEEL_V1_ID_USER_FQDN = 3,
	KEEL_V1_ID_IPV4_ADDR_SUBNET = 4,
	KEEL_V1_ID_IPV6_ADDR = 5,
	KEEL_V1_ID_IPV6_ADDR_SUBNET = 6,
	KEEL_V1_ID_IPV4_ADDR_RANGE = 7,
	KEEL_V1_ID_IPV6_ADDR_RANGE = 8,
	KEEL_V1_ID_DER_ASN1_DN = 9,
	KEEL_V1_ID_DER_ASN1_GN = 10,
	KEEL_V1_ID_KEY_ID = 11,
};

/* Certificate encodings, RFC 2408 §3.9 */
enum keel_v1_cert_encoding {
	KEEL_V1_CERT_NONE = 0,
	KEEL_V1_CERT_PKCS7 = 1,
	KEEL_V1_CERT_PGP = 2,
	KEEL_V1_CERT_DNS_KEY = 3,
	KEEL_V1_CERT_X509_SIG = 4,
	KEEL_V1_CERT_X509_KE = 5,
	KEEL_V1_CERT_KERBEROS = 6,
	KEEL_V1_CERT_CRL = 7,
	KEEL_V1_CERT_ARL = 8,
	KEEL_V1_CERT_SPKI = 9,
	KEEL_V1_CERT_X509_ATTR = 10,
};

/* Notify message types: RFC 2408 §3.14.1, RFC 2407 §4.6.3, RFC 3706 §5 */
enum keel_v1_notify_type {
	KEEL_V1_N_INVALID_PAYLOAD_TYPE = 1,
	KEEL_V1_N_DOI_NOT_SUPPORTED = 2,
	KEEL_V1_N_SITUATION_NOT_SUPPORTED = 3,
	KEEL_V1_N_INVALID_COOKIE = 4,
	KEEL_V1_N_INVALID_MAJOR_VERSION = 5,
	KEEL_V1_N_INVALID_MINOR_VERSION = 6,
	KEEL_V1_N_INVALID_EXCHANGE_TYPE = 7,
	KEEL_V1_N_INVALID_FLAGS = 8,
	KEEL_V1_N_INVALID_MESSAGE_ID = 9,
	KEEL_V1_N_INVALID_PROTOCOL_ID = 10,
	KEEL_V1_N_INVALID_SPI = 11,
	KEEL_V1_N_INVALID_TRANSFORM_ID = 12,
	KEEL_V1_N_ATTRIBUTES_NOT_SUPPORTED = 13,
	KEEL_V1_N_NO_PROPOSAL_CHOSEN = 14,
	KEEL_V1_N_BAD_PROPOSAL_SYNTAX = 15,
	KEEL_V1_N_PAYLOAD_MALFORMED = 16,
	KEEL_V1_N_INVALID_KEY_INFORMATION = 17,
	KEEL_V1_N_INVALID_ID_INFORMATION = 18,
	KEEL_V1_N_INVALID_CERT_ENCODING = 19,
	KEEL_V1_N_INVALID_CERTIFICATE = 20,
	KEEL_V1_N_CERT_TYPE_UNSUPPORTED = 21,
	KEEL_V1_N_INVALID_CERT_AUTHORITY = 22,
	KEEL_V1_N_INVALID_HASH_INFORMATION = 23,
	KEEL_V1_N_AUTHENTICATION_FAILED = 24,
	KEEL_V1_N_INVALID_SIGNATURE = 25,
	KEEL_V1_N_ADDRESS_NOTIFICATION = 26,
	KEEL_V1_N_NOTIFY_SA_LIFETIME = 27,
	KEEL_V1_N_CERTIFICATE_UNAVAILABLE = 28,
	KEEL_V1_N_UNSUPPORTED_EXCHANGE_TYPE = 29,
	KEEL_V1_N_UNEQUAL_PAYLOAD_LENGTHS = 30,
	KEEL_V1_N_CONNECTED = 16384,
	KEEL_V1_N_RESPONDER_LIFETIME = 24576,
	KEEL_V1_N_REPLAY_STATUS = 24577,
	KEEL_V1_N_INITIAL_CONTACT = 24578,
	KEEL_V1_N_R_U_THERE = 36136,
	KEEL_V1_N_R_U_THERE_ACK = 36137,
};
/* Types below this are errors (RFC 2408 §3.14.1), from it on status. */
#define KEEL_V1_N_ERROR_MAX 16383

/* IKE phase 1 SA attribute classes, RFC 2409 Appendix A */
enum keel_v1_ike_attr {
	KEEL_V1_IKE_ATTR_ENCR = 1,
	KEEL_V1_IKE_ATTR_HASH = 2,
	KEEL_V1_IKE_ATTR_AUTH_METHOD = 3,
	KEEL_V1_IKE_ATTR_GROUP_DESC = 4,
	KEEL_V1_IKE_ATTR_GROUP_TYPE = 5,
	KEEL_V1_IKE_ATTR_GROUP_PRIME = 6,
	KEEL_V1_IKE_ATTR_GROUP_GEN_ONE = 7,
	KEEL_V1_IKE_ATTR_GROUP_GEN_TWO = 8,
	KEEL_V1_IKE_ATTR_GROUP_CURVE_A = 9,
	KEEL_V1_IKE_ATTR_GROUP_CURVE_B = 10,
	KEEL_V1_IKE_ATTR_LIFE_TYPE = 11,
	KEEL_V1_IKE_ATTR_LIFE_DURATION = 12,
	KEEL_V1_IKE_ATTR_PRF = 13,
	KEEL_V1_IKE_ATTR_KEY_LENGTH = 14,
	KEEL_V1_IKE_ATTR_FIELD_SIZE = 15,
	KEEL_V1_IKE_ATTR_GROUP_ORDER = 16,
};
/* Encryption algorithm values, RFC 2409 Appendix A + IANA */
enum keel_v1_ike_encr {
	KEEL_V1_ENCR_DES_CBC = 1,
	KEEL_V1_ENCR_IDEA_CBC = 2,
	KEEL_V1_ENCR_BLOWFISH_CBC = 3,
	KEEL_V1_ENCR_RC5_CBC = 4,
	KEEL_V1_ENCR_3DES_CBC = 5,
	KEEL_V1_ENCR_CAST_CBC = 6,
	KEEL_V1_ENCR_AES_CBC = 7,
	KEEL_V1_ENCR_CAMELLIA_CBC = 8,
};
/* Hash algorithm values */
enum keel_v1_ike_hash {
	KEEL_V1_HASH_MD5 = 1,
	KEEL_V1_HASH_SHA1 = 2,
	KEEL_V1_HASH_TIGER = 3,
	KEEL_V1_HASH_SHA2_256 = 4,
	KEEL_V1_HASH_SHA2_384 = 5,
	KEEL_V1_HASH_SHA2_512 = 6,
};
/* Authentication methods: RFC 2409 App. A, RFC 4754, XAUTH and hybrid drafts */
enum keel_v1_auth_method {
	KEEL_V1_AUTH_PSK = 1,
	KEEL_V1_AUTH_DSS_SIG = 2,
	KEEL_V1_AUTH_RSA_SIG = 3,
	KEEL_V1_AUTH_RSA_ENC = 4,
	KEEL_V1_AUTH_RSA_ENC_REV = 5,
	KEEL_V1_AUTH_ECDSA_256 = 9,
	KEEL_V1_AUTH_ECDSA_384 = 10,
	KEEL_V1_AUTH_ECDSA_521 = 11,
	KEEL_V1_AUTH_HYBRID_INIT_RSA = 64221,
	KEEL_V1_AUTH_HYBRID_RESP_RSA = 64222,
	KEEL_V1_AUTH_HYBRID_INIT_DSS = 64223,
	KEEL_V1_AUTH_HYBRID_RESP_DSS = 64224,
	KEEL_V1_AUTH_XAUTH_INIT_PSK = 65001,
	KEEL_V1_AUTH_XAUTH_RESP_PSK = 65002,
	KEEL_V1_AUTH_XAUTH_INIT_DSS = 65003,
	KEEL_V1_AUTH_XAUTH_RESP_DSS = 65004,
	KEEL_V1_AUTH_XAUTH_INIT_RSA = 65005,
	KEEL_V1_AUTH_XAUTH_RESP_RSA = 65006,
	KEEL_V1_AUTH_XAUTH_INIT_RSA_ENC = 65007,
	KEEL_V1_AUTH_XAUTH_RESP_RSA_ENC = 65008,
	KEEL_V1_AUTH_XAUTH_INIT_RSA_ENC_REV = 65009,
	KEEL_V1_AUTH_XAUTH_RESP_RSA_ENC_REV = 65010,
};
/* Group type and life type values (phase 1) */
#define KEEL_V1_GROUP_TYPE_MODP 1
#define KEEL_V1_GROUP_TYPE_ECP  2
#define KEEL_V1_GROUP_TYPE_EC2N 3
#define KEEL_V1_LIFE_SECONDS    1
#define KEEL_V1_LIFE_KILOBYTES  2

/* IPsec DOI SA attribute classes, RFC 2407 §4.5 */
enum keel_v1_ipsec_attr {
	KEEL_V1_IPSEC_ATTR_LIFE_TYPE = 1,
	KEEL_V1_IPSEC_ATTR_LIFE_DURATION = 2,
	KEEL_V1_IPSEC_ATTR_GROUP_DESC = 3,
	KEEL_V1_IPSEC_ATTR_ENCAP_MODE = 4,
	KEEL_V1_IPSEC_ATTR_AUTH_ALG = 5,
	KEEL_V1_IPSEC_ATTR_KEY_LENGTH = 6,
	KEEL_V1_IPSEC_ATTR_KEY_ROUNDS = 7,
	KEEL_V1_IPSEC_ATTR_COMP_DICT_SIZE = 8,
	KEEL_V1_IPSEC_ATTR_COMP_PRIV_ALG = 9,
	KEEL_V1_IPSEC_ATTR_ECN_TUNNEL = 10,
	KEEL_V1_IPSEC_ATTR_ESN = 11,
};
/* Encapsulation modes, RFC 2407 §4.5, RFC 3947 §5 and its drafts */
enum keel_v1_encap_mode {
	KEEL_V1_ENCAP_TUNNEL = 1,
	KEEL_V1_ENCAP_TRANSPORT = 2,
	KEEL_V1_ENCAP_UDP_TUNNEL = 3,
	KEEL_V1_ENCAP_UDP_TRANSPORT = 4,
	KEEL_V1_ENCAP_UDP_TUNNEL_DRAFT = 61443,
	KEEL_V1_ENCAP_UDP_TRANSPORT_DRAFT = 61444,
};
/* Authentication algorithms (IPsec DOI), RFC 2407 §4.5 + IANA */
enum keel_v1_ipsec_auth {
	KEEL_V1_IPSEC_AUTH_HMAC_MD5 = 1,
	KEEL_V1_IPSEC_AUTH_HMAC_SHA1 = 2,
	KEEL_V1_IPSEC_AUTH_DES_MAC = 3,
	KEEL_V1_IPSEC_AUTH_KPDK = 4,
	KEEL_V1_IPSEC_AUTH_HMAC_SHA2_256 = 5,
	KEEL_V1_IPSEC_AUTH_HMAC_SHA2_384 = 6,
	KEEL_V1_IPSEC_AUTH_HMAC_SHA2_512 = 7,
	KEEL_V1_IPSEC_AUTH_AES_XCBC_MAC = 9,
};

/* Attribute payload types, draft-dukes-ike-mode-cfg-02 §3.2 */
enum keel_v1_cfg_type {
	KEEL_V1_CFG_REQUEST = 1,
	KEEL_V1_CFG_REPLY = 2,
	KEEL_V1_CFG_SET = 3,
	KEEL_V1_CFG_ACK = 4,
};
/* Mode Config (draft-dukes §3.3), XAUTH (draft-beaulieu §6), Cisco Unity */
enum keel_v1_cfg_attr {
	KEEL_V1_CFG_INTERNAL_IP4_ADDRESS = 1,
	KEEL_V1_CFG_INTERNAL_IP4_NETMASK = 2,
	KEEL_V1_CFG_INTERNAL_IP4_DNS = 3,
	KEEL_V1_CFG_INTERNAL_IP4_NBNS = 4,
	KEEL_V1_CFG_INTERNAL_ADDRESS_EXPIRY = 5,
	KEEL_V1_CFG_INTERNAL_IP4_DHCP = 6,
	KEEL_V1_CFG_APPLICATION_VERSION = 7,
	KEEL_V1_CFG_INTERNAL_IP6_ADDRESS = 8,
	KEEL_V1_CFG_INTERNAL_IP6_NETMASK = 9,
	KEEL_V1_CFG_INTERNAL_IP6_DNS = 10,
	KEEL_V1_CFG_INTERNAL_IP6_NBNS = 11,
	KEEL_V1_CFG_INTERNAL_IP6_DHCP = 12,
	KEEL_V1_CFG_INTERNAL_IP4_SUBNET = 13,
	KEEL_V1_CFG_SUPPORTED_ATTRIBUTES = 14,
	KEEL_V1_CFG_INTERNAL_IP6_SUBNET = 15,
	KEEL_V1_CFG_XAUTH_TYPE = 16520,
	KEEL_V1_CFG_XAUTH_USER_NAME = 16521,
	KEEL_V1_CFG_XAUTH_USER_PASSWORD = 16522,
	KEEL_V1_CFG_XAUTH_PASSCODE = 16523,
	KEEL_V1_CFG_XAUTH_MESSAGE = 16524,
	KEEL_V1_CFG_XAUTH_CHALLENGE = 16525,
	KEEL_V1_CFG_XAUTH_DOMAIN = 16526,
	KEEL_V1_CFG_XAUTH_STATUS = 16527,
	KEEL_V1_CFG_XAUTH_NEXT_PIN = 16528,
	KEEL_V1_CFG_XAUTH_ANSWER = 16529,
	KEEL_V1_CFG_UNITY_BANNER = 28672,
	KEEL_V1_CFG_UNITY_SAVE_PASSWD = 28673,
	KEEL_V1_CFG_UNITY_DEF_DOMAIN = 28674,
	KEEL_V1_CFG_UNITY_SPLIT_DNS_NAME = 28675,
	KEEL_V1_CFG_UNITY_SPLIT_INCLUDE = 28676,
	KEEL_V1_CFG_UNITY_NATT_PORT = 28677,
	KEEL_V1_CFG_UNITY_LOCAL_LAN = 28678, /* split exclude */
	KEEL_V1_CFG_UNITY_PFS = 28679,
	KEEL_V1_CFG_UNITY_FW_TYPE = 28680,
	KEEL_V1_CFG_UNITY_BACKUP_SERVERS = 28681,
	KEEL_V1_CFG_UNITY_DDNS_HOSTNAME = 28682,
};
/* XAUTH-TYPE and XAUTH-STATUS values, draft-beaulieu-ike-xauth-02 §6.1 */
#define KEEL_V1_XAUTH_TYPE_GENERIC     0
#define KEEL_V1_XAUTH_TYPE_RADIUS_CHAP 1
#define KEEL_V1_XAUTH_TYPE_OTP         2
#define KEEL_V1_XAUTH_TYPE_SKEY        3
#define KEEL_V1_XAUTH_STATUS_FAIL      0
#define KEEL_V1_XAUTH_STATUS_OK        1

/* Fragment payload flag: this is the last fragment */
#define KEEL_V1_FRAG_LAST 0x01

/* ------------------------------------------------------------------ */
/* Decoded forms. Pointers borrow from the decoded buffer.            */

/* RFC 2408 §3.1 */
struct keel_v1_hdr {
	uint8_t cookie_i[KEEL_V1_COOKIE_LEN]; /* initiator cookie (SPI) */
	uint8_t cookie_r[KEEL_V1_COOKIE_LEN]; /* responder cookie, zero in the first message */
	uint8_t next;                         /* type of the first payload */
	uint8_t version;                      /* major << 4 | minor */
	uint8_t exchange;                     /* enum keel_v1_exchange */
	uint8_t flags;                        /* KEEL_V1_FLAG_* */
	uint32_t msg_id;
	uint32_t len; /* whole message: header, payloads and any padding */
};

/* One payload of a chain: RFC 2408 §3.2 generic header plus body. */
struct keel_v1_payload {
	uint8_t type;       /* from the previous payload's (or header's) next field */
	const uint8_t *raw; /* the payload from its generic header on, raw_len bytes */
	size_t raw_len;
	const uint8_t *body; /* after the generic header */
	size_t len;          /* body bytes */
};

struct keel_v1_msg {
	struct keel_v1_hdr hdr;
	const uint8_t *enc; /* KEEL_V1_FLAG_ENC set: the body after the header; else NULL */
	size_t enc_len;
	size_t n_payloads;
	struct keel_v1_payload pl[KEEL_V1_MAX_PAYLOADS];
	size_t chain_len; /* bytes the payloads span, without padding */
	size_t pad_len;   /* bytes after the last payload (decrypted bodies only) */
};

/*
 * One data attribute, RFC 2408 §3.3. AF set ("basic", TV): a 16-bit value in
 * basic_value, value NULL, len 0. AF clear ("variable", TLV): value/len borrow
 * the value bytes (len may be 0).
 */
struct keel_v1_attr {
	uint16_t type; /* attribute class without the AF bit */
	bool basic;
	uint16_t basic_value;
	const uint8_t *value;
	size_t len;
};

struct keel_v1_attrs {
	size_t n;
	struct keel_v1_attr a[KEEL_V1_MAX_ATTRS];
};

/* RFC 2408 §3.6. The attributes stay encoded: see keel_v1_attrs_decode(). */
struct keel_v1_transform {
	uint8_t number;
	uint8_t id;           /* KEEL_V1_KEY_IKE, enum keel_v1_esp_id, ... */
	const uint8_t *attrs; /* attrs_len bytes of encoded data attributes */
	size_t attrs_len;
	size_t n_attrs; /* filled in by decode; ignored by encode */
};

/*
 * RFC 2408 §3.5. Its transforms are sa->transforms[first .. first +
 * n_transforms). Proposals sharing a number form one bundle (AND, RFC 2408
 * §4.2), e.g. AH + ESP.
 */
struct keel_v1_proposal {
	uint8_t number;
	uint8_t protocol; /* enum keel_v1_protocol */
	uint8_t spi_len;
	const uint8_t *spi;
	size_t first;
	size_t n_transforms;
};

/* RFC 2408 §3.4 with the IPsec DOI situation (RFC 2407 §4.2). */
struct keel_v1_sa {
	uint32_t doi;
	uint32_t situation;
	const uint8_t *body; /* the whole SA payload body: SAi_b of RFC 2409 §5 */
	size_t body_len;
	size_t n_proposals;
	struct keel_v1_proposal proposals[KEEL_V1_MAX_PROPOSALS];
	size_t n_transforms;
	struct keel_v1_transform transforms[KEEL_V1_MAX_TRANSFORMS];
};

/*
 * RFC 2408 §3.8 with the IPsec DOI fields of RFC 2407 §4.6.2: protocol and
 * port are 0 for "any" (and 0 or UDP/500 in phase 1); quick mode IDci/IDcr
 * use them as traffic selectors.
 */
struct keel_v1_id {
	uint8_t type; /* enum keel_v1_id_type */
	uint8_t protocol;
	uint16_t port;
	const uint8_t *data;
	size_t len;
};

/* CERT (RFC 2408 §3.9) and CR (§3.10: type and certificate authority). */
struct keel_v1_cert {
	uint8_t encoding; /* enum keel_v1_cert_encoding */
	const uint8_t *data;
	size_t len;
};

/* RFC 2408 §3.14 */
struct keel_v1_notify {
	uint32_t doi;
	uint8_t protocol;
	uint8_t spi_len;
	const uint8_t *spi;
	uint16_t type; /* enum keel_v1_notify_type */
	const uint8_t *data;
	size_t len;
};

/* RFC 2408 §3.15: n_spis SPIs of spi_len bytes each, back to back at spis. */
struct keel_v1_delete {
	uint32_t doi;
	uint8_t protocol;
	uint8_t spi_len;
	uint16_t n_spis;
	const uint8_t *spis;
};

/* RFC 3947 §5.2 */
struct keel_v1_nat_oa {
	uint8_t id_type; /* KEEL_V1_ID_IPV4_ADDR or KEEL_V1_ID_IPV6_ADDR */
	const uint8_t *addr;
	size_t len;
};

/* Attribute payload, draft-dukes-ike-mode-cfg-02 §3.2 */
struct keel_v1_cfg {
	uint8_t type; /* enum keel_v1_cfg_type */
	uint16_t identifier;
	const uint8_t *attrs;
	size_t attrs_len;
	size_t n_attrs; /* filled in by decode; ignored by encode */
};

/* Cisco-style fragment payload (type 132): a piece of the whole message. */
struct keel_v1_frag {
	uint16_t id;
	uint8_t number; /* from 1 */
	uint8_t flags;  /* KEEL_V1_FRAG_LAST */
	const uint8_t *data;
	size_t len;
};

/* One UNITY_SPLIT_INCLUDE / UNITY_LOCAL_LAN entry (14 bytes on the wire). */
struct keel_v1_unity_net {
	uint8_t addr[4];
	uint8_t mask[4];
	uint16_t protocol;
	uint16_t sport;
	uint16_t dport;
};

/* ------------------------------------------------------------------ */
/* Decoding                                                           */

/*
 * Decodes the 28-byte header of a datagram of len bytes. Checks (RFC 2408
 * §3.1, §5.1): len >= KEEL_V1_HDR_LEN, the header length equals len, major
 * version 1 (KEEL_ERR_UNSUPPORTED otherwise: not an IKEv1 message).
 * KEEL_ERR_MALFORMED for the rest.
 */
int keel_v1_hdr_decode(const uint8_t *buf, size_t len, struct keel_v1_hdr *hdr);

/*
 * Decodes a whole datagram: the header, then, unless KEEL_V1_FLAG_ENC is set,
 * the cleartext payload chain (no trailing bytes allowed). With the E flag
 * only enc/enc_len are set (n_payloads 0); an empty encrypted body is
 * KEEL_ERR_MALFORMED. Errors as keel_v1_hdr_decode() and keel_v1_chain_decode().
 */
int keel_v1_msg_decode(const uint8_t *buf, size_t len, struct keel_v1_msg *msg);

/*
 * Decodes a payload chain of len bytes whose first payload has type first
 * (0: an empty chain), e.g. a decrypted body. padded: bytes after the last
 * payload are padding (at most KEEL_V1_MAX_PAD_LEN, any content); otherwise
 * they are KEEL_ERR_MALFORMED. Writes only n_payloads, pl, chain_len and
 * pad_len of msg, on success. Each known payload type is also decoded
 * structurally by its typed decoder. KEEL_ERR_MALFORMED for: a payload length
 * below 4 or past the end, more than KEEL_V1_MAX_PAYLOADS payloads, a chain
 * that ends early, or a typed decoder's complaint.
 */
int keel_v1_chain_decode(uint8_t first, const uint8_t *p, size_t len, bool padded,
                         struct keel_v1_msg *msg);

/*
 * The next payload of type after `after` (NULL: the first), or NULL.
 * Asking for KEEL_V1_PL_NAT_D / NAT_OA also finds the draft numbers 130/131.
 */
const struct keel_v1_payload *keel_v1_msg_next(const struct keel_v1_msg *msg, uint8_t type,
                                               const struct keel_v1_payload *after);

/*
 * Typed decoders. pl must be of the matching type (KEEL_ERR_INVAL otherwise;
 * NAT-OA also accepts 131). KEEL_ERR_MALFORMED when the body does not add up.
 * The SA decoder returns KEEL_ERR_UNSUPPORTED for an IPsec DOI situation with
 * secrecy or integrity labels (RFC 2407 §4.2), whose layout Keel does not
 * parse. keel_v1_cert_decode() serves CERT and CR.
 */
int keel_v1_sa_decode(const struct keel_v1_payload *pl, struct keel_v1_sa *sa);
int keel_v1_id_decode(const struct keel_v1_payload *pl, struct keel_v1_id *id);
int keel_v1_cert_decode(const struct keel_v1_payload *pl, struct keel_v1_cert *cert);
int keel_v1_notify_decode(const struct keel_v1_payload *pl, struct keel_v1_notify *n);
int keel_v1_delete_decode(const struct keel_v1_payload *pl, struct keel_v1_delete *d);
int keel_v1_nat_oa_decode(const struct keel_v1_payload *pl, struct keel_v1_nat_oa *oa);
int keel_v1_cfg_decode(const struct keel_v1_payload *pl, struct keel_v1_cfg *cfg);
int keel_v1_frag_decode(const struct keel_v1_payload *pl, struct keel_v1_frag *frag);

/* SPI i of a decoded Delete payload (i < n_spis), d->spi_len bytes; NULL past the end. */
const uint8_t *keel_v1_delete_spi(const struct keel_v1_delete *d, size_t i);

/* ------------------------------------------------------------------ */
/* Data attributes (RFC 2408 §3.3)                                    */

/* Reads one attribute from r. KEEL_ERR_MALFORMED if it runs past the end. */
int keel_v1_attr_read(struct keel_rd *r, struct keel_v1_attr *a);
/*
 * Decodes len bytes of attributes (a transform's or an attribute payload's)
 * into list. KEEL_ERR_MALFORMED: an attribute past the end, or more than
 * KEEL_V1_MAX_ATTRS.
 */
int keel_v1_attrs_decode(const uint8_t *p, size_t len, struct keel_v1_attrs *list);
/* The first attribute of that class, or NULL. */
const struct keel_v1_attr *keel_v1_attrs_find(const struct keel_v1_attrs *list, uint16_t type);
/*
 * The attribute as an unsigned integer: a basic value, or a variable one of
 * 1..8 bytes, big-endian (RFC 2408 §3.3: e.g. a life duration in 4 bytes).
 * KEEL_ERR_MALFORMED for an empty or longer value, and (u32) for a value
 * above UINT32_MAX.
 */
int keel_v1_attr_u64(const struct keel_v1_attr *a, uint64_t *out);
int keel_v1_attr_u32(const struct keel_v1_attr *a, uint32_t *out);
/*
 * Writes one attribute. A basic attribute's type, or a variable one's type
 * and length, must fit the format (type < 0x8000, len <= 0xffff):
 * KEEL_ERR_INVAL otherwise, nothing written. Overflow shows in w.
 */
int keel_v1_attr_write(struct keel_wr *w, const struct keel_v1_attr *a);

/*
 * Decodes a UNITY_SPLIT_INCLUDE or UNITY_LOCAL_LAN value: 14-byte entries
 * (address, mask, protocol, source port, destination port); the last entry
 * may stop after its mask (8 bytes), as some gateways send it. Returns the
 * number of entries (at most cap written to out), KEEL_ERR_MALFORMED for a
 * basic attribute or any other length, KEEL_ERR_NOBUF if there are more than
 * cap entries.
 */
ptrdiff_t keel_v1_unity_split_decode(const struct keel_v1_attr *a, struct keel_v1_unity_net *out,
                                     size_t cap);
/* Writes n entries (14 bytes each) as an attribute value. */
void keel_v1_unity_split_write(struct keel_wr *w, const struct keel_v1_unity_net *nets, size_t n);

/* ------------------------------------------------------------------ */
/* Semantic checks: 0 or KEEL_ERR_MALFORMED.                          */

/*
 * RFC 2408 §5.1: minor version 0, known exchange type, only E/C/A flags, a
 * non-zero initiator cookie; phase 1 exchanges (Main, Aggressive) carry
 * message ID 0, Quick Mode a non-zero one (RFC 2409 §5.5).
 */
int keel_v1_hdr_verify(const struct keel_v1_hdr *hdr);
/*
 * RFC 2407 §4.2 / RFC 2408 §3.4-3.6: DOI 1, SIT_IDENTITY_ONLY, at least one
 * proposal, each with at least one transform; non-decreasing proposal
 * numbers; known protocol; SPI size 0..16 for ISAKMP (§3.5: ignored), 4 for
 * AH/ESP, 2 or 4 for IPCOMP; ISAKMP transforms are KEY_IKE.
 */
int keel_v1_sa_verify(const struct keel_v1_sa *sa);
/* Known ID type with a plausible data length (address sizes exact, names non-empty). */
int keel_v1_id_verify(const struct keel_v1_id *id);
/* DOI 0 or 1, known protocol (or 0), SPI size 0..16 for ISAKMP, 4 for AH/ESP. */
int keel_v1_notify_verify(const struct keel_v1_notify *n);
/* DOI 0 or 1; ISAKMP SPIs 16 bytes (both cookies), AH/ESP 4; at least one SPI. */
int keel_v1_delete_verify(const struct keel_v1_delete *d);
/* RFC 3947 §5.2: ID_IPV4_ADDR with 4 bytes or ID_IPV6_ADDR with 16. */
int keel_v1_nat_oa_verify(const struct keel_v1_nat_oa *oa);
/* Known attribute payload type. */
int keel_v1_cfg_verify(const struct keel_v1_cfg *cfg);
/* Fragment number from 1, some data, only the LAST flag. */
int keel_v1_frag_verify(const struct keel_v1_frag *frag);
/*
 * One payload: runs its typed decoder and verify; for the data payloads:
 * Nonce 8..256 bytes (RFC 2409 §5), HASH and NAT-D 16..64 bytes, KE 1..1024
 * bytes, SIG non-empty. Unknown types and bare Proposal/Transform payloads
 * are KEEL_ERR_MALFORMED (RFC 2408 §5.2: INVALID-PAYLOAD-TYPE).
 */
int keel_v1_payload_verify(const struct keel_v1_payload *pl);
/* keel_v1_hdr_verify(), at least one payload, keel_v1_payload_verify() on each. */
int keel_v1_msg_verify(const struct keel_v1_msg *msg);

/* ------------------------------------------------------------------ */
/* Encoding                                                           */

/*
 * Encoder state: private, except last_body_at / last_body_len, which callers
 * may read after any payload to find its body in w->buf (SAi_b and IDii_b for
 * the RFC 2409 §5 hashes).
 */
struct keel_v1_enc {
	struct keel_wr *w;
	size_t start; /* where the header (or the header-less chain) starts */
	bool has_hdr;
	bool has_next_at;
	size_t next_at; /* next-payload byte to fill with the following payload's type */
	size_t n_payloads;
	uint8_t first; /* type of the first payload */
	bool padded;   /* keel_v1_enc_pad() was called: no more payloads */
	bool pl_open;  /* an SA or attribute payload is open */
	uint8_t pl_type;
	size_t pl_at;
	bool prop_open, prop_had;
	size_t prop_at;
	size_t prop_count; /* transforms in the open proposal */
	bool xf_open, xf_had;
	size_t xf_at;
	size_t last_body_at; /* offset in w->buf of the last payload's body */
	size_t last_body_len;
	int err;
};

/*
 * Starts a message at the writer's position. hdr: cookies, exchange, flags and
 * message ID are written as given; version is always KEEL_V1_VERSION; next
 * and len are filled in later. hdr NULL: a bare payload chain (e.g. a body to
 * encrypt on its own); enc->first then names its first payload type.
 * w is borrowed until keel_v1_enc_finish().
 */
void keel_v1_enc_init(struct keel_v1_enc *enc, struct keel_wr *w, const struct keel_v1_hdr *hdr);

/* KE, HASH, SIG, Nonce, Vendor ID, NAT-D (or any type) with data as body. */
void keel_v1_enc_data(struct keel_v1_enc *enc, uint8_t type, const void *data, size_t len);
/*
 * A HASH payload of len zero bytes to fill in once the rest is written.
 * Returns the offset in w->buf of the hash bytes, or a negative KEEL_ERR_*.
 */
ptrdiff_t keel_v1_enc_hash_slot(struct keel_v1_enc *enc, size_t len);
void keel_v1_enc_id(struct keel_v1_enc *enc, const struct keel_v1_id *id);
/* type: KEEL_V1_PL_CERT or KEEL_V1_PL_CR */
void keel_v1_enc_cert(struct keel_v1_enc *enc, uint8_t type, const struct keel_v1_cert *cert);
void keel_v1_enc_notify(struct keel_v1_enc *enc, const struct keel_v1_notify *n);
void keel_v1_enc_delete(struct keel_v1_enc *enc, const struct keel_v1_delete *d);
/* type: KEEL_V1_PL_NAT_OA or KEEL_V1_PL_NAT_OA_DRAFT */
void keel_v1_enc_nat_oa(struct keel_v1_enc *enc, uint8_t type, const struct keel_v1_nat_oa *oa);
void keel_v1_enc_frag(struct keel_v1_enc *enc, const struct keel_v1_frag *frag);
/* A whole SA payload from a struct (body, n_attrs ignored; attrs copied as encoded). */
void keel_v1_enc_sa(struct keel_v1_enc *enc, const struct keel_v1_sa *sa);
/* A whole attribute payload from a struct (attrs copied as encoded). */
void keel_v1_enc_cfg(struct keel_v1_enc *enc, const struct keel_v1_cfg *cfg);

/*
 * Step by step: sa_begin, then per proposal proposal_begin, per transform
 * transform_begin + attributes + transform_end, proposal_end, and sa_end.
 * Proposal and transform next-payload fields (2/3, 0 for the last) and the
 * transform count are filled in. cfg_begin + attributes + cfg_end likewise
 * for an attribute payload. Calls out of order: KEEL_ERR_STATE.
 */
void keel_v1_enc_sa_begin(struct keel_v1_enc *enc, uint32_t doi, uint32_t situation);
void keel_v1_enc_proposal_begin(struct keel_v1_enc *enc, uint8_t number, uint8_t protocol,
                                const uint8_t *spi, size_t spi_len);
void keel_v1_enc_transform_begin(struct keel_v1_enc *enc, uint8_t number, uint8_t id);
void keel_v1_enc_transform_end(struct keel_v1_enc *enc);
void keel_v1_enc_proposal_end(struct keel_v1_enc *enc);
void keel_v1_enc_sa_end(struct keel_v1_enc *enc);
void keel_v1_enc_cfg_begin(struct keel_v1_enc *enc, uint8_t type, uint16_t identifier);
void keel_v1_enc_cfg_end(struct keel_v1_enc *enc);

/* Attributes, inside an open transform or attribute payload. */
void keel_v1_enc_attr(struct keel_v1_enc *enc, const struct keel_v1_attr *a);
void keel_v1_enc_attr_basic(struct keel_v1_enc *enc, uint16_t type, uint16_t value);
void keel_v1_enc_attr_var(struct keel_v1_enc *enc, uint16_t type, const void *value, size_t len);
/* Basic if value fits 16 bits, else variable with 4 (or 8) bytes. */
void keel_v1_enc_attr_int(struct keel_v1_enc *enc, uint16_t type, uint64_t value);

/*
 * Zero-pads the body (everything after the header; the whole chain without
 * one) to a multiple of block_len (0 or 1: no padding). Call after the last
 * payload, before keel_v1_enc_finish().
 */
void keel_v1_enc_pad(struct keel_v1_enc *enc, size_t block_len);

/*
 * Ends the message: patches the header length and returns the bytes written
 * since keel_v1_enc_init(), or the first error (KEEL_ERR_STATE if an SA,
 * proposal, transform or attribute payload is still open).
 */
ptrdiff_t keel_v1_enc_finish(struct keel_v1_enc *enc);

/*
 * Writes a header exactly as given (next and len included), e.g. in front of
 * a chain encoded and encrypted separately.
 */
void keel_v1_hdr_write(struct keel_wr *w, const struct keel_v1_hdr *hdr);

/* ------------------------------------------------------------------ */
/* Names for logging: static strings, NULL for values Keel does not know. */

const char *keel_v1_payload_name(uint8_t type);
const char *keel_v1_exchange_name(uint8_t exchange);
const char *keel_v1_notify_name(uint16_t type);
const char *keel_v1_protocol_name(uint8_t protocol);
const char *keel_v1_id_type_name(uint8_t type);
const char *keel_v1_cert_encoding_name(uint8_t encoding);
const char *keel_v1_ike_attr_name(uint16_t type);   /* phase 1 SA attribute classes */
const char *keel_v1_ipsec_attr_name(uint16_t type); /* IPsec DOI SA attribute classes */
const char *keel_v1_cfg_attr_name(uint16_t type);   /* Mode Config, XAUTH, Unity */
const char *keel_v1_cfg_type_name(uint8_t type);
const char *keel_v1_encr_name(uint16_t value);
const char *keel_v1_hash_name(uint16_t value);
const char *keel_v1_auth_method_name(uint16_t value);
const char *keel_v1_group_name(uint16_t value);
const char *keel_v1_encap_mode_name(uint16_t value);
const char *keel_v1_esp_transform_name(uint8_t id);
const char *keel_v1_ipsec_auth_name(uint16_t value);

#endif
