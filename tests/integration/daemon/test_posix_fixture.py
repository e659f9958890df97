#!/usr/bin/env python3
"""The mount fixture (tests/lib/pfcfs.py) itself: it must turn every way a mount can go wrong into a
test failure, so that the other mount tests cannot pass by accident.  Proves that unexpected daemon
stderr, a daemon that dies, a missing program and a volume that `pfcrypt check` rejects all raise
FixtureError, that declared stderr lines are accepted, and that nothing stays mounted afterwards."""
import os
import signal
import unittest

import pfcfs
import taprun

MODE = os.environ.get("PFC_FS_MODE", "pfcryptfs")


BAD = "A" * 43  # shaped like an encrypted name (base64url of 32 bytes), but does not decrypt


def plant_bad_name(m):
    """A backing entry whose name does not decrypt: the daemon skips it in listings with one log
    line (issue 5 point 4), which the fixture must treat as unexpected unless declared."""
    with open(os.path.join(m.backing, BAD), "wb") as f:
        f.write(b"garbage")
    return sorted(os.listdir(m.mnt))


@unittest.skipUnless(MODE == "pfcryptfs", "checks the pfcryptfs fixture; PFC_FS_MODE selects another mode")
class Fixture(unittest.TestCase):
    def test_clean_session_passes_and_cleans_up(self):
        with pfcfs.Mount() as m:
            with open(os.path.join(m.mnt, "f"), "wb") as f:
                f.write(b"data")
            m.check_daemon()
            tmp, mnt = m.tmp, m.mnt
            self.assertTrue(os.path.ismount(mnt))
        self.assertFalse(os.path.exists(tmp), "temp dir left behind")

    def test_unexpected_daemon_stderr_fails(self):
        m = pfcfs.Mount().__enter__()
        try:
            self.assertEqual(plant_bad_name(m), [])
            with self.assertRaises(pfcfs.FixtureError) as cm:
                m.check_daemon()
            self.assertIn("unexpected stderr", str(cm.exception))
        finally:
            os.unlink(os.path.join(m.backing, BAD))
            m.__exit__(None, None, None)

    def test_declared_daemon_stderr_passes(self):
        with pfcfs.Mount() as m:
            m.expect_stderr(rb": (warning|error): .*/" + BAD.encode() + rb": ")
            self.assertEqual(plant_bad_name(m), [])
            m.check_daemon()
            self.assertIn(BAD, m._stderr_text(), "the daemon did not log the bad name")
            os.unlink(os.path.join(m.backing, BAD))

    def test_daemon_killed_fails(self):
        m = pfcfs.Mount().__enter__()
        tmp, mnt = m.tmp, m.mnt
        m.daemon.send_signal(signal.SIGKILL)
        m.daemon.wait()
        with self.assertRaises(pfcfs.FixtureError):
            m.check_daemon()
        with self.assertRaises(pfcfs.FixtureError) as cm:
            m.__exit__(None, None, None)
        self.assertIn("exited -9", str(cm.exception))
        self.assertFalse(os.path.ismount(mnt))
        self.assertFalse(os.path.exists(tmp))

    def test_volume_rejected_by_check_fails(self):
        m = pfcfs.Mount().__enter__()
        with open(os.path.join(m.mnt, "victim"), "wb") as f:
            f.write(b"v" * 10000)
        m.unmount()
        (path, st), = [(p, s) for p, s in m.backing_files() if s.st_size > 10000]
        with open(path, "r+b") as f:  # flip one ciphertext byte of the last block
            f.seek(st.st_size - 20)
            b = f.read(1)
            f.seek(st.st_size - 20)
            f.write(bytes([b[0] ^ 1]))
        with self.assertRaises(pfcfs.FixtureError) as cm:
            m.__exit__(None, None, None)
        self.assertIn("pfcrypt check", str(cm.exception))

    def test_missing_program_fails_not_skips(self):
        saved = os.environ.get("PFCRYPTFS")
        os.environ["PFCRYPTFS"] = "/nonexistent/pfcryptfs"
        try:
            with self.assertRaises(pfcfs.FixtureError):
                with pfcfs.Mount():
                    pass
        finally:
            os.environ["PFCRYPTFS"] = saved


if __name__ == "__main__":
    taprun.main()
