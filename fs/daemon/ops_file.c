/* SPDX-License-Identifier: MIT */
/*
 * ops_file.c - FUSE operations on open regular files: open, create, read,
 * write, flush, release, fsync, fallocate, lseek, and truncate for setattr
 * (ops_entry.c).  The content itself is fileio.c and filesize.c; a write
 * after FLUSH counts its handle as a writer again (generation.c).
 *
 * A handle owns one backing fd (O_RDWR for writers: partial blocks are read
 * back; never O_APPEND: backing offsets are not plaintext offsets).  The
 * inode's io_lock serialises modifications (exclusive) against reads
 * (shared); open/release update the handle counts under it too.
 */
#include "fs/daemon/daemon.h"
#include "fs/daemon/kernelio.h"

#include "fs/err.h"
#include "fs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INODE(ino) pfc_itable_get(&pfcd_g->itable, (ino))
#define FH(fi)	   ((struct pfcd_fh *)(uintptr_t)(fi)->fh)

/* Every open handle, for teardown.  A leaf lock. */
static pthread_mutex_t fh_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pfcd_fh *fh_list; /* protected by fh_lock */

static void fh_track(struct pfcd_fh *fh)
{
	pthread_mutex_lock(&fh_lock);
	fh->prev = NULL;
	fh->next = fh_list;
	if (fh_list)
		fh_list->prev = fh;
	fh_list = fh;
	pthread_mutex_unlock(&fh_lock);
}

static void fh_untrack(struct pfcd_fh *fh)
{
	pthread_mutex_lock(&fh_lock);
	if (fh->prev)
		fh->prev->next = fh->next;
	else
		fh_list = fh->next;
	if (fh->next)
		fh->next->prev = fh->prev;
	pthread_mutex_unlock(&fh_lock);
}

void pfcd_fh_close_all(void)
{
	pthread_mutex_lock(&fh_lock);
	while (fh_list) {
		struct pfcd_fh *fh = fh_list;

		fh_list = fh->next;
		close(fh->fd);
		free(fh);
	}
	pthread_mutex_unlock(&fh_lock);
}

/* -o noatime: the backing file's atime is the mount's atime, so the daemon's
 * reads for the user must not change it either (xfstests generic/120). */
static int backing_open_flags(int flags)
{
	int acc = flags & O_ACCMODE;

	return (acc == O_RDONLY ? O_RDONLY : O_RDWR) | O_CLOEXEC | (flags & (O_SYNC | O_DSYNC)) |
	       (pfcd_g->noatime ? O_NOATIME : 0);
}

/*
 * Attach a handle for backing fd to inode in (header and key loaded, counts
 * taken, O_TRUNC applied).  Consumes fd on failure.  Caller replies.
 */
static int attach(struct pfc_inode *in, int fd, struct fuse_file_info *fi, bool fresh)
{
	struct pfcd_fh *fh = calloc(1, sizeof(*fh));
	bool writer = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct stat st;
	int rc;

	if (!fh) {
		close(fd);
		return -ENOMEM;
	}
	/* An open file keeps its inode's descriptor (inode.h): a file deleted
	 * from outside while open still answers getattr, as on a local fs. */
	rc = pfcd_inode_fd(in);
	if (rc < 0) {
		free(fh);
		close(fd);
		return rc;
	}
	pthread_rwlock_wrlock(&in->io_lock);
	/* O_TRUNC first: an emptied file has no header to load (and no key to
	 * unwrap); its next write makes a new one with a new key (filesize.c). */
	if (!fresh)
		pfcd_file_drop_if_replaced(in, fd);
	rc = !fresh && writer && (fi->flags & O_TRUNC) ? pfcd_file_truncate(in, fd, 0) : 0;
	if (rc == 0)
		rc = pfcd_file_load(in, fd);
	if (rc < 0)
		goto fail;
	in->f.opens++;
	if (writer)
		in->f.writers++;
	/* Keep the page cache only if the backing file is as we last left it. */
	if (!fresh && fstat(fd, &st) == 0 && in->f.seen_valid && st.st_size == in->f.seen_size &&
	    st.st_mtim.tv_sec == in->f.seen_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == in->f.seen_mtime.tv_nsec && !(fi->flags & O_TRUNC))
		fi->keep_cache = 1;
	pthread_rwlock_unlock(&in->io_lock);
	/* Write-only handles bypass the page cache (FOPEN_DIRECT_IO).  They
	 * cannot be mapped, and the kernel drops cached pages of the range
	 * before each such write, so readers stay coherent; what it saves is
	 * the page-cache copy of every write and, on the buffered path, a
	 * GETXATTR security.capability round trip before the first write
	 * after each attribute refresh (file_remove_privs; the direct path
	 * leaves set-id dropping to the daemon, kernelio.c).  Measured: one
	 * round trip less per file for tar and cp, streaming writes +25 %. */
	if ((fi->flags & O_ACCMODE) == O_WRONLY)
		fi->direct_io = 1;
	fh->direct = fi->direct_io;
	fh->fd = fd;
	fh->writer = writer;
	fh->append = (fi->flags & O_APPEND) != 0;
	fi->fh = (uint64_t)(uintptr_t)fh;
	fh_track(fh);
	return 0;
fail:
	pthread_rwlock_unlock(&in->io_lock);
	pfcd_inode_put(in);
	free(fh);
	close(fd);
	return rc;
}

void pfcd_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfc_inode *in = INODE(ino);
	int fd, rc;

	fd = pfcd_inode_open(in, backing_open_flags(fi->flags));
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	rc = attach(in, fd, fi, false);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* A reader's close has nothing to do here (flush only ends a writer's
	 * generation; locks are the kernel's own): FOPEN_NOFLUSH spares that
	 * round trip, one of five per file of a find | xargs md5sum. */
	if (!FH(fi)->writer)
		fi->noflush = 1;
	fuse_reply_open(req, fi);
}

/* create of a name that exists (no O_EXCL): open it as open does.  *in and
 * *fd (>= 0) on success, with the entry's lookup counted. */
static int create_existing(struct pfc_inode *dir, const struct pfc_backing_name *bn,
			   struct fuse_file_info *fi, struct fuse_entry_param *e,
			   struct pfc_inode **in, int *fd)
{
	int rc;

	if (fi->flags & O_EXCL)
		return -EEXIST;
	rc = pfcd_make_entry(dir, bn->name, e);
	if (rc < 0)
		return rc;
	*in = INODE(e->ino);
	if ((*in)->type != S_IFREG) {
		pfc_itable_forget(&pfcd_g->itable, e->ino, 1);
		return (*in)->type == S_IFDIR ? -EISDIR : -EINVAL;
	}
	*fd = pfcd_inode_open(*in, backing_open_flags(fi->flags));
	if (*fd < 0) {
		pfc_itable_forget(&pfcd_g->itable, e->ino, 1);
		return *fd;
	}
	return 0;
}

/* create of a new name: companion (long names), the backing file, its
 * owner, its entry and its header with a fresh key; on failure nothing is
 * left behind.  *in and *fd on success, as for create_existing. */
static int create_new(fuse_req_t req, struct pfc_inode *dir, int dfd,
		      const struct pfc_backing_name *bn, mode_t mode, struct fuse_file_info *fi,
		      struct fuse_entry_param *e, struct pfc_inode **in, int *fd)
{
	int rc = pfcd_companion_write(dfd, bn);

	if (rc < 0)
		return rc;
	*fd = pfcd_openat(dfd, bn->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
	if (*fd < 0) {
		rc = -errno;
		pfcd_companion_remove(dfd, bn);
		return rc;
	}
	rc = pfcd_chown_new(req, dfd, *fd, NULL);
	if (rc == 0)
		rc = pfcd_make_entry(dir, bn->name, e);
	if (rc < 0) {
		close(*fd);
		unlinkat(dfd, bn->name, 0);
		pfcd_companion_remove(dfd, bn);
		return rc;
	}
	*in = INODE(e->ino);
	pthread_rwlock_wrlock(&(*in)->io_lock);
	rc = pfcd_file_init_header(*in, *fd, true, (fi->flags & O_ACCMODE) != O_RDONLY);
	pthread_rwlock_unlock(&(*in)->io_lock);
	if (rc < 0) {
		close(*fd);
		pfc_itable_forget(&pfcd_g->itable, e->ino, 1);
		unlinkat(dfd, bn->name, 0);
		pfcd_companion_remove(dfd, bn);
		return rc;
	}
	if ((fi->flags & O_ACCMODE) == O_RDONLY) {
		/* the header needed a writable fd; the handle gets what was asked */
		close(*fd);
		*fd = pfc_open_regular(dfd, bn->name, O_RDONLY, 0, NULL);
		if (*fd < 0) {
			rc = *fd == PFC_ERR_CORRUPT ? -EIO : -errno; /* replaced from outside */
			pfc_itable_forget(&pfcd_g->itable, e->ino, 1);
			return rc;
		}
	}
	return 0;
}

void pfcd_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		    struct fuse_file_info *fi)
{
	struct pfc_inode *dir = INODE(parent), *in = NULL;
	struct pfc_backing_name bn;
	struct fuse_entry_param e;
	struct stat st;
	bool fresh = false;
	int fd = -1, rc, dfd = pfcd_inode_fd(dir);

	if (dfd < 0) {
		fuse_reply_err(req, -dfd);
		return;
	}
	rc = pfcd_name_find(dir, name, &bn, &st);
	if (rc == 0) {
		rc = create_existing(dir, &bn, fi, &e, &in, &fd);
	} else if (rc == -ENOENT) {
		rc = create_new(req, dir, dfd, &bn, mode, fi, &e, &in, &fd);
		fresh = true;
	}
	if (rc == 0) {
		rc = attach(in, fd, fi, fresh);
		if (rc < 0)
			pfc_itable_forget(&pfcd_g->itable, e.ino, 1);
	}
	pfcd_inode_put(dir);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_create(req, &e, fi);
}

void pfcd_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct pfc_inode *in = INODE(ino);
	const char *data = NULL;
	size_t got = 0;
	int rc;

	pthread_rwlock_rdlock(&in->io_lock);
	rc = pfcd_file_read(in, FH(fi)->fd, size, off, &data, &got);
	pthread_rwlock_unlock(&in->io_lock);
	/* data is this thread's scratch buffer: still ours until we return */
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, data, got);
}

void pfcd_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct pfc_inode *in = INODE(ino);
	struct pfcd_fh *fh = FH(fi);
	int rc;

	pthread_rwlock_wrlock(&in->io_lock);
	pfcd_file_writer_active(in, fh);
	rc = pfcd_file_write(in, fh->fd, buf, size, off, fh->append);
	pthread_rwlock_unlock(&in->io_lock);
	/* A write that bypassed the page cache (O_DIRECT, or a FOPEN_DIRECT_IO
	 * handle): the kernel dropped the cached pages of its range before
	 * sending it, but a buffered read through another handle may have
	 * cached the old bytes since (an asynchronous O_DIRECT write is not
	 * invalidated again at its completion; xfstests generic/451).  Drop
	 * them now that the new bytes are in the backing file and before the
	 * write completes; a read in flight is waited for, and no lock is held
	 * that its READ needs.  Also with no other handle open: pages cached
	 * through a handle closed meanwhile would be kept by its next open if
	 * the backing mtime did not move (its clock ticks coarsely). */
	if (rc >= 0 && (fh->direct || (fi->flags & O_DIRECT)))
		pfcd_kernelio_inval_data(ino, fh->append ? 0 : off, fh->append ? 0 : (off_t)size);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

void pfcd_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfc_inode *in = INODE(ino);
	struct pfcd_fh *fh = FH(fi);

	/* Writes went through to the backing file as they came: nothing is
	 * buffered.  This close() may end the write generation. */
	if (fh->writer) {
		pthread_rwlock_wrlock(&in->io_lock);
		if (!fh->flushed) {
			fh->flushed = true;
			pfcd_file_writer_closed(in);
		}
		pthread_rwlock_unlock(&in->io_lock);
	}
	fuse_reply_err(req, 0);
}

void pfcd_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfc_inode *in = INODE(ino);
	struct pfcd_fh *fh = FH(fi);
	struct stat st;

	pthread_rwlock_wrlock(&in->io_lock);
	if (fh->writer && !fh->flushed)
		pfcd_file_writer_closed(in);
	if (in->f.opens > 0 && --in->f.opens == 0) {
		if (fstat(fh->fd, &st) == 0) {
			in->f.seen_mtime = st.st_mtim;
			in->f.seen_size = st.st_size;
			in->f.seen_valid = true;
		}
		pfcd_file_unload(in);
	}
	pthread_rwlock_unlock(&in->io_lock);
	fh_untrack(fh);
	close(fh->fd);
	free(fh);
	pfcd_inode_put(in);
	fuse_reply_err(req, 0);
}

void pfcd_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int fd = FH(fi)->fd;

	(void)ino;
	pfcd_durable_sync(); /* the ids of new directories first (durable.c) */
	if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_err(req, 0);
}

void pfcd_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		       struct fuse_file_info *fi)
{
	struct pfc_inode *in = INODE(ino);
	int rc;

	pthread_rwlock_wrlock(&in->io_lock);
	pfcd_file_writer_active(in, FH(fi));
	rc = pfcd_file_fallocate(in, FH(fi)->fd, mode, off, len);
	pthread_rwlock_unlock(&in->io_lock);
	fuse_reply_err(req, -rc);
}

void pfcd_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	struct pfc_inode *in = INODE(ino);
	off_t res = 0;
	int rc;

	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		fuse_reply_err(req, EINVAL); /* the kernel handles the others itself */
		return;
	}
	pthread_rwlock_rdlock(&in->io_lock);
	rc = pfcd_file_seek(FH(fi)->fd, off, whence, &res);
	pthread_rwlock_unlock(&in->io_lock);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_lseek(req, res);
}

int pfcd_truncate(struct pfc_inode *in, struct fuse_file_info *fi, off_t size)
{
	int fd, rc;

	if (size < 0)
		return -EINVAL;
	if (fi) {
		pthread_rwlock_wrlock(&in->io_lock);
		pfcd_file_writer_active(in, FH(fi));
		rc = pfcd_file_truncate(in, FH(fi)->fd, (uint64_t)size);
		pthread_rwlock_unlock(&in->io_lock);
		return rc;
	}
	/* By path, with no handle: a generation of its own unless a writer is open. */
	fd = pfcd_inode_open(in, O_RDWR);
	if (fd < 0)
		return fd;
	pthread_rwlock_wrlock(&in->io_lock);
	rc = pfcd_file_truncate(in, fd, (uint64_t)size);
	if (in->f.opens == 0)
		pfcd_file_unload(in);
	pthread_rwlock_unlock(&in->io_lock);
	close(fd);
	return rc;
}
