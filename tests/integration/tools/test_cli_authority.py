#!/usr/bin/env python3
"""pfcrypt retire and export prove the keystore passphrase (issue 17 point 1, PROTOCOL.md 2.1): the
CLI reads it like `keystore unlock` does (--passphrase-fd, --passphrase-file, --extpass, the env's
file, the terminal), a wrong one is a one-line refusal and nothing changes."""
import json
import os
import re
import subprocess
import time

import pfcfs
import taprun
from clienv import KEY, PASSPHRASE, CliEnv, one_line_error

import unittest


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
            self.assertIn("wrong passphrase: not the store passphrase", line)
            line = one_line_error(self, e.pfcrypt("export", "--key", KEY, "-o", bundle,
                                                  "--export-passphrase-file", xpass,
                                                  "--passphrase-file", wrong))
            self.assertIn("wrong passphrase: not the store passphrase", line)
            self.assertFalse(os.path.exists(bundle))
            # no terminal, no source: a one-line error naming where it looked
            line = one_line_error(self, e.pfcrypt("retire", "--key", KEY, "--version", "1",
                                                  "--force"))
            self.assertIn("/dev/tty", line)
            self.assertEqual(states(e), ["active", "primary"])
            # the right one, through each source
            e.pfcrypt("export", "--key", KEY, "-o", bundle, "--export-passphrase-file", xpass,
                      "--kdf-profile", "test", "--extpass", f"cat {e.ks.passfile}", check=True)
            with open(e.ks.passfile, "rb") as f:
                p = subprocess.run([e.cli, "--socket", e.ks.sock, "retire", "--key", KEY,
                                    "--version", "1", "--force", "--now", "--passphrase-fd",
                                    "0"], stdin=f, capture_output=True, text=True, env=e.env)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(states(e), ["retired", "primary"])


class Grace(unittest.TestCase):
    def test_retire_schedules_by_default_and_cancel_retire_makes_the_files_readable(self):
        with CliEnv() as e:
            e.init_volume()
            e.mkfiles(e.backing, {"doc.txt": b"d" * 6000})
            e.pfcrypt("rotate", "--key", KEY, check=True)
            pw = ("--passphrase-file", e.ks.passfile)
            # the live files are still under v1: only --force gets past the CLI's check
            p = e.pfcrypt("retire", "--key", KEY, "--version", "1", "--force", *pw, e.backing)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn(f"{KEY} v1 scheduled for destruction at ", p.stdout)
            self.assertIn(f"pfcrypt keystore cancel-retire --key {KEY} --version 1", p.stdout)
            st = json.loads(e.ks.run("keystore", "status", "--json").stdout)["keys"]
            self.assertEqual([k["state"] for k in st], ["retiring", "primary"])
            self.assertAlmostEqual(st[0]["destroy_at"], time.time() + 7 * 86400, delta=120)
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(st[0]["destroy_at"]))
            self.assertIn(f"v1    retiring: destroyed at {when}",
                          e.ks.run("keystore", "status").stdout)
            p = e.pfcrypt("check", e.backing, "--json")
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            causes = [x["cause"] for x in json.loads(p.stdout)["problems"]]
            self.assertTrue(causes, p.stdout)
            self.assertTrue(all("scheduled for destruction" in c for c in causes), causes)
            line = one_line_error(self, e.pfcrypt("keystore", "cancel-retire", "--key", KEY,
                                                  "--version", "1"))
            self.assertIn("/dev/tty", line)
            out = e.pfcrypt("keystore", "cancel-retire", "--key", KEY, "--version", "1", *pw,
                            check=True).stdout
            self.assertIn("no longer scheduled for destruction", out)
            self.assertEqual(states(e), ["active", "primary"])
            p = e.pfcrypt("check", e.backing)
            self.assertEqual(p.returncode, 0, "readable again: " + p.stdout + p.stderr)
            line = one_line_error(self, e.pfcrypt("keystore", "cancel-retire", "--key", KEY,
                                                  "--version", "1", *pw))
            self.assertIn("v1 is not scheduled for destruction", line)

    def test_after_and_now(self):
        with CliEnv() as e:
            e.init_volume()
            e.pfcrypt("rotate", "--key", KEY, check=True)
            e.pfcrypt("rewrap", e.backing, check=True)
            pw = ("--passphrase-file", e.ks.passfile)
            for bad in ("7x", "0", "366d", "-1s", "d"):
                line = one_line_error(self, e.pfcrypt("retire", "--key", KEY, "--version", "1",
                                                      "--after", bad, *pw, e.backing))
                self.assertIn("--after wants a duration", line)
            one_line_error(self, e.pfcrypt("retire", "--key", KEY, "--version", "1", "--now",
                                           "--after", "1h", *pw, e.backing))
            p = e.pfcrypt("retire", "--key", KEY, "--version", "1", "--after", "2s", *pw,
                          e.backing)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(states(e), ["retiring", "primary"])
            time.sleep(3)
            self.assertEqual(states(e), ["retired", "primary"])
            e.pfcrypt("rotate", "--key", KEY, check=True)
            e.pfcrypt("rewrap", e.backing, check=True)
            p = e.pfcrypt("retire", "--key", KEY, "--version", "2", "--now", *pw, e.backing)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(p.stdout, f"{KEY} v2 retired\n")
            self.assertEqual(states(e), ["retired", "retired", "primary"])


class Lifetime(unittest.TestCase):
    def test_keystore_start_passes_lifetime_to_the_daemon_which_locks_itself(self):
        with CliEnv(keystore=False) as e:
            k = pfcfs.Keystore(e.tmp, "ks", passphrase=PASSPHRASE, env=e.env)
            e.keystores.append(k)
            k.ctl("keystore", "init", "--store", k.store, "--passphrase-file", k.passfile,
                  "--kdf-profile", "test", what="pfcrypt keystore init")
            out = k.ctl("keystore", "start", "--store", k.store, "--passphrase-file", k.passfile,
                        "--log-file", k.log, "--", "--lifetime", "1s",
                        what="pfcrypt keystore start").stdout
            k.pid = int(re.search(rb"\(pid (\d+)\)", out).group(1))
            end = time.monotonic() + 20
            while "state:     unlocked" in k.run("keystore", "status", check=True).stdout:
                self.assertLess(time.monotonic(), end, "still unlocked after its lifetime")
                time.sleep(0.2)
            self.assertIn("state:     locked", k.run("keystore", "status").stdout)
            k.run("keystore", "unlock", "--passphrase-file", k.passfile, check=True)
            self.assertIn("state:     unlocked", k.run("keystore", "status").stdout)


if __name__ == "__main__":
    taprun.main()
