// SPDX-License-Identifier: MIT
/* test_reply.c - keystore/proto.c: the reply codec (server encoders, client decoder). */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/err.h"
#include "keystore/proto.h"

static struct pfc_wbuf w;

static void setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	cr_assert_eq(pfc_wbuf_init(&w, 64, false), 0);
}

static void teardown(void)
{
	pfc_wbuf_free(&w);
}

TestSuite(keystore_reply, .init = setup, .fini = teardown);

static int decode(uint8_t type, struct pfc_ks_reply *rep)
{
	return pfc_ks_reply_decode(type, pfc_wbuf_data(&w), pfc_wbuf_len(&w), rep);
}

Test(keystore_reply, status_round_trips_with_known_bytes)
{
	const struct pfc_ks_status st = {.locked = true,
					 .protocol_version = 1,
					 .key_count = 2,
					 .version_count = 3,
					 .retired_count = 4,
					 .kdf_profile = "test"};
	const uint8_t want[] = {1, 1, 0, 0, 0, 2, 0, 0,	  0,   3,   0,	0,
				0, 4, 0, 0, 0, 4, 0, 't', 'e', 's', 't'};
	struct pfc_ks_reply rep = {0};

	pfc_ks_put_status(&w, &st);
	cr_assert_eq(pfc_wbuf_len(&w), sizeof(want));
	cr_assert_arr_eq(pfc_wbuf_data(&w), want, sizeof(want));
	cr_assert_eq(decode(PFC_KS_STATUS, &rep), 0);
	cr_assert(rep.status.locked);
	cr_assert_eq(rep.status.protocol_version, 1);
	cr_assert_eq(rep.status.key_count, 2);
	cr_assert_eq(rep.status.version_count, 3);
	cr_assert_eq(rep.status.retired_count, 4);
	cr_assert_str_eq(rep.status.kdf_profile, "test");
}

Test(keystore_reply, hello_and_u32_replies)
{
	struct pfc_ks_reply rep = {0};

	pfc_ks_put_hello(&w, "pfcrypt-keystore 0.1.0");
	cr_assert_eq(decode(PFC_KS_HELLO, &rep), 0);
	cr_assert_eq(rep.u32, PFC_KS_PROTOCOL_VERSION);
	pfc_wbuf_reset(&w);
	pfc_wbuf_put_u32(&w, 7);
	cr_assert_eq(decode(PFC_KS_ROTATE, &rep), 0);
	cr_assert_eq(rep.u32, 7);
	cr_assert_eq(decode(PFC_KS_LOCK, &rep), PFC_ERR_PROTOCOL, "lock replies no fields");
}

Test(keystore_reply, blob_and_rewrap_flag)
{
	uint8_t blob[PFC_WRAPPED_MAX], out[PFC_WRAPPED_MAX];
	struct pfc_ks_reply rep = {.blob = out};

	memset(blob, 0x5a, sizeof(blob));
	pfc_ks_put_rewrapped(&w, true, blob, sizeof(blob));
	cr_assert_eq(decode(PFC_KS_REWRAP, &rep), 0, "a blob of exactly PFC_WRAPPED_MAX");
	cr_assert(rep.already);
	cr_assert_eq(rep.blob_len, sizeof(blob));
	cr_assert_arr_eq(out, blob, sizeof(blob));
	pfc_wbuf_reset(&w);
	pfc_wbuf_put_u16(&w, PFC_WRAPPED_MAX + 1);
	pfc_wbuf_put_zero(&w, PFC_WRAPPED_MAX + 1);
	cr_assert_eq(decode(PFC_KS_WRAP, &rep), PFC_ERR_PROTOCOL, "one byte past the maximum");
}

Test(keystore_reply, filekeys_need_the_count_asked_for)
{
	struct pfc_ks_filekey fk[2] = {0}, out[2];
	struct pfc_ks_reply rep = {.filekeys = out, .count = 2};

	fk[0].file_id[0] = 1;
	fk[1].key[31] = 2;
	fk[1].blob_len = 3;
	memcpy(fk[1].blob, "abc", 3);
	pfc_ks_put_filekeys(&w, fk, 2);
	cr_assert_eq(decode(PFC_KS_GENERATE, &rep), 0);
	cr_assert_eq(out[0].file_id[0], 1);
	cr_assert_eq(out[1].key[31], 2);
	cr_assert_eq(out[1].blob_len, 3);
	rep.count = 3;
	cr_assert_eq(decode(PFC_KS_GENERATE, &rep), PFC_ERR_PROTOCOL);
}

Test(keystore_reply, list_round_trips_and_bad_state_is_refused)
{
	struct pfc_ks_reply rep = {0};

	pfc_ks_put_list_count(&w, 2);
	pfc_ks_put_keyinfo(&w, "vol", 3, 1, PFC_KS_ACTIVE, 10, 0);
	pfc_ks_put_keyinfo(&w, "vol", 3, 2, PFC_KS_PRIMARY, 11, 0);
	cr_assert_eq(decode(PFC_KS_LIST, &rep), 0);
	cr_assert_eq(rep.n, 2);
	cr_assert_str_eq(rep.list[1].name, "vol");
	cr_assert_eq(rep.list[1].state, PFC_KS_PRIMARY);
	cr_assert_eq(rep.list[0].created, 10);
	free(rep.list);
	memset(&rep, 0, sizeof(rep));
	pfc_wbuf_reset(&w);
	pfc_ks_put_list_count(&w, 1);
	pfc_ks_put_keyinfo(&w, "vol", 3, 1, 5, 10, 0);
	cr_assert_eq(decode(PFC_KS_LIST, &rep), PFC_ERR_PROTOCOL);
	cr_assert_null(rep.list, "nothing allocated on failure");
	pfc_wbuf_reset(&w);
	pfc_ks_put_list_count(&w, 1000);
	cr_assert_eq(decode(PFC_KS_LIST, &rep), PFC_ERR_PROTOCOL,
		     "count past what the frame holds");
}

Test(keystore_reply, bundle_and_its_maximum)
{
	static uint8_t big[PFC_KS_BUNDLE_MAX + 1];
	struct pfc_ks_reply rep = {0};

	pfc_ks_put_bundle(&w, (const uint8_t *)"bundle", 6);
	cr_assert_eq(decode(PFC_KS_EXPORT, &rep), 0);
	cr_assert_eq(rep.bundle_len, 6);
	cr_assert_eq(memcmp(rep.bundle, "bundle", 6), 0);
	sodium_free(rep.bundle);
	memset(&rep, 0, sizeof(rep));
	pfc_wbuf_reset(&w);
	pfc_ks_put_bundle(&w, big, sizeof(big));
	cr_assert_eq(decode(PFC_KS_EXPORT, &rep), PFC_ERR_PROTOCOL);
	cr_assert_null(rep.bundle);
}

Test(keystore_reply, every_truncation_is_a_protocol_error)
{
	uint8_t key[PFC_BLOB_KEY_LEN] = {0};
	struct pfc_ks_reply rep = {.key = key};
	size_t n;

	pfc_ks_put_hello(&w, "sw");
	n = pfc_wbuf_len(&w);
	for (size_t cut = 0; cut < n; cut++)
		cr_assert_eq(pfc_ks_reply_decode(PFC_KS_HELLO, pfc_wbuf_data(&w), cut, &rep),
			     PFC_ERR_PROTOCOL, "cut at %zu", cut);
	pfc_wbuf_reset(&w);
	pfc_wbuf_put_zero(&w, PFC_BLOB_KEY_LEN - 1);
	cr_assert_eq(decode(PFC_KS_UNWRAP, &rep), PFC_ERR_PROTOCOL);
	cr_assert_eq(pfc_ks_reply_decode(PFC_KS_TYPE_LAST + 1, NULL, 0, &rep), PFC_ERR_INVAL);
}

Test(keystore_reply, error_reply_decodes_code_and_printable_message)
{
	char msg[PFC_KS_MSG_MAX] = "";

	cr_assert_eq(pfc_ks_error_encode(&w, PFC_ERR_LOCKED, "locked\x01"), 0);
	cr_assert_eq(pfc_ks_error_decode(pfc_wbuf_span(&w, 5, pfc_wbuf_len(&w) - 5),
					 pfc_wbuf_len(&w) - 5, msg),
		     PFC_ERR_LOCKED);
	cr_assert_str_eq(msg, "locked?");
	pfc_wbuf_reset(&w);
	pfc_wbuf_put_u32(&w, PFC_ERR_COUNT);
	pfc_wbuf_put_lv16(&w, "x", 1);
	strcpy(msg, "kept");
	cr_assert_eq(pfc_ks_error_decode(pfc_wbuf_data(&w), pfc_wbuf_len(&w), msg),
		     PFC_ERR_PROTOCOL, "an unknown code");
	cr_assert_str_eq(msg, "kept");
}
