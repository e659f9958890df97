// SPDX-License-Identifier: MIT
/*
 * server.c - the keystore's poll loop and its connections (the request
 * handlers are in handlers.c).
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
	int64_t deadline_ms; /* 0: idle (no partial frame, no pending reply) */
	bool close_after;    /* close once the reply is sent */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
		c->id = ++s->next_conn;
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
	if (c->body_got < c->body_len)
		return true;
	if (pfc_ks_dispatch(s, &(struct pfc_ks_peer){c->uid, c->pid, c->id}, c->body, c->body_len,
			    &c->out))
		c->close_after = true;
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

bool pfc_ks_conn_open(const struct pfc_ks_server *s, uint64_t conn)
{
	for (size_t i = 0; i < s->nconns; i++)
		if (s->conns[i].id == conn)
			return true;
	return false;
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

/* Fill pfd (the listening socket, then one per connection); *tsp the time to
 * the nearest deadline (a connection's, or the timed event in wait_ms), NULL
 * if none. */
static void poll_set(struct pfc_ks_server *s, struct pollfd *pfd, struct timespec *ts,
		     struct timespec **tsp, int64_t wait_ms)
{
	int64_t now = now_ms(), next = wait_ms >= 0 ? now + wait_ms : -1;

	pfd[0] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
	for (size_t i = 0; i < s->nconns; i++) {
		struct ks_conn *c = &s->conns[i];

		pfd[i + 1] = (struct pollfd){.fd = c->fd,
					     .events = pfc_wbuf_len(&c->out) ? POLLOUT : POLLIN};
		if (c->deadline_ms && (next < 0 || c->deadline_ms < next))
			next = c->deadline_ms;
	}
	*tsp = NULL;
	if (next >= 0) {
		int64_t d = next > now ? next - now : 0;

		ts->tv_sec = d / 1000;
		ts->tv_nsec = (d % 1000) * 1000000;
		*tsp = ts;
	}
}

/* Serve the n connections polled: write, read, or close the failed and the late. */
static void poll_serve(struct pfc_ks_server *s, const struct pollfd *pfd, size_t n)
{
	int64_t now = now_ms();

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
			pfc_warn("uid %u pid %d: timed out mid-frame or reply not read; closing",
				 (unsigned)c->uid, (int)c->pid);
			keep = false;
		}
		if (!keep)
			conn_close(s, i);
	}
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
		struct timespec ts, *tsp;
		size_t n = s->nconns;

		poll_set(s, pfd, &ts, &tsp, pfc_ks_tick(s));
		if (ppoll(pfd, n + 1, tsp, &empty) < 0) {
			if (errno == EINTR)
				continue;
			pfc_err_log("poll: %s", strerror(errno));
			break;
		}
		poll_serve(s, pfd, n);
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
