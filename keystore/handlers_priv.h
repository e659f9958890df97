/* SPDX-License-Identifier: MIT */
/*
 * handlers_priv.h - shared by the keystore's request handlers (handlers.c:
 * the handler table, the KDF planners and the dispatcher, with the routine
 * requests; handlers_admin.c: key administration).  Not for other callers.
 */
#ifndef PFC_KS_HANDLERS_PRIV_H
#define PFC_KS_HANDLERS_PRIV_H

#include <stdint.h>
#include <time.h>

#include "keystore/handlers.h"
#include "keystore/proto.h"
#include "keystore/server_kdf.h"

/* A reply under construction: exactly one per request. */
struct reply {
	struct pfc_wbuf *w;
	size_t start;
	const char *msg; /* error message (fixed text, or buf) */
	const struct pfc_ks_peer *peer;
	struct pfc_ks_kdf_job *kdf; /* the derived keys of a request with a KDF plan, else NULL */
	char buf[PFC_KS_MSG_MAX];
};

typedef int (*handler_fn)(struct pfc_ks_server *, const struct pfc_ks_req *, struct reply *);

static inline uint64_t pfc_ks_now_s(void)
{
	return (uint64_t)time(NULL);
}

/* Key administration (handlers_admin.c): logged at info level. */
int pfc_ks_h_create(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r);
int pfc_ks_h_rotate(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r);
int pfc_ks_h_retire(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r);
int pfc_ks_h_cancel_retire(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r);
int pfc_ks_h_lock(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r);
int pfc_ks_h_unlock(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r);
int pfc_ks_h_passwd(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r);
int pfc_ks_h_export(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r);
int pfc_ks_h_import(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r);

#endif
