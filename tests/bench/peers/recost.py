"""Re-measures the cost of every trial of the scikit-learn runs in a results
folder, all in one process and under the same conditions, and writes a copy
of the folder with those costs and its report (run.py --recost SRC --out DST).

Why: a scikit-learn trial's cost is the CPU seconds of its cross-validation,
and a report mixes runs measured in different sessions (the peers' runs come
from the cache or from committed results). On this shared machine the same
fit's CPU time drifted by up to 1.7x between sessions (docs/benchmarks.md,
fifteenth round), and each optimizer's process leaves the caches in its own
state between trials; either moves the equal-cost column whichever way it
went. Here every trial's configuration is fitted again in this process's
main thread, the optimizers' runs of one problem, mode and seed interleaved
trial by trial so that any drift falls on all of them alike. Scores and the
completion order are kept; only the costs change (protein and PufferLib's
Protein, being cost-aware, made their picks with the costs measured in their
own run). The other problems' runs are copied as they are.
"""
import json
import multiprocessing
import os
import shutil
import sys
import time

import benchset
import report


def _runs_by_task(raw, problem):
    """{(mode, seed): {optimizer: (path, run)}} for problem under raw."""
    tasks = {}
    pdir = os.path.join(raw, problem)
    for mode in sorted(os.listdir(pdir)):
        for name in sorted(os.listdir(os.path.join(pdir, mode))):
            path = os.path.join(pdir, mode, name)
            with open(path) as f:
                run = json.load(f)
            if run.get("error"):
                continue
            tasks.setdefault((mode, run["seed"]), {})[run["optimizer"]] = (path, run)
    return tasks


def recost_problem(raw, problem):
    """Re-measures every trial cost of problem's runs under raw, in place.
    Returns (trials re-measured, seconds)."""
    prob = benchset.PROBLEMS[problem][0]()
    space = {p.name: p for p in prob.space()}
    tasks = _runs_by_task(raw, problem)
    t0, n = time.monotonic(), 0
    warm = False
    for done, key in enumerate(sorted(tasks), 1):
        runs = tasks[key]
        longest = max(len(run["results"]) for _, run in runs.values())
        for i in range(longest):
            for opt in sorted(runs):
                _, run = runs[opt]
                if i >= len(run["results"]):
                    continue
                row = run["results"][i]
                params = {k: space[k].typed(v) for k, v in zip(run["columns"][3:], row[3:])}
                if not warm:
                    prob.evaluate(params, run["seed"])  # imports and first-fit set-up
                    warm = True
                row[1] = prob.evaluate(params, run["seed"])[1]
                n += 1
        for path, run in runs.values():
            run["recosted"] = True
            with open(path, "w") as f:
                json.dump(run, f)
        # a problem takes minutes: say how far it is
        print("[%s %d/%d] %s seed %d: %d runs re-costed" % (
            problem, done, len(tasks), key[0], key[1], len(runs)), flush=True)
    return n, time.monotonic() - t0


def _worker(job):
    raw, problem = job
    n, secs = recost_problem(raw, problem)
    return "%s: %d trials re-measured in %.0f s" % (problem, n, secs)


def recost(src, dst, jobs=1, command=""):
    """Copies src's runs to dst with the scikit-learn trials' costs
    re-measured (recost_problem; jobs problems at once), then writes dst's
    report. Exits with a message when src has no such runs or dst exists."""
    src_raw, raw = os.path.join(src, "raw"), os.path.join(dst, "raw")
    if not os.path.isdir(src_raw):
        sys.exit("run.py: %s has no raw/ folder (--recost)" % src)
    if os.path.exists(dst):
        sys.exit("run.py: %s exists; give --recost a new --out" % dst)
    problems = [p for p in sorted(os.listdir(src_raw)) if p in benchset.PROBLEMS
                and benchset.family_of(p) == benchset.HELDOUT_FAMILY]
    if not problems:
        sys.exit("run.py: no %s runs under %s (--recost)" % (benchset.HELDOUT_FAMILY, src_raw))
    shutil.copytree(src_raw, raw)
    meta = {}
    if os.path.exists(os.path.join(src, "meta.json")):
        with open(os.path.join(src, "meta.json")) as f:
            meta = json.load(f)
    meta["recost"] = {"from": src, "command": command, "problems": problems,
                      "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    with open(os.path.join(dst, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    todo = [(raw, p) for p in problems]
    if jobs > 1:
        with multiprocessing.Pool(jobs) as pool:
            for line in pool.imap_unordered(_worker, todo):
                print(line, flush=True)
    else:
        for job in todo:
            print(_worker(job), flush=True)
    report.write(dst)
    print("report: %s" % os.path.join(dst, "report.md"))
