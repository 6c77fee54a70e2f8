#!/bin/bash
# bench_task_start.sh - what --sweep adds to a task's start, on the private
# one-node cluster of tests/e2e/cluster.sh (root only).
#
#   tests/bench/bench_task_start.sh [N]      (N runs of each kind, default 50)
#
# Prints, for N `srun --sweep=bench-start true` steps and N plain
# `srun true` steps, the p50/p99 of their wall time, and the p50/p99 of the
# plugin's own claim + export time in slurmstepd (its "claimed and
# exported in X ms" lines in the slurmd log: connect, claim, result file,
# spank_setenv). Needs the built plugin and `protein create` (cli/protein).
set -eu

N=${1:-50}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$(cd "$HERE/../.." && pwd)}
B=${top_builddir:-${PROTEIN_BUILDDIR:-$(pwd)}}
export top_builddir=$B
export PROTEIN_E2E_DIR=${PROTEIN_E2E_DIR:-${TMPDIR:-/tmp}/protein-bench.$$}
CLUSTER=$SRC/tests/e2e/cluster.sh

[ -x "$B/cli/protein" ] || { echo "bench_task_start: needs $B/cli/protein (build it first)" >&2; exit 77; }
"$CLUSTER" up > /dev/null
trap '"$CLUSTER" down; rm -rf "$PROTEIN_E2E_DIR"' EXIT
. "$PROTEIN_E2E_DIR/env.sh"
D=$PROTEIN_E2E_DIR

sed -e 's/^name: .*/name: bench-start/' -e 's/^max_trials: .*/max_trials: 100000/' \
    "$SRC/examples/sweeps/quadratic.yaml" > "$D/bench.yaml"
"$B/cli/protein" create "$D/bench.yaml" --redis "$PROTEIN_REDIS" > /dev/null

# p50 and p99 (nearest rank) of the numbers on stdin, in ms.
percentiles() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "no samples"; exit }
        i50 = int(0.50 * NR + 0.999); i99 = int(0.99 * NR + 0.999)
        printf "p50 %.2f ms  p99 %.2f ms  (n=%d)\n", v[i50], v[i99], NR }'
}

# time_runs ARGS...: wall time (ms) of N `srun ARGS true`, one per line.
time_runs() {
    local i t0 t1
    for i in $(seq "$N"); do
        t0=$(date +%s%N)
        srun -Q "$@" true > /dev/null 2>&1
        t1=$(date +%s%N)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e6 }'
    done
}

srun -Q true                                # warm up the controller
time_runs > "$D/plain.ms"
time_runs --sweep=bench-start > "$D/sweep.ms"
grep -o 'protein: sweep bench-start trial [0-9]* claimed and exported in [0-9.]* ms' \
    "$D/log/slurmd.log" | awk '{ print $(NF - 1) }' > "$D/plugin.ms"

echo "srun true                     $(percentiles < "$D/plain.ms")"
echo "srun --sweep=bench-start true $(percentiles < "$D/sweep.ms")"
echo "plugin claim + export         $(percentiles < "$D/plugin.ms")"
