/* SPDX-License-Identifier: MIT */
/*
 * generation.c - write generations (ARCHITECTURE.md 2): the one writer of the
 * header's generation counter after create, and the count of writers that
 * says when a generation ends.
 *
 * The first modification (write, truncate, fallocate) while no generation
 * is in progress writes generation+1 into the header (one pwrite of that
 * field only) and every block written until the last writer closes carries
 * it.  A modification with no writer open is a generation of its own.  A
 * create for writing starts generation 1 in its new header (filekey.c).
 *
 * Generations end when the last writer closes.  RELEASE reaches the daemon
 * asynchronously (after close() has returned), FLUSH synchronously, so a
 * writer handle stops counting at its FLUSH (ops_file.c); a later write
 * through it (a dup'ed descriptor, a shared mapping written back) makes it
 * count again.  Every function here runs with the inode's io_lock held
 * exclusively.
 */
#include "fs/daemon/content.h"

int pfcd_gen_begin(struct pfc_inode *in, int fd)
{
	uint8_t field[PFC_HEADER_GEN_FIELD_SIZE];
	uint64_t g;
	int rc;

	if (in->f.gen_active)
		return 0;
	g = in->f.generation + 1;
	rc = pfc_header_generation_field(pfcd_fkey(in), g, field);
	if (rc < 0)
		return pfcd_errno(rc);
	rc = pfcd_pwrite_full(fd, field, sizeof(field), PFC_HEADER_GEN_OFFSET);
	if (rc < 0)
		return rc;
	in->f.generation = g;
	/* With no writer open, this modification is a generation of its own. */
	in->f.gen_active = in->f.writers > 0;
	return 0;
}

void pfcd_file_writer_active(struct pfc_inode *in, struct pfcd_fh *fh)
{
	if (fh->writer && fh->flushed) {
		fh->flushed = false;
		in->f.writers++;
	}
}

void pfcd_file_writer_closed(struct pfc_inode *in)
{
	if (in->f.writers > 0)
		in->f.writers--;
	if (in->f.writers == 0)
		in->f.gen_active = false;
}
