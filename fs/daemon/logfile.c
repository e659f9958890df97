/* SPDX-License-Identifier: MIT */
/*
 * logfile.c - where pfcryptfs logs: stderr in the foreground, syslog in the
 * background, a file with --log-file F (-o log_file=F).  In the background
 * on a machine without syslog (no /dev/log socket: a container, a minimal
 * system) the lines would be lost, so the daemon logs to
 * $XDG_STATE_HOME/pfcrypt/NAME.log (default ~/.local/state; NAME: the
 * backing directory's name) and says so on stderr before it detaches.
 */
#include "fs/daemon/daemon.h"

#include "fs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int log_fd = -1; /* the log file, kept open: pfcd_log_attach makes it stderr */

static bool have_syslog(void)
{
	struct stat st;

	return stat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode);
}

/* mkdir -p of the directories leading to path (mode 0700 for new ones). */
static int make_parents(char *path)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return 0;
}

/* $XDG_STATE_HOME/pfcrypt/NAME.log, else ~/.local/state/pfcrypt/NAME.log; false if no home. */
static bool default_log(const char *backing_abs, char *out, size_t len)
{
	const char *x = getenv("XDG_STATE_HOME"), *h = getenv("HOME");
	const char *name = strrchr(backing_abs, '/');
	int n;

	name = name && name[1] ? name + 1 : "root";
	if (x && x[0] == '/')
		n = snprintf(out, len, "%s/pfcrypt/%s.log", x, name);
	else if (h && h[0] == '/')
		n = snprintf(out, len, "%s/.local/state/pfcrypt/%s.log", h, name);
	else
		return false;
	return n > 0 && (size_t)n < len;
}

int pfcd_log_setup(const char *log_file, bool foreground, const char *backing_abs)
{
	char path[PATH_MAX];

	if (!log_file && (foreground || have_syslog())) {
		pfc_log_init("pfcryptfs", !foreground);
		return 0;
	}
	if (!log_file) {
		if (!default_log(backing_abs, path, sizeof(path)) || make_parents(path) < 0) {
			pfc_log_init("pfcryptfs", 1); /* nowhere better: syslog, lost */
			fprintf(stderr, "pfcryptfs: warning: no syslog here (/dev/log) and no "
					"$XDG_STATE_HOME or $HOME for a log file: log lines are "
					"lost (give --log-file)\n");
			return 0;
		}
		log_file = path;
	}
	log_fd = open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (log_fd < 0) {
		fprintf(stderr, "pfcryptfs: %s: cannot open the log file: %s\n", log_file,
			strerror(errno));
		return -1;
	}
	if (log_file == path)
		fprintf(stderr, "pfcryptfs: no syslog here (/dev/log): logging to %s\n", path);
	pfc_log_init_file("pfcryptfs");
	return 0;
}

void pfcd_log_attach(void)
{
	if (log_fd >= 0 && dup2(log_fd, STDERR_FILENO) < 0)
		pfc_warn("cannot log to the log file: %s", strerror(errno));
}
