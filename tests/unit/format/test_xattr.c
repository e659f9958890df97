// SPDX-License-Identifier: MIT
/* test_xattr.c - user xattr names and values. */
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

TestSuite(xattr, .init = setup, .fini = teardown);

Test(xattr, names_round_trip_deterministically)
{
	char e1[PFC_XATTR_NAME_ENC_BUF], e2[PFC_XATTR_NAME_ENC_BUF], dec[200], name[200];
	size_t l1, l2, dlen;

	for (size_t n = 1; n <= PFC_XATTR_SUFFIX_MAX; n++) {
		memcpy(name, "user.", 5);
		for (size_t i = 0; i < n; i++)
			name[5 + i] = (char)(0x80 + (i * 7 + n) % 120); /* not UTF-8 either */
		cr_assert_eq(pfc_xattr_name_encrypt(vk, name, 5 + n, e1, sizeof(e1), &l1), 0);
		cr_assert_eq(pfc_xattr_name_encrypt(vk, name, 5 + n, e2, sizeof(e2), &l2), 0);
		cr_assert_str_eq(e1, e2);
		cr_assert_eq(strncmp(e1, "user.pfc.", 9), 0);
		cr_assert_leq(l1, PFC_XATTR_NAME_ENC_MAX);
		cr_assert_leq(l1, 255, "fits XATTR_NAME_MAX");
		cr_assert_eq(pfc_xattr_name_decrypt(vk, e1, l1, dec, sizeof(dec), &dlen), 0);
		cr_assert_eq(dlen, 5 + n);
		cr_assert_eq(memcmp(dec, name, dlen), 0);
	}
	memset(name + 5, 'z', 161);
	cr_assert_eq(pfc_xattr_name_encrypt(vk, name, 166, e1, sizeof(e1), &l1),
		     PFC_ERR_NAME_TOO_LONG);
	cr_assert_eq(pfc_xattr_name_encrypt(vk, "user.", 5, e1, sizeof(e1), &l1),
		     PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_xattr_name_encrypt(vk, "security.selinux", 16, e1, sizeof(e1), &l1),
		     PFC_ERR_INVAL);
	cr_assert_eq(pfc_xattr_name_encrypt(vk, "trusted.x", 9, e1, sizeof(e1), &l1),
		     PFC_ERR_INVAL);
	cr_assert_eq(pfc_xattr_name_decrypt(vk, "user.other", 10, dec, sizeof(dec), &dlen),
		     PFC_ERR_INVAL);
}

Test(xattr, tampered_or_foreign_names_fail)
{
	char e[PFC_XATTR_NAME_ENC_BUF], dec[200];
	size_t l, dlen;
	struct pfc_volkeys *other = make_volkeys(9, 4);

	cr_assert_eq(pfc_xattr_name_encrypt(vk, "user.mime_type", 14, e, sizeof(e), &l), 0);
	cr_assert_eq(pfc_xattr_name_decrypt(other, e, l, dec, sizeof(dec), &dlen), PFC_ERR_AUTH);
	pfc_volkeys_free(other);
	for (size_t i = 9; i < l; i++) {
		char o = e[i];

		e[i] = o == 'A' ? 'B' : 'A';
		int err = pfc_xattr_name_decrypt(vk, e, l, dec, sizeof(dec), &dlen);
		cr_assert(err == PFC_ERR_AUTH || err == PFC_ERR_CORRUPT, "pos %zu", i);
		e[i] = o;
	}
}

Test(xattr, values_round_trip_and_are_bound_to_their_name)
{
	char e1[PFC_XATTR_NAME_ENC_BUF], e2[PFC_XATTR_NAME_ENC_BUF];
	static uint8_t val[PFC_XATTR_VALUE_MAX], st[65536], dec[65536];
	const size_t lens[] = {0, 1, 100, PFC_XATTR_VALUE_MAX};
	size_t l1, l2, sl, dl;

	cr_assert_eq(pfc_xattr_name_encrypt(vk, "user.a", 6, e1, sizeof(e1), &l1), 0);
	cr_assert_eq(pfc_xattr_name_encrypt(vk, "user.b", 6, e2, sizeof(e2), &l2), 0);
	fill(val, sizeof(val), 1);
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(pfc_xattr_value_encrypt(vk, e1, l1, val, lens[i], st, sizeof(st), &sl),
			     0);
		cr_assert_eq(sl, lens[i] + 40);
		cr_assert_eq(pfc_xattr_value_decrypt(vk, e1, l1, st, sl, dec, sizeof(dec), &dl), 0);
		cr_assert_eq(dl, lens[i]);
		cr_assert_eq(memcmp(dec, val, dl), 0);
		cr_assert_eq(pfc_xattr_value_decrypt(vk, e2, l2, st, sl, dec, sizeof(dec), &dl),
			     PFC_ERR_AUTH, "value moved to another name");
	}
	cr_assert_eq(
	    pfc_xattr_value_encrypt(vk, e1, l1, val, PFC_XATTR_VALUE_MAX + 1, st, sizeof(st), &sl),
	    PFC_ERR_TOO_LARGE);
	cr_assert_eq(pfc_xattr_value_encrypt(vk, e1, l1, val, 10, st, sizeof(st), &sl), 0);
	for (size_t bit = 0; bit < sl * 8; bit++) {
		st[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(pfc_xattr_value_decrypt(vk, e1, l1, st, sl, dec, sizeof(dec), &dl),
			     PFC_ERR_AUTH, "bit %zu", bit);
		st[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	cr_assert_eq(pfc_xattr_value_decrypt(vk, e1, l1, st, 39, dec, sizeof(dec), &dl),
		     PFC_ERR_TRUNCATED);
}
