/* SPDX-License-Identifier: MIT */
/*
 * entry.c - one backing directory entry to its plaintext name (see
 * volume.h): a long-name entry's companion read and matched to the entry
 * (FORMAT.md 5.5), the encoding decrypted under any of the directory's ids
 * (5.4), and a sync client's conflict copy shown as its base name plus its
 * marker (5.6).
 */
#include "fs/volume.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"

/* Read the companion comp of long-name entry `entry` into enc; *type gets
 * the companion's file type when it is not a regular file (STEP_TYPE). */
static int read_companion(int dirfd, const char *entry, const char *comp, char *enc,
			  size_t *enc_len, enum pfc_entry_step *step, unsigned *type)
{
	uint8_t content[PFC_ENCNAME_MAX + 1];
	ssize_t got;
	int fd, e, rc;

	/* a FIFO, socket or device in its place is never opened (FORMAT.md 5.5) */
	fd = pfc_open_regular(dirfd, comp, O_RDONLY, 0, type);
	if (fd < 0) {
		*step = fd == PFC_ERR_CORRUPT ? PFC_ENTRY_STEP_TYPE : PFC_ENTRY_STEP_OPEN;
		return fd;
	}
	do
		got = read(fd, content, sizeof(content));
	while (got < 0 && errno == EINTR);
	e = errno;
	close(fd);
	if (got < 0) {
		errno = e;
		*step = PFC_ENTRY_STEP_READ;
		return PFC_ERR_IO;
	}
	rc = pfc_longname_companion_parse(entry, strlen(entry), content, (size_t)got, enc,
					  PFC_ENCNAME_BUF, enc_len);
	if (rc < 0)
		*step = PFC_ENTRY_STEP_PARSE;
	return rc;
}

/* pfc_entry_encoding, with the companion's file type on STEP_TYPE. */
static int encoding(int dirfd, const char *entry, enum pfc_entry_kind kind, char *enc,
		    size_t *enc_len, char *companion, enum pfc_entry_step *step, unsigned *type)
{
	char comp[PFC_LONGNAME_COMPANION_LEN + 1];
	size_t len = strlen(entry);
	int rc;

	if (companion)
		companion[0] = '\0';
	if (kind == PFC_ENTRY_ENCNAME) {
		if (len > PFC_ENCNAME_MAX) {
			*step = PFC_ENTRY_STEP_PARSE;
			return PFC_ERR_CORRUPT;
		}
		memcpy(enc, entry, len + 1);
		*enc_len = len;
		return 0;
	}
	rc = pfc_longname_companion(entry, len, comp);
	if (rc < 0) {
		*step = PFC_ENTRY_STEP_PARSE;
		return rc;
	}
	if (companion)
		memcpy(companion, comp, sizeof(comp));
	return read_companion(dirfd, entry, comp, enc, enc_len, step, type);
}

int pfc_entry_encoding(int dirfd, const char *entry, enum pfc_entry_kind kind, char *enc,
		       size_t *enc_len, char *companion, enum pfc_entry_step *step)
{
	unsigned type;

	return encoding(dirfd, entry, kind, enc, enc_len, companion, step, &type);
}

/* Decrypt entry (kind ENCNAME or LONGNAME) into out->name. */
static int decrypt_entry(const struct pfc_volkeys *vk, int dirfd, const char *entry,
			 enum pfc_entry_kind kind, const uint8_t (*ids)[PFC_ID_BYTES], size_t n,
			 struct pfc_entry_name *out)
{
	char enc[PFC_ENCNAME_BUF];
	size_t elen;
	int rc;

	rc = encoding(dirfd, entry, kind, enc, &elen, out->companion, &out->step,
		      &out->companion_type);
	if (rc < 0)
		return rc;
	rc = n ? pfc_name_decrypt(vk, ids, n, enc, elen, out->name, sizeof(out->name), &out->len,
				  &out->matched)
	       : PFC_ERR_AUTH;
	if (rc < 0)
		out->step = PFC_ENTRY_STEP_DECRYPT;
	return rc;
}

int pfc_entry_name(const struct pfc_volkeys *vk, int dirfd, const char *entry,
		   const uint8_t (*ids)[PFC_ID_BYTES], size_t n, struct pfc_entry_name *out)
{
	enum pfc_entry_kind kind = pfc_entry_classify(entry, strlen(entry));
	char base[PFC_ENCNAME_SHORT_MAX + 1];
	size_t k, mlen;
	int rc;

	memset(out, 0, sizeof(*out));
	if (kind == PFC_ENTRY_ENCNAME || kind == PFC_ENTRY_LONGNAME)
		return decrypt_entry(vk, dirfd, entry, kind, ids, n, out);
	if (kind != PFC_ENTRY_OTHER || !pfc_conflict_copy(entry, &k))
		return 1;
	/* a long name's copy shares the companion of the original entry */
	memcpy(base, entry, k);
	base[k] = '\0';
	rc = decrypt_entry(vk, dirfd, base, pfc_entry_classify(base, k), ids, n, out);
	if (rc < 0)
		return rc;
	mlen = strlen(entry + k);
	if (out->len + mlen > PFC_NAME_MAX) {
		sodium_memzero(out->name, sizeof(out->name));
		out->step = PFC_ENTRY_STEP_MARKER;
		return PFC_ERR_NAME_TOO_LONG;
	}
	memcpy(out->name + out->len, entry + k, mlen + 1);
	out->marker = out->len;
	out->len += mlen;
	return 0;
}

/* The plaintext name of component name (len bytes) of the directory dirfd, appended to out. */
static int path_step(const struct pfc_volkeys *vk, int dirfd, const char *name, char *out,
		     size_t len)
{
	uint8_t ids[PFC_DIRIDS_MAX][PFC_ID_BYTES];
	struct pfc_entry_name en;
	size_t n = 0, primary = 0, l = strlen(out);
	int rc = pfc_dirid_load_all(dirfd, ids, PFC_DIRIDS_MAX, &n, &primary);

	if (rc < 0)
		return rc;
	rc = pfc_entry_name(vk, dirfd, name, (const uint8_t(*)[PFC_ID_BYTES])ids, n, &en);
	if (rc != 0)
		return rc;
	if (l + (l ? 1 : 0) + en.len >= len) {
		sodium_memzero(&en, sizeof(en));
		return PFC_ERR_NAME_TOO_LONG;
	}
	if (l)
		out[l++] = '/';
	memcpy(out + l, en.name, en.len + 1);
	sodium_memzero(&en, sizeof(en));
	return 0;
}

int pfc_entry_path(const struct pfc_volkeys *vk, int rootfd, const char *rel, char *out, size_t len,
		   size_t *failed)
{
	char name[PFC_ENCNAME_SHORT_MAX + 1];
	int dirfd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
	size_t i = 0;

	*failed = 0;
	if (!len)
		return PFC_ERR_INVAL;
	out[0] = '\0';
	if (dirfd < 0)
		return PFC_ERR_IO;
	while (rel[i] && rc == 0) {
		size_t k = strcspn(rel + i, "/");
		int sub;

		if (k == 0 || k >= sizeof(name)) {
			rc = k ? PFC_ERR_NAME_TOO_LONG : 0;
			i += k ? 0 : 1;
			continue;
		}
		memcpy(name, rel + i, k);
		name[k] = '\0';
		*failed = i;
		rc = path_step(vk, dirfd, name, out, len);
		if (rc != 0 || !rel[i + k])
			break;
		sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			rc = PFC_ERR_IO;
			break;
		}
		close(dirfd);
		dirfd = sub;
		i += k + 1;
	}
	close(dirfd);
	return rc;
}
