/* SPDX-License-Identifier: MIT */
/* conflict.c - conflict-copy markers of sync clients (see conflict.h). */
#include "fs/daemon/conflict.h"

#include <string.h>

bool pfcd_is_conflict_marker(const char *s)
{
	if (strncmp(s, ".sync-conflict-", 15) == 0)
		return s[15] != '\0';
	if (strncmp(s, ".conflict", 9) == 0)
		return s[9] >= '0' && s[9] <= '9';
	if (strncmp(s, " (", 2) == 0)
		return strstr(s, "conflicted copy") != NULL;
	return false;
}

static bool is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

size_t pfcd_conflict_split(const char *entry)
{
	size_t k = 0;

	/* a long-name entry "pfc.long.<base64url>": its copy keeps the prefix */
	if (strncmp(entry, PFCD_LONG_PREFIX, strlen(PFCD_LONG_PREFIX)) == 0)
		k = strlen(PFCD_LONG_PREFIX);
	while (entry[k] && is_b64url(entry[k]))
		k++;
	if (k == 0 || k == strlen(PFCD_LONG_PREFIX) || !pfcd_is_conflict_marker(entry + k))
		return 0;
	return k;
}

size_t pfcd_conflict_next_marker(const char *name, size_t from)
{
	size_t len = strlen(name);

	if (from == 0)
		from = 1;
	for (size_t i = from; i < len; i++)
		if ((name[i] == '.' || name[i] == ' ') && pfcd_is_conflict_marker(name + i))
			return i;
	return 0;
}
