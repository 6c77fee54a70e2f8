#!/usr/bin/env python3
"""pufferlib_space.py - the sweep space PufferLib builds from an INI,
compared with the space protein builds (`protein config FILE`).

PufferLib's own code decides where it can: with PufferLib 3.0.0's sources
(fetch_pufferlib.py keeps them from its sdist on PyPI in
$PROTEIN_PUFFERLIB_SRC, default /opt/protein-venv/share/pufferlib-3.0.0),
an INI in 3.0.0's layout is read by pufferl.py's load_config and its space
built by sweep.py's Hyperparameters (_params_from_puffer_sweep and
pufferlib.py's unroll_nested_dict), as `puffer sweep ENV` does, unmodified:
the functions are taken out of the files with ast and run here. The package
cannot be imported: its pufferl.py and sweep.py import torch, pyro, psutil,
rich and PufferLib's compiled environments at the top, none of which the
loader uses; they get in their place only what the loader touches:
argparse's HelpFormatter for rich_argparse's RichHelpFormatter (the --help
text only), an exception class for pufferlib.APIUsageError, and numpy
(installed). load_config finds an environment's file by its [base]
env_name in the config/ directory next to pufferl.py: the file and the
default.ini protein merges it over are put in such a directory.

PufferLib 3.0.0's sweep.py knows the [sweep] settings method, metric, goal
and downsample only; an INI with the newer settings (sweep_only,
metric_distribution, use_gpu, ...; PufferLib's GitHub code after 3.0, not
on PyPI) is checked against a re-implementation of that newer code's rules,
read in PufferAI/PufferLib and forks (sweep.py with sweep_only):

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
       pufferlib_space.py PROTEIN --args INI ARGS...
  exit 0 when protein's space is PufferLib's, 1 with the differences;
  an INI that PufferLib refuses must be refused by protein too. The first
  line says whose code decided ("PufferLib 3.0.0's own loader" or "the
  re-implementation"). With --args: PufferLib's own load_config parses
  ARGS (a trial's PROTEIN_ARGS) as its command line over INI, and each
  --section.key=value must come out as args[section][key] == value.
"""
import argparse
import ast
import collections
import configparser
import glob
import math
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

SOURCES = os.environ.get("PROTEIN_PUFFERLIB_SRC",
                         "/opt/protein-venv/share/pufferlib-3.0.0")
# The [sweep] settings PufferLib 3.0.0's code knows (pufferl.py sweep() pops
# method; sweep.py skips the others).
SETTINGS_3_0 = {"method", "metric", "goal", "downsample"}
# sweep.py's space classes as protein names the distributions.
CLASSES = {"Linear": "uniform", "Pow2": "uniform_pow2",
           "Log": "log_uniform_values", "Logit": "logit_normal"}

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


class PufferLibRefused(Exception):
    """PufferLib's own code raised on the file."""


def pufferlib_code():
    """PufferLib 3.0.0's load_config, Hyperparameters (and the space classes
    and functions it uses) and unroll_nested_dict, from its own files, in
    one namespace; None when the sources are not there."""
    if not os.path.exists(os.path.join(SOURCES, "pufferlib", "pufferl.py")):
        return None
    import numpy

    class APIUsageError(Exception):
        pass

    pufferlib = type(sys)("pufferlib")
    pufferlib.__version__ = open(os.path.join(SOURCES, "VERSION")).read().strip()
    pufferlib.APIUsageError = APIUsageError
    ns = {"argparse": argparse, "ast": ast, "configparser": configparser,
          "glob": glob, "os": os, "defaultdict": collections.defaultdict,
          "np": numpy, "math": math, "deepcopy": __import__("copy").deepcopy,
          "RichHelpFormatter": argparse.HelpFormatter, "pufferlib": pufferlib}
    wanted = {"pufferl.py": {"load_config"},
              "sweep.py": {"Space", "Linear", "Pow2", "Log", "Logit",
                           "_params_from_puffer_sweep", "Hyperparameters"},
              "pufferlib.py": {"unroll_nested_dict"}}
    for name, defs in wanted.items():
        path = os.path.join(SOURCES, "pufferlib", name)
        tree = ast.parse(open(path).read(), path)
        body = [n for n in tree.body
                if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in defs]
        assert {n.name for n in body} == defs, (name, defs)
        exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), ns)
    pufferlib.unroll_nested_dict = ns["unroll_nested_dict"]
    return ns


def pufferlib_args(code, path, argv=()):
    """What PufferLib 3.0.0's load_config makes of path (merged over the
    default.ini protein merges it over) with the command line argv;
    PufferLibRefused when it raises, None when the file names no env."""
    base = default_ini(path)
    is_default = base is None and os.path.basename(path) == "default.ini"
    parser = configparser.ConfigParser()
    parser.read([base, path] if base else [path])
    if is_default:
        env_name = "default"
    elif parser.has_option("base", "env_name") and \
            parser["base"]["env_name"].split():
        env_name = parser["base"]["env_name"].split()[0]
    else:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "pufferlib", "config")
        os.makedirs(os.path.join(config, "env"))
        if is_default:
            shutil.copy(path, os.path.join(config, "default.ini"))
        else:
            if base:
                shutil.copy(base, os.path.join(config, "default.ini"))
            shutil.copy(path, os.path.join(config, "env", "env.ini"))
        code["__file__"] = os.path.join(tmp, "pufferlib", "pufferl.py")
        saved = sys.argv
        sys.argv = ["puffer"] + list(argv)
        try:
            return code["load_config"](env_name)
        except (Exception, SystemExit) as e:
            raise PufferLibRefused(f"load_config: {type(e).__name__}: {e}")
        finally:
            sys.argv = saved


def pufferlib_space(code, sweep):
    """The parameters, metric, goal and downsample PufferLib 3.0.0 sweeps
    from args['sweep'], as `puffer sweep` builds them (method popped, then
    Hyperparameters); PufferLibRefused when its code raises."""
    sweep = dict(sweep)
    try:
        sweep.pop("method")
        h = code["Hyperparameters"](sweep, verbose=False)
        downsample = sweep["downsample"]
    except Exception as e:
        raise PufferLibRefused(f"sweep.py: {type(e).__name__}: {e}")
    out = []
    for name, space in h.flat_spaces.items():
        kind = CLASSES[type(space).__name__]
        if kind == "uniform" and space.is_integer:
            kind = "int_uniform"
        out.append({"name": name, "distribution": kind,
                    "min": float(space.min), "max": float(space.max),
                    "scale": float(space.scale), "mean": float(space.mean)})
    return out, {"metric": h.metric, "goal": sweep["goal"],
                 "downsample": downsample}


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


def check_args(protein, path, argv):
    """PufferLib's own load_config parses each --section.key=value of argv
    over path: it must come out as args[section][key] == value, unless
    PufferLib's CLI refuses it and `protein config` warned that it would
    (a parameter whose value in its section is an int, with fractional
    bounds)."""
    code = pufferlib_code()
    if code is None:
        print(f"{path}: no PufferLib sources in {SOURCES}")
        return 1
    warned = subprocess.run([protein, "config", path], capture_output=True,
                            text=True).stderr
    bad, refused = [], 0
    for a in argv:
        flag, value = a.split("=", 1)
        try:
            args = pufferlib_args(code, path, [a])
        except PufferLibRefused as e:
            if f"parses {flag} as an int" not in warned or \
                    "refuses the fractional values" not in warned:
                bad.append(f"{a}: PufferLib's CLI refused it ({e}) and "
                           "protein did not warn")
            refused += 1
            continue
        if args is None:
            print(f"{path}: no [base] env_name, by which PufferLib's loader "
                  "finds a file: not checked")
            return 0
        section, key = flag[2:].replace("-", "_").split(".", 1)
        got = args[section][key]
        if got != (value if isinstance(got, str) else ast.literal_eval(value)):
            bad.append(f"{a}: PufferLib read {section}.{key} = {got!r}")
    for b in bad:
        print(f"{path}: {b}")
    if not bad:
        print(f"{path}: PufferLib's own CLI parsed {len(argv) - refused} "
              f"arguments ({refused} refused, as protein warned)")
    return 1 if bad else 0


def cli_types(want, values):
    """Marks each parameter of want that protein must hand out as an
    integer: a uniform or log one whose value outside the sweep
    (values[SECTION][KEY]) is an int, which PufferLib's CLI parses
    --SECTION.KEY as (argparse type=int), with whole bounds and mean."""
    for p in want:
        section, _, key = p["name"].partition("/")
        v = values.get(section, {}).get(key) if key else None
        p["integer"] = p["distribution"] == "int_uniform" or (
            p["distribution"] in ("uniform", "log_uniform_values") and
            type(v) is int and
            all(x is None or float(x).is_integer()
                for x in (p["min"], p["max"], p["mean"])))
    return want


def expected(path, only, stderr):
    """PufferLib's space for path: (parameters, settings, whose code), or
    (None, (ok, why), whose code) when PufferLib refuses it: protein must
    refuse it too, and ok is False when protein's message (stderr of
    `protein config`) is not the one it must be."""
    try:
        sweep = pufferlib_sweep(path, only)
    except TypeError:
        # a [sweep.metric] section over default.ini's "metric = score"
        # (the older layout): PufferLib's nesting fails on it as well
        sweep = {"metric": {}}
    top = {k for k, v in sweep.items() if not isinstance(v, dict)}
    code = pufferlib_code() if only is None and top <= SETTINGS_3_0 else None
    if code is not None:
        who = "PufferLib " + code["pufferlib"].__version__ + "'s own loader"
        try:
            args = pufferlib_args(code, path)
            if args is not None:
                want, settings = pufferlib_space(code, args["sweep"])
                settings["percentile"] = False
                return cli_types(want, args), settings, who
        except PufferLibRefused as e:
            if old_layout(sweep) and "older W&B-style INI layout" not in stderr:
                return None, (False, f"PufferLib refuses it ({e}) but protein "
                              "does not name the older layout"), who
            return None, (True, f"PufferLib refuses it: {e}"), who
    who = "the re-implementation of PufferLib's newer rules"
    if old_layout(sweep):
        named = "older W&B-style INI layout" in stderr
        return None, (named, "the older layout, which PufferLib refuses" +
                      ("" if named else "; protein does not name it")), who
    missing = leaf_without_distribution(sweep)
    if missing:
        return None, (True, f"{missing} has no distribution, which "
                      "PufferLib refuses"), who
    parser = configparser.ConfigParser()
    base = default_ini(path)
    parser.read([base, path] if base else [path])
    values = {s: {k: literal(parser[s][k]) for k in parser[s]}
              for s in parser.sections()}
    return cli_types(params(sweep), values), {
        "metric": str(sweep.get("metric", "score")),
        "goal": sweep.get("goal", "maximize"),
        "percentile": sweep.get("metric_distribution", "linear") == "percentile",
        "downsample": sweep.get("downsample", 0)}, who


def main():
    protein = sys.argv[1]
    if sys.argv[2] == "--args":
        return check_args(protein, sys.argv[3], sys.argv[4:])
    path = sys.argv[2]
    only = sys.argv[3] if len(sys.argv) > 3 else None
    cmd = [protein, "config", path]
    run = subprocess.run(cmd, capture_output=True, text=True)
    want, settings, who = expected(path, only, run.stderr)
    print(f"{path}: checked by {who}")
    if want is None:
        ok, why = settings
        if run.returncode == 2 and ok:
            print(f"{path}: refused by both: {why}; protein: "
                  f"{run.stderr.strip()}")
            return 0
        print(f"{path}: {why}; protein said: {run.stderr.strip()}")
        return 1
    if run.returncode != 0:
        print(f"{path}: protein refused it: {run.stderr}")
        return 1
    got = yaml.safe_load(run.stdout)
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
        # a uniform parameter handed out as integers is protein's int_uniform
        kind = "int_uniform" if p["distribution"] == "uniform" and \
            p["integer"] else p["distribution"]
        if q["distribution"] != kind:
            bad.append(f"{p['name']}: {q['distribution']} != {kind}")
        if kind == "log_uniform_values" and bool(q.get("integer")) != p["integer"]:
            bad.append(f"{p['name']}: integer {bool(q.get('integer'))}, but "
                       f"PufferLib's CLI parses it as "
                       f"{'an int' if p['integer'] else 'a float'}")
        if p["mean"] is not None and not math.isclose(float(q["default"]),
                                                      p["mean"], rel_tol=1e-12):
            bad.append(f"{p['name']}.mean: {q.get('default')} != {p['mean']}")
    if got["metric"]["name"] != str(settings["metric"]):
        bad.append(f"metric {got['metric']['name']} != {settings['metric']}")
    if got["metric"]["goal"] != settings["goal"]:
        bad.append(f"goal {got['metric']['goal']} != {settings['goal']}")
    if (got["metric"].get("distribution") == "percentile") != settings["percentile"]:
        bad.append("metric_distribution differs")
    if int(got["protein"]["downsample"]) != int(settings["downsample"]):
        bad.append(f"downsample {got['protein']['downsample']} != "
                   f"{settings['downsample']}")
    for b in bad:
        print(f"{path}: {b}")
    if not bad:
        print(f"{path}: {len(want)} parameters as PufferLib reads them")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
