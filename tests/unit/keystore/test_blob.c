// SPDX-License-Identifier: MIT
/* test_blob.c - keystore/blob.c: wrapped-key blob parse, seal, open. */
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/buf.h"
#include "fs/err.h"
#include "keystore/blob.h"

static uint8_t mk[32], key[32];
static const uint8_t AD[] = "pfcrypt/v1 file-key\0volumeid........fileid..........";

static void setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	randombytes_buf(mk, sizeof(mk));
	randombytes_buf(key, sizeof(key));
}

TestSuite(keystore_blob, .init = setup);

static size_t seal(const char *name, uint32_t v, uint8_t *blob)
{
	size_t len = 0;

	cr_assert_eq(
	    pfc_blob_seal(mk, name, v, AD, sizeof(AD), key, NULL, blob, PFC_WRAPPED_MAX, &len), 0);
	return len;
}

Test(keystore_blob, round_trip_and_layout)
{
	uint8_t blob[PFC_WRAPPED_MAX], out[32];
	char name[PFC_KS_NAME_MAX + 1];
	uint32_t v = 0;
	size_t len = seal("home", 7, blob);

	cr_assert_eq(len, PFC_BLOB_LEN(4));
	cr_assert_eq(blob[0], 1);
	cr_assert_eq(blob[1], 4);
	cr_assert_arr_eq(blob + 2, "home", 4);
	cr_assert_eq(pfc_load_u32(blob + 6), 7);
	cr_assert_eq(pfc_blob_parse_name_version(blob, len, name, &v), 0);
	cr_assert_str_eq(name, "home");
	cr_assert_eq(v, 7);
	cr_assert_eq(pfc_blob_open(mk, blob, len, AD, sizeof(AD), out), 0);
	cr_assert_arr_eq(out, key, 32);
}

Test(keystore_blob, longest_name_fits_the_contract)
{
	uint8_t blob[PFC_WRAPPED_MAX];
	char name[33];

	memset(name, 'n', 32);
	name[32] = '\0';
	cr_assert_eq(seal(name, UINT32_MAX, blob), 110);
	cr_assert_leq(PFC_BLOB_LEN(32), PFC_WRAPPED_MAX);
}

Test(keystore_blob, altered_ad_fails)
{
	uint8_t blob[PFC_WRAPPED_MAX], out[32] = {0}, ad2[sizeof(AD)];
	size_t len = seal("vol", 1, blob);

	memcpy(ad2, AD, sizeof(AD));
	ad2[30] ^= 1;
	cr_assert_eq(pfc_blob_open(mk, blob, len, ad2, sizeof(ad2), out), PFC_ERR_AUTH);
	cr_assert_eq(pfc_blob_open(mk, blob, len, AD, sizeof(AD) - 1, out), PFC_ERR_AUTH);
	cr_assert_eq(pfc_blob_open(mk, blob, len, NULL, 0, out), PFC_ERR_AUTH);
	for (size_t i = 0; i < 32; i++)
		cr_assert_eq(out[i], 0, "output written on failure");
}

Test(keystore_blob, altered_version_or_name_fails)
{
	uint8_t blob[PFC_WRAPPED_MAX], out[32];
	size_t len = seal("vol", 1, blob);

	blob[5] = 2; /* version 1 -> 2 */
	cr_assert_eq(pfc_blob_open(mk, blob, len, AD, sizeof(AD), out), PFC_ERR_AUTH);
	blob[5] = 1;
	blob[2] = 'V'; /* name vol -> Vol */
	cr_assert_eq(pfc_blob_open(mk, blob, len, AD, sizeof(AD), out), PFC_ERR_AUTH);
}

Test(keystore_blob, every_byte_altered_fails)
{
	uint8_t blob[PFC_WRAPPED_MAX], out[32];
	size_t len = seal("vol", 3, blob);

	for (size_t i = 0; i < len; i++) {
		blob[i] ^= 0x40;
		cr_assert_lt(pfc_blob_open(mk, blob, len, AD, sizeof(AD), out), 0, "byte %zu", i);
		blob[i] ^= 0x40;
	}
	cr_assert_eq(pfc_blob_open(mk, blob, len, AD, sizeof(AD), out), 0);
}

Test(keystore_blob, wrong_master_key_fails)
{
	uint8_t blob[PFC_WRAPPED_MAX], out[32], mk2[32];
	size_t len = seal("vol", 1, blob);

	memcpy(mk2, mk, 32);
	mk2[31] ^= 0x80;
	cr_assert_eq(pfc_blob_open(mk2, blob, len, AD, sizeof(AD), out), PFC_ERR_AUTH);
}

Test(keystore_blob, parse_refuses_bad_layouts)
{
	uint8_t blob[PFC_WRAPPED_MAX + 1];
	char name[PFC_KS_NAME_MAX + 1] = "untouched";
	uint32_t v = 42;
	size_t len = seal("vol", 1, blob);

	for (size_t cut = 0; cut < len; cut++)
		cr_assert_lt(pfc_blob_parse_name_version(blob, cut, name, &v), 0, "cut %zu", cut);
	blob[len] = 0;
	cr_assert_eq(pfc_blob_parse_name_version(blob, len + 1, name, &v), PFC_ERR_CORRUPT);
	blob[0] = 2;
	cr_assert_eq(pfc_blob_parse_name_version(blob, len, name, &v), PFC_ERR_UNKNOWN_VERSION);
	blob[0] = 1;
	blob[1] = 0;
	cr_assert_eq(pfc_blob_parse_name_version(blob, len, name, &v), PFC_ERR_CORRUPT);
	blob[1] = 33;
	cr_assert_eq(pfc_blob_parse_name_version(blob, len, name, &v), PFC_ERR_CORRUPT);
	blob[1] = 3;
	blob[3] = '/';
	cr_assert_eq(pfc_blob_parse_name_version(blob, len, name, &v), PFC_ERR_NAME_INVALID);
	blob[3] = 'o';
	pfc_store_u32(blob + 5, 0);
	cr_assert_eq(pfc_blob_parse_name_version(blob, len, name, &v), PFC_ERR_CORRUPT);
	cr_assert_str_eq(name, "untouched");
	cr_assert_eq(v, 42);
}

Test(keystore_blob, names)
{
	cr_assert_eq(pfc_ks_name_check("a", 1), 0);
	cr_assert_eq(pfc_ks_name_check("A.z_0-9", 7), 0);
	cr_assert_eq(pfc_ks_name_check("", 0), PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_ks_name_check("a b", 3), PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_ks_name_check("a/b", 3), PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_ks_name_check("a\0b", 3), PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_ks_name_check("0123456789012345678901234567890123", 33),
		     PFC_ERR_NAME_TOO_LONG);
}

Test(keystore_blob, seal_refuses_bad_arguments)
{
	uint8_t blob[PFC_WRAPPED_MAX], big[PFC_KS_AD_MAX + 1] = {0};
	size_t len;

	cr_assert_eq(pfc_blob_seal(mk, "vol", 0, NULL, 0, key, NULL, blob, sizeof(blob), &len),
		     PFC_ERR_INVAL);
	cr_assert_eq(pfc_blob_seal(mk, "v l", 1, NULL, 0, key, NULL, blob, sizeof(blob), &len),
		     PFC_ERR_NAME_INVALID);
	cr_assert_eq(
	    pfc_blob_seal(mk, "vol", 1, NULL, 0, key, NULL, blob, PFC_BLOB_LEN(3) - 1, &len),
	    PFC_ERR_TOO_LARGE);
	cr_assert_eq(
	    pfc_blob_seal(mk, "vol", 1, big, sizeof(big), key, NULL, blob, sizeof(blob), &len),
	    PFC_ERR_INVAL);
}

Test(keystore_blob, random_nonces_differ)
{
	uint8_t a[PFC_WRAPPED_MAX], b[PFC_WRAPPED_MAX];
	size_t la = seal("vol", 1, a), lb = seal("vol", 1, b);

	cr_assert_eq(la, lb);
	cr_assert_neq(memcmp(a + 7, b + 7, 24), 0);
}
