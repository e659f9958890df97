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
#include "fs/filekey_raw.h"
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

/*
 * Storage of pfc_filekey objects.  A sodium_malloc region per key costs
 * three mappings and six system calls over its life (mmap, two mprotect,
 * mlock; munlock, munmap), measured at 5-10 % of the daemon's CPU on an
 * untar or a find+md5sum of a source tree (tests/bench/profile-daemon:
 * one new key per created or opened file).  So keys come from slabs of
 * FILEKEY_SLAB objects, each slab one sodium_allocarray region (locked in
 * memory, left out of core dumps, guard pages at both ends); a freed key is
 * wiped and kept on a free list for the next one.  Slabs are never given
 * back: their number is bounded by the most keys alive at once (the
 * daemon's key-cache bound plus its open files).  Under AddressSanitizer
 * every key is its own sodium_malloc region again, so that a use after free
 * is still caught.  slab_lock (a leaf lock) protects slab_free.
 */
#if defined(__SANITIZE_ADDRESS__)
#define FILEKEY_SLAB 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FILEKEY_SLAB 0
#endif
#endif
#ifndef FILEKEY_SLAB
#define FILEKEY_SLAB 32 /* keys per slab: 73 KiB with PFC_FILEKEY_GEN_CACHE 4 */
#endif

#if FILEKEY_SLAB
struct filekey_free {
	struct filekey_free *next;
};
static pthread_mutex_t slab_lock = PTHREAD_MUTEX_INITIALIZER;
static struct filekey_free *slab_free; /* protected by slab_lock */

static struct pfc_filekey *filekey_alloc(void)
{
	struct filekey_free *f;

	pthread_mutex_lock(&slab_lock);
	if (!slab_free) {
		/* sizeof is a multiple of the 16-byte alignment of the AES state,
		 * so every element of the region is aligned as the first is */
		struct pfc_filekey *s = sodium_allocarray(FILEKEY_SLAB, sizeof(*s));

		if (!s) {
			pthread_mutex_unlock(&slab_lock);
			return NULL;
		}
		for (size_t i = FILEKEY_SLAB; i-- > 0;) {
			f = (struct filekey_free *)(void *)&s[i];
			f->next = slab_free;
			slab_free = f;
		}
	}
	f = slab_free;
	slab_free = f->next;
	pthread_mutex_unlock(&slab_lock);
	return (struct pfc_filekey *)(void *)f;
}

static void filekey_release(struct pfc_filekey *k)
{
	struct filekey_free *f = (struct filekey_free *)(void *)k;

	sodium_memzero(k, sizeof(*k));
	pthread_mutex_lock(&slab_lock);
	f->next = slab_free;
	slab_free = f;
	pthread_mutex_unlock(&slab_lock);
}
#else
static struct pfc_filekey *filekey_alloc(void)
{
	return sodium_malloc(sizeof(struct pfc_filekey));
}

static void filekey_release(struct pfc_filekey *k)
{
	sodium_free(k); /* wipes */
}
#endif

_Static_assert(sizeof(struct pfc_filekey) % 16 == 0, "slab elements stay 16-byte aligned");

int pfc_filekey_new(const uint8_t fk[PFC_KEY_BYTES], const uint8_t file_id[PFC_ID_BYTES],
		    const struct pfc_layout *layout, struct pfc_filekey **out)
{
	struct pfc_filekey *k;
	int err = pfc_cipher_check(layout->cipher);

	if (err)
		return err;
	k = filekey_alloc();
	if (!k)
		return PFC_ERR_NOMEM;
	memset(k, 0, sizeof(*k));
	if (pthread_mutex_init(&k->lock, NULL)) {
		filekey_release(k);
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
	filekey_release(k);
}

void pfc_filekey_raw(const struct pfc_filekey *k, uint8_t out[PFC_KEY_BYTES])
{
	memcpy(out, k->fk, PFC_KEY_BYTES);
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
