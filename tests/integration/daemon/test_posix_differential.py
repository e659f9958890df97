#!/usr/bin/env python3
"""Differential test: one random operation sequence on the mount and on a plain directory.

Each step applies the same operation (same arguments, same random data) under a root inside the
mount and under a root in a plain directory on the backing disk, and compares the results: return
values, data read, and the errno of failures.  After every step the two trees are compared (names,
types, modes, owners, sizes, link counts, symlink targets, which paths share an inode), the contents of
the files the step touched are compared, and every FULL_EVERY steps everything is compared including
all contents and user xattrs.  At the end of each seed the volume is unmounted and mounted again (a new
daemon, so nothing comes from its caches or the kernel's page cache) and compared once more.

A failure message names the seed, the step, the operation and its arguments, and the operations just
before it: rerun one seed with  PFC_DIFF_SEEDS=<seed>  (and PFC_DIFF_STEPS=<n> to shorten).
"""
import ctypes
import errno
import hashlib
import mmap
import os
import random
import shutil
import stat
import threading

import pfcfs
import taprun

SEEDS = [int(s) for s in os.environ.get("PFC_DIFF_SEEDS", "1,2,3,4,5,6").split(",")]
# The same on a volume with the other cipher, 16 KiB blocks and no holes (zeros stored as blocks).
OTHER_SEEDS = [int(s) for s in os.environ.get("PFC_DIFF_OTHER_SEEDS", "101,102").split(",") if s]
OTHER_INIT = ["--cipher", "xchacha20poly1305", "--block-size", "16384", "--no-holes"]
STEPS = int(os.environ.get("PFC_DIFF_STEPS", "1000"))
FULL_EVERY = 60
MAX_ENTRIES = 40  # above this many entries, removals are favoured
MAX_HELD = 4  # file descriptors kept open across steps (open-unlink-keep-using)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
FALLOC_FL_KEEP_SIZE = 1


def renameat2(old, new, flags):
    if _libc.renameat2(AT_FDCWD, old, AT_FDCWD, new, flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def fallocate(fd, mode, offset, length):
    if _libc.fallocate(fd, mode, offset, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


# Names: short ones mostly; long ones near and past NAME_MAX; odd bytes (space, control, UTF-8,
# invalid UTF-8).  b"N"*256 must fail with ENAMETOOLONG on both sides.
NAMES = [b"a", b"b", b"c", b"d", b"f.txt", b"with space", b" lead", b"trail ", b"-dash", b".hidden",
         "\u00fcn\u00efc\u00f6d\u20ac".encode(), b"bad\xff\xfeutf8", b"\x01ctl\x7f", b"\xc3(",
         b"L" * 200, b"M" * 255, "\u00e9".encode() * 127, b"N" * 256, b"k" * 254 + b"\xff"]
NAME_WEIGHTS = [8, 8, 8, 8, 4, 3, 2, 2, 2, 2, 3, 3, 2, 2, 2, 2, 2, 1, 1]
# The longest user xattr name a volume stores is "user." + 160 bytes (PFC_XATTR_SUFFIX_MAX in
# fs/format.h: the encrypted name must fit ext4's 255); test_posix_semantics checks the limit itself.
XATTR_NAMES = [b"user.a", b"user.b", b"user.long." + b"x" * 155, "user.\u00fc".encode()]
NON_DIRS = {stat.S_IFREG, stat.S_IFLNK, stat.S_IFIFO}
BOUNDARIES = [0, 1, 4095, 4096, 4097, 8191, 8192, 8193, 12287, 12288, 12289, 16383, 16384, 16385,
              32768, 65536]


def short(v):
    """repr for messages: long byte strings shortened, with their length."""
    if isinstance(v, bytes) and len(v) > 40:
        return repr(v[:24])[:-1] + f"...'[{len(v)}B]"
    return repr(v)


class R:
    """A path or target in a description (shortened when printed)."""

    def __init__(self, v):
        self.v = v

    def __format__(self, spec):
        return short(self.v)


def result_of(fn):
    """('ok', value) or ('err', errno name): what both sides must agree on."""
    try:
        return ("ok", fn())
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, str(e.errno)))


class Side:
    """One of the two trees, with the file descriptors held open in it."""

    def __init__(self, root):
        self.root = root
        self.held = []  # fds, same index on both sides

    def p(self, rel):
        return os.path.join(self.root, rel) if rel else self.root


class Snapshot:
    """Everything compared between the trees, with contents only for the files asked for."""

    @staticmethod
    def take(side, content_paths, full):
        entries = {}
        inodes = {}
        stack = [b""]
        while stack:
            rel = stack.pop()
            with os.scandir(side.p(rel)) as it:
                dirents = {e.name: e for e in it}
            names = sorted(dirents)
            entries[(rel, "listing")] = names
            for name in names:
                crel = os.path.join(rel, name) if rel else name
                st = os.lstat(side.p(crel))
                kind = stat.S_IFMT(st.st_mode)
                info = [kind, stat.S_IMODE(st.st_mode), st.st_nlink, st.st_uid, st.st_gid]
                # readdir's d_type and d_ino agree with lstat (find and rsync trust d_type).
                e = dirents[name]
                info.append(("dirent", e.is_dir(follow_symlinks=False), e.is_symlink(),
                             e.is_file(follow_symlinks=False), e.inode() == st.st_ino))
                if not stat.S_ISDIR(st.st_mode):
                    info.append(st.st_size)
                    inodes.setdefault(st.st_ino, []).append(crel)
                if stat.S_ISLNK(st.st_mode):
                    info.append(os.readlink(side.p(crel)))
                if stat.S_ISREG(st.st_mode) and (full or crel in content_paths):
                    with open(side.p(crel), "rb") as f:
                        info.append(hashlib.sha256(f.read()).hexdigest())
                if full and (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                    names_x = sorted(n for n in os.listxattr(side.p(crel), follow_symlinks=False)
                                     if n.startswith("user."))
                    info.append([(n, os.getxattr(side.p(crel), n, follow_symlinks=False))
                                 for n in names_x])
                entries[(crel, "entry")] = info
                if stat.S_ISDIR(st.st_mode):
                    stack.append(crel)
        # Which paths share an inode: label each path by the smallest path of its inode.
        for paths in inodes.values():
            label = min(paths)
            for path in paths:
                entries[(path, "entry")].append(("inode-of", label))
        return entries


class Differential:
    def __init__(self, test, m, seed, a_root, b_root):
        self.test = test
        self.m = m
        self.rng = random.Random(seed)
        self.seed = seed
        self.a = Side(a_root)
        self.b = Side(b_root)
        self.log = []
        self.step = 0
        self.touched = set()
        self.xattr_paths = []

    # ---- choosing arguments (from the plain side, which is the model) --------------------------
    def existing(self, kinds=None):
        out = []
        for dirpath, dirs, files in os.walk(self.b.root):
            rel = os.path.relpath(dirpath, self.b.root)
            rel = b"" if rel == b"." else rel
            for n in dirs + files:
                crel = os.path.join(rel, n) if rel else n
                if kinds is None or stat.S_IFMT(os.lstat(self.b.p(crel)).st_mode) in kinds:
                    out.append(crel)
        return sorted(out)

    def dirs(self):
        return [b""] + self.existing({stat.S_IFDIR})

    def new_path(self):
        parent = self.rng.choice(self.dirs())
        name = self.rng.choices(NAMES, NAME_WEIGHTS)[0]
        return os.path.join(parent, name) if parent else name

    def any_path(self, kinds=None, p_existing=0.85):
        ex = self.existing(kinds)
        if ex and self.rng.random() < p_existing:
            return self.rng.choice(ex)
        return self.new_path()

    def file_path(self):
        return self.any_path({stat.S_IFREG}, p_existing=0.93)

    def size_of(self, rel):
        try:
            return os.stat(self.b.p(rel)).st_size
        except OSError:
            return 0

    def offset(self, size):
        r = self.rng
        return max(0, r.choice(BOUNDARIES + [size, size - 1, size + 1, size + 4096, size + 10000,
                                             r.randrange(0, 40000)]))

    def length(self):
        r = self.rng
        return r.choice([1, 2, 4095, 4096, 4097, 8192, 8193, r.randrange(1, 20000), r.randrange(1, 300)])

    def data(self, n):
        kind = self.rng.random()
        if kind < 0.15:
            return bytes(n)  # explicit zeros must not turn into anything else
        if kind < 0.3:
            return bytes([self.rng.randrange(256)]) * n
        return self.rng.randbytes(n)

    def is_fifo(self, rel):
        try:
            return stat.S_ISFIFO(os.stat(self.b.p(rel)).st_mode)
        except OSError:
            return False

    # ---- operations: each returns (description, fn(side) -> comparable value) ------------------
    def op_create(self):
        rel = self.new_path() if self.rng.random() < 0.6 else self.any_path()
        flags = os.O_CREAT | os.O_WRONLY
        if self.rng.random() < 0.4:
            flags |= os.O_EXCL
        if self.rng.random() < 0.3:
            flags |= os.O_TRUNC
        mode = self.rng.choice([0o600, 0o644, 0o755, 0o400, 0o666])
        if self.is_fifo(rel):
            return None
        self.touched.add(rel)

        def fn(s):
            fd = os.open(s.p(rel), flags, mode)
            os.close(fd)
        return f"create {R(rel)} flags={flags:#o} mode={mode:#o}", fn

    def op_write(self):
        rel = self.file_path()
        if self.is_fifo(rel):
            return None
        off, data = self.offset(self.size_of(rel)), self.data(self.length())
        self.touched.add(rel)

        def fn(s):
            fd = os.open(s.p(rel), os.O_WRONLY)
            try:
                return os.pwrite(fd, data, off)
            finally:
                os.close(fd)
        return f"pwrite {R(rel)} off={off} len={len(data)}", fn

    def op_read(self):
        rel = self.file_path()
        if self.is_fifo(rel):
            return None
        off, n = self.offset(self.size_of(rel)), self.length()

        def fn(s):
            fd = os.open(s.p(rel), os.O_RDONLY)
            try:
                return os.pread(fd, n, off)
            finally:
                os.close(fd)
        return f"pread {R(rel)} off={off} len={n}", fn

    def op_append(self):
        rel = self.file_path()
        if self.is_fifo(rel):
            return None
        data = self.data(self.length())
        self.touched.add(rel)

        def fn(s):
            fd = os.open(s.p(rel), os.O_WRONLY | os.O_APPEND)
            try:
                n = os.write(fd, data)
                return n, os.lseek(fd, 0, os.SEEK_CUR), os.fstat(fd).st_size
            finally:
                os.close(fd)
        return f"append {R(rel)} len={len(data)}", fn

    def op_truncate(self):
        rel = self.file_path()
        if self.is_fifo(rel):
            return None
        size = self.size_of(rel)
        new = max(0, self.rng.choice(BOUNDARIES + [size - 1, size + 1, size + 5000, size // 2,
                                                   self.rng.randrange(0, 50000)]))
        self.touched.add(rel)
        return f"truncate {R(rel)} {new}", lambda s: os.truncate(s.p(rel), new)

    def op_fallocate(self):
        if not self.m.caps["fallocate_modes"]:
            return None
        rel = self.file_path()
        if self.is_fifo(rel):
            return None
        mode = self.rng.choice(self.m.caps["fallocate_modes"])
        off, n = self.offset(self.size_of(rel)), self.length()
        self.touched.add(rel)

        def fn(s):
            fd = os.open(s.p(rel), os.O_RDWR)
            try:
                fallocate(fd, mode, off, n)
                return os.fstat(fd).st_size
            finally:
                os.close(fd)
        return f"fallocate {R(rel)} mode={mode} off={off} len={n}", fn

    def op_rename(self):
        src = self.any_path(p_existing=0.95)
        dst = self.any_path(p_existing=0.5)
        flags = 0
        if self.m.caps["renameat2_flags"]:
            flags = self.rng.choice([0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE])
        self.touched.update((src, dst))
        return (f"renameat2 {R(src)} -> {R(dst)} flags={flags}",
                lambda s: renameat2(s.p(src), s.p(dst), flags))

    def op_link(self):
        src = self.any_path(p_existing=0.95)
        dst = self.new_path() if self.rng.random() < 0.8 else self.any_path()
        self.touched.add(dst)
        return (f"link {R(src)} -> {R(dst)}",
                lambda s: os.link(s.p(src), s.p(dst), follow_symlinks=False))

    def op_unlink(self):
        rel = self.any_path(NON_DIRS if self.rng.random() < 0.9 else None, p_existing=0.95)
        return f"unlink {R(rel)}", lambda s: os.unlink(s.p(rel))

    def op_mkdir(self):
        rel = self.new_path()
        mode = self.rng.choice([0o755, 0o700, 0o777, 0o500])
        return f"mkdir {R(rel)} {mode:#o}", lambda s: os.mkdir(s.p(rel), mode)

    def op_rmdir(self):
        empty = [d for d in self.dirs() if d and not os.listdir(self.b.p(d))]
        if empty and self.rng.random() < 0.7:
            rel = self.rng.choice(empty)
        else:
            rel = self.any_path({stat.S_IFDIR}, p_existing=0.9)
        return f"rmdir {R(rel)}", lambda s: os.rmdir(s.p(rel))

    def op_symlink(self):
        rel = self.new_path()
        r = self.rng.random()
        if r < 0.4:
            target = self.any_path()  # relative to the root, so it may or may not resolve
        elif r < 0.6:
            # ".." that never climbs above the link's directory: links get renamed, and a target
            # that leaves the root would let a create through it escape the compared trees.
            target = b"d/../" * self.rng.randrange(0, 3) + self.rng.choices(NAMES[:14], NAME_WEIGHTS[:14])[0]
        elif r < 0.8:
            target = b"/nonexistent/pfc-posix/" + self.rng.randbytes(8).hex().encode()
        else:  # long targets: the encrypted form must still fit
            target = (b"dir/" * 600)[: self.rng.choice([255, 256, 1000, 2047])]
        return f"symlink {R(rel)} -> {R(target)}", lambda s: os.symlink(target, s.p(rel))

    def op_readlink(self):
        rel = self.any_path({stat.S_IFLNK} if self.rng.random() < 0.8 else None)
        return f"readlink {R(rel)}", lambda s: os.readlink(s.p(rel))

    def op_chmod(self):
        rel = self.any_path()
        mode = self.rng.choice([0o644, 0o600, 0o755, 0o700, 0o444, 0o000, 0o777, 0o640, 0o4755, 0o2755])
        return f"chmod {R(rel)} {mode:#o}", lambda s: os.chmod(s.p(rel), mode)

    def op_chown(self):
        rel = self.any_path()
        uid, gid = self.rng.choice([0, 1000, 65534]), self.rng.choice([0, 100, 65534])
        return (f"lchown {R(rel)} {uid}:{gid}",
                lambda s: os.chown(s.p(rel), uid, gid, follow_symlinks=False))

    def op_utime(self):
        rel = self.any_path()
        ns = (self.rng.randrange(0, 2**34) * 10**9 + self.rng.randrange(10**9),
              self.rng.randrange(0, 2**34) * 10**9 + self.rng.randrange(10**9))
        follow = self.rng.random() < 0.7

        def fn(s):
            os.utime(s.p(rel), ns=ns, follow_symlinks=follow)
            st = os.stat(s.p(rel), follow_symlinks=follow)
            return st.st_atime_ns, st.st_mtime_ns
        return f"utime {R(rel)} ns={ns} follow={follow}", fn

    def op_setxattr(self):
        rel = self.any_path()
        name = self.rng.choice(XATTR_NAMES)
        # ext4 holds all xattrs of an inode in one 4 KiB block; stay well inside it, so that the
        # encrypted names and values of the backing fit too and ENOSPC never differs by design.
        value = self.rng.randbytes(self.rng.choice([0, 1, 17, 255, 600]))
        flags = self.rng.choice([0, 0, os.XATTR_CREATE, os.XATTR_REPLACE])
        self.touched.add(rel)
        self.xattr_paths.append(rel)
        return (f"setxattr {R(rel)} {R(name)} len={len(value)} flags={flags}",
                lambda s: os.setxattr(s.p(rel), name, value, flags))

    def xattr_path(self):
        """Mostly a path that had an xattr set, so that get/remove find something."""
        if self.xattr_paths and self.rng.random() < 0.8:
            return self.rng.choice(self.xattr_paths[-20:])
        return self.any_path()

    def op_getxattr(self):
        rel, name = self.xattr_path(), self.rng.choice(XATTR_NAMES)
        return f"getxattr {R(rel)} {R(name)}", lambda s: os.getxattr(s.p(rel), name)

    def op_listxattr(self):
        rel = self.xattr_path()
        return (f"listxattr {R(rel)}",
                lambda s: sorted(n for n in os.listxattr(s.p(rel)) if n.startswith("user.")))

    def op_removexattr(self):
        rel, name = self.xattr_path(), self.rng.choice(XATTR_NAMES)
        return f"removexattr {R(rel)} {R(name)}", lambda s: os.removexattr(s.p(rel), name)

    def op_mkfifo(self):
        rel = self.new_path()
        return f"mkfifo {R(rel)}", lambda s: os.mkfifo(s.p(rel), 0o644)

    def op_listdir(self):
        rel = self.any_path()
        return f"listdir {R(rel)}", lambda s: sorted(os.listdir(s.p(rel)))

    def op_stat(self):
        rel = self.any_path()

        def fn(s):
            st = os.stat(s.p(rel))
            size = None if stat.S_ISDIR(st.st_mode) else st.st_size
            return st.st_mode, st.st_nlink, size
        return f"stat {R(rel)}", fn

    def op_mmap(self):
        """Write through a shared writable mapping of an existing file (no growth: a mapping
        cannot extend a file), then read the mapped range back with pread."""
        rel = self.file_path()
        if self.is_fifo(rel) or self.size_of(rel) == 0:
            return None
        size = self.size_of(rel)
        start = self.rng.randrange(size)
        data = self.data(min(self.length(), size - start))
        self.touched.add(rel)

        def fn(s):
            fd = os.open(s.p(rel), os.O_RDWR)
            try:
                with mmap.mmap(fd, size) as mm:
                    mm[start:start + len(data)] = data
                    mm.flush()
                return os.pread(fd, len(data) + 2, start)
            finally:
                os.close(fd)
        return f"mmap-write {R(rel)} off={start} len={len(data)}", fn

    def op_copy_range(self):
        src, dst = self.file_path(), self.file_path()
        if self.is_fifo(src) or self.is_fifo(dst):
            return None
        off_in, off_out, n = self.offset(self.size_of(src)), self.offset(self.size_of(dst)), self.length()
        self.touched.add(dst)

        def fn(s):
            fi = os.open(s.p(src), os.O_RDONLY)
            try:
                fo = os.open(s.p(dst), os.O_WRONLY)
                try:
                    # A short copy is allowed; loop like cp does, and report the total.
                    done = 0
                    while done < n:
                        k = os.copy_file_range(fi, fo, n - done, off_in + done, off_out + done)
                        if k == 0:
                            break
                        done += k
                    return done
                finally:
                    os.close(fo)
            finally:
                os.close(fi)
        return f"copy_file_range {R(src)}@{off_in} -> {R(dst)}@{off_out} len={n}", fn

    def op_hold(self):
        if len(self.a.held) >= MAX_HELD:
            return None
        rel = self.file_path()
        if self.is_fifo(rel):
            return None

        def fn(s):
            s.held.append(os.open(s.p(rel), os.O_RDWR))
        return f"hold-open {R(rel)} as #{len(self.a.held)}", fn

    def op_held(self):
        if not self.a.held:
            return None
        i = self.rng.randrange(len(self.a.held))
        what = self.rng.choice(["write", "write", "read", "read", "ftruncate", "fstat", "fsync", "close"])
        off, n = self.offset(os.fstat(self.b.held[i]).st_size), self.length()
        data = self.data(n)
        size = self.rng.choice(BOUNDARIES)

        def fn(s):
            fd = s.held[i]
            if what == "write":
                return os.pwrite(fd, data, off)
            if what == "read":
                return os.pread(fd, n, off)
            if what == "ftruncate":
                return os.ftruncate(fd, size)
            if what == "fsync":
                return os.fsync(fd)
            if what == "close":
                s.held.pop(i)
                return os.close(fd)
            st = os.fstat(fd)
            return st.st_size, st.st_nlink, stat.S_IMODE(st.st_mode)
        self.touched.update(self.existing({stat.S_IFREG}))  # the fd may be any of them, or none
        return f"held #{i} {what} off={off} len={n} size={size}", fn

    OPS = [("create", 8), ("write", 14), ("read", 8), ("append", 5), ("truncate", 5), ("fallocate", 3),
           ("rename", 7), ("link", 4), ("unlink", 5), ("mkdir", 3), ("rmdir", 3), ("symlink", 4),
           ("readlink", 2), ("chmod", 3), ("chown", 2), ("utime", 3), ("setxattr", 3),
           ("getxattr", 2), ("listxattr", 1), ("removexattr", 1), ("mkfifo", 1), ("listdir", 2),
           ("stat", 2), ("hold", 2), ("held", 6), ("mmap", 2), ("copy_range", 2)]

    # ---- running ------------------------------------------------------------------------------
    def fail(self, what):
        recent = "\n".join(f"  {i}: {d}" for i, d in self.log[-15:])
        self.test.fail(f"seed {self.seed} step {self.step} (mode {self.m.mode}): {what}\n"
                       f"last operations:\n{recent}\nrerun: PFC_DIFF_SEEDS={self.seed} "
                       f"PFC_DIFF_STEPS={self.step + 1}")

    def compare(self, full):
        paths = self.touched
        sa = Snapshot.take(self.a, paths, full)
        sb = Snapshot.take(self.b, paths, full)
        if sa != sb:
            diffs = []
            for k in sorted(set(sa) | set(sb)):
                if sa.get(k) != sb.get(k):
                    diffs.append(f"  {k[1]} {short(k[0])}: mount={sa.get(k)!r:.300} plain={sb.get(k)!r:.300}")
            self.fail("trees differ after the operation:\n" + "\n".join(diffs[:12]))
        self.touched = set()

    def run_step(self):
        names = [n for n, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        if len(self.existing()) > MAX_ENTRIES:
            weights = [w * (6 if n in ("unlink", "rmdir") else 1) for n, w in self.OPS]
        while True:
            op = getattr(self, "op_" + self.rng.choices(names, weights)[0])()
            if op is not None:
                break
        desc, fn = op
        self.log.append((self.step, desc))
        rb = result_of(lambda: fn(self.b))
        ra = result_of(lambda: fn(self.a))
        if ra != rb:
            self.fail(f"{desc}: mount gave {ra!r:.400}, plain gave {rb!r:.400}")
        self.compare(full=self.step % FULL_EVERY == FULL_EVERY - 1)

    def close_held(self):
        for s in (self.a, self.b):
            while s.held:
                os.close(s.held.pop())


class DifferentialBase(pfcfs.MountTestCase):
    """run_seed; the test methods (one per seed) are added to the subclasses below."""

    def backing_listing(self):
        if self.m.mode == "plain":
            return None
        return sorted(os.path.relpath(p, self.m.backing) for p, _ in self.m.backing_files())

    def run_seed(self, seed):
        a_root = os.path.join(os.fsencode(self.mnt), b"diff-%d" % seed)
        b_root = os.path.join(os.fsencode(self.scratch), b"diff-%d" % seed)
        backing_before = self.backing_listing()
        os.mkdir(a_root)
        os.mkdir(b_root)
        d = Differential(self, self.m, seed, a_root, b_root)
        try:
            for d.step in range(STEPS):
                d.run_step()
                if d.step == STEPS // 2:  # midway: a new daemon must see the same trees
                    d.close_held()
                    self.m.remount()
                    d.compare(full=True)
            d.close_held()
            d.compare(full=True)
            # A new daemon: what the trees hold now must come from the backing dir.
            self.m.remount()
            d.step = "after remount"
            d.compare(full=True)
            self.m.check_volume()
            shutil.rmtree(a_root)
            self.assertNotIn(os.path.basename(a_root), os.listdir(os.fsencode(self.mnt)))
            # Nothing left behind in the backing dir (long-name companions, temp files...).
            self.assertEqual(self.backing_listing(), backing_before)
        finally:
            d.close_held()
            shutil.rmtree(a_root, ignore_errors=True)
            shutil.rmtree(b_root, ignore_errors=True)


CONCURRENT_SEEDS = [301, 302, 303, 304]
CONCURRENT_STEPS = int(os.environ.get("PFC_DIFF_CONCURRENT_STEPS", "400"))


class DifferentialConcurrentTest(DifferentialBase):
    def test_four_sequences_at_once(self):
        """Four random sequences in four threads, each in its own directory of one mount (the
        syscalls run in parallel: Python releases its lock around them), each compared with its
        own plain directory; then a remount and a full comparison of every tree."""
        backing_before = self.backing_listing()
        runs = []
        for seed in CONCURRENT_SEEDS:
            a_root = os.path.join(os.fsencode(self.mnt), b"conc-%d" % seed)
            b_root = os.path.join(os.fsencode(self.scratch), b"conc-%d" % seed)
            os.mkdir(a_root)
            os.mkdir(b_root)
            runs.append(Differential(self, self.m, seed, a_root, b_root))
        failures = []

        def work(d):
            try:
                for d.step in range(CONCURRENT_STEPS):
                    d.run_step()
            except BaseException as e:  # self.fail raises in this thread: carry it over
                failures.append(str(e))
            finally:
                d.close_held()

        threads = [threading.Thread(target=work, args=(d,)) for d in runs]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual(failures, [])
        self.m.remount()
        for d in runs:
            d.step = "after remount"
            d.compare(full=True)
            shutil.rmtree(d.a.root)
            shutil.rmtree(d.b.root)
        self.m.check_volume()
        self.assertEqual(self.backing_listing(), backing_before)


def _seed_test(seed):
    def test(self):
        self.run_seed(seed)
    test.__doc__ = f"random operation sequence, seed {seed}, on the mount and on a plain dir"
    return test


class DifferentialTest(DifferentialBase):
    """The default volume: AES-256-GCM (on this CPU), 4 KiB blocks, holes kept sparse."""


class DifferentialOtherVolumeTest(DifferentialBase):
    INIT_ARGS = OTHER_INIT


for _seed in SEEDS:  # one TAP line per seed
    setattr(DifferentialTest, f"test_seed_{_seed}", _seed_test(_seed))
for _seed in OTHER_SEEDS:
    setattr(DifferentialOtherVolumeTest, f"test_seed_{_seed}", _seed_test(_seed))


if __name__ == "__main__":
    taprun.main()
