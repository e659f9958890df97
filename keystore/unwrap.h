/* SPDX-License-Identifier: MIT */
/*
 * unwrap.h - the keystore client's unwrap as the volume layer's callback
 * (struct pfc_unwrapper, fs/volume.h), for the daemon and the CLI.  Header
 * only: the format library itself never includes it and links no socket.
 */
#ifndef PFC_KS_UNWRAP_H
#define PFC_KS_UNWRAP_H

#include "fs/volume.h"
#include "keystore/client.h"

static inline int pfc_ks_unwrap_cb(void *ks, const uint8_t *blob, size_t blob_len,
				   const uint8_t *ad, size_t ad_len, uint8_t key[PFC_KEY_BYTES])
{
	return pfc_ks_unwrap(ks, blob, blob_len, ad, ad_len, key);
}

/* Unwrap through the connection ks (its requests are serialised inside). */
static inline struct pfc_unwrapper pfc_ks_unwrapper(struct pfc_ks *ks)
{
	return (struct pfc_unwrapper){pfc_ks_unwrap_cb, ks};
}

#endif
