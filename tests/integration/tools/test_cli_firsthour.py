#!/usr/bin/python3
"""A new user's first hour (issue 19 items 3, 5, 6, 7), tried as a gocryptfs user would: errors
say their cause once; commands that change something say so in one line (and nothing with -q);
scripts get JSON in every case."""
import os
import re

import taprun
import unittest
from clienv import KEY, CliEnv


def once(test, text):
    """No cause appears twice in a row ("wrong passphrase: wrong passphrase")."""
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(":")]
        for a, b in zip(parts, parts[1:]):
            test.assertFalse(a and a == b, f"doubled text in {line!r}")


class ErrorsOnce(unittest.TestCase):

    def test_keystore_errors_say_their_cause_once(self):
        with CliEnv() as e:
            e.init_volume()
            wrong = os.path.join(e.tmp, "wrong")
            with open(wrong, "w") as f:
                f.write("not the passphrase\n")
            e.pfcrypt("keystore", "lock", check=True)
            p = e.pfcrypt("keystore", "unlock", "--passphrase-file", wrong)
            self.assertEqual(p.returncode, 2)
            self.assertIn("wrong passphrase", p.stderr)
            once(self, p.stderr)
            p = e.pfcrypt("rotate", "--key", "nosuch")
            self.assertIn("keystore is locked", p.stderr)
            once(self, p.stderr)
            e.pfcrypt("keystore", "unlock", "--passphrase-file", e.ks.passfile, check=True)
            errs = []
            for args in (["rotate", "--key", "nosuch"],
                         ["retire", "--key", "nosuch", "--version", "1", e.backing],
                         ["export", "--key", "nosuch", "--output", os.path.join(e.tmp, "x"),
                          "--export-passphrase-file", wrong],
                         ["keystore", "passwd", "--passphrase-file", wrong,
                          "--new-passphrase-file", wrong]):
                p = e.pfcrypt(*args)
                self.assertEqual(p.returncode, 2, f"{args}: {p.stderr}")
                self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
                once(self, p.stderr)
                errs.append(p.stderr)
            self.assertIn("unknown master key or version", errs[0])
            self.assertIn("wrong passphrase", errs[3])


if __name__ == "__main__":
    taprun.main()
