#!/usr/bin/env python3
"""The client trusts only its own keystore (issue 17 point 6, keystore/PROTOCOL.md section 8
"Client checks"): the CLI and pfcryptfs refuse a socket served by another uid, or one in a
directory another user owns or may write, with one line naming the path and the reason, and
send it nothing — no HELLO, no passphrase.

The squatter is a fake keystore running as uid 65534 (nobody): it answers HELLO and says yes to
anything else, as a keystore would, and records every byte it receives; it must record none.
Runs as root (setuid, chown)."""
import json
import os
import subprocess
import sys
import time
import unittest

import taprun
from clienv import CliEnv
from ks import PROTOCOL_VERSION

OTHER = 65534

# The squatter: argv = socket path, record file, ready file.  Answers like a keystore so that an
# unprotected client would go on to send its passphrase.
FAKE = r"""
import os, socket, struct, sys
path, record, ready = sys.argv[1:4]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(8)
open(ready, "w").close()
def frames(c):
    buf = b""
    while True:
        b = c.recv(65536)
        if not b:
            return
        with open(record, "ab") as f:
            f.write(b)
        buf += b
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack("<I", buf[:4])[0]:
            n = struct.unpack("<I", buf[:4])[0]
            yield buf[4]
            buf = buf[4 + n:]
while True:
    c, _ = srv.accept()
    for t in frames(c):
        body = bytes([t | 0x80])
        if t == 1:
            body += struct.pack("<I", int(sys.argv[4])) + struct.pack("<H", 4) + b"fake"
        c.sendall(struct.pack("<I", len(body)) + body)
    c.close()
"""


class Squatter:
    """The fake keystore as uid OTHER, listening in DIR/other/s (a directory OTHER owns)."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "other")
        os.chmod(tmp, 0o711)  # OTHER passes through to its own directory
        os.mkdir(self.dir, 0o700)
        os.chown(self.dir, OTHER, OTHER)
        self.sock = os.path.join(self.dir, "s")
        self.record = os.path.join(self.dir, "record")
        ready = os.path.join(self.dir, "ready")
        self.proc = subprocess.Popen([sys.executable, "-c", FAKE, self.sock, self.record, ready,
                                      str(PROTOCOL_VERSION)], user=OTHER, group=OTHER,
                                     extra_groups=[], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the fake keystore did not start")
            time.sleep(0.01)

    def received(self):
        try:
            with open(self.record, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Trust(unittest.TestCase):
    def setUp(self):
        self.e = CliEnv().__enter__()
        self.pass_file = os.path.join(self.e.tmp, "pass")
        with open(self.pass_file, "w") as f:
            f.write("the secret unlock passphrase\n")
        self.sq = Squatter(self.e.tmp)

    def tearDown(self):
        self.sq.stop()
        self.e.__exit__(None, None, None)

    def unlock(self, sock, pass_file=None):
        return self.e.run([self.e.cli, "--socket", sock, "keystore", "unlock",
                           "--passphrase-file", pass_file or self.pass_file])

    def refused(self, p, *needles):
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        lines = p.stderr.splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("keystore socket not trusted", lines[0])
        for n in needles:
            self.assertIn(n, lines[0])
        self.assertEqual(self.sq.received(), b"", "the client sent bytes to the squatter")

    def our_dir(self, name, mode=0o700):
        d = os.path.join(self.e.tmp, name)
        os.mkdir(d)
        os.chmod(d, mode)
        return d

    def test_socket_served_by_another_uid_gets_nothing(self):
        # moved into our own 0700 directory and chowned to us: only SO_PEERCRED can tell
        sock = os.path.join(self.our_dir("run"), "keystore.sock")
        os.rename(self.sq.sock, sock)
        os.chown(sock, 0, 0)
        p = self.unlock(sock)
        self.refused(p, f"socket {sock} is served by uid {OTHER} (pid {self.sq.proc.pid}), "
                        "not by you (uid 0) or root")

    def test_socket_in_a_directory_of_another_user(self):
        self.refused(self.unlock(self.sq.sock),
                     f"directory {self.sq.dir} of the socket belongs to uid {OTHER}")
        # status and check say why too (status shows the volume, check stops as keystore-down)
        self.e.init_volume()
        p = self.e.run([self.e.cli, "--socket", self.sq.sock, "status", "--json", self.e.backing])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"belongs to uid {OTHER}", json.loads(p.stdout)["keystore"]["error"])
        p = self.e.run([self.e.cli, "--socket", self.sq.sock, "check", self.e.backing])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertEqual(self.sq.received(), b"")

    def test_socket_in_a_group_or_other_writable_directory(self):
        # a real keystore (ours, root) whose directory someone else may write into
        ks = self.e.ks
        d = os.path.dirname(ks.sock)
        with open(ks.log, "rb") as f:
            log = f.read()
        try:
            for mode in (0o777, 0o770, 0o702):
                os.chmod(d, mode)
                p = self.unlock(ks.sock, ks.passfile)
                self.refused(p, f"directory {d} of the socket is writable by group or others "
                                f"(mode {mode:04o})")
            with open(ks.log, "rb") as f:
                self.assertEqual(f.read(), log, "the keystore heard from the client anyway")
            # a root-owned sticky directory (/tmp-like) with our own socket file is accepted
            os.chmod(d, 0o1777)
            p = self.unlock(ks.sock, ks.passfile)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            os.chmod(d, 0o700)  # so that the fixture can stop the keystore
        p = self.unlock(ks.sock, ks.passfile)
        self.assertEqual(p.returncode, 0, p.stderr)

    @unittest.skipUnless(os.environ.get("PFCRYPTFS"), "pfcryptfs is not part of this build")
    def test_pfcryptfs_refuses_to_start_on_an_untrusted_socket(self):
        self.e.init_volume()
        sock = os.path.join(self.our_dir("run"), "keystore.sock")
        os.rename(self.sq.sock, sock)
        os.chown(sock, 0, 0)
        mnt = os.path.join(self.e.tmp, "mnt")
        os.mkdir(mnt)
        p = self.e.run([os.environ["PFCRYPTFS"], self.e.backing, mnt, "-f", "--socket", sock],
                       timeout=60)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertFalse(os.path.ismount(mnt))
        self.assertIn(f"pfcryptfs: keystore {sock}: keystore socket not trusted: socket {sock} "
                      f"is served by uid {OTHER}", p.stderr)
        self.assertEqual(self.sq.received(), b"", "pfcryptfs sent bytes to the squatter")


if __name__ == "__main__":
    taprun.main()
