#!/bin/bash
# bench_agents.sh - one proteind serving many sweeps, fed by `protein
# agent`s on this machine (no Slurm): what proteind costs per trial and
# whether its claims stay served by the model.
#
#   bench_agents.sh [--sweeps 6] [--agents 1] [--sleep 1] [--seconds 120]
#                   [--runs 3] [--port 27650]
#
# Each run starts a private redis-server on --port, creates --sweeps sweeps
# of eight parameters (no budget), one proteind, and --agents agents per
# sweep whose trial sleeps --sleep seconds and writes a score; after
# --seconds it stops them and prints the trials run, proteind's refit and
# top-up lines per trial (each is a GP fit), its CPU seconds per trial,
# the coordinator leases that lapsed, and the claims past each sweep's
# first 16 trials that took a fallback point (the model's points should
# serve them all). The last line holds the medians over the runs.
# --agents 0 leaves the sweeps idle (lease lapses only).
# Needs redis-server, python3 and the build (top_builddir or PROTEIN_BUILDDIR,
# default the current directory).
set -u

SWEEPS=6 AGENTS=1 SLEEP=1 SECONDS_=120 RUNS=3 PORT=27650
while [ $# -gt 0 ]; do
    case $1 in
    --sweeps) SWEEPS=$2; shift 2 ;;
    --agents) AGENTS=$2; shift 2 ;;
    --sleep) SLEEP=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    *) echo "bench_agents.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
B=${PROTEIN_BUILDDIR:-${top_builddir:-.}}
PROTEIN=$B/cli/protein PROTEIND=$B/coordinator/proteind
[ -x "$PROTEIN" ] && [ -x "$PROTEIND" ] ||
    { echo "bench_agents.sh: no build in $B (set PROTEIN_BUILDDIR)" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "bench_agents.sh: SKIP: no redis-server"; exit 77; }
export OPENBLAS_NUM_THREADS=1 PROTEIN_REDIS=redis://127.0.0.1:$PORT
user=$(id -un)

one_run() {
    local d pd i j trials=0 fallback=0 n cpu lapses fits
    d=$(mktemp -d "${TMPDIR:-/tmp}/bench_agents.XXXXXX")
    redis-server --port "$PORT" --save "" --appendonly no --daemonize yes \
        --dir "$d" --logfile "$d/redis.log"
    sleep 0.5
    cat >"$d/s.yaml" <<EOF
metric: {name: score, goal: maximize}
parameters:
  x: {distribution: uniform, min: -2, max: 2}
  y: {distribution: uniform, min: -2, max: 2}
  a: {distribution: uniform, min: 0, max: 1}
  b: {distribution: uniform, min: 0, max: 1}
  c: {distribution: uniform, min: 0, max: 1}
  d: {distribution: uniform, min: 0, max: 1}
  lr: {distribution: log_uniform_values, min: 1e-5, max: 1e-1}
  k: {values: [p, q, r]}
EOF
    cat >"$d/trial.sh" <<EOF
#!/bin/sh
sleep $SLEEP
echo "score=\$(awk -v x="\$PROTEIN_PARAM_X" 'BEGIN { print -x * x }')" >>"\$PROTEIN_RESULT"
EOF
    chmod +x "$d/trial.sh"
    for i in $(seq 1 "$SWEEPS"); do
        "$PROTEIN" create "$d/s.yaml" --name "b$i" >/dev/null
    done
    # on a GPU, the build tree's CUDA module unless one is named
    PROTEIN_CUDA_MODULE=${PROTEIN_CUDA_MODULE:-$B/kernels/.libs/protein-gp-cuda.so} \
        "$PROTEIND" --redis "$PROTEIN_REDIS" --log-level debug >"$d/proteind.log" 2>&1 &
    pd=$!
    for i in $(seq 1 "$SWEEPS"); do
        for j in $(seq 1 "$AGENTS"); do
            TMPDIR=$d "$PROTEIN" agent "b$i" -- "$d/trial.sh" >/dev/null 2>&1 &
        done
    done
    sleep "$SECONDS_"
    pkill -TERM -f "protein agent b[0-9]" 2>/dev/null
    sleep 2
    cpu=$(awk '{ print ($14 + $15) / 100 }' "/proc/$pd/stat")
    kill -TERM "$pd"
    wait "$pd" 2>/dev/null
    lapses=$(grep -c "lease lapsed" "$d/proteind.log")
    fits=$(grep -cE "proteind: (refit|topup) sweep=" "$d/proteind.log")
    for i in $(seq 1 "$SWEEPS"); do
        n=$(redis-cli -p "$PORT" hget "protein:{$user/b$i}:meta" n_trials)
        trials=$((trials + ${n:-0}))
        n=$("$PROTEIN" trials "b$i" --format json | python3 -c '
import json, sys
print(sum(1 for t in json.load(sys.stdin) if t["trial"] > 16 and t["fallback"]))')
        fallback=$((fallback + n))
    done
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1
    rm -rf "$d"
    awk -v t="$trials" -v f="$fits" -v c="$cpu" -v l="$lapses" -v fb="$fallback" 'BEGIN {
        printf "trials %d  fits/trial %.2f  proteind CPU s/trial %.4f  lease lapses %d  fallback after 16 %d\n",
               t, t ? f / t : 0, t ? c / t : 0, l, fb }'
}

out=$(mktemp)
for r in $(seq 1 "$RUNS"); do
    line=$(one_run)
    echo "run $r: $line"
    echo "$line" >>"$out"
done
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf 'median: trials %s  fits/trial %s  proteind CPU s/trial %s  lease lapses %s  fallback after 16 %s\n' \
    "$(awk '{ print $2 }' "$out" | median)" "$(awk '{ print $4 }' "$out" | median)" \
    "$(awk '{ print $8 }' "$out" | median)" "$(awk '{ print $11 }' "$out" | median)" \
    "$(awk '{ print $15 }' "$out" | median)"
rm -f "$out"
