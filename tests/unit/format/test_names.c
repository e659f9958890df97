// SPDX-License-Identifier: MIT
/* test_names.c - file names per directory id, and directory id files. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "helpers.h"

static struct pfc_volkeys *vk;
static const uint8_t dir_a[16] = {0xa};
static const uint8_t dir_b[16] = {0xb};

static void setup(void)
{
	fmt_init();
	vk = make_volkeys(3, 4);
}

static void teardown(void)
{
	pfc_volkeys_free(vk);
}

TestSuite(names, .init = setup, .fini = teardown);

static void check_round_trip(const char *name, size_t len)
{
	char enc[PFC_ENCNAME_BUF], dec[PFC_NAME_BUF];
	size_t elen, dlen, m = 99;

	cr_assert_eq(pfc_name_encrypt(vk, dir_a, name, len, enc, sizeof(enc), &elen), 0, "len %zu",
		     len);
	cr_assert_eq(strlen(enc), elen);
	cr_assert_eq(elen, pfc_b64url_len(16 + (len + 15) / 16 * 16));
	cr_assert_eq(pfc_name_decrypt(vk, &dir_a, 1, enc, elen, dec, sizeof(dec), &dlen, &m), 0);
	cr_assert_eq(dlen, len);
	cr_assert_eq(memcmp(dec, name, len), 0);
	cr_assert_eq(dec[len], '\0');
	cr_assert_eq(m, 0);
}

Test(names, every_length_from_1_to_255_round_trips)
{
	char name[256];

	for (size_t len = 1; len <= 255; len++) {
		for (size_t i = 0; i < len; i++)
			name[i] = (char)('a' + (i + len) % 26);
		check_round_trip(name, len);
	}
}

Test(names, short_encoding_up_to_160_bytes_then_long)
{
	char name[256], enc[PFC_ENCNAME_BUF];
	size_t elen;

	memset(name, 'x', sizeof(name));
	cr_assert_eq(pfc_name_encrypt(vk, dir_a, name, 160, enc, sizeof(enc), &elen), 0);
	cr_assert_eq(elen, 235);
	cr_assert_leq(elen, PFC_ENCNAME_SHORT_MAX);
	cr_assert_eq(pfc_name_encrypt(vk, dir_a, name, 161, enc, sizeof(enc), &elen), 0);
	cr_assert_gt(elen, PFC_ENCNAME_SHORT_MAX);
	cr_assert_eq(pfc_name_encrypt(vk, dir_a, name, 255, enc, sizeof(enc), &elen), 0);
	cr_assert_eq(elen, PFC_ENCNAME_MAX);
}

Test(names, too_long_and_invalid_names_are_rejected)
{
	char name[4096], enc[PFC_ENCNAME_BUF];
	size_t elen;

	memset(name, 'y', sizeof(name));
	cr_assert_eq(pfc_name_encrypt(vk, dir_a, name, 256, enc, sizeof(enc), &elen),
		     PFC_ERR_NAME_TOO_LONG);
	cr_assert_eq(pfc_name_encrypt(vk, dir_a, name, 4095, enc, sizeof(enc), &elen),
		     PFC_ERR_NAME_TOO_LONG);
	cr_assert_eq(pfc_name_encrypt(vk, dir_a, "", 0, enc, sizeof(enc), &elen),
		     PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_name_encrypt(vk, dir_a, ".", 1, enc, sizeof(enc), &elen),
		     PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_name_encrypt(vk, dir_a, "..", 2, enc, sizeof(enc), &elen),
		     PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_name_encrypt(vk, dir_a, "a/b", 3, enc, sizeof(enc), &elen),
		     PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_name_encrypt(vk, dir_a, "/", 1, enc, sizeof(enc), &elen),
		     PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_name_encrypt(vk, dir_a, "a\0b", 3, enc, sizeof(enc), &elen),
		     PFC_ERR_NAME_INVALID);
	/* '/' beyond the limit: invalid wins over too long */
	name[300] = '/';
	cr_assert_eq(pfc_name_check(name, 301), PFC_ERR_NAME_INVALID);
	check_round_trip("...", 3);
	check_round_trip(".hidden", 7);
}

Test(names, invalid_utf8_and_control_bytes_round_trip)
{
	const char bad_utf8[] = "\xff\xfe\xc3\x28\xe2\x82 caf\xe9 \x01\x7f\n";

	check_round_trip(bad_utf8, sizeof(bad_utf8) - 1);
	check_round_trip("\xc3\xa9t\xc3\xa9", 5);
}

Test(names, deterministic_per_directory)
{
	char e1[PFC_ENCNAME_BUF], e2[PFC_ENCNAME_BUF], e3[PFC_ENCNAME_BUF];
	size_t l1, l2, l3;

	cr_assert_eq(pfc_name_encrypt(vk, dir_a, "report.pdf", 10, e1, sizeof(e1), &l1), 0);
	cr_assert_eq(pfc_name_encrypt(vk, dir_a, "report.pdf", 10, e2, sizeof(e2), &l2), 0);
	cr_assert_eq(pfc_name_encrypt(vk, dir_b, "report.pdf", 10, e3, sizeof(e3), &l3), 0);
	cr_assert_str_eq(e1, e2);
	cr_assert_str_neq(e1, e3);
	cr_assert_eq(l1, 43, "16 + 16 bytes -> 43 chars");
}

Test(names, several_candidate_dir_ids_and_which_matched)
{
	const uint8_t ids[3][16] = {{1}, {0xb}, {2}};
	char enc[PFC_ENCNAME_BUF], dec[PFC_NAME_BUF];
	size_t elen, dlen, m = 9;

	cr_assert_eq(pfc_name_encrypt(vk, dir_b, "x.txt", 5, enc, sizeof(enc), &elen), 0);
	cr_assert_eq(pfc_name_decrypt(vk, ids, 3, enc, elen, dec, sizeof(dec), &dlen, &m), 0);
	cr_assert_eq(m, 1);
	cr_assert_str_eq(dec, "x.txt");
	cr_assert_eq(pfc_name_decrypt(vk, ids, 1, enc, elen, dec, sizeof(dec), &dlen, &m),
		     PFC_ERR_AUTH, "wrong directory");
	cr_assert_eq(pfc_name_decrypt(vk, ids, 0, enc, elen, dec, sizeof(dec), &dlen, &m),
		     PFC_ERR_INVAL);
}

Test(names, wrong_key_and_tampering_fail)
{
	struct pfc_volkeys *other = make_volkeys(5, 4);
	char enc[PFC_ENCNAME_BUF], dec[PFC_NAME_BUF];
	size_t elen, dlen, m;
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	cr_assert_eq(pfc_name_encrypt(vk, dir_a, "secret-plan.txt", 15, enc, sizeof(enc), &elen),
		     0);
	cr_assert_eq(pfc_name_decrypt(other, &dir_a, 1, enc, elen, dec, sizeof(dec), &dlen, &m),
		     PFC_ERR_AUTH);
	pfc_volkeys_free(other);
	/* every character replaced by every other alphabet character */
	for (size_t i = 0; i < elen; i++) {
		char orig = enc[i];

		for (size_t j = 0; j < 64; j++) {
			if (alpha[j] == orig)
				continue;
			enc[i] = alpha[j];
			int err =
			    pfc_name_decrypt(vk, &dir_a, 1, enc, elen, dec, sizeof(dec), &dlen, &m);
			cr_assert(err == PFC_ERR_AUTH || err == PFC_ERR_CORRUPT, "pos %zu: %d", i,
				  err);
		}
		enc[i] = orig;
	}
	cr_assert_eq(pfc_name_decrypt(vk, &dir_a, 1, enc, elen - 1, dec, sizeof(dec), &dlen, &m),
		     PFC_ERR_CORRUPT);
	cr_assert_eq(pfc_name_decrypt(vk, &dir_a, 1, enc, elen, dec, sizeof(dec), &dlen, &m), 0);
}

Test(names, random_input_decrypt)
{
	char in[400], dec[PFC_NAME_BUF];
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.";
	size_t dlen, m;

	for (int i = 0; i < 20000; i++) {
		size_t len = randombytes_uniform(sizeof(in));

		for (size_t j = 0; j < len; j++)
			in[j] = i % 2 ? (char)randombytes_uniform(256)
				      : alpha[randombytes_uniform(sizeof(alpha) - 1)];
		int err = pfc_name_decrypt(vk, &dir_a, 1, in, len, dec, sizeof(dec), &dlen, &m);
		cr_assert(err == PFC_ERR_AUTH || err == PFC_ERR_CORRUPT, "%d", err);
	}
}

Test(names, dirid_create_unsynced_hands_back_the_open_file)
{
	char dir[] = "/tmp/pfc-format-dirid-XXXXXX";
	uint8_t id[16], ids[PFC_DIRIDS_MAX][16];
	size_t n, primary;
	struct stat st;
	int dfd, fd = -1;

	cr_assert_not_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(pfc_dirid_create(dfd, id, &fd), 0);
	cr_assert_geq(fd, 0);
	/* written and readable at once; the descriptor is the caller's, open for writing */
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 16);
	cr_assert_eq(st.st_mode & 07777, 0444);
	cr_assert_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY);
	cr_assert_eq(fsync(fd), 0);
	cr_assert_eq(close(fd), 0);
	cr_assert_eq(pfc_dirid_load_all(dfd, ids, PFC_DIRIDS_MAX, &n, &primary), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(memcmp(ids[0], id, 16), 0);
	fd = -1;
	cr_assert_eq(pfc_dirid_create(dfd, id, &fd), PFC_ERR_EXISTS);
	cr_assert_eq(fd, -1, "no descriptor on failure");
	unlinkat(dfd, ".pfcrypt.dirid", 0);
	close(dfd);
	rmdir(dir);
}

Test(names, dirid_files_and_sync_conflict_copies)
{
	char dir[] = "/tmp/pfc-format-dirid-XXXXXX";
	uint8_t id[16], ids[PFC_DIRIDS_MAX][16], other[16];
	size_t n, primary;
	int dfd, fd;

	cr_assert_not_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(pfc_dirid_load_all(dfd, ids, PFC_DIRIDS_MAX, &n, &primary), PFC_ERR_NOT_FOUND);
	cr_assert_eq(pfc_dirid_create(dfd, id, NULL), 0);
	cr_assert_eq(pfc_dirid_create(dfd, other, NULL), PFC_ERR_EXISTS);
	cr_assert_eq(pfc_dirid_load_all(dfd, ids, PFC_DIRIDS_MAX, &n, &primary), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(memcmp(ids[0], id, 16), 0);
	/* a second id arrives as a conflict copy; a third copy is malformed */
	memset(other, 0, 16);
	other[15] = 1; /* smaller than any random id but the absurd */
	fd = openat(dfd, ".pfcrypt.dirid.sync-conflict-20240101-000000-ABC", O_WRONLY | O_CREAT,
		    0644);
	cr_assert_eq(write(fd, other, 16), 16);
	close(fd);
	fd = openat(dfd, ".pfcrypt.dirid (conflicted copy)", O_WRONLY | O_CREAT, 0644);
	cr_assert_eq(write(fd, other, 15), 15);
	close(fd);
	cr_assert_eq(pfc_dirid_load_all(dfd, ids, PFC_DIRIDS_MAX, &n, &primary), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(primary, 0);
	cr_assert_eq(memcmp(ids[primary], other, 16), 0, "primary is the smallest id");
	cr_assert_eq(memcmp(ids[1], id, 16), 0);
	cr_assert_eq(pfc_dirid_parse(other, 15, id), PFC_ERR_CORRUPT);
	unlinkat(dfd, ".pfcrypt.dirid.sync-conflict-20240101-000000-ABC", 0);
	unlinkat(dfd, ".pfcrypt.dirid (conflicted copy)", 0);
	unlinkat(dfd, PFC_DIRID_NAME, 0);
	close(dfd);
	cr_assert_eq(rmdir(dir), 0);
}

/* An id file that is a FIFO, socket or device is never opened (a FIFO's open
 * for reading would block), ignored (FORMAT.md 5.4) and reported in *odd. */
Test(names, dirid_entries_that_are_not_regular_files, .timeout = 10)
{
	char dir[] = "/tmp/pfc-format-diridfifo-XXXXXX";
	uint8_t id[16], ids[PFC_DIRIDS_MAX][16];
	struct pfc_dirid_odd odd;
	size_t n, primary;
	int dfd;

	cr_assert_not_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(mkfifoat(dfd, PFC_DIRID_NAME, 0644), 0);
	cr_assert_eq(pfc_dirid_load_report(dfd, ids, PFC_DIRIDS_MAX, &n, &primary, &odd),
		     PFC_ERR_NOT_FOUND);
	cr_assert_eq(odd.n, 1);
	cr_assert_str_eq(odd.name, PFC_DIRID_NAME);
	cr_assert_eq(odd.type, S_IFIFO);
	cr_assert_eq(pfc_dirid_load_all(dfd, ids, PFC_DIRIDS_MAX, &n, &primary), PFC_ERR_NOT_FOUND);
	cr_assert_eq(unlinkat(dfd, PFC_DIRID_NAME, 0), 0);
	/* beside a good id: the id loads, the device copy is still reported */
	cr_assert_eq(pfc_dirid_create(dfd, id, NULL), 0);
	cr_assert_eq(mknodat(dfd, ".pfcrypt.dirid.conflict1", S_IFCHR | 0644, makedev(1, 3)), 0);
	cr_assert_eq(pfc_dirid_load_report(dfd, ids, PFC_DIRIDS_MAX, &n, &primary, &odd), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(memcmp(ids[0], id, 16), 0);
	cr_assert_eq(odd.n, 1);
	cr_assert_str_eq(odd.name, ".pfcrypt.dirid.conflict1");
	cr_assert_eq(odd.type, S_IFCHR);
	unlinkat(dfd, ".pfcrypt.dirid.conflict1", 0);
	unlinkat(dfd, PFC_DIRID_NAME, 0);
	close(dfd);
	cr_assert_eq(rmdir(dir), 0);
}
