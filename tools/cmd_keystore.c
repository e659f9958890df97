// SPDX-License-Identifier: MIT
/*
 * cmd_keystore.c - pfcrypt keystore init|start|stop|status|lock|unlock|passwd:
 * options and dispatch, and the subcommands that are keystore requests
 * (status, lock, unlock, passwd).  The process management (init, start,
 * stop) is in ks_proc.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "fs/err.h"
#include "keystore/client.h"
#include "tools/cli.h"
#include "tools/cmds.h"
#include "tools/ks_cmd.h"

static const char ks_help[] =
    "Usage: pfcrypt keystore SUBCOMMAND [OPTIONS]\n\n"
    "  init    [--store FILE] [--kdf-profile P] [PASS]   create a new empty key store\n"
    "  start   [--store FILE] [--locked] [--log-file F] [PASS] [-- DAEMON-ARGS]\n"
    "                                    start pfcrypt-keystore in the background\n"
    "  stop                              stop the keystore serving the socket\n"
    "  status  [--json]                  locked or not, keys and their versions\n"
    "  lock                              wipe every key from the keystore's memory\n"
    "  unlock  [PASS]                    decrypt the store again\n"
    "  passwd  [PASS] [--new-passphrase-file F]   change the store passphrase\n\n"
    "PASS, the first given of: --passphrase-fd N | --passphrase-file F |\n"
    "      --extpass CMD (the standard output of /bin/sh -c CMD, which must exit 0) |\n"
    "      a file named by env PFCRYPT_PASSPHRASE_FILE | a prompt on the terminal (no echo).\n"
    "Every subcommand takes --socket PATH (env PFCRYPT_SOCKET) and --help.\n"
    "The program run is pfcrypt-keystore (env PFCRYPT_KEYSTORE_BIN, next to pfcrypt,\n"
    "then PATH).  Exit: 0 ok, 2 error.\n";

int ks_parse(const char *cmd, int argc, char **argv, struct ks_opts *o)
{
	enum { O_PF = 0x2000, O_PFD, O_NPF, O_STORE, O_KDF, O_LOG, O_LOCKED, O_JSON, O_EXTPASS };
	static const struct option lo[] = {{"socket", required_argument, NULL, CLI_OPT_SOCKET},
					   {"passphrase-file", required_argument, NULL, O_PF},
					   {"passphrase-fd", required_argument, NULL, O_PFD},
					   {"extpass", required_argument, NULL, O_EXTPASS},
					   {"new-passphrase-file", required_argument, NULL, O_NPF},
					   {"store", required_argument, NULL, O_STORE},
					   {"kdf-profile", required_argument, NULL, O_KDF},
					   {"log-file", required_argument, NULL, O_LOG},
					   {"locked", no_argument, NULL, O_LOCKED},
					   {"json", no_argument, NULL, O_JSON},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	unsigned long v;
	int c;

	*o = (struct ks_opts){.pass = CLI_PASS_SRC_INIT};
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case CLI_OPT_SOCKET:
			cli_g.socket = optarg;
			break;
		case O_PF:
			o->pass.file = optarg;
			break;
		case O_PFD:
			if (cli_parse_uint(optarg, 0, 1 << 20, &v))
				return cli_usage(cmd,
						 "--passphrase-fd wants a file descriptor number");
			o->pass.fd = (int)v;
			break;
		case O_EXTPASS:
			o->pass.extpass = optarg;
			break;
		case O_NPF:
			o->new_pass_file = optarg;
			break;
		case O_STORE:
			o->store = optarg;
			break;
		case O_KDF:
			o->kdf = optarg;
			break;
		case O_LOG:
			o->log_file = optarg;
			break;
		case O_LOCKED:
			o->locked = true;
			break;
		case O_JSON:
			o->json = true;
			break;
		case 'h':
			cli_help(ks_help);
			return -1;
		default:
			return cli_usage(cmd, "bad option");
		}
	}
	if (optind < argc && !strcmp(argv[optind - 1], "--")) {
		o->extra = argv + optind;
		o->nextra = argc - optind;
	} else if (optind < argc) {
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	}
	return 0;
}

static const char *state_name(enum pfc_ks_state s)
{
	return s == PFC_KS_PRIMARY ? "primary" : s == PFC_KS_ACTIVE ? "active" : "retired";
}

static int ks_status(int argc, char **argv)
{
	struct ks_opts o;
	struct pfc_ks *ks;
	struct pfc_ks_status st;
	struct pfc_ks_keyinfo *list = NULL;
	char sock[4096];
	size_t n = 0;
	int r;

	if ((r = ks_parse("keystore status", argc, argv, &o)))
		return r < 0 ? CLI_EXIT_OK : r;
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
	if (o.json) {
		printf("{\"socket\":");
		json_str(stdout, sock);
		printf(",\"locked\":%s,\"protocol_version\":%u,\"kdf_profile\":",
		       st.locked ? "true" : "false", st.protocol_version);
		json_str(stdout, st.kdf_profile);
		printf(",\"keys\":[");
		for (size_t i = 0; i < n; i++) {
			printf("%s{\"name\":", i ? "," : "");
			json_str(stdout, list[i].name);
			printf(
			    ",\"version\":%u,\"state\":\"%s\",\"created\":%llu,\"retired\":%llu}",
			    list[i].version, state_name(list[i].state),
			    (unsigned long long)list[i].created,
			    (unsigned long long)list[i].retired);
		}
		printf("]}\n");
	} else {
		printf("socket:    %s\nstate:     %s\nkdf:       %s\n", sock,
		       st.locked ? "locked" : "unlocked", st.kdf_profile);
		if (!st.locked)
			printf("keys:      %u names, %u usable versions, %u retired\n",
			       st.key_count, st.version_count, st.retired_count);
		for (size_t i = 0; i < n; i++)
			printf("  %-20s v%-4u %s\n", list[i].name, list[i].version,
			       state_name(list[i].state));
	}
	pfc_ks_list_free(list);
	pfc_ks_close(ks);
	return CLI_EXIT_OK;
}

static int ks_lock_unlock(int argc, char **argv, bool lock)
{
	struct ks_opts o;
	struct pfc_ks *ks;
	char sock[4096], *pass = NULL;
	size_t len;
	int r;

	if ((r = ks_parse(lock ? "keystore lock" : "keystore unlock", argc, argv, &o)))
		return r < 0 ? CLI_EXIT_OK : r;
	if (!lock && cli_read_pass(&o.pass, "Keystore passphrase: ", false, &pass, &len))
		return CLI_EXIT_SETUP;
	if ((r = cli_ks_open(&ks))) {
		cli_pass_free(pass);
		return r;
	}
	r = lock ? pfc_ks_lock(ks) : pfc_ks_unlock(ks, pass, len);
	cli_pass_free(pass);
	if (r < 0)
		cli_ks_err(ks, cli_ks_socket(sock, sizeof(sock)), r);
	pfc_ks_close(ks);
	return r < 0 ? CLI_EXIT_SETUP : CLI_EXIT_OK;
}

static int ks_passwd(int argc, char **argv)
{
	struct ks_opts o;
	struct cli_pass_src nsrc = {.fd = -1};
	struct pfc_ks *ks = NULL;
	char sock[4096], *old = NULL, *new = NULL;
	size_t olen, nlen;
	int r, ret = CLI_EXIT_SETUP;

	if ((r = ks_parse("keystore passwd", argc, argv, &o)))
		return r < 0 ? CLI_EXIT_OK : r;
	nsrc.file = o.new_pass_file;
	if (cli_read_pass(&o.pass, "Current keystore passphrase: ", false, &old, &olen) ||
	    cli_read_pass(&nsrc, "New keystore passphrase: ", true, &new, &nlen))
		goto out;
	if (cli_ks_open(&ks))
		goto out;
	r = pfc_ks_change_passphrase(ks, old, olen, new, nlen);
	if (r < 0)
		cli_ks_err(ks, cli_ks_socket(sock, sizeof(sock)), r);
	else
		ret = CLI_EXIT_OK;
out:
	cli_pass_free(old);
	cli_pass_free(new);
	pfc_ks_close(ks);
	return ret;
}

int cmd_keystore(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub)
		return cli_usage("keystore", "expected a subcommand");
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h"))
		return cli_help(ks_help);
	if (!strcmp(sub, "init"))
		return ks_init(argc - 1, argv + 1);
	if (!strcmp(sub, "start"))
		return ks_start(argc - 1, argv + 1);
	if (!strcmp(sub, "stop"))
		return ks_stop(argc - 1, argv + 1);
	if (!strcmp(sub, "status"))
		return ks_status(argc - 1, argv + 1);
	if (!strcmp(sub, "lock"))
		return ks_lock_unlock(argc - 1, argv + 1, true);
	if (!strcmp(sub, "unlock"))
		return ks_lock_unlock(argc - 1, argv + 1, false);
	if (!strcmp(sub, "passwd"))
		return ks_passwd(argc - 1, argv + 1);
	return cli_usage("keystore", "unknown subcommand '%s'", sub);
}
