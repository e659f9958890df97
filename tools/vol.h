/* SPDX-License-Identifier: MIT */
/*
 * vol.h - a volume as the CLI sees it: the backing root, its config, and
 * (for commands that decrypt) the volume keys unwrapped through the keystore.
 * Grouped by source file.
 */
#ifndef PFC_CLI_VOL_H
#define PFC_CLI_VOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format.h"

struct pfc_ks;

/* ---- vol.c ---- */

struct cli_vol {
	const char *path; /* BACKING as given (for messages), or the mount's backing dir */
	const char *mnt;  /* the mountpoint given instead of BACKING, else NULL */
	char path_buf[4096];
	int fd; /* the backing root directory */
	struct pfc_config cfg;
	struct pfc_layout layout;
};

/* Open BACKING and load its config; prints a one-line error.  0 or CLI_EXIT_SETUP.
 * The mountpoint of a pfcryptfs mount stands for its backing directory. */
int cli_vol_open(const char *path, struct cli_vol *v);
void cli_vol_close(struct cli_vol *v);
/* Unwrap the name key (AD pfc_ad_name_key), derive the volume keys and verify
 * the config MAC.  Prints the error; 0, or CLI_EXIT_SETUP. */
int cli_vol_keys(struct cli_vol *v, struct pfc_ks *ks, struct pfc_volkeys **out);
/* Hex of a 16-byte id into out (33 bytes). */
void cli_hex_id(const uint8_t id[PFC_ID_BYTES], char out[2 * PFC_ID_BYTES + 1]);

/*
 * Read the header of file rel (relative to v->fd), without any key.
 * Returns 1 for an empty file (no header yet), 0 with *h filled, or a
 * negative PFC_ERR_* (PFC_ERR_IO with errno for open/read failures).
 * If fd_out is non-NULL the file is opened O_RDWR and its fd returned there
 * (on 0 only); otherwise it is opened read-only and closed.
 */
int cli_read_header(const struct cli_vol *v, const char *rel, struct pfc_header *h, int *fd_out);

/* ---- walk.c ---- */

/* An entry that is not part of the volume (status warns about each). */
struct cli_stray {
	char *path; /* relative to the backing root */
	bool mount; /* a mount point (not walked); else a name that is not pfcrypt's */
};

struct cli_walk {
	char **files; /* paths relative to the backing root */
	size_t n, cap;
	struct cli_stray *strays; /* in walk order; none below a stray directory */
	size_t nstrays, capstrays;
};
/* Every regular file that may hold a header (see walk.c), and the strays.
 * Prints the error; 0 or CLI_EXIT_SETUP. */
int cli_walk_files(const struct cli_vol *v, struct cli_walk *w);
void cli_walk_free(struct cli_walk *w);
/* The cause line of a stray, for warnings. */
const char *cli_stray_cause(const struct cli_stray *s);

#endif
