// SPDX-License-Identifier: MIT
/*
 * mounts.c - is a volume mounted?  pfcryptfs mounts with the real path of
 * BACKING as its source and type fuse.pfcryptfs (as an fstab line names
 * them), which /proc/self/mountinfo shows (fields octal-escaped).  Daemons
 * before 2026-11-24 used source "pfcrypt:<real path>", type fuse.pfcrypt:
 * such a mount is found too.
 *
 * Also: is a directory inside a backing tree a mount point (check and status
 * warn: something else is mounted inside the synced tree)?
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/mountinfo.h"
#include "tools/cli.h"

#define PROC_MOUNTINFO "/proc/self/mountinfo"

/* One line of /proc/self/mountinfo, its fields unescaped. */
struct mount_entry {
	char *mountpoint, *fstype, *source;
};

/*
 * The real path of path; for a path whose last component cannot be looked
 * at (the root of a FUSE mount whose daemon is gone: ENOTCONN) the real
 * path of its parent joined with that name.  malloc'd, NULL if neither.
 */
static char *real_path(const char *path)
{
	char *real = realpath(path, NULL), *copy, *slash, *parent, *out = NULL;

	if (real || errno != ENOTCONN || !(copy = strdup(path)))
		return real;
	slash = strrchr(copy, '/');
	if (slash && slash[1]) {
		*slash = '\0';
		parent = realpath(slash == copy ? "/" : copy, NULL);
		if (parent &&
		    asprintf(&out, "%s/%s", strcmp(parent, "/") ? parent : "", slash + 1) < 0)
			out = NULL;
		free(parent);
	} else if (!slash) {
		parent = realpath(".", NULL);
		if (parent && asprintf(&out, "%s/%s", parent, copy) < 0)
			out = NULL;
		free(parent);
	}
	free(copy);
	return out;
}

/*
 * Walk the mountinfo file for lines where match(e, real) says yes for real,
 * the resolved path: the first one (last: the last one, i.e. the topmost
 * mount at a mountpoint) goes to found (if found).
 */
static bool find_mount(const char *mountinfo, const char *path,
		       bool (*match)(const struct mount_entry *e, const char *real), bool last,
		       struct cli_mount *found)
{
	char *real = real_path(path), line[3 * PATH_MAX];
	bool any = false;
	FILE *f;

	if (!real)
		return false;
	f = fopen(mountinfo, "re");
	while (f && (!any || last) && fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint options [optional...] - fstype source superopts
		 */
		char *save = NULL, *tok, *sep = strstr(line, " - ");
		struct mount_entry e = {0};
		int i = 0;

		if (!sep)
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			if (i++ == 4)
				e.mountpoint = tok;
		e.fstype = strtok_r(sep + 3, " ", &save);
		e.source = e.fstype ? strtok_r(NULL, " ", &save) : NULL;
		if (!e.mountpoint || !e.fstype)
			continue;
		pfc_mountinfo_unescape(e.mountpoint);
		if (e.source)
			pfc_mountinfo_unescape(e.source);
		if (!match(&e, real))
			continue;
		any = true;
		if (found) {
			snprintf(found->mountpoint, sizeof(found->mountpoint), "%s", e.mountpoint);
			snprintf(found->fstype, sizeof(found->fstype), "%s", e.fstype);
			snprintf(found->source, sizeof(found->source), "%s",
				 e.source ? e.source : "");
		}
	}
	if (f)
		fclose(f);
	free(real);
	return any;
}

static bool is_pfcrypt_type(const char *fstype)
{
	return !strcmp(fstype, "fuse.pfcryptfs") || !strcmp(fstype, "fuse.pfcrypt");
}

/* A pfcryptfs mount of the backing directory real (today's and the legacy naming). */
static bool is_volume_of(const struct mount_entry *e, const char *real)
{
	bool legacy = !strcmp(e->fstype, "fuse.pfcrypt");

	if (!is_pfcrypt_type(e->fstype))
		return false;
	if (!e->source || (legacy && strncmp(e->source, "pfcrypt:", 8)))
		return false;
	return !strcmp(legacy ? e->source + 8 : e->source, real);
}

static bool is_mounted_at(const struct mount_entry *e, const char *real)
{
	return !strcmp(e->mountpoint, real);
}

bool cli_mounted_in(const char *mountinfo, const char *path, char *mnt, size_t len)
{
	struct cli_mount m;

	if (!find_mount(mountinfo, path, is_volume_of, false, &m))
		return false;
	if (mnt)
		snprintf(mnt, len, "%s", m.mountpoint);
	return true;
}

bool cli_mounted(const char *path, char *mnt, size_t len)
{
	return cli_mounted_in(PROC_MOUNTINFO, path, mnt, len);
}

bool cli_volume_mounted(const char *path, char *mnt, size_t len)
{
	struct cli_mount m;

	if (cli_mounted(path, mnt, len))
		return true;
	if (!cli_mount_at(path, &m) || !m.pfcrypt)
		return false;
	if (mnt)
		snprintf(mnt, len, "%s", m.mountpoint);
	return true;
}

bool cli_mount_at(const char *path, struct cli_mount *m)
{
	if (!find_mount(PROC_MOUNTINFO, path, is_mounted_at, true, m))
		return false;
	m->pfcrypt = is_pfcrypt_type(m->fstype);
	if (m->pfcrypt && !strncmp(m->source, "pfcrypt:", 8))
		memmove(m->source, m->source + 8, strlen(m->source + 8) + 1);
	return true;
}

bool cli_is_mount_point(int dirfd, const char *name, const struct stat *st, dev_t parent_dev)
{
	struct statx stx;
	char path[PATH_MAX + 32];

	if (st->st_dev != parent_dev)
		return true;
	/* a bind mount of the same file system: same st_dev, the kernel still knows */
	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, 0, &stx) == 0 &&
	    (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	/* the mountpoint of a mount in mountinfo (/proc/self/fd/N/NAME resolves) */
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
	return find_mount(PROC_MOUNTINFO, path, is_mounted_at, false, NULL);
}
