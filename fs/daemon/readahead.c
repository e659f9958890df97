/* SPDX-License-Identifier: MIT */
/*
 * readahead.c - a larger kernel readahead window for the mount.
 *
 * A FUSE mount's readahead is its bdi's read_ahead_kb, 128 KiB by default,
 * and the server can only lower it in its INIT reply (the kernel keeps the
 * minimum of the bdi's value and the reply's max_readahead).  With 128 KiB
 * a cold sequential read reaches the daemon as 128 KiB READs: one backing
 * pread and one round trip per 32 blocks.  So, as root, right after the
 * mount and before the INIT reply, the bdi's value is raised to
 * PFCD_READAHEAD_KB (sysfs, found from the mount's device number in
 * /proc/self/mountinfo: a stat of the mount point would wait for INIT), and
 * init_op answers max_readahead = PFCD_READAHEAD_KB.  Measured on a cold
 * 1 GiB read in 1 MiB reads: 128 KiB -> 1 MiB raised the median by about
 * half (see the commit); 4 MiB was no better than 1 MiB (READs are at most
 * max_write = 1 MiB anyway).  Not root, or no sysfs: one line in the log and
 * the kernel's default stays.
 */
#include "fs/daemon/readahead.h"

#include "fs/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Undo mountinfo's octal escapes (\040 for a space, ...) in place. */
static void unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/* "major:minor" of the newest mount on mnt (the last line naming it). */
static int mount_dev(const char *mnt, char *dev, size_t devsz)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char d[32], point[4096];

		/* id parent major:minor root mount-point ... */
		if (sscanf(line, "%*u %*u %31s %*s %4095s", d, point) != 2)
			continue;
		unescape(point);
		if (strcmp(point, mnt) == 0 && strlen(d) < devsz) {
			strcpy(dev, d);
			found = 0;
		}
	}
	free(line);
	fclose(f);
	return found;
}

void pfcd_readahead_raise(const char *mount_abs)
{
	char dev[32], path[96];
	unsigned kb = 0;
	FILE *f;
	int rc;

	rc = mount_dev(mount_abs, dev, sizeof(dev));
	if (rc < 0) {
		pfc_info("readahead stays at the kernel's default: mount not in mountinfo");
		return;
	}
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%u", &kb) != 1)
			kb = 0;
		fclose(f);
	}
	if (kb >= PFCD_READAHEAD_KB)
		return; /* already as large (set by the administrator) */
	f = fopen(path, "we");
	rc = 0;
	if (!f || fprintf(f, "%u\n", PFCD_READAHEAD_KB) < 0)
		rc = -errno;
	if (f && fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		pfc_info("readahead stays at %u KiB: %s: %s", kb, path, strerror(-rc));
	else
		pfc_info("readahead %u KiB (was %u)", PFCD_READAHEAD_KB, kb);
}
