#!/bin/sh
# test_cli_run_resume.sh - `protein run --resume`: a sweep killed outright
# goes on from its --out CSV (old rows kept byte for byte, new trials
# numbered after them, the budget counting them), a spent budget, a grid,
# a rerun without --resume or --overwrite (refused, the file kept), and
# the files it refuses (another config's header, malformed rows) or
# mends (a last row cut short). Needs no services.
set -eu

: "${top_builddir:?run through make check}" "${top_srcdir:?run through make check}"
. "$top_srcdir/tests/common/cli_test.sh"
cli_test_init test_cli_run_resume
SWEEP=$top_srcdir/examples/sweeps/quadratic.yaml
HEADER=trial,status,score,cost,lr,x,layers,optimizer,error,curve
# a file written before protein kept learning curves: still resumed
OLD_HEADER=trial,status,score,cost,lr,x,layers,optimizer,error

# the trial numbers of a CSV's rows, sorted, on one line
ids() {
    tail -n +2 "$1" | cut -d, -f1 | sort -n | tr '\n' ' '
}

# whether file $1 starts with the bytes of file $2
starts_with() {
    [ "$(head -c "$(wc -c <"$2")" "$1" | cksum)" = "$(cksum <"$2")" ]
}

# ------------------------------------------------ resume after a partial run
# trial 2 fails: failed rows are resumed too
cat >"$tmp/trial.sh" <<EOF
#!/bin/sh
[ "\$PROTEIN_TRIAL" != 2 ] || exit 3
exec "$OBJECTIVE"
EOF
chmod +x "$tmp/trial.sh"
rc=0
"$PROTEIN" run "$SWEEP" --trials 4 --seed 3 --out "$tmp/part.csv" \
    -- "$tmp/trial.sh" >/dev/null 2>&1 || rc=$?
expect_rc 0 "$rc" "first part of a sweep"
cp "$tmp/part.csv" "$tmp/part.orig"
rc=0
"$PROTEIN" run "$SWEEP" --trials 10 --seed 3 --out "$tmp/part.csv" --resume \
    -- "$tmp/trial.sh" >"$tmp/part.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "resumed sweep"
grep -q "^resuming: 4 trials from $tmp/part.csv (best so far: trial [0-9]*, score " \
    "$tmp/part.out" || fail "no 'resuming' line: $(head -n 3 "$tmp/part.out")"
[ "$(wc -l <"$tmp/part.csv")" -eq 11 ] || fail "resumed CSV: expected 10 rows"
[ "$(ids "$tmp/part.csv")" = "1 2 3 4 5 6 7 8 9 10 " ] ||
    fail "resumed trial numbers: $(ids "$tmp/part.csv")"
starts_with "$tmp/part.csv" "$tmp/part.orig" ||
    fail "the rows of the first part changed"
[ "$(grep -c '^\[[0-9]*/10\] trial' "$tmp/part.out")" -eq 6 ] ||
    fail "expected 6 new trials, numbered out of 10"
grep -q '^10 trials: 9 completed, 0 pruned, 1 failed' "$tmp/part.out" ||
    fail "the summary does not count the resumed trials: $(tail -n 6 "$tmp/part.out")"
[ "$(tail -n +2 "$tmp/part.csv" | cut -d, -f5-8 | sort -u | wc -l)" -eq 10 ] ||
    fail "a resumed sweep suggested a point of its first part again"

# ------------------------------------------------ a rerun over results
# the same command again, without --resume: refused before the first trial
# (no trial runs: mark.sh would leave $tmp/ran), naming the file and the
# two ways on; the earlier sweep's rows are kept byte for byte
cp "$tmp/part.csv" "$tmp/part.kept"
cat >"$tmp/mark.sh" <<EOF
#!/bin/sh
touch "$tmp/ran"
exec "$OBJECTIVE"
EOF
chmod +x "$tmp/mark.sh"
rc=0
"$PROTEIN" run "$SWEEP" --trials 4 --seed 3 --out "$tmp/part.csv" \
    -- "$tmp/mark.sh" >"$tmp/again.out" 2>&1 || rc=$?
expect_rc 2 "$rc" "a rerun over a results file"
grep -q "^protein run: $tmp/part.csv (--out) exists and is not empty ([0-9]* bytes; an earlier sweep's results?); no trial was run and the file is left as it was: add --resume to go on with that sweep, or --overwrite to start a new one over it\$" \
    "$tmp/again.out" || fail "a rerun over a results file: $(cat "$tmp/again.out")"
[ ! -e "$tmp/ran" ] || fail "a rerun over a results file ran a trial"
cmp -s "$tmp/part.csv" "$tmp/part.kept" || fail "a refused rerun changed the file"
# an empty file is no earlier sweep: written
: >"$tmp/empty.csv"
rc=0
"$PROTEIN" run "$SWEEP" --trials 2 --seed 3 --out "$tmp/empty.csv" \
    -- "$OBJECTIVE" >"$tmp/empty.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "a sweep into an empty --out file: $(cat "$tmp/empty.out")"
[ "$(wc -l <"$tmp/empty.csv")" -eq 3 ] || fail "empty --out file: $(cat "$tmp/empty.csv")"
# --overwrite starts a new sweep over it
rc=0
"$PROTEIN" run "$SWEEP" --trials 2 --seed 3 --out "$tmp/part.csv" --overwrite \
    -- "$OBJECTIVE" >"$tmp/over.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "--overwrite: $(cat "$tmp/over.out")"
[ "$(ids "$tmp/part.csv")" = "1 2 " ] || fail "--overwrite: $(cat "$tmp/part.csv")"
# --overwrite with --resume, or without --out: usage errors
rc=0
"$PROTEIN" run "$SWEEP" --out "$tmp/part.csv" --overwrite --resume \
    -- "$OBJECTIVE" >"$tmp/both.out" 2>&1 || rc=$?
expect_rc 2 "$rc" "--overwrite with --resume"
grep -q -- "--resume goes on with FILE's sweep and --overwrite starts over: give one" "$tmp/both.out" ||
    fail "--overwrite with --resume: $(cat "$tmp/both.out")"
rc=0
"$PROTEIN" run "$SWEEP" --overwrite -- "$OBJECTIVE" >"$tmp/noout.out" 2>&1 || rc=$?
expect_rc 2 "$rc" "--overwrite without --out"
grep -q -- '--overwrite needs --out FILE' "$tmp/noout.out" ||
    fail "--overwrite without --out: $(cat "$tmp/noout.out")"
cp "$tmp/part.kept" "$tmp/part.csv"

# killed outright (kill -9) while two trials run: the rows of the trials
# that finished are resumed, the new trials numbered after the highest
cat >"$tmp/slow.sh" <<EOF
#!/bin/sh
sleep 0.3
exec "$OBJECTIVE"
EOF
chmod +x "$tmp/slow.sh"
"$PROTEIN" run "$SWEEP" --trials 40 --parallel 2 --seed 5 --out "$tmp/kill.csv" \
    -- "$tmp/slow.sh" >/dev/null 2>&1 &
runner=$!
four_lines() {
    [ -f "$tmp/kill.csv" ] && [ "$(wc -l <"$tmp/kill.csv")" -ge 4 ]
}
wait_for four_lines
kill -9 "$runner" || fail "the runner ended before kill -9"
wait "$runner" 2>/dev/null || true
cp "$tmp/kill.csv" "$tmp/kill.orig"
before=$(($(wc -l <"$tmp/kill.orig") - 1))
highest=$(tail -n +2 "$tmp/kill.orig" | cut -d, -f1 | sort -n | tail -n 1)
[ "$before" -ge 3 ] && [ "$before" -lt 40 ] ||
    fail "the killed sweep has $before rows"
rc=0
"$PROTEIN" run "$SWEEP" --trials 12 --parallel 2 --seed 5 --out "$tmp/kill.csv" \
    --resume -- "$OBJECTIVE" >"$tmp/kill.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "sweep resumed after kill -9"
grep -q "^resuming: $before trials from " "$tmp/kill.out" ||
    fail "no 'resuming: $before trials' line"
[ "$(wc -l <"$tmp/kill.csv")" -eq 13 ] ||
    fail "sweep resumed after kill -9: expected 12 rows"
[ "$(tail -n +2 "$tmp/kill.csv" | cut -d, -f1 | sort | uniq -d)" = "" ] ||
    fail "trial numbers repeat: $(ids "$tmp/kill.csv")"
tail -n +$((before + 2)) "$tmp/kill.csv" | cut -d, -f1 |
    awk -v h="$highest" '$1 <= h { bad = 1 } END { exit bad }' ||
    fail "new trials not numbered after $highest: $(ids "$tmp/kill.csv")"
starts_with "$tmp/kill.csv" "$tmp/kill.orig" ||
    fail "the rows written before kill -9 changed"

# ------------------------------------------------ the budget is spent
# resume_runs_nothing CONFIG CSV SAID WHAT: --resume of CSV (10 trials)
# exits 0 saying SAID (a grep pattern), runs no trial and leaves CSV as it
# was; fails naming WHAT
resume_runs_nothing() {
    cp "$2" "$tmp/nothing.orig"
    rc=0
    "$PROTEIN" run "$1" --trials 10 --out "$2" --resume \
        -- "$OBJECTIVE" >"$tmp/nothing.out" 2>&1 || rc=$?
    expect_rc 0 "$rc" "$4"
    grep -q "$3" "$tmp/nothing.out" || fail "$4: $(cat "$tmp/nothing.out")"
    grep -q 'trial .* completed' "$tmp/nothing.out" && fail "$4: a trial ran"
    cmp -s "$2" "$tmp/nothing.orig" || fail "$4: the CSV changed"
}
resume_runs_nothing "$SWEEP" "$tmp/part.csv" \
    "part.csv holds 10 trials, and the sweep runs 10 .*nothing to run" \
    "resume with the budget spent"

# a resumed trial that reached metric.target: no new trials
sed -e 's/^  goal: maximize/  goal: maximize\n  target: -100/' "$SWEEP" \
    >"$tmp/target.yaml"
cp "$tmp/part.orig" "$tmp/target.csv"
resume_runs_nothing "$tmp/target.yaml" "$tmp/target.csv" \
    '^trial 1 reached the target score -100: no new trials' \
    "resume after the target was reached"

# ------------------------------------------------ a grid runs each point once
cat >"$tmp/grid.yaml" <<'EOF'
name: grid
method: grid
parameters:
  optimizer: {values: [adam, sgd, rmsprop]}
  layers: {values: [2, 4]}
EOF
"$PROTEIN" run "$tmp/grid.yaml" --trials 4 --out "$tmp/grid.csv" \
    -- "$OBJECTIVE" >/dev/null 2>&1 || fail "first part of a grid"
rc=0
"$PROTEIN" run "$tmp/grid.yaml" --out "$tmp/grid.csv" --resume \
    -- "$OBJECTIVE" >"$tmp/grid.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "resumed grid"
[ "$(tail -n +2 "$tmp/grid.csv" | cut -d, -f5,6 | sort -u | wc -l)" -eq 6 ] &&
    [ "$(wc -l <"$tmp/grid.csv")" -eq 7 ] ||
    fail "resumed grid: $(cat "$tmp/grid.csv")"

# ------------------------------------------------ refused files
# each refusal: exit status 2, the message names FILE:LINE and the column,
# and the file is left as it was
refused() { # WHAT FILE CONFIG PATTERN
    cp "$2" "$tmp/refused.orig"
    rc=0
    "$PROTEIN" run "$3" --trials 20 --out "$2" --resume -- "$OBJECTIVE" \
        >"$tmp/refused.out" 2>&1 || rc=$?
    expect_rc 2 "$rc" "$1"
    grep -q "$4" "$tmp/refused.out" || fail "$1: $(cat "$tmp/refused.out")"
    grep -q 'completed: score' "$tmp/refused.out" && fail "$1: a trial ran"
    cmp -s "$2" "$tmp/refused.orig" || fail "$1: the file changed"
}
refused "another config's header" "$tmp/part.csv" "$tmp/grid.yaml" \
    "cannot resume: $tmp/part.csv:1: column 5: 'lr' where the config has 'optimizer'"
sed '1s/,x,layers,/,layers,x,/' "$tmp/part.orig" >"$tmp/order.csv"
refused "parameters in another order" "$tmp/order.csv" "$SWEEP" \
    "$tmp/order.csv:1: column 6: 'layers' where the config has 'x'"
printf '%s\n' "$OLD_HEADER" "1,completed,0.5,0.1,0.001,0.5,4,adam," \
    "2,completed,abc,0.1,0.001,0.5,4,adam," >"$tmp/bad.csv"
refused "a score that is no number" "$tmp/bad.csv" "$SWEEP" \
    "$tmp/bad.csv:3: column 3 (score): 'abc' is not a finite number"
printf '%s\n' "$OLD_HEADER" "1,completed,0.5,0.1,0.001,7.5,4,adam," >"$tmp/bad.csv"
refused "a value out of range" "$tmp/bad.csv" "$SWEEP" \
    "$tmp/bad.csv:2: column 6 (x): 7.5 is outside the parameter's range"
printf '%s\n' "$OLD_HEADER" "1,completed,0.5,0.1,0.001,0.5,2.5,adam," >"$tmp/bad.csv"
refused "a fraction for an integer" "$tmp/bad.csv" "$SWEEP" \
    "$tmp/bad.csv:2: column 7 (layers): 2.5 is not a whole number"
printf '%s\n' "$OLD_HEADER" "1,completed,0.5,0.1,0.001,0.5,4,adamw," >"$tmp/bad.csv"
refused "an unknown categorical value" "$tmp/bad.csv" "$SWEEP" \
    "$tmp/bad.csv:2: column 8 (optimizer): 'adamw' is not one of its values"
printf '%s\n' "$OLD_HEADER" "1,completed,0.5,0.1,0.001,0.5,4,adam," \
    "1,failed,,1,0.001,0.5,4,adam,exit status 3" >"$tmp/bad.csv"
refused "a trial number twice" "$tmp/bad.csv" "$SWEEP" \
    "$tmp/bad.csv:3: column 1 (trial): trial 1 again (line 2 has it"
printf '%s\n' "$OLD_HEADER" "1,finished,0.5,0.1,0.001,0.5,4,adam," >"$tmp/bad.csv"
refused "an unknown status" "$tmp/bad.csv" "$SWEEP" \
    "$tmp/bad.csv:2: column 2 (status): 'finished' is not completed"
printf '%s\n' "$OLD_HEADER" "1,completed,0.5,0.1,0.001,0.5,4" >"$tmp/bad.csv"
refused "a row too short" "$tmp/bad.csv" "$SWEEP" \
    "$tmp/bad.csv:2: column 8: the row has 7 fields, the header 9"

printf '%s\n' "$HEADER" "1,completed,0.5,0.1,0.001,0.5,4,adam,,1 0.5" >"$tmp/bad.csv"
refused "a curve point without its cost" "$tmp/bad.csv" "$SWEEP" \
    "$tmp/bad.csv:2: column 10 (curve): not a learning curve"

# ------------------------------------------------ learning curves
# W&B's hyperband compares a resumed sweep's new trials with the curves of
# the old ones: trials 1-3 report 10 and 11, trial 4 reports 1 at its
# first report, below a third of its band, and is stopped there; read
# from a file without curves (written before protein kept them), trial 4
# has no one to be compared with and runs to its end
cat >"$tmp/band.yaml" <<EOF
method: bayes
metric: {name: acc, goal: maximize}
parameters:
  x: {min: 0.0, max: 1.0}
early_terminate: {type: hyperband, min_iter: 1, eta: 3}
EOF
cat >"$tmp/band.sh" <<'EOF'
#!/bin/sh
if [ "$PROTEIN_TRIAL" -le 3 ]; then
    printf 'step=1\nacc=10\nstep=2\ncost=3.5\nacc=11\nacc=12\n' >>"$PROTEIN_RESULT"
    exit 0
fi
printf 'step=1\nacc=1\n' >>"$PROTEIN_RESULT"
sleep 4
printf 'acc=2\n' >>"$PROTEIN_RESULT"
EOF
chmod +x "$tmp/band.sh"
rc=0
"$PROTEIN" run "$tmp/band.yaml" --trials 3 --seed 5 --out "$tmp/band.csv" \
    -- "$tmp/band.sh" >/dev/null 2>&1 || rc=$?
expect_rc 0 "$rc" "a sweep whose trials report curves"
[ "$(head -n 1 "$tmp/band.csv")" = trial,status,score,cost,x,error,curve ] ||
    fail "curves: header $(head -n 1 "$tmp/band.csv")"
[ "$(tail -n +2 "$tmp/band.csv" | cut -d, -f7 | sort -u)" = "1 10 -;2 11 3.5" ] ||
    fail "curves: the curve column is not the reports: $(cat "$tmp/band.csv")"
tail -n +2 "$tmp/band.csv" | cut -d, -f1-6 >"$tmp/band.rows"
{ echo trial,status,score,cost,x,error; cat "$tmp/band.rows"; } >"$tmp/band-old.csv"
rc=0
"$PROTEIN" run "$tmp/band.yaml" --trials 4 --seed 5 --out "$tmp/band.csv" --resume \
    -- "$tmp/band.sh" >"$tmp/band.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "resumed sweep with curves"
grep -q '^4,pruned,1,1,[0-9.e-]*,stopped by hyperband after 1 reports,1 1 -$' \
    "$tmp/band.csv" ||
    fail "resumed with curves: trial 4 was not compared with them: $(cat "$tmp/band.csv")"
rc=0
"$PROTEIN" run "$tmp/band.yaml" --trials 4 --seed 5 --out "$tmp/band-old.csv" \
    --resume -- "$tmp/band.sh" >"$tmp/band-old.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "resumed sweep from a file without curves"
grep -q '^4,completed,2,1,[0-9.e-]*,$' "$tmp/band-old.csv" ||
    fail "resumed without curves: trial 4's row (6 columns, as the header): $(cat "$tmp/band-old.csv")"

# a trial of 5000 reports keeps its first 4095 and its last, which
# --resume reads back
sed '/early_terminate/d' "$tmp/band.yaml" >"$tmp/reports.yaml"
cat >"$tmp/reports.sh" <<'EOF'
#!/bin/sh
awk 'BEGIN { for (i = 1; i <= 5000; i++) printf "step=%d\nacc=%d\n", i, i }' \
    >>"$PROTEIN_RESULT"
EOF
chmod +x "$tmp/reports.sh"
rc=0
"$PROTEIN" run "$tmp/reports.yaml" --trials 1 --out "$tmp/reports.csv" \
    -- "$tmp/reports.sh" >/dev/null 2>&1 || rc=$?
expect_rc 0 "$rc" "a trial of 5000 reports"
tail -n 1 "$tmp/reports.csv" | cut -d, -f7 | tr ';' '\n' >"$tmp/reports.points"
[ "$(wc -l <"$tmp/reports.points")" -eq 4096 ] &&
    [ "$(head -n 1 "$tmp/reports.points")" = "1 1 -" ] &&
    [ "$(sed -n 4095p "$tmp/reports.points")" = "4095 4095 -" ] &&
    [ "$(tail -n 1 "$tmp/reports.points")" = "5000 5000 -" ] ||
    fail "a long curve: $(wc -l <"$tmp/reports.points") points, $(tail -n 2 "$tmp/reports.points" | tr '\n' ' ')"
rc=0
"$PROTEIN" run "$tmp/reports.yaml" --trials 2 --out "$tmp/reports.csv" --resume \
    -- "$tmp/reports.sh" >"$tmp/reports.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "resume after a trial of 5000 reports ($(tail -n 2 "$tmp/reports.out"))"

# ------------------------------------------------ a last row cut short
head -n 5 "$tmp/part.orig" >"$tmp/cut.csv"
cp "$tmp/cut.csv" "$tmp/cut.orig"
printf '9,completed,0.31,0.02,0.0001' >>"$tmp/cut.csv"
rc=0
"$PROTEIN" run "$SWEEP" --trials 6 --out "$tmp/cut.csv" --resume \
    -- "$OBJECTIVE" >"$tmp/cut.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "resume after a row cut short"
grep -q "$tmp/cut.csv:6: the last row is cut short .*dropped" "$tmp/cut.out" ||
    fail "no warning for the row cut short: $(cat "$tmp/cut.out")"
starts_with "$tmp/cut.csv" "$tmp/cut.orig" || fail "cut: the complete rows changed"
[ "$(wc -l <"$tmp/cut.csv")" -eq 7 ] || fail "cut: expected 6 rows"
grep -q "^9," "$tmp/cut.csv" && fail "cut: the cut row is still there"
[ "$(ids "$tmp/cut.csv")" = "1 2 3 4 5 6 " ] ||
    fail "cut: trial numbers $(ids "$tmp/cut.csv")"

# ------------------------------------------------ no file, no --out
rc=0
"$PROTEIN" run "$SWEEP" --trials 3 --out "$tmp/new.csv" --resume \
    -- "$OBJECTIVE" >"$tmp/new.out" 2>"$tmp/new.err" || rc=$?
expect_rc 0 "$rc" "--resume without the file"
grep -q "new.csv does not exist; starting a new sweep" "$tmp/new.err" ||
    fail "--resume without the file: $(cat "$tmp/new.err")"
[ "$(head -n 1 "$tmp/new.csv")" = "$HEADER" ] && [ "$(wc -l <"$tmp/new.csv")" -eq 4 ] ||
    fail "--resume without the file: $(cat "$tmp/new.csv")"
rc=0
"$PROTEIN" run "$SWEEP" --trials 3 --resume -- "$OBJECTIVE" \
    >/dev/null 2>"$tmp/noout.err" || rc=$?
expect_rc 2 "$rc" "--resume without --out"
grep -q -- "--resume needs --out FILE" "$tmp/noout.err" ||
    fail "--resume without --out: $(cat "$tmp/noout.err")"

# the CSV is not open in the trials, written anew or resumed (a trial
# inherits no descriptor of it to write into)
cat >"$tmp/fds.sh" <<EOF
#!/bin/sh
ls -l /proc/\$\$/fd/ >"$tmp/fds.\$PROTEIN_TRIAL" 2>&1
exec "$OBJECTIVE"
EOF
chmod +x "$tmp/fds.sh"
for more in 1 2; do
    rc=0
    "$PROTEIN" run "$SWEEP" --trials "$more" --seed 3 --out "$tmp/fds.csv" \
        --resume -- "$tmp/fds.sh" >/dev/null 2>&1 || rc=$?
    expect_rc 0 "$rc" "a sweep whose trials list their descriptors ($more)"
    [ -s "$tmp/fds.$more" ] || fail "trial $more listed no descriptors"
    ! grep -q 'fds\.csv' "$tmp/fds.$more" ||
        fail "trial $more has the CSV open: $(grep 'fds\.csv' "$tmp/fds.$more")"
done

# a categorical value longer than a line of text is written whole, so
# that --resume reads it back as one of the values
long=$(printf '%0300d' 0)
# (every parameter has a default: trial 1 runs it)
printf 'name: long\nparameters:\n  v: {values: ["%s", b], default: "%s"}\n  x: {min: 0.0, max: 1.0, default: 0.5}\n' \
    "$long" "$long" >"$tmp/long.yaml"
cat >"$tmp/score.sh" <<'EOF'
#!/bin/sh
echo "score=1" >>"$PROTEIN_RESULT"
EOF
chmod +x "$tmp/score.sh"
for more in 2 4; do
    rc=0
    "$PROTEIN" run "$tmp/long.yaml" --trials "$more" --seed 1 --out "$tmp/long.csv" \
        --resume -- "$tmp/score.sh" >"$tmp/long.out" 2>&1 || rc=$?
    expect_rc 0 "$rc" "a sweep with a long value, --trials $more ($(tail -n 2 "$tmp/long.out"))"
done
grep -q "$long" "$tmp/long.csv" || fail "the long value is not in the CSV whole"

# one FILE, one run: while a run writes FILE, a second one given FILE,
# anew (--overwrite) or --resume, is refused with FILE left as it was
cat >"$tmp/held.sh" <<EOF
#!/bin/sh
touch "$tmp/held.started"
while [ ! -e "$tmp/held.go" ]; do sleep 0.05; done
exec "$OBJECTIVE"
EOF
chmod +x "$tmp/held.sh"
"$PROTEIN" run "$SWEEP" --trials 2 --seed 5 --out "$tmp/held.csv" \
    -- "$tmp/held.sh" >"$tmp/held.out" 2>&1 &
first=$!
wait_for test -e "$tmp/held.started"
cp "$tmp/held.csv" "$tmp/held.before"
for again in --overwrite --resume; do
    rc=0
    "$PROTEIN" run "$SWEEP" --trials 3 --out "$tmp/held.csv" $again \
        -- "$OBJECTIVE" >"$tmp/again.out" 2>"$tmp/again.err" || rc=$?
    expect_rc 2 "$rc" "a second run on a FILE being written ($again)"
    grep -q "another protein run writes it" "$tmp/again.err" ||
        fail "a second run on FILE ($again) did not say why: $(cat "$tmp/again.err")"
    cmp -s "$tmp/held.csv" "$tmp/held.before" ||
        fail "a second run on FILE ($again) changed it"
done
touch "$tmp/held.go"
rc=0
wait $first || rc=$?
expect_rc 0 "$rc" "the run that holds FILE ($(tail -n 2 "$tmp/held.out"))"
[ "$(wc -l <"$tmp/held.csv")" -eq 3 ] ||
    fail "the run that holds FILE wrote $(wc -l <"$tmp/held.csv") lines, not 3"
# its lock ends with it: a resume goes on
rc=0
"$PROTEIN" run "$SWEEP" --trials 3 --out "$tmp/held.csv" --resume \
    -- "$OBJECTIVE" >"$tmp/again.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "a resume after the run that held FILE ended"
[ "$(wc -l <"$tmp/held.csv")" -eq 4 ] || fail "the resume did not add trial 3"

# a run killed outright takes FILE's lock with it, even while its trial
# still has its grace period to end (a trial that ignores SIGTERM): the
# process that guards that trial holds nothing of the run's
cat >"$tmp/stubborn.sh" <<EOF
#!/bin/sh
trap '' TERM
echo \$\$ >"$tmp/stubborn.pid"
exec sleep 30
EOF
chmod +x "$tmp/stubborn.sh"
"$PROTEIN" run "$SWEEP" --trials 2 --out "$tmp/stub.csv" -- "$tmp/stubborn.sh" \
    >"$tmp/stub.out" 2>&1 &
runner=$!
wait_for test -s "$tmp/stubborn.pid"
kill -9 "$runner"
wait "$runner" 2>/dev/null || true
kill -0 "$(cat "$tmp/stubborn.pid")" 2>/dev/null ||
    fail "the stubborn trial ended at once (the check below tries nothing)"
rc=0
"$PROTEIN" run "$SWEEP" --trials 1 --out "$tmp/stub.csv" --resume \
    -- "$OBJECTIVE" >"$tmp/again.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "a resume right after kill -9 ($(tail -n 1 "$tmp/again.out"))"
stubborn_gone() { ! kill -0 "$(cat "$tmp/stubborn.pid")" 2>/dev/null; }
wait_for stubborn_gone
stubborn_gone || fail "the stubborn trial outlived its grace period"

cli_test_finish
