/* SPDX-License-Identifier: MIT */
/*
 * client_priv.h - what the two halves of the keystore client library share:
 * the connection (client.c: transport, reconnect, the daemon's requests) and
 * the key-administration requests (client_admin.c).  Not for callers.
 */
#ifndef PFC_KS_CLIENT_PRIV_H
#define PFC_KS_CLIENT_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/un.h>

#include "fs/buf.h"
#include "keystore/client.h"
#include "keystore/proto.h"
#include "keystore/sockcheck.h"

struct pfc_ks {
	pthread_mutex_t mu; /* serialises requests; protects every field below */
	int fd;		    /* -1 when disconnected (reconnected on the next request) */
	int timeout_ms;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char msg[PFC_KS_CHECK_MSG_MAX]; /* the server's message, or a failed socket check's */
	struct pfc_wbuf req;		/* secure; the request being sent, wiped after each */
	uint8_t *rx;			/* sodium_malloc'd reply buffer, wiped after each */
	size_t rx_cap;
	const char *proof; /* the caller's store passphrase (pfc_ks_set_proof), or NULL */
	size_t proof_len;
};

/* Lock, exchange, decode the reply's fields into out, wipe, unlock.  A
 * request that is not idempotent is resent after a drop only if it was never
 * sent (client.h "Reconnect"). */
int pfc_ks_request(struct pfc_ks *ks, const struct pfc_ks_req *q, bool idempotent,
		   struct pfc_ks_reply *out);
/* q->name = name (checked: pfc_ks_name_check). */
int pfc_ks_req_name(struct pfc_ks_req *q, const char *name);

#endif
