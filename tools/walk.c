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
 * name is not pfcrypt's (nor a conflict copy) - plaintext dropped into the
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

#include "fs/format.h"
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

bool cli_is_conflict_copy(const char *name)
{
	return strstr(name, ".sync-conflict-") || strstr(name, "conflicted copy") ||
	       strstr(name, ".conflict") || strstr(name, "(conflict");
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

/* in_stray: rel is (below) a directory already reported as a stray. */
static int walk_dir(int rootfd, const char *rel, bool in_stray, struct cli_walk *w, char *err_path,
		    size_t err_len)
{
	struct stat dst;
	DIR *d;
	struct dirent *de;
	int fd, ret = 0;

	fd = openat(rootfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &dst) < 0 || !(d = fdopendir(fd))) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		snprintf(err_path, err_len, "%s", rel);
		return ret;
	}
	while ((errno = 0, de = readdir(d))) {
		enum pfc_entry_kind k = pfc_entry_classify(de->d_name, strlen(de->d_name));
		unsigned char type = de->d_type;
		bool foreign =
		    !in_stray && k == PFC_ENTRY_OTHER && !cli_is_conflict_copy(de->d_name);
		struct stat st;
		char child[4096];
		const char *crel;

		if (k == PFC_ENTRY_DOT || k == PFC_ENTRY_CONFIG || k == PFC_ENTRY_DIRID ||
		    k == PFC_ENTRY_LONGNAME_COMPANION || k == PFC_ENTRY_SYMLINKS_DIR)
			continue; /* not files of the volume (symlink companions: FORMAT.md 8.2) */
		if (type == DT_UNKNOWN || type == DT_DIR) {
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue; /* vanished meanwhile (a live volume) */
			type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
		}
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", rel, de->d_name) >=
		    sizeof(child)) {
			snprintf(err_path, err_len, "%s/%s", rel, de->d_name);
			ret = -ENAMETOOLONG;
			break;
		}
		/* Paths are kept relative to the root ("./a/b" -> "a/b"). */
		crel = child + 2 * (child[0] == '.' && child[1] == '/');
		if (type == DT_DIR && cli_is_mount_point(dirfd(d), de->d_name, &st, dst.st_dev)) {
			ret = push_stray(w, crel, true);
			if (ret < 0)
				break;
			continue;
		}
		if (foreign && (ret = push_stray(w, crel, false)) < 0)
			break;
		if (type != DT_DIR && type != DT_REG)
			continue;
		ret = type == DT_DIR
			  ? walk_dir(rootfd, child, in_stray || foreign, w, err_path, err_len)
			  : push(w, crel);
		if (ret < 0)
			break;
	}
	if (!ret && errno) {
		ret = -errno;
		snprintf(err_path, err_len, "%s", rel);
	}
	closedir(d);
	return ret;
}

int cli_walk_files(const struct cli_vol *v, struct cli_walk *w)
{
	char err_path[4096] = "";
	int r;

	memset(w, 0, sizeof(*w));
	r = walk_dir(v->fd, ".", false, w, err_path, sizeof(err_path));
	if (r < 0) {
		cli_err(v->path, "cannot walk %s: %s", err_path, strerror(-r));
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
