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
#include "fs/volume.h"
#include "tools/check.h"
#include "tools/cli.h"

static int list_add_at(struct check_list *l, const char *backing, const char *plain, char *cause,
		       const char *code, struct check_at at)
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
	l->v[l->n].code = code;
	l->v[l->n].at = at;
	if (!l->v[l->n].backing || (plain && !l->v[l->n].plain)) {
		free(l->v[l->n].backing);
		free(l->v[l->n].plain);
		return -1;
	}
	l->n++;
	return 0;
}

static int list_add(struct check_list *l, const char *backing, const char *plain, char *cause)
{
	return list_add_at(l, backing, plain, cause, NULL, CHECK_NOWHERE);
}

static int add_msg(struct check *ck, struct check_list *l, const char *code, const char *backing,
		   const char *plain, struct check_at at, const char *fmt, va_list ap)
{
	char *cause = NULL;
	int r;

	if (vasprintf(&cause, fmt, ap) < 0)
		return -1;
	if (l == &ck->problems && check_capture) {
		r = list_add_at(check_capture, backing, plain, cause, code, at); /* this thread's */
	} else {
		pthread_mutex_lock(&ck->lock);
		r = list_add_at(l, backing, plain, cause, code, at);
		pthread_mutex_unlock(&ck->lock);
	}
	if (r < 0)
		free(cause);
	return r;
}

int check_problem(struct check *ck, const char *code, const char *backing, const char *plain,
		  const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = add_msg(ck, &ck->problems, code, backing, plain, CHECK_NOWHERE, fmt, ap);
	va_end(ap);
	return r;
}

int check_block_problem(struct check *ck, const char *code, const struct check_item *file,
			struct check_at at, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = add_msg(ck, &ck->problems, code, file->backing, file->plain, at, fmt, ap);
	va_end(ap);
	return r;
}

int check_notice(struct check *ck, const char *code, const char *backing, const char *plain,
		 const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = add_msg(ck, &ck->notices, code, backing, plain, CHECK_NOWHERE, fmt, ap);
	va_end(ap);
	return r;
}

_Thread_local struct check_list *check_capture;

int check_list_move(struct check *ck, struct check_list *from)
{
	int r = 0;

	pthread_mutex_lock(&ck->lock);
	for (size_t i = 0; i < from->n && r == 0; i++) {
		r = list_add_at(&ck->problems, from->v[i].backing, from->v[i].plain,
				from->v[i].cause, from->v[i].code, from->v[i].at);
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

/* A directory on the walk: its plaintext path and directory ids. */
struct dirctx {
	char *plain; /* "/" for the root; NULL if unknown */
	uint8_t ids[PFC_DIRIDS_MAX][PFC_ID_BYTES];
	size_t nids;
};

/* The plaintext name of entry into out, or a problem; true if known. */
static bool entry_plain(struct check *ck, struct pfc_walk_dir *dir, const char *name,
			const char *brel, char *out)
{
	const struct dirctx *d = dir->arg;
	struct pfc_entry_name e;
	int r = pfc_entry_name(ck->vk, dir->fd, name, (const uint8_t(*)[PFC_ID_BYTES])d->ids,
			       d->nids, &e);

	if (r == 0) {
		memcpy(out, e.name, e.len + 1);
		return true;
	}
	if (e.step == PFC_ENTRY_STEP_TYPE)
		check_problem(ck, "not_regular_file", brel, NULL,
			      "long-name companion %s is not a regular file (%s): the name cannot "
			      "be read",
			      e.companion, pfc_file_type_name(e.companion_type));
	else if (r == PFC_ERR_IO && e.step == PFC_ENTRY_STEP_OPEN)
		check_problem(ck, "companion_missing", brel, NULL,
			      "long-name companion %s missing: %s", e.companion, strerror(errno));
	else if (r == PFC_ERR_IO)
		check_problem(ck, "companion_unreadable", brel, NULL,
			      "cannot read long-name companion: %s", strerror(errno));
	else if (e.step == PFC_ENTRY_STEP_PARSE)
		check_problem(ck, r == PFC_ERR_AUTH ? "companion_mismatch" : "companion_malformed",
			      brel, NULL, "long-name companion %s %s", e.companion,
			      r == PFC_ERR_AUTH ? "does not match its long name" : "is malformed");
	else if (e.step == PFC_ENTRY_STEP_MARKER)
		check_problem(ck, "conflict_name_too_long", brel, NULL,
			      "conflict copy: the name with its marker is longer than %d bytes",
			      PFC_NAME_MAX);
	else if (d->nids) /* else already reported once for the directory */
		check_problem(ck, "name_undecryptable", brel, NULL, "name does not decrypt: %s",
			      pfc_strerror(r));
	return false;
}

/* A symlink's target decrypts; a long one's companion exists, belongs to it
 * and unseals (FORMAT.md 8.2); its name is remembered for the orphan check. */
static int check_symlink(struct check *ck, int dfd, const char *name, const char *brel,
			 const char *plain)
{
	static char target[PFC_SYMLINK_BUF]; /* the walk is one thread */
	static uint8_t content[PFC_SYMLINK_SEALED_MAX + 1];
	char link[PFC_SYMLINK_ENC_BUF], hash[PFC_SYMLINK_HASH_LEN + 1];
	ssize_t n = readlinkat(dfd, name, link, sizeof(link));
	size_t tlen, clen;
	int r;

	ck->symlinks++;
	if (n < 0 || (size_t)n >= sizeof(link))
		return check_problem(ck, "symlink_unreadable", brel, plain,
				     "cannot read symlink: %s",
				     n < 0 ? strerror(errno) : "target too long");
	if (!pfc_symlink_ref_parse(link, (size_t)n, hash)) {
		r = pfc_symlink_decrypt(ck->vk, link, (size_t)n, target, sizeof(target), &tlen);
		sodium_memzero(target, sizeof(target));
		if (r < 0)
			return check_problem(ck, "symlink_undecryptable", brel, plain,
					     "symlink target does not decrypt: %s",
					     pfc_strerror(r));
		return 0;
	}
	if (list_add(&ck->symrefs, hash, NULL, NULL) < 0)
		return -1;
	r = pfc_symlink_companion_read(ck->v->fd, hash, content, sizeof(content), &clen);
	if (r < 0)
		return check_problem(
		    ck,
		    r == PFC_ERR_NOT_FOUND ? "symlink_companion_missing"
					   : "symlink_companion_unreadable",
		    brel, plain, "symlink companion %s/%s %s%s%s", PFC_SYMLINKS_DIR, hash,
		    r == PFC_ERR_NOT_FOUND   ? "missing"
		    : r == PFC_ERR_TOO_LARGE ? "too large"
					     : "unreadable",
		    r == PFC_ERR_IO ? ": " : "", r == PFC_ERR_IO ? strerror(errno) : "");
	r = pfc_symlink_companion_open(ck->vk, hash, content, clen, target, sizeof(target), &tlen);
	sodium_memzero(target, sizeof(target));
	if (r < 0)
		return check_problem(ck, "symlink_companion_bad", brel, plain,
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
				       : check_problem(ck, "io_error", PFC_SYMLINKS_DIR, NULL,
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
			ret = check_problem(ck, "foreign_entry", brel, NULL,
					    "not a symlink companion name (foreign entry)");
			continue;
		}
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISREG(st.st_mode)) {
			ret = check_problem(ck, "not_regular_file", brel, NULL,
					    "symlink companion is not a regular file (%s)",
					    pfc_file_type_name(st.st_mode));
			continue;
		}
		if (!ck->symrefs.n ||
		    !bsearch(&key, ck->symrefs.v, ck->symrefs.n, sizeof(key), cmp_str))
			ret = check_problem(ck, "symlink_companion_orphan", brel, NULL,
					    "orphan symlink companion (no symlink refers to it)");
	}
	closedir(dir);
	return ret;
}

/* Entries that are not files: companions, the symlink companion directory,
 * foreign names.  1 if e is a file of the volume (go on), else check_problem's. */
static int visit_special(struct check *ck, struct pfc_walk_dir *dir, const struct pfc_walk_entry *e,
			 const struct stat *st)
{
	/* the volume's own files are regular files (FORMAT.md 5.4, 5.5), never opened if not */
	if ((e->kind == PFC_ENTRY_LONGNAME_COMPANION || e->kind == PFC_ENTRY_CONFIG ||
	     e->kind == PFC_ENTRY_DIRID) &&
	    !S_ISREG(st->st_mode))
		return check_problem(ck, "not_regular_file", e->rel, NULL,
				     "%s is not a regular file (%s)",
				     e->kind == PFC_ENTRY_LONGNAME_COMPANION ? "long-name companion"
				     : e->kind == PFC_ENTRY_DIRID	     ? "directory id file"
									     : "config file",
				     pfc_file_type_name(st->st_mode));
	if (e->kind == PFC_ENTRY_CONFIG || e->kind == PFC_ENTRY_DIRID)
		return 0;
	if (e->kind == PFC_ENTRY_LONGNAME_COMPANION) {
		char lname[PFC_LONGNAME_LEN + 1];

		memcpy(lname, e->name, PFC_LONGNAME_LEN);
		lname[PFC_LONGNAME_LEN] = '\0';
		if (faccessat(dir->fd, lname, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			check_problem(ck, "companion_orphan", e->rel, NULL,
				      "orphan long-name companion (no entry %s)", lname);
		return 0;
	}
	if (e->kind == PFC_ENTRY_SYMLINKS_DIR) {
		if (!*dir->rel && S_ISDIR(st->st_mode))
			return 0; /* its entries: check_companions() after the walk */
		return check_problem(ck, "foreign_entry", e->rel, NULL,
				     "%s is not a directory at the root (foreign entry)",
				     PFC_SYMLINKS_DIR);
	}
	/* A conflict copy is still one of our files: its contents get checked. */
	if (e->kind == PFC_ENTRY_OTHER && !pfc_conflict_copy(e->name, NULL))
		return check_problem(ck, "foreign_entry", e->rel, NULL,
				     "not a pfcrypt name (foreign entry, not checked)");
	if (e->kind == PFC_ENTRY_OTHER &&
	    check_notice(ck, "conflict_copy", e->rel, NULL, "sync-conflict copy") < 0)
		return -1;
	return 1;
}

/* A subdirectory's walk state (freed by on_leave).  1 (descend), or -1. */
static int descend(const char *plain, void **child)
{
	struct dirctx *c = calloc(1, sizeof(*c));

	if (!c || (plain && !(c->plain = strdup(plain)))) {
		free(c);
		return -1;
	}
	*child = c;
	return 1;
}

static int on_entry(void *ctx, struct pfc_walk_dir *dir, const struct pfc_walk_entry *e,
		    void **child)
{
	struct check *ck = ctx;
	const struct dirctx *d = dir->arg;
	char pname[PFC_NAME_BUF], pchild[8192];
	const char *plain = NULL;
	struct stat st;
	int r;

	if (fstatat(dir->fd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0
				       : check_problem(ck, "io_error", e->rel, NULL,
						       "cannot stat: %s", strerror(errno));
	/* Whatever its name: another file system is not the volume's to walk. */
	if (S_ISDIR(st.st_mode) && cli_is_mount_point(dir->fd, e->name, &st, dir->st.st_dev))
		return check_problem(ck, "mount_point", e->rel, NULL,
				     "a mount point inside the volume (another file system is "
				     "mounted there; not part of the volume, not walked)");
	if ((r = visit_special(ck, dir, e, &st)) != 1)
		return r;
	if (entry_plain(ck, dir, e->name, e->rel, pname) && d->plain) {
		snprintf(pchild, sizeof(pchild), "%s%s%s", d->plain,
			 strcmp(d->plain, "/") ? "/" : "", pname);
		plain = pchild;
	}
	if (S_ISDIR(st.st_mode))
		return descend(plain, child);
	if (S_ISREG(st.st_mode)) {
		pthread_mutex_lock(&ck->lock);
		r = list_add(&ck->files, e->rel, plain, NULL);
		pthread_mutex_unlock(&ck->lock);
		return r;
	}
	if (S_ISLNK(st.st_mode))
		return check_symlink(ck, dir->fd, e->name, e->rel, plain);
	return 0;
}

/* A directory: its ids (folded with --fold-dirids), or a problem. */
static int on_enter(void *ctx, struct pfc_walk_dir *dir)
{
	struct check *ck = ctx;
	struct dirctx *d = dir->arg;
	const char *rel = *dir->rel ? dir->rel : ".";
	struct pfc_dirid_odd odd;
	size_t primary;
	int r;

	ck->dirs++;
	r = pfc_dirid_load_report(dir->fd, d->ids, PFC_DIRIDS_MAX, &d->nids, &primary, &odd);
	if (r < 0) {
		d->nids = 0;
		check_problem(ck, r == PFC_ERR_NOT_FOUND && !odd.n ? "dirid_missing" : "dirid_bad",
			      rel, d->plain, "directory id %s %s: names in it cannot be decrypted",
			      r == PFC_ERR_NOT_FOUND && odd.n ? odd.name : PFC_DIRID_NAME,
			      r != PFC_ERR_NOT_FOUND ? "unreadable"
			      : odd.n		     ? "not a regular file"
						     : "missing");
	} else if (d->nids > 1 && ck->fold) {
		if (check_fold(ck, dir->fd, rel, d->plain, (const uint8_t(*)[PFC_ID_BYTES])d->ids,
			       d->nids, primary) < 0)
			return -1;
		if (pfc_dirid_load_all(dir->fd, d->ids, PFC_DIRIDS_MAX, &d->nids, &primary) < 0)
			d->nids = 0;
	} else if (d->nids > 1) {
		check_notice(ck, "dirids_several", rel, d->plain,
			     "%zu directory ids (a sync conflict); names under any of them decrypt "
			     "(--fold-dirids folds them)",
			     d->nids);
	}
	return 0;
}

static void on_leave(void *ctx, struct pfc_walk_dir *dir)
{
	struct dirctx *d = dir->arg;

	(void)ctx;
	free(d->plain);
	free(d);
}

static int on_error(void *ctx, const char *rel, void *arg, enum pfc_walk_op op, int err)
{
	static const char *const what[] = {
	    [PFC_WALK_OPEN] = "cannot open directory",
	    [PFC_WALK_STAT] = "cannot stat directory",
	    [PFC_WALK_READ] = "cannot read directory",
	    [PFC_WALK_PATH] = "cannot walk",
	};
	const struct dirctx *d = arg;

	return check_problem(ctx, "io_error", *rel ? rel : ".",
			     op == PFC_WALK_PATH ? NULL : d->plain, "%s: %s", what[op],
			     strerror(err));
}

int check_tree(struct check *ck)
{
	static const struct pfc_walk_ops ops = {on_enter, on_entry, on_leave, on_error};
	void *root = NULL;
	int r = descend("/", &root) < 0 ? -1 : pfc_walk(ck->v->fd, &ops, ck, root);

	if (r == 0)
		r = check_companions(ck);
	check_list_free(&ck->symrefs);
	if (r < 0) {
		cli_err(ck->v->path, "out of memory while walking");
		return CLI_EXIT_SETUP;
	}
	return 0;
}
