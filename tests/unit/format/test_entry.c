/* SPDX-License-Identifier: MIT */
/* test_entry.c - fs/entry.c: a backing directory entry to its plaintext name. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs/volume.h"
#include "helpers.h"
#include "tmpdir.h"

static struct pfc_volkeys *vk;
static uint8_t ids[2][PFC_ID_BYTES];
static char dir[] = "/tmp/pfc-test-entry-XXXXXX";
static int dfd = -1;

static void setup(void)
{
	fmt_init();
	vk = make_volkeys(5, 6);
	fill(ids[0], PFC_ID_BYTES, 10);
	fill(ids[1], PFC_ID_BYTES, 20);
	dfd = tmpdir_make(dir, NULL);
}

static void teardown(void)
{
	tmpdir_remove(dir, dfd);
	pfc_volkeys_free(vk);
}

/* A 200-byte name of byte c (a long name: FORMAT.md 5.5). */
static const char *long_name(char c)
{
	static char n[201];

	memset(n, c, 200);
	n[200] = '\0';
	return n;
}

static void put(const char *name, const char *content)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert_geq(fd, 0, "%s", name);
	cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

/* The backing form of name under ids[id]; a long name's companion is written. */
static void make(const char *name, int id, struct pfc_backing_name *bn)
{
	cr_assert_eq(pfc_name_to_backing(vk, ids[id], name, strlen(name), bn), 0);
	put(bn->name, "");
	if (bn->is_long)
		put(bn->companion, bn->enc);
}

TestSuite(entry, .init = setup, .fini = teardown);

Test(entry, names_under_any_id_and_long_names)
{
	const char *longname = long_name('x');
	struct pfc_backing_name a, b;
	struct pfc_entry_name e;

	make("report.txt", 1, &a);
	make(longname, 0, &b);
	cr_assert_eq(pfc_entry_name(vk, dfd, a.name, ids, 2, &e), 0);
	cr_assert_str_eq(e.name, "report.txt");
	cr_assert_eq(e.len, 10);
	cr_assert_eq(e.matched, 1);
	cr_assert_eq(e.marker, 0);
	cr_assert_str_eq(e.companion, "");
	cr_assert_eq(pfc_entry_name(vk, dfd, b.name, ids, 2, &e), 0);
	cr_assert_str_eq(e.name, longname);
	cr_assert_eq(e.matched, 0);
	cr_assert_str_eq(e.companion, b.companion);
	cr_assert_eq(pfc_entry_name(vk, dfd, a.name, ids + 1, 1, &e), 0, "the id alone");
	cr_assert_eq(pfc_entry_name(vk, dfd, a.name, ids, 1, &e), PFC_ERR_AUTH, "another id");
	cr_assert_eq(e.step, PFC_ENTRY_STEP_DECRYPT);
	cr_assert_eq(pfc_entry_name(vk, dfd, a.name, ids, 0, &e), PFC_ERR_AUTH, "no id at all");
}

Test(entry, conflict_copies_keep_their_marker)
{
	const char *longname = long_name('y');
	char copy[400];
	struct pfc_backing_name a, b;
	struct pfc_entry_name e;

	make("doc", 0, &a);
	make(longname, 1, &b);
	snprintf(copy, sizeof(copy), "%s.sync-conflict-20260101-120000-ABCDEFG", a.name);
	cr_assert_eq(pfc_entry_name(vk, dfd, copy, ids, 2, &e), 0);
	cr_assert_str_eq(e.name, "doc.sync-conflict-20260101-120000-ABCDEFG");
	cr_assert_eq(e.marker, 3);
	/* a long name's copy is read through the companion of the original */
	snprintf(copy, sizeof(copy), "%s (Ann's conflicted copy 2026-01-02)", b.name);
	cr_assert_eq(pfc_entry_name(vk, dfd, copy, ids, 2, &e), 0);
	cr_assert_eq(e.marker, 200);
	cr_assert_str_eq(e.name + 200, " (Ann's conflicted copy 2026-01-02)");
	/* 200 + 60 bytes: longer than a name may be */
	snprintf(copy, sizeof(copy), "%s.sync-conflict-%s", b.name,
		 "0123456789012345678901234567890123456789012345");
	cr_assert_eq(pfc_entry_name(vk, dfd, copy, ids, 2, &e), PFC_ERR_NAME_TOO_LONG);
	cr_assert_eq(e.step, PFC_ENTRY_STEP_MARKER);
}

Test(entry, what_is_not_a_name_and_broken_companions)
{
	const char *longname = long_name('z');
	struct pfc_backing_name b;
	struct pfc_entry_name e;
	char enc[PFC_ENCNAME_BUF];
	size_t elen;
	enum pfc_entry_step step = PFC_ENTRY_STEP_NONE;

	cr_assert_eq(pfc_entry_name(vk, dfd, "notes.conflict.txt", ids, 2, &e), 1);
	cr_assert_eq(pfc_entry_name(vk, dfd, PFC_DIRID_NAME, ids, 2, &e), 1);
	cr_assert_eq(pfc_entry_name(vk, dfd, PFC_CONFIG_NAME, ids, 2, &e), 1);
	cr_assert_eq(pfc_entry_name(vk, dfd, "..", ids, 2, &e), 1);
	cr_assert_eq(pfc_name_to_backing(vk, ids[0], longname, 200, &b), 0);
	cr_assert_eq(pfc_entry_name(vk, dfd, b.companion, ids, 2, &e), 1, "a companion");
	cr_assert_eq(pfc_entry_name(vk, dfd, b.name, ids, 2, &e), PFC_ERR_IO, "no companion");
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(e.step, PFC_ENTRY_STEP_OPEN);
	cr_assert_str_eq(e.companion, b.companion);
	put(b.companion, "not an encoding");
	cr_assert_lt(pfc_entry_encoding(dfd, b.name, PFC_ENTRY_LONGNAME, enc, &elen, NULL, &step),
		     0);
	cr_assert_eq(step, PFC_ENTRY_STEP_PARSE);
	put(b.companion, b.enc);
	cr_assert_eq(pfc_entry_encoding(dfd, b.name, PFC_ENTRY_LONGNAME, enc, &elen, NULL, &step),
		     0);
	cr_assert_eq(elen, b.enc_len);
	cr_assert_str_eq(enc, b.enc);
}

/* A FIFO (or socket, or device) in place of a companion is never opened: an
 * open for reading would block until a writer came (issue 17 point 2). */
Test(entry, a_companion_that_is_not_a_regular_file, .timeout = 10)
{
	const char *longname = long_name('f');
	struct pfc_backing_name b;
	struct pfc_entry_name e;
	const unsigned kinds[] = {S_IFIFO, S_IFSOCK, S_IFCHR};

	cr_assert_eq(pfc_name_to_backing(vk, ids[0], longname, 200, &b), 0);
	put(b.name, "");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		cr_assert_eq(mknodat(dfd, b.companion, kinds[i] | 0644, makedev(1, 3)), 0);
		cr_assert_eq(pfc_entry_name(vk, dfd, b.name, ids, 2, &e), PFC_ERR_CORRUPT);
		cr_assert_eq(e.step, PFC_ENTRY_STEP_TYPE);
		cr_assert_eq(e.companion_type, kinds[i]);
		cr_assert_str_eq(e.companion, b.companion);
		cr_assert_eq(unlinkat(dfd, b.companion, 0), 0);
	}
	put(b.companion, b.enc);
	cr_assert_eq(pfc_entry_name(vk, dfd, b.name, ids, 2, &e), 0);
	cr_assert_str_eq(e.name, longname);
}
