// SPDX-License-Identifier: MIT
/* testwrap.c - blob layout v1 with a fixed test master key (see testwrap.h). */
#include <string.h>

#include <sodium.h>

#include "fs/buf.h"
#include "fs/err.h"
#include "testwrap.h"

#define AD_MAX 256

const uint8_t TESTWRAP_MASTER_KEY[32] = {
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
};

/* AEAD AD = caller ad || blob bytes blob_version .. key_version. */
static size_t full_ad(const uint8_t *ad, size_t ad_len, const uint8_t *hdr, size_t hdr_len,
		      uint8_t *out)
{
	memcpy(out, ad, ad_len);
	memcpy(out + ad_len, hdr, hdr_len);
	return ad_len + hdr_len;
}

int testwrap_wrap(const uint8_t *ad, size_t ad_len, const uint8_t key[32], const uint8_t *nonce,
		  uint8_t *blob, size_t *blob_len)
{
	const size_t nlen = strlen(TESTWRAP_NAME);
	uint8_t fad[AD_MAX + 64];
	struct pfc_wbuf w;
	size_t hdr_len, fl;
	uint8_t *n, *ct;

	if (ad_len > AD_MAX)
		return PFC_ERR_TOO_LARGE;
	pfc_wbuf_init_fixed(&w, blob, 128);
	pfc_wbuf_put_u8(&w, 1);
	pfc_wbuf_put_u8(&w, (uint8_t)nlen);
	pfc_wbuf_put_bytes(&w, TESTWRAP_NAME, nlen);
	pfc_wbuf_put_u32(&w, TESTWRAP_VERSION);
	hdr_len = w.len;
	n = pfc_wbuf_reserve(&w, 24);
	ct = pfc_wbuf_reserve(&w, 48);
	if (pfc_wbuf_error(&w))
		return pfc_wbuf_error(&w);
	if (nonce)
		memcpy(n, nonce, 24);
	else
		randombytes_buf(n, 24);
	fl = full_ad(ad, ad_len, blob, hdr_len, fad);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, key, 32, fad, fl, NULL, n,
						   TESTWRAP_MASTER_KEY);
	*blob_len = w.len;
	return 0;
}

int testwrap_unwrap(const uint8_t *blob, size_t len, const uint8_t *ad, size_t ad_len,
		    uint8_t key[32])
{
	uint8_t fad[AD_MAX + 64], out[32];
	const uint8_t *name, *n, *ct;
	struct pfc_rbuf r;
	uint8_t ver, nlen;
	uint32_t kver;
	size_t fl;
	int err;

	if (ad_len > AD_MAX)
		return PFC_ERR_TOO_LARGE;
	pfc_rbuf_init(&r, blob, len);
	if ((err = pfc_rbuf_get_u8(&r, &ver)))
		return err;
	if (ver != 1)
		return PFC_ERR_UNKNOWN_VERSION;
	if ((err = pfc_rbuf_get_u8(&r, &nlen)) || (err = pfc_rbuf_get_ptr(&r, nlen, &name)) ||
	    (err = pfc_rbuf_get_u32(&r, &kver)))
		return err;
	fl = full_ad(ad, ad_len, blob, r.pos, fad);
	if ((err = pfc_rbuf_get_ptr(&r, 24, &n)) || (err = pfc_rbuf_get_ptr(&r, 48, &ct)) ||
	    (err = pfc_rbuf_expect_end(&r)))
		return err;
	if (nlen != strlen(TESTWRAP_NAME) || memcmp(name, TESTWRAP_NAME, nlen) != 0 ||
	    kver != TESTWRAP_VERSION)
		return PFC_ERR_KEY_UNKNOWN;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, 48, fad, fl, n,
						       TESTWRAP_MASTER_KEY) != 0)
		return PFC_ERR_AUTH;
	memcpy(key, out, 32);
	sodium_memzero(out, sizeof(out));
	return 0;
}
