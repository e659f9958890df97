// SPDX-License-Identifier: MIT
/* test_store.c - keystore/store.c: the store file on disk. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/err.h"
#include "keystore/store.h"

static char dir[64], path[128];
static const uint8_t PW[] = "store passphrase";

static void setup(void)
{
	struct pfc_kdf kdf;

	cr_assert_geq(sodium_init(), 0);
	strcpy(dir, "/tmp/ks-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/keystore", dir);
	cr_assert_eq(pfc_kdf_from_name("test", &kdf), 0);
	cr_assert_eq(pfc_store_create(path, PW, sizeof(PW), &kdf), 0);
}

static void teardown(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(keystore_store, .init = setup, .fini = teardown);

static size_t file_bytes(uint8_t **p)
{
	size_t n;

	cr_assert_eq(pfc_read_file(path, PFC_STORE_FILE_MAX, p, &n), 0);
	return n;
}

static void write_bytes(const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

static int count_entries(const char *d)
{
	DIR *dh = opendir(d);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(dh);
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dh);
	return n;
}

Test(keystore_store, create_load_save_round_trip)
{
	struct pfc_keyring kr, back;
	struct pfc_skey *sk = NULL, *sk2 = NULL;
	struct stat st;
	uint32_t v;

	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(pfc_store_load(path, PW, sizeof(PW), &kr, &sk), 0);
	cr_assert_eq(kr.n, 0);
	cr_assert_eq(pfc_keyring_create(&kr, "vol", 3, 7), 0);
	cr_assert_eq(pfc_keyring_rotate(&kr, "vol", 3, 8, &v), 0);
	cr_assert_eq(pfc_store_save(path, &kr, sk), 0);
	cr_assert_eq(pfc_store_load(path, PW, sizeof(PW), &back, &sk2), 0);
	cr_assert_eq(back.n, 2);
	cr_assert_arr_eq(back.e[1].key, kr.e[1].key, 32);
	cr_assert_eq(count_entries(strcat(strcpy((char[160]){0}, dir), "/sub")), 1,
		     "temp files left behind");
	pfc_keyring_free(&kr);
	pfc_keyring_free(&back);
	pfc_skey_free(sk);
	pfc_skey_free(sk2);
}

Test(keystore_store, wrong_passphrase)
{
	struct pfc_keyring kr;
	struct pfc_skey *sk = NULL;

	cr_assert_eq(pfc_store_load(path, (const uint8_t *)"nope", 4, &kr, &sk),
		     PFC_ERR_BAD_PASSPHRASE);
	cr_assert_null(sk);
}

Test(keystore_store, corrupt_file_is_reported_and_left_alone)
{
	struct pfc_keyring kr;
	struct pfc_skey *sk = NULL;
	uint8_t *p, *q;
	size_t n, m;

	n = file_bytes(&p);
	p[n - 3] ^= 0x10;
	write_bytes(p, n);
	cr_assert_eq(pfc_store_load(path, PW, sizeof(PW), &kr, &sk), PFC_ERR_CORRUPT);
	write_bytes(p, 40);
	cr_assert_eq(pfc_store_load(path, PW, sizeof(PW), &kr, &sk), PFC_ERR_TRUNCATED);
	write_bytes((const uint8_t *)"not a store at all", 18);
	cr_assert_eq(pfc_store_load(path, PW, sizeof(PW), &kr, &sk), PFC_ERR_BAD_MAGIC);
	/* loading never writes */
	m = file_bytes(&q);
	cr_assert_eq(m, 18);
	cr_assert_arr_eq(q, "not a store at all", 18);
	free(p);
	free(q);
}

Test(keystore_store, create_never_overwrites)
{
	struct pfc_kdf kdf;
	uint8_t *p, *q;
	size_t n, m;

	n = file_bytes(&p);
	cr_assert_eq(pfc_kdf_from_name("test", &kdf), 0);
	cr_assert_eq(pfc_store_create(path, (const uint8_t *)"other", 5, &kdf), PFC_ERR_EXISTS);
	m = file_bytes(&q);
	cr_assert_eq(m, n);
	cr_assert_arr_eq(p, q, n);
	free(p);
	free(q);
}

Test(keystore_store, missing_file)
{
	struct pfc_keyring kr;
	struct pfc_skey *sk = NULL;
	char other[160];

	snprintf(other, sizeof(other), "%s/none", dir);
	cr_assert_eq(pfc_store_load(other, PW, sizeof(PW), &kr, &sk), PFC_ERR_NOT_FOUND);
}

Test(keystore_store, atomic_write_replaces_whole_file_or_nothing)
{
	char target[160], sub[160];
	uint8_t *p;
	size_t n;

	snprintf(target, sizeof(target), "%s/sub/x", dir);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	cr_assert_eq(pfc_atomic_write(target, (const uint8_t *)"first", 5, 0), 0);
	cr_assert_eq(pfc_atomic_write(target, (const uint8_t *)"second!", 7, 0), 0);
	cr_assert_eq(pfc_read_file(target, 100, &p, &n), 0);
	cr_assert_eq(n, 7);
	cr_assert_arr_eq(p, "second!", 7);
	free(p);
	cr_assert_eq(pfc_atomic_write(target, (const uint8_t *)"third", 5, 1), PFC_ERR_EXISTS);
	cr_assert_eq(count_entries(sub), 2, "only the store and x, no temp file");
	/* a directory that is not writable: the old file stays */
	snprintf(target, sizeof(target), "%s/missing-dir/x", dir);
	cr_assert_lt(pfc_atomic_write(target, (const uint8_t *)"x", 1, 0), 0);
}

Test(keystore_store, retired_key_bytes_are_gone_from_the_decrypted_file)
{
	struct pfc_keyring kr;
	struct pfc_skey *sk = NULL;
	struct pfc_wbuf pt;
	uint8_t old[32], *file;
	size_t n;
	uint32_t v;

	cr_assert_eq(pfc_store_load(path, PW, sizeof(PW), &kr, &sk), 0);
	cr_assert_eq(pfc_keyring_create(&kr, "vol", 3, 1), 0);
	memcpy(old, kr.e[0].key, 32);
	cr_assert_eq(pfc_keyring_rotate(&kr, "vol", 3, 2, &v), 0);
	cr_assert_eq(pfc_store_save(path, &kr, sk), 0);
	cr_assert_eq(pfc_keyring_retire(&kr, "vol", 3, 1, 3, 0), 0);
	cr_assert_eq(pfc_store_save(path, &kr, sk), 0);
	n = file_bytes(&file);
	cr_assert_eq(pfc_unseal(PFC_SEAL_MAGIC_STORE, sk, file, n, &pt), 0);
	for (size_t i = 0; i + 32 <= pt.len; i++)
		cr_assert_neq(memcmp(pt.p + i, old, 32), 0, "old key bytes at %zu", i);
	pfc_wbuf_free(&pt);
	free(file);
	pfc_keyring_free(&kr);
	pfc_skey_free(sk);
}

Test(keystore_store, killed_at_any_instant_of_a_save_leaves_old_or_new)
{
	struct pfc_keyring a, b, back;
	struct pfc_skey *sk = NULL, *sk2 = NULL;
	char sub[160];
	int leftovers = 0;

	cr_assert_eq(pfc_store_load(path, PW, sizeof(PW), &a, &sk), 0);
	cr_assert_eq(pfc_keyring_create(&a, "a", 1, 1), 0);
	cr_assert_eq(pfc_keyring_clone(&a, &b), 0);
	cr_assert_eq(pfc_keyring_create(&b, "b", 1, 1), 0);
	cr_assert_eq(pfc_store_save(path, &a, sk), 0);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	for (int round = 0; round < 30; round++) {
		pid_t pid = fork();

		cr_assert_geq(pid, 0);
		if (pid == 0) {
			for (unsigned i = 0;; i++)
				if (pfc_store_save(path, i % 2 ? &b : &a, sk) < 0)
					_exit(1);
		}
		usleep(200 + randombytes_uniform(3000)); /* somewhere inside a save */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		cr_assert_eq(pfc_store_load(path, PW, sizeof(PW), &back, &sk2), 0, "round %d",
			     round);
		cr_assert(back.n == 1 || back.n == 2);
		cr_assert_arr_eq(back.e[0].key, a.e[0].key, 32);
		if (back.n == 2)
			cr_assert_arr_eq(back.e[1].key, b.e[1].key, 32);
		pfc_keyring_free(&back);
		pfc_skey_free(sk2);
		sk2 = NULL;
		leftovers += count_entries(sub) - 1;
		pfc_store_remove_temps(path);
		cr_assert_eq(count_entries(sub), 1, "temp files not removed");
	}
	cr_log_info("temp files left by killed saves: %d in 30 rounds", leftovers);
	pfc_keyring_free(&a);
	pfc_keyring_free(&b);
	pfc_skey_free(sk);
}

Test(keystore_store, create_makes_missing_directories_0700)
{
	struct pfc_kdf kdf;
	char deep[200], d1[200];
	struct stat st;

	snprintf(deep, sizeof(deep), "%s/x/y/z/keystore", dir);
	snprintf(d1, sizeof(d1), "%s/x/y", dir);
	cr_assert_eq(pfc_kdf_from_name("test", &kdf), 0);
	cr_assert_eq(pfc_store_create(deep, PW, sizeof(PW), &kdf), 0);
	cr_assert_eq(stat(d1, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
}

Test(keystore_store, load_with_a_key_derived_elsewhere)
{
	struct pfc_keyring kr, back;
	struct pfc_skey *sk = NULL, *k = NULL, *bad = NULL;
	struct pfc_kdf kdf;

	cr_assert_eq(pfc_store_load(path, PW, sizeof(PW), &kr, &sk), 0);
	cr_assert_eq(pfc_keyring_create(&kr, "vol", 3, 7), 0);
	cr_assert_eq(pfc_store_save(path, &kr, sk), 0);
	/* the header's parameters, then the key derived from them (the KDF worker's part) */
	cr_assert_eq(pfc_store_kdf(path, &kdf), 0);
	cr_assert_arr_eq(kdf.salt, sk->kdf.salt, sizeof(kdf.salt));
	cr_assert_eq(pfc_skey_derive(PFC_SEAL_MAGIC_STORE, PW, sizeof(PW), &kdf, &k), 0);
	cr_assert_eq(pfc_store_load_key(path, k, &back), 0);
	cr_assert_eq(back.n, 1);
	cr_assert_arr_eq(back.e[0].key, kr.e[0].key, 32);
	cr_assert_eq(pfc_skey_derive(PFC_SEAL_MAGIC_STORE, (const uint8_t *)"nope", 4, &kdf, &bad),
		     0);
	cr_assert_eq(pfc_store_load_key(path, bad, &back), PFC_ERR_BAD_PASSPHRASE);
	write_bytes((const uint8_t *)"PFCKSTOR", 8); /* a truncated header */
	cr_assert_eq(pfc_store_kdf(path, &kdf), PFC_ERR_TRUNCATED);
	cr_assert_eq(pfc_store_load_key(path, k, &back), PFC_ERR_TRUNCATED);
	pfc_keyring_free(&kr);
	pfc_keyring_free(&back);
	pfc_skey_free(sk);
	pfc_skey_free(k);
	pfc_skey_free(bad);
}
