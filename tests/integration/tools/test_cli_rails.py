#!/usr/bin/env python3
"""Mount safety rails (issue 29), on real mounts.

pfcryptfs (and so `pfcrypt mount`, `mount -t fuse.pfcryptfs`, fstab) refuses, with one line naming
both paths and exit 2, a mountpoint inside the backing dir, a backing dir inside the mountpoint and
the same directory for both, also when a symlink or a bind mount hides it; a backing dir is
mounted read-write at most once (a lock the kernel drops when the daemon dies: SIGKILL never blocks
the next mount; two concurrent mounts: exactly one wins; the refusal names the mountpoint and pid);
`-o ro` mounts it again; the OFD lock on pfcrypt.conf that NFS forwards to the server is held.
`pfcrypt check` reports, and `pfcrypt status` warns about, mount points and plaintext in the
backing tree.

Runs in a private mount namespace (unshare, as test_desktop_install.py) so that its bind mounts
and tmpfs never outlive it outside.  Needs root and /dev/fuse.
"""
import errno
import fcntl
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import unittest

if os.environ.get("PFC_RAILS_NS") != "1":
    os.environ["PFC_RAILS_NS"] = "1"
    os.execv("/usr/bin/unshare", ["unshare", "--mount", "--propagation", "private",
                                  sys.executable] + sys.argv)

import taprun
from clienv import WAIT_S, CliEnv, alive, program, daemon_pids

CONF_LOCK_OFF = 0x7FFFFFFF - 1  # fs/daemon/rails.c RAILS_CONF_LOCK_OFF
RAILS_WAIT_S = 5.0  # fs/daemon/rails.c RAILS_WAIT_MS: how long a held lock without a mount waits


def wait_mount(path, want=True, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while os.path.ismount(path) != want and time.monotonic() < deadline:
        time.sleep(0.02)
    return os.path.ismount(path) == want


def ofd_lock(fd, start, length):
    """Try an OFD write lock (as the daemon's, forwarded by NFS): True if taken."""
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET,
                                                         start, length, 0))
        return True
    except OSError as ex:
        if ex.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise


class RailsEnv(CliEnv):
    def __exit__(self, *exc):
        for m in reversed(getattr(self, "binds", [])):
            subprocess.run(["umount", "-l", m], capture_output=True)
        return super().__exit__(*exc)

    def bind(self, src, dst, *opts):
        os.makedirs(dst, exist_ok=True)
        subprocess.run(["mount", "--bind", src, dst], check=True)
        if opts:
            subprocess.run(["mount", "-o", "remount,bind," + ",".join(opts), dst], check=True)
        self.binds = getattr(self, "binds", []) + [dst]

    def fs(self, *args):
        """pfcryptfs run directly (what mount.fuse3 runs), in the foreground."""
        return self.run([program("PFCRYPTFS")] + list(args) + ["--socket", self.ks.sock],
                        timeout=60)


class Refused(unittest.TestCase):
    def setUp(self):
        self.e = RailsEnv().__enter__()
        self.addCleanup(self.e.__exit__, None, None, None)
        self.e.init_volume()

    def refused(self, backing, mnt, *expect):
        """Both ways in (pfcrypt mount, pfcryptfs -f) refuse with exit 2 and one line naming
        backing and mnt as given and containing expect; nothing mounted, nothing written."""
        os.makedirs(mnt, exist_ok=True)
        before = sorted(os.listdir(self.e.backing))
        for how, p in (("pfcrypt mount", self.e.pfcrypt("mount", backing, mnt)),
                       ("pfcryptfs", self.e.fs(backing, mnt, "-f"))):
            lines = p.stderr.splitlines()
            self.assertEqual(p.returncode, 2, f"{how}: {p.stdout}{p.stderr}")
            self.assertEqual(len(lines), 1, f"{how}: {p.stderr}")
            self.assertTrue(lines[0].startswith("pfcryptfs: "), lines[0])
            for want in (backing, mnt) + expect:
                self.assertIn(want, lines[0], how)
            self.assertFalse(os.path.ismount(mnt), how)
        self.assertEqual(sorted(os.listdir(self.e.backing)), before)
        return lines[0]

    def test_mountpoint_inside_backing(self):
        mnt = os.path.join(self.e.backing, "plain")
        self.refused(self.e.backing, mnt, "is inside the backing directory", "not supported")
        self.refused(self.e.backing, os.path.join(self.e.backing, "a", "b", "c"),
                     "is inside the backing directory")
        os.rmdir(mnt)

    def test_backing_inside_mountpoint(self):
        outer = os.path.join(self.e.tmp, "outer")
        backing = os.path.join(outer, "vol")
        os.mkdir(outer)
        self.e.init_volume(backing)
        self.e.backing = backing  # what refused() watches
        self.refused(backing, outer, "backing directory", "is inside the mountpoint")
        self.refused(backing, self.e.tmp, "is inside the mountpoint")

    def test_same_directory(self):
        self.refused(self.e.backing, self.e.backing, "are the same directory")
        self.refused(self.e.backing, self.e.backing + "/.", "are the same directory")

    def test_via_symlinked_path(self):
        link = os.path.join(self.e.tmp, "link")
        os.symlink(self.e.backing, link)
        self.refused(self.e.backing, os.path.join(link, "sub"), "is inside the backing")
        self.refused(link, link, "are the same directory")
        outer_link = os.path.join(self.e.tmp, "tmplink")
        os.symlink(self.e.tmp, outer_link)
        self.refused(os.path.join(outer_link, "backing"), self.e.tmp, "is inside the mountpoint")
        os.rmdir(os.path.join(self.e.backing, "sub"))

    def test_via_bind_mount(self):
        # the backing dir bind-mounted elsewhere: no path prefix shows the mountpoint is in it
        bound = os.path.join(self.e.tmp, "bound")
        self.e.bind(self.e.backing, bound)
        self.refused(self.e.backing, os.path.join(bound, "sub"), "is inside the backing")
        self.refused(bound, self.e.backing, "are the same directory")
        os.rmdir(os.path.join(self.e.backing, "sub"))
        # the mountpoint's parent bind-mounted: the backing dir (by its own path) is inside it
        outer = os.path.join(self.e.tmp, "outer")
        backing = os.path.join(outer, "vol")
        os.mkdir(outer)
        self.e.init_volume(backing)
        self.e.backing = backing
        other = os.path.join(self.e.tmp, "other")
        self.e.bind(outer, other)
        self.refused(backing, other, "is inside the mountpoint")

    def test_sibling_with_a_common_prefix_mounts(self):
        # not a string-prefix comparison: BACKING-mnt next to BACKING is fine
        mnt = self.e.backing + "-mnt"
        self.e.mount(self.e.backing, mnt)
        with open(os.path.join(mnt, "f"), "w") as f:
            f.write("x")
        self.e.umount(mnt)


class OneMount(unittest.TestCase):
    def setUp(self):
        self.e = RailsEnv().__enter__()
        self.addCleanup(self.e.__exit__, None, None, None)
        self.e.init_volume()
        self.m1 = os.path.join(self.e.tmp, "m1")
        self.m2 = os.path.join(self.e.tmp, "m2")
        os.mkdir(self.m1)
        os.mkdir(self.m2)

    def assert_refused_naming(self, p, mnt, pid):
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        lines = p.stderr.splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn(f"{self.e.backing} is already mounted on {mnt}", lines[0])
        self.assertIn(f"pfcryptfs pid {pid}", lines[0])

    def test_second_rw_mount_refused_naming_the_first_ro_allowed(self):
        self.e.mount(self.e.backing, self.m1)
        (pid,) = daemon_pids(self.m1)
        with open(os.path.join(self.m1, "doc"), "w") as f:
            f.write("written in m1")
        t0 = time.monotonic()
        self.assert_refused_naming(self.e.pfcrypt("mount", self.e.backing, self.m2), self.m1, pid)
        self.assertLess(time.monotonic() - t0, RAILS_WAIT_S, "a visible mount: refused at once")
        self.assert_refused_naming(self.e.fs(self.e.backing, self.m2, "-f"), self.m1, pid)
        self.assert_refused_naming(self.e.fs(self.e.backing, self.m2, "-f", "-o", "ro,rw"),
                                   self.m1, pid)
        self.assertFalse(os.path.ismount(self.m2))
        # a read-only second mount is allowed, and sees the first one's files
        p = self.e.pfcrypt("mount", self.e.backing, self.m2, "-o", "ro")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(wait_mount(self.m2))
        self.e.mounts.append(self.m2)
        with open(os.path.join(self.m2, "doc")) as f:
            self.assertEqual(f.read(), "written in m1")
        with self.assertRaises(OSError) as cm:
            open(os.path.join(self.m2, "new"), "w").close()
        self.assertEqual(cm.exception.errno, errno.EROFS)
        self.e.umount(self.m2)
        self.e.umount(self.m1)
        # the lock goes with the daemon: mounting again right after the unmount works
        for _ in range(3):
            self.e.mount(self.e.backing, self.m2)
            self.e.umount(self.m2)

    def test_sigkilled_daemon_never_blocks_the_next_mount(self):
        d = subprocess.Popen([program("PFCRYPTFS"), self.e.backing, self.m1, "-f", "--socket",
                              self.e.ks.sock], env=self.e.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.e.mounts.append(self.m1)  # the dead mount, removed at exit (fusermount3 -uz)
        try:
            self.assertTrue(wait_mount(self.m1))
            with open(os.path.join(self.m1, "survivor"), "w") as f:
                f.write("still here")
            d.send_signal(signal.SIGKILL)
            d.wait(WAIT_S)
            t0 = time.monotonic()
            p = self.e.pfcrypt("mount", self.e.backing, self.m2)
            took = time.monotonic() - t0
        finally:
            if d.poll() is None:
                d.kill()
                d.wait()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertTrue(wait_mount(self.m2))
        self.e.mounts.append(self.m2)
        # no lock left to wait for (a held lock would take RAILS_WAIT_S, then refuse)
        self.assertLess(took, RAILS_WAIT_S / 2, f"mount after SIGKILL took {took:.2f}s")
        with open(os.path.join(self.m2, "survivor")) as f:
            self.assertEqual(f.read(), "still here")
        self.e.umount(self.m2)

    def test_two_concurrent_mounts_exactly_one_wins(self):
        for rnd in range(5):
            go = threading.Barrier(2)
            procs = [None, None]

            def start(i, mnt):
                go.wait()
                procs[i] = subprocess.Popen(
                    [program("PFCRYPTFS"), self.e.backing, mnt, "-f", "--socket",
                     self.e.ks.sock], env=self.e.env, stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE, text=True)

            ts = [threading.Thread(target=start, args=(i, m))
                  for i, m in enumerate((self.m1, self.m2))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            self.e.mounts += [self.m1, self.m2]
            try:
                deadline = time.monotonic() + WAIT_S
                while all(p.poll() is None for p in procs) and time.monotonic() < deadline:
                    time.sleep(0.01)
                done = [i for i, p in enumerate(procs) if p.poll() is not None]
                self.assertEqual(len(done), 1, f"round {rnd}: exactly one daemon exits")
                loser, winner = done[0], 1 - done[0]
                wmnt = (self.m1, self.m2)[winner]
                lmnt = (self.m1, self.m2)[loser]
                err = procs[loser].stderr.read()
                self.assertEqual(procs[loser].returncode, 2, err)
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertIn(f"pfcryptfs pid {procs[winner].pid}", err)
                self.assertIn("mounted read-write at most once", err)
                self.assertTrue(wait_mount(wmnt), f"round {rnd}: the winner mounts")
                self.assertFalse(os.path.ismount(lmnt))
                time.sleep(0.2)
                self.assertIsNone(procs[winner].poll(), "the winner keeps running")
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.send_signal(signal.SIGTERM)
                        p.wait(WAIT_S)
                    p.stderr.close()
                self.e.mounts = []
            self.assertTrue(wait_mount(self.m1, False) and wait_mount(self.m2, False))

    def test_config_replaced_by_rename_while_mounted_still_refused(self):
        # rewrap and sync clients replace pfcrypt.conf by rename: the lock is on the directory
        self.e.mount(self.e.backing, self.m1)
        (pid,) = daemon_pids(self.m1)
        conf = os.path.join(self.e.backing, "pfcrypt.conf")
        shutil.copy2(conf, conf + ".new")
        os.rename(conf + ".new", conf)
        self.assert_refused_naming(self.e.pfcrypt("mount", self.e.backing, self.m2), self.m1, pid)
        self.e.umount(self.m1)

    def test_config_lock_for_network_storage(self):
        # What NFS forwards to the server: the OFD lock on one byte of pfcrypt.conf past its end.
        conf = os.path.join(self.e.backing, "pfcrypt.conf")
        fd = os.open(conf, os.O_RDWR)
        try:
            self.e.mount(self.e.backing, self.m1)
            self.assertFalse(ofd_lock(fd, CONF_LOCK_OFF, 1), "the daemon holds the byte")
            self.assertTrue(ofd_lock(fd, 0, 4096), "the config's own bytes are not locked")
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_UNLCK, 0, 0,
                                                             4096, 0))
            self.e.umount(self.m1)
            self.assertTrue(wait_mount(self.m1, False))
            deadline = time.monotonic() + WAIT_S
            while not ofd_lock(fd, CONF_LOCK_OFF, 1) and time.monotonic() < deadline:
                time.sleep(0.02)  # the daemon exits just after the unmount
            # now "another machine" holds it: the mount is refused naming the config
            p = self.e.pfcrypt("mount", self.e.backing, self.m2)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
            self.assertIn(f"{conf} is locked", p.stderr)
            self.assertIn("another machine", p.stderr)
            self.assertFalse(os.path.ismount(self.m2))
        finally:
            os.close(fd)
        self.e.mount(self.e.backing, self.m2)
        self.e.umount(self.m2)

    def test_read_only_backing_mounts_read_only_twice(self):
        ro = os.path.join(self.e.tmp, "ro-backing")
        self.e.mount(self.e.backing, self.m1)
        with open(os.path.join(self.m1, "doc"), "w") as f:
            f.write("on a read-only backing")
        self.e.umount(self.m1)
        self.e.bind(self.e.backing, ro, "ro")
        for mnt in (self.m1, self.m2):  # no lock file to create, no lock to take
            self.e.mount(ro, mnt)
            with open(os.path.join(mnt, "doc")) as f:
                self.assertEqual(f.read(), "on a read-only backing")
            with self.assertRaises(OSError) as cm:
                open(os.path.join(mnt, "new"), "w").close()
            self.assertEqual(cm.exception.errno, errno.EROFS)
        self.e.umount(self.m2)
        self.e.umount(self.m1)


class Warnings(unittest.TestCase):
    def setUp(self):
        self.e = RailsEnv().__enter__()
        self.addCleanup(self.e.__exit__, None, None, None)
        self.e.init_volume()
        self.e.mkfiles(self.e.backing, {"docs/a.txt": b"a", "top.txt": b"top"}, dirs=["box"])

    def enc_dirs(self):
        """Backing names of docs (holds a file) and box (empty: only its id file)."""
        dirs = [n for n in os.listdir(self.e.backing)
                if os.path.isdir(os.path.join(self.e.backing, n))]
        self.assertEqual(len(dirs), 2, dirs)
        return sorted(dirs, key=lambda n: -len(os.listdir(os.path.join(self.e.backing, n))))

    def status(self):
        p = self.e.pfcrypt("status", self.e.backing, "--json")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return json.loads(p.stdout), p.stderr

    def test_clean_volume_has_no_warnings(self):
        st, err = self.status()
        self.assertEqual(st["warnings"], [])
        self.assertEqual(err, "")
        p = self.e.pfcrypt("check", self.e.backing)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_mount_points_and_plaintext_are_named(self):
        b = self.e.backing
        docs, box = self.enc_dirs()  # two directories with encrypted names
        # plaintext dropped into the backing tree by mistake: a file, a directory (reported
        # once, not each file in it), and one inside an encrypted directory
        with open(os.path.join(b, "notes.txt"), "w") as f:
            f.write("secret plaintext")
        os.makedirs(os.path.join(b, "Photos", "2026"))
        with open(os.path.join(b, "Photos", "2026", "img.jpg"), "w") as f:
            f.write("jpeg")
        with open(os.path.join(b, docs, "todo.md"), "w") as f:
            f.write("plaintext")
        # a plaintext name that only looks like a conflict copy (no encoding before the marker)
        with open(os.path.join(b, "report (conflicted copy).txt"), "w") as f:
            f.write("plaintext")
        # mount points: a tmpfs on a plaintext-named dir (another st_dev), a bind mount of the
        # same file system on an encrypted-named one (same st_dev: found as a mount root)
        os.mkdir(os.path.join(b, "usb"))
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", os.path.join(b, "usb")], check=True)
        self.e.binds = [os.path.join(b, "usb")]
        with open(os.path.join(b, "usb", "leak.txt"), "w") as f:
            f.write("not walked")
        other = os.path.join(self.e.tmp, "other")
        os.makedirs(os.path.join(other, "deep"))
        self.e.bind(other, os.path.join(b, box))
        want = {f"{b}/notes.txt": "not a pfcrypt name", f"{b}/Photos": "not a pfcrypt name",
                f"{b}/{docs}/todo.md": "not a pfcrypt name",
                f"{b}/report (conflicted copy).txt": "not a pfcrypt name",
                f"{b}/usb": "a mount point inside the volume",
                f"{b}/{box}": "a mount point inside the volume"}

        st, err = self.status()
        got = {w["backing_path"]: w["cause"] for w in st["warnings"]}
        self.assertEqual(set(got), set(want), st["warnings"])
        for path, cause in want.items():
            self.assertIn(cause, got[path])
            (line,) = [ln for ln in err.splitlines() if ln.split(": ")[2] == path]
            self.assertTrue(line.startswith("pfcrypt: warning: "), line)
        self.assertEqual(len(err.splitlines()), len(want), err)
        self.assertEqual(st["files"]["total"] - st["files"]["unreadable"], 2, st["files"])
        p = self.e.pfcrypt("status", self.e.backing)  # text: the same lines on stderr
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, err)

        p = self.e.pfcrypt("check", b, "--json")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        probs = {x["backing_path"]: x["cause"] for x in json.loads(p.stdout)["problems"]}
        self.assertEqual(set(probs), set(want), probs)
        for path in (f"{b}/usb", f"{b}/{box}"):
            self.assertIn("a mount point inside the volume", probs[path])
        p = self.e.pfcrypt("check", b)
        self.assertEqual(p.returncode, 1)
        self.assertNotIn("leak.txt", p.stdout + p.stderr)
        self.assertNotIn("deep", p.stdout + p.stderr)
        for path in want:
            self.assertIn(path + ": ", p.stdout)


if __name__ == "__main__":
    taprun.main()
