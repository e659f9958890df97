/* SPDX-License-Identifier: MIT */
/*
 * main.c - pfcryptfs: command line, volume setup (config, name key from the
 * keystore), the FUSE session with its multithreaded loop, and teardown
 * (every key wiped) on unmount or SIGTERM/SIGINT/SIGHUP.
 *
 *   pfcryptfs BACKING MOUNTPOINT [-f] [-d] [-s] [-v] [-o opts] [--socket PATH]
 *
 * The options are parsed in options.c, the log's destination chosen in
 * logfile.c.
 *
 * Setup errors print one line "pfcryptfs: <file>: <cause>" and exit 2.
 */
#include "fs/daemon/daemon.h"

#include "fs/daemon/cryptpool.h"
#include "fs/daemon/kernelio.h"
#include "fs/daemon/options.h"
#include "fs/daemon/readahead.h"

#include "fs/err.h"
#include "fs/fdlimit.h"
#include "keystore/unwrap.h"
#include "fs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define EXPIRY_PERIOD_S 30 /* how often idle file keys are looked for */
#define LOCK_POLL_S	2  /* how often the keystore is asked whether it is locked */

struct pfcd *pfcd_g;

static void die_conf(const struct pfcd *d, const char *cause)
{
	fprintf(stderr, "pfcryptfs: %s/%s: %s\n", d->backing, PFC_CONFIG_NAME, cause);
	exit(2);
}

/* The config and its layout; a cipher this machine can run.  Exits 2. */
static void load_config(struct pfcd *d, int rootfd)
{
	char msg[512];
	int rc = pfc_volume_load(rootfd, &d->cfg, &d->layout);

	if (rc == PFC_ERR_NOT_FOUND)
		die_conf(d, "no such file (not a pfcrypt volume)");
	if (rc < 0) {
		const char *why = pfc_config_last_error();

		if (rc == PFC_ERR_IO)
			why = strerror(errno);
		die_conf(d, why && *why ? why : pfc_strerror(rc));
	}
	if (pfc_cipher_check(d->cfg.cipher) < 0) {
		snprintf(msg, sizeof(msg), "cipher %s is not available on this CPU or libsodium",
			 pfc_cipher_name(d->cfg.cipher));
		die_conf(d, msg);
	}
}

/* Volume setup: config, cipher, keystore, name key, config MAC.  Exits 2. */
static void setup_volume(struct pfcd *d, int rootfd)
{
	enum pfc_key_step step;
	char msg[512];
	int rc;

	load_config(d, rootfd);
	if (!pfc_ks_default_socket(d->socket_path, sizeof(d->socket_path))) {
		fprintf(stderr, "pfcryptfs: keystore socket path too long\n");
		exit(2);
	}
	rc = pfc_ks_connect(d->socket_path, PFCD_KS_TIMEOUT_MS, &d->ks);
	if (rc == PFC_ERR_UNTRUSTED) {
		fprintf(stderr, "pfcryptfs: keystore %s: %s: %s\n", d->socket_path,
			pfc_strerror(rc), pfc_ks_connect_message());
		exit(2);
	}
	if (rc < 0) {
		fprintf(stderr, "pfcryptfs: keystore %s: %s\n", d->socket_path, pfc_strerror(rc));
		exit(2);
	}
	d->uw = pfc_ks_unwrapper(d->ks);
	rc = pfc_volume_keys(&d->cfg, &d->uw, &d->vk, &step);
	if (step == PFC_STEP_MEMORY) {
		fprintf(stderr, "pfcryptfs: out of locked memory\n");
		exit(2);
	}
	if (step == PFC_STEP_UNWRAP &&
	    (rc == PFC_ERR_UNREACHABLE || rc == PFC_ERR_LOCKED || rc == PFC_ERR_TIMEOUT ||
	     rc == PFC_ERR_DENIED || rc == PFC_ERR_UNTRUSTED)) {
		fprintf(stderr, "pfcryptfs: keystore %s: %s\n", d->socket_path, pfc_strerror(rc));
		exit(2);
	}
	if (step == PFC_STEP_UNWRAP) {
		snprintf(msg, sizeof(msg), "the volume name key does not unwrap: %s",
			 pfc_strerror(rc));
		die_conf(d, msg);
	}
	if (step == PFC_STEP_VERIFY)
		die_conf(d, "authentication failed (the config was altered)");
	if (rc < 0)
		die_conf(d, pfc_strerror(rc));
	d->ad_file_prefix_len = pfc_ad_file_key_prefix(d->cfg.volume_id, d->ad_file_prefix);
}

/* "fsname=PATH" with the commas and backslashes of PATH escaped for
 * libfuse's -o parser (the kernel then shows PATH itself as the source). */
static void fsname_opt(char *out, size_t len, const char *path)
{
	size_t o = (size_t)snprintf(out, len, "fsname=");

	for (; *path && o + 3 < len; path++) {
		if (*path == ',' || *path == '\\')
			out[o++] = '\\';
		out[o++] = *path;
	}
	out[o] = '\0';
}

/* A read-only backing dir (a read-only bind mount, media, a snapshot) gives
 * a read-only mount: every modification is EROFS at the kernel, rather than
 * failing half-way inside the daemon. */
static bool backing_read_only(int rootfd)
{
	struct statvfs sv;

	if (fstatvfs(rootfd, &sv) < 0 || !(sv.f_flag & ST_RDONLY))
		return false;
	pfc_info("%s is on a read-only file system: mounting read-only", pfcd_g->backing_abs);
	return true;
}

static void init_op(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* write-through: every write reaches the daemon, which encrypts it */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	conn->max_write = PFCD_MAX_WRITE;
	/* the kernel keeps the smaller of this and the bdi's (readahead.c) */
	conn->max_readahead = PFCD_READAHEAD_KB * 1024u;
}

/*
 * access(2) and chdir(2) reach the daemon only without default_permissions,
 * i.e. when the mounting user alone uses the mount: answer with the
 * daemon's own (that user's) rights on the backing entry, so that
 * access(X_OK) of a file no one may execute fails even for root.
 */
static void access_op(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct pfc_inode *in = pfc_itable_get(&pfcd_g->itable, ino);
	char p[64];
	int fd = pfcd_inode_fd(in), rc;

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	pfcd_proc_path(fd, p);
	rc = faccessat(AT_FDCWD, p, mask, AT_EACCESS) < 0 ? errno : 0;
	pfcd_inode_put(in);
	fuse_reply_err(req, rc);
}

static void destroy_op(void *userdata)
{
	(void)userdata;
}

static const struct fuse_lowlevel_ops ops = {
    .init = init_op,
    .destroy = destroy_op,
    .access = access_op,
    .lookup = pfcd_op_lookup,
    .forget = pfcd_op_forget,
    .forget_multi = pfcd_op_forget_multi,
    .getattr = pfcd_op_getattr,
    .setattr = pfcd_op_setattr,
    .readlink = pfcd_op_readlink,
    .mknod = pfcd_op_mknod,
    .mkdir = pfcd_op_mkdir,
    .symlink = pfcd_op_symlink,
    .link = pfcd_op_link,
    .unlink = pfcd_op_unlink,
    .rmdir = pfcd_op_rmdir,
    .rename = pfcd_op_rename,
    .statfs = pfcd_op_statfs,
    .open = pfcd_op_open,
    .create = pfcd_op_create,
    .read = pfcd_op_read,
    .write = pfcd_op_write,
    .flush = pfcd_op_flush,
    .release = pfcd_op_release,
    .fsync = pfcd_op_fsync,
    .fallocate = pfcd_op_fallocate,
    .lseek = pfcd_op_lseek,
    .opendir = pfcd_op_opendir,
    .readdir = pfcd_op_readdir,
    .readdirplus = pfcd_op_readdirplus,
    .releasedir = pfcd_op_releasedir,
    .fsyncdir = pfcd_op_fsyncdir,
    .setxattr = pfcd_op_setxattr,
    .getxattr = pfcd_op_getxattr,
    .listxattr = pfcd_op_listxattr,
    .removexattr = pfcd_op_removexattr,
};

static void inode_cleanup(struct pfc_inode *in)
{
	if (in->f.key)
		pfcd_file_unload(in);
}

static void filekey_destroy(void *v)
{
	pfc_filekey_free(v);
}

/*
 * Drops file keys idle for PFCD_KEYCACHE_IDLE even when nothing else runs,
 * and asks the keystore every LOCK_POLL_S whether it was locked (`pfcrypt
 * keystore lock`): then every cached and prefetched file key is wiped at
 * once, rather than when it falls idle.  An unreachable keystore (stopped,
 * restarting) wipes nothing.
 */
static void *expiry_main(void *arg)
{
	struct pfcd *d = arg;
	struct timespec ts;
	unsigned ticks = 0;

	pthread_mutex_lock(&d->expiry_lock);
	while (!d->expiry_stop) {
		struct pfc_ks_status st;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += LOCK_POLL_S;
		pthread_cond_timedwait(&d->expiry_cond, &d->expiry_lock, &ts);
		if (d->expiry_stop)
			break;
		pthread_mutex_unlock(&d->expiry_lock);
		if (pfc_ks_status(d->ks, &st) == 0) {
			if (st.locked)
				pfcd_keystore_locked();
			else
				pfcd_keystore_unlocked();
		}
		if (++ticks * LOCK_POLL_S >= EXPIRY_PERIOD_S) {
			ticks = 0;
			pfc_kcache_expire(d->keys);
		}
		pthread_mutex_lock(&d->expiry_lock);
	}
	pthread_mutex_unlock(&d->expiry_lock);
	return NULL;
}

static void teardown(struct pfcd *d)
{
	if (d->expiry_started) {
		pthread_mutex_lock(&d->expiry_lock);
		d->expiry_stop = true;
		pthread_cond_signal(&d->expiry_cond);
		pthread_mutex_unlock(&d->expiry_lock);
		pthread_join(d->expiry_thread, NULL);
	}
	pfcd_fh_close_all();		/* handles of files still open at unmount */
	pfc_itable_destroy(&d->itable); /* releases the keys open files held */
	pfc_kcache_free(d->keys);	/* wipes every cached file key */
	pfcd_keypool_free();		/* wipes the prefetched keys */
	pfc_volkeys_free(d->vk);	/* wipes the name subkeys */
	pfc_ks_close(d->ks);
}

/* Process setup from the command line: options, limits, log, libsodium,
 * absolute paths, the mount safety rails.  0, or the exit status. */
static int setup_process(struct pfcd *d, struct pfcd_opts *o, int argc, char **argv)
{
	if (pfcd_parse_args(argc, argv, o) < 0) {
		pfcd_usage(stderr);
		return 2;
	}
	pfcd_g = d;
	d->backing = o->backing;
	d->mountpoint = o->mountpoint;
	d->is_root = geteuid() == 0;
	d->noatime = pfcd_opt_noatime(o->mount_opts);
	d->egid = getegid();
	if (o->socket && setenv("PFCRYPT_SOCKET", o->socket, 1) < 0)
		return 2;
	umask(0); /* the kernel already applied the caller's umask */
	pfc_raise_fd_limit();
	pfc_log_init("pfcryptfs", 0); /* stderr until pfcd_log_setup has chosen */
	if (o->debug || o->verbose)
		pfc_log_set_level(PFC_LOG_DEBUG);
	if (pfc_format_init() < 0) {
		fprintf(stderr, "pfcryptfs: libsodium cannot initialise\n");
		return 2;
	}
	if (!realpath(o->backing, d->backing_abs)) {
		fprintf(stderr, "pfcryptfs: %s: %s\n", o->backing, strerror(errno));
		return 2;
	}
	/* absolute: libfuse changes to / and unmounts by this path at the end */
	if (!realpath(o->mountpoint, d->mount_abs)) {
		if (errno == ENOTCONN) /* a FUSE mount whose daemon is gone */
			fprintf(
			    stderr,
			    "pfcryptfs: stale mount at %s (its file system daemon is gone): run "
			    "'pfcrypt umount -z %s', then mount again\n",
			    o->mountpoint, o->mountpoint);
		else
			fprintf(stderr, "pfcryptfs: %s: %s\n", o->mountpoint, strerror(errno));
		return 2;
	}
	pfcd_rails(d, o->mount_opts, o->nonempty); /* exits 2 for a mount that must not happen */
	return pfcd_log_setup(o->log_file, o->foreground, d->backing_abs) < 0 ? 2 : 0;
}

/* The backing root, the volume and the daemon's tables.  The root's fd, or
 * -1 (message printed; exit 2). */
static int setup_mount(struct pfcd *d, const struct pfcd_opts *o)
{
	int rootfd = open(d->backing_abs, O_PATH | O_DIRECTORY | O_CLOEXEC), rc;

	if (rootfd < 0) {
		fprintf(stderr, "pfcryptfs: %s: %s\n", o->backing, strerror(errno));
		return -1;
	}
	setup_volume(d, rootfd);
	if (pfcd_symlinks_init(rootfd) < 0) {
		fprintf(stderr, "pfcryptfs: %s: %s\n", o->backing, strerror(errno));
		return -1;
	}
	rc = pfc_itable_init(&d->itable, rootfd, inode_cleanup, pfcd_fd_cap());
	if (rc == 0)
		rc = pfc_kcache_new(PFCD_KEYCACHE_MAX, PFCD_KEYCACHE_IDLE, filekey_destroy,
				    &d->keys);
	if (rc == 0)
		rc = pfcd_keytier_init();
	if (rc == 0)
		rc = pfcd_keypool_init() < 0 ? -ENOMEM : 0;
	if (rc < 0) {
		fprintf(stderr, "pfcryptfs: %s\n", strerror(-rc));
		return -1;
	}
	return rootfd;
}

/* libfuse's arguments: argv0, our mount options, the user's, -d.  0 or -1. */
static int fuse_args_build(const struct pfcd *d, const struct pfcd_opts *o, int rootfd,
			   const char *argv0, struct fuse_args *args)
{
	char fsopt[2 * PATH_MAX + 64];

	/*
	 * The kernel checks permissions (default_permissions) when other users
	 * can reach the mount.  Otherwise only the mounting user can, the daemon
	 * runs as that user and the backing file system refuses what that user
	 * may not do (as gocryptfs does): the kernel then needs no fresh
	 * attributes for its own checks, which saves a GETATTR of the parent
	 * after every create and of each directory on path walks.
	 */
	/*
	 * Source and type as an fstab line gives them (BACKING, fuse.pfcryptfs),
	 * so that mount -a sees an auto line as mounted already, as for
	 * gocryptfs; tools/mounts.c finds volumes by the same pair.
	 */
	fsname_opt(fsopt, sizeof(fsopt), d->backing_abs);
	snprintf(fsopt + strlen(fsopt), sizeof(fsopt) - strlen(fsopt), ",subtype=pfcryptfs%s%s",
		 o->shared ? ",default_permissions" : "", backing_read_only(rootfd) ? ",ro" : "");
	if (fuse_opt_add_arg(args, argv0) || fuse_opt_add_arg(args, "-o") ||
	    fuse_opt_add_arg(args, fsopt) ||
	    (o->mount_opts[0] &&
	     (fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, o->mount_opts))) ||
	    (o->debug && fuse_opt_add_arg(args, "-d")))
		return -1;
	return 0;
}

/* Once mounted: daemonize, start the helper threads, serve until unmount.
 * The exit status: 0 a clean end, 1 the session loop failed. */
static int serve(struct pfcd *d, const struct pfcd_opts *o, struct fuse_session *se)
{
	struct fuse_loop_config *lc = NULL;
	int rc, status;

	rc = pfcd_kernelio_attach(se);
	if (rc < 0)
		pfc_warn("cannot hook /dev/fuse I/O (%s): every write costs one more request",
			 strerror(-rc));
	pfcd_log_attach();
	pfc_info("mounted %s on %s (%s, %u-byte blocks)", d->backing_abs, d->mount_abs,
		 pfc_cipher_name(d->cfg.cipher), d->layout.block_size);
	pfcd_readahead_raise(d->mount_abs);
	fuse_daemonize(o->foreground);
	pfcd_log_attach();
	/* after the fork of fuse_daemonize: threads do not survive it */
	pthread_mutex_init(&d->expiry_lock, NULL);
	pthread_cond_init(&d->expiry_cond, NULL);
	if (pthread_create(&d->expiry_thread, NULL, expiry_main, d) == 0)
		d->expiry_started = true;
	pfcd_cpool_start();
	pfcd_durable_start();
	if (o->single) {
		rc = fuse_session_loop(se);
	} else {
		lc = fuse_loop_cfg_create();
		if (!lc) {
			rc = -ENOMEM;
		} else {
			fuse_loop_cfg_set_clone_fd(lc, 0);
			fuse_loop_cfg_set_max_threads(lc, 16);
			rc = fuse_session_loop_mt(se, lc);
			fuse_loop_cfg_destroy(lc);
		}
	}
	/* libfuse reports an exit by signal as the signal number: a clean end too */
	status = (rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP) ? 0 : 1;
	if (status)
		pfc_err_log("session loop failed: %d", rc);
	pfcd_cpool_stop();
	pfcd_durable_stop();
	pfcd_keybuf_drop(); /* -s: this thread served requests */
	return status;
}

int main(int argc, char **argv)
{
	static struct pfcd d;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	struct pfcd_opts o;
	int rootfd, status = setup_process(&d, &o, argc, argv);

	if (status || (rootfd = setup_mount(&d, &o)) < 0)
		return status ? status : 2;
	status = 2;
	if (fuse_args_build(&d, &o, rootfd, argv[0], &args) < 0)
		goto out;
	se = fuse_session_new(&args, &ops, sizeof(ops), &d);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_se;
	if (fuse_session_mount(se, d.mount_abs) != 0) {
		fprintf(stderr, "pfcryptfs: %s: cannot mount\n", o.mountpoint);
		goto out_sig;
	}
	status = serve(&d, &o, se);
	fuse_session_unmount(se);
out_sig:
	fuse_remove_signal_handlers(se);
out_se:
	fuse_session_destroy(se);
out:
	fuse_opt_free_args(&args);
	teardown(&d);
	pfcd_symlinks_fini();
	pfc_info("unmounted %s; keys wiped", d.backing_abs);
	return status;
}
