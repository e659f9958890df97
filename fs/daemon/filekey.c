/* SPDX-License-Identifier: MIT */
/*
 * filekey.c - a regular file's loaded state: its header and file key, read
 * at the first open (the key from the key cache, else unwrapped by the
 * keystore: get_key), a new header with a fresh key at create or for an
 * empty file's first modification, dropped at the last close; and its
 * internal O_NOATIME descriptor for the daemon's own reads.
 *
 * Every function here that changes in->f runs with the inode's io_lock
 * held exclusively.  A new header made for writing carries generation 1
 * (FORMAT.md 3); every later generation is begun by generation.c.
 */
#include "fs/daemon/content.h"

#include "fs/err.h"
#include "fs/log.h"
#include "keystore/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

static void close_ifd(struct pfc_inode *in)
{
	if (in->f.has_ifd && in->f.ifd >= 0)
		close(in->f.ifd);
	in->f.has_ifd = false;
}

/*
 * The daemon's own reads (header, partial blocks merged by a write) must not
 * change the backing atime: on a plain file only the user's reads do.  So a
 * loaded file gets an internal O_NOATIME descriptor when first needed (most
 * new files never need it); if it cannot be had (not root and not the
 * owner), the caller's fd is used, and the failure is remembered (ifd -1)
 * rather than retried on every read.  Caller holds io_lock exclusively.
 */
int pfcd_file_ifd(struct pfc_inode *in, int fd)
{
	if (!in->f.has_ifd) {
		char p[64];

		/* the caller's descriptor is of the same file: reopen it */
		pfcd_proc_path(fd, p);
		in->f.ifd = pfcd_openat(AT_FDCWD, p, O_RDWR | O_NOATIME | O_CLOEXEC, 0);
		in->f.has_ifd = true;
	}
	return in->f.ifd >= 0 ? in->f.ifd : fd;
}

void pfcd_file_log(struct pfc_inode *in, const char *what, int err)
{
	char path[PATH_MAX], plain[PATH_MAX + 16];

	pfcd_log_path(in, path, sizeof(path), plain, sizeof(plain));
	pfc_err_log("%s: %s: %s%s", path, what, pfc_strerror(err), plain);
}

/* --verbose: one line per file-key event, naming the backing file (never the key). */
static void log_debug(struct pfc_inode *in, const char *what)
{
	char path[PATH_MAX];

	if (!pfc_log_enabled(PFC_LOG_DEBUG))
		return;
	pfcd_backing_path(in, path, sizeof(path));
	pfc_debug("%s: %s", path, what);
}

/* The line for a file key the keystore did not unwrap: its cause (locked, unreachable,
 * retired, unknown) and the master-key version the header names, for the log and -f. */
static void log_unwrap_failure(struct pfc_inode *in, const struct pfc_header *h, int rc)
{
	char name[PFC_KS_NAME_MAX + 1], what[PFC_KS_NAME_MAX + 64];
	uint32_t ver;

	if (pfc_blob_parse_name_version(h->wrapped, h->wrapped_len, name, &ver) == 0)
		snprintf(what, sizeof(what), "cannot unwrap the file key (master key %s v%u)", name,
			 (unsigned)ver);
	else
		snprintf(what, sizeof(what), "cannot unwrap the file key");
	pfcd_file_log(in, what, rc);
}

/* Get the file key of a parsed header: key cache, else the keystore. */
static int get_key(struct pfc_inode *in, const struct pfc_header *h, struct pfc_kentry **out)
{
	struct pfcd *d = pfcd_g;
	struct pfc_filekey *fk = NULL;
	enum pfc_key_step step;
	struct pfc_kentry *e;
	uint8_t *key;
	int rc;

	e = pfc_kcache_get(d->keys, h->file_id);
	if (e) {
		log_debug(in, "file key from the key cache");
		*out = e;
		return 0;
	}
	key = pfcd_keybuf(); /* locked, this thread's own; wiped by the library */
	if (!key)
		return -ENOMEM;
	rc = pfc_volume_file_key(d->cfg.volume_id, &d->layout, h, &d->uw, key, &fk, &step);
	if (rc < 0 && step == PFC_STEP_UNWRAP) {
		if (rc == PFC_ERR_LOCKED)
			pfcd_keystore_locked();
		log_unwrap_failure(in, h, rc);
		rc = pfcd_errno(rc);
		/* A blob refused as malformed (a damaged name in the header) is a
		 * bad header: EIO as for any other (ARCHITECTURE.md 6), not EINVAL. */
		return rc == -EINVAL ? -EIO : rc;
	}
	if (rc < 0) {
		pfcd_file_log(in, "file key", rc);
		return pfcd_errno(rc);
	}
	e = pfc_kcache_insert(d->keys, h->file_id, fk);
	if (!e)
		return -ENOMEM;
	log_debug(in, "file key unwrapped by the keystore");
	*out = e;
	return 0;
}

int pfcd_file_load(struct pfc_inode *in, int fd)
{
	uint8_t hb[PFC_HEADER_SIZE];
	struct pfc_header h;
	struct pfc_kentry *e = NULL;
	size_t got;
	int rc;

	if (in->f.loaded)
		return 0;
	rc = pfcd_pread_full(pfcd_file_ifd(in, fd), hb, sizeof(hb), 0, &got);
	if (rc < 0)
		goto fail;
	if (got == 0) {
		/* empty file: the header comes with the first write */
		close_ifd(in);
		return 0;
	}
	if (got < PFC_HEADER_SIZE) {
		/* a header cut short (a sync in progress, a crash of a copier): a
		 * clear per-file error, as pfcrypt check reports it */
		pfcd_file_log(in, "header", PFC_ERR_TRUNCATED);
		rc = -EIO;
		goto fail;
	}
	rc = pfc_header_parse(hb, got, &h);
	if (rc < 0) {
		pfcd_file_log(in, "header", rc);
		rc = -EIO;
		goto fail;
	}
	rc = get_key(in, &h, &e);
	if (rc < 0)
		goto fail;
	rc = pfc_header_verify_generation(&h, pfc_kentry_value(e));
	if (rc < 0) {
		pfcd_file_log(in, "header generation", rc);
		pfc_kcache_release(pfcd_g->keys, e);
		rc = -EIO;
		goto fail;
	}
	memcpy(in->f.file_id, h.file_id, PFC_ID_BYTES);
	in->f.generation = h.generation;
	in->f.key = e;
	in->f.loaded = true;
	return 0;
fail:
	close_ifd(in);
	return rc;
}

int pfcd_file_init_header(struct pfc_inode *in, int fd, bool fresh, bool writing)
{
	struct pfcd *d = pfcd_g;
	struct pfc_ks_filekey *nk;
	struct pfc_filekey *fk = NULL;
	struct pfc_kentry *e;
	struct pfc_header h;
	uint8_t hb[PFC_HEADER_SIZE];
	int rc;

	nk = pfcd_keybuf(); /* locked, this thread's own; wiped below */
	if (!nk)
		return -ENOMEM;
	rc = pfcd_keypool_take(nk);
	if (rc < 0) {
		if (rc == PFC_ERR_LOCKED)
			pfcd_keystore_locked();
		pfcd_file_log(in, "cannot get a new file key", rc);
		rc = pfcd_errno(rc);
		goto out;
	}
	rc = pfc_filekey_new(nk->key, nk->file_id, &d->layout, &fk);
	if (rc == 0)
		rc = pfc_header_init(&h, nk->file_id, nk->blob, nk->blob_len);
	if (rc == 0)
		rc = pfc_header_encode(&h, fk, hb);
	if (rc == 0 && writing) /* FORMAT.md 3: a create for writing starts generation 1 */
		rc = pfc_header_generation_field(fk, 1, hb + PFC_HEADER_GEN_OFFSET);
	if (rc < 0) {
		pfcd_file_log(in, "new header", rc);
		pfc_filekey_free(fk);
		rc = pfcd_errno(rc);
		goto out;
	}
	rc = pfcd_pwrite_full(fd, hb, sizeof(hb), 0);
	if (rc == 0 && !fresh && ftruncate(fd, PFC_HEADER_SIZE) < 0)
		rc = -errno;
	if (rc < 0) {
		pfc_filekey_free(fk);
		goto out;
	}
	e = pfc_kcache_insert(d->keys, nk->file_id, fk);
	if (!e) {
		rc = -ENOMEM;
		goto out;
	}
	if (in->f.key)
		pfc_kcache_release(d->keys, in->f.key);
	memcpy(in->f.file_id, nk->file_id, PFC_ID_BYTES);
	in->f.generation = writing ? 1 : 0;
	in->f.gen_active = writing;
	in->f.key = e;
	in->f.loaded = true;
out:
	sodium_memzero(nk, sizeof(*nk));
	return rc;
}

/*
 * A file already loaded (another handle is open) whose header was replaced
 * from outside since (a sync client writing in place, a truncation to 0 on
 * another machine: FORMAT.md 3) must not be read with the old file key.  So
 * a new open compares the file id on disk with the loaded one (one pread,
 * only when another handle is open) and drops the loaded state if they
 * differ; the load that follows reads the new header.  Handles already open
 * then read the new contents, as on a local file replaced under them.
 */
void pfcd_file_drop_if_replaced(struct pfc_inode *in, int fd)
{
	uint8_t id[PFC_ID_BYTES];
	size_t got = 0;

	if (!in->f.loaded)
		return;
	if (pfcd_pread_full(pfcd_file_ifd(in, fd), id, sizeof(id), PFC_HEADER_FILE_ID_OFFSET,
			    &got) == 0 &&
	    got == sizeof(id) && sodium_memcmp(id, in->f.file_id, sizeof(id)) == 0)
		return;
	pfcd_file_unload(in);
}

void pfcd_file_unload(struct pfc_inode *in)
{
	if (in->f.key)
		pfc_kcache_release(pfcd_g->keys, in->f.key);
	in->f.key = NULL;
	in->f.loaded = false;
	in->f.gen_active = false;
	close_ifd(in);
}

/* Loaded state for a modification: the header exists and the key is held. */
int pfcd_file_ensure_header(struct pfc_inode *in, int fd)
{
	uint64_t size = 0, backing = 0;
	int rc;

	if (in->f.loaded)
		return 0;
	rc = pfcd_file_load(in, fd);
	if (rc < 0 || in->f.loaded)
		return rc;
	rc = pfcd_file_size(fd, &size, &backing);
	if (rc < 0)
		return rc;
	return pfcd_file_init_header(in, fd, false, false);
}
