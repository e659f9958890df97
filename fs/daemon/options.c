/* SPDX-License-Identifier: MIT */
/* options.c - pfcryptfs's command line and -o options (options.h). */
#include "fs/daemon/options.h"

#include "fs/format.h"

#include "fs/daemon/inode.h" /* FUSE_USE_VERSION, <fuse_lowlevel.h>: fuse_version */
#include <stdlib.h>
#include <string.h>

void pfcd_usage(FILE *f)
{
	fprintf(f,
		"usage: pfcryptfs BACKING MOUNTPOINT [-f] [-d] [-s] [-v] [-o opt[,opt...]] "
		"[--socket PATH]\n"
		"       mount -t fuse.pfcryptfs BACKING MOUNTPOINT [-o opt[,opt...]]\n"
		"Mount the pfcrypt volume in BACKING at MOUNTPOINT.  Without -f it forks once\n"
		"mounted and logs to syslog; one line per event, never a key or passphrase.\n"
		"  -f             stay in the foreground (log to stderr)\n"
		"  -d             debug: foreground, FUSE and daemon debug output\n"
		"  -s             single-threaded (for debugging)\n"
		"  -v, --verbose  log at debug level too (each file key unwrapped or cached)\n"
		"  -o opts        FUSE mount options (allow_other, ro, ...) and pfcryptfs's own\n"
		"                 socket=PATH (as --socket), verbose (as -v) and nonempty\n"
		"                 (mount over a directory that is not empty), log_file=F (as\n"
		"                 --log-file), for fstab\n"
		"  --log-file F   log to F (appended, with times) instead of syslog or stderr;\n"
		"                 in the background without syslog (/dev/log), pfcryptfs logs\n"
		"                 to $XDG_STATE_HOME/pfcrypt/NAME.log (NAME: the backing\n"
		"                 directory's) and says so\n"
		"  --socket PATH  keystore socket (default: $PFCRYPT_SOCKET, then\n"
		"                 $XDG_RUNTIME_DIR/pfcrypt/keystore.sock, then\n"
		"                 /tmp/pfcrypt-$UID/keystore.sock; root: /run/pfcrypt/)\n"
		"  -h, --help, -V, --version\n"
		"Exit status: 0 mounted (in the background) or, with -f, cleanly unmounted;\n"
		"1 the FUSE session failed; 2 usage error or the volume cannot be mounted.\n");
}

/*
 * Append a comma-separated -o list to the FUSE mount options, taking out
 * our own "socket=PATH" (so that mount(8) and fstab lines can name the
 * keystore: mount.fuse3 passes every option with -o).
 */
static int add_mount_opts(struct pfcd_opts *o, const char *list)
{
	char *copy = strdup(list), *save = NULL;

	if (!copy)
		return -1;
	for (char *opt = strtok_r(copy, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		size_t l = strlen(o->mount_opts);

		if (!strncmp(opt, "log_file=", 9)) {
			if (strlen(opt + 9) >= sizeof(o->log_buf)) {
				free(copy);
				return -1;
			}
			strcpy(o->log_buf, opt + 9);
			o->log_file = o->log_buf;
			continue;
		}
		if (!strncmp(opt, "socket=", 7)) {
			if (strlen(opt + 7) >= sizeof(o->socket_buf)) {
				free(copy);
				return -1;
			}
			strcpy(o->socket_buf, opt + 7);
			o->socket = o->socket_buf;
			continue;
		}
		if (!strcmp(opt, "verbose") || !strcmp(opt, "nonempty")) {
			/* ours, not libfuse's (libfuse 3 refuses nonempty) */
			*(opt[0] == 'v' ? &o->verbose : &o->nonempty) = true;
			continue;
		}
		if (!strcmp(opt, "allow_other") || !strcmp(opt, "allow_root"))
			o->shared = true;
		if (l + strlen(opt) + 2 > sizeof(o->mount_opts)) {
			free(copy);
			return -1;
		}
		snprintf(o->mount_opts + l, sizeof(o->mount_opts) - l, "%s%s", l ? "," : "", opt);
	}
	free(copy);
	return 0;
}

int pfcd_parse_args(int argc, char **argv, struct pfcd_opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			pfcd_usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			printf("pfcryptfs %s (format %d, libfuse %d)\n", PFC_VERSION,
			       PFC_FORMAT_VERSION, fuse_version());
			exit(0);
		} else if (!strcmp(a, "-f")) {
			o->foreground = true;
		} else if (!strcmp(a, "-d")) {
			o->debug = o->foreground = true;
		} else if (!strcmp(a, "-s")) {
			o->single = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			o->verbose = true;
		} else if (!strcmp(a, "-o") || !strncmp(a, "-o", 2)) {
			const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);

			if (!v || add_mount_opts(o, v) < 0)
				return -1;
		} else if (!strcmp(a, "--socket")) {
			if (i + 1 >= argc)
				return -1;
			o->socket = argv[++i];
		} else if (!strncmp(a, "--socket=", 9)) {
			o->socket = a + 9;
		} else if (!strcmp(a, "--log-file")) {
			if (i + 1 >= argc)
				return -1;
			o->log_file = argv[++i];
		} else if (!strncmp(a, "--log-file=", 11)) {
			o->log_file = a + 11;
		} else if (a[0] == '-') {
			fprintf(stderr, "pfcryptfs: unknown option %s\n", a);
			return -1;
		} else if (!o->backing) {
			o->backing = a;
		} else if (!o->mountpoint) {
			o->mountpoint = a;
		} else {
			return -1;
		}
	}
	return o->backing && o->mountpoint ? 0 : -1;
}

bool pfcd_opt_noatime(const char *mount_opts)
{
	char *copy = strdup(mount_opts), *save = NULL;
	bool noatime = false;

	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
		if (!strcmp(t, "noatime") || !strcmp(t, "atime") || !strcmp(t, "relatime") ||
		    !strcmp(t, "strictatime"))
			noatime = !strcmp(t, "noatime"); /* the last one wins, as for mount(8) */
	free(copy);
	return noatime;
}
