#!/usr/bin/python3
"""A new user's first hour (issue 19 items 3, 5, 6, 7), tried as a gocryptfs user would: errors
say their cause once; commands that change something say so in one line (and nothing with -q);
scripts get JSON in every case."""
import errno
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time

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


def converse(argv, env, script, timeout=60):
    """Run argv on a new pseudo-terminal (its controlling tty, as a user's shell gives it) and
    play script: (regex to wait for in what it printed since the last answer, line to type).
    Returns (exit status, everything it printed)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    seen, out, reaped = 0, b"", False
    deadline = time.monotonic() + timeout

    def more():
        nonlocal out
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                return False
        return True

    try:
        for want, answer in script:
            while not re.search(want, out[seen:].decode(errors="replace")):
                if time.monotonic() > deadline or not more() and not out[seen:]:
                    raise AssertionError(f"never saw {want!r}: {out.decode(errors='replace')}")
            seen = len(out)
            time.sleep(0.05)  # the prompt is out; the terminal is in no-echo mode by now
            os.write(fd, answer.encode() + b"\n")
        while time.monotonic() < deadline:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                reaped = True
                while more() and select.select([fd], [], [], 0)[0]:
                    pass
                return os.waitstatus_to_exitcode(st), out.decode(errors="replace")
            more()
        raise AssertionError(f"{argv} did not finish: {out.decode(errors='replace')}")
    finally:
        if not reaped:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


class FirstRun(unittest.TestCase):
    """keystore init --start on a terminal: the new passphrase typed twice serves the start too;
    a mismatch asks again; a short one gets a warning and a second confirmation."""

    def first_run(self, e, script):
        sock = os.path.join(e.tmp, "first", "ks.sock")
        os.makedirs(os.path.dirname(sock), mode=0o700)
        store = os.path.join(e.tmp, "first", "store")
        env = dict(e.env, PFCRYPT_SOCKET=sock)
        try:
            rc, out = converse([e.cli, "keystore", "init", "--start", "--store", store,
                                "--kdf-profile", "test"], env, script)
            return rc, out, sock
        except BaseException:
            e.run([e.cli, "--socket", sock, "keystore", "stop"])
            raise

    def unlocks_with(self, e, sock, passphrase):
        pf = os.path.join(e.tmp, "pf")
        with open(pf, "w") as f:
            f.write(passphrase + "\n")
        return e.run([e.cli, "--socket", sock, "keystore", "unlock", "--passphrase-file", pf])

    def test_asked_twice_and_again_on_mismatch(self):
        with CliEnv(keystore=False) as e:
            good = "a long enough first passphrase"
            rc, out, sock = self.first_run(e, [
                ("New keystore passphrase: ", good), ("Repeat passphrase: ", good + "x"),
                (r"differ; again[\s\S]*New keystore passphrase: ", good),
                ("Repeat passphrase: ", good)])
            try:
                self.assertEqual(rc, 0, out)
                self.assertIn("keystore started (pid", out)
                # asked twice in all for the good try (plus the first, mistyped, pair)
                self.assertEqual(out.count("passphrase: "), 4, out)
                self.assertNotIn(good, out)
                self.assertEqual(self.unlocks_with(e, sock, good).returncode, 0)
            finally:
                e.run([e.cli, "--socket", sock, "keystore", "stop"])

    def test_short_passphrase_warned_and_confirmed(self):
        with CliEnv(keystore=False) as e:
            rc, out, sock = self.first_run(e, [
                ("New keystore passphrase: ", "short"), (r"Use it anyway\? \[y/N\]", "n"),
                (r"New keystore passphrase: ", "tiny"), (r"Use it anyway\? \[y/N\]", "y"),
                ("Repeat passphrase: ", "tiny")])
            try:
                self.assertEqual(rc, 0, out)
                self.assertIn("warning: this passphrase has only 5 characters", out)
                self.assertEqual(self.unlocks_with(e, sock, "tiny").returncode, 0)
            finally:
                e.run([e.cli, "--socket", sock, "keystore", "stop"])

    def test_quickstart_asks_twice_and_names_completion(self):
        with CliEnv(keystore=False) as e:
            build = os.path.dirname(os.path.dirname(e.cli))
            sock = os.path.join(e.tmp, "run", "ks.sock")
            data = os.path.join(e.tmp, "data")  # no completion installed there
            env = dict(e.env, PFCRYPT_QUICKSTART_BUILD_DIR=build, PFCRYPT_SOCKET=sock,
                       PFCRYPT_STORE=os.path.join(e.tmp, "cfg", "keystore"),
                       PFCRYPT_KDF_PROFILE="test", XDG_STATE_HOME=os.path.join(e.tmp, "state"),
                       XDG_DATA_DIRS=data, XDG_DATA_HOME=data)
            backing, mnt = os.path.join(e.tmp, "Private.enc"), os.path.join(e.tmp, "Private")
            good = "the quick start passphrase"
            qs = os.path.join(os.environ["PFC_SOURCE_ROOT"], "pfcrypt-quickstart")
            try:
                rc, out = converse([qs, backing, mnt], env, [
                    ("New keystore passphrase: ", good), ("Repeat passphrase: ", good)])
                e.mounts.append(mnt)
                self.assertEqual(rc, 0, out)
                self.assertEqual(out.count("passphrase: "), 2, out)
                self.assertTrue(os.path.ismount(mnt), out)
                self.assertIn(f"mounted {backing} on {mnt}", out)
                m = re.search(r"tab completion for pfcrypt: source (\S+)", out)
                self.assertTrue(m, out)
                self.assertTrue(os.path.isfile(m.group(1)), m.group(1))
            finally:
                e.run([e.cli, "--socket", sock, "umount", mnt])
                e.run([e.cli, "--socket", sock, "keystore", "stop"])

    def test_quickstart_failure_names_no_missing_log(self):
        with CliEnv(keystore=False) as e:
            pf = os.path.join(e.tmp, "pass")
            with open(pf, "w") as f:
                f.write("a quick start passphrase\n")
            env = dict(e.env, PFCRYPT_QUICKSTART_BUILD_DIR=os.path.dirname(os.path.dirname(e.cli)),
                       PFCRYPT_SOCKET=os.path.join(e.tmp, "no", "such", "ks.sock"),
                       PFCRYPT_STORE=os.path.join(e.tmp, "cfg", "keystore"),
                       PFCRYPT_PASSPHRASE_FILE=pf, PFCRYPT_KDF_PROFILE="test",
                       XDG_STATE_HOME=os.path.join(e.tmp, "state"))
            qs = os.path.join(os.environ["PFC_SOURCE_ROOT"], "pfcrypt-quickstart")
            p = subprocess.run([qs, os.path.join(e.tmp, "b"), os.path.join(e.tmp, "m")], env=env,
                               capture_output=True, text=True, stdin=subprocess.DEVNULL,
                               timeout=120, start_new_session=True)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn("cannot create the socket directory", p.stderr)
            for log in re.findall(r"\(log: ([^)]+)\)", p.stderr):
                self.assertTrue(os.path.exists(log), f"names {log}, which does not exist")


class EnokeyCause(unittest.TestCase):
    """An open that fails with ENOKEY: pfcrypt mount -f prints the cause and the master-key
    version on the terminal, and pfcrypt status says the keystore's state."""

    def test_mount_f_prints_the_cause_and_status_says_it(self):
        with CliEnv() as e:
            e.init_volume()
            e.mkfiles(e.backing, {"f.txt": b"written without a mount: no key cached"})
            mnt = os.path.join(e.tmp, "mnt")
            os.mkdir(mnt)
            fg = subprocess.Popen([e.cli, "--socket", e.ks.sock, "mount", "-f", e.backing, mnt],
                                  env=e.env, stderr=subprocess.PIPE, text=True)
            e.mounts.append(mnt)
            try:
                deadline = time.monotonic() + 30
                while not os.path.ismount(mnt) and time.monotonic() < deadline:
                    time.sleep(0.02)
                e.pfcrypt("keystore", "lock", check=True)
                with self.assertRaises(OSError) as cm:
                    open(os.path.join(mnt, "f.txt"), "rb").close()
                self.assertEqual(cm.exception.errno, errno.ENOKEY)
                p = e.pfcrypt("status", mnt)
                self.assertIn("keystore is locked", p.stdout)
                j = json.loads(e.pfcrypt("status", "--json", mnt).stdout)
                self.assertIn("locked", j["keystore"]["error"])
                while e.pfcrypt("umount", mnt).returncode != 0 and time.monotonic() < deadline:
                    time.sleep(0.1)
                e.mounts.remove(mnt)
                err = fg.communicate(timeout=30)[1]
            finally:
                if fg.poll() is None:
                    fg.kill()
                    fg.wait()
            self.assertIn(f"cannot unwrap the file key (master key {KEY} v1): keystore is locked "
                          f"(file {mnt}/f.txt)", err)


class ExitCodesAgree(unittest.TestCase):
    """init --help, README and what init does say the same: a refusal of init is exit 2."""

    def test_init_refusal_is_2_in_help_readme_and_practice(self):
        with CliEnv() as e:
            h = e.run([e.cli, "init", "--help"], check=True).stdout
            self.assertRegex(h, r"Exit: 0 created, 2 refused \(not empty, already a volume\)")
            with open(os.path.join(os.environ["PFC_SOURCE_ROOT"], "README.md")) as f:
                readme = " ".join(f.read().split())
            m = re.search(r"Exit codes: 0 ok; 1 (.*?); 2 (.*?)\.", readme)
            self.assertTrue(m, "README states the exit codes")
            self.assertNotIn("init", m.group(1))
            self.assertIn("`init` of a directory that is not empty or already a volume",
                          m.group(2))
            os.makedirs(e.backing)
            with open(os.path.join(e.backing, "x"), "w") as f:
                f.write("x")
            self.assertEqual(e.pfcrypt("init", e.backing, "--key", KEY).returncode, 2)
            top = e.run([e.cli, "--help"], check=True).stdout
            self.assertIn("2 usage or setup error, and every other refusal (init of a", top)


class SaysWhatItDid(unittest.TestCase):

    def test_mount_umount_and_keystore_commands_print_one_line(self):
        with CliEnv() as e:
            e.init_volume()
            mnt = os.path.join(e.tmp, "mnt")
            os.mkdir(mnt)
            p = e.pfcrypt("mount", e.backing, mnt, check=True)
            e.mounts.append(mnt)
            self.assertEqual(p.stdout, f"mounted {e.backing} on {mnt}\n")
            p = e.pfcrypt("umount", mnt, check=True)
            e.mounts.remove(mnt)
            self.assertEqual(p.stdout, f"unmounted {mnt}\n")
            sock = e.ks.sock
            pf = e.ks.passfile
            for args, line in ((["keystore", "lock"], f"keystore locked on {sock}"),
                               (["keystore", "unlock", "--passphrase-file", pf],
                                f"keystore unlocked on {sock}"),
                               (["keystore", "passwd", "--passphrase-file", pf,
                                 "--new-passphrase-file", pf],
                                f"keystore passphrase changed on {sock}")):
                p = e.pfcrypt(*args, check=True)
                self.assertEqual(p.stdout, line + "\n", args)
            pid = e.ks.pid
            p = e.pfcrypt("keystore", "stop", check=True)
            e.ks.pid = None
            self.assertEqual(p.stdout, f"keystore stopped (pid {pid}) on {sock}\n")

    def test_quiet_prints_nothing_on_success(self):
        with CliEnv() as e:
            e.init_volume()
            mnt = os.path.join(e.tmp, "mnt")
            os.mkdir(mnt)
            p = e.pfcrypt("-q", "mount", e.backing, mnt, check=True)
            e.mounts.append(mnt)
            self.assertEqual(p.stdout, "")
            p = e.pfcrypt("umount", "--quiet", mnt, check=True)
            e.mounts.remove(mnt)
            self.assertEqual(p.stdout, "")
            for args in (["keystore", "lock", "-q"],
                         ["--quiet", "keystore", "unlock", "--passphrase-file", e.ks.passfile]):
                self.assertEqual(e.pfcrypt(*args, check=True).stdout, "", args)
            p = e.pfcrypt("-q", "umount", mnt)
            self.assertEqual(p.returncode, 2)
            self.assertIn("not mounted", p.stderr)

    def test_keystore_subcommands_have_their_own_help(self):
        with CliEnv(keystore=False) as e:
            for sub in ("init", "start", "stop", "status", "lock", "unlock", "passwd"):
                p = e.run([e.cli, "keystore", sub, "--help"], check=True)
                self.assertTrue(p.stdout.startswith(f"Usage: pfcrypt keystore {sub}"), p.stdout)

    def test_mount_v_is_o_verbose(self):
        with CliEnv() as e:
            e.init_volume()
            mnt = os.path.join(e.tmp, "mnt")
            os.mkdir(mnt)
            log = os.path.join(e.tmp, "fs.log")
            e.pfcrypt("mount", "-v", e.backing, mnt, "-o", f"log_file={log}", check=True)
            e.mounts.append(mnt)
            with open(os.path.join(mnt, "f"), "wb") as f:
                f.write(b"x")
            with open(os.path.join(mnt, "f"), "rb") as f:
                f.read()
            deadline = time.monotonic() + 10  # the kernel's RELEASE of f may still be on its way
            while e.pfcrypt("umount", mnt).returncode != 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            e.mounts.remove(mnt)
            with open(log) as f:
                self.assertIn("debug:", f.read())


class KeystoreStatusJson(unittest.TestCase):

    def status(self, e, ks=None):
        p = e.pfcrypt("keystore", "status", "--json", ks=ks)
        return p.returncode, json.loads(p.stdout)

    def test_json_in_every_case(self):
        with CliEnv() as e:
            e.init_volume()
            rc, j = self.status(e)
            self.assertEqual(rc, 0)
            self.assertEqual((j["reachable"], j["locked"], j["pid"], j["socket"]),
                             (True, False, e.ks.pid, e.ks.sock))
            self.assertEqual(os.path.realpath(j["store"]), os.path.realpath(e.ks.store))
            self.assertIsInstance(j["uptime_s"], int)
            self.assertIn({"name": KEY, "version": 1, "state": "primary"},
                          [{k: v[k] for k in ("name", "version", "state")} for v in j["keys"]])
            e.pfcrypt("keystore", "lock", check=True)
            rc, j = self.status(e)
            self.assertEqual((rc, j["reachable"], j["locked"], j["keys"], j["pid"]),
                             (0, True, True, [], e.ks.pid))
            e.pfcrypt("keystore", "stop", check=True)
            e.ks.pid = None
            rc, j = self.status(e)
            self.assertEqual((rc, j["reachable"], j["locked"], j["pid"]), (2, False, None, None))
            self.assertIn("unreachable", j["error"])


UID = 54321  # a uid nobody uses here: /tmp/pfcrypt-54321 is this test's alone


class NoRuntimeDir(unittest.TestCase):
    """Without XDG_RUNTIME_DIR (su -, ssh) the default socket is /tmp/pfcrypt-$UID/keystore.sock
    for the CLI, the keystore and pfcryptfs alike, as ssh-agent's; a directory there that is
    someone else's or group/other-writable is refused, naming why; one that cannot be created
    is named with what to set."""
    SOCKDIR = f"/tmp/pfcrypt-{UID}"

    def setUp(self):
        shutil.rmtree(self.SOCKDIR, ignore_errors=True)
        self.home = tempfile.mkdtemp(prefix="pfc-nort-")
        os.chmod(self.home, 0o755)
        os.chown(self.home, UID, UID)
        self.pf = os.path.join(self.home, "pass")
        with open(self.pf, "w") as f:
            f.write("a passphrase for the other user\n")
        os.chown(self.pf, UID, UID)

    def tearDown(self):
        self.as_user("keystore", "stop")
        shutil.rmtree(self.SOCKDIR, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)

    def as_user(self, *args, prog="PFCRYPT", extra_env=None):
        env = {"PATH": os.environ["PATH"], "HOME": self.home,
               "PFCRYPT_KEYSTORE_BIN": os.environ["PFCRYPT_KEYSTORE"]}
        env.update(extra_env or {})
        argv = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups",
                os.environ[prog]] + list(args)
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)

    def start(self):
        return self.as_user("keystore", "init", "--start", "--store",
                            os.path.join(self.home, "store"), "--kdf-profile", "test",
                            "--passphrase-file", self.pf)

    def test_falls_back_to_tmp_for_cli_keystore_and_pfcryptfs(self):
        p = self.start()
        sock = f"{self.SOCKDIR}/keystore.sock"
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"on {sock}", p.stdout)
        st = os.stat(self.SOCKDIR)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (UID, 0o700))
        p = self.as_user("keystore", "status", "--json")
        j = json.loads(p.stdout)
        self.assertEqual((p.returncode, j["socket"], j["store"]),
                         (0, sock, os.path.join(self.home, "store")), p.stderr)
        backing, mnt = os.path.join(self.home, "b"), os.path.join(self.home, "m")
        p = self.as_user("init", backing, "--key", "mine")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.as_user("keystore", "stop")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.as_user("keystore", "status")
        self.assertIn(f"{sock}: keystore unreachable", p.stderr)
        # pfcryptfs asks the same socket (here: nobody answers it any more)
        os.mkdir(mnt)
        os.chown(mnt, UID, UID)
        p = self.as_user(backing, mnt, prog="PFCRYPTFS")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(f"keystore {sock}: keystore unreachable", p.stderr)

    def test_refuses_a_directory_of_someone_else_or_writable_by_others(self):
        os.mkdir(self.SOCKDIR, 0o700)  # root's
        p = self.start()
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"socket directory {self.SOCKDIR}: owned by uid 0, not by you (uid {UID})",
                      p.stderr)
        os.chown(self.SOCKDIR, UID, UID)
        os.chmod(self.SOCKDIR, 0o770)
        p = self.as_user("keystore", "start", "--store", os.path.join(self.home, "store"),
                         "--passphrase-file", self.pf)
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"socket directory {self.SOCKDIR}: writable by group or others (mode 0770)",
                      p.stderr)

    def test_names_the_directory_it_cannot_create(self):
        p = self.as_user("keystore", "init", "--start", "--store",
                         os.path.join(self.home, "store"), "--kdf-profile", "test",
                         "--passphrase-file", self.pf,
                         extra_env={"XDG_RUNTIME_DIR": "/run/user/nosuch"})
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot create the socket directory /run/user/nosuch/pfcrypt", p.stderr)
        self.assertIn("set XDG_RUNTIME_DIR", p.stderr)


if __name__ == "__main__":
    taprun.main()
