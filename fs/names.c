// SPDX-License-Identifier: MIT
/*
 * names.c - file names per directory id (FORMAT.md section 5): validation,
 * encryption to base64url(SIV || C), decryption against several candidate
 * directory ids, and the directory id files themselves.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/format_int.h"

#define ENC_BYTES_MAX (PFC_SIV_BYTES + 256)

int pfc_name_check(const char *name, size_t len)
{
	if (len == 0)
		return PFC_ERR_NAME_INVALID;
	if (memchr(name, '/', len) || memchr(name, '\0', len))
		return PFC_ERR_NAME_INVALID;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return PFC_ERR_NAME_INVALID;
	if (len > PFC_NAME_MAX)
		return PFC_ERR_NAME_TOO_LONG;
	return 0;
}

int pfc_name_encrypt(const struct pfc_volkeys *vk, const uint8_t dir_id[PFC_ID_BYTES],
		     const char *name, size_t len, char *out, size_t cap, size_t *out_len)
{
	uint8_t enc[ENC_BYTES_MAX];
	const uint8_t *tweaks[1] = {dir_id};
	size_t n;
	int err = pfc_name_check(name, len);

	if (err)
		return err;
	err = pfc_siv_seal(vk->name_mac, vk->name_stream, tweaks, 1, (const uint8_t *)name, len,
			   enc, sizeof(enc), &n);
	if (!err)
		err = pfc_b64url_encode(enc, n, out, cap, out_len);
	return err;
}

int pfc_name_decrypt(const struct pfc_volkeys *vk, const uint8_t (*dir_ids)[PFC_ID_BYTES], size_t n,
		     const char *enc, size_t enc_len, char *out, size_t cap, size_t *out_len,
		     size_t *matched)
{
	uint8_t raw[ENC_BYTES_MAX];
	const uint8_t *tweaks[PFC_DIRIDS_MAX];
	char name[PFC_NAME_BUF];
	size_t raw_len, name_len, m, i;
	int err;

	if (n == 0 || n > PFC_DIRIDS_MAX)
		return PFC_ERR_INVAL;
	if (enc_len > PFC_ENCNAME_MAX)
		return PFC_ERR_CORRUPT;
	err = pfc_b64url_decode(enc, enc_len, raw, sizeof(raw), &raw_len);
	if (err)
		return PFC_ERR_CORRUPT;
	for (i = 0; i < n; i++)
		tweaks[i] = dir_ids[i];
	err = pfc_siv_open(vk->name_mac, vk->name_stream, tweaks, n, raw, raw_len, name,
			   sizeof(name), &name_len, &m);
	if (err)
		goto out;
	err = pfc_name_check(name, name_len);
	if (err) {
		err = PFC_ERR_CORRUPT;
		goto out;
	}
	if (cap < name_len + 1) {
		err = PFC_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(out, name, name_len + 1);
	*out_len = name_len;
	*matched = m;
out:
	sodium_memzero(name, sizeof(name));
	return err;
}

int pfc_dirid_parse(const uint8_t *buf, size_t len, uint8_t out[PFC_ID_BYTES])
{
	if (len != PFC_DIRID_FILE_SIZE)
		return PFC_ERR_CORRUPT;
	memcpy(out, buf, PFC_ID_BYTES);
	return 0;
}

int pfc_dirid_create(int dirfd, uint8_t out[PFC_ID_BYTES], int *unsynced)
{
	uint8_t id[PFC_ID_BYTES];
	ssize_t w;
	int fd, saved;

	pfc_randombytes(id, sizeof(id));
	fd = openat(dirfd, PFC_DIRID_NAME, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		    0444);
	if (fd < 0)
		return errno == EEXIST ? PFC_ERR_EXISTS : PFC_ERR_IO;
	w = write(fd, id, sizeof(id));
	if (w != (ssize_t)sizeof(id) || (!unsynced && fsync(fd) != 0)) {
		saved = w >= 0 && w != (ssize_t)sizeof(id) ? EIO : errno;
		close(fd);
		unlinkat(dirfd, PFC_DIRID_NAME, 0);
		errno = saved;
		return PFC_ERR_IO;
	}
	if (unsynced)
		*unsynced = fd;
	else if (close(fd) != 0)
		return PFC_ERR_IO;
	memcpy(out, id, sizeof(id));
	return 0;
}

/* 0 (id read), PFC_ERR_CORRUPT (not 16 bytes, or not a regular file: *type
 * set, never opened), PFC_ERR_IO (errno). */
static int read_dirid(int dirfd, const char *name, uint8_t id[PFC_ID_BYTES], unsigned *type)
{
	uint8_t buf[PFC_DIRID_FILE_SIZE + 1];
	ssize_t n;
	int fd, e;

	/* FORMAT.md 5.4: only a regular file is an id file (never a FIFO or a device) */
	fd = pfc_open_regular(dirfd, name, O_RDONLY, 0, type);
	if (fd < 0)
		return fd;
	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	e = errno;
	close(fd);
	errno = e;
	if (n < 0)
		return PFC_ERR_IO;
	return pfc_dirid_parse(buf, (size_t)n, id);
}

/* One id-file entry that is not a regular file: counted, the first named. */
static void note_odd(struct pfc_dirid_odd *odd, const char *name, unsigned type)
{
	if (!odd)
		return;
	if (odd->n++ == 0) {
		size_t len = strlen(name);

		if (len >= sizeof(odd->name))
			len = sizeof(odd->name) - 1;
		memcpy(odd->name, name, len);
		odd->name[len] = '\0';
		odd->type = type;
	}
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, PFC_ID_BYTES);
}

int pfc_dirid_load_all(int dirfd, uint8_t (*ids)[PFC_ID_BYTES], size_t max, size_t *n,
		       size_t *primary)
{
	return pfc_dirid_load_report(dirfd, ids, max, n, primary, NULL);
}

int pfc_dirid_load_report(int dirfd, uint8_t (*ids)[PFC_ID_BYTES], size_t max, size_t *n,
			  size_t *primary, struct pfc_dirid_odd *odd)
{
	uint8_t found[PFC_DIRIDS_MAX][PFC_ID_BYTES];
	size_t count = 0, i, uniq = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	if (odd)
		memset(odd, 0, sizeof(*odd));
	if (max == 0)
		return PFC_ERR_INVAL;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return PFC_ERR_IO;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return PFC_ERR_IO;
	}
	while ((de = readdir(d)) != NULL && count < PFC_DIRIDS_MAX) {
		unsigned type = 0;
		int rc;

		if (pfc_entry_classify(de->d_name, strlen(de->d_name)) != PFC_ENTRY_DIRID)
			continue;
		rc = read_dirid(dirfd, de->d_name, found[count], &type);
		if (rc == 0) {
			count++;
		} else if (rc == PFC_ERR_CORRUPT && type) {
			note_odd(odd, de->d_name, type);
		} else if (rc == PFC_ERR_IO &&
			   (errno == EMFILE || errno == ENFILE || errno == ENOMEM)) {
			/* a shortage says nothing about the id file: never "not found" */
			int saved = errno;

			closedir(d);
			errno = saved;
			return PFC_ERR_IO;
		}
	}
	closedir(d);
	if (count == 0)
		return PFC_ERR_NOT_FOUND;
	qsort(found, count, PFC_ID_BYTES, id_cmp);
	for (i = 0; i < count && uniq < max; i++)
		if (uniq == 0 || memcmp(found[i], ids[uniq - 1], PFC_ID_BYTES) != 0)
			memcpy(ids[uniq++], found[i], PFC_ID_BYTES);
	*n = uniq;
	*primary = 0; /* sorted: the smallest is first */
	return 0;
}
