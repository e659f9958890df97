/* SPDX-License-Identifier: MIT */
/*
 * format_int.h - private to the format library (the fs/ sources): KDF contexts, AEAD
 * purposes, the opaque key structures and shared helpers.  Not installed,
 * not used by the daemon or the CLI.
 */
#ifndef PFC_FORMAT_INT_H
#define PFC_FORMAT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "fs/format.h"

/*
 * KDF contexts (crypto_kdf_derive_from_key, exactly 8 bytes each).
 * Domain separation: every value must differ from every other, and a value
 * must never be reused for another purpose (FORMAT.md section 7).
 */
#define PFC_KDF_CTX_NAME_MAC	 "pfcnmmac" /* volume: name SIV MAC key */
#define PFC_KDF_CTX_NAME_STREAM	 "pfcnmstr" /* volume: name XChaCha20 key */
#define PFC_KDF_CTX_SYMLINK	 "pfcsymln" /* volume: symlink target AEAD key */
#define PFC_KDF_CTX_XNAME_MAC	 "pfcxnmac" /* volume: xattr name SIV MAC key */
#define PFC_KDF_CTX_XNAME_STREAM "pfcxnstr" /* volume: xattr name XChaCha20 key */
#define PFC_KDF_CTX_XVALUE	 "pfcxaval" /* volume: xattr value AEAD key */
#define PFC_KDF_CTX_CONFIG_MAC	 "pfccfmac" /* volume: config MAC key */
#define PFC_KDF_CTX_GEN		 "pfcgenky" /* file: generation key, subkey id = generation */
#define PFC_KDF_CTX_HDR_GEN	 "pfchdgen" /* file: header generation MAC key */

/*
 * AEAD associated-data purposes (the first bytes of each AD, NUL included).
 * Must never repeat between purposes (FORMAT.md section 6).
 */
#define PFC_AD_PURPOSE_NAME_KEY "pfcrypt/v1 name-key" /* 19 chars + NUL = 20 bytes */
#define PFC_AD_PURPOSE_FILE_KEY "pfcrypt/v1 file-key"
#define PFC_AD_PURPOSE_BLOCK	"pfcrypt/v1 block"	 /* 16 + NUL = 17 */
#define PFC_AD_PURPOSE_SYMLINK	"pfcrypt/v1 symlink"	 /* 18 + NUL = 19 */
#define PFC_AD_PURPOSE_XVALUE	"pfcrypt/v1 xattr-value" /* 22 + NUL = 23 */

#define PFC_SIV_BYTES	  16 /* synthetic IV = tag of names and xattr names */
#define PFC_NAME_PAD	  16 /* names are padded to a multiple of this */
#define PFC_GEN_MAC_BYTES 16
#define PFC_XNONCE_BYTES  24

/* Opaque key objects (one sodium_malloc region each). */
struct pfc_volkeys {
	uint8_t name_mac[PFC_KEY_BYTES];
	uint8_t name_stream[PFC_KEY_BYTES];
	uint8_t symlink[PFC_KEY_BYTES];
	uint8_t xname_mac[PFC_KEY_BYTES];
	uint8_t xname_stream[PFC_KEY_BYTES];
	uint8_t xvalue[PFC_KEY_BYTES];
	uint8_t config_mac[PFC_KEY_BYTES];
	uint8_t volume_id[PFC_ID_BYTES];
};

struct pfc_gen_slot {
	union {
		crypto_aead_aes256gcm_state aes; /* AES-256-GCM: expanded key */
		uint8_t key[PFC_KEY_BYTES];	 /* XChaCha20-Poly1305: GK itself */
	} st;
	uint64_t generation;
	uint64_t last_use; /* tick of the last acquire, for LRU */
	unsigned refs;	   /* >0: in use by a block call, never evicted */
	bool valid;
};

struct pfc_filekey {
	/* Immutable after pfc_filekey_new: */
	uint8_t fk[PFC_KEY_BYTES];
	uint8_t hdr_gen_key[PFC_KEY_BYTES];
	uint8_t file_id[PFC_ID_BYTES];
	struct pfc_layout layout;
	/* lock protects tick and every slot's generation/last_use/refs/valid and
	 * the key bytes of slots with refs == 0.  A slot with refs > 0 is read
	 * without the lock (nobody may change it).  Never held while encrypting. */
	pthread_mutex_t lock;
	uint64_t tick;
	struct pfc_gen_slot slots[PFC_FILEKEY_GEN_CACHE];
};

/* A generation key in use (pinned slot or, if all are pinned, a private one). */
struct pfc_gk_ref {
	struct pfc_gen_slot *slot;
	bool temp; /* slot is a private sodium_malloc'd copy */
};
int pfc_gk_acquire(struct pfc_filekey *k, uint64_t generation, struct pfc_gk_ref *ref);
void pfc_gk_release(struct pfc_filekey *k, struct pfc_gk_ref *ref);
/* MAC of a header generation (16 bytes). */
void pfc_hdr_gen_mac(const struct pfc_filekey *k, uint64_t generation,
		     uint8_t mac[PFC_GEN_MAC_BYTES]);

/* Randomness: all random bytes of the library come from here (ids, nonces). */
void pfc_randombytes(void *buf, size_t len);
/* Random bytes for nonces only (never for keys): small requests are served
 * from a per-thread buffer of system-seeded ChaCha20 output, so a 4 KiB
 * write costs no getrandom(2).  The buffer is dropped in a fork's child. */
void pfc_nonce_bytes(void *buf, size_t len);

/* SIV (FORMAT.md section 5.2): padded = name || zeros up to max(16, roundup(len, 16)).
 * out receives siv(16) || ciphertext(padded); *out_len its length.  cap must be
 * >= 16 + 256.  tweak: 16 bytes (directory id, or zeros for xattr names). */
int pfc_siv_seal(const uint8_t mac_key[PFC_KEY_BYTES], const uint8_t stream_key[PFC_KEY_BYTES],
		 const uint8_t *const *tweaks, size_t n_tweaks, const uint8_t *in, size_t len,
		 uint8_t *out, size_t cap, size_t *out_len);
/* Inverse: tries each tweak; *matched = its index; out gets the unpadded name
 * (cap >= padded length + 1, NUL-terminated).  PFC_ERR_CORRUPT (shape),
 * PFC_ERR_AUTH (no tweak fits). */
int pfc_siv_open(const uint8_t mac_key[PFC_KEY_BYTES], const uint8_t stream_key[PFC_KEY_BYTES],
		 const uint8_t *const *tweaks, size_t n_tweaks, const uint8_t *in, size_t len,
		 char *out, size_t cap, size_t *out_len, size_t *matched);

/* Thread-local message for pfc_config_last_error. */
void pfc_config_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
