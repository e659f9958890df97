// SPDX-License-Identifier: MIT
/*
 * cmd_mount.c - pfcrypt mount / umount.  mount runs the FUSE daemon
 * pfcryptfs (env PFCRYPT_FS_BIN, next to pfcrypt, then PATH), which refuses
 * an unsafe mountpoint itself (fs/daemon/rails.c); umount unmounts only a
 * pfcrypt mount (umount(2) as root, else fusermount3 -u), and names the
 * processes that keep a busy one (their cwd, root or open files in it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/cmds.h"
#include "tools/opts.h"

static const char mount_help[] =
    "Usage: pfcrypt mount BACKING MNT [-f] [-v] [-o OPTS] [--socket PATH]\n\n"
    "Mount the volume in BACKING at MNT by running pfcryptfs (found through env\n"
    "PFCRYPT_FS_BIN, next to pfcrypt, then PATH).  The keystore must be running and\n"
    "unlocked: the volume's name key is unwrapped at mount time.  MNT must be an\n"
    "empty directory that is not a mount point already.  Prints\n"
    "'mounted BACKING on MNT' (nothing with -q).\n\n"
    "  -f            stay in the foreground (pfcryptfs does not daemonise; its log\n"
    "                goes to the terminal)\n"
    "  -v, --verbose log at debug level too, as -o verbose\n"
    "  -q, --quiet   no line on success\n"
    "  -o OPTS       mount options passed to pfcryptfs (ro, allow_other, nonempty:\n"
    "                mount over a directory that is not empty, ...)\n"
    "  --socket PATH keystore socket (env PFCRYPT_SOCKET)\n"
    "  -h, --help    this text\n\n"
    "Exit: 0 mounted, 2 could not mount (the daemon's own message says why).\n";

static const char umount_help[] =
    "Usage: pfcrypt umount [-z] MNT\n\n"
    "Unmount the pfcrypt volume mounted at MNT (as root umount(2), else\n"
    "fusermount3 -u) and print 'unmounted MNT' (nothing with -q).  Refuses a directory where "
    "nothing is mounted and a mount\n"
    "that is not pfcrypt's.  While programs still use the mount it is busy: the\n"
    "message names them.  It returns once the volume's pfcryptfs has wiped its keys\n"
    "and exited (at most 10 s).\n\n"
    "  -z, --lazy    detach the mount now; it goes away when the last program\n"
    "                using it lets go (also clears a stale mount whose pfcryptfs\n"
    "                is gone: 'Transport endpoint is not connected')\n"
    "  -q, --quiet   no line on success\n"
    "  -h, --help    this text\n\n"
    "Exit: 0 unmounted, 2 could not unmount.\n";

/* fork + exec + wait (stderr to /dev/null if quiet); the child's exit
 * status, or -1 if it could not run. */
static int run(char *const argv[], bool quiet)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = quiet ? open("/dev/null", O_WRONLY) : -1;

		if (null >= 0)
			dup2(null, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st) == 127 ? -1 : WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int cmd_mount(int argc, char **argv)
{
	const char *opts = NULL;
	bool fg = false, verbose = false;
	const struct cli_opt own[] = {{.short_name = 'f', .flag = &fg},
				      {.short_name = 'o', .str = &opts},
				      {.name = "verbose", .short_name = 'v', .flag = &verbose},
				      {0}};
	const struct cli_syntax syn = {.cmd = "mount",
				       .help = mount_help,
				       .opts = own,
				       .nargs = 2,
				       .expected = "expected BACKING and MNT"};
	char *bin, *args[12];
	int n = 0, st;

	if ((st = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return st;
	bin = cli_find_program("pfcryptfs", "PFCRYPT_FS_BIN");
	if (!bin) {
		cli_err("pfcryptfs",
			"program not found (next to pfcrypt, in PATH or PFCRYPT_FS_BIN)");
		return CLI_EXIT_SETUP;
	}
	args[n++] = bin;
	args[n++] = argv[optind];
	args[n++] = argv[optind + 1];
	if (fg)
		args[n++] = "-f";
	if (verbose)
		args[n++] = "-v";
	if (opts) {
		args[n++] = "-o";
		args[n++] = (char *)opts;
	}
	if (cli_g.socket) {
		args[n++] = "--socket";
		args[n++] = (char *)cli_g.socket;
	}
	args[n] = NULL;
	if (fg) {
		execv(bin, args);
		cli_err(bin, "cannot run: %s", strerror(errno));
		free(bin);
		return CLI_EXIT_SETUP;
	}
	st = run(args, false);
	if (st < 0)
		cli_err(bin, "cannot run: %s", strerror(errno));
	free(bin);
	if (st != 0)
		return CLI_EXIT_SETUP;
	cli_say("mounted %s on %s", argv[optind], argv[optind + 1]);
	return CLI_EXIT_OK;
}

/* Does link (a /proc/PID/... symlink) point at mnt or inside it? */
static bool points_into(const char *link, const char *mnt, size_t mlen)
{
	char t[PATH_MAX];
	ssize_t n = readlink(link, t, sizeof(t) - 1);

	if (n <= 0)
		return false;
	t[n] = '\0';
	return !strncmp(t, mnt, mlen) && (t[mlen] == '\0' || t[mlen] == '/');
}

/* Does process pid (a /proc entry) use the mount: cwd, root, exe or an open fd inside it? */
static bool uses_mount(const char *pid, const char *mnt)
{
	static const char *const links[] = {"cwd", "root", "exe"};
	size_t mlen = strlen(mnt);
	char p[PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *fds;

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(p, sizeof(p), "/proc/%s/%s", pid, links[i]);
		if (points_into(p, mnt, mlen))
			return true;
	}
	snprintf(p, sizeof(p), "/proc/%s/fd", pid);
	if (!(fds = opendir(p)))
		return false;
	while (!found && (e = readdir(fds))) {
		snprintf(p, sizeof(p), "/proc/%s/fd/%s", pid, e->d_name);
		found = e->d_name[0] != '.' && points_into(p, mnt, mlen);
	}
	closedir(fds);
	return found;
}

/* "PID (COMM), ..." of up to 5 processes that use the mount into out; their count. */
static int mount_users(const char *mnt, char *out, size_t len)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;
	int n = 0;

	out[0] = '\0';
	while (proc && (e = readdir(proc))) {
		char comm[64] = "?", p[300];
		size_t l = strlen(out);
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9' || atoi(e->d_name) == (int)getpid() ||
		    !uses_mount(e->d_name, mnt))
			continue;
		snprintf(p, sizeof(p), "/proc/%s/comm", e->d_name);
		if ((f = fopen(p, "re"))) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		if (n++ < 5)
			snprintf(out + l, len - l, "%s%s (%s)", l ? ", " : "", e->d_name, comm);
	}
	if (proc)
		closedir(proc);
	if (n > 5) {
		size_t l = strlen(out);

		snprintf(out + l, len - l, " and %d more", n - 5);
	}
	return n;
}

#define DAEMONS_MAX    4     /* pfcryptfs processes of one mountpoint looked for */
#define DAEMON_WAIT_MS 10000 /* how long umount waits for them to wipe their keys and exit */

/* The pfcryptfs processes serving mnt (their command line names it, or as given: arg): at
 * most max. */
static size_t daemons_of(const char *mnt, const char *arg, pid_t *pids, size_t max)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	while (proc && n < max && (e = readdir(proc))) {
		char p[300], argv[8192];
		ssize_t len;
		bool ours = false, names = false;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/cmdline", e->d_name);
		if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, argv, sizeof(argv) - 1);
		close(fd);
		for (ssize_t i = 0; len > 0 && i < len; i += (ssize_t)strlen(argv + i) + 1) {
			const char *a = argv + i, *base = strrchr(a, '/');

			argv[len] = '\0';
			ours = ours || (i == 0 && !strcmp(base ? base + 1 : a, "pfcryptfs"));
			names = names || !strcmp(a, mnt) || !strcmp(a, arg);
		}
		if (ours && names)
			pids[n++] = (pid_t)atoi(e->d_name);
	}
	if (proc)
		closedir(proc);
	return n;
}

/* After an unmount: wait (bounded) until those daemons have wiped their keys and exited, so
 * that what follows (a retire, a new mount) no longer meets them. */
static void wait_gone(const pid_t *pids, size_t n)
{
	const struct timespec step = {0, 20 * 1000000};

	for (int waited = 0; waited < DAEMON_WAIT_MS; waited += 20) {
		size_t alive = 0;

		for (size_t i = 0; i < n; i++)
			alive += kill(pids[i], 0) == 0;
		if (!alive)
			return;
		nanosleep(&step, NULL);
	}
}

/* The unmount itself: umount2 as root, else fusermount3 -u [-z].  0 or an errno-like cause. */
static int unmount(const char *mnt, bool lazy)
{
	char *bin, *args[5];
	int n = 0, st;

	if (geteuid() == 0)
		return umount2(mnt, lazy ? MNT_DETACH : 0) == 0 ? 0 : errno;
	bin = cli_find_program("fusermount3", NULL);
	if (!bin)
		return ENOENT;
	args[n++] = bin;
	args[n++] = lazy ? "-uz" : "-u";
	args[n++] = (char *)mnt;
	args[n] = NULL;
	st = run(args, true);
	free(bin);
	return st == 0 ? 0 : EBUSY; /* fusermount3's reason is not ours to know: see below */
}

int cmd_umount(int argc, char **argv)
{
	bool lazy = false;
	const struct cli_opt own[] = {{.name = "lazy", .short_name = 'z', .flag = &lazy}, {0}};
	const struct cli_syntax syn = {.cmd = "umount",
				       .help = umount_help,
				       .opts = own,
				       .nargs = 1,
				       .expected = "expected MNT",
				       .no_socket = true};
	struct cli_mount m;
	pid_t pids[DAEMONS_MAX];
	char users[512];
	size_t n;
	const char *arg;
	int r;

	if ((r = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return r;
	arg = argv[optind];
	if (!cli_mount_at(arg, &m)) {
		cli_err(arg, "not mounted");
		return CLI_EXIT_SETUP;
	}
	if (!m.pfcrypt) {
		cli_err(arg, "not a pfcrypt mount (%s from %s): not unmounting it", m.fstype,
			m.source);
		return CLI_EXIT_SETUP;
	}
	n = lazy ? 0 : daemons_of(m.mountpoint, arg, pids, DAEMONS_MAX);
	r = unmount(m.mountpoint, lazy);
	if (r == 0) {
		wait_gone(pids, n);
		cli_say(lazy ? "unmounted %s (detached: it goes away when the last program using "
			       "it lets go)"
			     : "unmounted %s",
			arg);
		return CLI_EXIT_OK;
	}
	if (mount_users(m.mountpoint, users, sizeof(users)) > 0)
		cli_err(arg, "busy: in use by %s (close them, or 'pfcrypt umount -z %s')", users,
			arg);
	else if (r == EBUSY && geteuid() != 0)
		cli_err(arg, "cannot unmount: fusermount3 -u failed (busy, or not yours)");
	else if (r == EBUSY)
		cli_err(arg,
			"busy (a program has a file or directory open in it; 'pfcrypt umount "
			"-z %s' detaches it now)",
			arg);
	else
		cli_err(arg, "cannot unmount: %s", strerror(r));
	return CLI_EXIT_SETUP;
}
