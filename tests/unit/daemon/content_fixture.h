/* SPDX-License-Identifier: MIT */
/* content_fixture.h - a daemon without FUSE for the tests of regular-file
 * content (filekey.c, generation.c, blocks.c, fileio.c, filesize.c, attr.c,
 * util.c): pfcd_g with a layout, a key cache and an inode table on a temp
 * directory, and files with a real header whose key sits in the cache (so
 * a load never asks a keystore). */
#ifndef PFC_TEST_CONTENT_FIXTURE_H
#define PFC_TEST_CONTENT_FIXTURE_H

#include "fs/daemon/content.h"

#define FIX_BS 4096u /* plaintext block size of the fixture's volume */

/* A file of the fixture: its inode (an orphan outside the table, as
 * ops_entry.c's make_regular makes one), its O_RDWR descriptor. */
struct fix_file {
	struct pfc_inode in;
	int fd;
};

extern char fix_dir[];

void fix_setup(void);
void fix_teardown(void);
/* A new file name with a header (generation 0) and its key cached; loaded
 * through pfcd_file_load. */
void fix_file_new(struct fix_file *f, const char *name);
/* An empty backing file (no header yet), not loaded. */
void fix_file_empty(struct fix_file *f, const char *name);
void fix_file_close(struct fix_file *f);
/* The generation in the backing file's header (parsed). */
uint64_t fix_header_generation(int fd);
/* Plaintext size of the file. */
uint64_t fix_size(int fd);
/* Write size bytes of pattern seed at off through pfcd_file_write; 0 or -errno. */
int fix_write(struct fix_file *f, uint64_t off, size_t size, unsigned seed);
/* Read back and compare with pattern seed (or zeros if seed == 0). */
void fix_expect(struct fix_file *f, uint64_t off, size_t size, unsigned seed);
/* Byte i of pattern seed (never 0 for seed != 0). */
uint8_t fix_byte(unsigned seed, uint64_t i);

#endif
