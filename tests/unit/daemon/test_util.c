/* SPDX-License-Identifier: MIT */
/* test_util.c - fs/daemon/util.c: pread/pwrite of a whole range, the errno
 * of a format error, procfs paths. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "content_fixture.h"

#include "fs/err.h"

TestSuite(daemon_util, .init = fix_setup, .fini = fix_teardown);

Test(daemon_util, pwrite_full_then_pread_full_round_trip)
{
	struct fix_file f;
	uint8_t out[10000], in[10000];
	size_t got = 0;

	fix_file_empty(&f, "a");
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = fix_byte(3, i);
	cr_assert_eq(pfcd_pwrite_full(f.fd, out, sizeof(out), 100), 0);
	cr_assert_eq(pfcd_pread_full(f.fd, in, sizeof(in), 100, &got), 0);
	cr_assert_eq(got, sizeof(in));
	cr_assert_eq(memcmp(in, out, sizeof(in)), 0);
	fix_file_close(&f);
}

Test(daemon_util, pread_full_stops_at_the_end_of_the_file)
{
	struct fix_file f;
	uint8_t b[64];
	size_t got = 99;

	fix_file_empty(&f, "a");
	cr_assert_eq(pfcd_pwrite_full(f.fd, "hello", 5, 0), 0);
	cr_assert_eq(pfcd_pread_full(f.fd, b, sizeof(b), 2, &got), 0);
	cr_assert_eq(got, 3);
	cr_assert_eq(memcmp(b, "llo", 3), 0);
	cr_assert_eq(pfcd_pread_full(f.fd, b, sizeof(b), 50, &got), 0);
	cr_assert_eq(got, 0);
	fix_file_close(&f);
}

Test(daemon_util, bad_descriptor_is_minus_errno)
{
	uint8_t b[4];
	size_t got;

	cr_assert_eq(pfcd_pread_full(-1, b, sizeof(b), 0, &got), -EBADF);
	cr_assert_eq(pfcd_pwrite_full(-1, b, sizeof(b), 0), -EBADF);
}

Test(daemon_util, format_errors_map_to_errno)
{
	cr_assert_eq(pfcd_errno(0), 0);
	cr_assert_eq(pfcd_errno(PFC_ERR_AUTH), -pfc_err_to_errno(PFC_ERR_AUTH));
	errno = ENOSPC;
	cr_assert_eq(pfcd_errno(PFC_ERR_IO), -ENOSPC); /* I/O errors keep errno */
}

Test(daemon_util, proc_path_names_the_descriptor)
{
	char p[64];

	pfcd_proc_path(7, p);
	cr_assert_str_eq(p, "/proc/self/fd/7");
}
