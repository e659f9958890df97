#!/usr/bin/env python3
"""The daemon's life cycle (issue 5 points 5 and 7):

- restart: write through one mount, unmount, stop the keystore, start the keystore and a new daemon,
  and every byte (and the tree's names, links, xattrs, sizes, holes) reads back;
- SIGTERM (and SIGINT) end the daemon cleanly (exit 0, the mount goes away) and every write that
  returned success, including ones through a file still open, is in the backing files.
"""
import hashlib
import os
import signal
import unittest

import pfcfs
import taprun
from pfcfs import hashed_bytes as data
from pfcformat import BS


GIB = 1 << 30


def populate(root):
    """A tree exercising every kind of content; returns what snapshot() must find later."""
    sizes = {"empty": 0, "one": 1, "b4095": 4095, "b4096": 4096, "b4097": 4097,
             "big": (1 << 20) + 3, "d/nested/f": 70_000, "d/" + "L" * 250: 9000,
             "d/sp ace \u00e9": 123}
    for rel, n in sizes.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data(rel, n))
    # a sparse file: data, a hole of 3 blocks, data; and a file past 4 GiB
    with open(os.path.join(root, "sparse"), "wb") as f:
        f.write(b"head")
        f.seek(4 * BS + 17)
        f.write(b"tail")
    fd = os.open(os.path.join(root, "huge"), os.O_CREAT | os.O_WRONLY, 0o600)
    os.pwrite(fd, b"past four GiB", 5 * GIB)
    os.close(fd)
    os.link(os.path.join(root, "b4097"), os.path.join(root, "d", "hardlink"))
    os.symlink("../b4096", os.path.join(root, "d", "rel-link"))
    os.symlink("/no/such/target/" + "t" * 100, os.path.join(root, "dangling"))
    os.setxattr(os.path.join(root, "one"), "user.colour", b"blue" * 50)
    os.chmod(os.path.join(root, "b4095"), 0o640)
    os.utime(os.path.join(root, "b4096"), ns=(1_600_000_000_123_456_789, 1_600_000_000_987_654_321))


def snapshot(root):
    """Everything a user can observe of the tree (content hashed)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            entry = {"mode": st.st_mode, "nlink": st.st_nlink, "size": st.st_size}
            if os.path.islink(p):
                entry["target"] = os.readlink(p)
            elif os.path.isfile(p):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    if st.st_size > GIB:      # the huge sparse file: read where the data is
                        f.seek(5 * GIB - BS)
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                entry["sha256"] = h.hexdigest()
                entry["xattrs"] = {k: os.getxattr(p, k) for k in sorted(os.listxattr(p))}
                entry["mtime_ns"] = st.st_mtime_ns
            out[rel] = entry
    return out


class Lifecycle(unittest.TestCase):

    def test_restart_of_daemon_and_keystore_reads_every_byte_back(self):
        with pfcfs.Mount() as m:
            populate(m.mnt)
            before = snapshot(m.mnt)
            self.assertEqual(before["sparse"]["size"], 4 * BS + 21)
            with open(os.path.join(m.mnt, "sparse"), "rb") as f:
                self.assertEqual(f.read(), b"head" + bytes(4 * BS + 13) + b"tail")
            m.unmount()
            m.keystore.stop()
            m.keystore.restart()
            m.mount()
            after = snapshot(m.mnt)
            self.assertEqual(sorted(after), sorted(before))
            for rel in before:
                self.assertEqual(after[rel], before[rel], rel)
            with open(os.path.join(m.mnt, "huge"), "rb") as f:
                f.seek(5 * GIB)
                self.assertEqual(f.read(), b"past four GiB")
                f.seek(3 * GIB)
                self.assertEqual(f.read(BS), bytes(BS))
            # the backing file of the huge one stays sparse: far less than 5 GiB allocated
            self.assertLess(os.stat(os.path.join(m.mnt, "huge")).st_blocks * 512, 1 << 20)
            os.unlink(os.path.join(m.mnt, "huge"))   # spare the fixture's check 5 GiB of holes

    def _terminate(self, sig):
        with pfcfs.Mount() as m:
            populate(m.mnt)
            still_open = open(os.path.join(m.mnt, "open-writer"), "wb")
            still_open.write(data("open", 3 * BS + 5))
            still_open.flush()                     # write(2) returned: it must be on disk
            mid = os.open(os.path.join(m.mnt, "big"), os.O_WRONLY)
            os.pwrite(mid, b"changed in place", 5000)
            before = snapshot(m.mnt)
            m.daemon.send_signal(sig)
            rc = m.daemon.wait(timeout=30)
            m.daemon = None
            self.assertEqual(rc, 0, "clean exit on signal")
            self.assertFalse(os.path.ismount(m.mnt), "the mount is gone")
            for f in (still_open.close, lambda: os.close(mid)):
                try:
                    f()
                except OSError:
                    pass                           # the mount went away under them
            with open(m.stderr_path, "rb") as f:
                self.assertIn(b"keys wiped", f.read())
            self.assertEqual(m.unexpected_stderr(), [])
            m.mount()
            after = snapshot(m.mnt)
            for rel in before:
                self.assertEqual(after[rel], before[rel], rel)
            os.unlink(os.path.join(m.mnt, "huge"))

    def test_sigterm_exits_cleanly_with_every_write_on_disk(self):
        self._terminate(signal.SIGTERM)

    def test_sigint_exits_cleanly_with_every_write_on_disk(self):
        self._terminate(signal.SIGINT)


if __name__ == "__main__":
    taprun.main()
