/* SPDX-License-Identifier: MIT */
/*
 * inode.h - the daemon's inode table (the shape of libfuse's passthrough_ll).
 *
 * One struct pfc_inode per backing object the kernel knows about, keyed by
 * the backing (st_dev, st_ino) so that hard links share one inode and a
 * rename changes nothing here.  Each holds an O_PATH descriptor of the
 * backing object, which also keeps an unlinked file alive while the kernel
 * still refers to it.  The FUSE inode number is the struct's address
 * (FUSE_ROOT_ID maps to the root).  nlookup counts the kernel's lookups and
 * is paired with forget; at zero the inode is freed.
 *
 * Lock order (outermost first); nothing is ever taken in the other order:
 *   1. a directory handle's lock (ops_dir.c), held while a listing is built;
 *      under it: dir_lock and itable->lock, never an io_lock.
 *   2. inode->io_lock   (rwlock, per inode) file content and file state;
 *                        writers of content take it exclusively.  Two inode
 *                        io_locks are never held at once, and never together
 *                        with a dir_lock.  Under it: 4, 5.
 *   3. inode->dir_lock  (mutex, per directory inode) cached directory ids;
 *                        nothing is taken under it.
 *   4. pfcd->pool_lock (keypool.c), held across a refill request, so it is
 *      taken before the keystore client's internal mutex.
 *   5. leaf locks, never held while taking another: the keystore client's
 *      mutex, the key cache's lock, itable->lock, the open-handle list lock
 *      (ops_file.c), the bad-block log lock (fileio.c).
 */
#ifndef PFC_DAEMON_INODE_H
#define PFC_DAEMON_INODE_H

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fs/format.h" /* PFC_ID_BYTES, PFC_DIRIDS_MAX */

struct pfc_kentry;

/* Per regular-file state; every field protected by io_lock (written only
 * with it held exclusively). */
struct pfc_fstate {
	bool loaded;		       /* header read and key held since the first open */
	uint8_t file_id[PFC_ID_BYTES]; /* from the header */
	uint64_t generation;	       /* header generation last read or written */
	bool gen_active;	       /* a generation is in progress (DESIGN 2) */
	unsigned writers;	       /* open handles with write access */
	unsigned opens;		       /* open handles of any kind */
	struct pfc_kentry *key;	       /* held key-cache entry (struct pfc_filekey) */
	struct timespec seen_mtime;    /* backing state at the last release, */
	off_t seen_size;	       /* to decide keep_cache at the next open */
	bool seen_valid;
	int ifd;      /* internal fd while loaded: O_RDWR|O_NOATIME, for header */
	bool has_ifd; /* and partial-block reads that must not touch atime; has_ifd:
			 open tried (ifd -1 if it failed: the caller's fd is used) */
};

/* Per directory: cached directory ids; protected by dir_lock. */
struct pfc_dstate {
	bool valid;
	unsigned nids;
	uint8_t ids[PFC_DIRIDS_MAX][PFC_ID_BYTES];
	unsigned pick;		   /* index of the id new names are made under */
	struct timespec loaded_at; /* CLOCK_MONOTONIC; a lookup miss re-reads older ids */
};

struct pfc_inode {
	int fd;	     /* O_PATH | O_NOFOLLOW; immutable */
	dev_t dev;   /* immutable */
	ino_t ino;   /* immutable */
	mode_t type; /* S_IFMT bits; immutable */

	uint64_t nlookup;	 /* protected by itable->lock */
	struct pfc_inode *hnext; /* protected by itable->lock */
	/* The last (parent, name) the kernel learnt this inode by, so that it
	 * can be asked to forget it (prune.c).  parent is only a number given
	 * back to the kernel, never dereferenced.  Protected by itable->lock. */
	fuse_ino_t kparent;
	char *kname;

	pthread_rwlock_t io_lock;
	struct pfc_fstate f; /* protected by io_lock */

	pthread_mutex_t dir_lock;
	struct pfc_dstate d; /* protected by dir_lock */
};

typedef void (*pfc_inode_cleanup_fn)(struct pfc_inode *inode);

struct pfc_itable {
	pthread_mutex_t lock; /* leaf: protects buckets, count, every nlookup and hnext */
	struct pfc_inode **buckets;
	size_t nbuckets;
	size_t count;
	struct pfc_inode root;	      /* never freed; nlookup not counted */
	pfc_inode_cleanup_fn cleanup; /* releases per-file state before free */
};

/* root_fd (O_PATH of the backing root) is owned by the table from now on. */
int pfc_itable_init(struct pfc_itable *t, int root_fd, pfc_inode_cleanup_fn cleanup);
/* Free every inode (cleanup called on each) and close their fds. */
void pfc_itable_destroy(struct pfc_itable *t);
/* The inode of a FUSE inode number (no checks: the kernel only sends ours). */
struct pfc_inode *pfc_itable_get(struct pfc_itable *t, fuse_ino_t ino);
fuse_ino_t pfc_itable_ino(struct pfc_itable *t, const struct pfc_inode *inode);
/*
 * Find the inode of (st->st_dev, st->st_ino) or make it from fd, and count one
 * lookup.  fd (an O_PATH descriptor of the object) is consumed: kept by a new
 * inode or closed.  0 or -errno (fd closed then too).
 */
int pfc_itable_lookup(struct pfc_itable *t, int fd, const struct stat *st, struct pfc_inode **out);
/* Drop n lookups; frees the inode when none remain. */
void pfc_itable_forget(struct pfc_itable *t, fuse_ino_t ino, uint64_t n);
size_t pfc_itable_count(struct pfc_itable *t);
/* Remember that the kernel knows in as name in directory parent. */
void pfc_itable_set_name(struct pfc_itable *t, struct pfc_inode *in, fuse_ino_t parent,
			 const char *name);
/*
 * Up to max (parent, name) pairs of inodes that no handle has open, for the
 * kernel to forget; names are malloc'd copies (caller frees).  *cursor is
 * where the walk over the buckets resumes next time.  Returns the count.
 */
size_t pfc_itable_pick(struct pfc_itable *t, size_t max, size_t *cursor, fuse_ino_t *parents,
		       char **names);

#endif
