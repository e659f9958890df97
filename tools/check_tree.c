// SPDX-License-Identifier: MIT
/*
 * check_tree.c - the walk of pfcrypt check: per directory its id(s), every
 * name decrypts, every long name has a matching companion, no companion
 * without its long name, symlink targets decrypt (a long one's companion
 * belongs to it, no companion without its symlink); regular files are queued
 * for the content check.  One thread: names are cheap, blocks are not.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/format.h"
#include "tools/check.h"
#include "tools/cli.h"

static int list_add(struct check_list *l, const char *backing, const char *plain, char *cause)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct check_item *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].backing = strdup(backing);
	l->v[l->n].plain = plain ? strdup(plain) : NULL;
	l->v[l->n].cause = cause;
	if (!l->v[l->n].backing || (plain && !l->v[l->n].plain)) {
		free(l->v[l->n].backing);
		free(l->v[l->n].plain);
		return -1;
	}
	l->n++;
	return 0;
}

static int add_msg(struct check *ck, struct check_list *l, const char *backing, const char *plain,
		   const char *fmt, va_list ap)
{
	char *cause = NULL;
	int r;

	if (vasprintf(&cause, fmt, ap) < 0)
		return -1;
	if (l == &ck->problems && check_capture) {
		r = list_add(check_capture, backing, plain, cause); /* this thread's own list */
	} else {
		pthread_mutex_lock(&ck->lock);
		r = list_add(l, backing, plain, cause);
		pthread_mutex_unlock(&ck->lock);
	}
	if (r < 0)
		free(cause);
	return r;
}

int check_problem(struct check *ck, const char *backing, const char *plain, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = add_msg(ck, &ck->problems, backing, plain, fmt, ap);
	va_end(ap);
	return r;
}

int check_notice(struct check *ck, const char *backing, const char *plain, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = add_msg(ck, &ck->notices, backing, plain, fmt, ap);
	va_end(ap);
	return r;
}

_Thread_local struct check_list *check_capture;

int check_list_move(struct check *ck, struct check_list *from)
{
	int r = 0;

	pthread_mutex_lock(&ck->lock);
	for (size_t i = 0; i < from->n && r == 0; i++) {
		r = list_add(&ck->problems, from->v[i].backing, from->v[i].plain, from->v[i].cause);
		if (r == 0)
			from->v[i].cause = NULL; /* now owned by ck->problems */
	}
	pthread_mutex_unlock(&ck->lock);
	check_list_free(from);
	return r;
}

void check_list_free(struct check_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].backing);
		free(l->v[i].plain);
		free(l->v[i].cause);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

struct dirctx {
	struct check *ck;
	int fd;
	dev_t dev;	   /* the directory's st_dev */
	const char *rel;   /* "" for the root */
	const char *plain; /* "/" for the root; NULL if unknown */
	uint8_t ids[PFC_DIRIDS_MAX][PFC_ID_BYTES];
	size_t nids;
};

static void join(char *out, size_t cap, const char *dir, const char *name)
{
	if (!*dir)
		snprintf(out, cap, "%s", name);
	else
		snprintf(out, cap, "%s/%s", dir, name);
}

/* The plaintext name of entry (name, kind) into out, or a problem; true if known. */
static bool entry_plain(struct dirctx *d, const char *name, enum pfc_entry_kind kind,
			const char *brel, char *out)
{
	char enc[PFC_ENCNAME_BUF];
	const char *e = name;
	size_t elen = strlen(name), olen, matched;
	int r;

	if (kind == PFC_ENTRY_LONGNAME) {
		char comp[PFC_LONGNAME_COMPANION_LEN + 1];
		uint8_t content[PFC_ENCNAME_MAX + 1];
		ssize_t n;
		int fd;

		pfc_longname_companion(name, elen, comp);
		fd = openat(d->fd, comp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			check_problem(d->ck, brel, NULL, "long-name companion %s missing: %s", comp,
				      strerror(errno));
			return false;
		}
		n = read(fd, content, sizeof(content));
		close(fd);
		if (n < 0) {
			check_problem(d->ck, brel, NULL, "cannot read long-name companion: %s",
				      strerror(errno));
			return false;
		}
		r = pfc_longname_companion_parse(name, elen, content, (size_t)n, enc, sizeof(enc),
						 &elen);
		if (r < 0) {
			check_problem(d->ck, brel, NULL, "long-name companion %s %s", comp,
				      r == PFC_ERR_AUTH ? "does not match its long name"
							: "is malformed");
			return false;
		}
		e = enc;
	}
	if (!d->nids)
		return false; /* already reported once for the directory */
	r = pfc_name_decrypt(d->ck->vk, (const uint8_t(*)[PFC_ID_BYTES])d->ids, d->nids, e, elen,
			     out, PFC_NAME_BUF, &olen, &matched);
	if (r < 0) {
		check_problem(d->ck, brel, NULL, "name does not decrypt: %s", pfc_strerror(r));
		return false;
	}
	return true;
}

static int walk(struct check *ck, const char *rel, const char *plain);

/* A symlink's target decrypts; a long one's companion exists, belongs to it
 * and unseals (FORMAT.md 8.2); its name is remembered for the orphan check. */
static int check_symlink(struct dirctx *d, const char *name, const char *brel, const char *plain)
{
	static char target[PFC_SYMLINK_BUF]; /* the walk is one thread */
	static uint8_t content[PFC_SYMLINK_SEALED_MAX + 1];
	char link[PFC_SYMLINK_ENC_BUF], hash[PFC_SYMLINK_HASH_LEN + 1];
	ssize_t n = readlinkat(d->fd, name, link, sizeof(link));
	size_t tlen, clen;
	int r;

	d->ck->symlinks++;
	if (n < 0 || (size_t)n >= sizeof(link))
		return check_problem(d->ck, brel, plain, "cannot read symlink: %s",
				     n < 0 ? strerror(errno) : "target too long");
	if (!pfc_symlink_ref_parse(link, (size_t)n, hash)) {
		r = pfc_symlink_decrypt(d->ck->vk, link, (size_t)n, target, sizeof(target), &tlen);
		sodium_memzero(target, sizeof(target));
		if (r < 0)
			return check_problem(d->ck, brel, plain,
					     "symlink target does not decrypt: %s",
					     pfc_strerror(r));
		return 0;
	}
	if (list_add(&d->ck->symrefs, hash, NULL, NULL) < 0)
		return -1;
	r = pfc_symlink_companion_read(d->ck->v->fd, hash, content, sizeof(content), &clen);
	if (r < 0)
		return check_problem(
		    d->ck, brel, plain, "symlink companion %s/%s %s%s%s", PFC_SYMLINKS_DIR, hash,
		    r == PFC_ERR_NOT_FOUND   ? "missing"
		    : r == PFC_ERR_TOO_LARGE ? "too large"
					     : "unreadable",
		    r == PFC_ERR_IO ? ": " : "", r == PFC_ERR_IO ? strerror(errno) : "");
	r = pfc_symlink_companion_open(d->ck->vk, hash, content, clen, target, sizeof(target),
				       &tlen);
	sodium_memzero(target, sizeof(target));
	if (r < 0)
		return check_problem(d->ck, brel, plain,
				     "symlink companion %s/%s does not authenticate (altered, or "
				     "not this symlink's): %s",
				     PFC_SYMLINKS_DIR, hash, pfc_strerror(r));
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(((const struct check_item *)a)->backing,
		      ((const struct check_item *)b)->backing);
}

/* Every entry of the companion directory is a companion some symlink refers to. */
static int check_companions(struct check *ck)
{
	struct dirent *de;
	DIR *dir;
	int fd, ret = 0;

	fd = openat(ck->v->fd, PFC_SYMLINKS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0
				       : check_problem(ck, PFC_SYMLINKS_DIR, NULL,
						       "cannot open the symlink companion "
						       "directory: %s",
						       strerror(errno));
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -1;
	}
	if (ck->symrefs.n)
		qsort(ck->symrefs.v, ck->symrefs.n, sizeof(*ck->symrefs.v), cmp_str);
	while (ret == 0 && (de = readdir(dir))) {
		struct check_item key = {.backing = de->d_name};
		char hash[PFC_SYMLINK_HASH_LEN + 1], ref[PFC_SYMLINK_REF_LEN + 1], brel[300];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(brel, sizeof(brel), "%s/%s", PFC_SYMLINKS_DIR, de->d_name);
		snprintf(ref, sizeof(ref), "%s%.43s", PFC_SYMLINK_REF_PREFIX, de->d_name);
		if (strlen(de->d_name) != PFC_SYMLINK_HASH_LEN ||
		    !pfc_symlink_ref_parse(ref, strlen(ref), hash)) {
			ret = check_problem(ck, brel, NULL,
					    "not a symlink companion name (foreign entry)");
			continue;
		}
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISREG(st.st_mode)) {
			ret = check_problem(ck, brel, NULL,
					    "symlink companion is not a regular file");
			continue;
		}
		if (!ck->symrefs.n ||
		    !bsearch(&key, ck->symrefs.v, ck->symrefs.n, sizeof(key), cmp_str))
			ret = check_problem(ck, brel, NULL,
					    "orphan symlink companion (no symlink refers to it)");
	}
	closedir(dir);
	return ret;
}

static int visit(struct dirctx *d, const char *name)
{
	enum pfc_entry_kind kind = pfc_entry_classify(name, strlen(name));
	char brel[4096], pname[PFC_NAME_BUF], pchild[8192];
	const char *plain = NULL;
	struct stat st;

	if (kind == PFC_ENTRY_DOT || kind == PFC_ENTRY_CONFIG || kind == PFC_ENTRY_DIRID)
		return 0;
	join(brel, sizeof(brel), d->rel, name);
	if (fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT
			   ? 0
			   : check_problem(d->ck, brel, NULL, "cannot stat: %s", strerror(errno));
	/* Whatever its name: another file system is not the volume's to walk. */
	if (S_ISDIR(st.st_mode) && cli_is_mount_point(d->fd, name, &st, d->dev))
		return check_problem(d->ck, brel, NULL,
				     "a mount point inside the volume (another file system is "
				     "mounted there; not part of the volume, not walked)");
	if (kind == PFC_ENTRY_LONGNAME_COMPANION) {
		char lname[PFC_LONGNAME_LEN + 1];

		memcpy(lname, name, PFC_LONGNAME_LEN);
		lname[PFC_LONGNAME_LEN] = '\0';
		if (faccessat(d->fd, lname, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			check_problem(d->ck, brel, NULL, "orphan long-name companion (no entry %s)",
				      lname);
		return 0;
	}
	if (kind == PFC_ENTRY_SYMLINKS_DIR) {
		if (!*d->rel && S_ISDIR(st.st_mode))
			return 0; /* its entries: check_companions() after the walk */
		return check_problem(d->ck, brel, NULL,
				     "%s is not a directory at the root (foreign entry)",
				     PFC_SYMLINKS_DIR);
	}
	if (kind == PFC_ENTRY_OTHER) {
		/* A conflict copy is still one of our files: its contents get checked. */
		if (!cli_is_conflict_copy(name))
			return check_problem(d->ck, brel, NULL,
					     "not a pfcrypt name (foreign entry, not checked)");
		check_notice(d->ck, brel, NULL, "sync-conflict copy");
	} else if (entry_plain(d, name, kind, brel, pname)) {
		if (d->plain) {
			snprintf(pchild, sizeof(pchild), "%s%s%s", d->plain,
				 strcmp(d->plain, "/") ? "/" : "", pname);
			plain = pchild;
		}
	}
	if (S_ISDIR(st.st_mode))
		return walk(d->ck, brel, plain);
	if (S_ISREG(st.st_mode)) {
		pthread_mutex_lock(&d->ck->lock);
		int r = list_add(&d->ck->files, brel, plain, NULL);
		pthread_mutex_unlock(&d->ck->lock);
		return r;
	}
	if (S_ISLNK(st.st_mode))
		return check_symlink(d, name, brel, plain);
	return 0;
}

static int walk(struct check *ck, const char *rel, const char *plain)
{
	struct dirctx d = {.ck = ck, .rel = rel, .plain = plain};
	struct stat dst;
	size_t primary;
	DIR *dir;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r, ret = 0;

	d.fd = openat(ck->v->fd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d.fd < 0)
		return check_problem(ck, *rel ? rel : ".", plain, "cannot open directory: %s",
				     strerror(errno));
	if (fstat(d.fd, &dst) < 0) {
		ret = check_problem(ck, *rel ? rel : ".", plain, "cannot stat directory: %s",
				    strerror(errno));
		goto out;
	}
	d.dev = dst.st_dev;
	ck->dirs++;
	r = pfc_dirid_load_all(d.fd, d.ids, PFC_DIRIDS_MAX, &d.nids, &primary);
	if (r < 0) {
		d.nids = 0;
		check_problem(ck, *rel ? rel : ".", plain,
			      "directory id %s %s: names in it cannot be decrypted", PFC_DIRID_NAME,
			      r == PFC_ERR_NOT_FOUND ? "missing" : "unreadable");
	} else if (d.nids > 1 && ck->fold) {
		if (check_fold(ck, d.fd, *rel ? rel : ".", plain,
			       (const uint8_t(*)[PFC_ID_BYTES])d.ids, d.nids, primary) < 0)
			ret = -1;
		else if (pfc_dirid_load_all(d.fd, d.ids, PFC_DIRIDS_MAX, &d.nids, &primary) < 0)
			d.nids = 0;
	} else if (d.nids > 1) {
		check_notice(ck, *rel ? rel : ".", plain,
			     "%zu directory ids (a sync conflict); names under any of them decrypt "
			     "(--fold-dirids folds them)",
			     d.nids);
	}
	if (ret < 0)
		goto out;
	/* Read all names first: visit() recurses, and an open DIR per level is enough. */
	dir = fdopendir(openat(d.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!dir) {
		ret = check_problem(ck, *rel ? rel : ".", plain, "cannot read directory: %s",
				    strerror(errno));
		goto out;
	}
	while ((de = readdir(dir))) {
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*nn));

			if (!nn) {
				ret = -1;
				break;
			}
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name))) {
			ret = -1;
			break;
		}
		n++;
	}
	closedir(dir);
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = visit(&d, names[i]);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	close(d.fd);
	return ret;
}

int check_tree(struct check *ck)
{
	int r = walk(ck, "", "/");

	if (r == 0)
		r = check_companions(ck);
	check_list_free(&ck->symrefs);
	if (r < 0) {
		cli_err(ck->v->path, "out of memory while walking");
		return CLI_EXIT_SETUP;
	}
	return 0;
}
