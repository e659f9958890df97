/* SPDX-License-Identifier: MIT */
/* test_attr.c - fs/daemon/attr.c: the plaintext size of a backing file, the
 * stat the mount shows, the entry reply, the backing path of log lines. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content_fixture.h"

TestSuite(daemon_attr, .init = fix_setup, .fini = fix_teardown);

Test(daemon_attr, file_size_is_plaintext_and_backing)
{
	struct fix_file f;
	uint64_t size = 1, backing = 1;

	fix_file_empty(&f, "a");
	cr_assert_eq(pfcd_file_size(f.fd, &size, &backing), 0);
	cr_assert_eq(size, 0);
	cr_assert_eq(backing, 0);
	fix_file_close(&f);

	fix_file_new(&f, "b");
	cr_assert_eq(fix_write(&f, 0, 5000, 1), 0);
	cr_assert_eq(pfcd_file_size(f.fd, &size, &backing), 0);
	cr_assert_eq(size, 5000);
	cr_assert_eq(backing, pfc_layout_backing_size(&pfcd_g->layout, 5000));
	fix_file_close(&f);
}

Test(daemon_attr, getattr_shows_the_plaintext_size)
{
	struct fix_file f;
	struct stat st;

	fix_file_new(&f, "a");
	cr_assert_eq(fix_write(&f, 0, 12345, 2), 0);
	cr_assert_eq(pfcd_getattr(&f.in, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_size, 12345);
	fix_file_close(&f);
}

Test(daemon_attr, backing_path_names_the_backing_file)
{
	struct fix_file f;
	char want[128], path[PATH_MAX];

	fix_file_empty(&f, "named");
	pfcd_backing_path(&f.in, path, sizeof(path));
	snprintf(want, sizeof(want), "%s/named", fix_dir);
	cr_assert_str_eq(path, want);
	fix_file_close(&f);
}

Test(daemon_attr, make_entry_counts_a_lookup_of_the_object)
{
	struct fuse_entry_param e, e2;
	struct fix_file f;

	fix_file_new(&f, "x");
	cr_assert_eq(fix_write(&f, 0, 100, 4), 0);
	cr_assert_eq(pfcd_make_entry(&pfcd_g->itable.root, "x", &e), 0);
	cr_assert_eq(e.attr.st_size, 100);
	cr_assert_eq(pfc_itable_get(&pfcd_g->itable, e.ino)->nlookup, 1);
	cr_assert_eq(pfcd_make_entry(&pfcd_g->itable.root, "x", &e2), 0);
	cr_assert_eq(e2.ino, e.ino);
	cr_assert_eq(pfc_itable_get(&pfcd_g->itable, e.ino)->nlookup, 2);
	cr_assert_eq(pfcd_make_entry(&pfcd_g->itable.root, "missing", &e2), -ENOENT);
	fix_file_close(&f);
}
