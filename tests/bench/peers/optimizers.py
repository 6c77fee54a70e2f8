"""The optimizers compared, each driven the way its users drive it.

Every runner takes (problem, trials, parallel, seed) and returns the list of
finished trials in the order the optimizer was told about them (completion
order), each {"params", "score", "cost", "finish"}: `finish` is the trial's
completion time on the run's simulated clock: a trial asked at t finishes
at t + cost (protein's trials are held until then; see run_protein).

Parallel mode for the Python peers is ask-ahead: `parallel` trials are
asked and not yet told; the one that finishes first (smallest simulated
finish time, ties in ask order) is told, and a new one is asked.
"""
import concurrent.futures
import contextlib
import functools
import heapq
import io
import json
import math
import os
import random
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))


def _ask_ahead(problem, trials, parallel, seed, ask, tell):
    """Runs `trials` trials with at most `parallel` asked-but-not-told.
    ask() -> (handle, params); tell(handle, params, score, cost, curve)."""
    pending, done, clock, asked = [], [], 0.0, 0
    while len(done) < trials:
        while asked < trials and len(pending) < parallel:
            handle, params = ask()
            score, cost, curve = problem.evaluate(params, seed)
            heapq.heappush(pending, (clock + cost, asked, handle, params, score, cost, curve))
            asked += 1
        finish, _, handle, params, score, cost, curve = heapq.heappop(pending)
        clock = finish
        tell(handle, params, score, cost, curve)
        done.append({"params": params, "score": score, "cost": cost, "finish": finish})
    return done


# ---------------------------------------------------------------- random

def run_random(problem, trials, parallel, seed):
    rng = random.Random(seed)

    def sample(p):
        if p.kind == "float":
            return rng.uniform(p.low, p.high)
        if p.kind == "log":
            return math.exp(rng.uniform(math.log(p.low), math.log(p.high)))
        if p.kind == "int":
            return rng.randint(p.low, p.high)
        if p.kind == "pow2":
            return 2 ** rng.randint(int(math.log2(p.low)), int(math.log2(p.high)))
        return rng.choice(p.choices)

    space = problem.space()
    return _ask_ahead(problem, trials, parallel, seed,
                      lambda: (None, {p.name: sample(p) for p in space}),
                      lambda *a: None)


# ---------------------------------------------------------------- optuna

def _optuna_runner(make_sampler):
    def run(problem, trials, parallel, seed):
        import optuna
        from optuna.distributions import (CategoricalDistribution,
                                          FloatDistribution, IntDistribution)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        dists = {}
        for p in problem.space():
            if p.kind in ("float", "log"):
                dists[p.name] = FloatDistribution(p.low, p.high, log=p.kind == "log")
            elif p.kind == "int":
                dists[p.name] = IntDistribution(p.low, p.high)
            elif p.kind == "pow2":
                # the exponent: Optuna has no power-of-two distribution
                dists[p.name] = IntDistribution(int(math.log2(p.low)), int(math.log2(p.high)))
            else:
                dists[p.name] = CategoricalDistribution(p.choices)
        pow2 = {p.name for p in problem.space() if p.kind == "pow2"}
        study = optuna.create_study(direction=problem.goal,
                                    sampler=make_sampler(optuna, seed, parallel))

        def ask():
            t = study.ask(dists)
            params = {k: (2 ** v if k in pow2 else v) for k, v in t.params.items()}
            return t, params

        def tell(t, params, score, cost, curve):
            study.tell(t, score)

        return _ask_ahead(problem, trials, parallel, seed, ask, tell)
    return run


run_optuna_gp = _optuna_runner(lambda optuna, seed, par: optuna.samplers.GPSampler(seed=seed))
run_optuna_tpe = _optuna_runner(lambda optuna, seed, par: optuna.samplers.TPESampler(
    seed=seed, multivariate=True, constant_liar=True))


# ---------------------------------------------------------------- Ax

def run_ax(problem, trials, parallel, seed):
    """Meta's Ax (ax-platform 1.3.1, BoTorch underneath) through its main
    API, ax.Client, as its documentation drives it: configure_experiment
    with typed parameters (float ranges, log-scaled where the problem's
    axis is log, int ranges, an ordered int choice for a power-of-two
    axis, an unordered str choice for a categorical), configure_optimization
    with the score ("-score" to minimize), then get_next_trials(1) for each
    trial and complete_trial with its score; the trials asked and not yet
    completed stay RUNNING, and Ax takes them as pending points. Client
    seeded with random_seed=S. Ax's default generation strategy (centre,
    Sobol to 5 trials, then BoTorch's modular model with its defaults) with
    two settings: initialization_random_seed=S for the Sobol points, and
    allow_exceeding_initialization_budget=True. By default the Sobol step
    hands out no more than its 5 initialization trials until 2 results are
    in (get_next_trials raises DataRequiredError); a user running 16
    workers sets this to keep them busy: further Sobol points until 2
    trials have completed, then BoTorch. Sequentially it changes
    nothing."""
    import logging
    from ax.api.client import Client
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
    from ax.utils.common.logger import set_ax_logger_levels
    set_ax_logger_levels(logging.WARNING)
    space = problem.space()
    parameters = []
    for p in space:
        if p.kind in ("float", "log"):
            parameters.append(RangeParameterConfig(
                name=p.name, bounds=(float(p.low), float(p.high)), parameter_type="float",
                scaling="log" if p.kind == "log" else "linear"))
        elif p.kind == "int":
            parameters.append(RangeParameterConfig(
                name=p.name, bounds=(p.low, p.high), parameter_type="int"))
        elif p.kind == "pow2":
            parameters.append(ChoiceParameterConfig(
                name=p.name, parameter_type="int", is_ordered=True,
                values=[2 ** e for e in range(int(math.log2(p.low)), int(math.log2(p.high)) + 1)]))
        else:
            parameters.append(ChoiceParameterConfig(
                name=p.name, values=list(p.choices), parameter_type="str", is_ordered=False))
    client = Client(random_seed=seed)
    client.configure_experiment(parameters=parameters, name="bench-%s" % problem.name)
    client.configure_optimization(objective="score" if problem.goal == "maximize" else "-score")
    client.configure_generation_strategy(allow_exceeding_initialization_budget=True,
                                         initialization_random_seed=seed)

    def ask():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BoTorch's numerical and input warnings
            new = client.get_next_trials(max_trials=1)
        if len(new) != 1:
            raise RuntimeError("Ax gave %d trials, not 1" % len(new))
        (index, values), = new.items()
        return index, {p.name: p.typed(values[p.name]) for p in space}

    def tell(index, params, score, cost, curve):
        client.complete_trial(trial_index=index, raw_data={"score": float(score)})

    return _ask_ahead(problem, trials, parallel, seed, ask, tell)


# ---------------------------------------------------------------- W&B

def run_wandb_bayes(problem, trials, parallel, seed):
    """W&B's Bayesian search (`method: bayes`) as `wandb sweep`'s local
    controller runs it: the `sweeps` package from PyPI (0.3.0, what
    `pip install wandb[sweeps]` brings; W&B's server runs the same
    engine), asked with sweeps.next_run(config, runs) for every
    suggestion, given every run of the sweep: the finished ones with their
    metric in the summary, the ones still running in state `running`
    (it takes them as points in flight). The parameters are written as a
    W&B user writes them: uniform, log_uniform_values, int_uniform, and
    `values` for a categorical and for a power-of-two axis (a batch size).
    The engine draws from numpy's global generator, seeded once per run."""
    import numpy as np
    import sweeps
    space = problem.space()
    params = {}
    for p in space:
        if p.kind == "cat":
            params[p.name] = {"values": list(p.choices)}
        elif p.kind == "pow2":
            params[p.name] = {"values": [2 ** e for e in range(int(math.log2(p.low)),
                                                             int(math.log2(p.high)) + 1)]}
        else:
            dist = {"float": "uniform", "log": "log_uniform_values", "int": "int_uniform"}[p.kind]
            params[p.name] = {"distribution": dist, "min": p.low, "max": p.high}
    config = {"method": "bayes", "metric": {"name": "score", "goal": problem.goal},
              "parameters": params}
    np.random.seed(seed)
    runs = []

    def ask():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's GP fit warnings
            suggestion = sweeps.next_run(config, runs)
        values = {k: v["value"] for k, v in suggestion.config.items()}
        runs.append(sweeps.SweepRun(name="run-%d" % len(runs), state=sweeps.RunState.running,
                                    config=suggestion.config))
        return len(runs) - 1, {p.name: p.typed(values[p.name]) for p in space}

    def tell(index, params, score, cost, curve):
        runs[index] = sweeps.SweepRun(name=runs[index].name, state=sweeps.RunState.finished,
                                      config=runs[index].config,
                                      summary_metrics={"score": score})

    return _ask_ahead(problem, trials, parallel, seed, ask, tell)


# ---------------------------------------------------------------- pufferlib

# PufferLib 3.0.0's distribution for each numeric kind of problems.py
PUFFER_DISTRIBUTIONS = {"float": "uniform", "log": "log_normal", "int": "int_uniform",
                        "pow2": "uniform_pow2"}


def run_pufferlib(problem, trials, parallel, seed, choice_shift=0):
    """PufferLib 3.0.0's Protein, driven as pufferlib/pufferl.py's sweep()
    drives it: reseed random/numpy/torch before each suggest, suggest(args)
    fills the nested config in place, then observe(args, score, cost) once
    per point of the run's downsampled training curve with
    train/total_timesteps set to that point's timesteps. Categoricals are
    int_uniform indices (3.0.0 has no categorical distribution); a minimize
    goal is given as maximize of -score, since its Pareto front takes higher
    as better. Search centres (mean) are the midpoints of the (log) ranges,
    scale 'auto' except the timesteps axis, 'time' as in PufferLib's
    configs. choice_shift moves each categorical's centre that many choices
    on (search_centre).

    Pyro keeps GP hyperparameters in one global store, by name, so a second
    run in the same process would start from the first run's fitted
    hyperparameters (or fail when the two spaces differ in size); PufferLib
    runs one sweep per process, so each run here starts with an empty
    store."""
    import numpy as np
    import pyro
    import torch
    with contextlib.redirect_stdout(io.StringIO()):
        import pufferlib.sweep as psweep
    torch.set_num_threads(1)
    pyro.clear_param_store()
    space = problem.space()
    sign = 1.0 if problem.goal == "maximize" else -1.0
    cfg = {"method": "Protein", "metric": "score", "goal": "maximize", "downsample": 5}
    params_cfg = {}
    for p in space:
        centre = search_centre(p, choice_shift)
        if p.kind == "cat":
            d = dict(distribution="int_uniform", min=0, max=len(p.choices) - 1,
                     mean=p.choices.index(centre))
        else:
            d = dict(distribution=PUFFER_DISTRIBUTIONS[p.kind], min=p.low, max=p.high,
                     mean=centre)
        d["scale"] = "time" if p.name == "total_timesteps" else "auto"
        params_cfg[p.name] = d
    cfg["train"] = params_cfg
    with contextlib.redirect_stdout(io.StringIO()):
        sweep = psweep.Protein(cfg)
    args = {"train": {p.name: None for p in space}}
    counter = [0]

    def decode(train):
        out = {}
        for p in space:
            v = train[p.name]
            out[p.name] = p.choices[int(round(v))] if p.kind == "cat" else p.typed(v)
        return out

    def ask():
        s = (seed * 1000003 + counter[0]) & 0xFFFFFFFF
        counter[0] += 1
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)
        with contextlib.redirect_stdout(io.StringIO()):
            sweep.suggest(args)
        train = dict(args["train"])
        return train, decode(train)

    def tell(train, params, score, cost, curve):
        points = curve if curve else [(1.0, score, cost)]
        for frac, s, c in points:
            obs = {"train": dict(train)}
            if "total_timesteps" in train and curve:
                obs["train"]["total_timesteps"] = frac * train["total_timesteps"]
            sweep.observe(obs, sign * s, c)

    return _ask_ahead(problem, trials, parallel, seed, ask, tell)


# ---------------------------------------------------------------- protein

# Points of a curve problem's training curve (problems.py): protein's
# downsample is one more, so that it keeps them all, as PufferLib is given.
CURVE_POINTS = 5


def search_centre(p, choice_shift=0):
    """PufferLib's search centre of parameter p as the harness gives it to
    PufferLib's Protein (its `mean`): the midpoint of the range (of the
    log range for log and power-of-two axes), the middle choice of a
    categorical (by name), or the choice choice_shift places after it
    (cyclically)."""
    if p.kind == "float":
        return (p.low + p.high) / 2
    if p.kind == "log":
        return math.sqrt(p.low * p.high)
    if p.kind == "int":
        return (p.low + p.high) // 2
    if p.kind == "pow2":
        return 2 ** round((math.log2(p.low) + math.log2(p.high)) / 2)
    return p.choices[((len(p.choices) - 1) // 2 + choice_shift) % len(p.choices)]


def _protein_yaml(problem, seed, curve, centre=False, cost_param=False):
    lines = ["name: bench-%s" % problem.name, "method: protein",
             "metric:", "  name: score", "  goal: %s" % problem.goal,
             "seed: %d" % seed, "parameters:"]
    for p in problem.space():
        lines.append("  %s:" % p.name)
        if centre:
            # the same first point PufferLib's Protein starts from
            lines.append("    default: %s" % search_centre(p))
        if p.kind == "cat":
            lines.append("    values: [%s]" % ", ".join(p.choices))
            continue
        dist = {"float": "uniform", "log": "log_uniform_values", "int": "int_uniform",
                "pow2": "uniform_pow2"}[p.kind]
        lines += ["    distribution: %s" % dist, "    min: %r" % p.low, "    max: %r" % p.high]
    if cost_param and problem.cost_axis and not (curve and problem.has_curve):
        # as a PufferLib config names train/total_timesteps by default
        lines.append("cost_param: %s" % problem.cost_axis)
    if curve and problem.has_curve:
        # as PufferLib is given them: the run's curve points, each observed
        # with the timesteps axis (the cost parameter) at that point
        lines += ["cost_param: total_timesteps", "protein:", "  downsample: %d" % (CURVE_POINTS + 1)]
    return "\n".join(lines) + "\n"


class _EvalServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 64  # the 16 first trials connect at once


# A parallel protein run whose next trial has not arrived this long after
# the last release is missing one (a trial that failed to start): the
# harness then releases the earliest pending trial anyway.
STALL_SECONDS = 20.0


def run_protein(problem, trials, parallel, seed, protein=None, curve=False,
                centre=False, cost_param=False):
    """`protein run` of a generated sweep YAML with --parallel; each trial is
    trial_client.sh, which asks this process (over loopback TCP) to evaluate
    its PROTEIN_PARAMS and writes score= and cost= to PROTEIN_RESULT (with
    curve=True, a curve problem's points first, as step=/cost=/score=
    progress lines, and the sweep observes them: `downsample`, with
    total_timesteps as its cost parameter; with cost_param=True, the
    problem's cost axis as cost_param, without the curve).

    The trials run on the same simulated clock as the Python peers'
    ask-ahead: a trial asked at t finishes at t + cost. The reply to a
    trial is held back until every slot is busy (`parallel` trials asked
    and not released, or every trial asked); then the one with the
    smallest simulated finish time (ties in launch order, $PROTEIN_TRIAL)
    is released, the clock moves to its finish, and protein observes it
    and starts the next. So protein sees results in the peers' completion
    order whatever its start-up and suggestion times are.

    Every trial is evaluated in one long-lived thread, as a Python peer
    evaluates its trials in its one thread: a cost-aware problem's cost is
    the CPU seconds of the evaluating thread, and scikit-learn's first fit
    in a thread pays a set-up that a thread per trial paid every time (the
    lasso on diabetes: 0.0096 s in a new thread, 0.0082 s in a warm one)."""
    protein = protein or os.environ.get("PROTEIN") or os.path.join(
        HERE, "..", "..", "..", "build", "cli", "protein")
    done, cond = [], threading.Condition()
    state = {"clock": 0.0, "asked": 0, "pending": [], "released": set(),
             "changed": time.monotonic()}
    types = {p.name: p for p in problem.space()}

    def release(force=False):
        # called with cond held: releases trials while every slot is busy;
        # force releases one anyway (a trial that never reached us, e.g. one
        # that failed to start, would otherwise leave its slot idle forever)
        pending = state["pending"]
        while pending and (force or len(pending) >= parallel or state["asked"] >= trials):
            finish, launch, params, score, cost = heapq.heappop(pending)
            state["clock"] = finish
            state["released"].add(launch)
            done.append({"params": params, "score": score, "cost": cost, "finish": finish})
            force = False
        state["changed"] = time.monotonic()
        cond.notify_all()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            params = json.loads(self.rfile.readline())
            launch = int(self.rfile.readline())  # protein's launch order
            for k, p in types.items():
                params[k] = p.typed(params[k])
            with cond:
                score, cost, points = evaluator.submit(problem.evaluate, params, seed).result()
                state["asked"] += 1
                heapq.heappush(state["pending"],
                               (state["clock"] + cost, launch, params, score, cost))
                release()
                while launch not in state["released"]:
                    cond.wait(1.0)
                    if time.monotonic() - state["changed"] > STALL_SECONDS:
                        sys.stderr.write("protein %s seed %d: no trial for %g s, one "
                                         "released early (a trial failed?)\n"
                                         % (problem.name, seed, STALL_SECONDS))
                        release(force=True)
            reply = "%r %r" % (float(score), float(cost))
            for frac, s, c in (points or []) if curve else []:
                reply += " %r %r %r" % (frac * params["total_timesteps"], float(s), float(c))
            self.wfile.write((reply + "\n").encode())

    with tempfile.TemporaryDirectory(prefix="peers-protein-") as tmp:
        cfg = os.path.join(tmp, "sweep.yaml")
        with open(cfg, "w") as f:
            f.write(_protein_yaml(problem, seed, curve, centre, cost_param))
        evaluator = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        server = _EvalServer(("127.0.0.1", 0), Handler)
        th = threading.Thread(target=server.serve_forever, daemon=True)
        th.start()
        try:
            cmd = [protein, "run", cfg, "--trials", str(trials), "--parallel", str(parallel),
                   "--seed", str(seed), "--", os.path.join(HERE, "trial_client.sh"),
                   str(server.server_address[1])]
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                raise RuntimeError("protein run failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
        finally:
            server.shutdown()
            server.server_close()
            evaluator.shutdown()
    return done


# A runner's revision: a cached run made by an older revision is not reused.
# pufferlib 2: each run starts with an empty Pyro parameter store (runs made
# before shared it with the runs before them in the same worker process).
RUNNER_REVISION = {"pufferlib": 2, "pufferlib-shifted": 2}

RUNNERS = {
    "protein": run_protein,
    "optuna-gp": run_optuna_gp,
    "optuna-tpe": run_optuna_tpe,
    "pufferlib": run_pufferlib,
    # A diagnostic: the centre's categorical choices moved one on (rl's
    # middle optimizer, adam, the best one, becomes rmsprop).
    "pufferlib-shifted": functools.partial(run_pufferlib, choice_shift=1),
    "wandb-bayes": run_wandb_bayes,
    "ax": run_ax,
    "random": run_random,
}
