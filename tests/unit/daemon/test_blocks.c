/* SPDX-License-Identifier: MIT */
/* test_blocks.c - fs/daemon/blocks.c: runs of blocks written and read back
 * (small and parallel-sized), a block that does not authenticate, the
 * rewrite of one partial block, the per-thread scratch buffers. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "content_fixture.h"

TestSuite(daemon_blocks, .init = fix_setup, .fini = fix_teardown);

static void run_round_trip(size_t len)
{
	struct fix_file f;
	uint8_t *pt = malloc(len), *out = malloc(len + FIX_BS);
	uint64_t count = (len + FIX_BS - 1) / FIX_BS;
	size_t got = 0;

	cr_assert(pt && out);
	for (size_t i = 0; i < len; i++)
		pt[i] = fix_byte(5, i);
	fix_file_new(&f, "a");
	cr_assert_eq(pfcd_gen_begin(&f.in, f.fd), 0);
	cr_assert_eq(pfcd_blk_write(&f.in, f.fd, 0, pt, len, false, PFCD_SIZE_UNKNOWN), 0);
	cr_assert_eq(fix_size(f.fd), len);
	cr_assert_eq(pfcd_blk_read(&f.in, f.fd, len, 0, count, out, &got), 0);
	cr_assert_eq(got, len);
	cr_assert_eq(memcmp(out, pt, len), 0);
	fix_file_close(&f);
	free(pt);
	free(out);
}

Test(daemon_blocks, small_run_round_trip)
{
	run_round_trip(3 * FIX_BS + 17);
}

Test(daemon_blocks, large_run_round_trip)
{
	run_round_trip(1u << 20); /* 256 blocks: chunked when a pool runs */
}

Test(daemon_blocks, altered_block_is_eio)
{
	struct fix_file f;
	uint8_t pt[2 * FIX_BS], out[2 * FIX_BS], b;
	uint64_t off = pfc_layout_block_offset(&pfcd_g->layout, 1) + 40;
	size_t got;

	memset(pt, 7, sizeof(pt));
	fix_file_new(&f, "a");
	cr_assert_eq(pfcd_gen_begin(&f.in, f.fd), 0); /* blocks carry generation >= 1 */
	cr_assert_eq(pfcd_blk_write(&f.in, f.fd, 0, pt, sizeof(pt), false, PFCD_SIZE_UNKNOWN), 0);
	cr_assert_eq(pread(f.fd, &b, 1, (off_t)off), 1);
	b ^= 0x10;
	cr_assert_eq(pwrite(f.fd, &b, 1, (off_t)off), 1);
	cr_assert_eq(pfcd_blk_read(&f.in, f.fd, sizeof(pt), 0, 2, out, &got), -EIO);
	/* block 0 alone still reads */
	cr_assert_eq(pfcd_blk_read(&f.in, f.fd, sizeof(pt), 0, 1, out, &got), 0);
	cr_assert_eq(got, FIX_BS);
	fix_file_close(&f);
}

Test(daemon_blocks, rewrite_shortens_and_zeros_a_part_of_a_block)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	cr_assert_eq(fix_write(&f, 0, 2 * FIX_BS, 9), 0);
	/* block 1 keeps 1000 bytes with [100, 200) zeroed */
	cr_assert_eq(pfcd_blk_rewrite(&f.in, f.fd, 2 * FIX_BS, 1, 1000, 100, 200), 0);
	cr_assert_eq(
	    ftruncate(f.fd, (off_t)pfc_layout_backing_size(&pfcd_g->layout, FIX_BS + 1000)), 0);
	cr_assert_eq(fix_size(f.fd), FIX_BS + 1000);
	fix_expect(&f, 0, FIX_BS + 100, 9);
	fix_expect(&f, FIX_BS + 100, 100, 0);
	fix_expect(&f, FIX_BS + 200, 800, 9);
	fix_file_close(&f);
}

Test(daemon_blocks, scratch_buffer_grows_and_is_kept)
{
	uint8_t *a = pfcd_scratch(PFCD_SCRATCH_PLAIN, 100), *b;

	cr_assert_not_null(a);
	cr_assert_eq(pfcd_scratch(PFCD_SCRATCH_PLAIN, 200), a); /* 64 KiB at least */
	b = pfcd_scratch(PFCD_SCRATCH_PLAIN, 1u << 20);
	cr_assert_not_null(b);
	memset(b, 1, 1u << 20);
	cr_assert_neq(pfcd_scratch(PFCD_SCRATCH_STORED, 10), NULL);
}
