// SPDX-License-Identifier: MIT
/*
 * test_opts.c - cli_opts_parse: values land where the table says, the shared
 * --socket/--help/--quiet, operand counts and required options, one-line usage errors.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "tools/cli.h"
#include "tools/opts.h"

static const char help[] = "Usage: pfcrypt demo THING\n";

struct demo {
	bool flag;
	const char *str;
	const char *out;
	bool fg;
	unsigned long num;
	unsigned long threads;
	int calls;
};

static int opt_even(const char *cmd, const char *arg, void *dest)
{
	int *calls = dest;

	if (strlen(arg) % 2)
		return cli_usage(cmd, "'%s' is odd", arg);
	(*calls)++;
	return 0;
}

/* Parse a NULL-terminated argument list against the demo table. */
static int parse(struct demo *d, int nargs, bool need_str, char **argv)
{
	const struct cli_opt opts[] = {
	    {.name = "flag", .flag = &d->flag},
	    {.name = "str", .str = &d->str, .required = need_str},
	    {.name = "output", .short_name = 'o', .str = &d->out},
	    {.short_name = 'f', .flag = &d->fg},
	    {.name = "num", .num = &d->num, .min = 1, .max = 9, .bad = "--num wants 1..9"},
	    {.name = "even", .call = opt_even, .dest = &d->calls},
	    CLI_OPT_THREADS(&d->threads),
	    {0}};
	const struct cli_syntax syn = {.cmd = "demo",
				       .help = help,
				       .opts = opts,
				       .nargs = nargs,
				       .expected = "expected THING"};
	int argc = 0;

	while (argv[argc])
		argc++;
	return cli_opts_parse(&syn, argc, argv);
}

#define ARGV(...) ((char *[]){"demo", __VA_ARGS__, NULL})

Test(opts, values_land_in_the_table_and_operands_follow)
{
	struct demo d = {0};
	char **argv = ARGV("--flag", "a", "--str", "s", "-o", "out", "-f", "--num=7", "b", "--even",
			   "xy", "--threads", "256");

	cr_assert_eq(parse(&d, 2, false, argv), CLI_OPTS_GO);
	cr_expect(d.flag);
	cr_expect(d.fg);
	cr_expect_str_eq(d.str, "s");
	cr_expect_str_eq(d.out, "out");
	cr_expect_eq(d.num, 7);
	cr_expect_eq(d.threads, 256);
	cr_expect_eq(d.calls, 1);
	cr_assert_eq(optind, 12); /* getopt moved the two operands to the end */
	cr_expect_str_eq(argv[optind], "a");
	cr_expect_str_eq(argv[optind + 1], "b");
}

Test(opts, long_and_short_name_of_one_option_and_abbreviations)
{
	struct demo d = {0};

	cr_assert_eq(parse(&d, 0, false, ARGV("--output", "x", "-oy", "--fl", "--thr", "3")),
		     CLI_OPTS_GO);
	cr_expect_str_eq(d.out, "y");
	cr_expect(d.flag);
	cr_expect_eq(d.threads, 3);
}

Test(opts, operands_come_back_at_optind)
{
	struct demo d = {0};
	char **argv = ARGV("one", "--flag", "two");

	cr_assert_eq(parse(&d, 2, false, argv), CLI_OPTS_GO);
	cr_expect_str_eq(argv[optind], "one");
	cr_expect_str_eq(argv[optind + 1], "two");
}

Test(opts, socket_is_global_and_shared)
{
	struct demo d = {0};

	cli_g.socket = NULL;
	cr_assert_eq(parse(&d, 0, false, ARGV("--socket", "/run/a")), CLI_OPTS_GO);
	cr_expect_str_eq(cli_g.socket, "/run/a");
	cr_assert_eq(parse(&d, 0, false, ARGV("--socket=/run/b")), CLI_OPTS_GO);
	cr_expect_str_eq(cli_g.socket, "/run/b");
}

Test(opts, quiet_is_every_commands)
{
	struct demo d = {0};

	cli_g.quiet = false;
	cr_assert_eq(parse(&d, 0, false, ARGV("-q")), CLI_OPTS_GO);
	cr_expect(cli_g.quiet);
	cli_g.quiet = false;
	cr_assert_eq(parse(&d, 0, false, ARGV("--quiet")), CLI_OPTS_GO);
	cr_expect(cli_g.quiet);
	cli_g.quiet = false;
}

Test(opts, no_socket_refuses_socket, .init = cr_redirect_stderr)
{
	const struct cli_syntax syn = {.cmd = "umount",
				       .help = help,
				       .nargs = 1,
				       .expected = "expected MNT",
				       .no_socket = true};
	char **argv = ARGV("--socket", "x", "m");

	cr_assert_eq(cli_opts_parse(&syn, 4, argv), CLI_EXIT_SETUP);
	fflush(stderr);
	cr_assert_stderr_eq_str("demo: unrecognized option '--socket'\n"
				"pfcrypt: umount: bad option (try 'pfcrypt umount --help')\n");
}

Test(opts, help_prints_the_text_and_exits_ok, .init = cr_redirect_stdout)
{
	struct demo d = {0};

	cr_assert_eq(parse(&d, 1, true, ARGV("--flag", "-h", "--bogus")), CLI_EXIT_OK);
	fflush(stdout);
	cr_assert_stdout_eq_str(help);
}

Test(opts, help_wins_over_missing_operands_and_options, .init = cr_redirect_stdout)
{
	struct demo d = {0};

	cr_assert_eq(parse(&d, 1, true, ARGV("--help")), CLI_EXIT_OK);
}

Test(opts, getopt_errors_are_followed_by_one_usage_line, .init = cr_redirect_stderr)
{
	struct demo d = {0};

	cr_assert_eq(parse(&d, 0, false, ARGV("--bogus")), CLI_EXIT_SETUP);
	cr_assert_eq(parse(&d, 0, false, ARGV("--str")), CLI_EXIT_SETUP);
	cr_assert_eq(parse(&d, 0, false, ARGV("-x")), CLI_EXIT_SETUP);
	fflush(stderr);
	cr_assert_stderr_eq_str("demo: unrecognized option '--bogus'\n"
				"pfcrypt: demo: bad option (try 'pfcrypt demo --help')\n"
				"demo: option '--str' requires an argument\n"
				"pfcrypt: demo: bad option (try 'pfcrypt demo --help')\n"
				"demo: invalid option -- 'x'\n"
				"pfcrypt: demo: bad option (try 'pfcrypt demo --help')\n");
}

Test(opts, bad_number_names_the_option, .init = cr_redirect_stderr)
{
	struct demo d = {.num = 5};

	cr_assert_eq(parse(&d, 0, false, ARGV("--num", "10")), CLI_EXIT_SETUP);
	cr_expect_eq(d.num, 5);
	fflush(stderr);
	cr_assert_stderr_eq_str("pfcrypt: demo: --num wants 1..9 (try 'pfcrypt demo --help')\n");
}

Test(opts, threads_bounds, .init = cr_redirect_stderr)
{
	struct demo d = {0};

	cr_assert_eq(parse(&d, 0, false, ARGV("--threads", "0")), CLI_EXIT_SETUP);
	cr_assert_eq(parse(&d, 0, false, ARGV("--threads", "257")), CLI_EXIT_SETUP);
	cr_assert_eq(parse(&d, 0, false, ARGV("--threads", "1")), CLI_OPTS_GO);
	cr_expect_eq(d.threads, 1);
	fflush(stderr);
	cr_assert_stderr_eq_str(
	    "pfcrypt: demo: --threads wants 1..256 (try 'pfcrypt demo --help')\n"
	    "pfcrypt: demo: --threads wants 1..256 (try 'pfcrypt demo --help')\n");
}

Test(opts, a_callback_error_stops_the_loop, .init = cr_redirect_stderr)
{
	struct demo d = {0};

	cr_assert_eq(parse(&d, 0, false, ARGV("--even", "abc", "--flag")), CLI_EXIT_SETUP);
	cr_expect_not(d.flag);
	cr_expect_eq(d.calls, 0);
	fflush(stderr);
	cr_assert_stderr_eq_str("pfcrypt: demo: 'abc' is odd (try 'pfcrypt demo --help')\n");
}

Test(opts, required_option_and_operand_count, .init = cr_redirect_stderr)
{
	struct demo d = {0};

	cr_assert_eq(parse(&d, 1, true, ARGV("thing")), CLI_EXIT_SETUP);
	cr_assert_eq(parse(&d, 1, true, ARGV("--str", "s")), CLI_EXIT_SETUP);
	cr_assert_eq(parse(&d, 1, true, ARGV("--str", "s", "a", "b")), CLI_EXIT_SETUP);
	cr_assert_eq(parse(&d, 1, true, ARGV("--str", "", "a")), CLI_OPTS_GO);
	cr_assert_eq(parse(&d, CLI_ARGS_ANY, false, ARGV("a", "b", "c")), CLI_OPTS_GO);
	fflush(stderr);
	cr_assert_stderr_eq_str("pfcrypt: demo: expected THING (try 'pfcrypt demo --help')\n"
				"pfcrypt: demo: expected THING (try 'pfcrypt demo --help')\n"
				"pfcrypt: demo: expected THING (try 'pfcrypt demo --help')\n");
}

Test(opts, the_loop_starts_afresh_each_time)
{
	struct demo d = {0};

	cr_assert_eq(parse(&d, 1, false, ARGV("--flag", "a")), CLI_OPTS_GO);
	d = (struct demo){0};
	cr_assert_eq(parse(&d, 1, false, ARGV("b", "--num", "2")), CLI_OPTS_GO);
	cr_expect_not(d.flag);
	cr_expect_eq(d.num, 2);
}

Test(opts, a_table_too_large_is_refused, .init = cr_redirect_stderr)
{
	bool flags[40] = {false};
	struct cli_opt opts[41];
	char names[40][8];
	const struct cli_syntax syn = {.cmd = "big", .help = help, .opts = opts, .nargs = 0};

	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "o%d", i);
		opts[i] = (struct cli_opt){.name = names[i], .flag = &flags[i]};
	}
	opts[40] = (struct cli_opt){0};
	cr_assert_eq(cli_opts_parse(&syn, 1, ARGV("x")), CLI_EXIT_SETUP);
	fflush(stderr);
	cr_assert_stderr_eq_str("pfcrypt: big: too many options (try 'pfcrypt big --help')\n");
}
