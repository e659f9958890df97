/* SPDX-License-Identifier: MIT */
/*
 * keycache.c - bounded, aged, reference-counted cache of unwrapped file keys.
 *
 * Layout: a fixed array of hash buckets (chained) for lookup by file id and
 * two doubly linked LRU lists (most recently used at the head) for eviction:
 * one for full entries (a value), one for compact entries (the value's
 * compact form in locked slab memory, see keycache.h).  All of it is
 * protected by kc->lock, as are every entry's refs, last_use, linked, value
 * and cbuf fields.  An evicted entry that is still held is unlinked and
 * destroyed by its last pfc_kcache_release().
 *
 * A compact form lives only while its entry is in the compact tier: it is
 * wiped and returned to the slab (under kc->lock) when the entry is promoted
 * back to a full one, evicted or flushed.  A thread expanding it copies it
 * out under the lock first, so freeing it never races with a reader.
 */
#include "fs/daemon/keycache.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

struct pfc_kentry {
	uint8_t id[PFC_KCACHE_ID_LEN];
	void *value;			  /* NULL while compact; protected by kc->lock */
	uint8_t *cbuf;			  /* compact form or NULL; protected by kc->lock */
	struct pfc_kentry *hnext;	  /* bucket chain; protected by kc->lock */
	struct pfc_kentry *lprev, *lnext; /* LRU list of its tier; protected by kc->lock */
	uint64_t last_use;		  /* protected by kc->lock */
	unsigned refs;			  /* holders; protected by kc->lock */
	bool linked;			  /* in the table; protected by kc->lock */
};

/* One LRU list: most recently used at the head. */
struct lru {
	struct pfc_kentry *head, *tail;
	size_t count;
};

/* Demotions done by one call are at most this many (the values are
 * destroyed after the lock is dropped, from an array on the stack). */
#define DEMOTE_MAX   16
#define CSLAB_CHUNKS 1024 /* compact forms per slab region */

struct pfc_kcache {
	pthread_mutex_t lock; /* leaf lock: protects everything below */
	struct pfc_kentry **buckets;
	size_t nbuckets; /* power of two */
	struct lru full;
	size_t max_entries;
	unsigned idle_sec;
	pfc_kcache_destroy_fn destroy;
	pfc_kcache_clock_fn clock;
	/* compact tier (cops.max_entries == 0: none) */
	struct pfc_kcache_compact cops;
	struct lru compact;
	size_t csize;  /* cops.size rounded up to 16 */
	void *cfree;   /* free compact chunks, linked through their first bytes */
	void **cslabs; /* sodium_allocarray regions of CSLAB_CHUNKS chunks */
	size_t ncslabs;
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

static void lru_unlink(struct lru *l, struct pfc_kentry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		l->head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		l->tail = e->lprev;
	e->lprev = e->lnext = NULL;
	l->count--;
}

static void lru_push_head(struct lru *l, struct pfc_kentry *e)
{
	e->lprev = NULL;
	e->lnext = l->head;
	if (l->head)
		l->head->lprev = e;
	l->head = e;
	if (!l->tail)
		l->tail = e;
	l->count++;
}

/* The tier a linked entry is in: compact while it has no value. */
static struct lru *tier_of(struct pfc_kcache *kc, const struct pfc_kentry *e)
{
	return e->value ? &kc->full : &kc->compact;
}

/* A wiped-on-free chunk of locked memory for a compact form; kc->lock held. */
static uint8_t *chunk_alloc(struct pfc_kcache *kc)
{
	uint8_t *c;

	if (!kc->cfree) {
		void **slabs = realloc(kc->cslabs, (kc->ncslabs + 1) * sizeof(*slabs));
		uint8_t *r;

		if (!slabs)
			return NULL;
		kc->cslabs = slabs;
		r = sodium_allocarray(CSLAB_CHUNKS, kc->csize);
		if (!r)
			return NULL;
		kc->cslabs[kc->ncslabs++] = r;
		for (size_t i = CSLAB_CHUNKS; i-- > 0;) {
			void *next = kc->cfree;

			memcpy(r + i * kc->csize, &next, sizeof(next));
			kc->cfree = r + i * kc->csize;
		}
	}
	c = kc->cfree;
	memcpy(&kc->cfree, c, sizeof(kc->cfree));
	memset(c, 0, sizeof(void *));
	return c;
}

/* Wipe a compact form and return its chunk; kc->lock held. */
static void chunk_free(struct pfc_kcache *kc, uint8_t *c)
{
	sodium_memzero(c, kc->csize);
	memcpy(c, &kc->cfree, sizeof(kc->cfree));
	kc->cfree = c;
}

/* Leave the compact tier's storage: wipe and free e's compact form. */
static void drop_cbuf(struct pfc_kcache *kc, struct pfc_kentry *e)
{
	if (e->cbuf) {
		chunk_free(kc, e->cbuf);
		e->cbuf = NULL;
	}
}

/* Unlink e from table and LRU, wiping its compact form; caller holds kc->lock. */
static void unlink_entry(struct pfc_kcache *kc, struct pfc_kentry *e)
{
	struct pfc_kentry **pp = &kc->buckets[bucket_of(kc, e->id)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	e->hnext = NULL;
	lru_unlink(tier_of(kc, e), e);
	drop_cbuf(kc, e);
	e->linked = false;
}

/* e is unlinked (its compact form is gone); destroys its value if any. */
static void destroy_entry(struct pfc_kcache *kc, struct pfc_kentry *e)
{
	if (e->value)
		kc->destroy(e->value);
	memset(e, 0, sizeof(*e));
	free(e);
}

/* What one call evicted or demoted, destroyed after kc->lock is dropped. */
struct reap {
	struct pfc_kentry *dead;  /* unlinked, unheld entries, through hnext */
	void *values[DEMOTE_MAX]; /* values of entries demoted to the compact tier */
	size_t nvalues;
};

/*
 * Move the full entry e (linked, unheld) to the compact tier.  1: done;
 * 0: not possible (no compact tier, no memory, shrink failed): evict it;
 * -1: this call demoted DEMOTE_MAX already: leave it for the next call.
 */
static int demote(struct pfc_kcache *kc, struct pfc_kentry *e, struct reap *r)
{
	uint8_t *c;

	if (kc->cops.max_entries == 0)
		return 0;
	if (r->nvalues == DEMOTE_MAX)
		return -1;
	c = chunk_alloc(kc);
	if (!c)
		return 0;
	if (kc->cops.shrink(e->value, c) < 0) {
		chunk_free(kc, c);
		return 0;
	}
	lru_unlink(&kc->full, e);
	r->values[r->nvalues++] = e->value;
	e->value = NULL;
	e->cbuf = c;
	lru_push_head(&kc->compact, e);
	return 1;
}

/* Unlink e and, if nobody holds it, queue it for destruction. */
static void evict(struct pfc_kcache *kc, struct pfc_kentry *e, struct reap *r)
{
	unlink_entry(kc, e);
	if (e->refs)
		return; /* flush of a held entry: destroyed by its last release */
	e->hnext = r->dead;
	r->dead = e;
}

static bool idle(const struct pfc_kcache *kc, const struct pfc_kentry *e, uint64_t now)
{
	return now >= e->last_use && now - e->last_use >= kc->idle_sec;
}

/*
 * all: evict every entry of both tiers (held ones are unlinked, destroyed
 * by their last release).  Otherwise: evict idle entries of both tiers;
 * full entries past the count bound move to the compact tier (or are
 * evicted without one), compact entries past its bound are evicted; least
 * recently used first, held entries stay.  Returns how many were evicted.
 */
static size_t collect_victims(struct pfc_kcache *kc, bool all, struct reap *r)
{
	uint64_t now = kc->clock();
	struct pfc_kentry *e, *prev;
	size_t n = 0;

	for (e = kc->full.tail; e; e = prev) {
		bool old = idle(kc, e, now);
		bool over = kc->full.count > kc->max_entries;

		prev = e->lprev;
		if (!all && !old && !over)
			break; /* LRU order: everything before e is younger */
		if (e->refs && !all)
			continue; /* in use: stays until released */
		if (!all && !old) {
			int d = demote(kc, e, r);

			if (d > 0)
				continue;
			if (d < 0)
				break;
		}
		evict(kc, e, r);
		n++;
	}
	for (e = kc->compact.tail; e; e = prev) {
		bool old = idle(kc, e, now);
		bool over = kc->compact.count > kc->cops.max_entries;

		prev = e->lprev;
		if (!all && !old && !over)
			break;
		if (e->refs && !all)
			continue; /* being expanded by a get */
		evict(kc, e, r);
		n++;
	}
	return n;
}

static void reap(struct pfc_kcache *kc, struct reap *r)
{
	while (r->dead) {
		struct pfc_kentry *next = r->dead->hnext;

		destroy_entry(kc, r->dead);
		r->dead = next;
	}
	for (size_t i = 0; i < r->nvalues; i++)
		kc->destroy(r->values[i]);
	r->nvalues = 0;
}

static struct pfc_kentry *find(struct pfc_kcache *kc, const uint8_t *id)
{
	struct pfc_kentry *e;

	for (e = kc->buckets[bucket_of(kc, id)]; e; e = e->hnext)
		if (memcmp(e->id, id, PFC_KCACHE_ID_LEN) == 0)
			break;
	return e;
}

/* Give the linked compact entry e the value v: back to the full tier. */
static void promote(struct pfc_kcache *kc, struct pfc_kentry *e, void *v, struct reap *r)
{
	lru_unlink(&kc->compact, e);
	drop_cbuf(kc, e);
	e->value = v;
	lru_push_head(&kc->full, e);
	collect_victims(kc, false, r);
}

/*
 * A compact entry found by get: held by the caller (refs counted), its
 * compact form copied under the lock into buf, a chunk of the slabs (locked
 * memory, like the form itself).  Expands it without the lock (the expand
 * function may be slow or take locks of its own), wipes and frees buf, and
 * installs the value unless another thread did first.  Returns e held, or
 * NULL.
 */
static struct pfc_kentry *expand(struct pfc_kcache *kc, struct pfc_kentry *e, uint8_t *buf)
{
	struct reap r = {0};
	void *v = NULL;
	bool gone;
	int rc;

	rc = kc->cops.expand(e->id, buf, &v); /* e->id is immutable */
	pthread_mutex_lock(&kc->lock);
	chunk_free(kc, buf); /* wipes */
	if (e->value) {
		/* another get (or an insert) installed a value meanwhile */
		pthread_mutex_unlock(&kc->lock);
		if (rc == 0)
			kc->destroy(v);
		return e;
	}
	if (rc < 0) {
		e->refs--;
		gone = e->refs == 0 && !e->linked;
		pthread_mutex_unlock(&kc->lock);
		if (gone)
			destroy_entry(kc, e);
		return NULL;
	}
	if (e->linked)
		promote(kc, e, v, &r);
	else
		e->value = v; /* flushed meanwhile: destroyed by the last release */
	pthread_mutex_unlock(&kc->lock);
	reap(kc, &r);
	return e;
}

struct pfc_kentry *pfc_kcache_get(struct pfc_kcache *kc, const uint8_t id[PFC_KCACHE_ID_LEN])
{
	struct pfc_kentry *e;
	uint8_t *buf;

	pthread_mutex_lock(&kc->lock);
	e = find(kc, id);
	if (!e) {
		pthread_mutex_unlock(&kc->lock);
		return NULL;
	}
	e->refs++;
	e->last_use = kc->clock();
	lru_unlink(tier_of(kc, e), e);
	lru_push_head(tier_of(kc, e), e);
	if (e->value) {
		pthread_mutex_unlock(&kc->lock);
		return e;
	}
	buf = chunk_alloc(kc);
	if (!buf) {
		/* no memory for the copy: a miss (the caller unwraps the key again
		 * and its insert replaces the compact form) */
		e->refs--;
		pthread_mutex_unlock(&kc->lock);
		return NULL;
	}
	memcpy(buf, e->cbuf, kc->cops.size);
	pthread_mutex_unlock(&kc->lock);
	return expand(kc, e, buf);
}

struct pfc_kentry *pfc_kcache_insert(struct pfc_kcache *kc, const uint8_t id[PFC_KCACHE_ID_LEN],
				     void *value)
{
	struct pfc_kentry *e, *o;
	struct reap r = {0};

	e = calloc(1, sizeof(*e));
	if (!e) {
		kc->destroy(value);
		return NULL;
	}
	memcpy(e->id, id, PFC_KCACHE_ID_LEN);
	e->value = value;
	e->refs = 1;

	pthread_mutex_lock(&kc->lock);
	o = find(kc, id);
	if (o) {
		o->refs++;
		o->last_use = kc->clock();
		if (!o->value) {
			/* cached in compact form: the new value replaces it */
			promote(kc, o, value, &r);
			e->value = NULL;
		}
		/* else lost a race with another opener: keep the cached one */
		pthread_mutex_unlock(&kc->lock);
		destroy_entry(kc, e);
		reap(kc, &r);
		return o;
	}
	e->last_use = kc->clock();
	e->hnext = kc->buckets[bucket_of(kc, id)];
	kc->buckets[bucket_of(kc, id)] = e;
	lru_push_head(&kc->full, e);
	e->linked = true;
	collect_victims(kc, false, &r);
	pthread_mutex_unlock(&kc->lock);
	reap(kc, &r);
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
 * Expiry and the count bounds leave held entries in place (an open file keeps
 * its key cached); only flush() unlinks held entries, which are then
 * destroyed by their last pfc_kcache_release().
 */
size_t pfc_kcache_expire(struct pfc_kcache *kc)
{
	struct reap r = {0};
	size_t n;

	pthread_mutex_lock(&kc->lock);
	n = collect_victims(kc, false, &r);
	pthread_mutex_unlock(&kc->lock);
	reap(kc, &r);
	return n;
}

size_t pfc_kcache_flush(struct pfc_kcache *kc)
{
	struct reap r = {0};
	size_t n;

	pthread_mutex_lock(&kc->lock);
	n = collect_victims(kc, true, &r);
	pthread_mutex_unlock(&kc->lock);
	reap(kc, &r);
	return n;
}

size_t pfc_kcache_count(struct pfc_kcache *kc)
{
	size_t n;

	pthread_mutex_lock(&kc->lock);
	n = kc->full.count;
	pthread_mutex_unlock(&kc->lock);
	return n;
}

size_t pfc_kcache_compact_count(struct pfc_kcache *kc)
{
	size_t n;

	pthread_mutex_lock(&kc->lock);
	n = kc->compact.count;
	pthread_mutex_unlock(&kc->lock);
	return n;
}

int pfc_kcache_set_compact(struct pfc_kcache *kc, const struct pfc_kcache_compact *c)
{
	struct pfc_kentry **b;
	size_t n = 16;
	int rc = 0;

	if (!c || c->max_entries == 0 || c->size == 0 || c->size > PFC_KCACHE_COMPACT_MAX ||
	    !c->shrink || !c->expand)
		return -EINVAL;
	while (n < kc->max_entries + c->max_entries)
		n <<= 1;
	pthread_mutex_lock(&kc->lock);
	if (kc->full.count || kc->compact.count || kc->cops.max_entries) {
		rc = -EBUSY;
		goto out;
	}
	if (n > kc->nbuckets) {
		/* every bucket is empty: a bigger table needs no rehash */
		b = calloc(n, sizeof(*b));
		if (!b) {
			rc = -ENOMEM;
			goto out;
		}
		free(kc->buckets);
		kc->buckets = b;
		kc->nbuckets = n;
	}
	kc->cops = *c;
	/* a chunk holds the free-list link while free; 16-byte multiples */
	kc->csize = (c->size < sizeof(void *) ? sizeof(void *) : c->size);
	kc->csize = (kc->csize + 15) & ~(size_t)15;
out:
	pthread_mutex_unlock(&kc->lock);
	return rc;
}

void pfc_kcache_free(struct pfc_kcache *kc)
{
	if (!kc)
		return;
	for (size_t b = 0; b < kc->nbuckets; b++) {
		struct pfc_kentry *e = kc->buckets[b];

		while (e) {
			struct pfc_kentry *next = e->hnext;

			drop_cbuf(kc, e);
			destroy_entry(kc, e);
			e = next;
		}
	}
	for (size_t i = 0; i < kc->ncslabs; i++)
		sodium_free(kc->cslabs[i]); /* wipes */
	free(kc->cslabs);
	pthread_mutex_destroy(&kc->lock);
	free(kc->buckets);
	free(kc);
}
