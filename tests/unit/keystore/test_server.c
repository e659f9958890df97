// SPDX-License-Identifier: MIT
/*
 * test_server.c - keystore/server.c and keystore/client.c together: a server
 * on a thread of this process, a temp store with the "test" KDF profile, and
 * the client library (plus raw sockets for malformed input).  Runs in the
 * sanitizer build too.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/err.h"
#include "fs/log.h"
#include "keystore/client.h"
#include "keystore/proto.h"
#include "keystore/server.h"
#include "keystore/store.h"

static char dir[64], sock[128], store[128];
static const char PW[] = "server test pass";
static struct pfc_ks_server srv;
static pthread_t thr;
static volatile sig_atomic_t stop;
static int client_ms = 300; /* the next start_server()'s client timeout */
static int64_t idle_ms;	    /* and its idle timeout (0: none) */
static uint32_t init_fails; /* and its failure count, as if after that many wrong passphrases */

static void on_usr1(int sig)
{
	(void)sig;
}

static void *serve(void *arg)
{
	(void)arg;
	pfc_ks_server_run(&srv, &stop);
	return NULL;
}

static void start_server(void)
{
	memset(&srv, 0, sizeof(srv));
	srv.store_path = store;
	srv.socket_path = sock;
	srv.client_timeout_ms = client_ms;
	srv.max_clients = 8;
	srv.idle_timeout_ms = idle_ms;
	srv.backoff.fails = init_fails;
	srv.owner = geteuid();
	cr_assert_eq(pfc_store_load(store, (const uint8_t *)PW, strlen(PW), &srv.kr, &srv.sk), 0);
	srv.kdf = srv.sk->kdf;
	cr_assert_eq(pfc_ks_server_listen(&srv), 0);
	stop = 0;
	cr_assert_eq(pthread_create(&thr, NULL, serve, NULL), 0);
}

static void stop_server(void)
{
	stop = 1;
	pthread_kill(thr, SIGUSR1); /* interrupts ppoll; the flag is checked after */
	pthread_join(thr, NULL);
}

static void setup(void)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	struct pfc_kdf kdf;
	sigset_t set;

	cr_assert_geq(sodium_init(), 0);
	pfc_log_init("test_server", 0);
	pfc_log_set_level(PFC_LOG_ERR);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* only ppoll unblocks it */
	signal(SIGPIPE, SIG_IGN);
	strcpy(dir, "/tmp/ks-srv-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/run/ks.sock", dir);
	snprintf(store, sizeof(store), "%s/keystore", dir);
	cr_assert_eq(pfc_kdf_from_name("test", &kdf), 0);
	cr_assert_eq(pfc_store_create(store, (const uint8_t *)PW, strlen(PW), &kdf), 0);
	start_server();
}

static void teardown(void)
{
	char cmd[128];

	stop_server();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(keystore_server, .init = setup, .fini = teardown);

static struct pfc_ks *conn(void)
{
	struct pfc_ks *ks = NULL;

	cr_assert_eq(pfc_ks_connect(sock, 5000, &ks), 0);
	return ks;
}

static int raw(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {5, 0};

	strcpy(sa.sun_path, sock);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Read one frame; return its type and the error code (if an error frame). */
static int read_reply(int fd, uint32_t *code)
{
	uint8_t hdr[4], body[512];
	uint32_t n;

	if (recv(fd, hdr, 4, MSG_WAITALL) != 4)
		return -1;
	n = pfc_load_u32(hdr);
	cr_assert(n >= 1 && n <= sizeof(body));
	cr_assert_eq(recv(fd, body, n, MSG_WAITALL), (ssize_t)n);
	if (body[0] == PFC_KS_ERROR)
		*code = pfc_load_u32(body + 1);
	return body[0];
}

static bool closed_by_server(int fd)
{
	uint8_t b;

	ssize_t n = recv(fd, &b, 1, 0);

	/* EOF, or a reset when the server closed with our unread bytes queued */
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void still_serves(void)
{
	struct pfc_ks *ks = conn();
	uint32_t v = 0;

	int rc = pfc_ks_hello(ks, &v);

	cr_assert_eq(rc, 0, "hello: %s (%s)", pfc_err_name(rc), pfc_ks_last_message(ks));
	cr_assert_eq(v, PFC_KS_PROTOCOL_VERSION);
	pfc_ks_close(ks);
}

Test(keystore_server, full_session_through_the_client_library)
{
	struct pfc_ks *ks = conn();
	struct pfc_ks_status st;
	struct pfc_ks_keyinfo *list = NULL;
	static struct pfc_ks_filekey fk[64];
	uint8_t key[32], out[32], b1[PFC_WRAPPED_MAX], b2[PFC_WRAPPED_MAX], *bundle = NULL;
	const uint8_t ad[] = "pfcrypt/v1 name-key\0volumeidvolumeid";
	size_t l1, l2, n, blen;
	uint32_t v, imported = 9;

	randombytes_buf(key, 32);
	cr_assert_eq(pfc_ks_status(ks, &st), 0);
	cr_assert(!st.locked);
	cr_assert_str_eq(st.kdf_profile, "test");
	cr_assert_eq(pfc_ks_create_key(ks, "vol"), 0);
	cr_assert_eq(pfc_ks_create_key(ks, "vol"), PFC_ERR_EXISTS);
	cr_assert_eq(pfc_ks_wrap(ks, "vol", ad, sizeof(ad), key, b1, &l1), 0);
	cr_assert_eq(pfc_ks_unwrap(ks, b1, l1, ad, sizeof(ad), out), 0);
	cr_assert_arr_eq(out, key, 32);
	cr_assert_eq(pfc_ks_unwrap(ks, b1, l1, ad, 5, out), PFC_ERR_AUTH);
	cr_assert(sodium_is_zero(out, 32), "key output wiped on failure");
	cr_assert_eq(pfc_ks_rewrap(ks, b1, l1, ad, sizeof(ad), b2, &l2), 1);
	cr_assert_eq(pfc_ks_rotate(ks, "vol", &v), 0);
	cr_assert_eq(v, 2);
	cr_assert_eq(pfc_ks_rewrap(ks, b1, l1, ad, sizeof(ad), b2, &l2), 0);
	cr_assert_eq(pfc_ks_unwrap(ks, b2, l2, ad, sizeof(ad), out), 0);
	cr_assert_arr_eq(out, key, 32);
	cr_assert_eq(pfc_ks_generate_file_keys(ks, "vol", ad, 20, 64, fk), 0);
	cr_assert_eq(pfc_ks_retire(ks, "vol", 2), PFC_ERR_BUSY);
	cr_assert_eq(pfc_ks_retire(ks, "vol", 1), 0);
	cr_assert_eq(pfc_ks_unwrap(ks, b1, l1, ad, sizeof(ad), out), PFC_ERR_KEY_RETIRED);
	cr_assert_neq(strlen(pfc_ks_last_message(ks)), 0);
	cr_assert_eq(pfc_err_to_errno(PFC_ERR_KEY_RETIRED), ENOKEY);
	cr_assert_eq(pfc_ks_list(ks, &list, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(list[0].name, "vol");
	cr_assert_eq(list[0].state, PFC_KS_RETIRED);
	cr_assert_eq(list[1].state, PFC_KS_PRIMARY);
	pfc_ks_list_free(list);
	cr_assert_eq(pfc_ks_export(ks, "vol", NULL, 0, "exp", 3, &bundle, &blen), 0);
	cr_assert_eq(pfc_ks_import(ks, bundle, blen, "exp", 3, &imported), 0);
	cr_assert_eq(imported, 0);
	cr_assert_eq(pfc_ks_import(ks, bundle, blen, "bad", 3, &imported), PFC_ERR_BAD_PASSPHRASE);
	pfc_ks_bundle_free(bundle);
	cr_assert_eq(pfc_ks_lock(ks), 0);
	cr_assert_eq(pfc_ks_unwrap(ks, b2, l2, ad, sizeof(ad), out), PFC_ERR_LOCKED);
	cr_assert_eq(pfc_ks_status(ks, &st), 0);
	cr_assert(st.locked);
	cr_assert_eq(pfc_ks_unlock(ks, "wrong", 5), PFC_ERR_BAD_PASSPHRASE);
	cr_assert_eq(pfc_ks_unlock(ks, PW, strlen(PW)), 0);
	cr_assert_eq(pfc_ks_change_passphrase(ks, "wrong", 5, "new", 3), PFC_ERR_BAD_PASSPHRASE);
	cr_assert_eq(pfc_ks_change_passphrase(ks, PW, strlen(PW), "new", 3), 0);
	cr_assert_eq(pfc_ks_lock(ks), 0);
	cr_assert_eq(pfc_ks_unlock(ks, PW, strlen(PW)), PFC_ERR_BAD_PASSPHRASE);
	cr_assert_eq(pfc_ks_unlock(ks, "new", 3), 0);
	cr_assert_eq(pfc_ks_unwrap(ks, b2, l2, ad, sizeof(ad), out), 0);
	cr_assert_arr_eq(out, key, 32);
	pfc_ks_close(ks);
}

Test(keystore_server, client_reconnects_once_after_a_restart)
{
	struct pfc_ks *ks = conn();
	uint32_t v;

	cr_assert_eq(pfc_ks_hello(ks, &v), 0);
	stop_server();
	start_server();
	cr_assert_eq(pfc_ks_hello(ks, &v), 0, "idempotent request resent on a new connection");
	stop_server();
	cr_assert_eq(pfc_ks_hello(ks, &v), PFC_ERR_UNREACHABLE);
	start_server();
	cr_assert_eq(pfc_ks_hello(ks, &v), 0);
	pfc_ks_close(ks);
}

Test(keystore_server, unreachable_and_timeout)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pfc_ks *ks = NULL;
	char silent[160];
	uint32_t v;
	int fd;

	cr_assert_eq(pfc_ks_connect("/nonexistent/ks.sock", 500, &ks), PFC_ERR_UNREACHABLE);
	cr_assert_null(ks);
	/* a socket that accepts connections (backlog) but never answers */
	snprintf(silent, sizeof(silent), "%s/silent.sock", dir);
	strcpy(sa.sun_path, silent);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(pfc_ks_connect(silent, 200, &ks), 0);
	cr_assert_eq(pfc_ks_hello(ks, &v), PFC_ERR_TIMEOUT);
	pfc_ks_close(ks);
	close(fd);
}

Test(keystore_server, zero_length_frame_gets_an_error_and_a_close)
{
	int fd = raw();
	uint32_t code = 0;

	cr_assert_eq(send(fd, "\0\0\0\0", 4, 0), 4);
	cr_assert_eq(read_reply(fd, &code), PFC_KS_ERROR);
	cr_assert_eq(code, -PFC_ERR_PROTOCOL);
	cr_assert(closed_by_server(fd));
	close(fd);
	still_serves();
}

Test(keystore_server, oversized_frame_gets_an_error_and_a_close)
{
	int fd = raw();
	uint8_t hdr[5];
	uint32_t code = 0;

	pfc_store_u32(hdr, PFC_KS_FRAME_MAX + 1);
	hdr[4] = PFC_KS_HELLO;
	cr_assert_eq(send(fd, hdr, 5, 0), 5);
	cr_assert_eq(read_reply(fd, &code), PFC_KS_ERROR);
	cr_assert_eq(code, -PFC_ERR_TOO_LARGE);
	cr_assert(closed_by_server(fd));
	close(fd);
	still_serves();
}

Test(keystore_server, unknown_type_and_truncated_field)
{
	int fd = raw();
	uint32_t code = 0;
	/* CREATE whose lv16 name claims 5 bytes, 2 present */
	const uint8_t trunc[] = {5, 0, 0, 0, PFC_KS_CREATE, 5, 0, 'a', 'b'};
	const uint8_t unknown[] = {1, 0, 0, 0, 0x42};
	const uint8_t hello[] = {5, 0, 0, 0, PFC_KS_HELLO, 1, 0, 0, 0};

	cr_assert_eq(send(fd, trunc, sizeof(trunc), 0), (ssize_t)sizeof(trunc));
	cr_assert_eq(read_reply(fd, &code), PFC_KS_ERROR);
	cr_assert_eq(code, -PFC_ERR_TRUNCATED);
	/* the frame was well delimited: the connection still works */
	cr_assert_eq(send(fd, hello, sizeof(hello), 0), (ssize_t)sizeof(hello));
	cr_assert_eq(read_reply(fd, &code), PFC_KS_HELLO | PFC_KS_REPLY);
	cr_assert_eq(send(fd, unknown, sizeof(unknown), 0), (ssize_t)sizeof(unknown));
	cr_assert_eq(read_reply(fd, &code), PFC_KS_ERROR);
	cr_assert_eq(code, -PFC_ERR_PROTOCOL);
	cr_assert(closed_by_server(fd));
	close(fd);
	still_serves();
}

Test(keystore_server, stalled_client_does_not_delay_others_and_is_dropped)
{
	int fd = raw();
	const uint8_t half[] = {40, 0, 0, 0, PFC_KS_WRAP, 3};

	cr_assert_eq(send(fd, half, sizeof(half), 0), (ssize_t)sizeof(half));
	still_serves(); /* answered while the staller holds a partial frame */
	cr_assert(closed_by_server(fd), "staller closed after the client timeout");
	close(fd);
	still_serves();
}

static const uint8_t HELLO[] = {5, 0, 0, 0, PFC_KS_HELLO, 1, 0, 0, 0};

static void hello_raw(int fd)
{
	uint32_t code = 0;

	cr_assert_eq(send(fd, HELLO, sizeof(HELLO), 0), (ssize_t)sizeof(HELLO));
	cr_assert_eq(read_reply(fd, &code), PFC_KS_HELLO | PFC_KS_REPLY);
}

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Test(keystore_server, a_full_table_closes_the_longest_idle_connection)
{
	int fds[8], extra;

	for (int i = 0; i < 8; i++) {
		fds[i] = raw();
		hello_raw(fds[i]); /* fds[0] is idle the longest, fds[7] the shortest */
		usleep(5000);
	}
	extra = raw(); /* over max_clients: fds[0] makes room */
	hello_raw(extra);
	cr_assert(closed_by_server(fds[0]), "the longest-idle connection was closed");
	for (int i = 1; i < 8; i++)
		hello_raw(fds[i]);
	close(extra);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	still_serves();
}

Test(keystore_server, a_full_table_of_stalled_frames_closes_the_stalest)
{
	const uint8_t half[] = {40, 0, 0, 0, PFC_KS_WRAP};
	int fds[8], extra;

	for (int i = 0; i < 8; i++) {
		fds[i] = raw();
		cr_assert_eq(send(fds[i], half, sizeof(half), 0), (ssize_t)sizeof(half));
		usleep(5000);
	}
	usleep(50000);
	extra = raw(); /* mid-frame is the client's turn: the stalest makes room */
	hello_raw(extra);
	cr_assert(closed_by_server(fds[0]));
	close(extra);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	still_serves();
}

Test(keystore_server, a_full_table_of_replies_not_taken_refuses_the_next)
{
	/* GENERATE vol, no AD prefix, 256 keys: a 30 KB reply */
	const uint8_t gen[] = {10, 0, 0, 0, PFC_KS_GENERATE, 3, 0, 'v', 'o', 'l', 0, 0, 0, 1};
	struct pfc_ks *ks;
	int fds[8], extra;
	uint32_t code = 0;

	stop_server();
	client_ms = 10000; /* the replies not taken stay that long */
	start_server();
	client_ms = 300;
	ks = conn();
	cr_assert_eq(pfc_ks_create_key(ks, "vol"), 0);
	pfc_ks_close(ks);
	for (int i = 0; i < 8; i++) {
		fds[i] = raw();
		for (int k = 0; k < 16; k++) /* more replies than the socket holds: never read */
			cr_assert_eq(send(fds[i], gen, sizeof(gen), 0), (ssize_t)sizeof(gen));
	}
	usleep(300000); /* every connection is now stuck sending a reply: none may go */
	extra = raw();
	cr_assert_eq(read_reply(extra, &code), PFC_KS_ERROR);
	cr_assert_eq(code, -PFC_ERR_BUSY);
	cr_assert(closed_by_server(extra));
	close(extra);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	still_serves();
}

Test(keystore_server, an_idle_connection_is_closed_and_the_client_reconnects)
{
	struct pfc_ks *ks;
	int64_t t0;
	uint32_t v;
	int fd, busy;

	stop_server();
	idle_ms = 300;
	start_server();
	idle_ms = 0;
	ks = conn();
	fd = raw();
	busy = raw();
	hello_raw(fd);
	cr_assert_eq(pfc_ks_hello(ks, &v), 0);
	t0 = ms_now();
	for (int i = 0; i < 8; i++) { /* 800 ms, never 300 ms idle */
		hello_raw(busy);
		usleep(100000);
	}
	cr_assert(closed_by_server(fd), "idle connection closed");
	cr_assert_geq(ms_now() - t0, 250, "not before the idle timeout");
	hello_raw(busy); /* the active one stays */
	cr_assert_eq(pfc_ks_hello(ks, &v), 0, "the client library reconnects transparently");
	usleep(500000);
	/* not idempotent, so resent only if never sent: the close is seen when sending */
	cr_assert_eq(pfc_ks_create_key(ks, "vol"), 0, "a create after an idle close");
	close(fd);
	close(busy);
	pfc_ks_close(ks);
}

/* How long a wrong UNLOCK takes to be answered (ms). */
static int64_t wrong_unlock(struct pfc_ks *ks)
{
	int64_t t0 = ms_now();

	cr_assert_eq(pfc_ks_unlock(ks, "wrong", 5), PFC_ERR_BAD_PASSPHRASE);
	return ms_now() - t0;
}

Test(keystore_server, wrong_passphrases_are_answered_later_and_later)
{
	struct pfc_ks *ks = conn();
	int64_t t;

	for (int k = 1; k <= 3; k++) {
		t = wrong_unlock(ks);
		cr_assert_geq(t, 100 * k - 5, "failure %d answered after %lld ms", k, (long long)t);
	}
	cr_assert_eq(pfc_ks_unlock(ks, PW, strlen(PW)), 0);
	t = wrong_unlock(ks);
	cr_assert(t >= 95 && t < 400, "a success starts the count over: %lld ms", (long long)t);
	cr_assert_eq(pfc_ks_change_passphrase(ks, "wrong", 5, "n", 1), PFC_ERR_BAD_PASSPHRASE);
	cr_assert_geq(wrong_unlock(ks), 300 - 5, "PASSWD's wrong passphrase counts too");
	pfc_ks_close(ks);
}

Test(keystore_server, only_a_right_store_passphrase_starts_the_count_over)
{
	struct pfc_ks *ks = conn();
	uint8_t *bundle = NULL;
	uint32_t n = 0;
	size_t blen;

	cr_assert_eq(pfc_ks_create_key(ks, "vol"), 0);
	for (int k = 1; k <= 3; k++)
		cr_assert_geq(wrong_unlock(ks), 100 * k - 5);
	/* an export and an import under a passphrase of one's own choosing prove nothing */
	cr_assert_eq(pfc_ks_export(ks, "vol", NULL, 0, "exp", 3, &bundle, &blen), 0);
	cr_assert_eq(pfc_ks_import(ks, bundle, blen, "exp", 3, &n), 0);
	pfc_ks_bundle_free(bundle);
	cr_assert_geq(wrong_unlock(ks), 400 - 5, "the count went on");
	pfc_ks_close(ks);
}

static void *slow_wrong_unlock(void *arg)
{
	struct pfc_ks *ks = conn();
	int64_t *t = arg;

	*t = wrong_unlock(ks);
	pfc_ks_close(ks);
	return NULL;
}

Test(keystore_server, a_held_failure_delays_passphrase_checks_but_nothing_else)
{
	const uint8_t unlock[] = {4, 0, 0, 0, PFC_KS_UNLOCK, 1, 0, 'x'};
	struct pfc_ks *ks;
	int64_t held = 0, t0;
	pthread_t t;
	uint32_t v;
	int fd;

	stop_server();
	init_fails = 29; /* the next failure waits 3 s */
	start_server();
	init_fails = 0;
	ks = conn();
	pthread_create(&t, NULL, slow_wrong_unlock, &held);
	usleep(200000);
	t0 = ms_now();
	cr_assert_eq(pfc_ks_hello(ks, &v), 0);
	cr_assert_lt(ms_now() - t0, 1000, "served while a failure is held");
	/* a client that asks, waits in line, and hangs up: its request is dropped */
	fd = raw();
	cr_assert_eq(send(fd, unlock, sizeof(unlock), 0), (ssize_t)sizeof(unlock));
	usleep(50000);
	close(fd);
	cr_assert_eq(pfc_ks_unlock(ks, PW, strlen(PW)), 0);
	cr_assert_geq(ms_now() - t0, 2500, "the next passphrase check waited for the delay");
	pthread_join(t, NULL);
	cr_assert_geq(held, 2900, "the failure's own reply was held (%lld ms)", (long long)held);
	pfc_ks_close(ks);
}

struct sharer {
	struct pfc_ks *ks;
	const uint8_t *blob;
	size_t len;
	const uint8_t *key;
	int bad;
};

static void *share(void *arg)
{
	struct sharer *sh = arg;
	uint8_t out[32];

	for (int i = 0; i < 300; i++)
		if (pfc_ks_unwrap(sh->ks, sh->blob, sh->len, NULL, 0, out) != 0 ||
		    memcmp(out, sh->key, 32) != 0)
			sh->bad++;
	return NULL;
}

Test(keystore_server, one_handle_shared_by_four_threads)
{
	struct pfc_ks *ks = conn();
	uint8_t key[32], blob[PFC_WRAPPED_MAX];
	struct sharer sh[4];
	pthread_t t[4];
	size_t len;

	randombytes_buf(key, 32);
	cr_assert_eq(pfc_ks_create_key(ks, "vol"), 0);
	cr_assert_eq(pfc_ks_wrap(ks, "vol", NULL, 0, key, blob, &len), 0);
	for (int i = 0; i < 4; i++) {
		sh[i] = (struct sharer){ks, blob, len, key, 0};
		pthread_create(&t[i], NULL, share, &sh[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(sh[i].bad, 0, "thread %d: %d bad replies", i, sh[i].bad);
	}
	pfc_ks_close(ks);
}

/* A fake keystore: accepts connections, reads one frame on each, closes
 * without replying.  Counts the connections. */
struct dropper {
	int fd;
	int conns;
};

static void *drop_after_read(void *arg)
{
	struct dropper *d = arg;

	for (;;) {
		uint8_t buf[512];
		int c = accept(d->fd, NULL, NULL);

		if (c < 0)
			return NULL;
		d->conns++;
		if (recv(c, buf, sizeof(buf), 0) <= 0) {
			close(c);
			return NULL; /* the test's own wake-up connection */
		}
		close(c);
	}
}

static int dropped_request(bool idempotent)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct dropper d = {0};
	struct pfc_ks *ks = NULL;
	char path[160];
	pthread_t t;
	uint32_t v;
	int rc, wake;

	snprintf(path, sizeof(path), "%s/dropper.sock", dir);
	unlink(path);
	strcpy(sa.sun_path, path);
	d.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(d.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(d.fd, 8), 0);
	pthread_create(&t, NULL, drop_after_read, &d);
	cr_assert_eq(pfc_ks_connect(path, 2000, &ks), 0);
	rc = idempotent ? pfc_ks_hello(ks, &v) : pfc_ks_rotate(ks, "vol", &v);
	pfc_ks_close(ks);
	/* stop the fake server: a connection that sends nothing */
	wake = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(connect(wake, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(wake);
	pthread_join(t, NULL);
	close(d.fd);
	cr_assert_eq(rc, PFC_ERR_UNREACHABLE);
	return d.conns - 1; /* minus the wake-up connection */
}

Test(keystore_server, dropped_reply_is_resent_once_only_when_idempotent)
{
	cr_assert_eq(dropped_request(true), 2, "hello: one reconnect and resend");
	cr_assert_eq(dropped_request(false), 1, "rotate: never resent after it was sent");
}
