/* SPDX-License-Identifier: MIT */
/* handlers.h - the request handlers (handlers.c), called by the poll loop (server.c). */
#ifndef PFC_KS_HANDLERS_H
#define PFC_KS_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/buf.h"
#include "keystore/server.h"

/* Who sent a request (SO_PEERCRED: the pid is the one that connected), for
 * the log and for the in-use record of RETIRE (retire.h). */
struct pfc_ks_peer {
	uid_t uid;
	pid_t pid;
	uint64_t conn; /* the connection's serial number (pfc_ks_conn_open) */
};

/*
 * Build the one reply to body (a complete frame without its length) in out,
 * which is reset first: the handler's reply, or an error reply.  Returns true
 * if the connection must be closed once the reply is sent (framing errors;
 * out left empty if not even the error reply could be built).
 */
bool pfc_ks_dispatch(struct pfc_ks_server *s, const struct pfc_ks_peer *peer, const uint8_t *body,
		     size_t len, struct pfc_wbuf *out);

/* Apply a mutation: next (a changed clone of s->kr) is written to the store,
 * then replaces s->kr; on failure it is freed and s->kr is unchanged. */
int pfc_ks_commit(struct pfc_ks_server *s, struct pfc_keyring *next);

#endif
