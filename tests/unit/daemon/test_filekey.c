/* SPDX-License-Identifier: MIT */
/* test_filekey.c - fs/daemon/filekey.c: the loaded state of a file (header
 * and key at the first open, from the key cache), refusals of a header cut
 * short or altered, the internal descriptor, unload. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "content_fixture.h"

TestSuite(daemon_filekey, .init = fix_setup, .fini = fix_teardown);

Test(daemon_filekey, load_takes_the_cached_key_and_the_header_generation)
{
	struct fix_file f;
	uint8_t hb[PFC_HEADER_SIZE];
	struct pfc_header h;

	fix_file_new(&f, "a");
	cr_assert_not_null(f.in.f.key);
	cr_assert_eq(f.in.f.generation, 0);
	cr_assert_eq(pread(f.fd, hb, sizeof(hb), 0), (ssize_t)sizeof(hb));
	cr_assert_eq(pfc_header_parse(hb, sizeof(hb), &h), 0);
	cr_assert_eq(memcmp(f.in.f.file_id, h.file_id, PFC_ID_BYTES), 0);
	/* loaded once: a second load changes nothing */
	cr_assert_eq(pfcd_file_load(&f.in, f.fd), 0);
	fix_file_close(&f);
	cr_assert(!f.in.f.loaded);
	cr_assert_null(f.in.f.key);
}

Test(daemon_filekey, empty_file_loads_nothing)
{
	struct fix_file f;

	fix_file_empty(&f, "a");
	cr_assert_eq(pfcd_file_load(&f.in, f.fd), 0);
	cr_assert(!f.in.f.loaded);
	cr_assert(!f.in.f.has_ifd);
	fix_file_close(&f);
}

Test(daemon_filekey, header_cut_short_is_eio)
{
	struct fix_file f;

	fix_file_empty(&f, "a");
	cr_assert_eq(pwrite(f.fd, "pfc", 3, 0), 3);
	cr_assert_eq(pfcd_file_load(&f.in, f.fd), -EIO);
	cr_assert(!f.in.f.loaded);
	fix_file_close(&f);
}

Test(daemon_filekey, altered_generation_is_eio)
{
	struct fix_file f, g;
	uint8_t hb[PFC_HEADER_SIZE];

	fix_file_new(&f, "a");
	cr_assert_eq(pread(f.fd, hb, sizeof(hb), 0), (ssize_t)sizeof(hb));
	hb[PFC_HEADER_GEN_OFFSET] ^= 1; /* generation 1 without its MAC */
	fix_file_close(&f);
	fix_file_empty(&g, "b");
	cr_assert_eq(pwrite(g.fd, hb, sizeof(hb), 0), (ssize_t)sizeof(hb));
	cr_assert_eq(pfcd_file_load(&g.in, g.fd), -EIO);
	cr_assert(!g.in.f.loaded);
	fix_file_close(&g);
}

Test(daemon_filekey, internal_descriptor_is_a_second_one_of_the_file)
{
	struct fix_file f;
	struct stat a, b;
	int ifd;

	fix_file_new(&f, "a");
	ifd = pfcd_file_ifd(&f.in, f.fd);
	cr_assert(ifd >= 0);
	cr_assert_neq(ifd, f.fd);
	cr_assert_eq(pfcd_file_ifd(&f.in, f.fd), ifd); /* opened once */
	cr_assert_eq(fstat(ifd, &a), 0);
	cr_assert_eq(fstat(f.fd, &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino);
	cr_assert(fcntl(ifd, F_GETFL) & O_NOATIME);
	fix_file_close(&f);
	cr_assert(!f.in.f.has_ifd);
}

Test(daemon_filekey, ensure_header_of_a_loaded_file_changes_nothing)
{
	struct fix_file f;
	struct pfc_kentry *key;

	fix_file_new(&f, "a");
	key = f.in.f.key;
	cr_assert_eq(pfcd_file_ensure_header(&f.in, f.fd), 0);
	cr_assert_eq(f.in.f.key, key);
	cr_assert_eq(fix_size(f.fd), 0);
	fix_file_close(&f);
}
