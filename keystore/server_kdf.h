/* SPDX-License-Identifier: MIT */
/*
 * server_kdf.h - what keeps Argon2id off the keystore's poll loop
 * (PROTOCOL.md section 8.1):
 *
 *  - a KDF job: the one to two derivations a request needs (passphrase copies
 *    and KDF parameters in, derived keys out), all in sodium_malloc memory;
 *  - the KDF worker: one thread and a bounded queue; it only derives, it never
 *    touches the server's state; the loop learns of finished jobs through an
 *    eventfd it polls;
 *  - the failure backoff: 100 ms times the consecutive wrong passphrases,
 *    capped, as the time before which the next passphrase check may start.
 *
 * The ring and the backoff are pure and unit-tested (tests/unit/keystore/test_server_kdf.c).
 */
#ifndef PFC_KS_SERVER_KDF_H
#define PFC_KS_SERVER_KDF_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keystore/proto.h"
#include "keystore/seal.h"

/* ---- the failure backoff ---- */

#define PFC_KS_FAIL_STEP_MS 100	 /* delay per consecutive failure */
#define PFC_KS_FAIL_CAP_MS  5000 /* most delay after a failure */

struct pfc_ks_backoff {
	uint32_t fails;	  /* consecutive wrong passphrases, keystore-wide */
	int64_t until_ms; /* no passphrase check starts before this (monotonic ms) */
};

/* The delay after the fails-th consecutive failure: min(fails * STEP, CAP). */
int64_t pfc_ks_backoff_delay_ms(uint32_t fails);
/* Count a failure at now_ms; returns the time its reply is held until (= until_ms). */
int64_t pfc_ks_backoff_fail(struct pfc_ks_backoff *b, int64_t now_ms);
/* A passphrase was right: the count and the wait start over. */
void pfc_ks_backoff_ok(struct pfc_ks_backoff *b);
/* May a passphrase check start at now_ms? */
bool pfc_ks_backoff_open(const struct pfc_ks_backoff *b, int64_t now_ms);

/* ---- a bounded FIFO of pointers ---- */

#define PFC_KS_KDF_QUEUE 8 /* jobs queued, running or done but not yet taken */

struct pfc_ks_ring {
	void *slot[PFC_KS_KDF_QUEUE];
	unsigned head, len;
};

/* false when full */
bool pfc_ks_ring_push(struct pfc_ks_ring *r, void *p);
/* NULL when empty */
void *pfc_ks_ring_pop(struct pfc_ks_ring *r);

/* ---- a KDF job ---- */

#define PFC_KS_KDF_MAX 2 /* derivations one request needs at most (PASSWD, EXPORT) */

/*
 * Confirm on use (--confirm-export, confirm.h), asked by the worker after the
 * derivations, so that the loop goes on serving while the command (up to 20 s)
 * runs; and only when key[0] matches check: the proof is right (the loop
 * checks it again, check_pass in handlers.c).
 */
struct pfc_ks_kdf_confirm {
	const char *cmd;		   /* NULL: nothing to ask */
	uint8_t check[PFC_SEAL_CHECK_LEN]; /* the store key's check, copied by the planner */
	char text[160];			   /* PFCRYPT_CONFIRM */
	char key[PFC_KS_NAME_MAX + 1];	   /* PFCRYPT_CONFIRM_KEY */
	pid_t pid;			   /* PFCRYPT_CONFIRM_PID */
	int rc;				   /* out: 0 allowed, else PFC_ERR_DENIED / _IO with why */
	char why[PFC_KS_MSG_MAX];
};

struct pfc_ks_kdf_job {
	unsigned n; /* derivations in in[] */
	struct {
		const char *magic; /* PFC_SEAL_MAGIC_STORE or _BUNDLE (a static string) */
		struct pfc_kdf kdf;
		size_t pass_len;
		uint8_t pass[PFC_KS_PASS_MAX]; /* a copy: the job outlives the request frame */
	} in[PFC_KS_KDF_MAX];
	struct pfc_skey *key[PFC_KS_KDF_MAX]; /* out: key[i] derived from in[i] */
	int rc;				      /* out: 0, or the first derivation's error */
	/* set by the planner, read by the dispatcher (handlers.c) */
	bool verify;	 /* key[0] must match the store key before the handler runs */
	bool store_pass; /* in[0] is the store passphrase: success proves it right */
	uint64_t epoch;	 /* the server's key epoch the plan was made under */
	struct pfc_ks_kdf_confirm confirm;
};

/* A zeroed job in sodium_malloc memory; NULL if out of memory. */
struct pfc_ks_kdf_job *pfc_ks_kdf_job_new(void);
/* Add one derivation (the passphrase is copied).  PFC_ERR_INVAL when full or too long. */
int pfc_ks_kdf_job_add(struct pfc_ks_kdf_job *j, const char *magic, const uint8_t *pass, size_t len,
		       const struct pfc_kdf *kdf);
/* Run every derivation (the worker; also usable directly). */
void pfc_ks_kdf_job_run(struct pfc_ks_kdf_job *j);
/* Wipe and free the job and the keys still in it; NULL is a no-op. */
void pfc_ks_kdf_job_free(struct pfc_ks_kdf_job *j);

/* ---- the worker ---- */

struct pfc_ks_kdf_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thr;
	bool started, stop;
	struct pfc_ks_ring pending, done;
	unsigned outstanding; /* queued + running + done not yet reaped */
	int wake_fd;	      /* eventfd, readable when a job is done */
};

/* Start the worker (all signals blocked in it).  PFC_ERR_NOMEM / PFC_ERR_IO. */
int pfc_ks_kdf_pool_start(struct pfc_ks_kdf_pool *p);
/* Queue a job; false when PFC_KS_KDF_QUEUE jobs are outstanding. */
bool pfc_ks_kdf_submit(struct pfc_ks_kdf_pool *p, struct pfc_ks_kdf_job *j);
/* Jobs outstanding (queued, running, or done and not yet reaped). */
unsigned pfc_ks_kdf_outstanding(struct pfc_ks_kdf_pool *p);
/* One finished job, or NULL (then the eventfd is drained). */
struct pfc_ks_kdf_job *pfc_ks_kdf_reap(struct pfc_ks_kdf_pool *p);
/* Let the running derivation finish, join the worker, free every job left. */
void pfc_ks_kdf_pool_stop(struct pfc_ks_kdf_pool *p);

#endif
