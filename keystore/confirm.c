// SPDX-License-Identifier: MIT
/* confirm.c - confirm on use: the --confirm-export command (confirm.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/err.h"
#include "keystore/confirm.h"

extern char **environ;

#define ASK_VARS 3

/* environ without our variables, plus them: envp (malloc'd array, vars in bufs). */
static char **make_env(const struct pfc_ks_ask *ask, char bufs[ASK_VARS][192])
{
	size_t n = 0, k = 0;
	char **envp;

	while (environ[n])
		n++;
	envp = calloc(n + ASK_VARS + 1, sizeof(*envp));
	if (!envp)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "PFCRYPT_CONFIRM", 15) != 0)
			envp[k++] = environ[i];
	snprintf(bufs[0], sizeof(bufs[0]), "PFCRYPT_CONFIRM=%s", ask->text);
	snprintf(bufs[1], sizeof(bufs[1]), "PFCRYPT_CONFIRM_KEY=%s", ask->key);
	snprintf(bufs[2], sizeof(bufs[2]), "PFCRYPT_CONFIRM_PID=%d", (int)ask->pid);
	for (size_t i = 0; i < ASK_VARS; i++)
		envp[k++] = bufs[i];
	return envp;
}

static int spawn(const char *cmd, char **envp, pid_t *pid)
{
	char *argv[] = {"sh", "-c", (char *)cmd, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t mask, dfl;
	int rc;

	if (posix_spawn_file_actions_init(&fa))
		return PFC_ERR_NOMEM;
	if (posix_spawnattr_init(&at)) {
		posix_spawn_file_actions_destroy(&fa);
		return PFC_ERR_NOMEM;
	}
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	/* the keystore blocks SIGTERM and SIGINT and ignores SIGPIPE and SIGHUP: not the command */
	sigemptyset(&mask);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	posix_spawnattr_setsigmask(&at, &mask);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					  POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(pid, "/bin/sh", &fa, &at, argv, envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc ? PFC_ERR_IO : 0;
}

/* Wait for pid at most timeout_ms; its status, or -1 after killing its group. */
static int wait_for(pid_t pid, int timeout_ms)
{
	struct timespec tick = {0, 10 * 1000 * 1000};
	int status;

	for (int waited = 0;; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (waited >= timeout_ms) {
			kill(-pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return -1;
		}
		nanosleep(&tick, NULL);
	}
}

int pfc_ks_confirm(const char *cmd, const struct pfc_ks_ask *ask, int timeout_ms, char *why,
		   size_t n)
{
	char bufs[ASK_VARS][192];
	char **envp = make_env(ask, bufs);
	pid_t pid;
	int rc, st;

	if (!envp)
		return PFC_ERR_NOMEM;
	rc = spawn(cmd, envp, &pid);
	free(envp);
	if (rc < 0) {
		snprintf(why, n, "the --confirm-export command could not be run");
		return rc;
	}
	st = wait_for(pid, timeout_ms);
	if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (st < 0)
		snprintf(why, n, "refused: the --confirm-export command did not answer within %d s",
			 timeout_ms / 1000);
	else if (WIFEXITED(st))
		snprintf(why, n, "refused by the --confirm-export command (exit status %d)",
			 WEXITSTATUS(st));
	else
		snprintf(why, n, "refused: the --confirm-export command was killed by signal %d",
			 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return PFC_ERR_DENIED;
}
