// SPDX-License-Identifier: MIT
/*
 * fuzz_keystore_frame.c - libFuzzer target: the input is a byte stream as a
 * keystore connection would receive it.  Frames are cut by their length
 * (pfc_ks_frame_check_len), each body goes through pfc_ks_req_decode(), and
 * whatever decodes must re-encode to the same bytes; blobs in decoded
 * requests go through pfc_blob_parse_name_version().
 */
#include <stdlib.h>
#include <string.h>

#include "fs/buf.h"
#include "fs/err.h"
#include "keystore/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfc_rbuf r;

	pfc_rbuf_init(&r, data, size);
	while (pfc_rbuf_left(&r) >= PFC_KS_HDR_LEN) {
		struct pfc_ks_req q;
		const uint8_t *body;
		uint32_t len;

		if (pfc_rbuf_get_u32(&r, &len) < 0 || pfc_ks_frame_check_len(len) < 0)
			break;
		if (pfc_rbuf_get_ptr(&r, len, &body) < 0)
			break;
		if (pfc_ks_req_decode(body, len, &q) == 0) {
			struct pfc_wbuf w;

			if (pfc_wbuf_init(&w, 64, false) < 0)
				abort();
			if (pfc_ks_req_encode(&w, &q) < 0 || pfc_wbuf_len(&w) != len + 4 ||
			    memcmp(pfc_wbuf_span(&w, 4, len), body, len) != 0)
				abort(); /* decode and encode disagree */
			pfc_wbuf_free(&w);
			if (q.type == PFC_KS_UNWRAP || q.type == PFC_KS_REWRAP) {
				char name[PFC_KS_NAME_MAX + 1];
				uint32_t v;

				if (pfc_blob_parse_name_version(q.blob, q.blob_len, name, &v) ==
					0 &&
				    (strlen(name) == 0 || v == 0))
					abort();
			}
		}
	}
	return 0;
}
