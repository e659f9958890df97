// SPDX-License-Identifier: MIT
/*
 * keystate.c - the keystore's keys in memory and on disk, below the loop and
 * the handlers (keystate.h): a mutation committed to the store file, the
 * keys wiped (lock), and which connections still use a version (for the
 * retirement rule: a closed connection is forgotten here, retire.c).
 */
#include <sodium.h>

#include "fs/err.h"
#include "fs/log.h"
#include "keystore/keystate.h"
#include "keystore/store.h"

int pfc_ks_commit(struct pfc_ks_server *s, struct pfc_keyring *next)
{
	int rc = pfc_store_save(s->store_path, next, s->sk);

	if (rc < 0) {
		pfc_err_log("cannot write the store %s: %s", s->store_path, pfc_strerror(rc));
		pfc_keyring_free(next);
		return rc;
	}
	pfc_keyring_replace(&s->kr, next);
	return 0;
}

void pfc_ks_server_lock(struct pfc_ks_server *s)
{
	pfc_keyring_free(&s->kr);
	pfc_skey_free(s->sk);
	s->sk = NULL;
	s->locked = true;
	s->key_epoch++;
}

void pfc_ks_forget_conn(struct pfc_ks_server *s, uint64_t conn)
{
	for (size_t i = 0; i < s->kr.n; i++)
		for (size_t k = 0; k < PFC_KS_USES; k++)
			if (s->kr.e[i].use[k].conn == conn)
				s->kr.e[i].use[k].conn = 0; /* closed: only its pid may still run */
}
