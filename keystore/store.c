// SPDX-License-Identifier: MIT
/* store.c - the keystore file: load, atomic save, create. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/store.h"

int pfc_read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *p = NULL;
	size_t got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? PFC_ERR_NOT_FOUND : PFC_ERR_IO;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = PFC_ERR_IO;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = PFC_ERR_TOO_LARGE;
		goto out;
	}
	p = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!p) {
		rc = PFC_ERR_NOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? PFC_ERR_IO : PFC_ERR_TRUNCATED;
			goto out;
		}
		got += (size_t)n;
	}
	*buf = p;
	*len = got;
	p = NULL;
out:
	free(p);
	close(fd);
	return rc;
}

static int fsync_dir_of(const char *path)
{
	char tmp[PATH_MAX];
	int fd, rc = 0;

	if (strlen(path) >= sizeof(tmp))
		return PFC_ERR_INVAL;
	strcpy(tmp, path);
	fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return PFC_ERR_IO;
	if (fsync(fd) < 0)
		rc = PFC_ERR_IO;
	close(fd);
	return rc;
}

int pfc_atomic_write(const char *path, const uint8_t *p, size_t len, int exclusive)
{
	char tmp[PATH_MAX];
	size_t off = 0;
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return PFC_ERR_INVAL;
	fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0)
		return errno == ENOENT ? PFC_ERR_NOT_FOUND : PFC_ERR_IO;
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = PFC_ERR_IO;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0) {
		rc = PFC_ERR_IO;
		goto fail;
	}
	close(fd);
	fd = -1;
	if (exclusive) {
		/* link() never replaces an existing file */
		if (link(tmp, path) < 0) {
			rc = errno == EEXIST ? PFC_ERR_EXISTS : PFC_ERR_IO;
			goto fail;
		}
		unlink(tmp);
	} else if (rename(tmp, path) < 0) {
		rc = PFC_ERR_IO;
		goto fail;
	}
	return fsync_dir_of(path);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

/* The keyring out of an opened store's plaintext (a bad one is CORRUPT). */
static int parse_plain(struct pfc_wbuf *pt, struct pfc_keyring *kr)
{
	int rc = pfc_keyring_parse(pfc_wbuf_data(pt), pfc_wbuf_len(pt), kr);

	if (rc == PFC_ERR_TRUNCATED || rc == PFC_ERR_NAME_INVALID || rc == PFC_ERR_NAME_TOO_LONG ||
	    rc == PFC_ERR_TOO_LARGE)
		rc = PFC_ERR_CORRUPT;
	return rc;
}

int pfc_store_load(const char *path, const uint8_t *pass, size_t pass_len, struct pfc_keyring *kr,
		   struct pfc_skey **sk)
{
	struct pfc_wbuf pt = {0};
	struct pfc_skey *k = NULL;
	struct pfc_keyring r;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = pfc_read_file(path, PFC_STORE_FILE_MAX, &buf, &len)) < 0)
		return rc;
	if ((rc = pfc_unseal_pass(PFC_SEAL_MAGIC_STORE, pass, pass_len, buf, len, &pt, &k)) < 0)
		goto out;
	if ((rc = parse_plain(&pt, &r)) < 0)
		goto out;
	*kr = r;
	*sk = k;
	k = NULL;
out:
	pfc_wbuf_free(&pt);
	pfc_skey_free(k);
	free(buf);
	return rc;
}

int pfc_store_kdf(const char *path, struct pfc_kdf *kdf)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = pfc_read_file(path, PFC_STORE_FILE_MAX, &buf, &len);

	if (rc == 0)
		rc = pfc_seal_header(PFC_SEAL_MAGIC_STORE, buf, len, kdf);
	free(buf);
	return rc;
}

int pfc_store_load_key(const char *path, const struct pfc_skey *sk, struct pfc_keyring *kr)
{
	struct pfc_wbuf pt = {0};
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = pfc_read_file(path, PFC_STORE_FILE_MAX, &buf, &len)) < 0)
		return rc;
	if ((rc = pfc_unseal(PFC_SEAL_MAGIC_STORE, sk, buf, len, &pt)) == 0) {
		rc = parse_plain(&pt, kr);
		pfc_wbuf_free(&pt);
	}
	free(buf);
	return rc;
}

static int seal_keyring(const struct pfc_keyring *kr, const struct pfc_skey *sk,
			struct pfc_wbuf *out)
{
	struct pfc_wbuf pt;
	int rc;

	if ((rc = pfc_wbuf_init(&pt, 256, true)) < 0)
		return rc;
	if ((rc = pfc_keyring_serialize(kr, &pt)) < 0)
		goto out;
	if ((rc = pfc_wbuf_init(out, pfc_wbuf_len(&pt) + PFC_SEAL_HDR_LEN + 32, false)) < 0)
		goto out;
	if ((rc = pfc_seal(PFC_SEAL_MAGIC_STORE, sk, pfc_wbuf_data(&pt), pfc_wbuf_len(&pt), out)) <
	    0)
		pfc_wbuf_free(out);
out:
	pfc_wbuf_free(&pt);
	return rc;
}

int pfc_store_save(const char *path, const struct pfc_keyring *kr, const struct pfc_skey *sk)
{
	struct pfc_wbuf out;
	int rc;

	if ((rc = seal_keyring(kr, sk, &out)) < 0)
		return rc;
	rc = pfc_atomic_write(path, pfc_wbuf_data(&out), pfc_wbuf_len(&out), 0);
	pfc_wbuf_free(&out);
	return rc;
}

/* mkdir -p with mode 0700 for the directories it creates. */
static int mkdir_parents(char *dir)
{
	for (char *p = dir + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
				*p = c;
				return PFC_ERR_IO;
			}
			*p = c;
			if (!c)
				return 0;
		}
	}
}

void pfc_store_remove_temps(const char *path)
{
	char tmp[PATH_MAX], pat[PATH_MAX];
	const char *base;
	struct dirent *de;
	size_t bl;
	DIR *d;

	if (strlen(path) >= sizeof(tmp))
		return;
	strcpy(tmp, path);
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (snprintf(pat, sizeof(pat), "%s.tmp.", base) >= (int)sizeof(pat))
		return;
	bl = strlen(pat);
	d = opendir(dirname(tmp));
	if (!d)
		return;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, pat, bl) == 0 && strlen(de->d_name) == bl + 6)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

int pfc_store_create(const char *path, const uint8_t *pass, size_t pass_len,
		     const struct pfc_kdf *kdf)
{
	char tmp[PATH_MAX];
	struct pfc_keyring kr;
	struct pfc_skey *sk = NULL;
	struct pfc_wbuf out;
	int rc;

	if (strlen(path) >= sizeof(tmp))
		return PFC_ERR_INVAL;
	if (access(path, F_OK) == 0)
		return PFC_ERR_EXISTS;
	strcpy(tmp, path);
	if ((rc = mkdir_parents(dirname(tmp))) < 0)
		return rc;
	pfc_keyring_init(&kr);
	if ((rc = pfc_skey_derive(PFC_SEAL_MAGIC_STORE, pass, pass_len, kdf, &sk)) < 0)
		return rc;
	if ((rc = seal_keyring(&kr, sk, &out)) < 0)
		goto out;
	rc = pfc_atomic_write(path, pfc_wbuf_data(&out), pfc_wbuf_len(&out), 1);
	pfc_wbuf_free(&out);
out:
	pfc_skey_free(sk);
	return rc;
}
