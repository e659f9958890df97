/* SPDX-License-Identifier: MIT */
/* test_inode.c - fs/daemon/inode.c: lookup by (dev, ino), hard links, forget. */
#include <criterion/criterion.h>
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
	cr_assert_eq(pfc_itable_init(&t, open(dir, O_PATH), count_cleanup), 0);
	cr_assert_eq(pfc_itable_lookup(&t, opath("f", &st), &st, &a), 0);
	cr_assert_eq(pfc_itable_lookup(&t, opath("g", &st), &st, &b), 0);
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

	cr_assert_eq(pfc_itable_init(&t, open(dir, O_PATH), count_cleanup), 0);
	cr_assert_eq(pfc_itable_ino(&t, &t.root), FUSE_ROOT_ID);
	cr_assert_eq(pfc_itable_get(&t, FUSE_ROOT_ID), &t.root);
	fd = open(dir, O_PATH);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(pfc_itable_lookup(&t, fd, &st, &r), 0);
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

	cr_assert_eq(pfc_itable_init(&t, open(dir, O_PATH), count_cleanup), 0);
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		touch(name);
		cr_assert_eq(pfc_itable_lookup(&t, opath(name, &st), &st, &in[i]), 0);
		cr_assert_eq(in[i]->ino, st.st_ino);
	}
	cr_assert_eq(pfc_itable_count(&t), 3000);
	for (int i = 0; i < 3000; i++) {
		struct pfc_inode *again;

		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(pfc_itable_lookup(&t, opath(name, &st), &st, &again), 0);
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
	cr_assert_eq(pfc_itable_init(&t, open(dir, O_PATH), NULL), 0);
	cr_assert_eq(pfc_itable_lookup(&t, opath("gone", &st), &st, &a), 0);
	snprintf(p, sizeof(p), "%s/gone", dir);
	cr_assert_eq(unlink(p), 0);
	cr_assert_eq(fstatat(a->fd, "", &st2, AT_EMPTY_PATH), 0);
	cr_assert_eq(st2.st_ino, st.st_ino);
	cr_assert_eq(st2.st_nlink, 0);
	pfc_itable_destroy(&t);
}
