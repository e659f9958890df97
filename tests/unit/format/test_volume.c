/* SPDX-License-Identifier: MIT */
/* test_volume.c - fs/volume.c: open a volume, its keys and a file's key through a callback. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs/volume.h"
#include "helpers.h"
#include "testwrap.h"
#include "tmpdir.h"

struct stub {
	int calls;
	int fail; /* returned instead of unwrapping when non-zero */
};

static int stub_unwrap(void *ctx, const uint8_t *blob, size_t blob_len, const uint8_t *ad,
		       size_t ad_len, uint8_t key[PFC_KEY_BYTES])
{
	struct stub *s = ctx;

	s->calls++;
	return s->fail ? s->fail : testwrap_unwrap(blob, blob_len, ad, ad_len, key);
}

static char tmpl[] = "/tmp/pfc-test-volume-XXXXXX";

/* A sealed config in a fresh directory; returns its fd. */
static int make_volume(struct pfc_config *c)
{
	uint8_t nk[PFC_KEY_BYTES], ad[PFC_AD_MAX], blob[PFC_WRAPPED_MAX];
	struct pfc_volkeys *vk = NULL;
	size_t blob_len;
	int fd;

	fd = tmpdir_make(tmpl, NULL);
	cr_assert_eq(pfc_config_init(c, PFC_CIPHER_XCHACHA20POLY1305, 8192, 0, "k"), 0);
	fill(nk, sizeof(nk), 7);
	cr_assert_eq(
	    testwrap_wrap(ad, pfc_ad_name_key(c->volume_id, ad), nk, NULL, blob, &blob_len), 0);
	cr_assert_eq(pfc_config_set_wrapped(c, blob, blob_len), 0);
	cr_assert_eq(pfc_volkeys_new(nk, c->volume_id, &vk), 0);
	cr_assert_eq(pfc_config_seal(c, vk), 0);
	pfc_volkeys_free(vk);
	cr_assert_eq(pfc_config_store(fd, c), 0);
	return fd;
}

Test(volume, opens_a_volume_through_the_callback, .init = fmt_init)
{
	struct pfc_config c, got;
	struct pfc_layout l;
	struct pfc_volkeys *vk = NULL;
	struct stub s = {0};
	struct pfc_unwrapper uw = {stub_unwrap, &s};
	enum pfc_key_step step;
	int fd = make_volume(&c);

	cr_assert_eq(pfc_volume_load(fd, &got, &l), 0);
	cr_assert_eq(l.block_size, 8192);
	cr_assert_eq(l.cipher, PFC_CIPHER_XCHACHA20POLY1305);
	cr_assert_eq(pfc_volume_keys(&got, &uw, &vk, &step), 0);
	cr_assert_eq(step, PFC_STEP_NONE);
	cr_assert_eq(s.calls, 1);
	cr_assert_arr_eq(pfc_volkeys_volume_id(vk), c.volume_id, PFC_ID_BYTES);
	pfc_volkeys_free(vk);
	tmpdir_remove(tmpl, fd);
}

Test(volume, names_the_step_that_failed, .init = fmt_init)
{
	struct pfc_config c;
	struct pfc_volkeys *vk = NULL;
	struct stub s = {.fail = PFC_ERR_LOCKED};
	struct pfc_unwrapper uw = {stub_unwrap, &s};
	enum pfc_key_step step;
	int fd = make_volume(&c);

	cr_assert_eq(pfc_volume_keys(&c, &uw, &vk, &step), PFC_ERR_LOCKED);
	cr_assert_eq(step, PFC_STEP_UNWRAP);
	s.fail = 0;
	c.mac[0] ^= 1; /* the config altered */
	cr_assert_eq(pfc_volume_keys(&c, &uw, &vk, &step), PFC_ERR_AUTH);
	cr_assert_eq(step, PFC_STEP_VERIFY);
	cr_assert_null(vk);
	c.mac[0] ^= 1;
	c.volume_id[0] ^= 1; /* the wrapped key moved to another volume: the AD differs */
	cr_assert_eq(pfc_volume_keys(&c, &uw, &vk, &step), PFC_ERR_AUTH);
	cr_assert_eq(step, PFC_STEP_UNWRAP);
	tmpdir_remove(tmpl, fd);
}

Test(volume, missing_config_is_not_found, .init = fmt_init)
{
	struct pfc_config c;
	struct pfc_layout l;
	int fd = open("/", O_RDONLY | O_DIRECTORY);

	cr_assert_eq(pfc_volume_load(fd, &c, &l), PFC_ERR_NOT_FOUND);
	close(fd);
}

Test(volume, file_key_from_a_header, .init = fmt_init)
{
	uint8_t vid[PFC_ID_BYTES], fid[PFC_ID_BYTES], fk[PFC_KEY_BYTES], ad[PFC_AD_MAX];
	uint8_t blob[PFC_WRAPPED_MAX], *scratch = sodium_malloc(PFC_KEY_BYTES);
	struct pfc_layout l;
	struct pfc_header h;
	struct pfc_filekey *k = NULL;
	struct stub s = {0};
	struct pfc_unwrapper uw = {stub_unwrap, &s};
	enum pfc_key_step step;
	size_t blob_len;

	fill(vid, sizeof(vid), 1);
	fill(fid, sizeof(fid), 2);
	fill(fk, sizeof(fk), 3);
	cr_assert_eq(pfc_layout_init(&l, PFC_CIPHER_AES256GCM, 4096), 0);
	cr_assert_eq(testwrap_wrap(ad, pfc_ad_file_key(vid, fid, ad), fk, NULL, blob, &blob_len),
		     0);
	cr_assert_eq(pfc_header_init(&h, fid, blob, blob_len), 0);
	for (int with_scratch = 0; with_scratch < 2; with_scratch++) {
		cr_assert_eq(
		    pfc_volume_file_key(vid, &l, &h, &uw, with_scratch ? scratch : NULL, &k, &step),
		    0);
		cr_assert_eq(step, PFC_STEP_NONE);
		cr_assert_arr_eq(pfc_filekey_file_id(k), fid, PFC_ID_BYTES);
		pfc_filekey_free(k);
		k = NULL;
	}
	cr_assert(sodium_is_zero(scratch, PFC_KEY_BYTES), "the key in transit is wiped");
	vid[0] ^= 1; /* a header moved to another volume does not unwrap */
	cr_assert_eq(pfc_volume_file_key(vid, &l, &h, &uw, scratch, &k, &step), PFC_ERR_AUTH);
	cr_assert_eq(step, PFC_STEP_UNWRAP);
	cr_assert_null(k);
	sodium_free(scratch);
}
