/* SPDX-License-Identifier: MIT */
/*
 * content.h - what the files of regular-file content share among themselves
 * (filekey.c, generation.c, blocks.c, fileio.c, filesize.c); the FUSE
 * operations use the pfcd_file_* calls of daemon.h instead.
 *
 * Every function here runs with the inode's io_lock held, exclusively for
 * anything that modifies the file or in->f, shared for reads.
 */
#ifndef PFC_DAEMON_CONTENT_H
#define PFC_DAEMON_CONTENT_H

#include "fs/daemon/daemon.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The held file key of a loaded inode. */
static inline struct pfc_filekey *pfcd_fkey(const struct pfc_inode *in)
{
	return pfc_kentry_value(in->f.key);
}

/* ---------------------------------------------------------- filekey.c */
/* The inode's internal O_NOATIME descriptor for the daemon's own reads, or
 * the caller's fd if it cannot be had (io_lock exclusive). */
int pfcd_file_ifd(struct pfc_inode *in, int fd);
/* One log line "BACKING_PATH: what: cause". */
void pfcd_file_log(struct pfc_inode *in, const char *what, int err);
/* Loaded state for a modification: the header exists and the key is held
 * (an empty file gets its header).  io_lock exclusive. */
int pfcd_file_ensure_header(struct pfc_inode *in, int fd);

/* ------------------------------------------------------- generation.c */
/* Start (or join) the write generation of this modification: the first
 * one writes generation+1 into the header.  io_lock exclusive. */
int pfcd_gen_begin(struct pfc_inode *in, int fd);

/* ----------------------------------------------------------- blocks.c */
/* Per-thread scratch slots for request ranges (see blocks.c). */
enum { PFCD_SCRATCH_STORED = 0, PFCD_SCRATCH_PLAIN = 1, PFCD_SCRATCH_SLOTS = 2 };
/* A buffer of at least n bytes in slot i of this thread (NULL if no memory). */
uint8_t *pfcd_scratch(int i, size_t n);
/* Decrypt blocks [first, first + count) of a file of plaintext size cur
 * into out (count * block_size bytes); *len = plaintext bytes.  One pread
 * (in parallel chunks when large); a bad block is -EIO, logged. */
int pfcd_blk_read(struct pfc_inode *in, int fd, uint64_t cur, uint64_t first, uint64_t count,
		  uint8_t *out, size_t *len);
/* Reserve backing space without changing the size: -ENOSPC/-EDQUOT when
 * the disk is full; 0 otherwise (also where fallocate is not supported). */
int pfcd_blk_reserve(int fd, uint64_t off, uint64_t len);
/* old_size argument of pfcd_blk_write when the caller does not know it */
#define PFCD_SIZE_UNKNOWN UINT64_MAX
/* Encrypt len plaintext bytes as blocks from first in the current
 * generation and write them with one pwrite; a failed write that grew the
 * file is undone.  reserved: the caller reserved the space past the end.
 * old_size: the backing size if the caller knows it, else PFCD_SIZE_UNKNOWN. */
int pfcd_blk_write(struct pfc_inode *in, int fd, uint64_t first, const uint8_t *pt, size_t len,
		   bool reserved, uint64_t old_size);
/* Rewrite block idx of a file of size cur so that it holds new_len bytes:
 * its old bytes, zeros past them, and zeros over [zfrom, zto). */
int pfcd_blk_rewrite(struct pfc_inode *in, int fd, uint64_t cur, uint64_t idx, size_t new_len,
		     size_t zfrom, size_t zto);
/* Volumes without hole semantics: write encrypted zeros in blocks [from, to)
 * of a file whose plaintext size is then size_after. */
int pfcd_blk_zero(struct pfc_inode *in, int fd, uint64_t from, uint64_t to, uint64_t size_after);

#endif
