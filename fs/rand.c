// SPDX-License-Identifier: MIT
/*
 * rand.c - the single source of random bytes of the format library, with the
 * vector generator's deterministic hook (format_test.h).
 */
#include <sodium.h>

#include "fs/err.h"
#include "fs/format_int.h"
#include "fs/format_test.h"

/* Written only by pfc_format_set_test_rng before threads start. */
static pfc_test_rng_fn test_rng;
static void *test_rng_ctx;

void pfc_format_set_test_rng(pfc_test_rng_fn fn, void *ctx)
{
	test_rng = fn;
	test_rng_ctx = ctx;
}

void pfc_randombytes(void *buf, size_t len)
{
	if (test_rng) {
		test_rng(test_rng_ctx, buf, len);
		return;
	}
	if (len <= 256) {
		randombytes_buf(buf, len);
		return;
	}
	/* Many nonces at once (a whole write request): one 32-byte seed from the
	 * system RNG expanded with ChaCha20, instead of one getrandom() per 256
	 * bytes.  The seed is wiped at once. */
	uint8_t seed[randombytes_SEEDBYTES];

	randombytes_buf(seed, sizeof(seed));
	randombytes_buf_deterministic(buf, len, seed);
	sodium_memzero(seed, sizeof(seed));
}

int pfc_format_init(void)
{
	return sodium_init() < 0 ? PFC_ERR_NOMEM : 0;
}
