/* SPDX-License-Identifier: MIT */
/*
 * conflict.h - recognising sync-client conflict copies of backing entries
 * (DESIGN.md 4).  Pure string functions (no keys, no I/O), used by
 * dirnames.c to show "<enc><marker>" as "<name><marker>" and to find it.
 *
 * Markers recognised (each appended by its client to the conflicting name):
 *   Syncthing  ".sync-conflict-<anything>"      e.g. .sync-conflict-20240102-030405-ABCDEFG
 *   rclone     ".conflict<digit>..."            e.g. .conflict1
 *   Dropbox    " (<anything>conflicted copy<anything>"   e.g. " (Ann's conflicted copy 2024-01-02)"
 *   Nextcloud  " (conflicted copy <anything>"
 */
#ifndef PFC_DAEMON_CONFLICT_H
#define PFC_DAEMON_CONFLICT_H

#include <stdbool.h>
#include <stddef.h>

/* True if s (the rest of a name) starts with a conflict marker. */
bool pfcd_is_conflict_marker(const char *s);
/* fs/format.h PFC_LONGNAME_PREFIX (kept here so this module stays pure) */
#define PFCD_LONG_PREFIX "pfc.long."

/*
 * A backing entry "<base64url><marker>" or "pfc.long.<base64url><marker>"
 * (a sync client copies a long-name entry without its companion): returns
 * the length of the part before the marker (> 0), or 0 if the entry is not
 * of that shape.  Neither '.' nor ' ' is in the base64url alphabet, so the
 * encoding ends exactly where the marker begins.
 */
size_t pfcd_conflict_split(const char *entry);
/*
 * The next place in a plaintext name where a marker starts, searching from
 * from (>= 1: the base name is never empty); returns its offset or 0 if none.
 */
size_t pfcd_conflict_next_marker(const char *name, size_t from);

#endif
