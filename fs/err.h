/* SPDX-License-Identifier: MIT */
/*
 * err.h - the error codes of the format library and the keystore.
 *
 * Every function of fs/ (format part) and keystore/ returns int: 0 for
 * success, a negative PFC_ERR_* for failure.  The daemon turns them into
 * -errno at the FUSE edge with pfc_err_to_errno(); the CLI prints
 * pfc_strerror().  Values are part of the keystore protocol (PROTOCOL.md
 * sends them as positive numbers): never renumber, only append.
 */
#ifndef PFC_ERR_H
#define PFC_ERR_H

enum pfc_err {
	PFC_OK = 0,
	PFC_ERR_INVAL = -1,		 /* bad argument from the caller */
	PFC_ERR_NOMEM = -2,		 /* allocation or mlock failed */
	PFC_ERR_TRUNCATED = -3,		 /* input ends before its structure does */
	PFC_ERR_TOO_LARGE = -4,		 /* a length exceeds its documented maximum */
	PFC_ERR_BAD_MAGIC = -5,		 /* not a pfcrypt object */
	PFC_ERR_UNKNOWN_VERSION = -6,	 /* a version this build does not understand */
	PFC_ERR_AUTH = -7,		 /* authentication failed (tag, MAC, AD mismatch) */
	PFC_ERR_CORRUPT = -8,		 /* structurally invalid (reserved bytes, bad field) */
	PFC_ERR_CIPHER_UNAVAILABLE = -9, /* this CPU or libsodium cannot run the cipher */
	PFC_ERR_NAME_INVALID = -10,	 /* a name with '/', NUL, or "." / ".." */
	PFC_ERR_NAME_TOO_LONG = -11,	 /* a name or target past its limit */
	PFC_ERR_IO = -12,		 /* a system call failed; errno tells more */
	PFC_ERR_KEY_RETIRED = -13,	 /* the master-key version was retired */
	PFC_ERR_KEY_UNKNOWN = -14,	 /* no such master key or version */
	PFC_ERR_LOCKED = -15,		 /* the keystore is locked */
	PFC_ERR_PROTOCOL = -16,		 /* malformed or unexpected message */
	PFC_ERR_DENIED = -17,		 /* peer not allowed */
	PFC_ERR_EXISTS = -18,		 /* already exists */
	PFC_ERR_NOT_FOUND = -19,	 /* no such object */
	PFC_ERR_TIMEOUT = -20,		 /* the peer did not answer in time */
	PFC_ERR_UNREACHABLE = -21,	 /* cannot connect to the keystore */
	PFC_ERR_BAD_PASSPHRASE = -22,	 /* wrong passphrase */
	PFC_ERR_CONFLICT = -23,		 /* would overwrite different bytes */
	PFC_ERR_BUSY = -24,		 /* in use (e.g. live files still under a version) */
	PFC_ERR_UNTRUSTED = -25,	 /* the keystore socket fails the client's checks */
	PFC_ERR_KEY_RETIRING = -26,	 /* the master-key version is scheduled for destruction */
};
#define PFC_ERR_COUNT 27

/* A short fixed English message; never contains data from the caller. */
const char *pfc_strerror(int err);
/* The errno a filesystem user should see for this error (positive). */
int pfc_err_to_errno(int err);
/* The PFC_ERR_* name, e.g. "PFC_ERR_AUTH", for logs and JSON. */
const char *pfc_err_name(int err);

#endif
