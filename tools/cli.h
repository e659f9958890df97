/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the pfcrypt subcommands share: exit codes, one-line errors,
 * number parsing, passphrase input, keystore connections, JSON strings,
 * progress, the backing-tree walk and a small worker pool.  The option loop
 * is in opts.h.
 *
 * Grouped by source file.  Every subcommand is one cmd_*.c file exporting
 * int cmd_<name>(int argc, char **argv) that returns the process exit code.
 */
#ifndef PFC_CLI_H
#define PFC_CLI_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct pfc_ks;

/* Exit codes (tools/CLI.md "Exit codes"): scripts rely on them. */
enum {
	CLI_EXIT_OK = 0,       /* done, nothing wrong */
	CLI_EXIT_PROBLEMS = 1, /* ran, found problems (check) or refused (retire) */
	CLI_EXIT_SETUP = 2,    /* usage error, or could not run (keystore, config, I/O) */
};

/* ---- util.c ---- */

/* Set by main before any subcommand runs; read-only afterwards. */
struct cli_global {
	const char *socket;  /* --socket or PFCRYPT_SOCKET; NULL = client default */
	char self_dir[4096]; /* directory of the running pfcrypt binary ("" if unknown) */
	bool quiet;	     /* -q/--quiet: no line saying what was done (cli_say) */
};
extern struct cli_global cli_g;

/* "pfcrypt: <file>: <cause>" on stderr (file may be NULL). */
void cli_err(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usage error for subcommand cmd: one line, a hint, returns CLI_EXIT_SETUP. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The one line on stdout saying what a command did ("unmounted MNT"); nothing with -q. */
void cli_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print help text to stdout; returns CLI_EXIT_OK. */
int cli_help(const char *text);
/* Parse a decimal unsigned in [min,max]; 0 ok, -1 bad. */
int cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* Find a helper program: env override, next to pfcrypt, then PATH. Returns malloc'd path or NULL.
 */
char *cli_find_program(const char *name, const char *env_override);
/* Number of online CPUs (at least 1). */
unsigned cli_nproc(void);
/* Read a whole small file (at most max bytes); malloc'd; 0 ok, -errno. */
int cli_read_file(const char *path, size_t max, uint8_t **out, size_t *len);

/* ---- mounts.c ---- */

/* Is the volume at path mounted by pfcryptfs?  If so its mountpoint goes to mnt. */
bool cli_mounted(const char *path, char *mnt, size_t len);
/* The same, reading the mount table from the file mountinfo (a made-up one in tests). */
bool cli_mounted_in(const char *mountinfo, const char *path, char *mnt, size_t len);
/* What is mounted at path (the topmost mount there), from /proc/self/mountinfo;
 * pfcrypt: a pfcryptfs mount, whose source is then its backing directory. */
struct cli_mount {
	char mountpoint[PATH_MAX], fstype[64], source[PATH_MAX];
	bool pfcrypt;
};
/* false if path is not the root of a mount.  A stale FUSE mount (ENOTCONN) is found too. */
bool cli_mount_at(const char *path, struct cli_mount *m);
/* cli_mounted, where path may also be the mountpoint of the pfcryptfs mount. */
bool cli_volume_mounted(const char *path, char *mnt, size_t len);
/* Is the directory name in dirfd (st: its lstat; parent_dev: st_dev of dirfd)
 * a mount point: another st_dev, or the root of a mount (a bind mount of the
 * same file system), by statx STATX_ATTR_MOUNT_ROOT or /proc/self/mountinfo? */
struct stat;
bool cli_is_mount_point(int dirfd, const char *name, const struct stat *st, dev_t parent_dev);

/* ---- pass.c ---- */

/* Where a passphrase comes from, in this order: fd >= 0, file, extpass, the file named by env,
 * the tty. */
#define CLI_EXTPASS_MAX 64 /* --extpass values, at most (PFC_EXTPASS_ARGS_MAX) */
#define CLI_PASS_SHORT	10 /* a new passphrase shorter than this (characters) is warned about */
#define CLI_PASS_TRIES	3  /* a new passphrase on the terminal: attempts before giving up */
struct cli_pass_src {
	const char *file; /* --passphrase-file */
	int fd;		  /* --passphrase-fd, -1 if not given */
	const char *env;  /* name of an env variable holding a file path, or NULL */
	/* --extpass, in order: one is split at spaces, several are the command's argv one
	 * element each (keystore/extpass.h); no shell */
	const char *extpass[CLI_EXTPASS_MAX];
	size_t nextpass;
};
#define CLI_PASS_SRC_INIT                                                                          \
	{                                                                                          \
		.fd = -1, .env = "PFCRYPT_PASSPHRASE_FILE"                                         \
	}

/*
 * Read a passphrase into sodium_malloc'd memory (*out, *len; NUL-terminated).
 * One trailing newline is stripped.  On the tty: no echo; confirm (a new
 * passphrase) asks twice, again when the two differ (CLI_PASS_TRIES in all),
 * and a short one (< CLI_PASS_SHORT characters) only after a warning and a yes.
 * Prints its own one-line error; returns 0 or CLI_EXIT_SETUP.
 */
int cli_read_pass(const struct cli_pass_src *src, const char *prompt, bool confirm, char **out,
		  size_t *len);
/* Wipe and free (NULL is fine). */
void cli_pass_free(char *p);
/* The --extpass option (struct cli_opt's call; dest: a struct cli_pass_src): appends arg. */
int cli_opt_extpass(const char *cmd, const char *arg, void *dest);

/* ---- ks.c ---- */

/* Connect to the keystore at cli_g.socket and say hello; prints the error. 0 or CLI_EXIT_SETUP. */
int cli_ks_open(struct pfc_ks **out);
/* Print "pfcrypt: <what>: <cause> (<server message>)" for a keystore error. */
void cli_ks_err(struct pfc_ks *ks, const char *what, int err);
/* The cause of keystore error err in buf, once ("wrong passphrase", "E: the server's
 * message" when that says more); ks NULL: of the last connect.  Returns buf. */
const char *cli_ks_cause(struct pfc_ks *ks, int err, char *buf, size_t len);
/* The socket path cli_g.socket resolves to (for messages). */
const char *cli_ks_socket(char *buf, size_t len);
/* cli_ks_err naming what (printf format); returns CLI_EXIT_SETUP. */
int cli_ks_fail(struct pfc_ks *ks, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* cli_ks_err naming the socket; returns CLI_EXIT_SETUP. */
int cli_ks_fail_socket(struct pfc_ks *ks, int err);
/* "primary", "active" or "retired" for an enum pfc_ks_state. */
const char *cli_ks_state_name(int state);

/* One keystore connection per worker thread (check, rewrap). */
struct cli_ks_conns {
	struct pfc_ks **ks; /* ks[worker]: the first n are open */
	unsigned n, cap;
};
/* Room for cap connections, none open yet.  0 or CLI_EXIT_SETUP. */
int cli_ks_conns_init(struct cli_ks_conns *c, unsigned cap);
/* Open more until n (at most cap) are open; prints the error.  0 or CLI_EXIT_SETUP. */
int cli_ks_conns_open(struct cli_ks_conns *c, unsigned n);
/* Close those open and free the array (a zeroed or failed set is fine). */
void cli_ks_conns_close(struct cli_ks_conns *c);

/* ---- json.c ---- */

/* Write s as a JSON string literal (quotes, escapes, invalid UTF-8 bytes as \u00XX). */
void json_str(FILE *f, const char *s);

/* ---- progress.c ---- */

/* A progress line on stderr, only when stderr is a terminal. Thread-safe updates. */
struct cli_progress {
	const char *what;
	atomic_size_t done;
	size_t total;
	bool tty;
	long long last_ms; /* a rate limiter only: relaxed atomic loads and stores */
};
void cli_progress_init(struct cli_progress *p, const char *what, size_t total);
/* Count one item done; redraws at most ~10 times a second. */
void cli_progress_step(struct cli_progress *p);
void cli_progress_end(struct cli_progress *p);

/* ---- pool.c ---- */

/* The number of workers for n items: threads, but at most n and at least 1. */
unsigned cli_pool_workers(unsigned long threads, size_t n);
/*
 * Run fn(arg, worker, i) for i in [0, n) on nthreads threads numbered
 * worker = 0..nthreads-1 (so a caller can keep one keystore connection per
 * worker); items are taken in order from a shared atomic counter.  Stops
 * handing out items once *stop is set (stop may be NULL).  0 or -ENOMEM.
 */
int cli_pool_run(unsigned nthreads, size_t n, void (*fn)(void *arg, unsigned worker, size_t i),
		 void *arg, atomic_bool *stop);

#endif
