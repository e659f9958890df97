#!/usr/bin/env python3
"""Mount safety as a gocryptfs user expects it (issue 19 items 1 and 2): pfcryptfs refuses a mountpoint
that is not empty (-o nonempty allows it), one that is already a mount point (no stacking), and a
stale mount whose daemon is gone says so and names `pfcrypt umount -z`; `pfcrypt umount` refuses
a directory where nothing is mounted ("not mounted") and a mount that is not pfcrypt's, and a busy
unmount prints one line naming the processes that hold it."""
import json
import os
import signal
import subprocess
import time

import taprun
import unittest
from clienv import KEY, CliEnv, daemon_pids
from pfcfs import backing_of


def one_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    return len(lines) == 1


class MountSafety(unittest.TestCase):

    def test_non_empty_mountpoint_is_refused_unless_nonempty(self):
        with CliEnv() as e:
            e.init_volume()
            mnt = os.path.join(e.tmp, "full")
            os.mkdir(mnt)
            with open(os.path.join(mnt, "mine.txt"), "w") as f:
                f.write("do not hide me")
            p = e.pfcrypt("mount", e.backing, mnt)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn("not empty", p.stderr)
            self.assertIn("-o nonempty", p.stderr)
            self.assertTrue(one_line(p.stderr), p.stderr)
            self.assertFalse(os.path.ismount(mnt))
            p = e.pfcrypt("mount", e.backing, mnt, "-o", "nonempty")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            e.mounts.append(mnt)
            self.assertTrue(os.path.ismount(mnt))
            self.assertEqual(os.listdir(mnt), [])
            e.umount(mnt)
            self.assertEqual(os.listdir(mnt), ["mine.txt"])

    def test_no_stacking_on_an_existing_mount(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            other = os.path.join(e.tmp, "backing2")
            e.init_volume(other)
            p = e.pfcrypt("mount", other, mnt)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn("already a mount point", p.stderr)
            self.assertIn("fuse.pfcryptfs", p.stderr)
            t = os.path.join(e.tmp, "tmpfs")
            os.mkdir(t)
            subprocess.run(["mount", "-t", "tmpfs", "none", t], check=True)
            try:
                p = e.pfcrypt("mount", other, t)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn("already a mount point (tmpfs)", p.stderr)
                # and umount leaves a mount that is not pfcrypt's alone
                p = e.pfcrypt("umount", t)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn("not a pfcrypt mount (tmpfs", p.stderr)
                self.assertTrue(os.path.ismount(t))
            finally:
                subprocess.run(["umount", t])

    def test_stale_mount_is_named_and_umount_z_clears_it(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            os.kill(daemon_pids(mnt)[0], signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.stat(mnt)
                except OSError as err:
                    if err.errno == 107:          # ENOTCONN
                        break
                time.sleep(0.05)
            p = e.pfcrypt("mount", e.backing, mnt)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn(f"stale mount at {mnt}", p.stderr)
            self.assertIn(f"pfcrypt umount -z {mnt}", p.stderr)
            self.assertNotIn("Transport endpoint", p.stderr)
            p = e.pfcrypt("umount", "-z", mnt)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            e.mounts.remove(mnt)
            self.assertFalse(os.path.ismount(mnt))
            e.mount(e.backing, mnt)          # and it mounts again

    def test_umount_of_what_is_not_mounted_says_so(self):
        with CliEnv() as e:
            d = os.path.join(e.tmp, "plain")
            os.mkdir(d)
            p = e.pfcrypt("umount", d)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn(f"{d}: not mounted", p.stderr)
            self.assertNotIn("Invalid argument", p.stderr)
            self.assertTrue(one_line(p.stderr), p.stderr)

    def test_busy_umount_names_the_holders_and_lazy_detaches(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            os.mkdir(os.path.join(mnt, "sub"))
            holder = subprocess.Popen(["sleep", "60"], cwd=os.path.join(mnt, "sub"))
            try:
                p = e.pfcrypt("umount", mnt)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn("busy", p.stderr)
                self.assertIn(f"{holder.pid} (sleep)", p.stderr)
                self.assertTrue(one_line(p.stderr), p.stderr)
                self.assertTrue(os.path.ismount(mnt))
                p = e.pfcrypt("umount", "-z", mnt)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                e.mounts.remove(mnt)
                self.assertFalse(os.path.ismount(mnt))
            finally:
                holder.kill()
                holder.wait()


class MountpointForBacking(unittest.TestCase):
    """status, check and rewrap take the mountpoint of a mounted volume (issue 19 item 2)."""

    def test_status_check_rewrap_accept_the_mountpoint(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            for i in range(3):
                with open(os.path.join(mnt, f"f{i}"), "wb") as f:
                    f.write(b"x" * 100)
            p = e.pfcrypt("status", mnt, check=True)
            self.assertIn(f"volume:       {os.path.realpath(e.backing)}", p.stdout)
            self.assertIn(f"mounted:      {mnt}", p.stdout)
            self.assertNotIn("rewrap:", p.stdout)
            e.pfcrypt("rotate", "--key", KEY, check=True)
            with open(os.path.join(mnt, "after"), "wb") as f:   # a pre-generated old-version key
                f.write(b"y")
            p = e.pfcrypt("status", mnt, "--json", check=True)
            st = json.loads(p.stdout)
            self.assertEqual(st["mounted_at"], mnt)
            self.assertGreaterEqual(st["files"]["not_primary"], 3)
            p = e.pfcrypt("status", mnt, check=True)
            self.assertRegex(p.stdout, r"rewrap: +\d+ files not under the primary version: run "
                                       f"'pfcrypt rewrap {mnt}'")
            p = e.pfcrypt("rewrap", mnt, check=True)
            self.assertIn("rewrapped", p.stdout)
            p = e.pfcrypt("check", mnt)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            p = e.pfcrypt("status", e.backing, "--json", check=True)
            self.assertEqual(json.loads(p.stdout)["files"]["not_primary"], 0)
            e.umount(mnt)
            p = e.pfcrypt("status", e.backing, check=True)
            self.assertIn("mounted:      no", p.stdout)
            # the (now empty) mountpoint is no volume: the message says so
            p = e.pfcrypt("status", mnt)
            self.assertEqual(p.returncode, 2)
            self.assertIn("no volume here", p.stderr)


class Atime(unittest.TestCase):
    """-o noatime: reading a file through the mount leaves its atime alone (xfstests generic/120:
    the mount's atime is the backing file's, which the daemon's own reads used to update)."""

    def read_through(self, e, mnt, name, *opts):
        e.pfcrypt("mount", e.backing, mnt, *opts, check=True)
        e.mounts.append(mnt)
        try:
            with open(os.path.join(mnt, name), "rb") as f:
                f.read()
            return os.stat(os.path.join(mnt, name)).st_atime
        finally:
            e.umount(mnt)

    def test_noatime_mount_keeps_atime_on_reads(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            with open(os.path.join(mnt, "f"), "wb") as f:
                f.write(b"a" * 50000)
            b = backing_of(e, os.path.join(mnt, "f"))
            e.umount(mnt)
            old = os.stat(b).st_mtime - 86400          # older than mtime: relatime would update
            os.utime(b, (old, os.stat(b).st_mtime))
            seen = self.read_through(e, mnt, "f", "-o", "noatime")
            self.assertEqual(os.stat(b).st_atime, old, "the backing atime moved under noatime")
            self.assertEqual(seen, old, "the mount shows another atime under noatime")
            with open("/proc/self/mounts") as m:
                backing_noatime = any("noatime" in l.split()[3] for l in m
                                      if b.startswith(l.split()[1].rstrip("/") + "/"))
            if not backing_noatime:                    # and without it, relatime does update it
                self.read_through(e, mnt, "f")
                self.assertGreater(os.stat(b).st_atime, old)


if __name__ == "__main__":
    taprun.main()
