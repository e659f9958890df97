// SPDX-License-Identifier: MIT
/*
 * walk.c - list the files of a backing tree that carry a file header
 * (status, rewrap, retire).  Names are not decrypted: the walk needs no key.
 * Skipped: the config, directory id files, long-name companions.  Kept:
 * encrypted names, long-name entries and anything else that is a regular
 * file (a sync client's conflict copy of a file still holds a header and a
 * wrapped key that must be rewrapped); the caller decides by parsing.
 *
 * Strays are collected on the way (status warns about them): entries whose
 * name is not pfcrypt's (nor a conflict copy, fs/conflict.c) - plaintext dropped into the
 * backing dir by mistake; nothing below such a directory is listed again -
 * and mount points, which are not walked (another file system is not part
 * of the volume, and rewrap must not write into it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/volume.h"
#include "tools/cli.h"
#include "tools/vol.h"

static int push(struct cli_walk *w, const char *rel)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		char **f = realloc(w->files, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		w->files = f;
		w->cap = cap;
	}
	w->files[w->n] = strdup(rel);
	if (!w->files[w->n])
		return -ENOMEM;
	w->n++;
	return 0;
}

const char *cli_stray_cause(const struct cli_stray *s)
{
	return s->mount ? "a mount point inside the volume (another file system is mounted "
			  "there; not part of the volume, not walked)"
			: "not a pfcrypt name: not part of the volume (plaintext put into the "
			  "backing directory by mistake?)";
}

static int push_stray(struct cli_walk *w, const char *rel, bool mount)
{
	if (w->nstrays == w->capstrays) {
		size_t cap = w->capstrays ? w->capstrays * 2 : 16;
		struct cli_stray *s = realloc(w->strays, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		w->strays = s;
		w->capstrays = cap;
	}
	w->strays[w->nstrays].path = strdup(rel);
	if (!w->strays[w->nstrays].path)
		return -ENOMEM;
	w->strays[w->nstrays++].mount = mount;
	return 0;
}

static char stray_mark; /* a directory's walk arg: it is (below) a stray */

struct walk_ctx {
	struct cli_walk *w;
	char err_path[4096];
};

static int on_entry(void *ctx, struct pfc_walk_dir *dir, const struct pfc_walk_entry *e,
		    void **child)
{
	struct cli_walk *w = ((struct walk_ctx *)ctx)->w;
	enum pfc_entry_kind k = e->kind;
	unsigned char type = e->type;
	bool in_stray = dir->arg == &stray_mark;
	bool foreign = !in_stray && k == PFC_ENTRY_OTHER && !pfc_conflict_copy(e->name, NULL);
	struct stat st;
	int ret;

	if (k == PFC_ENTRY_DOT || k == PFC_ENTRY_CONFIG || k == PFC_ENTRY_DIRID ||
	    k == PFC_ENTRY_LONGNAME_COMPANION || k == PFC_ENTRY_SYMLINKS_DIR)
		return 0; /* not files of the volume (symlink companions: FORMAT.md 8.2) */
	if (type == DT_UNKNOWN || type == DT_DIR) {
		if (fstatat(dir->fd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return 0; /* vanished meanwhile (a live volume) */
		type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
	}
	if (type == DT_DIR && cli_is_mount_point(dir->fd, e->name, &st, dir->st.st_dev))
		return push_stray(w, e->rel, true);
	if (foreign && (ret = push_stray(w, e->rel, false)) < 0)
		return ret;
	if (type == DT_DIR) {
		*child = in_stray || foreign ? &stray_mark : NULL;
		return 1;
	}
	return type == DT_REG ? push(w, e->rel) : 0;
}

static int on_error(void *ctx, const char *rel, void *arg, enum pfc_walk_op op, int err)
{
	struct walk_ctx *wc = ctx;

	(void)arg;
	(void)op;
	snprintf(wc->err_path, sizeof(wc->err_path), "%s%s", *rel ? "./" : ".", rel);
	return -err;
}

int cli_walk_files(const struct cli_vol *v, struct cli_walk *w)
{
	static const struct pfc_walk_ops ops = {.entry = on_entry, .error = on_error};
	struct walk_ctx wc = {.w = w};
	int r;

	memset(w, 0, sizeof(*w));
	r = pfc_walk(v->fd, &ops, &wc, NULL);
	if (r < 0) {
		cli_err(v->path, "cannot walk %s: %s", wc.err_path, strerror(-r));
		cli_walk_free(w);
		return CLI_EXIT_SETUP;
	}
	return 0;
}

void cli_walk_free(struct cli_walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->files[i]);
	free(w->files);
	for (size_t i = 0; i < w->nstrays; i++)
		free(w->strays[i].path);
	free(w->strays);
	memset(w, 0, sizeof(*w));
}
