/* SPDX-License-Identifier: MIT */
/*
 * util.c - small helpers shared by the daemon, calling nothing else of it:
 * error mapping, procfs paths of O_PATH descriptors, pread/pwrite of a whole
 * range, ownership of objects created by a root daemon.
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

int pfcd_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

int pfcd_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n =
		    pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
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
