// SPDX-License-Identifier: MIT
/*
 * process.c - pfcrypt-keystore's process set-up: the store's lock, systemd
 * socket activation, detaching with a status byte for the parent, and paths
 * made absolute before the daemon changes directory.  See process.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "keystore/process.h"

/* Fork; the parent waits for the child's status byte and exits with it. */
int pfc_ks_daemonise(int *notify_fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		unsigned char st = 1;

		close(p[1]);
		if (read(p[0], &st, 1) != 1)
			st = 1;
		_exit(st);
	}
	close(p[0]);
	*notify_fd = p[1];
	return 0;
}

void pfc_ks_notify(int *fd, unsigned char status)
{
	if (*fd >= 0) {
		(void)!write(*fd, &status, 1);
		close(*fd);
		*fd = -1;
	}
}

int pfc_ks_lock_store(const char *store, int *fd_out)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s.lock", store) >= (int)sizeof(path))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		fprintf(stderr, "pfcrypt-keystore: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "pfcrypt-keystore: %s: another keystore serves this store\n",
			store);
		close(fd);
		return -1;
	}
	*fd_out = fd;
	return 0;
}

/*
 * systemd socket activation (the sd_listen_fds(3) protocol, without libsystemd):
 * when LISTEN_PID is this process and LISTEN_FDS is 1, fd 3 is a listening
 * socket made by systemd.  Returns 3, 0 when not socket-activated, -1 (after a
 * message) when the inherited descriptors are not one listening Unix stream
 * socket.  Called before any fork: LISTEN_PID names this very process.
 */
#define SD_LISTEN_FDS_START 3
int pfc_ks_activation_fd(void)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa), il = sizeof(int);
	int fd = SD_LISTEN_FDS_START, type = 0, acc = 0;
	char *end;
	long pid, n;

	if (!pid_s || !fds_s)
		return 0;
	pid = strtol(pid_s, &end, 10);
	if (*end || pid != (long)getpid())
		return 0;
	n = strtol(fds_s, &end, 10);
	/* not for the children we may run (--extpass) */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (*end || n != 1) {
		fprintf(stderr, "pfcrypt-keystore: systemd passed %s sockets; want exactly 1\n",
			fds_s);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &il) < 0 || type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &il) < 0 || !acc ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 || sa.sun_family != AF_UNIX) {
		fprintf(stderr, "pfcrypt-keystore: the socket from systemd is not a listening "
				"Unix stream socket (ListenStream=PATH)\n");
		return -1;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return -1;
	return fd;
}

/* The path a listening Unix socket is bound to, into buf; NULL if it has none. */
const char *pfc_ks_bound_path(int fd, char *buf, size_t len)
{
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);
	size_t n;

	if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 || sl <= sizeof(sa_family_t) ||
	    !sa.sun_path[0])
		return NULL;
	n = strnlen(sa.sun_path, sl - sizeof(sa_family_t));
	if (n >= len)
		return NULL;
	memcpy(buf, sa.sun_path, n);
	buf[n] = '\0';
	return buf;
}

/*
 * The daemon changes directory to / when it detaches, so a relative --store or
 * --socket must be made absolute first (the file may not exist yet: no realpath).
 */
const char *pfc_ks_absolute_path(const char *path, char *buf, size_t len)
{
	char cwd[PATH_MAX];

	if (!path || path[0] == '/')
		return path;
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (snprintf(buf, len, "%s/%s", cwd, path) >= (int)len)
		return NULL;
	return buf;
}
