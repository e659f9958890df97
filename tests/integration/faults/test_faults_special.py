#!/usr/bin/env python3
"""A FIFO, socket, character or block device node in every place of the backing dir where a regular
file is expected (issue 17 point 2): a file's contents, a long-name companion, a directory id (at a
listing, an rmdir and check --fold-dirids), a symlink target's companion, the config (which is also
the file the daemon's OFD lock is taken on, fs/daemon/rails.c) and the config's scratch file.  For each kind in each place, on a fresh copy of the same volume:

- the mount's listing, stat and reads return promptly: an error for that entry only, every other
  entry listed and read back exactly (a listing skips a long name whose companion is not a regular
  file, as it skips one whose companion is damaged); the daemon logs one line naming the backing path
  and "not a regular file (<kind>)"; a create that would write into such a companion fails with EIO;
- a node with an encrypted name in a file's place is the volume's own FIFO, socket or device
  (FORMAT.md 5.6: they pass through): listed as such, never opened by the daemon, not a problem;
- `pfcrypt check` ends within its timeout and names the entry: "not a regular file (<kind>)";
- a config of that kind: the mount is refused at once with that cause, and so is check.

Every operation runs under a timeout (speciallib.probe: a child process; on expiry the daemon is
SIGKILLed so that the child can end) and a hang fails the test loudly.
"""
import hashlib
import os
import shutil
import stat
import subprocess
import unittest

import hostilelib
import pfcfs
import speciallib
import taprun

LONG = "L" * 200          # a long name: its backing entry has a companion (FORMAT.md 5.5)
LONG2 = "M" * 200         # removed before each round: its companion's place is free to plant in
TARGET = "t/" * 400       # a symlink target over 720 bytes: kept in a companion (FORMAT.md 8.2)
FILES = {"keep": pfcfs.random_bytes("keep", 5000), "a": pfcfs.random_bytes("a", 100),
         LONG: pfcfs.random_bytes("long", 9000), "d/x": pfcfs.random_bytes("dx", 4097)}


class SpecialFiles(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.m = m = pfcfs.Mount()
        m.__enter__()
        try:
            m.expect_stderr(rb"^pfcryptfs: warning: .*not a regular file \(")
            os.mkdir(os.path.join(m.mnt, "d"))
            os.mkdir(os.path.join(m.mnt, "e"))
            for rel, data in FILES.items():
                with open(os.path.join(m.mnt, rel), "wb") as f:
                    f.write(data)
            with open(os.path.join(m.mnt, LONG2), "wb") as f:
                f.write(b"m")
            os.symlink(TARGET, os.path.join(m.mnt, "sl"))
            rel = lambda p: os.path.relpath(pfcfs.backing_of(m, os.path.join(m.mnt, p)), m.backing)
            cls.b = {p: rel(p) for p in ("a", LONG, LONG2, "d", "e")}
            os.unlink(os.path.join(m.mnt, LONG2))   # its companion goes with it
            (comp,) = os.listdir(os.path.join(m.backing, ".pfcrypt.symlinks"))
            cls.b["sl companion"] = os.path.join(".pfcrypt.symlinks", comp)
            m.unmount()
            cls.pristine = os.path.join(m.tmp, "pristine")
            shutil.copytree(m.backing, cls.pristine, symlinks=True)
        except BaseException:
            m.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls):
        m = cls.m
        m._kill_daemon()
        hostilelib.restore(cls.pristine, m.backing)   # clean again for the fixture's check
        m.mount()
        m.__exit__(None, None, None)

    # ---- one round ----------------------------------------------------------------------------
    def plant(self, kind, rel):
        """A fresh copy of the volume with a `kind` node at rel (taprun shows no subTest, so the
        assertion messages carry the kind: self.kind)."""
        m = self.m
        self.kind = kind
        m._kill_daemon()
        hostilelib.restore(self.pristine, m.backing)
        path = os.path.join(m.backing, rel)
        if os.path.lexists(path):
            os.unlink(path)
        speciallib.plant(path, kind)
        return path

    def probe(self, ops):
        res, err = speciallib.probe(self.m, [[op, os.path.join(self.m.mnt, p)] for op, p in ops])
        if err:
            self.fail(err)
        return res

    def others_intact(self, listing, skip=()):
        """Every known entry but those in skip is listed, and every file of them reads back."""
        want = sorted({"keep", "a", LONG, "d", "e", "sl"} - set(skip))
        missing = [n for n in want if n not in listing]
        self.assertEqual(missing, [], f"entries no longer listed: {missing} (listing {listing})")
        files = [p for p in FILES if p.split("/")[0] not in skip]
        got = self.probe([["read", p] for p in files])
        for p, r in zip(files, got):
            self.assertEqual(r, {"ok": hashlib.sha256(FILES[p]).hexdigest()}, p)

    def daemon_said(self, path, kind):
        """The daemon's log names path and the refusal; the daemon is still serving."""
        text = self.m._stderr_text()
        want = speciallib.refusal(kind)
        self.assertTrue(any(path in l and want in l for l in text.splitlines()),
                        f"no log line naming {path} and '{want}' in:\n{text[-3000:]}")
        self.m.check_daemon()

    def check_says(self, rel, kind, code=1):
        rc, out = speciallib.check(self.m)
        if rc is None:
            self.fail(out)
        self.assertEqual(rc, code, out)
        want = speciallib.refusal(kind)
        self.assertTrue(any(rel in l and want in l for l in out.splitlines()),
                        f"check does not name {rel} with '{want}':\n{out[-3000:]}")

    # ---- the places ---------------------------------------------------------------------------
    def test_companion(self):
        for kind in speciallib.KINDS:
            path = self.plant(kind, self.b[LONG] + ".name")
            self.check_says(self.b[LONG] + ".name", kind)   # first: it hung until SIGKILL
            self.m.mount()
            ls, st = self.probe([["listdir", ""], ["lstat", LONG]])
            self.assertIn("ok", ls, ls)
            self.assertNotIn(LONG, ls["ok"], "a name without its companion is not listed")
            self.assertEqual(set(st), {"ok"}, "found by its name: the hash needs no companion")
            self.others_intact(ls["ok"], skip=(LONG,))
            self.daemon_said(path, kind)
            # a create whose companion's place holds such a node: EIO, nothing written to it
            path2 = os.path.join(self.m.backing, self.b[LONG2] + ".name")
            speciallib.plant(path2, kind)
            (cr,) = self.probe([["create", LONG2]])
            self.assertEqual(cr, {"errno": 5}, "create over a non-regular companion")
            self.assertEqual(stat.S_IFMT(os.lstat(path2).st_mode), speciallib.KINDS[kind][0])
            self.daemon_said(path2, kind)
            self.m.unmount()
            self.check_says(self.b[LONG2] + ".name", kind)

    def test_directory_id(self):
        for kind in speciallib.KINDS:
            path = self.plant(kind, os.path.join(self.b["d"], ".pfcrypt.dirid"))
            speciallib.plant(os.path.join(self.m.backing, self.b["e"], ".pfcrypt.dirid.x"),
                             kind)   # beside e's good id: ignored (FORMAT.md 5.4)
            self.m.mount()
            ls, sub, st = self.probe([["listdir", ""], ["listdir", "d"], ["lstat", "d"]])
            self.assertEqual(sub, {"errno": 5}, "a directory without an id cannot be listed")
            self.assertIn("ok", st)
            self.others_intact(ls["ok"], skip=("d",))
            self.daemon_said(path, kind)
            self.m.unmount()
            self.check_says(os.path.join(self.b["d"], ".pfcrypt.dirid"), kind)
            self.check_says(os.path.join(self.b["e"], ".pfcrypt.dirid.x"), kind)

    def test_directory_id_of_an_empty_directory_at_rmdir(self):
        for kind in speciallib.KINDS:
            self.plant(kind, os.path.join(self.b["e"], ".pfcrypt.dirid"))
            self.m.mount()
            (rm,) = self.probe([["rmdir", "e"]])   # it held nothing but its (bad) id
            self.assertEqual(rm, {"ok": True})
            self.assertFalse(os.path.lexists(os.path.join(self.m.backing, self.b["e"])))
            ls, = self.probe([["listdir", ""]])
            self.others_intact(ls["ok"], skip=("e",))
            self.m.unmount()

    def test_directory_id_at_fold(self):
        """check --fold-dirids reads every id file of a directory with two ids: one more that is a
        FIFO, socket or device is never opened (a FIFO hung the fold) and goes with the others."""
        m = self.m
        for kind in speciallib.KINDS:
            dpath = os.path.join(m.backing, self.b["d"])
            self.plant(kind, os.path.join(self.b["d"], ".pfcrypt.dirid.fifo"))
            shutil.copy(os.path.join(m.backing, self.b["e"], ".pfcrypt.dirid"),
                        os.path.join(dpath, ".pfcrypt.dirid.conflict1"))   # a second id
            try:
                p = subprocess.run([m.keystore.cli, "--socket", m.keystore.sock, "check",
                                    "--fold-dirids", m.backing], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, env=m.keystore.env,
                                   timeout=speciallib.CHECK_TIMEOUT_S, check=False)
            except subprocess.TimeoutExpired:
                self.fail(f"{kind}: HANG: check --fold-dirids did not finish in "
                          f"{speciallib.CHECK_TIMEOUT_S:g}s (killed)")
            out = p.stdout.decode(errors="replace")
            self.assertIn("folded 2 directory ids into one", out, f"{kind}: {out}")
            self.assertEqual(sorted(n for n in os.listdir(dpath) if n.startswith(".pfcrypt")),
                             [".pfcrypt.dirid"], f"{kind}: one id left")
            m.mount()
            (x,) = self.probe([["read", "d/x"]])
            self.assertEqual(x, {"ok": hashlib.sha256(FILES["d/x"]).hexdigest()}, kind)
            m.unmount()

    def test_file_contents(self):
        for kind in speciallib.KINDS:
            self.plant(kind, self.b["a"])
            self.m.mount()
            ls, st = self.probe([["listdir", ""], ["lstat", "a"]])
            self.assertIn("a", ls["ok"])
            self.assertEqual(stat.S_IFMT(st["ok"]), speciallib.KINDS[kind][0],
                             "the volume's own node, passed through")
            self.others_intact(ls["ok"], skip=("a",))
            self.m.unmount()
            rc, out = speciallib.check(self.m)
            self.assertEqual(rc, 0, out)

    def test_symlink_companion(self):
        # fs/symlink.c treats a companion that is not a regular file as missing (never opened)
        self.m.expect_stderr(rb"^pfcryptfs: error: .*: symlink target companion .*: not found$")
        for kind in speciallib.KINDS:
            self.plant(kind, self.b["sl companion"])
            self.m.mount()
            ls, rl, st = self.probe([["listdir", ""], ["readlink", "sl"], ["lstat", "sl"]])
            self.assertEqual(rl, {"errno": 5}, f"{kind}: readlink of a symlink whose target's "
                             "companion is not a regular file")
            self.assertIn("ok", st)
            self.others_intact(ls["ok"])
            self.m.unmount()
            self.check_says(self.b["sl companion"], kind)

    def test_config(self):
        m = self.m
        for kind in speciallib.KINDS:
            self.plant(kind, "pfcrypt.conf")
            with self.assertRaises(pfcfs.FixtureError) as cm:
                m.mount()   # bounded by pfcfs.MOUNT_WAIT_S
            self.assertIn("pfcrypt.conf", str(cm.exception))
            self.assertIn(speciallib.refusal(kind), str(cm.exception))
            self.check_says("pfcrypt.conf", kind, code=2)

    def test_config_scratch_file(self):
        for kind in speciallib.KINDS:
            self.plant(kind, ".pfcrypt.conf.tmp")
            self.m.mount()
            ls, = self.probe([["listdir", ""]])
            self.others_intact(ls["ok"])
            self.m.unmount()
            self.check_says(".pfcrypt.conf.tmp", kind)


if __name__ == "__main__" and os.environ.get("PFC_SPECIAL_ONE"):
    unittest.main(argv=[__file__, os.environ["PFC_SPECIAL_ONE"]])
elif __name__ == "__main__":
    taprun.main()
