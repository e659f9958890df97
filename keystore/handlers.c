// SPDX-License-Identifier: MIT
/*
 * handlers.c - the keystore's request handlers: decode a frame, check the
 * lock state, run the one handler of its type, which builds exactly one reply
 * with proto.c's encoders (or an error reply), log who asked for what.  The
 * poll loop and the connections are server.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/log.h"
#include "keystore/bundle.h"
#include "keystore/confirm.h"
#include "keystore/handlers.h"
#include "keystore/proto.h"
#include "keystore/retire.h"
#include "keystore/store.h"
#include "keystore/timers.h"

#ifndef PFC_KS_SW_VERSION
#define PFC_KS_SW_VERSION "pfcrypt-keystore 0.1.0"
#endif

/* A reply under construction: exactly one per request. */
struct reply {
	struct pfc_wbuf *w;
	size_t start;
	const char *msg; /* error message (fixed text, or buf) */
	const struct pfc_ks_peer *peer;
	char buf[PFC_KS_MSG_MAX];
};

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

int pfc_ks_commit(struct pfc_ks_server *s, struct pfc_keyring *next)
{
	int rc = pfc_store_save(s->store_path, next, s->sk);

	if (rc < 0) {
		pfc_err_log("cannot write the store %s: %s", s->store_path, pfc_strerror(rc));
		pfc_keyring_free(next);
		return rc;
	}
	pfc_keyring_replace(&s->kr, next);
	return 0;
}

void pfc_ks_server_lock(struct pfc_ks_server *s)
{
	pfc_keyring_free(&s->kr);
	pfc_skey_free(s->sk);
	s->sk = NULL;
	s->locked = true;
}

/* Check a passphrase against the current store key (unlocked only). */
static int check_pass(struct pfc_ks_server *s, const uint8_t *pass, size_t len)
{
	struct pfc_skey *k = NULL;
	int rc = pfc_skey_derive(PFC_SEAL_MAGIC_STORE, pass, len, &s->sk->kdf, &k);

	if (rc < 0)
		return rc;
	rc = sodium_memcmp(k->check, s->sk->check, sizeof(k->check)) == 0 ? 0
									  : PFC_ERR_BAD_PASSPHRASE;
	pfc_skey_free(k);
	return rc;
}

/* The entry a request's blob names (NULL if none: the blob was checked already). */
static struct pfc_ks_entry *blob_entry(struct pfc_ks_server *s, const struct pfc_ks_req *q)
{
	char name[PFC_KS_NAME_MAX + 1];
	uint32_t v;

	if (pfc_blob_parse_name_version(q->blob, q->blob_len, name, &v) < 0)
		return NULL;
	return pfc_keyring_find(&s->kr, name, strlen(name), v);
}

/* Who used which version: what RETIRE looks at (retire.h). */
static void note_use(const struct pfc_ks_server *s, const struct reply *r, struct pfc_ks_entry *e,
		     uint8_t op)
{
	if (e)
		pfc_ks_note_use(s, e, r->peer, op, now_s());
}

static int h_hello(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	(void)s;
	(void)q;
	pfc_ks_put_hello(r->w, PFC_KS_SW_VERSION);
	return 0;
}

static int h_status(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_ks_status st = {.locked = s->locked,
				   .protocol_version = PFC_KS_PROTOCOL_VERSION};
	const char *prof = pfc_kdf_profile_name(s->kdf.profile);

	(void)q;
	if (!s->locked)
		pfc_keyring_counts(&s->kr, &st.key_count, &st.version_count, &st.retired_count);
	if (strlen(prof) >= sizeof(st.kdf_profile))
		return PFC_ERR_INVAL;
	strcpy(st.kdf_profile, prof);
	pfc_ks_put_status(r->w, &st);
	return 0;
}

static int h_create(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_keyring next;
	int rc;

	if ((rc = pfc_keyring_clone(&s->kr, &next)) < 0)
		return rc;
	if ((rc = pfc_keyring_create(&next, q->name, q->name_len, now_s())) < 0) {
		pfc_keyring_free(&next);
		return rc;
	}
	if ((rc = pfc_ks_commit(s, &next)) < 0)
		return rc;
	pfc_wbuf_put_u32(r->w, 1);
	return 0;
}

static int h_rotate(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_keyring next;
	uint32_t v;
	int rc;

	if ((rc = pfc_keyring_clone(&s->kr, &next)) < 0)
		return rc;
	if ((rc = pfc_keyring_rotate(&next, q->name, q->name_len, now_s(), &v)) < 0) {
		pfc_keyring_free(&next);
		return rc;
	}
	if ((rc = pfc_ks_commit(s, &next)) < 0)
		return rc;
	pfc_wbuf_put_u32(r->w, v);
	return 0;
}

static int h_retire(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	const struct pfc_ks_entry *e = pfc_keyring_find(&s->kr, q->name, q->name_len, q->version);
	struct pfc_keyring next;
	int rc;

	/* PROTOCOL.md 2.2: not while a client still there uses it, unless forced */
	if (e && (e->state == PFC_KS_ACTIVE || e->state == PFC_KS_RETIRING) &&
	    !(q->flags & PFC_KS_RETIRE_FORCE) &&
	    (rc = pfc_ks_retire_check(s, e, now_s(), r->buf, sizeof(r->buf))) < 0) {
		r->msg = r->buf;
		return rc;
	}
	if ((rc = pfc_keyring_clone(&s->kr, &next)) < 0)
		return rc;
	rc = pfc_keyring_retire(&next, q->name, q->name_len, q->version, now_s(), q->delay);
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

static int h_cancel_retire(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
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

static int h_wrap(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	uint8_t blob[PFC_WRAPPED_MAX];
	size_t n;
	int rc = pfc_keyring_wrap(&s->kr, q->name, q->name_len, q->ad, q->ad_len, q->key, blob, &n);

	if (rc < 0)
		return rc;
	note_use(s, r, pfc_keyring_primary(&s->kr, q->name, q->name_len), q->type);
	pfc_ks_put_blob(r->w, blob, n);
	return 0;
}

static int h_unwrap(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	uint8_t *k = pfc_ks_put_key_slot(r->w); /* straight into the reply */
	int rc;

	if (!k)
		return pfc_wbuf_error(r->w);
	rc = pfc_keyring_unwrap(&s->kr, q->blob, q->blob_len, q->ad, q->ad_len, k);
	if (rc == PFC_ERR_KEY_RETIRED)
		r->msg = "master-key version retired: its key was destroyed";
	if (rc == PFC_ERR_KEY_RETIRING) {
		const struct pfc_ks_entry *e = blob_entry(s, q);
		char when[32];

		pfc_ks_fmt_time(e ? e->retired : 0, when, sizeof(when));
		snprintf(r->buf, sizeof(r->buf),
			 "v%u scheduled for destruction at %s; pfcrypt keystore cancel-retire "
			 "restores it",
			 e ? (unsigned)e->version : 0, when);
		r->msg = r->buf;
	}
	if (rc == 0)
		note_use(s, r, blob_entry(s, q), q->type);
	return rc;
}

static int h_rewrap(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	uint8_t blob[PFC_WRAPPED_MAX];
	size_t n;
	int rc = pfc_keyring_rewrap(&s->kr, q->blob, q->blob_len, q->ad, q->ad_len, blob, &n);

	if (rc < 0)
		return rc;
	pfc_ks_put_rewrapped(r->w, rc == 1, blob, n);
	return 0;
}

static int h_generate(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_ks_filekey *fk = sodium_malloc(sizeof(*fk) * q->count);
	int rc;

	if (!fk)
		return PFC_ERR_NOMEM;
	rc = pfc_keyring_generate(&s->kr, q->name, q->name_len, q->ad, q->ad_len, q->count, fk);
	if (rc < 0)
		goto out;
	note_use(s, r, pfc_keyring_primary(&s->kr, q->name, q->name_len), q->type);
	pfc_ks_put_filekeys(r->w, fk, q->count);
out:
	sodium_free(fk);
	return rc;
}

static int h_list(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	(void)q;
	pfc_ks_put_list_count(r->w, (uint32_t)s->kr.n);
	for (size_t i = 0; i < s->kr.n; i++) {
		const struct pfc_ks_entry *e = &s->kr.e[i];

		pfc_ks_put_keyinfo(r->w, e->name, strlen(e->name), e->version, e->state, e->created,
				   e->retired);
	}
	return 0;
}

static int h_lock(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	(void)q;
	(void)r;
	pfc_ks_server_lock(s);
	return 0;
}

static int h_unlock(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_keyring kr;
	struct pfc_skey *sk = NULL;
	int rc;

	if (!s->locked)
		return check_pass(s, q->pass, q->pass_len);
	rc = pfc_store_load(s->store_path, q->pass, q->pass_len, &kr, &sk);
	if (rc < 0) {
		if (rc != PFC_ERR_BAD_PASSPHRASE)
			r->msg = "cannot read the store file";
		return rc;
	}
	pfc_keyring_replace(&s->kr, &kr);
	s->sk = sk;
	s->kdf = sk->kdf;
	s->locked = false;
	return 0;
}

static int h_passwd(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_skey *nk = NULL;
	struct pfc_kdf kdf = s->sk->kdf;
	int rc;

	(void)r;
	if ((rc = check_pass(s, q->pass, q->pass_len)) < 0)
		return rc;
	pfc_kdf_new_salt(&kdf);
	if ((rc = pfc_skey_derive(PFC_SEAL_MAGIC_STORE, q->pass2, q->pass2_len, &kdf, &nk)) < 0)
		return rc;
	if ((rc = pfc_store_save(s->store_path, &s->kr, nk)) < 0) {
		pfc_skey_free(nk);
		return rc;
	}
	pfc_skey_free(s->sk);
	s->sk = nk;
	s->kdf = nk->kdf;
	return 0;
}

static int h_export(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	uint32_t vers[PFC_KS_EXPORT_VERSIONS_MAX];
	struct pfc_kdf kdf; /* the bundle's own cost, never the store's */
	struct pfc_wbuf b;
	int rc;

	if (q->count > PFC_KS_EXPORT_VERSIONS_MAX)
		return PFC_ERR_TOO_LARGE;
	if (pfc_bundle_kdf(q->kdf_profile, q->kdf_profile_len, &kdf) < 0) {
		r->msg = "unknown KDF profile for the bundle";
		return PFC_ERR_INVAL;
	}
	if ((rc = pfc_ks_req_versions(q, vers)) < 0 || (rc = pfc_wbuf_init(&b, 512, false)) < 0)
		return rc;
	rc = pfc_bundle_export(&s->kr, q->name, q->name_len, vers, q->count, q->pass, q->pass_len,
			       &kdf, &b);
	if (rc == 0 && pfc_wbuf_len(&b) > PFC_KS_BUNDLE_MAX)
		rc = PFC_ERR_TOO_LARGE;
	if (rc == 0)
		pfc_ks_put_bundle(r->w, pfc_wbuf_data(&b), pfc_wbuf_len(&b));
	pfc_wbuf_free(&b);
	return rc;
}

static int h_import(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_keyring next;
	uint32_t n = 0;
	int rc;

	if ((rc = pfc_keyring_clone(&s->kr, &next)) < 0)
		return rc;
	rc = pfc_bundle_import(&next, q->blob, q->blob_len, q->pass, q->pass_len, &n);
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

typedef int (*handler_fn)(struct pfc_ks_server *, const struct pfc_ks_req *, struct reply *);

/* Who may ask for what: PROTOCOL.md section 2.1. */
static const struct {
	handler_fn fn;
	bool needs_keys; /* refused with PFC_ERR_LOCKED while locked */
	bool routine;	 /* logged at debug level when it succeeds (every file open) */
	bool needs_pass; /* destroys or extracts keys: q->proof must be the store passphrase */
	bool confirm;	 /* hands keys out: asks --confirm-export's command first */
} handlers[] = {
    /* clang-format off */
	/*                        fn               keys   routine pass   confirm */
	[PFC_KS_HELLO]         = {h_hello,         false, true,  false, false},
	[PFC_KS_STATUS]        = {h_status,        false, true,  false, false},
	[PFC_KS_CREATE]        = {h_create,        true,  false, false, false},
	[PFC_KS_WRAP]          = {h_wrap,          true,  true,  false, false},
	[PFC_KS_UNWRAP]        = {h_unwrap,        true,  true,  false, false},
	[PFC_KS_REWRAP]        = {h_rewrap,        true,  true,  false, false},
	[PFC_KS_GENERATE]      = {h_generate,      true,  true,  false, false},
	[PFC_KS_ROTATE]        = {h_rotate,        true,  false, false, false},
	[PFC_KS_RETIRE]        = {h_retire,        true,  false, true,  false},
	[PFC_KS_LIST]          = {h_list,          true,  true,  false, false},
	[PFC_KS_LOCK]          = {h_lock,          false, false, false, false},
	[PFC_KS_UNLOCK]        = {h_unlock,        false, false, false, false},
	/* PASSWD checks its old passphrase itself */
	[PFC_KS_PASSWD]        = {h_passwd,        true,  false, false, false},
	[PFC_KS_EXPORT]        = {h_export,        true,  false, true,  true},
	[PFC_KS_IMPORT]        = {h_import,        true,  false, false, false},
	[PFC_KS_CANCEL_RETIRE] = {h_cancel_retire, true,  false, true,  false},
    /* clang-format on */
};

/*
 * The one check of a needs_pass request's proof, before its handler runs
 * (keys loaded: the store key's check is what it is compared with).  why
 * gets the reply's message.
 */
static int check_proof(struct pfc_ks_server *s, const struct pfc_ks_req *q, char *why, size_t n)
{
	int rc;

	if (!q->proof) {
		snprintf(why, n, "%s needs the store passphrase (protocol 2)",
			 pfc_ks_type_name(q->type));
		return PFC_ERR_DENIED;
	}
	rc = check_pass(s, q->proof, q->proof_len);
	if (rc == PFC_ERR_BAD_PASSPHRASE)
		snprintf(why, n, "not the store passphrase: %s refused", pfc_ks_type_name(q->type));
	return rc;
}

/* Confirm on use (PROTOCOL.md 8): the --confirm-export command must say yes. */
static int confirm(struct pfc_ks_server *s, const struct pfc_ks_peer *c, const struct pfc_ks_req *q,
		   char *why, size_t n)
{
	char name[PFC_KS_NAME_MAX + 1], who[48], text[160];
	struct pfc_ks_ask ask = {.text = text, .key = name, .pid = c->pid};

	if (!s->confirm_export)
		return 0;
	snprintf(name, sizeof(name), "%.*s", (int)q->name_len, q->name);
	snprintf(who, sizeof(who), "uid %u pid %d", (unsigned)c->uid, (int)c->pid);
	if (q->count)
		snprintf(text, sizeof(text), "export %u version(s) of master key %s, asked by %s",
			 (unsigned)q->count, name, who);
	else
		snprintf(text, sizeof(text),
			 "export every live version of master key %s, asked by %s", name, who);
	return pfc_ks_confirm(s->confirm_export, &ask, PFC_KS_CONFIRM_TIMEOUT_MS, why, n);
}

bool pfc_ks_dispatch(struct pfc_ks_server *s, const struct pfc_ks_peer *c, const uint8_t *body,
		     size_t len, struct pfc_wbuf *out)
{
	struct pfc_ks_req q;
	struct reply r = {.w = out, .peer = c};
	bool close_after = false;
	int rc = pfc_ks_req_decode(body, len, &q);
	char extra[PFC_KS_NAME_MAX + 16] = "", why[PFC_KS_MSG_MAX] = "";
	struct pfc_rbuf tr;
	uint8_t type = 0;

	pfc_wbuf_reset(out);
	pfc_ks_tick(s); /* due destructions first (PROTOCOL.md 2.2) */
	if (rc < 0) {
		pfc_rbuf_init(&tr, body, len);
		(void)pfc_rbuf_get_u8(&tr, &type); /* for the log; 0 if empty */
		pfc_warn("uid %u pid %d: malformed %s request: %s", (unsigned)c->uid, (int)c->pid,
			 pfc_ks_type_name(type), pfc_err_name(rc));
		r.msg = "malformed request";
		goto error;
	}
	if (handlers[q.type].needs_keys && s->locked) {
		rc = PFC_ERR_LOCKED;
		goto done;
	}
	if ((handlers[q.type].needs_pass && (rc = check_proof(s, &q, why, sizeof(why))) < 0) ||
	    (handlers[q.type].confirm && (rc = confirm(s, c, &q, why, sizeof(why))) < 0)) {
		r.msg = why[0] ? why : NULL;
		goto done;
	}
	pfc_ks_frame_begin(out, q.type | PFC_KS_REPLY);
	rc = handlers[q.type].fn(s, &q, &r);
	if (rc >= 0)
		rc = pfc_ks_frame_end(out, 0);
done:
	/* who asked for what; the master-key name and version are not secret */
	if (q.type == PFC_KS_RETIRE || q.type == PFC_KS_CANCEL_RETIRE) {
		snprintf(extra, sizeof(extra), " v%u", (unsigned)q.version);
	} else if (q.blob && (q.type == PFC_KS_UNWRAP || q.type == PFC_KS_REWRAP)) {
		char bn[PFC_KS_NAME_MAX + 1];
		uint32_t bv;

		/* the blob's (name, version) header is not secret; the rest is not logged */
		if (pfc_blob_parse_name_version(q.blob, q.blob_len, bn, &bv) == 0)
			snprintf(extra, sizeof(extra), " %s v%u", bn, (unsigned)bv);
	}
	pfc_log(rc < 0 || !handlers[q.type].routine ? PFC_LOG_INFO : PFC_LOG_DEBUG,
		"uid %u pid %d: %s%s%.*s%s -> %s", (unsigned)c->uid, (int)c->pid,
		pfc_ks_type_name(q.type), q.name ? " " : "", (int)(q.name ? q.name_len : 0),
		q.name ? q.name : "", extra, rc < 0 ? pfc_err_name(rc) : "ok");
	if (rc >= 0)
		return false;
error:
	pfc_wbuf_reset(out);
	if (pfc_ks_error_encode(out, rc, r.msg ? r.msg : pfc_strerror(rc)) < 0) {
		pfc_wbuf_reset(out); /* nothing half-built goes out: just close */
		close_after = true;
	}
	/* after a framing error the stream cannot be trusted: reply, then close */
	if (rc == PFC_ERR_PROTOCOL || rc == PFC_ERR_TOO_LARGE)
		close_after = true;
	return close_after;
}
