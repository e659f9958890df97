/* SPDX-License-Identifier: MIT */
/*
 * testwrap.h - a stand-in for the keystore in format tests and vectors ONLY.
 *
 * Wraps a 32-byte key into the shared-contract blob layout v1 (see
 * keystore/PROTOCOL.md and fs/FORMAT.md section 6) under one fixed, public
 * test master key: name TESTWRAP_NAME, version TESTWRAP_VERSION, key bytes
 * TESTWRAP_MASTER_KEY[i] = 0xa0 + i.  Never use it for real data.
 */
#ifndef PFC_TESTWRAP_H
#define PFC_TESTWRAP_H

#include <stddef.h>
#include <stdint.h>

#define TESTWRAP_NAME	 "test-master"
#define TESTWRAP_VERSION 1u

extern const uint8_t TESTWRAP_MASTER_KEY[32];

/* nonce: 24 bytes, or NULL for random.  blob: >= 128 bytes.  0 or PFC_ERR_*. */
int testwrap_wrap(const uint8_t *ad, size_t ad_len, const uint8_t key[32], const uint8_t *nonce,
		  uint8_t *blob, size_t *blob_len);
/* PFC_ERR_AUTH (altered blob, name, version or ad), PFC_ERR_CORRUPT /
 * PFC_ERR_UNKNOWN_VERSION (shape), PFC_ERR_KEY_UNKNOWN (another master key). */
int testwrap_unwrap(const uint8_t *blob, size_t len, const uint8_t *ad, size_t ad_len,
		    uint8_t key[32]);

#endif
