// SPDX-License-Identifier: MIT
/*
 * test_retire.c - the retiring state of keystore/keyring.c and the in-use rule
 * of keystore/retire.c (PROTOCOL.md 2.2).
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/buf.h"
#include "fs/err.h"
#include "keystore/keyring.h"
#include "keystore/duration.h"
#include "keystore/keystate.h"
#include "keystore/retire.h"

static struct pfc_keyring kr;
static const uint8_t AD[] = "pfcrypt/v1 file-key\0some volume id";
static uint8_t blob[PFC_WRAPPED_MAX];
static size_t blen;

/* vol v1 (a blob wrapped under it) and v2 primary */
static void setup(void)
{
	uint8_t key[32] = {7};
	uint32_t v;

	cr_assert_geq(sodium_init(), 0);
	pfc_keyring_init(&kr);
	cr_assert_eq(pfc_keyring_create(&kr, "vol", 3, 100), 0);
	cr_assert_eq(pfc_keyring_wrap(&kr, "vol", 3, AD, sizeof(AD), key, blob, &blen), 0);
	cr_assert_eq(pfc_keyring_rotate(&kr, "vol", 3, 101, &v), 0);
}

static void teardown(void)
{
	pfc_keyring_free(&kr);
}

TestSuite(keystore_retire, .init = setup, .fini = teardown);

Test(keystore_retire, a_delay_schedules_and_the_deadline_destroys)
{
	uint8_t out[32], nb[PFC_WRAPPED_MAX];
	size_t nl;
	const struct pfc_ks_entry *e;

	cr_assert_eq(pfc_keyring_retire(&kr, "vol", 3, 1, 1000, 60), 0);
	e = pfc_keyring_find(&kr, "vol", 3, 1);
	cr_assert_eq(e->state, PFC_KS_RETIRING);
	cr_assert_eq(e->retired, 1060, "the deadline");
	cr_assert(!sodium_is_zero(e->key, 32), "the key stays until the deadline");
	cr_assert_eq(pfc_keyring_unwrap(&kr, blob, blen, AD, sizeof(AD), out),
		     PFC_ERR_KEY_RETIRING);
	cr_assert_eq(pfc_keyring_rewrap(&kr, blob, blen, AD, sizeof(AD), nb, &nl), 0,
		     "moving files away still works");
	cr_assert_eq(pfc_keyring_next_deadline(&kr), 1060);
	cr_assert_eq(pfc_keyring_expire(&kr, 1059), 0);
	cr_assert_eq(e->state, PFC_KS_RETIRING);
	cr_assert_eq(pfc_keyring_expire(&kr, 1061), 1);
	cr_assert_eq(e->state, PFC_KS_RETIRED);
	cr_assert_eq(e->retired, 1061, "the tombstone keeps the time of destruction");
	cr_assert(sodium_is_zero(e->key, 32));
	cr_assert_eq(pfc_keyring_next_deadline(&kr), 0);
	cr_assert_eq(pfc_keyring_unwrap(&kr, blob, blen, AD, sizeof(AD), out), PFC_ERR_KEY_RETIRED);
}

Test(keystore_retire, cancel_restores_and_a_second_retire_moves_the_deadline)
{
	uint8_t out[32];
	const struct pfc_ks_entry *e = pfc_keyring_find(&kr, "vol", 3, 1);

	cr_assert_eq(pfc_keyring_cancel_retire(&kr, "vol", 3, 1), PFC_ERR_INVAL, "not retiring");
	cr_assert_eq(pfc_keyring_cancel_retire(&kr, "vol", 3, 2), PFC_ERR_INVAL, "primary");
	cr_assert_eq(pfc_keyring_cancel_retire(&kr, "vol", 3, 9), PFC_ERR_KEY_UNKNOWN);
	cr_assert_eq(pfc_keyring_retire(&kr, "vol", 3, 1, 1000, 60), 0);
	cr_assert_eq(pfc_keyring_retire(&kr, "vol", 3, 1, 1010, 5), 0);
	cr_assert_eq(e->retired, 1015);
	cr_assert_eq(pfc_keyring_cancel_retire(&kr, "vol", 3, 1), 0);
	cr_assert_eq(e->state, PFC_KS_ACTIVE);
	cr_assert_eq(e->retired, 0);
	cr_assert_eq(pfc_keyring_unwrap(&kr, blob, blen, AD, sizeof(AD), out), 0);
	cr_assert_eq(pfc_keyring_retire(&kr, "vol", 3, 1, 1020, 60), 0);
	cr_assert_eq(pfc_keyring_retire(&kr, "vol", 3, 1, 1030, 0), 0, "now, while retiring");
	cr_assert_eq(e->state, PFC_KS_RETIRED);
	cr_assert_eq(pfc_keyring_cancel_retire(&kr, "vol", 3, 1), PFC_ERR_KEY_RETIRED, "too late");
	cr_assert_eq(pfc_keyring_retire(&kr, "vol", 3, 2, 1040, 60), PFC_ERR_BUSY, "primary");
}

Test(keystore_retire, the_schedule_survives_the_store_plaintext_and_v1_has_no_retiring)
{
	struct pfc_keyring back;
	struct pfc_wbuf pt;

	cr_assert_eq(pfc_keyring_retire(&kr, "vol", 3, 1, 1000, 60), 0);
	cr_assert_eq(pfc_wbuf_init(&pt, 64, true), 0);
	cr_assert_eq(pfc_keyring_serialize(&kr, &pt), 0);
	cr_assert_eq(pt.p[0], 2, "payload version 2");
	cr_assert_eq(pfc_keyring_parse(pt.p, pt.len, &back), 0);
	cr_assert_eq(back.e[0].state, PFC_KS_RETIRING);
	cr_assert_eq(back.e[0].retired, 1060);
	cr_assert_arr_eq(back.e[0].key, kr.e[0].key, 32);
	pfc_keyring_free(&back);
	pt.p[0] = 1; /* a version-1 payload knows no retiring state */
	cr_assert_eq(pfc_keyring_parse(pt.p, pt.len, &back), PFC_ERR_CORRUPT);
	cr_assert_eq(pfc_keyring_cancel_retire(&kr, "vol", 3, 1), 0);
	pfc_wbuf_reset(&pt);
	cr_assert_eq(pfc_keyring_serialize(&kr, &pt), 0);
	pt.p[0] = 1; /* without it, a version-1 payload (an older store) still loads */
	cr_assert_eq(pfc_keyring_parse(pt.p, pt.len, &back), 0);
	cr_assert_eq(back.n, 2);
	pfc_keyring_free(&back);
	pfc_wbuf_free(&pt);
}

Test(keystore_retire, a_running_client_blocks_one_that_exited_does_not)
{
	/* connections "closed" at once (pfc_ks_forget_conn, as the loop does at a
	 * close): then only the pids count */
	struct pfc_ks_server srv = {.kr = kr};
	struct pfc_ks_entry *e = pfc_keyring_find(&kr, "vol", 3, 1);
	char why[128];
	pid_t child = fork();

	cr_assert_geq(child, 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	cr_assert_eq(pfc_ks_retire_check(&srv, e, 2000, why, sizeof(why)), 0, "never used");
	pfc_ks_note_use(&srv, e, &(struct pfc_ks_peer){0, 0, 1}, 0x05, 1990); /* pid 0: unknown */
	pfc_ks_forget_conn(&srv, 1);
	cr_assert_eq(pfc_ks_retire_check(&srv, e, 2000, why, sizeof(why)), 0);
	pfc_ks_note_use(&srv, e, &(struct pfc_ks_peer){0, child, 2}, 0x05, 1988);
	pfc_ks_forget_conn(&srv, 2);
	cr_assert_eq(pfc_ks_retire_check(&srv, e, 2000, why, sizeof(why)), PFC_ERR_BUSY);
	cr_assert_not_null(strstr(why, "v1 was used to unwrap a file key 12 s ago"), "%s", why);
	cr_assert_not_null(strstr(why, "still connected or running"), "%s", why);
	kill(child, SIGKILL);
	cr_assert_eq(waitpid(child, NULL, 0), child);
	cr_assert_eq(pfc_ks_retire_check(&srv, e, 2000, why, sizeof(why)), 0, "exited: %s", why);
	/* a running client's record is kept while the slots fill with gone ones */
	pfc_ks_note_use(&srv, e, &(struct pfc_ks_peer){0, getpid(), 3}, 0x04, 3000);
	pfc_ks_forget_conn(&srv, 3);
	for (int i = 0; i < 4 * PFC_KS_USES; i++) {
		pfc_ks_note_use(&srv, e, &(struct pfc_ks_peer){0, 0, 100 + (uint64_t)i}, 0x07,
				3001 + (uint64_t)i);
		pfc_ks_forget_conn(&srv, 100 + (uint64_t)i);
	}
	cr_assert_eq(pfc_ks_retire_check(&srv, e, 4000, why, sizeof(why)), PFC_ERR_BUSY);
	cr_assert_not_null(strstr(why, "wrap a key 1000 s ago"), "%s", why);
	/* an open connection counts though its pid is gone (a daemon that forked) */
	pfc_ks_note_use(&srv, e, &(struct pfc_ks_peer){0, 0, 7}, 0x05, 5000);
	cr_assert_eq(pfc_ks_retire_check(&srv, e, 5001, why, sizeof(why)), PFC_ERR_BUSY);
	cr_assert_not_null(strstr(why, "unwrap a file key 1 s ago"), "the open one: %s", why);
	pfc_ks_forget_conn(&srv, 7);
	cr_assert_eq(pfc_ks_retire_check(&srv, e, 5001, why, sizeof(why)), PFC_ERR_BUSY);
	cr_assert_not_null(strstr(why, "wrap a key 2001 s ago"), "closed: the pid's: %s", why);
}

Test(keystore_retire, durations_and_times)
{
	uint64_t v = 0;
	char t[40];

	cr_assert_eq(pfc_parse_duration("90", 1000, &v), 0);
	cr_assert_eq(v, 90);
	cr_assert_eq(pfc_parse_duration("90s", 1000, &v), 0);
	cr_assert_eq(pfc_parse_duration("2m", 1000, &v), 0);
	cr_assert_eq(v, 120);
	cr_assert_eq(pfc_parse_duration("8h", 86400, &v), 0);
	cr_assert_eq(v, 8 * 3600);
	cr_assert_eq(pfc_parse_duration("7d", 365 * 86400, &v), 0);
	cr_assert_eq(v, 7 * 86400);
	cr_assert_eq(pfc_parse_duration("365d", 365 * 86400, &v), 0);
	const char *bad[] = {"", "0", "0d", "366d", "d", "-1", "+1", "1x", "1dd", " 1", "1 ", NULL};
	for (size_t i = 0; bad[i]; i++)
		cr_assert_eq(pfc_parse_duration(bad[i], 365 * 86400, &v), PFC_ERR_INVAL, "%s",
			     bad[i]);
	cr_assert_eq(pfc_parse_duration(NULL, 10, &v), PFC_ERR_INVAL);
	cr_assert_eq(pfc_parse_duration("99999999999999999999d", UINT64_MAX, &v), PFC_ERR_INVAL);
	pfc_ks_fmt_time(1765789200, t, sizeof(t));
	cr_assert_str_eq(t, "2025-12-15 09:00:00 UTC");
}
