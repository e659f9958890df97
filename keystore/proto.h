/* SPDX-License-Identifier: MIT */
/*
 * proto.h - keystore wire protocol: framing and request codec, shared by the
 * server and the client library.  PROTOCOL.md is the byte-level truth.
 *
 * Frame: u32 LE length (of what follows: 1..PFC_KS_FRAME_MAX) || u8 type ||
 * fields.  Replies use type | PFC_KS_REPLY, or PFC_KS_ERROR with a code and
 * a short message.  Requests are decoded into struct pfc_ks_req whose pointers
 * point into the frame (no copy): the frame must outlive the request.
 *
 * Also the wire types (status, key info, file keys, limits) that the server,
 * the keyring and the client library share: the server side includes this
 * header, never keystore/client.h.  The reply codec is here too: the server
 * builds each reply with the pfc_ks_put_* encoders, the client reads it with
 * pfc_ks_reply_decode() (PROTOCOL.md section 3).
 */
#ifndef PFC_KS_PROTO_H
#define PFC_KS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/buf.h"
#include "keystore/blob.h"
#include "keystore/duration.h"
#include "keystore/passphrase.h"

#define PFC_KS_PROTOCOL_VERSION	   2
#define PFC_KS_FILE_ID_LEN	   16
#define PFC_KS_GEN_MAX		   256		/* most file keys per generate request */
#define PFC_KS_PASS_MAX		   PFC_PASS_MAX /* longest passphrase: the reader's */
#define PFC_KS_MSG_MAX		   128		/* longest server message kept */
#define PFC_KS_EXPORT_VERSIONS_MAX 1024		/* most versions one export request names */
#define PFC_KS_KDF_NAME_MAX	   15		/* longest KDF profile name (EXPORT, STATUS) */

#define PFC_KS_HDR_LEN	      4
#define PFC_KS_FRAME_MAX      (256u * 1024u) /* type + fields */
#define PFC_KS_BUNDLE_MAX     (128u * 1024u) /* export bundle */
#define PFC_KS_SW_VERSION_MAX 64

enum pfc_ks_type {
	PFC_KS_HELLO = 0x01,
	PFC_KS_STATUS = 0x02,
	PFC_KS_CREATE = 0x03,
	PFC_KS_WRAP = 0x04,
	PFC_KS_UNWRAP = 0x05,
	PFC_KS_REWRAP = 0x06,
	PFC_KS_GENERATE = 0x07,
	PFC_KS_ROTATE = 0x08,
	PFC_KS_RETIRE = 0x09,
	PFC_KS_LIST = 0x0A,
	PFC_KS_LOCK = 0x0B,
	PFC_KS_UNLOCK = 0x0C,
	PFC_KS_PASSWD = 0x0D,
	PFC_KS_EXPORT = 0x0E,
	PFC_KS_IMPORT = 0x0F,
	PFC_KS_CANCEL_RETIRE = 0x10,
	PFC_KS_TYPE_LAST = 0x10,
	PFC_KS_REPLY = 0x80, /* reply type = request type | PFC_KS_REPLY */
	PFC_KS_ERROR = 0xFF, /* u32 code (positive PFC_ERR_*), lv16 message */
};

struct pfc_ks_status {
	bool locked;
	uint32_t protocol_version; /* server's */
	uint32_t key_count;	   /* master-key names (0 when locked) */
	uint32_t version_count;	   /* versions with key bytes: primary + active */
	uint32_t retired_count;	   /* tombstones */
	char kdf_profile[16];	   /* Argon2id profile of the store, e.g. "moderate" */
};

enum pfc_ks_state {
	PFC_KS_PRIMARY = 1, /* wraps new keys; one per name */
	PFC_KS_ACTIVE = 2,  /* unwraps and rewraps, never wraps */
	PFC_KS_RETIRED = 3, /* tombstone: key bytes destroyed */
	PFC_KS_RETIRING =
	    4, /* destroyed at its deadline; unwraps fail meanwhile (PROTOCOL.md 2.2) */
};

struct pfc_ks_keyinfo {
	char name[PFC_KS_NAME_MAX + 1];
	uint32_t version;
	enum pfc_ks_state state;
	uint64_t created; /* unix seconds */
	uint64_t
	    retired; /* unix seconds: destroyed (retired), to be destroyed (retiring), else 0 */
};

struct pfc_ks_filekey {
	uint8_t file_id[PFC_KS_FILE_ID_LEN]; /* random, made by the keystore */
	uint8_t key[PFC_BLOB_KEY_LEN];	     /* the file key FK */
	uint8_t blob[PFC_WRAPPED_MAX];	     /* FK wrapped with ad_prefix || file_id */
	size_t blob_len;
};

/*
 * Default socket path into buf (len bytes): $PFCRYPT_SOCKET if set, else
 * $XDG_RUNTIME_DIR/pfcrypt/keystore.sock, else /tmp/pfcrypt-$UID/keystore.sock
 * (as ssh-agent; its directory 0700 and the caller's) or, for root,
 * /run/pfcrypt/keystore.sock.
 * Returns buf, or NULL if it does not fit.
 */
const char *pfc_ks_default_socket(char *buf, size_t len);

/* A decoded request.  Which fields are set depends on type (PROTOCOL.md). */
struct pfc_ks_req {
	uint8_t type;
	uint32_t version; /* HELLO: client protocol; RETIRE CANCEL_RETIRE: key version */
	const char *name; /* CREATE WRAP GENERATE ROTATE RETIRE EXPORT; validated */
	size_t name_len;
	const uint8_t *ad; /* WRAP UNWRAP REWRAP; GENERATE: the AD prefix */
	size_t ad_len;
	const uint8_t *blob; /* UNWRAP REWRAP (blob); IMPORT (bundle) */
	size_t blob_len;
	const uint8_t *key;  /* WRAP: 32 bytes */
	const uint8_t *pass; /* UNLOCK; PASSWD old; EXPORT, IMPORT bundle passphrase */
	size_t pass_len;
	const uint8_t *pass2; /* PASSWD new */
	size_t pass2_len;
	uint16_t count;		 /* GENERATE: keys; EXPORT: versions */
	const uint8_t *versions; /* EXPORT: count u32 LE */
	const uint8_t *proof;	 /* RETIRE EXPORT: the store passphrase (PROTOCOL.md 2.1); */
	size_t proof_len;	 /* decoded NULL when absent (a version-1 request) */
	const char
	    *kdf_profile;	/* EXPORT: the bundle's Argon2id profile name, not NUL-terminated */
	size_t kdf_profile_len; /* 0: the default for bundles */
	uint8_t flags;		/* RETIRE: PFC_KS_RETIRE_* */
	uint32_t delay;		/* RETIRE: seconds until destruction, 0 = now */
};

/* RETIRE's flags (PROTOCOL.md section 2.2); other bits are PFC_ERR_INVAL. */
#define PFC_KS_RETIRE_FORCE	0x01u /* skip the keystore's in-use check */
#define PFC_KS_RETIRE_FLAGS	PFC_KS_RETIRE_FORCE
#define PFC_KS_RETIRE_DELAY_MAX (365u * 86400u) /* longest grace period, seconds */

/* Check a received length field: PFC_ERR_PROTOCOL if 0, PFC_ERR_TOO_LARGE
 * if past PFC_KS_FRAME_MAX. */
int pfc_ks_frame_check_len(uint32_t len);
/* The length field of a received frame header (check it with the above). */
uint32_t pfc_ks_frame_len(const uint8_t hdr[PFC_KS_HDR_LEN]);
/* Start a frame in w (reserve the length, put the type); finish with end. */
void pfc_ks_frame_begin(struct pfc_wbuf *w, uint8_t type);
/* Patch the length of the frame started at offset start; PFC_ERR_TOO_LARGE
 * if past the maximum, or the writer's sticky error. */
int pfc_ks_frame_end(struct pfc_wbuf *w, size_t start);

/*
 * Decode a request body (type byte + fields, i.e. the frame without its
 * length).  Every field checked against PROTOCOL.md, trailing bytes refused.
 * PFC_ERR_PROTOCOL for an unknown type, PFC_ERR_TRUNCATED, PFC_ERR_TOO_LARGE,
 * PFC_ERR_CORRUPT, PFC_ERR_NAME_*, PFC_ERR_INVAL for out-of-range values.
 */
int pfc_ks_req_decode(const uint8_t *body, size_t len, struct pfc_ks_req *req);
/* EXPORT's versions out of a decoded request into out (q->count entries). */
int pfc_ks_req_versions(const struct pfc_ks_req *q, uint32_t *out);
/* Encode req as a whole frame (length included) into w. */
int pfc_ks_req_encode(struct pfc_wbuf *w, const struct pfc_ks_req *req);
/* Encode an error reply frame; msg is a fixed string, truncated to
 * PFC_KS_MSG_MAX - 1. */
int pfc_ks_error_encode(struct pfc_wbuf *w, int err, const char *msg);
/*
 * Reply encoders (server side): called between pfc_ks_frame_begin(type |
 * PFC_KS_REPLY) and pfc_ks_frame_end(); errors are the writer's, sticky.
 * CREATE, ROTATE, IMPORT reply one u32 (pfc_wbuf_put_u32); CANCEL_RETIRE,
 * LOCK, UNLOCK, PASSWD reply no fields.
 */
void pfc_ks_put_hello(struct pfc_wbuf *w, const char *sw_version);
void pfc_ks_put_status(struct pfc_wbuf *w, const struct pfc_ks_status *st);
/* WRAP: the blob; REWRAP: already (1 if it was under the primary) then the blob. */
void pfc_ks_put_blob(struct pfc_wbuf *w, const uint8_t *blob, size_t len);
void pfc_ks_put_rewrapped(struct pfc_wbuf *w, bool already, const uint8_t *blob, size_t len);
/* UNWRAP: room for the key in the reply, to unwrap into (NULL on error). */
uint8_t *pfc_ks_put_key_slot(struct pfc_wbuf *w);
/* GENERATE: the count, then each entry. */
void pfc_ks_put_filekeys(struct pfc_wbuf *w, const struct pfc_ks_filekey *fk, uint16_t count);
/* LIST: the count, then each entry (name of name_len bytes). */
void pfc_ks_put_list_count(struct pfc_wbuf *w, uint32_t n);
void pfc_ks_put_keyinfo(struct pfc_wbuf *w, const char *name, size_t name_len, uint32_t version,
			uint8_t state, uint64_t created, uint64_t retired);
/* RETIRE: the state it left the version in (retired, retiring) and when it
 * was or will be destroyed. */
void pfc_ks_put_retired(struct pfc_wbuf *w, uint8_t state, uint64_t when);
/* EXPORT: the bundle (at most PFC_KS_BUNDLE_MAX bytes). */
void pfc_ks_put_bundle(struct pfc_wbuf *w, const uint8_t *bundle, size_t len);

/*
 * Where a reply's fields go (client side).  The caller points the outputs
 * its request type needs at its own memory (locked memory for keys):
 *   HELLO: u32 = the server's protocol version      STATUS: status
 *   CREATE, ROTATE: u32 = the version               IMPORT: u32 = versions added
 *   WRAP: blob (PFC_WRAPPED_MAX bytes), blob_len    REWRAP: the same and already
 *   UNWRAP: key (PFC_BLOB_KEY_LEN bytes)
 *   GENERATE: filekeys (count entries; count set by the caller)
 *   LIST: list (malloc'd by the decoder, free()), n
 *   EXPORT: bundle (sodium_malloc'd by the decoder, sodium_free()), bundle_len
 *   RETIRE: state (PFC_KS_RETIRED or PFC_KS_RETIRING), when
 */
struct pfc_ks_reply {
	uint32_t u32;
	struct pfc_ks_status status;
	uint8_t *blob;
	size_t blob_len;
	bool already;
	uint8_t *key;
	struct pfc_ks_filekey *filekeys;
	unsigned count;
	struct pfc_ks_keyinfo *list;
	size_t n;
	uint8_t *bundle;
	size_t bundle_len;
	uint8_t state;
	uint64_t when;
};

/*
 * Decode the fields of the reply to a request of type type (the reply frame
 * without its length and type byte) into out.  Every field is checked and
 * trailing bytes are refused: PFC_ERR_PROTOCOL for any malformed reply,
 * PFC_ERR_NOMEM, PFC_ERR_INVAL for a type with no reply codec.  On failure
 * nothing is allocated and the outputs may hold partial data (wipe keys).
 */
int pfc_ks_reply_decode(uint8_t type, const uint8_t *fields, size_t len, struct pfc_ks_reply *out);
/*
 * Decode an error reply's fields (code, message) : returns the negative
 * PFC_ERR_* it carries and puts the message, non-printable bytes as '?', in
 * msg (PFC_KS_MSG_MAX bytes); PFC_ERR_PROTOCOL (msg untouched) if malformed.
 */
int pfc_ks_error_decode(const uint8_t *fields, size_t len, char msg[PFC_KS_MSG_MAX]);

/* The request type's name for logs ("unwrap"), "?" if unknown. */
const char *pfc_ks_type_name(uint8_t type);

#endif
