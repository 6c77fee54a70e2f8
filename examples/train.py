#!/usr/bin/env python3
"""train.py - a stand-in training program for a protein sweep (stdlib only).

It shows the environment contract from the program's side: the trial's
hyperparameters arrive as a JSON object in PROTEIN_PARAMS (also as
PROTEIN_PARAM_<NAME> variables and as --name=value in PROTEIN_ARGS), and the
program appends key=value lines to the file named by PROTEIN_RESULT:
`score=` (the sweep's metric) and optionally `cost=` and `step=`. The last
value of each key wins, so writing progress along the way is fine.

The "model" is the noisy quadratic of examples/sweeps/quadratic.yaml: the
best score (about 1.0) is at lr=1e-3, x=0.5, layers=4, optimizer=adam.
Without PROTEIN_RESULT (run by hand) it prints the lines instead.
"""
import json
import math
import os
import random
import sys


def score_of(params):
    """The same surface as examples/objective.c."""
    lr = float(params.get("lr", 1e-2))
    x = float(params.get("x", 0.0))
    layers = float(params.get("layers", 2))
    opt = str(params.get("optimizer", "adam"))
    if lr <= 0:
        lr = 1e-2
    penalty = {"adam": 0.0, "sgd": 0.15}.get(opt, 0.05)
    return (1.0 - ((math.log10(lr) + 3.0) / 2.0) ** 2
            - ((x - 0.5) / 2.0) ** 2 - ((layers - 4.0) / 4.0) ** 2 - penalty)


def main():
    params = json.loads(os.environ.get("PROTEIN_PARAMS", "{}"))
    trial = os.environ.get("PROTEIN_TRIAL", "0")
    rng = random.Random(int(trial) if trial.isdigit() else 0)
    score = score_of(params) + rng.gauss(0.0, 0.01)
    cost = 0.002 + 0.004 * abs(float(params.get("layers", 2)))
    lines = ["step=1", "score=%.17g" % score, "cost=%.17g" % cost]
    path = os.environ.get("PROTEIN_RESULT")
    if not path:
        print("\n".join(lines))
        return 0
    try:
        with open(path, "a", encoding="ascii") as f:
            f.write("\n".join(lines) + "\n")
    except OSError as e:
        print("train.py: cannot write %s: %s" % (path, e), file=sys.stderr)
        return 1
    print("trial %s: %s -> score %.4f" % (trial, json.dumps(params), score))
    return 0


if __name__ == "__main__":
    sys.exit(main())
