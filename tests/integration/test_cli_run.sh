#!/bin/sh
# test_cli_run.sh - `protein run` end to end: the example sweep with
# examples/objective, the environment contract, failed trials, SIGINT, bad
# configs and exit statuses. Needs no services.
set -eu

: "${top_builddir:?run through make check}" "${top_srcdir:?run through make check}"
. "$top_srcdir/tests/common/cli_test.sh"
cli_test_init test_cli_run
SWEEP=$top_srcdir/examples/sweeps/quadratic.yaml

# ------------------------------------------------------------ a good sweep
rc=0
"$PROTEIN" run "$SWEEP" --trials 8 --parallel 3 --seed 11 --out "$tmp/ok.csv" \
    -- "$OBJECTIVE" >"$tmp/ok.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "good sweep"
header=$(head -n 1 "$tmp/ok.csv")
[ "$header" = "trial,status,score,cost,lr,x,layers,optimizer,error,curve" ] ||
    fail "CSV header is '$header'"
[ "$(wc -l <"$tmp/ok.csv")" -eq 9 ] || fail "expected 8 CSV rows"
awk -F, 'NR > 1 && (NF != 10 || $2 != "completed" || $3 == "" || $4 <= 0) {
    bad = 1 } END { exit bad }' "$tmp/ok.csv" || fail "malformed CSV rows"
[ "$(cut -d, -f1 "$tmp/ok.csv" | tail -n +2 | sort -n | tr '\n' ' ')" = \
  "1 2 3 4 5 6 7 8 " ] || fail "trial ids are not 1..8"
awk -F, 'NR > 1 && ($7 < 1 || $7 > 8 || $7 != int($7)) { bad = 1 }
    NR > 1 && $8 != "adam" && $8 != "sgd" && $8 != "rmsprop" { bad = 1 }
    END { exit bad }' "$tmp/ok.csv" || fail "parameter values outside the space"
[ "$(tail -n +2 "$tmp/ok.csv" | cut -d, -f5-8 | sort -u | wc -l)" -eq 8 ] ||
    fail "parallel trials got the same point (pending points ignored)"
grep -q '^best: trial [0-9]*, score ' "$tmp/ok.out" || fail "no best trial line"
grep -q '^  optimizer = ' "$tmp/ok.out" || fail "best trial params not printed"
# on a terminal (script(1) gives one), the last status line counts no
# trial running once all have finished
if command -v script >/dev/null 2>&1; then
    script -qec "'$PROTEIN' run '$SWEEP' --trials 3 -- '$OBJECTIVE'" /dev/null |
        tr '\r' '\n' | sed "s/$(printf '\033')\\[K//" | grep '^\[' >"$tmp/tty.lines" || true
    tail -n 1 "$tmp/tty.lines" | grep -q '^\[3/3\] running 0, failed 0' ||
        fail "the terminal's last status line: $(tail -n 1 "$tmp/tty.lines")"
fi
# the best score as the trial wrote it (0.7, not 0.69999999999999996)
cat >"$tmp/seven.sh" <<'EOF'
#!/bin/sh
echo score=0.7 >>"$PROTEIN_RESULT"
EOF
chmod +x "$tmp/seven.sh"
"$PROTEIN" run "$SWEEP" --trials 2 --out "$tmp/seven.csv" -- "$tmp/seven.sh" \
    >"$tmp/seven.out" 2>&1 || fail "sweep scoring 0.7: $(tail -n 3 "$tmp/seven.out")"
grep -q '^best: trial 1, score 0.7, cost ' "$tmp/seven.out" ||
    fail "the best score is not printed as written: $(grep '^best' "$tmp/seven.out")"
grep -q '8 trials: 8 completed, 0 pruned, 0 failed' "$tmp/ok.out" || fail "no summary"
[ "$(grep -c 'completed: score' "$tmp/ok.out")" -eq 8 ] ||
    fail "expected one plain progress line per trial (stdout is not a tty)"

# on a terminal (script(1) gives it one): a single line updated in place
if command -v script >/dev/null 2>&1; then
    script -qc "'$PROTEIN' run '$SWEEP' --trials 3 -- '$OBJECTIVE'" /dev/null \
        >"$tmp/tty.out" 2>&1 </dev/null || fail "run on a terminal"
    grep -q "$(printf '\r\033\\[K')\\[3/3\\] running 0, failed 0, best " "$tmp/tty.out" ||
        fail "no in-place status line on a terminal"
    ! grep -q 'completed: score' "$tmp/tty.out" ||
        fail "plain progress lines on a terminal"
fi

# the same seed gives the same sweep
"$PROTEIN" run "$SWEEP" --trials 8 --parallel 1 --seed 11 --out "$tmp/s1.csv" \
    -- "$OBJECTIVE" >/dev/null 2>&1 || fail "seeded run 1"
"$PROTEIN" run "$SWEEP" --trials 8 --parallel 1 --seed 11 --out "$tmp/s2.csv" \
    -- "$OBJECTIVE" >/dev/null 2>&1 || fail "seeded run 2"
cmp -s "$tmp/s1.csv" "$tmp/s2.csv" || fail "seeded runs differ"

# a deterministic objective that reports no cost, with wall times that
# differ from run to run: each trial costs 1, so the same seed gives the
# same sweep, model suggestions (after the 10 warm-up trials) included
cat >"$tmp/nocost.sh" <<'EOF'
#!/bin/sh
sleep "0.0$(( $$ % 7 ))"
awk -v lr="$PROTEIN_PARAM_LR" -v x="$PROTEIN_PARAM_X" 'BEGIN {
    l = log(lr) / log(10) + 3; printf "score=%.12g\n", -(l * l) - (x - 0.5) ^ 2 }' \
    >>"$PROTEIN_RESULT"
EOF
chmod +x "$tmp/nocost.sh"
for k in 1 2; do
    "$PROTEIN" run "$SWEEP" --trials 14 --parallel 1 --seed 5 \
        --out "$tmp/n$k.csv" -- "$tmp/nocost.sh" >/dev/null 2>&1 ||
        fail "cost-less seeded run $k"
done
[ "$(tail -n +2 "$tmp/n1.csv" | cut -d, -f4 | sort -u)" = 1 ] ||
    fail "a trial without a reported cost does not cost 1"
cmp -s "$tmp/n1.csv" "$tmp/n2.csv" || fail "cost-less seeded runs differ"

# --trials defaults to max_trials of the config (32)
"$PROTEIN" run "$SWEEP" --parallel 4 --out "$tmp/all.csv" -- "$OBJECTIVE" \
    >/dev/null 2>&1 || fail "default trial count run"
[ "$(wc -l <"$tmp/all.csv")" -eq 33 ] || fail "expected max_trials = 32 rows"

# a grid ends the sweep early: 4 points, not 10 trials
cat >"$tmp/grid.yaml" <<'EOF'
name: grid
method: grid
parameters:
  optimizer: {values: [adam, sgd]}
  layers: {values: [2, 4]}
EOF
"$PROTEIN" run "$tmp/grid.yaml" --trials 10 --parallel 2 --out "$tmp/grid.csv" \
    -- "$OBJECTIVE" >"$tmp/grid.out" 2>&1 || fail "grid sweep"
[ "$(tail -n +2 "$tmp/grid.csv" | cut -d, -f5,6 | sort -u | tr '\n' ' ')" = \
  "adam,2 adam,4 sgd,2 sgd,4 " ] || fail "grid points: $(cat "$tmp/grid.csv")"
grep -q 'grid done' "$tmp/grid.out" || fail "no 'grid done' message"

# a W&B file that repeats a categorical's value runs as it is, each value
# kept once (in order) with a warning naming file:line:key; a grid runs
# each distinct value once (W&B's grid would run the repeat again)
cat >"$tmp/repeat.yaml" <<'EOF'
name: repeat
method: grid
parameters:
  optimizer: {values: [adam, sgd, adam]}
  layers:
    values:
      - 2
      - 4
      - 2.0
EOF
"$PROTEIN" run "$tmp/repeat.yaml" --parallel 2 --out "$tmp/repeat.csv" \
    -- "$OBJECTIVE" >"$tmp/repeat.out" 2>&1 ||
    fail "grid with repeated values: $(tail -n 3 "$tmp/repeat.out")"
[ "$(tail -n +2 "$tmp/repeat.csv" | cut -d, -f5,6 | sort | tr '\n' ' ')" = \
  "adam,2 adam,4 sgd,2 sgd,4 " ] ||
    fail "grid with repeats does not run each distinct point once: $(cat "$tmp/repeat.csv")"
grep -qF "$tmp/repeat.yaml:4: parameters.optimizer.values: 'adam' is listed 2 times; protein keeps each value once" \
    "$tmp/repeat.out" || fail "no warning naming the repeated adam: $(head -n 3 "$tmp/repeat.out")"
grep -qF "$tmp/repeat.yaml:9: parameters.layers.values: '2' is listed 2 times (also as '2.0')" \
    "$tmp/repeat.out" || fail "no warning naming 2 and 2.0: $(head -n 3 "$tmp/repeat.out")"
[ "$(grep -c 'is listed' "$tmp/repeat.out")" -eq 2 ] ||
    fail "not one warning per parameter: $(cat "$tmp/repeat.out")"
# and so does a sampled sweep (method random, W&B's sampling)
sed 's/method: grid/method: random/' "$tmp/repeat.yaml" >"$tmp/repeat-random.yaml"
"$PROTEIN" run "$tmp/repeat-random.yaml" --trials 4 --seed 2 --out "$tmp/rr.csv" \
    -- "$OBJECTIVE" >"$tmp/rr.out" 2>&1 ||
    fail "random sweep with repeated values: $(tail -n 3 "$tmp/rr.out")"
grep -qF "$tmp/repeat-random.yaml:4: parameters.optimizer.values: 'adam'" "$tmp/rr.out" ||
    fail "protein run (random) does not print the warning"
[ "$(grep -c '^[0-9]*,completed,[^,]*,[^,]*,\(adam\|sgd\),[24],,$' "$tmp/rr.csv")" -eq 4 ] ||
    fail "random sweep with repeats: $(cat "$tmp/rr.csv")"

# without --trials or run_cap a grid runs to its end, as wandb agent runs
# it: 6 x 4 = 24 points, more than the default 20 trials
cat >"$tmp/grid24.yaml" <<'EOF'
name: grid24
method: grid
parameters:
  seed: {distribution: int_uniform, min: 1, max: 6}
  layers: {values: [1, 2, 3, 4]}
EOF
"$PROTEIN" run "$tmp/grid24.yaml" --parallel 2 --out "$tmp/grid24.csv" \
    -- "$OBJECTIVE" >"$tmp/grid24.out" 2>&1 || fail "grid24 sweep"
[ "$(tail -n +2 "$tmp/grid24.csv" | cut -d, -f5,6 | sort -u | wc -l)" -eq 24 ] ||
    fail "grid without --trials: $(tail -n 3 "$tmp/grid24.out")"
grep -q '^24 trials: 24 completed' "$tmp/grid24.out" ||
    fail "grid24: $(tail -n 3 "$tmp/grid24.out")"

# goal: minimize picks the lowest score, and the metric key comes from the config
sed -e 's/goal: maximize/goal: minimize/' -e 's/name: score/name: loss/' \
    "$SWEEP" >"$tmp/min.yaml"
cat >"$tmp/loss.sh" <<EOF
#!/bin/sh
env -u PROTEIN_RESULT "$OBJECTIVE" | sed 's/^score=/loss=/' >>"\$PROTEIN_RESULT"
EOF
chmod +x "$tmp/loss.sh"
"$PROTEIN" run "$tmp/min.yaml" --trials 6 --out "$tmp/min.csv" -- "$tmp/loss.sh" \
    >"$tmp/min.out" 2>&1 || fail "minimize sweep"
lowest=$(tail -n +2 "$tmp/min.csv" | sort -t, -k3 -g | head -n 1 | cut -d, -f1)
grep -q "^best: trial $lowest, loss " "$tmp/min.out" ||
    fail "minimize: best is not the lowest loss (trial $lowest)"

# a new sweep starts from the config's defaults when every parameter has
# one (as proteind starts one), then its warm-up
cat >"$tmp/defaults.yaml" <<'EOF'
name: defaults
method: protein
metric: {name: score, goal: maximize}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-5, max: 1.0e-1, default: 3.0e-4}
  x: {distribution: uniform, min: -3, max: 3, default: 1.25}
  optimizer: {values: [adam, sgd, rmsprop], default: sgd}
EOF
"$PROTEIN" run "$tmp/defaults.yaml" --trials 3 --seed 5 --out "$tmp/defaults.csv" \
    -- "$OBJECTIVE" >/dev/null 2>&1 || fail "defaults sweep"
[ "$(sed -n 2p "$tmp/defaults.csv" | cut -d, -f5-7)" = "0.0003,1.25,sgd" ] ||
    fail "first trial is not the defaults: $(sed -n 2p "$tmp/defaults.csv")"
[ "$(sed -n 3p "$tmp/defaults.csv" | cut -d, -f5-7)" != "0.0003,1.25,sgd" ] ||
    fail "second trial repeats the defaults"

# CSV quoting of values with commas and quotes
cat >"$tmp/quote.yaml" <<'EOF'
name: quote
method: grid
parameters:
  label: {values: ["a,b", "say \"hi\""]}
EOF
"$PROTEIN" run "$tmp/quote.yaml" --out "$tmp/quote.csv" -- "$OBJECTIVE" \
    >/dev/null 2>&1 || fail "quote sweep"
grep -q '^1,completed,[^,]*,[^,]*,"a,b",,$' "$tmp/quote.csv" || fail "comma not quoted"
grep -q '^2,completed,[^,]*,[^,]*,"say ""hi""",,$' "$tmp/quote.csv" || fail "quote not doubled"

# ------------------------------------------------------------ the metric's name
# The progress lines call the value what the config calls the metric.
cat >"$tmp/loss.yaml" <<'EOF'
name: loss-names
method: random
metric:
  name: loss
  goal: minimize
parameters:
  x:
    distribution: uniform
    min: 0.0
    max: 1.0
EOF
printf '#!/bin/sh\necho "loss=$PROTEIN_PARAM_X" >>"$PROTEIN_RESULT"\n' >"$tmp/loss.sh"
chmod +x "$tmp/loss.sh"
rc=0
"$PROTEIN" run "$tmp/loss.yaml" --trials 2 -- "$tmp/loss.sh" >"$tmp/loss.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "sweep of a metric named loss"
[ "$(grep -c 'completed: loss [0-9.e-]*, cost ' "$tmp/loss.out")" -eq 2 ] ||
    fail "progress lines do not name the metric loss: $(cat "$tmp/loss.out")"

# early_terminate: W&B's hyperband stops trials worse than the top 1/eta
# at each band, on the values they report as they run
cat >"$tmp/hb.yaml" <<'EOF'
name: hb
method: random
metric: {name: loss}
early_terminate: {type: hyperband, min_iter: 2, eta: 2}
parameters:
  x: {min: 0.0, max: 1.0}
EOF
cat >"$tmp/curve.sh" <<'EOF'
#!/bin/sh
x=$(printf '%s' "$PROTEIN_PARAMS" | sed 's/.*"x": \([0-9.e-]*\).*/\1/')
for i in 1 2 3 4 5 6; do
    printf 'step=%s\nloss=%s\n' "$i" "$x" >>"$PROTEIN_RESULT"
    sleep 0.4
done
echo "loss=$x" >>"$PROTEIN_RESULT"
EOF
chmod +x "$tmp/curve.sh"
"$PROTEIN" run "$tmp/hb.yaml" --trials 8 --parallel 4 --seed 1 --out "$tmp/hb.csv" \
    -- "$tmp/curve.sh" >"$tmp/hb.out" 2>&1 || fail "hyperband sweep: $(cat "$tmp/hb.out")"
grep -q 'stopped early by hyperband' "$tmp/hb.out" || fail "hyperband stopped nothing"
# the progress lines and the summary call a stopped trial pruned, as the CSV
n=$(grep -c '^[0-9]*,pruned,' "$tmp/hb.csv") || :
[ "$(grep -c '^\[[0-9]*/8\] trial [0-9]* pruned: loss ' "$tmp/hb.out")" -eq "$n" ] &&
    grep -q '\] trial [0-9]* pruned: loss [0-9.e-]*, cost [0-9.e-]* (stopped by hyperband after [0-9]* reports)' \
        "$tmp/hb.out" ||
    fail "the progress lines do not say pruned: $(cat "$tmp/hb.out")"
grep -q "^8 trials: $((8 - n)) completed, $n pruned, 0 failed$" "$tmp/hb.out" ||
    fail "the summary does not count the pruned trials: $(cat "$tmp/hb.out")"
best=$(awk -F, '$2 == "completed" { print $3 }' "$tmp/hb.csv" | sort -g | head -n 1)
awk -F, -v best="$best" '$2 == "pruned" && $3 <= best { bad = 1 } END { exit bad }' \
    "$tmp/hb.csv" || fail "hyperband stopped a trial better than the best: $(cat "$tmp/hb.csv")"

# a stopped program that writes its final result on the way out (a SIGTERM
# handler; protein exec does so for a W&B script) is still pruned, and the
# progress line and the CSV's error column say who stopped it
sed 's/^for i in/trap '"'"'echo "loss=$x" >>"$PROTEIN_RESULT"; exit 0'"'"' TERM\nfor i in/' \
    "$tmp/curve.sh" >"$tmp/trap.sh"
chmod +x "$tmp/trap.sh"
grep -q '^trap ' "$tmp/trap.sh" || fail "trap.sh has no trap: $(cat "$tmp/trap.sh")"
"$PROTEIN" run "$tmp/hb.yaml" --trials 8 --parallel 4 --seed 1 --out "$tmp/hb-trap.csv" \
    -- "$tmp/trap.sh" >"$tmp/hb-trap.out" 2>&1 || fail "hyperband sweep: $(cat "$tmp/hb-trap.out")"
n=$(grep -c '^[0-9]*,pruned,' "$tmp/hb-trap.csv") || :
[ "$n" -gt 0 ] || fail "hyperband stopped no trapping trial: $(cat "$tmp/hb-trap.csv")"
[ "$(grep -c '^[0-9]*,pruned,.*,stopped by hyperband after [0-9]* reports,' "$tmp/hb-trap.csv")" -eq "$n" ] ||
    fail "a pruned row that wrote its result on SIGTERM does not say why: $(cat "$tmp/hb-trap.csv")"
[ "$(grep -c '\] trial [0-9]* pruned: loss [0-9.e-]*, cost [0-9.e-]* (stopped by hyperband after [0-9]* reports)' \
    "$tmp/hb-trap.out")" -eq "$n" ] ||
    fail "a pruned line that wrote its result on SIGTERM does not say why: $(cat "$tmp/hb-trap.out")"

# a stopped trial is recorded at its last report's cost, also when
# `protein report` is given the cost after the metric (report i costs i)
cat >"$tmp/report.sh" <<EOF
#!/bin/sh
x=\$(printf '%s' "\$PROTEIN_PARAMS" | sed 's/.*"x": \\([0-9.e-]*\\).*/\\1/')
for i in 1 2 3 4 5 6; do
    "$PROTEIN" report step=\$i loss=\$x cost=\$i
    sleep 0.4
done
"$PROTEIN" report loss=\$x cost=6
EOF
chmod +x "$tmp/report.sh"
# stopped_at_report_cost CSV: some trial of CSV was stopped by hyperband,
# and each such trial is recorded at the cost of its last report (report
# i costs i)
stopped_at_report_cost() {
    awk -F, '$6 ~ /^stopped by hyperband after [0-9]+ reports$/ {
            n++; split($6, w, " "); if ($4 != w[5]) bad = 1 }
        END { exit bad || !n }' "$1"
}
"$PROTEIN" run "$tmp/hb.yaml" --trials 8 --parallel 4 --seed 1 \
    --out "$tmp/hb-report.csv" -- "$tmp/report.sh" >"$tmp/hb-report.out" 2>&1 ||
    fail "hyperband sweep with protein report: $(cat "$tmp/hb-report.out")"
stopped_at_report_cost "$tmp/hb-report.csv" ||
    fail "a stopped trial is not recorded at its last report's cost: $(cat "$tmp/hb-report.csv")"

# a cost key of another name (cost: {name: mycost}) is the trial's
# $PROTEIN_COST_KEY, as the metric's is its $PROTEIN_METRIC_KEY, and
# `protein report` writes it between step= and the metric, as cost=:
# `protein report step=1 loss=0.3 mycost=5` is a report at cost 5
sed 's/^metric: {name: loss}$/&\ncost: {name: mycost}/' "$tmp/hb.yaml" >"$tmp/hb-cost.yaml"
cat >"$tmp/cost-key.sh" <<EOF
#!/bin/sh
echo "\$PROTEIN_METRIC_KEY \$PROTEIN_COST_KEY" >"$tmp/cost-key.names"
"$PROTEIN" report step=1 loss=0.3 mycost=5
cp "\$PROTEIN_RESULT" "$tmp/cost-key.result"
"$PROTEIN" report loss=0.3 mycost=7
EOF
chmod +x "$tmp/cost-key.sh"
"$PROTEIN" run "$tmp/hb-cost.yaml" --trials 1 --out "$tmp/cost-key.csv" \
    -- "$tmp/cost-key.sh" >"$tmp/cost-key.out" 2>&1 ||
    fail "sweep with a cost key of another name: $(cat "$tmp/cost-key.out")"
[ "$(cat "$tmp/cost-key.names")" = "loss mycost" ] ||
    fail "the trial's PROTEIN_METRIC_KEY and PROTEIN_COST_KEY are '$(cat "$tmp/cost-key.names")', not 'loss mycost'"
[ "$(cat "$tmp/cost-key.result")" = "$(printf 'step=1\nmycost=5\nloss=0.3')" ] ||
    fail "protein report did not write the cost key mycost= between step= and the metric: $(cat "$tmp/cost-key.result")"
awk -F, 'NR == 2 && $2 == "completed" && $4 == 7 { ok = 1 } END { exit !ok }' \
    "$tmp/cost-key.csv" || fail "the trial's cost is not its mycost=7: $(cat "$tmp/cost-key.csv")"
# and a trial stopped there is recorded at that report's mycost
sed 's/ cost=/ mycost=/' "$tmp/report.sh" >"$tmp/report-cost.sh"
chmod +x "$tmp/report-cost.sh"
"$PROTEIN" run "$tmp/hb-cost.yaml" --trials 8 --parallel 4 --seed 1 \
    --out "$tmp/hb-cost.csv" -- "$tmp/report-cost.sh" >"$tmp/hb-cost.out" 2>&1 ||
    fail "hyperband sweep with protein report of mycost: $(cat "$tmp/hb-cost.out")"
stopped_at_report_cost "$tmp/hb-cost.csv" ||
    fail "a stopped trial is not recorded at its last report's mycost: $(cat "$tmp/hb-cost.csv")"

# without early_terminate, Protein's early-stop model (as proteind runs it
# under Slurm): once 30 trials have finished, a trial whose report is far
# below what runs of that cost scored is stopped; a report without cost=
# is not judged
cat >"$tmp/es.yaml" <<'EOF'
name: es
method: protein
metric: {name: score, goal: maximize}
parameters:
  x: {min: 0.0, max: 1.0}
EOF
cat >"$tmp/es.sh" <<'EOF'
#!/bin/sh
x=$(printf '%s' "$PROTEIN_PARAMS" | sed 's/.*"x": \([0-9.e-]*\).*/\1/')
low=$(awk -v x="$x" 'BEGIN { print x / 10 }')
if [ -n "${ES_COST:-}" ]; then
    printf 'step=1\ncost=30\nscore=%s\n' "$low" >>"$PROTEIN_RESULT"
else
    printf 'step=1\nscore=%s\n' "$low" >>"$PROTEIN_RESULT"
fi
sleep 0.5
awk -v x="$x" 'BEGIN { printf "score=%s\ncost=%s\n", x, 20 + 20 * x }' >>"$PROTEIN_RESULT"
EOF
chmod +x "$tmp/es.sh"
ES_COST=1 "$PROTEIN" run "$tmp/es.yaml" --trials 40 --parallel 4 --seed 3 \
    --out "$tmp/es.csv" -- "$tmp/es.sh" >"$tmp/es.out" 2>&1 ||
    fail "early-stop sweep: $(cat "$tmp/es.out")"
grep -q 'stopped early by the early-stop model' "$tmp/es.out" ||
    fail "the early-stop model stopped nothing: $(cat "$tmp/es.out")"
# a stopped trial is recorded at its report: score x/10, cost 30 (one
# stopped as it wrote its final result keeps that result, score x); the
# error column of each says who stopped it
awk -F, '$6 ~ /^stopped by the early-stop model/ { n++ } END { exit !(n >= 5) }' \
    "$tmp/es.csv" || fail "fewer than 5 of the last 10 trials stopped: $(cat "$tmp/es.csv")"
awk -F, 'NR > 1 && $2 == "completed" { done++ }
    $2 == "pruned" && done < 30 { bad = 1 }
    ($2 == "pruned") != ($6 ~ /^stopped by the early-stop model after 1 reports$/) { bad = 1 }
    $2 == "pruned" && $3 != $5 && ($3 > 0.1 || $4 != 30) { bad = 1 }
    END { exit bad }' "$tmp/es.csv" ||
    fail "a trial stopped before 30 finished, or not at its report: $(cat "$tmp/es.csv")"
"$PROTEIN" run "$tmp/es.yaml" --trials 40 --parallel 4 --seed 3 \
    --out "$tmp/es-nocost.csv" -- "$tmp/es.sh" >"$tmp/es-nocost.out" 2>&1 ||
    fail "early-stop sweep without costs in the reports"
! grep -q 'stopped early' "$tmp/es-nocost.out" ||
    fail "a report without cost= was judged: $(cat "$tmp/es-nocost.csv")"

# metric.target: no new trials once one reaches it (loss 0.99 or less)
sed -e 's/metric: {name: loss}/metric: {name: loss, target: 0.99}/' \
    -e '/early_terminate/d' "$tmp/hb.yaml" >"$tmp/target.yaml"
"$PROTEIN" run "$tmp/target.yaml" --trials 20 --out "$tmp/target.csv" \
    -- "$tmp/curve.sh" >"$tmp/target.out" 2>&1 || fail "target sweep"
grep -q 'reached the target' "$tmp/target.out" || fail "target not reached"
[ "$(tail -n +2 "$tmp/target.csv" | wc -l)" -lt 20 ] || fail "target: all 20 trials ran"

# ------------------------------------------------------------ the environment contract
cat >"$tmp/env.sh" <<'EOF'
#!/bin/sh
env | grep '^PROTEIN_' | sort >"$ENV_DIR/trial-$PROTEIN_TRIAL.env"
stat -c '%a' "$PROTEIN_RESULT" >>"$ENV_DIR/trial-$PROTEIN_TRIAL.env"
stat -c 'dir %a' "$(dirname "$PROTEIN_RESULT")" >>"$ENV_DIR/trial-$PROTEIN_TRIAL.env"
echo "score=$PROTEIN_TRIAL" >>"$PROTEIN_RESULT"
EOF
chmod +x "$tmp/env.sh"
mkdir "$tmp/env"
ENV_DIR=$tmp/env PROTEIN_TOKEN=outer PROTEIN_PARAM_STALE=1 PROTEIN_REDIS=redis://kept \
    "$PROTEIN" run "$SWEEP" --trials 2 --out "$tmp/env.csv" \
    -- "$tmp/env.sh" >/dev/null 2>&1 || fail "env sweep"
e=$tmp/env/trial-2.env
grep -q '^PROTEIN_SWEEP=quadratic$' "$e" || fail "PROTEIN_SWEEP"
grep -q '^PROTEIN_TRIAL=2$' "$e" || fail "PROTEIN_TRIAL"
grep -q '^PROTEIN_PARAMS={.*"optimizer": *"' "$e" || fail "PROTEIN_PARAMS"
grep -q '^PROTEIN_ARGS=.*--layers=[0-9]' "$e" || fail "PROTEIN_ARGS"
grep -q '^PROTEIN_PARAM_LAYERS=[1-8]$' "$e" || fail "PROTEIN_PARAM_LAYERS"
grep -q '^PROTEIN_PARAM_LR=' "$e" || fail "PROTEIN_PARAM_LR"
grep -q '^PROTEIN_RESULT=' "$e" || fail "PROTEIN_RESULT"
grep -q '^600$' "$e" || fail "result file is not mode 0600"
grep -q '^dir 700$' "$e" || fail "result directory is not mode 0700"
! grep -q '^PROTEIN_TOKEN=' "$e" || fail "protein run exports a token"
! grep -q '^PROTEIN_PARAM_STALE=' "$e" || fail "an inherited parameter leaks into trials"
grep -q '^PROTEIN_REDIS=redis://kept$' "$e" || fail "PROTEIN_REDIS not passed on"
result_dir=$(sed -n 's/^PROTEIN_RESULT=//p' "$e" | xargs dirname)
[ ! -e "$result_dir" ] || fail "private directory $result_dir left behind"
# the metric comes from the result file: trial 2 scored 2
grep -q '^2,completed,2,' "$tmp/env.csv" || fail "score not read from the result file"

# ------------------------------------------------------------ failed trials
cat >"$tmp/flaky.sh" <<EOF
#!/bin/sh
case "\$PROTEIN_TRIAL" in
2) echo "trial 2 fails on purpose" >&2; exit 3 ;;
4) exit 0 ;;                    # no metric: a failure
5) kill -9 \$\$ ;;
esac
exec "$OBJECTIVE"
EOF
chmod +x "$tmp/flaky.sh"
rc=0
"$PROTEIN" run "$SWEEP" --trials 6 --parallel 2 --out "$tmp/flaky.csv" \
    -- "$tmp/flaky.sh" >"$tmp/flaky.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "sweep with failures"
[ "$(wc -l <"$tmp/flaky.csv")" -eq 7 ] || fail "the sweep did not go on after failures"
grep -q '^2,failed,,[0-9.e-]*,.*,exit status 3,$' "$tmp/flaky.csv" ||
    fail "trial 2 not recorded as failed with exit status 3"
grep -q '^4,failed,,.*no result' "$tmp/flaky.csv" ||
    fail "trial 4 (no metric) not recorded as failed"
grep -q '^5,failed,,.*killed by signal 9' "$tmp/flaky.csv" ||
    fail "trial 5 (killed) not recorded as failed"
[ "$(grep -c ',completed,' "$tmp/flaky.csv")" -eq 3 ] || fail "expected 3 completed"
grep -q 'trial 2 failed: exit status 3' "$tmp/flaky.out" || fail "failure not shown"

# every trial fails: exit status 1
rc=0
"$PROTEIN" run "$SWEEP" --trials 2 -- false >"$tmp/false.out" 2>&1 || rc=$?
expect_rc 1 "$rc" "all trials failing"
grep -q 'no trial completed' "$tmp/false.out" || fail "no 'no trial completed' message"

# a command that does not exist, or is no executable file: a usage error
# before the first trial (exit status 2), nothing run and no --out made
for missing in "$tmp/does-not-exist" no-such-command-anywhere "$tmp"; do
    rc=0
    "$PROTEIN" run "$SWEEP" --trials 1 --out "$tmp/nocmd.csv" \
        -- "$missing" >"$tmp/nocmd.out" 2>&1 || rc=$?
    expect_rc 2 "$rc" "missing command $missing"
    grep -qF "cannot run the COMMAND '$missing': " "$tmp/nocmd.out" ||
        fail "missing command $missing: $(cat "$tmp/nocmd.out")"
    [ ! -e "$tmp/nocmd.csv" ] || fail "missing command $missing: --out was made"
done
# one that cannot be executed after all (its interpreter is missing):
# failed trials (exit status 127)
printf '#!%s/no-interpreter\n' "$tmp" >"$tmp/badshebang.sh"
chmod +x "$tmp/badshebang.sh"
rc=0
"$PROTEIN" run "$SWEEP" --trials 1 --out "$tmp/nocmd.csv" \
    -- "$tmp/badshebang.sh" >"$tmp/nocmd.out" 2>&1 || rc=$?
expect_rc 1 "$rc" "a command whose interpreter is missing"
grep -q 'cannot run' "$tmp/nocmd.out" || fail "exec failure not explained"
grep -q '^1,failed,.*exit status 127' "$tmp/nocmd.csv" || fail "exec failure not recorded"

# ------------------------------------------------------------ SIGINT
cat >"$tmp/slow.sh" <<EOF
#!/bin/sh
echo \$\$ >>"$tmp/slow.pids"
case "\$PROTEIN_TRIAL" in
1|2) exec "$OBJECTIVE" ;;
esac
sleep 30
EOF
chmod +x "$tmp/slow.sh"
"$PROTEIN" run "$SWEEP" --trials 50 --parallel 2 --out "$tmp/int.csv" \
    -- "$tmp/slow.sh" >"$tmp/int.out" 2>&1 &
pid=$!
# trials 1 and 2 done, 3 and 4 sleeping
four_started() {
    [ "$(cat "$tmp/slow.pids" 2>/dev/null | wc -l)" -ge 4 ]
}
wait_for four_started
# rows are written as trials finish: trials 1 and 2 are in the CSV already
[ "$(wc -l <"$tmp/int.csv")" -eq 3 ] || fail "CSV rows not written as trials finish"
kill -INT $pid
rc=0
wait $pid || rc=$?
expect_rc 130 "$rc" "SIGINT"
[ -f "$tmp/int.csv" ] || fail "no CSV after SIGINT"
[ "$(wc -l <"$tmp/int.csv")" -eq 3 ] || fail "CSV after SIGINT should hold trials 1 and 2"
for p in $(cat "$tmp/slow.pids"); do
    ! kill -0 "$p" 2>/dev/null || fail "trial process $p survived SIGINT"
done
grep -q 'stopped' "$tmp/int.out" || fail "no message after SIGINT"

# ------------------------------------------------------------ kill -9
# all_gone FILE: no process of the pids in FILE runs
all_gone() {
    for p in $(cat "$1"); do
        ! kill -0 "$p" 2>/dev/null || return 1
    done
}
# expect_gone FILE WHAT: waits for the processes of FILE to end; fails
# saying WHAT (with the pid) for each that still runs, and ends it
expect_gone() {
    wait_for all_gone "$1"
    for p in $(cat "$1"); do
        if kill -0 "$p" 2>/dev/null; then
            fail "$2 (pid $p)"
            kill "$p"
        fi
    done
}

# kill_outright NAME N WHAT: runs 4 trials of $tmp/NAME.sh, 2 at a time,
# kills protein run outright (kill -9) once the trials wrote N pids to
# $tmp/NAME.pids, and expects each of those processes to end (else WHAT)
kill_outright() {
    outright=$1 outright_n=$2
    "$PROTEIN" run "$SWEEP" --trials 4 --parallel 2 -- "$tmp/$outright.sh" \
        >"$tmp/$outright.out" 2>&1 &
    outright_pid=$!
    wait_for pids_written
    pids_written ||
        fail "the trials of $outright.sh did not start: $(cat "$tmp/$outright.out")"
    kill -9 $outright_pid
    wait $outright_pid || true
    expect_gone "$tmp/$outright.pids" "$3"
}
pids_written() {
    [ "$(cat "$tmp/$outright.pids" 2>/dev/null | wc -l)" -ge "$outright_n" ]
}

# protein run killed outright: its running trials do not run on unseen
cat >"$tmp/orphan.sh" <<EOF
#!/bin/sh
echo \$\$ >>"$tmp/orphan.pids"
exec sleep 30
EOF
chmod +x "$tmp/orphan.sh"
kill_outright orphan 2 "a trial process survived kill -9 of protein run"

# ... nor what the trial started: a shell script's training, and a process
# that ignores SIGTERM (SIGKILL after the grace period)
cat >"$tmp/tree.sh" <<EOF
#!/bin/sh
sleep 30 &
echo \$! >>"$tmp/tree.pids"
sh -c 'trap "" TERM; exec sleep 31' &
echo \$! >>"$tmp/tree.pids"
wait
EOF
chmod +x "$tmp/tree.sh"
kill_outright tree 4 "a process started by a trial survived kill -9 of protein run"

# ------------------------------------------------------------ a .py as config
# A script of W&B's Python API (its sweep is a dict) given where the sweep
# file goes: a config error that says what to do, nothing run
printf 'import wandb\nwandb.sweep({"method": "random"})\n' >"$tmp/apisweep.py"
rc=0
"$PROTEIN" run "$tmp/apisweep.py" -- true >/dev/null 2>"$tmp/apisweep.err" || rc=$?
expect_rc 2 "$rc" "protein run of a .py file"
grep -q "apisweep.py:1: a Python program, not a sweep file: put the sweep (the dict it gives wandb.sweep) in a YAML file with program: " "$tmp/apisweep.err" ||
    fail "protein run of a .py file: $(cat "$tmp/apisweep.err")"

# ------------------------------------------------------------ the W&B command
# With no COMMAND the config's W&B command must be able to start here: no
# python in $PATH (Debian has only python3 outside a virtualenv), a
# program: that is not in this directory, or a command: naming no
# program stop protein run before its first trial (exit 2, --out untouched)
mkdir "$tmp/wbdir" "$tmp/nopython"
printf '#!/bin/sh\necho score=0.5 >>"$PROTEIN_RESULT"\n' >"$tmp/wbdir/train.py"
ln -s "$(command -v env)" "$tmp/nopython/env"
printf 'program: train.py\nmetric: {name: score, goal: maximize}\nparameters:\n  x: {min: 0.0, max: 1.0}\n' \
    >"$tmp/wbdir/wb.yaml"
rc=0
(cd "$tmp/wbdir" && PATH=$tmp/nopython "$PROTEIN" run wb.yaml --trials 2 --out "$tmp/nopy.csv") \
    >/dev/null 2>"$tmp/nopy.err" || rc=$?
expect_rc 2 "$rc" "protein run of a W&B config with no python in PATH"
grep -q "^protein run: wb.yaml: the command runs 'python' (W&B's \${interpreter}), and there is no python in \$PATH" \
    "$tmp/nopy.err" && [ ! -e "$tmp/nopy.csv" ] ||
    fail "no python in PATH: $(cat "$tmp/nopy.err")"
rc=0
(cd "$tmp" && "$PROTEIN" run wbdir/wb.yaml --trials 2) >/dev/null 2>"$tmp/noprogfile.err" || rc=$?
expect_rc 2 "$rc" "protein run of a W&B config whose program is not in this directory"
grep -qF "protein run: wbdir/wb.yaml: its program 'train.py' is not a file in $tmp; no trial was run" \
    "$tmp/noprogfile.err" || fail "program not here: $(cat "$tmp/noprogfile.err")"
printf 'program: train.py\ncommand: [pyhton3, "${program}"]\nmetric: {name: score, goal: maximize}\nparameters:\n  x: {min: 0.0, max: 1.0}\n' \
    >"$tmp/wbdir/typo.yaml"
rc=0
(cd "$tmp/wbdir" && "$PROTEIN" run typo.yaml --trials 2) >/dev/null 2>"$tmp/typo.err" || rc=$?
expect_rc 2 "$rc" "protein run of a W&B command: naming no program"
grep -qF "protein run: typo.yaml: cannot run its command 'pyhton3': No such file or directory (looked in \$PATH)" \
    "$tmp/typo.err" || fail "command typo: $(cat "$tmp/typo.err")"
# a command whose first word is the program: it must be executable
printf 'program: ./train.py\ncommand: ["${program}"]\nmetric: {name: score, goal: maximize}\nparameters:\n  x: {min: 0.0, max: 1.0}\n' \
    >"$tmp/wbdir/direct.yaml"
rc=0
(cd "$tmp/wbdir" && "$PROTEIN" run direct.yaml --trials 2) >/dev/null 2>"$tmp/direct.err" || rc=$?
expect_rc 2 "$rc" "protein run of a W&B program that is not executable"
grep -qF "protein run: direct.yaml: cannot run its program './train.py': Permission denied" \
    "$tmp/direct.err" || fail "program not executable: $(cat "$tmp/direct.err")"
chmod +x "$tmp/wbdir/train.py"
(cd "$tmp/wbdir" && "$PROTEIN" run direct.yaml --trials 2) >"$tmp/direct.out" 2>&1 ||
    fail "an executable W&B program: $(cat "$tmp/direct.out")"
grep -q '^2 trials: 2 completed' "$tmp/direct.out" || fail "direct program: $(cat "$tmp/direct.out")"

# a PufferLib INI names no program: protein run without COMMAND says how
# to give one (PufferLib's trainer through pufferlib_train.py), not W&B's keys
cp "$top_srcdir/examples/sweeps/pufferlib.ini" "$tmp/puffer.ini"
rc=0
"$PROTEIN" run "$tmp/puffer.ini" --trials 1 >/dev/null 2>"$tmp/puffer.err" || rc=$?
expect_rc 2 "$rc" "protein run of an INI without COMMAND"
grep -qF "protein run: $tmp/puffer.ini is a PufferLib config, which names no program: give each trial's command after '--', e.g. for PufferLib's trainer: protein run $tmp/puffer.ini -- sh -c 'python3 " \
    "$tmp/puffer.err" && grep -qF "/pufferlib_train.py ENV_NAME \$PROTEIN_ARGS'" "$tmp/puffer.err" ||
    fail "protein run of an INI without COMMAND: $(cat "$tmp/puffer.err")"

# ------------------------------------------------------------ exec outside a trial
# protein exec outside a trial names the variable it lacks
for unset_var in PROTEIN_PARAMS PROTEIN_RESULT; do
    rc=0
    (export PROTEIN_PARAMS='{"x": 0.5}' PROTEIN_RESULT="$tmp/exec.result"
     unset "$unset_var"
     "$PROTEIN" exec "$tmp/wbdir/wb.yaml") >/dev/null 2>"$tmp/exec-env.err" || rc=$?
    expect_rc 2 "$rc" "protein exec without $unset_var"
    grep -q "^protein exec: \\\$$unset_var is not set; run this inside a trial" "$tmp/exec-env.err" ||
        fail "protein exec without $unset_var: $(cat "$tmp/exec-env.err")"
done

# ------------------------------------------------------------ exec usage
# protein exec runs a config's W&B program: a config without one, or a
# COMMAND after the config, is a usage error that says so (exit 2)
printf 'metric: {name: acc}\nparameters:\n  x: {min: 0.0, max: 1.0}\n' >"$tmp/noprog.yaml"
rc=0
PROTEIN_PARAMS='{"x": 0.5}' PROTEIN_RESULT=$tmp/noprog.result \
    "$PROTEIN" exec "$tmp/noprog.yaml" >/dev/null 2>"$tmp/noprog.err" || rc=$?
expect_rc 2 "$rc" "protein exec of a config without a program"
grep -q "noprog.yaml has no program: or command: to run" "$tmp/noprog.err" &&
    ! grep -q "COMMAND after" "$tmp/noprog.err" ||
    fail "protein exec without a program: $(cat "$tmp/noprog.err")"
rc=0
PROTEIN_PARAMS='{"x": 0.5}' PROTEIN_RESULT=$tmp/noprog.result \
    "$PROTEIN" exec "$tmp/noprog.yaml" -- echo hi >/dev/null 2>"$tmp/extra.err" || rc=$?
expect_rc 2 "$rc" "protein exec with a COMMAND"
grep -q "too many arguments: give the sweep config alone" "$tmp/extra.err" ||
    fail "protein exec with a COMMAND: $(cat "$tmp/extra.err")"

# a W&B program that writes $PROTEIN_RESULT itself, not to W&B: no
# warning that it logged nothing to W&B; one that writes neither: warned
for how in direct silent; do
    {
        echo '#!/bin/sh'
        [ "$how" = silent ] || echo 'echo score=0.5 >>"$PROTEIN_RESULT"'
    } >"$tmp/$how.sh"
    chmod +x "$tmp/$how.sh"
    printf 'method: random\ncommand: ["%s"]\nparameters:\n  x: {min: 0.0, max: 1.0}\n' \
        "$tmp/$how.sh" >"$tmp/$how.yaml"
    "$PROTEIN" run "$tmp/$how.yaml" --trials 1 >"$tmp/$how.out" 2>&1 || true
done
grep -q "completed: score 0.5" "$tmp/direct.out" &&
    ! grep -q "logged no" "$tmp/direct.out" ||
    fail "a program writing its result file directly: $(cat "$tmp/direct.out")"
grep -q "protein exec: the program logged no 'score' to W&B (run .*; looked in ./wandb and below the working directory); 'score' is the metric of a config that names none" "$tmp/silent.out" ||
    fail "a program that reports nothing is not warned about: $(cat "$tmp/silent.out")"
# a W&B file without metric: is warned about once, at its load
[ "$(grep -c "silent.yaml:1: metric: none given, so each trial's score is the value its program logs as 'score'" "$tmp/silent.out")" = 1 ] ||
    fail "no warning (once) for a W&B file without metric: $(cat "$tmp/silent.out")"

# a FIFO planted under the run's name where protein exec looks for a run
# written elsewhere (another user could plant one in a shared working
# directory): refused at once, not read (a blocking open hung the trial)
cat >"$tmp/fifo.sh" <<'EOF'
#!/bin/sh
d=decoy/wandb/offline-run-x-$WANDB_RUN_ID
mkdir -p "$d" && mkfifo "$d/run-$WANDB_RUN_ID.wandb"
EOF
chmod +x "$tmp/fifo.sh"
printf 'method: random\ncommand: ["%s"]\nparameters:\n  x: {min: 0.0, max: 1.0}\n' \
    "$tmp/fifo.sh" >"$tmp/fifo.yaml"
mkdir "$tmp/fifodir"
rc=0
(cd "$tmp/fifodir" && timeout 60 "$PROTEIN" run "$tmp/fifo.yaml" --trials 1) \
    >"$tmp/fifo.out" 2>&1 || rc=$?
[ $rc -ne 124 ] && grep -q "trial 1 failed" "$tmp/fifo.out" ||
    fail "a FIFO planted as the run's log: rc $rc: $(cat "$tmp/fifo.out")"

# ------------------------------------------------------------ kill -9 exec
# protein exec (a trial without COMMAND) killed outright: the W&B program
# it runs does not run on unseen
cat >"$tmp/wprog.sh" <<EOF
#!/bin/sh
ps -o ppid= -p \$PPID | tr -d ' ' >"$tmp/wexec.pid" # past the guard
echo \$\$ >"$tmp/wprog.pid"
exec sleep 30
EOF
chmod +x "$tmp/wprog.sh"
cat >"$tmp/wexec.yaml" <<EOF
name: wexec
method: random
command: ["$tmp/wprog.sh"]
parameters:
  x: {min: 0.0, max: 1.0}
EOF
"$PROTEIN" run "$tmp/wexec.yaml" --trials 1 >"$tmp/wexec.out" 2>&1 &
pid=$!
wait_for test -s "$tmp/wprog.pid"
kill -9 "$(cat "$tmp/wexec.pid")"
wait $pid || true
expect_gone "$tmp/wprog.pid" "the program of a protein exec killed outright still runs"

# ------------------------------------------------------------ leftovers
# what a trial left running in its process group ends with it
cat >"$tmp/leftover.sh" <<EOF
#!/bin/sh
sleep 30 &
echo \$! >>"$tmp/leftover.pids"
echo "score=1" >>"\$PROTEIN_RESULT"
EOF
chmod +x "$tmp/leftover.sh"
rc=0
"$PROTEIN" run "$SWEEP" --trials 2 -- "$tmp/leftover.sh" >"$tmp/leftover.out" 2>&1 ||
    rc=$?
expect_rc 0 "$rc" "trials leaving a process behind ($(cat "$tmp/leftover.out"))"
expect_gone "$tmp/leftover.pids" "a process of a finished trial still runs"

# ------------------------------------------------------------ bad input
# an --out that cannot be written stops the sweep before its first trial
cat >"$tmp/mark.sh" <<EOF
#!/bin/sh
touch "$tmp/ran"
exec "$OBJECTIVE"
EOF
chmod +x "$tmp/mark.sh"
for out in "$tmp/nodir/x.csv" /dev/full; do
    rc=0
    "$PROTEIN" run "$SWEEP" --trials 2 --out "$out" -- "$tmp/mark.sh" \
        >"$tmp/badout.out" 2>&1 || rc=$?
    expect_rc 2 "$rc" "--out $out"
    grep -q "cannot write $out (--out): .*no trial was run" "$tmp/badout.out" ||
        fail "--out $out: the error does not name the path: $(cat "$tmp/badout.out")"
    [ ! -e "$tmp/ran" ] || fail "--out $out: a trial ran before the path was checked"
done

# the BLAS thread count: a bad PROTEIN_BLAS_THREADS is refused, a good one runs
rc=0
PROTEIN_BLAS_THREADS=many "$PROTEIN" run "$SWEEP" --trials 1 -- "$OBJECTIVE" \
    >"$tmp/blas.out" 2>&1 || rc=$?
expect_rc 2 "$rc" "PROTEIN_BLAS_THREADS=many"
grep -q "PROTEIN_BLAS_THREADS='many' is not a thread count" "$tmp/blas.out" ||
    fail "bad PROTEIN_BLAS_THREADS not explained"
PROTEIN_BLAS_THREADS=2 "$PROTEIN" run "$SWEEP" --trials 2 -- "$OBJECTIVE" \
    >/dev/null 2>&1 || fail "PROTEIN_BLAS_THREADS=2"

# the BLAS kernels: whatever protein run chose for itself, its trials see
# no OPENBLAS_CORETYPE (their own BLAS chooses); the user's is theirs too
cat >"$tmp/coretype.sh" <<EOF
#!/bin/sh
echo "\${OPENBLAS_CORETYPE-unset} \${PROTEIN_BLAS_CHOSEN_OVER-unset}" >"$tmp/coretype"
exec "$OBJECTIVE"
EOF
chmod +x "$tmp/coretype.sh"
env -u OPENBLAS_CORETYPE "$PROTEIN" run "$SWEEP" --trials 1 -- "$tmp/coretype.sh" \
    >/dev/null 2>&1 || fail "the run of coretype.sh failed"
[ "$(cat "$tmp/coretype")" = "unset unset" ] ||
    fail "a trial inherited BLAS kernel settings: $(cat "$tmp/coretype")"
OPENBLAS_CORETYPE=Haswell "$PROTEIN" run "$SWEEP" --trials 1 -- "$tmp/coretype.sh" \
    >/dev/null 2>&1 || fail "the run of coretype.sh with OPENBLAS_CORETYPE failed"
[ "$(cat "$tmp/coretype")" = "Haswell unset" ] ||
    fail "the user's OPENBLAS_CORETYPE did not reach the trial: $(cat "$tmp/coretype")"

cat >"$tmp/bad.yaml" <<'EOF'
name: bad
parameters:
  lr:
    distribution: log_uniform_values
    min: 1e-5
    max: -3
EOF
rc=0
"$PROTEIN" run "$tmp/bad.yaml" -- "$OBJECTIVE" >"$tmp/bad.out" 2>&1 || rc=$?
expect_rc 2 "$rc" "bad config"
grep -q 'bad.yaml:6: .*lr.*max' "$tmp/bad.out" || fail "config error does not name file:line: key"
! grep -q '^usage: protein run' "$tmp/bad.out" ||
    fail "the usage text follows a config error (one line is enough)"
[ "$(wc -l <"$tmp/bad.out")" -eq 1 ] || fail "more than one line for a config error"

# names that give the same PROTEIN_PARAM_ variable are refused, naming both
# and the line of the second
cat >"$tmp/clash.yaml" <<'EOF'
name: clash
parameters:
  a.b: {distribution: uniform, min: 0, max: 1}
  a_b: {distribution: uniform, min: 0, max: 1}
EOF
rc=0
"$PROTEIN" run "$tmp/clash.yaml" -- "$OBJECTIVE" >"$tmp/clash.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "colliding parameter names accepted"
grep -qx "protein run: .*clash.yaml:4: parameters.a_b: parameters 'a.b' and 'a_b' both become PROTEIN_PARAM_A_B in the environment: rename one" "$tmp/clash.out" ||
    fail "collision message does not name the line and both parameters: $(cat "$tmp/clash.out")"

# a trailing nan is the last value: no result, said so
cat >"$tmp/nan.sh" <<'EOF'
#!/bin/sh
printf 'score=1\nscore=nan\n' >>"$PROTEIN_RESULT"
EOF
chmod +x "$tmp/nan.sh"
rc=0
"$PROTEIN" run "$SWEEP" --trials 1 --out "$tmp/nan.csv" -- "$tmp/nan.sh" \
    >"$tmp/nan.out" 2>&1 || rc=$?
expect_rc 1 "$rc" "trailing nan"
grep -q "^1,failed,,.*the last 'score=' line in \$PROTEIN_RESULT is not a finite number" \
    "$tmp/nan.csv" || fail "a trailing nan is not reported as such: $(cat "$tmp/nan.csv")"

rc=0; "$PROTEIN" run "$SWEEP" >/dev/null 2>&1 || rc=$?
expect_rc 2 "$rc" "missing command"
rc=0; "$PROTEIN" run "$SWEEP" --bogus -- true >/dev/null 2>&1 || rc=$?
expect_rc 2 "$rc" "unknown option"
rc=0; "$PROTEIN" run --parallel 0 "$SWEEP" -- true >/dev/null 2>&1 || rc=$?
expect_rc 2 "$rc" "--parallel 0"
rc=0; "$PROTEIN" run "$tmp/missing.yaml" -- true >/dev/null 2>&1 || rc=$?
expect_rc 2 "$rc" "missing config file"
rc=0; "$PROTEIN" frobnicate >/dev/null 2>&1 || rc=$?
expect_rc 2 "$rc" "unknown verb"
"$PROTEIN" --version | grep -q '^protein [0-9]' || fail "--version"
"$PROTEIN" run --help | grep -q -- '--parallel K' || fail "run --help"
"$PROTEIN" --help | grep -q '^  agent ' || fail "--help lists the verbs"
# the user guide says what the help says: every verb in its table, the
# a COMMAND that fails at once (python3 of a missing script) stops the run
# after 3 trials, as wandb agent stops, not after the budget; a trial that
# completed first keeps it going; --max-initial-failures 0 runs on
rc=0
"$PROTEIN" run "$SWEEP" --trials 12 --parallel 2 -- sh -c 'exit 2' \
    >"$tmp/broken.out" 2>"$tmp/broken.err" || rc=$?
expect_rc 1 "$rc" "run of a broken COMMAND"
grep -q "^protein run: the first 3 trials failed within 60 s of the start and none completed (the last: exit status 2)" \
    "$tmp/broken.err" || fail "run does not say why it stopped: $(cat "$tmp/broken.err")"
n=$(sed -n 's/^\([0-9]*\) trials: 0 completed, 0 pruned, \([0-9]*\) failed$/\1/p' "$tmp/broken.out")
[ -n "$n" ] && [ "$n" -ge 3 ] && [ "$n" -le 4 ] ||
    fail "a broken COMMAND ran $n trials, not 3 or 4 (2 at once): $(cat "$tmp/broken.out")"
# a COMMAND that crashes (a signal) is as broken
rc=0
"$PROTEIN" run "$SWEEP" --trials 8 -- sh -c 'kill -SEGV $$' \
    >"$tmp/crash.out" 2>"$tmp/crash.err" || rc=$?
expect_rc 1 "$rc" "run of a crashing COMMAND"
grep -q "^protein run: the first 3 trials failed within 60 s of the start and none completed (the last: killed by signal 11" \
    "$tmp/crash.err" || fail "run of a crashing COMMAND: $(cat "$tmp/crash.err") $(cat "$tmp/crash.out")"
printf '#!/bin/sh\n[ "$PROTEIN_TRIAL" = 1 ] && echo score=1 >>"$PROTEIN_RESULT" && exit 0\nexit 2\n' \
    >"$tmp/first-ok.sh"
chmod +x "$tmp/first-ok.sh"
"$PROTEIN" run "$SWEEP" --trials 6 -- "$tmp/first-ok.sh" >"$tmp/first-ok.out" 2>&1 ||
    fail "run whose first trial completed: $(cat "$tmp/first-ok.out")"
grep -q '^6 trials: 1 completed, 0 pruned, 5 failed$' "$tmp/first-ok.out" ||
    fail "a run whose first trial completed stopped: $(cat "$tmp/first-ok.out")"
# with trials running at once, one that completes after the first 3
# failed ends the stop: a sweep whose fast trials fail in one region of
# the space runs on
printf '#!/bin/sh\ncase $PROTEIN_TRIAL in 1|2|3) exit 2 ;; esac\nsleep 0.5\necho score=1 >>"$PROTEIN_RESULT"\n' \
    >"$tmp/region.sh"
chmod +x "$tmp/region.sh"
"$PROTEIN" run "$SWEEP" --trials 12 --parallel 4 -- "$tmp/region.sh" >"$tmp/region.out" 2>&1 ||
    fail "run whose 4th trial completed after 3 failures: $(cat "$tmp/region.out")"
grep -q '^12 trials: 9 completed, 0 pruned, 3 failed$' "$tmp/region.out" ||
    fail "a completion after 3 failures did not end the stop: $(cat "$tmp/region.out")"
# a metric that is not a number (a run that diverged) is the
# hyperparameters', not a broken COMMAND
printf '#!/bin/sh\nv=1\ncase $PROTEIN_TRIAL in 1|2|3) v=nan ;; esac\necho score=$v >>"$PROTEIN_RESULT"\n' \
    >"$tmp/diverge.sh"
chmod +x "$tmp/diverge.sh"
"$PROTEIN" run "$SWEEP" --trials 6 -- "$tmp/diverge.sh" >"$tmp/diverge.out" 2>&1 ||
    fail "run whose first 3 trials diverged: $(cat "$tmp/diverge.out")"
grep -q '^6 trials: 3 completed, 0 pruned, 3 failed$' "$tmp/diverge.out" ||
    fail "diverged trials stopped the run: $(cat "$tmp/diverge.out")"
rc=0
"$PROTEIN" run "$SWEEP" --trials 5 --max-initial-failures 0 -- sh -c 'exit 2' \
    >"$tmp/runon.out" 2>&1 || rc=$?
expect_rc 1 "$rc" "run of a broken COMMAND with --max-initial-failures 0"
grep -q '^5 trials: 0 completed, 0 pruned, 5 failed$' "$tmp/runon.out" ||
    fail "--max-initial-failures 0 stopped: $(cat "$tmp/runon.out")"

# usage of run (COMMAND optional), and --seed's default
guide=$top_srcdir/docs/user-guide.md
for v in $("$PROTEIN" --help | sed -n '/^verbs:/,/^$/s/^  \([a-z]*\) .*/\1/p'); do
    grep -q "^| \[[^]]*\`$v\`" "$guide" || fail "verb $v is not in the user guide's table"
done
usage=$("$PROTEIN" run --help | sed -n 's/^usage: //p')
grep -qxF "$usage" "$guide" || fail "the user guide's usage of run is not '$usage'"
"$PROTEIN" run --help | tr -s '\n ' '  ' | grep -q "the config's seed, else the clock" ||
    fail "run --help does not say --seed defaults to the clock without the config's"
# a usage of several lines aligns them under the first one's command
"$PROTEIN" admin --help | sed -n 2,3p | grep -c '^       protein admin ' | grep -qx 2 ||
    fail "admin --help's usage lines are not aligned: $("$PROTEIN" admin --help | head -n 3)"

cli_test_finish
