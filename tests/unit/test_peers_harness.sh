#!/bin/sh
# test_peers_harness.sh - the peer benchmark harness (tests/bench/peers/,
# docs/benchmarks.md) is whole in the source tree, a release tarball's
# included (make distcheck runs this in one): its README, requirements,
# setup and trial scripts are there, the scripts executable, and run.py
# imports every module of the harness (--help needs nothing but Python's
# own library, not the peers). Skips (77) without python3.
set -u
: "${top_srcdir:?run by make check}"
peers=$top_srcdir/tests/bench/peers
failed=0
for f in README.md requirements.txt setup.sh run.py benchset.py \
         install_pufferlib_sweep.py optimizers.py problems.py recost.py \
         report.py trial_client.sh; do
    if [ -f "$peers/$f" ]; then
        echo "ok: $f"
    else
        echo "FAIL: tests/bench/peers/$f is missing (EXTRA_DIST, tests/peers.am)"
        failed=1
    fi
done
for f in setup.sh run.py trial_client.sh; do
    if [ -f "$peers/$f" ] && [ ! -x "$peers/$f" ]; then
        echo "FAIL: tests/bench/peers/$f is not executable"
        failed=1
    fi
done
if ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP: python3 is not installed (run.py not tried)"
    [ $failed -eq 0 ] && exit 77
    exit $failed
fi
# no .venv to re-execute into, no bytecode written into the sources
if PEERS_NO_REEXEC=1 PYTHONDONTWRITEBYTECODE=1 python3 "$peers/run.py" \
    --help >/dev/null; then
    echo "ok: run.py --help (its modules import)"
else
    echo "FAIL: tests/bench/peers/run.py --help fails"
    failed=1
fi
exit $failed
