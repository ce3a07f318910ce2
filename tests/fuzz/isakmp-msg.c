/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: a whole ISAKMP datagram (RFC 2408 §3) through the header and
 * chain decoders, every typed payload decoder, verify() and the name tables.
 */
#include <string.h>

#include "fuzz-common.h"
#include "wire/isakmp.h"

static void walk_payload(const struct keel_v1_payload *pl)
{
	static struct keel_v1_sa sa;
	struct keel_v1_id id;
	struct keel_v1_cert cert;
	struct keel_v1_notify n;
	struct keel_v1_delete d;
	struct keel_v1_nat_oa oa;
	struct keel_v1_cfg cfg;
	struct keel_v1_frag frag;
	static struct keel_v1_attrs attrs;
	struct keel_v1_unity_net nets[16];

	fuzz_sink((uint64_t)keel_v1_payload_verify(pl));
	switch (pl->type) {
	case KEEL_V1_PL_SA:
		if (keel_v1_sa_decode(pl, &sa) == 0)
			fuzz_sink((uint64_t)keel_v1_sa_verify(&sa));
		break;
	case KEEL_V1_PL_ID:
		if (keel_v1_id_decode(pl, &id) == 0)
			fuzz_sink((uint64_t)keel_v1_id_verify(&id));
		break;
	case KEEL_V1_PL_CERT:
	case KEEL_V1_PL_CR:
		if (keel_v1_cert_decode(pl, &cert) == 0)
			fuzz_sink(cert.len);
		break;
	case KEEL_V1_PL_NOTIFY:
		if (keel_v1_notify_decode(pl, &n) == 0) {
			fuzz_sink((uint64_t)keel_v1_notify_verify(&n));
			const char *name = keel_v1_notify_name(n.type);
			fuzz_sink(name ? strlen(name) : 0);
		}
		break;
	case KEEL_V1_PL_DELETE:
		if (keel_v1_delete_decode(pl, &d) == 0) {
			fuzz_sink((uint64_t)keel_v1_delete_verify(&d));
			for (size_t i = 0; i < d.n_spis; i++)
				fuzz_sink((uint64_t)(uintptr_t)keel_v1_delete_spi(&d, i));
		}
		break;
	case KEEL_V1_PL_NAT_OA:
	case KEEL_V1_PL_NAT_OA_DRAFT:
		if (keel_v1_nat_oa_decode(pl, &oa) == 0)
			fuzz_sink((uint64_t)keel_v1_nat_oa_verify(&oa));
		break;
	case KEEL_V1_PL_ATTR:
		if (keel_v1_cfg_decode(pl, &cfg) == 0) {
			fuzz_sink((uint64_t)keel_v1_cfg_verify(&cfg));
			if (keel_v1_attrs_decode(cfg.attrs, cfg.attrs_len, &attrs) == 0) {
				for (size_t i = 0; i < attrs.n; i++) {
					uint64_t v;
					if (keel_v1_attr_u64(&attrs.a[i], &v) == 0)
						fuzz_sink(v);
					ptrdiff_t k = keel_v1_unity_split_decode(&attrs.a[i], nets, 16);
					fuzz_sink((uint64_t)k);
				}
			}
		}
		break;
	case KEEL_V1_PL_FRAG:
		if (keel_v1_frag_decode(pl, &frag) == 0)
			fuzz_sink((uint64_t)keel_v1_frag_verify(&frag));
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct keel_v1_msg msg;
	if (keel_v1_msg_decode(data, size, &msg) != 0)
		return 0;
	fuzz_sink((uint64_t)keel_v1_msg_verify(&msg));
	for (size_t i = 0; i < msg.n_payloads; i++)
		walk_payload(&msg.pl[i]);
	return 0;
}
