// SPDX-License-Identifier: MIT
/* main.c - pfcrypt: global options, then one subcommand (one cmd_*.c file each). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "tools/cli.h"
#include "tools/cmds.h"

static const struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} cmds[] = {
    {"keystore", cmd_keystore, "manage the keystore daemon (init, start, stop, status, ...)"},
    {"init", cmd_init, "create a volume in an empty backing directory"},
    {"mount", cmd_mount, "mount a volume (runs pfcryptfs)"},
    {"umount", cmd_umount, "unmount a mounted volume"},
    {"status", cmd_status, "volume settings and files per master-key version"},
    {"rotate", cmd_rotate, "make a new primary version of a master key"},
    {"rewrap", cmd_rewrap, "rewrap every file key of a volume under the primary version"},
    {"retire", cmd_retire, "destroy a master-key version (crypto-shredding)"},
    {"check", cmd_check, "verify a volume: headers, blocks, names, companions"},
    {"export", cmd_export, "export master-key versions to a passphrase-protected bundle"},
    {"import", cmd_import, "import a bundle made by export"},
    {"path", cmd_path, "map a plaintext path to its backing path and back"},
    {"salvage", cmd_salvage, "copy out what is readable of a damaged file"},
};

static int usage(FILE *f)
{
	fputs("Usage: pfcrypt [-q] [--socket PATH] COMMAND [ARGS...]\n"
	      "       pfcrypt COMMAND --help\n\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].summary);
	fputs("\nOptions:\n"
	      "  --socket PATH   keystore socket (also env PFCRYPT_SOCKET; every command that\n"
	      "                  talks to the keystore also takes it after the command name)\n"
	      "  -q, --quiet     no line saying what was done (mounted, unmounted, keystore\n"
	      "                  started, stopped, locked, unlocked, passphrase changed);\n"
	      "                  errors still print.  Also taken after the command name\n"
	      "  -h, --help, --version\n\n"
	      "Exit codes: 0 ok; 1 check found problems, retire refused, rewrap left files;\n"
	      "2 usage or setup error, and every other refusal (init of a directory that is\n"
	      "not empty, mount of an unsafe mountpoint).\n",
	      f);
	return f == stdout ? CLI_EXIT_OK : CLI_EXIT_SETUP;
}

static void find_self_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	char *slash;

	if (n <= 0)
		return;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return;
	*slash = '\0';
	snprintf(cli_g.self_dir, sizeof(cli_g.self_dir), "%s", buf);
}

int main(int argc, char **argv)
{
	int i = 1;

	if (sodium_init() < 0) {
		cli_err(NULL, "libsodium failed to initialise");
		return CLI_EXIT_SETUP;
	}
	find_self_dir();
	cli_g.socket = getenv("PFCRYPT_SOCKET");
	if (cli_g.socket && !*cli_g.socket)
		cli_g.socket = NULL;
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return usage(stdout);
		if (!strcmp(argv[i], "--version")) {
			printf("pfcrypt %s\n", PFC_VERSION);
			return CLI_EXIT_OK;
		}
		if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
			cli_g.quiet = true;
			i++;
			continue;
		}
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			cli_g.socket = argv[i + 1];
			i += 2;
			continue;
		}
		if (!strncmp(argv[i], "--socket=", 9)) {
			cli_g.socket = argv[i] + 9;
			i++;
			continue;
		}
		fprintf(stderr, "pfcrypt: unknown option %s (try 'pfcrypt --help')\n", argv[i]);
		return CLI_EXIT_SETUP;
	}
	if (i >= argc)
		return usage(stderr);
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
		if (!strcmp(argv[i], cmds[c].name))
			return cmds[c].fn(argc - i, argv + i);
	fprintf(stderr, "pfcrypt: unknown command '%s' (try 'pfcrypt --help')\n", argv[i]);
	return CLI_EXIT_SETUP;
}
