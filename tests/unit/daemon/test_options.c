/* SPDX-License-Identifier: MIT */
/* test_options.c - fs/daemon/options.c: the command line and the -o list of pfcryptfs. */
#include <criterion/criterion.h>
#include <string.h>

#include "fs/daemon/options.h"

static int parse(struct pfcd_opts *o, const char *const *args, int n)
{
	char *argv[16];

	for (int i = 0; i < n; i++)
		argv[i] = (char *)args[i];
	return pfcd_parse_args(n, argv, o);
}

Test(daemon_options, our_own_o_options_are_taken_out_of_the_list)
{
	const char *a[] = {"pfcryptfs", "/b", "/m", "-o",
			   "ro,socket=/s/ks.sock,nonempty,log_file=/l/x.log,verbose,noatime"};
	struct pfcd_opts o;

	cr_assert_eq(parse(&o, a, 5), 0);
	cr_assert_str_eq(o.backing, "/b");
	cr_assert_str_eq(o.mountpoint, "/m");
	cr_assert_str_eq(o.socket, "/s/ks.sock");
	cr_assert_str_eq(o.log_file, "/l/x.log");
	cr_assert(o.nonempty && o.verbose);
	cr_assert_str_eq(o.mount_opts, "ro,noatime", "what libfuse gets: %s", o.mount_opts);
}

Test(daemon_options, log_file_and_socket_as_options)
{
	const char *a[] = {"pfcryptfs", "--log-file", "/l/y.log", "/b", "/m", "--socket=/s"};
	struct pfcd_opts o;

	cr_assert_eq(parse(&o, a, 6), 0);
	cr_assert_str_eq(o.log_file, "/l/y.log");
	cr_assert_str_eq(o.socket, "/s");
	cr_assert_eq(parse(&o, (const char *const[]){"pfcryptfs", "/b"}, 2), -1, "no mountpoint");
	cr_assert_eq(parse(&o, (const char *const[]){"pfcryptfs", "/b", "/m", "--bogus"}, 4), -1);
}

Test(daemon_options, the_last_atime_option_wins)
{
	cr_assert(pfcd_opt_noatime("ro,noatime"));
	cr_assert(!pfcd_opt_noatime("noatime,relatime"));
	cr_assert(pfcd_opt_noatime("strictatime,noatime"));
	cr_assert(!pfcd_opt_noatime("nodiratime"));
	cr_assert(!pfcd_opt_noatime(""));
}
