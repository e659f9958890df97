// SPDX-License-Identifier: MIT
/*
 * ks_help.c - the --help of each "pfcrypt keystore SUBCOMMAND" (the whole
 * list, "pfcrypt keystore --help", is in cmd_keystore.c).
 */
#include <string.h>

#include "tools/ks_cmd.h"

#define KS_PASS_HELP                                                                               \
	"PASS, the first given of: --passphrase-fd N | --passphrase-file F |\n"                    \
	"      --extpass CMD (see 'pfcrypt keystore --help') | a file named by env\n"              \
	"      PFCRYPT_PASSPHRASE_FILE | a prompt on the terminal (no echo).\n"

#define KS_COMMON_HELP                                                                             \
	"  --socket PATH   keystore socket (env PFCRYPT_SOCKET)\n"                                 \
	"  -q, --quiet     no line on success\n"                                                   \
	"  -h, --help      this text\n"

static const struct {
	const char *sub, *help;
} helps[] = {
    {"init",
     "Usage: pfcrypt keystore init [--store FILE] [--kdf-profile P] [--start [--log-file F]]\n"
     "                             [PASS]\n\n"
     "Create a new empty key store.  On a terminal the passphrase is typed twice (asked\n"
     "again when the two differ); one under 10 characters is used only after a warning\n"
     "and a yes.\n\n"
     "  --store FILE       the store file (default $XDG_CONFIG_HOME/pfcrypt/keystore)\n"
     "  --kdf-profile P    Argon2id cost: interactive, moderate (default), sensitive\n"
     "  --start            then start the keystore on it with the same passphrase\n"
     "  --log-file F       (with --start) the daemon logs to F\n" KS_COMMON_HELP "\n" KS_PASS_HELP
     "Exit: 0 created (and started), 2 error.\n"},
    {"start", "Usage: pfcrypt keystore start [--store FILE] [--locked] [--log-file F] [PASS]\n"
	      "                              [-- DAEMON-ARGS]\n\n"
	      "Start pfcrypt-keystore in the background; prints 'keystore started (pid N) on\n"
	      "SOCKET' once it answers.\n\n"
	      "  --store FILE     the store file\n"
	      "  --locked         start locked (no passphrase now; 'pfcrypt keystore unlock')\n"
	      "  --log-file F     the daemon logs to F\n" KS_COMMON_HELP "\n" KS_PASS_HELP
	      "Exit: 0 started, 2 error.\n"},
    {"stop", "Usage: pfcrypt keystore stop\n\n"
	     "Stop the pfcrypt-keystore serving the socket (SIGTERM, then wait for it);\n"
	     "prints 'keystore stopped (pid N) on SOCKET'.\n\n" KS_COMMON_HELP
	     "\nExit: 0 stopped, 2 error.\n"},
    {"status", "Usage: pfcrypt keystore status [--json]\n\n"
	       "Whether the keystore answers, is locked, and its keys and versions.\n\n"
	       "  --json          one JSON object, also when the keystore cannot be reached\n"
	       "                  (\"reachable\": false and \"error\")\n" KS_COMMON_HELP
	       "\nExit: 0 reachable, 2 not reachable (the JSON still printed).\n"},
    {"lock", "Usage: pfcrypt keystore lock\n\n"
	     "Wipe every key from the keystore's memory; prints 'keystore locked on SOCKET'.\n"
	     "\n" KS_COMMON_HELP "\nExit: 0 locked, 2 error.\n"},
    {"unlock", "Usage: pfcrypt keystore unlock [PASS]\n\n"
	       "Decrypt the store again; prints 'keystore unlocked on SOCKET'.\n\n" KS_COMMON_HELP
	       "\n" KS_PASS_HELP "Exit: 0 unlocked, 2 error (wrong passphrase, ...).\n"},
    {"passwd", "Usage: pfcrypt keystore passwd [PASS] [--new-passphrase-file F]\n\n"
	       "Change the store passphrase (the new one is asked twice on a terminal);\n"
	       "prints 'keystore passphrase changed on SOCKET'.\n\n"
	       "  --new-passphrase-file F   the new passphrase from F\n" KS_COMMON_HELP
	       "\n" KS_PASS_HELP "Exit: 0 changed, 2 error.\n"},
};

const char *ks_sub_help(const char *sub, const char *all)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (!strcmp(sub, helps[i].sub))
			return helps[i].help;
	return all;
}
