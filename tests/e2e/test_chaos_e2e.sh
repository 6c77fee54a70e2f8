#!/bin/bash
# test_chaos_e2e.sh - faults injected while protein serves a sweep's Slurm
# jobs, on a real one-node Slurm cluster (tests/e2e/cluster.sh) whose
# Redis keeps an append-only file, so that a restart keeps the sweeps:
#
#   - a job requeued while Redis is down, whose interrupt is spooled on
#     the node, runs again and resumes its trial; the spool replayed
#     meanwhile (by hand, or by any task ending on the node) leaves that
#     run alone, and its outcome is recorded;
#   - tasks that start while Redis is down are requeued (at most
#     requeue_max times, then failed saying why; a --no-requeue job fails
#     at once, saying why) and claim once Redis is back; with
#     on_redis_down=fail they fail at once;
#   - a 160-task array run by tests/bench/chaos_array.sh under one kind of
#     fault after another (proteind killed, then stopped, with a standby;
#     Redis frozen; slurmctld restarted; tasks cancelled and requeued; the
#     sweep paused and its budget changed; Redis killed, then stopped, and
#     started on its AOF; the tasks that started while Redis was down are
#     requeued, and released from Slurm's hold once it is back): its
#     invariants hold (no trial left running, counters that add up, the
#     budget kept, the node never drained, every daemon alive, one trial
#     per array task, no task failed for want of Redis, distinct points,
#     fallback points only around a fault).
#
# Skips (77) without root, Slurm's daemons, redis-server, the CLI or
# proteind. Runs after the other e2e scripts (same ports; tests/plugin.am).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$(cd "$HERE/../.." && pwd)}
B=${top_builddir:-${PROTEIN_BUILDDIR:-$(pwd)}}
export top_builddir=$B
export PROTEIN_E2E_DIR=${PROTEIN_E2E_CHAOS_DIR:-${TMPDIR:-/tmp}/protein-e2e-chaos.$$}
export PROTEIN_E2E_REDIS_AOF=1
CLUSTER=$HERE/cluster.sh
PROTEIN=$B/cli/protein

skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root to run slurmctld and slurmd"
[ -x "$PROTEIN" ] && [ -x "$B/coordinator/proteind" ] ||
    skip "needs the protein CLI and proteind ($PROTEIN)"

failures=0

# cluster_up, wait_done, make_sweep, trial_field, wait_field, wait_line
. "$HERE/lib.sh"
cluster_up
SPOOL=$D/protein-spool

# release_hold JOBID: once a requeued job is pending again, makes it
# eligible 2 s later rather than after Slurm's two-minute hold (slurmd
# refuses a job started again within the second its credential was
# revoked in: "Job credential revoked").
release_hold() {
    local n=100
    while [ "$(job_state "$1")" != PENDING ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    sleep 2
    scontrol update jobid="$1" StartTime=now
}

# Requeued while Redis is down: the interrupt is spooled (outcome_retry=2
# leaves one try); the requeued run resumes the trial, the spool is
# replayed while it runs, and its completion is what the trial records.
case_requeued_while_down() {
    local j t t2 n ok=0
    make_sweep chaos-requeue 4 || return 1
    "$CLUSTER" plugstack outcome_retry=2
    printf '#!/bin/sh\necho "trial=$PROTEIN_TRIAL run=${SLURM_RESTART_COUNT:-0}"\nsleep 6\necho score=0.5 >> "$PROTEIN_RESULT"\n' \
        > "$OUT/requeue.sh"
    j=$(sbatch --parsable --sweep=chaos-requeue -o "$OUT/requeue.out" \
        --open-mode=append "$OUT/requeue.sh") || return 1
    wait_line "$OUT/requeue.out" '^trial=' || return 1
    t=$(sed -n 's/^trial=\([0-9]*\) .*/\1/p' "$OUT/requeue.out")
    "$CLUSTER" redis-stop
    scontrol requeue "$j" || ok=1
    n=100
    while [ "$(ls "$SPOOL" 2>/dev/null | grep -c '\.rec$')" -lt 1 ] && [ $n -gt 0 ]; do
        sleep 0.1; n=$((n - 1))
    done
    echo "requeue: $(ls "$SPOOL" | grep -c '\.rec$') record(s) spooled while Redis was down"
    "$CLUSTER" redis-start
    release_hold "$j"
    wait_line "$OUT/requeue.out" '^trial=.* run=1' || { echo "the requeued job did not run again"; return 1; }
    t2=$(sed -n 's/^trial=\([0-9]*\) run=1$/\1/p' "$OUT/requeue.out")
    [ "$t2" = "$t" ] || { echo "the requeued run got trial $t2, not $t"; ok=1; }
    # What the next task ending on the node does: replay the spool.
    "$PROTEIN" replay --spool "$SPOOL" || ok=1
    echo "requeue: trial $t is $(trial_field chaos-requeue "$t" status) after the replay"
    [ "$(trial_field chaos-requeue "$t" status)" = running ] || ok=1
    wait_done "$j" 30 && wait_field chaos-requeue "$t" status completed || ok=1
    [ "$(trial_field chaos-requeue "$t" score)" = 0.5 ] || ok=1
    [ "$(ls "$SPOOL" | grep -c '\.rec$')" -eq 0 ] || ok=1
    "$CLUSTER" plugstack
    return $ok
}
check "requeued while Redis is down: the spooled interrupt leaves the resumed run alone, its outcome is recorded" \
    case_requeued_while_down

# Redis down when array tasks start: each task is requeued, not failed,
# and claims nothing; past requeue_max it fails, saying why; once Redis is
# back a requeued task claims its trial and completes. With
# on_redis_down=fail a task fails at once, as before.
case_redis_down_requeue() {
    local j k t ok=0
    make_sweep chaos-down 4 || return 1
    "$CLUSTER" plugstack requeue_max=2
    printf '#!/bin/sh\necho "trial=$PROTEIN_TRIAL run=${SLURM_RESTART_COUNT:-0}"\necho score=0.25 >> "$PROTEIN_RESULT"\n' \
        > "$OUT/down.sh"
    "$CLUSTER" redis-stop
    j=$(sbatch --parsable --sweep=chaos-down -o "$OUT/down.%a.out" \
        --open-mode=append --array=0-1 "$OUT/down.sh" 2>/dev/null) || return 1
    wait_requeued "${j}_0" 1 && wait_requeued "${j}_1" 1 || return 1
    grep -q "protein: cannot claim a trial of sweep 'chaos-down': cannot connect to Redis at redis://127.0.0.1:.*; requeued (1 of 2)" \
        "$OUT/down.0.out" || { echo "task 0's output:"; cat "$OUT/down.0.out"; ok=1; }
    grep -q "requeued (1 of 2)" "$D/log/slurmd.log" || { echo "the slurmd log does not say it"; ok=1; }
    [ "$(node_state)" = idle ] || { echo "node $(node_state) after the requeues"; ok=1; }
    [ "$(ls "$SPOOL" 2>/dev/null | grep -c '\.rec$')" -eq 0 ] || { echo "a record was spooled for a trial never claimed"; ok=1; }
    # task 1 runs again while Redis is still down: requeued once more,
    # then failed at the cap
    release_hold "${j}_1"
    wait_requeued "${j}_1" 2 || return 1
    grep -q "requeued (2 of 2)" "$OUT/down.1.out" || ok=1
    release_hold "${j}_1"
    wait_done "${j}_1" 10 || return 1
    echo "redis down: task 1 is $(job_state "${j}_1") $(job_exit "${j}_1") after the cap"
    [ "$(job_state "${j}_1")" = FAILED ] || ok=1
    grep -q "not requeued: job [0-9]* has been requeued 2 times already (requeue_max=2)" \
        "$OUT/down.1.out" || { echo "task 1's output:"; cat "$OUT/down.1.out"; ok=1; }
    # a job that may not be requeued fails at once, saying why
    k=$(sbatch --parsable --no-requeue --sweep=chaos-down -o "$OUT/down-norequeue.out" \
        "$OUT/down.sh" 2>/dev/null) || return 1
    wait_done "$k" 10 || return 1
    [ "$(job_state "$k")" = FAILED ] || ok=1
    grep -q "not requeued: job $k may not be requeued (--no-requeue" "$OUT/down-norequeue.out" ||
        { echo "the --no-requeue job's output:"; cat "$OUT/down-norequeue.out"; ok=1; }
    # Redis back: task 0 claims and completes
    "$CLUSTER" redis-start
    [ "$("$PROTEIN" status chaos-down --redis "$PROTEIN_REDIS" | grep -c 'budget: 0 of 4')" = 1 ] ||
        { echo "trials were handed out while Redis was down"; ok=1; }
    release_hold "${j}_0"
    wait_done "${j}_0" 15 || return 1
    t=$(sed -n 's/^trial=\([0-9]*\) run=1$/\1/p' "$OUT/down.0.out")
    echo "redis down: task 0 ran again as trial '$t': $(job_state "${j}_0")"
    [ -n "$t" ] && [ "$(job_state "${j}_0")" = COMPLETED ] &&
        wait_field chaos-down "$t" status completed || ok=1
    [ "$(trial_field chaos-down "$t" score)" = 0.25 ] || ok=1
    # on_redis_down=fail: fails at once, as before
    "$CLUSTER" plugstack on_redis_down=fail
    "$CLUSTER" redis-stop
    j=$(sbatch --parsable --sweep=chaos-down -o "$OUT/down-fail.out" "$OUT/down.sh" 2>/dev/null) || return 1
    wait_done "$j" 10
    echo "redis down, on_redis_down=fail: $(job_state "$j") $(job_exit "$j"), restarts $(restarts "$j")"
    [ "$(job_state "$j")" = FAILED ] && [ "$(restarts "$j")" = 0 ] || ok=1
    grep -q "cannot connect to Redis" "$OUT/down-fail.out" && ! grep -q requeued "$OUT/down-fail.out" || ok=1
    "$CLUSTER" redis-start
    "$CLUSTER" plugstack
    return $ok
}
check "Redis down at claim: a task is requeued (up to requeue_max), claims once Redis is back; on_redis_down=fail fails it" \
    case_redis_down_requeue

[ "$(node_state)" = idle ] || fail "node left in state $(node_state)"

# The array under every kind of fault, on a cluster of its own (the same
# ports: this one goes first); its directory is kept when a check fails.
"$CLUSTER" down
case_chaos_array() {
    local rc
    PROTEIN_CHAOS_DIR=$D-array PROTEIN_CHAOS_KEEP=1 "$HERE/../bench/chaos_array.sh" \
        --tasks 160 --throttle 16 --sleep 3 --every 1 --seed 1 \
        --faults proteind,pstop,freeze,slurmctld,scancel,requeue,control,crash,redis \
        > "$D/chaos-array.log" 2>&1
    rc=$?
    grep -v 'Killed' "$D/chaos-array.log"
    [ $rc -eq 0 ] && rm -rf "$D-array"
    return $rc
}
check "a 160-task array under every kind of fault in turn: the invariants hold" case_chaos_array

echo "$failures failure(s)"
[ $failures -eq 0 ]
