#!/usr/bin/env python3
"""Nothing found in the backing dir crashes the daemon (issue 5 point 4).

Each case damages the backing dir the way a broken disk, a sync client or an attacker could (garbage
header, torn header, altered wrapped key, a header copied from another file, a directory without or
with a bad directory id, a long name without or with a bad companion, a garbage symlink target,
foreign xattrs, junk entries of every type), then uses the mount on it: the user gets EIO/ENOENT or
sane defaults, the log says what and where, other files keep working, and the daemon stays alive
(the fixture checks it after every test).  Everything damaged is removed at the end so that the
fixture's `pfcrypt check` sees a clean volume.
"""
import errno
import os
import shutil
import stat
import unittest

import pfcfs
import taprun
from pfcfs import backing_of, drop_caches, errno_of, read_all
from pfcformat import BS, HEADER_SIZE, WRAPPED_OFFSET, stored_block_size


class Hostile(pfcfs.MountTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # This whole class provokes the daemon's error and warning lines on purpose.
        cls.m.expect_stderr(rb"^pfcryptfs: (warning|error): ")

    def setUp(self):
        super().setUp()
        self.ok = os.path.join(self.mnt, "innocent")
        with open(self.ok, "wb") as f:
            f.write(b"fine" * 3000)
        self.cleanup = []

    def tearDown(self):
        for p in self.cleanup:                       # remove the damage from the backing dir
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            elif os.path.lexists(p):
                os.unlink(p)
        super().tearDown()

    def assert_alive(self):
        self.assertEqual(read_all(self.ok), b"fine" * 3000)
        self.m.check_daemon()

    def test_garbage_and_torn_headers(self):
        g = os.path.join(self.mnt, "garbage")
        t = os.path.join(self.mnt, "torn")
        for p in (g, t):
            with open(p, "wb") as f:
                f.write(b"x" * 3 * BS)
        bg, bt = backing_of(self.m, g), backing_of(self.m, t)
        self.cleanup += [bg, bt]
        with open(bg, "r+b") as f:
            f.write(os.urandom(HEADER_SIZE))
        os.truncate(bt, 100)                          # a header cut short
        drop_caches()
        self.assertEqual(errno_of(open, g, "rb"), errno.EIO)
        self.assertEqual(os.stat(t).st_size, 0)       # stat never decrypts: size 0
        self.assertEqual(errno_of(open, t, "rb"), errno.EIO)   # but no silent empty file
        with open(self.m.stderr_path, "rb") as f:
            self.assertIn(os.path.basename(bt).encode() + b": header: truncated", f.read())
        # What a user can do about it: replace the contents (O_TRUNC needs no header and no key,
        # FORMAT.md 3, as on gocryptfs), or delete the file.
        for p, how in ((t, "overwrite"), (g, "unlink")):
            if how == "unlink":
                os.unlink(p)
            with open(p, "wb") as f:
                f.write(b"again")
            self.assertEqual(read_all(p), b"again")
        self.assert_alive()

    def test_altered_wrapped_key_and_a_header_from_another_file(self):
        a = os.path.join(self.mnt, "alt")
        c = os.path.join(self.mnt, "copy")
        for p in (a, c):
            with open(p, "wb") as f:
                f.write(p.encode() * 1000)
        ba, bc = backing_of(self.m, a), backing_of(self.m, c)
        self.cleanup += [ba, bc]
        with open(ba, "r+b") as f:                    # one bit of the wrapped key's ciphertext
            f.seek(WRAPPED_OFFSET + 2 + 60)
            x = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([x[0] ^ 4]))
        with open(self.ok and backing_of(self.m, self.ok), "rb") as f:
            other_header = f.read(HEADER_SIZE)
        with open(bc, "r+b") as f:                    # a valid header, of another file
            f.write(other_header)
        self.m.remount()                              # nothing cached
        self.assertEqual(errno_of(open, a, "rb"), errno.EIO)
        with open(c, "rb") as f:                      # opens (the header is sound) ...
            self.assertEqual(errno_of(f.read), errno.EIO)   # ... but no block authenticates
        self.assert_alive()

    def test_directory_without_or_with_a_bad_directory_id(self):
        for name, damage in (("noid", "remove"), ("badid", "short"), ("bigid", "long")):
            d = os.path.join(self.mnt, name)
            os.mkdir(d)
            with open(os.path.join(d, "inside"), "wb") as f:
                f.write(b"i")
            bd = backing_of(self.m, d)
            self.cleanup.append(bd)
            idf = os.path.join(bd, ".pfcrypt.dirid")
            os.chmod(idf, 0o644)
            if damage == "remove":
                os.unlink(idf)
            else:
                with open(idf, "wb") as f:
                    f.write(b"short" if damage == "short" else os.urandom(40))
        self.m.remount()
        for name in ("noid", "badid", "bigid"):
            d = os.path.join(self.mnt, name)
            self.assertTrue(stat.S_ISDIR(os.stat(d).st_mode))
            self.assertEqual(errno_of(os.listdir, d), errno.EIO, name)
            self.assertEqual(errno_of(os.stat, os.path.join(d, "inside")), errno.EIO, name)
            self.assertEqual(errno_of(open, os.path.join(d, "new"), "wb"), errno.EIO, name)
        self.assert_alive()

    def test_long_names_without_or_with_a_bad_companion(self):
        names = ["A" * 250, "B" * 250, "C" * 250]
        for n in names:
            with open(os.path.join(self.mnt, n), "wb") as f:
                f.write(b"long")
        comps = [backing_of(self.m, os.path.join(self.mnt, n)) + ".name" for n in names]
        for c in comps:
            self.assertTrue(os.path.exists(c), c)
        self.cleanup += [c[:-len(".name")] for c in comps] + comps
        os.unlink(comps[0])                           # missing
        with open(comps[1], "wb") as f:               # garbage
            f.write(b"!!! not an encoding !!!")
        with open(comps[2], "wb") as f:               # well-formed, but not this entry's hash
            f.write(b"A" * 300)
        drop_caches()
        listing = os.listdir(self.mnt)
        for n in names:
            self.assertNotIn(n, listing)
        self.assertIn("innocent", listing)
        self.assert_alive()

    def test_garbage_symlink_target_and_foreign_xattrs(self):
        s = os.path.join(self.mnt, "link")
        os.symlink("somewhere/else", s)
        bs = backing_of(self.m, s)
        self.cleanup.append(bs)
        os.unlink(bs)
        os.symlink("not-base64-at-all!", bs)
        drop_caches()
        self.assertEqual(errno_of(os.readlink, s), errno.EIO)
        self.assertTrue(stat.S_ISLNK(os.lstat(s).st_mode))
        bo = backing_of(self.m, self.ok)
        os.setxattr(bo, "user.pfc.garbage", b"zzz")
        os.setxattr(bo, "user.plain", b"foreign")
        os.setxattr(self.ok, "user.mine", b"mine")
        try:
            self.assertEqual(os.listxattr(self.ok), ["user.mine"])
            self.assertEqual(os.getxattr(self.ok, "user.mine"), b"mine")
            self.assertEqual(errno_of(os.getxattr, self.ok, "user.plain"), errno.ENODATA)
        finally:
            os.removexattr(bo, "user.pfc.garbage")
            os.removexattr(bo, "user.plain")
            os.removexattr(self.ok, "user.mine")
        self.assert_alive()

    def test_junk_entries_of_every_type_are_skipped(self):
        junk = {"junk file": "f", "AAAA": "f", "pfc.long.AAAA": "f", "x.name": "f",
                "jdir": "d", "jfifo": "p", "jlink": "l", "jsock": "s"}
        for n, kind in junk.items():
            p = os.path.join(self.m.backing, n)
            self.cleanup.append(p)
            if kind == "f":
                with open(p, "wb") as f:
                    f.write(os.urandom(1000))
            elif kind == "d":
                os.mkdir(p)
            elif kind == "p":
                os.mkfifo(p)
            elif kind == "l":
                os.symlink("/etc/passwd", p)
            else:
                os.mknod(p, 0o600 | stat.S_IFSOCK)
        self.assertEqual(sorted(os.listdir(self.mnt)), ["innocent"])
        for n in junk:
            self.assertEqual(errno_of(os.lstat, os.path.join(self.mnt, n)), errno.ENOENT)
        self.assert_alive()

    def test_sync_conflict_copies_are_shown_with_their_marker(self):
        """ARCHITECTURE.md 4: a sync client's conflict copy "<enc><marker>" shows as "<name><marker>",
        readable, renamable and deletable through the mount."""
        doc = os.path.join(self.mnt, "report.txt")
        with open(doc, "wb") as f:
            f.write(b"mine" * 2000)
        enc = backing_of(self.m, doc)
        markers = [".sync-conflict-20240102-030405-ABCDEFG", ".conflict1",
                   " (Ann's conflicted copy 2024-01-02)", " (conflicted copy 2024-01-02 030405)"]
        for mk in markers:
            shutil.copy(enc, enc + mk)
            self.cleanup.append(enc + mk)
        drop_caches()
        listing = sorted(os.listdir(self.mnt))
        self.assertEqual(listing, sorted(["innocent", "report.txt"] +
                                         ["report.txt" + mk for mk in markers]))
        for mk in markers:
            self.assertEqual(read_all(doc + mk), b"mine" * 2000, mk)
        os.rename(doc + markers[0], os.path.join(self.mnt, "theirs.txt"))
        self.assertEqual(read_all(os.path.join(self.mnt, "theirs.txt")), b"mine" * 2000)
        for mk in markers[1:]:
            os.unlink(doc + mk)
        self.assertEqual(sorted(os.listdir(self.mnt)), ["innocent", "report.txt", "theirs.txt"])
        self.assert_alive()

    def test_zeroed_block_reads_as_a_hole(self):
        """The documented consequence of hole semantics (FORMAT.md): a stored block set to all
        zeros reads as zeros, it is not an error."""
        z = os.path.join(self.mnt, "zeroed")
        with open(z, "wb") as f:
            f.write(b"z" * 3 * BS)
        bz = backing_of(self.m, z)
        with open(os.path.join(self.m.backing, "pfcrypt.conf"), "rb") as f:
            conf = f.read()
        flags = int.from_bytes(conf[16:20], "little")
        sbs = stored_block_size(self.m)
        with open(bz, "r+b") as f:
            f.seek(HEADER_SIZE + sbs)
            f.write(bytes(sbs))
        drop_caches()
        if flags & 1:                                 # a no-holes volume: an error instead
            self.assertEqual(errno_of(read_all, z), errno.EIO)
        else:
            self.assertEqual(read_all(z), b"z" * BS + bytes(BS) + b"z" * BS)
        os.unlink(z)
        self.assert_alive()


if __name__ == "__main__":
    taprun.main()
