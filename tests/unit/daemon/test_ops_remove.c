/* SPDX-License-Identifier: MIT */
/* test_ops_remove.c - fs/daemon/ops_remove.c: unlink, rmdir and rename on
 * encrypted names in the fixture's backing root, called as libfuse calls
 * them (the reply is caught here: this file's fuse_reply_err is the one the
 * handlers link to). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content_fixture.h"

static int replied; /* errno of the last reply */

int fuse_reply_err(fuse_req_t req, int err)
{
	(void)req;
	replied = err;
	return 0;
}

static struct pfc_volkeys *vk;
static int rootfd; /* O_RDONLY of the backing root */

static void names_setup(void)
{
	uint8_t nk[PFC_KEY_BYTES], vid[PFC_ID_BYTES], id[PFC_ID_BYTES];
	int idfd;

	fix_setup();
	randombytes_buf(nk, sizeof(nk));
	randombytes_buf(vid, sizeof(vid));
	cr_assert_eq(pfc_volkeys_new(nk, vid, &vk), 0);
	pfcd_g->vk = vk;
	rootfd = open(fix_dir, O_RDONLY | O_DIRECTORY);
	cr_assert(rootfd >= 0);
	cr_assert_eq(pfc_dirid_create(rootfd, id, &idfd), 0);
	close(idfd);
	replied = -1;
}

static void names_teardown(void)
{
	close(rootfd);
	fix_teardown();
	pfc_volkeys_free(vk);
}

TestSuite(daemon_ops_remove, .init = names_setup, .fini = names_teardown);

static struct pfc_inode *root(void)
{
	return &pfcd_g->itable.root;
}

/* A backing entry for name: a file, or a directory with its id file. */
static void make(const char *name, bool dir)
{
	struct pfc_backing_name bn;
	uint8_t id[PFC_ID_BYTES];
	int fd, idfd;

	cr_assert_eq(pfcd_name_claim(root(), name, &bn), 0);
	if (!dir) {
		fd = openat(rootfd, bn.name, O_CREAT | O_EXCL | O_WRONLY, 0600);
		cr_assert(fd >= 0);
		close(fd);
		return;
	}
	cr_assert_eq(mkdirat(rootfd, bn.name, 0700), 0);
	fd = openat(rootfd, bn.name, O_RDONLY | O_DIRECTORY);
	cr_assert(fd >= 0);
	cr_assert_eq(pfc_dirid_create(fd, id, &idfd), 0);
	close(idfd);
	close(fd);
}

static bool exists(const char *name)
{
	struct pfc_backing_name bn;
	struct stat st;

	return pfcd_name_find(root(), name, &bn, &st) == 0;
}

Test(daemon_ops_remove, unlink_removes_the_name)
{
	make("file", false);
	pfcd_op_unlink(NULL, FUSE_ROOT_ID, "file");
	cr_assert_eq(replied, 0);
	cr_assert(!exists("file"));
	pfcd_op_unlink(NULL, FUSE_ROOT_ID, "file");
	cr_assert_eq(replied, ENOENT);
}

Test(daemon_ops_remove, rmdir_of_a_directory_with_only_its_id_file)
{
	make("d", true);
	make("f", false);
	pfcd_op_rmdir(NULL, FUSE_ROOT_ID, "f");
	cr_assert_eq(replied, ENOTDIR);
	pfcd_op_rmdir(NULL, FUSE_ROOT_ID, "d");
	cr_assert_eq(replied, 0);
	cr_assert(!exists("d"));
}

Test(daemon_ops_remove, rmdir_of_a_non_empty_directory_keeps_its_id)
{
	struct pfc_backing_name bn;
	struct stat st;
	char p[PATH_MAX];
	int fd;

	make("d", true);
	cr_assert_eq(pfcd_name_find(root(), "d", &bn, &st), 0);
	snprintf(p, sizeof(p), "%s/x", bn.name);
	fd = openat(rootfd, p, O_CREAT | O_WRONLY, 0600);
	cr_assert(fd >= 0);
	close(fd);
	pfcd_op_rmdir(NULL, FUSE_ROOT_ID, "d");
	cr_assert_eq(replied, ENOTEMPTY);
	snprintf(p, sizeof(p), "%s/%s", bn.name, PFC_DIRID_NAME);
	cr_assert_eq(fstatat(rootfd, p, &st, 0), 0);
}

Test(daemon_ops_remove, rename_moves_and_replaces)
{
	make("a", false);
	make("b", false);
	pfcd_op_rename(NULL, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "c", 0);
	cr_assert_eq(replied, 0);
	cr_assert(!exists("a"));
	cr_assert(exists("c"));
	pfcd_op_rename(NULL, FUSE_ROOT_ID, "c", FUSE_ROOT_ID, "b", RENAME_NOREPLACE);
	cr_assert_eq(replied, EEXIST);
	pfcd_op_rename(NULL, FUSE_ROOT_ID, "c", FUSE_ROOT_ID, "b", 0);
	cr_assert_eq(replied, 0);
	cr_assert(!exists("c"));
	cr_assert(exists("b"));
}

Test(daemon_ops_remove, rename_refusals)
{
	make("a", false);
	make("d", true);
	pfcd_op_rename(NULL, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "d", 0);
	cr_assert_eq(replied, EISDIR);
	pfcd_op_rename(NULL, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "none", RENAME_EXCHANGE);
	cr_assert_eq(replied, ENOENT);
	pfcd_op_rename(NULL, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "z", 1u << 30);
	cr_assert_eq(replied, EINVAL);
	pfcd_op_rename(NULL, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "a", 0);
	cr_assert_eq(replied, 0);
	cr_assert(exists("a"));
}

Test(daemon_ops_remove, rename_over_an_empty_directory)
{
	make("d1", true);
	make("d2", true);
	pfcd_op_rename(NULL, FUSE_ROOT_ID, "d1", FUSE_ROOT_ID, "d2", 0);
	cr_assert_eq(replied, 0);
	cr_assert(!exists("d1"));
	cr_assert(exists("d2"));
}

Test(daemon_ops_remove, exchange_swaps_the_names)
{
	struct pfc_backing_name bn;
	struct stat a, d;

	make("a", false);
	make("d", true);
	pfcd_op_rename(NULL, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "d", RENAME_EXCHANGE);
	cr_assert_eq(replied, 0);
	cr_assert_eq(pfcd_name_find(root(), "a", &bn, &a), 0);
	cr_assert_eq(pfcd_name_find(root(), "d", &bn, &d), 0);
	cr_assert(S_ISDIR(a.st_mode));
	cr_assert(S_ISREG(d.st_mode));
}
