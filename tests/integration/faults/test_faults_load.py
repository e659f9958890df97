#!/usr/bin/env python3
"""Load (issue 8 point 6), the CI version: stress-ng's file system stressors on a mount for
PFC_FAULTS_STRESS_S seconds (default 10; tests/bench/reliability runs minutes), then the daemon must
be alive and `pfcrypt check` clean; and PFC_FAULTS_NFILES (default 10,000; the reliability script
100,000) files in one directory list and stat correctly, before and after a remount.
"""
import os
import re
import shutil
import subprocess
import unittest

import pfcfs
import taprun

STRESS_S = int(os.environ.get("PFC_FAULTS_STRESS_S", "10"))
NFILES = int(os.environ.get("PFC_FAULTS_NFILES", "10000"))
# pfcryptfs holds one O_PATH descriptor per inode the kernel keeps, and the kernel keeps every inode
# until memory pressure (or drop_caches) makes it FORGET them: with PFC_FAULTS_DROP_EVERY=N the
# test drops the kernel's dentry and inode caches every N files, as memory pressure would.
# 0 (the default): never, the harder case.
DROP_EVERY = int(os.environ.get("PFC_FAULTS_DROP_EVERY", "0"))


def maybe_drop(i):
    if DROP_EVERY and (i + 1) % DROP_EVERY == 0:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
# One instance each; --verify makes the stressors that can check their data do so.
STRESSORS = ["hdd", "dentry", "rename", "dir", "filename", "lockf", "mmap", "seek", "fallocate",
             "link", "symlink", "sync-file", "utime", "chmod", "xattr", "readahead", "iomix",
             "open", "fstat", "dirdeep"]


def stress(path, seconds, stressors=STRESSORS):
    """Run stress-ng in path; return (exit code, output, failed stressors)."""
    if shutil.which("stress-ng") is None:
        raise AssertionError("stress-ng not found (Debian package stress-ng, tests/deps.txt)")
    argv = ["stress-ng", "--temp-path", path, "--timeout", f"{seconds}s", "--metrics-brief",
            "--verify", "--dirdeep-dirs", "1", "--dirdeep-inodes", "2000"]
    for s in stressors:
        argv += [f"--{s}", "1"]
    # cwd too: some stressors (open) create files in the current directory, not in --temp-path.
    p = subprocess.run(argv, cwd=path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=seconds * 3 + 120, check=False)
    out = p.stdout.decode(errors="replace")
    failed = re.findall(r"(\w[\w-]*): (?:FAILED|fail)", out)
    return p.returncode, out, failed


class Stress(unittest.TestCase):

    def test_stress_ng_file_system_stressors_then_check_is_clean(self):
        with pfcfs.Mount() as m:
            d = os.path.join(m.mnt, "stress")
            os.mkdir(d)
            rc, out, failed = stress(d, STRESS_S)
            errors = [line for line in out.splitlines() if re.search(r"\b(fail|error)", line, re.I)
                      and "metrc" not in line]
            print(f"# stress-ng {STRESS_S}s x {len(STRESSORS)} stressors: exit {rc}, "
                  f"{len(errors)} error lines", flush=True)
            self.assertEqual((rc, errors), (0, []), out[-4000:])
            m.check_daemon()
            m.check_volume()          # while mounted ...
            shutil.rmtree(d)
            m.remount()               # ... and after (the fixture checks again at the end)


class BigDirectory(unittest.TestCase):

    def test_many_files_in_one_directory_list_and_stat(self):
        with pfcfs.Mount() as m:
            d = os.path.join(m.mnt, "big")
            os.mkdir(d)
            names = {f"file-{i:06d}-{'x' * (i % 50)}": i % 97 for i in range(NFILES)}
            for i, (n, size) in enumerate(names.items()):
                fd = os.open(os.path.join(d, n), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                if size:
                    os.write(fd, b"%d" % size * size)
                os.close(fd)
                maybe_drop(i)
            for round_ in ("live", "after remount"):
                listed = os.listdir(d)
                self.assertEqual(len(listed), NFILES, round_)
                self.assertEqual(set(listed), set(names), round_)
                sizes = {}
                for i, n in enumerate(listed):
                    sizes[n] = os.lstat(os.path.join(d, n)).st_size
                    maybe_drop(i)
                want = {n: len(b"%d" % s * s) if s else 0 for n, s in names.items()}
                self.assertEqual(sizes, want, round_)
                m.remount()
            print(f"# {NFILES} files in one directory listed and stat'ed, twice"
                  + (f" (kernel caches dropped every {DROP_EVERY} files)" if DROP_EVERY else ""),
                  flush=True)


if __name__ == "__main__":
    taprun.main()
