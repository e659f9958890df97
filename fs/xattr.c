// SPDX-License-Identifier: MIT
/*
 * xattr.c - user extended attributes (FORMAT.md section 9).
 *
 * Name "user.<suffix>" -> "user.pfc." || base64url(SIV(suffix)) with the
 * xattr name keys and a zero tweak: deterministic, so getxattr/removexattr
 * find the stored name by encrypting the requested one.
 * Value -> nonce(24) || XChaCha20-Poly1305(value), AD = "pfcrypt/v1
 * xattr-value\0" || volume id || stored name: a value cannot be moved to
 * another attribute name.
 */
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/format_int.h"

#define UPFX_LEN  (sizeof(PFC_XATTR_PREFIX) - 1)
#define EPFX_LEN  (sizeof(PFC_XATTR_ENC_PREFIX) - 1)
#define XV_AD_MAX (sizeof(PFC_AD_PURPOSE_XVALUE) + PFC_ID_BYTES + PFC_XATTR_NAME_ENC_MAX)

static const uint8_t zero_tweak[PFC_ID_BYTES];

int pfc_xattr_name_encrypt(const struct pfc_volkeys *vk, const char *name, size_t len, char *out,
			   size_t cap, size_t *out_len)
{
	uint8_t raw[PFC_SIV_BYTES + PFC_XATTR_SUFFIX_MAX];
	const uint8_t *tweaks[1] = {zero_tweak};
	size_t raw_len, n;
	int err;

	if (len < UPFX_LEN || memcmp(name, PFC_XATTR_PREFIX, UPFX_LEN) != 0)
		return PFC_ERR_INVAL;
	if (len == UPFX_LEN || memchr(name, '\0', len))
		return PFC_ERR_NAME_INVALID;
	if (len - UPFX_LEN > PFC_XATTR_SUFFIX_MAX)
		return PFC_ERR_NAME_TOO_LONG;
	if (cap < PFC_XATTR_NAME_ENC_BUF)
		return PFC_ERR_TOO_LARGE;
	err = pfc_siv_seal(vk->xname_mac, vk->xname_stream, tweaks, 1,
			   (const uint8_t *)name + UPFX_LEN, len - UPFX_LEN, raw, sizeof(raw),
			   &raw_len);
	if (err)
		return err;
	memcpy(out, PFC_XATTR_ENC_PREFIX, EPFX_LEN);
	err = pfc_b64url_encode(raw, raw_len, out + EPFX_LEN, cap - EPFX_LEN, &n);
	if (err)
		return err;
	*out_len = EPFX_LEN + n;
	return 0;
}

int pfc_xattr_name_decrypt(const struct pfc_volkeys *vk, const char *enc, size_t enc_len, char *out,
			   size_t cap, size_t *out_len)
{
	uint8_t raw[PFC_SIV_BYTES + PFC_XATTR_SUFFIX_MAX];
	char suffix[PFC_XATTR_SUFFIX_MAX + 1];
	const uint8_t *tweaks[1] = {zero_tweak};
	size_t raw_len, slen, m;
	int err;

	if (enc_len < EPFX_LEN || memcmp(enc, PFC_XATTR_ENC_PREFIX, EPFX_LEN) != 0)
		return PFC_ERR_INVAL;
	if (enc_len > PFC_XATTR_NAME_ENC_MAX)
		return PFC_ERR_CORRUPT;
	if (pfc_b64url_decode(enc + EPFX_LEN, enc_len - EPFX_LEN, raw, sizeof(raw), &raw_len) != 0)
		return PFC_ERR_CORRUPT;
	err = pfc_siv_open(vk->xname_mac, vk->xname_stream, tweaks, 1, raw, raw_len, suffix,
			   sizeof(suffix), &slen, &m);
	if (err)
		goto out;
	/* FORMAT.md 9: a conforming writer never stores an empty or NUL-holding
	 * suffix; one that authenticates anyway is treated as not authenticating */
	if (slen == 0 || slen > PFC_XATTR_SUFFIX_MAX || memchr(suffix, '\0', slen) != NULL) {
		err = PFC_ERR_AUTH;
		goto out;
	}
	if (cap < UPFX_LEN + slen + 1) {
		err = PFC_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(out, PFC_XATTR_PREFIX, UPFX_LEN);
	memcpy(out + UPFX_LEN, suffix, slen + 1);
	*out_len = UPFX_LEN + slen;
out:
	sodium_memzero(suffix, sizeof(suffix));
	return err;
}

static int value_ad(const struct pfc_volkeys *vk, const char *enc_name, size_t enc_name_len,
		    uint8_t ad[XV_AD_MAX], size_t *ad_len)
{
	size_t n = sizeof(PFC_AD_PURPOSE_XVALUE);

	if (enc_name_len > PFC_XATTR_NAME_ENC_MAX)
		return PFC_ERR_NAME_TOO_LONG;
	memcpy(ad, PFC_AD_PURPOSE_XVALUE, n);
	memcpy(ad + n, vk->volume_id, PFC_ID_BYTES);
	memcpy(ad + n + PFC_ID_BYTES, enc_name, enc_name_len);
	*ad_len = n + PFC_ID_BYTES + enc_name_len;
	return 0;
}

int pfc_xattr_value_encrypt(const struct pfc_volkeys *vk, const char *enc_name, size_t enc_name_len,
			    const uint8_t *value, size_t len, uint8_t *out, size_t cap,
			    size_t *out_len)
{
	uint8_t ad[XV_AD_MAX];
	size_t ad_len;
	int err;

	if (len > PFC_XATTR_VALUE_MAX)
		return PFC_ERR_TOO_LARGE;
	if (cap < len + PFC_XATTR_VALUE_OVERHEAD)
		return PFC_ERR_TOO_LARGE;
	err = value_ad(vk, enc_name, enc_name_len, ad, &ad_len);
	if (err)
		return err;
	pfc_randombytes(out, PFC_XNONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + PFC_XNONCE_BYTES, NULL, value, len, ad,
						   ad_len, NULL, out, vk->xvalue);
	*out_len = len + PFC_XATTR_VALUE_OVERHEAD;
	return 0;
}

int pfc_xattr_value_decrypt(const struct pfc_volkeys *vk, const char *enc_name, size_t enc_name_len,
			    const uint8_t *stored, size_t len, uint8_t *out, size_t cap,
			    size_t *out_len)
{
	uint8_t ad[XV_AD_MAX];
	struct pfc_box b;
	size_t ad_len;
	int err;

	if (pfc_box_split(stored, len, PFC_XNONCE_BYTES, PFC_TAG_BYTES, &b) < 0)
		return PFC_ERR_TRUNCATED;
	if (len - PFC_XATTR_VALUE_OVERHEAD > PFC_XATTR_VALUE_MAX)
		return PFC_ERR_TOO_LARGE;
	if (cap < len - PFC_XATTR_VALUE_OVERHEAD)
		return PFC_ERR_TOO_LARGE;
	err = value_ad(vk, enc_name, enc_name_len, ad, &ad_len);
	if (err)
		return err;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, b.ct, b.ct_len, ad, ad_len,
						       b.nonce, vk->xvalue) != 0) {
		sodium_memzero(out, len - PFC_XATTR_VALUE_OVERHEAD);
		return PFC_ERR_AUTH;
	}
	*out_len = len - PFC_XATTR_VALUE_OVERHEAD;
	return 0;
}
