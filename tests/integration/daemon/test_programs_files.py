#!/usr/bin/env python3
"""Real programs moving trees onto the mount and back: tar, rsync, cp -a, cp --reflink=auto.

The source tree (pfcfs.make_tree) holds files around the block size, hard links within and across
directories, relative/absolute/dangling symlinks, a fifo, odd names, modes, nanosecond mtimes and a
user xattr.  Every copy is compared entry by entry with the source (pfcfs.manifest: type, mode, size,
sha256 or link target, mtime, hard-link grouping), on the mount and again after a remount.
"""
import hashlib
import os

import pfcfs
import taprun
from pfcfs import run


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Programs(pfcfs.MountTestCase):
    def setUp(self):
        super().setUp()
        self.src = pfcfs.make_tree(os.path.join(self.scratch, "src"))
        self.want = pfcfs.manifest(self.src)

    def assertTreeEqual(self, root, want=None, **kw):
        want = want if want is not None else pfcfs.manifest(self.src, **kw)
        got = pfcfs.manifest(root, **kw)
        if got != want:
            lines = [f"  {k}: got {got.get(k)} want {want.get(k)}"
                     for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)]
            self.fail(f"{root} differs from the source tree:\n" + "\n".join(lines[:20]))

    def test_tar_create_and_extract(self):
        # The same tree archived onto the mount and onto the plain disk gives the same bytes.
        args = ["--sort=name", "--format=posix", "--xattrs", "--pax-option=delete=atime,delete=ctime",
                "-C", self.src, "-cf"]
        on_mnt = os.path.join(self.mnt, "src.tar")
        on_plain = os.path.join(self.scratch, "src.tar")
        run(["tar"] + args + [on_mnt, "."])
        run(["tar"] + args + [on_plain, "."])
        self.assertEqual(sha256_file(on_mnt), sha256_file(on_plain))
        # Extract on the mount, from the archive on the mount.
        x = os.path.join(self.mnt, "x")
        os.mkdir(x)
        run(["tar", "--xattrs", "--xattrs-include=user.*", "-C", x, "-xpf", on_mnt])
        self.assertTreeEqual(x, xattrs=True)
        # And archive the extracted tree back out: same members, same checksums.
        back = os.path.join(self.scratch, "back")
        os.mkdir(back)
        run(["sh", "-c", 'tar --format=posix -C "$1" -cf - . | tar -C "$2" -xpf -', "sh", x, back])
        self.assertTreeEqual(back)
        self.m.remount()
        self.assertEqual(sha256_file(on_mnt), sha256_file(on_plain))
        self.assertTreeEqual(x, xattrs=True)
        listing = run(["tar", "-tvf", on_mnt])
        self.assertIn("./sub/deep/big", listing)

    def test_tar_sparse_file(self):
        """GNU tar -S records holes and recreates them on extraction (lseek past EOF, ftruncate)."""
        sp = os.path.join(self.src, "sparse")
        with open(sp, "wb") as f:
            f.write(b"head")
            f.seek(3 << 20)
            f.write(b"middle")
            f.truncate(8 << 20)
        want = pfcfs.manifest(self.src)
        ar = os.path.join(self.mnt, "sparse.tar")
        run(["tar", "-S", "--format=posix", "-C", self.src, "-cf", ar, "."])
        x = os.path.join(self.mnt, "sx")
        os.mkdir(x)
        run(["tar", "-S", "-C", x, "-xpf", ar])
        self.assertTreeEqual(x, want)
        st = os.stat(os.path.join(x, "sparse"))
        self.assertLess(st.st_blocks * 512, 1 << 20, "the extracted sparse file is not sparse")
        self.m.remount()
        self.assertTreeEqual(x, want)

    def test_rsync_in_and_back_out(self):
        dst = os.path.join(self.mnt, "r")
        run(["rsync", "-aHX", self.src + "/", dst + "/"])
        self.assertTreeEqual(dst, xattrs=True)
        # A checksum dry run finds nothing to do, in both directions.
        for a, b in ((self.src, dst), (dst, self.src)):
            out = run(["rsync", "-aHXnc", "--itemize-changes", a + "/", b + "/"])
            self.assertEqual(out.strip(), "", f"rsync -anc {a} -> {b} wants to change:\n{out}")
        back = os.path.join(self.scratch, "rback")
        run(["rsync", "-aHX", dst + "/", back + "/"])
        self.assertTreeEqual(back, xattrs=True)
        run(["diff", "-r", "--no-dereference", "-x", "fifo", self.src, back])  # diff cannot read fifos
        # An update: rsync rewrites changed files in place of the old ones.
        with open(os.path.join(self.src, "mid"), "r+b") as f:
            f.seek(4096)
            f.write(b"changed")
        run(["rsync", "-aHX", "--delete", self.src + "/", dst + "/"])
        # The delta algorithm writing into the existing file (reads and writes at offsets).
        with open(os.path.join(self.src, "sub", "deep", "big"), "r+b") as f:
            for off in (0, 4095, 300_000, (1 << 20) - 3):
                f.seek(off)
                f.write(b"delta!")
        run(["rsync", "-aHX", "--inplace", "--no-whole-file", self.src + "/", dst + "/"])
        self.m.remount()
        out = run(["rsync", "-aHXnc", "--itemize-changes", self.src + "/", dst + "/"])
        self.assertEqual(out.strip(), "", f"after remount rsync wants to change:\n{out}")
        self.assertTreeEqual(dst, xattrs=True)

    def test_cp_a_and_reflink_auto(self):
        a = os.path.join(self.mnt, "cpa")
        r = os.path.join(self.mnt, "cpr")
        run(["cp", "-a", self.src, a])
        run(["cp", "-a", "--reflink=auto", self.src, r])
        self.assertTreeEqual(a, xattrs=True)
        self.assertTreeEqual(r, xattrs=True)
        # Mount to mount (cp may try copy_file_range / FICLONE here) and mount to plain.
        aa = os.path.join(self.mnt, "cpaa")
        run(["cp", "-a", "--reflink=auto", a, aa])
        self.assertTreeEqual(aa, xattrs=True)
        out = os.path.join(self.scratch, "cpout")
        run(["cp", "-a", r, out])
        self.assertTreeEqual(out, xattrs=True)
        self.m.remount()
        for t in (a, r, aa):
            self.assertTreeEqual(t, xattrs=True)
        # Hard links stay one file: a write through one name shows in the others.
        with open(os.path.join(aa, "mid"), "r+b") as f:
            f.write(b"HL")
        with open(os.path.join(aa, "sub", "mid.hardlink"), "rb") as f:
            self.assertEqual(f.read(2), b"HL")


if __name__ == "__main__":
    taprun.main()
