// SPDX-License-Identifier: MIT
/*
 * client_admin.c - the keystore client's key-administration requests:
 * rotate, retire and cancel, list, lock and unlock, passphrase change,
 * export and import (the connection and the daemon's requests are in
 * client.c; both share client_priv.h).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/client_priv.h"

int pfc_ks_rotate(struct pfc_ks *ks, const char *name, uint32_t *new_version)
{
	struct pfc_ks_req q = {.type = PFC_KS_ROTATE};
	struct pfc_ks_reply rep = {0};
	int rc = pfc_ks_req_name(&q, name);

	if (rc < 0 || (rc = pfc_ks_request(ks, &q, false, &rep)) < 0)
		return rc;
	if (new_version)
		*new_version = rep.u32;
	return 0;
}

void pfc_ks_set_proof(struct pfc_ks *ks, const char *pass, size_t len)
{
	if (!ks)
		return;
	ks->proof = pass;
	ks->proof_len = pass ? len : 0;
}

int pfc_ks_retire(struct pfc_ks *ks, const char *name, uint32_t version, unsigned flags,
		  uint32_t delay, uint64_t *when)
{
	struct pfc_ks_req q = {.type = PFC_KS_RETIRE,
			       .version = version,
			       .flags = (uint8_t)flags,
			       .delay = delay,
			       .proof = (const uint8_t *)ks->proof,
			       .proof_len = ks->proof_len};
	struct pfc_ks_reply rep = {0};
	int rc = pfc_ks_req_name(&q, name);

	if (rc < 0)
		return rc;
	if (version == 0 || (flags & ~PFC_KS_RETIRE_FLAGS) || delay > PFC_KS_RETIRE_DELAY_MAX)
		return PFC_ERR_INVAL;
	if ((rc = pfc_ks_request(ks, &q, false, &rep)) < 0)
		return rc;
	if (when)
		*when = rep.when;
	return rep.state == PFC_KS_RETIRING ? 1 : 0;
}

int pfc_ks_cancel_retire(struct pfc_ks *ks, const char *name, uint32_t version)
{
	struct pfc_ks_req q = {.type = PFC_KS_CANCEL_RETIRE, .version = version};
	struct pfc_ks_reply rep = {0};
	int rc = pfc_ks_req_name(&q, name);

	if (rc < 0)
		return rc;
	if (version == 0)
		return PFC_ERR_INVAL;
	q.proof = (const uint8_t *)ks->proof;
	q.proof_len = ks->proof_len;
	return pfc_ks_request(ks, &q, false, &rep);
}

int pfc_ks_list(struct pfc_ks *ks, struct pfc_ks_keyinfo **out, size_t *n)
{
	struct pfc_ks_req q = {.type = PFC_KS_LIST};
	struct pfc_ks_reply rep = {0};
	int rc;

	if (!out || !n)
		return PFC_ERR_INVAL;
	if ((rc = pfc_ks_request(ks, &q, true, &rep)) < 0)
		return rc;
	*out = rep.list;
	*n = rep.n;
	return 0;
}

void pfc_ks_list_free(struct pfc_ks_keyinfo *list)
{
	free(list);
}

int pfc_ks_lock(struct pfc_ks *ks)
{
	struct pfc_ks_req q = {.type = PFC_KS_LOCK};
	struct pfc_ks_reply rep = {0};

	return pfc_ks_request(ks, &q, true, &rep);
}

int pfc_ks_unlock(struct pfc_ks *ks, const char *pass, size_t len)
{
	struct pfc_ks_req q = {
	    .type = PFC_KS_UNLOCK, .pass = (const uint8_t *)pass, .pass_len = len};
	struct pfc_ks_reply rep = {0};

	if ((!pass && len) || len > PFC_KS_PASS_MAX)
		return PFC_ERR_INVAL;
	return pfc_ks_request(ks, &q, true, &rep);
}

int pfc_ks_change_passphrase(struct pfc_ks *ks, const char *old_pass, size_t old_len,
			     const char *new_pass, size_t new_len)
{
	struct pfc_ks_req q = {.type = PFC_KS_PASSWD,
			       .pass = (const uint8_t *)old_pass,
			       .pass_len = old_len,
			       .pass2 = (const uint8_t *)new_pass,
			       .pass2_len = new_len};
	struct pfc_ks_reply rep = {0};

	if ((!old_pass && old_len) || (!new_pass && new_len) || old_len > PFC_KS_PASS_MAX ||
	    new_len > PFC_KS_PASS_MAX || new_len == 0)
		return PFC_ERR_INVAL;
	return pfc_ks_request(ks, &q, false, &rep);
}

int pfc_ks_export(struct pfc_ks *ks, const char *name, const uint32_t *versions, size_t nversions,
		  const char *export_pass, size_t pass_len, const char *kdf_profile,
		  uint8_t **bundle, size_t *bundle_len)
{
	struct pfc_ks_req q = {.type = PFC_KS_EXPORT,
			       .pass = (const uint8_t *)export_pass,
			       .pass_len = pass_len,
			       .proof = (const uint8_t *)ks->proof,
			       .proof_len = ks->proof_len,
			       .kdf_profile = kdf_profile,
			       .kdf_profile_len = kdf_profile ? strlen(kdf_profile) : 0};
	struct pfc_ks_reply rep = {0};
	uint8_t vbuf[4 * PFC_KS_EXPORT_VERSIONS_MAX];
	struct pfc_wbuf v;
	int rc = pfc_ks_req_name(&q, name);

	if (rc < 0)
		return rc;
	if (!bundle || !bundle_len || (nversions && !versions) ||
	    nversions > PFC_KS_EXPORT_VERSIONS_MAX || (!export_pass && pass_len) || pass_len == 0 ||
	    pass_len > PFC_KS_PASS_MAX || q.kdf_profile_len > PFC_KS_KDF_NAME_MAX)
		return PFC_ERR_INVAL;
	pfc_wbuf_init_fixed(&v, vbuf, sizeof(vbuf));
	pfc_wbuf_put_u32_array(&v, versions, nversions);
	q.count = (uint16_t)nversions;
	q.versions = vbuf;
	if ((rc = pfc_ks_request(ks, &q, true, &rep)) < 0)
		return rc;
	*bundle = rep.bundle;
	*bundle_len = rep.bundle_len;
	return 0;
}

void pfc_ks_bundle_free(uint8_t *bundle)
{
	sodium_free(bundle);
}

int pfc_ks_import(struct pfc_ks *ks, const uint8_t *bundle, size_t len, const char *pass,
		  size_t pass_len, uint32_t *imported)
{
	struct pfc_ks_req q = {.type = PFC_KS_IMPORT,
			       .blob = bundle,
			       .blob_len = len,
			       .pass = (const uint8_t *)pass,
			       .pass_len = pass_len};
	struct pfc_ks_reply rep = {0};
	int rc;

	if (!bundle || len > PFC_KS_BUNDLE_MAX || (!pass && pass_len) || pass_len > PFC_KS_PASS_MAX)
		return PFC_ERR_INVAL;
	if ((rc = pfc_ks_request(ks, &q, false, &rep)) < 0)
		return rc;
	if (imported)
		*imported = rep.u32;
	return 0;
}
