// SPDX-License-Identifier: MIT
/*
 * siv.c - deterministic authenticated encryption of short strings (file
 * names, xattr names), built from libsodium primitives because libsodium has
 * no SIV mode (FORMAT.md section 5.2):
 *
 *   P   = string || zero bytes, to max(16, roundup(len, 16)) bytes
 *   SIV = BLAKE2b-128(key = MAC key, tweak(16) || P)      synthetic IV and tag
 *   C   = P XOR XChaCha20(key = stream key, nonce = SIV || 8 zero bytes,
 *                         initial block counter 1)
 *   out = SIV || C
 *
 * Strings never contain NUL, so the padding is unambiguous.  Equal strings
 * under the same tweak give equal output (that is what makes lookup by
 * name possible); anything else about the string stays hidden except its
 * padded length.  Decryption recomputes the SIV for each candidate tweak:
 * a mismatch for all of them is an authentication failure.
 *
 * Counter 1, not 0: the keystream is then exactly the one
 * crypto_aead_xchacha20poly1305_ietf_encrypt applies to its message, so a
 * reader with only an AEAD binding (PyNaCl has no raw XChaCha20) can compute
 * it as the first len bytes of AEAD-encrypt(zeros(len), ad = "", nonce, key).
 */
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/format_int.h"

#define SIV_PLAIN_MAX 256 /* longest padded string (255 bytes -> 256) */

static size_t padded_len(size_t len)
{
	size_t p = (len + PFC_NAME_PAD - 1) / PFC_NAME_PAD * PFC_NAME_PAD;

	return p < PFC_NAME_PAD ? PFC_NAME_PAD : p;
}

static void siv_compute(const uint8_t mac_key[PFC_KEY_BYTES], const uint8_t *tweak,
			const uint8_t *p, size_t plen, uint8_t siv[PFC_SIV_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, mac_key, PFC_KEY_BYTES, PFC_SIV_BYTES);
	crypto_generichash_update(&st, tweak, PFC_ID_BYTES);
	crypto_generichash_update(&st, p, plen);
	crypto_generichash_final(&st, siv, PFC_SIV_BYTES);
	sodium_memzero(&st, sizeof(st));
}

static void stream_xor(const uint8_t stream_key[PFC_KEY_BYTES], const uint8_t siv[PFC_SIV_BYTES],
		       const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t nonce[crypto_stream_xchacha20_NONCEBYTES] = {0};

	memcpy(nonce, siv, PFC_SIV_BYTES);
	crypto_stream_xchacha20_xor_ic(out, in, len, nonce, 1, stream_key);
}

int pfc_siv_seal(const uint8_t mac_key[PFC_KEY_BYTES], const uint8_t stream_key[PFC_KEY_BYTES],
		 const uint8_t *const *tweaks, size_t n_tweaks, const uint8_t *in, size_t len,
		 uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t p[SIV_PLAIN_MAX];
	size_t plen = padded_len(len);

	if (n_tweaks != 1 || len == 0)
		return PFC_ERR_INVAL;
	if (plen > SIV_PLAIN_MAX || cap < PFC_SIV_BYTES + plen)
		return PFC_ERR_TOO_LARGE;
	memset(p, 0, plen);
	memcpy(p, in, len);
	siv_compute(mac_key, tweaks[0], p, plen, out);
	stream_xor(stream_key, out, p, plen, out + PFC_SIV_BYTES);
	sodium_memzero(p, sizeof(p));
	*out_len = PFC_SIV_BYTES + plen;
	return 0;
}

int pfc_siv_open(const uint8_t mac_key[PFC_KEY_BYTES], const uint8_t stream_key[PFC_KEY_BYTES],
		 const uint8_t *const *tweaks, size_t n_tweaks, const uint8_t *in, size_t len,
		 char *out, size_t cap, size_t *out_len, size_t *matched)
{
	uint8_t p[SIV_PLAIN_MAX], siv[PFC_SIV_BYTES];
	struct pfc_box b; /* the SIV is the box's nonce; no tag after the text */
	size_t plen, slen, i;
	int err = PFC_ERR_AUTH;

	if (len < PFC_SIV_BYTES + PFC_NAME_PAD || (len - PFC_SIV_BYTES) % PFC_NAME_PAD != 0 ||
	    pfc_box_split(in, len, PFC_SIV_BYTES, 0, &b) < 0)
		return PFC_ERR_CORRUPT;
	plen = b.text_len;
	if (plen > SIV_PLAIN_MAX)
		return PFC_ERR_TOO_LARGE;
	stream_xor(stream_key, b.nonce, b.ct, plen, p);
	for (i = 0; i < n_tweaks; i++) {
		siv_compute(mac_key, tweaks[i], p, plen, siv);
		if (sodium_memcmp(siv, b.nonce, PFC_SIV_BYTES) == 0) {
			err = 0;
			break;
		}
	}
	if (err)
		goto out;
	/* Authentic; still insist on the canonical shape (one encoding per string). */
	slen = strnlen((const char *)p, plen);
	if (slen == 0 || padded_len(slen) != plen || !sodium_is_zero(p + slen, plen - slen)) {
		err = PFC_ERR_CORRUPT;
		goto out;
	}
	if (cap < slen + 1) {
		err = PFC_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(out, p, slen);
	out[slen] = '\0';
	*out_len = slen;
	*matched = i;
out:
	sodium_memzero(p, sizeof(p));
	return err;
}
