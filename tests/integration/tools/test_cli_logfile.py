#!/usr/bin/python3
"""Logs without syslog (issue 19 item 4): pfcryptfs --log-file F / -o log_file=F logs there, with
times; in the background on a machine without syslog it logs to $XDG_STATE_HOME/pfcrypt/NAME.log
and says so at mount; a line about a damaged file names it by its path in the mount as well as by
its backing path.

Runs in a private mount namespace (unshare) where /dev/log, if the machine has one, is covered by
/dev/null, so "no syslog" is the same on every machine; nothing outside the namespace changes."""
import os
import subprocess
import sys
import time

if os.environ.get("PFC_LOGFILE_NS") != "1":
    os.environ["PFC_LOGFILE_NS"] = "1"
    os.execv("/usr/bin/unshare", ["unshare", "--mount", "--propagation", "private",
                                  sys.executable] + sys.argv)

import taprun
import unittest
from clienv import WAIT_S, CliEnv
from pfcformat import BS, HEADER_SIZE
from pfcfs import backing_of, errno_of, read_all


def setUpModule():
    if os.path.lexists("/dev/log"):
        subprocess.run(["mount", "--bind", "/dev/null", "/dev/log"], check=True)


def wait_for_text(path, text):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if os.path.exists(path) and text in open(path, errors="replace").read():
            return open(path, errors="replace").read()
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}: "
                         f"{open(path).read() if os.path.exists(path) else '(no file)'}")


class LogFile(unittest.TestCase):

    def test_log_file_option_gets_times_and_plaintext_paths(self):
        with CliEnv() as e:
            e.init_volume()
            mnt = os.path.join(e.tmp, "mnt")
            os.mkdir(mnt)
            log = os.path.join(e.tmp, "pfcryptfs.log")
            p = e.pfcrypt("mount", e.backing, mnt, "-o", f"log_file={log}")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            e.mounts.append(mnt)
            self.assertNotIn("logging to", p.stderr)
            text = wait_for_text(log, "info: mounted")
            self.assertRegex(text, r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d pfcryptfs\[\d+\]: info: mounted")
            os.mkdir(os.path.join(mnt, "docs"))
            f = os.path.join(mnt, "docs", "report.txt")
            with open(f, "wb") as h:
                h.write(b"r" * (2 * BS))
            b = backing_of(e, f)
            e.umount(mnt)
            with open(b, "r+b") as h:      # one byte of block 1 flipped
                h.seek(HEADER_SIZE + BS + 100)
                c = h.read(1)
                h.seek(-1, os.SEEK_CUR)
                h.write(bytes([c[0] ^ 1]))
            e.pfcrypt("mount", e.backing, mnt, "-o", f"log_file={log}", check=True)
            e.mounts.append(mnt)
            self.assertEqual(errno_of(read_all, f), 5)
            text = wait_for_text(log, "block 1")
            line = [l for l in text.splitlines() if "block 1" in l][-1]
            self.assertIn(b, line)                            # the backing path
            self.assertIn(f"(file {mnt}/docs/report.txt)", line)  # and where the user sees it
            self.assertNotIn("rrrr", text)

    def test_background_without_syslog_logs_to_the_state_dir_and_says_so(self):
        with CliEnv() as e:
            e.env["XDG_STATE_HOME"] = os.path.join(e.tmp, "state")
            e.init_volume()
            mnt = os.path.join(e.tmp, "mnt")
            os.mkdir(mnt)
            p = e.run([e.cli, "--socket", e.ks.sock, "mount", e.backing, mnt])
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            e.mounts.append(mnt)
            want = os.path.join(e.tmp, "state", "pfcrypt", "backing.log")
            self.assertIn(f"logging to {want}", p.stderr)
            wait_for_text(want, "info: mounted")
            self.assertEqual(os.stat(want).st_mode & 0o777, 0o600)
            self.assertEqual(os.stat(os.path.dirname(want)).st_mode & 0o777, 0o700)
            e.umount(mnt)
            wait_for_text(want, "info: unmounted")

    def test_unwritable_log_file_refuses_the_mount(self):
        with CliEnv() as e:
            e.init_volume()
            mnt = os.path.join(e.tmp, "mnt")
            os.mkdir(mnt)
            p = e.pfcrypt("mount", e.backing, mnt, "-o", "log_file=/nonexistent/dir/x.log")
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn("/nonexistent/dir/x.log: cannot open the log file", p.stderr)
            self.assertFalse(os.path.ismount(mnt))


if __name__ == "__main__":
    taprun.main()
