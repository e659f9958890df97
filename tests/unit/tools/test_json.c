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

Test(json, invalid_utf8_bytes_become_u00xx)
{
	expect("\xff", "\"\\u00ff\"");
	expect("a\xc3", "\"a\\u00c3\"");				/* truncated sequence */
	expect("\xc0\xaf", "\"\\u00c0\\u00af\"");			/* overlong '/' */
	expect("\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"");		/* UTF-16 surrogate */
	expect("\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\""); /* > U+10FFFF */
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
