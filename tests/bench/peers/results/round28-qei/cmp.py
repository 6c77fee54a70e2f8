#!/usr/bin/env python3
"""Paired comparison of two results folders of tests/bench/peers/run.py
(protein's runs): per problem and mode, the median final regret of A and
of B, the geometric mean over the seeds in both of B's regret over A's,
B's wins/losses (lower regret) and the two-sided Wilcoxon p of report.py.
Usage: cmp.py A B [mode]"""
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import report  # noqa: E402


def regrets(out, mode):
    runs, _ = report.load(out)
    res = {}
    for r in runs:
        if r["optimizer"] != "protein" or r["mode"] != mode:
            continue
        opt = report._optimum(r["problem"])
        if opt is None:
            continue
        res.setdefault(r["problem"], {})[r["seed"]] = abs(
            report.best_at(r, len(r["results"])) - opt)
    return res


def main():
    a, b = sys.argv[1], sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else "par16"
    ra, rb = regrets(a, mode), regrets(b, mode)
    print("| problem | A median | B median | geo. mean B/A | W/L | p |")
    print("| --- | --- | --- | --- | --- | --- |")
    for prob in sorted(ra):
        if prob not in rb:
            continue
        seeds = sorted(set(ra[prob]) & set(rb[prob]))
        xa = {s: ra[prob][s] for s in seeds}
        xb = {s: rb[prob][s] for s in seeds}
        eps = 1e-12
        g = math.exp(statistics.mean(math.log((xb[s] + eps) / (xa[s] + eps)) for s in seeds))
        w = sum(xb[s] < xa[s] for s in seeds)
        l = sum(xb[s] > xa[s] for s in seeds)
        p = report.wilcoxon_p(xb, xa)
        print("| %s (%d seeds) | %.4g | %.4g | %.3f | %d/%d | %.2g |" % (
            prob, len(seeds), statistics.median(xa.values()),
            statistics.median(xb.values()), g, w, l, p))


if __name__ == "__main__":
    main()
