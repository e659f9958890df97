#!/usr/bin/env python3
"""Set-id bits are dropped on write, truncate and O_TRUNC as on a local file system.

pfcryptfs negotiates FUSE_HANDLE_KILLPRIV_V2 (fs/daemon/kernelio.c): the kernel no longer asks for
security.capability before each write and leaves dropping suid/sgid to the daemon, flagging the
requests of callers without CAP_FSETID.  Each case runs on the mount and on a plain directory side
by side and must give the same mode, read right after the operation (no stale cached mode).
"""
import os
import pwd
import subprocess

import pfcfs
import taprun

NOBODY = pwd.getpwnam("nobody").pw_uid


def as_nobody(argv):
    def drop():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    return subprocess.run(argv, preexec_fn=drop, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=30)


class KillPriv(pfcfs.MountTestCase):
    MOUNT_ARGS = ("-o", "allow_other")

    def setUp(self):
        super().setUp()
        # nobody must reach both trees
        for d in (self.m.tmp, self.mnt, self.scratch):
            os.chmod(d, 0o777)
        self.dirs = (self.mnt, self.scratch)

    def modes_after(self, name, mode, op, as_root=False):
        """Create NAME with MODE in both trees, run OP(path) as nobody (or root), return modes."""
        out = []
        for d in self.dirs:
            p = os.path.join(d, name)
            with open(p, "wb") as f:
                f.write(b"contents\n")
            os.chmod(p, mode)
            self.assertEqual(os.stat(p).st_mode & 0o7777, mode)
            op(p, as_root)
            out.append(os.stat(p).st_mode & 0o7777)
        return out

    @staticmethod
    def run_py(code, p, as_root):
        argv = ["/usr/bin/python3", "-c", code, p]
        r = subprocess.run(argv, timeout=30) if as_root else as_nobody(argv)
        if r.returncode != 0:
            raise AssertionError(f"{code!r} on {p} failed: {r.stderr!r}")

    def write(self, p, as_root):
        self.run_py("import sys\nwith open(sys.argv[1], 'ab') as f: f.write(b'x')", p, as_root)

    def write_rdwr(self, p, as_root):
        # O_RDWR handles write through the page cache; O_WRONLY ones bypass it (direct I/O)
        self.run_py("import os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\nos.pwrite(fd, b'y', 2)", p,
                    as_root)

    def truncate(self, p, as_root):
        self.run_py("import os, sys\nos.truncate(sys.argv[1], 3)", p, as_root)

    def open_trunc(self, p, as_root):
        self.run_py("import sys\nopen(sys.argv[1], 'wb').close()", p, as_root)

    def test_write_by_other_user_drops_setid(self):
        mnt, plain = self.modes_after("w", 0o6777, self.write)
        self.assertEqual(plain, 0o777)
        self.assertEqual(mnt, plain)

    def test_rdwr_write_by_other_user_drops_setid(self):
        mnt, plain = self.modes_after("rw", 0o6777, self.write_rdwr)
        self.assertEqual(plain, 0o777)
        self.assertEqual(mnt, plain)
        mnt, plain = self.modes_after("rwr", 0o6777, self.write_rdwr, as_root=True)
        self.assertEqual(plain, 0o6777)
        self.assertEqual(mnt, plain)

    def test_truncate_by_other_user_drops_setid(self):
        mnt, plain = self.modes_after("t", 0o6777, self.truncate)
        self.assertEqual(mnt, plain)

    def test_open_trunc_by_other_user_drops_setid(self):
        mnt, plain = self.modes_after("o", 0o6777, self.open_trunc)
        self.assertEqual(mnt, plain)

    def test_sgid_without_group_exec(self):
        # Linux drops it too when the writer is not in the file's group (nobody is not in root's)
        mnt, plain = self.modes_after("g", 0o6767, self.write)
        self.assertEqual(mnt, plain)
        # and keeps it for a writer in the group
        out = []
        for d in self.dirs:
            p = os.path.join(d, "g2")
            with open(p, "wb") as f:
                f.write(b"g")
            os.chown(p, 0, NOBODY)
            os.chmod(p, 0o2767)
            self.write(p, False)
            out.append(os.stat(p).st_mode & 0o7777)
        self.assertEqual(out[1], 0o2767)
        self.assertEqual(out[0], out[1])

    def test_root_write_keeps_setid(self):
        # CAP_FSETID: the kernel does not flag root's writes
        mnt, plain = self.modes_after("r", 0o6777, self.write, as_root=True)
        self.assertEqual(plain, 0o6777)
        self.assertEqual(mnt, plain)

    def test_chown_drops_setid(self):
        out = []
        for d in self.dirs:
            p = os.path.join(d, "c")
            with open(p, "wb") as f:
                f.write(b"c")
            os.chmod(p, 0o6755)
            os.chown(p, NOBODY, -1)
            out.append(os.stat(p).st_mode & 0o7777)
        self.assertEqual(out[0], out[1])

    def test_contents_survive(self):
        p = os.path.join(self.mnt, "data")
        with open(p, "wb") as f:
            f.write(b"a" * 10000)
        os.chmod(p, 0o4777)
        self.write(p, False)
        with open(p, "rb") as f:
            self.assertEqual(f.read(), b"a" * 10000 + b"x")
        self.assertEqual(os.stat(p).st_mode & 0o7777, 0o777)

    # fallocate: the kernel flags nothing with KILLPRIV_V2 (issue 17 point 3; xfstests
    # generic/683 fallocate, generic/684 punch hole): the daemon asks the caller's capabilities.
    @staticmethod
    def run_cmd(argv, as_root, without_fsetid=False):
        if without_fsetid:
            argv = ["setpriv", "--bounding-set=-fsetid", "--"] + argv
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30) if as_root else as_nobody(argv)
        if r.returncode != 0:
            raise AssertionError(f"{argv} failed: {r.stderr!r}")

    def fallocate(self, p, as_root):
        self.run_cmd(["fallocate", "-l", "20000", p], as_root)

    def punch(self, p, as_root):
        self.run_cmd(["fallocate", "-p", "-o", "0", "-l", "4096", p], as_root)

    def keep_size(self, p, as_root):
        self.run_cmd(["fallocate", "-n", "-o", "0", "-l", "65536", p], as_root)

    def test_fallocate_by_other_user_drops_setid(self):
        for name, op in (("fa", self.fallocate), ("fp", self.punch), ("fk", self.keep_size)):
            mnt, plain = self.modes_after(name, 0o6777, op)
            self.assertEqual(plain, 0o777, name)
            self.assertEqual(mnt, plain, name)
            mnt, plain = self.modes_after(name + "g", 0o6767, op)
            self.assertEqual(mnt, plain, name + " without group exec")

    def test_fallocate_by_root_keeps_setid(self):
        for name, op in (("ra", self.fallocate), ("rp", self.punch)):
            mnt, plain = self.modes_after(name, 0o6777, op, as_root=True)
            self.assertEqual(plain, 0o6777, name)
            self.assertEqual(mnt, plain, name)

    def test_fallocate_by_root_without_fsetid_drops_setid(self):
        # the capability decides, not the uid
        def op(p, as_root):
            self.run_cmd(["fallocate", "-p", "-o", "0", "-l", "4096", p], True, without_fsetid=True)
        mnt, plain = self.modes_after("nf", 0o6777, op, as_root=True)
        self.assertEqual(plain, 0o777)
        self.assertEqual(mnt, plain)

    def test_fallocate_contents_survive(self):
        p = os.path.join(self.mnt, "fdata")
        with open(p, "wb") as f:
            f.write(b"b" * 10000)
        os.chmod(p, 0o6777)
        self.run_cmd(["fallocate", "-p", "-o", "4096", "-l", "4096", p], False)
        with open(p, "rb") as f:
            self.assertEqual(f.read(), b"b" * 4096 + bytes(4096) + b"b" * (10000 - 8192))
        self.assertEqual(os.stat(p).st_mode & 0o7777, 0o777)


if __name__ == "__main__":
    taprun.main()
