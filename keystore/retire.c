// SPDX-License-Identifier: MIT
/* retire.c - the keystore's own rules for destroying a version (retire.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "fs/err.h"
#include "keystore/proto.h"
#include "keystore/retire.h"

/* Does process pid still run?  (EPERM: it does, as another user.) */
static bool running(int32_t pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Is the client of u still there: its connection open (conn is cleared when it
 * closes: pfc_ks_forget_conn), or its process running?  (A daemon that forked
 * after connecting keeps the connection, not the pid.) */
static bool present(const struct pfc_ks_server *s, const struct pfc_ks_use *u)
{
	(void)s;
	return u->at && (u->conn != 0 || running(u->pid));
}

void pfc_ks_note_use(const struct pfc_ks_server *s, struct pfc_ks_entry *e,
		     const struct pfc_ks_peer *c, uint8_t op, uint64_t now)
{
	struct pfc_ks_use *slot = NULL, *gone = NULL, *oldest = &e->use[0];

	for (size_t i = 0; i < PFC_KS_USES && !slot; i++) {
		struct pfc_ks_use *u = &e->use[i];

		if (!u->at || u->conn == c->conn)
			slot = u;
		else if (!present(s, u) && (!gone || u->at < gone->at))
			gone = u;
		else if (u->at < oldest->at)
			oldest = u;
	}
	if (!slot)
		slot = gone ? gone : oldest;
	*slot = (struct pfc_ks_use){
	    .at = now ? now : 1, .conn = c->conn, .pid = (int32_t)c->pid, .op = op};
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

int pfc_ks_retire_check(const struct pfc_ks_server *s, const struct pfc_ks_entry *e, uint64_t now,
			char *why, size_t n)
{
	const struct pfc_ks_use *last = NULL;

	for (size_t i = 0; i < PFC_KS_USES; i++) {
		const struct pfc_ks_use *u = &e->use[i];

		if (present(s, u) && (!last || u->at > last->at))
			last = u;
	}
	if (!last)
		return 0;
	snprintf(why, n,
		 "v%u was used to %s %llu s ago by a client still connected or running (pid %d; a "
		 "mounted volume?)",
		 (unsigned)e->version, what(last->op),
		 (unsigned long long)(now > last->at ? now - last->at : 0), (int)last->pid);
	return PFC_ERR_BUSY;
}
