// SPDX-License-Identifier: MIT
/*
 * layout.c - plaintext <-> backing size and offset arithmetic (FORMAT.md
 * section 4.3).  Pure integer functions: stat never decrypts.
 */
#include "fs/err.h"
#include "fs/format.h"

int pfc_layout_init(struct pfc_layout *l, enum pfc_cipher cipher, uint32_t block_size)
{
	size_t overhead = pfc_cipher_block_overhead(cipher);

	if (!overhead)
		return PFC_ERR_INVAL;
	if (block_size < PFC_BLOCK_SIZE_MIN || block_size > PFC_BLOCK_SIZE_MAX ||
	    (block_size & (block_size - 1)))
		return PFC_ERR_INVAL;
	l->cipher = cipher;
	l->block_size = block_size;
	l->overhead = (uint32_t)overhead;
	l->stored_block_size = block_size + (uint32_t)overhead;
	l->header_size = PFC_HEADER_SIZE;
	l->zero_block_is_hole = true;
	return 0;
}

uint64_t pfc_layout_plain_len(const struct pfc_layout *l, uint64_t stored_len)
{
	uint64_t full = stored_len / l->stored_block_size;
	uint64_t tail = stored_len % l->stored_block_size;

	return full * l->block_size + (tail > l->overhead ? tail - l->overhead : 0);
}

uint64_t pfc_layout_plain_size(const struct pfc_layout *l, uint64_t backing_size)
{
	if (backing_size <= l->header_size)
		return 0;
	return pfc_layout_plain_len(l, backing_size - l->header_size);
}

uint64_t pfc_layout_stored_len(const struct pfc_layout *l, uint64_t plain_len)
{
	uint64_t full = plain_len / l->block_size;
	uint64_t tail = plain_len % l->block_size;

	return full * l->stored_block_size + (tail ? tail + l->overhead : 0);
}

uint64_t pfc_layout_backing_size(const struct pfc_layout *l, uint64_t plain_size)
{
	return l->header_size + pfc_layout_stored_len(l, plain_size);
}

uint64_t pfc_layout_block_offset(const struct pfc_layout *l, uint64_t index)
{
	return l->header_size + index * l->stored_block_size;
}

void pfc_layout_block_range(const struct pfc_layout *l, uint64_t offset, uint64_t len,
			    uint64_t *first, uint64_t *count)
{
	*first = offset / l->block_size;
	if (len == 0) {
		*count = 0;
		return;
	}
	*count = (offset + len - 1) / l->block_size - *first + 1;
}
