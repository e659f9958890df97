#!/usr/bin/python3
"""vs_peers.py RESULTS.json - pfcrypt against the fastest peer, from one harness run.

The harness (../shared/bench) reports ratios against gocryptfs and against plain; issue 7 asks
for pfcrypt against the fastest peer of each workload too.  For every workload this prints the
peer with the best median, pfcrypt's median, and the ratio computed the harness's way: within each
repetition (pfcrypt against that peer in the same repetition), median over repetitions, always
"how many times as fast" (time-based workloads inverted).  Peers are the encrypted systems
(gocryptfs, securefs, cryfs, encfs); plain and bindfs are references, not peers.
Also the geomean of pfcrypt's speed relative to gocryptfs.  Figures only.
"""
import json
import math
import statistics
import sys

PEERS = ("gocryptfs", "securefs", "cryfs", "encfs")


def speed_ratio(a, b, higher_is_better):
    """How many times as fast a is as b (None if either is missing)."""
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return a / b if higher_is_better else b / a


def median_ratio(res, sysa, sysb, key, hib):
    rs = [speed_ratio(x, y, hib) for x, y in zip(res[sysa][key], res[sysb][key])]
    rs = [r for r in rs if r is not None]
    return statistics.median(rs) if rs else None


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def main():
    d = json.load(open(sys.argv[1]))
    res = d["results"]
    if "pfcrypt" not in res:
        print("vs_peers: no pfcrypt results in %s" % sys.argv[1])
        return
    peers = [p for p in PEERS if p in res]
    print("## pfcrypt against the fastest peer of each workload\n")
    print("Peers measured: %s. Ratio: median over repetitions of pfcrypt's speed / the peer's "
          "in the same repetition (>1 = pfcrypt faster).\n" % ", ".join(peers))
    print("| Workload | fastest peer | its median | pfcrypt median | pfcrypt / fastest peer "
          "| pfcrypt / gocryptfs |")
    print("|---|---|---|---|---|---|")
    logs = []
    for w in d["workloads"]:
        key, hib = w["key"], w["higher_is_better"]
        meds = {p: median(res[p][key]) for p in peers}
        meds = {p: m for p, m in meds.items() if m is not None}
        if not meds:
            continue
        best = (max if hib else min)(meds, key=meds.get)
        pf = median(res["pfcrypt"][key])
        r_best = median_ratio(res, "pfcrypt", best, key, hib)
        r_go = median_ratio(res, "pfcrypt", "gocryptfs", key, hib) if "gocryptfs" in res else None
        if r_go:
            logs.append(math.log(r_go))

        def f(x, nd=2):
            return "-" if x is None else ("%.*f" % (nd, x) if x < 100 else "%.0f" % x)
        print("| %s %s | %s | %s | %s | %s | %s |" % (w["label"], "(%s)" % w["unit"], best,
                                                     f(meds[best]), f(pf), f(r_best), f(r_go)))
    if logs:
        print("\nGeomean of pfcrypt / gocryptfs over %d workloads: %.2f" % (
            len(logs), math.exp(sum(logs) / len(logs))))


if __name__ == "__main__":
    main()
