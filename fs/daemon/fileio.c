/* SPDX-License-Identifier: MIT */
/*
 * fileio.c - reads and writes of a request range of a regular file.  A
 * read is one run of blocks decrypted (blocks.c); a write is merged with
 * the partial first and last blocks it covers (read-modify-write: the only
 * old blocks it reads; whole blocks it replaces are not read), after the
 * space it grows the file by is reserved and its generation begun, and is
 * then one pwrite of consecutive stored blocks.
 *
 * Callers hold the inode's io_lock: shared for reads, exclusively for
 * writes.
 */
#include "fs/daemon/content.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

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
	pt = pfcd_scratch(PFCD_SCRATCH_PLAIN, count * l->block_size);
	if (!pt)
		return -ENOMEM;
	rc = pfcd_blk_read(in, fd, cur, first, count, pt, &plen);
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

/*
 * The range of one write: o..end in plaintext, blocks first..last, in a
 * file of plaintext size cur (backing bytes backing) that is newsize after
 * it.  span: the plaintext bytes of blocks first..last that are written (up
 * to newsize); head: where the new bytes start in block first.
 */
struct wrange {
	uint64_t cur, backing, o, end, first, last, newsize, span_end, span, head;
};

static int write_range(int fd, size_t size, off_t off, bool append, struct wrange *r)
{
	uint64_t bs = pfcd_g->layout.block_size;
	int rc = pfcd_file_size(fd, &r->cur, &r->backing);

	if (rc < 0)
		return rc;
	r->o = append ? r->cur : (uint64_t)off;
	r->end = r->o + size;
	if (r->end > PFC_PLAIN_SIZE_MAX || r->end < r->o)
		return -EFBIG;
	r->first = r->o / bs;
	r->last = (r->end - 1) / bs;
	r->newsize = r->end > r->cur ? r->end : r->cur;
	r->span_end = (r->last + 1) * bs < r->newsize ? (r->last + 1) * bs : r->newsize;
	r->span = r->span_end - r->first * bs;
	r->head = r->o - r->first * bs;
	return 0;
}

/* The old tail block lies before the range, not in it: it is padded. */
static bool pads_old_tail(const struct wrange *r)
{
	uint64_t bs = pfcd_g->layout.block_size;

	return r->cur % bs && r->o > r->cur && r->cur / bs < r->first;
}

/*
 * Growing: reserve the space of the padded old tail and of the new range
 * first (not of a gap between them: that stays a hole), so that a full
 * disk fails before any byte changes.  Not for a write that starts
 * exactly at an old end that is a block boundary (an append to a new or
 * block-aligned file, as tar and cp make): it rewrites no old byte, so
 * cutting the file back undoes it (pfcd_blk_write), and each fallocate
 * costs about 20 us on ext4.
 */
static int reserve_growth(int fd, const struct wrange *r)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	uint64_t start = pfc_layout_block_offset(l, r->first);
	uint64_t len = pfc_layout_stored_len(l, r->span);
	int rc;

	if (start + len <= r->backing || (r->o == r->cur && r->cur % l->block_size == 0))
		return 0;
	rc = pfcd_blk_reserve(fd, start, len);
	if (rc == 0 && pads_old_tail(r))
		rc = pfcd_blk_reserve(fd, pfc_layout_block_offset(l, r->cur / l->block_size),
				      l->stored_block_size);
	return rc;
}

/* Between the old end and the range: the old tail padded to a full block,
 * then (volumes without holes) encrypted zeros. */
static int fill_gap(struct pfc_inode *in, int fd, const struct wrange *r)
{
	uint64_t bs = pfcd_g->layout.block_size;
	int rc;

	if (pads_old_tail(r)) {
		rc = pfcd_blk_rewrite(in, fd, r->cur, r->cur / bs, (size_t)bs, 0, 0);
		if (rc < 0)
			return rc;
	}
	if (r->o > r->cur)
		return pfcd_blk_zero(in, fd, (r->cur + bs - 1) / bs, r->first, r->o);
	return 0;
}

/* The plaintext of blocks first..last: the new bytes merged with the
 * partial first and last blocks (whole blocks are not read).  *src points
 * at it, in this thread's scratch buffer. */
static int merge(struct pfc_inode *in, int fd, const char *buf, size_t size, const struct wrange *r,
		 const uint8_t **src)
{
	uint64_t bs = pfcd_g->layout.block_size;
	uint8_t *pt;
	size_t got;
	int rc;

	/* whole blocks of room: a block decrypt may use (and wipes) a full block */
	pt = pfcd_scratch(PFCD_SCRATCH_PLAIN, (size_t)((r->last - r->first + 1) * bs));
	if (!pt)
		return -ENOMEM;
	/* zeros where neither old bytes nor new ones go (a gap past the old end) */
	memset(pt, 0, (size_t)r->head);
	memset(pt + r->head + size, 0, (size_t)(r->span - r->head - size));
	if (r->head && r->first * bs < r->cur) {
		rc = pfcd_blk_read(in, pfcd_file_ifd(in, fd), r->cur, r->first, 1, pt, &got);
		if (rc < 0)
			return rc;
	}
	if (r->end < r->span_end && r->end < r->cur && (r->last != r->first || !r->head)) {
		rc = pfcd_blk_read(in, pfcd_file_ifd(in, fd), r->cur, r->last, 1,
				   pt + (r->last - r->first) * bs, &got);
		if (rc < 0)
			return rc;
	}
	memcpy(pt + r->head, buf, size);
	*src = pt;
	return 0;
}

int pfcd_file_write(struct pfc_inode *in, int fd, const char *buf, size_t size, off_t off,
		    bool append)
{
	const struct pfc_layout *l = &pfcd_g->layout;
	const uint8_t *src = (const uint8_t *)buf;
	struct wrange r;
	int rc;

	if (size == 0)
		return 0;
	rc = pfcd_file_ensure_header(in, fd);
	if (rc == 0)
		rc = write_range(fd, size, off, append, &r);
	if (rc == 0)
		rc = reserve_growth(fd, &r);
	if (rc == 0)
		rc = pfcd_gen_begin(in, fd);
	if (rc == 0)
		rc = fill_gap(in, fd, &r);
	/* Nothing to merge (whole blocks, or a new tail): encrypt straight from
	 * the request's buffer, no copy. */
	if (rc == 0 && !(r.head == 0 && r.span == size))
		rc = merge(in, fd, buf, size, &r, &src);
	if (rc < 0)
		return rc;
	/* reserved above; the size read above still holds unless a pad or a gap
	 * was written */
	rc = pfcd_blk_write(in, fd, r.first, src, (size_t)r.span, true,
			    r.o > r.cur ? PFCD_SIZE_UNKNOWN : r.backing);
	if (rc < 0)
		return rc;
	/* A torn tail past the old end (crash, sync client) must not linger. */
	if (r.end >= r.cur && r.backing > pfc_layout_backing_size(l, r.newsize) &&
	    ftruncate(fd, (off_t)pfc_layout_backing_size(l, r.newsize)) < 0)
		return -errno;
	return 0;
}
