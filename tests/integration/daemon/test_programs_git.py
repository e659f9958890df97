#!/usr/bin/env python3
"""git on the mount: init, add, commit (several), gc, clone from the mount to the mount (a local
clone hard-links objects; --no-local goes through pack transfer), fsck --full of every repository,
and the same history and files after a remount."""
import os

import pfcfs
import taprun
from pfcfs import run


class Git(pfcfs.MountTestCase):
    def git(self, *args, cwd=None):
        return run(["git"] + list(args), cwd=cwd, env=self.env)

    def setUp(self):
        super().setUp()
        home = os.path.join(self.scratch, "home")
        os.mkdir(home)
        # A fixed identity and dates, no user or system config: the commit ids are reproducible.
        self.env = dict(os.environ, HOME=home, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="T",
                        GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="T",
                        GIT_COMMITTER_EMAIL="t@example.org", GIT_AUTHOR_DATE="1600000000 +0000",
                        GIT_COMMITTER_DATE="1600000000 +0000", LC_ALL="C")

    def make_history(self, repo):
        os.makedirs(repo)
        self.git("init", "-q", "-b", "main", repo)
        pfcfs.make_tree(os.path.join(repo, "tree"), seed=1)
        os.unlink(os.path.join(repo, "tree", "sub", "fifo"))  # git does not store fifos
        self.git("add", "-A", cwd=repo)
        self.git("commit", "-q", "-m", "first", cwd=repo)
        for i in range(3):
            with open(os.path.join(repo, "tree", "mid"), "r+b") as f:
                f.seek(4096 * i + 4095)
                f.write(b"edit %d" % i)
            with open(os.path.join(repo, f"new{i}.txt"), "w") as f:
                f.write(f"file {i}\n" * (1000 * i + 1))
            self.git("add", "-A", cwd=repo)
            self.git("commit", "-q", "-m", f"change {i}", cwd=repo)
        self.git("mv", "new0.txt", "renamed.txt", cwd=repo)
        self.git("rm", "-q", "tree/b4095", cwd=repo)
        self.git("commit", "-q", "-m", "move and remove", cwd=repo)
        self.git("gc", "-q", cwd=repo)  # packs, rewrites refs, removes loose objects

    def test_init_commit_clone_fsck(self):
        plain = os.path.join(self.scratch, "repo")
        repo = os.path.join(self.mnt, "repo")
        self.make_history(plain)
        self.make_history(repo)
        head = self.git("rev-parse", "HEAD", cwd=plain).strip()
        self.assertEqual(self.git("rev-parse", "HEAD", cwd=repo).strip(), head,
                         "the same commits on the mount give different ids")
        self.git("fsck", "--full", "--strict", cwd=repo)
        clone = os.path.join(self.mnt, "clone")
        packed = os.path.join(self.mnt, "clone-nolocal")
        self.git("clone", "-q", repo, clone)
        self.git("clone", "-q", "--no-local", repo, packed)
        self.m.remount()
        for r in (repo, clone, packed):
            self.git("fsck", "--full", "--strict", cwd=r)
            self.assertEqual(self.git("rev-parse", "HEAD", cwd=r).strip(), head, r)
            self.assertEqual(self.git("status", "--porcelain", cwd=r), "", f"{r} is not clean")
            log = self.git("log", "--format=%s", cwd=r).split("\n")
            self.assertEqual(log[:2], ["move and remove", "change 2"])
        self.assertEqual(pfcfs.manifest(os.path.join(clone, "tree"), times=False),
                         pfcfs.manifest(os.path.join(packed, "tree"), times=False))
        with open(os.path.join(clone, "tree", "mid"), "rb") as f:
            data = f.read()
        for i in range(3):
            self.assertEqual(data[4096 * i + 4095:4096 * i + 4101], b"edit %d" % i)


if __name__ == "__main__":
    taprun.main()
