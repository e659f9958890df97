/* SPDX-License-Identifier: MIT */
/* mountinfo.h - small helpers for /proc/self/mountinfo, shared by the daemon and the CLI. */
#ifndef PFC_MOUNTINFO_H
#define PFC_MOUNTINFO_H

/* Undo, in place, the octal escapes of a mountinfo field ("\040" for a space). */
void pfc_mountinfo_unescape(char *s);

#endif
