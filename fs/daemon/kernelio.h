/* SPDX-License-Identifier: MIT */
/*
 * kernelio.h - the daemon's /dev/fuse I/O hook (kernelio.c): negotiates
 * FUSE_HANDLE_KILLPRIV_V2, which libfuse 3.14 does not know, and applies
 * the kernel's "drop set-id bits" request flags that libfuse discards.
 */
#ifndef PFC_DAEMON_KERNELIO_H
#define PFC_DAEMON_KERNELIO_H

#include "fs/daemon/inode.h" /* FUSE_USE_VERSION, <fuse_lowlevel.h> */

#include <stdbool.h>
#include <sys/types.h>

/* After fuse_session_mount(): route the session's reads and writes of
 * /dev/fuse through the hook.  0 or a negative errno (the mount then works
 * as before, with the kernel asking for security.capability per write). */
int pfcd_kernelio_attach(struct fuse_session *se);

/* Drop the kernel's cached pages of [off, off + len) of inode ino (and its
 * cached attributes): after a write that bypassed the page cache.  Never
 * from a request thread that holds a lock a READ of ino needs: the kernel
 * waits for pages locked by reads in flight. */
void pfcd_kernelio_inval_data(fuse_ino_t ino, off_t off, off_t len);

/* Whether the kernel accepted FUSE_HANDLE_KILLPRIV_V2 (after INIT). */
bool pfcd_kernelio_killpriv_v2(void);

#endif
