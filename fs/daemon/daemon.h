/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - private header of pfcryptfs, grouped by source file.
 *
 * Errors inside the daemon are negative errno values; the FUSE handlers in
 * ops_*.c turn them into fuse_reply_err() at the edge.  Format and keystore
 * functions return PFC_ERR_*; pfcd_errno() maps them.
 *
 * Lock order: see inode.h (io_lock, then dir_lock, then leaf locks).
 */
#ifndef PFC_DAEMON_H
#define PFC_DAEMON_H

#include "fs/daemon/inode.h"
#include "fs/daemon/keycache.h"
#include "fs/format.h"
#include "fs/volume.h"
#include "keystore/client.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PFCD_KEYCACHE_MAX    4096 /* unwrapped file keys kept at most */
#define PFCD_KEYCACHE_IDLE   600  /* seconds an unused file key stays cached */
#define PFCD_KEYPOOL_BATCH   64	  /* file keys fetched per generate request */
#define PFCD_KEYPOOL_MAX_AGE 5	  /* seconds a prefetched batch may be used (see keypool.c) */
#define PFCD_TIMEOUT	     1.0  /* entry/attr timeout (s): the backing may change */
#define PFCD_MAX_WRITE	     (1u << 20)
#define PFCD_KS_TIMEOUT_MS   5000
/* more file keys kept as bare FK, 32 bytes each (keytier.c) */
#define PFCD_KEYCACHE_RAW 131072

/* Everything about one mount.  Fields are set before the session starts and
 * read-only afterwards unless a comment names their lock. */
struct pfcd {
	const char *backing; /* as given on the command line, for messages */
	char backing_abs[PATH_MAX];
	const char *mountpoint;
	char mount_abs[PATH_MAX];
	char socket_path[PATH_MAX];

	struct pfc_config cfg;
	struct pfc_layout layout;
	struct pfc_volkeys *vk;
	uint8_t ad_file_prefix[PFC_AD_MAX];
	size_t ad_file_prefix_len;

	struct pfc_ks *ks;	 /* thread-safe: its own mutex serialises requests */
	struct pfc_unwrapper uw; /* unwrap through ks, for fs/volume.h (main.c) */
	struct pfc_kcache *keys;
	struct pfc_itable itable;

	/* keypool.c: prefetched fresh file keys for create (leaf lock) */
	pthread_mutex_t pool_lock;
	struct pfc_ks_filekey *pool; /* sodium_malloc'd, PFCD_KEYPOOL_BATCH entries */
	unsigned pool_avail;	     /* protected by pool_lock */
	struct timespec pool_filled; /* CLOCK_MONOTONIC of the last batch; protected by pool_lock */

	/* main.c: key-cache expiry thread */
	pthread_t expiry_thread;
	pthread_mutex_t expiry_lock;
	pthread_cond_t expiry_cond;
	bool expiry_stop; /* protected by expiry_lock */
	bool expiry_started;

	bool noatime; /* mounted -o noatime: reads never touch the backing atime */
	bool is_root; /* running as root: chown new objects to the caller */
	gid_t egid;   /* the daemon's effective gid: what new backing entries get */
};

extern struct pfcd *pfcd_g; /* the one mount of this process */

/* ---------------------------------------------------------- util.c */
/* -errno for a PFC_ERR_* value (never pass it a -errno: the ranges overlap). */
int pfcd_errno(int err);
/* "/proc/self/fd/N" of an O_PATH fd, for calls that need a path. */
void pfcd_proc_path(int fd, char buf[64]);
/* pread until len bytes or the end of the file (*got: bytes read); pwrite
 * of all len bytes.  Both retry EINTR.  0 or -errno. */
int pfcd_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got);
int pfcd_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* After creating a backing object as root: give it the caller's owner
 * (group of a setgid parent).  0 or -errno. */
int pfcd_chown_new(fuse_req_t req, int parent_fd, int fd, const char *name);

/* ---------------------------------------------------------- attr.c */
/* The backing path of an inode for log lines ("?" if unknown). */
void pfcd_backing_path(struct pfc_inode *in, char *buf, size_t len);
/* For a log line about a file: its backing path into path, and into plain
 * " (file MNT/plain/path)" when the names on the way decrypt, else "" (so a
 * user finds the file the log names).  plain: PATH_MAX + 16 bytes. */
void pfcd_log_path(struct pfc_inode *in, char *path, size_t len, char *plain, size_t plen);
/* Backing stat of an inode, turned into what the mount shows (plaintext
 * size of regular files, target length of symlinks).  0 or -errno. */
int pfcd_getattr(struct pfc_inode *in, struct stat *st);
/* Translate a backing stat in place (st of a backing object whose O_PATH fd
 * is fd, for symlink targets; fd may be -1 to skip the symlink case). */
void pfcd_stat_to_plain(int fd, struct stat *st);
/* Plaintext size of the backing file fd (and its backing size).  0 or -errno. */
int pfcd_file_size(int fd, uint64_t *size, uint64_t *backing);
/* The entry reply of a backing object found or made in parent (counts one
 * lookup).  0 or -errno. */
int pfcd_make_entry(struct pfc_inode *parent, const char *backing_name, struct fuse_entry_param *e);

/* -------------------------------------------------------- dirnames.c */
/* The directory ids of directory inode dir (loaded on first use; reload
 * forces a re-read).  ids: PFC_DIRIDS_MAX slots.  0 or -errno. */
int pfcd_dirids(struct pfc_inode *dir, bool reload, uint8_t (*ids)[PFC_ID_BYTES], size_t *n,
		size_t *primary);
/* Backing form of name for creating it in dir (under the primary id). */
int pfcd_name_for_create(struct pfc_inode *dir, const char *name, struct pfc_backing_name *bn);
/*
 * Find name in dir: tries each directory id; on success *bn names the
 * existing entry and st is its backing lstat.  -ENOENT if absent.
 */
int pfcd_name_find(struct pfc_inode *dir, const char *name, struct pfc_backing_name *bn,
		   struct stat *st);
/*
 * Claim a new name in dir: it must not exist under any directory id (-EEXIST
 * if it does); *bn is its backing name and, for a long name, the companion is
 * written.  0 or -errno.  On a later failure the caller removes the companion.
 */
int pfcd_name_claim(struct pfc_inode *dir, const char *name, struct pfc_backing_name *bn);
/* Create the companion file of a long name (content bn->enc).  0 or -errno. */
int pfcd_companion_write(int dirfd, const struct pfc_backing_name *bn);
/* Remove it (ignores ENOENT). */
void pfcd_companion_remove(int dirfd, const struct pfc_backing_name *bn);
/* The name the mount shows for backing entry `entry` of directory dirfd (a
 * real or O_PATH fd) with ids: an encrypted or long name decrypted, a sync
 * client's conflict copy "<enc><marker>" as "<name><marker>" (fs/volume.h
 * pfc_entry_name; e->name).  0, 1 if the entry carries no name of the
 * volume (not shown), or -errno with e->step (a copy that does not decrypt:
 * never -ENOENT; a companion that is not a regular file: -EIO, never
 * opened). */
int pfcd_entry_decrypt(int dirfd, const char *entry, const uint8_t (*ids)[PFC_ID_BYTES], size_t n,
		       struct pfc_entry_name *e);
/* The backing entry of a displayed conflict-copy name "<name><marker>". */
int pfcd_conflict_find(struct pfc_inode *dir, const char *name, struct pfc_backing_name *bn,
		       struct stat *st);

/* --------------------------------------------------------- keypool.c */
int pfcd_keypool_init(void);
void pfcd_keypool_free(void);
/* Wipe the prefetched keys (the pool stays usable: the next take refills). */
void pfcd_keypool_wipe(void);
/*
 * The keystore said it is locked (a request answered PFC_ERR_LOCKED, or the
 * status poll of main.c): wipe every cached file key (both tiers; keys of
 * files open now stay with their handles until the last close) and the
 * prefetched keys, so that nothing more can be opened or created until it is
 * unlocked.  Logs once per locked period.  Safe from any thread.
 */
void pfcd_keystore_locked(void);
/* The status poll found the keystore unlocked (re-arms the log line). */
void pfcd_keystore_unlocked(void);
/* Take one fresh (file id, key, blob) into *out (caller's locked memory);
 * fetches a batch from the keystore when the pool is empty. 0 or PFC_ERR_*. */
int pfcd_keypool_take(struct pfc_ks_filekey *out);
/* This thread's locked buffer for a key in transit (PFCD_KEYBUF_SIZE bytes,
 * room for a struct pfc_ks_filekey or a bare key), or NULL; the caller wipes
 * it after use.  pfcd_keybuf_drop frees the calling thread's one early. */
#define PFCD_KEYBUF_SIZE sizeof(struct pfc_ks_filekey)
void *pfcd_keybuf(void);
void pfcd_keybuf_drop(void);

/* --------------------------------------------------------- keytier.c */
/* Give the key cache (pfcd->keys, empty) its compact tier.  0 or -errno. */
int pfcd_keytier_init(void);

/* --------------------------------------------------------- filekey.c */
/* The held key of a regular file inode, loading header and key if needed.
 * Caller holds in->io_lock exclusively.  Logs and returns -ENOKEY / -EIO. */
int pfcd_file_load(struct pfc_inode *in, int fd);
/* Write a new header with a fresh key to fd (an empty or new file) and
 * make it the inode's state.  fresh: the file was just created by the
 * daemon, nothing can be past the header.  writing: a create that opens
 * the file for writing; the header already carries generation 1 and that
 * write generation is active (the creating handle joins it, so its first
 * write needs no header update).  Caller holds io_lock exclusively. */
int pfcd_file_init_header(struct pfc_inode *in, int fd, bool fresh, bool writing);
/* Drop the inode's key hold (when the last handle closes / at forget). */
void pfcd_file_unload(struct pfc_inode *in);
/* At an open: unload a loaded inode whose header on disk has another file id
 * (replaced from outside), so that the load that follows reads the new one. */
void pfcd_file_drop_if_replaced(struct pfc_inode *in, int fd);

/* ------------------------------------------------------ generation.c */
struct pfcd_fh;
/* A write through a handle after its FLUSH: it counts as a writer again
 * (io_lock exclusive). */
void pfcd_file_writer_active(struct pfc_inode *in, struct pfcd_fh *fh);
/* A writer handle closed: end the generation when it was the last. */
void pfcd_file_writer_closed(struct pfc_inode *in);

/* ---------------------------------------------------------- fileio.c */
/* Read up to size bytes at off: *data points at *got plaintext bytes in a
 * per-thread buffer, valid until this thread's next file call.  Caller holds
 * io_lock shared (or exclusive). */
int pfcd_file_read(struct pfc_inode *in, int fd, size_t size, off_t off, const char **data,
		   size_t *got);
/* Write (io_lock exclusive).  append: write at the end.  0 or -errno. */
int pfcd_file_write(struct pfc_inode *in, int fd, const char *buf, size_t size, off_t off,
		    bool append);

/* -------------------------------------------------------- filesize.c */
/* Set the plaintext size (io_lock exclusive). */
int pfcd_file_truncate(struct pfc_inode *in, int fd, uint64_t size);
/* fallocate modes 0, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE (io_lock exclusive). */
int pfcd_file_fallocate(struct pfc_inode *in, int fd, int mode, off_t off, off_t len);
/* SEEK_DATA/SEEK_HOLE in plaintext offsets of the backing file fd (io_lock
 * shared).  -ENXIO past the end. */
int pfcd_file_seek(int fd, off_t off, int whence, off_t *out);

/* --------------------------------------------------------- durable.c */
#define PFCD_DURABLE_DELAY_MS 1000 /* a new directory id is fsync'd within this */
#define PFCD_DURABLE_MAX      128  /* ids waiting at most (open descriptors) */
/* Take over the open, written, not yet fsync'd id file of a new directory:
 * it is fsync'd and closed within PFCD_DURABLE_DELAY_MS, or earlier. */
void pfcd_durable_add(int fd);
/* Every id handed over before this call is on disk when it returns: call
 * before answering fsync/fsyncdir. */
void pfcd_durable_sync(void);
void pfcd_durable_start(void); /* after fuse_daemonize (a thread) */
void pfcd_durable_stop(void);  /* syncs what is left */

/* -------------------------------------------------------- symlinks.c */
/*
 * Symlink targets, both stored forms (FORMAT.md 8): inline, or a reference to
 * a companion under PFC_SYMLINKS_DIR at the backing root.  Plain descriptors
 * only; errors are -errno (a target that does not decrypt or whose companion
 * is missing or altered: -EIO, logged with the backing path by readlink).
 */
/* Keep a descriptor of the backing root for companions (before the session). */
int pfcd_symlinks_init(int rootfd);
void pfcd_symlinks_fini(void);
/* Create symlink bname in dirfd with plaintext target (its companion first if
 * the target is long; no companion is left behind on failure). */
int pfcd_symlink_make(int dirfd, const char *bname, const char *target);
/* Plaintext target of the backing symlink fd (O_PATH): out cap >= PFC_SYMLINK_BUF. */
int pfcd_symlink_read(int fd, char *out, size_t cap, size_t *len);
/* Its length (st_size of the plaintext view), without logging. */
int pfcd_symlink_target_len(int fd, size_t *len);
/* Around a removal of a backing entry (unlink, or a rename replacing it):
 * unlinking() before (mode from a stat, or 0 if unknown), unlinked() after,
 * done = whether the entry went; it removes the companion of a long symlink
 * whose last link that was. */
struct pfcd_symlink_gone {
	int fd;	   /* O_PATH of a long symlink being removed, else -1 */
	int dirfd; /* its directory (the caller's, borrowed until unlinked()) */
	char hash[PFC_SYMLINK_HASH_LEN + 1];
};
void pfcd_symlink_unlinking(int dirfd, const char *bname, mode_t mode, struct pfcd_symlink_gone *g);
void pfcd_symlink_unlinked(struct pfcd_symlink_gone *g, bool done);
/* unlinkat(2) with the two above around it: 0 or -errno. */
int pfcd_symlink_unlinkat(int dirfd, const char *bname, mode_t mode, int flags);

/* --------------------------------------------------------- logfile.c */
/*
 * Choose where to log (before the mount): --log-file F, else stderr in the
 * foreground, syslog in the background, or without syslog a file in
 * $XDG_STATE_HOME/pfcrypt/ (said on stderr).  0, or -1 after a message (F
 * cannot be opened).  pfcd_log_attach makes the log file stderr: once
 * mounted (so that earlier refusals reach the terminal) and again after
 * detaching (fuse_daemonize points stderr at /dev/null).
 */
int pfcd_log_setup(const char *log_file, bool foreground, const char *backing_abs);
void pfcd_log_attach(void);

/* ----------------------------------------------------------- rails.c */
/*
 * Mount safety rails, before the volume is set up (d->backing_abs and
 * d->mount_abs resolved; mount_opts: the -o list going to libfuse).  Exits 2
 * with one line naming both paths when the mountpoint is the backing dir or
 * inside it, the backing dir is inside the mountpoint, the mountpoint is
 * already a mount point (not stacked over another mount, autofs excepted)
 * or is not empty (unless nonempty: -o nonempty), or (unless the mount is
 * read-only) the backing dir is mounted read-write already, here or by
 * another machine sharing it.  Otherwise returns holding the locks that say
 * so, until the process exits.
 */
void pfcd_rails(const struct pfcd *d, const char *mount_opts, bool nonempty);

/* -------------------------------------------------------- fdbudget.c */
/* Idle inode descriptors kept at most under the current limit. */
size_t pfcd_fd_cap(void);
/* err (an errno) is EMFILE/ENFILE: close idle inode descriptors and say
 * whether the caller should try again (false: nothing left to close, one
 * log line names the limit; errno is err).  false for any other err. */
bool pfcd_fd_short(int err);
/* openat that meets EMFILE/ENFILE with pfcd_fd_short and tries again. */
int pfcd_openat(int dirfd, const char *name, int flags, mode_t mode);
/* The inode's O_PATH descriptor, held until pfcd_inode_put (inode.h).  fd
 * or -errno. */
int pfcd_inode_fd(struct pfc_inode *in);
void pfcd_inode_put(struct pfc_inode *in);
/* A new descriptor of the inode's object, opened with flags through
 * /proc/self/fd (the caller closes it).  fd or -errno. */
int pfcd_inode_open(struct pfc_inode *in, int flags);

/* ------------------------------------------------------------ ops_*.c */
void pfcd_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void pfcd_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void pfcd_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f);
void pfcd_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pfcd_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		     struct fuse_file_info *fi);
void pfcd_op_readlink(fuse_req_t req, fuse_ino_t ino);
void pfcd_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void pfcd_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void pfcd_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void pfcd_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void pfcd_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void pfcd_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void pfcd_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		    const char *newname, unsigned int flags);
void pfcd_op_statfs(fuse_req_t req, fuse_ino_t ino);

void pfcd_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pfcd_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		    struct fuse_file_info *fi);
void pfcd_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi);
void pfcd_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi);
void pfcd_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pfcd_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pfcd_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void pfcd_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		       struct fuse_file_info *fi);
void pfcd_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		   struct fuse_file_info *fi);
/* ops_file.c helper for setattr: truncate through a handle or by path. */
int pfcd_truncate(struct pfc_inode *in, struct fuse_file_info *fi, off_t size);

void pfcd_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pfcd_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void pfcd_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi);
void pfcd_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pfcd_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

void pfcd_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		      size_t size, int flags);
void pfcd_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void pfcd_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void pfcd_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* A file handle (fi->fh). */
struct pfcd_fh {
	int fd;			     /* backing fd, O_RDWR or O_RDONLY, never O_APPEND */
	bool writer;		     /* opened for writing: counted in f.writers while !flushed */
	bool append;		     /* O_APPEND: every write goes to the end */
	bool direct;		     /* FOPEN_DIRECT_IO: writes bypass the page cache */
	bool flushed;		     /* close() seen (FLUSH); protected by the inode's io_lock */
	struct pfcd_fh *prev, *next; /* all open handles; protected by fh_lock */
};

/* ops_file.c: the open handles, so that an unmount with files still open
 * (SIGTERM) closes and frees them. */
void pfcd_fh_close_all(void);

#endif
