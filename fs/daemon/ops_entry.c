/* SPDX-License-Identifier: MIT */
/*
 * ops_entry.c - FUSE operations on names and attributes: lookup, forget,
 * getattr, setattr, readlink, mknod, mkdir, symlink, link, statfs (the
 * removals, unlink, rmdir and rename, are ops_remove.c).  Each handler
 * computes a negative errno and replies once.
 */
#include "fs/daemon/daemon.h"

#include "fs/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define INODE(ino) pfc_itable_get(&pfcd_g->itable, (ino))

void pfcd_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfc_inode *dir = INODE(parent);
	struct pfc_backing_name bn;
	struct fuse_entry_param e;
	struct stat st;
	int rc;

	rc = pfcd_name_find(dir, name, &bn, &st);
	if (rc == 0)
		rc = pfcd_make_entry(dir, bn.name, &e);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

void pfcd_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	pfc_itable_forget(&pfcd_g->itable, ino, nlookup);
	fuse_reply_none(req);
}

void pfcd_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	for (size_t i = 0; i < count; i++)
		pfc_itable_forget(&pfcd_g->itable, f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

void pfcd_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int rc;

	(void)fi;
	rc = pfcd_getattr(INODE(ino), &st);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, PFCD_TIMEOUT);
}

static int set_times(struct pfc_inode *in, struct fuse_file_info *fi, const struct stat *attr,
		     int to_set)
{
	struct timespec tv[2];
	char p[64];
	int fd, rc;

	tv[0].tv_sec = 0;
	tv[1].tv_sec = 0;
	tv[0].tv_nsec = UTIME_OMIT;
	tv[1].tv_nsec = UTIME_OMIT;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		tv[0] = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		tv[1] = attr->st_mtim;
	if (fi)
		return futimens(((struct pfcd_fh *)(uintptr_t)fi->fh)->fd, tv) < 0 ? -errno : 0;
	fd = pfcd_inode_fd(in);
	if (fd < 0)
		return fd;
	if (in->type == S_IFLNK) {
		rc = utimensat(fd, "", tv, AT_EMPTY_PATH) < 0 ? -errno : 0;
	} else {
		pfcd_proc_path(fd, p);
		rc = utimensat(AT_FDCWD, p, tv, 0) < 0 ? -errno : 0;
	}
	pfcd_inode_put(in);
	return rc;
}

void pfcd_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		     struct fuse_file_info *fi)
{
	struct pfc_inode *in = INODE(ino);
	struct stat st;
	char p[64];
	int rc = 0, fd = -1;

	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fd = pfcd_inode_fd(in);
		if (fd < 0) {
			rc = fd;
			goto out;
		}
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		if (in->type == S_IFLNK) {
			rc = -EOPNOTSUPP;
		} else if (fi) {
			if (fchmod(((struct pfcd_fh *)(uintptr_t)fi->fh)->fd, attr->st_mode) < 0)
				rc = -errno;
		} else {
			pfcd_proc_path(fd, p);
			if (chmod(p, attr->st_mode) < 0)
				rc = -errno;
		}
		if (rc < 0)
			goto out;
	}
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
			rc = -errno;
			goto out;
		}
	}
	if (fd >= 0) {
		pfcd_inode_put(in);
		fd = -1;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (in->type != S_IFREG) {
			rc = in->type == S_IFDIR ? -EISDIR : -EINVAL;
			goto out;
		}
		rc = pfcd_truncate(in, fi, attr->st_size);
		if (rc < 0)
			goto out;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
		      FUSE_SET_ATTR_MTIME_NOW)) {
		rc = set_times(in, fi, attr, to_set);
		if (rc < 0)
			goto out;
	}
	rc = pfcd_getattr(in, &st);
out:
	if (fd >= 0)
		pfcd_inode_put(in);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, PFCD_TIMEOUT);
}

void pfcd_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct pfc_inode *in = INODE(ino);
	char plain[PFC_SYMLINK_BUF];
	size_t plen;
	int rc, fd = pfcd_inode_fd(in);

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	rc = pfcd_symlink_read(fd, plain, sizeof(plain), &plen);
	pfcd_inode_put(in);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, plain);
}

/* Make a new entry in dir: companion first (long names), then the object
 * via make(), then ownership and the entry reply. */
typedef int (*make_fn)(int dirfd, const char *bname, const void *arg);

struct mknod_arg {
	mode_t mode;
	dev_t rdev;
};

static int make_node(int dirfd, const char *bname, const void *arg)
{
	const struct mknod_arg *a = arg;

	return mknodat(dirfd, bname, a->mode, a->rdev) < 0 ? -errno : 0;
}

static int make_dir(int dirfd, const char *bname, const void *arg)
{
	const struct mknod_arg *a = arg;
	uint8_t id[PFC_ID_BYTES];
	int fd, idfd, rc;

	if (mkdirat(dirfd, bname, a->mode) < 0)
		return -errno;
	fd = pfcd_openat(dirfd, bname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		unlinkat(dirfd, bname, AT_REMOVEDIR);
		return rc;
	}
	do {
		rc = pfc_dirid_create(fd, id, &idfd);
	} while (rc == PFC_ERR_IO && pfcd_fd_short(errno));
	close(fd);
	if (rc < 0) {
		rc = pfcd_errno(rc);
		unlinkat(dirfd, bname, AT_REMOVEDIR);
		return rc;
	}
	pfcd_durable_add(idfd); /* fsync'd off this path, in a batch */
	return 0;
}

static int make_symlink(int dirfd, const char *bname, const void *arg)
{
	return pfcd_symlink_make(dirfd, bname, (const char *)arg);
}

static int make_regular(int dirfd, const char *bname, const void *arg)
{
	const struct mknod_arg *a = arg;
	struct pfc_inode tmp;
	int fd, rc;

	fd = pfcd_openat(dirfd, bname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, a->mode & 07777);
	if (fd < 0)
		return -errno;
	/* A throwaway state: the real inode loads the header at its first open.
	 * Not in the table: an orphan with a lookup, so that the table neither
	 * lists nor frees it when a log line asks for its path. */
	memset(&tmp, 0, sizeof(tmp));
	tmp.fd = fd;
	tmp.orphan = true;
	tmp.nlookup = 1;
	rc = pfcd_file_init_header(&tmp, fd, true, false);
	pfcd_file_unload(&tmp);
	close(fd);
	if (rc < 0)
		unlinkat(dirfd, bname, 0);
	return rc;
}

static void new_entry(fuse_req_t req, fuse_ino_t parent, const char *name, make_fn make,
		      const void *arg, bool is_dir)
{
	struct pfc_inode *dir = INODE(parent);
	struct pfc_backing_name bn;
	struct fuse_entry_param e;
	int rc, dfd = pfcd_inode_fd(dir);

	if (dfd < 0) {
		fuse_reply_err(req, -dfd);
		return;
	}
	rc = pfcd_name_claim(dir, name, &bn);
	if (rc < 0)
		goto out;
	rc = make(dfd, bn.name, arg);
	if (rc < 0) {
		pfcd_companion_remove(dfd, &bn);
		goto out;
	}
	rc = pfcd_chown_new(req, dfd, -1, bn.name);
	if (rc == 0)
		rc = pfcd_make_entry(dir, bn.name, &e);
	if (rc < 0) {
		pfcd_symlink_unlinkat(dfd, bn.name, 0, is_dir ? AT_REMOVEDIR : 0);
		pfcd_companion_remove(dfd, &bn);
	}
out:
	pfcd_inode_put(dir);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

void pfcd_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct mknod_arg a = {mode, rdev};

	if (S_ISREG(mode))
		new_entry(req, parent, name, make_regular, &a, false);
	else
		new_entry(req, parent, name, make_node, &a, false);
}

void pfcd_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct mknod_arg a = {mode, 0};

	new_entry(req, parent, name, make_dir, &a, true);
}

void pfcd_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	if (strlen(link) > PFC_SYMLINK_TARGET_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	new_entry(req, parent, name, make_symlink, link, false);
}

void pfcd_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct pfc_inode *in = INODE(ino), *dir = INODE(newparent);
	struct pfc_backing_name bn;
	struct fuse_entry_param e;
	char p[64];
	int rc, fd = -1, dfd = pfcd_inode_fd(dir);

	if (dfd < 0) {
		rc = dfd;
		goto out;
	}
	rc = pfcd_name_claim(dir, newname, &bn);
	if (rc < 0)
		goto out;
	fd = pfcd_inode_fd(in);
	if (fd < 0) {
		rc = fd;
		pfcd_companion_remove(dfd, &bn);
		goto out;
	}
	pfcd_proc_path(fd, p);
	if (linkat(AT_FDCWD, p, dfd, bn.name, AT_SYMLINK_FOLLOW) < 0) {
		rc = -errno;
		pfcd_companion_remove(dfd, &bn);
		goto out;
	}
	rc = pfcd_make_entry(dir, bn.name, &e);
out:
	if (fd >= 0)
		pfcd_inode_put(in);
	if (dfd >= 0)
		pfcd_inode_put(dir);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

void pfcd_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	/* the root's descriptor is never closed; every inode is on its file system */
	int fd = pfcd_openat(pfcd_g->itable.root.fd, ".", O_RDONLY | O_CLOEXEC, 0);

	(void)ino;
	if (fd < 0 || fstatvfs(fd, &sv) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		fuse_reply_err(req, e);
		return;
	}
	close(fd);
	sv.f_namemax = PFC_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}
