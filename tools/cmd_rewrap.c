// SPDX-License-Identifier: MIT
/*
 * cmd_rewrap.c - pfcrypt rewrap BACKING [--threads N]: every wrapped key of a
 * volume (the config's name key, every file header's file key) rewrapped
 * under its master key's primary version, through the keystore's REWRAP
 * request (the key never leaves the keystore).
 *
 * Only the wrapped-key field of a header changes, with ONE pwrite of
 * PFC_HEADER_WRAPPED_FIELD_SIZE bytes at PFC_HEADER_WRAPPED_OFFSET; the
 * daemon only ever rewrites the generation field, so a mounted volume with
 * writers is safe.  Just before the pwrite the field is read again, under
 * the header lock (FORMAT.md 3) that a daemon truncating the file to 0
 * also takes: if it changed meanwhile (another rewrap, a file emptied or
 * replaced) the file is processed again from the start.
 *
 * Restartable: a file already under the primary version is skipped without
 * a keystore round trip, so running it again after an interruption (SIGINT,
 * kill -9, a crash) finishes the job.  A pwrite of one small field either
 * happened or not; the old and the new blob wrap the same key, so both read.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/err.h"
#include "keystore/client.h"
#include "tools/cli.h"
#include "tools/cmds.h"
#include "tools/opts.h"
#include "tools/vol.h"

#define REWRAP_RETRIES 3 /* a field that keeps changing under us is reported */

static const char rewrap_help[] =
    "Usage: pfcrypt rewrap BACKING|MNT [--threads N] [--socket PATH]\n\n"
    "Rewrap the volume name key and every file key of the volume under the primary\n"
    "version of its master key (after 'pfcrypt rotate').  Only the wrapped-key field\n"
    "of each file header is rewritten (one pwrite); data blocks are not touched.\n"
    "Safe on a mounted volume (given by BACKING or by its mountpoint MNT) while\n"
    "programs write to it.  Restartable: files already under the primary version\n"
    "are skipped, so after an interruption run it again.  A progress bar is shown\n"
    "when stderr is a terminal.\n"
    "On a mounted volume, files created after 'rotate' may still get file keys its\n"
    "pfcryptfs generated in advance under the old version: 'pfcrypt status' shows\n"
    "them; unmount and run rewrap again before 'pfcrypt retire'.\n\n"
    "  --threads N    parallel workers, each with its own keystore connection\n"
    "                 (default: number of CPUs)\n\n"
    "Exit: 0 every key is under the primary version, 1 some files could not be\n"
    "rewrapped (listed) or interrupted, 2 could not run.\n";

struct primary {
	char name[PFC_KS_NAME_MAX + 1];
	uint32_t version;
};

struct rewrap {
	struct cli_vol *v;
	struct cli_walk *w;
	struct pfc_ks **ks; /* one per worker */
	struct primary *prim;
	size_t nprim;
	struct cli_progress prog;
	atomic_size_t rewrapped, already, empty, failed;
};

static atomic_bool interrupted;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&interrupted, true);
}

static uint32_t primary_of(const struct rewrap *rw, const char *name)
{
	for (size_t i = 0; i < rw->nprim; i++)
		if (!strcmp(rw->prim[i].name, name))
			return rw->prim[i].version;
	return 0;
}

static void file_err(const struct rewrap *rw, const char *rel, const char *fmt, const char *cause)
{
	char full[4200];

	snprintf(full, sizeof(full), "%s/%s", rw->v->path, rel);
	cli_err(full, fmt, cause);
}

/* One attempt: 0 done (rewrapped or skipped), 1 field changed under us, -1 failed (reported). */
/*
 * Compare-before-write, under the header lock (FORMAT.md 3): the header must
 * still be h, the one we rewrapped, and no daemon may cut the file to 0 bytes
 * between the compare and the write.  0 written, 1 changed meanwhile (or the
 * lock is held: try again), -1 an error (reported).
 */
static int write_field(struct rewrap *rw, const char *rel, int fd, const struct pfc_header *h,
		       const uint8_t field[PFC_HEADER_WRAPPED_FIELD_SIZE])
{
	uint8_t buf[PFC_HEADER_SIZE];
	struct pfc_header again;
	int r = pfc_header_lock(fd, PFC_HEADER_LOCK_WAIT_MS);

	if (r < 0) {
		if (r == PFC_ERR_BUSY)
			return 1;
		file_err(rw, rel, "cannot lock the header: %s", strerror(errno));
		return -1;
	}
	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
	    pfc_header_parse(buf, sizeof(buf), &again) < 0 ||
	    memcmp(again.file_id, h->file_id, PFC_ID_BYTES) ||
	    again.wrapped_len != h->wrapped_len ||
	    memcmp(again.wrapped, h->wrapped, h->wrapped_len))
		return 1; /* the lock goes with the descriptor */
	if (pwrite(fd, field, PFC_HEADER_WRAPPED_FIELD_SIZE, PFC_HEADER_WRAPPED_OFFSET) !=
	    (ssize_t)PFC_HEADER_WRAPPED_FIELD_SIZE) {
		file_err(rw, rel, "cannot write the header: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int rewrap_once(struct rewrap *rw, unsigned worker, const char *rel)
{
	struct pfc_header h;
	uint8_t ad[PFC_AD_MAX], blob[PFC_WRAPPED_MAX], field[PFC_HEADER_WRAPPED_FIELD_SIZE];
	char name[PFC_KS_NAME_MAX + 1];
	uint32_t ver;
	size_t ad_len, blob_len;
	int fd = -1, r, ret = -1;

	r = cli_read_header(rw->v, rel, &h, &fd);
	if (r == 1) {
		atomic_fetch_add(&rw->empty, 1);
		return 0;
	}
	if (r == PFC_ERR_IO) {
		if (errno == ENOENT) /* deleted while we walked: nothing to do */
			return 0;
		file_err(rw, rel, "cannot read the header: %s", strerror(errno));
		return -1;
	}
	if (r < 0) {
		file_err(rw, rel, "bad header: %s", pfc_strerror(r));
		return -1;
	}
	r = pfc_blob_parse_name_version(h.wrapped, h.wrapped_len, name, &ver);
	if (r < 0) {
		file_err(rw, rel, "bad wrapped key: %s", pfc_strerror(r));
		goto out;
	}
	if (ver == primary_of(rw, name)) {
		atomic_fetch_add(&rw->already, 1);
		ret = 0;
		goto out;
	}
	ad_len = pfc_ad_file_key(rw->v->cfg.volume_id, h.file_id, ad);
	r = pfc_ks_rewrap(rw->ks[worker], h.wrapped, h.wrapped_len, ad, ad_len, blob, &blob_len);
	if (r == 1) {
		atomic_fetch_add(&rw->already, 1);
		ret = 0;
		goto out;
	}
	if (r < 0) {
		char full[4200], what[4300];

		snprintf(full, sizeof(full), "%s/%s", rw->v->path, rel);
		snprintf(what, sizeof(what), "%s: cannot rewrap (%s v%u)", full, name, ver);
		cli_ks_err(rw->ks[worker], what, r);
		goto out;
	}
	r = pfc_header_wrapped_field(blob, blob_len, field);
	if (r < 0) {
		file_err(rw, rel, "cannot encode the new wrapped key: %s", pfc_strerror(r));
		goto out;
	}
	ret = write_field(rw, rel, fd, &h, field);
	if (ret != 0)
		goto out;
	atomic_fetch_add(&rw->rewrapped, 1);
	ret = 0;
out:
	if (fd >= 0)
		close(fd); /* releases the header lock */
	return ret;
}

static void rewrap_file(void *arg, unsigned worker, size_t i)
{
	struct rewrap *rw = arg;
	int r = 1;

	for (int t = 0; t < REWRAP_RETRIES && r == 1; t++)
		r = rewrap_once(rw, worker, rw->w->files[i]);
	if (r == 1)
		file_err(rw, rw->w->files[i], "%s", "header keeps changing; run rewrap again");
	if (r != 0)
		atomic_fetch_add(&rw->failed, 1);
	cli_progress_step(&rw->prog);
}

/* The config's wrapped name key: rewrapped and stored atomically.  0 or exit code. */
static int rewrap_config(struct rewrap *rw, size_t *done)
{
	struct cli_vol *v = rw->v;
	char name[PFC_KS_NAME_MAX + 1], cfgpath[4200];
	uint8_t ad[PFC_AD_MAX], blob[PFC_WRAPPED_MAX];
	size_t ad_len, blob_len;
	uint32_t ver;
	int r;

	snprintf(cfgpath, sizeof(cfgpath), "%s/%s", v->path, PFC_CONFIG_NAME);
	r = pfc_blob_parse_name_version(v->cfg.wrapped_name_key, v->cfg.wrapped_name_key_len, name,
					&ver);
	if (r < 0) {
		cli_err(cfgpath, "bad wrapped name key: %s", pfc_strerror(r));
		return CLI_EXIT_SETUP;
	}
	if (ver == primary_of(rw, name))
		return 0;
	ad_len = pfc_ad_name_key(v->cfg.volume_id, ad);
	r = pfc_ks_rewrap(rw->ks[0], v->cfg.wrapped_name_key, v->cfg.wrapped_name_key_len, ad,
			  ad_len, blob, &blob_len);
	if (r == 1)
		return 0;
	if (r < 0) {
		char what[4300];

		snprintf(what, sizeof(what), "%s: cannot rewrap the name key", cfgpath);
		cli_ks_err(rw->ks[0], what, r);
		return CLI_EXIT_SETUP;
	}
	if ((r = pfc_config_set_wrapped(&v->cfg, blob, blob_len)) < 0 ||
	    (r = pfc_config_store(v->fd, &v->cfg)) < 0) {
		cli_err(cfgpath, "cannot store: %s",
			r == PFC_ERR_IO ? strerror(errno) : pfc_strerror(r));
		return CLI_EXIT_SETUP;
	}
	(*done)++;
	return 0;
}

static int load_primaries(struct rewrap *rw)
{
	struct pfc_ks_keyinfo *l = NULL;
	char sock[4096];
	size_t n = 0;
	int r = pfc_ks_list(rw->ks[0], &l, &n);

	if (r < 0) {
		cli_ks_err(rw->ks[0], cli_ks_socket(sock, sizeof(sock)), r);
		return CLI_EXIT_SETUP;
	}
	rw->prim = calloc(n ? n : 1, sizeof(*rw->prim));
	if (!rw->prim) {
		pfc_ks_list_free(l);
		return CLI_EXIT_SETUP;
	}
	for (size_t i = 0; i < n; i++)
		if (l[i].state == PFC_KS_PRIMARY) {
			snprintf(rw->prim[rw->nprim].name, sizeof(rw->prim[0].name), "%s",
				 l[i].name);
			rw->prim[rw->nprim++].version = l[i].version;
		}
	pfc_ks_list_free(l);
	return 0;
}

int cmd_rewrap(int argc, char **argv)
{
	unsigned long threads = cli_nproc();
	const struct cli_opt opts[] = {CLI_OPT_THREADS(&threads), {0}};
	const struct cli_syntax syn = {.cmd = "rewrap",
				       .help = rewrap_help,
				       .opts = opts,
				       .nargs = 1,
				       .expected = "expected BACKING"};
	struct cli_vol v;
	struct cli_walk w = {0};
	struct rewrap rw = {0};
	struct cli_ks_conns conns = {0};
	struct sigaction sa = {.sa_handler = on_signal};
	size_t cfg_done = 0;
	int r, ret = CLI_EXIT_SETUP;

	if ((r = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return r;
	if ((r = cli_vol_open(argv[optind], &v)))
		return r;
	rw.v = &v;
	if (cli_walk_files(&v, &w))
		goto out;
	rw.w = &w;
	threads = cli_pool_workers(threads, w.n);
	if (cli_ks_conns_init(&conns, (unsigned)threads) ||
	    cli_ks_conns_open(&conns, (unsigned)threads))
		goto out;
	rw.ks = conns.ks;
	if (load_primaries(&rw) || rewrap_config(&rw, &cfg_done))
		goto out;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	cli_progress_init(&rw.prog, "rewrap", w.n);
	if (cli_pool_run((unsigned)threads, w.n, rewrap_file, &rw, &interrupted) < 0) {
		cli_err(v.path, "cannot start worker threads");
		goto out;
	}
	cli_progress_end(&rw.prog);
	syncfs(v.fd);
	printf("rewrap %s: %zu rewrapped, %zu already under the primary version, %zu empty, "
	       "%zu failed%s%s\n",
	       v.path, atomic_load(&rw.rewrapped), atomic_load(&rw.already), atomic_load(&rw.empty),
	       atomic_load(&rw.failed), cfg_done ? "; name key rewrapped" : "",
	       atomic_load(&interrupted) ? "; INTERRUPTED: run it again to finish" : "");
	ret =
	    atomic_load(&rw.failed) || atomic_load(&interrupted) ? CLI_EXIT_PROBLEMS : CLI_EXIT_OK;
out:
	cli_ks_conns_close(&conns);
	free(rw.prim);
	cli_walk_free(&w);
	cli_vol_close(&v);
	return ret;
}
