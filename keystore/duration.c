// SPDX-License-Identifier: MIT
/* duration.c - durations read and times shown by the CLI and the keystore (duration.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fs/err.h"
#include "keystore/duration.h"

int pfc_parse_duration(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	uint64_t unit = 1;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return PFC_ERR_INVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return PFC_ERR_INVAL;
	if (*end == 'm')
		unit = 60;
	else if (*end == 'h')
		unit = 3600;
	else if (*end == 'd')
		unit = 86400;
	else if (*end != 's' && *end != '\0')
		return PFC_ERR_INVAL;
	if (*end && end[1])
		return PFC_ERR_INVAL;
	if (v == 0 || v > max / unit)
		return PFC_ERR_INVAL;
	*out = v * unit;
	return 0;
}

void pfc_ks_fmt_time(uint64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, n, "%llu", (unsigned long long)t);
}
