#!/usr/bin/env python3
"""The keystore's own retire check with a real mount (issue 17 point 1, PROTOCOL.md 2.2): a
mounted pfcryptfs that unwrapped under a version keeps it from being retired even when the CLI's
checks pass (the mounted volume is not among the BACKING given), until it is unmounted; and a
scheduled retirement makes opens in the mount fail with ENOKEY until cancel-retire."""
import errno
import json
import os

import taprun
from clienv import KEY, CliEnv
from test_cli_rotation import versions

import unittest


def states(e):
    keys = json.loads(e.ks.run("keystore", "status", "--json").stdout)["keys"]
    return [k["state"] for k in keys]


class MountedClient(unittest.TestCase):
    def test_a_mount_using_the_version_blocks_retire_though_the_cli_saw_nothing(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            with open(os.path.join(mnt, "a.txt"), "wb") as f:
                f.write(b"a" * 5000)
            e.pfcrypt("rotate", "--key", KEY, check=True)
            other = os.path.join(e.tmp, "other")  # a volume with nothing under v1
            e.init_volume(other)
            pw = ("--passphrase-file", e.ks.passfile)
            for when in ("--now", "--after=1h"):
                p = e.pfcrypt("retire", "--key", KEY, "--version", "1", when, *pw, other)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)  # refused
                self.assertIn("v1 was used to ", p.stderr)
                self.assertIn("by a client still connected or running", p.stderr)
                self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
            self.assertEqual(states(e), ["active", "primary"])
            e.umount(mnt)
            p = e.pfcrypt("retire", "--key", KEY, "--version", "1", "--after", "1h", *pw, other)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(states(e), ["retiring", "primary"])
            # the volume still needs v1: while retiring, its mount fails (name key under v1)
            p = e.pfcrypt("mount", e.backing, mnt)
            self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
            e.pfcrypt("keystore", "cancel-retire", "--key", KEY, "--version", "1", *pw,
                      check=True)
            e.mount(e.backing, mnt)
            with open(os.path.join(mnt, "a.txt"), "rb") as f:
                self.assertEqual(f.read(), b"a" * 5000)
            e.umount(mnt)

    def test_a_file_under_a_retiring_version_is_enokey_in_the_mount_until_cancelled(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            with open(os.path.join(mnt, "old.txt"), "wb") as f:
                f.write(b"old" * 1000)
            e.umount(mnt)
            (old_rel,) = versions(e.backing)
            old_path = os.path.join(e.backing, old_rel)
            with open(old_path, "rb") as f:
                saved = f.read()  # still under v1, as a backup or a sync history keeps it
            e.pfcrypt("rotate", "--key", KEY, check=True)
            e.pfcrypt("rewrap", e.backing, check=True)  # name key and old.txt to v2
            with open(old_path, "wb") as f:
                f.write(saved)  # the v1 copy comes back
            pw = ("--passphrase-file", e.ks.passfile)
            p = e.pfcrypt("retire", "--key", KEY, "--version", "1", "--after", "1h", "--force",
                          *pw, e.backing)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            e.mount(e.backing, mnt)
            with self.assertRaises(OSError) as cm:
                with open(os.path.join(mnt, "old.txt"), "rb") as f:
                    f.read()
            self.assertEqual(cm.exception.errno, errno.ENOKEY)
            e.pfcrypt("keystore", "cancel-retire", "--key", KEY, "--version", "1", *pw,
                      check=True)
            with open(os.path.join(mnt, "old.txt"), "rb") as f:
                self.assertEqual(f.read(), b"old" * 1000, "readable again")
            e.umount(mnt)
            self.assertIn(f"unwrap {KEY} v1 -> PFC_ERR_KEY_RETIRING", open(e.ks.log).read())

class UnrelatedMount(unittest.TestCase):
    def test_a_mounted_volume_of_another_key_does_not_block_retire(self):
        """issue 19 item 9: a mount refuses a retire only when it holds files under the version."""
        with CliEnv() as e:
            e.init_volume()
            e.mkfiles(e.backing, {"a": b"a"})
            other = os.path.join(e.tmp, "other")
            e.pfcrypt("init", other, "--key", "otherkey", check=True)
            mnt = os.path.join(e.tmp, "mnt-other")
            e.mount(other, mnt)
            with open(os.path.join(mnt, "x"), "wb") as f:
                f.write(b"x")
            e.pfcrypt("rotate", "--key", KEY, check=True)
            e.pfcrypt("rewrap", e.backing, check=True)
            p = e.pfcrypt("retire", "--key", KEY, "--version", "1", "--now",
                          "--passphrase-file", e.ks.passfile, e.backing, other)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn(f"{KEY} v1 retired", p.stdout)
            with open(os.path.join(mnt, "x"), "rb") as f:
                self.assertEqual(f.read(), b"x")


if __name__ == "__main__":
    taprun.main()
