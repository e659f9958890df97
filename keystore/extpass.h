/* SPDX-License-Identifier: MIT */
/*
 * extpass.h - a passphrase from a program's standard output (--extpass CMD),
 * as gocryptfs does: for password managers and systemd-ask-password.
 *
 * Used by pfcrypt-keystore and by the pfcrypt CLI (which then hands the
 * passphrase to the keystore through a pipe).  Depends on libc, libsodium
 * (sodium_memzero) and fs/err.h.
 */
#ifndef PFC_KS_EXTPASS_H
#define PFC_KS_EXTPASS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Run cmd with /bin/sh -c (stdin and stderr inherited, stdout a pipe) and read
 * what it writes, at most max bytes, into buf (the caller's locked memory);
 * one trailing "\n" (or "\r\n") is dropped.  The command must exit 0.
 * Returns 0 and sets *len; PFC_ERR_TOO_LARGE if it wrote more than max bytes;
 * PFC_ERR_IO if it could not run, was killed or exited non-zero (then
 * *status, if not NULL, is its exit status, 128 + signal, or -1 when it could
 * not be started).  After PFC_ERR_IO or PFC_ERR_TOO_LARGE buf is wiped.
 */
int pfc_extpass_run(const char *cmd, uint8_t *buf, size_t max, size_t *len, int *status);

#endif
