// SPDX-License-Identifier: MIT
/*
 * test_keystore_blob.c - keystore/blob.c against the independently generated
 * vectors in keystore_blob.txt (keystore_blob_gen.py, PyNaCl).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/err.h"
#include "keystore/blob.h"

struct vec {
	uint8_t mk[32], nonce[24], key[32], ad[PFC_KS_AD_MAX], blob[PFC_WRAPPED_MAX];
	size_t ad_len, blob_len;
	char name[64];
	uint32_t version;
};

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s) / 2;

	cr_assert(n <= max, "hex field too long");
	cr_assert(sodium_hex2bin(out, max, s, strlen(s), NULL, &n, NULL) == 0, "bad hex: %s", s);
	return n;
}

static size_t load(struct vec *v, size_t max)
{
	const char *dir = getenv("PFC_VECTOR_DIR");
	char path[4096], line[1024];
	size_t n = 0;
	int fields = 0;
	FILE *f;

	cr_assert(dir, "PFC_VECTOR_DIR not set");
	snprintf(path, sizeof(path), "%s/keystore_blob.txt", dir);
	f = fopen(path, "r");
	cr_assert(f, "cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		char *eq, *val;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#')
			continue;
		if (line[0] == '\0') {
			if (fields) {
				cr_assert_eq(fields, 7, "incomplete vector %zu", n);
				n++;
				fields = 0;
			}
			continue;
		}
		cr_assert(n < max);
		eq = strchr(line, '=');
		cr_assert(eq, "bad line %s", line);
		*eq = '\0';
		val = eq + 1;
		fields++;
		if (!strcmp(line, "master_key"))
			cr_assert_eq(unhex(val, v[n].mk, 32), 32);
		else if (!strcmp(line, "nonce"))
			cr_assert_eq(unhex(val, v[n].nonce, 24), 24);
		else if (!strcmp(line, "key"))
			cr_assert_eq(unhex(val, v[n].key, 32), 32);
		else if (!strcmp(line, "ad"))
			v[n].ad_len = unhex(val, v[n].ad, sizeof(v[n].ad));
		else if (!strcmp(line, "blob"))
			v[n].blob_len = unhex(val, v[n].blob, sizeof(v[n].blob));
		else if (!strcmp(line, "name"))
			snprintf(v[n].name, sizeof(v[n].name), "%s", val);
		else if (!strcmp(line, "version"))
			v[n].version = (uint32_t)strtoul(val, NULL, 10);
		else
			cr_assert_fail("unknown field %s", line);
	}
	fclose(f);
	if (fields)
		n++;
	return n;
}

static struct vec vecs[8];

Test(keystore_blob_vectors, seal_matches_independent_vectors)
{
	size_t n = load(vecs, 8);

	cr_assert_geq(n, 3);
	for (size_t i = 0; i < n; i++) {
		uint8_t out[PFC_WRAPPED_MAX];
		size_t len = 0;

		cr_assert_eq(pfc_blob_seal(vecs[i].mk, vecs[i].name, vecs[i].version, vecs[i].ad,
					   vecs[i].ad_len, vecs[i].key, vecs[i].nonce, out,
					   sizeof(out), &len),
			     0);
		cr_assert_eq(len, vecs[i].blob_len, "vector %zu length", i);
		cr_assert_arr_eq(out, vecs[i].blob, len, "vector %zu bytes", i);
	}
}

Test(keystore_blob_vectors, open_and_parse_vectors)
{
	size_t n = load(vecs, 8);

	for (size_t i = 0; i < n; i++) {
		uint8_t key[32];
		char name[PFC_KS_NAME_MAX + 1];
		uint32_t ver = 0;

		cr_assert_eq(pfc_blob_open(vecs[i].mk, vecs[i].blob, vecs[i].blob_len, vecs[i].ad,
					   vecs[i].ad_len, key),
			     0);
		cr_assert_arr_eq(key, vecs[i].key, 32);
		cr_assert_eq(
		    pfc_blob_parse_name_version(vecs[i].blob, vecs[i].blob_len, name, &ver), 0);
		cr_assert_str_eq(name, vecs[i].name);
		cr_assert_eq(ver, vecs[i].version);
	}
}

Test(keystore_blob_vectors, every_flipped_bit_of_a_vector_fails)
{
	size_t n = load(vecs, 8);

	for (size_t i = 0; i < n; i++) {
		for (size_t b = 0; b < vecs[i].blob_len * 8; b++) {
			uint8_t t[PFC_WRAPPED_MAX], key[32];

			memcpy(t, vecs[i].blob, vecs[i].blob_len);
			t[b / 8] ^= (uint8_t)(1u << (b % 8));
			cr_assert_lt(pfc_blob_open(vecs[i].mk, t, vecs[i].blob_len, vecs[i].ad,
						   vecs[i].ad_len, key),
				     0, "vector %zu bit %zu accepted", i, b);
		}
	}
}
