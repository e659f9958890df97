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

/* After fuse_session_mount(): route the session's reads and writes of
 * /dev/fuse through the hook.  0 or a negative errno (the mount then works
 * as before, with the kernel asking for security.capability per write). */
int pfcd_kernelio_attach(struct fuse_session *se);

/* Whether the kernel accepted FUSE_HANDLE_KILLPRIV_V2 (after INIT). */
bool pfcd_kernelio_killpriv_v2(void);

#endif
