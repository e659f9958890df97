#!/usr/bin/env python3
"""`pfcrypt check` on the deliberately broken golden volumes of tests/vectors/broken-v1/.

A keystore of our own (tests/lib/pfcfs.py's Keystore) gets the master keys of broken-v1/keys.json
through `pfcrypt import` (a bundle made here, tests/lib/ks.py) and their states (one version
retired through the protocol); each volume of the MANIFEST is copied to a temp dir and checked
with `--json`.  Every MANIFEST line is one test case: that problem (or note) is reported for its
path, with its cause.  Per volume, one more case: nothing else is reported, and the text output
says the same.  And the committed bytes are what broken_gen.py makes (the generator is only for
regenerating, but it must still make exactly these).
"""
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import ks
import pfcfs
import taprun

HERE = os.path.dirname(os.path.abspath(__file__))
BROKEN = os.path.join(HERE, "broken-v1")
EXPORT_PASSPHRASE = b"broken-v1 export passphrase"


def read_manifest():
    """[(what, volume, backing, plain or None, cause)] in file order."""
    out = []
    with open(os.path.join(BROKEN, "MANIFEST")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            what, volume, backing, plain, cause = line.rstrip("\n").split("\t")
            out.append((what, volume, backing, None if plain == "-" else plain, cause))
    return out


MANIFEST = read_manifest()
VOLUMES = sorted({m[1] for m in MANIFEST})


class BrokenVolumes(unittest.TestCase):
    ks = None
    tmp = None
    results = {}  # volume -> (exit code, json, text output)

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pfc-broken-")
        try:
            cls._setup()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _setup(cls):
        with open(os.path.join(BROKEN, "keys.json")) as f:
            keys = json.load(f)
        env = dict(os.environ, PFCRYPT_KEYSTORE_BIN=pfcfs.binary("PFCRYPT_KEYSTORE",
                                                                 "pfcrypt-keystore"))
        env.pop("PFCRYPT_SOCKET", None)
        cls.ks = pfcfs.Keystore(cls.tmp, passphrase=keys["passphrase"].encode(), env=env)
        cls.ks.start()
        by_name = {}
        for k in keys["keys"]:
            by_name.setdefault(k["name"], []).append((k["version"], bytes.fromhex(k["key"])))
        for name, versions in by_name.items():
            bundle = os.path.join(cls.tmp, name + ".bundle")
            with open(bundle, "wb") as f:
                f.write(ks.make_bundle(name, sorted(versions), EXPORT_PASSPHRASE))
            passfile = os.path.join(cls.tmp, "export-passphrase")
            with open(passfile, "wb") as f:
                f.write(EXPORT_PASSPHRASE + b"\n")
            cls.ks.run("import", bundle, "--export-passphrase-file", passfile, check=True)
        with ks.Client(cls.ks.sock) as c:
            for k in keys["keys"]:
                if k["state"] == "retired":
                    c.retire(k["name"], k["version"], proof=keys["passphrase"].encode())
            states = {(n, v): s for n, v, s, _c, _r in c.list()}
        want = {(k["name"], k["version"]): {"primary": 1, "active": 2, "retired": 3}[k["state"]]
                for k in keys["keys"]}
        if states != want:
            raise AssertionError(f"keystore states {states}, wanted {want}")
        for volume in VOLUMES:
            copy = os.path.join(cls.tmp, volume)
            shutil.copytree(os.path.join(BROKEN, volume), copy, symlinks=True)
            p = cls.ks.run("check", "--json", copy)
            t = cls.ks.run("check", copy)
            try:
                doc = json.loads(p.stdout)
            except ValueError as e:
                raise AssertionError(f"check --json {volume}: not JSON ({e}):\n{p.stdout}\n"
                                     f"{p.stderr}") from None
            cls.results[volume] = (p.returncode, doc, t.returncode, t.stdout, copy)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.ks is not None:
                cls.ks.stop()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def reports(self, volume, what):
        _rc, doc, _trc, _text, copy = self.results[volume]
        key = "problems" if what == "problem" else "notices"
        out = []
        for p in doc[key]:
            b = p["backing_path"]
            # the JSON names the backing path as check printed it: BACKING/<path>
            if b.startswith(copy + "/"):
                b = b[len(copy) + 1:]
            out.append((b, p["plain_path"], p["cause"]))
        return out

    def check_line(self, what, volume, backing, plain, cause):
        got = self.reports(volume, what)
        self.assertTrue((backing, plain, cause) in got,
                      f"{volume}: {what} not reported as expected; {what}s for that path: "
                      f"{[g for g in got if g[0] == backing]}")

    def check_nothing_else(self, volume):
        rc, doc, trc, text, copy = self.results[volume]
        for what in ("problem", "notice"):
            want = sorted((b, p, c) for w, v, b, p, c in MANIFEST if v == volume and w == what)
            self.assertEqual(sorted(self.reports(volume, what)), want, f"{volume}: {what}s")
        self.assertEqual(rc, 1, "check exits 1 when it found problems")
        self.assertFalse(doc["clean"])
        # The text output: one line per problem, "note:" per notice, then the summary.
        self.assertEqual(trc, 1)
        lines = text.splitlines()
        for w, v, b, p, c in MANIFEST:
            if v != volume:
                continue
            # tools/CLI.md: a note names the backing path only
            if w == "notice":
                line = f"note: {copy}/{b}: {c}"
            else:
                line = f"{copy}/{b}: " + (f"{p}: " if p else "") + c
            self.assertIn(line, lines)
        n = sum(1 for m in MANIFEST if m[1] == volume and m[0] == "problem")
        self.assertTrue(lines[-1].startswith(f"check {copy}: "), lines[-1])
        self.assertTrue(lines[-1].endswith(f": {n} problem{'s' if n != 1 else ''}"), lines[-1])
        self.assertEqual(len(lines), len([m for m in MANIFEST if m[1] == volume]) + 1, text)

    def test_generator_makes_the_committed_bytes(self):
        out = os.path.join(self.tmp, "regenerated")
        p = subprocess.run([sys.executable, os.path.join(HERE, "broken_gen.py"), out],
                           capture_output=True, text=True, timeout=120, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        diffs = []

        def compare(a, b, rel=""):
            names_a, names_b = sorted(os.listdir(a)), sorted(os.listdir(b))
            if names_a != names_b:
                diffs.append(f"{rel or '.'}: {sorted(set(names_a) ^ set(names_b))}")
            for n in set(names_a) & set(names_b):
                pa, pb, r = os.path.join(a, n), os.path.join(b, n), os.path.join(rel, n)
                if os.path.islink(pa) or os.path.islink(pb):
                    if not (os.path.islink(pa) and os.path.islink(pb)) or \
                            os.readlink(pa) != os.readlink(pb):
                        diffs.append(r + " (symlink)")
                elif os.path.isdir(pa) and os.path.isdir(pb):
                    compare(pa, pb, r)
                elif not (os.path.isfile(pa) and os.path.isfile(pb)) or \
                        not filecmp.cmp(pa, pb, shallow=False):
                    diffs.append(r)

        compare(BROKEN, out)
        self.assertEqual(diffs, [], "broken-v1 differs from what broken_gen.py makes")


def _add_cases():
    seen = set()
    for i, m in enumerate(MANIFEST):
        what, volume, backing, plain, cause = m
        label = (plain or backing).strip("/").replace("/", "_").replace(".", "_")[:60]
        name = f"test_{volume.replace('-', '_')}_{what}_{i:02d}_{label}"
        assert name not in seen
        seen.add(name)
        setattr(BrokenVolumes, name, lambda self, m=m: self.check_line(*m))
    for volume in VOLUMES:
        setattr(BrokenVolumes, f"test_{volume.replace('-', '_')}_nothing_else_reported",
                lambda self, v=volume: self.check_nothing_else(v))


_add_cases()

if __name__ == "__main__":
    taprun.main()
