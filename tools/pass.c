// SPDX-License-Identifier: MIT
/*
 * pass.c - the CLI's passphrases: --passphrase-fd, --passphrase-file, --extpass
 * CMD (the standard output of CMD, run without a shell with a timeout, as
 * gocryptfs v2 does: password managers, systemd-ask-password; the splitting
 * rule is keystore/extpass.h's), an env variable naming a file
 * (PFCRYPT_PASSPHRASE_FILE), else a prompt on /dev/tty with echo off.  The
 * reading is keystore/passphrase.c's, shared with pfcrypt-keystore; this file
 * picks the source and words the errors.  The bytes live only in
 * sodium_malloc memory and are wiped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/passphrase.h"
#include "tools/cli.h"

_Static_assert(CLI_EXTPASS_MAX == PFC_EXTPASS_ARGS_MAX, "--extpass values: one per argv element");

/* Which source is read (fd, file, extpass, the env's file, the tty), named for messages. */
struct pick {
	struct pfc_pass_src from;
	const char *what;
	bool cmd, tty;
};

static void pick(const struct cli_pass_src *src, struct pick *p)
{
	const char *e = src->env ? getenv(src->env) : NULL;

	*p = (struct pick){.from = {.fd = src->fd,
				    .file = src->file,
				    .extpass = {.args = src->extpass, .n = src->nextpass}}};
	p->cmd = src->fd < 0 && !src->file && src->nextpass;
	if (src->fd >= 0)
		p->what = "passphrase fd";
	else if (src->file)
		p->what = src->file;
	else if (p->cmd)
		p->what = "--extpass";
	else if (e && *e)
		p->what = p->from.file = e; /* from the environment */
	p->tty = !p->what;
	if (p->tty)
		p->what = "/dev/tty";
}

/* The one-line message for a failed read. */
static void report(const struct pick *p, int rc, const struct pfc_pass_why *why)
{
	int sys = rc == PFC_ERR_INVAL ? EINVAL : why->sys;
	struct pfc_extpass_why w = {why->status, why->sys};
	char cause[512];

	if (p->cmd && (rc == PFC_ERR_IO || rc == PFC_ERR_TIMEOUT || rc == PFC_ERR_INVAL)) {
		pfc_extpass_describe(&p->from.extpass, rc, &w, cause, sizeof(cause));
		cli_err(p->what, "%s", cause);
	} else if (rc == PFC_ERR_TOO_LARGE) {
		cli_err(p->what, "passphrase longer than %d bytes", PFC_PASS_MAX);
	} else if (rc == PFC_ERR_NOMEM) {
		cli_err(NULL, "cannot allocate locked memory for the passphrase");
	} else if (rc == PFC_ERR_BAD_PASSPHRASE) {
		cli_err(NULL, "the two passphrases differ");
	} else if (rc == PFC_ERR_INVAL && !p->cmd) {
		cli_err(NULL, "no passphrase chosen (a short one was declined each time)");
	} else {
		cli_err(p->what, "cannot read the passphrase: %s%s", strerror(sys),
			sys == ENXIO || sys == ENOTTY
			    ? " (no terminal: use --passphrase-file or --extpass)"
			    : "");
	}
}

/* Characters (UTF-8 code points) in the n bytes of s. */
static size_t chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

/* A new passphrase of n characters, under CLI_PASS_SHORT: warn, then ask on the terminal
 * whether to use it anyway.  true: yes. */
static bool short_ok(size_t n)
{
	char answer[16] = "";
	FILE *tty = fopen("/dev/tty", "r+");
	bool yes;

	cli_err(NULL,
		"warning: this passphrase has only %zu characters; %d or more are much harder "
		"to guess",
		n, CLI_PASS_SHORT);
	if (!tty)
		return false;
	fputs("Use it anyway? [y/N] ", tty);
	fflush(tty);
	yes = fgets(answer, sizeof(answer), tty) && (answer[0] == 'y' || answer[0] == 'Y');
	fclose(tty);
	return yes;
}

/* A new passphrase from the terminal: typed twice, asked again (CLI_PASS_TRIES times in
 * all) when the two differ or a short one is not wanted after all.  As pfc_pass_read. */
static int read_new_tty(const struct pick *p, const char *prompt, char *buf, size_t *n,
			struct pfc_pass_why *why)
{
	int rc = PFC_ERR_BAD_PASSPHRASE;

	for (int tries = 0; tries < CLI_PASS_TRIES; tries++) {
		if ((rc = pfc_pass_read(&p->from, prompt, buf, n, why)) < 0 || *n == 0)
			return rc;
		if (chars(buf, *n) < CLI_PASS_SHORT && !short_ok(chars(buf, *n))) {
			rc = PFC_ERR_INVAL;
			continue;
		}
		rc = pfc_pass_confirm("Repeat passphrase: ", buf, *n, why);
		if (rc != PFC_ERR_BAD_PASSPHRASE)
			return rc;
		if (tries + 1 < CLI_PASS_TRIES)
			cli_err(NULL, "the two passphrases differ; again");
	}
	sodium_memzero(buf, PFC_PASS_BUF);
	return rc;
}

int cli_read_pass(const struct cli_pass_src *src, const char *prompt, bool confirm, char **out,
		  size_t *len)
{
	struct pfc_pass_why why;
	struct pick p;
	char *buf;
	size_t n = 0;
	int rc;

	if (sodium_init() < 0) {
		cli_err(NULL, "libsodium failed to initialise");
		return CLI_EXIT_SETUP;
	}
	buf = sodium_malloc(PFC_PASS_BUF);
	if (!buf) {
		cli_err(NULL, "cannot allocate locked memory for the passphrase");
		return CLI_EXIT_SETUP;
	}
	pick(src, &p);
	if (confirm && p.tty)
		rc = read_new_tty(&p, prompt, buf, &n, &why);
	else
		rc = pfc_pass_read(&p.from, prompt, buf, &n, &why);
	if (rc == 0 && n == 0) {
		cli_err(p.what, "empty passphrase");
		rc = PFC_ERR_INVAL;
	} else if (rc < 0) {
		report(&p, rc, &why);
	}
	if (rc < 0) {
		cli_pass_free(buf);
		return CLI_EXIT_SETUP;
	}
	*out = buf;
	*len = n;
	return 0;
}

void cli_pass_free(char *p)
{
	sodium_free(p); /* wipes; NULL is fine */
}

int cli_opt_extpass(const char *cmd, const char *arg, void *dest)
{
	struct cli_pass_src *src = dest;

	if (src->nextpass == CLI_EXTPASS_MAX)
		return cli_usage(cmd, "--extpass given more than %d times", CLI_EXTPASS_MAX);
	src->extpass[src->nextpass++] = arg;
	return 0;
}
