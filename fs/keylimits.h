/* SPDX-License-Identifier: MIT */
/*
 * keylimits.h - the contract between the format library and the keystore,
 * defined once: the keystore makes wrapped-key blobs under named master
 * keys, the format stores the blobs (file headers, pfcrypt.conf) and the
 * names (pfcrypt.conf).  Header only; neither side includes the other.
 */
#ifndef PFC_KEYLIMITS_H
#define PFC_KEYLIMITS_H

#define PFC_WRAPPED_MAX	 128 /* a wrapped-key blob is never longer */
#define PFC_KEY_NAME_MAX 32  /* master-key name bytes, without NUL */

#endif
