// SPDX-License-Identifier: MIT
/* test_extpass.c - keystore/extpass.c: a passphrase from a command's output, no shell. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fs/err.h"
#include "keystore/extpass.h"

#define MAX 16

/* Run the command made of the n values args (timeout_ms 0: the default). */
static int runv(const char *const *args, size_t n, int timeout_ms, uint8_t *buf, size_t max,
		size_t *len, struct pfc_extpass_why *why)
{
	const struct pfc_extpass cmd = {.args = args, .n = n, .timeout_ms = timeout_ms};

	memset(buf, 'X', max);
	*len = 12345;
	*why = (struct pfc_extpass_why){-99, -99};
	return pfc_extpass_run(&cmd, buf, max, len, why);
}

/* One --extpass value (split at spaces). */
static int run(const char *cmd, uint8_t *buf, size_t *len, struct pfc_extpass_why *why)
{
	return runv(&cmd, 1, 0, buf, MAX, len, why);
}

static void describe(const char *const *args, size_t n, int timeout_ms, int rc,
		     const struct pfc_extpass_why *why, char *out, size_t len)
{
	const struct pfc_extpass cmd = {.args = args, .n = n, .timeout_ms = timeout_ms};

	pfc_extpass_describe(&cmd, rc, why, out, len);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(keystore_extpass, output_is_the_passphrase_one_newline_dropped)
{
	const char *twice[] = {"printf", "ab\n\n"}, *crlf[] = {"printf", "ab\r\n"};
	struct pfc_extpass_why w;
	uint8_t buf[MAX];
	size_t len;

	cr_assert_eq(run("echo pass word", buf, &len, &w), 0);
	cr_assert_eq(w.status, 0);
	cr_assert_eq(w.sys, 0);
	cr_assert_eq(len, 9);
	cr_assert_eq(memcmp(buf, "pass word", 9), 0);
	/* only one newline (and a CR before it) goes: the rest is passphrase */
	cr_assert_eq(runv(twice, 2, 0, buf, MAX, &len, &w), 0);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(buf, "ab\n", 3), 0);
	cr_assert_eq(runv(crlf, 2, 0, buf, MAX, &len, &w), 0);
	cr_assert_eq(len, 2);
	cr_assert_eq(run("printf xyz", buf, &len, &w), 0);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(buf, "xyz", 3), 0);
}

Test(keystore_extpass, empty_output_is_an_empty_passphrase)
{
	struct pfc_extpass_why w;
	uint8_t buf[MAX];
	size_t len;

	cr_assert_eq(run("true", buf, &len, &w), 0);
	cr_assert_eq(len, 0);
}

Test(keystore_extpass, shell_metacharacters_are_arguments_not_shell)
{
	char dir[] = "/tmp/pfc-extpass-XXXXXX", cmd[256], file[64], want[256];
	struct pfc_extpass_why w;
	uint8_t buf[256];
	size_t len;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/f", dir);
	/* a shell would redirect, expand $HOME and `id`, glob, and end the command at ';' */
	snprintf(cmd, sizeof(cmd), "echo a;b $HOME `id` $(id) * 'q' > %s", file);
	snprintf(want, sizeof(want), "a;b $HOME `id` $(id) * 'q' > %s", file);
	cr_assert_eq(runv((const char *[]){cmd}, 1, 0, buf, sizeof(buf), &len, &w), 0);
	cr_assert_eq(len, strlen(want), "%.*s", (int)len, buf);
	cr_assert_eq(memcmp(buf, want, len), 0, "%.*s", (int)len, buf);
	cr_assert_eq(access(file, F_OK), -1, "a shell redirected the output");
	rmdir(dir);
}

Test(keystore_extpass, one_value_splits_at_runs_of_spaces_several_are_the_argv)
{
	const char *one[] = {"  printf   [%s]  a   b  "};
	const char *several[] = {"printf", "[%s]", "a b", " c ", ""};
	struct pfc_extpass_why w;
	uint8_t buf[64];
	size_t len;

	cr_assert_eq(runv(one, 1, 0, buf, sizeof(buf), &len, &w), 0);
	cr_assert_eq(len, 6);
	cr_assert_eq(memcmp(buf, "[a][b]", 6), 0, "%.*s", (int)len, buf);
	/* repeated --extpass: each value one argument, spaces and empty ones kept */
	cr_assert_eq(runv(several, 5, 0, buf, sizeof(buf), &len, &w), 0);
	cr_assert_eq(len, 12);
	cr_assert_eq(memcmp(buf, "[a b][ c ][]", 12), 0, "%.*s", (int)len, buf);
	/* tabs are not separators */
	cr_assert_eq(run("echo a\tb", buf, &len, &w), 0);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(buf, "a\tb", 3), 0);
}

Test(keystore_extpass, failing_command_is_an_error_and_wipes)
{
	const char *fail[] = {"sh", "-c", "echo secret; exit 3"},
		   *kill9[] = {"sh", "-c", "kill -9 $$"};
	uint8_t buf[MAX], zero[MAX] = {0};
	struct pfc_extpass_why w;
	char msg[256];
	size_t len;

	cr_assert_eq(runv(fail, 3, 0, buf, MAX, &len, &w), PFC_ERR_IO);
	cr_assert_eq(w.status, 3);
	cr_assert_eq(len, 12345, "out-param set on failure");
	cr_assert_eq(memcmp(buf, zero, MAX), 0, "output of a failed command not wiped");
	describe(fail, 3, 0, PFC_ERR_IO, &w, msg, sizeof(msg));
	cr_assert_str_eq(msg, "sh exited with status 3");
	cr_assert_eq(runv(kill9, 3, 0, buf, MAX, &len, &w), PFC_ERR_IO);
	cr_assert_eq(w.status, 128 + 9);
	describe(kill9, 3, 0, PFC_ERR_IO, &w, msg, sizeof(msg));
	cr_assert_str_eq(msg, "sh was killed by signal 9");
}

Test(keystore_extpass, missing_program_is_a_clear_error)
{
	const char *abs = "/nonexistent/program --flag", *path = "pfc-no-such-program";
	uint8_t buf[MAX], zero[MAX] = {0};
	struct pfc_extpass_why w;
	char msg[256];
	size_t len;

	cr_assert_eq(run(abs, buf, &len, &w), PFC_ERR_IO);
	cr_assert_eq(w.status, -1, "it never ran: no exit status");
	cr_assert_eq(w.sys, ENOENT);
	cr_assert_eq(memcmp(buf, zero, MAX), 0);
	describe(&abs, 1, 0, PFC_ERR_IO, &w, msg, sizeof(msg));
	cr_assert_str_eq(msg, "cannot run /nonexistent/program: No such file or directory");
	/* looked up on PATH */
	cr_assert_eq(run(path, buf, &len, &w), PFC_ERR_IO);
	cr_assert_eq(w.sys, ENOENT);
	describe(&path, 1, 0, PFC_ERR_IO, &w, msg, sizeof(msg));
	cr_assert_str_eq(msg, "cannot run pfc-no-such-program: No such file or directory");
	cr_assert_eq(run("/etc/passwd", buf, &len, &w), PFC_ERR_IO);
	cr_assert_eq(w.sys, EACCES, "not executable");
}

Test(keystore_extpass, a_command_that_never_ends_is_killed_at_the_timeout)
{
	const char *forever[] = {"sleep", "1000"};
	const char *closed[] = {"sh", "-c", "exec >&-; exec sleep 1000"};
	uint8_t buf[MAX], zero[MAX] = {0};
	struct pfc_extpass_why w;
	char msg[256];
	size_t len;
	double t0 = now_s();

	cr_assert_eq(runv(forever, 2, 300, buf, MAX, &len, &w), PFC_ERR_TIMEOUT);
	cr_assert_geq(now_s() - t0, 0.3);
	cr_assert_lt(now_s() - t0, 5.0, "not killed at the timeout");
	cr_assert_eq(w.status, 128 + 9, "killed with SIGKILL and reaped");
	cr_assert_eq(memcmp(buf, zero, MAX), 0);
	describe(forever, 2, 300, PFC_ERR_TIMEOUT, &w, msg, sizeof(msg));
	cr_assert_str_eq(msg, "sleep timed out after 300 ms (killed)");
	describe(forever, 2, 0, PFC_ERR_TIMEOUT, &w, msg, sizeof(msg));
	cr_assert_str_eq(msg, "sleep timed out after 120 s (killed)", "the default");
	/* its output closed, the program still running: waited for, then killed */
	t0 = now_s();
	cr_assert_eq(runv(closed, 3, 300, buf, MAX, &len, &w), PFC_ERR_TIMEOUT);
	cr_assert_lt(now_s() - t0, 5.0);
	/* a command that finishes in time is not cut short */
	cr_assert_eq(
	    runv((const char *[]){"sh", "-c", "sleep 0.1; echo ok"}, 3, 5000, buf, MAX, &len, &w),
	    0);
	cr_assert_eq(len, 2);
}

Test(keystore_extpass, boundary_max_bytes_fits_one_more_is_too_large)
{
	const char *big[] = {"head", "-c", "1000000", "/dev/zero"};
	uint8_t buf[MAX], zero[MAX] = {0};
	struct pfc_extpass_why w;
	size_t len;

	cr_assert_eq(run("printf 0123456789abcdef", buf, &len, &w), 0);
	cr_assert_eq(len, MAX);
	/* a long output is read to its end (the command is not left blocked) */
	cr_assert_eq(runv(big, 4, 0, buf, MAX, &len, &w), PFC_ERR_TOO_LARGE);
	cr_assert_eq(w.status, 0);
	cr_assert_eq(memcmp(buf, zero, MAX), 0);
	cr_assert_eq(run("printf 0123456789abcdefg", buf, &len, &w), PFC_ERR_TOO_LARGE);
}

Test(keystore_extpass, empty_command_is_invalid)
{
	const char *empty[] = {""}, *spaces[] = {"   "}, *first_empty[] = {"", "x"};
	const char *many[PFC_EXTPASS_ARGS_MAX + 1];
	struct pfc_extpass_why w;
	char line[3 * (PFC_EXTPASS_ARGS_MAX + 1) + 1] = "";
	uint8_t buf[MAX];
	size_t len;

	cr_assert_eq(runv(empty, 1, 0, buf, MAX, &len, &w), PFC_ERR_INVAL);
	cr_assert_eq(runv(spaces, 1, 0, buf, MAX, &len, &w), PFC_ERR_INVAL);
	cr_assert_eq(runv(first_empty, 2, 0, buf, MAX, &len, &w), PFC_ERR_INVAL);
	cr_assert_eq(runv(empty, 0, 0, buf, MAX, &len, &w), PFC_ERR_INVAL);
	cr_assert_eq(pfc_extpass_run(NULL, buf, MAX, &len, NULL), PFC_ERR_INVAL);
	for (size_t i = 0; i <= PFC_EXTPASS_ARGS_MAX; i++) {
		many[i] = "true";
		strcat(line, "ab ");
	}
	cr_assert_eq(runv(many, PFC_EXTPASS_ARGS_MAX + 1, 0, buf, MAX, &len, &w), PFC_ERR_INVAL);
	cr_assert_eq(runv(many, PFC_EXTPASS_ARGS_MAX, 0, buf, MAX, &len, &w), 0);
	cr_assert_eq(run(line, buf, &len, &w), PFC_ERR_INVAL, "65 elements after the split");
}

Test(keystore_extpass, only_stdin_stdout_and_stderr_are_passed_on)
{
	char probe[128];
	const char *args[] = {"sh", "-c", probe};
	struct pfc_extpass_why w;
	uint8_t buf[MAX];
	size_t len;
	int fd = open("/dev/null", O_RDONLY); /* inheritable: no O_CLOEXEC */

	cr_assert_geq(fd, 3);
	snprintf(probe, sizeof(probe),
		 "if [ -e /proc/self/fd/%d ]; then echo open; else echo shut; fi", fd);
	cr_assert_eq(runv(args, 3, 0, buf, MAX, &len, &w), 0);
	cr_assert_eq(len, 4);
	cr_assert_eq(memcmp(buf, "shut", 4), 0, "descriptor %d reached the command", fd);
	close(fd);
}
