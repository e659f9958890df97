// SPDX-License-Identifier: MIT
/*
 * regfile.c - opening a backing entry that must be a regular file (a file's
 * header, a long-name companion, a directory id, the config, its lock; see
 * format.h).  A FIFO put in such a place would block an open for reading
 * until a writer comes (and a read after it), a socket cannot be opened,
 * and opening a device node can do anything its driver does: so the entry
 * is looked at first and opened only when it is a regular file, and the
 * open itself never blocks (O_NONBLOCK, O_NOCTTY) in case the entry was
 * replaced in between, which the fstat of the descriptor then catches.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/err.h"
#include "fs/format.h"

const char *pfc_file_type_name(unsigned type)
{
	switch (type & S_IFMT) {
	case S_IFREG:
		return "regular file";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symlink";
	case S_IFIFO:
		return "FIFO";
	case S_IFSOCK:
		return "socket";
	case S_IFCHR:
		return "character device";
	case S_IFBLK:
		return "block device";
	default:
		return "unknown file type";
	}
}

/* 0 if fd is a regular file; else PFC_ERR_CORRUPT (*type set) or PFC_ERR_IO. */
static int check_fd(int fd, unsigned *type)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return PFC_ERR_IO;
	if (S_ISREG(st.st_mode))
		return 0;
	if (type)
		*type = st.st_mode & S_IFMT;
	return PFC_ERR_CORRUPT;
}

int pfc_open_regular(int dirfd, const char *name, int flags, unsigned mode, unsigned *type)
{
	struct stat st;
	int fd, rc, fl, e;

	flags |= O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISREG(st.st_mode)) {
			if (type)
				*type = st.st_mode & S_IFMT;
			return PFC_ERR_CORRUPT;
		}
	} else if (errno != ENOENT || !(flags & O_CREAT)) {
		return PFC_ERR_IO;
	}
	fd = openat(dirfd, name, flags, (mode_t)mode);
	if (fd < 0) {
		/* ENXIO: a FIFO without a reader (or a socket) put there since */
		if (errno == ENXIO && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISREG(st.st_mode)) {
			if (type)
				*type = st.st_mode & S_IFMT;
			return PFC_ERR_CORRUPT;
		}
		return PFC_ERR_IO;
	}
	rc = check_fd(fd, type);
	fl = rc == 0 ? fcntl(fd, F_GETFL) : -1;
	if (rc == 0 && (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0))
		rc = PFC_ERR_IO;
	if (rc == 0)
		return fd;
	e = errno;
	close(fd);
	errno = e;
	return rc;
}
