// SPDX-License-Identifier: MIT
/*
 * symlink.c - symlink targets (FORMAT.md section 8): base64url(nonce(24) ||
 * XChaCha20-Poly1305(padded target)), key = the volume symlink subkey,
 * AD = "pfcrypt/v1 symlink\0" || volume id.  Random nonce: equal targets give
 * different encodings.  Padding to 16 bytes hides the exact length.
 */
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/format_int.h"

#define SYM_AD_LEN  (sizeof(PFC_AD_PURPOSE_SYMLINK) + PFC_ID_BYTES)
#define SYM_RAW_MAX (PFC_XNONCE_BYTES + PFC_SYMLINK_TARGET_MAX + PFC_TAG_BYTES)
#define SYM_PAD	    16

_Static_assert(PFC_SYMLINK_TARGET_MAX % SYM_PAD == 0, "target max is a padded length");
_Static_assert(SYM_RAW_MAX == 3064, "raw symlink maximum");

static void sym_ad(const struct pfc_volkeys *vk, uint8_t ad[SYM_AD_LEN])
{
	memcpy(ad, PFC_AD_PURPOSE_SYMLINK, sizeof(PFC_AD_PURPOSE_SYMLINK));
	memcpy(ad + sizeof(PFC_AD_PURPOSE_SYMLINK), vk->volume_id, PFC_ID_BYTES);
}

int pfc_symlink_encrypt(const struct pfc_volkeys *vk, const char *target, size_t len, char *out,
			size_t cap, size_t *out_len)
{
	uint8_t padded[PFC_SYMLINK_TARGET_MAX], raw[SYM_RAW_MAX], ad[SYM_AD_LEN];
	size_t plen;
	int err;

	if (len == 0 || memchr(target, '\0', len))
		return PFC_ERR_NAME_INVALID;
	if (len > PFC_SYMLINK_TARGET_MAX)
		return PFC_ERR_NAME_TOO_LONG;
	plen = (len + SYM_PAD - 1) / SYM_PAD * SYM_PAD;
	memset(padded, 0, plen);
	memcpy(padded, target, len);
	sym_ad(vk, ad);
	pfc_randombytes(raw, PFC_XNONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(raw + PFC_XNONCE_BYTES, NULL, padded, plen, ad,
						   sizeof(ad), NULL, raw, vk->symlink);
	sodium_memzero(padded, sizeof(padded));
	err = pfc_b64url_encode(raw, PFC_XNONCE_BYTES + plen + PFC_TAG_BYTES, out, cap, out_len);
	return err;
}

int pfc_symlink_decrypt(const struct pfc_volkeys *vk, const char *enc, size_t enc_len, char *out,
			size_t cap, size_t *out_len)
{
	uint8_t padded[PFC_SYMLINK_TARGET_MAX], raw[SYM_RAW_MAX], ad[SYM_AD_LEN];
	size_t raw_len, plen, tlen;
	int err;

	if (enc_len > PFC_SYMLINK_ENC_MAX)
		return PFC_ERR_TOO_LARGE;
	if (pfc_b64url_decode(enc, enc_len, raw, sizeof(raw), &raw_len) != 0)
		return PFC_ERR_CORRUPT;
	if (raw_len < PFC_XNONCE_BYTES + SYM_PAD + PFC_TAG_BYTES ||
	    (raw_len - PFC_XNONCE_BYTES - PFC_TAG_BYTES) % SYM_PAD != 0)
		return PFC_ERR_CORRUPT;
	plen = raw_len - PFC_XNONCE_BYTES - PFC_TAG_BYTES;
	sym_ad(vk, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(padded, NULL, NULL, raw + PFC_XNONCE_BYTES,
						       raw_len - PFC_XNONCE_BYTES, ad, sizeof(ad),
						       raw, vk->symlink) != 0) {
		err = PFC_ERR_AUTH;
		goto out;
	}
	tlen = strnlen((const char *)padded, plen);
	if (tlen == 0 || (tlen + SYM_PAD - 1) / SYM_PAD * SYM_PAD != plen ||
	    !sodium_is_zero(padded + tlen, plen - tlen)) {
		err = PFC_ERR_CORRUPT;
		goto out;
	}
	if (cap < tlen + 1) {
		err = PFC_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(out, padded, tlen);
	out[tlen] = '\0';
	*out_len = tlen;
	err = 0;
out:
	sodium_memzero(padded, sizeof(padded));
	return err;
}
