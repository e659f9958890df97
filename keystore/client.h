/* SPDX-License-Identifier: MIT */
/*
 * client.h - the keystore client library (libpfcks), used by pfcryptfs and
 * the pfcrypt CLI.  Speaks keystore/PROTOCOL.md over a Unix socket.
 *
 * Errors: every call returns 0 (or a documented positive value) on success
 * and a negative PFC_ERR_* (fs/err.h) on failure.  The "negative errno
 * plus a message" is: -pfc_err_to_errno(err) gives the errno (ENOKEY for
 * PFC_ERR_KEY_RETIRED / KEY_UNKNOWN / LOCKED / UNREACHABLE), pfc_strerror(err)
 * a fixed text, and pfc_ks_last_message() the server's short message for the
 * last failed request (never a secret).  Codes the server can return:
 *   PFC_ERR_LOCKED        the keystore holds no keys until unlocked
 *   PFC_ERR_KEY_UNKNOWN   no such master key name or version
 *   PFC_ERR_KEY_RETIRED   the blob's master-key version was retired (shredded)
 *   PFC_ERR_KEY_RETIRING  the blob's version is scheduled for destruction
 *   PFC_ERR_AUTH          blob bytes, name, version or associated data altered
 *   PFC_ERR_EXISTS        create of an existing name
 *   PFC_ERR_BUSY          retire of the primary version
 *   PFC_ERR_BAD_PASSPHRASE  unlock / change-passphrase / import passphrase or the
 *                         proof of retire / export wrong
 *   PFC_ERR_CONFLICT      import would overwrite a version with different bytes
 *   PFC_ERR_DENIED        peer uid not allowed (neither the owner nor root); a
 *                         request needing proof sent without it (pfc_ks_set_proof)
 *   PFC_ERR_INVAL, PFC_ERR_NAME_INVALID, PFC_ERR_TOO_LARGE, PFC_ERR_CORRUPT,
 *   PFC_ERR_PROTOCOL, PFC_ERR_IO (store write failed), PFC_ERR_NOMEM
 * and locally: PFC_ERR_UNREACHABLE (cannot connect), PFC_ERR_TIMEOUT (no
 * complete reply within timeout_ms), PFC_ERR_PROTOCOL (malformed reply),
 * PFC_ERR_UNTRUSTED (the socket fails the client checks, below).
 *
 * Trust: every connect (the first and each reconnect) checks, before sending
 * a byte, that the socket is served by this process's effective uid or root
 * and sits in a directory nobody else can write (keystore/sockcheck.h,
 * PROTOCOL.md section 8 "Client checks").  A failure is PFC_ERR_UNTRUSTED,
 * never retried; its one-line reason, naming the path, is
 * pfc_ks_last_message() (a reconnect) or pfc_ks_connect_message() (connect).
 *
 * Threads: a struct pfc_ks is safe to share; a mutex inside serialises the
 * requests (one request in flight per connection).  Open several connections
 * for parallelism.
 *
 * Reconnect: if the connection was dropped (keystore restarted, idle close),
 * a request reconnects once and is resent when it is idempotent (everything
 * except create-key, rotate, retire, change-passphrase and import); those are
 * resent only when the drop was seen before the request was sent.
 *
 * Secrets: key outputs are written straight into the caller's buffers, which
 * should be locked memory (sodium_malloc); internal buffers are sodium_malloc'd
 * and wiped.  On failure key outputs are wiped (set to zero).
 */
#ifndef PFC_KS_CLIENT_H
#define PFC_KS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keystore/proto.h" /* the wire types: status, key info, file keys, limits */

struct pfc_ks; /* one connection */

/*
 * Connect to socket_path (NULL = pfc_ks_default_socket()).  timeout_ms bounds
 * the connect and every later request's round trip (<= 0: 10000 ms).
 * PFC_ERR_UNREACHABLE if nothing listens there; PFC_ERR_TIMEOUT;
 * PFC_ERR_UNTRUSTED if the socket fails the client checks (reason:
 * pfc_ks_connect_message()).  The server's peer-uid refusal shows on the
 * first request as PFC_ERR_DENIED.
 */
int pfc_ks_connect(const char *socket_path, int timeout_ms, struct pfc_ks **out);
/* Why this thread's last pfc_ks_connect() failed with PFC_ERR_UNTRUSTED: one
 * line naming the socket or its directory and the reason; "" otherwise. */
const char *pfc_ks_connect_message(void);
/* Close and free; NULL is a no-op.  Not concurrently with a request. */
void pfc_ks_close(struct pfc_ks *ks);
/* Server's message for the last failed request on this connection ("" if
 * none); valid until the next request.  Never contains a secret. */
const char *pfc_ks_last_message(struct pfc_ks *ks);

/* Protocol handshake: *server_version = server's PROTOCOL.md version.
 * PFC_ERR_UNKNOWN_VERSION if the server cannot speak ours. */
int pfc_ks_hello(struct pfc_ks *ks, uint32_t *server_version);
/* Works locked or unlocked. */
int pfc_ks_status(struct pfc_ks *ks, struct pfc_ks_status *st);

/* Create master key name with a random version 1 as primary.  PFC_ERR_EXISTS
 * if the name exists (even if all its versions are retired). */
int pfc_ks_create_key(struct pfc_ks *ks, const char *name);

/*
 * Wrap a caller's 32-byte key under name's primary version, binding ad
 * (ad_len <= PFC_KS_AD_MAX).  blob: PFC_WRAPPED_MAX bytes; *blob_len set.
 */
int pfc_ks_wrap(struct pfc_ks *ks, const char *name, const uint8_t *ad, size_t ad_len,
		const uint8_t key[PFC_BLOB_KEY_LEN], uint8_t *blob, size_t *blob_len);

/* Unwrap a blob (it names its master key and version) with the same ad.
 * PFC_ERR_KEY_RETIRED, PFC_ERR_KEY_UNKNOWN, PFC_ERR_AUTH, PFC_ERR_LOCKED.
 * key: caller's locked memory; wiped on failure. */
int pfc_ks_unwrap(struct pfc_ks *ks, const uint8_t *blob, size_t blob_len, const uint8_t *ad,
		  size_t ad_len, uint8_t key[PFC_BLOB_KEY_LEN]);

/*
 * Turn blob into a blob of the same key under its name's primary version,
 * same ad; the key never leaves the keystore.  Returns 0 and a new blob if it
 * was rewrapped, 1 and a copy of the input if it already was under the
 * primary version (the caller can skip its write).  Errors as unwrap.
 */
int pfc_ks_rewrap(struct pfc_ks *ks, const uint8_t *blob, size_t blob_len, const uint8_t *ad,
		  size_t ad_len, uint8_t *new_blob, size_t *new_len);

/*
 * count (1..PFC_KS_GEN_MAX) fresh (file id, file key, blob) triples, each key
 * wrapped under name's primary version with ad = ad_prefix || file_id
 * (prefix_len + 16 <= PFC_KS_AD_MAX).  out: count entries, caller's locked
 * memory; wiped on failure.
 */
int pfc_ks_generate_file_keys(struct pfc_ks *ks, const char *name, const uint8_t *ad_prefix,
			      size_t prefix_len, unsigned count, struct pfc_ks_filekey *out);

/*
 * The store passphrase that the requests needing proof (retire, cancel-retire, export:
 * PROTOCOL.md section 2.1) carry.  The pointer is kept, not copied: pass is
 * the caller's locked memory and must outlive those requests; NULL clears.
 * Without it those requests get PFC_ERR_DENIED; with a wrong one
 * PFC_ERR_BAD_PASSPHRASE.  Not concurrently with a request.
 */
void pfc_ks_set_proof(struct pfc_ks *ks, const char *pass, size_t len);

/* New random version max+1 becomes primary; the old primary becomes active. */
int pfc_ks_rotate(struct pfc_ks *ks, const char *name, uint32_t *new_version);
/*
 * Retire a version; needs the proof (pfc_ks_set_proof).  delay 0 (at most
 * PFC_KS_RETIRE_DELAY_MAX): destroy its key bytes now (store rewritten
 * without them; tombstone kept), returns 0.  delay > 0: schedule that
 * destruction delay seconds from now (PROTOCOL.md 2.2: unwraps under it fail
 * with PFC_ERR_KEY_RETIRING meanwhile), returns 1.  *when (may be NULL): the
 * time it was or will be destroyed.  PFC_ERR_BUSY for the primary version,
 * and while a client still connected or running wraps or unwraps under it
 * (pfc_ks_last_message() says who) unless flags has PFC_KS_RETIRE_FORCE;
 * PFC_ERR_KEY_RETIRED if already retired.  Whether live files still use it
 * is the CLI's check (the keystore cannot see volumes).
 */
int pfc_ks_retire(struct pfc_ks *ks, const char *name, uint32_t version, unsigned flags,
		  uint32_t delay, uint64_t *when);
/* A version scheduled for destruction becomes active again; needs the
 * proof.  PFC_ERR_INVAL if it is not scheduled, PFC_ERR_KEY_RETIRED if
 * already destroyed. */
int pfc_ks_cancel_retire(struct pfc_ks *ks, const char *name, uint32_t version);

/* Every version of every name, sorted by name then version; *out is malloc'd,
 * free with pfc_ks_list_free(). */
int pfc_ks_list(struct pfc_ks *ks, struct pfc_ks_keyinfo **out, size_t *n);
void pfc_ks_list_free(struct pfc_ks_keyinfo *list);

/* Wipe every key from the keystore's memory (store file kept). */
int pfc_ks_lock(struct pfc_ks *ks);
/* Decrypt the store with pass; PFC_ERR_BAD_PASSPHRASE.  Unlocking an unlocked
 * keystore checks pass the same way and changes nothing. */
int pfc_ks_unlock(struct pfc_ks *ks, const char *pass, size_t len);
/* Re-encrypt the store under new (fresh salt); needs unlocked + old correct. */
int pfc_ks_change_passphrase(struct pfc_ks *ks, const char *old_pass, size_t old_len,
			     const char *new_pass, size_t new_len);

/*
 * Export name's versions (nversions == 0: every non-retired version) into a
 * bundle encrypted under export_pass (Argon2id, PROTOCOL.md section 6) at the
 * cost of KDF profile kdf_profile ("test", "interactive", "moderate",
 * "sensitive"; NULL or "": the keystore's default for bundles, "moderate"),
 * whatever the store's; needs the proof (pfc_ks_set_proof).  *bundle is
 * sodium_malloc'd; free it with pfc_ks_bundle_free().  A retired version
 * requested explicitly gives PFC_ERR_KEY_RETIRED; an unknown profile
 * PFC_ERR_INVAL.
 */
int pfc_ks_export(struct pfc_ks *ks, const char *name, const uint32_t *versions, size_t nversions,
		  const char *export_pass, size_t pass_len, const char *kdf_profile,
		  uint8_t **bundle, size_t *bundle_len);
void pfc_ks_bundle_free(uint8_t *bundle);
/*
 * Import a bundle.  Versions already present with the same bytes are skipped;
 * a version present with different bytes fails the whole import with
 * PFC_ERR_CONFLICT, a version retired here with PFC_ERR_KEY_RETIRED (a
 * shredded key is never resurrected); nothing is changed on failure.  New
 * versions are active (a new name's highest imported version is primary).
 * imported (may be NULL) = number of versions added.
 */
int pfc_ks_import(struct pfc_ks *ks, const uint8_t *bundle, size_t len, const char *pass,
		  size_t pass_len, uint32_t *imported);

#endif
