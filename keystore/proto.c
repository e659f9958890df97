// SPDX-License-Identifier: MIT
/* proto.c - keystore framing and request codec (PROTOCOL.md sections 1-2);
 * the reply codec is proto_reply.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/proto.h"

int pfc_ks_frame_check_len(uint32_t len)
{
	if (len == 0)
		return PFC_ERR_PROTOCOL;
	if (len > PFC_KS_FRAME_MAX)
		return PFC_ERR_TOO_LARGE;
	return 0;
}

uint32_t pfc_ks_frame_len(const uint8_t hdr[PFC_KS_HDR_LEN])
{
	struct pfc_rbuf r;
	uint32_t len = 0;

	pfc_rbuf_init(&r, hdr, PFC_KS_HDR_LEN);
	(void)pfc_rbuf_get_u32(&r, &len); /* cannot fail: PFC_KS_HDR_LEN bytes */
	return len;
}

void pfc_ks_frame_begin(struct pfc_wbuf *w, uint8_t type)
{
	pfc_wbuf_put_u32(w, 0);
	pfc_wbuf_put_u8(w, type);
}

int pfc_ks_frame_end(struct pfc_wbuf *w, size_t start)
{
	size_t n, len = pfc_wbuf_len(w);
	int rc = pfc_wbuf_error(w);

	if (rc < 0)
		return rc;
	if (len < start + PFC_KS_HDR_LEN + 1)
		return PFC_ERR_INVAL;
	n = len - start - PFC_KS_HDR_LEN;
	if (n > PFC_KS_FRAME_MAX)
		return PFC_ERR_TOO_LARGE;
	pfc_wbuf_patch_u32(w, start, (uint32_t)n);
	return pfc_wbuf_error(w);
}

static int get_name(struct pfc_rbuf *r, struct pfc_ks_req *q)
{
	const uint8_t *p;
	size_t n;
	int rc = pfc_rbuf_get_lv16(r, PFC_KS_NAME_MAX, &p, &n);

	if (rc == PFC_ERR_TOO_LARGE)
		return PFC_ERR_NAME_TOO_LONG;
	if (rc < 0)
		return rc;
	if ((rc = pfc_ks_name_check((const char *)p, n)) < 0)
		return rc;
	q->name = (const char *)p;
	q->name_len = n;
	return 0;
}

static int get_pass(struct pfc_rbuf *r, const uint8_t **p, size_t *n)
{
	return pfc_rbuf_get_lv16(r, PFC_KS_PASS_MAX, p, n);
}

/* EXPORT's bundle KDF profile name (version 2): at most PFC_KS_KDF_NAME_MAX bytes. */
static int get_kdf_profile(struct pfc_rbuf *r, struct pfc_ks_req *q)
{
	const uint8_t *p = NULL;
	int rc = pfc_rbuf_get_lv16(r, PFC_KS_KDF_NAME_MAX, &p, &q->kdf_profile_len);

	q->kdf_profile = (const char *)p;
	return rc;
}

/* The proof of a RETIRE or EXPORT, right after the version-1 fields: absent
 * (NULL) when the frame ends before it, as a version-1 request does (refused
 * by the dispatcher); the version-2 fields after it are then absent too. */
static int get_proof(struct pfc_rbuf *r, struct pfc_ks_req *q)
{
	if (pfc_rbuf_left(r) == 0)
		return 0;
	return get_pass(r, &q->proof, &q->proof_len);
}

/* EXPORT's count u32 versions, none 0; kept as a view into the frame. */
static int get_versions(struct pfc_rbuf *r, struct pfc_ks_req *q)
{
	struct pfc_rbuf v;
	uint32_t x;
	int rc;

	if ((rc = pfc_rbuf_get_ptr(r, (size_t)q->count * 4, &q->versions)) < 0)
		return rc;
	pfc_rbuf_init(&v, q->versions, (size_t)q->count * 4);
	for (size_t i = 0; i < q->count; i++) {
		if ((rc = pfc_rbuf_get_u32(&v, &x)) < 0)
			return rc;
		if (x == 0)
			return PFC_ERR_INVAL;
	}
	return 0;
}

/* The fields of each request type, in order (PROTOCOL.md section 2). */
static int decode_fields(struct pfc_rbuf *r, struct pfc_ks_req *q)
{
	int rc = 0;

	switch (q->type) {
	case PFC_KS_HELLO:
		return pfc_rbuf_get_u32(r, &q->version);
	case PFC_KS_STATUS:
	case PFC_KS_LIST:
	case PFC_KS_LOCK:
		return 0;
	case PFC_KS_CREATE:
	case PFC_KS_ROTATE:
		return get_name(r, q);
	case PFC_KS_WRAP:
		if ((rc = get_name(r, q)) < 0 ||
		    (rc = pfc_rbuf_get_lv16(r, PFC_KS_AD_MAX, &q->ad, &q->ad_len)) < 0)
			return rc;
		return pfc_rbuf_get_ptr(r, PFC_BLOB_KEY_LEN, &q->key);
	case PFC_KS_UNWRAP:
	case PFC_KS_REWRAP:
		if ((rc = pfc_rbuf_get_lv16(r, PFC_WRAPPED_MAX, &q->blob, &q->blob_len)) < 0)
			return rc;
		return pfc_rbuf_get_lv16(r, PFC_KS_AD_MAX, &q->ad, &q->ad_len);
	case PFC_KS_GENERATE:
		if ((rc = get_name(r, q)) < 0 ||
		    (rc = pfc_rbuf_get_lv16(r, PFC_KS_AD_MAX - PFC_KS_FILE_ID_LEN, &q->ad,
					    &q->ad_len)) < 0 ||
		    (rc = pfc_rbuf_get_u16(r, &q->count)) < 0)
			return rc;
		return (q->count == 0 || q->count > PFC_KS_GEN_MAX) ? PFC_ERR_INVAL : 0;
	case PFC_KS_RETIRE:
		if ((rc = get_name(r, q)) < 0 || (rc = pfc_rbuf_get_u32(r, &q->version)) < 0)
			return rc;
		if (q->version == 0)
			return PFC_ERR_INVAL;
		if ((rc = get_proof(r, q)) < 0 || !q->proof)
			return rc;
		if ((rc = pfc_rbuf_get_u8(r, &q->flags)) < 0 ||
		    (rc = pfc_rbuf_get_u32(r, &q->delay)) < 0)
			return rc;
		return (q->flags & ~PFC_KS_RETIRE_FLAGS) || q->delay > PFC_KS_RETIRE_DELAY_MAX
			   ? PFC_ERR_INVAL
			   : 0;
	case PFC_KS_CANCEL_RETIRE:
		if ((rc = get_name(r, q)) < 0 || (rc = pfc_rbuf_get_u32(r, &q->version)) < 0 ||
		    (rc = get_pass(r, &q->proof, &q->proof_len)) < 0)
			return rc;
		return q->version == 0 ? PFC_ERR_INVAL : 0;
	case PFC_KS_UNLOCK:
		return get_pass(r, &q->pass, &q->pass_len);
	case PFC_KS_PASSWD:
		if ((rc = get_pass(r, &q->pass, &q->pass_len)) < 0)
			return rc;
		return get_pass(r, &q->pass2, &q->pass2_len);
	case PFC_KS_EXPORT:
		if ((rc = get_name(r, q)) < 0 || (rc = pfc_rbuf_get_u16(r, &q->count)) < 0)
			return rc;
		if ((rc = get_versions(r, q)) < 0 || (rc = get_pass(r, &q->pass, &q->pass_len)) < 0)
			return rc;
		if ((rc = get_proof(r, q)) < 0 || !q->proof)
			return rc;
		return get_kdf_profile(r, q);
	case PFC_KS_IMPORT:
		if ((rc = pfc_rbuf_get_lv32(r, PFC_KS_BUNDLE_MAX, &q->blob, &q->blob_len)) < 0)
			return rc;
		return get_pass(r, &q->pass, &q->pass_len);
	default:
		return PFC_ERR_PROTOCOL;
	}
}

int pfc_ks_req_decode(const uint8_t *body, size_t len, struct pfc_ks_req *req)
{
	struct pfc_ks_req q;
	struct pfc_rbuf r;
	int rc;

	if (!body || !req)
		return PFC_ERR_INVAL;
	if (len == 0)
		return PFC_ERR_PROTOCOL;
	if (len > PFC_KS_FRAME_MAX)
		return PFC_ERR_TOO_LARGE;
	memset(&q, 0, sizeof(q));
	pfc_rbuf_init(&r, body, len);
	if ((rc = pfc_rbuf_get_u8(&r, &q.type)) < 0)
		return rc;
	if ((rc = decode_fields(&r, &q)) < 0)
		return rc;
	if ((rc = pfc_rbuf_expect_end(&r)) < 0)
		return rc;
	*req = q;
	return 0;
}

/* The proof, if the caller has one: without it the request is a version-1
 * one, which the server refuses with a clear reply. */
static void put_proof(struct pfc_wbuf *w, const struct pfc_ks_req *q)
{
	if (q->proof)
		pfc_wbuf_put_lv16(w, q->proof, q->proof_len);
}

int pfc_ks_req_encode(struct pfc_wbuf *w, const struct pfc_ks_req *q)
{
	size_t start = pfc_wbuf_len(w);

	pfc_ks_frame_begin(w, q->type);
	switch (q->type) {
	case PFC_KS_HELLO:
		pfc_wbuf_put_u32(w, q->version);
		break;
	case PFC_KS_STATUS:
	case PFC_KS_LIST:
	case PFC_KS_LOCK:
		break;
	case PFC_KS_CREATE:
	case PFC_KS_ROTATE:
		pfc_wbuf_put_lv16(w, q->name, q->name_len);
		break;
	case PFC_KS_WRAP:
		pfc_wbuf_put_lv16(w, q->name, q->name_len);
		pfc_wbuf_put_lv16(w, q->ad, q->ad_len);
		pfc_wbuf_put_bytes(w, q->key, PFC_BLOB_KEY_LEN);
		break;
	case PFC_KS_UNWRAP:
	case PFC_KS_REWRAP:
		pfc_wbuf_put_lv16(w, q->blob, q->blob_len);
		pfc_wbuf_put_lv16(w, q->ad, q->ad_len);
		break;
	case PFC_KS_GENERATE:
		pfc_wbuf_put_lv16(w, q->name, q->name_len);
		pfc_wbuf_put_lv16(w, q->ad, q->ad_len);
		pfc_wbuf_put_u16(w, q->count);
		break;
	case PFC_KS_RETIRE:
		pfc_wbuf_put_lv16(w, q->name, q->name_len);
		pfc_wbuf_put_u32(w, q->version);
		put_proof(w, q);
		if (q->proof) {
			pfc_wbuf_put_u8(w, q->flags);
			pfc_wbuf_put_u32(w, q->delay);
		}
		break;
	case PFC_KS_CANCEL_RETIRE:
		pfc_wbuf_put_lv16(w, q->name, q->name_len);
		pfc_wbuf_put_u32(w, q->version);
		pfc_wbuf_put_lv16(w, q->proof, q->proof_len);
		break;
	case PFC_KS_UNLOCK:
		pfc_wbuf_put_lv16(w, q->pass, q->pass_len);
		break;
	case PFC_KS_PASSWD:
		pfc_wbuf_put_lv16(w, q->pass, q->pass_len);
		pfc_wbuf_put_lv16(w, q->pass2, q->pass2_len);
		break;
	case PFC_KS_EXPORT:
		pfc_wbuf_put_lv16(w, q->name, q->name_len);
		pfc_wbuf_put_u16(w, q->count);
		pfc_wbuf_put_bytes(w, q->versions, (size_t)q->count * 4);
		pfc_wbuf_put_lv16(w, q->pass, q->pass_len);
		put_proof(w, q);
		if (q->proof)
			pfc_wbuf_put_lv16(w, q->kdf_profile, q->kdf_profile_len);
		break;
	case PFC_KS_IMPORT:
		pfc_wbuf_put_lv32(w, q->blob, q->blob_len);
		pfc_wbuf_put_lv16(w, q->pass, q->pass_len);
		break;
	default:
		return PFC_ERR_INVAL;
	}
	return pfc_ks_frame_end(w, start);
}

int pfc_ks_error_encode(struct pfc_wbuf *w, int err, const char *msg)
{
	size_t start = pfc_wbuf_len(w);
	size_t n = msg ? strnlen(msg, PFC_KS_MSG_MAX - 1) : 0;

	pfc_ks_frame_begin(w, PFC_KS_ERROR);
	pfc_wbuf_put_u32(w, (uint32_t)(err < 0 ? -err : err));
	pfc_wbuf_put_lv16(w, msg, n);
	return pfc_ks_frame_end(w, start);
}

const char *pfc_ks_type_name(uint8_t type)
{
	static const char *const names[] = {
	    [PFC_KS_HELLO] = "hello",	    [PFC_KS_STATUS] = "status",
	    [PFC_KS_CREATE] = "create",	    [PFC_KS_WRAP] = "wrap",
	    [PFC_KS_UNWRAP] = "unwrap",	    [PFC_KS_REWRAP] = "rewrap",
	    [PFC_KS_GENERATE] = "generate", [PFC_KS_ROTATE] = "rotate",
	    [PFC_KS_RETIRE] = "retire",	    [PFC_KS_LIST] = "list",
	    [PFC_KS_LOCK] = "lock",	    [PFC_KS_UNLOCK] = "unlock",
	    [PFC_KS_PASSWD] = "passwd",	    [PFC_KS_EXPORT] = "export",
	    [PFC_KS_IMPORT] = "import",	    [PFC_KS_CANCEL_RETIRE] = "cancel-retire",
	};

	if (type == 0 || type > PFC_KS_TYPE_LAST)
		return "?";
	return names[type];
}

const char *pfc_ks_default_socket(char *buf, size_t len)
{
	const char *env = getenv("PFCRYPT_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (xdg && *xdg)
		n = snprintf(buf, len, "%s/pfcrypt/keystore.sock", xdg);
	else if (geteuid() != 0) /* su -, ssh without a session: as ssh-agent, under /tmp */
		n = snprintf(buf, len, "/tmp/pfcrypt-%u/keystore.sock", (unsigned)geteuid());
	else
		n = snprintf(buf, len, "/run/pfcrypt/keystore.sock");
	return (n < 0 || (size_t)n >= len) ? NULL : buf;
}

int pfc_ks_req_versions(const struct pfc_ks_req *q, uint32_t *out)
{
	struct pfc_rbuf r;

	pfc_rbuf_init(&r, q->versions, (size_t)q->count * 4);
	return pfc_rbuf_get_u32_array(&r, q->count, out);
}
