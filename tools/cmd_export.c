// SPDX-License-Identifier: MIT
/*
 * cmd_export.c - pfcrypt export / import: move master-key versions between
 * keystores in a bundle encrypted under its own passphrase (Argon2id, see
 * keystore/PROTOCOL.md).  The bundle is written 0600 and never overwrites.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "keystore/client.h"
#include "tools/cli.h"
#include "tools/cmds.h"
#include "tools/opts.h"

#define BUNDLE_MAX   (16u << 20) /* far above any real bundle; refuses garbage */
#define VERSIONS_MAX 256

static const char export_help[] =
    "Usage: pfcrypt export --key NAME [--versions 1,2,...] -o FILE\n"
    "                      [--export-passphrase-file F] [--kdf-profile P] [PASS]\n"
    "                      [--socket PATH]\n\n"
    "Write master key NAME (all non-retired versions, or the listed ones) to FILE\n"
    "(created 0600; an existing FILE is never overwritten), encrypted under an\n"
    "export passphrase (asked twice on the terminal, or read from F).  Without\n"
    "that passphrase the bundle is useless.  The keystore hands keys out only with\n"
    "proof of its own passphrase (PASS, as for 'pfcrypt keystore unlock':\n"
    "--passphrase-fd N | --passphrase-file F | --extpass CMD |\n"
    "env PFCRYPT_PASSPHRASE_FILE | the terminal).\n\n"
    "  --kdf-profile P  the bundle's Argon2id cost, whatever the keystore's:\n"
    "                   interactive, moderate (default), sensitive, or test\n"
    "                   (INSECURE: test suites only)\n\n"
    "Exit: 0 written, 2 error.\n";

/* The profiles of keystore/PROTOCOL.md section 7, checked before asking for
 * the passphrase (the keystore checks again). */
static const char *const kdf_profiles[] = {"test", "interactive", "moderate", "sensitive"};

static const char import_help[] =
    "Usage: pfcrypt import FILE [--export-passphrase-file F] [--socket PATH]\n\n"
    "Add the master-key versions of a bundle made by 'pfcrypt export' to the\n"
    "keystore.  Versions already present with the same bytes are skipped; a\n"
    "conflicting or locally retired version fails the whole import.\n\n"
    "Exit: 0 imported, 2 error (wrong passphrase, conflict, ...).\n";

struct versions {
	uint32_t v[VERSIONS_MAX];
	size_t n;
};

static int parse_versions(const char *s, uint32_t *out, size_t *n)
{
	char *copy = strdup(s), *save = NULL;
	int ret = 0;

	*n = 0;
	if (!copy)
		return -1;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned long v;

		if (*n == VERSIONS_MAX || cli_parse_uint(t, 1, UINT32_MAX, &v)) {
			ret = -1;
			break;
		}
		out[(*n)++] = (uint32_t)v;
	}
	free(copy);
	return *n ? ret : -1;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int opt_kdf(const char *cmd, const char *arg, void *dest)
{
	for (size_t i = 0; i < sizeof(kdf_profiles) / sizeof(kdf_profiles[0]); i++) {
		if (!strcmp(arg, kdf_profiles[i])) {
			*(const char **)dest = arg;
			return 0;
		}
	}
	return cli_usage(cmd, "--kdf-profile wants interactive, moderate, sensitive or test");
}

static int opt_versions(const char *cmd, const char *arg, void *dest)
{
	struct versions *v = dest;

	if (parse_versions(arg, v->v, &v->n))
		return cli_usage(cmd, "--versions wants numbers like 1,2");
	return 0;
}

/* The bundle into a new file (0600, never over an existing one).  0 or CLI_EXIT_SETUP. */
static int write_bundle(const char *file, const uint8_t *bundle, size_t len)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0) {
		cli_err(file, "cannot create: %s", strerror(errno));
		return CLI_EXIT_SETUP;
	}
	if (write_all(fd, bundle, len) < 0 || fsync(fd) < 0) {
		cli_err(file, "cannot write: %s", strerror(errno));
		unlink(file);
		close(fd);
		return CLI_EXIT_SETUP;
	}
	close(fd);
	return 0;
}

/* Ask the keystore for the bundle (at the cost of KDF profile kdf, NULL: the
 * default for bundles), with proof of its passphrase from src. */
static int ask(const struct cli_pass_src *src, const char *key, const struct versions *vers,
	       const char *pass, size_t plen, const char *kdf, uint8_t **bundle, size_t *blen)
{
	struct pfc_ks *ks = NULL;
	char *proof = NULL;
	size_t prlen;
	int r;

	if (cli_read_pass(src, "Keystore passphrase: ", false, &proof, &prlen))
		return CLI_EXIT_SETUP;
	r = cli_ks_open(&ks);
	if (!r) {
		pfc_ks_set_proof(ks, proof, prlen);
		r = pfc_ks_export(ks, key, vers->v, vers->n, pass, plen, kdf, bundle, blen);
		r = r < 0 ? cli_ks_fail(ks, r, "master key %s", key) : 0;
	}
	pfc_ks_close(ks);
	cli_pass_free(proof);
	return r;
}

int cmd_export(int argc, char **argv)
{
	struct cli_pass_src src = {.fd = -1}, store = CLI_PASS_SRC_INIT;
	const char *key = NULL, *file = NULL, *kdf = NULL;
	struct versions vers = {.n = 0};
	const struct cli_opt opts[] = {
	    {.name = "key", .str = &key, .required = true},
	    {.name = "kdf-profile", .call = opt_kdf, .dest = &kdf},
	    {.name = "versions", .call = opt_versions, .dest = &vers},
	    {.name = "export-passphrase-file", .str = &src.file},
	    {.name = "output", .short_name = 'o', .str = &file, .required = true},
	    CLI_OPTS_PASS(&store),
	    {0}};
	const struct cli_syntax syn = {.cmd = "export",
				       .help = export_help,
				       .opts = opts,
				       .nargs = 0,
				       .expected = "expected --key NAME -o FILE"};
	uint8_t *bundle = NULL;
	size_t plen, blen = 0;
	char *pass = NULL;
	int r;

	if ((r = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return r;
	if (cli_read_pass(&src, "Export passphrase: ", true, &pass, &plen))
		return CLI_EXIT_SETUP;
	r = ask(&store, key, &vers, pass, plen, kdf, &bundle, &blen);
	if (!r)
		r = write_bundle(file, bundle, blen);
	if (!r)
		printf("exported %s to %s\n", key, file);
	if (bundle)
		pfc_ks_bundle_free(bundle);
	cli_pass_free(pass);
	return r;
}

int cmd_import(int argc, char **argv)
{
	struct cli_pass_src src = {.fd = -1};
	const struct cli_opt opts[] = {{.name = "export-passphrase-file", .str = &src.file}, {0}};
	const struct cli_syntax syn = {.cmd = "import",
				       .help = import_help,
				       .opts = opts,
				       .nargs = 1,
				       .expected = "expected FILE"};
	struct pfc_ks *ks = NULL;
	uint8_t *bundle = NULL;
	size_t blen = 0, plen;
	uint32_t imported = 0;
	char *pass = NULL;
	int r, ret = CLI_EXIT_SETUP;

	if ((r = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return r;
	r = cli_read_file(argv[optind], BUNDLE_MAX, &bundle, &blen);
	if (r < 0) {
		cli_err(argv[optind], "cannot read: %s", strerror(-r));
		return CLI_EXIT_SETUP;
	}
	if (cli_read_pass(&src, "Export passphrase of the bundle: ", false, &pass, &plen))
		goto out;
	if (cli_ks_open(&ks))
		goto out;
	r = pfc_ks_import(ks, bundle, blen, pass, plen, &imported);
	if (r < 0) {
		cli_ks_err(ks, argv[optind], r);
		goto out;
	}
	printf("imported %u versions from %s\n", imported, argv[optind]);
	ret = CLI_EXIT_OK;
out:
	cli_pass_free(pass);
	if (bundle) {
		sodium_memzero(bundle, blen);
		free(bundle);
	}
	pfc_ks_close(ks);
	return ret;
}
