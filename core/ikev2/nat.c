/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <openssl/evp.h>

#include "ikev2/nat.h"

int keel_nat_hash(const uint8_t spi_i[8], const uint8_t spi_r[8], const struct keel_addr *addr,
                  uint8_t out[KEEL_NAT_HASH_LEN])
{
	uint8_t buf[8 + 8 + 16 + 2];
	ptrdiff_t alen = keel_af_addr_len(addr->family);
	if (alen == 0)
		return KEEL_ERR_INVAL;
	size_t n = 0;
	for (int i = 0; i < 8; i++)
		buf[n++] = spi_i[i];
	for (int i = 0; i < 8; i++)
		buf[n++] = spi_r[i];
	for (ptrdiff_t i = 0; i < alen; i++)
		buf[n++] = addr->bytes[i];
	buf[n++] = (uint8_t)(addr->port >> 8);
	buf[n++] = (uint8_t)addr->port;
	unsigned int md_len = 0;
	if (!EVP_Digest(buf, n, out, &md_len, EVP_sha1(), NULL) || md_len != KEEL_NAT_HASH_LEN)
		return KEEL_ERR_CRYPTO;
	return 0;
}
