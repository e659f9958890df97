#!/usr/bin/env python3
"""Export bundles have their own Argon2id cost (issue 17 point 8b, keystore/PROTOCOL.md sections
2, 6 and 7): a store made with the cheap "test" profile still exports bundles at the default
"moderate" cost unless `pfcrypt export --kdf-profile P` asks for another; the bundle's header
records the cost (read here without the passphrase, tests/lib/ks.py container_header)."""
import json
import os
import struct
import unittest

import taprun
from clienv import KEY, PASSPHRASE, CliEnv
from ks import EXPORT, Client, KsError, container_header, lv16

MODERATE = dict(profile="moderate", opslimit=3, memlimit=256 << 20)
TEST = dict(profile="test", opslimit=1, memlimit=1 << 20)


def cost(path):
    with open(path, "rb") as f:
        h = container_header(f.read())
    return dict(profile=h["profile"], opslimit=h["opslimit"], memlimit=h["memlimit"])


class ExportCost(unittest.TestCase):
    def setUp(self):
        self.e = CliEnv().__enter__()
        self.e.init_volume()
        self.xpass = os.path.join(self.e.tmp, "xpass")
        with open(self.xpass, "w") as f:
            f.write("export passphrase\n")
        st = json.loads(self.e.pfcrypt("keystore", "status", "--json", check=True).stdout)
        self.assertEqual(st["kdf_profile"], "test", "the store is a cheap one")

    def tearDown(self):
        self.e.__exit__(None, None, None)

    def export(self, name, *extra):
        out = os.path.join(self.e.tmp, name)
        p = self.e.pfcrypt("export", "--key", KEY, "--passphrase-file", self.e.ks.passfile,
                           "-o", out, "--export-passphrase-file", self.xpass, *extra)
        return p, out

    def test_default_is_moderate_whatever_the_store(self):
        p, out = self.export("default.bundle")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(cost(out), MODERATE)
        # and it imports (the cost comes from the bundle's header)
        ks2 = self.e.keystore("ks2")
        self.e.pfcrypt("import", out, "--export-passphrase-file", self.xpass, ks=ks2, check=True)
        p = self.e.pfcrypt("check", self.e.backing, ks=ks2)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_kdf_profile_chooses_the_cost(self):
        p, out = self.export("test.bundle", "--kdf-profile", "test")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(cost(out), TEST)
        p, out = self.export("interactive.bundle", "--kdf-profile", "interactive")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(cost(out), dict(profile="interactive", opslimit=2, memlimit=64 << 20))

    def test_unknown_profile_is_a_usage_error(self):
        p, out = self.export("bogus.bundle", "--kdf-profile", "bogus")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertIn("--kdf-profile wants interactive, moderate, sensitive or test", p.stderr)
        self.assertFalse(os.path.exists(out))

    def test_protocol_field(self):
        """EXPORT's last field (protocol version 2, after the proof): the profile by name,
        empty for the default; an unknown one is INVAL; a frame with its proof but without
        the profile is TRUNCATED, a version-1 frame (neither) DENIED."""
        pw = PASSPHRASE
        with Client(self.e.ks.sock) as c:
            self.assertEqual(
                container_header(c.export(KEY, [], b"x", "test", proof=pw))["profile"], "test")
            with self.assertRaises(KsError) as err:
                c.export(KEY, [], b"x", "bogus", proof=pw)
            self.assertEqual(err.exception.name, "INVAL")
            self.assertIn("unknown KDF profile", err.exception.msg)
            v1 = lv16(KEY) + struct.pack("<H", 0) + lv16(b"x")
            with self.assertRaises(KsError) as err:
                c.call(EXPORT, v1 + lv16(pw))
            self.assertEqual(err.exception.name, "TRUNCATED")
            with self.assertRaises(KsError) as err:
                c.call(EXPORT, v1)
            self.assertEqual(err.exception.name, "DENIED")
            with self.assertRaises(KsError) as err:  # the keystore closes after this one
                c.export(KEY, [], b"x", "m" * 16, proof=pw)
            self.assertEqual(err.exception.name, "TOO_LARGE")
        with Client(self.e.ks.sock) as c:  # still serving
            h = container_header(c.export(KEY, [], b"x", "", proof=pw))
            self.assertEqual((h["profile"], h["opslimit"], h["memlimit"]),
                             ("moderate", 3, 256 << 20))

if __name__ == "__main__":
    taprun.main()
