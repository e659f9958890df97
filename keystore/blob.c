// SPDX-License-Identifier: MIT
/* blob.c - the wrapped-key blob: parse, seal, open (layout in blob.h). */
#include <string.h>

#include <sodium.h>

#include "fs/buf.h"
#include "fs/err.h"
#include "keystore/blob.h"

_Static_assert(PFC_BLOB_LEN(PFC_KS_NAME_MAX) <= PFC_WRAPPED_MAX, "blob must fit the contract");
_Static_assert(PFC_BLOB_CT_LEN == PFC_BLOB_KEY_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES,
	       "ciphertext length");
_Static_assert(PFC_BLOB_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");

int pfc_ks_name_check(const char *name, size_t len)
{
	if (!name || len == 0)
		return PFC_ERR_NAME_INVALID;
	if (len > PFC_KS_NAME_MAX)
		return PFC_ERR_NAME_TOO_LONG;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return PFC_ERR_NAME_INVALID;
	}
	return 0;
}

/* Parse the unauthenticated prefix; *hdr_len = bytes of blob_version..key_version. */
static int parse_prefix(const uint8_t *blob, size_t len, char name[PFC_KS_NAME_MAX + 1],
			uint32_t *version, size_t *hdr_len)
{
	struct pfc_rbuf r;
	uint8_t bv, nl;
	const uint8_t *np;
	uint32_t v;
	int rc;

	if (!blob)
		return PFC_ERR_INVAL;
	pfc_rbuf_init(&r, blob, len);
	if ((rc = pfc_rbuf_get_u8(&r, &bv)) < 0)
		return rc;
	if (bv != PFC_BLOB_VERSION)
		return PFC_ERR_UNKNOWN_VERSION;
	if ((rc = pfc_rbuf_get_u8(&r, &nl)) < 0)
		return rc;
	if (nl == 0 || nl > PFC_KS_NAME_MAX)
		return PFC_ERR_CORRUPT;
	if ((rc = pfc_rbuf_get_ptr(&r, nl, &np)) < 0)
		return rc;
	if ((rc = pfc_ks_name_check((const char *)np, nl)) < 0)
		return rc;
	if ((rc = pfc_rbuf_get_u32(&r, &v)) < 0)
		return rc;
	if (v == 0)
		return PFC_ERR_CORRUPT;
	if (len < PFC_BLOB_LEN(nl))
		return PFC_ERR_TRUNCATED;
	if (len > PFC_BLOB_LEN(nl))
		return PFC_ERR_CORRUPT;
	memcpy(name, np, nl);
	name[nl] = '\0';
	*version = v;
	*hdr_len = len - pfc_rbuf_left(&r);
	return 0;
}

int pfc_blob_parse_name_version(const uint8_t *blob, size_t len, char name_out[PFC_KS_NAME_MAX + 1],
				uint32_t *version)
{
	char name[PFC_KS_NAME_MAX + 1];
	uint32_t v;
	size_t hl;
	int rc;

	if (!name_out || !version)
		return PFC_ERR_INVAL;
	rc = parse_prefix(blob, len, name, &v, &hl);
	if (rc < 0)
		return rc;
	memcpy(name_out, name, sizeof(name));
	*version = v;
	return 0;
}

/* AD = caller_ad || blob header, in a small stack buffer (not secret). */
static int build_ad(const uint8_t *ad, size_t ad_len, const uint8_t *hdr, size_t hdr_len,
		    uint8_t *out, size_t *out_len)
{
	if (ad_len > PFC_KS_AD_MAX || (ad_len && !ad))
		return PFC_ERR_INVAL;
	if (ad_len)
		memcpy(out, ad, ad_len);
	memcpy(out + ad_len, hdr, hdr_len);
	*out_len = ad_len + hdr_len;
	return 0;
}

int pfc_blob_seal(const uint8_t mk[PFC_MASTER_KEY_LEN], const char *name, uint32_t version,
		  const uint8_t *ad, size_t ad_len, const uint8_t key[PFC_BLOB_KEY_LEN],
		  const uint8_t *nonce, uint8_t *blob, size_t cap, size_t *blob_len)
{
	uint8_t tmp[PFC_WRAPPED_MAX];
	uint8_t full_ad[PFC_KS_AD_MAX + 6 + PFC_KS_NAME_MAX];
	struct pfc_wbuf w;
	size_t nl, hl, fl;
	uint8_t *np, *ct;
	int rc;

	if (!mk || !name || !key || !blob || !blob_len || version == 0)
		return PFC_ERR_INVAL;
	nl = strlen(name);
	if ((rc = pfc_ks_name_check(name, nl)) < 0)
		return rc;
	if (cap < PFC_BLOB_LEN(nl))
		return PFC_ERR_TOO_LARGE;
	pfc_wbuf_init_fixed(&w, tmp, sizeof(tmp));
	pfc_wbuf_put_u8(&w, PFC_BLOB_VERSION);
	pfc_wbuf_put_u8(&w, (uint8_t)nl);
	pfc_wbuf_put_bytes(&w, name, nl);
	pfc_wbuf_put_u32(&w, version);
	hl = pfc_wbuf_len(&w);
	np = pfc_wbuf_reserve(&w, PFC_BLOB_NONCE_LEN);
	ct = pfc_wbuf_reserve(&w, PFC_BLOB_CT_LEN);
	if ((rc = pfc_wbuf_error(&w)) < 0)
		return rc;
	if (nonce)
		memcpy(np, nonce, PFC_BLOB_NONCE_LEN);
	else
		randombytes_buf(np, PFC_BLOB_NONCE_LEN);
	if ((rc = build_ad(ad, ad_len, tmp, hl, full_ad, &fl)) < 0)
		return rc;
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, key, PFC_BLOB_KEY_LEN, full_ad, fl,
						   NULL, np, mk);
	memcpy(blob, tmp, pfc_wbuf_len(&w));
	*blob_len = pfc_wbuf_len(&w);
	return 0;
}

int pfc_blob_open(const uint8_t mk[PFC_MASTER_KEY_LEN], const uint8_t *blob, size_t len,
		  const uint8_t *ad, size_t ad_len, uint8_t key[PFC_BLOB_KEY_LEN])
{
	uint8_t full_ad[PFC_KS_AD_MAX + 6 + PFC_KS_NAME_MAX];
	char name[PFC_KS_NAME_MAX + 1];
	uint8_t out[PFC_BLOB_KEY_LEN];
	struct pfc_rbuf r;
	struct pfc_box b;
	uint32_t v;
	size_t hl, fl;
	int rc;

	if (!mk || !key)
		return PFC_ERR_INVAL;
	if ((rc = parse_prefix(blob, len, name, &v, &hl)) < 0)
		return rc;
	if ((rc = build_ad(ad, ad_len, blob, hl, full_ad, &fl)) < 0)
		return rc;
	/* parse_prefix checked the length: header, then nonce || ciphertext || tag */
	pfc_rbuf_init(&r, blob, len);
	if ((rc = pfc_rbuf_get_ptr(&r, hl, NULL)) < 0 ||
	    (rc = pfc_rbuf_get_box(&r, PFC_BLOB_NONCE_LEN + PFC_BLOB_CT_LEN, PFC_BLOB_NONCE_LEN,
				   crypto_aead_xchacha20poly1305_ietf_ABYTES, &b)) < 0)
		return rc;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, b.ct, b.ct_len, full_ad, fl,
						       b.nonce, mk) != 0) {
		rc = PFC_ERR_AUTH;
		goto out;
	}
	memcpy(key, out, sizeof(out));
out:
	sodium_memzero(out, sizeof(out));
	return rc;
}
