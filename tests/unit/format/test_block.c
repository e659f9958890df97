// SPDX-License-Identifier: MIT
/* test_block.c - stored blocks: round trips, tampering, moves, holes, concurrency. */
#include <pthread.h>
#include <unistd.h>

#include "fs/format_int.h"
#include "helpers.h"

TestSuite(block, .init = fmt_init);

static const size_t sizes[] = {0, 1, 4095, 4096, 4097, (1u << 20) + 1};

static void round_trip(enum pfc_cipher c, uint32_t bs, size_t n, uint64_t first)
{
	struct pfc_filekey *k = make_filekey(c, bs, 1, 2);
	const struct pfc_layout *l = pfc_filekey_layout(k);
	size_t cap = pfc_layout_stored_len(l, n), out_len = 1, dec_len = 1;
	uint8_t *pt = malloc(n + 1), *st = malloc(cap + 1), *dec = malloc(n + 1);
	uint64_t bad = 77;

	fill(pt, n, (uint8_t)n);
	cr_assert_eq(pfc_blocks_encrypt(k, 3, first, pt, n, st, cap, &out_len), 0);
	cr_assert_eq(out_len, cap, "stored length %zu for %zu bytes", out_len, n);
	/* the ciphertext (after generation and nonce; both AEADs' tags are 16
	 * bytes) is not the plaintext: 16 bytes, so equal only with p = 2^-128 */
	if (n >= 16)
		cr_assert_neq(memcmp(st + l->overhead - 16, pt, 16), 0);
	cr_assert_eq(pfc_layout_plain_len(l, out_len), n);
	cr_assert_eq(pfc_blocks_decrypt(k, first, st, out_len, dec, n, &dec_len, &bad), 0);
	cr_assert_eq(dec_len, n);
	cr_assert_eq(memcmp(dec, pt, n), 0, "round trip of %zu bytes", n);
	cr_assert_eq(bad, 77, "bad_index untouched on success");
	free(pt);
	free(st);
	free(dec);
	pfc_filekey_free(k);
}

Test(block, round_trip_at_every_boundary_size_both_ciphers)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			round_trip(test_ciphers[c], 4096, sizes[i], 0);
			round_trip(test_ciphers[c], 4096, sizes[i], 12345);
		}
}

Test(block, round_trip_with_large_block_sizes)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++) {
		round_trip(test_ciphers[c], 65536, 65537, 0);
		round_trip(test_ciphers[c], 1u << 20, (1u << 20) + 1, 7);
	}
}

Test(block, stored_block_starts_with_generation_then_nonce)
{
	struct pfc_filekey *k = make_filekey(PFC_CIPHER_AES256GCM, 4096, 1, 2);
	uint8_t pt[10] = {0}, st[10 + 36], st2[10 + 36];
	size_t n;
	uint64_t g;

	cr_assert_eq(pfc_blocks_encrypt(k, 0x0102030405060708ull, 0, pt, 10, st, sizeof(st), &n),
		     0);
	cr_assert_eq(n, 46);
	cr_assert_eq(pfc_block_generation(st, n, &g), 0);
	cr_assert_eq(g, 0x0102030405060708ull);
	cr_assert_eq(st[0], 0x08, "little-endian generation");
	cr_assert_eq(pfc_blocks_encrypt(k, 0x0102030405060708ull, 0, pt, 10, st2, sizeof(st2), &n),
		     0);
	cr_assert_neq(memcmp(st + 8, st2 + 8, 12), 0, "random nonce per block");
	pfc_filekey_free(k);
}

/* Every single-bit flip of a 2-block stored range (1 full + 1 partial) fails
 * with PFC_ERR_AUTH at the right index, and the output is wiped. */
Test(block, every_single_bit_flip_is_detected)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++) {
		struct pfc_filekey *k = make_filekey(test_ciphers[c], 4096, 5, 6);
		const struct pfc_layout *l = pfc_filekey_layout(k);
		size_t n = 4096 + 50, slen, dlen;
		uint8_t pt[4096 + 50], dec[4096 + 50], st[2 * 4096];
		uint64_t bad;

		fill(pt, n, 9);
		cr_assert_eq(pfc_blocks_encrypt(k, 1, 10, pt, n, st, sizeof(st), &slen), 0);
		for (size_t bit = 0; bit < slen * 8; bit++) {
			st[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			memset(dec, 0xee, sizeof(dec));
			bad = 0;
			int err =
			    pfc_blocks_decrypt(k, 10, st, slen, dec, sizeof(dec), &dlen, &bad);
			cr_assert_eq(err, PFC_ERR_AUTH, "bit %zu: %d", bit, err);
			cr_assert_eq(bad, 10 + (bit / 8 >= l->stored_block_size), "bit %zu", bit);
			cr_assert(sodium_is_zero(dec, n), "output wiped after bit %zu", bit);
			st[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		cr_assert_eq(pfc_blocks_decrypt(k, 10, st, slen, dec, sizeof(dec), &dlen, &bad), 0);
		pfc_filekey_free(k);
	}
}

Test(block, block_moved_to_another_index_is_rejected)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++) {
		struct pfc_filekey *k = make_filekey(test_ciphers[c], 4096, 5, 6);
		const struct pfc_layout *l = pfc_filekey_layout(k);
		uint8_t pt[3 * 4096], st[3 * 4096 + 3 * 48], tmp[4096 + 48], dec[3 * 4096];
		size_t slen, dlen, sbs = l->stored_block_size;
		uint64_t bad;

		fill(pt, sizeof(pt), 1);
		cr_assert_eq(pfc_blocks_encrypt(k, 2, 0, pt, sizeof(pt), st, sizeof(st), &slen), 0);
		/* decrypting at another first index */
		cr_assert_eq(pfc_blocks_decrypt(k, 1, st, slen, dec, sizeof(dec), &dlen, &bad),
			     PFC_ERR_AUTH);
		cr_assert_eq(bad, 1);
		/* swapping blocks 0 and 2 */
		memcpy(tmp, st, sbs);
		memcpy(st, st + 2 * sbs, sbs);
		memcpy(st + 2 * sbs, tmp, sbs);
		cr_assert_eq(pfc_blocks_decrypt(k, 0, st, slen, dec, sizeof(dec), &dlen, &bad),
			     PFC_ERR_AUTH);
		cr_assert_eq(bad, 0);
		pfc_filekey_free(k);
	}
}

Test(block, block_moved_to_another_file_is_rejected)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++) {
		struct pfc_filekey *a = make_filekey(test_ciphers[c], 4096, 5, 6);
		struct pfc_filekey *same_key_other_id = make_filekey(test_ciphers[c], 4096, 5, 7);
		struct pfc_filekey *other_key_same_id = make_filekey(test_ciphers[c], 4096, 8, 6);
		uint8_t pt[100], st[200], dec[100];
		size_t slen, dlen;
		uint64_t bad;

		fill(pt, sizeof(pt), 1);
		cr_assert_eq(pfc_blocks_encrypt(a, 1, 0, pt, sizeof(pt), st, sizeof(st), &slen), 0);
		cr_assert_eq(pfc_blocks_decrypt(same_key_other_id, 0, st, slen, dec, sizeof(dec),
						&dlen, &bad),
			     PFC_ERR_AUTH);
		cr_assert_eq(pfc_blocks_decrypt(other_key_same_id, 0, st, slen, dec, sizeof(dec),
						&dlen, &bad),
			     PFC_ERR_AUTH, "wrong key: clear error, never plaintext");
		cr_assert(sodium_is_zero(dec, sizeof(dec)));
		pfc_filekey_free(a);
		pfc_filekey_free(same_key_other_id);
		pfc_filekey_free(other_key_same_id);
	}
}

Test(block, block_relabelled_to_another_generation_is_rejected)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++) {
		struct pfc_filekey *k = make_filekey(test_ciphers[c], 4096, 5, 6);
		uint8_t pt[4096], st[4096 + 48], dec[4096];
		size_t slen, dlen;
		uint64_t bad;

		fill(pt, sizeof(pt), 3);
		cr_assert_eq(pfc_blocks_encrypt(k, 5, 0, pt, sizeof(pt), st, sizeof(st), &slen), 0);
		for (uint64_t g = 1; g < 12; g++) {
			if (g == 5)
				continue;
			pfc_store_u64(st, g);
			cr_assert_eq(
			    pfc_blocks_decrypt(k, 0, st, slen, dec, sizeof(dec), &dlen, &bad),
			    PFC_ERR_AUTH, "generation %llu", (unsigned long long)g);
		}
		pfc_store_u64(st, 5);
		cr_assert_eq(pfc_blocks_decrypt(k, 0, st, slen, dec, sizeof(dec), &dlen, &bad), 0);
		pfc_filekey_free(k);
	}
}

Test(block, truncated_block_is_rejected)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++) {
		struct pfc_filekey *k = make_filekey(test_ciphers[c], 4096, 5, 6);
		const struct pfc_layout *l = pfc_filekey_layout(k);
		uint8_t pt[4096 + 10], st[2 * 4096], dec[4096 + 10];
		size_t slen, dlen;
		uint64_t bad;

		fill(pt, sizeof(pt), 3);
		cr_assert_eq(pfc_blocks_encrypt(k, 1, 0, pt, sizeof(pt), st, sizeof(st), &slen), 0);
		/* Cutting anything off the last block: torn tail or short ciphertext. */
		for (size_t cut = 1; cut < slen - l->stored_block_size; cut++) {
			size_t left = slen - cut - l->stored_block_size;
			int want = left <= l->overhead ? PFC_ERR_TRUNCATED : PFC_ERR_AUTH;

			bad = 0;
			cr_assert_eq(
			    pfc_blocks_decrypt(k, 0, st, slen - cut, dec, sizeof(dec), &dlen, &bad),
			    want, "cut %zu", cut);
			cr_assert_eq(bad, 1);
		}
		/* A full block cut short is a different (shorter) ciphertext. */
		cr_assert_eq(pfc_blocks_decrypt(k, 0, st, l->stored_block_size - 1, dec,
						sizeof(dec), &dlen, &bad),
			     PFC_ERR_AUTH);
		cr_assert_eq(bad, 0);
		pfc_filekey_free(k);
	}
}

Test(block, all_zero_block_reads_as_hole_unless_no_holes)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++) {
		struct pfc_filekey *k = make_filekey(test_ciphers[c], 4096, 5, 6);
		const struct pfc_layout *l = pfc_filekey_layout(k);
		size_t sbs = l->stored_block_size, slen, dlen;
		uint8_t pt[3 * 4096], st[3 * (4096 + 48)], dec[3 * 4096];
		uint64_t bad;

		fill(pt, sizeof(pt), 3);
		cr_assert_eq(pfc_blocks_encrypt(k, 1, 0, pt, sizeof(pt), st, sizeof(st), &slen), 0);
		memset(st + sbs, 0, sbs); /* block 1 becomes a hole */
		cr_assert_eq(pfc_blocks_decrypt(k, 0, st, slen, dec, sizeof(dec), &dlen, &bad), 0);
		cr_assert_eq(memcmp(dec, pt, 4096), 0);
		cr_assert(sodium_is_zero(dec + 4096, 4096));
		cr_assert_eq(memcmp(dec + 8192, pt + 8192, 4096), 0);
		/* a zero generation with non-zero bytes is not a hole */
		st[sbs + 100] = 1;
		cr_assert_eq(pfc_blocks_decrypt(k, 0, st, slen, dec, sizeof(dec), &dlen, &bad),
			     PFC_ERR_AUTH);
		cr_assert_eq(bad, 1);
		st[sbs + 100] = 0;

		/* NO_HOLES volume: the same zero block is an authentication failure. */
		struct pfc_layout strict = *l;

		pfc_filekey_free(k);
		struct pfc_filekey *k2 = NULL;
		uint8_t fk[32], id[16];

		strict.zero_block_is_hole = false;
		fill(fk, 32, 5);
		fill(id, 16, 6);
		cr_assert_eq(pfc_filekey_new(fk, id, &strict, &k2), 0);
		cr_assert_eq(pfc_blocks_decrypt(k2, 0, st, slen, dec, sizeof(dec), &dlen, &bad),
			     PFC_ERR_AUTH);
		cr_assert_eq(bad, 1);
		pfc_filekey_free(k2);
	}
}

Test(block, a_range_mixes_generations)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++) {
		struct pfc_filekey *k = make_filekey(test_ciphers[c], 4096, 5, 6);
		const struct pfc_layout *l = pfc_filekey_layout(k);
		size_t sbs = l->stored_block_size, n, dlen;
		enum { NB = 10 };
		uint8_t pt[NB * 4096], st[NB * (4096 + 48)], dec[NB * 4096];
		uint64_t bad, g;

		fill(pt, sizeof(pt), 4);
		/* block i written in generation i+1 (more generations than cache slots) */
		for (size_t i = 0; i < NB; i++)
			cr_assert_eq(pfc_blocks_encrypt(k, i + 1, i, pt + i * 4096, 4096,
							st + i * sbs, sbs, &n),
				     0);
		cr_assert_eq(pfc_blocks_decrypt(k, 0, st, NB * sbs, dec, sizeof(dec), &dlen, &bad),
			     0);
		cr_assert_eq(memcmp(dec, pt, sizeof(pt)), 0);
		cr_assert_eq(pfc_block_generation(st + 7 * sbs, sbs, &g), 0);
		cr_assert_eq(g, 8);
		pfc_filekey_free(k);
	}
}

Test(block, invalid_arguments)
{
	struct pfc_filekey *k = make_filekey(PFC_CIPHER_AES256GCM, 4096, 5, 6);
	uint8_t pt[5000], st[6000], dec[10];
	size_t n;
	uint64_t bad;

	cr_assert_eq(pfc_blocks_encrypt(k, 0, 0, pt, 10, st, sizeof(st), &n), PFC_ERR_INVAL);
	cr_assert_eq(pfc_blocks_encrypt(k, UINT64_MAX, 0, pt, 10, st, sizeof(st), &n),
		     PFC_ERR_INVAL);
	cr_assert_eq(pfc_blocks_encrypt(k, 1, 0, pt, 5000, st, 5000, &n), PFC_ERR_TOO_LARGE);
	cr_assert_eq(pfc_blocks_encrypt(k, 1, 0, pt, 100, st, sizeof(st), &n), 0);
	cr_assert_eq(pfc_blocks_decrypt(k, 0, st, n, dec, sizeof(dec), &n, &bad),
		     PFC_ERR_TOO_LARGE);
	cr_assert_eq(pfc_block_generation(st, 7, &bad), PFC_ERR_TRUNCATED);
	pfc_filekey_free(k);
}

Test(block, random_input_never_decrypts)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++) {
		struct pfc_filekey *k = make_filekey(test_ciphers[c], 4096, 5, 6);
		uint8_t st[3 * 4200], dec[3 * 4200];
		size_t dlen;
		uint64_t bad;

		for (int i = 0; i < 300; i++) {
			size_t len = randombytes_uniform(sizeof(st) + 1);

			randombytes_buf(st, len);
			if (len >= 8 && i % 3 == 0)
				pfc_store_u64(st, 1 + (uint64_t)(i % 5)); /* plausible generation */
			int err = pfc_blocks_decrypt(k, 0, st, len, dec, sizeof(dec), &dlen, &bad);
			if (len == 0)
				cr_assert_eq(err, 0);
			else
				cr_assert(err == PFC_ERR_AUTH || err == PFC_ERR_TRUNCATED,
					  "len %zu: %d", len, err);
		}
		pfc_filekey_free(k);
	}
}

/* Several threads on one filekey, each with its own generations (more than
 * the cache holds): every result must round-trip. */
struct worker {
	struct pfc_filekey *k;
	int id;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	uint8_t pt[4 * 4096], st[4 * 4200], dec[4 * 4096];
	size_t n, d;
	uint64_t bad;

	for (int i = 0; i < 200; i++) {
		uint64_t gen = 1 + (uint64_t)((w->id * 7 + i) % 13);

		fill(pt, sizeof(pt), (uint8_t)(w->id + i));
		if (pfc_blocks_encrypt(w->k, gen, (uint64_t)i, pt, sizeof(pt), st, sizeof(st),
				       &n) ||
		    pfc_blocks_decrypt(w->k, (uint64_t)i, st, n, dec, sizeof(dec), &d, &bad) ||
		    d != sizeof(pt) || memcmp(dec, pt, d) != 0)
			w->failures++;
	}
	return NULL;
}

Test(block, concurrent_use_of_one_filekey)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++) {
		struct pfc_filekey *k = make_filekey(test_ciphers[c], 4096, 5, 6);
		pthread_t t[6];
		struct worker w[6];

		for (int i = 0; i < 6; i++) {
			w[i] = (struct worker){.k = k, .id = i};
			cr_assert_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
		}
		for (int i = 0; i < 6; i++) {
			pthread_join(t[i], NULL);
			cr_assert_eq(w[i].failures, 0, "thread %d", i);
		}
		pfc_filekey_free(k);
	}
}

/* Nonces come from a per-thread buffer (rand.c): never repeated, not across
 * threads, and not shared between a fork's parent and child. */
static int cmp12(const void *a, const void *b)
{
	return memcmp(a, b, 12);
}

static void *draw_nonces(void *arg)
{
	uint8_t *out = arg;

	for (int i = 0; i < 1000; i++)
		pfc_nonce_bytes(out + 12 * i, 12);
	return NULL;
}

Test(block, nonces_never_repeat_across_draws_threads_and_fork)
{
	static uint8_t all[3000 * 12];
	uint8_t zero[12] = {0}, mine[12], childs[12];
	pthread_t t1, t2;
	int fds[2];
	pid_t pid;

	draw_nonces(all);
	cr_assert_eq(pthread_create(&t1, NULL, draw_nonces, all + 12000), 0);
	cr_assert_eq(pthread_create(&t2, NULL, draw_nonces, all + 24000), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	qsort(all, 3000, 12, cmp12);
	for (int i = 0; i < 3000; i++) {
		cr_assert_neq(memcmp(all + 12 * i, zero, 12), 0);
		if (i > 0)
			cr_assert_neq(memcmp(all + 12 * i, all + 12 * (i - 1), 12), 0, "repeat");
	}
	/* this thread's buffer is filled; a child must not continue it */
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		pfc_nonce_bytes(childs, 12);
		_exit(write(fds[1], childs, 12) == 12 ? 0 : 1);
	}
	pfc_nonce_bytes(mine, 12);
	cr_assert_eq(read(fds[0], childs, 12), 12);
	cr_assert_neq(memcmp(mine, childs, 12), 0, "child drew its parent's next nonce");
	close(fds[0]);
	close(fds[1]);
}
