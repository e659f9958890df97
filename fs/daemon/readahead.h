/* SPDX-License-Identifier: MIT */
/*
 * readahead.h - a larger kernel readahead window for the mount (readahead.c).
 */
#ifndef PFC_DAEMON_READAHEAD_H
#define PFC_DAEMON_READAHEAD_H

#define PFCD_READAHEAD_KB 1024 /* = max_write: the largest READ the kernel sends */

/* Raise the bdi readahead of the FUSE mount on mount_abs to
 * PFCD_READAHEAD_KB: call after fuse_session_mount and before the session
 * loop answers INIT; init_op must then ask for max_readahead of as much.
 * Never fails the mount: a failure is one log line. */
void pfcd_readahead_raise(const char *mount_abs);

#endif
