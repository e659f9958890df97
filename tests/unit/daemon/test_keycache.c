/* SPDX-License-Identifier: MIT */
/* test_keycache.c - fs/daemon/keycache.c: lookup, count and age bounds, holds, wiping. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#include "fs/daemon/keycache.h"

/* Values are 32-byte sodium_malloc'd "keys" whose first byte is their number. */
static int destroyed[64];
static unsigned destroy_calls;
static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static void destroy_key(void *v)
{
	uint8_t *k = v;

	destroyed[k[0]]++;
	destroy_calls++;
	sodium_memzero(k, 32);
	sodium_free(k);
}

static void *mkkey(uint8_t n)
{
	uint8_t *k = sodium_malloc(32);

	cr_assert_not_null(k);
	memset(k, 0xA5, 32);
	k[0] = n;
	return k;
}

static void mkid(uint8_t id[16], uint8_t n)
{
	memset(id, 0, 16);
	id[0] = n;
	id[15] = (uint8_t)(n * 7);
}

static struct pfc_kcache *kc;

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	memset(destroyed, 0, sizeof(destroyed));
	destroy_calls = 0;
	fake_now = 1000;
}

static void teardown(void)
{
	pfc_kcache_free(kc);
	kc = NULL;
}

TestSuite(keycache, .init = setup, .fini = teardown);

Test(keycache, insert_then_get_returns_the_same_value)
{
	uint8_t id[16], other[16];
	struct pfc_kentry *e, *g;

	cr_assert_eq(pfc_kcache_new(4, 600, destroy_key, &kc), 0);
	pfc_kcache_set_clock(kc, fake_clock);
	mkid(id, 1);
	mkid(other, 2);
	e = pfc_kcache_insert(kc, id, mkkey(1));
	cr_assert_not_null(e);
	pfc_kcache_release(kc, e);
	g = pfc_kcache_get(kc, id);
	cr_assert_not_null(g);
	cr_assert_eq(((uint8_t *)pfc_kentry_value(g))[0], 1);
	pfc_kcache_release(kc, g);
	cr_assert_null(pfc_kcache_get(kc, other));
	cr_assert_eq(destroy_calls, 0);
}

Test(keycache, duplicate_insert_keeps_first_and_destroys_second)
{
	uint8_t id[16];
	struct pfc_kentry *a, *b;

	cr_assert_eq(pfc_kcache_new(4, 600, destroy_key, &kc), 0);
	mkid(id, 3);
	a = pfc_kcache_insert(kc, id, mkkey(3));
	b = pfc_kcache_insert(kc, id, mkkey(4));
	cr_assert_eq(a, b);
	cr_assert_eq(((uint8_t *)pfc_kentry_value(b))[0], 3);
	cr_assert_eq(destroyed[4], 1);
	cr_assert_eq(pfc_kcache_count(kc), 1);
	pfc_kcache_release(kc, a);
	pfc_kcache_release(kc, b);
}

Test(keycache, count_bound_evicts_least_recently_used)
{
	uint8_t id[16];

	cr_assert_eq(pfc_kcache_new(3, 600, destroy_key, &kc), 0);
	pfc_kcache_set_clock(kc, fake_clock);
	for (uint8_t i = 1; i <= 3; i++) {
		mkid(id, i);
		pfc_kcache_release(kc, pfc_kcache_insert(kc, id, mkkey(i)));
		fake_now++;
	}
	/* touch 1 so that 2 is the least recently used */
	mkid(id, 1);
	pfc_kcache_release(kc, pfc_kcache_get(kc, id));
	mkid(id, 4);
	pfc_kcache_release(kc, pfc_kcache_insert(kc, id, mkkey(4)));
	cr_assert_eq(pfc_kcache_count(kc), 3);
	cr_assert_eq(destroyed[2], 1, "the LRU entry was evicted and destroyed (wiped)");
	cr_assert_eq(destroy_calls, 1);
	mkid(id, 2);
	cr_assert_null(pfc_kcache_get(kc, id));
	mkid(id, 1);
	struct pfc_kentry *e = pfc_kcache_get(kc, id);
	cr_assert_not_null(e);
	pfc_kcache_release(kc, e);
}

Test(keycache, held_entries_are_never_destroyed_by_eviction)
{
	uint8_t id[16];
	struct pfc_kentry *held;

	cr_assert_eq(pfc_kcache_new(1, 600, destroy_key, &kc), 0);
	pfc_kcache_set_clock(kc, fake_clock);
	mkid(id, 1);
	held = pfc_kcache_insert(kc, id, mkkey(1));
	mkid(id, 2);
	pfc_kcache_release(kc, pfc_kcache_insert(kc, id, mkkey(2)));
	/* bound is 1: entry 2 (unheld) goes, held entry 1 stays usable */
	cr_assert_eq(destroyed[1], 0);
	cr_assert_eq(((uint8_t *)pfc_kentry_value(held))[0], 1);
	fake_now += 10000;
	pfc_kcache_expire(kc);
	cr_assert_eq(destroyed[1], 0, "an old but held key is kept");
	pfc_kcache_release(kc, held);
	pfc_kcache_expire(kc);
	cr_assert_eq(destroyed[1], 0, "release refreshed its age");
	fake_now += 601;
	cr_assert_eq(pfc_kcache_expire(kc), 1);
	cr_assert_eq(destroyed[1], 1);
}

Test(keycache, idle_entries_expire_and_used_ones_stay)
{
	uint8_t id[16];

	cr_assert_eq(pfc_kcache_new(16, 600, destroy_key, &kc), 0);
	pfc_kcache_set_clock(kc, fake_clock);
	for (uint8_t i = 1; i <= 4; i++) {
		mkid(id, i);
		pfc_kcache_release(kc, pfc_kcache_insert(kc, id, mkkey(i)));
	}
	fake_now += 599;
	mkid(id, 3);
	pfc_kcache_release(kc, pfc_kcache_get(kc, id));
	cr_assert_eq(pfc_kcache_expire(kc), 0, "nothing is 600 s idle yet");
	fake_now += 1;
	cr_assert_eq(pfc_kcache_expire(kc), 3);
	cr_assert_eq(destroyed[1] + destroyed[2] + destroyed[4], 3);
	cr_assert_eq(destroyed[3], 0);
	cr_assert_eq(pfc_kcache_count(kc), 1);
}

Test(keycache, flush_unlinks_held_entry_and_release_destroys_it)
{
	uint8_t id[16];
	struct pfc_kentry *held;

	cr_assert_eq(pfc_kcache_new(8, 600, destroy_key, &kc), 0);
	mkid(id, 5);
	held = pfc_kcache_insert(kc, id, mkkey(5));
	mkid(id, 6);
	pfc_kcache_release(kc, pfc_kcache_insert(kc, id, mkkey(6)));
	cr_assert_eq(pfc_kcache_flush(kc), 2);
	cr_assert_eq(pfc_kcache_count(kc), 0);
	cr_assert_eq(destroyed[6], 1);
	cr_assert_eq(destroyed[5], 0, "still held");
	mkid(id, 5);
	cr_assert_null(pfc_kcache_get(kc, id));
	pfc_kcache_release(kc, held);
	cr_assert_eq(destroyed[5], 1);
}

Test(keycache, free_destroys_everything)
{
	uint8_t id[16];

	cr_assert_eq(pfc_kcache_new(64, 600, destroy_key, &kc), 0);
	for (uint8_t i = 0; i < 40; i++) {
		mkid(id, i);
		pfc_kcache_release(kc, pfc_kcache_insert(kc, id, mkkey(i)));
	}
	pfc_kcache_free(kc);
	kc = NULL;
	cr_assert_eq(destroy_calls, 40);
}

Test(keycache, many_ids_with_colliding_buckets_stay_distinct)
{
	uint8_t id[16];

	cr_assert_eq(pfc_kcache_new(64, 600, destroy_key, &kc), 0);
	for (uint8_t i = 0; i < 60; i++) {
		mkid(id, i);
		pfc_kcache_release(kc, pfc_kcache_insert(kc, id, mkkey(i)));
	}
	for (uint8_t i = 0; i < 60; i++) {
		mkid(id, i);
		struct pfc_kentry *e = pfc_kcache_get(kc, id);

		cr_assert_not_null(e);
		cr_assert_eq(((uint8_t *)pfc_kentry_value(e))[0], i);
		pfc_kcache_release(kc, e);
	}
}

/* ------------------------------------------------------------ compact tier */
/* The compact form of a test key is its 32 bytes; shrink records where it
 * wrote them, so that the tests can see the bytes wiped when they leave. */
static unsigned shrink_calls, expand_calls;
static bool expand_fails;
static uint8_t *compact_at[64];

static int shrink_key(const void *value, uint8_t *out)
{
	const uint8_t *k = value;

	memcpy(out, k, 32);
	compact_at[k[0]] = out;
	shrink_calls++;
	return 0;
}

static int expand_key(const uint8_t id[16], const uint8_t *in, void **value)
{
	uint8_t *k;

	expand_calls++;
	if (expand_fails)
		return -ENOMEM;
	cr_assert_eq(id[0], in[0], "expanded under its own id");
	k = sodium_malloc(32);
	cr_assert_not_null(k);
	memcpy(k, in, 32);
	*value = k;
	return 0;
}

static void compact_cache(size_t full, size_t compact)
{
	const struct pfc_kcache_compact c = {
	    .max_entries = compact, .size = 32, .shrink = shrink_key, .expand = expand_key};

	shrink_calls = expand_calls = 0;
	expand_fails = false;
	memset(compact_at, 0, sizeof(compact_at));
	cr_assert_eq(pfc_kcache_new(full, 600, destroy_key, &kc), 0);
	pfc_kcache_set_clock(kc, fake_clock);
	cr_assert_eq(pfc_kcache_set_compact(kc, &c), 0);
}

static void put(uint8_t n)
{
	uint8_t id[16];

	mkid(id, n);
	pfc_kcache_release(kc, pfc_kcache_insert(kc, id, mkkey(n)));
	fake_now++;
}

/* A wiped compact form: zero but for the free list's link in its first bytes. */
static bool wiped(const uint8_t *c)
{
	for (size_t i = sizeof(void *); i < 32; i++)
		if (c[i])
			return false;
	return true;
}

Test(keycache, count_bound_moves_lru_entries_to_the_compact_tier)
{
	uint8_t id[16];
	struct pfc_kentry *e;
	const uint8_t *v;

	compact_cache(2, 8);
	put(1);
	put(2);
	put(3);
	cr_assert_eq(pfc_kcache_count(kc), 2);
	cr_assert_eq(pfc_kcache_compact_count(kc), 1);
	cr_assert_eq(shrink_calls, 1);
	cr_assert_eq(destroyed[1], 1, "the full value of a demoted entry is destroyed (wiped)");
	cr_assert_eq(compact_at[1][0], 1);

	mkid(id, 1);
	e = pfc_kcache_get(kc, id);
	cr_assert_not_null(e, "a compact entry is a hit");
	cr_assert_eq(expand_calls, 1);
	v = pfc_kentry_value(e);
	cr_assert_eq(v[0], 1);
	for (size_t i = 1; i < 32; i++)
		cr_assert_eq(v[i], 0xA5, "the value is rebuilt byte for byte");
	/* 1 is back in the full tier; 2, now the LRU full entry, went compact */
	cr_assert_eq(pfc_kcache_count(kc), 2);
	cr_assert_eq(pfc_kcache_compact_count(kc), 1);
	cr_assert_eq(destroyed[2], 1);
	pfc_kcache_release(kc, e);

	e = pfc_kcache_get(kc, id);
	cr_assert_eq(expand_calls, 1, "a full entry is not expanded again");
	pfc_kcache_release(kc, e);
}

Test(keycache, compact_bound_evicts_least_recently_used_and_wipes)
{
	uint8_t id[16];

	compact_cache(1, 2);
	for (uint8_t i = 1; i <= 4; i++)
		put(i); /* 1, 2, 3 demoted in turn; 4 full */
	cr_assert_eq(pfc_kcache_compact_count(kc), 2);
	cr_assert(wiped(compact_at[1]), "the evicted compact form is wiped");
	cr_assert_eq(compact_at[2][0], 2);
	mkid(id, 1);
	cr_assert_null(pfc_kcache_get(kc, id));
	cr_assert_eq(expand_calls, 0);
	mkid(id, 2);
	struct pfc_kentry *e = pfc_kcache_get(kc, id);
	cr_assert_not_null(e);
	cr_assert_eq(((uint8_t *)pfc_kentry_value(e))[0], 2);
	pfc_kcache_release(kc, e);
}

Test(keycache, held_entries_stay_full_past_the_bound)
{
	uint8_t id[16];
	struct pfc_kentry *e;

	compact_cache(1, 8);
	mkid(id, 1);
	e = pfc_kcache_insert(kc, id, mkkey(1));
	put(2);
	put(3);
	cr_assert_eq(shrink_calls, 1, "only 2 was demoted: 1 is held, 3 held by its insert");
	cr_assert_eq(destroyed[1], 0);
	cr_assert_eq(((uint8_t *)pfc_kentry_value(e))[0], 1);
	pfc_kcache_release(kc, e);
}

Test(keycache, compact_entries_expire_with_the_idle_age)
{
	uint8_t id[16];

	compact_cache(1, 8);
	put(1);
	put(2);
	cr_assert_eq(pfc_kcache_compact_count(kc), 1);
	fake_now += 600;
	cr_assert_eq(pfc_kcache_expire(kc), 2);
	cr_assert_eq(pfc_kcache_count(kc), 0);
	cr_assert_eq(pfc_kcache_compact_count(kc), 0);
	cr_assert(wiped(compact_at[1]));
	mkid(id, 1);
	cr_assert_null(pfc_kcache_get(kc, id));
}

Test(keycache, flush_empties_the_compact_tier)
{
	uint8_t id[16];

	compact_cache(1, 8);
	put(1);
	put(2);
	put(3);
	cr_assert_eq(pfc_kcache_flush(kc), 3);
	cr_assert_eq(pfc_kcache_compact_count(kc), 0);
	cr_assert(wiped(compact_at[1]));
	cr_assert(wiped(compact_at[2]));
	mkid(id, 1);
	cr_assert_null(pfc_kcache_get(kc, id));
	cr_assert_eq(destroy_calls, 3);
}

Test(keycache, insert_over_a_compact_entry_takes_the_new_value)
{
	uint8_t id[16];
	struct pfc_kentry *e;

	compact_cache(1, 8);
	put(1);
	put(2);
	mkid(id, 1);
	e = pfc_kcache_insert(kc, id, mkkey(1));
	cr_assert_not_null(e);
	cr_assert_eq(expand_calls, 0);
	cr_assert_eq(pfc_kcache_compact_count(kc), 1, "1 promoted, 2 demoted");
	cr_assert_eq(((uint8_t *)pfc_kentry_value(e))[0], 1);
	pfc_kcache_release(kc, e);
}

Test(keycache, failed_expand_is_a_miss_and_keeps_the_entry)
{
	uint8_t id[16];
	struct pfc_kentry *e;

	compact_cache(1, 8);
	put(1);
	put(2);
	mkid(id, 1);
	expand_fails = true;
	cr_assert_null(pfc_kcache_get(kc, id));
	cr_assert_eq(pfc_kcache_compact_count(kc), 1);
	expand_fails = false;
	e = pfc_kcache_get(kc, id);
	cr_assert_not_null(e);
	pfc_kcache_release(kc, e);
}

Test(keycache, compact_tier_only_on_an_empty_cache)
{
	const struct pfc_kcache_compact c = {
	    .max_entries = 8, .size = 32, .shrink = shrink_key, .expand = expand_key};
	const struct pfc_kcache_compact bad = {.max_entries = 8,
					       .size = PFC_KCACHE_COMPACT_MAX + 1,
					       .shrink = shrink_key,
					       .expand = expand_key};

	cr_assert_eq(pfc_kcache_new(2, 600, destroy_key, &kc), 0);
	cr_assert_eq(pfc_kcache_set_compact(kc, &bad), -EINVAL);
	put(1);
	cr_assert_eq(pfc_kcache_set_compact(kc, &c), -EBUSY);
}

Test(keycache, free_destroys_full_and_wipes_compact)
{
	compact_cache(2, 8);
	for (uint8_t i = 1; i <= 5; i++)
		put(i);
	pfc_kcache_free(kc);
	kc = NULL;
	cr_assert_eq(destroy_calls, 5, "3 demoted values and 2 full ones");
}
