/* SPDX-License-Identifier: MIT */
/*
 * fdlimit.h - the one raise of RLIMIT_NOFILE.  Every inode the kernel keeps
 * cached holds an O_PATH descriptor in the daemon (as in passthrough_ll), so
 * a large tree needs many: more descriptors, fewer reopens.
 */
#ifndef PFC_FDLIMIT_H
#define PFC_FDLIMIT_H

/*
 * Raise the soft descriptor limit as far as this process may: root up to
 * 2^20 (soft and hard, if fs.nr_open allows), anyone else to the hard limit.
 * Best effort; returns the soft limit in force afterwards (0 if unknown).
 */
unsigned long pfc_raise_fd_limit(void);

#endif
