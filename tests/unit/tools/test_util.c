// SPDX-License-Identifier: MIT
/* test_util.c - number parsing, whole-file reads, passphrase sources. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "tools/cli.h"

static char tmpdir[64];

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	strcpy(tmpdir, "/tmp/pfc-cli-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

static const char *write_tmp(const char *name, const void *data, size_t len)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

TestSuite(util, .init = setup, .fini = teardown);

Test(util, parse_uint_bounds_and_garbage)
{
	unsigned long v = 99;

	cr_expect_eq(cli_parse_uint("4096", 4096, 1 << 20, &v), 0);
	cr_expect_eq(v, 4096);
	cr_expect_eq(cli_parse_uint("1048576", 4096, 1 << 20, &v), 0);
	cr_expect_eq(v, 1048576);
	v = 7;
	cr_expect_eq(cli_parse_uint("4095", 4096, 1 << 20, &v), -1);
	cr_expect_eq(cli_parse_uint("1048577", 4096, 1 << 20, &v), -1);
	cr_expect_eq(cli_parse_uint("-1", 0, 10, &v), -1);
	cr_expect_eq(cli_parse_uint("+1", 0, 10, &v), -1);
	cr_expect_eq(cli_parse_uint("", 0, 10, &v), -1);
	cr_expect_eq(cli_parse_uint("1x", 0, 10, &v), -1);
	cr_expect_eq(cli_parse_uint("99999999999999999999999", 0, ~0UL, &v), -1);
	cr_expect_eq(v, 7, "output untouched on failure");
}

Test(util, read_file_sizes_and_limits)
{
	uint8_t big[10000], *buf = NULL;
	size_t len = 0;

	memset(big, 0xab, sizeof(big));
	cr_assert_eq(cli_read_file(write_tmp("empty", "", 0), 100, &buf, &len), 0);
	cr_expect_eq(len, 0);
	free(buf);
	cr_assert_eq(cli_read_file(write_tmp("big", big, sizeof(big)), sizeof(big), &buf, &len), 0);
	cr_expect_eq(len, sizeof(big));
	cr_expect_eq(memcmp(buf, big, sizeof(big)), 0);
	free(buf);
	buf = NULL;
	cr_expect_eq(
	    cli_read_file(write_tmp("big2", big, sizeof(big)), sizeof(big) - 1, &buf, &len),
	    -EFBIG);
	cr_expect_null(buf, "no output on failure");
	cr_expect_eq(cli_read_file("/nonexistent/pfc", 10, &buf, &len), -ENOENT);
	/* A file whose size fstat cannot tell (a pipe) is read by growing. */
	cr_assert_eq(cli_read_file("/proc/self/status", 1 << 20, &buf, &len), 0);
	cr_expect_gt(len, 0);
	free(buf);
}

Test(util, passphrase_from_file_strips_one_newline)
{
	struct cli_pass_src src = {.fd = -1};
	char *p = NULL;
	size_t n = 0;

	src.file = write_tmp("p1", "secret words\n", 13);
	cr_assert_eq(cli_read_pass(&src, "x", false, &p, &n), 0);
	cr_expect_eq(n, 12);
	cr_expect_str_eq(p, "secret words");
	cli_pass_free(p);
	src.file = write_tmp("p2", "crlf\r\n", 6);
	cr_assert_eq(cli_read_pass(&src, "x", false, &p, &n), 0);
	cr_expect_str_eq(p, "crlf");
	cli_pass_free(p);
	src.file = write_tmp("p3", "two\n\n", 5);
	cr_assert_eq(cli_read_pass(&src, "x", false, &p, &n), 0);
	cr_expect_eq(n, 4, "only one trailing newline is dropped");
	cli_pass_free(p);
}

Test(util, passphrase_empty_too_long_or_missing_is_refused)
{
	struct cli_pass_src src = {.fd = -1};
	char *p = (char *)0x1, big[2000];
	size_t n = 5;

	memset(big, 'a', sizeof(big));
	src.file = write_tmp("e", "\n", 1);
	cr_expect_eq(cli_read_pass(&src, "x", false, &p, &n), CLI_EXIT_SETUP);
	src.file = write_tmp("long", big, sizeof(big));
	cr_expect_eq(cli_read_pass(&src, "x", false, &p, &n), CLI_EXIT_SETUP);
	src.file = "/nonexistent/pass";
	cr_expect_eq(cli_read_pass(&src, "x", false, &p, &n), CLI_EXIT_SETUP);
	cr_expect_eq(p, (char *)0x1, "outputs untouched on failure");
	cr_expect_eq(n, 5);
}

Test(util, passphrase_fd_wins_over_file_and_env_file_is_used_last)
{
	struct cli_pass_src src = {.fd = -1, .env = "PFC_TEST_PASS_ENV"};
	char *p = NULL;
	size_t n;
	int fds[2];

	setenv("PFC_TEST_PASS_ENV", write_tmp("envp", "from env", 8), 1);
	cr_assert_eq(cli_read_pass(&src, "x", false, &p, &n), 0);
	cr_expect_str_eq(p, "from env");
	cli_pass_free(p);
	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(write(fds[1], "from fd", 7), 7);
	close(fds[1]);
	src.fd = fds[0];
	src.file = write_tmp("f", "from file", 9);
	cr_assert_eq(cli_read_pass(&src, "x", false, &p, &n), 0);
	cr_expect_str_eq(p, "from fd");
	cli_pass_free(p);
	close(fds[0]);
	unsetenv("PFC_TEST_PASS_ENV");
}
