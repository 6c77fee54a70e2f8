# lib.sh - shell helpers of the end-to-end tests and the array benchmark,
# sourced after cluster.sh's env.sh (SLURM_CONF set).

# check DESCRIPTION CMD...: runs one case, prints "ok: ..." or "FAIL: ..."
# and counts failures in $failures (set by the sourcing script).
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
check() {
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# job_state JOBID: the state of a job (array task ids as 12_3 work too).
job_state() { scontrol show job -o "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
job_exit() { scontrol show job -o "$1" 2>/dev/null | sed -n 's/.*ExitCode=\([0-9:]*\).*/\1/p' | head -1; }

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
