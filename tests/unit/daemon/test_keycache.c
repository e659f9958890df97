/* SPDX-License-Identifier: MIT */
/* test_keycache.c - fs/daemon/keycache.c: lookup, count and age bounds, holds, wiping. */
#include <criterion/criterion.h>
#include <sodium.h>
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
