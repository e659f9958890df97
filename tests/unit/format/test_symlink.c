// SPDX-License-Identifier: MIT
/* test_symlink.c - symlink targets: the inline form, the companion form and its files. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

static struct pfc_volkeys *vk;

static void setup(void)
{
	fmt_init();
	vk = make_volkeys(3, 4);
}

static void teardown(void)
{
	pfc_volkeys_free(vk);
}

TestSuite(symlink, .init = setup, .fini = teardown);

Test(symlink, round_trip_at_boundaries)
{
	static char target[PFC_SYMLINK_INLINE_READ_MAX + 1];
	static char enc[PFC_SYMLINK_ENC_BUF], dec[PFC_SYMLINK_BUF];
	const size_t lens[] = {1, 15, 16, 17, 255, 3000, PFC_SYMLINK_INLINE_READ_MAX};
	size_t elen, dlen;

	for (size_t i = 0; i < sizeof(target); i++)
		target[i] = (char)(1 + i % 250);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		cr_assert_eq(pfc_symlink_encrypt(vk, target, lens[i], enc, sizeof(enc), &elen), 0);
		cr_assert_lt(elen, PATH_MAX);
		cr_assert_eq(elen, pfc_b64url_len(24 + (lens[i] + 15) / 16 * 16 + 16));
		cr_assert_eq(pfc_symlink_decrypt(vk, enc, elen, dec, sizeof(dec), &dlen), 0);
		cr_assert_eq(dlen, lens[i]);
		cr_assert_eq(memcmp(dec, target, dlen), 0);
	}
	cr_assert_eq(
	    pfc_symlink_encrypt(vk, target, PFC_SYMLINK_INLINE_READ_MAX, enc, sizeof(enc), &elen),
	    0);
	cr_assert_eq(elen, PFC_SYMLINK_ENC_MAX);
	cr_assert_eq(pfc_symlink_encrypt(vk, target, PFC_SYMLINK_INLINE_READ_MAX + 1, enc,
					 sizeof(enc), &elen),
		     PFC_ERR_NAME_TOO_LONG);
	cr_assert_eq(pfc_symlink_encrypt(vk, target, 0, enc, sizeof(enc), &elen),
		     PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_symlink_encrypt(vk, "a\0b", 3, enc, sizeof(enc), &elen),
		     PFC_ERR_NAME_INVALID);
}

Test(symlink, random_nonce_and_tamper_and_other_volume)
{
	char e1[PFC_SYMLINK_ENC_BUF], e2[PFC_SYMLINK_ENC_BUF], dec[PFC_SYMLINK_BUF];
	size_t l1, l2, dlen;
	struct pfc_volkeys *same_key_other_vol = make_volkeys(3, 5);

	cr_assert_eq(pfc_symlink_encrypt(vk, "../x/y", 6, e1, sizeof(e1), &l1), 0);
	cr_assert_eq(pfc_symlink_encrypt(vk, "../x/y", 6, e2, sizeof(e2), &l2), 0);
	cr_assert_str_neq(e1, e2);
	cr_assert_eq(pfc_symlink_decrypt(same_key_other_vol, e1, l1, dec, sizeof(dec), &dlen),
		     PFC_ERR_AUTH);
	pfc_volkeys_free(same_key_other_vol);
	for (size_t i = 0; i < l1; i++) {
		char o = e1[i];

		e1[i] = o == 'A' ? 'B' : 'A';
		int err = pfc_symlink_decrypt(vk, e1, l1, dec, sizeof(dec), &dlen);
		cr_assert(err == PFC_ERR_AUTH || err == PFC_ERR_CORRUPT, "pos %zu", i);
		e1[i] = o;
	}
	cr_assert_eq(pfc_symlink_decrypt(vk, e1, l1, dec, sizeof(dec), &dlen), 0);
	cr_assert_str_eq(dec, "../x/y");
}

Test(symlink, random_input_decrypt)
{
	char in[200], dec[PFC_SYMLINK_BUF];
	size_t dlen;

	for (int i = 0; i < 5000; i++) {
		size_t len = randombytes_uniform(sizeof(in));

		for (size_t j = 0; j < len; j++)
			in[j] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			    [randombytes_uniform(64)];
		int err = pfc_symlink_decrypt(vk, in, len, dec, sizeof(dec), &dlen);
		cr_assert(err == PFC_ERR_AUTH || err == PFC_ERR_CORRUPT, "%d", err);
	}
}

static char long_target[PFC_SYMLINK_TARGET_MAX + 2];

static void fill_target(void)
{
	for (size_t i = 0; i < sizeof(long_target); i++)
		long_target[i] = (char)(1 + i % 250);
}

Test(symlink, writer_form_inline_up_to_720_companion_above_up_to_4095)
{
	const size_t lens[] = {1, 16, 700, 720, 721, 736, 1000, 1009, 3024, 3025, 4080, 4095};
	static struct pfc_symlink_stored s;
	char hash[PFC_SYMLINK_HASH_LEN + 1], dec[PFC_SYMLINK_BUF];
	size_t dlen;

	fill_target();
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i];

		cr_assert_eq(pfc_symlink_to_backing(vk, long_target, n, &s), 0, "%zu", n);
		cr_assert_eq(strlen(s.link), s.link_len);
		cr_assert_lt(s.link_len, 1024, "%zu: stored form must fit xfs", n);
		if (n <= PFC_SYMLINK_INLINE_MAX) {
			cr_assert(!s.is_long, "%zu", n);
			cr_assert(!pfc_symlink_ref_parse(s.link, s.link_len, hash));
			cr_assert_eq(
			    pfc_symlink_decrypt(vk, s.link, s.link_len, dec, sizeof(dec), &dlen),
			    0);
		} else {
			cr_assert(s.is_long, "%zu", n);
			cr_assert_eq(s.link_len, PFC_SYMLINK_REF_LEN);
			cr_assert_eq(s.sealed_len, 40 + (n + 15) / 16 * 16);
			cr_assert(pfc_symlink_ref_parse(s.link, s.link_len, hash));
			cr_assert_str_eq(hash, s.hash);
			/* a reader from before the companion form: an error, never a target */
			cr_assert_eq(
			    pfc_symlink_decrypt(vk, s.link, s.link_len, dec, sizeof(dec), &dlen),
			    PFC_ERR_CORRUPT);
			cr_assert_eq(pfc_symlink_companion_open(vk, s.hash, s.sealed, s.sealed_len,
								dec, sizeof(dec), &dlen),
				     0);
		}
		cr_assert_eq(dlen, n);
		cr_assert_eq(memcmp(dec, long_target, n), 0);
	}
	cr_assert_eq(pfc_symlink_to_backing(vk, long_target, PFC_SYMLINK_TARGET_MAX + 1, &s),
		     PFC_ERR_NAME_TOO_LONG);
	cr_assert_eq(pfc_symlink_to_backing(vk, long_target, 0, &s), PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_symlink_to_backing(vk, "a\0b", 3, &s), PFC_ERR_NAME_INVALID);
	/* a 4095-byte target does not fit a 4095-byte caller buffer */
	cr_assert_eq(pfc_symlink_to_backing(vk, long_target, 4095, &s), 0);
	cr_assert_eq(
	    pfc_symlink_companion_open(vk, s.hash, s.sealed, s.sealed_len, dec, 4095, &dlen),
	    PFC_ERR_TOO_LARGE);
}

Test(symlink, companion_tampered_swapped_or_other_volume_fails)
{
	static struct pfc_symlink_stored a, b;
	struct pfc_volkeys *other = make_volkeys(3, 5);
	char dec[PFC_SYMLINK_BUF];
	size_t dlen;

	fill_target();
	cr_assert_eq(pfc_symlink_to_backing(vk, long_target, 1000, &a), 0);
	cr_assert_eq(pfc_symlink_to_backing(vk, long_target, 1000, &b), 0);
	cr_assert_str_neq(a.hash, b.hash, "random nonce: each symlink its own companion");
	cr_assert_eq(
	    pfc_symlink_companion_open(vk, a.hash, b.sealed, b.sealed_len, dec, sizeof(dec), &dlen),
	    PFC_ERR_AUTH);
	cr_assert_eq(pfc_symlink_companion_open(other, a.hash, a.sealed, a.sealed_len, dec,
						sizeof(dec), &dlen),
		     PFC_ERR_AUTH);
	for (size_t i = 0; i < a.sealed_len; i++) {
		a.sealed[i] ^= 0x40;
		cr_assert_eq(pfc_symlink_companion_open(vk, a.hash, a.sealed, a.sealed_len, dec,
							sizeof(dec), &dlen),
			     PFC_ERR_AUTH, "byte %zu", i);
		a.sealed[i] ^= 0x40;
	}
	cr_assert_eq(pfc_symlink_companion_open(vk, a.hash, a.sealed, a.sealed_len - 16, dec,
						sizeof(dec), &dlen),
		     PFC_ERR_AUTH);
	cr_assert_eq(pfc_symlink_companion_open(vk, a.hash, a.sealed, PFC_SYMLINK_SEALED_MAX + 1,
						dec, sizeof(dec), &dlen),
		     PFC_ERR_TOO_LARGE);
	cr_assert_eq(
	    pfc_symlink_companion_open(vk, a.hash, a.sealed, a.sealed_len, dec, sizeof(dec), &dlen),
	    0);
	pfc_volkeys_free(other);
}

Test(symlink, reference_parse_is_strict)
{
	static struct pfc_symlink_stored s;
	char hash[PFC_SYMLINK_HASH_LEN + 1], bad[PFC_SYMLINK_REF_LEN + 2];

	fill_target();
	cr_assert_eq(pfc_symlink_to_backing(vk, long_target, 2000, &s), 0);
	memcpy(bad, s.link, s.link_len + 1);
	cr_assert(!pfc_symlink_ref_parse(bad, s.link_len - 1, hash));
	bad[s.link_len] = 'A';
	cr_assert(!pfc_symlink_ref_parse(bad, s.link_len + 1, hash));
	memcpy(bad, s.link, s.link_len + 1);
	bad[0] = 'q';
	cr_assert(!pfc_symlink_ref_parse(bad, s.link_len, hash));
	memcpy(bad, s.link, s.link_len + 1);
	bad[20] = '.';
	cr_assert(!pfc_symlink_ref_parse(bad, s.link_len, hash));
	memcpy(bad, s.link, s.link_len + 1);
	/* the last character of 32 bytes in base64url carries 4 unused bits: non-canonical */
	bad[s.link_len - 1] = bad[s.link_len - 1] == 'B' ? 'C' : 'B';
	cr_assert(!pfc_symlink_ref_parse(bad, s.link_len, hash));
}

static int tmp_root(char dir[64])
{
	int fd;

	snprintf(dir, 64, "/tmp/pfc-symlink-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(fd, 0);
	return fd;
}

Test(symlink, companion_files_write_read_remove)
{
	static struct pfc_symlink_stored s;
	uint8_t buf[PFC_SYMLINK_SEALED_MAX + 1];
	char dir[64], cmd[128], dec[PFC_SYMLINK_BUF];
	struct stat st;
	size_t n, dlen;
	int root = tmp_root(dir);

	fill_target();
	cr_assert_eq(pfc_symlink_to_backing(vk, long_target, 4095, &s), 0);
	cr_assert_eq(pfc_symlink_read(vk, root, s.link, s.link_len, dec, sizeof(dec), &dlen),
		     PFC_ERR_NOT_FOUND);
	cr_assert_eq(pfc_symlink_companion_write(root, &s), 0);
	cr_assert_eq(fstatat(root, PFC_SYMLINKS_DIR, &st, AT_SYMLINK_NOFOLLOW), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(pfc_symlink_companion_write(root, &s), PFC_ERR_EXISTS);
	cr_assert_eq(pfc_symlink_companion_read(root, s.hash, buf, sizeof(buf), &n), 0);
	cr_assert_eq(n, s.sealed_len);
	cr_assert_eq(memcmp(buf, s.sealed, n), 0);
	cr_assert_eq(pfc_symlink_read(vk, root, s.link, s.link_len, dec, sizeof(dec), &dlen), 0);
	cr_assert_eq(dlen, 4095);
	cr_assert_eq(memcmp(dec, long_target, dlen), 0);
	cr_assert_eq(pfc_symlink_companion_remove(root, s.hash), 0);
	cr_assert_eq(pfc_symlink_read(vk, root, s.link, s.link_len, dec, sizeof(dec), &dlen),
		     PFC_ERR_NOT_FOUND);
	cr_assert_eq(pfc_symlink_companion_remove(root, s.hash), PFC_ERR_IO);

	/* a companion that is a fifo, or a companion directory that is a symlink: missing */
	{
		int dfd = openat(root, PFC_SYMLINKS_DIR, O_RDONLY | O_DIRECTORY);

		cr_assert_eq(mkfifoat(dfd, s.hash, 0644), 0);
		close(dfd);
	}
	cr_assert_eq(pfc_symlink_companion_read(root, s.hash, buf, sizeof(buf), &n),
		     PFC_ERR_NOT_FOUND);
	cr_assert_eq(pfc_symlink_companion_remove(root, s.hash), 0);
	cr_assert_eq(renameat(root, PFC_SYMLINKS_DIR, root, "real"), 0);
	cr_assert_eq(symlinkat("real", root, PFC_SYMLINKS_DIR), 0);
	cr_assert_eq(pfc_symlink_companion_write(root, &s), PFC_ERR_IO);
	cr_assert_eq(pfc_symlink_read(vk, root, s.link, s.link_len, dec, sizeof(dec), &dlen),
		     PFC_ERR_NOT_FOUND);
	close(root);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(symlink, classify_companion_directory)
{
	cr_assert_eq(pfc_entry_classify(PFC_SYMLINKS_DIR, strlen(PFC_SYMLINKS_DIR)),
		     PFC_ENTRY_SYMLINKS_DIR);
	cr_assert_eq(pfc_entry_classify(".pfcrypt.symlinks2", 18), PFC_ENTRY_OTHER);
}
