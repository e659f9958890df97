// SPDX-License-Identifier: MIT
/*
 * handlers.c - the keystore's request handlers: decode a frame, check the
 * lock state, plan the request's Argon2id work for the KDF worker when its
 * table entry has a planner (the store passphrase a request proves itself
 * with is one of those derivations, checked here before the handler runs),
 * run the one handler of its type, which builds exactly one reply with
 * proto.c's encoders (or an error reply), log who asked for what.  The
 * routine requests are here, key administration in handlers_admin.c; the
 * poll loop and the connections are server.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/log.h"
#include "keystore/keystate.h"
#include "keystore/bundle.h"
#include "keystore/handlers_priv.h"
#include "keystore/retire.h"
#include "keystore/store.h"
#include "keystore/timers.h"

#ifndef PFC_KS_SW_VERSION
#define PFC_KS_SW_VERSION "pfcrypt-keystore 0.1.0"
#endif

/* Apply a mutation (handlers.h): on a clone, written to the store, then swapped in. */
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
 * store passphrase as proof needs only plan_pass (the passphrase in q->pass),
 * plan_proof (in q->proof: RETIRE, CANCEL_RETIRE) or a planner that starts
 * with add_store_pass (more keys after it: plan_export): the dispatcher then
 * checks it before the handler ever runs (PROTOCOL.md 2.1).
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

/* A request of protocol 1 carries no proof: refused, with what it lacks. */
static int need_proof(const struct pfc_ks_req *q, struct reply *r)
{
	if (q->proof)
		return 0;
	snprintf(r->buf, sizeof(r->buf), "%s needs the store passphrase (protocol 2)",
		 pfc_ks_type_name(q->type));
	r->msg = r->buf;
	return PFC_ERR_DENIED;
}

/* RETIRE, CANCEL_RETIRE (PROTOCOL.md 2.1): q->proof is the store passphrase. */
static int plan_proof(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r,
		      struct pfc_ks_kdf_job *j)
{
	int rc = need_proof(q, r);

	return rc < 0 ? rc : add_store_pass(s, q->proof, q->proof_len, j);
}

/* EXPORT: its proof first (key[0], checked), then the export passphrase at
 * the bundle's own cost (pfc_bundle_kdf: the requested profile, by default
 * moderate, never the store's) with a fresh salt (key[1], the bundle key). */
static int plan_export(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r,
		       struct pfc_ks_kdf_job *j)
{
	struct pfc_kdf kdf;
	int rc;

	if (pfc_bundle_kdf(q->kdf_profile, q->kdf_profile_len, &kdf) < 0) {
		r->msg = "unknown KDF profile for the bundle";
		return PFC_ERR_INVAL;
	}
	if ((rc = plan_proof(s, q, r, j)) < 0)
		return rc;
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
		pfc_ks_note_use(s, e, r->peer, op, pfc_ks_now_s());
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

/* Who may ask for what: PROTOCOL.md section 2.1.  A request that needs proof
 * of the store passphrase has a planner that checks it (plan_proof,
 * plan_export; PASSWD's old passphrase and UNLOCK's are their own proof). */
static const struct {
	handler_fn fn;
	bool needs_keys; /* refused with PFC_ERR_LOCKED while locked */
	bool routine;	 /* logged at debug level when it succeeds (every file open) */
	plan_fn plan;	 /* NULL: no Argon2id; else what the KDF worker derives first */
	bool confirm;	 /* hands keys out: the worker asks --confirm-export's command */
} handlers[] = {
    /* clang-format off */
	/*                        fn                      keys   routine plan         confirm */
	[PFC_KS_HELLO]         = {h_hello,                false, true,  NULL,        false},
	[PFC_KS_STATUS]        = {h_status,               false, true,  NULL,        false},
	[PFC_KS_CREATE]        = {pfc_ks_h_create,        true,  false, NULL,        false},
	[PFC_KS_WRAP]          = {h_wrap,                 true,  true,  NULL,        false},
	[PFC_KS_UNWRAP]        = {h_unwrap,               true,  true,  NULL,        false},
	[PFC_KS_REWRAP]        = {h_rewrap,               true,  true,  NULL,        false},
	[PFC_KS_GENERATE]      = {h_generate,             true,  true,  NULL,        false},
	[PFC_KS_ROTATE]        = {pfc_ks_h_rotate,        true,  false, NULL,        false},
	[PFC_KS_RETIRE]        = {pfc_ks_h_retire,        true,  false, plan_proof,  false},
	[PFC_KS_LIST]          = {h_list,                 true,  true,  NULL,        false},
	[PFC_KS_LOCK]          = {pfc_ks_h_lock,          false, false, NULL,        false},
	[PFC_KS_UNLOCK]        = {pfc_ks_h_unlock,        false, false, plan_unlock, false},
	[PFC_KS_PASSWD]        = {pfc_ks_h_passwd,        true,  false, plan_passwd, false},
	[PFC_KS_EXPORT]        = {pfc_ks_h_export,        true,  false, plan_export, true},
	[PFC_KS_IMPORT]        = {pfc_ks_h_import,        true,  false, plan_import, false},
	[PFC_KS_CANCEL_RETIRE] = {pfc_ks_h_cancel_retire, true,  false, plan_proof,  false},
    /* clang-format on */
};

/* Who asked for what, and the outcome; the master-key name and version are not secret. */
static void log_request(const struct pfc_ks_peer *c, const struct pfc_ks_req *q, int rc)
{
	char extra[PFC_KS_NAME_MAX + 16] = "";

	if (q->type == PFC_KS_RETIRE || q->type == PFC_KS_CANCEL_RETIRE) {
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

/* Confirm on use (PROTOCOL.md 8): what the KDF worker asks the --confirm-export
 * command once the proof (key[0]) has matched; never a secret. */
static void plan_confirm(const struct pfc_ks_server *s, const struct pfc_ks_peer *c,
			 const struct pfc_ks_req *q, struct pfc_ks_kdf_job *j)
{
	struct pfc_ks_kdf_confirm *cf = &j->confirm;
	char who[48];

	cf->cmd = s->confirm_export;
	memcpy(cf->check, s->sk->check, sizeof(cf->check));
	snprintf(cf->key, sizeof(cf->key), "%.*s", (int)q->name_len, q->name);
	snprintf(who, sizeof(who), "uid %u pid %d", (unsigned)c->uid, (int)c->pid);
	if (q->count)
		snprintf(cf->text, sizeof(cf->text),
			 "export %u version(s) of master key %s, asked by %s", (unsigned)q->count,
			 cf->key, who);
	else
		snprintf(cf->text, sizeof(cf->text),
			 "export every live version of master key %s, asked by %s", cf->key, who);
	cf->pid = c->pid;
}

/* The request's KDF job, from its table entry's planner, into *job. */
static int plan(struct pfc_ks_server *s, const struct pfc_ks_peer *c, const struct pfc_ks_req *q,
		struct reply *r, struct pfc_ks_kdf_job **job)
{
	struct pfc_ks_kdf_job *j = pfc_ks_kdf_job_new();
	int rc;

	if (!j)
		return PFC_ERR_NOMEM;
	if ((rc = handlers[q->type].plan(s, q, r, j)) < 0) {
		pfc_ks_kdf_job_free(j);
		return rc;
	}
	if (handlers[q->type].confirm && s->confirm_export && j->verify)
		plan_confirm(s, c, q, j);
	j->epoch = s->key_epoch;
	*job = j;
	return 0;
}

/* After the KDF: the store passphrase (when the plan said so: a wrong proof
 * names the request it refused), then the --confirm-export command's answer. */
static int check_job(struct pfc_ks_server *s, const struct pfc_ks_req *q, struct reply *r,
		     const struct pfc_ks_kdf_job *job, bool *proved)
{
	int rc = job->rc;

	if (rc == 0 && job->verify && (rc = check_pass(s, job->key[0])) < 0 && q->proof) {
		snprintf(r->buf, sizeof(r->buf), "not the store passphrase: %s refused",
			 pfc_ks_type_name(q->type));
		r->msg = r->buf;
	}
	*proved = rc == 0 && job->verify;
	if (rc == 0 && job->confirm.cmd && (rc = job->confirm.rc) < 0)
		r->msg = job->confirm.why[0] ? job->confirm.why : NULL;
	return rc;
}

/* Check what the job derived, run the handler, log, reply. */
static enum pfc_ks_next run(struct pfc_ks_server *s, const struct pfc_ks_peer *c,
			    const struct pfc_ks_req *q, struct pfc_wbuf *out,
			    struct pfc_ks_kdf_job *job, enum pfc_ks_verdict *verdict)
{
	struct reply r = {.w = out, .peer = c, .kdf = job};
	bool proved = false;
	int rc = 0;

	pfc_wbuf_reset(out);
	if (job)
		rc = check_job(s, q, &r, job, &proved);
	if (rc == 0) {
		pfc_ks_frame_begin(out, q->type | PFC_KS_REPLY);
		rc = handlers[q->type].fn(s, q, &r);
		if (rc >= 0)
			rc = pfc_ks_frame_end(out, 0);
	}
	log_request(c, q, rc);
	if (rc == PFC_ERR_BAD_PASSPHRASE)
		*verdict = PFC_KS_PASS_WRONG;
	else if (job && job->store_pass && (proved || rc >= 0))
		*verdict = PFC_KS_STORE_PASS_OK;
	return rc < 0 ? error_reply(out, rc, r.msg) : PFC_KS_SEND;
}

enum pfc_ks_next pfc_ks_dispatch(struct pfc_ks_server *s, const struct pfc_ks_peer *c,
				 const uint8_t *body, size_t len, struct pfc_wbuf *out,
				 struct pfc_ks_kdf_job **job, enum pfc_ks_verdict *verdict)
{
	struct reply r = {.w = out, .peer = c};
	struct pfc_ks_req q;
	int rc;

	*job = NULL;
	*verdict = PFC_KS_NO_VERDICT;
	pfc_ks_tick(s); /* due destructions first (PROTOCOL.md 2.2) */
	if ((rc = decode(c, body, len, &q)) < 0)
		return error_reply(out, rc, "malformed request");
	if (handlers[q.type].needs_keys && s->locked)
		rc = PFC_ERR_LOCKED;
	else if (handlers[q.type].plan && (rc = plan(s, c, &q, &r, job)) == 0)
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
	pfc_ks_tick(s); /* due destructions, the end of --lifetime (which bumps the epoch) */
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
