#!/usr/bin/env python3
"""Run the unittest cases of a test module and report them as TAP.

Usage from a test file:   if __name__ == "__main__": taprun.main()
Every test method is one TAP line, so tests/lib/count_results.py counts it.
A skipped test prints '# SKIP' - use it only for a documented reason; a test
that needs FUSE or a daemon and cannot get it must fail, not skip.
"""
import sys
import time
import traceback
import unittest


class _TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0
        self.t0 = 0.0

    def startTest(self, test):
        super().startTest(test)
        self.t0 = time.monotonic()

    def _line(self, ok, test, extra=""):
        self.n += 1
        dt = time.monotonic() - self.t0
        name = test.id().split(".", 1)[-1]
        print(f"{'ok' if ok else 'not ok'} {self.n} - {name} ({dt:.2f}s){extra}", flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def _fail(self, test, err):
        self._line(False, test)
        for l in "".join(traceback.format_exception(*err)).splitlines():
            print("# " + l)
        sys.stdout.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, f" # SKIP {reason}")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test, " # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test, " (unexpected success)")


def main(module="__main__"):
    """Load the tests of module (optionally filtered by argv patterns) and run them as TAP."""
    loader = unittest.TestLoader()
    if len(sys.argv) > 1:
        loader.testNamePatterns = [f"*{p}*" for p in sys.argv[1:]]
    suite = loader.loadTestsFromModule(sys.modules[module])
    print("TAP version 13")
    print(f"1..{suite.countTestCases()}", flush=True)
    result = _TapResult()
    suite.run(result)
    sys.exit(0 if result.wasSuccessful() else 1)
