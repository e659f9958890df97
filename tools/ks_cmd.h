/* SPDX-License-Identifier: MIT */
/*
 * ks_cmd.h - shared by the two halves of "pfcrypt keystore": cmd_keystore.c
 * (option parsing, dispatch, the requests status/lock/unlock/passwd) parses
 * the options once and hands them to ks_proc.c (the keystore process: init,
 * start, stop).
 */
#ifndef PFC_CLI_KS_CMD_H
#define PFC_CLI_KS_CMD_H

#include <stdbool.h>
#include <sys/types.h>

#include "tools/cli.h"

struct ks_opts {
	struct cli_pass_src pass;
	const char *new_pass_file;
	const char *store;
	const char *kdf;
	const char *log_file;
	bool locked;
	bool start; /* init --start: start the new store too, with the same passphrase */
	bool json;
	const char *key;       /* cancel-retire: --key NAME */
	unsigned long version; /* cancel-retire: --version N (0: not given) */
	int nextra;
	char **extra; /* after "--": passed to the daemon as they are */
};

/* The subcommands of ks_proc.c, with the parsed options; each returns the exit code. */
int ks_init(const struct ks_opts *o);
int ks_start(const struct ks_opts *o);
int ks_stop(const struct ks_opts *o);
/* The pid of the pfcrypt-keystore listening on socket path (SO_PEERCRED), or -1 if
 * none or not a keystore (systemd holds a socket-activated one) (ks_proc.c). */
pid_t ks_socket_pid(const char *path);
/* "keystore status --json" (ks_status.c): JSON in every case; the exit code. */
int ks_status_json(void);

/* The --help of "keystore sub" (ks_help.c); all, the whole list, for a sub it has none of. */
const char *ks_sub_help(const char *sub, const char *all);

#endif
