#!/usr/bin/env bash
# test_agent_redis.sh - `protein agent` through Redis failures, against a
# private redis-server:
#   - Redis down when a trial ends (restarted 3 s later): the agent retries
#     recording the outcome and the trial is completed, not left running;
#   - Redis restarted while the agent waits for its next claim: the claim
#     is retried with its claim key once Redis answers again;
#   - a live agent renews its trial's lease; a frozen agent's trial is
#     claimed again once its lease ended, and the agent's late outcome is
#     refused while it goes on with the next trial;
#   - the trial of an agent killed outright is retried after the agent's
#     own short lease (--lease), not the sweep's day; a thawed agent whose
#     trial another claim took stops it at its next renewal;
#   - an agent restarted with the same --claim-key resumes its trial and
#     skips the keys whose trials finished;
#   - SIGHUP stops an agent as SIGTERM does, unless started under nohup.
set -eu
. "$top_srcdir/tests/common/cli_test.sh"

cli_test_init test_agent_redis
cli_test_redis

# create_sweep NAME MAX_TRIALS [CREATE OPTIONS...]: a random sweep of x
create_sweep() {
    name=$1 max=$2
    shift 2
    printf 'name: %s\nmethod: random\nmax_trials: %s\nparameters:\n  x: {min: 0.0, max: 1.0}\n' \
        "$name" "$max" >"$tmp/$name.yaml"
    "$PROTEIN" create "$tmp/$name.yaml" "$@" >"$tmp/create.out" 2>&1 ||
        fail "create $name: $(cat "$tmp/create.out")"
}

# hold_until_go NAME TRIAL TENTHS: writes $tmp/NAME.sh, a trial program
# that, for trial TRIAL (any trial when TRIAL is any), waits until the file
# $tmp/NAME.go exists, TENTHS tenths of a second at most
hold_until_go() {
    cat >"$tmp/$1.sh" <<EOS2
#!/bin/sh
i=0
while { [ "$2" = any ] || [ "\$PROTEIN_TRIAL" = "$2" ]; } &&
    [ ! -e "$tmp/$1.go" ] && [ \$i -lt $3 ]; do
    sleep 0.1; i=\$((i + 1))
done
echo "score=\$PROTEIN_TRIAL" >>"\$PROTEIN_RESULT"
EOS2
    chmod +x "$tmp/$1.sh"
}

create_sweep restart 10

# ------------------------------------------------ Redis down at trial end
# the trial ends once Redis is down (the file trial.go), 10 s at most
hold_until_go trial any 100
"$PROTEIN" agent restart --count 1 -- "$tmp/trial.sh" >"$tmp/down.out" 2>&1 &
agent=$!
wait_for grep -q '^trial 1: started' "$tmp/down.out"
redis_down
touch "$tmp/trial.go"
wait_for grep -q 'retrying for up to 30 s' "$tmp/down.out"
redis_up || fail "redis-server did not restart"
rc=0
wait $agent || rc=$?
expect_rc 0 $rc "agent across a Redis restart ($(cat "$tmp/down.out"))"
grep -q 'trial 1: recording its outcome: .*retrying for up to 30 s' \
    "$tmp/down.out" || fail "agent did not say it retries: $(cat "$tmp/down.out")"
"$PROTEIN" show restart 1 | grep -q '^status  *completed' ||
    fail "trial 1 not completed: $("$PROTEIN" show restart 1)"

# ------------------------------------------------ Redis restarted at claim
# trial 2 makes the sweep look served by a coordinator, so that the next
# claim polls for a point (5 s); Redis restarts during that poll
user=$(id -un)
cat >"$tmp/poll.sh" <<EOS2
#!/bin/sh
echo "score=\$PROTEIN_TRIAL" >>"\$PROTEIN_RESULT"
redis-cli -p $REDIS_PORT set "protein:{$user/restart}:coordinator" test px 60000 >/dev/null
touch "$tmp/ended.\$PROTEIN_TRIAL"
EOS2
chmod +x "$tmp/poll.sh"
"$PROTEIN" agent restart --count 2 -- "$tmp/poll.sh" >"$tmp/poll.out" 2>&1 &
agent=$!
wait_for test -e "$tmp/ended.2"
trial2_recorded() {
    "$PROTEIN" show restart 2 | grep -q '^status  *completed'
}
wait_for trial2_recorded
redis_down
wait_for grep -q 'claiming a trial: .*retrying' "$tmp/poll.out"
redis_up || fail "redis-server did not restart"
rcli del "protein:{$user/restart}:coordinator" >/dev/null
rc=0
wait $agent || rc=$?
expect_rc 0 $rc "agent across a Redis restart during a claim ($(cat "$tmp/poll.out"))"
grep -q 'claiming a trial: .*retrying for up to 30 s' "$tmp/poll.out" ||
    fail "agent did not say it retries the claim: $(cat "$tmp/poll.out")"
"$PROTEIN" show restart 3 | grep -q '^status  *completed' ||
    fail "trial 3 not completed: $("$PROTEIN" show restart 3)"
[ "$("$PROTEIN" trials restart --status running --format csv | wc -l)" = 1 ] ||
    fail "trials left running: $("$PROTEIN" trials restart)"

# past T: Redis's clock is past unix time T
past() {
    [ "$(rcli eval "return tonumber(redis.call('TIME')[1]) > tonumber(ARGV[1]) and 1 or 0" \
        0 "$1")" = 1 ]
}
# deadline SWEEP ID: the trial's lease deadline (none: 0)
deadline() {
    d=$(rcli zscore "protein:{$user/$1}:leases" "$2")
    echo "${d:-0}"
}
# lease_due SWEEP ID: the trial's lease deadline has passed
lease_due() {
    past "$(deadline "$1" "$2")"
}

# ------------------------------------------------ leases of agent trials
# a live agent renews its trial's lease: a trial longer than the 3 s lease
# is not claimed again; a frozen agent's trial is, once its lease ended
# (no coordinator: the claim ends it), and its late outcome is refused
# while the agent goes on
create_sweep short 4 --lease 3 --max-retries 1
cat >"$tmp/long.sh" <<EOS2
#!/bin/sh
[ "\$PROTEIN_TRIAL" = 1 ] && sleep 5
[ "\$PROTEIN_TRIAL" = 3 ] && [ ! -e "$tmp/long.once" ] && touch "$tmp/long.once" && sleep 1
echo "score=\$PROTEIN_TRIAL" >>"\$PROTEIN_RESULT"
EOS2
chmod +x "$tmp/long.sh"
"$PROTEIN" agent short --count 1 -- "$tmp/long.sh" >"$tmp/live.out" 2>&1 &
agent=$!
wait_for grep -q '^trial 1: started' "$tmp/live.out"
first=$(deadline short 1)
wait_for past "$first"
"$PROTEIN" agent short --count 1 -- "$tmp/long.sh" >"$tmp/other.out" 2>&1 ||
    fail "second agent: $(cat "$tmp/other.out")"
grep -q '^trial 2: started' "$tmp/other.out" ||
    fail "a live agent's trial was claimed again: $(cat "$tmp/other.out")"
rc=0
wait $agent || rc=$?
expect_rc 0 $rc "agent past its trial's first lease ($(cat "$tmp/live.out"))"
"$PROTEIN" show short 1 | grep -q '^status  *completed' ||
    fail "trial 1 not completed: $("$PROTEIN" show short 1)"

"$PROTEIN" agent short --count 2 -- "$tmp/long.sh" >"$tmp/frozen.out" 2>&1 &
agent=$!
wait_for grep -q '^trial 3: started' "$tmp/frozen.out"
kill -STOP $agent
wait_for lease_due short 3
"$PROTEIN" agent short --count 1 -- "$tmp/long.sh" >"$tmp/thaw.out" 2>&1 ||
    fail "agent after the frozen one: $(cat "$tmp/thaw.out")"
kill -CONT $agent
grep -q '^trial 3: started' "$tmp/thaw.out" ||
    fail "the frozen agent's trial 3 was not claimed again: $(cat "$tmp/thaw.out")"
rc=0
wait $agent || rc=$?
expect_rc 0 $rc "agent whose trial was claimed again ($(cat "$tmp/frozen.out"))"
# (at its thaw the agent renews first, or records the finished trial
# first and is refused, the other agent's outcome of it recorded first:
# either way it says so and records nothing)
grep -E -q 'trial 3: (outcome not recorded: its lease ended and another claim ran the trial|its lease ended and the trial is no longer this agent)' \
    "$tmp/frozen.out" || fail "agent did not say why: $(cat "$tmp/frozen.out")"
grep -q '^trial 4: started' "$tmp/frozen.out" ||
    fail "agent did not go on with the next trial: $(cat "$tmp/frozen.out")"

# ------------------------------------------------ a vanished agent's trial
# the agent's claims ask for a short lease (--lease, default 120 s, which
# it renews): the trial of an agent killed outright is retried after that
# lease, not after the sweep's (a day here)
create_sweep gone 3 --max-retries 1
cat >"$tmp/slow.sh" <<EOS2
#!/bin/sh
if [ "\$PROTEIN_TRIAL" = 1 ] && [ ! -e "$tmp/slow.once" ]; then
    touch "$tmp/slow.once"
    sleep 60 &
    echo \$! >"$tmp/slow.training"
    wait
fi
echo "score=\$PROTEIN_TRIAL" >>"\$PROTEIN_RESULT"
EOS2
chmod +x "$tmp/slow.sh"
"$PROTEIN" agent gone --lease 2 --count 1 -- "$tmp/slow.sh" >"$tmp/gone.out" 2>&1 &
agent=$!
wait_for grep -q '^trial 1: started' "$tmp/gone.out"
[ "$(rcli hget "protein:{$user/gone}:trial:1" lease_seconds)" = 2 ] ||
    fail "the agent's claim did not ask for its lease: $("$PROTEIN" show gone 1)"
wait_for test -s "$tmp/slow.training"
kill -9 $agent
wait $agent 2>/dev/null || true
# the training the trial's shell started does not run on unseen either
training_gone() { ! kill -0 "$(cat "$tmp/slow.training")" 2>/dev/null; }
wait_for training_gone
training_gone || fail "the trial's training survived kill -9 of its agent"
wait_for lease_due gone 1
"$PROTEIN" agent gone --count 1 -- "$tmp/slow.sh" >"$tmp/after.out" 2>&1 ||
    fail "agent after the killed one: $(cat "$tmp/after.out")"
grep -q '^trial 1: started' "$tmp/after.out" ||
    fail "the killed agent's trial 1 was not retried: $(cat "$tmp/after.out")"
"$PROTEIN" show gone 1 | grep -q '^status  *completed' ||
    fail "trial 1 not completed on its retry: $("$PROTEIN" show gone 1)"
# a lease shorter than the stop-flag poll (2 s) is renewed at a third of
# its length: a live agent's trial is not claimed again after its first
# 1 s lease
create_sweep brief 3 --max-retries 1
hold_until_go held 1 100
"$PROTEIN" agent brief --lease 1 --count 1 -- "$tmp/held.sh" >"$tmp/held.out" 2>&1 &
agent=$!
wait_for grep -q '^trial 1: started' "$tmp/held.out"
first=$(deadline brief 1)
wait_for past "$first"
"$PROTEIN" agent brief --count 1 -- "$tmp/held.sh" >"$tmp/beside.out" 2>&1 ||
    fail "agent beside the live one: $(cat "$tmp/beside.out")"
touch "$tmp/held.go"
rc=0
wait $agent || rc=$?
expect_rc 0 $rc "agent with a 1 s lease ($(cat "$tmp/held.out"))"
grep -q '^trial 2: started' "$tmp/beside.out" ||
    fail "a live agent's trial with a 1 s lease was claimed again: $(cat "$tmp/beside.out")"

# hold_first_run NAME TRIAL: writes $tmp/NAME.sh, a trial program whose
# first run of trial TRIAL lasts 30 s (a trial still running when the test
# acts on its agent); every other run ends at once
hold_first_run() {
    cat >"$tmp/$1.sh" <<EOS2
#!/bin/sh
if [ "\$PROTEIN_TRIAL" = $2 ] && [ ! -e "$tmp/$1.once" ]; then
    touch "$tmp/$1.once"
    i=0
    while [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
fi
echo "score=\$PROTEIN_TRIAL" >>"\$PROTEIN_RESULT"
EOS2
    chmod +x "$tmp/$1.sh"
}

# a thawed agent whose trial another claim took stops its command at its
# next renewal instead of running it to the end for an outcome that would
# be refused
create_sweep taken 3 --lease 3 --max-retries 1
hold_first_run taken 1
"$PROTEIN" agent taken --count 1 -- "$tmp/taken.sh" >"$tmp/taken.out" 2>&1 &
agent=$!
wait_for grep -q '^trial 1: started' "$tmp/taken.out"
kill -STOP $agent
wait_for lease_due taken 1
"$PROTEIN" agent taken --count 1 -- "$tmp/taken.sh" >"$tmp/taker.out" 2>&1 ||
    fail "agent taking the frozen one's trial: $(cat "$tmp/taker.out")"
grep -q '^trial 1: started' "$tmp/taker.out" ||
    fail "the frozen agent's trial 1 was not claimed again: $(cat "$tmp/taker.out")"
kill -CONT $agent
wait_for grep -q 'trial 1: its lease ended and the trial is no longer this agent' \
    "$tmp/taken.out"
rc=0
wait $agent || rc=$?
expect_rc 0 $rc "agent whose running trial was taken ($(cat "$tmp/taken.out"))"
grep -q 'outcome not recorded' "$tmp/taken.out" &&
    fail "the agent recorded a trial no longer its own: $(cat "$tmp/taken.out")"
"$PROTEIN" show taken 1 | grep -q '^status  *completed' ||
    fail "trial 1 not completed by its new claim: $("$PROTEIN" show taken 1)"

# an agent restarted with the same --claim-key gets its unfinished trial
# back (resumed) and skips the keys whose trials finished before
create_sweep keyed 4
hold_first_run keyed 2
"$PROTEIN" agent keyed --claim-key kk --count 2 -- "$tmp/keyed.sh" \
    >"$tmp/keyed1.out" 2>&1 &
agent=$!
wait_for grep -q '^trial 2: started' "$tmp/keyed1.out"
kill -9 $agent
wait $agent 2>/dev/null || true
"$PROTEIN" agent keyed --claim-key kk --count 2 -- "$tmp/keyed.sh" \
    >"$tmp/keyed2.out" 2>&1 || fail "restarted agent: $(cat "$tmp/keyed2.out")"
grep -q '^trial 2 (resumed): started' "$tmp/keyed2.out" ||
    fail "the restarted agent did not get trial 2 back: $(cat "$tmp/keyed2.out")"
grep -q '^trial 3: started' "$tmp/keyed2.out" ||
    fail "the restarted agent did not go on: $(cat "$tmp/keyed2.out")"
grep -q '^trial 1' "$tmp/keyed2.out" &&
    fail "the restarted agent ran a finished trial again: $(cat "$tmp/keyed2.out")"

# the terminal closing (SIGHUP) stops the agent as SIGTERM does (its trial
# recorded as interrupted, exit 130), unless it was started with SIGHUP
# ignored (nohup), which it then keeps ignoring
create_sweep hup 3
hold_first_run hup 1
# (SIGHUP set to its default first: the test itself may run under nohup)
env --default-signal=HUP "$PROTEIN" agent hup --count 1 -- "$tmp/hup.sh" \
    >"$tmp/hup.out" 2>&1 &
agent=$!
wait_for grep -q '^trial 1: started' "$tmp/hup.out"
kill -HUP $agent
rc=0
wait $agent || rc=$?
expect_rc 130 $rc "agent after SIGHUP ($(cat "$tmp/hup.out"))"
"$PROTEIN" show hup 1 | grep -q '^status  *interrupted' ||
    fail "trial 1 not interrupted by SIGHUP: $("$PROTEIN" show hup 1)"
hold_until_go nohup any 300
(trap '' HUP && exec "$PROTEIN" agent hup --count 1 -- "$tmp/nohup.sh") \
    >"$tmp/nohup.out" 2>&1 &
agent=$!
wait_for grep -q 'started' "$tmp/nohup.out"
kill -HUP $agent
sleep 0.5
kill -0 $agent 2>/dev/null ||
    fail "a nohup'ed agent stopped at SIGHUP: $(cat "$tmp/nohup.out")"
touch "$tmp/nohup.go"
rc=0
wait $agent || rc=$?
expect_rc 0 $rc "nohup'ed agent after SIGHUP ($(cat "$tmp/nohup.out"))"

"$PROTEIN" agent gone --lease 0 -- true >"$tmp/lease0.out" 2>&1 &&
    fail "--lease 0 accepted: $(cat "$tmp/lease0.out")"
grep -q -- '--lease' "$tmp/lease0.out" ||
    fail "--lease 0 not named: $(cat "$tmp/lease0.out")"

# ------------------------------------------------ a trial gone from the sweep
# Redis restarted from an older snapshot has no trial the agent ran: its
# outcome is refused, and the agent says so and goes on to the next trial;
# its summary counts the outcomes Redis recorded, and the refused one apart
# (it counted it as completed, and as the best, score 1 under a minimized
# metric)
create_sweep vanish 2
cat >"$tmp/vanish.sh" <<EOS3
#!/bin/sh
[ "\$PROTEIN_TRIAL" = 1 ] && while [ ! -e "$tmp/vanish.go" ]; do sleep 0.1; done
echo "score=\$PROTEIN_TRIAL" >>"\$PROTEIN_RESULT"
EOS3
chmod +x "$tmp/vanish.sh"
"$PROTEIN" agent vanish -- "$tmp/vanish.sh" >"$tmp/vanish.out" 2>&1 &
agent=$!
wait_for grep -q '^trial 1: started' "$tmp/vanish.out"
rcli del "protein:{$user/vanish}:trial:1" >/dev/null
touch "$tmp/vanish.go"
rc=0
wait $agent || rc=$?
expect_rc 0 $rc "agent whose trial vanished ($(cat "$tmp/vanish.out"))"
grep -q 'trial 1: outcome not recorded: the sweep has no such trial any more' "$tmp/vanish.out" ||
    fail "the agent did not say trial 1 was gone: $(cat "$tmp/vanish.out")"
grep -q '^trial 2 completed after [0-9.]* s: score 2' "$tmp/vanish.out" ||
    fail "the agent did not go on to trial 2: $(cat "$tmp/vanish.out")"
grep -q '^trial 1 completed after [0-9.]* s: score 1, cost 1; outcome not recorded$' "$tmp/vanish.out" ||
    fail "trial 1's end line does not say its outcome was not recorded: $(cat "$tmp/vanish.out")"
grep -q '^1 trial: 1 completed, 0 pruned, 0 failed$' "$tmp/vanish.out" &&
    grep -q '^1 more ran, its outcome not recorded (said above)$' "$tmp/vanish.out" &&
    grep -q '^best: trial 2, score 2, cost 1$' "$tmp/vanish.out" ||
    fail "the summary counts a refused outcome: $(cat "$tmp/vanish.out")"

# two refused: the summary's line counts both, in the plural
create_sweep vanish2 3
cat >"$tmp/vanish2.sh" <<EOS4
#!/bin/sh
[ "\$PROTEIN_TRIAL" -lt 3 ] && while [ ! -e "$tmp/vanish2.go\$PROTEIN_TRIAL" ]; do sleep 0.1; done
echo "score=\$PROTEIN_TRIAL" >>"\$PROTEIN_RESULT"
EOS4
chmod +x "$tmp/vanish2.sh"
"$PROTEIN" agent vanish2 -- "$tmp/vanish2.sh" >"$tmp/vanish2.out" 2>&1 &
agent=$!
for n in 1 2; do
    wait_for grep -q "^trial $n: started" "$tmp/vanish2.out"
    rcli del "protein:{$user/vanish2}:trial:$n" >/dev/null
    touch "$tmp/vanish2.go$n"
done
rc=0
wait $agent || rc=$?
expect_rc 0 $rc "agent whose two trials vanished ($(cat "$tmp/vanish2.out"))"
grep -q '^1 trial: 1 completed, 0 pruned, 0 failed$' "$tmp/vanish2.out" &&
    grep -q '^2 more ran, their outcomes not recorded (said above)$' "$tmp/vanish2.out" ||
    fail "the summary of two refused outcomes: $(cat "$tmp/vanish2.out")"

cli_test_finish
