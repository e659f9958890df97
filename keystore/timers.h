/* SPDX-License-Identifier: MIT */
/*
 * timers.h - the keystore's timed events, run by the poll loop (server.c)
 * and before every request (handlers.c): retiring versions destroyed at their
 * deadline (PROTOCOL.md 2.2), the lock at the end of --lifetime (section 8).
 */
#ifndef PFC_KS_TIMERS_H
#define PFC_KS_TIMERS_H

#include <stdint.h>

#include "keystore/server.h"

/* Run what is due now; returns the milliseconds until the next event (at most
 * a minute, so that a clock step is noticed), or -1 if none is pending. */
int64_t pfc_ks_tick(struct pfc_ks_server *s);

#endif
