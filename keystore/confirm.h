/* SPDX-License-Identifier: MIT */
/*
 * confirm.h - confirm on use (PROTOCOL.md 8, --confirm-export CMD): before
 * the keystore hands keys out it asks a program, as ssh-agent asks
 * SSH_ASKPASS for a key added with "ssh-add -c".  The program gets no
 * secret, only what is asked and by whom, in its environment.
 */
#ifndef PFC_KS_CONFIRM_H
#define PFC_KS_CONFIRM_H

#include <stddef.h>
#include <sys/types.h>

#define PFC_KS_CONFIRM_TIMEOUT_MS 20000 /* no answer by then: refused (the CLI waits 30 s) */

/* What is asked: the environment of the confirm command. */
struct pfc_ks_ask {
	const char *text; /* PFCRYPT_CONFIRM: one line for a dialog */
	const char *key;  /* PFCRYPT_CONFIRM_KEY: the master-key name */
	pid_t pid;	  /* PFCRYPT_CONFIRM_PID: the client's pid */
};

/*
 * Run /bin/sh -c cmd (its own process group; stdin /dev/null, stdout and
 * stderr the keystore's standard error) with the environment plus the
 * PFCRYPT_CONFIRM* variables of ask, and wait at most timeout_ms.  0 if it
 * exited 0; otherwise PFC_ERR_DENIED with why (n bytes) saying how it
 * refused (exit status, signal, no answer in time: then its group is
 * killed), or PFC_ERR_IO if it could not be run.
 */
int pfc_ks_confirm(const char *cmd, const struct pfc_ks_ask *ask, int timeout_ms, char *why,
		   size_t n);

#endif
