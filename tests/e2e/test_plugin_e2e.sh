#!/bin/bash
# test_plugin_e2e.sh - spank_protein.so on a real one-node Slurm cluster
# (tests/e2e/cluster.sh): every case asserts on job outcomes and on the
# trials stored in Redis. Skips (77) without root, Slurm's daemons or
# redis-server; the cases that need the protein CLI or proteind skip
# themselves (and say so) when those are not built.
#
# Cases: --sweep in sbatch, srun and salloc --help; malformed, unknown,
# stopped and foreign --sweep refused (command line, #SBATCH line, srun,
# salloc); a job without --sweep untouched (no PROTEIN_* variable, no Redis
# connection); bad plugstack keys refused; Redis down (submit warns; the task
# fails fast with a message, the node stays up, a later job runs); exit 3 ->
# failed 3; no score -> failed "no result"; the result file private under a
# fresh name (planted files and symlinks harmless); scancel -> interrupted; protein
# cancel -> the sweep's jobs scancelled (a requeued one, pending, too);
# requeue -> same trial (after protein stop too: resumed and completed);
# srun inside
# the task -> same trial; the plugin loaded by two plugstack lines -> one
# trial, completed; a 32-task array (%8), proteind given the bare
# sweep name -> 32 distinct completed trials, none a fallback point, the
# best beating the Sobol warm-up's best; proteind down -> fallback
# points, back -> model points again; early_terminate (hyperband) and
# metric.target in an sbatch array, with protein report and with a W&B
# script under protein exec.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$(cd "$HERE/../.." && pwd)}
B=${top_builddir:-${PROTEIN_BUILDDIR:-$(pwd)}}
export top_builddir=$B
export PROTEIN_E2E_DIR=${PROTEIN_E2E_DIR:-${TMPDIR:-/tmp}/protein-e2e.$$}
CLUSTER=$HERE/cluster.sh
PROTEIN=$B/cli/protein

failures=0

# cluster_up, job_state, job_exit, wait_done, wait_line, trial_field,
# wait_field, make_sweep
. "$HERE/lib.sh"
cluster_up

# ------------------------------------------------------------ helpers

# wait_running JOBID: until the job runs.
wait_running() {
    local n=200
    while [ $n -gt 0 ]; do
        [ "$(job_state "$1")" = RUNNING ] && return 0
        sleep 0.1; n=$((n - 1))
    done
    return 1
}

# node_up: the node takes jobs (idle, or running the time-limit case's job
# beside them), neither drained nor down
node_up() { case "$(node_state)" in idle | mix | alloc) return 0 ;; *) return 1 ;; esac; }

# ------------------------------------------------------------ no sweep needed

case_help() {
    local cmd
    for cmd in sbatch srun salloc; do
        $cmd --help 2>&1 | grep -q -- '--sweep=NAME.*\[protein\]' || { echo "not in $cmd --help"; return 1; }
    done
}
check "--sweep shown in sbatch, srun and salloc --help, tagged [protein]" case_help

case_bad_names() {
    local after ok=0 msg
    msg=$(sbatch --sweep='bad name' --wrap true 2>&1) && ok=1
    echo "$msg" | grep -q "protein: --sweep='bad name': a sweep name is" || ok=1
    printf '#!/bin/sh\n#SBATCH --sweep=-x\ntrue\n' > "$OUT/badline.sh"
    msg=$(sbatch "$OUT/badline.sh" 2>&1) && ok=1
    echo "$msg" | grep -q "protein: --sweep='-x'" || ok=1
    msg=$(timeout 10 srun --sweep='a;b' true 2>&1) && ok=1
    echo "$msg" | grep -q "protein: --sweep='a;b'" || ok=1
    msg=$(timeout 10 salloc --sweep='bad name!' true 2>&1) && ok=1
    echo "$msg" | grep -q "protein: --sweep='bad name!'" || ok=1
    msg=$(sbatch --sweep=no-such-sweep --wrap true 2>&1) && ok=1
    echo "$msg" | grep -q "protein: --sweep=no-such-sweep: no such sweep" || ok=1
    msg=$(timeout 10 salloc --sweep=no-such-sweep true 2>&1) && ok=1
    echo "$msg" | grep -q "protein: --sweep=no-such-sweep: no such sweep" || ok=1
    after=$(squeue -h | wc -l)
    [ "$after" -eq 0 ] && [ $ok -eq 0 ]
}
check "malformed and unknown --sweep refused, nothing submitted" case_bad_names

case_no_sweep() {
    local conns1 conns2 j
    conns1=$($RCLI INFO stats | sed -n 's/^total_connections_received:\([0-9]*\).*/\1/p')
    j=$(sbatch --parsable -o "$OUT/nosweep.out" --wrap 'env | grep -c -E "^PROTEIN_(SWEEP|TRIAL|PARAM|ARGS|RESULT|TOKEN)"; true') || return 1
    wait_done "$j" || return 1
    conns2=$($RCLI INFO stats | sed -n 's/^total_connections_received:\([0-9]*\).*/\1/p')
    # conns2 counts this redis-cli call itself.
    [ "$(job_state "$j")" = COMPLETED ] && [ "$(head -1 "$OUT/nosweep.out")" = 0 ] &&
        [ "$conns2" -eq $((conns1 + 1)) ]
}
check "a job without --sweep runs untouched, no Redis connection" case_no_sweep

case_bad_plugstack() {
    local msg j ok=0
    "$CLUSTER" plugstack bogus_key=1
    msg=$(sbatch --parsable -o /dev/null --wrap true 2>&1)
    echo "$msg" | grep -q "protein: unknown plugstack argument 'bogus_key'" || ok=1
    j=$(echo "$msg" | tail -1)
    wait_done "$j" && [ "$(job_state "$j")" = COMPLETED ] || ok=1
    "$CLUSTER" plugstack lease_margin=soon
    msg=$(sbatch --sweep=x --wrap true 2>&1) && ok=1
    echo "$msg" | grep -q "protein: plugstack argument 'lease_margin': bad value 'soon'" || ok=1
    # the line already sets claim_timeout
    "$CLUSTER" plugstack claim_timeout=3
    msg=$(sbatch --sweep=x --wrap true 2>&1) && ok=1
    echo "$msg" | grep -q "protein: plugstack argument 'claim_timeout' is given twice" || ok=1
    "$CLUSTER" plugstack
    [ $ok -eq 0 ]
}
check "bad plugstack keys refused with a clear message; other jobs still run" case_bad_plugstack

# ------------------------------------------------------------ sweeps

# finish [SKIPPED-REASON]: the exit status: 1 on failures, else 77 (skip)
# when a group of cases could not run, else 0.
finish() {
    [ "$(node_state)" = idle ] || fail "node left in state $(node_state)"
    echo "$failures failure(s)"
    [ $failures -eq 0 ] || exit 1
    [ $# -eq 0 ] || { echo "SKIP: $1"; exit 77; }
    exit 0
}

make_sweep e2e-outcomes 1000
case $? in
0) ;;
1) finish "the cases with sweeps need the protein CLI ($PROTEIN)" ;;
*) fail "protein create"; finish ;;
esac


case_refused_sweeps() {
    local msg ok=0
    make_sweep e2e-stopped 10 || return 1
    "$PROTEIN" stop e2e-stopped --redis "$PROTEIN_REDIS" > /dev/null || return 1
    msg=$(sbatch --sweep=e2e-stopped --wrap true 2>&1) && ok=1
    echo "$msg" | grep -q "protein: --sweep=e2e-stopped: the sweep is stopped" || ok=1
    # e2e-outcomes belongs to root and is not shared.
    msg=$(su nobody -s /bin/sh -c "SLURM_CONF=$SLURM_CONF PROTEIN_REDIS=$PROTEIN_REDIS \
        sbatch --sweep=$U/e2e-outcomes -o /dev/null --wrap true" 2>&1) && ok=1
    echo "$msg" | grep -q "protein: --sweep=$U/e2e-outcomes: the sweep belongs to another user and is not shared" || ok=1
    [ $ok -eq 0 ] && [ "$(squeue -h | wc -l)" -eq 0 ]
}
check "stopped and foreign sweeps refused at submission" case_refused_sweeps

case_redis_down() {
    local msg j ok=0 later
    "$CLUSTER" redis-stop
    msg=$(sbatch --parsable --sweep=e2e-outcomes -o "$OUT/down.out" --wrap 'echo ran' 2>&1) || ok=1
    echo "$msg" | grep -q "protein: warning: could not check sweep 'e2e-outcomes'" || ok=1
    j=$(echo "$msg" | tail -1)
    # requeued (on_redis_down=requeue, the default), held by Slurm
    wait_requeued "$j" 1 || ok=1
    grep -q "protein: cannot claim a trial of sweep 'e2e-outcomes': cannot connect to Redis at redis://.*; requeued (1 of 5)" "$OUT/down.out" || ok=1
    grep -q '^ran' "$OUT/down.out" && ok=1
    node_up || { echo "node is $(node_state)"; ok=1; }
    later=$(sbatch --parsable -o /dev/null --wrap true)
    wait_done "$later" && [ "$(job_state "$later")" = COMPLETED ] || ok=1
    scancel "$j"
    wait_done "$j" 15 || ok=1
    "$CLUSTER" redis-start
    make_sweep e2e-outcomes 1000 > /dev/null || ok=1
    [ $ok -eq 0 ]
}
check "Redis down: submit warns, the task is requeued with a message, node not drained" case_redis_down

# slurmctld and Redis both hung when a batch script fails: the plugin's
# question to slurmctld (did an srun step run out of memory?) waits out
# its RPC timeouts, and the outcome's retries then get only what is left
# of outcome_retry (30 s here; a try 2.5 s), so task exit ends within
# outcome_retry plus one try of the script's end and spools the outcome:
# far below Slurm's UnkillableStepTimeout (60 s), which drains the node.
# (Before, outcome_retry counted from after slurmctld's 20 s: 50 s.) The
# outcome is replayed by the next task that ends on the node.
case_ctld_and_redis_hung() {
    local j t n ended spooled took ok=0 later
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\nsleep 4\ndate +end=%%s.%%N\nexit 1\n' > "$OUT/hung.sh"
    j=$(sbatch --parsable --sweep=e2e-outcomes -o "$OUT/hung.out" "$OUT/hung.sh") || return 1
    wait_line "$OUT/hung.out" '^trial=' || return 1
    t=$(sed -n 's/^trial=//p' "$OUT/hung.out")
    kill -STOP "$(cat "$D/slurmctld.pid")"
    "$CLUSTER" redis-freeze
    n=700
    while [ $n -gt 0 ] && ! grep -q "protein: sweep $U/e2e-outcomes trial $t: Redis unreachable.*spooled" "$D/log/slurmd.log"; do
        sleep 0.1; n=$((n - 1))
    done
    kill -CONT "$(cat "$D/slurmctld.pid")"
    "$CLUSTER" redis-thaw
    ended=$(sed -n 's/^end=//p' "$OUT/hung.out")
    spooled=$(grep "protein: sweep $U/e2e-outcomes trial $t: Redis unreachable.*spooled" "$D/log/slurmd.log" |
              sed -n 's/^\[\([^]]*\)\].*/\1/p' | head -1)
    [ -n "$ended" ] && [ -n "$spooled" ] || { echo "end '$ended', spooled at '$spooled'"; return 1; }
    took=$(awk -v a="$(date -d "$spooled" +%s.%N)" -v b="$ended" 'BEGIN { printf "%.1f", a - b }')
    echo "task exit took $took s after the script's end"
    awk -v t="$took" 'BEGIN { exit !(t < 35) }' || ok=1
    wait_done "$j" 30 || ok=1
    node_up || { echo "node is $(node_state)"; ok=1; }
    later=$(sbatch --parsable --sweep=e2e-outcomes -o /dev/null --wrap 'echo score=1 > $PROTEIN_RESULT') || ok=1
    wait_done "$later" || ok=1
    wait_field e2e-outcomes "$t" status failed || ok=1
    [ "$(trial_field e2e-outcomes "$t" error)" = "exit status 1" ] || ok=1
    [ $ok -eq 0 ]
}
check "slurmctld and Redis hung at a failed task's end: task exit within outcome_retry plus one try, outcome spooled and replayed, node not drained" case_ctld_and_redis_hung

# A job killed by its time limit (a minute, Slurm's least), submitted now
# (Redis stays up from here on) so that its minute passes during the other
# cases; case_time_limit at the end checks it.
make_sweep e2e-timelimit 10 || fail "protein create e2e-timelimit"
printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\nsleep 300\n' > "$OUT/timelimit.sh"
TIMELIMIT_JOB=$(sbatch --parsable --time=1 --sweep=e2e-timelimit -o "$OUT/timelimit.out" \
    "$OUT/timelimit.sh")
# ... and one scancelled then, more than a minute after it started (when
# slurmctld's end time for it is "now", and libslurm no longer answers
# from what it learnt at the claim): interrupted, not a time limit
LATECANCEL_JOB=$(sbatch --parsable --time=10 --sweep=e2e-timelimit -o "$OUT/latecancel.out" \
    "$OUT/timelimit.sh")

# run_outcome SCRIPT: runs a one-task job on e2e-outcomes; prints "JOB TRIAL".
run_outcome() {
    local name=$1 j
    j=$(sbatch --parsable --sweep=e2e-outcomes -o "$OUT/$name.out" "$OUT/$name.sh") || return 1
    wait_done "$j" || return 1
    echo "$j $(sed -n 's/^trial=//p' "$OUT/$name.out")"
}

case_exit3() {
    local j t
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\necho score=1 >> "$PROTEIN_RESULT"\nexit 3\n' > "$OUT/exit3.sh"
    read -r j t < <(run_outcome exit3)
    [ -n "$t" ] && [ "$(trial_field e2e-outcomes "$t" status)" = failed ] &&
        [ "$(trial_field e2e-outcomes "$t" exit_status)" = 3 ] &&
        [ "$(job_exit "$j")" = 3:0 ]
}
check "a task exiting 3: trial failed with status 3" case_exit3

case_no_score() {
    local j t
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\n' > "$OUT/noscore.sh"
    read -r j t < <(run_outcome noscore)
    [ -n "$t" ] && [ "$(trial_field e2e-outcomes "$t" status)" = failed ] &&
        trial_field e2e-outcomes "$t" error | grep -q '^no result'
}
check "exit 0 without a score: trial failed \"no result\"" case_no_score

case_completed_and_srun() {
    local j t inner
    cat > "$OUT/ok.sh" <<'EOF'
#!/bin/sh
echo trial=$PROTEIN_TRIAL
echo inner=$(srun -n1 sh -c 'echo $PROTEIN_TRIAL')
case "$PROTEIN_PARAMS" in "{"*"}") ;; *) exit 9 ;; esac
[ -n "$PROTEIN_PARAM_LR" ] || exit 8
echo "score=0.25" >> "$PROTEIN_RESULT"
echo "cost=42" >> "$PROTEIN_RESULT"
EOF
    read -r j t < <(run_outcome ok)
    inner=$(sed -n 's/^inner=//p' "$OUT/ok.out")
    [ -n "$t" ] && [ "$inner" = "$t" ] &&
        grep -q "^protein: sweep $U/e2e-outcomes trial $t" "$OUT/ok.out" &&
        [ "$(trial_field e2e-outcomes "$t" status)" = completed ] &&
        [ "$(trial_field e2e-outcomes "$t" score)" = 0.25 ] &&
        [ "$(trial_field e2e-outcomes "$t" cost)" = 42 ] &&
        [ "$(trial_field e2e-outcomes "$t" attempts)" = 1 ] &&
        [ "$(trial_field e2e-outcomes "$t" lease_seconds)" = 86400 ]
}
# The partition's MaxTime is INFINITE and the job asks no --time: its
# trial gets the sweep's lease (a day), not the year slurmctld gives such
# a job as its end time.
check "completed with score and cost; an srun step inside sees the same trial; no time limit: the sweep's lease" case_completed_and_srun

# A time limit of a year is a limit, not none: slurmctld's INFINITE (the
# job's time_limit) says which, where the end's distance cannot (an
# unlimited job's end is a year after its start, so a step that claims a
# day later sees less than a year left).
case_year_limit() {
    local j t lease
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\necho score=1 >> "$PROTEIN_RESULT"\n' > "$OUT/year.sh"
    j=$(sbatch --parsable --time=365-00:00:00 --sweep=e2e-outcomes -o "$OUT/year.out" \
        "$OUT/year.sh") || return 1
    wait_done "$j" || return 1
    t=$(sed -n 's/^trial=//p' "$OUT/year.out")
    lease=$(trial_field e2e-outcomes "$t" lease_seconds)
    [ -n "$t" ] && [ "${lease:-0}" -gt $((364 * 86400)) ] &&
        [ "$lease" -le $((365 * 86400 + 600)) ]
}
check "a time limit of a year: the trial's lease is that limit" case_year_limit

# sbatch --export=NONE (sites that require it): Slurm passes --sweep to
# the batch step only in the job's SPANK environment; the batch step claims
# from there, and an srun step inside (which inherits --export=NONE, so
# sees no PROTEIN_* variable) claims no trial of its own and says why.
case_export_none() {
    local j t before after
    cat > "$OUT/exnone.sh" <<'EOF'
#!/bin/sh
echo trial=$PROTEIN_TRIAL
/usr/bin/srun -n1 /bin/sh -c 'echo inner=${PROTEIN_TRIAL:-none}'
echo "score=0.5" >> "$PROTEIN_RESULT"
EOF
    before=$($RCLI HGET "protein:{$U/e2e-outcomes}:meta" n_trials)
    j=$(sbatch --parsable --export=NONE --sweep=e2e-outcomes -o "$OUT/exnone.out" \
        "$OUT/exnone.sh") || return 1
    wait_done "$j" || return 1
    t=$(sed -n 's/^trial=//p' "$OUT/exnone.out")
    after=$($RCLI HGET "protein:{$U/e2e-outcomes}:meta" n_trials)
    echo "export=NONE: trial '$t', trials handed out $before -> $after"
    [ -n "$t" ] && [ "$after" = $((before + 1)) ] &&
        grep -q "^inner=none" "$OUT/exnone.out" &&
        grep -q "protein: this step shares trial $t of sweep $U/e2e-outcomes" "$OUT/exnone.out" &&
        [ "$(trial_field e2e-outcomes "$t" status)" = completed ] &&
        [ "$(trial_field e2e-outcomes "$t" score)" = 0.5 ]
}
check "sbatch --export=NONE: the batch step claims; an srun step inside claims nothing" case_export_none

# An admin who appends the protein line to plugstack.conf, which already
# includes plugstack.conf.d (as Debian's does), loads the plugin twice:
# sbatch says so, and the job (with its srun step) runs one trial to its
# end (slurmstepd crashed before).
case_listed_twice() {
    local j t msg ok=0
    cp "$D/plugstack.conf" "$OUT/plugstack.conf.saved"
    cat "$D/plugstack.conf.d/protein.conf" >> "$D/plugstack.conf"
    msg=$(sbatch --parsable --sweep=e2e-outcomes -o "$OUT/twice.out" "$OUT/ok.sh" 2>&1)
    echo "$msg" | grep -q "protein: spank_protein.so is loaded by more than one plugstack.conf line" ||
        { echo "sbatch said: $msg"; ok=1; }
    j=$(echo "$msg" | tail -1)
    wait_done "$j" || ok=1
    cp "$OUT/plugstack.conf.saved" "$D/plugstack.conf"
    t=$(sed -n 's/^trial=//p' "$OUT/twice.out")
    [ $ok -eq 0 ] && [ -n "$t" ] && [ "$(job_state "$j")" = COMPLETED ] &&
        [ "$(grep -c "^protein: sweep $U/e2e-outcomes trial $t" "$OUT/twice.out")" = 1 ] &&
        [ "$(sed -n 's/^inner=//p' "$OUT/twice.out")" = "$t" ] &&
        [ "$(trial_field e2e-outcomes "$t" status)" = completed ] &&
        [ "$(trial_field e2e-outcomes "$t" score)" = 0.25 ]
}
check "the plugin loaded by two plugstack lines: a warning at submission, one trial run to its end" case_listed_twice

# The result file sits in a per-user directory (mode 0700) under a fresh
# name; another user's files at the old predictable name and a symlink at
# the per-user directory change nothing: the job completes with its score
# (and cost 1, since it reports none).
case_result_private() {
    local j t uid dir mode decoy=$D/results/decoy
    uid=$(id -u)
    dir=$D/results/protein-$uid
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\necho result=$PROTEIN_RESULT\necho score=0.5 >> "$PROTEIN_RESULT"\n' > "$OUT/private.sh"
    read -r j t < <(run_outcome private)
    mode=$(stat -c %a "$dir")
    grep -q "^result=$dir/protein\.$j\.[0-9a-f]\{16\}\.result\$" "$OUT/private.out" &&
        [ "$mode" = 700 ] && [ "$(trial_field e2e-outcomes "$t" score)" = 0.5 ] &&
        [ "$(trial_field e2e-outcomes "$t" cost)" = 1 ] || return 1
    # Planted: the old names of the next jobs, and the directory as a symlink.
    mkdir -p "$decoy" && chmod 777 "$decoy" || return 1
    mv "$dir" "$dir.moved" && ln -s "$decoy" "$dir" || return 1
    for n in 1 2 3 4 5; do echo score=666 > "$D/results/protein.$((j + n)).result"; done
    read -r j t < <(run_outcome private)
    rm -f "$dir" && mv "$dir.moved" "$dir"
    [ -n "$t" ] && [ "$(trial_field e2e-outcomes "$t" status)" = completed ] &&
        [ "$(trial_field e2e-outcomes "$t" score)" = 0.5 ] &&
        [ -z "$(ls -A "$decoy")" ] &&
        grep -q "^result=$dir\.[A-Za-z0-9]\{6\}/protein\.$j\." "$OUT/private.out" &&
        ! ls -d "$dir".?????? 2>/dev/null | grep -q .
}
check "result file private, fresh name; planted files and symlinks change nothing" case_result_private

case_scancel() {
    local j t
    # exec: the task is the process scancel kills (a shell waiting for its
    # child may instead see the child die and exit 143 itself: "failed").
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\nexec sleep 60\n' > "$OUT/cancel.sh"
    j=$(sbatch --parsable --sweep=e2e-outcomes -o "$OUT/cancel.out" "$OUT/cancel.sh") || return 1
    wait_line "$OUT/cancel.out" '^trial=' || return 1
    t=$(sed -n 's/^trial=//p' "$OUT/cancel.out")
    scancel "$j"
    wait_done "$j" || return 1
    [ -n "$t" ] && wait_field e2e-outcomes "$t" status interrupted
}
check "scancel: trial interrupted" case_scancel

case_cancel() {
    local j n=100
    make_sweep e2e-cancel 4 || return 1
    j=$(sbatch --parsable --array=0-1 --sweep=e2e-cancel -o /dev/null --wrap "exec sleep 60") || return 1
    while [ $n -gt 0 ] && [ "$($RCLI HGET "protein:{$U/e2e-cancel}:trial:2" status)" != running ]; do
        sleep 0.1; n=$((n - 1))
    done
    "$PROTEIN" cancel e2e-cancel --redis "$PROTEIN_REDIS" > "$OUT/cancel-sweep.out" 2>&1 || return 1
    wait_done "$j" || return 1
    echo "cancel: $(cat "$OUT/cancel-sweep.out" | tr '\n' ' ')" \
        "jobs $(job_state "${j}_0") $(job_state "${j}_1")"
    grep -q '^scancel sent for 2 of 2 running or interrupted trials' "$OUT/cancel-sweep.out" &&
        [ "$(job_state "${j}_0")" = CANCELLED ] && [ "$(job_state "${j}_1")" = CANCELLED ] &&
        wait_field e2e-cancel 1 status interrupted &&
        wait_field e2e-cancel 2 status interrupted &&
        "$PROTEIN" status e2e-cancel --redis "$PROTEIN_REDIS" | head -n 1 | grep -q 'stopped'
}
check "protein cancel: the sweep stops, its running array tasks are scancelled, trials interrupted" case_cancel

case_requeue() {
    local j t1 t2 n=100
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL >> %s/requeue.trials\nsleep 60\n' "$OUT" > "$OUT/requeue.sh"
    j=$(sbatch --parsable --requeue --sweep=e2e-outcomes -o /dev/null "$OUT/requeue.sh") || return 1
    wait_line "$OUT/requeue.trials" '^trial=' || return 1
    scontrol requeue "$j"
    # Slurm holds a requeued job back for two minutes (EligibleTime): release
    # it, but not within the second its first run's credential was revoked:
    # slurmd refuses a credential from that second ("Job credential
    # revoked") and the job fails instead of starting.
    while [ $n -gt 0 ] && [ "$(job_state "$j")" != PENDING ]; do sleep 0.1; n=$((n - 1)); done
    scontrol update jobid="$j" starttime=now+2
    # Up to a minute: on a loaded machine the scheduler may take a while.
    n=300
    while [ $n -gt 0 ] && [ "$(wc -l < "$OUT/requeue.trials")" -lt 2 ]; do sleep 0.2; n=$((n - 1)); done
    t1=$(sed -n '1s/^trial=//p' "$OUT/requeue.trials")
    t2=$(sed -n '2s/^trial=//p' "$OUT/requeue.trials")
    scancel "$j"; wait_done "$j"
    echo "requeue: trials '$t1' '$t2'"
    [ -n "$t1" ] && [ "$t1" = "$t2" ] && [ "$(trial_field e2e-outcomes "$t1" attempts)" = 2 ]
}
check "scontrol requeue: the same trial back" case_requeue

# protein stop, then the running job requeued (as preemption or the
# plugin's requeue on a Redis outage do): its task resumes the trial,
# interrupted by the requeue, and records it completed; the stopped sweep
# hands out no other trial.
case_requeue_after_stop() {
    local j t1 t2 n=100
    make_sweep e2e-stopreq 10 || return 1
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL >> %s/stopreq.trials\n[ "${SLURM_RESTART_COUNT:-0}" -ge 1 ] && { echo score=0.5 >> "$PROTEIN_RESULT"; exit 0; }\nsleep 60\n' "$OUT" > "$OUT/stopreq.sh"
    j=$(sbatch --parsable --requeue --sweep=e2e-stopreq -o /dev/null "$OUT/stopreq.sh") || return 1
    wait_line "$OUT/stopreq.trials" '^trial=' || return 1
    "$PROTEIN" stop e2e-stopreq --redis "$PROTEIN_REDIS" > /dev/null || return 1
    scontrol requeue "$j"
    # released from Slurm's hold as in case_requeue
    while [ $n -gt 0 ] && [ "$(job_state "$j")" != PENDING ]; do sleep 0.1; n=$((n - 1)); done
    scontrol update jobid="$j" starttime=now+2
    wait_done "$j" 90 || { scancel "$j"; return 1; }
    t1=$(sed -n '1s/^trial=//p' "$OUT/stopreq.trials")
    t2=$(sed -n '2s/^trial=//p' "$OUT/stopreq.trials")
    echo "requeue after stop: trials '$t1' '$t2', $(trial_field e2e-stopreq "$t1" status)"
    [ -n "$t1" ] && [ "$t1" = "$t2" ] &&
        [ "$(trial_field e2e-stopreq "$t1" status)" = completed ] &&
        [ "$(trial_field e2e-stopreq "$t1" attempts)" = 2 ] &&
        [ "$($RCLI HGET "protein:{$U/e2e-stopreq}:meta" state)" = stopped ] &&
        [ "$($RCLI HGET "protein:{$U/e2e-stopreq}:meta" n_trials)" = 1 ]
}
check "protein stop, then scontrol requeue: the running trial resumes and completes" case_requeue_after_stop

# A job requeued (preemption, scontrol requeue) and pending holds an
# interrupted trial that a stopped sweep lets it resume: protein cancel
# scancels that job too, so that it never runs the trial.
case_cancel_requeued() {
    local j n=100
    make_sweep e2e-cancelq 10 || return 1
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL >> %s/cancelq.trials\nsleep 60\n' "$OUT" > "$OUT/cancelq.sh"
    j=$(sbatch --parsable --requeue --sweep=e2e-cancelq -o /dev/null "$OUT/cancelq.sh") || return 1
    wait_line "$OUT/cancelq.trials" '^trial=' || return 1
    scontrol requeue "$j"
    while [ $n -gt 0 ] && [ "$(job_state "$j")" != PENDING ]; do sleep 0.1; n=$((n - 1)); done
    wait_field e2e-cancelq 1 status interrupted || { scancel "$j"; return 1; }
    "$PROTEIN" cancel e2e-cancelq --redis "$PROTEIN_REDIS" > "$OUT/cancelq.out" 2>&1 ||
        { scancel "$j"; return 1; }
    wait_done "$j" 15 || { scancel "$j"; return 1; }
    echo "cancel of a requeued job: $(tr '\n' ' ' < "$OUT/cancelq.out") job $(job_state "$j")"
    grep -q '^scancel sent for 1 of 1 running or interrupted trials' "$OUT/cancelq.out" &&
        [ "$(job_state "$j")" = CANCELLED ] &&
        [ "$(wc -l < "$OUT/cancelq.trials")" -eq 1 ] &&
        [ "$(trial_field e2e-cancelq 1 status)" = interrupted ]
}
check "protein cancel: a requeued job, pending, of an interrupted trial is scancelled too" case_cancel_requeued

# W&B's early_terminate and metric.target in a sweep run by an sbatch
# array: the trials report with `protein report`; trial 2, worse than
# trial 1 at hyperband's band 2, is told to stop (exit 3) and recorded as
# pruned; trial 3 reaches the target, which stops the sweep: the tasks
# after it get no trial.
case_stopping() {
    local j ok=0
    cat > "$D/e2e-stop.yaml" <<'EOS'
name: e2e-stop
method: random
metric: {name: loss, goal: minimize, target: 0.5}
early_terminate: {type: hyperband, min_iter: 2, eta: 3}
parameters:
  x: {min: 0.0, max: 1.0}
EOS
    "$PROTEIN" create "$D/e2e-stop.yaml" --redis "$PROTEIN_REDIS" > /dev/null || return 1
    # loss at report i: 1 + 1/i (trial 1), 10 + 1/i (trial 2), 1/i - 0.6
    cat > "$OUT/stop.sh" <<EOS
#!/bin/sh
case \$PROTEIN_TRIAL in 1) b=1 ;; 2) b=10 ;; *) b=-0.6 ;; esac
i=1
while [ \$i -le 4 ]; do
    $PROTEIN report step=\$i loss=\$(awk -v b=\$b -v i=\$i 'BEGIN { print b + 1 / i }') || exit 0
    i=\$((i + 1))
done
EOS
    chmod +x "$OUT/stop.sh"
    j=$(sbatch --parsable --array=0-4%1 --sweep=e2e-stop -o "$OUT/stop-%a.out" "$OUT/stop.sh") ||
        return 1
    wait_done "$j" 90 || return 1
    wait_field e2e-stop 1 status completed || ok=1
    wait_field e2e-stop 2 status pruned || ok=1
    [ "$(trial_field e2e-stop 2 stopped_by)" = "hyperband at report 2" ] || ok=1
    [ "$(trial_field e2e-stop 2 progress_n)" = 2 ] || ok=1
    wait_field e2e-stop 3 status completed || ok=1
    [ "$($RCLI HGET "protein:{$U/e2e-stop}:meta" state)" = stopped ] || ok=1
    [ "$($RCLI HGET "protein:{$U/e2e-stop}:meta" n_trials)" = 3 ] || ok=1
    node_up || { echo "node is $(node_state)"; ok=1; }
    [ $ok -eq 0 ] || tail -n 3 "$OUT"/stop-*.out
    [ $ok -eq 0 ]
}
check "hyperband and metric.target in an sbatch array: trial pruned at its band, the target stops the sweep" case_stopping

# A W&B script, run by `protein exec` in an sbatch --sweep array, under
# hyperband: every value it logs is a report; trial 2, worse at band 2, is
# recorded as pruned by hyperband at its second report. wandb writes its
# offline log about every 15 s, so a run this short sends its reports at
# its end (test_wandb.sh checks that protein exec stops a longer script
# asked to stop). Needs the wandb venv of .ci/install-deps (skipped
# without).
case_wandb_hyperband() {
    local j ok=0 py=${PROTEIN_WANDB_PYTHON:-/opt/protein-venv/bin/python}
    if ! "$py" -c 'import wandb' 2>/dev/null; then
        echo "SKIP (this case): no Python with wandb ($py)"
        return 0
    fi
    mkdir -p "$OUT/wb"
    cat > "$OUT/wb/train.py" <<'EOS'
import os
import time

import wandb

wandb.init()
base = {"1": 1.0, "2": 10.0}.get(os.environ["PROTEIN_TRIAL"], 5.0)
for i in range(1, 9):
    wandb.log({"loss": base + 1.0 / i})
    time.sleep(0.5)
EOS
    cat > "$OUT/wb/sweep.yaml" <<'EOS'
name: e2e-wandb
program: train.py
method: random
metric: {name: loss, goal: minimize}
early_terminate: {type: hyperband, min_iter: 2, eta: 3}
parameters:
  x: {min: 0.0, max: 1.0}
EOS
    "$PROTEIN" create "$OUT/wb/sweep.yaml" --redis "$PROTEIN_REDIS" > /dev/null || return 1
    printf '#!/bin/sh
cd %s/wb && PATH=%s:$PATH WANDB_SILENT=true exec %s exec sweep.yaml
' \
        "$OUT" "$(dirname "$py")" "$PROTEIN" > "$OUT/wb/job.sh"
    j=$(sbatch --parsable --array=0-1%1 --sweep=e2e-wandb -o "$OUT/wb/%a.out" "$OUT/wb/job.sh") ||
        return 1
    wait_done "$j" 120 || return 1
    wait_field e2e-wandb 1 status completed || ok=1
    [ "$(trial_field e2e-wandb 1 progress_n)" = 8 ] || ok=1
    wait_field e2e-wandb 2 status pruned || ok=1
    [ "$(trial_field e2e-wandb 2 stopped_by)" = "hyperband at report 2" ] || ok=1
    # protein exec sends no report after the answer "stop"
    [ "$(trial_field e2e-wandb 2 progress_n)" = 2 ] || ok=1
    node_up || { echo "node is $(node_state)"; ok=1; }
    [ $ok -eq 0 ] || {
        tail -n 5 "$OUT"/wb/*.out
        for t in 1 2; do
            echo "trial $t: $(trial_field e2e-wandb $t status)," \
                "$(trial_field e2e-wandb $t progress_n) reports," \
                "stopped by '$(trial_field e2e-wandb $t stopped_by)'"
        done
    }
    [ $ok -eq 0 ]
}
check "a W&B script under protein exec in an sbatch array: each logged value a report, trial 2 pruned by hyperband" case_wandb_hyperband

# ------------------------------------------------------------ arrays + proteind

[ -x "$B/coordinator/proteind" ] && [ -x "$B/examples/objective" ] ||
    finish "the array cases need coordinator/proteind and examples/objective"

# wait_queue SWEEP: until proteind has filled the sweep's ready queue (20 s).
wait_queue() {
    local n=200
    while [ $n -gt 0 ]; do
        [ "$($RCLI LLEN "protein:{$U/$1}:queue")" -gt 0 ] && return 0
        sleep 0.1; n=$((n - 1))
    done
    echo "proteind did not fill the queue of $1 (see $D/log/proteind.$1.log)"; return 1
}

case_array() {
    local j ids distinct completed fallback warm best
    make_sweep e2e-array 32 || return 1
    "$CLUSTER" proteind-start e2e-array
    # The first wave claims as soon as it starts: submitted before proteind
    # has filled the queue (a slow start on a loaded machine), it would take
    # fallback points.
    wait_queue e2e-array || return 1
    # Each task takes 1 s, as real ones take minutes, so that proteind
    # refits between waves: with tasks of a few milliseconds the array can
    # end 1.5 s after it starts, its model points from two batches made
    # with 1 and 8 results.
    j=$(sbatch --parsable --array=0-31%8 --sweep=e2e-array -o "$OUT/array_%a.out" \
        --wrap "sleep 1; $B/examples/objective") || return 1
    wait_done "$j" 120 || return 1
    ids=$(cat "$OUT"/array_*.out | sed -n "s|^protein: sweep $U/e2e-array trial \\([0-9]*\\).*|\\1|p")
    # proteind was started with the bare name: every point is its own.
    fallback=$(cat "$OUT"/array_*.out | grep -c "^protein: sweep $U/e2e-array trial .*(fallback point)")
    distinct=$(echo "$ids" | sort -u | wc -l)
    completed=$($RCLI --scan --pattern "protein:{$U/e2e-array}:trial:*" |
        while read -r k; do $RCLI HGET "$k" status; done | grep -c '^completed$')
    # The optimizer must learn: the best model suggestion (trials after the
    # 10 Sobol warm-up points) beats the best warm-up point. Measured on
    # this sweep with seed 7, 0.3 s tasks, a busy machine: 10 of 10 runs,
    # by 0.21 to 0.43. With 5 ms tasks one CI run of 2026-12-05 lost (0.66
    # against 0.76): the array ended 1.5 s after it started; with 0.3 s
    # tasks one run at a load average of 14 lost too (0.57), hence 1 s.
    warm=$(for i in $(seq 1 10); do trial_field e2e-array "$i" score; done | sort -g | tail -1)
    best=$(for i in $(seq 11 32); do trial_field e2e-array "$i" score; done | sort -g | tail -1)
    echo "array: $distinct distinct trials, $completed completed, $fallback fallback points, warm-up best $warm, best model trial $best"
    [ "$distinct" -eq 32 ] && [ "$completed" -eq 32 ] && [ "$fallback" -eq 0 ] &&
        awk -v b="$best" -v w="$warm" 'BEGIN { exit !(b > w) }'
}
check "32-task array (%8), proteind given the bare sweep name: distinct trials, all completed, none a fallback point, the best beats the Sobol warm-up's best" case_array

# run_fallback_wave NAME N: N tasks on e2e-fallback; prints how many of them
# got a fallback point, after checking that all N completed.
run_fallback_wave() {
    local j done i
    j=$(sbatch --parsable --array=0-$(($2 - 1)) --sweep=e2e-fallback -o "$OUT/$1_%a.out" \
        --wrap "$B/examples/objective") || return 1
    wait_done "$j" 30 || return 1
    done=$(for i in $(seq 0 $(($2 - 1))); do job_state "${j}_$i"; done | grep -c '^COMPLETED$')
    [ "$done" -eq "$2" ] || { echo "$1: $done of $2 tasks completed"; return 1; }
    cat "$OUT/$1"_*.out | grep -c "^protein: sweep $U/e2e-fallback trial .*(fallback point)" || true
}

case_proteind_down() {
    local fb left ok=0
    make_sweep e2e-fallback 1000 || return 1
    "$CLUSTER" proteind-start e2e-fallback
    wait_queue e2e-fallback || ok=1
    fb=$(run_fallback_wave fb1 4) && [ "$fb" -eq 0 ] || { echo "with proteind: $fb fallback"; ok=1; }
    # Without proteind the points it queued are still handed out first;
    # the 4 tasks after them get fallback points without waiting.
    "$CLUSTER" proteind-stop e2e-fallback
    left=$($RCLI LLEN "protein:{$U/e2e-fallback}:queue")
    fb=$(run_fallback_wave fb2 $((left + 4))) && [ "$fb" -eq 4 ] ||
        { echo "without proteind: $fb fallback after $left queued points"; ok=1; }
    "$CLUSTER" proteind-start e2e-fallback
    wait_queue e2e-fallback || ok=1
    fb=$(run_fallback_wave fb3 4) && [ "$fb" -eq 0 ] || { echo "proteind back: $fb fallback"; ok=1; }
    "$CLUSTER" proteind-stop e2e-fallback
    [ $ok -eq 0 ]
}
check "proteind down: fallback points at once; back up: model points again" case_proteind_down

# Killed by its time limit (submitted at the start): failed, which the
# optimizer learns from, not interrupted, which it skips.
case_time_limit() {
    local t c
    [ -n "$TIMELIMIT_JOB" ] && wait_done "$TIMELIMIT_JOB" 150 || return 1
    t=$(sed -n 's/^trial=//p' "$OUT/timelimit.out")
    wait_field e2e-timelimit "$t" status failed || return 1
    echo "time limit: job $(job_state "$TIMELIMIT_JOB"), trial $t: $(trial_field e2e-timelimit "$t" error)"
    trial_field e2e-timelimit "$t" error | grep -q "killed at the job's time limit" || return 1
    scancel "$LATECANCEL_JOB"
    wait_done "$LATECANCEL_JOB" 30 || return 1
    c=$(sed -n 's/^trial=//p' "$OUT/latecancel.out")
    wait_field e2e-timelimit "$c" status interrupted
}
check "killed by its time limit: failed, with the reason; scancelled later: interrupted" case_time_limit
finish
