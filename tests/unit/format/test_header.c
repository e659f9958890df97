// SPDX-License-Identifier: MIT
/* test_header.c - file header: layout, single-field updates, tampering, AD builders. */
#include "helpers.h"
#include "testwrap.h"

TestSuite(header, .init = fmt_init);

static const uint8_t vol_id[16] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
				   0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xf0, 0x01};

/* A header as the daemon creates it: random FK wrapped under the test master key. */
static void make_header(enum pfc_cipher c, uint8_t out[PFC_HEADER_SIZE], struct pfc_filekey **kp)
{
	uint8_t fk[32], fid[16], ad[PFC_AD_MAX], blob[128];
	struct pfc_layout l;
	struct pfc_header h;
	size_t adl, bl;

	fill(fk, 32, 0x42);
	fill(fid, 16, 0x17);
	adl = pfc_ad_file_key(vol_id, fid, ad);
	cr_assert_eq(testwrap_wrap(ad, adl, fk, NULL, blob, &bl), 0);
	cr_assert_eq(pfc_layout_init(&l, c, 4096), 0);
	cr_assert_eq(pfc_filekey_new(fk, fid, &l, kp), 0);
	cr_assert_eq(pfc_header_init(&h, fid, blob, bl), 0);
	h.generation = 3;
	cr_assert_eq(pfc_header_encode(&h, *kp, out), 0);
}

/* What a reader does: parse, unwrap the FK with the file's AD, verify the generation. */
static int open_header(const uint8_t *buf, enum pfc_cipher c, struct pfc_header *h)
{
	uint8_t ad[PFC_AD_MAX], fk[32];
	struct pfc_filekey *k = NULL;
	struct pfc_layout l;
	int err = pfc_header_parse(buf, PFC_HEADER_SIZE, h);

	if (err)
		return err;
	err = testwrap_unwrap(h->wrapped, h->wrapped_len, ad,
			      pfc_ad_file_key(vol_id, h->file_id, ad), fk);
	if (err)
		return err;
	pfc_layout_init(&l, c, 4096);
	if ((err = pfc_filekey_new(fk, h->file_id, &l, &k)))
		return err;
	err = pfc_header_verify_generation(h, k);
	pfc_filekey_free(k);
	sodium_memzero(fk, sizeof(fk));
	return err;
}

Test(header, round_trip_and_fixed_offsets)
{
	uint8_t buf[PFC_HEADER_SIZE];
	struct pfc_filekey *k;
	struct pfc_header h;

	make_header(PFC_CIPHER_AES256GCM, buf, &k);
	cr_assert_eq(memcmp(buf, "PFCRYPTF", 8), 0);
	cr_assert_eq(pfc_load_u16(buf + 8), 1);
	cr_assert_eq(pfc_load_u64(buf + PFC_HEADER_GEN_OFFSET), 3);
	cr_assert_eq(pfc_load_u16(buf + PFC_HEADER_WRAPPED_OFFSET), 78 + 11);
	cr_assert(sodium_is_zero(buf + 186, 70));
	cr_assert_eq(open_header(buf, PFC_CIPHER_AES256GCM, &h), 0);
	cr_assert_eq(h.generation, 3);
	cr_assert_eq(h.wrapped_len, 89);
	pfc_filekey_free(k);
}

Test(header, field_updates_commute_and_touch_only_their_bytes)
{
	uint8_t a[PFC_HEADER_SIZE], b[PFC_HEADER_SIZE], orig[PFC_HEADER_SIZE];
	uint8_t gen[PFC_HEADER_GEN_FIELD_SIZE], wr[PFC_HEADER_WRAPPED_FIELD_SIZE], blob[128];
	uint8_t ad[PFC_AD_MAX], fk[32];
	struct pfc_filekey *k;
	struct pfc_header h;
	size_t bl;

	make_header(PFC_CIPHER_XCHACHA20POLY1305, orig, &k);
	/* "rewrap": the same FK wrapped again (new nonce) */
	fill(fk, 32, 0x42);
	cr_assert_eq(testwrap_wrap(ad, pfc_ad_file_key(vol_id, pfc_filekey_file_id(k), ad), fk,
				   NULL, blob, &bl),
		     0);
	cr_assert_eq(pfc_header_wrapped_field(blob, bl, wr), 0);
	cr_assert_eq(pfc_header_generation_field(k, 4, gen), 0);
	/* daemon then rewrap, and rewrap then daemon: same bytes, nothing undone */
	memcpy(a, orig, sizeof(a));
	memcpy(a + PFC_HEADER_GEN_OFFSET, gen, sizeof(gen));
	memcpy(a + PFC_HEADER_WRAPPED_OFFSET, wr, sizeof(wr));
	memcpy(b, orig, sizeof(b));
	memcpy(b + PFC_HEADER_WRAPPED_OFFSET, wr, sizeof(wr));
	memcpy(b + PFC_HEADER_GEN_OFFSET, gen, sizeof(gen));
	cr_assert_eq(memcmp(a, b, sizeof(a)), 0);
	cr_assert_eq(memcmp(a, orig, PFC_HEADER_GEN_OFFSET), 0);
	cr_assert_eq(memcmp(a + 186, orig + 186, 70), 0);
	cr_assert_eq(open_header(a, PFC_CIPHER_XCHACHA20POLY1305, &h), 0);
	cr_assert_eq(h.generation, 4);
	cr_assert_eq(memcmp(h.wrapped, blob, bl), 0);
	cr_assert_eq(pfc_header_generation_field(k, PFC_GEN_MAX + 1, gen), PFC_ERR_TOO_LARGE);
	cr_assert_eq(pfc_header_wrapped_field(blob, 0, wr), PFC_ERR_INVAL);
	cr_assert_eq(pfc_header_wrapped_field(blob, 129, wr), PFC_ERR_TOO_LARGE);
	pfc_filekey_free(k);
}

Test(header, every_single_bit_flip_is_detected)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++) {
		uint8_t buf[PFC_HEADER_SIZE];
		struct pfc_filekey *k;
		struct pfc_header h;

		make_header(test_ciphers[c], buf, &k);
		for (size_t bit = 0; bit < PFC_HEADER_SIZE * 8; bit++) {
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			int err = open_header(buf, test_ciphers[c], &h);
			cr_assert_lt(err, 0, "bit %zu of the header went unnoticed", bit);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		cr_assert_eq(open_header(buf, test_ciphers[c], &h), 0);
		pfc_filekey_free(k);
	}
}

Test(header, parse_errors_are_specific)
{
	uint8_t buf[PFC_HEADER_SIZE], t[PFC_HEADER_SIZE];
	struct pfc_filekey *k;
	struct pfc_header h;

	make_header(PFC_CIPHER_AES256GCM, buf, &k);
	cr_assert_eq(pfc_header_parse(buf, PFC_HEADER_SIZE - 1, &h), PFC_ERR_TRUNCATED);
	memcpy(t, buf, sizeof(t));
	t[0] = 'X';
	cr_assert_eq(pfc_header_parse(t, sizeof(t), &h), PFC_ERR_BAD_MAGIC);
	memcpy(t, buf, sizeof(t));
	t[8] = 2;
	cr_assert_eq(pfc_header_parse(t, sizeof(t), &h), PFC_ERR_UNKNOWN_VERSION);
	memcpy(t, buf, sizeof(t));
	t[12] = 1;
	cr_assert_eq(pfc_header_parse(t, sizeof(t), &h), PFC_ERR_CORRUPT);
	memcpy(t, buf, sizeof(t));
	t[255] = 1;
	cr_assert_eq(pfc_header_parse(t, sizeof(t), &h), PFC_ERR_CORRUPT);
	memcpy(t, buf, sizeof(t));
	pfc_store_u16(t + PFC_HEADER_WRAPPED_OFFSET, 129);
	cr_assert_eq(pfc_header_parse(t, sizeof(t), &h), PFC_ERR_TOO_LARGE);
	pfc_store_u16(t + PFC_HEADER_WRAPPED_OFFSET, 0);
	cr_assert_eq(pfc_header_parse(t, sizeof(t), &h), PFC_ERR_CORRUPT);
	/* generation changed without its MAC */
	memcpy(t, buf, sizeof(t));
	pfc_store_u64(t + PFC_HEADER_GEN_OFFSET, 2);
	cr_assert_eq(pfc_header_parse(t, sizeof(t), &h), 0);
	cr_assert_eq(pfc_header_verify_generation(&h, k), PFC_ERR_AUTH);
	pfc_filekey_free(k);
}

Test(header, encode_refuses_a_key_of_another_file)
{
	uint8_t buf[PFC_HEADER_SIZE], blob[10] = {1};
	struct pfc_filekey *k = make_filekey(PFC_CIPHER_AES256GCM, 4096, 1, 2);
	struct pfc_header h;
	uint8_t other[16] = {9};

	cr_assert_eq(pfc_header_init(&h, other, blob, sizeof(blob)), 0);
	cr_assert_eq(pfc_header_encode(&h, k, buf), PFC_ERR_INVAL);
	cr_assert_eq(pfc_header_init(&h, other, blob, 0), PFC_ERR_INVAL);
	cr_assert_eq(pfc_header_init(&h, other, blob, 200), PFC_ERR_TOO_LARGE);
	pfc_filekey_free(k);
}

Test(header, random_input_parse)
{
	uint8_t buf[PFC_HEADER_SIZE];
	struct pfc_header h;
	int ok = 0;

	for (int i = 0; i < 20000; i++) {
		randombytes_buf(buf, sizeof(buf));
		if (i % 2) { /* make it get past the magic and version */
			memcpy(buf, "PFCRYPTF\x01\x00", 10);
			if (i % 4 == 1) {
				memset(buf + 10, 0, 6);
				pfc_store_u16(buf + 56, (uint16_t)(1 + i % 128));
				memset(buf + 58 + 1 + i % 128, 0, 256 - 58 - 1 - i % 128);
			}
		}
		int err = pfc_header_parse(buf, sizeof(buf), &h);
		cr_assert(err == 0 || err == PFC_ERR_BAD_MAGIC || err == PFC_ERR_CORRUPT ||
			      err == PFC_ERR_UNKNOWN_VERSION || err == PFC_ERR_TOO_LARGE,
			  "%d", err);
		if (!err) {
			ok++;
			cr_assert(h.wrapped_len >= 1 && h.wrapped_len <= 128);
		}
	}
	cr_assert_gt(ok, 0, "the structured half parses");
}

Test(header, associated_data_is_exactly_the_contract)
{
	uint8_t ad[PFC_AD_MAX], fid[16];

	fill(fid, 16, 3);
	cr_assert_eq(pfc_ad_name_key(vol_id, ad), PFC_AD_NAME_KEY_LEN);
	cr_assert_eq(memcmp(ad, "pfcrypt/v1 name-key\0", 20), 0);
	cr_assert_eq(memcmp(ad + 20, vol_id, 16), 0);
	cr_assert_eq(pfc_ad_file_key_prefix(vol_id, ad), PFC_AD_FILE_PREFIX_LEN);
	cr_assert_eq(memcmp(ad, "pfcrypt/v1 file-key\0", 20), 0);
	cr_assert_eq(memcmp(ad + 20, vol_id, 16), 0);
	cr_assert_eq(pfc_ad_file_key(vol_id, fid, ad), PFC_AD_FILE_KEY_LEN);
	cr_assert_eq(memcmp(ad, "pfcrypt/v1 file-key\0", 20), 0);
	cr_assert_eq(memcmp(ad + 20, vol_id, 16), 0);
	cr_assert_eq(memcmp(ad + 36, fid, 16), 0);
}

Test(header, header_moved_to_another_file_or_volume_does_not_unwrap)
{
	uint8_t buf[PFC_HEADER_SIZE], ad[PFC_AD_MAX], fk[32];
	uint8_t other_vol[16] = {1}, other_file[16] = {2};
	struct pfc_filekey *k;
	struct pfc_header h;

	make_header(PFC_CIPHER_AES256GCM, buf, &k);
	cr_assert_eq(pfc_header_parse(buf, sizeof(buf), &h), 0);
	cr_assert_eq(testwrap_unwrap(h.wrapped, h.wrapped_len, ad,
				     pfc_ad_file_key(other_vol, h.file_id, ad), fk),
		     PFC_ERR_AUTH);
	cr_assert_eq(testwrap_unwrap(h.wrapped, h.wrapped_len, ad,
				     pfc_ad_file_key(vol_id, other_file, ad), fk),
		     PFC_ERR_AUTH);
	pfc_filekey_free(k);
}
