/* SPDX-License-Identifier: MIT */
/* test_filesize.c - fs/daemon/filesize.c: truncate down and up, fallocate
 * (extend, punch a hole), SEEK_DATA/SEEK_HOLE, the refused modes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/falloc.h>
#include <unistd.h>

#include "content_fixture.h"

TestSuite(daemon_filesize, .init = fix_setup, .fini = fix_teardown);

Test(daemon_filesize, truncate_down_inside_a_block_then_up)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	cr_assert_eq(fix_write(&f, 0, 3 * FIX_BS, 1), 0);
	cr_assert_eq(pfcd_file_truncate(&f.in, f.fd, FIX_BS + 100), 0);
	cr_assert_eq(fix_size(f.fd), FIX_BS + 100);
	fix_expect(&f, 0, FIX_BS + 100, 1);
	cr_assert_eq(pfcd_file_truncate(&f.in, f.fd, 4 * FIX_BS + 1), 0);
	cr_assert_eq(fix_size(f.fd), 4 * FIX_BS + 1);
	fix_expect(&f, 0, FIX_BS + 100, 1);
	fix_expect(&f, FIX_BS + 100, 3 * FIX_BS - 99, 0);
	fix_file_close(&f);
}

Test(daemon_filesize, truncate_to_the_same_size_is_no_modification)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	cr_assert_eq(fix_write(&f, 0, 100, 1), 0);
	cr_assert_eq(fix_header_generation(f.fd), 1);
	cr_assert_eq(pfcd_file_truncate(&f.in, f.fd, 100), 0);
	cr_assert_eq(fix_header_generation(f.fd), 1);
	cr_assert_eq(pfcd_file_truncate(&f.in, f.fd, PFC_PLAIN_SIZE_MAX + 1), -EFBIG);
	fix_file_close(&f);
}

/* FORMAT.md 3: truncation to 0 drops the header and the file key (the next write makes a new
 * header with a new id and key: that needs the keystore, tests/integration test_cli_truncate_key).
 */
Test(daemon_filesize, truncate_to_zero_drops_the_header_and_the_key)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	cr_assert_eq(fix_write(&f, 0, 3 * FIX_BS, 1), 0);
	cr_assert(f.in.f.loaded);
	cr_assert_eq(pfcd_file_truncate(&f.in, f.fd, 0), 0);
	cr_assert_eq(lseek(f.fd, 0, SEEK_END), 0, "no header left");
	cr_assert(!f.in.f.loaded, "the old key is dropped");
	cr_assert_null(f.in.f.key);
	cr_assert_eq(pfcd_file_truncate(&f.in, f.fd, 0), 0, "already empty: nothing to do");
	cr_assert_eq(fix_size(f.fd), 0);
	fix_file_close(&f);
}

Test(daemon_filesize, punch_hole_reads_zeros_and_seeks_as_a_hole)
{
	struct fix_file f;
	off_t r, h;

	fix_file_new(&f, "a");
	cr_assert_eq(fix_write(&f, 0, 8 * FIX_BS, 1), 0);
	/* blocks 2..5 wholly, and the ends of blocks 1 and 6 */
	cr_assert_eq(pfcd_file_fallocate(&f.in, f.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					 FIX_BS + 10, 5 * FIX_BS),
		     0);
	cr_assert_eq(fix_size(f.fd), 8 * FIX_BS);
	fix_expect(&f, 0, FIX_BS + 10, 1);
	fix_expect(&f, FIX_BS + 10, 5 * FIX_BS, 0);
	fix_expect(&f, 6 * FIX_BS + 10, 2 * FIX_BS - 10, 1);
	if (!pfcd_g->layout.zero_block_is_hole)
		goto out;
	cr_assert_eq(pfcd_file_seek(f.fd, 0, SEEK_HOLE, &r), 0);
	if (r == (off_t)(8 * FIX_BS))
		goto out; /* a backing file system without holes */
	/* the first block wholly in a backing hole: the backing's holes are
	 * pages, so block 2 (not page-aligned) may still count as data */
	cr_assert(r >= (off_t)(2 * FIX_BS) && r <= (off_t)(4 * FIX_BS) && r % FIX_BS == 0,
		  "hole at %lld", (long long)r);
	cr_assert_eq(pfcd_file_seek(f.fd, r, SEEK_DATA, &h), 0);
	cr_assert(h > r && h <= (off_t)(6 * FIX_BS), "data at %lld", (long long)h);
out:
	fix_file_close(&f);
}

Test(daemon_filesize, seek_past_the_end_is_enxio)
{
	struct fix_file f;
	off_t r;

	fix_file_new(&f, "a");
	cr_assert_eq(fix_write(&f, 0, 100, 1), 0);
	cr_assert_eq(pfcd_file_seek(f.fd, 100, SEEK_DATA, &r), -ENXIO);
	cr_assert_eq(pfcd_file_seek(f.fd, -1, SEEK_HOLE, &r), -ENXIO);
	cr_assert_eq(pfcd_file_seek(f.fd, 5, SEEK_DATA, &r), 0);
	cr_assert_eq(r, 5);
	cr_assert_eq(pfcd_file_seek(f.fd, 5, SEEK_HOLE, &r), 0);
	cr_assert_eq(r, 100);
	fix_file_close(&f);
}

Test(daemon_filesize, fallocate_extends_with_zeros)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	cr_assert_eq(fix_write(&f, 0, 10, 1), 0);
	cr_assert_eq(pfcd_file_fallocate(&f.in, f.fd, 0, 0, 3 * FIX_BS), 0);
	cr_assert_eq(fix_size(f.fd), 3 * FIX_BS);
	fix_expect(&f, 0, 10, 1);
	fix_expect(&f, 10, 3 * FIX_BS - 10, 0);
	cr_assert_eq(pfcd_file_fallocate(&f.in, f.fd, FALLOC_FL_KEEP_SIZE, 0, 5 * FIX_BS), 0);
	cr_assert_eq(fix_size(f.fd), 3 * FIX_BS);
	fix_file_close(&f);
}

Test(daemon_filesize, refused_fallocate_modes)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	cr_assert_eq(pfcd_file_fallocate(&f.in, f.fd, 0, -1, 10), -EINVAL);
	cr_assert_eq(pfcd_file_fallocate(&f.in, f.fd, 0, 0, 0), -EINVAL);
	cr_assert_eq(pfcd_file_fallocate(&f.in, f.fd, FALLOC_FL_PUNCH_HOLE, 0, 10), -EOPNOTSUPP);
	cr_assert_eq(pfcd_file_fallocate(&f.in, f.fd, FALLOC_FL_COLLAPSE_RANGE, 0, 10),
		     -EOPNOTSUPP);
	fix_file_close(&f);
}
