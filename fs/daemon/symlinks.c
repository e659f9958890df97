/* SPDX-License-Identifier: MIT */
/*
 * symlinks.c - the daemon's side of symlink targets (FORMAT.md section 8):
 * both stored forms, and the life of a long target's companion file under
 * .pfcrypt.symlinks/ at the backing root (made before its symlink, removed
 * after the symlink's last link).  Only plain descriptors come in: the
 * backing root is kept here (a descriptor of its own, from
 * pfcd_symlinks_init), objects and directories are passed by the caller.
 */
#include "fs/daemon/daemon.h"

#include "fs/err.h"
#include "fs/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

static int sym_root = -1; /* set once before the session starts; read-only after */

int pfcd_symlinks_init(int rootfd)
{
	sym_root = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
	return sym_root < 0 ? -errno : 0;
}

void pfcd_symlinks_fini(void)
{
	if (sym_root >= 0)
		close(sym_root);
	sym_root = -1;
}

static void log_target_error(int fd, const char *what, int err)
{
	char p[64], path[PATH_MAX];
	ssize_t n;

	pfcd_proc_path(fd, p);
	n = readlink(p, path, sizeof(path) - 1);
	path[n < 0 ? 0 : n] = '\0';
	pfc_err_log("%s: symlink target%s: %s", n < 0 ? "?" : path, what, pfc_strerror(err));
}

int pfcd_symlink_make(int dirfd, const char *bname, const char *target)
{
	struct pfc_symlink_stored *s = sodium_malloc(sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	rc = pfc_symlink_to_backing(pfcd_g->vk, target, strlen(target), s);
	if (rc < 0) {
		rc = pfcd_errno(rc);
		goto out;
	}
	if (s->is_long) { /* companion first: the symlink never exists without it */
		rc = pfc_symlink_companion_write(sym_root, s);
		if (rc < 0) {
			rc = pfcd_errno(rc);
			goto out;
		}
	}
	if (symlinkat(s->link, dirfd, bname) < 0) {
		rc = -errno;
		if (s->is_long)
			pfc_symlink_companion_remove(sym_root, s->hash);
	}
out:
	sodium_free(s); /* wipes */
	return rc;
}

/* The target of the backing symlink fd (O_PATH) into out (PFC_SYMLINK_BUF). */
static int read_target(int fd, char *out, size_t cap, size_t *len, bool log)
{
	char link[PFC_SYMLINK_ENC_BUF];
	ssize_t n = readlinkat(fd, "", link, sizeof(link));
	int rc;

	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(link)) {
		rc = PFC_ERR_TOO_LARGE;
	} else {
		do {
			rc = pfc_symlink_read(pfcd_g->vk, sym_root, link, (size_t)n, out, cap, len);
		} while (rc == PFC_ERR_IO && pfcd_fd_short(errno));
		if (rc == 0)
			return 0;
		if (rc == PFC_ERR_IO && (errno == EMFILE || errno == ENFILE || errno == ENOMEM))
			return -errno; /* a shortage, not a damaged companion (fdbudget.c logged it)
					*/
		if (rc == PFC_ERR_NOT_FOUND || rc == PFC_ERR_IO) {
			char hash[PFC_SYMLINK_HASH_LEN + 1];

			pfc_symlink_ref_parse(link, (size_t)n, hash);
			if (log) {
				char what[96];

				snprintf(what, sizeof(what), " companion %s/%s", PFC_SYMLINKS_DIR,
					 hash);
				log_target_error(fd, what, rc);
			}
			return -EIO;
		}
	}
	if (log)
		log_target_error(fd, "", rc);
	return -EIO;
}

int pfcd_symlink_read(int fd, char *out, size_t cap, size_t *len)
{
	return read_target(fd, out, cap, len, true);
}

int pfcd_symlink_target_len(int fd, size_t *len)
{
	char *t = sodium_malloc(PFC_SYMLINK_BUF);
	size_t n;
	int rc;

	if (!t)
		return -ENOMEM;
	rc = read_target(fd, t, PFC_SYMLINK_BUF, &n, false); /* readlink logs; stat is quiet */
	sodium_free(t);
	if (rc == 0)
		*len = n;
	return rc;
}

void pfcd_symlink_unlinking(int dirfd, const char *bname, mode_t mode, struct pfcd_symlink_gone *g)
{
	char link[PFC_SYMLINK_REF_LEN + 1];
	ssize_t n;

	g->fd = -1;
	g->dirfd = dirfd;
	if (mode != 0 && !S_ISLNK(mode))
		return;
	g->fd = pfcd_openat(dirfd, bname, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
	if (g->fd < 0)
		return;
	/* read through the descriptor: the same object whose link count is asked after */
	n = readlinkat(g->fd, "", link, sizeof(link));
	if (n < 0 || !pfc_symlink_ref_parse(link, (size_t)n, g->hash)) {
		close(g->fd); /* not a symlink, or an inline target: nothing to remove */
		g->fd = -1;
	}
}

/*
 * Does another entry of dirfd refer to companion hash?  A sync client's
 * conflict copy of a long symlink is a sibling symlink with the same
 * reference (and so is one renamed over the original), not a hard link.
 * When the directory cannot be read, the answer is yes: an orphan
 * companion is harmless (check reports it), a lost target is not.
 */
static bool referenced_nearby(int dirfd, const char *hash)
{
	char link[PFC_SYMLINK_REF_LEN + 1], h[PFC_SYMLINK_HASH_LEN + 1];
	int fd = pfcd_openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (fd < 0)
		return true;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return true;
	}
	while (!found && (de = readdir(d))) {
		ssize_t n;

		if (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
			continue;
		n = readlinkat(fd, de->d_name, link, sizeof(link));
		found = n > 0 && (size_t)n < sizeof(link) &&
			pfc_symlink_ref_parse(link, (size_t)n, h) && strcmp(h, hash) == 0;
	}
	closedir(d);
	return found;
}

void pfcd_symlink_unlinked(struct pfcd_symlink_gone *g, bool done)
{
	struct stat st;

	if (g->fd < 0)
		return;
	/* The companion goes with the last link (FORMAT.md 8.2) unless a sibling
	 * (a conflict copy) refers to it too; a crash before this leaves an
	 * orphan, which check reports. */
	if (done && fstat(g->fd, &st) == 0 && st.st_nlink == 0 &&
	    !referenced_nearby(g->dirfd, g->hash) &&
	    pfc_symlink_companion_remove(sym_root, g->hash) < 0 && errno != ENOENT)
		pfc_warn("%s/%s: cannot remove the symlink companion: %s", PFC_SYMLINKS_DIR,
			 g->hash, strerror(errno));
	close(g->fd);
	g->fd = -1;
}

int pfcd_symlink_unlinkat(int dirfd, const char *bname, mode_t mode, int flags)
{
	struct pfcd_symlink_gone g;
	int rc = 0;

	pfcd_symlink_unlinking(dirfd, bname, (flags & AT_REMOVEDIR) ? S_IFDIR : mode, &g);
	if (unlinkat(dirfd, bname, flags) < 0)
		rc = -errno;
	pfcd_symlink_unlinked(&g, rc == 0);
	return rc;
}
