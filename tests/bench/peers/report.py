"""Summarizes raw run results into report.md.

Definitions (per problem, mode and seed):
- equal trials: the best score among all of a run's trials.
- equal cost: B = half the total cost (sum of all trial costs) that random
  search spent on the same problem, mode and seed (random search's total is
  the trial budget times a typical configuration's cost, whatever the other
  optimizers do, so B does not depend on which optimizers are compared).
  Each optimizer's score is the best among its trials, in completion order,
  whose cumulative cost is <= B ("none" when its first trial alone costs
  more than B). Reported for cost-aware problems only (the others have a
  constant cost, where it equals "equal trials"); needs random search's runs.
- wins vs protein: for each peer, W/T/L counts seeds where protein's score
  is better / equal (within 1e-9 relative) / worse than the peer's, and p
  is the two-sided p-value of the Wilcoxon signed-rank test on the paired
  per-seed scores (exact; tied seeds dropped, tied differences given their
  mean rank): p >= 0.05 is what these tables call tied within seed noise.
- cells: median [first quartile, third quartile] over seeds (linear
  interpolation), in the problem's own units; minimize problems report
  regret f - f_opt (lower is better), maximize ones the score.
"""
import functools
import glob
import json
import math
import os

import benchset

COST_FRACTION = 0.5


def _better(goal, a, b):
    return a > b if goal == "maximize" else a < b


def best_at(res, n):
    vals = [r[0] for r in res["results"][:n]]
    if not vals:
        return math.nan
    return max(vals) if res["goal"] == "maximize" else min(vals)


def best_within_cost(res, budget):
    worst = -math.inf if res["goal"] == "maximize" else math.inf
    best, spent = worst, 0.0
    for r in res["results"]:
        spent += r[1]
        if spent > budget * (1 + 1e-9):
            break
        if _better(res["goal"], r[0], best):
            best = r[0]
    return best


def quantiles(xs):
    xs = sorted(xs)

    def q(p):
        if not xs:
            return math.nan
        k = (len(xs) - 1) * p
        lo, hi = math.floor(k), math.ceil(k)
        return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)
    return q(0.25), q(0.5), q(0.75)


def fmt(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if math.isinf(v):
        return "none"
    a = abs(v)
    if a != 0 and (a >= 1e5 or a < 1e-3):
        return "%.2e" % v
    return "%.4g" % v


def load(out):
    """The runs under out/raw, and the failed ones apart."""
    runs, failed = [], []
    for path in glob.glob(os.path.join(out, "raw", "*", "*", "*.json")):
        with open(path) as f:
            r = json.load(f)
        (failed if r.get("error") else runs).append(r)
    return runs, failed


def section_of(run):
    if benchset.family_of(run["problem"]) == benchset.HELDOUT_FAMILY:
        return "held-out family (%s), held-out seeds" % benchset.HELDOUT_FAMILY
    if run["seed"] in benchset.HELDOUT_SEEDS:
        return "tuning problems, held-out seeds"
    return "tuning problems, tuning seeds"


def _wins(goal, mine, theirs):
    w = t = l = 0
    for s in mine:
        if s not in theirs:
            continue
        a, b = mine[s], theirs[s]
        if abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b)) or (math.isinf(a) and a == b):
            t += 1
        elif _better(goal, a, b):
            w += 1
        else:
            l += 1
    return "%d/%d/%d" % (w, t, l)


def wilcoxon_p(mine, theirs):
    """Two-sided exact p-value of the Wilcoxon signed-rank test of the
    paired differences mine[s] - theirs[s] (seeds in both, nonzero
    differences only); 1.0 when none differ. Exact by enumerating every
    sign pattern (at most 2^20 of them; the normal approximation beyond)."""
    d = [mine[s] - theirs[s] for s in mine if s in theirs]
    d = [x for x in d if not (abs(x) <= 1e-9 * max(1.0, abs(x))) and math.isfinite(x)]
    n = len(d)
    if n == 0:
        return 1.0
    order = sorted(range(n), key=lambda i: abs(d[i]))
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and abs(d[order[j + 1]]) == abs(d[order[i]]):
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    w_plus = sum(r for r, x in zip(ranks, d) if x > 0)
    total = sum(ranks)
    dev = abs(w_plus - total / 2.0)
    if n > 20:
        sd = math.sqrt(sum(r * r for r in ranks) / 4.0)
        return math.erfc(dev / sd / math.sqrt(2.0))
    # the distribution of W+ under the null: every sign pattern equally likely
    counts = {0.0: 1}
    for r in ranks:
        nxt = dict(counts)
        for w, c in counts.items():
            nxt[w + r] = nxt.get(w + r, 0) + c
        counts = nxt
    extreme = sum(c for w, c in counts.items() if abs(w - total / 2.0) >= dev - 1e-9)
    return min(1.0, extreme / float(2 ** n))


def scores(runs, metric):
    """The cells of one table: [(problem, mode, goal, {optimizer: {seed:
    best}})] in the report's row order; metric "trials" (best after every
    trial) or "cost" (best within the equal-cost budget, cost-aware
    problems with random search's runs only)."""
    groups = {}
    for r in runs:
        groups.setdefault((r["problem"], r["mode"]), []).append(r)
    if metric == "cost":
        groups = {k: v for k, v in groups.items() if v[0]["cost_aware"]}
    order = list(benchset.PROBLEMS)
    cells = []
    for (prob, mode) in sorted(groups, key=lambda k: (order.index(k[0]),
                                                      benchset.width_of(k[1]))):
        rs = groups[(prob, mode)]
        by = {}
        for r in rs:
            by.setdefault(r["optimizer"], {})[r["seed"]] = r
        if metric == "cost":
            if "random" not in by:
                continue
            seeds = set.intersection(*[set(v) for v in by.values()])
            budget = {s: COST_FRACTION * sum(x[1] for x in by["random"][s]["results"])
                      for s in seeds}
            score = {o: {s: best_within_cost(by[o][s], budget[s]) for s in seeds} for o in by}
        else:
            score = {o: {s: best_at(r, len(r["results"])) for s, r in by[o].items()} for o in by}
        cells.append((prob, mode, rs[0]["goal"], score))
    return cells


def table(runs, cells):
    """One markdown table of cells (from scores(runs, metric)): rows
    (problem, mode), columns optimizers."""
    opts = [o for o in benchset.OPTIMIZERS if any(r["optimizer"] == o for r in runs)]
    if not cells:
        return ""
    peers = [o for o in opts if o != "protein"]
    head = ["problem", "mode", "seeds"] + opts
    if "protein" in opts:
        head += ["protein W/T/L vs " + o for o in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for prob, mode, goal, score in cells:
        nseeds = max(len(v) for v in score.values())
        row = [prob + (" (min)" if goal == "minimize" else " (max)"), mode, str(nseeds)]
        for o in opts:
            if o not in score:
                row.append("-")
                continue
            q1, med, q3 = quantiles(list(score[o].values()))
            row.append("%s [%s, %s]" % (fmt(med), fmt(q1), fmt(q3)))
        if "protein" in opts:
            for o in peers:
                row.append("%s (p %.2g)" % (_wins(goal, score["protein"], score[o]),
                                            wilcoxon_p(score["protein"], score[o]))
                           if o in score and "protein" in score else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


METRICS = (("trials", "equal trials"), ("cost", "equal cost"))


def verdict(names, cells):
    """The done criterion of issue 13 in one table: per section (names,
    in order) and metric, how many (problem, mode, peer) cells of
    cells[(section, metric)] have protein's median ahead of the peer's,
    behind it within seed noise (Wilcoxon p >= 0.05) and behind it beyond
    (p < 0.05); then each cell where protein's median is behind. The
    diagnostic optimizers are left out. "" without protein runs."""
    rows, behind = [], []
    for name in names:
        for metric, label in METRICS:
            n = {"ahead": 0, "noise": 0, "beyond": 0}
            for prob, mode, goal, score in cells[(name, metric)]:
                if "protein" not in score:
                    continue
                mine = quantiles(list(score["protein"].values()))[1]
                for o in score:
                    if o == "protein" or o in benchset.DIAGNOSTIC_OPTIMIZERS:
                        continue
                    theirs = quantiles(list(score[o].values()))[1]
                    if not _better(goal, theirs, mine):
                        n["ahead"] += 1
                        continue
                    p = wilcoxon_p(score["protein"], score[o])
                    n["noise" if p >= 0.05 else "beyond"] += 1
                    behind.append("- %s, %s, %s %s: protein %s, %s %s (%s, p %.2g)\n" % (
                        name, label, prob, mode, fmt(mine), o, fmt(theirs),
                        _wins(goal, score["protein"], score[o]), p))
            if sum(n.values()):
                rows.append("| %s | %s | %d | %d | %d |" % (name, label, n["ahead"], n["noise"],
                                                           n["beyond"]))
    if not rows:
        return ""
    return ("| section | metric | protein's median ahead or equal | behind, tied within "
            "seed noise (p >= 0.05) | behind (p < 0.05) |\n| --- | --- | --- | --- | --- |\n"
            + "\n".join(rows) + "\n\nCells where protein's median is behind a peer's "
            "(W/T/L and p: protein against that peer):\n\n" + ("".join(behind) or "none\n"))


def _median_ratio_table(runs, regrets):
    """A problem x optimizer table of median(a) / median(b), where
    regrets(problem, optimizer) gives the two lists of regrets (a, b), or
    None where that cell has no runs; "" when no cell has any."""
    opts = [o for o in benchset.OPTIMIZERS if any(r["optimizer"] == o for r in runs)]
    rows = []
    for prob in benchset.PROBLEMS:
        cells = []
        for o in opts:
            pair = regrets(prob, o)
            if pair is None:
                cells.append("-")
                continue
            a, b = quantiles(pair[0])[1], quantiles(pair[1])[1]
            cells.append("%.2f" % (a / b) if b > 0 else ("1.00" if a == 0 else "inf"))
        if any(c != "-" for c in cells):
            rows.append("| %s | %s |" % (prob, " | ".join(cells)))
    if not rows:
        return ""
    return ("| problem | " + " | ".join(opts) + " |\n|" + " --- |" * (len(opts) + 1) + "\n"
            + "\n".join(rows) + "\n")


def final_regrets(runs):
    """{(problem, optimizer, mode): [regret of each run's best]} over the
    runs of problems with a known optimum."""
    med = {}
    for r in runs:
        opt_val = _optimum(r["problem"])
        if opt_val is not None:
            med.setdefault((r["problem"], r["optimizer"], r["mode"]), []).append(
                abs(best_at(r, len(r["results"])) - opt_val))
    return med


def parallel_ratio(runs):
    """Median regret with 16 pending over median regret sequential, per
    problem with a known optimum and optimizer (the goal: <= 1.25)."""
    med = final_regrets(runs)

    def regrets(prob, o):
        seq, par = med.get((prob, o, "seq")), med.get((prob, o, "par16"))
        return (par, seq) if seq and par else None
    return _median_ratio_table(runs, regrets)


def modes_of(runs):
    """The modes of runs, narrowest first."""
    return sorted({r["mode"] for r in runs}, key=benchset.width_of)


def width_table(runs):
    """Per problem with a known optimum and optimizer, the median regret
    in each mode, narrowest first, with its ratio to the sequential
    median: how a sweep's result changes as more of its trials run at
    once. "" unless the runs have a mode besides the table's seq and
    par16."""
    modes = modes_of(runs)
    if set(modes) <= set(benchset.MODES):
        return ""
    med = final_regrets(runs)
    present = {k[:2] for k in med}
    rows = []
    for prob in benchset.PROBLEMS:
        for o in benchset.OPTIMIZERS:
            if (prob, o) not in present:
                continue
            seq = quantiles(med[(prob, o, "seq")])[1] if (prob, o, "seq") in med else None
            cells = []
            for m in modes:
                if (prob, o, m) not in med:
                    cells.append("-")
                    continue
                v = quantiles(med[(prob, o, m)])[1]
                ratio = " (%.2f)" % (v / seq) if seq and m != "seq" else ""
                cells.append("%s%s" % (fmt(v), ratio))
            rows.append("| %s | %s | %s |" % (prob, o, " | ".join(cells)))
    if not rows:
        return ""
    return ("| problem | optimizer | " + " | ".join(modes) + " |\n|" + " --- |" * (len(modes) + 2)
            + "\n" + "\n".join(rows) + "\n")


def parallel_against_sequential(runs):
    """Protein with 16 pending against each peer run sequentially, at
    equal trials: per problem, protein's par16 median, each peer's seq
    median, and protein's W/T/L and Wilcoxon p over the paired seeds.
    The 16-pending ratio compares a sweep with its own sequential run, so
    an optimizer whose sequential runs are weak has the easier ratio;
    this table asks what a user choosing a tool asks: does a 16-wide
    sweep find what the others find one trial at a time?"""
    par, seq = {}, {}
    goals = {}
    for r in runs:
        best = best_at(r, len(r["results"]))
        goals[r["problem"]] = r["goal"]
        if r["mode"] == "par16" and r["optimizer"] == "protein":
            par.setdefault(r["problem"], {})[r["seed"]] = best
        elif r["mode"] == "seq" and r["optimizer"] not in ("protein", "random"):
            seq.setdefault(r["problem"], {}).setdefault(r["optimizer"], {})[r["seed"]] = best
    peers = [o for o in benchset.OPTIMIZERS
             if any(o in v for v in seq.values())]
    rows = []
    for prob in benchset.PROBLEMS:
        if prob not in par or prob not in seq:
            continue
        goal = goals[prob]
        cells = [prob + (" (min)" if goal == "minimize" else " (max)"),
                 fmt(quantiles(list(par[prob].values()))[1])]
        for o in peers:
            theirs = seq[prob].get(o)
            if not theirs:
                cells.append("-")
                continue
            cells.append("%s (%s, p %.2g)" % (fmt(quantiles(list(theirs.values()))[1]),
                                              _wins(goal, par[prob], theirs),
                                              wilcoxon_p(par[prob], theirs)))
        rows.append("| " + " | ".join(cells) + " |")
    if not rows or not peers:
        return ""
    head = ["problem", "protein par16"] + [o + " seq" for o in peers]
    return ("| " + " | ".join(head) + " |\n|" + " --- |" * len(head) + "\n"
            + "\n".join(rows) + "\n")


def fewer_trials_ratio(runs, lag=16):
    """Per problem with a known optimum and optimizer: the sequential runs'
    median regret after all but their last `lag` trials over their median
    regret after all N: a reference for parallel_ratio, not a bound (see
    README.md). A sweep with `lag` trials in flight makes its last picks
    with at most N - lag results known; its earlier picks lacked results
    too, and where each step builds on the last that lag compounds."""
    early, full = {}, {}
    for r in runs:
        opt_val = _optimum(r["problem"])
        n = len(r["results"])
        if opt_val is None or r["mode"] != "seq" or n <= lag:
            continue
        key = (r["problem"], r["optimizer"])
        early.setdefault(key, []).append(abs(best_at(r, n - lag) - opt_val))
        full.setdefault(key, []).append(abs(best_at(r, n) - opt_val))

    def regrets(prob, o):
        return (early[(prob, o)], full[(prob, o)]) if (prob, o) in early else None
    return _median_ratio_table(runs, regrets)


def spending(runs, steps=6):
    """Per cost-aware problem, mode and optimizer: after each sixth of the
    trial budget (in completion order), the median over seeds of the best
    score so far and of the cost spent so far. It shows how the equal-cost
    column comes about: when each optimizer finds what, and at what cost."""
    acc = {}
    for r in runs:
        if not r["cost_aware"]:
            continue
        n = len(r["results"])
        marks = {round(n * (k + 1) / steps) for k in range(steps)}
        spent, cells = 0.0, []
        for i, row in enumerate(r["results"]):
            spent += row[1]
            if i + 1 in marks:
                cells.append((best_at(r, i + 1), spent))
        acc.setdefault((r["problem"], r["mode"], r["optimizer"]), []).append(cells)
    lines = []
    for key in ((p, m, o) for p in benchset.PROBLEMS for m in modes_of(runs)
                for o in benchset.OPTIMIZERS if (p, m, o) in acc):
        per_seed = acc[key]
        lines.append("| %s | %s | %s (%d) | %s |" % (key + (len(per_seed), " | ".join(
            "%s / %s" % (fmt(quantiles([c[0] for c in col])[1]),
                         fmt(quantiles([c[1] for c in col])[1]))
            for col in zip(*per_seed)))))
    if not lines:
        return ""
    return ("| problem | mode | optimizer (seeds) | "
            + " | ".join("after %d/%d of the trials" % (k + 1, steps) for k in range(steps))
            + " |\n|" + " --- |" * (steps + 3) + "\n" + "\n".join(lines) + "\n")


@functools.lru_cache(maxsize=None)
def _space(problem):
    return benchset.PROBLEMS[problem][0]().space()


def edge_share(runs):
    """Share of the second half of each run's trials that sit on a bound of
    some numeric parameter (within 0.5% of its range, in its own scale), mean
    over seeds: an optimizer that piles trials on the edges shows here."""
    opts = [o for o in benchset.OPTIMIZERS if any(r["optimizer"] == o for r in runs)]
    acc = {}
    for r in runs:
        space = _space(r["problem"])
        cols = r["columns"]
        rows = r["results"][len(r["results"]) // 2:]
        if not rows:
            continue
        hits = 0
        for row in rows:
            for p in space:
                if p.kind == "cat":
                    continue
                v = row[cols.index(p.name)]
                f = math.log if p.kind in ("log", "pow2") else float
                lo, hi = f(p.low), f(p.high)
                x = f(v) if v > 0 or f is float else lo
                if min(abs(x - lo), abs(hi - x)) <= 0.005 * (hi - lo):
                    hits += 1
                    break
        acc.setdefault((r["problem"], r["mode"], r["optimizer"]), []).append(hits / len(rows))
    lines = []
    for prob in benchset.PROBLEMS:
        for mode in modes_of(runs):
            cells = ["%.0f%%" % (100 * sum(v) / len(v)) if v else "-"
                     for v in (acc.get((prob, mode, o)) for o in opts)]
            if any(c != "-" for c in cells):
                lines.append("| %s | %s | %s |" % (prob, mode, " | ".join(cells)))
    if not lines:
        return ""
    return ("| problem | mode | " + " | ".join(opts) + " |\n|" + " --- |" * (len(opts) + 2)
            + "\n" + "\n".join(lines) + "\n")


@functools.lru_cache(maxsize=None)
def _optimum(problem):
    return benchset.PROBLEMS[problem][0]().optimum


def write(out):
    runs, failed = load(out)
    meta = {}
    mp = os.path.join(out, "meta.json")
    if os.path.exists(mp):
        with open(mp) as f:
            meta = json.load(f)
    parts = ["# Peer benchmark report\n",
             "Commands: %s  \nprotein: %s (%s)  \nversions: %s  \nstarted: %s\n" % (
                 "; ".join("`%s`" % c for c in meta.get("commands", [meta.get("command", "?")])),
                 meta.get("protein"), meta.get("protein_revision"),
                 ", ".join("%s %s" % kv for kv in meta.get("versions", {}).items()),
                 meta.get("started", "?")),
             "Cells: median [IQR] over seeds of the best score found; (min) rows are regret "
             "f - f_opt or a loss, lower is better; (max) rows higher is better. "
             "W/T/L: seeds where protein is better/tied/worse than that peer; p: two-sided "
             "Wilcoxon signed-rank test over the paired seeds (p >= 0.05: tied within seed "
             "noise). Equal cost: "
             "best among the trials (in completion order) whose cumulative cost fits in half "
             "of what random search spent on that seed (none: not even the first trial fits).\n"]
    sections = {}
    for r in runs:
        sections.setdefault(section_of(r), []).append(r)
    names = sorted(sections, key=lambda s: ("held-out" in s, s))
    cells = {(name, metric): scores(sections[name], metric)
             for name in names for metric, _ in METRICS}
    t = verdict(names, cells)
    if t:
        parts.append("\n## Verdict: protein against each peer (not counting the diagnostic "
                     "%s)\n\n%s" % (", ".join(sorted(benchset.DIAGNOSTIC_OPTIMIZERS)), t))
    for name in names:
        rs = sections[name]
        parts.append("\n## %s\n\n### equal trials\n\n%s" % (
            name, table(rs, cells[(name, "trials")])))
        t = table(rs, cells[(name, "cost")])
        if t:
            parts.append("\n### equal cost (cost-aware problems)\n\n" + t)
        t = parallel_ratio(rs)
        if t:
            parts.append("\n### 16 pending vs sequential: median regret ratio (goal <= 1.25)\n\n"
                         + t)
        t = parallel_against_sequential(rs)
        if t:
            parts.append("\n### protein with 16 pending against the peers sequential, equal "
                         "trials (W/T/L and p: protein par16 against that peer seq)\n\n" + t)
        t = width_table(rs)
        if t:
            parts.append("\n### median regret by the number of trials in flight (in brackets: "
                         "over sequential)\n\n" + t)
        t = fewer_trials_ratio(rs)
        if t:
            parts.append("\n### 16 trials fewer, sequential: median regret after N - 16 "
                         "trials over after N\n\n" + t)
        t = spending(rs)
        if t:
            parts.append("\n### where the cost goes (cost-aware problems): median best so far / "
                         "median cost spent, in completion order\n\n" + t)
        t = edge_share(rs)
        if t:
            parts.append("\n### second-half trials on a bound of a numeric parameter\n\n" + t)
    if failed:
        parts.append("\n## Failed runs (left out of the tables)\n\n" + "".join(
            "- %s %s %s seed %d: %s\n" % (r["problem"], r["mode"], r["optimizer"], r["seed"],
                                          r["error"]) for r in failed))
    path = os.path.join(out, "report.md")
    with open(path, "w") as f:
        f.write("".join(parts))
    return path
