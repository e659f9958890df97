/* SPDX-License-Identifier: MIT */
/*
 * ks_cmd.h - shared by the two halves of "pfcrypt keystore": cmd_keystore.c
 * (option parsing, dispatch, the requests status/lock/unlock/passwd) and
 * ks_proc.c (the keystore process: init, start, stop).
 */
#ifndef PFC_CLI_KS_CMD_H
#define PFC_CLI_KS_CMD_H

#include <stdbool.h>

#include "tools/cli.h"

struct ks_opts {
	struct cli_pass_src pass;
	const char *new_pass_file;
	const char *store;
	const char *kdf;
	const char *log_file;
	bool locked;
	bool json;
	int nextra;
	char **extra; /* after "--": passed to the daemon as they are */
};

/* Parse the options of "keystore <sub>" into o.  0 ok, -1 after --help (exit 0), else an exit code.
 */
int ks_parse(const char *cmd, int argc, char **argv, struct ks_opts *o);

int ks_init(int argc, char **argv);
int ks_start(int argc, char **argv);
int ks_stop(int argc, char **argv);

#endif
