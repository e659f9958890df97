// SPDX-License-Identifier: MIT
/*
 * cmd_init.c - pfcrypt init BACKING: a new volume in an empty directory.
 *
 * Order matters for a crash: the root directory id is written first and the
 * config last (atomically, by pfc_config_store), so a directory holding a
 * config is always a complete volume; an interrupted init leaves only the
 * dirid file, which the next init refuses like any non-empty directory
 * (delete it and retry).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/format.h"
#include "keystore/client.h"
#include "tools/cli.h"
#include "tools/cmds.h"
#include "tools/opts.h"
#include "tools/vol.h"

#define DEFAULT_KEY_NAME "default"

static const char init_help[] =
    "Usage: pfcrypt init BACKING [--key NAME] [--cipher aes256gcm|xchacha20poly1305]\n"
    "                    [--block-size N] [--no-holes] [--socket PATH]\n\n"
    "Create a volume in BACKING (created if missing; it must be empty).  The master\n"
    "key NAME (default \"" DEFAULT_KEY_NAME "\") is created in the keystore if it is new;\n"
    "a random volume name key is wrapped under it and stored in the volume config.\n\n"
    "  --key NAME        master key (1..32 of A-Z a-z 0-9 . _ -)\n"
    "  --cipher C        default: aes256gcm where this CPU has AES-NI, else\n"
    "                    xchacha20poly1305 (measured: tests/bench/bench_format.c)\n"
    "  --block-size N    plaintext bytes per block, power of two 4096..1048576\n"
    "                    (default 4096)\n"
    "  --no-holes        an all-zero stored block is an error instead of a hole\n"
    "  --socket PATH     keystore socket (env PFCRYPT_SOCKET)\n\n"
    "Exit: 0 created, 2 refused (not empty, already a volume) or failed.\n";

/* 0 if empty, 1 if not, -errno. */
static int dir_state(int fd)
{
	int dfd = dup(fd);
	DIR *d;
	struct dirent *de;
	int ret = 0;

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		ret = -errno;
		if (dfd >= 0)
			close(dfd);
		return ret;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			ret = 1;
			break;
		}
	closedir(d);
	return ret;
}

static int opt_cipher(const char *cmd, const char *arg, void *dest)
{
	if (pfc_cipher_parse(arg, dest) < 0)
		return cli_usage(cmd, "unknown cipher '%s'", arg);
	return 0;
}

static int opt_block_size(const char *cmd, const char *arg, void *dest)
{
	unsigned long *bs = dest;

	if (cli_parse_uint(arg, PFC_BLOCK_SIZE_MIN, PFC_BLOCK_SIZE_MAX, bs) || (*bs & (*bs - 1)))
		return cli_usage(cmd, "block size must be a power of two from 4096 to 1048576");
	return 0;
}

/* Create BACKING if missing and open it; refused unless it is empty.  0 or CLI_EXIT_SETUP. */
static int open_empty(const char *path, const char *cfgpath, int *out)
{
	int fd, r;

	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		cli_err(path, "cannot create: %s", strerror(errno));
		return CLI_EXIT_SETUP;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		cli_err(path, "cannot open: %s", strerror(errno));
		return CLI_EXIT_SETUP;
	}
	if (faccessat(fd, PFC_CONFIG_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		cli_err(cfgpath, "already a pfcrypt volume");
		close(fd);
		return CLI_EXIT_SETUP;
	}
	r = dir_state(fd);
	if (r != 0) {
		if (r > 0)
			cli_err(path, "not empty (a volume is created in an empty directory)");
		else
			cli_err(path, "cannot read: %s", strerror(-r));
		close(fd);
		return CLI_EXIT_SETUP;
	}
	*out = fd;
	return 0;
}

/*
 * A sealed config for a new volume: a random name key wrapped under master
 * key `key` (created first if it is new).  0 or CLI_EXIT_SETUP.
 */
static int build_config(struct pfc_ks *ks, const char *path, enum pfc_cipher cipher,
			unsigned long bs, uint32_t flags, const char *key, struct pfc_config *cfg)
{
	struct pfc_volkeys *vk = NULL;
	uint8_t *nk = NULL, ad[PFC_AD_MAX], blob[PFC_WRAPPED_MAX];
	size_t blob_len, ad_len;
	int r, ret = CLI_EXIT_SETUP;

	r = pfc_ks_create_key(ks, key);
	if (r < 0 && r != PFC_ERR_EXISTS)
		return cli_ks_fail(ks, r, "master key %s", key);
	r = pfc_config_init(cfg, cipher, (uint32_t)bs, flags, key);
	if (r < 0) {
		cli_err(path, "%s", pfc_strerror(r));
		return CLI_EXIT_SETUP;
	}
	nk = sodium_malloc(PFC_KEY_BYTES);
	if (!nk) {
		cli_err(path, "cannot allocate locked memory");
		return CLI_EXIT_SETUP;
	}
	randombytes_buf(nk, PFC_KEY_BYTES);
	ad_len = pfc_ad_name_key(cfg->volume_id, ad);
	r = pfc_ks_wrap(ks, key, ad, ad_len, nk, blob, &blob_len);
	if (r < 0) {
		cli_ks_err(ks, "wrapping the volume name key", r);
		goto out;
	}
	if ((r = pfc_config_set_wrapped(cfg, blob, blob_len)) < 0 ||
	    (r = pfc_volkeys_new(nk, cfg->volume_id, &vk)) < 0 ||
	    (r = pfc_config_seal(cfg, vk)) < 0) {
		cli_err(path, "building the config: %s", pfc_strerror(r));
		goto out;
	}
	ret = 0;
out:
	sodium_memzero(nk, PFC_KEY_BYTES);
	sodium_free(nk);
	pfc_volkeys_free(vk);
	return ret;
}

/* The root directory id first, the config last (see the top).  0 or CLI_EXIT_SETUP. */
static int write_volume(int fd, const char *path, const char *cfgpath, const struct pfc_config *cfg)
{
	uint8_t dirid[PFC_ID_BYTES];
	int r;

	r = pfc_dirid_create(fd, dirid, NULL);
	if (r < 0) {
		cli_err(path, "cannot create %s: %s", PFC_DIRID_NAME,
			r == PFC_ERR_IO ? strerror(errno) : pfc_strerror(r));
		return CLI_EXIT_SETUP;
	}
	r = pfc_config_store(fd, cfg);
	if (r < 0) {
		cli_err(cfgpath, "cannot write: %s",
			r == PFC_ERR_IO ? strerror(errno) : pfc_strerror(r));
		return CLI_EXIT_SETUP;
	}
	return 0;
}

int cmd_init(int argc, char **argv)
{
	const char *key = DEFAULT_KEY_NAME, *path;
	enum pfc_cipher cipher = pfc_cipher_default();
	unsigned long bs = PFC_BLOCK_SIZE_DEFAULT;
	bool no_holes = false;
	const struct cli_opt opts[] = {{.name = "key", .str = &key},
				       {.name = "cipher", .call = opt_cipher, .dest = &cipher},
				       {.name = "block-size", .call = opt_block_size, .dest = &bs},
				       {.name = "no-holes", .flag = &no_holes},
				       {0}};
	const struct cli_syntax syn = {.cmd = "init",
				       .help = init_help,
				       .opts = opts,
				       .nargs = 1,
				       .expected = "expected BACKING"};
	struct pfc_config cfg;
	struct pfc_ks *ks = NULL;
	char cfgpath[4096], hex[2 * PFC_ID_BYTES + 1];
	int r, fd = -1;

	if ((r = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return r;
	path = argv[optind];
	snprintf(cfgpath, sizeof(cfgpath), "%s/%s", path, PFC_CONFIG_NAME);
	r = pfc_ks_name_check(key, strlen(key));
	if (r < 0)
		return cli_usage("init", "bad key name '%s': %s", key, pfc_strerror(r));
	r = pfc_cipher_check(cipher);
	if (r < 0) {
		cli_err(path, "cipher %s: %s", pfc_cipher_name(cipher), pfc_strerror(r));
		return CLI_EXIT_SETUP;
	}
	if ((r = open_empty(path, cfgpath, &fd)))
		return r;
	r = cli_ks_open(&ks);
	if (!r)
		r = build_config(ks, path, cipher, bs, no_holes ? PFC_CONFIG_FLAG_NO_HOLES : 0, key,
				 &cfg);
	if (!r)
		r = write_volume(fd, path, cfgpath, &cfg);
	if (!r) {
		cli_hex_id(cfg.volume_id, hex);
		printf("created volume %s in %s (cipher %s, block size %u, master key %s)\n", hex,
		       path, pfc_cipher_name(cipher), (unsigned)bs, key);
	}
	pfc_ks_close(ks);
	close(fd);
	return r;
}
