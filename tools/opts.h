/* SPDX-License-Identifier: MIT */
/*
 * opts.h - the option loop every pfcrypt subcommand shares.
 *
 * A subcommand describes its options in a table (where each value goes);
 * cli_opts_parse runs getopt_long over them and adds what every command
 * takes: --socket PATH (into cli_g.socket), -h/--help (prints the help text),
 * -q/--quiet (into cli_g.quiet),
 * and the operand count check.  Usage errors are one line naming the
 * command (cli_usage); the process exit code comes back to the caller.
 */
#ifndef PFC_CLI_OPTS_H
#define PFC_CLI_OPTS_H

#include <stdbool.h>
#include <unistd.h> /* optind */

/*
 * One option.  Exactly one of flag, str, num or call says where it goes.
 * name is the long name (NULL: only the short one); short_name is 0 for
 * none.  A table ends with an entry whose name and short_name are both 0.
 */
struct cli_opt {
	const char *name;
	char short_name;
	bool *flag;	    /* no argument: set to true */
	const char **str;   /* the argument as it is */
	unsigned long *num; /* a decimal number in [min, max], else usage error `bad` */
	unsigned long min, max;
	const char *bad;
	/* Anything else: 0, or an exit code after its own cli_usage(cmd, ...). */
	int (*call)(const char *cmd, const char *arg, void *dest);
	void *dest;
	bool required; /* missing: usage error `expected` of the syntax */
};

/* --threads N: parallel workers, 1..256 (check, rewrap). */
#define CLI_OPT_THREADS(p)                                                                         \
	{                                                                                          \
		.name = "threads", .num = (p), .min = 1, .max = 256,                               \
		.bad = "--threads wants 1..256"                                                    \
	}

/* --passphrase-fd N into an int (a file descriptor number). */
int cli_opt_pass_fd(const char *cmd, const char *arg, void *dest);

/* The store passphrase's sources (like unlock's) into a struct cli_pass_src *p. */
#define CLI_OPTS_PASS(p)                                                                           \
	{.name = "passphrase-file", .str = &(p)->file},                                            \
	    {.name = "passphrase-fd", .call = cli_opt_pass_fd, .dest = &(p)->fd},                  \
	{                                                                                          \
		.name = "extpass", .call = cli_opt_extpass, .dest = (p)                            \
	}

#define CLI_ARGS_ANY (-1)

/* What a subcommand accepts. */
struct cli_syntax {
	const char *cmd;	    /* "init", "keystore start": named in usage errors */
	const char *help;	    /* printed by -h/--help */
	const struct cli_opt *opts; /* the command's own options (NULL: none) */
	int nargs;		    /* operands wanted, or CLI_ARGS_ANY */
	const char *expected;	    /* usage error for a wrong operand count or a missing option */
	bool no_socket;		    /* no --socket (umount: it talks to no keystore) */
};

/* cli_opts_parse's "go on": the operands are argv[optind..argc-1]. */
#define CLI_OPTS_GO (-1)

/*
 * Parse argv (argv[0] is the command's name) against syntax s.  Returns
 * CLI_OPTS_GO, or the exit code to return now: CLI_EXIT_OK after --help,
 * CLI_EXIT_SETUP after a usage error (printed).
 */
int cli_opts_parse(const struct cli_syntax *s, int argc, char **argv);

#endif
