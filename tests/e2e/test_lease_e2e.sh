#!/bin/bash
# test_lease_e2e.sh - a trial whose task outlives its lease on a real
# one-node Slurm cluster (tests/e2e/cluster.sh). In the first two cases no
# proteind runs: the next claim expires the lease. Each case asserts on
# the trials stored in Redis:
#
#   - a job suspended (scontrol suspend) past its lease, whose point a
#     second job claims again for the retry meanwhile, then resumed: the
#     first job's outcome is recorded when it ends (late, naming its
#     claim), and the second job's end leaves it as it is;
#   - a job that outlives a fixed lease (as one whose time limit was
#     raised does) with no retry left: lost, then completed at its end,
#     the budget slot taken back;
#   - with proteind asking slurmctld (--slurm on), a job suspended past
#     its lease keeps its trial: renewed, not expired, no retry; resumed,
#     it completes as any job does (not late);
#   - the same while slurmctld hangs for a while: one warning, the trial
#     kept meanwhile (a bounded grace), renewed once slurmctld answers,
#     and proteind's loop never waits on it (the coordinator lease held);
#   - a job running as a uid that is neither the sweep's owner nor the
#     claim's (both rewritten) does not keep the trial: it expires;
#   - over 256 leases due at once (more than proteind reads in a turn):
#     the trial of a suspended job among those not read is not expired;
#   - with --slurm off, the same job loses its lease as without proteind
#     (a retry queued) and its outcome is recorded late.
#
# Skips (77) without root, Slurm's daemons, redis-server or the protein
# CLI. Runs after the other e2e scripts (same ports; tests/plugin.am).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$(cd "$HERE/../.." && pwd)}
B=${top_builddir:-${PROTEIN_BUILDDIR:-$(pwd)}}
export top_builddir=$B
export PROTEIN_E2E_DIR=${PROTEIN_E2E_LEASE_DIR:-${TMPDIR:-/tmp}/protein-e2e-lease.$$}
CLUSTER=$HERE/cluster.sh
PROTEIN=$B/cli/protein

skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root to run slurmctld and slurmd"
[ -x "$PROTEIN" ] || skip "needs the protein CLI ($PROTEIN)"

failures=0

# cluster_up, wait_done, make_sweep, trial_field, wait_field, wait_line
. "$HERE/lib.sh"
cluster_up

# A fixed lease of 4 s, whatever the jobs' time limits.
"$CLUSTER" plugstack lease=4

# trial_of FILE: the trial the job printed into FILE as "trial=N".
trial_of() {
    wait_line "$1" '^trial=' || { echo "no trial in $1" >&2; return 1; }
    sed -n 's/^trial=//p' "$1"
}

# job SWEEP NAME SECONDS SCORE: submits a job that prints its trial, sleeps
# SECONDS and reports SCORE; prints its id.
job() {
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\nsleep %s\necho score=%s >> "$PROTEIN_RESULT"\n' \
        "$3" "$4" > "$OUT/$2.sh"
    sbatch --parsable --sweep="$1" -o "$OUT/$2.out" "$OUT/$2.sh"
}

# Suspended past its lease; job b's claim expires it and takes its point
# again (one retry allowed); a is resumed and ends first.
case_suspended() {
    local a b t tb
    make_sweep e2e-suspend 10 &&
        "$PROTEIN" create "$D/e2e-suspend.yaml" --name e2e-suspend-r \
            --max-retries 1 --redis "$PROTEIN_REDIS" > /dev/null || return 1
    a=$(job e2e-suspend-r a 3 1.5) || return 1
    t=$(trial_of "$OUT/a.out") || return 1
    scontrol suspend "$a" || return 1
    sleep 5
    b=$(job e2e-suspend-r b 60 9) || return 1
    tb=$(trial_of "$OUT/b.out") || return 1
    [ "$tb" = "$t" ] || { echo "job b got trial $tb, not $t's retry"; return 1; }
    [ "$(trial_field e2e-suspend-r "$t" retries)" = 1 ] || return 1
    scontrol resume "$a" || return 1
    wait_done "$a" 30 && wait_field e2e-suspend-r "$t" status completed || return 1
    [ "$(trial_field e2e-suspend-r "$t" score)" = 1.5 ] &&
        [ "$(trial_field e2e-suspend-r "$t" late_key)" = "$a" ] || return 1
    "$PROTEIN" show e2e-suspend-r "$t" | grep -q "^late  *recorded from $a after its lease expired" ||
        { "$PROTEIN" show e2e-suspend-r "$t"; return 1; }
    # b's run of the point is over: its end changes nothing
    scancel "$b"
    wait_done "$b" 30 || return 1
    sleep 1
    [ "$(trial_field e2e-suspend-r "$t" status)" = completed ] &&
        [ "$(trial_field e2e-suspend-r "$t" score)" = 1.5 ] || return 1
    grep -q "already completed (recorded from $a" "$D/log/slurmd.log" ||
        { echo "slurmd.log does not say why b's outcome was refused"; return 1; }
}
check "suspended past its lease, its point claimed again: the first job's outcome is recorded (late), the retry's end changes nothing" case_suspended

# A budget of 1 and no retry: the trial is lost when job d's claim comes
# (refused: the slot is free again, but d takes the next trial), then
# recorded when c ends; the slot is taken back.
case_outlived() {
    local c d t
    make_sweep e2e-outlive 2 || return 1
    c=$(job e2e-outlive c 8 2.5) || return 1
    t=$(trial_of "$OUT/c.out") || return 1
    sleep 5
    d=$(job e2e-outlive d 1 3) || return 1
    wait_done "$d" 30 || return 1
    [ "$(trial_field e2e-outlive "$t" status)" = lost ] || return 1
    wait_done "$c" 30 && wait_field e2e-outlive "$t" status completed || return 1
    [ "$(trial_field e2e-outlive "$t" late_key)" = "$c" ] &&
        [ "$($RCLI HGET "protein:{$U/e2e-outlive}:meta" n_lost)" = 0 ] &&
        [ "$($RCLI HGET "protein:{$U/e2e-outlive}:meta" n_completed)" = 2 ]
}
check "outlived a fixed lease with no retry left: lost, then completed at its end, the slot taken back" case_outlived

# A sweep with one retry allowed, served by proteind with OPTIONs (its
# log: $D/log/proteind.NAME.log, which says once whether it uses Slurm).
served_sweep() {
    local name=$1
    shift
    make_sweep "$name-base" 10 &&
        "$PROTEIN" create "$D/$name-base.yaml" --name "$name" \
            --max-retries 1 --redis "$PROTEIN_REDIS" > /dev/null &&
        "$CLUSTER" proteind-start "$name" "$@" &&
        wait_line "$D/log/proteind.$name.log" 'starting: .*Slurm '
}

# With proteind asking slurmctld (--slurm on): a job suspended past its
# lease keeps its trial (renewed, never expired: no retry queued, job b
# gets another trial), and after its resume records its outcome as any
# job does (not late).
case_kept() {
    local a b t tb log=$D/log/proteind.e2e-keep.log
    served_sweep e2e-keep --slurm on || { cat "$log"; return 1; }
    grep -q 'Slurm on (libslurm' "$log" || { cat "$log"; return 1; }
    a=$(job e2e-keep ka 3 1.5) || return 1
    t=$(trial_of "$OUT/ka.out") || return 1
    scontrol suspend "$a" || return 1
    sleep 10
    [ "$(trial_field e2e-keep "$t" status)" = running ] &&
        [ "$(trial_field e2e-keep "$t" retries)" = 0 ] ||
        { echo "trial $t: $(trial_field e2e-keep "$t" status), $(trial_field e2e-keep "$t" error)"; return 1; }
    grep -q "trial $t: job $a is SUSPENDED: lease renewed" "$log" ||
        { cat "$log"; return 1; }
    b=$(job e2e-keep kb 1 9) || return 1
    tb=$(trial_of "$OUT/kb.out") || return 1
    [ "$tb" != "$t" ] || { echo "job b got trial $t again"; return 1; }
    scontrol resume "$a" || return 1
    wait_done "$a" 30 && wait_field e2e-keep "$t" status completed || return 1
    [ "$(trial_field e2e-keep "$t" score)" = 1.5 ] &&
        [ -z "$(trial_field e2e-keep "$t" late_key)" ] &&
        [ "$(trial_field e2e-keep "$t" attempts)" = 1 ] || return 1
    ! "$PROTEIN" show e2e-keep "$t" | grep -q '^late ' || return 1
    wait_done "$b" 30 && wait_field e2e-keep "$tb" status completed || return 1
    [ "$($RCLI HGET "protein:{$U/e2e-keep}:meta" n_lost)" = 0 ] &&
        [ "$($RCLI LLEN "protein:{$U/e2e-keep}:retry")" = 0 ] || return 1
    # one job due at a time: asked about alone, the job table never read
    "$CLUSTER" proteind-stop e2e-keep
    grep -o 'Slurm: [0-9]* slurm_load_job and [0-9]* slurm_load_jobs calls made' "$log" ||
        { tail -3 "$log"; return 1; }
    grep -q 'Slurm: [1-9][0-9]* slurm_load_job and 0 slurm_load_jobs calls' "$log"
}
check "proteind with Slurm: a job suspended past its lease keeps its trial, no retry; resumed, it completes (not late); only its job asked about" case_kept

# coordinator_held SWEEP SECONDS: the sweep's coordinator lease (5 s,
# renewed every 1.7 s by proteind's loop) is held all along, sampled every
# 0.2 s.
coordinator_held() {
    local n=$(( $2 * 5 )) ttl
    while [ $n -gt 0 ]; do
        ttl=$($RCLI PTTL "protein:{$U/$1}:coordinator")
        [ "$ttl" -gt 0 ] 2>/dev/null ||
            { echo "coordinator lease of $1 not held (PTTL $ttl)"; return 1; }
        sleep 0.2; n=$((n - 1))
    done
}

# slurmctld hung (SIGSTOP) while a job is suspended past its lease: the
# call proteind's Slurm thread makes waits out its timeout and says so
# once while proteind's loop goes on (the sweep's coordinator lease stays
# held: a loop that waited on slurmctld let it lapse), the trial is kept
# (the grace), and once slurmctld answers again its lease is renewed and
# the job, resumed, completes as any job does.
case_silent() {
    local a t ok=1 ctld log=$D/log/proteind.e2e-silent.log
    served_sweep e2e-silent --slurm on || { cat "$log"; return 1; }
    a=$(job e2e-silent sa 3 3.5) || return 1
    t=$(trial_of "$OUT/sa.out") || return 1
    scontrol suspend "$a" || return 1
    wait_line "$log" "trial $t: job $a is SUSPENDED: lease renewed" ||
        { cat "$log"; return 1; }
    ctld=$(cat "$D/slurmctld.pid")
    kill -STOP "$ctld"
    coordinator_held e2e-silent 15 || ok=0
    wait_line "$log" 'warning: slurmctld does not answer' 45 || ok=0
    ! grep -q 'lease lapsed' "$log" || ok=0
    sleep 5
    [ "$(trial_field e2e-silent "$t" status)" = running ] &&
        [ "$(trial_field e2e-silent "$t" retries)" = 0 ] || ok=0
    kill -CONT "$ctld"
    [ $ok = 1 ] || { cat "$log"; return 1; }
    wait_line "$log" 'slurmctld answers again' 60 || { cat "$log"; return 1; }
    [ "$(grep -c 'slurmctld does not answer' "$log")" = 1 ] || return 1
    scontrol resume "$a" || return 1
    wait_done "$a" 30 && wait_field e2e-silent "$t" status completed || return 1
    [ -z "$(trial_field e2e-silent "$t" late_key)" ] &&
        [ "$(trial_field e2e-silent "$t" retries)" = 0 ] || return 1
    "$CLUSTER" proteind-stop e2e-silent
    grep -o 'Slurm: .* calls made' "$log"
}
check "proteind with Slurm, slurmctld hung: one warning, the suspended job's trial kept, renewed once slurmctld answers; it completes (not late)" case_silent

# A job runs, but not as anyone the trial trusts: the trial's claim uid
# and the sweep's owner_uid (which the owner can write) rewritten to
# another uid. proteind does not keep the trial alive for a job of
# another user: the lease expires as without Slurm (a retry queued).
case_untrusted() {
    local a t ok=1 log=$D/log/proteind.e2e-trust.log
    served_sweep e2e-trust --slurm on || { cat "$log"; return 1; }
    a=$(job e2e-trust ta 30 1) || return 1
    t=$(trial_of "$OUT/ta.out") &&
        [ "$(trial_field e2e-trust "$t" uid)" = "$(id -u)" ] &&
        $RCLI HSET "protein:{$U/e2e-trust}:trial:$t" uid 4242 > /dev/null &&
        $RCLI HSET "protein:{$U/e2e-trust}:meta" owner_uid 4242 > /dev/null &&
        wait_field e2e-trust "$t" status queued 15 &&
        [ "$(job_state "$a")" = RUNNING ] &&
        ! grep -q "trial $t: job $a is RUNNING: lease renewed" "$log" ||
        { cat "$log"; ok=0; }
    scancel "$a"
    wait_done "$a" 30 && [ $ok = 1 ]
}
check "proteind with Slurm: a running job of a uid the trial does not trust keeps nothing (expired, a retry queued)" case_untrusted

# More trials due at once than proteind reads in a turn (256): 256
# claims of jobs slurmctld does not know, and a job suspended, their
# leases then set to fall due together, the 256 first. The trial not
# read that turn is not expired unasked: the 256 expire, then the
# suspended job's trial is read and renewed (running, no retry).
case_many_due() {
    local a t i ok=1 log=$D/log/proteind.e2e-many.log
    make_sweep e2e-many-base 400 &&
        "$PROTEIN" create "$D/e2e-many-base.yaml" --name e2e-many \
            --max-retries 1 --redis "$PROTEIN_REDIS" > /dev/null &&
        "$CLUSTER" proteind-start e2e-many --slurm on &&
        wait_line "$log" 'starting: .*Slurm on' || { cat "$log"; return 1; }
    for i in $(seq 1 256); do
        $RCLI FCALL protein_claim 1 "protein:{$U/e2e-many}:meta" \
            "$((3000000 + i))" "$(id -u)" "" 0 e2e 120 1 \
            "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" "$U" \
            > /dev/null || return 1
    done
    a=$(job e2e-many ma 3 4.5) || return 1
    t=$(trial_of "$OUT/ma.out") || return 1
    scontrol suspend "$a" || return 1
    $RCLI EVAL "local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
        for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
          if id ~= ARGV[1] then redis.call('ZADD', KEYS[1], s - 1, id) end
        end" 1 "protein:{$U/e2e-many}:leases" "$t" > /dev/null || return 1
    sleep 12
    [ "$(trial_field e2e-many "$t" status)" = running ] &&
        [ "$(trial_field e2e-many "$t" retries)" = 0 ] ||
        { echo "trial $t: $(trial_field e2e-many "$t" status), $(trial_field e2e-many "$t" error)"; ok=0; }
    grep -q "trial $t: job $a is SUSPENDED: lease renewed" "$log" || { cat "$log"; ok=0; }
    scancel "$a"
    wait_done "$a" 30
    "$CLUSTER" proteind-stop e2e-many
    [ $ok = 1 ]
}
check "proteind with Slurm, over 256 leases due at once: a suspended job's trial not read that turn is not expired unasked" case_many_due

# The same with --slurm off: the lease expires as it always did (a
# retry queued), and the resumed job's outcome is recorded late.
case_not_asked() {
    local a t log=$D/log/proteind.e2e-nokeep.log
    served_sweep e2e-nokeep --slurm off || { cat "$log"; return 1; }
    grep -q 'Slurm off (--slurm off)' "$log" || { cat "$log"; return 1; }
    a=$(job e2e-nokeep na 3 2.5) || return 1
    t=$(trial_of "$OUT/na.out") || return 1
    scontrol suspend "$a" || return 1
    wait_field e2e-nokeep "$t" status queued 15 || return 1
    ! grep -q "lease renewed" "$log" || return 1
    scontrol resume "$a" || return 1
    wait_done "$a" 30 && wait_field e2e-nokeep "$t" status completed || return 1
    [ "$(trial_field e2e-nokeep "$t" late_key)" = "$a" ]
}
check "proteind with --slurm off: a job suspended past its lease loses it (a retry queued), its outcome recorded late" case_not_asked

[ "$(node_state)" = idle ] || fail "node left in state $(node_state)"
echo "$failures failure(s)"
[ $failures -eq 0 ]
