/* SPDX-License-Identifier: MIT */
/*
 * attr.c - an inode's backing object as the mount shows it: its plaintext
 * stat (plaintext size of regular files, target length of symlinks), the
 * entry reply of lookup, create, mknod, mkdir, symlink, link and
 * readdirplus, and its backing path in log lines.
 */
#include "fs/daemon/daemon.h"

#include "fs/volume.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

void pfcd_backing_path(struct pfc_inode *in, char *buf, size_t len)
{
	char p[64];
	ssize_t n = -1;
	int fd = pfcd_inode_fd(in);

	if (fd >= 0) {
		pfcd_proc_path(fd, p);
		n = readlink(p, buf, len - 1);
		pfcd_inode_put(in);
	}
	if (n < 0) {
		snprintf(buf, len, "?");
		return;
	}
	buf[n] = '\0';
}

void pfcd_log_path(struct pfc_inode *in, char *path, size_t len, char *plain, size_t plen)
{
	struct pfcd *d = pfcd_g;
	size_t bl = strlen(d->backing_abs), failed;
	char rel[PATH_MAX];

	pfcd_backing_path(in, path, len);
	plain[0] = '\0';
	if (!d->vk || strncmp(path, d->backing_abs, bl) || path[bl] != '/' ||
	    pfc_entry_path(d->vk, d->itable.root.fd, path + bl + 1, rel, sizeof(rel), &failed))
		return;
	snprintf(plain, plen, " (file %s/%s)", d->mount_abs, rel);
	sodium_memzero(rel, sizeof(rel));
}

void pfcd_stat_to_plain(int fd, struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		st->st_size = (off_t)pfc_layout_plain_size(&pfcd_g->layout, (uint64_t)st->st_size);
	} else if (S_ISLNK(st->st_mode) && fd >= 0) {
		size_t plen;

		if (pfcd_symlink_target_len(fd, &plen) == 0)
			st->st_size = (off_t)plen;
	}
}

int pfcd_file_size(int fd, uint64_t *size, uint64_t *backing)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*backing = (uint64_t)st.st_size;
	*size = pfc_layout_plain_size(&pfcd_g->layout, (uint64_t)st.st_size);
	return 0;
}

int pfcd_getattr(struct pfc_inode *in, struct stat *st)
{
	int fd = pfcd_inode_fd(in), rc = 0;

	if (fd < 0)
		return fd;
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	else
		pfcd_stat_to_plain(fd, st);
	pfcd_inode_put(in);
	return rc;
}

int pfcd_make_entry(struct pfc_inode *parent, const char *backing_name, struct fuse_entry_param *e)
{
	struct pfc_inode *in;
	struct stat st;
	int pfd, fd, rc;

	memset(e, 0, sizeof(*e));
	pfd = pfcd_inode_fd(parent);
	if (pfd < 0)
		return pfd;
	fd = pfcd_openat(pfd, backing_name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
	rc = fd < 0 ? -errno : 0;
	pfcd_inode_put(parent);
	if (rc < 0)
		return rc;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	pfcd_stat_to_plain(fd, &st); /* before the table takes fd over */
	rc = pfc_itable_lookup(&pfcd_g->itable, fd, &st, parent, backing_name, &in);
	if (rc < 0)
		return rc;
	e->ino = pfc_itable_ino(&pfcd_g->itable, in);
	e->attr = st;
	e->attr_timeout = PFCD_TIMEOUT;
	e->entry_timeout = PFCD_TIMEOUT;
	return 0;
}
