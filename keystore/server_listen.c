// SPDX-License-Identifier: MIT
/*
 * server_listen.c - the keystore's listening socket (server.h,
 * pfc_ks_server_listen; PROTOCOL.md section 8): its directory made or
 * checked, a stale socket replaced, a live one refused, mode 0600.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fs/err.h"
#include "fs/log.h"
#include "keystore/server.h"

static int make_socket_dir(const char *sock, bool private_dir)
{
	char tmp[PATH_MAX];
	struct stat st;
	char *dir;

	if (strlen(sock) >= sizeof(tmp))
		return PFC_ERR_INVAL;
	strcpy(tmp, sock);
	dir = dirname(tmp);
	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return PFC_ERR_IO;
	/* the default directory (.../pfcrypt/) is ours alone: tighten it to 0700 */
	if (private_dir && st.st_uid == geteuid() && (st.st_mode & 0777) != 0700) {
		if (chmod(dir, 0700) < 0)
			return PFC_ERR_IO;
		st.st_mode = (st.st_mode & ~(mode_t)0777) | 0700;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		pfc_err_log("socket directory %s must belong to uid %u and not be writable by "
			    "others",
			    dir, (unsigned)geteuid());
		return PFC_ERR_DENIED;
	}
	return 0;
}

int pfc_ks_server_listen(struct pfc_ks_server *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int fd, rc;

	if (strlen(s->socket_path) >= sizeof(sa.sun_path))
		return PFC_ERR_NAME_TOO_LONG;
	strcpy(sa.sun_path, s->socket_path);
	if ((rc = make_socket_dir(s->socket_path, s->private_dir)) < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return PFC_ERR_IO;
	/* a socket file already there: live keystore -> refuse; stale -> replace */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
		close(fd);
		return PFC_ERR_BUSY;
	}
	if (errno == ECONNREFUSED)
		unlink(s->socket_path);
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return PFC_ERR_IO;
	old = umask(0177); /* the socket is created 0600 */
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(s->socket_path, 0600) < 0 || listen(fd, 128) < 0) {
		rc = errno == EADDRINUSE ? PFC_ERR_BUSY : PFC_ERR_IO;
		close(fd);
		return rc;
	}
	s->listen_fd = fd;
	return 0;
}
