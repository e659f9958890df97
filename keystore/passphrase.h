/* SPDX-License-Identifier: MIT */
/*
 * passphrase.h - the one passphrase reader of pfcrypt-keystore and the
 * pfcrypt CLI: a file descriptor read to its end, a file, the standard output
 * of an --extpass command (run without a shell, with a timeout: extpass.h),
 * else a prompt on /dev/tty with echo off.
 *
 * One maximum for every source: a passphrase is at most PFC_PASS_MAX bytes,
 * after one trailing "\n" (or "\r\n") is dropped; longer input is refused,
 * never truncated.  The keystore protocol carries the same maximum.
 * The bytes live only in the caller's locked memory (PFC_PASS_BUF bytes).
 */
#ifndef PFC_KS_PASSPHRASE_H
#define PFC_KS_PASSPHRASE_H

#include <stddef.h>

#include "keystore/extpass.h"

#define PFC_PASS_MAX 1024		/* longest passphrase, bytes */
#define PFC_PASS_BUF (PFC_PASS_MAX + 3) /* room for it, a "\r\n" and the NUL */

/* Where a passphrase comes from: the first set of fd >= 0, file, extpass; else the tty. */
struct pfc_pass_src {
	int fd;			    /* read until EOF; -1: not given */
	const char *file;	    /* read the file */
	struct pfc_extpass extpass; /* if extpass.n: the command's standard output (extpass.h) */
};

/* Why a read failed, for the caller's message (pfc_extpass_describe for extpass). */
struct pfc_pass_why {
	int sys;    /* the errno of the failed call (open, read, the terminal, exec), 0 if none */
	int status; /* extpass: its exit status, 128 + signal, -1 if it could not start */
};

/*
 * Read a passphrase into buf (PFC_PASS_BUF bytes, NUL-terminated), *len its
 * length; on the tty show prompt first.  Returns 0, PFC_ERR_TOO_LARGE (more
 * than PFC_PASS_MAX bytes), PFC_ERR_IO (why->sys, or why->status for
 * extpass), PFC_ERR_TIMEOUT (the extpass command ran past its timeout and was
 * killed), PFC_ERR_INVAL (an empty extpass command).  buf is wiped on failure.
 */
int pfc_pass_read(const struct pfc_pass_src *src, const char *prompt, char *buf, size_t *len,
		  struct pfc_pass_why *why);

/*
 * Ask again on the tty (prompt) and compare with pass: 0 if the same was
 * typed, PFC_ERR_BAD_PASSPHRASE if not, PFC_ERR_NOMEM, or a read error as
 * pfc_pass_read().  The second copy is wiped.
 */
int pfc_pass_confirm(const char *prompt, const char *pass, size_t len, struct pfc_pass_why *why);

#endif
