#!/usr/bin/env python3
"""pfcrypt retire and export prove the keystore passphrase (issue 17 point 1, PROTOCOL.md 2.1): the
CLI reads it like `keystore unlock` does (--passphrase-fd, --passphrase-file, --extpass, the env's
file, the terminal), a wrong one is a one-line refusal and nothing changes."""
import json
import os
import subprocess

import taprun
from clienv import KEY, CliEnv

import unittest


def one_line_error(t, p, code=2):
    t.assertEqual(p.returncode, code, p.stdout + p.stderr)
    lines = p.stderr.splitlines()
    t.assertEqual(len(lines), 1, p.stderr)
    t.assertTrue(lines[0].startswith("pfcrypt: "), lines[0])
    return lines[0]


def states(e):
    keys = json.loads(e.ks.run("keystore", "status", "--json").stdout)["keys"]
    return [k["state"] for k in keys]


class Proof(unittest.TestCase):
    def test_retire_and_export_need_the_store_passphrase(self):
        with CliEnv() as e:
            e.init_volume()
            e.pfcrypt("rotate", "--key", KEY, check=True)
            wrong = os.path.join(e.tmp, "wrong")
            with open(wrong, "w") as f:
                f.write("not the passphrase\n")
            xpass = os.path.join(e.tmp, "xpass")
            with open(xpass, "w") as f:
                f.write("bundle passphrase\n")
            bundle = os.path.join(e.tmp, "bundle")
            line = one_line_error(self, e.pfcrypt("retire", "--key", KEY, "--version", "1",
                                                  "--force", "--passphrase-file", wrong))
            self.assertIn("wrong store passphrase", line)
            line = one_line_error(self, e.pfcrypt("export", "--key", KEY, "-o", bundle,
                                                  "--export-passphrase-file", xpass,
                                                  "--passphrase-file", wrong))
            self.assertIn("wrong store passphrase", line)
            self.assertFalse(os.path.exists(bundle))
            # no terminal, no source: a one-line error naming where it looked
            line = one_line_error(self, e.pfcrypt("retire", "--key", KEY, "--version", "1",
                                                  "--force"))
            self.assertIn("/dev/tty", line)
            self.assertEqual(states(e), ["active", "primary"])
            # the right one, through each source
            e.pfcrypt("export", "--key", KEY, "-o", bundle, "--export-passphrase-file", xpass,
                      "--extpass", f"cat {e.ks.passfile}", check=True)
            with open(e.ks.passfile, "rb") as f:
                p = subprocess.run([e.cli, "--socket", e.ks.sock, "retire", "--key", KEY,
                                    "--version", "1", "--force", "--passphrase-fd",
                                    "0"], stdin=f, capture_output=True, text=True, env=e.env)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(states(e), ["retired", "primary"])


if __name__ == "__main__":
    taprun.main()
