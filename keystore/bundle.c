// SPDX-License-Identifier: MIT
/* bundle.c - export bundles (PROTOCOL.md section 6). */
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/bundle.h"

/*
 * Plaintext v1: u8 payload version = 1, u8 name_len, name, u16 count, count x
 * (u32 version, u64 created, 32-byte key), versions strictly increasing.
 */
#define BUNDLE_PAYLOAD_VERSION 1
#define BUNDLE_MAX_VERSIONS    1024

int pfc_bundle_kdf(const char *name, size_t len, struct pfc_kdf *kdf)
{
	char buf[16];

	if (len == 0)
		return pfc_kdf_from_name(PFC_BUNDLE_KDF_DEFAULT, kdf);
	if (!name || len >= sizeof(buf) || memchr(name, '\0', len))
		return PFC_ERR_INVAL;
	memcpy(buf, name, len);
	buf[len] = '\0';
	return pfc_kdf_from_name(buf, kdf);
}

/* The plaintext of a bundle of name's versions (n == 0: every non-retired one)
 * into *pt, a secure writer this function initialises (freed on failure). */
static int build_payload(const struct pfc_keyring *kr, const char *name, size_t nlen,
			 const uint32_t *versions, size_t n, struct pfc_wbuf *pt)
{
	size_t count = 0, count_off;
	int rc;

	if ((rc = pfc_ks_name_check(name, nlen)) < 0)
		return rc;
	if (n > BUNDLE_MAX_VERSIONS)
		return PFC_ERR_TOO_LARGE;
	if ((rc = pfc_wbuf_init(pt, 256, true)) < 0)
		return rc;
	pfc_wbuf_put_u8(pt, BUNDLE_PAYLOAD_VERSION);
	pfc_wbuf_put_u8(pt, (uint8_t)nlen);
	pfc_wbuf_put_bytes(pt, name, nlen);
	count_off = pfc_wbuf_len(pt);
	pfc_wbuf_put_u16(pt, 0);
	for (size_t i = 0; i < kr->n; i++) {
		const struct pfc_ks_entry *e = &kr->e[i];
		bool want = n == 0;

		if (strlen(e->name) != nlen || memcmp(e->name, name, nlen) != 0)
			continue;
		for (size_t j = 0; j < n; j++)
			want = want || versions[j] == e->version;
		if (!want || (n == 0 && e->state == PFC_KS_RETIRED))
			continue;
		if (e->state == PFC_KS_RETIRED) {
			rc = PFC_ERR_KEY_RETIRED;
			goto fail;
		}
		pfc_wbuf_put_u32(pt, e->version);
		pfc_wbuf_put_u64(pt, e->created);
		pfc_wbuf_put_bytes(pt, e->key, sizeof(e->key));
		count++;
	}
	/* every explicitly requested version must exist */
	for (size_t j = 0; j < n; j++)
		if (!pfc_keyring_find(kr, name, nlen, versions[j])) {
			rc = PFC_ERR_KEY_UNKNOWN;
			goto fail;
		}
	if (count == 0) {
		rc = PFC_ERR_KEY_UNKNOWN;
		goto fail;
	}
	if (count > BUNDLE_MAX_VERSIONS) {
		rc = PFC_ERR_TOO_LARGE;
		goto fail;
	}
	pfc_wbuf_patch_u16(pt, count_off, (uint16_t)count);
	if ((rc = pfc_wbuf_error(pt)) < 0)
		goto fail;
	return 0;
fail:
	pfc_wbuf_free(pt);
	return rc;
}

int pfc_bundle_export(const struct pfc_keyring *kr, const char *name, size_t nlen,
		      const uint32_t *versions, size_t n, const uint8_t *pass, size_t pass_len,
		      const struct pfc_kdf *kdf, struct pfc_wbuf *out)
{
	struct pfc_skey *sk = NULL;
	struct pfc_kdf k = *kdf;
	struct pfc_wbuf pt;
	int rc;

	if ((rc = build_payload(kr, name, nlen, versions, n, &pt)) < 0)
		return rc;
	pfc_kdf_new_salt(&k);
	if ((rc = pfc_skey_derive(PFC_SEAL_MAGIC_BUNDLE, pass, pass_len, &k, &sk)) == 0)
		rc =
		    pfc_seal(PFC_SEAL_MAGIC_BUNDLE, sk, pfc_wbuf_data(&pt), pfc_wbuf_len(&pt), out);
	pfc_skey_free(sk);
	pfc_wbuf_free(&pt);
	return rc;
}

int pfc_bundle_export_key(const struct pfc_keyring *kr, const char *name, size_t nlen,
			  const uint32_t *versions, size_t n, const struct pfc_skey *sk,
			  struct pfc_wbuf *out)
{
	struct pfc_wbuf pt;
	int rc;

	if ((rc = build_payload(kr, name, nlen, versions, n, &pt)) < 0)
		return rc;
	rc = pfc_seal(PFC_SEAL_MAGIC_BUNDLE, sk, pfc_wbuf_data(&pt), pfc_wbuf_len(&pt), out);
	pfc_wbuf_free(&pt);
	return rc;
}

/* The payload's head: version, name, count of entries. */
static int parse_head(struct pfc_rbuf *r, const uint8_t **np, uint8_t *nl, uint16_t *count)
{
	uint8_t pv;
	int rc;

	if ((rc = pfc_rbuf_get_u8(r, &pv)) < 0 || (rc = pfc_rbuf_get_u8(r, nl)) < 0 ||
	    (rc = pfc_rbuf_get_ptr(r, *nl, np)) < 0 || (rc = pfc_rbuf_get_u16(r, count)) < 0)
		return rc;
	if (pv != BUNDLE_PAYLOAD_VERSION)
		return PFC_ERR_UNKNOWN_VERSION;
	if ((rc = pfc_ks_name_check((const char *)*np, *nl)) < 0)
		return rc;
	if (*count == 0 || *count > BUNDLE_MAX_VERSIONS)
		return PFC_ERR_CORRUPT;
	return 0;
}

static bool has_name(const struct pfc_keyring *kr, const uint8_t *np, size_t nl)
{
	for (size_t i = 0; i < kr->n; i++)
		if (strlen(kr->e[i].name) == nl && memcmp(kr->e[i].name, np, nl) == 0)
			return true;
	return false;
}

/*
 * The next entry into e (name np, nl already checked), versions ascending
 * past *last; inserted unless present with the same key (state as given).
 * Returns 1 if added, 0 if already here, or an error.
 */
static int import_entry(struct pfc_keyring *kr, struct pfc_rbuf *r, struct pfc_ks_entry *e,
			const uint8_t *np, uint8_t nl, uint8_t state, uint32_t *last)
{
	const struct pfc_ks_entry *have;
	int rc;

	memset(e, 0, sizeof(*e));
	memcpy(e->name, np, nl);
	if ((rc = pfc_rbuf_get_u32(r, &e->version)) < 0 ||
	    (rc = pfc_rbuf_get_u64(r, &e->created)) < 0 ||
	    (rc = pfc_rbuf_get_bytes(r, e->key, sizeof(e->key))) < 0)
		return rc;
	if (e->version <= *last)
		return PFC_ERR_CORRUPT;
	*last = e->version;
	have = pfc_keyring_find(kr, e->name, nl, e->version);
	if (have) {
		if (have->state == PFC_KS_RETIRED)
			return PFC_ERR_KEY_RETIRED;
		if (sodium_memcmp(have->key, e->key, sizeof(e->key)) != 0)
			return PFC_ERR_CONFLICT;
		return 0;
	}
	e->state = state;
	rc = pfc_keyring_insert(kr, e);
	return rc < 0 ? rc : 1;
}

int pfc_bundle_import(struct pfc_keyring *kr, const uint8_t *bundle, size_t len,
		      const uint8_t *pass, size_t pass_len, uint32_t *imported)
{
	struct pfc_skey *sk = NULL;
	struct pfc_kdf kdf;
	int rc;

	if ((rc = pfc_seal_header(PFC_SEAL_MAGIC_BUNDLE, bundle, len, &kdf)) < 0)
		return rc;
	if ((rc = pfc_skey_derive(PFC_SEAL_MAGIC_BUNDLE, pass, pass_len, &kdf, &sk)) < 0)
		return rc;
	rc = pfc_bundle_import_key(kr, bundle, len, sk, imported);
	pfc_skey_free(sk);
	return rc;
}

int pfc_bundle_import_key(struct pfc_keyring *kr, const uint8_t *bundle, size_t len,
			  const struct pfc_skey *sk, uint32_t *imported)
{
	struct pfc_ks_entry *e = NULL;
	struct pfc_wbuf pt = {0};
	struct pfc_rbuf r;
	const uint8_t *np;
	uint8_t nl;
	uint16_t count;
	uint32_t last = 0, added = 0;
	bool new_name;
	int rc;

	rc = pfc_unseal(PFC_SEAL_MAGIC_BUNDLE, sk, bundle, len, &pt);
	if (rc < 0)
		return rc;
	e = sodium_malloc(sizeof(*e));
	if (!e) {
		rc = PFC_ERR_NOMEM;
		goto out;
	}
	pfc_rbuf_init(&r, pfc_wbuf_data(&pt), pfc_wbuf_len(&pt));
	if ((rc = parse_head(&r, &np, &nl, &count)) < 0)
		goto out;
	/* a name with no entry at all here gets its highest version as primary */
	new_name = !has_name(kr, np, nl);
	for (uint16_t i = 0; i < count; i++) {
		uint8_t state = (new_name && i == count - 1) ? PFC_KS_PRIMARY : PFC_KS_ACTIVE;

		if ((rc = import_entry(kr, &r, e, np, nl, state, &last)) < 0)
			goto out;
		added += (uint32_t)rc;
	}
	if ((rc = pfc_rbuf_expect_end(&r)) < 0)
		goto out;
	if (imported)
		*imported = added;
out:
	sodium_free(e);
	pfc_wbuf_free(&pt);
	return rc;
}
