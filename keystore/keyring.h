/* SPDX-License-Identifier: MIT */
/*
 * keyring.h - the keystore's master keys in memory, and the operations on
 * them (wrap, unwrap, rewrap, generate, create, rotate, retire) and their
 * serialisation as the store file's plaintext (PROTOCOL.md section 5).
 *
 * The entries live in one sodium_malloc'd array (locked, guarded, wiped on
 * free), sorted by (name, version).  A retired entry is a tombstone: its key
 * bytes are zero and are never serialised.  Not thread-safe: the server is
 * single-threaded; mutations are done on a clone which replaces the original
 * only once the store file was written (pfc_keyring_clone/_swap).
 */
#ifndef PFC_KS_KEYRING_H
#define PFC_KS_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "fs/buf.h"
#include "keystore/proto.h"

/* One client that the keystore answered a WRAP, UNWRAP or GENERATE for under
 * a version (retire.h): in memory only, never in the store file. */
struct pfc_ks_use {
	uint64_t at;   /* unix seconds of the last such answer; 0: slot free */
	uint64_t conn; /* the client's connection (struct pfc_ks_peer) */
	int32_t pid;   /* its SO_PEERCRED pid (the one that connected) */
	uint8_t op;    /* the request type */
};
#define PFC_KS_USES 8 /* connections remembered per version (the live ones are kept) */

struct pfc_ks_entry {
	char name[PFC_KS_NAME_MAX + 1];
	uint8_t state; /* enum pfc_ks_state */
	uint32_t version;
	uint64_t created;
	uint64_t retired;
	uint8_t key[PFC_MASTER_KEY_LEN]; /* zero when retired */
	struct pfc_ks_use use[PFC_KS_USES];
};

struct pfc_keyring {
	struct pfc_ks_entry *e; /* sodium_malloc'd, cap entries */
	size_t n, cap;
};

void pfc_keyring_init(struct pfc_keyring *kr);
void pfc_keyring_free(struct pfc_keyring *kr);
int pfc_keyring_clone(const struct pfc_keyring *kr, struct pfc_keyring *out);
/* Free *dst and move src into it. */
void pfc_keyring_replace(struct pfc_keyring *dst, struct pfc_keyring *src);

struct pfc_ks_entry *pfc_keyring_find(const struct pfc_keyring *kr, const char *name, size_t nlen,
				      uint32_t version);
struct pfc_ks_entry *pfc_keyring_primary(const struct pfc_keyring *kr, const char *name,
					 size_t nlen);
/* Insert a copy of *ent (kept sorted); PFC_ERR_EXISTS for a duplicate. */
int pfc_keyring_insert(struct pfc_keyring *kr, const struct pfc_ks_entry *ent);
/* Counts for STATUS: names, versions with keys, tombstones. */
void pfc_keyring_counts(const struct pfc_keyring *kr, uint32_t *names, uint32_t *live,
			uint32_t *retired);

int pfc_keyring_create(struct pfc_keyring *kr, const char *name, size_t nlen, uint64_t now);
int pfc_keyring_rotate(struct pfc_keyring *kr, const char *name, size_t nlen, uint64_t now,
		       uint32_t *new_version);
/*
 * delay 0: destroy the version's key bytes now (tombstone, retired = now).
 * delay > 0: make it retiring until now + delay (PROTOCOL.md 2.2); a retiring
 * version gets the new deadline.  PFC_ERR_BUSY for the primary,
 * PFC_ERR_KEY_RETIRED for a tombstone, PFC_ERR_KEY_UNKNOWN.
 */
int pfc_keyring_retire(struct pfc_keyring *kr, const char *name, size_t nlen, uint32_t version,
		       uint64_t now, uint32_t delay);
/* A retiring version back to active; PFC_ERR_INVAL if it is not retiring. */
int pfc_keyring_cancel_retire(struct pfc_keyring *kr, const char *name, size_t nlen,
			      uint32_t version);
/* The earliest deadline of a retiring version, 0 if none. */
uint64_t pfc_keyring_next_deadline(const struct pfc_keyring *kr);
/* Destroy every retiring version whose deadline is <= now; returns how many. */
size_t pfc_keyring_expire(struct pfc_keyring *kr, uint64_t now);

int pfc_keyring_wrap(const struct pfc_keyring *kr, const char *name, size_t nlen, const uint8_t *ad,
		     size_t ad_len, const uint8_t key[PFC_BLOB_KEY_LEN], uint8_t *blob,
		     size_t *blob_len);
int pfc_keyring_unwrap(const struct pfc_keyring *kr, const uint8_t *blob, size_t len,
		       const uint8_t *ad, size_t ad_len, uint8_t key[PFC_BLOB_KEY_LEN]);
/* 0: new blob; 1: already under the primary version (copied). */
int pfc_keyring_rewrap(const struct pfc_keyring *kr, const uint8_t *blob, size_t len,
		       const uint8_t *ad, size_t ad_len, uint8_t *new_blob, size_t *new_len);
int pfc_keyring_generate(const struct pfc_keyring *kr, const char *name, size_t nlen,
			 const uint8_t *prefix, size_t prefix_len, unsigned count,
			 struct pfc_ks_filekey *out);

/* Plaintext of the store file (secure writer) and back. */
int pfc_keyring_serialize(const struct pfc_keyring *kr, struct pfc_wbuf *w);
int pfc_keyring_parse(const uint8_t *p, size_t len, struct pfc_keyring *out);

#endif
