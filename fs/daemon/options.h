/* SPDX-License-Identifier: MIT */
/*
 * options.h - pfcryptfs's command line and -o options (options.c).
 *
 * mount(8) runs pfcryptfs for fstab type fuse.pfcryptfs (through mount.fuse3)
 * with every option as -o, so the daemon's own settings are -o options too
 * (socket=PATH, verbose, nonempty, log_file=F), taken out before the rest
 * goes to libfuse.
 */
#ifndef PFCD_OPTIONS_H
#define PFCD_OPTIONS_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

struct pfcd_opts {
	const char *backing, *mountpoint, *socket;
	bool foreground, debug, single, verbose;
	bool shared;   /* allow_other or allow_root: other users reach the mount */
	bool nonempty; /* -o nonempty: mount over a directory that has entries */
	char mount_opts[4096];
	char socket_buf[PATH_MAX]; /* from -o socket=PATH */
	const char *log_file;	   /* --log-file F, -o log_file=F */
	char log_buf[PATH_MAX];	   /* from -o log_file=F */
};

/* The help text. */
void pfcd_usage(FILE *f);
/* Parse argv into o (zeroed first); exits 0 after --help / --version.  0, or -1: usage error. */
int pfcd_parse_args(int argc, char **argv, struct pfcd_opts *o);

/* Does the -o list (as libfuse gets it) ask for noatime (the last of noatime,
 * atime, relatime, strictatime wins)? */
bool pfcd_opt_noatime(const char *mount_opts);

#endif
