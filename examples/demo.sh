#!/bin/bash
# demo.sh - the README's main job: a protein sweep on Slurm, end to end.
#
#   examples/demo.sh            (as root on a Debian 12 machine with the
#                                packages of .ci/install-deps)
#
# 1. builds protein (out of tree, in $PROTEIN_BUILDDIR, default ./build)
#    unless it is built already;
# 2. starts a private one-node Slurm cluster with the freshly built
#    spank_protein.so and a private Redis (tests/e2e/cluster.sh), unless
#    PROTEIN_REDIS is set and `sinfo` answers: then it uses those (the
#    plugin must already be installed there);
# 3. creates the sweep of examples/sweeps/quadratic.yaml (named
#    demo-quadratic-PID), starts proteind for it;
# 4. submits examples/train.sbatch as a 32-task array, 8 at a time, and
#    shows progress until every task is done;
# 5. prints `protein status` (proteind's last refit), how many trials
#    took fallback points instead of the model's, `protein best`, and
#    writes the plot to demo-quadratic.svg;
# 6. stops what it started.
#
# The private cluster listens on loopback ports 6390 (Redis), 6817
# (slurmctld) and 6818 (slurmd) and keeps its files in
# ${TMPDIR:-/tmp}/protein-demo; where those are taken (another cluster, a
# second demo), set PROTEIN_E2E_REDIS_PORT, PROTEIN_E2E_SLURMCTLD_PORT,
# PROTEIN_E2E_SLURMD_PORT and PROTEIN_E2E_DIR (tests/e2e/cluster.sh reads
# them). DEMO_TASKS and DEMO_PARALLEL set the array (default 32, 8 at once).
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${PROTEIN_BUILDDIR:-$SRC/build}
TASKS=${DEMO_TASKS:-32}
PARALLEL=${DEMO_PARALLEL:-8}
SWEEP=demo-quadratic-$$
started_cluster=0
proteind_pid=

say() { printf '\n== %s\n' "$*"; }

cleanup() {
    [ -n "$proteind_pid" ] && kill "$proteind_pid" 2>/dev/null && wait "$proteind_pid" 2>/dev/null
    [ $started_cluster -eq 1 ] && top_builddir=$B "$SRC/tests/e2e/cluster.sh" down
    return 0
}
trap cleanup EXIT

if [ ! -x "$B/cli/protein" ] || [ ! -x "$B/coordinator/proteind" ] ||
   [ ! -x "$B/examples/objective" ]; then
    say "building protein in $B"
    [ -x "$SRC/configure" ] || (cd "$SRC" && ./autogen.sh)
    mkdir -p "$B"
    (cd "$B" && { [ -f Makefile ] || "$SRC/configure" -q; } && make -j"$(nproc)" -s)
fi
PROTEIN=$B/cli/protein

if [ -n "${PROTEIN_REDIS:-}" ] && sinfo -h > /dev/null 2>&1; then
    say "using the running cluster and Redis at $PROTEIN_REDIS"
else
    say "starting a local Slurm cluster and Redis"
    export PROTEIN_E2E_DIR=${PROTEIN_E2E_DIR:-${TMPDIR:-/tmp}/protein-demo}
    started_cluster=1
    top_builddir=$B "$SRC/tests/e2e/cluster.sh" up > /dev/null || {
        rc=$?
        [ $rc -eq 77 ] && echo "demo.sh: cannot start the local cluster (see above)" >&2
        started_cluster=0
        exit 1
    }
    . "$PROTEIN_E2E_DIR/env.sh"
fi

say "creating sweep $SWEEP from examples/sweeps/quadratic.yaml"
"$PROTEIN" create "$SRC/examples/sweeps/quadratic.yaml" --name "$SWEEP" \
    --redis "$PROTEIN_REDIS"

say "starting proteind"
"$B/coordinator/proteind" --redis "$PROTEIN_REDIS" --sweep "$SWEEP" \
    > "${PROTEIN_E2E_DIR:-/tmp}/proteind.$SWEEP.log" 2>&1 &
proteind_pid=$!

say "submitting $TASKS tasks, $PARALLEL at a time"
out=${PROTEIN_E2E_DIR:-$PWD}/demo-out
mkdir -p "$out"
chmod 1777 "$out"
job=$(cd "$SRC" && PROTEIN_OBJECTIVE=$B/examples/objective \
    sbatch --parsable --array="0-$((TASKS - 1))%$PARALLEL" --sweep="$SWEEP" \
    --output="$out/train_%A_%a.out" examples/train.sbatch)
echo "job $job"

while [ -n "$(squeue -h -j "$job" 2>/dev/null)" ]; do
    "$PROTEIN" status "$SWEEP" --redis "$PROTEIN_REDIS" 2>/dev/null |
        sed -n 's/^trials: /  /p'
    sleep 2
done

say "sweep status"
"$PROTEIN" status "$SWEEP" --redis "$PROTEIN_REDIS"
# Each task's first line names its trial, marked when proteind had no
# point ready and the claim took one of the pre-drawn fallback points.
echo "trials on fallback points (not the model's): $(cat "$out"/train_"$job"_*.out |
    grep -c '^protein: sweep .*(fallback point)')"

say "best trials"
"$PROTEIN" best "$SWEEP" --redis "$PROTEIN_REDIS"
"$PROTEIN" plot "$SWEEP" --out "$PWD/demo-quadratic.svg" --redis "$PROTEIN_REDIS" &&
    echo "plot: $PWD/demo-quadratic.svg"
