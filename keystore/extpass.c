// SPDX-License-Identifier: MIT
/* extpass.c - run a passphrase command and read its output (see extpass.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/extpass.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * cmd's argv into argv (PFC_EXTPASS_ARGS_MAX + 1 entries, NULL-terminated):
 * one value split at runs of spaces into *copy (malloc'd, else NULL), or the
 * values as they are.  0, PFC_ERR_INVAL or PFC_ERR_NOMEM.
 */
static int build_argv(const struct pfc_extpass *cmd, char **copy, char **argv)
{
	char *save = NULL;
	size_t k = 0;

	*copy = NULL;
	if (!cmd || !cmd->n || !cmd->args || cmd->n > PFC_EXTPASS_ARGS_MAX)
		return PFC_ERR_INVAL;
	for (size_t i = 0; i < cmd->n; i++)
		if (!cmd->args[i])
			return PFC_ERR_INVAL;
	if (cmd->n > 1) {
		for (; k < cmd->n; k++)
			argv[k] = (char *)cmd->args[k];
	} else {
		if (!(*copy = strdup(cmd->args[0])))
			return PFC_ERR_NOMEM;
		for (char *t = strtok_r(*copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
			if (k == PFC_EXTPASS_ARGS_MAX)
				return PFC_ERR_INVAL;
			argv[k++] = t;
		}
	}
	argv[k] = NULL;
	return (k == 0 || !argv[0][0]) ? PFC_ERR_INVAL : 0;
}

/* A pipe (O_CLOEXEC) whose ends are both above stderr, so the child's dup2
 * onto stdout never lands on one of them. */
static int pipe_high(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (p[i] <= STDERR_FILENO) {
			int fd = fcntl(p[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1);

			if (fd < 0) {
				close(p[0]);
				close(p[1]);
				return -1;
			}
			close(p[i]);
			p[i] = fd;
		}
	}
	return 0;
}

/* In the child: stdout onto out, nothing else above stderr passed on (a
 * socket-activated keystore's listening socket, say), default signal state,
 * exec; on failure its errno goes up err (closed by a successful exec). */
static void child(int out, int err, char **argv)
{
	sigset_t none;
	int e;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(out, STDOUT_FILENO) < 0)
		goto fail;
#ifdef CLOSE_RANGE_CLOEXEC
	(void)close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC); /* best effort */
#endif
	execvp(argv[0], argv);
fail:
	e = errno;
	(void)!write(err, &e, sizeof(e));
	_exit(127);
}

/* One read of the output into buf (or a wiped sink past max).  >0, 0 at EOF, <0 error. */
static ssize_t read_some(int fd, uint8_t *buf, size_t max, size_t *got, bool *too_long)
{
	uint8_t sink[256];
	bool over = *got >= max;
	ssize_t n = read(fd, over ? sink : buf + *got, over ? sizeof(sink) : max - *got);

	if (n > 0 && over) {
		*too_long = true;
		sodium_memzero(sink, sizeof(sink));
	} else if (n > 0) {
		*got += (size_t)n;
	}
	return n;
}

/* Read the output until EOF, and the exec error if any, by the deadline.
 * 0 or PFC_ERR_TIMEOUT. */
static int collect(int out, int err, int64_t deadline, uint8_t *buf, size_t max, size_t *got,
		   bool *too_long, int *sys)
{
	struct pollfd p[2] = {{.fd = out, .events = POLLIN}, {.fd = err, .events = POLLIN}};

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return PFC_ERR_TIMEOUT;
		n = poll(p, 2, (int)left);
		if (n < 0 && errno != EINTR)
			return PFC_ERR_TIMEOUT; /* cannot wait: treat as hung, kill it */
		if (n > 0 && p[0].revents) {
			ssize_t r = read_some(out, buf, max, got, too_long);

			if (r == 0 || (r < 0 && errno != EINTR))
				p[0].fd = -1;
		}
		if (n > 0 && p[1].revents) {
			int e = 0;

			if (read(err, &e, sizeof(e)) == (ssize_t)sizeof(e))
				*sys = e;
			p[1].fd = -1;
		}
	}
	return 0;
}

/* wait_exit's "not exited by the deadline" (never an exit status). */
#define STILL_RUNNING (-1000)

/* Wait for pid's exit by the deadline: its status (128 + signal if killed),
 * -1 on error, or STILL_RUNNING. */
static int wait_exit(pid_t pid, int64_t deadline)
{
	for (;;) {
		int st = 0;
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st)
					     : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline)
			return STILL_RUNNING;
		poll(NULL, 0, 5);
	}
}

/* Kill a child that overran its time and reap it: 128 + SIGKILL. */
static int kill_child(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return 128 + SIGKILL;
}

/* Start argv with stdout on a pipe: its pid, *out the read end, *err the exec-error pipe. */
static pid_t start(char **argv, int *out, int *err, int *sys)
{
	int o[2], e[2];
	pid_t pid;

	if (pipe_high(o) < 0) {
		*sys = errno;
		return -1;
	}
	if (pipe_high(e) < 0) {
		*sys = errno;
		close(o[0]);
		close(o[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0)
		child(o[1], e[1], argv);
	if (pid < 0)
		*sys = errno;
	close(o[1]);
	close(e[1]);
	if (pid < 0) {
		close(o[0]);
		close(e[0]);
		return -1;
	}
	*out = o[0];
	*err = e[0];
	return pid;
}

/* Drop one trailing "\n", then one "\r". */
static size_t chomp(const uint8_t *buf, size_t n)
{
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	return n;
}

int pfc_extpass_run(const struct pfc_extpass *cmd, uint8_t *buf, size_t max, size_t *len,
		    struct pfc_extpass_why *why)
{
	struct pfc_extpass_why w = {-1, 0};
	char *argv[PFC_EXTPASS_ARGS_MAX + 1], *copy = NULL;
	int out = -1, err = -1, rc;
	size_t got = 0;
	bool too_long = false;
	int64_t deadline;
	pid_t pid;

	if ((rc = build_argv(cmd, &copy, argv)) < 0)
		goto out;
	deadline = now_ms() + (cmd->timeout_ms > 0 ? cmd->timeout_ms : PFC_EXTPASS_TIMEOUT_MS);
	rc = PFC_ERR_IO;
	if ((pid = start(argv, &out, &err, &w.sys)) < 0)
		goto out;
	rc = collect(out, err, deadline, buf, max, &got, &too_long, &w.sys);
	close(out);
	close(err);
	w.status = rc == 0 ? wait_exit(pid, deadline) : STILL_RUNNING;
	if (w.status == STILL_RUNNING) {
		w.status = kill_child(pid);
		rc = PFC_ERR_TIMEOUT;
	} else if (w.sys) {
		w.status = -1; /* exec failed: the 127 is ours, not the program's */
		rc = PFC_ERR_IO;
	} else {
		rc = w.status != 0 ? PFC_ERR_IO : too_long ? PFC_ERR_TOO_LARGE : 0;
	}
	if (rc == 0)
		*len = chomp(buf, got);
out:
	free(copy);
	if (rc < 0 && max)
		sodium_memzero(buf, max);
	if (why)
		*why = w;
	return rc;
}

/* The program's name: argv[0] of cmd ("?" if there is none). */
static void program(const struct pfc_extpass *cmd, char *out, size_t len)
{
	const char *a = (cmd && cmd->n && cmd->args && cmd->args[0]) ? cmd->args[0] : "";
	size_t skip = cmd && cmd->n == 1 ? strspn(a, " ") : 0;
	size_t n = cmd && cmd->n == 1 ? strcspn(a + skip, " ") : strlen(a);

	snprintf(out, len, "%.*s", (int)(n ? n : 1), n ? a + skip : "?");
}

void pfc_extpass_describe(const struct pfc_extpass *cmd, int rc, const struct pfc_extpass_why *why,
			  char *out, size_t len)
{
	int t = cmd && cmd->timeout_ms > 0 ? cmd->timeout_ms : PFC_EXTPASS_TIMEOUT_MS;
	char prog[256];

	program(cmd, prog, sizeof(prog));
	if (rc == PFC_ERR_TIMEOUT && t % 1000 == 0)
		snprintf(out, len, "%s timed out after %d s (killed)", prog, t / 1000);
	else if (rc == PFC_ERR_TIMEOUT)
		snprintf(out, len, "%s timed out after %d ms (killed)", prog, t);
	else if (rc == PFC_ERR_INVAL)
		snprintf(out, len, "no program to run (empty command, or more than %d arguments)",
			 PFC_EXTPASS_ARGS_MAX);
	else if (rc == PFC_ERR_IO && why && why->status < 0)
		snprintf(out, len, "cannot run %s: %s", prog, strerror(why->sys ? why->sys : EIO));
	else if (rc == PFC_ERR_IO && why && why->status > 128)
		snprintf(out, len, "%s was killed by signal %d", prog, why->status - 128);
	else if (rc == PFC_ERR_IO && why)
		snprintf(out, len, "%s exited with status %d", prog, why->status);
	else
		snprintf(out, len, "%s: %s", prog, pfc_strerror(rc));
}
