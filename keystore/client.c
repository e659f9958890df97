// SPDX-License-Identifier: MIT
/* client.c - the keystore client library (API and contracts in client.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/client_priv.h"

#define DEFAULT_TIMEOUT_MS 10000

/* Why this thread's last pfc_ks_connect failed its socket checks. */
static _Thread_local char connect_msg[PFC_KS_CHECK_MSG_MAX];

/* Reply buffer size kept between requests. */
#define RX_KEEP 4096

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for ev on fd until deadline: 0, PFC_ERR_TIMEOUT or PFC_ERR_UNREACHABLE. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = ev};
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return PFC_ERR_TIMEOUT;
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return PFC_ERR_UNREACHABLE;
		if (n > 0)
			return 0;
	}
}

/* Connect, with the client checks before and after (sockcheck.h; a failure's
 * reason in ks->msg): nothing is sent to a socket that fails them. */
static int do_connect(struct pfc_ks *ks, int64_t deadline)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uid_t me = geteuid();
	int fd, rc;

	if ((rc = pfc_ks_check_path(ks->path, me, ks->msg, sizeof(ks->msg))) < 0)
		return rc;
	strcpy(sa.sun_path, ks->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return PFC_ERR_UNREACHABLE;
	/* A Unix socket connects at once or fails; EAGAIN means the listen backlog
	 * is full (the server is busy accepting): try again until the deadline. */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || now_ms() >= deadline) {
			int rc = errno == EAGAIN ? PFC_ERR_TIMEOUT : PFC_ERR_UNREACHABLE;

			close(fd);
			return rc;
		}
		poll(NULL, 0, 2);
	}
	if ((rc = pfc_ks_check_peer(fd, ks->path, me, ks->msg, sizeof(ks->msg))) < 0) {
		close(fd);
		return rc;
	}
	ks->fd = fd;
	return 0;
}

static void disconnect(struct pfc_ks *ks)
{
	if (ks->fd >= 0)
		close(ks->fd);
	ks->fd = -1;
}

/* Returns 0, PFC_ERR_TIMEOUT, or PFC_ERR_UNREACHABLE (peer gone). */
static int send_all(struct pfc_ks *ks, const uint8_t *p, size_t len, int64_t deadline)
{
	size_t off = 0;
	int rc;

	while (off < len) {
		ssize_t n = send(ks->fd, p + off, len - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = wait_fd(ks->fd, POLLOUT, deadline)) < 0)
				return rc;
			continue;
		}
		return PFC_ERR_UNREACHABLE;
	}
	return 0;
}

/* *got counts bytes read so far (to tell a drop before the reply from one inside it). */
static int recv_all(struct pfc_ks *ks, uint8_t *p, size_t len, int64_t deadline, size_t *got)
{
	size_t off = 0;
	int rc;

	while (off < len) {
		ssize_t n = recv(ks->fd, p + off, len - off, 0);

		if (n > 0) {
			off += (size_t)n;
			*got += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = wait_fd(ks->fd, POLLIN, deadline)) < 0)
				return rc;
			continue;
		}
		return PFC_ERR_UNREACHABLE; /* EOF or reset */
	}
	return 0;
}

/* A reply buffer of at least len bytes (ks->rx, grown if needed). */
static uint8_t *rx_buf(struct pfc_ks *ks, size_t len)
{
	if (len > ks->rx_cap) {
		sodium_free(ks->rx);
		ks->rx_cap = len < RX_KEEP ? RX_KEEP : len;
		ks->rx = sodium_malloc(ks->rx_cap);
		if (!ks->rx)
			ks->rx_cap = 0;
	}
	return ks->rx;
}

/* Wipe the request and the reply; drop a large reply buffer. */
static void wipe(struct pfc_ks *ks, size_t rx_len)
{
	pfc_wbuf_reset(&ks->req);
	if (ks->rx)
		sodium_memzero(ks->rx, rx_len < ks->rx_cap ? rx_len : ks->rx_cap);
	if (ks->rx_cap > RX_KEEP) {
		sodium_free(ks->rx);
		ks->rx = NULL;
		ks->rx_cap = 0;
	}
}

/* Check a received reply frame body (type byte first) against the request's type;
 * point *fields at what follows the type.  An error reply gives its code. */
static int reply_type(struct pfc_ks *ks, uint8_t req_type, const uint8_t *body, uint32_t len,
		      const uint8_t **fields, size_t *fields_len)
{
	struct pfc_rbuf r;
	uint8_t type = 0;
	int rc;

	pfc_rbuf_init(&r, body, len);
	(void)pfc_rbuf_get_u8(&r, &type); /* len >= 1: checked by pfc_ks_frame_check_len */
	*fields_len = pfc_rbuf_left(&r);
	(void)pfc_rbuf_get_ptr(&r, *fields_len, fields);
	if (type == PFC_KS_ERROR) {
		rc = pfc_ks_error_decode(*fields, *fields_len, ks->msg);
		if (rc == PFC_ERR_PROTOCOL || rc == PFC_ERR_TOO_LARGE || rc == PFC_ERR_DENIED ||
		    rc == PFC_ERR_BUSY)
			disconnect(ks); /* the server may close after these */
		return rc;
	}
	if (type != (req_type | PFC_KS_REPLY)) {
		disconnect(ks);
		return PFC_ERR_PROTOCOL;
	}
	return 0;
}

/*
 * One request, one reply.  On success *fields is the reply after its type
 * byte, in ks->rx.  Called with ks->mu held.
 */
static int exchange(struct pfc_ks *ks, const struct pfc_ks_req *q, bool idempotent,
		    const uint8_t **fields, size_t *fields_len)
{
	uint8_t hdr[PFC_KS_HDR_LEN], *b = NULL;
	uint32_t len = 0;
	int64_t deadline = now_ms() + ks->timeout_ms;
	int rc;

	ks->msg[0] = '\0';
	pfc_wbuf_reset(&ks->req);
	if ((rc = pfc_ks_req_encode(&ks->req, q)) < 0)
		return rc;
	for (int attempt = 0; attempt < 2; attempt++) {
		size_t got = 0;
		bool sent = false;

		if (ks->fd < 0 && (rc = do_connect(ks, deadline)) < 0)
			return rc;
		rc = send_all(ks, pfc_wbuf_data(&ks->req), pfc_wbuf_len(&ks->req), deadline);
		sent = rc == 0;
		if (rc == 0 || rc == PFC_ERR_UNREACHABLE) {
			/* even if the send failed, the server may have left a frame
			 * before closing (DENIED, BUSY): read it rather than guess */
			int r = recv_all(ks, hdr, sizeof(hdr), deadline, &got);

			if (rc == 0 || r == 0)
				rc = r;
		}
		if (rc == 0) {
			len = pfc_ks_frame_len(hdr);
			if (pfc_ks_frame_check_len(len) < 0) {
				disconnect(ks);
				return PFC_ERR_PROTOCOL;
			}
			if (!(b = rx_buf(ks, len))) {
				disconnect(ks);
				return PFC_ERR_NOMEM;
			}
			rc = recv_all(ks, b, len, deadline, &got);
		}
		if (rc == 0)
			break;
		disconnect(ks); /* the stream's state is unknown */
		/* reconnect once: only a drop seen before any reply byte, and a
		 * non-idempotent request only if it was never sent */
		if (rc != PFC_ERR_UNREACHABLE || got || (sent && !idempotent))
			return rc;
	}
	if (rc < 0)
		return rc;
	return reply_type(ks, q->type, b, len, fields, fields_len);
}

/* Lock, exchange, decode the reply's fields into out, wipe, unlock. */
int pfc_ks_request(struct pfc_ks *ks, const struct pfc_ks_req *q, bool idempotent,
		   struct pfc_ks_reply *out)
{
	const uint8_t *fields = NULL;
	size_t len = 0;
	int rc;

	if (!ks)
		return PFC_ERR_INVAL;
	pthread_mutex_lock(&ks->mu);
	rc = exchange(ks, q, idempotent, &fields, &len);
	if (rc == 0)
		rc = pfc_ks_reply_decode(q->type, fields, len, out);
	wipe(ks, PFC_KS_FRAME_MAX);
	pthread_mutex_unlock(&ks->mu);
	return rc;
}

/* ---- public API ---- */

int pfc_ks_connect(const char *socket_path, int timeout_ms, struct pfc_ks **out)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct pfc_ks *ks;
	int rc;

	if (!out)
		return PFC_ERR_INVAL;
	if (!socket_path && !(socket_path = pfc_ks_default_socket(buf, sizeof(buf))))
		return PFC_ERR_NAME_TOO_LONG;
	if (strlen(socket_path) >= sizeof(ks->path))
		return PFC_ERR_NAME_TOO_LONG;
	ks = calloc(1, sizeof(*ks));
	if (!ks)
		return PFC_ERR_NOMEM;
	pthread_mutex_init(&ks->mu, NULL);
	strcpy(ks->path, socket_path);
	ks->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	ks->fd = -1;
	connect_msg[0] = '\0';
	if ((rc = pfc_wbuf_init(&ks->req, 256, true)) < 0 ||
	    (rc = do_connect(ks, now_ms() + ks->timeout_ms)) < 0) {
		if (rc == PFC_ERR_UNTRUSTED)
			snprintf(connect_msg, sizeof(connect_msg), "%s", ks->msg);
		pfc_ks_close(ks);
		return rc;
	}
	*out = ks;
	return 0;
}

void pfc_ks_close(struct pfc_ks *ks)
{
	if (!ks)
		return;
	disconnect(ks);
	pfc_wbuf_free(&ks->req);
	sodium_free(ks->rx);
	pthread_mutex_destroy(&ks->mu);
	free(ks);
}

const char *pfc_ks_last_message(struct pfc_ks *ks)
{
	return ks ? ks->msg : "";
}

const char *pfc_ks_connect_message(void)
{
	return connect_msg;
}

int pfc_ks_hello(struct pfc_ks *ks, uint32_t *server_version)
{
	struct pfc_ks_req q = {.type = PFC_KS_HELLO, .version = PFC_KS_PROTOCOL_VERSION};
	struct pfc_ks_reply rep = {0};
	int rc = pfc_ks_request(ks, &q, true, &rep);

	if (rc < 0)
		return rc;
	if (server_version)
		*server_version = rep.u32;
	return rep.u32 == PFC_KS_PROTOCOL_VERSION ? 0 : PFC_ERR_UNKNOWN_VERSION;
}

int pfc_ks_status(struct pfc_ks *ks, struct pfc_ks_status *st)
{
	struct pfc_ks_req q = {.type = PFC_KS_STATUS};
	struct pfc_ks_reply rep = {0};
	int rc;

	if (!st)
		return PFC_ERR_INVAL;
	if ((rc = pfc_ks_request(ks, &q, true, &rep)) < 0)
		return rc;
	*st = rep.status;
	return 0;
}

int pfc_ks_req_name(struct pfc_ks_req *q, const char *name)
{
	if (!name)
		return PFC_ERR_INVAL;
	q->name = name;
	q->name_len = strlen(name);
	return pfc_ks_name_check(name, q->name_len);
}

int pfc_ks_create_key(struct pfc_ks *ks, const char *name)
{
	struct pfc_ks_req q = {.type = PFC_KS_CREATE};
	struct pfc_ks_reply rep = {0};
	int rc = pfc_ks_req_name(&q, name);

	return rc < 0 ? rc : pfc_ks_request(ks, &q, false, &rep);
}

static bool ad_ok(const uint8_t *ad, size_t len, size_t max)
{
	return len <= max && (len == 0 || ad);
}

int pfc_ks_wrap(struct pfc_ks *ks, const char *name, const uint8_t *ad, size_t ad_len,
		const uint8_t key[PFC_BLOB_KEY_LEN], uint8_t *blob, size_t *blob_len)
{
	struct pfc_ks_req q = {.type = PFC_KS_WRAP, .ad = ad, .ad_len = ad_len, .key = key};
	uint8_t tmp[PFC_WRAPPED_MAX];
	struct pfc_ks_reply rep = {.blob = tmp};
	int rc = pfc_ks_req_name(&q, name);

	if (rc < 0)
		return rc;
	if (!key || !blob || !blob_len || !ad_ok(ad, ad_len, PFC_KS_AD_MAX))
		return PFC_ERR_INVAL;
	if ((rc = pfc_ks_request(ks, &q, true, &rep)) < 0)
		return rc;
	memcpy(blob, tmp, rep.blob_len);
	*blob_len = rep.blob_len;
	return 0;
}

int pfc_ks_unwrap(struct pfc_ks *ks, const uint8_t *blob, size_t blob_len, const uint8_t *ad,
		  size_t ad_len, uint8_t key[PFC_BLOB_KEY_LEN])
{
	struct pfc_ks_req q = {
	    .type = PFC_KS_UNWRAP, .blob = blob, .blob_len = blob_len, .ad = ad, .ad_len = ad_len};
	struct pfc_ks_reply rep = {.key = key};
	int rc;

	if (!key || !blob || blob_len > PFC_WRAPPED_MAX || !ad_ok(ad, ad_len, PFC_KS_AD_MAX))
		return PFC_ERR_INVAL;
	rc = pfc_ks_request(ks, &q, true, &rep);
	if (rc < 0)
		sodium_memzero(key, PFC_BLOB_KEY_LEN);
	return rc;
}

int pfc_ks_rewrap(struct pfc_ks *ks, const uint8_t *blob, size_t blob_len, const uint8_t *ad,
		  size_t ad_len, uint8_t *new_blob, size_t *new_len)
{
	struct pfc_ks_req q = {
	    .type = PFC_KS_REWRAP, .blob = blob, .blob_len = blob_len, .ad = ad, .ad_len = ad_len};
	uint8_t tmp[PFC_WRAPPED_MAX];
	struct pfc_ks_reply rep = {.blob = tmp};
	int rc;

	if (!blob || blob_len > PFC_WRAPPED_MAX || !new_blob || !new_len ||
	    !ad_ok(ad, ad_len, PFC_KS_AD_MAX))
		return PFC_ERR_INVAL;
	if ((rc = pfc_ks_request(ks, &q, true, &rep)) < 0)
		return rc;
	memcpy(new_blob, tmp, rep.blob_len);
	*new_len = rep.blob_len;
	return rep.already ? 1 : 0;
}

int pfc_ks_generate_file_keys(struct pfc_ks *ks, const char *name, const uint8_t *ad_prefix,
			      size_t prefix_len, unsigned count, struct pfc_ks_filekey *out)
{
	struct pfc_ks_req q = {.type = PFC_KS_GENERATE,
			       .ad = ad_prefix,
			       .ad_len = prefix_len,
			       .count = (uint16_t)count};
	struct pfc_ks_reply rep = {.filekeys = out, .count = count};
	int rc = pfc_ks_req_name(&q, name);

	if (rc < 0)
		return rc;
	if (!out || count == 0 || count > PFC_KS_GEN_MAX ||
	    !ad_ok(ad_prefix, prefix_len, PFC_KS_AD_MAX - PFC_KS_FILE_ID_LEN))
		return PFC_ERR_INVAL;
	rc = pfc_ks_request(ks, &q, true, &rep);
	if (rc < 0)
		sodium_memzero(out, count * sizeof(*out));
	return rc;
}
