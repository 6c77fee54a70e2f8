#!/usr/bin/env python3
"""pufferlib_space.py - the sweep space PufferLib builds from an INI,
computed here by PufferLib's own rules, compared with the space protein
builds (`protein config FILE`).

PufferLib is not installed for this (its PyPI release needs torch and a C
toolchain); its rules are re-implemented from its source, PufferLib 3.0
(pufferlib/pufferl.py load_config, pufferlib/sweep.py) and the newer
sweep.py with sweep_only (read in PufferAI/PufferLib and forks):

- the environment's file is read over config/default.ini by configparser:
  read([default.ini, env.ini]), so a key of the env file replaces the same
  key of default.ini and everything else of default.ini stays;
- every value goes through ast.literal_eval (30_000_000 is 30000000), and
  stays a string when that fails;
- section "sweep.a.b" becomes args['sweep']['a']['b'] (split on '.');
- _params_from_puffer_sweep walks args['sweep'] in order: the keys method,
  metric, metric_distribution, goal, downsample, use_gpu, prune_pareto,
  sweep_only, max_suggestion_cost, early_stop_quantile, gpus, max_runs and
  match_* are settings; a dict holding dicts is a group; a leaf needs a
  distribution and is kept, under sweep_only, when one of its
  comma-separated words is a substring of the leaf's own name;
- uniform is Linear, int_uniform Linear integer, uniform_pow2 Pow2,
  log_normal Log (base 10), logit_normal Logit; scale 'auto' is 0.5, 'time'
  (Log) 1/(log2 max - log2 min), a number as given;
- metric/goal name the score; metric_distribution = percentile scores the
  logit of the metric; downsample is the number of points per run.

usage: pufferlib_space.py PROTEIN INI [SWEEP_ONLY]
  exit 0 when protein's space is PufferLib's, 1 with the differences;
  an INI in PufferLib's older W&B-style layout must be refused by both.
"""
import ast
import configparser
import math
import os
import subprocess
import sys

import yaml

SETTINGS = {"method", "metric", "metric_distribution", "goal", "downsample",
            "use_gpu", "prune_pareto", "sweep_only", "max_suggestion_cost",
            "early_stop_quantile", "gpus", "max_runs"}
KINDS = {"uniform": "uniform", "int_uniform": "int_uniform",
         "uniform_pow2": "uniform_pow2", "log_normal": "log_uniform_values",
         "logit_normal": "logit_normal"}


def literal(value):
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def default_ini(path):
    """The default.ini PufferLib merges path over (protein's search: the
    file's directory and the two above it)."""
    if os.path.basename(path) == "default.ini":
        return None
    d = os.path.dirname(os.path.abspath(path))
    for _ in range(3):
        candidate = os.path.join(d, "default.ini")
        if os.path.exists(candidate):
            return candidate
        d = os.path.dirname(d)
    return None


def pufferlib_sweep(path, sweep_only=None):
    parser = configparser.ConfigParser()
    base = default_ini(path)
    parser.read([base, path] if base else [path])
    args = {}
    for section in parser.sections():
        node = args
        for part in section.split("."):
            node = node.setdefault(part, {})
        for key in parser[section]:
            node[key] = literal(parser[section][key])
    sweep = args.get("sweep", {})
    if sweep_only is not None:
        sweep["sweep_only"] = sweep_only
    return sweep


def leaf_without_distribution(sweep):
    """A parameter section without a distribution: PufferLib stops on it
    (assert 'distribution' in param)."""
    for name, spec in sweep.items():
        if isinstance(spec, dict):
            if any(isinstance(v, dict) for v in spec.values()):
                found = leaf_without_distribution(spec)
                if found:
                    return f"{name}/{found}"
            elif "distribution" not in spec:
                return name
    return None


def old_layout(sweep):
    return "metric" in sweep and isinstance(sweep["metric"], dict) or \
        "parameters" in sweep


def params(sweep, only=None, prefix=""):
    if "sweep_only" in sweep:
        only = [p.strip() for p in str(sweep["sweep_only"]).split(",")]
    out = []
    for name, spec in sweep.items():
        if name in SETTINGS or name.startswith("match_"):
            continue
        assert isinstance(spec, dict), name
        if any(isinstance(v, dict) for v in spec.values()):
            out += params(spec, only, prefix + name + "/")
            continue
        if only and not any(k in name for k in only):
            continue
        dist = spec["distribution"]
        lo, hi = float(spec["min"]), float(spec["max"])
        scale = spec.get("scale", "auto")
        if scale == "auto":
            scale = 0.5
        elif scale == "time":
            scale = 1 / (math.log2(hi) - math.log2(lo))
        out.append({"name": prefix + name, "distribution": KINDS[dist],
                    "min": lo, "max": hi, "scale": float(scale),
                    "mean": float(spec["mean"]) if "mean" in spec else None})
    return out


def main():
    protein, path = sys.argv[1], sys.argv[2]
    only = sys.argv[3] if len(sys.argv) > 3 else None
    sweep = pufferlib_sweep(path, only)
    cmd = [protein, "config", path]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if old_layout(sweep):
        if run.returncode == 2 and "older W&B-style INI layout" in run.stderr:
            return 0
        print(f"{path}: the older layout was not refused by name: {run.stderr}")
        return 1
    missing = leaf_without_distribution(sweep)
    if missing:
        if run.returncode == 2 and "distribution" in run.stderr:
            print(f"{path}: refused as PufferLib refuses it ({missing} has "
                  "no distribution)")
            return 0
        print(f"{path}: {missing} has no distribution, which PufferLib "
              f"refuses; protein said: {run.stderr}")
        return 1
    if run.returncode != 0:
        print(f"{path}: protein refused it: {run.stderr}")
        return 1
    got = yaml.safe_load(run.stdout)
    want = params(sweep)
    bad = []
    names = [str(n) for n in got["parameters"]]
    if names != [p["name"] for p in want]:
        bad.append(f"parameters {names} != {[p['name'] for p in want]}")
    for p in want:
        q = got["parameters"].get(p["name"])
        if q is None:
            continue
        for key in ("min", "max", "scale"):
            if not math.isclose(float(q[key]), p[key], rel_tol=1e-12):
                bad.append(f"{p['name']}.{key}: {q[key]} != {p[key]}")
        if q["distribution"] != p["distribution"]:
            bad.append(f"{p['name']}: {q['distribution']} != {p['distribution']}")
        if p["mean"] is not None and not math.isclose(float(q["default"]),
                                                      p["mean"], rel_tol=1e-12):
            bad.append(f"{p['name']}.mean: {q.get('default')} != {p['mean']}")
    metric = str(sweep.get("metric", "score"))
    if got["metric"]["name"] != metric:
        bad.append(f"metric {got['metric']['name']} != {metric}")
    goal = sweep.get("goal", "maximize")
    if got["metric"]["goal"] != goal:
        bad.append(f"goal {got['metric']['goal']} != {goal}")
    percentile = sweep.get("metric_distribution", "linear") == "percentile"
    if (got["metric"].get("distribution") == "percentile") != percentile:
        bad.append("metric_distribution differs")
    if int(got["protein"]["downsample"]) != int(sweep.get("downsample", 0)):
        bad.append(f"downsample {got['protein']['downsample']} != "
                   f"{sweep.get('downsample', 0)}")
    for b in bad:
        print(f"{path}: {b}")
    if not bad:
        print(f"{path}: {len(want)} parameters as PufferLib reads them")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
