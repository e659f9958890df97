// SPDX-License-Identifier: MIT
/* sockcheck.c - may the client trust the keystore socket? (see sockcheck.h) */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "fs/err.h"
#include "keystore/sockcheck.h"

/* why = the formatted reason; returns PFC_ERR_UNTRUSTED. */
__attribute__((format(printf, 3, 4))) static int untrusted(char *why, size_t len, const char *fmt,
							   ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return PFC_ERR_UNTRUSTED;
}

static bool ours(uid_t owner, uid_t me)
{
	return owner == me || owner == 0;
}

/* The directory part of path: up to its last '/' ("/" for "/x", "." for "x"). */
static void dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash) {
		snprintf(dir, len, ".");
		return;
	}
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1; /* "/x": the root */
	snprintf(dir, len, "%.*s", (int)n, path);
}

int pfc_ks_check_path(const char *path, uid_t me, char *why, size_t len)
{
	char dir[PATH_MAX];
	struct stat d, s;

	why[0] = '\0';
	dir_of(path, dir, sizeof(dir));
	if (stat(dir, &d) < 0 || !S_ISDIR(d.st_mode) || lstat(path, &s) < 0)
		return PFC_ERR_UNREACHABLE; /* connect would fail the same way */
	if (!ours(d.st_uid, me))
		return untrusted(why, len,
				 "directory %s of the socket belongs to uid %u, not to you "
				 "(uid %u) or root",
				 dir, (unsigned)d.st_uid, (unsigned)me);
	if (S_ISLNK(s.st_mode))
		return untrusted(why, len, "socket %s is a symbolic link", path);
	if (!S_ISSOCK(s.st_mode))
		return untrusted(why, len, "%s is not a socket", path);
	if (!ours(s.st_uid, me))
		return untrusted(why, len,
				 "socket %s belongs to uid %u, not to you (uid %u) or root", path,
				 (unsigned)s.st_uid, (unsigned)me);
	/* a root-owned sticky directory (/tmp): nobody else can rename our entry */
	if ((d.st_mode & (S_IWGRP | S_IWOTH)) &&
	    !(d.st_uid == 0 && (d.st_mode & S_ISVTX) && s.st_uid == me))
		return untrusted(why, len,
				 "directory %s of the socket is writable by group or others "
				 "(mode %04o)",
				 dir, (unsigned)(d.st_mode & 07777));
	return 0;
}

int pfc_ks_check_peer(int fd, const char *path, uid_t me, char *why, size_t len)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);

	why[0] = '\0';
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || cl != sizeof(cr))
		return untrusted(why, len, "cannot read who serves socket %s: %s", path,
				 strerror(errno));
	if (!ours(cr.uid, me))
		return untrusted(why, len,
				 "socket %s is served by uid %u (pid %d), not by you (uid "
				 "%u) or root",
				 path, (unsigned)cr.uid, (int)cr.pid, (unsigned)me);
	return 0;
}
