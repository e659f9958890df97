/* SPDX-License-Identifier: MIT */
/*
 * kernelio.c - the daemon's own read and write of /dev/fuse, through
 * libfuse's custom I/O hook, for one capability libfuse 3.14 cannot
 * negotiate: FUSE_HANDLE_KILLPRIV_V2 (kernel 5.11+, protocol 7.33).
 *
 * Why it matters: without it, the kernel asks the daemon for the
 * security.capability xattr before every write(2) (a whole FUSE round
 * trip, half the cost of a 4 KiB write), because it may not assume that a
 * FUSE server's files carry no privileges to drop.  With it, the server
 * takes over dropping privileges and the kernel marks checked inodes
 * S_NOSEC, so only the first write after an attribute refresh asks.
 *
 * What the server must then do (include/uapi/linux/fuse.h, "fs kills
 * suid/sgid/cap on write/chown/trunc"), and how pfcryptfs does it:
 *  - security.capability: the mount has none (ops_xattr.c: only user.*).
 *  - chown: the daemon's fchownat of the backing file drops suid/sgid
 *    there, as every chown(2) on Linux does.
 *  - write, truncate, open with O_TRUNC by a caller without CAP_FSETID:
 *    the kernel flags the request (FUSE_WRITE_KILL_SUIDGID,
 *    FATTR_KILL_SUIDGID, FUSE_OPEN_KILL_SUIDGID).  libfuse 3.14 drops these
 *    flags before calling the operations, so the read hook below applies
 *    them when the request arrives, before libfuse dispatches it, with the
 *    VFS's rule (kill_suidgid).
 *  - fallocate (every mode, punch-hole and zero-range included) by a
 *    caller without CAP_FSETID: the kernel's file_modified() asks for the
 *    bits to go, but with KILLPRIV_V2 it leaves that to the server and
 *    flags nothing, so FUSE_FALLOCATE is checked here: when the file has
 *    bits to lose, the caller's effective capabilities are read from
 *    /proc/PID/status (a caller in another user namespace counts as
 *    lacking CAP_FSETID, as capable() in the initial namespace says).
 *    Dropped before the request runs, as ext4 does (even if it then fails).
 * The write hook sets the capability bit in the INIT reply when the kernel
 * offered it.  Both hooks run on the worker thread that reads the request.
 */
#include "fs/daemon/kernelio.h"

#include "fs/daemon/daemon.h"
#include "fs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* INIT is the first request and is answered before any other is read. */
static uint64_t init_unique;
static bool init_seen;
static bool kernel_offers_v2;
static bool v2_granted;
static struct fuse_session *session;

/* Does process PID hold CAP_FSETID in the daemon's user namespace?  No
 * when it cannot be told (the process is gone, /proc unreadable): then the
 * bits go, the safe side. */
static bool has_fsetid(uint32_t pid)
{
	char path[64], line[128], self[64], other[64];
	unsigned long long eff;
	bool found = false, cap = false;
	ssize_t a, b;
	FILE *f;

	if (pid == 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/ns/user", pid);
	a = readlink("/proc/self/ns/user", self, sizeof(self) - 1);
	b = readlink(path, other, sizeof(other) - 1);
	if (a < 0 || b < 0 || a != b || memcmp(self, other, (size_t)a) != 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/status", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "CapEff:", 7) == 0) {
			found = true;
			eff = strtoull(line + 7, NULL, 16);
			cap = (eff >> CAP_FSETID) & 1;
		}
	}
	fclose(f);
	return cap;
}

/* Linux's rule (setattr_should_drop_sgid): suid goes; sgid goes when the
 * group may execute, or when the caller is not in the file's group (here:
 * its file system gid; supplementary groups are not in the request).
 * ASK: the kernel has not said whether the caller (PID) lacks CAP_FSETID;
 * it is asked only when the file has bits to lose. */
static void kill_suidgid(uint64_t nodeid, uint32_t caller_gid, bool ask, uint32_t pid)
{
	struct pfc_inode *in = pfc_itable_get(&pfcd_g->itable, (fuse_ino_t)nodeid);
	struct stat st;
	mode_t keep;
	char p[64];
	int fd, rc;

	if (!in)
		return;
	fd = pfcd_inode_fd(in);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		pfcd_inode_put(in);
		return;
	}
	keep = st.st_mode & 07777 & ~(mode_t)S_ISUID;
	if ((keep & S_IXGRP) || caller_gid != st.st_gid)
		keep &= ~(mode_t)S_ISGID;
	if (keep == (st.st_mode & 07777) || (ask && has_fsetid(pid))) {
		pfcd_inode_put(in);
		return;
	}
	pfcd_proc_path(fd, p);
	rc = chmod(p, keep) < 0 ? errno : 0;
	pfcd_inode_put(in);
	if (rc) {
		pfc_warn("cannot clear set-id bits of inode %llu: %s", (unsigned long long)nodeid,
			 strerror(rc));
		return;
	}
	/* The kernel keeps the old mode cached until the attribute timeout;
	 * stat(2) right after the write must already show the bits gone.
	 * Attributes only (offset < 0): no page-cache lock is taken. */
	fuse_lowlevel_notify_inval_inode(session, (fuse_ino_t)nodeid, -1, 0);
}

/* The request's argument, if the request is long enough to hold it. */
static const void *arg_of(const uint8_t *buf, size_t n, size_t arg_size)
{
	return n >= sizeof(struct fuse_in_header) + arg_size ? buf + sizeof(struct fuse_in_header)
							     : NULL;
}

static void inspect(const uint8_t *buf, size_t n)
{
	struct fuse_in_header h;
	const struct fuse_init_in *init;
	const struct fuse_write_in *w;
	const struct fuse_setattr_in *sa;
	const struct fuse_open_in *o;
	bool ask = false;

	memcpy(&h, buf, sizeof(h));
	switch (h.opcode) {
	case FUSE_INIT:
		/* flags is the fourth field; later fields are optional */
		init = arg_of(buf, n, offsetof(struct fuse_init_in, flags) + sizeof(init->flags));
		__atomic_store_n(&kernel_offers_v2,
				 init && (init->flags & FUSE_HANDLE_KILLPRIV_V2) != 0,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&init_unique, h.unique, __ATOMIC_RELAXED);
		__atomic_store_n(&init_seen, true, __ATOMIC_RELEASE);
		return;
	case FUSE_WRITE:
		w = arg_of(buf, n, sizeof(*w));
		if (w && (w->write_flags & FUSE_WRITE_KILL_SUIDGID))
			break;
		return;
	case FUSE_SETATTR:
		sa = arg_of(buf, n, sizeof(*sa));
		if (sa && (sa->valid & FATTR_SIZE) && (sa->valid & FATTR_KILL_SUIDGID))
			break;
		return;
	case FUSE_OPEN:
		o = arg_of(buf, n, sizeof(*o));
		if (o && (o->open_flags & FUSE_OPEN_KILL_SUIDGID))
			break;
		return;
	case FUSE_FALLOCATE:
		/* no flag: the caller's capability is asked (kill_suidgid) */
		ask = true;
		break;
	default:
		return;
	}
	if (__atomic_load_n(&v2_granted, __ATOMIC_ACQUIRE))
		kill_suidgid(h.nodeid, h.gid, ask, h.pid);
}

static ssize_t kio_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (n >= (ssize_t)sizeof(struct fuse_in_header))
		inspect(buf, (size_t)n);
	return n;
}

static ssize_t kio_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fuse_out_header oh;
	struct fuse_init_out out;
	struct iovec v[2];

	(void)userdata;
	if (count == 2 && __atomic_load_n(&init_seen, __ATOMIC_ACQUIRE) &&
	    !__atomic_load_n(&v2_granted, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&kernel_offers_v2, __ATOMIC_RELAXED) && iov[0].iov_len == sizeof(oh) &&
	    iov[1].iov_len <= sizeof(out) &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(out.flags)) {
		memcpy(&oh, iov[0].iov_base, sizeof(oh));
		if (oh.unique == __atomic_load_n(&init_unique, __ATOMIC_RELAXED) && oh.error == 0) {
			memcpy(&out, iov[1].iov_base, iov[1].iov_len);
			out.flags |= FUSE_HANDLE_KILLPRIV_V2;
			v[0] = iov[0];
			v[1].iov_base = &out;
			v[1].iov_len = iov[1].iov_len;
			__atomic_store_n(&v2_granted, true, __ATOMIC_RELEASE);
			pfc_debug("kernel: FUSE_HANDLE_KILLPRIV_V2 negotiated");
			return writev(fd, v, 2);
		}
	}
	return writev(fd, iov, count);
}

int pfcd_kernelio_attach(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {.read = kio_read, .writev = kio_writev};

	session = se;
	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}

void pfcd_kernelio_inval_data(fuse_ino_t ino, off_t off, off_t len)
{
	int rc;

	if (!session)
		return;
	rc = fuse_lowlevel_notify_inval_inode(session, ino, off, len);
	if (rc < 0 && rc != -ENOENT)
		pfc_warn("cannot invalidate the page cache of inode %llu: %s",
			 (unsigned long long)ino, strerror(-rc));
}

bool pfcd_kernelio_killpriv_v2(void)
{
	return __atomic_load_n(&v2_granted, __ATOMIC_ACQUIRE);
}
