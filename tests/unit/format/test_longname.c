// SPDX-License-Identifier: MIT
/* test_longname.c - long names, companions, classification of backing entries. */
#include "helpers.h"

static struct pfc_volkeys *vk;
static const uint8_t dir_a[16] = {0xa};

static void setup(void)
{
	fmt_init();
	vk = make_volkeys(3, 4);
}

static void teardown(void)
{
	pfc_volkeys_free(vk);
}

TestSuite(longname, .init = setup, .fini = teardown);

Test(longname, short_and_long_backing_names)
{
	struct pfc_backing_name b;
	char name[255], enc[PFC_ENCNAME_BUF], dec[PFC_NAME_BUF];
	size_t elen, dlen, m;

	memset(name, 'n', sizeof(name));
	cr_assert_eq(pfc_name_to_backing(vk, dir_a, name, 160, &b), 0);
	cr_assert(!b.is_long);
	cr_assert_str_eq(b.name, b.enc);
	cr_assert_eq(pfc_entry_classify(b.name, strlen(b.name)), PFC_ENTRY_ENCNAME);

	cr_assert_eq(pfc_name_to_backing(vk, dir_a, name, 255, &b), 0);
	cr_assert(b.is_long);
	cr_assert_eq(strlen(b.name), PFC_LONGNAME_LEN);
	cr_assert_eq(strncmp(b.name, "pfc.long.", 9), 0);
	cr_assert_eq(strlen(b.companion), PFC_LONGNAME_COMPANION_LEN);
	cr_assert_eq(pfc_entry_classify(b.name, strlen(b.name)), PFC_ENTRY_LONGNAME);
	cr_assert_eq(pfc_entry_classify(b.companion, strlen(b.companion)),
		     PFC_ENTRY_LONGNAME_COMPANION);
	/* the reader's path: companion content -> encoding -> name */
	cr_assert_eq(pfc_longname_companion_parse(b.name, strlen(b.name), (const uint8_t *)b.enc,
						  b.enc_len, enc, sizeof(enc), &elen),
		     0);
	cr_assert_eq(pfc_name_decrypt(vk, &dir_a, 1, enc, elen, dec, sizeof(dec), &dlen, &m), 0);
	cr_assert_eq(dlen, 255);
	cr_assert_eq(memcmp(dec, name, 255), 0);
}

Test(longname, companion_must_match_its_entry)
{
	struct pfc_backing_name a, b;
	char name[200], enc[PFC_ENCNAME_BUF], comp[PFC_LONGNAME_COMPANION_LEN + 1];
	size_t elen;

	memset(name, 'a', sizeof(name));
	cr_assert_eq(pfc_name_to_backing(vk, dir_a, name, 200, &a), 0);
	name[0] = 'b';
	cr_assert_eq(pfc_name_to_backing(vk, dir_a, name, 200, &b), 0);
	/* b's companion beside a's entry */
	cr_assert_eq(pfc_longname_companion_parse(a.name, strlen(a.name), (const uint8_t *)b.enc,
						  b.enc_len, enc, sizeof(enc), &elen),
		     PFC_ERR_AUTH);
	/* malformed content */
	cr_assert_eq(pfc_longname_companion_parse(a.name, strlen(a.name), (const uint8_t *)"abc", 3,
						  enc, sizeof(enc), &elen),
		     PFC_ERR_CORRUPT);
	cr_assert_eq(pfc_longname_companion_parse(a.name, strlen(a.name), (const uint8_t *)a.enc,
						  a.enc_len - 1, enc, sizeof(enc), &elen),
		     PFC_ERR_CORRUPT);
	cr_assert_eq(pfc_longname_companion_parse("x", 1, (const uint8_t *)a.enc, a.enc_len, enc,
						  sizeof(enc), &elen),
		     PFC_ERR_INVAL);
	cr_assert_eq(pfc_longname_companion(a.name, strlen(a.name), comp), 0);
	cr_assert_str_eq(comp, a.companion);
	cr_assert_eq(pfc_longname_companion("abc", 3, comp), PFC_ERR_INVAL);
}

Test(longname, classify_backing_entries)
{
	struct pfc_backing_name b;

	cr_assert_eq(pfc_entry_classify(".", 1), PFC_ENTRY_DOT);
	cr_assert_eq(pfc_entry_classify("..", 2), PFC_ENTRY_DOT);
	cr_assert_eq(pfc_entry_classify("pfcrypt.conf", 12), PFC_ENTRY_CONFIG);
	cr_assert_eq(pfc_entry_classify(".pfcrypt.conf.tmp", 17), PFC_ENTRY_CONFIG);
	cr_assert_eq(pfc_entry_classify(".pfcrypt.dirid", 14), PFC_ENTRY_DIRID);
	cr_assert_eq(pfc_entry_classify(".pfcrypt.dirid.sync-conflict-1", 30), PFC_ENTRY_DIRID);
	/* Syncthing puts its marker before the extension (FORMAT.md 5.4) */
	const char *st = ".pfcrypt.sync-conflict-20261123-193000-ABCDEFG.dirid";

	cr_assert_eq(pfc_entry_classify(st, strlen(st)), PFC_ENTRY_DIRID);
	cr_assert_eq(pfc_entry_classify(".pfcrypt.dirid2", 15), PFC_ENTRY_DIRID);
	st = ".pfcrypt (Bob's conflicted copy 2026-11-23).dirid";
	cr_assert_eq(pfc_entry_classify(st, strlen(st)), PFC_ENTRY_DIRID);
	cr_assert_eq(pfc_entry_classify(".pfcrypt.x.diri", 15), PFC_ENTRY_OTHER);
	cr_assert_eq(pfc_entry_classify("x.pfcrypt.a.dirid", 17), PFC_ENTRY_OTHER);
	cr_assert_eq(pfc_entry_classify("notes.txt", 9), PFC_ENTRY_OTHER);
	cr_assert_eq(pfc_entry_classify("abcd", 4), PFC_ENTRY_OTHER, "too short for SIV");
	cr_assert_eq(pfc_name_to_backing(vk, dir_a, "a", 1, &b), 0);
	cr_assert_eq(pfc_entry_classify(b.name, strlen(b.name)), PFC_ENTRY_ENCNAME);
	strcat(b.name, ".sync-conflict-20240101-000000-XYZ");
	cr_assert_eq(pfc_entry_classify(b.name, strlen(b.name)), PFC_ENTRY_OTHER);
	char longn[179];

	memset(longn, 'L', sizeof(longn));
	cr_assert_eq(pfc_name_to_backing(vk, dir_a, longn, sizeof(longn), &b), 0);
	cr_assert(b.is_long);
	strcat(b.companion, "x");
	cr_assert_eq(pfc_entry_classify(b.companion, strlen(b.companion)), PFC_ENTRY_OTHER);
}

Test(longname, random_input_companion_and_classify)
{
	uint8_t in[400];
	char enc[PFC_ENCNAME_BUF];
	struct pfc_backing_name b;
	size_t elen;
	char name[180];

	memset(name, 'q', sizeof(name));
	cr_assert_eq(pfc_name_to_backing(vk, dir_a, name, sizeof(name), &b), 0);
	for (int i = 0; i < 20000; i++) {
		size_t len = randombytes_uniform(sizeof(in));

		randombytes_buf(in, len);
		if (i % 2) /* valid alphabet, plausible length */
			for (size_t j = 0; j < len; j++)
				in[j] =
				    (uint8_t) "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					      "0123456789-_"[in[j] % 64];
		int err = pfc_longname_companion_parse(b.name, strlen(b.name), in, len, enc,
						       sizeof(enc), &elen);
		cr_assert(err == PFC_ERR_CORRUPT || err == PFC_ERR_AUTH || err == PFC_ERR_TOO_LARGE,
			  "%d", err);
		(void)pfc_entry_classify((const char *)in, len);
	}
}
