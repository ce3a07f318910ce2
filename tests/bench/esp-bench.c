/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * keel-esp-bench: ESP encapsulation and decapsulation of 1400-byte inner
 * packets, in place, for a fixed time per algorithm and direction; prints
 * packets/s and Gbit/s of inner data per second of the thread's CPU time.
 * One thread, fixed dummy keys.
 *
 * Only the keel_esp_encap() / keel_esp_decap() calls are timed: packets are
 * prepared in batches outside the timed part (fresh inner packets before
 * encapsulation, freshly encapsulated packets with new sequence numbers
 * before decapsulation, which works in place and refuses replays).
 *
 *     keel-esp-bench [seconds per measurement, default 2]
 *     keel-esp-bench -n PACKETS [ALGORITHM]
 *
 * With -n, exactly PACKETS packets (rounded up to a batch) per algorithm and
 * direction (only ALGORITHM's suite if named, e.g. AES-GCM-16-256), for
 * instruction counts that do not depend on the machine's load:
 *     valgrind --tool=callgrind keel-esp-bench -n 25600 AES-GCM-16-256
 *     callgrind_annotate --inclusive=yes callgrind.out.PID | grep keel_esp_
 * (keel_esp_encap runs 2 x PACKETS times per algorithm, keel_esp_decap PACKETS).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <keel/esp.h>

#define INNER_LEN 1400
#define BATCH     256 /* packets per timed run */
#define BUF_LEN   (KEEL_ESP_HEADROOM + INNER_LEN + KEEL_ESP_TRAILER_MAX_LEN)

struct suite {
	const char *name;
	uint16_t encr;
	uint16_t key_bits;
	ptrdiff_t keymat_len;
	uint16_t integ;
	ptrdiff_t integ_key_len;
};

static const struct suite suites[] = {
    {"AES-GCM-16-256", 20, 256, 36, 0, 0},
    {"ChaCha20-Poly1305", 28, 0, 36, 0, 0},
    {"AES-CBC-256+HMAC-SHA2-256-128", 12, 256, 32, 12, 32},
};

static uint8_t pool[BATCH][BUF_LEN];
static ptrdiff_t pool_len[BATCH];

/* The thread's CPU time: other processes on a busy machine do not lower the rates. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Not random: a benchmark needs no secrecy, only the work real keys cost. */
static int bench_random(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	return 0;
}

static uint8_t *inner_of(int i)
{
	return pool[i] + KEEL_ESP_HEADROOM;
}

static void fill_inners(void)
{
	for (int i = 0; i < BATCH; i++) {
		uint8_t *p = inner_of(i);
		memset(p, 0x5a, INNER_LEN);
		p[0] = 0x45; /* IPv4, IHL 5 */
		p[1] = 0;
		p[2] = INNER_LEN >> 8;
		p[3] = INNER_LEN & 0xff;
	}
}

static int encap_batch(struct keel_esp_sa *sa)
{
	ptrdiff_t hdr = keel_esp_header_len(sa);

	for (int i = 0; i < BATCH; i++) {
		uint8_t *esp = inner_of(i) - hdr;
		pool_len[i] =
		    keel_esp_encap(sa, inner_of(i), INNER_LEN, esp, pool[i] + BUF_LEN - esp);
		if (pool_len[i] < 0) {
			fprintf(stderr, "encap failed: %s\n", keel_strerror((int)pool_len[i]));
			return -1;
		}
	}
	return 0;
}

static int decap_batch(struct keel_esp_sa *in_sa, ptrdiff_t hdr)
{
	for (int i = 0; i < BATCH; i++) {
		struct keel_esp_rx rx;
		enum keel_esp_status st;

		st = keel_esp_decap(in_sa, inner_of(i) - hdr, pool_len[i], &rx);
		if (st != KEEL_ESP_OK || rx.inner_len != INNER_LEN) {
			fprintf(stderr, "decap failed: %s\n", keel_esp_status_name(st));
			return -1;
		}
	}
	return 0;
}

static void report(const char *name, const char *dir, unsigned long long packets, double secs)
{
	double pps = (double)packets / secs;
	printf("%-30s %-6s %10.0f packets/s %7.2f Gbit/s\n", name, dir, pps,
	       pps * INNER_LEN * 8 / 1e9);
}

/* secs > 0: for that long; else exactly count packets (rounded up to a batch). */
static int run(const struct suite *s, double secs, unsigned long long count)
{
	uint8_t keymat[64], integ_key[64];
	struct keel_env env = {.random = bench_random};
	struct keel_esp_sa_params p = {
	    .spi = 0x1000,
	    .encr = s->encr,
	    .encr_key_bits = s->key_bits,
	    .encr_keymat = keymat,
	    .encr_keymat_len = s->keymat_len,
	    .integ = s->integ,
	    .integ_key = integ_key,
	    .integ_key_len = s->integ_key_len,
	    .env = &env,
	};
	struct keel_esp_sa *out_sa = NULL, *in_sa = NULL;
	unsigned long long n;
	double t, t0;
	int rc = 1;

	memset(keymat, 0x11, sizeof(keymat));
	memset(integ_key, 0x22, sizeof(integ_key));
	p.dir = KEEL_ESP_OUTBOUND;
	if (keel_esp_sa_new(&p, &out_sa) < 0)
		goto out;
	p.dir = KEEL_ESP_INBOUND;
	if (keel_esp_sa_new(&p, &in_sa) < 0)
		goto out;

	for (n = 0, t = 0; secs > 0 ? t < secs : n < count; n += BATCH) {
		fill_inners();
		t0 = now_s();
		if (encap_batch(out_sa) < 0)
			goto out;
		t += now_s() - t0;
	}
	report(s->name, "encap", n, t);

	for (n = 0, t = 0; secs > 0 ? t < secs : n < count; n += BATCH) {
		fill_inners();
		if (encap_batch(out_sa) < 0)
			goto out;
		t0 = now_s();
		if (decap_batch(in_sa, keel_esp_header_len(out_sa)) < 0)
			goto out;
		t += now_s() - t0;
	}
	report(s->name, "decap", n, t);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "%s: failed\n", s->name);
	keel_esp_sa_free(out_sa);
	keel_esp_sa_free(in_sa);
	return rc;
}

int main(int argc, char **argv)
{
	double secs = 2.0;
	unsigned long long count = 0;
	const char *only = NULL;
	int rc = 0;

	if (argc > 2 && !strcmp(argv[1], "-n")) {
		count = strtoull(argv[2], NULL, 10);
		secs = 0;
		only = argc > 3 ? argv[3] : NULL;
		if (count == 0)
			count = BATCH;
		printf("inner packets of %d bytes, %llu per measurement, one thread\n", INNER_LEN,
		       (count + BATCH - 1) / BATCH * BATCH);
	} else {
		if (argc > 1 && atof(argv[1]) > 0)
			secs = atof(argv[1]);
		printf("inner packets of %d bytes, %.1f s per measurement, one thread\n", INNER_LEN,
		       secs);
	}
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (!only || !strcmp(only, suites[i].name))
			rc |= run(&suites[i], secs, count);
	return rc;
}
