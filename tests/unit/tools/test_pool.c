// SPDX-License-Identifier: MIT
/* test_pool.c - cli_pool_run: every item exactly once, worker ids in range, stop flag;
 * cli_pool_workers. */
#include <stdatomic.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "tools/cli.h"

struct ctx {
	atomic_int *seen;
	unsigned nthreads;
	atomic_bool bad_worker;
	atomic_size_t calls;
	atomic_bool *stop;
	size_t stop_after;
};

static void fn(void *arg, unsigned worker, size_t i)
{
	struct ctx *c = arg;

	if (worker >= c->nthreads)
		atomic_store(&c->bad_worker, true);
	atomic_fetch_add(&c->seen[i], 1);
	if (atomic_fetch_add(&c->calls, 1) + 1 == c->stop_after && c->stop)
		atomic_store(c->stop, true);
}

static void run(unsigned nthreads, size_t n)
{
	struct ctx c = {.nthreads = nthreads};

	c.seen = calloc(n ? n : 1, sizeof(*c.seen));
	cr_assert_not_null(c.seen);
	cr_assert_eq(cli_pool_run(nthreads, n, fn, &c, NULL), 0);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(atomic_load(&c.seen[i]), 1, "item %zu done once (threads %u)", i,
			     nthreads);
	cr_expect(!atomic_load(&c.bad_worker));
	free(c.seen);
}

Test(pool, every_item_exactly_once)
{
	run(1, 1000);
	run(4, 1000);
	run(8, 3);
	run(3, 0);
}

Test(pool, stop_flag_stops_handing_out_items)
{
	atomic_bool stop = false;
	struct ctx c = {.nthreads = 1, .stop = &stop, .stop_after = 10};

	c.seen = calloc(100, sizeof(*c.seen));
	cr_assert_eq(cli_pool_run(1, 100, fn, &c, &stop), 0);
	cr_expect_eq(atomic_load(&c.calls), 10);
	free(c.seen);
}

Test(pool, workers_never_more_than_items_and_at_least_one)
{
	cr_expect_eq(cli_pool_workers(8, 100), 8);
	cr_expect_eq(cli_pool_workers(8, 3), 3);
	cr_expect_eq(cli_pool_workers(8, 0), 1);
	cr_expect_eq(cli_pool_workers(1, 0), 1);
	cr_expect_eq(cli_pool_workers(256, 256), 256);
}
