// SPDX-License-Identifier: MIT
/*
 * xpath.c - plaintext path <-> backing path of a volume (xpath.h): one
 * directory at a time, with its directory ids (a directory has several after
 * a sync conflict, FORMAT.md 5.4) and the volume layer's entry names
 * (fs/volume.h), so long names and conflict copies map as the daemon maps
 * them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/err.h"
#include "fs/volume.h"
#include "tools/cli.h"
#include "tools/xpath.h"

/* The directory ids of dirfd; 0, or CLI_EXIT_SETUP after a message naming where. */
static int dir_ids(int dirfd, const char *where, uint8_t (*ids)[PFC_ID_BYTES], size_t *n,
		   size_t *primary)
{
	int r = pfc_dirid_load_all(dirfd, ids, PFC_DIRIDS_MAX, n, primary);

	if (r == 0)
		return 0;
	if (r == PFC_ERR_NOT_FOUND)
		cli_err(where, "the backing directory has no valid %s", PFC_DIRID_NAME);
	else
		cli_err(where, "cannot read its directory id: %s",
			r == PFC_ERR_IO ? strerror(errno) : pfc_strerror(r));
	return CLI_EXIT_SETUP;
}

static int append(char *out, size_t len, const char *name)
{
	size_t l = strlen(out);

	return (size_t)snprintf(out + l, len - l, "%s%s", l ? "/" : "", name) < len - l ? 0 : -1;
}

/* One plaintext component in dirfd: its backing form (the id it exists under, else the primary). */
static int component(const struct pfc_volkeys *vk, int dirfd, const char *plain, const char *name,
		     struct pfc_backing_name *bn, bool *exists)
{
	uint8_t ids[PFC_DIRIDS_MAX][PFC_ID_BYTES];
	size_t n = 0, primary = 0;
	struct stat st;
	int r;

	if ((r = dir_ids(dirfd, plain, ids, &n, &primary)))
		return r;
	*exists = false;
	for (size_t k = 0; k < n; k++) {
		size_t i = (primary + k) % n; /* the primary first */

		r = pfc_name_to_backing(vk, ids[i], name, strlen(name), bn);
		if (r < 0) {
			cli_err(plain, "not a valid name: %s", pfc_strerror(r));
			return CLI_EXIT_SETUP;
		}
		if (fstatat(dirfd, bn->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			*exists = true;
			return 0;
		}
	}
	return pfc_name_to_backing(vk, ids[primary], name, strlen(name), bn) < 0 ? CLI_EXIT_SETUP
										 : 0;
}

int cli_plain_to_backing(const struct cli_vol *v, const struct pfc_volkeys *vk, const char *plain,
			 struct xpath_backing *out)
{
	char copy[XPATH_MAX], *save = NULL, *name, *next;
	int dirfd = openat(v->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	memset(out, 0, sizeof(*out));
	if (dirfd < 0 || (size_t)snprintf(copy, sizeof(copy), "%s", plain) >= sizeof(copy)) {
		cli_err(plain, "%s", dirfd < 0 ? strerror(errno) : "path too long");
		r = CLI_EXIT_SETUP;
		goto out;
	}
	for (name = strtok_r(copy, "/", &save); name && !r; name = next) {
		struct pfc_backing_name bn;
		bool exists;
		int sub;

		next = strtok_r(NULL, "/", &save);
		if (!strcmp(name, "."))
			continue;
		if (!strcmp(name, "..")) {
			cli_err(plain, "'..' is not supported: give the path from the volume root");
			r = CLI_EXIT_SETUP;
			break;
		}
		if ((r = component(vk, dirfd, plain, name, &bn, &exists)))
			break;
		if (append(out->rel, sizeof(out->rel), bn.name) < 0) {
			cli_err(plain, "backing path too long");
			r = CLI_EXIT_SETUP;
			break;
		}
		out->exists = exists;
		snprintf(out->companion, sizeof(out->companion), "%s",
			 bn.is_long ? bn.companion : "");
		if (!next)
			break;
		sub = exists
			  ? openat(dirfd, bn.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
			  : -1;
		if (sub < 0) {
			cli_err(plain, "no directory '%s' in the volume", name);
			r = CLI_EXIT_SETUP;
			break;
		}
		close(dirfd);
		dirfd = sub;
	}
out:
	if (dirfd >= 0)
		close(dirfd);
	return r;
}

/* What a backing entry that carries no name is to the volume (pfc_entry_name returned 1). */
static const char *nameless(const char *entry, char *base, size_t blen)
{
	size_t l = strlen(entry), sl = strlen(PFC_LONGNAME_SUFFIX);

	base[0] = '\0';
	switch (pfc_entry_classify(entry, l)) {
	case PFC_ENTRY_CONFIG:
		return "the volume config";
	case PFC_ENTRY_DIRID:
		return "the directory id file of";
	case PFC_ENTRY_SYMLINKS_DIR:
		return "the directory of long symlink targets of";
	case PFC_ENTRY_LONGNAME_COMPANION:
		if (l > sl && l - sl < blen) {
			memcpy(base, entry, l - sl);
			base[l - sl] = '\0';
		}
		return "the long-name companion of";
	default:
		return "not a pfcrypt entry, in";
	}
}

int cli_backing_to_plain(const struct cli_vol *v, const struct pfc_volkeys *vk, const char *rel,
			 char *out, size_t len, const char **what)
{
	char plain[XPATH_MAX], base[PFC_LONGNAME_LEN + 8], alt[XPATH_MAX];
	size_t failed = 0;
	int r = pfc_entry_path(vk, v->fd, rel, plain, sizeof(plain), &failed);

	*what = NULL;
	if (r == 1 && !strchr(rel + failed, '/')) {
		/* the last entry carries no name: say what it is, and to what */
		*what = nameless(rel + failed, base, sizeof(base));
		if (base[0] && (size_t)snprintf(alt, sizeof(alt), "%.*s%s", (int)failed, rel,
						base) < sizeof(alt))
			r = pfc_entry_path(vk, v->fd, alt, plain, sizeof(plain), &failed);
		else
			r = 0;
	}
	if (r != 0) {
		const char *name = rel + failed;
		int k = (int)strcspn(name, "/");

		cli_err(rel, "'%.*s' %s", k, name,
			r == 1		    ? "is not a name of the volume"
			: r == PFC_ERR_AUTH ? "does not decrypt (another volume, or tampered)"
			: r == PFC_ERR_IO   ? strerror(errno)
					    : pfc_strerror(r));
		return CLI_EXIT_SETUP;
	}
	snprintf(out, len, "/%s", plain);
	return 0;
}

int cli_backing_split(const char *path, char *root, size_t rlen, char *rel, size_t len)
{
	char *real = realpath(path, NULL), cand[PATH_MAX];
	size_t l;

	if (!real) {
		cli_err(path, "%s", strerror(errno));
		return CLI_EXIT_SETUP;
	}
	for (l = strlen(real); l > 0; l--) {
		struct stat st;

		if (l < strlen(real) && real[l] != '/')
			continue;
		snprintf(cand, sizeof(cand), "%.*s/%s", (int)l, real, PFC_CONFIG_NAME);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode))
			break;
	}
	if (l == 0 || l >= rlen) {
		cli_err(path, "not inside a pfcrypt backing directory (no %s above it)",
			PFC_CONFIG_NAME);
		free(real);
		return CLI_EXIT_SETUP;
	}
	snprintf(root, rlen, "%.*s", (int)l, real);
	snprintf(rel, len, "%s", real[l] ? real + l + 1 : "");
	free(real);
	return 0;
}
