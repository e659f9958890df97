// SPDX-License-Identifier: MIT
/*
 * fuzz_format_parsers.c - libFuzzer target over every parser of the format
 * library.  The first input byte picks the parser, the rest is its input:
 *   0 config parse (a parsed config must re-encode to the same bytes)
 *   1 header parse (a parsed header must have sane fields)
 *   2 block range decrypt, AES-256-GCM      (byte 1 = first block index)
 *   3 block range decrypt, XChaCha20-Poly1305 (byte 1 = first block index)
 *   4 name decrypt (byte 1 % 3 + 1 candidate directory ids)
 *   5 long-name companion parse (for a fixed long-name entry) + classify
 *   6 symlink target decrypt
 *   7 xattr name decrypt, then value decrypt bound to that name
 *   8 base64url decode (a decoded string must re-encode to itself)
 * Keys are those of tests/vectors/format_v1.json, so the seed corpus (made
 * from the vectors) reaches the code after authentication too.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fs/buf.h"
#include "fs/err.h"
#include "fs/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pfc_volkeys *vk;
static struct pfc_filekey *fk_aes, *fk_xcha;
static const uint8_t dir_ids[3][16] = {{0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9,
					0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf},
				       {1},
				       {2}};

static void setup(void)
{
	uint8_t nk[32], fk[32], fid[16];
	static const uint8_t vid[16] = "vol-id-012345678";
	struct pfc_layout l;

	if (vk)
		return;
	if (pfc_format_init())
		abort();
	for (int i = 0; i < 32; i++) {
		nk[i] = (uint8_t)(0x40 + i);
		fk[i] = (uint8_t)(0x80 + i);
	}
	for (int i = 0; i < 16; i++)
		fid[i] = (uint8_t)(0xf0 + i);
	if (pfc_volkeys_new(nk, vid, &vk) || pfc_layout_init(&l, PFC_CIPHER_AES256GCM, 4096) ||
	    pfc_filekey_new(fk, fid, &l, &fk_aes) ||
	    pfc_layout_init(&l, PFC_CIPHER_XCHACHA20POLY1305, 4096) ||
	    pfc_filekey_new(fk, fid, &l, &fk_xcha))
		abort();
}

static void fuzz_config(const uint8_t *d, size_t n)
{
	struct pfc_config c;
	uint8_t buf[PFC_CONFIG_MAX];
	struct pfc_wbuf w;

	if (pfc_config_parse(d, n, &c) != 0)
		return;
	pfc_wbuf_init_fixed(&w, buf, sizeof(buf));
	if (pfc_config_encode(&c, &w) != 0 || pfc_wbuf_len(&w) != n || memcmp(buf, d, n) != 0)
		abort(); /* parse and encode disagree */
	(void)pfc_config_verify(&c, vk);
}

static void fuzz_header(const uint8_t *d, size_t n)
{
	struct pfc_header h;

	if (pfc_header_parse(d, n, &h) != 0)
		return;
	if (h.wrapped_len == 0 || h.wrapped_len > PFC_WRAPPED_MAX)
		abort();
	(void)pfc_header_verify_generation(&h, fk_xcha);
}

static void fuzz_blocks(struct pfc_filekey *k, const uint8_t *d, size_t n)
{
	static uint8_t out[4 * 4096 + 4096];
	size_t len, plain;
	uint64_t bad = 0;
	int err;

	if (n < 1)
		return;
	if (n - 1 > 4 * (4096 + 48))
		n = 1 + 4 * (4096 + 48);
	plain = (size_t)pfc_layout_plain_len(pfc_filekey_layout(k), n - 1);
	memset(out, 0xa5, sizeof(out));
	err = pfc_blocks_decrypt(k, d[0], d + 1, n - 1, out, sizeof(out), &len, &bad);
	if (err && !sodium_is_zero(out, plain))
		abort(); /* output not wiped on failure */
	if (!err && len != pfc_layout_plain_len(pfc_filekey_layout(k), n - 1))
		abort();
}

static void fuzz_name(const uint8_t *d, size_t n)
{
	char out[PFC_NAME_BUF];
	size_t len, m;

	if (n < 1)
		return;
	if (pfc_name_decrypt(vk, dir_ids, 1 + d[0] % 3, (const char *)d + 1, n - 1, out,
			     sizeof(out), &len, &m) == 0 &&
	    (pfc_name_check(out, len) != 0 || m > 2))
		abort();
}

static void fuzz_companion(const uint8_t *d, size_t n)
{
	static const char entry[] = "pfc.long.dwcrZoSqCDnijBWJrqOeh6Eu_CdbSWDyHDN7HK24N7Q";
	char enc[PFC_ENCNAME_BUF];
	size_t len;

	if (pfc_longname_companion_parse(entry, strlen(entry), d, n, enc, sizeof(enc), &len) == 0 &&
	    (len != n || len <= PFC_ENCNAME_SHORT_MAX))
		abort();
	(void)pfc_entry_classify((const char *)d, n);
}

static void fuzz_symlink(const uint8_t *d, size_t n)
{
	static char out[PFC_SYMLINK_BUF];
	char hash[PFC_SYMLINK_HASH_LEN + 1];
	uint8_t h[32];
	size_t len;

	if (pfc_symlink_decrypt(vk, (const char *)d, n, out, sizeof(out), &len) == 0 &&
	    (len == 0 || memchr(out, '\0', len)))
		abort();
	if (pfc_symlink_ref_parse((const char *)d, n, hash) && strlen(hash) != PFC_SYMLINK_HASH_LEN)
		abort();
	/* The input as a companion's content under its own hash, so the unseal is reached. */
	crypto_generichash(h, sizeof(h), d, n, NULL, 0);
	if (pfc_b64url_encode(h, sizeof(h), hash, sizeof(hash), &len) != 0)
		abort();
	if (pfc_symlink_companion_open(vk, hash, d, n, out, sizeof(out), &len) == 0 &&
	    (len == 0 || len > PFC_SYMLINK_TARGET_MAX || memchr(out, '\0', len)))
		abort();
}

static void fuzz_xattr(const uint8_t *d, size_t n)
{
	static uint8_t val[65536];
	char name[5 + PFC_XATTR_SUFFIX_MAX + 1];
	size_t len, nl, split;

	if (n < 1)
		return;
	split = d[0] < n - 1 ? d[0] : n - 1; /* name bytes, then value bytes */
	if (pfc_xattr_name_decrypt(vk, (const char *)d + 1, split, name, sizeof(name), &nl) != 0)
		return;
	(void)pfc_xattr_value_decrypt(vk, (const char *)d + 1, split, d + 1 + split, n - 1 - split,
				      val, sizeof(val), &len);
}

static void fuzz_b64(const uint8_t *d, size_t n)
{
	static uint8_t out[4096];
	static char again[8192];
	size_t len, len2;

	if (n > 4096)
		return;
	if (pfc_b64url_decode((const char *)d, n, out, sizeof(out), &len) != 0)
		return;
	if (pfc_b64url_encode(out, len, again, sizeof(again), &len2) != 0 || len2 != n ||
	    memcmp(again, d, n) != 0)
		abort(); /* decoding must be canonical */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size < 1)
		return 0;
	switch (data[0]) {
	case 0:
		fuzz_config(data + 1, size - 1);
		break;
	case 1:
		fuzz_header(data + 1, size - 1);
		break;
	case 2:
		fuzz_blocks(fk_aes, data + 1, size - 1);
		break;
	case 3:
		fuzz_blocks(fk_xcha, data + 1, size - 1);
		break;
	case 4:
		fuzz_name(data + 1, size - 1);
		break;
	case 5:
		fuzz_companion(data + 1, size - 1);
		break;
	case 6:
		fuzz_symlink(data + 1, size - 1);
		break;
	case 7:
		fuzz_xattr(data + 1, size - 1);
		break;
	case 8:
		fuzz_b64(data + 1, size - 1);
		break;
	default:
		break;
	}
	return 0;
}
