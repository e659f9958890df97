/* SPDX-License-Identifier: MIT */
/* test_conflict.c - fs/conflict.c: sync-client conflict-copy markers. */
#include <criterion/criterion.h>
#include <string.h>

#include "fs/volume.h"

#define ENC "Wyg7NJRDlmFSQzoOCxch_ezcDbk6TDXJ2l1TZelaTMQ" /* 43 base64url chars */

Test(conflict, each_clients_marker_is_recognised)
{
	cr_assert(pfc_conflict_marker(".sync-conflict-20240102-030405-ABCDEFG"));
	cr_assert(pfc_conflict_marker(".conflict1"));
	cr_assert(pfc_conflict_marker(".conflict12"));
	cr_assert(pfc_conflict_marker(" (Ann's conflicted copy 2024-01-02)"));
	cr_assert(pfc_conflict_marker(" (conflicted copy 2024-01-02 030405)"));
}

Test(conflict, near_misses_are_not_markers)
{
	cr_assert_not(pfc_conflict_marker(".sync-conflict-"), "nothing after the prefix");
	cr_assert_not(pfc_conflict_marker(".conflict"));
	cr_assert_not(pfc_conflict_marker(".conflicts"));
	cr_assert_not(pfc_conflict_marker(" (copy 2)"));
	cr_assert_not(pfc_conflict_marker(".txt"));
	cr_assert_not(pfc_conflict_marker(""));
	cr_assert_not(pfc_conflict_marker("sync-conflict-x"), "the separator is part of it");
}

Test(conflict, split_finds_the_end_of_the_encoding)
{
	cr_assert_eq(pfc_conflict_split(ENC ".sync-conflict-20240102-030405-ABCDEFG"), 43);
	cr_assert_eq(pfc_conflict_split(ENC ".conflict3"), 43);
	cr_assert_eq(pfc_conflict_split(ENC " (Bob's conflicted copy 2024-05-06)"), 43);
	cr_assert_eq(pfc_conflict_split(ENC), 0, "a plain encoding is not a copy");
	cr_assert_eq(pfc_conflict_split(ENC ".bak"), 0);
	cr_assert_eq(pfc_conflict_split(".sync-conflict-1"), 0, "no encoding before the marker");
	cr_assert_eq(pfc_conflict_split("pfc.long.abc.sync-conflict-1"), 12,
		     "a long-name entry's copy keeps its prefix");
	cr_assert_eq(pfc_conflict_split("pfc.long." ENC " (conflicted copy 2024-01-02)"), 52);
	cr_assert_eq(pfc_conflict_split("pfc.long..sync-conflict-1"), 0, "no hash");
	cr_assert_eq(pfc_conflict_split("pfc.long." ENC ".name"), 0, "a companion is no copy");
	cr_assert_eq(pfc_conflict_split(""), 0);
}

Test(conflict, markers_in_plaintext_names_are_found_in_order)
{
	const char *n = "my.report.sync-conflict-20240102-030405-ABCDEFG";
	size_t at = pfc_conflict_next_marker(n, 1);

	cr_assert_eq(at, strlen("my.report"));
	cr_assert_eq(pfc_conflict_next_marker(n, at + 1), 0);
	cr_assert_eq(pfc_conflict_next_marker("a.conflict1.conflict2", 1), 1);
	cr_assert_eq(pfc_conflict_next_marker("a.conflict1.conflict2", 2), strlen("a.conflict1"));
	cr_assert_eq(pfc_conflict_next_marker(".conflict1", 0), 0, "the base is never empty");
	cr_assert_eq(pfc_conflict_next_marker("plain name.txt", 1), 0);
	cr_assert_eq(pfc_conflict_next_marker("x (conflicted copy)", 1), 1);
}

Test(conflict, a_copy_is_a_marker_after_one_of_our_names_only)
{
	size_t k = 0;

	cr_assert(pfc_conflict_copy(ENC ".sync-conflict-20240102-030405-ABCDEFG", &k));
	cr_assert_eq(k, 43);
	cr_assert(pfc_conflict_copy("pfc.long." ENC ".conflict1", &k));
	cr_assert_eq(k, 52);
	cr_assert(pfc_conflict_copy(ENC " (Ann's conflicted copy 2024-01-02)", NULL));
	/* plaintext that merely looks like a copy is not one of ours */
	cr_assert_not(pfc_conflict_copy("notes.conflict.txt", NULL));
	cr_assert_not(pfc_conflict_copy("report (conflicted copy).txt", NULL));
	cr_assert_not(pfc_conflict_copy("abc.sync-conflict-1", NULL), "abc is no encoding");
	cr_assert_not(pfc_conflict_copy(ENC ".conflicts", NULL), "no digit after .conflict");
	cr_assert_not(pfc_conflict_copy("pfc.long.abc.sync-conflict-1", NULL), "no long-name hash");
	cr_assert_not(pfc_conflict_copy(ENC, NULL), "a name without a marker");
}
