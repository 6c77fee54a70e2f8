#!/bin/sh
# Creates tests/bench/peers/.venv (git-ignored) and installs the real peers
# from PyPI: optuna (GPSampler needs torch and scipy), pufferlib (its Protein
# in pufferlib/sweep.py), W&B's sweep engine (sweeps: `method: bayes`),
# coco-experiment (cocoex, BBOB), scikit-learn, numpy, and Meta's Ax
# (ax-platform, pinned; it brings BoTorch and GPyTorch).
# Usage: tests/bench/peers/setup.sh            (idempotent; rerun to repair)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"
py=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
pip="$venv/bin/python -m pip"
$pip install -q --upgrade pip setuptools wheel
# PyPI has no CPU-only torch under the name torch: the plain wheel it is.
$pip install -q -r "$here/requirements.txt"
# pufferlib 3.0.0 is an sdist whose build downloads raylib and compiles its
# environments; the harness only needs pufferlib/sweep.py (Protein), so the
# sdist is fetched from PyPI with pip and its sweep module installed alone.
"$venv/bin/python" "$here/install_pufferlib_sweep.py" "$venv"
# W&B's sweep engine (`sweeps`, what wandb[sweeps] installs for the local
# controller) pins numpy<2, which torch and optuna here are past; it runs
# on numpy 2, so it is installed without its pins (its other requirements
# are in requirements.txt).
$pip install -q --no-deps sweeps==0.3.0
"$venv/bin/python" -c 'import optuna, torch, scipy, sklearn, cocoex, numpy, pufferlib.sweep, sweeps, ax, botorch; print("peers venv ready:", "optuna", optuna.__version__, "ax", ax.__version__, "botorch", botorch.__version__, "sweeps", sweeps.__version__, "torch", torch.__version__, "sklearn", sklearn.__version__, "pufferlib", pufferlib.__version__)'
