#!/usr/bin/env python3
"""The keystore's authority (issue 17 point 1, PROTOCOL.md section 2.1): a same-uid client with no
passphrase may use the keys but may not destroy or extract them.  The attack of the issue, by a
raw protocol client (tests/lib/ks.py): EXPORT every version under a passphrase it chose, ROTATE,
RETIRE v1.  Each destructive or extracting request is refused without the store passphrase and
with a wrong one, and works with the right one.

Env (tests/meson.build): PFCRYPT_KEYSTORE, PYTHONPATH with tests/lib.
"""
import os
import struct
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import taprun
from ks import (KeystoreCase, EXPORT, RETIRE, Keystore, KsError, lv16, open_container,
                parse_bundle_plaintext, parse_store_plaintext, seal_container)

AD = b"pfcrypt/v1 file-key\0" + bytes(range(16)) + bytes(range(16, 32))


class Base(KeystoreCase):
    """The module's keystore test case (tests/lib/ks.py KeystoreCase)."""

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
            self.assertIn("not the store passphrase: retire refused", msg)
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
                self.assertIn(f"still connected or running (pid {mount.pid};", msg)
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


class Grace(Base):
    """PROTOCOL.md 2.2: a RETIRE with a delay schedules the destruction."""

    def setUp(self):
        super().setUp()
        with self.k.client() as c:
            c.create("vol")
            self.key = os.urandom(32)
            self.blob = c.wrap("vol", AD, self.key)
            c.rotate("vol")
        self.k.stop()  # forget that this process wrapped under v1 (in memory only)
        self.k.start()

    def store(self):
        with open(self.k.store, "rb") as f:
            return parse_store_plaintext(open_container(f.read(), b"PFCKSTOR",
                                                        self.k.passphrase))

    def test_scheduled_version_refuses_unwrap_until_cancelled(self):
        pw = self.k.passphrase
        with self.k.client() as c:
            before = int(time.time())
            state, when = c.retire("vol", 1, proof=pw, delay=3600)
            self.assertEqual(state, 4)
            self.assertTrue(before + 3600 <= when <= int(time.time()) + 3600, when)
            msg = self.refused(c.unwrap, "KEY_RETIRING", self.blob, AD)
            self.assertIn("v1 scheduled for destruction at ", msg)
            self.assertIn(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(when)), msg)
            self.assertIn("pfcrypt keystore cancel-retire restores it", msg)
            self.assertEqual([(v, st, r) for _, v, st, _, r in c.list()],
                             [(1, 4, when), (2, 1, 0)])
            self.assertEqual(c.status()["versions"], 2, "its key bytes are still there")
            self.assertEqual(self.store()[0][2:5:2], (4, when), "the schedule is in the store")
            self.assertIsNotNone(self.store()[0][5])
            self.refused(c.cancel_retire, "BAD_PASSPHRASE", "vol", 1, b"guess")
            c.cancel_retire("vol", 1, pw)
            self.assertEqual(c.unwrap(self.blob, AD), self.key)
            self.assertEqual(self.store()[0][2], 2, "active again, in the store too")
            msg = self.refused(c.cancel_retire, "INVAL", "vol", 1, pw)
            self.assertIn("v1 is not scheduled for destruction", msg)

    def test_the_deadline_destroys_on_the_keystores_own_timer(self):
        with self.k.client() as c:
            state, when = c.retire("vol", 1, proof=self.k.passphrase, delay=2)
            self.assertEqual(state, 4)
        end = time.monotonic() + 20
        while self.store()[0][2] != 3:  # no request meanwhile: the poll loop's timer
            self.assertLess(time.monotonic(), end, "not destroyed after its deadline")
            time.sleep(0.2)
        entry = self.store()[0]
        self.assertIsNone(entry[5], "key bytes gone from the store")
        self.assertGreaterEqual(entry[4], when)
        self.assertLessEqual(time.time() - when, 10)
        with self.k.client() as c:
            self.refused(c.unwrap, "KEY_RETIRED", self.blob, AD)
            self.refused(c.cancel_retire, "KEY_RETIRED", "vol", 1, self.k.passphrase)
        self.assertIn("vol v1: its grace period ended, destroying it", self.k.log())

    def test_a_restart_keeps_the_schedule_and_a_deadline_passed_while_stopped_is_honoured(self):
        pw = self.k.passphrase
        with self.k.client() as c:
            _, when = c.retire("vol", 1, proof=pw, delay=3600)
        self.k.stop()
        self.k.start()
        with self.k.client() as c:
            self.assertEqual([(v, st, r) for _, v, st, _, r in c.list()][0], (1, 4, when))
            self.refused(c.unwrap, "KEY_RETIRING", self.blob, AD)
            c.retire("vol", 1, proof=pw, delay=1)  # a new deadline, one second away
        self.k.stop()
        time.sleep(1.5)
        self.k.start()
        with self.k.client() as c:
            self.assertEqual(c.list()[0][2], 3, "destroyed at the first chance after start")
            self.refused(c.unwrap, "KEY_RETIRED", self.blob, AD)

    def test_a_locked_keystore_destroys_when_next_unlocked(self):
        with self.k.client() as c:
            c.retire("vol", 1, proof=self.k.passphrase, delay=1)
            c.lock()
            time.sleep(1.5)
            self.assertEqual(self.store()[0][2], 4, "locked: it cannot write the store")
            c.unlock(self.k.passphrase)
            self.assertEqual(c.list()[0][2], 3)
            self.assertEqual(self.store()[0][2], 3)

    def test_delay_0_destroys_now_and_too_long_a_delay_is_refused(self):
        pw = self.k.passphrase
        with self.k.client() as c:
            self.refused(c.retire, "INVAL", "vol", 1, proof=pw, delay=365 * 86400 + 1)
            state, when = c.retire("vol", 1, proof=pw, delay=0)
            self.assertEqual(state, 3)
            self.assertLessEqual(abs(time.time() - when), 5)
            self.refused(c.unwrap, "KEY_RETIRED", self.blob, AD)

    def test_a_version_1_store_still_loads_and_is_rewritten_as_version_2(self):
        k1 = os.urandom(32)
        pt = bytes([1]) + struct.pack("<I", 1) + bytes([3]) + b"old" + \
            struct.pack("<IBQQ", 1, 1, 1_700_000_000, 0) + k1
        self.k.stop()
        with open(self.k.store, "wb") as f:
            f.write(seal_container(b"PFCKSTOR", pt, self.k.passphrase))
        self.k.start()
        with self.k.client() as c:
            self.assertEqual(c.list(), [("old", 1, 1, 1_700_000_000, 0)])
            c.rotate("old")
            c.retire("old", 1, proof=self.k.passphrase, delay=60)
        with open(self.k.store, "rb") as f:
            plain = open_container(f.read(), b"PFCKSTOR", self.k.passphrase)
        self.assertEqual(plain[0], 2, "payload version 2")
        self.assertEqual([e[2] for e in parse_store_plaintext(plain)], [4, 1])


class Lifetime(Base):
    """PROTOCOL.md 8: --lifetime D locks the keystore D after each unlock, like ssh-add -t."""
    args = ("--lifetime", "2s")

    def wait_log(self, text, limit=20):
        end = time.monotonic() + limit
        while text not in self.k.log():
            self.assertLess(time.monotonic(), end, f"no {text!r} in the log:\n{self.k.log()}")
            time.sleep(0.1)

    def test_the_keystore_locks_itself_when_its_lifetime_is_over(self):
        with self.k.client() as c:
            c.create("vol")
            blob = c.wrap("vol", AD, bytes(32))
            t0 = time.monotonic()
            c.unlock(self.k.passphrase)  # already unlocked: checks, does not extend
        self.wait_log("lifetime of 2 s since the unlock is over: locking")  # no request needed
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        with self.k.client() as c:
            self.assertTrue(c.status()["locked"])
            self.refused(c.unwrap, "LOCKED", blob, AD)
            c.unlock(self.k.passphrase)
            self.assertEqual(c.unwrap(blob, AD), bytes(32))
            time.sleep(2.5)
            self.assertTrue(c.status()["locked"], "a new lifetime from the unlock, then locked")
            self.refused(c.unwrap, "LOCKED", blob, AD)

    def test_a_bad_lifetime_is_a_usage_error(self):
        for bad in ("0", "8x", "h", "3651d"):
            r = subprocess.run([self.k.binary, "--socket", self.k.socket + ".x", "--store",
                                self.k.store, "--lifetime", bad, "-f"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, bad)


class ConfirmExport(unittest.TestCase):
    """PROTOCOL.md 8: --confirm-export CMD is asked before each EXPORT (ssh-add -c); exit 0
    allows it, anything else refuses it."""

    def start(self, cmd):
        self.k = Keystore(args=("--confirm-export", cmd))
        self.addCleanup(self.k.cleanup)
        self.k.start()
        with self.k.client() as c:
            c.create("vol")
        return self.k

    def test_a_refusing_command_blocks_the_export(self):
        k = self.start("exit 3")
        with k.client() as c:
            with self.assertRaises(KsError) as e:
                c.export("vol", [], b"bundle pass", proof=k.passphrase)
            self.assertEqual(e.exception.name, "DENIED")
            self.assertIn("refused by the --confirm-export command (exit status 3)",
                          e.exception.msg)
            self.assertEqual(c.status()["versions"], 1, "the keystore goes on serving")
        self.assertIn("export vol -> PFC_ERR_DENIED", k.log())

    def test_the_command_is_told_what_is_asked_and_only_after_the_proof(self):
        asked = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"pfcks-asked-{os.getpid()}")
        self.addCleanup(lambda: os.path.exists(asked) and os.unlink(asked))
        k = self.start(f'printf "%s|%s|%s\\n" "$PFCRYPT_CONFIRM" "$PFCRYPT_CONFIRM_KEY" '
                       f'"$PFCRYPT_CONFIRM_PID" >> {asked}; test "$PFCRYPT_CONFIRM_KEY" = vol')
        with k.client() as c:
            c.create("other")
            with self.assertRaises(KsError) as e:
                c.export("vol", [], b"b", proof=b"wrong")
            self.assertEqual(e.exception.name, "BAD_PASSPHRASE")
            self.assertFalse(os.path.exists(asked), "asked before the proof was checked")
            c.export("vol", [1], b"b", proof=k.passphrase)
            with self.assertRaises(KsError) as e:
                c.export("other", [], b"b", proof=k.passphrase)
            self.assertIn("exit status 1", e.exception.msg)
        with open(asked) as f:
            lines = f.read().splitlines()
        me = os.getpid()
        self.assertEqual(lines, [
            f"export 1 version(s) of master key vol, asked by uid {os.getuid()} pid {me}|vol|{me}",
            f"export every live version of master key other, asked by uid {os.getuid()} "
            f"pid {me}|other|{me}"])

    def test_a_command_that_does_not_answer_is_a_refusal(self):
        k = self.start("sleep 600")
        t0 = time.monotonic()
        probes = []

        def probe():
            # the KDF worker waits for the command, not the loop (PROTOCOL.md 8)
            time.sleep(2)
            with k.client() as p:
                for _ in range(3):
                    t = time.monotonic()
                    p.status()
                    probes.append(time.monotonic() - t)
        th = threading.Thread(target=probe)
        th.start()
        with k.client(timeout=120) as c:
            with self.assertRaises(KsError) as e:
                c.export("vol", [], b"b", proof=k.passphrase)
            self.assertIn("did not answer within 20 s", e.exception.msg)
            self.assertEqual(c.status()["versions"], 1, "the keystore serves again")
        th.join(timeout=60)
        self.assertLess(time.monotonic() - t0, 60)
        self.assertEqual(len(probes), 3)
        self.assertLess(max(probes), 1.0, f"STATUS served while the command ran: {probes}")


if __name__ == "__main__":
    taprun.main()
