/* SPDX-License-Identifier: MIT */
/* test_fileio.c - fs/daemon/fileio.c: writes of any alignment read back,
 * partial blocks merged with their old bytes, a gap past the end reading as
 * zeros, append, the size limit, reads past the end. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "content_fixture.h"

TestSuite(daemon_fileio, .init = fix_setup, .fini = fix_teardown);

Test(daemon_fileio, aligned_write_reads_back)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	cr_assert_eq(fix_write(&f, 0, 4 * FIX_BS, 1), 0);
	cr_assert_eq(fix_size(f.fd), 4 * FIX_BS);
	fix_expect(&f, 0, 4 * FIX_BS, 1);
	fix_expect(&f, FIX_BS + 3, 10, 1);
	fix_file_close(&f);
}

Test(daemon_fileio, unaligned_overwrite_keeps_the_bytes_around_it)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	cr_assert_eq(fix_write(&f, 0, 3 * FIX_BS + 500, 1), 0);
	cr_assert_eq(fix_write(&f, FIX_BS - 10, FIX_BS + 20, 2), 0); /* two partial blocks */
	cr_assert_eq(fix_write(&f, 2 * FIX_BS + 100, 5, 3), 0);	     /* inside one block */
	cr_assert_eq(fix_size(f.fd), 3 * FIX_BS + 500);
	fix_expect(&f, 0, FIX_BS - 10, 1);
	fix_expect(&f, FIX_BS - 10, FIX_BS + 20, 2);
	fix_expect(&f, 2 * FIX_BS + 10, 90, 1);
	fix_expect(&f, 2 * FIX_BS + 100, 5, 3);
	fix_expect(&f, 2 * FIX_BS + 105, FIX_BS + 395, 1);
	fix_file_close(&f);
}

Test(daemon_fileio, write_past_the_end_leaves_zeros_between)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	cr_assert_eq(fix_write(&f, 0, 100, 1), 0);
	cr_assert_eq(fix_write(&f, 5 * FIX_BS + 7, 50, 2), 0);
	cr_assert_eq(fix_size(f.fd), 5 * FIX_BS + 57);
	fix_expect(&f, 0, 100, 1);
	fix_expect(&f, 100, 5 * FIX_BS - 93, 0);
	fix_expect(&f, 5 * FIX_BS + 7, 50, 2);
	fix_file_close(&f);
}

Test(daemon_fileio, append_writes_at_the_end)
{
	struct fix_file f;
	const char *data;
	size_t got;

	fix_file_new(&f, "a");
	cr_assert_eq(fix_write(&f, 0, 10, 1), 0);
	cr_assert_eq(pfcd_file_write(&f.in, f.fd, "xyz", 3, 0, true), 0);
	cr_assert_eq(fix_size(f.fd), 13);
	cr_assert_eq(pfcd_file_read(&f.in, f.fd, 100, 10, &data, &got), 0);
	cr_assert_eq(got, 3);
	cr_assert_eq(memcmp(data, "xyz", 3), 0);
	fix_file_close(&f);
}

Test(daemon_fileio, read_past_the_end_and_empty_write)
{
	struct fix_file f;
	const char *data;
	size_t got = 1;

	fix_file_new(&f, "a");
	cr_assert_eq(pfcd_file_read(&f.in, f.fd, 100, 0, &data, &got), 0);
	cr_assert_eq(got, 0);
	cr_assert_eq(pfcd_file_write(&f.in, f.fd, "", 0, 0, false), 0);
	cr_assert_eq(fix_header_generation(f.fd), 0); /* no modification */
	fix_file_close(&f);
}

Test(daemon_fileio, write_beyond_the_size_limit_is_efbig)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	cr_assert_eq(pfcd_file_write(&f.in, f.fd, "x", 1, (off_t)PFC_PLAIN_SIZE_MAX, false),
		     -EFBIG);
	cr_assert_eq(fix_size(f.fd), 0);
	fix_file_close(&f);
}

Test(daemon_fileio, a_write_begins_a_generation)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	f.in.f.writers = 1;
	cr_assert_eq(fix_write(&f, 0, 10, 1), 0);
	cr_assert_eq(fix_write(&f, 10, 10, 1), 0);
	cr_assert_eq(fix_header_generation(f.fd), 1);
	fix_file_close(&f);
}
