// SPDX-License-Identifier: MIT
/* seal.c - passphrase-sealed containers (layout in seal.h). */
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/seal.h"

#define SEAL_VERSION	  1
#define SEAL_ALG_ARGON2ID 2
/* crypto_kdf subkey ids under the container's magic context: never repeat. */
#define SUBKEY_ENC   1
#define SUBKEY_CHECK 2
/* Sanity bounds on parameters read from a file: refuse absurd work. */
#define OPS_MAX ((uint64_t)16)
#define MEM_MAX ((uint64_t)4 << 30)

_Static_assert(crypto_kdf_CONTEXTBYTES == PFC_SEAL_MAGIC_LEN, "magic is the kdf context");
_Static_assert(crypto_pwhash_SALTBYTES == PFC_SEAL_SALT_LEN, "salt length");
/* magic, version, alg, profile, ops, mem, salt, check, nonce, ct_len */
_Static_assert(PFC_SEAL_HDR_LEN == 8 + 2 + 1 + 1 + 8 + 8 + PFC_SEAL_SALT_LEN + PFC_SEAL_CHECK_LEN +
				       crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + 4,
	       "container header layout (seal.h, PROTOCOL.md section 5)");

static const struct {
	const char *name;
	uint64_t ops, mem;
} profiles[] = {
    [PFC_KDF_TEST] = {"test", 1, 1u << 20},
    [PFC_KDF_INTERACTIVE] = {"interactive", 2, 64u << 20},
    [PFC_KDF_MODERATE] = {"moderate", 3, 256u << 20},
    [PFC_KDF_SENSITIVE] = {"sensitive", 4, 1u << 30},
};

void pfc_kdf_new_salt(struct pfc_kdf *kdf)
{
	randombytes_buf(kdf->salt, sizeof(kdf->salt));
}

int pfc_kdf_from_name(const char *name, struct pfc_kdf *kdf)
{
	for (uint8_t i = PFC_KDF_TEST; i <= PFC_KDF_SENSITIVE; i++) {
		if (name && strcmp(name, profiles[i].name) == 0) {
			kdf->profile = i;
			kdf->opslimit = profiles[i].ops;
			kdf->memlimit = profiles[i].mem;
			pfc_kdf_new_salt(kdf);
			return 0;
		}
	}
	return PFC_ERR_INVAL;
}

const char *pfc_kdf_profile_name(uint8_t p)
{
	return (p >= PFC_KDF_TEST && p <= PFC_KDF_SENSITIVE) ? profiles[p].name : "custom";
}

int pfc_skey_derive(const char *magic, const uint8_t *pass, size_t pass_len,
		    const struct pfc_kdf *kdf, struct pfc_skey **out)
{
	struct pfc_skey *sk;
	uint8_t *root;
	uint8_t chk[32];
	int rc = 0;

	if (kdf->opslimit < crypto_pwhash_OPSLIMIT_MIN || kdf->opslimit > OPS_MAX ||
	    kdf->memlimit < crypto_pwhash_MEMLIMIT_MIN || kdf->memlimit > MEM_MAX)
		return PFC_ERR_CORRUPT;
	sk = sodium_malloc(sizeof(*sk));
	root = sodium_malloc(32);
	if (!sk || !root) {
		rc = PFC_ERR_NOMEM;
		goto out;
	}
	if (crypto_pwhash(root, 32, (const char *)(pass_len ? (const void *)pass : ""), pass_len,
			  kdf->salt, kdf->opslimit, (size_t)kdf->memlimit,
			  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		rc = PFC_ERR_NOMEM; /* libsodium fails only when it cannot allocate */
		goto out;
	}
	sk->kdf = *kdf;
	crypto_kdf_derive_from_key(sk->enc, sizeof(sk->enc), SUBKEY_ENC, magic, root);
	crypto_kdf_derive_from_key(chk, sizeof(chk), SUBKEY_CHECK, magic, root);
	memcpy(sk->check, chk, sizeof(sk->check));
	*out = sk;
	sk = NULL;
out:
	sodium_memzero(chk, sizeof(chk));
	sodium_free(root);
	sodium_free(sk);
	return rc;
}

void pfc_skey_free(struct pfc_skey *sk)
{
	sodium_free(sk);
}

static int parse_header(const char *magic, struct pfc_rbuf *r, struct pfc_kdf *kdf,
			const uint8_t **check, const uint8_t **nonce, const uint8_t **ct,
			size_t *ct_len)
{
	const uint8_t *m;
	uint16_t ver;
	uint8_t alg;
	uint32_t n;
	int rc;

	if ((rc = pfc_rbuf_get_ptr(r, PFC_SEAL_MAGIC_LEN, &m)) < 0)
		return rc;
	if (memcmp(m, magic, PFC_SEAL_MAGIC_LEN) != 0)
		return PFC_ERR_BAD_MAGIC;
	if ((rc = pfc_rbuf_get_u16(r, &ver)) < 0)
		return rc;
	if (ver != SEAL_VERSION)
		return PFC_ERR_UNKNOWN_VERSION;
	if ((rc = pfc_rbuf_get_u8(r, &alg)) < 0 || (rc = pfc_rbuf_get_u8(r, &kdf->profile)) < 0 ||
	    (rc = pfc_rbuf_get_u64(r, &kdf->opslimit)) < 0 ||
	    (rc = pfc_rbuf_get_u64(r, &kdf->memlimit)) < 0 ||
	    (rc = pfc_rbuf_get_bytes(r, kdf->salt, sizeof(kdf->salt))) < 0 ||
	    (rc = pfc_rbuf_get_ptr(r, PFC_SEAL_CHECK_LEN, check)) < 0 ||
	    (rc = pfc_rbuf_get_ptr(r, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, nonce)) < 0 ||
	    (rc = pfc_rbuf_get_u32(r, &n)) < 0)
		return rc;
	if (alg != SEAL_ALG_ARGON2ID)
		return PFC_ERR_UNKNOWN_VERSION;
	if (kdf->opslimit < crypto_pwhash_OPSLIMIT_MIN || kdf->opslimit > OPS_MAX ||
	    kdf->memlimit < crypto_pwhash_MEMLIMIT_MIN || kdf->memlimit > MEM_MAX)
		return PFC_ERR_CORRUPT;
	if (n < crypto_aead_xchacha20poly1305_ietf_ABYTES)
		return PFC_ERR_CORRUPT;
	if ((rc = pfc_rbuf_get_ptr(r, n, ct)) < 0)
		return rc;
	if ((rc = pfc_rbuf_expect_end(r)) < 0)
		return rc;
	*ct_len = n;
	return 0;
}

int pfc_seal_header(const char *magic, const uint8_t *buf, size_t len, struct pfc_kdf *kdf)
{
	const uint8_t *chk, *nonce, *ct;
	struct pfc_kdf k;
	struct pfc_rbuf r;
	size_t n;
	int rc;

	pfc_rbuf_init(&r, buf, len);
	if ((rc = parse_header(magic, &r, &k, &chk, &nonce, &ct, &n)) < 0)
		return rc;
	*kdf = k;
	return 0;
}

int pfc_seal(const char *magic, const struct pfc_skey *sk, const uint8_t *pt, size_t pt_len,
	     struct pfc_wbuf *out)
{
	size_t start = pfc_wbuf_len(out);
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	size_t ct_len = pt_len + crypto_aead_xchacha20poly1305_ietf_ABYTES;
	const uint8_t *hdr;
	uint8_t *ct;
	int rc;

	if (ct_len > UINT32_MAX)
		return PFC_ERR_TOO_LARGE;
	pfc_wbuf_put_bytes(out, magic, PFC_SEAL_MAGIC_LEN);
	pfc_wbuf_put_u16(out, SEAL_VERSION);
	pfc_wbuf_put_u8(out, SEAL_ALG_ARGON2ID);
	pfc_wbuf_put_u8(out, sk->kdf.profile);
	pfc_wbuf_put_u64(out, sk->kdf.opslimit);
	pfc_wbuf_put_u64(out, sk->kdf.memlimit);
	pfc_wbuf_put_bytes(out, sk->kdf.salt, sizeof(sk->kdf.salt));
	pfc_wbuf_put_bytes(out, sk->check, sizeof(sk->check));
	randombytes_buf(nonce, sizeof(nonce));
	pfc_wbuf_put_bytes(out, nonce, sizeof(nonce));
	pfc_wbuf_put_u32(out, (uint32_t)ct_len);
	/* reserve may move the buffer: take pointers after the last growth */
	ct = pfc_wbuf_reserve(out, ct_len);
	hdr = pfc_wbuf_span(out, start, PFC_SEAL_HDR_LEN);
	if (!ct || !hdr)
		return (rc = pfc_wbuf_error(out)) < 0 ? rc : PFC_ERR_INVAL;
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, pt, pt_len, hdr, PFC_SEAL_HDR_LEN,
						   NULL, nonce, sk->enc);
	return 0;
}

int pfc_unseal(const char *magic, const struct pfc_skey *sk, const uint8_t *buf, size_t len,
	       struct pfc_wbuf *pt)
{
	const uint8_t *chk, *nonce, *ct;
	struct pfc_kdf k;
	struct pfc_rbuf r;
	size_t n;
	uint8_t *p;
	int rc;

	pfc_rbuf_init(&r, buf, len);
	if ((rc = parse_header(magic, &r, &k, &chk, &nonce, &ct, &n)) < 0)
		return rc;
	if (sodium_memcmp(chk, sk->check, PFC_SEAL_CHECK_LEN) != 0)
		return PFC_ERR_BAD_PASSPHRASE;
	if ((rc = pfc_wbuf_init(pt, n, true)) < 0)
		return rc;
	p = pfc_wbuf_reserve(pt, n - crypto_aead_xchacha20poly1305_ietf_ABYTES);
	if (!p) {
		rc = PFC_ERR_NOMEM;
		goto fail;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, NULL, NULL, ct, n, buf, PFC_SEAL_HDR_LEN,
						       nonce, sk->enc) != 0) {
		rc = PFC_ERR_CORRUPT;
		goto fail;
	}
	return 0;
fail:
	pfc_wbuf_free(pt);
	return rc;
}

int pfc_unseal_pass(const char *magic, const uint8_t *pass, size_t pass_len, const uint8_t *buf,
		    size_t len, struct pfc_wbuf *pt, struct pfc_skey **sk_out)
{
	struct pfc_skey *sk = NULL;
	struct pfc_kdf kdf;
	int rc;

	if ((rc = pfc_seal_header(magic, buf, len, &kdf)) < 0)
		return rc;
	if ((rc = pfc_skey_derive(magic, pass, pass_len, &kdf, &sk)) < 0)
		return rc;
	if ((rc = pfc_unseal(magic, sk, buf, len, pt)) < 0)
		goto out;
	if (sk_out) {
		*sk_out = sk;
		sk = NULL;
	}
out:
	pfc_skey_free(sk);
	return rc;
}
