/* SPDX-License-Identifier: MIT */
/*
 * keypool.c - fresh file keys fetched from the keystore in batches
 * (generate-file-keys), so that create needs no keystore round trip per
 * file.  The pool lives in sodium_malloc memory; a taken entry is wiped from
 * the pool at once.  pool_lock (a leaf lock) protects pool and pool_avail;
 * it is held across a refill so that concurrent creates wait for one batch
 * instead of each fetching their own.
 *
 * Prefetched keys are wrapped under the master-key version that was primary
 * when the batch was made.  After `pfcrypt rotate` they must not go on being
 * handed out for long, or new files would keep landing under the old version
 * (and become unreadable once it is retired).  So a batch older than
 * PFCD_KEYPOOL_MAX_AGE seconds is wiped and refetched.  When the keystore
 * is locked, pfcd_keystore_locked() wipes the pool and the key cache.
 */
#include "fs/daemon/daemon.h"

#include "fs/err.h"
#include "fs/log.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

int pfcd_keypool_init(void)
{
	struct pfcd *d = pfcd_g;

	pthread_mutex_init(&d->pool_lock, NULL);
	d->pool = sodium_allocarray(PFCD_KEYPOOL_BATCH, sizeof(*d->pool));
	if (!d->pool)
		return PFC_ERR_NOMEM;
	d->pool_avail = 0;
	return 0;
}

void pfcd_keypool_free(void)
{
	struct pfcd *d = pfcd_g;

	if (!d->pool)
		return;
	sodium_memzero(d->pool, PFCD_KEYPOOL_BATCH * sizeof(*d->pool));
	sodium_free(d->pool);
	d->pool = NULL;
	pthread_mutex_destroy(&d->pool_lock);
}

void pfcd_keypool_wipe(void)
{
	struct pfcd *d = pfcd_g;

	if (!d->pool)
		return;
	pthread_mutex_lock(&d->pool_lock);
	sodium_memzero(d->pool, PFCD_KEYPOOL_BATCH * sizeof(*d->pool));
	d->pool_avail = 0;
	pthread_mutex_unlock(&d->pool_lock);
}

static atomic_bool locked_logged;

void pfcd_keystore_locked(void)
{
	size_t n = pfc_kcache_flush(pfcd_g->keys);

	pfcd_keypool_wipe();
	if (!atomic_exchange(&locked_logged, true))
		pfc_info("keystore locked: %zu cached file keys and the prefetched keys wiped; "
			 "files not open cannot be opened until it is unlocked",
			 n);
}

void pfcd_keystore_unlocked(void)
{
	atomic_store(&locked_logged, false);
}

/* Called with pool_lock held. */
static bool pool_stale(const struct pfcd *d)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - d->pool_filled.tv_sec >= PFCD_KEYPOOL_MAX_AGE;
}

int pfcd_keypool_take(struct pfc_ks_filekey *out)
{
	struct pfcd *d = pfcd_g;
	int rc = 0;

	pthread_mutex_lock(&d->pool_lock);
	if (d->pool_avail && pool_stale(d)) {
		sodium_memzero(d->pool, PFCD_KEYPOOL_BATCH * sizeof(*d->pool));
		d->pool_avail = 0;
	}
	if (d->pool_avail == 0) {
		rc = pfc_ks_generate_file_keys(d->ks, d->cfg.key_name, d->ad_file_prefix,
					       d->ad_file_prefix_len, PFCD_KEYPOOL_BATCH, d->pool);
		if (rc < 0)
			goto out; /* PFC_ERR_LOCKED: the caller wipes the cache */
		d->pool_avail = PFCD_KEYPOOL_BATCH;
		clock_gettime(CLOCK_MONOTONIC, &d->pool_filled);
	}
	d->pool_avail--;
	memcpy(out, &d->pool[d->pool_avail], sizeof(*out));
	sodium_memzero(&d->pool[d->pool_avail], sizeof(*out));
out:
	pthread_mutex_unlock(&d->pool_lock);
	return rc;
}

/*
 * One locked buffer per thread for a key in transit (an unwrapped file key,
 * a key taken from the pool) on its way into the key cache.  A sodium_malloc
 * per create or per unwrap cost about ten system calls (mmap, mprotect,
 * madvise, mlock, munlock, munmap) and, the daemon being multithreaded,
 * TLB-shootdown interrupts to the other cores on every munmap.  Callers wipe
 * it after each use; it is freed (and wiped) when its thread ends.
 */
static pthread_key_t keybuf_key;
static pthread_once_t keybuf_once = PTHREAD_ONCE_INIT;
static bool keybuf_ok;

static void keybuf_free(void *p)
{
	sodium_free(p);
}

static void keybuf_init(void)
{
	keybuf_ok = pthread_key_create(&keybuf_key, keybuf_free) == 0;
}

void *pfcd_keybuf(void)
{
	void *p;

	pthread_once(&keybuf_once, keybuf_init);
	if (!keybuf_ok)
		return NULL;
	p = pthread_getspecific(keybuf_key);
	if (p)
		return p;
	p = sodium_malloc(PFCD_KEYBUF_SIZE);
	if (p && pthread_setspecific(keybuf_key, p) != 0) {
		sodium_free(p);
		p = NULL;
	}
	return p;
}

void pfcd_keybuf_drop(void)
{
	void *p;

	if (!keybuf_ok)
		return;
	p = pthread_getspecific(keybuf_key);
	if (p) {
		pthread_setspecific(keybuf_key, NULL);
		sodium_free(p);
	}
}
