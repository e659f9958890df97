/* SPDX-License-Identifier: MIT */
/*
 * blocks.c - runs of a regular file's blocks: decrypt a run with one pread,
 * encrypt and write one with one pwrite (in parallel chunks when large,
 * cryptpool.c), rewrite one partial block, write encrypted zeros where a
 * volume has no holes; the per-thread scratch buffers of request ranges and
 * the log of bad blocks.
 *
 * Every function here runs with the inode's io_lock held, exclusively for
 * writes, shared for reads.  A write of a run reads only the old bytes it
 * must put back if it fails, never a block it replaces whole.
 */
#include "fs/daemon/content.h"

#include "fs/daemon/cryptpool.h"

#include "fs/err.h"
#include "fs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ZERO_CHUNK_BLOCKS 256	       /* blocks of encrypted zeros written per pwrite */
#define SCRATCH_KEEP	  (4u << 20)   /* larger per-thread buffers are not kept */
#define WRITEBACK_MIN	  (256u << 10) /* stored bytes of a write whose writeback starts at once */

/*
 * Per-thread scratch buffers for request ranges (up to max_write plus block
 * overhead): allocating fresh ones per request costs page faults that cost
 * more than the crypto.  Slot PFCD_SCRATCH_STORED holds stored (encrypted) bytes,
 * PFCD_SCRATCH_PLAIN plaintext; a function uses each slot for one purpose at a
 * time.  Freed by the thread-key destructor when libfuse ends a worker.
 */
struct scratch {
	uint8_t *p[PFCD_SCRATCH_SLOTS];
	size_t cap[PFCD_SCRATCH_SLOTS];
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *v)
{
	struct scratch *s = v;

	for (int i = 0; i < PFCD_SCRATCH_SLOTS; i++)
		free(s->p[i]);
	free(s);
}

static void scratch_key_init(void)
{
	pthread_key_create(&scratch_key, scratch_free);
}

uint8_t *pfcd_scratch(int i, size_t n)
{
	struct scratch *s;

	pthread_once(&scratch_once, scratch_key_init);
	s = pthread_getspecific(scratch_key);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s || pthread_setspecific(scratch_key, s) != 0) {
			free(s);
			return NULL;
		}
	}
	if (s->cap[i] < n || (s->cap[i] > SCRATCH_KEEP && n <= SCRATCH_KEEP)) {
		size_t c = n < 65536 ? 65536 : n;

		free(s->p[i]);
		s->p[i] = malloc(c);
		s->cap[i] = s->p[i] ? c : 0;
	}
	return s->p[i];
}

/*
 * One bad block read by one user read comes as several requests (the
 * kernel's readahead, then its page-by-page retry): log it once, not once
 * per request.  The last logged (file, block) is remembered for
 * BAD_BLOCK_QUIET_S seconds.  bad_lock is a leaf lock.
 */
#define BAD_BLOCK_QUIET_S 10
static pthread_mutex_t bad_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	dev_t dev;
	ino_t ino;
	uint64_t index;
	time_t when;
} bad_last; /* protected by bad_lock */

static bool bad_block_is_new(const struct pfc_inode *in, uint64_t index)
{
	struct timespec now;
	bool fresh;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&bad_lock);
	fresh = bad_last.dev != in->dev || bad_last.ino != in->ino || bad_last.index != index ||
		now.tv_sec - bad_last.when >= BAD_BLOCK_QUIET_S;
	if (fresh) {
		bad_last.dev = in->dev;
		bad_last.ino = in->ino;
		bad_last.index = index;
		bad_last.when = now.tv_sec;
	}
	pthread_mutex_unlock(&bad_lock);
	return fresh;
}

static void log_block(struct pfc_inode *in, uint64_t index, int err)
{
	char path[PATH_MAX], plain[PATH_MAX + 16];

	if (!bad_block_is_new(in, index))
		return;
	pfcd_log_path(in, path, sizeof(path), plain, sizeof(plain));
	pfc_err_log("%s: block %llu: %s%s", path, (unsigned long long)index, pfc_strerror(err),
		    plain);
}

/*
 * Decrypt blocks [first, first + count) of a file of plaintext size cur
 * into out (count * block_size bytes); *len = plaintext bytes.  One pread,
 * or a pread per parallel chunk, each decrypted by the thread that read it.
 */
int pfcd_blk_read(struct pfc_inode *in, int fd, uint64_t cur, uint64_t first, uint64_t count,
		  uint8_t *out, size_t *len)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t bs = l->block_size, start = first * bs, end = (first + count) * bs, bad = 0;
	size_t slen, plen;
	uint8_t *stored;
	int rc, ioerr;

	if (end > cur)
		end = cur;
	if (start >= end) {
		*len = 0;
		return 0;
	}
	slen = (size_t)pfc_layout_stored_len(l, end - start);
	stored = pfcd_scratch(PFCD_SCRATCH_STORED, slen);
	if (!stored)
		return -ENOMEM;
	/* fd: the caller's for user reads, ifd() for the daemon's own */
	rc = pfcd_blocks_read(pfcd_fkey(in), fd, pfc_layout_block_offset(l, first), first, stored,
			      slen, out, count * bs, &plen, &bad, &ioerr);
	if (ioerr < 0) {
		rc = ioerr;
		goto out;
	}
	if (rc == PFC_ERR_AUTH || rc == PFC_ERR_TRUNCATED) {
		log_block(in, bad, rc);
		rc = -EIO;
		goto out;
	} else if (rc < 0) {
		pfcd_file_log(in, "decrypt", rc);
		rc = -EIO;
		goto out;
	}
	*len = plen;
out:
	return rc;
}

int pfcd_blk_reserve(int fd, uint64_t off, uint64_t len)
{
	if (len && fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0 &&
	    (errno == ENOSPC || errno == EDQUOT))
		return -errno;
	return 0;
}

/*
 * Encrypt len plaintext bytes as blocks from first in the current
 * generation and write them with one pwrite.
 *
 * A write that grows the backing file must not damage what is there when
 * the disk is full: it would overwrite an old partial tail block with the
 * start of its longer replacement and then fail.  So the space past the end
 * is reserved first (fallocate KEEP_SIZE: ENOSPC before any byte changes;
 * not when the caller has reserved it already: "reserved"), and if the
 * write still fails (a file system without fallocate, or a write that
 * rewrites no old byte and was not reserved), the old bytes it covered are
 * put back and the file cut to its old size.
 *
 * old_size: the backing size if the caller knows it (under io_lock, nothing
 * written since it was read), else PFCD_SIZE_UNKNOWN (one fstat).
 */
int pfcd_blk_write(struct pfc_inode *in, int fd, uint64_t first, const uint8_t *pt, size_t len,
		   bool reserved, uint64_t old_size)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	size_t cap = (size_t)pfc_layout_stored_len(l, len), slen, save_len = 0, got = 0;
	uint64_t off = pfc_layout_block_offset(l, first), old;
	uint8_t *stored = pfcd_scratch(PFCD_SCRATCH_STORED, cap ? cap : 1), *save = NULL;
	struct stat st;
	int rc;

	if (!stored)
		return -ENOMEM;
	rc = pfcd_blocks_encrypt(pfcd_fkey(in), in->f.generation, first, pt, len, stored, cap,
				 &slen);
	if (rc < 0) {
		pfcd_file_log(in, "encrypt", rc);
		return pfcd_errno(rc);
	}
	if (old_size != PFCD_SIZE_UNKNOWN) {
		old = old_size;
	} else {
		if (fstat(fd, &st) < 0)
			return -errno;
		old = (uint64_t)st.st_size;
	}
	if (off + slen > old) {
		rc = reserved ? 0 : pfcd_blk_reserve(fd, off, slen);
		if (rc < 0)
			return rc;
		if (off < old) {
			save_len = (size_t)(old - off);
			save = malloc(save_len);
			if (!save)
				return -ENOMEM;
			rc = pfcd_pread_full(pfcd_file_ifd(in, fd), save, save_len, off, &got);
			if (rc < 0 || got != save_len) {
				free(save);
				return rc < 0 ? rc : -EIO;
			}
		}
	}
	rc = pfcd_pwrite_full(fd, stored, slen, off);
	/* A large write (streaming): start its writeback now, so that the disk
	 * works while the next requests are encrypted instead of all of it in
	 * the writer's final fsync.  Only a hint: its failure is not the
	 * write's (an I/O error still surfaces in fsync). */
	if (rc == 0 && slen >= WRITEBACK_MIN)
		(void)sync_file_range(fd, (off_t)off, (off_t)slen, SYNC_FILE_RANGE_WRITE);
	if (rc < 0 && off + slen > old) {
		if (save && pfcd_pwrite_full(fd, save, save_len, off) < 0)
			pfcd_file_log(in, "cannot undo a failed write", PFC_ERR_IO);
		if (ftruncate(fd, (off_t)old) < 0)
			pfcd_file_log(in, "cannot undo a failed write", PFC_ERR_IO);
	}
	free(save);
	return rc;
}

/*
 * Rewrite block idx of a file of size cur so that it holds new_len bytes:
 * its old bytes, zeros past them, and zeros over [zfrom, zto) (offsets in
 * the block).  Used to pad an old tail, shorten a new tail, punch a part.
 */
int pfcd_blk_rewrite(struct pfc_inode *in, int fd, uint64_t cur, uint64_t idx, size_t new_len,
		     size_t zfrom, size_t zto)
{
	size_t bs = pfcd_g->layout.block_size, old = 0;
	uint8_t *pt = calloc(1, bs);
	int rc;

	if (!pt)
		return -ENOMEM;
	rc = pfcd_blk_read(in, pfcd_file_ifd(in, fd), cur, idx, 1, pt, &old);
	if (rc < 0)
		goto out;
	if (old > new_len)
		memset(pt + new_len, 0, bs - new_len);
	if (zto > zfrom)
		memset(pt + zfrom, 0, zto - zfrom);
	if (new_len)
		rc = pfcd_blk_write(in, fd, idx, pt, new_len, false, PFCD_SIZE_UNKNOWN);
out:
	free(pt);
	return rc;
}

/* Volumes without hole semantics: write encrypted zeros in blocks [from, to). */
int pfcd_blk_zero(struct pfc_inode *in, int fd, uint64_t from, uint64_t to, uint64_t size_after)
{
	uint64_t bs = pfcd_g->layout.block_size;
	uint8_t *z;
	int rc = 0;

	if (pfcd_g->layout.zero_block_is_hole || from >= to)
		return 0;
	z = calloc(ZERO_CHUNK_BLOCKS, bs);
	if (!z)
		return -ENOMEM;
	while (from < to && rc == 0) {
		uint64_t n = to - from < ZERO_CHUNK_BLOCKS ? to - from : ZERO_CHUNK_BLOCKS;
		uint64_t len = n * bs;

		if (from * bs + len > size_after)
			len = size_after - from * bs;
		rc = pfcd_blk_write(in, fd, from, z, (size_t)len, false, PFCD_SIZE_UNKNOWN);
		from += n;
	}
	free(z);
	return rc;
}
