// SPDX-License-Identifier: MIT
/*
 * longname.c - names whose encoding exceeds PFC_ENCNAME_SHORT_MAX (FORMAT.md
 * section 5.5), and the classification of backing directory entries.
 *
 * Long name entry: "pfc.long." || base64url(BLAKE2b-256(encoding)), 52 bytes.
 * Companion file:  entry name || ".name", content = the encoding (ASCII, no
 * newline).  The hash needs no key: the encoding is already ciphertext.
 */
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/format_int.h"

#define PREFIX_LEN (sizeof(PFC_LONGNAME_PREFIX) - 1)
#define SUFFIX_LEN (sizeof(PFC_LONGNAME_SUFFIX) - 1)
#define HASH_BYTES 32

_Static_assert(PFC_LONGNAME_LEN == 9 + 43, "long name length");
_Static_assert(PFC_LONGNAME_COMPANION_LEN == PFC_LONGNAME_LEN + 5, "companion length");

/* A well-formed base64url encoding of SIV || C (no key needed to tell). */
static bool is_encoding(const char *s, size_t len)
{
	uint8_t raw[PFC_SIV_BYTES + 256];
	size_t n;

	if (len > PFC_ENCNAME_MAX || pfc_b64url_decode(s, len, raw, sizeof(raw), &n) != 0)
		return false;
	return n >= PFC_SIV_BYTES + PFC_NAME_PAD && (n - PFC_SIV_BYTES) % PFC_NAME_PAD == 0;
}

static bool is_hash_part(const char *s, size_t len)
{
	uint8_t raw[HASH_BYTES];
	size_t n;

	return len == 43 && pfc_b64url_decode(s, len, raw, sizeof(raw), &n) == 0 && n == HASH_BYTES;
}

/*
 * FORMAT.md 5.4: ".pfcrypt.dirid" and its sync-conflict copies.  Most clients
 * append their marker (".pfcrypt.dirid.conflict1"); Syncthing, Dropbox and
 * Nextcloud put it before the extension (".pfcrypt.sync-conflict-<...>.dirid",
 * ".pfcrypt (conflicted copy ...).dirid").
 */
static bool is_dirid_name(const char *name, size_t len)
{
	static const char stem[] = ".pfcrypt", ext[] = ".dirid";
	size_t nd = strlen(PFC_DIRID_NAME), ns = strlen(stem), ne = strlen(ext);

	if (len >= nd && memcmp(name, PFC_DIRID_NAME, nd) == 0)
		return true;
	return len > ns + ne && memcmp(name, stem, ns) == 0 &&
	       memcmp(name + len - ne, ext, ne) == 0;
}

enum pfc_entry_kind pfc_entry_classify(const char *name, size_t len)
{
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return PFC_ENTRY_DOT;
	if ((len == strlen(PFC_CONFIG_NAME) && memcmp(name, PFC_CONFIG_NAME, len) == 0) ||
	    (len == strlen(PFC_CONFIG_TMP_NAME) && memcmp(name, PFC_CONFIG_TMP_NAME, len) == 0))
		return PFC_ENTRY_CONFIG;
	if (is_dirid_name(name, len))
		return PFC_ENTRY_DIRID;
	if (len == strlen(PFC_SYMLINKS_DIR) && memcmp(name, PFC_SYMLINKS_DIR, len) == 0)
		return PFC_ENTRY_SYMLINKS_DIR;
	if (len >= PFC_LONGNAME_LEN && memcmp(name, PFC_LONGNAME_PREFIX, PREFIX_LEN) == 0 &&
	    is_hash_part(name + PREFIX_LEN, 43)) {
		if (len == PFC_LONGNAME_LEN)
			return PFC_ENTRY_LONGNAME;
		if (len == PFC_LONGNAME_COMPANION_LEN &&
		    memcmp(name + PFC_LONGNAME_LEN, PFC_LONGNAME_SUFFIX, SUFFIX_LEN) == 0)
			return PFC_ENTRY_LONGNAME_COMPANION;
		return PFC_ENTRY_OTHER;
	}
	if (len <= PFC_ENCNAME_SHORT_MAX && is_encoding(name, len))
		return PFC_ENTRY_ENCNAME;
	return PFC_ENTRY_OTHER;
}

int pfc_longname_name(const char *enc, size_t enc_len, char out[PFC_LONGNAME_LEN + 1])
{
	uint8_t h[HASH_BYTES];
	size_t n;

	crypto_generichash(h, sizeof(h), (const uint8_t *)enc, enc_len, NULL, 0);
	memcpy(out, PFC_LONGNAME_PREFIX, PREFIX_LEN);
	return pfc_b64url_encode(h, sizeof(h), out + PREFIX_LEN, PFC_LONGNAME_LEN + 1 - PREFIX_LEN,
				 &n);
}

int pfc_longname_companion(const char *longname, size_t len,
			   char out[PFC_LONGNAME_COMPANION_LEN + 1])
{
	if (pfc_entry_classify(longname, len) != PFC_ENTRY_LONGNAME)
		return PFC_ERR_INVAL;
	memcpy(out, longname, PFC_LONGNAME_LEN);
	memcpy(out + PFC_LONGNAME_LEN, PFC_LONGNAME_SUFFIX, SUFFIX_LEN + 1);
	return 0;
}

int pfc_longname_companion_parse(const char *longname, size_t longname_len, const uint8_t *content,
				 size_t content_len, char *enc, size_t cap, size_t *enc_len)
{
	char expect[PFC_LONGNAME_LEN + 1];
	int err;

	if (pfc_entry_classify(longname, longname_len) != PFC_ENTRY_LONGNAME)
		return PFC_ERR_INVAL;
	if (content_len > PFC_ENCNAME_MAX)
		return PFC_ERR_TOO_LARGE;
	if (content_len <= PFC_ENCNAME_SHORT_MAX ||
	    !is_encoding((const char *)content, content_len))
		return PFC_ERR_CORRUPT;
	err = pfc_longname_name((const char *)content, content_len, expect);
	if (err)
		return err;
	if (sodium_memcmp(expect, longname, PFC_LONGNAME_LEN) != 0)
		return PFC_ERR_AUTH;
	if (cap < content_len + 1)
		return PFC_ERR_TOO_LARGE;
	memcpy(enc, content, content_len);
	enc[content_len] = '\0';
	*enc_len = content_len;
	return 0;
}

int pfc_name_to_backing(const struct pfc_volkeys *vk, const uint8_t dir_id[PFC_ID_BYTES],
			const char *name, size_t len, struct pfc_backing_name *out)
{
	struct pfc_backing_name b;
	int err;

	memset(&b, 0, sizeof(b));
	err = pfc_name_encrypt(vk, dir_id, name, len, b.enc, sizeof(b.enc), &b.enc_len);
	if (err)
		return err;
	if (b.enc_len <= PFC_ENCNAME_SHORT_MAX) {
		memcpy(b.name, b.enc, b.enc_len + 1);
	} else {
		b.is_long = true;
		if ((err = pfc_longname_name(b.enc, b.enc_len, b.name)) ||
		    (err = pfc_longname_companion(b.name, PFC_LONGNAME_LEN, b.companion)))
			return err;
	}
	*out = b;
	return 0;
}
