/* SPDX-License-Identifier: MIT */
/*
 * ops_dir.c - directory listings.  A listing is a snapshot taken when the
 * kernel reads from offset 0: every backing entry classified, names
 * decrypted (an entry that does not decrypt is skipped with one log line;
 * sync-client conflict copies are shown as name + marker, see dirnames.c),
 * the volume's own files (config, directory ids, long-name companions)
 * left out.  Offsets are indexes into the snapshot, so a concurrent change
 * never makes the listing skip or repeat an entry.  dh->lock protects the
 * snapshot (one handle can be read by two threads).
 *
 * A listing is whole or it fails (issue 28): an entry is left out only when
 * it vanished (ENOENT) or its name does not decrypt (logged); a shortage
 * (EMFILE, ENFILE, ENOMEM) or any other failure to look an entry up is an
 * error the caller sees, never a short listing that reads as its end.
 */
#include "fs/daemon/daemon.h"

#include "fs/err.h"
#include "fs/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INODE(ino) pfc_itable_get(&pfcd_g->itable, (ino))

struct dent {
	char *name;  /* plaintext */
	char *bname; /* backing entry name */
	ino_t ino;
	unsigned char type; /* DT_* */
};

struct pfcd_dh {
	pthread_mutex_t lock;
	struct dent *ents; /* protected by lock */
	size_t n, cap;	   /* protected by lock */
};

static void dh_clear(struct pfcd_dh *dh)
{
	for (size_t i = 0; i < dh->n; i++) {
		free(dh->ents[i].name);
		free(dh->ents[i].bname);
	}
	free(dh->ents);
	dh->ents = NULL;
	dh->n = dh->cap = 0;
}

static int dh_add(struct pfcd_dh *dh, const char *name, const char *bname, ino_t ino,
		  unsigned char type)
{
	if (dh->n == dh->cap) {
		size_t nc = dh->cap ? dh->cap * 2 : 64;
		struct dent *ne = realloc(dh->ents, nc * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		dh->ents = ne;
		dh->cap = nc;
	}
	dh->ents[dh->n].name = strdup(name);
	dh->ents[dh->n].bname = strdup(bname);
	if (!dh->ents[dh->n].name || !dh->ents[dh->n].bname) {
		free(dh->ents[dh->n].name);
		free(dh->ents[dh->n].bname);
		return -ENOMEM;
	}
	dh->ents[dh->n].ino = ino;
	dh->ents[dh->n].type = type;
	dh->n++;
	return 0;
}

/* A failure that says nothing about the entry itself: the listing fails. */
static bool shortage(int rc)
{
	return rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM || rc == -EINTR || rc == -EAGAIN;
}

/* The one log line of an entry left out of a listing (rc: -errno). */
static void skipped_log(struct pfc_inode *dir, const char *bname, int rc,
			const struct pfc_entry_name *e)
{
	char path[PATH_MAX];

	pfcd_backing_path(dir, path, sizeof(path));
	if (e->step == PFC_ENTRY_STEP_TYPE)
		pfc_warn("%s/%s: long-name companion is not a regular file (%s); entry %s skipped",
			 path, e->companion, pfc_file_type_name(e->companion_type), bname);
	else
		pfc_warn("%s/%s: name does not decrypt (%s); skipped", path, bname, strerror(-rc));
}

/* One backing entry of the listing: added, left out (the volume's own
 * files, entries that carry no name of the volume, a name that does not
 * decrypt: logged), or -errno when the listing must fail. */
static int snapshot_entry(struct pfc_inode *dir, struct pfcd_dh *dh, int fd, struct dirent *de,
			  const uint8_t (*ids)[PFC_ID_BYTES], size_t nids)
{
	enum pfc_entry_kind k = pfc_entry_classify(de->d_name, strlen(de->d_name));
	struct pfc_entry_name e;
	struct stat st;
	int rc;

	/* a backing file system without d_type: the listing still has it */
	if (de->d_type == DT_UNKNOWN && k != PFC_ENTRY_OTHER &&
	    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		de->d_type = IFTODT(st.st_mode);
	if (k == PFC_ENTRY_DOT)
		return dh_add(dh, de->d_name, de->d_name, de->d_ino, de->d_type);
	if (k != PFC_ENTRY_ENCNAME && k != PFC_ENTRY_LONGNAME && k != PFC_ENTRY_OTHER)
		return 0; /* the volume's own files */
	/* OTHER: a sync client's conflict copy, or not ours at all */
	rc = pfcd_entry_decrypt(fd, de->d_name, ids, nids, &e);
	if (shortage(rc))
		return rc;
	if (rc < 0)
		skipped_log(dir, de->d_name, rc, &e);
	return rc == 0 ? dh_add(dh, e.name, de->d_name, de->d_ino, de->d_type) : 0;
}

static int snapshot(struct pfc_inode *dir, struct pfcd_dh *dh)
{
	uint8_t ids[PFC_DIRIDS_MAX][PFC_ID_BYTES];
	size_t nids, primary;
	struct dirent *de;
	DIR *dp;
	int pfd, fd, rc;

	dh_clear(dh);
	rc = pfcd_dirids(dir, true, ids, &nids, &primary);
	if (rc < 0)
		return rc;
	pfd = pfcd_inode_fd(dir);
	if (pfd < 0)
		return pfd;
	fd = pfcd_openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	pfcd_inode_put(dir);
	if (fd < 0)
		return -errno;
	dp = fdopendir(fd);
	if (!dp) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while (rc == 0 && (de = readdir(dp)))
		rc = snapshot_entry(dir, dh, fd, de, (const uint8_t(*)[PFC_ID_BYTES])ids, nids);
	closedir(dp);
	if (rc < 0)
		dh_clear(dh); /* the next read from offset 0 tries again */
	return rc;
}

void pfcd_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfcd_dh *dh = calloc(1, sizeof(*dh));

	(void)ino;
	if (!dh) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&dh->lock, NULL);
	fi->fh = (uint64_t)(uintptr_t)dh;
	fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct pfcd_dh *dh = (struct pfcd_dh *)(uintptr_t)fi->fh;
	struct pfc_inode *dir = INODE(ino);
	char *buf = malloc(size), *p = buf;
	size_t rem = size;
	int rc = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&dh->lock);
	if (off == 0 || !dh->ents)
		rc = snapshot(dir, dh);
	for (size_t i = (size_t)off; rc == 0 && i < dh->n; i++) {
		struct dent *d = &dh->ents[i];
		size_t need;

		if (plus) {
			struct fuse_entry_param e;
			bool dot = strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0;

			memset(&e, 0, sizeof(e));
			if (dot) {
				e.attr.st_ino = d->ino;
				e.attr.st_mode = (mode_t)d->type << 12;
			} else if ((rc = pfcd_make_entry(dir, d->bname, &e)) < 0) {
				if (rc == -ENOENT) {
					rc = 0;
					continue; /* vanished since the snapshot */
				}
				/* What is in buf goes out; the kernel asks again
				 * from this entry, which then fails alone. */
				break;
			}
			need = fuse_add_direntry_plus(req, p, rem, d->name, &e, (off_t)(i + 1));
			if (need > rem) {
				if (!dot)
					pfc_itable_forget(&pfcd_g->itable, e.ino, 1);
				break;
			}
		} else {
			struct stat st;

			memset(&st, 0, sizeof(st));
			st.st_ino = d->ino;
			st.st_mode = (mode_t)d->type << 12;
			need = fuse_add_direntry(req, p, rem, d->name, &st, (off_t)(i + 1));
			if (need > rem)
				break;
		}
		p += need;
		rem -= need;
	}
	pthread_mutex_unlock(&dh->lock);
	if (rc < 0 && p == buf)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

void pfcd_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void pfcd_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void pfcd_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfcd_dh *dh = (struct pfcd_dh *)(uintptr_t)fi->fh;

	(void)ino;
	dh_clear(dh);
	pthread_mutex_destroy(&dh->lock);
	free(dh);
	fuse_reply_err(req, 0);
}

void pfcd_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct pfc_inode *dir = INODE(ino);
	int pfd = pfcd_inode_fd(dir), fd, rc = 0;

	(void)fi;
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	fd = pfcd_openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	rc = fd < 0 ? errno : 0;
	pfcd_inode_put(dir);
	if (fd < 0) {
		fuse_reply_err(req, rc);
		return;
	}
	pfcd_durable_sync(); /* the ids of new directories first (durable.c) */
	if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
		rc = errno;
	close(fd);
	fuse_reply_err(req, rc);
}
