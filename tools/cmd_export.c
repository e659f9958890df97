// SPDX-License-Identifier: MIT
/*
 * cmd_export.c - pfcrypt export / import: move master-key versions between
 * keystores in a bundle encrypted under its own passphrase (Argon2id, see
 * keystore/PROTOCOL.md).  The bundle is written 0600 and never overwrites.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "keystore/client.h"
#include "tools/cli.h"
#include "tools/cmds.h"

#define BUNDLE_MAX   (16u << 20) /* far above any real bundle; refuses garbage */
#define VERSIONS_MAX 256

static const char export_help[] =
    "Usage: pfcrypt export --key NAME [--versions 1,2,...] -o FILE\n"
    "                      [--export-passphrase-file F] [--socket PATH]\n\n"
    "Write master key NAME (all non-retired versions, or the listed ones) to FILE\n"
    "(created 0600; an existing FILE is never overwritten), encrypted under an\n"
    "export passphrase (asked twice on the terminal, or read from F).  Without\n"
    "that passphrase the bundle is useless.\n\n"
    "Exit: 0 written, 2 error.\n";

static const char import_help[] =
    "Usage: pfcrypt import FILE [--export-passphrase-file F] [--socket PATH]\n\n"
    "Add the master-key versions of a bundle made by 'pfcrypt export' to the\n"
    "keystore.  Versions already present with the same bytes are skipped; a\n"
    "conflicting or locally retired version fails the whole import.\n\n"
    "Exit: 0 imported, 2 error (wrong passphrase, conflict, ...).\n";

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

int cmd_export(int argc, char **argv)
{
	enum { O_KEY = 0x2000, O_VERS, O_EPF };
	static const struct option lo[] = {
	    {"socket", required_argument, NULL, CLI_OPT_SOCKET},
	    {"key", required_argument, NULL, O_KEY},
	    {"versions", required_argument, NULL, O_VERS},
	    {"export-passphrase-file", required_argument, NULL, O_EPF},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	struct cli_pass_src src = {.fd = -1};
	const char *key = NULL, *file = NULL;
	uint32_t vers[VERSIONS_MAX];
	size_t nvers = 0, plen, blen = 0;
	struct pfc_ks *ks = NULL;
	uint8_t *bundle = NULL;
	char *pass = NULL;
	int c, r, fd = -1, ret = CLI_EXIT_SETUP;

	optind = 0;
	while ((c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
		switch (c) {
		case CLI_OPT_SOCKET:
			cli_g.socket = optarg;
			break;
		case O_KEY:
			key = optarg;
			break;
		case O_VERS:
			if (parse_versions(optarg, vers, &nvers))
				return cli_usage("export", "--versions wants numbers like 1,2");
			break;
		case O_EPF:
			src.file = optarg;
			break;
		case 'o':
			file = optarg;
			break;
		case 'h':
			return cli_help(export_help);
		default:
			return cli_usage("export", "bad option");
		}
	}
	if (!key || !file || optind != argc)
		return cli_usage("export", "expected --key NAME -o FILE");
	if (cli_read_pass(&src, "Export passphrase: ", true, &pass, &plen))
		return CLI_EXIT_SETUP;
	if (cli_ks_open(&ks))
		goto out;
	r = pfc_ks_export(ks, key, vers, nvers, pass, plen, &bundle, &blen);
	if (r < 0) {
		char what[64];

		snprintf(what, sizeof(what), "master key %s", key);
		cli_ks_err(ks, what, r);
		goto out;
	}
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		cli_err(file, "cannot create: %s", strerror(errno));
		goto out;
	}
	if (write_all(fd, bundle, blen) < 0 || fsync(fd) < 0) {
		cli_err(file, "cannot write: %s", strerror(errno));
		unlink(file);
		goto out;
	}
	printf("exported %s to %s\n", key, file);
	ret = CLI_EXIT_OK;
out:
	if (fd >= 0)
		close(fd);
	if (bundle)
		pfc_ks_bundle_free(bundle);
	cli_pass_free(pass);
	pfc_ks_close(ks);
	return ret;
}

int cmd_import(int argc, char **argv)
{
	enum { O_EPF = 0x2000 };
	static const struct option lo[] = {
	    {"socket", required_argument, NULL, CLI_OPT_SOCKET},
	    {"export-passphrase-file", required_argument, NULL, O_EPF},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	struct cli_pass_src src = {.fd = -1};
	struct pfc_ks *ks = NULL;
	uint8_t *bundle = NULL;
	size_t blen = 0, plen;
	uint32_t imported = 0;
	char *pass = NULL;
	int c, r, ret = CLI_EXIT_SETUP;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case CLI_OPT_SOCKET:
			cli_g.socket = optarg;
			break;
		case O_EPF:
			src.file = optarg;
			break;
		case 'h':
			return cli_help(import_help);
		default:
			return cli_usage("import", "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("import", "expected FILE");
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
