/* SPDX-License-Identifier: MIT */
/*
 * cryptpool.h - block encryption and decryption of one request range split
 * across a small pool of worker threads (cryptpool.c).
 */
#ifndef PFC_DAEMON_CRYPTPOOL_H
#define PFC_DAEMON_CRYPTPOOL_H

#include "fs/format.h"

#include <stddef.h>
#include <stdint.h>

/* Start one worker per online CPU (after fuse_daemonize: threads do not
 * survive its fork).  Without a pool (not started, or it could not start)
 * everything runs on the calling thread; so a failure is only logged. */
void pfcd_cpool_start(void);
/* Stop and join the workers; no request may be running. */
void pfcd_cpool_stop(void);

/* pfc_blocks_encrypt (format.h) with the same arguments, results and
 * errors; a large range is cut into runs of whole blocks done in parallel by
 * the pool and the calling thread. */
int pfcd_blocks_encrypt(struct pfc_filekey *fk, uint64_t generation, uint64_t first_index,
			const uint8_t *pt, size_t pt_len, uint8_t *out, size_t out_cap,
			size_t *out_len);

/* pread of stored_len bytes at off from fd into stored (room for as much),
 * then pfc_blocks_decrypt (format.h) of what was read, with its results and
 * errors; in parallel, each chunk reads and decrypts its own run of blocks.
 * On failure the lowest failing block is reported and all of out wiped.
 * *io_err = -errno if a read failed (then the result is 0 and out is not
 * valid), else 0 and the result is that of the decryption. */
int pfcd_blocks_read(struct pfc_filekey *fk, int fd, uint64_t off, uint64_t first_index,
		     uint8_t *stored, size_t stored_len, uint8_t *out, size_t out_cap,
		     size_t *out_len, uint64_t *bad_index, int *io_err);

#endif
