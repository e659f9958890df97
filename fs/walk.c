/* SPDX-License-Identifier: MIT */
/*
 * walk.c - the walk of a backing tree with callbacks (see volume.h), for
 * every command that visits a whole volume.  Names are read first, one
 * directory stream at a time, so a deep tree costs one descriptor per level
 * (the directory itself) and entries are visited in readdir order.
 */
#include "fs/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct names {
	char **name;
	unsigned char *type;
	size_t n, cap;
};

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->name[i]);
	free(l->name);
	free(l->type);
}

static int names_add(struct names *l, const char *name, unsigned char type)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char **nn = realloc(l->name, cap * sizeof(*nn));
		unsigned char *nt;

		if (!nn)
			return -ENOMEM;
		l->name = nn;
		nt = realloc(l->type, cap);
		if (!nt)
			return -ENOMEM;
		l->type = nt;
		l->cap = cap;
	}
	l->name[l->n] = strdup(name);
	if (!l->name[l->n])
		return -ENOMEM;
	l->type[l->n++] = type;
	return 0;
}

/* Every name of dir->fd but "." and "..": 0, 1 (none: the stream did not
 * open and the error callback said go on), -ENOMEM or the callback's < 0. */
static int read_names(const struct pfc_walk_ops *ops, void *ctx, struct pfc_walk_dir *dir,
		      struct names *l)
{
	struct dirent *de;
	DIR *d = fdopendir(openat(dir->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	int rc = 0;

	if (!d) {
		rc = ops->error(ctx, dir->rel, dir->arg, PFC_WALK_READ, errno);
		return rc < 0 ? rc : 1;
	}
	while (rc == 0 && (errno = 0, de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = names_add(l, de->d_name, de->d_type);
	if (rc == 0 && errno &&
	    (rc = ops->error(ctx, dir->rel, dir->arg, PFC_WALK_READ, errno)) > 0)
		rc = 0;
	closedir(d);
	return rc;
}

static int walk_dir(int rootfd, const struct pfc_walk_ops *ops, void *ctx, const char *rel,
		    void *arg);

static int visit(int rootfd, const struct pfc_walk_ops *ops, void *ctx, struct pfc_walk_dir *dir,
		 const char *name, unsigned char type)
{
	char rel[PATH_MAX];
	struct pfc_walk_entry e = {.name = name, .rel = rel, .type = type};
	void *child = NULL;
	int n, rc;

	n = *dir->rel ? snprintf(rel, sizeof(rel), "%s/%s", dir->rel, name)
		      : snprintf(rel, sizeof(rel), "%s", name);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return (rc = ops->error(ctx, rel, dir->arg, PFC_WALK_PATH, ENAMETOOLONG)) < 0 ? rc
											      : 0;
	e.kind = pfc_entry_classify(name, strlen(name));
	rc = ops->entry(ctx, dir, &e, &child);
	return rc == 1 ? walk_dir(rootfd, ops, ctx, rel, child) : rc;
}

static int walk_dir(int rootfd, const struct pfc_walk_ops *ops, void *ctx, const char *rel,
		    void *arg)
{
	struct pfc_walk_dir dir = {.rel = rel, .arg = arg};
	struct names l = {0};
	int rc;

	dir.fd = openat(rootfd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir.fd < 0) {
		rc = ops->error(ctx, rel, arg, PFC_WALK_OPEN, errno);
		goto out;
	}
	if (fstat(dir.fd, &dir.st) < 0) {
		rc = ops->error(ctx, rel, arg, PFC_WALK_STAT, errno);
		goto out;
	}
	rc = ops->enter ? ops->enter(ctx, &dir) : 0;
	if (rc == 0)
		rc = read_names(ops, ctx, &dir, &l);
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		rc = visit(rootfd, ops, ctx, &dir, l.name[i], l.type[i]);
out:
	if (ops->leave)
		ops->leave(ctx, &dir);
	names_free(&l);
	if (dir.fd >= 0)
		close(dir.fd);
	return rc < 0 ? rc : 0;
}

int pfc_walk(int rootfd, const struct pfc_walk_ops *ops, void *ctx, void *root_arg)
{
	return walk_dir(rootfd, ops, ctx, "", root_arg);
}
