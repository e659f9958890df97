// SPDX-License-Identifier: MIT
/*
 * bench_format.c - block encrypt/decrypt throughput of the format library on
 * one core, beside libsodium's raw AEAD on the same buffers, so that the
 * format's overhead (generation key lookup, AD building, nonce generation,
 * per-block framing) is a visible ratio.
 *
 * 16 MiB of plaintext in 4 KiB blocks.  The format is driven the way the
 * daemon drives it: one call per 1 MiB request (FUSE max_write).  Raw
 * libsodium: one AEAD call per 4 KiB block, AES-256-GCM with a precomputed
 * (beforenm) state, XChaCha20-Poly1305-IETF with its key; fixed nonce, no AD
 * beyond what the format uses (49 bytes, also given to the raw calls).
 * Best of 9 passes, thread CPU time.  Not run by CI (suite 'benchmark').
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/format.h"

#define TOTAL	 (16u << 20)
#define BLOCK	 4096u
#define REQUEST	 (1u << 20)
#define PASSES	 9
#define AD_BYTES 49

static double now(void)
{
	struct timespec ts;

	/* CPU time of this thread: other processes sharing the machine (a
	 * parallel build) do not distort the figures, only preemption noise. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mbps(double secs)
{
	return (double)TOTAL / secs / 1e6;
}

struct result {
	double enc, dec;
};

static int bench_format(enum pfc_cipher c, const uint8_t *pt, uint8_t *st, uint8_t *dec,
			struct result *r)
{
	struct pfc_layout l;
	struct pfc_filekey *k;
	uint8_t fk[32], id[16];
	size_t stored_req, n;
	uint64_t bad;
	int err;

	randombytes_buf(fk, sizeof(fk));
	randombytes_buf(id, sizeof(id));
	if ((err = pfc_layout_init(&l, c, BLOCK)) || (err = pfc_filekey_new(fk, id, &l, &k)))
		return err;
	stored_req = (size_t)pfc_layout_stored_len(&l, REQUEST);
	r->enc = r->dec = 1e9;
	for (int p = 0; p < PASSES; p++) {
		double t0 = now();

		for (size_t off = 0, i = 0; off < TOTAL; off += REQUEST, i++)
			if ((err = pfc_blocks_encrypt(k, 1, off / BLOCK, pt + off, REQUEST,
						      st + i * stored_req, stored_req, &n)))
				goto out;
		double t1 = now();

		for (size_t off = 0, i = 0; off < TOTAL; off += REQUEST, i++)
			if ((err = pfc_blocks_decrypt(k, off / BLOCK, st + i * stored_req,
						      stored_req, dec + off, REQUEST, &n, &bad)))
				goto out;
		double t2 = now();

		if (t1 - t0 < r->enc)
			r->enc = t1 - t0;
		if (t2 - t1 < r->dec)
			r->dec = t2 - t1;
	}
	err = memcmp(pt, dec, TOTAL) ? PFC_ERR_AUTH : 0;
out:
	pfc_filekey_free(k);
	return err;
}

static int bench_raw(enum pfc_cipher c, const uint8_t *pt, uint8_t *ct, uint8_t *dec,
		     struct result *r)
{
	static crypto_aead_aes256gcm_state aes;
	uint8_t key[32], nonce[24] = {0}, ad[AD_BYTES] = {0};
	const size_t sb = BLOCK + 16;

	randombytes_buf(key, sizeof(key));
	crypto_aead_aes256gcm_beforenm(&aes, key);
	r->enc = r->dec = 1e9;
	for (int p = 0; p < PASSES; p++) {
		double t0 = now();

		for (size_t b = 0; b < TOTAL / BLOCK; b++) {
			if (c == PFC_CIPHER_AES256GCM)
				crypto_aead_aes256gcm_encrypt_afternm(
				    ct + b * sb, NULL, pt + b * BLOCK, BLOCK, ad, sizeof(ad), NULL,
				    nonce, &aes);
			else
				crypto_aead_xchacha20poly1305_ietf_encrypt(
				    ct + b * sb, NULL, pt + b * BLOCK, BLOCK, ad, sizeof(ad), NULL,
				    nonce, key);
		}
		double t1 = now();

		for (size_t b = 0; b < TOTAL / BLOCK; b++) {
			int rc;

			if (c == PFC_CIPHER_AES256GCM)
				rc = crypto_aead_aes256gcm_decrypt_afternm(
				    dec + b * BLOCK, NULL, NULL, ct + b * sb, sb, ad, sizeof(ad),
				    nonce, &aes);
			else
				rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
				    dec + b * BLOCK, NULL, NULL, ct + b * sb, sb, ad, sizeof(ad),
				    nonce, key);
			if (rc)
				return PFC_ERR_AUTH;
		}
		double t2 = now();

		if (t1 - t0 < r->enc)
			r->enc = t1 - t0;
		if (t2 - t1 < r->dec)
			r->dec = t2 - t1;
	}
	return memcmp(pt, dec, TOTAL) ? PFC_ERR_AUTH : 0;
}

int main(void)
{
	const enum pfc_cipher ciphers[] = {PFC_CIPHER_AES256GCM, PFC_CIPHER_XCHACHA20POLY1305};
	size_t cap = TOTAL / BLOCK * (BLOCK + 48);
	uint8_t *pt = malloc(TOTAL), *st = malloc(cap), *dec = malloc(TOTAL);
	int status = 0;

	if (!pt || !st || !dec || pfc_format_init() != 0)
		return 1;
	randombytes_buf(pt, TOTAL);
	printf("pfcrypt format block throughput: 16 MiB, 4 KiB blocks, 1 MiB requests, one core, "
	       "best of %d\n",
	       PASSES);
	printf("%-18s %10s %10s %10s %10s %8s %8s\n", "cipher", "fmt enc", "raw enc", "fmt dec",
	       "raw dec", "enc %", "dec %");
	for (size_t i = 0; i < 2; i++) {
		struct result f, r;
		int err;

		if (pfc_cipher_check(ciphers[i]) != 0) {
			printf("%-18s unavailable on this CPU\n", pfc_cipher_name(ciphers[i]));
			continue;
		}
		if ((err = bench_format(ciphers[i], pt, st, dec, &f)) ||
		    (err = bench_raw(ciphers[i], pt, st, dec, &r))) {
			fprintf(stderr, "bench_format: %s: %s\n", pfc_cipher_name(ciphers[i]),
				pfc_strerror(err));
			status = 1;
			continue;
		}
		printf("%-18s %7.0f MB/s %6.0f MB/s %6.0f MB/s %6.0f MB/s %7.1f%% %7.1f%%\n",
		       pfc_cipher_name(ciphers[i]), mbps(f.enc), mbps(r.enc), mbps(f.dec),
		       mbps(r.dec), 100.0 * mbps(f.enc) / mbps(r.enc),
		       100.0 * mbps(f.dec) / mbps(r.dec));
	}
	printf("(enc %% / dec %%: format throughput as a percentage of raw libsodium)\n");
	free(pt);
	free(st);
	free(dec);
	return status;
}
