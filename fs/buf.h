/* SPDX-License-Identifier: MIT */
/*
 * buf.h - the one bounds-checked buffer type.  Every byte that comes from
 * disk or a socket is parsed through struct pfc_rbuf; every structure that
 * goes to disk or a socket is built with struct pfc_wbuf.  Nothing else
 * reads raw offsets.
 *
 * Integers are little-endian on disk and on the wire.
 *
 * Reader: each get either succeeds and advances, or fails with
 * PFC_ERR_TRUNCATED and leaves the position and the output untouched.
 *
 * Writer: errors are sticky.  A put past a fixed buffer's capacity (or a
 * failed growth) sets w->err and every later put is a no-op, so a caller
 * may chain puts and check pfc_wbuf_error() once at the end.
 * A "secure" writer lives in sodium_malloc memory and is wiped when it
 * grows and when it is freed; use it for anything holding a key.
 */
#ifndef PFC_BUF_H
#define PFC_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pfc_rbuf {
	const uint8_t *p;
	size_t len;
	size_t pos;
};

void pfc_rbuf_init(struct pfc_rbuf *r, const void *p, size_t len);
size_t pfc_rbuf_left(const struct pfc_rbuf *r);
int pfc_rbuf_get_u8(struct pfc_rbuf *r, uint8_t *v);
int pfc_rbuf_get_u16(struct pfc_rbuf *r, uint16_t *v);
int pfc_rbuf_get_u32(struct pfc_rbuf *r, uint32_t *v);
int pfc_rbuf_get_u64(struct pfc_rbuf *r, uint64_t *v);
/* Copy n bytes out. */
int pfc_rbuf_get_bytes(struct pfc_rbuf *r, void *dst, size_t n);
/* Point *p at the next n bytes (no copy) and advance. */
int pfc_rbuf_get_ptr(struct pfc_rbuf *r, size_t n, const uint8_t **p);
/* Skip n reserved bytes that must all be zero (PFC_ERR_CORRUPT if not). */
int pfc_rbuf_skip_zero(struct pfc_rbuf *r, size_t n);
/* A u16 length followed by that many bytes, at most max (PFC_ERR_TOO_LARGE). */
int pfc_rbuf_get_lv16(struct pfc_rbuf *r, size_t max, const uint8_t **p, size_t *n);
/* A u32 length followed by that many bytes, at most max (PFC_ERR_TOO_LARGE). */
int pfc_rbuf_get_lv32(struct pfc_rbuf *r, size_t max, const uint8_t **p, size_t *n);
/* n u32 values into dst[0..n-1]. */
int pfc_rbuf_get_u32_array(struct pfc_rbuf *r, size_t n, uint32_t *dst);
/* PFC_ERR_CORRUPT unless everything was consumed. */
int pfc_rbuf_expect_end(const struct pfc_rbuf *r);

/*
 * An AEAD box: nonce || ciphertext || tag.  ct points at the ciphertext with
 * its tag (libsodium's combined form); ct_len counts both, text_len the
 * ciphertext alone (= the plaintext's length).
 */
struct pfc_box {
	const uint8_t *nonce;
	const uint8_t *ct;
	size_t ct_len;
	size_t text_len;
};

/* The next n bytes as a box with a nonce_len nonce and a tag_len tag;
 * PFC_ERR_TRUNCATED if n < nonce_len + tag_len or fewer than n bytes are left. */
int pfc_rbuf_get_box(struct pfc_rbuf *r, size_t n, size_t nonce_len, size_t tag_len,
		     struct pfc_box *b);
/* Split a whole buffer the same way (a stored value, a blob's tail). */
int pfc_box_split(const uint8_t *p, size_t n, size_t nonce_len, size_t tag_len, struct pfc_box *b);

struct pfc_wbuf {
	uint8_t *p;
	size_t cap;
	size_t len;
	int err;     /* sticky: first error, 0 if none */
	bool owned;  /* p is ours to grow and free */
	bool secure; /* p is sodium_malloc'd and wiped */
};

/* Write into caller memory of cap bytes; never grows. */
void pfc_wbuf_init_fixed(struct pfc_wbuf *w, void *p, size_t cap);
/* Growable buffer; secure=true uses sodium_malloc and wipes. */
int pfc_wbuf_init(struct pfc_wbuf *w, size_t initial, bool secure);
void pfc_wbuf_free(struct pfc_wbuf *w);
/* Forget the contents (wiped if secure), keep the memory. */
void pfc_wbuf_reset(struct pfc_wbuf *w);
int pfc_wbuf_error(const struct pfc_wbuf *w);
void pfc_wbuf_put_u8(struct pfc_wbuf *w, uint8_t v);
void pfc_wbuf_put_u16(struct pfc_wbuf *w, uint16_t v);
void pfc_wbuf_put_u32(struct pfc_wbuf *w, uint32_t v);
void pfc_wbuf_put_u64(struct pfc_wbuf *w, uint64_t v);
void pfc_wbuf_put_bytes(struct pfc_wbuf *w, const void *src, size_t n);
void pfc_wbuf_put_zero(struct pfc_wbuf *w, size_t n);
/* u16 length then bytes; PFC_ERR_TOO_LARGE if n > 65535. */
void pfc_wbuf_put_lv16(struct pfc_wbuf *w, const void *src, size_t n);
/* u32 length then bytes; PFC_ERR_TOO_LARGE if n > UINT32_MAX. */
void pfc_wbuf_put_lv32(struct pfc_wbuf *w, const void *src, size_t n);
/* n u32 values. */
void pfc_wbuf_put_u32_array(struct pfc_wbuf *w, const uint32_t *src, size_t n);
/* Overwrite the u32 at offset off of what was written (a length patched in
 * after the fact); PFC_ERR_INVAL (sticky) if it was not written yet. */
void pfc_wbuf_patch_u32(struct pfc_wbuf *w, size_t off, uint32_t v);
void pfc_wbuf_patch_u16(struct pfc_wbuf *w, size_t off, uint16_t v);
/* What was written so far: its bytes and its length. */
const uint8_t *pfc_wbuf_data(const struct pfc_wbuf *w);
size_t pfc_wbuf_len(const struct pfc_wbuf *w);
/* Bytes of memory it holds (to drop a large buffer). */
size_t pfc_wbuf_cap(const struct pfc_wbuf *w);
/* Bytes [off, off + n) of what was written, NULL if past the end.  Valid
 * until the next put (which may move a growable buffer). */
const uint8_t *pfc_wbuf_span(const struct pfc_wbuf *w, size_t off, size_t n);
/* Reserve n bytes and return a pointer to them (NULL on error), for in-place encryption. */
uint8_t *pfc_wbuf_reserve(struct pfc_wbuf *w, size_t n);

/* Little-endian helpers for fixed-offset fields (header updates). */
static inline void pfc_store_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void pfc_store_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void pfc_store_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t pfc_load_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t pfc_load_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}
static inline uint64_t pfc_load_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#endif
