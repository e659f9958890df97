/* SPDX-License-Identifier: MIT */
/*
 * volume.c - open a volume and get its keys (see volume.h): the config and
 * layout, the name key unwrapped through the caller's callback into the
 * volume keys that verify the config, and a file's key from its header.
 */
#include "fs/volume.h"

#include <sodium.h>

#include "fs/err.h"

int pfc_volume_load(int rootfd, struct pfc_config *cfg, struct pfc_layout *layout)
{
	int rc = pfc_config_load(rootfd, cfg);

	return rc < 0 ? rc : pfc_config_layout(cfg, layout);
}

int pfc_volume_keys(const struct pfc_config *cfg, const struct pfc_unwrapper *uw,
		    struct pfc_volkeys **out, enum pfc_key_step *step)
{
	struct pfc_volkeys *vk = NULL;
	uint8_t ad[PFC_AD_MAX], *nk;
	size_t ad_len;
	int rc;

	*step = PFC_STEP_MEMORY;
	nk = sodium_malloc(PFC_KEY_BYTES);
	if (!nk)
		return PFC_ERR_NOMEM;
	*step = PFC_STEP_UNWRAP;
	ad_len = pfc_ad_name_key(cfg->volume_id, ad);
	rc = uw->unwrap(uw->ctx, cfg->wrapped_name_key, cfg->wrapped_name_key_len, ad, ad_len, nk);
	if (rc < 0)
		goto out;
	*step = PFC_STEP_DERIVE;
	rc = pfc_volkeys_new(nk, cfg->volume_id, &vk);
	if (rc < 0)
		goto out;
	*step = PFC_STEP_VERIFY;
	rc = pfc_config_verify(cfg, vk);
	if (rc < 0) {
		pfc_volkeys_free(vk);
		goto out;
	}
	*step = PFC_STEP_NONE;
	*out = vk;
out:
	sodium_memzero(nk, PFC_KEY_BYTES);
	sodium_free(nk);
	return rc;
}

int pfc_volume_file_key(const uint8_t volume_id[PFC_ID_BYTES], const struct pfc_layout *layout,
			const struct pfc_header *h, const struct pfc_unwrapper *uw,
			uint8_t *scratch, struct pfc_filekey **out, enum pfc_key_step *step)
{
	uint8_t ad[PFC_AD_MAX], *key = scratch;
	size_t ad_len;
	int rc;

	*step = PFC_STEP_MEMORY;
	if (!key && !(key = sodium_malloc(PFC_KEY_BYTES)))
		return PFC_ERR_NOMEM;
	*step = PFC_STEP_UNWRAP;
	ad_len = pfc_ad_file_key(volume_id, h->file_id, ad);
	rc = uw->unwrap(uw->ctx, h->wrapped, h->wrapped_len, ad, ad_len, key);
	if (rc == 0) {
		*step = PFC_STEP_DERIVE;
		rc = pfc_filekey_new(key, h->file_id, layout, out);
	}
	if (rc == 0)
		*step = PFC_STEP_NONE;
	sodium_memzero(key, PFC_KEY_BYTES);
	if (!scratch)
		sodium_free(key);
	return rc;
}
