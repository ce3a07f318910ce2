/* SPDX-License-Identifier: GPL-2.0-or-later */
/* NAT detection hashes (RFC 7296 §2.23). */
#ifndef KEEL_IKEV2_NAT_H
#define KEEL_IKEV2_NAT_H

#include <stdint.h>

#include <keel/config.h>

#define KEEL_NAT_HASH_LEN 20

/*
 * SHA-1(SPIi | SPIr | IP address | port) of RFC 7296 §2.23, written to out.
 * In the IKE_SA_INIT request SPIr is zero. Errors: KEEL_ERR_INVAL (address
 * family), KEEL_ERR_CRYPTO.
 */
int keel_nat_hash(const uint8_t spi_i[8], const uint8_t spi_r[8], const struct keel_addr *addr,
                  uint8_t out[KEEL_NAT_HASH_LEN]);

#endif
