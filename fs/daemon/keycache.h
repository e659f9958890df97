/* SPDX-License-Identifier: MIT */
/*
 * keycache.h - the daemon's cache of unwrapped file keys.
 *
 * Keyed by the 16-byte file id (hash: XXH3_64bits), bounded in count and in
 * idle age, so that re-opening a recently used file costs no keystore round
 * trip.  The cache is generic over its values: it stores an opaque pointer
 * and calls the destroy function given at creation when an entry leaves the
 * cache and nobody holds it any more.  The daemon stores struct pfc_filekey
 * (sodium_malloc'd; its destroy function wipes it).
 *
 * Entries are reference counted: a get or an insert returns a held entry;
 * pfc_kcache_release() drops the hold.  Eviction (count bound, idle age,
 * pfc_kcache_flush) only unlinks an entry; the value is destroyed when the
 * last holder releases it, never while someone uses it.
 *
 * Compact tier (optional, pfc_kcache_set_compact): an unheld entry pushed out
 * by the count bound is not dropped but kept in a compact form (for file
 * keys: the 32-byte key instead of a pfc_filekey with its expanded cipher
 * states, ~2.3 KiB), in locked memory, wiped when it leaves that form.  A get
 * of a compact entry rebuilds the value (no keystore round trip) and moves it
 * back to the full tier.  The compact tier has its own count bound and the
 * same idle age; flush and free wipe it too.
 *
 * Thread-safe: one mutex (a leaf lock: nothing else is taken under it; the
 * destroy function runs after it is dropped).
 */
#ifndef PFC_DAEMON_KEYCACHE_H
#define PFC_DAEMON_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#define PFC_KCACHE_ID_LEN      16
#define PFC_KCACHE_COMPACT_MAX 64 /* largest compact form, bytes */

struct pfc_kcache;
struct pfc_kentry;

typedef void (*pfc_kcache_destroy_fn)(void *value);
/* Seconds on a monotonic clock; replaceable so tests can move time. */
typedef uint64_t (*pfc_kcache_clock_fn)(void);

/*
 * max_entries: the count bound (>= 1); idle_sec: an entry not used for this
 * long is dropped by pfc_kcache_expire() and by inserts.  0 or -errno.
 */
int pfc_kcache_new(size_t max_entries, unsigned idle_sec, pfc_kcache_destroy_fn destroy,
		   struct pfc_kcache **out);
/* Destroy every value (held or not: call it only when nothing runs any more). */
void pfc_kcache_free(struct pfc_kcache *kc);
void pfc_kcache_set_clock(struct pfc_kcache *kc, pfc_kcache_clock_fn clock);

struct pfc_kcache_compact {
	size_t max_entries; /* compact entries kept at most (>= 1) */
	size_t size;	    /* bytes of a compact form (1..PFC_KCACHE_COMPACT_MAX) */
	/* Write value's compact form to out (locked memory); 0 or -errno.  Runs
	 * under the cache's lock: it must not block or take locks. */
	int (*shrink)(const void *value, uint8_t *out);
	/* Rebuild a value from its id and compact form; 0 or -errno.  Runs
	 * without the cache's lock. */
	int (*expand)(const uint8_t id[PFC_KCACHE_ID_LEN], const uint8_t *in, void **value);
};
/* Enable the compact tier; only while the cache is empty.  0 or -errno. */
int pfc_kcache_set_compact(struct pfc_kcache *kc, const struct pfc_kcache_compact *c);

/*
 * Held entry for id, or NULL.  Refreshes the entry's age.  A compact entry
 * is expanded first (NULL if that fails).
 */
struct pfc_kentry *pfc_kcache_get(struct pfc_kcache *kc, const uint8_t id[PFC_KCACHE_ID_LEN]);
/*
 * Insert value under id and return it held.  The cache owns value from now
 * on, whatever happens: if id is already cached (another thread won a race),
 * value is destroyed and the existing entry is returned held.  Then entries
 * past the count bound or idle age are evicted, least recently used first,
 * skipping held ones.  Returns NULL only on allocation failure (value is
 * destroyed then too).
 */
struct pfc_kentry *pfc_kcache_insert(struct pfc_kcache *kc, const uint8_t id[PFC_KCACHE_ID_LEN],
				     void *value);
void *pfc_kentry_value(const struct pfc_kentry *e);
/* Drop a hold; destroys the value if the entry was evicted meanwhile. */
void pfc_kcache_release(struct pfc_kcache *kc, struct pfc_kentry *e);
/* Evict the entries idle for too long; returns how many were evicted. */
size_t pfc_kcache_expire(struct pfc_kcache *kc);
/* Evict everything not held (e.g. when the keystore is locked). */
size_t pfc_kcache_flush(struct pfc_kcache *kc);
/* Full entries currently cached (held or not). */
size_t pfc_kcache_count(struct pfc_kcache *kc);
/* Entries currently in the compact tier. */
size_t pfc_kcache_compact_count(struct pfc_kcache *kc);

#endif
