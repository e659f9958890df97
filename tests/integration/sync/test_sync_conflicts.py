#!/usr/bin/python3
"""Issue 9 points 4-6, with two machines A and B (synclib.Pair) whose backing dirs rsync carries:

4. conflict copies made the way Syncthing, Dropbox, Nextcloud and rclone bisync name them (rsync
   --backup --suffix=<marker> keeps the receiver's version under <enc><marker>, as those clients do):
   both versions are shown, the copy as <name><marker>, both readable, in both mounts; names that do
   not decrypt are skipped with one log line each, the rest of the listing works;
5. concurrent mkdir: both machines create the same directory and different files in it; merged, the
   directory holds two directory ids; every file is visible and readable in both mounts, new names
   work on both sides, `pfcrypt check` notes the two ids and `check --fold-dirids` folds them;
6. half-synced states (truncated mid-block, header only, header cut short, directory without its id
   file, long-name entry without its companion): a per-file error (EIO + a log line, or skipped), the
   rest readable, no crash, and `pfcrypt check` names each.
"""
import errno
import os
import subprocess
import unittest

import pfcfs
import pfcformat
import taprun
from pfcfs import backing_of, read_all as read
from synclib import RSYNC, PairMixin, wait_for, write

# Conflict markers as each client appends them to a name without an extension (encrypted names have
# no dot, so the whole name is the "base").
MARKERS = {
    "syncthing": ".sync-conflict-20260102-030405-ABCDEFG",
    "dropbox": " (Ann's conflicted copy 2026-01-02)",
    "nextcloud": " (conflicted copy 2026-01-02 030405)",
    "rclone-bisync": ".conflict1",
}
LONG = "L" * 200
WARN = r"^pfcryptfs: (warning|error): "


def check_output(m, *args):
    p = subprocess.run([m.keystore.cli, "--socket", m.keystore.sock, "check", *args, m.backing],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=m.keystore.env,
                       timeout=120, check=False)
    return p.returncode, p.stdout.decode(errors="replace")


class PairTest(PairMixin, unittest.TestCase):
    pass


class ConflictCopies(PairTest):
    def test_each_clients_conflict_copy_shows_both_versions(self):
        p = self.pair
        names = {client: f"doc-{client}" for client in MARKERS}
        for n in names.values():
            write(self.a(n), b"base " + n.encode())
        p.rsync()
        wait_for(lambda: all(os.path.exists(self.b(n)) for n in names.values()), "base versions")
        self.addCleanup(self.clean_backings)
        for n in names.values():  # both edit before the next sync
            write(self.a(n), b"A's edit of " + n.encode() * 3)
            write(self.b(n), b"B's edit of " + n.encode())
        for client, n in names.items():
            marker = MARKERS.get(client, MARKERS["syncthing"])
            enc = os.path.basename(backing_of(p.b, self.b(n)))
            # The client keeps B's version as <enc><marker> and puts A's in place.
            pfcfs.run(RSYNC + ["--backup", f"--suffix={marker}",
                       os.path.join(p.a.backing, enc), os.path.join(p.b.backing, enc)])
        p.rsync(p.b, p.a)  # and carries the copies back to A
        for client, n in names.items():
            marker = MARKERS.get(client, MARKERS["syncthing"])
            for m, mnt in ((p.a, self.a), (p.b, self.b)):
                # Until the kernel asks again, B's name may still lead to B's old inode (now the
                # conflict copy): within VISIBLE_S both names must show their own version.
                dt = wait_for(lambda: read(mnt(n)) == b"A's edit of " + n.encode() * 3 and
                              read(mnt(n + marker)) == b"B's edit of " + n.encode(),
                              f"{client}: {n[:12]} and its conflict copy in {m.mnt}")
                print(f"# {client}: both versions readable in {os.path.dirname(m.mnt)} after {dt:.2f}s")
        listing = sorted(os.listdir(self.b()))
        want = sorted(list(names.values()) +
                      [n + MARKERS.get(c, MARKERS["syncthing"]) for c, n in names.items()])
        self.assertEqual(listing, want)
        rc, out = check_output(p.b)
        print("# " + out.strip().replace("\n", "\n# "))
        self.assertEqual(rc, 0, out)
        for c, n in names.items():  # resolve: keep A's versions
            os.unlink(self.a(n + MARKERS.get(c, MARKERS["syncthing"])))
        p.rsync()
        wait_for(lambda: sorted(os.listdir(self.b())) == sorted(names.values()), "resolved")
        for n in names.values():
            os.unlink(self.a(n))
        p.rsync()

    def test_long_name_conflict_copy(self):
        """A conflict copy of a long-name entry is "pfc.long.<hash><marker>" (the client copies the
        entry only; the companion "pfc.long.<hash>.name" stays): it must show as <long name><marker>."""
        p = self.pair
        self.addCleanup(self.clean_backings)
        write(self.a(LONG), b"base")
        p.rsync()
        wait_for(lambda: os.path.exists(self.b(LONG)), "long name in B")
        write(self.a(LONG), b"A's long edit")
        write(self.b(LONG), b"B's")
        marker = MARKERS["syncthing"]
        enc = os.path.basename(backing_of(p.b, self.b(LONG)))
        pfcfs.run(RSYNC + ["--backup", f"--suffix={marker}",
                   os.path.join(p.a.backing, enc), os.path.join(p.b.backing, enc)])
        print(f"# B's backing: {sorted(os.listdir(p.b.backing))}")
        try:
            wait_for(lambda: read(self.b(LONG)) == b"A's long edit" and
                     read(self.b(LONG + marker)) == b"B's", "long name and its conflict copy")
        finally:
            print(f"# B lists {[n[:12] + '...' + n[-40:] for n in os.listdir(self.b())]}")

    def test_undecryptable_conflict_copy_is_logged(self):
        p = self.pair
        junk = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE.sync-conflict-20260102-1-X"
        p.b.expect_stderr(WARN)
        self.addCleanup(self.clean_backings)
        write(os.path.join(p.b.backing, junk), b"junk")
        wait_for(lambda: os.stat(self.b()).st_mtime_ns >= os.stat(p.b.backing).st_mtime_ns, "junk")
        pos = os.path.getsize(p.b.stderr_path)
        self.assertEqual(os.listdir(self.b()), [])
        with open(p.b.stderr_path, "rb") as f:
            f.seek(pos)
            lines = [ln for ln in f.read().decode(errors="replace").splitlines() if junk in ln]
        print(f"# {len(lines)} log line(s) for one listing: {lines[:1]}")
        self.assertEqual(len(lines), 1)

    def clean_backings(self):
        """Leave volumes the fixture's check accepts, even after a failure."""
        for m in (self.pair.a, self.pair.b):
            for e in os.listdir(m.backing):
                if e not in ("pfcrypt.conf", ".pfcrypt.dirid"):
                    os.unlink(os.path.join(m.backing, e))

    def test_undecryptable_names_are_skipped_with_one_log_line_each(self):
        p = self.pair
        write(self.a("keep"), b"keep me")
        p.rsync()
        wait_for(lambda: os.path.exists(self.b("keep")), "keep")
        # Names shaped like encrypted names that do not decrypt (each must be logged once per
        # listing), and names that are not pfcrypt's at all (skipped; logging them is optional).
        bad = ["A" * 43, "B" * 85 + "A"]  # 64 bytes
        foreign = ["hello.txt", ".DS_Store", "pfc.long." + "B" * 43]
        p.b.expect_stderr(WARN)
        self.addCleanup(self.clean_backings)
        for j in bad + foreign:
            write(os.path.join(p.b.backing, j), b"junk")
        wait_for(lambda: "junk" not in os.listdir(self.b()) and
                 os.stat(self.b()).st_mtime_ns >= os.stat(p.b.backing).st_mtime_ns, "new junk")
        pos = os.path.getsize(p.b.stderr_path)
        listing = os.listdir(self.b())  # one listing
        print(f"# B lists {listing}")
        self.assertEqual(listing, ["keep"])
        self.assertEqual(read(self.b("keep")), b"keep me")
        with open(p.b.stderr_path, "rb") as f:
            f.seek(pos)
            log = f.read().decode(errors="replace")
        for j in bad + foreign:
            lines = [ln for ln in log.splitlines() if j in ln]
            print(f"# {j!r}: {len(lines)} log line(s) for one listing: {lines[:1]}")
            if j in bad:
                self.assertEqual(len(lines), 1, f"log lines naming {j!r}")
        rc, out = check_output(p.b)
        print("# " + out.strip().replace("\n", "\n# "))
        self.assertEqual(rc, 1, out)
        for j in bad + foreign:
            self.assertIn(j, out)
        os.unlink(self.a("keep"))
        p.rsync()


class ConcurrentMkdir(PairTest):
    def test_same_directory_made_on_both_machines(self):
        p = self.pair
        os.mkdir(self.a("proj"))
        os.mkdir(self.b("proj"))
        mine = {"a1": b"from A 1", "a2": b"from A 2" * 1000, "shared-name-A": b"A"}
        theirs = {"b1": b"from B 1", "b2": b"from B 2" * 700, LONG: b"B long"}
        for n, d in mine.items():
            write(self.a("proj", n), d)
        for n, d in theirs.items():
            write(self.b("proj", n), d)
        # The sync client merges: A's directory id file wins, B's is kept as a conflict copy, the
        # entries of both sides stay (no --delete: nothing was deleted on either side).
        pfcfs.run(RSYNC + ["--backup",
                   "--suffix=.sync-conflict-20260102-030405-BBBBBBB",
                   p.a.backing + "/", p.b.backing + "/"])
        pfcfs.run(RSYNC + [p.b.backing + "/", p.a.backing + "/"])
        ids = sorted(n for n in os.listdir(os.path.join(p.a.backing, os.path.basename(
            backing_of(p.a, self.a("proj"))))) if n.startswith(".pfcrypt.dirid"))
        print(f"# merged directory holds {ids}")
        self.assertEqual(len(ids), 2)
        everything = dict(mine, **theirs)
        for m, mnt in ((p.a, self.a), (p.b, self.b)):
            wait_for(lambda: sorted(os.listdir(mnt("proj"))) == sorted(everything),
                     f"merged listing in {m.mnt}")
            for n, d in everything.items():
                self.assertEqual(read(mnt("proj", n)), d, f"{n} in {m.mnt}")
        # New names on both sides after the merge, carried over: readable on the other side.
        write(self.a("proj", "new-in-A"), b"new A")
        write(self.b("proj", "new-in-B"), b"new B")
        pfcfs.run(RSYNC + [p.a.backing + "/", p.b.backing + "/"])
        pfcfs.run(RSYNC + [p.b.backing + "/", p.a.backing + "/"])
        for mnt in (self.a, self.b):
            wait_for(lambda: os.path.exists(mnt("proj", "new-in-A")) and
                     os.path.exists(mnt("proj", "new-in-B")), "new names")
            self.assertEqual(read(mnt("proj", "new-in-A")), b"new A")
            self.assertEqual(read(mnt("proj", "new-in-B")), b"new B")
        rc, out = check_output(p.b)
        print("# " + out.strip().replace("\n", "\n# "))
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"(?m)^note: .*(directory id|dirid)")
        # Fold (unmounted only), then B's mount lists and reads everything under one id.
        p.b.unmount()
        rc, out = check_output(p.b, "--fold-dirids")
        print("# " + out.strip().replace("\n", "\n# "))
        self.assertEqual(rc, 0, out)
        p.b.mount()
        bdir = backing_of(p.b, self.b("proj"))
        self.assertEqual([n for n in os.listdir(bdir) if n.startswith(".pfcrypt.dirid")],
                         [".pfcrypt.dirid"])
        everything.update({"new-in-A": b"new A", "new-in-B": b"new B"})
        self.assertEqual(sorted(os.listdir(self.b("proj"))), sorted(everything))
        for n, d in everything.items():
            self.assertEqual(read(self.b("proj", n)), d, n)
        # The fold carried to A (renames: rsync deletes the old names) reads there too.
        p.rsync(p.b, p.a)
        wait_for(lambda: sorted(os.listdir(self.a("proj"))) == sorted(everything), "folded in A")
        for n, d in everything.items():
            self.assertEqual(read(self.a("proj", n)), d, n)


class HalfSynced(pfcfs.MountTestCase):
    """A sync client caught mid-transfer: the damage is made in the backing dir directly."""

    BS = pfcformat.BS

    def setUp(self):
        super().setUp()
        self.m.expect_stderr(WARN)

    def log_since(self, start):
        with open(self.m.stderr_path, "rb") as f:
            f.seek(start)
            return f.read().decode(errors="replace")

    def log_pos(self):
        return os.path.getsize(self.m.stderr_path)

    def check_names(self, backing_path):
        rc, out = check_output(self.m)
        print("# " + out.strip().replace("\n", "\n# "))
        self.assertEqual(rc, 1, out)
        rel = os.path.relpath(backing_path, self.m.backing)
        self.assertIn(rel, out)
        return out

    def test_truncated_mid_block(self):
        f = os.path.join(self.mnt, "partial")
        data = os.urandom(3 * self.BS)
        write(f, data)
        b = backing_of(self.m, f)
        sbs = (os.path.getsize(b) - 256) // 3
        os.truncate(b, 256 + sbs + sbs // 2)
        pos = self.log_pos()
        with open(f, "rb") as fh:
            self.assertEqual(fh.read(self.BS), data[:self.BS])  # block 0 still reads
            with self.assertRaises(OSError) as cm:
                fh.read()
            self.assertEqual(cm.exception.errno, errno.EIO)
        log = wait_for(lambda: os.path.basename(b) in self.log_since(pos), "log line") is not None
        self.assertTrue(log)
        print("# " + self.log_since(pos).strip().replace("\n", "\n# "))
        self.check_names(b)
        os.unlink(f)

    def test_header_only(self):
        """Header without blocks: a well-formed empty file (FORMAT.md: the size comes from the
        backing size alone), until the blocks arrive."""
        f1 = os.path.join(self.mnt, "header-only")
        write(f1, b"x" * 5000)
        b1 = backing_of(self.m, f1)
        with open(b1, "rb") as fh:
            saved = fh.read()
        os.truncate(b1, 256)
        wait_for(lambda: os.stat(f1).st_size == 0, "size 0")
        self.assertEqual(read(f1), b"")
        with open(b1, "r+b") as fh:  # the rest arrives
            fh.seek(256)
            fh.write(saved[256:])
        wait_for(lambda: read(f1) == b"x" * 5000, "blocks arrived")
        os.unlink(f1)

    def test_header_cut_short(self):
        f2 = os.path.join(self.mnt, "header-cut")
        write(f2, b"y" * 5000)
        b2 = backing_of(self.m, f2)
        self.addCleanup(lambda: os.unlink(b2))
        os.truncate(b2, 100)
        wait_for(lambda: os.stat(f2).st_size == 0, "size 0")
        pos = self.log_pos()
        with self.assertRaises(OSError) as cm:
            read(f2)
        self.assertEqual(cm.exception.errno, errno.EIO)
        print("# " + self.log_since(pos).strip().replace("\n", "\n# "))
        self.assertIn(os.path.basename(b2), self.log_since(pos))
        self.check_names(b2)

    def test_directory_without_its_id_file(self):
        d = os.path.join(self.mnt, "nodirid")
        os.mkdir(d)
        write(os.path.join(d, "inside"), b"inside")
        bd = backing_of(self.m, d)
        idfile = os.path.join(bd, ".pfcrypt.dirid")
        with open(idfile, "rb") as fh:
            saved = fh.read()
        os.unlink(idfile)
        subprocess.run(["sh", "-c", "echo 2 > /proc/sys/vm/drop_caches"], check=False)
        pos = self.log_pos()
        err = None
        try:
            listing = os.listdir(d)
            print(f"# listing without the id file: {listing}")
            self.assertNotIn("inside", listing)
        except OSError as e:
            err = e.errno
            print(f"# listing without the id file: {errno.errorcode[err]}")
            self.assertEqual(err, errno.EIO)
        self.assertEqual(sorted(os.listdir(self.mnt)).count("nodirid"), 1)  # the parent still lists
        print("# " + self.log_since(pos).strip().replace("\n", "\n# "))
        self.check_names(bd)
        with open(idfile, "wb") as fh:  # the rest of the sync arrives
            fh.write(saved)
        wait_for(lambda: os.listdir(d) == ["inside"], "id file back")
        os.unlink(os.path.join(d, "inside"))
        os.rmdir(d)

    def test_long_name_without_companion(self):
        f = os.path.join(self.mnt, LONG)
        write(f, b"long")
        write(os.path.join(self.mnt, "short"), b"short")
        b = backing_of(self.m, f)
        comp = b + ".name"
        self.assertTrue(os.path.exists(comp))
        with open(comp, "rb") as fh:
            saved = fh.read()
        os.unlink(comp)
        pos = self.log_pos()
        try:
            wait_for(lambda: os.listdir(self.mnt) == ["short"], "entry skipped")
        finally:
            print(f"# lists {os.listdir(self.mnt)}")
        print("# " + self.log_since(pos).strip().replace("\n", "\n# "))
        self.check_names(b)
        with open(comp, "wb") as fh:
            fh.write(saved)
        wait_for(lambda: sorted(os.listdir(self.mnt)) == sorted([LONG, "short"]), "companion back")
        self.assertEqual(read(f), b"long")
        os.unlink(f)
        os.unlink(os.path.join(self.mnt, "short"))


if __name__ == "__main__":
    taprun.main()
