#!/usr/bin/env python3
"""Large requests, whose blocks the daemon encrypts and decrypts in parallel chunks
(fs/daemon/cryptpool.c: a range of >= 32 blocks is cut into runs done by a worker pool):

- 1 MiB writes (aligned, and unaligned ones that merge partial first/last blocks) read back exactly,
  through the page cache's readahead and through O_DIRECT reads that reach the daemon as one READ;
- a tampered block in the middle of a 1 MiB READ fails that whole READ with EIO and logs the
  block; with two tampered blocks in one READ the lower one is named (as the serial path does);
  every other range still reads right.

O_DIRECT on the FUSE file makes the kernel send the user's read as it is (up to max_read = 1 MiB)
instead of readahead-sized requests that it would retry page by page after an error.
"""
import errno
import mmap
import os
import random
import re
import unittest

import pfcfs
import taprun
from pfcfs import backing_of, drop_caches, flip
from pfcformat import BS, HEADER_SIZE, stored_block_size


MIB = 1 << 20


def blocks(seed, n):
    """n bytes, different in every block (a block swapped or misplaced would show)."""
    return random.Random(seed).randbytes(n)


def direct_read(path, off, n):
    """One O_DIRECT pread (off and n multiples of 4096): one READ request of n bytes."""
    buf = mmap.mmap(-1, n)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        got = os.preadv(fd, [buf], off)
        return bytes(buf[:got])
    finally:
        os.close(fd)
        buf.close()


class BigRequests(pfcfs.MountTestCase):

    def test_large_writes_read_back_exactly(self):
        p = os.path.join(self.mnt, "big")
        model = bytearray(blocks(1, 4 * MIB))
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for off in range(0, 4 * MIB, MIB):      # whole blocks: encrypted from the request
                os.pwrite(fd, model[off:off + MIB], off)
            # unaligned: merges the partial first and last blocks with what is there
            for off, n, seed in ((1000, MIB + 100, 2), (3 * MIB - 77, MIB, 3),
                                 (5 * MIB + 5, MIB - 10, 4)):
                new = blocks(seed, n)
                os.pwrite(fd, new, off)
                if off > len(model):
                    model.extend(bytes(off - len(model)))
                model[off:off + n] = new
        finally:
            os.close(fd)
        drop_caches()
        with open(p, "rb") as f:
            self.assertEqual(f.read(), bytes(model))
        size = len(model) // BS * BS
        for off in (0, MIB, 2 * MIB + 3 * BS, size - MIB):
            self.assertEqual(direct_read(p, off, MIB), bytes(model[off:off + MIB]), off)
        os.unlink(p)

    def test_tampered_block_inside_a_large_read_is_eio(self):
        p = os.path.join(self.mnt, "victim")
        content = blocks(5, 3 * MIB)
        with open(p, "wb") as f:
            f.write(content)
        b = backing_of(self.m, p)
        sbs = stored_block_size(self.m)
        bad, bad2 = 256 + 130, 256 + 200           # both in the second MiB, in different chunks
        self.m.expect_stderr(re.escape(b.encode()) + rb": block (%d|%d): " % (bad, bad2))
        flip(b, HEADER_SIZE + bad * sbs + 100)
        drop_caches()
        with self.assertRaises(OSError) as cm:
            direct_read(p, MIB, MIB)
        self.assertEqual(cm.exception.errno, errno.EIO)
        # the rest: the first and last MiB as whole READs, the bad MiB's other blocks one by one
        self.assertEqual(direct_read(p, 0, MIB), content[:MIB])
        self.assertEqual(direct_read(p, 2 * MIB, MIB), content[2 * MIB:])
        for blk in (256, bad - 1, bad + 1, 511):
            self.assertEqual(direct_read(p, blk * BS, BS), content[blk * BS:(blk + 1) * BS])
        with open(self.m.stderr_path, "rb") as f:
            self.assertIn(b"%s: block %d: authentication" % (b.encode(), bad), f.read())
        # two bad blocks in one READ: the lower one is reported
        flip(b, HEADER_SIZE + bad2 * sbs + 100)
        flip(b, HEADER_SIZE + bad * sbs + 100)     # bad is good again
        with self.assertRaises(OSError) as cm:
            direct_read(p, MIB, MIB)
        self.assertEqual(cm.exception.errno, errno.EIO)
        flip(b, HEADER_SIZE + bad * sbs + 100)     # both bad
        with open(self.m.stderr_path, "rb") as f:
            before = f.read()
        with self.assertRaises(OSError) as cm:
            direct_read(p, MIB, MIB)
        self.assertEqual(cm.exception.errno, errno.EIO)
        with open(self.m.stderr_path, "rb") as f:
            after = f.read()[len(before):]
        self.assertIn(b": block %d: " % bad, after)
        self.assertNotIn(b": block %d: " % bad2, after)
        os.unlink(p)                               # leave a clean volume for the fixture's check


if __name__ == "__main__":
    taprun.main()
