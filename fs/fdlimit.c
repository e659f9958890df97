// SPDX-License-Identifier: MIT
/* fdlimit.c - raise RLIMIT_NOFILE (see fdlimit.h). */
#include <sys/resource.h>
#include <unistd.h>

#include "fs/fdlimit.h"

#define ROOT_NOFILE (1u << 20) /* what root asks for; the kernel caps it at fs.nr_open */

unsigned long pfc_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (geteuid() == 0 && rl.rlim_max < ROOT_NOFILE) {
		struct rlimit big = {ROOT_NOFILE, ROOT_NOFILE};

		if (setrlimit(RLIMIT_NOFILE, &big) == 0)
			return ROOT_NOFILE;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
			return 0;
	}
	return (unsigned long)rl.rlim_cur;
}
