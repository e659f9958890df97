// SPDX-License-Identifier: MIT
/*
 * test_format_vectors.c - the format cannot drift silently:
 *  1. regenerating the vectors and sample volumes gives exactly the committed
 *     bytes (tests/vectors, PFC_VECTOR_DIR);
 *  2. the committed sample volumes read back, through the library, as the
 *     committed plaintext tree.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/err.h"
#include "fs/format.h"
#include "testwrap.h"
#include "vecgen.h"

static const char *vector_dir(void)
{
	const char *d = getenv("PFC_VECTOR_DIR");

	cr_assert_not_null(d, "PFC_VECTOR_DIR not set");
	return d;
}

static uint8_t *slurp(int dfd, const char *name, size_t *len)
{
	struct stat st;
	int fd = openat(dfd, name, O_RDONLY);
	uint8_t *p;

	cr_assert_geq(fd, 0, "open %s", name);
	cr_assert_eq(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	cr_assert_eq(pread(fd, p, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

/* a and b (directory fds) hold the same tree: names, types, bytes, targets. */
static void same_tree(int a, int b, const char *where)
{
	DIR *d = fdopendir(dup(a));
	struct dirent *de;
	size_t na = 0, nb = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d))) {
		struct stat sa, sb;
		char path[4096];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		na++;
		snprintf(path, sizeof(path), "%s/%s", where, de->d_name);
		cr_assert_eq(fstatat(a, de->d_name, &sa, AT_SYMLINK_NOFOLLOW), 0);
		cr_assert_eq(fstatat(b, de->d_name, &sb, AT_SYMLINK_NOFOLLOW), 0,
			     "%s missing from the committed vectors", path);
		cr_assert_eq(sa.st_mode & S_IFMT, sb.st_mode & S_IFMT, "%s type", path);
		if (S_ISDIR(sa.st_mode)) {
			int ca = openat(a, de->d_name, O_RDONLY | O_DIRECTORY);
			int cb = openat(b, de->d_name, O_RDONLY | O_DIRECTORY);

			same_tree(ca, cb, path);
			close(ca);
			close(cb);
		} else if (S_ISLNK(sa.st_mode)) {
			char ta[4096], tb[4096];
			ssize_t la = readlinkat(a, de->d_name, ta, sizeof(ta));
			ssize_t lb = readlinkat(b, de->d_name, tb, sizeof(tb));

			cr_assert(la == lb && la > 0 && memcmp(ta, tb, (size_t)la) == 0,
				  "%s target differs", path);
		} else {
			size_t la, lb;
			uint8_t *pa = slurp(a, de->d_name, &la), *pb = slurp(b, de->d_name, &lb);

			cr_assert(la == lb && memcmp(pa, pb, la) == 0,
				  "%s differs from the committed bytes: the format drifted "
				  "(or regenerate the vectors on purpose, see README.md)",
				  path);
			free(pa);
			free(pb);
		}
	}
	closedir(d);
	d = fdopendir(dup(b));
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			nb++;
	closedir(d);
	cr_assert_eq(na, nb, "%s: the committed tree has extra entries", where);
}

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *w)
{
	(void)s;
	(void)f;
	(void)w;
	return remove(p);
}

Test(vectors, regenerated_vectors_match_committed_bytes)
{
	char tmp[] = "/tmp/pfc-format-vectors-XXXXXX";
	const char *items[] = {VECGEN_JSON, VECGEN_SAMPLE_AES, VECGEN_SAMPLE_XCHA,
			       VECGEN_SAMPLE_PLAIN};
	int a, b;

	cr_assert_not_null(mkdtemp(tmp));
	cr_assert_eq(vecgen_write_all(tmp), 0);
	a = open(tmp, O_RDONLY | O_DIRECTORY);
	b = open(vector_dir(), O_RDONLY | O_DIRECTORY);
	for (size_t i = 0; i < 4; i++) {
		struct stat st;

		cr_assert_eq(fstatat(b, items[i], &st, AT_SYMLINK_NOFOLLOW), 0, "%s not committed",
			     items[i]);
		if (S_ISDIR(st.st_mode)) {
			int ca = openat(a, items[i], O_RDONLY | O_DIRECTORY);
			int cb = openat(b, items[i], O_RDONLY | O_DIRECTORY);

			same_tree(ca, cb, items[i]);
			close(ca);
			close(cb);
		} else {
			size_t la, lb;
			uint8_t *pa = slurp(a, items[i], &la), *pb = slurp(b, items[i], &lb);

			cr_assert(la == lb && memcmp(pa, pb, la) == 0, "%s drifted", items[i]);
			free(pa);
			free(pb);
		}
	}
	close(a);
	close(b);
	nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- reading a sample volume with the library (what the daemon does) ---- */

struct reader {
	struct pfc_config cfg;
	struct pfc_layout layout;
	struct pfc_volkeys *vk;
	size_t files, dirs, links;
	int root; /* the volume's backing root (symlink companions) */
};

static void read_file(struct reader *r, int dfd, const char *backing, int pfd, const char *plain)
{
	size_t blen, plen, out_len;
	uint8_t *b = slurp(dfd, backing, &blen), *p = slurp(pfd, plain, &plen);
	uint8_t ad[PFC_AD_MAX], fk[32];
	struct pfc_header h;
	struct pfc_filekey *k;
	uint64_t bad = 0;

	cr_assert_eq(pfc_layout_plain_size(&r->layout, blen), plen, "%s: size from stat", plain);
	cr_assert_eq(pfc_header_parse(b, blen, &h), 0);
	cr_assert_eq(testwrap_unwrap(h.wrapped, h.wrapped_len, ad,
				     pfc_ad_file_key(r->cfg.volume_id, h.file_id, ad), fk),
		     0);
	cr_assert_eq(pfc_filekey_new(fk, h.file_id, &r->layout, &k), 0);
	cr_assert_eq(pfc_header_verify_generation(&h, k), 0);
	uint8_t *out = malloc(plen + 1);
	cr_assert_eq(pfc_blocks_decrypt(k, 0, b + PFC_HEADER_SIZE, blen - PFC_HEADER_SIZE, out,
					plen, &out_len, &bad),
		     0, "%s: block %llu", plain, (unsigned long long)bad);
	cr_assert_eq(out_len, plen);
	cr_assert_eq(memcmp(out, p, plen), 0, "%s content", plain);
	pfc_filekey_free(k);
	free(out);
	free(b);
	free(p);
	r->files++;
}

static void read_dir(struct reader *r, int dfd, int pfd)
{
	uint8_t ids[PFC_DIRIDS_MAX][16];
	size_t nids, primary, nplain = 0, nseen = 0;
	struct dirent *de;
	DIR *d;

	cr_assert_eq(pfc_dirid_load_all(dfd, ids, PFC_DIRIDS_MAX, &nids, &primary), 0);
	d = fdopendir(dup(dfd));
	while ((de = readdir(d))) {
		char enc[PFC_ENCNAME_BUF], name[PFC_NAME_BUF];
		size_t elen, nlen, m;
		struct stat st;
		enum pfc_entry_kind kind = pfc_entry_classify(de->d_name, strlen(de->d_name));

		if (kind == PFC_ENTRY_DOT || kind == PFC_ENTRY_DIRID || kind == PFC_ENTRY_CONFIG ||
		    kind == PFC_ENTRY_LONGNAME_COMPANION || kind == PFC_ENTRY_SYMLINKS_DIR)
			continue;
		cr_assert(kind == PFC_ENTRY_ENCNAME || kind == PFC_ENTRY_LONGNAME, "%s",
			  de->d_name);
		if (kind == PFC_ENTRY_LONGNAME) {
			char comp[PFC_LONGNAME_COMPANION_LEN + 1];
			size_t clen;
			uint8_t *c;

			cr_assert_eq(pfc_longname_companion(de->d_name, strlen(de->d_name), comp),
				     0);
			c = slurp(dfd, comp, &clen);
			cr_assert_eq(pfc_longname_companion_parse(de->d_name, strlen(de->d_name), c,
								  clen, enc, sizeof(enc), &elen),
				     0);
			free(c);
		} else {
			elen = strlen(de->d_name);
			memcpy(enc, de->d_name, elen + 1);
		}
		cr_assert_eq(
		    pfc_name_decrypt(r->vk, ids, nids, enc, elen, name, sizeof(name), &nlen, &m), 0,
		    "name %s", de->d_name);
		nseen++;
		cr_assert_eq(fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW), 0);
		if (S_ISDIR(st.st_mode)) {
			int cd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY);
			int cp = openat(pfd, name, O_RDONLY | O_DIRECTORY);

			cr_assert_geq(cp, 0, "plain dir %s", name);
			read_dir(r, cd, cp);
			close(cd);
			close(cp);
			r->dirs++;
		} else if (S_ISLNK(st.st_mode)) {
			char t[PFC_SYMLINK_ENC_BUF], pt[4096], dec[PFC_SYMLINK_BUF];
			ssize_t tl = readlinkat(dfd, de->d_name, t, sizeof(t));
			ssize_t pl = readlinkat(pfd, name, pt, sizeof(pt));
			size_t dl;

			cr_assert_gt(tl, 0);
			cr_assert_eq(
			    pfc_symlink_read(r->vk, r->root, t, (size_t)tl, dec, sizeof(dec), &dl),
			    0, "link %s", name);
			cr_assert(pl == (ssize_t)dl && memcmp(pt, dec, dl) == 0, "link %s", name);
			r->links++;
		} else {
			read_file(r, dfd, de->d_name, pfd, name);
		}
	}
	closedir(d);
	d = fdopendir(dup(pfd));
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			nplain++;
	closedir(d);
	cr_assert_eq(nseen, nplain, "every plaintext entry has its encrypted twin");
}

static void read_volume(const char *name, enum pfc_cipher want)
{
	int root = open(vector_dir(), O_RDONLY | O_DIRECTORY);
	int vfd = openat(root, name, O_RDONLY | O_DIRECTORY);
	int pfd = openat(root, VECGEN_SAMPLE_PLAIN, O_RDONLY | O_DIRECTORY);
	struct reader r = {0};
	uint8_t ad[PFC_AD_MAX], nk[32];

	cr_assert_eq(pfc_format_init(), 0);
	cr_assert_geq(vfd, 0);
	cr_assert_eq(pfc_config_load(vfd, &r.cfg), 0, "%s", pfc_config_last_error());
	cr_assert_eq(r.cfg.cipher, want);
	cr_assert_eq(testwrap_unwrap(r.cfg.wrapped_name_key, r.cfg.wrapped_name_key_len, ad,
				     pfc_ad_name_key(r.cfg.volume_id, ad), nk),
		     0);
	cr_assert_eq(pfc_volkeys_new(nk, r.cfg.volume_id, &r.vk), 0);
	cr_assert_eq(pfc_config_verify(&r.cfg, r.vk), 0);
	cr_assert_eq(pfc_config_layout(&r.cfg, &r.layout), 0);
	r.root = vfd;
	read_dir(&r, vfd, pfd);
	cr_assert_eq(r.files, 4);
	cr_assert_eq(r.dirs, 1);
	cr_assert_eq(r.links, 2); /* docs/link inline, docs/longlink with a companion */
	pfc_volkeys_free(r.vk);
	close(vfd);
	close(pfd);
	close(root);
}

Test(vectors, sample_volume_aes256gcm_reads_as_the_plain_tree)
{
	read_volume(VECGEN_SAMPLE_AES, PFC_CIPHER_AES256GCM);
}

Test(vectors, sample_volume_xchacha20poly1305_reads_as_the_plain_tree)
{
	read_volume(VECGEN_SAMPLE_XCHA, PFC_CIPHER_XCHACHA20POLY1305);
}
