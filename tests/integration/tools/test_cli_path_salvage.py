#!/usr/bin/env python3
"""pfcrypt path and pfcrypt salvage (issue 19 item 8): a plaintext path maps to the backing entry that
holds it and back (long names with their companion, a directory id file and a companion named as
what they belong to), and salvage copies out every block of a damaged file that authenticates,
zeros for the others, listing them, as gocryptfs's -force_decode does."""
import os
import shutil

import taprun
import unittest
from clienv import CliEnv
from pfcformat import BS, HEADER_SIZE, stored_block_size
from pfcfs import backing_of, hashed_bytes

LONG = "L" * 200


class Path(unittest.TestCase):

    def test_plain_to_backing_and_back(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            os.makedirs(os.path.join(mnt, "a", "b"))
            for rel in ("a/b/c.txt", f"a/{LONG}"):
                with open(os.path.join(mnt, rel), "w") as f:
                    f.write(rel)
            want = backing_of(e, os.path.join(mnt, "a/b/c.txt"))
            for args in ((e.backing, "/a/b/c.txt"), (e.backing, "a/./b/c.txt"),
                         (mnt, os.path.join(mnt, "a/b/c.txt"))):
                p = e.pfcrypt("path", *args, check=True)
                self.assertEqual(os.path.realpath(p.stdout.strip()), os.path.realpath(want), args)
            p = e.pfcrypt("path", "--backing", want, check=True)
            self.assertEqual(p.stdout.strip(), os.path.join(mnt, "a/b/c.txt"))
            # a long name: its entry and its companion, and the companion maps back to it
            p = e.pfcrypt("path", e.backing, f"a/{LONG}", check=True)
            entry, comp = p.stdout.splitlines()
            self.assertTrue(os.path.exists(entry), entry)
            self.assertTrue(comp.startswith("companion: "), comp)
            comp = comp[len("companion: "):]
            self.assertTrue(os.path.isfile(comp), comp)
            p = e.pfcrypt("path", "--backing", comp, check=True)
            self.assertEqual(p.stdout.strip(),
                             "the long-name companion of " + os.path.join(mnt, "a", LONG))
            p = e.pfcrypt("path", "--backing", os.path.join(os.path.dirname(want),
                                                             ".pfcrypt.dirid"), check=True)
            self.assertEqual(p.stdout.strip(), "the directory id file of " +
                             os.path.join(mnt, "a/b"))
            # not there: exit 1, the name it would have printed
            p = e.pfcrypt("path", e.backing, "a/b/nope")
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertTrue(p.stdout.startswith(os.path.dirname(os.path.realpath(want))), p.stdout)
            self.assertIn("not in the volume", p.stderr)
            p = e.pfcrypt("path", e.backing, "nodir/x")
            self.assertEqual(p.returncode, 2)
            self.assertIn("no directory 'nodir'", p.stderr)
            # unmounted: from the volume root
            e.umount(mnt)
            p = e.pfcrypt("path", "--backing", want, check=True)
            self.assertEqual(p.stdout.strip(), "/a/b/c.txt")
            p = e.pfcrypt("path", "--backing", os.path.join(e.tmp))
            self.assertEqual(p.returncode, 2)
            self.assertIn("not inside a pfcrypt backing directory", p.stderr)


class Salvage(unittest.TestCase):

    def test_damaged_blocks_become_zeros_and_are_listed(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            data = hashed_bytes("salvage", 5 * BS + 123)
            for name in ("hurt", "fine"):
                with open(os.path.join(mnt, name), "wb") as f:
                    f.write(data)
            b = backing_of(e, os.path.join(mnt, "hurt"))
            e.umount(mnt)
            sbs = stored_block_size(e.backing)
            with open(b, "r+b") as f:
                f.seek(HEADER_SIZE + 2 * sbs + 40)
                byte = f.read(1)
                f.seek(-1, os.SEEK_CUR)
                f.write(bytes([byte[0] ^ 1]))
            out = os.path.join(e.tmp, "out")
            p = e.pfcrypt("salvage", e.backing, "/hurt", out)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn(f"block 2 (bytes {2 * BS}..{3 * BS - 1}): does not authenticate",
                          p.stderr)
            self.assertEqual(p.stderr.count("does not authenticate"), 1)
            self.assertIn("1 zero-filled", p.stdout)
            with open(out, "rb") as f:
                got = f.read()
            self.assertEqual(got, data[:2 * BS] + bytes(BS) + data[3 * BS:])
            self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
            # an existing OUT is not overwritten
            p = e.pfcrypt("salvage", e.backing, "/hurt", out)
            self.assertEqual(p.returncode, 2)
            self.assertIn("not overwritten", p.stderr)
            # an undamaged file, named by its backing file
            out2 = os.path.join(e.tmp, "out2")
            e.mount(e.backing, mnt)
            fb = backing_of(e, os.path.join(mnt, "fine"))
            e.umount(mnt)
            p = e.pfcrypt("salvage", "--backing", fb, out2)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with open(out2, "rb") as f:
                self.assertEqual(f.read(), data)
            # a header that does not parse: nothing to salvage, and no OUT left behind
            with open(fb, "r+b") as f:
                f.write(b"garbage!")
            out3 = os.path.join(e.tmp, "out3")
            p = e.pfcrypt("salvage", "--backing", fb, out3)
            self.assertEqual(p.returncode, 2)
            self.assertIn("bad header", p.stderr)
            self.assertFalse(os.path.exists(out3))


if __name__ == "__main__":
    taprun.main()
