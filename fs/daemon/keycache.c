/* SPDX-License-Identifier: MIT */
/*
 * keycache.c - bounded, aged, reference-counted cache of unwrapped file keys.
 *
 * Layout: a fixed array of hash buckets (chained) for lookup by file id and
 * one doubly linked LRU list (most recently used at the head) for eviction.
 * Both are protected by kc->lock, as are every entry's refs, last_use and
 * linked fields.  An evicted entry that is still held is unlinked from both
 * and destroyed by its last pfc_kcache_release().
 */
#include "fs/daemon/keycache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

struct pfc_kentry {
	uint8_t id[PFC_KCACHE_ID_LEN];
	void *value;
	struct pfc_kentry *hnext;	  /* bucket chain; protected by kc->lock */
	struct pfc_kentry *lprev, *lnext; /* LRU list; protected by kc->lock */
	uint64_t last_use;		  /* protected by kc->lock */
	unsigned refs;			  /* holders; protected by kc->lock */
	bool linked;			  /* in the table; protected by kc->lock */
};

struct pfc_kcache {
	pthread_mutex_t lock; /* leaf lock: protects everything below */
	struct pfc_kentry **buckets;
	size_t nbuckets; /* power of two */
	struct pfc_kentry *lru_head, *lru_tail;
	size_t count;
	size_t max_entries;
	unsigned idle_sec;
	pfc_kcache_destroy_fn destroy;
	pfc_kcache_clock_fn clock;
};

static uint64_t default_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

int pfc_kcache_new(size_t max_entries, unsigned idle_sec, pfc_kcache_destroy_fn destroy,
		   struct pfc_kcache **out)
{
	struct pfc_kcache *kc;
	size_t n = 16;

	if (max_entries == 0 || !destroy)
		return -EINVAL;
	while (n < max_entries * 2)
		n <<= 1;
	kc = calloc(1, sizeof(*kc));
	if (!kc)
		return -ENOMEM;
	kc->buckets = calloc(n, sizeof(*kc->buckets));
	if (!kc->buckets) {
		free(kc);
		return -ENOMEM;
	}
	pthread_mutex_init(&kc->lock, NULL);
	kc->nbuckets = n;
	kc->max_entries = max_entries;
	kc->idle_sec = idle_sec;
	kc->destroy = destroy;
	kc->clock = default_clock;
	*out = kc;
	return 0;
}

void pfc_kcache_set_clock(struct pfc_kcache *kc, pfc_kcache_clock_fn clock)
{
	pthread_mutex_lock(&kc->lock);
	kc->clock = clock ? clock : default_clock;
	pthread_mutex_unlock(&kc->lock);
}

static size_t bucket_of(const struct pfc_kcache *kc, const uint8_t *id)
{
	return (size_t)XXH3_64bits(id, PFC_KCACHE_ID_LEN) & (kc->nbuckets - 1);
}

static void lru_unlink(struct pfc_kcache *kc, struct pfc_kentry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		kc->lru_head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		kc->lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void lru_push_head(struct pfc_kcache *kc, struct pfc_kentry *e)
{
	e->lprev = NULL;
	e->lnext = kc->lru_head;
	if (kc->lru_head)
		kc->lru_head->lprev = e;
	kc->lru_head = e;
	if (!kc->lru_tail)
		kc->lru_tail = e;
}

/* Unlink e from table and LRU; caller holds kc->lock. */
static void unlink_entry(struct pfc_kcache *kc, struct pfc_kentry *e)
{
	struct pfc_kentry **pp = &kc->buckets[bucket_of(kc, e->id)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	e->hnext = NULL;
	lru_unlink(kc, e);
	e->linked = false;
	kc->count--;
}

static void destroy_entry(struct pfc_kcache *kc, struct pfc_kentry *e)
{
	kc->destroy(e->value);
	memset(e, 0, sizeof(*e));
	free(e);
}

/*
 * Move evictable entries to *dead (a list through hnext), destroyed by the
 * caller after dropping the lock.  all: every unheld entry; otherwise the
 * idle ones and, from the LRU tail, enough to get back under the bound.
 */
static size_t collect_victims(struct pfc_kcache *kc, bool all, struct pfc_kentry **dead)
{
	uint64_t now = kc->clock();
	struct pfc_kentry *e = kc->lru_tail, *prev;
	size_t n = 0;

	for (; e; e = prev) {
		prev = e->lprev;
		bool idle = now >= e->last_use && now - e->last_use >= kc->idle_sec;
		bool over = kc->count > kc->max_entries;

		if (!all && !idle && !over)
			break; /* LRU order: everything before e is younger */
		if (e->refs && !all)
			continue; /* in use: stays until released */
		unlink_entry(kc, e);
		n++;
		if (e->refs)
			continue; /* flush: destroyed by its last release */
		e->hnext = *dead;
		*dead = e;
	}
	return n;
}

static void destroy_list(struct pfc_kcache *kc, struct pfc_kentry *dead)
{
	while (dead) {
		struct pfc_kentry *next = dead->hnext;

		destroy_entry(kc, dead);
		dead = next;
	}
}

struct pfc_kentry *pfc_kcache_get(struct pfc_kcache *kc, const uint8_t id[PFC_KCACHE_ID_LEN])
{
	struct pfc_kentry *e;

	pthread_mutex_lock(&kc->lock);
	for (e = kc->buckets[bucket_of(kc, id)]; e; e = e->hnext)
		if (memcmp(e->id, id, PFC_KCACHE_ID_LEN) == 0)
			break;
	if (e) {
		e->refs++;
		e->last_use = kc->clock();
		lru_unlink(kc, e);
		lru_push_head(kc, e);
	}
	pthread_mutex_unlock(&kc->lock);
	return e;
}

struct pfc_kentry *pfc_kcache_insert(struct pfc_kcache *kc, const uint8_t id[PFC_KCACHE_ID_LEN],
				     void *value)
{
	struct pfc_kentry *e, *dead = NULL;
	size_t b;

	e = calloc(1, sizeof(*e));
	if (!e) {
		kc->destroy(value);
		return NULL;
	}
	memcpy(e->id, id, PFC_KCACHE_ID_LEN);
	e->value = value;
	e->refs = 1;

	pthread_mutex_lock(&kc->lock);
	b = bucket_of(kc, id);
	for (struct pfc_kentry *o = kc->buckets[b]; o; o = o->hnext) {
		if (memcmp(o->id, id, PFC_KCACHE_ID_LEN) == 0) {
			/* Lost a race with another opener: keep the cached one. */
			o->refs++;
			o->last_use = kc->clock();
			pthread_mutex_unlock(&kc->lock);
			destroy_entry(kc, e);
			return o;
		}
	}
	e->last_use = kc->clock();
	e->hnext = kc->buckets[b];
	kc->buckets[b] = e;
	lru_push_head(kc, e);
	e->linked = true;
	kc->count++;
	collect_victims(kc, false, &dead);
	pthread_mutex_unlock(&kc->lock);
	destroy_list(kc, dead);
	return e;
}

void *pfc_kentry_value(const struct pfc_kentry *e)
{
	return e->value;
}

void pfc_kcache_release(struct pfc_kcache *kc, struct pfc_kentry *e)
{
	bool gone;

	if (!e)
		return;
	pthread_mutex_lock(&kc->lock);
	e->refs--;
	gone = e->refs == 0 && !e->linked;
	if (e->linked)
		e->last_use = kc->clock();
	pthread_mutex_unlock(&kc->lock);
	if (gone)
		destroy_entry(kc, e);
}

/*
 * Expiry and the count bound leave held entries in place (an open file keeps
 * its key cached); only flush() unlinks held entries, which are then
 * destroyed by their last pfc_kcache_release().
 */
size_t pfc_kcache_expire(struct pfc_kcache *kc)
{
	struct pfc_kentry *dead = NULL;
	size_t n;

	pthread_mutex_lock(&kc->lock);
	n = collect_victims(kc, false, &dead);
	pthread_mutex_unlock(&kc->lock);
	destroy_list(kc, dead);
	return n;
}

size_t pfc_kcache_flush(struct pfc_kcache *kc)
{
	struct pfc_kentry *dead = NULL;
	size_t n;

	pthread_mutex_lock(&kc->lock);
	n = collect_victims(kc, true, &dead);
	pthread_mutex_unlock(&kc->lock);
	destroy_list(kc, dead);
	return n;
}

size_t pfc_kcache_count(struct pfc_kcache *kc)
{
	size_t n;

	pthread_mutex_lock(&kc->lock);
	n = kc->count;
	pthread_mutex_unlock(&kc->lock);
	return n;
}

void pfc_kcache_free(struct pfc_kcache *kc)
{
	if (!kc)
		return;
	for (size_t b = 0; b < kc->nbuckets; b++) {
		struct pfc_kentry *e = kc->buckets[b];

		while (e) {
			struct pfc_kentry *next = e->hnext;

			destroy_entry(kc, e);
			e = next;
		}
	}
	pthread_mutex_destroy(&kc->lock);
	free(kc->buckets);
	free(kc);
}
