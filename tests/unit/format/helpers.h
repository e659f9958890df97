/* SPDX-License-Identifier: MIT */
/* helpers.h - fixtures shared by the format unit tests. */
#ifndef PFC_TEST_FORMAT_HELPERS_H
#define PFC_TEST_FORMAT_HELPERS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/err.h"
#include "fs/format.h"

static const enum pfc_cipher test_ciphers[] = {PFC_CIPHER_AES256GCM, PFC_CIPHER_XCHACHA20POLY1305};
#define N_TEST_CIPHERS (sizeof(test_ciphers) / sizeof(test_ciphers[0]))

static inline void fmt_init(void)
{
	cr_assert_eq(pfc_format_init(), 0);
	/* The tests need both ciphers; a CPU without AES-NI would fail here loudly. */
	cr_assert_eq(pfc_cipher_check(PFC_CIPHER_AES256GCM), 0, "AES-256-GCM unavailable");
}

static inline void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 31 + (i >> 8));
}

static inline struct pfc_filekey *make_filekey(enum pfc_cipher c, uint32_t bs, uint8_t key_seed,
					       uint8_t id_seed)
{
	struct pfc_layout l;
	struct pfc_filekey *k = NULL;
	uint8_t fk[32], id[16];

	cr_assert_eq(pfc_layout_init(&l, c, bs), 0);
	fill(fk, sizeof(fk), key_seed);
	fill(id, sizeof(id), id_seed);
	cr_assert_eq(pfc_filekey_new(fk, id, &l, &k), 0);
	return k;
}

static inline struct pfc_volkeys *make_volkeys(uint8_t key_seed, uint8_t vol_seed)
{
	struct pfc_volkeys *vk = NULL;
	uint8_t nk[32], vid[16];

	fill(nk, sizeof(nk), key_seed);
	fill(vid, sizeof(vid), vol_seed);
	cr_assert_eq(pfc_volkeys_new(nk, vid, &vk), 0);
	return vk;
}

#endif
