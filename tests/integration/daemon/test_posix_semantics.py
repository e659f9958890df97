#!/usr/bin/env python3
"""Directed POSIX checks on the mount that a random sequence reaches rarely or cannot express:
sparse files past 4 GiB, shared writable mmap, O_APPEND/O_EXCL/O_TRUNC, st_blocks, open-then-unlink,
names at NAME_MAX and with odd bytes, fifos, statfs, fsync.  Where a plain directory can say what
is right, the same steps run there too and the results are compared.  Several tests remount (a new
daemon) before the final check, so the data must have reached the backing dir.
"""
import errno
import mmap
import os
import stat
import subprocess
import threading

import pfcfs
import taprun
from pfcfs import read_all
from pfcformat import BS

GiB = 1 << 30


def pattern(n, seed):
    """n bytes that differ at every position and between seeds (a wrong offset shows)."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += f"[{seed}:{i:08d}]".encode()
        i += 1
    return bytes(out[:n])


class Semantics(pfcfs.MountTestCase):
    def both(self, fn):
        """fn(root) on the mount and on a plain dir; the two results must be equal."""
        ra = fn(self.mnt)
        rb = fn(self.scratch)
        self.assertEqual(ra, rb, "mount and plain directory disagree")
        return ra

    def test_sparse_file_beyond_4_gib(self):
        path = os.path.join(self.mnt, "sparse")
        tail = pattern(5000, 1)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            self.assertEqual(os.pwrite(fd, tail, 5 * GiB), len(tail))
            # A write across the 4 GiB line (32-bit offset arithmetic would wrap here).
            across = pattern(3 * BS, 2)
            self.assertEqual(os.pwrite(fd, across, 4 * GiB - BS - 7), len(across))
            os.fsync(fd)
        finally:
            os.close(fd)
        self.m.remount()
        st = os.stat(path)
        self.assertEqual(st.st_size, 5 * GiB + len(tail))
        with open(path, "rb") as f:
            for off, n in ((0, 3 * BS + 1), (BS - 1, 2), (2 * GiB, 1 << 20), (4 * GiB - 3 * BS, BS),
                           (5 * GiB - BS - 1, BS)):
                f.seek(off)
                self.assertEqual(f.read(n), bytes(n), f"hole at {off} does not read as zeros")
            f.seek(4 * GiB - BS - 7)
            self.assertEqual(f.read(3 * BS), pattern(3 * BS, 2))
            f.seek(5 * GiB)
            self.assertEqual(f.read(), tail)
            f.seek(5 * GiB + len(tail) + 10)
            self.assertEqual(f.read(10), b"", "read past EOF returns data")
        # st_blocks counts what is allocated: a few blocks, not 5 GiB.
        self.assertGreater(st.st_blocks, 0)
        self.assertLess(st.st_blocks * 512, 4 << 20, f"st_blocks={st.st_blocks} for a sparse file")
        if self.m.mode != "plain":
            big = [(p, s) for p, s in self.m.backing_files() if s.st_size >= 5 * GiB]
            self.assertEqual(len(big), 1, "expected exactly one backing file of >= 5 GiB")
            self.assertLess(big[0][1].st_blocks * 512, 4 << 20,
                            f"backing file {big[0][0]} is not sparse: {big[0][1].st_blocks} blocks")
        os.unlink(path)

    def test_st_blocks_of_dense_files(self):
        for size in (1, BS - 1, BS, BS + 1, 100_000, 1 << 20):
            path = os.path.join(self.mnt, f"dense-{size}")
            with open(path, "wb") as f:
                f.write(pattern(size, size))
            st = os.stat(path)
            self.assertEqual(st.st_size, size)
            alloc = st.st_blocks * 512
            self.assertGreaterEqual(alloc, size, f"size {size}: st_blocks={st.st_blocks} too small")
            self.assertLessEqual(alloc, size * 1.25 + 64 * 1024, f"size {size}: st_blocks={st.st_blocks}")
            self.assertEqual(read_all(path), pattern(size, size))
            os.unlink(path)

    def test_mmap_shared_writable(self):
        def run(root):
            path = os.path.join(root, "mapped")
            with open(path, "wb") as f:
                f.write(pattern(3 * BS + 100, 3))
            fd = os.open(path, os.O_RDWR)
            try:
                os.ftruncate(fd, 5 * BS)  # grow first: the mapping covers the new zero pages
                with mmap.mmap(fd, 5 * BS, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as mm:
                    mm[BS - 2:BS + 2] = b"ABCD"  # across a block boundary
                    mm[4 * BS + 10:4 * BS + 15] = b"tail!"
                    mm[0:5] = b"start"
                    mm.flush()
                    seen = os.pread(fd, 5 * BS, 0)  # read(2) sees the mapping's writes
            finally:
                os.close(fd)
            return seen

        seen = self.both(run)
        self.m.remount()
        self.assertEqual(read_all(os.path.join(self.mnt, "mapped")), seen)
        self.assertEqual(read_all(os.path.join(self.mnt, "mapped")),
                         read_all(os.path.join(self.scratch, "mapped")))
        # Dirty pages of a mapping that is never msync'ed reach the file by close/munmap.
        fd = os.open(path := os.path.join(self.mnt, "mapped"), os.O_RDWR)
        with mmap.mmap(fd, 5 * BS) as mm:
            mm[3 * BS - 1:3 * BS + 1] = b"NF"
        os.close(fd)
        self.m.remount()
        self.assertEqual(read_all(path)[3 * BS - 1:3 * BS + 1], b"NF")
        # And a mapping reads what write(2) put there.
        path = os.path.join(self.mnt, "mapped")
        with open(path, "r+b") as f:
            f.seek(2 * BS + 1)
            f.write(b"written")
            f.flush()
            with mmap.mmap(f.fileno(), 0) as mm:
                self.assertEqual(mm[2 * BS + 1:2 * BS + 8], b"written")

    def test_write_only_handles_and_cached_readers(self):
        # Write-only handles bypass the page cache (direct I/O); what a reader already holds in
        # the cache - through read(2) and through a mapping - must show their writes at once.
        def run(root):
            path = os.path.join(root, "coherent")
            with open(path, "wb") as f:
                f.write(pattern(3 * BS, 5))
            seen = []
            r = os.open(path, os.O_RDONLY)
            try:
                with mmap.mmap(r, 3 * BS, prot=mmap.PROT_READ) as mm:
                    seen.append(mm[BS - 4:BS + 4] + os.pread(r, 8, 2 * BS))  # now cached
                    w = os.open(path, os.O_WRONLY)
                    os.pwrite(w, b"ACROSS!!", BS - 4)  # within the mapping, across a block
                    os.pwrite(w, b"tail", 2 * BS + 2)
                    seen.append(mm[BS - 4:BS + 4] + mm[2 * BS:2 * BS + 8] + os.pread(r, 8, 2 * BS))
                    a = os.open(path, os.O_WRONLY | os.O_APPEND)
                    os.write(a, b"appended")  # grows the file under the reader
                    seen.append((os.fstat(r).st_size, os.pread(r, 16, 3 * BS - 8)))
                    os.close(a)
                    os.close(w)
            finally:
                os.close(r)
            # closed and opened again: no stale page survives either
            seen.append(read_all(path)[BS - 8:BS + 8])
            w = os.open(path, os.O_WRONLY | os.O_TRUNC)
            os.write(w, b"short")
            os.close(w)
            seen.append(read_all(path))
            return seen

        self.both(run)

    def test_o_append(self):
        def run(root):
            path = os.path.join(root, "appended")
            with open(path, "wb") as f:
                f.write(b"x" * (BS - 3))
            a = os.open(path, os.O_WRONLY | os.O_APPEND)
            b = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                out = []
                for i in range(6):
                    fd = a if i % 2 else b
                    out.append(os.write(fd, pattern(1000 + i * 997, i)))
                    out.append(os.lseek(fd, 0, os.SEEK_CUR))
                # Linux: pwrite on an O_APPEND descriptor appends, ignoring the offset.
                out.append(os.pwrite(a, b"PW", 0))
                out.append(os.fstat(a).st_size)
            finally:
                os.close(a)
                os.close(b)
            return out, read_all(path)

        self.both(run)
        self.m.remount()
        self.assertEqual(read_all(os.path.join(self.mnt, "appended")),
                         read_all(os.path.join(self.scratch, "appended")))

    def test_o_excl_and_o_trunc(self):
        def run(root):
            out = []
            path = os.path.join(root, "excl")
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640)
            os.write(fd, pattern(2 * BS + 5, 4))
            os.close(fd)
            for target in (path, os.path.join(root, "dangling")):
                if target != path:
                    os.symlink("nowhere", target)  # O_EXCL does not follow a symlink, even dangling
                try:
                    os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                    out.append("created")
                except OSError as e:
                    out.append(errno.errorcode[e.errno])
            out.append(os.path.exists(os.path.join(root, "nowhere")))
            fd = os.open(path, os.O_RDWR | os.O_TRUNC)
            out.append(os.fstat(fd).st_size)
            out.append(os.pread(fd, 10, 0))
            os.pwrite(fd, b"after", BS)  # the old data must not come back in the hole
            os.close(fd)
            out.append(stat.S_IMODE(os.stat(path).st_mode))
            return out, read_all(path)

        out, data = self.both(run)
        self.assertEqual(out[:2], ["EEXIST", "EEXIST"])
        self.assertEqual(data, bytes(BS) + b"after")
        self.m.remount()
        self.assertEqual(read_all(os.path.join(self.mnt, "excl")), bytes(BS) + b"after")

    def test_open_unlink_keep_using(self):
        path = os.path.join(self.mnt, "ghost")
        other = os.path.join(self.mnt, "replacement")
        data = pattern(3 * BS + 17, 5)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            os.write(fd, data)
            os.unlink(path)
            self.assertNotIn("ghost", os.listdir(self.mnt))
            self.assertEqual(os.fstat(fd).st_nlink, 0)
            os.pwrite(fd, b"more", len(data) + BS)  # grows after unlink
            os.ftruncate(fd, len(data) + BS + 4)
            self.assertEqual(os.pread(fd, len(data), 0), data)
            self.assertEqual(os.pread(fd, BS + 4, len(data)), bytes(BS) + b"more")
            # A new file under the old name is a different file.
            with open(path, "wb") as f:
                f.write(b"new")
            self.assertEqual(os.pread(fd, 10, 0), data[:10])
        finally:
            os.close(fd)
        self.assertEqual(read_all(path), b"new")
        # Renaming over an open file: the old descriptor still reads the old contents.
        with open(other, "wb") as f:
            f.write(b"replacement")
        fd = os.open(path, os.O_RDONLY)
        try:
            os.rename(other, path)
            self.assertEqual(os.pread(fd, 10, 0), b"new")
        finally:
            os.close(fd)
        self.assertEqual(read_all(path), b"replacement")
        os.unlink(path)

    def test_names_at_the_limit_and_odd_bytes(self):
        names = [b"x" * 255, "\u00e9".encode() * 127 + b"z", b"with space", b" ", b"tab\there",
                 b"nl\nin name", "\u6f22\u5b57\U0001f600".encode(), b"bad\xff\xfe\x80utf8",
                 b"\x01\x02\x7f", b"...", b"-", b"a" * 200 + b"\xff" * 55]
        root = os.fsencode(self.mnt)
        sub = os.path.join(root, b"names")
        os.mkdir(sub)
        for i, n in enumerate(names):
            with open(os.path.join(sub, n), "wb") as f:
                f.write(pattern(i, i))
            os.mkdir(os.path.join(sub, n[:250] + b"d"))
            os.symlink(n, os.path.join(sub, n[:250] + b"l"))
        for bad in (b"y" * 256, "\u00e9".encode() * 128):
            with self.assertRaises(OSError) as cm:
                open(os.path.join(sub, bad), "wb").close()
            self.assertEqual(cm.exception.errno, errno.ENAMETOOLONG, f"creating a {len(bad)}-byte name")
            with self.assertRaises(OSError) as cm:
                os.mkdir(os.path.join(sub, bad))
            self.assertEqual(cm.exception.errno, errno.ENAMETOOLONG)
        self.m.remount()
        expect = sorted([n for n in names] + [n[:250] + b"d" for n in names] +
                        [n[:250] + b"l" for n in names])
        self.assertEqual(sorted(os.listdir(sub)), expect)
        for i, n in enumerate(names):
            self.assertEqual(read_all(os.path.join(sub, n)), pattern(i, i), n)
            self.assertTrue(os.path.isdir(os.path.join(sub, n[:250] + b"d")))
            self.assertEqual(os.readlink(os.path.join(sub, n[:250] + b"l")), n)
        # Renames between long and short names keep the contents.
        os.rename(os.path.join(sub, names[0]), os.path.join(sub, b"short"))
        os.rename(os.path.join(sub, names[1]), os.path.join(sub, names[0]))
        self.assertEqual(read_all(os.path.join(sub, b"short")), pattern(0, 0))
        self.assertEqual(read_all(os.path.join(sub, names[0])), pattern(1, 1))

    def test_long_symlink_targets(self):
        # Up to 2048 bytes: the encrypted, encoded target must still fit ext4's 4095-byte limit.
        for n in (1, 255, 256, 1024, 2048):
            target = (b"t/" * 2100)[:n - 1] + b"e"
            link = os.path.join(os.fsencode(self.mnt), b"link%d" % n)
            os.symlink(target, link)
            self.assertEqual(os.readlink(link), target)
            self.assertEqual(os.lstat(link).st_size, n, "st_size of a symlink is its target's length")
        self.m.remount()
        for n in (1, 255, 256, 1024, 2048):
            link = os.path.join(os.fsencode(self.mnt), b"link%d" % n)
            self.assertEqual(len(os.readlink(link)), n)
            os.unlink(link)

    def test_hard_links(self):
        a = os.path.join(self.mnt, "h1")
        d = os.path.join(self.mnt, "hdir")
        os.mkdir(d)
        with open(a, "wb") as f:
            f.write(pattern(BS + 1, 6))
        os.link(a, os.path.join(d, "h2"))
        os.link(a, os.path.join(self.mnt, "h3"))
        self.assertEqual(os.stat(a).st_nlink, 3)
        with open(os.path.join(d, "h2"), "r+b") as f:
            f.seek(BS - 1)
            f.write(b"via h2")
        self.assertEqual(read_all(os.path.join(self.mnt, "h3"))[BS - 1:BS + 5], b"via h2")
        os.rename(os.path.join(self.mnt, "h3"), os.path.join(d, "h3"))
        os.chmod(a, 0o600)
        self.m.remount()
        for p in (a, os.path.join(d, "h2"), os.path.join(d, "h3")):
            st = os.stat(p)
            self.assertEqual((st.st_nlink, stat.S_IMODE(st.st_mode)), (3, 0o600), p)
            self.assertEqual(read_all(p)[BS - 1:BS + 5], b"via h2")
        self.assertEqual(len({os.stat(p).st_ino for p in (a, os.path.join(d, "h2"))}), 1)
        os.unlink(a)
        self.assertEqual(os.stat(os.path.join(d, "h2")).st_nlink, 2)

    def test_xattrs(self):
        p = os.path.join(self.mnt, "xa")
        with open(p, "wb"):
            pass
        # ext4 keeps all of an inode's xattrs in one 4 KiB block: stay well below it.
        values = {"user.empty": b"", "user.small": b"v", "user.big": pattern(2000, 7),
                  "user.bin": bytes(range(256))}
        for k, v in values.items():
            os.setxattr(p, k, v)
        os.mkdir(p + "d")
        os.setxattr(p + "d", "user.ondir", b"dir value")
        with self.assertRaises(OSError) as cm:
            os.setxattr(p, "user.small", b"x", os.XATTR_CREATE)
        self.assertEqual(cm.exception.errno, errno.EEXIST)
        with self.assertRaises(OSError) as cm:
            os.setxattr(p, "user.absent", b"x", os.XATTR_REPLACE)
        self.assertEqual(cm.exception.errno, errno.ENODATA)
        # The longest name a volume stores: "user." + 160 bytes (PFC_XATTR_SUFFIX_MAX, fs/format.h);
        # one more byte is refused with ERANGE, the errno Linux gives for an over-long xattr name.
        longest = "user." + "n" * 160
        os.setxattr(p, longest, b"at the limit")
        values[longest] = b"at the limit"
        if self.m.mode == "pfcryptfs":
            with self.assertRaises(OSError) as cm:
                os.setxattr(p, longest + "n", b"too long")
            self.assertEqual(cm.exception.errno, errno.ERANGE)
        if self.m.mode == "pfcryptfs":
            # Only user.* exists; other namespaces are unsupported (not merely absent), which is
            # what lets ls -l stop asking every entry for security.selinux and ACLs.
            for name in ("security.selinux", "system.posix_acl_access", "security.capability",
                         "trusted.x"):
                calls = [lambda: os.getxattr(p, name), lambda: os.removexattr(p, name)]
                if name in ("security.selinux", "trusted.x"):  # the kernel checks the others' format
                    calls.append(lambda: os.setxattr(p, name, b"v"))
                for call in calls:
                    with self.assertRaises(OSError) as cm:
                        call()
                    self.assertEqual(cm.exception.errno, errno.EOPNOTSUPP, name)
        self.m.remount()
        self.assertEqual(sorted(n for n in os.listxattr(p) if n.startswith("user.")), sorted(values))
        for k, v in values.items():
            self.assertEqual(os.getxattr(p, k), v, k)
        self.assertEqual(os.getxattr(p + "d", "user.ondir"), b"dir value")
        os.removexattr(p, "user.big")
        with self.assertRaises(OSError) as cm:
            os.getxattr(p, "user.big")
        self.assertEqual(cm.exception.errno, errno.ENODATA)
        # Values are not stored in clear in the backing dir.
        if self.m.mode == "pfcryptfs":
            for bp, _ in self.m.backing_files():
                for name in os.listxattr(bp, follow_symlinks=False):
                    self.assertNotIn(b"dir value", os.getxattr(bp, name, follow_symlinks=False))

    def test_backing_holds_no_plaintext(self):
        """Names, contents, symlink targets and xattrs written through the mount are not in clear in
        the backing dir (in the passthrough and plain modes there is nothing to check)."""
        marker = b"PFCplain7Q"
        d = os.path.join(os.fsencode(self.mnt), b"dir-" + marker)
        os.mkdir(d)
        with open(os.path.join(d, b"file-" + marker), "wb") as f:
            f.write((marker + b" contents ") * 1000)
        os.symlink(b"target-" + marker, os.path.join(d, b"link"))
        os.setxattr(d, b"user.x-" + marker, marker)
        self.m.remount()  # everything flushed to the backing
        self.assertEqual(sorted(os.listdir(d)), [b"file-" + marker, b"link"])
        if self.m.mode != "pfcryptfs":
            return
        found = []
        for dirpath, dirs, files in os.walk(os.fsencode(self.m.backing)):
            for n in dirs + files:
                p = os.path.join(dirpath, n)
                blobs = [n]
                if os.path.islink(p):
                    blobs.append(os.readlink(p))
                else:
                    blobs += [k.encode() + os.getxattr(p, k, follow_symlinks=False)
                              for k in os.listxattr(p, follow_symlinks=False)]
                    if os.path.isfile(p):
                        with open(p, "rb") as f:
                            blobs.append(f.read())
                if any(marker in b for b in blobs):
                    found.append(p)
        self.assertEqual(found, [], "plaintext found in the backing dir")

    def test_fifo(self):
        p = os.path.join(self.mnt, "fifo")
        os.mkfifo(p)
        os.chmod(p, 0o620)  # mkfifo's mode is filtered by the umask
        st = os.lstat(p)
        self.assertTrue(stat.S_ISFIFO(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o620)
        got = []
        reader = threading.Thread(target=lambda: got.append(read_all(p)))
        reader.start()
        with open(p, "wb") as f:
            f.write(b"through the fifo")
        reader.join()
        self.assertEqual(got, [b"through the fifo"])
        self.m.remount()
        self.assertTrue(stat.S_ISFIFO(os.lstat(p).st_mode))
        os.unlink(p)

    def test_statfs_fsync_times_owner(self):
        sv = os.statvfs(self.mnt)
        self.assertGreater(sv.f_bsize, 0)
        self.assertGreater(sv.f_blocks, 0)
        self.assertLessEqual(sv.f_bfree, sv.f_blocks)
        self.assertGreaterEqual(sv.f_namemax, 255, "the mount accepts 255-byte names")
        p = os.path.join(self.mnt, "synced")
        fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"data")
        os.fsync(fd)
        os.fdatasync(fd)
        os.close(fd)
        os.utime(p, ns=(1_000_000_001, 2_000_000_002))
        os.chown(p, 1234, 5678)
        os.chmod(p, 0o4710)
        os.symlink("synced", p + ".l")
        os.utime(p + ".l", ns=(3_000_000_003, 4_000_000_004), follow_symlinks=False)
        self.m.remount()
        st = os.stat(p)
        self.assertEqual((st.st_atime_ns, st.st_mtime_ns), (1_000_000_001, 2_000_000_002))
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (1234, 5678, 0o4710))
        self.assertEqual(os.lstat(p + ".l").st_mtime_ns, 4_000_000_004)
        self.assertEqual(read_all(p), b"data")

    def test_large_directory_list_and_remove_while_reading(self):
        """readdir continues correctly over many buffers (short and long-name entries mixed), and
        unlinking entries while iterating (what rm -r does) neither skips nor repeats one."""
        d = os.path.join(os.fsencode(self.mnt), b"big")
        os.mkdir(d)
        names = set()
        for i in range(1200):
            n = b"%05d-" % i + (b"L" * 240 if i % 7 == 0 else b"s" * (i % 40))
            names.add(n)
            os.close(os.open(os.path.join(d, n), os.O_CREAT | os.O_WRONLY, 0o644))
        self.assertEqual(set(os.listdir(d)), names)
        self.m.remount()
        self.assertEqual(set(os.listdir(d)), names)
        seen = []
        with os.scandir(d) as it:
            for e in it:
                seen.append(e.name)
                os.unlink(os.path.join(d, e.name))
        self.assertEqual(sorted(seen), sorted(names), "entries skipped or repeated while unlinking")
        self.assertEqual(os.listdir(d), [])
        os.rmdir(d)

    def test_seek_data_and_seek_hole_describe_the_contents(self):
        """Any answer of SEEK_DATA/SEEK_HOLE is allowed except one that hides data: rebuilding the
        file from the data ranges they report (holes as zeros) must give back its contents.  cp
        and tar use them to copy sparse files."""
        def layout(root):
            p = os.path.join(root, "holes")
            fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                os.pwrite(fd, pattern(BS + 10, 8), 0)
                os.pwrite(fd, pattern(3, 9), 1 << 20)
                os.pwrite(fd, pattern(2 * BS, 10), (3 << 20) - BS)
                os.ftruncate(fd, 4 << 20)
            finally:
                os.close(fd)
            return p

        p = layout(self.mnt)
        layout(self.scratch)
        self.m.remount()
        with open(p, "rb") as f:
            want = f.read()
        fd = os.open(p, os.O_RDONLY)
        try:
            rebuilt = bytearray(len(want))
            off = 0
            while off < len(want):
                try:
                    data = os.lseek(fd, off, os.SEEK_DATA)
                except OSError as e:
                    self.assertEqual(e.errno, errno.ENXIO)
                    break
                hole = os.lseek(fd, data, os.SEEK_HOLE)
                self.assertGreaterEqual(data, off)
                self.assertGreater(hole, data)
                self.assertLessEqual(hole, len(want))
                rebuilt[data:hole] = os.pread(fd, hole - data, data)
                off = hole
        finally:
            os.close(fd)
        self.assertEqual(bytes(rebuilt), want, "data hidden by SEEK_DATA/SEEK_HOLE")
        self.assertEqual(want, read_all(os.path.join(self.scratch, "holes")))
        # cp --sparse=always out of the mount and back in keeps the contents.
        out = os.path.join(self.scratch, "holes.cp")
        pfcfs.run(["cp", "--sparse=always", p, out])
        pfcfs.run(["cp", "--sparse=always", out, p + ".back"])
        self.assertEqual(read_all(out), want)
        self.assertEqual(read_all(p + ".back"), want)

    def test_rename_directories_with_long_named_children(self):
        top = os.path.join(os.fsencode(self.mnt), b"top")
        long = b"D" * 255
        files = {}
        for i, rel in enumerate([b"a", long + b"/" + b"f" * 250, long + b"/sub/" + b"g" * 255,
                                 b"x/" + long + b"/short", b"x/y/z"]):
            p = os.path.join(top, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(pattern(i * 1000 + 1, i))
            files[rel] = pattern(i * 1000 + 1, i)
        os.rename(top, os.path.join(os.fsencode(self.mnt), b"T" * 255))
        top = os.path.join(os.fsencode(self.mnt), b"T" * 255)
        os.rename(os.path.join(top, long, b"sub"), os.path.join(top, b"x", b"moved-sub"))
        files[b"x/moved-sub/" + b"g" * 255] = files.pop(long + b"/sub/" + b"g" * 255)
        os.rename(os.path.join(top, b"x"), os.path.join(top, long, b"x" * 200))
        files = {(long + b"/" + b"x" * 200 + k[1:] if k.startswith(b"x/") else k): v
                 for k, v in files.items()}
        self.m.remount()
        for rel, data in files.items():
            self.assertEqual(read_all(os.path.join(top, rel)), data, rel)
        found = set()
        for dirpath, _dirs, names in os.walk(top):
            found |= {os.path.relpath(os.path.join(dirpath, n), top) for n in names}
        self.assertEqual(found, set(files))

    def test_touch_sets_one_time_and_leaves_the_other(self):
        """touch -m / -a use UTIME_OMIT for the other timestamp."""
        def run(root):
            p = os.path.join(root, "touched")
            with open(p, "wb") as f:
                f.write(b"x")
            os.utime(p, ns=(1_111_111_111_000_000_001, 1_222_222_222_000_000_002))
            pfcfs.run(["touch", "-m", "-d", "@1300000000.5", p])
            a = os.stat(p)
            pfcfs.run(["touch", "-a", "-d", "@1400000000.25", p])
            b = os.stat(p)
            return (a.st_atime_ns, a.st_mtime_ns), (b.st_atime_ns, b.st_mtime_ns)

        got = self.both(run)
        self.assertEqual(got, ((1_111_111_111_000_000_001, 1_300_000_000_500_000_000),
                               (1_400_000_000_250_000_000, 1_300_000_000_500_000_000)))

    def test_open_without_reading_keeps_atime(self):
        """Opening and closing a file reads nothing, so its atime stays (ext4 with relatime keeps
        it even when atime <= mtime).  Checked after a remount, so the kernel's attribute cache
        cannot hide what the backing file says."""
        def run(root):
            out = []
            for flags in (os.O_WRONLY, os.O_RDONLY, os.O_RDWR):
                p = os.path.join(root, f"atime-{flags}")
                with open(p, "wb") as f:
                    f.write(b"x" * 5000)
                os.utime(p, ns=(1_111_111_111_000_000_001, 1_222_222_222_000_000_002))
                os.close(os.open(p, flags))
                out.append(p)
            return len(out)

        self.both(run)
        self.m.remount()
        for flags in (os.O_WRONLY, os.O_RDONLY, os.O_RDWR):
            st = os.stat(os.path.join(self.mnt, f"atime-{flags}"))
            self.assertEqual((st.st_atime_ns, st.st_mtime_ns),
                             (1_111_111_111_000_000_001, 1_222_222_222_000_000_002),
                             f"open({flags:#o}) + close changed the times")

    def test_o_direct_reads_and_writes(self):
        """O_DIRECT with block-aligned buffers (dd oflag=direct, databases) reads and writes the
        same bytes as buffered I/O."""
        if not self.m.caps["o_direct"]:
            self.skipTest("this passthrough program cannot do O_DIRECT writes (see pfcfs.Mount.caps)")

        def run(root):
            p = os.path.join(root, "direct")
            with open(p, "wb") as f:
                f.write(pattern(3 * BS + 100, 11))
            buf = mmap.mmap(-1, 2 * BS)  # page-aligned, as O_DIRECT wants
            fd = os.open(p, os.O_RDWR | os.O_DIRECT)
            try:
                got = os.preadv(fd, [buf], BS), bytes(buf)
                buf[:] = pattern(2 * BS, 12)
                wrote = os.pwritev(fd, [buf], 2 * BS)  # across the old end of file
            finally:
                os.close(fd)
            return got, wrote, os.stat(p).st_size

        self.both(run)
        self.m.remount()
        self.assertEqual(read_all(os.path.join(self.mnt, "direct")),
                         read_all(os.path.join(self.scratch, "direct")))

    def test_changes_update_mtime(self):
        """Every change of contents moves a file's mtime, and every change of entries moves its
        directory's (make, rsync and backup tools decide on them).  Old times are set first, so
        "moved" means newer than those, whatever the clock says."""
        old = 1_000_000_000_000_000_000
        d = os.path.join(self.mnt, "mt")
        os.mkdir(d)
        p = os.path.join(d, "f")
        with open(p, "wb") as f:
            f.write(b"x" * 10000)

        def after(what, fn, path=p):
            os.utime(path, ns=(old, old))
            fn()
            self.m.remount()  # what the backing says, not the kernel's cache
            self.assertGreater(os.stat(path).st_mtime_ns, old, f"{what} left mtime unchanged")

        def pwrite():
            fd = os.open(p, os.O_WRONLY)
            os.pwrite(fd, b"y", 4095)
            os.close(fd)

        def o_trunc():
            os.close(os.open(p, os.O_WRONLY | os.O_TRUNC))

        def fallocate_grow():
            fd = os.open(p, os.O_RDWR)
            os.posix_fallocate(fd, 0, 20000)
            os.close(fd)

        after("pwrite", pwrite)
        after("truncate", lambda: os.truncate(p, 5000))
        after("open(O_TRUNC)", o_trunc)
        after("posix_fallocate past EOF", fallocate_grow)
        after("create in dir", lambda: open(os.path.join(d, "g"), "wb").close(), d)
        after("unlink in dir", lambda: os.unlink(os.path.join(d, "g")), d)
        open(os.path.join(self.mnt, "mt-in"), "wb").close()
        after("rename into dir", lambda: os.rename(os.path.join(self.mnt, "mt-in"), os.path.join(d, "in")), d)

    def test_concurrent_appends_from_two_processes_lose_nothing(self):
        """O_APPEND writes are atomic with respect to each other on a local filesystem; log files
        written by several processes rely on it."""
        p = os.path.join(self.mnt, "log")
        script = ("import os, sys\n"
                  "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)\n"
                  "for i in range(400):\n"
                  "    rec = f'{sys.argv[2]}{i:05d}'.encode().ljust(int(sys.argv[3]) - 1, b'.') + b'\\n'\n"
                  "    assert os.write(fd, rec) == len(rec)\n"
                  "os.close(fd)\n")
        procs = [subprocess.Popen(["/usr/bin/python3", "-c", script, p, tag, str(size)])
                 for tag, size in (("A", 1000), ("B", 4099))]
        try:
            codes = [pr.wait(timeout=120) for pr in procs]
        finally:
            for pr in procs:
                if pr.poll() is None:
                    pr.kill()
                    pr.wait()
        self.assertEqual(codes, [0, 0])
        self.m.remount()
        lines = read_all(p).split(b"\n")[:-1]
        self.assertEqual(len(lines), 800)
        for tag, size in ((b"A", 1000), (b"B", 4099)):
            mine = [ln for ln in lines if ln.startswith(tag)]
            self.assertEqual([ln[:6] for ln in mine], [tag + b"%05d" % i for i in range(400)])
            self.assertTrue(all(len(ln) == size - 1 for ln in mine), f"torn {tag!r} record")

    def test_block_boundary_writes_and_truncates(self):
        def run(root):
            path = os.path.join(root, "bounds")
            out = []
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                for off, n in ((0, BS - 1), (BS - 1, 1), (BS, 1), (BS + 1, BS), (3 * BS - 1, 2),
                               (5 * BS, BS), (10 * BS + 3, 3 * BS)):
                    os.pwrite(fd, pattern(n, off), off)
                    out.append(os.fstat(fd).st_size)
                for size in (4 * BS + 1, 4 * BS, 4 * BS - 1, 2, 0, 3 * BS + 2, BS):
                    os.ftruncate(fd, size)
                    os.pwrite(fd, b"Z", size + BS // 2)  # the bytes between must be zeros
                    out.append((os.fstat(fd).st_size, os.pread(fd, 2 * BS, max(0, size - BS))))
            finally:
                os.close(fd)
            return out, read_all(path)

        self.both(run)
        self.m.remount()
        self.assertEqual(read_all(os.path.join(self.mnt, "bounds")),
                         read_all(os.path.join(self.scratch, "bounds")))


class SemanticsOtherVolume(Semantics):
    """All of the above on a volume with the other cipher and 64 KiB blocks: the same answers,
    with different block arithmetic inside the daemon."""
    INIT_ARGS = ["--cipher", "xchacha20poly1305", "--block-size", "65536"]


if __name__ == "__main__":
    taprun.main()
