// SPDX-License-Identifier: MIT
/* test_seal.c - keystore/seal.c: passphrase-sealed containers. */
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/buf.h"
#include "fs/err.h"
#include "keystore/seal.h"

static const uint8_t PW[] = "passphrase";
static const uint8_t PT[] = "the plaintext of a container";

static void setup(void)
{
	cr_assert_geq(sodium_init(), 0);
}

TestSuite(keystore_seal, .init = setup);

static void make(const char *magic, struct pfc_wbuf *out)
{
	struct pfc_kdf kdf;
	struct pfc_skey *sk = NULL;

	cr_assert_eq(pfc_kdf_from_name("test", &kdf), 0);
	cr_assert_eq(pfc_skey_derive(magic, PW, sizeof(PW), &kdf, &sk), 0);
	cr_assert_eq(pfc_wbuf_init(out, 64, false), 0);
	cr_assert_eq(pfc_seal(magic, sk, PT, sizeof(PT), out), 0);
	pfc_skey_free(sk);
}

Test(keystore_seal, round_trip_and_header)
{
	struct pfc_wbuf c, pt;
	struct pfc_kdf kdf;

	make(PFC_SEAL_MAGIC_STORE, &c);
	cr_assert_eq(c.len, PFC_SEAL_HDR_LEN + sizeof(PT) + 16);
	cr_assert_arr_eq(c.p, "PFCKSTOR", 8);
	cr_assert_eq(pfc_seal_header(PFC_SEAL_MAGIC_STORE, c.p, c.len, &kdf), 0);
	cr_assert_eq(kdf.profile, PFC_KDF_TEST);
	cr_assert_eq(kdf.opslimit, 1);
	cr_assert_eq(kdf.memlimit, 1u << 20);
	cr_assert_eq(pfc_unseal_pass(PFC_SEAL_MAGIC_STORE, PW, sizeof(PW), c.p, c.len, &pt, NULL),
		     0);
	cr_assert_eq(pt.len, sizeof(PT));
	cr_assert_arr_eq(pt.p, PT, sizeof(PT));
	pfc_wbuf_free(&pt);
	pfc_wbuf_free(&c);
}

Test(keystore_seal, wrong_passphrase_is_bad_passphrase)
{
	struct pfc_wbuf c, pt;

	make(PFC_SEAL_MAGIC_STORE, &c);
	cr_assert_eq(pfc_unseal_pass(PFC_SEAL_MAGIC_STORE, (const uint8_t *)"passphrasf", 11, c.p,
				     c.len, &pt, NULL),
		     PFC_ERR_BAD_PASSPHRASE);
	pfc_wbuf_free(&c);
}

Test(keystore_seal, altered_ciphertext_or_header_is_corrupt)
{
	struct pfc_wbuf c, pt;

	make(PFC_SEAL_MAGIC_STORE, &c);
	c.p[c.len - 1] ^= 1; /* tag */
	cr_assert_eq(pfc_unseal_pass(PFC_SEAL_MAGIC_STORE, PW, sizeof(PW), c.p, c.len, &pt, NULL),
		     PFC_ERR_CORRUPT);
	c.p[c.len - 1] ^= 1;
	c.p[11] ^= 1; /* profile id: informative, but authenticated */
	cr_assert_eq(pfc_unseal_pass(PFC_SEAL_MAGIC_STORE, PW, sizeof(PW), c.p, c.len, &pt, NULL),
		     PFC_ERR_CORRUPT);
	c.p[11] ^= 1;
	c.p[70] ^= 1; /* nonce */
	cr_assert_eq(pfc_unseal_pass(PFC_SEAL_MAGIC_STORE, PW, sizeof(PW), c.p, c.len, &pt, NULL),
		     PFC_ERR_CORRUPT);
	pfc_wbuf_free(&c);
}

Test(keystore_seal, magic_version_and_parameters_checked)
{
	struct pfc_wbuf c, pt;
	struct pfc_kdf kdf;

	make(PFC_SEAL_MAGIC_BUNDLE, &c);
	cr_assert_eq(pfc_seal_header(PFC_SEAL_MAGIC_STORE, c.p, c.len, &kdf), PFC_ERR_BAD_MAGIC);
	c.p[8] = 2;
	cr_assert_eq(pfc_seal_header(PFC_SEAL_MAGIC_BUNDLE, c.p, c.len, &kdf),
		     PFC_ERR_UNKNOWN_VERSION);
	c.p[8] = 1;
	c.p[10] = 1; /* argon2i */
	cr_assert_eq(pfc_seal_header(PFC_SEAL_MAGIC_BUNDLE, c.p, c.len, &kdf),
		     PFC_ERR_UNKNOWN_VERSION);
	c.p[10] = 2;
	pfc_store_u64(c.p + 12, 1000); /* absurd opslimit: refused before any work */
	cr_assert_eq(pfc_unseal_pass(PFC_SEAL_MAGIC_BUNDLE, PW, sizeof(PW), c.p, c.len, &pt, NULL),
		     PFC_ERR_CORRUPT);
	pfc_store_u64(c.p + 12, 1);
	pfc_store_u64(c.p + 20, (uint64_t)1 << 40);
	cr_assert_eq(pfc_seal_header(PFC_SEAL_MAGIC_BUNDLE, c.p, c.len, &kdf), PFC_ERR_CORRUPT);
	pfc_store_u64(c.p + 20, 1u << 20);
	cr_assert_eq(pfc_seal_header(PFC_SEAL_MAGIC_BUNDLE, c.p, c.len, &kdf), 0);
	pfc_wbuf_free(&c);
}

Test(keystore_seal, truncation_and_trailing_bytes_refused)
{
	struct pfc_wbuf c;
	struct pfc_kdf kdf;

	make(PFC_SEAL_MAGIC_STORE, &c);
	for (size_t cut = 0; cut < c.len; cut++)
		cr_assert_lt(pfc_seal_header(PFC_SEAL_MAGIC_STORE, c.p, cut, &kdf), 0, "cut %zu",
			     cut);
	pfc_wbuf_put_u8(&c, 0);
	cr_assert_eq(pfc_seal_header(PFC_SEAL_MAGIC_STORE, c.p, c.len, &kdf), PFC_ERR_CORRUPT);
	pfc_wbuf_free(&c);
}

Test(keystore_seal, store_and_bundle_keys_differ_for_the_same_salt)
{
	struct pfc_kdf kdf;
	struct pfc_skey *a = NULL, *b = NULL;

	cr_assert_eq(pfc_kdf_from_name("test", &kdf), 0);
	cr_assert_eq(pfc_skey_derive(PFC_SEAL_MAGIC_STORE, PW, sizeof(PW), &kdf, &a), 0);
	cr_assert_eq(pfc_skey_derive(PFC_SEAL_MAGIC_BUNDLE, PW, sizeof(PW), &kdf, &b), 0);
	cr_assert_neq(memcmp(a->enc, b->enc, 32), 0);
	cr_assert_neq(memcmp(a->check, a->enc, 16), 0);
	pfc_skey_free(a);
	pfc_skey_free(b);
}

Test(keystore_seal, profiles)
{
	struct pfc_kdf k;

	cr_assert_eq(pfc_kdf_from_name("moderate", &k), 0);
	cr_assert_eq(k.opslimit, crypto_pwhash_OPSLIMIT_MODERATE);
	cr_assert_eq(k.memlimit, crypto_pwhash_MEMLIMIT_MODERATE);
	cr_assert_eq(pfc_kdf_from_name("interactive", &k), 0);
	cr_assert_eq(k.memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
	cr_assert_eq(pfc_kdf_from_name("sensitive", &k), 0);
	cr_assert_eq(k.memlimit, crypto_pwhash_MEMLIMIT_SENSITIVE);
	cr_assert_eq(pfc_kdf_from_name("fast", &k), PFC_ERR_INVAL);
	cr_assert_str_eq(pfc_kdf_profile_name(PFC_KDF_MODERATE), "moderate");
}
