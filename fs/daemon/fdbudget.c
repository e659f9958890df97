/* SPDX-License-Identifier: MIT */
/*
 * fdbudget.c - the daemon's descriptor budget (issue 28).
 *
 * The inode table holds at most fd_cap idle O_PATH descriptors (inode.c
 * closes the least recently used beyond that and reopens them through the
 * parent on their next use), so a walk of any size never runs the daemon out
 * of descriptors.  The rest of RLIMIT_NOFILE is the reserve: open file and
 * directory handles, the internal O_NOATIME descriptor of open files, new
 * directory-id files waiting for their fsync (durable.c, at most
 * PFCD_DURABLE_MAX), the keystore connection, /dev/fuse and the short-lived
 * descriptors of one request per thread.  Should the process still meet
 * EMFILE/ENFILE (a user holding thousands of files open), every open of the
 * daemon closes idle inode descriptors and tries again; only when none are
 * left does the caller get EMFILE, and the log one line naming the limit.
 */
#include "fs/daemon/daemon.h"

#include "fs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>

#define FD_RESERVE_MIN	  256 /* durable.c's 128, handles, keystore, per-thread scratch */
#define FD_RESERVE_SHARE  4   /* or a quarter of the limit, if that is more */
#define FD_CAP_MIN	  64  /* never fewer idle inode descriptors than this */
#define FD_SHRINK_BATCH	  64  /* idle descriptors closed per EMFILE met */
#define FD_SHORT_LOG_SECS 10  /* one "limit reached" line per this many seconds */

static size_t limit_fds(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > (1u << 30))
		return 1u << 20;
	return (size_t)rl.rlim_cur;
}

size_t pfcd_fd_cap(void)
{
	size_t lim = limit_fds(), reserve = lim / FD_RESERVE_SHARE;

	if (reserve < FD_RESERVE_MIN)
		reserve = FD_RESERVE_MIN;
	return lim > reserve + FD_CAP_MIN ? lim - reserve : FD_CAP_MIN;
}

bool pfcd_fd_short(int err)
{
	static _Atomic long last_log;
	struct timespec now;
	struct pfc_itable *t = &pfcd_g->itable;

	if (err != EMFILE && err != ENFILE)
		return false;
	if (pfc_itable_shrink(t, FD_SHRINK_BATCH) > 0)
		return true;
	/* nothing left to close: the caller reports err (errno kept for it) */
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - atomic_load(&last_log) >= FD_SHORT_LOG_SECS ||
	    atomic_load(&last_log) == 0) {
		atomic_store(&last_log, (long)now.tv_sec);
		pfc_err_log("%s: no descriptor left (limit %zu%s, every idle inode descriptor "
			    "closed): too many files open at once; raise the limit (ulimit -n, "
			    "systemd LimitNOFILE=)",
			    pfcd_g->backing_abs, limit_fds(),
			    err == ENFILE ? "; the system-wide table is full" : "");
	}
	errno = err;
	return false;
}

int pfcd_openat(int dirfd, const char *name, int flags, mode_t mode)
{
	int fd;

	do {
		fd = openat(dirfd, name, flags, mode);
	} while (fd < 0 && pfcd_fd_short(errno));
	return fd;
}

static int reopen(int dirfd, const char *name, void *ctx)
{
	(void)ctx;
	return pfcd_openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
}

int pfcd_inode_fd(struct pfc_inode *in)
{
	return pfc_inode_fd(&pfcd_g->itable, in, reopen, NULL);
}

void pfcd_inode_put(struct pfc_inode *in)
{
	pfc_inode_fd_put(&pfcd_g->itable, in);
}

int pfcd_inode_open(struct pfc_inode *in, int flags)
{
	char p[64];
	int pfd = pfcd_inode_fd(in), fd;

	if (pfd < 0)
		return pfd;
	pfcd_proc_path(pfd, p);
	fd = pfcd_openat(AT_FDCWD, p, flags | O_CLOEXEC, 0);
	if (fd < 0 && errno == EPERM && (flags & O_NOATIME)) /* not the owner, not root */
		fd = pfcd_openat(AT_FDCWD, p, (flags & ~O_NOATIME) | O_CLOEXEC, 0);
	if (fd < 0)
		fd = -errno;
	pfcd_inode_put(in);
	return fd;
}
