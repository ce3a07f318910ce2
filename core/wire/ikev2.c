/* SPDX-License-Identifier: GPL-2.0-or-later */
/* IKEv2 wire codec: RFC 7296 §3, RFC 7383 §2.5. See ikev2.h for the contract. */
#include <string.h>

#include "wire/ikev2.h"

#define MALFORMED KEEL_ERR_MALFORMED

/* ======================================================================== */
/* Names                                                                    */
/* ======================================================================== */

struct name {
	unsigned v;
	const char *s;
};

static const char *lookup(const struct name *t, size_t n, unsigned v)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].v == v)
			return t[i].s;
	return "unknown";
}

#define LOOKUP(table, v) lookup(table, sizeof(table) / sizeof(table[0]), v)
#define NAME(prefix, x)                                                                            \
	{                                                                                          \
		prefix##x, #x                                                                      \
	}

static const struct name exchange_names[] = {
    NAME(KEEL_V2_EXCHANGE_, IKE_SA_INIT),        NAME(KEEL_V2_EXCHANGE_, IKE_AUTH),
    NAME(KEEL_V2_EXCHANGE_, CREATE_CHILD_SA),    NAME(KEEL_V2_EXCHANGE_, INFORMATIONAL),
    NAME(KEEL_V2_EXCHANGE_, IKE_SESSION_RESUME), NAME(KEEL_V2_EXCHANGE_, GSA_AUTH),
    NAME(KEEL_V2_EXCHANGE_, GSA_REGISTRATION),   NAME(KEEL_V2_EXCHANGE_, GSA_REKEY),
    NAME(KEEL_V2_EXCHANGE_, IKE_INTERMEDIATE),   NAME(KEEL_V2_EXCHANGE_, IKE_FOLLOWUP_KE),
};

/* The short names strongSwan and Wireshark users know */
static const struct name payload_names[] = {
    {KEEL_V2_PAYLOAD_NONE, "NONE"},       {KEEL_V2_PAYLOAD_SA, "SA"},
    {KEEL_V2_PAYLOAD_KE, "KE"},           {KEEL_V2_PAYLOAD_IDI, "IDi"},
    {KEEL_V2_PAYLOAD_IDR, "IDr"},         {KEEL_V2_PAYLOAD_CERT, "CERT"},
    {KEEL_V2_PAYLOAD_CERTREQ, "CERTREQ"}, {KEEL_V2_PAYLOAD_AUTH, "AUTH"},
    {KEEL_V2_PAYLOAD_NONCE, "No"},        {KEEL_V2_PAYLOAD_NOTIFY, "N"},
    {KEEL_V2_PAYLOAD_DELETE, "D"},        {KEEL_V2_PAYLOAD_VENDOR, "V"},
    {KEEL_V2_PAYLOAD_TSI, "TSi"},         {KEEL_V2_PAYLOAD_TSR, "TSr"},
    {KEEL_V2_PAYLOAD_SK, "SK"},           {KEEL_V2_PAYLOAD_CP, "CP"},
    {KEEL_V2_PAYLOAD_EAP, "EAP"},         {KEEL_V2_PAYLOAD_GSPM, "GSPM"},
    {KEEL_V2_PAYLOAD_IDG, "IDg"},         {KEEL_V2_PAYLOAD_GSA, "GSA"},
    {KEEL_V2_PAYLOAD_KD, "KD"},           {KEEL_V2_PAYLOAD_SKF, "SKF"},
    {KEEL_V2_PAYLOAD_PS, "PS"},
};

#define N(x)                                                                                       \
	{                                                                                          \
		KEEL_V2_N_##x, #x                                                                  \
	}
static const struct name notify_names[] = {
    N(UNSUPPORTED_CRITICAL_PAYLOAD),
    N(INVALID_IKE_SPI),
    N(INVALID_MAJOR_VERSION),
    N(INVALID_SYNTAX),
    N(INVALID_MESSAGE_ID),
    N(INVALID_SPI),
    N(NO_PROPOSAL_CHOSEN),
    N(INVALID_KE_PAYLOAD),
    N(AUTHENTICATION_FAILED),
    N(SINGLE_PAIR_REQUIRED),
    N(NO_ADDITIONAL_SAS),
    N(INTERNAL_ADDRESS_FAILURE),
    N(FAILED_CP_REQUIRED),
    N(TS_UNACCEPTABLE),
    N(INVALID_SELECTORS),
    N(UNACCEPTABLE_ADDRESSES),
    N(UNEXPECTED_NAT_DETECTED),
    {KEEL_V2_N_USE_ASSIGNED_HOA, "USE_ASSIGNED_HoA"},
    N(TEMPORARY_FAILURE),
    N(CHILD_SA_NOT_FOUND),
    N(INVALID_GROUP_ID),
    N(AUTHORIZATION_FAILED),
    N(STATE_NOT_FOUND),
    N(TS_MAX_QUEUE),
    N(INITIAL_CONTACT),
    N(SET_WINDOW_SIZE),
    N(ADDITIONAL_TS_POSSIBLE),
    N(IPCOMP_SUPPORTED),
    N(NAT_DETECTION_SOURCE_IP),
    N(NAT_DETECTION_DESTINATION_IP),
    N(COOKIE),
    N(USE_TRANSPORT_MODE),
    N(HTTP_CERT_LOOKUP_SUPPORTED),
    N(REKEY_SA),
    N(ESP_TFC_PADDING_NOT_SUPPORTED),
    N(NON_FIRST_FRAGMENTS_ALSO),
    N(MOBIKE_SUPPORTED),
    N(ADDITIONAL_IP4_ADDRESS),
    N(ADDITIONAL_IP6_ADDRESS),
    N(NO_ADDITIONAL_ADDRESSES),
    N(UPDATE_SA_ADDRESSES),
    N(COOKIE2),
    N(NO_NATS_ALLOWED),
    N(AUTH_LIFETIME),
    N(MULTIPLE_AUTH_SUPPORTED),
    N(ANOTHER_AUTH_FOLLOWS),
    N(REDIRECT_SUPPORTED),
    N(REDIRECT),
    N(REDIRECTED_FROM),
    N(TICKET_LT_OPAQUE),
    N(TICKET_REQUEST),
    N(TICKET_ACK),
    N(TICKET_NACK),
    N(TICKET_OPAQUE),
    N(LINK_ID),
    N(USE_WESP_MODE),
    N(ROHC_SUPPORTED),
    N(EAP_ONLY_AUTHENTICATION),
    N(CHILDLESS_IKEV2_SUPPORTED),
    N(QUICK_CRASH_DETECTION),
    N(IKEV2_MESSAGE_ID_SYNC_SUPPORTED),
    N(IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED),
    N(IKEV2_MESSAGE_ID_SYNC),
    N(IPSEC_REPLAY_COUNTER_SYNC),
    N(SECURE_PASSWORD_METHODS),
    N(PSK_PERSIST),
    N(PSK_CONFIRM),
    N(ERX_SUPPORTED),
    N(IFOM_CAPABILITY),
    N(SENDER_REQUEST_ID),
    N(IKEV2_FRAGMENTATION_SUPPORTED),
    N(SIGNATURE_HASH_ALGORITHMS),
    N(CLONE_IKE_SA_SUPPORTED),
    N(CLONE_IKE_SA),
    N(PUZZLE),
    N(USE_PPK),
    N(PPK_IDENTITY),
    N(NO_PPK_AUTH),
    N(INTERMEDIATE_EXCHANGE_SUPPORTED),
    N(IP4_ALLOWED),
    N(IP6_ALLOWED),
    N(ADDITIONAL_KEY_EXCHANGE),
    N(USE_AGGFRAG),
    N(SUPPORTED_AUTH_METHODS),
    N(SA_RESOURCE_INFO),
};
#undef N

static const struct name protocol_names[] = {
    NAME(KEEL_V2_PROTO_, NONE),
    NAME(KEEL_V2_PROTO_, IKE),
    NAME(KEEL_V2_PROTO_, AH),
    NAME(KEEL_V2_PROTO_, ESP),
};

static const struct name transform_type_names[] = {
    NAME(KEEL_V2_TRANSFORM_, ENCR),
    NAME(KEEL_V2_TRANSFORM_, PRF),
    NAME(KEEL_V2_TRANSFORM_, INTEG),
    {KEEL_V2_TRANSFORM_DH, "KE"},
    NAME(KEEL_V2_TRANSFORM_, ESN),
    {6, "ADDKE1"},
    {7, "ADDKE2"},
    {8, "ADDKE3"},
    {9, "ADDKE4"},
    {10, "ADDKE5"},
    {11, "ADDKE6"},
    {12, "ADDKE7"},
};

#define E(x)                                                                                       \
	{                                                                                          \
		KEEL_V2_ENCR_##x, #x                                                               \
	}
static const struct name encr_names[] = {
    E(DES_IV64),
    E(DES),
    E(3DES),
    E(RC5),
    E(IDEA),
    E(CAST),
    E(BLOWFISH),
    E(3IDEA),
    E(DES_IV32),
    E(NULL),
    E(AES_CBC),
    E(AES_CTR),
    E(AES_CCM_8),
    E(AES_CCM_12),
    E(AES_CCM_16),
    E(AES_GCM_8),
    E(AES_GCM_12),
    E(AES_GCM_16),
    E(NULL_AUTH_AES_GMAC),
    E(CAMELLIA_CBC),
    E(CAMELLIA_CTR),
    E(CAMELLIA_CCM_8),
    E(CAMELLIA_CCM_12),
    E(CAMELLIA_CCM_16),
    E(CHACHA20_POLY1305),
};
#undef E

#define P(x)                                                                                       \
	{                                                                                          \
		KEEL_V2_PRF_##x, "PRF_" #x                                                         \
	}
static const struct name prf_names[] = {
    P(HMAC_MD5),      P(HMAC_SHA1),     P(HMAC_TIGER),    P(AES128_XCBC),
    P(HMAC_SHA2_256), P(HMAC_SHA2_384), P(HMAC_SHA2_512), P(AES128_CMAC),
};
#undef P

#define I(x)                                                                                       \
	{                                                                                          \
		KEEL_V2_INTEG_##x, "AUTH_" #x                                                      \
	}
static const struct name integ_names[] = {
    {KEEL_V2_INTEG_NONE, "NONE"},
    I(HMAC_MD5_96),
    I(HMAC_SHA1_96),
    I(DES_MAC),
    I(KPDK_MD5),
    I(AES_XCBC_96),
    I(HMAC_MD5_128),
    I(HMAC_SHA1_160),
    I(AES_CMAC_96),
    I(AES_128_GMAC),
    I(AES_192_GMAC),
    I(AES_256_GMAC),
    I(HMAC_SHA2_256_128),
    I(HMAC_SHA2_384_192),
    I(HMAC_SHA2_512_256),
};
#undef I

#define D(x)                                                                                       \
	{                                                                                          \
		KEEL_V2_DH_##x, #x                                                                 \
	}
static const struct name dh_names[] = {
    D(NONE),
    D(MODP768),
    D(MODP1024),
    D(MODP1536),
    D(MODP2048),
    D(MODP3072),
    D(MODP4096),
    D(MODP6144),
    D(MODP8192),
    D(ECP256),
    D(ECP384),
    D(ECP521),
    D(MODP1024S160),
    D(MODP2048S224),
    D(MODP2048S256),
    D(ECP192),
    D(ECP224),
    D(BRAINPOOL_P224R1),
    D(BRAINPOOL_P256R1),
    D(BRAINPOOL_P384R1),
    D(BRAINPOOL_P512R1),
    D(CURVE25519),
    D(CURVE448),
    D(ML_KEM_512),
    D(ML_KEM_768),
    D(ML_KEM_1024),
};
#undef D

static const struct name esn_names[] = {
    NAME(KEEL_V2_ESN_, NO),
    NAME(KEEL_V2_ESN_, YES),
};

#define ID(x)                                                                                      \
	{                                                                                          \
		KEEL_V2_ID_##x, "ID_" #x                                                           \
	}
static const struct name id_type_names[] = {
    ID(IPV4_ADDR),   ID(FQDN),   ID(RFC822_ADDR), ID(IPV6_ADDR), ID(DER_ASN1_DN),
    ID(DER_ASN1_GN), ID(KEY_ID), ID(FC_NAME),     ID(NULL),
};
#undef ID

#define C(x)                                                                                       \
	{                                                                                          \
		KEEL_V2_CERT_##x, #x                                                               \
	}
static const struct name cert_encoding_names[] = {
    C(PKCS7_X509),
    C(PGP),
    C(DNS_SIGNED_KEY),
    C(X509_SIGNATURE),
    C(KERBEROS_TOKEN),
    C(CRL),
    C(ARL),
    C(SPKI),
    C(X509_ATTRIBUTE),
    C(RAW_RSA_KEY),
    C(HASH_URL_X509),
    C(HASH_URL_X509_BUNDLE),
    C(OCSP_CONTENT),
    C(RAW_PUBLIC_KEY),
};
#undef C

static const struct name auth_method_names[] = {
    NAME(KEEL_V2_AUTH_, RSA_SIG),
    {KEEL_V2_AUTH_PSK, "SHARED_KEY_MIC"},
    NAME(KEEL_V2_AUTH_, DSS_SIG),
    NAME(KEEL_V2_AUTH_, ECDSA_SHA256_P256),
    NAME(KEEL_V2_AUTH_, ECDSA_SHA384_P384),
    NAME(KEEL_V2_AUTH_, ECDSA_SHA512_P521),
    NAME(KEEL_V2_AUTH_, GSPM),
    NAME(KEEL_V2_AUTH_, NULL),
    NAME(KEEL_V2_AUTH_, DIGITAL_SIG),
};

static const struct name ts_type_names[] = {
    {KEEL_V2_TS_IPV4_ADDR_RANGE, "TS_IPV4_ADDR_RANGE"},
    {KEEL_V2_TS_IPV6_ADDR_RANGE, "TS_IPV6_ADDR_RANGE"},
    {KEEL_V2_TS_FC_ADDR_RANGE, "TS_FC_ADDR_RANGE"},
    {KEEL_V2_TS_SECLABEL, "TS_SECLABEL"},
};

static const struct name cfg_type_names[] = {
    {KEEL_V2_CFG_REQUEST, "CFG_REQUEST"},
    {KEEL_V2_CFG_REPLY, "CFG_REPLY"},
    {KEEL_V2_CFG_SET, "CFG_SET"},
    {KEEL_V2_CFG_ACK, "CFG_ACK"},
};

#define CP(x)                                                                                      \
	{                                                                                          \
		KEEL_V2_CP_##x, #x                                                                 \
	}
static const struct name cp_attr_names[] = {
    CP(INTERNAL_IP4_ADDRESS),
    CP(INTERNAL_IP4_NETMASK),
    CP(INTERNAL_IP4_DNS),
    CP(INTERNAL_IP4_NBNS),
    CP(INTERNAL_IP4_DHCP),
    CP(APPLICATION_VERSION),
    CP(INTERNAL_IP6_ADDRESS),
    CP(INTERNAL_IP6_DNS),
    CP(INTERNAL_IP6_DHCP),
    CP(INTERNAL_IP4_SUBNET),
    CP(SUPPORTED_ATTRIBUTES),
    CP(INTERNAL_IP6_SUBNET),
    CP(MIP6_HOME_PREFIX),
    CP(INTERNAL_IP6_LINK),
    CP(INTERNAL_IP6_PREFIX),
    CP(HOME_AGENT_ADDRESS),
    CP(P_CSCF_IP4_ADDRESS),
    CP(P_CSCF_IP6_ADDRESS),
    CP(FTT_KAT),
    CP(EXTERNAL_SOURCE_IP4_NAT_INFO),
    CP(TIMEOUT_PERIOD_FOR_LIVENESS_CHECK),
    CP(INTERNAL_DNS_DOMAIN),
    CP(INTERNAL_DNSSEC_TA),
};
#undef CP

static const struct name eap_code_names[] = {
    {KEEL_V2_EAP_REQUEST, "Request"},
    {KEEL_V2_EAP_RESPONSE, "Response"},
    {KEEL_V2_EAP_SUCCESS, "Success"},
    {KEEL_V2_EAP_FAILURE, "Failure"},
};

const char *keel_v2_exchange_name(unsigned exchange)
{
	return LOOKUP(exchange_names, exchange);
}

const char *keel_v2_payload_name(unsigned type)
{
	return LOOKUP(payload_names, type);
}

const char *keel_v2_notify_name(unsigned type)
{
	return LOOKUP(notify_names, type);
}

const char *keel_v2_protocol_name(unsigned protocol)
{
	return LOOKUP(protocol_names, protocol);
}

const char *keel_v2_transform_type_name(unsigned type)
{
	return LOOKUP(transform_type_names, type);
}

const char *keel_v2_encr_name(unsigned id)
{
	return LOOKUP(encr_names, id);
}

const char *keel_v2_prf_name(unsigned id)
{
	return LOOKUP(prf_names, id);
}

const char *keel_v2_integ_name(unsigned id)
{
	return LOOKUP(integ_names, id);
}

const char *keel_v2_dh_name(unsigned id)
{
	return LOOKUP(dh_names, id);
}

const char *keel_v2_esn_name(unsigned id)
{
	return LOOKUP(esn_names, id);
}

const char *keel_v2_transform_id_name(unsigned type, unsigned id)
{
	if (type == KEEL_V2_TRANSFORM_ENCR)
		return keel_v2_encr_name(id);
	if (type == KEEL_V2_TRANSFORM_PRF)
		return keel_v2_prf_name(id);
	if (type == KEEL_V2_TRANSFORM_INTEG)
		return keel_v2_integ_name(id);
	if (type == KEEL_V2_TRANSFORM_ESN)
		return keel_v2_esn_name(id);
	/* KE and ADDKE1..7 share the Key Exchange Method registry (RFC 9370) */
	if (type == KEEL_V2_TRANSFORM_DH ||
	    (type >= KEEL_V2_TRANSFORM_ADDKE1 && type <= KEEL_V2_TRANSFORM_ADDKE7))
		return keel_v2_dh_name(id);
	return "unknown";
}

const char *keel_v2_id_type_name(unsigned type)
{
	return LOOKUP(id_type_names, type);
}

const char *keel_v2_cert_encoding_name(unsigned encoding)
{
	return LOOKUP(cert_encoding_names, encoding);
}

const char *keel_v2_auth_method_name(unsigned method)
{
	return LOOKUP(auth_method_names, method);
}

const char *keel_v2_ts_type_name(unsigned type)
{
	return LOOKUP(ts_type_names, type);
}

const char *keel_v2_cfg_type_name(unsigned type)
{
	return LOOKUP(cfg_type_names, type);
}

const char *keel_v2_cp_attr_name(unsigned type)
{
	return LOOKUP(cp_attr_names, type);
}

const char *keel_v2_eap_code_name(unsigned code)
{
	return LOOKUP(eap_code_names, code);
}

ptrdiff_t keel_v2_dh_public_len(unsigned group)
{
	switch (group) {
	/* MODP: the public value is zero-padded to the prime's length (RFC 7296 §3.4) */
	case KEEL_V2_DH_MODP768:
		return 96;
	case KEEL_V2_DH_MODP1024:
		return 128;
	case KEEL_V2_DH_MODP1536:
		return 192;
	case KEEL_V2_DH_MODP2048:
		return 256;
	case KEEL_V2_DH_MODP3072:
		return 384;
	case KEEL_V2_DH_MODP4096:
		return 512;
	case KEEL_V2_DH_MODP6144:
		return 768;
	case KEEL_V2_DH_MODP8192:
		return 1024;
	case KEEL_V2_DH_MODP1024S160:
		return 128;
	case KEEL_V2_DH_MODP2048S224:
		return 256;
	case KEEL_V2_DH_MODP2048S256:
		return 256;
	/* ECP: x || y, each the field size (RFC 5903 §7, RFC 6954 §3) */
	case KEEL_V2_DH_ECP192:
		return 48;
	case KEEL_V2_DH_ECP224:
		return 56;
	case KEEL_V2_DH_ECP256:
		return 64;
	case KEEL_V2_DH_ECP384:
		return 96;
	case KEEL_V2_DH_ECP521:
		return 132;
	case KEEL_V2_DH_BRAINPOOL_P224R1:
		return 56;
	case KEEL_V2_DH_BRAINPOOL_P256R1:
		return 64;
	case KEEL_V2_DH_BRAINPOOL_P384R1:
		return 96;
	case KEEL_V2_DH_BRAINPOOL_P512R1:
		return 128;
	/* RFC 8031 §2 */
	case KEEL_V2_DH_CURVE25519:
		return 32;
	case KEEL_V2_DH_CURVE448:
		return 56;
	default:
		return KEEL_ERR_UNSUPPORTED;
	}
}

/* ======================================================================== */
/* Decoding                                                                 */
/* ======================================================================== */

static struct keel_v2_bytes rest_bytes(struct keel_rd *r)
{
	size_t n = r->left;
	struct keel_v2_bytes b = {.p = keel_rd_bytes(r, n), .len = n};
	return b;
}

static bool known_type(uint8_t type)
{
	return (type >= KEEL_V2_PAYLOAD_SA && type <= KEEL_V2_PAYLOAD_EAP) ||
	       type == KEEL_V2_PAYLOAD_SKF;
}

static bool is_encrypted(uint8_t type)
{
	return type == KEEL_V2_PAYLOAD_SK || type == KEEL_V2_PAYLOAD_SKF;
}

int keel_v2_hdr_decode(const uint8_t *buf, size_t len, struct keel_v2_hdr *out)
{
	struct keel_rd r = keel_rd_init(buf, len);
	struct keel_v2_hdr h;
	if (len < KEEL_V2_HDR_LEN)
		return MALFORMED;
	h.spi_i = keel_rd_u64(&r);
	h.spi_r = keel_rd_u64(&r);
	h.next_payload = keel_rd_u8(&r);
	uint8_t version = keel_rd_u8(&r);
	h.major_version = version >> 4;
	h.minor_version = version & 0x0f;
	h.exchange = keel_rd_u8(&r);
	h.flags = keel_rd_u8(&r);
	h.msg_id = keel_rd_u32(&r);
	h.len = keel_rd_u32(&r);
	if (r.bad)
		return MALFORMED;
	if (h.major_version != 2) { /* RFC 7296 §2.5: answer INVALID_MAJOR_VERSION */
		*out = h;
		return KEEL_ERR_UNSUPPORTED;
	}
	/* RFC 7296 §3.1: Length is the total length of the message */
	if (h.len != len)
		return MALFORMED;
	*out = h;
	return 0;
}

/* RFC 7296 §3.3.5 transform attributes */
static int decode_attrs(struct keel_rd *r, struct keel_v2_transform *t)
{
	t->n_attrs = 0;
	while (r->left > 0) {
		uint16_t type = keel_rd_u16(r);
		uint16_t lv = keel_rd_u16(r);
		if (r->bad || t->n_attrs >= KEEL_V2_MAX_TRANSFORM_ATTRS)
			return MALFORMED;
		struct keel_v2_attr *a = &t->attrs[t->n_attrs++];
		memset(a, 0, sizeof(*a));
		a->type = type & 0x7fff;
		a->tv = (type & KEEL_V2_ATTR_TV) != 0;
		if (a->tv) {
			a->tv_value = lv;
		} else {
			a->len = lv;
			a->value = keel_rd_bytes(r, lv);
			if (r->bad)
				return MALFORMED;
		}
	}
	return 0;
}

/* RFC 7296 §3.3: proposals, each with transforms */
static int decode_sa(struct keel_rd *r, struct keel_v2_sa *sa)
{
	keel_v2_sa_init(sa);
	uint8_t last = 2;
	while (r->left > 0) {
		if (last != 2) /* the previous proposal said it was the last */
			return MALFORMED;
		last = keel_rd_u8(r);
		keel_rd_u8(r);
		uint16_t len = keel_rd_u16(r);
		if (r->bad || len < 8 || (last != 0 && last != 2) ||
		    sa->n_proposals >= KEEL_V2_MAX_PROPOSALS)
			return MALFORMED;
		/* RFC 7296 §3.3.1: Proposal Length covers its transforms and attributes */
		struct keel_rd p = keel_rd_sub(r, len - 4u);
		if (r->bad)
			return MALFORMED;
		struct keel_v2_proposal *prop = &sa->proposals[sa->n_proposals++];
		prop->num = keel_rd_u8(&p);
		prop->protocol = keel_rd_u8(&p);
		uint8_t spi_size = keel_rd_u8(&p);
		uint8_t n_transforms = keel_rd_u8(&p);
		prop->spi.p = keel_rd_bytes(&p, spi_size);
		prop->spi.len = spi_size;
		if (p.bad)
			return MALFORMED;
		size_t first = sa->n_transforms;
		uint8_t tlast = 3;
		while (p.left > 0) {
			if (tlast != 3)
				return MALFORMED;
			tlast = keel_rd_u8(&p);
			keel_rd_u8(&p);
			uint16_t tlen = keel_rd_u16(&p);
			if (p.bad || tlen < 8 || (tlast != 0 && tlast != 3) ||
			    sa->n_transforms >= KEEL_V2_MAX_TRANSFORMS)
				return MALFORMED;
			/* RFC 7296 §3.3.2: a transform's length covers its attributes */
			struct keel_rd t = keel_rd_sub(&p, tlen - 4u);
			if (p.bad)
				return MALFORMED;
			struct keel_v2_transform *tr = &sa->transforms[sa->n_transforms++];
			tr->type = keel_rd_u8(&t);
			keel_rd_u8(&t);
			tr->id = keel_rd_u16(&t);
			if (t.bad || decode_attrs(&t, tr) != 0)
				return MALFORMED;
		}
		size_t count = sa->n_transforms - first;
		if (tlast != 0 || count != n_transforms)
			return MALFORMED;
		prop->first = (uint8_t)first;
		prop->n_transforms = n_transforms;
	}
	if (sa->n_proposals > 0 && last != 0)
		return MALFORMED;
	return 0;
}

_Static_assert(KEEL_V2_MAX_TRANSFORMS <= 255, "proposal.first is a uint8_t");

static int decode_ts(struct keel_rd *r, struct keel_v2_ts *ts)
{
	uint8_t n = keel_rd_u8(r);
	keel_rd_skip(r, 3);
	if (r->bad || n > KEEL_V2_MAX_TS)
		return MALFORMED;
	ts->n = 0;
	while (r->left > 0) {
		if (ts->n >= n)
			return MALFORMED; /* more selectors than Number of TSs */
		struct keel_v2_ts_entry *e = &ts->ts[ts->n++];
		memset(e, 0, sizeof(*e));
		e->type = keel_rd_u8(r);
		e->ip_proto = keel_rd_u8(r);
		uint16_t len = keel_rd_u16(r);
		if (r->bad || len < 4)
			return MALFORMED;
		/* RFC 7296 §3.13.1: Selector Length includes the header */
		struct keel_rd s = keel_rd_sub(r, len - 4u);
		if (r->bad)
			return MALFORMED;
		size_t alen = 0;
		if (e->type == KEEL_V2_TS_IPV4_ADDR_RANGE)
			alen = 4;
		else if (e->type == KEEL_V2_TS_IPV6_ADDR_RANGE)
			alen = 16;
		if (alen == 0) {
			e->data = rest_bytes(&s);
			continue;
		}
		e->start_port = keel_rd_u16(&s);
		e->end_port = keel_rd_u16(&s);
		keel_rd_copy(&s, e->start_addr, alen);
		keel_rd_copy(&s, e->end_addr, alen);
		e->data.p = s.p;
		e->data.len = 0;
		if (!keel_rd_done(&s))
			return MALFORMED;
	}
	if (ts->n != n)
		return MALFORMED;
	return 0;
}

static int decode_cp(struct keel_rd *r, struct keel_v2_cp *cp)
{
	cp->cfg_type = keel_rd_u8(r);
	keel_rd_skip(r, 3);
	if (r->bad)
		return MALFORMED;
	cp->n = 0;
	while (r->left > 0) {
		uint16_t type = keel_rd_u16(r);
		uint16_t len = keel_rd_u16(r);
		if (r->bad || cp->n >= KEEL_V2_MAX_CP_ATTRS)
			return MALFORMED;
		struct keel_v2_cp_attr *a = &cp->attrs[cp->n++];
		a->type = type & 0x7fff; /* RFC 7296 §3.15.1: R bit ignored on receipt */
		a->value.p = keel_rd_bytes(r, len);
		a->value.len = len;
		if (r->bad)
			return MALFORMED;
	}
	return 0;
}

static int decode_eap(struct keel_rd *r, struct keel_v2_eap *eap)
{
	struct keel_v2_bytes whole = {.p = r->p, .len = r->left};
	eap->code = keel_rd_u8(r);
	eap->identifier = keel_rd_u8(r);
	uint16_t len = keel_rd_u16(r);
	/* RFC 7296 §3.16: the payload carries exactly one EAP message */
	if (r->bad || len < 4 || len != whole.len)
		return MALFORMED;
	eap->has_type =
	    len > 4 && eap->code != KEEL_V2_EAP_SUCCESS && eap->code != KEEL_V2_EAP_FAILURE;
	eap->type = eap->has_type ? keel_rd_u8(r) : 0;
	eap->data = rest_bytes(r);
	eap->msg = whole;
	return r->bad ? MALFORMED : 0;
}

/* Decodes a payload body of a known type into out->u; r must be used up. */
static int decode_body(uint8_t type, uint8_t next, struct keel_rd *r, struct keel_v2_payload *out)
{
	int rc = 0;
	switch (type) {
	case KEEL_V2_PAYLOAD_SA:
		rc = decode_sa(r, &out->u.sa);
		break;
	case KEEL_V2_PAYLOAD_KE:
		out->u.ke.group = keel_rd_u16(r);
		keel_rd_skip(r, 2);
		out->u.ke.data = rest_bytes(r);
		break;
	case KEEL_V2_PAYLOAD_IDI:
	case KEEL_V2_PAYLOAD_IDR:
		out->u.id.type = keel_rd_u8(r);
		keel_rd_skip(r, 3);
		out->u.id.data = rest_bytes(r);
		break;
	case KEEL_V2_PAYLOAD_CERT:
	case KEEL_V2_PAYLOAD_CERTREQ:
		out->u.cert.encoding = keel_rd_u8(r);
		out->u.cert.data = rest_bytes(r);
		break;
	case KEEL_V2_PAYLOAD_AUTH:
		out->u.auth.method = keel_rd_u8(r);
		keel_rd_skip(r, 3);
		out->u.auth.data = rest_bytes(r);
		break;
	case KEEL_V2_PAYLOAD_NONCE:
		out->u.nonce = rest_bytes(r);
		break;
	case KEEL_V2_PAYLOAD_NOTIFY: {
		struct keel_v2_notify *n = &out->u.notify;
		n->protocol = keel_rd_u8(r);
		uint8_t spi_size = keel_rd_u8(r);
		n->type = keel_rd_u16(r);
		n->spi.p = keel_rd_bytes(r, spi_size);
		n->spi.len = spi_size;
		n->data = rest_bytes(r);
		break;
	}
	case KEEL_V2_PAYLOAD_DELETE: {
		struct keel_v2_delete *d = &out->u.del;
		d->protocol = keel_rd_u8(r);
		d->spi_size = keel_rd_u8(r);
		d->n_spis = keel_rd_u16(r);
		d->spis.len = (size_t)d->spi_size * d->n_spis;
		d->spis.p = keel_rd_bytes(r, d->spis.len);
		break;
	}
	case KEEL_V2_PAYLOAD_VENDOR:
		out->u.vendor = rest_bytes(r);
		break;
	case KEEL_V2_PAYLOAD_TSI:
	case KEEL_V2_PAYLOAD_TSR:
		rc = decode_ts(r, &out->u.ts);
		break;
	case KEEL_V2_PAYLOAD_SK:
		out->u.sk.inner_type = next;
		out->u.sk.body = rest_bytes(r);
		break;
	case KEEL_V2_PAYLOAD_CP:
		rc = decode_cp(r, &out->u.cp);
		break;
	case KEEL_V2_PAYLOAD_EAP:
		rc = decode_eap(r, &out->u.eap);
		break;
	case KEEL_V2_PAYLOAD_SKF: {
		struct keel_v2_skf *f = &out->u.skf;
		f->inner_type = next;
		f->frag_num = keel_rd_u16(r);
		f->total = keel_rd_u16(r);
		f->body = rest_bytes(r);
		/* RFC 7383 §2.5: fragments are numbered from 1 to Total Fragments */
		if (f->frag_num == 0 || f->frag_num > f->total)
			rc = MALFORMED;
		break;
	}
	default:
		out->u.raw = rest_bytes(r);
		break;
	}
	if (rc == 0 && !keel_rd_done(r))
		rc = MALFORMED;
	return rc;
}

int keel_v2_payload_decode(const struct keel_v2_raw_payload *raw, struct keel_v2_payload *out)
{
	struct keel_rd r = keel_rd_init(raw->body.p, raw->body.len);
	out->type = raw->type;
	out->critical = raw->critical;
	if (!known_type(raw->type)) {
		out->u.raw = rest_bytes(&r);
		return 0;
	}
	return decode_body(raw->type, raw->next, &r, out) == 0 ? 0 : MALFORMED;
}

static int chain_decode(struct keel_rd *r, uint8_t first_type, unsigned flags, size_t base,
                        struct keel_v2_chain *out)
{
	struct keel_v2_payload scratch;
	struct keel_rd msg = *r;
	size_t total = msg.left;
	uint8_t type = first_type;
	bool ended_encrypted = false;
	int rc = 0;

	out->n = 0;
	out->unsupported_type = 0;
	if (msg.bad) {
		rc = MALFORMED;
		goto out;
	}
	while (msg.left > 0) { /* RFC 7296 §3.2 generic payload header */
		if (type == KEEL_V2_PAYLOAD_NONE || ended_encrypted) {
			rc = MALFORMED; /* bytes after the last payload, or after SK */
			goto out;
		}
		size_t off = total - msg.left;
		uint8_t next = keel_rd_u8(&msg);
		bool critical = (keel_rd_u8(&msg) & KEEL_V2_CRITICAL) != 0;
		uint16_t len = keel_rd_u16(&msg);
		if (msg.bad || len < KEEL_V2_GENERIC_HDR_LEN || out->n >= KEEL_V2_MAX_PAYLOADS) {
			rc = MALFORMED; /* len >= header size: the loop always advances */
			goto out;
		}
		struct keel_rd body = keel_rd_sub(&msg, len - KEEL_V2_GENERIC_HDR_LEN);
		if (msg.bad) {
			rc = MALFORMED;
			goto out;
		}
		struct keel_v2_raw_payload *p = &out->p[out->n++];
		p->type = type;
		p->next = next;
		p->critical = critical;
		p->known = known_type(type);
		p->off = base + off;
		p->body.p = body.p;
		p->body.len = body.left;
		if (!p->known) {
			/* RFC 7296 §2.5: skip unknown payloads unless they are critical */
			if (critical) {
				out->unsupported_type = type;
				rc = KEEL_ERR_UNSUPPORTED;
				goto out;
			}
		} else if (decode_body(type, next, &body, &scratch) != 0) {
			rc = MALFORMED;
			goto out;
		}
		if (is_encrypted(type)) {
			/* RFC 7296 §3.14, RFC 7383 §2.5: SK/SKF is the last payload; its
			 * Next Payload names the first inner payload */
			if (flags & KEEL_V2_CHAIN_INNER) {
				rc = MALFORMED;
				goto out;
			}
			ended_encrypted = true;
		}
		type = next;
	}
	if (!ended_encrypted && type != KEEL_V2_PAYLOAD_NONE)
		rc = MALFORMED; /* a Next Payload points past the end */
out:
	if (rc != 0)
		out->n = 0;
	else
		*r = msg;
	return rc;
}

int keel_v2_chain_decode(struct keel_rd *r, uint8_t first_type, unsigned flags,
                         struct keel_v2_chain *out)
{
	return chain_decode(r, first_type, flags, 0, out);
}

int keel_v2_msg_decode(const uint8_t *buf, size_t len, struct keel_v2_msg *out)
{
	int rc = keel_v2_hdr_decode(buf, len, &out->hdr);
	if (rc != 0) {
		out->chain.n = 0;
		out->chain.unsupported_type = 0;
		return rc;
	}
	struct keel_rd r = keel_rd_init(buf, len);
	keel_rd_skip(&r, KEEL_V2_HDR_LEN);
	rc = chain_decode(&r, out->hdr.next_payload, KEEL_V2_CHAIN_OUTER, KEEL_V2_HDR_LEN,
	                  &out->chain);
	out->raw.p = buf;
	out->raw.len = len;
	return rc;
}

const struct keel_v2_raw_payload *keel_v2_chain_find(const struct keel_v2_chain *c, uint8_t type,
                                                     const struct keel_v2_raw_payload *after)
{
	size_t i = after ? (size_t)(after - c->p) + 1 : 0;
	for (; i < c->n; i++)
		if (c->p[i].type == type)
			return &c->p[i];
	return NULL;
}

const struct keel_v2_raw_payload *keel_v2_chain_find_notify(const struct keel_v2_chain *c,
                                                            uint16_t notify_type,
                                                            const struct keel_v2_raw_payload *after,
                                                            struct keel_v2_notify *out)
{
	const struct keel_v2_raw_payload *p = after;
	while ((p = keel_v2_chain_find(c, KEEL_V2_PAYLOAD_NOTIFY, p)) != NULL) {
		struct keel_rd r = keel_rd_init(p->body.p, p->body.len);
		struct keel_v2_notify n;
		n.protocol = keel_rd_u8(&r);
		uint8_t spi_size = keel_rd_u8(&r);
		n.type = keel_rd_u16(&r);
		n.spi.p = keel_rd_bytes(&r, spi_size);
		n.spi.len = spi_size;
		n.data = rest_bytes(&r);
		if (!r.bad && n.type == notify_type) {
			*out = n;
			return p;
		}
	}
	return NULL;
}

unsigned keel_v2_transform_key_len(const struct keel_v2_transform *t)
{
	for (size_t i = 0; i < t->n_attrs && i < KEEL_V2_MAX_TRANSFORM_ATTRS; i++)
		if (t->attrs[i].type == KEEL_V2_ATTR_KEY_LENGTH && t->attrs[i].tv)
			return t->attrs[i].tv_value;
	return 0;
}

int keel_v2_sk_split(struct keel_v2_bytes body, size_t iv_len, size_t icv_len,
                     struct keel_v2_sk_parts *out)
{
	struct keel_rd r = keel_rd_init(body.p, body.len);
	if (iv_len > body.len || icv_len > body.len - iv_len || body.len - iv_len - icv_len < 1)
		return MALFORMED; /* RFC 7296 §3.14: at least the Pad Length is encrypted */
	struct keel_v2_sk_parts parts;
	parts.iv.p = keel_rd_bytes(&r, iv_len);
	parts.iv.len = iv_len;
	parts.ciphertext.len = body.len - iv_len - icv_len;
	parts.ciphertext.p = keel_rd_bytes(&r, parts.ciphertext.len);
	parts.icv.p = keel_rd_bytes(&r, icv_len);
	parts.icv.len = icv_len;
	if (!keel_rd_done(&r))
		return MALFORMED;
	*out = parts;
	return 0;
}

int keel_v2_sk_unpad(struct keel_v2_bytes plain, struct keel_v2_bytes *inner)
{
	struct keel_rd r = keel_rd_init(plain.p, plain.len);
	if (plain.len < 1)
		return MALFORMED;
	keel_rd_skip(&r, plain.len - 1);
	uint8_t pad = keel_rd_u8(&r);
	/* RFC 7296 §3.14: Padding then Pad Length close the plaintext */
	if (r.bad || (size_t)pad > plain.len - 1)
		return MALFORMED;
	inner->p = plain.p;
	inner->len = plain.len - 1 - pad;
	return 0;
}

/* ======================================================================== */
/* Semantic checks                                                          */
/* ======================================================================== */

int keel_v2_sa_verify(const struct keel_v2_sa *sa)
{
	if (sa->n_proposals == 0 || sa->n_proposals > KEEL_V2_MAX_PROPOSALS ||
	    sa->n_transforms > KEEL_V2_MAX_TRANSFORMS)
		return MALFORMED;
	for (size_t i = 0; i < sa->n_proposals; i++) {
		const struct keel_v2_proposal *p = &sa->proposals[i];
		/*
		 * RFC 7296 §3.3.1: in an offer the first proposal is number 1,
		 * each next one more; a responder's lone accepted proposal keeps
		 * the number it had in the offer.
		 */
		if (sa->n_proposals == 1 ? p->num == 0 : p->num != i + 1)
			return MALFORMED;
		switch (p->protocol) {
		case KEEL_V2_PROTO_IKE:
			/* 0 in IKE_SA_INIT, 8 when rekeying the IKE SA (§3.3.1) */
			if (p->spi.len != 0 && p->spi.len != 8)
				return MALFORMED;
			break;
		case KEEL_V2_PROTO_AH:
		case KEEL_V2_PROTO_ESP:
			if (p->spi.len != 4)
				return MALFORMED;
			break;
		default:
			return MALFORMED;
		}
		if (p->n_transforms == 0 || p->first > sa->n_transforms ||
		    p->n_transforms > sa->n_transforms - p->first)
			return MALFORMED;
		for (size_t j = p->first; j < (size_t)p->first + p->n_transforms; j++) {
			const struct keel_v2_transform *t = &sa->transforms[j];
			if (t->type < KEEL_V2_TRANSFORM_ENCR ||
			    t->type > KEEL_V2_TRANSFORM_ADDKE7 ||
			    t->n_attrs > KEEL_V2_MAX_TRANSFORM_ATTRS)
				return MALFORMED;
			unsigned key_lens = 0;
			for (size_t k = 0; k < t->n_attrs; k++) {
				if (t->attrs[k].type != KEEL_V2_ATTR_KEY_LENGTH)
					continue;
				/* RFC 7296 §3.3.5: Key Length is TV, for ENCR only */
				if (!t->attrs[k].tv || t->type != KEEL_V2_TRANSFORM_ENCR ||
				    ++key_lens > 1)
					return MALFORMED;
			}
		}
	}
	return 0;
}

int keel_v2_ke_verify(const struct keel_v2_ke *ke)
{
	if (ke->group == KEEL_V2_DH_NONE || ke->data.len == 0)
		return MALFORMED;
	/* RFC 7296 §3.4: the KE data length is fixed by the group */
	ptrdiff_t want = keel_v2_dh_public_len(ke->group);
	if (want >= 0 && ke->data.len != (size_t)want)
		return MALFORMED;
	return 0;
}

int keel_v2_id_verify(const struct keel_v2_id *id)
{
	switch (id->type) {
	case KEEL_V2_ID_IPV4_ADDR:
		return id->data.len == 4 ? 0 : MALFORMED;
	case KEEL_V2_ID_IPV6_ADDR:
		return id->data.len == 16 ? 0 : MALFORMED;
	case KEEL_V2_ID_NULL: /* RFC 7619 §3: empty */
		return id->data.len == 0 ? 0 : MALFORMED;
	case KEEL_V2_ID_FQDN:
	case KEEL_V2_ID_RFC822_ADDR:
	case KEEL_V2_ID_DER_ASN1_DN:
	case KEEL_V2_ID_DER_ASN1_GN:
	case KEEL_V2_ID_KEY_ID:
	case KEEL_V2_ID_FC_NAME:
		return id->data.len > 0 ? 0 : MALFORMED;
	default:
		return MALFORMED;
	}
}

int keel_v2_nonce_verify(struct keel_v2_bytes nonce)
{
	/* RFC 7296 §3.9: at least 16 and at most 256 octets */
	if (nonce.len < KEEL_V2_NONCE_MIN_LEN || nonce.len > KEEL_V2_NONCE_MAX_LEN)
		return MALFORMED;
	return 0;
}

int keel_v2_notify_verify(const struct keel_v2_notify *n)
{
	/* RFC 7296 §3.10: no SPI (protocol then ignored), or the SPI of a Child SA */
	switch (n->spi.len) {
	case 0:
		break;
	case 4:
		if (n->protocol != KEEL_V2_PROTO_AH && n->protocol != KEEL_V2_PROTO_ESP)
			return MALFORMED;
		break;
	case 8:
		if (n->protocol != KEEL_V2_PROTO_IKE)
			return MALFORMED;
		break;
	default:
		return MALFORMED;
	}
	size_t len = n->data.len;
	switch (n->type) {
	case KEEL_V2_N_UNSUPPORTED_CRITICAL_PAYLOAD: /* §3.10.1: the payload type */
		return len == 1 ? 0 : MALFORMED;
	case KEEL_V2_N_INVALID_KE_PAYLOAD: /* §3.10.1: the accepted group, 2 octets */
		return len == 2 ? 0 : MALFORMED;
	case KEEL_V2_N_NAT_DETECTION_SOURCE_IP: /* §2.23: a SHA-1 hash */
	case KEEL_V2_N_NAT_DETECTION_DESTINATION_IP:
		return len == 20 ? 0 : MALFORMED;
	case KEEL_V2_N_COOKIE: /* §2.6: 1 to 64 octets */
		return len >= 1 && len <= 64 ? 0 : MALFORMED;
	case KEEL_V2_N_SET_WINDOW_SIZE: /* §3.10.1: a 4-octet window size */
		return len == 4 ? 0 : MALFORMED;
	case KEEL_V2_N_REKEY_SA: /* §3.10.1: the SPI of the Child SA being rekeyed */
		return n->spi.len == 4 ? 0 : MALFORMED;
	case KEEL_V2_N_SIGNATURE_HASH_ALGORITHMS: /* RFC 7427 §4: 2-octet identifiers */
		return len % 2 == 0 ? 0 : MALFORMED;
	case KEEL_V2_N_IKEV2_FRAGMENTATION_SUPPORTED: /* RFC 7383 §2.3: empty */
		return len == 0 ? 0 : MALFORMED;
	default:
		return 0;
	}
}

int keel_v2_delete_verify(const struct keel_v2_delete *d)
{
	if (d->spis.len != (size_t)d->spi_size * d->n_spis)
		return MALFORMED;
	/* RFC 7296 §3.11: IKE SA by the header SPIs; Child SAs by 4-octet SPIs */
	switch (d->protocol) {
	case KEEL_V2_PROTO_IKE:
		return d->spi_size == 0 && d->n_spis == 0 ? 0 : MALFORMED;
	case KEEL_V2_PROTO_AH:
	case KEEL_V2_PROTO_ESP:
		return d->spi_size == 4 && d->n_spis > 0 ? 0 : MALFORMED;
	default:
		return MALFORMED;
	}
}

int keel_v2_ts_verify(const struct keel_v2_ts *ts)
{
	if (ts->n == 0 || ts->n > KEEL_V2_MAX_TS)
		return MALFORMED;
	for (size_t i = 0; i < ts->n; i++) {
		const struct keel_v2_ts_entry *e = &ts->ts[i];
		size_t alen;
		if (e->type == KEEL_V2_TS_IPV4_ADDR_RANGE)
			alen = 4;
		else if (e->type == KEEL_V2_TS_IPV6_ADDR_RANGE)
			alen = 16;
		else
			return MALFORMED;
		/* RFC 7296 §3.13.1: start <= end; ports 65535..0 mean OPAQUE */
		bool opaque = e->start_port == 65535 && e->end_port == 0;
		if (!opaque && e->start_port > e->end_port)
			return MALFORMED;
		if (memcmp(e->start_addr, e->end_addr, alen) > 0)
			return MALFORMED;
	}
	return 0;
}

int keel_v2_cp_verify(const struct keel_v2_cp *cp)
{
	if (cp->cfg_type < KEEL_V2_CFG_REQUEST || cp->cfg_type > KEEL_V2_CFG_ACK ||
	    cp->n > KEEL_V2_MAX_CP_ATTRS)
		return MALFORMED;
	for (size_t i = 0; i < cp->n; i++) {
		size_t len = cp->attrs[i].value.len;
		size_t fixed = 0;
		/* RFC 7296 §3.15.1: empty (in a request) or the type's length */
		switch (cp->attrs[i].type) {
		case KEEL_V2_CP_INTERNAL_IP4_ADDRESS:
		case KEEL_V2_CP_INTERNAL_IP4_NETMASK:
		case KEEL_V2_CP_INTERNAL_IP4_DNS:
		case KEEL_V2_CP_INTERNAL_IP4_NBNS:
		case KEEL_V2_CP_INTERNAL_IP4_DHCP:
		case KEEL_V2_CP_P_CSCF_IP4_ADDRESS:
			fixed = 4;
			break;
		case KEEL_V2_CP_INTERNAL_IP4_SUBNET:
			fixed = 8;
			break;
		case KEEL_V2_CP_INTERNAL_IP6_DNS:
		case KEEL_V2_CP_INTERNAL_IP6_DHCP:
		case KEEL_V2_CP_P_CSCF_IP6_ADDRESS:
			fixed = 16;
			break;
		case KEEL_V2_CP_INTERNAL_IP6_ADDRESS:
		case KEEL_V2_CP_INTERNAL_IP6_SUBNET:
			fixed = 17;
			break;
		case KEEL_V2_CP_SUPPORTED_ATTRIBUTES:
			if (len % 2 != 0)
				return MALFORMED;
			break;
		default:
			break;
		}
		if (fixed != 0 && len != 0 && len != fixed)
			return MALFORMED;
	}
	return 0;
}

int keel_v2_eap_verify(const struct keel_v2_eap *eap)
{
	/* RFC 3748 §4.1, §4.2 */
	switch (eap->code) {
	case KEEL_V2_EAP_REQUEST:
	case KEEL_V2_EAP_RESPONSE:
		return eap->has_type ? 0 : MALFORMED;
	case KEEL_V2_EAP_SUCCESS:
	case KEEL_V2_EAP_FAILURE:
		return !eap->has_type && eap->data.len == 0 ? 0 : MALFORMED;
	default:
		return MALFORMED;
	}
}

int keel_v2_auth_verify(const struct keel_v2_auth *auth)
{
	return auth->method != 0 && auth->data.len > 0 ? 0 : MALFORMED;
}

int keel_v2_cert_verify(uint8_t payload_type, const struct keel_v2_cert *cert)
{
	if (cert->encoding == 0)
		return MALFORMED;
	if (payload_type == KEEL_V2_PAYLOAD_CERT)
		return cert->data.len > 0 ? 0 : MALFORMED;
	/* RFC 7296 §3.7: X.509 requests list 20-octet SHA-1 public key hashes */
	if (cert->encoding == KEEL_V2_CERT_X509_SIGNATURE && cert->data.len % 20 != 0)
		return MALFORMED;
	return 0;
}

int keel_v2_skf_verify(const struct keel_v2_skf *skf)
{
	/* RFC 7383 §2.5 */
	if (skf->frag_num == 0 || skf->frag_num > skf->total)
		return MALFORMED;
	if (skf->frag_num != 1 && skf->inner_type != KEEL_V2_PAYLOAD_NONE)
		return MALFORMED;
	return 0;
}

int keel_v2_payload_verify(const struct keel_v2_payload *pl)
{
	switch (pl->type) {
	case KEEL_V2_PAYLOAD_SA:
		return keel_v2_sa_verify(&pl->u.sa);
	case KEEL_V2_PAYLOAD_KE:
		return keel_v2_ke_verify(&pl->u.ke);
	case KEEL_V2_PAYLOAD_IDI:
	case KEEL_V2_PAYLOAD_IDR:
		return keel_v2_id_verify(&pl->u.id);
	case KEEL_V2_PAYLOAD_CERT:
	case KEEL_V2_PAYLOAD_CERTREQ:
		return keel_v2_cert_verify(pl->type, &pl->u.cert);
	case KEEL_V2_PAYLOAD_AUTH:
		return keel_v2_auth_verify(&pl->u.auth);
	case KEEL_V2_PAYLOAD_NONCE:
		return keel_v2_nonce_verify(pl->u.nonce);
	case KEEL_V2_PAYLOAD_NOTIFY:
		return keel_v2_notify_verify(&pl->u.notify);
	case KEEL_V2_PAYLOAD_DELETE:
		return keel_v2_delete_verify(&pl->u.del);
	case KEEL_V2_PAYLOAD_TSI:
	case KEEL_V2_PAYLOAD_TSR:
		return keel_v2_ts_verify(&pl->u.ts);
	case KEEL_V2_PAYLOAD_CP:
		return keel_v2_cp_verify(&pl->u.cp);
	case KEEL_V2_PAYLOAD_EAP:
		return keel_v2_eap_verify(&pl->u.eap);
	case KEEL_V2_PAYLOAD_SKF:
		return keel_v2_skf_verify(&pl->u.skf);
	default:
		return 0;
	}
}

int keel_v2_chain_verify(const struct keel_v2_chain *c)
{
	struct keel_v2_payload pl;
	for (size_t i = 0; i < c->n && i < KEEL_V2_MAX_PAYLOADS; i++) {
		if (!c->p[i].known)
			continue;
		if (keel_v2_payload_decode(&c->p[i], &pl) != 0 || keel_v2_payload_verify(&pl) != 0)
			return MALFORMED;
	}
	return 0;
}

/* ======================================================================== */
/* Building SA payloads                                                     */
/* ======================================================================== */

void keel_v2_sa_init(struct keel_v2_sa *sa)
{
	sa->n_proposals = 0;
	sa->n_transforms = 0;
}

int keel_v2_sa_add_proposal(struct keel_v2_sa *sa, uint8_t protocol, const uint8_t *spi,
                            size_t spi_len)
{
	if (sa->n_proposals >= KEEL_V2_MAX_PROPOSALS || spi_len > 255 || (spi_len && !spi))
		return KEEL_ERR_INVAL;
	struct keel_v2_proposal *p = &sa->proposals[sa->n_proposals];
	p->num = (uint8_t)(sa->n_proposals + 1);
	p->protocol = protocol;
	p->first = (uint8_t)sa->n_transforms;
	p->n_transforms = 0;
	p->spi.p = spi;
	p->spi.len = spi_len;
	sa->n_proposals++;
	return 0;
}

int keel_v2_sa_add_transform(struct keel_v2_sa *sa, uint8_t type, uint16_t id,
                             unsigned key_len_bits)
{
	if (sa->n_proposals == 0 || sa->n_transforms >= KEEL_V2_MAX_TRANSFORMS ||
	    key_len_bits > 0xffff)
		return KEEL_ERR_INVAL;
	struct keel_v2_proposal *p = &sa->proposals[sa->n_proposals - 1];
	if ((size_t)p->first + p->n_transforms != sa->n_transforms || p->n_transforms == 255)
		return KEEL_ERR_INVAL;
	struct keel_v2_transform *t = &sa->transforms[sa->n_transforms++];
	memset(t, 0, sizeof(*t));
	t->type = type;
	t->id = id;
	if (key_len_bits != 0) {
		t->attrs[0].type = KEEL_V2_ATTR_KEY_LENGTH;
		t->attrs[0].tv = true;
		t->attrs[0].tv_value = (uint16_t)key_len_bits;
		t->n_attrs = 1;
	}
	p->n_transforms++;
	return 0;
}

/* ======================================================================== */
/* Encoding                                                                 */
/* ======================================================================== */

void keel_v2_hdr_encode(struct keel_wr *w, const struct keel_v2_hdr *hdr)
{
	keel_wr_u64(w, hdr->spi_i);
	keel_wr_u64(w, hdr->spi_r);
	keel_wr_u8(w, hdr->next_payload);
	keel_wr_u8(w, (uint8_t)(hdr->major_version << 4 | (hdr->minor_version & 0x0f)));
	keel_wr_u8(w, hdr->exchange);
	keel_wr_u8(w, hdr->flags);
	keel_wr_u32(w, hdr->msg_id);
	keel_wr_u32(w, hdr->len);
}

static int put_bytes(struct keel_wr *w, struct keel_v2_bytes b)
{
	if (b.len > 0 && !b.p)
		return KEEL_ERR_INVAL;
	keel_wr_bytes(w, b.p, b.len);
	return 0;
}

/* Back-patches a 16-bit length counted from pos; INVAL past 65535. */
static int patch_len16(struct keel_wr *w, size_t pos, size_t len_at)
{
	if (w->overflow)
		return 0; /* reported as NOBUF by the caller */
	size_t len = w->len - pos;
	if (len > 0xffff)
		return KEEL_ERR_INVAL;
	keel_wr_patch16(w, len_at, (uint16_t)len);
	return 0;
}

static int encode_sa(struct keel_wr *w, const struct keel_v2_sa *sa)
{
	if (sa->n_proposals > KEEL_V2_MAX_PROPOSALS || sa->n_transforms > KEEL_V2_MAX_TRANSFORMS)
		return KEEL_ERR_INVAL;
	for (size_t i = 0; i < sa->n_proposals; i++) {
		const struct keel_v2_proposal *p = &sa->proposals[i];
		if (p->spi.len > 255 || p->first > sa->n_transforms ||
		    p->n_transforms > sa->n_transforms - p->first)
			return KEEL_ERR_INVAL;
		size_t ppos = keel_wr_pos(w);
		keel_wr_u8(w, i + 1 < sa->n_proposals ? 2 : 0); /* Last Substruc, §3.3.1 */
		keel_wr_u8(w, 0);
		keel_wr_u16(w, 0);
		keel_wr_u8(w, p->num);
		keel_wr_u8(w, p->protocol);
		keel_wr_u8(w, (uint8_t)p->spi.len);
		keel_wr_u8(w, p->n_transforms);
		if (put_bytes(w, p->spi) != 0)
			return KEEL_ERR_INVAL;
		for (size_t j = 0; j < p->n_transforms; j++) {
			const struct keel_v2_transform *t = &sa->transforms[p->first + j];
			if (t->n_attrs > KEEL_V2_MAX_TRANSFORM_ATTRS)
				return KEEL_ERR_INVAL;
			size_t tpos = keel_wr_pos(w);
			keel_wr_u8(w, j + 1 < p->n_transforms ? 3 : 0); /* §3.3.2 */
			keel_wr_u8(w, 0);
			keel_wr_u16(w, 0);
			keel_wr_u8(w, t->type);
			keel_wr_u8(w, 0);
			keel_wr_u16(w, t->id);
			for (size_t k = 0; k < t->n_attrs; k++) {
				const struct keel_v2_attr *a = &t->attrs[k];
				if (a->type > 0x7fff)
					return KEEL_ERR_INVAL;
				if (a->tv) {
					keel_wr_u16(w, (uint16_t)(a->type | KEEL_V2_ATTR_TV));
					keel_wr_u16(w, a->tv_value);
				} else {
					struct keel_v2_bytes v = {.p = a->value, .len = a->len};
					keel_wr_u16(w, a->type);
					keel_wr_u16(w, a->len);
					if (put_bytes(w, v) != 0)
						return KEEL_ERR_INVAL;
				}
			}
			if (patch_len16(w, tpos, tpos + 2) != 0)
				return KEEL_ERR_INVAL;
		}
		if (patch_len16(w, ppos, ppos + 2) != 0)
			return KEEL_ERR_INVAL;
	}
	return 0;
}

static int encode_ts(struct keel_wr *w, const struct keel_v2_ts *ts)
{
	if (ts->n > KEEL_V2_MAX_TS)
		return KEEL_ERR_INVAL;
	keel_wr_u8(w, (uint8_t)ts->n);
	keel_wr_zero(w, 3);
	for (size_t i = 0; i < ts->n; i++) {
		const struct keel_v2_ts_entry *e = &ts->ts[i];
		size_t alen = 0;
		if (e->type == KEEL_V2_TS_IPV4_ADDR_RANGE)
			alen = 4;
		else if (e->type == KEEL_V2_TS_IPV6_ADDR_RANGE)
			alen = 16;
		size_t pos = keel_wr_pos(w);
		keel_wr_u8(w, e->type);
		keel_wr_u8(w, e->ip_proto);
		keel_wr_u16(w, 0);
		if (alen != 0) {
			keel_wr_u16(w, e->start_port);
			keel_wr_u16(w, e->end_port);
			keel_wr_bytes(w, e->start_addr, alen);
			keel_wr_bytes(w, e->end_addr, alen);
		} else if (put_bytes(w, e->data) != 0) {
			return KEEL_ERR_INVAL;
		}
		if (patch_len16(w, pos, pos + 2) != 0)
			return KEEL_ERR_INVAL;
	}
	return 0;
}

static int encode_cp(struct keel_wr *w, const struct keel_v2_cp *cp)
{
	if (cp->n > KEEL_V2_MAX_CP_ATTRS)
		return KEEL_ERR_INVAL;
	keel_wr_u8(w, cp->cfg_type);
	keel_wr_zero(w, 3);
	for (size_t i = 0; i < cp->n; i++) {
		const struct keel_v2_cp_attr *a = &cp->attrs[i];
		if (a->type > 0x7fff || a->value.len > 0xffff)
			return KEEL_ERR_INVAL;
		keel_wr_u16(w, a->type);
		keel_wr_u16(w, (uint16_t)a->value.len);
		if (put_bytes(w, a->value) != 0)
			return KEEL_ERR_INVAL;
	}
	return 0;
}

static int encode_eap(struct keel_wr *w, const struct keel_v2_eap *eap)
{
	size_t pos = keel_wr_pos(w);
	keel_wr_u8(w, eap->code);
	keel_wr_u8(w, eap->identifier);
	keel_wr_u16(w, 0);
	if (eap->has_type)
		keel_wr_u8(w, eap->type);
	if (put_bytes(w, eap->data) != 0)
		return KEEL_ERR_INVAL;
	return patch_len16(w, pos, pos + 2);
}

static int encode_body(struct keel_wr *w, const struct keel_v2_payload *pl)
{
	switch (pl->type) {
	case KEEL_V2_PAYLOAD_SA:
		return encode_sa(w, &pl->u.sa);
	case KEEL_V2_PAYLOAD_KE:
		keel_wr_u16(w, pl->u.ke.group);
		keel_wr_u16(w, 0);
		return put_bytes(w, pl->u.ke.data);
	case KEEL_V2_PAYLOAD_IDI:
	case KEEL_V2_PAYLOAD_IDR:
		keel_wr_u8(w, pl->u.id.type);
		keel_wr_zero(w, 3);
		return put_bytes(w, pl->u.id.data);
	case KEEL_V2_PAYLOAD_CERT:
	case KEEL_V2_PAYLOAD_CERTREQ:
		keel_wr_u8(w, pl->u.cert.encoding);
		return put_bytes(w, pl->u.cert.data);
	case KEEL_V2_PAYLOAD_AUTH:
		keel_wr_u8(w, pl->u.auth.method);
		keel_wr_zero(w, 3);
		return put_bytes(w, pl->u.auth.data);
	case KEEL_V2_PAYLOAD_NONCE:
		return put_bytes(w, pl->u.nonce);
	case KEEL_V2_PAYLOAD_NOTIFY: {
		const struct keel_v2_notify *n = &pl->u.notify;
		if (n->spi.len > 255)
			return KEEL_ERR_INVAL;
		keel_wr_u8(w, n->protocol);
		keel_wr_u8(w, (uint8_t)n->spi.len);
		keel_wr_u16(w, n->type);
		if (put_bytes(w, n->spi) != 0)
			return KEEL_ERR_INVAL;
		return put_bytes(w, n->data);
	}
	case KEEL_V2_PAYLOAD_DELETE: {
		const struct keel_v2_delete *d = &pl->u.del;
		if (d->spis.len != (size_t)d->spi_size * d->n_spis)
			return KEEL_ERR_INVAL;
		keel_wr_u8(w, d->protocol);
		keel_wr_u8(w, d->spi_size);
		keel_wr_u16(w, d->n_spis);
		return put_bytes(w, d->spis);
	}
	case KEEL_V2_PAYLOAD_VENDOR:
		return put_bytes(w, pl->u.vendor);
	case KEEL_V2_PAYLOAD_TSI:
	case KEEL_V2_PAYLOAD_TSR:
		return encode_ts(w, &pl->u.ts);
	case KEEL_V2_PAYLOAD_SK:
		return put_bytes(w, pl->u.sk.body);
	case KEEL_V2_PAYLOAD_CP:
		return encode_cp(w, &pl->u.cp);
	case KEEL_V2_PAYLOAD_EAP:
		return encode_eap(w, &pl->u.eap);
	case KEEL_V2_PAYLOAD_SKF:
		if (pl->u.skf.frag_num == 0 || pl->u.skf.frag_num > pl->u.skf.total)
			return KEEL_ERR_INVAL;
		keel_wr_u16(w, pl->u.skf.frag_num);
		keel_wr_u16(w, pl->u.skf.total);
		return put_bytes(w, pl->u.skf.body);
	default:
		return put_bytes(w, pl->u.raw);
	}
}

static void chain_wr_init(struct keel_v2_chain_wr *cw, struct keel_wr *w, size_t hdr_pos,
                          size_t next_pos, uint8_t next_low)
{
	memset(cw, 0, sizeof(*cw));
	cw->w = w;
	cw->start = keel_wr_pos(w);
	cw->hdr_pos = hdr_pos;
	cw->next_pos = next_pos;
	cw->next_low = next_low;
}

static int set_err(struct keel_v2_chain_wr *cw, int err)
{
	if (cw->err == 0)
		cw->err = err;
	return cw->err;
}

void keel_v2_msg_wr_begin(struct keel_v2_chain_wr *cw, struct keel_wr *w,
                          const struct keel_v2_hdr *hdr)
{
	struct keel_v2_hdr h = *hdr;
	size_t pos = keel_wr_pos(w);
	h.next_payload = KEEL_V2_PAYLOAD_NONE;
	h.len = 0;
	keel_v2_hdr_encode(w, &h);
	/* Next Payload is byte 16; the byte after it is the version */
	chain_wr_init(cw, w, pos, pos + 16,
	              (uint8_t)(h.major_version << 4 | (h.minor_version & 0x0f)));
	cw->start = pos;
}

void keel_v2_chain_wr_begin(struct keel_v2_chain_wr *cw, struct keel_wr *w)
{
	chain_wr_init(cw, w, SIZE_MAX, SIZE_MAX, 0);
}

/*
 * Writes a generic payload header whose Next Payload is `next` (0 until the
 * following payload patches it) and points the previous Next Payload field at
 * `type`. Returns the header's position.
 */
static size_t begin_payload(struct keel_v2_chain_wr *cw, uint8_t type, bool critical, uint8_t next)
{
	struct keel_wr *w = cw->w;
	uint8_t flags = critical ? KEEL_V2_CRITICAL : 0;
	if (cw->next_pos != SIZE_MAX) /* wire.h patches 16 bits: rewrite the byte after too */
		keel_wr_patch16(w, cw->next_pos, (uint16_t)(type << 8 | cw->next_low));
	if (cw->n == 0)
		cw->first_type = type;
	cw->n++;
	size_t pos = keel_wr_pos(w);
	keel_wr_u8(w, next);
	keel_wr_u8(w, flags);
	keel_wr_u16(w, 0);
	cw->next_pos = pos;
	cw->next_low = flags;
	return pos;
}

int keel_v2_chain_add(struct keel_v2_chain_wr *cw, const struct keel_v2_payload *pl)
{
	if (cw->err)
		return cw->err;
	if (cw->closed)
		return set_err(cw, KEEL_ERR_STATE);
	uint8_t next = 0;
	if (pl->type == KEEL_V2_PAYLOAD_SK)
		next = pl->u.sk.inner_type;
	else if (pl->type == KEEL_V2_PAYLOAD_SKF)
		next = pl->u.skf.inner_type;
	size_t pos = begin_payload(cw, pl->type, pl->critical, next);
	int rc = encode_body(cw->w, pl);
	if (rc == 0)
		rc = patch_len16(cw->w, pos, pos + 2);
	if (rc != 0)
		return set_err(cw, rc);
	if (is_encrypted(pl->type)) {
		cw->closed = true;
		cw->next_pos = SIZE_MAX; /* SK's Next Payload names the inner chain */
	}
	if (cw->w->overflow)
		return set_err(cw, KEEL_ERR_NOBUF);
	return 0;
}

ptrdiff_t keel_v2_chain_finish(struct keel_v2_chain_wr *cw)
{
	struct keel_wr *w = cw->w;
	if (cw->err)
		return cw->err;
	if (cw->sk_open)
		return set_err(cw, KEEL_ERR_STATE);
	if (w->overflow)
		return set_err(cw, KEEL_ERR_NOBUF);
	size_t total = w->len - cw->start;
	if (cw->hdr_pos != SIZE_MAX) {
		if (total > UINT32_MAX)
			return set_err(cw, KEEL_ERR_INVAL);
		keel_wr_patch32(w, cw->hdr_pos + 24, (uint32_t)total); /* §3.1 Length */
	}
	return (ptrdiff_t)total;
}

static int sk_begin(struct keel_v2_chain_wr *cw, struct keel_v2_sk_wr *sk, size_t iv_len,
                    bool fragment, uint16_t frag_num, uint16_t total, uint8_t inner_type)
{
	memset(sk, 0, sizeof(*sk));
	sk->outer = cw;
	sk->iv_len = iv_len;
	sk->fragment = fragment;
	if (cw->err)
		return cw->err;
	if (cw->closed)
		return set_err(cw, KEEL_ERR_STATE);
	struct keel_wr *w = cw->w;
	uint8_t type = fragment ? KEEL_V2_PAYLOAD_SKF : KEEL_V2_PAYLOAD_SK;
	sk->sk_pos = begin_payload(cw, type, false, inner_type);
	if (fragment) {
		keel_wr_u16(w, frag_num);
		keel_wr_u16(w, total);
	}
	sk->iv_pos = keel_wr_pos(w);
	keel_wr_zero(w, iv_len);
	sk->plain_pos = keel_wr_pos(w);
	cw->closed = true;
	cw->sk_open = true;
	cw->next_pos = SIZE_MAX;
	/* SK: the inner chain's first type goes into the SK header's Next Payload */
	chain_wr_init(&sk->inner, w, SIZE_MAX, sk->sk_pos, 0);
	if (fragment)
		sk->inner.closed = true; /* SKF carries bytes, not payloads */
	if (w->overflow)
		return set_err(cw, KEEL_ERR_NOBUF);
	return 0;
}

int keel_v2_sk_begin(struct keel_v2_chain_wr *cw, struct keel_v2_sk_wr *sk, size_t iv_len)
{
	return sk_begin(cw, sk, iv_len, false, 0, 0, 0);
}

int keel_v2_skf_begin(struct keel_v2_chain_wr *cw, struct keel_v2_sk_wr *sk, size_t iv_len,
                      uint16_t frag_num, uint16_t total, uint8_t inner_type)
{
	if (frag_num == 0 || frag_num > total) {
		memset(sk, 0, sizeof(*sk));
		sk->outer = cw;
		return set_err(cw, KEEL_ERR_INVAL);
	}
	return sk_begin(cw, sk, iv_len, true, frag_num, total, inner_type);
}

int keel_v2_sk_end(struct keel_v2_sk_wr *sk, size_t block_len, size_t icv_len,
                   struct keel_v2_sk_layout *out)
{
	struct keel_v2_chain_wr *cw = sk->outer;
	struct keel_wr *w = cw->w;
	if (block_len == 0 || block_len > 255)
		return set_err(cw, KEEL_ERR_INVAL);
	if (cw->err)
		return cw->err;
	if (!cw->sk_open)
		return set_err(cw, KEEL_ERR_STATE);
	if (!sk->fragment && sk->inner.err)
		return set_err(cw, sk->inner.err);
	/* RFC 7296 §3.14: inner bytes + Padding + Pad Length fill whole blocks */
	size_t inner_len = w->len - sk->plain_pos;
	size_t pad = (block_len - (inner_len + 1) % block_len) % block_len;
	keel_wr_zero(w, pad);
	keel_wr_u8(w, (uint8_t)pad);
	size_t icv_off = keel_wr_pos(w);
	keel_wr_zero(w, icv_len);
	if (w->overflow)
		return set_err(cw, KEEL_ERR_NOBUF);
	int rc = patch_len16(w, sk->sk_pos, sk->sk_pos + 2);
	if (rc != 0)
		return set_err(cw, rc);
	cw->sk_open = false;
	out->msg_off = cw->start;
	out->msg_len = w->len - cw->start;
	out->aad_len = sk->iv_pos - cw->start;
	out->iv_off = sk->iv_pos;
	out->iv_len = sk->iv_len;
	out->plain_off = sk->plain_pos;
	out->plain_len = icv_off - sk->plain_pos;
	out->icv_off = icv_off;
	out->icv_len = icv_len;
	return 0;
}
