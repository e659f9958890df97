// SPDX-License-Identifier: MIT
/*
 * ks.c - connecting to the keystore (one connection, or one per worker
 * thread) and reporting its errors in one line.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/err.h"
#include "keystore/client.h"
#include "tools/cli.h"

#define CLI_KS_TIMEOUT_MS 30000 /* rewrap/export may wait behind other clients */

const char *cli_ks_socket(char *buf, size_t len)
{
	if (cli_g.socket) {
		snprintf(buf, len, "%s", cli_g.socket);
		return buf;
	}
	if (!pfc_ks_default_socket(buf, len))
		snprintf(buf, len, "(default socket)");
	return buf;
}

/* Does the keystore's message msg already say pfc_strerror(err) (the server sends
 * that text when it has nothing more precise, or begins its own with it)? */
static bool cli_ks_msg_repeats(int err, const char *msg)
{
	const char *text = pfc_strerror(err);
	size_t n = strlen(text);

	return !strncmp(msg, text, n) && (msg[n] == '\0' || msg[n] == ':');
}

const char *cli_ks_cause(struct pfc_ks *ks, int err, char *buf, size_t len)
{
	const char *msg = ks ? pfc_ks_last_message(ks) : pfc_ks_connect_message();

	if (msg && *msg && !cli_ks_msg_repeats(err, msg))
		snprintf(buf, len, "%s: %s", pfc_strerror(err), msg);
	else
		snprintf(buf, len, "%s", msg && *msg ? msg : pfc_strerror(err));
	return buf;
}

void cli_ks_err(struct pfc_ks *ks, const char *what, int err)
{
	const char *hint = "";
	char cause[1024];

	if (err == PFC_ERR_LOCKED)
		hint = " (run 'pfcrypt keystore unlock')";
	else if (err == PFC_ERR_UNREACHABLE)
		hint = " (is it running? 'pfcrypt keystore start')";
	cli_err(what, "%s%s", cli_ks_cause(ks, err, cause, sizeof(cause)), hint);
}

int cli_ks_fail(struct pfc_ks *ks, int err, const char *fmt, ...)
{
	char what[4400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	cli_ks_err(ks, what, err);
	return CLI_EXIT_SETUP;
}

int cli_ks_fail_socket(struct pfc_ks *ks, int err)
{
	char sock[4096];

	cli_ks_err(ks, cli_ks_socket(sock, sizeof(sock)), err);
	return CLI_EXIT_SETUP;
}

const char *cli_ks_state_name(int state)
{
	return state == PFC_KS_PRIMARY	  ? "primary"
	       : state == PFC_KS_ACTIVE	  ? "active"
	       : state == PFC_KS_RETIRING ? "retiring"
					  : "retired";
}

int cli_ks_open(struct pfc_ks **out)
{
	char sock[4096];
	struct pfc_ks *ks = NULL;
	uint32_t ver;
	int r;

	cli_ks_socket(sock, sizeof(sock));
	r = pfc_ks_connect(cli_g.socket, CLI_KS_TIMEOUT_MS, &ks);
	if (r < 0) {
		cli_ks_err(NULL, sock, r);
		return CLI_EXIT_SETUP;
	}
	r = pfc_ks_hello(ks, &ver);
	if (r < 0) {
		cli_ks_err(ks, sock, r);
		pfc_ks_close(ks);
		return CLI_EXIT_SETUP;
	}
	*out = ks;
	return 0;
}

int cli_ks_conns_init(struct cli_ks_conns *c, unsigned cap)
{
	*c = (struct cli_ks_conns){.ks = calloc(cap ? cap : 1, sizeof(*c->ks)), .cap = cap};
	return c->ks ? 0 : CLI_EXIT_SETUP;
}

int cli_ks_conns_open(struct cli_ks_conns *c, unsigned n)
{
	for (; c->n < n && c->n < c->cap; c->n++)
		if (cli_ks_open(&c->ks[c->n]))
			return CLI_EXIT_SETUP;
	return 0;
}

void cli_ks_conns_close(struct cli_ks_conns *c)
{
	for (unsigned i = 0; i < c->n; i++)
		pfc_ks_close(c->ks[i]);
	free(c->ks);
	*c = (struct cli_ks_conns){0};
}
