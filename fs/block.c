// SPDX-License-Identifier: MIT
/*
 * block.c - stored blocks (FORMAT.md section 4): encrypt a plaintext range
 * into consecutive stored blocks (one pwrite for the caller) and decrypt a
 * stored range (one pread) whose blocks may each be of another generation.
 *
 * Stored block: u64 generation || nonce || ciphertext || tag(16).
 * AD: "pfcrypt/v1 block\0" || file id(16) || u64 index || u64 generation.
 */
#include <string.h>

#include <sodium.h>

#include "fs/buf.h"
#include "fs/err.h"
#include "fs/format_int.h"

#define BLOCK_AD_LEN   (sizeof(PFC_AD_PURPOSE_BLOCK) + PFC_ID_BYTES + 8 + 8)
#define NONCE_BATCH    64 /* nonces drawn per pfc_randombytes call */
#define MAX_NONCE_SIZE 24

static void block_ad(uint8_t ad[BLOCK_AD_LEN], const uint8_t file_id[PFC_ID_BYTES], uint64_t index,
		     uint64_t generation)
{
	size_t n = sizeof(PFC_AD_PURPOSE_BLOCK); /* includes the NUL */

	memcpy(ad, PFC_AD_PURPOSE_BLOCK, n);
	memcpy(ad + n, file_id, PFC_ID_BYTES);
	pfc_store_u64(ad + n + PFC_ID_BYTES, index);
	pfc_store_u64(ad + n + PFC_ID_BYTES + 8, generation);
}

int pfc_block_generation(const uint8_t *stored, size_t len, uint64_t *generation)
{
	struct pfc_rbuf r;

	pfc_rbuf_init(&r, stored, len);
	return pfc_rbuf_get_u64(&r, generation);
}

/* One block: out = gen || nonce || ct || tag.  The nonce is already in place. */
static void seal_one(const struct pfc_layout *l, const struct pfc_gen_slot *gk, const uint8_t *ad,
		     const uint8_t *pt, size_t len, uint8_t *out)
{
	size_t nsz = l->overhead - PFC_GEN_BYTES - PFC_TAG_BYTES;
	const uint8_t *nonce = out + PFC_GEN_BYTES;
	uint8_t *ct = out + PFC_GEN_BYTES + nsz;

	if (l->cipher == PFC_CIPHER_AES256GCM)
		crypto_aead_aes256gcm_encrypt_afternm(ct, NULL, pt, len, ad, BLOCK_AD_LEN, NULL,
						      nonce, &gk->st.aes);
	else
		crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, pt, len, ad, BLOCK_AD_LEN,
							   NULL, nonce, gk->st.key);
}

int pfc_blocks_encrypt(struct pfc_filekey *fk, uint64_t generation, uint64_t first_index,
		       const uint8_t *pt, size_t pt_len, uint8_t *out, size_t out_cap,
		       size_t *out_len)
{
	const struct pfc_layout *l = &fk->layout;
	size_t nsz = l->overhead - PFC_GEN_BYTES - PFC_TAG_BYTES;
	uint8_t nonces[NONCE_BATCH * MAX_NONCE_SIZE];
	uint8_t ad[BLOCK_AD_LEN];
	struct pfc_gk_ref ref = {0};
	uint64_t need, nblocks, i;
	size_t pos = 0, opos = 0;
	int err;

	if (generation == 0 || generation > PFC_GEN_MAX)
		return PFC_ERR_INVAL;
	need = pfc_layout_stored_len(l, pt_len);
	nblocks = (pt_len + l->block_size - 1) / l->block_size;
	if (need > out_cap || first_index > PFC_PLAIN_SIZE_MAX / l->block_size ||
	    pt_len > PFC_PLAIN_SIZE_MAX - first_index * l->block_size)
		return PFC_ERR_TOO_LARGE;
	if (pt_len == 0) {
		*out_len = 0;
		return 0;
	}
	err = pfc_gk_acquire(fk, generation, &ref);
	if (err)
		return err;
	for (i = 0; i < nblocks; i++) {
		size_t len = pt_len - pos < l->block_size ? pt_len - pos : l->block_size;

		if (i % NONCE_BATCH == 0) {
			uint64_t left = nblocks - i < NONCE_BATCH ? nblocks - i : NONCE_BATCH;

			pfc_nonce_bytes(nonces, (size_t)left * nsz);
		}
		pfc_store_u64(out + opos, generation);
		memcpy(out + opos + PFC_GEN_BYTES, nonces + (i % NONCE_BATCH) * nsz, nsz);
		block_ad(ad, fk->file_id, first_index + i, generation);
		seal_one(l, ref.slot, ad, pt + pos, len, out + opos);
		pos += len;
		opos += len + l->overhead;
	}
	pfc_gk_release(fk, &ref);
	*out_len = opos;
	return 0;
}

static int open_one(const struct pfc_layout *l, const struct pfc_gen_slot *gk, const uint8_t *ad,
		    const uint8_t *in, size_t in_len, uint8_t *out)
{
	size_t nsz = l->overhead - PFC_GEN_BYTES - PFC_TAG_BYTES;
	struct pfc_rbuf r;
	struct pfc_box b;
	int rc;

	/* the caller checked in_len > overhead: generation, then the box */
	pfc_rbuf_init(&r, in, in_len);
	if (pfc_rbuf_get_ptr(&r, PFC_GEN_BYTES, NULL) < 0 ||
	    pfc_rbuf_get_box(&r, in_len - PFC_GEN_BYTES, nsz, PFC_TAG_BYTES, &b) < 0)
		return PFC_ERR_TRUNCATED;
	if (l->cipher == PFC_CIPHER_AES256GCM)
		rc = crypto_aead_aes256gcm_decrypt_afternm(out, NULL, NULL, b.ct, b.ct_len, ad,
							   BLOCK_AD_LEN, b.nonce, &gk->st.aes);
	else
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, b.ct, b.ct_len, ad,
								BLOCK_AD_LEN, b.nonce, gk->st.key);
	return rc == 0 ? 0 : PFC_ERR_AUTH;
}

int pfc_blocks_decrypt(struct pfc_filekey *fk, uint64_t first_index, const uint8_t *stored,
		       size_t stored_len, uint8_t *out, size_t out_cap, size_t *out_len,
		       uint64_t *bad_index)
{
	const struct pfc_layout *l = &fk->layout;
	uint64_t plain = pfc_layout_plain_len(l, stored_len);
	struct pfc_gk_ref ref = {0};
	uint8_t ad[BLOCK_AD_LEN];
	size_t pos = 0, opos = 0;
	uint64_t i = 0, gen;
	int err = 0;

	if (plain > out_cap)
		return PFC_ERR_TOO_LARGE;
	if (first_index > PFC_PLAIN_SIZE_MAX / l->block_size)
		return PFC_ERR_TOO_LARGE;
	while (pos < stored_len) {
		size_t in_len = stored_len - pos < l->stored_block_size ? stored_len - pos
									: l->stored_block_size;
		size_t len;

		if (in_len <= l->overhead) {
			err = PFC_ERR_TRUNCATED; /* torn tail: not even one plaintext byte */
			goto fail;
		}
		len = in_len - l->overhead;
		pfc_block_generation(stored + pos, in_len, &gen); /* in_len > overhead >= 8 */
		if (gen == 0) {
			/* Never written by a writer (generations start at 1): a hole
			 * if the whole stored block is zero and the volume allows it. */
			if (!l->zero_block_is_hole || !sodium_is_zero(stored + pos, in_len)) {
				err = PFC_ERR_AUTH;
				goto fail;
			}
			memset(out + opos, 0, len);
		} else {
			if (!ref.slot || ref.slot->generation != gen) {
				pfc_gk_release(fk, &ref);
				err = pfc_gk_acquire(fk, gen, &ref);
				if (err)
					goto fail;
			}
			block_ad(ad, fk->file_id, first_index + i, gen);
			err = open_one(l, ref.slot, ad, stored + pos, in_len, out + opos);
			if (err)
				goto fail;
		}
		pos += in_len;
		opos += len;
		i++;
	}
	pfc_gk_release(fk, &ref);
	*out_len = opos;
	return 0;
fail:
	pfc_gk_release(fk, &ref);
	sodium_memzero(out, plain);
	if (err == PFC_ERR_AUTH || err == PFC_ERR_TRUNCATED)
		*bad_index = first_index + i;
	return err;
}
