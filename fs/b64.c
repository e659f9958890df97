// SPDX-License-Identifier: MIT
/*
 * b64.c - base64url without padding (RFC 4648 section 5), strict decoding so
 * that every byte string has exactly one encoding (names are looked up by
 * their encoding: two encodings of one name would be two files).
 */
#include "fs/err.h"
#include "fs/format.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t pfc_b64url_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

int pfc_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap, size_t *out_len)
{
	size_t need = pfc_b64url_len(n);
	size_t i, o = 0;

	if (cap < need + 1)
		return PFC_ERR_TOO_LARGE;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	*out_len = o;
	return 0;
}

int pfc_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t need, i, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (len % 4 == 1)
		return PFC_ERR_CORRUPT;
	need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	if (cap < need)
		return PFC_ERR_TOO_LARGE;
	for (i = 0; i < len; i++)
		if (b64_value((unsigned char)in[i]) < 0)
			return PFC_ERR_CORRUPT;
	for (i = 0; i < len; i++) {
		acc = acc << 6 | (uint32_t)b64_value((unsigned char)in[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Unused low bits of the last character must be zero (canonical form). */
	if (acc != 0) {
		for (i = 0; i < o; i++)
			out[i] = 0;
		return PFC_ERR_CORRUPT;
	}
	*out_len = o;
	return 0;
}
