#!/bin/sh
# Creates tests/bench/peers/.venv (git-ignored) and installs the real peers
# from PyPI: optuna (GPSampler needs torch and scipy), pufferlib (its Protein
# in pufferlib/sweep.py), coco-experiment (cocoex, BBOB), scikit-learn, numpy.
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
"$venv/bin/python" -c 'import optuna, torch, scipy, sklearn, cocoex, numpy, pufferlib.sweep; print("peers venv ready:", "optuna", optuna.__version__, "torch", torch.__version__, "sklearn", sklearn.__version__, "pufferlib", pufferlib.__version__)'
