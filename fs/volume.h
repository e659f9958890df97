/* SPDX-License-Identifier: MIT */
/*
 * volume.h - the volume layer of the format library: what the daemon and
 * every CLI subcommand do the same way over a backing directory, on top of
 * fs/format.h.  Grouped by source file:
 *
 *   conflict.c  sync-client conflict copies "<enc><marker>" (ARCHITECTURE.md 4,
 *               FORMAT.md 5.6): pure string rules, no key, no I/O;
 *   volume.c    open a volume (config, layout), its keys (name-key AD ->
 *               unwrap -> volume keys -> config MAC) and a file's key
 *               (header -> file-key AD -> unwrap -> pfc_filekey);
 *   entry.c     one backing directory entry to its plaintext name
 *               (long-name companion, every directory id, conflict marker);
 *   walk.c      the walk of a backing tree, with callbacks.
 *
 * The library stays free of sockets: the keystore's unwrap comes in as a
 * callback (struct pfc_unwrapper).  Conventions of fs/format.h hold, except
 * where a comment says an out-parameter is also set on failure.
 */
#ifndef PFC_VOLUME_H
#define PFC_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs/format.h"

/* ----------------------------------------------------------- conflict.c */
/*
 * Markers recognised (each appended by its client to the conflicting name):
 *   Syncthing  ".sync-conflict-<anything>"      e.g. .sync-conflict-20240102-030405-ABCDEFG
 *   rclone     ".conflict<digit>..."            e.g. .conflict1
 *   Dropbox    " (<anything>conflicted copy<anything>"   e.g. " (Ann's conflicted copy 2024-01-02)"
 *   Nextcloud  " (conflicted copy <anything>"
 */

/* True if s (the rest of a name) starts with a conflict marker. */
bool pfc_conflict_marker(const char *s);
/*
 * A backing entry "<base64url><marker>" or "pfc.long.<base64url><marker>"
 * (a sync client copies a long-name entry without its companion): returns
 * the length of the part before the marker (> 0), or 0 if the entry is not
 * of that shape.  Neither '.' nor ' ' is in the base64url alphabet, so the
 * encoding ends exactly where the marker begins.
 */
size_t pfc_conflict_split(const char *entry);
/*
 * A sync client's conflict copy of one of the volume's entries: of the shape
 * above, and the part before the marker is an encrypted name or a long-name
 * entry (pfc_entry_classify).  *base_len (may be NULL) = that part's length.
 */
bool pfc_conflict_copy(const char *entry, size_t *base_len);
/*
 * The next place in a plaintext name where a marker starts, searching from
 * from (>= 1: the base name is never empty); returns its offset or 0 if none.
 */
size_t pfc_conflict_next_marker(const char *name, size_t from);

/* ------------------------------------------------------------- volume.c */

/* The keystore's unwrap, as the caller reaches it (a socket, a test stub):
 * same contract as pfc_ks_unwrap (key: locked memory, wiped on failure). */
struct pfc_unwrapper {
	int (*unwrap)(void *ctx, const uint8_t *blob, size_t blob_len, const uint8_t *ad,
		      size_t ad_len, uint8_t key[PFC_KEY_BYTES]);
	void *ctx;
};

/* Which step of pfc_volume_keys / pfc_volume_file_key failed. */
enum pfc_key_step {
	PFC_STEP_NONE = 0,
	PFC_STEP_MEMORY, /* no locked memory for the key in transit */
	PFC_STEP_UNWRAP, /* the unwrap callback refused (its error returned) */
	PFC_STEP_DERIVE, /* pfc_volkeys_new / pfc_filekey_new */
	PFC_STEP_VERIFY, /* the config MAC does not verify */
};

/* Load the config at the backing root rootfd and its layout.  Errors of
 * pfc_config_load (PFC_ERR_NOT_FOUND: no config; PFC_ERR_IO with errno;
 * others with pfc_config_last_error()) and pfc_config_layout. */
int pfc_volume_load(int rootfd, struct pfc_config *cfg, struct pfc_layout *layout);
/* Unwrap cfg's name key (AD pfc_ad_name_key), derive the volume keys and
 * verify the config MAC.  *step (also set on failure) says which step failed. */
int pfc_volume_keys(const struct pfc_config *cfg, const struct pfc_unwrapper *uw,
		    struct pfc_volkeys **out, enum pfc_key_step *step);
/* The key of a file whose header h was parsed: unwrap h->wrapped (AD
 * pfc_ad_file_key) into scratch (PFC_KEY_BYTES of the caller's locked
 * memory, wiped before return; NULL: allocated here), then pfc_filekey_new.
 * *step (also set on failure) says which step failed. */
int pfc_volume_file_key(const uint8_t volume_id[PFC_ID_BYTES], const struct pfc_layout *layout,
			const struct pfc_header *h, const struct pfc_unwrapper *uw,
			uint8_t *scratch, struct pfc_filekey **out, enum pfc_key_step *step);

/* -------------------------------------------------------------- entry.c */

/* Which step of pfc_entry_encoding / pfc_entry_name failed. */
enum pfc_entry_step {
	PFC_ENTRY_STEP_NONE = 0,
	PFC_ENTRY_STEP_OPEN,  /* the long-name companion cannot be opened (PFC_ERR_IO, errno) */
	PFC_ENTRY_STEP_READ,  /* ... cannot be read (PFC_ERR_IO, errno) */
	PFC_ENTRY_STEP_PARSE, /* ... is malformed or not this entry's (pfc_longname_companion_parse)
			       */
	PFC_ENTRY_STEP_DECRYPT, /* the name does not decrypt under any id (pfc_name_decrypt) */
	PFC_ENTRY_STEP_MARKER,	/* name + conflict marker longer than PFC_NAME_MAX */
	PFC_ENTRY_STEP_TYPE,	/* the companion is not a regular file (PFC_ERR_CORRUPT; never
				   opened: pfc_open_regular) */
};

/* The full encoding of entry (kind PFC_ENTRY_ENCNAME: the name itself;
 * PFC_ENTRY_LONGNAME: its companion's content, read in dirfd without
 * following a symlink, and only if it is a regular file: pfc_open_regular).  enc: PFC_ENCNAME_BUF.
 * companion (may be NULL, PFC_LONGNAME_COMPANION_LEN + 1) gets the companion's name, also on
 * failure; *step is set on failure. */
int pfc_entry_encoding(int dirfd, const char *entry, enum pfc_entry_kind kind, char *enc,
		       size_t *enc_len, char *companion, enum pfc_entry_step *step);

/* What pfc_entry_name found. */
struct pfc_entry_name {
	char name[PFC_NAME_BUF]; /* plaintext, NUL-terminated, the marker of a copy included */
	size_t len;
	size_t marker;	/* offset of a conflict copy's marker in name; 0 if not a copy */
	size_t matched; /* index in ids of the directory id that authenticated */
	char companion[PFC_LONGNAME_COMPANION_LEN + 1]; /* the companion read ("" if none) */
	enum pfc_entry_step step;			/* on failure: which step */
	unsigned companion_type; /* on PFC_ENTRY_STEP_TYPE: its S_IFMT bits (pfc_file_type_name) */
};
/*
 * The plaintext name of backing entry `entry` of the directory dirfd whose
 * directory ids are ids[0..n).  An encrypted name decrypts; a long-name
 * entry's companion is read first; a conflict copy (pfc_conflict_copy)
 * decrypts its base (a long name's copy through the companion of the base
 * entry itself) and keeps its marker.  Returns 0 (out filled), 1 if the
 * entry carries no name of the volume (dot, config, id file, companion,
 * symlink companion directory, a foreign name), or a PFC_ERR_* with
 * out->step and out->companion set (PFC_ERR_IO with errno).
 */
int pfc_entry_name(const struct pfc_volkeys *vk, int dirfd, const char *entry,
		   const uint8_t (*ids)[PFC_ID_BYTES], size_t n, struct pfc_entry_name *out);

/*
 * The plaintext path ("a/b": no leading '/', "" for "") of the backing path
 * rel below the backing root rootfd, one component at a time through
 * pfc_entry_name under its directory's ids.  Returns 0; 1 if a component
 * carries no name of the volume (a companion, an id file, the config, a
 * foreign name), or a PFC_ERR_* (PFC_ERR_IO with errno; PFC_ERR_NAME_TOO_LONG
 * when out is short): then *failed is the offset in rel of the component
 * that failed and out holds the plaintext path of its directory.
 */
int pfc_entry_path(const struct pfc_volkeys *vk, int rootfd, const char *rel, char *out, size_t len,
		   size_t *failed);

/* --------------------------------------------------------------- walk.c */

/* A directory on the walk. */
struct pfc_walk_dir {
	int fd;		 /* the directory, O_RDONLY (valid during enter and entry) */
	const char *rel; /* relative to the root: "" for the root, else "a/b" */
	struct stat st;	 /* its fstat */
	void *arg;	 /* the caller's: the root's from pfc_walk, else set by ops->entry */
};
/* One entry of a directory ("." and ".." are never passed). */
struct pfc_walk_entry {
	const char *name;	  /* in the directory */
	const char *rel;	  /* relative to the root */
	enum pfc_entry_kind kind; /* pfc_entry_classify(name) */
	unsigned char type;	  /* d_type from readdir (DT_UNKNOWN when the fs gives none) */
};
/* Where a directory failed (for ops->error). */
enum pfc_walk_op {
	PFC_WALK_OPEN, /* openat of the directory */
	PFC_WALK_STAT, /* its fstat */
	PFC_WALK_READ, /* reading its entries */
	PFC_WALK_PATH, /* a child's path is longer than PATH_MAX - 1 (err ENAMETOOLONG) */
};
struct pfc_walk_ops {
	/* A directory was opened: 0 walk its entries, 1 skip them, < 0 stop.
	 * May be NULL (walk them all). */
	int (*enter)(void *ctx, struct pfc_walk_dir *dir);
	/* One entry: 0 next, 1 descend into it (a directory; *child_arg becomes
	 * its dir->arg), < 0 stop. */
	int (*entry)(void *ctx, struct pfc_walk_dir *dir, const struct pfc_walk_entry *e,
		     void **child_arg);
	/* Last for every directory, whatever happened (dir->fd is -1 if it did
	 * not open): frees what ops->entry gave as its arg.  May be NULL. */
	void (*leave)(void *ctx, struct pfc_walk_dir *dir);
	/* A directory (rel) cannot be walked, errno value err: < 0 stop, else go on
	 * (after PFC_WALK_READ with the entries read so far). */
	int (*error)(void *ctx, const char *rel, void *arg, enum pfc_walk_op op, int err);
};
/*
 * Walk the tree under the backing root rootfd, depth first in readdir order.
 * Each directory is opened from the root without following a symlink, its
 * names read first (one directory stream open at a time), then passed to
 * ops->entry.  Returns 0, -ENOMEM, or the first value < 0 a callback returned.
 */
int pfc_walk(int rootfd, const struct pfc_walk_ops *ops, void *ctx, void *root_arg);

#endif
