// SPDX-License-Identifier: MIT
/*
 * ks_proc.c - the keystore process for "pfcrypt keystore init|start|stop".
 *
 * init and start run the pfcrypt-keystore program (env PFCRYPT_KEYSTORE_BIN,
 * next to pfcrypt, then PATH).  The passphrase is read by pfcrypt (cli_read_pass)
 * and handed to the program through a pipe (--passphrase-fd 3), never on a
 * command line or in the environment.  start runs the daemon in its own
 * daemon mode: its first process exits only once the store is decrypted and
 * the socket listens (exit 0), or with its one-line error, which we relay;
 * then hello is asked to be sure.  Paths are made absolute first, since the
 * daemon changes directory to /.  stop asks the kernel who listens on the
 * socket (SO_PEERCRED) and sends that process SIGTERM.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/err.h"
#include "keystore/client.h"
#include "tools/cli.h"
#include "tools/ks_cmd.h"

#define START_WAIT_MS 10000 /* the socket already listens: only the hello round trip */
#define STOP_WAIT_MS  10000

static char *keystore_bin(void)
{
	char *bin = cli_find_program("pfcrypt-keystore", "PFCRYPT_KEYSTORE_BIN");

	if (!bin)
		cli_err("pfcrypt-keystore",
			"program not found (next to pfcrypt, in PATH or PFCRYPT_KEYSTORE_BIN)");
	return bin;
}

/*
 * Run the keystore program with args, feeding pass (if any) on fd 3, and
 * wait for it.  Its stderr is captured into err (NUL-terminated, the last
 * errlen - 1 bytes kept) so that its message can be relayed as our one line.
 * Returns its exit status, or -1 if it could not run.
 */
static int spawn(char **args, const char *pass, size_t len, char *err, size_t errlen)
{
	int pfd[2] = {-1, -1}, efd[2] = {-1, -1}, st;
	size_t got = 0;
	pid_t pid;

	err[0] = '\0';
	if (pipe2(efd, O_CLOEXEC) < 0)
		return -1;
	if (pass && pipe2(pfd, O_CLOEXEC) < 0) {
		close(efd[0]);
		close(efd[1]);
		return -1;
	}
	if (pass) {
		/* Written before the fork, far below the pipe's capacity: it cannot
		 * block, and no write can meet a child that has already exited
		 * (EPIPE, and SIGPIPE would kill the CLI with status 141). */
		(void)!write(pfd[1], pass, len);
		close(pfd[1]);
	}
	pid = fork();
	if (pid < 0) {
		if (pass)
			close(pfd[0]);
		close(efd[0]);
		close(efd[1]);
		return -1;
	}
	if (pid == 0) {
		if (pass) {
			if (pfd[0] == 3)
				fcntl(3, F_SETFD, 0); /* dup2 would keep O_CLOEXEC */
			else if (dup2(pfd[0], 3) < 0)
				_exit(127);
		}
		if (dup2(efd[1], STDERR_FILENO) < 0)
			_exit(127);
		execv(args[0], args);
		_exit(127);
	}
	close(efd[1]);
	if (pass)
		close(pfd[0]);
	/* EOF once the daemon has put /dev/null or its log file on its stderr. */
	for (;;) {
		char buf[512];
		ssize_t n = read(efd[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (got == errlen - 1) {
				memmove(err, err + 1, errlen - 2);
				got--;
			}
			err[got++] = buf[i];
		}
	}
	err[got] = '\0';
	close(efd[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(st))
		return 128;
	return WEXITSTATUS(st) == 127 ? -1 : WEXITSTATUS(st);
}

/* The last line of the daemon's stderr, without its "pfcrypt-keystore: " prefix. */
static const char *last_line(char *err)
{
	char *end = err + strlen(err), *line, *colon;

	while (end > err && (end[-1] == '\n' || end[-1] == ' '))
		*--end = '\0';
	line = strrchr(err, '\n');
	line = line ? line + 1 : err;
	colon = strstr(line, "pfcrypt-keystore: ");
	return colon == line ? line + strlen("pfcrypt-keystore: ") : line;
}

/* An absolute form of path (its directory must exist) in buf; path itself if that fails. */
static const char *absolute(const char *path, char *buf, size_t len)
{
	char dir[PATH_MAX], *slash, *real;
	const char *base = path;
	int n;

	if (!path || path[0] == '/')
		return path;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		base = path + (slash - dir) + 1;
	} else {
		strcpy(dir, ".");
	}
	real = realpath(dir, NULL);
	if (!real)
		return path;
	n = snprintf(buf, len, "%s/%s", real, base);
	free(real);
	return n > 0 && (size_t)n < len ? buf : path;
}

/*
 * Tell why a keystore run with exit status r (not 0) failed, if we know:
 * it could not run, or the last line of its stderr err.  false if it said
 * nothing (the caller tells it its way).
 */
static bool told_failure(int r, const char *bin, char *err)
{
	if (r < 0)
		cli_err(bin, "cannot run: %s", strerror(errno));
	else if (*err)
		cli_err(NULL, "%s", last_line(err));
	return r < 0 || *err;
}

static bool already_running(const char *sock);
static int start_with(const struct ks_opts *o, char *bin, const char *sock, const char *pass,
		      size_t len);

int ks_init(const struct ks_opts *o)
{
	char *bin = NULL, *pass = NULL, *args[16], err[1024], sock[PATH_MAX];
	size_t len, n = 0;
	int r, ret = CLI_EXIT_SETUP;

	if (o->start && o->locked)
		return cli_usage("keystore init",
				 "--start starts the new store unlocked: no --locked");
	if (o->start && already_running(cli_ks_socket(sock, sizeof(sock))))
		return CLI_EXIT_SETUP;
	if (!(bin = keystore_bin()))
		return CLI_EXIT_SETUP;
	if (cli_read_pass(&o->pass, "New keystore passphrase: ", true, &pass, &len))
		goto out;
	args[n++] = bin;
	args[n++] = "--init";
	if (o->store) {
		args[n++] = "--store";
		args[n++] = (char *)o->store;
	}
	if (o->kdf) {
		args[n++] = "--kdf-profile";
		args[n++] = (char *)o->kdf;
	}
	args[n++] = "--passphrase-fd";
	args[n++] = "3";
	for (int i = 0; i < o->nextra && n < 15; i++)
		args[n++] = o->extra[i];
	args[n] = NULL;
	r = spawn(args, pass, len, err, sizeof(err));
	if (r == 0) {
		cli_say("%s", last_line(err));
		/* --start: the passphrase just typed twice serves the start too (asked once) */
		ret = o->start ? start_with(o, bin, sock, pass, len) : CLI_EXIT_OK;
	} else if (!told_failure(r, bin, err)) {
		cli_err(NULL, "pfcrypt-keystore --init failed");
	}
out:
	cli_pass_free(pass);
	free(bin);
	return ret;
}

/* The pid of the process listening on the socket (SO_PEERCRED), or -1. */
static pid_t socket_owner(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int fd;
	pid_t pid = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 && cred.pid > 0)
		pid = cred.pid;
	close(fd);
	return pid;
}

/* Does a keystore already answer on sock?  Then say so. */
static bool already_running(const char *sock)
{
	struct pfc_ks *ks = NULL;
	uint32_t ver;
	int r;

	if (pfc_ks_connect(sock, 1000, &ks) < 0)
		return false;
	r = pfc_ks_hello(ks, &ver);
	pfc_ks_close(ks);
	if (r == 0)
		cli_err(sock, "a keystore already answers on this socket");
	return r == 0;
}

/* Absolute forms of start's paths (the daemon changes directory to /). */
struct start_paths {
	char sock[PATH_MAX], store[PATH_MAX], log[PATH_MAX];
};

/* The daemon's command line for start into args (room for 24). */
static void start_args(const struct ks_opts *o, char *bin, const char *sock, struct start_paths *p,
		       char **args)
{
	size_t n = 0;

	args[n++] = bin;
	args[n++] = "--socket";
	args[n++] = (char *)absolute(sock, p->sock, sizeof(p->sock));
	if (o->store) {
		args[n++] = "--store";
		args[n++] = (char *)absolute(o->store, p->store, sizeof(p->store));
	}
	if (o->log_file) {
		args[n++] = "--log-file";
		args[n++] = (char *)absolute(o->log_file, p->log, sizeof(p->log));
	}
	if (o->locked) {
		args[n++] = "--locked";
	} else {
		args[n++] = "--passphrase-fd";
		args[n++] = "3";
	}
	for (int i = 0; i < o->nextra && n < 23; i++)
		args[n++] = o->extra[i];
	args[n] = NULL;
}

/* Hello through the new daemon's socket, then the one line saying so.  0 or CLI_EXIT_SETUP. */
static int confirm_started(const char *sock)
{
	struct pfc_ks *ks = NULL;
	uint32_t ver;
	int r = pfc_ks_connect(sock, START_WAIT_MS, &ks);

	if (r == 0)
		r = pfc_ks_hello(ks, &ver);
	pfc_ks_close(ks);
	if (r < 0) {
		cli_ks_err(NULL, sock, r);
		return CLI_EXIT_SETUP;
	}
	cli_say("keystore started (pid %ld) on %s", (long)socket_owner(sock), sock);
	return 0;
}

/* Start the daemon of bin on sock, pass (len bytes; NULL if --locked) to it.  The exit code. */
static int start_with(const struct ks_opts *o, char *bin, const char *sock, const char *pass,
		      size_t len)
{
	struct start_paths paths;
	char *args[24], err[1024];
	int r;

	start_args(o, bin, sock, &paths, args);
	/* The daemon's first process exits once it listens, or with its error on stderr. */
	r = spawn(args, pass, len, err, sizeof(err));
	if (r != 0 && !told_failure(r, bin, err))
		cli_err(sock, "the keystore did not start (exit status %d)", r);
	return r != 0 ? CLI_EXIT_SETUP : confirm_started(sock);
}

int ks_start(const struct ks_opts *o)
{
	char sock[PATH_MAX], *bin, *pass = NULL;
	size_t len = 0;
	int r;

	cli_ks_socket(sock, sizeof(sock));
	if (already_running(sock) || !(bin = keystore_bin()))
		return CLI_EXIT_SETUP;
	if (!o->locked && cli_read_pass(&o->pass, "Keystore passphrase: ", false, &pass, &len)) {
		free(bin);
		return CLI_EXIT_SETUP;
	}
	r = start_with(o, bin, sock, pass, len);
	cli_pass_free(pass);
	free(bin);
	return r;
}

/* Has pid exited?  A zombie counts: its parent (init, a subreaper) reaps it when it likes. */
static bool exited(pid_t pid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* Is pid a pfcrypt-keystore?  Its command name (truncated by the kernel to 15 bytes) goes to comm.
 */
static bool is_keystore(pid_t pid, char *comm, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(comm, len, "?");
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, comm, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	return strncmp(comm, "pfcrypt-keystore", strlen(comm) < 15 ? 16 : 15) == 0;
}

int ks_stop(const struct ks_opts *o)
{
	char sock[4096], comm[64];
	pid_t pid;

	(void)o; /* what stop needs is the socket, in cli_g */
	cli_ks_socket(sock, sizeof(sock));
	pid = socket_owner(sock);
	if (pid < 0) {
		cli_err(sock, "no keystore answers on this socket");
		return CLI_EXIT_SETUP;
	}
	/*
	 * Only ever signal a keystore: with socket activation the listening
	 * process is systemd itself, which must not get our SIGTERM.
	 */
	if (!is_keystore(pid, comm, sizeof(comm))) {
		cli_err(
		    sock,
		    "the socket belongs to %s (pid %ld), not pfcrypt-keystore: a socket-activated "
		    "keystore is stopped with 'systemctl --user stop pfcrypt-keystore.service'",
		    comm, (long)pid);
		return CLI_EXIT_SETUP;
	}
	if (kill(pid, SIGTERM) < 0) {
		cli_err(sock, "cannot stop the keystore (pid %ld): %s", (long)pid, strerror(errno));
		return CLI_EXIT_SETUP;
	}
	/* Wait until it is gone so that a following start cannot race its exit. */
	for (int waited = 0; !exited(pid); waited += 10) {
		if (waited > STOP_WAIT_MS) {
			cli_err(sock, "the keystore (pid %ld) did not exit", (long)pid);
			return CLI_EXIT_SETUP;
		}
		poll(NULL, 0, 10);
	}
	cli_say("keystore stopped (pid %ld) on %s", (long)pid, sock);
	return CLI_EXIT_OK;
}

pid_t ks_socket_pid(const char *path)
{
	char comm[64];
	pid_t pid = socket_owner(path);

	return pid > 0 && is_keystore(pid, comm, sizeof(comm)) ? pid : -1;
}
