// SPDX-License-Identifier: MIT
/* test_json.c - json_str: every byte string becomes a valid JSON string literal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tools/cli.h"

static char *enc(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	json_str(f, s);
	fclose(f);
	return buf;
}

static void expect(const char *in, const char *out)
{
	char *got = enc(in);

	cr_expect_str_eq(got, out, "json_str(%s)", in);
	free(got);
}

Test(json, plain_ascii_and_utf8_pass_through)
{
	expect("abc/def", "\"abc/def\"");
	expect("", "\"\"");
	expect("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91",
	       "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91\"");
}

Test(json, quotes_backslashes_and_controls_are_escaped)
{
	expect("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect("l1\nl2\tx\x01\x1f", "\"l1\\nl2\\tx\\u0001\\u001f\"");
}

Test(json, invalid_utf8_bytes_become_lone_surrogates_udcxx)
{
	expect("\xff", "\"\\udcff\"");
	expect("a\xc3", "\"a\\udcc3\"");				/* truncated sequence */
	expect("\xc0\xaf", "\"\\udcc0\\udcaf\"");			/* overlong '/' */
	expect("\xed\xa0\x80", "\"\\udced\\udca0\\udc80\"");		/* UTF-16 surrogate */
	expect("\xf4\x90\x80\x80", "\"\\udcf4\\udc90\\udc80\\udc80\""); /* > U+10FFFF */
}

/* issue 17 point 7: a name that is not UTF-8 never prints as a valid one */
Test(json, latin1_byte_and_its_utf8_character_differ)
{
	char *a = enc("/caf\xe9"), *b = enc("/caf\xc3\xa9");

	cr_expect_str_eq(a, "\"/caf\\udce9\"");
	cr_expect_str_eq(b, "\"/caf\xc3\xa9\"");
	cr_expect_str_neq(a, b);
	free(a);
	free(b);
}

Test(json, random_bytes_always_give_printable_ascii_or_valid_utf8_with_quotes)
{
	srand(6);
	for (int round = 0; round < 2000; round++) {
		char in[64], *out;
		size_t n = (size_t)(rand() % 63);

		for (size_t i = 0; i < n; i++)
			in[i] = (char)(1 + rand() % 255);
		in[n] = '\0';
		out = enc(in);
		cr_assert_eq(out[0], '"');
		cr_assert_eq(out[strlen(out) - 1], '"');
		for (const unsigned char *p = (const unsigned char *)out; *p; p++)
			cr_assert_geq(*p, 0x20, "no raw control byte in the output");
		free(out);
	}
}
