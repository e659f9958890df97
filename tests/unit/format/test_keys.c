// SPDX-License-Identifier: MIT
/* test_keys.c - key derivation: subkeys, generation keys and the cache. */
#include "fs/format_int.h"
#include "helpers.h"

TestSuite(keys, .init = fmt_init);

/* GK_g from FORMAT.md section 7: BLAKE2b-256(key = FK, salt = LE64(g) || 0^8,
 * personal = "pfcgenky" || 0^8, empty message) = crypto_kdf_derive_from_key. */
Test(keys, generation_key_is_the_documented_blake2b)
{
	uint8_t fk[32], gk[32], ref[32], salt[16] = {0}, pers[16] = {0};

	fill(fk, 32, 1);
	cr_assert_eq(crypto_kdf_derive_from_key(gk, 32, 7, "pfcgenky", fk), 0);
	salt[0] = 7;
	memcpy(pers, "pfcgenky", 8);
	cr_assert_eq(crypto_generichash_blake2b_salt_personal(ref, 32, NULL, 0, fk, 32, salt, pers),
		     0);
	cr_assert_eq(memcmp(gk, ref, 32), 0);
}

/* Blocks of generation g encrypted by one filekey decrypt with another made
 * from the same FK: the cache changes nothing but speed, even when many
 * generations cycle through the few cache slots. */
Test(keys, cache_eviction_keeps_results_identical)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++) {
		struct pfc_filekey *a = make_filekey(test_ciphers[c], 4096, 1, 2);
		struct pfc_filekey *b = make_filekey(test_ciphers[c], 4096, 1, 2);
		uint8_t pt[64], st[64 + 48], dec[64];
		size_t n, d;
		uint64_t bad;

		fill(pt, sizeof(pt), 5);
		for (uint64_t g = 1; g <= 3 * PFC_FILEKEY_GEN_CACHE + 1; g++) {
			cr_assert_eq(
			    pfc_blocks_encrypt(a, g, g, pt, sizeof(pt), st, sizeof(st), &n), 0);
			cr_assert_eq(pfc_blocks_decrypt(b, g, st, n, dec, sizeof(dec), &d, &bad),
				     0);
			cr_assert_eq(pfc_blocks_decrypt(a, g, st, n, dec, sizeof(dec), &d, &bad),
				     0);
			cr_assert_eq(memcmp(dec, pt, sizeof(pt)), 0);
		}
		pfc_filekey_free(a);
		pfc_filekey_free(b);
	}
}

Test(keys, accessors_and_unavailable_cipher)
{
	struct pfc_filekey *k = make_filekey(PFC_CIPHER_XCHACHA20POLY1305, 8192, 1, 2);
	struct pfc_volkeys *vk = make_volkeys(1, 9);
	uint8_t id[16], vid[16];
	struct pfc_layout bad;

	fill(id, 16, 2);
	fill(vid, 16, 9);
	cr_assert_eq(memcmp(pfc_filekey_file_id(k), id, 16), 0);
	cr_assert_eq(pfc_filekey_layout(k)->block_size, 8192);
	cr_assert_eq(memcmp(pfc_volkeys_volume_id(vk), vid, 16), 0);
	pfc_filekey_free(k);
	pfc_volkeys_free(vk);
	pfc_filekey_free(NULL);
	pfc_volkeys_free(NULL);
	cr_assert_eq(pfc_layout_init(&bad, PFC_CIPHER_AES256GCM, 4096), 0);
	bad.cipher = 5;
	uint8_t fk[32] = {1};

	cr_assert_eq(pfc_filekey_new(fk, id, &bad, &k), PFC_ERR_INVAL);
}

/* With every cache slot pinned by other callers, a further generation gets a
 * private key; the cache keeps working afterwards (FORMAT.md section 7 keys,
 * keys.c locking). */
Test(keys, all_slots_pinned_falls_back_to_a_private_key)
{
	struct pfc_filekey *k = make_filekey(PFC_CIPHER_AES256GCM, 4096, 1, 2);
	struct pfc_gk_ref refs[PFC_FILEKEY_GEN_CACHE + 1];
	uint8_t pt[64], st[64 + 48], dec[64];
	size_t n, d;
	uint64_t bad;

	for (size_t i = 0; i <= PFC_FILEKEY_GEN_CACHE; i++) {
		cr_assert_eq(pfc_gk_acquire(k, 100 + i, &refs[i]), 0);
		cr_assert_eq(refs[i].slot->generation, 100 + i);
		cr_assert_eq(refs[i].temp, i == PFC_FILEKEY_GEN_CACHE, "slot %zu", i);
	}
	/* a pinned generation is shared, not derived again */
	struct pfc_gk_ref again;
	cr_assert_eq(pfc_gk_acquire(k, 100, &again), 0);
	cr_assert_eq(again.slot, refs[0].slot);
	pfc_gk_release(k, &again);
	fill(pt, sizeof(pt), 1);
	cr_assert_eq(pfc_blocks_encrypt(k, 999, 0, pt, sizeof(pt), st, sizeof(st), &n), 0,
		     "encrypt works while every slot is pinned");
	for (size_t i = 0; i <= PFC_FILEKEY_GEN_CACHE; i++)
		pfc_gk_release(k, &refs[i]);
	cr_assert_eq(pfc_blocks_decrypt(k, 0, st, n, dec, sizeof(dec), &d, &bad), 0);
	cr_assert_eq(memcmp(dec, pt, sizeof(pt)), 0);
	pfc_filekey_free(k);
}
