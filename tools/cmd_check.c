// SPDX-License-Identifier: MIT
/*
 * cmd_check.c - pfcrypt check BACKING [--quick] [--json] [--threads N].
 *
 * Verifies: the config (its MAC under the unwrapped name key), the tree
 * (check_tree.c), and every file: header parses, the file key unwraps
 * (a retired master-key version is reported, naming it), the generation MAC,
 * and unless --quick every stored block authenticates.  Files are checked by
 * several workers, each with its own keystore connection.
 *
 * Output: one line per problem "BACKING/path: /plain/path: cause" (the plain
 * path is left out when a name on the way did not decrypt), sorted, then a
 * summary.  Exit 0 clean, 1 problems, 2 could not run (no keystore, locked,
 * not a volume).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/unwrap.h"
#include "tools/check.h"
#include "tools/cli.h"
#include "tools/cmds.h"
#include "tools/opts.h"

#define CHUNK_BYTES	 (1u << 20) /* stored bytes read and authenticated per pread */
#define BAD_BLOCKS_SHOWN 8	    /* per file; the count of the rest is reported */

static const char check_help[] =
    "Usage: pfcrypt check BACKING|MNT [--quick] [--json] [--threads N] [--socket PATH]\n\n"
    "Verify a volume, mounted or not (given by its mountpoint too): the config, every directory "
    "id, every name\n"
    "(long-name companions match, no orphan companions), symlink targets (a long\n"
    "target's companion in .pfcrypt.symlinks/ belongs to it; no orphan ones), every\n"
    "file header (its key unwraps through the keystore, so a file under a retired\n"
    "master-key version is reported) and, unless --quick, every data block.\n"
    "One line per problem: \"BACKING/path: /plaintext/path: cause\" (the plaintext\n"
    "path when known), then a summary.  A progress bar shows on a terminal.\n\n"
    "  --quick        headers and names only, no data blocks\n"
    "  --json         one JSON object on stdout instead of lines: each problem with\n"
    "                 a stable code (block_auth, header_bad, name_undecryptable,\n"
    "                 companion_orphan, ...: tools/CLI.md), its plaintext path, and\n"
    "                 for a damaged block its number and backing offset\n"
    "  --threads N    parallel workers (default: number of CPUs)\n"
    "  --fold-dirids  fold the directory ids of a directory that has several (two\n"
    "                 machines made it before syncing) into one, renaming its\n"
    "                 entries; unmounted volumes only\n\n"
    "Exit: 0 clean, 1 problems found, 2 could not run.\n";

struct worker_ctx {
	struct check *ck;
	struct pfc_ks **ks;
	uint8_t **fk; /* one locked 32-byte buffer per worker */
	struct cli_progress prog;
};

static bool keystore_down(int r)
{
	return r == PFC_ERR_UNREACHABLE || r == PFC_ERR_LOCKED || r == PFC_ERR_TIMEOUT ||
	       r == PFC_ERR_DENIED || r == PFC_ERR_PROTOCOL || r == PFC_ERR_UNTRUSTED;
}

/* Block index of a file under layout l: its number and backing offset. */
static struct check_at block_at(const struct pfc_layout *l, uint64_t index)
{
	return (struct check_at){(long long)index, (long long)pfc_layout_block_offset(l, index)};
}

/* Authenticate every stored block of an open file.  Reports problems. */
static void check_blocks(struct check *ck, struct pfc_filekey *fk, int fd, uint64_t size,
			 const struct check_item *it)
{
	const struct pfc_layout *l = &ck->v->layout;
	size_t per = CHUNK_BYTES / l->stored_block_size ? CHUNK_BYTES / l->stored_block_size : 1;
	size_t cap = per * l->stored_block_size;
	uint8_t *st = malloc(cap), *pt = malloc(per * l->block_size);
	uint64_t index = 0, nblocks, bad = 0;

	if (!st || !pt) {
		check_problem(ck, "check_failed", it->backing, it->plain, "out of memory");
		goto out;
	}
	nblocks = (size - l->header_size + l->stored_block_size - 1) / l->stored_block_size;
	while (index < nblocks) {
		uint64_t off = pfc_layout_block_offset(l, index);
		size_t want = (size_t)(size - off < cap ? size - off : cap), got = 0, out_len;
		uint64_t bad_index;
		int r;

		while (got < want) {
			ssize_t n = pread(fd, st + got, want - got, (off_t)(off + got));

			if (n <= 0) {
				check_problem(ck, "io_error", it->backing, it->plain,
					      "read error: %s",
					      n < 0 ? strerror(errno) : "file shrank");
				goto out;
			}
			got += (size_t)n;
		}
		r = pfc_blocks_decrypt(fk, index, st, want, pt, per * l->block_size, &out_len,
				       &bad_index);
		if (r == 0) {
			atomic_fetch_add(&ck->blocks,
					 (want + l->stored_block_size - 1) / l->stored_block_size);
			index += (want + l->stored_block_size - 1) / l->stored_block_size;
			continue;
		}
		if (r != PFC_ERR_AUTH && r != PFC_ERR_TRUNCATED) {
			check_problem(ck, "block_error", it->backing, it->plain, "blocks: %s",
				      pfc_strerror(r));
			goto out;
		}
		if (bad_index < index)
			bad_index = index;
		atomic_fetch_add(&ck->blocks, bad_index - index);
		if (bad++ < BAD_BLOCKS_SHOWN)
			check_block_problem(
			    ck, r == PFC_ERR_TRUNCATED ? "block_truncated" : "block_auth", it,
			    block_at(l, bad_index), "block %llu %s", (unsigned long long)bad_index,
			    r == PFC_ERR_TRUNCATED
				? "is truncated (torn write at the end of the file)"
				: "does not authenticate (tampered or damaged)");
		index = bad_index + 1;
	}
	if (bad > BAD_BLOCKS_SHOWN)
		check_problem(ck, "block_auth_more", it->backing, it->plain,
			      "... and %llu more bad blocks",
			      (unsigned long long)(bad - BAD_BLOCKS_SHOWN));
out:
	if (pt) {
		sodium_memzero(pt, per * l->block_size);
		free(pt);
	}
	free(st);
}

/* A file key the keystore did not unwrap: a problem of the file, or (the
 * keystore stopped answering) the end of the check. */
static void unwrap_problem(struct worker_ctx *wc, unsigned worker, const struct check_item *it,
			   int r, const char *name, uint32_t ver)
{
	struct check *ck = wc->ck;

	if (keystore_down(r)) {
		if (!atomic_exchange(&ck->fatal, true))
			cli_ks_err(wc->ks[worker], "keystore", r);
	} else if (r == PFC_ERR_KEY_RETIRED) {
		check_problem(ck, "key_retired", it->backing, it->plain,
			      "unreadable: its master-key version %s v%u was retired", name, ver);
	} else if (r == PFC_ERR_KEY_RETIRING) {
		check_problem(ck, it->backing, it->plain,
			      "unreadable: its master-key version %s v%u is scheduled for "
			      "destruction (pfcrypt keystore cancel-retire restores it)",
			      name, ver);
	} else if (r == PFC_ERR_KEY_UNKNOWN) {
		check_problem(ck, "key_unknown", it->backing, it->plain,
			      "unreadable: master key %s v%u is not in this keystore", name, ver);
	} else {
		check_problem(ck, "key_unwrap", it->backing, it->plain,
			      "file key does not unwrap (header tampered, or moved from "
			      "another file or volume): %s",
			      pfc_strerror(r));
	}
}

static void check_file_once(struct worker_ctx *wc, unsigned worker, size_t i)
{
	struct check *ck = wc->ck;
	const struct check_item *it = &ck->files.v[i];
	struct pfc_filekey *fk = NULL;
	struct pfc_unwrapper uw;
	enum pfc_key_step step;
	struct pfc_header h;
	uint8_t hdr[PFC_HEADER_SIZE];
	char name[PFC_KS_NAME_MAX + 1];
	uint32_t ver = 0;
	struct stat sb;
	ssize_t n;
	int fd, r;

	/* Replaced by a FIFO, socket or device since the walk (mounted volume):
	 * never opened, and no header to check, as for any such entry. */
	fd = pfc_open_regular(ck->v->fd, it->backing, O_RDONLY, 0, NULL);
	if (fd == PFC_ERR_CORRUPT)
		goto out;
	if (fd < 0) {
		if (errno != ENOENT) /* removed since the walk (mounted volume): fine */
			check_problem(ck, "io_error", it->backing, it->plain, "cannot open: %s",
				      strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) < 0 || sb.st_size == 0)
		goto out; /* an empty file has no header (FORMAT.md) */
	n = pread(fd, hdr, sizeof(hdr), 0);
	r = n < 0 ? PFC_ERR_IO : pfc_header_parse(hdr, (size_t)n, &h);
	if (r < 0) {
		check_problem(ck, "header_bad", it->backing, it->plain, "bad header: %s",
			      r == PFC_ERR_IO ? strerror(errno) : pfc_strerror(r));
		goto out;
	}
	if (pfc_blob_parse_name_version(h.wrapped, h.wrapped_len, name, &ver) < 0)
		snprintf(name, sizeof(name), "?");
	uw = pfc_ks_unwrapper(wc->ks[worker]);
	r = pfc_volume_file_key(ck->v->cfg.volume_id, &ck->v->layout, &h, &uw, wc->fk[worker], &fk,
				&step);
	if (r < 0 && step == PFC_STEP_UNWRAP) {
		unwrap_problem(wc, worker, it, r, name, ver);
		goto out;
	}
	if (r < 0) {
		check_problem(ck, "key_error", it->backing, it->plain, "file key: %s",
			      pfc_strerror(r));
		goto out;
	}
	if (pfc_header_verify_generation(&h, fk) < 0)
		check_problem(ck, "header_generation", it->backing, it->plain,
			      "header generation field does not authenticate");
	if (!ck->quick && (uint64_t)sb.st_size > ck->v->layout.header_size)
		check_blocks(ck, fk, fd, (uint64_t)sb.st_size, it);
out:
	pfc_filekey_free(fk);
	if (fd >= 0)
		close(fd);
}

/*
 * A file with problems is checked a second time and only the second result
 * counts: on a mounted volume a read can meet a block or a tail being
 * rewritten at that moment; real damage is still there the second time.
 */
static void check_file(void *arg, unsigned worker, size_t i)
{
	struct worker_ctx *wc = arg;
	struct check_list mine = {0};

	check_capture = &mine;
	check_file_once(wc, worker, i);
	if (mine.n) {
		check_list_free(&mine);
		check_file_once(wc, worker, i);
	}
	check_capture = NULL;
	if (mine.n && check_list_move(wc->ck, &mine) < 0)
		atomic_store(&wc->ck->fatal, true);
	cli_progress_step(&wc->prog);
}

static int cmp_item(const void *a, const void *b)
{
	const struct check_item *x = a, *y = b;
	int c = strcmp(x->backing, y->backing);

	return c ? c : strcmp(x->cause, y->cause);
}

static void print_items_json(const char *key, const struct check_item *v, size_t n,
			     const char *root)
{
	printf(",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		char full[8300];

		snprintf(full, sizeof(full), "%s/%s", root, v[i].backing);
		printf("%s{\"backing_path\":", i ? "," : "");
		json_str(stdout, full);
		printf(",\"plain_path\":");
		if (v[i].plain)
			json_str(stdout, v[i].plain);
		else
			printf("null");
		printf(",\"code\":\"%s\",\"cause\":", v[i].code ? v[i].code : "other");
		json_str(stdout, v[i].cause);
		if (v[i].at.block >= 0)
			printf(",\"block\":%lld,\"offset\":%lld}", v[i].at.block, v[i].at.offset);
		else
			printf(",\"block\":null,\"offset\":null}");
	}
	printf("]");
}

static void report(const struct check *ck, bool json)
{
	const struct check_list *p = &ck->problems, *no = &ck->notices;

	if (json) {
		printf("{\"backing\":");
		json_str(stdout, ck->v->path);
		printf(",\"clean\":%s,\"quick\":%s,\"directories\":%zu,\"files\":%zu,"
		       "\"symlinks\":%zu,\"blocks\":%zu",
		       p->n ? "false" : "true", ck->quick ? "true" : "false", ck->dirs, ck->files.n,
		       ck->symlinks, atomic_load(&ck->blocks));
		print_items_json("problems", p->v, p->n, ck->v->path);
		print_items_json("notices", no->v, no->n, ck->v->path);
		printf("}\n");
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].plain)
			printf("%s/%s: %s: %s\n", ck->v->path, p->v[i].backing, p->v[i].plain,
			       p->v[i].cause);
		else
			printf("%s/%s: %s\n", ck->v->path, p->v[i].backing, p->v[i].cause);
	}
	for (size_t i = 0; i < no->n; i++)
		printf("note: %s/%s: %s\n", ck->v->path, no->v[i].backing, no->v[i].cause);
	printf("check %s: %zu directories, %zu files, %zu symlinks, %zu blocks%s: %zu problem%s\n",
	       ck->v->path, ck->dirs, ck->files.n, ck->symlinks, atomic_load(&ck->blocks),
	       ck->quick ? " (quick: blocks not read)" : "", p->n, p->n == 1 ? "" : "s");
}

/* Unwrap the name key and verify the config.  0, 1 (a problem recorded), or exit 2. */
static int check_config(struct check *ck, struct pfc_ks *ks)
{
	struct pfc_unwrapper uw = pfc_ks_unwrapper(ks);
	enum pfc_key_step step;
	int r = pfc_volume_keys(&ck->v->cfg, &uw, &ck->vk, &step);

	if (r == 0)
		return 0;
	if (step == PFC_STEP_UNWRAP && keystore_down(r)) {
		cli_ks_err(ks, "keystore", r);
	} else if (step == PFC_STEP_UNWRAP) {
		check_problem(ck, "config_key", PFC_CONFIG_NAME, NULL,
			      "volume name key does not unwrap: %s", pfc_strerror(r));
		return 1;
	} else if (step == PFC_STEP_DERIVE) {
		cli_err(ck->v->path, "cannot derive the volume keys: %s", pfc_strerror(r));
	} else if (step == PFC_STEP_VERIFY) {
		check_problem(ck, "config_bad", PFC_CONFIG_NAME, NULL,
			      "config does not authenticate (tampered or damaged)");
		return 1;
	}
	return CLI_EXIT_SETUP;
}

/* The keystore connections and key buffers of the workers: threads of them
 * (at most one per file).  0, or -1 (message printed by cli_ks_open). */
static int start_workers(struct worker_ctx *wc, struct cli_ks_conns *conns, unsigned long *threads)
{
	*threads = cli_pool_workers(*threads, wc->ck->files.n);
	if (cli_ks_conns_open(conns, (unsigned)*threads))
		return -1;
	for (unsigned i = 0; i < *threads; i++)
		if (!(wc->fk[i] = sodium_malloc(PFC_KEY_BYTES)))
			return -1;
	return 0;
}

/* Config, tree, then every file on the workers; the report.  The exit code. */
static int run_check(struct check *ck, struct worker_ctx *wc, struct cli_ks_conns *conns,
		     unsigned long *threads, bool json)
{
	int r;

	if (cli_ks_conns_open(conns, 1))
		return CLI_EXIT_SETUP;
	r = check_config(ck, wc->ks[0]);
	if (r == 1) { /* nothing else can be decrypted: report that one problem */
		report(ck, json);
		return CLI_EXIT_PROBLEMS;
	}
	if (r || check_tree(ck) || start_workers(wc, conns, threads) < 0)
		return CLI_EXIT_SETUP;
	cli_progress_init(&wc->prog, "check", ck->files.n);
	if (cli_pool_run((unsigned)*threads, ck->files.n, check_file, wc, &ck->fatal) < 0)
		return CLI_EXIT_SETUP;
	cli_progress_end(&wc->prog);
	if (atomic_load(&ck->fatal))
		return CLI_EXIT_SETUP;
	if (ck->problems.n)
		qsort(ck->problems.v, ck->problems.n, sizeof(*ck->problems.v), cmp_item);
	if (ck->notices.n)
		qsort(ck->notices.v, ck->notices.n, sizeof(*ck->notices.v), cmp_item);
	report(ck, json);
	return ck->problems.n ? CLI_EXIT_PROBLEMS : CLI_EXIT_OK;
}

int cmd_check(int argc, char **argv)
{
	unsigned long threads = cli_nproc();
	struct check ck = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct worker_ctx wc = {.ck = &ck};
	struct cli_ks_conns conns = {0};
	struct cli_vol v;
	char mnt[4096];
	bool json = false;
	const struct cli_opt opts[] = {{.name = "quick", .flag = &ck.quick},
				       {.name = "json", .flag = &json},
				       CLI_OPT_THREADS(&threads),
				       {.name = "fold-dirids", .flag = &ck.fold},
				       {0}};
	const struct cli_syntax syn = {.cmd = "check",
				       .help = check_help,
				       .opts = opts,
				       .nargs = 1,
				       .expected = "expected BACKING"};
	int r, ret = CLI_EXIT_SETUP;

	if ((r = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return r;
	if ((r = cli_vol_open(argv[optind], &v)))
		return r;
	ck.v = &v;
	if (ck.fold && cli_mounted(v.path, mnt, sizeof(mnt))) {
		cli_err(v.path, "mounted at %s: --fold-dirids renames entries, unmount first", mnt);
		goto out;
	}
	wc.fk = calloc(threads, sizeof(*wc.fk));
	if (!cli_ks_conns_init(&conns, (unsigned)threads) && wc.fk) {
		wc.ks = conns.ks;
		ret = run_check(&ck, &wc, &conns, &threads, json);
	}
out:
	cli_ks_conns_close(&conns);
	for (unsigned long i = 0; wc.fk && i < threads; i++)
		if (wc.fk[i])
			sodium_free(wc.fk[i]);
	free(wc.fk);
	pfc_volkeys_free(ck.vk);
	check_list_free(&ck.files);
	check_list_free(&ck.problems);
	check_list_free(&ck.notices);
	cli_vol_close(&v);
	return ret;
}
