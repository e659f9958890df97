#!/usr/bin/env python3
"""Crash safety (issue 8 point 1), the bounded CI version: pfcryptfs SIGKILLed at random instants
under writers (PFC_FAULTS_KILLS rounds, default 12; tests/bench/reliability runs >= 50), and the
keystore SIGKILLed and restarted under a running mount.  What is checked: crashlib.py's docstring.
"""
import os
import random
import signal
import time
import unittest

import crashlib
import pfcfs
import taprun

KILLS = int(os.environ.get("PFC_FAULTS_KILLS", "12"))
SEED0 = int(os.environ.get("PFC_FAULTS_SEED", "1"))


class DaemonKilled(unittest.TestCase):

    def test_sigkill_under_writers_loses_no_returned_write(self):
        total = {"kills": 0, "files": 0, "ops": 0, "lost": 0, "lost_synced": 0,
                 "eio_blocks_in_flight": 0, "unopenable": 0, "orphan_companions": 0,
                 "synced_bytes_in_torn_blocks": 0}
        problems = []
        with pfcfs.Mount() as m:
            for r in range(KILLS):
                seed = SEED0 * 100000 + r
                st = crashlib.kill_round(m, seed)
                total["kills"] += 1
                for k in ("files", "ops", "lost", "lost_synced", "eio_blocks_in_flight",
                          "unopenable", "orphan_companions", "synced_bytes_in_torn_blocks"):
                    total[k] += st[k]
                problems += [f"seed {seed}: {p}" for p in st["problems"]]
                if st["problems"]:
                    break  # keep the reproducer's seed as the last one
            m.check_daemon()
        print("# " + " ".join(f"{k}={v}" for k, v in total.items()), flush=True)
        self.assertEqual(problems, [])
        self.assertEqual(total["lost"], 0)
        self.assertEqual(total["lost_synced"], 0)


class KeystoreKilled(unittest.TestCase):

    def test_keystore_sigkill_and_restart_under_a_running_mount(self):
        rnd = random.Random(SEED0)
        with pfcfs.Mount() as m:
            # While the keystore is gone the daemon may say so (one line per failed request).
            m.expect_stderr(rb"^pfcryptfs: (warning|error): .*(keystore|unwrap|key)")
            for r in range(3):
                seed = SEED0 * 100000 + 900 + r
                procs, journals = crashlib.start_writers(m, seed, nwriters=2, maxops=600,
                                                         tag="k")
                # Creating a file needs a fresh key (from the daemon's pool, ENOKEY when it is
                # empty and the keystore is gone: documented); the files are created first.
                deadline = time.monotonic() + 60
                while not all(len(crashlib.replay(j)) == 3 and all(
                        f.created for f in crashlib.replay(j).values()) for j in journals):
                    self.assertLess(time.monotonic(), deadline, "writers did not create files")
                    time.sleep(0.01)
                time.sleep(rnd.uniform(0.05, 0.5))
                os.kill(m.keystore.pid, signal.SIGKILL)
                while pfcfs.alive(m.keystore.pid):
                    time.sleep(0.01)
                time.sleep(rnd.uniform(0.05, 0.5))   # writers keep going without a keystore
                m.keystore.restart()
                crashlib.wait_writers(procs, f"keystore round {r}")
                for j in journals:
                    with open(j) as f:
                        tail = f.read().splitlines()[-1]
                    self.assertEqual(tail, 'X {"errno": 0}', f"a writer failed: {tail}")
                st = crashlib.verify_round(m.mnt, journals)
                self.assertEqual(st["problems"], [], f"round {r}")
                # More creates than the key pool holds (64): the daemon must fetch keys from the
                # restarted keystore.
                d = os.path.join(m.mnt, f"after-restart-{r}")
                os.mkdir(d)
                for i in range(100):
                    with open(os.path.join(d, str(i)), "wb") as f:
                        f.write(b"%d" % i * 50)
                m.check_daemon()
                m.remount()   # a new daemon unwraps every key from the restarted keystore
                st = crashlib.verify_round(m.mnt, journals)
                self.assertEqual(st["problems"], [], f"round {r} after remount")
                for i in range(100):
                    with open(os.path.join(d, str(i)), "rb") as f:
                        self.assertEqual(f.read(), b"%d" % i * 50)
                for j in journals:
                    os.unlink(j)


if __name__ == "__main__":
    taprun.main()
