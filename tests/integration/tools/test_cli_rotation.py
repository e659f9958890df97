#!/usr/bin/env python3
"""The rotation story without a mount (issue 6 point 4): rotate, rewrap touches only the wrapped-key
field of each header (compared byte by byte), rewrap is idempotent and finishes after kill -9,
retire refuses while live files use the version (naming them), and after retire an old copy of a
backing file is reported unreadable by check while the live volume is clean."""
import json
import os
import signal
import shutil
import struct
import subprocess

import taprun
from clienv import KEY, CliEnv, KeystoreProxy, backing_files

import unittest
from pfcformat import HEADER_SIZE

# fs/format.h: the header and its two mutable fields.


WRAPPED_OFF, WRAPPED_LEN = 56, 2 + 128
CONF, DIRID, COMPANION = "pfcrypt.conf", ".pfcrypt.dirid", ".name"


def blob_version(header):
    """(name, version) of the wrapped blob in a header (keystore/blob.h layout v1)."""
    n = struct.unpack_from("<H", header, WRAPPED_OFF)[0]
    blob = header[WRAPPED_OFF + 2:WRAPPED_OFF + 2 + n]
    name_len = blob[1]
    return blob[2:2 + name_len].decode(), struct.unpack_from("<I", blob, 2 + name_len)[0]


def is_header_file(rel):
    base = os.path.basename(rel)
    return base != CONF and not base.startswith(DIRID) and not base.endswith(COMPANION)


def versions(backing):
    """{relative path: master-key version} of every file with a header."""
    out = {}
    for rel, data in backing_files(backing).items():
        if is_header_file(rel) and data:
            out[rel] = blob_version(data)[1]
    return out


class Rotation(unittest.TestCase):
    def test_rewrap_changes_only_the_wrapped_key_field(self):
        with CliEnv() as e:
            e.init_volume()
            files = {"empty": b"", "one": b"1", "block": b"b" * 4096, "more": os.urandom(10000),
                     "d/e/deep": os.urandom(70000), "L" * 240: b"long name", "d/" + "M" * 250: b"m"}
            e.mkfiles(e.backing, files, symlinks={"link": "one"})
            before = backing_files(e.backing)
            self.assertTrue(any(r.endswith(COMPANION) for r in before), "long names present")
            self.assertEqual(set(versions(e.backing).values()), {1})
            out = e.pfcrypt("rotate", "--key", KEY, check=True).stdout
            self.assertIn("version 2 is now primary", out)
            p = e.pfcrypt("rewrap", e.backing, "--threads", "3", check=True)
            self.assertIn(f"{len(files)} rewrapped", p.stdout)
            self.assertIn("name key rewrapped", p.stdout)
            after = backing_files(e.backing)
            self.assertEqual(sorted(before), sorted(after))
            for rel in before:
                b, a = before[rel], after[rel]
                if not is_header_file(rel):
                    if os.path.basename(rel) != CONF:
                        self.assertEqual(a, b, f"{rel} must not change")
                    continue
                self.assertEqual(len(a), len(b), rel)
                diff = [i for i in range(len(a)) if a[i] != b[i]]
                self.assertTrue(diff, f"{rel}: rewrapped header must change")
                self.assertTrue(all(WRAPPED_OFF <= i < WRAPPED_OFF + WRAPPED_LEN for i in diff),
                                f"{rel}: bytes outside the wrapped-key field changed: {diff[:8]}")
                self.assertEqual(a[HEADER_SIZE:], b[HEADER_SIZE:], f"{rel}: data blocks changed")
                self.assertEqual(blob_version(a), (KEY, 2), rel)
            st = json.loads(e.pfcrypt("status", "--json", e.backing, check=True).stdout)
            self.assertEqual([(v["version"], v["files"]) for v in st["versions"]], [(2, len(files))])
            self.assertEqual(st["name_key"]["version"], 2)
            p = e.pfcrypt("check", e.backing)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            # Idempotent: a second run finds nothing to do and changes nothing.
            p = e.pfcrypt("rewrap", e.backing, check=True)
            self.assertIn(f"0 rewrapped, {len(files)} already under the primary version", p.stdout)
            self.assertEqual(backing_files(e.backing), after)

    def interrupted_rewrap_then_rerun(self, sig):
        """Interrupt rewrap with sig after exactly K files; a second run must finish the job."""
        with CliEnv() as e:
            e.init_volume()
            n, k = 300, 120
            e.mkfiles(e.backing, {f"f{i:04d}": b"%d" % i for i in range(n)})
            before = backing_files(e.backing)
            e.pfcrypt("rotate", "--key", KEY, check=True)
            # rewrap talks to the keystore through a proxy that holds its (k+1)-th REWRAP
            # request: it is then mid-run, deterministically, when the signal arrives.
            with KeystoreProxy(e.ks.sock, os.path.join(e.tmp, "proxy.sock"), hold_after=k) as px:
                rw = subprocess.Popen([e.cli, "--socket", px.path, "rewrap", e.backing,
                                       "--threads", "1"], env=e.env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
                self.assertTrue(px.held.wait(60), "rewrap never reached its request k+1")
                self.assertEqual(px.errors, [])
                rw.send_signal(sig)
                if sig == signal.SIGKILL:
                    rw.wait()
                px.release()
                out, err = rw.communicate(timeout=60)
            if sig == signal.SIGKILL:
                self.assertEqual(rw.returncode, -signal.SIGKILL)
            else:
                self.assertEqual(rw.returncode, 1, out + err)
                self.assertIn("INTERRUPTED", out)
            done = sum(1 for v in versions(e.backing).values() if v == 2)
            # The first REWRAP was the volume name key's, so k - 1 files were done when the proxy
            # held; SIGINT lets the file in flight finish, then stops.
            self.assertEqual(done, k - 1 if sig == signal.SIGKILL else k)
            p = e.pfcrypt("rewrap", e.backing, check=True)
            self.assertIn(f"{n - done} rewrapped, {done} already", p.stdout)
            self.assertEqual(set(versions(e.backing).values()), {2})
            after = backing_files(e.backing)
            for rel, b in before.items():
                if is_header_file(rel):
                    self.assertEqual(after[rel][HEADER_SIZE:], b[HEADER_SIZE:], rel)
            p = e.pfcrypt("check", e.backing, "--quick")
            self.assertEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr)

    def test_rewrap_killed_mid_run_then_run_again_finishes(self):
        self.interrupted_rewrap_then_rerun(signal.SIGKILL)

    def test_rewrap_sigint_stops_cleanly_then_run_again_finishes(self):
        self.interrupted_rewrap_then_rerun(signal.SIGINT)

    def test_progress_bar_only_on_a_terminal(self):
        with CliEnv() as e:
            e.init_volume()
            e.mkfiles(e.backing, {f"p{i}": b"x" for i in range(20)})
            e.pfcrypt("rotate", "--key", KEY, check=True)
            p = e.pfcrypt("rewrap", e.backing, check=True)
            self.assertNotIn("\r", p.stdout + p.stderr)
            cmd = f"{e.cli} --socket {e.ks.sock} check {e.backing}"
            p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                               env=e.env, stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn(b"\rcheck [", p.stdout)
            self.assertIn(b"20/20", p.stdout)
            e.pfcrypt("rotate", "--key", KEY, check=True)
            cmd = f"{e.cli} --socket {e.ks.sock} rewrap {e.backing}"
            p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                               env=e.env, stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn(b"\rrewrap [", p.stdout)
            self.assertIn(b"20 rewrapped", p.stdout)


class Retire(unittest.TestCase):
    def test_retire_refuses_while_live_files_then_old_copy_is_unreadable(self):
        with CliEnv() as e:
            e.init_volume()
            e.mkfiles(e.backing, {"keep.txt": b"k" * 5000, "dir/notes": b"n" * 100,
                                  "dir/more": b"m"})
            e.pfcrypt("rotate", "--key", KEY, check=True)
            live = sorted(r for r in versions(e.backing))
            # A sync client's history / a backup keeps the v1 copy of a file.
            saved = os.path.join(e.tmp, "saved-copy")
            shutil.copyfile(os.path.join(e.backing, live[0]), saved)
            p = e.pfcrypt("retire", "--key", KEY,
                          "--passphrase-file", e.ks.passfile, "--version", "1", e.backing)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            for rel in live:
                self.assertIn(os.path.join(e.backing, rel), p.stderr)
            self.assertIn("pfcrypt.conf", p.stderr)
            self.assertIn("refused", p.stderr)
            keys = json.loads(e.ks.run("keystore", "status", "--json").stdout)["keys"]
            self.assertEqual([k["state"] for k in keys], ["active", "primary"])
            # Without a volume to look at, only --force retires; the primary never.
            p = e.pfcrypt("retire", "--key", KEY, "--passphrase-file", e.ks.passfile,
                          "--version", "1")
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            p = e.pfcrypt("retire", "--key", KEY,
                          "--passphrase-file", e.ks.passfile, "--version", "2", "--force")
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            # said first, and --force is not offered for what it cannot do (issue 19 item 9)
            self.assertIn("cannot retire the primary version (clitest v2): rotate first", p.stderr)
            self.assertNotIn("--force", p.stderr)
            p = e.pfcrypt("retire", "--key", KEY, "--passphrase-file", e.ks.passfile,
                          "--version", "2", e.backing)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertNotIn("--force", p.stderr)
            e.pfcrypt("rewrap", e.backing, check=True)
            p = e.pfcrypt("retire", "--key", KEY,
                          "--passphrase-file", e.ks.passfile, "--version", "1",
                          "--now", e.backing)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            keys = json.loads(e.ks.run("keystore", "status", "--json").stdout)["keys"]
            self.assertEqual([k["state"] for k in keys], ["retired", "primary"])
            p = e.pfcrypt("check", e.backing)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            # The saved copy restored into the volume: reported unreadable, nothing else.
            shutil.copyfile(saved, os.path.join(e.backing, live[0]))
            p = e.pfcrypt("check", e.backing, "--json")
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            probs = json.loads(p.stdout)["problems"]
            self.assertEqual(len(probs), 1, probs)
            self.assertEqual(probs[0]["backing_path"], os.path.join(e.backing, live[0]))
            self.assertIn(f"{KEY} v1 was retired", probs[0]["cause"])

    def test_retire_force_destroys_despite_live_files(self):
        with CliEnv() as e:
            e.init_volume()
            e.mkfiles(e.backing, {"a": b"a"})
            e.pfcrypt("rotate", "--key", KEY, check=True)
            p = e.pfcrypt("retire", "--key", KEY,
                          "--passphrase-file", e.ks.passfile, "--version", "1", "--force",
                          "--now", e.backing)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            p = e.pfcrypt("check", e.backing)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("does not unwrap", p.stdout)  # the name key itself was under v1


if __name__ == "__main__":
    taprun.main()
