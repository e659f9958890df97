/* SPDX-License-Identifier: MIT */
/*
 * census.h - which master-key (name, version) wraps each file of a volume,
 * from the headers alone (keystore/blob.h parses a blob without a key).
 * Used by status (counts) and retire (files still under a version).
 */
#ifndef PFC_CLI_CENSUS_H
#define PFC_CLI_CENSUS_H

#include <stddef.h>
#include <stdint.h>

#include "keystore/blob.h"
#include "tools/vol.h"

#define CENSUS_EXAMPLES 5 /* paths kept per (name, version) to name a few */

struct census_entry {
	char name[PFC_KS_NAME_MAX + 1];
	uint32_t version;
	size_t files;
	char *examples[CENSUS_EXAMPLES]; /* backing paths relative to the root */
	size_t nexamples;
};

struct census {
	struct census_entry *e; /* sorted by name, then version */
	size_t n;
	size_t empty;			    /* files with no header yet (size 0) */
	size_t unreadable;		    /* header or blob that does not parse, or I/O error */
	char *bad_example;		    /* one of those (relative path), or NULL */
	char cfg_name[PFC_KS_NAME_MAX + 1]; /* what wraps the volume name key */
	uint32_t cfg_version;		    /* 0 if the config blob does not parse */
	struct cli_stray *strays;	    /* entries not part of the volume (walk.c) */
	size_t nstrays;
};

/* Walk v and fill c.  Prints its own error; 0 or CLI_EXIT_SETUP. */
int census_take(const struct cli_vol *v, struct census *c);
void census_free(struct census *c);
/* The entry for (name, version), or NULL. */
const struct census_entry *census_find(const struct census *c, const char *name, uint32_t version);

#endif
