"""A hostile backing dir, made at random from a seed (issue 8 point 3).  Shared by
test_faults_hostile.py (a few seeds, CI) and tests/bench/reliability (many seeds).

A volume is filled through the mount with known files (sizes around block boundaries, a sub-dir, a
long name, symlinks), and a second volume of the same keystore and master key gives foreign headers.
Each round starts from a pristine copy of the backing dir and damages it: files truncated inside
the header, inside a block or at a block boundary; the header, or the whole file, taken from the other
volume or from another file; bytes flipped or zeroed; blocks swapped, duplicated or appended; random
garbage in place of a file; and junk entries added (random names that look encrypted, fake long-name
entries and companions, directories, symlinks, a damaged directory id, FIFOs, sockets and device
nodes).  FIFOs, sockets and character/block devices are also put where a regular file belongs
(speciallib.py): in place of a file's contents, of a long name's companion, of a directory id, and
(one round in ten) of the config, which is also the file the daemon's OFD lock is taken on; the
mount must then be refused at once.  Then a new daemon mounts
it and a separate process (so that a hang is caught by a timeout; on expiry the daemon is SIGKILLed,
which is the only way to end a process waiting on it) lists every directory, stats every entry,
reads every file block by block and every symlink; then `pfcrypt check` must end within its timeout
too.  The rules:

- every known name that is listed is one of ours; no junk name ever shows up;
- a block read back is exactly the block written, or all zeros (FORMAT.md: an all-zero stored block
  is a hole, a documented limitation), or the read fails with EIO: anything else would be
  unauthenticated plaintext;
- an open may fail only with EIO, ENOKEY, ENOENT or EPROTONOSUPPORT (unknown header version); a symlink reads back as written or fails;
- untouched files read back exactly, and the daemon is alive at the end.
"""
import errno
import hashlib
import json
import os
import random
import shutil
import subprocess
import signal
import sys
import speciallib
from pfcformat import BS, HEADER_SIZE as HEADER, LONG_PREFIX
from pfcfs import random_bytes as data


# ---- the scanner (runs as a separate process) -----------------------------------------------------

def scan(root):
    out = {}
    for dirpath, dirs, files in os.walk(root, onerror=lambda e: out.setdefault(
            "!walk", []).append([os.path.relpath(e.filename, root), e.errno])):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            e = {}
            try:
                st = os.lstat(p)
            except OSError as x:
                out[rel] = {"lstat": x.errno}
                continue
            if os.path.islink(p):
                try:
                    e["target"] = os.readlink(p)
                except OSError as x:
                    e["readlink"] = x.errno
            elif os.path.isfile(p):
                e["size"] = st.st_size
                try:
                    fd = os.open(p, os.O_RDONLY)
                except OSError as x:
                    e["open"] = x.errno
                else:
                    blocks = []
                    for i in range((st.st_size + BS - 1) // BS):
                        try:
                            b = os.pread(fd, BS, i * BS)
                            blocks.append("Z" if not any(b) else hashlib.sha256(b).hexdigest())
                        except OSError as x:
                            blocks.append(x.errno)
                    os.close(fd)
                    e["blocks"] = blocks
            else:
                e["dir"] = os.path.isdir(p)
            out[rel] = e
    return out


# ---- damage -------------------------------------------------------------------------------------

def _rand_name(rnd):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    k = rnd.choice([1, 10, 43, 44, 64, 86, 200, 255])
    return "".join(rnd.choice(alphabet) for _ in range(k))


def damage_file(rnd, bp, others, foreign, plain_size):
    """Damage one backing file; return the kind."""
    size = os.path.getsize(bp)
    nblocks = (plain_size + BS - 1) // BS
    sb = BS + ((size - HEADER - plain_size) // nblocks if nblocks else 36)
    with open(bp, "rb") as f:
        orig = f.read()
    kinds = ["torn_header", "torn_block", "block_boundary", "foreign_header", "foreign_file",
             "other_header", "other_blocks", "flip", "zero_range", "swap_blocks", "dup_block",
             "append_garbage", "garbage", "header_only"]
    kind = rnd.choice(kinds)
    b = bytearray(orig)
    if kind == "torn_header":
        b = b[:rnd.randrange(1, HEADER)]
    elif kind == "torn_block" and size > HEADER + 1:
        b = b[:rnd.randrange(HEADER + 1, size)]
    elif kind == "block_boundary" and nblocks > 1:
        b = b[:HEADER + sb * rnd.randrange(1, nblocks)]
    elif kind == "foreign_header":
        f = open(rnd.choice(foreign), "rb").read()
        b[:HEADER] = f[:HEADER]
    elif kind == "foreign_file":
        b = bytearray(open(rnd.choice(foreign), "rb").read())
    elif kind == "other_header":
        f = open(rnd.choice(others), "rb").read()
        b[:HEADER] = f[:HEADER]
    elif kind == "other_blocks":
        f = open(rnd.choice(others), "rb").read()
        b = b[:HEADER] + f[HEADER:]
    elif kind == "flip":
        for _ in range(rnd.randrange(1, 4)):
            i = rnd.randrange(len(b))
            b[i] ^= 1 << rnd.randrange(8)
    elif kind == "zero_range":
        i = rnd.randrange(len(b))
        n = rnd.randrange(1, 64)
        b[i:i + n] = bytes(len(b[i:i + n]))
    elif kind == "swap_blocks" and nblocks > 1:
        i, j = rnd.sample(range(nblocks), 2)
        bi = bytes(b[HEADER + i * sb:HEADER + (i + 1) * sb])
        bj = bytes(b[HEADER + j * sb:HEADER + (j + 1) * sb])
        if len(bi) == len(bj):
            b[HEADER + i * sb:HEADER + (i + 1) * sb] = bj
            b[HEADER + j * sb:HEADER + (j + 1) * sb] = bi
    elif kind == "dup_block" and nblocks > 0:
        i = rnd.randrange(nblocks)
        b += b[HEADER + i * sb:HEADER + (i + 1) * sb]
    elif kind == "append_garbage":
        b += rnd.randbytes(rnd.choice([1, 35, 36, 37, sb, sb + 1, 3 * sb]))
    elif kind == "garbage":
        b = bytearray(rnd.randbytes(rnd.choice([1, 255, 256, 257, 300, sb + HEADER, 20000])))
    elif kind == "header_only":
        b = b[:HEADER]
    else:
        b[rnd.randrange(len(b))] ^= 0x80
        kind = "flip"
    with open(bp, "wb") as f:
        f.write(b)
    return kind


def add_junk(rnd, backing, dirs, files):
    """Junk entries; return (how many, the dirs whose directory id was damaged)."""
    n = 0
    bad_dirs = set()
    for _ in range(rnd.randrange(5, 15)):
        d = rnd.choice(dirs)
        what = rnd.choice(["file", "file", "dir", "symlink", "longname", "companion", "dirid",
                           "fifo", "socket", "chardev", "blockdev"])
        name = _rand_name(rnd)
        p = os.path.join(d, name)
        if os.path.lexists(p):
            continue
        if what == "file":
            src = rnd.choice(files)
            content = open(src, "rb").read() if rnd.random() < 0.5 else rnd.randbytes(
                rnd.choice([0, 10, 256, 5000]))
            open(p, "wb").write(content)
        elif what == "dir":
            os.mkdir(p)
            if rnd.random() < 0.5:
                open(os.path.join(p, ".pfcrypt.dirid"), "wb").write(rnd.randbytes(16))
                open(os.path.join(p, _rand_name(rnd)), "wb").write(rnd.randbytes(300))
        elif what == "symlink":
            os.symlink(_rand_name(rnd), p)
        elif what == "longname":
            h = LONG_PREFIX + _rand_name(random.Random(rnd.random()))[:43].ljust(43, "A")
            p = os.path.join(d, h)
            open(p, "wb").write(rnd.randbytes(500))
            if rnd.random() < 0.7:
                open(p + ".name", "wb").write(rnd.randbytes(rnd.choice([0, 50, 300, 400])))
        elif what == "companion":
            h = LONG_PREFIX + "".join(rnd.choice("abcdef") for _ in range(43)) + ".name"
            open(os.path.join(d, h), "wb").write(_rand_name(rnd).encode() * 2)
        elif what == "dirid":
            if d == backing:
                continue
            open(os.path.join(d, ".pfcrypt.dirid"), "wb").write(
                rnd.randbytes(rnd.choice([0, 15, 16, 17])))
            bad_dirs.add(d)
        elif what in speciallib.KINDS:
            speciallib.plant(p, what)
        n += 1
    return n, bad_dirs


# ---- a round ------------------------------------------------------------------------------------

def populate(mnt):
    """Known contents: {relative path: ("file", bytes) | ("link", target) | ("dir",)}."""
    exp = {"sub": ("dir",), "sub/deeper": ("dir",)}
    for d in exp:
        os.mkdir(os.path.join(mnt, d))
    sizes = [0, 1, 100, BS - 1, BS, BS + 1, 2 * BS, 3 * BS + 5, 12289, 50000]
    for i, n in enumerate(sizes):
        for d in ("", "sub/", "sub/deeper/"):
            rel = f"{d}f{i}"
            exp[rel] = ("file", data(rel, n))
    exp["x" * 200] = ("file", data("long", 9000))
    exp["sub/" + "y" * 230] = ("file", data("long2", 100))
    for rel, e in exp.items():
        if e[0] == "file":
            with open(os.path.join(mnt, rel), "wb") as f:
                f.write(e[1])
    for rel, t in (("ln", "f1"), ("sub/ln2", "../nowhere/" + "z" * 100)):
        os.symlink(t, os.path.join(mnt, rel))
        exp[rel] = ("link", t)
    return exp


def backing_map(mnt, backing, exp):
    """{backing relative path: plaintext relative path} of the known entries."""
    by_ino = {}
    for dirpath, dirs, files in os.walk(backing):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            by_ino[os.lstat(p).st_ino] = os.path.relpath(p, backing)
    return {by_ino[os.lstat(os.path.join(mnt, rel)).st_ino]: rel for rel in exp}


def is_content(name):
    return not (name.startswith(".pfcrypt") or name.startswith("pfcrypt.conf")
                or (name.startswith(LONG_PREFIX) and name.endswith(".name")))


def damage(seed, backing, bmap, exp, foreign):
    """Damage the backing dir; return (inputs tried, damaged plaintext paths, kinds)."""
    rnd = random.Random(seed)
    # In plaintext order: backing names differ from volume to volume, a seed must not.
    files = sorted((b for b, rel in bmap.items() if exp[rel][0] == "file"), key=bmap.get)
    victims = rnd.sample(files, rnd.randrange(3, 10))
    damaged, kinds = {}, []   # plaintext path -> what was done to it
    for v in victims:
        rel = bmap[v]
        kinds.append(damage_file(rnd, os.path.join(backing, v),
                                 [os.path.join(backing, o) for o in files if o != v], foreign,
                                 len(exp[rel][1])))
        damaged[rel] = kinds[-1]
    dirs = [backing] + [os.path.join(backing, b) for b, rel in sorted(bmap.items(), key=lambda x: x[1])
                        if exp[rel][0] == "dir"]
    nj, bad_dirs = add_junk(rnd, backing, dirs, [os.path.join(backing, f) for f in files])
    for d in bad_dirs:
        drel = bmap[os.path.relpath(d, backing)]
        damaged.update({rel: "directory id of " + drel for rel in exp
                        if rel.startswith(drel + "/")})
    ns = place_specials(rnd, backing, bmap, exp, damaged)
    kinds += ["special"] * ns
    return len(victims) + nj + ns, damaged, kinds


def place_specials(rnd, backing, bmap, exp, damaged):
    """FIFOs, sockets and devices where a regular file belongs: in place of a file not damaged yet
    (the volume's own node then: listed as such), of a long name's companion (that name is then
    not listed) or of a sub-directory's id (its listing fails with EIO).  Returns how many."""
    n = 0
    for _ in range(rnd.randrange(1, 4)):
        kind = rnd.choice(sorted(speciallib.KINDS))
        place = rnd.choice(["content", "companion", "dirid"])
        by_rel = {rel: b for b, rel in sorted(bmap.items(), key=lambda x: x[1])}
        if place == "content":
            cands = [r for r in sorted(by_rel) if exp[r][0] == "file" and r not in damaged]
            if not cands:
                continue
            rel = rnd.choice(cands)
            path = os.path.join(backing, by_rel[rel])
        elif place == "companion":
            cands = [r for r in sorted(by_rel) if os.path.basename(by_rel[r]).startswith(
                LONG_PREFIX) and r not in damaged]
            if not cands:
                continue
            rel = rnd.choice(cands)
            path = os.path.join(backing, by_rel[rel] + ".name")
        else:
            cands = [r for r in sorted(by_rel) if exp[r][0] == "dir"]
            rel = rnd.choice(cands)
            path = os.path.join(backing, by_rel[rel], ".pfcrypt.dirid")
            damaged.update({r: f"special {kind} directory id of {rel}" for r in exp
                            if r.startswith(rel + "/")})
        if os.path.lexists(path):
            os.unlink(path)
        speciallib.plant(path, kind)
        damaged.setdefault(rel, f"special {kind} {place}")
        n += 1
    return n


def judge(found, exp, damaged):
    """Problems of one scan against what was written."""
    problems = []
    for wrel, werr in found.pop("!walk", []):
        if werr != errno.EIO or not any(d.startswith(wrel + "/") for d in damaged):
            problems.append(f"listing {wrel}: {errno.errorcode.get(werr, werr)}")
    for rel, e in sorted(found.items()):
        what = f"{rel} [{damaged.get(rel, 'untouched')}]"
        if rel not in exp:
            problems.append(f"{rel!r}: a name that was never written is listed")
            continue
        kind = exp[rel][0]
        ok = rel not in damaged
        if "lstat" in e:
            if ok or e["lstat"] not in (errno.EIO, errno.ENOENT):
                problems.append(f"{what}: lstat {errno.errorcode.get(e['lstat'])}")
        elif kind == "link":
            if e.get("target") != exp[rel][1] and (ok or e.get("readlink") != errno.EIO):
                problems.append(f"{what}: symlink {e}")
        elif kind == "dir":
            if not e.get("dir"):
                problems.append(f"{what}: not a directory")
        elif "open" in e:
            # EPROTONOSUPPORT: a header whose version byte says "a format this build does not
            # know" (fs/err.c maps PFC_ERR_UNKNOWN_VERSION so); no plaintext either way.
            if ok or e["open"] not in (errno.EIO, errno.ENOKEY, errno.ENOENT,
                                       errno.EPROTONOSUPPORT):
                problems.append(f"{what}: open {errno.errorcode.get(e['open'])}")
        elif "blocks" in e:
            want = exp[rel][1]
            if ok and e["size"] != len(want):
                problems.append(f"{what}: size {e['size']} != {len(want)}")
            for i, h in enumerate(e["blocks"]):
                wb = want[i * BS:(i + 1) * BS]
                good = hashlib.sha256(wb).hexdigest() if any(wb) else "Z"
                if h == good:
                    continue
                if not ok and (h == errno.EIO or h == "Z"):
                    continue
                problems.append(f"{what}: block {i}: "
                                + (errno.errorcode.get(h, str(h)) if isinstance(h, int) else
                                   "plaintext that was never written there"))
        elif damaged.get(rel, "").startswith("special "):
            pass   # a FIFO, socket or device in its place: the volume's own node, never opened
        else:
            problems.append(f"{what}: {e}")
    for rel in exp:
        if rel not in found and rel not in damaged:
            problems.append(f"{rel}: no longer listed")
    return problems


def scan_mount(m, timeout=120):
    """Scan m.mnt in a separate process; a hang is a problem, not a stuck test: the daemon is
    SIGKILLed (a process waiting on a hung daemon cannot be killed otherwise) and m unmounted."""
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "scan", m.mnt],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if m.daemon is not None and m.daemon.poll() is None:
            m.daemon.send_signal(signal.SIGKILL)
        p.kill()
        p.communicate()
        m._kill_daemon()
        return None, f"HANG: scan of {m.mnt} did not finish in {timeout}s (daemon SIGKILLed)"
    if p.returncode != 0:
        return None, f"scan failed: {err.decode(errors='replace')[-2000:]}"
    return json.loads(out), None


def restore(pristine, backing):
    for n in os.listdir(backing):
        p = os.path.join(backing, n)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    for n in os.listdir(pristine):
        s, d = os.path.join(pristine, n), os.path.join(backing, n)
        if os.path.isdir(s) and not os.path.islink(s):
            shutil.copytree(s, d, symlinks=True)
        else:
            shutil.copy2(s, d, follow_symlinks=False)


def config_round(m, seed, pristine):
    """One round in ten: a FIFO, socket or device as pfcrypt.conf (the file the daemon also takes
    its OFD lock on): the mount and check must refuse it at once, naming it.  Problems, or None
    if this round is not one."""
    rnd = random.Random(seed * 7919 + 1)
    if rnd.random() >= 0.1:
        return None
    kind = rnd.choice(sorted(speciallib.KINDS))
    restore(pristine, m.backing)
    os.unlink(os.path.join(m.backing, "pfcrypt.conf"))
    speciallib.plant(os.path.join(m.backing, "pfcrypt.conf"), kind)
    problems = []
    try:
        m.mount()   # bounded by pfcfs.MOUNT_WAIT_S
        problems.append(f"config {kind}: mounted")
        m._kill_daemon()
    except AssertionError as e:   # pfcfs.FixtureError
        if speciallib.refusal(kind) not in str(e):
            problems.append(f"config {kind}: mount refused, but not for that: {e}")
    rc, out = speciallib.check(m)
    if rc != 2 or speciallib.refusal(kind) not in out:
        problems.append(f"config {kind}: check exited {rc}: {out[-500:]}")
    restore(pristine, m.backing)
    m.mount()
    return problems


def hostile_round(m, seed, pristine, bmap, exp, foreign):
    """The mount m is unmounted on entry and mounted on return.  Returns (inputs, problems, kinds)."""
    cfg = config_round(m, seed, pristine)
    if cfg is not None:
        return 1, cfg, ["special config"]
    restore(pristine, m.backing)
    inputs, damaged, kinds = damage(seed, m.backing, bmap, exp, foreign)
    m.mount()
    found, err = scan_mount(m)
    if err:
        m.mount()
        return inputs, [err], kinds
    problems = judge(found, exp, damaged)
    if m.daemon.poll() is not None:
        problems.append(f"daemon exited {m.daemon.returncode}")
    rc, out = speciallib.check(m)   # on the mounted volume: it must end too
    if rc not in (0, 1):
        problems.append(f"pfcrypt check: {out[-1000:]}" if rc is None else
                        f"pfcrypt check exited {rc}: {out[-1000:]}")
    return inputs, problems, kinds


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "scan":
    json.dump(scan(sys.argv[2]), sys.stdout)
