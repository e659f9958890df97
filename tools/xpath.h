/* SPDX-License-Identifier: MIT */
/*
 * xpath.h - a plaintext path of a volume to its backing path and back
 * (pfcrypt path, pfcrypt salvage), through the name key, like gocryptfs's
 * ctlsock/xray: so that a user can find the file a sync client or a log
 * names.
 */
#ifndef PFC_TOOLS_XPATH_H
#define PFC_TOOLS_XPATH_H

#include <stdbool.h>
#include <stddef.h>

#include "fs/format.h"
#include "tools/vol.h"

#define XPATH_MAX 4096

/* What cli_plain_to_backing found. */
struct xpath_backing {
	char rel[XPATH_MAX]; /* backing path relative to the volume root */
	bool exists;	     /* the last entry is there */
	char companion[PFC_LONGNAME_COMPANION_LEN +
		       1]; /* the last entry's long-name companion, or "" */
};

/*
 * The backing path of plain ("a/b", leading '/' allowed; "." components
 * skipped; ".." refused).  Each directory on the way must exist; the last
 * entry may not (then its name under the directory's primary id).  Returns
 * 0, or CLI_EXIT_SETUP after a one-line message naming the plaintext path.
 */
int cli_plain_to_backing(const struct cli_vol *v, const struct pfc_volkeys *vk, const char *plain,
			 struct xpath_backing *out);

/*
 * The plaintext path ("/a/b", relative to the volume root) of the backing
 * entry rel (relative to the volume root) into out; *what is NULL for a
 * file, directory or symlink of the volume, else what the entry is to it
 * ("long-name companion of", "directory id file of", ...: then out names the
 * entry or directory it belongs to).  0, or CLI_EXIT_SETUP after a message.
 */
int cli_backing_to_plain(const struct cli_vol *v, const struct pfc_volkeys *vk, const char *rel,
			 char *out, size_t len, const char **what);

/*
 * Split a backing path given on the command line into its volume's root (the
 * nearest ancestor holding pfcrypt.conf, into root) and the path below it
 * (into rel).  0, or CLI_EXIT_SETUP after a message.
 */
int cli_backing_split(const char *path, char *root, size_t rlen, char *rel, size_t len);

#endif
