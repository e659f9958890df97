/* SPDX-License-Identifier: MIT */
/* test_generation.c - fs/daemon/generation.c: the header's generation
 * counter bumped once per generation, a modification with no writer open a
 * generation of its own, writers counted down at close and up again by a
 * write after FLUSH. */
#include <criterion/criterion.h>

#include "content_fixture.h"

TestSuite(daemon_generation, .init = fix_setup, .fini = fix_teardown);

Test(daemon_generation, one_bump_while_a_writer_is_open)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	f.in.f.writers = 1;
	cr_assert_eq(pfcd_gen_begin(&f.in, f.fd), 0);
	cr_assert_eq(f.in.f.generation, 1);
	cr_assert(f.in.f.gen_active);
	cr_assert_eq(pfcd_gen_begin(&f.in, f.fd), 0);
	cr_assert_eq(pfcd_gen_begin(&f.in, f.fd), 0);
	cr_assert_eq(fix_header_generation(f.fd), 1);
	pfcd_file_writer_closed(&f.in);
	cr_assert(!f.in.f.gen_active);
	cr_assert_eq(f.in.f.writers, 0);
	fix_file_close(&f);
}

Test(daemon_generation, without_a_writer_each_modification_is_a_generation)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	for (uint64_t g = 1; g <= 3; g++) {
		cr_assert_eq(pfcd_gen_begin(&f.in, f.fd), 0);
		cr_assert(!f.in.f.gen_active);
		cr_assert_eq(fix_header_generation(f.fd), g);
	}
	fix_file_close(&f);
}

Test(daemon_generation, the_bumped_header_loads_again)
{
	struct fix_file f;
	uint8_t id[PFC_ID_BYTES];

	fix_file_new(&f, "a");
	cr_assert_eq(pfcd_gen_begin(&f.in, f.fd), 0);
	cr_assert_eq(pfcd_gen_begin(&f.in, f.fd), 0);
	memcpy(id, f.in.f.file_id, sizeof(id));
	pfcd_file_unload(&f.in);
	cr_assert_eq(pfcd_file_load(&f.in, f.fd), 0); /* its MAC verifies */
	cr_assert_eq(f.in.f.generation, 2);
	cr_assert_eq(memcmp(f.in.f.file_id, id, sizeof(id)), 0);
	fix_file_close(&f);
}

Test(daemon_generation, last_of_two_writers_ends_the_generation)
{
	struct fix_file f;

	fix_file_new(&f, "a");
	f.in.f.writers = 2;
	cr_assert_eq(pfcd_gen_begin(&f.in, f.fd), 0);
	pfcd_file_writer_closed(&f.in);
	cr_assert(f.in.f.gen_active);
	pfcd_file_writer_closed(&f.in);
	cr_assert(!f.in.f.gen_active);
	pfcd_file_writer_closed(&f.in); /* never below zero */
	cr_assert_eq(f.in.f.writers, 0);
	cr_assert_eq(pfcd_gen_begin(&f.in, f.fd), 0);
	cr_assert_eq(fix_header_generation(f.fd), 2);
	fix_file_close(&f);
}

Test(daemon_generation, write_after_flush_counts_the_handle_again)
{
	struct pfcd_fh fh = {.writer = true, .flushed = true};
	struct pfcd_fh reader = {.writer = false, .flushed = true};
	struct fix_file f;

	fix_file_new(&f, "a");
	pfcd_file_writer_active(&f.in, &fh);
	cr_assert_eq(f.in.f.writers, 1);
	cr_assert(!fh.flushed);
	pfcd_file_writer_active(&f.in, &fh); /* counted once */
	cr_assert_eq(f.in.f.writers, 1);
	pfcd_file_writer_active(&f.in, &reader);
	cr_assert_eq(f.in.f.writers, 1);
	fix_file_close(&f);
}
