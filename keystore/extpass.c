// SPDX-License-Identifier: MIT
/* extpass.c - run a passphrase command and read its output (see extpass.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/extpass.h"

/* Wait for pid; its exit status, 128 + signal if killed, -1 on error. */
static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int pfc_extpass_run(const char *cmd, uint8_t *buf, size_t max, size_t *len, int *status)
{
	size_t got = 0;
	bool too_long = false;
	int p[2], st = -1, rc = PFC_ERR_IO;
	pid_t pid;

	if (!cmd || !*cmd)
		return PFC_ERR_INVAL;
	if (pipe2(p, O_CLOEXEC) < 0)
		goto out;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		goto out;
	}
	if (pid == 0) {
		/* dup2 clears O_CLOEXEC on the copy; a pipe end already on fd 1 keeps it */
		if (p[1] == STDOUT_FILENO ? fcntl(p[1], F_SETFD, 0) < 0
					  : dup2(p[1], STDOUT_FILENO) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		uint8_t sink[256];
		uint8_t *dst = got < max ? buf + got : sink;
		size_t room = got < max ? max - got : sizeof(sink);
		ssize_t n = read(p[0], dst, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (dst == sink) {
			too_long = true;
			sodium_memzero(sink, sizeof(sink));
		} else {
			got += (size_t)n;
		}
	}
	close(p[0]);
	st = reap(pid);
	if (st == 0 && !too_long) {
		if (got && buf[got - 1] == '\n')
			got--;
		if (got && buf[got - 1] == '\r')
			got--;
		*len = got;
		rc = 0;
	} else if (st == 0) {
		rc = PFC_ERR_TOO_LARGE;
	}
out:
	if (rc < 0 && max)
		sodium_memzero(buf, max);
	if (status)
		*status = st;
	return rc;
}
