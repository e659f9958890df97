/* SPDX-License-Identifier: MIT */
/*
 * keytier.c - the key cache's compact tier for file keys.
 *
 * A cached file key is a pfc_filekey: FK, the header MAC key and up to
 * PFC_FILEKEY_GEN_CACHE expanded AES-256-GCM states, about 2.3 KiB of locked
 * memory.  Keeping 100,000 of them would break the daemon's memory bound
 * (issue 7: RSS < 64 MiB after opening 100k distinct files), and keeping
 * only PFCD_KEYCACHE_MAX (4,096) made a cold pass over a 20,000-file tree
 * unwrap every key through the keystore again (50-130 us each, plus the
 * socket round trip).  So keys pushed out of the full tier stay cached as FK
 * alone (32 bytes in the cache's locked slabs, wiped when they leave), up to
 * PFCD_KEYCACHE_RAW of them, with the same idle age as the full tier;
 * reopening such a file rebuilds the pfc_filekey (one BLAKE2b) instead of
 * asking the keystore.
 *
 * Measured (2026-11-23, untar of 20,000 files then a cold find+md5sum on the
 * same mount): keystore round trips during find+md5sum 20,000 -> 0; medians
 * of 5 interleaved runs 13.9 s -> 6.7 s (securefs 9.2 s in the same loop);
 * daemon RSS after opening 100,000 distinct files 29.2 MiB
 * (tests/bench/memory).
 */
#include "fs/daemon/daemon.h"

#include "fs/filekey_raw.h"

#include <errno.h>

_Static_assert(PFC_ID_BYTES == PFC_KCACHE_ID_LEN, "the cache is keyed by file id");
_Static_assert(PFC_KEY_BYTES <= PFC_KCACHE_COMPACT_MAX, "FK fits a compact form");

/* Under the cache's lock: a copy, no lock, no allocation. */
static int shrink(const void *value, uint8_t *out)
{
	pfc_filekey_raw(value, out);
	return 0;
}

static int expand(const uint8_t id[PFC_KCACHE_ID_LEN], const uint8_t *in, void **value)
{
	struct pfc_filekey *fk;
	int rc = pfc_filekey_new(in, id, &pfcd_g->layout, &fk);

	if (rc < 0)
		return pfcd_errno(rc);
	*value = fk;
	return 0;
}

int pfcd_keytier_init(void)
{
	const struct pfc_kcache_compact c = {
	    .max_entries = PFCD_KEYCACHE_RAW,
	    .size = PFC_KEY_BYTES,
	    .shrink = shrink,
	    .expand = expand,
	};

	return pfc_kcache_set_compact(pfcd_g->keys, &c);
}
