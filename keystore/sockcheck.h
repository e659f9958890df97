/* SPDX-License-Identifier: MIT */
/*
 * sockcheck.h - the client's checks on the keystore socket (PROTOCOL.md
 * section 8, "Client checks"): whoever serves it must be the client's own
 * effective uid or root, so that a socket squatted under a directory someone
 * else controls never receives a passphrase or a key.  client.c runs them on
 * every connect; they take the uid to compare with so the tests can play
 * another user.  Depends on libc and fs/err.h.
 */
#ifndef PFC_KS_SOCKCHECK_H
#define PFC_KS_SOCKCHECK_H

#include <stddef.h>
#include <sys/types.h>

/* Room for a reason: a socket path (up to 107 bytes) twice, uids and words. */
#define PFC_KS_CHECK_MSG_MAX 384

/*
 * Before connecting: the socket's directory (symbolic links followed) is owned
 * by me or root and not group/other-writable, except a root-owned sticky
 * directory when the socket file is me's; the socket path (not followed) is a
 * socket owned by me or root.  Returns 0; PFC_ERR_UNREACHABLE if the directory
 * or the socket does not exist (or cannot be looked at); PFC_ERR_UNTRUSTED
 * with why (one line naming the path and the reason; len >= 1).
 */
int pfc_ks_check_path(const char *path, uid_t me, char *why, size_t len);

/*
 * After connecting fd to path: the server's uid (SO_PEERCRED) is me or 0.
 * Returns 0 or PFC_ERR_UNTRUSTED with why as above.
 */
int pfc_ks_check_peer(int fd, const char *path, uid_t me, char *why, size_t len);

#endif
