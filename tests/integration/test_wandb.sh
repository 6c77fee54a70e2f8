#!/usr/bin/env bash
# test_wandb.sh - W&B's own example training script (wandb/sweeps
# examples/train.py, kept unchanged in tests/configs/wandb/ws-train.py) and
# W&B's own sweep file (ws-bayes.yaml) run offline through `protein run`
# and `protein agent` with no COMMAND, with the real wandb package: every
# trial's score must be the loss_metric the script logged, as wandb's own
# console capture (files/output.log of the run) shows it. Also W&B's
# nested-parameters example (a whole grid), and a script that writes its
# run outside ./wandb.
#
# Needs a Python with wandb: $PROTEIN_WANDB_PYTHON, else the venv that
# .ci/install-deps makes (/opt/protein-venv), else python3; skips (77)
# without one.
set -eu
. "$top_srcdir/tests/common/cli_test.sh"

cli_test_python wandb
cli_test_init test_wandb
corpus=$top_srcdir/tests/configs/wandb
export PATH="$(dirname "$python"):$PATH" WANDB_SILENT=true
unset WANDB_DIR WANDB_MODE WANDB_PROJECT WANDB_ENTITY WANDB_RUN_GROUP
mkdir "$tmp/run" "$tmp/agent"
cp "$corpus/ws-train.py" "$tmp/run/train.py"
cp "$corpus/ws-train.py" "$tmp/agent/train.py"

# check_scores DIR SWEEP FILE: FILE holds "TRIAL SCORE" lines; each score
# must be the last loss the run of that trial printed (output.log is
# wandb's own capture of the script's stdout).
check_scores() {
    n=0
    while read -r trial score; do
        log=$(ls "$1"/wandb/offline-run-*-"$2"-t"$trial"-*/files/output.log 2>/dev/null |
              head -n 1)
        [ -n "$log" ] || { fail "$2 trial $trial: no offline W&B run"; continue; }
        logged=$(sed -n 's/^INFO: epoch *[0-9]* = loss //p' "$log" | tail -n 1)
        awk -v a="$score" -v b="$logged" 'BEGIN { d = a - b; if (d < 0) d = -d;
            exit !(b != "" && d < 1e-5) }' ||
            fail "$2 trial $trial: score $score, the script logged '$logged'"
        n=$((n + 1))
    done <"$3"
    [ "$n" -ge 2 ] || fail "$2: only $n trials checked"
}

# ------------------------------------------------------------ protein run
(cd "$tmp/run" &&
 "$PROTEIN" run "$corpus/ws-bayes.yaml" --trials 3 --parallel 3 \
     --out "$tmp/run.csv" >"$tmp/run.out" 2>&1) || fail "protein run: $(cat "$tmp/run.out")"
grep -q '3 trials: 3 completed, 0 pruned, 0 failed' "$tmp/run.out" ||
    fail "protein run: $(cat "$tmp/run.out")"
tail -n +2 "$tmp/run.csv" | cut -d, -f1,3 | tr , ' ' >"$tmp/run.scores"
check_scores "$tmp/run" ws-bayes "$tmp/run.scores"
# the runs are offline runs of the sweep's project, grouped by the sweep,
# ready for `wandb sync`
ls -d "$tmp"/run/wandb/offline-run-*-ws-bayes-t1-* >/dev/null 2>&1 ||
    fail "no offline run directory for wandb sync"
grep -q 'wandb.config:.*base' "$tmp"/run/wandb/offline-run-*-t1-*/files/output.log ||
    fail "wandb.config did not hold the trial's parameters"
# wandb's own sync, offline (--dry-run: no server here), sees the three runs
# as runs to upload
(cd "$tmp/run" && env -u WANDB_SILENT wandb sync --dry-run >"$tmp/sync.out" 2>&1) ||
    fail "wandb sync --dry-run: $(cat "$tmp/sync.out")"
grep -q 'Would sync 3 run(s)' "$tmp/sync.out" ||
    fail "wandb sync --dry-run: $(cat "$tmp/sync.out")"

# ------------------------------------------------------------ nested grid
# W&B's nested-parameters example, script and sweep file unchanged (an
# argparse script; optimizer.lr and optimizer.nadam.beta nested groups):
# the whole 2 x 2 x 2 grid runs, each trial's score is the loss the script
# logged last, 1 - (4/5) lr batch_size, from the nested values it read.
mkdir "$tmp/nested"
cp "$corpus/ws-train-nested-cli.py" "$tmp/nested/train-nested-cli.py"
(cd "$tmp/nested" &&
 "$PROTEIN" run "$corpus/ws-nested-cli.yaml" --parallel 4 --out "$tmp/nested.csv" \
     >"$tmp/nested.out" 2>&1) || fail "protein run, nested grid: $(cat "$tmp/nested.out")"
grep -q '8 trials: 8 completed, 0 pruned, 0 failed' "$tmp/nested.out" ||
    fail "nested grid: $(cat "$tmp/nested.out")"
head -1 "$tmp/nested.csv" | grep -q '^trial,status,score,cost,batch_size,optimizer/lr,optimizer/nadam/beta,' ||
    fail "nested grid CSV header: $(head -1 "$tmp/nested.csv")"
[ "$(tail -n +2 "$tmp/nested.csv" | cut -d, -f5-7 | sort -u | wc -l)" = 8 ] ||
    fail "nested grid: not 8 distinct points: $(cat "$tmp/nested.csv")"
tail -n +2 "$tmp/nested.csv" | awk -F, '{ d = $3 - (1 - 0.8 * $6 * $5); if (d < 0) d = -d; if (d > 1e-9) bad = 1 }
    END { exit bad }' || fail "nested grid: a score is not the logged loss: $(cat "$tmp/nested.csv")"

# ------------------------------------------------------------ run elsewhere
# A script that gives wandb.init a dir= of its own: protein exec finds its
# run below the working directory at the end, says where, and the trials
# complete with the value logged (their curve is that one report).
mkdir "$tmp/elsewhere"
cat >"$tmp/elsewhere/elsewhere.py" <<'EOS'
import os
import wandb
os.makedirs("runs_here", exist_ok=True)
run = wandb.init(dir="runs_here", config={"x": 0.0})
wandb.log({"acc": run.config.x * 2})
run.finish()
EOS
printf 'method: random\nprogram: elsewhere.py\nmetric: {name: acc, goal: maximize}\nparameters:\n  x: {min: 0.0, max: 1.0}\n' \
    >"$tmp/elsewhere/elsewhere.yaml"
(cd "$tmp/elsewhere" &&
 "$PROTEIN" run elsewhere.yaml --trials 2 --out "$tmp/elsewhere.csv" \
     >"$tmp/elsewhere.out" 2>&1) || fail "protein run, run elsewhere: $(cat "$tmp/elsewhere.out")"
grep -q '2 trials: 2 completed, 0 pruned, 0 failed' "$tmp/elsewhere.out" &&
    grep -q 'protein exec: the run was written to ./runs_here/wandb, not ./wandb' "$tmp/elsewhere.out" ||
    fail "a run written below runs_here/: $(cat "$tmp/elsewhere.out")"
tail -n +2 "$tmp/elsewhere.csv" | awk -F, '{ d = $3 - 2 * $5; if (d < 0) d = -d; if (d > 1e-9) bad = 1 }
    END { exit bad }' || fail "acc is not 2 x: $(cat "$tmp/elsewhere.csv")"

# ------------------------------------------------------------ protein agent
cli_test_redis
"$PROTEIN" create "$corpus/ws-bayes.yaml" >"$tmp/create.out" 2>&1 ||
    fail "create: $(cat "$tmp/create.out")"
(cd "$tmp/agent" &&
 "$PROTEIN" agent ws-bayes --count 2 >"$tmp/agent.out" 2>&1) ||
    fail "protein agent: $(cat "$tmp/agent.out")"
sed -n 's/^trial \([0-9]*\) completed after [^:]*: loss_metric \([^,]*\),.*$/\1 \2/p' "$tmp/agent.out" >"$tmp/agent.lines"
[ "$(wc -l <"$tmp/agent.lines")" -eq 2 ] || fail "agent: $(cat "$tmp/agent.out")"
: >"$tmp/agent.scores"
while read -r trial _; do
    score=$("$PROTEIN" show ws-bayes "$trial" | sed -n 's/^score  *//p')
    echo "$trial $score" >>"$tmp/agent.scores"
done <"$tmp/agent.lines"
check_scores "$tmp/agent" ws-bayes "$tmp/agent.scores"
# every value the script logged reached Redis as one report of the trial's
# curve (W&B's hyperband counts each logged value)
while read -r trial _; do
    log=$(ls "$tmp"/agent/wandb/offline-run-*-ws-bayes-t"$trial"-*/files/output.log | head -n 1)
    logged=$(grep -c '^INFO: epoch' "$log" || true)
    sent=$(redis-cli -p "$REDIS_PORT" hget "protein:{$(id -un)/ws-bayes}:trial:$trial" progress_n)
    [ "$logged" -ge 1 ] && [ "$sent" = "$logged" ] ||
        fail "trial $trial: $logged values logged, $sent reports in Redis"
done <"$tmp/agent.lines"

# under protein agent the logged values reach Redis as progress: a stop
# request (proteind's early stop) ends the script early, recorded as pruned
sed -e '/epochs:/,/value/ s/value: 5$/value: 40/' "$corpus/ws-bayes.yaml" >"$tmp/agent/long.yaml"
grep -q 'value: 40' "$tmp/agent/long.yaml" || fail "long.yaml: epochs not raised"
"$PROTEIN" create "$tmp/agent/long.yaml" >/dev/null 2>&1 || fail "create long"
(cd "$tmp/agent" && "$PROTEIN" agent long --count 1 >"$tmp/long.out" 2>&1) &
agent_pid=$!
progressed() { "$PROTEIN" show long 1 2>/dev/null | grep -q '^progress'; }
i=0
until progressed || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
progressed || fail "no progress from the W&B script reached Redis"
redis-cli -p "$REDIS_PORT" hset "protein:{$(id -un)/long}:trial:1" stop_requested 1 >/dev/null
wait $agent_pid || fail "agent long: $(cat "$tmp/long.out")"
"$PROTEIN" show long 1 >"$tmp/long-show.out"
grep -q '^status  *pruned' "$tmp/long-show.out" ||
    fail "stopped trial not pruned: $(cat "$tmp/long-show.out")"

# no program: and no COMMAND: a one-line refusal
printf 'parameters:\n  x: {min: 0, max: 1}\n' >"$tmp/noprog.yaml"
rc=0
"$PROTEIN" run "$tmp/noprog.yaml" >"$tmp/noprog.out" 2>&1 || rc=$?
expect_rc 2 "$rc" "run without program or COMMAND"
grep -q 'no program: or command:' "$tmp/noprog.out" || fail "noprog: $(cat "$tmp/noprog.out")"

cli_test_finish
