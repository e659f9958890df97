// SPDX-License-Identifier: MIT
/*
 * test_client.c - the client's socket checks (keystore/sockcheck.c) and
 * pfc_ks_connect refusing a socket that fails them (keystore/client.c).
 * Runs as root (chown, setuid): the uid compared with is a parameter, so a
 * test plays another user without being one; the peer-uid cases fork a
 * listener that really runs as uid 65534.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "fs/err.h"
#include "keystore/client.h"
#include "keystore/sockcheck.h"

#define OTHER 65534 /* nobody */

static char dir[64], sub[96], sock[128];
static char why[PFC_KS_CHECK_MSG_MAX];

static void need_root(void)
{
	if (geteuid() != 0)
		cr_assert_fail(
		    "needs root (chown, setuid): run the unit tests as root, as CI does");
}

static struct sockaddr_un addr_of(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	cr_assert_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	return sa;
}

/* A listening socket at path, owned by this process. */
static int listen_at(const char *path)
{
	struct sockaddr_un sa = addr_of(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	cr_assert_eq(listen(fd, 4), 0);
	return fd;
}

/* dir/sub (mode 0700, ours) with a listening socket dir/sub/ks.sock. */
static int setup_socket(void)
{
	snprintf(dir, sizeof(dir), "/tmp/pfc-client-XXXXXX");
	cr_assert_geq(sodium_init(), 0);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/run", dir);
	snprintf(sock, sizeof(sock), "%s/ks.sock", sub);
	cr_assert_eq(mkdir(sub, 0700), 0);
	return listen_at(sock);
}

static void teardown(int fd)
{
	char cmd[128];

	if (fd >= 0)
		close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static void assert_untrusted(const char *path, uid_t me, const char *needle)
{
	cr_assert_eq(pfc_ks_check_path(path, me, why, sizeof(why)), PFC_ERR_UNTRUSTED,
		     "accepted %s as uid %u", path, (unsigned)me);
	cr_assert_not_null(strstr(why, needle), "reason '%s' lacks '%s'", why, needle);
}

Test(keystore_client, own_0700_directory_and_socket_are_trusted)
{
	int l = setup_socket();

	cr_assert_eq(pfc_ks_check_path(sock, geteuid(), why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(chmod(sub, 0755), 0);
	cr_assert_eq(pfc_ks_check_path(sock, geteuid(), why, sizeof(why)), 0, "%s", why);
	teardown(l);
}

Test(keystore_client, group_or_other_writable_directory_is_refused)
{
	char msg[256];
	int l = setup_socket();

	cr_assert_eq(chmod(sub, 0777), 0);
	snprintf(msg, sizeof(msg), "directory %s of the socket is writable by group or others",
		 sub);
	assert_untrusted(sock, geteuid(), msg);
	cr_assert_eq(chmod(sub, 0770), 0);
	assert_untrusted(sock, geteuid(), "(mode 0770)");
	cr_assert_eq(chmod(sub, 0702), 0);
	assert_untrusted(sock, geteuid(), "writable by group or others");
	teardown(l);
}

Test(keystore_client, root_sticky_directory_only_with_our_own_socket_file)
{
	int l;

	need_root();
	l = setup_socket();
	cr_assert_eq(chmod(sub, 01777), 0);
	/* /tmp-like: root's, sticky; the socket file is the caller's */
	cr_assert_eq(pfc_ks_check_path(sock, 0, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(chown(sock, OTHER, OTHER), 0);
	cr_assert_eq(pfc_ks_check_path(sock, OTHER, why, sizeof(why)), 0, "%s", why);
	/* a root-owned socket there is not the caller's own (OTHER) */
	cr_assert_eq(chown(sock, 0, 0), 0);
	assert_untrusted(sock, OTHER, "writable by group or others (mode 1777)");
	/* sticky but not root's */
	cr_assert_eq(chown(sub, OTHER, OTHER), 0);
	cr_assert_eq(chmod(sub, 01777), 0);
	cr_assert_eq(chown(sock, OTHER, OTHER), 0);
	assert_untrusted(sock, OTHER, "writable by group or others");
	teardown(l);
}

Test(keystore_client, directory_or_socket_of_another_user_is_refused)
{
	char msg[256];
	int l;

	need_root();
	l = setup_socket();
	cr_assert_eq(chown(sub, OTHER, OTHER), 0);
	snprintf(msg, sizeof(msg),
		 "directory %s of the socket belongs to uid %d, not to you (uid 0)", sub, OTHER);
	assert_untrusted(sock, 0, msg);
	cr_assert_eq(pfc_ks_check_path(sock, OTHER, why, sizeof(why)), 0, "%s", why);
	/* root's directory and socket: trusted by anyone (root could read the keys anyway) */
	cr_assert_eq(chown(sub, 0, 0), 0);
	cr_assert_eq(pfc_ks_check_path(sock, 1000, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(chown(sock, OTHER, OTHER), 0);
	snprintf(msg, sizeof(msg), "socket %s belongs to uid %d, not to you (uid 1000)", sock,
		 OTHER);
	assert_untrusted(sock, 1000, msg);
	teardown(l);
}

Test(keystore_client, symlink_or_non_socket_is_refused_missing_is_unreachable)
{
	char link[160], file[160];
	int l = setup_socket(), fd;

	snprintf(link, sizeof(link), "%s/link.sock", sub);
	snprintf(file, sizeof(file), "%s/file.sock", sub);
	cr_assert_eq(symlink(sock, link), 0);
	assert_untrusted(link, geteuid(), "is a symbolic link");
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	assert_untrusted(file, geteuid(), "is not a socket");
	cr_assert_eq(pfc_ks_check_path("/nonexistent/ks.sock", 0, why, sizeof(why)),
		     PFC_ERR_UNREACHABLE);
	snprintf(file, sizeof(file), "%s/none.sock", sub);
	cr_assert_eq(pfc_ks_check_path(file, 0, why, sizeof(why)), PFC_ERR_UNREACHABLE);
	teardown(l);
}

/* A child running as OTHER listening in dir/other/s (its own directory): it
 * reports on res how many bytes its first client sent before closing (or -1
 * if none connected within 3 s).  The parent waits until it listens. */
static pid_t other_listener(char *path, size_t len, int *res)
{
	char odir[96];
	int ready[2], out[2];
	pid_t pid;
	char c;

	snprintf(odir, sizeof(odir), "%s/other", dir);
	snprintf(path, len, "%s/s", odir);
	cr_assert_eq(chmod(dir, 0711), 0); /* OTHER passes through to its own directory */
	cr_assert_eq(mkdir(odir, 0700), 0);
	cr_assert_eq(chown(odir, OTHER, OTHER), 0);
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(out), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sa = addr_of(path);
		int l = socket(AF_UNIX, SOCK_STREAM, 0), n = -1;
		struct pollfd p = {.fd = l, .events = POLLIN};

		if (setgid(OTHER) < 0 || setuid(OTHER) < 0 || l < 0 ||
		    bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4) < 0)
			_exit(1);
		(void)!write(ready[1], "r", 1);
		if (poll(&p, 1, 3000) == 1) {
			int c2 = accept(l, NULL, NULL);
			char buf[256];
			ssize_t r;

			n = 0;
			while (c2 >= 0 && (r = read(c2, buf, sizeof(buf))) > 0)
				n += (int)r;
		}
		(void)!write(out[1], &n, sizeof(n));
		_exit(0);
	}
	close(ready[1]);
	close(out[1]);
	cr_assert_eq(read(ready[0], &c, 1), 1, "the listener as uid %d did not start", OTHER);
	close(ready[0]);
	*res = out[0];
	return pid;
}

static int listener_result(pid_t pid, int res)
{
	int n = -2, st;

	cr_assert_eq(read(res, &n, sizeof(n)), (ssize_t)sizeof(n));
	close(res);
	waitpid(pid, &st, 0);
	return n;
}

Test(keystore_client, peer_of_another_uid_is_refused_and_sent_nothing)
{
	char path[128], moved[128], msg[256];
	struct pfc_ks *ks = NULL;
	pid_t pid;
	int res, l;

	need_root();
	l = setup_socket();
	pid = other_listener(path, sizeof(path), &res);
	/* in our own 0700 directory, chowned to us: only SO_PEERCRED tells */
	snprintf(moved, sizeof(moved), "%s/squat.sock", sub);
	cr_assert_eq(rename(path, moved), 0);
	cr_assert_eq(chown(moved, 0, 0), 0);
	cr_assert_eq(pfc_ks_check_path(moved, 0, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(pfc_ks_connect(moved, 2000, &ks), PFC_ERR_UNTRUSTED);
	cr_assert_null(ks);
	snprintf(msg, sizeof(msg), "socket %s is served by uid %d (pid %d), not by you (uid 0)",
		 moved, OTHER, (int)pid);
	cr_assert_not_null(strstr(pfc_ks_connect_message(), msg), "'%s'", pfc_ks_connect_message());
	cr_assert_eq(listener_result(pid, res), 0, "the client sent bytes to an untrusted peer");
	teardown(l);
}

Test(keystore_client, peer_check_accepts_own_uid_and_root)
{
	char path[128];
	struct sockaddr_un sa;
	pid_t pid;
	int res, l, fd;

	need_root();
	l = setup_socket();
	pid = other_listener(path, sizeof(path), &res);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	sa = addr_of(path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(pfc_ks_check_peer(fd, path, OTHER, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(pfc_ks_check_peer(fd, path, 1000, why, sizeof(why)), PFC_ERR_UNTRUSTED);
	close(fd);
	listener_result(pid, res);
	/* a root listener (this process) is trusted by any uid */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	sa = addr_of(sock);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(pfc_ks_check_peer(fd, sock, 1000, why, sizeof(why)), 0, "%s", why);
	close(fd);
	teardown(l);
}

Test(keystore_client, connect_refuses_a_writable_directory_before_connecting)
{
	struct pfc_ks *ks = NULL;
	int l = setup_socket();
	struct pollfd p = {.fd = l, .events = POLLIN};

	cr_assert_eq(chmod(sub, 0777), 0);
	cr_assert_eq(pfc_ks_connect(sock, 1000, &ks), PFC_ERR_UNTRUSTED);
	cr_assert_not_null(strstr(pfc_ks_connect_message(), "writable by group or others"));
	cr_assert_eq(poll(&p, 1, 0), 0, "the client connected anyway");
	cr_assert_eq(chmod(sub, 0700), 0);
	cr_assert_eq(pfc_ks_connect(sock, 1000, &ks), 0);
	cr_assert_str_eq(pfc_ks_connect_message(), "");
	pfc_ks_close(ks);
	teardown(l);
}
