// SPDX-License-Identifier: MIT
/* opts.c - the shared option loop of the subcommands (see opts.h). */
#include <getopt.h>
#include <stddef.h>

#include "tools/cli.h"
#include "tools/opts.h"

#define OPTS_MAX   24	  /* a command's own options; the most today is keystore's 10 */
#define OPT_SOCKET 0x1000 /* getopt_long values of the shared options */
#define OPT_HELP   'h'
#define OPT_QUIET  0x1001
#define OPT_FIRST  0x2000 /* getopt_long value of the command's option i: OPT_FIRST + i */

static bool takes_arg(const struct cli_opt *o)
{
	return !o->flag;
}

/* getopt_long's tables for s; -1 if s has too many options (a programming error). */
static int build(const struct cli_syntax *s, struct option *lo, char *shorts, size_t *nopts)
{
	size_t n = 0, k = 0, sp = 0;

	if (!s->no_socket)
		lo[k++] = (struct option){"socket", required_argument, NULL, OPT_SOCKET};
	for (; s->opts && (s->opts[n].name || s->opts[n].short_name); n++) {
		const struct cli_opt *o = &s->opts[n];
		int val = o->short_name ? o->short_name : OPT_FIRST + (int)n;

		if (n == OPTS_MAX)
			return -1;
		if (o->name)
			lo[k++] = (struct option){
			    o->name, takes_arg(o) ? required_argument : no_argument, NULL, val};
		if (o->short_name) {
			shorts[sp++] = o->short_name;
			if (takes_arg(o))
				shorts[sp++] = ':';
		}
	}
	lo[k++] = (struct option){"help", no_argument, NULL, OPT_HELP};
	lo[k++] = (struct option){"quiet", no_argument, NULL, OPT_QUIET};
	lo[k] = (struct option){NULL, 0, NULL, 0};
	shorts[sp++] = OPT_HELP;
	shorts[sp++] = 'q'; /* -q, --quiet: every command's (no command has a -q of its own) */
	shorts[sp] = '\0';
	*nopts = n;
	return 0;
}

/* The table index of getopt_long's value c, or -1. */
static int find(const struct cli_opt *opts, size_t n, int c)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i].short_name ? c == opts[i].short_name : c == OPT_FIRST + (int)i)
			return (int)i;
	return -1;
}

/* Store one option's value.  CLI_OPTS_GO or an exit code. */
static int store(const struct cli_syntax *s, const struct cli_opt *o, char *arg)
{
	if (o->flag)
		*o->flag = true;
	else if (o->str)
		*o->str = arg;
	else if (o->num && cli_parse_uint(arg, o->min, o->max, o->num))
		return cli_usage(s->cmd, "%s", o->bad);
	else if (o->call) {
		int r = o->call(s->cmd, arg, o->dest);

		if (r)
			return r;
	}
	return CLI_OPTS_GO;
}

int cli_opts_parse(const struct cli_syntax *s, int argc, char **argv)
{
	struct option lo[OPTS_MAX + 4];
	char shorts[2 * OPTS_MAX + 3];
	bool seen[OPTS_MAX] = {false};
	size_t n;
	int c, i, r;

	if (build(s, lo, shorts, &n) < 0)
		return cli_usage(s->cmd, "too many options");
	optind = 0;
	while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		if (c == OPT_SOCKET) {
			cli_g.socket = optarg;
			continue;
		}
		if (c == OPT_HELP)
			return cli_help(s->help);
		if (c == OPT_QUIET || c == 'q') {
			cli_g.quiet = true;
			continue;
		}
		i = find(s->opts, n, c);
		if (i < 0)
			return cli_usage(s->cmd, "bad option");
		if ((r = store(s, &s->opts[i], optarg)) != CLI_OPTS_GO)
			return r;
		seen[i] = true;
	}
	for (size_t k = 0; k < n; k++)
		if (s->opts[k].required && !seen[k])
			return cli_usage(s->cmd, "%s", s->expected);
	if (s->nargs != CLI_ARGS_ANY && argc - optind != s->nargs)
		return cli_usage(s->cmd, "%s", s->expected);
	return CLI_OPTS_GO;
}

int cli_opt_pass_fd(const char *cmd, const char *arg, void *dest)
{
	unsigned long v;

	if (cli_parse_uint(arg, 0, 1 << 20, &v))
		return cli_usage(cmd, "--passphrase-fd wants a file descriptor number");
	*(int *)dest = (int)v;
	return 0;
}
