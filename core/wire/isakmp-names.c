/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Names of ISAKMP / IKEv1 numbers, for logging: see isakmp.h. */
#include "isakmp.h"

const char *keel_v1_payload_name(uint8_t type)
{
	switch (type) {
	case KEEL_V1_PL_NONE:
		return "NONE";
	case KEEL_V1_PL_SA:
		return "SA";
	case KEEL_V1_PL_PROPOSAL:
		return "P";
	case KEEL_V1_PL_TRANSFORM:
		return "T";
	case KEEL_V1_PL_KE:
		return "KE";
	case KEEL_V1_PL_ID:
		return "ID";
	case KEEL_V1_PL_CERT:
		return "CERT";
	case KEEL_V1_PL_CR:
		return "CR";
	case KEEL_V1_PL_HASH:
		return "HASH";
	case KEEL_V1_PL_SIG:
		return "SIG";
	case KEEL_V1_PL_NONCE:
		return "NONCE";
	case KEEL_V1_PL_NOTIFY:
		return "N";
	case KEEL_V1_PL_DELETE:
		return "D";
	case KEEL_V1_PL_VID:
		return "VID";
	case KEEL_V1_PL_ATTR:
		return "ATTR";
	case KEEL_V1_PL_NAT_D:
		return "NAT-D";
	case KEEL_V1_PL_NAT_OA:
		return "NAT-OA";
	case KEEL_V1_PL_NAT_D_DRAFT:
		return "NAT-D(draft)";
	case KEEL_V1_PL_NAT_OA_DRAFT:
		return "NAT-OA(draft)";
	case KEEL_V1_PL_FRAG:
		return "FRAG";
	default:
		return NULL;
	}
}

const char *keel_v1_exchange_name(uint8_t exchange)
{
	switch (exchange) {
	case KEEL_V1_EXCH_NONE:
		return "NONE";
	case KEEL_V1_EXCH_BASE:
		return "BASE";
	case KEEL_V1_EXCH_MAIN:
		return "MAIN_MODE";
	case KEEL_V1_EXCH_AUTH_ONLY:
		return "AUTH_ONLY";
	case KEEL_V1_EXCH_AGGRESSIVE:
		return "AGGRESSIVE";
	case KEEL_V1_EXCH_INFO:
		return "INFORMATIONAL";
	case KEEL_V1_EXCH_TRANSACTION:
		return "TRANSACTION";
	case KEEL_V1_EXCH_QUICK:
		return "QUICK_MODE";
	case KEEL_V1_EXCH_NEW_GROUP:
		return "NEW_GROUP_MODE";
	default:
		return NULL;
	}
}

const char *keel_v1_notify_name(uint16_t type)
{
	switch (type) {
	case KEEL_V1_N_INVALID_PAYLOAD_TYPE:
		return "INVALID-PAYLOAD-TYPE";
	case KEEL_V1_N_DOI_NOT_SUPPORTED:
		return "DOI-NOT-SUPPORTED";
	case KEEL_V1_N_SITUATION_NOT_SUPPORTED:
		return "SITUATION-NOT-SUPPORTED";
	case KEEL_V1_N_INVALID_COOKIE:
		return "INVALID-COOKIE";
	case KEEL_V1_N_INVALID_MAJOR_VERSION:
		return "INVALID-MAJOR-VERSION";
	case KEEL_V1_N_INVALID_MINOR_VERSION:
		return "INVALID-MINOR-VERSION";
	case KEEL_V1_N_INVALID_EXCHANGE_TYPE:
		return "INVALID-EXCHANGE-TYPE";
	case KEEL_V1_N_INVALID_FLAGS:
		return "INVALID-FLAGS";
	case KEEL_V1_N_INVALID_MESSAGE_ID:
		return "INVALID-MESSAGE-ID";
	case KEEL_V1_N_INVALID_PROTOCOL_ID:
		return "INVALID-PROTOCOL-ID";
	case KEEL_V1_N_INVALID_SPI:
		return "INVALID-SPI";
	case KEEL_V1_N_INVALID_TRANSFORM_ID:
		return "INVALID-TRANSFORM-ID";
	case KEEL_V1_N_ATTRIBUTES_NOT_SUPPORTED:
		return "ATTRIBUTES-NOT-SUPPORTED";
	case KEEL_V1_N_NO_PROPOSAL_CHOSEN:
		return "NO-PROPOSAL-CHOSEN";
	case KEEL_V1_N_BAD_PROPOSAL_SYNTAX:
		return "BAD-PROPOSAL-SYNTAX";
	case KEEL_V1_N_PAYLOAD_MALFORMED:
		return "PAYLOAD-MALFORMED";
	case KEEL_V1_N_INVALID_KEY_INFORMATION:
		return "INVALID-KEY-INFORMATION";
	case KEEL_V1_N_INVALID_ID_INFORMATION:
		return "INVALID-ID-INFORMATION";
	case KEEL_V1_N_INVALID_CERT_ENCODING:
		return "INVALID-CERT-ENCODING";
	case KEEL_V1_N_INVALID_CERTIFICATE:
		return "INVALID-CERTIFICATE";
	case KEEL_V1_N_CERT_TYPE_UNSUPPORTED:
		return "CERT-TYPE-UNSUPPORTED";
	case KEEL_V1_N_INVALID_CERT_AUTHORITY:
		return "INVALID-CERT-AUTHORITY";
	case KEEL_V1_N_INVALID_HASH_INFORMATION:
		return "INVALID-HASH-INFORMATION";
	case KEEL_V1_N_AUTHENTICATION_FAILED:
		return "AUTHENTICATION-FAILED";
	case KEEL_V1_N_INVALID_SIGNATURE:
		return "INVALID-SIGNATURE";
	case KEEL_V1_N_ADDRESS_NOTIFICATION:
		return "ADDRESS-NOTIFICATION";
	case KEEL_V1_N_NOTIFY_SA_LIFETIME:
		return "NOTIFY-SA-LIFETIME";
	case KEEL_V1_N_CERTIFICATE_UNAVAILABLE:
		return "CERTIFICATE-UNAVAILABLE";
	case KEEL_V1_N_UNSUPPORTED_EXCHANGE_TYPE:
		return "UNSUPPORTED-EXCHANGE-TYPE";
	case KEEL_V1_N_UNEQUAL_PAYLOAD_LENGTHS:
		return "UNEQUAL-PAYLOAD-LENGTHS";
	case KEEL_V1_N_CONNECTED:
		return "CONNECTED";
	case KEEL_V1_N_RESPONDER_LIFETIME:
		return "RESPONDER-LIFETIME";
	case KEEL_V1_N_REPLAY_STATUS:
		return "REPLAY-STATUS";
	case KEEL_V1_N_INITIAL_CONTACT:
		return "INITIAL-CONTACT";
	case KEEL_V1_N_R_U_THERE:
		return "R-U-THERE";
	case KEEL_V1_N_R_U_THERE_ACK:
		return "R-U-THERE-ACK";
	default:
		return NULL;
	}
}

const char *keel_v1_protocol_name(uint8_t protocol)
{
	switch (protocol) {
	case KEEL_V1_PROTO_ISAKMP:
		return "ISAKMP";
	case KEEL_V1_PROTO_AH:
		return "AH";
	case KEEL_V1_PROTO_ESP:
		return "ESP";
	case KEEL_V1_PROTO_IPCOMP:
		return "IPCOMP";
	default:
		return NULL;
	}
}

const char *keel_v1_id_type_name(uint8_t type)
{
	switch (type) {
	case KEEL_V1_ID_IPV4_ADDR:
		return "ID_IPV4_ADDR";
	case KEEL_V1_ID_FQDN:
		return "ID_FQDN";
	case KEEL_V1_ID_USER_FQDN:
		return "ID_USER_FQDN";
	case KEEL_V1_ID_IPV4_ADDR_SUBNET:
		return "ID_IPV4_ADDR_SUBNET";
	case KEEL_V1_ID_IPV6_ADDR:
		return "ID_IPV6_ADDR";
	case KEEL_V1_ID_IPV6_ADDR_SUBNET:
		return "ID_IPV6_ADDR_SUBNET";
	case KEEL_V1_ID_IPV4_ADDR_RANGE:
		return "ID_IPV4_ADDR_RANGE";
	case KEEL_V1_ID_IPV6_ADDR_RANGE:
		return "ID_IPV6_ADDR_RANGE";
	case KEEL_V1_ID_DER_ASN1_DN:
		return "ID_DER_ASN1_DN";
	case KEEL_V1_ID_DER_ASN1_GN:
		return "ID_DER_ASN1_GN";
	case KEEL_V1_ID_KEY_ID:
		return "ID_KEY_ID";
	default:
		return NULL;
	}
}

const char *keel_v1_cert_encoding_name(uint8_t encoding)
{
	switch (encoding) {
	case KEEL_V1_CERT_NONE:
		return "NONE";
	case KEEL_V1_CERT_PKCS7:
		return "PKCS7";
	case KEEL_V1_CERT_PGP:
		return "PGP";
	case KEEL_V1_CERT_DNS_KEY:
		return "DNS_SIGNED_KEY";
	case KEEL_V1_CERT_X509_SIG:
		return "X509_SIGNATURE";
	case KEEL_V1_CERT_X509_KE:
		return "X509_KEY_EXCHANGE";
	case KEEL_V1_CERT_KERBEROS:
		return "KERBEROS";
	case KEEL_V1_CERT_CRL:
		return "CRL";
	case KEEL_V1_CERT_ARL:
		return "ARL";
	case KEEL_V1_CERT_SPKI:
		return "SPKI";
	case KEEL_V1_CERT_X509_ATTR:
		return "X509_ATTRIBUTE";
	default:
		return NULL;
	}
}

const char *keel_v1_ike_attr_name(uint16_t type)
{
	switch (type) {
	case KEEL_V1_IKE_ATTR_ENCR:
		return "ENCRYPTION_ALGORITHM";
	case KEEL_V1_IKE_ATTR_HASH:
		return "HASH_ALGORITHM";
	case KEEL_V1_IKE_ATTR_AUTH_METHOD:
		return "AUTHENTICATION_METHOD";
	case KEEL_V1_IKE_ATTR_GROUP_DESC:
		return "GROUP_DESCRIPTION";
	case KEEL_V1_IKE_ATTR_GROUP_TYPE:
		return "GROUP_TYPE";
	case KEEL_V1_IKE_ATTR_GROUP_PRIME:
		return "GROUP_PRIME";
	case KEEL_V1_IKE_ATTR_GROUP_GEN_ONE:
		return "GROUP_GENERATOR_ONE";
	case KEEL_V1_IKE_ATTR_GROUP_GEN_TWO:
		return "GROUP_GENERATOR_TWO";
	case KEEL_V1_IKE_ATTR_GROUP_CURVE_A:
		return "GROUP_CURVE_A";
	case KEEL_V1_IKE_ATTR_GROUP_CURVE_B:
		return "GROUP_CURVE_B";
	case KEEL_V1_IKE_ATTR_LIFE_TYPE:
		return "LIFE_TYPE";
	case KEEL_V1_IKE_ATTR_LIFE_DURATION:
		return "LIFE_DURATION";
	case KEEL_V1_IKE_ATTR_PRF:
		return "PRF";
	case KEEL_V1_IKE_ATTR_KEY_LENGTH:
		return "KEY_LENGTH";
	case KEEL_V1_IKE_ATTR_FIELD_SIZE:
		return "FIELD_SIZE";
	case KEEL_V1_IKE_ATTR_GROUP_ORDER:
		return "GROUP_ORDER";
	default:
		return NULL;
	}
}

const char *keel_v1_ipsec_attr_name(uint16_t type)
{
	switch (type) {
	case KEEL_V1_IPSEC_ATTR_LIFE_TYPE:
		return "SA_LIFE_TYPE";
	case KEEL_V1_IPSEC_ATTR_LIFE_DURATION:
		return "SA_LIFE_DURATION";
	case KEEL_V1_IPSEC_ATTR_GROUP_DESC:
		return "GROUP_DESCRIPTION";
	case KEEL_V1_IPSEC_ATTR_ENCAP_MODE:
		return "ENCAPSULATION_MODE";
	case KEEL_V1_IPSEC_ATTR_AUTH_ALG:
		return "AUTHENTICATION_ALGORITHM";
	case KEEL_V1_IPSEC_ATTR_KEY_LENGTH:
		return "KEY_LENGTH";
	case KEEL_V1_IPSEC_ATTR_KEY_ROUNDS:
		return "KEY_ROUNDS";
	case KEEL_V1_IPSEC_ATTR_COMP_DICT_SIZE:
		return "COMPRESS_DICTIONARY_SIZE";
	case KEEL_V1_IPSEC_ATTR_COMP_PRIV_ALG:
		return "COMPRESS_PRIVATE_ALGORITHM";
	case KEEL_V1_IPSEC_ATTR_ECN_TUNNEL:
		return "ECN_TUNNEL";
	case KEEL_V1_IPSEC_ATTR_ESN:
		return "EXTENDED_SEQUENCE_NUMBER";
	default:
		return NULL;
	}
}

const char *keel_v1_cfg_attr_name(uint16_t type)
{
	switch (type) {
	case KEEL_V1_CFG_INTERNAL_IP4_ADDRESS:
		return "INTERNAL_IP4_ADDRESS";
	case KEEL_V1_CFG_INTERNAL_IP4_NETMASK:
		return "INTERNAL_IP4_NETMASK";
	case KEEL_V1_CFG_INTERNAL_IP4_DNS:
		return "INTERNAL_IP4_DNS";
	case KEEL_V1_CFG_INTERNAL_IP4_NBNS:
		return "INTERNAL_IP4_NBNS";
	case KEEL_V1_CFG_INTERNAL_ADDRESS_EXPIRY:
		return "INTERNAL_ADDRESS_EXPIRY";
	case KEEL_V1_CFG_INTERNAL_IP4_DHCP:
		return "INTERNAL_IP4_DHCP";
	case KEEL_V1_CFG_APPLICATION_VERSION:
		return "APPLICATION_VERSION";
	case KEEL_V1_CFG_INTERNAL_IP6_ADDRESS:
		return "INTERNAL_IP6_ADDRESS";
	case KEEL_V1_CFG_INTERNAL_IP6_NETMASK:
		return "INTERNAL_IP6_NETMASK";
	case KEEL_V1_CFG_INTERNAL_IP6_DNS:
		return "INTERNAL_IP6_DNS";
	case KEEL_V1_CFG_INTERNAL_IP6_NBNS:
		return "INTERNAL_IP6_NBNS";
	case KEEL_V1_CFG_INTERNAL_IP6_DHCP:
		return "INTERNAL_IP6_DHCP";
	case KEEL_V1_CFG_INTERNAL_IP4_SUBNET:
		return "INTERNAL_IP4_SUBNET";
	case KEEL_V1_CFG_SUPPORTED_ATTRIBUTES:
		return "SUPPORTED_ATTRIBUTES";
	case KEEL_V1_CFG_INTERNAL_IP6_SUBNET:
		return "INTERNAL_IP6_SUBNET";
	case KEEL_V1_CFG_XAUTH_TYPE:
		return "XAUTH-TYPE";
	case KEEL_V1_CFG_XAUTH_USER_NAME:
		return "XAUTH-USER-NAME";
	case KEEL_V1_CFG_XAUTH_USER_PASSWORD:
		return "XAUTH-USER-PASSWORD";
	case KEEL_V1_CFG_XAUTH_PASSCODE:
		return "XAUTH-PASSCODE";
	case KEEL_V1_CFG_XAUTH_MESSAGE:
		return "XAUTH-MESSAGE";
	case KEEL_V1_CFG_XAUTH_CHALLENGE:
		return "XAUTH-CHALLENGE";
	case KEEL_V1_CFG_XAUTH_DOMAIN:
		return "XAUTH-DOMAIN";
	case KEEL_V1_CFG_XAUTH_STATUS:
		return "XAUTH-STATUS";
	case KEEL_V1_CFG_XAUTH_NEXT_PIN:
		return "XAUTH-NEXT-PIN";
	case KEEL_V1_CFG_XAUTH_ANSWER:
		return "XAUTH-ANSWER";
	case KEEL_V1_CFG_UNITY_BANNER:
		return "UNITY_BANNER";
	case KEEL_V1_CFG_UNITY_SAVE_PASSWD:
		return "UNITY_SAVE_PASSWD";
	case KEEL_V1_CFG_UNITY_DEF_DOMAIN:
		return "UNITY_DEF_DOMAIN";
	case KEEL_V1_CFG_UNITY_SPLIT_DNS_NAME:
		return "UNITY_SPLIT_DNS_NAME";
	case KEEL_V1_CFG_UNITY_SPLIT_INCLUDE:
		return "UNITY_SPLIT_INCLUDE";
	case KEEL_V1_CFG_UNITY_NATT_PORT:
		return "UNITY_NATT_PORT";
	case KEEL_V1_CFG_UNITY_LOCAL_LAN:
		return "UNITY_LOCAL_LAN";
	case KEEL_V1_CFG_UNITY_PFS:
		return "UNITY_PFS";
	case KEEL_V1_CFG_UNITY_FW_TYPE:
		return "UNITY_FW_TYPE";
	case KEEL_V1_CFG_UNITY_BACKUP_SERVERS:
		return "UNITY_BACKUP_SERVERS";
	case KEEL_V1_CFG_UNITY_DDNS_HOSTNAME:
		return "UNITY_DDNS_HOSTNAME";
	default:
		return NULL;
	}
}

const char *keel_v1_cfg_type_name(uint8_t type)
{
	switch (type) {
	case KEEL_V1_CFG_REQUEST:
		return "CFG_REQUEST";
	case KEEL_V1_CFG_REPLY:
		return "CFG_REPLY";
	case KEEL_V1_CFG_SET:
		return "CFG_SET";
	case KEEL_V1_CFG_ACK:
		return "CFG_ACK";
	default:
		return NULL;
	}
}

const char *keel_v1_encr_name(uint16_t value)
{
	switch (value) {
	case KEEL_V1_ENCR_DES_CBC:
		return "DES-CBC";
	case KEEL_V1_ENCR_IDEA_CBC:
		return "IDEA-CBC";
	case KEEL_V1_ENCR_BLOWFISH_CBC:
		return "Blowfish-CBC";
	case KEEL_V1_ENCR_RC5_CBC:
		return "RC5-R16-B64-CBC";
	case KEEL_V1_ENCR_3DES_CBC:
		return "3DES-CBC";
	case KEEL_V1_ENCR_CAST_CBC:
		return "CAST-CBC";
	case KEEL_V1_ENCR_AES_CBC:
		return "AES-CBC";
	case KEEL_V1_ENCR_CAMELLIA_CBC:
		return "CAMELLIA-CBC";
	default:
		return NULL;
	}
}

const char *keel_v1_hash_name(uint16_t value)
{
	switch (value) {
	case KEEL_V1_HASH_MD5:
		return "MD5";
	case KEEL_V1_HASH_SHA1:
		return "SHA";
	case KEEL_V1_HASH_TIGER:
		return "Tiger";
	case KEEL_V1_HASH_SHA2_256:
		return "SHA2-256";
	case KEEL_V1_HASH_SHA2_384:
		return "SHA2-384";
	case KEEL_V1_HASH_SHA2_512:
		return "SHA2-512";
	default:
		return NULL;
	}
}

const char *keel_v1_auth_method_name(uint16_t value)
{
	switch (value) {
	case KEEL_V1_AUTH_PSK:
		return "PSK";
	case KEEL_V1_AUTH_DSS_SIG:
		return "DSS";
	case KEEL_V1_AUTH_RSA_SIG:
		return "RSA_SIG";
	case KEEL_V1_AUTH_RSA_ENC:
		return "RSA_ENC";
	case KEEL_V1_AUTH_RSA_ENC_REV:
		return "RSA_ENC_REV";
	case KEEL_V1_AUTH_ECDSA_256:
		return "ECDSA_256";
	case KEEL_V1_AUTH_ECDSA_384:
		return "ECDSA_384";
	case KEEL_V1_AUTH_ECDSA_521:
		return "ECDSA_521";
	case KEEL_V1_AUTH_HYBRID_INIT_RSA:
		return "HybridInitRSA";
	case KEEL_V1_AUTH_HYBRID_RESP_RSA:
		return "HybridRespRSA";
	case KEEL_V1_AUTH_HYBRID_INIT_DSS:
		return "HybridInitDSS";
	case KEEL_V1_AUTH_HYBRID_RESP_DSS:
		return "HybridRespDSS";
	case KEEL_V1_AUTH_XAUTH_INIT_PSK:
		return "XAUTHInitPreShared";
	case KEEL_V1_AUTH_XAUTH_RESP_PSK:
		return "XAUTHRespPreShared";
	case KEEL_V1_AUTH_XAUTH_INIT_DSS:
		return "XAUTHInitDSS";
	case KEEL_V1_AUTH_XAUTH_RESP_DSS:
		return "XAUTHRespDSS";
	case KEEL_V1_AUTH_XAUTH_INIT_RSA:
		return "XAUTHInitRSA";
	case KEEL_V1_AUTH_XAUTH_RESP_RSA:
		return "XAUTHRespRSA";
	case KEEL_V1_AUTH_XAUTH_INIT_RSA_ENC:
		return "XAUTHInitRSAEncryption";
	case KEEL_V1_AUTH_XAUTH_RESP_RSA_ENC:
		return "XAUTHRespRSAEncryption";
	case KEEL_V1_AUTH_XAUTH_INIT_RSA_ENC_REV:
		return "XAUTHInitRSARevisedEncryption";
	case KEEL_V1_AUTH_XAUTH_RESP_RSA_ENC_REV:
		return "XAUTHRespRSARevisedEncryption";
	default:
		return NULL;
	}
}

const char *keel_v1_group_name(uint16_t value)
{
	/* IANA "Group Description" registry, shared with IKEv2 transform type 4 */
	switch (value) {
	case 1:
		return "modp768";
	case 2:
		return "modp1024";
	case 5:
		return "modp1536";
	case 14:
		return "modp2048";
	case 15:
		return "modp3072";
	case 16:
		return "modp4096";
	case 17:
		return "modp6144";
	case 18:
		return "modp8192";
	case 19:
		return "ecp256";
	case 20:
		return "ecp384";
	case 21:
		return "ecp521";
	case 22:
		return "modp1024s160";
	case 23:
		return "modp2048s224";
	case 24:
		return "modp2048s256";
	case 25:
		return "ecp192";
	case 26:
		return "ecp224";
	case 27:
		return "ecp224bp";
	case 28:
		return "ecp256bp";
	case 29:
		return "ecp384bp";
	case 30:
		return "ecp512bp";
	case 31:
		return "curve25519";
	case 32:
		return "curve448";
	default:
		return NULL;
	}
}

const char *keel_v1_encap_mode_name(uint16_t value)
{
	switch (value) {
	case KEEL_V1_ENCAP_TUNNEL:
		return "Tunnel";
	case KEEL_V1_ENCAP_TRANSPORT:
		return "Transport";
	case KEEL_V1_ENCAP_UDP_TUNNEL:
		return "UDP-Encapsulated-Tunnel";
	case KEEL_V1_ENCAP_UDP_TRANSPORT:
		return "UDP-Encapsulated-Transport";
	case KEEL_V1_ENCAP_UDP_TUNNEL_DRAFT:
		return "UDP-Encapsulated-Tunnel(draft)";
	case KEEL_V1_ENCAP_UDP_TRANSPORT_DRAFT:
		return "UDP-Encapsulated-Transport(draft)";
	default:
		return NULL;
	}
}

const char *keel_v1_esp_transform_name(uint8_t id)
{
	switch (id) {
	case KEEL_V1_ESP_DES_IV64:
		return "ESP_DES_IV64";
	case KEEL_V1_ESP_DES:
		return "ESP_DES";
	case KEEL_V1_ESP_3DES:
		return "ESP_3DES";
	case KEEL_V1_ESP_RC5:
		return "ESP_RC5";
	case KEEL_V1_ESP_IDEA:
		return "ESP_IDEA";
	case KEEL_V1_ESP_CAST:
		return "ESP_CAST";
	case KEEL_V1_ESP_BLOWFISH:
		return "ESP_BLOWFISH";
	case KEEL_V1_ESP_3IDEA:
		return "ESP_3IDEA";
	case KEEL_V1_ESP_DES_IV32:
		return "ESP_DES_IV32";
	case KEEL_V1_ESP_RC4:
		return "ESP_RC4";
	case KEEL_V1_ESP_NULL:
		return "ESP_NULL";
	case KEEL_V1_ESP_AES_CBC:
		return "ESP_AES_CBC";
	case KEEL_V1_ESP_AES_CTR:
		return "ESP_AES_CTR";
	case KEEL_V1_ESP_AES_CCM_8:
		return "ESP_AES_CCM_8";
	case KEEL_V1_ESP_AES_CCM_12:
		return "ESP_AES_CCM_12";
	case KEEL_V1_ESP_AES_CCM_16:
		return "ESP_AES_CCM_16";
	case KEEL_V1_ESP_AES_GCM_8:
		return "ESP_AES_GCM_8";
	case KEEL_V1_ESP_AES_GCM_12:
		return "ESP_AES_GCM_12";
	case KEEL_V1_ESP_AES_GCM_16:
		return "ESP_AES_GCM_16";
	case KEEL_V1_ESP_NULL_AES_GMAC:
		return "ESP_NULL_AUTH_AES_GMAC";
	case KEEL_V1_ESP_CAMELLIA:
		return "ESP_CAMELLIA";
	default:
		return NULL;
	}
}

const char *keel_v1_ipsec_auth_name(uint16_t value)
{
	switch (value) {
	case KEEL_V1_IPSEC_AUTH_HMAC_MD5:
		return "HMAC-MD5";
	case KEEL_V1_IPSEC_AUTH_HMAC_SHA1:
		return "HMAC-SHA";
	case KEEL_V1_IPSEC_AUTH_DES_MAC:
		return "DES-MAC";
	case KEEL_V1_IPSEC_AUTH_KPDK:
		return "KPDK";
	case KEEL_V1_IPSEC_AUTH_HMAC_SHA2_256:
		return "HMAC-SHA2-256";
	case KEEL_V1_IPSEC_AUTH_HMAC_SHA2_384:
		return "HMAC-SHA2-384";
	case KEEL_V1_IPSEC_AUTH_HMAC_SHA2_512:
		return "HMAC-SHA2-512";
	case KEEL_V1_IPSEC_AUTH_AES_XCBC_MAC:
		return "AES-XCBC-MAC";
	default:
		return NULL;
	}
}
