// SPDX-License-Identifier: MIT
/*
 * cmd_mount.c - pfcrypt mount / umount.  mount runs the FUSE daemon
 * pfcryptfs (env PFCRYPT_FS_BIN, next to pfcrypt, then PATH); umount runs
 * fusermount3 -u, falling back to umount(2) when we are root.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/cmds.h"
#include "tools/opts.h"

static const char mount_help[] =
    "Usage: pfcrypt mount BACKING MNT [-f] [-o OPTS] [--socket PATH]\n\n"
    "Mount the volume in BACKING at MNT by running pfcryptfs (found through env\n"
    "PFCRYPT_FS_BIN, next to pfcrypt, then PATH).  The keystore must be running and\n"
    "unlocked: the volume's name key is unwrapped at mount time.\n\n"
    "  -f            stay in the foreground (pfcryptfs does not daemonise)\n"
    "  -o OPTS       FUSE mount options passed to pfcryptfs\n"
    "  --socket PATH keystore socket (env PFCRYPT_SOCKET)\n"
    "  -h, --help    this text\n\n"
    "Exit: 0 mounted, 2 could not mount (the daemon's own message says why).\n";

static const char umount_help[] = "Usage: pfcrypt umount MNT\n\n"
				  "Unmount a pfcrypt volume (fusermount3 -u; umount(2) as root).\n"
				  "Exit: 0 unmounted, 2 could not unmount.\n";

/* fork + exec + wait; returns the child's exit status, or -1 if it could not run. */
static int run(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st) == 127 ? -1 : WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int cmd_mount(int argc, char **argv)
{
	const char *opts = NULL;
	bool fg = false;
	const struct cli_opt own[] = {
	    {.short_name = 'f', .flag = &fg}, {.short_name = 'o', .str = &opts}, {0}};
	const struct cli_syntax syn = {.cmd = "mount",
				       .help = mount_help,
				       .opts = own,
				       .nargs = 2,
				       .expected = "expected BACKING and MNT"};
	char *bin, *args[12];
	int n = 0, st;

	if ((st = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return st;
	bin = cli_find_program("pfcryptfs", "PFCRYPT_FS_BIN");
	if (!bin) {
		cli_err("pfcryptfs",
			"program not found (next to pfcrypt, in PATH or PFCRYPT_FS_BIN)");
		return CLI_EXIT_SETUP;
	}
	args[n++] = bin;
	args[n++] = argv[optind];
	args[n++] = argv[optind + 1];
	if (fg)
		args[n++] = "-f";
	if (opts) {
		args[n++] = "-o";
		args[n++] = (char *)opts;
	}
	if (cli_g.socket) {
		args[n++] = "--socket";
		args[n++] = (char *)cli_g.socket;
	}
	args[n] = NULL;
	if (fg) {
		execv(bin, args);
		cli_err(bin, "cannot run: %s", strerror(errno));
		free(bin);
		return CLI_EXIT_SETUP;
	}
	st = run(args);
	if (st < 0)
		cli_err(bin, "cannot run: %s", strerror(errno));
	free(bin);
	return st == 0 ? CLI_EXIT_OK : CLI_EXIT_SETUP;
}

int cmd_umount(int argc, char **argv)
{
	const struct cli_syntax syn = {.cmd = "umount",
				       .help = umount_help,
				       .nargs = 1,
				       .expected = "expected MNT",
				       .no_socket = true};
	char *bin, *args[4];
	int st = -1, r;

	if ((r = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return r;
	bin = cli_find_program("fusermount3", NULL);
	if (bin) {
		args[0] = bin;
		args[1] = "-u";
		args[2] = argv[optind];
		args[3] = NULL;
		st = run(args);
		free(bin);
	}
	if (st != 0 && geteuid() == 0) {
		if (umount2(argv[optind], 0) == 0)
			return CLI_EXIT_OK;
		cli_err(argv[optind], "cannot unmount: %s", strerror(errno));
		return CLI_EXIT_SETUP;
	}
	if (st != 0) {
		cli_err(argv[optind], "cannot unmount (fusermount3 -u failed)");
		return CLI_EXIT_SETUP;
	}
	return CLI_EXIT_OK;
}
