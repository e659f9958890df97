/* SPDX-License-Identifier: MIT */
/*
 * fileio.c - the content of regular files: header and key at open, block
 * reads and writes, truncate, fallocate, and write generations (DESIGN.md 2).
 *
 * Every function here runs with the inode's io_lock held, exclusively for
 * anything that modifies the file or in->f, shared for reads.  One write
 * range is one pwrite of consecutive stored blocks, encrypted in parallel
 * chunks when large (cryptpool.c); a read range is one pread, or for a
 * large one a pread per parallel chunk, each decrypted by the thread that
 * read it.  A write reads only the partial first and last blocks it merges
 * with, never a block it replaces whole.
 *
 * Generations: the first modification while no generation is in progress
 * writes generation+1 into the header (one pwrite of that field only) and
 * every block written until the last writer closes carries it.  A
 * modification with no writer open is a generation of its own.
 */
#include "fs/daemon/daemon.h"

#include "fs/daemon/cryptpool.h"

#include "fs/err.h"
#include "fs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sodium.h>
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
 * more than the crypto.  Slot SCRATCH_STORED holds stored (encrypted) bytes,
 * SCRATCH_PLAIN plaintext; a function uses each slot for one purpose at a
 * time.  Freed by the thread-key destructor when libfuse ends a worker.
 */
enum { SCRATCH_STORED = 0, SCRATCH_PLAIN = 1, SCRATCH_SLOTS = 2 };

struct scratch {
	uint8_t *p[SCRATCH_SLOTS];
	size_t cap[SCRATCH_SLOTS];
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *v)
{
	struct scratch *s = v;

	for (int i = 0; i < SCRATCH_SLOTS; i++)
		free(s->p[i]);
	free(s);
}

static void scratch_key_init(void)
{
	pthread_key_create(&scratch_key, scratch_free);
}

/* A buffer of at least n bytes in slot i of this thread (NULL if no memory). */
static uint8_t *scratch(int i, size_t n)
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

static struct pfc_filekey *fkey(const struct pfc_inode *in)
{
	return pfc_kentry_value(in->f.key);
}

static void close_ifd(struct pfc_inode *in)
{
	if (in->f.has_ifd && in->f.ifd >= 0)
		close(in->f.ifd);
	in->f.has_ifd = false;
}

/*
 * The daemon's own reads (header, partial blocks merged by a write) must not
 * change the backing atime: on a plain file only the user's reads do.  So a
 * loaded file gets an internal O_NOATIME descriptor when first needed (most
 * new files never need it); if it cannot be had (not root and not the
 * owner), the caller's fd is used, and the failure is remembered (ifd -1)
 * rather than retried on every read.  Caller holds io_lock exclusively.
 */
static int ifd(struct pfc_inode *in, int fd)
{
	if (!in->f.has_ifd) {
		char p[64];

		/* the caller's descriptor is of the same file: reopen it */
		pfcd_proc_path(fd, p);
		in->f.ifd = pfcd_openat(AT_FDCWD, p, O_RDWR | O_NOATIME | O_CLOEXEC, 0);
		in->f.has_ifd = true;
	}
	return in->f.ifd >= 0 ? in->f.ifd : fd;
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
	char path[PATH_MAX];

	if (!bad_block_is_new(in, index))
		return;
	pfcd_backing_path(in, path, sizeof(path));
	pfc_err_log("%s: block %llu: %s", path, (unsigned long long)index, pfc_strerror(err));
}

static void log_file(struct pfc_inode *in, const char *what, int err)
{
	char path[PATH_MAX];

	pfcd_backing_path(in, path, sizeof(path));
	pfc_err_log("%s: %s: %s", path, what, pfc_strerror(err));
}

int pfcd_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n =
		    pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

int pfcd_file_size(int fd, uint64_t *size, uint64_t *backing)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*backing = (uint64_t)st.st_size;
	*size = pfc_layout_plain_size(&pfcd_g->layout, (uint64_t)st.st_size);
	return 0;
}

/* --verbose: one line per file-key event, naming the backing file (never the key). */
static void log_debug(struct pfc_inode *in, const char *what)
{
	char path[PATH_MAX];

	if (!pfc_log_enabled(PFC_LOG_DEBUG))
		return;
	pfcd_backing_path(in, path, sizeof(path));
	pfc_debug("%s: %s", path, what);
}

/* Get the file key of a parsed header: key cache, else the keystore. */
static int get_key(struct pfc_inode *in, const struct pfc_header *h, struct pfc_kentry **out)
{
	struct pfcd *d = pfcd_g;
	uint8_t ad[PFC_AD_MAX];
	struct pfc_filekey *fk = NULL;
	struct pfc_kentry *e;
	uint8_t *key;
	size_t adlen;
	int rc;

	e = pfc_kcache_get(d->keys, h->file_id);
	if (e) {
		log_debug(in, "file key from the key cache");
		*out = e;
		return 0;
	}
	key = pfcd_keybuf(); /* locked, this thread's own; wiped below */
	if (!key)
		return -ENOMEM;
	adlen = pfc_ad_file_key(d->cfg.volume_id, h->file_id, ad);
	rc = pfc_ks_unwrap(d->ks, h->wrapped, h->wrapped_len, ad, adlen, key);
	if (rc < 0) {
		if (rc == PFC_ERR_LOCKED)
			pfcd_keystore_locked();
		log_file(in, "cannot unwrap the file key", rc);
		rc = pfcd_errno(rc);
		/* A blob refused as malformed (a damaged name in the header) is a
		 * bad header: EIO as for any other (DESIGN 4), not EINVAL. */
		if (rc == -EINVAL)
			rc = -EIO;
		goto out;
	}
	rc = pfc_filekey_new(key, h->file_id, &d->layout, &fk);
	if (rc < 0) {
		log_file(in, "file key", rc);
		rc = pfcd_errno(rc);
		goto out;
	}
	e = pfc_kcache_insert(d->keys, h->file_id, fk);
	if (!e) {
		rc = -ENOMEM;
		goto out;
	}
	log_debug(in, "file key unwrapped by the keystore");
	*out = e;
out:
	sodium_memzero(key, PFC_KEY_BYTES);
	return rc;
}

int pfcd_file_load(struct pfc_inode *in, int fd)
{
	uint8_t hb[PFC_HEADER_SIZE];
	struct pfc_header h;
	struct pfc_kentry *e = NULL;
	size_t got;
	int rc;

	if (in->f.loaded)
		return 0;
	rc = pfcd_pread_full(ifd(in, fd), hb, sizeof(hb), 0, &got);
	if (rc < 0)
		goto fail;
	if (got == 0) {
		/* empty file: the header comes with the first write */
		close_ifd(in);
		return 0;
	}
	if (got < PFC_HEADER_SIZE) {
		/* a header cut short (a sync in progress, a crash of a copier): a
		 * clear per-file error, as pfcrypt check reports it */
		log_file(in, "header", PFC_ERR_TRUNCATED);
		rc = -EIO;
		goto fail;
	}
	rc = pfc_header_parse(hb, got, &h);
	if (rc < 0) {
		log_file(in, "header", rc);
		rc = -EIO;
		goto fail;
	}
	rc = get_key(in, &h, &e);
	if (rc < 0)
		goto fail;
	rc = pfc_header_verify_generation(&h, pfc_kentry_value(e));
	if (rc < 0) {
		log_file(in, "header generation", rc);
		pfc_kcache_release(pfcd_g->keys, e);
		rc = -EIO;
		goto fail;
	}
	memcpy(in->f.file_id, h.file_id, PFC_ID_BYTES);
	in->f.generation = h.generation;
	in->f.key = e;
	in->f.loaded = true;
	return 0;
fail:
	close_ifd(in);
	return rc;
}

int pfcd_file_init_header(struct pfc_inode *in, int fd, bool fresh, bool writing)
{
	struct pfcd *d = pfcd_g;
	struct pfc_ks_filekey *nk;
	struct pfc_filekey *fk = NULL;
	struct pfc_kentry *e;
	struct pfc_header h;
	uint8_t hb[PFC_HEADER_SIZE];
	int rc;

	nk = pfcd_keybuf(); /* locked, this thread's own; wiped below */
	if (!nk)
		return -ENOMEM;
	rc = pfcd_keypool_take(nk);
	if (rc < 0) {
		if (rc == PFC_ERR_LOCKED)
			pfcd_keystore_locked();
		log_file(in, "cannot get a new file key", rc);
		rc = pfcd_errno(rc);
		goto out;
	}
	rc = pfc_filekey_new(nk->key, nk->file_id, &d->layout, &fk);
	if (rc == 0)
		rc = pfc_header_init(&h, nk->file_id, nk->blob, nk->blob_len);
	if (rc == 0)
		rc = pfc_header_encode(&h, fk, hb);
	if (rc == 0 && writing) /* FORMAT.md 3: a create for writing starts generation 1 */
		rc = pfc_header_generation_field(fk, 1, hb + PFC_HEADER_GEN_OFFSET);
	if (rc < 0) {
		log_file(in, "new header", rc);
		pfc_filekey_free(fk);
		rc = pfcd_errno(rc);
		goto out;
	}
	rc = pwrite_full(fd, hb, sizeof(hb), 0);
	if (rc == 0 && !fresh && ftruncate(fd, PFC_HEADER_SIZE) < 0)
		rc = -errno;
	if (rc < 0) {
		pfc_filekey_free(fk);
		goto out;
	}
	e = pfc_kcache_insert(d->keys, nk->file_id, fk);
	if (!e) {
		rc = -ENOMEM;
		goto out;
	}
	if (in->f.key)
		pfc_kcache_release(d->keys, in->f.key);
	memcpy(in->f.file_id, nk->file_id, PFC_ID_BYTES);
	in->f.generation = writing ? 1 : 0;
	in->f.gen_active = writing;
	in->f.key = e;
	in->f.loaded = true;
out:
	sodium_memzero(nk, sizeof(*nk));
	return rc;
}

void pfcd_file_unload(struct pfc_inode *in)
{
	if (in->f.key)
		pfc_kcache_release(pfcd_g->keys, in->f.key);
	in->f.key = NULL;
	in->f.loaded = false;
	in->f.gen_active = false;
	close_ifd(in);
}

/* Loaded state for a modification: the header exists and the key is held. */
static int ensure_header(struct pfc_inode *in, int fd)
{
	uint64_t size = 0, backing = 0;
	int rc;

	if (in->f.loaded)
		return 0;
	rc = pfcd_file_load(in, fd);
	if (rc < 0 || in->f.loaded)
		return rc;
	rc = pfcd_file_size(fd, &size, &backing);
	if (rc < 0)
		return rc;
	return pfcd_file_init_header(in, fd, false, false);
}

/* Start (or join) the write generation of this modification. */
static int begin_mod(struct pfc_inode *in, int fd)
{
	uint8_t field[PFC_HEADER_GEN_FIELD_SIZE];
	uint64_t g;
	int rc;

	if (in->f.gen_active)
		return 0;
	g = in->f.generation + 1;
	rc = pfc_header_generation_field(fkey(in), g, field);
	if (rc < 0)
		return pfcd_errno(rc);
	rc = pwrite_full(fd, field, sizeof(field), PFC_HEADER_GEN_OFFSET);
	if (rc < 0)
		return rc;
	in->f.generation = g;
	/* With no writer open, this modification is a generation of its own. */
	in->f.gen_active = in->f.writers > 0;
	return 0;
}

void pfcd_file_writer_closed(struct pfc_inode *in)
{
	if (in->f.writers > 0)
		in->f.writers--;
	if (in->f.writers == 0)
		in->f.gen_active = false;
}

/*
 * Decrypt blocks [first, first + count) of a file of plaintext size cur
 * into out (count * block_size bytes); *len = plaintext bytes.  One pread.
 */
static int read_blocks(struct pfc_inode *in, int fd, uint64_t cur, uint64_t first, uint64_t count,
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
	stored = scratch(SCRATCH_STORED, slen);
	if (!stored)
		return -ENOMEM;
	/* fd: the caller's for user reads, ifd() for the daemon's own */
	rc = pfcd_blocks_read(fkey(in), fd, pfc_layout_block_offset(l, first), first, stored, slen,
			      out, count * bs, &plen, &bad, &ioerr);
	if (ioerr < 0) {
		rc = ioerr;
		goto out;
	}
	if (rc == PFC_ERR_AUTH || rc == PFC_ERR_TRUNCATED) {
		log_block(in, bad, rc);
		rc = -EIO;
		goto out;
	} else if (rc < 0) {
		log_file(in, "decrypt", rc);
		rc = -EIO;
		goto out;
	}
	*len = plen;
out:
	return rc;
}

/* Reserve backing space without changing the size: -ENOSPC/-EDQUOT when
 * the disk is full; 0 otherwise (also where fallocate is not supported). */
static int reserve(int fd, uint64_t off, uint64_t len)
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
 */
#define SIZE_UNKNOWN UINT64_MAX

/* old_size: the backing size if the caller knows it (under io_lock, nothing
 * written since it was read), else SIZE_UNKNOWN (one fstat). */
static int write_blocks(struct pfc_inode *in, int fd, uint64_t first, const uint8_t *pt, size_t len,
			bool reserved, uint64_t old_size)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	size_t cap = (size_t)pfc_layout_stored_len(l, len), slen, save_len = 0, got = 0;
	uint64_t off = pfc_layout_block_offset(l, first), old;
	uint8_t *stored = scratch(SCRATCH_STORED, cap ? cap : 1), *save = NULL;
	struct stat st;
	int rc;

	if (!stored)
		return -ENOMEM;
	rc = pfcd_blocks_encrypt(fkey(in), in->f.generation, first, pt, len, stored, cap, &slen);
	if (rc < 0) {
		log_file(in, "encrypt", rc);
		return pfcd_errno(rc);
	}
	if (old_size != SIZE_UNKNOWN) {
		old = old_size;
	} else {
		if (fstat(fd, &st) < 0)
			return -errno;
		old = (uint64_t)st.st_size;
	}
	if (off + slen > old) {
		rc = reserved ? 0 : reserve(fd, off, slen);
		if (rc < 0)
			return rc;
		if (off < old) {
			save_len = (size_t)(old - off);
			save = malloc(save_len);
			if (!save)
				return -ENOMEM;
			rc = pfcd_pread_full(ifd(in, fd), save, save_len, off, &got);
			if (rc < 0 || got != save_len) {
				free(save);
				return rc < 0 ? rc : -EIO;
			}
		}
	}
	rc = pwrite_full(fd, stored, slen, off);
	/* A large write (streaming): start its writeback now, so that the disk
	 * works while the next requests are encrypted instead of all of it in
	 * the writer's final fsync.  Only a hint: its failure is not the
	 * write's (an I/O error still surfaces in fsync). */
	if (rc == 0 && slen >= WRITEBACK_MIN)
		(void)sync_file_range(fd, (off_t)off, (off_t)slen, SYNC_FILE_RANGE_WRITE);
	if (rc < 0 && off + slen > old) {
		if (save && pwrite_full(fd, save, save_len, off) < 0)
			log_file(in, "cannot undo a failed write", PFC_ERR_IO);
		if (ftruncate(fd, (off_t)old) < 0)
			log_file(in, "cannot undo a failed write", PFC_ERR_IO);
	}
	free(save);
	return rc;
}

/*
 * Rewrite block idx of a file of size cur so that it holds new_len bytes:
 * its old bytes, zeros past them, and zeros over [zfrom, zto) (offsets in
 * the block).  Used to pad an old tail, shorten a new tail, punch a part.
 */
static int rmw_block(struct pfc_inode *in, int fd, uint64_t cur, uint64_t idx, size_t new_len,
		     size_t zfrom, size_t zto)
{
	size_t bs = pfcd_g->layout.block_size, old = 0;
	uint8_t *pt = calloc(1, bs);
	int rc;

	if (!pt)
		return -ENOMEM;
	rc = read_blocks(in, ifd(in, fd), cur, idx, 1, pt, &old);
	if (rc < 0)
		goto out;
	if (old > new_len)
		memset(pt + new_len, 0, bs - new_len);
	if (zto > zfrom)
		memset(pt + zfrom, 0, zto - zfrom);
	if (new_len)
		rc = write_blocks(in, fd, idx, pt, new_len, false, SIZE_UNKNOWN);
out:
	free(pt);
	return rc;
}

/* Volumes without hole semantics: write encrypted zeros in blocks [from, to). */
static int write_zero_blocks(struct pfc_inode *in, int fd, uint64_t from, uint64_t to,
			     uint64_t size_after)
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
		rc = write_blocks(in, fd, from, z, (size_t)len, false, SIZE_UNKNOWN);
		from += n;
	}
	free(z);
	return rc;
}

/* Grow a file from cur to size (> cur) with zeros; generation begun. */
static int extend(struct pfc_inode *in, int fd, uint64_t cur, uint64_t size)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t bs = l->block_size;
	int rc;

	if (cur % bs) {
		uint64_t idx = cur / bs, nl = size - idx * bs;

		rc = rmw_block(in, fd, cur, idx, (size_t)(nl < bs ? nl : bs), 0, 0);
		if (rc < 0)
			return rc;
	}
	if (ftruncate(fd, (off_t)pfc_layout_backing_size(l, size)) < 0)
		return -errno;
	return write_zero_blocks(in, fd, (cur + bs - 1) / bs, (size + bs - 1) / bs, size);
}

int pfcd_file_read(struct pfc_inode *in, int fd, size_t size, off_t off, const char **data,
		   size_t *got)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t cur = 0, backing = 0, first, count, end, o = (uint64_t)off;
	size_t plen;
	uint8_t *pt;
	int rc;

	rc = pfcd_file_size(fd, &cur, &backing);
	if (rc < 0)
		return rc;
	if (o >= cur || size == 0) {
		*got = 0;
		return 0;
	}
	if (!in->f.loaded)
		return -EIO; /* data without a readable header: open refused it */
	end = o + size < cur ? o + size : cur;
	pfc_layout_block_range(l, o, end - o, &first, &count);
	pt = scratch(SCRATCH_PLAIN, count * l->block_size);
	if (!pt)
		return -ENOMEM;
	rc = read_blocks(in, fd, cur, first, count, pt, &plen);
	if (rc == 0) {
		uint64_t skip = o - first * l->block_size;

		if (plen < skip + (end - o)) {
			rc = -EIO;
		} else {
			*data =
			    (const char *)pt + skip; /* valid until this thread's next request */
			*got = (size_t)(end - o);
		}
	}
	return rc;
}

int pfcd_file_write(struct pfc_inode *in, int fd, const char *buf, size_t size, off_t off,
		    bool append, bool own_generation)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t bs = l->block_size, cur = 0, backing = 0, o = (uint64_t)off, end, first, last,
		 newsize;
	uint64_t span_end, span, head;
	const uint8_t *src;
	uint8_t *pt = NULL;
	size_t got;
	int rc;

	(void)own_generation;
	if (size == 0)
		return 0;
	rc = ensure_header(in, fd);
	if (rc < 0)
		return rc;
	rc = pfcd_file_size(fd, &cur, &backing);
	if (rc < 0)
		return rc;
	if (append)
		o = cur;
	end = o + size;
	if (end > PFC_PLAIN_SIZE_MAX || end < o)
		return -EFBIG;
	first = o / bs;
	last = (end - 1) / bs;
	newsize = end > cur ? end : cur;
	span_end = (last + 1) * bs < newsize ? (last + 1) * bs : newsize;
	span = span_end - first * bs;
	/* Growing: reserve the space of the padded old tail and of the new range
	 * first (not of a gap between them: that stays a hole), so that a full
	 * disk fails before any byte changes.  Not for a write that starts
	 * exactly at an old end that is a block boundary (an append to a new or
	 * block-aligned file, as tar and cp make): it rewrites no old byte, so
	 * cutting the file back undoes it (write_blocks), and each fallocate
	 * costs about 20 us on ext4. */
	if (pfc_layout_block_offset(l, first) + pfc_layout_stored_len(l, span) > backing &&
	    !(o == cur && cur % bs == 0)) {
		rc = reserve(fd, pfc_layout_block_offset(l, first), pfc_layout_stored_len(l, span));
		if (rc == 0 && cur % bs && o > cur && cur / bs < first)
			rc =
			    reserve(fd, pfc_layout_block_offset(l, cur / bs), l->stored_block_size);
		if (rc < 0)
			return rc;
	}
	rc = begin_mod(in, fd);
	if (rc < 0)
		return rc;
	/* The old tail block is not part of this range: pad it to a full block. */
	if (cur % bs && o > cur && cur / bs < first) {
		rc = rmw_block(in, fd, cur, cur / bs, (size_t)bs, 0, 0);
		if (rc < 0)
			return rc;
	}
	if (o > cur) {
		rc = write_zero_blocks(in, fd, (cur + bs - 1) / bs, first, o);
		if (rc < 0)
			return rc;
	}
	head = o - first * bs;
	if (head == 0 && span == size) {
		/* Nothing to merge (whole blocks, or a new tail): encrypt straight
		 * from the request's buffer, no copy. */
		src = (const uint8_t *)buf;
		goto write;
	}
	/* whole blocks of room: a block decrypt may use (and wipes) a full block */
	pt = scratch(SCRATCH_PLAIN, (size_t)((last - first + 1) * bs));
	if (!pt)
		return -ENOMEM;
	/* zeros where neither old bytes nor new ones go (a gap past the old end) */
	memset(pt, 0, (size_t)head);
	memset(pt + head + size, 0, (size_t)(span - head - size));
	/* Merge with the partial first and last blocks; whole blocks are not read. */
	if (head && first * bs < cur) {
		rc = read_blocks(in, ifd(in, fd), cur, first, 1, pt, &got);
		if (rc < 0)
			goto out;
	}
	if (end < span_end && end < cur && (last != first || !head)) {
		rc = read_blocks(in, ifd(in, fd), cur, last, 1, pt + (last - first) * bs, &got);
		if (rc < 0)
			goto out;
	}
	memcpy(pt + head, buf, size);
	src = pt;
write:
	/* reserved above; the size read above still holds unless a pad or a gap
	 * was written */
	rc = write_blocks(in, fd, first, src, (size_t)span, true, o > cur ? SIZE_UNKNOWN : backing);
	if (rc < 0)
		goto out;
	/* A torn tail past the old end (crash, sync client) must not linger. */
	if (end >= cur && backing > pfc_layout_backing_size(l, newsize) &&
	    ftruncate(fd, (off_t)pfc_layout_backing_size(l, newsize)) < 0)
		rc = -errno;
out:
	return rc;
}

int pfcd_file_truncate(struct pfc_inode *in, int fd, uint64_t size, bool own_generation)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t bs = l->block_size, cur = 0, backing = 0;
	int rc;

	(void)own_generation;
	if (size > PFC_PLAIN_SIZE_MAX)
		return -EFBIG;
	rc = pfcd_file_load(in, fd);
	if (rc < 0)
		return rc;
	rc = pfcd_file_size(fd, &cur, &backing);
	if (rc < 0)
		return rc;
	if (size == cur) {
		/* not a modification; only drop a torn tail if there is one */
		if (in->f.loaded && backing != pfc_layout_backing_size(l, size) &&
		    ftruncate(fd, (off_t)pfc_layout_backing_size(l, size)) < 0)
			return -errno;
		return 0;
	}
	rc = ensure_header(in, fd);
	if (rc == 0)
		rc = begin_mod(in, fd);
	if (rc < 0)
		return rc;
	if (size > cur)
		return extend(in, fd, cur, size);
	if (size % bs) {
		rc = rmw_block(in, fd, cur, size / bs, (size_t)(size % bs), 0, 0);
		if (rc < 0)
			return rc;
	}
	if (ftruncate(fd, (off_t)pfc_layout_backing_size(l, size)) < 0)
		return -errno;
	return 0;
}

static int punch(struct pfc_inode *in, int fd, uint64_t cur, uint64_t o, uint64_t end)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t bs = l->block_size, a, b;
	int rc;

	if (end > cur)
		end = cur;
	if (o >= end)
		return 0;
	a = (o + bs - 1) / bs;				 /* first block wholly inside */
	b = end == cur ? (end + bs - 1) / bs : end / bs; /* one past the last */
	if (o % bs) {
		uint64_t idx = o / bs, blen = cur - idx * bs < bs ? cur - idx * bs : bs;
		uint64_t zto = end - idx * bs < blen ? end - idx * bs : blen;

		rc = rmw_block(in, fd, cur, idx, (size_t)blen, (size_t)(o % bs), (size_t)zto);
		if (rc < 0)
			return rc;
	}
	if (end % bs && end < cur && end / bs >= a) {
		uint64_t idx = end / bs, blen = cur - idx * bs < bs ? cur - idx * bs : bs;

		rc = rmw_block(in, fd, cur, idx, (size_t)blen, 0, (size_t)(end % bs));
		if (rc < 0)
			return rc;
	}
	if (a < b) {
		uint64_t start = pfc_layout_block_offset(l, a);
		uint64_t plain_end = b * bs < cur ? b * bs : cur;
		uint64_t len = pfc_layout_stored_len(l, plain_end - a * bs);

		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)start,
			      (off_t)len) < 0)
			return -errno;
	}
	return 0;
}

int pfcd_file_fallocate(struct pfc_inode *in, int fd, int mode, off_t off, off_t len,
			bool own_generation)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t cur = 0, backing = 0, o = (uint64_t)off, end = (uint64_t)off + (uint64_t)len,
		 first, count;
	int rc;

	(void)own_generation;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) &&
	    (!(mode & FALLOC_FL_KEEP_SIZE) || !l->zero_block_is_hole))
		return -EOPNOTSUPP;
	if (end > PFC_PLAIN_SIZE_MAX)
		return -EFBIG;
	rc = ensure_header(in, fd);
	if (rc == 0)
		rc = pfcd_file_size(fd, &cur, &backing);
	if (rc == 0)
		rc = begin_mod(in, fd);
	if (rc < 0)
		return rc;
	if (mode & FALLOC_FL_PUNCH_HOLE)
		return punch(in, fd, cur, o, end);
	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > cur) {
		rc = extend(in, fd, cur, end);
		if (rc < 0)
			return rc;
	}
	/* Reserve the backing space of the blocks (reads as zeros: holes). */
	pfc_layout_block_range(l, o, end - o, &first, &count);
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)pfc_layout_block_offset(l, first),
		      (off_t)(count * l->stored_block_size)) < 0 &&
	    errno != EOPNOTSUPP)
		return -errno;
	return 0;
}

/*
 * SEEK_DATA / SEEK_HOLE in plaintext offsets, from the backing file's own
 * holes.  Block i is a hole when its stored bytes lie wholly in a backing
 * hole (it then reads as zeros); otherwise it is data (written zeros, or a
 * block only partly in a hole, count as data).  Every offset is classified
 * by its block, so SEEK_DATA and SEEK_HOLE always agree.  Volumes without
 * hole semantics report the whole file as data.  Caller holds io_lock.
 */
static uint64_t block_of(const struct pfc_layout *l, uint64_t backing_off)
{
	if (backing_off < l->header_size)
		return 0;
	return (backing_off - l->header_size) / l->stored_block_size;
}

int pfcd_file_seek(struct pfc_inode *in, int fd, off_t off, int whence, off_t *out)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t cur = 0, backing = 0, o = (uint64_t)off, bs = l->block_size, nblocks, k;
	off_t r;
	int rc;

	(void)in;
	rc = pfcd_file_size(fd, &cur, &backing);
	if (rc < 0)
		return rc;
	if (off < 0 || o >= cur)
		return -ENXIO;
	if (!l->zero_block_is_hole) {
		*out = whence == SEEK_DATA ? off : (off_t)cur;
		return 0;
	}
	nblocks = (cur + bs - 1) / bs;
	if (whence == SEEK_DATA) {
		/* the block holding the first data byte at or after block o/bs */
		r = lseek(fd, (off_t)pfc_layout_block_offset(l, o / bs), SEEK_DATA);
		if (r < 0)
			return errno == ENXIO ? -ENXIO : -errno;
		k = block_of(l, (uint64_t)r);
		if (k >= nblocks)
			return -ENXIO;
		*out = (off_t)(k * bs > o ? k * bs : o);
		return 0;
	}
	/* SEEK_HOLE: the first block at or after o/bs wholly inside a backing hole */
	for (k = o / bs; k < nblocks;) {
		uint64_t start = pfc_layout_block_offset(l, k);
		uint64_t end =
		    start + l->stored_block_size < backing ? start + l->stored_block_size : backing;

		r = lseek(fd, (off_t)start, SEEK_DATA);
		if (r < 0 && errno != ENXIO)
			return -errno;
		if (r < 0 || (uint64_t)r >= end)
			break; /* block k has no data byte: a hole */
		/* block k holds data: look past the end of that data */
		r = lseek(fd, r, SEEK_HOLE);
		if (r < 0)
			return -errno;
		k = block_of(l, (uint64_t)r);
		if ((uint64_t)r > pfc_layout_block_offset(l, k))
			k++; /* the hole starts inside block k: k itself has data */
	}
	*out = (off_t)(k >= nblocks ? cur : (k * bs > o ? k * bs : o));
	return 0;
}
