// SPDX-License-Identifier: MIT
/* vol.c - open a backing directory, load its config, unwrap its name key
 * (the volume layer of fs/volume.h, with the CLI's messages). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/unwrap.h"
#include "tools/cli.h"
#include "tools/vol.h"

void cli_hex_id(const uint8_t id[PFC_ID_BYTES], char out[2 * PFC_ID_BYTES + 1])
{
	sodium_bin2hex(out, 2 * PFC_ID_BYTES + 1, id, PFC_ID_BYTES);
}

int cli_vol_open(const char *path, struct cli_vol *v)
{
	char cfgpath[4096 + 32];
	int r;

	struct cli_mount m;

	memset(v, 0, sizeof(*v));
	v->path = path;
	if (cli_mount_at(path, &m) && m.pfcrypt &&
	    (size_t)snprintf(v->path_buf, sizeof(v->path_buf), "%s", m.source) <
		sizeof(v->path_buf)) {
		v->mnt = path;
		v->path = v->path_buf;
		path = v->path;
	}
	v->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v->fd < 0) {
		cli_err(path, "cannot open the backing directory: %s", strerror(errno));
		return CLI_EXIT_SETUP;
	}
	snprintf(cfgpath, sizeof(cfgpath), "%s/%s", path, PFC_CONFIG_NAME);
	r = pfc_volume_load(v->fd, &v->cfg, &v->layout);
	if (r == 0)
		return 0;
	if (r == PFC_ERR_NOT_FOUND) {
		cli_err(cfgpath, "no volume here (no %s; create one with 'pfcrypt init')",
			PFC_CONFIG_NAME);
	} else if (r == PFC_ERR_IO) {
		cli_err(cfgpath, "cannot read: %s", strerror(errno));
	} else {
		const char *why = pfc_config_last_error();

		cli_err(cfgpath, "%s", why && *why ? why : pfc_strerror(r));
	}
	close(v->fd);
	v->fd = -1;
	return CLI_EXIT_SETUP;
}

void cli_vol_close(struct cli_vol *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

int cli_vol_keys(struct cli_vol *v, struct pfc_ks *ks, struct pfc_volkeys **out)
{
	struct pfc_unwrapper uw = pfc_ks_unwrapper(ks);
	enum pfc_key_step step;
	char cfgpath[4096], what[4200];
	int r;

	snprintf(cfgpath, sizeof(cfgpath), "%s/%s", v->path, PFC_CONFIG_NAME);
	r = pfc_volume_keys(&v->cfg, &uw, out, &step);
	switch (r < 0 ? step : PFC_STEP_NONE) {
	case PFC_STEP_NONE:
		return 0;
	case PFC_STEP_MEMORY:
		cli_err(cfgpath, "cannot allocate locked memory");
		break;
	case PFC_STEP_UNWRAP:
		snprintf(what, sizeof(what), "%s: cannot unwrap the volume name key", cfgpath);
		cli_ks_err(ks, what, r);
		break;
	case PFC_STEP_DERIVE:
		cli_err(cfgpath, "cannot derive the volume keys: %s", pfc_strerror(r));
		break;
	case PFC_STEP_VERIFY:
		cli_err(cfgpath, "config does not verify (tampered or damaged): %s",
			pfc_strerror(r));
		break;
	}
	return CLI_EXIT_SETUP;
}

int cli_read_header(const struct cli_vol *v, const char *rel, struct pfc_header *h, int *fd_out)
{
	uint8_t buf[PFC_HEADER_SIZE];
	ssize_t n;
	int fd, r;

	/* replaced by a FIFO or a device since the walk: PFC_ERR_CORRUPT, never opened */
	fd = pfc_open_regular(v->fd, rel, fd_out ? O_RDWR : O_RDONLY, 0, NULL);
	if (fd < 0)
		return fd;
	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return PFC_ERR_IO;
	}
	if (n == 0) {
		close(fd);
		return 1;
	}
	r = pfc_header_parse(buf, (size_t)n, h);
	if (r < 0 || !fd_out) {
		close(fd);
		return r < 0 ? r : 0;
	}
	*fd_out = fd;
	return 0;
}
