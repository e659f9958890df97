// SPDX-License-Identifier: MIT
/*
 * ks_session.c - a small C test client: one full session through the client
 * library (keystore/client.h) against a real pfcrypt-keystore.
 *
 *   ks_session SOCKET PASSPHRASE KEYNAME
 *
 * Prints one line per step; exits 0 if every step gave the expected result,
 * 1 at the first that did not (naming it).  Used by test_keystore.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/client.h"

static int step(const char *what, int got, int want)
{
	printf("%s: %s\n", what, pfc_err_name(got));
	if (got != want) {
		fprintf(stderr, "ks_session: %s gave %s, expected %s\n", what, pfc_err_name(got),
			pfc_err_name(want));
		exit(1);
	}
	return got;
}

int main(int argc, char **argv)
{
	const uint8_t ad[] = "pfcrypt/v1 file-key\0vvvvvvvvvvvvvvvvffffffffffffffff";
	struct pfc_ks *ks = NULL;
	struct pfc_ks_filekey *fk;
	struct pfc_ks_keyinfo *list;
	uint8_t *key, *out, blob[PFC_WRAPPED_MAX], nb[PFC_WRAPPED_MAX];
	size_t bl, nl, n;
	uint32_t v;
	char name[PFC_KS_NAME_MAX + 1];

	if (argc != 4 || sodium_init() < 0)
		return 2;
	key = sodium_malloc(32);
	out = sodium_malloc(32);
	fk = sodium_malloc(sizeof(*fk) * 64);
	if (!key || !out || !fk)
		return 2;
	randombytes_buf(key, 32);
	step("connect", pfc_ks_connect(argv[1], 5000, &ks), 0);
	step("hello", pfc_ks_hello(ks, &v), 0);
	step("create", pfc_ks_create_key(ks, argv[3]), 0);
	step("wrap", pfc_ks_wrap(ks, argv[3], ad, sizeof(ad), key, blob, &bl), 0);
	step("parse blob", pfc_blob_parse_name_version(blob, bl, name, &v), 0);
	if (strcmp(name, argv[3]) != 0 || v != 1)
		return 1;
	step("unwrap", pfc_ks_unwrap(ks, blob, bl, ad, sizeof(ad), out), 0);
	if (memcmp(out, key, 32) != 0)
		return 1;
	step("unwrap with other ad", pfc_ks_unwrap(ks, blob, bl, ad, 10, out), PFC_ERR_AUTH);
	step("generate 64", pfc_ks_generate_file_keys(ks, argv[3], ad, 36, 64, fk), 0);
	step("rotate", pfc_ks_rotate(ks, argv[3], &v), 0);
	step("rewrap", pfc_ks_rewrap(ks, blob, bl, ad, sizeof(ad), nb, &nl), 0);
	step("rewrap again", pfc_ks_rewrap(ks, nb, nl, ad, sizeof(ad), nb, &nl), 1);
	step("retire v1 without proof", pfc_ks_retire(ks, argv[3], 1, 0, 0, NULL), PFC_ERR_DENIED);
	pfc_ks_set_proof(ks, argv[2], strlen(argv[2]));
	/* this process itself unwrapped under v1 and still runs */
	step("retire v1 in use", pfc_ks_retire(ks, argv[3], 1, 0, 0, NULL), PFC_ERR_BUSY);
	step("retire v1", pfc_ks_retire(ks, argv[3], 1, PFC_KS_RETIRE_FORCE, 0, NULL), 0);
	step("unwrap retired", pfc_ks_unwrap(ks, blob, bl, ad, sizeof(ad), out),
	     PFC_ERR_KEY_RETIRED);
	step("unwrap rewrapped", pfc_ks_unwrap(ks, nb, nl, ad, sizeof(ad), out), 0);
	if (memcmp(out, key, 32) != 0)
		return 1;
	step("list", pfc_ks_list(ks, &list, &n), 0);
	printf("list: %zu entries\n", n);
	pfc_ks_list_free(list);
	step("lock", pfc_ks_lock(ks), 0);
	step("unwrap locked", pfc_ks_unwrap(ks, nb, nl, ad, sizeof(ad), out), PFC_ERR_LOCKED);
	step("unlock", pfc_ks_unlock(ks, argv[2], strlen(argv[2])), 0);
	pfc_ks_close(ks);
	sodium_free(key);
	sodium_free(out);
	sodium_free(fk);
	printf("session ok\n");
	return 0;
}
