// SPDX-License-Identifier: MIT
/*
 * bench_keystore.c - round trips per second against a real pfcrypt-keystore
 * over its Unix socket: unwrap, and generate-file-keys with a batch of 64,
 * with 1 client and with 4 clients (one connection and one thread each).
 *
 *   bench_keystore PATH-TO-pfcrypt-keystore [seconds-per-measurement]
 *
 * Starts the daemon in a temp dir (store with the "test" KDF profile, which
 * only affects unlock), prints the figures, stops it.  Figures, not asserts.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "keystore/client.h"

static char sock[256];
static double secs = 1.0;
static const uint8_t AD[] = "pfcrypt/v1 file-key\0vvvvvvvvvvvvvvvvffffffffffffffff";
static uint8_t blob[PFC_WRAPPED_MAX];
static size_t blob_len;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct worker {
	bool generate;
	long ops;
	int err;
	pthread_barrier_t *start;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct pfc_ks *ks = NULL;
	struct pfc_ks_filekey *fk = sodium_malloc(sizeof(*fk) * 64);
	uint8_t *key = sodium_malloc(32);
	double end;

	if (!fk || !key || (w->err = pfc_ks_connect(sock, 10000, &ks)) < 0) {
		pthread_barrier_wait(w->start);
		w->err = w->err ? w->err : PFC_ERR_NOMEM;
		goto out;
	}
	pthread_barrier_wait(w->start);
	end = now() + secs;
	while (now() < end) {
		w->err = w->generate ? pfc_ks_generate_file_keys(ks, "bench", AD, 36, 64, fk)
				     : pfc_ks_unwrap(ks, blob, blob_len, AD, sizeof(AD), key);
		if (w->err < 0)
			break;
		w->ops++;
	}
out:
	pfc_ks_close(ks);
	sodium_free(fk);
	sodium_free(key);
	return NULL;
}

static int measure(const char *what, bool generate, int nclients)
{
	pthread_t t[4];
	struct worker w[4];
	pthread_barrier_t b;
	long ops = 0;
	double t0, el;

	pthread_barrier_init(&b, NULL, (unsigned)nclients + 1);
	for (int i = 0; i < nclients; i++) {
		w[i] = (struct worker){.generate = generate, .start = &b};
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	pthread_barrier_wait(&b);
	t0 = now();
	for (int i = 0; i < nclients; i++) {
		pthread_join(t[i], NULL);
		if (w[i].err < 0) {
			fprintf(stderr, "bench_keystore: %s: %s\n", what, pfc_strerror(w[i].err));
			return 1;
		}
		ops += w[i].ops;
	}
	el = now() - t0;
	pthread_barrier_destroy(&b);
	printf("%-28s %d client%s  %10.0f round trips/s", what, nclients, nclients > 1 ? "s" : " ",
	       ops / el);
	if (generate)
		printf("  (%.0f file keys/s)", ops * 64 / el);
	printf("\n");
	return 0;
}

static int run(const char *bin, const char *dir, char *const extra[], bool wait_exit, pid_t *pid)
{
	char store[256], pass[256];
	char *argv[16];
	int n = 0, st;

	snprintf(store, sizeof(store), "%s/keystore", dir);
	snprintf(pass, sizeof(pass), "%s/pass", dir);
	argv[n++] = (char *)bin;
	argv[n++] = "--socket";
	argv[n++] = sock;
	argv[n++] = "--store";
	argv[n++] = store;
	argv[n++] = "--passphrase-file";
	argv[n++] = pass;
	for (int i = 0; extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	*pid = fork();
	if (*pid == 0) {
		execv(bin, argv);
		_exit(127);
	}
	if (!wait_exit)
		return 0;
	waitpid(*pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/ks-bench-XXXXXX", path[300];
	char *init[] = {"--init", "--kdf-profile", "test", NULL};
	char *serve[] = {"-f", NULL};
	struct pfc_ks *ks = NULL;
	uint8_t key[32] = {0};
	pid_t pid;
	int rc = 1;
	FILE *f;

	if (argc < 2 || sodium_init() < 0) {
		fprintf(stderr, "usage: bench_keystore PFCRYPT_KEYSTORE [seconds]\n");
		return 2;
	}
	if (argc > 2)
		secs = atof(argv[2]);
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/run/ks.sock", dir);
	snprintf(path, sizeof(path), "%s/pass", dir);
	f = fopen(path, "w");
	fputs("bench passphrase\n", f);
	fclose(f);
	if (run(argv[1], dir, init, true, &pid) != 0)
		goto out;
	run(argv[1], dir, serve, false, &pid);
	for (int i = 0; i < 500 && pfc_ks_connect(sock, 1000, &ks) < 0; i++)
		usleep(10000);
	if (!ks || pfc_ks_create_key(ks, "bench") < 0 ||
	    pfc_ks_wrap(ks, "bench", AD, sizeof(AD), key, blob, &blob_len) < 0) {
		fprintf(stderr, "bench_keystore: keystore did not start\n");
		goto stop;
	}
	pfc_ks_close(ks);
	printf("pfcrypt-keystore over a Unix socket, %.1f s per figure, %ld CPUs\n", secs,
	       sysconf(_SC_NPROCESSORS_ONLN));
	rc = measure("unwrap", false, 1) || measure("unwrap", false, 4) ||
	     measure("generate-file-keys(64)", true, 1) ||
	     measure("generate-file-keys(64)", true, 4);
stop:
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
out:
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		rc = 1;
	return rc;
}
