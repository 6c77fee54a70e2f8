#!/bin/bash
# bench_turn_calls.sh - the Redis commands a proteind turn sends with
# --slurm on, on the private one-node cluster of tests/e2e/cluster.sh
# (root only).
#
#   tests/bench/bench_turn_calls.sh [PROTEIND...]   (default: the build's)
#
# Creates one sweep, starts JOBS (default 4) jobs of 400 s holding its
# trials under a fixed 4 s lease (so that proteind renews each about once
# a lease), then runs each PROTEIND in turn for TURN_SECONDS (default 30) with
# --slurm on while `redis-cli MONITOR` records what clients send (the
# functions' own redis.call lines left out). Prints per proteind its turns
# (its XREADs of the sweep's observations), the calls of each function,
# and the FCALLs and commands a turn. Naming another build's proteind
# compares the two on the same cluster and jobs. Needs the built plugin,
# `protein create` (cli/protein) and proteind.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$(cd "$HERE/../.." && pwd)}
B=${top_builddir:-${PROTEIN_BUILDDIR:-$(pwd)}}
export top_builddir=$B
export PROTEIN_E2E_DIR=${PROTEIN_E2E_DIR:-${TMPDIR:-/tmp}/protein-bench.$$}
CLUSTER=$SRC/tests/e2e/cluster.sh
JOBS=${JOBS:-4} SECONDS_EACH=${TURN_SECONDS:-30}
[ $# -gt 0 ] || set -- "$B/coordinator/proteind"

[ -x "$B/cli/protein" ] || { echo "bench_turn_calls: needs $B/cli/protein (build it first)" >&2; exit 77; }
"$CLUSTER" up > /dev/null
trap '"$CLUSTER" down; rm -rf "$PROTEIN_E2E_DIR"' EXIT
. "$PROTEIN_E2E_DIR/env.sh"
D=$PROTEIN_E2E_DIR
RCLI="redis-cli -p ${PROTEIN_REDIS##*:}"
mkdir -p "$D/out"

"$CLUSTER" plugstack lease=4
sed -e 's/^max_trials: .*/max_trials: 1000/' \
    "$SRC/examples/sweeps/quadratic.yaml" > "$D/turns.yaml"
"$B/cli/protein" create "$D/turns.yaml" --name turns --redis "$PROTEIN_REDIS" > /dev/null
printf '#!/bin/sh\nsleep 400\necho score=1 >> "$PROTEIN_RESULT"\n' > "$D/out/job.sh"
for i in $(seq "$JOBS"); do
    sbatch --parsable --sweep=turns -o "$D/out/job$i.out" "$D/out/job.sh" > /dev/null
done
sleep 8 # the jobs claim their trials

n=0
for bin in "$@"; do
    n=$((n + 1))
    "$bin" --redis "$PROTEIN_REDIS" --sweep turns --slurm on > "$D/proteind.$n.log" 2>&1 &
    pid=$!
    sleep 5 # start-up: the model built, the functions loaded
    timeout "$SECONDS_EACH" $RCLI monitor > "$D/monitor.$n.txt" || true
    kill "$pid"
    wait "$pid" 2> /dev/null || true
    grep '^[0-9]' "$D/monitor.$n.txt" | grep -v 'lua\]' > "$D/sent.$n.txt" || true
    turns=$(grep -c '"XREAD"' "$D/sent.$n.txt" || true)
    echo "$bin: $turns turns in $SECONDS_EACH s"
    for f in protein_due protein_demand protein_expire protein_extend; do
        echo "  $f: $(grep -c "\"$f\"" "$D/sent.$n.txt" || true)"
    done
    awk -v turns="$turns" '/"FCALL/ { f++ } { c++ } END {
        if (turns > 0) printf "  FCALLs a turn: %.2f  commands a turn: %.2f\n", f / turns, c / turns }' \
        "$D/sent.$n.txt"
done
