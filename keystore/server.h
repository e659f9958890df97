/* SPDX-License-Identifier: MIT */
/*
 * server.h - the keystore server: one poll loop, every client a non-blocking
 * connection with its own frame buffer and deadline, so a slow or silent
 * client cannot delay the others; Argon2id on a worker thread, a growing
 * delay after wrong passphrases, idle connections closed (PROTOCOL.md 8.1).
 */
#ifndef PFC_KS_SERVER_H
#define PFC_KS_SERVER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keystore/keyring.h"
#include "keystore/seal.h"
#include "keystore/server_kdf.h"

struct pfc_ks_server {
	/* configuration, set by the caller before pfc_ks_server_run() */
	const char *store_path;
	const char *socket_path;
	int client_timeout_ms;	 /* a started frame / pending reply must finish within this */
	int64_t idle_timeout_ms; /* an idle connection is closed after this; 0: never */
	size_t max_clients;	 /* when full, the least recently active connection makes room */
	uid_t owner;		 /* peers allowed: owner and root */
	bool private_dir;    /* the socket's directory is the default .../pfcrypt/: made 0700 even
			      * if it exists; otherwise an existing directory is only checked */
	uint64_t lifetime_s; /* lock this long after each unlock (PROTOCOL.md 8); 0: never */
	const char *confirm_export; /* command that must exit 0 before each EXPORT, or NULL */

	/* keys: valid only when !locked */
	bool locked;
	struct pfc_keyring kr;
	struct pfc_skey *sk; /* derived store key, kept to save without Argon2id */
	struct pfc_kdf kdf;  /* store's KDF profile (read from the header even when locked) */
	uint64_t key_epoch;  /* bumped by every lock, unlock, passwd: a KDF plan made under
			      * another epoch is planned again */

	/* timed events (timers.c) */
	uint64_t expire_retry_at; /* a failed destruction at a deadline is retried then */
	uint64_t unlocked_at;	  /* CLOCK_BOOTTIME seconds of the unlock; 0 while locked */

	/* runtime */
	int listen_fd;
	bool socket_inherited; /* listen_fd came from systemd: do not unlink the socket */
	struct ks_conn *conns; /* array of max_clients */
	size_t nconns;
	uint64_t next_conn;	       /* serial number of the next connection accepted (from 1) */
	struct pfc_ks_kdf_pool *kdfw;  /* the KDF worker, while running */
	struct pfc_ks_backoff backoff; /* wrong passphrases, keystore-wide */
	uint64_t kdf_seq;	       /* arrival order of requests waiting for the worker */
};

/*
 * Create the socket (parent directory 0700 created if missing; an existing one
 * must belong to us and not be group/other-writable, and is set to 0700 when
 * private_dir; socket 0600; a stale
 * socket is replaced, a live one is PFC_ERR_BUSY).
 */
int pfc_ks_server_listen(struct pfc_ks_server *s);
/* Serve until *stop becomes non-zero (set from a signal handler; SIGTERM and
 * SIGINT must be blocked by the caller: they are unblocked only inside ppoll).
 * Then close every client, wipe the keys, remove the socket.  Returns 0. */
int pfc_ks_server_run(struct pfc_ks_server *s, volatile sig_atomic_t *stop);

#endif
