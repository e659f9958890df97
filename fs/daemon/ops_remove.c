/* SPDX-License-Identifier: MIT */
/*
 * ops_remove.c - FUSE operations that remove or replace a name: unlink,
 * rmdir, rename.  The inode table follows: an inode whose entry goes may
 * live on as an orphan (inode.h), a renamed one takes its new name.  A
 * directory is empty for the mount when it holds only its directory id
 * file(s); those are removed before the rmdir (or a rename over it) and
 * put back if it fails.  Each handler computes a negative errno and
 * replies once.
 */
#include "fs/daemon/daemon.h"

#include "fs/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* renameat2 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INODE(ino) pfc_itable_get(&pfcd_g->itable, (ino))
#define ITABLE	   (&pfcd_g->itable)

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
		/* never a FIFO's open (it would block) nor a device's */
		int idfd = pfc_open_regular(dirfd(dp), PFC_DIRID_NAME, O_RDONLY, 0, NULL);
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

/* One rename: both names and what the steps below did, to undo or finish. */
struct ren {
	struct pfc_inode *sdir, *ddir;
	int sfd, dfd;
	unsigned flags;
	struct pfc_backing_name sbn, dbn;
	struct stat sst, dst;
	bool dexists;
	bool dprepared; /* an empty directory replaced: its id file removed, saved */
	bool made_comp; /* the new name's long-name companion written */
	uint8_t saved[PFC_ID_BYTES];
	struct known ks, kd; /* the source's and the replaced/exchanged inodes */
};

/* Both names: the source must exist, the destination as the flags say.
 * 1: nothing to do (the same object under both names). */
static int ren_find(struct ren *r, const char *name, const char *newname)
{
	bool exchange = r->flags & RENAME_EXCHANGE;
	int rc = pfcd_name_find(r->sdir, name, &r->sbn, &r->sst);

	if (rc < 0)
		return rc;
	rc = pfcd_name_find(r->ddir, newname, &r->dbn, &r->dst);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	r->dexists = rc == 0;
	if (r->dexists && (r->flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (!r->dexists && exchange)
		return -ENOENT;
	/* Same object under both names (same entry, or hard links): nothing to do. */
	if (r->dexists && !exchange && r->sst.st_dev == r->dst.st_dev &&
	    r->sst.st_ino == r->dst.st_ino)
		return 1;
	return 0;
}

/* The destination made ready: a replaced directory emptied of its id
 * file(s), a new long name's companion written. */
static int ren_prepare(struct ren *r)
{
	bool exchange = r->flags & RENAME_EXCHANGE;
	int rc;

	if (r->dexists && !exchange && S_ISDIR(r->dst.st_mode)) {
		if (!S_ISDIR(r->sst.st_mode))
			return -EISDIR;
		rc = empty_dir_prepare(r->dfd, r->dbn.name, r->saved);
		if (rc < 0)
			return rc;
		r->dprepared = true;
	}
	if (!r->dexists && !exchange && r->dbn.is_long) {
		rc = pfcd_companion_write(r->dfd, &r->dbn);
		if (rc < 0)
			return rc;
		r->made_comp = true;
	}
	return 0;
}

/* The backing rename, undone around it if it fails: the companion removed,
 * the id file put back. */
static int ren_do(struct ren *r)
{
	bool exchange = r->flags & RENAME_EXCHANGE;
	struct pfcd_symlink_gone gone;
	int rc;

	known_hold(&r->ks, &r->sst);
	if (r->dexists)
		known_hold(&r->kd, &r->dst);
	pfcd_symlink_unlinking(r->dfd, r->dbn.name,
			       r->dexists && !exchange ? r->dst.st_mode : S_IFDIR, &gone);
	if (renameat2(r->sfd, r->sbn.name, r->dfd, r->dbn.name, r->flags) < 0) {
		rc = -errno;
		pfcd_symlink_unlinked(&gone, false);
		if (r->made_comp)
			pfcd_companion_remove(r->dfd, &r->dbn);
		if (r->dprepared)
			restore_dirid(r->dfd, r->dbn.name, r->saved);
		return rc;
	}
	pfcd_symlink_unlinked(&gone, true); /* a replaced long symlink's companion */
	return 0;
}

/* After the rename: the inodes follow their names (the replaced one loses
 * its own, an exchanged one takes the source's); the old name is gone
 * (unless exchanged), and so is its companion. */
static void ren_follow(struct ren *r)
{
	bool exchange = r->flags & RENAME_EXCHANGE;

	if (r->kd.in && exchange)
		pfc_itable_renamed(ITABLE, r->kd.in, r->ddir, r->dbn.name, r->sdir, r->sbn.name);
	known_done(&r->kd, r->ddir, r->dbn.name, !exchange);
	if (r->ks.in)
		pfc_itable_renamed(ITABLE, r->ks.in, r->sdir, r->sbn.name, r->ddir, r->dbn.name);
	if (!exchange)
		pfcd_companion_remove(r->sfd, &r->sbn);
}

void pfcd_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		    const char *newname, unsigned int flags)
{
	struct ren r = {
	    .sdir = INODE(parent), .ddir = INODE(newparent), .sfd = -1, .dfd = -1, .flags = flags};
	int rc;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		rc = -EINVAL;
		goto out;
	}
	r.sfd = pfcd_inode_fd(r.sdir);
	r.dfd = r.sfd < 0 ? -1 : pfcd_inode_fd(r.ddir);
	if (r.sfd < 0 || r.dfd < 0) {
		rc = r.sfd < 0 ? r.sfd : r.dfd;
		goto out;
	}
	rc = ren_find(&r, name, newname);
	if (rc == 0)
		rc = ren_prepare(&r);
	if (rc == 0)
		rc = ren_do(&r);
	if (rc == 0)
		ren_follow(&r);
	if (rc > 0)
		rc = 0;
out:
	known_done(&r.kd, r.ddir, r.dbn.name, false);
	known_done(&r.ks, r.sdir, r.sbn.name, false);
	if (r.dfd >= 0)
		pfcd_inode_put(r.ddir);
	if (r.sfd >= 0)
		pfcd_inode_put(r.sdir);
	fuse_reply_err(req, -rc);
}
