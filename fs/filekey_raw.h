/* SPDX-License-Identifier: MIT */
/*
 * filekey_raw.h - the raw file key FK of a pfc_filekey (fs/keys.c), for the
 * daemon's key cache, which keeps keys that fell out of its full tier as FK
 * alone (32 bytes in locked memory) and rebuilds the pfc_filekey with
 * pfc_filekey_new() when the file is opened again.
 */
#ifndef PFC_FILEKEY_RAW_H
#define PFC_FILEKEY_RAW_H

#include "fs/format.h"

/* Copy k's FK into out (the caller's locked memory; wipe it after use). */
void pfc_filekey_raw(const struct pfc_filekey *k, uint8_t out[PFC_KEY_BYTES]);

#endif
