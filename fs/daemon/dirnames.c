/* SPDX-License-Identifier: MIT */
/*
 * dirnames.c - plaintext names <-> backing directory entries: the cached
 * directory ids of each directory (dir_lock), lookup trying every id of a
 * directory (a directory can hold several after a sync conflict), long-name
 * companions.
 */
#include "fs/daemon/daemon.h"

#include "fs/err.h"
#include "fs/log.h"
#include "fs/volume.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int pfcd_dirids(struct pfc_inode *dir, bool reload, uint8_t (*ids)[PFC_ID_BYTES], size_t *n,
		size_t *primary)
{
	struct pfc_dstate *ds;
	int rc = 0;

	pthread_mutex_lock(&dir->dir_lock);
	if (!dir->d && !(dir->d = calloc(1, sizeof(*dir->d)))) {
		pthread_mutex_unlock(&dir->dir_lock);
		return -ENOMEM;
	}
	ds = dir->d;
	if (!ds->valid || reload) {
		struct pfc_dirid_odd odd;
		size_t cnt = 0, prim = 0;
		int pfd = pfcd_inode_fd(dir), fd;

		if (pfd < 0) {
			rc = pfd;
			goto out;
		}
		fd = pfcd_openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
		pfcd_inode_put(dir);
		if (fd < 0) {
			rc = -errno;
			goto out;
		}
		do {
			rc = pfc_dirid_load_report(fd, ds->ids, PFC_DIRIDS_MAX, &cnt, &prim, &odd);
		} while (rc == PFC_ERR_IO && pfcd_fd_short(errno));
		close(fd);
		if (rc == PFC_ERR_IO && (errno == EMFILE || errno == ENFILE || errno == ENOMEM)) {
			/* a shortage, not a missing id: said as such (fdbudget.c logged it) */
			rc = -errno;
			goto out;
		}
		if (rc < 0) {
			char path[PATH_MAX];

			pfcd_backing_path(dir, path, sizeof(path));
			/* warning: a sync client creates a directory before its id file */
			if (rc == PFC_ERR_NOT_FOUND && odd.n)
				pfc_warn("%s/%s: directory id: not a regular file (%s)", path,
					 odd.name, pfc_file_type_name(odd.type));
			else
				pfc_warn("%s: directory id: %s", path, pfc_strerror(rc));
			ds->valid = false;
			rc = rc == PFC_ERR_NOT_FOUND ? -EIO : pfcd_errno(rc);
			goto out;
		}
		ds->nids = (unsigned)cnt;
		ds->pick = (unsigned)prim;
		ds->valid = true;
		clock_gettime(CLOCK_MONOTONIC, &ds->loaded_at);
	}
	memcpy(ids, ds->ids, ds->nids * sizeof(ds->ids[0]));
	*n = ds->nids;
	*primary = ds->pick;
out:
	pthread_mutex_unlock(&dir->dir_lock);
	return rc;
}

int pfcd_name_for_create(struct pfc_inode *dir, const char *name, struct pfc_backing_name *bn)
{
	uint8_t ids[PFC_DIRIDS_MAX][PFC_ID_BYTES];
	size_t n, primary;
	int rc = pfc_name_check(name, strlen(name));

	if (rc < 0)
		return pfcd_errno(rc);
	rc = pfcd_dirids(dir, false, ids, &n, &primary);
	if (rc < 0)
		return rc;
	rc = pfc_name_to_backing(pfcd_g->vk, ids[primary], name, strlen(name), bn);
	return rc < 0 ? pfcd_errno(rc) : 0;
}

/* Were dir's ids read more than PFCD_TIMEOUT ago?  (A sync client may have
 * brought a second id file since: names under it must appear as fast as
 * any other change from outside.) */
static bool dirids_stale(struct pfc_inode *dir)
{
	struct timespec now;
	double age;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&dir->dir_lock);
	if (!dir->d) {
		pthread_mutex_unlock(&dir->dir_lock);
		return true;
	}
	age = (double)(now.tv_sec - dir->d->loaded_at.tv_sec) +
	      (double)(now.tv_nsec - dir->d->loaded_at.tv_nsec) / 1e9;
	pthread_mutex_unlock(&dir->dir_lock);
	return age >= PFCD_TIMEOUT;
}

/* lstat of entry name in directory inode dir.  0 or -errno. */
static int stat_entry(struct pfc_inode *dir, const char *name, struct stat *st)
{
	int fd = pfcd_inode_fd(dir), rc = 0;

	if (fd < 0)
		return fd;
	if (fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	pfcd_inode_put(dir);
	return rc;
}

int pfcd_name_find(struct pfc_inode *dir, const char *name, struct pfc_backing_name *bn,
		   struct stat *st)
{
	uint8_t ids[PFC_DIRIDS_MAX][PFC_ID_BYTES];
	size_t n, primary;
	bool reloaded = false;
	int rc = pfc_name_check(name, strlen(name));

	if (rc < 0)
		return pfcd_errno(rc);
	rc = pfcd_dirids(dir, false, ids, &n, &primary);
	if (rc < 0)
		return rc;
again:
	for (size_t k = 0; k < n; k++) {
		/* the primary id first: that is where new names go */
		size_t i = k == 0 ? primary : (k <= primary ? k - 1 : k);

		rc = pfc_name_to_backing(pfcd_g->vk, ids[i], name, strlen(name), bn);
		if (rc < 0)
			return pfcd_errno(rc);
		rc = stat_entry(dir, bn->name, st);
		if (rc != -ENOENT)
			return rc;
	}
	/* a sync client's conflict copy of an existing name? */
	rc = pfcd_conflict_find(dir, name, bn, st);
	if (rc != -ENOENT)
		return rc;
	/* or a name under a directory id that arrived after we read them */
	if (!reloaded && dirids_stale(dir)) {
		size_t old_n = n;

		reloaded = true;
		rc = pfcd_dirids(dir, true, ids, &n, &primary);
		if (rc < 0)
			return rc;
		if (n != old_n)
			goto again;
	}
	/* leave *bn as the primary-id form so callers can create the name */
	rc = pfc_name_to_backing(pfcd_g->vk, ids[primary], name, strlen(name), bn);
	return rc < 0 ? pfcd_errno(rc) : -ENOENT;
}

/* One log line for a long-name companion that is not a regular file. */
static void companion_log(int dirfd, const char *companion, unsigned type)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = readlink(link, path, sizeof(path) - 1);
	path[n < 0 ? 0 : n] = '\0';
	pfc_warn("%s/%s: long-name companion is not a regular file (%s): not replaced", path,
		 companion, pfc_file_type_name(type));
}

int pfcd_name_claim(struct pfc_inode *dir, const char *name, struct pfc_backing_name *bn)
{
	struct stat st;
	int rc = pfcd_name_find(dir, name, bn, &st), fd;

	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	if (!bn->is_long)
		return 0;
	fd = pfcd_inode_fd(dir);
	if (fd < 0)
		return fd;
	rc = pfcd_companion_write(fd, bn);
	pfcd_inode_put(dir);
	return rc;
}

int pfcd_companion_write(int dirfd, const struct pfc_backing_name *bn)
{
	unsigned type = 0;
	int fd, rc = 0;
	ssize_t w;

	if (!bn->is_long)
		return 0;
	do {
		fd = pfc_open_regular(dirfd, bn->companion, O_WRONLY | O_CREAT | O_TRUNC, 0644,
				      &type);
	} while (fd == PFC_ERR_IO && pfcd_fd_short(errno));
	if (fd == PFC_ERR_CORRUPT) {
		/* never written into, never removed: it is not ours */
		companion_log(dirfd, bn->companion, type);
		return -EIO;
	}
	if (fd < 0)
		return -errno;
	w = write(fd, bn->enc, bn->enc_len);
	if (w < 0)
		rc = -errno;
	else if ((size_t)w != bn->enc_len)
		rc = -EIO;
	close(fd);
	if (rc < 0)
		unlinkat(dirfd, bn->companion, 0);
	return rc;
}

void pfcd_companion_remove(int dirfd, const struct pfc_backing_name *bn)
{
	if (bn->is_long)
		unlinkat(dirfd, bn->companion, 0);
}

/*
 * Sync-client conflict copies (ARCHITECTURE.md 4, rules in fs/conflict.c).  A sync
 * client that finds two versions of "<enc>" keeps one and renames the other
 * by appending a marker ("<enc>.sync-conflict-20240102-030405-ABCDEFG",
 * "<enc>.conflict1", "<enc> (Ann's conflicted copy 2024-01-02)", ...).  The
 * mount shows such an entry as the decrypted name plus the same marker
 * (pfc_entry_name), and a lookup of "<name><marker>" finds it
 * (pfcd_conflict_find), so users can read, rename or delete the copy.  A
 * long-name entry's copy "pfc.long.<hash><marker>" shares the original's
 * companion (the client copies the entry only); the copy's backing name is
 * never is_long, so removing or renaming it leaves that companion alone.
 */
int pfcd_entry_decrypt(int dirfd, const char *entry, const uint8_t (*ids)[PFC_ID_BYTES], size_t n,
		       struct pfc_entry_name *e)
{
	int rc;

	do {
		rc = pfc_entry_name(pfcd_g->vk, dirfd, entry, ids, n, e);
	} while (rc == PFC_ERR_IO && e->step == PFC_ENTRY_STEP_OPEN && pfcd_fd_short(errno));
	if (rc == 1)
		return 1;
	if (rc < 0) {
		rc = pfcd_errno(rc);
		/* a copy whose base has no companion is damaged, not absent */
		if (rc == -ENOENT && pfc_entry_classify(entry, strlen(entry)) == PFC_ENTRY_OTHER)
			rc = -EIO;
		return rc;
	}
	return 0;
}

int pfcd_conflict_find(struct pfc_inode *dir, const char *name, struct pfc_backing_name *bn,
		       struct stat *st)
{
	uint8_t ids[PFC_DIRIDS_MAX][PFC_ID_BYTES];
	size_t n, primary;
	int rc;

	rc = pfcd_dirids(dir, false, ids, &n, &primary);
	if (rc < 0)
		return rc;
	for (size_t at = pfc_conflict_next_marker(name, 1); at;
	     at = pfc_conflict_next_marker(name, at + 1)) {
		struct pfc_backing_name base;
		const char *m = name + at;
		size_t blen = at, slen;
		char plain[PFC_NAME_BUF];

		memcpy(plain, name, blen);
		plain[blen] = '\0';
		if (pfc_name_check(plain, blen) < 0)
			continue;
		slen = strlen(m);
		for (size_t i = 0; i < n; i++) {
			/* a long name's copy is "pfc.long.<hash><marker>" (companion shared) */
			if (pfc_name_to_backing(pfcd_g->vk, ids[i], plain, blen, &base) < 0 ||
			    strlen(base.name) + slen > PFC_ENCNAME_SHORT_MAX)
				continue;
			memset(bn, 0, sizeof(*bn));
			snprintf(bn->name, sizeof(bn->name), "%s%s", base.name, m);
			rc = stat_entry(dir, bn->name, st);
			if (rc != -ENOENT)
				return rc;
		}
	}
	return -ENOENT;
}
