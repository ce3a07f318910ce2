/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ESP encapsulation and decapsulation in tunnel mode (RFC 4303) over the
 * cipher, AEAD and integrity contexts of core/crypto/.
 *
 * Packet layout (RFC 4303 §2):
 *
 *     SPI (4) | Sequence Number (4) | IV (8 or 16)
 *     encrypted: inner packet | padding 1, 2, ... | pad length (1) | next header (1)
 *     ICV (8..32)
 *
 * AEAD (AES-GCM RFC 4106, ChaCha20-Poly1305 RFC 7634): one seal/open call
 * whose AAD is SPI | seq_lo, or SPI | seq_hi | seq_lo with ESN (RFC 4106 §5,
 * RFC 7634 §2.1). AES-CBC/AES-CTR: encrypt, then an HMAC over SPI to the end
 * of the ciphertext, with seq_hi appended (not sent) under ESN (RFC 4303
 * §2.2.1, §3.3.2.1). Inbound the order is reversed: ICV first, then decrypt.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <keel/esp.h>

#include "crypto/cipher.h"
#include "crypto/prf.h"
#include "esp/esp-internal.h"
#include "esp/replay.h"
#include "wire/wire.h"

#define CBC_IV_LEN 16
/* Outbound CBC IVs are made this many at a time: one cipher call per batch. */
#define IVGEN_BATCH 32
/* The IV generator: AES-256-CTR keyed from the caller's randomness. */
#define IVGEN_KEY_BITS 256
/* Largest AAD: SPI | seq_hi | seq_lo. */
#define AAD_MAX_LEN  12
#define IPV4_HDR_LEN 20
#define IPV6_HDR_LEN 40

struct keel_esp_sa {
	enum keel_esp_dir dir;
	uint32_t spi;
	uint16_t encr;
	bool esn;
	size_t iv_len;
	size_t icv_len;
	size_t cipher_block_len; /* the ciphertext must be a multiple of it (16 CBC, else 1) */
	size_t align;            /* and is padded to a multiple of this (RFC 4303 §2.4) */
	size_t min_ct_len;       /* shortest possible ciphertext */
	uint64_t seq_max;        /* last sequence number an outbound SA may use */

	struct keel_aead *aead;     /* GCM, ChaCha20-Poly1305 */
	struct keel_cipher *cipher; /* CBC, CTR ... */
	struct keel_integ *integ;   /* ... with their integrity algorithm */

	/* Outbound CBC: unpredictable IVs (RFC 3602 §2). */
	struct keel_cipher *ivgen;
	uint64_t ivgen_batches;
	size_t ivgen_left;
	uint8_t ivgen_pool[IVGEN_BATCH * CBC_IV_LEN];

	uint64_t seq;              /* outbound: the last sequence number used */
	struct keel_replay replay; /* inbound */
	struct keel_esp_stats stats;
};

static void put_be32(uint8_t *p, uint32_t v)
{
	struct keel_wr w = keel_wr_init(p, 4);
	keel_wr_u32(&w, v);
}

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

/*
 * The IV generator of an outbound CBC SA: the keystream of AES-256-CTR
 * under a key drawn once from env, cut into 16-byte IVs. Each batch uses a
 * fresh CTR IV (the batch number), so no counter block repeats and every IV
 * is an AES output under a key no one else knows: unpredictable, as
 * RFC 3602 §2 requires, without calling env (a system call, perhaps not
 * thread-safe) on the data path. The key is wiped with the SA.
 */
static int ivgen_new(struct keel_esp_sa *sa, const struct keel_env *env)
{
	uint8_t seed[KEEL_ENCR_KEYMAT_MAX_LEN];
	ptrdiff_t seed_len = keel_encr_keymat_len(KEEL_ENCR_AES_CTR, IVGEN_KEY_BITS);
	int rc;

	if (seed_len < 0 || (size_t)seed_len > sizeof(seed))
		return KEEL_ERR_CRYPTO;
	rc = keel_env_random(env, seed, (size_t)seed_len);
	if (rc < 0)
		goto out;
	rc = keel_cipher_new(KEEL_ENCR_AES_CTR, IVGEN_KEY_BITS, KEEL_CIPHER_ENCRYPT, seed,
	                     (size_t)seed_len, &sa->ivgen);
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	return rc;
}

static int ivgen_next(struct keel_esp_sa *sa, uint8_t iv[CBC_IV_LEN])
{
	if (sa->ivgen_left == 0) {
		uint8_t ctr_iv[KEEL_AEAD_IV_LEN];
		struct keel_wr w = keel_wr_init(ctr_iv, sizeof(ctr_iv));
		int rc;

		keel_wr_u64(&w, sa->ivgen_batches++);
		memset(sa->ivgen_pool, 0, sizeof(sa->ivgen_pool));
		rc = keel_cipher_encrypt(sa->ivgen, ctr_iv, sa->ivgen_pool, sizeof(sa->ivgen_pool),
		                         sa->ivgen_pool);
		if (rc < 0)
			return rc;
		sa->ivgen_left = IVGEN_BATCH;
	}
	sa->ivgen_left--;
	memcpy(iv, sa->ivgen_pool + sa->ivgen_left * CBC_IV_LEN, CBC_IV_LEN);
	return 0;
}

int keel_esp_sa_new(const struct keel_esp_sa_params *p, struct keel_esp_sa **out)
{
	struct keel_esp_sa *sa = NULL;
	enum keel_integ_alg integ = KEEL_INTEG_NONE;
	enum keel_cipher_op op;
	ptrdiff_t keymat_len;
	unsigned window;
	bool aead;
	int rc;

	if (!p || !out || (p->dir != KEEL_ESP_OUTBOUND && p->dir != KEEL_ESP_INBOUND))
		return KEEL_ERR_INVAL;
	/* RFC 4303 §2.1: SPIs 1..255 are reserved by IANA, 0 is never sent */
	if (p->spi < 256)
		return KEEL_ERR_INVAL;
	if (!keel_encr_supported(p->encr, p->encr_key_bits))
		return KEEL_ERR_UNSUPPORTED;
	keymat_len = keel_encr_keymat_len(p->encr, p->encr_key_bits);
	if (keymat_len < 0)
		return (int)keymat_len;
	if (!p->encr_keymat || p->encr_keymat_len != keymat_len)
		return KEEL_ERR_INVAL;
	if (keel_integ_from_ikev2_id(p->integ, &integ) < 0)
		return KEEL_ERR_UNSUPPORTED;
	aead = keel_encr_is_aead(p->encr);
	/*
	 * A combined-mode cipher has no integrity transform (RFC 7296 §3.3.3);
	 * CBC and CTR need one: ESP without integrity is not offered
	 * (RFC 8221 §5).
	 */
	if (aead != (integ == KEEL_INTEG_NONE))
		return KEEL_ERR_INVAL;
	if (!aead && (!p->integ_key || p->integ_key_len != keel_integ_key_len(integ)))
		return KEEL_ERR_INVAL;
	window = p->replay_window ? p->replay_window : KEEL_ESP_REPLAY_WINDOW_DEFAULT;
	if (p->dir == KEEL_ESP_INBOUND &&
	    (window < KEEL_ESP_REPLAY_WINDOW_MIN || window > KEEL_ESP_REPLAY_WINDOW_MAX))
		return KEEL_ERR_INVAL;
	if (p->dir == KEEL_ESP_OUTBOUND && p->encr == KEEL_ENCR_AES_CBC &&
	    (!p->env || !p->env->random))
		return KEEL_ERR_INVAL;

	sa = calloc(1, sizeof(*sa));
	if (!sa)
		return KEEL_ERR_NOMEM;
	sa->dir = p->dir;
	sa->spi = p->spi;
	sa->encr = p->encr;
	sa->esn = p->esn;
	sa->iv_len = (size_t)keel_encr_iv_len(p->encr);
	sa->cipher_block_len = (size_t)keel_encr_block_len(p->encr);
	sa->align = max_size(sa->cipher_block_len, 4);
	/* at least pad length and next header, in whole cipher blocks */
	sa->min_ct_len = max_size(sa->cipher_block_len, 2);
	sa->seq_max = p->esn ? UINT64_MAX : UINT32_MAX; /* RFC 4303 §3.3.3 */
	op = p->dir == KEEL_ESP_OUTBOUND ? KEEL_CIPHER_ENCRYPT : KEEL_CIPHER_DECRYPT;

	if (aead) {
		rc = keel_aead_new(p->encr, p->encr_key_bits, op, p->encr_keymat,
		                   (size_t)p->encr_keymat_len, &sa->aead);
		if (rc < 0)
			goto out;
		sa->icv_len = keel_aead_icv_len(sa->aead);
	} else {
		rc = keel_cipher_new(p->encr, p->encr_key_bits, op, p->encr_keymat,
		                     (size_t)p->encr_keymat_len, &sa->cipher);
		if (rc < 0)
			goto out;
		rc = keel_integ_new(integ, p->integ_key, p->integ_key_len, &sa->integ);
		if (rc < 0)
			goto out;
		sa->icv_len = (size_t)keel_integ_icv_len(integ);
	}
	if (p->dir == KEEL_ESP_OUTBOUND && p->encr == KEEL_ENCR_AES_CBC) {
		rc = ivgen_new(sa, p->env);
		if (rc < 0)
			goto out;
	}
	if (p->dir == KEEL_ESP_INBOUND)
		keel_replay_init(&sa->replay, window, p->esn);

	*out = sa;
	sa = NULL;
	rc = 0;
out:
	keel_esp_sa_free(sa);
	return rc;
}

void keel_esp_sa_free(struct keel_esp_sa *sa)
{
	if (!sa)
		return;
	keel_aead_free(sa->aead);
	keel_cipher_free(sa->cipher);
	keel_integ_free(sa->integ);
	keel_cipher_free(sa->ivgen);
	OPENSSL_cleanse(sa, sizeof(*sa)); /* the unsent IVs of the pool, the window */
	free(sa);
}

uint32_t keel_esp_sa_spi(const struct keel_esp_sa *sa)
{
	return sa->spi;
}

enum keel_esp_dir keel_esp_sa_dir(const struct keel_esp_sa *sa)
{
	return sa->dir;
}

uint64_t keel_esp_sa_seq(const struct keel_esp_sa *sa)
{
	return sa->dir == KEEL_ESP_OUTBOUND ? sa->seq : sa->replay.top;
}

uint64_t keel_esp_sa_seq_left(const struct keel_esp_sa *sa)
{
	return sa->dir == KEEL_ESP_OUTBOUND ? sa->seq_max - sa->seq : 0;
}

void keel_esp_sa_set_seq(struct keel_esp_sa *sa, uint64_t seq)
{
	if (sa->dir == KEEL_ESP_OUTBOUND)
		sa->seq = seq;
	else
		keel_replay_reset(&sa->replay, seq);
}

void keel_esp_sa_stats(const struct keel_esp_sa *sa, struct keel_esp_stats *out)
{
	*out = sa->stats;
}

/* ---- sizes ---- */

static size_t header_len(const struct keel_esp_sa *sa)
{
	return KEEL_ESP_SPI_SEQ_LEN + sa->iv_len;
}

/* RFC 4303 §2.4: payload, padding, pad length and next header fill whole blocks. */
static size_t pad_len(const struct keel_esp_sa *sa, size_t inner_len)
{
	return (sa->align - (inner_len + 2) % sa->align) % sa->align;
}

static size_t overhead(const struct keel_esp_sa *sa, size_t inner_len)
{
	return header_len(sa) + pad_len(sa, inner_len) + 2 + sa->icv_len;
}

ptrdiff_t keel_esp_header_len(const struct keel_esp_sa *sa)
{
	return (ptrdiff_t)header_len(sa);
}

ptrdiff_t keel_esp_trailer_max_len(const struct keel_esp_sa *sa)
{
	return (ptrdiff_t)(sa->align - 1 + 2 + sa->icv_len);
}

ptrdiff_t keel_esp_overhead(const struct keel_esp_sa *sa, ptrdiff_t inner_len)
{
	if (inner_len < 0 || inner_len > KEEL_ESP_INNER_MAX_LEN)
		return KEEL_ERR_INVAL;
	return (ptrdiff_t)overhead(sa, (size_t)inner_len);
}

ptrdiff_t keel_esp_max_inner_len(const struct keel_esp_sa *sa, ptrdiff_t packet_len)
{
	size_t fixed = header_len(sa) + sa->icv_len, ct_len;

	if (packet_len < 0 || (size_t)packet_len < fixed)
		return 0;
	ct_len = ((size_t)packet_len - fixed) / sa->align * sa->align;
	if (ct_len < 3)
		return 0;
	ct_len -= 2;
	return ct_len > KEEL_ESP_INNER_MAX_LEN ? KEEL_ESP_INNER_MAX_LEN : (ptrdiff_t)ct_len;
}

/* ---- outbound ---- */

/* RFC 4106 §5, RFC 7634 §2.1: SPI | seq_lo, or SPI | seq_hi | seq_lo with ESN. */
static size_t build_aad(const struct keel_esp_sa *sa, uint64_t seq, uint8_t aad[AAD_MAX_LEN])
{
	struct keel_wr w = keel_wr_init(aad, AAD_MAX_LEN);

	keel_wr_u32(&w, sa->spi);
	if (sa->esn)
		keel_wr_u32(&w, (uint32_t)(seq >> 32));
	keel_wr_u32(&w, (uint32_t)seq);
	return w.len;
}

/*
 * The ICV input: the packet from the SPI to the end of the ciphertext, and
 * with ESN the high 32 bits of the sequence number after it (RFC 4303
 * §2.2.1, §3.3.2.1; they are covered but not sent).
 */
static size_t integ_input(const struct keel_esp_sa *sa, const uint8_t *pkt, size_t len,
                          uint64_t seq, uint8_t seq_hi[4], struct keel_iov in[2])
{
	in[0].data = pkt;
	in[0].len = (ptrdiff_t)len;
	if (!sa->esn)
		return 1;
	put_be32(seq_hi, (uint32_t)(seq >> 32));
	in[1].data = seq_hi;
	in[1].len = 4;
	return 2;
}

/* Checks an encapsulation request; on success sets *next_header. */
static int encap_check(const struct keel_esp_sa *sa, const uint8_t *inner, ptrdiff_t inner_len,
                       const uint8_t *out, ptrdiff_t out_cap, uint8_t *next_header)
{
	struct keel_rd r;

	if (!sa || !inner || !out || out_cap < 0)
		return KEEL_ERR_INVAL;
	if (sa->dir != KEEL_ESP_OUTBOUND)
		return KEEL_ERR_STATE;
	/* RFC 4303 §3.3.3: the sequence number must not cycle; a new SA must be made */
	if (sa->seq == sa->seq_max)
		return KEEL_ERR_STATE;
	if (inner_len <= 0 || inner_len > KEEL_ESP_INNER_MAX_LEN)
		return KEEL_ERR_INVAL;
	r = keel_rd_init(inner, (size_t)inner_len);
	switch (keel_rd_u8(&r) >> 4) { /* IP version */
	case 4:
		*next_header = KEEL_ESP_NEXT_IPV4;
		break;
	case 6:
		*next_header = KEEL_ESP_NEXT_IPV6;
		break;
	default:
		return KEEL_ERR_INVAL;
	}
	if ((size_t)out_cap < (size_t)inner_len + overhead(sa, (size_t)inner_len))
		return KEEL_ERR_NOBUF;
	return 0;
}

/* Builds the packet around inner with iv; encap_check() has passed. */
static ptrdiff_t seal(struct keel_esp_sa *sa, const uint8_t *iv, const uint8_t *inner,
                      size_t inner_len, uint8_t *out, uint8_t next_header)
{
	size_t hdr_len = header_len(sa);
	size_t padding = pad_len(sa, inner_len);
	size_t ct_len = inner_len + padding + 2;
	size_t total = hdr_len + ct_len + sa->icv_len;
	uint8_t *ct = out + hdr_len, *icv;
	uint64_t seq;
	struct keel_wr w;
	int rc;

	if (inner != ct)
		memmove(ct, inner, inner_len);
	/* used up from here on, whatever happens: an IV is never used twice */
	seq = ++sa->seq;

	w = keel_wr_init(out, total);
	keel_wr_u32(&w, sa->spi);
	keel_wr_u32(&w, (uint32_t)seq);
	keel_wr_bytes(&w, iv, sa->iv_len);
	keel_wr_reserve(&w, inner_len); /* the inner packet, already in place */
	for (size_t i = 1; i <= padding; i++)
		keel_wr_u8(&w, (uint8_t)i); /* RFC 4303 §2.4: 1, 2, 3, ... */
	keel_wr_u8(&w, (uint8_t)padding);
	keel_wr_u8(&w, next_header);
	icv = keel_wr_reserve(&w, sa->icv_len);
	if (keel_wr_finish(&w) != (ptrdiff_t)total)
		return KEEL_ERR_NOBUF; /* cannot happen: encap_check() sized it */

	if (sa->aead) {
		uint8_t aad[AAD_MAX_LEN];
		size_t aad_len = build_aad(sa, seq, aad);

		rc = keel_aead_seal(sa->aead, iv, aad, aad_len, ct, ct_len, ct, icv);
	} else {
		struct keel_iov in[2];
		uint8_t seq_hi[4];
		size_t n_in = integ_input(sa, out, hdr_len + ct_len, seq, seq_hi, in);
		ptrdiff_t n;

		rc = keel_cipher_encrypt(sa->cipher, iv, ct, ct_len, ct);
		if (rc == 0) {
			n = keel_integ_compute(sa->integ, in, n_in, icv, (ptrdiff_t)sa->icv_len);
			rc = n == (ptrdiff_t)sa->icv_len ? 0 : n < 0 ? (int)n : KEEL_ERR_CRYPTO;
		}
	}
	if (rc < 0) {
		sa->stats.errors++;
		return KEEL_ERR_CRYPTO;
	}
	sa->stats.packets++;
	sa->stats.bytes += inner_len;
	return (ptrdiff_t)total;
}

ptrdiff_t keel_esp_encap(struct keel_esp_sa *sa, const uint8_t *inner, ptrdiff_t inner_len,
                         uint8_t *out, ptrdiff_t out_cap)
{
	uint8_t iv[KEEL_ENCR_IV_MAX_LEN];
	uint8_t next_header = 0;
	int rc;

	rc = encap_check(sa, inner, inner_len, out, out_cap, &next_header);
	if (rc < 0)
		return rc;
	if (sa->ivgen) {
		rc = ivgen_next(sa, iv);
		if (rc < 0) {
			sa->stats.errors++;
			return KEEL_ERR_CRYPTO;
		}
	} else {
		/*
		 * GCM, ChaCha20-Poly1305, CTR: the IV must be unique per key
		 * (RFC 4106 §3.1, RFC 7634 §2, RFC 3686 §3.1). The sequence
		 * number this packet will carry is: 64 bits with ESN, and
		 * never cycling without (encap_check()), and every SA has
		 * keys of its own.
		 */
		struct keel_wr w = keel_wr_init(iv, sizeof(iv));
		keel_wr_u64(&w, sa->seq + 1);
	}
	return seal(sa, iv, inner, (size_t)inner_len, out, next_header);
}

ptrdiff_t keel_esp_encap_iv(struct keel_esp_sa *sa, const uint8_t *iv, const uint8_t *inner,
                            ptrdiff_t inner_len, uint8_t *out, ptrdiff_t out_cap)
{
	uint8_t next_header = 0;
	int rc;

	if (!iv)
		return KEEL_ERR_INVAL;
	rc = encap_check(sa, inner, inner_len, out, out_cap, &next_header);
	if (rc < 0)
		return rc;
	return seal(sa, iv, inner, (size_t)inner_len, out, next_header);
}

/* ---- inbound ---- */

int keel_esp_read_spi(const uint8_t *pkt, ptrdiff_t len, uint32_t *spi)
{
	struct keel_rd r;
	uint32_t v;

	if (!pkt || len < KEEL_ESP_SPI_SEQ_LEN || !spi)
		return KEEL_ERR_MALFORMED;
	r = keel_rd_init(pkt, (size_t)len);
	v = keel_rd_u32(&r);
	if (r.bad)
		return KEEL_ERR_MALFORMED;
	*spi = v;
	return 0;
}

/*
 * The inner packet's own length, from its IP header: shorter than the
 * payload when the sender added TFC padding (RFC 4303 §2.7), never longer.
 * 0 if the header does not fit or disagrees with the Next Header.
 */
static size_t inner_ip_len(const uint8_t *payload, size_t payload_len, uint8_t next_header)
{
	struct keel_rd r = keel_rd_init(payload, payload_len);
	unsigned version = keel_rd_u8(&r) >> 4;
	size_t len;

	if (next_header == KEEL_ESP_NEXT_IPV4) {
		keel_rd_skip(&r, 1);
		len = keel_rd_u16(&r); /* Total Length, RFC 791 */
		if (version != 4 || len < IPV4_HDR_LEN)
			return 0;
	} else {
		keel_rd_skip(&r, 3);
		len = IPV6_HDR_LEN + (size_t)keel_rd_u16(&r); /* Payload Length, RFC 8200 */
		if (version != 6)
			return 0;
	}
	if (r.bad || len > payload_len)
		return 0;
	return len;
}

/* The decrypted payload ct: RFC 4303 §2.4 trailer, §2.6 next header. */
static enum keel_esp_status open_payload(uint8_t *ct, size_t ct_len, uint64_t seq,
                                         struct keel_esp_rx *rx)
{
	struct keel_rd trailer = keel_rd_init(ct + ct_len - 2, 2), pad;
	uint8_t padding = keel_rd_u8(&trailer);
	uint8_t next_header = keel_rd_u8(&trailer);
	size_t payload_len, len;

	if ((size_t)padding + 2 > ct_len)
		return KEEL_ESP_MALFORMED;
	payload_len = ct_len - 2 - padding;
	pad = keel_rd_init(ct + payload_len, padding);
	for (unsigned i = 1; i <= padding; i++) {
		if (keel_rd_u8(&pad) != i)
			return KEEL_ESP_BAD_PADDING;
	}
	if (next_header == KEEL_ESP_NEXT_NONE)
		return KEEL_ESP_DUMMY; /* §2.6: a dummy packet is dropped silently */
	if (next_header != KEEL_ESP_NEXT_IPV4 && next_header != KEEL_ESP_NEXT_IPV6)
		return KEEL_ESP_BAD_NEXT_HEADER;
	len = inner_ip_len(ct, payload_len, next_header);
	if (len == 0)
		return KEEL_ESP_MALFORMED;
	rx->inner = ct;
	rx->inner_len = (ptrdiff_t)len;
	rx->next_header = next_header;
	rx->seq = seq;
	return KEEL_ESP_OK;
}

static enum keel_esp_status decap(struct keel_esp_sa *sa, uint8_t *pkt, ptrdiff_t len,
                                  struct keel_esp_rx *rx)
{
	size_t hdr_len = header_len(sa), ct_len;
	const uint8_t *iv, *icv;
	uint32_t spi, seq_lo;
	enum keel_esp_status st;
	struct keel_rd r;
	uint8_t *ct;
	uint64_t seq = 0;
	int rc;

	if (!pkt || len < 0 || sa->dir != KEEL_ESP_INBOUND)
		return KEEL_ESP_ERROR;
	/* RFC 4303 §3.4: everything up to the ICV must be there, in whole blocks */
	if ((size_t)len < hdr_len + sa->min_ct_len + sa->icv_len)
		return KEEL_ESP_MALFORMED;
	ct_len = (size_t)len - hdr_len - sa->icv_len;
	if (ct_len % sa->cipher_block_len != 0)
		return KEEL_ESP_MALFORMED;

	r = keel_rd_init(pkt, (size_t)len);
	spi = keel_rd_u32(&r);
	seq_lo = keel_rd_u32(&r);
	iv = keel_rd_bytes(&r, sa->iv_len);
	keel_rd_skip(&r, ct_len);
	icv = keel_rd_bytes(&r, sa->icv_len);
	if (!keel_rd_done(&r))
		return KEEL_ESP_MALFORMED;
	ct = pkt + hdr_len;

	if (spi != sa->spi)
		return KEEL_ESP_BAD_SPI;
	/* §3.4.3: the window first, so that replays cost no cryptography */
	st = keel_replay_check(&sa->replay, seq_lo, &seq);
	if (st != KEEL_ESP_OK)
		return st;

	if (sa->aead) {
		uint8_t aad[AAD_MAX_LEN];
		size_t aad_len = build_aad(sa, seq, aad);

		rc = keel_aead_open(sa->aead, iv, aad, aad_len, ct, ct_len, ct, icv);
		if (rc == KEEL_ERR_AUTH)
			return KEEL_ESP_BAD_ICV;
		if (rc < 0)
			return KEEL_ESP_ERROR;
		keel_replay_accept(&sa->replay, seq); /* §3.4.3: only once authentic */
	} else {
		struct keel_iov in[2];
		uint8_t seq_hi[4];
		size_t n_in = integ_input(sa, pkt, hdr_len + ct_len, seq, seq_hi, in);

		/* §3.4.4.1: the ICV before decryption, compared in constant time */
		rc = keel_integ_verify(sa->integ, in, n_in, icv, (ptrdiff_t)sa->icv_len);
		if (rc == KEEL_ERR_AUTH)
			return KEEL_ESP_BAD_ICV;
		if (rc < 0)
			return KEEL_ESP_ERROR;
		keel_replay_accept(&sa->replay, seq);
		if (keel_cipher_decrypt(sa->cipher, iv, ct, ct_len, ct) < 0)
			return KEEL_ESP_ERROR;
	}
	return open_payload(ct, ct_len, seq, rx);
}

static void count(struct keel_esp_stats *s, enum keel_esp_status st, const struct keel_esp_rx *rx)
{
	switch (st) {
	case KEEL_ESP_OK:
		s->packets++;
		s->bytes += (uint64_t)rx->inner_len;
		break;
	case KEEL_ESP_DUMMY:
		s->dummy++;
		break;
	case KEEL_ESP_REPLAYED:
		s->replayed++;
		break;
	case KEEL_ESP_TOO_OLD:
		s->too_old++;
		break;
	case KEEL_ESP_BAD_ICV:
		s->bad_icv++;
		break;
	case KEEL_ESP_BAD_PADDING:
		s->bad_padding++;
		break;
	case KEEL_ESP_BAD_NEXT_HEADER:
		s->bad_next_header++;
		break;
	case KEEL_ESP_MALFORMED:
		s->malformed++;
		break;
	case KEEL_ESP_BAD_SPI:
		s->bad_spi++;
		break;
	case KEEL_ESP_ERROR:
		s->errors++;
		break;
	}
}

enum keel_esp_status keel_esp_decap(struct keel_esp_sa *sa, uint8_t *pkt, ptrdiff_t len,
                                    struct keel_esp_rx *rx)
{
	struct keel_esp_rx got = {0};
	enum keel_esp_status st;

	if (!sa)
		return KEEL_ESP_ERROR;
	st = rx ? decap(sa, pkt, len, &got) : KEEL_ESP_ERROR;
	count(&sa->stats, st, &got);
	if (st == KEEL_ESP_OK)
		*rx = got;
	return st;
}

const char *keel_esp_status_name(enum keel_esp_status st)
{
	switch (st) {
	case KEEL_ESP_OK:
		return "ok";
	case KEEL_ESP_DUMMY:
		return "dummy";
	case KEEL_ESP_REPLAYED:
		return "replayed";
	case KEEL_ESP_TOO_OLD:
		return "too-old";
	case KEEL_ESP_BAD_ICV:
		return "bad-icv";
	case KEEL_ESP_BAD_PADDING:
		return "bad-padding";
	case KEEL_ESP_BAD_NEXT_HEADER:
		return "bad-next-header";
	case KEEL_ESP_MALFORMED:
		return "malformed";
	case KEEL_ESP_BAD_SPI:
		return "bad-spi";
	case KEEL_ESP_ERROR:
		return "error";
	}
	return "unknown";
}
