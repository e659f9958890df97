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

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pfcd_dirids(struct pfc_inode *dir, bool reload, uint8_t (*ids)[PFC_ID_BYTES], size_t *n,
		size_t *primary)
{
	struct pfc_dstate *ds = &dir->d;
	int rc = 0;

	pthread_mutex_lock(&dir->dir_lock);
	if (!ds->valid || reload) {
		size_t cnt = 0, prim = 0;
		int fd = openat(dir->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0) {
			rc = -errno;
			goto out;
		}
		rc = pfc_dirid_load_all(fd, ds->ids, PFC_DIRIDS_MAX, &cnt, &prim);
		close(fd);
		if (rc < 0) {
			char path[PATH_MAX];

			pfcd_backing_path(dir, path, sizeof(path));
			pfc_err_log("%s: directory id: %s", path, pfc_strerror(rc));
			ds->valid = false;
			rc = rc == PFC_ERR_NOT_FOUND ? -EIO : pfcd_errno(rc);
			goto out;
		}
		ds->nids = (unsigned)cnt;
		ds->pick = (unsigned)prim;
		ds->valid = true;
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

int pfcd_name_find(struct pfc_inode *dir, const char *name, struct pfc_backing_name *bn,
		   struct stat *st)
{
	uint8_t ids[PFC_DIRIDS_MAX][PFC_ID_BYTES];
	size_t n, primary;
	int rc = pfc_name_check(name, strlen(name));

	if (rc < 0)
		return pfcd_errno(rc);
	rc = pfcd_dirids(dir, false, ids, &n, &primary);
	if (rc < 0)
		return rc;
	for (size_t k = 0; k < n; k++) {
		/* the primary id first: that is where new names go */
		size_t i = k == 0 ? primary : (k <= primary ? k - 1 : k);

		rc = pfc_name_to_backing(pfcd_g->vk, ids[i], name, strlen(name), bn);
		if (rc < 0)
			return pfcd_errno(rc);
		if (fstatat(dir->fd, bn->name, st, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		if (errno != ENOENT)
			return -errno;
	}
	/* leave *bn as the primary-id form so callers can create the name */
	rc = pfc_name_to_backing(pfcd_g->vk, ids[primary], name, strlen(name), bn);
	return rc < 0 ? pfcd_errno(rc) : -ENOENT;
}

int pfcd_companion_write(int dirfd, const struct pfc_backing_name *bn)
{
	int fd, rc = 0;
	ssize_t w;

	if (!bn->is_long)
		return 0;
	fd = openat(dirfd, bn->companion, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		    0644);
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

int pfcd_name_decrypt_entry(int dirfd, const char *entry, enum pfc_entry_kind kind,
			    const uint8_t (*ids)[PFC_ID_BYTES], size_t n, char *out)
{
	char enc[PFC_ENCNAME_BUF];
	const char *e = entry;
	size_t elen = strlen(entry), olen, matched;
	int rc;

	if (kind == PFC_ENTRY_LONGNAME) {
		char comp[PFC_LONGNAME_COMPANION_LEN + 1];
		uint8_t content[PFC_ENCNAME_MAX + 1];
		ssize_t got;
		int fd;

		rc = pfc_longname_companion(entry, elen, comp);
		if (rc < 0)
			return pfcd_errno(rc);
		fd = openat(dirfd, comp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return -errno;
		got = read(fd, content, sizeof(content));
		close(fd);
		if (got < 0)
			return -errno;
		rc = pfc_longname_companion_parse(entry, elen, content, (size_t)got, enc,
						  sizeof(enc), &elen);
		if (rc < 0)
			return pfcd_errno(rc);
		e = enc;
	}
	rc = pfc_name_decrypt(pfcd_g->vk, ids, n, e, elen, out, PFC_NAME_BUF, &olen, &matched);
	return rc < 0 ? pfcd_errno(rc) : 0;
}
