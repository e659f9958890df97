#!/usr/bin/python3
"""Desktop and server fit (issue 10): `meson install --destdir` puts every file in the usual
place, the installed systemd units pass `systemd-analyze verify`, a volume mounts through
`mount -t fuse.pfcryptfs` and through an fstab line (with noauto, user, allow_other, ro,
x-systemd.automount), and the installed bash completion works.

The test installs the build into a temp DESTDIR, then runs in a private mount namespace
(unshare) where DESTDIR/PREFIX is overlaid on PREFIX: there the installed files are where an
installed system has them, so mount(8) finds pfcryptfs the way it would (mount helpers run
with the shell's default PATH) and systemd-analyze finds the ExecStart= programs and the man
pages, while nothing outside the namespace changes.  Needs root, /dev/fuse and overlayfs.
"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

if os.environ.get("PFC_DESKTOP_NS") != "1":
    # Everything below runs in a private mount namespace (see above).
    os.environ["PFC_DESKTOP_NS"] = "1"
    os.execv("/usr/bin/unshare", ["unshare", "--mount", "--propagation", "private",
                                  sys.executable] + sys.argv)

import taprun
from clienv import CliEnv, WAIT_S, program

BUILD = os.environ.get("PFC_BUILD_ROOT", "")
PREFIX = os.environ.get("PFC_PREFIX", "/usr/local")
BINDIR = os.environ.get("PFC_BINDIR", "bin")
MANDIR = os.environ.get("PFC_MANDIR", "share/man")
DATADIR = os.environ.get("PFC_DATADIR", "share")
LIBDIR_SD = os.environ.get("PFC_SYSTEMD_USER_DIR", "lib/systemd/user")
DEST = None  # the temp DESTDIR


def p(rel):
    """An installed path, as seen in the namespace (PREFIX overlaid with DESTDIR/PREFIX)."""
    return os.path.join(PREFIX, rel)


def setUpModule():
    global DEST
    meson = program("PFC_MESON")
    DEST = tempfile.mkdtemp(prefix="pfc-desktop-dest-")
    r = subprocess.run([meson, "install", "-C", BUILD, "--no-rebuild", "--quiet", "--destdir",
                        DEST], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise AssertionError(f"meson install --destdir failed:\n{r.stdout}\n{r.stderr}")
    os.makedirs(PREFIX, exist_ok=True)
    r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={DEST}{PREFIX}:{PREFIX}", PREFIX],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"cannot overlay {PREFIX} in the private namespace: {r.stderr}")


def tearDownModule():
    subprocess.run(["umount", "-l", PREFIX], capture_output=True)
    shutil.rmtree(DEST, ignore_errors=True)


def wait_mount(mnt, want=True):
    deadline = time.monotonic() + WAIT_S
    while os.path.ismount(mnt) != want and time.monotonic() < deadline:
        time.sleep(0.02)
    return os.path.ismount(mnt) == want


def mount_options(mnt):
    """(fstype, options set) of the mount at mnt from /proc/self/mounts."""
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[1] == mnt:
                return fields[2], set(fields[3].split(","))
    return None, set()


class Install(unittest.TestCase):
    def test_programs_in_bindir_and_they_run(self):
        for prog in ("pfcrypt", "pfcryptfs", "pfcrypt-keystore"):
            path = os.path.join(DEST + PREFIX, BINDIR, prog)
            st = os.stat(path)
            self.assertTrue(stat.S_ISREG(st.st_mode) and st.st_mode & 0o111, path)
            r = subprocess.run([p(os.path.join(BINDIR, prog)), "--version"], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith(prog + " "), r.stdout)
        # nothing else lands in bin (test helpers are never installed)
        self.assertEqual(sorted(os.listdir(os.path.join(DEST + PREFIX, BINDIR))),
                         ["pfcrypt", "pfcrypt-keystore", "pfcryptfs"])

    def test_man_pages_completion_units_in_their_places(self):
        want = [os.path.join(MANDIR, "man1", "pfcrypt.1"),
                os.path.join(MANDIR, "man8", "pfcryptfs.8"),
                os.path.join(MANDIR, "man8", "pfcrypt-keystore.8"),
                os.path.join(DATADIR, "bash-completion", "completions", "pfcrypt"),
                os.path.join(DATADIR, "bash-completion", "completions", "pfcryptfs"),
                os.path.join(DATADIR, "bash-completion", "completions", "pfcrypt-keystore"),
                os.path.join(DATADIR, "zsh", "site-functions", "_pfcrypt"),
                os.path.join(LIBDIR_SD, "pfcrypt-keystore.socket"),
                os.path.join(LIBDIR_SD, "pfcrypt-keystore.service"),
                os.path.join(LIBDIR_SD, "pfcrypt@.service")]
        for rel in want:
            self.assertTrue(os.path.isfile(os.path.join(DEST + PREFIX, rel)), rel)
        # the units run the installed programs
        bindir = os.path.join(PREFIX, BINDIR)
        for unit, prog in (("pfcrypt-keystore.service", "pfcrypt-keystore"),
                           ("pfcrypt@.service", "pfcryptfs")):
            with open(os.path.join(DEST + PREFIX, LIBDIR_SD, unit)) as f:
                text = f.read()
            self.assertIn(f"\nExecStart={bindir}/{prog} ", text, unit)
            self.assertNotIn("@", text.replace("pfcrypt@", "").replace("@.service", ""), unit)
        # man finds the installed pages by name
        env = dict(os.environ, MANPATH=p(MANDIR))
        for page in ("1 pfcrypt", "8 pfcryptfs", "8 pfcrypt-keystore"):
            r = subprocess.run(["man", "-w"] + page.split(), capture_output=True, text=True,
                               env=env)
            self.assertEqual(r.returncode, 0, f"man -w {page}: {r.stderr}")

    def test_systemd_analyze_verify_units(self):
        rt = tempfile.mkdtemp(prefix="pfc-desktop-xdg-")
        try:
            os.chmod(rt, 0o700)
            units = [p(os.path.join(LIBDIR_SD, u)) for u in
                     ("pfcrypt-keystore.socket", "pfcrypt-keystore.service",
                      "pfcrypt@private.service")]
            # MANPATH: Documentation=man:... must name installed pages
            env = dict(os.environ, XDG_RUNTIME_DIR=rt, MANPATH=p(MANDIR))
            r = subprocess.run(["systemd-analyze", "--user", "verify"] + units,
                               capture_output=True, text=True, env=env, timeout=120)
            self.assertEqual((r.returncode, r.stderr.strip()), (0, ""), r.stdout)
        finally:
            shutil.rmtree(rt, ignore_errors=True)

    def test_installed_bash_completion(self):
        comp = p(os.path.join(DATADIR, "bash-completion", "completions"))
        script = (f"source {comp}/pfcrypt-keystore\nCOMP_WORDS=(pfcrypt '')\nCOMP_CWORD=1\n"
                  "_pfcrypt\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
        r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("rewrap", r.stdout.split())
        self.assertIn("keystore", r.stdout.split())


class MountHelper(unittest.TestCase):
    """mount(8) -> mount.fuse3 -> pfcryptfs, found in the standard PATH."""

    def setUp(self):
        self.e = CliEnv().__enter__()
        self.addCleanup(self.e.__exit__, None, None, None)
        self.e.init_volume()
        self.mnt = os.path.join(self.e.tmp, "mnt")
        os.mkdir(self.mnt)
        # mount(8) gives helpers no PATH and we set no PFCRYPT_SOCKET: the socket= option it is
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PATH", "PFCRYPT_SOCKET")}
        self.env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"

    def mount(self, *args):
        r = subprocess.run(["mount"] + list(args), capture_output=True, text=True, env=self.env,
                           timeout=60)
        self.assertEqual(r.returncode, 0, f"mount {args}: {r.stdout}{r.stderr}")
        self.assertTrue(wait_mount(self.mnt), "not mounted")
        self.e.mounts.append(self.mnt)

    def umount(self):
        r = subprocess.run(["umount", self.mnt], capture_output=True, text=True, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_mount(self.mnt, False))
        self.e.mounts.remove(self.mnt)

    def round_trip(self):
        with open(os.path.join(self.mnt, "hello.txt"), "w") as f:
            f.write("hello from fstab\n")
        with open(os.path.join(self.mnt, "hello.txt")) as f:
            self.assertEqual(f.read(), "hello from fstab\n")
        names = os.listdir(self.e.backing)
        self.assertNotIn("hello.txt", names, "plaintext name in the backing dir")
        self.assertTrue(all(b"hello from fstab" not in d for d in
                            __import__("clienv").backing_files(self.e.backing).values()))

    def test_mount_t_fuse_pfcryptfs(self):
        self.mount("-t", "fuse.pfcryptfs", "-o", f"socket={self.e.ks.sock}", self.e.backing,
                   self.mnt)
        fstype, opts = mount_options(self.mnt)
        self.assertTrue(fstype.startswith("fuse."), fstype)
        self.round_trip()
        self.umount()
        # read-only, and the data is still there after a remount
        self.mount("-t", "fuse.pfcryptfs", "-o", f"ro,socket={self.e.ks.sock}", self.e.backing,
                   self.mnt)
        self.assertIn("ro", mount_options(self.mnt)[1])
        with open(os.path.join(self.mnt, "hello.txt")) as f:
            self.assertEqual(f.read(), "hello from fstab\n")
        with self.assertRaises(OSError):
            open(os.path.join(self.mnt, "new"), "w").close()
        self.umount()

    def test_fstab_line_with_the_usual_options(self):
        fstab = os.path.join(self.e.tmp, "fstab")
        with open(fstab, "w") as f:
            f.write("# test fstab\n"
                    f"{self.e.backing} {self.mnt} fuse.pfcryptfs "
                    f"noauto,user,allow_other,x-systemd.automount,socket={self.e.ks.sock} 0 0\n")
        self.mount("-T", fstab, self.mnt)  # as `mount /mnt/private` does with /etc/fstab
        opts = mount_options(self.mnt)[1]
        # user implies nosuid,nodev,noexec; allow_other reaches the kernel
        self.assertTrue({"allow_other", "nosuid", "nodev", "noexec"} <= opts, opts)
        self.assertFalse({"noauto", "user", "x-systemd.automount"} & opts, opts)
        self.round_trip()
        self.umount()
        # an ro line: mounted read-only
        with open(fstab, "w") as f:
            f.write(f"{self.e.backing} {self.mnt} fuse.pfcryptfs "
                    f"noauto,ro,socket={self.e.ks.sock} 0 0\n")
        self.mount("--fstab", fstab, self.mnt)
        self.assertIn("ro", mount_options(self.mnt)[1])
        with open(os.path.join(self.mnt, "hello.txt")) as f:
            self.assertEqual(f.read(), "hello from fstab\n")
        self.umount()

    def test_mount_a_leaves_a_mounted_auto_line_alone(self):
        # The mount's source and type are the fstab line's (BACKING, fuse.pfcryptfs), so a
        # second `mount -a` sees the line as mounted instead of mounting it again on top; the
        # backing path has a comma and a space (escaped for libfuse's -o, octal in mountinfo).
        backing = os.path.join(self.e.tmp, "vault, 2")
        self.e.init_volume(backing)
        fstab = os.path.join(self.e.tmp, "fstab")
        with open(fstab, "w") as f:
            f.write(f"{backing.replace(' ', chr(92) + '040')} {self.mnt} fuse.pfcryptfs "
                    f"socket={self.e.ks.sock} 0 0\n")
        self.mount("-a", "-T", fstab)
        r = subprocess.run(["mount", "-a", "-T", fstab], capture_output=True, text=True,
                           env=self.env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open("/proc/self/mountinfo") as f:
            mine = [line.split(" - ")[1].split()[:2] for line in f
                    if line.split()[4] == self.mnt]
        self.assertEqual(mine, [["fuse.pfcryptfs", backing.replace(" ", "\\040")]])
        # the CLI finds the mount by that pair
        r = self.e.pfcrypt("check", "--fold-dirids", backing)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f"mounted at {self.mnt}", r.stderr)
        with open(os.path.join(self.mnt, "hello.txt"), "w") as f:
            f.write("hello from mount -a\n")
        with open(os.path.join(self.mnt, "hello.txt")) as f:
            self.assertEqual(f.read(), "hello from mount -a\n")
        self.assertNotIn("hello.txt", os.listdir(backing))
        self.umount()

    def test_mount_t_refuses_what_the_rails_refuse(self):
        # pfcryptfs's own refusals (issue 29) reach mount(8) users as its one line
        inner = os.path.join(self.e.backing, "plain")
        os.mkdir(inner)
        for mnt, why in ((inner, "is inside the backing directory"),
                         (self.e.backing, "are the same directory")):
            r = subprocess.run(["mount", "-t", "fuse.pfcryptfs", "-o", f"socket={self.e.ks.sock}",
                                self.e.backing, mnt], capture_output=True, text=True,
                               env=self.env, timeout=60)
            self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
            (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("pfcryptfs: ")]
            self.assertIn(why, line)
            self.assertIn(mnt, line)
            self.assertFalse(os.path.ismount(mnt))
        # one read-write mount per backing dir, also through mount(8); ro is allowed
        self.mount("-t", "fuse.pfcryptfs", "-o", f"socket={self.e.ks.sock}", self.e.backing,
                   self.mnt)
        other = os.path.join(self.e.tmp, "other")
        os.mkdir(other)
        r = subprocess.run(["mount", "-t", "fuse.pfcryptfs", "-o", f"socket={self.e.ks.sock}",
                            self.e.backing, other], capture_output=True, text=True,
                           env=self.env, timeout=60)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f"is already mounted on {self.mnt}", r.stderr)
        self.assertFalse(os.path.ismount(other))
        r = subprocess.run(["mount", "-t", "fuse.pfcryptfs", "-o",
                            f"ro,socket={self.e.ks.sock}", self.e.backing, other],
                           capture_output=True, text=True, env=self.env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(wait_mount(other))
        self.e.mounts.append(other)
        r = subprocess.run(["umount", other], capture_output=True, text=True, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.e.mounts.remove(other)
        self.umount()

    def test_mount_failure_is_reported(self):
        # a wrong socket: mount fails with pfcryptfs's one line, nothing is mounted
        r = subprocess.run(["mount", "-t", "fuse.pfcryptfs", "-o",
                            f"socket={self.e.tmp}/nonexistent.sock", self.e.backing, self.mnt],
                           capture_output=True, text=True, env=self.env, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("pfcryptfs: keystore", r.stderr)
        self.assertFalse(os.path.ismount(self.mnt))


if __name__ == "__main__":
    taprun.main()
