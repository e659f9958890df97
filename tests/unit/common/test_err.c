// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fs/err.h"

Test(err, every_code_has_a_distinct_name_and_a_message)
{
	for (int e = 0; e > -PFC_ERR_COUNT; e--) {
		cr_assert_str_neq(pfc_strerror(e), "unknown error", "code %d", e);
		for (int f = e - 1; f > -PFC_ERR_COUNT; f--)
			cr_assert_str_neq(pfc_err_name(e), pfc_err_name(f));
	}
}

Test(err, out_of_range_codes_are_unknown_not_a_crash)
{
	cr_assert_str_eq(pfc_strerror(1), "unknown error");
	cr_assert_str_eq(pfc_strerror(-PFC_ERR_COUNT), "unknown error");
	cr_assert_eq(pfc_err_to_errno(-1000), EIO);
}

Test(err, key_errors_map_to_enokey_for_the_filesystem)
{
	cr_assert_eq(pfc_err_to_errno(PFC_ERR_KEY_RETIRED), ENOKEY);
	cr_assert_eq(pfc_err_to_errno(PFC_ERR_LOCKED), ENOKEY);
	cr_assert_eq(pfc_err_to_errno(PFC_ERR_UNREACHABLE), ENOKEY);
	cr_assert_eq(pfc_err_to_errno(PFC_ERR_AUTH), EIO);
	cr_assert_eq(pfc_err_to_errno(PFC_ERR_NAME_TOO_LONG), ENAMETOOLONG);
}
