/* SPDX-License-Identifier: MIT */
/* test_inode.c - fs/daemon/inode.c: lookup by (dev, ino), hard links, forget, the
 * bounded descriptors (closed past the cap, reopened through the parent). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/daemon/inode.h"

static char dir[] = "/tmp/daemon-test-inode-XXXXXX";
static int cleanups;

static void count_cleanup(struct pfc_inode *in)
{
	(void)in;
	cleanups++;
}

static int opath(const char *name, struct stat *st)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_PATH | O_NOFOLLOW);
	cr_assert(fd >= 0);
	cr_assert_eq(fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW), 0);
	return fd;
}

static void touch(const char *name)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	cr_assert(fd >= 0);
	close(fd);
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	cleanups = 0;
}

static void teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(dir, sizeof(dir), "/tmp/daemon-test-inode-XXXXXX");
}

TestSuite(inode, .init = setup, .fini = teardown);

Test(inode, hard_links_share_one_inode_and_forget_frees_at_zero)
{
	struct pfc_itable t;
	struct pfc_inode *a, *b;
	struct stat st;
	char p1[256], p2[256];

	touch("f");
	snprintf(p1, sizeof(p1), "%s/f", dir);
	snprintf(p2, sizeof(p2), "%s/g", dir);
	cr_assert_eq(link(p1, p2), 0);
	cr_assert_eq(pfc_itable_init(&t, open(dir, O_PATH), count_cleanup, 100000), 0);
	cr_assert_eq(pfc_itable_lookup(&t, opath("f", &st), &st, &t.root, "f", &a), 0);
	cr_assert_eq(pfc_itable_lookup(&t, opath("g", &st), &st, &t.root, "g", &b), 0);
	cr_assert_eq(a, b, "two names of one backing file are one inode");
	cr_assert_eq(a->nlookup, 2);
	cr_assert_eq(pfc_itable_count(&t), 1);
	cr_assert_eq(pfc_itable_get(&t, pfc_itable_ino(&t, a)), a);
	pfc_itable_forget(&t, pfc_itable_ino(&t, a), 1);
	cr_assert_eq(pfc_itable_count(&t), 1);
	cr_assert_eq(cleanups, 0);
	pfc_itable_forget(&t, pfc_itable_ino(&t, a), 1);
	cr_assert_eq(pfc_itable_count(&t), 0);
	cr_assert_eq(cleanups, 1);
	pfc_itable_destroy(&t);
	cr_assert_eq(cleanups, 2, "root cleaned at destroy");
}

Test(inode, root_maps_to_fuse_root_id_and_is_never_forgotten)
{
	struct pfc_itable t;
	struct pfc_inode *r;
	struct stat st;
	int fd;

	cr_assert_eq(pfc_itable_init(&t, open(dir, O_PATH), count_cleanup, 100000), 0);
	cr_assert_eq(pfc_itable_ino(&t, &t.root), FUSE_ROOT_ID);
	cr_assert_eq(pfc_itable_get(&t, FUSE_ROOT_ID), &t.root);
	fd = open(dir, O_PATH);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(pfc_itable_lookup(&t, fd, &st, &t.root, ".", &r), 0);
	cr_assert_eq(r, &t.root);
	pfc_itable_forget(&t, FUSE_ROOT_ID, 100);
	cr_assert_eq(cleanups, 0);
	pfc_itable_destroy(&t);
}

Test(inode, many_files_survive_table_growth)
{
	struct pfc_itable t;
	struct pfc_inode *in[3000];
	struct stat st;
	char name[32];

	cr_assert_eq(pfc_itable_init(&t, open(dir, O_PATH), count_cleanup, 100000), 0);
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		touch(name);
		cr_assert_eq(pfc_itable_lookup(&t, opath(name, &st), &st, &t.root, name, &in[i]),
			     0);
		cr_assert_eq(in[i]->ino, st.st_ino);
	}
	cr_assert_eq(pfc_itable_count(&t), 3000);
	for (int i = 0; i < 3000; i++) {
		struct pfc_inode *again;

		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(pfc_itable_lookup(&t, opath(name, &st), &st, &t.root, name, &again),
			     0);
		cr_assert_eq(again, in[i]);
		pfc_itable_forget(&t, pfc_itable_ino(&t, again), 2);
	}
	cr_assert_eq(pfc_itable_count(&t), 0);
	cr_assert_eq(cleanups, 3000);
	pfc_itable_destroy(&t);
}

Test(inode, an_unlinked_file_stays_reachable_through_its_inode)
{
	struct pfc_itable t;
	struct pfc_inode *a;
	struct stat st, st2;
	char p[256];

	touch("gone");
	cr_assert_eq(pfc_itable_init(&t, open(dir, O_PATH), NULL, 100000), 0);
	cr_assert_eq(pfc_itable_lookup(&t, opath("gone", &st), &st, &t.root, "gone", &a), 0);
	snprintf(p, sizeof(p), "%s/gone", dir);
	/* as ops_remove.c does: hold the descriptor across the unlink */
	cr_assert_geq(pfc_inode_fd(&t, a, NULL, NULL), 0);
	cr_assert_eq(unlink(p), 0);
	pfc_itable_unnamed(&t, a, &t.root, "gone");
	pfc_inode_fd_put(&t, a);
	cr_assert(a->orphan);
	cr_assert_eq(pfc_itable_shrink(&t, 1000), 0, "an orphan's descriptor is never closed");
	cr_assert_geq(pfc_inode_fd(&t, a, NULL, NULL), 0);
	cr_assert_eq(fstatat(a->fd, "", &st2, AT_EMPTY_PATH), 0);
	cr_assert_eq(st2.st_ino, st.st_ino);
	cr_assert_eq(st2.st_nlink, 0);
	pfc_inode_fd_put(&t, a);
	pfc_itable_destroy(&t);
}

static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 65536; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

Test(inode, descriptors_stay_under_the_cap_and_reopen_through_the_parent)
{
	struct pfc_itable t;
	struct pfc_inode *d, *in[500];
	struct stat st;
	char name[64], p[256];
	int base, fd;

	snprintf(p, sizeof(p), "%s/sub", dir);
	cr_assert_eq(mkdir(p, 0700), 0);
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "sub/f%d", i);
		touch(name);
	}
	base = open_fds();
	cr_assert_eq(pfc_itable_init(&t, open(dir, O_PATH), count_cleanup, 32), 0);
	cr_assert_eq(pfc_itable_lookup(&t, opath("sub", &st), &st, &t.root, "sub", &d), 0);
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "sub/f%d", i);
		fd = opath(name, &st);
		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(pfc_itable_lookup(&t, fd, &st, d, name, &in[i]), 0);
		cr_assert_leq(t.nfds, 32);
	}
	cr_assert_leq(open_fds(), base + 1 + 32, "root + the cap, whatever the count");
	cr_assert_eq(pfc_itable_count(&t), 501);
	/* every inode still answers, with its own object, parent reopened too */
	for (int i = 0; i < 500; i++) {
		fd = pfc_inode_fd(&t, in[i], NULL, NULL);
		cr_assert_geq(fd, 0, "inode %d reopens", i);
		cr_assert_eq(fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW), 0);
		cr_assert_eq(st.st_ino, in[i]->ino);
		pfc_inode_fd_put(&t, in[i]);
		cr_assert_leq(t.nfds, 32);
	}
	cr_assert_gt(t.reopens, 0);
	/* a held descriptor is never closed, whatever the pressure */
	fd = pfc_inode_fd(&t, in[7], NULL, NULL);
	pfc_itable_shrink(&t, 100000);
	cr_assert_eq(t.nfds, 1, "only the held one is left");
	cr_assert_eq(in[7]->fd, fd);
	cr_assert_eq(fcntl(fd, F_GETFD) >= 0, 1);
	pfc_inode_fd_put(&t, in[7]);
	for (int i = 0; i < 500; i++)
		pfc_itable_forget(&t, pfc_itable_ino(&t, in[i]), 1);
	cr_assert_eq(pfc_itable_count(&t), 1, "the directory is still known");
	pfc_itable_forget(&t, pfc_itable_ino(&t, d), 1);
	cr_assert_eq(pfc_itable_count(&t), 0);
	cr_assert_eq(cleanups, 501);
	pfc_itable_destroy(&t);
	cr_assert_eq(open_fds(), base);
}

Test(inode, a_renamed_entry_reopens_under_its_new_name_and_a_replaced_one_is_stale)
{
	struct pfc_itable t;
	struct pfc_inode *a, *b;
	struct stat st;
	char p1[256], p2[256];
	int fd;

	touch("a");
	touch("b");
	cr_assert_eq(pfc_itable_init(&t, open(dir, O_PATH), NULL, 100), 0);
	cr_assert_eq(pfc_itable_lookup(&t, opath("a", &st), &st, &t.root, "a", &a), 0);
	cr_assert_eq(pfc_itable_lookup(&t, opath("b", &st), &st, &t.root, "b", &b), 0);
	snprintf(p1, sizeof(p1), "%s/a", dir);
	snprintf(p2, sizeof(p2), "%s/a2", dir);
	cr_assert_eq(rename(p1, p2), 0);
	pfc_itable_renamed(&t, a, &t.root, "a", &t.root, "a2");
	cr_assert_eq(pfc_itable_shrink(&t, 10), 2);
	fd = pfc_inode_fd(&t, a, NULL, NULL);
	cr_assert_geq(fd, 0, "reopened by its new name");
	pfc_inode_fd_put(&t, a);
	/* changed from outside: b's name now holds another file */
	cr_assert_eq(pfc_itable_shrink(&t, 10), 1);
	snprintf(p1, sizeof(p1), "%s/b", dir);
	cr_assert_eq(rename(p2, p1), 0);
	cr_assert_eq(pfc_inode_fd(&t, b, NULL, NULL), -ESTALE);
	pfc_itable_destroy(&t);
}
