/* SPDX-License-Identifier: MIT */
/* test_walk.c - fs/walk.c: the backing-tree walker and its callbacks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/volume.h"
#include "helpers.h"
#include "tmpdir.h"

struct seen {
	char log[4096];
	int leaves, errors;
	const char *skip; /* a directory whose entries enter skips */
	const char *stop; /* an entry that stops the walk */
};

static void note(struct seen *s, const char *what, const char *rel)
{
	size_t l = strlen(s->log);

	snprintf(s->log + l, sizeof(s->log) - l, "%s%s:%s", l ? " " : "", what, rel);
}

static int enter(void *ctx, struct pfc_walk_dir *d)
{
	struct seen *s = ctx;

	cr_assert(S_ISDIR(d->st.st_mode));
	note(s, "D", *d->rel ? d->rel : "/");
	return s->skip && !strcmp(d->rel, s->skip) ? 1 : 0;
}

static int entry(void *ctx, struct pfc_walk_dir *d, const struct pfc_walk_entry *e, void **child)
{
	struct seen *s = ctx;
	struct stat st;

	cr_assert_eq(fstatat(d->fd, e->name, &st, AT_SYMLINK_NOFOLLOW), 0, "%s", e->rel);
	if (s->stop && !strcmp(e->rel, s->stop))
		return -ECANCELED;
	if (e->kind == PFC_ENTRY_DIRID)
		return 0;
	note(s, "E", e->rel);
	*child = (char *)d->arg + 1;
	return S_ISDIR(st.st_mode);
}

static void leave(void *ctx, struct pfc_walk_dir *d)
{
	(void)d;
	((struct seen *)ctx)->leaves++;
}

static int error(void *ctx, const char *rel, void *arg, enum pfc_walk_op op, int err)
{
	struct seen *s = ctx;

	(void)arg;
	s->errors++;
	note(s, op == PFC_WALK_OPEN ? "!open" : "!other", rel);
	return err == EACCES ? 0 : -err;
}

static const struct pfc_walk_ops ops = {enter, entry, leave, error};

static char root[] = "/tmp/pfc-test-walk-XXXXXX";
static int rootfd = -1;

static void setup(void)
{
	rootfd = tmpdir_make(root, "mkdir -p a/b c && touch a/f a/b/g .pfcrypt.dirid");
}

static void teardown(void)
{
	tmpdir_remove(root, rootfd);
}

TestSuite(walk, .init = setup, .fini = teardown);

/* Entries in readdir order differ between file systems: compare sorted words. */
static bool has(const struct seen *s, const char *word)
{
	char w[64], buf[4200];

	snprintf(w, sizeof(w), " %s ", word);
	snprintf(buf, sizeof(buf), " %s ", s->log);
	return strstr(buf, w) != NULL;
}

Test(walk, visits_every_directory_and_entry)
{
	static char depth[8];
	struct seen s = {0};

	cr_assert_eq(pfc_walk(rootfd, &ops, &s, depth), 0);
	for (const char *w = "D:/ E:a D:a E:a/f E:a/b D:a/b E:a/b/g E:c"; *w;) {
		char word[32];
		size_t n = strcspn(w, " ");

		memcpy(word, w, n);
		word[n] = '\0';
		cr_assert(has(&s, word), "%s missing in %s", word, s.log);
		w += n + (w[n] == ' ');
	}
	cr_assert_not(has(&s, "E:.pfcrypt.dirid"), "%s", s.log);
	cr_assert(strstr(s.log, "D:a E:a/"), "a directory's entries follow it: %s", s.log);
	cr_assert_eq(s.leaves, 4, "leave for every directory");
	cr_assert_eq(s.errors, 0);
}

Test(walk, enter_can_skip_and_entry_can_stop)
{
	static char depth[8];
	struct seen s = {.skip = "a"};

	cr_assert_eq(pfc_walk(rootfd, &ops, &s, depth), 0);
	cr_assert(has(&s, "D:a"));
	cr_assert_not(has(&s, "E:a/f"), "%s", s.log);
	memset(&s, 0, sizeof(s));
	s.stop = "a/b";
	cr_assert_eq(pfc_walk(rootfd, &ops, &s, depth), -ECANCELED);
	cr_assert_not(has(&s, "D:a/b"), "%s", s.log);
}

Test(walk, a_directory_that_does_not_open_is_an_error)
{
	static char depth[8];
	struct seen s = {0};

	cr_assert_eq(pfc_walk(-1, &ops, &s, depth), -EBADF);
	cr_assert_eq(s.errors, 1);
	cr_assert(has(&s, "!open:"), "%s", s.log);
	cr_assert_eq(s.leaves, 1, "leave also for a directory that did not open");
}
