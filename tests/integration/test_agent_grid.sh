#!/usr/bin/env bash
# test_agent_grid.sh - method: grid on a sweep in Redis, run by `protein
# agent` (the claim path of the SPANK plugin) against a private
# redis-server: each grid point runs once, in grid order, and the sweep
# then answers as a sweep whose budget is used, as W&B's grid does:
#   - without proteind and without a budget (a 2x2 grid: 4 trials, then
#     the agent exits, and so does the next one);
#   - with run_cap below the grid's size (3 trials), and a trial lost for
#     good there giving its slot to the grid's next point;
#   - with proteind, killed -9 and restarted mid-grid (no point repeated
#     or skipped);
#   - a grid larger than the fallback pool create makes: the pool is not
#     wrapped around, a claim past it waits until proteind adds the next
#     points, in grid order;
# and method: random without a budget does not end.
set -eu
. "$top_srcdir/tests/common/cli_test.sh"

cli_test_init test_agent_grid
cli_test_redis
PROTEIND=$top_builddir/coordinator/proteind
user=$(id -un)

cat >"$tmp/trial.sh" <<'EOS'
#!/bin/sh
echo "score=$PROTEIN_TRIAL" >>"$PROTEIN_RESULT"
EOS
chmod +x "$tmp/trial.sh"

# create NAME TEXT: a sweep from the config TEXT
create() {
    printf 'name: %s\n%s' "$1" "$2" >"$tmp/$1.yaml"
    "$PROTEIN" create "$tmp/$1.yaml" >"$tmp/create.out" 2>&1 ||
        fail "create $1: $(cat "$tmp/create.out")"
}
# params NAME ID: trial ID's parameters as JSON
params() {
    redis-cli -p "$REDIS_PORT" hget "protein:{$user/$1}:trial:$2" params
}
meta() {
    redis-cli -p "$REDIS_PORT" hget "protein:{$user/$1}:meta" "$2"
}
# expect_grid NAME N: trials 1..N of NAME ran the 2x2 grid's points in
# grid order, and no trial N + 1 exists
expect_grid() {
    set -- "$1" "$2" '{"a": 1, "b": "x"}' '{"a": 1, "b": "y"}' \
        '{"a": 2, "b": "x"}' '{"a": 2, "b": "y"}'
    name=$1 n=$2
    shift 2
    for i in $(seq 1 "$n"); do
        [ "$(params "$name" "$i")" = "$1" ] ||
            fail "$name trial $i: $(params "$name" "$i"), expected $1"
        shift
    done
    [ "$(meta "$name" n_trials)" = "$n" ] ||
        fail "$name: $(meta "$name" n_trials) trials handed out, expected $n"
}
grid='method: grid
parameters:
  a: {values: [1, 2]}
  b: {values: [x, y]}
'

# ------------------------------------------------ no proteind, no budget
create grid "$grid"
grep -q 'no trial budget, a grid of 4 points (each run once)' "$tmp/create.out" ||
    fail "create grid: $(cat "$tmp/create.out")"
grep -q -- '--array=0-3%' "$tmp/create.out" ||
    fail "create grid: array not the grid's size: $(cat "$tmp/create.out")"
rc=0
timeout 30 "$PROTEIN" agent grid -- "$tmp/trial.sh" >"$tmp/grid.out" 2>&1 || rc=$?
expect_rc 0 $rc "agent on a 2x2 grid ($(tail -3 "$tmp/grid.out"))"
grep -q 'budget used; 4 trials ran here' "$tmp/grid.out" ||
    fail "agent grid: $(tail -3 "$tmp/grid.out")"
expect_grid grid 4
rc=0
timeout 30 "$PROTEIN" agent grid -- "$tmp/trial.sh" >"$tmp/grid2.out" 2>&1 || rc=$?
expect_rc 0 $rc "a second agent on a done grid ($(cat "$tmp/grid2.out"))"
grep -q 'budget used; 0 trials ran here' "$tmp/grid2.out" ||
    fail "agent on a done grid: $(cat "$tmp/grid2.out")"
"$PROTEIN" status grid | grep -q '^grid: 4 of 4 points handed out' ||
    fail "status grid: $("$PROTEIN" status grid)"

# ------------------------------------------------ run_cap below the grid
create capped "run_cap: 3
$grid"
rc=0
timeout 30 "$PROTEIN" agent capped -- "$tmp/trial.sh" >"$tmp/capped.out" 2>&1 || rc=$?
expect_rc 0 $rc "agent on a capped grid ($(tail -3 "$tmp/capped.out"))"
expect_grid capped 3

# ------------------------------------------------ a lost trial's slot
# run_cap 3 below the grid: trial 1 is claimed by hand and its lease runs
# out with no retry left (lost), so its slot is given back and the grid's
# 4th point runs in it, without proteind (the pool holds the whole grid)
printf 'name: lost\nrun_cap: 3\n%s' "$grid" >"$tmp/lost.yaml"
"$PROTEIN" create --lease 1 --max-retries 0 "$tmp/lost.yaml" >"$tmp/create.out" 2>&1 ||
    fail "create lost: $(cat "$tmp/create.out")"
[ "$(redis-cli -p "$REDIS_PORT" llen "protein:{$user/lost}:fallback")" = 4 ] ||
    fail "lost: the pool does not hold the whole grid past run_cap"
redis-cli -p "$REDIS_PORT" FCALL protein_claim 1 "protein:{$user/lost}:meta" \
    hand "$(id -u)" 1 0 node 1 1 00000000000000000000000000000000 "$user" \
    >"$tmp/claim.out" 2>&1
[ "$(params lost 1)" = '{"a": 1, "b": "x"}' ] ||
    fail "lost trial 1 was not claimed: $(cat "$tmp/claim.out")"
sleep 2
rc=0
timeout 20 "$PROTEIN" agent lost -- "$tmp/trial.sh" >"$tmp/lost.out" 2>&1 || rc=$?
expect_rc 0 $rc "agent after a lost trial ($(tail -3 "$tmp/lost.out"))"
expect_grid lost 4
[ "$(meta lost n_lost)" = 1 ] || fail "lost: n_lost $(meta lost n_lost), expected 1"

# ------------------------------------------------ proteind, restarted
create coord "$grid"
"$PROTEIND" --sweep coord --id one --lease-ttl 1000 >"$tmp/one.out" 2>&1 &
one=$!
wait_for grep -qs 'now the coordinator' "$tmp/one.out"
rc=0
timeout 30 "$PROTEIN" agent coord --count 2 -- "$tmp/trial.sh" >"$tmp/coord.out" 2>&1 || rc=$?
expect_rc 0 $rc "agent --count 2 with proteind ($(tail -3 "$tmp/coord.out"))"
kill -9 $one
wait $one 2>/dev/null || true
"$PROTEIND" --sweep coord --id two --lease-ttl 1000 >"$tmp/two.out" 2>&1 &
two=$!
wait_for grep -qs 'now the coordinator' "$tmp/two.out"
rc=0
timeout 30 "$PROTEIN" agent coord -- "$tmp/trial.sh" >"$tmp/coord2.out" 2>&1 || rc=$?
expect_rc 0 $rc "agent after a proteind restart ($(tail -3 "$tmp/coord2.out"))"
grep -q 'budget used; 2 trials ran here' "$tmp/coord2.out" ||
    fail "agent after a proteind restart: $(tail -3 "$tmp/coord2.out")"
kill $two
wait $two 2>/dev/null || true
expect_grid coord 4

# ------------------------------------------------ a grid past the pool
# every integer of 1..5000: the pool holds the first 4096 points
create big 'method: grid
parameters:
  n: {distribution: int_uniform, min: 1, max: 5000}
'
grep -q 'a grid of 5000 points' "$tmp/create.out" ||
    fail "create big: $(cat "$tmp/create.out")"
redis-cli -p "$REDIS_PORT" hset "protein:{$user/big}:meta" fallback_next 4095 >/dev/null
"$PROTEIN" agent big --count 1 -- "$tmp/trial.sh" >/dev/null 2>&1 ||
    fail "agent big --count 1 failed"
[ "$(params big 1)" = '{"n": 4096}' ] || fail "big trial 1: $(params big 1)"
"$PROTEIN" agent big --count 1 -- "$tmp/trial.sh" >"$tmp/big.out" 2>&1 &
agent=$!
wait_for grep -q 'grid point 4097 is not in the fallback pool yet' "$tmp/big.out"
grep -q 'grid point 4097 is not in the fallback pool yet' "$tmp/big.out" ||
    fail "a claim past the pool: $(cat "$tmp/big.out")"
timeout 60 "$PROTEIND" --once --sweep big >"$tmp/once.out" 2>&1 ||
    fail "proteind --once: $(cat "$tmp/once.out")"
rc=0
wait $agent || rc=$?
expect_rc 0 $rc "agent past the pool ($(cat "$tmp/big.out"))"
[ "$(params big 2)" = '{"n": 4097}' ] || fail "big trial 2: $(params big 2)"
[ "$(redis-cli -p "$REDIS_PORT" llen "protein:{$user/big}:fallback")" = 5000 ] ||
    fail "big: the pool is not the whole grid after a top-up"
redis-cli -p "$REDIS_PORT" hset "protein:{$user/big}:meta" fallback_next 4999 >/dev/null
rc=0
timeout 30 "$PROTEIN" agent big -- "$tmp/trial.sh" >"$tmp/big2.out" 2>&1 || rc=$?
expect_rc 0 $rc "agent at the end of a large grid ($(cat "$tmp/big2.out"))"
[ "$(params big 3)" = '{"n": 5000}' ] || fail "big trial 3: $(params big 3)"
grep -q 'budget used; 1 trial ran here' "$tmp/big2.out" ||
    fail "agent at the end of a large grid: $(cat "$tmp/big2.out")"

# ------------------------------------------------ random: no end
create rand 'method: random
parameters:
  opt: {values: [adam, sgd]}
'
rc=0
timeout 30 "$PROTEIN" agent rand --count 6 -- "$tmp/trial.sh" >"$tmp/rand.out" 2>&1 || rc=$?
expect_rc 0 $rc "agent on a random sweep ($(tail -3 "$tmp/rand.out"))"
[ "$(meta rand n_trials)" = 6 ] || fail "random: $(meta rand n_trials) trials, expected 6"

cli_test_finish
