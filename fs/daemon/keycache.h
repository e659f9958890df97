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
 * Thread-safe: one mutex (a leaf lock: nothing else is taken under it; the
 * destroy function runs after it is dropped).
 */
#ifndef PFC_DAEMON_KEYCACHE_H
#define PFC_DAEMON_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#define PFC_KCACHE_ID_LEN 16

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

/* Held entry for id, or NULL.  Refreshes the entry's age. */
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
/* Entries currently cached (held or not). */
size_t pfc_kcache_count(struct pfc_kcache *kc);

#endif
