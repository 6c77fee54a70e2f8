#!/bin/bash
# bench_wake.sh - how soon proteind serves a finished sweep again after
# `protein budget NAME +1`: the seconds from the raise to the sweep's first
# model point in its ready queue (claims take fallback points until then).
#
#   bench_wake.sh [--sweeps 2048] [--raises 7] [--port 27660] [BUILD...]
#
# Starts a private redis-server on --port, creates --sweeps sweeps of
# max_trials 1 and runs each once (protein agent --count 1), so that all
# are spent. Then for each BUILD (a build tree; default top_builddir or
# PROTEIN_BUILDDIR, else the current directory) in turn: starts its
# proteind, waits until its log is quiet (it has let them all go), raises
# the budget of --raises sweeps with its protein, each 1 to 3 s (at
# random) after the last one was served (so that the raises fall at
# random points of proteind's 2 s discovery period), prints each delay
# and their median,
# and stops that proteind. Needs redis-server, redis-cli and bc.
set -u

SWEEPS=2048 RAISES=7 PORT=27660
while [ $# -gt 0 ]; do
    case $1 in
    --sweeps) SWEEPS=$2; shift 2 ;;
    --raises) RAISES=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    -*) echo "bench_wake.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || set -- "${PROTEIN_BUILDDIR:-${top_builddir:-.}}"
[ $((RAISES * $#)) -le "$SWEEPS" ] ||
    { echo "bench_wake.sh: --raises x builds must be at most --sweeps (each raise a sweep still spent)" >&2; exit 2; }
for B in "$@"; do
    [ -x "$B/cli/protein" ] && [ -x "$B/coordinator/proteind" ] ||
        { echo "bench_wake.sh: no build in $B" >&2; exit 2; }
done
PROTEIN=$1/cli/protein
command -v redis-server >/dev/null || { echo "bench_wake.sh: SKIP: no redis-server"; exit 77; }
export OPENBLAS_NUM_THREADS=1 PROTEIN_REDIS=redis://127.0.0.1:$PORT

d=$(mktemp -d "${TMPDIR:-/tmp}/bench_wake.XXXXXX")
redis-server --port "$PORT" --save "" --appendonly no --daemonize yes \
    --dir "$d" --logfile "$d/redis.log" --pidfile "$d/redis.pid"
sleep 0.5
pd=
cleanup() {
    [ -n "$pd" ] && kill "$pd" 2>/dev/null && wait "$pd" 2>/dev/null
    [ -f "$d/redis.pid" ] && kill "$(cat "$d/redis.pid")"
    sleep 0.5
    rm -rf "$d"
}
trap cleanup EXIT
cat >"$d/s.yaml" <<EOF
metric: {name: score, goal: maximize}
max_trials: 1
parameters:
  x: {distribution: uniform, min: -2, max: 2}
  y: {distribution: uniform, min: -2, max: 2}
EOF
cat >"$d/trial.sh" <<'EOF'
#!/bin/sh
echo "score=$PROTEIN_PARAM_X" >>"$PROTEIN_RESULT"
EOF
chmod +x "$d/trial.sh"
for i in $(seq 1 "$SWEEPS"); do
    "$PROTEIN" create "$d/s.yaml" --name "s$i" >/dev/null &&
        TMPDIR=$d "$PROTEIN" agent "s$i" --count 1 -- "$d/trial.sh" \
            >/dev/null 2>&1 || { echo "bench_wake.sh: sweep s$i failed" >&2; exit 1; }
done
queue_key() {
    local name
    name=$("$PROTEIN" status "$1" | sed -n 's/^sweep \([^ :]*\).*/\1/p' | head -1)
    echo "protein:{${name:-$1}}:queue"
}
b=0
for B in "$@"; do
    PROTEIN=$B/cli/protein
    : >"$d/proteind.log"
    "$B/coordinator/proteind" --redis "$PROTEIN_REDIS" --device cpu 2>"$d/proteind.log" &
    pd=$!
    # let go of them all: the log stops growing
    size=-1
    while [ "$size" != "$(stat -c %s "$d/proteind.log")" ]; do
        size=$(stat -c %s "$d/proteind.log")
        sleep 3
    done
    delays=()
    for r in $(seq 1 "$RAISES"); do
        # distinct sweeps spread over the names (997 is prime)
        i=$(( (b * RAISES + r) * 997 % SWEEPS + 1 ))
        key=$(queue_key "s$i")
        t0=$(date +%s.%N)
        "$PROTEIN" budget "s$i" +1 >/dev/null || exit 1
        until [ "$(redis-cli -p "$PORT" LLEN "$key")" -gt 0 ]; do
            sleep 0.01
        done
        t1=$(date +%s.%N)
        delays+=("$(echo "$t1 - $t0" | bc)")
        echo "$B: raise $r (s$i): ${delays[-1]} s"
        sleep "$((1 + RANDOM % 2)).$(printf %03d $((RANDOM % 1000)))"
    done
    printf '%s\n' "${delays[@]}" | sort -n |
        awk -v b="$B" '{ v[NR] = $1 } END { printf "%s: median of %d: %.2f s\n", b, NR, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
    kill "$pd"
    wait "$pd" 2>/dev/null
    pd=
    b=$((b + 1))
done
