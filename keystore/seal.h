/* SPDX-License-Identifier: MIT */
/*
 * seal.h - passphrase-sealed containers: the store file and the export
 * bundle share one layout (PROTOCOL.md sections 5 and 6), told apart by their
 * 8-byte magic, which is also the crypto_kdf context of their subkeys.
 *
 *   off  len
 *     0    8  magic                 "PFCKSTOR" (store) / "PFCKSEXP" (bundle)
 *     8    2  u16 container version = 1
 *    10    1  u8 KDF algorithm = 2 (Argon2id v1.3)
 *    11    1  u8 KDF profile id (1 test, 2 interactive, 3 moderate, 4 sensitive)
 *    12    8  u64 opslimit
 *    20    8  u64 memlimit (bytes)
 *    28   16  salt
 *    44   16  passphrase check = subkey 2 (first 16 bytes)
 *    60   24  nonce
 *    84    4  u32 ciphertext length (plaintext + 16)
 *    88    .  XChaCha20-Poly1305-IETF ciphertext, key = subkey 1, AD = bytes 0..88
 *
 * root = Argon2id(passphrase, salt, opslimit, memlimit) (32 bytes);
 * subkey i = crypto_kdf_derive_from_key(32, i, magic, root).
 * A check mismatch is PFC_ERR_BAD_PASSPHRASE; a matching check with a failing
 * tag is PFC_ERR_CORRUPT (the file was altered), so the two are told apart.
 */
#ifndef PFC_KS_SEAL_H
#define PFC_KS_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "fs/buf.h"

#define PFC_SEAL_MAGIC_LEN 8
#define PFC_SEAL_HDR_LEN   88
#define PFC_SEAL_SALT_LEN  16
#define PFC_SEAL_CHECK_LEN 16
/* The magics double as crypto_kdf contexts: values must never repeat. */
#define PFC_SEAL_MAGIC_STORE  "PFCKSTOR"
#define PFC_SEAL_MAGIC_BUNDLE "PFCKSEXP"

enum pfc_kdf_profile {
	PFC_KDF_TEST = 1,	 /* INSECURE, for the test suite: ops 1, 1 MiB */
	PFC_KDF_INTERACTIVE = 2, /* ops 2, 64 MiB */
	PFC_KDF_MODERATE = 3,	 /* ops 3, 256 MiB (default) */
	PFC_KDF_SENSITIVE = 4,	 /* ops 4, 1 GiB */
};

struct pfc_kdf {
	uint8_t profile;
	uint64_t opslimit;
	uint64_t memlimit;
	uint8_t salt[PFC_SEAL_SALT_LEN];
};

/* A derived container key; lives in sodium_malloc memory. */
struct pfc_skey {
	struct pfc_kdf kdf;
	uint8_t enc[32];
	uint8_t check[PFC_SEAL_CHECK_LEN];
};

/* Profile by name ("test", "interactive", "moderate", "sensitive"), fresh
 * random salt.  PFC_ERR_INVAL for an unknown name. */
int pfc_kdf_from_name(const char *name, struct pfc_kdf *kdf);
const char *pfc_kdf_profile_name(uint8_t profile);
/* New salt, same profile (for a passphrase change or an export). */
void pfc_kdf_new_salt(struct pfc_kdf *kdf);

/* Argon2id + subkeys for a container of this magic.  *out is sodium_malloc'd;
 * free with pfc_skey_free(). */
int pfc_skey_derive(const char *magic, const uint8_t *pass, size_t pass_len,
		    const struct pfc_kdf *kdf, struct pfc_skey **out);
void pfc_skey_free(struct pfc_skey *sk);

/* Read the header of a container (no passphrase needed). */
int pfc_seal_header(const char *magic, const uint8_t *buf, size_t len, struct pfc_kdf *kdf);
/* Seal pt into out (appended). */
int pfc_seal(const char *magic, const struct pfc_skey *sk, const uint8_t *pt, size_t pt_len,
	     struct pfc_wbuf *out);
/* Open a container into *pt (a secure wbuf this function initialises; the
 * caller frees it with pfc_wbuf_free on success). */
int pfc_unseal(const char *magic, const struct pfc_skey *sk, const uint8_t *buf, size_t len,
	       struct pfc_wbuf *pt);
/* Header, derive, open in one step. *sk_out (may be NULL) keeps the key. */
int pfc_unseal_pass(const char *magic, const uint8_t *pass, size_t pass_len, const uint8_t *buf,
		    size_t len, struct pfc_wbuf *pt, struct pfc_skey **sk_out);

#endif
