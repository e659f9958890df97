// SPDX-License-Identifier: MIT
/* test_extpass.c - keystore/extpass.c: a passphrase from a command's output. */
#include <string.h>

#include <criterion/criterion.h>

#include "fs/err.h"
#include "keystore/extpass.h"

#define MAX 16

static int run(const char *cmd, uint8_t *buf, size_t *len, int *st)
{
	memset(buf, 'X', MAX);
	*len = 12345;
	*st = -99;
	return pfc_extpass_run(cmd, buf, MAX, len, st);
}

Test(keystore_extpass, output_is_the_passphrase_one_newline_dropped)
{
	uint8_t buf[MAX];
	size_t len;
	int st;

	cr_assert_eq(run("echo 'pass word'", buf, &len, &st), 0);
	cr_assert_eq(st, 0);
	cr_assert_eq(len, 9);
	cr_assert_eq(memcmp(buf, "pass word", 9), 0);
	/* only one newline (and a CR before it) goes: the rest is passphrase */
	cr_assert_eq(run("printf 'ab\\n\\n'", buf, &len, &st), 0);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(buf, "ab\n", 3), 0);
	cr_assert_eq(run("printf 'ab\\r\\n'", buf, &len, &st), 0);
	cr_assert_eq(len, 2);
	cr_assert_eq(run("printf xyz", buf, &len, &st), 0);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(buf, "xyz", 3), 0);
}

Test(keystore_extpass, empty_output_is_an_empty_passphrase)
{
	uint8_t buf[MAX];
	size_t len;
	int st;

	cr_assert_eq(run("true", buf, &len, &st), 0);
	cr_assert_eq(len, 0);
}

Test(keystore_extpass, failing_command_is_an_error_and_wipes)
{
	uint8_t buf[MAX], zero[MAX] = {0};
	size_t len;
	int st;

	cr_assert_eq(run("echo secret; exit 3", buf, &len, &st), PFC_ERR_IO);
	cr_assert_eq(st, 3);
	cr_assert_eq(len, 12345, "out-param set on failure");
	cr_assert_eq(memcmp(buf, zero, MAX), 0, "output of a failed command not wiped");
	cr_assert_eq(run("kill -9 $$", buf, &len, &st), PFC_ERR_IO);
	cr_assert_eq(st, 128 + 9);
	cr_assert_eq(run("exec /nonexistent/program", buf, &len, &st), PFC_ERR_IO);
	cr_assert_eq(st, 127);
}

Test(keystore_extpass, boundary_max_bytes_fits_one_more_is_too_large)
{
	uint8_t buf[MAX], zero[MAX] = {0};
	size_t len;
	int st;

	cr_assert_eq(run("printf 0123456789abcdef", buf, &len, &st), 0);
	cr_assert_eq(len, MAX);
	/* a long output is read to its end (the command is not left blocked) */
	cr_assert_eq(run("head -c 1000000 /dev/zero | tr '\\0' a", buf, &len, &st),
		     PFC_ERR_TOO_LARGE);
	cr_assert_eq(st, 0);
	cr_assert_eq(memcmp(buf, zero, MAX), 0);
	cr_assert_eq(run("printf 0123456789abcdefg", buf, &len, &st), PFC_ERR_TOO_LARGE);
}

Test(keystore_extpass, empty_command_is_invalid)
{
	uint8_t buf[MAX];
	size_t len;
	int st;

	cr_assert_eq(run("", buf, &len, &st), PFC_ERR_INVAL);
	cr_assert_eq(pfc_extpass_run(NULL, buf, MAX, &len, NULL), PFC_ERR_INVAL);
}
