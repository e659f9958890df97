#!/usr/bin/env python3
"""pfcrypt CLI: --help everywhere, exit codes, one-line errors, keystore management, init, status,
export/import, and no secret in any output (issue 6 points 1, 2, 3, 6, 7)."""
import json
import os
import socket
import subprocess

import taprun
from clienv import KEY, PASSPHRASE, CliEnv, alive, backing_files, one_line_error

import unittest

COMMANDS = [["keystore"], ["keystore", "init"], ["keystore", "start"], ["keystore", "stop"],
            ["keystore", "status"], ["keystore", "lock"], ["keystore", "unlock"],
            ["keystore", "passwd"], ["init"], ["mount"], ["umount"], ["status"], ["rotate"],
            ["rewrap"], ["retire"], ["check"], ["export"], ["import"]]


class Help(unittest.TestCase):
    def test_help_on_every_subcommand_exits_0_with_usage(self):
        with CliEnv(keystore=False) as e:
            for cmd in COMMANDS + [[]]:
                p = e.run([e.cli] + cmd + ["--help"])
                self.assertEqual(p.returncode, 0, f"{cmd}: {p.stderr}")
                self.assertTrue(p.stdout.startswith("Usage: pfcrypt"), f"{cmd}: {p.stdout!r}")
                self.assertIn("Exit", p.stdout, cmd)

    def test_usage_errors_exit_2_with_one_line(self):
        with CliEnv(keystore=False) as e:
            for argv in ([], ["bogus"], ["init"], ["status"], ["rewrap", "a", "b"],
                         ["retire", "--key", "k"], ["check"], ["export", "--key", "k"],
                         ["init", "x", "--cipher", "rot13"], ["init", "x", "--block-size", "5000"],
                         ["rewrap", "x", "--threads", "0"], ["keystore", "frobnicate"]):
                p = e.run([e.cli] + argv)
                self.assertEqual(p.returncode, 2, f"{argv}: {p.stdout} {p.stderr}")
                if argv:
                    self.assertTrue(p.stderr.startswith("pfcrypt: "), argv)
                    self.assertEqual(len(p.stderr.splitlines()), 1, f"{argv}: {p.stderr}")

    def test_setup_errors_name_the_file(self):
        with CliEnv() as e:
            missing = os.path.join(e.tmp, "nowhere")
            line = one_line_error(self, e.pfcrypt("status", missing))
            self.assertIn(missing, line)
            os.mkdir(missing)
            line = one_line_error(self, e.pfcrypt("check", missing))
            self.assertIn(os.path.join(missing, "pfcrypt.conf"), line)
            line = one_line_error(self, e.run([e.cli, "--socket", os.path.join(e.tmp, "no.sock"),
                                              "keystore", "status"]))
            self.assertIn("no.sock", line)
            self.assertIn("unreachable", line)


class KeystoreManagement(unittest.TestCase):
    def test_status_lock_unlock_passwd_stop(self):
        with CliEnv() as e:
            ks = e.ks
            st = json.loads(ks.run("keystore", "status", "--json", check=True).stdout)
            self.assertFalse(st["locked"])
            ks.run("keystore", "lock", check=True)
            st = json.loads(ks.run("keystore", "status", "--json", check=True).stdout)
            self.assertTrue(st["locked"])
            line = one_line_error(self, e.pfcrypt("init", e.backing))
            self.assertIn("locked", line)
            wrong = os.path.join(e.tmp, "wrong")
            with open(wrong, "w") as f:
                f.write("not the passphrase\n")
            line = one_line_error(self, ks.run("keystore", "unlock", "--passphrase-file", wrong))
            self.assertIn("wrong passphrase", line)
            # The passphrase from a file descriptor.
            r, w = os.pipe()
            os.write(w, PASSPHRASE)
            os.close(w)
            p = subprocess.run([e.cli, "--socket", ks.sock, "keystore", "unlock",
                                "--passphrase-fd", str(r)], pass_fds=(r,), env=e.env,
                               capture_output=True, text=True)
            os.close(r)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertFalse(json.loads(ks.run("keystore", "status", "--json").stdout)["locked"])
            newpass = os.path.join(e.tmp, "newpass")
            with open(newpass, "w") as f:
                f.write("a brand new passphrase\n")
            ks.run("keystore", "passwd", "--passphrase-file", ks.passfile,
                   "--new-passphrase-file", newpass, check=True)
            ks.run("keystore", "lock", check=True)
            one_line_error(self, ks.run("keystore", "unlock", "--passphrase-file", ks.passfile))
            # The passphrase from the environment variable PFCRYPT_PASSPHRASE_FILE.
            env = dict(e.env, PFCRYPT_PASSPHRASE_FILE=newpass)
            p = e.run([e.cli, "--socket", ks.sock, "keystore", "unlock"], env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            pid = ks.pid
            ks.stop()
            self.assertFalse(alive(pid))
            one_line_error(self, ks.run("keystore", "status"))

    def test_extpass_runs_a_command_for_the_passphrase(self):
        with CliEnv() as e:
            ks = e.ks
            ks.run("keystore", "lock", check=True)
            line = one_line_error(self, ks.run("keystore", "unlock", "--extpass", "sh",
                                               "--extpass", "-c", "--extpass", "exit 3"))
            self.assertIn("--extpass: sh exited with status 3", line)
            line = one_line_error(self, ks.run("keystore", "unlock", "--extpass", "exit 3"))
            self.assertIn("--extpass: cannot run exit: No such file or directory", line)
            line = one_line_error(self, ks.run("keystore", "unlock", "--extpass", "echo nope"))
            self.assertIn("wrong passphrase", line)
            # --extpass wins over PFCRYPT_PASSPHRASE_FILE (which names a wrong one here).
            wrong = os.path.join(e.tmp, "wrong")
            with open(wrong, "w") as f:
                f.write("nope\n")
            env = dict(e.env, PFCRYPT_PASSPHRASE_FILE=wrong)
            p = e.run([e.cli, "--socket", ks.sock, "keystore", "unlock", "--extpass",
                       f"cat {ks.passfile}"], env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertFalse(json.loads(ks.run("keystore", "status", "--json").stdout)["locked"])
            ks.stop()
            out = ks.run("keystore", "start", "--store", ks.store, "--log-file", ks.log,
                         "--extpass", f"cat {ks.passfile}", check=True).stdout
            ks.pid = int(out.split("(pid ")[1].split(")")[0])

    def test_stop_signals_only_a_keystore(self):
        """With socket activation the socket's owner is systemd: stop must refuse, not kill it.
        Here the owner is this test process itself."""
        with CliEnv(keystore=False) as e:
            path = os.path.join(e.tmp, "not-a-keystore.sock")
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            srv.bind(path)
            srv.listen(4)
            try:
                line = one_line_error(self, e.run([e.cli, "--socket", path, "keystore", "stop"]))
                self.assertIn(f"pid {os.getpid()}", line)
                self.assertIn("not pfcrypt-keystore", line)
            finally:
                srv.close()

    def test_start_refuses_when_one_answers_and_env_socket_works(self):
        with CliEnv() as e:
            line = one_line_error(self, e.ks.run("keystore", "start", "--store", e.ks.store,
                                                 "--passphrase-file", e.ks.passfile))
            self.assertIn("already", line)
            env = dict(e.env, PFCRYPT_SOCKET=e.ks.sock)
            p = e.run([e.cli, "keystore", "status"], env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(e.ks.sock, p.stdout)

    def test_start_with_wrong_passphrase_fails_and_leaves_nothing(self):
        with CliEnv() as e:
            e.ks.stop()
            wrong = os.path.join(e.tmp, "wrong")
            with open(wrong, "w") as f:
                f.write("nope\n")
            p = e.ks.run("keystore", "start", "--store", e.ks.store, "--passphrase-file", wrong)
            one_line_error(self, p)
            one_line_error(self, e.ks.run("keystore", "status"))


class Init(unittest.TestCase):
    def test_init_refuses_non_empty_dir_and_existing_volume(self):
        with CliEnv() as e:
            os.mkdir(e.backing)
            with open(os.path.join(e.backing, "somefile"), "w") as f:
                f.write("x")
            line = one_line_error(self, e.pfcrypt("init", e.backing))
            self.assertIn("not empty", line)
            self.assertEqual(os.listdir(e.backing), ["somefile"])
            fresh = os.path.join(e.tmp, "fresh")
            e.init_volume(fresh)
            self.assertEqual(sorted(os.listdir(fresh)), [".pfcrypt.dirid", "pfcrypt.conf"])
            before = backing_files(fresh)
            line = one_line_error(self, e.pfcrypt("init", fresh))
            self.assertIn("already a pfcrypt volume", line)
            self.assertEqual(backing_files(fresh), before)

    def test_init_options_and_new_key_created_once(self):
        with CliEnv() as e:
            a, b = os.path.join(e.tmp, "a"), os.path.join(e.tmp, "b")
            e.init_volume(a, "--cipher", "xchacha20poly1305", "--block-size", "8192")
            e.init_volume(b)  # same key name: reused, not an error
            sa = json.loads(e.pfcrypt("status", "--json", a, check=True).stdout)
            sb = json.loads(e.pfcrypt("status", "--json", b, check=True).stdout)
            self.assertEqual((sa["cipher"], sa["block_size"]), ("xchacha20poly1305", 8192))
            self.assertIn(sb["cipher"], ("aes256gcm", "xchacha20poly1305"))
            self.assertEqual(sb["block_size"], 4096)
            self.assertNotEqual(sa["volume_id"], sb["volume_id"])
            keys = json.loads(e.ks.run("keystore", "status", "--json").stdout)["keys"]
            self.assertEqual([(k["name"], k["version"]) for k in keys], [(KEY, 1)])


class Status(unittest.TestCase):
    def test_status_counts_files_per_version_and_keystore_state(self):
        with CliEnv() as e:
            e.init_volume()
            e.mkfiles(e.backing, {"a": b"1", "d/b": b"2" * 5000, "d/e/c": b"", "x" * 200: b"3"})
            e.pfcrypt("rotate", "--key", KEY, check=True)
            e.mkfiles(e.backing, {"new1": b"n", "d/new2": b"m" * 10})
            open(os.path.join(e.backing, "zz-empty"), "w").close()  # no header at all
            with open(os.path.join(e.backing, "zz-garbage"), "wb") as f:
                f.write(b"not a header" * 30)
            st = json.loads(e.pfcrypt("status", "--json", e.backing, check=True).stdout)
            got = {(v["name"], v["version"]): (v["files"], v["state"]) for v in st["versions"]}
            self.assertEqual(got, {(KEY, 1): (4, "active"), (KEY, 2): (2, "primary")})
            self.assertEqual(st["files"], {"total": 8, "empty": 1, "unreadable": 1,
                                           "not_primary": 4})
            self.assertIsNone(st["mounted_at"])
            self.assertEqual(st["name_key"], {"name": KEY, "version": 1})
            ksv = {(v["name"], v["version"]): v["state"] for v in st["keystore"]["versions"]}
            self.assertEqual(ksv, {(KEY, 1): "active", (KEY, 2): "primary"})
            text = e.pfcrypt("status", e.backing, check=True).stdout
            self.assertIn(f"{KEY} v1: 4 files (active)", text)
            self.assertIn(f"{KEY} v2: 2 files (primary)", text)
            self.assertIn("4 files not under the primary version: run 'pfcrypt rewrap", text)
            # Without a keystore: settings and counts still, exit 0.
            e.ks.stop()
            p = e.pfcrypt("status", "--json", e.backing)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertFalse(json.loads(p.stdout)["keystore"]["reachable"])
            self.assertIsNone(json.loads(p.stdout)["files"]["not_primary"])


class ExportImport(unittest.TestCase):
    def test_export_import_to_second_keystore_and_bundle_needs_passphrase(self):
        with CliEnv() as e:
            e.init_volume()
            e.mkfiles(e.backing, {"doc.txt": b"hello" * 2000, "sub/x": b"y"})
            e.pfcrypt("rotate", "--key", KEY, check=True)
            e.mkfiles(e.backing, {"later": b"z" * 9000})
            xpass = os.path.join(e.tmp, "xpass")
            with open(xpass, "w") as f:
                f.write("export passphrase 123\n")
            bundle = os.path.join(e.tmp, "bundle")
            e.pfcrypt("export", "--key", KEY, "--passphrase-file", e.ks.passfile, "-o", bundle,
                      "--export-passphrase-file", xpass,
                      "--kdf-profile", "test", check=True)  # cheap: fast tests, asked for
            self.assertEqual(os.stat(bundle).st_mode & 0o777, 0o600)
            one_line_error(self, e.pfcrypt("export", "--key", KEY, "--passphrase-file",
                                           e.ks.passfile, "-o", bundle,
                                           "--export-passphrase-file", xpass,
                                           "--kdf-profile", "test"))  # never overwrites
            ks2 = e.keystore("ks2")
            p = e.pfcrypt("check", e.backing, ks=ks2)
            self.assertNotEqual(p.returncode, 0, "a keystore without the key cannot read the volume")
            wrong = os.path.join(e.tmp, "wrong")
            with open(wrong, "w") as f:
                f.write("export passphrase 124\n")
            line = one_line_error(self, e.pfcrypt("import", bundle, "--export-passphrase-file",
                                                  wrong, ks=ks2))
            self.assertIn("wrong passphrase", line)
            self.assertEqual(json.loads(ks2.run("keystore", "status", "--json").stdout)["keys"], [])
            e.pfcrypt("import", bundle, "--export-passphrase-file", xpass, ks=ks2, check=True)
            p = e.pfcrypt("check", e.backing, ks=ks2)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            # Only version 2 exported: files under v1 do not read there.
            b2 = os.path.join(e.tmp, "bundle2")
            e.pfcrypt("export", "--key", KEY, "--passphrase-file", e.ks.passfile, "--versions", "2",
                      "-o", b2,
                      "--export-passphrase-file", xpass, "--kdf-profile", "test", check=True)
            ks3 = e.keystore("ks3")
            e.pfcrypt("import", b2, "--export-passphrase-file", xpass, ks=ks3, check=True)
            keys = json.loads(ks3.run("keystore", "status", "--json").stdout)["keys"]
            self.assertEqual([(k["name"], k["version"]) for k in keys], [(KEY, 2)])


class NoSecrets(unittest.TestCase):
    def test_no_passphrase_in_any_output_or_log(self):
        with CliEnv() as e:
            outputs = []

            def run(*args, **kw):
                p = e.pfcrypt(*args, **kw)
                outputs.append(p.stdout + p.stderr)
                return p

            xpass = os.path.join(e.tmp, "xpass")
            secret_x = b"export secret zebra 8841"
            secret_n = b"new secret giraffe 5512"
            with open(xpass, "wb") as f:
                f.write(secret_x)
            newpass = os.path.join(e.tmp, "np")
            with open(newpass, "wb") as f:
                f.write(secret_n)
            run("init", e.backing, "--key", KEY, check=True)
            e.mkfiles(e.backing, {"f": b"data"})
            for args in (["status", e.backing], ["status", "--json", e.backing],
                         ["check", e.backing], ["check", "--json", e.backing],
                         ["rotate", "--key", KEY], ["rewrap", e.backing],
                         ["export", "--key", KEY, "--passphrase-file", e.ks.passfile,
                          "-o", os.path.join(e.tmp, "b"),
                          "--export-passphrase-file", xpass, "--kdf-profile", "test"],
                         ["import", os.path.join(e.tmp, "b"), "--export-passphrase-file", newpass],
                         ["keystore", "passwd", "--passphrase-file", e.ks.passfile,
                          "--new-passphrase-file", newpass],
                         ["keystore", "unlock", "--passphrase-file", newpass],
                         ["keystore", "status"]):
                run(*args)
            with open(e.ks.log, "rb") as f:
                log = f.read()
            blob = "\n".join(outputs).encode() + log
            for s in (PASSPHRASE, secret_x, secret_n):
                self.assertNotIn(s, blob)
                self.assertNotIn(s.hex().encode(), blob)


if __name__ == "__main__":
    taprun.main()
