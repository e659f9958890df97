// SPDX-License-Identifier: MIT
/*
 * test_server_kdf.c - keystore/server_kdf.c: the failure backoff, the bounded
 * ring, KDF jobs (and their --confirm-export question), and the worker (submit,
 * the bound, reap through the eventfd).
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/err.h"
#include "keystore/server_kdf.h"

static void init(void)
{
	cr_assert_geq(sodium_init(), 0);
}

TestSuite(keystore_server_kdf, .init = init);

Test(keystore_server_kdf, delay_is_100ms_per_failure_capped)
{
	cr_assert_eq(pfc_ks_backoff_delay_ms(0), 0);
	cr_assert_eq(pfc_ks_backoff_delay_ms(1), 100);
	cr_assert_eq(pfc_ks_backoff_delay_ms(7), 700);
	cr_assert_eq(pfc_ks_backoff_delay_ms(49), 4900);
	cr_assert_eq(pfc_ks_backoff_delay_ms(50), PFC_KS_FAIL_CAP_MS);
	cr_assert_eq(pfc_ks_backoff_delay_ms(51), PFC_KS_FAIL_CAP_MS);
	cr_assert_eq(pfc_ks_backoff_delay_ms(UINT32_MAX), PFC_KS_FAIL_CAP_MS); /* no overflow */
}

Test(keystore_server_kdf, failures_push_the_gate_and_a_success_opens_it)
{
	struct pfc_ks_backoff b = {0};

	cr_assert(pfc_ks_backoff_open(&b, 0));
	cr_assert_eq(pfc_ks_backoff_fail(&b, 1000), 1100);
	cr_assert_not(pfc_ks_backoff_open(&b, 1099));
	cr_assert(pfc_ks_backoff_open(&b, 1100));
	cr_assert_eq(pfc_ks_backoff_fail(&b, 1100), 1300); /* second failure: 200 ms */
	cr_assert_eq(pfc_ks_backoff_fail(&b, 1300), 1600); /* third: 300 ms */
	cr_assert_eq(b.fails, 3u);
	/* a failure seen early (its job started before the gate moved) never pulls it back */
	cr_assert_eq(pfc_ks_backoff_fail(&b, 0), 1600);
	pfc_ks_backoff_ok(&b);
	cr_assert_eq(b.fails, 0u);
	cr_assert(pfc_ks_backoff_open(&b, 0));
	cr_assert_eq(pfc_ks_backoff_fail(&b, 5000), 5100); /* starts over at 100 ms */
}

Test(keystore_server_kdf, failure_count_saturates)
{
	struct pfc_ks_backoff b = {.fails = UINT32_MAX};

	cr_assert_eq(pfc_ks_backoff_fail(&b, 10), 10 + PFC_KS_FAIL_CAP_MS);
	cr_assert_eq(b.fails, UINT32_MAX);
}

Test(keystore_server_kdf, ring_is_a_bounded_fifo_that_wraps)
{
	struct pfc_ks_ring r = {0};
	int v[PFC_KS_KDF_QUEUE * 3];

	cr_assert_null(pfc_ks_ring_pop(&r));
	for (int i = 0; i < PFC_KS_KDF_QUEUE; i++)
		cr_assert(pfc_ks_ring_push(&r, &v[i]));
	cr_assert_not(pfc_ks_ring_push(&r, &v[PFC_KS_KDF_QUEUE]), "full");
	/* take 3, put 3 more: the slots wrap around, the order holds */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pfc_ks_ring_pop(&r), &v[i]);
	for (int i = 0; i < 3; i++)
		cr_assert(pfc_ks_ring_push(&r, &v[PFC_KS_KDF_QUEUE + i]));
	cr_assert_not(pfc_ks_ring_push(&r, &v[0]));
	for (int i = 3; i < PFC_KS_KDF_QUEUE + 3; i++)
		cr_assert_eq(pfc_ks_ring_pop(&r), &v[i]);
	cr_assert_null(pfc_ks_ring_pop(&r));
	cr_assert_eq(r.len, 0u);
}

static struct pfc_ks_kdf_job *test_job(const char *pass, unsigned n)
{
	struct pfc_ks_kdf_job *j = pfc_ks_kdf_job_new();
	struct pfc_kdf kdf;

	cr_assert_not_null(j);
	cr_assert_eq(pfc_kdf_from_name("test", &kdf), 0);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(pfc_ks_kdf_job_add(j, PFC_SEAL_MAGIC_STORE, (const uint8_t *)pass,
						strlen(pass), &kdf),
			     0);
	return j;
}

Test(keystore_server_kdf, job_derives_what_pfc_skey_derive_does_and_wipes_its_copies)
{
	struct pfc_ks_kdf_job *j = test_job("job pass", 2);
	struct pfc_skey *ref = NULL;
	uint8_t zero[sizeof(j->in[0].pass)] = {0};
	struct pfc_kdf kdf;

	cr_assert_eq(pfc_ks_kdf_job_add(j, PFC_SEAL_MAGIC_STORE, (const uint8_t *)"x", 1, &kdf),
		     PFC_ERR_INVAL, "at most PFC_KS_KDF_MAX derivations");
	kdf = j->in[0].kdf;
	cr_assert_eq(memcmp(j->in[0].pass, "job pass", 8), 0, "the passphrase is copied");
	pfc_ks_kdf_job_run(j);
	cr_assert_eq(j->rc, 0);
	cr_assert_eq(
	    pfc_skey_derive(PFC_SEAL_MAGIC_STORE, (const uint8_t *)"job pass", 8, &kdf, &ref), 0);
	cr_assert_eq(memcmp(j->key[0]->check, ref->check, sizeof(ref->check)), 0);
	cr_assert_eq(memcmp(j->key[0]->enc, ref->enc, sizeof(ref->enc)), 0);
	cr_assert_eq(memcmp(j->key[1]->check, ref->check, sizeof(ref->check)), 0);
	cr_assert_eq(memcmp(j->in[0].pass, zero, sizeof(zero)), 0, "copies wiped after the run");
	pfc_skey_free(ref);
	pfc_ks_kdf_job_free(j);
	pfc_ks_kdf_job_free(NULL);
}

Test(keystore_server_kdf, job_refuses_an_overlong_passphrase)
{
	struct pfc_ks_kdf_job *j = pfc_ks_kdf_job_new();
	static uint8_t big[PFC_KS_PASS_MAX + 1];
	struct pfc_kdf kdf;

	cr_assert_eq(pfc_kdf_from_name("test", &kdf), 0);
	cr_assert_eq(pfc_ks_kdf_job_add(j, PFC_SEAL_MAGIC_STORE, big, sizeof(big), &kdf),
		     PFC_ERR_INVAL);
	cr_assert_eq(pfc_ks_kdf_job_add(j, PFC_SEAL_MAGIC_STORE, big, PFC_KS_PASS_MAX, &kdf), 0);
	pfc_ks_kdf_job_free(j);
}

Test(keystore_server_kdf, bad_parameters_come_back_as_an_error_not_a_key)
{
	struct pfc_ks_kdf_job *j = test_job("p", 1);

	j->in[0].kdf.opslimit = 0; /* below libsodium's minimum */
	pfc_ks_kdf_job_run(j);
	cr_assert_eq(j->rc, PFC_ERR_CORRUPT);
	cr_assert_null(j->key[0]);
	pfc_ks_kdf_job_free(j);
}

/* Reap one job, waiting on the eventfd as the poll loop does. */
static struct pfc_ks_kdf_job *reap_wait(struct pfc_ks_kdf_pool *p)
{
	struct pfc_ks_kdf_job *j;

	while (!(j = pfc_ks_kdf_reap(p))) {
		struct pollfd pfd = {.fd = p->wake_fd, .events = POLLIN};

		cr_assert_eq(poll(&pfd, 1, 10000), 1, "the worker wakes the loop");
	}
	return j;
}

Test(keystore_server_kdf, worker_runs_a_bounded_queue_in_order)
{
	struct pfc_ks_kdf_pool p;
	struct pfc_ks_kdf_job *j[PFC_KS_KDF_QUEUE + 1];

	cr_assert_eq(pfc_ks_kdf_pool_start(&p), 0);
	for (int i = 0; i <= PFC_KS_KDF_QUEUE; i++)
		j[i] = test_job("worker", 1);
	for (int i = 0; i < PFC_KS_KDF_QUEUE; i++)
		cr_assert(pfc_ks_kdf_submit(&p, j[i]));
	cr_assert_not(pfc_ks_kdf_submit(&p, j[PFC_KS_KDF_QUEUE]), "the queue is bounded");
	cr_assert_eq(pfc_ks_kdf_outstanding(&p), (unsigned)PFC_KS_KDF_QUEUE);
	for (int i = 0; i < PFC_KS_KDF_QUEUE; i++) {
		struct pfc_ks_kdf_job *done = reap_wait(&p);

		cr_assert_eq(done, j[i], "one worker: first in, first out");
		cr_assert_eq(done->rc, 0);
		cr_assert_not_null(done->key[0]);
		pfc_ks_kdf_job_free(done);
	}
	cr_assert_eq(pfc_ks_kdf_outstanding(&p), 0u);
	cr_assert(pfc_ks_kdf_submit(&p, j[PFC_KS_KDF_QUEUE]), "room again once reaped");
	/* stop with a job outstanding: it is finished and freed by the stop */
	pfc_ks_kdf_pool_stop(&p);
	cr_assert_eq(p.outstanding, 0u);
}

/* --confirm-export: the job asks the command only when key[0] matches the
 * store key's check (the proof is right); otherwise it refuses unasked. */
static struct pfc_ks_kdf_job *confirm_job(const char *pass, const struct pfc_kdf *kdf,
					  const struct pfc_skey *ref, const char *cmd)
{
	struct pfc_ks_kdf_job *j = pfc_ks_kdf_job_new();

	cr_assert_not_null(j);
	cr_assert_eq(
	    pfc_ks_kdf_job_add(j, PFC_SEAL_MAGIC_STORE, (const uint8_t *)pass, strlen(pass), kdf),
	    0);
	j->confirm.cmd = cmd;
	snprintf(j->confirm.key, sizeof(j->confirm.key), "vol");
	memcpy(j->confirm.check, ref->check, sizeof(j->confirm.check));
	pfc_ks_kdf_job_run(j);
	cr_assert_eq(j->rc, 0);
	return j;
}

Test(keystore_server_kdf, job_asks_the_confirm_command_only_after_a_right_proof)
{
	struct pfc_ks_kdf_job *j;
	struct pfc_skey *ref = NULL;
	struct pfc_kdf kdf;

	cr_assert_eq(pfc_kdf_from_name("test", &kdf), 0);
	cr_assert_eq(pfc_skey_derive(PFC_SEAL_MAGIC_STORE, (const uint8_t *)"proof", 5, &kdf, &ref),
		     0);
	j = confirm_job("proof", &kdf, ref,
			"test \"$PFCRYPT_CONFIRM_KEY\" = vol && exit 0; exit 4");
	cr_assert_eq(j->confirm.rc, 0, "the command allowed it: %s", j->confirm.why);
	pfc_ks_kdf_job_free(j);
	j = confirm_job("proof", &kdf, ref, "exit 4");
	cr_assert_eq(j->confirm.rc, PFC_ERR_DENIED);
	cr_assert_neq(strstr(j->confirm.why, "exit status 4"), NULL, "%s", j->confirm.why);
	pfc_ks_kdf_job_free(j);
	j = confirm_job("not the proof", &kdf, ref, "exit 0");
	cr_assert_eq(j->confirm.rc, PFC_ERR_DENIED, "a wrong proof is refused");
	cr_assert_eq(j->confirm.why[0], '\0', "without asking the command");
	pfc_ks_kdf_job_free(j);
	pfc_skey_free(ref);
}
