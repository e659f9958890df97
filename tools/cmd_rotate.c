// SPDX-License-Identifier: MIT
/* cmd_rotate.c - pfcrypt rotate --key NAME: a new primary version of a master key. */
#include <stdio.h>
#include <string.h>

#include "keystore/client.h"
#include "tools/cli.h"
#include "tools/cmds.h"
#include "tools/opts.h"

static const char rotate_help[] =
    "Usage: pfcrypt rotate --key NAME [--socket PATH]\n\n"
    "Make a new random version of master key NAME the primary one: new files and\n"
    "rewrapped files are wrapped under it; older versions stay active (they still\n"
    "unwrap) until retired.  Then run 'pfcrypt rewrap BACKING' on every volume.\n\n"
    "Exit: 0 rotated (prints the new version), 2 error.\n";

int cmd_rotate(int argc, char **argv)
{
	const char *key = NULL;
	const struct cli_opt opts[] = {{.name = "key", .str = &key, .required = true}, {0}};
	const struct cli_syntax syn = {.cmd = "rotate",
				       .help = rotate_help,
				       .opts = opts,
				       .nargs = 0,
				       .expected = "expected --key NAME and nothing else"};
	struct pfc_ks *ks;
	uint32_t ver;
	int r;

	if ((r = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return r;
	if ((r = cli_ks_open(&ks)))
		return r;
	r = pfc_ks_rotate(ks, key, &ver);
	if (r < 0) {
		r = cli_ks_fail(ks, r, "master key %s", key);
		pfc_ks_close(ks);
		return r;
	}
	printf("%s: version %u is now primary\n", key, ver);
	pfc_ks_close(ks);
	return CLI_EXIT_OK;
}
