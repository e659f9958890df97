// SPDX-License-Identifier: MIT
/*
 * config.c - the volume config file PFC_CONFIG_NAME at the backing root
 * (FORMAT.md section 2).
 *
 *     0   8   magic "PFCRYPTC"
 *     8   2   format version (1)
 *    10   2   cipher (1 = AES-256-GCM, 2 = XChaCha20-Poly1305)
 *    12   4   block size
 *    16   4   flags
 *    20  16   volume id
 *    36   1   key name length n (1..32)
 *    37   n   key name
 *  37+n   2   wrapped name key length w (1..128)
 *  39+n   w   wrapped name key
 * 39+n+w 32   MAC = BLAKE2b-256(key = config MAC subkey, bytes 0 .. 37+n)
 *
 * The MAC covers everything but the wrapped name key, which authenticates
 * itself (the keystore's AEAD, AD bound to the volume id): so the keystore
 * can rewrap the name key without anyone re-sealing the config.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/format_int.h"

#define CONFIG_MAGIC "PFCRYPTC"

static _Thread_local char last_error[192];

void pfc_config_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

const char *pfc_config_last_error(void)
{
	return last_error;
}

static int key_name_check(const char *name, size_t len)
{
	size_t i;

	if (len == 0)
		return PFC_ERR_NAME_INVALID;
	if (len > PFC_KEY_NAME_MAX)
		return PFC_ERR_NAME_TOO_LONG;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return PFC_ERR_NAME_INVALID;
	}
	return 0;
}

int pfc_config_init(struct pfc_config *c, enum pfc_cipher cipher, uint32_t block_size,
		    uint32_t flags, const char *key_name)
{
	struct pfc_layout l;
	size_t n;
	int err;

	if ((err = pfc_layout_init(&l, cipher, block_size)))
		return err;
	if (flags & ~PFC_CONFIG_FLAGS_KNOWN)
		return PFC_ERR_CORRUPT;
	n = key_name ? strlen(key_name) : 0;
	if ((err = key_name_check(key_name, n)))
		return err;
	memset(c, 0, sizeof(*c));
	c->format_version = PFC_FORMAT_VERSION;
	c->cipher = cipher;
	c->block_size = block_size;
	c->flags = flags;
	pfc_randombytes(c->volume_id, PFC_ID_BYTES);
	memcpy(c->key_name, key_name, n + 1);
	return 0;
}

int pfc_config_set_wrapped(struct pfc_config *c, const uint8_t *blob, size_t len)
{
	if (len == 0)
		return PFC_ERR_INVAL;
	if (len > PFC_WRAPPED_MAX)
		return PFC_ERR_TOO_LARGE;
	memset(c->wrapped_name_key, 0, sizeof(c->wrapped_name_key));
	memcpy(c->wrapped_name_key, blob, len);
	c->wrapped_name_key_len = len;
	return 0;
}

/* The MAC-covered prefix: magic through key name. */
static void put_covered(const struct pfc_config *c, struct pfc_wbuf *w)
{
	size_t n = strnlen(c->key_name, sizeof(c->key_name));

	pfc_wbuf_put_bytes(w, CONFIG_MAGIC, 8);
	pfc_wbuf_put_u16(w, c->format_version);
	pfc_wbuf_put_u16(w, (uint16_t)c->cipher);
	pfc_wbuf_put_u32(w, c->block_size);
	pfc_wbuf_put_u32(w, c->flags);
	pfc_wbuf_put_bytes(w, c->volume_id, PFC_ID_BYTES);
	pfc_wbuf_put_u8(w, (uint8_t)n);
	pfc_wbuf_put_bytes(w, c->key_name, n);
}

static int compute_mac(const struct pfc_config *c, const struct pfc_volkeys *vk,
		       uint8_t mac[PFC_CONFIG_MAC_BYTES])
{
	uint8_t buf[64];
	struct pfc_wbuf w;
	int err;

	pfc_wbuf_init_fixed(&w, buf, sizeof(buf));
	put_covered(c, &w);
	if ((err = pfc_wbuf_error(&w)))
		return err;
	crypto_generichash(mac, PFC_CONFIG_MAC_BYTES, buf, pfc_wbuf_len(&w), vk->config_mac,
			   PFC_KEY_BYTES);
	return 0;
}

int pfc_config_seal(struct pfc_config *c, const struct pfc_volkeys *vk)
{
	if (memcmp(c->volume_id, vk->volume_id, PFC_ID_BYTES) != 0)
		return PFC_ERR_INVAL;
	return compute_mac(c, vk, c->mac);
}

int pfc_config_verify(const struct pfc_config *c, const struct pfc_volkeys *vk)
{
	uint8_t mac[PFC_CONFIG_MAC_BYTES];
	int err = compute_mac(c, vk, mac);

	if (err)
		return err;
	if (sodium_memcmp(mac, c->mac, sizeof(mac)) != 0 ||
	    memcmp(c->volume_id, vk->volume_id, PFC_ID_BYTES) != 0) {
		pfc_config_set_error("config MAC does not verify (tampered, or another volume)");
		return PFC_ERR_AUTH;
	}
	return 0;
}

int pfc_config_encode(const struct pfc_config *c, struct pfc_wbuf *w)
{
	size_t n = strnlen(c->key_name, sizeof(c->key_name));

	if (key_name_check(c->key_name, n) || c->wrapped_name_key_len == 0 ||
	    c->wrapped_name_key_len > PFC_WRAPPED_MAX)
		return PFC_ERR_INVAL;
	put_covered(c, w);
	pfc_wbuf_put_lv16(w, c->wrapped_name_key, c->wrapped_name_key_len);
	pfc_wbuf_put_bytes(w, c->mac, PFC_CONFIG_MAC_BYTES);
	return pfc_wbuf_error(w);
}

int pfc_config_parse(const uint8_t *buf, size_t len, struct pfc_config *out)
{
	struct pfc_config c;
	struct pfc_layout l;
	struct pfc_rbuf r;
	const uint8_t *magic, *p;
	uint16_t cipher;
	uint8_t nlen;
	size_t wlen;
	int err;

	memset(&c, 0, sizeof(c));
	pfc_config_set_error("%s", "");
	pfc_rbuf_init(&r, buf, len);
	if ((err = pfc_rbuf_get_ptr(&r, 8, &magic)))
		goto fail;
	if (memcmp(magic, CONFIG_MAGIC, 8) != 0) {
		pfc_config_set_error("not a pfcrypt volume config (bad magic)");
		return PFC_ERR_BAD_MAGIC;
	}
	if ((err = pfc_rbuf_get_u16(&r, &c.format_version)))
		goto fail;
	if (c.format_version != PFC_FORMAT_VERSION) {
		pfc_config_set_error("format version %u is not supported by this pfcrypt "
				     "(it reads version %d only)",
				     c.format_version, PFC_FORMAT_VERSION);
		return PFC_ERR_UNKNOWN_VERSION;
	}
	if ((err = pfc_rbuf_get_u16(&r, &cipher)) || (err = pfc_rbuf_get_u32(&r, &c.block_size)) ||
	    (err = pfc_rbuf_get_u32(&r, &c.flags)) ||
	    (err = pfc_rbuf_get_bytes(&r, c.volume_id, PFC_ID_BYTES)))
		goto fail;
	if (c.flags & ~PFC_CONFIG_FLAGS_KNOWN) {
		pfc_config_set_error("unknown feature flags 0x%x (made by a newer pfcrypt)",
				     (unsigned)(c.flags & ~PFC_CONFIG_FLAGS_KNOWN));
		return PFC_ERR_UNKNOWN_VERSION;
	}
	c.cipher = (enum pfc_cipher)cipher;
	if (pfc_layout_init(&l, c.cipher, c.block_size) != 0) {
		pfc_config_set_error("unknown cipher %u or invalid block size %u", cipher,
				     c.block_size);
		return PFC_ERR_INVAL;
	}
	if ((err = pfc_rbuf_get_u8(&r, &nlen)) || (err = pfc_rbuf_get_ptr(&r, nlen, &p)))
		goto fail;
	if ((err = key_name_check((const char *)p, nlen))) {
		pfc_config_set_error("invalid master-key name");
		return err;
	}
	memcpy(c.key_name, p, nlen);
	c.key_name[nlen] = '\0';
	if ((err = pfc_rbuf_get_lv16(&r, PFC_WRAPPED_MAX, &p, &wlen)))
		goto fail;
	if (wlen == 0) {
		err = PFC_ERR_CORRUPT;
		goto fail;
	}
	memcpy(c.wrapped_name_key, p, wlen);
	c.wrapped_name_key_len = wlen;
	if ((err = pfc_rbuf_get_bytes(&r, c.mac, PFC_CONFIG_MAC_BYTES)) ||
	    (err = pfc_rbuf_expect_end(&r)))
		goto fail;
	*out = c;
	return 0;
fail:
	pfc_config_set_error("malformed config (%s)", pfc_strerror(err));
	return err;
}

int pfc_config_load(int dirfd, struct pfc_config *out)
{
	uint8_t buf[PFC_CONFIG_MAX + 1];
	size_t len = 0;
	ssize_t n;
	unsigned type = 0;
	/* a FIFO put in its place must not hang the mount or check, a device is never opened */
	int fd = pfc_open_regular(dirfd, PFC_CONFIG_NAME, O_RDONLY, 0, &type);

	if (fd == PFC_ERR_CORRUPT) {
		pfc_config_set_error("not a regular file (%s)", pfc_file_type_name(type));
		return PFC_ERR_CORRUPT;
	}
	if (fd < 0) {
		int e = errno;

		pfc_config_set_error("cannot open: %s", strerror(e));
		errno = e;
		return e == ENOENT ? PFC_ERR_NOT_FOUND : PFC_ERR_IO;
	}
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			pfc_config_set_error("cannot read: %s", strerror(e));
			errno = e;
			return PFC_ERR_IO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > PFC_CONFIG_MAX) {
		pfc_config_set_error("config larger than %d bytes", PFC_CONFIG_MAX);
		return PFC_ERR_TOO_LARGE;
	}
	return pfc_config_parse(buf, len, out);
}

int pfc_config_store(int dirfd, const struct pfc_config *c)
{
	uint8_t buf[PFC_CONFIG_MAX];
	struct pfc_wbuf w;
	size_t off = 0;
	ssize_t n;
	int fd, err, e;

	pfc_wbuf_init_fixed(&w, buf, sizeof(buf));
	if ((err = pfc_config_encode(c, &w)))
		return err;
	/* The scratch name is the library's own: whatever is there (a leftover, or
	 * a FIFO that an open for writing would block on) goes, never opened. */
	unlinkat(dirfd, PFC_CONFIG_TMP_NAME, 0);
	fd = openat(dirfd, PFC_CONFIG_TMP_NAME,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
	if (fd < 0)
		return PFC_ERR_IO;
	while (off < pfc_wbuf_len(&w)) {
		n = write(fd, buf + off, pfc_wbuf_len(&w) - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, PFC_CONFIG_TMP_NAME, dirfd, PFC_CONFIG_NAME) != 0)
		goto fail;
	/* The rename is durable only once the directory is (dirfd may be O_PATH). */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return PFC_ERR_IO;
	if (fsync(fd) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return PFC_ERR_IO;
	}
	close(fd);
	return 0;
fail:
	e = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, PFC_CONFIG_TMP_NAME, 0);
	errno = e;
	return PFC_ERR_IO;
}

int pfc_config_layout(const struct pfc_config *c, struct pfc_layout *out)
{
	struct pfc_layout l;
	int err = pfc_layout_init(&l, c->cipher, c->block_size);

	if (err)
		return err;
	l.zero_block_is_hole = !(c->flags & PFC_CONFIG_FLAG_NO_HOLES);
	*out = l;
	return 0;
}
