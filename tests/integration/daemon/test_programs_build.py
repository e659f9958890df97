#!/usr/bin/env python3
"""gcc and make on the mount: a small multi-file C program (a static library, a generated header,
dependency files) is built with make -j2 and run; a second make does nothing (mtimes are right);
touching one source rebuilds just what depends on it; after a remount the program still runs and
make still has nothing to do."""
import os

import pfcfs
import taprun
from pfcfs import run

SOURCES = {
    "Makefile": """\
CFLAGS = -O1 -Wall -Werror -MMD -MP
OBJS = main.o greet.o sum.o
all: prog
prog: main.o libutil.a
\t$(CC) -o $@ main.o libutil.a
libutil.a: greet.o sum.o
\tar rcs $@ $^
greet.o: version.h
version.h: VERSION
\techo '#define VERSION "'$$(cat VERSION)'"' > $@.tmp && mv $@.tmp $@
clean:
\trm -f prog libutil.a *.o *.d version.h
-include $(OBJS:.o=.d)
""",
    "VERSION": "1.2.3\n",
    "util.h": "const char *greet(void);\nlong sum(int n);\n",
    "main.c": """\
#include <stdio.h>
#include "util.h"
int main(void) { printf("%s %ld\\n", greet(), sum(100000)); return 0; }
""",
    "greet.c": """\
#include "util.h"
#include "version.h"
const char *greet(void) { return "hello from pfcrypt " VERSION; }
""",
    "sum.c": """\
#include "util.h"
long sum(int n) { long s = 0; for (int i = 1; i <= n; i++) s += i; return s; }
""",
}


class Build(pfcfs.MountTestCase):
    def make(self, d, *args):
        return run(["make", "-C", d, "--no-print-directory"] + list(args))

    def age(self, d, target, source):
        """Set target's mtime 10 s before source's, so make sees it out of date."""
        mt = os.stat(os.path.join(d, source)).st_mtime_ns - 10 * 10**9
        os.utime(os.path.join(d, target), ns=(mt, mt))

    def test_gcc_make_build_run_rebuild(self):
        d = os.path.join(self.mnt, "proj")
        os.mkdir(d)
        for name, text in SOURCES.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        out = self.make(d, "-j2")
        self.assertIn("ar rcs libutil.a", out)
        self.assertEqual(run([os.path.join(d, "prog")]), "hello from pfcrypt 1.2.3 5000050000\n")
        self.assertIn("Nothing to be done", self.make(d))
        # Make an object older than its source (explicit times instead of sleeping).
        self.age(d, "sum.o", "sum.c")
        out = self.make(d)
        self.assertIn("sum.c", out)
        self.assertNotIn("main.c", out)
        self.assertNotIn("greet.c", out)
        # Change the version: the generated header and what includes it are rebuilt.
        with open(os.path.join(d, "VERSION"), "w") as f:
            f.write("2.0\n")
        self.age(d, "version.h", "VERSION")
        out = self.make(d, "-j2")
        self.assertIn("greet.c", out)
        self.assertNotIn("main.c", out)
        self.assertEqual(run([os.path.join(d, "prog")]), "hello from pfcrypt 2.0 5000050000\n")
        self.m.remount()
        self.assertIn("Nothing to be done", self.make(d))
        self.assertEqual(run([os.path.join(d, "prog")]), "hello from pfcrypt 2.0 5000050000\n")
        self.make(d, "clean")
        self.assertEqual(sorted(os.listdir(d)), sorted(SOURCES))


if __name__ == "__main__":
    taprun.main()
