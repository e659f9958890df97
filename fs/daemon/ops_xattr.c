/* SPDX-License-Identifier: MIT */
/*
 * ops_xattr.c - extended attributes.  Only the user.* namespace exists in
 * the mount; names and values are encrypted (FORMAT.md, xattr section).
 * Other namespaces (security.*, system.*, trusted.*) are not supported:
 * set, get and remove answer EOPNOTSUPP, as ext4 mounted without ACL
 * support does, and backing attributes that are not ours are not listed.
 * EOPNOTSUPP rather than ENODATA on get matters for speed: ls -l asks every
 * entry for security.selinux and system.posix_acl_access, one FUSE round
 * trip each, and stops asking for the rest of a file system once it has
 * seen EOPNOTSUPP (coreutils caches "unsupported" per device).
 */
#include "fs/daemon/daemon.h"

#include "fs/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#define INODE(ino) pfc_itable_get(&pfcd_g->itable, (ino))
#define XATTR_BUF  (PFC_XATTR_VALUE_MAX + PFC_XATTR_VALUE_OVERHEAD)

static bool is_user(const char *name)
{
	return strncmp(name, PFC_XATTR_PREFIX, strlen(PFC_XATTR_PREFIX)) == 0;
}

void pfcd_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		      size_t size, int flags)
{
	char p[64], enc[PFC_XATTR_NAME_ENC_BUF];
	size_t elen, slen;
	uint8_t *stored;
	int rc, fd;

	if (!is_user(name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (size > PFC_XATTR_VALUE_MAX) {
		fuse_reply_err(req, E2BIG);
		return;
	}
	rc = pfc_xattr_name_encrypt(pfcd_g->vk, name, strlen(name), enc, sizeof(enc), &elen);
	if (rc < 0) {
		/* A name past the format's limit cannot exist: nothing to replace. */
		if (rc == PFC_ERR_NAME_TOO_LONG)
			fuse_reply_err(req, (flags & XATTR_REPLACE) ? ENODATA : ERANGE);
		else
			fuse_reply_err(req, -pfcd_errno(rc));
		return;
	}
	stored = malloc(size + PFC_XATTR_VALUE_OVERHEAD);
	if (!stored) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = pfc_xattr_value_encrypt(pfcd_g->vk, enc, elen, (const uint8_t *)value, size, stored,
				     size + PFC_XATTR_VALUE_OVERHEAD, &slen);
	if (rc < 0) {
		rc = pfcd_errno(rc);
	} else if ((fd = pfcd_inode_fd(INODE(ino))) < 0) {
		rc = fd;
	} else {
		pfcd_proc_path(fd, p);
		rc = setxattr(p, enc, stored, slen, flags) < 0 ? -errno : 0;
		pfcd_inode_put(INODE(ino));
	}
	free(stored);
	fuse_reply_err(req, -rc);
}

void pfcd_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char p[64], enc[PFC_XATTR_NAME_ENC_BUF];
	uint8_t *stored = NULL, *plain = NULL;
	size_t elen, plen;
	ssize_t n;
	int rc, fd;

	if (!is_user(name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	rc = pfc_xattr_name_encrypt(pfcd_g->vk, name, strlen(name), enc, sizeof(enc), &elen);
	if (rc < 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	stored = malloc(XATTR_BUF);
	plain = malloc(XATTR_BUF);
	if (!stored || !plain) {
		rc = -ENOMEM;
		goto out;
	}
	fd = pfcd_inode_fd(INODE(ino));
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	pfcd_proc_path(fd, p);
	n = getxattr(p, enc, stored, XATTR_BUF);
	rc = n < 0 ? -errno : 0;
	pfcd_inode_put(INODE(ino));
	if (rc < 0)
		goto out;
	rc = pfc_xattr_value_decrypt(pfcd_g->vk, enc, elen, stored, (size_t)n, plain, XATTR_BUF,
				     &plen);
	if (rc < 0) {
		rc = -EIO;
		goto out;
	}
	if (size == 0)
		fuse_reply_xattr(req, plen);
	else if (size < plen)
		rc = -ERANGE;
	else
		fuse_reply_buf(req, (const char *)plain, plen);
out:
	if (rc < 0)
		fuse_reply_err(req, -rc);
	free(stored);
	free(plain);
}

void pfcd_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char p[64], *names = NULL, *out = NULL;
	size_t olen = 0;
	ssize_t n;
	int rc = 0, fd = pfcd_inode_fd(INODE(ino));

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	pfcd_proc_path(fd, p);
	n = listxattr(p, NULL, 0);
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	names = malloc((size_t)n + 1);
	out = malloc((size_t)n + 1);
	if (!names || !out) {
		rc = -ENOMEM;
		goto out;
	}
	n = listxattr(p, names, (size_t)n);
	if (n < 0) {
		rc = errno == ERANGE ? -EAGAIN : -errno;
		goto out;
	}
	for (char *s = names; s < names + n; s += strlen(s) + 1) {
		char plain[5 + PFC_XATTR_SUFFIX_MAX + 1];
		size_t plen;

		if (pfc_xattr_name_decrypt(pfcd_g->vk, s, strlen(s), plain, sizeof(plain), &plen) <
		    0)
			continue; /* not ours, or not decryptable: not listed */
		/* a decrypted name is never longer than its encryption */
		memcpy(out + olen, plain, plen + 1);
		olen += plen + 1;
	}
	if (size == 0)
		fuse_reply_xattr(req, olen);
	else if (size < olen)
		rc = -ERANGE;
	else
		fuse_reply_buf(req, out, olen);
out:
	if (rc < 0)
		fuse_reply_err(req, -rc);
	free(names);
	free(out);
	pfcd_inode_put(INODE(ino));
}

void pfcd_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	char p[64], enc[PFC_XATTR_NAME_ENC_BUF];
	size_t elen;
	int rc, fd;

	if (!is_user(name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	rc = pfc_xattr_name_encrypt(pfcd_g->vk, name, strlen(name), enc, sizeof(enc), &elen);
	if (rc < 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	fd = pfcd_inode_fd(INODE(ino));
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	pfcd_proc_path(fd, p);
	rc = removexattr(p, enc) < 0 ? errno : 0;
	pfcd_inode_put(INODE(ino));
	fuse_reply_err(req, rc);
}
