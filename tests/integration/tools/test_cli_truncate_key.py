#!/usr/bin/env python3
"""A file truncated to 0 gets a new file key (issue 27 item 2, FORMAT.md 3 "Truncation to 0 drops
the header"): O_TRUNC, truncate(2) and ftruncate(2) to 0 cut the backing file to 0 bytes, so the
next write makes a new header with a new file id and key.  Tested as an attacker would: a copy of
the backing file taken before (a backup, a sync client's history) does not open with the live
header spliced in front of its blocks, and after rotate + rewrap + retire not at all, while the live
file reads its new contents.  Also: a file whose header is damaged can still be emptied and written
(as on gocryptfs), hard links see one file, and rewrap takes the header lock."""
import fcntl
import json
import os
import shutil
import struct
import subprocess

import taprun
import unittest
from clienv import KEY, CliEnv
from pfcformat import BS, HEADER_SIZE
from pfcfs import backing_of, errno_of, read_all as read_bytes, repeated

F_OFD_SETLK, F_WRLCK, F_UNLCK = 37, 1, 2
FILE_ID = slice(16, 32)


def ofd_lock(fd, kind):
    # struct flock (x86-64/arm64): short type, short whence, off_t start, off_t len, pid_t pid
    fcntl.fcntl(fd, F_OFD_SETLK, struct.pack("hh4xqqi4x", kind, os.SEEK_SET, 0, HEADER_SIZE, 0))


def empty_by_open(p):
    with open(p, "wb") as f:            # O_TRUNC
        f.write(b"new contents " * 700)


def empty_by_path(p):
    os.truncate(p, 0)                   # truncate(2), no handle: SETATTR by path
    with open(p, "r+b") as f:
        f.write(b"new contents " * 700)


def empty_by_handle(p):
    with open(p, "r+b") as f:           # ftruncate(2) on an open writer, then write through it
        f.truncate(0)
        f.write(b"new contents " * 700)


NEW = b"new contents " * 700


class TruncateToZero(unittest.TestCase):

    def rewrite_and_splice(self, empty):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            p = os.path.join(mnt, "doc")
            old = repeated(b"old secret ", 3 * BS + 100)
            with open(p, "wb") as f:
                f.write(old)
            b = backing_of(e, p)
            saved = read_bytes(b)        # the backup taken before the rewrite
            empty(p)
            live = read_bytes(b)
            self.assertNotEqual(live[FILE_ID], saved[FILE_ID], "a new file id after truncation to 0")
            with open(p, "rb") as f:
                self.assertEqual(f.read(), NEW)
            e.umount(mnt)
            # the live header in front of the old blocks: bound to the old id and key
            with open(b, "wb") as f:
                f.write(live[:HEADER_SIZE] + saved[HEADER_SIZE:])
            e.mount(e.backing, mnt)
            self.assertEqual(errno_of(lambda: read_bytes(p)), 5, "spliced old blocks must be EIO")
            e.umount(mnt)
            with open(b, "wb") as f:
                f.write(live)
            # rotate, rewrap, retire v1: the old copy no longer opens, the live file does
            e.pfcrypt("rotate", "--key", KEY, check=True)
            e.pfcrypt("rewrap", e.backing, check=True)
            p2 = e.pfcrypt("retire", "--key", KEY, "--version", "1", "--now",
                           "--passphrase-file", e.ks.passfile, e.backing)
            self.assertEqual(p2.returncode, 0, p2.stdout + p2.stderr)
            self.assertEqual(e.pfcrypt("check", e.backing).returncode, 0)
            e.mount(e.backing, mnt)
            with open(p, "rb") as f:
                self.assertEqual(f.read(), NEW)
            e.umount(mnt)
            for name, data in (("whole", saved), ("spliced", live[:HEADER_SIZE] + saved[HEADER_SIZE:])):
                with open(b, "wb") as f:
                    f.write(data)
                e.mount(e.backing, mnt)
                err = errno_of(lambda: read_bytes(p))
                self.assertIn(err, (5, 126), f"old copy ({name}) must not open: {err}")
                e.umount(mnt)

    def test_o_trunc_gives_a_new_key_and_old_copies_stay_shut(self):
        self.rewrite_and_splice(empty_by_open)

    def test_truncate_by_path_gives_a_new_key(self):
        self.rewrite_and_splice(empty_by_path)

    def test_ftruncate_on_a_handle_gives_a_new_key(self):
        self.rewrite_and_splice(empty_by_handle)

    def test_backing_file_is_cut_to_zero_and_other_sizes_keep_the_key(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            p = os.path.join(mnt, "f")
            with open(p, "wb") as f:
                f.write(b"x" * (2 * BS))
            b = backing_of(e, p)
            fid = read_bytes(b)[FILE_ID]
            os.truncate(p, BS + 1)
            self.assertEqual(read_bytes(b)[FILE_ID], fid, "truncation to 1 block keeps the key")
            os.truncate(p, 0)
            self.assertEqual(os.path.getsize(b), 0, "truncation to 0 leaves no header")
            self.assertEqual(os.path.getsize(p), 0)
            with open(p, "rb") as f:
                self.assertEqual(f.read(), b"")
            with open(p, "ab") as f:
                f.write(b"again")
            self.assertNotEqual(read_bytes(b)[FILE_ID], fid)
            with open(p, "rb") as f:
                self.assertEqual(f.read(), b"again")

    def test_a_damaged_header_can_be_emptied_and_written(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            p = os.path.join(mnt, "broken")
            with open(p, "wb") as f:
                f.write(b"y" * 5000)
            b = backing_of(e, p)
            e.umount(mnt)
            data = bytearray(read_bytes(b))
            data[60] ^= 0xFF                # inside the wrapped key: does not unwrap
            with open(b, "wb") as f:
                f.write(data)
            e.mount(e.backing, mnt)
            self.assertIn(errno_of(lambda: read_bytes(p)), (5, 126))
            with open(p, "wb") as f:        # O_TRUNC needs no key
                f.write(b"fresh")
            with open(p, "rb") as f:
                self.assertEqual(f.read(), b"fresh")

    def test_hard_links_share_the_emptied_file(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            a, c = os.path.join(mnt, "a"), os.path.join(mnt, "c")
            with open(a, "wb") as f:
                f.write(b"z" * 9000)
            os.link(a, c)
            with open(c, "r+b") as fc:
                with open(a, "wb") as fa:   # O_TRUNC through one name, while the other is open
                    fa.write(b"via a")
                fc.seek(0)
                self.assertEqual(fc.read(), b"via a")
                fc.seek(0, os.SEEK_END)
                fc.write(b" and c")
            with open(a, "rb") as f:
                self.assertEqual(f.read(), b"via a and c")

    def test_rewrap_takes_the_header_lock(self):
        with CliEnv() as e:
            e.init_volume()
            e.mkfiles(e.backing, {"held": b"h" * 100, "free": b"f" * 100})
            e.pfcrypt("rotate", "--key", KEY, check=True)
            held = [r for r in os.listdir(e.backing) if not r.startswith((".", "pfcrypt"))]
            fds = []
            for rel in held:                # hold every file's header lock
                fd = os.open(os.path.join(e.backing, rel), os.O_RDWR)
                ofd_lock(fd, F_WRLCK)
                fds.append(fd)
            try:
                p = e.pfcrypt("rewrap", e.backing)
                self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn("header keeps changing", p.stderr)
            finally:
                for fd in fds:
                    os.close(fd)
            p = e.pfcrypt("rewrap", e.backing, check=True)
            self.assertIn("2 rewrapped", p.stdout)


if __name__ == "__main__":
    taprun.main()
