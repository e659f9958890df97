// SPDX-License-Identifier: MIT
/* test_b64.c - base64url without padding, strict decoding. */
#include "helpers.h"

TestSuite(b64, .init = fmt_init);

Test(b64, rfc4648_vectors_url_alphabet)
{
	const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *out[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	char enc[16];
	uint8_t dec[16];
	size_t n;

	for (size_t i = 0; i < 7; i++) {
		cr_assert_eq(
		    pfc_b64url_encode((const uint8_t *)in[i], strlen(in[i]), enc, sizeof(enc), &n),
		    0);
		cr_assert_str_eq(enc, out[i]);
		cr_assert_eq(pfc_b64url_decode(out[i], strlen(out[i]), dec, sizeof(dec), &n), 0);
		cr_assert_eq(n, strlen(in[i]));
		cr_assert_eq(memcmp(dec, in[i], n), 0);
	}
	const uint8_t hi[3] = {0xfb, 0xff, 0xbf};
	cr_assert_eq(pfc_b64url_encode(hi, 3, enc, sizeof(enc), &n), 0);
	cr_assert_str_eq(enc, "-_-_");
}

Test(b64, strict_decoding)
{
	uint8_t dec[16];
	size_t n;

	cr_assert_eq(pfc_b64url_decode("Zg==", 4, dec, sizeof(dec), &n), PFC_ERR_CORRUPT);
	cr_assert_eq(pfc_b64url_decode("Z+8", 3, dec, sizeof(dec), &n), PFC_ERR_CORRUPT);
	cr_assert_eq(pfc_b64url_decode("Z/8", 3, dec, sizeof(dec), &n), PFC_ERR_CORRUPT);
	cr_assert_eq(pfc_b64url_decode("Zm9vY", 5, dec, sizeof(dec), &n), PFC_ERR_CORRUPT);
	cr_assert_eq(pfc_b64url_decode("Zh", 2, dec, sizeof(dec), &n), PFC_ERR_CORRUPT,
		     "non-zero unused bits: a second encoding of 'f'");
	cr_assert_eq(pfc_b64url_decode("Zm9vYmFy", 8, dec, 5, &n), PFC_ERR_TOO_LARGE);
	char enc[4];
	cr_assert_eq(pfc_b64url_encode((const uint8_t *)"foo", 3, enc, 4, &n), PFC_ERR_TOO_LARGE);
}

Test(b64, random_round_trip_matches_libsodium)
{
	uint8_t in[100], dec[100];
	char enc[200], ref[200];
	size_t n, m;

	for (int i = 0; i < 2000; i++) {
		size_t len = randombytes_uniform(sizeof(in) + 1);

		randombytes_buf(in, len);
		cr_assert_eq(pfc_b64url_encode(in, len, enc, sizeof(enc), &n), 0);
		sodium_bin2base64(ref, sizeof(ref), in, len,
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		cr_assert_str_eq(enc, ref);
		cr_assert_eq(n, pfc_b64url_len(len));
		cr_assert_eq(pfc_b64url_decode(enc, n, dec, sizeof(dec), &m), 0);
		cr_assert_eq(m, len);
		cr_assert_eq(memcmp(dec, in, len), 0);
	}
}
