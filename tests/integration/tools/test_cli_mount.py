#!/usr/bin/env python3
"""The CLI with real mounts (pfcryptfs): mount/umount, rewrap while programs write to the mounted
volume, a retired version's old copy fails with ENOKEY in a mount while the live volume reads,
export/import makes a volume mountable on a second keystore, and pfcrypt-quickstart run
non-interactively (issue 6 points 2, 4, 6, 8)."""
import errno
import json
import os
import random
import shutil
import subprocess
import threading
import time

import taprun
from clienv import KEY, CliEnv, KeystoreProxy, program
from test_cli_rotation import versions

import unittest


class Mounted(unittest.TestCase):
    def test_rewrap_during_writer_loop_on_mounted_volume(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            rng = random.Random(6)
            model = {}
            for i in range(200):
                data = bytearray(rng.randbytes(rng.choice([1, 4096, 9000, 20000])))
                name = os.path.join(mnt, f"f{i:03d}")
                with open(name, "wb") as f:
                    f.write(data)
                model[name] = data
            stop = threading.Event()
            errors = []
            writes = [0]

            def writer(names, seed):
                r = random.Random(seed)
                try:
                    while not stop.is_set():
                        name = r.choice(names)
                        m = model[name]
                        off = r.randrange(0, len(m) + 1)
                        chunk = r.randbytes(r.randrange(1, 6000))
                        with open(name, "r+b") as f:
                            f.seek(off)
                            f.write(chunk)
                        m[off:off + len(chunk)] = chunk
                        writes[0] += 1
                except OSError as ex:
                    errors.append(ex)

            names = sorted(model)
            threads = [threading.Thread(target=writer, args=(names[k::3], k)) for k in range(3)]
            for t in threads:
                t.start()
            try:
                e.pfcrypt("rotate", "--key", KEY, check=True)
                # rewrap goes through a proxy that holds it mid-run until the writers have
                # written 100 more times: the writes provably happen during the rewrap.
                with KeystoreProxy(e.ks.sock, os.path.join(e.tmp, "px.sock"), 80) as px:
                    rw = subprocess.Popen([e.cli, "--socket", px.path, "rewrap", e.backing,
                                           "--threads", "2"], env=e.env, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                    self.assertTrue(px.held.wait(60), "rewrap did not get to its 81st file")
                    self.assertEqual(px.errors, [])
                    during = writes[0] + 100
                    deadline = time.monotonic() + 60
                    while writes[0] < during and not errors and time.monotonic() < deadline:
                        time.sleep(0.005)
                    px.release()
                    out, err = rw.communicate(timeout=120)
            finally:
                stop.set()
                for t in threads:
                    t.join()
            self.assertEqual(rw.returncode, 0, out + err)
            self.assertEqual(errors, [])
            self.assertGreaterEqual(writes[0], during, "100 writes while rewrap was held")
            self.assertEqual(set(versions(e.backing).values()), {2}, "every header under v2")
            # While mounted, the daemon may hold file keys pre-generated under v1: the keystore
            # refuses (its connection used v1), though no file is under v1 any more.
            p = e.pfcrypt("retire", "--key", KEY,
                          "--passphrase-file", e.ks.passfile, "--version", "1", e.backing)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("in use", p.stderr)
            self.assertIn("a mounted volume?", p.stderr)
            for name, m in model.items():
                with open(name, "rb") as f:
                    self.assertEqual(f.read(), bytes(m), name)
            e.umount(mnt)
            e.mount(e.backing, mnt)  # a fresh daemon: every key unwrapped again, under v2
            for name, m in model.items():
                with open(name, "rb") as f:
                    self.assertEqual(f.read(), bytes(m), name)
            e.umount(mnt)
            p = e.pfcrypt("check", e.backing)
            self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr)

    def test_retired_old_copy_is_enokey_in_mount_while_live_volume_reads(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            with open(os.path.join(mnt, "old.txt"), "wb") as f:
                f.write(b"old" * 1000)
            e.umount(mnt)
            (old_rel,) = versions(e.backing)  # the only file so far: old.txt's backing file
            old_path = os.path.join(e.backing, old_rel)
            with open(old_path, "rb") as f:
                saved = f.read()  # what a backup or a sync client's history keeps
            e.mount(e.backing, mnt)
            with open(os.path.join(mnt, "live.txt"), "wb") as f:
                f.write(b"live" * 1000)
            e.umount(mnt)
            e.pfcrypt("rotate", "--key", KEY, check=True)
            e.pfcrypt("rewrap", e.backing, check=True)
            p = e.pfcrypt("retire", "--key", KEY,
                          "--passphrase-file", e.ks.passfile, "--version", "1",
                          "--now", e.backing)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with open(old_path, "wb") as f:
                f.write(saved)  # the old copy comes back
            e.mount(e.backing, mnt)
            with self.assertRaises(OSError) as cm:
                with open(os.path.join(mnt, "old.txt"), "rb") as f:
                    f.read()
            self.assertEqual(cm.exception.errno, errno.ENOKEY)
            with open(os.path.join(mnt, "live.txt"), "rb") as f:
                self.assertEqual(f.read(), b"live" * 1000)
            e.umount(mnt)
            p = e.pfcrypt("check", e.backing, "--json")
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            probs = json.loads(p.stdout)["problems"]
            self.assertEqual([x["plain_path"] for x in probs], ["/old.txt"])
            self.assertIn(f"{KEY} v1 was retired", probs[0]["cause"])

    def test_export_import_makes_volume_mountable_on_second_keystore(self):
        with CliEnv() as e:
            mnt = e.mounted_volume()
            os.mkdir(os.path.join(mnt, "docs"))
            with open(os.path.join(mnt, "docs", "report.txt"), "wb") as f:
                f.write(b"quarterly numbers" * 500)
            e.umount(mnt)
            xpass = os.path.join(e.tmp, "xp")
            with open(xpass, "w") as f:
                f.write("moving day\n")
            bundle = os.path.join(e.tmp, "keys.bundle")
            e.pfcrypt("export", "--key", KEY, "--passphrase-file", e.ks.passfile, "-o", bundle,
                      "--export-passphrase-file", xpass, "--kdf-profile", "test", check=True)
            ks2 = e.keystore("ks2")
            p = e.pfcrypt("mount", e.backing, mnt, ks=ks2)
            self.assertEqual(p.returncode, 2, "mount without the keys must fail")
            self.assertFalse(os.path.ismount(mnt))
            e.pfcrypt("import", bundle, "--export-passphrase-file", xpass, ks=ks2, check=True)
            e.mount(e.backing, mnt, ks=ks2)
            with open(os.path.join(mnt, "docs", "report.txt"), "rb") as f:
                self.assertEqual(f.read(), b"quarterly numbers" * 500)
            e.umount(mnt)


class Quickstart(unittest.TestCase):
    def test_quickstart_non_interactive_twice(self):
        with CliEnv(keystore=False) as e:
            program("PFCRYPTFS")
            root = os.environ["PFC_SOURCE_ROOT"]
            build = os.path.dirname(os.path.dirname(program("PFCRYPT")))
            passfile = os.path.join(e.tmp, "pass")
            with open(passfile, "w") as f:
                f.write("quickstart passphrase\n")
            sock = os.path.join(e.tmp, "run", "ks.sock")
            env = dict(e.env, PFCRYPT_QUICKSTART_BUILD_DIR=build, PFCRYPT_SOCKET=sock,
                       PFCRYPT_STORE=os.path.join(e.tmp, "cfg", "keystore"),
                       PFCRYPT_PASSPHRASE_FILE=passfile, PFCRYPT_KDF_PROFILE="test",
                       XDG_STATE_HOME=os.path.join(e.tmp, "state"))
            backing, mnt = os.path.join(e.tmp, "Private.enc"), os.path.join(e.tmp, "Private")
            qs = [os.path.join(root, "pfcrypt-quickstart"), backing, mnt]
            try:
                p = subprocess.run(qs, env=env, capture_output=True, text=True,
                                   stdin=subprocess.DEVNULL, timeout=120, start_new_session=True)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                e.mounts.append(mnt)
                self.assertTrue(os.path.ismount(mnt))
                with open(os.path.join(mnt, "hello"), "w") as f:
                    f.write("hi")
                p = subprocess.run(qs, env=env, capture_output=True, text=True,
                                   stdin=subprocess.DEVNULL, timeout=120, start_new_session=True)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn("already running", p.stdout)
                self.assertIn("existing volume", p.stdout)
                self.assertIn("already mounted", p.stdout)
                self.assertNotIn("quickstart passphrase", p.stdout + p.stderr)
                e.run([e.cli, "--socket", sock, "umount", mnt], check=True)
                e.mounts.remove(mnt)
                p = e.run([e.cli, "--socket", sock, "check", backing])
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            finally:
                e.run([e.cli, "--socket", sock, "keystore", "stop"])


if __name__ == "__main__":
    taprun.main()
