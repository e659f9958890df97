// SPDX-License-Identifier: MIT
/*
 * pass.c - passphrases: --passphrase-fd, --passphrase-file, --extpass CMD
 * (the standard output of "/bin/sh -c CMD", as gocryptfs does: password
 * managers, systemd-ask-password), an env variable naming a file
 * (PFCRYPT_PASSPHRASE_FILE), else a prompt on /dev/tty with echo off.  The
 * bytes live only in sodium_malloc memory and are wiped.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/extpass.h"
#include "tools/cli.h"

#define PASS_MAX 1024 /* longer input is refused, not truncated */

/* Read up to PASS_MAX bytes from fd until EOF (or newline if stop_nl). 0 or -errno. */
static int read_fd(int fd, char *buf, size_t *len, bool stop_nl)
{
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0 || (stop_nl && c == '\n'))
			break;
		if (n == PASS_MAX)
			return -EFBIG;
		buf[n++] = c;
	}
	/* A passphrase file usually ends with one newline: not part of it. */
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return 0;
}

static int read_path(const char *path, char *buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = read_fd(fd, buf, len, false);
	close(fd);
	return r;
}

static int prompt_tty(const char *prompt, char *buf, size_t *len)
{
	struct termios old, quiet;
	int fd, ret;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (tcgetattr(fd, &old) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	(void)!write(fd, prompt, strlen(prompt));
	tcsetattr(fd, TCSAFLUSH, &quiet);
	ret = read_fd(fd, buf, len, true);
	tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(fd, "\n", 1);
	close(fd);
	return ret;
}

int cli_read_pass(const struct cli_pass_src *src, const char *prompt, bool confirm, char **out,
		  size_t *len)
{
	char *buf = NULL, *again = NULL;
	const char *file = src->file, *what;
	size_t n = 0, n2 = 0;
	int ret = CLI_EXIT_SETUP, r;

	if (sodium_init() < 0) {
		cli_err(NULL, "libsodium failed to initialise");
		return CLI_EXIT_SETUP;
	}
	buf = sodium_malloc(PASS_MAX + 1);
	if (!buf) {
		cli_err(NULL, "cannot allocate locked memory for the passphrase");
		return CLI_EXIT_SETUP;
	}
	if (!file && src->env) {
		const char *e = getenv(src->env);

		if (e && *e)
			file = e;
	}
	if (src->fd >= 0) {
		what = "passphrase fd";
		r = read_fd(src->fd, buf, &n, false);
	} else if (src->file) {
		what = src->file;
		r = read_path(src->file, buf, &n);
	} else if (src->extpass) {
		int status = 0;

		/* keystore/extpass.c: /bin/sh -c CMD, stdin and stderr inherited. */
		what = "--extpass";
		r = pfc_extpass_run(src->extpass, (uint8_t *)buf, PASS_MAX, &n, &status);
		if (r == PFC_ERR_IO) {
			if (status < 0)
				cli_err(what, "cannot run the command");
			else
				cli_err(what, "the command exited with status %d", status);
			goto out;
		}
		if (r == PFC_ERR_TOO_LARGE)
			r = -EFBIG;
		else if (r == 0)
			buf[n] = '\0';
	} else if (file) {
		what = file; /* from the environment */
		r = read_path(file, buf, &n);
	} else {
		what = "/dev/tty";
		r = prompt_tty(prompt, buf, &n);
		if (r == 0 && confirm) {
			again = sodium_malloc(PASS_MAX + 1);
			if (!again) {
				cli_err(NULL, "cannot allocate locked memory for the passphrase");
				goto out;
			}
			r = prompt_tty("Repeat passphrase: ", again, &n2);
			if (r == 0 && (n != n2 || sodium_memcmp(buf, again, n) != 0)) {
				cli_err(NULL, "the two passphrases differ");
				goto out;
			}
		}
	}
	if (r == -EFBIG) {
		cli_err(what, "passphrase longer than %d bytes", PASS_MAX);
		goto out;
	}
	if (r < 0) {
		cli_err(what, "cannot read the passphrase: %s%s", strerror(-r),
			r == -ENXIO || r == -ENOTTY
			    ? " (no terminal: use --passphrase-file or --extpass)"
			    : "");
		goto out;
	}
	if (n == 0) {
		cli_err(what, "empty passphrase");
		goto out;
	}
	*out = buf;
	*len = n;
	buf = NULL;
	ret = 0;
out:
	cli_pass_free(buf);
	cli_pass_free(again);
	return ret;
}

void cli_pass_free(char *p)
{
	if (p) {
		sodium_memzero(p, PASS_MAX + 1);
		sodium_free(p);
	}
}
