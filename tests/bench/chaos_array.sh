#!/bin/bash
# chaos_array.sh - a sweep's Slurm array under injected faults, on the
# private one-node cluster of tests/e2e/cluster.sh (Redis with an
# append-only file), with two proteinds (a leader and a standby), then
# the invariants checked:
#
#   chaos_array.sh [--tasks 300] [--throttle 24] [--sleep 1]
#                  [--faults LIST] [--every 6] [--seed N]
#
# LIST is a comma-separated list of fault kinds, injected one at a time
# in turn every --every seconds while the array runs (default: all):
#   proteind    SIGKILL the proteind holding the sweep's lease, start it
#               again once the standby took over
#   pstop       SIGSTOP the proteind holding the lease for 8 s (the
#               standby takes over; the thawed one must not fight it)
#   freeze      SIGSTOP Redis for 6 s (past claim_timeout + command_timeout,
#               and past outcome_retry=3: outcomes are spooled, then
#               replayed by the next tasks)
#   redis       stop Redis (SIGTERM) for 5 s, then start it on its AOF
#               (tasks that start while Redis is down, frozen or
#               crashed are requeued by the plugin, then released from
#               Slurm's hold 2 s after Redis is back)
#   crash       SIGKILL Redis, start it again 2 s later on its AOF (fsync
#               every second: the last second's writes may be lost)
#   slurmctld   restart slurmctld
#   scancel     scancel 2 random running tasks
#   requeue     scontrol requeue 2 random running tasks
#   control     protein pause + resume, budget -20 then back, show,
#               trials, status
# Tasks whose index is 5 or 11 mod 23 exit 3 or exit 0 without a result.
# Jobs have --time=1 and the plugin lease_margin=20 (outcome_retry=3), so a trial whose
# task vanished is lost (or requeued, max_retries 2) 80 s after its claim.
#
# Checks at the end (each printed as ok:/FAIL:): no trial running whose
# task ended, once its lease has passed; trials per state add up to the
# meta counters and to n_trials; n_trials - n_lost <= max_trials; the
# node never drained (sampled every 0.5 s); both proteinds and Redis
# alive; no array task held two trials; no task failed for want of
# Redis (each was requeued); every trial a distinct point;
# fallback points only during a fault (a coordinator killed, stopped or
# cut off by a Redis outage, a budget raised) or within 10 s after it.
# Exit status: the number of failed checks.
# Needs root, Slurm's daemons and redis-server (exit 77 otherwise) and the
# build (top_builddir or PROTEIN_BUILDDIR, default the current directory).
set -u

TASKS=300 THROTTLE=24 SLEEP=1 FAULTS=proteind,freeze,redis,slurmctld,scancel,requeue,control,pstop,crash
EVERY=6 SEED=$$
while [ $# -gt 0 ]; do
    case $1 in
    --tasks) TASKS=$2; shift 2 ;;
    --throttle) THROTTLE=$2; shift 2 ;;
    --sleep) SLEEP=$2; shift 2 ;;
    --faults) FAULTS=$2; shift 2 ;;
    --every) EVERY=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "chaos_array.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
RANDOM=$SEED

HERE=$(cd "$(dirname "$0")" && pwd)
B=${top_builddir:-${PROTEIN_BUILDDIR:-$(pwd)}}
export top_builddir=$B
export PROTEIN_E2E_DIR=${PROTEIN_CHAOS_DIR:-${TMPDIR:-/tmp}/protein-chaos.$$}
export PROTEIN_E2E_CPUS=64 PROTEIN_E2E_REDIS_AOF=1
CLUSTER=$HERE/../e2e/cluster.sh
PROTEIN=$B/cli/protein
PROTEIND=$B/coordinator/proteind
[ -x "$PROTEIN" ] && [ -x "$PROTEIND" ] || { echo "chaos_array.sh: build first ($B)" >&2; exit 77; }

"$CLUSTER" up > /dev/null || exit $?
"$CLUSTER" plugstack lease_margin=20 outcome_retry=3
PIDS=() WATCH=
cleanup() {
    local p
    [ -n "$WATCH" ] && kill "$WATCH" 2>/dev/null
    for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; done
    [ -f "$PROTEIN_E2E_DIR/redis/redis.pid" ] &&
        kill -CONT "$(cat "$PROTEIN_E2E_DIR/redis/redis.pid")" 2>/dev/null
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    "$CLUSTER" down
    [ -n "${PROTEIN_CHAOS_KEEP:-}" ] || rm -rf "$PROTEIN_E2E_DIR"
}
trap cleanup EXIT
. "$PROTEIN_E2E_DIR/env.sh"
D=$PROTEIN_E2E_DIR
OUT=$D/out
RCLI="redis-cli -p ${PROTEIN_REDIS##*:}"
U=$(id -un)
S=chaos
K="protein:{$U/$S}"
failures=0
# wait_done, job_state, check, fail, pass
. "$HERE/../e2e/lib.sh"
log() { echo "$(date +%T.%N | cut -c1-12) $*" | tee -a "$D/chaos.log"; }

# proteind NAME: starts (again) the proteind named NAME (its --id), with
# its log in $D/log/proteind.NAME.log; its pid in $D/proteind.NAME.pid.
proteind() {
    "$PROTEIND" --redis "$PROTEIN_REDIS" --device cpu --sweep "$S" --id "$1" \
        >> "$D/log/proteind.$1.log" 2>&1 &
    echo $! > "$D/proteind.$1.pid"
    PIDS+=($!)
}
alive() { kill -0 "$(cat "$D/proteind.$1.pid")" 2>/dev/null; }

{
    echo "name: $S"; echo "method: protein"
    echo "metric: {name: score, goal: maximize}"
    echo "max_trials: $TASKS"; echo "seed: 5"
    echo "parameters:"
    for i in 0 1 2 3; do echo "  x$i: {distribution: uniform, min: 0, max: 1}"; done
} > "$D/$S.yaml"
"$PROTEIN" create "$D/$S.yaml" --max-retries 2 > /dev/null || exit 1
proteind a
sleep 0.5
proteind b
n=0
while [ "$($RCLI LLEN "$K:queue")" -lt 16 ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done

cat > "$D/task.sh" <<EOF
#!/bin/sh
echo "task=\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID} trial=\$PROTEIN_TRIAL restart=\${SLURM_RESTART_COUNT:-0}"
case \$((SLURM_ARRAY_TASK_ID % 23)) in
5) sleep $SLEEP; exit 3 ;;
11) sleep $SLEEP; exit 0 ;;
esac
SLEEP=$SLEEP exec $HERE/../e2e/quadratic_task.sh
EOF
chmod 755 "$D/task.sh"

# The node's state, sampled every 0.5 s, into $D/node-states.
( while :; do sinfo -h -o %T >> "$D/node-states" 2>&1; sleep 0.5; done ) &
WATCH=$!

J=$(sbatch --parsable --array=0-$((TASKS - 1))%$THROTTLE --sweep="$S" --time=1 \
    --open-mode=append -o "$OUT/%A_%a.out" "$D/task.sh") || exit 1
log "array $J submitted: $TASKS tasks %$THROTTLE, faults $FAULTS every $EVERY s"
T0=$(date +%s)

running_tasks() { squeue -h -j "$J" -t R -o %i | grep _ ; }
pick() { running_tasks | shuf -n "$1" --random-source=<(yes "$RANDOM"); }
leader() { $RCLI GET "$K:coordinator" | sed 's/#.*//'; }

# release_requeued: the tasks that the plugin requeued while Redis was
# down (pending, held by Slurm after a requeue) are eligible 2 s later,
# not after Slurm's two-minute hold (see the requeue fault).
release_requeued() {
    local held
    held=$(squeue -h -j "$J" -t PD -o '%i %r' | awk '$1 ~ /_/ && $2 == "BeginTime" { print $1 }')
    [ -n "$held" ] || return 0
    log "$(echo "$held" | wc -l) task(s) requeued while Redis was down"
    ( sleep 2; for t in $held; do scontrol update jobid="$t" StartTime=now; done ) &
}

fault() {
    local t l n
    case $1 in
    proteind)
        l=$(leader)
        [ -n "$l" ] || { log "proteind: no leader to kill"; return; }
        log "proteind: SIGKILL leader $l (pid $(cat "$D/proteind.$l.pid"))"
        kill -KILL "$(cat "$D/proteind.$l.pid")"
        n=0
        while [ "$(leader)" = "$l" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
        log "proteind: leader now $(leader) (after $n tenths of a second)"
        proteind "$l"; log "proteind: $l started again" ;;
    pstop)
        l=$(leader)
        [ -n "$l" ] || { log "pstop: no leader to stop"; return; }
        log "pstop: SIGSTOP leader $l for 8 s"
        kill -STOP "$(cat "$D/proteind.$l.pid")"; sleep 8
        kill -CONT "$(cat "$D/proteind.$l.pid")"; log "pstop: $l thawed; leader now $(leader)" ;;
    freeze)
        log "freeze: Redis SIGSTOP"; "$CLUSTER" redis-freeze; sleep 6
        "$CLUSTER" redis-thaw; log "freeze: Redis SIGCONT"; release_requeued ;;
    redis)
        log "redis: stop"; "$CLUSTER" redis-stop; sleep 5
        "$CLUSTER" redis-start; log "redis: started ($($RCLI DBSIZE) keys)"; release_requeued ;;
    crash)
        log "crash: Redis SIGKILL"; kill -KILL "$(cat "$D/redis/redis.pid")"; sleep 2
        "$CLUSTER" redis-start; log "crash: started on its AOF ($($RCLI DBSIZE) keys)"
        release_requeued ;;
    slurmctld)
        log "slurmctld: restart"; "$CLUSTER" slurmctld-restart; log "slurmctld: up" ;;
    scancel)
        for t in $(pick 2); do log "scancel $t"; scancel "$t"; done ;;
    requeue)
        # once pending again, eligible 2 s later, not after Slurm's
        # two-minute hold of a requeued job (slurmd refuses a job started
        # again within the second its credential was revoked in: "Job
        # credential revoked")
        for t in $(pick 2); do
            log "requeue $t"; scontrol requeue "$t" || continue
            n=100
            while [ "$(job_state "$t")" != PENDING ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
            ( sleep 2; scontrol update jobid="$t" StartTime=now ) &
        done ;;
    control)
        log "control: pause"; "$PROTEIN" pause "$S" >> "$D/control.log" 2>&1; sleep 1
        "$PROTEIN" resume "$S" >> "$D/control.log" 2>&1; log "control: resumed"
        "$PROTEIN" budget "$S" "$((TASKS - 20))" >> "$D/control.log" 2>&1
        sleep 1
        "$PROTEIN" budget "$S" "$TASKS" >> "$D/control.log" 2>&1; log "control: budget back to $TASKS"
        "$PROTEIN" status "$S" >> "$D/control.log" 2>&1 || log "control: status failed"
        "$PROTEIN" trials "$S" > /dev/null 2>> "$D/control.log" || log "control: trials failed"
        "$PROTEIN" show "$S" 1 > /dev/null 2>> "$D/control.log" || log "control: show failed" ;;
    esac
}

IFS=, read -r -a KINDS <<< "$FAULTS"
k=0
while [ -n "$(squeue -h -j "$J" 2>/dev/null | head -1)" ]; do
    sleep "$EVERY"
    [ -n "$(running_tasks | head -1)" ] || continue
    kind=${KINDS[$((k % ${#KINDS[@]}))]}
    t0=$(date +%s.%N)
    fault "$kind"
    # the windows where fallback points are documented: no coordinator
    # alive (killed, stopped, its lease lapsed in a Redis outage) and the
    # refit that follows, or a budget raised (fresh pool points)
    case $kind in
    proteind|pstop|freeze|redis|crash|control) echo "$t0 $(date +%s.%N) $kind" >> "$D/windows" ;;
    esac
    k=$((k + 1))
done
log "array done after $(( $(date +%s) - T0 )) s, $k faults"

# Outcomes spooled on the node are replayed by the next task that ends
# there, or by hand.
"$PROTEIN" replay --spool "$D/protein-spool" >> "$D/control.log" 2>&1
# Leases of trials whose task ended without an outcome pass within
# 80 s; proteind then expires them.
n=0
while [ "$($RCLI ZCARD "$K:leases")" -gt 0 ] && [ $n -lt 120 ]; do sleep 1; n=$((n + 1)); done
log "leases drained after $n s"

meta() { local v; v=$($RCLI HGET "$K:meta" "$1"); echo "${v:-0}"; }
NT=$(meta n_trials)
: > "$D/trials"
for i in $(seq 1 "$NT"); do
    echo "$i $($RCLI HMGET "$K:trial:$i" status fallback claim_key started_at | paste -sd' ')" >> "$D/trials"
done
count() { awk -v s="$1" '$2 == s' "$D/trials" | wc -l; }
"$PROTEIN" status "$S" | tee -a "$D/chaos.log"

check "no trial running once the array ended and its lease passed ($(count running) running)" \
    [ "$(count running)" -eq 0 ]
check_sum() {
    local s ok=0
    for s in completed failed interrupted lost pruned; do
        [ "$(count $s)" -eq "$(meta n_$s)" ] || { echo "$s: $(count $s) trials, meta n_$s $(meta n_$s)"; ok=1; }
    done
    [ "$(count queued)" -eq "$($RCLI LLEN "$K:retry")" ] || { echo "queued $(count queued), retry list $($RCLI LLEN "$K:retry")"; ok=1; }
    [ "$(wc -l < "$D/trials")" -eq "$NT" ] || ok=1
    echo "$NT trials: $(awk '{print $2}' "$D/trials" | sort | uniq -c | paste -sd' ')"
    return $ok
}
check "trials per state match the meta counters and n_trials" check_sum
check "trials counted against the budget ($((NT - $(meta n_lost)))) <= max_trials ($(meta max_trials))" \
    [ $((NT - $(meta n_lost))) -le "$(meta max_trials)" ]
check "node never drained ($(sort "$D/node-states" | uniq -c | paste -sd' '))" \
    sh -c "! grep -q '^drain' '$D/node-states'"
check "proteind a, proteind b and Redis alive" sh -c \
    "kill -0 $(cat "$D/proteind.a.pid") && kill -0 $(cat "$D/proteind.b.pid") && $RCLI ping | grep -q PONG"
two_trials() {
    local bad
    bad=$(cat "$OUT/${J}"_*.out 2>/dev/null | sed -n 's/^task=\([0-9_]*\) trial=\([0-9]*\) .*/\1 \2/p' |
        sort -u | awk '{ n[$1]++ } END { for (k in n) if (n[k] > 1) print k }')
    [ -z "$bad" ] || { echo "tasks with two trials: $bad"; return 1; }
}
check "no array task held two trials" two_trials
check "no task failed for want of Redis ($(grep -c 'requeued ([0-9]* of [0-9]*).*(job [0-9]*)$' "$D/log/slurmd.log") requeued)" \
    sh -c "! grep -q 'not requeued' '$D/log/slurmd.log'"
dup_points() {
    local n d
    n=$($RCLI KEYS "$K:trial:*" | wc -l)
    d=$(for i in $(seq 1 "$NT"); do $RCLI HGET "$K:trial:$i" params; done | sort -u | wc -l)
    echo "$n trials, $d distinct points"
    [ "$n" -eq "$d" ]
}
check "every trial a distinct point" dup_points
# fallback_outside: the fallback trials whose first claim came more than
# 10 s after the end of every window of $D/windows.
fallback_outside() {
    local bad
    touch "$D/windows"
    bad=$(awk 'NR == FNR { a[NR] = $1; b[NR] = $2; n = NR; next }
               $3 == 1 { ok = 0
                         for (i = 1; i <= n; i++) if ($5 >= a[i] && $5 <= b[i] + 10) ok = 1
                         if (!ok) print $1 }' "$D/windows" "$D/trials" | paste -sd' ')
    echo "fallback points: $(awk '$3 == 1' "$D/trials" | wc -l) of $NT${bad:+; outside the fault windows: trials $bad}"
    [ -z "$bad" ]
}
check "fallback points only while a coordinator was down or catching up" fallback_outside
echo "claims waited out: $(grep -c 'claimed and exported in [0-9]\{4,\}' "$D/log/slurmd.log")," \
     "released: $(grep -c 'released' "$D/log/slurmd.log")," \
     "spooled: $(grep -c 'spooled to' "$D/log/slurmd.log")"
echo "job states: $(for i in $(seq 0 $((TASKS - 1))); do job_state "${J}_$i"; done | sort | uniq -c | paste -sd' ')"
grep -h 'error' "$D"/log/proteind.*.log | sed 's/^[^ ]* //' | sort | uniq -c | sort -rn | head
echo "$failures failure(s)"
exit $failures
