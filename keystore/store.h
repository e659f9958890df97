/* SPDX-License-Identifier: MIT */
/*
 * store.h - the keystore file: a "PFCKSTOR" sealed container (seal.h) whose
 * plaintext is the serialised keyring (keyring.h).  PROTOCOL.md section 5.
 *
 * Writes are atomic: a temp file in the same directory, fsync, rename over the
 * store, fsync of the directory; a crash leaves the old or the new file.  A
 * file that does not parse is reported (PFC_ERR_BAD_MAGIC / CORRUPT / ...) and
 * never written over by these functions: only pfc_store_save replaces the
 * store, and the server calls it only with a keyring that came from a store
 * it read successfully (or from pfc_store_create).
 */
#ifndef PFC_KS_STORE_H
#define PFC_KS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "keystore/keyring.h"
#include "keystore/seal.h"

#define PFC_STORE_FILE_MAX (16u << 20) /* refuse bigger files */

/* Read and decrypt path.  PFC_ERR_NOT_FOUND if missing, PFC_ERR_BAD_PASSPHRASE,
 * PFC_ERR_CORRUPT, PFC_ERR_BAD_MAGIC, PFC_ERR_IO.  *sk keeps the derived key for
 * later saves (no Argon2id per write). */
int pfc_store_load(const char *path, const uint8_t *pass, size_t pass_len, struct pfc_keyring *kr,
		   struct pfc_skey **sk);
/* The KDF parameters in path's header (no passphrase needed): what to derive
 * the key of pfc_store_load_key() with.  Errors as pfc_store_load. */
int pfc_store_kdf(const char *path, struct pfc_kdf *kdf);
/* pfc_store_load with a key already derived (pfc_skey_derive with the header's
 * parameters, e.g. on the KDF worker): no Argon2id here. */
int pfc_store_load_key(const char *path, const struct pfc_skey *sk, struct pfc_keyring *kr);
/* Atomically replace path with kr sealed under sk. */
int pfc_store_save(const char *path, const struct pfc_keyring *kr, const struct pfc_skey *sk);
/* Create a new empty store under pass with the given profile; PFC_ERR_EXISTS
 * if path exists (never overwritten).  Creates the missing directories of its
 * path with mode 0700. */
int pfc_store_create(const char *path, const uint8_t *pass, size_t pass_len,
		     const struct pfc_kdf *kdf);
/* Remove "<path>.tmp.XXXXXX" files left by a crash in the middle of a save
 * (the caller must hold the store lock). */
void pfc_store_remove_temps(const char *path);
/* Read a whole file (at most max bytes) into *buf (malloc'd). */
int pfc_read_file(const char *path, size_t max, uint8_t **buf, size_t *len);
/* Write bytes to path atomically (temp + fsync + rename/link + dir fsync).
 * exclusive: fail with PFC_ERR_EXISTS rather than replace. */
int pfc_atomic_write(const char *path, const uint8_t *p, size_t len, int exclusive);

#endif
