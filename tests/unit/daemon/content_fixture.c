/* SPDX-License-Identifier: MIT */
/* content_fixture.c - see content_fixture.h. */
#include "content_fixture.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pfcd *pfcd_g; /* main.c's, which the tests do not link */
static struct pfcd fix_d;
#define FIX_TEMPLATE "/tmp/daemon-test-content-XXXXXX"

char fix_dir[] = FIX_TEMPLATE;

static void filekey_destroy(void *v)
{
	pfc_filekey_free(v);
}

void fix_setup(void)
{
	int root;

	cr_assert_eq(sodium_init() < 0, false);
	memcpy(fix_dir, FIX_TEMPLATE, sizeof(FIX_TEMPLATE)); /* mkdtemp filled it last time */
	cr_assert_not_null(mkdtemp(fix_dir));
	memset(&fix_d, 0, sizeof(fix_d));
	pfcd_g = &fix_d;
	cr_assert_eq(pfc_layout_init(&fix_d.layout, PFC_CIPHER_XCHACHA20POLY1305, FIX_BS), 0);
	cr_assert_eq(pfc_kcache_new(64, 600, filekey_destroy, &fix_d.keys), 0);
	root = open(fix_dir, O_PATH | O_DIRECTORY);
	cr_assert(root >= 0);
	cr_assert_eq(pfc_itable_init(&fix_d.itable, root, NULL, 64), 0);
}

void fix_teardown(void)
{
	char cmd[64];

	pfc_itable_destroy(&fix_d.itable);
	pfc_kcache_free(fix_d.keys);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fix_dir);
	cr_assert_eq(system(cmd), 0);
}

static void fix_open(struct fix_file *f, const char *name)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", fix_dir, name);
	f->fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert(f->fd >= 0, "%s: %m", p);
	memset(&f->in, 0, sizeof(f->in));
	f->in.fd = f->fd;
	f->in.orphan = true;
	f->in.nlookup = 1;
	f->in.type = S_IFREG;
}

void fix_file_empty(struct fix_file *f, const char *name)
{
	fix_open(f, name);
}

void fix_file_new(struct fix_file *f, const char *name)
{
	uint8_t key[PFC_KEY_BYTES], id[PFC_ID_BYTES], blob[48], hb[PFC_HEADER_SIZE];
	struct pfc_filekey *fk;
	struct pfc_kentry *e;
	struct pfc_header h;

	fix_open(f, name);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(id, sizeof(id));
	randombytes_buf(blob, sizeof(blob)); /* never unwrapped: the key is cached */
	cr_assert_eq(pfc_filekey_new(key, id, &pfcd_g->layout, &fk), 0);
	cr_assert_eq(pfc_header_init(&h, id, blob, sizeof(blob)), 0);
	cr_assert_eq(pfc_header_encode(&h, fk, hb), 0);
	cr_assert_eq(pwrite(f->fd, hb, sizeof(hb), 0), (ssize_t)sizeof(hb));
	e = pfc_kcache_insert(pfcd_g->keys, id, fk);
	cr_assert_not_null(e);
	pfc_kcache_release(pfcd_g->keys, e); /* the load takes its own hold */
	cr_assert_eq(pfcd_file_load(&f->in, f->fd), 0);
	cr_assert(f->in.f.loaded);
	sodium_memzero(key, sizeof(key));
}

void fix_file_close(struct fix_file *f)
{
	pfcd_file_unload(&f->in);
	close(f->fd);
}

uint64_t fix_header_generation(int fd)
{
	uint8_t hb[PFC_HEADER_SIZE];
	struct pfc_header h;

	cr_assert_eq(pread(fd, hb, sizeof(hb), 0), (ssize_t)sizeof(hb));
	cr_assert_eq(pfc_header_parse(hb, sizeof(hb), &h), 0);
	return h.generation;
}

uint64_t fix_size(int fd)
{
	uint64_t size, backing;

	cr_assert_eq(pfcd_file_size(fd, &size, &backing), 0);
	return size;
}

uint8_t fix_byte(unsigned seed, uint64_t i)
{
	return (uint8_t)(1 + (i * 131 + seed * 7) % 251);
}

int fix_write(struct fix_file *f, uint64_t off, size_t size, unsigned seed)
{
	uint8_t *b = malloc(size ? size : 1);
	int rc;

	cr_assert_not_null(b);
	for (size_t i = 0; i < size; i++)
		b[i] = fix_byte(seed, off + i);
	rc = pfcd_file_write(&f->in, f->fd, (const char *)b, size, (off_t)off, false);
	free(b);
	return rc;
}

void fix_expect(struct fix_file *f, uint64_t off, size_t size, unsigned seed)
{
	const char *data;
	size_t got;

	cr_assert_eq(pfcd_file_read(&f->in, f->fd, size, (off_t)off, &data, &got), 0);
	cr_assert_eq(got, size, "read at %llu: %zu of %zu bytes", (unsigned long long)off, got,
		     size);
	for (size_t i = 0; i < size; i++)
		cr_assert_eq((uint8_t)data[i], seed ? fix_byte(seed, off + i) : 0, "byte %llu",
			     (unsigned long long)(off + i));
}
