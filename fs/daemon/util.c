/* SPDX-License-Identifier: MIT */
/*
 * util.c - small helpers shared by the FUSE operations: error mapping,
 * procfs paths of O_PATH descriptors, the plaintext view of a backing stat,
 * ownership of objects created by a root daemon.
 */
#include "fs/daemon/daemon.h"

#include "fs/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pfcd_errno(int err)
{
	int saved = errno;

	if (err >= 0)
		return 0;
	if (err == PFC_ERR_IO && saved > 0)
		return -saved; /* the format library leaves errno set for I/O errors */
	return -pfc_err_to_errno(err);
}

void pfcd_proc_path(int fd, char buf[64])
{
	snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

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

int pfcd_chown_new(fuse_req_t req, int parent_fd, int fd, const char *name)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat pst;
	gid_t gid = ctx->gid;

	if (!pfcd_g->is_root)
		return 0;
	/* The backing kernel made the entry with the daemon's ids, or with the
	 * parent's group under a setgid parent: already right for a caller
	 * with the same ids (two system calls less per create for root's tar,
	 * cp, ...). */
	if (ctx->uid == 0 && ctx->gid == pfcd_g->egid)
		return 0;
	if (fstatat(parent_fd, "", &pst, AT_EMPTY_PATH) == 0 && (pst.st_mode & S_ISGID))
		gid = pst.st_gid; /* BSD group semantics of a setgid directory */
	if (fd >= 0) {
		if (fchownat(fd, "", ctx->uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	} else if (fchownat(parent_fd, name, ctx->uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
		return -errno;
	}
	return 0;
}
