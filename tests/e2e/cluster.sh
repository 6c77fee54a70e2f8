#!/bin/bash
# cluster.sh - a private one-node Slurm cluster with the freshly built
# spank_protein.so, a private redis-server and (on request) proteind, all on
# loopback, for the end-to-end tests, the demo and the benchmark.
#
#   cluster.sh up                  start what is not running yet; print env.sh
#   cluster.sh down                cancel jobs, stop what `up` started
#   cluster.sh redis-stop|redis-start   stop / restart the private Redis
#   cluster.sh redis-freeze|redis-thaw  SIGSTOP / SIGCONT it
#   cluster.sh proteind-start SWEEP [OPTION...]   run proteind for SWEEP
#                                  with OPTIONs (needs the build); its
#                                  log is $PROTEIN_E2E_DIR/log/proteind.SWEEP.log
#   cluster.sh proteind-stop SWEEP
#   cluster.sh slurmctld-restart   stop slurmctld and start it again on
#                                  its saved state (jobs go on running)
#   cluster.sh plugstack [ARGS...] rewrite the plugin's plugstack line with
#                                  the default arguments plus ARGS
#
# Everything lives in $PROTEIN_E2E_DIR (default ${TMPDIR:-/tmp}/protein-e2e):
# slurm.conf, munge key and socket, state, spool, logs, redis data, job
# output. PROTEIN_E2E_CPUS sets the CPUs the node announces (default 16);
# PROTEIN_E2E_CLAIM_TIMEOUT the plugin's claim_timeout (default 2).
# PROTEIN_E2E_CGROUP=1 tracks and confines jobs with cgroups
# (proctrack/cgroup, task/cgroup, ConstrainRAMSpace=yes in cgroup.conf):
# memory becomes a consumable resource (the node announces 4096 MB), so
# every job should ask for --mem.
# PROTEIN_E2E_REDIS_AOF=1 starts Redis with an append-only file (fsync
# every second), so that redis-stop and redis-start keep the sweeps.
# Clients source $PROTEIN_E2E_DIR/env.sh (SLURM_CONF, PROTEIN_REDIS,
# E2E_NODE, PATH with the built protein and proteind). Only processes
# recorded in $PROTEIN_E2E_DIR/started are ever stopped, after checking
# /proc/PID/comm, so a reused pid is never killed.
#
# Needs root (the daemons run as root; jobs run as the submitter) and
# Debian's slurmctld, slurmd, munge and redis-server: without them it
# exits 77 (skip) saying why. Finds the build through $top_builddir (set by
# make check) or $PROTEIN_BUILDDIR, the plugin through $PROTEIN_PLUGIN.
set -eu

D=${PROTEIN_E2E_DIR:-${TMPDIR:-/tmp}/protein-e2e}
B=${top_builddir:-${PROTEIN_BUILDDIR:-$(pwd)}}
PLUGIN=${PROTEIN_PLUGIN:-$B/plugin/.libs/spank_protein.so}
REDIS_PORT=${PROTEIN_E2E_REDIS_PORT:-6390}
CTLD_PORT=${PROTEIN_E2E_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${PROTEIN_E2E_SLURMD_PORT:-6818}
# 2 s keeps the tests' waits short; bench_array.sh sets the plugin's default
CLAIM_TIMEOUT=${PROTEIN_E2E_CLAIM_TIMEOUT:-2}
# CPUs the node announces (config_overrides: more than the machine has is
# fine for short tasks); a %64 array needs 64.
CPUS=${PROTEIN_E2E_CPUS:-16}
NODE=$(hostname -s)
PROCTRACK=proctrack/linuxproc TASK=task/none SELECT=CR_Core MEM= FIRST_JOB=
if [ "${PROTEIN_E2E_CGROUP:-0}" = 1 ]; then
    PROCTRACK=proctrack/cgroup TASK=task/cgroup SELECT=CR_Core_Memory
    MEM=" RealMemory=4096"
    # Slurm names a job's cgroup /slurm_NODE/uid_UID/job_ID, the same in
    # every cluster on this machine: ids of our own keep them apart.
    FIRST_JOB="FirstJobId=$(( 100000 + $$ % 800000 ))"
fi

die() { echo "cluster.sh: $*" >&2; exit 1; }
skip() { echo "cluster.sh: SKIP: $*" >&2; exit 77; }

# is_running NAME PIDFILE-or-PID: true when that pid runs a process whose
# comm starts with NAME and that is not a zombie.
is_running() {
    local name=$1 pid=$2
    [ -f "$pid" ] && pid=$(cat "$pid" 2>/dev/null || true)
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in "$name"*) ;; *) return 1 ;; esac
    ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}

record() { echo "$1 $2" >> "$D/started"; }

wait_for() { # wait_for SECONDS CMD...: polls CMD every 0.1 s
    local n=$(( $1 * 10 )); shift
    while [ $n -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}

# stop_pid NAME PID: SIGTERM, then SIGKILL after 5 s; a zombie counts as gone.
stop_pid() {
    local name=$1 pid=$2 n=50
    is_running "$name" "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while [ $n -gt 0 ] && is_running "$name" "$pid"; do sleep 0.1; n=$((n - 1)); done
    is_running "$name" "$pid" && kill -KILL "$pid" 2>/dev/null || true
}

plugstack_line() {
    echo "optional $PLUGIN redis=redis://127.0.0.1:$REDIS_PORT" \
         "result_dir=$D/results claim_timeout=$CLAIM_TIMEOUT connect_timeout=500" \
         "command_timeout=2000 spool_dir=$D/protein-spool $*"
}

write_config() {
    mkdir -p "$D"/{munge,state,spool,log,redis,results,out,plugstack.conf.d}
    chmod 755 "$D/munge"
    chmod 1777 "$D/results" "$D/out"
    cat > "$D/slurm.conf" <<EOF
ClusterName=protein-e2e
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=$PROCTRACK
TaskPlugin=$TASK
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/log/jobcomp.txt
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=$SELECT
$FIRST_JOB
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
MailProg=/bin/true
KillWait=2
PlugStackConfig=$D/plugstack.conf
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    # cgroup.conf lies beside slurm.conf, where Slurm looks for it
    if [ "$TASK" = task/cgroup ]; then
        printf '%s\n' CgroupPlugin=autodetect ConstrainRAMSpace=yes \
            > "$D/cgroup.conf"
    else
        rm -f "$D/cgroup.conf"
    fi
    echo "include $D/plugstack.conf.d/*.conf" > "$D/plugstack.conf"
    # kept across `up` (a test may have added options with `plugstack`),
    # unless it names another build's plugin or another Redis: a cluster
    # directory left by an earlier checkout must not load a stale path
    grep -qF "optional $PLUGIN redis=redis://127.0.0.1:$REDIS_PORT " \
        "$D/plugstack.conf.d/protein.conf" 2>/dev/null ||
        plugstack_line > "$D/plugstack.conf.d/protein.conf"
    cat > "$D/env.sh" <<EOF
export SLURM_CONF=$D/slurm.conf
export PROTEIN_REDIS=redis://127.0.0.1:$REDIS_PORT
export PROTEIN_E2E_DIR=$D
export E2E_NODE=$NODE
export PATH=$B/cli:$B/coordinator:\$PATH
EOF
}

start_redis() {
    is_running redis-server "$D/redis/redis.pid" && return 0
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 &&
        die "port $REDIS_PORT is taken by another Redis; set PROTEIN_E2E_REDIS_PORT"
    local aof=no
    [ "${PROTEIN_E2E_REDIS_AOF:-0}" = 1 ] && aof=yes
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$D/redis" \
        --save '' --appendonly $aof --daemonize yes \
        --pidfile "$D/redis/redis.pid" --logfile "$D/log/redis.log"
    wait_for 5 redis-cli -p "$REDIS_PORT" ping || die "redis-server did not start (see $D/log/redis.log)"
    record redis-server "$(cat "$D/redis/redis.pid")"
}

up() {
    [ "$(id -u)" = 0 ] || skip "needs root to run slurmctld and slurmd"
    for b in slurmctld slurmd munged redis-server redis-cli sbatch; do
        command -v "$b" >/dev/null || skip "$b not installed (apt-get install slurmctld slurmd slurm-client munge redis-server)"
    done
    [ -f "$PLUGIN" ] || skip "plugin $PLUGIN not built (run this in the build directory, or set PROTEIN_BUILDDIR to it: PROTEIN_BUILDDIR=build $0 up)"
    # slurmstepd (not built with ASan) cannot load an ASan-built plugin: the
    # ASan runtime must come first in the process. The plain build runs
    # this suite; the sanitizer build runs everything else.
    ! ldd "$PLUGIN" 2>/dev/null | grep -q 'libasan' ||
        skip "plugin built with AddressSanitizer: slurmstepd cannot load it (the e2e suite runs in the plain build)"
    if ! is_running slurmctld "$D/slurmctld.pid" &&
        (exec 3<>"/dev/tcp/127.0.0.1/$CTLD_PORT") 2>/dev/null; then
        skip "port $CTLD_PORT is taken (another Slurm or e2e run); set PROTEIN_E2E_SLURMCTLD_PORT"
    fi
    write_config
    if ! is_running munged "$D/munge/munged.pid"; then
        [ -f "$D/munge/munge.key" ] || {
            dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 2>/dev/null
            chmod 400 "$D/munge/munge.key"
        }
        munged --socket="$D/munge/munge.socket" --key-file="$D/munge/munge.key" \
            --pid-file="$D/munge/munged.pid" --seed-file="$D/munge/munged.seed" \
            --log-file="$D/log/munged.log" --force
        wait_for 5 test -s "$D/munge/munged.pid" || die "munged did not start"
        record munged "$(cat "$D/munge/munged.pid")"
    fi
    start_redis
    if ! is_running slurmctld "$D/slurmctld.pid" || ! is_running slurmd "$D/slurmd.pid"; then
        rm -rf "$D/state"/* "$D/spool"/* "$D/log/jobcomp.txt"
        if ! is_running slurmctld "$D/slurmctld.pid"; then
            slurmctld -f "$D/slurm.conf"
            wait_for 5 test -s "$D/slurmctld.pid" || die "slurmctld did not start (see $D/log/slurmctld.log)"
            record slurmctld "$(cat "$D/slurmctld.pid")"
        fi
        if ! is_running slurmd "$D/slurmd.pid"; then
            slurmd -f "$D/slurm.conf" -N "$NODE"
            wait_for 5 test -s "$D/slurmd.pid" || die "slurmd did not start (see $D/log/slurmd.log)"
            record slurmd "$(cat "$D/slurmd.pid")"
        fi
    fi
    export SLURM_CONF=$D/slurm.conf
    wait_for 15 sh -c "sinfo -h -n $NODE -o %t | grep -qx idle" ||
        die "node $NODE not idle: $(sinfo -h -o '%t %E' 2>&1) (see $D/log)"
    echo "$D/env.sh"
}

down() {
    [ -f "$D/started" ] || return 0
    SLURM_CONF=$D/slurm.conf scancel --full --quiet --user="$(id -un)" >/dev/null 2>&1 || true
    # Reverse order: proteind and slurmd before slurmctld, munged last.
    tac "$D/started" | while read -r name pid; do stop_pid "$name" "$pid"; done
    rm -f "$D/started"
}

# slurmctld_restart: slurmctld stopped (SIGTERM, which saves its state)
# and started again without -c, so it reads the jobs back.
slurmctld_restart() {
    stop_pid slurmctld "$(cat "$D/slurmctld.pid")"
    slurmctld -f "$D/slurm.conf"
    wait_for 5 test -s "$D/slurmctld.pid" || die "slurmctld did not start (see $D/log/slurmctld.log)"
    record slurmctld "$(cat "$D/slurmctld.pid")"
}

proteind_start() {
    local sweep=$1 bin=$B/coordinator/proteind
    shift
    [ -x "$bin" ] || skip "proteind not built ($bin)"
    is_running proteind "$D/proteind.$sweep.pid" && return 0
    # SWEEP is the caller's own: proteind reads a bare NAME as USER/NAME.
    # On a GPU, the build tree's CUDA module unless one is named.
    PROTEIN_CUDA_MODULE=${PROTEIN_CUDA_MODULE:-$B/kernels/.libs/protein-gp-cuda.so} \
        "$bin" --redis "redis://127.0.0.1:$REDIS_PORT" --sweep "$sweep" "$@" \
        > "$D/log/proteind.$sweep.log" 2>&1 &
    echo $! > "$D/proteind.$sweep.pid"
    record proteind $!
}

proteind_stop() {
    local sweep=$1
    [ -f "$D/proteind.$sweep.pid" ] || return 0
    stop_pid proteind "$(cat "$D/proteind.$sweep.pid")"
    rm -f "$D/proteind.$sweep.pid"
}

case "${1:-}" in
up) up ;;
down) down ;;
redis-stop) [ -f "$D/redis/redis.pid" ] && stop_pid redis-server "$(cat "$D/redis/redis.pid")" ;;
redis-start) start_redis ;;
redis-freeze) kill -STOP "$(cat "$D/redis/redis.pid")" ;;
redis-thaw) kill -CONT "$(cat "$D/redis/redis.pid")" ;;
proteind-start) shift; proteind_start "${1:?sweep name}" "${@:2}" ;;
proteind-stop) proteind_stop "${2:?sweep name}" ;;
slurmctld-restart) slurmctld_restart ;;
plugstack) shift; plugstack_line "$@" > "$D/plugstack.conf.d/protein.conf" ;;
*) echo "usage: cluster.sh up|down|redis-stop|redis-start|redis-freeze|redis-thaw|proteind-start SWEEP [OPTION...]|proteind-stop SWEEP|slurmctld-restart|plugstack [ARGS]" >&2; exit 2 ;;
esac
