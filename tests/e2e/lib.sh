# lib.sh - shell helpers of the end-to-end tests and the array benchmark.
# The Slurm helpers need cluster.sh's env.sh sourced (SLURM_CONF set), as
# cluster_up does. The sweep helpers at the end read RCLI (redis-cli for
# the cluster's Redis), U (the user jobs run as), PROTEIN (the CLI), SRC
# (the source tree) and D (the cluster's directory).

# cluster_up: starts the cluster ($CLUSTER up, in $PROTEIN_E2E_DIR), or
# exits with its status (77: skip); at exit stops it and, when no case
# failed, removes its directory. Sources its env.sh and sets D, OUT, RCLI
# and U (jobs run as the caller, root: a bare sweep name means $U/NAME).
cluster_up() {
    local rc
    "$CLUSTER" up > /dev/null
    rc=$?
    [ $rc -eq 0 ] || exit $rc
    trap '"$CLUSTER" down; [ $failures -eq 0 ] && rm -rf "$PROTEIN_E2E_DIR"' EXIT
    . "$PROTEIN_E2E_DIR/env.sh"
    D=$PROTEIN_E2E_DIR
    OUT=$D/out
    RCLI="redis-cli -p ${PROTEIN_REDIS##*:}"
    U=$(id -un)
}

# check DESCRIPTION CMD...: runs one case, prints "ok: ..." or "FAIL: ..."
# and counts failures in $failures (set by the sourcing script).
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
check() {
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# node_state: the cluster's node's state as sinfo abbreviates it (idle,
# mix, alloc, drain, ...).
node_state() { sinfo -h -n "$E2E_NODE" -o %t; }

# job_state JOBID: the state of a job (array task ids as 12_3 work too).
job_state() { scontrol show job -o "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
job_exit() { scontrol show job -o "$1" 2>/dev/null | sed -n 's/.*ExitCode=\([0-9:]*\).*/\1/p' | head -1; }

# restarts JOBID: how many times Slurm has requeued the job.
restarts() { scontrol show job -o "$1" 2>/dev/null | sed -n 's/.* Restarts=\([0-9]*\).*/\1/p' | head -1; }

# wait_requeued JOBID N: until the job is pending after its Nth requeue
# (10 s).
wait_requeued() {
    local n=100
    while [ $n -gt 0 ]; do
        [ "$(job_state "$1")" = PENDING ] && [ "$(restarts "$1")" = "$2" ] && return 0
        sleep 0.1; n=$((n - 1))
    done
    echo "job $1: $(job_state "$1") after $(restarts "$1") requeue(s), not pending after $2"; return 1
}

# wait_done JOBID [SECONDS]: until no task of the job is pending or running
# (default 30 s); polls every 0.1 s.
wait_done() {
    local n=$(( ${2:-30} * 10 ))
    while [ $n -gt 0 ]; do
        [ -z "$(squeue -h -j "$1" 2>/dev/null | head -1)" ] && return 0
        sleep 0.1; n=$((n - 1))
    done
    echo "job $1 still running: $(squeue -h -j "$1" | wc -l) task(s)"; return 1
}

# wait_line PATH REGEX [SECONDS]: until a line of PATH matches (default
# 10 s).
wait_line() {
    local n=$(( ${3:-10} * 10 ))
    while [ $n -gt 0 ]; do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}

# trial_field SWEEP TRIAL FIELD: a field of the trial's hash.
trial_field() { $RCLI HGET "protein:{$U/$1}:trial:$2" "$3"; }

# wait_field SWEEP TRIAL FIELD VALUE [SECONDS]: until the trial's field has
# that value. An outcome is recorded by slurmstepd as the task ends, which
# may be after squeue stops listing the job.
wait_field() {
    local n=$(( ${5:-15} * 10 ))
    while [ $n -gt 0 ]; do
        [ "$(trial_field "$1" "$2" "$3")" = "$4" ] && return 0
        sleep 0.1; n=$((n - 1))
    done
    echo "trial $2 of $1: $3 is '$(trial_field "$1" "$2" "$3")', not '$4'"; return 1
}

# make_sweep NAME MAX_TRIALS: a sweep of examples/sweeps/quadratic.yaml
# renamed; returns 1 when the CLI is missing, 2 when `protein create` fails.
make_sweep() {
    [ -x "$PROTEIN" ] || return 1
    sed -e "s/^max_trials: .*/max_trials: $2/" \
        "$SRC/examples/sweeps/quadratic.yaml" > "$D/$1.yaml"
    "$PROTEIN" create "$D/$1.yaml" --name "$1" --redis "$PROTEIN_REDIS" \
        > "$D/$1.create.log" 2>&1 ||
        { cat "$D/$1.create.log"; return 2; }
}
