#!/usr/bin/env bash
# test_agent_stopping.sh - W&B's early_terminate (hyperband), metric.target
# and PufferLib's downsample on sweeps in Redis, run by `protein agent`
# (the claim path of the SPANK plugin) against a private redis-server:
#   - hyperband: the trials' reports (protein report) go to Redis; a trial
#     worse than the band's threshold is asked to stop, the agent stops its
#     command (which ignores `protein report`'s exit status 3) and the
#     trial is recorded as pruned, at the band, not failed; so is a
#     command that exits 3 when protein report says so, or fails then (a
#     Python check_call), and the agent says so, and who stopped it, in
#     each case, as protein run does, in one start and one end line a
#     trial, then a summary; a trial stopped before its first report is
#     said to be stopped, and recorded as pruned;
#   - metric.target: the trial that reaches it ends the sweep, the agent
#     gets no more trials;
#   - downsample: proteind observes each completed trial's curve as
#     PufferLib does (downsample + 1 points a trial, not 1).
set -eu
. "$top_srcdir/tests/common/cli_test.sh"

cli_test_init test_agent_stopping
cli_test_redis
PROTEIND=$top_builddir/coordinator/proteind
user=$(id -un)

# train.sh: STEPS reports, 0.3 s apart, of score = BASE(trial) + 1/step;
# trial 1 has base 1, the others base 10 (or $GOOD_TRIAL's base 0); with
# OBEY set it exits with `protein report`'s status 3 when told to stop, with
# FAIL set it exits 1 then (a Python subprocess.check_call raises), with
# BREAK set it leaves its loop then and exits 0 (the user guide's loop); the
# step reported is 10 times the report's number plus 0.5 (never a value of
# the integer parameter steps below, which the optimizer would merge).
cat >"$tmp/train.sh" <<EOS
#!/bin/sh
base=10
[ "\$PROTEIN_TRIAL" = 1 ] && base=1
[ "\$PROTEIN_TRIAL" = "\${GOOD_TRIAL:-0}" ] && base=0
i=1
while [ \$i -le \${STEPS:-6} ]; do
    s=\$(awk -v b=\$base -v i=\$i 'BEGIN { print b + 1 / i }')
    "$PROTEIN" report step=\$((i * 10)).5 loss=\$s || {
        rc=\$?; echo "report \$i: exit \$rc"; [ -n "\${OBEY:-}" ] && exit \$rc
        [ -n "\${FAIL:-}" ] && exit 1
        [ -n "\${BREAK:-}" ] && [ \$rc = 3 ] && break; }
    [ -n "\${SLEEP:-}" ] && sleep \$SLEEP
    i=\$((i + 1))
done
echo done >"$tmp/finished.\$PROTEIN_TRIAL"
EOS
chmod +x "$tmp/train.sh"
field() { redis-cli -p "$REDIS_PORT" hget "protein:{$user/$1}:trial:$2" "$3"; }

# ------------------------------------------------------------ hyperband
cat >"$tmp/hb.yaml" <<'EOS'
name: hb
method: random
metric: {name: loss, goal: minimize}
early_terminate: {type: hyperband, min_iter: 2, eta: 3}
parameters:
  x: {min: 0.0, max: 1.0}
EOS
"$PROTEIN" create "$tmp/hb.yaml" >"$tmp/create.out" 2>&1 ||
    fail "create hb: $(cat "$tmp/create.out")"
STEPS=12 SLEEP=0.3 "$PROTEIN" agent hb --count 3 -- "$tmp/train.sh" \
    >"$tmp/hb.out" 2>&1 || fail "agent hb: $(cat "$tmp/hb.out")"
"$PROTEIN" show hb 1 | grep -q '^status  *completed' ||
    fail "hb trial 1 (the best) not completed: $(cat "$tmp/hb.out")"
[ "$(field hb 1 progress_n)" = 12 ] || fail "hb trial 1: $(field hb 1 progress_n) reports, not 12"
[ -e "$tmp/finished.1" ] || fail "hb trial 1 did not run to its end"
for t in 2 3; do
    "$PROTEIN" show hb $t >"$tmp/show.out"
    grep -q '^status  *pruned' "$tmp/show.out" ||
        fail "hb trial $t not pruned: $(cat "$tmp/show.out") $(cat "$tmp/hb.out")"
    grep -q "^stop asked  *yes (hyperband at report $((t * 4 - 6)))\$" "$tmp/show.out" ||
        fail "hb trial $t: protein show does not say who stopped it: $(cat "$tmp/show.out")"
    # trial 2 at band 2 (10.5 against 1.5, the value ranked int(2/3) = 0);
    # trial 3 is not worse than the one ranked int(3/3) = 1 there (10.5),
    # but is at band 6 against trial 1
    [ "$(field hb $t stopped_by)" = "hyperband at report $((t * 4 - 6))" ] ||
        fail "hb trial $t stopped by '$(field hb $t stopped_by)'"
    # the agent stopped the command, which went on reporting
    [ ! -e "$tmp/finished.$t" ] || fail "hb trial $t: its command was not stopped"
    n=$(field hb $t progress_n)
    [ "$n" -ge 2 ] && [ "$n" -lt 12 ] || fail "hb trial $t: $n reports"
done
grep -q '^trial 2 pruned after [0-9.]* s: loss 10\.[0-9]*, cost 1 (stopped by hyperband at report 2 after [0-9]* reports) (best 1\.[0-9]*, trial 1)$' "$tmp/hb.out" ||
    fail "agent did not call stopped trial 2 pruned, or not who stopped it: $(cat "$tmp/hb.out")"
# as protein run words it: a line as each trial starts, with its
# parameters, and one as it ends, with its status, value and time (no
# other line of the agent's own: 1000s of trials stay readable); at the
# end the counts and the best trial
for t in 1 2 3; do
    [ "$(grep -c "^trial $t: started: x = 0\.[0-9]*\$" "$tmp/hb.out")" = 1 ] ||
        fail "agent: no one start line with trial $t's parameters: $(cat "$tmp/hb.out")"
done
grep -q '^trial 1 completed after [0-9.]* s: loss 1\.[0-9]*, cost 1 (best 1\.[0-9]*, trial 1)$' "$tmp/hb.out" ||
    fail "agent: no end line for trial 1: $(cat "$tmp/hb.out")"
[ "$(grep -c '^trial ' "$tmp/hb.out")" = 6 ] ||
    fail "agent: other than one start and one end line a trial: $(cat "$tmp/hb.out")"
grep -q '^3 trials: 1 completed, 2 pruned, 0 failed$' "$tmp/hb.out" &&
    grep -q '^best: trial 1, loss 1\.[0-9]*, cost 1$' "$tmp/hb.out" ||
    fail "agent: no summary at its end: $(cat "$tmp/hb.out")"
# the trials' CSV and export say who stopped a pruned trial, as protein
# run's CSV does
"$PROTEIN" trials hb --status pruned --format csv >"$tmp/pruned.csv"
[ "$(tail -n +2 "$tmp/pruned.csv" | sed 's/.*,//' | tr '\n' ' ')" = \
    "stopped by hyperband at report 2 stopped by hyperband at report 6 " ] ||
    fail "pruned trials' error column: $(cat "$tmp/pruned.csv")"
"$PROTEIN" export hb | grep -q '"trial": 2, .*"stopped_by": "hyperband at report 2"' ||
    fail "export does not say who stopped trial 2: $("$PROTEIN" export hb)"
# a field with no value is JSON null, not ""
"$PROTEIN" export hb | grep -q '"status": "completed", .*"error": null, "late_key": null, "late_expired_at": null, "stopped_by": null' ||
    fail "export writes no null for a completed trial's error: $("$PROTEIN" export hb)"
grep -q "report 2: exit 3" "$tmp/hb.out" ||
    fail "protein report did not tell the stopped trial (exit 3)"
# pruned at its last report, as a success of the band: the score is kept
"$PROTEIN" show hb 2 | grep -q '^score  *10\.' ||
    fail "hb trial 2: no score from its reports: $("$PROTEIN" show hb 2)"

# The same, with a command that obeys protein report's exit status 3 at
# once, long before the agent's next poll (2 s) reads the stop flag: the
# agent still calls the trial pruned, as Redis records it.
sed 's/^name: hb/name: hb3/' "$tmp/hb.yaml" >"$tmp/hb3.yaml"
"$PROTEIN" create "$tmp/hb3.yaml" >/dev/null 2>&1 || fail "create hb3"
OBEY=1 STEPS=12 SLEEP=0.3 "$PROTEIN" agent hb3 --count 2 -- "$tmp/train.sh" \
    >"$tmp/hb3.out" 2>&1 || fail "agent hb3: $(cat "$tmp/hb3.out")"
"$PROTEIN" show hb3 2 | grep -q '^status  *pruned' ||
    fail "hb3 trial 2 not pruned: $("$PROTEIN" show hb3 2) $(cat "$tmp/hb3.out")"
grep -q '^report 2: exit 3' "$tmp/hb3.out" && [ ! -e "$tmp/finished.2" ] ||
    fail "hb3 trial 2 did not exit on protein report's status 3: $(cat "$tmp/hb3.out")"
grep -q '^trial 2 pruned after [0-9.]* s: loss 10\.' "$tmp/hb3.out" ||
    fail "agent did not call trial 2, which exited 3 when told to stop, pruned: $(cat "$tmp/hb3.out")"

# The same with a command that fails when protein report says stop (exit
# 1, as a Python subprocess.check_call raises): pruned by protein run's
# rule, at its last report (10.5 at report 2), not a failure without a
# score.
sed 's/^name: hb/name: hbf/' "$tmp/hb.yaml" >"$tmp/hbf.yaml"
"$PROTEIN" create "$tmp/hbf.yaml" >/dev/null 2>&1 || fail "create hbf"
FAIL=1 STEPS=12 SLEEP=0.3 "$PROTEIN" agent hbf --count 2 -- "$tmp/train.sh" \
    >"$tmp/hbf.out" 2>&1 || fail "agent hbf: $(cat "$tmp/hbf.out")"
"$PROTEIN" show hbf 2 >"$tmp/show.out"
grep -q '^status  *pruned' "$tmp/show.out" && grep -q '^score  *10\.5$' "$tmp/show.out" ||
    fail "hbf trial 2 not pruned at its last report: $(cat "$tmp/show.out") $(cat "$tmp/hbf.out")"
grep -q '^trial 2 pruned after [0-9.]* s: loss 10\.5, cost 1 (stopped by hyperband at report 2 after 2 reports) (best 1\.[0-9]*, trial 1)$' "$tmp/hbf.out" ||
    fail "agent did not call trial 2, which failed when told to stop, pruned: $(cat "$tmp/hbf.out")"

# The same with the user guide's loop, which leaves its loop on status 3
# and exits 0: the trial is pruned in Redis, and the agent says so.
sed 's/^name: hb/name: hbb/' "$tmp/hb.yaml" >"$tmp/hbb.yaml"
"$PROTEIN" create "$tmp/hbb.yaml" >/dev/null 2>&1 || fail "create hbb"
rm -f "$tmp"/finished.*
BREAK=1 STEPS=12 SLEEP=0.3 "$PROTEIN" agent hbb --count 2 -- "$tmp/train.sh" \
    >"$tmp/hbb.out" 2>&1 || fail "agent hbb: $(cat "$tmp/hbb.out")"
"$PROTEIN" show hbb 2 | grep -q '^status  *pruned' ||
    fail "hbb trial 2 not pruned: $("$PROTEIN" show hbb 2) $(cat "$tmp/hbb.out")"
grep -q '^report 2: exit 3' "$tmp/hbb.out" && [ -e "$tmp/finished.2" ] ||
    fail "hbb trial 2 did not leave its loop on status 3: $(cat "$tmp/hbb.out")"
grep -q '^trial 2 pruned after [0-9.]* s: loss 10\.' "$tmp/hbb.out" ||
    fail "agent did not call trial 2, which left its loop when told to stop, pruned: $(cat "$tmp/hbb.out")"

# A trial the sweep stops before its first report (a user's request:
# protein_request_stop) has no score: its end line calls it failed, as
# protein run would, but says that the agent stopped it and that Redis
# records it as pruned, not a COMMAND that wrote no result.
sed 's/^name: hb/name: early/' "$tmp/hb.yaml" >"$tmp/early.yaml"
"$PROTEIN" create "$tmp/early.yaml" >/dev/null 2>&1 || fail "create early"
"$PROTEIN" agent early --count 1 -- sh -c 'sleep 30' >"$tmp/early.out" 2>&1 &
agent=$!
wait_for grep -q '^trial 1: started' "$tmp/early.out"
redis-cli -p "$REDIS_PORT" fcall protein_request_stop 1 "protein:{$user/early}:meta" 1 >/dev/null
rc=0
wait $agent || rc=$?
expect_rc 0 "$rc" "agent early ($(cat "$tmp/early.out"))"
[ "$(field early 1 status)" = pruned ] || fail "early trial 1 not pruned: $(field early 1 status)"
grep -q "^trial 1 failed after [0-9.]* s: no result: .*; stopped by the sweep before its first report, recorded as pruned\$" "$tmp/early.out" ||
    fail "agent: trial 1, stopped before its first report, not said to be stopped: $(cat "$tmp/early.out")"

# ------------------------------------------------------------ metric.target
cat >"$tmp/tgt.yaml" <<'EOS'
name: tgt
method: random
metric: {name: loss, goal: minimize, target: 0.5}
run_cap: 10
parameters:
  x: {min: 0.0, max: 1.0}
EOS
"$PROTEIN" create "$tmp/tgt.yaml" >/dev/null 2>&1 || fail "create tgt"
GOOD_TRIAL=3 STEPS=2 "$PROTEIN" agent tgt -- "$tmp/train.sh" >"$tmp/tgt.out" 2>&1 ||
    fail "agent tgt: $(cat "$tmp/tgt.out")"
grep -q "sweep '.*tgt' is stopped; 3 trials ran here" "$tmp/tgt.out" ||
    fail "agent went on after the target: $(cat "$tmp/tgt.out")"
"$PROTEIN" status tgt >"$tmp/tgt-status.out" 2>&1
grep -q '^sweep .*tgt: stopped (trial 3 reached the target 0.5)$' "$tmp/tgt-status.out" ||
    fail "tgt not stopped, or status does not say why: $(cat "$tmp/tgt-status.out")"
[ "$(redis-cli -p "$REDIS_PORT" hget "protein:{$user/tgt}:meta" stopped_by)" = \
  "trial 3 reached the target 0.5" ] || fail "tgt: stopped_by not the target"
grep -q '^coordinator: none (the sweep is stopped)$' "$tmp/tgt-status.out" ||
    fail "status of a stopped sweep: $(cat "$tmp/tgt-status.out")"

# ------------------------------------------------------------ budget used
# A sweep whose budget is used and that has no trial running: status says
# there is nothing to coordinate (not that claims take fallback points)
sed -e 's/^name: tgt/name: spent/' -e 's/^run_cap: 10/run_cap: 2/' -e '/target/d' \
    -e 's/^metric: .*/metric: {name: loss, goal: minimize}/' "$tmp/tgt.yaml" >"$tmp/spent.yaml"
"$PROTEIN" create "$tmp/spent.yaml" >/dev/null 2>&1 || fail "create spent"
STEPS=1 "$PROTEIN" agent spent -- "$tmp/train.sh" >"$tmp/spent.out" 2>&1 ||
    fail "agent spent: $(cat "$tmp/spent.out")"
"$PROTEIN" status spent >"$tmp/spent-status.out" 2>&1
grep -q '^coordinator: none (the budget is used and no trial runs: nothing to coordinate)$' \
    "$tmp/spent-status.out" || fail "status of a spent sweep: $(cat "$tmp/spent-status.out")"

# ------------------------------------------------------------ downsample
# 7 reports a trial, downsample 2: 2 bin means (steps 20.5 and 50.5 in
# place of the cost parameter) + the final result = 3 observations a
# trial, 1 without downsample
cat >"$tmp/ds.yaml" <<'EOS'
name: ds
method: random
metric: {name: loss, goal: minimize}
cost_param: steps
parameters:
  x: {min: 0.0, max: 1.0}
  steps: {min: 5, max: 100}
protein: {downsample: 2}
EOS
sed -e 's/^name: ds/name: plain/' -e '/downsample/d' "$tmp/ds.yaml" >"$tmp/plain.yaml"
for s in ds plain; do
    "$PROTEIN" create "$tmp/$s.yaml" >/dev/null 2>&1 || fail "create $s"
    STEPS=7 "$PROTEIN" agent $s --count 2 -- "$tmp/train.sh" >"$tmp/$s.out" 2>&1 ||
        fail "agent $s: $(cat "$tmp/$s.out")"
    [ "$(field $s 2 progress_n)" = 7 ] || fail "$s: trial 2 sent $(field $s 2 progress_n) reports"
    timeout 60 "$PROTEIND" --once --sweep "$user/$s" >"$tmp/proteind-$s.out" 2>&1 ||
        fail "proteind $s: $(cat "$tmp/proteind-$s.out")"
done
# A trial whose steps is at its minimum is not kept by the optimizer (it
# says nothing about the cost axis, Protein's rule); the warm-up draws
# steps there now and then, so count the finals that are kept.
kept() {
    k=0
    for t in 1 2; do
        steps=$(field "$1" $t params | sed -n 's/.*"steps": *\([0-9]*\).*/\1/p')
        [ -n "$steps" ] || fail "$1 trial $t: no steps in $(field "$1" $t params)"
        [ "${steps:-5}" -gt 5 ] && k=$((k + 1))
    done
    echo $k
}
want=$(( $(kept ds) + 4 ))
grep -q "rebuilt from Redis: 2 stream entries, $want successes" "$tmp/proteind-ds.out" ||
    fail "downsample: $(grep rebuilt "$tmp/proteind-ds.out"), expected $want successes"
want=$(kept plain)
grep -q "rebuilt from Redis: 2 stream entries, $want successes" "$tmp/proteind-plain.out" ||
    fail "no downsample: $(grep rebuilt "$tmp/proteind-plain.out"), expected $want successes"

cli_test_finish
