// SPDX-License-Identifier: MIT
/*
 * pfc_mkfiles.c - test helper for the CLI integration tests: writes files,
 * directories and symlinks into a volume's backing directory with the format
 * library and the real keystore, without a FUSE mount (so the CLI tests do
 * not depend on pfcryptfs, and can make volumes with many files quickly).
 *
 *   pfc_mkfiles BACKING < manifest          (socket from PFCRYPT_SOCKET)
 * manifest lines (plaintext paths, '/'-separated, parents created as needed):
 *   d PATH            a directory
 *   f PATH SRCFILE    a file whose plaintext is SRCFILE's content
 *   x PATH HEX        a file whose plaintext is given in hex (small files)
 *   l PATH TARGET     a symlink
 * Files are written as a daemon would after one write generation:
 * header with generation 1, every block under generation 1.
 * Exit 0 ok, 2 on any error (one line on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/format.h"
#include "keystore/client.h"
#include "tools/cli.h"
#include "tools/vol.h"

static struct cli_vol vol;
static struct pfc_volkeys *vk;
static struct pfc_ks *ks;

/* File keys fetched PFC_KS_GEN_MAX at a time, as the daemon does (one round trip per batch). */
static struct pfc_ks_filekey *pool;
static unsigned pool_left;

static int next_file_key(struct pfc_ks_filekey *out)
{
	uint8_t prefix[PFC_AD_MAX];
	int r;

	if (!pool && !(pool = sodium_malloc(PFC_KS_GEN_MAX * sizeof(*pool))))
		return PFC_ERR_NOMEM;
	if (!pool_left) {
		r = pfc_ks_generate_file_keys(ks, vol.cfg.key_name, prefix,
					      pfc_ad_file_key_prefix(vol.cfg.volume_id, prefix),
					      PFC_KS_GEN_MAX, pool);
		if (r < 0)
			return r;
		pool_left = PFC_KS_GEN_MAX;
	}
	pool_left--;
	*out = pool[pool_left];
	sodium_memzero(&pool[pool_left], sizeof(*pool));
	return 0;
}

static int fail(const char *what, const char *cause)
{
	fprintf(stderr, "pfc_mkfiles: %s: %s\n", what, cause);
	return -1;
}

/* Primary directory ids by directory inode: reading them scans the directory. */
#define DIRID_CACHE 64
static struct {
	dev_t dev;
	ino_t ino;
	uint8_t id[PFC_ID_BYTES];
} dcache[DIRID_CACHE];
static unsigned dcache_n;

static int primary_dirid(int dirfd, uint8_t id[PFC_ID_BYTES])
{
	uint8_t ids[PFC_DIRIDS_MAX][PFC_ID_BYTES];
	size_t n, primary;
	struct stat st;

	if (fstat(dirfd, &st) < 0)
		return -1;
	for (unsigned i = 0; i < dcache_n; i++)
		if (dcache[i].dev == st.st_dev && dcache[i].ino == st.st_ino) {
			memcpy(id, dcache[i].id, PFC_ID_BYTES);
			return 0;
		}
	if (pfc_dirid_load_all(dirfd, ids, PFC_DIRIDS_MAX, &n, &primary) < 0)
		return -1;
	memcpy(id, ids[primary], PFC_ID_BYTES);
	if (dcache_n < DIRID_CACHE) {
		dcache[dcache_n].dev = st.st_dev;
		dcache[dcache_n].ino = st.st_ino;
		memcpy(dcache[dcache_n++].id, id, PFC_ID_BYTES);
	}
	return 0;
}

/* Backing form of name in directory dirfd (its primary dir id). */
static int backing_name(int dirfd, const char *name, struct pfc_backing_name *bn)
{
	uint8_t id[PFC_ID_BYTES];
	int r;

	if (primary_dirid(dirfd, id) < 0)
		return fail(name, "directory id unreadable");
	r = pfc_name_to_backing(vk, id, name, strlen(name), bn);
	return r < 0 ? fail(name, pfc_strerror(r)) : 0;
}

static int write_companion(int dirfd, const struct pfc_backing_name *bn)
{
	int fd;

	if (!bn->is_long)
		return 0;
	fd = openat(dirfd, bn->companion, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, bn->enc, bn->enc_len) != (ssize_t)bn->enc_len)
		return fail(bn->companion, strerror(errno));
	close(fd);
	return 0;
}

/* Open (creating if needed) the directory of path's parent, *leaf = last
 * component; with all, every component is a directory and *leaf = NULL. */
static int open_parent(char *path, char **leaf, bool all)
{
	int fd = dup(vol.fd);
	char *save = NULL, *comp, *next;

	comp = strtok_r(path, "/", &save);
	while (comp && ((next = strtok_r(NULL, "/", &save)) || all)) {
		struct pfc_backing_name bn;
		uint8_t id[PFC_ID_BYTES];
		int child;

		if (backing_name(fd, comp, &bn) < 0)
			return -1;
		child = openat(fd, bn.name, O_RDONLY | O_DIRECTORY);
		if (child < 0) {
			if (mkdirat(fd, bn.name, 0755) < 0 || write_companion(fd, &bn) < 0)
				return fail(comp, "cannot create directory");
			child = openat(fd, bn.name, O_RDONLY | O_DIRECTORY);
			if (child < 0 || pfc_dirid_create(child, id, NULL) < 0)
				return fail(comp, "cannot create directory id");
		}
		close(fd);
		fd = child;
		comp = next;
	}
	*leaf = comp;
	return fd;
}

/* src: a file name, or (hex) the content in hex. */
static int make_file(int dirfd, const char *leaf, const char *src, bool hex)
{
	struct pfc_backing_name bn;
	struct pfc_ks_filekey *k = sodium_malloc(sizeof(*k));
	struct pfc_filekey *fk = NULL;
	struct pfc_header h;
	uint8_t hdr[PFC_HEADER_SIZE], *pt = NULL, *st = NULL;
	size_t plen = 0, slen = 0;
	int fd = -1, r, ret = -1;

	if (!k || backing_name(dirfd, leaf, &bn) < 0)
		goto out;
	if (hex) {
		pt = malloc(strlen(src) / 2 + 1);
		if (!pt || sodium_hex2bin(pt, strlen(src) / 2 + 1, src, strlen(src), NULL, &plen,
					  NULL) != 0) {
			fail(leaf, "bad hex content");
			goto out;
		}
	} else if ((r = cli_read_file(src, 1u << 28, &pt, &plen)) < 0) {
		fail(src, strerror(-r));
		goto out;
	}
	r = next_file_key(k);
	if (r < 0) {
		fail("generate file key", pfc_strerror(r));
		goto out;
	}
	st = malloc(pfc_layout_stored_len(&vol.layout, plen) + 1);
	if (!st || (r = pfc_filekey_new(k->key, k->file_id, &vol.layout, &fk)) < 0 ||
	    (r = pfc_header_init(&h, k->file_id, k->blob, k->blob_len)) < 0) {
		fail(leaf, "file key");
		goto out;
	}
	h.generation = 1;
	if ((r = pfc_header_encode(&h, fk, hdr)) < 0 ||
	    (plen &&
	     (r = pfc_blocks_encrypt(fk, 1, 0, pt, plen, st,
				     pfc_layout_stored_len(&vol.layout, plen), &slen)) < 0)) {
		fail(leaf, pfc_strerror(r));
		goto out;
	}
	fd = openat(dirfd, bn.name, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
	    (slen && write(fd, st, slen) != (ssize_t)slen) || write_companion(dirfd, &bn) < 0) {
		fail(leaf, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	pfc_filekey_free(fk);
	if (k)
		sodium_free(k);
	free(pt);
	free(st);
	return ret;
}

static int make_symlink(int dirfd, const char *leaf, const char *target)
{
	static struct pfc_symlink_stored s;
	struct pfc_backing_name bn;
	int r;

	if (backing_name(dirfd, leaf, &bn) < 0)
		return -1;
	/* either form (FORMAT.md 8): a target over 720 bytes gets its companion */
	r = pfc_symlink_to_backing(vk, target, strlen(target), &s);
	if (r == 0 && s.is_long)
		r = pfc_symlink_companion_write(vol.fd, &s);
	if (r < 0)
		return fail(leaf, r == PFC_ERR_IO ? strerror(errno) : pfc_strerror(r));
	if (symlinkat(s.link, dirfd, bn.name) < 0)
		return fail(leaf, strerror(errno));
	return write_companion(dirfd, &bn);
}

int main(int argc, char **argv)
{
	char line[8192];

	if (argc != 2 || sodium_init() < 0) {
		fprintf(stderr, "usage: pfc_mkfiles BACKING < manifest\n");
		return 2;
	}
	cli_g.socket = getenv("PFCRYPT_SOCKET");
	if (cli_vol_open(argv[1], &vol) || cli_ks_open(&ks) || cli_vol_keys(&vol, ks, &vk))
		return 2;
	while (fgets(line, sizeof(line), stdin)) {
		char *save = NULL, *kind, *path, *arg, *leaf;
		int dirfd, r = 0;

		line[strcspn(line, "\n")] = '\0';
		kind = strtok_r(line, " ", &save);
		path = strtok_r(NULL, " ", &save);
		arg = strtok_r(NULL, "", &save);
		if (!kind || !path)
			continue;
		dirfd = open_parent(path, &leaf, !strcmp(kind, "d"));
		if (dirfd < 0)
			return 2;
		if (!strcmp(kind, "d")) {
			r = 0;
		} else if (!strcmp(kind, "f") && arg) {
			r = make_file(dirfd, leaf, arg, false);
		} else if (!strcmp(kind, "x")) {
			r = make_file(dirfd, leaf, arg ? arg : "", true);
		} else if (!strcmp(kind, "l") && arg) {
			r = make_symlink(dirfd, leaf, arg);
		} else {
			r = fail(kind, "bad manifest line");
		}
		if (dirfd >= 0)
			close(dirfd);
		if (r < 0)
			return 2;
	}
	if (pool)
		sodium_free(pool);
	pfc_volkeys_free(vk);
	pfc_ks_close(ks);
	cli_vol_close(&vol);
	return 0;
}
