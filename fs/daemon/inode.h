/* SPDX-License-Identifier: MIT */
/*
 * inode.h - the daemon's inode table (the shape of libfuse's passthrough_ll).
 *
 * One struct pfc_inode per backing object the kernel knows about, keyed by
 * the backing (st_dev, st_ino) so that hard links share one inode.  The FUSE
 * inode number is the struct's address (FUSE_ROOT_ID maps to the root).
 * nlookup counts the kernel's lookups and is paired with forget.
 *
 * Descriptors are bounded by design (issue 28): an inode remembers the
 * directory inode and the backing entry name it was last found by, and its
 * O_PATH descriptor lives in a bounded LRU.  A descriptor nobody holds may
 * be closed at any time (over the cap, or when an open meets EMFILE) and is
 * reopened through the parent on its next use (openat + a (dev, ino) check:
 * -ESTALE when the name now holds another object).  Every use of a
 * descriptor is bracketed by pfc_inode_fd() / pfc_inode_fd_put(), so that
 * no descriptor is closed under a user; open file handles hold theirs for
 * their whole life.  An inode whose last known name was removed through the
 * mount (unlinked while the kernel or an open handle still knows it) is an
 * orphan: it keeps its descriptor until forgotten, since no name leads to
 * it.  An inode stays allocated while the kernel knows it (nlookup) or
 * while another inode names it as parent or a reopen holds it (refs).
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
 *      (ops_file.c), the bad-block log lock (blocks.c).  A reopen releases
 *      itable->lock around its openat and takes it again.
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
	bool gen_active;	       /* a generation is in progress (ARCHITECTURE.md 2) */
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

/* Per directory: cached directory ids; protected by dir_lock.  Allocated on
 * a directory's first use (dirnames.c): most inodes are files, and this is
 * half of an inode's size. */
struct pfc_dstate {
	bool valid;
	unsigned nids;
	uint8_t ids[PFC_DIRIDS_MAX][PFC_ID_BYTES];
	unsigned pick;		   /* index of the id new names are made under */
	struct timespec loaded_at; /* CLOCK_MONOTONIC; a lookup miss re-reads older ids */
};

struct pfc_inode {
	dev_t dev;   /* immutable */
	ino_t ino;   /* immutable */
	mode_t type; /* S_IFMT bits; immutable */

	/* All protected by itable->lock. */
	int fd;			    /* O_PATH | O_NOFOLLOW, or -1 while closed by the budget */
	unsigned fd_users;	    /* holds of fd (pfc_inode_fd, open handles) */
	bool orphan;		    /* its last known name is gone: fd kept, never reopened */
	struct pfc_inode *parent;   /* directory it was last found in (counted in its refs) */
	char *bname;		    /* backing entry name there (NULL for the root, orphans) */
	uint64_t nlookup;	    /* the kernel's lookups */
	unsigned refs;		    /* children naming it as parent, reopens in progress */
	struct pfc_inode *hnext;    /* hash chain */
	struct pfc_inode *lru_prev; /* idle list: fd >= 0, fd_users == 0, */
	struct pfc_inode *lru_next; /* not an orphan, not the root */
	bool on_lru;

	pthread_rwlock_t io_lock;
	struct pfc_fstate f; /* protected by io_lock */

	pthread_mutex_t dir_lock;
	struct pfc_dstate *d; /* directories only, made at first use; protected by dir_lock */
};

typedef void (*pfc_inode_cleanup_fn)(struct pfc_inode *inode);

struct pfc_itable {
	pthread_mutex_t lock; /* leaf: protects everything below and the inodes' fields above */
	struct pfc_inode **buckets;
	size_t nbuckets;
	size_t count;
	struct pfc_inode root;	      /* never freed; its fd is never closed */
	pfc_inode_cleanup_fn cleanup; /* releases per-file state before free */
	size_t nfds;		      /* O_PATH descriptors open (the root's not counted) */
	size_t fd_cap;		      /* idle ones are closed past this many */
	struct pfc_inode *lru_head;   /* most recently used idle descriptor */
	struct pfc_inode *lru_tail;   /* the next to close */
	uint64_t reopens, closes;     /* statistics: descriptors reopened / closed early */
};

/* root_fd (O_PATH of the backing root) is owned by the table from now on.
 * fd_cap: O_PATH descriptors kept open at most (besides held ones). */
int pfc_itable_init(struct pfc_itable *t, int root_fd, pfc_inode_cleanup_fn cleanup, size_t fd_cap);
/* Free every inode (cleanup called on each) and close their fds. */
void pfc_itable_destroy(struct pfc_itable *t);
/* The inode of a FUSE inode number (no checks: the kernel only sends ours). */
struct pfc_inode *pfc_itable_get(struct pfc_itable *t, fuse_ino_t ino);
fuse_ino_t pfc_itable_ino(struct pfc_itable *t, const struct pfc_inode *inode);
/*
 * Find the inode of (st->st_dev, st->st_ino) or make it from fd, count one
 * lookup and remember (parent, bname) as the name it is reached by.  fd (an
 * O_PATH descriptor of the object) is consumed: kept by the inode or closed.
 * 0 or -errno (fd closed then too).
 */
int pfc_itable_lookup(struct pfc_itable *t, int fd, const struct stat *st, struct pfc_inode *parent,
		      const char *bname, struct pfc_inode **out);
/* Drop n lookups; frees the inode when nothing refers to it any more. */
void pfc_itable_forget(struct pfc_itable *t, fuse_ino_t ino, uint64_t n);
size_t pfc_itable_count(struct pfc_itable *t);

/*
 * The inode's O_PATH descriptor, reopened through its parent if the budget
 * closed it, and held until pfc_inode_fd_put().  fd or -errno (-ESTALE when
 * its name leads elsewhere now, or it is an orphan whose fd was lost).
 * reopen(dirfd, name, ctx) opens name below dirfd (openat with the daemon's
 * retry on EMFILE); NULL means plain openat.
 */
typedef int (*pfc_reopen_fn)(int dirfd, const char *name, void *ctx);
int pfc_inode_fd(struct pfc_itable *t, struct pfc_inode *in, pfc_reopen_fn reopen, void *ctx);
void pfc_inode_fd_put(struct pfc_itable *t, struct pfc_inode *in);
/* The inode of (dev, ino) if the table has it, held (refs) until
 * pfc_itable_release(); NULL if not. */
struct pfc_inode *pfc_itable_find(struct pfc_itable *t, dev_t dev, ino_t ino);
void pfc_itable_release(struct pfc_itable *t, struct pfc_inode *in);
/* The entry (dir, bname) was renamed to (ndir, nbname): inodes last found
 * by it follow. */
void pfc_itable_renamed(struct pfc_itable *t, struct pfc_inode *in, struct pfc_inode *dir,
			const char *bname, struct pfc_inode *ndir, const char *nbname);
/* The entry (dir, bname) of in is gone (unlink, rmdir, replaced by a
 * rename): if it was in's known name, in becomes an orphan.  The caller
 * holds in's fd (pfc_inode_fd), so the orphan keeps a descriptor. */
void pfc_itable_unnamed(struct pfc_itable *t, struct pfc_inode *in, struct pfc_inode *dir,
			const char *bname);
/* Close up to n idle descriptors now (an open met EMFILE).  Returns how many. */
size_t pfc_itable_shrink(struct pfc_itable *t, size_t n);

#endif
