#!/usr/bin/env python3
"""A hostile backing dir (issue 8 point 3, the mount half; the parsers' libFuzzer target is
tests/fuzz/fuzz_format_parsers.c) and hostile keystore clients while a mount uses the keystore
(point 4).  PFC_FAULTS_HOSTILE_ROUNDS (default 6) random rounds; hostilelib.py says what is damaged
and what must hold.
"""
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import unittest

import hostilelib
import pfcfs
import taprun

ROUNDS = int(os.environ.get("PFC_FAULTS_HOSTILE_ROUNDS", "6"))
SEED0 = int(os.environ.get("PFC_FAULTS_SEED", "1"))


def foreign_volume(m):
    """A second volume of the same keystore and master key, with a few files: its headers unwrap
    only with its own volume id in the associated data.  Returns its backing files."""
    other = os.path.join(m.tmp, "other")
    omnt = os.path.join(m.tmp, "other-mnt")
    os.mkdir(other)
    os.mkdir(omnt)
    m.keystore.ctl("init", "--key", pfcfs.KEY_NAME, other, what="pfcrypt init (other volume)")
    d = subprocess.Popen([pfcfs.binary("PFCRYPTFS", "pfcryptfs"), "-f", other, omnt, "--socket",
                          m.keystore.sock], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=m.keystore.env)
    deadline = time.monotonic() + 30
    while not os.path.ismount(omnt):
        if d.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("the second volume does not mount")
        time.sleep(0.02)
    try:
        for i, n in enumerate((100, 4096, 5000, 20000)):
            with open(os.path.join(omnt, f"f{i}"), "wb") as f:
                f.write(hostilelib.data(f"f{i}", n))   # same sizes and contents as ours
    finally:
        subprocess.run(["fusermount3", "-u", omnt], check=False)
        d.wait(timeout=30)
    return sorted((os.path.join(other, n) for n in os.listdir(other) if hostilelib.is_content(n)
                   and os.path.isfile(os.path.join(other, n))), key=os.path.getsize)


class HostileBacking(unittest.TestCase):

    def test_random_damage_never_crashes_hangs_or_leaks_plaintext(self):
        with pfcfs.Mount() as m:
            m.expect_stderr(rb"^pfcryptfs: (warning|error): ")   # the damage is reported
            exp = hostilelib.populate(m.mnt)
            bmap = hostilelib.backing_map(m.mnt, m.backing, exp)
            m.unmount()
            foreign = foreign_volume(m)
            pristine = os.path.join(m.tmp, "pristine")
            shutil.copytree(m.backing, pristine, symlinks=True)
            total, kinds, problems = 0, {}, []
            for r in range(ROUNDS):
                seed = SEED0 * 1000 + r
                n, probs, ks = hostilelib.hostile_round(m, seed, pristine, bmap, exp, foreign)
                total += n
                for k in ks:
                    kinds[k] = kinds.get(k, 0) + 1
                problems += [f"seed {seed}: {p}" for p in probs]
                m.unmount()
            print(f"# bad inputs tried: {total}; damage kinds: {kinds}", flush=True)
            hostilelib.restore(pristine, m.backing)   # clean again for the fixture's check
            m.mount()
            self.assertEqual(problems, [])


def frame(t, payload=b""):
    return struct.pack("<I", 1 + len(payload)) + bytes([t]) + payload


class HostileKeystoreClients(unittest.TestCase):
    """Garbage frames, stalled and flooding clients on the keystore socket a mount is using:
    meanwhile a remounted daemon (empty key cache) must unwrap every file's key and create more
    files than its key pool holds."""

    def test_mount_keeps_working_while_the_keystore_is_abused(self):
        with pfcfs.Mount() as m:
            for i in range(300):
                with open(os.path.join(m.mnt, f"k{i}"), "wb") as f:
                    f.write(hostilelib.data(f"k{i}", 100 + i))
            stop = threading.Event()
            counts = {"garbage": 0, "stalled": 0, "flood": 0}
            held = []

            def abuse():
                import random
                rnd = random.Random(SEED0)
                while not stop.is_set():
                    s = socket.socket(socket.AF_UNIX)
                    try:
                        s.connect(m.keystore.sock)
                        kind = rnd.choice(["garbage", "stalled", "flood", "flood"])
                        if kind == "garbage":
                            s.sendall(rnd.choice([
                                rnd.randbytes(rnd.randrange(1, 300)),
                                frame(rnd.randrange(256), rnd.randbytes(rnd.randrange(0, 64))),
                                struct.pack("<I", 0xffffffff) + b"x" * 10,
                                struct.pack("<I", 0)]))
                            s.settimeout(2)
                            try:
                                s.recv(4096)
                            except OSError:
                                pass
                        elif kind == "stalled":
                            s.sendall(struct.pack("<I", 100) + b"\x01")   # a frame never finished
                            if len(held) < 40:
                                held.append(s)
                                s = None
                        counts[kind] += 1
                    except OSError:
                        counts["flood"] += 1
                    finally:
                        if s is not None:
                            s.close()

            threads = [threading.Thread(target=abuse) for _ in range(2)]
            for t in threads:
                t.start()
            try:
                m.remount()
                for i in range(300):
                    with open(os.path.join(m.mnt, f"k{i}"), "rb") as f:
                        self.assertEqual(f.read(), hostilelib.data(f"k{i}", 100 + i))
                for i in range(200):
                    with open(os.path.join(m.mnt, f"new{i}"), "wb") as f:
                        f.write(b"n%d" % i)
                m.check_daemon()
            finally:
                stop.set()
                for t in threads:
                    t.join(timeout=60)
                for s in held:
                    s.close()
            print(f"# keystore abuse while mounted: {counts}", flush=True)
            self.assertTrue(pfcfs.alive(m.keystore.pid), "keystore alive")
            self.assertGreater(counts["garbage"], 10)
            for i in range(200):
                with open(os.path.join(m.mnt, f"new{i}"), "rb") as f:
                    self.assertEqual(f.read(), b"n%d" % i)


if __name__ == "__main__":
    taprun.main()
