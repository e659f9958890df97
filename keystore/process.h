/* SPDX-License-Identifier: MIT */
/*
 * process.h - pfcrypt-keystore's process set-up (process.c): the store's
 * lock, systemd socket activation, detaching, absolute paths.
 */
#ifndef PFC_KS_PROCESS_H
#define PFC_KS_PROCESS_H

#include <stddef.h>

/*
 * Fork; the parent waits for the child's status byte (pfc_ks_notify) and
 * exits with it, 1 if the child dies first.  In the child *notify_fd is the
 * pipe's write end.  Returns 0 in the child, -1 (errno) if the fork fails.
 */
int pfc_ks_daemonise(int *notify_fd);

/* Send status to the waiting parent once; *fd becomes -1.  No-op when *fd < 0. */
void pfc_ks_notify(int *fd, unsigned char status);

/*
 * Take the exclusive lock STORE.lock, so that one keystore serves a store.
 * Returns 0 with the open descriptor in *fd_out (held until exit), -1 after
 * a message on stderr.
 */
int pfc_ks_lock_store(const char *store, int *fd_out);

/*
 * systemd socket activation: 3 when systemd passed exactly one listening Unix
 * stream socket to this process, 0 when not socket-activated, -1 after a
 * message when what was passed is something else.  Call before any fork.
 */
int pfc_ks_activation_fd(void);

/* The path the listening Unix socket fd is bound to, into buf; NULL if it has none. */
const char *pfc_ks_bound_path(int fd, char *buf, size_t len);

/* path made absolute against the current directory (into buf); NULL if too long. */
const char *pfc_ks_absolute_path(const char *path, char *buf, size_t len);

#endif
