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

Test(buf, lv32_round_trip)
{
	uint8_t mem[16];
	struct pfc_wbuf w;
	struct pfc_rbuf r;
	const uint8_t *p;
	size_t n = 0;

	pfc_wbuf_init_fixed(&w, mem, sizeof(mem));
	pfc_wbuf_put_lv32(&w, "abc", 3);
	cr_assert_eq(pfc_wbuf_error(&w), 0);
	cr_assert_eq(pfc_wbuf_len(&w), 7);
	cr_assert_eq(memcmp(mem, "\x03\0\0\0abc", 7), 0);
	pfc_rbuf_init(&r, mem, 7);
	cr_assert_eq(pfc_rbuf_get_lv32(&r, 3, &p, &n), 0, "a length of exactly max is accepted");
	cr_assert_eq(n, 3);
	cr_assert_eq(memcmp(p, "abc", 3), 0);
	cr_assert_eq(pfc_rbuf_expect_end(&r), 0);
}

Test(buf, lv32_overlong_and_short_fail_without_advancing)
{
	const uint8_t big[] = {4, 0, 0, 0, 'a', 'b', 'c', 'd'};
	const uint8_t cut[] = {5, 0, 0, 0, 'a', 'b'};
	const uint8_t *p = NULL;
	struct pfc_rbuf r;
	size_t n = 99;

	pfc_rbuf_init(&r, big, sizeof(big));
	cr_assert_eq(pfc_rbuf_get_lv32(&r, 3, &p, &n), PFC_ERR_TOO_LARGE, "one past max");
	cr_assert_eq(pfc_rbuf_left(&r), sizeof(big));
	cr_assert_eq(n, 99);
	pfc_rbuf_init(&r, cut, sizeof(cut));
	cr_assert_eq(pfc_rbuf_get_lv32(&r, 100, &p, &n), PFC_ERR_TRUNCATED);
	cr_assert_eq(pfc_rbuf_left(&r), sizeof(cut));
	pfc_rbuf_init(&r, cut, 3);
	cr_assert_eq(pfc_rbuf_get_lv32(&r, 100, &p, &n), PFC_ERR_TRUNCATED, "short length field");
	cr_assert_null(p);
}

Test(buf, u32_array_round_trip_and_boundaries)
{
	const uint32_t in[3] = {1, 0xdeadbeef, 7};
	uint32_t out[3] = {0};
	uint8_t mem[12];
	struct pfc_wbuf w;
	struct pfc_rbuf r;

	pfc_wbuf_init_fixed(&w, mem, sizeof(mem));
	pfc_wbuf_put_u32_array(&w, in, 3);
	cr_assert_eq(pfc_wbuf_error(&w), 0);
	cr_assert_eq(mem[4], 0xef, "each value little-endian");
	pfc_rbuf_init(&r, mem, sizeof(mem));
	cr_assert_eq(pfc_rbuf_get_u32_array(&r, 3, out), 0, "exactly the bytes left");
	cr_assert_eq(memcmp(in, out, sizeof(in)), 0);
	cr_assert_eq(pfc_rbuf_expect_end(&r), 0);
	cr_assert_eq(pfc_rbuf_get_u32_array(&r, 0, out), 0, "an empty array at the end");
	pfc_rbuf_init(&r, mem, 11);
	memset(out, 0, sizeof(out));
	cr_assert_eq(pfc_rbuf_get_u32_array(&r, 3, out), PFC_ERR_TRUNCATED);
	cr_assert_eq(out[0], 0, "output untouched on failure");
	cr_assert_eq(pfc_rbuf_left(&r), 11);
	pfc_wbuf_init_fixed(&w, mem, 11);
	pfc_wbuf_put_u32_array(&w, in, 3);
	cr_assert_eq(pfc_wbuf_error(&w), PFC_ERR_TOO_LARGE, "writer past its capacity");
}

Test(buf, box_splits_nonce_ciphertext_tag)
{
	uint8_t mem[48];
	struct pfc_rbuf r;
	struct pfc_box b;
	uint8_t first;

	for (size_t i = 0; i < sizeof(mem); i++)
		mem[i] = (uint8_t)i;
	pfc_rbuf_init(&r, mem, sizeof(mem));
	cr_assert_eq(pfc_rbuf_get_u8(&r, &first), 0);
	cr_assert_eq(pfc_rbuf_get_box(&r, 47, 24, 16, &b), 0);
	cr_assert_eq(b.nonce, mem + 1);
	cr_assert_eq(b.ct, mem + 25);
	cr_assert_eq(b.ct_len, 23, "ciphertext with its tag");
	cr_assert_eq(b.text_len, 7);
	cr_assert_eq(pfc_rbuf_expect_end(&r), 0);
}

Test(buf, box_of_exactly_nonce_and_tag_is_empty_text)
{
	uint8_t mem[40] = {0};
	struct pfc_box b;

	cr_assert_eq(pfc_box_split(mem, 40, 24, 16, &b), 0);
	cr_assert_eq(b.text_len, 0);
	cr_assert_eq(b.ct_len, 16);
}

Test(buf, box_shorter_than_nonce_and_tag_is_truncated)
{
	uint8_t mem[40] = {0};
	struct pfc_box b = {0};
	struct pfc_rbuf r;

	cr_assert_eq(pfc_box_split(mem, 39, 24, 16, &b), PFC_ERR_TRUNCATED);
	cr_assert_eq(pfc_box_split(mem, 23, 24, 0, &b), PFC_ERR_TRUNCATED,
		     "shorter than the nonce");
	cr_assert_null(b.ct, "output untouched on failure");
	pfc_rbuf_init(&r, mem, 30);
	cr_assert_eq(pfc_rbuf_get_box(&r, 40, 24, 0, &b), PFC_ERR_TRUNCATED,
		     "past the reader's end");
	cr_assert_eq(pfc_rbuf_left(&r), 30);
	cr_assert_eq(pfc_rbuf_get_box(&r, 30, 24, 16, &b), PFC_ERR_TRUNCATED);
	cr_assert_eq(pfc_rbuf_left(&r), 30, "no advance on failure");
}

Test(buf, writer_patch_and_span)
{
	uint8_t mem[8];
	struct pfc_wbuf w;

	pfc_wbuf_init_fixed(&w, mem, sizeof(mem));
	pfc_wbuf_put_u32(&w, 0);
	pfc_wbuf_put_u16(&w, 0xbeef);
	pfc_wbuf_patch_u32(&w, 0, 0x01020304);
	cr_assert_eq(pfc_wbuf_error(&w), 0);
	cr_assert_eq(mem[0], 0x04);
	cr_assert_eq(pfc_wbuf_data(&w), mem);
	cr_assert_eq(pfc_wbuf_span(&w, 4, 2), mem + 4, "exactly to the end");
	cr_assert_null(pfc_wbuf_span(&w, 4, 3), "past what was written");
	pfc_wbuf_patch_u32(&w, 3, 1);
	cr_assert_eq(pfc_wbuf_error(&w), PFC_ERR_INVAL, "a patch past what was written");
}
