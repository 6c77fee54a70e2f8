#!/usr/bin/env python3
"""wandb_space.py - checks the parameters protein handed to trials of a W&B
sweep file against W&B's own reading of that file.

The file is read with PyYAML's safe_load, as the wandb CLI reads it (YAML
1.1: true/false/yes/no are booleans, a float needs a '.'). The rules are
W&B's (wandb/sweeps: config/schema.json, params.py): a parameter without
a distribution is a constant (value), a categorical (values) or, with min
and max, int_uniform when both are ints and uniform otherwise; a mapping
with only parameters: is a group whose leaves protein names
"group/leaf"; q_* values are multiples of q (ints when q is an int);
log_uniform and q_log_uniform take natural-log bounds, inv_log_uniform
gives exp(-x); normal, log_normal and beta are unbounded, and protein
searches their 0.1 %..99.9 % quantiles (docs/config-reference.md). A
bound PyYAML reads as a string (min: 5e-4), which W&B refuses, is taken
as protein takes it, as its number.

usage: wandb_space.py SWEEP.yaml PARAMS.jsonl
  PARAMS.jsonl: one $PROTEIN_PARAMS per line. Exit 0 when every trial has
  exactly the file's parameters, each of W&B's type and in its range.
"""
import json
import math
import statistics
import sys

import yaml

LO, HI = 0.001, 0.999
NUMERIC = {"min", "max", "mu", "sigma", "a", "b", "q"}


def leaves(params, prefix=""):
    for name, spec in params.items():
        if isinstance(spec, dict) and set(spec) == {"parameters"}:
            yield from leaves(spec["parameters"], f"{prefix}{name}/")
        else:
            yield f"{prefix}{name}", spec


def distribution(spec):
    if "distribution" in spec:
        return spec["distribution"]
    if "value" in spec:
        return "constant"
    if "values" in spec:
        return "categorical"
    both_int = all(isinstance(spec[k], int) and not isinstance(spec[k], bool)
                   for k in ("min", "max"))
    return "int_uniform" if both_int else "uniform"


def same(a, b):
    """W&B equality that tells True from 1 and 1 from "1"."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check(name, spec, v):
    # a bound PyYAML reads as a string (min: 5e-4), which W&B refuses:
    # protein reads its number (docs/config-reference.md)
    spec = {k: float(x) if k in NUMERIC and isinstance(x, str) else x
            for k, x in spec.items()}
    d = distribution(spec)
    if d == "constant":
        return same(v, spec["value"]) or f"{name}: {v!r} != constant {spec['value']!r}"
    if d == "categorical":
        return any(same(v, c) for c in spec["values"]) or \
            f"{name}: {v!r} is not one of {spec['values']!r}"
    if not number(v):
        return f"{name}: {v!r} is not a number"
    q = spec.get("q", 1.0) if d.startswith("q_") else None  # schema default 1.0
    lo, hi = spec.get("min"), spec.get("max")
    if d in ("log_uniform", "q_log_uniform"):
        lo, hi = math.exp(lo), math.exp(hi)
    elif d == "inv_log_uniform":
        lo, hi = math.exp(-hi), math.exp(-lo)
    elif d in ("normal", "q_normal", "log_normal", "q_log_normal"):
        n = statistics.NormalDist(spec.get("mu", 0), spec.get("sigma", 1))
        lo, hi = n.inv_cdf(LO), n.inv_cdf(HI)
        if "log" in d:
            lo, hi = math.exp(lo), math.exp(hi)
    elif d in ("beta", "q_beta"):
        lo, hi = 0, 1
    slack = q / 2 if q else 0
    tol = 1e-9 * max(1.0, abs(hi))
    if not lo - slack - tol <= v <= hi + slack + tol:
        return f"{name}: {v} is outside [{lo}, {hi}] ({d})"
    if d == "int_uniform" and not isinstance(v, int):
        return f"{name}: {v!r} is not an int (int_uniform)"
    if q:
        if abs(v / q - round(v / q)) > 1e-9:
            return f"{name}: {v} is not a multiple of q = {q}"
        if isinstance(q, int) and not isinstance(v, int):
            return f"{name}: {v!r} is not an int (integer q)"
    return True


def main():
    with open(sys.argv[1]) as f:
        config = yaml.safe_load(f)
    specs = dict(leaves(config["parameters"]))
    bad, trials = [], 0
    with open(sys.argv[2]) as f:
        for line in f:
            params = json.loads(line)
            trials += 1
            if set(params) != set(specs):
                bad.append(f"parameters {sorted(params)} != {sorted(specs)}")
                continue
            for name, spec in specs.items():
                ok = check(name, spec, params[name])
                if ok is not True:
                    bad.append(ok)
    for b in bad:
        print(f"{sys.argv[1]}: {b}")
    if trials == 0:
        print(f"{sys.argv[1]}: no trial ran")
        return 1
    if not bad:
        print(f"{sys.argv[1]}: {trials} trials, {len(specs)} parameters as W&B reads them")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
