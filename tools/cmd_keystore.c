// SPDX-License-Identifier: MIT
/*
 * cmd_keystore.c - pfcrypt keystore init|start|stop|status|lock|unlock|passwd:
 * options and dispatch, and the subcommands that are keystore requests
 * (status, lock, unlock, passwd).  The process management (init, start,
 * stop) is in ks_proc.c; it gets the options parsed here.
 */
#include <stdio.h>
#include <string.h>

#include "fs/err.h"
#include "keystore/client.h"
#include "tools/cli.h"
#include "tools/cmds.h"
#include "tools/ks_cmd.h"
#include "tools/opts.h"

static const char ks_help[] =
    "Usage: pfcrypt keystore SUBCOMMAND [OPTIONS]\n\n"
    "  init    [--store FILE] [--kdf-profile P] [--start [--log-file F]] [PASS]\n"
    "                                    create a new empty key store (--start: and\n"
    "                                    start it, the passphrase asked only twice)\n"
    "  start   [--store FILE] [--locked] [--log-file F] [PASS] [-- DAEMON-ARGS]\n"
    "                                    start pfcrypt-keystore in the background\n"
    "  stop                              stop the keystore serving the socket\n"
    "  status  [--json]                  locked or not, keys and their versions\n"
    "  lock                              wipe every key from the keystore's memory\n"
    "  unlock  [PASS]                    decrypt the store again\n"
    "  passwd  [PASS] [--new-passphrase-file F]   change the store passphrase\n"
    "  cancel-retire --key NAME --version N [PASS]\n"
    "                                    keep a version scheduled for destruction\n"
    "                                    (during the grace period of 'pfcrypt retire')\n\n"
    "PASS, the first given of: --passphrase-fd N | --passphrase-file F |\n"
    "      --extpass CMD (the standard output of CMD, which must exit 0 within 120 s;\n"
    "      no shell: CMD is split at spaces, or, when --extpass is given more than once,\n"
    "      each one is one argument: --extpass systemd-ask-password --extpass 'Pass:') |\n"
    "      a file named by env PFCRYPT_PASSPHRASE_FILE | a prompt on the terminal (no echo).\n"
    "Every subcommand takes --socket PATH (env PFCRYPT_SOCKET), -q, --quiet (no line\n"
    "on success) and --help (its own usage: 'pfcrypt keystore unlock --help').\n"
    "The program run is pfcrypt-keystore (env PFCRYPT_KEYSTORE_BIN, next to pfcrypt,\n"
    "then PATH).  Exit: 0 ok, 2 error.\n";

/* Parse the options of "keystore <sub>" (cmd) into o.  CLI_OPTS_GO or an exit code. */
static int ks_parse(const char *cmd, int argc, char **argv, struct ks_opts *o)
{
	const struct cli_opt opts[] = {CLI_OPTS_PASS(&o->pass),
				       {.name = "new-passphrase-file", .str = &o->new_pass_file},
				       {.name = "store", .str = &o->store},
				       {.name = "kdf-profile", .str = &o->kdf},
				       {.name = "log-file", .str = &o->log_file},
				       {.name = "locked", .flag = &o->locked},
				       {.name = "start", .flag = &o->start},
				       {.name = "json", .flag = &o->json},
				       {.name = "key", .str = &o->key},
				       {.name = "version",
					.num = &o->version,
					.min = 1,
					.max = UINT32_MAX,
					.bad = "--version wants a number >= 1"},
				       {0}};
	const struct cli_syntax syn = {
	    .cmd = cmd, .help = ks_sub_help(cmd + 9, ks_help), .opts = opts, .nargs = CLI_ARGS_ANY};
	int r;

	*o = (struct ks_opts){.pass = CLI_PASS_SRC_INIT};
	if ((r = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return r;
	if (optind < argc && !strcmp(argv[optind - 1], "--")) {
		o->extra = argv + optind;
		o->nextra = argc - optind;
	} else if (optind < argc) {
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	}
	return CLI_OPTS_GO;
}

static void print_key(const struct pfc_ks_keyinfo *k)
{
	char t[40];

	if (k->state != PFC_KS_RETIRING) {
		printf("  %-20s v%-4u %s\n", k->name, k->version, cli_ks_state_name(k->state));
		return;
	}
	pfc_ks_fmt_time(k->retired, t, sizeof(t));
	printf("  %-20s v%-4u retiring: destroyed at %s unless cancel-retire\n", k->name,
	       k->version, t);
}

static int ks_status(const struct ks_opts *o)
{
	struct pfc_ks *ks;
	struct pfc_ks_status st;
	struct pfc_ks_keyinfo *list = NULL;
	char sock[4096];
	size_t n = 0;
	int r;

	if (o->json)
		return ks_status_json();
	if ((r = cli_ks_open(&ks)))
		return r;
	cli_ks_socket(sock, sizeof(sock));
	r = pfc_ks_status(ks, &st);
	if (r == 0 && !st.locked)
		r = pfc_ks_list(ks, &list, &n);
	if (r < 0) {
		cli_ks_err(ks, sock, r);
		pfc_ks_close(ks);
		return CLI_EXIT_SETUP;
	}
	printf("socket:    %s\nstate:     %s\nkdf:       %s\n", sock,
	       st.locked ? "locked" : "unlocked", st.kdf_profile);
	if (!st.locked)
		printf("keys:      %u names, %u usable versions, %u retired\n", st.key_count,
		       st.version_count, st.retired_count);
	for (size_t i = 0; i < n; i++)
		print_key(&list[i]);
	pfc_ks_list_free(list);
	pfc_ks_close(ks);
	return CLI_EXIT_OK;
}

/* The one line after a request that worked: "keystore locked on SOCK".  CLI_EXIT_OK. */
static int ks_done(const char *what)
{
	char sock[4096];

	cli_say("keystore %s on %s", what, cli_ks_socket(sock, sizeof(sock)));
	return CLI_EXIT_OK;
}

static int ks_lock_unlock(const struct ks_opts *o, bool lock)
{
	struct pfc_ks *ks;
	char *pass = NULL;
	size_t len;
	int r;

	if (!lock && cli_read_pass(&o->pass, "Keystore passphrase: ", false, &pass, &len))
		return CLI_EXIT_SETUP;
	if ((r = cli_ks_open(&ks))) {
		cli_pass_free(pass);
		return r;
	}
	r = lock ? pfc_ks_lock(ks) : pfc_ks_unlock(ks, pass, len);
	cli_pass_free(pass);
	r = r < 0 ? cli_ks_fail_socket(ks, r) : ks_done(lock ? "locked" : "unlocked");
	pfc_ks_close(ks);
	return r;
}

static int ks_lock(const struct ks_opts *o)
{
	return ks_lock_unlock(o, true);
}

static int ks_unlock(const struct ks_opts *o)
{
	return ks_lock_unlock(o, false);
}

static int ks_passwd(const struct ks_opts *o)
{
	struct cli_pass_src nsrc = {.fd = -1, .file = o->new_pass_file};
	struct pfc_ks *ks = NULL;
	char *old = NULL, *new = NULL;
	size_t olen, nlen;
	int r, ret = CLI_EXIT_SETUP;

	if (cli_read_pass(&o->pass, "Current keystore passphrase: ", false, &old, &olen) ||
	    cli_read_pass(&nsrc, "New keystore passphrase: ", true, &new, &nlen))
		goto out;
	if (cli_ks_open(&ks))
		goto out;
	r = pfc_ks_change_passphrase(ks, old, olen, new, nlen);
	ret = r < 0 ? cli_ks_fail_socket(ks, r) : ks_done("passphrase changed");
out:
	cli_pass_free(old);
	cli_pass_free(new);
	pfc_ks_close(ks);
	return ret;
}

static int ks_cancel_retire(const struct ks_opts *o)
{
	struct pfc_ks *ks = NULL;
	char *pass = NULL;
	size_t len;
	int r;

	if (!o->key || !o->version)
		return cli_usage("keystore cancel-retire", "expected --key NAME --version N");
	if (cli_read_pass(&o->pass, "Keystore passphrase: ", false, &pass, &len))
		return CLI_EXIT_SETUP;
	if ((r = cli_ks_open(&ks))) {
		cli_pass_free(pass);
		return r;
	}
	pfc_ks_set_proof(ks, pass, len);
	r = pfc_ks_cancel_retire(ks, o->key, (uint32_t)o->version);
	if (r == 0)
		printf("%s v%lu kept: no longer scheduled for destruction\n", o->key, o->version);
	r = r < 0 ? cli_ks_fail(ks, r, "master key %s v%lu", o->key, o->version) : CLI_EXIT_OK;
	pfc_ks_close(ks);
	cli_pass_free(pass);
	return r;
}

static const struct {
	const char *name;
	int (*fn)(const struct ks_opts *o);
} subs[] = {{"init", ks_init},	   {"start", ks_start},
	    {"stop", ks_stop},	   {"status", ks_status},
	    {"lock", ks_lock},	   {"unlock", ks_unlock},
	    {"passwd", ks_passwd}, {"cancel-retire", ks_cancel_retire}};

int cmd_keystore(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct ks_opts o;
	char cmd[32];
	int r;

	if (!sub)
		return cli_usage("keystore", "expected a subcommand");
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h"))
		return cli_help(ks_help);
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(sub, subs[i].name))
			continue;
		snprintf(cmd, sizeof(cmd), "keystore %s", sub);
		if ((r = ks_parse(cmd, argc - 1, argv + 1, &o)) != CLI_OPTS_GO)
			return r;
		if ((o.key || o.version) && subs[i].fn != ks_cancel_retire)
			return cli_usage(cmd, "--key and --version are for cancel-retire");
		return subs[i].fn(&o);
	}
	return cli_usage("keystore", "unknown subcommand '%s'", sub);
}
