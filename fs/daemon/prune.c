/* SPDX-License-Identifier: MIT */
/*
 * prune.c - keep the inode table (one O_PATH descriptor per inode the kernel
 * knows) under the process's descriptor limit.
 *
 * The kernel keeps every inode it has looked up until memory pressure makes
 * it forget them, so an untar of a large tree would otherwise end in EMFILE
 * (20,000 descriptors on the reference machine; the kernel source tree of
 * the benchmark alone has 21,000 entries).  When the table grows past
 * PRUNE_HIGH_PCT of the limit, this thread asks the kernel to drop entries
 * it still caches (fuse_lowlevel_notify_inval_entry) until the table is back
 * to PRUNE_LOW_PCT; the kernel then sends FORGET and the descriptors close.
 * Entries of open files are skipped; a dropped entry is only looked up again
 * on its next use, so nothing but a little latency is lost.
 *
 * State: prune_lock protects prune_stop; the session pointer is set before
 * the thread starts and read-only afterwards.
 */
#include "fs/daemon/daemon.h"

#include "fs/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define PRUNE_PERIOD_MS 200 /* how often the table size is looked at */
#define PRUNE_HIGH_PCT	60  /* start pruning above this share of the fd limit */
#define PRUNE_LOW_PCT	40  /* prune down to this share */
#define PRUNE_BATCH	256 /* entries handed to the kernel per table walk */

static size_t limit_fds(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 1 << 20;
	return (size_t)rl.rlim_cur;
}

void pfcd_raise_fd_limit(void)
{
	struct rlimit rl;

	/* Descriptors are what bounds the number of inodes we can hold. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* One round: drop entries until the table is at the low mark. */
static void prune_round(struct pfcd *d, size_t high, size_t low, size_t *cursor)
{
	fuse_ino_t parents[PRUNE_BATCH];
	char *names[PRUNE_BATCH];
	size_t count = pfc_itable_count(&d->itable), walks = 0;

	if (count <= high)
		return;
	while (count > low && walks++ < 64) {
		size_t want = count - low < PRUNE_BATCH ? count - low : PRUNE_BATCH;
		size_t n = pfc_itable_pick(&d->itable, want, cursor, parents, names);

		for (size_t i = 0; i < n; i++) {
			/* ENOENT: the kernel had already forgotten it; nothing to do */
			fuse_lowlevel_notify_inval_entry(d->se, parents[i], names[i],
							 strlen(names[i]));
			free(names[i]);
		}
		if (n == 0)
			break;
		count = pfc_itable_count(&d->itable);
	}
}

static void *prune_main(void *arg)
{
	struct pfcd *d = arg;
	size_t lim = limit_fds(), high = lim / 100 * PRUNE_HIGH_PCT,
	       low = lim / 100 * PRUNE_LOW_PCT, cursor = 0;
	struct timespec ts;

	pthread_mutex_lock(&d->prune_lock);
	while (!d->prune_stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += PRUNE_PERIOD_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&d->prune_cond, &d->prune_lock, &ts);
		if (d->prune_stop)
			break;
		pthread_mutex_unlock(&d->prune_lock);
		prune_round(d, high, low, &cursor);
		pthread_mutex_lock(&d->prune_lock);
	}
	pthread_mutex_unlock(&d->prune_lock);
	return NULL;
}

int pfcd_prune_start(struct pfcd *d, struct fuse_session *se)
{
	int rc;

	d->se = se;
	pthread_mutex_init(&d->prune_lock, NULL);
	pthread_cond_init(&d->prune_cond, NULL);
	rc = pthread_create(&d->prune_thread, NULL, prune_main, d);
	if (rc != 0)
		return -rc;
	d->prune_started = true;
	return 0;
}

void pfcd_prune_stop(struct pfcd *d)
{
	if (!d->prune_started)
		return;
	pthread_mutex_lock(&d->prune_lock);
	d->prune_stop = true;
	pthread_cond_signal(&d->prune_cond);
	pthread_mutex_unlock(&d->prune_lock);
	pthread_join(d->prune_thread, NULL);
	d->prune_started = false;
}
