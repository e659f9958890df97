// SPDX-License-Identifier: MIT
/* err.c - messages and errno mapping for enum pfc_err. */
#include <errno.h>
#include <stddef.h>

#include "fs/err.h"

struct err_desc {
	const char *name;
	const char *msg;
	int errnum;
};

/* Indexed by -err. */
static const struct err_desc descs[PFC_ERR_COUNT] = {
	[0] = {"PFC_OK", "success", 0},
	[1] = {"PFC_ERR_INVAL", "invalid argument", EINVAL},
	[2] = {"PFC_ERR_NOMEM", "out of memory (or locked memory)", ENOMEM},
	[3] = {"PFC_ERR_TRUNCATED", "truncated data", EIO},
	[4] = {"PFC_ERR_TOO_LARGE", "length exceeds the maximum", EFBIG},
	[5] = {"PFC_ERR_BAD_MAGIC", "not a pfcrypt object (bad magic)", EIO},
	[6] = {"PFC_ERR_UNKNOWN_VERSION", "unknown format or protocol version", EPROTONOSUPPORT},
	[7] = {"PFC_ERR_AUTH", "authentication failed (tampered or wrong key)", EIO},
	[8] = {"PFC_ERR_CORRUPT", "corrupt structure", EIO},
	[9] = {"PFC_ERR_CIPHER_UNAVAILABLE", "cipher not available on this CPU or libsodium",
	       ENOTSUP},
	[10] = {"PFC_ERR_NAME_INVALID", "invalid name", EINVAL},
	[11] = {"PFC_ERR_NAME_TOO_LONG", "name too long", ENAMETOOLONG},
	[12] = {"PFC_ERR_IO", "I/O error", EIO},
	[13] = {"PFC_ERR_KEY_RETIRED", "master-key version retired", ENOKEY},
	[14] = {"PFC_ERR_KEY_UNKNOWN", "unknown master key or version", ENOKEY},
	[15] = {"PFC_ERR_LOCKED", "keystore is locked", ENOKEY},
	[16] = {"PFC_ERR_PROTOCOL", "protocol error", EPROTO},
	[17] = {"PFC_ERR_DENIED", "permission denied", EACCES},
	[18] = {"PFC_ERR_EXISTS", "already exists", EEXIST},
	[19] = {"PFC_ERR_NOT_FOUND", "not found", ENOENT},
	[20] = {"PFC_ERR_TIMEOUT", "timed out", ETIMEDOUT},
	[21] = {"PFC_ERR_UNREACHABLE", "keystore unreachable", ENOKEY},
	[22] = {"PFC_ERR_BAD_PASSPHRASE", "wrong passphrase", EACCES},
	[23] = {"PFC_ERR_CONFLICT", "conflicts with existing different data", EEXIST},
	[24] = {"PFC_ERR_BUSY", "in use", EBUSY},
	[25] = {"PFC_ERR_UNTRUSTED", "keystore socket not trusted", ENOKEY},
	[26] = {"PFC_ERR_KEY_RETIRING", "master-key version scheduled for destruction", ENOKEY},
};

static const struct err_desc *lookup(int err)
{
	if (err > 0 || err <= -PFC_ERR_COUNT)
		return NULL;
	return &descs[-err];
}

const char *pfc_strerror(int err)
{
	const struct err_desc *d = lookup(err);

	return d ? d->msg : "unknown error";
}

int pfc_err_to_errno(int err)
{
	const struct err_desc *d = lookup(err);

	return d ? d->errnum : EIO;
}

const char *pfc_err_name(int err)
{
	const struct err_desc *d = lookup(err);

	return d ? d->name : "PFC_ERR_UNKNOWN";
}
