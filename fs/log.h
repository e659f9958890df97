/* SPDX-License-Identifier: MIT */
/*
 * log.h - the one logging function of all three programs.
 *
 * One line per event, to stderr (foreground) or syslog (daemonised).
 * Rule: no key, wrapped blob, passphrase or file contents are ever passed as
 * an argument here.  Callers name files by backing path and blocks by index;
 * a line about a damaged file also names it by its path in the mount
 * (pfcd_log_path), so that the user can find it.
 */
#ifndef PFC_LOG_H
#define PFC_LOG_H

enum pfc_log_level {
	PFC_LOG_ERR = 3,
	PFC_LOG_WARN = 4,
	PFC_LOG_INFO = 6,
	PFC_LOG_DEBUG = 7,
};

/* ident: program name; to_syslog: use syslog instead of stderr. */
void pfc_log_init(const char *ident, int to_syslog);
/* stderr is (or will be made) a log file: each line starts with the local
 * time and "ident[pid]:", as syslog would show it. */
void pfc_log_init_file(const char *ident);
/* Messages above this level are dropped (default PFC_LOG_INFO). */
void pfc_log_set_level(enum pfc_log_level level);
int pfc_log_enabled(enum pfc_log_level level);
void pfc_log(enum pfc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pfc_err_log(...) pfc_log(PFC_LOG_ERR, __VA_ARGS__)
#define pfc_warn(...)	 pfc_log(PFC_LOG_WARN, __VA_ARGS__)
#define pfc_info(...)	 pfc_log(PFC_LOG_INFO, __VA_ARGS__)
#define pfc_debug(...)	 pfc_log(PFC_LOG_DEBUG, __VA_ARGS__)

#endif
