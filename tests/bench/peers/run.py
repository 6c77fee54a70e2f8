#!/usr/bin/env python3
"""Peer benchmark: protein against Optuna (GP, TPE), PufferLib's Protein and
random search on a fixed set of objectives. See README.md for usage."""
import argparse
import concurrent.futures
import glob
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PY = os.path.join(HERE, ".venv", "bin", "python")
if os.path.exists(VENV_PY) and os.path.realpath(sys.prefix) != os.path.realpath(
        os.path.join(HERE, ".venv")) and not os.environ.get("PEERS_NO_REEXEC"):
    os.environ["PEERS_NO_REEXEC"] = "1"
    os.execv(VENV_PY, [VENV_PY] + sys.argv)
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, HERE)

import benchset  # noqa: E402
import recost  # noqa: E402
import report  # noqa: E402
from optimizers import RUNNER_REVISION, RUNNERS  # noqa: E402

HARNESS_VERSION = 1


def parse_seeds(text):
    out = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def expand_problems(text):
    out = []
    for name in text.split(","):
        if name in benchset.FAMILIES:
            out += benchset.FAMILIES[name]
        elif name in benchset.PROBLEMS:
            out.append(name)
        else:
            sys.exit("run.py: unknown problem or family %r (known: %s)" % (
                name, ", ".join(list(benchset.FAMILIES) + list(benchset.PROBLEMS))))
    return list(dict.fromkeys(out))


def protein_binary(path):
    path = path or os.environ.get("PROTEIN") or os.path.join(
        HERE, "..", "..", "..", "build", "cli", "protein")
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        sys.exit("run.py: no protein binary at %s (build the tree, or set PROTEIN= "
                 "or --protein)" % path)
    return path


def protein_revision(binary):
    if os.environ.get("PROTEIN_REVISION"):
        return os.environ["PROTEIN_REVISION"]
    try:
        top = subprocess.check_output(["git", "-C", os.path.dirname(binary), "rev-parse",
                                       "--show-toplevel"], text=True,
                                      stderr=subprocess.DEVNULL).strip()
        rev = subprocess.check_output(["git", "-C", top, "describe", "--always", "--dirty"],
                                      text=True).strip()
        return rev
    except (subprocess.CalledProcessError, OSError):
        return "unknown"


def versions():
    out = {"python": platform.python_version()}
    for mod in ("optuna", "torch", "scipy", "sklearn", "numpy", "cocoex", "pufferlib", "sweeps", "ax",
                "botorch"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "?")
        except ImportError:
            out[mod] = None
    return out


def cached_run(cfile, task, trials):
    """A peer's earlier run of task: the local cache, else a committed result
    (results/*/raw) with the same budget and harness version, as it was run
    (not a --recost copy, whose costs were measured again); None if none."""
    p, seed, mode, opt = task
    paths = [cfile] + sorted(glob.glob(os.path.join(
        HERE, "results", "*", "raw", p, mode, "%s-s%d.json" % (opt, seed))))
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            res = json.load(f)
        if (res.get("trials") == trials and res.get("harness") == HARNESS_VERSION
                and res.get("runner_revision", 1) == RUNNER_REVISION.get(opt, 1)
                and not res.get("error") and not res.get("recosted")):
            return res
    return None


def compact(trials, space_names):
    def r(v):
        return float("%.6g" % v) if isinstance(v, float) else v
    return [[r(t["score"]), r(t["cost"]), r(t["finish"])] + [r(t["params"][k]) for k in space_names]
            for t in trials]


def one_run(problem_name, opt, mode, seed, args, protein_bin):
    factory, trials = benchset.PROBLEMS[problem_name]
    problem = factory()
    parallel = benchset.width_of(mode)
    if args.trials:
        trials = args.trials
    t0 = time.monotonic()
    error = None
    try:
        if opt == "protein":
            done = RUNNERS[opt](problem, trials, parallel, seed, protein=protein_bin,
                                curve=args.protein_curve, centre=args.protein_centre,
                                cost_param=args.protein_cost_param)
        else:
            done = RUNNERS[opt](problem, trials, parallel, seed)
    except Exception as e:  # a peer that crashes is recorded, the benchmark goes on
        import traceback
        error = "%s: %s" % (type(e).__name__, str(e).strip().splitlines()[0] if str(e).strip()
                            else "")
        traceback.print_exc()
        done = []
    names = [p.name for p in problem.space()]
    return {"error": error, "harness": HARNESS_VERSION,
            "runner_revision": RUNNER_REVISION.get(opt, 1), "problem": problem_name, "optimizer": opt,
            "mode": mode, "parallel": parallel, "seed": seed, "trials": trials,
            "goal": problem.goal, "cost_aware": problem.cost_aware,
            "wall_s": round(time.monotonic() - t0, 3),
            "columns": ["score", "cost", "finish"] + names,
            "results": compact(done, names)}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--problems", default=None,
                    help="comma list of problems or families (rl, mixed, bbob; sklearn is "
                    "the held-out family); default: all (with --final, sklearn too)")
    ap.add_argument("--optimizers", default="protein,optuna-gp,optuna-tpe,wandb-bayes,random",
                    help="comma list of " + ",".join(benchset.OPTIMIZERS))
    ap.add_argument("--seeds", default=None, help="e.g. 0-4 or 0,3,7 (default: tuning seeds)")
    ap.add_argument("--mode", default="seq,par16",
                    help="comma list of seq and parN, N trials in flight (the table's: "
                    "seq,par16; others, e.g. par4, measure how results change with width)")
    ap.add_argument("--trials", type=int, default=0, help="override the trial budget")
    ap.add_argument("--final", action="store_true",
                    help="also run the held-out seeds and the held-out family, reported apart")
    ap.add_argument("--protein", default=None, help="protein binary (default $PROTEIN, "
                    "else build/cli/protein of this tree)")
    ap.add_argument("--protein-curve", action="store_true",
                    help="give protein the training curve of curve problems (rl), as "
                    "PufferLib's Protein gets it: progress reports, downsample, "
                    "cost_param total_timesteps")
    ap.add_argument("--protein-cost-param", action="store_true",
                    help="name the cost axis of the problems that have one (rl: "
                    "total_timesteps; the random forest and gradient boosting: "
                    "n_estimators) as protein's cost_param, as a PufferLib config "
                    "gets train/total_timesteps by default")
    ap.add_argument("--protein-centre", action="store_true",
                    help="give protein PufferLib's search centre (the midpoints PufferLib's "
                    "Protein starts from) as every parameter's default: its first trial")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "local"),
                    help="results folder (raw/ and report.md); results/local is git-ignored")
    ap.add_argument("--no-cache", action="store_true",
                    help="rerun the peers too (their runs are cached under results/cache "
                    "by problem, mode, seed and budget; protein always reruns)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="runs at once (processes; default 1: the machine is shared)")
    ap.add_argument("--cached-only", action="store_true",
                    help="take the peers from the cache only, skipping the runs not in it "
                    "(protein still runs)")
    ap.add_argument("--append", action="store_true",
                    help="keep the raw results already in --out (default: start afresh)")
    ap.add_argument("--report-only", action="store_true",
                    help="rebuild report.md from the raw results in --out")
    ap.add_argument("--recost", metavar="SRC", default=None,
                    help="copy the results folder SRC to --out (a new folder) with every "
                    "scikit-learn trial's cost re-measured in this process, the runs "
                    "interleaved, then report: costs measured in other sessions "
                    "compared fairly (recost.py)")
    args = ap.parse_args()

    if args.report_only:
        report.write(args.out)
        return
    if args.recost:
        recost.recost(args.recost, args.out, args.jobs, " ".join(sys.argv))
        return
    problems = expand_problems(args.problems or (
        "rl,mixed,bbob,sklearn" if args.final else "rl,mixed,bbob"))
    opts = args.optimizers.split(",")
    for o in opts:
        if o not in RUNNERS:
            sys.exit("run.py: unknown optimizer %r (known: %s)" % (o, ", ".join(RUNNERS)))
    if "random" not in opts and any(benchset.PROBLEMS[p][0]().cost_aware for p in problems):
        opts.append("random")  # its total cost sets the equal-cost budget (cached, cheap)
    modes = ["seq", "par16"] if args.mode == "both" else args.mode.split(",")
    for m in modes:
        if benchset.width_of(m) is None:
            sys.exit("run.py: unknown mode %r (seq, or parN with N >= 2: par16)" % m)
    seeds = parse_seeds(args.seeds) if args.seeds else list(benchset.TUNING_SEEDS)
    held_seeds = [s for s in seeds if s in benchset.HELDOUT_SEEDS]
    held_probs = [p for p in problems if benchset.family_of(p) == benchset.HELDOUT_FAMILY]
    if not args.final and (held_seeds or held_probs):
        sys.exit("run.py: %s held out: run them only with --final" % (
            "seeds %s are" % held_seeds if held_seeds else "family %s is" % benchset.HELDOUT_FAMILY))
    plan = [(p, s) for p in problems if p not in held_probs for s in seeds]
    if args.final:
        # the held-out seeds given, else all of them
        plan += [(p, s) for p in problems if p not in held_probs
                 for s in benchset.HELDOUT_SEEDS if s not in seeds and not held_seeds]
        # the held-out family runs on the held-out seeds given, else all of them
        plan += [(p, s) for p in held_probs for s in (held_seeds or benchset.HELDOUT_SEEDS)]
    protein_bin = protein_binary(args.protein) if "protein" in opts else None
    raw = os.path.join(args.out, "raw")
    cache = os.path.join(HERE, "results", "cache")
    meta = {"protein": protein_bin, "protein_revision": protein_revision(protein_bin)
            if protein_bin else None, "versions": versions(),
            "command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                                     time.gmtime())}
    if not args.append and os.path.isdir(raw):
        shutil.rmtree(raw)
    os.makedirs(raw, exist_ok=True)
    mpath = os.path.join(args.out, "meta.json")
    if args.append and os.path.exists(mpath):
        # keep the protein that earlier invocations ran; list every command
        with open(mpath) as f:
            old = json.load(f)
        meta["commands"] = old.get("commands", [old.get("command")]) + [meta["command"]]
        if not protein_bin:
            meta["protein"], meta["protein_revision"] = old.get("protein"), old.get(
                "protein_revision")
        meta["started"] = old.get("started", meta["started"])
    else:
        meta["commands"] = [meta["command"]]
    with open(mpath, "w") as f:
        json.dump(meta, f, indent=1)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    tasks = [(p, seed, mode, opt) for p, seed in plan for mode in modes for opt in opts]

    def cache_file(p, seed, mode, opt):
        trials = args.trials or benchset.PROBLEMS[p][1]
        revision = RUNNER_REVISION.get(opt, 1)
        return os.path.join(cache, p, mode, "%s-s%d-n%d-h%d%s.json" % (
            opt, seed, trials, HARNESS_VERSION, "-r%d" % revision if revision > 1 else ""))

    def finished(k, task, res, how):
        p, seed, mode, opt = task
        if how != "cached" and opt != "protein" and not res.get("error"):
            cfile = cache_file(*task)
            os.makedirs(os.path.dirname(cfile), exist_ok=True)
            with open(cfile, "w") as f:
                json.dump(res, f, separators=(",", ":"))
        dest = os.path.join(raw, p, mode, "%s-s%d.json" % (opt, seed))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w") as f:
            json.dump(res, f, separators=(",", ":"))
        print("[%d/%d] %s %s %s seed %d: %s (%s)" % (
            k, len(tasks), p, mode, opt, seed,
            "FAILED: " + res["error"] if res.get("error")
            else "best %.6g" % report.best_at(res, len(res["results"])), how), flush=True)

    todo = []
    k = 0
    for task in tasks:
        hit = None if task[3] == "protein" or args.no_cache else cached_run(
            cache_file(*task), task, args.trials or benchset.PROBLEMS[task[0]][1])
        if hit:
            k += 1
            finished(k, task, hit, "cached")
        elif task[3] == "protein" or not args.cached_only:
            todo.append(task)
    if args.jobs > 1:
        with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
            futs = {pool.submit(one_run, p, o, m, s, args, protein_bin): (p, s, m, o)
                    for p, s, m, o in todo}
            for fut in concurrent.futures.as_completed(futs):
                res = fut.result()
                k += 1
                finished(k, futs[fut], res, "%.1f s" % res["wall_s"])
    else:
        for p, s, m, o in todo:
            res = one_run(p, o, m, s, args, protein_bin)
            k += 1
            finished(k, (p, s, m, o), res, "%.1f s" % res["wall_s"])
    path = report.write(args.out)
    print("report: %s" % path)


if __name__ == "__main__":
    main()
