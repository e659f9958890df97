#!/usr/bin/python3
"""Issue 9 point 2: changes made through A's mount and carried to B's backing dir by a real sync tool
(`rsync -a --delete`, `rclone sync` local to local) show up in B's mount without a remount, within
VISIBLE_S (2 s): listings, sizes, contents, symlinks, directories; files B had open or cached;
files replaced by rename-over (rsync's way of writing; rclone writes its copies in place).
The measured delays are printed.
"""
import errno
import os
import unittest

import taprun
from pfcfs import read_all as read
from synclib import PairMixin, wait_for, write

LONG = "l" * 200  # its encrypted name is longer than 255 bytes: a long-name entry + companion


def listing(d):
    return sorted(os.listdir(d))


class CarriedBySyncTool(PairMixin):
    """The scenario, run once per tool by the subclasses below (each with its own pair of mounts)."""

    TOOL = None

    def sync(self):
        getattr(self.pair, self.TOOL)()

    def visible(self, cond, what):
        dt = wait_for(cond, f"{self.TOOL}: {what}")
        print(f"# {self.TOOL}: {what}: visible in B after {dt:.2f}s", flush=True)

    def test_1_create_mkdir_symlink_long_name(self):
        os.mkdir(self.a("d"))
        write(self.a("d", "f1"), b"first version\n" * 1000)
        write(self.a("d", LONG), b"long name")
        write(self.a("d", "empty"), b"")
        os.symlink("f1", self.a("d", "ln"))
        os.makedirs(self.a("d", "sub", "deeper"))
        # B looks before the sync (the kernel may remember the answers: entries, negative lookups).
        self.assertFalse(os.path.exists(self.b("d")))
        self.sync()
        want = sorted(["f1", LONG, "empty", "ln", "sub"])
        self.visible(lambda: os.path.isdir(self.b("d")) and listing(self.b("d")) == want,
                     "new directory and its entries")
        self.assertEqual(read(self.b("d", "f1")), b"first version\n" * 1000)
        self.assertEqual(os.stat(self.b("d", "f1")).st_size, 14000)
        self.assertEqual(read(self.b("d", LONG)), b"long name")
        self.assertEqual(read(self.b("d", "empty")), b"")
        self.assertEqual(os.readlink(self.b("d", "ln")), "f1")
        self.assertEqual(listing(self.b("d", "sub")), ["deeper"])

    def test_2_edit_append_rename_delete(self):
        # B has f1 open and its pages cached, and g cached, before A changes them.
        write(self.a("d", "g"), b"g" * 9000)
        self.sync()
        self.visible(lambda: os.path.exists(self.b("d", "g")), "new file")
        held = open(self.b("d", "f1"), "rb")
        try:
            old = held.read()
            self.assertEqual(read(self.b("d", "g")), b"g" * 9000)
            # Same size, other bytes (an mtime/size check alone would see the size unchanged).
            write(self.a("d", "f1"), b"SECOND version\n"[:14] * 1000)
            with open(self.a("d", "g"), "ab") as f:
                f.write(b"+tail")
            os.rename(self.a("d", "empty"), self.a("d", "renamed"))
            os.unlink(self.a("d", LONG))
            os.rmdir(self.a("d", "sub", "deeper"))
            os.mkdir(self.a("d", "sub", "new"))
            os.unlink(self.a("d", "ln"))
            os.symlink("g", self.a("d", "ln"))
            self.sync()
            want = sorted(["f1", "g", "renamed", "ln", "sub"])
            self.visible(lambda: listing(self.b("d")) == want, "rename + delete in a listing")
            self.visible(lambda: read(self.b("d", "f1")) == b"SECOND version"[:14] * 1000,
                         "same-size edit of an open, cached file (new open)")
            self.visible(lambda: os.stat(self.b("d", "g")).st_size == 9005, "size after append")
            self.assertEqual(read(self.b("d", "g")), b"g" * 9000 + b"+tail")
            self.visible(lambda: os.readlink(self.b("d", "ln")) == "g", "symlink replaced")
            self.visible(lambda: listing(self.b("d", "sub")) == ["new"], "rmdir + mkdir")
            for name in (LONG, "empty"):  # B's kernel may have these entries cached
                self.visible(lambda: not os.path.lexists(self.b("d", name)), f"{name[:10]} gone")
            # The descriptor B opened before: it keeps working (the old or the new contents, as a
            # local file replaced under an open descriptor would), never an error or mixed bytes.
            held.seek(0)
            again = held.read()
            self.assertIn(again, (old, b"SECOND version"[:14] * 1000))
        finally:
            held.close()

    def test_3_rename_over(self):
        """A writes a temp file and renames it over the old one (what editors and sync tools do)."""
        write(self.a("d", "doc"), b"doc v1" * 700)
        self.sync()
        self.visible(lambda: os.path.exists(self.b("d", "doc")), "new file")
        ino_before = os.stat(self.b("d", "doc")).st_ino
        self.assertEqual(read(self.b("d", "doc")), b"doc v1" * 700)
        write(self.a("d", ".doc.tmp"), b"doc v2!" * 900)
        os.rename(self.a("d", ".doc.tmp"), self.a("d", "doc"))
        self.sync()
        self.visible(lambda: read(self.b("d", "doc")) == b"doc v2!" * 900, "rename-over")
        self.assertEqual(os.stat(self.b("d", "doc")).st_size, 6300)
        print(f"# {self.TOOL}: B's inode of doc {'changed' if os.stat(self.b('d', 'doc')).st_ino != ino_before else 'kept'}",
              flush=True)

    def test_4_b_writes_back(self):
        """The other direction (B -> A), with a file B changed while A had it cached."""
        self.assertEqual(read(self.a("d", "g")), b"g" * 9000 + b"+tail")
        with open(self.b("d", "g"), "r+b") as f:
            f.seek(4096)
            f.write(b"B")
        getattr(self.pair, self.TOOL)(self.pair.b, self.pair.a)
        want = bytearray(b"g" * 9000 + b"+tail")
        want[4096] = ord("B")
        self.visible(lambda: read(self.a("d", "g")) == bytes(want), "B's edit in A")

    def test_5_delete_tree(self):
        for root, dirs, files in os.walk(self.a("d"), topdown=False):
            for n in files:
                os.unlink(os.path.join(root, n))
            for n in dirs:
                p = os.path.join(root, n)
                (os.unlink if os.path.islink(p) else os.rmdir)(p)
        os.rmdir(self.a("d"))
        self.sync()
        self.visible(lambda: not os.path.exists(self.b("d")), "removed tree")
        self.assertEqual(listing(self.b()), [])
        e = None
        try:
            os.stat(self.b("d", "f1"))
        except OSError as x:
            e = x.errno
        self.assertEqual(e, errno.ENOENT)


class Rsync(CarriedBySyncTool, unittest.TestCase):
    TOOL = "rsync"


class Rclone(CarriedBySyncTool, unittest.TestCase):
    TOOL = "rclone"


if __name__ == "__main__":
    taprun.main()
