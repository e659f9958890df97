#!/usr/bin/env python3
"""Sum test cases over meson testlog.json files; print 'N passed, N failed'.

A TAP test counts each 'ok' / 'not ok' line (a '# SKIP' directive counts as
skipped); a TAP test that failed without any 'not ok' line (crash, missing
plan) counts one extra failure.  A non-TAP test counts as one case; its SKIP (exit 77) counts as a failure.
An argument 'BUILD:dir' stands for a build that failed: one failure.
"""
import json
import re
import sys

passed = failed = skipped = 0
failures = []
for arg in sys.argv[1:]:
    if arg.startswith("BUILD:"):
        failed += 1
        failures.append("build failed: " + arg[6:])
        continue
    try:
        lines = open(arg).read().splitlines()
    except OSError as e:
        failed += 1
        failures.append(f"no test log {arg}: {e.strerror}")
        continue
    for line in lines:
        t = json.loads(line)
        res = t["result"]
        out = t.get("stdout") or ""
        oks = nots = skips = 0
        for l in out.splitlines():
            if re.match(r"^ok\b", l):
                if re.search(r"#\s*SKIP", l, re.I):
                    skips += 1
                else:
                    oks += 1
            elif re.match(r"^not ok\b", l):
                if re.search(r"#\s*(SKIP|TODO)", l, re.I):
                    skips += 1
                else:
                    nots += 1
                    failures.append(t["name"] + ": " + l)
        if oks or nots or skips:
            passed += oks
            failed += nots
            skipped += skips
            if res not in ("OK", "SKIP", "EXPECTEDFAIL") and nots == 0:
                failed += 1
                failures.append(t["name"] + f": {res} after {oks} passing cases")
        elif res == "OK":
            passed += 1
        else:
            # A whole test reporting SKIP (exit 77) is a failure here: no suite
            # skips on purpose, and libFuzzer's default crash code is 77.
            failed += 1
            failures.append(t["name"] + ": " + res)
for f in failures:
    print("FAILED: " + f)
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed or passed == 0 else 0)
