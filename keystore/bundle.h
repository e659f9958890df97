/* SPDX-License-Identifier: MIT */
/*
 * bundle.h - export bundles: chosen versions of one master key, sealed under
 * a separate export passphrase ("PFCKSEXP" container, seal.h; plaintext in
 * PROTOCOL.md section 6).
 */
#ifndef PFC_KS_BUNDLE_H
#define PFC_KS_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "keystore/keyring.h"
#include "keystore/seal.h"

/* A bundle's Argon2id cost when the exporter names none: its own, not the
 * store's (PROTOCOL.md section 7), the project's default profile. */
#define PFC_BUNDLE_KDF_DEFAULT "moderate"

/*
 * The bundle cost named by the EXPORT request (name, len: not NUL-terminated;
 * len 0: PFC_BUNDLE_KDF_DEFAULT) into kdf, with a fresh salt.  PFC_ERR_INVAL
 * for an unknown name.
 */
int pfc_bundle_kdf(const char *name, size_t len, struct pfc_kdf *kdf);

/*
 * Seal name's versions (n == 0: every non-retired one) of kr into out (a
 * non-secure writer: the output is ciphertext), Argon2id with kdf's profile
 * (pfc_bundle_kdf, never the store's) and a fresh salt.  PFC_ERR_KEY_UNKNOWN,
 * PFC_ERR_KEY_RETIRED.
 */
int pfc_bundle_export(const struct pfc_keyring *kr, const char *name, size_t nlen,
		      const uint32_t *versions, size_t n, const uint8_t *pass, size_t pass_len,
		      const struct pfc_kdf *kdf, struct pfc_wbuf *out);
/* The same sealed under sk, a bundle key already derived (pfc_skey_derive with
 * PFC_SEAL_MAGIC_BUNDLE and a fresh salt; its parameters go into the header). */
int pfc_bundle_export_key(const struct pfc_keyring *kr, const char *name, size_t nlen,
			  const uint32_t *versions, size_t n, const struct pfc_skey *sk,
			  struct pfc_wbuf *out);
/*
 * Add a bundle's versions to kr (the caller passes a clone and keeps it only on
 * success).  Same bytes already present: skipped.  Different bytes:
 * PFC_ERR_CONFLICT.  Retired here: PFC_ERR_KEY_RETIRED.  New versions are
 * active, except that a name new to kr gets its highest version as primary.
 */
int pfc_bundle_import(struct pfc_keyring *kr, const uint8_t *bundle, size_t len,
		      const uint8_t *pass, size_t pass_len, uint32_t *imported);
/* The same with the bundle key already derived (pfc_skey_derive with the
 * parameters of the bundle's header, pfc_seal_header): no Argon2id here. */
int pfc_bundle_import_key(struct pfc_keyring *kr, const uint8_t *bundle, size_t len,
			  const struct pfc_skey *sk, uint32_t *imported);

#endif
