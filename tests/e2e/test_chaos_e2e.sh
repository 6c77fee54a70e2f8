#!/bin/bash
# test_chaos_e2e.sh - faults injected while protein serves a sweep's Slurm
# jobs, on a real one-node Slurm cluster (tests/e2e/cluster.sh) whose
# Redis keeps an append-only file, so that a restart keeps the sweeps:
#
#   - a job requeued while Redis is down, whose interrupt is spooled on
#     the node, runs again and resumes its trial; the spool replayed
#     meanwhile (by hand, or by any task ending on the node) leaves that
#     run alone, and its outcome is recorded;
#   - a 160-task array run by tests/bench/chaos_array.sh under one kind of
#     fault after another (proteind killed, then stopped, with a standby;
#     Redis frozen; slurmctld restarted; tasks cancelled and requeued; the
#     sweep paused and its budget changed; Redis killed, then stopped, and
#     started on its AOF: those last, as every task that starts while
#     Redis is down fails at once): its invariants hold (no trial left
#     running, counters that add up, the budget kept, the node never
#     drained, every daemon alive, one trial per array task, distinct
#     points, fallback points only around a fault).
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
