// SPDX-License-Identifier: MIT
/* test_cipher.c - cipher names, availability and sizes. */
#include "helpers.h"

TestSuite(cipher, .init = fmt_init);

Test(cipher, names_parse_and_sizes)
{
	enum pfc_cipher c;

	cr_assert_str_eq(pfc_cipher_name(PFC_CIPHER_AES256GCM), "aes256gcm");
	cr_assert_str_eq(pfc_cipher_name(PFC_CIPHER_XCHACHA20POLY1305), "xchacha20poly1305");
	cr_assert_null(pfc_cipher_name(0));
	cr_assert_null(pfc_cipher_name(3));
	cr_assert_eq(pfc_cipher_parse("aes256gcm", &c), 0);
	cr_assert_eq(c, PFC_CIPHER_AES256GCM);
	cr_assert_eq(pfc_cipher_parse("xchacha20poly1305", &c), 0);
	cr_assert_eq(c, PFC_CIPHER_XCHACHA20POLY1305);
	cr_assert_eq(pfc_cipher_parse("AES256GCM", &c), PFC_ERR_INVAL);
	cr_assert_eq(pfc_cipher_parse("aes", &c), PFC_ERR_INVAL);
	cr_assert_eq(pfc_cipher_parse(NULL, &c), PFC_ERR_INVAL);
	cr_assert_eq(pfc_cipher_nonce_size(PFC_CIPHER_AES256GCM), 12);
	cr_assert_eq(pfc_cipher_nonce_size(PFC_CIPHER_XCHACHA20POLY1305), 24);
	cr_assert_eq(pfc_cipher_block_overhead(PFC_CIPHER_AES256GCM), 36);
	cr_assert_eq(pfc_cipher_block_overhead(PFC_CIPHER_XCHACHA20POLY1305), 48);
	cr_assert_eq(pfc_cipher_block_overhead(7), 0);
}

Test(cipher, availability_matches_libsodium)
{
	int want = crypto_aead_aes256gcm_is_available() ? 0 : PFC_ERR_CIPHER_UNAVAILABLE;

	cr_assert_eq(pfc_cipher_check(PFC_CIPHER_AES256GCM), want);
	cr_assert_eq(pfc_cipher_check(PFC_CIPHER_XCHACHA20POLY1305), 0);
	cr_assert_eq(pfc_cipher_check(0), PFC_ERR_INVAL);
	cr_assert_eq(pfc_cipher_default(),
		     want == 0 ? PFC_CIPHER_AES256GCM : PFC_CIPHER_XCHACHA20POLY1305);
}
