// SPDX-License-Identifier: MIT
/*
 * rand.c - the single source of random bytes of the format library, with the
 * vector generator's deterministic hook (format_test.h).
 */
#include <pthread.h>
#include <sodium.h>
#include <string.h>

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

/* Per-thread nonce material: public once used, so plain memory will do;
 * what is handed out is wiped from the buffer. */
#define NONCE_POOL 4096
static _Thread_local uint8_t nonce_pool[NONCE_POOL];
static _Thread_local size_t nonce_left;
static pthread_once_t nonce_once = PTHREAD_ONCE_INIT;

/* A fork's child must not hand out the nonces its parent will also use. */
static void nonce_pool_forget(void)
{
	sodium_memzero(nonce_pool, sizeof(nonce_pool));
	nonce_left = 0;
}

static void nonce_register_atfork(void)
{
	pthread_atfork(NULL, NULL, nonce_pool_forget);
}

void pfc_nonce_bytes(void *buf, size_t len)
{
	uint8_t *at;

	if (test_rng || len > NONCE_POOL / 4) {
		pfc_randombytes(buf, len);
		return;
	}
	pthread_once(&nonce_once, nonce_register_atfork);
	if (nonce_left < len) {
		uint8_t seed[randombytes_SEEDBYTES];

		randombytes_buf(seed, sizeof(seed));
		randombytes_buf_deterministic(nonce_pool, sizeof(nonce_pool), seed);
		sodium_memzero(seed, sizeof(seed));
		nonce_left = sizeof(nonce_pool);
	}
	at = nonce_pool + sizeof(nonce_pool) - nonce_left;
	memcpy(buf, at, len);
	sodium_memzero(at, len);
	nonce_left -= len;
}

int pfc_format_init(void)
{
	return sodium_init() < 0 ? PFC_ERR_NOMEM : 0;
}
