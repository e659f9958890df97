/* SPDX-License-Identifier: MIT */
/*
 * server_fixture.h - the keystore server of test_server.c and
 * test_server_limits.c: a server on a thread of the test process, a temp store
 * with the "test" KDF profile, the client library and raw sockets.  Included
 * by one test file each (everything here is static).
 */
#ifndef PFC_TEST_SERVER_FIXTURE_H
#define PFC_TEST_SERVER_FIXTURE_H

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

static __attribute__((unused)) void on_usr1(int sig)
{
	(void)sig;
}

static __attribute__((unused)) void *serve(void *arg)
{
	(void)arg;
	pfc_ks_server_run(&srv, &stop);
	return NULL;
}

static __attribute__((unused)) void start_server(void)
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

static __attribute__((unused)) void stop_server(void)
{
	stop = 1;
	pthread_kill(thr, SIGUSR1); /* interrupts ppoll; the flag is checked after */
	pthread_join(thr, NULL);
}

static __attribute__((unused)) void setup(void)
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

static __attribute__((unused)) void teardown(void)
{
	char cmd[128];

	stop_server();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static __attribute__((unused)) struct pfc_ks *conn(void)
{
	struct pfc_ks *ks = NULL;

	cr_assert_eq(pfc_ks_connect(sock, 5000, &ks), 0);
	return ks;
}

static __attribute__((unused)) int raw(void)
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
static __attribute__((unused)) int read_reply(int fd, uint32_t *code)
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

static __attribute__((unused)) bool closed_by_server(int fd)
{
	uint8_t b;

	ssize_t n = recv(fd, &b, 1, 0);

	/* EOF, or a reset when the server closed with our unread bytes queued */
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static __attribute__((unused)) void still_serves(void)
{
	struct pfc_ks *ks = conn();
	uint32_t v = 0;

	int rc = pfc_ks_hello(ks, &v);

	cr_assert_eq(rc, 0, "hello: %s (%s)", pfc_err_name(rc), pfc_ks_last_message(ks));
	cr_assert_eq(v, PFC_KS_PROTOCOL_VERSION);
	pfc_ks_close(ks);
}

static const uint8_t HELLO[] __attribute__((unused)) = {5, 0, 0, 0, PFC_KS_HELLO, 1, 0, 0, 0};

static __attribute__((unused)) void hello_raw(int fd)
{
	uint32_t code = 0;

	cr_assert_eq(send(fd, HELLO, sizeof(HELLO), 0), (ssize_t)sizeof(HELLO));
	cr_assert_eq(read_reply(fd, &code), PFC_KS_HELLO | PFC_KS_REPLY);
}

static __attribute__((unused)) int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
