// SPDX-License-Identifier: MIT
/*
 * server.c - the keystore's poll loop and its connections (the request
 * handlers are in handlers.c, the listening socket in server_listen.c, the
 * KDF worker and the failure backoff in server_kdf.c).
 *
 * Shape (after ssh-agent): read the 4-byte length, cap it, read the whole
 * frame into sodium_malloc memory, decode it, dispatch to one handler that
 * builds exactly one reply, send it, wipe both.  A connection reads its next
 * frame only after its reply has gone out.  The keyring and the connection
 * table are the loop's alone, so they need no lock.
 *
 * A request that runs Argon2id (its handler table entry has a KDF plan) waits
 * for the KDF worker (server_kdf.c) instead: its connection is not polled, the
 * others are served, and when the job comes back the handler finishes on the
 * loop.  A wrong passphrase's reply is held for the failure delay (a timer,
 * never a sleep), and no passphrase check starts before it has passed.  An
 * idle connection is closed after --idle-timeout, and the least recently
 * active one makes room when --max-clients are connected.  PROTOCOL.md 8.1.
 * The worker also asks an EXPORT's --confirm-export command (up to 20 s).
 *
 * The timed events (a retiring version's deadline, the end of --lifetime:
 * timers.c) run before each poll, which sleeps until the nearest of them, of
 * the connections' deadlines, held replies and idle timeouts, and of the
 * failure delay, or until the KDF worker's eventfd says a job is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/log.h"
#include "keystore/keystate.h"
#include "keystore/handlers.h"
#include "keystore/proto.h"
#include "keystore/server.h"
#include "keystore/timers.h"

/* Frame buffer size kept per connection between requests. */
#define BODY_KEEP 4096

struct ks_conn {
	int fd;
	uid_t uid;
	pid_t pid;
	uint64_t id; /* serial number, never reused while the server runs */
	uint8_t hdr[PFC_KS_HDR_LEN];
	size_t hdr_got;
	uint8_t *body;	   /* sodium_malloc'd frame buffer, reused; wiped after each request */
	uint32_t body_cap; /* its size */
	uint32_t body_len, body_got;
	struct pfc_wbuf out; /* secure; the pending reply */
	size_t out_sent;
	int64_t deadline_ms;	    /* 0: idle (no partial frame, no pending reply) */
	bool close_after;	    /* close once the reply is sent */
	int64_t last_ms;	    /* the accept, or the last byte in or out: idleness */
	uint64_t last_seq;	    /* the same as a count: the least recent is the longest idle */
	struct pfc_ks_kdf_job *job; /* the request's derivations, waiting or on the worker */
	bool job_sent;		    /* job is on the worker: it is freed when reaped */
	uint64_t job_seq;	    /* arrival order while waiting */
	int64_t hold_ms;	    /* the reply is held until then (failure delay); 0: not */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connections ---- */

/* Activity on c: a byte in or out, or its accept.  The counter orders events
 * of the same millisecond (a burst of accepts).  The loop's alone. */
static void touch(struct ks_conn *c)
{
	static uint64_t seq;

	c->last_ms = now_ms();
	c->last_seq = ++seq;
}

static void conn_close(struct pfc_ks_server *s, size_t i)
{
	struct ks_conn *c = &s->conns[i];

	if (c->job && !c->job_sent)
		pfc_ks_kdf_job_free(c->job);
	/* a job on the worker has no owner any more: kdf_reap frees it */
	pfc_ks_forget_conn(s, c->id);
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

/* Between requests: no partial frame, no KDF pending, no reply pending. */
static bool conn_idle(const struct ks_conn *c)
{
	return c->hdr_got == 0 && !c->job && !c->hold_ms && pfc_wbuf_len(&c->out) == 0;
}

/* Bytes waiting on fd (a request that arrived after the last poll). */
static bool has_input(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/* May c be closed to make room?  Not while its KDF runs or its reply is being
 * sent (it is the server's turn); idle, mid-frame (the client's turn), waiting
 * for the worker or holding a failure's reply, yes. */
static bool conn_evictable(const struct ks_conn *c)
{
	return !(c->job && c->job_sent) && !(pfc_wbuf_len(&c->out) && !c->hold_ms);
}

/* Close the least recently active connection to make room for a new one;
 * false if none may go.  Its client reconnects on its next request
 * (keystore/client.h).  A connection in use (pfcryptfs asks every 2 s) is
 * closed only after as many newer ones as the table holds. */
static bool evict_one(struct pfc_ks_server *s)
{
	size_t best = SIZE_MAX;

	for (size_t i = 0; i < s->nconns; i++) {
		const struct ks_conn *c = &s->conns[i];

		if (conn_evictable(c) &&
		    (best == SIZE_MAX || c->last_seq < s->conns[best].last_seq) &&
		    !has_input(c->fd))
			best = i;
	}
	if (best == SIZE_MAX)
		return false;
	pfc_info("uid %u pid %d: closed, the least recently active, to make room (--max-clients "
		 "%zu)",
		 (unsigned)s->conns[best].uid, (int)s->conns[best].pid, s->max_clients);
	conn_close(s, best);
	return true;
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
		if (s->nconns >= s->max_clients && !evict_one(s)) {
			pfc_warn("uid %u pid %d: refused (too many clients, all busy)",
				 (unsigned)cr.uid, (int)cr.pid);
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
		c->id = ++s->next_conn;
		touch(c);
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
		touch(c);
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

/* The request in c->body is answered (reply in c->out): wipe the frame, send
 * the reply (once its hold, if any, is over). */
static bool conn_answered(struct pfc_ks_server *s, struct ks_conn *c, enum pfc_ks_next nx)
{
	if (nx == PFC_KS_SEND_CLOSE)
		c->close_after = true;
	sodium_memzero(c->body, c->body_len); /* passphrases and keys of the request */
	if (c->body_cap > BODY_KEEP) {
		sodium_free(c->body); /* do not keep a large frame's buffer */
		c->body = NULL;
		c->body_cap = 0;
	}
	c->hdr_got = 0;
	if (c->hold_ms) {
		c->deadline_ms = 0;
		return true;
	}
	c->deadline_ms = now_ms() + s->client_timeout_ms; /* the reply must be taken in time too */
	return conn_write(c);
}

/* After the dispatcher: wait for the KDF worker (the frame stays), or send. */
static bool conn_next(struct pfc_ks_server *s, struct ks_conn *c, enum pfc_ks_next nx,
		      struct pfc_ks_kdf_job *job)
{
	if (nx == PFC_KS_DERIVE) {
		c->job = job;
		c->job_sent = false;
		c->job_seq = s->kdf_seq++;
		c->deadline_ms = 0;
		return true;
	}
	return conn_answered(s, c, nx);
}

/* A complete frame is in c->body. */
static bool conn_request(struct pfc_ks_server *s, struct ks_conn *c)
{
	struct pfc_ks_kdf_job *job = NULL;
	enum pfc_ks_verdict verdict;
	enum pfc_ks_next nx = pfc_ks_dispatch(s, &(struct pfc_ks_peer){c->uid, c->pid, c->id},
					      c->body, c->body_len, &c->out, &job, &verdict);

	return conn_next(s, c, nx, job);
}

/* c's job is back from the worker: finish the request; a wrong passphrase
 * holds the reply and delays every later passphrase check. */
static bool conn_kdf_done(struct pfc_ks_server *s, struct ks_conn *c)
{
	struct pfc_ks_kdf_job *job = c->job;
	uint64_t seq = c->job_seq;
	enum pfc_ks_verdict verdict;
	enum pfc_ks_next nx;

	c->job = NULL;
	c->job_sent = false;
	nx = pfc_ks_dispatch_kdf(s, &(struct pfc_ks_peer){c->uid, c->pid, c->id}, c->body,
				 c->body_len, &c->out, &job, &verdict);
	if (nx == PFC_KS_DERIVE) { /* planned again: it keeps its place in the line */
		conn_next(s, c, nx, job);
		c->job_seq = seq;
		return true;
	}
	if (verdict == PFC_KS_PASS_WRONG)
		c->hold_ms = pfc_ks_backoff_fail(&s->backoff, now_ms());
	else if (verdict == PFC_KS_STORE_PASS_OK)
		pfc_ks_backoff_ok(&s->backoff);
	return conn_next(s, c, nx, job);
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
		touch(c);
		if (c->hdr_got == 0)
			c->deadline_ms = c->last_ms + timeout_ms;
		c->hdr_got += (size_t)n;
		if (c->hdr_got < PFC_KS_HDR_LEN)
			return true;
		c->body_len = pfc_ks_frame_len(c->hdr);
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
	touch(c);
	if (c->body_got < c->body_len)
		return true;
	return conn_request(s, c);
}

/* The events to poll a connection for: none while its request waits for the
 * KDF or its reply is held (a hang-up is still reported). */
static short conn_events(const struct ks_conn *c)
{
	if (c->job || c->hold_ms)
		return 0;
	return pfc_wbuf_len(&c->out) ? POLLOUT : POLLIN;
}

/* The next time something is due on c (a deadline, a held reply, the idle
 * timeout); -1 if nothing. */
static int64_t conn_due(const struct pfc_ks_server *s, const struct ks_conn *c)
{
	if (c->hold_ms)
		return c->hold_ms;
	if (c->deadline_ms)
		return c->deadline_ms;
	if (s->idle_timeout_ms > 0 && conn_idle(c))
		return c->last_ms + s->idle_timeout_ms;
	return -1;
}

/* Fill pfd (the listening socket, the KDF worker's eventfd, then one per
 * connection); *tsp the time to the nearest due time (a connection's, or the
 * timed event in wait_ms: pfc_ks_tick), NULL if none. */
static void poll_set(struct pfc_ks_server *s, struct pollfd *pfd, struct timespec *ts,
		     struct timespec **tsp, int64_t wait_ms)
{
	int64_t now = now_ms(), next = wait_ms >= 0 ? now + wait_ms : -1;

	pfd[0] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = s->kdfw->wake_fd, .events = POLLIN};
	for (size_t i = 0; i < s->nconns; i++) {
		struct ks_conn *c = &s->conns[i];
		int64_t due = conn_due(s, c);

		pfd[i + 2] = (struct pollfd){.fd = c->fd, .events = conn_events(c)};
		/* a request waiting for the failure delay to pass */
		if (c->job && !c->job_sent && !pfc_ks_backoff_open(&s->backoff, now))
			due = s->backoff.until_ms;
		if (due >= 0 && (next < 0 || due < next))
			next = due;
	}
	*tsp = NULL;
	if (next >= 0) {
		int64_t d = next > now ? next - now : 0;

		ts->tv_sec = d / 1000;
		ts->tv_nsec = (d % 1000) * 1000000;
		*tsp = ts;
	}
}

/* A connection with no events this round: release a held reply, close the
 * late and the idle.  Returns false to close. */
static bool conn_timers(struct pfc_ks_server *s, struct ks_conn *c, int64_t now)
{
	if (c->hold_ms) {
		if (now < c->hold_ms)
			return true;
		c->hold_ms = 0;
		c->deadline_ms = now + s->client_timeout_ms;
		return conn_write(c);
	}
	if (c->deadline_ms && now >= c->deadline_ms) {
		pfc_warn("uid %u pid %d: timed out mid-frame or reply not read; closing",
			 (unsigned)c->uid, (int)c->pid);
		return false;
	}
	if (s->idle_timeout_ms > 0 && conn_idle(c) && now - c->last_ms >= s->idle_timeout_ms &&
	    !has_input(c->fd)) {
		pfc_debug("uid %u pid %d: idle for %lld s; closing", (unsigned)c->uid, (int)c->pid,
			  (long long)(s->idle_timeout_ms / 1000));
		return false;
	}
	return true;
}

/* Serve the n connections polled: write, read, or close the failed and the late. */
static void poll_serve(struct pfc_ks_server *s, const struct pollfd *pfd, size_t n)
{
	int64_t now = now_ms();

	/* walk backwards: conn_close moves the last connection into slot i */
	for (size_t i = n; i-- > 0;) {
		struct ks_conn *c = &s->conns[i];
		short ev = pfd[i + 2].revents;
		bool keep = true;

		if (ev & (POLLERR | POLLNVAL))
			keep = false;
		/* gave up waiting: a job on the worker is dropped when it is done */
		else if ((c->job || c->hold_ms) && (ev & POLLHUP))
			keep = false;
		else if (ev & POLLOUT)
			keep = conn_write(c);
		else if (ev & (POLLIN | POLLHUP))
			keep = conn_read(s, c, s->client_timeout_ms);
		else
			keep = conn_timers(s, c, now);
		if (!keep)
			conn_close(s, i);
	}
}

/* Take the finished KDF jobs back to their connections. */
static void kdf_reap(struct pfc_ks_server *s)
{
	struct pfc_ks_kdf_job *j;

	while ((j = pfc_ks_kdf_reap(s->kdfw))) {
		size_t i = 0;

		while (i < s->nconns && s->conns[i].job != j)
			i++;
		if (i == s->nconns)
			pfc_ks_kdf_job_free(j); /* its client has gone */
		else if (!conn_kdf_done(s, &s->conns[i]))
			conn_close(s, i);
	}
}

/*
 * Hand the oldest waiting request to the worker, once it is idle and the
 * failure delay has passed: one passphrase check at a time, so parallel
 * connections get no more guesses than one.
 */
static void kdf_pump(struct pfc_ks_server *s)
{
	struct ks_conn *first = NULL;

	if (!pfc_ks_backoff_open(&s->backoff, now_ms()) || pfc_ks_kdf_outstanding(s->kdfw) > 0)
		return;
	for (size_t i = 0; i < s->nconns; i++) {
		struct ks_conn *c = &s->conns[i];

		if (c->job && !c->job_sent && (!first || c->job_seq < first->job_seq))
			first = c;
	}
	if (first && pfc_ks_kdf_submit(s->kdfw, first->job))
		first->job_sent = true;
}

/* The connection table, the poll set and the KDF worker; PFC_ERR_* on failure. */
static int run_start(struct pfc_ks_server *s, struct pollfd **pfd)
{
	int rc = 0;

	s->conns = calloc(s->max_clients, sizeof(*s->conns));
	s->kdfw = calloc(1, sizeof(*s->kdfw));
	*pfd = calloc(s->max_clients + 2, sizeof(**pfd));
	if (!s->conns || !s->kdfw || !*pfd)
		rc = PFC_ERR_NOMEM;
	else if ((rc = pfc_ks_kdf_pool_start(s->kdfw)) < 0)
		pfc_err_log("cannot start the KDF worker: %s", pfc_strerror(rc));
	if (rc < 0) {
		free(s->conns);
		free(s->kdfw);
		free(*pfd);
		s->conns = NULL;
		s->kdfw = NULL;
	}
	return rc;
}

int pfc_ks_server_run(struct pfc_ks_server *s, volatile sig_atomic_t *stop)
{
	struct pollfd *pfd;
	sigset_t empty;
	int rc;

	if ((rc = run_start(s, &pfd)) < 0)
		return rc;
	sigemptyset(&empty);
	while (!*stop) {
		struct timespec ts, *tsp;
		size_t n = s->nconns;

		poll_set(s, pfd, &ts, &tsp, pfc_ks_tick(s));
		if (ppoll(pfd, n + 2, tsp, &empty) < 0) {
			if (errno == EINTR)
				continue;
			pfc_err_log("poll: %s", strerror(errno));
			break;
		}
		poll_serve(s, pfd, n);
		if (pfd[1].revents & POLLIN)
			kdf_reap(s);
		if (pfd[0].revents & POLLIN)
			accept_all(s);
		kdf_pump(s);
	}
	while (s->nconns)
		conn_close(s, s->nconns - 1);
	pfc_ks_kdf_pool_stop(s->kdfw); /* waits for a derivation under way */
	free(s->kdfw);
	s->kdfw = NULL;
	free(s->conns);
	s->conns = NULL;
	free(pfd);
	close(s->listen_fd);
	if (!s->socket_inherited)
		unlink(s->socket_path);
	pfc_ks_server_lock(s);
	return 0;
}
