#!/usr/bin/env python3
"""Unlock and connection floods against a real pfcrypt-keystore (issue 17 point 5;
keystore/PROTOCOL.md section 8.1): the KDF runs off the serving loop, wrong passphrases are
answered later and later, idle connections are closed and make room, and a pfcryptfs mount keeps
opening files while four clients hammer wrong UNLOCKs.

The latency assertions are of a functional property (other clients are not made to wait behind
Argon2id), with wide margins: with the KDF on the loop, a STATUS waits behind up to four
"moderate" derivations (0.6 s each on a 2-core VM), i.e. seconds; with the worker, milliseconds.

Env (tests/meson.build): PFCRYPT_KEYSTORE, PFCRYPTFS, PFCRYPT, PYTHONPATH with tests/lib.
"""
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import unittest

import taprun
from ks import ERR, REPLY, UNLOCK, Keystore, KsError, frame, lv16, seal_container

WRONG = b"not the passphrase"


class Hammer:
    """n threads, each on its own connection, sending wrong UNLOCKs until stopped."""

    def __init__(self, k, n=4):
        self.k, self.stop, self.tries, self.errors = k, threading.Event(), 0, []
        self.threads = [threading.Thread(target=self._run) for _ in range(n)]

    def _run(self):
        try:
            with self.k.client(timeout=120) as c:
                while not self.stop.is_set():
                    try:
                        c.unlock(WRONG)
                        self.errors.append("a wrong passphrase was accepted")
                    except KsError as e:
                        if e.code != ERR["BAD_PASSPHRASE"]:
                            self.errors.append(str(e))
                    self.tries += 1
        except OSError as e:
            self.errors.append(f"hammer connection: {e!r}")

    def __enter__(self):
        for t in self.threads:
            t.start()
        time.sleep(0.5)  # every hammer has a request in
        return self

    def __exit__(self, *a):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)


def timed(fn, *args):
    t0 = time.monotonic()
    fn(*args)
    return time.monotonic() - t0


class KdfOffTheLoop(unittest.TestCase):
    def test_status_is_answered_at_once_while_four_clients_send_wrong_unlocks(self):
        with Keystore(profile="moderate") as k, k.client() as probe:
            with Hammer(k) as h:
                lat = []
                for _ in range(12):
                    lat.append(timed(probe.status))
                    time.sleep(0.15)
            self.assertEqual(h.errors, [])
            self.assertGreaterEqual(h.tries, 2, "the hammers did get answers")
            self.assertLess(statistics.median(lat), 0.2, f"STATUS round trips {lat}")
            self.assertLess(max(lat), 0.5, f"STATUS round trips {lat}")
            self.assertFalse(probe.status()["locked"])


    def test_a_lock_while_an_unlock_derives_makes_it_derive_again(self):
        # UNLOCK while unlocked is planned as a check against the store key; a LOCK answered
        # meanwhile wipes that key, so the UNLOCK is planned again (open the store file) and
        # unlocks: no stale comparison, no crash
        with Keystore(profile="moderate") as k, k.client() as a, k.client() as b:
            a.send_raw(frame(UNLOCK, lv16(k.passphrase)))
            time.sleep(0.2)
            self.assertLess(timed(b.lock), 0.3, "LOCK answered while the KDF runs")
            self.assertTrue(b.status()["locked"])
            t, body = a.recv_frame()
            self.assertEqual(t, UNLOCK | REPLY, body)
            self.assertFalse(b.status()["locked"])
            self.assertTrue(k.alive())
            self.assertIn("unlock -> ok", k.log())


class BundleKdfOffTheLoop(unittest.TestCase):
    """EXPORT and IMPORT derive a bundle key: on the worker too."""

    def test_status_is_answered_at_once_while_exports_derive_bundle_keys(self):
        with Keystore(profile="moderate") as k, k.client() as probe:
            probe.create("vol")
            # the proof and the bundle key: two derivations per export, both on the worker
            lat = self.probe_during(
                k, lambda c: c.export("vol", [], b"export passphrase", proof=k.passphrase),
                probe)
            self.assertLess(statistics.median(lat), 0.2, f"STATUS round trips {lat}")
            self.assertLess(max(lat), 0.5, f"STATUS round trips {lat}")

    def probe_during(self, k, request, probe, n=2):
        """STATUS round trips on probe while n clients send request(client) in a loop."""
        stop, tries, errors = threading.Event(), [0], []

        def sender():
            with k.client(timeout=120) as c:
                while not stop.is_set():
                    try:
                        request(c)
                    except KsError as e:
                        if e.code != ERR["BAD_PASSPHRASE"]:
                            errors.append(str(e))
                    tries[0] += 1

        threads = [threading.Thread(target=sender) for _ in range(n)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        lat = []
        try:
            for _ in range(10):
                lat.append(timed(probe.status))
                time.sleep(0.15)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=120)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(tries[0], 1)
        return lat

    def test_status_is_answered_at_once_while_imports_derive_a_costly_bundle_key(self):
        # a bundle's header sets its own Argon2id cost (here 4 passes over 256 MiB)
        bundle = seal_container(b"PFCKSEXP", b"\0" * 8, b"the export passphrase", opslimit=4,
                                memlimit=256 << 20, profile=3)
        with Keystore() as k, k.client() as probe:
            lat = self.probe_during(k, lambda c: c.import_(bundle, b"wrong"), probe)
            self.assertLess(statistics.median(lat), 0.2, f"STATUS round trips {lat}")
            self.assertLess(max(lat), 0.5, f"STATUS round trips {lat}")


class FailureDelay(unittest.TestCase):
    def test_each_consecutive_wrong_passphrase_is_answered_later(self):
        with Keystore() as k, k.client() as c:
            def wrong():
                t0 = time.monotonic()
                with self.assertRaises(KsError) as e:
                    c.unlock(WRONG)
                self.assertEqual(e.exception.code, ERR["BAD_PASSPHRASE"])
                return time.monotonic() - t0

            times = [wrong() for _ in range(4)]
            for n, t in enumerate(times, 1):
                self.assertGreaterEqual(t, 0.1 * n - 0.01, f"failure {n}: {times}")
            c.unlock(k.passphrase)  # a right passphrase starts the count over
            again = wrong()
            self.assertGreaterEqual(again, 0.09)
            self.assertLess(again, 0.4, f"the count started over: {again}")

    def test_parallel_connections_do_not_get_around_the_delay(self):
        with Keystore() as k:
            clients = [k.client() for _ in range(4)]
            done = []

            def guess(c):
                t0 = time.monotonic()
                try:
                    c.unlock(WRONG)
                except KsError:
                    done.append(time.monotonic() - t0)

            threads = [threading.Thread(target=guess, args=(c,)) for c in clients]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
            for c in clients:
                c.close()
            # one at a time, each held 100 ms more than the last: 0.1, 0.3, 0.6, 1.0 s
            self.assertEqual(len(done), 4)
            self.assertGreaterEqual(max(done), 0.99, f"reply times {sorted(done)}")


class IdleConnections(unittest.TestCase):
    def test_300_idle_connections_do_not_lock_out_a_new_client(self):
        with Keystore() as k:  # --max-clients 256
            idle = []
            try:
                for _ in range(300):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.settimeout(10)
                    idle.append(s)
                    while True:
                        try:
                            s.connect(k.socket)
                            break
                        except BlockingIOError:  # listen backlog full: let it accept
                            time.sleep(0.002)
                with k.client(timeout=5) as c:
                    self.assertFalse(c.status()["locked"])
                    c.create("vol")
                # the oldest made room: closed without a frame
                for s in idle[:300 - 256 + 1]:
                    self.assertEqual(s.recv(1), b"", "longest-idle connections closed")
            finally:
                for s in idle:
                    s.close()
            self.assertTrue(k.alive())

    def test_an_idle_connection_is_closed_after_the_idle_timeout(self):
        with Keystore(args=["--idle-timeout", "1"]) as k, k.client() as idle, \
                k.client() as busy:
            idle.hello()
            t0 = time.monotonic()
            while time.monotonic() - t0 < 1.6:  # busy is never idle for 1 s
                busy.hello()
                time.sleep(0.2)
            idle.s.settimeout(10)
            self.assertEqual(idle.s.recv(1), b"", "idle connection closed")
            self.assertGreaterEqual(time.monotonic() - t0, 0.9)
            busy.hello()  # still open

    def test_idle_timeout_option_is_checked(self):
        k = Keystore()
        try:
            k.init_store()
            for bad in ("soon", "-1", ""):
                r = subprocess.run(k._cmd("-f", "--idle-timeout", bad, "--passphrase-file",
                                          k.pass_file), capture_output=True, timeout=30)
                self.assertEqual(r.returncode, 2, f"--idle-timeout {bad!r}")
        finally:
            k.cleanup()


def content(i):
    return b"file %d\n" % i * (i + 1)


class MountDuringFlood(unittest.TestCase):
    """pfcryptfs's one connection: its UNWRAPs are answered during an UNLOCK flood and while
    stalled connections fill the table, and when the keystore closes it (idle, or to make room)
    the daemon reconnects without a word.  (The daemon asks STATUS every 2 s, so only an idle
    timeout under that closes its connection: 1 s here.)"""

    def mount(self, k):
        self.daemon = subprocess.Popen([os.environ["PFCRYPTFS"], "-f", self.backing, self.mnt,
                                        "--socket", k.socket], stdin=subprocess.DEVNULL,
                                       stdout=self.err, stderr=self.err)
        end = time.monotonic() + 30
        while not os.path.ismount(self.mnt):
            self.assertIsNone(self.daemon.poll(), "pfcryptfs exited before mounting")
            self.assertLess(time.monotonic(), end, "not mounted after 30 s")
            time.sleep(0.02)

    def unmount(self):
        d, self.daemon = self.daemon, None
        if d is not None:
            subprocess.run(["fusermount3", "-u", self.mnt], check=True, timeout=30)
            self.assertEqual(d.wait(timeout=30), 0)

    def volume(self, k, n):
        """A volume of n files, mounted afresh: every first open asks the keystore."""
        tmp = tempfile.mkdtemp(prefix="pfc-flood-")
        self.addCleanup(subprocess.run, ["rm", "-rf", tmp], check=False)
        self.backing, self.mnt = os.path.join(tmp, "backing"), os.path.join(tmp, "mnt")
        os.mkdir(self.mnt)
        self.err = open(os.path.join(tmp, "daemon.log"), "wb+")
        self.addCleanup(self.err.close)
        subprocess.run([os.environ["PFCRYPT"], "--socket", k.socket, "init", "--key", "vol",
                        self.backing], check=True, capture_output=True, timeout=60)
        self.mount(k)
        self.addCleanup(self.unmount)
        for i in range(n):
            with open(os.path.join(self.mnt, f"f{i}"), "wb") as f:
                f.write(content(i))
        self.unmount()
        self.mount(k)

    def read(self, i):
        t0 = time.monotonic()
        with open(os.path.join(self.mnt, f"f{i}"), "rb") as f:
            self.assertEqual(f.read(), content(i))
        return time.monotonic() - t0

    def daemon_log(self):
        self.err.seek(0)
        log = self.err.read().decode(errors="replace")
        self.assertNotIn("warning", log)
        self.assertNotIn("error", log)

    def test_files_open_during_an_unlock_flood_and_after_an_idle_close(self):
        with Keystore(profile="moderate", args=["--idle-timeout", "1"]) as k:
            self.volume(k, 200)
            pid = self.daemon.pid
            with Hammer(k) as h:
                lat = [self.read(i) for i in range(100)]
            self.assertEqual(h.errors, [])
            self.assertLess(max(lat), 1.0, f"slowest first open {max(lat):.3f} s")
            time.sleep(2.5)  # the keystore closes the daemon's idle connection
            for i in range(100, 200):
                self.read(i)
            self.unmount()
            self.daemon_log()
            self.assertIn(f"pid {pid}: idle", k.log(), "the daemon's connection was closed")

    def test_files_open_while_stalled_connections_fill_the_table(self):
        # 32 slots; two threads keep them full of half-sent frames, new ones all the time: the
        # daemon's connection (the only idle one) is closed to make room, and it gets back in
        # because a stalled frame is the client's turn, not the server's
        with Keystore(args=["--max-clients", "32"]) as k:
            self.volume(k, 150)
            pid = self.daemon.pid
            stop, opened = threading.Event(), [0]

            def staller():
                held = []
                while not stop.is_set():
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    try:
                        s.connect(k.socket)
                        s.sendall(b"\x64\0\0\0\x01")  # 100 bytes announced, 1 sent
                        opened[0] += 1
                    except OSError:
                        pass
                    held.append(s)
                    if len(held) > 40:
                        held.pop(0).close()
                    time.sleep(0.002)
                for s in held:
                    s.close()

            threads = [threading.Thread(target=staller) for _ in range(2)]
            for t in threads:
                t.start()
            try:
                time.sleep(0.5)
                lat = [self.read(i) for i in range(150)]
            finally:
                stop.set()
                for t in threads:
                    t.join(timeout=60)
            self.assertGreater(opened[0], 100)
            self.assertLess(max(lat), 1.0, f"slowest first open {max(lat):.3f} s")
            self.unmount()
            self.daemon_log()
            self.assertIn(f"pid {pid}: closed, the least recently active", k.log())


if __name__ == "__main__":
    taprun.main()
