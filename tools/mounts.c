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
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/mountinfo.h"
#include "tools/cli.h"

bool cli_mounted(const char *path, char *mnt, size_t len)
{
	char *real = realpath(path, NULL), line[3 * PATH_MAX];
	bool found = false;
	FILE *f;

	if (!real)
		return false;
	f = fopen("/proc/self/mountinfo", "re");
	while (f && !found && fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint options [optional...] - fstype source superopts
		 */
		char *save = NULL, *mp = NULL, *tok, *sep = strstr(line, " - ");
		const char *src;
		bool legacy;
		int i = 0;

		if (!sep)
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			if (i++ == 4)
				mp = tok;
		tok = strtok_r(sep + 3, " ", &save);
		if (!mp || !tok)
			continue;
		legacy = !strcmp(tok, "fuse.pfcrypt");
		if (!legacy && strcmp(tok, "fuse.pfcryptfs"))
			continue;
		tok = strtok_r(NULL, " ", &save);
		if (!tok || (legacy && strncmp(tok, "pfcrypt:", 8)))
			continue;
		pfc_mountinfo_unescape(tok);
		src = legacy ? tok + 8 : tok;
		if (!strcmp(src, real)) {
			pfc_mountinfo_unescape(mp);
			snprintf(mnt, len, "%s", mp);
			found = true;
		}
	}
	if (f)
		fclose(f);
	free(real);
	return found;
}

/* Is path (resolved: /proc/self/fd/N/NAME works) the mountpoint of a mount in mountinfo? */
static bool in_mountinfo(const char *path)
{
	char *real = realpath(path, NULL), line[3 * PATH_MAX];
	bool found = false;
	FILE *f;

	if (!real)
		return false;
	f = fopen("/proc/self/mountinfo", "re");
	while (f && !found && fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok = strtok_r(line, " ", &save);

		for (int i = 0; tok && i < 4; i++)
			tok = strtok_r(NULL, " ", &save);
		if (tok) {
			pfc_mountinfo_unescape(tok);
			found = !strcmp(tok, real);
		}
	}
	if (f)
		fclose(f);
	free(real);
	return found;
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
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
	return in_mountinfo(path);
}
