#!/usr/bin/env python3
"""Errors as users expect them (issue 5 point 4), on a real mount:

- a tampered block reads as EIO with one log line naming the backing file and the block index,
  while the other blocks and other files stay readable;
- a name that does not decrypt is skipped in listings with a log line;
- a stopped keystore gives ENOKEY on open of a file whose key is not cached, while cached files,
  listings and reads go on;
- a bad or unknown config refuses to mount with one line "pfcryptfs: BACKING/pfcrypt.conf: cause"
  and exit status 2; an unreachable keystore refuses too.
"""
import errno
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
import unittest

import pfcfs
import taprun
from pfcfs import backing_of, drop_caches, read_at, repeated as data
from pfcformat import BS, HEADER_SIZE, stored_block_size


class TamperAndNames(pfcfs.MountTestCase):

    def test_tampered_block_is_eio_and_the_rest_stays_readable(self):
        p = os.path.join(self.mnt, "victim")
        q = os.path.join(self.mnt, "bystander")
        content = data(b"0123456789abcdef", 4 * BS)
        with open(p, "wb") as f:
            f.write(content)
        with open(q, "wb") as f:
            f.write(b"still fine")
        b = backing_of(self.m, p)
        sbs = stored_block_size(self.m)
        self.m.expect_stderr(re.escape(b.encode()) + rb": block 2: ")
        with open(b, "r+b") as f:          # flip one ciphertext byte of block 2
            f.seek(HEADER_SIZE + 2 * sbs + 100)
            c = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([c[0] ^ 0x01]))
        drop_caches()
        with self.assertRaises(OSError) as cm:
            read_at(p, 2 * BS, 10)
        self.assertEqual(cm.exception.errno, errno.EIO)
        with open(self.m.stderr_path, "rb") as f:   # that one read() came as several requests
            self.assertEqual(f.read().count(b": block 2: "), 1, "one log line for one bad read")
        for blk in (0, 1, 3):
            self.assertEqual(read_at(p, blk * BS, BS), content[blk * BS:(blk + 1) * BS])
        with open(q, "rb") as f:
            self.assertEqual(f.read(), b"still fine")
        with open(self.m.stderr_path, "rb") as f:
            log = f.read()
        self.assertRegex(log, rb"error: " + re.escape(b.encode()) + rb": block 2: authentication")
        os.unlink(p)                       # leave a clean volume for the fixture's check

    def test_truncated_tail_is_eio_not_garbage(self):
        p = os.path.join(self.mnt, "torn")
        with open(p, "wb") as f:
            f.write(data(b"x", 2 * BS + 500))
        b = backing_of(self.m, p)
        self.m.expect_stderr(re.escape(b.encode()) + rb": block 2: ")
        os.truncate(b, os.path.getsize(b) - 200)   # cut into the last block's ciphertext
        drop_caches()
        self.assertEqual(read_at(p, 0, BS), data(b"x", BS))
        with self.assertRaises(OSError) as cm:
            read_at(p, 2 * BS, 100)
        self.assertEqual(cm.exception.errno, errno.EIO)
        os.unlink(p)

    def test_name_that_does_not_decrypt_is_skipped_with_a_log_line(self):
        os.mkdir(os.path.join(self.mnt, "dir"))
        with open(os.path.join(self.mnt, "dir", "moved"), "wb") as f:
            f.write(b"m")
        with open(os.path.join(self.mnt, "kept"), "wb") as f:
            f.write(b"k")
        # Move a backing entry from another directory (another directory id) into the root:
        # a well-formed encrypted name that does not authenticate there.
        src = backing_of(self.m, os.path.join(self.mnt, "dir", "moved"))
        bad = os.path.join(self.m.backing, os.path.basename(src))
        os.rename(src, bad)
        # And plain junk that is not ours at all.
        with open(os.path.join(self.m.backing, "junk!name"), "wb") as f:
            f.write(b"j")
        self.m.expect_stderr(re.escape(os.path.basename(src).encode()) + rb": name does not decrypt")
        names = os.listdir(self.mnt)
        self.assertIn("kept", names)
        self.assertIn("dir", names)
        self.assertNotIn("moved", names)
        self.assertEqual(len(names), 2, names)
        self.assertEqual(os.listdir(os.path.join(self.mnt, "dir")), [])
        with open(self.m.stderr_path, "rb") as f:
            self.assertIn(os.path.basename(src).encode() + b": name does not decrypt", f.read())
        os.unlink(bad)
        os.unlink(os.path.join(self.m.backing, "junk!name"))


class KeystoreGone(unittest.TestCase):
    """One mount of its own: the keystore is stopped in the middle."""

    def test_enokey_for_uncached_files_cached_ones_keep_working(self):
        with pfcfs.Mount() as m:
            a = os.path.join(m.mnt, "cached")
            b = os.path.join(m.mnt, "uncached")
            with open(a, "wb") as f:
                f.write(data(b"a", 3 * BS))
            with open(b, "wb") as f:
                f.write(data(b"b", 3 * BS))
            m.remount()                     # a new daemon: empty key cache, empty key pool
            with open(a, "rb") as f:        # unwraps a's key: cached from now on
                self.assertEqual(f.read(), data(b"a", 3 * BS))
            m.keystore.stop()
            m.expect_stderr(rb"cannot unwrap the file key \(master key \S+ v\d+\): ")
            m.expect_stderr(rb"cannot get a new file key: ")
            drop_caches()
            with self.assertRaises(OSError) as cm:
                open(b, "rb")
            self.assertEqual(cm.exception.errno, errno.ENOKEY)
            with open(a, "rb") as f:        # cached key: no keystore needed
                self.assertEqual(f.read(), data(b"a", 3 * BS))
            with open(a, "r+b") as f:       # and writable
                f.write(b"AAAA")
            self.assertEqual(read_at(a, 0, 6), b"AAAAaa")
            self.assertEqual(sorted(os.listdir(m.mnt)), ["cached", "uncached"])
            self.assertEqual(os.stat(b).st_size, 3 * BS)   # stat never needs a key
            with self.assertRaises(OSError) as cm:          # a new file needs a new key
                open(os.path.join(m.mnt, "new"), "wb")
            self.assertEqual(cm.exception.errno, errno.ENOKEY)
            with open(m.stderr_path, "rb") as f:
                log = f.read()
            self.assertRegex(log, re.escape(backing_of(m, b).encode()) +
                             rb": cannot unwrap the file key \(master key \S+ v\d+\): keystore unreachable")
            # Back again: uncached files open again, and what was written meanwhile is sound
            # (the fixture's `pfcrypt check` at the end needs the keystore too).
            m.keystore.restart()
            with open(b, "rb") as f:
                self.assertEqual(f.read(), data(b"b", 3 * BS))
            with open(os.path.join(m.mnt, "new"), "wb") as f:
                f.write(b"new")
            # A locked keystore is the same story: ENOKEY for files not cached.
            m.remount()
            m.keystore.ctl("keystore", "lock", what="pfcrypt keystore lock")
            m.expect_stderr(rb"cannot unwrap the file key \(master key \S+ v\d+\): keystore is locked")
            with self.assertRaises(OSError) as cm:
                open(a, "rb")
            self.assertEqual(cm.exception.errno, errno.ENOKEY)
            m.keystore.ctl("keystore", "unlock", "--passphrase-file", m.keystore.passfile,
                           what="pfcrypt keystore unlock")
            with open(a, "rb") as f:
                self.assertEqual(f.read(4), b"AAAA")


    def test_lock_wipes_cached_keys_open_handles_keep_working(self):
        # `pfcrypt keystore lock` while mounted: the daemon notices (it polls the keystore's
        # status every 2 s) and wipes every cached and prefetched file key at once, rather than
        # when each falls idle (10 minutes): files not open then give ENOKEY, a new file too;
        # a handle open across the lock keeps working until closed. Unlock: all open again.
        with pfcfs.Mount() as m:
            a = os.path.join(m.mnt, "closed")
            b = os.path.join(m.mnt, "held")
            for path, tag in ((a, b"a"), (b, b"b")):
                with open(path, "wb") as f:
                    f.write(data(tag, 3 * BS))
            with open(a, "rb") as f:        # a's key is cached (and the pool prefetched)
                self.assertEqual(f.read(), data(b"a", 3 * BS))
            held = open(b, "r+b")
            self.addCleanup(held.close)
            m.expect_stderr(rb"keystore locked: \d+ cached file keys and the prefetched keys wiped")
            m.expect_stderr(rb"keystore is locked")
            m.keystore.ctl("keystore", "lock", what="pfcrypt keystore lock")
            deadline = time.monotonic() + 20
            while True:                     # no request of ours reaches the keystore: the poll
                try:
                    with open(a, "rb"):
                        pass
                except OSError as e:
                    self.assertEqual(e.errno, errno.ENOKEY)
                    break
                self.assertLess(time.monotonic(), deadline, "cached key of a closed file "
                                "still usable 20 s after the keystore was locked")
                time.sleep(0.2)
            with self.assertRaises(OSError) as cm:          # a new file needs a new key
                open(os.path.join(m.mnt, "new"), "wb")
            self.assertEqual(cm.exception.errno, errno.ENOKEY)
            self.assertEqual(os.pread(held.fileno(), 4, BS), b"bbbb")   # the open handle
            os.pwrite(held.fileno(), b"BBBB", 0)
            held.close()
            with self.assertRaises(OSError) as cm:          # closed: its key went too
                open(b, "rb")
            self.assertEqual(cm.exception.errno, errno.ENOKEY)
            time.sleep(2.5)                 # more polls of a locked keystore: logged once
            with open(m.stderr_path, "rb") as f:
                self.assertEqual(len(re.findall(rb"keystore locked: ", f.read())), 1)
            m.keystore.ctl("keystore", "unlock", "--passphrase-file", m.keystore.passfile,
                           what="pfcrypt keystore unlock")
            with open(a, "rb") as f:
                self.assertEqual(f.read(), data(b"a", 3 * BS))
            self.assertEqual(read_at(b, 0, 6), b"BBBBbb")
            with open(os.path.join(m.mnt, "new"), "wb") as f:
                f.write(b"new")


def run_daemon(backing, mnt, sock, timeout=30):
    env = dict(os.environ, PFCRYPT_SOCKET=sock)
    return subprocess.run([pfcfs.binary("PFCRYPTFS", "pfcryptfs"), "-f", backing, mnt,
                           "--socket", sock], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, timeout=timeout, check=False)


class BadConfig(unittest.TestCase):
    """Refusals: no mount happens, one line on stderr, exit status 2."""

    @classmethod
    def setUpClass(cls):
        cls.m = pfcfs.Mount()
        cls.m.__enter__()
        with open(os.path.join(cls.m.mnt, "f"), "wb") as f:
            f.write(b"content")
        cls.m.unmount()
        with open(os.path.join(cls.m.backing, "pfcrypt.conf"), "rb") as f:
            cls.conf = f.read()
        cls.work = tempfile.mkdtemp(prefix="badconf-", dir=cls.m.tmp)

    @classmethod
    def tearDownClass(cls):
        cls.m.__exit__(None, None, None)

    def refuse(self, conf, cause_re, sock=None):
        back = tempfile.mkdtemp(dir=self.work)
        mnt = tempfile.mkdtemp(dir=self.work)
        if conf is not None:
            with open(os.path.join(back, "pfcrypt.conf"), "wb") as f:
                f.write(conf)
            shutil.copy(os.path.join(self.m.backing, ".pfcrypt.dirid"), back)
        p = run_daemon(back, mnt, sock or self.m.keystore.sock)
        self.assertFalse(os.path.ismount(mnt))
        self.assertEqual(p.returncode, 2, p.stderr)
        lines = p.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], cause_re)
        return lines[0]

    def test_missing_config(self):
        line = self.refuse(None, r"^pfcryptfs: .*/pfcrypt\.conf: ")
        self.assertIn("not a pfcrypt volume", line)

    def test_garbage_config(self):
        self.refuse(b"this is not a config at all\n" * 3, r"^pfcryptfs: .*/pfcrypt\.conf: .*magic")

    def test_unknown_format_version(self):
        conf = bytearray(self.conf)
        struct.pack_into("<H", conf, 8, 7)
        self.refuse(bytes(conf), r"^pfcryptfs: .*/pfcrypt\.conf: .*version")

    def test_truncated_config(self):
        self.refuse(self.conf[:30], r"^pfcryptfs: .*/pfcrypt\.conf: ")

    def test_altered_config_fails_authentication(self):
        conf = bytearray(self.conf)
        conf[-1] ^= 0x80                       # the MAC
        self.refuse(bytes(conf), r"^pfcryptfs: .*/pfcrypt\.conf: authentication failed")
        conf = bytearray(self.conf)
        conf[20] ^= 0x01                       # the volume id: the name key no longer unwraps
        self.refuse(bytes(conf), r"^pfcryptfs: .*/pfcrypt\.conf: ")

    def test_unreachable_keystore_refuses(self):
        self.refuse(self.conf, r"^pfcryptfs: keystore .*: keystore unreachable",
                    sock=os.path.join(self.work, "nothing.sock"))

    def test_good_config_still_mounts(self):
        self.m.mount()
        try:
            with open(os.path.join(self.m.mnt, "f"), "rb") as f:
                self.assertEqual(f.read(), b"content")
        finally:
            self.m.unmount()


if __name__ == "__main__":
    taprun.main()
