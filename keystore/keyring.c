// SPDX-License-Identifier: MIT
/* keyring.c - master keys in memory and the operations on them. */
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/keyring.h"

#define KEYRING_MAX_ENTRIES 65536 /* sanity bound when parsing */

void pfc_keyring_init(struct pfc_keyring *kr)
{
	memset(kr, 0, sizeof(*kr));
}

void pfc_keyring_free(struct pfc_keyring *kr)
{
	sodium_free(kr->e); /* wipes */
	memset(kr, 0, sizeof(*kr));
}

static int reserve(struct pfc_keyring *kr, size_t need)
{
	struct pfc_ks_entry *ne;
	size_t ncap;

	if (need <= kr->cap)
		return 0;
	if (need > KEYRING_MAX_ENTRIES)
		return PFC_ERR_TOO_LARGE;
	ncap = kr->cap ? kr->cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	ne = sodium_malloc(ncap * sizeof(*ne));
	if (!ne)
		return PFC_ERR_NOMEM;
	if (kr->n)
		memcpy(ne, kr->e, kr->n * sizeof(*ne));
	sodium_free(kr->e);
	kr->e = ne;
	kr->cap = ncap;
	return 0;
}

int pfc_keyring_clone(const struct pfc_keyring *kr, struct pfc_keyring *out)
{
	struct pfc_keyring c;
	int rc;

	pfc_keyring_init(&c);
	if ((rc = reserve(&c, kr->n ? kr->n : 1)) < 0)
		return rc;
	if (kr->n)
		memcpy(c.e, kr->e, kr->n * sizeof(*c.e));
	c.n = kr->n;
	*out = c;
	return 0;
}

void pfc_keyring_replace(struct pfc_keyring *dst, struct pfc_keyring *src)
{
	pfc_keyring_free(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

static int cmp(const char *name, size_t nlen, uint32_t version, const struct pfc_ks_entry *e)
{
	size_t el = strlen(e->name);
	int c = memcmp(name, e->name, nlen < el ? nlen : el);

	if (c)
		return c;
	if (nlen != el)
		return nlen < el ? -1 : 1;
	if (version != e->version)
		return version < e->version ? -1 : 1;
	return 0;
}

/* Index of the first entry >= (name, version). */
static size_t lower_bound(const struct pfc_keyring *kr, const char *name, size_t nlen,
			  uint32_t version)
{
	size_t lo = 0, hi = kr->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp(name, nlen, version, &kr->e[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool same_name(const struct pfc_ks_entry *e, const char *name, size_t nlen)
{
	return strlen(e->name) == nlen && memcmp(e->name, name, nlen) == 0;
}

struct pfc_ks_entry *pfc_keyring_find(const struct pfc_keyring *kr, const char *name, size_t nlen,
				      uint32_t version)
{
	size_t i = lower_bound(kr, name, nlen, version);

	if (i < kr->n && cmp(name, nlen, version, &kr->e[i]) == 0)
		return &kr->e[i];
	return NULL;
}

struct pfc_ks_entry *pfc_keyring_primary(const struct pfc_keyring *kr, const char *name,
					 size_t nlen)
{
	for (size_t i = lower_bound(kr, name, nlen, 0);
	     i < kr->n && same_name(&kr->e[i], name, nlen); i++)
		if (kr->e[i].state == PFC_KS_PRIMARY)
			return &kr->e[i];
	return NULL;
}

static uint32_t max_version(const struct pfc_keyring *kr, const char *name, size_t nlen)
{
	uint32_t v = 0;

	for (size_t i = lower_bound(kr, name, nlen, 0);
	     i < kr->n && same_name(&kr->e[i], name, nlen); i++)
		v = kr->e[i].version;
	return v;
}

int pfc_keyring_insert(struct pfc_keyring *kr, const struct pfc_ks_entry *ent)
{
	size_t nlen = strlen(ent->name);
	size_t i;
	int rc;

	if (pfc_keyring_find(kr, ent->name, nlen, ent->version))
		return PFC_ERR_EXISTS;
	if ((rc = reserve(kr, kr->n + 1)) < 0)
		return rc;
	i = lower_bound(kr, ent->name, nlen, ent->version);
	memmove(&kr->e[i + 1], &kr->e[i], (kr->n - i) * sizeof(*kr->e));
	kr->e[i] = *ent;
	kr->n++;
	return 0;
}

void pfc_keyring_counts(const struct pfc_keyring *kr, uint32_t *names, uint32_t *live,
			uint32_t *retired)
{
	*names = *live = *retired = 0;
	for (size_t i = 0; i < kr->n; i++) {
		if (i == 0 || strcmp(kr->e[i].name, kr->e[i - 1].name) != 0)
			(*names)++;
		if (kr->e[i].state == PFC_KS_RETIRED)
			(*retired)++;
		else
			(*live)++;
	}
}

static int new_entry(struct pfc_keyring *kr, const char *name, size_t nlen, uint32_t version,
		     uint64_t now)
{
	struct pfc_ks_entry *e = sodium_malloc(sizeof(*e));
	int rc;

	if (!e)
		return PFC_ERR_NOMEM;
	memset(e, 0, sizeof(*e));
	memcpy(e->name, name, nlen);
	e->state = PFC_KS_PRIMARY;
	e->version = version;
	e->created = now;
	randombytes_buf(e->key, sizeof(e->key));
	rc = pfc_keyring_insert(kr, e);
	sodium_free(e);
	return rc;
}

int pfc_keyring_create(struct pfc_keyring *kr, const char *name, size_t nlen, uint64_t now)
{
	int rc = pfc_ks_name_check(name, nlen);

	if (rc < 0)
		return rc;
	if (max_version(kr, name, nlen))
		return PFC_ERR_EXISTS;
	return new_entry(kr, name, nlen, 1, now);
}

int pfc_keyring_rotate(struct pfc_keyring *kr, const char *name, size_t nlen, uint64_t now,
		       uint32_t *new_version)
{
	uint32_t v = max_version(kr, name, nlen);
	struct pfc_ks_entry *p;
	int rc;

	if (v == 0)
		return PFC_ERR_KEY_UNKNOWN;
	if (v == UINT32_MAX)
		return PFC_ERR_TOO_LARGE;
	if ((rc = new_entry(kr, name, nlen, v + 1, now)) < 0)
		return rc;
	/* demote the old primary (found after the insert: the array may have moved) */
	for (size_t i = lower_bound(kr, name, nlen, 0);
	     i < kr->n && same_name(&kr->e[i], name, nlen); i++) {
		p = &kr->e[i];
		if (p->state == PFC_KS_PRIMARY && p->version != v + 1)
			p->state = PFC_KS_ACTIVE;
	}
	*new_version = v + 1;
	return 0;
}

static void destroy(struct pfc_ks_entry *e, uint64_t now)
{
	sodium_memzero(e->key, sizeof(e->key));
	e->state = PFC_KS_RETIRED;
	e->retired = now;
}

int pfc_keyring_retire(struct pfc_keyring *kr, const char *name, size_t nlen, uint32_t version,
		       uint64_t now, uint32_t delay)
{
	struct pfc_ks_entry *e = pfc_keyring_find(kr, name, nlen, version);

	if (!e)
		return PFC_ERR_KEY_UNKNOWN;
	if (e->state == PFC_KS_RETIRED)
		return PFC_ERR_KEY_RETIRED;
	if (e->state == PFC_KS_PRIMARY)
		return PFC_ERR_BUSY;
	if (delay == 0) {
		destroy(e, now);
	} else {
		e->state = PFC_KS_RETIRING;
		e->retired = now + delay;
	}
	return 0;
}

int pfc_keyring_cancel_retire(struct pfc_keyring *kr, const char *name, size_t nlen,
			      uint32_t version)
{
	struct pfc_ks_entry *e = pfc_keyring_find(kr, name, nlen, version);

	if (!e)
		return PFC_ERR_KEY_UNKNOWN;
	if (e->state == PFC_KS_RETIRED)
		return PFC_ERR_KEY_RETIRED;
	if (e->state != PFC_KS_RETIRING)
		return PFC_ERR_INVAL;
	e->state = PFC_KS_ACTIVE;
	e->retired = 0;
	return 0;
}

uint64_t pfc_keyring_next_deadline(const struct pfc_keyring *kr)
{
	uint64_t next = 0;

	for (size_t i = 0; i < kr->n; i++)
		if (kr->e[i].state == PFC_KS_RETIRING && (!next || kr->e[i].retired < next))
			next = kr->e[i].retired;
	return next;
}

size_t pfc_keyring_expire(struct pfc_keyring *kr, uint64_t now)
{
	size_t n = 0;

	for (size_t i = 0; i < kr->n; i++)
		if (kr->e[i].state == PFC_KS_RETIRING && kr->e[i].retired <= now) {
			destroy(&kr->e[i], now);
			n++;
		}
	return n;
}

int pfc_keyring_wrap(const struct pfc_keyring *kr, const char *name, size_t nlen, const uint8_t *ad,
		     size_t ad_len, const uint8_t key[PFC_BLOB_KEY_LEN], uint8_t *blob,
		     size_t *blob_len)
{
	const struct pfc_ks_entry *p;
	int rc;

	if ((rc = pfc_ks_name_check(name, nlen)) < 0)
		return rc;
	p = pfc_keyring_primary(kr, name, nlen);
	if (!p)
		return PFC_ERR_KEY_UNKNOWN;
	return pfc_blob_seal(p->key, p->name, p->version, ad, ad_len, key, NULL, blob,
			     PFC_WRAPPED_MAX, blob_len);
}

/* The live entry a blob names, or the reason there is none. */
static int blob_entry(const struct pfc_keyring *kr, const uint8_t *blob, size_t len,
		      const struct pfc_ks_entry **out)
{
	char name[PFC_KS_NAME_MAX + 1];
	const struct pfc_ks_entry *e;
	uint32_t v;
	int rc;

	if ((rc = pfc_blob_parse_name_version(blob, len, name, &v)) < 0)
		return rc;
	e = pfc_keyring_find(kr, name, strlen(name), v);
	if (!e)
		return PFC_ERR_KEY_UNKNOWN;
	if (e->state == PFC_KS_RETIRED)
		return PFC_ERR_KEY_RETIRED;
	*out = e;
	return 0;
}

int pfc_keyring_unwrap(const struct pfc_keyring *kr, const uint8_t *blob, size_t len,
		       const uint8_t *ad, size_t ad_len, uint8_t key[PFC_BLOB_KEY_LEN])
{
	const struct pfc_ks_entry *e;
	int rc;

	if ((rc = blob_entry(kr, blob, len, &e)) < 0)
		return rc;
	if (e->state == PFC_KS_RETIRING)
		return PFC_ERR_KEY_RETIRING;
	return pfc_blob_open(e->key, blob, len, ad, ad_len, key);
}

int pfc_keyring_rewrap(const struct pfc_keyring *kr, const uint8_t *blob, size_t len,
		       const uint8_t *ad, size_t ad_len, uint8_t *new_blob, size_t *new_len)
{
	const struct pfc_ks_entry *e, *p;
	uint8_t *k;
	int rc;

	if ((rc = blob_entry(kr, blob, len, &e)) < 0)
		return rc;
	k = sodium_malloc(PFC_BLOB_KEY_LEN);
	if (!k)
		return PFC_ERR_NOMEM;
	/* authenticate the old blob even when it stays as is */
	if ((rc = pfc_blob_open(e->key, blob, len, ad, ad_len, k)) < 0)
		goto out;
	p = pfc_keyring_primary(kr, e->name, strlen(e->name));
	if (!p) {
		rc = PFC_ERR_KEY_UNKNOWN;
		goto out;
	}
	if (p == e) {
		memcpy(new_blob, blob, len);
		*new_len = len;
		rc = 1;
		goto out;
	}
	rc = pfc_blob_seal(p->key, p->name, p->version, ad, ad_len, k, NULL, new_blob,
			   PFC_WRAPPED_MAX, new_len);
out:
	sodium_free(k);
	return rc;
}

int pfc_keyring_generate(const struct pfc_keyring *kr, const char *name, size_t nlen,
			 const uint8_t *prefix, size_t prefix_len, unsigned count,
			 struct pfc_ks_filekey *out)
{
	uint8_t ad[PFC_KS_AD_MAX];
	const struct pfc_ks_entry *p;
	int rc = 0;

	if (count == 0 || count > PFC_KS_GEN_MAX ||
	    prefix_len + PFC_KS_FILE_ID_LEN > PFC_KS_AD_MAX || (prefix_len && !prefix))
		return PFC_ERR_INVAL;
	if ((rc = pfc_ks_name_check(name, nlen)) < 0)
		return rc;
	p = pfc_keyring_primary(kr, name, nlen);
	if (!p)
		return PFC_ERR_KEY_UNKNOWN;
	if (prefix_len)
		memcpy(ad, prefix, prefix_len);
	for (unsigned i = 0; i < count; i++) {
		struct pfc_ks_filekey *f = &out[i];

		randombytes_buf(f->file_id, sizeof(f->file_id));
		randombytes_buf(f->key, sizeof(f->key));
		memcpy(ad + prefix_len, f->file_id, PFC_KS_FILE_ID_LEN);
		rc = pfc_blob_seal(p->key, p->name, p->version, ad, prefix_len + PFC_KS_FILE_ID_LEN,
				   f->key, NULL, f->blob, sizeof(f->blob), &f->blob_len);
		if (rc < 0) {
			sodium_memzero(out, count * sizeof(*out));
			return rc;
		}
	}
	return 0;
}

/*
 * Plaintext v2: u8 payload version = 2, u32 count, count entries of
 *   u8 name_len, name, u32 version, u8 state, u64 created, u64 retired,
 *   32-byte key only when state != retired.  v1 is the same without the
 *   retiring state (4); it is read, never written.
 */
#define PAYLOAD_VERSION 2

int pfc_keyring_serialize(const struct pfc_keyring *kr, struct pfc_wbuf *w)
{
	pfc_wbuf_put_u8(w, PAYLOAD_VERSION);
	pfc_wbuf_put_u32(w, (uint32_t)kr->n);
	for (size_t i = 0; i < kr->n; i++) {
		const struct pfc_ks_entry *e = &kr->e[i];
		size_t nl = strlen(e->name);

		pfc_wbuf_put_u8(w, (uint8_t)nl);
		pfc_wbuf_put_bytes(w, e->name, nl);
		pfc_wbuf_put_u32(w, e->version);
		pfc_wbuf_put_u8(w, e->state);
		pfc_wbuf_put_u64(w, e->created);
		pfc_wbuf_put_u64(w, e->retired);
		if (e->state != PFC_KS_RETIRED)
			pfc_wbuf_put_bytes(w, e->key, sizeof(e->key));
	}
	return pfc_wbuf_error(w);
}

int pfc_keyring_parse(const uint8_t *p, size_t len, struct pfc_keyring *out)
{
	struct pfc_keyring kr;
	struct pfc_ks_entry *e = NULL;
	struct pfc_rbuf r;
	uint32_t n;
	uint8_t pv, nl;
	const uint8_t *np;
	int rc;

	pfc_keyring_init(&kr);
	pfc_rbuf_init(&r, p, len);
	if ((rc = pfc_rbuf_get_u8(&r, &pv)) < 0 || (rc = pfc_rbuf_get_u32(&r, &n)) < 0)
		goto out;
	if (pv != PAYLOAD_VERSION && pv != 1) {
		rc = PFC_ERR_UNKNOWN_VERSION;
		goto out;
	}
	if (n > KEYRING_MAX_ENTRIES) {
		rc = PFC_ERR_TOO_LARGE;
		goto out;
	}
	e = sodium_malloc(sizeof(*e));
	if (!e) {
		rc = PFC_ERR_NOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		memset(e, 0, sizeof(*e));
		if ((rc = pfc_rbuf_get_u8(&r, &nl)) < 0 || (rc = pfc_rbuf_get_ptr(&r, nl, &np)) < 0)
			goto out;
		if ((rc = pfc_ks_name_check((const char *)np, nl)) < 0)
			goto out;
		memcpy(e->name, np, nl);
		if ((rc = pfc_rbuf_get_u32(&r, &e->version)) < 0 ||
		    (rc = pfc_rbuf_get_u8(&r, &e->state)) < 0 ||
		    (rc = pfc_rbuf_get_u64(&r, &e->created)) < 0 ||
		    (rc = pfc_rbuf_get_u64(&r, &e->retired)) < 0)
			goto out;
		if (e->version == 0 || e->state < PFC_KS_PRIMARY ||
		    e->state > (pv == 1 ? PFC_KS_RETIRED : PFC_KS_RETIRING) ||
		    (e->state == PFC_KS_PRIMARY && pfc_keyring_primary(&kr, e->name, nl))) {
			rc = PFC_ERR_CORRUPT;
			goto out;
		}
		if (e->state != PFC_KS_RETIRED &&
		    (rc = pfc_rbuf_get_bytes(&r, e->key, sizeof(e->key))) < 0)
			goto out;
		if ((rc = pfc_keyring_insert(&kr, e)) < 0) {
			rc = rc == PFC_ERR_EXISTS ? PFC_ERR_CORRUPT : rc;
			goto out;
		}
	}
	if ((rc = pfc_rbuf_expect_end(&r)) < 0)
		goto out;
	*out = kr;
	pfc_keyring_init(&kr);
out:
	sodium_free(e);
	pfc_keyring_free(&kr);
	return rc;
}
