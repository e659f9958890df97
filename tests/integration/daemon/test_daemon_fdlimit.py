#!/usr/bin/env python3
"""A large tree under a small descriptor limit (issue 28 points 1, 2, 4 and 7).

The daemon runs with RLIMIT_NOFILE 512 (prlimit), far below the number of files it is asked to
know: a 5,000-file tree written by tar and a 20,000-file directory, both walked cold (after a
remount, so the kernel knows nothing) by ls -lR, find, md5sum, du and rsync.  Every walk must end
with exit 0, no error on stderr, every entry listed, the copies equal to what was written, and no
complaint from the daemon (a "no descriptor left" line or any other would fail the test); four
walkers at once read every file right; a directory renamed, a file unlinked while open and a
directory removed while open through the mount keep working after every idle descriptor was
closed.  Before issue 28, the same daemon returned EMFILE to lookups and short listings with no
error.
"""
import errno
import hashlib
import os
import subprocess
import unittest

import pfcfs
import taprun

NOFILE = 512
TREE_DIRS = 50  # x 100 files = 5,000 files, in nested directories
TREE_FILES = 100
BIG_DIR = 20_000


def run(argv, cwd=None, timeout=600):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, check=False)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def make_plain_tree(root):
    """TREE_DIRS directories three levels deep, TREE_FILES files each, distinct content."""
    for d in range(TREE_DIRS):
        sub = os.path.join(root, f"top{d % 5}", f"mid{d % 10}", f"dir{d}")
        os.makedirs(sub, exist_ok=True)
        for f in range(TREE_FILES):
            with open(os.path.join(sub, f"file-{f}.c"), "wb") as fh:
                fh.write(hashlib.sha256(f"{d}/{f}".encode()).digest() * (1 + f % 7))
        os.symlink(f"file-{d % TREE_FILES}.c", os.path.join(sub, "link"))


def md5_of_tree(root):
    rc, out, err = run(["sh", "-c", "find . -type f -print0 | sort -z | xargs -0 md5sum"], cwd=root)
    return rc, out, err


class FdLimit(pfcfs.MountTestCase):
    NOFILE = NOFILE

    def cold(self):
        """Unmount and mount again: the kernel knows no inode of the volume any more."""
        self.m.remount()

    def test_a_5000_file_tree_by_tar_then_walked_cold(self):
        plain = os.path.join(self.scratch, "plain")
        make_plain_tree(plain)
        tarball = os.path.join(self.m.tmp, "tree.tar")
        rc, _, err = run(["tar", "-cf", tarball, "-C", plain, "."])
        self.assertEqual(rc, 0, err)
        dest = os.path.join(self.mnt, "tree")
        os.mkdir(dest)
        rc, _, err = run(["tar", "-xf", tarball, "-C", dest])
        self.assertEqual((rc, err), (0, ""), "tar -xf into the mount")
        self.cold()

        rc, out, err = run(["ls", "-lR", dest])
        self.assertEqual((rc, err), (0, ""), "cold ls -lR")
        files = [ln for ln in out.decode().splitlines() if ln.startswith("-")]
        self.assertEqual(len(files), TREE_DIRS * TREE_FILES, "ls -lR lists every file")

        self.cold()
        want = md5_of_tree(plain)
        got = md5_of_tree(dest)
        self.assertEqual(got[0], 0, got[2])
        self.assertEqual(got[2], "", "find | xargs md5sum")
        self.assertEqual(got[1], want[1], "every file's content, cold")

        self.cold()
        rc, _, err = run(["du", "-s", dest])
        self.assertEqual((rc, err), (0, ""), "cold du")

        self.cold()
        copy = os.path.join(self.scratch, "copy")
        rc, _, err = run(["rsync", "-a", dest + "/", copy + "/"])
        self.assertEqual((rc, err), (0, ""), "cold rsync -a out of the mount")
        self.assertEqual(pfcfs.manifest(copy, mtime_ns=False), pfcfs.manifest(plain, mtime_ns=False),
                         "the rsync copy equals what tar wrote")

    def test_a_20000_file_directory_is_listed_whole_cold(self):
        big = os.path.join(self.mnt, "big")
        os.mkdir(big)
        for i in range(BIG_DIR):
            fd = os.open(os.path.join(big, f"entry-{i:05d}"), os.O_CREAT | os.O_WRONLY, 0o644)
            if i % 1000 == 0:
                os.write(fd, b"x" * i)
            os.close(fd)
        self.cold()
        rc, out, err = run(["ls", "-l", big])
        self.assertEqual((rc, err), (0, ""), "cold ls -l")
        lines = out.decode().splitlines()
        self.assertEqual(len([ln for ln in lines if ln.startswith("-")]), BIG_DIR,
                         "ls -l lists every entry")
        self.cold()
        self.assertEqual(len(os.listdir(big)), BIG_DIR, "os.listdir, cold")
        self.cold()
        rc, out, err = run(["find", big, "-type", "f"])
        self.assertEqual((rc, err), (0, ""), "cold find")
        self.assertEqual(len(out.splitlines()), BIG_DIR, "find lists every entry")
        # A backup made with --delete: a short listing would delete files from it.
        backup = os.path.join(self.scratch, "backup")
        os.mkdir(backup)
        for i in range(0, BIG_DIR, 7):
            open(os.path.join(backup, f"entry-{i:05d}"), "wb").close()
        self.cold()
        rc, _, err = run(["rsync", "-a", "--delete", big + "/", backup + "/"])
        self.assertEqual((rc, err), (0, ""), "cold rsync -a --delete")
        self.assertEqual(sorted(os.listdir(backup)), sorted(f"entry-{i:05d}" for i in range(BIG_DIR)))
        self.assertEqual(os.path.getsize(os.path.join(backup, "entry-05000")), 5000)

    def evict(self, where):
        """A cold listing of more entries than the daemon may hold: every idle descriptor goes."""
        many = os.path.join(where, "many")
        if not os.path.isdir(many):
            os.mkdir(many)
            for i in range(2 * NOFILE):
                os.close(os.open(os.path.join(many, f"m{i}"), os.O_CREAT | os.O_WRONLY, 0o644))
        rc, out, err = run(["ls", "-l", many])
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(len([ln for ln in out.decode().splitlines() if ln.startswith("-")]),
                         2 * NOFILE)

    def test_renamed_unlinked_and_removed_objects_survive_eviction(self):
        top = os.path.join(self.mnt, "moves")
        os.makedirs(os.path.join(top, "a"))
        with open(os.path.join(top, "a", "f"), "wb") as f:
            f.write(b"in a")
        os.mkdir(os.path.join(top, "gone-dir"))
        dfd = os.open(os.path.join(top, "a"), os.O_RDONLY | os.O_DIRECTORY)
        gfd = os.open(os.path.join(top, "gone-dir"), os.O_RDONLY | os.O_DIRECTORY)
        ufd = os.open(os.path.join(top, "a", "unlinked"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            os.write(ufd, b"still here")
            os.rename(os.path.join(top, "a"), os.path.join(top, "b"))
            os.unlink(os.path.join(top, "b", "unlinked"))
            os.rmdir(os.path.join(top, "gone-dir"))
            self.evict(top)
            # a directory renamed through the mount is reopened under its new name
            self.assertEqual(os.fstat(dfd).st_ino, os.stat(os.path.join(top, "b")).st_ino)
            self.assertEqual(sorted(os.listdir(dfd)), ["f"])
            with open(os.open("f", os.O_RDONLY, dir_fd=dfd), "rb") as f:
                self.assertEqual(f.read(), b"in a")
            # an open unlinked file and a removed directory keep working through their handles
            self.assertEqual(os.fstat(ufd).st_nlink, 0)
            os.write(ufd, b", and more")
            self.assertEqual(os.pread(ufd, 100, 0), b"still here, and more")
            self.assertEqual(os.fstat(gfd).st_nlink, 0)
            self.evict(top)
            self.assertEqual(os.stat(os.path.join(top, "b", "f")).st_size, 4)
        finally:
            os.close(dfd)
            os.close(gfd)
            os.close(ufd)

    def test_parallel_walkers_under_the_limit(self):
        plain = os.path.join(self.scratch, "plain")
        make_plain_tree(plain)
        dest = os.path.join(self.mnt, "par")
        rc, _, err = run(["cp", "-a", plain, dest])
        self.assertEqual((rc, err), (0, ""))
        self.cold()
        want = md5_of_tree(plain)[1]
        walkers = [subprocess.Popen(["sh", "-c", "find . -type f -print0 | sort -z | xargs -0 md5sum"],
                                    cwd=dest, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                   for _ in range(4)]
        statter = subprocess.Popen(["ls", "-lR", dest], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        for w in walkers:
            out, err = w.communicate(timeout=600)
            self.assertEqual((w.returncode, err, out == want), (0, b"", True))
        _, err = statter.communicate(timeout=600)
        self.assertEqual((statter.returncode, err), (0, b""))

    def test_too_many_open_files_is_emfile_with_one_line_and_recovers(self):
        """Only open files can exhaust the daemon: each costs it a backing descriptor and holds its
        inode's.  The caller then gets EMFILE (never EIO), the log names the limit, and closing the
        files brings everything back."""
        top = os.path.join(self.mnt, "open-many")
        os.mkdir(top)
        self.m.expect_stderr(r"no descriptor left \(limit 512, every idle inode descriptor closed\)")
        held, err = [], None
        try:
            for i in range(NOFILE):
                try:
                    held.append(os.open(os.path.join(top, f"o{i}"), os.O_CREAT | os.O_RDWR, 0o600))
                except OSError as e:
                    err = e
                    break
            self.assertIsNotNone(err, "512 open files cannot all fit a 512-descriptor daemon")
            self.assertEqual(err.errno, errno.EMFILE, f"{err}")
            self.assertGreater(len(held), NOFILE // 4, "the reserve and the idle ones were used")
            os.write(held[0], b"still works")
            self.assertEqual(os.pread(held[0], 20, 0), b"still works")
        finally:
            for fd in held:
                os.close(fd)
        with open(self.m.stderr_path, "rb") as f:
            self.assertIn(b"no descriptor left (limit 512", f.read())
        self.assertEqual(len(os.listdir(top)), len(held))
        with open(os.path.join(top, "after"), "wb") as f:
            f.write(b"ok")
        rc, _, err = run(["ls", "-lR", self.mnt])
        self.assertEqual((rc, err), (0, ""), "everything works again once the files are closed")


if __name__ == "__main__":
    taprun.main()
