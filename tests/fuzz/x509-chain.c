/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: a gateway's CERT payloads (RFC 7296 §3.6) through the
 * certificate list, chain verification against the lab's test CA, identity
 * matching and CERTREQ matching. The input is a sequence of certificates,
 * each a 2-byte big-endian length and that many DER bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sig.h"
#include "crypto/x509.h"
#include "fuzz-common.h"

#ifndef KEEL_FUZZ_PKI
#define KEEL_FUZZ_PKI "tests/vectors/strongswan/pki"
#endif

static struct keel_x509_trust *trust;

static void load_trust(void)
{
	static uint8_t buf[65536];
	FILE *f = fopen(KEEL_FUZZ_PKI "/ca.pem", "rb");
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	trust = keel_x509_trust_new();
	if (!trust || n == 0 || keel_x509_trust_add(trust, buf, (ptrdiff_t)n) <= 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!trust)
		load_trust();
	struct keel_certs *certs = keel_certs_new();
	if (!certs)
		return 0;
	size_t n = 0;
	while (size >= 2 && n < 8) {
		size_t len = (size_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		if (keel_certs_add_payload(certs, 4, data, (ptrdiff_t)len) == 0)
			n++;
		data += len;
		size -= len;
	}
	if (n > 0) {
		char text[256];
		fuzz_sink((uint64_t)keel_certs_describe(certs, 0, text, sizeof(text)));
		static const char gw[] = "gw.keel.test";
		struct keel_x509_id id = {.type = 2, .data = (const uint8_t *)gw,
					  .len = (ptrdiff_t)strlen(gw)};
		struct keel_x509_verdict verdict;
		struct keel_pubkey *key = NULL;
		/* 2026-11-01: inside the lab certificates' validity */
		if (keel_x509_verify(trust, certs, &id, 1793491200, &verdict, &key) == 0)
			keel_pubkey_free(key);
		fuzz_sink((uint64_t)verdict.result);
		fuzz_sink((uint64_t)keel_x509_match_id(certs, 0, &id));
		uint8_t req[64];
		ptrdiff_t req_len = keel_x509_trust_certreq(trust, req, sizeof(req));
		size_t send_count = 0;
		if (req_len > 0)
			fuzz_sink((uint64_t)keel_certs_certreq_match(certs, req, req_len, &send_count));
	}
	keel_certs_free(certs);
	return 0;
}
