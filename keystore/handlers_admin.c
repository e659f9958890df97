// SPDX-License-Identifier: MIT
/*
 * handlers_admin.c - the keystore's key administration requests (CREATE,
 * ROTATE, RETIRE, CANCEL_RETIRE, LOCK, UNLOCK, PASSWD, EXPORT, IMPORT).  Each
 * mutation is done on a clone of the keyring, written to the store, then
 * swapped in (pfc_ks_commit).  A request with a KDF plan (handlers.c) runs
 * here with its derived keys in r->kdf, its store passphrase already checked.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/log.h"
#include "keystore/keystate.h"
#include "keystore/bundle.h"
#include "keystore/handlers_priv.h"
#include "keystore/retire.h"
#include "keystore/store.h"

int pfc_ks_h_create(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_keyring next;
	int rc;

	if ((rc = pfc_keyring_clone(&s->kr, &next)) < 0)
		return rc;
	if ((rc = pfc_keyring_create(&next, q->name, q->name_len, pfc_ks_now_s())) < 0) {
		pfc_keyring_free(&next);
		return rc;
	}
	if ((rc = pfc_ks_commit(s, &next)) < 0)
		return rc;
	pfc_wbuf_put_u32(r->w, 1);
	return 0;
}

int pfc_ks_h_rotate(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_keyring next;
	uint32_t v;
	int rc;

	if ((rc = pfc_keyring_clone(&s->kr, &next)) < 0)
		return rc;
	if ((rc = pfc_keyring_rotate(&next, q->name, q->name_len, pfc_ks_now_s(), &v)) < 0) {
		pfc_keyring_free(&next);
		return rc;
	}
	if ((rc = pfc_ks_commit(s, &next)) < 0)
		return rc;
	pfc_wbuf_put_u32(r->w, v);
	return 0;
}

/* The proof was checked (plan_proof); the in-use rule is checked here. */
int pfc_ks_h_retire(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	const struct pfc_ks_entry *e = pfc_keyring_find(&s->kr, q->name, q->name_len, q->version);
	struct pfc_keyring next;
	int rc;

	/* PROTOCOL.md 2.2: not while a client still there uses it, unless forced */
	if (e && (e->state == PFC_KS_ACTIVE || e->state == PFC_KS_RETIRING) &&
	    !(q->flags & PFC_KS_RETIRE_FORCE) &&
	    (rc = pfc_ks_retire_check(s, e, pfc_ks_now_s(), r->buf, sizeof(r->buf))) < 0) {
		r->msg = r->buf;
		return rc;
	}
	if ((rc = pfc_keyring_clone(&s->kr, &next)) < 0)
		return rc;
	rc = pfc_keyring_retire(&next, q->name, q->name_len, q->version, pfc_ks_now_s(), q->delay);
	if (rc < 0) {
		r->msg = rc == PFC_ERR_BUSY ? "cannot retire the primary version" : NULL;
		pfc_keyring_free(&next);
		return rc;
	}
	if ((rc = pfc_ks_commit(s, &next)) < 0)
		return rc;
	e = pfc_keyring_find(&s->kr, q->name, q->name_len, q->version);
	pfc_ks_put_retired(r->w, e->state, e->retired);
	return 0;
}

int pfc_ks_h_cancel_retire(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_keyring next;
	int rc;

	if ((rc = pfc_keyring_clone(&s->kr, &next)) < 0)
		return rc;
	rc = pfc_keyring_cancel_retire(&next, q->name, q->name_len, q->version);
	if (rc < 0) {
		if (rc == PFC_ERR_INVAL)
			snprintf(r->buf, sizeof(r->buf), "v%u is not scheduled for destruction",
				 (unsigned)q->version);
		else if (rc == PFC_ERR_KEY_RETIRED)
			snprintf(r->buf, sizeof(r->buf), "too late: v%u was destroyed",
				 (unsigned)q->version);
		r->msg = r->buf[0] ? r->buf : NULL;
		pfc_keyring_free(&next);
		return rc;
	}
	return pfc_ks_commit(s, &next);
}

int pfc_ks_h_lock(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	(void)q;
	(void)r;
	pfc_ks_server_lock(s);
	return 0;
}

/* plan_unlock derived r->kdf->key[0]; when unlocked the dispatcher has checked it. */
int pfc_ks_h_unlock(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_keyring kr;
	int rc;

	(void)q;
	if (!s->locked)
		return 0;
	rc = pfc_store_load_key(s->store_path, r->kdf->key[0], &kr);
	if (rc < 0) {
		if (rc != PFC_ERR_BAD_PASSPHRASE)
			r->msg = "cannot read the store file";
		return rc;
	}
	pfc_keyring_replace(&s->kr, &kr);
	s->sk = r->kdf->key[0];
	r->kdf->key[0] = NULL;
	s->kdf = s->sk->kdf;
	s->locked = false;
	s->key_epoch++;
	return 0;
}

/* plan_passwd: the old passphrase is checked, r->kdf->key[1] is the new key. */
int pfc_ks_h_passwd(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_skey *nk = r->kdf->key[1];
	int rc;

	(void)q;
	if ((rc = pfc_store_save(s->store_path, &s->kr, nk)) < 0)
		return rc;
	pfc_skey_free(s->sk);
	s->sk = nk;
	r->kdf->key[1] = NULL;
	s->kdf = nk->kdf;
	s->key_epoch++;
	return 0;
}

/* plan_export: key[0] was the proof (checked), r->kdf->key[1] is the bundle key. */
int pfc_ks_h_export(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	uint32_t vers[PFC_KS_EXPORT_VERSIONS_MAX];
	struct pfc_wbuf b;
	int rc;

	if (q->count > PFC_KS_EXPORT_VERSIONS_MAX)
		return PFC_ERR_TOO_LARGE;
	if ((rc = pfc_ks_req_versions(q, vers)) < 0 || (rc = pfc_wbuf_init(&b, 512, false)) < 0)
		return rc;
	rc =
	    pfc_bundle_export_key(&s->kr, q->name, q->name_len, vers, q->count, r->kdf->key[1], &b);
	if (rc == 0 && pfc_wbuf_len(&b) > PFC_KS_BUNDLE_MAX)
		rc = PFC_ERR_TOO_LARGE;
	if (rc == 0)
		pfc_ks_put_bundle(r->w, pfc_wbuf_data(&b), pfc_wbuf_len(&b));
	pfc_wbuf_free(&b);
	return rc;
}

int pfc_ks_h_import(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_keyring next;
	uint32_t n = 0;
	int rc;

	if ((rc = pfc_keyring_clone(&s->kr, &next)) < 0)
		return rc;
	/* the bundle key was derived on the KDF worker (plan_import) */
	rc = pfc_bundle_import_key(&next, q->blob, q->blob_len, r->kdf->key[0], &n);
	if (rc < 0) {
		if (rc == PFC_ERR_CONFLICT)
			r->msg = "a version in the bundle differs from the one here";
		else if (rc == PFC_ERR_KEY_RETIRED)
			r->msg = "a version in the bundle is retired here";
		pfc_keyring_free(&next);
		return rc;
	}
	if (n == 0)
		pfc_keyring_free(&next);
	else if ((rc = pfc_ks_commit(s, &next)) < 0)
		return rc;
	pfc_wbuf_put_u32(r->w, n);
	return 0;
}
