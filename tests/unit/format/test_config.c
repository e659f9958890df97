// SPDX-License-Identifier: MIT
/* test_config.c - volume config: round trip, store/load, versions, tampering. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "testwrap.h"

TestSuite(config, .init = fmt_init);

static const uint8_t name_key[32] = {7, 7, 7, 7, 7, 7, 7, 7, 1, 2, 3, 4, 5, 6, 7, 8,
				     9, 9, 9, 9, 9, 9, 9, 9, 0, 1, 0, 1, 0, 1, 0, 1};

/* A sealed config as `pfcrypt init` makes it; returns its encoding. */
static size_t make_config(struct pfc_config *c, uint8_t *buf, size_t cap, enum pfc_cipher ci)
{
	uint8_t ad[PFC_AD_MAX], blob[128];
	struct pfc_volkeys *vk;
	struct pfc_wbuf w;
	size_t bl;

	cr_assert_eq(pfc_config_init(c, ci, 8192, 0, "home-key_1.v2"), 0);
	cr_assert_eq(
	    testwrap_wrap(ad, pfc_ad_name_key(c->volume_id, ad), name_key, NULL, blob, &bl), 0);
	cr_assert_eq(pfc_config_set_wrapped(c, blob, bl), 0);
	cr_assert_eq(pfc_volkeys_new(name_key, c->volume_id, &vk), 0);
	cr_assert_eq(pfc_config_seal(c, vk), 0);
	pfc_volkeys_free(vk);
	pfc_wbuf_init_fixed(&w, buf, cap);
	cr_assert_eq(pfc_config_encode(c, &w), 0);
	return w.len;
}

/* What a mount does: parse, unwrap the name key, verify the MAC. */
static int open_config(const uint8_t *buf, size_t len, struct pfc_config *c)
{
	uint8_t ad[PFC_AD_MAX], nk[32];
	struct pfc_volkeys *vk;
	int err = pfc_config_parse(buf, len, c);

	if (err)
		return err;
	err = testwrap_unwrap(c->wrapped_name_key, c->wrapped_name_key_len, ad,
			      pfc_ad_name_key(c->volume_id, ad), nk);
	if (err)
		return err;
	if ((err = pfc_volkeys_new(nk, c->volume_id, &vk)))
		return err;
	err = pfc_config_verify(c, vk);
	pfc_volkeys_free(vk);
	return err;
}

Test(config, round_trip_both_ciphers)
{
	for (size_t i = 0; i < N_TEST_CIPHERS; i++) {
		struct pfc_config c, d;
		struct pfc_layout l;
		uint8_t buf[PFC_CONFIG_MAX];
		size_t n = make_config(&c, buf, sizeof(buf), test_ciphers[i]);

		cr_assert_eq(n, 37 + 13 + 2 + 78 + 11 + 32);
		cr_assert_eq(open_config(buf, n, &d), 0);
		cr_assert_eq(d.cipher, test_ciphers[i]);
		cr_assert_eq(d.block_size, 8192);
		cr_assert_str_eq(d.key_name, "home-key_1.v2");
		cr_assert_eq(memcmp(d.volume_id, c.volume_id, 16), 0);
		cr_assert_eq(pfc_config_layout(&d, &l), 0);
		cr_assert_eq(l.block_size, 8192);
		cr_assert(l.zero_block_is_hole);
	}
}

Test(config, every_single_bit_flip_is_detected)
{
	struct pfc_config c, d;
	uint8_t buf[PFC_CONFIG_MAX];
	size_t n = make_config(&c, buf, sizeof(buf), PFC_CIPHER_AES256GCM);

	for (size_t bit = 0; bit < n * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_lt(open_config(buf, n, &d), 0, "bit %zu went unnoticed", bit);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	cr_assert_eq(open_config(buf, n, &d), 0);
}

Test(config, unknown_version_is_refused_with_a_message)
{
	struct pfc_config c, d;
	uint8_t buf[PFC_CONFIG_MAX];
	size_t n = make_config(&c, buf, sizeof(buf), PFC_CIPHER_AES256GCM);

	pfc_store_u16(buf + 8, 2);
	cr_assert_eq(pfc_config_parse(buf, n, &d), PFC_ERR_UNKNOWN_VERSION);
	cr_assert_not_null(strstr(pfc_config_last_error(), "format version 2"), "%s",
			   pfc_config_last_error());
	pfc_store_u16(buf + 8, 1);
	pfc_store_u32(buf + 16, 0x80);
	cr_assert_eq(pfc_config_parse(buf, n, &d), PFC_ERR_UNKNOWN_VERSION);
	cr_assert_not_null(strstr(pfc_config_last_error(), "flags"));
	pfc_store_u32(buf + 16, 0);
	buf[0] = 'x';
	cr_assert_eq(pfc_config_parse(buf, n, &d), PFC_ERR_BAD_MAGIC);
	buf[0] = 'P';
	pfc_store_u16(buf + 10, 3);
	cr_assert_eq(pfc_config_parse(buf, n, &d), PFC_ERR_INVAL);
	pfc_store_u16(buf + 10, 1);
	pfc_store_u32(buf + 12, 4097);
	cr_assert_eq(pfc_config_parse(buf, n, &d), PFC_ERR_INVAL);
	pfc_store_u32(buf + 12, 8192);
	cr_assert_eq(pfc_config_parse(buf, n, &d), 0);
	cr_assert_eq(pfc_config_parse(buf, n - 1, &d), PFC_ERR_TRUNCATED);
	buf[n] = 0;
	cr_assert_eq(pfc_config_parse(buf, n + 1, &d), PFC_ERR_CORRUPT);
}

Test(config, rewrapped_name_key_needs_no_reseal)
{
	struct pfc_config c, d;
	uint8_t buf[PFC_CONFIG_MAX], ad[PFC_AD_MAX], blob[128];
	struct pfc_wbuf w;
	size_t n = make_config(&c, buf, sizeof(buf), PFC_CIPHER_XCHACHA20POLY1305), bl;

	cr_assert_eq(testwrap_wrap(ad, pfc_ad_name_key(c.volume_id, ad), name_key, NULL, blob, &bl),
		     0);
	cr_assert_eq(pfc_config_set_wrapped(&c, blob, bl), 0);
	pfc_wbuf_init_fixed(&w, buf, sizeof(buf));
	cr_assert_eq(pfc_config_encode(&c, &w), 0);
	cr_assert_eq(w.len, n);
	cr_assert_eq(open_config(buf, w.len, &d), 0);
}

Test(config, store_and_load_atomically)
{
	char dir[] = "/tmp/pfc-format-test-XXXXXX";
	struct pfc_config c, d;
	uint8_t buf[PFC_CONFIG_MAX];
	struct stat st;
	int dfd;

	make_config(&c, buf, sizeof(buf), PFC_CIPHER_AES256GCM);
	cr_assert_not_null(mkdtemp(dir));
	dfd = open(dir, O_PATH | O_DIRECTORY);
	cr_assert_geq(dfd, 0);
	cr_assert_eq(pfc_config_load(dfd, &d), PFC_ERR_NOT_FOUND);
	cr_assert_eq(pfc_config_store(dfd, &c), 0);
	cr_assert_eq(fstatat(dfd, PFC_CONFIG_TMP_NAME, &st, 0), -1, "temp file renamed away");
	cr_assert_eq(pfc_config_load(dfd, &d), 0);
	cr_assert_eq(memcmp(d.mac, c.mac, 32), 0);
	/* replace: store again over the existing one */
	c.flags = PFC_CONFIG_FLAG_NO_HOLES;
	cr_assert_eq(pfc_config_store(dfd, &c), 0);
	cr_assert_eq(pfc_config_load(dfd, &d), 0);
	cr_assert_eq(d.flags, PFC_CONFIG_FLAG_NO_HOLES);
	/* an oversized file is refused before parsing */
	int fd = openat(dfd, PFC_CONFIG_NAME, O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	cr_assert_eq(pfc_config_load(dfd, &d), PFC_ERR_TOO_LARGE);
	unlinkat(dfd, PFC_CONFIG_NAME, 0);
	close(dfd);
	cr_assert_eq(rmdir(dir), 0);
}

/* A FIFO (or a directory) in place of pfcrypt.conf is refused at once, not
 * waited on (issue 17 point 2); the timeout fails the test if it hangs. */
Test(config, load_refuses_a_fifo_without_hanging, .timeout = 10)
{
	char dir[] = "/tmp/pfc-cfgfifo-XXXXXX";
	struct pfc_config d;
	int dfd;

	cr_assert_not_null(mkdtemp(dir));
	dfd = open(dir, O_PATH | O_DIRECTORY);
	cr_assert_geq(dfd, 0);
	cr_assert_eq(mkfifoat(dfd, PFC_CONFIG_NAME, 0600), 0);
	cr_assert_eq(pfc_config_load(dfd, &d), PFC_ERR_CORRUPT);
	cr_assert_str_eq(pfc_config_last_error(), "not a regular file (FIFO)");
	cr_assert_eq(unlinkat(dfd, PFC_CONFIG_NAME, 0), 0);
	cr_assert_eq(mkdirat(dfd, PFC_CONFIG_NAME, 0700), 0);
	cr_assert_eq(pfc_config_load(dfd, &d), PFC_ERR_CORRUPT);
	cr_assert_eq(unlinkat(dfd, PFC_CONFIG_NAME, AT_REMOVEDIR), 0);
	close(dfd);
	cr_assert_eq(rmdir(dir), 0);
}

/* A FIFO left at the scratch name would block the store's open for writing
 * until a reader came: it is removed, never opened. */
Test(config, store_over_a_fifo_scratch_file, .timeout = 10)
{
	char dir[] = "/tmp/pfc-cfgtmpfifo-XXXXXX";
	struct pfc_config c, d;
	uint8_t buf[PFC_CONFIG_MAX];
	struct stat st;
	int dfd;

	make_config(&c, buf, sizeof(buf), PFC_CIPHER_AES256GCM);
	cr_assert_not_null(mkdtemp(dir));
	dfd = open(dir, O_PATH | O_DIRECTORY);
	cr_assert_geq(dfd, 0);
	cr_assert_eq(mkfifoat(dfd, PFC_CONFIG_TMP_NAME, 0600), 0);
	cr_assert_eq(pfc_config_store(dfd, &c), 0);
	cr_assert_eq(fstatat(dfd, PFC_CONFIG_TMP_NAME, &st, 0), -1, "temp file renamed away");
	cr_assert_eq(pfc_config_load(dfd, &d), 0);
	cr_assert_eq(memcmp(d.mac, c.mac, 32), 0);
	unlinkat(dfd, PFC_CONFIG_NAME, 0);
	close(dfd);
	cr_assert_eq(rmdir(dir), 0);
}

Test(config, init_validates_its_inputs)
{
	struct pfc_config c;

	cr_assert_eq(pfc_config_init(&c, PFC_CIPHER_AES256GCM, 4096, 0, ""), PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_config_init(&c, PFC_CIPHER_AES256GCM, 4096, 0, "a b"),
		     PFC_ERR_NAME_INVALID);
	cr_assert_eq(
	    pfc_config_init(&c, PFC_CIPHER_AES256GCM, 4096, 0, "abcdefghijklmnopqrstuvwxyz0123456"),
	    PFC_ERR_NAME_TOO_LONG);
	cr_assert_eq(pfc_config_init(&c, PFC_CIPHER_AES256GCM, 3000, 0, "k"), PFC_ERR_INVAL);
	cr_assert_eq(pfc_config_init(&c, PFC_CIPHER_AES256GCM, 2u << 20, 0, "k"), PFC_ERR_INVAL);
	cr_assert_eq(pfc_config_init(&c, 9, 4096, 0, "k"), PFC_ERR_INVAL);
	cr_assert_eq(pfc_config_init(&c, PFC_CIPHER_AES256GCM, 4096, 2, "k"), PFC_ERR_CORRUPT);
	cr_assert_eq(pfc_config_init(&c, PFC_CIPHER_AES256GCM, 1u << 20, 1, "k"), 0);
}

Test(config, seal_refuses_keys_of_another_volume)
{
	struct pfc_config c;
	uint8_t buf[PFC_CONFIG_MAX];
	struct pfc_volkeys *vk = make_volkeys(1, 2);

	make_config(&c, buf, sizeof(buf), PFC_CIPHER_AES256GCM);
	cr_assert_eq(pfc_config_seal(&c, vk), PFC_ERR_INVAL);
	cr_assert_eq(pfc_config_verify(&c, vk), PFC_ERR_AUTH);
	pfc_volkeys_free(vk);
}

Test(config, random_input_parse)
{
	uint8_t buf[300];
	struct pfc_config c;
	struct pfc_config good;
	uint8_t enc[PFC_CONFIG_MAX];
	size_t n = make_config(&good, enc, sizeof(enc), PFC_CIPHER_AES256GCM);

	for (int i = 0; i < 20000; i++) {
		size_t len = randombytes_uniform(sizeof(buf) + 1);

		randombytes_buf(buf, len);
		if (i % 2 && len >= n) { /* mutate a valid config instead */
			memcpy(buf, enc, n);
			buf[randombytes_uniform((uint32_t)n)] ^=
			    (uint8_t)(1 + randombytes_uniform(255));
			len = n - (i % 7 == 1) + (i % 7 == 2);
		}
		int err = pfc_config_parse(buf, len, &c);
		cr_assert(err <= 0);
		if (!err)
			cr_assert(c.wrapped_name_key_len >= 1 && c.wrapped_name_key_len <= 128);
	}
}
