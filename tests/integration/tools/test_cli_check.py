#!/usr/bin/env python3
"""pfcrypt check (issue 6 point 5): a clean volume exits 0; each kind of damage is reported as
exactly that one problem, one line "backing path: plaintext path: cause", exit 1; exit 2 when it
cannot run.  One pristine volume is made once; every test damages its own copy."""
import json
import os
import shutil
import stat
import struct

import taprun
from clienv import KEY, CliEnv

import unittest
from pfcfs import flip
from pfcformat import HEADER_SIZE, SYMLINKS_DIR as SYMLINKS


STORED_BLOCK = 4096 + 36  # AES-256-GCM volume, 4 KiB blocks: gen(8) + nonce(12) + tag(16)
LONG_PREFIX, COMP_SUFFIX = "pfc.long.", ".name"
LONG_TARGET = "../" + "t" * 1990 + "/end"  # > 720 bytes: a companion in .pfcrypt.symlinks (FORMAT.md 8.2)


FILES = {"top.txt": b"top" * 100, "dir/a.txt": bytes(range(256)) * 40,
         "L" * 220: b"a long name in the root", "dir/" + "M" * 230: b"a long name in dir"}


def layout(backing):
    """Backing paths of the pristine volume's parts, found by shape (see FILES)."""
    out = {}
    for n in os.listdir(backing):
        p = os.path.join(backing, n)
        if n in ("pfcrypt.conf", ".pfcrypt.dirid"):
            continue
        if n == SYMLINKS:
            (c,) = os.listdir(p)
            out["longlink_comp"] = os.path.join(p, c)
        elif os.path.islink(p):
            out["longlink" if os.readlink(p).startswith("pfc.symlink.") else "link"] = p
        elif os.path.isdir(p):
            out["dir"] = p
        elif n.startswith(LONG_PREFIX):
            out["rootlong_comp" if n.endswith(COMP_SUFFIX) else "rootlong"] = p
        else:
            out["top"] = p
    for n in os.listdir(out["dir"]):
        p = os.path.join(out["dir"], n)
        if n == ".pfcrypt.dirid":
            continue
        if n.startswith(LONG_PREFIX):
            out["dirlong_comp" if n.endswith(COMP_SUFFIX) else "dirlong"] = p
        else:
            out["a"] = p
    return out


class Check(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.e = CliEnv().__enter__()
        cls.e.init_volume()
        cls.e.mkfiles(cls.e.backing, FILES, symlinks={"link": "dir/a.txt",
                                                           "longlink": LONG_TARGET})
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.e.__exit__(None, None, None)

    def copy(self):
        """A fresh copy of the pristine volume and its layout."""
        Check.n += 1
        dst = os.path.join(self.e.tmp, f"copy{Check.n}")
        shutil.copytree(self.e.backing, dst, symlinks=True)
        return dst, layout(dst)

    def check(self, backing, *args):
        return self.e.pfcrypt("check", backing, *args)

    def copy_problem(self, backing, path, plain, cause):
        """check exits 1 with one problem line "path: plain: cause" beside the conflict copy's note."""
        p = self.check(backing)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        lines = [x for x in p.stdout.splitlines() if not x.startswith("note: ")]
        self.assertEqual(len(lines), 2, p.stdout)  # the problem, the summary
        self.assertTrue(lines[0].startswith(f"{path}: {plain}: " if plain else f"{path}: "),
                        lines[0])
        self.assertIn(cause, lines[0])
        self.assertIn(f"note: {path}: sync-conflict copy", p.stdout)

    def one_problem(self, backing, path, plain, cause, code, block=None):
        """check exits 1 and reports exactly one problem, on path, with that plain path and cause;
        in --json with that stable code (tools/CLI.md "check codes") and, for block damage, the
        block's number and backing offset."""
        p = self.check(backing)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 2, p.stdout)  # the problem, the summary
        expect = f"{path}: {plain}: " if plain else f"{path}: "
        self.assertTrue(lines[0].startswith(expect), f"{lines[0]!r} should start {expect!r}")
        self.assertIn(cause, lines[0])
        self.assertRegex(lines[1], r": 1 problem$")
        j = json.loads(self.check(backing, "--json").stdout)
        self.assertFalse(j["clean"])
        self.assertEqual([(x["backing_path"], x["plain_path"], x["code"]) for x in j["problems"]],
                         [(path, plain, code)])
        at = None if block is None else HEADER_SIZE + block * STORED_BLOCK
        self.assertEqual((j["problems"][0]["block"], j["problems"][0]["offset"]), (block, at))
        return lines[0]

    def test_clean_volume_exits_0(self):
        b, _ = self.copy()
        p = self.check(b)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"2 directories, 4 files, 2 symlinks, \d+ blocks: 0 problems")
        j = json.loads(self.check(b, "--json", "--threads", "1").stdout)
        self.assertTrue(j["clean"])
        self.assertEqual((j["files"], j["problems"]), (4, []))
        self.assertEqual(self.check(b, "--quick").returncode, 0)

    def test_flipped_block_byte(self):
        b, l = self.copy()
        flip(l["a"], HEADER_SIZE + STORED_BLOCK + 100)  # inside block 1
        self.one_problem(b, l["a"], "/dir/a.txt", "block 1 does not authenticate",
                         "block_auth", block=1)
        p = self.check(b, "--quick")
        self.assertEqual(p.returncode, 0, "--quick reads no data block")

    def test_truncated_last_block(self):
        b, l = self.copy()
        size = os.path.getsize(l["top"])
        os.truncate(l["top"], size - (size - HEADER_SIZE) + 20)  # 20 bytes of block 0 remain
        self.one_problem(b, l["top"], "/top.txt", "block 0 is truncated", "block_truncated",
                         block=0)

    def test_flipped_header_byte_in_wrapped_key(self):
        b, l = self.copy()
        blob_ct = 56 + 2 + 1 + 1 + len(KEY) + 4 + 24  # wrapped field: len, version, name, ver, nonce
        flip(l["a"], blob_ct + 7)
        self.one_problem(b, l["a"], "/dir/a.txt", "file key does not unwrap", "key_unwrap")

    def test_cut_header(self):
        b, l = self.copy()
        os.truncate(l["top"], 100)  # shorter than a header
        self.one_problem(b, l["top"], "/top.txt", "bad header", "header_bad")

    def test_flipped_header_byte_in_generation_field(self):
        b, l = self.copy()
        flip(l["top"], 32 + 8 + 3)  # the generation MAC
        self.one_problem(b, l["top"], "/top.txt", "generation field does not authenticate",
                         "header_generation")

    def test_undecryptable_name(self):
        b, l = self.copy()
        moved = os.path.join(b, os.path.basename(l["a"]))  # encrypted under dir's id, not root's
        os.rename(l["a"], moved)
        self.one_problem(b, moved, None, "name does not decrypt", "name_undecryptable")

    def test_long_name_companion_missing(self):
        b, l = self.copy()
        os.unlink(l["rootlong_comp"])
        self.one_problem(b, l["rootlong"], None, "missing", "companion_missing")

    def test_long_name_companion_mismatching(self):
        b, l = self.copy()
        shutil.copyfile(l["dirlong_comp"], l["rootlong_comp"])
        self.one_problem(b, l["rootlong"], None, "does not match its long name",
                         "companion_mismatch")

    def test_orphan_companion(self):
        b, l = self.copy()
        orphan = os.path.join(l["dir"], os.path.basename(l["rootlong_comp"]))
        shutil.copyfile(l["rootlong_comp"], orphan)
        self.one_problem(b, orphan, None, "orphan long-name companion", "companion_orphan")

    def test_missing_dirid(self):
        b, l = self.copy()
        os.unlink(os.path.join(l["dir"], ".pfcrypt.dirid"))
        self.one_problem(b, l["dir"], "/dir", "directory id .pfcrypt.dirid missing",
                         "dirid_missing")

    def test_tampered_symlink_target(self):
        b, l = self.copy()
        t = os.readlink(l["link"])
        os.unlink(l["link"])
        os.symlink(t[:10] + ("A" if t[10] != "A" else "B") + t[11:], l["link"])
        self.one_problem(b, l["link"], "/link", "symlink target does not decrypt",
                         "symlink_undecryptable")

    def test_long_symlink_companion_missing(self):
        b, l = self.copy()
        os.unlink(l["longlink_comp"])
        line = self.one_problem(b, l["longlink"], "/longlink", "symlink companion",
                                "symlink_companion_missing")
        self.assertIn(f"{SYMLINKS}/{os.path.basename(l['longlink_comp'])} missing", line)

    def test_long_symlink_companion_tampered(self):
        b, l = self.copy()
        os.chmod(l["longlink_comp"], 0o644)
        flip(l["longlink_comp"], 100)
        line = self.one_problem(b, l["longlink"], "/longlink", "does not authenticate",
                                "symlink_companion_bad")
        self.assertIn(os.path.basename(l["longlink_comp"]), line)

    def test_orphan_long_symlink_companion(self):
        b, l = self.copy()
        os.unlink(l["longlink"])
        self.one_problem(b, l["longlink_comp"], None, "orphan symlink companion",
                         "symlink_companion_orphan")

    def test_foreign_entry_in_symlink_companion_directory(self):
        b, l = self.copy()
        junk = os.path.join(b, SYMLINKS, "notes.txt")
        with open(junk, "w") as f:
            f.write("x")
        self.one_problem(b, junk, None, "not a symlink companion name", "foreign_entry")

    def test_foreign_file_is_a_problem_and_conflict_copy_a_note(self):
        b, l = self.copy()
        conflict = l["top"] + ".sync-conflict-20260101-120000-ABCDEFG"
        shutil.copyfile(l["top"], conflict)
        p = self.check(b)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(f"note: {conflict}: sync-conflict copy", p.stdout)
        flip(conflict, HEADER_SIZE + 5)  # its contents are checked like any file, and its
        # problems name the plaintext path the mount shows for it (the daemon's rule)
        self.copy_problem(b, conflict, "/top.txt.sync-conflict-20260101-120000-ABCDEFG",
                          "block 0 does not authenticate")
        os.unlink(conflict)
        with open(os.path.join(b, "README.txt"), "w") as f:
            f.write("not ours")
        self.one_problem(b, os.path.join(b, "README.txt"), None, "not a pfcrypt name", "foreign_entry")

    def test_conflict_copies_follow_the_daemons_rule(self):
        """One rule for conflict copies (fs/conflict.c, FORMAT.md 5.6): an encoding directly
        followed by a client's marker.  A copy of a long name shows through the companion of the
        original; a plaintext name that merely contains "conflict" is a foreign entry; a copy
        whose name does not decrypt is a problem (the mount cannot show it)."""
        b, l = self.copy()
        longcopy = l["rootlong"] + " (Ann's conflicted copy 2026-01-02)"
        shutil.copyfile(l["rootlong"], longcopy)
        flip(longcopy, HEADER_SIZE + 5)
        self.copy_problem(b, longcopy, "/" + "L" * 220 + " (Ann's conflicted copy 2026-01-02)",
                          "block 0 does not authenticate")
        os.unlink(longcopy)
        for name in ("notes.conflict.txt", "report (conflicted copy).txt"):
            junk = os.path.join(b, name)
            with open(junk, "w") as f:
                f.write("not ours")
            self.one_problem(b, junk, None, "not a pfcrypt name", "foreign_entry")
            os.unlink(junk)
        junk = os.path.join(b, "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE.conflict1")
        shutil.copyfile(l["top"], junk)
        self.copy_problem(b, junk, None, "name does not decrypt")

    def test_two_directory_ids_after_a_sync_conflict_is_a_note_not_a_problem(self):
        b, l = self.copy()
        with open(os.path.join(l["dir"], ".pfcrypt.dirid.sync-conflict-20260101-1-X"), "wb") as f:
            f.write(os.urandom(16))
        p = self.check(b)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(f"note: {l['dir']}: 2 directory ids", p.stdout)

    def test_tampered_config(self):
        b, _ = self.copy()
        vid = bytes.fromhex(json.loads(self.e.pfcrypt("status", "--json", b).stdout)["volume_id"])
        conf = os.path.join(b, "pfcrypt.conf")
        with open(conf, "rb") as f:
            off = f.read().index(vid)
        flip(conf, off)
        p = self.check(b)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("pfcrypt.conf: volume name key does not unwrap", p.stdout)

    def test_cannot_run_exits_2(self):
        b, _ = self.copy()
        self.assertEqual(self.check(os.path.join(self.e.tmp, "none")).returncode, 2)
        self.e.ks.run("keystore", "lock", check=True)
        try:
            p = self.check(b)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn("locked", p.stderr)
            self.assertEqual(p.stdout, "")
        finally:
            self.e.ks.run("keystore", "unlock", "--passphrase-file", self.e.ks.passfile,
                          check=True)


class Fold(unittest.TestCase):
    def make(self, e, also_a_under_b=False):
        """A volume whose dir "shared" holds names under two ids: a, b under its own id A, then
        (after a sync conflict brought id B = zeros, now the primary) c and a long name under B."""
        e.init_volume()
        e.mkfiles(e.backing, {"shared/a": b"A", "shared/b": b"B" * 5000})
        (shared,) = [n for n in os.listdir(e.backing) if os.path.isdir(os.path.join(e.backing, n))]
        shared = os.path.join(e.backing, shared)
        with open(os.path.join(shared, ".pfcrypt.dirid.sync-conflict-20260101-1-B"), "wb") as f:
            f.write(bytes(16))
        later = {"shared/c": b"C", "shared/" + "Z" * 240: b"long"}
        if also_a_under_b:
            later["shared/a"] = b"other a"
        e.mkfiles(e.backing, later)
        return shared

    def test_fold_dirids_moves_names_to_the_primary_id(self):
        with CliEnv() as e:
            shared = self.make(e)
            before = json.loads(e.pfcrypt("check", "--json", e.backing).stdout)
            self.assertTrue(before["clean"], before)
            self.assertEqual(len(before["notices"]), 1, before)
            p = e.pfcrypt("check", "--fold-dirids", e.backing)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("folded 2 directory ids into one (2 names moved)", p.stdout)
            ids = [n for n in os.listdir(shared) if n.startswith(".pfcrypt.dirid")]
            self.assertEqual(ids, [".pfcrypt.dirid"])
            with open(os.path.join(shared, ".pfcrypt.dirid"), "rb") as f:
                self.assertEqual(f.read(), bytes(16))
            after = json.loads(e.pfcrypt("check", "--json", e.backing).stdout)
            self.assertEqual((after["clean"], after["notices"], after["files"]), (True, [], 4))
            if os.environ.get("PFCRYPTFS"):
                mnt = os.path.join(e.tmp, "mnt")
                e.mount(e.backing, mnt)
                self.assertEqual(sorted(os.listdir(os.path.join(mnt, "shared"))),
                                 sorted(["a", "b", "c", "Z" * 240]))
                with open(os.path.join(mnt, "shared", "b"), "rb") as f:
                    self.assertEqual(f.read(), b"B" * 5000)
                p = e.pfcrypt("check", "--fold-dirids", e.backing)
                self.assertEqual(p.returncode, 2, "refused on a mounted volume")
                self.assertIn("unmount first", p.stderr)
                e.umount(mnt)

    def test_fold_leaves_a_directory_with_a_name_under_both_ids(self):
        with CliEnv() as e:
            shared = self.make(e, also_a_under_b=True)
            p = e.pfcrypt("check", "--fold-dirids", e.backing)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("cannot fold: a name exists under two directory ids", p.stdout)
            ids = [n for n in os.listdir(shared) if n.startswith(".pfcrypt.dirid")]
            self.assertEqual(len(ids), 2, "both ids kept")
            after = json.loads(e.pfcrypt("check", "--json", e.backing).stdout)
            self.assertTrue(after["clean"], after)
            self.assertEqual(after["files"], 5)


if __name__ == "__main__":
    taprun.main()
