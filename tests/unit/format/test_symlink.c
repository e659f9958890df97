// SPDX-License-Identifier: MIT
/* test_symlink.c - symlink targets. */
#include <limits.h>

#include "helpers.h"

static struct pfc_volkeys *vk;

static void setup(void)
{
	fmt_init();
	vk = make_volkeys(3, 4);
}

static void teardown(void)
{
	pfc_volkeys_free(vk);
}

TestSuite(symlink, .init = setup, .fini = teardown);

Test(symlink, round_trip_at_boundaries)
{
	static char target[PFC_SYMLINK_TARGET_MAX + 1];
	static char enc[PFC_SYMLINK_ENC_BUF], dec[PFC_SYMLINK_TARGET_MAX + 1];
	const size_t lens[] = {1,
			       15,
			       16,
			       17,
			       255,
			       4000 > PFC_SYMLINK_TARGET_MAX ? 3000 : 4000,
			       PFC_SYMLINK_TARGET_MAX};
	size_t elen, dlen;

	for (size_t i = 0; i < sizeof(target); i++)
		target[i] = (char)(1 + i % 250);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		cr_assert_eq(pfc_symlink_encrypt(vk, target, lens[i], enc, sizeof(enc), &elen), 0);
		cr_assert_lt(elen, PATH_MAX);
		cr_assert_eq(elen, pfc_b64url_len(24 + (lens[i] + 15) / 16 * 16 + 16));
		cr_assert_eq(pfc_symlink_decrypt(vk, enc, elen, dec, sizeof(dec), &dlen), 0);
		cr_assert_eq(dlen, lens[i]);
		cr_assert_eq(memcmp(dec, target, dlen), 0);
	}
	cr_assert_eq(
	    pfc_symlink_encrypt(vk, target, PFC_SYMLINK_TARGET_MAX, enc, sizeof(enc), &elen), 0);
	cr_assert_eq(elen, PFC_SYMLINK_ENC_MAX);
	cr_assert_eq(
	    pfc_symlink_encrypt(vk, target, PFC_SYMLINK_TARGET_MAX + 1, enc, sizeof(enc), &elen),
	    PFC_ERR_NAME_TOO_LONG);
	cr_assert_eq(pfc_symlink_encrypt(vk, target, 0, enc, sizeof(enc), &elen),
		     PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_symlink_encrypt(vk, "a\0b", 3, enc, sizeof(enc), &elen),
		     PFC_ERR_NAME_INVALID);
}

Test(symlink, random_nonce_and_tamper_and_other_volume)
{
	char e1[PFC_SYMLINK_ENC_BUF], e2[PFC_SYMLINK_ENC_BUF], dec[PFC_SYMLINK_TARGET_MAX + 1];
	size_t l1, l2, dlen;
	struct pfc_volkeys *same_key_other_vol = make_volkeys(3, 5);

	cr_assert_eq(pfc_symlink_encrypt(vk, "../x/y", 6, e1, sizeof(e1), &l1), 0);
	cr_assert_eq(pfc_symlink_encrypt(vk, "../x/y", 6, e2, sizeof(e2), &l2), 0);
	cr_assert_str_neq(e1, e2);
	cr_assert_eq(pfc_symlink_decrypt(same_key_other_vol, e1, l1, dec, sizeof(dec), &dlen),
		     PFC_ERR_AUTH);
	pfc_volkeys_free(same_key_other_vol);
	for (size_t i = 0; i < l1; i++) {
		char o = e1[i];

		e1[i] = o == 'A' ? 'B' : 'A';
		int err = pfc_symlink_decrypt(vk, e1, l1, dec, sizeof(dec), &dlen);
		cr_assert(err == PFC_ERR_AUTH || err == PFC_ERR_CORRUPT, "pos %zu", i);
		e1[i] = o;
	}
	cr_assert_eq(pfc_symlink_decrypt(vk, e1, l1, dec, sizeof(dec), &dlen), 0);
	cr_assert_str_eq(dec, "../x/y");
}

Test(symlink, random_input_decrypt)
{
	char in[200], dec[PFC_SYMLINK_TARGET_MAX + 1];
	size_t dlen;

	for (int i = 0; i < 5000; i++) {
		size_t len = randombytes_uniform(sizeof(in));

		for (size_t j = 0; j < len; j++)
			in[j] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			    [randombytes_uniform(64)];
		int err = pfc_symlink_decrypt(vk, in, len, dec, sizeof(dec), &dlen);
		cr_assert(err == PFC_ERR_AUTH || err == PFC_ERR_CORRUPT, "%d", err);
	}
}
