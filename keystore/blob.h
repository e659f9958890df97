/* SPDX-License-Identifier: MIT */
/*
 * blob.h - the wrapped-key blob (shared contract, PROTOCOL.md section 3).
 *
 * A blob is what the keystore returns for "wrap this 32-byte key under master
 * key NAME": opaque to everyone else, stored in volume configs and file
 * headers.  Layout v1 (little-endian):
 *
 *     u8   blob_version = 1
 *     u8   name_len (1..32)
 *     name_len bytes  name            [A-Za-z0-9._-]
 *     u32  key_version (1..)
 *     24   nonce                      random
 *     48   ciphertext || tag          XChaCha20-Poly1305-IETF of the 32-byte key
 *
 * AEAD key = the master key (name, version); associated data = caller_ad ||
 * blob bytes from blob_version through key_version, so neither the name nor
 * the version can be altered.
 *
 * pfc_blob_parse_name_version() needs no key and no keystore: the CLI uses it
 * to count files per master-key version.  pfc_blob_seal()/pfc_blob_open() are
 * the crypto the keystore performs (exposed for the keystore and the tests).
 * Depends only on fs/buf, fs/err and libsodium.
 */
#ifndef PFC_KS_BLOB_H
#define PFC_KS_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "fs/keylimits.h" /* PFC_WRAPPED_MAX: the contract, no blob is longer */

#define PFC_BLOB_VERSION   1
#define PFC_KS_NAME_MAX	   PFC_KEY_NAME_MAX /* master-key name bytes, without NUL */
#define PFC_BLOB_NONCE_LEN 24
#define PFC_BLOB_KEY_LEN   32 /* wrapped payloads are always 32-byte keys */
#define PFC_BLOB_CT_LEN	   48 /* 32 + 16-byte Poly1305 tag */
#define PFC_MASTER_KEY_LEN 32
/* Blob length for a name of n bytes: 1 + 1 + n + 4 + 24 + 48. */
#define PFC_BLOB_LEN(n) ((size_t)(78 + (n)))
/* Largest caller associated data accepted by seal/open and the keystore. */
#define PFC_KS_AD_MAX 256

/* 0 if name[0..len) is a valid master-key name (1..32 of [A-Za-z0-9._-]),
 * else PFC_ERR_NAME_INVALID / PFC_ERR_NAME_TOO_LONG. */
int pfc_ks_name_check(const char *name, size_t len);

/*
 * Read the master-key name and version of a blob without decrypting it.
 * name_out receives the NUL-terminated name (PFC_KS_NAME_MAX + 1 bytes).
 * Strict: the length must be exactly PFC_BLOB_LEN(name_len), the blob version
 * 1, the name valid and the version >= 1; otherwise PFC_ERR_UNKNOWN_VERSION,
 * PFC_ERR_TRUNCATED, PFC_ERR_CORRUPT or PFC_ERR_NAME_*.  Outputs set only on
 * success.  The name/version are NOT authenticated until the blob is opened.
 */
int pfc_blob_parse_name_version(const uint8_t *blob, size_t len, char name_out[PFC_KS_NAME_MAX + 1],
				uint32_t *version);

/*
 * Wrap key under master key mk (name, version).  nonce: 24 bytes, or NULL for
 * random (only tests pass a fixed nonce).  blob must hold cap bytes
 * (PFC_WRAPPED_MAX is always enough); *blob_len receives the length.
 */
int pfc_blob_seal(const uint8_t mk[PFC_MASTER_KEY_LEN], const char *name, uint32_t version,
		  const uint8_t *ad, size_t ad_len, const uint8_t key[PFC_BLOB_KEY_LEN],
		  const uint8_t *nonce, uint8_t *blob, size_t cap, size_t *blob_len);

/*
 * Unwrap: PFC_ERR_AUTH if the blob, its name/version or ad were altered or mk
 * is not the key it was sealed under.  key is written only on success (the
 * caller should pass locked memory); it is left untouched on failure.
 */
int pfc_blob_open(const uint8_t mk[PFC_MASTER_KEY_LEN], const uint8_t *blob, size_t len,
		  const uint8_t *ad, size_t ad_len, uint8_t key[PFC_BLOB_KEY_LEN]);

#endif
