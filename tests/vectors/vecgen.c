// SPDX-License-Identifier: MIT
/*
 * vecgen.c - writes format_v1.json and the sample volumes (README.md here
 * says what each holds).  Every random byte comes from a deterministic
 * generator installed through fs/format_test.h, so the output is identical
 * on every run and the committed files can be regenerated and compared.
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
#include "fs/format.h"
#include "fs/format_test.h"
#include "testwrap.h"
#include "vecgen.h"

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		if (rc_ != 0) {                                                                    \
			fprintf(stderr, "vecgen: %s:%d: %s failed: %d\n", __FILE__, __LINE__,      \
				#expr, rc_);                                                       \
			return rc_ < 0 ? rc_ : -1;                                                 \
		}                                                                                  \
	} while (0)

/* ---- deterministic randomness: BLAKE2b-keyed counter stream ---- */

struct detrng {
	uint64_t counter;
};

static void det_fill(void *ctx, uint8_t *buf, size_t len)
{
	struct detrng *r = ctx;
	uint8_t seed[randombytes_SEEDBYTES] = "pfcrypt format v1 test vectors";

	pfc_store_u64(seed + 24, r->counter++);
	randombytes_buf_deterministic(buf, len, seed);
}

static struct detrng wrap_rng;
/* The main generator, and one of its own for the long-symlink additions
 * (FORMAT.md 8.2), so that adding them changed no earlier golden byte. */
static struct detrng *main_rng;
static struct detrng long_rng = {UINT64_C(3) << 32};

static int long_symlink(const struct pfc_volkeys *vk, const char *t, size_t len,
			struct pfc_symlink_stored *s)
{
	int err;

	pfc_format_set_test_rng(det_fill, &long_rng);
	err = pfc_symlink_to_backing(vk, t, len, s);
	pfc_format_set_test_rng(det_fill, main_rng);
	return err;
}

/* A path-like target of exactly len bytes (FORMAT.md 8.2 vectors and sample). */
static void long_target(char *t, size_t len)
{
	static const char part[] = "a-long-symlink-target/";

	memcpy(t, "../", 3);
	for (size_t i = 3; i < len; i++)
		t[i] = part[(i - 3) % (sizeof(part) - 1)];
	t[len] = '\0';
}

/* testwrap_wrap with a deterministic nonce (testwrap's own NULL nonce is random). */
static int wrap(const uint8_t *ad, size_t ad_len, const uint8_t key[32], uint8_t *blob,
		size_t *blob_len)
{
	uint8_t nonce[24];

	det_fill(&wrap_rng, nonce, sizeof(nonce));
	return testwrap_wrap(ad, ad_len, key, nonce, blob, blob_len);
}

/* ---- JSON output helpers ---- */

static void hex(FILE *f, const uint8_t *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('"', f);
}

static void kv_hex(FILE *f, const char *k, const uint8_t *p, size_t n, const char *end)
{
	fprintf(f, "\"%s\": ", k);
	hex(f, p, n);
	fputs(end, f);
}

static void kv_str(FILE *f, const char *k, const char *s, const char *end)
{
	/* only ASCII base64url/identifier strings are written this way */
	fprintf(f, "\"%s\": \"%s\"%s", k, s, end);
}

static void seq(uint8_t *p, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i);
}

/* ---- fixed inputs ---- */

static const uint8_t volume_id_fixed[16] = {0x76, 0x6f, 0x6c, 0x2d, 0x69, 0x64, 0x2d, 0x30,
					    0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38};

static void name_key_fixed(uint8_t nk[32])
{
	seq(nk, 32, 0x40);
}

static int write_file(int dfd, const char *name, const void *p, size_t n, mode_t mode)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, mode);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n) {
		fprintf(stderr, "vecgen: write %s: %s\n", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* ---- format_v1.json ---- */

static int json_kdf(FILE *f)
{
	static const char *const ctxs[] = {"pfcnmmac", "pfcnmstr", "pfcsymln", "pfcxnmac",
					   "pfcxnstr", "pfcxaval", "pfccfmac", "pfchdgen"};
	uint8_t key[32], sub[32];

	seq(key, 32, 0x10);
	fputs("  \"kdf\": [\n", f);
	for (size_t i = 0; i < 8; i++) {
		crypto_kdf_derive_from_key(sub, 32, 0, ctxs[i], key);
		fputs("    {", f);
		kv_hex(f, "key", key, 32, ", ");
		kv_str(f, "context", ctxs[i], ", ");
		fprintf(f, "\"subkey_id\": 0, ");
		kv_hex(f, "subkey", sub, 32, "},\n");
	}
	for (uint64_t g = 1; g <= 3; g++) {
		crypto_kdf_derive_from_key(sub, 32, g, "pfcgenky", key);
		fputs("    {", f);
		kv_hex(f, "key", key, 32, ", ");
		kv_str(f, "context", "pfcgenky", ", ");
		fprintf(f, "\"subkey_id\": %llu, ", (unsigned long long)g);
		kv_hex(f, "subkey", sub, 32, g == 3 ? "}\n" : "},\n");
	}
	fputs("  ],\n", f);
	return 0;
}

static int json_blocks(FILE *f)
{
	static const size_t lens[] = {1, 4095, 4096, 4097, 3 * 4096 + 100};
	static uint8_t pt[4 * 4096], st[4 * 4096 + 4 * 48];
	uint8_t fk[32], fid[16];
	size_t n;
	int first = 1;

	seq(fk, 32, 0x80);
	seq(fid, 16, 0xf0);
	fputs("  \"blocks\": [\n", f);
	for (int c = PFC_CIPHER_AES256GCM; c <= PFC_CIPHER_XCHACHA20POLY1305; c++) {
		struct pfc_layout l;
		struct pfc_filekey *k;

		CHECK(pfc_layout_init(&l, c, 4096));
		CHECK(pfc_filekey_new(fk, fid, &l, &k));
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			uint64_t gen = 1 + i, idx = 3 * i;

			for (size_t j = 0; j < lens[i]; j++)
				pt[j] = (uint8_t)(j * 7 + i);
			CHECK(pfc_blocks_encrypt(k, gen, idx, pt, lens[i], st, sizeof(st), &n));
			fputs(first ? "    {" : ",\n    {", f);
			first = 0;
			kv_str(f, "cipher", pfc_cipher_name(c), ", ");
			fprintf(f, "\"block_size\": 4096, ");
			kv_hex(f, "file_key", fk, 32, ", ");
			kv_hex(f, "file_id", fid, 16, ", ");
			fprintf(f, "\"generation\": %llu, \"first_index\": %llu,\n     ",
				(unsigned long long)gen, (unsigned long long)idx);
			kv_hex(f, "plaintext", pt, lens[i], ",\n     ");
			kv_hex(f, "stored", st, n, "}");
		}
		pfc_filekey_free(k);
	}
	fputs("\n  ],\n", f);
	return 0;
}

static int json_names(FILE *f, const struct pfc_volkeys *vk)
{
	static const char *const names[] = {
	    "a",   "hello.txt",	  "exactly16bytes!!",	     "seventeen bytes!!", ".hidden",
	    "...", "caf\xc3\xa9", "\xff\xfe not utf-8 \x80", "line\nbreak",	  NULL,
	    NULL};
	char longn[256], buf[300];
	uint8_t dir[16];

	seq(dir, 16, 0xd0);
	memset(longn, 'L', 160);
	longn[160] = '\0';
	memset(buf, 'M', 255);
	buf[255] = '\0';
	fputs("  \"names\": [\n", f);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *nm = names[i] ? names[i] : (i == 9 ? longn : buf);
		struct pfc_backing_name b;

		CHECK(pfc_name_to_backing(vk, dir, nm, strlen(nm), &b));
		fputs("    {", f);
		kv_hex(f, "dir_id", dir, 16, ", ");
		kv_hex(f, "name", (const uint8_t *)nm, strlen(nm), ",\n     ");
		kv_str(f, "encoded", b.enc, ",\n     ");
		kv_str(f, "backing_name", b.name, ", ");
		fprintf(f, "\"is_long\": %s", b.is_long ? "true" : "false");
		if (b.is_long) {
			fputs(", ", f);
			kv_str(f, "companion", b.companion, "");
		}
		fputs(i + 1 < sizeof(names) / sizeof(names[0]) ? "},\n" : "}\n", f);
	}
	fputs("  ],\n", f);
	return 0;
}

static int json_symlinks_xattrs(FILE *f, const struct pfc_volkeys *vk)
{
	static const char *const targets[] = {"hello.txt", "../docs/a long target/with spaces",
					      "/absolute/path/that-is-exactly-32b"};
	char enc[PFC_SYMLINK_ENC_BUF], xn[PFC_XATTR_NAME_ENC_BUF];
	uint8_t val[64], st[64 + 40];
	size_t n, xl, sl;

	fputs("  \"symlinks\": [\n", f);
	for (size_t i = 0; i < 3; i++) {
		CHECK(
		    pfc_symlink_encrypt(vk, targets[i], strlen(targets[i]), enc, sizeof(enc), &n));
		fputs("    {", f);
		kv_hex(f, "target", (const uint8_t *)targets[i], strlen(targets[i]), ", ");
		kv_str(f, "encoded", enc, i < 2 ? "},\n" : "}\n");
	}
	fputs("  ],\n  \"xattrs\": [\n", f);
	static const char *const xnames[] = {"user.mime_type", "user.x", "user.\xc3\xa9t\xc3\xa9"};
	for (size_t i = 0; i < 3; i++) {
		size_t vl = i * 20;

		seq(val, vl, (uint8_t)(0x30 + i));
		CHECK(
		    pfc_xattr_name_encrypt(vk, xnames[i], strlen(xnames[i]), xn, sizeof(xn), &xl));
		CHECK(pfc_xattr_value_encrypt(vk, xn, xl, val, vl, st, sizeof(st), &sl));
		fputs("    {", f);
		kv_hex(f, "name", (const uint8_t *)xnames[i], strlen(xnames[i]), ", ");
		kv_str(f, "encoded_name", xn, ",\n     ");
		kv_hex(f, "value", val, vl, ", ");
		kv_hex(f, "stored_value", st, sl, i < 2 ? "},\n" : "}\n");
	}
	fputs("  ],\n", f);
	return 0;
}

/* FORMAT.md 8.2: targets over 720 bytes; the companion holds S, the backing
 * symlink the reference. */
static int json_long_symlinks(FILE *f, const struct pfc_volkeys *vk)
{
	static const size_t lens[] = {721, 1000, 4095};
	static struct pfc_symlink_stored s;
	static char t[PFC_SYMLINK_BUF];

	fputs("  \"long_symlinks\": [\n", f);
	for (size_t i = 0; i < 3; i++) {
		long_target(t, lens[i]);
		CHECK(long_symlink(vk, t, lens[i], &s));
		if (!s.is_long)
			return -1;
		fputs("    {", f);
		kv_hex(f, "target", (const uint8_t *)t, lens[i], ",\n     ");
		kv_str(f, "stored", s.link, ", ");
		kv_str(f, "companion_name", s.hash, ",\n     ");
		kv_hex(f, "companion", s.sealed, s.sealed_len, i < 2 ? "},\n" : "}\n");
	}
	fputs("  ],\n", f);
	return 0;
}

static int json_headers(FILE *f)
{
	uint8_t fk[32], fid[16], ad[PFC_AD_MAX], blob[128], nonce[24], out[PFC_HEADER_SIZE];
	struct pfc_header h;
	struct pfc_layout l;
	struct pfc_filekey *k;
	size_t adl, bl;

	seq(fk, 32, 0x80);
	seq(fid, 16, 0xf0);
	seq(nonce, 24, 0x60);
	adl = pfc_ad_file_key(volume_id_fixed, fid, ad);
	CHECK(testwrap_wrap(ad, adl, fk, nonce, blob, &bl));
	CHECK(pfc_layout_init(&l, PFC_CIPHER_XCHACHA20POLY1305, 4096));
	CHECK(pfc_filekey_new(fk, fid, &l, &k));
	CHECK(pfc_header_init(&h, fid, blob, bl));
	h.generation = 5;
	CHECK(pfc_header_encode(&h, k, out));
	pfc_filekey_free(k);
	fputs("  \"headers\": [\n    {", f);
	kv_hex(f, "volume_id", volume_id_fixed, 16, ", ");
	kv_hex(f, "file_key", fk, 32, ", ");
	kv_hex(f, "file_id", fid, 16, ",\n     ");
	kv_hex(f, "file_key_ad", ad, adl, ",\n     ");
	fprintf(f, "\"generation\": 5,\n     ");
	kv_hex(f, "bytes", out, sizeof(out), "}\n  ],\n");
	return 0;
}

static int json_config(FILE *f, uint8_t *cfg_out, size_t *cfg_len)
{
	uint8_t nk[32], ad[PFC_AD_MAX], blob[128], nonce[24];
	struct pfc_config c;
	struct pfc_volkeys *vk;
	struct pfc_wbuf w;
	size_t adl, bl;

	name_key_fixed(nk);
	seq(nonce, 24, 0x20);
	CHECK(pfc_config_init(&c, PFC_CIPHER_XCHACHA20POLY1305, 4096, 0, "vectors"));
	memcpy(c.volume_id, volume_id_fixed, 16);
	adl = pfc_ad_name_key(c.volume_id, ad);
	CHECK(testwrap_wrap(ad, adl, nk, nonce, blob, &bl));
	CHECK(pfc_config_set_wrapped(&c, blob, bl));
	CHECK(pfc_volkeys_new(nk, c.volume_id, &vk));
	CHECK(pfc_config_seal(&c, vk));
	pfc_wbuf_init_fixed(&w, cfg_out, PFC_CONFIG_MAX);
	CHECK(pfc_config_encode(&c, &w));
	*cfg_len = w.len;
	fputs("  \"config\": {", f);
	kv_hex(f, "name_key", nk, 32, ", ");
	kv_hex(f, "volume_id", c.volume_id, 16, ",\n    ");
	kv_hex(f, "name_key_ad", ad, adl, ",\n    ");
	kv_hex(f, "bytes", cfg_out, w.len, "\n  },\n");
	pfc_volkeys_free(vk);
	return 0;
}

static int write_json(const char *path)
{
	uint8_t nk[32], cfg[PFC_CONFIG_MAX];
	struct pfc_volkeys *vk;
	size_t cfg_len;
	FILE *f = fopen(path, "wx");
	int err = 0;

	if (!f) {
		fprintf(stderr, "vecgen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	name_key_fixed(nk);
	CHECK(pfc_volkeys_new(nk, volume_id_fixed, &vk));
	fputs("{\n  \"format_version\": 1,\n", f);
	fputs("  \"test_master_key\": {", f);
	kv_str(f, "name", TESTWRAP_NAME, ", ");
	fprintf(f, "\"version\": %u, ", TESTWRAP_VERSION);
	kv_hex(f, "key", TESTWRAP_MASTER_KEY, 32, "},\n");
	if ((err = json_kdf(f)) || (err = json_config(f, cfg, &cfg_len)) ||
	    (err = json_headers(f)) || (err = json_blocks(f)) || (err = json_names(f, vk)) ||
	    (err = json_symlinks_xattrs(f, vk)) || (err = json_long_symlinks(f, vk)))
		goto out;
	fputs("  \"end\": true\n}\n", f);
out:
	pfc_volkeys_free(vk);
	if (fclose(f) != 0)
		err = -1;
	return err;
}

/* ---- sample volumes ---- */

struct vol {
	int cipher;
	struct pfc_layout layout;
	struct pfc_volkeys *vk;
	uint8_t volume_id[16];
	uint8_t file_seed;
};

/* An encrypted file: header + blocks of pt written as `gens` sessions:
 * session s (generation s+1) writes blocks [from[s], to[s]).  hole: index of
 * a block left all-zero (or -1). */
static int sample_file(struct vol *v, int dfd, const char *backing, const uint8_t *pt, size_t len,
		       int sessions, const uint64_t *from, const uint64_t *to, long hole)
{
	const struct pfc_layout *l = &v->layout;
	uint8_t fk[32], fid[16], ad[PFC_AD_MAX], blob[128], hdr[PFC_HEADER_SIZE];
	uint64_t nblocks = (len + l->block_size - 1) / l->block_size;
	size_t total = (size_t)pfc_layout_backing_size(l, len), n, bl;
	uint8_t *file = calloc(1, total);
	struct pfc_filekey *k;
	struct pfc_header h;
	int err;

	if (!file)
		return PFC_ERR_NOMEM;
	seq(fk, 32, v->file_seed);
	seq(fid, 16, (uint8_t)(v->file_seed + 0x40));
	v->file_seed += 7;
	CHECK(wrap(ad, pfc_ad_file_key(v->volume_id, fid, ad), fk, blob, &bl));
	CHECK(pfc_filekey_new(fk, fid, l, &k));
	CHECK(pfc_header_init(&h, fid, blob, bl));
	h.generation = (uint64_t)sessions;
	for (int s = 0; s < sessions; s++)
		for (uint64_t b = from[s]; b < to[s] && b < nblocks; b++) {
			size_t off = (size_t)b * l->block_size;
			size_t bl2 = len - off < l->block_size ? len - off : l->block_size;

			if ((long)b == hole)
				continue;
			err = pfc_blocks_encrypt(k, (uint64_t)s + 1, b, pt + off, bl2,
						 file + pfc_layout_block_offset(l, b),
						 total - pfc_layout_block_offset(l, b), &n);
			if (err)
				goto out;
		}
	if ((err = pfc_header_encode(&h, k, hdr)))
		goto out;
	memcpy(file, hdr, sizeof(hdr));
	err = write_file(dfd, backing, file, total, 0644);
out:
	pfc_filekey_free(k);
	free(file);
	return err;
}

static int sample_dir(int parent, const char *backing, const uint8_t dir_id[16], int *out_fd)
{
	if (mkdirat(parent, backing, 0755) != 0)
		return -1;
	*out_fd = openat(parent, backing, O_RDONLY | O_DIRECTORY);
	if (*out_fd < 0)
		return -1;
	return write_file(*out_fd, PFC_DIRID_NAME, dir_id, 16, 0444);
}

/* The sample tree (same for both ciphers), mirrored in plain under VECGEN_SAMPLE_PLAIN:
 *   hello.txt                 16 bytes, generation 1
 *   empty                     0 bytes, header only (generation 0)
 *   docs/                     directory
 *   docs/report.bin           3 * 4096 + 100 bytes: session 1 writes all,
 *                             session 2 rewrites block 1; block 2 is a hole
 *   docs/<170 x 'L'>.txt      long name, 15 bytes
 *   docs/link -> ../hello.txt symlink
 *   docs/longlink -> "../a-long-symlink-target/..." (1000 bytes): a symlink
 *                             whose target is in .pfcrypt.symlinks/ (FORMAT.md 8.2)
 */
#define SAMPLE_LONG_TARGET 1000
static const char hello[] = "Hello, pfcrypt!\n";
static const char longtxt[] = "long name file\n";

static int report_plain(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i / 4096 == 2 ? 0 : (i * 13 + i / 4096));
	return 0;
}

static int sample_volume(const char *dir, int cipher)
{
	uint8_t nk[32], ad[PFC_AD_MAX], blob[128], cfgbuf[PFC_CONFIG_MAX], root_id[16], docs_id[16];
	uint8_t report[3 * 4096 + 100];
	char longname[200];
	struct pfc_backing_name b;
	struct pfc_config c;
	struct pfc_wbuf w;
	struct vol v = {.cipher = cipher, .file_seed = 0x11};
	size_t bl;
	int rfd, dfd;

	if (mkdir(dir, 0755) != 0 || (rfd = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
		return -1;
	name_key_fixed(nk);
	CHECK(pfc_config_init(&c, cipher, 4096, 0, "sample"));
	memcpy(v.volume_id, c.volume_id, 16);
	CHECK(wrap(ad, pfc_ad_name_key(c.volume_id, ad), nk, blob, &bl));
	CHECK(pfc_config_set_wrapped(&c, blob, bl));
	CHECK(pfc_volkeys_new(nk, c.volume_id, &v.vk));
	CHECK(pfc_config_seal(&c, v.vk));
	CHECK(pfc_config_layout(&c, &v.layout));
	pfc_wbuf_init_fixed(&w, cfgbuf, sizeof(cfgbuf));
	CHECK(pfc_config_encode(&c, &w));
	CHECK(write_file(rfd, PFC_CONFIG_NAME, cfgbuf, w.len, 0644));
	seq(root_id, 16, (uint8_t)(0xa0 + cipher));
	seq(docs_id, 16, (uint8_t)(0xb0 + cipher));
	CHECK(write_file(rfd, PFC_DIRID_NAME, root_id, 16, 0444));

	{
		const uint64_t from[] = {0}, to[] = {1};

		CHECK(pfc_name_to_backing(v.vk, root_id, "hello.txt", 9, &b));
		CHECK(sample_file(&v, rfd, b.name, (const uint8_t *)hello, 16, 1, from, to, -1));
		CHECK(pfc_name_to_backing(v.vk, root_id, "empty", 5, &b));
		CHECK(sample_file(&v, rfd, b.name, NULL, 0, 0, from, to, -1));
	}
	CHECK(pfc_name_to_backing(v.vk, root_id, "docs", 4, &b));
	CHECK(sample_dir(rfd, b.name, docs_id, &dfd));
	{
		const uint64_t from[] = {0, 1}, to[] = {4, 2};

		report_plain(report, sizeof(report));
		CHECK(pfc_name_to_backing(v.vk, docs_id, "report.bin", 10, &b));
		CHECK(sample_file(&v, dfd, b.name, report, sizeof(report), 2, from, to, 2));
	}
	{
		const uint64_t from[] = {0}, to[] = {1};

		memset(longname, 'L', 170);
		memcpy(longname + 170, ".txt", 5);
		CHECK(pfc_name_to_backing(v.vk, docs_id, longname, 174, &b));
		if (!b.is_long)
			return -1;
		CHECK(sample_file(&v, dfd, b.name, (const uint8_t *)longtxt, 15, 1, from, to, -1));
		CHECK(write_file(dfd, b.companion, b.enc, b.enc_len, 0644));
	}
	{
		char enc[PFC_SYMLINK_ENC_BUF];
		size_t n;

		CHECK(pfc_name_to_backing(v.vk, docs_id, "link", 4, &b));
		CHECK(pfc_symlink_encrypt(v.vk, "../hello.txt", 12, enc, sizeof(enc), &n));
		if (symlinkat(enc, dfd, b.name) != 0)
			return -1;
	}
	{
		static struct pfc_symlink_stored s;
		char t[SAMPLE_LONG_TARGET + 1];

		long_target(t, SAMPLE_LONG_TARGET);
		CHECK(pfc_name_to_backing(v.vk, docs_id, "longlink", 8, &b));
		CHECK(long_symlink(v.vk, t, SAMPLE_LONG_TARGET, &s));
		CHECK(pfc_symlink_companion_write(rfd, &s));
		if (!s.is_long || symlinkat(s.link, dfd, b.name) != 0)
			return -1;
	}
	close(dfd);
	close(rfd);
	pfc_volkeys_free(v.vk);
	return 0;
}

static int sample_plain(const char *dir)
{
	uint8_t report[3 * 4096 + 100];
	char longname[200];
	int rfd, dfd;

	if (mkdir(dir, 0755) != 0 || (rfd = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
		return -1;
	CHECK(write_file(rfd, "hello.txt", hello, 16, 0644));
	CHECK(write_file(rfd, "empty", "", 0, 0644));
	if (mkdirat(rfd, "docs", 0755) != 0 || (dfd = openat(rfd, "docs", O_RDONLY)) < 0)
		return -1;
	report_plain(report, sizeof(report));
	CHECK(write_file(dfd, "report.bin", report, sizeof(report), 0644));
	memset(longname, 'L', 170);
	memcpy(longname + 170, ".txt", 5);
	CHECK(write_file(dfd, longname, longtxt, 15, 0644));
	if (symlinkat("../hello.txt", dfd, "link") != 0)
		return -1;
	{
		char t[SAMPLE_LONG_TARGET + 1];

		long_target(t, SAMPLE_LONG_TARGET);
		if (symlinkat(t, dfd, "longlink") != 0)
			return -1;
	}
	close(dfd);
	close(rfd);
	return 0;
}

int vecgen_write_all(const char *outdir)
{
	struct detrng rng = {0};
	char path[4096];
	int err;

	CHECK(pfc_format_init());
	wrap_rng.counter = UINT64_C(1) << 32;
	main_rng = &rng;
	long_rng.counter = UINT64_C(3) << 32;
	pfc_format_set_test_rng(det_fill, &rng);
	snprintf(path, sizeof(path), "%s/%s", outdir, VECGEN_JSON);
	if ((err = write_json(path)))
		goto out;
	snprintf(path, sizeof(path), "%s/%s", outdir, VECGEN_SAMPLE_AES);
	if ((err = sample_volume(path, PFC_CIPHER_AES256GCM)))
		goto out;
	snprintf(path, sizeof(path), "%s/%s", outdir, VECGEN_SAMPLE_XCHA);
	if ((err = sample_volume(path, PFC_CIPHER_XCHACHA20POLY1305)))
		goto out;
	snprintf(path, sizeof(path), "%s/%s", outdir, VECGEN_SAMPLE_PLAIN);
	err = sample_plain(path);
out:
	pfc_format_set_test_rng(NULL, NULL);
	if (err)
		fprintf(stderr, "vecgen: failed (%d) in %s\n", err, outdir);
	return err;
}
