// SPDX-License-Identifier: MIT
/* cmd_rotate.c - pfcrypt rotate --key NAME: a new primary version of a master key. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "keystore/client.h"
#include "tools/cli.h"
#include "tools/cmds.h"

static const char rotate_help[] =
    "Usage: pfcrypt rotate --key NAME [--socket PATH]\n\n"
    "Make a new random version of master key NAME the primary one: new files and\n"
    "rewrapped files are wrapped under it; older versions stay active (they still\n"
    "unwrap) until retired.  Then run 'pfcrypt rewrap BACKING' on every volume.\n\n"
    "Exit: 0 rotated (prints the new version), 2 error.\n";

int cmd_rotate(int argc, char **argv)
{
	enum { O_KEY = 0x2000 };
	static const struct option lo[] = {{"socket", required_argument, NULL, CLI_OPT_SOCKET},
					   {"key", required_argument, NULL, O_KEY},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	const char *key = NULL;
	struct pfc_ks *ks;
	uint32_t ver;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case CLI_OPT_SOCKET:
			cli_g.socket = optarg;
			break;
		case O_KEY:
			key = optarg;
			break;
		case 'h':
			return cli_help(rotate_help);
		default:
			return cli_usage("rotate", "bad option");
		}
	}
	if (!key || optind != argc)
		return cli_usage("rotate", "expected --key NAME and nothing else");
	if ((r = cli_ks_open(&ks)))
		return r;
	r = pfc_ks_rotate(ks, key, &ver);
	if (r < 0) {
		char what[64];

		snprintf(what, sizeof(what), "master key %s", key);
		cli_ks_err(ks, what, r);
		pfc_ks_close(ks);
		return CLI_EXIT_SETUP;
	}
	printf("%s: version %u is now primary\n", key, ver);
	pfc_ks_close(ks);
	return CLI_EXIT_OK;
}
