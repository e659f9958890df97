// SPDX-License-Identifier: MIT
/*
 * cmd_salvage.c - pfcrypt salvage BACKING|MNT PLAIN-PATH OUT, pfcrypt
 * salvage --backing BACKING-FILE OUT: copy a damaged file's plaintext out,
 * block by block, every block that authenticates as it is and every one
 * that does not as zeros, listing those (gocryptfs -force_decode does this
 * inside the mount; here it is a separate, explicit step, so a mount never
 * returns unauthenticated bytes).  The header must unwrap: without the file
 * key nothing can be read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/volume.h"
#include "keystore/client.h"
#include "keystore/unwrap.h"
#include "tools/cli.h"
#include "tools/cmds.h"
#include "tools/opts.h"
#include "tools/xpath.h"

static const char salvage_help[] =
    "Usage: pfcrypt salvage BACKING|MNT PLAIN-PATH OUT [--socket PATH]\n"
    "       pfcrypt salvage --backing BACKING-FILE OUT [--socket PATH]\n\n"
    "Write the plaintext of a damaged file to OUT (a new file, mode 0600): every\n"
    "block that authenticates as it is, every one that does not (tampered, torn,\n"
    "zeroed on a volume without holes) as zeros, each listed on stderr with its\n"
    "byte range.  The file's header must still unwrap (its key is needed).  The\n"
    "file is named by its plaintext path (see 'pfcrypt path') or, with --backing,\n"
    "by its backing file.  OUT is plaintext on disk: put it somewhere safe.\n\n"
    "  --backing      the source is a backing file\n"
    "  --socket PATH  keystore socket (env PFCRYPT_SOCKET)\n\n"
    "Exit: 0 every block authenticated, 1 some were zero-filled, 2 error.\n";

struct salvage {
	const struct cli_vol *v;
	struct pfc_filekey *fk;
	int in, out;
	const char *src, *dst;
	uint64_t blocks, bad, plain;
};

/* Block i (stored len bytes at its offset) decrypted into pt, or zeros; written to out. */
static int one_block(struct salvage *s, uint64_t i, uint8_t *st, uint8_t *pt, size_t len)
{
	const struct pfc_layout *l = &s->v->layout;
	size_t got = 0, plen = (size_t)pfc_layout_plain_len(l, len);
	uint64_t bad = 0;
	ssize_t n = pread(s->in, st, len, (off_t)pfc_layout_block_offset(l, i));
	int r = n == (ssize_t)len ? pfc_blocks_decrypt(s->fk, i, st, len, pt, plen, &got, &bad)
				  : PFC_ERR_IO;

	if (r == PFC_ERR_IO) {
		cli_err(s->src, "cannot read block %llu: %s", (unsigned long long)i,
			n < 0 ? strerror(errno) : "short read");
		return CLI_EXIT_SETUP;
	}
	if (r < 0) {
		memset(pt, 0, plen);
		s->bad++;
		cli_err(s->src, "block %llu (bytes %llu..%llu): %s; zeros written",
			(unsigned long long)i, (unsigned long long)(i * l->block_size),
			(unsigned long long)(i * l->block_size + plen - 1),
			r == PFC_ERR_AUTH ? "does not authenticate" : pfc_strerror(r));
	}
	if (write(s->out, pt, plen) != (ssize_t)plen) {
		cli_err(s->dst, "cannot write: %s", strerror(errno));
		return CLI_EXIT_SETUP;
	}
	s->blocks++;
	s->plain += plen;
	return 0;
}

static int copy_blocks(struct salvage *s, uint64_t backing)
{
	const struct pfc_layout *l = &s->v->layout;
	uint64_t size = pfc_layout_plain_size(l, backing),
		 nb = (size + l->block_size - 1) / l->block_size;
	size_t slen = (size_t)pfc_layout_stored_len(l, l->block_size);
	uint8_t *st = malloc(slen), *pt = sodium_malloc(l->block_size);
	int r = st && pt ? 0 : CLI_EXIT_SETUP;

	for (uint64_t i = 0; i < nb && !r; i++) {
		uint64_t left = size - i * l->block_size;

		r = one_block(
		    s, i, st, pt,
		    (size_t)pfc_layout_stored_len(l, left < l->block_size ? left : l->block_size));
	}
	free(st);
	if (pt)
		sodium_free(pt);
	return r;
}

/* The file key from the header of s->in; 0, or CLI_EXIT_SETUP after a message. */
static int file_key(struct salvage *s, struct pfc_ks *ks)
{
	uint8_t hb[PFC_HEADER_SIZE];
	struct pfc_unwrapper uw = pfc_ks_unwrapper(ks);
	enum pfc_key_step step;
	struct pfc_header h;
	ssize_t n = pread(s->in, hb, sizeof(hb), 0);
	int r = n < 0 ? PFC_ERR_IO : pfc_header_parse(hb, (size_t)n, &h);

	if (r < 0) {
		cli_err(s->src, "bad header (nothing can be salvaged without it): %s",
			r == PFC_ERR_IO ? strerror(errno) : pfc_strerror(r));
		return CLI_EXIT_SETUP;
	}
	r = pfc_volume_file_key(s->v->cfg.volume_id, &s->v->layout, &h, &uw, NULL, &s->fk, &step);
	if (r < 0 && step == PFC_STEP_UNWRAP)
		return cli_ks_fail(ks, r, "%s: the file key does not unwrap", s->src);
	if (r < 0) {
		cli_err(s->src, "file key: %s", pfc_strerror(r));
		return CLI_EXIT_SETUP;
	}
	if (pfc_header_verify_generation(&h, s->fk) < 0)
		cli_err(s->src, "header generation field does not authenticate (going on)");
	return 0;
}

static int salvage_file(struct salvage *s, struct pfc_ks *ks)
{
	struct stat sb;
	int r;

	if (fstat(s->in, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		cli_err(s->src, "not a regular file");
		return CLI_EXIT_SETUP;
	}
	s->out = open(s->dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (s->out < 0) {
		cli_err(s->dst, "cannot create: %s%s", strerror(errno),
			errno == EEXIST ? " (not overwritten)" : "");
		return CLI_EXIT_SETUP;
	}
	r = sb.st_size == 0 ? 0 : file_key(s, ks);
	if (r == 0 && sb.st_size > 0)
		r = copy_blocks(s, (uint64_t)sb.st_size);
	if (r == 0 && fsync(s->out) < 0)
		r = CLI_EXIT_SETUP;
	close(s->out);
	if (r)
		unlink(s->dst);
	return r;
}

/* The backing file to read: given, or found from the plaintext path. */
static int source(struct cli_vol *v, struct pfc_ks *ks, bool backing, const char *arg, char *rel,
		  size_t len)
{
	struct pfc_volkeys *vk = NULL;
	struct xpath_backing b;
	int r;

	if (backing)
		return 0; /* rel already set by cli_backing_split */
	if ((r = cli_vol_keys(v, ks, &vk)) == 0 &&
	    (r = cli_plain_to_backing(v, vk, arg, &b)) == 0 && !b.exists) {
		cli_err(arg, "not in the volume");
		r = CLI_EXIT_SETUP;
	}
	if (r == 0)
		snprintf(rel, len, "%s", b.rel);
	pfc_volkeys_free(vk);
	return r;
}

int cmd_salvage(int argc, char **argv)
{
	bool backing = false;
	const struct cli_opt opts[] = {{.name = "backing", .flag = &backing}, {0}};
	const struct cli_syntax syn = {
	    .cmd = "salvage",
	    .help = salvage_help,
	    .opts = opts,
	    .nargs = CLI_ARGS_ANY,
	    .expected = "expected BACKING PLAIN-PATH OUT, or --backing FILE OUT"};
	char root[PATH_MAX], rel[XPATH_MAX], full[PATH_MAX + XPATH_MAX];
	struct salvage s = {.in = -1, .out = -1};
	struct pfc_ks *ks = NULL;
	struct cli_vol v;
	int r;

	if ((r = cli_opts_parse(&syn, argc, argv)) != CLI_OPTS_GO)
		return r;
	if (argc - optind != (backing ? 2 : 3))
		return cli_usage("salvage", "%s", syn.expected);
	if (backing && (r = cli_backing_split(argv[optind], root, sizeof(root), rel, sizeof(rel))))
		return r;
	if ((r = cli_vol_open(backing ? root : argv[optind], &v)))
		return r;
	s.v = &v;
	s.dst = argv[argc - 1];
	if ((r = cli_ks_open(&ks)) == 0 &&
	    (r = source(&v, ks, backing, argv[optind + 1], rel, sizeof(rel))) == 0) {
		snprintf(full, sizeof(full), "%s/%s", v.path, rel);
		s.src = full;
		s.in = pfc_open_regular(v.fd, rel, O_RDONLY, 0, NULL); /* never a FIFO or device */
		if (s.in < 0)
			cli_err(full, "cannot open: %s",
				s.in == PFC_ERR_CORRUPT ? "not a regular file" : strerror(errno));
		r = s.in < 0 ? CLI_EXIT_SETUP : salvage_file(&s, ks);
	}
	if (r == 0) {
		printf("salvage %s: %llu bytes in %llu blocks, %llu zero-filled\n", s.dst,
		       (unsigned long long)s.plain, (unsigned long long)s.blocks,
		       (unsigned long long)s.bad);
		r = s.bad ? CLI_EXIT_PROBLEMS : CLI_EXIT_OK;
	}
	if (s.in >= 0)
		close(s.in);
	pfc_filekey_free(s.fk);
	pfc_ks_close(ks);
	cli_vol_close(&v);
	return r;
}
