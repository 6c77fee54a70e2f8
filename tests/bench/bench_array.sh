#!/bin/bash
# bench_array.sh - a big Slurm array with --sweep against the same array
# without it, in the same run, on the private one-node cluster of
# tests/e2e/cluster.sh announcing --cpus CPUs, with one proteind serving.
#
#   bench_array.sh [--tasks 1000] [--throttle 64] [--cpus 64] [--dims 21]
#                  [--runs 3] [--sleep 0] [--sweeps 1]
#
# Each run submits `sbatch --array=0-(T-1)%P` of a task that sleeps
# --sleep seconds and writes a score (a quadratic bowl), first without
# --sweep (the baseline), then with --sweep on a fresh sweep of --dims
# uniform parameters and max_trials T. With --sweeps K it submits K such
# arrays at once, each with a sweep of its own, as K users sharing one
# proteind would (give --cpus K times the throttle). Per run it prints the
# wall times (submission to the last task's end, polled every 0.1 s) and
# their ratio, the share of fallback points, the distinct points (the
# fewest of any sweep), the claim wait p50 and p99 (the plugin's "claimed
# and exported in" lines), proteind's refits and suggestions per second
# of the sweep arrays, and CPU seconds per claim of Redis and of proteind.
# The last lines are the medians over the runs.
# The plugin runs with its default claim_timeout, 5 s.
# Needs root, Slurm's daemons and redis-server (exit 77 otherwise) and the
# build (top_builddir or PROTEIN_BUILDDIR, default the current directory).
set -u

TASKS=1000 THROTTLE=64 CPUS=64 DIMS=21 RUNS=3 SLEEP=0 SWEEPS=1
while [ $# -gt 0 ]; do
    case $1 in
    --tasks) TASKS=$2; shift 2 ;;
    --throttle) THROTTLE=$2; shift 2 ;;
    --cpus) CPUS=$2; shift 2 ;;
    --dims) DIMS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --sleep) SLEEP=$2; shift 2 ;;
    --sweeps) SWEEPS=$2; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "bench_array.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
B=${top_builddir:-${PROTEIN_BUILDDIR:-$(pwd)}}
export top_builddir=$B
export PROTEIN_E2E_DIR=${PROTEIN_BENCH_DIR:-${TMPDIR:-/tmp}/protein-bench-array.$$}
export PROTEIN_E2E_CPUS=$CPUS
CLUSTER=$HERE/../e2e/cluster.sh
PROTEIN=$B/cli/protein
PROTEIND=$B/coordinator/proteind
[ -x "$PROTEIN" ] && [ -x "$PROTEIND" ] || { echo "bench_array.sh: build first ($B)" >&2; exit 77; }

# The plugin's default claim_timeout (cluster.sh's tests use 2 s).
export PROTEIN_E2E_CLAIM_TIMEOUT=5
"$CLUSTER" up > /dev/null || exit $?
PROTEIND_PID=
cleanup() {
    [ -n "$PROTEIND_PID" ] && kill "$PROTEIND_PID" 2>/dev/null && wait "$PROTEIND_PID" 2>/dev/null
    "$CLUSTER" down
    rm -rf "$PROTEIN_E2E_DIR"
}
trap cleanup EXIT
. "$PROTEIN_E2E_DIR/env.sh"
D=$PROTEIN_E2E_DIR
RCLI="redis-cli -p ${PROTEIN_REDIS##*:}"
# wait_done
. "$HERE/../e2e/lib.sh"

"$PROTEIND" --redis "$PROTEIN_REDIS" --device cpu --log-level debug > "$D/log/proteind.log" 2>&1 &
PROTEIND_PID=$!

# The CLI and the jobs run as this user: a bare sweep name means $U/NAME.
U=$(id -un)
now() { date +%s.%N; }
# cpu_of PID: user + system CPU seconds of a process.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
redis_cpu() { $RCLI INFO cpu | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { print s }'; }
# run_arrays [SWEEP-PREFIX]: submits $SWEEPS arrays at once (the k-th
# with --sweep=SWEEP-PREFIX-k when a prefix is given), waits for all of
# them to end; prints the wall seconds.
run_arrays() {
    local t0 j jobs= k
    t0=$(now)
    for k in $(seq 1 "$SWEEPS"); do
        j=$(sbatch --parsable --array=0-$((TASKS - 1))%$THROTTLE ${1:+--sweep="$1-$k"} -o /dev/null \
            --wrap "SLEEP=$SLEEP $HERE/../e2e/quadratic_task.sh") || return 1
        jobs=$jobs${jobs:+,}$j
    done
    wait_done "$jobs" 3600 > /dev/null || return 1
    awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f\n", b - a }'
}
# percentile P: the P-th percentile of the numbers on stdin.
percentile() { sort -g | awk -v p="$1" '{ a[NR] = $1 } END { i = int(p / 100 * NR + 0.999); if (i < 1) i = 1; print a[i] }'; }

printf '%-4s %8s %8s %6s %9s %9s %9s %9s %7s %9s %10s %11s\n' run base_s sweep_s ratio fallback distinct wait_p50 wait_p99 refits sugg_per_s redis_cpu_ms proteind_cpu_ms
for r in $(seq 1 "$RUNS"); do
    for k in $(seq 1 "$SWEEPS"); do
        s=bench-$r-$k
        {
            echo "name: $s"; echo "method: protein"
            echo "metric: {name: score, goal: maximize}"
            echo "max_trials: $TASKS"
            echo "parameters:"
            for i in $(seq 0 $((DIMS - 1))); do echo "  x$i: {distribution: uniform, min: 0, max: 1}"; done
        } > "$D/$s.yaml"
        "$PROTEIN" create "$D/$s.yaml" > /dev/null || exit 1
        n=0
        while [ "$($RCLI LLEN "protein:{$U/$s}:queue")" -lt 16 ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    done
    base=$(run_arrays) || exit 1
    log_from=$(wc -l < "$D/log/slurmd.log")
    plog_from=$(wc -l < "$D/log/proteind.log")
    rc0=$(redis_cpu); pc0=$(cpu_of "$PROTEIND_PID")
    swept=$(run_arrays "bench-$r") || exit 1
    rc1=$(redis_cpu); pc1=$(cpu_of "$PROTEIND_PID")
    waits=$(tail -n +"$((log_from + 1))" "$D/log/slurmd.log" |
        sed -n "s|.*protein: sweep $U/bench-$r-[0-9]* trial [0-9]* claimed and exported in \([0-9.]*\) ms.*|\1|p")
    plines=$(tail -n +"$((plog_from + 1))" "$D/log/proteind.log" | grep " sweep=$U/bench-$r-[0-9]* ")
    refits=$(echo "$plines" | grep -c '^[^ ]* proteind: refit ')
    fresh=$(echo "$plines" | sed -n 's/.* fresh=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
    fallback=0 distinct=$TASKS
    for k in $(seq 1 "$SWEEPS"); do
        s=bench-$r-$k params=$D/bench-$r-$k.params
        : > "$params"
        for i in $(seq 1 "$($RCLI HGET "protein:{$U/$s}:meta" n_trials)"); do
            $RCLI HMGET "protein:{$U/$s}:trial:$i" fallback params | paste -sd' ' >> "$params"
        done
        fallback=$((fallback + $(awk '$1 == 1' "$params" | wc -l)))
        d=$(cut -d' ' -f2- "$params" | sort -u | wc -l)
        [ "$d" -lt "$distinct" ] && distinct=$d
    done
    claims=$((TASKS * SWEEPS))
    printf '%-4s %8s %8s %6s %8s%% %9s %9s %9s %7s %9s %10s %11s\n' "$r" "$base" "$swept" \
        "$(awk -v a="$swept" -v b="$base" 'BEGIN { printf "%.2f", a / b }')" \
        "$(awk -v f="$fallback" -v n="$claims" 'BEGIN { printf "%.1f", 100 * f / n }')" \
        "$distinct" "$(echo "$waits" | percentile 50)" "$(echo "$waits" | percentile 99)" \
        "$refits" "$(awk -v f="$fresh" -v t="$swept" 'BEGIN { printf "%.1f", f / t }')" \
        "$(awk -v a="$rc0" -v b="$rc1" -v n="$claims" 'BEGIN { printf "%.3f", 1000 * (b - a) / n }')" \
        "$(awk -v a="$pc0" -v b="$pc1" -v n="$claims" 'BEGIN { printf "%.2f", 1000 * (b - a) / n }')"
done | tee "$D/rows"
# Medians over the runs, column by column.
awk '{ for (i = 2; i <= NF; i++) { v = $i; sub("%", "", v); c[i, NR] = v } n = NR; k = NF }
     END { printf "%-4s", "med";
           for (i = 2; i <= k; i++) {
               m = 0; for (r = 1; r <= n; r++) a[r] = c[i, r];
               for (x = 1; x <= n; x++) for (y = x + 1; y <= n; y++) if (a[y] + 0 < a[x] + 0) { t = a[x]; a[x] = a[y]; a[y] = t }
               printf " %9s", a[int((n + 1) / 2)] }
           printf "\n" }' "$D/rows"
echo "$SWEEPS x $TASKS tasks, %$THROTTLE each on $CPUS CPUs announced, $DIMS parameters, sleep $SLEEP s; $(nproc) cores"
