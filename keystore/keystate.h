/* SPDX-License-Identifier: MIT */
/*
 * keystate.h - the keystore's key state (keystate.c), used by the loop
 * (server.c), the handlers and the timers; it calls none of them.
 */
#ifndef PFC_KS_KEYSTATE_H
#define PFC_KS_KEYSTATE_H

#include <stdint.h>

#include "keystore/server.h"

/* Apply a mutation: next (a changed clone of s->kr) is written to the store,
 * then replaces s->kr; on failure it is freed and s->kr is unchanged. */
int pfc_ks_commit(struct pfc_ks_server *s, struct pfc_keyring *next);
/* Wipe the keys (lock); bumps the key epoch. */
void pfc_ks_server_lock(struct pfc_ks_server *s);
/* Connection conn closed: the versions it used no longer count it as
 * connected (retire.c then asks only whether its process still runs). */
void pfc_ks_forget_conn(struct pfc_ks_server *s, uint64_t conn);

#endif
