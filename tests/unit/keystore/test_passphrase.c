// SPDX-License-Identifier: MIT
/* test_passphrase.c - keystore/passphrase.c: the one passphrase reader (fd, file, command). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/err.h"
#include "keystore/passphrase.h"

static char *buf;

static void setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	buf = sodium_malloc(PFC_PASS_BUF);
	cr_assert_not_null(buf);
}

static void teardown(void)
{
	sodium_free(buf);
}

TestSuite(passphrase, .init = setup, .fini = teardown);

/* Read n bytes of data through a pipe, as --passphrase-fd would. */
static int read_piped(const char *data, size_t n, size_t *len)
{
	struct pfc_pass_src src = {.fd = -1};
	struct pfc_pass_why why;
	int p[2], rc;

	cr_assert_eq(pipe(p), 0);
	cr_assert(n < 65536, "fits the pipe");
	cr_assert_eq(write(p[1], data, n), (ssize_t)n);
	close(p[1]);
	src.fd = p[0];
	rc = pfc_pass_read(&src, "", buf, len, &why);
	close(p[0]);
	return rc;
}

Test(passphrase, fd_drops_one_trailing_newline_or_crlf)
{
	size_t n = 0;

	cr_assert_eq(read_piped("secret words\n", 13, &n), 0);
	cr_assert_eq(n, 12);
	cr_assert_str_eq(buf, "secret words");
	cr_assert_eq(read_piped("crlf\r\n", 6, &n), 0);
	cr_assert_str_eq(buf, "crlf");
	cr_assert_eq(read_piped("two\n\n", 5, &n), 0);
	cr_assert_eq(n, 4, "only one newline is dropped");
}

Test(passphrase, the_maximum_holds_after_the_newline_is_dropped)
{
	static char big[PFC_PASS_MAX + 3];
	size_t n = 0;

	memset(big, 'a', sizeof(big));
	cr_assert_eq(read_piped(big, PFC_PASS_MAX, &n), 0, "exactly the maximum");
	cr_assert_eq(n, PFC_PASS_MAX);
	big[PFC_PASS_MAX] = '\n';
	cr_assert_eq(read_piped(big, PFC_PASS_MAX + 1, &n), 0, "the maximum and a newline");
	cr_assert_eq(n, PFC_PASS_MAX);
	big[PFC_PASS_MAX] = '\r';
	big[PFC_PASS_MAX + 1] = '\n';
	cr_assert_eq(read_piped(big, PFC_PASS_MAX + 2, &n), 0, "the maximum and a CRLF");
	big[PFC_PASS_MAX] = 'a';
	cr_assert_eq(read_piped(big, PFC_PASS_MAX + 1, &n), PFC_ERR_TOO_LARGE, "one byte more");
	cr_assert(sodium_is_zero((unsigned char *)buf, PFC_PASS_BUF), "wiped on failure");
	cr_assert_eq(read_piped(big, sizeof(big), &n), PFC_ERR_TOO_LARGE, "past the raw room");
}

Test(passphrase, a_missing_file_is_an_io_error_with_its_errno)
{
	struct pfc_pass_src src = {.fd = -1, .file = "/nonexistent/pass"};
	struct pfc_pass_why why;
	size_t n = 7;

	cr_assert_eq(pfc_pass_read(&src, "", buf, &n, &why), PFC_ERR_IO);
	cr_assert_eq(why.sys, ENOENT);
	cr_assert_eq(n, 7, "length untouched on failure");
}

Test(passphrase, the_fd_wins_over_file_and_command)
{
	struct pfc_pass_src src = {
	    .fd = -1, .file = "/nonexistent/pass", .extpass = {(const char *[]){"echo cmd"}, 1, 0}};
	struct pfc_pass_why why;
	size_t n = 0;

	cr_assert_eq(pfc_pass_read(&src, "", buf, &n, &why), PFC_ERR_IO, "file before command");
	src.file = NULL;
	cr_assert_eq(pfc_pass_read(&src, "", buf, &n, &why), 0);
	cr_assert_str_eq(buf, "cmd");
}

Test(passphrase, command_output_status_and_maximum)
{
	const char *args[3] = {"printf", "a\n\n"};
	struct pfc_pass_src src = {.fd = -1, .extpass = {args, 2, 0}};
	struct pfc_pass_why why;
	char cmd[64];
	size_t n = 0;

	cr_assert_eq(pfc_pass_read(&src, "", buf, &n, &why), 0);
	cr_assert_eq(n, 2, "one newline dropped, like every source");
	args[0] = "sh";
	args[1] = "-c";
	args[2] = "exit 3";
	src.extpass.n = 3;
	cr_assert_eq(pfc_pass_read(&src, "", buf, &n, &why), PFC_ERR_IO);
	cr_assert_eq(why.status, 3);
	snprintf(cmd, sizeof(cmd), "head -c %d /dev/zero | tr '\\0' a; echo", PFC_PASS_MAX);
	args[2] = cmd;
	cr_assert_eq(pfc_pass_read(&src, "", buf, &n, &why), 0, "the maximum and a newline");
	cr_assert_eq(n, PFC_PASS_MAX);
	snprintf(cmd, sizeof(cmd), "head -c %d /dev/zero | tr '\\0' a", PFC_PASS_MAX + 1);
	cr_assert_eq(pfc_pass_read(&src, "", buf, &n, &why), PFC_ERR_TOO_LARGE);
	args[0] = "/nonexistent/program";
	cr_assert_eq(pfc_pass_read(&src, "", buf, &n, &why), PFC_ERR_IO);
	cr_assert_eq(why.status, -1);
	cr_assert_eq(why.sys, ENOENT, "the exec's errno");
	args[0] = "sleep";
	args[1] = "1000";
	src.extpass = (struct pfc_extpass){args, 2, 200};
	cr_assert_eq(pfc_pass_read(&src, "", buf, &n, &why), PFC_ERR_TIMEOUT);
	args[0] = "";
	src.extpass.n = 1;
	cr_assert_eq(pfc_pass_read(&src, "", buf, &n, &why), PFC_ERR_INVAL);
}
