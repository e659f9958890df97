// SPDX-License-Identifier: MIT
/* progress.c - "rewrap: 1234/5000 files" on stderr, only when stderr is a terminal. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cli_progress_init(struct cli_progress *p, const char *what, size_t total)
{
	p->what = what;
	atomic_init(&p->done, 0);
	p->total = total;
	p->tty = isatty(STDERR_FILENO);
	p->last_ms = 0;
}

static void draw(struct cli_progress *p, size_t done)
{
	int width = 30, fill = p->total ? (int)(done * (size_t)width / p->total) : width;

	fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu", p->what, fill, "##############################",
		width - fill, "", done, p->total);
	fflush(stderr);
}

void cli_progress_step(struct cli_progress *p)
{
	size_t done = atomic_fetch_add(&p->done, 1) + 1;
	long long t;

	if (!p->tty)
		return;
	/*
	 * Racy by design between workers: last_ms is only a rate limiter, a
	 * lost or duplicated redraw is harmless.  Use a relaxed atomic view.
	 */
	t = now_ms();
	if (t - __atomic_load_n(&p->last_ms, __ATOMIC_RELAXED) < 100 && done != p->total)
		return;
	__atomic_store_n(&p->last_ms, t, __ATOMIC_RELAXED);
	flockfile(stderr);
	draw(p, done);
	funlockfile(stderr);
}

void cli_progress_end(struct cli_progress *p)
{
	if (!p->tty)
		return;
	draw(p, atomic_load(&p->done));
	fputc('\n', stderr);
}
