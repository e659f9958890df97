// SPDX-License-Identifier: MIT
/* cipher.c - the two block ciphers: names, availability, sizes. */
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/format.h"

const char *pfc_cipher_name(int cipher)
{
	switch (cipher) {
	case PFC_CIPHER_AES256GCM:
		return "aes256gcm";
	case PFC_CIPHER_XCHACHA20POLY1305:
		return "xchacha20poly1305";
	default:
		return NULL;
	}
}

int pfc_cipher_parse(const char *name, enum pfc_cipher *out)
{
	if (!name)
		return PFC_ERR_INVAL;
	if (strcmp(name, "aes256gcm") == 0) {
		*out = PFC_CIPHER_AES256GCM;
		return 0;
	}
	if (strcmp(name, "xchacha20poly1305") == 0) {
		*out = PFC_CIPHER_XCHACHA20POLY1305;
		return 0;
	}
	return PFC_ERR_INVAL;
}

int pfc_cipher_check(int cipher)
{
	switch (cipher) {
	case PFC_CIPHER_AES256GCM:
		/* libsodium's AES-GCM needs AES-NI and PCLMUL; without them it
		 * refuses to run rather than fall back to a slow, leaky table. */
		return crypto_aead_aes256gcm_is_available() ? 0 : PFC_ERR_CIPHER_UNAVAILABLE;
	case PFC_CIPHER_XCHACHA20POLY1305:
		return 0;
	default:
		return PFC_ERR_INVAL;
	}
}

enum pfc_cipher pfc_cipher_default(void)
{
	return pfc_cipher_check(PFC_CIPHER_AES256GCM) == 0 ? PFC_CIPHER_AES256GCM
							   : PFC_CIPHER_XCHACHA20POLY1305;
}

size_t pfc_cipher_nonce_size(int cipher)
{
	switch (cipher) {
	case PFC_CIPHER_AES256GCM:
		return crypto_aead_aes256gcm_NPUBBYTES;
	case PFC_CIPHER_XCHACHA20POLY1305:
		return crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	default:
		return 0;
	}
}

size_t pfc_cipher_block_overhead(int cipher)
{
	size_t n = pfc_cipher_nonce_size(cipher);

	return n ? PFC_GEN_BYTES + n + PFC_TAG_BYTES : 0;
}
