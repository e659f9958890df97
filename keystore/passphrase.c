// SPDX-License-Identifier: MIT
/* passphrase.c - read a passphrase from an fd, a file, a command or the tty (see passphrase.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/extpass.h"
#include "keystore/passphrase.h"

/* Raw input kept at most: the passphrase and one trailing "\r\n". */
#define RAW_MAX (PFC_PASS_MAX + 2)

/* NUL-terminate n bytes and check the maximum. */
static int terminate(char *buf, size_t n, size_t *len)
{
	buf[n] = '\0';
	if (n > PFC_PASS_MAX)
		return PFC_ERR_TOO_LARGE;
	*len = n;
	return 0;
}

/* Drop one trailing "\n", then one "\r"; then as terminate(). */
static int finish(char *buf, size_t n, size_t *len)
{
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	return terminate(buf, n, len);
}

/* Read fd until EOF (or a newline if stop_nl), one byte at a time so a tty
 * line or a pipe is never over-read. */
static int read_fd(int fd, char *buf, size_t *len, bool stop_nl, struct pfc_pass_why *why)
{
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			why->sys = errno;
			return PFC_ERR_IO;
		}
		if (r == 0 || (stop_nl && c == '\n'))
			break;
		if (n == RAW_MAX)
			return PFC_ERR_TOO_LARGE;
		buf[n++] = c;
	}
	return finish(buf, n, len);
}

static int read_path(const char *path, char *buf, size_t *len, struct pfc_pass_why *why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		why->sys = errno;
		return PFC_ERR_IO;
	}
	rc = read_fd(fd, buf, len, false, why);
	close(fd);
	return rc;
}

static int read_tty(const char *prompt, char *buf, size_t *len, struct pfc_pass_why *why)
{
	struct termios old, quiet;
	int fd, rc;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || tcgetattr(fd, &old) < 0) {
		why->sys = errno;
		if (fd >= 0)
			close(fd);
		return PFC_ERR_IO;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* echo off (dropping typed-ahead input) before the prompt invites typing */
	tcsetattr(fd, TCSAFLUSH, &quiet);
	(void)!write(fd, prompt, strlen(prompt));
	rc = read_fd(fd, buf, len, true, why);
	tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(fd, "\n", 1);
	close(fd);
	return rc;
}

static int read_cmd(const struct pfc_extpass *cmd, char *buf, size_t *len, struct pfc_pass_why *why)
{
	struct pfc_extpass_why w;
	size_t n = 0;
	int rc = pfc_extpass_run(cmd, (uint8_t *)buf, RAW_MAX, &n, &w);

	why->status = w.status;
	why->sys = w.sys;
	return rc < 0 ? rc : terminate(buf, n, len); /* extpass.c dropped the newline */
}

int pfc_pass_read(const struct pfc_pass_src *src, const char *prompt, char *buf, size_t *len,
		  struct pfc_pass_why *why)
{
	size_t n = 0;
	int rc;

	*why = (struct pfc_pass_why){0, -1};
	if (src->fd >= 0)
		rc = read_fd(src->fd, buf, &n, false, why);
	else if (src->file)
		rc = read_path(src->file, buf, &n, why);
	else if (src->extpass.n)
		rc = read_cmd(&src->extpass, buf, &n, why);
	else
		rc = read_tty(prompt, buf, &n, why);
	if (rc < 0) {
		sodium_memzero(buf, PFC_PASS_BUF);
		return rc;
	}
	*len = n;
	return 0;
}

int pfc_pass_confirm(const char *prompt, const char *pass, size_t len, struct pfc_pass_why *why)
{
	const struct pfc_pass_src tty = {.fd = -1};
	char *again = sodium_malloc(PFC_PASS_BUF);
	size_t n = 0;
	int rc;

	if (!again)
		return PFC_ERR_NOMEM;
	rc = pfc_pass_read(&tty, prompt, again, &n, why);
	if (rc == 0 && (n != len || sodium_memcmp(again, pass, len) != 0))
		rc = PFC_ERR_BAD_PASSPHRASE;
	sodium_free(again); /* wipes */
	return rc;
}
