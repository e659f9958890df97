#!/usr/bin/python3
"""Desktop and server fit (issue 10), the daemons' side: passphrase input (a terminal prompt
without echo, --passphrase-file, --extpass CMD), logging (stderr in the foreground, syslog when
daemonised, one line per event, --verbose, never a secret) and systemd socket activation of
the keystore (through systemd-socket-activate, which speaks the same LISTEN_FDS protocol).

Syslog is observed for real: the module runs in a private mount namespace (unshare) whose /dev
is a tmpfs holding the host's device nodes (bind mounts) plus a /dev/log datagram socket that
this test reads, so glibc's syslog() from a daemonised pfcryptfs or pfcrypt-keystore lands
here.  Nothing outside the namespace changes.  Needs root and /dev/fuse.
"""
import os
import pty
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import termios
import time
import unittest

if os.environ.get("PFC_DESKTOP_NS") != "1":
    os.environ["PFC_DESKTOP_NS"] = "1"
    os.execv("/usr/bin/unshare", ["unshare", "--mount", "--propagation", "private",
                                  sys.executable] + sys.argv)

import taprun
from clienv import CliEnv, KEY, PASSPHRASE, WAIT_S, alive, program

DEVTMP = None
SYSLOG = None  # the socket at /dev/log
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty", "fuse")


def sh(*argv):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"{argv}: {r.stderr}")


def setUpModule():
    """A /dev of our own (see the module docstring) with a syslog socket."""
    global DEVTMP, SYSLOG
    DEVTMP = tempfile.mkdtemp(prefix="pfc-desktop-dev-")
    nd = os.path.join(DEVTMP, "dev")
    os.mkdir(nd)
    sh("mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", nd)
    for n in DEV_NODES:
        open(os.path.join(nd, n), "w").close()
        sh("mount", "--bind", f"/dev/{n}", os.path.join(nd, n))
    for d in ("pts", "shm"):
        os.mkdir(os.path.join(nd, d))
        sh("mount", "--bind", f"/dev/{d}", os.path.join(nd, d))
    for n, t in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                 ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
                 ("ptmx", "pts/ptmx")):  # the pty multiplexer of the bound devpts
        os.symlink(t, os.path.join(nd, n))
    sh("mount", "--move", nd, "/dev")
    SYSLOG = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    SYSLOG.bind("/dev/log")
    os.chmod("/dev/log", 0o666)


def tearDownModule():
    if SYSLOG:
        SYSLOG.close()
    subprocess.run(["umount", "-l", "/dev"], capture_output=True)
    shutil.rmtree(DEVTMP, ignore_errors=True)


def syslog_lines(want, timeout=WAIT_S):
    """Syslog messages received until one contains want (or timeout): [(ident, text)]."""
    out, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([SYSLOG], [], [], 0.05)
        if not r:
            continue
        msg = SYSLOG.recv(65536).decode(errors="replace")
        # "<PRI>Mon DD HH:MM:SS ident[pid]: text"
        rest = msg.split(">", 1)[1][16:]
        ident, text = rest.split(": ", 1)
        out.append((ident, text))
        if want in text:
            break
    return out


def drain_syslog():
    while select.select([SYSLOG], [], [], 0)[0]:
        SYSLOG.recv(65536)


def wait_until(cond):
    deadline = time.monotonic() + WAIT_S
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)
    return cond()


class Passphrase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pfc-desktop-pass-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.ks = program("PFCRYPT_KEYSTORE")
        self.store = os.path.join(self.tmp, "store")
        self.sock = os.path.join(self.tmp, "ks.sock")
        self.passfile = os.path.join(self.tmp, "pass")
        with open(self.passfile, "wb") as f:
            f.write(PASSPHRASE + b"\n")
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PFCRYPT_SOCKET", "PFCRYPT_PASSPHRASE_FILE")}
        self.env["PFCRYPT_KEYSTORE_BIN"] = self.ks

    def run_ks(self, *args):
        return subprocess.run([self.ks, "--store", self.store, "--socket", self.sock] +
                              list(args), capture_output=True, text=True, env=self.env,
                              timeout=60, stdin=subprocess.DEVNULL)

    def cli(self, *args, **kw):
        return subprocess.run([program("PFCRYPT"), "--socket", self.sock] + list(args),
                              capture_output=True, text=True, env=self.env, timeout=60,
                              stdin=subprocess.DEVNULL, **kw)

    def stop(self):
        r = self.cli("keystore", "stop")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_keystore_extpass_init_and_start(self):
        # init asks once (a command, not a person, types it)
        r = self.run_ks("--init", "--kdf-profile", "test", "--extpass", f"cat {self.passfile}")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_ks("--extpass", f"cat {self.passfile}", "--log-file",
                        os.path.join(self.tmp, "log"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("unlocked", self.cli("keystore", "status").stdout)
        self.stop()
        # a wrong passphrase, a failing command, two sources at once
        r = self.run_ks("--extpass", "echo not-the-passphrase")
        self.assertEqual(r.returncode, 1)
        self.assertNotIn("not-the-passphrase", r.stderr)
        r = self.run_ks("--extpass", "sh", "--extpass", "-c", "--extpass", "echo x; exit 3")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--extpass: sh exited with status 3", r.stderr)
        # no shell: the one value is split at spaces and run as it is
        r = self.run_ks("--extpass", f"cat {self.passfile}; exit 3")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--extpass: cat exited with status 1", r.stderr)
        r = self.run_ks("--extpass", "/nonexistent/askpass")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--extpass: cannot run /nonexistent/askpass: No such file or directory",
                      r.stderr)
        r = self.run_ks("--extpass", "true", "--passphrase-file", self.passfile)
        self.assertEqual(r.returncode, 2)
        self.assertFalse(os.path.exists(self.sock))

    def test_cli_extpass_start_unlock_never_on_a_command_line(self):
        r = self.cli("keystore", "init", "--store", self.store, "--kdf-profile", "test",
                     "--extpass", f"cat {self.passfile}")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cli("keystore", "start", "--store", self.store, "--extpass",
                     f"cat {self.passfile}")
        self.assertEqual(r.returncode, 0, r.stderr)
        pid = int(r.stdout.split("(pid ")[1].split(")")[0])
        self.addCleanup(lambda: alive(pid) and os.kill(pid, 9))
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            self.assertNotIn(PASSPHRASE, f.read())
        self.assertEqual(self.cli("keystore", "lock").returncode, 0)
        r = self.cli("keystore", "unlock", "--extpass", "false")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn("locked", self.cli("keystore", "status").stdout)
        r = self.cli("keystore", "unlock", "--extpass", f"cat {self.passfile}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("unlocked", self.cli("keystore", "status").stdout)
        self.stop()

    def test_tty_prompt_does_not_echo(self):
        r = self.cli("keystore", "init", "--store", self.store, "--kdf-profile", "test",
                     "--passphrase-file", self.passfile)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cli("keystore", "start", "--store", self.store, "--locked")
        self.assertEqual(r.returncode, 0, r.stderr)
        kpid = int(r.stdout.split("(pid ")[1].split(")")[0])
        self.addCleanup(lambda: alive(kpid) and os.kill(kpid, 9))  # if the test fails early
        pid, fd = pty.fork()
        if pid == 0:  # a session whose controlling terminal is the pty
            os.execve(program("PFCRYPT"), ["pfcrypt", "--socket", self.sock, "keystore",
                                           "unlock"], self.env)
        seen = b""
        try:
            deadline = time.monotonic() + WAIT_S
            while b"passphrase" not in seen.lower() and time.monotonic() < deadline:
                if select.select([fd], [], [], 0.1)[0]:
                    seen += os.read(fd, 1024)
            self.assertIn(b"passphrase", seen.lower())
            # Type only once the terminal's echo is off: the CLI prints its prompt, then turns
            # echo off with TCSAFLUSH, which discards input typed in between (a race this test
            # lost under load, and then waited for the child forever).
            while termios.tcgetattr(fd)[3] & termios.ECHO and time.monotonic() < deadline:
                time.sleep(0.01)
            self.assertFalse(termios.tcgetattr(fd)[3] & termios.ECHO,
                             "echo still on while the passphrase is asked for")
            os.write(fd, PASSPHRASE + b"\n")
            while True:
                if not select.select([fd], [], [], WAIT_S)[0]:
                    break
                try:
                    chunk = os.read(fd, 1024)
                except OSError:  # EIO: the child closed the pty
                    break
                if not chunk:
                    break
                seen += chunk
        finally:
            # bounded: a child still waiting for input is killed (the test fails, not hangs)
            end = time.monotonic() + WAIT_S
            while (w := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < end:
                time.sleep(0.02)
            if w[0] == 0:
                os.kill(pid, 9)
                w = os.waitpid(pid, 0)
            st = w[1]
            os.close(fd)
        self.assertEqual(os.waitstatus_to_exitcode(st), 0, seen)
        self.assertNotIn(PASSPHRASE, seen, "the passphrase was echoed")
        self.assertIn("unlocked", self.cli("keystore", "status").stdout)
        self.stop()


class SocketActivation(unittest.TestCase):
    def test_keystore_serves_the_socket_it_is_given_and_leaves_it(self):
        with CliEnv(keystore=False) as e:
            store, sock = os.path.join(e.tmp, "store"), os.path.join(e.tmp, "act.sock")
            with open(os.path.join(e.tmp, "pass"), "wb") as f:
                f.write(PASSPHRASE)
            e.run([e.cli, "keystore", "init", "--store", store, "--kdf-profile", "test",
                   "--passphrase-file", os.path.join(e.tmp, "pass")], check=True)
            # as pfcrypt-keystore.service runs it (--foreground --locked)
            act = subprocess.Popen(["systemd-socket-activate", "-l", sock,
                                    program("PFCRYPT_KEYSTORE"), "--foreground", "--locked",
                                    "--store", store, "--socket", "/nonexistent/ignored"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                self.assertTrue(wait_until(lambda: os.path.exists(sock)))
                cli = [e.cli, "--socket", sock, "keystore"]
                self.assertIn("state:     locked", e.run(cli + ["status"], check=True).stdout)
                e.run(cli + ["unlock", "--passphrase-file", os.path.join(e.tmp, "pass")],
                      check=True)
                e.run([e.cli, "--socket", sock, "init", e.backing, "--key", KEY], check=True)
                self.assertIn("unlocked", e.run(cli + ["status"], check=True).stdout)
            finally:
                act.terminate()
                _, err = act.communicate(timeout=WAIT_S)
            self.assertEqual(act.returncode, 0, err)
            self.assertIn("listening on " + sock, err)
            self.assertTrue(os.path.exists(sock), "the socket systemd owns was removed")
            self.assertFalse(os.path.exists("/nonexistent/ignored"))


    def test_stop_refuses_a_socket_made_by_the_service_manager(self):
        """Under systemd the socket's owner (SO_PEERCRED) is the service manager, not the
        keystore: `pfcrypt keystore stop` must not send it SIGTERM.  Here this test process
        plays the manager: it makes the listening socket and starts the keystore on it."""
        with CliEnv(keystore=False) as e:
            store, sock = os.path.join(e.tmp, "store"), os.path.join(e.tmp, "mgr.sock")
            pf = os.path.join(e.tmp, "pass")
            with open(pf, "wb") as f:
                f.write(PASSPHRASE)
            e.run([e.cli, "keystore", "init", "--store", store, "--kdf-profile", "test",
                   "--passphrase-file", pf], check=True)
            lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            lsock.bind(sock)
            lsock.listen(16)
            lfd = lsock.fileno()
            # the socket on fd 3 and LISTEN_PID = the pid that execs the keystore, as systemd does
            ks = subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh",
                                   program("PFCRYPT_KEYSTORE"), "--foreground", "--store", store,
                                   "--passphrase-file", pf],
                                  pass_fds=(3,), preexec_fn=lambda: os.dup2(lfd, 3),
                                  stderr=subprocess.PIPE, text=True)
            lsock.close()
            try:
                cli = [e.cli, "--socket", sock, "keystore"]
                self.assertTrue(wait_until(
                    lambda: e.run(cli + ["status"]).returncode == 0))
                r = e.run(cli + ["stop"])
                self.assertEqual(r.returncode, 2)
                self.assertIn("systemctl --user stop pfcrypt-keystore.service", r.stderr)
                self.assertIsNone(ks.poll(), "the keystore was stopped anyway")
            finally:
                ks.terminate()
                _, err = ks.communicate(timeout=WAIT_S)
            self.assertEqual(ks.returncode, 0, err)
            self.assertTrue(os.path.exists(sock))


class Logging(unittest.TestCase):
    SECRET = "plain contents that must never be logged"

    def volume(self, e):
        e.init_volume()
        e.mkfiles(e.backing, {"dir/file.txt": self.SECRET.encode()})

    def check_no_secret(self, text):
        for s in (PASSPHRASE.decode(), self.SECRET):
            self.assertNotIn(s, text)

    def run_foreground(self, e, *opts):
        """Mount with pfcryptfs -f opts, read the file, unmount; the daemon's stderr lines."""
        mnt = os.path.join(e.tmp, "mnt")
        os.makedirs(mnt, exist_ok=True)
        log = os.path.join(e.tmp, "fs.log")
        with open(log, "w") as lf:
            d = subprocess.Popen([program("PFCRYPTFS"), e.backing, mnt, "-f", "--socket",
                                  e.ks.sock] + list(opts), stdout=lf, stderr=lf)
        try:
            self.assertTrue(wait_until(lambda: os.path.ismount(mnt) or d.poll() is not None))
            self.assertIsNone(d.poll(), f"pfcryptfs {opts} exited {d.returncode}")
            with open(os.path.join(mnt, "dir", "file.txt")) as f:
                self.assertEqual(f.read(), self.SECRET)
            subprocess.run(["fusermount3", "-u", mnt], check=True)
            self.assertEqual(d.wait(timeout=WAIT_S), 0)
        finally:
            if d.poll() is None:
                d.kill()
                d.wait()
                subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
        with open(log) as f:
            lines = f.read().splitlines()
        for line in lines:
            self.assertRegex(line, r"^pfcryptfs: (error|warning|info|debug): \S")
        self.check_no_secret("\n".join(lines))
        return lines

    def test_pfcryptfs_foreground_stderr_and_verbose(self):
        with CliEnv() as e:
            self.volume(e)
            quiet = self.run_foreground(e)
            self.assertTrue(any("info: mounted " + os.path.realpath(e.backing) in l
                                for l in quiet), quiet)
            self.assertTrue(any("info: unmounted" in l for l in quiet), quiet)
            self.assertFalse([l for l in quiet if ": debug: " in l], quiet)
            for opt in (["--verbose"], ["-v"], ["-o", "verbose"]):
                loud = self.run_foreground(e, *opt)
                self.assertTrue(any(l.endswith(": file key unwrapped by the keystore")
                                    and "debug" in l for l in loud), (opt, loud))

    def test_pfcryptfs_daemonised_logs_to_syslog(self):
        with CliEnv() as e:
            self.volume(e)
            mnt = os.path.join(e.tmp, "mnt")
            drain_syslog()
            e.mount(e.backing, mnt)  # pfcrypt mount: pfcryptfs forks into the background
            got = syslog_lines("mounted")
            self.assertIn(("pfcryptfs", f"mounted {os.path.realpath(e.backing)}"),
                          [(i.split("[")[0], t.split(" on ")[0]) for i, t in got], got)
            with open(os.path.join(mnt, "dir", "file.txt")) as f:
                f.read()
            e.umount(mnt)
            got += syslog_lines("unmounted")
            self.assertTrue(any("unmounted" in t for _, t in got), got)
            self.check_no_secret(repr(got))

    def test_keystore_daemonised_logs_to_syslog(self):
        with CliEnv(keystore=False) as e:
            store, sock = os.path.join(e.tmp, "store"), os.path.join(e.tmp, "s.sock")
            pf = os.path.join(e.tmp, "pass")
            with open(pf, "wb") as f:
                f.write(PASSPHRASE)
            ks = program("PFCRYPT_KEYSTORE")
            e.run([ks, "--init", "--store", store, "--kdf-profile", "test",
                   "--passphrase-file", pf], check=True)
            drain_syslog()
            e.run([ks, "--store", store, "--socket", sock, "--passphrase-file", pf, "-v"],
                  check=True)
            got = syslog_lines("listening on")
            self.assertTrue(any(i.startswith("pfcrypt-keystore[") and "listening on " + sock in t
                                for i, t in got), got)
            e.run([e.cli, "--socket", sock, "keystore", "status"], check=True)
            e.run([e.cli, "--socket", sock, "keystore", "stop"], check=True)
            got += syslog_lines("stopped")
            self.assertTrue(any("stopped" in t for _, t in got), got)
            self.check_no_secret(repr(got))


if __name__ == "__main__":
    taprun.main()
