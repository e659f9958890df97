// SPDX-License-Identifier: MIT
/*
 * main.c - pfcrypt-keystore: options, passphrase, signals, the start-up order.
 * Process set-up (lock, socket activation, detaching) is in process.c, the
 * serving in server.c; see --help and PROTOCOL.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fs/err.h"
#include "fs/log.h"
#include "keystore/passphrase.h"
#include "keystore/process.h"
#include "keystore/proto.h"
#include "keystore/server.h"
#include "keystore/store.h"

#define EXIT_USAGE 2

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: pfcrypt-keystore [options]\n"
	    "Hold pfcrypt master keys and serve wrap/unwrap requests on a Unix socket.\n\n"
	    "  --socket PATH          socket (default: $PFCRYPT_SOCKET, else\n"
	    "                         $XDG_RUNTIME_DIR/pfcrypt/keystore.sock, else\n"
	    "                         /tmp/pfcrypt-$UID/keystore.sock, for root\n"
	    "                         /run/pfcrypt/keystore.sock); its directory is made 0700\n"
	    "  --store FILE           store file (default: $XDG_CONFIG_HOME/pfcrypt/keystore,\n"
	    "                         else ~/.config/pfcrypt/keystore)\n"
	    "  --init                 create a new empty store (never overwrites a file), exit\n"
	    "  --serve                with --init: go on serving the new store\n"
	    "  --kdf-profile P        with --init: Argon2id cost: interactive (ops 2, 64 MiB),\n"
	    "                         moderate (ops 3, 256 MiB; default), sensitive (ops 4,\n"
	    "                         1 GiB), test (ops 1, 1 MiB: INSECURE, test suites only)\n"
	    "  --passphrase-file F    read the passphrase from F (one trailing newline dropped)\n"
	    "  --passphrase-fd N      read the passphrase from file descriptor N until EOF\n"
	    "  --extpass CMD          run CMD (no shell: split at spaces; given more than once,\n"
	    "                         each --extpass is one argument); its output is the\n"
	    "                         passphrase (a password manager, systemd-ask-password,\n"
	    "                         ...); it must exit 0 within 120 s, else it is killed\n"
	    "                         (default: prompt on the terminal without echo)\n"
	    "  --locked               start locked; keys load on an unlock request\n"
	    "  -f, --foreground       do not daemonise (default: fork, detach, log to syslog;\n"
	    "                         the first process exits 0 once the socket listens)\n"
	    "  --log-file F           once listening, log to F (appended) instead of syslog\n"
	    "                         (daemonised) or stderr (foreground)\n"
	    "  -v, --verbose          log every request (debug level); by default only key\n"
	    "                         administration and failures are logged\n"
	    "  --client-timeout MS    a client must finish a started frame, and take its reply,\n"
	    "                         within MS milliseconds (default 5000)\n"
	    "  --idle-timeout S       close a connection idle (between requests) for S seconds\n"
	    "                         (default 300; 0: never); clients reconnect by themselves\n"
	    "  --max-clients N        simultaneous connections (default 256); when all are\n"
	    "                         taken, the least recently active one makes room\n"
	    "  --lifetime D           lock (wipe every key) once D has passed since the keys\n"
	    "                         were loaded (start or unlock); D: a number with unit s,\n"
	    "                         m, h or d, e.g. 8h (default: never)\n"
	    "  --confirm-export CMD   before each export, run the shell command CMD (told what\n"
	    "                         is asked in $PFCRYPT_CONFIRM); only exit 0 allows it\n"
	    "  -h, --help             this text\n"
	    "  --version              print the version\n\n"
	    "Socket activation: started by systemd with one listening socket (LISTEN_FDS=1),\n"
	    "it serves that socket (--socket is ignored) and leaves it in place at exit.\n\n"
	    "Exit status: 0 ok (also after SIGTERM/SIGINT), 1 runtime error (store unreadable,\n"
	    "wrong passphrase, socket in use), 2 usage error.\n");
}

struct opts {
	const char *socket, *store, *pass_file, *log_file, *profile;
	const char *extpass[PFC_EXTPASS_ARGS_MAX]; /* --extpass values (extpass.h) */
	size_t nextpass;
	int pass_fd;
	bool init, serve, locked, foreground, verbose;
	int client_timeout;
	long idle_timeout, max_clients;
	uint64_t lifetime;
	const char *confirm_export;
};

/* The passphrase from --passphrase-file, --passphrase-fd, --extpass or the terminal. */
static int get_pass(const struct opts *o, const char *prompt, char *buf, size_t *len)
{
	const struct pfc_pass_src src = {.fd = o->pass_fd,
					 .file = o->pass_file,
					 .extpass = {.args = o->extpass, .n = o->nextpass}};
	struct pfc_pass_why why;
	int rc = pfc_pass_read(&src, prompt, buf, len, &why);
	char cause[512];

	if ((rc == PFC_ERR_IO || rc == PFC_ERR_TIMEOUT || rc == PFC_ERR_INVAL) && src.fd < 0 &&
	    !src.file && o->nextpass) {
		pfc_extpass_describe(&src.extpass, rc,
				     &(struct pfc_extpass_why){why.status, why.sys}, cause,
				     sizeof(cause));
		fprintf(stderr, "pfcrypt-keystore: --extpass: %s\n", cause);
	}
	return rc;
}

static void harden(void)
{
	struct rlimit rl = {0, 0};

	/* no core file, no ptrace by same-uid processes, no /proc/PID/mem for them */
	if (setrlimit(RLIMIT_CORE, &rl) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		pfc_warn("cannot disable core dumps: %s", strerror(errno));
}

static const char *default_store(char *buf, size_t len)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
	int n;

	if (x && *x)
		n = snprintf(buf, len, "%s/pfcrypt/keystore", x);
	else if (h && *h)
		n = snprintf(buf, len, "%s/.config/pfcrypt/keystore", h);
	else
		return NULL;
	return (n < 0 || (size_t)n >= len) ? NULL : buf;
}

enum {
	O_SOCKET = 256,
	O_STORE,
	O_INIT,
	O_SERVE,
	O_PROFILE,
	O_PFILE,
	O_PFD,
	O_EXTPASS,
	O_LOCKED,
	O_LOGFILE,
	O_TIMEOUT,
	O_MAXCL,
	O_LIFETIME,
	O_CONFIRM,
	O_IDLE,
	O_VERSION
};

static const struct option long_opts[] = {
    {"socket", required_argument, 0, O_SOCKET},
    {"store", required_argument, 0, O_STORE},
    {"init", no_argument, 0, O_INIT},
    {"serve", no_argument, 0, O_SERVE},
    {"kdf-profile", required_argument, 0, O_PROFILE},
    {"passphrase-file", required_argument, 0, O_PFILE},
    {"passphrase-fd", required_argument, 0, O_PFD},
    {"extpass", required_argument, 0, O_EXTPASS},
    {"locked", no_argument, 0, O_LOCKED},
    {"foreground", no_argument, 0, 'f'},
    {"log-file", required_argument, 0, O_LOGFILE},
    {"verbose", no_argument, 0, 'v'},
    {"client-timeout", required_argument, 0, O_TIMEOUT},
    {"max-clients", required_argument, 0, O_MAXCL},
    {"lifetime", required_argument, 0, O_LIFETIME},
    {"confirm-export", required_argument, 0, O_CONFIRM},
    {"idle-timeout", required_argument, 0, O_IDLE},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, O_VERSION},
    {0, 0, 0, 0},
};

/* A decimal in [lo, hi] into *v; -1 if optarg is not one. */
static int parse_long(const char *arg, long lo, long hi, long *v)
{
	char *end;
	long n = strtol(arg, &end, 10);

	if (end == arg || *end || n < lo || n > hi)
		return -1;
	*v = n;
	return 0;
}

/* The options that take a value; -1 for a bad value or an unknown option. */
static int parse_value(int c, const char *arg, struct opts *o)
{
	long n;

	switch (c) {
	case O_SOCKET:
		o->socket = arg;
		return 0;
	case O_STORE:
		o->store = arg;
		return 0;
	case O_PROFILE:
		o->profile = arg;
		return 0;
	case O_PFILE:
		o->pass_file = arg;
		return 0;
	case O_EXTPASS:
		if (o->nextpass == PFC_EXTPASS_ARGS_MAX)
			return -1;
		o->extpass[o->nextpass++] = arg;
		return 0;
	case O_LOGFILE:
		o->log_file = arg;
		return 0;
	case O_CONFIRM:
		o->confirm_export = arg;
		return 0;
	case O_PFD:
		if (parse_long(arg, 0, INT_MAX, &n) < 0)
			return -1;
		o->pass_fd = (int)n;
		return 0;
	case O_TIMEOUT:
		if (parse_long(arg, 1, INT_MAX, &n) < 0)
			return -1;
		o->client_timeout = (int)n;
		return 0;
	case O_MAXCL:
		return parse_long(arg, 1, 65536, &o->max_clients);
	case O_LIFETIME:
		return pfc_parse_duration(arg, 3650u * 86400u, &o->lifetime) < 0 ? -1 : 0;
	case O_IDLE: /* at most a year */
		return parse_long(arg, 0, 366L * 24 * 3600, &o->idle_timeout);
	default:
		return -1;
	}
}

/* One option; --help and --version print and exit. */
static int parse_one(int c, struct opts *o)
{
	switch (c) {
	case O_INIT:
		o->init = true;
		return 0;
	case O_SERVE:
		o->serve = true;
		return 0;
	case O_LOCKED:
		o->locked = true;
		return 0;
	case 'f':
		o->foreground = true;
		return 0;
	case 'v':
		o->verbose = true;
		return 0;
	case 'h':
		usage(stdout);
		exit(0);
	case O_VERSION:
		printf("pfcrypt-keystore 0.1.0 (protocol %d)\n", PFC_KS_PROTOCOL_VERSION);
		exit(0);
	default:
		return parse_value(c, optarg, o);
	}
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	while ((c = getopt_long(argc, argv, "fvh", long_opts, NULL)) != -1)
		if (parse_one(c, o) < 0)
			return -1;
	/* --serve and --kdf-profile only with --init; one passphrase source; --init is unlocked */
	if (optind != argc || (o->serve && !o->init) || (o->profile && !o->init) ||
	    (!!o->pass_file + (o->pass_fd >= 0) + !!o->nextpass > 1) || (o->init && o->locked))
		return -1;
	return 0;
}

/*
 * Hold an exclusive flock on "<store>.lock" for the daemon's life, so that two
 * keystores never serve (and rewrite) the same store file.
 */
/* --init: create the store.  Returns an exit status. */
static int do_init(const struct opts *o, const char *store, char *pass, size_t *plen)
{
	struct pfc_pass_why why;
	struct pfc_kdf kdf;
	int rc;

	if (pfc_kdf_from_name(o->profile ? o->profile : "moderate", &kdf) < 0) {
		fprintf(stderr, "pfcrypt-keystore: unknown --kdf-profile %s\n", o->profile);
		return EXIT_USAGE;
	}
	if ((rc = get_pass(o, "New keystore passphrase: ", pass, plen)) < 0)
		goto fail;
	if (*plen == 0) {
		fprintf(stderr, "pfcrypt-keystore: refusing an empty passphrase\n");
		return 1;
	}
	if (!o->pass_file && o->pass_fd < 0 && !o->nextpass) {
		rc = pfc_pass_confirm("Repeat passphrase: ", pass, *plen, &why);
		if (rc == PFC_ERR_NOMEM)
			return 1;
		if (rc < 0) {
			fprintf(stderr, "pfcrypt-keystore: passphrases differ\n");
			return 1;
		}
	}
	if ((rc = pfc_store_create(store, (const uint8_t *)pass, *plen, &kdf)) < 0)
		goto fail;
	fprintf(stderr, "pfcrypt-keystore: created %s (Argon2id profile %s)\n", store,
		pfc_kdf_profile_name(kdf.profile));
	return 0;
fail:
	fprintf(stderr, "pfcrypt-keystore: %s: %s\n", store, pfc_strerror(rc));
	return 1;
}

/* The socket and store paths, absolute (the daemon leaves its directory). */
struct paths {
	const char *sock, *store;
	char sockbuf[PATH_MAX], storebuf[PATH_MAX], sockabs[PATH_MAX], storeabs[PATH_MAX];
};

static int resolve_paths(const struct opts *o, int act_fd, struct paths *p)
{
	if (act_fd > 0 && !(p->sock = pfc_ks_bound_path(act_fd, p->sockbuf, sizeof(p->sockbuf))))
		p->sock = "(an unnamed socket from systemd)";
	else if (act_fd == 0)
		p->sock =
		    o->socket ? o->socket : pfc_ks_default_socket(p->sockbuf, sizeof(p->sockbuf));
	p->store = o->store ? o->store : default_store(p->storebuf, sizeof(p->storebuf));
	if (act_fd == 0)
		p->sock = pfc_ks_absolute_path(p->sock, p->sockabs, sizeof(p->sockabs));
	p->store = pfc_ks_absolute_path(p->store, p->storeabs, sizeof(p->storeabs));
	if (!p->sock || !p->store) {
		fprintf(stderr, "pfcrypt-keystore: cannot resolve the %s path; give it\n",
			p->sock ? "--store" : "--socket");
		return EXIT_USAGE;
	}
	return 0;
}

/* Locked: check the store is a store file.  Unlocked: read the passphrase
 * (unless --init just did) and load the keys.  0, or 1 after a message. */
static int load_store(const struct opts *o, const char *store, struct pfc_ks_server *s, char *pass,
		      size_t plen)
{
	int rc;

	if (o->locked) {
		uint8_t *buf = NULL;
		size_t len = 0;

		/* the store must at least be a store file before we listen */
		rc = pfc_read_file(store, PFC_STORE_FILE_MAX, &buf, &len);
		if (rc == 0)
			rc = pfc_seal_header(PFC_SEAL_MAGIC_STORE, buf, len, &s->kdf);
		free(buf);
		s->locked = true;
	} else {
		if (!o->init && (rc = get_pass(o, "Keystore passphrase: ", pass, &plen)) < 0) {
			fprintf(stderr, "pfcrypt-keystore: cannot read the passphrase: %s\n",
				pfc_strerror(rc));
			return 1;
		}
		rc = pfc_store_load(store, (const uint8_t *)pass, plen, &s->kr, &s->sk);
		if (rc == 0)
			s->kdf = s->sk->kdf;
	}
	sodium_memzero(pass, PFC_PASS_BUF);
	if (rc < 0) {
		fprintf(stderr, "pfcrypt-keystore: %s: %s\n", store, pfc_strerror(rc));
		return 1;
	}
	return 0;
}

/* The one line for a socket that could not be made (errno sys of the failed call): a
 * directory that cannot be created is named, with what to set instead.  Returns 1. */
static int listen_failed(const char *sock, int rc, int sys)
{
	char dir[PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", sock);
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	if (rc == PFC_ERR_IO && stat(dir, &st) < 0)
		fprintf(stderr,
			"pfcrypt-keystore: cannot create the socket directory %s: %s (set "
			"XDG_RUNTIME_DIR to a directory of your own, or give --socket or "
			"PFCRYPT_SOCKET)\n",
			dir, strerror(sys));
	else if (rc == PFC_ERR_DENIED && stat(dir, &st) == 0 && st.st_uid != geteuid())
		fprintf(stderr,
			"pfcrypt-keystore: socket directory %s: owned by uid %u, not by you (uid "
			"%u): refused\n",
			dir, (unsigned)st.st_uid, (unsigned)geteuid());
	else if (rc == PFC_ERR_DENIED && stat(dir, &st) == 0)
		fprintf(stderr,
			"pfcrypt-keystore: socket directory %s: writable by group or others (mode "
			"%04o): refused\n",
			dir, (unsigned)(st.st_mode & 07777));
	else
		fprintf(stderr, "pfcrypt-keystore: %s: %s\n", sock,
			rc == PFC_ERR_BUSY ? "a keystore is already listening there"
					   : pfc_strerror(rc));
	return 1;
}

/* The socket systemd passed, else our own.  0, or 1 after a message. */
static int start_listening(struct pfc_ks_server *s, int act_fd, const char *sock)
{
	int rc;

	if (act_fd > 0) {
		s->listen_fd = act_fd; /* made by systemd: it stays when we stop */
		s->socket_inherited = true;
		return 0;
	}
	if ((rc = pfc_ks_server_listen(s)) < 0)
		return listen_failed(sock, rc, errno);
	return 0;
}

/* SIGTERM and SIGINT stop the loop (blocked outside its ppoll); SIGPIPE, SIGHUP ignored. */
static void catch_signals(void)
{
	struct sigaction sa = {0};
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
}

/* From here on errors go to the log (--log-file, else syslog when detached);
 * before, to the caller's stderr. */
static void redirect_output(const struct opts *o)
{
	if (o->log_file) {
		int lf = open(o->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

		if (lf < 0 || dup2(lf, STDERR_FILENO) < 0)
			pfc_warn("cannot open the log file %s: %s", o->log_file, strerror(errno));
		if (lf > STDERR_FILENO)
			close(lf);
	}
	if (!o->foreground) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		setsid();
		if (chdir("/") < 0)
			pfc_warn("chdir /: %s", strerror(errno));
		if (!o->log_file) {
			pfc_log_init("pfcrypt-keystore", 1);
			dup2(nul, STDERR_FILENO);
		}
		dup2(nul, STDIN_FILENO);
		dup2(nul, STDOUT_FILENO);
		if (nul > STDERR_FILENO)
			close(nul);
	}
}

/* Daemonise, lock the store, load it, listen, serve.  Returns the exit status. */
static int serve(const struct opts *o, const struct paths *p, int act_fd, char *pass, size_t plen,
		 struct pfc_ks_server *s, int *notify_fd, int *lock_fd)
{
	int status;

	/* daemonise before any key is loaded: mlock does not survive fork() */
	if (!o->foreground && pfc_ks_daemonise(notify_fd) < 0) {
		fprintf(stderr, "pfcrypt-keystore: fork: %s\n", strerror(errno));
		return 1;
	}
	/* the passphrase read before fork() (--init --serve) lost its mlock */
	sodium_mlock(pass, PFC_PASS_BUF);
	/* one daemon per store: a second would overwrite the first one's changes */
	if (pfc_ks_lock_store(p->store, lock_fd) < 0)
		return 1;
	pfc_store_remove_temps(p->store);
	s->store_path = p->store;
	s->socket_path = p->sock;
	s->client_timeout_ms = o->client_timeout;
	s->idle_timeout_ms = (int64_t)o->idle_timeout * 1000;
	s->max_clients = (size_t)o->max_clients;
	s->lifetime_s = o->lifetime;
	s->confirm_export = o->confirm_export;
	s->owner = geteuid();
	s->private_dir = !o->socket && !(getenv("PFCRYPT_SOCKET") && *getenv("PFCRYPT_SOCKET"));
	if (load_store(o, p->store, s, pass, plen) || start_listening(s, act_fd, p->sock))
		return 1;
	catch_signals();
	redirect_output(o);
	pfc_info("listening on %s (store %s, %s, pid %d)", p->sock, p->store,
		 s->locked ? "locked" : "unlocked", (int)getpid());
	pfc_ks_notify(notify_fd, 0);
	status = pfc_ks_server_run(s, &stop_flag) < 0 ? 1 : 0;
	pfc_info("stopped; keys wiped");
	return status;
}

int main(int argc, char **argv)
{
	struct opts o = {
	    .pass_fd = -1, .client_timeout = 5000, .idle_timeout = 300, .max_clients = 256};
	struct pfc_ks_server s = {0};
	struct paths p;
	char *pass = NULL;
	size_t plen = 0;
	int act_fd, notify_fd = -1, lock_fd = -1, status;

	harden();
	if (parse_opts(argc, argv, &o) < 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	act_fd = pfc_ks_activation_fd();
	if (act_fd < 0)
		return 1;
	pfc_log_init("pfcrypt-keystore", 0);
	pfc_log_set_level(o.verbose ? PFC_LOG_DEBUG : PFC_LOG_INFO);
	if (sodium_init() < 0) {
		fprintf(stderr, "pfcrypt-keystore: libsodium failed to initialise\n");
		return 1;
	}
	if ((status = resolve_paths(&o, act_fd, &p)) != 0)
		return status;
	pass = sodium_malloc(PFC_PASS_BUF);
	if (!pass)
		return 1;
	if (o.init)
		status = do_init(&o, p.store, pass, &plen);
	if (status == 0 && (!o.init || o.serve))
		status = serve(&o, &p, act_fd, pass, plen, &s, &notify_fd, &lock_fd);
	pfc_ks_notify(&notify_fd, (unsigned char)status);
	pfc_keyring_free(&s.kr);
	pfc_skey_free(s.sk);
	sodium_free(pass);
	if (lock_fd >= 0)
		close(lock_fd);
	return status;
}
