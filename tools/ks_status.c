// SPDX-License-Identifier: MIT
/*
 * ks_status.c - "pfcrypt keystore status --json": one JSON object in every
 * case, reachable or not (tools/CLI.md "keystore status --json").  What the
 * STATUS and LIST requests do not say (the daemon's pid, store file and
 * uptime) comes from the socket's peer credentials and its /proc entry.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "keystore/client.h"
#include "tools/cli.h"
#include "tools/ks_cmd.h"

#define KS_STATUS_TIMEOUT_MS 10000

/* The store of keystore pid: the file whose "<store>.lock" it holds open.  false if unknown. */
static bool store_of(long pid, char *out, size_t len)
{
	char dir[64], link[PATH_MAX + 64], t[PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%ld/fd", pid);
	if (!(d = opendir(dir)))
		return false;
	while (!found && (e = readdir(d))) {
		ssize_t n;

		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		if ((n = readlink(link, t, sizeof(t) - 1)) <= 5)
			continue;
		t[n] = '\0';
		if (strcmp(t + n - 5, ".lock"))
			continue;
		t[n - 5] = '\0';
		found = snprintf(out, len, "%s", t) < (int)len;
	}
	closedir(d);
	return found;
}

/* Else the store named on its command line ("--store FILE": pfcrypt keystore start makes it
 * absolute); /proc/PID/cmdline stays readable when the daemon is not dumpable. */
static bool store_of_cmdline(long pid, char *out, size_t len)
{
	char path[64], buf[8192];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if (!(f = fopen(path, "r")))
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
		if (!strcmp(buf + i, "--store") && i + 8 < n && buf[i + 8] == '/')
			return snprintf(out, len, "%s", buf + i + 8) < (int)len;
	return false;
}

/* Seconds since process pid started (field 22 of /proc/PID/stat against /proc/uptime), or -1. */
static long long uptime_of(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	double up = 0;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (!ok || !(p = strrchr(buf, ')')))
		return -1;
	/* after "pid (comm)": field 3 is the state; starttime is field 22 */
	if (sscanf(p + 2,
		   "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
		   "%*s %*s %llu",
		   &start) != 1)
		return -1;
	if (!(f = fopen("/proc/uptime", "r")))
		return -1;
	ok = fscanf(f, "%lf", &up) == 1;
	fclose(f);
	return ok ? (long long)(up - (double)start / (double)sysconf(_SC_CLK_TCK)) : -1;
}

/* "pid", "store", "uptime_s" of the process serving sock (null where unknown). */
static void print_process(const char *sock)
{
	long pid = (long)ks_socket_pid(sock);
	char store[PATH_MAX];
	long long up = pid > 0 ? uptime_of(pid) : -1;

	if (pid > 0)
		printf(",\"pid\":%ld,\"store\":", pid);
	else
		printf(",\"pid\":null,\"store\":");
	if (pid > 0 &&
	    (store_of(pid, store, sizeof(store)) || store_of_cmdline(pid, store, sizeof(store))))
		json_str(stdout, store);
	else
		printf("null");
	if (up >= 0)
		printf(",\"uptime_s\":%lld", up);
	else
		printf(",\"uptime_s\":null");
}

static void print_keys(const struct pfc_ks_keyinfo *list, size_t n)
{
	printf(",\"keys\":[");
	for (size_t i = 0; i < n; i++) {
		printf("%s{\"name\":", i ? "," : "");
		json_str(stdout, list[i].name);
		/* retired: destroyed at; destroy_at: a retiring version's deadline */
		bool retiring = list[i].state == PFC_KS_RETIRING;

		printf(",\"version\":%u,\"state\":\"%s\",\"created\":%llu,\"retired\":%llu,"
		       "\"destroy_at\":%llu}",
		       list[i].version, cli_ks_state_name(list[i].state),
		       (unsigned long long)list[i].created,
		       (unsigned long long)(retiring ? 0 : list[i].retired),
		       (unsigned long long)(retiring ? list[i].retired : 0));
	}
	printf("]");
}

/* The object for a keystore that could not be asked (err from ks, or from connecting). */
static int print_unreachable(struct pfc_ks *ks, const char *sock, int err)
{
	char cause[1024];

	printf("{\"socket\":");
	json_str(stdout, sock);
	printf(",\"reachable\":false,\"error\":");
	json_str(stdout, cli_ks_cause(ks, err, cause, sizeof(cause)));
	printf(",\"locked\":null,\"pid\":null,\"store\":null,\"uptime_s\":null,"
	       "\"protocol_version\":null,\"kdf_profile\":null,\"keys\":[]}\n");
	cli_ks_err(ks, sock, err);
	pfc_ks_close(ks);
	return CLI_EXIT_SETUP;
}

int ks_status_json(void)
{
	struct pfc_ks *ks = NULL;
	struct pfc_ks_status st;
	struct pfc_ks_keyinfo *list = NULL;
	char sock[4096];
	size_t n = 0;
	uint32_t ver;
	int r;

	cli_ks_socket(sock, sizeof(sock));
	if ((r = pfc_ks_connect(cli_g.socket, KS_STATUS_TIMEOUT_MS, &ks)) < 0)
		return print_unreachable(NULL, sock, r);
	if ((r = pfc_ks_hello(ks, &ver)) < 0 || (r = pfc_ks_status(ks, &st)) < 0 ||
	    (!st.locked && (r = pfc_ks_list(ks, &list, &n)) < 0))
		return print_unreachable(ks, sock, r);
	printf("{\"socket\":");
	json_str(stdout, sock);
	printf(",\"reachable\":true,\"error\":null,\"locked\":%s", st.locked ? "true" : "false");
	print_process(sock);
	printf(",\"protocol_version\":%u,\"kdf_profile\":", st.protocol_version);
	json_str(stdout, st.kdf_profile);
	print_keys(list, n);
	printf("}\n");
	pfc_ks_list_free(list);
	pfc_ks_close(ks);
	return CLI_EXIT_OK;
}
