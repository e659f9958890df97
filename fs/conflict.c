/* SPDX-License-Identifier: MIT */
/* conflict.c - conflict-copy markers of sync clients (see volume.h). */
#include "fs/volume.h"

#include <string.h>

bool pfc_conflict_marker(const char *s)
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

size_t pfc_conflict_split(const char *entry)
{
	const size_t plen = strlen(PFC_LONGNAME_PREFIX);
	size_t k = 0;

	/* a long-name entry "pfc.long.<base64url>": its copy keeps the prefix */
	if (strncmp(entry, PFC_LONGNAME_PREFIX, plen) == 0)
		k = plen;
	while (entry[k] && is_b64url(entry[k]))
		k++;
	if (k == 0 || k == plen || !pfc_conflict_marker(entry + k))
		return 0;
	return k;
}

bool pfc_conflict_copy(const char *entry, size_t *base_len)
{
	size_t k = pfc_conflict_split(entry);
	enum pfc_entry_kind kind;
	char base[PFC_ENCNAME_SHORT_MAX + 1];

	if (k == 0 || k > PFC_ENCNAME_SHORT_MAX)
		return false;
	memcpy(base, entry, k);
	base[k] = '\0';
	kind = pfc_entry_classify(base, k);
	if (kind != PFC_ENTRY_ENCNAME && kind != PFC_ENTRY_LONGNAME)
		return false;
	if (base_len)
		*base_len = k;
	return true;
}

size_t pfc_conflict_next_marker(const char *name, size_t from)
{
	size_t len = strlen(name);

	if (from == 0)
		from = 1;
	for (size_t i = from; i < len; i++)
		if ((name[i] == '.' || name[i] == ' ') && pfc_conflict_marker(name + i))
			return i;
	return 0;
}
