"""The fixed benchmark set: problems, trial budgets, seeds. Written before
anyone tuned protein against it; do not change it to suit an optimizer.

Half of the seeds (HELDOUT_SEEDS) and one problem family (HELDOUT_FAMILY)
are held back: run.py runs them only with --final, and reports them apart.
"""
import problems as P

TUNING_SEEDS = list(range(0, 10))
HELDOUT_SEEDS = list(range(100, 110))

# name -> (factory, trials)
PROBLEMS = {
    "rl": (P.RLShaped, 60),
    "mixed": (P.Mixed, 80),
    "bbob-f21-d2": (lambda: P.BBOB(21, 2), 40),
    "bbob-f8-d5": (lambda: P.BBOB(8, 5), 60),
    "bbob-f10-d10": (lambda: P.BBOB(10, 10), 80),
    # held-out family: bayesmark-style model tuning, real training time as
    # cost; sized (30 trials, small models) so that every optimizer's runs
    # fit the shared 2-core machine
    "sk-svm-breast_cancer": (lambda: P.SklearnTune("svm", "breast_cancer"), 30),
    "sk-rf-wine": (lambda: P.SklearnTune("rf", "wine"), 30),
    "sk-mlp-wine": (lambda: P.SklearnTune("mlp", "wine"), 30),
    "sk-gb-iris": (lambda: P.SklearnTune("gb", "iris"), 30),
    "sk-lasso-diabetes": (lambda: P.SklearnTune("lasso", "diabetes"), 30),
}

FAMILIES = {
    "rl": ["rl"],
    "mixed": ["mixed"],
    "bbob": ["bbob-f21-d2", "bbob-f8-d5", "bbob-f10-d10"],
    "sklearn": ["sk-svm-breast_cancer", "sk-rf-wine", "sk-mlp-wine",
                "sk-gb-iris", "sk-lasso-diabetes"],
}
HELDOUT_FAMILY = "sklearn"

OPTIMIZERS = ["protein", "optuna-gp", "optuna-tpe", "pufferlib", "pufferlib-shifted", "wandb-bayes",
              "ax", "random"]
# diagnostics, not peers: reported in the tables, left out of the verdict
DIAGNOSTIC_OPTIMIZERS = {"pufferlib-shifted"}
# the modes of the peer table; run.py takes any width (width_of)
MODES = {"seq": 1, "par16": 16}


def width_of(mode):
    """Trials in flight in a mode: 1 for "seq", N for "parN" (N >= 2);
    None for anything else. Widths other than the table's measure how a
    sweep's result changes with the number of trials it runs at once."""
    if mode == "seq":
        return 1
    if mode.startswith("par") and mode[3:].isdigit() and int(mode[3:]) >= 2:
        return int(mode[3:])
    return None


def family_of(problem):
    return next(f for f, names in FAMILIES.items() if problem in names)
