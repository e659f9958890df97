/* SPDX-License-Identifier: MIT */
/* tmpdir.h - a scratch directory for the volume-layer tests (entry, walk, volume). */
#ifndef PFC_TEST_TMPDIR_H
#define PFC_TEST_TMPDIR_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>

/* mkdtemp(tmpl) and open it; shell (may be NULL) runs in it first.  Its fd. */
static inline int tmpdir_make(char *tmpl, const char *shell)
{
	char cmd[1024];
	int fd;

	cr_assert_not_null(mkdtemp(tmpl));
	if (shell) {
		snprintf(cmd, sizeof(cmd), "cd '%s' && %s", tmpl, shell);
		cr_assert_eq(system(cmd), 0, "%s", cmd);
	}
	fd = open(tmpl, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(fd, 0);
	return fd;
}

/* Close fd and remove the directory with everything in it. */
static inline void tmpdir_remove(const char *dir, int fd)
{
	char cmd[512];

	close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

#endif
