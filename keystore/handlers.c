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
#include "keystore/handlers.h"
#include "keystore/proto.h"
#include "keystore/store.h"

#ifndef PFC_KS_SW_VERSION
#define PFC_KS_SW_VERSION "pfcrypt-keystore 0.1.0"
#endif

/* A reply under construction: exactly one per request. */
struct reply {
	struct pfc_wbuf *w;
	size_t start;
	const char *msg;	    /* error message (fixed text) */
	struct pfc_ks_kdf_job *kdf; /* the derived keys of a request with a KDF plan, else NULL */
};

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

/* Apply a mutation: done on a clone, written to the store, then swapped in. */
static int commit(struct pfc_ks_server *s, struct pfc_keyring *next)
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
	s->key_epoch++;
}

/*
 * Check a passphrase, derived on the KDF worker under the store's parameters,
 * against the store key (unlocked only; the key epoch has not changed since
 * the plan, so the parameters are still the store's).
 */
static int check_pass(const struct pfc_ks_server *s, const struct pfc_skey *k)
{
	return sodium_memcmp(k->check, s->sk->check, sizeof(k->check)) == 0
		   ? 0
		   : PFC_ERR_BAD_PASSPHRASE;
}

/*
 * KDF planners (PROTOCOL.md section 8.1): what a request derives on the KDF
 * worker before its handler runs on the loop with the keys in r->kdf.  A
 * handler opts in with its table entry's plan.  A request that carries the
 * store passphrase as proof needs only plan_pass (the passphrase in q->pass)
 * or a planner that starts with add_store_pass (another field; more keys
 * after it): the dispatcher then checks it before the handler ever runs.
 */
typedef int (*plan_fn)(struct pfc_ks_server *, const struct pfc_ks_req *, struct reply *,
		       struct pfc_ks_kdf_job *);

/* The store passphrase, as the job's first derivation (key[0]), under the
 * store's parameters: checked by the dispatcher; a wrong one is
 * BAD_PASSPHRASE after the failure delay, and the handler does not run. */
static int add_store_pass(struct pfc_ks_server *s, const uint8_t *pass, size_t len,
			  struct pfc_ks_kdf_job *j)
{
	if (s->locked)
		return PFC_ERR_LOCKED;
	if (j->n != 0)
		return PFC_ERR_INVAL;
	j->verify = true;
	j->store_pass = true;
	return pfc_ks_kdf_job_add(j, PFC_SEAL_MAGIC_STORE, pass, len, &s->sk->kdf);
}

/* q->pass is the store passphrase, the request's proof. */
static int plan_pass(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r,
		     struct pfc_ks_kdf_job *j)
{
	(void)r;
	return add_store_pass(s, q->pass, q->pass_len, j);
}

/* Locked: the key to open the store file with, under the file's parameters.
 * Unlocked: the passphrase is only checked (plan_pass). */
static int plan_unlock(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r,
		       struct pfc_ks_kdf_job *j)
{
	struct pfc_kdf kdf;
	int rc;

	if (!s->locked)
		return plan_pass(s, q, r, j);
	if ((rc = pfc_store_kdf(s->store_path, &kdf)) < 0) {
		r->msg = "cannot read the store file";
		return rc;
	}
	j->store_pass = true;
	return pfc_ks_kdf_job_add(j, PFC_SEAL_MAGIC_STORE, q->pass, q->pass_len, &kdf);
}

/* The bundle passphrase under the bundle's own parameters (its header says;
 * up to 16 passes and 4 GiB, which is why this must not run on the loop). */
static int plan_import(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r,
		       struct pfc_ks_kdf_job *j)
{
	struct pfc_kdf kdf;
	int rc = pfc_seal_header(PFC_SEAL_MAGIC_BUNDLE, q->blob, q->blob_len, &kdf);

	(void)s;
	(void)r;
	if (rc < 0)
		return rc;
	return pfc_ks_kdf_job_add(j, PFC_SEAL_MAGIC_BUNDLE, q->pass, q->pass_len, &kdf);
}

/* The export passphrase under the store's parameters and a fresh salt. */
static int plan_export(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r,
		       struct pfc_ks_kdf_job *j)
{
	struct pfc_kdf kdf = s->sk->kdf;

	(void)r;
	pfc_kdf_new_salt(&kdf);
	return pfc_ks_kdf_job_add(j, PFC_SEAL_MAGIC_BUNDLE, q->pass, q->pass_len, &kdf);
}

/* The old passphrase checked (plan_pass), the new one under a fresh salt. */
static int plan_passwd(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r,
		       struct pfc_ks_kdf_job *j)
{
	struct pfc_kdf kdf;
	int rc = plan_pass(s, q, r, j);

	if (rc < 0)
		return rc;
	kdf = s->sk->kdf;
	pfc_kdf_new_salt(&kdf);
	return pfc_ks_kdf_job_add(j, PFC_SEAL_MAGIC_STORE, q->pass2, q->pass2_len, &kdf);
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
	if ((rc = commit(s, &next)) < 0)
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
	if ((rc = commit(s, &next)) < 0)
		return rc;
	pfc_wbuf_put_u32(r->w, v);
	return 0;
}

static int h_retire(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_keyring next;
	int rc;

	(void)r;
	if ((rc = pfc_keyring_clone(&s->kr, &next)) < 0)
		return rc;
	rc = pfc_keyring_retire(&next, q->name, q->name_len, q->version, now_s());
	if (rc < 0) {
		r->msg = rc == PFC_ERR_BUSY ? "cannot retire the primary version" : NULL;
		pfc_keyring_free(&next);
		return rc;
	}
	return commit(s, &next);
}

static int h_wrap(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	uint8_t blob[PFC_WRAPPED_MAX];
	size_t n;
	int rc = pfc_keyring_wrap(&s->kr, q->name, q->name_len, q->ad, q->ad_len, q->key, blob, &n);

	if (rc < 0)
		return rc;
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

/* plan_unlock derived r->kdf->key[0]; when unlocked the dispatcher has checked it. */
static int h_unlock(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
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
static int h_passwd(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
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

static int h_export(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	uint32_t vers[PFC_KS_EXPORT_VERSIONS_MAX];
	struct pfc_wbuf b;
	int rc;

	if (q->count > PFC_KS_EXPORT_VERSIONS_MAX)
		return PFC_ERR_TOO_LARGE;
	if ((rc = pfc_ks_req_versions(q, vers)) < 0 || (rc = pfc_wbuf_init(&b, 512, false)) < 0)
		return rc;
	rc =
	    pfc_bundle_export_key(&s->kr, q->name, q->name_len, vers, q->count, r->kdf->key[0], &b);
	if (rc == 0 && pfc_wbuf_len(&b) > PFC_KS_BUNDLE_MAX)
		rc = PFC_ERR_TOO_LARGE;
	if (rc == 0)
		pfc_ks_put_bundle(r->w, pfc_wbuf_data(&b), pfc_wbuf_len(&b));
	pfc_wbuf_free(&b);
	return rc;
}

/* plan_import derived r->kdf->key[0] from the bundle passphrase. */
static int h_import(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r)
{
	struct pfc_keyring next;
	uint32_t n = 0;
	int rc;

	if ((rc = pfc_keyring_clone(&s->kr, &next)) < 0)
		return rc;
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
	else if ((rc = commit(s, &next)) < 0)
		return rc;
	pfc_wbuf_put_u32(r->w, n);
	return 0;
}

typedef int (*handler_fn)(struct pfc_ks_server *, const struct pfc_ks_req *, struct reply *);

static const struct {
	handler_fn fn;
	bool needs_keys; /* refused with PFC_ERR_LOCKED while locked */
	bool routine;	 /* logged at debug level when it succeeds (every file open) */
	plan_fn plan;	 /* NULL: no Argon2id; else what the KDF worker derives first */
} handlers[] = {
    /* clang-format off */
	[PFC_KS_HELLO]    = {h_hello,    false, true,  NULL},
	[PFC_KS_STATUS]   = {h_status,   false, true,  NULL},
	[PFC_KS_CREATE]   = {h_create,   true,  false, NULL},
	[PFC_KS_WRAP]     = {h_wrap,     true,  true,  NULL},
	[PFC_KS_UNWRAP]   = {h_unwrap,   true,  true,  NULL},
	[PFC_KS_REWRAP]   = {h_rewrap,   true,  true,  NULL},
	[PFC_KS_GENERATE] = {h_generate, true,  true,  NULL},
	[PFC_KS_ROTATE]   = {h_rotate,   true,  false, NULL},
	[PFC_KS_RETIRE]   = {h_retire,   true,  false, NULL},
	[PFC_KS_LIST]     = {h_list,     true,  true,  NULL},
	[PFC_KS_LOCK]     = {h_lock,     false, false, NULL},
	[PFC_KS_UNLOCK]   = {h_unlock,   false, false, plan_unlock},
	[PFC_KS_PASSWD]   = {h_passwd,   true,  false, plan_passwd},
	[PFC_KS_EXPORT]   = {h_export,   true,  false, plan_export},
	[PFC_KS_IMPORT]   = {h_import,   true,  false, plan_import},
    /* clang-format on */
};

/* Who asked for what, and the outcome; the master-key name and version are not secret. */
static void log_request(const struct pfc_ks_peer *c, const struct pfc_ks_req *q, int rc)
{
	char extra[PFC_KS_NAME_MAX + 16] = "";

	if (q->type == PFC_KS_RETIRE) {
		snprintf(extra, sizeof(extra), " v%u", (unsigned)q->version);
	} else if (q->blob && (q->type == PFC_KS_UNWRAP || q->type == PFC_KS_REWRAP)) {
		char bn[PFC_KS_NAME_MAX + 1];
		uint32_t bv;

		/* the blob's (name, version) header is not secret; the rest is not logged */
		if (pfc_blob_parse_name_version(q->blob, q->blob_len, bn, &bv) == 0)
			snprintf(extra, sizeof(extra), " %s v%u", bn, (unsigned)bv);
	}
	pfc_log(rc < 0 || !handlers[q->type].routine ? PFC_LOG_INFO : PFC_LOG_DEBUG,
		"uid %u pid %d: %s%s%.*s%s -> %s", (unsigned)c->uid, (int)c->pid,
		pfc_ks_type_name(q->type), q->name ? " " : "", (int)(q->name ? q->name_len : 0),
		q->name ? q->name : "", extra, rc < 0 ? pfc_err_name(rc) : "ok");
}

/* Replace out with an error reply; after a framing error the stream cannot be
 * trusted: reply, then close (nothing half-built goes out: just close). */
static enum pfc_ks_next error_reply(struct pfc_wbuf *out, int rc, const char *msg)
{
	pfc_wbuf_reset(out);
	if (pfc_ks_error_encode(out, rc, msg ? msg : pfc_strerror(rc)) < 0) {
		pfc_wbuf_reset(out);
		return PFC_KS_SEND_CLOSE;
	}
	return rc == PFC_ERR_PROTOCOL || rc == PFC_ERR_TOO_LARGE ? PFC_KS_SEND_CLOSE : PFC_KS_SEND;
}

/* Decode a request; a malformed one is logged (its type byte only). */
static int decode(const struct pfc_ks_peer *c, const uint8_t *body, size_t len,
		  struct pfc_ks_req *q)
{
	int rc = pfc_ks_req_decode(body, len, q);
	struct pfc_rbuf tr;
	uint8_t type = 0;

	if (rc < 0) {
		pfc_rbuf_init(&tr, body, len);
		(void)pfc_rbuf_get_u8(&tr, &type); /* for the log; 0 if empty */
		pfc_warn("uid %u pid %d: malformed %s request: %s", (unsigned)c->uid, (int)c->pid,
			 pfc_ks_type_name(type), pfc_err_name(rc));
	}
	return rc;
}

/* The request's KDF job, from its table entry's planner, into *job. */
static int plan(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r,
		struct pfc_ks_kdf_job **job)
{
	struct pfc_ks_kdf_job *j = pfc_ks_kdf_job_new();
	int rc;

	if (!j)
		return PFC_ERR_NOMEM;
	if ((rc = handlers[q->type].plan(s, q, r, j)) < 0) {
		pfc_ks_kdf_job_free(j);
		return rc;
	}
	j->epoch = s->key_epoch;
	*job = j;
	return 0;
}

/* Check the derived passphrase if the plan said so, run the handler, log, reply. */
static enum pfc_ks_next run(struct pfc_ks_server *s, const struct pfc_ks_peer *c,
			    const struct pfc_ks_req *q, struct pfc_wbuf *out,
			    struct pfc_ks_kdf_job *job, enum pfc_ks_verdict *verdict)
{
	struct reply r = {out, 0, NULL, job};
	int rc = 0;

	pfc_wbuf_reset(out);
	if (job && (rc = job->rc) == 0 && job->verify)
		rc = check_pass(s, job->key[0]);
	if (rc == 0) {
		pfc_ks_frame_begin(out, q->type | PFC_KS_REPLY);
		rc = handlers[q->type].fn(s, q, &r);
		if (rc >= 0)
			rc = pfc_ks_frame_end(out, 0);
	}
	log_request(c, q, rc);
	if (rc == PFC_ERR_BAD_PASSPHRASE)
		*verdict = PFC_KS_PASS_WRONG;
	else if (rc >= 0 && job && job->store_pass)
		*verdict = PFC_KS_STORE_PASS_OK;
	return rc < 0 ? error_reply(out, rc, r.msg) : PFC_KS_SEND;
}

enum pfc_ks_next pfc_ks_dispatch(struct pfc_ks_server *s, const struct pfc_ks_peer *c,
				 const uint8_t *body, size_t len, struct pfc_wbuf *out,
				 struct pfc_ks_kdf_job **job, enum pfc_ks_verdict *verdict)
{
	struct reply r = {out, 0, NULL, NULL};
	struct pfc_ks_req q;
	int rc;

	*job = NULL;
	*verdict = PFC_KS_NO_VERDICT;
	if ((rc = decode(c, body, len, &q)) < 0)
		return error_reply(out, rc, "malformed request");
	if (handlers[q.type].needs_keys && s->locked)
		rc = PFC_ERR_LOCKED;
	else if (handlers[q.type].plan && (rc = plan(s, &q, &r, job)) == 0)
		return PFC_KS_DERIVE;
	if (rc < 0) {
		log_request(c, &q, rc);
		return error_reply(out, rc, r.msg);
	}
	return run(s, c, &q, out, NULL, verdict);
}

enum pfc_ks_next pfc_ks_dispatch_kdf(struct pfc_ks_server *s, const struct pfc_ks_peer *c,
				     const uint8_t *body, size_t len, struct pfc_wbuf *out,
				     struct pfc_ks_kdf_job **job, enum pfc_ks_verdict *verdict)
{
	struct pfc_ks_kdf_job *j = *job;
	enum pfc_ks_next nx;
	struct pfc_ks_req q;
	int rc;

	*job = NULL;
	*verdict = PFC_KS_NO_VERDICT;
	/* locked, unlocked or re-keyed since the plan: its parameters may be stale */
	if (j->epoch != s->key_epoch) {
		pfc_ks_kdf_job_free(j);
		return pfc_ks_dispatch(s, c, body, len, out, job, verdict);
	}
	if ((rc = decode(c, body, len, &q)) < 0) { /* it decoded before: cannot happen */
		pfc_ks_kdf_job_free(j);
		return error_reply(out, rc, "malformed request");
	}
	nx = run(s, c, &q, out, j, verdict);
	pfc_ks_kdf_job_free(j);
	return nx;
}
