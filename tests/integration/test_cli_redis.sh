#!/bin/sh
# test_cli_redis.sh - the sweep verbs of `protein` against a private
# redis-server: create, list, status, trials, show, best, export, plot,
# pause/resume/stop/cancel, delete, report with progress, three agents
# sharing one budget, an agent's failed and interrupted trials, and its
# trials without a cost. Skips (77) without redis-server.
set -eu

: "${top_builddir:?run through make check}" "${top_srcdir:?run through make check}"
. "$top_srcdir/tests/common/cli_test.sh"
cli_test_init test_cli_redis
cli_test_redis
# A bare sweep name is the caller's own: USER/NAME.
U=$(id -un)

# sweep_yaml NAME BUDGET: a small sweep file like examples/sweeps/quadratic.yaml
sweep_yaml() {
    cat >"$tmp/$1.yaml" <<EOF
name: $1
metric: {name: score, goal: maximize}
max_trials: $2
seed: 5
parameters:
  lr: {distribution: log_uniform_values, min: 1e-5, max: 1e-1}
  x: {distribution: uniform, min: -2, max: 2}
  layers: {distribution: int_uniform, min: 1, max: 8}
  optimizer: {values: [adam, sgd, rmsprop]}
EOF
}

# ------------------------------------------------------------ list, none yet
# no line on stdout; stderr says so, naming the Redis asked
rc=0
"$PROTEIN" list >"$tmp/list-none.out" 2>"$tmp/list-none.err" || rc=$?
expect_rc 0 "$rc" "list of no sweeps"
[ ! -s "$tmp/list-none.out" ] || fail "list of no sweeps printed: $(cat "$tmp/list-none.out")"
grep -q "^protein list: no sweeps of yours in Redis at $REDIS_URL (protein create CONFIG stores one)\$" \
    "$tmp/list-none.err" || fail "list of no sweeps says nothing: $(cat "$tmp/list-none.err")"

# ------------------------------------------------------------ create
sweep_yaml clitest 12
rc=0
"$PROTEIN" create "$tmp/clitest.yaml" >"$tmp/create.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "create"
grep -q "sbatch --array=0-11%2 --sweep=$U/clitest " "$tmp/create.out" ||
    fail "create does not print the sbatch line (2 at a time for 12 trials)"
grep -q "(2 at a time: each trial is chosen without the results" "$tmp/create.out" ||
    fail "create does not say why 2 at a time"
grep -q "^  protein agent $U/clitest -- COMMAND$" "$tmp/create.out" ||
    fail "create does not show protein agent with a COMMAND: $(cat "$tmp/create.out")"
# a config with a W&B program needs no COMMAND
{ cat "$tmp/clitest.yaml"; echo 'program: train.py'; } |
    sed 's/^name: clitest/name: withprog/' >"$tmp/withprog.yaml"
"$PROTEIN" create "$tmp/withprog.yaml" >"$tmp/withprog.out" 2>&1 ||
    fail "create withprog: $(cat "$tmp/withprog.out")"
grep -q "^  protein agent $U/withprog  (runs the config's program)$" "$tmp/withprog.out" ||
    fail "create suggests a COMMAND for a config with a program: $(cat "$tmp/withprog.out")"
# ... and says how a batch script runs it; a config without one does not
grep -qxF "  (your.sbatch runs the config's program with: protein exec $tmp/withprog.yaml)" \
    "$tmp/withprog.out" && ! grep -q 'protein exec' "$tmp/create.out" ||
    fail "create does not say how your.sbatch runs the program: $(cat "$tmp/withprog.out")"
# best of a sweep without a completed trial: exit 1, naming the sweep as
# every other message does (USER/NAME)
rc=0
"$PROTEIN" best withprog >/dev/null 2>"$tmp/best-none.err" || rc=$?
expect_rc 1 "$rc" "best of a sweep without a completed trial"
grep -qx "protein best: sweep $U/withprog has no completed trial yet" "$tmp/best-none.err" ||
    fail "best of a sweep without a completed trial: $(cat "$tmp/best-none.err")"
# a PufferLib INI file is stored as the canonical YAML of its config: the
# stored text is always YAML
cat >"$tmp/puffer.ini" <<EOF
[sweep]
method = Protein
metric = environment/score
goal = maximize
max_runs = 6

[sweep.train.learning_rate]
distribution = log_normal
min = 1e-5
max = 1e-1
mean = 1e-3
scale = auto
EOF
"$PROTEIN" create "$tmp/puffer.ini" >"$tmp/puffer.out" 2>&1 ||
    fail "create from INI: $(cat "$tmp/puffer.out")"
rcli get "protein:{$U/puffer}:config" >"$tmp/puffer.stored"
grep -q '^parameters:' "$tmp/puffer.stored" && ! grep -q '^\[sweep' "$tmp/puffer.stored" ||
    fail "an INI sweep is not stored as YAML: $(cat "$tmp/puffer.stored")"
# the throttle grows with the budget (one per 15 trials), up to 16
sweep_yaml wide 90
"$PROTEIN" create "$tmp/wide.yaml" >"$tmp/wide.out" 2>&1 || fail "create wide"
grep -q "sbatch --array=0-89%6 --sweep=$U/wide " "$tmp/wide.out" ||
    fail "create does not suggest 6 at a time for 90 trials"
sweep_yaml huge 1000
"$PROTEIN" create "$tmp/huge.yaml" >"$tmp/huge.out" 2>&1 || fail "create huge"
grep -q "sbatch --array=0-999%16 --sweep=$U/huge " "$tmp/huge.out" ||
    fail "create does not cap the throttle at 16"
# random and grid trials do not use results: no advice to run few at once
sed 's/^name: wide$/name: wide-random\nmethod: random/' "$tmp/wide.yaml" \
    >"$tmp/wide-random.yaml"
"$PROTEIN" create "$tmp/wide-random.yaml" >"$tmp/wide-random.out" 2>&1 ||
    fail "create wide-random: $(cat "$tmp/wide-random.out")"
grep -q "sbatch --array=0-89%16 --sweep=$U/wide-random " "$tmp/wide-random.out" &&
    grep -q "(random search trials do not depend on each other's results" "$tmp/wide-random.out" &&
    ! grep -q "find less" "$tmp/wide-random.out" ||
    fail "create's advice for random search: $(cat "$tmp/wide-random.out")"
"$PROTEIN" delete --yes "$U/wide-random" >/dev/null 2>&1 || fail "delete wide-random"
"$PROTEIN" delete --yes "$U/wide" >/dev/null 2>&1 || fail "delete wide"
"$PROTEIN" delete --yes "$U/huge" >/dev/null 2>&1 || fail "delete huge"
[ "$(rcli llen "protein:{$U/clitest}:fallback")" -eq 12 ] ||
    fail "fallback pool is not min(max_trials, 4096) = 12 points"
rc=0
"$PROTEIN" create "$tmp/clitest.yaml" >"$tmp/again.out" 2>&1 || rc=$?
expect_rc 1 "$rc" "create twice"
grep -q 'already exists' "$tmp/again.out" || fail "no 'already exists' message"

# replay: a spool directory that is not there is a mistake, not "0 applied"
rc=0
"$PROTEIN" replay --spool "$tmp/no-such-spool" >"$tmp/replay.out" 2>&1 || rc=$?
expect_rc 2 "$rc" "replay of a missing spool directory"
grep -q "no-such-spool: No such file or directory" "$tmp/replay.out" ||
    fail "replay does not say the spool directory is missing: $(cat "$tmp/replay.out")"
rc=0
"$PROTEIN" replay --spool "$tmp/clitest.yaml" >"$tmp/replay.out" 2>&1 || rc=$?
expect_rc 2 "$rc" "replay of a file as the spool"
mkdir "$tmp/empty-spool"
"$PROTEIN" replay --spool "$tmp/empty-spool" >"$tmp/replay.out" 2>&1 ||
    fail "replay of an empty spool: $(cat "$tmp/replay.out")"
grep -q "^0 applied" "$tmp/replay.out" || fail "replay of an empty spool: $(cat "$tmp/replay.out")"

# a W&B file that repeats a categorical's value is stored as it is, with
# the reader's warning (file:line:key) printed
printf 'name: repeat\nparameters:\n  opt: {values: [adam, adam, sgd]}\n' \
    >"$tmp/repeat.yaml"
"$PROTEIN" create "$tmp/repeat.yaml" >"$tmp/repeat.out" 2>&1 ||
    fail "create with a repeated value: $(cat "$tmp/repeat.out")"
grep -qF "$tmp/repeat.yaml:3: parameters.opt.values: 'adam' is listed 2 times" \
    "$tmp/repeat.out" || fail "create does not print the repeat's warning"
"$PROTEIN" delete --yes "$U/repeat" >/dev/null 2>&1 || fail "delete repeat"

printf 'name: broken\nparameters:\n  lr: {distribution: nope, min: 1, max: 2}\n' \
    >"$tmp/broken.yaml"
rc=0
"$PROTEIN" create "$tmp/broken.yaml" >"$tmp/broken.out" 2>&1 || rc=$?
expect_rc 2 "$rc" "create with a bad config"
grep -q 'broken.yaml:3' "$tmp/broken.out" || fail "config error does not name file:line"
[ "$(rcli exists "protein:{$U/broken}:meta")" -eq 0 ] || fail "a bad config was stored"
rc=0
"$PROTEIN" create --name 'bad name!' "$tmp/clitest.yaml" >/dev/null 2>&1 || rc=$?
expect_rc 2 "$rc" "create with a bad name"
# a bad --name is the one error, with no hint to set name: in the config
rc=0
"$PROTEIN" create --name .bad "$tmp/clitest.yaml" >/dev/null 2>"$tmp/badname.err" || rc=$?
expect_rc 2 "$rc" "create --name .bad"
cat >"$tmp/badname.want" <<'EOF'
protein create: '.bad' is not a valid sweep name: 1-64 of [A-Za-z0-9._-], not starting with . or -, optionally after OWNER/
Try 'protein create --help' for more information.
EOF
cmp -s "$tmp/badname.want" "$tmp/badname.err" ||
    fail "create --name .bad: stderr is not the one error: $(cat "$tmp/badname.err")"
# another user's namespace is refused, and nothing is stored there
other=notme$$
rc=0
"$PROTEIN" create --name "$other/taken" "$tmp/clitest.yaml" >/dev/null \
    2>"$tmp/other.err" || rc=$?
expect_rc 2 "$rc" "create in another user's namespace"
grep -q "sweep '$other/taken': you can create only your own sweeps, named NAME or $U/NAME" \
    "$tmp/other.err" || fail "create in another user's namespace: $(cat "$tmp/other.err")"
[ "$(rcli exists "protein:{$other/taken}:meta")" -eq 0 ] ||
    fail "a sweep was created in another user's namespace"
rc=0
"$PROTEIN" create --name "$U/own" "$tmp/clitest.yaml" >/dev/null 2>&1 || rc=$?
expect_rc 0 "$rc" "create --name USER/NAME of your own"

# Redis down: a bounded wait and a message naming the URL
rc=0
"$PROTEIN" status clitest --redis redis://127.0.0.1:1 >"$tmp/down.out" 2>&1 || rc=$?
expect_rc 1 "$rc" "Redis down"
grep -q 'cannot connect to Redis at redis://127.0.0.1:1: Connection refused' "$tmp/down.out" ||
    fail "Redis-down message does not name the URL"
[ "$(grep -o 'Redis at' "$tmp/down.out" | wc -l)" = 1 ] ||
    fail "Redis-down message names the URL more than once"

# a URL whose port is another service's (a web server answers "HTTP/1.1
# 400 ..."): said to be no Redis, not a bare hiredis protocol error
if command -v python3 >/dev/null; then
    python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
s.settimeout(30)
c, _ = s.accept()
c.recv(256)
c.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
c.close()' >"$tmp/http.port" &
    http_pid=$!
    wait_for test -s "$tmp/http.port"
    rc=0
    "$PROTEIN" status clitest --redis "redis://127.0.0.1:$(cat "$tmp/http.port")" \
        >"$tmp/http.out" 2>&1 || rc=$?
    wait "$http_pid" || :
    expect_rc 1 "$rc" "a URL that is no Redis"
    grep -qF "protein status: redis://127.0.0.1:$(cat "$tmp/http.port") does not answer as Redis does (Protocol error" \
        "$tmp/http.out" && grep -qF "is that redis-server's host and port?" "$tmp/http.out" ||
        fail "a URL that is no Redis: $(cat "$tmp/http.out")"
fi

# a password in the URL: refused with the whole advice, the password hidden
rc=0
"$PROTEIN" status clitest --redis "redis://user:secret@127.0.0.1:$REDIS_PORT" \
    >"$tmp/urlpw.out" 2>&1 || rc=$?
expect_rc 2 "$rc" "a password in the URL"
grep -qFx "protein status: Redis URL 'redis://user:***@127.0.0.1:$REDIS_PORT' carries a password: protein never takes one from a URL (it would show in job environments and logs); put it in a file only you can read and pass that file (--password-file, password_file=) or set PROTEIN_REDIS_PASSWORD (set --redis URL or \$PROTEIN_REDIS)" \
    "$tmp/urlpw.out" || fail "the refusal of a URL password is not whole: $(cat "$tmp/urlpw.out")"

# a malformed URL, or a database the server refuses, is a config error
# (exit 2) in every verb that connects, from --redis or $PROTEIN_REDIS;
# nothing is created
for url in "http://127.0.0.1:$REDIS_PORT" "redis://127.0.0.1:$REDIS_PORT/99999"; do
    for verb in "status clitest" "trials clitest" "show clitest 1" "list" \
        "create --name badurl $tmp/clitest.yaml" "agent clitest --count 1 -- true"; do
        rc=0
        # shellcheck disable=SC2086
        "$PROTEIN" ${verb%% *} --redis "$url" $(echo "$verb" | cut -s -d' ' -f2-) \
            >"$tmp/badurl.out" 2>&1 || rc=$?
        expect_rc 2 "$rc" "protein $verb --redis $url"
        grep -q "Redis URL\|database\|DB index" "$tmp/badurl.out" ||
            fail "protein $verb --redis $url: $(cat "$tmp/badurl.out")"
    done
    rc=0
    PROTEIN_REDIS=$url "$PROTEIN" status clitest >"$tmp/badurl.out" 2>&1 || rc=$?
    expect_rc 2 "$rc" "PROTEIN_REDIS=$url protein status"
done
"$PROTEIN" status badurl >/dev/null 2>&1 && fail "create with a bad URL created a sweep"

# ------------------------------------------------------------ list, status
"$PROTEIN" list >"$tmp/list.out" || fail "list"
grep -q "^$U/clitest  *active  *0/12 " "$tmp/list.out" || fail "list does not show clitest"
"$PROTEIN" status clitest >"$tmp/status.out" || fail "status"
grep -q '^budget: 0 of 12 trials' "$tmp/status.out" || fail "status budget"
grep -q 'fallback pool: 0 of 12 points handed out$' "$tmp/status.out" ||
    fail "status fallback pool: $(cat "$tmp/status.out")"
grep -q '^coordinator: none' "$tmp/status.out" || fail "status coordinator"
rc=0
"$PROTEIN" status nosuch >"$tmp/nosuch.out" 2>&1 || rc=$?
expect_rc 1 "$rc" "status of an unknown sweep"
grep -q "no sweep named '$U/nosuch'" "$tmp/nosuch.out" || fail "unknown sweep message"

# ------------------------------------------------------------ agents share the budget
pids=
for i in 1 2 3; do
    "$PROTEIN" agent clitest -- "$OBJECTIVE" >"$tmp/agent$i.out" 2>&1 &
    pids="$pids $!"
done
for p in $pids; do
    rc=0
    wait "$p" || rc=$?
    expect_rc 0 "$rc" "agent $p"
done
done_total=$(cat "$tmp"/agent?.out | grep -c '^trial [0-9]* completed after [0-9.]* s: score ' || true)
[ "$done_total" -eq 12 ] || fail "agents ran $done_total trials, expected 12"
ids=$(cat "$tmp"/agent?.out | sed -n 's/^trial \([0-9]*\) completed after .*/\1/p' | sort -n | uniq | wc -l)
[ "$ids" -eq 12 ] || fail "agents ran $ids distinct trials, expected 12"
grep -q 'budget used' "$tmp/agent1.out" || fail "agent does not say the budget is used"
[ "$(rcli hget "protein:{$U/clitest}:meta" n_trials)" = 12 ] || fail "n_trials in Redis is not 12"

# ------------------------------------------------------------ a budget raised
sweep_yaml more 2
"$PROTEIN" create "$tmp/more.yaml" >/dev/null || fail "create more"
"$PROTEIN" agent more -- "$OBJECTIVE" >"$tmp/more1.out" 2>&1 || fail "agent on more"
"$PROTEIN" budget more +3 >"$tmp/budget.out" || fail "budget +3: $(cat "$tmp/budget.out")"
grep -q "^sweep $U/more: budget 5 trials, 2 used: 3 more to hand out$" "$tmp/budget.out" ||
    fail "budget +3 says: $(cat "$tmp/budget.out")"
"$PROTEIN" agent more -- "$OBJECTIVE" >"$tmp/more2.out" 2>&1 || fail "agent after a raise"
[ "$(grep -c '^trial [0-9]* completed after [0-9.]* s: score ' "$tmp/more2.out")" -eq 3 ] ||
    fail "the agent ran other than the 3 trials of the raise: $(cat "$tmp/more2.out")"
"$PROTEIN" status more | grep -q '^budget: 5 of 5 trials' || fail "status after a raise"
# the trials past the old budget took fresh fallback points (no proteind
# here), not the pool's 2 points again
[ "$("$PROTEIN" trials more --format csv | tail -n +2 | cut -d, -f5-7 | sort -u | wc -l)" -eq 5 ] ||
    fail "a trial of the raise repeats a point: $("$PROTEIN" trials more --format csv)"
"$PROTEIN" budget more 4 >"$tmp/budget.out" || fail "budget 4"
grep -q "budget 4 trials, 5 used: it hands out no new trials" "$tmp/budget.out" ||
    fail "budget lowered says: $(cat "$tmp/budget.out")"
for bad in 0 +0 -3 x 1e3 ++3 "+ 3"; do
    rc=0
    "$PROTEIN" budget more -- "$bad" >"$tmp/budget.out" 2>&1 || rc=$?
    expect_rc 2 "$rc" "budget $bad"
done
# the message names what was refused: a budget, or an increase of it
"$PROTEIN" budget more -- +0 2>&1 | grep -q "the budget's increase (+N): '0' is not an integer in \[1, " ||
    fail "budget +0 says: $("$PROTEIN" budget more -- +0 2>&1)"
"$PROTEIN" budget more -- 0 2>&1 | grep -q "the budget: '0' is not an integer in \[1, " ||
    fail "budget 0 says: $("$PROTEIN" budget more -- 0 2>&1)"
for bad in +-3 -0 +x; do
    rcli FCALL protein_set_budget 1 "protein:{$U/more}:meta" "$bad" 0 2>&1 | grep -q EINVAL ||
        fail "protein_set_budget takes $bad"
done
[ "$(rcli hget "protein:{$U/more}:meta" max_trials)" = 4 ] || fail "a refused budget changed the sweep"
"$PROTEIN" delete more --yes >/dev/null || fail "delete more"

# agent outcomes: exit 3 -> failed with status 3; no score -> failed "no
# result"; killed by a signal -> interrupted; the agent goes on after each
sweep_yaml outcomes 3
"$PROTEIN" create --shared --lease 90 --max-retries 2 "$tmp/outcomes.yaml" >/dev/null ||
    fail "create outcomes"
[ "$(rcli hget "protein:{$U/outcomes}:meta" shared)" = 1 ] || fail "create --shared not stored"
[ "$(rcli hget "protein:{$U/outcomes}:meta" lease_seconds)" = 90 ] || fail "create --lease not stored"
[ "$(rcli hget "protein:{$U/outcomes}:meta" max_retries)" = 2 ] || fail "create --max-retries not stored"
rc=0
"$PROTEIN" create --lease 0 "$tmp/outcomes.yaml" >/dev/null 2>&1 || rc=$?
expect_rc 2 "$rc" "create --lease 0"
printf '%s\n' '#!/bin/sh' 'case $PROTEIN_TRIAL in' '1) exit 3 ;;' \
    '2) echo "loss=1" >>"$PROTEIN_RESULT" ;;' '*) kill -KILL $$ ;;' 'esac' \
    >"$tmp/mixed.sh"
chmod +x "$tmp/mixed.sh"
rc=0
"$PROTEIN" agent outcomes -- "$tmp/mixed.sh" >"$tmp/mixed.out" 2>&1 || rc=$?
expect_rc 0 "$rc" "agent with failing trials"
grep -q '^trial 1 failed after [0-9.]* s: exit status 3$' "$tmp/mixed.out" ||
    fail "agent output for exit 3: $(cat "$tmp/mixed.out")"
grep -q "^trial 2 failed after [0-9.]* s: no result: no 'score=' line in \$PROTEIN_RESULT (it has 'loss=': is the metric misnamed?)" "$tmp/mixed.out" ||
    fail "agent output for no score (naming the key it found): $(cat "$tmp/mixed.out")"
grep -q '^trial 3 failed after [0-9.]* s: killed by signal 9 (Killed); recorded as interrupted$' "$tmp/mixed.out" ||
    fail "agent output for a killed trial"
[ "$(rcli hget "protein:{$U/outcomes}:trial:1" status)" = failed ] || fail "exit 3 not failed"
[ "$(rcli hget "protein:{$U/outcomes}:trial:1" exit_status)" = 3 ] || fail "exit status 3 not stored"
[ "$(rcli hget "protein:{$U/outcomes}:trial:2" status)" = failed ] || fail "no score not failed"
rcli hget "protein:{$U/outcomes}:trial:2" error | grep -q 'no result' ||
    fail "no-result error not stored"
[ "$(rcli hget "protein:{$U/outcomes}:trial:3" status)" = interrupted ] ||
    fail "killed trial not interrupted"

# times that are no dates (a damaged store) are shown as such: no crash,
# no garbage date
rcli hset "protein:{$U/outcomes}:trial:1" started_at 1e300 ended_at inf >/dev/null
rcli hset "protein:{$U/outcomes}:meta" refit_at 1e300 >/dev/null
"$PROTEIN" show outcomes 1 >"$tmp/nodate.out" 2>&1 ||
    fail "show with damaged times: $(cat "$tmp/nodate.out")"
grep -q '^started      1e+300 (not a date)$' "$tmp/nodate.out" ||
    fail "show of started_at 1e300: $(cat "$tmp/nodate.out")"
grep -q '^ended        inf (not a date)$' "$tmp/nodate.out" ||
    fail "show of ended_at inf: $(cat "$tmp/nodate.out")"
"$PROTEIN" status outcomes >"$tmp/nodate-status.out" 2>&1 ||
    fail "status with a damaged refit time: $(cat "$tmp/nodate-status.out")"
grep -q '^last refit: 1e+300 (not a date), ' "$tmp/nodate-status.out" ||
    fail "status of refit_at 1e300: $(cat "$tmp/nodate-status.out")"
# a refit with nothing to fit (warm-up points queued) says so, not "0
# observations, 0.0 ms"
rcli hset "protein:{$U/outcomes}:meta" refit_at "$(date +%s)" refit_n 0 refit_ms 0 \
    refit_backend cpu >/dev/null
"$PROTEIN" status outcomes | grep -q '^last refit: .*, no observations yet (warm-up points)$' ||
    fail "status of a refit with no observations: $("$PROTEIN" status outcomes)"
rcli hset "protein:{$U/outcomes}:meta" refit_n 3 refit_ms 2.5 >/dev/null
"$PROTEIN" status outcomes | grep -q '^last refit: .*, 3 observations, 2.5 ms, cpu$' ||
    fail "status of a refit of 3 observations: $("$PROTEIN" status outcomes)"

# with no point to hand out (no coordinator, the fallback pool gone) the
# agent says why it waits, once, instead of waiting without a word
sweep_yaml nopoint 3
"$PROTEIN" create "$tmp/nopoint.yaml" >/dev/null || fail "create nopoint"
rcli del "protein:{$U/nopoint}:fallback" >/dev/null
rc=0
timeout 3 "$PROTEIN" agent nopoint -- "$OBJECTIVE" >"$tmp/nopoint.out" 2>"$tmp/nopoint.err" || rc=$?
expect_rc 124 "$rc" "agent with no point to run"
[ "$(grep -c "^protein agent: sweep $U/nopoint: no trial to run yet (.*no usable fallback point); waiting" "$tmp/nopoint.err")" -eq 1 ] ||
    fail "agent does not say once why it waits: $(cat "$tmp/nopoint.err")"
"$PROTEIN" delete --yes nopoint >/dev/null || fail "delete nopoint"

# an agent's trial without a usable cost (none, zero, nan) costs 1, as
# under protein run and Slurm: stored, listed, exported and on the front
sweep_yaml nocost 3
"$PROTEIN" create "$tmp/nocost.yaml" >/dev/null || fail "create nocost"
printf '%s\n' '#!/bin/sh' 'case $PROTEIN_TRIAL in' \
    '1) echo "score=0.75" >>"$PROTEIN_RESULT" ;;' \
    '2) printf "score=0.5\ncost=0\n" >>"$PROTEIN_RESULT" ;;' \
    '*) printf "score=0.25\ncost=nan\n" >>"$PROTEIN_RESULT" ;;' 'esac' \
    >"$tmp/nocost.sh"
chmod +x "$tmp/nocost.sh"
"$PROTEIN" agent nocost -- "$tmp/nocost.sh" >"$tmp/nocost.out" 2>&1 ||
    fail "agent nocost: $(cat "$tmp/nocost.out")"
for i in 1 2 3; do
    [ "$(rcli hget "protein:{$U/nocost}:trial:$i" cost)" = 1 ] ||
        fail "trial $i without a usable cost: cost '$(rcli hget "protein:{$U/nocost}:trial:$i" cost)', not 1"
done
"$PROTEIN" trials nocost --format csv >"$tmp/nocost.csv" || fail "trials nocost"
[ "$(tail -n +2 "$tmp/nocost.csv" | cut -d, -f4 | sort -u)" = 1 ] ||
    fail "trials CSV costs: $(cat "$tmp/nocost.csv")"
[ "$("$PROTEIN" export nocost | grep -c '"cost": 1,')" -eq 3 ] ||
    fail "export costs: $("$PROTEIN" export nocost)"
"$PROTEIN" best nocost >"$tmp/nocost-best.out" || fail "best nocost"
sed -n '/^Pareto/,$p' "$tmp/nocost-best.out" | grep -q '^ *1  completed ' ||
    fail "trial 1 is not on the Pareto front: $(cat "$tmp/nocost-best.out")"

# ------------------------------------------------------------ reading trials
"$PROTEIN" status clitest | grep -q 'fallback pool: 12 of 12 points handed out$' ||
    fail "status after 12 trials from the pool: $("$PROTEIN" status clitest)"
"$PROTEIN" trials clitest >"$tmp/trials.out" || fail "trials"
[ "$(grep -c ' completed ' "$tmp/trials.out")" -eq 12 ] || fail "trials table"
# all 12 came from the fallback pool (no coordinator ran): the table says so
[ "$(grep -c '  (fallback point)$' "$tmp/trials.out")" -eq 12 ] ||
    fail "the trials table does not mark fallback points: $(cat "$tmp/trials.out")"
"$PROTEIN" trials clitest --status completed --format csv >"$tmp/trials.csv" || fail "trials csv"
head -n 1 "$tmp/trials.csv" | grep -q '^trial,status,score,cost,lr,x,layers,optimizer,job_id,node,error$' ||
    fail "trials CSV header"
[ "$(wc -l <"$tmp/trials.csv")" -eq 13 ] || fail "trials CSV rows"
"$PROTEIN" trials clitest --state failed --format csv | wc -l | grep -q '^1$' ||
    fail "--state (the old name of --status) failed should list nothing"
# the header is the sweep's, whichever trials match (here none)
[ "$("$PROTEIN" trials clitest --status failed --format csv)" = \
    trial,status,score,cost,lr,x,layers,optimizer,job_id,node,error ] ||
    fail "trials CSV header without rows: $("$PROTEIN" trials clitest --status failed --format csv)"
# control characters a job wrote (its node, from its own environment)
# never reach the terminal: protein show and the CSV print '?' for them
rcli hset "protein:{$U/clitest}:trial:1" node "$(printf 'n1\033]0;pwn\007\033[2J')" >/dev/null
"$PROTEIN" show clitest 1 >"$tmp/esc-show.out" || fail "show with an escape in node"
"$PROTEIN" trials clitest --format csv >"$tmp/esc.csv" || fail "csv with an escape in node"
if grep -q "$(printf '\033')" "$tmp/esc-show.out" "$tmp/esc.csv"; then
    fail "an escape sequence from Redis reached the output"
fi
grep -q '^node  *n1?]0;pwn??\[2J$' "$tmp/esc-show.out" ||
    fail "show's node: $(grep node "$tmp/esc-show.out" | od -c | head -3)"
"$PROTEIN" trials clitest --format json >"$tmp/trials.json" || fail "trials json"
head -c 1 "$tmp/trials.json" | grep -q '\[' || fail "trials JSON is not an array"
[ "$(grep -o '"trial": [0-9]*' "$tmp/trials.json" | wc -l)" -eq 12 ] || fail "trials JSON entries"
rc=0
"$PROTEIN" trials clitest --format xml >/dev/null 2>&1 || rc=$?
expect_rc 2 "$rc" "trials --format xml"
rc=0
"$PROTEIN" trials clitest --status sleeping >/dev/null 2>"$tmp/sleeping.err" || rc=$?
expect_rc 2 "$rc" "trials --status sleeping"
grep -q "unknown status 'sleeping'; write queued, running, completed, failed, interrupted, lost or pruned" \
    "$tmp/sleeping.err" || fail "trials --status does not list the statuses: $(cat "$tmp/sleeping.err")"

"$PROTEIN" show clitest 1 >"$tmp/show.out" || fail "show"
grep -q '^status  *completed' "$tmp/show.out" || fail "show status"
grep -q '^param  *layers = [1-8]$' "$tmp/show.out" || fail "show params"
grep -q '^claim key ' "$tmp/show.out" || fail "show claim key"
rc=0
"$PROTEIN" show clitest 99 >"$tmp/show99.out" 2>&1 || rc=$?
expect_rc 1 "$rc" "show of a missing trial"
grep -q 'has no trial 99' "$tmp/show99.out" || fail "missing trial message"
# trials are numbered from 1: 0 is a usage error
rc=0
"$PROTEIN" show clitest 0 >/dev/null 2>"$tmp/show0.err" || rc=$?
expect_rc 2 "$rc" "show of trial 0"
grep -q "TRIAL: '0' is not an integer in \[1, " "$tmp/show0.err" || fail "show 0: $(cat "$tmp/show0.err")"
# a missing argument is named, as the synopsis names it
for args in "show clitest:TRIAL" "budget clitest:N or +N" "status:"; do
    cmd=${args%%:*} named=${args#*:}
    rc=0
    # shellcheck disable=SC2086 # the verb and its arguments, split
    "$PROTEIN" $cmd >/dev/null 2>"$tmp/missing.err" || rc=$?
    expect_rc 2 "$rc" "$cmd with an argument missing"
    want="expected one sweep NAME"
    [ -z "$named" ] || want="expected sweep NAME and $named"
    grep -q "^protein ${cmd%% *}: $want\$" "$tmp/missing.err" ||
        fail "$cmd: the missing argument not named: $(cat "$tmp/missing.err")"
done

"$PROTEIN" best clitest --top 3 >"$tmp/best.out" || fail "best"
[ "$(sed -n '/^best/,/^$/p' "$tmp/best.out" | grep -c '^ *[0-9][0-9]*  completed ')" -eq 3 ] ||
    fail "best --top 3 does not show 3 trials"
grep -q '^Pareto front' "$tmp/best.out" || fail "best shows no Pareto front"
[ "$(sed -n '/^Pareto/,$p' "$tmp/best.out" | grep -c '^ *[0-9][0-9]*  completed ')" -ge 1 ] ||
    fail "empty Pareto front"
# the best trial has the highest score of the CSV
top=$(tail -n +2 "$tmp/trials.csv" | sort -t, -k3 -g -r | head -n 1 | cut -d, -f1)
sed -n '/^best/,/^$/p' "$tmp/best.out" | sed -n 3p | grep -q "^ *$top " ||
    fail "best trial is not trial $top"

"$PROTEIN" export clitest >"$tmp/export.jsonl" || fail "export"
[ "$(wc -l <"$tmp/export.jsonl")" -eq 12 ] || fail "export lines"
[ "$(grep -c '^{"trial": [0-9]*, "status": "completed", "score": ' "$tmp/export.jsonl")" -eq 12 ] ||
    fail "export lines are not trial objects"
# a time never set is null, not 0 (1970): an outcome that was not late
[ "$(grep -c '"late_key": null, "late_expired_at": null,' "$tmp/export.jsonl")" -eq 12 ] &&
    ! grep -q '_at": 0\.000' "$tmp/export.jsonl" ||
    fail "export writes a time never set as 0: $(head -n 1 "$tmp/export.jsonl")"

"$PROTEIN" plot clitest --out "$tmp/plot.svg" >/dev/null || fail "plot"
grep -q '^<svg ' "$tmp/plot.svg" || fail "plot is not SVG"
grep -q 'class="best"' "$tmp/plot.svg" || fail "plot has no best-so-far line"
[ "$(grep -c '<circle ' "$tmp/plot.svg")" -eq 24 ] || fail "plot does not show 12 points per panel"
grep -q '</svg>' "$tmp/plot.svg" || fail "plot is not complete"

# ------------------------------------------------------------ report
rc=0
"$PROTEIN" report score=1 >/dev/null 2>&1 || rc=$?
expect_rc 1 "$rc" "report without PROTEIN_RESULT"
rc=0
PROTEIN_RESULT=$tmp/r.txt "$PROTEIN" report novalue >/dev/null 2>&1 || rc=$?
expect_rc 2 "$rc" "report with a bad argument"
[ ! -e "$tmp/r.txt" ] || fail "a bad report wrote the result file"
PROTEIN_RESULT=$tmp/r.txt "$PROTEIN" report step=1 score=0.5 2>"$tmp/r.err" || fail "report"
[ ! -s "$tmp/r.err" ] || fail "report of numbers warned: $(cat "$tmp/r.err")"
# a metric, cost or step value the result's reader takes as no value is
# written all the same (score=nan: a run that diverged), with a warning;
# other keys may hold text
rm -f "$tmp/rtext.txt"
PROTEIN_RESULT=$tmp/rtext.txt PROTEIN_METRIC_KEY=loss "$PROTEIN" report \
    step=2 loss=0,5 cost=0x10 note=hello >/dev/null 2>"$tmp/rtext.err" ||
    fail "report of a value that is no number: $(cat "$tmp/rtext.err")"
[ "$(tr '\n' ' ' <"$tmp/rtext.txt")" = "step=2 cost=0x10 loss=0,5 note=hello " ] ||
    fail "report of text values: $(cat "$tmp/rtext.txt")"
grep -q "^protein report: loss=0,5: not a finite decimal number (such as 0.91 or -2.5e-3), so the trial reads this loss= line as no value$" \
    "$tmp/rtext.err" && grep -q "^protein report: cost=0x10: not a finite decimal number" "$tmp/rtext.err" &&
    [ "$(wc -l <"$tmp/rtext.err")" -eq 2 ] ||
    fail "report does not warn about values that are no number: $(cat "$tmp/rtext.err")"
# step= first, then cost=, then the rest as given: protein run reads a
# report's cost only between its step= and metric lines
PROTEIN_RESULT=$tmp/r.txt "$PROTEIN" report x=1 score=0.75 cost=2 step=2 x=3 ||
    fail "report 2"
[ "$(cat "$tmp/r.txt" | tr '\n' ' ')" = \
  "step=1 score=0.5 step=2 cost=2 x=1 score=0.75 x=3 " ] ||
    fail "report lines: $(cat "$tmp/r.txt")"
# a key as a config's metric may be (W&B's "val mAP"), not one with a
# space at its end or an '='-less word
PROTEIN_RESULT=$tmp/r2.txt "$PROTEIN" report step=1 "val mAP=0.71" ||
    fail "report of a key with an inner space"
[ "$(cat "$tmp/r2.txt" | tr '\n' ' ')" = "step=1 val mAP=0.71 " ] ||
    fail "report of a key with an inner space: $(cat "$tmp/r2.txt")"
rc=0
PROTEIN_RESULT=$tmp/r2.txt "$PROTEIN" report "val =1" >/dev/null 2>"$tmp/report.err" || rc=$?
expect_rc 2 "$rc" "report of a key ending in a space"
grep -q "no space at either end" "$tmp/report.err" ||
    fail "report does not name the rule a key ending in a space breaks: $(cat "$tmp/report.err")"

# an agent whose COMMAND fails at once stops after 3 trials (exit 1,
# saying why), as wandb agent does, not after the budget
sweep_yaml broken 20
"$PROTEIN" create "$tmp/broken.yaml" >/dev/null 2>&1 || fail "create broken"
rc=0
"$PROTEIN" agent broken -- sh -c 'exit 2' >"$tmp/broken-agent.out" 2>&1 || rc=$?
expect_rc 1 "$rc" "agent with a broken COMMAND ($(cat "$tmp/broken-agent.out"))"
grep -q "^protein agent: the first 3 trials failed within 60 s of the start and none completed (the last: exit status 2)" \
    "$tmp/broken-agent.out" || fail "agent does not say why it stopped: $(cat "$tmp/broken-agent.out")"
[ "$(rcli hget "protein:{$U/broken}:meta" n_trials)" = 3 ] ||
    fail "a broken agent claimed $(rcli hget "protein:{$U/broken}:meta" n_trials) trials, not 3"
"$PROTEIN" delete --yes "$U/broken" >/dev/null 2>&1 || fail "delete broken"

# an agent without COMMAND for a sweep whose config has no program: a
# usage error (exit 2), as protein run's
rc=0
"$PROTEIN" agent clitest --count 1 >/dev/null 2>"$tmp/noprog-agent.err" || rc=$?
expect_rc 2 "$rc" "agent without COMMAND for a config without a program"
grep -q "sweep $U/clitest has no program: or command: to run; give one after '--'" \
    "$tmp/noprog-agent.err" || fail "agent without a program: $(cat "$tmp/noprog-agent.err")"

# an agent without COMMAND for a sweep whose W&B program is not in the
# agent's directory claims nothing (exit 2), as protein run
before=$("$PROTEIN" export withprog | wc -l)
rc=0
mkdir -p "$tmp/python-bin"
ln -sf "$(command -v true)" "$tmp/python-bin/python" # a python in PATH
(cd "$tmp" && PATH=$tmp/python-bin:$PATH "$PROTEIN" agent withprog --count 1) \
    >/dev/null 2>"$tmp/noprogfile-agent.err" || rc=$?
expect_rc 2 "$rc" "agent for a W&B program that is not in its directory"
grep -qF "protein agent: $U/withprog: its program 'train.py' is not a file in $tmp; no trial was run" \
    "$tmp/noprogfile-agent.err" || fail "agent, program not here: $(cat "$tmp/noprogfile-agent.err")"
[ "$("$PROTEIN" export withprog | wc -l)" = "$before" ] ||
    fail "an agent whose program is missing claimed a trial"

# an agent given a COMMAND that cannot be run claims nothing (exit 2)
before=$("$PROTEIN" export clitest | wc -l)
rc=0
"$PROTEIN" agent clitest --count 1 -- "$tmp/no-such-trial.sh" >/dev/null \
    2>"$tmp/nocmd-agent.err" || rc=$?
expect_rc 2 "$rc" "agent with a COMMAND that cannot be run"
grep -qF "cannot run the COMMAND '$tmp/no-such-trial.sh'" "$tmp/nocmd-agent.err" ||
    fail "agent with a missing COMMAND: $(cat "$tmp/nocmd-agent.err")"
[ "$("$PROTEIN" export clitest | wc -l)" = "$before" ] ||
    fail "agent with a missing COMMAND claimed a trial"

# progress from inside a trial, and the stop-early answer (exit status 3)
sweep_yaml rep 2
"$PROTEIN" create "$tmp/rep.yaml" >/dev/null || fail "create rep"
cat >"$tmp/reporter.sh" <<EOF
#!/bin/sh
"$PROTEIN" report step=1 score=0.25
echo "first \$?" >>"$tmp/report.rc"
redis-cli -p $REDIS_PORT hset "protein:{$U/rep}:trial:\$PROTEIN_TRIAL" stop_requested 1 >/dev/null
"$PROTEIN" report step=2 score=0.5
echo "second \$?" >>"$tmp/report.rc"
EOF
chmod +x "$tmp/reporter.sh"
"$PROTEIN" agent rep --count 1 -- "$tmp/reporter.sh" >"$tmp/rep.out" 2>&1 || fail "agent rep"
grep -q '^first 0$' "$tmp/report.rc" || fail "report in a trial did not exit 0"
grep -q '^second 3$' "$tmp/report.rc" || fail "report did not exit 3 after a stop request"
"$PROTEIN" show rep 1 >"$tmp/rep-show.out" || fail "show rep"
grep -q '^progress  *step 2, score 0.5 (2 reports)$' "$tmp/rep-show.out" || fail "progress not stored"

# a run whose lease merely expired goes on (its late outcome is still
# recorded); the retry's run, once that late outcome ended its point, is
# told to stop (exit status 3), its report not recorded
sweep_yaml late 2
"$PROTEIN" create --lease 1 --max-retries 1 "$tmp/late.yaml" >/dev/null || fail "create late"
LM="protein:{$U/late}:meta"
ta=0123456789abcdef0123456789abcdef tb=fedcba9876543210fedcba9876543210
rcli FCALL protein_claim 1 "$LM" suspended "$(id -u)" 1 0 node 1 1 $ta "$U" >/dev/null
# late_report TOKEN: `protein report` of trial 1 as the claim of TOKEN
late_report() {
    PROTEIN_SWEEP=$U/late PROTEIN_TRIAL=1 PROTEIN_TOKEN=$1 \
        PROTEIN_RESULT=$tmp/late.txt "$PROTEIN" report step=1 score=0.5 2>"$tmp/late.err"
}
lease_over() { [ "$(rcli FCALL protein_expire 1 "$LM")" = 1 ]; }
wait_for lease_over
[ "$(rcli hget "protein:{$U/late}:trial:1" status)" = queued ] || fail "late: trial 1 not queued"
rc=0
late_report $ta || rc=$?
expect_rc 0 $rc "report of a trial whose lease expired ($(cat "$tmp/late.err"))"
rcli FCALL protein_claim 1 "$LM" retry "$(id -u)" 2 0 node 60 1 $tb "$U" >/dev/null
[ "$(rcli hget "protein:{$U/late}:trial:1" claim_key)" = retry ] || fail "late: no retry of trial 1"
rc=0
late_report $tb || rc=$?
expect_rc 0 $rc "report of the retry ($(cat "$tmp/late.err"))"
rc=0
late_report $ta || rc=$?
expect_rc 0 $rc "report of the expired claim while the retry runs ($(cat "$tmp/late.err"))"
rcli FCALL protein_complete 1 "$LM" 1 $ta 0.75 '' >/dev/null
[ "$(rcli hget "protein:{$U/late}:trial:1" late_key)" = suspended ] || fail "late outcome not recorded"
"$PROTEIN" export late | grep -q '"late_key": "suspended", "late_expired_at": [0-9][0-9]*\.[0-9]*,' ||
    fail "export of a late outcome: $("$PROTEIN" export late)"
rc=0
late_report $tb || rc=$?
expect_rc 3 $rc "report of the retry after the late outcome"
grep -q "protein report: trial 1 already has its outcome from another claim" "$tmp/late.err" ||
    fail "report does not say why the retry should stop: $(cat "$tmp/late.err")"
[ "$(rcli hget "protein:{$U/late}:trial:1" progress_n)" = 1 ] ||
    fail "the retry's report after the late outcome was recorded"

# an agent stopped by SIGTERM: the child is killed, the trial interrupted
sweep_yaml sig 3
"$PROTEIN" create "$tmp/sig.yaml" >/dev/null || fail "create sig"
cat >"$tmp/sleeper.sh" <<EOF
#!/bin/sh
echo \$\$ >"$tmp/sleeper.pid"
sleep 30
EOF
chmod +x "$tmp/sleeper.sh"
# start_sleeper NAME: an agent of sweep NAME in the background (agent_pid)
# running sleeper.sh; returns once its trial runs.
start_sleeper() {
    rm -f "$tmp/sleeper.pid"
    "$PROTEIN" agent "$1" -- "$tmp/sleeper.sh" >"$tmp/$1.out" 2>&1 &
    agent_pid=$!
    wait_for test -s "$tmp/sleeper.pid"
}
start_sleeper sig
kill -TERM $agent_pid
rc=0
wait $agent_pid || rc=$?
expect_rc 130 "$rc" "agent after SIGTERM"
! kill -0 "$(cat "$tmp/sleeper.pid")" 2>/dev/null || fail "the trial survived the agent"
"$PROTEIN" show sig 1 | grep -q '^status  *interrupted' || fail "trial not interrupted"

# cancel outside Slurm (no scancel on PATH): the sweep stops and the
# running trial is reported as left alone (tests/e2e cancels real jobs)
sweep_yaml cx 3
"$PROTEIN" create "$tmp/cx.yaml" >/dev/null || fail "create cx"
start_sleeper cx
PATH=/nonexistent "$PROTEIN" cancel cx >"$tmp/cancel-cx.out" 2>&1 || fail "cancel cx"
grep -q '^1 trial running or interrupted; scancel is not on PATH' "$tmp/cancel-cx.out" ||
    fail "cancel output: $(cat "$tmp/cancel-cx.out")"
[ "$("$PROTEIN" status cx | head -n 1)" = "sweep $U/cx: stopped" ] || fail "cancel did not stop"
kill -TERM $agent_pid
wait $agent_pid || true

# a job id written by hand into a running trial never reaches scancel's
# command line (it would be an option there: --user=...), a real one does,
# after "--"
mkdir -p "$tmp/fakebin"
cat >"$tmp/fakebin/scancel" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$tmp/scancel.args"
EOF
chmod +x "$tmp/fakebin/scancel"
for jid in '--user=someone' '4242_7'; do
    name=cj$(echo "$jid" | tr -dc 0-9)
    sweep_yaml "$name" 3
    "$PROTEIN" create "$tmp/$name.yaml" >/dev/null || fail "create $name"
    start_sleeper "$name"
    rcli hset "protein:{$U/$name}:trial:1" job_id "$jid" >/dev/null
    rm -f "$tmp/scancel.args"
    PATH=$tmp/fakebin:$PATH "$PROTEIN" cancel "$name" >"$tmp/$name-cancel.out" 2>&1 ||
        fail "cancel $name: $(cat "$tmp/$name-cancel.out")"
    kill -TERM $agent_pid
    wait $agent_pid || true
done
grep -q "1 running or interrupted trials have a job id that is not a Slurm job id; not passed to scancel" \
    "$tmp/cj-cancel.out" && grep -q '^scancel sent for 0 of 1 running or interrupted trials' "$tmp/cj-cancel.out" ||
    fail "a forged job id: $(cat "$tmp/cj-cancel.out")"
[ "$(cat "$tmp/scancel.args")" = "-- 4242_7" ] ||
    fail "scancel's arguments for a real job id: $(cat "$tmp/scancel.args" 2>&1)"

# an interrupted trial's job may be pending, requeued (preemption, scontrol
# requeue), and would resume the trial in the stopped sweep: cancel
# scancels it too
sweep_yaml ci 3
"$PROTEIN" create "$tmp/ci.yaml" >/dev/null || fail "create ci"
start_sleeper ci
kill -TERM $agent_pid
wait $agent_pid || true
"$PROTEIN" show ci 1 | grep -q '^status  *interrupted' || fail "ci: trial not interrupted"
rcli hset "protein:{$U/ci}:trial:1" job_id 4343_1 >/dev/null
rm -f "$tmp/scancel.args"
PATH=$tmp/fakebin:$PATH "$PROTEIN" cancel ci >"$tmp/ci-cancel.out" 2>&1 ||
    fail "cancel ci: $(cat "$tmp/ci-cancel.out")"
grep -q '^scancel sent for 1 of 1 running or interrupted trials' "$tmp/ci-cancel.out" &&
    [ "$(cat "$tmp/scancel.args" 2>&1)" = "-- 4343_1" ] ||
    fail "cancel of an interrupted trial's job: $(cat "$tmp/ci-cancel.out") / $(cat "$tmp/scancel.args" 2>&1)"

# more claims given back (released) than one stop ends (1000): stop and
# cancel stop again until none stays queued, ending each as interrupted
# for its job's requeue, and cancel scancels every one of those jobs, not
# the first 1000
# released_many NAME: sweep NAME with 1001 trials released, jobs 600_N
released_many() {
    sweep_yaml "$1" 1001
    "$PROTEIN" create "$tmp/$1.yaml" >/dev/null || fail "create $1"
    MM="protein:{$U/$1}:meta"
    # (all claimed first: a claim takes a trial queued for a retry first)
    for verb in claim release; do
        i=0
        while [ $i -lt 1001 ]; do
            if [ $verb = claim ]; then
                printf 'FCALL protein_claim 1 %s k%d %d 600_%d %d node 600 1 %032x %s\n' \
                    "$MM" $i "$(id -u)" $i $i $i "$U"
            else
                printf 'FCALL protein_release 1 %s k%d gone\n' "$MM" $i
            fi
            i=$((i + 1))
        done
    done | rcli >/dev/null
    [ "$(rcli llen "protein:{$U/$1}:retry")" = 1001 ] || fail "$1: not 1001 trials queued"
}
for verb in stop cancel; do
    released_many "many$verb"
    rm -f "$tmp/scancel.args"
    PATH=$tmp/fakebin:$PATH "$PROTEIN" $verb "many$verb" >"$tmp/many-$verb.out" 2>&1 ||
        fail "$verb many$verb: $(cat "$tmp/many-$verb.out")"
    [ "$(rcli llen "protein:{$U/many$verb}:retry")" = 0 ] &&
        [ "$(rcli hget "$MM" n_interrupted)" = 1001 ] ||
        fail "$verb left trials queued: $(rcli llen "protein:{$U/many$verb}:retry") queued, $(rcli hget "$MM" n_interrupted) interrupted"
done
grep -q '^scancel sent for 1001 of 1001 running or interrupted trials' "$tmp/many-cancel.out" &&
    grep -q ' 600_1000$' "$tmp/scancel.args" ||
    fail "cancel of 1001 released trials: $(cat "$tmp/many-cancel.out")"

# ------------------------------------------------------------ control
"$PROTEIN" pause rep >/dev/null || fail "pause"
[ "$("$PROTEIN" status rep | head -n 1)" = "sweep $U/rep: paused" ] || fail "status after pause"
"$PROTEIN" agent rep -- "$OBJECTIVE" >"$tmp/paused.out" 2>&1 || fail "agent on a paused sweep"
grep -q "^sweep '$U/rep' is paused; 0 trials ran here" "$tmp/paused.out" ||
    fail "agent on a paused sweep: not told it is paused: $(cat "$tmp/paused.out")"
[ "$(rcli hget "protein:{$U/rep}:meta" n_trials)" = 1 ] || fail "a paused sweep handed out a trial"
"$PROTEIN" resume rep >/dev/null || fail "resume"
"$PROTEIN" cancel rep >"$tmp/cancel.out" || fail "cancel"
grep -q 'stopped' "$tmp/cancel.out" || fail "cancel output"
[ "$("$PROTEIN" status rep | head -n 1)" = "sweep $U/rep: stopped" ] || fail "status after cancel"
rc=0
"$PROTEIN" resume rep >/dev/null 2>"$tmp/resume-stopped.err" || rc=$?
expect_rc 1 "$rc" "resume after stop"
grep -q "^protein resume: sweep $U/rep is stopped for good: create a new sweep (protein create CONFIG --name NEW)\$" \
    "$tmp/resume-stopped.err" || fail "resume after stop: $(cat "$tmp/resume-stopped.err")"
rc=0
"$PROTEIN" pause nosuch >/dev/null 2>&1 || rc=$?
expect_rc 1 "$rc" "pause of an unknown sweep"

# ------------------------------------------------------------ delete
rc=0
"$PROTEIN" delete clitest </dev/null >/dev/null 2>&1 || rc=$?
expect_rc 2 "$rc" "delete without --yes"
[ "$(rcli exists "protein:{$U/clitest}:meta")" -eq 1 ] || fail "delete without --yes deleted"
"$PROTEIN" delete clitest --yes >/dev/null || fail "delete --yes"
[ -z "$(rcli --scan --pattern "protein:{$U/clitest}*")" ] || fail "keys left after delete"
"$PROTEIN" list | grep -q '^clitest ' && fail "deleted sweep still listed"

# a sweep whose meta is damaged: trials still lists what it can, delete
# works, and no message is a raw server or Lua error
rcli hset "protein:{$U/rep}:meta" n_trials 1e11 state '???' owner_uid x >/dev/null
rcli hset "protein:{$U/rep}:trial:1" params '{"lr":' >/dev/null
"$PROTEIN" trials rep >"$tmp/dmg.out" 2>&1
! grep -q 'user_function\|^ERR\|WRONGTYPE\|@user_script' "$tmp/dmg.out" ||
    fail "raw server error shown for a damaged sweep: $(cat "$tmp/dmg.out")"
"$PROTEIN" delete rep --yes >"$tmp/dmg-delete.out" 2>&1 ||
    fail "delete of a damaged sweep: $(cat "$tmp/dmg-delete.out")"
[ -z "$(rcli --scan --pattern "protein:{$U/rep}*")" ] || fail "keys left after deleting a damaged sweep"
# ... and when its meta is not even a hash (the message says delete works)
"$PROTEIN" create --name wt "$tmp/clitest.yaml" >/dev/null || fail "create wt"
rcli del "protein:{$U/wt}:meta" >/dev/null
rcli set "protein:{$U/wt}:meta" hello >/dev/null
"$PROTEIN" delete wt --yes >"$tmp/wt-delete.out" 2>&1 ||
    fail "delete of a sweep whose meta is a string: $(cat "$tmp/wt-delete.out")"
grep -q "warning: .*damaged" "$tmp/wt-delete.out" || fail "delete did not say the sweep was damaged: $(cat "$tmp/wt-delete.out")"
[ -z "$(rcli --scan --pattern "protein:{$U/wt}*")" ] || fail "keys left after deleting a sweep whose meta is a string"

# ------------------------------------------------------------ defaults first
# When every parameter has a default, the first trial runs the defaults,
# also with no coordinator (the fallback pool starts with them), and once.
def_yaml() {
    cat >"$tmp/$1.yaml" <<EOF
name: $1
metric: {name: score, goal: maximize}
max_trials: 4
parameters:
  x: {distribution: uniform, min: 0, max: 1, default: 0.3}
  o: {values: [a, b, c], default: b}
EOF
}
# trial_params SWEEP ID: the trial's params JSON as stored
trial_params() {
    rcli hget "protein:{$U/$1}:trial:$2" params
}
def_yaml def
"$PROTEIN" create "$tmp/def.yaml" >/dev/null || fail "create def"
"$PROTEIN" agent def --count 2 -- "$OBJECTIVE" >"$tmp/def-agent.out" 2>&1 ||
    fail "agent def: $(cat "$tmp/def-agent.out")"
defaults=$(trial_params def 1)
[ "$defaults" = '{"x": 0.3, "o": "b"}' ] ||
    fail "the first trial without a coordinator is not the defaults: $defaults"
[ "$(trial_params def 2)" != "$defaults" ] || fail "the defaults ran twice"

# ------------------------------------------------------------ proteind --sweep
# proteind reads a bare --sweep NAME as the running user's own sweep, as the
# CLI does, and says once that a named sweep does not exist yet.
if [ -x "$top_builddir/coordinator/proteind" ]; then
    sweep_yaml pdq 8
    "$PROTEIN" create "$tmp/pdq.yaml" >"$tmp/pdq-create.out" 2>&1 ||
        fail "create pdq: $(cat "$tmp/pdq-create.out")"
    timeout 30 "$top_builddir/coordinator/proteind" --once --sweep pdq \
        --sweep not-yet >"$tmp/proteind.out" 2>&1 ||
        fail "proteind --once: $(tail -3 "$tmp/proteind.out")"
    [ "$(rcli llen "protein:{$U/pdq}:queue")" -gt 0 ] ||
        fail "proteind --sweep pdq did not fill $U/pdq's queue: $(tail -3 "$tmp/proteind.out")"
    [ "$(grep -c "sweep $U/not-yet does not exist yet" "$tmp/proteind.out")" -eq 1 ] ||
        fail "proteind does not say once that $U/not-yet does not exist: $(cat "$tmp/proteind.out")"
    rc=0
    "$top_builddir/coordinator/proteind" --sweep 'a b' >"$tmp/pbad.out" 2>&1 || rc=$?
    expect_rc 2 "$rc" "proteind --sweep 'a b'"
    grep -q "^proteind: --sweep: 'a b' is not a valid sweep name" "$tmp/pbad.out" ||
        fail "proteind --sweep 'a b': $(cat "$tmp/pbad.out")"
    # proteind's first point of a new sweep is the defaults too: a fallback
    # claim after it passes them over
    def_yaml defq
    "$PROTEIN" create "$tmp/defq.yaml" >/dev/null || fail "create defq"
    timeout 30 "$top_builddir/coordinator/proteind" --once --sweep defq \
        >"$tmp/defq-proteind.out" 2>&1 ||
        fail "proteind --once --sweep defq: $(tail -3 "$tmp/defq-proteind.out")"
    "$PROTEIN" agent defq --count 1 -- "$OBJECTIVE" >/dev/null 2>&1 || fail "agent defq"
    [ "$(trial_params defq 1)" = "$defaults" ] ||
        fail "proteind's first point is not the defaults: $(trial_params defq 1)"
    [ "$(rcli hget "protein:{$U/defq}:trial:1" fallback)" = 0 ] ||
        fail "defq's first trial is not proteind's"
    rcli del "protein:{$U/defq}:queue" >/dev/null
    "$PROTEIN" agent defq --count 1 -- "$OBJECTIVE" >/dev/null 2>&1 || fail "agent defq 2"
    [ "$(rcli hget "protein:{$U/defq}:trial:2" fallback)" = 1 ] ||
        fail "defq's second trial is not a fallback point"
    [ "$(trial_params defq 2)" != "$defaults" ] ||
        fail "a fallback claim after proteind ran the defaults again"
fi

cli_test_finish
