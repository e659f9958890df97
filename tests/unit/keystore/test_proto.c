// SPDX-License-Identifier: MIT
/* test_proto.c - keystore/proto.c: frames and the request codec. */
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/err.h"
#include "keystore/proto.h"

static const uint8_t KEY[32] = {1, 2, 3};
static const uint8_t VERS[8] = {1, 0, 0, 0, 5, 0, 0, 0};

/* One valid request of every type. */
static size_t all_requests(struct pfc_ks_req *q)
{
	static const uint8_t blob[PFC_BLOB_LEN(3)] = {1, 3, 'v', 'o', 'l', 1};
	size_t n = 0;

	memset(q, 0, sizeof(*q) * 16);
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_HELLO, .version = 1};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_STATUS};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_CREATE, .name = "vol", .name_len = 3};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_WRAP,
				     .name = "vol",
				     .name_len = 3,
				     .ad = (const uint8_t *)"ad",
				     .ad_len = 2,
				     .key = KEY};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_UNWRAP,
				     .blob = blob,
				     .blob_len = sizeof(blob),
				     .ad = (const uint8_t *)"ad",
				     .ad_len = 2};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_REWRAP, .blob = blob, .blob_len = sizeof(blob)};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_GENERATE,
				     .name = "v.1",
				     .name_len = 3,
				     .ad = (const uint8_t *)"prefix",
				     .ad_len = 6,
				     .count = 64};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_ROTATE, .name = "a-b_c", .name_len = 5};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_RETIRE,
				     .name = "vol",
				     .name_len = 3,
				     .version = 3,
				     .proof = (const uint8_t *)"store pw",
				     .proof_len = 8,
				     .flags = PFC_KS_RETIRE_FORCE,
				     .delay = 7 * 86400};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_LIST};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_LOCK};
	q[n++] = (struct pfc_ks_req){
	    .type = PFC_KS_UNLOCK, .pass = (const uint8_t *)"pw", .pass_len = 2};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_PASSWD,
				     .pass = (const uint8_t *)"old",
				     .pass_len = 3,
				     .pass2 = (const uint8_t *)"new",
				     .pass2_len = 3};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_EXPORT,
				     .name = "vol",
				     .name_len = 3,
				     .count = 2,
				     .versions = VERS,
				     .pass = (const uint8_t *)"x",
				     .pass_len = 1,
				     .proof = (const uint8_t *)"store pw",
				     .proof_len = 8,
				     .kdf_profile = "test",
				     .kdf_profile_len = 4};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_CANCEL_RETIRE,
				     .name = "vol",
				     .name_len = 3,
				     .version = 2,
				     .proof = (const uint8_t *)"pw",
				     .proof_len = 2};
	q[n++] = (struct pfc_ks_req){.type = PFC_KS_IMPORT,
				     .blob = (const uint8_t *)"bundle",
				     .blob_len = 6,
				     .pass = (const uint8_t *)"x",
				     .pass_len = 1};
	return n;
}

static void encode(const struct pfc_ks_req *q, struct pfc_wbuf *w)
{
	cr_assert_eq(pfc_wbuf_init(w, 64, false), 0);
	cr_assert_eq(pfc_ks_req_encode(w, q), 0, "encode type %u", q->type);
	cr_assert_eq(pfc_load_u32(w->p), w->len - 4, "length field");
}

static void same_bytes(const void *a, size_t al, const void *b, size_t bl)
{
	cr_assert_eq(al, bl);
	if (al)
		cr_assert_arr_eq(a, b, al);
}

Test(keystore_proto, every_request_round_trips)
{
	struct pfc_ks_req q[16], d;
	size_t n = all_requests(q);

	cr_assert_eq(n, 16, "one per request type");
	for (size_t i = 0; i < n; i++) {
		struct pfc_wbuf w;

		encode(&q[i], &w);
		cr_assert_eq(pfc_ks_req_decode(w.p + 4, w.len - 4, &d), 0, "type %u", q[i].type);
		cr_assert_eq(d.type, q[i].type);
		cr_assert_eq(d.version, q[i].version);
		cr_assert_eq(d.count, q[i].count);
		same_bytes(d.name, d.name_len, q[i].name, q[i].name_len);
		same_bytes(d.ad, d.ad_len, q[i].ad, q[i].ad_len);
		same_bytes(d.blob, d.blob_len, q[i].blob, q[i].blob_len);
		same_bytes(d.pass, d.pass_len, q[i].pass, q[i].pass_len);
		same_bytes(d.pass2, d.pass2_len, q[i].pass2, q[i].pass2_len);
		same_bytes(d.proof, d.proof_len, q[i].proof, q[i].proof_len);
		same_bytes(d.kdf_profile, d.kdf_profile_len, q[i].kdf_profile,
			   q[i].kdf_profile_len);
		cr_assert_eq(d.flags, q[i].flags);
		cr_assert_eq(d.delay, q[i].delay);
		if (q[i].key)
			cr_assert_arr_eq(d.key, KEY, 32);
		if (q[i].versions)
			cr_assert_arr_eq(d.versions, VERS, 8);
		pfc_wbuf_free(&w);
	}
}

Test(keystore_proto, every_truncation_of_every_request_is_refused)
{
	struct pfc_ks_req q[16], d;
	size_t n = all_requests(q);

	for (size_t i = 0; i < n; i++) {
		struct pfc_ks_req v1 = q[i];
		struct pfc_wbuf w;
		size_t v1_len;

		/* the same request without its proof: a version-1 frame */
		v1.proof = NULL;
		v1.proof_len = 0;
		encode(&v1, &w);
		v1_len = w.len - 4;
		pfc_wbuf_free(&w);
		encode(&q[i], &w);
		for (size_t cut = 0; cut < w.len - 4; cut++) {
			memset(&d, 0x5a, sizeof(d));
			int rc = pfc_ks_req_decode(w.p + 4, cut, &d);

			if ((q[i].type == PFC_KS_RETIRE || q[i].type == PFC_KS_EXPORT) &&
			    cut == v1_len) {
				/* exactly a version-1 request: decoded without its proof,
				 * for the dispatcher to refuse (PROTOCOL.md section 2) */
				cr_assert_eq(rc, 0, "type %u without its proof", q[i].type);
				cr_assert_null(d.proof);
				continue;
			}
			cr_assert_lt(rc, 0, "type %u cut at %zu accepted", q[i].type, cut);
			cr_assert_eq(d.type, 0x5a, "output touched on failure");
		}
		pfc_wbuf_free(&w);
	}
}

Test(keystore_proto, trailing_byte_is_refused)
{
	struct pfc_ks_req q[16], d;
	size_t n = all_requests(q);

	for (size_t i = 0; i < n; i++) {
		struct pfc_wbuf w;

		encode(&q[i], &w);
		pfc_wbuf_put_u8(&w, 0);
		cr_assert_eq(pfc_ks_req_decode(w.p + 4, w.len - 4, &d), PFC_ERR_CORRUPT);
		pfc_wbuf_free(&w);
	}
}

Test(keystore_proto, frame_length_limits)
{
	cr_assert_eq(pfc_ks_frame_check_len(0), PFC_ERR_PROTOCOL);
	cr_assert_eq(pfc_ks_frame_check_len(1), 0);
	cr_assert_eq(pfc_ks_frame_check_len(PFC_KS_FRAME_MAX), 0);
	cr_assert_eq(pfc_ks_frame_check_len(PFC_KS_FRAME_MAX + 1), PFC_ERR_TOO_LARGE);
	cr_assert_eq(pfc_ks_frame_check_len(UINT32_MAX), PFC_ERR_TOO_LARGE);
}

Test(keystore_proto, unknown_and_reply_types_are_protocol_errors)
{
	struct pfc_ks_req d;

	for (unsigned t = 0; t < 256; t++) {
		uint8_t b = (uint8_t)t;

		if (t >= PFC_KS_HELLO && t <= PFC_KS_TYPE_LAST)
			continue;
		cr_assert_eq(pfc_ks_req_decode(&b, 1, &d), PFC_ERR_PROTOCOL, "type %u", t);
	}
	cr_assert_eq(pfc_ks_req_decode((const uint8_t *)"", 0, &d), PFC_ERR_PROTOCOL);
}

Test(keystore_proto, field_length_past_the_frame)
{
	/* CREATE with lv16 name length 10 (allowed) but 3 bytes present */
	const uint8_t b[] = {PFC_KS_CREATE, 10, 0, 'v', 'o', 'l'};
	/* IMPORT with lv32 bundle length 2^31 */
	const uint8_t c[] = {PFC_KS_IMPORT, 0, 0, 0, 0x80, 1, 2};
	struct pfc_ks_req d;

	cr_assert_eq(pfc_ks_req_decode(b, sizeof(b), &d), PFC_ERR_TRUNCATED);
	cr_assert_eq(pfc_ks_req_decode(c, sizeof(c), &d), PFC_ERR_TOO_LARGE);
	{
		const uint8_t e[] = {PFC_KS_UNWRAP, 5, 0, 1, 2};

		cr_assert_eq(pfc_ks_req_decode(e, sizeof(e), &d), PFC_ERR_TRUNCATED);
	}
}

Test(keystore_proto, bad_field_values)
{
	struct pfc_ks_req d;
	const uint8_t badname[] = {PFC_KS_CREATE, 3, 0, 'a', '/', 'b'};
	const uint8_t emptyname[] = {PFC_KS_CREATE, 0, 0};
	const uint8_t gen0[] = {PFC_KS_GENERATE, 1, 0, 'a', 0, 0, 0, 0};
	const uint8_t gen257[] = {PFC_KS_GENERATE, 1, 0, 'a', 0, 0, 1, 1};
	const uint8_t ret0[] = {PFC_KS_RETIRE, 1, 0, 'a', 0, 0, 0, 0};
	const uint8_t exp0[] = {PFC_KS_EXPORT, 1, 0, 'a', 1, 0, 0, 0, 0, 0, 1, 0, 'x'};
	const uint8_t retflags[] = {PFC_KS_RETIRE, 1,	 0, 'a', 1, 0, 0, 0, 1, 0,
				    'p',	   0x80, 0, 0,	 0, 0};
	/* a delay of 365 days + 1 s: 0x01e13381 */
	const uint8_t retlong[] = {PFC_KS_RETIRE, 1, 0,	   'a',	 1,    0, 0, 0, 1, 0,
				   'p',		  0, 0x81, 0x33, 0xe1, 1};
	uint8_t longname[3 + 33] = {PFC_KS_CREATE, 33, 0};
	uint8_t bigad[1 + 2 + PFC_KS_AD_MAX + 1 + 2] = {PFC_KS_UNWRAP, 0, 0};

	memset(longname + 3, 'a', 33);
	pfc_store_u16(bigad + 3, PFC_KS_AD_MAX + 1);
	cr_assert_eq(pfc_ks_req_decode(badname, sizeof(badname), &d), PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_ks_req_decode(emptyname, sizeof(emptyname), &d), PFC_ERR_NAME_INVALID);
	cr_assert_eq(pfc_ks_req_decode(longname, sizeof(longname), &d), PFC_ERR_NAME_TOO_LONG);
	cr_assert_eq(pfc_ks_req_decode(gen0, sizeof(gen0), &d), PFC_ERR_INVAL);
	cr_assert_eq(pfc_ks_req_decode(gen257, sizeof(gen257), &d), PFC_ERR_INVAL);
	cr_assert_eq(pfc_ks_req_decode(ret0, sizeof(ret0), &d), PFC_ERR_INVAL);
	cr_assert_eq(pfc_ks_req_decode(exp0, sizeof(exp0), &d), PFC_ERR_INVAL);
	cr_assert_eq(pfc_ks_req_decode(retflags, sizeof(retflags), &d), PFC_ERR_INVAL);
	cr_assert_eq(pfc_ks_req_decode(retlong, sizeof(retlong), &d), PFC_ERR_INVAL);
	cr_assert_eq(pfc_ks_req_decode(bigad, sizeof(bigad), &d), PFC_ERR_TOO_LARGE);
}

Test(keystore_proto, error_reply_layout)
{
	struct pfc_wbuf w;
	char longmsg[300];

	memset(longmsg, 'm', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	cr_assert_eq(pfc_wbuf_init(&w, 16, false), 0);
	cr_assert_eq(pfc_ks_error_encode(&w, PFC_ERR_KEY_RETIRED, "gone"), 0);
	const uint8_t want[] = {11, 0, 0, 0, 0xFF, 13, 0, 0, 0, 4, 0, 'g', 'o', 'n', 'e'};
	cr_assert_eq(w.len, sizeof(want));
	cr_assert_arr_eq(w.p, want, sizeof(want));
	pfc_wbuf_reset(&w);
	cr_assert_eq(pfc_ks_error_encode(&w, PFC_ERR_AUTH, longmsg), 0);
	cr_assert_eq(pfc_load_u16(w.p + 9), PFC_KS_MSG_MAX - 1, "message truncated");
	pfc_wbuf_free(&w);
}

Test(keystore_proto, known_bytes_of_a_wrap_request)
{
	struct pfc_ks_req q = {.type = PFC_KS_WRAP,
			       .name = "v",
			       .name_len = 1,
			       .ad = (const uint8_t *)"A",
			       .ad_len = 1,
			       .key = KEY};
	struct pfc_wbuf w;
	uint8_t want[4 + 1 + 3 + 3 + 32] = {39, 0, 0, 0, PFC_KS_WRAP, 1, 0, 'v', 1, 0, 'A'};

	memcpy(want + 11, KEY, 32);
	encode(&q, &w);
	cr_assert_eq(w.len, sizeof(want));
	cr_assert_arr_eq(w.p, want, sizeof(want));
	pfc_wbuf_free(&w);
}

/* PROTOCOL.md section 2, EXPORT byte by byte: the version-1 fields, then the
 * proof, then the bundle KDF profile. */
Test(keystore_proto, known_bytes_of_an_export_request)
{
	struct pfc_ks_req q = {.type = PFC_KS_EXPORT,
			       .name = "vol",
			       .name_len = 3,
			       .pass = (const uint8_t *)"ep",
			       .pass_len = 2,
			       .proof = (const uint8_t *)"sp",
			       .proof_len = 2,
			       .kdf_profile = "test",
			       .kdf_profile_len = 4};
	const uint8_t want[] = {0x16, 0, 0,   0,   PFC_KS_EXPORT, 3,   0, 'v', 'o', 'l',
				0,    0, 2,   0,   'e',		  'p', 2, 0,   's', 'p',
				4,    0, 't', 'e', 's',		  't'};
	struct pfc_wbuf w;
	struct pfc_ks_req d;

	encode(&q, &w);
	cr_assert_eq(w.len, sizeof(want));
	cr_assert_arr_eq(w.p, want, sizeof(want));
	cr_assert_eq(pfc_ks_req_decode(w.p + 4, w.len - 4, &d), 0);
	same_bytes(d.proof, d.proof_len, q.proof, q.proof_len);
	same_bytes(d.kdf_profile, d.kdf_profile_len, q.kdf_profile, q.kdf_profile_len);
	pfc_wbuf_free(&w);
}

Test(keystore_proto, random_bodies_decode_only_to_what_re_encodes_identically)
{
	uint8_t b[512];
	struct pfc_ks_req d;

	for (int i = 0; i < 20000; i++) {
		size_t n = 1 + randombytes_uniform(sizeof(b));

		randombytes_buf(b, n);
		b[0] = (uint8_t)(1 + randombytes_uniform(PFC_KS_TYPE_LAST));
		if (pfc_ks_req_decode(b, n, &d) == 0) {
			struct pfc_wbuf w;

			/* whatever decodes re-encodes to the same bytes */
			encode(&d, &w);
			same_bytes(w.p + 4, w.len - 4, b, n);
			pfc_wbuf_free(&w);
		}
	}
}

Test(keystore_proto, type_names)
{
	cr_assert_str_eq(pfc_ks_type_name(PFC_KS_UNWRAP), "unwrap");
	cr_assert_str_eq(pfc_ks_type_name(0), "?");
	cr_assert_str_eq(pfc_ks_type_name(0x80), "?");
}
