// SPDX-License-Identifier: MIT
/*
 * server.c - the keystore's poll loop and request handlers.
 *
 * Shape (after ssh-agent): read the 4-byte length, cap it, read the whole
 * frame into sodium_malloc memory, decode it, dispatch to one handler that
 * builds exactly one reply, send it, wipe both.  A connection reads its next
 * frame only after its reply has gone out.  Everything runs on one thread, so
 * the keyring and the connection table need no lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/log.h"
#include "keystore/bundle.h"
#include "keystore/proto.h"
#include "keystore/server.h"
#include "keystore/store.h"

#ifndef PFC_KS_SW_VERSION
#define PFC_KS_SW_VERSION "pfcrypt-keystore 0.1.0"
#endif

/* Frame buffer size kept per connection between requests. */
#define BODY_KEEP 4096

struct ks_conn {
	int fd;
	uid_t uid;
	pid_t pid;
	uint8_t hdr[PFC_KS_HDR_LEN];
	size_t hdr_got;
	uint8_t *body;	   /* sodium_malloc'd frame buffer, reused; wiped after each request */
	uint32_t body_cap; /* its size */
	uint32_t body_len, body_got;
	struct pfc_wbuf out; /* secure; the pending reply */
	size_t out_sent;
	int64_t deadline_ms; /* 0: idle (no partial frame, no pending reply) */
	bool close_after;    /* close once the reply is sent */
};

/* A reply under construction: exactly one per request. */
struct reply {
	struct pfc_wbuf *w;
	size_t start;
	const char *msg; /* error message (fixed text) */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	struct pfc_wbuf b;
	int rc;

	if (q->count > PFC_KS_EXPORT_VERSIONS_MAX)
		return PFC_ERR_TOO_LARGE;
	if ((rc = pfc_ks_req_versions(q, vers)) < 0 || (rc = pfc_wbuf_init(&b, 512, false)) < 0)
		return rc;
	rc = pfc_bundle_export(&s->kr, q->name, q->name_len, vers, q->count, q->pass, q->pass_len,
			       &s->sk->kdf, &b);
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
} handlers[] = {
    /* clang-format off */
	[PFC_KS_HELLO]    = {h_hello,    false, true},
	[PFC_KS_STATUS]   = {h_status,   false, true},
	[PFC_KS_CREATE]   = {h_create,   true,  false},
	[PFC_KS_WRAP]     = {h_wrap,     true,  true},
	[PFC_KS_UNWRAP]   = {h_unwrap,   true,  true},
	[PFC_KS_REWRAP]   = {h_rewrap,   true,  true},
	[PFC_KS_GENERATE] = {h_generate, true,  true},
	[PFC_KS_ROTATE]   = {h_rotate,   true,  false},
	[PFC_KS_RETIRE]   = {h_retire,   true,  false},
	[PFC_KS_LIST]     = {h_list,     true,  true},
	[PFC_KS_LOCK]     = {h_lock,     false, false},
	[PFC_KS_UNLOCK]   = {h_unlock,   false, false},
	[PFC_KS_PASSWD]   = {h_passwd,   true,  false},
	[PFC_KS_EXPORT]   = {h_export,   true,  false},
	[PFC_KS_IMPORT]   = {h_import,   true,  false},
    /* clang-format on */
};

/* Build the one reply to body (a complete frame without its length) in c->out. */
static void dispatch(struct pfc_ks_server *s, struct ks_conn *c, const uint8_t *body, size_t len)
{
	struct pfc_ks_req q;
	struct reply r = {&c->out, 0, NULL};
	int rc = pfc_ks_req_decode(body, len, &q);
	char extra[PFC_KS_NAME_MAX + 16] = "";
	struct pfc_rbuf tr;
	uint8_t type = 0;

	pfc_wbuf_reset(&c->out);
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
	pfc_ks_frame_begin(&c->out, q.type | PFC_KS_REPLY);
	rc = handlers[q.type].fn(s, &q, &r);
	if (rc >= 0)
		rc = pfc_ks_frame_end(&c->out, 0);
done:
	/* who asked for what; the master-key name and version are not secret */
	if (q.type == PFC_KS_RETIRE) {
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
		return;
error:
	pfc_wbuf_reset(&c->out);
	if (pfc_ks_error_encode(&c->out, rc, r.msg ? r.msg : pfc_strerror(rc)) < 0) {
		pfc_wbuf_reset(&c->out); /* nothing half-built goes out: just close */
		c->close_after = true;
	}
	/* after a framing error the stream cannot be trusted: reply, then close */
	if (rc == PFC_ERR_PROTOCOL || rc == PFC_ERR_TOO_LARGE)
		c->close_after = true;
}

/* ---- connections ---- */

static void conn_close(struct pfc_ks_server *s, size_t i)
{
	struct ks_conn *c = &s->conns[i];

	close(c->fd);
	sodium_free(c->body);
	pfc_wbuf_free(&c->out);
	s->conns[i] = s->conns[--s->nconns];
	memset(&s->conns[s->nconns], 0, sizeof(s->conns[s->nconns]));
}

/* Send a small error frame on a socket we are about to close (best effort). */
static void refuse(int fd, int err, const char *msg)
{
	uint8_t buf[PFC_KS_HDR_LEN + 1 + 4 + 2 + PFC_KS_MSG_MAX];
	struct pfc_wbuf w;

	pfc_wbuf_init_fixed(&w, buf, sizeof(buf));
	if (pfc_ks_error_encode(&w, err, msg) == 0)
		(void)!send(fd, buf, pfc_wbuf_len(&w), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void accept_all(struct pfc_ks_server *s)
{
	for (int k = 0; k < 64; k++) {
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		struct ks_conn *c;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				pfc_warn("accept: %s", strerror(errno));
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0) {
			close(fd);
			continue;
		}
		if (cr.uid != s->owner && cr.uid != 0) {
			pfc_warn("uid %u pid %d: refused (not the owner uid %u nor root)",
				 (unsigned)cr.uid, (int)cr.pid, (unsigned)s->owner);
			refuse(fd, PFC_ERR_DENIED, "peer uid not allowed");
			close(fd);
			continue;
		}
		if (s->nconns >= s->max_clients) {
			pfc_warn("uid %u pid %d: refused (too many clients)", (unsigned)cr.uid,
				 (int)cr.pid);
			refuse(fd, PFC_ERR_BUSY, "too many clients");
			close(fd);
			/* stop here: let the loop see closed connections before accepting more */
			return;
		}
		c = &s->conns[s->nconns];
		memset(c, 0, sizeof(*c));
		if (pfc_wbuf_init(&c->out, 256, true) < 0) {
			close(fd);
			continue;
		}
		s->nconns++;
		c->fd = fd;
		c->uid = cr.uid;
		c->pid = cr.pid;
		pfc_debug("uid %u pid %d: connected", (unsigned)cr.uid, (int)cr.pid);
	}
}

/* Returns false if the connection must be closed. */
static bool conn_write(struct ks_conn *c)
{
	size_t len = pfc_wbuf_len(&c->out);

	while (c->out_sent < len) {
		ssize_t n = send(c->fd, pfc_wbuf_span(&c->out, c->out_sent, len - c->out_sent),
				 len - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			return false;
		c->out_sent += (size_t)n;
	}
	pfc_wbuf_reset(&c->out); /* wipes the reply */
	if (pfc_wbuf_cap(&c->out) > 4 * BODY_KEEP) {
		/* do not keep a large reply's buffer (list, export) per connection */
		pfc_wbuf_free(&c->out);
		if (pfc_wbuf_init(&c->out, 256, true) < 0)
			return false;
	}
	c->out_sent = 0;
	c->deadline_ms = 0;
	return !c->close_after;
}

/* The length field of a frame header. */
static uint32_t frame_len(const uint8_t hdr[PFC_KS_HDR_LEN])
{
	struct pfc_rbuf r;
	uint32_t len = 0;

	pfc_rbuf_init(&r, hdr, PFC_KS_HDR_LEN);
	(void)pfc_rbuf_get_u32(&r, &len);
	return len;
}

/* Read what is available of the current frame; dispatch when complete. */
static bool conn_read(struct pfc_ks_server *s, struct ks_conn *c, int timeout_ms)
{
	ssize_t n;

	if (c->hdr_got < PFC_KS_HDR_LEN) {
		n = recv(c->fd, c->hdr + c->hdr_got, PFC_KS_HDR_LEN - c->hdr_got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return true;
		if (n <= 0)
			return false;
		if (c->hdr_got == 0)
			c->deadline_ms = now_ms() + timeout_ms;
		c->hdr_got += (size_t)n;
		if (c->hdr_got < PFC_KS_HDR_LEN)
			return true;
		c->body_len = frame_len(c->hdr);
		int rc = pfc_ks_frame_check_len(c->body_len);
		if (rc < 0) {
			pfc_warn("uid %u pid %d: bad frame length %u: %s", (unsigned)c->uid,
				 (int)c->pid, (unsigned)c->body_len, pfc_err_name(rc));
			pfc_wbuf_reset(&c->out);
			pfc_ks_error_encode(&c->out, rc, "bad frame length");
			c->close_after = true;
			return conn_write(c);
		}
		if (c->body_len > c->body_cap) {
			sodium_free(c->body);
			c->body_cap = c->body_len < BODY_KEEP ? BODY_KEEP : c->body_len;
			c->body = sodium_malloc(c->body_cap);
			if (!c->body)
				return false;
		}
		c->body_got = 0;
	}
	n = recv(c->fd, c->body + c->body_got, c->body_len - c->body_got, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	c->body_got += (uint32_t)n;
	if (c->body_got < c->body_len)
		return true;
	dispatch(s, c, c->body, c->body_len);
	sodium_memzero(c->body, c->body_len); /* passphrases and keys of the request */
	if (c->body_cap > BODY_KEEP) {
		sodium_free(c->body); /* do not keep a large frame's buffer */
		c->body = NULL;
		c->body_cap = 0;
	}
	c->hdr_got = 0;
	c->deadline_ms = now_ms() + timeout_ms; /* the reply must be taken in time too */
	return conn_write(c);
}

static int make_socket_dir(const char *sock, bool private_dir)
{
	char tmp[PATH_MAX];
	struct stat st;
	char *dir;

	if (strlen(sock) >= sizeof(tmp))
		return PFC_ERR_INVAL;
	strcpy(tmp, sock);
	dir = dirname(tmp);
	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return PFC_ERR_IO;
	/* the default directory (.../pfcrypt/) is ours alone: tighten it to 0700 */
	if (private_dir && st.st_uid == geteuid() && (st.st_mode & 0777) != 0700) {
		if (chmod(dir, 0700) < 0)
			return PFC_ERR_IO;
		st.st_mode = (st.st_mode & ~(mode_t)0777) | 0700;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		pfc_err_log("socket directory %s must belong to uid %u and not be writable by "
			    "others",
			    dir, (unsigned)geteuid());
		return PFC_ERR_DENIED;
	}
	return 0;
}

int pfc_ks_server_listen(struct pfc_ks_server *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int fd, rc;

	if (strlen(s->socket_path) >= sizeof(sa.sun_path))
		return PFC_ERR_NAME_TOO_LONG;
	strcpy(sa.sun_path, s->socket_path);
	if ((rc = make_socket_dir(s->socket_path, s->private_dir)) < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return PFC_ERR_IO;
	/* a socket file already there: live keystore -> refuse; stale -> replace */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
		close(fd);
		return PFC_ERR_BUSY;
	}
	if (errno == ECONNREFUSED)
		unlink(s->socket_path);
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return PFC_ERR_IO;
	old = umask(0177); /* the socket is created 0600 */
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(s->socket_path, 0600) < 0 || listen(fd, 128) < 0) {
		rc = errno == EADDRINUSE ? PFC_ERR_BUSY : PFC_ERR_IO;
		close(fd);
		return rc;
	}
	s->listen_fd = fd;
	return 0;
}

int pfc_ks_server_run(struct pfc_ks_server *s, volatile sig_atomic_t *stop)
{
	struct pollfd *pfd;
	sigset_t empty;

	s->conns = calloc(s->max_clients, sizeof(*s->conns));
	pfd = calloc(s->max_clients + 1, sizeof(*pfd));
	if (!s->conns || !pfd) {
		free(s->conns);
		free(pfd);
		return PFC_ERR_NOMEM;
	}
	sigemptyset(&empty);
	while (!*stop) {
		int64_t now = now_ms(), next = -1;
		struct timespec ts, *tsp = NULL;
		size_t n = s->nconns;

		pfd[0] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
		for (size_t i = 0; i < n; i++) {
			struct ks_conn *c = &s->conns[i];

			pfd[i + 1] = (struct pollfd){
			    .fd = c->fd, .events = pfc_wbuf_len(&c->out) ? POLLOUT : POLLIN};
			if (c->deadline_ms && (next < 0 || c->deadline_ms < next))
				next = c->deadline_ms;
		}
		if (next >= 0) {
			int64_t d = next > now ? next - now : 0;

			ts.tv_sec = d / 1000;
			ts.tv_nsec = (d % 1000) * 1000000;
			tsp = &ts;
		}
		if (ppoll(pfd, n + 1, tsp, &empty) < 0) {
			if (errno == EINTR)
				continue;
			pfc_err_log("poll: %s", strerror(errno));
			break;
		}
		now = now_ms();
		/* walk backwards: conn_close moves the last connection into slot i */
		for (size_t i = n; i-- > 0;) {
			struct ks_conn *c = &s->conns[i];
			bool keep = true;

			if (pfd[i + 1].revents & (POLLERR | POLLNVAL))
				keep = false;
			else if (pfd[i + 1].revents & POLLOUT)
				keep = conn_write(c);
			else if (pfd[i + 1].revents & (POLLIN | POLLHUP))
				keep = conn_read(s, c, s->client_timeout_ms);
			else if (c->deadline_ms && now >= c->deadline_ms) {
				pfc_warn("uid %u pid %d: timed out mid-frame or reply not read; "
					 "closing",
					 (unsigned)c->uid, (int)c->pid);
				keep = false;
			}
			if (!keep)
				conn_close(s, i);
		}
		if (pfd[0].revents & POLLIN)
			accept_all(s);
	}
	while (s->nconns)
		conn_close(s, s->nconns - 1);
	free(s->conns);
	s->conns = NULL;
	free(pfd);
	close(s->listen_fd);
	if (!s->socket_inherited)
		unlink(s->socket_path);
	pfc_ks_server_lock(s);
	return 0;
}
