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
#include "keystore/server_kdf.h"

/* Who sent a request (SO_PEERCRED: the pid is the one that connected), for
 * the log and for the in-use record of RETIRE (retire.h). */
struct pfc_ks_peer {
	uid_t uid;
	pid_t pid;
	uint64_t conn; /* the connection's serial number (pfc_ks_conn_open) */
};

/* What the server does next with a request (pfc_ks_dispatch, pfc_ks_dispatch_kdf). */
enum pfc_ks_next {
	PFC_KS_SEND,	   /* the reply is in out: send it */
	PFC_KS_SEND_CLOSE, /* send the reply in out (empty: nothing), then close (framing errors) */
	PFC_KS_DERIVE,	   /* run *job on the KDF worker, then call pfc_ks_dispatch_kdf() */
};

/* What a request said about a passphrase, for the server's failure backoff. */
enum pfc_ks_verdict {
	PFC_KS_NO_VERDICT,    /* none judged (or the request failed for another reason) */
	PFC_KS_PASS_WRONG,    /* BAD_PASSPHRASE (the store's or a bundle's): one more failure */
	PFC_KS_STORE_PASS_OK, /* the store passphrase proved right: the count starts over */
};

/*
 * Decode body (a complete frame without its length) and check the lock state.
 * A request whose handler needs no Argon2id is handled at once: its one reply
 * (or an error reply) goes into out, which is reset first.  A request whose
 * table entry has a KDF planner gets its derivations in *job (sodium_malloc'd;
 * the passphrases copied) and PFC_KS_DERIVE: the frame must stay intact until
 * pfc_ks_dispatch_kdf().  *verdict is PFC_KS_NO_VERDICT.
 */
enum pfc_ks_next pfc_ks_dispatch(struct pfc_ks_server *s, const struct pfc_ks_peer *peer,
				 const uint8_t *body, size_t len, struct pfc_wbuf *out,
				 struct pfc_ks_kdf_job **job, enum pfc_ks_verdict *verdict);
/*
 * The same request once *job has run: the passphrase is checked (when the plan
 * said so), so is the --confirm-export command's answer (EXPORT), and the
 * handler builds the reply with the derived keys.  *job is
 * freed and set to NULL; if the keys changed meanwhile (lock, unlock, passwd
 * since the plan) the request is planned again and PFC_KS_DERIVE returned with
 * a new *job.  *verdict: what the request said about its passphrase.
 */
enum pfc_ks_next pfc_ks_dispatch_kdf(struct pfc_ks_server *s, const struct pfc_ks_peer *peer,
				     const uint8_t *body, size_t len, struct pfc_wbuf *out,
				     struct pfc_ks_kdf_job **job, enum pfc_ks_verdict *verdict);


#endif
