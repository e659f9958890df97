// SPDX-License-Identifier: MIT
/*
 * cmd_retire.c - pfcrypt retire --key NAME --version N [--force] BACKING...
 *
 * Retiring destroys the version's key bytes in the keystore: every copy of a
 * file still wrapped under it (backups, a sync client's history) becomes
 * unreadable forever.  So the CLI first looks at the live volumes named on
 * the command line (headers and the config's wrapped name key, no key
 * needed) and refuses while any is still under N, naming a few files.  The
 * keystore does not know which volumes exist, so BACKING paths are required
 * unless --force says to skip the check.  A mounted pfcryptfs may hold file
 * keys it pre-generated (in a batch, before the rotation) under N, and files
 * it creates with them after the retirement would be unreadable once it
 * restarts: the keystore refuses that itself (PROTOCOL.md 2.2: no client
 * still connected or running uses N), so a mount is refused only through
 * that check, never for being mounted (an unrelated volume may be).  --force
 * skips both checks.  The primary version is never retired, forced or not:
 * said first, without offering --force.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/err.h"
#include "keystore/client.h"
#include "tools/census.h"
#include "tools/cli.h"
#include "tools/cmds.h"
#include "tools/opts.h"
#include "tools/vol.h"

#define DEFAULT_DELAY (7u * 86400u) /* the grace period without --after or --now */

static const char retire_help[] =
    "Usage: pfcrypt retire --key NAME --version N [--after D | --now] [--force]\n"
    "                      BACKING... [PASS] [--socket PATH]\n\n"
    "Destroy version N of master key NAME in the keystore (crypto-shredding): a\n"
    "header still wrapped under it, in a volume, a backup or a sync history, no\n"
    "longer opens.  That shreds old copies of files since deleted, replaced (saved\n"
    "by rename) or emptied (truncated to 0: a new file key); it does NOT shred old\n"
    "versions of a file edited in place: 'rewrap' keeps its file key, so its live\n"
    "header opens its older copies' blocks (README \"Threat model\").\n\n"
    "The destruction is scheduled, 7 days from now unless --after says otherwise;\n"
    "meanwhile nothing unwraps under N (the error says so) and 'pfcrypt keystore\n"
    "cancel-retire --key NAME --version N' restores it.\n\n"
    "Refused while a volume given as BACKING still has files (or its name key)\n"
    "under NAME vN: run 'pfcrypt rewrap BACKING' first.  Give every volume that\n"
    "uses NAME; without BACKING only --force retires.  The primary version cannot\n"
    "be retired (rotate first).  The keystore itself refuses while a client that\n"
    "wrapped or unwrapped under N is still connected or running (a mounted\n"
    "pfcryptfs), and asks for proof of its passphrase (PASS, as for 'pfcrypt\n"
    "keystore unlock': --passphrase-fd N | --passphrase-file F | --extpass CMD |\n"
    "env PFCRYPT_PASSPHRASE_FILE | the terminal).\n\n"
    "  --after D      destroy after D: a number with unit s, m, h or d (default 7d,\n"
    "                 at most 365d)\n"
    "  --now          destroy now: no grace period, no way back\n"
    "  --force        retire without checking (or despite live files or such a client)\n\n"
    "Exit: 0 retired or scheduled, 1 refused (live files listed, the primary, or\n"
    "in use by a client), 2 error.\n";

/* Number of live objects under (key, ver) in the volume at path; -1 on error. */
static long live_under(const char *path, const char *key, uint32_t ver)
{
	struct cli_vol v;
	struct census cen;
	const struct census_entry *e;
	long n = 0;

	if (cli_vol_open(path, &v))
		return -1;
	if (census_take(&v, &cen)) {
		cli_vol_close(&v);
		return -1;
	}
	if (!strcmp(cen.cfg_name, key) && cen.cfg_version == ver) {
		char full[4200];

		snprintf(full, sizeof(full), "%s/%s", path, PFC_CONFIG_NAME);
		cli_err(full, "the volume name key is still wrapped under %s v%u", key, ver);
		n++;
	}
	e = census_find(&cen, key, ver);
	if (e) {
		for (size_t i = 0; i < e->nexamples; i++) {
			char full[4200];

			snprintf(full, sizeof(full), "%s/%s", path, e->examples[i]);
			cli_err(full, "still wrapped under %s v%u", key, ver);
		}
		if (e->files > e->nexamples)
			cli_err(path, "... and %zu more files under %s v%u",
				e->files - e->nexamples, key, ver);
		n += (long)e->files;
	}
	census_free(&cen);
	cli_vol_close(&v);
	return n;
}

/*
 * The live objects under (key, ver) in the volumes, and those mounted (each
 * reported).  0 and the counts, or CLI_EXIT_SETUP.
 */
static int survey(char **paths, int n, const char *key, unsigned long ver, long *live)
{
	for (int i = 0; i < n; i++) {
		char mnt[PATH_MAX];
		long k = live_under(paths[i], key, (uint32_t)ver);

		if (k < 0)
			return CLI_EXIT_SETUP;
		*live += k;
		/* A mount matters only with files under N: its pfcryptfs may also
		 * hold keys pre-generated under N, which the keystore's own check
		 * (a client still connected that used N) refuses anyway. */
		if (k > 0 && cli_volume_mounted(paths[i], mnt, sizeof(mnt)))
			cli_err(paths[i], "mounted at %s: unmount it, then 'pfcrypt rewrap %s'",
				mnt, paths[i]);
	}
	return 0;
}

/*
 * The version must exist and not be the primary: that refusal is the
 * keystore's too, and --force cannot get past it, so it is said first, without
 * offering --force.  0, CLI_EXIT_PROBLEMS (refused) or CLI_EXIT_SETUP.
 */
static int check_version(const char *key, unsigned long ver)
{
	struct pfc_ks_keyinfo *l = NULL;
	struct pfc_ks *ks;
	size_t n = 0;
	int r, state = -1;

	if ((r = cli_ks_open(&ks)))
		return r;
	r = pfc_ks_list(ks, &l, &n);
	if (r < 0) {
		r = cli_ks_fail(ks, r, "master key %s", key);
		pfc_ks_close(ks);
		return r;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i].name, key) && l[i].version == ver)
			state = (int)l[i].state;
	pfc_ks_list_free(l);
	pfc_ks_close(ks);
	if (state < 0) {
		cli_err("retire", "master key %s has no version %lu in this keystore", key, ver);
		return CLI_EXIT_SETUP;
	}
	if (state == PFC_KS_PRIMARY) {
		cli_err("retire", "cannot retire the primary version (%s v%lu): rotate first", key,
			ver);
		return CLI_EXIT_PROBLEMS;
	}
	return 0;
}

/* What was done, on standard output. */
static void report(const char *key, unsigned long ver, int scheduled, uint64_t when, long live)
{
	char t[40];

	if (!scheduled) {
		printf("%s v%lu retired%s\n", key, ver,
		       live ? " (live files made unreadable: --force)" : "");
		return;
	}
	pfc_ks_fmt_time(when, t, sizeof(t));
	printf("%s v%lu scheduled for destruction at %s; until then 'pfcrypt keystore "
	       "cancel-retire --key %s --version %lu' restores it\n",
	       key, ver, t, key, ver);
}

/* Ask the keystore, with proof of its passphrase from src. */
static int ask(const struct cli_pass_src *src, const char *key, unsigned long ver, bool force,
	       uint32_t delay, long live)
{
	struct pfc_ks *ks;
	char *pass = NULL;
	uint64_t when = 0;
	size_t plen;
	int r;

	if (cli_read_pass(src, "Keystore passphrase: ", false, &pass, &plen))
		return CLI_EXIT_SETUP;
	if ((r = cli_ks_open(&ks))) {
		cli_pass_free(pass);
		return r;
	}
	pfc_ks_set_proof(ks, pass, plen);
	r = pfc_ks_retire(ks, key, (uint32_t)ver, force ? PFC_KS_RETIRE_FORCE : 0, delay, &when);
	if (r >= 0)
		report(key, ver, r, when, live);
	if (r < 0) {
		int busy = r == PFC_ERR_BUSY; /* the keystore's own check refused: exit 1 */

		cli_ks_fail(ks, r, "master key %s v%lu", key, ver);
		r = busy ? CLI_EXIT_PROBLEMS : CLI_EXIT_SETUP;
	} else {
		r = CLI_EXIT_OK;
	}
	pfc_ks_close(ks);
	cli_pass_free(pass);
	return r;
}

int cmd_retire(int argc, char **argv)
{
	struct cli_pass_src src = CLI_PASS_SRC_INIT;
	const char *key = NULL, *after = NULL;
	unsigned long ver = 0;
	uint64_t delay = DEFAULT_DELAY;
	bool force = false, now = false;
	const struct cli_opt opts[] = {{.name = "key", .str = &key, .required = true},
				       {.name = "version",
					.num = &ver,
					.min = 1,
					.max = UINT32_MAX,
					.bad = "--version wants a number >= 1",
					.required = true},
				       {.name = "force", .flag = &force},
				       {.name = "after", .str = &after},
				       {.name = "now", .flag = &now},
				       CLI_OPTS_PASS(&src),
				       {0}};
	const struct cli_syntax syn = {.cmd = "retire",
				       .help = retire_help,
				       .opts = opts,
				       .nargs = CLI_ARGS_ANY,
				       .expected = "expected --key NAME --version N"};
	long live = 0;
	int r;

	if ((r = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return r;
	if (after && now)
		return cli_usage("retire", "--after and --now exclude each other");
	if (after && pfc_parse_duration(after, PFC_KS_RETIRE_DELAY_MAX, &delay) < 0)
		return cli_usage("retire", "--after wants a duration like 90s, 30m, 12h or 7d (at "
					   "most 365d)");
	if (now)
		delay = 0;
	if (optind == argc && !force)
		return cli_usage("retire",
				 "name the volumes that use %s (BACKING...) so that "
				 "live files can be checked, or pass --force",
				 key);
	if ((r = check_version(key, ver)))
		return r;
	if ((r = survey(argv + optind, argc - optind, key, ver, &live)))
		return r;
	if (live && !force) {
		cli_err("retire",
			"refused: %ld live objects still under %s v%lu (rewrap them, or --force to "
			"destroy them)",
			live, key, ver);
		return CLI_EXIT_PROBLEMS;
	}
	return ask(&src, key, ver, force, (uint32_t)delay, live);
}
