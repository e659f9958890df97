// SPDX-License-Identifier: MIT
/*
 * test_server_limits.c - keystore/server.c's limits and fairness (PROTOCOL.md
 * 8.1) through a real server on a thread (server_fixture.h): the table full of
 * idle, stalled or busy connections, the idle timeout and the client's
 * reconnect, the failure delay.  Runs in the sanitizer build too.
 */
#include "tests/unit/keystore/server_fixture.h"

TestSuite(keystore_server_limits, .init = setup, .fini = teardown);

Test(keystore_server_limits, a_full_table_closes_the_longest_idle_connection)
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

Test(keystore_server_limits, a_full_table_of_stalled_frames_closes_the_stalest)
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

Test(keystore_server_limits, a_full_table_of_replies_not_taken_refuses_the_next)
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

Test(keystore_server_limits, an_idle_connection_is_closed_and_the_client_reconnects)
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

Test(keystore_server_limits, wrong_passphrases_are_answered_later_and_later)
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

Test(keystore_server_limits, only_a_right_store_passphrase_starts_the_count_over)
{
	struct pfc_ks *ks = conn();
	uint8_t *bundle = NULL;
	uint32_t n = 0;
	size_t blen;

	int64_t t;

	cr_assert_eq(pfc_ks_create_key(ks, "vol"), 0);
	for (int k = 1; k <= 3; k++)
		cr_assert_geq(wrong_unlock(ks), 100 * k - 5);
	/* an export's proof is the store passphrase (PROTOCOL.md 2.1): proved right */
	pfc_ks_set_proof(ks, PW, strlen(PW));
	cr_assert_eq(pfc_ks_export(ks, "vol", NULL, 0, "exp", 3, "test", &bundle, &blen), 0);
	t = wrong_unlock(ks);
	cr_assert(t >= 95 && t < 400, "the export's proof starts the count over: %lld ms",
		  (long long)t);
	/* an import under a passphrase of one's own choosing proves nothing */
	cr_assert_eq(pfc_ks_import(ks, bundle, blen, "exp", 3, &n), 0);
	pfc_ks_bundle_free(bundle);
	cr_assert_geq(wrong_unlock(ks), 200 - 5, "the count went on");
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

Test(keystore_server_limits, a_held_failure_delays_passphrase_checks_but_nothing_else)
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

/* a proof (RETIRE, CANCEL_RETIRE, EXPORT: PROTOCOL.md 2.1) is checked on the KDF
 * worker like any store passphrase: a wrong one is held and counted, the
 * handler does not run; a right one starts the count over */
Test(keystore_server_limits, a_wrong_proof_is_held_and_counted_like_a_wrong_passphrase)
{
	struct pfc_ks *ks = conn();
	uint8_t *bundle = NULL;
	struct pfc_ks_keyinfo *list;
	size_t blen, n;
	uint32_t v;
	int64_t t0;

	cr_assert_eq(pfc_ks_create_key(ks, "vol"), 0);
	cr_assert_eq(pfc_ks_rotate(ks, "vol", &v), 0);
	pfc_ks_set_proof(ks, "wrong", 5);
	t0 = ms_now();
	cr_assert_eq(pfc_ks_retire(ks, "vol", 1, PFC_KS_RETIRE_FORCE, 0, NULL),
		     PFC_ERR_BAD_PASSPHRASE);
	cr_assert_geq(ms_now() - t0, 95, "held for the failure delay");
	cr_assert_neq(strstr(pfc_ks_last_message(ks), "not the store passphrase: retire refused"),
		      NULL);
	t0 = ms_now();
	cr_assert_eq(pfc_ks_export(ks, "vol", NULL, 0, "exp", 3, "test", &bundle, &blen),
		     PFC_ERR_BAD_PASSPHRASE);
	cr_assert_geq(ms_now() - t0, 195, "the second failure");
	cr_assert_eq(pfc_ks_cancel_retire(ks, "vol", 1), PFC_ERR_BAD_PASSPHRASE);
	cr_assert_geq(wrong_unlock(ks), 400 - 5, "and a wrong UNLOCK after them the fourth");
	cr_assert_eq(pfc_ks_list(ks, &list, &n), 0);
	cr_assert_eq(list[0].state, PFC_KS_ACTIVE, "nothing retired");
	pfc_ks_list_free(list);
	pfc_ks_set_proof(ks, PW, strlen(PW));
	cr_assert_eq(pfc_ks_retire(ks, "vol", 1, PFC_KS_RETIRE_FORCE, 3600, NULL), 1);
	cr_assert_lt(wrong_unlock(ks), 400, "the right proof started the count over");
	cr_assert_eq(pfc_ks_cancel_retire(ks, "vol", 1), 0);
	pfc_ks_close(ks);
}
