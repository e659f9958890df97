// SPDX-License-Identifier: MIT
/*
 * cmd_status.c - pfcrypt status BACKING [--json]: the volume's settings, how
 * many files each master-key version wraps (headers only, no key needed) and
 * the keystore's view of those versions.  Works without a keystore (the
 * keystore part then says why it is missing).
 */
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

static const char status_help[] =
    "Usage: pfcrypt status BACKING|MNT [--json] [--socket PATH]\n\n"
    "Show the volume's settings, where it is mounted, the number of files wrapped\n"
    "under each master-key version (read from the file headers; nothing is\n"
    "decrypted), the keystore's state of each of those versions (primary, active,\n"
    "retired) and how many files are not under the primary version (to rewrap).\n"
    "The mountpoint of a mounted volume may be given instead of its BACKING.\n\n"
    "Warns (stderr, and \"warnings\" in --json) about each entry of the backing tree\n"
    "that is not part of the volume: a mount point, or a name that is not pfcrypt's\n"
    "(plaintext put there by mistake).\n\n"
    "  --json         one JSON object on stdout\n"
    "  --socket PATH  keystore socket (env PFCRYPT_SOCKET)\n\n"
    "Exit: 0 ok (also with warnings, or when the keystore cannot be asked), 2 not a\n"
    "volume or error.\n";

/* The keystore's state of (name, version), or 0 if it does not know it. */
static int ks_state(const struct pfc_ks_keyinfo *l, size_t n, const char *name, uint32_t ver)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i].name, name) && l[i].version == ver)
			return (int)l[i].state;
	return 0;
}

/* Does the volume use this key name (config or some file)? */
static bool used(const struct census *c, const char *name, const struct pfc_config *cfg)
{
	if (!strcmp(name, cfg->key_name) || !strcmp(name, c->cfg_name))
		return true;
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->e[i].name, name))
			return true;
	return false;
}

/* Files whose header is under a version that is not the primary of its key (-1: not known). */
static long not_primary(const struct census *c, const struct pfc_ks_keyinfo *l, size_t nl,
			const char *ks_error)
{
	long n = 0;

	if (ks_error)
		return -1;
	for (size_t i = 0; i < c->n; i++)
		if (ks_state(l, nl, c->e[i].name, c->e[i].version) != PFC_KS_PRIMARY)
			n += (long)c->e[i].files;
	return n;
}

static void print_json(const struct cli_vol *v, const char *mnt, const struct census *c,
		       const struct pfc_ks_keyinfo *l, size_t nl, const char *ks_error)
{
	char hex[2 * PFC_ID_BYTES + 1];
	size_t total = c->empty + c->unreadable;
	bool first = true;

	for (size_t i = 0; i < c->n; i++)
		total += c->e[i].files;
	cli_hex_id(v->cfg.volume_id, hex);
	printf("{\"backing\":");
	json_str(stdout, v->path);
	printf(",\"mounted_at\":");
	if (mnt)
		json_str(stdout, mnt);
	else
		printf("null");
	printf(",\"volume_id\":\"%s\",\"format_version\":%u,\"cipher\":\"%s\",\"block_size\":%u,"
	       "\"holes\":%s,\"key_name\":",
	       hex, v->cfg.format_version, pfc_cipher_name(v->cfg.cipher), v->cfg.block_size,
	       v->layout.zero_block_is_hole ? "true" : "false");
	json_str(stdout, v->cfg.key_name);
	printf(",\"name_key\":{\"name\":");
	json_str(stdout, c->cfg_name);
	printf(",\"version\":%u}", c->cfg_version);
	printf(",\"files\":{\"total\":%zu,\"empty\":%zu,\"unreadable\":%zu,\"not_primary\":", total,
	       c->empty, c->unreadable);
	if (not_primary(c, l, nl, ks_error) < 0)
		printf("null");
	else
		printf("%ld", not_primary(c, l, nl, ks_error));
	printf("},\"versions\":[");
	for (size_t i = 0; i < c->n; i++) {
		int s = ks_state(l, nl, c->e[i].name, c->e[i].version);

		printf("%s{\"name\":", i ? "," : "");
		json_str(stdout, c->e[i].name);
		printf(",\"version\":%u,\"files\":%zu,\"state\":", c->e[i].version, c->e[i].files);
		if (s)
			printf("\"%s\"}", cli_ks_state_name(s));
		else
			printf("null}");
	}
	printf("],\"keystore\":{\"reachable\":%s", ks_error ? "false" : "true");
	if (ks_error) {
		printf(",\"error\":");
		json_str(stdout, ks_error);
	}
	printf(",\"versions\":[");
	for (size_t i = 0; i < nl; i++) {
		if (!used(c, l[i].name, &v->cfg))
			continue;
		printf("%s{\"name\":", first ? "" : ",");
		json_str(stdout, l[i].name);
		printf(",\"version\":%u,\"state\":\"%s\"}", l[i].version,
		       cli_ks_state_name(l[i].state));
		first = false;
	}
	printf("]},\"warnings\":[");
	for (size_t i = 0; i < c->nstrays; i++) {
		char full[8300];

		snprintf(full, sizeof(full), "%s/%s", v->path, c->strays[i].path);
		printf("%s{\"backing_path\":", i ? "," : "");
		json_str(stdout, full);
		printf(",\"cause\":");
		json_str(stdout, cli_stray_cause(&c->strays[i]));
		printf("}");
	}
	printf("]}\n");
}

static void print_text(const struct cli_vol *v, const char *mnt, const struct census *c,
		       const struct pfc_ks_keyinfo *l, size_t nl, const char *ks_error)
{
	char hex[2 * PFC_ID_BYTES + 1];
	size_t total = c->empty + c->unreadable;

	for (size_t i = 0; i < c->n; i++)
		total += c->e[i].files;
	cli_hex_id(v->cfg.volume_id, hex);
	printf("volume:       %s\nvolume id:    %s\nformat:       %u\ncipher:       %s\n"
	       "block size:   %u\nholes:        %s\nmaster key:   %s\nname key:     under %s v%u\n",
	       v->path, hex, v->cfg.format_version, pfc_cipher_name(v->cfg.cipher),
	       v->cfg.block_size,
	       v->layout.zero_block_is_hole ? "all-zero blocks read as holes"
					    : "refused (all-zero blocks are errors)",
	       v->cfg.key_name, c->cfg_name, c->cfg_version);
	printf("mounted:      %s\n", mnt ? mnt : "no");
	printf("files:        %zu (%zu empty without header, %zu unreadable headers)\n", total,
	       c->empty, c->unreadable);
	for (size_t i = 0; i < c->n; i++) {
		int s = ks_state(l, nl, c->e[i].name, c->e[i].version);

		printf("  %s v%u: %zu files (%s)\n", c->e[i].name, c->e[i].version, c->e[i].files,
		       ks_error ? "keystore not asked"
		       : s	? cli_ks_state_name(s)
				: "unknown to keystore");
	}
	if (ks_error) {
		printf("keystore:     %s\n", ks_error);
		return;
	}
	if (not_primary(c, l, nl, ks_error) > 0)
		printf("rewrap:       %ld files not under the primary version: run 'pfcrypt rewrap "
		       "%s'\n",
		       not_primary(c, l, nl, ks_error), v->mnt ? v->mnt : v->path);
	printf("keystore:\n");
	for (size_t i = 0; i < nl; i++)
		if (used(c, l[i].name, &v->cfg))
			printf("  %s v%u: %s\n", l[i].name, l[i].version,
			       cli_ks_state_name(l[i].state));
}

int cmd_status(int argc, char **argv)
{
	bool json = false;
	const struct cli_opt opts[] = {{.name = "json", .flag = &json}, {0}};
	const struct cli_syntax syn = {.cmd = "status",
				       .help = status_help,
				       .opts = opts,
				       .nargs = 1,
				       .expected = "expected BACKING"};
	struct cli_vol v;
	struct census cen;
	struct pfc_ks *ks = NULL;
	struct pfc_ks_keyinfo *list = NULL;
	size_t nl = 0;
	const char *ks_error = NULL;
	char errbuf[512], mnt[PATH_MAX];
	bool mounted;
	int r;

	if ((r = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return r;
	if ((r = cli_vol_open(argv[optind], &v)))
		return r;
	if ((r = census_take(&v, &cen))) {
		cli_vol_close(&v);
		return r;
	}
	r = pfc_ks_connect(cli_g.socket, 5000, &ks);
	if (r == 0)
		r = pfc_ks_list(ks, &list, &nl);
	if (r < 0) {
		const char *why = r == PFC_ERR_UNTRUSTED ? pfc_ks_connect_message() : "";

		snprintf(errbuf, sizeof(errbuf), "%s%s%s", pfc_strerror(r), *why ? ": " : "", why);
		ks_error = errbuf;
		nl = 0;
	}
	for (size_t i = 0; i < cen.nstrays; i++)
		fprintf(stderr, "pfcrypt: warning: %s/%s: %s\n", v.path, cen.strays[i].path,
			cli_stray_cause(&cen.strays[i]));
	mounted = cli_mounted(v.path, mnt, sizeof(mnt));
	if (json)
		print_json(&v, mounted ? mnt : NULL, &cen, list, nl, ks_error);
	else
		print_text(&v, mounted ? mnt : NULL, &cen, list, nl, ks_error);
	pfc_ks_list_free(list);
	pfc_ks_close(ks);
	census_free(&cen);
	cli_vol_close(&v);
	return CLI_EXIT_OK;
}
