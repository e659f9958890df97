/* SPDX-License-Identifier: MIT */
/* duration.h - durations read and times shown by the CLI and the keystore. */
#ifndef PFC_KS_DURATION_H
#define PFC_KS_DURATION_H

#include <stddef.h>
#include <stdint.h>

/*
 * A duration as the CLI and the keystore daemon take it (--after, --lifetime):
 * a decimal number with an optional unit s (default), m, h or d, e.g. "7d".
 * 0 and *out in seconds, or PFC_ERR_INVAL (malformed, 0 or past max).
 */
int pfc_parse_duration(const char *s, uint64_t max, uint64_t *out);

/* Unix time t as "2026-12-15 08:00:00 UTC" into buf (n >= 24). */
void pfc_ks_fmt_time(uint64_t t, char *buf, size_t n);

#endif
