// SPDX-License-Identifier: MIT
/* test_bundle.c - keystore/bundle.c: export and import. */
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/err.h"
#include "keystore/bundle.h"

static struct pfc_keyring a, b;
static struct pfc_kdf kdf;
static const uint8_t PW[] = "export pass";

static void setup(void)
{
	uint32_t v;

	cr_assert_geq(sodium_init(), 0);
	pfc_keyring_init(&a);
	pfc_keyring_init(&b);
	cr_assert_eq(pfc_kdf_from_name("test", &kdf), 0);
	cr_assert_eq(pfc_keyring_create(&a, "vol", 3, 1), 0);
	cr_assert_eq(pfc_keyring_rotate(&a, "vol", 3, 2, &v), 0);
	cr_assert_eq(pfc_keyring_rotate(&a, "vol", 3, 3, &v), 0);
	cr_assert_eq(pfc_keyring_create(&a, "other", 5, 1), 0);
}

static void teardown(void)
{
	pfc_keyring_free(&a);
	pfc_keyring_free(&b);
}

TestSuite(keystore_bundle, .init = setup, .fini = teardown);

static void export(const uint32_t *v, size_t n, struct pfc_wbuf *out)
{
	cr_assert_eq(pfc_wbuf_init(out, 64, false), 0);
	cr_assert_eq(pfc_bundle_export(&a, "vol", 3, v, n, PW, sizeof(PW), &kdf, out), 0);
}

Test(keystore_bundle, round_trip_into_an_empty_keystore)
{
	struct pfc_wbuf w;
	uint32_t n = 0;
	uint8_t blob[PFC_WRAPPED_MAX], key[32] = {9}, out[32];
	size_t len;

	cr_assert_eq(pfc_keyring_wrap(&a, "vol", 3, NULL, 0, key, blob, &len), 0);
	export(NULL, 0, &w);
	cr_assert_arr_eq(w.p, "PFCKSEXP", 8);
	cr_assert_eq(pfc_bundle_import(&b, w.p, w.len, PW, sizeof(PW), &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(b.n, 3, "only the exported name");
	cr_assert_eq(pfc_keyring_primary(&b, "vol", 3)->version, 3);
	cr_assert_eq(pfc_keyring_unwrap(&b, blob, len, NULL, 0, out), 0);
	cr_assert_arr_eq(out, key, 32);
	/* again: same bytes, nothing added */
	cr_assert_eq(pfc_bundle_import(&b, w.p, w.len, PW, sizeof(PW), &n), 0);
	cr_assert_eq(n, 0);
	pfc_wbuf_free(&w);
}

Test(keystore_bundle, chosen_versions_only)
{
	struct pfc_wbuf w;
	uint32_t v[] = {1, 3}, n = 0;

	export(v, 2, &w);
	cr_assert_eq(pfc_bundle_import(&b, w.p, w.len, PW, sizeof(PW), &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_not_null(pfc_keyring_find(&b, "vol", 3, 1));
	cr_assert_null(pfc_keyring_find(&b, "vol", 3, 2));
	cr_assert_eq(pfc_keyring_find(&b, "vol", 3, 3)->state, PFC_KS_PRIMARY);
	cr_assert_eq(pfc_keyring_find(&b, "vol", 3, 1)->state, PFC_KS_ACTIVE);
	pfc_wbuf_free(&w);
}

Test(keystore_bundle, never_overwrites_different_bytes)
{
	struct pfc_wbuf w;
	uint32_t n = 0;

	cr_assert_eq(pfc_keyring_create(&b, "vol", 3, 1), 0); /* its own random v1 */
	export(NULL, 0, &w);
	uint8_t before[32];
	memcpy(before, pfc_keyring_find(&b, "vol", 3, 1)->key, 32);
	cr_assert_eq(pfc_bundle_import(&b, w.p, w.len, PW, sizeof(PW), &n), PFC_ERR_CONFLICT);
	cr_assert_arr_eq(pfc_keyring_find(&b, "vol", 3, 1)->key, before, 32);
	pfc_wbuf_free(&w);
}

Test(keystore_bundle, retired_versions_are_not_exported_nor_resurrected)
{
	struct pfc_wbuf w, w2;
	uint32_t v1[] = {1}, n = 0;

	export(NULL, 0, &w);
	cr_assert_eq(pfc_bundle_import(&b, w.p, w.len, PW, sizeof(PW), &n), 0);
	cr_assert_eq(pfc_keyring_retire(&b, "vol", 3, 1, 9, 0), 0);
	cr_assert_eq(pfc_bundle_import(&b, w.p, w.len, PW, sizeof(PW), &n), PFC_ERR_KEY_RETIRED);
	cr_assert_eq(pfc_keyring_find(&b, "vol", 3, 1)->state, PFC_KS_RETIRED);
	cr_assert_eq(pfc_keyring_retire(&a, "vol", 3, 1, 9, 0), 0);
	cr_assert_eq(pfc_wbuf_init(&w2, 64, false), 0);
	cr_assert_eq(pfc_bundle_export(&a, "vol", 3, v1, 1, PW, sizeof(PW), &kdf, &w2),
		     PFC_ERR_KEY_RETIRED);
	pfc_wbuf_free(&w);
	pfc_wbuf_free(&w2);
}

Test(keystore_bundle, wrong_passphrase_and_tampering)
{
	struct pfc_wbuf w;
	uint32_t n = 0;

	export(NULL, 0, &w);
	cr_assert_eq(pfc_bundle_import(&b, w.p, w.len, (const uint8_t *)"x", 1, &n),
		     PFC_ERR_BAD_PASSPHRASE);
	w.p[w.len - 1] ^= 1;
	cr_assert_eq(pfc_bundle_import(&b, w.p, w.len, PW, sizeof(PW), &n), PFC_ERR_CORRUPT);
	cr_assert_eq(b.n, 0);
	pfc_wbuf_free(&w);
}

Test(keystore_bundle, unknown_names_and_versions)
{
	struct pfc_wbuf w;
	uint32_t v9[] = {9};

	cr_assert_eq(pfc_wbuf_init(&w, 64, false), 0);
	cr_assert_eq(pfc_bundle_export(&a, "none", 4, NULL, 0, PW, sizeof(PW), &kdf, &w),
		     PFC_ERR_KEY_UNKNOWN);
	cr_assert_eq(pfc_bundle_export(&a, "vol", 3, v9, 1, PW, sizeof(PW), &kdf, &w),
		     PFC_ERR_KEY_UNKNOWN);
	pfc_wbuf_free(&w);
}

Test(keystore_bundle, cost_is_the_named_profile_by_default_moderate)
{
	struct pfc_kdf k;
	struct pfc_wbuf out;
	struct pfc_kdf hdr;

	cr_assert_eq(pfc_bundle_kdf(NULL, 0, &k), 0);
	cr_assert_eq(k.profile, PFC_KDF_MODERATE, "the default is the project's, not the store's");
	cr_assert_eq(k.opslimit, 3);
	cr_assert_eq(k.memlimit, 256u << 20);
	cr_assert_eq(pfc_bundle_kdf("test", 4, &k), 0);
	cr_assert_eq(k.profile, PFC_KDF_TEST);
	cr_assert_eq(pfc_bundle_kdf("sensitive", 9, &k), 0);
	cr_assert_eq(k.profile, PFC_KDF_SENSITIVE);
	/* not NUL-terminated on the wire: the length counts */
	cr_assert_eq(pfc_bundle_kdf("testing", 4, &k), 0);
	cr_assert_eq(k.profile, PFC_KDF_TEST);
	cr_assert_eq(pfc_bundle_kdf("bogus", 5, &k), PFC_ERR_INVAL);
	cr_assert_eq(pfc_bundle_kdf("test\0x", 6, &k), PFC_ERR_INVAL);
	cr_assert_eq(pfc_bundle_kdf("moderatemoderate", 16, &k), PFC_ERR_INVAL);
	/* the header records the cost the bundle was sealed with */
	cr_assert_eq(pfc_bundle_kdf("interactive", 11, &k), 0);
	cr_assert_eq(pfc_wbuf_init(&out, 64, false), 0);
	cr_assert_eq(pfc_bundle_export(&a, "vol", 3, NULL, 0, PW, sizeof(PW), &k, &out), 0);
	cr_assert_eq(pfc_seal_header(PFC_SEAL_MAGIC_BUNDLE, out.p, out.len, &hdr), 0);
	cr_assert_eq(hdr.profile, PFC_KDF_INTERACTIVE);
	cr_assert_eq(hdr.opslimit, 2);
	cr_assert_eq(hdr.memlimit, 64u << 20);
	pfc_wbuf_free(&out);
}
