// SPDX-License-Identifier: MIT
/* log.c - stderr or syslog, one line per call (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fs/log.h"

/* Written once at start-up, before threads exist; read-only after. */
static const char *log_ident = "pfcrypt";
static int log_syslog;
static int log_times; /* stderr is a log file: each line gets the local time */
static enum pfc_log_level log_level = PFC_LOG_INFO;

void pfc_log_init(const char *ident, int to_syslog)
{
	log_ident = ident;
	log_syslog = to_syslog;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void pfc_log_init_file(const char *ident)
{
	log_ident = ident;
	log_syslog = 0;
	log_times = 1;
}

void pfc_log_set_level(enum pfc_log_level level)
{
	log_level = level;
}

int pfc_log_enabled(enum pfc_log_level level)
{
	return level <= log_level;
}

static const char *level_name(enum pfc_log_level level)
{
	switch (level) {
	case PFC_LOG_ERR:
		return "error";
	case PFC_LOG_WARN:
		return "warning";
	case PFC_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void pfc_log(enum pfc_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!pfc_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One line per event: fold any newline a caller's data brought in. */
	for (char *c = line; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	if (log_syslog) {
		syslog((int)level, "%s", line);
		return;
	}
	/* A single fprintf keeps lines from different threads whole. */
	if (log_times) {
		char when[32] = "";
		time_t now = time(NULL);
		struct tm tm;

		if (localtime_r(&now, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(stderr, "%s %s[%d]: %s: %s\n", when, log_ident, (int)getpid(),
			level_name(level), line);
		return;
	}
	fprintf(stderr, "%s: %s: %s\n", log_ident, level_name(level), line);
}
