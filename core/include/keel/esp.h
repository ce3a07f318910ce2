/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ESP (RFC 4303) in tunnel mode, and ESP in UDP (RFC 3948), as pure functions
 * over the caller's buffers: the cryptographic half of the TUN data path.
 *
 * One struct keel_esp_sa per direction of a CHILD SA, made once from the
 * values of a KEEL_OUT_CHILD_INSTALL (transform IDs, keys, ESN, SPI). Its
 * cipher contexts and key schedules are built then; per packet only the IV
 * and the data change. Nothing is allocated and nothing is locked per
 * packet: an SA is used by one thread at a time (typically the data path's
 * sending thread owns the outbound SA and its receiving thread the inbound).
 *
 * Outbound, in place: read the inner packet from the TUN device into a
 * buffer at offset KEEL_ESP_HEADROOM (or keel_esp_header_len() plus the
 * room a caller needs before it), leave keel_esp_trailer_max_len() bytes
 * after it, and call keel_esp_encap() with out = inner - keel_esp_header_len():
 * the ESP packet is then built around the inner packet without a copy.
 *
 *     uint8_t buf[KEEL_ESP_HEADROOM + 1500 + KEEL_ESP_TRAILER_MAX_LEN];
 *     uint8_t *inner = buf + KEEL_ESP_HEADROOM;
 *     ptrdiff_t n = read(tun, inner, 1500);
 *     uint8_t *esp = inner - keel_esp_header_len(sa);
 *     ptrdiff_t len = keel_esp_encap(sa, inner, n, esp, buf + sizeof(buf) - esp);
 *     if (len > 0) send(udp4500, esp, len);          // RFC 3948: no marker
 *
 * Inbound, in place: keel_natt_classify() the datagram from port 4500; for
 * KEEL_NATT_ESP find the SA by keel_esp_read_spi() and call keel_esp_decap():
 * the inner packet is decrypted where it lies and handed back as a range of
 * the caller's buffer.
 */
#ifndef KEEL_ESP_H
#define KEEL_ESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/env.h>
#include <keel/err.h>

/* RFC 4303 §2: SPI and Sequence Number precede the payload. */
#define KEEL_ESP_SPI_SEQ_LEN 8
/* RFC 768 UDP header, for callers that build ESP-in-UDP themselves (RFC 3948 §2.1). */
#define KEEL_ESP_UDP_HDR_LEN 8
/* Upper bounds over every algorithm, to size buffers statically. */
#define KEEL_ESP_HEADER_MAX_LEN  24 /* SPI, seq, 16-byte CBC IV */
#define KEEL_ESP_TRAILER_MAX_LEN 49 /* 15 padding, pad length, next header, 32-byte ICV */
/* Room to leave before an inner packet: a UDP header and the largest ESP header. */
#define KEEL_ESP_HEADROOM (KEEL_ESP_UDP_HDR_LEN + KEEL_ESP_HEADER_MAX_LEN)
/* The largest inner packet keel_esp_encap() takes (an IPv4/IPv6 length field). */
#define KEEL_ESP_INNER_MAX_LEN 65535

/* Anti-replay window, in packets (RFC 4303 §3.4.3). */
#define KEEL_ESP_REPLAY_WINDOW_DEFAULT 128
#define KEEL_ESP_REPLAY_WINDOW_MIN     64
#define KEEL_ESP_REPLAY_WINDOW_MAX     4096

/* Next Header values of tunnel mode (IANA protocol numbers, RFC 4303 §2.6). */
#define KEEL_ESP_NEXT_IPV4 4
#define KEEL_ESP_NEXT_IPV6 41
#define KEEL_ESP_NEXT_NONE 59 /* a dummy packet (traffic flow confidentiality) */

struct keel_esp_sa;

enum keel_esp_dir {
	KEEL_ESP_OUTBOUND,
	KEEL_ESP_INBOUND,
};

/*
 * What keel_esp_sa_new() is made from. Keys are borrowed for the call and
 * copied into the cipher contexts; the caller may wipe its copies after.
 */
struct keel_esp_sa_params {
	enum keel_esp_dir dir;
	/* RFC 4303 §2.1: 1..255 are reserved and 0 is never sent: 256 or more. */
	uint32_t spi;
	/*
	 * IKEv2 Transform Type 1 ID: 12 AES-CBC, 13 AES-CTR, 18/19/20
	 * AES-GCM with an 8/12/16-byte ICV, 28 ChaCha20-Poly1305.
	 * encr_key_bits is the Key Length attribute (128, 192, 256; 0 for
	 * ChaCha20-Poly1305). encr_keymat is the encryption KEYMAT of RFC 7296
	 * §2.17: the key, plus the 4-byte salt (GCM, ChaCha20-Poly1305) or
	 * nonce (CTR) after it.
	 */
	uint16_t encr;
	uint16_t encr_key_bits;
	const uint8_t *encr_keymat;
	ptrdiff_t encr_keymat_len;
	/*
	 * IKEv2 Transform Type 3 ID: 0 with an AEAD (GCM, ChaCha20-Poly1305);
	 * required with CBC and CTR (Keel never sends ESP without integrity):
	 * 2 HMAC-SHA1-96, 12/13/14 HMAC-SHA2-256-128/384-192/512-256.
	 */
	uint16_t integ;
	const uint8_t *integ_key;
	ptrdiff_t integ_key_len;
	/* Extended (64-bit) Sequence Numbers, RFC 4303 §2.2.1. */
	bool esn;
	/* Inbound: anti-replay window in packets; 0 means 128, else 64..4096. */
	unsigned replay_window;
	/*
	 * Outbound AES-CBC only: the randomness that seeds the SA's IV
	 * generator (borrowed for the call). Ignored otherwise; may be NULL.
	 */
	const struct keel_env *env;
};

/*
 * Makes an SA. On success *out is set and owned by the caller
 * (keel_esp_sa_free()). Errors: KEEL_ERR_INVAL (a NULL or out-of-range
 * argument, a key of the wrong length, integrity with an AEAD or none with
 * CBC/CTR, a replay window outside 64..4096, outbound CBC without env),
 * KEEL_ERR_UNSUPPORTED (an unknown transform or key length), KEEL_ERR_NOMEM,
 * KEEL_ERR_CRYPTO, or the error of env's random function.
 */
int keel_esp_sa_new(const struct keel_esp_sa_params *p, struct keel_esp_sa **out);

/* Wipes every key of sa and frees it. NULL is fine. */
void keel_esp_sa_free(struct keel_esp_sa *sa);

/* The accessors below take a non-NULL sa. */
uint32_t keel_esp_sa_spi(const struct keel_esp_sa *sa);
enum keel_esp_dir keel_esp_sa_dir(const struct keel_esp_sa *sa);

/*
 * Outbound: the last sequence number sent (0 before the first packet), so
 * also the number of packets sent. Inbound: the highest sequence number
 * accepted so far (the top of the replay window), with ESN the full 64 bits.
 */
uint64_t keel_esp_sa_seq(const struct keel_esp_sa *sa);

/*
 * Outbound: how many more packets the SA may send before keel_esp_encap()
 * refuses with KEEL_ERR_STATE because the sequence number would cycle
 * (RFC 4303 §3.3.3: 2^32 - 1 packets without ESN, 2^64 - 1 with). The
 * engine rekeys well before 0. Inbound: 0.
 */
uint64_t keel_esp_sa_seq_left(const struct keel_esp_sa *sa);

/* ---- sizes ---- */

/* Bytes before the inner packet: SPI, sequence number and IV (16 or 24). */
ptrdiff_t keel_esp_header_len(const struct keel_esp_sa *sa);
/* Most bytes after the inner packet: padding, pad length, next header, ICV. */
ptrdiff_t keel_esp_trailer_max_len(const struct keel_esp_sa *sa);
/*
 * Bytes ESP adds to an inner packet of inner_len bytes (the ESP packet is
 * inner_len + this long), without a UDP header. KEEL_ERR_INVAL if inner_len
 * is negative or above KEEL_ESP_INNER_MAX_LEN.
 */
ptrdiff_t keel_esp_overhead(const struct keel_esp_sa *sa, ptrdiff_t inner_len);
/*
 * The largest inner packet whose ESP packet fits in packet_len bytes (e.g. a
 * path MTU less the outer IP and UDP headers: the TUN device's MTU), or 0 if
 * none does.
 */
ptrdiff_t keel_esp_max_inner_len(const struct keel_esp_sa *sa, ptrdiff_t packet_len);

/* ---- outbound ---- */

/*
 * Encapsulates the IPv4 or IPv6 packet inner (inner_len bytes; the Next
 * Header, 4 or 41, comes from its version field) into one ESP packet written
 * to out: SPI | sequence number | IV | encrypted(inner | padding 1, 2, 3, ...
 * | pad length | next header) | ICV, the encrypted part padded to the cipher's
 * block and to 4 bytes (RFC 4303 §2.4). Returns the ESP packet's length
 * (inner_len + keel_esp_overhead()).
 *
 * inner may lie anywhere, inside out too: at out + keel_esp_header_len(sa)
 * it is encrypted in place without a copy, elsewhere it is first moved there.
 * out_cap bytes at out are writable.
 *
 * The IV: with AES-GCM, ChaCha20-Poly1305 and AES-CTR it is the 64-bit
 * sequence number, which never repeats under one key (RFC 4106 §3.1,
 * RFC 7634 §2, RFC 3686 §3 require uniqueness, not randomness). With AES-CBC
 * it must be unpredictable (RFC 3602 §2): it is drawn from the SA's own
 * generator, AES-256-CTR under a key taken from env when the SA was made.
 *
 * Errors: KEEL_ERR_INVAL (NULL, inner_len 0 or above KEEL_ESP_INNER_MAX_LEN,
 * not IPv4 or IPv6), KEEL_ERR_NOBUF (out_cap too small), KEEL_ERR_STATE (an
 * inbound SA, or the sequence number would cycle: rekey), KEEL_ERR_CRYPTO.
 * A sequence number is used up as soon as encryption starts, so it never
 * serves twice even after KEEL_ERR_CRYPTO.
 */
ptrdiff_t keel_esp_encap(struct keel_esp_sa *sa, const uint8_t *inner, ptrdiff_t inner_len,
                         uint8_t *out, ptrdiff_t out_cap);

/* ---- inbound ---- */

/*
 * What became of a received ESP packet. keel_esp_decap() returns a verdict
 * rather than a keel_err because every outcome is a packet's fate that the
 * data path counts (the SA counts them too: keel_esp_sa_stats()).
 */
enum keel_esp_status {
	KEEL_ESP_OK = 0,          /* an authentic inner packet: deliver it */
	KEEL_ESP_DUMMY,           /* authentic, Next Header 59 (RFC 4303 §2.6): drop silently */
	KEEL_ESP_REPLAYED,        /* sequence number already received (RFC 4303 §3.4.3) */
	KEEL_ESP_TOO_OLD,         /* left of the replay window (or sequence number 0) */
	KEEL_ESP_BAD_ICV,         /* integrity check failed (RFC 4303 §3.4.4) */
	KEEL_ESP_BAD_PADDING,     /* authentic, but padding bytes not 1, 2, 3, ... (§2.4) */
	KEEL_ESP_BAD_NEXT_HEADER, /* authentic, but neither IPv4, IPv6 nor 59 */
	KEEL_ESP_MALFORMED,       /* too short, not block aligned, pad length or inner
	                             IP length beyond the payload */
	KEEL_ESP_BAD_SPI,         /* not this SA's SPI: the caller picked the wrong SA */
	KEEL_ESP_ERROR,           /* not the packet's fault: a NULL argument, an outbound
	                             SA, or the crypto library failed */
};

/* A short static name of a status ("replayed", ...); never NULL. */
const char *keel_esp_status_name(enum keel_esp_status st);

/* An accepted inner packet: a range of the caller's buffer. */
struct keel_esp_rx {
	uint8_t *inner;      /* borrowed: inside the pkt given to keel_esp_decap() */
	ptrdiff_t inner_len; /* the inner IP header's length: TFC padding (§2.7) cut off */
	uint8_t next_header; /* KEEL_ESP_NEXT_IPV4 or KEEL_ESP_NEXT_IPV6 */
	uint64_t seq;        /* the full sequence number (with ESN, seq_hi inferred) */
};

/*
 * Reads the SPI of the ESP packet pkt (len bytes), to find its SA.
 * KEEL_ERR_MALFORMED if shorter than SPI and sequence number.
 */
int keel_esp_read_spi(const uint8_t *pkt, ptrdiff_t len, uint32_t *spi);

/*
 * Checks and decrypts the ESP packet pkt (len bytes: SPI to ICV, no UDP
 * header or marker) in place, in the order RFC 4303 §3.4 gives: length, SPI,
 * the replay window (before the ICV, so replays cost no crypto), the ICV in
 * constant time, then the window moves (only for an authentic packet), the
 * payload is decrypted, the padding, pad length and Next Header are checked.
 * With ESN the high half of the sequence number is inferred as RFC 4303
 * Appendix A says and covered by the ICV; a packet just left of the window
 * is then placed in the next 2^32 subspace (A2.2) and fails as
 * KEEL_ESP_BAD_ICV rather than KEEL_ESP_TOO_OLD.
 *
 * On KEEL_ESP_OK, *rx is written; the inner packet is rx->inner, within pkt.
 * On any other status *rx is untouched and pkt's bytes after the header are
 * unspecified (partly decrypted, or zeroed).
 */
enum keel_esp_status keel_esp_decap(struct keel_esp_sa *sa, uint8_t *pkt, ptrdiff_t len,
                                    struct keel_esp_rx *rx);

/* ---- statistics ---- */

/*
 * Counters of an SA since it was made. packets/bytes count the inner packets
 * encapsulated (outbound) or delivered with KEEL_ESP_OK (inbound), bytes
 * being inner IP bytes: what soft and hard byte lifetimes are measured in.
 */
struct keel_esp_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t dummy;
	uint64_t replayed;
	uint64_t too_old;
	uint64_t bad_icv;
	uint64_t bad_padding;
	uint64_t bad_next_header;
	uint64_t malformed;
	uint64_t bad_spi;
	uint64_t errors; /* KEEL_ESP_ERROR, and KEEL_ERR_CRYPTO from keel_esp_encap() */
};

/* Copies sa's counters to *out. Call it on the thread that uses sa. */
void keel_esp_sa_stats(const struct keel_esp_sa *sa, struct keel_esp_stats *out);

/* ---- ESP in UDP, RFC 3948 ---- */

enum keel_natt_kind {
	KEEL_NATT_ESP,       /* an ESP packet: the first 4 bytes are a non-zero SPI */
	KEEL_NATT_IKE,       /* the non-ESP marker (4 zero bytes), then an IKE message */
	KEEL_NATT_KEEPALIVE, /* a NAT-keepalive, one 0xff byte (RFC 3948 §2.3): ignore */
	KEEL_NATT_INVALID,   /* none of these: drop */
};

/*
 * Classifies a datagram received on the NAT-T port (RFC 3948 §2.2, §2.3).
 * For ESP and IKE, *payload_off (if not NULL) is set to where the ESP packet
 * (0) or the IKE message (4, after the marker) starts. An ESP packet shorter
 * than SPI and sequence number, or a marker with nothing after it, is INVALID.
 */
enum keel_natt_kind keel_natt_classify(const uint8_t *dgram, ptrdiff_t len, ptrdiff_t *payload_off);

/* Length of the non-ESP marker (RFC 3948 §2.2). */
#define KEEL_NATT_MARKER_LEN 4

/*
 * Writes a NAT-keepalive payload (the single byte 0xff, RFC 3948 §2.3) to
 * buf; the caller sends it as a UDP datagram from the NAT-T port. Returns 1,
 * or KEEL_ERR_NOBUF if cap < 1.
 */
ptrdiff_t keel_natt_write_keepalive(uint8_t *buf, ptrdiff_t cap);

/*
 * Writes the non-ESP marker (4 zero bytes) that precedes an IKE message on
 * the NAT-T port. Returns KEEL_NATT_MARKER_LEN, or KEEL_ERR_NOBUF.
 */
ptrdiff_t keel_natt_write_marker(uint8_t *buf, ptrdiff_t cap);

#endif
