// SPDX-License-Identifier: MIT
/* proto.c - keystore framing and request codec (PROTOCOL.md sections 1-2). */
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
		if ((rc = get_versions(r, q)) < 0)
			return rc;
		if ((rc = get_pass(r, &q->pass, &q->pass_len)) < 0)
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
	    [PFC_KS_HELLO] = "hello",	    [PFC_KS_STATUS] = "status", [PFC_KS_CREATE] = "create",
	    [PFC_KS_WRAP] = "wrap",	    [PFC_KS_UNWRAP] = "unwrap", [PFC_KS_REWRAP] = "rewrap",
	    [PFC_KS_GENERATE] = "generate", [PFC_KS_ROTATE] = "rotate", [PFC_KS_RETIRE] = "retire",
	    [PFC_KS_LIST] = "list",	    [PFC_KS_LOCK] = "lock",	[PFC_KS_UNLOCK] = "unlock",
	    [PFC_KS_PASSWD] = "passwd",	    [PFC_KS_EXPORT] = "export", [PFC_KS_IMPORT] = "import",
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

/* ---- replies (PROTOCOL.md section 3): encoders for the server ---- */

void pfc_ks_put_hello(struct pfc_wbuf *w, const char *sw_version)
{
	pfc_wbuf_put_u32(w, PFC_KS_PROTOCOL_VERSION);
	pfc_wbuf_put_lv16(w, sw_version, strlen(sw_version));
}

void pfc_ks_put_status(struct pfc_wbuf *w, const struct pfc_ks_status *st)
{
	pfc_wbuf_put_u8(w, st->locked ? 1 : 0);
	pfc_wbuf_put_u32(w, st->protocol_version);
	pfc_wbuf_put_u32(w, st->key_count);
	pfc_wbuf_put_u32(w, st->version_count);
	pfc_wbuf_put_u32(w, st->retired_count);
	pfc_wbuf_put_lv16(w, st->kdf_profile, strlen(st->kdf_profile));
}

void pfc_ks_put_blob(struct pfc_wbuf *w, const uint8_t *blob, size_t len)
{
	pfc_wbuf_put_lv16(w, blob, len);
}

void pfc_ks_put_rewrapped(struct pfc_wbuf *w, bool already, const uint8_t *blob, size_t len)
{
	pfc_wbuf_put_u8(w, already ? 1 : 0);
	pfc_wbuf_put_lv16(w, blob, len);
}

uint8_t *pfc_ks_put_key_slot(struct pfc_wbuf *w)
{
	return pfc_wbuf_reserve(w, PFC_BLOB_KEY_LEN);
}

void pfc_ks_put_filekeys(struct pfc_wbuf *w, const struct pfc_ks_filekey *fk, uint16_t count)
{
	pfc_wbuf_put_u16(w, count);
	for (unsigned i = 0; i < count; i++) {
		pfc_wbuf_put_bytes(w, fk[i].file_id, sizeof(fk[i].file_id));
		pfc_wbuf_put_bytes(w, fk[i].key, sizeof(fk[i].key));
		pfc_wbuf_put_lv16(w, fk[i].blob, fk[i].blob_len);
	}
}

void pfc_ks_put_list_count(struct pfc_wbuf *w, uint32_t n)
{
	pfc_wbuf_put_u32(w, n);
}

void pfc_ks_put_keyinfo(struct pfc_wbuf *w, const char *name, size_t name_len, uint32_t version,
			uint8_t state, uint64_t created, uint64_t retired)
{
	pfc_wbuf_put_lv16(w, name, name_len);
	pfc_wbuf_put_u32(w, version);
	pfc_wbuf_put_u8(w, state);
	pfc_wbuf_put_u64(w, created);
	pfc_wbuf_put_u64(w, retired);
}

void pfc_ks_put_bundle(struct pfc_wbuf *w, const uint8_t *bundle, size_t len)
{
	pfc_wbuf_put_lv32(w, bundle, len);
}

/* ---- replies: decoders for the client ---- */

static int get_hello(struct pfc_rbuf *r, struct pfc_ks_reply *o)
{
	const uint8_t *sw;
	size_t n;
	int rc = pfc_rbuf_get_u32(r, &o->u32);

	return rc < 0 ? rc : pfc_rbuf_get_lv16(r, PFC_KS_SW_VERSION_MAX, &sw, &n);
}

static int get_status(struct pfc_rbuf *r, struct pfc_ks_status *st)
{
	const uint8_t *p;
	uint8_t locked;
	size_t n;
	int rc;

	if ((rc = pfc_rbuf_get_u8(r, &locked)) < 0 ||
	    (rc = pfc_rbuf_get_u32(r, &st->protocol_version)) < 0 ||
	    (rc = pfc_rbuf_get_u32(r, &st->key_count)) < 0 ||
	    (rc = pfc_rbuf_get_u32(r, &st->version_count)) < 0 ||
	    (rc = pfc_rbuf_get_u32(r, &st->retired_count)) < 0 ||
	    (rc = pfc_rbuf_get_lv16(r, sizeof(st->kdf_profile) - 1, &p, &n)) < 0)
		return rc;
	st->locked = locked != 0;
	memcpy(st->kdf_profile, p, n);
	st->kdf_profile[n] = '\0';
	return 0;
}

static int get_blob(struct pfc_rbuf *r, bool with_flag, struct pfc_ks_reply *o)
{
	const uint8_t *p;
	uint8_t already = 0;
	int rc;

	if (with_flag && (rc = pfc_rbuf_get_u8(r, &already)) < 0)
		return rc;
	if ((rc = pfc_rbuf_get_lv16(r, PFC_WRAPPED_MAX, &p, &o->blob_len)) < 0)
		return rc;
	memcpy(o->blob, p, o->blob_len);
	o->already = already != 0;
	return 0;
}

static int get_filekeys(struct pfc_rbuf *r, struct pfc_ks_reply *o)
{
	uint16_t n;
	int rc;

	if ((rc = pfc_rbuf_get_u16(r, &n)) < 0)
		return rc;
	if (n != o->count)
		return PFC_ERR_PROTOCOL;
	for (unsigned i = 0; i < n; i++) {
		struct pfc_ks_filekey *f = &o->filekeys[i];
		const uint8_t *p;

		if ((rc = pfc_rbuf_get_bytes(r, f->file_id, sizeof(f->file_id))) < 0 ||
		    (rc = pfc_rbuf_get_bytes(r, f->key, sizeof(f->key))) < 0 ||
		    (rc = pfc_rbuf_get_lv16(r, PFC_WRAPPED_MAX, &p, &f->blob_len)) < 0)
			return rc;
		memcpy(f->blob, p, f->blob_len);
	}
	return 0;
}

static int get_keyinfo(struct pfc_rbuf *r, struct pfc_ks_keyinfo *k)
{
	const uint8_t *p;
	size_t nl;
	uint8_t st;
	int rc;

	if ((rc = pfc_rbuf_get_lv16(r, PFC_KS_NAME_MAX, &p, &nl)) < 0 ||
	    (rc = pfc_rbuf_get_u32(r, &k->version)) < 0 || (rc = pfc_rbuf_get_u8(r, &st)) < 0 ||
	    (rc = pfc_rbuf_get_u64(r, &k->created)) < 0 ||
	    (rc = pfc_rbuf_get_u64(r, &k->retired)) < 0)
		return rc;
	if (pfc_ks_name_check((const char *)p, nl) < 0 || st < PFC_KS_PRIMARY ||
	    st > PFC_KS_RETIRED)
		return PFC_ERR_PROTOCOL;
	memcpy(k->name, p, nl);
	k->state = (enum pfc_ks_state)st;
	return 0;
}

static int get_list(struct pfc_rbuf *r, struct pfc_ks_reply *o)
{
	struct pfc_ks_keyinfo *v;
	uint32_t n;
	int rc;

	if ((rc = pfc_rbuf_get_u32(r, &n)) < 0)
		return rc;
	/* every entry takes at least 23 bytes: bound n before allocating */
	if ((size_t)n > pfc_rbuf_left(r) / 23)
		return PFC_ERR_PROTOCOL;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return PFC_ERR_NOMEM;
	for (uint32_t i = 0; i < n; i++)
		if ((rc = get_keyinfo(r, &v[i])) < 0) {
			free(v);
			return rc;
		}
	o->list = v;
	o->n = n;
	return 0;
}

static int get_bundle(struct pfc_rbuf *r, struct pfc_ks_reply *o)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if ((rc = pfc_rbuf_get_lv32(r, PFC_KS_BUNDLE_MAX, &p, &n)) < 0)
		return rc;
	o->bundle = sodium_malloc(n ? n : 1);
	if (!o->bundle)
		return PFC_ERR_NOMEM;
	memcpy(o->bundle, p, n);
	o->bundle_len = n;
	return 0;
}

static int reply_fields(uint8_t type, struct pfc_rbuf *r, struct pfc_ks_reply *o)
{
	switch (type) {
	case PFC_KS_HELLO:
		return get_hello(r, o);
	case PFC_KS_STATUS:
		return get_status(r, &o->status);
	case PFC_KS_CREATE:
	case PFC_KS_ROTATE:
	case PFC_KS_IMPORT:
		return pfc_rbuf_get_u32(r, &o->u32);
	case PFC_KS_WRAP:
	case PFC_KS_REWRAP:
		return o->blob ? get_blob(r, type == PFC_KS_REWRAP, o) : PFC_ERR_INVAL;
	case PFC_KS_UNWRAP:
		return o->key ? pfc_rbuf_get_bytes(r, o->key, PFC_BLOB_KEY_LEN) : PFC_ERR_INVAL;
	case PFC_KS_GENERATE:
		return o->filekeys ? get_filekeys(r, o) : PFC_ERR_INVAL;
	case PFC_KS_LIST:
		return get_list(r, o);
	case PFC_KS_EXPORT:
		return get_bundle(r, o);
	case PFC_KS_RETIRE:
	case PFC_KS_LOCK:
	case PFC_KS_UNLOCK:
	case PFC_KS_PASSWD:
		return 0;
	default:
		return PFC_ERR_INVAL;
	}
}

/* The outputs the decoder allocated, freed after a later failure. */
static void reply_release(struct pfc_ks_reply *o)
{
	free(o->list);
	o->list = NULL;
	o->n = 0;
	sodium_free(o->bundle);
	o->bundle = NULL;
	o->bundle_len = 0;
}

int pfc_ks_reply_decode(uint8_t type, const uint8_t *fields, size_t len, struct pfc_ks_reply *out)
{
	struct pfc_rbuf r;
	int rc;

	if (!out || (!fields && len))
		return PFC_ERR_INVAL;
	pfc_rbuf_init(&r, fields, len);
	rc = reply_fields(type, &r, out);
	if (rc >= 0 && pfc_rbuf_expect_end(&r) < 0)
		rc = PFC_ERR_PROTOCOL;
	if (rc == PFC_ERR_TRUNCATED || rc == PFC_ERR_CORRUPT || rc == PFC_ERR_TOO_LARGE)
		rc = PFC_ERR_PROTOCOL;
	if (rc < 0)
		reply_release(out);
	return rc;
}

int pfc_ks_error_decode(const uint8_t *fields, size_t len, char msg[PFC_KS_MSG_MAX])
{
	struct pfc_rbuf r;
	const uint8_t *m;
	uint32_t code;
	size_t ml;

	pfc_rbuf_init(&r, fields, len);
	if (pfc_rbuf_get_u32(&r, &code) < 0 ||
	    pfc_rbuf_get_lv16(&r, PFC_KS_MSG_MAX - 1, &m, &ml) < 0 || code == 0 ||
	    code >= PFC_ERR_COUNT)
		return PFC_ERR_PROTOCOL;
	for (size_t i = 0; i < ml; i++)
		msg[i] = (m[i] >= 0x20 && m[i] < 0x7f) ? (char)m[i] : '?';
	msg[ml] = '\0';
	return -(int)code;
}
