/* SPDX-License-Identifier: MIT */
/*
 * extpass.h - a passphrase from a program's standard output (--extpass CMD),
 * as gocryptfs v2 does: for password managers and systemd-ask-password.
 *
 * No shell: the program is run with execvp (found on PATH), its arguments
 * taken from the --extpass values.  One value is split at every run of spaces
 * (U+0020 only; leading and trailing spaces ignored; no quoting, escapes,
 * variables or globbing: "pass show pfcrypt" is three elements).  A value
 * given several times is the argv as it stands, one element per value, never
 * split, so an argument may contain spaces ("--extpass systemd-ask-password
 * --extpass 'pfcrypt keystore:'").  Only stdin, stdout (a pipe) and stderr
 * are passed on.  The command is killed (SIGKILL) if it has not exited within
 * the timeout (120 s by default).
 *
 * Used by pfcrypt-keystore and by the pfcrypt CLI (which then hands the
 * passphrase to the keystore through a pipe).  Depends on libc, libsodium
 * (sodium_memzero) and fs/err.h.
 */
#ifndef PFC_KS_EXTPASS_H
#define PFC_KS_EXTPASS_H

#include <stddef.h>
#include <stdint.h>

#define PFC_EXTPASS_ARGS_MAX 64 /* elements of the command's argv, at most */
/* Longer than systemd-ask-password's own 90 s, so a person at a prompt is not
 * cut short; a hung command still ends. */
#define PFC_EXTPASS_TIMEOUT_MS 120000

/* The command: the --extpass values in order (n == 0: none). */
struct pfc_extpass {
	const char *const *args;
	size_t n;	/* 1: args[0] is split at spaces; > 1: one element each */
	int timeout_ms; /* <= 0: PFC_EXTPASS_TIMEOUT_MS (the tests set a short one) */
};

/* Why a run failed. */
struct pfc_extpass_why {
	int status; /* exit status, 128 + signal if killed, -1 if it never ran */
	int sys;    /* the errno of what failed to start it (execvp, fork, pipe), else 0 */
};

/*
 * Run cmd (stdin and stderr inherited, stdout a pipe) and read what it
 * writes, at most max bytes, into buf (the caller's locked memory); one
 * trailing "\n" (or "\r\n") is dropped.  The command must exit 0.  Returns 0
 * and sets *len; PFC_ERR_INVAL for no command, an empty program name or more
 * than PFC_EXTPASS_ARGS_MAX elements; PFC_ERR_TOO_LARGE if it wrote more than
 * max bytes (read to its end and dropped); PFC_ERR_IO if it could not be
 * started (why->sys) or was killed or exited non-zero (why->status);
 * PFC_ERR_TIMEOUT if it was still running at the timeout (then killed).  After
 * any failure buf is wiped.  why may be NULL.
 */
int pfc_extpass_run(const struct pfc_extpass *cmd, uint8_t *buf, size_t max, size_t *len,
		    struct pfc_extpass_why *why);

/*
 * The cause of a failed run (rc and why as pfc_extpass_run gave them) as one
 * line naming the program, e.g. "sleep timed out after 120 s (killed)",
 * "cannot run pass: No such file or directory", "sh exited with status 3".
 */
void pfc_extpass_describe(const struct pfc_extpass *cmd, int rc, const struct pfc_extpass_why *why,
			  char *out, size_t len);

#endif
