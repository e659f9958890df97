// SPDX-License-Identifier: MIT
/*
 * test_ks.c - tools/ks.c: one keystore connection per worker (against a
 * keystore server on a thread of this process), the one-line keystore
 * errors, the state names.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <sodium.h>

#include "fs/err.h"
#include "fs/log.h"
#include "keystore/client.h"
#include "keystore/server.h"
#include "keystore/store.h"
#include "tools/cli.h"

static char dir[64], sock[128];
static struct pfc_ks_server srv;
static pthread_t thr;
static volatile sig_atomic_t stop;

static void wake(int sig)
{
	(void)sig;
}

static void *serve(void *arg)
{
	(void)arg;
	pfc_ks_server_run(&srv, &stop);
	return NULL;
}

/* A keystore with the fast "test" KDF in a temp dir, serving on a thread. */
static void with_server(void)
{
	static const uint8_t pw[] = "tools ks test";
	static char store[128];
	struct sigaction sa = {.sa_handler = wake};
	struct pfc_kdf kdf;
	sigset_t set;

	cr_assert_geq(sodium_init(), 0);
	pfc_log_init("test_ks", 0);
	pfc_log_set_level(PFC_LOG_ERR);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* the server's ppoll unblocks it */
	strcpy(dir, "/tmp/pfc-cli-ks-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/ks.sock", dir);
	snprintf(store, sizeof(store), "%s/store", dir);
	cr_assert_eq(pfc_kdf_from_name("test", &kdf), 0);
	cr_assert_eq(pfc_store_create(store, pw, sizeof(pw) - 1, &kdf), 0);
	srv = (struct pfc_ks_server){.store_path = store,
				     .socket_path = sock,
				     .client_timeout_ms = 2000,
				     .max_clients = 8,
				     .owner = geteuid()};
	cr_assert_eq(pfc_store_load(store, pw, sizeof(pw) - 1, &srv.kr, &srv.sk), 0);
	srv.kdf = srv.sk->kdf;
	cr_assert_eq(pfc_ks_server_listen(&srv), 0);
	cr_assert_eq(pthread_create(&thr, NULL, serve, NULL), 0);
	cli_g.socket = sock;
}

static void without_server(void)
{
	char cmd[128];

	stop = 1;
	pthread_kill(thr, SIGUSR1);
	pthread_join(thr, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* No server; stderr captured. */
static void alone(void)
{
	cr_assert_geq(sodium_init(), 0);
	cr_redirect_stderr();
}

TestSuite(cli_ks);

Test(cli_ks, one_connection_per_worker_opened_in_steps, .init = with_server, .fini = without_server)
{
	struct cli_ks_conns c;
	uint32_t ver;

	cr_assert_eq(cli_ks_conns_init(&c, 4), 0);
	cr_expect_eq(c.n, 0);
	cr_assert_eq(cli_ks_conns_open(&c, 1), 0);
	cr_expect_eq(c.n, 1);
	cr_assert_eq(cli_ks_conns_open(&c, 3), 0);
	cr_expect_eq(c.n, 3);
	cr_assert_eq(cli_ks_conns_open(&c, 9), 0); /* never past the room made */
	cr_expect_eq(c.n, 4);
	for (unsigned i = 0; i < c.n; i++) {
		cr_expect_eq(pfc_ks_hello(c.ks[i], &ver), 0);
		for (unsigned j = 0; j < i; j++)
			cr_expect_neq(c.ks[i], c.ks[j]);
	}
	cli_ks_conns_close(&c);
	cr_expect_null(c.ks);
	cr_expect_eq(c.n, 0);
}

Test(cli_ks, unreachable_keystore_is_one_line_and_nothing_open, .init = alone)
{
	struct cli_ks_conns c;

	cli_g.socket = "/nonexistent/pfc.sock";
	cr_assert_eq(cli_ks_conns_init(&c, 2), 0);
	cr_expect_eq(cli_ks_conns_open(&c, 2), CLI_EXIT_SETUP);
	cr_expect_eq(c.n, 0);
	cli_ks_conns_close(&c);
	cli_ks_conns_close(&c); /* a closed set closes again */
	fflush(stderr);
	cr_assert_stderr_eq_str("pfcrypt: /nonexistent/pfc.sock: keystore unreachable (is it "
				"running? 'pfcrypt keystore start')\n");
}

Test(cli_ks, fail_names_what_and_returns_the_setup_code, .init = alone)
{
	cli_g.socket = "/run/x.sock";
	cr_expect_eq(cli_ks_fail(NULL, PFC_ERR_LOCKED, "master key %s v%u", "k", 2u),
		     CLI_EXIT_SETUP);
	cr_expect_eq(cli_ks_fail_socket(NULL, PFC_ERR_UNREACHABLE), CLI_EXIT_SETUP);
	fflush(stderr);
	cr_assert_stderr_eq_str(
	    "pfcrypt: master key k v2: keystore is locked (run 'pfcrypt keystore unlock')\n"
	    "pfcrypt: /run/x.sock: keystore unreachable (is it running? 'pfcrypt keystore "
	    "start')\n");
}

Test(cli_ks, state_names)
{
	cr_expect_str_eq(cli_ks_state_name(PFC_KS_PRIMARY), "primary");
	cr_expect_str_eq(cli_ks_state_name(PFC_KS_ACTIVE), "active");
	cr_expect_str_eq(cli_ks_state_name(PFC_KS_RETIRED), "retired");
}
