/* SPDX-License-Identifier: MIT */
/*
 * rails.c - mount safety rails, checked before the volume is set up.  Each
 * refusal is one line on stderr naming both paths, and exit 2 (so the same
 * for pfcrypt mount, mount -t fuse.pfcryptfs and fstab, which all run us).
 *
 * 1. No plaintext inside the synced tree: the mountpoint must not be the
 *    backing dir or inside it, and the backing dir must not be inside the
 *    mountpoint.  Compared by (st_dev, st_ino) of every ancestor, walking
 *    ".." from the real path, so neither a symlink nor a bind mount of the
 *    backing dir hides it (a string prefix would).
 *
 * 2. One read-write mount per backing dir: flock(LOCK_EX) on a descriptor of
 *    the backing directory itself.  Nothing is created in the backing tree
 *    (sync clients carry no lock file), it works on a read-only backing, it
 *    survives pfcrypt.conf being replaced by rename (rewrap, a sync client),
 *    and the kernel drops it when the daemon dies, SIGKILL included.  The
 *    descriptor is inherited by the fork of fuse_daemonize (same open file
 *    description, so the lock stays) and is closed only at exit.
 *
 * 3. Another machine on shared storage: flock on an NFS directory stays on
 *    this client, so the daemon also takes an OFD write lock on one byte of
 *    pfcrypt.conf far past its end (RAILS_CONF_LOCK_OFF).  The Linux NFS
 *    client forwards it to the server (NFSv4 LOCK, NLM for v3), SMB as a
 *    byte-range lock; past the end, so that a server enforcing byte-range
 *    locks (Windows) never blocks another machine reading the config.
 *    Locally it is redundant with 2.  It needs pfcrypt.conf opened for
 *    writing (nothing is written); when that is refused, or the file system
 *    has no locks (NFS mounted nolock), one warning says so and the mount
 *    goes on, protected on this machine only.
 *
 * 4. The mountpoint as gocryptfs wants it: not already a mount point (a
 *    second mount on top would hide the first; an autofs trigger, as
 *    x-systemd.automount makes, is the one mount meant to be covered), and
 *    empty unless -o nonempty (libfuse 3 dropped that option; main.c takes
 *    it out of the list), so that a mount never hides files silently.
 *
 * A read-only mount (-o ro, or a read-only backing dir) takes neither lock
 * and is allowed next to a read-write one: it writes nothing, so it cannot
 * reuse a write generation; it sees the other mount's changes as it sees a
 * sync client's (within the 1 s attribute timeout).
 *
 * The holder of a lock is named from /proc: its mountpoint from
 * /proc/self/mountinfo (type fuse.pfcryptfs, source the backing's real
 * path, read-write, answering stat), its pid from the process that has a
 * descriptor of the backing dir with a FLOCK WRITE line in its fdinfo.
 * Between a holder's unmount and its exit (or its lock and its mount) there
 * is no mount to name: then we wait up to RAILS_WAIT_MS for the lock, so
 * that "umount; mount" in a script does not fail on a daemon still wiping
 * its keys.
 */
#include "fs/daemon/daemon.h"

#include "fs/err.h"
#include "fs/mountinfo.h"

#include "fs/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define RAILS_WAIT_MS	    5000 /* for a holder that has no mount (yet, or any more) */
#define RAILS_POLL_MS	    50	 /* lock retry period meanwhile */
#define RAILS_CONF_LOCK_OFF (0x7fffffffL - 1) /* byte of pfcrypt.conf locked (fits 32-bit NLM) */

static __attribute__((noreturn, format(printf, 1, 2))) void refuse(const char *fmt, ...)
{
	va_list ap;

	fputs("pfcryptfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Is the directory outer a proper ancestor of the directory at path?  Walks
 * ".." up to the root (where ".." is itself); a step that cannot be taken
 * (no search permission) ends the walk. */
static bool inside(const char *path, const struct stat *outer)
{
	struct stat cur, up;
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	bool found = false;

	if (fd < 0 || fstat(fd, &cur) < 0)
		goto out;
	for (;;) {
		int pfd = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);

		close(fd);
		fd = pfd;
		if (fd < 0 || fstat(fd, &up) < 0 || same_file(&up, &cur))
			break;
		if (same_file(&up, outer)) {
			found = true;
			break;
		}
		cur = up;
	}
out:
	if (fd >= 0)
		close(fd);
	return found;
}

static void check_paths(const struct pfcd *d)
{
	struct stat b, m;

	if (stat(d->backing_abs, &b) < 0 || stat(d->mount_abs, &m) < 0)
		return; /* the mount itself reports it */
	if (same_file(&b, &m))
		refuse("mountpoint %s and backing directory %s are the same directory: not "
		       "supported (the plaintext would replace the ciphertext)",
		       d->mountpoint, d->backing);
	if (inside(d->mount_abs, &b))
		refuse("mountpoint %s is inside the backing directory %s: not supported "
		       "(plaintext would appear in the synced tree)",
		       d->mountpoint, d->backing);
	if (inside(d->backing_abs, &m))
		refuse("backing directory %s is inside the mountpoint %s: not supported "
		       "(the volume would contain itself)",
		       d->backing, d->mountpoint);
}

/*
 * The fs type of the mount whose root is path, into type; false if path is
 * not the root of a mount.  The last matching line of mountinfo is the
 * topmost mount.
 */
static bool mounted_at(const char *path, char *type, size_t len)
{
	char line[3 * PATH_MAX + 256];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	/* id parent maj:min root mountpoint options [optional...] - fstype source superopts */
	while (f && fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok, *mp = NULL, *fstype, *sep = strstr(line, " - ");
		int i = 0;

		if (!sep)
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok && i <= 4;
		     tok = strtok_r(NULL, " ", &save))
			if (i++ == 4)
				mp = tok;
		fstype = strtok_r(sep + 3, " ", &save);
		if (!mp || !fstype)
			continue;
		pfc_mountinfo_unescape(mp);
		if (!strcmp(mp, path)) {
			snprintf(type, len, "%s", fstype);
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

static void check_mountpoint(const struct pfcd *d, bool nonempty)
{
	char type[128];
	struct dirent *e;
	struct stat st;
	DIR *dir;

	if (stat(d->mount_abs, &st) < 0 && errno == ENOTCONN) /* a FUSE mount, daemon gone */
		refuse("stale mount at %s (its file system daemon is gone): run 'pfcrypt umount -z "
		       "%s', then mount again",
		       d->mountpoint, d->mountpoint);
	if (mounted_at(d->mount_abs, type, sizeof(type)) && strcmp(type, "autofs"))
		refuse("mountpoint %s is already a mount point (%s): unmount it first, or mount "
		       "the backing directory %s elsewhere (a mount on top would hide it)",
		       d->mountpoint, type, d->backing);
	if (nonempty)
		return;
	dir = opendir(d->mount_abs);
	if (!dir)
		return; /* the mount itself reports it */
	while ((e = readdir(dir)) && (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")))
		;
	closedir(dir);
	if (e)
		refuse("mountpoint %s is not empty: mounting %s there would hide what it holds "
		       "(use an empty directory, or -o nonempty)",
		       d->mountpoint, d->backing);
}

/* -o ro (the last of ro / rw wins, as for mount(8)) or a read-only backing. */
static bool read_only(const struct pfcd *d, const char *mount_opts)
{
	char *copy = strdup(mount_opts), *save = NULL;
	struct statvfs sv;
	bool ro = false;

	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
		if (!strcmp(t, "ro") || !strcmp(t, "rw"))
			ro = t[1] == 'o';
	free(copy);
	return ro || (statvfs(d->backing_abs, &sv) == 0 && (sv.f_flag & ST_RDONLY));
}

/* The mountpoint of a live read-write pfcryptfs mount of the backing dir. */
static bool rw_mount_of(const char *backing_abs, char *out, size_t len)
{
	char line[3 * PATH_MAX + 256];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	/* id parent maj:min root mountpoint options [optional...] - fstype source superopts */
	while (f && !found && fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok, *mp = NULL, *opts = NULL, *sep = strstr(line, " - ");
		struct stat st;
		int i = 0;

		if (!sep)
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++)
			if (i == 4)
				mp = tok;
			else if (i == 5)
				opts = tok;
		tok = strtok_r(sep + 3, " ", &save);
		if (!mp || !opts || !tok || strcmp(tok, "fuse.pfcryptfs") || strncmp(opts, "rw", 2))
			continue;
		tok = strtok_r(NULL, " ", &save);
		if (!tok)
			continue;
		pfc_mountinfo_unescape(tok);
		pfc_mountinfo_unescape(mp);
		/* a daemon that was killed leaves a mount that answers ENOTCONN */
		if (!strcmp(tok, backing_abs) && stat(mp, &st) == 0) {
			snprintf(out, len, "%s", mp);
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* Does /proc/PID/fdinfo/FD show a flock write lock? */
static bool fd_has_flock(const char *pid, const char *fd)
{
	char path[600], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, fd);
	f = fopen(path, "re");
	while (f && !found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "lock:", 5) && strstr(line, " FLOCK ") &&
			strstr(line, " WRITE ");
	if (f)
		fclose(f);
	return found;
}

/* The process holding the flock of the backing dir (0 if none can be seen:
 * another user's process, another pid namespace). */
static pid_t lock_holder(const char *backing_abs)
{
	DIR *proc = opendir("/proc");
	struct dirent *p;
	pid_t holder = 0;

	while (proc && !holder && (p = readdir(proc))) {
		char dir[300], link[600], target[PATH_MAX];
		struct dirent *e;
		DIR *fds;

		if (p->d_name[0] < '1' || p->d_name[0] > '9' || atoi(p->d_name) == getpid())
			continue;
		snprintf(dir, sizeof(dir), "/proc/%s/fd", p->d_name);
		fds = opendir(dir);
		while (fds && !holder && (e = readdir(fds))) {
			ssize_t n;

			snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
			n = readlink(link, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			if (!strcmp(target, backing_abs) && fd_has_flock(p->d_name, e->d_name))
				holder = (pid_t)atoi(p->d_name);
		}
		if (fds)
			closedir(fds);
	}
	if (proc)
		closedir(proc);
	return holder;
}

static __attribute__((noreturn)) void refuse_held(const struct pfcd *d, const char *mnt)
{
	pid_t pid = lock_holder(d->backing_abs);
	char who[64] = "another process";

	if (pid > 0)
		snprintf(who, sizeof(who), "pfcryptfs pid %d", (int)pid);
	if (mnt)
		refuse("backing directory %s is already mounted on %s (%s): a backing directory "
		       "is mounted read-write at most once (-o ro mounts it read-only again)",
		       d->backing, mnt, who);
	refuse("backing directory %s is being mounted or unmounted by %s (not mounting it on "
	       "%s too): a backing directory is mounted read-write at most once",
	       d->backing, who, d->mountpoint);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 2: the local lock on the backing directory; the descriptor is never closed. */
static void lock_local(const struct pfcd *d)
{
	long long deadline = now_ms() + RAILS_WAIT_MS;
	char mnt[PATH_MAX];
	int fd = open(d->backing_abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		pfc_warn("%s: cannot open to lock it (%s): a second mount is not refused",
			 d->backing_abs, strerror(errno));
		return;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		struct timespec pause = {0, RAILS_POLL_MS * 1000000L};

		if (errno != EWOULDBLOCK && errno != EINTR) {
			pfc_warn("%s: cannot lock (%s): a second mount is not refused",
				 d->backing_abs, strerror(errno));
			return;
		}
		if (rw_mount_of(d->backing_abs, mnt, sizeof(mnt)))
			refuse_held(d, mnt);
		if (now_ms() >= deadline)
			refuse_held(d, NULL);
		nanosleep(&pause, NULL);
	}
}

/* 3: the OFD lock on pfcrypt.conf that NFS and SMB forward to the server. */
static void lock_shared(const struct pfcd *d)
{
	struct flock fl = {
	    .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = RAILS_CONF_LOCK_OFF, .l_len = 1};
	char path[PATH_MAX + 32];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", d->backing_abs, PFC_CONFIG_NAME);
	fd = pfc_open_regular(AT_FDCWD, path, O_RDWR, 0, NULL);
	if (fd == PFC_ERR_CORRUPT)
		return; /* not a regular file, never opened: setup_volume refuses it */
	if (fd < 0) {
		if (errno != ENOENT) /* no config: setup_volume says so */
			pfc_warn("%s: cannot open for writing to lock it (%s): another machine "
				 "sharing this directory is not kept from mounting it",
				 path, strerror(errno));
		return;
	}
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return;
	if (errno == EAGAIN || errno == EACCES)
		refuse("backing directory %s is mounted read-write elsewhere (%s is locked, by a "
		       "daemon on another machine sharing it): not mounting it on %s too",
		       d->backing, path, d->mountpoint);
	pfc_warn("%s: cannot lock (%s): another machine sharing this directory is not kept from "
		 "mounting it",
		 path, strerror(errno));
	close(fd);
}

void pfcd_rails(const struct pfcd *d, const char *mount_opts, bool nonempty)
{
	check_paths(d);
	check_mountpoint(d, nonempty);
	if (read_only(d, mount_opts))
		return;
	lock_local(d);
	lock_shared(d);
}
