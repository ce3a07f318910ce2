/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IKEv2 wire codec (RFC 7296 §3, fragments RFC 7383): the IKE header, the
 * generic payload chain and every payload the client meets, both ways.
 *
 * Ownership: nothing here allocates. Decoded structs BORROW byte ranges
 * (struct keel_v2_bytes) from the buffer they were decoded from; they stay
 * valid while that buffer lives and is unchanged. Structs handed to an encoder
 * are borrowed for the call.
 *
 * Receiving, in order:
 *   1. keel_v2_msg_decode(): header + payload chain. Every payload of a known
 *      type is parsed structurally (and thrown away); the chain keeps one
 *      light record per payload (struct keel_v2_raw_payload). An SK or SKF
 *      payload must be the last one (RFC 7296 §3.14, RFC 7383 §2.5).
 *   2. keel_v2_payload_decode(): the typed view of one record, on demand.
 *      It cannot fail on a record from a successful chain decode.
 *   3. keel_v2_payload_verify() (or the per-type *_verify()): semantic rules.
 *   4. For SK: keel_v2_sk_split() gives IV / ciphertext / ICV, the engine
 *      decrypts, keel_v2_sk_unpad() strips the padding, and
 *      keel_v2_chain_decode(.., KEEL_V2_CHAIN_INNER, ..) parses the inner
 *      chain whose first type is keel_v2_sk.inner_type.
 *
 * Sending:
 *   keel_v2_msg_wr_begin() writes the IKE header; keel_v2_chain_add() appends
 *   payloads, each one's Next Payload field (or the header's) back-patched
 *   with the type that follows; keel_v2_chain_finish() patches the header
 *   length. keel_v2_chain_wr_begin() does the same for a bare chain (the
 *   inner chain of SK encoded on its own; its first type is in first_type).
 *   Encrypted payloads, two ways:
 *   - pre-built: encode the inner chain into a scratch buffer, encrypt it
 *     yourself, and add a payload of type SK whose sk.body is IV|ciphertext|ICV
 *     and sk.inner_type the inner chain's first type;
 *   - in place: keel_v2_sk_begin() (or keel_v2_skf_begin()) after the
 *     unencrypted payloads, add the inner payloads to sk.inner (or write the
 *     fragment bytes with keel_wr_bytes()), keel_v2_sk_end() pads and reserves
 *     the ICV, keel_v2_chain_finish() patches the lengths, and then the engine
 *     fills the IV, encrypts layout.plain_off..+plain_len in place and writes
 *     the ICV at layout.icv_off (computed over 0..icv_off, or with AEAD over
 *     the associated data 0..aad_len, RFC 5282 §5.1).
 *
 * Errors: KEEL_ERR_MALFORMED for anything structurally wrong in received
 * bytes (including counts past the KEEL_V2_MAX_* caps) and for every failed
 * *_verify(); KEEL_ERR_UNSUPPORTED for a payload of unknown type with the
 * critical bit set (the caller answers UNSUPPORTED_CRITICAL_PAYLOAD, RFC 7296
 * §2.5) and for a header whose major version is not 2 (the caller may answer
 * INVALID_MAJOR_VERSION); KEEL_ERR_NOBUF when an output buffer is too small;
 * KEEL_ERR_INVAL / KEEL_ERR_STATE for a caller's mistake (a value that does
 * not fit its field, a payload after SK). Out-parameters are written only on
 * success, except where a function says otherwise.
 *
 * Every name here carries keel_v2_ / KEEL_V2_ (IKEv1 lives in isakmp.h).
 */
#ifndef KEEL_WIRE_IKEV2_H
#define KEEL_WIRE_IKEV2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

/* ---- sizes and caps ---------------------------------------------------- */

#define KEEL_V2_HDR_LEN         28 /* RFC 7296 §3.1 */
#define KEEL_V2_GENERIC_HDR_LEN 4  /* RFC 7296 §3.2 */
#define KEEL_V2_SKF_HDR_LEN     8  /* RFC 7383 §2.5: generic header + fragment fields */

#define KEEL_V2_MAX_PAYLOADS        64  /* payloads in one chain */
#define KEEL_V2_MAX_PROPOSALS       32  /* proposals in one SA payload */
#define KEEL_V2_MAX_TRANSFORMS      128 /* transforms in one SA payload, all proposals */
#define KEEL_V2_MAX_TRANSFORM_ATTRS 4   /* attributes on one transform */
#define KEEL_V2_MAX_TS              32  /* traffic selectors in one TS payload */
#define KEEL_V2_MAX_CP_ATTRS        64  /* attributes in one CP payload */

#define KEEL_V2_NONCE_MIN_LEN 16 /* RFC 7296 §3.9 */
#define KEEL_V2_NONCE_MAX_LEN 256

/* ---- registered numbers (IANA "IKEv2 Parameters") ---------------------- */

enum keel_v2_exchange {
	KEEL_V2_EXCHANGE_IKE_SA_INIT = 34,
	KEEL_V2_EXCHANGE_IKE_AUTH = 35,
	KEEL_V2_EXCHANGE_CREATE_CHILD_SA = 36,
	KEEL_V2_EXCHANGE_INFORMATIONAL = 37,
	KEEL_V2_EXCHANGE_IKE_SESSION_RESUME = 38, /* RFC 5723 */
	KEEL_V2_EXCHANGE_GSA_AUTH = 39,           /* G-IKEv2 */
	KEEL_V2_EXCHANGE_GSA_REGISTRATION = 40,
	KEEL_V2_EXCHANGE_GSA_REKEY = 41,
	KEEL_V2_EXCHANGE_IKE_INTERMEDIATE = 43, /* RFC 9242 */
	KEEL_V2_EXCHANGE_IKE_FOLLOWUP_KE = 44,  /* RFC 9370 */
};

/* Header flags, RFC 7296 §3.1 */
#define KEEL_V2_FLAG_INITIATOR 0x08
#define KEEL_V2_FLAG_VERSION   0x10
#define KEEL_V2_FLAG_RESPONSE  0x20

#define KEEL_V2_CRITICAL 0x80 /* critical bit of the generic payload header */

enum keel_v2_payload_type {
	KEEL_V2_PAYLOAD_NONE = 0,
	KEEL_V2_PAYLOAD_SA = 33,
	KEEL_V2_PAYLOAD_KE = 34,
	KEEL_V2_PAYLOAD_IDI = 35,
	KEEL_V2_PAYLOAD_IDR = 36,
	KEEL_V2_PAYLOAD_CERT = 37,
	KEEL_V2_PAYLOAD_CERTREQ = 38,
	KEEL_V2_PAYLOAD_AUTH = 39,
	KEEL_V2_PAYLOAD_NONCE = 40,
	KEEL_V2_PAYLOAD_NOTIFY = 41,
	KEEL_V2_PAYLOAD_DELETE = 42,
	KEEL_V2_PAYLOAD_VENDOR = 43,
	KEEL_V2_PAYLOAD_TSI = 44,
	KEEL_V2_PAYLOAD_TSR = 45,
	KEEL_V2_PAYLOAD_SK = 46,
	KEEL_V2_PAYLOAD_CP = 47,
	KEEL_V2_PAYLOAD_EAP = 48,
	/* registered, not understood by Keel: decoded as unknown payloads */
	KEEL_V2_PAYLOAD_GSPM = 49, /* RFC 6467 */
	KEEL_V2_PAYLOAD_IDG = 50,
	KEEL_V2_PAYLOAD_GSA = 51,
	KEEL_V2_PAYLOAD_KD = 52,
	KEEL_V2_PAYLOAD_SKF = 53, /* RFC 7383 */
	KEEL_V2_PAYLOAD_PS = 54,  /* RFC 8019 */
};

/*
 * Notify Message Types: 0..16383 errors, 16384..65535 status (RFC 7296 §3.10.1,
 * which defines those without a comment; the others name their RFC, as in the
 * IANA "IKEv2 Notify Message Types" registries).
 */
enum keel_v2_notify_type {
	KEEL_V2_N_UNSUPPORTED_CRITICAL_PAYLOAD = 1,
	KEEL_V2_N_INVALID_IKE_SPI = 4,
	KEEL_V2_N_INVALID_MAJOR_VERSION = 5,
	KEEL_V2_N_INVALID_SYNTAX = 7,
	KEEL_V2_N_INVALID_MESSAGE_ID = 9,
	KEEL_V2_N_INVALID_SPI = 11,
	KEEL_V2_N_NO_PROPOSAL_CHOSEN = 14,
	KEEL_V2_N_INVALID_KE_PAYLOAD = 17,
	KEEL_V2_N_AUTHENTICATION_FAILED = 24,
	KEEL_V2_N_SINGLE_PAIR_REQUIRED = 34,
	KEEL_V2_N_NO_ADDITIONAL_SAS = 35,
	KEEL_V2_N_INTERNAL_ADDRESS_FAILURE = 36,
	KEEL_V2_N_FAILED_CP_REQUIRED = 37,
	KEEL_V2_N_TS_UNACCEPTABLE = 38,
	KEEL_V2_N_INVALID_SELECTORS = 39,
	KEEL_V2_N_UNACCEPTABLE_ADDRESSES = 40,  /* RFC 4555 */
	KEEL_V2_N_UNEXPECTED_NAT_DETECTED = 41, /* RFC 4555 */
	KEEL_V2_N_USE_ASSIGNED_HOA = 42,        /* RFC 5026 */
	KEEL_V2_N_TEMPORARY_FAILURE = 43,
	KEEL_V2_N_CHILD_SA_NOT_FOUND = 44,
	KEEL_V2_N_INVALID_GROUP_ID = 45,     /* G-IKEv2, draft-ietf-ipsecme-g-ikev2 */
	KEEL_V2_N_AUTHORIZATION_FAILED = 46, /* G-IKEv2, draft-ietf-ipsecme-g-ikev2 */
	KEEL_V2_N_STATE_NOT_FOUND = 47,      /* RFC 9370 */
	KEEL_V2_N_TS_MAX_QUEUE = 48,         /* RFC 9611 */

	KEEL_V2_N_INITIAL_CONTACT = 16384,
	KEEL_V2_N_SET_WINDOW_SIZE = 16385,
	KEEL_V2_N_ADDITIONAL_TS_POSSIBLE = 16386,
	KEEL_V2_N_IPCOMP_SUPPORTED = 16387,
	KEEL_V2_N_NAT_DETECTION_SOURCE_IP = 16388,
	KEEL_V2_N_NAT_DETECTION_DESTINATION_IP = 16389,
	KEEL_V2_N_COOKIE = 16390,
	KEEL_V2_N_USE_TRANSPORT_MODE = 16391,
	KEEL_V2_N_HTTP_CERT_LOOKUP_SUPPORTED = 16392,
	KEEL_V2_N_REKEY_SA = 16393,
	KEEL_V2_N_ESP_TFC_PADDING_NOT_SUPPORTED = 16394,
	KEEL_V2_N_NON_FIRST_FRAGMENTS_ALSO = 16395,
	KEEL_V2_N_MOBIKE_SUPPORTED = 16396, /* RFC 4555 */
	KEEL_V2_N_ADDITIONAL_IP4_ADDRESS = 16397,
	KEEL_V2_N_ADDITIONAL_IP6_ADDRESS = 16398,
	KEEL_V2_N_NO_ADDITIONAL_ADDRESSES = 16399,
	KEEL_V2_N_UPDATE_SA_ADDRESSES = 16400,
	KEEL_V2_N_COOKIE2 = 16401,
	KEEL_V2_N_NO_NATS_ALLOWED = 16402,
	KEEL_V2_N_AUTH_LIFETIME = 16403,           /* RFC 4478 */
	KEEL_V2_N_MULTIPLE_AUTH_SUPPORTED = 16404, /* RFC 4739 */
	KEEL_V2_N_ANOTHER_AUTH_FOLLOWS = 16405,
	KEEL_V2_N_REDIRECT_SUPPORTED = 16406, /* RFC 5685 */
	KEEL_V2_N_REDIRECT = 16407,
	KEEL_V2_N_REDIRECTED_FROM = 16408,
	KEEL_V2_N_TICKET_LT_OPAQUE = 16409, /* RFC 5723 */
	KEEL_V2_N_TICKET_REQUEST = 16410,
	KEEL_V2_N_TICKET_ACK = 16411,
	KEEL_V2_N_TICKET_NACK = 16412,
	KEEL_V2_N_TICKET_OPAQUE = 16413,
	KEEL_V2_N_LINK_ID = 16414,                         /* RFC 5739 */
	KEEL_V2_N_USE_WESP_MODE = 16415,                   /* RFC 5840 */
	KEEL_V2_N_ROHC_SUPPORTED = 16416,                  /* RFC 5857 */
	KEEL_V2_N_EAP_ONLY_AUTHENTICATION = 16417,         /* RFC 5998 */
	KEEL_V2_N_CHILDLESS_IKEV2_SUPPORTED = 16418,       /* RFC 6023 */
	KEEL_V2_N_QUICK_CRASH_DETECTION = 16419,           /* RFC 6290 */
	KEEL_V2_N_IKEV2_MESSAGE_ID_SYNC_SUPPORTED = 16420, /* RFC 6311 */
	KEEL_V2_N_IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED = 16421,
	KEEL_V2_N_IKEV2_MESSAGE_ID_SYNC = 16422,
	KEEL_V2_N_IPSEC_REPLAY_COUNTER_SYNC = 16423,
	KEEL_V2_N_SECURE_PASSWORD_METHODS = 16424, /* RFC 6467 */
	KEEL_V2_N_PSK_PERSIST = 16425,             /* RFC 6631 */
	KEEL_V2_N_PSK_CONFIRM = 16426,
	KEEL_V2_N_ERX_SUPPORTED = 16427,                   /* RFC 6867 */
	KEEL_V2_N_IFOM_CAPABILITY = 16428,                 /* 3GPP TS 24.303 */
	KEEL_V2_N_SENDER_REQUEST_ID = 16429,               /* G-IKEv2, draft-yeung-g-ikev2 */
	KEEL_V2_N_IKEV2_FRAGMENTATION_SUPPORTED = 16430,   /* RFC 7383 */
	KEEL_V2_N_SIGNATURE_HASH_ALGORITHMS = 16431,       /* RFC 7427 */
	KEEL_V2_N_CLONE_IKE_SA_SUPPORTED = 16432,          /* RFC 7791 */
	KEEL_V2_N_CLONE_IKE_SA = 16433,                    /* RFC 7791 */
	KEEL_V2_N_PUZZLE = 16434,                          /* RFC 8019 */
	KEEL_V2_N_USE_PPK = 16435,                         /* RFC 8784 */
	KEEL_V2_N_PPK_IDENTITY = 16436,                    /* RFC 8784 */
	KEEL_V2_N_NO_PPK_AUTH = 16437,                     /* RFC 8784 */
	KEEL_V2_N_INTERMEDIATE_EXCHANGE_SUPPORTED = 16438, /* RFC 9242 */
	KEEL_V2_N_IP4_ALLOWED = 16439,                     /* RFC 8983 */
	KEEL_V2_N_IP6_ALLOWED = 16440,                     /* RFC 8983 */
	KEEL_V2_N_ADDITIONAL_KEY_EXCHANGE = 16441,         /* RFC 9370 */
	KEEL_V2_N_USE_AGGFRAG = 16442,                     /* RFC 9347 */
	KEEL_V2_N_SUPPORTED_AUTH_METHODS = 16443,          /* RFC 9593 */
	KEEL_V2_N_SA_RESOURCE_INFO = 16444,                /* RFC 9611 */
};

#define KEEL_V2_N_ERROR_MAX 16383 /* types up to here are errors */

enum keel_v2_protocol { /* Protocol ID, RFC 7296 §3.3.1 */
	                KEEL_V2_PROTO_NONE = 0,
	                KEEL_V2_PROTO_IKE = 1,
	                KEEL_V2_PROTO_AH = 2,
	                KEEL_V2_PROTO_ESP = 3,
};

enum keel_v2_transform_type { /* RFC 7296 §3.3.2 */
	                      KEEL_V2_TRANSFORM_ENCR = 1,
	                      KEEL_V2_TRANSFORM_PRF = 2,
	                      KEEL_V2_TRANSFORM_INTEG = 3,
	                      KEEL_V2_TRANSFORM_DH = 4, /* "Key Exchange Method" since RFC 9370 */
	                      KEEL_V2_TRANSFORM_ESN = 5,
	                      KEEL_V2_TRANSFORM_ADDKE1 = 6, /* RFC 9370, up to ADDKE7 = 12 */
	                      KEEL_V2_TRANSFORM_ADDKE7 = 12,
};

enum keel_v2_encr {
	KEEL_V2_ENCR_DES_IV64 = 1,
	KEEL_V2_ENCR_DES = 2,
	KEEL_V2_ENCR_3DES = 3,
	KEEL_V2_ENCR_RC5 = 4,
	KEEL_V2_ENCR_IDEA = 5,
	KEEL_V2_ENCR_CAST = 6,
	KEEL_V2_ENCR_BLOWFISH = 7,
	KEEL_V2_ENCR_3IDEA = 8,
	KEEL_V2_ENCR_DES_IV32 = 9,
	KEEL_V2_ENCR_NULL = 11,
	KEEL_V2_ENCR_AES_CBC = 12,
	KEEL_V2_ENCR_AES_CTR = 13,
	KEEL_V2_ENCR_AES_CCM_8 = 14,
	KEEL_V2_ENCR_AES_CCM_12 = 15,
	KEEL_V2_ENCR_AES_CCM_16 = 16,
	KEEL_V2_ENCR_AES_GCM_8 = 18,
	KEEL_V2_ENCR_AES_GCM_12 = 19,
	KEEL_V2_ENCR_AES_GCM_16 = 20,
	KEEL_V2_ENCR_NULL_AUTH_AES_GMAC = 21,
	KEEL_V2_ENCR_CAMELLIA_CBC = 23,
	KEEL_V2_ENCR_CAMELLIA_CTR = 24,
	KEEL_V2_ENCR_CAMELLIA_CCM_8 = 25,
	KEEL_V2_ENCR_CAMELLIA_CCM_12 = 26,
	KEEL_V2_ENCR_CAMELLIA_CCM_16 = 27,
	KEEL_V2_ENCR_CHACHA20_POLY1305 = 28, /* RFC 7634 */
};

enum keel_v2_prf {
	KEEL_V2_PRF_HMAC_MD5 = 1,
	KEEL_V2_PRF_HMAC_SHA1 = 2,
	KEEL_V2_PRF_HMAC_TIGER = 3,
	KEEL_V2_PRF_AES128_XCBC = 4,
	KEEL_V2_PRF_HMAC_SHA2_256 = 5,
	KEEL_V2_PRF_HMAC_SHA2_384 = 6,
	KEEL_V2_PRF_HMAC_SHA2_512 = 7,
	KEEL_V2_PRF_AES128_CMAC = 8,
};

enum keel_v2_integ {
	KEEL_V2_INTEG_NONE = 0,
	KEEL_V2_INTEG_HMAC_MD5_96 = 1,
	KEEL_V2_INTEG_HMAC_SHA1_96 = 2,
	KEEL_V2_INTEG_DES_MAC = 3,
	KEEL_V2_INTEG_KPDK_MD5 = 4,
	KEEL_V2_INTEG_AES_XCBC_96 = 5,
	KEEL_V2_INTEG_HMAC_MD5_128 = 6,
	KEEL_V2_INTEG_HMAC_SHA1_160 = 7,
	KEEL_V2_INTEG_AES_CMAC_96 = 8,
	KEEL_V2_INTEG_AES_128_GMAC = 9,
	KEEL_V2_INTEG_AES_192_GMAC = 10,
	KEEL_V2_INTEG_AES_256_GMAC = 11,
	KEEL_V2_INTEG_HMAC_SHA2_256_128 = 12,
	KEEL_V2_INTEG_HMAC_SHA2_384_192 = 13,
	KEEL_V2_INTEG_HMAC_SHA2_512_256 = 14,
};

enum keel_v2_dh { /* Key Exchange Method Transform IDs */
	          KEEL_V2_DH_NONE = 0,
	          KEEL_V2_DH_MODP768 = 1,
	          KEEL_V2_DH_MODP1024 = 2,
	          KEEL_V2_DH_MODP1536 = 5,
	          KEEL_V2_DH_MODP2048 = 14,
	          KEEL_V2_DH_MODP3072 = 15,
	          KEEL_V2_DH_MODP4096 = 16,
	          KEEL_V2_DH_MODP6144 = 17,
	          KEEL_V2_DH_MODP8192 = 18,
	          KEEL_V2_DH_ECP256 = 19,
	          KEEL_V2_DH_ECP384 = 20,
	          KEEL_V2_DH_ECP521 = 21,
	          KEEL_V2_DH_MODP1024S160 = 22,
	          KEEL_V2_DH_MODP2048S224 = 23,
	          KEEL_V2_DH_MODP2048S256 = 24,
	          KEEL_V2_DH_ECP192 = 25,
	          KEEL_V2_DH_ECP224 = 26,
	          KEEL_V2_DH_BRAINPOOL_P224R1 = 27,
	          KEEL_V2_DH_BRAINPOOL_P256R1 = 28,
	          KEEL_V2_DH_BRAINPOOL_P384R1 = 29,
	          KEEL_V2_DH_BRAINPOOL_P512R1 = 30,
	          KEEL_V2_DH_CURVE25519 = 31, /* RFC 8031 */
	          KEEL_V2_DH_CURVE448 = 32,
	          KEEL_V2_DH_ML_KEM_512 = 35,
	          KEEL_V2_DH_ML_KEM_768 = 36,
	          KEEL_V2_DH_ML_KEM_1024 = 37,
};

enum keel_v2_esn {
	KEEL_V2_ESN_NO = 0,
	KEEL_V2_ESN_YES = 1,
};

#define KEEL_V2_ATTR_KEY_LENGTH 14     /* RFC 7296 §3.3.5, always TV */
#define KEEL_V2_ATTR_TV         0x8000 /* AF bit of a transform attribute type */

enum keel_v2_id_type { /* RFC 7296 §3.5 */
	               KEEL_V2_ID_IPV4_ADDR = 1,
	               KEEL_V2_ID_FQDN = 2,
	               KEEL_V2_ID_RFC822_ADDR = 3,
	               KEEL_V2_ID_IPV6_ADDR = 5,
	               KEEL_V2_ID_DER_ASN1_DN = 9,
	               KEEL_V2_ID_DER_ASN1_GN = 10,
	               KEEL_V2_ID_KEY_ID = 11,
	               KEEL_V2_ID_FC_NAME = 12, /* RFC 4595 */
	               KEEL_V2_ID_NULL = 13,    /* RFC 7619 */
};

enum keel_v2_cert_encoding { /* RFC 7296 §3.6 */
	                     KEEL_V2_CERT_PKCS7_X509 = 1,
	                     KEEL_V2_CERT_PGP = 2,
	                     KEEL_V2_CERT_DNS_SIGNED_KEY = 3,
	                     KEEL_V2_CERT_X509_SIGNATURE = 4,
	                     KEEL_V2_CERT_KERBEROS_TOKEN = 6,
	                     KEEL_V2_CERT_CRL = 7,
	                     KEEL_V2_CERT_ARL = 8,
	                     KEEL_V2_CERT_SPKI = 9,
	                     KEEL_V2_CERT_X509_ATTRIBUTE = 10,
	                     KEEL_V2_CERT_RAW_RSA_KEY = 11,
	                     KEEL_V2_CERT_HASH_URL_X509 = 12,
	                     KEEL_V2_CERT_HASH_URL_X509_BUNDLE = 13,
	                     KEEL_V2_CERT_OCSP_CONTENT = 14,   /* RFC 4806 */
	                     KEEL_V2_CERT_RAW_PUBLIC_KEY = 15, /* RFC 7670 */
};

enum keel_v2_auth_method { /* RFC 7296 §3.8 */
	                   KEEL_V2_AUTH_RSA_SIG = 1,
	                   KEEL_V2_AUTH_PSK = 2, /* Shared Key Message Integrity Code */
	                   KEEL_V2_AUTH_DSS_SIG = 3,
	                   KEEL_V2_AUTH_ECDSA_SHA256_P256 = 9, /* RFC 4754 */
	                   KEEL_V2_AUTH_ECDSA_SHA384_P384 = 10,
	                   KEEL_V2_AUTH_ECDSA_SHA512_P521 = 11,
	                   KEEL_V2_AUTH_GSPM = 12,        /* RFC 6467 */
	                   KEEL_V2_AUTH_NULL = 13,        /* RFC 7619 */
	                   KEEL_V2_AUTH_DIGITAL_SIG = 14, /* RFC 7427 */
};

enum keel_v2_ts_type { /* RFC 7296 §3.13.1 */
	               KEEL_V2_TS_IPV4_ADDR_RANGE = 7,
	               KEEL_V2_TS_IPV6_ADDR_RANGE = 8,
	               KEEL_V2_TS_FC_ADDR_RANGE = 9, /* RFC 4595 */
	               KEEL_V2_TS_SECLABEL = 10,     /* RFC 9478 */
};

enum keel_v2_cfg_type { /* RFC 7296 §3.15 */
	                KEEL_V2_CFG_REQUEST = 1,
	                KEEL_V2_CFG_REPLY = 2,
	                KEEL_V2_CFG_SET = 3,
	                KEEL_V2_CFG_ACK = 4,
};

enum keel_v2_cp_attr_type { /* RFC 7296 §3.15.1 and later registrations */
	                    KEEL_V2_CP_INTERNAL_IP4_ADDRESS = 1,
	                    KEEL_V2_CP_INTERNAL_IP4_NETMASK = 2,
	                    KEEL_V2_CP_INTERNAL_IP4_DNS = 3,
	                    KEEL_V2_CP_INTERNAL_IP4_NBNS = 4,
	                    KEEL_V2_CP_INTERNAL_IP4_DHCP = 6,
	                    KEEL_V2_CP_APPLICATION_VERSION = 7,
	                    KEEL_V2_CP_INTERNAL_IP6_ADDRESS = 8,
	                    KEEL_V2_CP_INTERNAL_IP6_DNS = 10,
	                    KEEL_V2_CP_INTERNAL_IP6_DHCP = 12,
	                    KEEL_V2_CP_INTERNAL_IP4_SUBNET = 13,
	                    KEEL_V2_CP_SUPPORTED_ATTRIBUTES = 14,
	                    KEEL_V2_CP_INTERNAL_IP6_SUBNET = 15,
	                    KEEL_V2_CP_MIP6_HOME_PREFIX = 16,  /* RFC 5026 */
	                    KEEL_V2_CP_INTERNAL_IP6_LINK = 17, /* RFC 5739 */
	                    KEEL_V2_CP_INTERNAL_IP6_PREFIX = 18,
	                    KEEL_V2_CP_HOME_AGENT_ADDRESS = 19,
	                    KEEL_V2_CP_P_CSCF_IP4_ADDRESS = 20, /* RFC 7651 */
	                    KEEL_V2_CP_P_CSCF_IP6_ADDRESS = 21,
	                    KEEL_V2_CP_FTT_KAT = 22,
	                    KEEL_V2_CP_EXTERNAL_SOURCE_IP4_NAT_INFO = 23,
	                    KEEL_V2_CP_TIMEOUT_PERIOD_FOR_LIVENESS_CHECK = 24,
	                    KEEL_V2_CP_INTERNAL_DNS_DOMAIN = 25, /* RFC 8598 */
	                    KEEL_V2_CP_INTERNAL_DNSSEC_TA = 26,  /* RFC 8598 */
};

enum keel_v2_eap_code { /* RFC 3748 §4 */
	                KEEL_V2_EAP_REQUEST = 1,
	                KEEL_V2_EAP_RESPONSE = 2,
	                KEEL_V2_EAP_SUCCESS = 3,
	                KEEL_V2_EAP_FAILURE = 4,
};

/* ---- names for logging: static strings, never NULL ("unknown" for others) ---- */

const char *keel_v2_exchange_name(unsigned exchange);
const char *keel_v2_payload_name(unsigned type); /* short names: "SA", "KE", "IDi", "N", ... */
const char *keel_v2_notify_name(unsigned type);
const char *keel_v2_protocol_name(unsigned protocol);
const char *keel_v2_transform_type_name(unsigned type);
/* The ID of a transform of the given type: dispatches to the four below. */
const char *keel_v2_transform_id_name(unsigned type, unsigned id);
const char *keel_v2_encr_name(unsigned id);
const char *keel_v2_prf_name(unsigned id);
const char *keel_v2_integ_name(unsigned id);
const char *keel_v2_dh_name(unsigned id);
const char *keel_v2_esn_name(unsigned id);
const char *keel_v2_id_type_name(unsigned type);
const char *keel_v2_cert_encoding_name(unsigned encoding);
const char *keel_v2_auth_method_name(unsigned method);
const char *keel_v2_ts_type_name(unsigned type);
const char *keel_v2_cfg_type_name(unsigned type);
const char *keel_v2_cp_attr_name(unsigned type);
const char *keel_v2_eap_code_name(unsigned code);

/* True for the error range of Notify Message Types (RFC 7296 §3.10.1). */
static inline bool keel_v2_notify_is_error(unsigned type)
{
	return type <= KEEL_V2_N_ERROR_MAX;
}

/*
 * Length in bytes of a KE payload's data for a group (RFC 7296 §3.4,
 * RFC 5903 §7 for ECP x||y, RFC 8031 §2 for Curve25519/448), or
 * KEEL_ERR_UNSUPPORTED when the length is not fixed or not known to Keel
 * (unknown groups, ML-KEM whose two directions differ).
 */
ptrdiff_t keel_v2_dh_public_len(unsigned group);

/* ---- values ------------------------------------------------------------ */

/* A borrowed byte range; p is never NULL in anything a decoder returns. */
struct keel_v2_bytes {
	const uint8_t *p;
	size_t len;
};

/* RFC 7296 §3.1. SPIs are read big-endian, so %016"PRIx64" prints wire order. */
struct keel_v2_hdr {
	uint64_t spi_i;
	uint64_t spi_r;
	uint8_t next_payload; /* enum keel_v2_payload_type, or unknown */
	uint8_t major_version;
	uint8_t minor_version;
	uint8_t exchange; /* enum keel_v2_exchange, or unknown */
	uint8_t flags;    /* KEEL_V2_FLAG_* */
	uint32_t msg_id;
	uint32_t len; /* whole message, header included */
};

/* One payload of a decoded chain: light, everything borrowed. */
struct keel_v2_raw_payload {
	uint8_t type;  /* this payload's type (named by the previous header) */
	uint8_t next;  /* its Next Payload field; for SK/SKF the inner chain's first type */
	bool critical; /* the C bit */
	bool known;    /* false: a type Keel does not parse, kept as body only */
	size_t off;    /* offset of its generic header from the start of what was decoded */
	struct keel_v2_bytes body; /* after the generic header */
};

struct keel_v2_chain {
	size_t n;
	struct keel_v2_raw_payload p[KEEL_V2_MAX_PAYLOADS];
	/* On KEEL_ERR_UNSUPPORTED: the type of the unknown critical payload. */
	uint8_t unsupported_type;
};

struct keel_v2_msg {
	struct keel_v2_hdr hdr;
	struct keel_v2_bytes raw; /* the whole message as decoded */
	struct keel_v2_chain chain;
};

/* Transform attribute, RFC 7296 §3.3.5 */
struct keel_v2_attr {
	const uint8_t *value; /* TLV: borrowed value bytes; TV: NULL */
	uint16_t type;        /* without the AF bit */
	uint16_t len;         /* TLV: value length */
	uint16_t tv_value;    /* TV: the value */
	bool tv;
};

struct keel_v2_transform { /* RFC 7296 §3.3.2 */
	uint8_t type;      /* enum keel_v2_transform_type */
	uint8_t n_attrs;
	uint16_t id;
	struct keel_v2_attr attrs[KEEL_V2_MAX_TRANSFORM_ATTRS];
};

struct keel_v2_proposal { /* RFC 7296 §3.3.1 */
	uint8_t num;
	uint8_t protocol; /* enum keel_v2_protocol */
	uint8_t first;    /* index of its first transform in keel_v2_sa.transforms */
	uint8_t n_transforms;
	struct keel_v2_bytes spi; /* 0 bytes, 4 (AH/ESP) or 8 (IKE rekey) */
};

/*
 * SA payload. The transforms of all proposals sit in one array, in order;
 * proposal i owns transforms[first .. first + n_transforms). Build one with
 * keel_v2_sa_init(), keel_v2_sa_add_proposal(), keel_v2_sa_add_transform().
 */
struct keel_v2_sa {
	size_t n_proposals;
	size_t n_transforms;
	struct keel_v2_proposal proposals[KEEL_V2_MAX_PROPOSALS];
	struct keel_v2_transform transforms[KEEL_V2_MAX_TRANSFORMS];
};

struct keel_v2_ke {     /* RFC 7296 §3.4 */
	uint16_t group; /* enum keel_v2_dh */
	struct keel_v2_bytes data;
};

struct keel_v2_id {   /* IDi / IDr, RFC 7296 §3.5; AUTH signs the raw body */
	uint8_t type; /* enum keel_v2_id_type */
	struct keel_v2_bytes data;
};

struct keel_v2_cert {              /* CERT and CERTREQ, RFC 7296 §3.6, §3.7 */
	uint8_t encoding;          /* enum keel_v2_cert_encoding */
	struct keel_v2_bytes data; /* CERTREQ: concatenated 20-byte SHA-1 key hashes */
};

struct keel_v2_auth {   /* RFC 7296 §3.8 */
	uint8_t method; /* enum keel_v2_auth_method */
	struct keel_v2_bytes data;
};

struct keel_v2_notify {   /* RFC 7296 §3.10 */
	uint8_t protocol; /* 0 when no SPI */
	uint16_t type;    /* enum keel_v2_notify_type */
	struct keel_v2_bytes spi;
	struct keel_v2_bytes data;
};

struct keel_v2_delete { /* RFC 7296 §3.11 */
	uint8_t protocol;
	uint8_t spi_size;
	uint16_t n_spis;
	struct keel_v2_bytes spis; /* n_spis * spi_size bytes */
};

struct keel_v2_ts_entry { /* RFC 7296 §3.13.1 */
	uint8_t type;     /* enum keel_v2_ts_type */
	uint8_t ip_proto; /* 0: any; for other types the second octet */
	uint16_t start_port;
	uint16_t end_port;
	uint8_t start_addr[16]; /* IPv4: the first 4 bytes */
	uint8_t end_addr[16];
	/* types other than IPv4/IPv6 ranges: everything after the 4-byte header */
	struct keel_v2_bytes data;
};

struct keel_v2_ts { /* TSi / TSr */
	size_t n;
	struct keel_v2_ts_entry ts[KEEL_V2_MAX_TS];
};

struct keel_v2_sk {                /* RFC 7296 §3.14 */
	uint8_t inner_type;        /* type of the first inner payload */
	struct keel_v2_bytes body; /* IV | ciphertext (incl. padding) | ICV */
};

struct keel_v2_skf {        /* RFC 7383 §2.5 */
	uint8_t inner_type; /* fragment 1: first inner payload type; others 0 */
	uint16_t frag_num;  /* 1..total */
	uint16_t total;
	struct keel_v2_bytes body; /* IV | ciphertext | ICV */
};

struct keel_v2_cp_attr {
	uint16_t type; /* enum keel_v2_cp_attr_type (R bit dropped) */
	struct keel_v2_bytes value;
};

struct keel_v2_cp {       /* RFC 7296 §3.15 */
	uint8_t cfg_type; /* enum keel_v2_cfg_type */
	size_t n;
	struct keel_v2_cp_attr attrs[KEEL_V2_MAX_CP_ATTRS];
};

struct keel_v2_eap { /* RFC 7296 §3.16, RFC 3748 §4 */
	uint8_t code;
	uint8_t identifier;
	bool has_type; /* decode: length > 4 and not Success/Failure */
	uint8_t type;
	struct keel_v2_bytes data; /* after the Type (or after the header) */
	/* decode only: the whole EAP message (its Length equals the payload body) */
	struct keel_v2_bytes msg;
};

/*
 * A typed payload. `type` picks the union member: SA sa, KE ke, IDi/IDr id,
 * CERT/CERTREQ cert, AUTH auth, Nonce nonce, N notify, D del, V vendor,
 * TSi/TSr ts, SK sk, CP cp, EAP eap, SKF skf; any other type raw (the body
 * as is). Large (SA): keep one at a time, not arrays of them.
 */
struct keel_v2_payload {
	uint8_t type;
	bool critical;
	union {
		struct keel_v2_sa sa;
		struct keel_v2_ke ke;
		struct keel_v2_id id;
		struct keel_v2_cert cert;
		struct keel_v2_auth auth;
		struct keel_v2_bytes nonce;
		struct keel_v2_notify notify;
		struct keel_v2_delete del;
		struct keel_v2_bytes vendor;
		struct keel_v2_ts ts;
		struct keel_v2_sk sk;
		struct keel_v2_cp cp;
		struct keel_v2_eap eap;
		struct keel_v2_skf skf;
		struct keel_v2_bytes raw;
	} u;
};

/* ---- decoding ---------------------------------------------------------- */

/*
 * Decodes the fixed header of a datagram. KEEL_ERR_MALFORMED when len is short
 * of a header or the Length field differs from len (RFC 7296 §3.1).
 * KEEL_ERR_UNSUPPORTED when the major version is not 2: *out is filled all
 * the same, so the caller can answer INVALID_MAJOR_VERSION (RFC 7296 §2.5).
 */
int keel_v2_hdr_decode(const uint8_t *buf, size_t len, struct keel_v2_hdr *out);

/*
 * Decodes a whole message: header, then the chain starting at its Next
 * Payload. SK/SKF may appear, and only last. Errors as keel_v2_hdr_decode()
 * and keel_v2_chain_decode(); on KEEL_ERR_UNSUPPORTED out->hdr and
 * out->chain.unsupported_type are set (nothing else is meaningful); on any
 * error out->chain.n is 0. Offsets in out->chain count from buf.
 */
int keel_v2_msg_decode(const uint8_t *buf, size_t len, struct keel_v2_msg *out);

enum keel_v2_chain_flags {
	KEEL_V2_CHAIN_OUTER = 0, /* SK/SKF allowed, as the last payload */
	KEEL_V2_CHAIN_INNER = 1, /* decrypted contents of SK: SK/SKF refused */
};

/*
 * Decodes a payload chain that fills r exactly, the first payload having type
 * first_type (flags: one of enum keel_v2_chain_flags) (KEEL_V2_PAYLOAD_NONE: an empty chain, r must
 * be empty). Runs the structural decoder of every known payload. The last payload's Next Payload
 * must be 0 (SK/SKF excepted). On success r is consumed.
 * KEEL_ERR_MALFORMED: bad lengths, a payload length below 4, more than
 * KEEL_V2_MAX_PAYLOADS payloads, a known payload that does not parse, SK/SKF
 * not last (or present at all with KEEL_V2_CHAIN_INNER).
 * KEEL_ERR_UNSUPPORTED: an unknown type with the critical bit;
 * out->unsupported_type names it. On any error out->n is 0 and r is left as
 * it was. Offsets count from the start of r.
 */
int keel_v2_chain_decode(struct keel_rd *r, uint8_t first_type, unsigned flags,
                         struct keel_v2_chain *out);

/*
 * The typed view of one payload record (type, critical and body); for a
 * record that keel_v2_chain_decode() produced, this succeeds. Types Keel does
 * not parse come back in out->u.raw. KEEL_ERR_MALFORMED on a body that does
 * not parse or a cap exceeded; *out is then unspecified. The result borrows
 * from the record's buffer.
 */
int keel_v2_payload_decode(const struct keel_v2_raw_payload *raw, struct keel_v2_payload *out);

/* The next record of the given type after `after` (NULL, or a record of c), or NULL. */
const struct keel_v2_raw_payload *keel_v2_chain_find(const struct keel_v2_chain *c, uint8_t type,
                                                     const struct keel_v2_raw_payload *after);
/*
 * The next Notify payload of the given notify type after `after` (NULL, or a
 * record of c), decoded into *out; NULL (and *out untouched) when there is none.
 */
const struct keel_v2_raw_payload *keel_v2_chain_find_notify(const struct keel_v2_chain *c,
                                                            uint16_t notify_type,
                                                            const struct keel_v2_raw_payload *after,
                                                            struct keel_v2_notify *out);

/* Transform attribute lookup: the Key Length in bits, or 0 when there is none. */
unsigned keel_v2_transform_key_len(const struct keel_v2_transform *t);

/*
 * Splits an SK/SKF body into IV, ciphertext and ICV for the negotiated
 * lengths. KEEL_ERR_MALFORMED when the body is shorter than iv_len + icv_len
 * + 1 (at least the Pad Length byte must be encrypted).
 */
struct keel_v2_sk_parts {
	struct keel_v2_bytes iv;
	struct keel_v2_bytes ciphertext;
	struct keel_v2_bytes icv;
};
int keel_v2_sk_split(struct keel_v2_bytes body, size_t iv_len, size_t icv_len,
                     struct keel_v2_sk_parts *out);

/*
 * After decryption: strips Padding and Pad Length (RFC 7296 §3.14) from the
 * plaintext and returns the inner chain bytes. KEEL_ERR_MALFORMED when the
 * plaintext is empty or the Pad Length runs past its start.
 */
int keel_v2_sk_unpad(struct keel_v2_bytes plain, struct keel_v2_bytes *inner);

/* ---- semantic checks: 0 or KEEL_ERR_MALFORMED ------------------------- */

/* Proposal numbers 1, 2, ... (§3.3.1); known protocols; SPI size 0/8 for IKE,
 * 4 for AH/ESP; every proposal has transforms; known transform types; Key
 * Length only as TV, at most once, only on ENCR (§3.3.5). */
int keel_v2_sa_verify(const struct keel_v2_sa *sa);
/* Group not NONE; data length equals keel_v2_dh_public_len() when known. */
int keel_v2_ke_verify(const struct keel_v2_ke *ke);
/* Known type; IPv4 4 bytes, IPv6 16 bytes, NULL empty, others non-empty. */
int keel_v2_id_verify(const struct keel_v2_id *id);
/* Nonce 16..256 bytes (§3.9). */
int keel_v2_nonce_verify(struct keel_v2_bytes nonce);
/* SPI size 0 (protocol any, ignored) or 4 with AH/ESP or 8 with IKE; data
 * lengths of the types with fixed data (NAT_DETECTION_*: 20, COOKIE: 1..64,
 * INVALID_KE_PAYLOAD: 2, UNSUPPORTED_CRITICAL_PAYLOAD: 1, REKEY_SA: SPI 4,
 * SIGNATURE_HASH_ALGORITHMS: even). */
int keel_v2_notify_verify(const struct keel_v2_notify *n);
/* IKE: SPI size 0 and no SPIs; AH/ESP: SPI size 4, at least one (§3.11). */
int keel_v2_delete_verify(const struct keel_v2_delete *d);
/* At least one selector; types 7/8 only; start <= end for addresses and ports
 * (ports 65535..0 are OPAQUE, allowed, §3.13.1). */
int keel_v2_ts_verify(const struct keel_v2_ts *ts);
/* Known CFG type; attribute values of the registered address types are empty
 * or of their fixed length (§3.15.1). */
int keel_v2_cp_verify(const struct keel_v2_cp *cp);
/* Request/Response carry a Type; Success/Failure are exactly 4 bytes. */
int keel_v2_eap_verify(const struct keel_v2_eap *eap);
/* Method not 0, data not empty. */
int keel_v2_auth_verify(const struct keel_v2_auth *auth);
/* Encoding not 0; CERTREQ data a multiple of 20 for X.509 (§3.7). */
int keel_v2_cert_verify(uint8_t payload_type, const struct keel_v2_cert *cert);
/* 1 <= frag_num <= total; inner_type 0 except in fragment 1 (RFC 7383 §2.5). */
int keel_v2_skf_verify(const struct keel_v2_skf *skf);
/* Dispatches on pl->type to the checks above; 0 for types without any. */
int keel_v2_payload_verify(const struct keel_v2_payload *pl);
/* Decodes and verifies every known payload of a chain. */
int keel_v2_chain_verify(const struct keel_v2_chain *c);

/* ---- building SA payloads ---------------------------------------------- */

void keel_v2_sa_init(struct keel_v2_sa *sa);
/* Appends a proposal numbered n_proposals + 1; spi is borrowed until encoded.
 * KEEL_ERR_INVAL when full or spi_len > 255. */
int keel_v2_sa_add_proposal(struct keel_v2_sa *sa, uint8_t protocol, const uint8_t *spi,
                            size_t spi_len);
/* Appends a transform to the last proposal, with a Key Length attribute when
 * key_len_bits != 0. KEEL_ERR_INVAL when full or no proposal yet. */
int keel_v2_sa_add_transform(struct keel_v2_sa *sa, uint8_t type, uint16_t id,
                             unsigned key_len_bits);

/* ---- encoding ---------------------------------------------------------- */

/* Writes the 28-byte header as given (hdr->len included). */
void keel_v2_hdr_encode(struct keel_wr *w, const struct keel_v2_hdr *hdr);

/*
 * A chain being written. Errors are sticky: the first one is kept and
 * reported by keel_v2_chain_finish() (and returned by the call that hit it).
 */
struct keel_v2_chain_wr {
	struct keel_wr *w;
	size_t start;       /* writer position where this chain (or message) began */
	size_t next_pos;    /* where the next payload's type is patched; SIZE_MAX: nowhere */
	size_t hdr_pos;     /* IKE header position; SIZE_MAX for a bare chain */
	uint8_t first_type; /* type of the first payload added, 0 if none */
	size_t n;
	bool closed;      /* an SK/SKF was added: nothing may follow */
	bool sk_open;     /* keel_v2_sk_begin() ran, keel_v2_sk_end() not yet */
	uint8_t next_low; /* the byte after the Next Payload field to patch */
	int err;
};

/* Begins a message: writes hdr with Next Payload and Length to be patched. */
void keel_v2_msg_wr_begin(struct keel_v2_chain_wr *cw, struct keel_wr *w,
                          const struct keel_v2_hdr *hdr);
/* Begins a bare chain at the writer's position. */
void keel_v2_chain_wr_begin(struct keel_v2_chain_wr *cw, struct keel_wr *w);
/*
 * Appends one payload (generic header + body from the union member its type
 * selects). For SK/SKF the Next Payload field carries inner_type and the
 * chain is closed. Returns 0, KEEL_ERR_NOBUF, KEEL_ERR_INVAL (a count or length
 * that does not fit its field, a payload over 65535 bytes) or KEEL_ERR_STATE
 * (chain closed).
 */
int keel_v2_chain_add(struct keel_v2_chain_wr *cw, const struct keel_v2_payload *pl);
/*
 * Ends the chain: for a message patches the header Length. Returns the bytes
 * written since begin, or the first error.
 */
ptrdiff_t keel_v2_chain_finish(struct keel_v2_chain_wr *cw);

/* ---- encrypting in place ---------------------------------------------- */

/* Offsets count from the start of the writer's buffer (w->buf). */
struct keel_v2_sk_layout {
	size_t msg_off; /* IKE header */
	size_t msg_len; /* the whole message, once keel_v2_chain_finish() ran */
	size_t aad_len; /* AEAD associated data: msg_off .. iv_off (RFC 5282 §5.1) */
	size_t iv_off;
	size_t iv_len;
	size_t plain_off; /* encrypt from here ... */
	size_t plain_len; /* ... this much: inner bytes + Padding + Pad Length */
	size_t icv_off;   /* ICV goes here; non-AEAD ICV covers msg_off .. icv_off */
	size_t icv_len;
};

struct keel_v2_sk_wr {
	struct keel_v2_chain_wr *outer;
	struct keel_v2_chain_wr inner; /* SK: add the inner payloads here */
	size_t sk_pos;                 /* generic header of the SK/SKF payload */
	size_t iv_pos;
	size_t plain_pos;
	size_t iv_len;
	bool fragment;
};

/*
 * Begins an SK payload at the end of cw: writes its generic header, reserves
 * iv_len bytes for the IV (left zero), and opens sk->inner, whose first
 * payload type is patched into the SK header. Closes cw.
 */
int keel_v2_sk_begin(struct keel_v2_chain_wr *cw, struct keel_v2_sk_wr *sk, size_t iv_len);
/*
 * Begins an SKF payload (RFC 7383 §2.5); then write the fragment's plaintext
 * with keel_wr_bytes(cw->w, ...). inner_type is the first inner payload type
 * for fragment 1 and 0 for the others. KEEL_ERR_INVAL unless 1 <= frag_num <= total.
 */
int keel_v2_skf_begin(struct keel_v2_chain_wr *cw, struct keel_v2_sk_wr *sk, size_t iv_len,
                      uint16_t frag_num, uint16_t total, uint8_t inner_type);
/*
 * Ends the SK/SKF payload: appends zero Padding and the Pad Length so that
 * the plaintext is a multiple of block_len (1..255; 1 for AEAD and stream
 * ciphers), reserves icv_len bytes (left zero), patches the payload length and
 * fills *out (msg_len included: SK/SKF is last, so the message is complete).
 * Then call keel_v2_chain_finish(sk->outer) to patch the header Length, and
 * only then fill the IV, encrypt and compute the ICV, since both cover the
 * header. KEEL_ERR_INVAL for block_len 0 or > 255; otherwise the outer
 * chain's sticky error.
 */
int keel_v2_sk_end(struct keel_v2_sk_wr *sk, size_t block_len, size_t icv_len,
                   struct keel_v2_sk_layout *out);

#endif
