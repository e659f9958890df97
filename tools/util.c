// SPDX-License-Identifier: MIT
/* util.c - one-line errors, usage, number parsing, locating helper programs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cli.h"

struct cli_global cli_g;

void cli_err(const char *file, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line: fold newlines a cause may carry (server messages, paths). */
	for (char *c = msg; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	if (file)
		fprintf(stderr, "pfcrypt: %s: %s\n", file, msg);
	else
		fprintf(stderr, "pfcrypt: %s\n", msg);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "pfcrypt: %s: %s (try 'pfcrypt %s --help')\n", cmd, msg, cmd);
	return CLI_EXIT_SETUP;
}

void cli_say(const char *fmt, ...)
{
	va_list ap;

	if (cli_g.quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

int cli_help(const char *text)
{
	fputs(text, stdout);
	return CLI_EXIT_OK;
}

int cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static bool is_exec(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *cli_find_program(const char *name, const char *env_override)
{
	const char *env = env_override ? getenv(env_override) : NULL;
	char buf[PATH_MAX];
	const char *path;
	char *copy, *save = NULL;

	if (env && *env)
		return is_exec(env) ? strdup(env) : NULL;
	if (cli_g.self_dir[0]) {
		if (snprintf(buf, sizeof(buf), "%s/%s", cli_g.self_dir, name) < (int)sizeof(buf) &&
		    is_exec(buf))
			return strdup(buf);
		/* In a meson build tree the daemons live in sibling directories. */
		const char *sub[] = {"../keystore", "../fs/daemon", "../fs"};
		for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
			if (snprintf(buf, sizeof(buf), "%s/%s/%s", cli_g.self_dir, sub[i], name) <
				(int)sizeof(buf) &&
			    is_exec(buf))
				return strdup(buf);
		}
	}
	path = getenv("PATH");
	if (!path)
		return NULL;
	copy = strdup(path);
	if (!copy)
		return NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		if (snprintf(buf, sizeof(buf), "%s/%s", *d ? d : ".", name) < (int)sizeof(buf) &&
		    is_exec(buf)) {
			free(copy);
			return strdup(buf);
		}
	}
	free(copy);
	return NULL;
}

unsigned cli_nproc(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (unsigned)n;
}

int cli_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	uint8_t *buf = NULL;
	size_t n = 0, cap;
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Sized from fstat, grown if the file grows while we read; never past max. */
	cap = fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= max
		  ? (size_t)st.st_size + 1
		  : 4096;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			uint8_t *nb;

			if (cap > max) {
				ret = -EFBIG;
				goto out;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nb = realloc(buf, cap);
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			buf = nb;
		} else if (!buf && !(buf = malloc(cap))) {
			ret = -ENOMEM;
			goto out;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			ret = -EFBIG;
			goto out;
		}
	}
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}
