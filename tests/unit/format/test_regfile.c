/* SPDX-License-Identifier: MIT */
/* test_regfile.c - fs/regfile.c: an entry that must be a regular file is never
 * opened when it is a FIFO, a socket or a device node (every case under a
 * timeout: an open of a FIFO for reading would block for ever). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs/err.h"
#include "fs/format.h"
#include "tmpdir.h"

static char dir[] = "/tmp/pfc-test-regfile-XXXXXX";
static int dfd = -1;

static void setup(void)
{
	dfd = tmpdir_make(dir, "printf abc > reg && ln -s reg link && mkdir sub");
}

static void teardown(void)
{
	tmpdir_remove(dir, dfd);
}

TestSuite(regfile, .init = setup, .fini = teardown, .timeout = 10);

/* Every kind in turn in place of `name`: refused with its type, for each flags. */
static void refuses_every_kind(const char *name, int flags)
{
	static const struct {
		unsigned mode;
		const char *what;
	} kinds[] = {
	    {S_IFIFO, "FIFO"},
	    {S_IFSOCK, "socket"},
	    {S_IFCHR, "character device"},
	    {S_IFBLK, "block device"},
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		unsigned type = 0;

		cr_assert_eq(mknodat(dfd, name, kinds[i].mode | 0644, makedev(1, 3)), 0, "%s: %s",
			     kinds[i].what, strerror(errno));
		cr_assert_eq(pfc_open_regular(dfd, name, flags, 0644, &type), PFC_ERR_CORRUPT, "%s",
			     kinds[i].what);
		cr_assert_eq(type, kinds[i].mode, "%s", kinds[i].what);
		cr_assert_str_eq(pfc_file_type_name(type), kinds[i].what);
		cr_assert_eq(unlinkat(dfd, name, 0), 0);
	}
}

Test(regfile, fifo_socket_and_devices_are_refused_unopened)
{
	refuses_every_kind("x", O_RDONLY);
	refuses_every_kind("x", O_RDWR);
	refuses_every_kind("x", O_WRONLY | O_CREAT | O_TRUNC);
}

Test(regfile, regular_files_open_blocking_and_others_are_named)
{
	unsigned type = 0;
	char buf[4];
	int fd = pfc_open_regular(dfd, "reg", O_RDONLY, 0, &type);

	cr_assert_geq(fd, 0);
	cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0, "O_NONBLOCK cleared");
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 3);
	close(fd);
	cr_assert_eq(pfc_open_regular(dfd, "link", O_RDONLY, 0, &type), PFC_ERR_CORRUPT,
		     "a symlink is not followed");
	cr_assert_str_eq(pfc_file_type_name(type), "symlink");
	cr_assert_eq(pfc_open_regular(dfd, "sub", O_RDONLY, 0, &type), PFC_ERR_CORRUPT);
	cr_assert_str_eq(pfc_file_type_name(type), "directory");
	cr_assert_eq(pfc_open_regular(dfd, "none", O_RDONLY, 0, NULL), PFC_ERR_IO);
	cr_assert_eq(errno, ENOENT);
}

Test(regfile, create_and_exclusive_create)
{
	int fd = pfc_open_regular(dfd, "new", O_WRONLY | O_CREAT | O_EXCL, 0600, NULL);
	struct stat st;

	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	close(fd);
	cr_assert_eq(pfc_open_regular(dfd, "new", O_WRONLY | O_CREAT | O_EXCL, 0600, NULL),
		     PFC_ERR_IO);
	cr_assert_eq(errno, EEXIST);
	fd = pfc_open_regular(AT_FDCWD, dir, O_RDONLY, 0, NULL);
	cr_assert_eq(fd, PFC_ERR_CORRUPT, "a path works too (a directory here)");
}
