/* SPDX-License-Identifier: MIT */
/*
 * filesize.c - changes of a regular file's size and extent: truncate (down,
 * or up with zeros), fallocate (reserve, extend, PUNCH_HOLE of whole blocks
 * with partial ones rewritten), and SEEK_DATA/SEEK_HOLE answered from the
 * backing file's holes.
 *
 * Callers hold the inode's io_lock: exclusively for truncate and
 * fallocate, shared for seek.  A truncate or fallocate is a modification:
 * it begins (or joins) a write generation (generation.c) -- except a
 * truncate to 0, which drops the header and with it the file key.
 */
#include "fs/daemon/content.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

/* Grow a file from cur to size (> cur) with zeros; generation begun. */
static int extend(struct pfc_inode *in, int fd, uint64_t cur, uint64_t size)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t bs = l->block_size;
	int rc;

	if (cur % bs) {
		uint64_t idx = cur / bs, nl = size - idx * bs;

		rc = pfcd_blk_rewrite(in, fd, cur, idx, (size_t)(nl < bs ? nl : bs), 0, 0);
		if (rc < 0)
			return rc;
	}
	if (ftruncate(fd, (off_t)pfc_layout_backing_size(l, size)) < 0)
		return -errno;
	return pfcd_blk_zero(in, fd, (cur + bs - 1) / bs, (size + bs - 1) / bs, size);
}

/*
 * Truncate to 0 (FORMAT.md 3): the backing file is cut to 0 bytes, an empty
 * file without a header, and the loaded state (header, file key) dropped;
 * the next modification makes a new header with a new file id and key, so
 * the old contents stay under a key no live header holds (retiring its
 * master-key version then shreds every old copy).  Needs no key: a file
 * whose key is unknown or whose header is damaged can be emptied too, as
 * on gocryptfs.  Under the header lock, so a concurrent rewrap's one
 * pwrite cannot land in the emptied file.
 */
static int make_empty(struct pfc_inode *in, int fd)
{
	struct stat st;
	int rc = 0, lk;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size == 0 && !in->f.loaded)
		return 0;
	lk = pfc_header_lock(fd, PFC_HEADER_LOCK_WAIT_MS);
	if (lk < 0)
		pfcd_file_log(in, "header lock (truncating to 0 anyway)", lk);
	if (ftruncate(fd, 0) < 0)
		rc = -errno;
	if (lk == 0)
		pfc_header_unlock(fd);
	if (rc == 0)
		pfcd_file_unload(in);
	return rc;
}

int pfcd_file_truncate(struct pfc_inode *in, int fd, uint64_t size)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t bs = l->block_size, cur = 0, backing = 0;
	int rc;

	if (size > PFC_PLAIN_SIZE_MAX)
		return -EFBIG;
	if (size == 0)
		return make_empty(in, fd);
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
	rc = pfcd_file_ensure_header(in, fd);
	if (rc == 0)
		rc = pfcd_gen_begin(in, fd);
	if (rc < 0)
		return rc;
	if (size > cur)
		return extend(in, fd, cur, size);
	if (size % bs) {
		rc = pfcd_blk_rewrite(in, fd, cur, size / bs, (size_t)(size % bs), 0, 0);
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

		rc =
		    pfcd_blk_rewrite(in, fd, cur, idx, (size_t)blen, (size_t)(o % bs), (size_t)zto);
		if (rc < 0)
			return rc;
	}
	if (end % bs && end < cur && end / bs >= a) {
		uint64_t idx = end / bs, blen = cur - idx * bs < bs ? cur - idx * bs : bs;

		rc = pfcd_blk_rewrite(in, fd, cur, idx, (size_t)blen, 0, (size_t)(end % bs));
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

int pfcd_file_fallocate(struct pfc_inode *in, int fd, int mode, off_t off, off_t len)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t cur = 0, backing = 0, o = (uint64_t)off, end = (uint64_t)off + (uint64_t)len,
		 first, count;
	int rc;

	if (off < 0 || len <= 0)
		return -EINVAL;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) &&
	    (!(mode & FALLOC_FL_KEEP_SIZE) || !l->zero_block_is_hole))
		return -EOPNOTSUPP;
	if (end > PFC_PLAIN_SIZE_MAX)
		return -EFBIG;
	rc = pfcd_file_ensure_header(in, fd);
	if (rc == 0)
		rc = pfcd_file_size(fd, &cur, &backing);
	if (rc == 0)
		rc = pfcd_gen_begin(in, fd);
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
 * holes.  Block i is a hole when its stored bytes are all zero (it then reads
 * as zeros, FORMAT.md 4.4): wholly in a backing hole, or partly, the rest
 * zeros that the backing file system wrote around a neighbour's data (stored
 * blocks do not start on its block boundaries) or around a punched range.
 * Every offset is classified by its block, so SEEK_DATA and SEEK_HOLE always
 * agree.  Volumes without hole semantics report the whole file as data.
 * Caller holds io_lock.
 */
static uint64_t block_of(const struct pfc_layout *l, uint64_t backing_off)
{
	if (backing_off < l->header_size)
		return 0;
	return (backing_off - l->header_size) / l->stored_block_size;
}

/* 1 when the backing bytes [from, to) are all zero, 0 if not, or -errno.
 * A write-only handle cannot pread: a read descriptor of it is opened. */
static int all_zero(int fd, uint64_t from, uint64_t to)
{
	uint8_t buf[4096];
	int rfd = fd, rc = 1;

	while (rc == 1 && from < to) {
		size_t n = to - from < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
		ssize_t got = pread(rfd, buf, n, (off_t)from);

		if (got < 0 && errno == EBADF && rfd == fd) {
			char p[64];

			pfcd_proc_path(fd, p);
			rfd = pfcd_openat(AT_FDCWD, p, O_RDONLY | O_NOATIME | O_CLOEXEC, 0);
			if (rfd < 0 && errno == EPERM)
				rfd = pfcd_openat(AT_FDCWD, p, O_RDONLY | O_CLOEXEC, 0);
			if (rfd < 0)
				return -errno;
			continue;
		}
		if (got < 0)
			rc = -errno;
		else if (got == 0)
			break; /* past the end: reads as zeros */
		for (ssize_t i = 0; rc == 1 && i < got; i++)
			rc = buf[i] == 0;
		from += got > 0 ? (uint64_t)got : 0;
	}
	if (rfd != fd)
		close(rfd);
	return rc;
}

/*
 * Whether block k (stored bytes up to the backing size) holds data: 1 yes,
 * 0 a hole, or -errno.  *data: the first backing data byte in the block.
 */
static int block_has_data(int fd, uint64_t k, uint64_t backing, uint64_t *data)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t start = pfc_layout_block_offset(l, k);
	uint64_t end =
	    start + l->stored_block_size < backing ? start + l->stored_block_size : backing;
	off_t r = lseek(fd, (off_t)start, SEEK_DATA);
	int z;

	if (r < 0)
		return errno == ENXIO ? 0 : -errno;
	if ((uint64_t)r >= end)
		return 0;
	*data = (uint64_t)r;
	z = all_zero(fd, (uint64_t)r, end);
	return z < 0 ? z : !z;
}

static int seek_data(int fd, uint64_t o, uint64_t nblocks, uint64_t backing, off_t *out)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t k = o / l->block_size, data = 0;
	int rc;

	while (k < nblocks) {
		/* the block of the next backing data byte at or after block k */
		off_t r = lseek(fd, (off_t)pfc_layout_block_offset(l, k), SEEK_DATA);

		if (r < 0)
			return errno == ENXIO ? -ENXIO : -errno;
		if (block_of(l, (uint64_t)r) > k)
			k = block_of(l, (uint64_t)r);
		if (k >= nblocks)
			break;
		rc = block_has_data(fd, k, backing, &data);
		if (rc < 0)
			return rc;
		if (rc) {
			*out = (off_t)(k * l->block_size > o ? k * l->block_size : o);
			return 0;
		}
		k++;
	}
	return -ENXIO;
}

static int seek_hole(int fd, uint64_t o, uint64_t nblocks, uint64_t cur, uint64_t backing,
		     off_t *out)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t k = o / l->block_size, data = 0;
	int rc;

	while (k < nblocks) {
		off_t r;

		rc = block_has_data(fd, k, backing, &data);
		if (rc < 0)
			return rc;
		if (!rc)
			break; /* block k is a hole */
		/* block k holds data: look past the end of that data */
		r = lseek(fd, (off_t)data, SEEK_HOLE);
		if (r < 0)
			return -errno;
		k = block_of(l, (uint64_t)r) > k ? block_of(l, (uint64_t)r) : k + 1;
	}
	*out = (off_t)(k >= nblocks ? cur : (k * l->block_size > o ? k * l->block_size : o));
	return 0;
}

int pfcd_file_seek(int fd, off_t off, int whence, off_t *out)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t cur = 0, backing = 0, o = (uint64_t)off, bs = l->block_size;
	int rc;

	rc = pfcd_file_size(fd, &cur, &backing);
	if (rc < 0)
		return rc;
	if (off < 0 || o >= cur)
		return -ENXIO;
	if (!l->zero_block_is_hole) {
		*out = whence == SEEK_DATA ? off : (off_t)cur;
		return 0;
	}
	if (whence == SEEK_DATA)
		return seek_data(fd, o, (cur + bs - 1) / bs, backing, out);
	return seek_hole(fd, o, (cur + bs - 1) / bs, cur, backing, out);
}
