#!/usr/bin/env python3
"""Symlink targets up to PATH_MAX - 1 (4095) bytes (FORMAT.md 8.2, issue 28 item 5), on backing dirs
on ext4, xfs, btrfs and tmpfs (each a loop device or tmpfs mounted in this test's own temp dir).

Targets of 721..4095 bytes are sealed in a companion file under BACKING/.pfcrypt.symlinks/ and the
backing symlink holds a 55-character reference, so every stored target fits xfs's limit (< 1024).
Per file system: create / readlink / lstat size at the boundaries (1, 720, 721, 1000, 3024, 3025,
4095), ENAMETOOLONG at 4096; the pjdfstest symlink/03.t cases (a target of PATH_MAX - 1 bytes, and a
symlink created at a path of PATH_MAX - 1 bytes, both work; PATH_MAX fails with ENAMETOOLONG); rename
within and across directories; hard links to a long symlink (the companion stays until the last
link goes); unlink and rename-over remove the companion; rsync -a and tar copies inside the mount;
a remount reads everything back; no backing symlink target reaches 1024 bytes; and the fixture's
`pfcrypt check` at the end must find the volume clean (no orphan, no missing companion).

Loop devices: the test needs them (losetup, mkfs.xfs from xfsprogs, mkfs.btrfs from btrfs-progs,
mkfs.ext4), as listed in tests/deps.txt; a missing tool or loop device is a FAILURE, not a skip.
"""
import errno
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import pfcfs
import taprun
from pfcformat import SYMLINKS_DIR

PATH_MAX = 4096
COMPANIONS = SYMLINKS_DIR
LENGTHS = (1, 15, 720, 721, 1000, 1009, 3024, 3025, 4095)


def target(n, seed=0):
    """A target of exactly n bytes: path-like, with bytes of every kind but NUL."""
    alphabet = bytes(b for b in range(1, 256) if b != 0)
    out = bytearray()
    i = seed
    while len(out) < n:
        out += b"d%03d/" % (i % 1000) if i % 7 else bytes([alphabet[(i * 37) % len(alphabet)]])
        i += 1
    return bytes(out[:n])


def dirgen_max(root, length):
    """pjdfstest's dirgen_max: a relative path of exactly `length` bytes of 255-byte components
    (the last one shorter), whose directories are made under root; returns the path (bytes)."""
    sizes, left = [], length
    while left > 255:
        sizes.append(255)
        left -= 256  # a component and its slash
    if left == 0:  # would end in a slash: one byte less before it, one byte after it
        sizes[-1] -= 1
        left = 1
    sizes.append(left)
    comps = [(b"%c" % (ord("a") + i % 26)) * n for i, n in enumerate(sizes)]
    path = b"/".join(comps)
    assert len(path) == length, (len(path), length)
    d = os.path.dirname(path)
    if d:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            cur = fd
            for c in d.split(b"/"):
                try:
                    os.mkdir(c, dir_fd=cur)
                except FileExistsError:
                    pass
                nxt = os.open(c, os.O_RDONLY | os.O_DIRECTORY, dir_fd=cur)
                if cur != fd:
                    os.close(cur)
                cur = nxt
            if cur != fd:
                os.close(cur)
        finally:
            os.close(fd)
    return path


def run(argv, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{argv} exited {p.returncode}: {p.stdout.decode(errors='replace')}")
    return p.stdout


class BackingFs:
    """A file system of the given type mounted in a temp dir of this test (loop device or tmpfs)."""

    def __init__(self, fstype):
        self.fstype = fstype
        self.tmp = tempfile.mkdtemp(prefix=f"pfc-symfs-{fstype}-")
        self.mnt = os.path.join(self.tmp, "fs")
        self.dev = None
        os.mkdir(self.mnt)
        try:
            if fstype == "tmpfs":
                run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", self.mnt])
                return
            mkfs = {"ext4": ["mkfs.ext4", "-q", "-F"], "xfs": ["mkfs.xfs", "-q", "-f"],
                    "btrfs": ["mkfs.btrfs", "-q", "-f"]}[fstype]
            if shutil.which(mkfs[0]) is None:
                raise AssertionError(f"{mkfs[0]} not found (tests/deps.txt: xfsprogs, btrfs-progs, "
                                     "e2fsprogs): this test must not skip")
            img = os.path.join(self.tmp, "img")
            with open(img, "wb") as f:
                f.truncate(320 << 20)  # xfs wants at least 300 MiB
            self.dev = run(["losetup", "--find", "--show", img]).decode().strip()
            run(mkfs + [self.dev])
            run(["mount", self.dev, self.mnt])
        except BaseException:
            self.close()
            raise

    def close(self):
        if os.path.ismount(self.mnt):
            subprocess.run(["umount", self.mnt], check=False)
        if self.dev:
            subprocess.run(["losetup", "-d", self.dev], check=False)
            self.dev = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def mount_on(fs):
    """A pfcfs.Mount whose temp dir (backing, mountpoint, keystore) is on the file system fs."""
    old = tempfile.tempdir
    tempfile.tempdir = fs.mnt
    try:
        return pfcfs.Mount().__enter__()
    finally:
        tempfile.tempdir = old


def backing_links(backing):
    """Every backing symlink (path, target) of the volume."""
    out = []
    for dirpath, dirs, files in os.walk(backing):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            if os.path.islink(p):
                out.append((p, os.readlink(p)))
    return out


def companions(backing):
    d = os.path.join(backing, COMPANIONS)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


class LongSymlinks:
    """The cases, run on one backing file system type (subclasses set FSTYPE)."""

    FSTYPE = None
    fs = m = None

    @classmethod
    def setUpClass(cls):
        cls.fs = BackingFs(cls.FSTYPE)
        try:
            cls.m = mount_on(cls.fs)
        except BaseException:
            cls.fs.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.m is not None:
                cls.m.__exit__(None, None, None)  # unmounts, runs pfcrypt check (must be clean)
        finally:
            cls.fs.close()

    def setUp(self):
        self.mnt = self.m.mnt.encode()
        self.d = os.path.join(self.mnt, self.id().rsplit(".", 1)[-1].encode())
        os.mkdir(self.d)

    def tearDown(self):
        self.m.check_daemon()

    def p(self, *names):
        return os.path.join(self.d, *names)

    def test_boundaries_readlink_lstat_and_4096_fails(self):
        for n in LENGTHS:
            t = target(n, n)
            os.symlink(t, self.p(b"l%d" % n))
        for n in LENGTHS:
            t = target(n, n)
            self.assertEqual(os.readlink(self.p(b"l%d" % n)), t, n)
            self.assertEqual(os.lstat(self.p(b"l%d" % n)).st_size, n, n)
        with self.assertRaises(OSError) as cm:
            os.symlink(b"x" * PATH_MAX, self.p(b"too-long"))
        self.assertEqual(cm.exception.errno, errno.ENAMETOOLONG)
        self.assertFalse(os.path.lexists(self.p(b"too-long")))
        # one companion per long target (> 720 bytes), none for the short ones
        longs = sum(1 for n in LENGTHS if n > 720)
        self.assertGreaterEqual(len(companions(self.m.backing)), longs)
        for p, t in backing_links(self.m.backing):
            self.assertLess(len(t), 1024, p)
        # the 4095-byte one survives a remount (read from the backing dir)
        self.m.remount()
        self.assertEqual(os.readlink(self.p(b"l4095")), target(4095, 4095))
        self.assertEqual(os.lstat(self.p(b"l4095")).st_size, 4095)

    def test_pjdfstest_symlink_03(self):
        # symlink/03.t: ENAMETOOLONG only once a path name exceeds PATH_MAX - 1 bytes
        nx = dirgen_max(self.d, PATH_MAX - 1 - len(self.d) - 1)
        full = os.path.join(self.d, nx)
        self.assertEqual(len(full), PATH_MAX - 1)
        os.symlink(full, self.p(b"test"))
        self.assertEqual(os.readlink(self.p(b"test")), full)
        self.assertEqual(os.lstat(self.p(b"test")).st_size, PATH_MAX - 1)
        os.unlink(self.p(b"test"))
        os.symlink(b"test", full)  # the new link's own path is PATH_MAX - 1 bytes
        self.assertEqual(os.readlink(full), b"test")
        os.unlink(full)
        with self.assertRaises(OSError) as cm:
            os.symlink(full + b"x", self.p(b"test"))
        self.assertEqual(cm.exception.errno, errno.ENAMETOOLONG)
        with self.assertRaises(OSError) as cm:
            os.symlink(b"test", full + b"x")
        self.assertEqual(cm.exception.errno, errno.ENAMETOOLONG)

    def test_rename_within_and_across_directories(self):
        t = target(4095, 1)
        os.mkdir(self.p(b"a"))
        os.mkdir(self.p(b"b"))
        os.mkdir(self.p(b"a", b"deep"))
        os.symlink(t, self.p(b"a", b"l"))
        os.rename(self.p(b"a", b"l"), self.p(b"a", b"l2"))
        self.assertEqual(os.readlink(self.p(b"a", b"l2")), t)
        os.rename(self.p(b"a", b"l2"), self.p(b"b", b"l3"))
        self.assertEqual(os.readlink(self.p(b"b", b"l3")), t)
        os.rename(self.p(b"b", b"l3"), self.p(b"a", b"deep", b"n" * 200))  # long name too
        self.assertEqual(os.readlink(self.p(b"a", b"deep", b"n" * 200)), t)
        os.rename(self.p(b"a"), self.p(b"b", b"moved"))  # move the directory holding it
        self.m.remount()
        self.assertEqual(os.readlink(self.p(b"b", b"moved", b"deep", b"n" * 200)), t)
        self.assertEqual(os.lstat(self.p(b"b", b"moved", b"deep", b"n" * 200)).st_size, 4095)

    def test_hard_links_unlink_and_rename_over_remove_the_companion(self):
        before = set(companions(self.m.backing))
        t = target(2000, 2)
        os.mkdir(self.p(b"x"))
        os.symlink(t, self.p(b"l"))
        comp = set(companions(self.m.backing)) - before
        self.assertEqual(len(comp), 1, "one companion per long symlink")
        os.link(self.p(b"l"), self.p(b"x", b"hard"), follow_symlinks=False)
        self.assertEqual(os.lstat(self.p(b"l")).st_nlink, 2)
        os.unlink(self.p(b"l"))
        self.assertEqual(set(companions(self.m.backing)) - before, comp, "a link is left")
        self.assertEqual(os.readlink(self.p(b"x", b"hard")), t)
        os.unlink(self.p(b"x", b"hard"))
        self.assertEqual(set(companions(self.m.backing)) - before, set(), "last link gone")
        # rename over a long symlink: the replaced one's companion goes, the moved one's stays
        os.symlink(target(3000, 3), self.p(b"victim"))
        os.symlink(target(1500, 4), self.p(b"mover"))
        self.assertEqual(len(set(companions(self.m.backing)) - before), 2)
        os.rename(self.p(b"mover"), self.p(b"victim"))
        self.assertEqual(len(set(companions(self.m.backing)) - before), 1)
        self.assertEqual(os.readlink(self.p(b"victim")), target(1500, 4))
        # a long symlink replaced by a file, and a short symlink replaced: nothing else changes
        with open(self.p(b"f"), "wb") as f:
            f.write(b"file")
        os.rename(self.p(b"f"), self.p(b"victim"))
        self.assertEqual(set(companions(self.m.backing)) - before, set())
        os.symlink(b"short", self.p(b"s"))
        os.symlink(target(900, 5), self.p(b"keep"))
        os.rename(self.p(b"keep"), self.p(b"s"))
        self.assertEqual(os.readlink(self.p(b"s")), target(900, 5))
        self.assertEqual(len(set(companions(self.m.backing)) - before), 1)
        os.unlink(self.p(b"s"))
        self.assertEqual(set(companions(self.m.backing)) - before, set())

    def test_a_conflict_copy_keeps_the_shared_companion(self):
        before = set(companions(self.m.backing))
        t = target(2500, 6)
        os.symlink(t, self.p(b"l"))
        comp = set(companions(self.m.backing)) - before
        # what Syncthing leaves when both sides replaced the symlink: a sibling, same reference
        (orig, ref), = [(p, r) for p, r in backing_links(self.m.backing)
                        if os.readlink(p) == r and r.startswith("pfc.symlink.")
                        and os.path.basename(os.path.dirname(p)) != COMPANIONS
                        and any(r.endswith(c) for c in comp)]
        os.symlink(ref, orig + ".sync-conflict-20261207-101010-ABCDEFG")
        time.sleep(1.1)  # the directory's entries are cached for the entry timeout
        copy = self.p(b"l.sync-conflict-20261207-101010-ABCDEFG")
        self.assertEqual(os.readlink(copy), t)
        os.unlink(self.p(b"l"))
        self.assertEqual(set(companions(self.m.backing)) - before, comp, "the copy still uses it")
        self.assertEqual(os.readlink(copy), t)
        # the copy renamed over a new original, then removed: the companion goes with the last one
        os.symlink(b"short", self.p(b"l"))
        os.rename(copy, self.p(b"l"))
        self.assertEqual(os.readlink(self.p(b"l")), t)
        os.unlink(self.p(b"l"))
        self.assertEqual(set(companions(self.m.backing)) - before, set())

    def test_rsync_and_tar_copies(self):
        src = self.p(b"src")
        os.mkdir(src)
        os.mkdir(os.path.join(src, b"sub"))
        links = {b"a": target(4095, 6), b"b": target(800, 7), b"sub/c": target(10, 8),
                 b"sub/d": target(3500, 9)}
        for n, t in links.items():
            os.symlink(t, os.path.join(src, n))
        run(["rsync", "-a", src + b"/", self.p(b"rsynced") + b"/"])
        run(["tar", "-C", src, "-cf", self.p(b"t.tar"), "."])
        os.mkdir(self.p(b"untarred"))
        run(["tar", "-C", self.p(b"untarred"), "-xf", self.p(b"t.tar")])
        self.m.remount()
        for copy in (b"rsynced", b"untarred"):
            for n, t in links.items():
                p = os.path.join(self.p(copy), n)
                self.assertEqual(os.readlink(p), t, (copy, n))
                self.assertEqual(os.lstat(p).st_size, len(t), (copy, n))


class Ext4(LongSymlinks, unittest.TestCase):
    FSTYPE = "ext4"


class Xfs(LongSymlinks, unittest.TestCase):
    FSTYPE = "xfs"


class Btrfs(LongSymlinks, unittest.TestCase):
    FSTYPE = "btrfs"


class Tmpfs(LongSymlinks, unittest.TestCase):
    FSTYPE = "tmpfs"


if __name__ == "__main__":
    taprun.main()
