// SPDX-License-Identifier: MIT
/*
 * test_mounts.c - tools/mounts.c: a volume's pfcryptfs mount found in a
 * made-up mountinfo (today's and the legacy naming, octal escapes, other
 * file systems ignored), and mount points inside a directory.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tools/cli.h"

static char dir[64], vol[128], info[128], real[PATH_MAX];

static void setup(void)
{
	strcpy(dir, "/tmp/pfc-cli-mounts-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(vol, sizeof(vol), "%s/my vol", dir); /* a space: \040 in mountinfo */
	cr_assert_eq(mkdir(vol, 0700), 0);
	cr_assert_not_null(realpath(dir, real));
	snprintf(info, sizeof(info), "%s/mountinfo", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(mounts, .init = setup, .fini = teardown);

/* Write a mountinfo from fmt, where %1$s is the real path of dir (nothing in it to escape). */
static void table(const char *fmt)
{
	FILE *f = fopen(info, "w");

	cr_assert_not_null(f);
	fprintf(f, fmt, real);
	fclose(f);
}

Test(mounts, finds_a_pfcryptfs_mount_of_the_volume_and_unescapes)
{
	char mnt[PATH_MAX] = "";

	table("22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n"
	      "40 22 0:50 / /mnt/other rw - fuse.pfcryptfs %1$s/other rw\n"
	      "41 22 0:51 / /mnt/my\\040plain rw - fuse.pfcryptfs %1$s/my\\040vol rw,user_id=0\n");
	cr_expect(cli_mounted_in(info, vol, mnt, sizeof(mnt)));
	cr_expect_str_eq(mnt, "/mnt/my plain");
}

Test(mounts, finds_a_legacy_mount_named_pfcrypt_colon_path)
{
	char mnt[PATH_MAX] = "";

	table("41 22 0:51 / /old rw - fuse.pfcrypt pfcrypt:%1$s/my\\040vol rw\n");
	cr_expect(cli_mounted_in(info, vol, mnt, sizeof(mnt)));
	cr_expect_str_eq(mnt, "/old");
}

Test(mounts, ignores_other_file_systems_sources_and_broken_lines)
{
	char mnt[PATH_MAX] = "untouched";

	table("41 22 0:51 / /a rw - fuse.sshfs %1$s/my\\040vol rw\n"
	      "42 22 0:52 / /b rw - fuse.pfcrypt %1$s/my\\040vol rw\n"
	      "43 22 0:53 / /c rw - fuse.pfcryptfs %1$s/my\\040vol2 rw\n"
	      "44 22 0:54 / /d rw fuse.pfcryptfs %1$s/my\\040vol rw\n"
	      "45 22 0:55 / - fuse.pfcryptfs %1$s/my\\040vol rw\n"
	      "46 22 0:56 / /f rw - fuse.pfcryptfs\n");
	cr_expect_not(cli_mounted_in(info, vol, mnt, sizeof(mnt)));
	cr_expect_str_eq(mnt, "untouched");
}

Test(mounts, a_path_that_does_not_resolve_or_no_table_is_not_mounted)
{
	char mnt[PATH_MAX], gone[160];

	table("41 22 0:51 / /a rw - fuse.pfcryptfs %1$s/my\\040vol rw\n");
	snprintf(gone, sizeof(gone), "%s/nonexistent", dir);
	cr_expect_not(cli_mounted_in(info, gone, mnt, sizeof(mnt)));
	cr_expect_not(cli_mounted_in("/nonexistent/mountinfo", vol, mnt, sizeof(mnt)));
	cr_expect_not(cli_mounted(vol, mnt, sizeof(mnt)));
}

static bool mount_point(const char *parent, const char *name)
{
	struct stat pst, st;
	int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool r;

	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &pst), 0);
	cr_assert_eq(fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	r = cli_is_mount_point(fd, name, &st, pst.st_dev);
	close(fd);
	return r;
}

Test(mounts, mount_points_by_device_and_by_bind_mount)
{
	cr_expect(mount_point("/", "proc"));
	cr_expect_not(mount_point(dir, "my vol"));
	if (mount(vol, vol, NULL, MS_BIND, NULL) < 0)
		cr_skip_test("bind mount not allowed here");
	cr_expect(mount_point(dir, "my vol")); /* same st_dev: the kernel still knows */
	cr_assert_eq(umount2(vol, MNT_DETACH), 0);
	cr_expect_not(mount_point(dir, "my vol"));
}
