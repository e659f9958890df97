// SPDX-License-Identifier: MIT
/*
 * header.c - the fixed-size file header (FORMAT.md section 3) and the
 * associated data the file system passes to the keystore (section 6).
 *
 * Layout (PFC_HEADER_SIZE = 256 bytes, little-endian):
 *     0   8   magic "PFCRYPTF"
 *     8   2   format version (1)
 *    10   6   reserved, zero
 *    16  16   file id
 *    32   8   generation                      \ generation field, one pwrite
 *    40  16   MAC(file id || generation)      /
 *    56   2   wrapped length (1..128)         \ wrapped field, one pwrite
 *    58 128   wrapped blob, zero padded       /
 *   186  70   reserved, zero
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "fs/buf.h"
#include "fs/err.h"
#include "fs/format_int.h"

#define HEADER_MAGIC "PFCRYPTF"
#define HEADER_TAIL_LEN                                                                            \
	(PFC_HEADER_SIZE - PFC_HEADER_WRAPPED_OFFSET - PFC_HEADER_WRAPPED_FIELD_SIZE)

_Static_assert(PFC_HEADER_FILE_ID_OFFSET == 8 + 2 + 6, "file id offset");
_Static_assert(PFC_HEADER_GEN_OFFSET == PFC_HEADER_FILE_ID_OFFSET + PFC_ID_BYTES,
	       "generation offset");
_Static_assert(PFC_HEADER_GEN_FIELD_SIZE == 8 + PFC_GEN_MAC_BYTES, "generation field size");
_Static_assert(PFC_HEADER_WRAPPED_OFFSET == PFC_HEADER_GEN_OFFSET + PFC_HEADER_GEN_FIELD_SIZE,
	       "wrapped offset");
_Static_assert(HEADER_TAIL_LEN == 70, "header reserved tail");

int pfc_header_init(struct pfc_header *h, const uint8_t file_id[PFC_ID_BYTES],
		    const uint8_t *wrapped, size_t wrapped_len)
{
	if (wrapped_len == 0)
		return PFC_ERR_INVAL;
	if (wrapped_len > PFC_WRAPPED_MAX)
		return PFC_ERR_TOO_LARGE;
	memset(h, 0, sizeof(*h));
	h->format_version = PFC_FORMAT_VERSION;
	memcpy(h->file_id, file_id, PFC_ID_BYTES);
	h->generation = 0;
	memcpy(h->wrapped, wrapped, wrapped_len);
	h->wrapped_len = wrapped_len;
	return 0;
}

int pfc_header_generation_field(const struct pfc_filekey *fk, uint64_t generation,
				uint8_t out[PFC_HEADER_GEN_FIELD_SIZE])
{
	if (generation > PFC_GEN_MAX)
		return PFC_ERR_TOO_LARGE;
	pfc_store_u64(out, generation);
	pfc_hdr_gen_mac(fk, generation, out + 8);
	return 0;
}

int pfc_header_wrapped_field(const uint8_t *wrapped, size_t len,
			     uint8_t out[PFC_HEADER_WRAPPED_FIELD_SIZE])
{
	if (len == 0)
		return PFC_ERR_INVAL;
	if (len > PFC_WRAPPED_MAX)
		return PFC_ERR_TOO_LARGE;
	memset(out, 0, PFC_HEADER_WRAPPED_FIELD_SIZE);
	pfc_store_u16(out, (uint16_t)len);
	memcpy(out + 2, wrapped, len);
	return 0;
}

int pfc_header_encode(const struct pfc_header *h, const struct pfc_filekey *fk,
		      uint8_t out[PFC_HEADER_SIZE])
{
	uint8_t gen[PFC_HEADER_GEN_FIELD_SIZE], wrapped[PFC_HEADER_WRAPPED_FIELD_SIZE];
	struct pfc_wbuf w;
	int err;

	if (h->format_version != PFC_FORMAT_VERSION ||
	    sodium_memcmp(h->file_id, pfc_filekey_file_id(fk), PFC_ID_BYTES) != 0)
		return PFC_ERR_INVAL;
	err = pfc_header_generation_field(fk, h->generation, gen);
	if (err)
		return err;
	err = pfc_header_wrapped_field(h->wrapped, h->wrapped_len, wrapped);
	if (err)
		return err;
	pfc_wbuf_init_fixed(&w, out, PFC_HEADER_SIZE);
	pfc_wbuf_put_bytes(&w, HEADER_MAGIC, 8);
	pfc_wbuf_put_u16(&w, PFC_FORMAT_VERSION);
	pfc_wbuf_put_zero(&w, 6);
	pfc_wbuf_put_bytes(&w, h->file_id, PFC_ID_BYTES);
	pfc_wbuf_put_bytes(&w, gen, sizeof(gen));
	pfc_wbuf_put_bytes(&w, wrapped, sizeof(wrapped));
	pfc_wbuf_put_zero(&w, HEADER_TAIL_LEN);
	err = pfc_wbuf_error(&w);
	if (!err && pfc_wbuf_len(&w) != PFC_HEADER_SIZE)
		err = PFC_ERR_INVAL;
	return err;
}

int pfc_header_parse(const uint8_t *buf, size_t len, struct pfc_header *out)
{
	struct pfc_header h;
	struct pfc_rbuf r;
	const uint8_t *magic, *slot;
	uint16_t wlen;
	int err;

	if (len < PFC_HEADER_SIZE)
		return PFC_ERR_TRUNCATED;
	memset(&h, 0, sizeof(h));
	pfc_rbuf_init(&r, buf, PFC_HEADER_SIZE);
	err = pfc_rbuf_get_ptr(&r, 8, &magic);
	if (err)
		return err;
	if (memcmp(magic, HEADER_MAGIC, 8) != 0)
		return PFC_ERR_BAD_MAGIC;
	if ((err = pfc_rbuf_get_u16(&r, &h.format_version)))
		return err;
	if (h.format_version != PFC_FORMAT_VERSION)
		return PFC_ERR_UNKNOWN_VERSION;
	if ((err = pfc_rbuf_skip_zero(&r, 6)) || (err = pfc_rbuf_get_bytes(&r, h.file_id, 16)) ||
	    (err = pfc_rbuf_get_u64(&r, &h.generation)) ||
	    (err = pfc_rbuf_get_bytes(&r, h.gen_mac, PFC_GEN_MAC_BYTES)) ||
	    (err = pfc_rbuf_get_u16(&r, &wlen)))
		return err;
	if (wlen == 0)
		return PFC_ERR_CORRUPT;
	if (wlen > PFC_WRAPPED_MAX)
		return PFC_ERR_TOO_LARGE;
	if ((err = pfc_rbuf_get_ptr(&r, PFC_WRAPPED_MAX, &slot)))
		return err;
	/* The unused end of the slot must be zero: flips there are detected too. */
	if (!sodium_is_zero(slot + wlen, PFC_WRAPPED_MAX - wlen))
		return PFC_ERR_CORRUPT;
	memcpy(h.wrapped, slot, wlen);
	h.wrapped_len = wlen;
	if ((err = pfc_rbuf_skip_zero(&r, HEADER_TAIL_LEN)) || (err = pfc_rbuf_expect_end(&r)))
		return err;
	*out = h;
	return 0;
}

int pfc_header_verify_generation(const struct pfc_header *h, const struct pfc_filekey *fk)
{
	uint8_t mac[PFC_GEN_MAC_BYTES];
	int ok;

	if (sodium_memcmp(h->file_id, pfc_filekey_file_id(fk), PFC_ID_BYTES) != 0)
		return PFC_ERR_AUTH;
	pfc_hdr_gen_mac(fk, h->generation, mac);
	ok = sodium_memcmp(mac, h->gen_mac, PFC_GEN_MAC_BYTES) == 0;
	return ok ? 0 : PFC_ERR_AUTH;
}

static size_t ad_build(const char *purpose, const uint8_t volume_id[PFC_ID_BYTES],
		       const uint8_t *file_id, uint8_t out[PFC_AD_MAX])
{
	size_t n = strlen(purpose) + 1; /* the NUL is part of the AD */

	memcpy(out, purpose, n);
	memcpy(out + n, volume_id, PFC_ID_BYTES);
	n += PFC_ID_BYTES;
	if (file_id) {
		memcpy(out + n, file_id, PFC_ID_BYTES);
		n += PFC_ID_BYTES;
	}
	return n;
}

size_t pfc_ad_name_key(const uint8_t volume_id[PFC_ID_BYTES], uint8_t out[PFC_AD_MAX])
{
	return ad_build(PFC_AD_PURPOSE_NAME_KEY, volume_id, NULL, out);
}

size_t pfc_ad_file_key_prefix(const uint8_t volume_id[PFC_ID_BYTES], uint8_t out[PFC_AD_MAX])
{
	return ad_build(PFC_AD_PURPOSE_FILE_KEY, volume_id, NULL, out);
}

size_t pfc_ad_file_key(const uint8_t volume_id[PFC_ID_BYTES], const uint8_t file_id[PFC_ID_BYTES],
		       uint8_t out[PFC_AD_MAX])
{
	return ad_build(PFC_AD_PURPOSE_FILE_KEY, volume_id, file_id, out);
}

static int header_lock_op(int fd, short type)
{
	struct flock fl = {
	    .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = PFC_HEADER_SIZE};

	return fcntl(fd, F_OFD_SETLK, &fl);
}

int pfc_header_lock(int fd, unsigned wait_ms)
{
	const struct timespec step = {0, 1000000}; /* 1 ms */

	for (unsigned waited = 0;; waited++) {
		if (header_lock_op(fd, F_WRLCK) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return PFC_ERR_IO;
		if (waited >= wait_ms)
			return PFC_ERR_BUSY;
		nanosleep(&step, NULL);
	}
}

void pfc_header_unlock(int fd)
{
	int saved = errno;

	(void)header_lock_op(fd, F_UNLCK);
	errno = saved;
}
