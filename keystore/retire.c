// SPDX-License-Identifier: MIT
/* retire.c - the keystore's own rules for destroying a version (retire.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "fs/err.h"
#include "keystore/proto.h"
#include "keystore/retire.h"

void pfc_ks_note_use(struct pfc_ks_entry *e, pid_t pid, uint8_t op, uint64_t now)
{
	struct pfc_ks_use *slot = &e->use[0];

	if (pid <= 0)
		return;
	/* the client's own slot, else a free one, else the least recent */
	for (size_t i = 0; i < PFC_KS_USES; i++) {
		struct pfc_ks_use *u = &e->use[i];

		if (u->at && u->pid == pid) {
			slot = u;
			break;
		}
		if (!u->at || (slot->at && u->at < slot->at))
			slot = u;
	}
	*slot = (struct pfc_ks_use){.at = now ? now : 1, .pid = (int32_t)pid, .op = op};
}

/* Does process pid still run?  (EPERM: it does, as another user.) */
static bool running(int32_t pid)
{
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static const char *what(uint8_t op)
{
	switch (op) {
	case PFC_KS_UNWRAP:
		return "unwrap a file key";
	case PFC_KS_WRAP:
		return "wrap a key";
	default:
		return "make file keys";
	}
}

int pfc_ks_retire_check(const struct pfc_ks_entry *e, uint64_t now, char *why, size_t n)
{
	const struct pfc_ks_use *last = NULL;

	for (size_t i = 0; i < PFC_KS_USES; i++) {
		const struct pfc_ks_use *u = &e->use[i];

		if (u->at && running(u->pid) && (!last || u->at > last->at))
			last = u;
	}
	if (!last)
		return 0;
	snprintf(why, n,
		 "v%u was used to %s %llu s ago by pid %d, still running (a mounted volume?)",
		 (unsigned)e->version, what(last->op),
		 (unsigned long long)(now > last->at ? now - last->at : 0), (int)last->pid);
	return PFC_ERR_BUSY;
}
