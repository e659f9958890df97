/* SPDX-License-Identifier: MIT */
/*
 * format.h - the pfcrypt on-disk format library (format version 1).
 *
 * Pure functions over buffers: no FUSE, no socket, no keystore.  The byte
 * level truth is fs/FORMAT.md; this header is the API, grouped by source
 * file.  Conventions for every function below:
 *
 *   - returns 0 on success or a negative PFC_ERR_* (fs/err.h);
 *   - out-parameters are written only on success, except where a comment
 *     says otherwise (bad_index of the block functions);
 *   - a caller's plaintext output buffer is wiped on failure;
 *   - secrets (name key, file key, derived keys) live in sodium_malloc'd
 *     memory inside the opaque pfc_volkeys / pfc_filekey objects;
 *   - sodium_init() must have succeeded first (pfc_format_init() does it);
 *   - every object is safe to use read-only from several threads at once;
 *     pfc_filekey is additionally safe for concurrent block calls (it has
 *     an internal lock around its generation-key cache only).
 *
 * The typical life of a mount:
 *   pfc_config_load(backing_fd) -> unwrap config.wrapped_name_key with AD
 *   pfc_ad_name_key(volume_id) -> pfc_volkeys_new -> pfc_config_verify ->
 *   pfc_config_layout.  Open a file: pread PFC_HEADER_SIZE bytes ->
 *   pfc_header_parse -> unwrap header.wrapped with AD pfc_ad_file_key ->
 *   pfc_filekey_new -> pfc_header_verify_generation -> pfc_blocks_*.
 */
#ifndef PFC_FORMAT_H
#define PFC_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/buf.h"
#include "fs/keylimits.h" /* PFC_WRAPPED_MAX, PFC_KEY_NAME_MAX: shared with the keystore */

#define PFC_FORMAT_VERSION 1 /* the only version this build reads or writes */

#define PFC_KEY_BYTES 32 /* name key, file key, every derived key */
#define PFC_ID_BYTES  16 /* volume id, file id, directory id */
#define PFC_TAG_BYTES 16 /* AEAD tag of both ciphers */
#define PFC_GEN_BYTES 8	 /* u64 generation at the start of each stored block */

/* sodium_init(); PFC_ERR_NOMEM if libsodium cannot initialise. Idempotent. */
int pfc_format_init(void);

/* ---------------------------------------------------------------- b64.c */
/* base64url (RFC 4648 section 5) without padding. */

/* Encoded length (without NUL) of n bytes. */
size_t pfc_b64url_len(size_t n);
/* Encode n bytes into out (cap >= pfc_b64url_len(n) + 1, NUL-terminated).
 * *out_len = length without the NUL.  PFC_ERR_TOO_LARGE if cap is short. */
int pfc_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap, size_t *out_len);
/* Decode len chars (alphabet A-Z a-z 0-9 - _, no '=', no whitespace).
 * Strict: non-alphabet chars, len % 4 == 1, or non-zero unused trailing bits
 * give PFC_ERR_CORRUPT (so each byte string has exactly one encoding).
 * PFC_ERR_TOO_LARGE if cap is short. */
int pfc_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* ------------------------------------------------------------- cipher.c */

enum pfc_cipher {
	PFC_CIPHER_AES256GCM = 1,	  /* "aes256gcm", 12-byte nonce */
	PFC_CIPHER_XCHACHA20POLY1305 = 2, /* "xchacha20poly1305", 24-byte nonce */
};

/* "aes256gcm" / "xchacha20poly1305"; NULL for a value that is neither. */
const char *pfc_cipher_name(int cipher);
/* Parse a cipher name (exact, lower case).  PFC_ERR_INVAL if unknown. */
int pfc_cipher_parse(const char *name, enum pfc_cipher *out);
/* 0 if this CPU and libsodium can run the cipher; PFC_ERR_CIPHER_UNAVAILABLE
 * for AES-256-GCM without hardware support; PFC_ERR_INVAL if not a cipher. */
int pfc_cipher_check(int cipher);
/* The default for new volumes: AES-256-GCM where available (measured faster:
 * see tests/bench/bench_format.c), else XChaCha20-Poly1305. */
enum pfc_cipher pfc_cipher_default(void);
/* Nonce bytes per stored block: 12 or 24; 0 if not a cipher. */
size_t pfc_cipher_nonce_size(int cipher);
/* Stored-block overhead: PFC_GEN_BYTES + nonce + PFC_TAG_BYTES = 36 or 48; 0 if not a cipher. */
size_t pfc_cipher_block_overhead(int cipher);

/* ------------------------------------------------------------- layout.c */
/*
 * A backing file is PFC_HEADER_SIZE header bytes then stored blocks.  Every
 * stored block holds block_size plaintext bytes except possibly the last,
 * which holds 1..block_size.  A stored block is overhead + plaintext bytes.
 *
 * Sizes from the backing size alone (no decryption):
 *   backing 0                        -> plaintext 0 (empty file, no header yet)
 *   backing 1..PFC_HEADER_SIZE       -> plaintext 0
 *   otherwise rest = backing - header, full = rest / stored_block_size,
 *   tail = rest % stored_block_size  -> full * block_size + (tail > overhead ? tail - overhead : 0)
 * A tail of 1..overhead bytes is a torn write (a crash or a sync client in the
 * middle of an append): it is not counted in the size, and decrypting it gives
 * PFC_ERR_TRUNCATED.  Writers truncate the backing file to
 * pfc_layout_backing_size() of the size they want before or after writing.
 */
#define PFC_BLOCK_SIZE_MIN     4096u
#define PFC_BLOCK_SIZE_MAX     (1u << 20)
#define PFC_BLOCK_SIZE_DEFAULT 4096u
/* Largest plaintext size the arithmetic accepts (keeps every offset < 2^63). */
#define PFC_PLAIN_SIZE_MAX (UINT64_C(1) << 60)

struct pfc_layout {
	enum pfc_cipher cipher;
	uint32_t block_size;	    /* plaintext bytes per block: power of two, 4096..1 MiB */
	uint32_t overhead;	    /* pfc_cipher_block_overhead(cipher) */
	uint32_t stored_block_size; /* block_size + overhead */
	uint32_t header_size;	    /* PFC_HEADER_SIZE */
	bool zero_block_is_hole;    /* an all-zero stored block reads as zeros (see block.c) */
};

/* Fill l.  PFC_ERR_INVAL for an unknown cipher or a block size that is not a
 * power of two in [PFC_BLOCK_SIZE_MIN, PFC_BLOCK_SIZE_MAX].  Does not check
 * cipher availability (pfc_cipher_check).  zero_block_is_hole = true. */
int pfc_layout_init(struct pfc_layout *l, enum pfc_cipher cipher, uint32_t block_size);
/* Plaintext size of a backing file of this size (rules above). */
uint64_t pfc_layout_plain_size(const struct pfc_layout *l, uint64_t backing_size);
/* Backing size of a plaintext of this size, header included (header_size for
 * 0).  plain_size must be <= PFC_PLAIN_SIZE_MAX (the result is then exact). */
uint64_t pfc_layout_backing_size(const struct pfc_layout *l, uint64_t plain_size);
/* Backing offset of stored block index. */
uint64_t pfc_layout_block_offset(const struct pfc_layout *l, uint64_t index);
/* Blocks covering plaintext bytes [offset, offset + len): *first and *count
 * (count 0 when len is 0). */
void pfc_layout_block_range(const struct pfc_layout *l, uint64_t offset, uint64_t len,
			    uint64_t *first, uint64_t *count);
/* Stored bytes for plain_len plaintext bytes laid out as consecutive blocks,
 * all full but the last (0 for 0). */
uint64_t pfc_layout_stored_len(const struct pfc_layout *l, uint64_t plain_len);
/* Inverse for a stored range read from disk: plaintext bytes it decrypts to
 * (a torn tail of <= overhead bytes counts 0). */
uint64_t pfc_layout_plain_len(const struct pfc_layout *l, uint64_t stored_len);

/* ------------------------------------------------------------- config.c */
/* The volume config: file PFC_CONFIG_NAME at the backing root (FORMAT.md §2). */
#define PFC_CONFIG_NAME	     "pfcrypt.conf"
#define PFC_CONFIG_TMP_NAME  ".pfcrypt.conf.tmp" /* used by pfc_config_store only */
#define PFC_CONFIG_MAX	     1024		 /* no config file is larger */
#define PFC_CONFIG_MAC_BYTES 32

/* flags: unknown bits make the config unreadable (PFC_ERR_UNKNOWN_VERSION). */
#define PFC_CONFIG_FLAG_NO_HOLES 0x1u /* all-zero stored blocks are an auth error */
#define PFC_CONFIG_FLAGS_KNOWN	 0x1u

struct pfc_config {
	uint16_t format_version; /* PFC_FORMAT_VERSION */
	enum pfc_cipher cipher;
	uint32_t block_size;
	uint32_t flags;				   /* PFC_CONFIG_FLAG_* */
	uint8_t volume_id[PFC_ID_BYTES];	   /* random at init */
	char key_name[PFC_KEY_NAME_MAX + 1];	   /* master key new files wrap under */
	uint8_t wrapped_name_key[PFC_WRAPPED_MAX]; /* keystore blob, AD pfc_ad_name_key */
	size_t wrapped_name_key_len;		   /* 1..PFC_WRAPPED_MAX */
	uint8_t mac[PFC_CONFIG_MAC_BYTES];	   /* set by pfc_config_seal */
};

struct pfc_volkeys;

/* A new config: version 1, random volume id, no wrapped key, no MAC.
 * PFC_ERR_INVAL for a bad cipher/block size, PFC_ERR_NAME_INVALID /
 * PFC_ERR_NAME_TOO_LONG for a key name that is not 1..32 of [A-Za-z0-9._-],
 * PFC_ERR_CORRUPT for unknown flags. */
int pfc_config_init(struct pfc_config *c, enum pfc_cipher cipher, uint32_t block_size,
		    uint32_t flags, const char *key_name);
/* Set the wrapped name key (1..PFC_WRAPPED_MAX bytes).  Does not reseal:
 * the MAC does not cover this field (FORMAT.md §2 says why). */
int pfc_config_set_wrapped(struct pfc_config *c, const uint8_t *blob, size_t len);
/* Compute c->mac with the config MAC key of vk.  PFC_ERR_INVAL if vk belongs
 * to another volume id. */
int pfc_config_seal(struct pfc_config *c, const struct pfc_volkeys *vk);
/* PFC_ERR_AUTH unless c->mac is the MAC of c under vk (constant time). */
int pfc_config_verify(const struct pfc_config *c, const struct pfc_volkeys *vk);
/* Serialise (MAC included, as it is) into w. */
int pfc_config_encode(const struct pfc_config *c, struct pfc_wbuf *w);
/* Parse config bytes.  Structural checks only (NOT authenticated: call
 * pfc_config_verify once the name key is unwrapped).  Errors: PFC_ERR_BAD_MAGIC
 * (not a pfcrypt config), PFC_ERR_UNKNOWN_VERSION (a format version or flag
 * this build does not know: never guessed), PFC_ERR_TRUNCATED, PFC_ERR_CORRUPT,
 * PFC_ERR_INVAL (bad cipher / block size), PFC_ERR_TOO_LARGE, PFC_ERR_NAME_*. */
int pfc_config_parse(const uint8_t *buf, size_t len, struct pfc_config *out);
/* Read and parse PFC_CONFIG_NAME in directory dirfd.  PFC_ERR_NOT_FOUND if
 * absent, PFC_ERR_IO (errno set) on a read error, PFC_ERR_TOO_LARGE if bigger
 * than PFC_CONFIG_MAX, else as pfc_config_parse. */
int pfc_config_load(int dirfd, struct pfc_config *out);
/* Atomically replace PFC_CONFIG_NAME in dirfd: write PFC_CONFIG_TMP_NAME,
 * fsync, rename over, fsync dirfd.  Mode 0644.  PFC_ERR_IO (errno set). */
int pfc_config_store(int dirfd, const struct pfc_config *c);
/* Layout of this volume (zero_block_is_hole = !(flags & NO_HOLES)). */
int pfc_config_layout(const struct pfc_config *c, struct pfc_layout *out);
/* A one-line English explanation for a load/parse error, e.g. "format
 * version 7 is newer than this pfcrypt (reads version 1)"; "" if none.
 * Thread-local, valid until the next config call of this thread. */
const char *pfc_config_last_error(void);

/* ------------------------------------------------------------- header.c */
/*
 * File header: PFC_HEADER_SIZE bytes at offset 0 of every non-empty backing
 * file (FORMAT.md §3).  Two fields change after creation; each has a fixed
 * offset and is rewritten with ONE pwrite of its field bytes, so that the
 * daemon (generation) and `pfcrypt rewrap` (wrapped key) never undo each other:
 *   generation field: PFC_HEADER_GEN_OFFSET, PFC_HEADER_GEN_FIELD_SIZE bytes
 *                     = u64 generation || 16-byte MAC (keyed from the file key)
 *   wrapped field:    PFC_HEADER_WRAPPED_OFFSET, PFC_HEADER_WRAPPED_FIELD_SIZE
 *                     = u16 length || PFC_WRAPPED_MAX-byte slot, zero-padded
 */
#define PFC_HEADER_SIZE		      256
#define PFC_HEADER_FILE_ID_OFFSET     16
#define PFC_HEADER_GEN_OFFSET	      32
#define PFC_HEADER_GEN_FIELD_SIZE     24
#define PFC_HEADER_WRAPPED_OFFSET     56
#define PFC_HEADER_WRAPPED_FIELD_SIZE (2 + PFC_WRAPPED_MAX)
#define PFC_GEN_MAX		      (UINT64_MAX - 1) /* bumping past it: PFC_ERR_TOO_LARGE */

struct pfc_header {
	uint16_t format_version;	  /* PFC_FORMAT_VERSION */
	uint8_t file_id[PFC_ID_BYTES];	  /* random at create; bound by the wrap AD */
	uint64_t generation;		  /* 0 at create; bumped once per write generation */
	uint8_t gen_mac[16];		  /* MAC of generation (set by encode/parse) */
	uint8_t wrapped[PFC_WRAPPED_MAX]; /* FK wrapped with AD pfc_ad_file_key */
	size_t wrapped_len;		  /* 1..PFC_WRAPPED_MAX */
};

struct pfc_filekey;

/* A new header (generation 0) for file_id and a wrapped file key. */
int pfc_header_init(struct pfc_header *h, const uint8_t file_id[PFC_ID_BYTES],
		    const uint8_t *wrapped, size_t wrapped_len);
/* Encode all PFC_HEADER_SIZE bytes; the generation MAC is computed from fk
 * for h->generation (h->gen_mac is ignored).  PFC_ERR_INVAL if fk is for
 * another file id. */
int pfc_header_encode(const struct pfc_header *h, const struct pfc_filekey *fk,
		      uint8_t out[PFC_HEADER_SIZE]);
/* Parse the first PFC_HEADER_SIZE bytes of buf (len may be larger).
 * Errors: PFC_ERR_TRUNCATED (len < PFC_HEADER_SIZE), PFC_ERR_BAD_MAGIC,
 * PFC_ERR_UNKNOWN_VERSION, PFC_ERR_CORRUPT (reserved/padding bytes not zero,
 * wrapped length 0), PFC_ERR_TOO_LARGE (wrapped length > PFC_WRAPPED_MAX).
 * The generation is NOT authenticated until pfc_header_verify_generation. */
int pfc_header_parse(const uint8_t *buf, size_t len, struct pfc_header *out);
/* PFC_ERR_AUTH unless h->gen_mac matches h->generation under fk (and fk's
 * file id is h->file_id). */
int pfc_header_verify_generation(const struct pfc_header *h, const struct pfc_filekey *fk);
/* The PFC_HEADER_GEN_FIELD_SIZE bytes to pwrite at PFC_HEADER_GEN_OFFSET to
 * set the generation (u64 || MAC).  PFC_ERR_TOO_LARGE if generation > PFC_GEN_MAX. */
int pfc_header_generation_field(const struct pfc_filekey *fk, uint64_t generation,
				uint8_t out[PFC_HEADER_GEN_FIELD_SIZE]);
/* The PFC_HEADER_WRAPPED_FIELD_SIZE bytes to pwrite at PFC_HEADER_WRAPPED_OFFSET
 * to replace the wrapped file key.  PFC_ERR_INVAL for len 0,
 * PFC_ERR_TOO_LARGE for len > PFC_WRAPPED_MAX. */
int pfc_header_wrapped_field(const uint8_t *wrapped, size_t len,
			     uint8_t out[PFC_HEADER_WRAPPED_FIELD_SIZE]);

/*
 * The header lock (FORMAT.md 3): an open-file-description write lock on
 * bytes 0..PFC_HEADER_SIZE-1 of the backing file fd, held by whoever removes
 * or replaces the header of an existing file and by a rewrap between its
 * compare and its write.  pfc_header_lock waits up to wait_ms; returns 0,
 * PFC_ERR_BUSY (still held by another after wait_ms), PFC_ERR_IO (errno).
 * pfc_header_unlock releases it (harmless when not held).
 */
#define PFC_HEADER_LOCK_WAIT_MS 1000
int pfc_header_lock(int fd, unsigned wait_ms);
void pfc_header_unlock(int fd);

/* Associated data passed to the keystore (shared contract, FORMAT.md §6). */
#define PFC_AD_MAX	       64
#define PFC_AD_NAME_KEY_LEN    36 /* "pfcrypt/v1 name-key\0" || volume_id */
#define PFC_AD_FILE_PREFIX_LEN 36 /* "pfcrypt/v1 file-key\0" || volume_id */
#define PFC_AD_FILE_KEY_LEN    52 /* prefix || file_id */
/* Each writes its AD into out (PFC_AD_MAX bytes) and returns its length. */
size_t pfc_ad_name_key(const uint8_t volume_id[PFC_ID_BYTES], uint8_t out[PFC_AD_MAX]);
size_t pfc_ad_file_key_prefix(const uint8_t volume_id[PFC_ID_BYTES], uint8_t out[PFC_AD_MAX]);
size_t pfc_ad_file_key(const uint8_t volume_id[PFC_ID_BYTES], const uint8_t file_id[PFC_ID_BYTES],
		       uint8_t out[PFC_AD_MAX]);

/* --------------------------------------------------------------- keys.c */
/*
 * pfc_volkeys: the subkeys derived from the volume name key (names, symlinks,
 * xattrs, config MAC).  One sodium_malloc region, read-only after creation.
 *
 * pfc_filekey: one file's key FK, file id and layout, plus a small cache of
 * generation keys GK_g = KDF(FK, g) (for AES-256-GCM the expanded
 * beforenm state).  2336 bytes of locked memory with PFC_FILEKEY_GEN_CACHE
 * generations, taken from slabs of 32 (one sodium_allocarray region each:
 * locked, guarded at both ends, wiped when a key is freed; keys.c says
 * why); a mutex protects only
 * the cache slots and is never held while encrypting (slots are pinned by
 * refcount; if all are pinned a call derives a private key and frees it).
 */
#define PFC_FILEKEY_GEN_CACHE 4

struct pfc_volkeys;
struct pfc_filekey;

/* name_key: 32 bytes (caller keeps and wipes its own copy). */
int pfc_volkeys_new(const uint8_t name_key[PFC_KEY_BYTES], const uint8_t volume_id[PFC_ID_BYTES],
		    struct pfc_volkeys **out);
/* Wipe and free; NULL is ignored. */
void pfc_volkeys_free(struct pfc_volkeys *vk);
const uint8_t *pfc_volkeys_volume_id(const struct pfc_volkeys *vk);

/* fk: 32 bytes (caller keeps and wipes its own copy); layout copied.
 * PFC_ERR_CIPHER_UNAVAILABLE if the layout's cipher cannot run here. */
int pfc_filekey_new(const uint8_t fk[PFC_KEY_BYTES], const uint8_t file_id[PFC_ID_BYTES],
		    const struct pfc_layout *layout, struct pfc_filekey **out);
/* Wipe and free; NULL is ignored.  No block call may be running on it. */
void pfc_filekey_free(struct pfc_filekey *k);
const uint8_t *pfc_filekey_file_id(const struct pfc_filekey *k);
const struct pfc_layout *pfc_filekey_layout(const struct pfc_filekey *k);

/* -------------------------------------------------------------- block.c */
/*
 * Stored block (FORMAT.md §4): u64 generation || nonce || ciphertext || tag,
 * AEAD key GK_generation, AD = "pfcrypt/v1 block\0" || file id || u64 index
 * || u64 generation.  Generation 0 is never written (it is the "no
 * generation yet" value of a new header).
 *
 * Holes: when layout.zero_block_is_hole, a stored block whose bytes are ALL
 * zero decrypts to zeros of its plaintext length (a sparse region, or one a
 * sync client filled with zeros).  Consequence: an attacker can zero a block
 * undetected.  Volumes made with PFC_CONFIG_FLAG_NO_HOLES refuse that
 * (PFC_ERR_AUTH) and their writers must write encrypted zeros instead.
 */

/* Encrypt pt_len plaintext bytes as blocks first_index, first_index+1, ...
 * (every block full except possibly the last) under generation (>= 1).
 * out_cap >= pfc_layout_stored_len(layout, pt_len); *out_len = that length.
 * PFC_ERR_INVAL for generation 0 or > PFC_GEN_MAX, PFC_ERR_TOO_LARGE if out_cap
 * is short or the range passes PFC_PLAIN_SIZE_MAX.  pt and out must not overlap. */
int pfc_blocks_encrypt(struct pfc_filekey *fk, uint64_t generation, uint64_t first_index,
		       const uint8_t *pt, size_t pt_len, uint8_t *out, size_t out_cap,
		       size_t *out_len);
/* Decrypt stored_len bytes of consecutive stored blocks starting at
 * first_index (as read by one pread; the last may be partial).  Each block's
 * generation is read from the block.  out_cap >= pfc_layout_plain_len(...).
 * On failure: PFC_ERR_AUTH (wrong key, tampered, moved, replayed from another
 * file/index/generation, all-zero on a NO_HOLES volume) or PFC_ERR_TRUNCATED
 * (a last block of <= overhead bytes), *bad_index = the failing block index
 * (set only on those two errors), and out wiped.  stored and out must not overlap. */
int pfc_blocks_decrypt(struct pfc_filekey *fk, uint64_t first_index, const uint8_t *stored,
		       size_t stored_len, uint8_t *out, size_t out_cap, size_t *out_len,
		       uint64_t *bad_index);
/* The generation recorded in a stored block (unauthenticated; for tools and
 * tests).  PFC_ERR_TRUNCATED if len < PFC_GEN_BYTES. */
int pfc_block_generation(const uint8_t *stored, size_t len, uint64_t *generation);

/* ------------------------------------------------------------ regfile.c */
/*
 * Open entry `name` of dirfd (or a path, with AT_FDCWD), which must be a
 * regular file: a file's header, a long-name companion, a directory id, the
 * config.  Never follows a symlink, never blocks on a FIFO, never opens a
 * socket or a device node: the entry is lstat'ed first, opened only if it
 * is a regular file (or absent, with O_CREAT in flags), with O_NONBLOCK and
 * O_NOCTTY (O_NONBLOCK is cleared again on the result), and the descriptor
 * is fstat'ed again.  flags: the access mode plus O_CREAT, O_EXCL, O_TRUNC,
 * O_NOATIME as for openat (O_NOFOLLOW, O_NONBLOCK, O_NOCTTY and O_CLOEXEC
 * are added); mode: the creation mode.  Returns the descriptor,
 * PFC_ERR_CORRUPT if the entry is not a regular file (*type, may be NULL,
 * gets its S_IFMT bits), or PFC_ERR_IO with errno (ENOENT: no such entry).
 */
int pfc_open_regular(int dirfd, const char *name, int flags, unsigned mode, unsigned *type);
/* "FIFO", "socket", "character device", "block device", "directory",
 * "symlink", "regular file" or "unknown file type" for the S_IFMT bits of
 * type: what a message says after "not a regular file". */
const char *pfc_file_type_name(unsigned type);

/* -------------------------------------------------------------- names.c */
/*
 * File names: deterministic authenticated encryption per directory id
 * (SIV from keyed BLAKE2b + XChaCha20, FORMAT.md §5).  A name is 1..255 bytes,
 * not "." or "..", without '/' or NUL; any other bytes (invalid UTF-8
 * included) are allowed and round-trip exactly.
 */
#define PFC_NAME_MAX	      255 /* plaintext name bytes */
#define PFC_NAME_BUF	      (PFC_NAME_MAX + 1)
#define PFC_ENCNAME_SHORT_MAX 255 /* longer encodings use the long-name scheme */
#define PFC_ENCNAME_MAX	      363 /* longest encoding: pfc_b64url_len(16 + 256) */
#define PFC_ENCNAME_BUF	      (PFC_ENCNAME_MAX + 1)
#define PFC_DIRID_NAME	      ".pfcrypt.dirid" /* in every backing directory, root included */
#define PFC_DIRID_FILE_SIZE   PFC_ID_BYTES     /* the file is exactly the 16-byte id */
#define PFC_DIRIDS_MAX	      16	       /* most ids pfc_dirid_load_all returns */

/* 0, PFC_ERR_NAME_INVALID (empty, ".", "..", '/' or NUL) or PFC_ERR_NAME_TOO_LONG. */
int pfc_name_check(const char *name, size_t len);
/* Encrypt name under dir_id.  out: cap >= PFC_ENCNAME_BUF, NUL-terminated
 * base64url; *out_len excludes the NUL and may exceed PFC_ENCNAME_SHORT_MAX
 * (then use the long-name scheme: pfc_name_to_backing does it all). */
int pfc_name_encrypt(const struct pfc_volkeys *vk, const uint8_t dir_id[PFC_ID_BYTES],
		     const char *name, size_t len, char *out, size_t cap, size_t *out_len);
/* Decrypt an encoded name (the full encoding; for a long name, the companion's
 * content) trying each of n candidate directory ids; *matched = index of the
 * id that authenticated.  out: cap >= PFC_NAME_BUF, NUL-terminated.
 * PFC_ERR_CORRUPT if it is not a well-formed encoding, PFC_ERR_AUTH if no id
 * authenticates it (wrong volume, wrong directory, tampered). */
int pfc_name_decrypt(const struct pfc_volkeys *vk, const uint8_t (*dir_ids)[PFC_ID_BYTES], size_t n,
		     const char *enc, size_t enc_len, char *out, size_t cap, size_t *out_len,
		     size_t *matched);

/* The directory id file (FORMAT.md §5.4).  A directory normally has one;
 * after a sync conflict it may have several (".pfcrypt.dirid" plus copies
 * whose names start with ".pfcrypt.dirid", e.g. ".pfcrypt.dirid.sync-conflict-...").
 * Names in it may be encrypted under any; new names use the primary = the
 * numerically smallest id (memcmp order) so every machine picks the same. */
/* New random id; write PFC_DIRID_NAME in dirfd (O_CREAT|O_EXCL, mode 0444).
 * With unsynced NULL the file is fsync'd and closed; otherwise it is left
 * open, not yet fsync'd, in *unsynced, and making it durable is the
 * caller's (the daemon batches these: fs/daemon/durable.c).
 * PFC_ERR_EXISTS if present, PFC_ERR_IO (errno set). */
int pfc_dirid_create(int dirfd, uint8_t out[PFC_ID_BYTES], int *unsynced);
/* Parse a dirid file's content: PFC_ERR_CORRUPT unless exactly 16 bytes. */
int pfc_dirid_parse(const uint8_t *buf, size_t len, uint8_t out[PFC_ID_BYTES]);
/* Read every dirid file of dirfd (sorted, duplicates folded, unreadable or
 * malformed copies skipped), at most max.  *primary = index of the smallest.
 * PFC_ERR_NOT_FOUND if none is valid; PFC_ERR_IO (errno set), also when an
 * id file cannot be read for want of descriptors or memory (EMFILE, ENFILE,
 * ENOMEM): a shortage is never reported as a missing id. */
int pfc_dirid_load_all(int dirfd, uint8_t (*ids)[PFC_ID_BYTES], size_t max, size_t *n,
		       size_t *primary);
/* An id-file entry that is not a regular file (a FIFO, socket, device,
 * directory or symlink: never opened, ignored as FORMAT.md 5.4 says). */
struct pfc_dirid_odd {
	size_t n;	/* how many such entries */
	char name[256]; /* the first one's name */
	unsigned type;	/* its S_IFMT bits (pfc_file_type_name) */
};
/* pfc_dirid_load_all, and *odd (may be NULL; set also on failure) says
 * which id-file entries were not regular files, e.g. for the log line of a
 * directory left with no id. */
int pfc_dirid_load_report(int dirfd, uint8_t (*ids)[PFC_ID_BYTES], size_t max, size_t *n,
			  size_t *primary, struct pfc_dirid_odd *odd);

/* ----------------------------------------------------------- longname.c */
/*
 * Encoded names longer than PFC_ENCNAME_SHORT_MAX are stored as
 * "pfc.long." + base64url(BLAKE2b-256(encoding)) (52 chars), beside a
 * companion file of the same name + ".name" whose content is the encoding.
 */
#define PFC_LONGNAME_PREFIX	   "pfc.long."
#define PFC_LONGNAME_SUFFIX	   ".name"
#define PFC_LONGNAME_LEN	   52 /* 9 + 43 */
#define PFC_LONGNAME_COMPANION_LEN 57

/* What a backing directory entry is. */
enum pfc_entry_kind {
	PFC_ENTRY_OTHER = 0,	      /* not ours: skip (or a sync-conflict copy) */
	PFC_ENTRY_DOT,		      /* "." or ".." */
	PFC_ENTRY_CONFIG,	      /* PFC_CONFIG_NAME or PFC_CONFIG_TMP_NAME */
	PFC_ENTRY_DIRID,	      /* PFC_DIRID_NAME or a copy of it (prefix) */
	PFC_ENTRY_ENCNAME,	      /* a well-formed short encoding (decrypt it) */
	PFC_ENTRY_LONGNAME,	      /* a long-name entry (read its companion) */
	PFC_ENTRY_LONGNAME_COMPANION, /* a long-name companion */
	PFC_ENTRY_SYMLINKS_DIR,	      /* PFC_SYMLINKS_DIR (root only): symlink companions */
};
/* Classify by name alone (no I/O, no key). */
enum pfc_entry_kind pfc_entry_classify(const char *name, size_t len);

/* A plaintext name's backing form. */
struct pfc_backing_name {
	char name[PFC_ENCNAME_SHORT_MAX + 1];		/* the directory entry to create/open */
	bool is_long;					/* then a companion must exist too */
	char companion[PFC_LONGNAME_COMPANION_LEN + 1]; /* if is_long */
	char enc[PFC_ENCNAME_BUF]; /* full encoding = companion content if is_long */
	size_t enc_len;
};
/* Encrypt name under dir_id and apply the long-name scheme if needed. */
int pfc_name_to_backing(const struct pfc_volkeys *vk, const uint8_t dir_id[PFC_ID_BYTES],
			const char *name, size_t len, struct pfc_backing_name *out);
/* The long-name entry name for a full encoding (out: PFC_LONGNAME_LEN + 1). */
int pfc_longname_name(const char *enc, size_t enc_len, char out[PFC_LONGNAME_LEN + 1]);
/* The companion name for a long-name entry name (out: PFC_LONGNAME_COMPANION_LEN + 1).
 * PFC_ERR_INVAL if longname is not a long-name entry. */
int pfc_longname_companion(const char *longname, size_t len,
			   char out[PFC_LONGNAME_COMPANION_LEN + 1]);
/* Parse a companion's content (as read; up to PFC_ENCNAME_MAX bytes) for the
 * long-name entry `longname`: it must be a well-formed encoding longer than
 * PFC_ENCNAME_SHORT_MAX whose hash gives longname.  Copies it to enc (cap >=
 * PFC_ENCNAME_BUF, NUL-terminated).  PFC_ERR_CORRUPT if malformed,
 * PFC_ERR_TOO_LARGE if too long, PFC_ERR_AUTH if it does not match longname. */
int pfc_longname_companion_parse(const char *longname, size_t longname_len, const uint8_t *content,
				 size_t content_len, char *enc, size_t cap, size_t *enc_len);

/* ------------------------------------------------------------ symlink.c */
/*
 * Symlink targets (FORMAT.md section 8).  A target of 1..PFC_SYMLINK_TARGET_MAX
 * bytes (no NUL) is padded with zeros to a multiple of 16 and sealed:
 * S = nonce(24, random) || XChaCha20-Poly1305(volume symlink subkey,
 * AD = "pfcrypt/v1 symlink\0" || volume id).  Two stored forms:
 *   inline (8.1)    the backing symlink's target is base64url(S); writers use
 *                   it up to PFC_SYMLINK_INLINE_MAX bytes (<= 1014 characters,
 *                   within xfs's limit), readers accept it up to
 *                   PFC_SYMLINK_INLINE_READ_MAX (older volumes);
 *   companion (8.2) the backing target is the reference "pfc.symlink." + H,
 *                   H = base64url(BLAKE2b-256(S)), and S is the content of the
 *                   file PFC_SYMLINKS_DIR "/" H under the backing root.
 */
#define PFC_SYMLINK_TARGET_MAX	    4095 /* PATH_MAX - 1 */
#define PFC_SYMLINK_BUF		    (PFC_SYMLINK_TARGET_MAX + 1)
#define PFC_SYMLINK_INLINE_MAX	    720	 /* writers: longer targets use a companion */
#define PFC_SYMLINK_INLINE_READ_MAX 3024 /* readers accept inline targets up to this */
#define PFC_SYMLINK_ENC_MAX	    4086 /* pfc_b64url_len(24 + 3024 + 16): longest inline form */
#define PFC_SYMLINK_ENC_BUF	    (PFC_SYMLINK_ENC_MAX + 1) /* any backing target we read */
#define PFC_SYMLINK_INLINE_ENC_MAX  1014 /* pfc_b64url_len(24 + 720 + 16): longest written */
#define PFC_SYMLINK_SEALED_MAX	    4136 /* 24 + 4096 + 16 */
#define PFC_SYMLINK_REF_PREFIX	    "pfc.symlink."
#define PFC_SYMLINK_HASH_LEN	    43 /* base64url(32 bytes): the companion's name */
#define PFC_SYMLINK_REF_LEN	    55 /* 12 + 43 */
#define PFC_SYMLINKS_DIR	    ".pfcrypt.symlinks" /* at the backing root */

/* Inline form only.  encrypt: PFC_ERR_NAME_INVALID for an empty target or one
 * containing NUL, PFC_ERR_NAME_TOO_LONG past PFC_SYMLINK_INLINE_READ_MAX;
 * out: cap >= PFC_SYMLINK_ENC_BUF.  Writers use pfc_symlink_to_backing(). */
int pfc_symlink_encrypt(const struct pfc_volkeys *vk, const char *target, size_t len, char *out,
			size_t cap, size_t *out_len);
/* Inline form only.  out: cap > the target's length (PFC_SYMLINK_BUF always
 * does), NUL-terminated.  PFC_ERR_CORRUPT (malformed, a reference included),
 * PFC_ERR_TOO_LARGE, PFC_ERR_AUTH (wrong volume or tampered). */
int pfc_symlink_decrypt(const struct pfc_volkeys *vk, const char *enc, size_t enc_len, char *out,
			size_t cap, size_t *out_len);

/* What a writer stores for a target: the backing symlink's target (link),
 * and for the companion form the companion's name (hash) and content (sealed). */
struct pfc_symlink_stored {
	char link[PFC_SYMLINK_INLINE_ENC_MAX + 1]; /* NUL-terminated */
	size_t link_len;
	bool is_long;			     /* then hash and sealed are set */
	char hash[PFC_SYMLINK_HASH_LEN + 1]; /* NUL-terminated */
	uint8_t sealed[PFC_SYMLINK_SEALED_MAX];
	size_t sealed_len;
};
/* Seal target (1..PFC_SYMLINK_TARGET_MAX bytes) in the form a writer uses.
 * PFC_ERR_NAME_INVALID (empty, NUL), PFC_ERR_NAME_TOO_LONG. */
int pfc_symlink_to_backing(const struct pfc_volkeys *vk, const char *target, size_t len,
			   struct pfc_symlink_stored *out);
/* True if link (a backing symlink's target) is a companion reference; then
 * hash gets the companion's name.  No I/O, no key. */
bool pfc_symlink_ref_parse(const char *link, size_t len, char hash[PFC_SYMLINK_HASH_LEN + 1]);
/* Unseal a companion's content (as read) named hash.  PFC_ERR_AUTH if it does
 * not hash to hash or does not authenticate, PFC_ERR_TOO_LARGE, PFC_ERR_CORRUPT. */
int pfc_symlink_companion_open(const struct pfc_volkeys *vk, const char *hash,
			       const uint8_t *content, size_t len, char *out, size_t cap,
			       size_t *out_len);
/* Read companion hash under the backing root rootfd (PFC_SYMLINKS_DIR and the
 * companion opened without following symlinks; the companion must be a
 * regular file) into buf (cap >= PFC_SYMLINK_SEALED_MAX + 1).
 * PFC_ERR_NOT_FOUND (missing, or not a directory / regular file),
 * PFC_ERR_TOO_LARGE, PFC_ERR_IO (errno set). */
int pfc_symlink_companion_read(int rootfd, const char *hash, uint8_t *buf, size_t cap, size_t *len);
/* Create s's companion (s->is_long) under rootfd: PFC_SYMLINKS_DIR made if
 * missing, the file created exclusively, mode 0444, written, fsync'd, and the
 * directory fsync'd.  PFC_ERR_EXISTS, PFC_ERR_IO (errno set; nothing left). */
int pfc_symlink_companion_write(int rootfd, const struct pfc_symlink_stored *s);
/* Remove companion hash under rootfd; 0 or PFC_ERR_IO (errno set, ENOENT included). */
int pfc_symlink_companion_remove(int rootfd, const char *hash);
/* A backing symlink's target as read (link, len) to the plaintext target,
 * either form; a companion is read under rootfd.  out: cap >= PFC_SYMLINK_BUF.
 * Errors of pfc_symlink_decrypt, pfc_symlink_companion_read and _open. */
int pfc_symlink_read(const struct pfc_volkeys *vk, int rootfd, const char *link, size_t len,
		     char *out, size_t cap, size_t *out_len);

/* -------------------------------------------------------------- xattr.c */
/*
 * Only "user." xattrs are encrypted: "user.<suffix>" is stored as
 * "user.pfc." + base64url(SIV name encryption of suffix); its value as
 * nonce(24) || XChaCha20-Poly1305(value) with AD binding the stored name.
 * Other namespaces are not handled by this library (the daemon refuses them).
 */
#define PFC_XATTR_PREFIX	 "user."
#define PFC_XATTR_ENC_PREFIX	 "user.pfc."
#define PFC_XATTR_SUFFIX_MAX	 160 /* plaintext bytes after "user." */
#define PFC_XATTR_NAME_ENC_MAX	 244 /* 9 + pfc_b64url_len(16 + 160) */
#define PFC_XATTR_NAME_ENC_BUF	 (PFC_XATTR_NAME_ENC_MAX + 1)
#define PFC_XATTR_VALUE_OVERHEAD 40 /* nonce + tag */
#define PFC_XATTR_VALUE_MAX	 (65536 - PFC_XATTR_VALUE_OVERHEAD)

/* name: full plaintext name "user.xxx" (NUL not allowed, suffix 1..160
 * bytes).  PFC_ERR_INVAL if not in user.*, PFC_ERR_NAME_INVALID (empty suffix
 * or NUL), PFC_ERR_NAME_TOO_LONG.  out: cap >= PFC_XATTR_NAME_ENC_BUF. */
int pfc_xattr_name_encrypt(const struct pfc_volkeys *vk, const char *name, size_t len, char *out,
			   size_t cap, size_t *out_len);
/* Inverse; PFC_ERR_INVAL if enc does not start with PFC_XATTR_ENC_PREFIX (not
 * ours: hide it), PFC_ERR_CORRUPT / PFC_ERR_AUTH otherwise.  out: cap >=
 * 5 + PFC_XATTR_SUFFIX_MAX + 1, NUL-terminated "user.xxx". */
int pfc_xattr_name_decrypt(const struct pfc_volkeys *vk, const char *enc, size_t enc_len, char *out,
			   size_t cap, size_t *out_len);
/* enc_name: the stored (encrypted) name the value belongs to.  Value 0..
 * PFC_XATTR_VALUE_MAX bytes; out cap >= len + PFC_XATTR_VALUE_OVERHEAD. */
int pfc_xattr_value_encrypt(const struct pfc_volkeys *vk, const char *enc_name, size_t enc_name_len,
			    const uint8_t *value, size_t len, uint8_t *out, size_t cap,
			    size_t *out_len);
/* PFC_ERR_TRUNCATED (< overhead), PFC_ERR_AUTH; out cap >= len - overhead. */
int pfc_xattr_value_decrypt(const struct pfc_volkeys *vk, const char *enc_name, size_t enc_name_len,
			    const uint8_t *stored, size_t len, uint8_t *out, size_t cap,
			    size_t *out_len);

#endif
