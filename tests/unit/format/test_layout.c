// SPDX-License-Identifier: MIT
/* test_layout.c - size and offset arithmetic. */
#include "helpers.h"

TestSuite(layout, .init = fmt_init);

Test(layout, worked_example_from_format_md)
{
	struct pfc_layout l;

	/* FORMAT.md 4.3: AES-256-GCM, 4096-byte blocks, 10000-byte file */
	cr_assert_eq(pfc_layout_init(&l, PFC_CIPHER_AES256GCM, 4096), 0);
	cr_assert_eq(l.overhead, 36);
	cr_assert_eq(l.stored_block_size, 4132);
	cr_assert_eq(pfc_layout_backing_size(&l, 10000), 256 + 2 * 4132 + 1808 + 36);
	cr_assert_eq(pfc_layout_plain_size(&l, 10364), 10000);
	cr_assert_eq(pfc_layout_init(&l, PFC_CIPHER_XCHACHA20POLY1305, 4096), 0);
	cr_assert_eq(l.overhead, 48);
	cr_assert_eq(pfc_layout_backing_size(&l, 10000), 256 + 2 * 4144 + 1808 + 48);
}

Test(layout, plain_size_inverts_backing_size)
{
	for (size_t c = 0; c < N_TEST_CIPHERS; c++)
		for (uint32_t bs = PFC_BLOCK_SIZE_MIN; bs <= PFC_BLOCK_SIZE_MAX; bs <<= 1) {
			struct pfc_layout l;
			const uint64_t sizes[] = {0,
						  1,
						  bs - 1,
						  bs,
						  bs + 1,
						  3ull * bs + 17,
						  (1ull << 32) + 5,
						  PFC_PLAIN_SIZE_MAX};

			cr_assert_eq(pfc_layout_init(&l, test_ciphers[c], bs), 0);
			for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
				uint64_t b = pfc_layout_backing_size(&l, sizes[i]);

				cr_assert_eq(pfc_layout_plain_size(&l, b), sizes[i]);
				cr_assert_eq(pfc_layout_plain_len(&l, b - 256), sizes[i]);
			}
		}
}

Test(layout, torn_tails_and_headers_count_zero)
{
	struct pfc_layout l;

	cr_assert_eq(pfc_layout_init(&l, PFC_CIPHER_AES256GCM, 4096), 0);
	cr_assert_eq(pfc_layout_plain_size(&l, 0), 0);
	cr_assert_eq(pfc_layout_plain_size(&l, 100), 0, "torn header");
	cr_assert_eq(pfc_layout_plain_size(&l, 256), 0, "header only");
	cr_assert_eq(pfc_layout_plain_size(&l, 256 + 36), 0, "torn block: overhead only");
	cr_assert_eq(pfc_layout_plain_size(&l, 256 + 37), 1);
	cr_assert_eq(pfc_layout_plain_size(&l, 256 + 4132 + 20), 4096, "torn second block");
	cr_assert_eq(pfc_layout_backing_size(&l, 0), 256);
}

Test(layout, offsets_and_block_ranges)
{
	struct pfc_layout l;
	uint64_t first, count;

	cr_assert_eq(pfc_layout_init(&l, PFC_CIPHER_XCHACHA20POLY1305, 4096), 0);
	cr_assert_eq(pfc_layout_block_offset(&l, 0), 256);
	cr_assert_eq(pfc_layout_block_offset(&l, 3), 256 + 3 * 4144);
	pfc_layout_block_range(&l, 0, 0, &first, &count);
	cr_assert_eq(count, 0);
	pfc_layout_block_range(&l, 4095, 2, &first, &count);
	cr_assert_eq(first, 0);
	cr_assert_eq(count, 2);
	pfc_layout_block_range(&l, 4096, 4096, &first, &count);
	cr_assert_eq(first, 1);
	cr_assert_eq(count, 1);
	pfc_layout_block_range(&l, 1ull << 40, (1u << 20) + 1, &first, &count);
	cr_assert_eq(first, (1ull << 40) / 4096);
	cr_assert_eq(count, 257);
	cr_assert_eq(pfc_layout_stored_len(&l, 4097), 4144 + 49);
}

Test(layout, invalid_parameters)
{
	struct pfc_layout l;

	cr_assert_eq(pfc_layout_init(&l, PFC_CIPHER_AES256GCM, 2048), PFC_ERR_INVAL);
	cr_assert_eq(pfc_layout_init(&l, PFC_CIPHER_AES256GCM, 6144), PFC_ERR_INVAL);
	cr_assert_eq(pfc_layout_init(&l, PFC_CIPHER_AES256GCM, 2u << 20), PFC_ERR_INVAL);
	cr_assert_eq(pfc_layout_init(&l, 0, 4096), PFC_ERR_INVAL);
	cr_assert_eq(pfc_layout_init(&l, 3, 4096), PFC_ERR_INVAL);
}
