"""The mount fixture of the integration tests: a real keystore, a real volume, a real pfcryptfs mount.

    with pfcfs.Mount() as m:          # m.mnt is the mounted plaintext view, m.backing the ciphertext
        ...
    class T(pfcfs.MountTestCase):     # one mount per test class; self.m, self.mnt
        ...

Modes (environment variable PFC_FS_MODE, or Mount(mode=...)):
  pfcryptfs    (default, what meson registers) a keystore (`pfcrypt keystore init|start`, the fast
               "test" KDF profile, socket in the temp dir) + `pfcrypt init BACKING` +
               `pfcryptfs -f BACKING MNT --socket SOCK`.
  plain        no mount: mnt is a plain directory (checks the tests themselves).
  passthrough  bindfs BACKING MNT (a FUSE passthrough without crypto), for developing the tests while
               the daemon cannot mount yet.  Needs `bindfs` on the machine; CI does not install it.
               With PFC_PASSTHROUGH_LL=path/to/passthrough_ll (libfuse's example, built from
               /usr/share/doc/libfuse3-dev/examples) that program is used instead: it has a real
               inode table, so hard links and attribute caching behave as in pfcryptfs (bindfs
               caches attributes per path: its link counts go stale and the differential test
               notices).

Binaries come from the environment (set by meson.build):  PFCRYPTFS, PFCRYPT (the CLI),
PFCRYPT_KEYSTORE.  A missing binary, a missing /dev/fuse or a mount that does not appear is a test
FAILURE, never a skip.

On exit the fixture unmounts (fusermount3 -u, then -uz if the mount stays busy), waits for the daemon,
runs `pfcrypt check` on the backing dir (it must be clean), stops the keystore, removes the temp
dir, and fails if the check found problems, the daemon exited non-zero or wrote to stderr
a line the test did not declare as expected.  pfc_log lines at level info/debug are expected; a
warning, an error, or any line not in pfc_log's shape (a libfuse message, a sanitizer report, a crash)
is not, unless the test declared it with expect_stderr(regex).
"""
import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

MODES = ("pfcryptfs", "plain", "passthrough")

# Bounds on waiting for outside events (not assertions on speed: generous, only against hangs).
MOUNT_WAIT_S = 30.0
EXIT_WAIT_S = 30.0

# A pfc_log line (fs/log.c): "ident: level: message".
_LOG_LINE = re.compile(rb"^(?P<ident>[\w.-]+): (?P<level>error|warning|info|debug): ")
_QUIET_LEVELS = (b"info", b"debug")

PASSPHRASE = b"pfcrypt test passphrase, not secret"
KEY_NAME = "testkey"


class FixtureError(AssertionError):
    """The fixture could not provide a working mount, or the daemon misbehaved: a test failure."""


def _fs_mode(mode):
    mode = mode or os.environ.get("PFC_FS_MODE", "pfcryptfs")
    if mode not in MODES:
        raise FixtureError(f"PFC_FS_MODE={mode!r}: expected one of {', '.join(MODES)}")
    return mode


def binary(var, name):
    """Path of a built program from the environment variable var (set by meson); fail if absent."""
    path = os.environ.get(var)
    if not path:
        raise FixtureError(f"{var} is not set: run through meson test, or export {var}=path/to/{name}")
    if not os.access(path, os.X_OK):
        raise FixtureError(f"{var}={path}: not an executable file (is {name} built?)")
    return path


def _run(argv, what, env=None, input_bytes=None, timeout=60):
    """Run a set-up command; raise FixtureError with its output when it fails."""
    try:
        p = subprocess.run(argv, input=input_bytes, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise FixtureError(f"{what}: {' '.join(map(str, argv))} did not finish in {timeout}s") from e
    if p.returncode != 0:
        raise FixtureError(f"{what}: {' '.join(map(str, argv))} exited {p.returncode}\n"
                           f"stdout: {p.stdout.decode(errors='replace')}\n"
                           f"stderr: {p.stderr.decode(errors='replace')}")
    return p


def _wait_pid(proc, seconds):
    """Wait (bounded) for a child; return its exit code or None if it is still running."""
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


# Mounts not yet torn down, for the SIGTERM handler below.
_LIVE = []


def _on_sigterm(signum, frame):
    """meson test ends a test that ran out of time with SIGTERM (then SIGKILL): unittest's
    tear-downs would not run, and the keystore (detached by the CLI) would outlive us.  Stop what
    this process started, quickly, then die of the signal as expected."""
    for m in list(_LIVE):
        if m.daemon is not None and m.daemon.poll() is None:
            m.daemon.terminate()
        if m.mnt and os.path.ismount(m.mnt):
            subprocess.run(["fusermount3", "-uz", m.mnt], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False, timeout=5)
        if m.keystore is not None and m.keystore.pid is not None and alive(m.keystore.pid):
            os.kill(m.keystore.pid, signal.SIGTERM)
        if m.tmp and not (m.mnt and os.path.ismount(m.mnt)):
            shutil.rmtree(m.tmp, ignore_errors=True)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def alive(pid):
    """True while pid runs (a zombie waiting for a reaper counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


class Keystore:
    """A pfcrypt-keystore of our own, on a socket inside a test's temp dir, managed through the
    CLI (`pfcrypt keystore init|start|stop`, issue 6) with the fast "test" Argon2id profile.  The
    one CLI-managed keystore fixture: pfcfs.Mount starts one, tests/integration/tools/clienv.py as
    many as a test asks for.  (tests/lib/ks.py runs the daemon directly, for the protocol tests.)

    tmp/name is its directory; env is the environment of the CLI (default: this process's, with
    PFCRYPT_SOCKET and the daemons' paths set).  ctl() must succeed (FixtureError otherwise);
    run() returns the CompletedProcess (text) for a test to look at."""

    def __init__(self, tmp, name="ks", passphrase=PASSPHRASE, env=None):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, mode=0o700)
        self.sock = os.path.join(self.dir, "keystore.sock")
        self.store = os.path.join(self.dir, "store")
        self.passfile = os.path.join(self.dir, "passphrase")
        self.log = os.path.join(self.dir, "keystore.log")
        with open(self.passfile, "wb") as f:
            f.write(passphrase + b"\n")
        os.chmod(self.passfile, 0o600)
        self.cli = binary("PFCRYPT", "pfcrypt")
        if env is None:
            # The CLI finds the daemons through these (and the keystore through PFCRYPT_SOCKET).
            env = dict(os.environ, PFCRYPT_SOCKET=self.sock,
                       PFCRYPT_KEYSTORE_BIN=binary("PFCRYPT_KEYSTORE", "pfcrypt-keystore"),
                       PFCRYPT_FS_BIN=binary("PFCRYPTFS", "pfcryptfs"))
        self.env = env
        self.pid = None

    def run(self, *args, check=False, env=None, input=None, timeout=120):
        """`pfcrypt --socket SOCK ARGS...`: the CompletedProcess (text); check=True: must exit 0."""
        argv = [self.cli, "--socket", self.sock] + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, env=env or self.env, input=input,
                           timeout=timeout, check=False)
        if check and p.returncode != 0:
            raise FixtureError(f"{argv} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p

    def ctl(self, *args, what):
        return _run([self.cli, "--socket", self.sock] + list(args), what, env=self.env)

    def start(self):
        self.ctl("keystore", "init", "--store", self.store, "--passphrase-file", self.passfile,
                 "--kdf-profile", "test", what="pfcrypt keystore init")
        self.restart(what="pfcrypt keystore start")

    def restart(self, what="pfcrypt keystore start (again)"):
        """Start the keystore (again) on the same store and socket: after start() and a stop or a
        kill (a stale socket is replaced).  Sets pid."""
        out = self.ctl("keystore", "start", "--store", self.store, "--passphrase-file", self.passfile,
                       "--log-file", self.log, what=what).stdout
        m = re.search(rb"\(pid (\d+)\)", out)
        if not m:
            raise FixtureError(f"{what}: no pid in its output {out!r}")
        self.pid = int(m.group(1))

    def stop(self):
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        problems = []
        try:
            self.ctl("keystore", "stop", what="pfcrypt keystore stop")
        except FixtureError as e:
            problems.append(str(e))
        # The keystore is not our child (the CLI detached it): poll its pid, bounded.
        deadline = time.monotonic() + EXIT_WAIT_S
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if alive(pid):
            problems.append(f"keystore pid {pid} still running {EXIT_WAIT_S}s after stop; killed")
            os.kill(pid, signal.SIGKILL)
        if problems:
            raise FixtureError("; ".join(problems))


class Mount:
    """One volume mounted for one test (or one test class).  Context manager; see module doc."""

    def __init__(self, mode=None, daemon_args=(), init_args=(), nofile=None):
        self.mode = _fs_mode(mode)
        self.daemon_args = list(daemon_args)
        self.nofile = nofile  # the daemon's RLIMIT_NOFILE (soft and hard), set by prlimit(1)
        self.init_args = list(init_args)  # extra `pfcrypt init` options (cipher, block size...)
        self.tmp = None
        self.backing = None
        self.mnt = None
        self.keystore = None
        self.daemon = None
        self.stderr_path = None
        self._stderr_seen = 0  # bytes of the daemon's stderr already checked
        self._expected = []
        self.daemons_started = 0
        # What this mode can do; a test leaves out an operation only for a documented reason.
        # pfcryptfs must do all of these (issue 5 point 1).  The passthrough programs used while
        # developing cannot: bindfs (libfuse2) answers renameat2 flags with EINVAL and fallocate
        # with EOPNOTSUPP; libfuse's passthrough_ll (built with -DHAVE_FALLOCATE) does both fallocates
        # but passes O_DIRECT on to its backing fd and then writes from unaligned buffers (EINVAL).
        self.passthrough_ll = os.environ.get("PFC_PASSTHROUGH_LL")
        self.caps = {"renameat2_flags": True, "fallocate_modes": (0, 1), "o_direct": True}
        if self.mode == "passthrough":
            self.caps = {"renameat2_flags": False,
                         "fallocate_modes": (0, 1) if self.passthrough_ll else (),
                         "o_direct": False}

    # ---- set-up -------------------------------------------------------------------------------
    def __enter__(self):
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
        self.tmp = tempfile.mkdtemp(prefix="pfc-posix-")
        _LIVE.append(self)
        try:
            self._setup()
        except BaseException:
            self._teardown(quiet=True)
            raise
        return self

    def _setup(self):
        self.backing = os.path.join(self.tmp, "backing")
        self.mnt = os.path.join(self.tmp, "mnt")
        if self.mode == "plain":
            os.mkdir(self.mnt)
            return
        if not os.path.exists("/dev/fuse"):
            raise FixtureError("/dev/fuse does not exist: the mount tests need FUSE")
        if shutil.which("fusermount3") is None:
            raise FixtureError("fusermount3 not found (Debian package fuse3)")
        os.mkdir(self.backing)
        os.mkdir(self.mnt)
        if self.mode == "pfcryptfs":
            binary("PFCRYPTFS", "pfcryptfs")
            self.keystore = Keystore(self.tmp)
            self.keystore.start()
            self.keystore.ctl("init", "--key", KEY_NAME, *self.init_args, self.backing,
                              what="pfcrypt init")
        elif self.passthrough_ll is None and shutil.which("bindfs") is None:
            raise FixtureError("passthrough mode needs bindfs (apt-get install bindfs)")
        self.mount()

    def _daemon_argv(self):
        if self.mode == "pfcryptfs":
            limit = []
            if self.nofile is not None:
                if shutil.which("prlimit") is None:
                    raise FixtureError("prlimit not found (Debian package util-linux)")
                limit = ["prlimit", f"--nofile={self.nofile}:{self.nofile}", "--"]
            return limit + [binary("PFCRYPTFS", "pfcryptfs"), "-f", self.backing, self.mnt,
                            "--socket", self.keystore.sock] + self.daemon_args
        if self.passthrough_ll:
            # libfuse 3.14's example prints this at start-up (its own default, not our doing).
            self.expect_stderr(rb"^Ignoring invalid max threads value")
            return [self.passthrough_ll, "-f", "-o", f"source={self.backing},xattr", self.mnt]
        return ["bindfs", "-f", "--no-allow-other", self.backing, self.mnt] + self.daemon_args

    def mount(self):
        """Start the daemon and wait (bounded) until the mountpoint is a mount."""
        if self.mode == "plain":
            return
        if self.daemon is not None:
            raise FixtureError("mount(): already mounted")
        self.stderr_path = os.path.join(self.tmp, f"daemon-{self.daemons_started}.stderr")
        self._stderr_seen = 0
        env = self.keystore.env if self.keystore else None
        with open(self.stderr_path, "wb") as err:
            self.daemon = subprocess.Popen(self._daemon_argv(), stdin=subprocess.DEVNULL,
                                           stdout=err, stderr=err, env=env)
        self.daemons_started += 1
        deadline = time.monotonic() + MOUNT_WAIT_S
        while not os.path.ismount(self.mnt):
            rc = self.daemon.poll()
            if rc is not None:
                self.daemon = None
                raise FixtureError(f"daemon exited {rc} before mounting; stderr:\n{self._stderr_text()}")
            if time.monotonic() > deadline:
                self._kill_daemon()
                raise FixtureError(f"{self.mnt} not mounted after {MOUNT_WAIT_S}s; stderr:\n"
                                   f"{self._stderr_text()}")
            time.sleep(0.02)

    # ---- checks ---------------------------------------------------------------------------------
    def expect_stderr(self, regex):
        """Declare that the daemon may write lines matching regex (bytes or str) from now on."""
        self._expected.append(re.compile(regex.encode() if isinstance(regex, str) else regex))

    def _stderr_text(self, start=0):
        if not self.stderr_path or not os.path.exists(self.stderr_path):
            return ""
        with open(self.stderr_path, "rb") as f:
            f.seek(start)
            return f.read().decode(errors="replace")

    def unexpected_stderr(self):
        """Lines the daemon wrote since the last call that the test did not expect."""
        if not self.stderr_path or not os.path.exists(self.stderr_path):
            return []
        with open(self.stderr_path, "rb") as f:
            f.seek(self._stderr_seen)
            data = f.read()
        # Only whole lines; a line being written is looked at next time.
        cut = data.rfind(b"\n") + 1
        self._stderr_seen += cut
        bad = []
        for line in data[:cut].splitlines():
            m = _LOG_LINE.match(line)
            if m and m.group("level") in _QUIET_LEVELS:
                continue
            if any(r.search(line) for r in self._expected):
                continue
            bad.append(line.decode(errors="replace"))
        return bad

    def check_daemon(self):
        """Raise FixtureError if the daemon died or wrote unexpected lines (call between tests)."""
        if self.mode == "plain":
            return
        bad = self.unexpected_stderr()
        if bad:
            raise FixtureError("daemon wrote unexpected stderr lines:\n  " + "\n  ".join(bad))
        if self.daemon is None:
            raise FixtureError("daemon is not running")
        rc = self.daemon.poll()
        if rc is not None:
            raise FixtureError(f"daemon exited {rc} while mounted; stderr:\n{self._stderr_text()}")
        if not os.path.ismount(self.mnt):
            raise FixtureError(f"{self.mnt} is no longer a mount")

    # ---- tear-down -----------------------------------------------------------------------------
    def _kill_daemon(self):
        if self.daemon is None:
            return
        subprocess.run(["fusermount3", "-uz", self.mnt], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        if _wait_pid(self.daemon, 5) is None:
            self.daemon.send_signal(signal.SIGKILL)
            self.daemon.wait()
        self.daemon = None

    def unmount(self):
        """Unmount cleanly and check how the daemon ended; raise FixtureError on any problem."""
        if self.mode == "plain" or self.daemon is None:
            return
        problems = []
        try:
            self.check_daemon()
        except FixtureError as e:
            problems.append(str(e))
        p = None
        for _ in range(50):  # a just-closed file may keep the mount busy for a moment
            p = subprocess.run(["fusermount3", "-u", self.mnt], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, check=False)
            if p.returncode == 0 or not os.path.ismount(self.mnt):
                break
            time.sleep(0.1)
        if p.returncode != 0 and os.path.ismount(self.mnt):
            problems.append(f"fusermount3 -u failed ({p.stderr.decode(errors='replace').strip()}); "
                            "used -uz")
            subprocess.run(["fusermount3", "-uz", self.mnt], check=False)
        rc = _wait_pid(self.daemon, EXIT_WAIT_S)
        if rc is None:
            problems.append(f"daemon still running {EXIT_WAIT_S}s after unmount; killed")
            self.daemon.send_signal(signal.SIGKILL)
            self.daemon.wait()
        elif rc != 0:
            problems.append(f"daemon exited {rc} after unmount")
        self.daemon = None
        bad = self.unexpected_stderr()
        if bad:
            problems.append("daemon wrote unexpected stderr lines:\n  " + "\n  ".join(bad))
        if problems:
            raise FixtureError("; ".join(problems) + "\nfull daemon stderr:\n" + self._stderr_text())

    def remount(self):
        """Unmount (checked) and mount again with a new daemon: data must come from the backing."""
        self.unmount()
        self.mount()

    def check_volume(self):
        """`pfcrypt check` of the backing dir (all blocks, names, long-name companions, orphans):
        what the daemon left behind must be a clean volume.  Raises FixtureError otherwise."""
        if self.mode != "pfcryptfs" or self.keystore is None:
            return
        p = subprocess.run([self.keystore.cli, "--socket", self.keystore.sock, "check", self.backing],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.keystore.env,
                           timeout=120, check=False)
        if p.returncode != 0:
            raise FixtureError(f"pfcrypt check {self.backing} exited {p.returncode}:\n"
                               f"{p.stdout.decode(errors='replace')[-4000:]}")

    def _teardown(self, quiet=False):
        if self in _LIVE:
            _LIVE.remove(self)
        problems = []
        # Unmounted first, so that the check sees a quiescent volume.
        for step in (self.unmount, self.check_volume, self._stop_keystore):
            try:
                step()
            except Exception as e:  # keep cleaning up; report everything
                problems.append(str(e))
                self._kill_daemon()
        if self.tmp:
            if os.path.ismount(self.mnt or ""):
                problems.append(f"{self.mnt} still mounted; not removing {self.tmp}")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        if problems and not quiet:
            raise FixtureError("\n".join(problems))

    def _stop_keystore(self):
        if self.keystore is not None:
            ks, self.keystore = self.keystore, None
            ks.stop()

    def __exit__(self, exc_type, exc, tb):
        # A failing test's own exception wins; fixture problems are still reported after it.
        try:
            self._teardown()
        except FixtureError:
            if exc_type is None:
                raise
            print("# fixture problems after a failed test:", file=sys.stderr)
            raise
        return False

    # ---- helpers for tests ---------------------------------------------------------------------
    def backing_files(self):
        """(path, lstat) of every regular file in the backing dir (what reaches the disk)."""
        out = []
        root = self.backing if self.mode != "plain" else self.mnt
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                p = os.path.join(dirpath, name)
                out.append((p, os.lstat(p)))
        return out


def backing_of(m, path):
    """The backing entry (file, directory or symlink) of a mount entry: the one with the same inode
    number (pfcryptfs reports the backing inode numbers).  m is a Mount (or has .backing)."""
    ino = os.lstat(path).st_ino
    for dirpath, dirs, files in os.walk(m.backing):
        for n in files + dirs:
            p = os.path.join(dirpath, n)
            if os.lstat(p).st_ino == ino:
                return p
    raise AssertionError(f"no backing entry with inode {ino} for {path}")


# ---- small helpers shared by the tests -----------------------------------------------------------

def read_all(path):
    with open(path, "rb") as f:
        return f.read()


def read_at(path, off, n):
    """n bytes at off (pread: no read-ahead of the whole file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, n, off)
    finally:
        os.close(fd)


def errno_of(fn, *args):
    """The errno fn(*args) fails with, 0 if it succeeds."""
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return 0


def flip(path, offset, mask=0x01):
    """Flip bits of the byte at offset in a file (in place)."""
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ mask]))


def drop_caches():
    """Forget cached dentries, attributes and pages: the next access asks the daemon again (so reads
    after a change in the backing dir reach the daemon, not the page cache)."""
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def repeated(tag, n):
    """n bytes of tag repeated."""
    return (tag * (n // len(tag) + 1))[:n]


def hashed_bytes(seed, n):
    """n bytes of a SHA-256 chain from the string seed (deterministic, no period a test would see)."""
    import hashlib
    out = bytearray()
    h = hashlib.sha256(seed.encode()).digest()
    while len(out) < n:
        out += h
        h = hashlib.sha256(h).digest()
    return bytes(out[:n])


def random_bytes(tag, n):
    """n bytes of random.Random(tag) (deterministic for a tag)."""
    import random
    return random.Random(tag).randbytes(n)


class MountTestCase(unittest.TestCase):
    """One mount shared by the tests of a class; the daemon is checked after every test.

    Subclasses may set MOUNT_ARGS (extra daemon arguments) and INIT_ARGS (extra `pfcrypt init`
    options, e.g. another cipher or block size).  self.m is the Mount, self.mnt its root.
    """

    MOUNT_ARGS = ()
    INIT_ARGS = ()
    NOFILE = None  # the daemon's descriptor limit, if not the inherited one
    m = None

    @classmethod
    def setUpClass(cls):
        cls.m = Mount(daemon_args=cls.MOUNT_ARGS, init_args=cls.INIT_ARGS, nofile=cls.NOFILE)
        cls.m.__enter__()
        print(f"# {cls.__name__}: mode {cls.m.mode}, mount {cls.m.mnt}", flush=True)

    @classmethod
    def tearDownClass(cls):
        m, cls.m = cls.m, None
        if m is not None:
            m.__exit__(None, None, None)

    def setUp(self):
        self.mnt = self.m.mnt
        self.scratch = tempfile.mkdtemp(prefix="plain-", dir=self.m.tmp)

    def tearDown(self):
        # Fail this test (not a later one) if the daemon crashed or complained during it.  When the
        # test already failed, print the daemon's state instead, so the test stays one TAP line.
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and not outcome.success:
            try:
                self.m.check_daemon()
            except FixtureError as e:
                print("# " + str(e).replace("\n", "\n# "), flush=True)
            return
        self.m.check_daemon()


@contextlib.contextmanager
def cwd(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


# ---- trees for the real-program tests --------------------------------------------------------------

def make_tree(root, seed=0):
    """A small tree with every kind of entry the programs must carry: files of sizes around the block
    boundaries, an empty file, nested dirs, relative/absolute/dangling symlinks, hard links (also
    across directories), a fifo, odd names, various modes, fixed nanosecond mtimes, a user xattr."""
    import hashlib
    os.makedirs(root, exist_ok=True)

    def data(n, tag):
        h = hashlib.sha256(f"{seed}:{tag}".encode()).digest()
        return (h * (n // len(h) + 1))[:n]

    files = {"empty": 0, "one": 1, "b4095": 4095, "b4096": 4096, "b4097": 4097, "mid": 100_000,
             "sub/deep/big": 1 << 20, "sub/x y z": 5000, "sub/\u00fcml\u00e4ut": 12_345,
             "sub/deep/" + "n" * 240: 300, "exec.sh": 40}
    for i, (rel, n) in enumerate(sorted(files.items())):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data(n, rel))
        os.chmod(p, [0o644, 0o600, 0o640, 0o444][i % 4])
    os.chmod(os.path.join(root, "exec.sh"), 0o755)
    os.mkdir(os.path.join(root, "emptydir"), 0o700)
    os.link(os.path.join(root, "mid"), os.path.join(root, "sub", "mid.hardlink"))
    os.link(os.path.join(root, "mid"), os.path.join(root, "mid.hardlink2"))
    os.link(os.path.join(root, "b4097"), os.path.join(root, "sub/deep/b4097.hl"))
    os.symlink("b4096", os.path.join(root, "rel.link"))
    os.symlink("../mid", os.path.join(root, "sub", "up.link"))
    os.symlink("/nonexistent/pfc/target", os.path.join(root, "dangling.link"))
    os.symlink("sub/deep", os.path.join(root, "dir.link"))
    os.mkfifo(os.path.join(root, "sub", "fifo"))
    os.setxattr(os.path.join(root, "one"), "user.note", b"xattr value")
    # Fixed times, children before parents (creating a child changes the parent's mtime).
    t = 1_600_000_000_123_456_789
    for dirpath, dirs, names in sorted(os.walk(root), key=lambda w: -w[0].count(os.sep)):
        for n in sorted(names) + sorted(dirs):
            t += 1_000_000_007
            os.utime(os.path.join(dirpath, n), ns=(t, t), follow_symlinks=False)
    os.utime(root, ns=(t, t))
    return root


def manifest(root, mtime_ns=True, xattrs=False, skip=(), times=True):
    """{relative path: (type, mode, size, sha256 or link target, mtime, hard-link group)} of a tree.
    Directory sizes are left out (they differ between filesystems); mtime_ns=False compares seconds,
    times=False no times at all."""
    import hashlib
    out = {}
    inodes = {}
    for dirpath, dirs, names in os.walk(root):
        for n in dirs + names:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            if rel in skip:
                continue
            st = os.lstat(p)
            kind = stat.S_IFMT(st.st_mode)
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    what = hashlib.sha256(f.read()).hexdigest()
                inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif stat.S_ISLNK(st.st_mode):
                what = os.readlink(p)
            else:
                what = None
            size = None if stat.S_ISDIR(st.st_mode) else st.st_size
            mt = st.st_mtime_ns if mtime_ns else st.st_mtime_ns // 10**9
            if stat.S_ISDIR(st.st_mode) or not times:
                mt = None  # programs touch directories while working in them
            xa = None
            if xattrs and not stat.S_ISLNK(st.st_mode):
                xa = sorted((k, os.getxattr(p, k)) for k in os.listxattr(p) if k.startswith("user."))
            out[rel] = [kind, stat.S_IMODE(st.st_mode), size, what, mt, xa]
    for paths in inodes.values():
        for rel in paths:
            out[rel].append(min(paths) if len(paths) > 1 else None)
    return out


def run(argv, cwd=None, env=None, timeout=120):
    """Run a program under test; raise AssertionError with its output if it fails.  Returns stdout."""
    p = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, check=False)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited {p.returncode} (cwd {cwd})\n"
                             f"stdout: {p.stdout.decode(errors='replace')[-3000:]}\n"
                             f"stderr: {p.stderr.decode(errors='replace')[-3000:]}")
    return p.stdout.decode(errors="replace")
