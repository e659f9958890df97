// SPDX-License-Identifier: MIT
/*
 * symlink.c - symlink targets (FORMAT.md section 8).  The target, padded to
 * 16 bytes (which hides the exact length), is sealed as S = nonce(24) ||
 * XChaCha20-Poly1305, key = the volume symlink subkey, AD = "pfcrypt/v1
 * symlink\0" || volume id; random nonce, so equal targets seal differently.
 * Short targets are stored inline (base64url(S) is the backing symlink's
 * target); long ones in a companion file named by the hash of S under
 * .pfcrypt.symlinks/ at the backing root, the backing symlink holding only
 * the reference "pfc.symlink." + hash (so that the stored form fits xfs's
 * 1024-byte symlink limit, and survives renames and hard links).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/format_int.h"

#define SYM_AD_LEN (sizeof(PFC_AD_PURPOSE_SYMLINK) + PFC_ID_BYTES)
#define SYM_PAD	   16
#define SYM_OVER   (PFC_XNONCE_BYTES + PFC_TAG_BYTES)
#define SYM_PADDED (PFC_SYMLINK_TARGET_MAX + 1) /* 4096: the padded longest target */
#define SYM_HASH   32

_Static_assert(PFC_SYMLINK_INLINE_READ_MAX % SYM_PAD == 0, "inline max is a padded length");
_Static_assert(PFC_SYMLINK_INLINE_MAX % SYM_PAD == 0, "inline max is a padded length");
_Static_assert(SYM_PADDED % SYM_PAD == 0, "padded maximum");
_Static_assert(PFC_SYMLINK_SEALED_MAX == SYM_OVER + SYM_PADDED, "sealed maximum");
_Static_assert(PFC_SYMLINK_REF_LEN == sizeof(PFC_SYMLINK_REF_PREFIX) - 1 + PFC_SYMLINK_HASH_LEN,
	       "reference length");
_Static_assert(PFC_SYMLINK_INLINE_ENC_MAX < 1024, "inline form fits xfs");

static size_t padded_len(size_t len)
{
	return (len + SYM_PAD - 1) / SYM_PAD * SYM_PAD;
}

static void sym_ad(const struct pfc_volkeys *vk, uint8_t ad[SYM_AD_LEN])
{
	memcpy(ad, PFC_AD_PURPOSE_SYMLINK, sizeof(PFC_AD_PURPOSE_SYMLINK));
	memcpy(ad + sizeof(PFC_AD_PURPOSE_SYMLINK), vk->volume_id, PFC_ID_BYTES);
}

/* S of target (len already checked) into sealed (PFC_SYMLINK_SEALED_MAX). */
static size_t seal(const struct pfc_volkeys *vk, const char *target, size_t len, uint8_t *sealed)
{
	uint8_t padded[SYM_PADDED], ad[SYM_AD_LEN];
	size_t plen = padded_len(len);

	memset(padded, 0, plen);
	memcpy(padded, target, len);
	sym_ad(vk, ad);
	pfc_randombytes(sealed, PFC_XNONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + PFC_XNONCE_BYTES, NULL, padded, plen,
						   ad, sizeof(ad), NULL, sealed, vk->symlink);
	sodium_memzero(padded, sizeof(padded));
	return PFC_XNONCE_BYTES + plen + PFC_TAG_BYTES;
}

/* S back to the target (out: cap > target length, NUL-terminated). */
static int unseal(const struct pfc_volkeys *vk, const uint8_t *raw, size_t raw_len, char *out,
		  size_t cap, size_t *out_len)
{
	uint8_t padded[SYM_PADDED], ad[SYM_AD_LEN];
	struct pfc_box b;
	size_t plen, tlen;
	int err;

	if (raw_len > PFC_SYMLINK_SEALED_MAX)
		return PFC_ERR_TOO_LARGE;
	if (raw_len < SYM_OVER + SYM_PAD || (raw_len - SYM_OVER) % SYM_PAD != 0)
		return PFC_ERR_CORRUPT;
	if (pfc_box_split(raw, raw_len, PFC_XNONCE_BYTES, PFC_TAG_BYTES, &b) < 0)
		return PFC_ERR_CORRUPT;
	plen = b.text_len;
	sym_ad(vk, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(padded, NULL, NULL, b.ct, b.ct_len, ad,
						       sizeof(ad), b.nonce, vk->symlink) != 0) {
		err = PFC_ERR_AUTH;
		goto out;
	}
	tlen = strnlen((const char *)padded, plen);
	if (tlen == 0 || padded_len(tlen) != plen || !sodium_is_zero(padded + tlen, plen - tlen)) {
		err = PFC_ERR_CORRUPT;
		goto out;
	}
	if (cap < tlen + 1) {
		err = PFC_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(out, padded, tlen);
	out[tlen] = '\0';
	*out_len = tlen;
	err = 0;
out:
	sodium_memzero(padded, sizeof(padded));
	return err;
}

static int check_target(const char *target, size_t len, size_t max)
{
	if (len == 0 || memchr(target, '\0', len))
		return PFC_ERR_NAME_INVALID;
	return len > max ? PFC_ERR_NAME_TOO_LONG : 0;
}

int pfc_symlink_encrypt(const struct pfc_volkeys *vk, const char *target, size_t len, char *out,
			size_t cap, size_t *out_len)
{
	uint8_t raw[PFC_SYMLINK_SEALED_MAX];
	int err = check_target(target, len, PFC_SYMLINK_INLINE_READ_MAX);

	if (err)
		return err;
	return pfc_b64url_encode(raw, seal(vk, target, len, raw), out, cap, out_len);
}

int pfc_symlink_decrypt(const struct pfc_volkeys *vk, const char *enc, size_t enc_len, char *out,
			size_t cap, size_t *out_len)
{
	uint8_t raw[PFC_XNONCE_BYTES + PFC_SYMLINK_INLINE_READ_MAX + PFC_TAG_BYTES];
	size_t raw_len;

	if (enc_len > PFC_SYMLINK_ENC_MAX)
		return PFC_ERR_TOO_LARGE;
	if (pfc_b64url_decode(enc, enc_len, raw, sizeof(raw), &raw_len) != 0)
		return PFC_ERR_CORRUPT;
	return unseal(vk, raw, raw_len, out, cap, out_len);
}

static void hash_name(const uint8_t *sealed, size_t len, char name[PFC_SYMLINK_HASH_LEN + 1])
{
	uint8_t h[SYM_HASH];
	size_t n;

	crypto_generichash(h, sizeof(h), sealed, len, NULL, 0);
	pfc_b64url_encode(h, sizeof(h), name, PFC_SYMLINK_HASH_LEN + 1, &n);
}

int pfc_symlink_to_backing(const struct pfc_volkeys *vk, const char *target, size_t len,
			   struct pfc_symlink_stored *out)
{
	const size_t np = sizeof(PFC_SYMLINK_REF_PREFIX) - 1;
	int err = check_target(target, len, PFC_SYMLINK_TARGET_MAX);

	if (err)
		return err;
	memset(out, 0, offsetof(struct pfc_symlink_stored, sealed));
	out->sealed_len = seal(vk, target, len, out->sealed);
	if (len <= PFC_SYMLINK_INLINE_MAX) {
		err = pfc_b64url_encode(out->sealed, out->sealed_len, out->link, sizeof(out->link),
					&out->link_len);
		sodium_memzero(out->sealed, out->sealed_len);
		out->sealed_len = 0;
		return err;
	}
	out->is_long = true;
	hash_name(out->sealed, out->sealed_len, out->hash);
	memcpy(out->link, PFC_SYMLINK_REF_PREFIX, np);
	memcpy(out->link + np, out->hash, PFC_SYMLINK_HASH_LEN + 1);
	out->link_len = PFC_SYMLINK_REF_LEN;
	return 0;
}

static bool is_hash(const char *s, size_t len)
{
	uint8_t h[SYM_HASH];
	size_t n;

	return len == PFC_SYMLINK_HASH_LEN && pfc_b64url_decode(s, len, h, sizeof(h), &n) == 0 &&
	       n == SYM_HASH;
}

bool pfc_symlink_ref_parse(const char *link, size_t len, char hash[PFC_SYMLINK_HASH_LEN + 1])
{
	const size_t np = sizeof(PFC_SYMLINK_REF_PREFIX) - 1;

	if (len != PFC_SYMLINK_REF_LEN || memcmp(link, PFC_SYMLINK_REF_PREFIX, np) != 0 ||
	    !is_hash(link + np, PFC_SYMLINK_HASH_LEN))
		return false;
	memcpy(hash, link + np, PFC_SYMLINK_HASH_LEN);
	hash[PFC_SYMLINK_HASH_LEN] = '\0';
	return true;
}

int pfc_symlink_companion_open(const struct pfc_volkeys *vk, const char *hash,
			       const uint8_t *content, size_t len, char *out, size_t cap,
			       size_t *out_len)
{
	char got[PFC_SYMLINK_HASH_LEN + 1];

	if (len > PFC_SYMLINK_SEALED_MAX)
		return PFC_ERR_TOO_LARGE;
	hash_name(content, len, got);
	if (sodium_memcmp(got, hash, PFC_SYMLINK_HASH_LEN) != 0)
		return PFC_ERR_AUTH; /* not the companion this reference names */
	return unseal(vk, content, len, out, cap, out_len);
}

/* PFC_SYMLINKS_DIR under rootfd, not through a symlink; PFC_ERR_NOT_FOUND / _IO. */
static int open_dir(int rootfd)
{
	int fd = openat(rootfd, PFC_SYMLINKS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? PFC_ERR_NOT_FOUND
								     : PFC_ERR_IO;
}

int pfc_symlink_companion_read(int rootfd, const char *hash, uint8_t *buf, size_t cap, size_t *len)
{
	size_t got = 0;
	int dfd, fd, e, err = 0;

	if (!is_hash(hash, strlen(hash)))
		return PFC_ERR_INVAL;
	dfd = open_dir(rootfd);
	if (dfd < 0)
		return dfd;
	/* never a FIFO's open (it would block) nor a device's: as if missing */
	fd = pfc_open_regular(dfd, hash, O_RDONLY, 0, NULL);
	e = errno;
	close(dfd);
	errno = e;
	if (fd == PFC_ERR_CORRUPT || (fd < 0 && errno == ENOENT))
		return PFC_ERR_NOT_FOUND;
	if (fd < 0)
		return PFC_ERR_IO;
	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = PFC_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > PFC_SYMLINK_SEALED_MAX)
		err = PFC_ERR_TOO_LARGE;
	else
		*len = got;
out:
	if (err == PFC_ERR_IO) {
		int saved = errno;

		close(fd);
		errno = saved;
	} else {
		close(fd);
	}
	return err;
}

int pfc_symlink_companion_write(int rootfd, const struct pfc_symlink_stored *s)
{
	int dfd, fd, saved;
	ssize_t w;

	if (!s->is_long)
		return PFC_ERR_INVAL;
	dfd = open_dir(rootfd);
	if (dfd == PFC_ERR_NOT_FOUND) {
		if (mkdirat(rootfd, PFC_SYMLINKS_DIR, 0755) < 0 && errno != EEXIST)
			return PFC_ERR_IO;
		dfd = open_dir(rootfd);
		if (dfd >= 0) {
			int rfd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (rfd >= 0) { /* the new directory's entry (rootfd may be O_PATH) */
				fsync(rfd);
				close(rfd);
			}
		}
	}
	if (dfd < 0)
		return PFC_ERR_IO;
	fd = openat(dfd, s->hash, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd < 0) {
		saved = errno;
		close(dfd);
		errno = saved;
		return saved == EEXIST ? PFC_ERR_EXISTS : PFC_ERR_IO;
	}
	w = write(fd, s->sealed, s->sealed_len);
	if (w != (ssize_t)s->sealed_len || fsync(fd) != 0) {
		saved = w >= 0 && w != (ssize_t)s->sealed_len ? ENOSPC : errno;
		close(fd);
		unlinkat(dfd, s->hash, 0);
		close(dfd);
		errno = saved;
		return PFC_ERR_IO;
	}
	close(fd);
	fsync(dfd); /* the companion's entry, before the symlink that refers to it */
	close(dfd);
	return 0;
}

int pfc_symlink_companion_remove(int rootfd, const char *hash)
{
	int dfd, r, saved;

	if (!is_hash(hash, strlen(hash)))
		return PFC_ERR_INVAL;
	dfd = open_dir(rootfd);
	if (dfd < 0) {
		if (dfd == PFC_ERR_NOT_FOUND)
			errno = ENOENT;
		return PFC_ERR_IO;
	}
	r = unlinkat(dfd, hash, 0);
	saved = errno;
	close(dfd);
	errno = saved;
	return r < 0 ? PFC_ERR_IO : 0;
}

int pfc_symlink_read(const struct pfc_volkeys *vk, int rootfd, const char *link, size_t len,
		     char *out, size_t cap, size_t *out_len)
{
	uint8_t content[PFC_SYMLINK_SEALED_MAX + 1];
	char hash[PFC_SYMLINK_HASH_LEN + 1];
	size_t n;
	int err;

	if (!pfc_symlink_ref_parse(link, len, hash))
		return pfc_symlink_decrypt(vk, link, len, out, cap, out_len);
	err = pfc_symlink_companion_read(rootfd, hash, content, sizeof(content), &n);
	if (err == 0)
		err = pfc_symlink_companion_open(vk, hash, content, n, out, cap, out_len);
	return err;
}
