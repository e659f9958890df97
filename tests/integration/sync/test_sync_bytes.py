#!/usr/bin/python3
"""Issue 9 point 1: a sync client re-sends what changed, so a small edit must change few backing
bytes.  Measured with `cmp -l` on copies of the backing file taken before and after; the counts are
printed as TAP comments.

- a 1-byte write in the middle of a 100 MiB file: one stored block + the header's generation field;
- appending 10 bytes: only the last block(s) (and the generation field);
- `pfcrypt rotate` + `pfcrypt rewrap`: only header bytes (the wrapped-key field).
"""
import os
import shutil
import subprocess

import pfcfs
import taprun
from pfcfs import backing_of
from synclib import cmp_count
from pfcformat import BS, GEN_FIELD, HEADER_SIZE as HEADER, WRAPPED_FIELD

MIB = 1 << 20


def ranges(offsets):
    """[(first, last)] runs of consecutive offsets, for readable failure messages."""
    out = []
    for o in sorted(offsets):
        if out and o == out[-1][1] + 1:
            out[-1][1] = o
        else:
            out.append([o, o])
    return [tuple(r) for r in out]


class FewChangedBytes(pfcfs.MountTestCase):
    def snapshot(self, backing, tag):
        dst = os.path.join(self.scratch, tag)
        shutil.copyfile(backing, dst)
        return dst

    def stored_block_size(self, backing, blocks):
        size = os.path.getsize(backing)
        self.assertEqual((size - HEADER) % blocks, 0, "backing size not header + whole blocks")
        return (size - HEADER) // blocks

    def test_one_byte_write_in_100_mib(self):
        path = os.path.join(self.mnt, "big")
        chunk = bytes(range(256)) * (MIB // 256)
        with open(path, "wb") as f:
            for _ in range(100):
                f.write(chunk)
        b = backing_of(self.m, path)
        sbs = self.stored_block_size(b, 100 * MIB // BS)
        before = self.snapshot(b, "before")
        off = 50 * MIB + 1234  # middle of block 12800
        with open(path, "r+b") as f:
            f.seek(off)
            f.write(b"\xff")
        after = self.snapshot(b, "after")
        changed = cmp_count(before, after)
        blk = off // BS
        blk_range = range(HEADER + blk * sbs, HEADER + (blk + 1) * sbs)
        outside = [o for o in changed if o not in GEN_FIELD and o not in blk_range]
        print(f"# 1-byte write in 100 MiB: {len(changed)} backing bytes changed "
              f"(stored block {sbs} bytes, generation field {len(GEN_FIELD)}): {ranges(changed)}")
        self.assertEqual(outside, [], f"bytes outside block {blk} and the generation field changed: "
                         f"{ranges(outside)[:10]}")
        self.assertTrue(any(o in blk_range for o in changed), "the block did not change")
        self.assertTrue(any(o in GEN_FIELD for o in changed), "the generation did not move")
        self.assertEqual(os.path.getsize(before), os.path.getsize(after))
        with open(path, "rb") as f:
            f.seek(off - 1)
            self.assertEqual(f.read(3), bytes([chunk[(off - 1) % MIB], 0xFF, chunk[(off + 1) % MIB]]))

        # Append 10 bytes: the 100 MiB are whole blocks, so one new block and the generation field.
        with open(path, "ab") as f:
            f.write(b"0123456789")
        appended = self.snapshot(b, "appended")
        old_len = os.path.getsize(after)
        changed = cmp_count(after, appended)
        grown = os.path.getsize(appended) - old_len
        outside = [o for o in changed if o not in GEN_FIELD]
        print(f"# append 10 bytes to 100 MiB: {len(changed)} bytes changed in place, {grown} bytes "
              f"added at the end: {ranges(changed)}")
        self.assertEqual(outside, [], f"existing bytes changed by an append: {ranges(outside)[:10]}")
        self.assertEqual(grown, sbs - BS + 10)
        os.unlink(path)

    def test_append_to_a_partial_last_block(self):
        path = os.path.join(self.mnt, "partial")
        with open(path, "wb") as f:
            f.write(b"p" * (10 * BS + 100))
        b = backing_of(self.m, path)
        size0 = os.path.getsize(b)
        # 10 whole stored blocks + a stored block of 100 bytes: size0 = H + 10 sbs + 100 + (sbs - BS)
        sbs = (size0 - HEADER + BS - 100) // 11
        overhead = sbs - BS
        self.assertEqual(size0, HEADER + 10 * sbs + 100 + overhead)
        before = self.snapshot(b, "p-before")
        with open(path, "ab") as f:
            f.write(b"0123456789")
        after = self.snapshot(b, "p-after")
        changed = cmp_count(before, after)
        last = range(HEADER + 10 * sbs, size0)
        outside = [o for o in changed if o not in GEN_FIELD and o not in last]
        print(f"# append 10 bytes to a 10-block + 100-byte file: {len(changed)} bytes changed in "
              f"place, {os.path.getsize(after) - size0} added: {ranges(changed)}")
        self.assertEqual(outside, [], f"bytes before the last block changed: {ranges(outside)[:10]}")
        self.assertEqual(os.path.getsize(after), size0 + 10)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"p" * (10 * BS + 100) + b"0123456789")
        os.unlink(path)

    def test_rewrap_changes_only_header_bytes(self):
        path = os.path.join(self.mnt, "rewrapped")
        with open(path, "wb") as f:
            f.write(os.urandom(5 * BS + 7))
        with open(path, "rb") as f:
            want = f.read()
        b = backing_of(self.m, path)
        before = self.snapshot(b, "r-before")
        ks = self.m.keystore
        ks.ctl("rotate", "--key", pfcfs.KEY_NAME, what="pfcrypt rotate")
        ks.ctl("rewrap", self.m.backing, what="pfcrypt rewrap")
        after = self.snapshot(b, "r-after")
        changed = cmp_count(before, after)
        print(f"# rewrap: {len(changed)} backing bytes changed: {ranges(changed)}")
        self.assertEqual(os.path.getsize(before), os.path.getsize(after))
        self.assertTrue(changed, "rewrap changed nothing (was the file not rewrapped?)")
        outside = [o for o in changed if o not in WRAPPED_FIELD]
        self.assertEqual(outside, [], f"rewrap changed bytes outside the wrapped field: "
                         f"{ranges(outside)[:10]}")
        # Still readable through the mount, and after the cache is dropped.
        subprocess.run(["sh", "-c", "echo 3 > /proc/sys/vm/drop_caches"], check=False)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), want)
        os.unlink(path)


if __name__ == "__main__":
    taprun.main()
