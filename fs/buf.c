// SPDX-License-Identifier: MIT
/* buf.c - bounds-checked reader and sticky-error writer (see buf.h). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fs/buf.h"
#include "fs/err.h"

void pfc_rbuf_init(struct pfc_rbuf *r, const void *p, size_t len)
{
	r->p = p;
	r->len = p ? len : 0;
	r->pos = 0;
}

size_t pfc_rbuf_left(const struct pfc_rbuf *r)
{
	return r->len - r->pos;
}

int pfc_rbuf_get_ptr(struct pfc_rbuf *r, size_t n, const uint8_t **p)
{
	if (pfc_rbuf_left(r) < n)
		return PFC_ERR_TRUNCATED;
	if (p)
		*p = r->p + r->pos;
	r->pos += n;
	return 0;
}

int pfc_rbuf_get_bytes(struct pfc_rbuf *r, void *dst, size_t n)
{
	const uint8_t *p;
	int err = pfc_rbuf_get_ptr(r, n, &p);

	if (err)
		return err;
	if (n)
		memcpy(dst, p, n);
	return 0;
}

int pfc_rbuf_get_u8(struct pfc_rbuf *r, uint8_t *v)
{
	return pfc_rbuf_get_bytes(r, v, 1);
}

int pfc_rbuf_get_u16(struct pfc_rbuf *r, uint16_t *v)
{
	const uint8_t *p;
	int err = pfc_rbuf_get_ptr(r, 2, &p);

	if (!err)
		*v = pfc_load_u16(p);
	return err;
}

int pfc_rbuf_get_u32(struct pfc_rbuf *r, uint32_t *v)
{
	const uint8_t *p;
	int err = pfc_rbuf_get_ptr(r, 4, &p);

	if (!err)
		*v = pfc_load_u32(p);
	return err;
}

int pfc_rbuf_get_u64(struct pfc_rbuf *r, uint64_t *v)
{
	const uint8_t *p;
	int err = pfc_rbuf_get_ptr(r, 8, &p);

	if (!err)
		*v = pfc_load_u64(p);
	return err;
}

int pfc_rbuf_skip_zero(struct pfc_rbuf *r, size_t n)
{
	const uint8_t *p;
	int err;

	if (pfc_rbuf_left(r) < n)
		return PFC_ERR_TRUNCATED;
	p = r->p + r->pos;
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return PFC_ERR_CORRUPT;
	err = pfc_rbuf_get_ptr(r, n, NULL);
	return err;
}

/* The len bytes after a length field read from save: at most max; on failure
 * the reader goes back to save. */
static int get_counted(struct pfc_rbuf *r, size_t save, size_t len, size_t max, const uint8_t **p,
		       size_t *n)
{
	int err = len > max ? PFC_ERR_TOO_LARGE : pfc_rbuf_get_ptr(r, len, p);

	if (err) {
		r->pos = save;
		return err;
	}
	*n = len;
	return 0;
}

int pfc_rbuf_get_lv16(struct pfc_rbuf *r, size_t max, const uint8_t **p, size_t *n)
{
	size_t save = r->pos;
	uint16_t len;
	int err = pfc_rbuf_get_u16(r, &len);

	return err ? err : get_counted(r, save, len, max, p, n);
}

int pfc_rbuf_get_lv32(struct pfc_rbuf *r, size_t max, const uint8_t **p, size_t *n)
{
	size_t save = r->pos;
	uint32_t len;
	int err = pfc_rbuf_get_u32(r, &len);

	return err ? err : get_counted(r, save, len, max, p, n);
}

int pfc_rbuf_get_u32_array(struct pfc_rbuf *r, size_t n, uint32_t *dst)
{
	const uint8_t *p;
	int err;

	if (n > SIZE_MAX / 4)
		return PFC_ERR_TRUNCATED;
	err = pfc_rbuf_get_ptr(r, n * 4, &p);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		dst[i] = pfc_load_u32(p + 4 * i);
	return 0;
}

int pfc_box_split(const uint8_t *p, size_t n, size_t nonce_len, size_t tag_len, struct pfc_box *b)
{
	if (!p || n < nonce_len || n - nonce_len < tag_len)
		return PFC_ERR_TRUNCATED;
	b->nonce = p;
	b->ct = p + nonce_len;
	b->ct_len = n - nonce_len;
	b->text_len = b->ct_len - tag_len;
	return 0;
}

int pfc_rbuf_get_box(struct pfc_rbuf *r, size_t n, size_t nonce_len, size_t tag_len,
		     struct pfc_box *b)
{
	struct pfc_box box;
	int err;

	if (pfc_rbuf_left(r) < n)
		return PFC_ERR_TRUNCATED;
	err = pfc_box_split(r->p + r->pos, n, nonce_len, tag_len, &box);
	if (err)
		return err;
	r->pos += n;
	*b = box;
	return 0;
}

int pfc_rbuf_expect_end(const struct pfc_rbuf *r)
{
	return pfc_rbuf_left(r) ? PFC_ERR_CORRUPT : 0;
}

void pfc_wbuf_init_fixed(struct pfc_wbuf *w, void *p, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->p = p;
	w->cap = cap;
}

static uint8_t *wbuf_alloc(size_t n, bool secure)
{
	return secure ? sodium_malloc(n) : malloc(n);
}

static void wbuf_release(uint8_t *p, size_t cap, bool secure)
{
	if (!p)
		return;
	if (secure) {
		sodium_free(p); /* wipes */
	} else {
		sodium_memzero(p, cap);
		free(p);
	}
}

int pfc_wbuf_init(struct pfc_wbuf *w, size_t initial, bool secure)
{
	memset(w, 0, sizeof(*w));
	w->owned = true;
	w->secure = secure;
	if (initial == 0)
		initial = 64;
	w->p = wbuf_alloc(initial, secure);
	if (!w->p) {
		w->err = PFC_ERR_NOMEM;
		return PFC_ERR_NOMEM;
	}
	w->cap = initial;
	return 0;
}

void pfc_wbuf_free(struct pfc_wbuf *w)
{
	if (w->owned)
		wbuf_release(w->p, w->cap, w->secure);
	memset(w, 0, sizeof(*w));
}

void pfc_wbuf_reset(struct pfc_wbuf *w)
{
	if (w->p && w->len)
		sodium_memzero(w->p, w->len);
	w->len = 0;
	w->err = 0;
}

int pfc_wbuf_error(const struct pfc_wbuf *w)
{
	return w->err;
}

uint8_t *pfc_wbuf_reserve(struct pfc_wbuf *w, size_t n)
{
	uint8_t *p;

	if (w->err)
		return NULL;
	if (n > SIZE_MAX / 2 - w->len) {
		w->err = PFC_ERR_TOO_LARGE;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t ncap = w->cap ? w->cap : 64;
		uint8_t *np;

		if (!w->owned) {
			w->err = PFC_ERR_TOO_LARGE;
			return NULL;
		}
		while (ncap < w->len + n)
			ncap *= 2;
		np = wbuf_alloc(ncap, w->secure);
		if (!np) {
			w->err = PFC_ERR_NOMEM;
			return NULL;
		}
		if (w->len)
			memcpy(np, w->p, w->len);
		wbuf_release(w->p, w->cap, w->secure);
		w->p = np;
		w->cap = ncap;
	}
	p = w->p + w->len;
	w->len += n;
	return p;
}

void pfc_wbuf_put_bytes(struct pfc_wbuf *w, const void *src, size_t n)
{
	uint8_t *p = pfc_wbuf_reserve(w, n);

	if (p && n)
		memcpy(p, src, n);
}

void pfc_wbuf_put_zero(struct pfc_wbuf *w, size_t n)
{
	uint8_t *p = pfc_wbuf_reserve(w, n);

	if (p && n)
		memset(p, 0, n);
}

void pfc_wbuf_put_u8(struct pfc_wbuf *w, uint8_t v)
{
	pfc_wbuf_put_bytes(w, &v, 1);
}

void pfc_wbuf_put_u16(struct pfc_wbuf *w, uint16_t v)
{
	uint8_t *p = pfc_wbuf_reserve(w, 2);

	if (p)
		pfc_store_u16(p, v);
}

void pfc_wbuf_put_u32(struct pfc_wbuf *w, uint32_t v)
{
	uint8_t *p = pfc_wbuf_reserve(w, 4);

	if (p)
		pfc_store_u32(p, v);
}

void pfc_wbuf_put_u64(struct pfc_wbuf *w, uint64_t v)
{
	uint8_t *p = pfc_wbuf_reserve(w, 8);

	if (p)
		pfc_store_u64(p, v);
}

void pfc_wbuf_put_lv16(struct pfc_wbuf *w, const void *src, size_t n)
{
	if (w->err)
		return;
	if (n > UINT16_MAX) {
		w->err = PFC_ERR_TOO_LARGE;
		return;
	}
	pfc_wbuf_put_u16(w, (uint16_t)n);
	pfc_wbuf_put_bytes(w, src, n);
}

void pfc_wbuf_put_lv32(struct pfc_wbuf *w, const void *src, size_t n)
{
	if (w->err)
		return;
	if (n > UINT32_MAX) {
		w->err = PFC_ERR_TOO_LARGE;
		return;
	}
	pfc_wbuf_put_u32(w, (uint32_t)n);
	pfc_wbuf_put_bytes(w, src, n);
}

void pfc_wbuf_put_u32_array(struct pfc_wbuf *w, const uint32_t *src, size_t n)
{
	for (size_t i = 0; i < n && !w->err; i++)
		pfc_wbuf_put_u32(w, src[i]);
}

/* Where n bytes at offset off of what was written are, NULL (sticky
 * PFC_ERR_INVAL) if they were not written yet. */
static uint8_t *patch_at(struct pfc_wbuf *w, size_t off, size_t n)
{
	if (w->err)
		return NULL;
	if (off > w->len || w->len - off < n) {
		w->err = PFC_ERR_INVAL;
		return NULL;
	}
	return w->p + off;
}

void pfc_wbuf_patch_u32(struct pfc_wbuf *w, size_t off, uint32_t v)
{
	uint8_t *p = patch_at(w, off, 4);

	if (p)
		pfc_store_u32(p, v);
}

void pfc_wbuf_patch_u16(struct pfc_wbuf *w, size_t off, uint16_t v)
{
	uint8_t *p = patch_at(w, off, 2);

	if (p)
		pfc_store_u16(p, v);
}

const uint8_t *pfc_wbuf_data(const struct pfc_wbuf *w)
{
	return w->p;
}

size_t pfc_wbuf_len(const struct pfc_wbuf *w)
{
	return w->len;
}

size_t pfc_wbuf_cap(const struct pfc_wbuf *w)
{
	return w->cap;
}

const uint8_t *pfc_wbuf_span(const struct pfc_wbuf *w, size_t off, size_t n)
{
	if (off > w->len || w->len - off < n)
		return NULL;
	return w->p + off;
}
