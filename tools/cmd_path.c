// SPDX-License-Identifier: MIT
/*
 * cmd_path.c - pfcrypt path BACKING|MNT PLAIN-PATH, pfcrypt path --backing
 * BACKING-PATH: a plaintext path to its backing path and back (xpath.h), so
 * that a user can find the file a sync client, a backup or a log names.
 * Needs the keystore (the name key); reads names only, never contents.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keystore/client.h"
#include "tools/cli.h"
#include "tools/cmds.h"
#include "tools/opts.h"
#include "tools/xpath.h"

static const char path_help[] =
    "Usage: pfcrypt path BACKING|MNT PLAIN-PATH [--socket PATH]\n"
    "       pfcrypt path --backing BACKING-PATH [--socket PATH]\n\n"
    "Map a plaintext path of the volume (from its root, or under its mountpoint) to\n"
    "the backing entry that holds it, or with --backing a backing entry (a path a\n"
    "sync client or a log names) to its plaintext path: under the mountpoint when\n"
    "the volume is mounted, else from the volume root (starting with /).  A\n"
    "long name's companion file is named too; a companion, directory id file or\n"
    "the config is named as what it belongs to.  Needs the keystore (name key).\n\n"
    "  --backing      the operand is a backing path\n"
    "  --socket PATH  keystore socket (env PFCRYPT_SOCKET)\n\n"
    "Exit: 0 mapped, 1 the plaintext path does not exist (its backing name is\n"
    "printed anyway), 2 error.\n";

/* PLAIN-PATH given under the mountpoint: the part below it; else plain itself. */
static const char *below_mount(const struct cli_vol *v, const char *plain)
{
	char real[PATH_MAX];
	size_t l;

	if (!v->mnt || !realpath(v->mnt, real))
		return plain;
	l = strlen(real);
	if (!strncmp(plain, real, l) && (plain[l] == '/' || !plain[l]))
		return plain + l;
	l = strlen(v->mnt);
	if (!strncmp(plain, v->mnt, l) && (plain[l] == '/' || !plain[l]))
		return plain + l;
	return plain;
}

static int to_backing(struct cli_vol *v, struct pfc_volkeys *vk, const char *plain)
{
	struct xpath_backing b;
	int r = cli_plain_to_backing(v, vk, below_mount(v, plain), &b);

	if (r)
		return r;
	printf("%s/%s\n", v->path, b.rel);
	if (b.companion[0]) {
		const char *slash = strrchr(b.rel, '/');

		printf("companion: %s/%.*s%s%s\n", v->path, slash ? (int)(slash - b.rel) : 0, b.rel,
		       slash ? "/" : "", b.companion);
	}
	if (!b.exists) {
		cli_err(plain, "not in the volume (the name it would have is printed)");
		return CLI_EXIT_PROBLEMS;
	}
	return CLI_EXIT_OK;
}

static int to_plain(struct cli_vol *v, struct pfc_volkeys *vk, const char *rel)
{
	char plain[XPATH_MAX], mnt[PATH_MAX];
	const char *what;
	int r = cli_backing_to_plain(v, vk, rel, plain, sizeof(plain), &what);

	if (r)
		return r;
	if (what && !strcmp(what, "the volume config")) {
		printf("%s\n", what);
		return CLI_EXIT_OK;
	}
	if (cli_mounted(v->path, mnt, sizeof(mnt)))
		printf("%s%s%s%s\n", what ? what : "", what ? " " : "", mnt,
		       strcmp(plain, "/") ? plain : "");
	else
		printf("%s%s%s\n", what ? what : "", what ? " " : "", plain);
	return CLI_EXIT_OK;
}

int cmd_path(int argc, char **argv)
{
	bool backing = false;
	const struct cli_opt opts[] = {{.name = "backing", .flag = &backing}, {0}};
	const struct cli_syntax syn = {
	    .cmd = "path",
	    .help = path_help,
	    .opts = opts,
	    .nargs = CLI_ARGS_ANY,
	    .expected = "expected BACKING PLAIN-PATH, or --backing BACKING-PATH"};
	char root[PATH_MAX], rel[XPATH_MAX];
	struct pfc_volkeys *vk = NULL;
	struct pfc_ks *ks = NULL;
	struct cli_vol v;
	int r;

	if ((r = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return r;
	if (argc - optind != (backing ? 1 : 2))
		return cli_usage("path", "%s", syn.expected);
	if (backing && (r = cli_backing_split(argv[optind], root, sizeof(root), rel, sizeof(rel))))
		return r;
	if ((r = cli_vol_open(backing ? root : argv[optind], &v)))
		return r;
	if ((r = cli_ks_open(&ks)) == 0 && (r = cli_vol_keys(&v, ks, &vk)) == 0)
		r = backing ? to_plain(&v, vk, rel) : to_backing(&v, vk, argv[optind + 1]);
	pfc_volkeys_free(vk);
	pfc_ks_close(ks);
	cli_vol_close(&v);
	return r;
}
