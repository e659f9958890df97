// SPDX-License-Identifier: MIT
/*
 * check_fold.c - pfcrypt check --fold-dirids: a directory that holds several
 * directory ids (two machines created it before syncing; ARCHITECTURE.md section 2, "Names")
 * is folded into its primary id (the smallest, as pfc_dirid_load_all says):
 * every name encrypted under another id is re-encrypted under the primary one
 * and renamed (RENAME_NOREPLACE; a long name gets its new companion first),
 * then the other id files are removed and the primary one is named
 * PFC_DIRID_NAME.  A name that exists under two ids is left alone and
 * reported; the directory then keeps its ids.  Only on an unmounted volume
 * (cmd_check.c refuses otherwise): the daemon caches directory ids.
 * Order for a crash: a renamed entry is readable under either state (both
 * ids are still there until the very end), so running it again finishes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/err.h"
#include "fs/volume.h"
#include "tools/check.h"
#include "tools/cli.h"

/* Move one entry from its old backing name to bn; 0 moved, 1 taken (conflict), -1 error. */
static int move_entry(int dfd, const char *old, enum pfc_entry_kind kind,
		      const struct pfc_backing_name *bn)
{
	if (faccessat(dfd, bn->name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (bn->is_long) {
		/* one already there must be a regular file (never a FIFO's open) */
		int fd =
		    pfc_open_regular(dfd, bn->companion, O_WRONLY | O_CREAT | O_EXCL, 0644, NULL);

		if (fd == PFC_ERR_CORRUPT) {
			errno = EEXIST; /* a FIFO, socket or device there: the walk reports it */
			return -1;
		}
		if (fd < 0 && errno != EEXIST)
			return -1;
		if (fd >= 0) {
			if (write(fd, bn->enc, bn->enc_len) != (ssize_t)bn->enc_len ||
			    fsync(fd) < 0) {
				close(fd);
				return -1;
			}
			close(fd);
		}
	}
	if (renameat2(dfd, old, dfd, bn->name, RENAME_NOREPLACE) < 0)
		return errno == EEXIST ? 1 : -1;
	if (kind == PFC_ENTRY_LONGNAME) {
		char comp[PFC_LONGNAME_COMPANION_LEN + 1];

		if (pfc_longname_companion(old, strlen(old), comp) == 0)
			unlinkat(dfd, comp, 0);
	}
	return 0;
}

/* Remove every id file but one holding the primary id, which ends up as PFC_DIRID_NAME. */
static int keep_primary_id(int dfd, const uint8_t primary[PFC_ID_BYTES])
{
	DIR *d = fdopendir(openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	struct dirent *de;
	char keep[256] = "";
	int ret = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		uint8_t buf[PFC_DIRID_FILE_SIZE + 1], id[PFC_ID_BYTES];
		ssize_t n;
		int fd;

		if (pfc_entry_classify(de->d_name, strlen(de->d_name)) != PFC_ENTRY_DIRID)
			continue;
		/* not a regular file: not an id (FORMAT.md 5.4), never opened */
		fd = pfc_open_regular(dfd, de->d_name, O_RDONLY, 0, NULL);
		n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
		if (fd >= 0)
			close(fd);
		if (n >= 0 && pfc_dirid_parse(buf, (size_t)n, id) == 0 &&
		    !memcmp(id, primary, PFC_ID_BYTES) &&
		    (!keep[0] || !strcmp(de->d_name, PFC_DIRID_NAME)))
			snprintf(keep, sizeof(keep), "%s", de->d_name);
	}
	if (!keep[0]) {
		closedir(d);
		return -1;
	}
	closedir(d);
	if (strcmp(keep, PFC_DIRID_NAME) && renameat(dfd, keep, dfd, PFC_DIRID_NAME) < 0)
		return -1;
	/* A fresh listing: the one above may still show the name just renamed. */
	d = fdopendir(openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!d)
		return -1;
	while (ret == 0 && (de = readdir(d)))
		if (pfc_entry_classify(de->d_name, strlen(de->d_name)) == PFC_ENTRY_DIRID &&
		    strcmp(de->d_name, PFC_DIRID_NAME) && unlinkat(dfd, de->d_name, 0) < 0 &&
		    errno != ENOENT)
			ret = -1;
	closedir(d);
	if (ret == 0)
		fsync(dfd);
	return ret;
}

int check_fold(struct check *ck, int dfd, const char *rel, const char *plain,
	       const uint8_t (*ids)[PFC_ID_BYTES], size_t nids, size_t primary)
{
	DIR *d = fdopendir(openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, moved = 0, conflicts = 0, errors = 0;

	if (!d)
		return check_problem(ck, "fold_failed", rel, plain,
				     "cannot read directory to fold its ids: %s", strerror(errno));
	while ((de = readdir(d))) {
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*nn));

			if (!nn)
				break;
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		enum pfc_entry_kind kind = pfc_entry_classify(names[i], strlen(names[i]));
		struct pfc_entry_name e;
		struct pfc_backing_name bn;
		int r;

		if (kind != PFC_ENTRY_ENCNAME && kind != PFC_ENTRY_LONGNAME)
			continue;
		if (pfc_entry_name(ck->vk, dfd, names[i], ids, nids, &e) != 0 ||
		    e.matched == primary)
			continue; /* already under the primary id, or reported by the walk */
		r = pfc_name_to_backing(ck->vk, ids[primary], e.name, e.len, &bn);
		if (r == 0)
			r = move_entry(dfd, names[i], kind, &bn);
		if (r == 1) {
			check_notice(ck, "fold_conflict", rel, plain,
				     "cannot fold: a name exists under two directory ids");
			conflicts++;
		} else if (r < 0) {
			check_problem(ck, "fold_failed", rel, plain,
				      "cannot fold a name into the primary directory id: %s",
				      strerror(errno));
			errors++;
		} else {
			moved++;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (conflicts || errors)
		return 0;
	if (keep_primary_id(dfd, ids[primary]) < 0)
		return check_problem(ck, "fold_failed", rel, plain,
				     "cannot remove the extra directory ids: %s", strerror(errno));
	return check_notice(ck, "folded", rel, plain,
			    "folded %zu directory ids into one (%zu names moved)", nids, moved);
}
