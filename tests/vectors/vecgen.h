/* SPDX-License-Identifier: MIT */
/*
 * vecgen.h - deterministic test vectors and sample volumes of format v1
 * (see tests/vectors/README.md).  Used by gen_vectors (writes them into the
 * source tree) and by test_format_vectors (regenerates and compares).
 */
#ifndef PFC_VECGEN_H
#define PFC_VECGEN_H

/* The items written into outdir, in order. */
#define VECGEN_JSON	    "format_v1.json"
#define VECGEN_SAMPLE_AES   "sample-v1-aes256gcm"
#define VECGEN_SAMPLE_XCHA  "sample-v1-xchacha20poly1305"
#define VECGEN_SAMPLE_PLAIN "sample-v1-plain"

/* Write every vector file and sample tree into outdir (which must exist and
 * not yet contain them).  Installs the deterministic RNG for the duration.
 * 0 or a negative PFC_ERR_* / -1 on I/O errors (message on stderr). */
int vecgen_write_all(const char *outdir);

#endif
