/* SPDX-License-Identifier: MIT */
/* test_fdlimit.c - fs/fdlimit.c: the soft descriptor limit goes up to what is allowed.
 * Criterion runs each test in its own process, so the limits changed here stay here. */
#include <criterion/criterion.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fs/fdlimit.h"

Test(fdlimit, a_low_soft_limit_is_raised_to_at_least_the_hard_limit)
{
	struct rlimit rl, now;
	unsigned long got;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max <= 64)
		cr_skip_test("a hard limit of 64 or less");
	rl.rlim_cur = 64;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	got = pfc_raise_fd_limit();
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &now), 0);
	cr_assert_eq(got, now.rlim_cur, "returns the limit in force");
	cr_assert_geq(now.rlim_cur, rl.rlim_max);
	cr_assert_eq(now.rlim_cur, now.rlim_max, "soft is the hard limit");
}

Test(fdlimit, root_asks_for_2_to_the_20_others_stop_at_the_hard_limit)
{
	struct rlimit rl = {32, 128}, now;
	unsigned long got;

	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	got = pfc_raise_fd_limit();
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &now), 0);
	cr_assert_eq(got, now.rlim_cur);
	if (geteuid() == 0 && now.rlim_max > 128)
		cr_assert_eq(now.rlim_cur, 1u << 20, "root: soft and hard 2^20");
	else
		cr_assert_eq(now.rlim_cur, 128, "the hard limit");
}
