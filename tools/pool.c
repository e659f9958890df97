// SPDX-License-Identifier: MIT
/* pool.c - run a function over n items on a few threads (rewrap, check, status). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "tools/cli.h"

struct pool {
	void (*fn)(void *arg, unsigned worker, size_t i);
	void *arg;
	size_t n;
	atomic_size_t next; /* the next item to hand out; every worker takes from it */
	atomic_bool *stop;
};

struct worker {
	struct pool *pl;
	unsigned id;
};

static void *worker(void *p)
{
	struct worker *w = p;
	struct pool *pl = w->pl;

	for (;;) {
		size_t i;

		if (pl->stop && atomic_load(pl->stop))
			break;
		i = atomic_fetch_add(&pl->next, 1);
		if (i >= pl->n)
			break;
		pl->fn(pl->arg, w->id, i);
	}
	return NULL;
}

int cli_pool_run(unsigned nthreads, size_t n, void (*fn)(void *arg, unsigned worker, size_t i),
		 void *arg, atomic_bool *stop)
{
	struct pool pl = {.fn = fn, .arg = arg, .n = n, .stop = stop};
	struct worker *ws;
	pthread_t *tids;
	unsigned started = 0;

	atomic_init(&pl.next, 0);
	if (nthreads < 1)
		nthreads = 1;
	tids = calloc(nthreads, sizeof(*tids));
	ws = calloc(nthreads, sizeof(*ws));
	if (!tids || !ws) {
		free(tids);
		free(ws);
		return -ENOMEM;
	}
	for (unsigned t = 0; t < nthreads; t++)
		ws[t] = (struct worker){.pl = &pl, .id = t};
	for (unsigned t = 1; t < nthreads; t++)
		if (pthread_create(&tids[t], NULL, worker, &ws[t]) == 0)
			started++;
		else
			break;
	/* The calling thread is worker 0, so the pool runs even if no thread started. */
	worker(&ws[0]);
	for (unsigned t = 1; t <= started; t++)
		pthread_join(tids[t], NULL);
	free(tids);
	free(ws);
	return 0;
}

unsigned cli_pool_workers(unsigned long threads, size_t n)
{
	if (threads > n)
		threads = n ? n : 1;
	return (unsigned)threads;
}
