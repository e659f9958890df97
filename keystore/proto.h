/* SPDX-License-Identifier: MIT */
/*
 * proto.h - keystore wire protocol: framing and request codec, shared by the
 * server and the client library.  PROTOCOL.md is the byte-level truth.
 *
 * Frame: u32 LE length (of what follows: 1..PFC_KS_FRAME_MAX) || u8 type ||
 * fields.  Replies use type | PFC_KS_REPLY, or PFC_KS_ERROR with a code and
 * a short message.  Requests are decoded into struct pfc_ks_req whose pointers
 * point into the frame (no copy): the frame must outlive the request.
 */
#ifndef PFC_KS_PROTO_H
#define PFC_KS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "fs/buf.h"
#include "keystore/client.h"

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
	PFC_KS_TYPE_LAST = 0x0F,
	PFC_KS_REPLY = 0x80, /* reply type = request type | PFC_KS_REPLY */
	PFC_KS_ERROR = 0xFF, /* u32 code (positive PFC_ERR_*), lv16 message */
};

/* A decoded request.  Which fields are set depends on type (PROTOCOL.md). */
struct pfc_ks_req {
	uint8_t type;
	uint32_t version; /* HELLO: client protocol; RETIRE: key version */
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
};

/* Check a received length field: PFC_ERR_PROTOCOL if 0, PFC_ERR_TOO_LARGE
 * if past PFC_KS_FRAME_MAX. */
int pfc_ks_frame_check_len(uint32_t len);
/* Start a frame in w (reserve the length, put the type); finish with end. */
void pfc_ks_frame_begin(struct pfc_wbuf *w, uint8_t type);
/* Patch the length of the frame started at offset start; PFC_ERR_TOO_LARGE
 * if past the maximum, or the writer's sticky error. */
int pfc_ks_frame_end(struct pfc_wbuf *w, size_t start);

/* u32-length-prefixed bytes (bundles), at most max. */
int pfc_ks_get_lv32(struct pfc_rbuf *r, size_t max, const uint8_t **p, size_t *n);
void pfc_ks_put_lv32(struct pfc_wbuf *w, const void *p, size_t n);

/*
 * Decode a request body (type byte + fields, i.e. the frame without its
 * length).  Every field checked against PROTOCOL.md, trailing bytes refused.
 * PFC_ERR_PROTOCOL for an unknown type, PFC_ERR_TRUNCATED, PFC_ERR_TOO_LARGE,
 * PFC_ERR_CORRUPT, PFC_ERR_NAME_*, PFC_ERR_INVAL for out-of-range values.
 */
int pfc_ks_req_decode(const uint8_t *body, size_t len, struct pfc_ks_req *req);
/* Encode req as a whole frame (length included) into w. */
int pfc_ks_req_encode(struct pfc_wbuf *w, const struct pfc_ks_req *req);
/* Encode an error reply frame; msg is a fixed string, truncated to
 * PFC_KS_MSG_MAX - 1. */
int pfc_ks_error_encode(struct pfc_wbuf *w, int err, const char *msg);
/* The request type's name for logs ("unwrap"), "?" if unknown. */
const char *pfc_ks_type_name(uint8_t type);

#endif
