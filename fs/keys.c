// SPDX-License-Identifier: MIT
/*
 * keys.c - key derivation (FORMAT.md section 7): the volume subkeys from the
 * name key, and per file the header MAC key and the cached generation keys
 * GK_g = KDF(FK, subkey id g, PFC_KDF_CTX_GEN).
 *
 * Hot path: a block call acquires the key of a generation once per run of
 * blocks of that generation.  Acquire takes k->lock for a table lookup; only
 * a miss derives (one BLAKE2b, plus the AES key expansion for AES-256-GCM)
 * under the lock.  The lock is never held while blocks are encrypted: the
 * slot is pinned by its refcount instead.
 */
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/format_int.h"

static void kdf(uint8_t *out, uint64_t id, const char ctx[8], const uint8_t key[PFC_KEY_BYTES])
{
	/* 32 = crypto_kdf_BYTES_MIN..MAX range; cannot fail for these sizes. */
	(void)crypto_kdf_derive_from_key(out, PFC_KEY_BYTES, id, ctx, key);
}

int pfc_volkeys_new(const uint8_t name_key[PFC_KEY_BYTES], const uint8_t volume_id[PFC_ID_BYTES],
		    struct pfc_volkeys **out)
{
	struct pfc_volkeys *vk = sodium_malloc(sizeof(*vk));

	if (!vk)
		return PFC_ERR_NOMEM;
	kdf(vk->name_mac, 0, PFC_KDF_CTX_NAME_MAC, name_key);
	kdf(vk->name_stream, 0, PFC_KDF_CTX_NAME_STREAM, name_key);
	kdf(vk->symlink, 0, PFC_KDF_CTX_SYMLINK, name_key);
	kdf(vk->xname_mac, 0, PFC_KDF_CTX_XNAME_MAC, name_key);
	kdf(vk->xname_stream, 0, PFC_KDF_CTX_XNAME_STREAM, name_key);
	kdf(vk->xvalue, 0, PFC_KDF_CTX_XVALUE, name_key);
	kdf(vk->config_mac, 0, PFC_KDF_CTX_CONFIG_MAC, name_key);
	memcpy(vk->volume_id, volume_id, PFC_ID_BYTES);
	sodium_mprotect_readonly(vk);
	*out = vk;
	return 0;
}

void pfc_volkeys_free(struct pfc_volkeys *vk)
{
	/* sodium_free wipes the whole region (after making it writable). */
	if (vk)
		sodium_free(vk);
}

const uint8_t *pfc_volkeys_volume_id(const struct pfc_volkeys *vk)
{
	return vk->volume_id;
}

int pfc_filekey_new(const uint8_t fk[PFC_KEY_BYTES], const uint8_t file_id[PFC_ID_BYTES],
		    const struct pfc_layout *layout, struct pfc_filekey **out)
{
	struct pfc_filekey *k;
	int err = pfc_cipher_check(layout->cipher);

	if (err)
		return err;
	k = sodium_malloc(sizeof(*k));
	if (!k)
		return PFC_ERR_NOMEM;
	memset(k, 0, sizeof(*k));
	if (pthread_mutex_init(&k->lock, NULL)) {
		sodium_free(k);
		return PFC_ERR_NOMEM;
	}
	memcpy(k->fk, fk, PFC_KEY_BYTES);
	kdf(k->hdr_gen_key, 0, PFC_KDF_CTX_HDR_GEN, fk);
	memcpy(k->file_id, file_id, PFC_ID_BYTES);
	k->layout = *layout;
	*out = k;
	return 0;
}

void pfc_filekey_free(struct pfc_filekey *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	sodium_free(k);
}

const uint8_t *pfc_filekey_file_id(const struct pfc_filekey *k)
{
	return k->file_id;
}

const struct pfc_layout *pfc_filekey_layout(const struct pfc_filekey *k)
{
	return &k->layout;
}

/* Derive GK_generation into slot s (caller owns s exclusively). */
static void derive_slot(const struct pfc_filekey *k, struct pfc_gen_slot *s, uint64_t generation)
{
	uint8_t gk[PFC_KEY_BYTES];

	kdf(gk, generation, PFC_KDF_CTX_GEN, k->fk);
	if (k->layout.cipher == PFC_CIPHER_AES256GCM)
		crypto_aead_aes256gcm_beforenm(&s->st.aes, gk);
	else
		memcpy(s->st.key, gk, PFC_KEY_BYTES);
	sodium_memzero(gk, sizeof(gk));
	s->generation = generation;
	s->valid = true;
}

int pfc_gk_acquire(struct pfc_filekey *k, uint64_t generation, struct pfc_gk_ref *ref)
{
	struct pfc_gen_slot *victim = NULL, *s;
	size_t i;

	pthread_mutex_lock(&k->lock);
	k->tick++;
	for (i = 0; i < PFC_FILEKEY_GEN_CACHE; i++) {
		s = &k->slots[i];
		if (s->valid && s->generation == generation) {
			s->refs++;
			s->last_use = k->tick;
			pthread_mutex_unlock(&k->lock);
			ref->slot = s;
			ref->temp = false;
			return 0;
		}
		if (s->refs == 0 &&
		    (!victim || !s->valid || (victim->valid && s->last_use < victim->last_use)))
			victim = s;
	}
	if (victim) {
		derive_slot(k, victim, generation);
		victim->refs = 1;
		victim->last_use = k->tick;
		pthread_mutex_unlock(&k->lock);
		ref->slot = victim;
		ref->temp = false;
		return 0;
	}
	pthread_mutex_unlock(&k->lock);
	/* Every slot pinned by other threads: a private key for this call. */
	s = sodium_malloc(sizeof(*s));
	if (!s)
		return PFC_ERR_NOMEM;
	derive_slot(k, s, generation);
	s->refs = 1;
	ref->slot = s;
	ref->temp = true;
	return 0;
}

void pfc_gk_release(struct pfc_filekey *k, struct pfc_gk_ref *ref)
{
	if (!ref->slot)
		return;
	if (ref->temp) {
		sodium_free(ref->slot);
	} else {
		pthread_mutex_lock(&k->lock);
		ref->slot->refs--;
		pthread_mutex_unlock(&k->lock);
	}
	ref->slot = NULL;
}

void pfc_hdr_gen_mac(const struct pfc_filekey *k, uint64_t generation,
		     uint8_t mac[PFC_GEN_MAC_BYTES])
{
	uint8_t msg[PFC_ID_BYTES + 8];

	memcpy(msg, k->file_id, PFC_ID_BYTES);
	pfc_store_u64(msg + PFC_ID_BYTES, generation);
	crypto_generichash(mac, PFC_GEN_MAC_BYTES, msg, sizeof(msg), k->hdr_gen_key, PFC_KEY_BYTES);
}
