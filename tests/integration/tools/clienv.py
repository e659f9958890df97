"""Fixture of the CLI integration tests: real binaries, a real keystore on a socket in a temp dir.

    with CliEnv() as e:
        e.pfcrypt("init", e.backing)                 # CompletedProcess; check=... optional
        e.mkfiles(e.backing, {"a/b.txt": b"data"})   # files written without a mount (pfc_mkfiles)

Programs come from the environment (set by tests/meson.build): PFCRYPT, PFCRYPT_KEYSTORE,
PFC_MKFILES, and PFCRYPTFS when the daemon is built.  A missing program is a failure, never a
skip.  Its keystores are tests/lib/pfcfs.py's Keystore (the one CLI-managed keystore fixture).  Every temp dir is removed and every keystore stopped at exit.
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pfcfs

REWRAP = 6  # keystore/PROTOCOL.md request type (as in tests/lib/ks.py)
PASSPHRASE = b"correct horse battery staple pfc-cli-test"
KEY = "clitest"
WAIT_S = 30.0  # bound on waiting for a daemon to exit (against hangs only, never asserted)


# meson's timeout sends SIGTERM: turn it into SystemExit so that every CliEnv still unmounts,
# stops its keystores and removes its temp dir on the way out.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def program(var):
    """The path of a built program from the environment (tests/meson.build sets them all)."""
    return pfcfs.binary(var, var.lower())


alive = pfcfs.alive


class CliEnv:
    def __init__(self, keystore=True):
        self.want_ks = keystore
        self.keystores = []
        self.mounts = []

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="pfc-cli-")
        self.cli = program("PFCRYPT")
        self.env = dict(os.environ, PFCRYPT_KEYSTORE_BIN=program("PFCRYPT_KEYSTORE"))
        self.env.pop("PFCRYPT_SOCKET", None)
        self.env.pop("PFCRYPT_PASSPHRASE_FILE", None)
        if os.environ.get("PFCRYPTFS"):
            self.env["PFCRYPT_FS_BIN"] = os.environ["PFCRYPTFS"]
        self.backing = os.path.join(self.tmp, "backing")
        try:
            if self.want_ks:
                self.ks = self.keystore("ks")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for m in self.mounts:
            subprocess.run(["fusermount3", "-uz", m], capture_output=True)
        for k in self.keystores:
            try:
                k.stop()
            except AssertionError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def keystore(self, name):
        """Another keystore (pfcfs.Keystore in TMP/name), started; stopped at exit."""
        k = pfcfs.Keystore(self.tmp, name, passphrase=PASSPHRASE, env=self.env)
        k.start()
        self.keystores.append(k)
        return k

    def run(self, argv, check=False, env=None, input=None, timeout=120):
        p = subprocess.run(argv, capture_output=True, text=True, env=env or self.env, input=input,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{argv} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p

    def pfcrypt(self, *args, ks=None, **kw):
        """Run the CLI against keystore ks (default: the first one)."""
        return (ks or self.ks).run(*args, **kw)

    def init_volume(self, backing=None, *extra):
        self.pfcrypt("init", backing or self.backing, "--key", KEY, *extra, check=True)

    def mkfiles(self, backing, files, dirs=(), symlinks=None, ks=None):
        """Write plaintext files {path: bytes} (and dirs, symlinks {path: target}) into backing."""
        src = os.path.join(self.tmp, "src")
        os.makedirs(src, exist_ok=True)
        lines = [f"d {d}" for d in dirs]
        for i, (path, data) in enumerate(files.items()):
            if len(data) <= 2048:
                lines.append(f"x {path} {data.hex()}")
                continue
            s = os.path.join(src, str(i))
            with open(s, "wb") as f:
                f.write(data)
            lines.append(f"f {path} {s}")
        for path, target in (symlinks or {}).items():
            lines.append(f"l {path} {target}")
        env = dict(self.env, PFCRYPT_SOCKET=(ks or self.ks).sock)
        self.run([program("PFC_MKFILES"), backing], check=True, env=env,
                 input="\n".join(lines) + "\n")
        shutil.rmtree(src)

    def mount(self, backing, mnt, ks=None):
        os.makedirs(mnt, exist_ok=True)
        self.pfcrypt("mount", backing, mnt, ks=ks, check=True)
        deadline = time.monotonic() + WAIT_S
        while not os.path.ismount(mnt) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not os.path.ismount(mnt):
            raise AssertionError(f"{mnt} did not become a mount")
        self.mounts.append(mnt)

    def mounted_volume(self, name="mnt"):
        """A new volume in self.backing, mounted (pfcryptfs must be built) at TMP/name: its path."""
        program("PFCRYPTFS")
        self.init_volume()
        mnt = os.path.join(self.tmp, name)
        self.mount(self.backing, mnt)
        return mnt

    def umount(self, mnt):
        self.pfcrypt("umount", mnt, check=True)
        self.mounts.remove(mnt)


def daemon_pids(mnt):
    """pids of the pfcryptfs processes whose command line names mnt."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"pfcryptfs" and mnt.encode() in argv:
            out.append(int(p))
    return out


def one_line_error(t, p, code=2):
    """Exit code as expected, and stderr is exactly one 'pfcrypt: ...' line."""
    t.assertEqual(p.returncode, code, p.stdout + p.stderr)
    lines = p.stderr.splitlines()
    t.assertEqual(len(lines), 1, p.stderr)
    t.assertTrue(lines[0].startswith("pfcrypt: "), lines[0])
    return lines[0]


def backing_files(backing):
    """{relative path: bytes} of every regular file in a backing tree."""
    out = {}
    for root, _, names in os.walk(backing):
        for n in names:
            p = os.path.join(root, n)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    out[os.path.relpath(p, backing)] = f.read()
    return out


class KeystoreProxy:
    """A Unix-socket proxy in front of a keystore (frames: u32 LE length, then type and fields,
    keystore/PROTOCOL.md) that forwards everything until hold_after REWRAP requests were
    answered, then holds the next REWRAP (held is set) until release()."""

    def __init__(self, upstream, path, hold_after):
        self.upstream, self.path, self.hold_after = upstream, path, hold_after
        self.rewraps = 0
        self.held = threading.Event()
        self._release = threading.Event()
        self._conns = []
        self.errors = []  # exceptions of the proxy threads (a test bug), set held too

    def __enter__(self):
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._release.set()
        self.srv.close()
        for c in self._conns:
            c.close()

    def release(self):
        self._release.set()

    @staticmethod
    def _frame(sock):
        head = b""
        while len(head) < 4:
            b = sock.recv(4 - len(head))
            if not b:
                return None
            head += b
        body = b""
        (length,) = struct.unpack("<I", head)
        while len(body) < length:
            b = sock.recv(length - len(body))
            if not b:
                return None
            body += b
        return head + body

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            u.connect(self.upstream)
            self._conns += [c, u]
            threading.Thread(target=self._serve, args=(c, u), daemon=True).start()

    def _serve(self, c, u):
        try:
            while True:
                req = self._frame(c)
                if req is None:
                    return
                if req[4] == REWRAP and self.rewraps >= self.hold_after:
                    self.held.set()
                    self._release.wait()
                u.sendall(req)
                rep = self._frame(u)
                if rep is None:
                    return
                c.sendall(rep)
                if req[4] == REWRAP:
                    self.rewraps += 1
        except OSError:
            return
        except Exception as ex:  # pylint: disable=broad-except
            self.errors.append(ex)
            self.held.set()
