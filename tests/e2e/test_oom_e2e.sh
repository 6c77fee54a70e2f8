#!/bin/bash
# test_oom_e2e.sh - an out-of-memory kill on a real one-node Slurm cluster
# that confines memory with cgroups (tests/e2e/cluster.sh with
# PROTEIN_E2E_CGROUP=1: proctrack/cgroup, task/cgroup, ConstrainRAMSpace).
# Each case asserts on the trials stored in Redis:
#
#   - a batch script whose child outgrows --mem (the shell exits 137) and
#     an array whose tasks do themselves (killed by SIGKILL): failed,
#     "killed by the out-of-memory killer";
#   - an srun --sweep step outgrowing --mem: failed the same way;
#   - an srun step of the batch script outgrowing --mem (srun exits 1):
#     failed, "killed by the out-of-memory killer in an srun step of the
#     job, then exit status 1";
#   - a SIGKILL that is not the OOM killer's (scancel --batch
#     --signal=KILL, and Slurm's own after KillWait for a task that
#     ignores SIGTERM): interrupted, as before; and Slurm's after a
#     scancel (or scancel --signal=KILL) of a job whose step counted an
#     OOM kill that the trial outlived (a child's): interrupted; after
#     scancel --batch --signal=KILL: failed, out of memory (the known
#     limit: Slurm ends that job OUT_OF_MEMORY too).
#
# Skips (77) without root, Slurm's daemons, redis-server or the protein
# CLI, and where Slurm cannot confine memory here: no cgroup v1 memory
# hierarchy it may write to (containers often lack one; on a cgroup v2
# node Slurm 22.05 needs systemd to make slurmstepd's scope, which this
# cluster does not have). Runs after the other e2e scripts (same ports;
# tests/plugin.am).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$(cd "$HERE/../.." && pwd)}
B=${top_builddir:-${PROTEIN_BUILDDIR:-$(pwd)}}
export top_builddir=$B
export PROTEIN_E2E_DIR=${PROTEIN_E2E_OOM_DIR:-${TMPDIR:-/tmp}/protein-e2e-oom.$$}
export PROTEIN_E2E_CGROUP=1
CLUSTER=$HERE/cluster.sh
PROTEIN=$B/cli/protein
MEMCG=/sys/fs/cgroup/memory

skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root to run slurmctld and slurmd"
[ -x "$PROTEIN" ] || skip "needs the protein CLI ($PROTEIN)"
grep -qE '^[0-9]+:([^:]*,)?memory(,[^:]*)?:' /proc/self/cgroup ||
    skip "no cgroup v1 memory hierarchy (/proc/self/cgroup); Slurm 22.05's cgroup/v2 needs systemd, which this test cluster does not run"
[ -f "$MEMCG/memory.oom_control" ] ||
    skip "the memory hierarchy is not mounted at $MEMCG, where Slurm looks for it"
grep -q '^oom_kill ' "$MEMCG/memory.oom_control" ||
    skip "the kernel counts no oom_kill in memory.oom_control (before 4.13)"
probe=$MEMCG/protein-e2e-probe.$$
mkdir "$probe" 2>/dev/null && rmdir "$probe" ||
    skip "cannot make a memory cgroup under $MEMCG (read-only in a container?)"

failures=0

# cluster_up, wait_done, make_sweep, trial_field, wait_field, wait_line
. "$HERE/lib.sh"
cluster_up

# outcome_is FILE STATUS REASON: the trial the job printed into FILE as
# "trial=N" ends with that status and error.
outcome_is() {
    local t
    wait_line "$1" '^trial=' || { echo "no trial in $1"; return 1; }
    t=$(sed -n 's/^trial=//p' "$1")
    wait_field e2e-oom "$t" status "$2" || return 1
    [ "$(trial_field e2e-oom "$t" error)" = "$3" ] ||
        { echo "$1: trial $t: $(trial_field e2e-oom "$t" error)"; return 1; }
}

OOM="killed by the out-of-memory killer (the step's memory cgroup counted 1 oom kill)"
SRUN_OOM="killed by the out-of-memory killer in an srun step of the job"

make_sweep e2e-oom 1000 || { fail "protein create"; exit 1; }

# `tail /dev/zero` keeps its one endless line in memory: far past --mem.
case_oom_batch() {
    local j a
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\ntail /dev/zero\n' > "$OUT/child.sh"
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\nexec tail /dev/zero\n' > "$OUT/self.sh"
    j=$(sbatch --parsable --sweep=e2e-oom --mem=100M -o "$OUT/child.out" "$OUT/child.sh") || return 1
    a=$(sbatch --parsable --sweep=e2e-oom --mem=100M --array=0-1 -o "$OUT/self_%a.out" "$OUT/self.sh") || return 1
    wait_done "$j" && wait_done "$a" &&
        outcome_is "$OUT/child.out" failed "$OOM" &&
        outcome_is "$OUT/self_0.out" failed "$OOM" &&
        outcome_is "$OUT/self_1.out" failed "$OOM"
}
check "out of memory in a batch step (a child: 137; an array task itself): failed, with the reason" case_oom_batch

case_oom_srun() {
    timeout 60 srun --sweep=e2e-oom --mem=100M -o "$OUT/srun.out" \
        sh -c 'echo trial=$PROTEIN_TRIAL; exec tail /dev/zero' 2>/dev/null
    outcome_is "$OUT/srun.out" failed "$OOM"
}
check "out of memory in an srun --sweep step: failed, with the reason" case_oom_srun

# `srun python train.py` inside the batch script: the kill happens in the
# srun step's cgroup, srun exits 1, and the batch step learns of it from
# slurmctld (the job's derived exit code). A script that goes on to exit
# 0 without a result says so too; an srun step that fails otherwise
# (exit 3) is no out-of-memory kill.
case_oom_srun_in_batch() {
    local j k l
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\nsrun sh -c "tail /dev/zero"\n' > "$OUT/inner.sh"
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\nsrun sh -c "tail /dev/zero"\ntrue\n' > "$OUT/inner0.sh"
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\nsrun sh -c "exit 3"\n' > "$OUT/inner3.sh"
    j=$(sbatch --parsable --sweep=e2e-oom --mem=100M -o "$OUT/inner.out" "$OUT/inner.sh") || return 1
    k=$(sbatch --parsable --sweep=e2e-oom --mem=100M -o "$OUT/inner0.out" "$OUT/inner0.sh") || return 1
    l=$(sbatch --parsable --sweep=e2e-oom --mem=100M -o "$OUT/inner3.out" "$OUT/inner3.sh") || return 1
    wait_done "$j" && wait_done "$k" && wait_done "$l" &&
        outcome_is "$OUT/inner.out" failed "$SRUN_OOM, then exit status 1" &&
        outcome_is "$OUT/inner0.out" failed "$SRUN_OOM, then no result: exit 0 without a metric in the result file" &&
        outcome_is "$OUT/inner3.out" failed "exit status 3"
}
check "out of memory in an srun step of the batch script: failed, with the reason" case_oom_srun_in_batch

# scancel --batch --signal=KILL sends SIGKILL to the batch shell at once; a
# plain scancel sends SIGTERM and, KillWait (2 s) later, SIGKILL to a task
# that ignores it. Neither is counted as an out-of-memory kill.
case_sigkill() {
    local j k
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\nexec sleep 60\n' > "$OUT/kill.sh"
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\ntrap "" TERM\nexec sleep 60\n' > "$OUT/stubborn.sh"
    j=$(sbatch --parsable --sweep=e2e-oom --mem=100M -o "$OUT/kill.out" "$OUT/kill.sh") || return 1
    k=$(sbatch --parsable --sweep=e2e-oom --mem=100M -o "$OUT/stubborn.out" "$OUT/stubborn.sh") || return 1
    wait_line "$OUT/kill.out" '^trial=' && wait_line "$OUT/stubborn.out" '^trial=' || return 1
    scancel --batch --signal=KILL "$j"
    scancel "$k"
    wait_done "$j" && wait_done "$k" &&
        outcome_is "$OUT/kill.out" interrupted "killed by signal 9 (Killed)" &&
        outcome_is "$OUT/stubborn.out" interrupted "killed by signal 9 (Killed)"
}
check "SIGKILL not from the OOM killer (scancel --batch --signal=KILL; after KillWait): interrupted" case_sigkill

# A child killed by the OOM killer that the script outlives, then Slurm's
# kill: a plain scancel (SIGTERM ignored, SIGKILL after KillWait) and
# scancel --signal=KILL (without --batch a cancel: CANCELLED) are not the
# OOM killer's, though the step counted one: interrupted. scancel --batch
# --signal=KILL only signals the batch shell, the job stays RUNNING, and
# nothing tells that SIGKILL from the OOM killer's (Slurm itself ends that
# job OUT_OF_MEMORY): failed, as documented (admin.md).
case_oom_then_scancel() {
    local j k l
    printf '#!/bin/sh\necho trial=$PROTEIN_TRIAL\nsh -c "tail /dev/zero"\necho survived\ntrap "" TERM\nexec sleep 60\n' > "$OUT/survive.sh"
    j=$(sbatch --parsable --sweep=e2e-oom --mem=100M -o "$OUT/survive.out" "$OUT/survive.sh") || return 1
    k=$(sbatch --parsable --sweep=e2e-oom --mem=100M -o "$OUT/survive_kill.out" "$OUT/survive.sh") || return 1
    l=$(sbatch --parsable --sweep=e2e-oom --mem=100M -o "$OUT/survive_batch.out" "$OUT/survive.sh") || return 1
    wait_line "$OUT/survive.out" '^survived' &&
        wait_line "$OUT/survive_kill.out" '^survived' &&
        wait_line "$OUT/survive_batch.out" '^survived' || return 1
    scancel "$j"
    scancel --signal=KILL "$k"
    scancel --batch --signal=KILL "$l"
    wait_done "$j" && wait_done "$k" && wait_done "$l" &&
        outcome_is "$OUT/survive.out" interrupted "killed by signal 9 (Killed)" &&
        outcome_is "$OUT/survive_kill.out" interrupted "killed by signal 9 (Killed)" &&
        outcome_is "$OUT/survive_batch.out" failed "$OOM" &&
        [ "$(job_state "$l")" = OUT_OF_MEMORY ] ||
        { echo "job $l: $(job_state "$l")"; return 1; }
}
check "scancel, scancel --signal=KILL after an OOM kill the trial survived: interrupted; scancel --batch --signal=KILL: failed (out of memory, as Slurm says)" case_oom_then_scancel

echo "$failures failure(s)"
[ $failures -eq 0 ]
