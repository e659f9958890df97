// SPDX-License-Identifier: MIT
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/buf.h"
#include "fs/err.h"

static void init(void)
{
	cr_assert_geq(sodium_init(), 0);
}

TestSuite(buf, .init = init);

Test(buf, integers_round_trip_little_endian)
{
	uint8_t mem[15];
	struct pfc_wbuf w;
	struct pfc_rbuf r;
	uint8_t a;
	uint16_t b;
	uint32_t c;
	uint64_t d;

	pfc_wbuf_init_fixed(&w, mem, sizeof(mem));
	pfc_wbuf_put_u8(&w, 0xab);
	pfc_wbuf_put_u16(&w, 0x1234);
	pfc_wbuf_put_u32(&w, 0xdeadbeef);
	pfc_wbuf_put_u64(&w, 0x0102030405060708ull);
	cr_assert_eq(pfc_wbuf_error(&w), 0);
	cr_assert_eq(w.len, 15);
	cr_assert_eq(mem[1], 0x34, "little-endian on the wire");
	cr_assert_eq(mem[14], 0x01);
	pfc_rbuf_init(&r, mem, sizeof(mem));
	cr_assert_eq(pfc_rbuf_get_u8(&r, &a), 0);
	cr_assert_eq(pfc_rbuf_get_u16(&r, &b), 0);
	cr_assert_eq(pfc_rbuf_get_u32(&r, &c), 0);
	cr_assert_eq(pfc_rbuf_get_u64(&r, &d), 0);
	cr_assert_eq(a, 0xab);
	cr_assert_eq(b, 0x1234);
	cr_assert_eq(c, 0xdeadbeef);
	cr_assert_eq(d, 0x0102030405060708ull);
	cr_assert_eq(pfc_rbuf_expect_end(&r), 0);
}

Test(buf, truncated_reads_fail_and_do_not_advance)
{
	const uint8_t mem[3] = {1, 2, 3};
	struct pfc_rbuf r;
	uint32_t v = 77;

	pfc_rbuf_init(&r, mem, sizeof(mem));
	cr_assert_eq(pfc_rbuf_get_u32(&r, &v), PFC_ERR_TRUNCATED);
	cr_assert_eq(v, 77, "output untouched on failure");
	cr_assert_eq(pfc_rbuf_left(&r), 3);
	cr_assert_eq(pfc_rbuf_expect_end(&r), PFC_ERR_CORRUPT);
}

Test(buf, fixed_writer_overflow_is_sticky)
{
	uint8_t mem[4];
	struct pfc_wbuf w;

	pfc_wbuf_init_fixed(&w, mem, sizeof(mem));
	pfc_wbuf_put_u32(&w, 1);
	pfc_wbuf_put_u8(&w, 2);
	cr_assert_eq(pfc_wbuf_error(&w), PFC_ERR_TOO_LARGE);
	pfc_wbuf_put_u8(&w, 3);
	cr_assert_eq(w.len, 4, "nothing written after the first error");
}

Test(buf, growable_secure_writer_grows_and_keeps_contents)
{
	struct pfc_wbuf w;
	struct pfc_rbuf r;
	uint8_t chunk[100];

	cr_assert_eq(pfc_wbuf_init(&w, 8, true), 0);
	for (int i = 0; i < 50; i++) {
		memset(chunk, i, sizeof(chunk));
		pfc_wbuf_put_bytes(&w, chunk, sizeof(chunk));
	}
	cr_assert_eq(pfc_wbuf_error(&w), 0);
	cr_assert_eq(w.len, 5000);
	pfc_rbuf_init(&r, w.p, w.len);
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(pfc_rbuf_get_bytes(&r, chunk, sizeof(chunk)), 0);
		cr_assert_eq(chunk[0], i);
		cr_assert_eq(chunk[99], i);
	}
	pfc_wbuf_free(&w);
	cr_assert_null(w.p);
}

Test(buf, reserved_bytes_must_be_zero)
{
	const uint8_t ok[4] = {0};
	const uint8_t bad[4] = {0, 0, 1, 0};
	struct pfc_rbuf r;

	pfc_rbuf_init(&r, ok, 4);
	cr_assert_eq(pfc_rbuf_skip_zero(&r, 4), 0);
	pfc_rbuf_init(&r, bad, 4);
	cr_assert_eq(pfc_rbuf_skip_zero(&r, 4), PFC_ERR_CORRUPT);
	cr_assert_eq(pfc_rbuf_left(&r), 4);
}

Test(buf, length_value_respects_maximum_and_bounds)
{
	uint8_t mem[16];
	struct pfc_wbuf w;
	struct pfc_rbuf r;
	const uint8_t *p;
	size_t n;

	pfc_wbuf_init_fixed(&w, mem, sizeof(mem));
	pfc_wbuf_put_lv16(&w, "hello", 5);
	cr_assert_eq(pfc_wbuf_error(&w), 0);
	pfc_rbuf_init(&r, mem, w.len);
	cr_assert_eq(pfc_rbuf_get_lv16(&r, 4, &p, &n), PFC_ERR_TOO_LARGE);
	cr_assert_eq(pfc_rbuf_get_lv16(&r, 5, &p, &n), 0);
	cr_assert_eq(n, 5);
	cr_assert_eq(memcmp(p, "hello", 5), 0);
	/* a length that points past the end */
	mem[0] = 200;
	pfc_rbuf_init(&r, mem, 7);
	cr_assert_eq(pfc_rbuf_get_lv16(&r, 1000, &p, &n), PFC_ERR_TRUNCATED);
	cr_assert_eq(pfc_rbuf_left(&r), 7);
}

Test(buf, random_input_never_reads_out_of_bounds)
{
	uint8_t mem[64];

	for (int round = 0; round < 2000; round++) {
		size_t len = randombytes_uniform(sizeof(mem) + 1);
		struct pfc_rbuf r;
		const uint8_t *p;
		size_t n;
		uint64_t v;

		randombytes_buf(mem, sizeof(mem));
		pfc_rbuf_init(&r, mem, len);
		while (pfc_rbuf_left(&r)) {
			int op = (int)randombytes_uniform(3);
			int err = op == 0   ? pfc_rbuf_get_u64(&r, &v)
				  : op == 1 ? pfc_rbuf_get_lv16(&r, 64, &p, &n)
					    : pfc_rbuf_get_u8(&r, (uint8_t *)&v);

			if (err)
				break;
		}
		cr_assert_leq(r.pos, len);
	}
}
