// SPDX-License-Identifier: MIT
/*
 * server_kdf.c - the keystore's KDF worker, its bounded queue, and the
 * failure backoff (server_kdf.h; PROTOCOL.md section 8.1).
 *
 * The worker thread runs pfc_skey_derive() on the jobs the poll loop gives it
 * (and an EXPORT's --confirm-export command) and hands them back; it reads
 * nothing but the job.  The loop owns a job
 * before it is submitted and after it is reaped; in between only the worker
 * touches it.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/confirm.h"
#include "keystore/server_kdf.h"

/* ---- backoff ---- */

int64_t pfc_ks_backoff_delay_ms(uint32_t fails)
{
	if (fails >= PFC_KS_FAIL_CAP_MS / PFC_KS_FAIL_STEP_MS)
		return PFC_KS_FAIL_CAP_MS;
	return (int64_t)fails * PFC_KS_FAIL_STEP_MS;
}

int64_t pfc_ks_backoff_fail(struct pfc_ks_backoff *b, int64_t now_ms)
{
	int64_t until;

	if (b->fails < UINT32_MAX)
		b->fails++;
	until = now_ms + pfc_ks_backoff_delay_ms(b->fails);
	if (until > b->until_ms)
		b->until_ms = until;
	return b->until_ms;
}

void pfc_ks_backoff_ok(struct pfc_ks_backoff *b)
{
	b->fails = 0;
	b->until_ms = 0;
}

bool pfc_ks_backoff_open(const struct pfc_ks_backoff *b, int64_t now_ms)
{
	return now_ms >= b->until_ms;
}

/* ---- ring ---- */

bool pfc_ks_ring_push(struct pfc_ks_ring *r, void *p)
{
	if (r->len == PFC_KS_KDF_QUEUE)
		return false;
	r->slot[(r->head + r->len) % PFC_KS_KDF_QUEUE] = p;
	r->len++;
	return true;
}

void *pfc_ks_ring_pop(struct pfc_ks_ring *r)
{
	void *p;

	if (r->len == 0)
		return NULL;
	p = r->slot[r->head];
	r->slot[r->head] = NULL;
	r->head = (r->head + 1) % PFC_KS_KDF_QUEUE;
	r->len--;
	return p;
}

/* ---- jobs ---- */

struct pfc_ks_kdf_job *pfc_ks_kdf_job_new(void)
{
	struct pfc_ks_kdf_job *j = sodium_malloc(sizeof(*j));

	if (j)
		sodium_memzero(j, sizeof(*j));
	return j;
}

int pfc_ks_kdf_job_add(struct pfc_ks_kdf_job *j, const char *magic, const uint8_t *pass, size_t len,
		       const struct pfc_kdf *kdf)
{
	if (j->n >= PFC_KS_KDF_MAX || len > sizeof(j->in[0].pass))
		return PFC_ERR_INVAL;
	j->in[j->n].magic = magic;
	j->in[j->n].kdf = *kdf;
	j->in[j->n].pass_len = len;
	if (len)
		memcpy(j->in[j->n].pass, pass, len);
	j->n++;
	return 0;
}

/* Ask the --confirm-export command, if the plan says so and the proof (key[0]) is right. */
static void job_confirm(struct pfc_ks_kdf_job *j)
{
	struct pfc_ks_kdf_confirm *cf = &j->confirm;
	struct pfc_ks_ask ask = {.text = cf->text, .key = cf->key, .pid = cf->pid};

	if (!cf->cmd)
		return;
	cf->rc = PFC_ERR_DENIED; /* unless the command allows it */
	if (j->rc == 0 && j->n > 0 && j->key[0] &&
	    sodium_memcmp(j->key[0]->check, cf->check, sizeof(cf->check)) == 0)
		cf->rc = pfc_ks_confirm(cf->cmd, &ask, PFC_KS_CONFIRM_TIMEOUT_MS, cf->why,
					sizeof(cf->why));
}

void pfc_ks_kdf_job_run(struct pfc_ks_kdf_job *j)
{
	j->rc = 0;
	for (unsigned i = 0; i < j->n && j->rc == 0; i++)
		j->rc = pfc_skey_derive(j->in[i].magic, j->in[i].pass, j->in[i].pass_len,
					&j->in[i].kdf, &j->key[i]);
	/* the passphrases are not needed any more */
	for (unsigned i = 0; i < j->n; i++)
		sodium_memzero(j->in[i].pass, sizeof(j->in[i].pass));
	job_confirm(j);
}

void pfc_ks_kdf_job_free(struct pfc_ks_kdf_job *j)
{
	if (!j)
		return;
	for (unsigned i = 0; i < PFC_KS_KDF_MAX; i++)
		pfc_skey_free(j->key[i]);
	sodium_free(j); /* wipes the passphrase copies */
}

/* ---- worker ---- */

static void *worker(void *arg)
{
	struct pfc_ks_kdf_pool *p = arg;
	const uint64_t one = 1;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct pfc_ks_kdf_job *j;

		while (!p->stop && p->pending.len == 0)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		j = pfc_ks_ring_pop(&p->pending);
		pthread_mutex_unlock(&p->mu);
		pfc_ks_kdf_job_run(j);
		pthread_mutex_lock(&p->mu);
		/* cannot fail: outstanding <= PFC_KS_KDF_QUEUE counts this job */
		(void)pfc_ks_ring_push(&p->done, j);
		while (write(p->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int pfc_ks_kdf_pool_start(struct pfc_ks_kdf_pool *p)
{
	sigset_t all, old;
	int rc;

	memset(p, 0, sizeof(*p));
	p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->wake_fd < 0)
		return PFC_ERR_IO;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	/* signals (SIGTERM, SIGINT) are for the loop's ppoll, never for the worker */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&p->thr, NULL, worker, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		close(p->wake_fd);
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		return PFC_ERR_NOMEM;
	}
	p->started = true;
	return 0;
}

bool pfc_ks_kdf_submit(struct pfc_ks_kdf_pool *p, struct pfc_ks_kdf_job *j)
{
	bool ok = false;

	pthread_mutex_lock(&p->mu);
	if (p->outstanding < PFC_KS_KDF_QUEUE && pfc_ks_ring_push(&p->pending, j)) {
		p->outstanding++;
		pthread_cond_signal(&p->cv);
		ok = true;
	}
	pthread_mutex_unlock(&p->mu);
	return ok;
}

unsigned pfc_ks_kdf_outstanding(struct pfc_ks_kdf_pool *p)
{
	unsigned n;

	pthread_mutex_lock(&p->mu);
	n = p->outstanding;
	pthread_mutex_unlock(&p->mu);
	return n;
}

struct pfc_ks_kdf_job *pfc_ks_kdf_reap(struct pfc_ks_kdf_pool *p)
{
	struct pfc_ks_kdf_job *j;
	uint64_t v;

	pthread_mutex_lock(&p->mu);
	j = pfc_ks_ring_pop(&p->done);
	if (j)
		p->outstanding--;
	else /* drained: reset the eventfd (the worker writes it under the lock) */
		while (read(p->wake_fd, &v, sizeof(v)) < 0 && errno == EINTR)
			;
	pthread_mutex_unlock(&p->mu);
	return j;
}

void pfc_ks_kdf_pool_stop(struct pfc_ks_kdf_pool *p)
{
	struct pfc_ks_kdf_job *j;

	if (!p->started)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thr, NULL);
	while ((j = pfc_ks_ring_pop(&p->pending)))
		pfc_ks_kdf_job_free(j);
	while ((j = pfc_ks_ring_pop(&p->done)))
		pfc_ks_kdf_job_free(j);
	close(p->wake_fd);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	p->started = false;
	p->outstanding = 0;
}
