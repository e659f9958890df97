#!/usr/bin/env python3
"""A full, a read-only and a permission-denying backing dir (issue 8 point 2).

- ENOSPC: the whole test dir (backing, keystore, mountpoint) sits on a size-limited tmpfs made by
  the test.  Files written (and fsync'd) first, some with a partial last block; then one file grows
  until a write fails: it must fail with ENOSPC, every byte of every write that returned reads back,
  the earlier files stay intact even after appends to them that hit the full disk (an append
  re-encrypts their partial last block), and the daemon keeps serving: listing, reading, deleting,
  then writing again once space is free.
- Read-only backing (a read-only bind mount of the backing dir): pfcryptfs either mounts and serves
  reads while every modification fails with EROFS, or refuses with one clear line; never a crash.
- Permission denied: root bypasses file modes, so the daemon runs as root *without*
  CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (setpriv --bounding-set), which makes the backing
  files' modes apply to it as to any owner.  A backing file of mode 000 must give EACCES when opened
  through the mount; its neighbours, listing and stat keep working.
"""
import errno
import os
import subprocess
import time
import unittest

import pfcfs
import taprun
from pfcfs import backing_of, errno_of, random_bytes as data, read_all
from pfcformat import BS


class TmpfsMount(pfcfs.Mount):
    """A pfcfs.Mount whose temp dir is a tmpfs of the given size."""

    def __init__(self, size, **kw):
        super().__init__(**kw)
        self.size = size
        self.tmpfs = False

    def _setup(self):
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0700",
                        "pfc-faults", self.tmp], check=True)
        self.tmpfs = True
        super()._setup()

    def _teardown(self, quiet=False):
        try:
            super()._teardown(quiet)
        finally:
            if self.tmpfs:
                self.tmpfs = False
                subprocess.run(["umount", self.tmp], check=False)
                os.rmdir(self.tmp)


class NoDacMount(pfcfs.Mount):
    """pfcryptfs as root without the capabilities that bypass file modes."""

    def _daemon_argv(self):
        return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search",
                "--inh-caps", "-dac_override,-dac_read_search", "--"] + super()._daemon_argv()


class FullDisk(unittest.TestCase):

    def test_enospc_keeps_earlier_files_and_the_daemon_serving(self):
        with TmpfsMount("24m") as m:
            m.expect_stderr(rb"^pfcryptfs: (warning|error): .*(No space|ENOSPC|space)")
            mnt = m.mnt
            early = {f"early{i}": data(f"e{i}", 100_000 + i * 1237) for i in range(8)}
            for name, d in early.items():
                with open(os.path.join(mnt, name), "wb") as f:
                    f.write(d)
                    os.fsync(f.fileno())
            big = os.path.join(mnt, "big")
            written, err = 0, None
            chunk = data("big", 1 << 16)
            with open(big, "wb", buffering=0) as f:
                while written < 64 << 20:
                    try:
                        f.write(chunk)
                    except OSError as e:
                        err = e.errno
                        break
                    written += len(chunk)
            self.assertEqual(err, errno.ENOSPC, f"after {written} bytes: {err}")
            self.assertGreater(written, 1 << 20)
            # Appends to the earlier files on the full disk: ENOSPC or success, never damage.
            for name, d in early.items():
                fd = os.open(os.path.join(mnt, name), os.O_WRONLY | os.O_APPEND)
                try:
                    n = os.write(fd, b"+" * (3 * BS))
                    early[name] = d + b"+" * n
                except OSError as e:
                    self.assertEqual(e.errno, errno.ENOSPC, name)
                finally:
                    os.close(fd)
            m.check_daemon()
            for name, d in early.items():
                got = read_all(os.path.join(mnt, name))
                self.assertEqual(len(got), len(d), name)
                self.assertTrue(got == d, f"{name}: contents changed")
            with open(big, "rb") as f:
                self.assertEqual(f.read(written), chunk * (written // len(chunk)))
            self.assertEqual(sorted(os.listdir(mnt)), sorted(list(early) + ["big"]))
            os.unlink(big)
            # The daemon closes the backing file at RELEASE, which the kernel sends after close(2)
            # returned: the space comes back a moment later (bounded wait, not a timing check).
            deadline = time.monotonic() + 30
            while os.statvfs(m.tmp).f_bavail * os.statvfs(m.tmp).f_frsize < written // 2:
                self.assertLess(time.monotonic(), deadline, "space of the deleted file not freed")
                time.sleep(0.05)
            with open(os.path.join(mnt, "after"), "wb") as f:
                f.write(data("after", 300_000))
                os.fsync(f.fileno())
            self.assertEqual(read_all(os.path.join(mnt, "after")), data("after", 300_000))
            m.check_daemon()
            m.remount()
            for name, d in early.items():
                self.assertTrue(read_all(os.path.join(mnt, name)) == d, name)


class ReadOnlyBacking(unittest.TestCase):

    def test_read_only_backing_serves_reads_or_refuses_clearly(self):
        with pfcfs.Mount() as m:
            with open(os.path.join(m.mnt, "kept"), "wb") as f:
                f.write(data("kept", 50_000))
            os.mkdir(os.path.join(m.mnt, "dir"))
            m.unmount()
            ro = os.path.join(m.tmp, "ro")
            mnt2 = os.path.join(m.tmp, "mnt2")
            os.mkdir(ro)
            os.mkdir(mnt2)
            subprocess.run(["mount", "--bind", m.backing, ro], check=True)
            try:
                subprocess.run(["mount", "-o", "remount,bind,ro", ro], check=True)
                self._mount_ro(m, ro, mnt2)
            finally:
                subprocess.run(["umount", ro], check=False)
                if not os.path.ismount(ro):
                    os.rmdir(ro)
            m.mount()
            self.assertEqual(read_all(os.path.join(m.mnt, "kept")), data("kept", 50_000))

    def _mount_ro(self, m, ro, mnt2):
        errp = os.path.join(m.tmp, "ro.stderr")
        with open(errp, "wb") as err:
            d = subprocess.Popen([pfcfs.binary("PFCRYPTFS", "pfcryptfs"), "-f", ro, mnt2,
                                  "--socket", m.keystore.sock], stdout=err, stderr=err,
                                 env=m.keystore.env)
        deadline = time.monotonic() + 30
        while not os.path.ismount(mnt2) and d.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not os.path.ismount(mnt2):
            rc = d.wait(timeout=30)
            msg = open(errp, "rb").read().decode(errors="replace")
            print(f"# refused: exit {rc}: {msg.strip()}")
            self.assertEqual(rc, 2, msg)
            self.assertEqual(len(msg.strip().splitlines()), 1, msg)
            self.assertRegex(msg.lower(), r"read-only")
            return
        try:
            print("# mounted a read-only backing dir")
            self.assertEqual(read_all(os.path.join(mnt2, "kept")), data("kept", 50_000))
            self.assertEqual(sorted(os.listdir(mnt2)), ["dir", "kept"])
            wrong = []
            for what, fn in (("create", lambda: open(os.path.join(mnt2, "new"), "wb")),
                             ("write", lambda: open(os.path.join(mnt2, "kept"), "r+b")),
                             ("mkdir", lambda: os.mkdir(os.path.join(mnt2, "d2"))),
                             ("unlink", lambda: os.unlink(os.path.join(mnt2, "kept"))),
                             ("rename", lambda: os.rename(os.path.join(mnt2, "dir"),
                                                          os.path.join(mnt2, "dir2"))),
                             ("truncate", lambda: os.truncate(os.path.join(mnt2, "kept"), 0))):
                e = errno_of(fn)
                if e != errno.EROFS:
                    wrong.append(f"{what}: {errno.errorcode.get(e, e)}")
            opts = open("/proc/mounts").read().split(f" {mnt2} ")[1].split()[1].split(",")
            if "ro" not in opts:
                wrong.append(f"mount options {','.join(opts)}: not read-only")
            self.assertEqual(read_all(os.path.join(mnt2, "kept")), data("kept", 50_000))
            self.assertEqual(wrong, [], "a read-only backing dir should give a read-only mount")
            self.assertEqual(d.poll(), None, "daemon alive")
        finally:
            subprocess.run(["fusermount3", "-u", mnt2], check=False)
            if d.wait(timeout=30) != 0:
                self.fail("daemon on the read-only backing exited non-zero: "
                          + open(errp, "rb").read().decode(errors="replace"))


class PermissionDenied(unittest.TestCase):

    def test_mode_000_backing_file_is_eacces_for_that_file_only(self):
        with NoDacMount() as m:
            m.expect_stderr(rb"^pfcryptfs: (warning|error): .*(Permission denied|EACCES)")
            for n in ("open", "locked", "other"):
                with open(os.path.join(m.mnt, n), "wb") as f:
                    f.write(data(n, 9000))
            locked = os.path.join(m.mnt, "locked")
            b = backing_of(m, locked)
            m.remount()          # nothing cached, no handle kept
            os.chmod(b, 0)
            try:
                self.assertEqual(errno_of(read_all, locked), errno.EACCES)
                self.assertEqual(errno_of(open, locked, "r+b"), errno.EACCES)
                self.assertEqual(os.stat(locked).st_size, 9000)
                self.assertEqual(sorted(os.listdir(m.mnt)), ["locked", "open", "other"])
                for n in ("open", "other"):
                    self.assertEqual(read_all(os.path.join(m.mnt, n)), data(n, 9000))
                with open(os.path.join(m.mnt, "new"), "wb") as f:
                    f.write(b"still writable")
                m.check_daemon()
            finally:
                os.chmod(b, 0o644)
            self.assertEqual(read_all(locked), data("locked", 9000))


if __name__ == "__main__":
    taprun.main()
