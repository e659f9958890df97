/* SPDX-License-Identifier: MIT */
/*
 * durable.c - new directory-id files made durable in batches, off the
 * mkdir path.
 *
 * A directory's id file (FORMAT.md 5.4) is what its names are encrypted
 * under: lost in a crash, every name in the directory becomes unreadable.
 * It used to be fsync'd inside MKDIR; on the benchmark's ext4 (no journal)
 * that is a data write, an inode write and a disk cache flush, 0.7 ms of the
 * 1.8 ms MKDIR took, paid 1,137 times by an untar.  Now MKDIR hands the
 * open id file here and returns; the id reaches the disk
 *  - within PFCD_DURABLE_DELAY_MS, from this module's thread, which syncs
 *    what has gathered (all writebacks started first, then one fsync each);
 *  - before any fsync(2) or fsyncdir on the mount returns (pfcd_durable_
 *    sync): a program that asks for durability of anything gets the ids
 *    of every directory made before it too, which covers the directories
 *    its file lives in;
 *  - at unmount;
 *  - at once, by the mkdir caller, when PFCD_DURABLE_MAX are waiting.
 * So a crash loses an id only within the delay after its mkdir, and only if
 * nothing was fsync'd meanwhile: the same window in which a local file
 * system may lose the directory entry itself (ext4 commits its journal every
 * 5 s), not one where fsync'd data could go.
 *
 * lock guards the list; drain_lock is held for a whole take-and-sync, so
 * that pfcd_durable_sync also waits for a batch the thread took just
 * before.  Lock order: drain_lock, then lock; neither is held with any
 * other daemon lock.
 */
#include "fs/daemon/daemon.h"

#include "fs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static pthread_mutex_t drain_lock = PTHREAD_MUTEX_INITIALIZER;
static int pending[PFCD_DURABLE_MAX]; /* open id files not yet fsync'd; lock */
static unsigned npending;	      /* lock */
static bool stop, started;	      /* lock */
static pthread_t thread;

/* Sync and close n descriptors: writeback of all first, so that the fsyncs
 * after the first find their data already on its way. */
static void sync_all(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		sync_file_range(fds[i], 0, 0, SYNC_FILE_RANGE_WRITE);
	for (unsigned i = 0; i < n; i++) {
		if (fsync(fds[i]) < 0)
			pfc_err_log("cannot sync the id file of a new directory: %s",
				    strerror(errno));
		close(fds[i]);
	}
}

void pfcd_durable_sync(void)
{
	int fds[PFCD_DURABLE_MAX];
	unsigned n;

	pthread_mutex_lock(&drain_lock);
	pthread_mutex_lock(&lock);
	n = npending;
	memcpy(fds, pending, n * sizeof(*fds));
	npending = 0;
	pthread_mutex_unlock(&lock);
	sync_all(fds, n);
	pthread_mutex_unlock(&drain_lock);
}

void pfcd_durable_add(int fd)
{
	pthread_mutex_lock(&lock);
	while (started && npending == PFCD_DURABLE_MAX) {
		pthread_mutex_unlock(&lock);
		pfcd_durable_sync();
		pthread_mutex_lock(&lock);
	}
	if (!started) {
		pthread_mutex_unlock(&lock);
		sync_all(&fd, 1);
		return;
	}
	pending[npending++] = fd;
	if (npending == 1)
		pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

static void *durable_main(void *arg)
{
	struct timespec until;

	(void)arg;
	pthread_mutex_lock(&lock);
	while (!stop) {
		if (npending == 0) {
			pthread_cond_wait(&cond, &lock);
			continue;
		}
		/* let a burst of mkdirs gather, then sync it as one batch */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += PFCD_DURABLE_DELAY_MS / 1000;
		until.tv_nsec += (long)(PFCD_DURABLE_DELAY_MS % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!stop && pthread_cond_timedwait(&cond, &lock, &until) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&lock);
		pfcd_durable_sync();
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

void pfcd_durable_start(void)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&lock);
	stop = false;
	started = pthread_create(&thread, NULL, durable_main, NULL) == 0;
	pthread_mutex_unlock(&lock);
	if (!started)
		pfc_err_log(
		    "cannot start the directory-id sync thread: new ids are synced at once");
}

void pfcd_durable_stop(void)
{
	bool was;

	pthread_mutex_lock(&lock);
	was = started;
	stop = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	if (was)
		pthread_join(thread, NULL);
	pthread_mutex_lock(&lock);
	started = false;
	pthread_mutex_unlock(&lock);
	pfcd_durable_sync(); /* what is left, from this thread */
	pthread_cond_destroy(&cond);
}
