// SPDX-License-Identifier: MIT
/* test_keyring.c - keystore/keyring.c: key operations and the store plaintext. */
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/err.h"
#include "keystore/keyring.h"

static struct pfc_keyring kr;
static const uint8_t AD[] = "pfcrypt/v1 name-key\0volume-id-16by";
static uint8_t key[32];

static void setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	pfc_keyring_init(&kr);
	randombytes_buf(key, sizeof(key));
}

static void teardown(void)
{
	pfc_keyring_free(&kr);
}

TestSuite(keystore_keyring, .init = setup, .fini = teardown);

static size_t wrap(const char *name, uint8_t *blob)
{
	size_t len = 0;

	cr_assert_eq(pfc_keyring_wrap(&kr, name, strlen(name), AD, sizeof(AD), key, blob, &len), 0);
	return len;
}

/* true if the 32 bytes k occur anywhere in p */
static bool contains(const uint8_t *p, size_t n, const uint8_t *k)
{
	for (size_t i = 0; i + 32 <= n; i++)
		if (memcmp(p + i, k, 32) == 0)
			return true;
	return false;
}

Test(keystore_keyring, create_wrap_unwrap)
{
	uint8_t blob[PFC_WRAPPED_MAX], out[32];
	size_t len;

	cr_assert_eq(pfc_keyring_create(&kr, "vol", 3, 100), 0);
	cr_assert_eq(pfc_keyring_create(&kr, "vol", 3, 100), PFC_ERR_EXISTS);
	cr_assert_eq(pfc_keyring_create(&kr, "v/l", 3, 100), PFC_ERR_NAME_INVALID);
	len = wrap("vol", blob);
	cr_assert_eq(pfc_keyring_unwrap(&kr, blob, len, AD, sizeof(AD), out), 0);
	cr_assert_arr_eq(out, key, 32);
	cr_assert_eq(pfc_keyring_wrap(&kr, "nope", 4, AD, sizeof(AD), key, blob, &len),
		     PFC_ERR_KEY_UNKNOWN);
}

Test(keystore_keyring, unwrap_refuses_altered_blobs_and_ad)
{
	uint8_t blob[PFC_WRAPPED_MAX], out[32];
	size_t len;

	cr_assert_eq(pfc_keyring_create(&kr, "vol", 3, 1), 0);
	len = wrap("vol", blob);
	cr_assert_eq(pfc_keyring_unwrap(&kr, blob, len, AD, sizeof(AD) - 1, out), PFC_ERR_AUTH);
	blob[len - 5] ^= 1;
	cr_assert_eq(pfc_keyring_unwrap(&kr, blob, len, AD, sizeof(AD), out), PFC_ERR_AUTH);
	blob[len - 5] ^= 1;
	pfc_store_u32(blob + 5, 9); /* a version that does not exist */
	cr_assert_eq(pfc_keyring_unwrap(&kr, blob, len, AD, sizeof(AD), out), PFC_ERR_KEY_UNKNOWN);
}

Test(keystore_keyring, rotate_rewrap)
{
	uint8_t b1[PFC_WRAPPED_MAX], b2[PFC_WRAPPED_MAX], b3[PFC_WRAPPED_MAX], out[32];
	size_t l1, l2, l3;
	uint32_t v = 0;

	cr_assert_eq(pfc_keyring_create(&kr, "vol", 3, 1), 0);
	l1 = wrap("vol", b1);
	cr_assert_eq(pfc_keyring_rewrap(&kr, b1, l1, AD, sizeof(AD), b2, &l2), 1,
		     "already primary");
	cr_assert_arr_eq(b1, b2, l1);
	cr_assert_eq(pfc_keyring_rotate(&kr, "vol", 3, 2, &v), 0);
	cr_assert_eq(v, 2);
	cr_assert_eq(pfc_keyring_primary(&kr, "vol", 3)->version, 2);
	cr_assert_eq(pfc_keyring_find(&kr, "vol", 3, 1)->state, PFC_KS_ACTIVE);
	cr_assert_eq(pfc_keyring_rewrap(&kr, b1, l1, AD, sizeof(AD), b2, &l2), 0);
	cr_assert_eq(pfc_load_u32(b2 + 5), 2);
	cr_assert_eq(pfc_keyring_unwrap(&kr, b2, l2, AD, sizeof(AD), out), 0);
	cr_assert_arr_eq(out, key, 32);
	/* rewrap authenticates the old blob with the same ad */
	cr_assert_eq(pfc_keyring_rewrap(&kr, b1, l1, AD, 3, b3, &l3), PFC_ERR_AUTH);
	cr_assert_eq(pfc_keyring_rotate(&kr, "none", 4, 2, &v), PFC_ERR_KEY_UNKNOWN);
}

Test(keystore_keyring, retire_destroys_the_key)
{
	uint8_t blob[PFC_WRAPPED_MAX], out[32], mk1[32];
	struct pfc_wbuf pt;
	size_t len;
	uint32_t v;

	cr_assert_eq(pfc_keyring_create(&kr, "vol", 3, 1), 0);
	memcpy(mk1, pfc_keyring_find(&kr, "vol", 3, 1)->key, 32);
	len = wrap("vol", blob);
	cr_assert_eq(pfc_keyring_retire(&kr, "vol", 3, 1, 5, 0), PFC_ERR_BUSY, "primary");
	cr_assert_eq(pfc_keyring_rotate(&kr, "vol", 3, 2, &v), 0);
	cr_assert_eq(pfc_keyring_retire(&kr, "vol", 3, 1, 5, 0), 0);
	cr_assert_eq(pfc_keyring_retire(&kr, "vol", 3, 1, 5, 0), PFC_ERR_KEY_RETIRED);
	cr_assert_eq(pfc_keyring_retire(&kr, "vol", 3, 7, 5, 0), PFC_ERR_KEY_UNKNOWN);
	cr_assert_eq(pfc_keyring_unwrap(&kr, blob, len, AD, sizeof(AD), out), PFC_ERR_KEY_RETIRED);
	cr_assert_eq(pfc_keyring_rewrap(&kr, blob, len, AD, sizeof(AD), out, &len),
		     PFC_ERR_KEY_RETIRED);
	/* tombstone kept, bytes gone from memory and from the serialised store */
	const struct pfc_ks_entry *e = pfc_keyring_find(&kr, "vol", 3, 1);
	cr_assert_eq(e->state, PFC_KS_RETIRED);
	cr_assert_eq(e->retired, 5);
	cr_assert(sodium_is_zero(e->key, 32));
	cr_assert_eq(pfc_wbuf_init(&pt, 64, true), 0);
	cr_assert_eq(pfc_keyring_serialize(&kr, &pt), 0);
	cr_assert(!contains(pt.p, pt.len, mk1), "retired key bytes still serialised");
	cr_assert(contains(pt.p, pt.len, pfc_keyring_find(&kr, "vol", 3, 2)->key));
	pfc_wbuf_free(&pt);
	/* a name whose versions are retired still exists */
	cr_assert_eq(pfc_keyring_create(&kr, "vol", 3, 1), PFC_ERR_EXISTS);
}

Test(keystore_keyring, generate_file_keys)
{
	static struct pfc_ks_filekey fk[64];
	const uint8_t prefix[] = "pfcrypt/v1 file-key\0volume-id-16by";
	uint8_t ad[sizeof(prefix) + 16], out[32];

	cr_assert_eq(pfc_keyring_create(&kr, "vol", 3, 1), 0);
	cr_assert_eq(pfc_keyring_generate(&kr, "vol", 3, prefix, sizeof(prefix), 64, fk), 0);
	for (int i = 0; i < 64; i++) {
		memcpy(ad, prefix, sizeof(prefix));
		memcpy(ad + sizeof(prefix), fk[i].file_id, 16);
		cr_assert_eq(
		    pfc_keyring_unwrap(&kr, fk[i].blob, fk[i].blob_len, ad, sizeof(ad), out), 0);
		cr_assert_arr_eq(out, fk[i].key, 32);
		if (i)
			cr_assert_neq(memcmp(fk[i].file_id, fk[i - 1].file_id, 16), 0);
	}
	/* the blob is bound to its file id: another file's id fails */
	memcpy(ad + sizeof(prefix), fk[1].file_id, 16);
	cr_assert_eq(pfc_keyring_unwrap(&kr, fk[0].blob, fk[0].blob_len, ad, sizeof(ad), out),
		     PFC_ERR_AUTH);
	cr_assert_eq(pfc_keyring_generate(&kr, "vol", 3, prefix, sizeof(prefix), 0, fk),
		     PFC_ERR_INVAL);
	cr_assert_eq(pfc_keyring_generate(&kr, "vol", 3, prefix, sizeof(prefix), 257, fk),
		     PFC_ERR_INVAL);
}

Test(keystore_keyring, serialize_parse_round_trip)
{
	struct pfc_keyring back;
	struct pfc_wbuf pt;
	uint32_t v;

	cr_assert_eq(pfc_keyring_create(&kr, "b", 1, 10), 0);
	cr_assert_eq(pfc_keyring_create(&kr, "a", 1, 11), 0);
	cr_assert_eq(pfc_keyring_rotate(&kr, "b", 1, 12, &v), 0);
	cr_assert_eq(pfc_keyring_rotate(&kr, "b", 1, 13, &v), 0);
	cr_assert_eq(pfc_keyring_retire(&kr, "b", 1, 2, 14, 0), 0);
	cr_assert_eq(pfc_wbuf_init(&pt, 64, true), 0);
	cr_assert_eq(pfc_keyring_serialize(&kr, &pt), 0);
	cr_assert_eq(pfc_keyring_parse(pt.p, pt.len, &back), 0);
	cr_assert_eq(back.n, 4);
	cr_assert_str_eq(back.e[0].name, "a");
	for (size_t i = 0; i < back.n; i++) {
		cr_assert_str_eq(back.e[i].name, kr.e[i].name);
		cr_assert_eq(back.e[i].version, kr.e[i].version);
		cr_assert_eq(back.e[i].state, kr.e[i].state);
		cr_assert_eq(back.e[i].created, kr.e[i].created);
		cr_assert_eq(back.e[i].retired, kr.e[i].retired);
		cr_assert_arr_eq(back.e[i].key, kr.e[i].key, 32);
	}
	/* every truncation fails; a trailing byte fails */
	for (size_t cut = 0; cut < pt.len; cut++) {
		struct pfc_keyring t;

		cr_assert_lt(pfc_keyring_parse(pt.p, cut, &t), 0, "cut %zu", cut);
	}
	pfc_wbuf_put_u8(&pt, 0);
	cr_assert_eq(pfc_keyring_parse(pt.p, pt.len, &back), PFC_ERR_CORRUPT);
	pfc_wbuf_free(&pt);
	pfc_keyring_free(&back);
}

Test(keystore_keyring, parse_refuses_duplicates_and_two_primaries)
{
	struct pfc_keyring back;
	struct pfc_wbuf pt;
	uint32_t v;

	cr_assert_eq(pfc_keyring_create(&kr, "a", 1, 10), 0);
	cr_assert_eq(pfc_keyring_rotate(&kr, "a", 1, 10, &v), 0);
	kr.e[0].state = PFC_KS_PRIMARY; /* both v1 and v2 primary */
	cr_assert_eq(pfc_wbuf_init(&pt, 64, true), 0);
	cr_assert_eq(pfc_keyring_serialize(&kr, &pt), 0);
	cr_assert_eq(pfc_keyring_parse(pt.p, pt.len, &back), PFC_ERR_CORRUPT);
	pfc_wbuf_reset(&pt);
	kr.e[0].state = PFC_KS_ACTIVE;
	kr.e[1].version = 1; /* duplicate (a, 1) */
	cr_assert_eq(pfc_keyring_serialize(&kr, &pt), 0);
	cr_assert_eq(pfc_keyring_parse(pt.p, pt.len, &back), PFC_ERR_CORRUPT);
	pfc_wbuf_free(&pt);
}

Test(keystore_keyring, many_names_stay_sorted_and_findable)
{
	char name[16];

	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "k%d", (i * 37) % 200);
		cr_assert_eq(pfc_keyring_create(&kr, name, strlen(name), 1), 0);
	}
	cr_assert_eq(kr.n, 200);
	for (size_t i = 1; i < kr.n; i++)
		cr_assert_lt(strcmp(kr.e[i - 1].name, kr.e[i].name), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		cr_assert_not_null(pfc_keyring_primary(&kr, name, strlen(name)));
	}
}
