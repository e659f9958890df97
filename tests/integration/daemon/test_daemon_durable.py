#!/usr/bin/env python3
"""New directory ids reach the disk off the mkdir path, but never later than an fsync (durable.c).

MKDIR writes the new directory's id file and hands it to a thread that fsyncs it within a second;
an fsync or fsyncdir on the mount first syncs every id still waiting.  The daemon's fsync calls are
watched with strace (-y names each descriptor's file), so the order is seen, not assumed.
"""
import os
import re
import shutil
import signal
import subprocess
import time

import pfcfs
import taprun

DELAY_S = 1.0  # PFCD_DURABLE_DELAY_MS
FSYNC = re.compile(r"^\d+\s+(?:fsync|fdatasync)\((\d+)<([^>]*)>\)\s+=\s+0")


class Watch:
    """strace of the daemon's fsync/fdatasync calls: (fd, path) in the order made."""

    def __init__(self, pid, tmp):
        strace = shutil.which("strace")
        if not strace:
            raise AssertionError("strace is needed (tests/deps.txt)")
        self.out = os.path.join(tmp, f"strace-{time.monotonic_ns()}.txt")
        self.p = subprocess.Popen([strace, "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync",
                                   "-o", self.out, "-p", str(pid)],
                                  stderr=subprocess.PIPE)
        # attached once the daemon's threads show up as tracees
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(f"/proc/{pid}/status") as f:
                if re.search(r"TracerPid:\s+[1-9]", f.read()):
                    break
            time.sleep(0.02)
        else:
            self.p.kill()
            raise AssertionError("strace did not attach to the daemon")
        time.sleep(0.2)  # every thread, not only the first

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        _, err = self.p.communicate(timeout=10)
        if err.strip():
            print("# strace: " + err.decode(errors="replace").strip().replace("\n", "\n# "),
                  flush=True)
        calls = []
        with open(self.out) as f:
            for line in f:
                m = FSYNC.match(line)
                if m:
                    calls.append(m.group(2))
        return calls


def dirid_count(calls):
    return sum(1 for p in calls if p.endswith("/.pfcrypt.dirid"))


class Durable(pfcfs.MountTestCase):
    def id_fds(self):
        """The daemon's open descriptors of id files (waiting for their sync)."""
        n = 0
        d = f"/proc/{self.m.daemon.pid}/fd"
        for fd in os.listdir(d):
            try:
                n += os.readlink(os.path.join(d, fd)).endswith("/.pfcrypt.dirid")
            except FileNotFoundError:
                pass
        return n

    def test_fsync_of_a_file_syncs_the_new_directory_ids_first(self):
        w = Watch(self.m.daemon.pid, self.m.tmp)
        try:
            os.makedirs(os.path.join(self.mnt, "a", "b"))
            p = os.path.join(self.mnt, "a", "b", "f")
            fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, b"durable")
            t0 = time.monotonic()
            os.fsync(fd)
            quick = time.monotonic() - t0 < DELAY_S / 2
            os.close(fd)
        finally:
            calls = w.stop()
        backing = pfcfs.backing_of(self.m, p)
        self.assertIn(backing, calls, f"the file's own fsync: {calls}")
        before = calls[:calls.index(backing)]
        self.assertEqual(dirid_count(before), 2, f"both new ids before the file: {calls}")
        if not quick:
            print("# slow machine: the thread may have synced the ids first", flush=True)

    def test_fsyncdir_syncs_the_new_directory_id_first(self):
        w = Watch(self.m.daemon.pid, self.m.tmp)
        try:
            d = os.path.join(self.mnt, "c")
            os.mkdir(d)
            fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(fd)
            os.close(fd)
        finally:
            calls = w.stop()
        self.assertEqual(dirid_count(calls), 1, calls)
        self.assertTrue(calls[0].endswith("/.pfcrypt.dirid"), f"the id before the directory: {calls}")

    def test_ids_are_synced_within_the_delay_without_any_fsync(self):
        w = Watch(self.m.daemon.pid, self.m.tmp)
        try:
            top = os.path.join(self.mnt, "burst")
            os.mkdir(top)
            most = 0
            for i in range(300):  # more than PFCD_DURABLE_MAX wait at once
                os.mkdir(os.path.join(top, f"d{i:03d}"))
                if i % 10 == 0:
                    most = max(most, self.id_fds())
            deadline = time.monotonic() + 10 * DELAY_S
            while time.monotonic() < deadline and self.id_fds() > 0:
                time.sleep(0.05)
            time.sleep(0.2)
        finally:
            calls = w.stop()
        self.assertGreater(most, 0, "ids wait for the thread (mkdir does not sync them)")
        self.assertLessEqual(most, 128, "at most PFCD_DURABLE_MAX wait")
        self.assertEqual(self.id_fds(), 0, "every id file closed after its sync")
        self.assertEqual(dirid_count(calls), 301, "each new id fsync'd once")
        # and the tree works: names in all of them
        for i in range(0, 300, 37):
            with open(os.path.join(top, f"d{i:03d}", "x"), "w") as f:
                f.write(str(i))
        self.m.remount()
        for i in range(0, 300, 37):
            with open(os.path.join(top, f"d{i:03d}", "x")) as f:
                self.assertEqual(f.read(), str(i))
        self.assertEqual(len(os.listdir(top)), 300)

    def test_unmount_syncs_what_waits(self):
        w = Watch(self.m.daemon.pid, self.m.tmp)
        d = os.path.join(self.mnt, "late")
        os.mkdir(d)
        self.m.unmount()  # well within the delay: the daemon syncs it on its way out
        calls = w.stop()
        self.m.mount()
        self.assertEqual(dirid_count(calls), 1, calls)
        self.assertTrue(os.path.isdir(d))


if __name__ == "__main__":
    taprun.main()
