/* SPDX-License-Identifier: MIT */
/*
 * retire.h - the keystore's own rules for destroying a master-key version
 * (PROTOCOL.md section 2.2): who used a version lately, and whether a RETIRE
 * of it must wait.  The keystore cannot see which volumes exist (the CLI's
 * census does that); it can see which clients still wrap or unwrap under a
 * version: connections still open, processes still running.
 */
#ifndef PFC_KS_RETIRE_H
#define PFC_KS_RETIRE_H

#include <stddef.h>
#include <stdint.h>

#include "keystore/handlers.h"
#include "keystore/keyring.h"
#include "keystore/server.h"

/* Record that the keystore answered request op (WRAP, UNWRAP, GENERATE) under
 * e for client c at now.  A slot is kept per connection; when all are taken
 * the least recent one whose client is gone, else the least recent, is reused. */
void pfc_ks_note_use(const struct pfc_ks_server *s, struct pfc_ks_entry *e,
		     const struct pfc_ks_peer *c, uint8_t op, uint64_t now);

/*
 * May e be retired now?  0, or PFC_ERR_BUSY with why (n bytes) saying who
 * still uses it: a client that the keystore answered a WRAP, UNWRAP or
 * GENERATE under e since it loaded its keys and whose connection is still
 * open or whose process (the pid that connected) still runs.
 */
int pfc_ks_retire_check(const struct pfc_ks_server *s, const struct pfc_ks_entry *e, uint64_t now,
			char *why, size_t n);

#endif
