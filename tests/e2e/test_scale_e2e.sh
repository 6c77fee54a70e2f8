#!/bin/bash
# test_scale_e2e.sh - protein at array scale and under Redis faults, on a
# real one-node Slurm cluster announcing 64 CPUs (tests/e2e/cluster.sh),
# with a real proteind serving every sweep. Each case asserts on Redis
# state and on the jobs' outcomes:
#
#   - a sweep with broken keys is logged by proteind, which goes on serving
#     the others (every case below runs next to it);
#   - a 256-task array at %64: 256 distinct points, all completed, at most
#     5% fallback points, no claim waits the claim timeout;
#   - Redis frozen (SIGSTOP) longer than the claim timeout during an array:
#     afterwards no trial is running without a task, and the trials handed
#     out (less those given back) are the tasks that ran;
#   - Redis stopped 10 s while tasks end: every outcome is in Redis
#     afterwards, exactly once (retried, spooled on the node, replayed by
#     the next task that ends there).
#
# Skips (77) without root, Slurm's daemons, redis-server, the CLI or
# proteind. Runs after test_plugin_e2e.sh (same ports; tests/plugin.am).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
B=${top_builddir:-${PROTEIN_BUILDDIR:-$(pwd)}}
export top_builddir=$B
export PROTEIN_E2E_DIR=${PROTEIN_E2E_SCALE_DIR:-${TMPDIR:-/tmp}/protein-e2e-scale.$$}
export PROTEIN_E2E_CPUS=64
CLUSTER=$HERE/cluster.sh
PROTEIN=$B/cli/protein
PROTEIND=$B/coordinator/proteind

failures=0

[ -x "$PROTEIN" ] && [ -x "$PROTEIND" ] ||
    { echo "SKIP: needs the protein CLI and proteind ($PROTEIN, $PROTEIND)"; exit 77; }
"$CLUSTER" up > /dev/null
rc=$?
[ $rc -eq 0 ] || exit $rc
PROTEIND_PID=
cleanup() {
    [ -n "$PROTEIND_PID" ] && kill "$PROTEIND_PID" 2>/dev/null && wait "$PROTEIND_PID" 2>/dev/null
    [ -f "$PROTEIN_E2E_DIR/redis/redis.pid" ] &&
        kill -CONT "$(cat "$PROTEIN_E2E_DIR/redis/redis.pid")" 2>/dev/null
    "$CLUSTER" down
    [ $failures -eq 0 ] && rm -rf "$PROTEIN_E2E_DIR"
}
trap cleanup EXIT
. "$PROTEIN_E2E_DIR/env.sh"
D=$PROTEIN_E2E_DIR
OUT=$D/out
RCLI="redis-cli -p ${PROTEIN_REDIS##*:}"
SPOOL=$D/protein-spool

# ------------------------------------------------------------ helpers

# job_state, wait_done
. "$HERE/lib.sh"

# states JOBID N: the states of array tasks 0..N-1, one per line.
states() { local i; for i in $(seq 0 $(($2 - 1))); do job_state "${1}_$i"; done; }

# Jobs and the CLI run as root: a bare sweep name means $U/NAME.
U=$(id -un)

# field SWEEP NAME: a field of the sweep's meta hash (0 when absent).
field() { local v; v=$($RCLI HGET "protein:{$U/$1}:meta" "$2"); echo "${v:-0}"; }

# trials SWEEP FIELD: FIELD of every trial of the sweep, one per line.
trials() {
    local i n; n=$(field "$1" n_trials)
    for i in $(seq 1 "$n"); do $RCLI HGET "protein:{$U/$1}:trial:$i" "$2"; done
}

# A sweep of `dims` uniform parameters x0.. in [0, 1]; the objective is a
# quadratic bowl at 0.3 (tasks sleep $SLEEP seconds first).
make_sweep() { # NAME MAX_TRIALS DIMS
    local i
    {
        echo "name: $1"; echo "method: protein"
        echo "metric: {name: score, goal: maximize}"
        echo "max_trials: $2"; echo "seed: 11"
        echo "parameters:"
        for i in $(seq 0 $(($3 - 1))); do
            echo "  x$i: {distribution: uniform, min: 0, max: 1}"
        done
    } > "$D/$1.yaml"
    "$PROTEIN" create "$D/$1.yaml" > "$D/$1.create.log" 2>&1 ||
        { cat "$D/$1.create.log"; return 1; }
}
TASK=$HERE/quadratic_task.sh

# claim_ms SWEEP: the claim time of each task of SWEEP (slurmd log), in ms.
claim_ms() {
    sed -n "s|.*protein: sweep $U/$1 trial [0-9]* claimed and exported in \([0-9.]*\) ms.*|\1|p" \
        "$D/log/slurmd.log"
}

# ------------------------------------------------------------ proteind

# A sweep sorted first whose keys are broken: proteind must log it and go
# on serving every other sweep.
make_sweep aaa-broken 10 2 || exit 1
$RCLI SET "protein:{$U/aaa-broken}:leases" broken > /dev/null
"$PROTEIND" --redis "$PROTEIN_REDIS" --device cpu > "$D/log/proteind.log" 2>&1 &
PROTEIND_PID=$!

# wait_queue SWEEP N: until the sweep's ready queue holds N points (20 s).
wait_queue() {
    local n=200
    while [ $n -gt 0 ]; do
        [ "$($RCLI LLEN "protein:{$U/$1}:queue")" -ge "$2" ] && return 0
        sleep 0.1; n=$((n - 1))
    done
    echo "proteind did not fill the queue of $1 (see $D/log/proteind.log)"; return 1
}

# ------------------------------------------------------------ cases

case_big_array() {
    local j n distinct completed fallback worst ok=0
    make_sweep big 256 6 || return 1
    wait_queue big 16 || return 1
    j=$(sbatch --parsable --array=0-255%64 --sweep=big -o /dev/null \
        --wrap "SLEEP=1 $TASK") || return 1
    wait_done "$j" 300 || return 1
    n=$(states "$j" 256 | grep -c '^COMPLETED$')
    distinct=$(trials big params | sort -u | wc -l)
    completed=$(trials big status | grep -c '^completed$')
    fallback=$(trials big fallback | grep -c '^1$')
    worst=$(claim_ms big | sort -g | tail -1)
    echo "big: $n tasks COMPLETED, $distinct distinct points, $completed trials" \
         "completed, $fallback fallback, slowest claim ${worst:-?} ms" \
         "(median $(claim_ms big | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') ms)"
    [ "$n" -eq 256 ] && [ "$distinct" -eq 256 ] && [ "$completed" -eq 256 ] || ok=1
    [ "$(field big n_trials)" -eq 256 ] || ok=1
    [ "$fallback" -le 12 ] || ok=1
    # claim_timeout=2 (cluster.sh): no claim waited it out.
    [ -n "$worst" ] && awk -v w="$worst" 'BEGIN { exit !(w < 2000) }' || ok=1
    [ $ok -eq 0 ]
}
check "256-task array (%64): distinct points, all completed, <= 5% fallback, no claim waits the timeout" case_big_array

case_frozen_redis() {
    local j ran handed given_back running n=0 ok=0
    make_sweep frozen 100 3 || return 1
    wait_queue frozen 16 || return 1
    # Tasks whose claim times out fail, as they did before requeues: this
    # case counts the trials released (test_chaos_e2e.sh: requeued ones).
    "$CLUSTER" plugstack outcome_retry=30 on_redis_down=fail
    j=$(sbatch --parsable --array=0-23%8 --sweep=frozen -o /dev/null \
        --wrap "SLEEP=1 $TASK") || return 1
    while [ "$(squeue -h -j "$j" -t R | wc -l)" -lt 4 ] && [ $n -lt 100 ]; do
        sleep 0.1; n=$((n + 1))
    done
    # Longer than claim_timeout (2 s) plus the command timeout (2 s).
    "$CLUSTER" redis-freeze; sleep 6; "$CLUSTER" redis-thaw
    wait_done "$j" 120 || return 1
    # Outcomes and releases retried through the freeze land within a few s.
    n=0
    while [ "$($RCLI ZCARD "protein:{$U/frozen}:leases")" -gt 0 ] && [ $n -lt 150 ]; do
        sleep 0.2; n=$((n + 1))
    done
    ran=$(states "$j" 24 | grep -c '^COMPLETED$')
    running=$($RCLI ZCARD "protein:{$U/frozen}:leases")
    handed=$(field frozen n_trials)
    given_back=$($RCLI LLEN "protein:{$U/frozen}:retry")
    echo "frozen: $ran of 24 tasks COMPLETED, $handed trials handed out," \
         "$given_back given back, $running still running," \
         "$(trials frozen status | grep -c '^completed$') completed," \
         "$(grep -c 'claim .* released' "$D/log/slurmd.log") releases"
    [ "$running" -eq 0 ] || ok=1
    [ "$ran" -ge 1 ] || ok=1
    [ "$(trials frozen status | grep -c '^completed$')" -eq "$ran" ] || ok=1
    [ $((handed - given_back)) -eq "$ran" ] || ok=1
    "$CLUSTER" plugstack
    [ $ok -eq 0 ]
}
check "Redis frozen past the claim timeout: no trial left running, budget counts the tasks that ran" case_frozen_redis

case_redis_down() {
    local j k n=0 recorded once lease ok=0
    make_sweep down 100 3 || return 1
    wait_queue down 16 || return 1
    # A short retry bound, so the outcomes go through the spool.
    "$CLUSTER" plugstack outcome_retry=2
    j=$(sbatch --parsable --array=0-7 --sweep=down -o /dev/null --time=2 \
        --wrap "SLEEP=3 $TASK") || return 1
    while [ "$(field down n_trials)" -lt 8 ] && [ $n -lt 150 ]; do sleep 0.1; n=$((n + 1)); done
    [ "$(field down n_trials)" -eq 8 ] || { echo "down: not all 8 claimed"; return 1; }
    # The lease follows the time limit (2 min) plus lease_margin (600 s).
    lease=$($RCLI HGET "protein:{$U/down}:trial:1" lease_seconds)
    echo "down: lease ${lease:-?} s for a 2-minute job"
    [ "${lease:-0}" -ge 690 ] && [ "${lease:-0}" -le 720 ] || ok=1
    $RCLI SAVE > /dev/null
    "$CLUSTER" redis-stop
    wait_done "$j" 30 || ok=1
    sleep $((10 - 3))
    "$CLUSTER" redis-start
    echo "down: $(ls "$SPOOL" | grep -c '\.rec$') outcomes spooled while Redis was down"
    [ "$(ls "$SPOOL" | grep -c '\.rec$')" -eq 8 ] || ok=1
    # The next task that ends on the node replays the spool.
    k=$(sbatch --parsable --sweep=down -o /dev/null --wrap "$TASK") || return 1
    wait_done "$k" 30 || ok=1
    recorded=$(trials down status | grep -c '^completed$')
    once=$($RCLI XLEN "protein:{$U/down}:observations")
    echo "down: $(states "$j" 8 | grep -c '^COMPLETED$') of 8 tasks COMPLETED," \
         "$recorded trials completed, $once observations," \
         "$(ls "$SPOOL" | grep -c '\.rec$') records left"
    [ "$(states "$j" 8 | grep -c '^COMPLETED$')" -eq 8 ] || ok=1
    [ "$recorded" -eq 9 ] && [ "$once" -eq 9 ] || ok=1
    [ "$(ls "$SPOOL" | grep -c '\.rec$')" -eq 0 ] || ok=1
    # Replaying again changes nothing.
    "$PROTEIN" replay --spool "$SPOOL" > /dev/null || ok=1
    [ "$($RCLI XLEN "protein:{$U/down}:observations")" -eq 9 ] || ok=1
    "$CLUSTER" plugstack
    [ $ok -eq 0 ]
}
check "Redis stopped 10 s while tasks end: every outcome recorded, exactly once" case_redis_down

case_broken_sweep() {
    local errors
    errors=$(grep -c "sweep $U/aaa-broken: .*\(WRONGTYPE\|ECORRUPT\|the type of key\).*retrying in" "$D/log/proteind.log")
    echo "broken: $errors backed-off errors logged for aaa-broken"
    kill -0 "$PROTEIND_PID" && [ "$errors" -ge 1 ] && [ "$errors" -le 40 ] &&
        grep -q "sweep $U/big: now the coordinator" "$D/log/proteind.log"
}
check "a sweep with broken keys: proteind logs it, backs off, serves the others" case_broken_sweep

[ "$(sinfo -h -n "$E2E_NODE" -o %t)" = idle ] || fail "node left in state $(sinfo -h -n "$E2E_NODE" -o %t)"
echo "$failures failure(s)"
[ $failures -eq 0 ]
