/* SPDX-License-Identifier: MIT */
/* test_mountinfo.c - fs/mountinfo.c: octal escapes of mountinfo fields. */
#include <criterion/criterion.h>
#include <string.h>

#include "fs/mountinfo.h"

Test(mountinfo, escapes_of_space_tab_newline_and_backslash_are_undone)
{
	char s[] = "/home/a\\040b\\011c\\012d\\134e";

	pfc_mountinfo_unescape(s);
	cr_assert_str_eq(s, "/home/a b\tc\nd\\e");
}

Test(mountinfo, a_backslash_not_followed_by_three_octal_digits_stays)
{
	char s[] = "a\\09b\\4\\";

	pfc_mountinfo_unescape(s);
	cr_assert_str_eq(s, "a\\09b\\4\\");
}
