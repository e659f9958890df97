// SPDX-License-Identifier: MIT
/*
 * gen_vectors OUTDIR - write the format v1 vectors and sample volumes into
 * OUTDIR (normally tests/vectors itself, after removing the old ones:
 * see README.md).  Deterministic: running it twice gives identical bytes.
 */
#include <stdio.h>

#include "vecgen.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_vectors OUTDIR\n");
		return 2;
	}
	return vecgen_write_all(argv[1]) == 0 ? 0 : 1;
}
