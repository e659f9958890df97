#!/usr/bin/env python3
"""sqlite3 in WAL mode on the mount: a writer process and a reader process at the same time.

WAL mode maps the -shm file shared and writable in both processes, so this also exercises shared
mmap across processes on the mount.  The writer commits batches; each commit inserts BATCH rows and
bumps a counter in the same transaction, so any snapshot the reader sees must satisfy
count(rows) == BATCH * counter and a checksum over the rows.  The reader runs until it has seen the
writer's last commit (no timing involved: it stops on data, and the writer always gets there).
Afterwards PRAGMA integrity_check must say ok, through the sqlite3 program and after a remount.
"""
import os
import subprocess

import pfcfs
import taprun
from pfcfs import run

COMMITS = 300
BATCH = 7

WRITER = r"""
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=NORMAL")
for c in range(1, int(sys.argv[2]) + 1):
    db.execute("BEGIN IMMEDIATE")
    for i in range(int(sys.argv[3])):
        db.execute("INSERT INTO rows(c, i, payload) VALUES (?, ?, ?)", (c, i, bytes([c % 251]) * (50 + 37 * i)))
    db.execute("UPDATE counter SET n = ?", (c,))
    db.execute("COMMIT")
    if c % 100 == 0:
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
db.close()
"""

READER = r"""
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
last, snapshots = 0, 0
while last < int(sys.argv[2]):
    db.execute("BEGIN")
    n = db.execute("SELECT n FROM counter").fetchone()[0]
    rows, csum = db.execute("SELECT count(*), coalesce(sum(length(payload) + c), 0) FROM rows").fetchone()
    db.execute("COMMIT")
    want = sum(50 * int(sys.argv[3]) + 37 * int(sys.argv[3]) * (int(sys.argv[3]) - 1) // 2 + int(sys.argv[3]) * c
               for c in range(1, n + 1))
    if rows != int(sys.argv[3]) * n or csum != want or n < last:
        print(f"inconsistent snapshot: counter {n} (before {last}) rows {rows} checksum {csum} want {want}")
        sys.exit(1)
    last, snapshots = n, snapshots + 1
print(f"snapshots {snapshots}")
"""


class Sqlite(pfcfs.MountTestCase):
    def test_wal_writer_and_reader_then_integrity_check(self):
        db = os.path.join(self.mnt, "data", "test.db")
        os.mkdir(os.path.dirname(db))
        run(["sqlite3", db, "PRAGMA journal_mode=WAL;",
             "CREATE TABLE rows(c INTEGER, i INTEGER, payload BLOB, PRIMARY KEY(c, i));",
             "CREATE TABLE counter(n INTEGER); INSERT INTO counter VALUES (0);"])
        args = [db, str(COMMITS), str(BATCH)]
        reader = subprocess.Popen(["/usr/bin/python3", "-c", READER] + args, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        writer = subprocess.Popen(["/usr/bin/python3", "-c", WRITER] + args, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        try:
            wout = writer.communicate(timeout=120)[0].decode(errors="replace")
            if writer.returncode != 0:
                reader.kill()  # it would wait for a last commit that never comes
            rout = reader.communicate(timeout=120)[0].decode(errors="replace")
        finally:
            for pr in (writer, reader):
                if pr.poll() is None:
                    pr.kill()
                    pr.wait()
        self.assertEqual(writer.returncode, 0, f"writer failed:\n{wout}")
        self.assertEqual(reader.returncode, 0, f"reader failed:\n{rout}")
        print(f"# reader: {rout.strip()} consistent (of {COMMITS} commits)", flush=True)
        self.assertEqual(run(["sqlite3", db, "PRAGMA integrity_check;"]).strip(), "ok")
        self.assertEqual(run(["sqlite3", db, "SELECT count(*), max(c) FROM rows;"]).strip(),
                         f"{COMMITS * BATCH}|{COMMITS}")
        self.m.remount()
        self.assertEqual(run(["sqlite3", db, "PRAGMA integrity_check;"]).strip(), "ok")
        self.assertEqual(run(["sqlite3", db, "PRAGMA journal_mode;"]).strip(), "wal")
        self.assertEqual(run(["sqlite3", db, "SELECT n FROM counter;"]).strip(), str(COMMITS))
        # Leave WAL mode and vacuum: the database file is rewritten through the mount.
        run(["sqlite3", db, "PRAGMA journal_mode=DELETE; VACUUM;"])
        self.assertEqual(run(["sqlite3", db, "PRAGMA integrity_check;"]).strip(), "ok")


if __name__ == "__main__":
    taprun.main()
