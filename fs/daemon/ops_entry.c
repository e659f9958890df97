/* SPDX-License-Identifier: MIT */
/*
 * ops_entry.c - FUSE operations on names and attributes: lookup, forget,
 * getattr, setattr, readlink, mknod, mkdir, symlink, link, unlink, rmdir,
 * rename, statfs.  Each handler computes a negative errno and replies once.
 */
#include "fs/daemon/daemon.h"

#include "fs/err.h"
#include "fs/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define INODE(ino) pfc_itable_get(&pfcd_g->itable, (ino))
#define ITABLE	   (&pfcd_g->itable)

int pfcd_make_entry(struct pfc_inode *parent, const char *backing_name, const char *name,
		    struct fuse_entry_param *e)
{
	struct pfc_inode *in;
	struct stat st;
	int pfd, fd, rc;

	(void)name;
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
	rc = pfc_itable_lookup(ITABLE, fd, &st, parent, backing_name, &in);
	if (rc < 0)
		return rc;
	e->ino = pfc_itable_ino(&pfcd_g->itable, in);
	e->attr = st;
	e->attr_timeout = PFCD_TIMEOUT;
	e->entry_timeout = PFCD_TIMEOUT;
	return 0;
}

void pfcd_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfc_inode *dir = INODE(parent);
	struct pfc_backing_name bn;
	struct fuse_entry_param e;
	struct stat st;
	int rc;

	rc = pfcd_name_find(dir, name, &bn, &st);
	if (rc == 0)
		rc = pfcd_make_entry(dir, bn.name, name, &e);
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
		rc = pfcd_make_entry(dir, bn.name, name, &e);
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
	rc = pfcd_make_entry(dir, bn.name, newname, &e);
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

/*
 * An entry about to be removed or replaced may be the only name the inode
 * table knows its object by: hold that inode's descriptor across the change,
 * so that it survives as an orphan (still open, stat-able) if the kernel
 * keeps it.  known_done() after the change: gone says the entry went.
 */
struct known {
	struct pfc_inode *in;
	bool held;
};

static void known_hold(struct known *k, const struct stat *st)
{
	k->in = pfc_itable_find(ITABLE, st->st_dev, st->st_ino);
	k->held = k->in && pfcd_inode_fd(k->in) >= 0;
}

static void known_done(struct known *k, struct pfc_inode *dir, const char *bname, bool gone)
{
	if (!k->in)
		return;
	if (gone)
		pfc_itable_unnamed(ITABLE, k->in, dir, bname);
	if (k->held)
		pfcd_inode_put(k->in);
	pfc_itable_release(ITABLE, k->in);
	k->in = NULL;
}

void pfcd_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfc_inode *dir = INODE(parent);
	struct pfc_backing_name bn;
	struct known k = {NULL, false};
	struct stat st;
	int rc, dfd = pfcd_inode_fd(dir);

	if (dfd < 0) {
		fuse_reply_err(req, -dfd);
		return;
	}
	rc = pfcd_name_find(dir, name, &bn, &st);
	if (rc == 0) {
		known_hold(&k, &st);
		rc = pfcd_symlink_unlinkat(dfd, bn.name, st.st_mode, 0);
		known_done(&k, dir, bn.name, rc == 0);
	}
	if (rc == 0)
		pfcd_companion_remove(dfd, &bn);
	pfcd_inode_put(dir);
	fuse_reply_err(req, -rc);
}

/*
 * A backing directory is empty for the mount when it holds nothing but its
 * directory id file(s).  Removes them (saving the primary id file's bytes
 * in saved) so that rmdir/rename-over can proceed; restore_dirids() puts it
 * back if that then fails.
 */
static int empty_dir_prepare(int parentfd, const char *bname, uint8_t saved[PFC_ID_BYTES])
{
	int fd = pfcd_openat(parentfd, bname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	struct dirent *de;
	DIR *dp;
	int rc = 0;

	if (fd < 0)
		return -errno;
	dp = fdopendir(fd);
	if (!dp) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((de = readdir(dp))) {
		enum pfc_entry_kind k = pfc_entry_classify(de->d_name, strlen(de->d_name));

		if (k != PFC_ENTRY_DOT && k != PFC_ENTRY_DIRID) {
			rc = -ENOTEMPTY;
			goto out;
		}
	}
	{
		int idfd =
		    pfcd_openat(dirfd(dp), PFC_DIRID_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
		ssize_t n = idfd >= 0 ? read(idfd, saved, PFC_ID_BYTES) : -1;

		if (idfd >= 0)
			close(idfd);
		if (n != PFC_ID_BYTES)
			memset(saved, 0, PFC_ID_BYTES);
	}
	rewinddir(dp);
	while ((de = readdir(dp)))
		if (pfc_entry_classify(de->d_name, strlen(de->d_name)) == PFC_ENTRY_DIRID)
			unlinkat(dirfd(dp), de->d_name, 0);
out:
	closedir(dp);
	return rc;
}

static void restore_dirid(int parentfd, const char *bname, const uint8_t saved[PFC_ID_BYTES])
{
	int dfd = pfcd_openat(parentfd, bname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0),
	    fd;

	if (dfd < 0) {
		pfc_err_log("cannot restore a directory id file: %s", strerror(errno));
		return;
	}
	fd = pfcd_openat(dfd, PFC_DIRID_NAME, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd >= 0) {
		if (write(fd, saved, PFC_ID_BYTES) != PFC_ID_BYTES)
			pfc_err_log("cannot restore a directory id file");
		fsync(fd);
		close(fd);
	}
	close(dfd);
}

void pfcd_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfc_inode *dir = INODE(parent);
	struct pfc_backing_name bn;
	struct known k = {NULL, false};
	uint8_t saved[PFC_ID_BYTES];
	struct stat st;
	int rc, dfd = pfcd_inode_fd(dir);

	if (dfd < 0) {
		fuse_reply_err(req, -dfd);
		return;
	}
	rc = pfcd_name_find(dir, name, &bn, &st);
	if (rc == 0 && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	if (rc == 0) {
		known_hold(&k, &st);
		rc = empty_dir_prepare(dfd, bn.name, saved);
	}
	if (rc == 0 && unlinkat(dfd, bn.name, AT_REMOVEDIR) < 0) {
		rc = -errno;
		restore_dirid(dfd, bn.name, saved);
	}
	known_done(&k, dir, bn.name, rc == 0);
	if (rc == 0)
		pfcd_companion_remove(dfd, &bn);
	pfcd_inode_put(dir);
	fuse_reply_err(req, -rc);
}

void pfcd_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		    const char *newname, unsigned int flags)
{
	struct pfc_inode *sdir = INODE(parent), *ddir = INODE(newparent);
	struct pfc_backing_name sbn, dbn;
	struct stat sst, dst;
	struct known ks = {NULL, false}, kd = {NULL, false};
	uint8_t saved[PFC_ID_BYTES];
	bool dexists, dprepared = false, made_comp = false;
	struct pfcd_symlink_gone gone;
	int rc, sfd = -1, dfd = -1;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		rc = -EINVAL;
		goto out;
	}
	sfd = pfcd_inode_fd(sdir);
	dfd = sfd < 0 ? -1 : pfcd_inode_fd(ddir);
	if (sfd < 0 || dfd < 0) {
		rc = sfd < 0 ? sfd : dfd;
		goto out;
	}
	rc = pfcd_name_find(sdir, name, &sbn, &sst);
	if (rc < 0)
		goto out;
	rc = pfcd_name_find(ddir, newname, &dbn, &dst);
	if (rc < 0 && rc != -ENOENT)
		goto out;
	dexists = rc == 0;
	rc = 0;
	if (dexists && (flags & RENAME_NOREPLACE)) {
		rc = -EEXIST;
		goto out;
	}
	if (!dexists && (flags & RENAME_EXCHANGE)) {
		rc = -ENOENT;
		goto out;
	}
	/* Same object under both names (same entry, or hard links): nothing to do. */
	if (dexists && !(flags & RENAME_EXCHANGE) && sst.st_dev == dst.st_dev &&
	    sst.st_ino == dst.st_ino)
		goto out;
	if (dexists && !(flags & RENAME_EXCHANGE) && S_ISDIR(dst.st_mode)) {
		if (!S_ISDIR(sst.st_mode)) {
			rc = -EISDIR;
			goto out;
		}
		rc = empty_dir_prepare(dfd, dbn.name, saved);
		if (rc < 0)
			goto out;
		dprepared = true;
	}
	if (!dexists && !(flags & RENAME_EXCHANGE) && dbn.is_long) {
		rc = pfcd_companion_write(dfd, &dbn);
		if (rc < 0)
			goto out;
		made_comp = true;
	}
	known_hold(&ks, &sst);
	if (dexists)
		known_hold(&kd, &dst);
	pfcd_symlink_unlinking(
	    dfd, dbn.name, dexists && !(flags & RENAME_EXCHANGE) ? dst.st_mode : S_IFDIR, &gone);
	if (renameat2(sfd, sbn.name, dfd, dbn.name, flags) < 0) {
		rc = -errno;
		pfcd_symlink_unlinked(&gone, false);
		if (made_comp)
			pfcd_companion_remove(dfd, &dbn);
		if (dprepared)
			restore_dirid(dfd, dbn.name, saved);
		goto out;
	}
	pfcd_symlink_unlinked(&gone, true); /* a replaced long symlink's companion */
	/* The inodes follow their names: the replaced one loses its own, an
	 * exchanged one takes the source's. */
	if (kd.in && (flags & RENAME_EXCHANGE))
		pfc_itable_renamed(ITABLE, kd.in, ddir, dbn.name, sdir, sbn.name);
	known_done(&kd, ddir, dbn.name, !(flags & RENAME_EXCHANGE));
	if (ks.in)
		pfc_itable_renamed(ITABLE, ks.in, sdir, sbn.name, ddir, dbn.name);
	/* The old name is gone (unless exchanged): so is its companion. */
	if (!(flags & RENAME_EXCHANGE))
		pfcd_companion_remove(sfd, &sbn);
out:
	known_done(&kd, ddir, dbn.name, false);
	known_done(&ks, sdir, sbn.name, false);
	if (dfd >= 0)
		pfcd_inode_put(ddir);
	if (sfd >= 0)
		pfcd_inode_put(sdir);
	fuse_reply_err(req, -rc);
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
