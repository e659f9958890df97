#!/usr/bin/env python3
"""The keystore's authority (issue 17 point 1, PROTOCOL.md section 2.1): a same-uid client with no
passphrase may use the keys but may not destroy or extract them.  The attack of the issue, by a
raw protocol client (tests/lib/ks.py): EXPORT every version under a passphrase it chose, ROTATE,
RETIRE v1.  Each destructive or extracting request is refused without the store passphrase and
with a wrong one, and works with the right one.

Env (tests/meson.build): PFCRYPT_KEYSTORE, PYTHONPATH with tests/lib.
"""
import os
import subprocess
import sys
import textwrap
import unittest

import taprun
from ks import (EXPORT, RETIRE, Keystore, KsError, lv16, open_container,
                parse_bundle_plaintext)

AD = b"pfcrypt/v1 file-key\0" + bytes(range(16)) + bytes(range(16, 32))


class Base(unittest.TestCase):
    args = ()

    def setUp(self):
        self.k = Keystore(args=self.args)
        self.k.start()

    def tearDown(self):
        rc = self.k.stop()
        log = self.k.log()
        self.k.cleanup()
        self.assertEqual(rc, 0, "daemon did not exit 0 on SIGTERM:\n" + log)

    def refused(self, fn, name, *args, **kw):
        with self.assertRaises(KsError) as e:
            fn(*args, **kw)
        self.assertEqual(e.exception.name, name, e.exception.msg)
        return e.exception.msg


def child(sock, code, wait=False):
    """Another client process running code (c: its ks.Client).  wait=False: it prints "ready"
    and stays until its stdin closes (a mounted pfcryptfs, say); wait=True: it runs and exits."""
    src = "import sys, ks\nc = ks.Client(sys.argv[1])\n" + textwrap.dedent(code)
    if wait:
        return subprocess.run([sys.executable, "-c", src, sock], check=True, timeout=60,
                              capture_output=True).stdout
    src += "\nprint('ready', flush=True)\nsys.stdin.read()\n"
    p = subprocess.Popen([sys.executable, "-c", src, sock], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    return p


def end(p):
    p.stdin.close()
    p.wait(timeout=30)


class Proof(Base):
    def test_the_attack_without_the_passphrase_destroys_and_steals_nothing(self):
        with self.k.client() as c:
            c.create("vol")
            key = os.urandom(32)
            blob = c.wrap("vol", AD, key)
            # EXPORT of every live version under the attacker's own bundle passphrase
            msg = self.refused(c.export, "DENIED", "vol", [], b"attacker's bundle pass")
            self.assertIn("export needs the store passphrase", msg)
            self.refused(c.export, "BAD_PASSPHRASE", "vol", [], b"attacker's bundle pass",
                         proof=b"a guess")
            # ROTATE needs none (PROTOCOL.md 2.1: it destroys nothing, its key is random)
            self.assertEqual(c.rotate("vol"), 2)
            msg = self.refused(c.retire, "DENIED", "vol", 1)
            self.assertIn("retire needs the store passphrase", msg)
            msg = self.refused(c.retire, "BAD_PASSPHRASE", "vol", 1, proof=b"a guess")
            self.assertIn("wrong store passphrase", msg)
            self.refused(c.retire, "BAD_PASSPHRASE", "vol", 1, proof=b"")
            # nothing happened: v1 still unwraps, the connection still serves
            self.assertEqual(c.unwrap(blob, AD), key)
            self.assertEqual([(n, v, s) for n, v, s, _, _ in c.list()],
                             [("vol", 1, 2), ("vol", 2, 1)])
            # with the right passphrase both work
            bundle = c.export("vol", [], b"bundle pass", proof=self.k.passphrase)
            _, vers = parse_bundle_plaintext(open_container(bundle, b"PFCKSEXP", b"bundle pass"))
            self.assertEqual([v for v, _, _ in vers], [1, 2])
        log = self.k.log()
        self.assertIn("retire vol v1 -> PFC_ERR_DENIED", log)
        self.assertIn("retire vol v1 -> PFC_ERR_BAD_PASSPHRASE", log)
        self.assertNotIn("a guess", log)

    def test_a_version_1_frame_is_refused_with_a_clear_reply_and_the_connection_kept(self):
        with self.k.client() as c:
            c.create("vol")
            c.rotate("vol")
            for t, p in [(RETIRE, lv16("vol") + (1).to_bytes(4, "little")),
                         (EXPORT, lv16("vol") + bytes(2) + lv16(b"x"))]:
                with self.assertRaises(KsError) as e:
                    c.call(t, p)
                self.assertEqual(e.exception.name, "DENIED")
                self.assertIn("(protocol 2)", e.exception.msg)
            self.assertEqual(c.status()["versions"], 2)

    def test_the_proof_is_the_current_passphrase_after_passwd(self):
        with self.k.client() as c:
            c.create("vol")
            c.rotate("vol")
            c.passwd(self.k.passphrase, b"the new one")
            self.refused(c.export, "BAD_PASSPHRASE", "vol", [1], b"b", proof=self.k.passphrase)
            c.export("vol", [1], b"b", proof=b"the new one")

    def test_locked_keystore_answers_locked_before_looking_at_the_proof(self):
        with self.k.client() as c:
            c.create("vol")
            c.lock()
            self.refused(c.retire, "LOCKED", "vol", 1, proof=b"whatever")
            self.refused(c.export, "LOCKED", "vol", [], b"b")


class InUse(Base):
    """PROTOCOL.md 2.2: RETIRE is refused while a running client still uses the version."""

    def test_a_running_client_that_unwrapped_under_the_version_blocks_its_retirement(self):
        pw = self.k.passphrase
        blob = bytes.fromhex(child(self.k.socket, """
            c.create("vol")
            print(c.wrap("vol", %r, bytes(32)).hex())
            """ % AD, wait=True).decode().strip())
        with self.k.client() as c:
            c.rotate("vol")
            # a client skipping the CLI's checks, while a "mount" still unwraps under v1
            mount = child(self.k.socket, "c.unwrap(bytes.fromhex(%r), %r)" % (blob.hex(), AD))
            try:
                msg = self.refused(c.retire, "BUSY", "vol", 1, proof=pw)
                self.assertIn("v1 was used to unwrap a file key", msg)
                self.assertIn(f"by pid {mount.pid}, still running", msg)
                self.assertEqual([s for _, _, s, _, _ in c.list()], [2, 1], "nothing changed")
            finally:
                end(mount)
            # the wrapping client (exited) and REWRAP away from v1 do not count
            _, nb = c.rewrap(blob, AD)
            c.retire("vol", 1, proof=pw)
            self.refused(c.unwrap, "KEY_RETIRED", blob, AD)
            self.assertEqual(c.unwrap(nb, AD), bytes(32))

    def test_force_retires_despite_a_running_client(self):
        with self.k.client() as c:
            c.create("vol")
            blob = c.wrap("vol", AD, bytes(32))
            c.rotate("vol")
            c.unwrap(blob, AD)  # this test's own process: still running
            self.refused(c.retire, "BUSY", "vol", 1, proof=self.k.passphrase)
            c.retire("vol", 1, proof=self.k.passphrase, force=True)
            self.refused(c.unwrap, "KEY_RETIRED", blob, AD)
        self.assertIn("retire vol v1 -> PFC_ERR_BUSY", self.k.log())


if __name__ == "__main__":
    taprun.main()
