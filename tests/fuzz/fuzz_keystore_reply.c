// SPDX-License-Identifier: MIT
/*
 * fuzz_keystore_reply.c - libFuzzer target: the reply decoders of the client
 * library.  The first input byte is the request type the reply answers
 * (PFC_KS_ERROR: an error reply), the rest are the reply's fields as they
 * would follow the reply's type byte.  Whatever decodes must hold only what
 * PROTOCOL.md allows (lengths within their maxima, valid names and states).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_list(const struct pfc_ks_reply *rep)
{
	for (size_t i = 0; i < rep->n; i++) {
		const struct pfc_ks_keyinfo *k = &rep->list[i];

		if (pfc_ks_name_check(k->name, strlen(k->name)) < 0 || k->state < PFC_KS_PRIMARY ||
		    k->state > PFC_KS_RETIRING)
			abort();
	}
}

static void check_error(const uint8_t *fields, size_t len)
{
	char msg[PFC_KS_MSG_MAX];
	int rc = pfc_ks_error_decode(fields, len, msg);

	if (rc >= 0 || (rc != PFC_ERR_PROTOCOL && strlen(msg) >= PFC_KS_MSG_MAX))
		abort();
}

/* A GENERATE reply must carry the count asked for: ask for what it says. */
static unsigned gen_count(const uint8_t *fields, size_t len)
{
	unsigned n = len >= 2 ? (unsigned)(fields[0] | fields[1] << 8) : 1;

	return n == 0 || n > PFC_KS_GEN_MAX ? 1 : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pfc_ks_filekey fk[PFC_KS_GEN_MAX];
	uint8_t blob[PFC_WRAPPED_MAX], key[PFC_BLOB_KEY_LEN];
	struct pfc_ks_reply rep = {.blob = blob, .key = key, .filekeys = fk};
	const uint8_t *fields = data + 1;
	size_t len;
	int rc;

	if (size == 0 || sodium_init() < 0)
		return 0;
	len = size - 1;
	if (data[0] == PFC_KS_ERROR) {
		check_error(fields, len);
		return 0;
	}
	if (data[0] == PFC_KS_GENERATE)
		rep.count = gen_count(fields, len);
	rc = pfc_ks_reply_decode(data[0], fields, len, &rep);
	if (rc < 0) {
		if (rep.list || rep.bundle)
			abort(); /* a failed decode allocates nothing */
		return 0;
	}
	if (rep.blob_len > PFC_WRAPPED_MAX || rep.bundle_len > PFC_KS_BUNDLE_MAX)
		abort();
	for (unsigned i = 0; data[0] == PFC_KS_GENERATE && i < rep.count; i++)
		if (fk[i].blob_len > PFC_WRAPPED_MAX)
			abort();
	check_list(&rep);
	free(rep.list);
	sodium_free(rep.bundle);
	return 0;
}
