#!/usr/bin/env python3
"""Concurrency (issue 5 point 3): 8 processes writing and reading 8 different files, and at the
same time 4 processes writing disjoint ranges of one shared file, the ranges NOT block aligned (so
neighbours read-modify-write the same blocks: the per-inode lock must serialise them).  Contents
are verified in the mount, again after a remount (from the backing files alone).

With PFC_CONCURRENCY_ROUNDS set, the work is repeated that many times (for the ThreadSanitizer
run in tests/bench/daemon_tsan.sh).
"""
import multiprocessing
import os
import random
import unittest

import pfcfs
import taprun
from pfcfs import hashed_bytes as data


FILE_SIZE = 600_000          # per private file
SHARED_RANGE = 150_001       # per writer of the shared file: ranges straddle block boundaries
WRITERS = 4
PRIVATE = 8


def private_worker(path, seed, q):
    """Write a file in random-sized chunks (random order), read it back while writing."""
    try:
        rnd = random.Random(seed)
        want = data(f"private{seed}", FILE_SIZE)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        pos, chunks = 0, []
        while pos < FILE_SIZE:
            n = rnd.choice([1, 100, 4095, 4096, 4097, 65536, 131072 + 7])
            chunks.append((pos, min(n, FILE_SIZE - pos)))
            pos += n
        rnd.shuffle(chunks)
        for i, (off, n) in enumerate(chunks):
            os.pwrite(fd, want[off:off + n], off)
            if i % 5 == 0:                  # read something already written
                o2, n2 = chunks[rnd.randrange(i + 1)]
                got = os.pread(fd, n2, o2)
                if got != want[o2:o2 + n2]:
                    raise AssertionError(f"{path}: read back differs at {o2}+{n2}")
        os.close(fd)
        with open(path, "rb") as f:
            if f.read() != want:
                raise AssertionError(f"{path}: content differs after close")
        q.put(None)
    except BaseException as e:  # report to the parent, never hang it
        q.put(f"{path}: {e!r}")


def shared_worker(path, k, q):
    """Write range k of the shared file in odd-sized pieces through its own descriptor."""
    try:
        want = data(f"shared{k}", SHARED_RANGE)
        base = k * SHARED_RANGE
        fd = os.open(path, os.O_WRONLY)
        pos = 0
        step = 3001 + 1000 * k
        while pos < SHARED_RANGE:
            n = min(step, SHARED_RANGE - pos)
            os.pwrite(fd, want[pos:pos + n], base + pos)
            pos += n
        os.close(fd)
        q.put(None)
    except BaseException as e:
        q.put(f"shared writer {k}: {e!r}")


def shared_expected():
    return b"".join(data(f"shared{k}", SHARED_RANGE) for k in range(WRITERS))


class Concurrency(unittest.TestCase):

    def run_round(self, m, rnd):
        shared = os.path.join(m.mnt, f"shared{rnd}")
        with open(shared, "wb") as f:                  # one generation: all four writers join
            f.truncate(WRITERS * SHARED_RANGE)
        ctx = multiprocessing.get_context("fork")
        q = ctx.Queue()
        procs = [ctx.Process(target=private_worker, args=(os.path.join(m.mnt, f"p{rnd}-{i}"),
                                                          rnd * 100 + i, q))
                 for i in range(PRIVATE)]
        procs += [ctx.Process(target=shared_worker, args=(shared, k, q)) for k in range(WRITERS)]
        for p in procs:
            p.start()
        errors = [q.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        self.assertEqual([e for e in errors if e], [])
        self.assertTrue(all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs])
        with open(shared, "rb") as f:
            self.assertEqual(f.read(), shared_expected(), "shared file")

    def verify_all(self, m, rounds):
        for rnd in range(rounds):
            for i in range(PRIVATE):
                with open(os.path.join(m.mnt, f"p{rnd}-{i}"), "rb") as f:
                    self.assertEqual(f.read(), data(f"private{rnd * 100 + i}", FILE_SIZE))
            with open(os.path.join(m.mnt, f"shared{rnd}"), "rb") as f:
                self.assertEqual(f.read(), shared_expected())

    def test_eight_files_and_four_writers_of_one_file_at_once(self):
        rounds = int(os.environ.get("PFC_CONCURRENCY_ROUNDS", "1"))
        with pfcfs.Mount() as m:
            for rnd in range(rounds):
                self.run_round(m, rnd)
            m.remount()
            self.verify_all(m, rounds)


if __name__ == "__main__":
    taprun.main()
