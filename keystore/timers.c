// SPDX-License-Identifier: MIT
/* timers.c - the keystore's timed events (timers.h). */
#include <string.h>
#include <time.h>

#include "fs/err.h"
#include "fs/log.h"
#include "keystore/keystate.h"
#include "keystore/keyring.h"
#include "keystore/timers.h"

#define RETRY_S	    60 /* after a failed store write */
#define MAX_WAIT_MS 60000

/* Destroy the retiring versions whose deadline has passed (store written). */
static void expire(struct pfc_ks_server *s, uint64_t now)
{
	struct pfc_keyring next;
	uint64_t due = pfc_keyring_next_deadline(&s->kr);
	int rc;

	if (s->locked || !due || due > now || now < s->expire_retry_at)
		return;
	if ((rc = pfc_keyring_clone(&s->kr, &next)) < 0) {
		s->expire_retry_at = now + RETRY_S;
		return;
	}
	for (size_t i = 0; i < next.n; i++)
		if (next.e[i].state == PFC_KS_RETIRING && next.e[i].retired <= now)
			pfc_info("master key %s v%u: its grace period ended, destroying it",
				 next.e[i].name, (unsigned)next.e[i].version);
	pfc_keyring_expire(&next, now);
	if ((rc = pfc_ks_commit(s, &next)) < 0) {
		pfc_err_log("retiring versions due for destruction kept until the store can be "
			    "written (retry in %d s): %s",
			    RETRY_S, pfc_strerror(rc));
		s->expire_retry_at = now + RETRY_S;
		return;
	}
	s->expire_retry_at = 0;
}

/* Seconds since boot, suspend included: a lifetime runs on while the machine sleeps. */
static uint64_t boot_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec + 1; /* never 0: 0 is "locked" */
}

/* --lifetime: lock once that long has passed since the unlock (start or UNLOCK). */
static void lifetime(struct pfc_ks_server *s, uint64_t up)
{
	if (s->locked) {
		s->unlocked_at = 0;
		return;
	}
	if (!s->unlocked_at)
		s->unlocked_at = up;
	if (s->lifetime_s && up - s->unlocked_at >= s->lifetime_s) {
		pfc_info("lifetime of %llu s since the unlock is over: locking (keys wiped)",
			 (unsigned long long)s->lifetime_s);
		pfc_ks_server_lock(s);
		s->unlocked_at = 0;
	}
}

static int64_t until(uint64_t at, uint64_t now, int64_t best)
{
	int64_t ms = at > now ? (int64_t)(at - now) * 1000 : 0;

	return best < 0 || ms < best ? ms : best;
}

int64_t pfc_ks_tick(struct pfc_ks_server *s)
{
	uint64_t now = (uint64_t)time(NULL), up = boot_s();
	int64_t wait = -1;
	uint64_t due;

	lifetime(s, up);
	expire(s, now);
	if (!s->locked && s->lifetime_s)
		wait = until(s->unlocked_at + s->lifetime_s, up, wait);
	if (!s->locked && (due = pfc_keyring_next_deadline(&s->kr)))
		wait = until(due > s->expire_retry_at ? due : s->expire_retry_at, now, wait);
	return wait > MAX_WAIT_MS ? MAX_WAIT_MS : wait;
}
