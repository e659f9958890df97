#!/usr/bin/env python3
"""Sparse files through the mount: SEEK_DATA/SEEK_HOLE, FALLOC_FL_PUNCH_HOLE, fallocate KEEP_SIZE.

SEEK_DATA and SEEK_HOLE must agree with each other (every offset is data or hole, so lseek-driven
copy loops terminate) and never call data a hole (a hole reads as zeros).  A punched range reads as
zeros, the file keeps its size, the backing file gets sparser, and the rest of the file is intact.
"""
import ctypes
import ctypes.util
import errno
import os

import pfcfs
import taprun
from pfcformat import BS


GIB = 1 << 30
FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]


def fallocate(fd, mode, off, length):
    if _libc.fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


backing_of = pfcfs.backing_of


def regions(fd, size):
    """The data regions as SEEK_DATA/SEEK_HOLE walk them (bounded)."""
    out, o = [], 0
    while o < size and len(out) < 1000:
        try:
            d = os.lseek(fd, o, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:
                break
            raise
        h = os.lseek(fd, d, os.SEEK_HOLE)
        if h <= d:
            raise AssertionError(f"SEEK_HOLE({d}) = {h}: no progress")
        out.append((d, h))
        o = h
    return out


class Sparse(pfcfs.MountTestCase):

    def test_seek_data_and_seek_hole_agree_and_holes_read_as_zeros(self):
        p = os.path.join(self.mnt, "sparse")
        fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            os.pwrite(fd, b"a" * 5000, 0)
            os.pwrite(fd, b"b" * 100, 40 * BS + 7)
            os.pwrite(fd, b"c" * 10, 5 * GIB)
            size = os.fstat(fd).st_size
            self.assertEqual(size, 5 * GIB + 10)
            regs = regions(fd, size)
            self.assertEqual(regs[0][0], 0)
            self.assertEqual(regs[-1][1], size, "the last data reaches the end")
            self.assertLessEqual(len(regs), 3)
            for o in (0, 4999, 5000, 20 * BS, 40 * BS + 50, GIB, 5 * GIB + 3):
                d = os.lseek(fd, o, os.SEEK_DATA)
                h = os.lseek(fd, o, os.SEEK_HOLE)
                self.assertTrue(d == o or h == o, f"{o}: neither data ({d}) nor hole ({h})")
                self.assertFalse(d == o and h == o, f"{o}: both data and hole")
            prev = 0
            for d, h in regs:                       # every hole really reads as zeros
                if d > prev:
                    n = min(d - prev, 1 << 20)
                    self.assertEqual(os.pread(fd, n, prev), bytes(n), f"hole at {prev}")
                    self.assertEqual(os.pread(fd, n, d - n), bytes(n), f"hole before {d}")
                prev = h
            self.assertEqual(os.pread(fd, 5000, 0), b"a" * 5000)
            self.assertEqual(os.pread(fd, 10, 5 * GIB), b"c" * 10)
            with self.assertRaises(OSError) as cm:
                os.lseek(fd, size, os.SEEK_DATA)
            self.assertEqual(cm.exception.errno, errno.ENXIO)
        finally:
            os.close(fd)
        os.unlink(p)                                # spare the fixture's check 5 GiB of holes

    def test_seek_data_lands_on_the_data_block_not_the_one_sharing_its_backing_block(self):
        # xfstests generic/490, 539: a stored block is BS + overhead bytes, so the backing
        # file system's data extent of a lone block starts inside the stored bytes of the
        # block before it (zeros there); that block is still a hole.
        for k in (1, 2, 3, 37, 1036, 1037):
            p = os.path.join(self.mnt, f"lone{k}")
            fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)  # write-only handle
            try:
                os.pwrite(fd, b"x" * BS, k * BS)
                os.pwrite(fd, b"y", (k + 3) * BS)
                size = (k + 3) * BS + 1
                for o in (0, (k - 1) * BS, k * BS - 1):
                    self.assertEqual(os.lseek(fd, o, os.SEEK_DATA), k * BS, f"block {k} from {o}")
                self.assertEqual(os.lseek(fd, 0, os.SEEK_HOLE), 0, f"block {k}")
                self.assertEqual(os.lseek(fd, k * BS, os.SEEK_HOLE), (k + 1) * BS, f"block {k}")
                self.assertEqual(os.lseek(fd, (k + 1) * BS, os.SEEK_DATA), (k + 3) * BS)
                self.assertEqual(os.lseek(fd, (k + 3) * BS, os.SEEK_HOLE), size)
            finally:
                os.close(fd)
            os.unlink(p)

    def test_seek_treats_a_punched_block_as_a_hole(self):
        p = os.path.join(self.mnt, "punch-seek")
        fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            os.pwrite(fd, b"d" * (12 * BS), 0)
            fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 5 * BS, 2 * BS)
            self.assertEqual(os.lseek(fd, 0, os.SEEK_HOLE), 5 * BS)
            self.assertEqual(os.lseek(fd, 5 * BS, os.SEEK_DATA), 7 * BS)
            self.assertEqual(os.lseek(fd, 6 * BS, os.SEEK_HOLE), 6 * BS)
            self.assertEqual(os.lseek(fd, 7 * BS, os.SEEK_HOLE), 12 * BS)
        finally:
            os.close(fd)
        os.unlink(p)

    def test_punch_hole_zeroes_the_range_and_keeps_the_rest(self):
        p = os.path.join(self.mnt, "punched")
        content = bytes((i * 7 + 3) % 251 for i in range(64 * BS + 123))
        with open(p, "wb") as f:
            f.write(content)
        b = backing_of(self.m, p)
        blocks_before = os.stat(b).st_blocks
        fd = os.open(p, os.O_RDWR)
        try:
            fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 3 * BS + 100, 40 * BS)
            fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 64 * BS + 5, 1000)  # tail
            want = bytearray(content)
            want[3 * BS + 100:43 * BS + 100] = bytes(40 * BS)
            want[64 * BS + 5:] = bytes(len(content) - 64 * BS - 5)
            self.assertEqual(os.fstat(fd).st_size, len(content), "KEEP_SIZE")
            self.assertEqual(os.pread(fd, len(content), 0), bytes(want))
            self.assertLessEqual(os.stat(b).st_blocks, blocks_before - 8 * 30,
                                 "the whole punched blocks left the backing file")
            fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 200 * BS)     # reserve: no size change
            self.assertEqual(os.fstat(fd).st_size, len(content))
            fallocate(fd, 0, 0, 70 * BS)                        # mode 0 grows the file
            self.assertEqual(os.fstat(fd).st_size, 70 * BS)
            self.assertEqual(os.pread(fd, 70 * BS, 0), bytes(want) + bytes(70 * BS - len(want)))
        finally:
            os.close(fd)
        self.m.remount()
        with open(p, "rb") as f:
            self.assertEqual(f.read(), bytes(want) + bytes(70 * BS - len(want)))

    def test_cp_sparse_copies_a_huge_sparse_file_exactly(self):
        p = os.path.join(self.mnt, "huge")
        fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o644)
        os.pwrite(fd, b"start", 0)
        os.pwrite(fd, b"end", 3 * GIB)
        os.close(fd)
        out = os.path.join(self.scratch, "copy")
        self.assertEqual(os.system(f"cp --sparse=always '{p}' '{out}'"), 0)
        self.assertEqual(os.path.getsize(out), 3 * GIB + 3)
        self.assertLess(os.stat(out).st_blocks * 512, 1 << 20, "the copy is sparse too")
        with open(out, "rb") as f:
            self.assertEqual(f.read(5), b"start")
            f.seek(3 * GIB)
            self.assertEqual(f.read(), b"end")
        os.unlink(out)
        os.unlink(p)


if __name__ == "__main__":
    taprun.main()
