"""Shared by the scripts of tests/bench: build pfcrypt, and a throwaway volume (keystore with the
"test" Argon2id profile, `pfcrypt init`, `pfcryptfs -f`) in a temp dir under /tmp."""
import os
import re
import shutil
import subprocess
import tempfile
import time

SRC = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def build(build_dir, extra_targets=()):
    """Configure (debugoptimized) if needed and build the three programs (+ extra targets)."""
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        opts = ["-Dbuildtype=debugoptimized"] + ([] if extra_targets else ["-Dtests=false"])
        sh(["meson", "setup", build_dir, SRC] + opts, stdout=subprocess.DEVNULL)
    sh(["ninja", "-C", build_dir, "fs/daemon/pfcryptfs", "tools/pfcrypt", "keystore/pfcrypt-keystore"]
       + list(extra_targets), stdout=subprocess.DEVNULL)


def sh(argv, **kw):
    return subprocess.run(argv, check=True, **kw)


def mounted(path):
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


class Volume:
    """Keystore + volume + foreground pfcryptfs in a temp dir; close() undoes all of it.
    open(mount=False) stops after `pfcrypt init` (mount() later)."""

    def __init__(self, build, cipher):
        self.build = build
        self.tmp = tempfile.mkdtemp(prefix="pfc-profile.", dir="/tmp")
        self.sock = os.path.join(self.tmp, "keystore.sock")
        self.back = os.path.join(self.tmp, "backing")
        self.mnt = os.path.join(self.tmp, "mnt")
        self.pfcrypt = os.path.join(build, "tools", "pfcrypt")
        self.fs_bin = os.path.join(build, "fs", "daemon", "pfcryptfs")
        self.env = dict(os.environ, PFCRYPT_SOCKET=self.sock,
                        PFCRYPT_KEYSTORE_BIN=os.path.join(build, "keystore", "pfcrypt-keystore"),
                        PFCRYPT_FS_BIN=self.fs_bin)
        self.ks_pid = None
        self.daemon = None
        self.cipher = cipher

    def open(self, mount=True):
        pw = os.path.join(self.tmp, "passphrase")
        with open(pw, "w") as f:
            f.write(os.urandom(18).hex())
        os.chmod(pw, 0o600)
        store = os.path.join(self.tmp, "store")
        sh([self.pfcrypt, "keystore", "init", "--store", store, "--passphrase-file", pw,
            "--kdf-profile", "test"], env=self.env, stdout=subprocess.DEVNULL)
        out = sh([self.pfcrypt, "keystore", "start", "--store", store, "--passphrase-file", pw,
                  "--log-file", os.path.join(self.tmp, "keystore.log")], env=self.env,
                 stdout=subprocess.PIPE).stdout.decode()
        m = re.search(r"\(pid (\d+)\)", out)
        self.ks_pid = int(m.group(1)) if m else None
        init = [self.pfcrypt, "init", self.back, "--key", "profile"]
        if self.cipher:
            init += ["--cipher", self.cipher]
        sh(init, env=self.env, stdout=subprocess.DEVNULL)
        os.mkdir(self.mnt)
        self.log = open(os.path.join(self.tmp, "daemon.log"), "wb")
        if mount:
            self.mount()

    def mount(self):
        self.daemon = subprocess.Popen(self.daemon_argv(), stdout=self.log, stderr=self.log, env=self.env)
        deadline = time.monotonic() + 30
        while not mounted(self.mnt):
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("pfcryptfs did not mount (see %s)" % self.log.name)
            time.sleep(0.05)

    def daemon_argv(self):
        return [self.fs_bin, "-f", self.back, self.mnt, "--socket", self.sock]

    def remount(self):
        """Unmount and mount again: the daemon's caches start empty (cold)."""
        self.unmount()
        self.mount()

    def unmount(self):
        subprocess.run(["fusermount3", "-u", self.mnt], check=False)
        self.daemon.wait(timeout=60)
        self.daemon = None

    def close(self):
        if self.daemon is not None:
            if mounted(self.mnt):
                subprocess.run(["fusermount3", "-u", self.mnt], check=False)
            try:
                self.daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        if self.ks_pid is not None:
            subprocess.run([self.pfcrypt, "keystore", "stop"], env=self.env, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


