#!/bin/sh
# test_agent_auth.sh - what `protein agent` hands its trials, against a
# private redis-server with a password (requirepass):
#   - its --redis URL as $PROTEIN_REDIS and its --password-file as
#     $PROTEIN_REDIS_PASSWORD_FILE (the path, never the password), so that
#     a `protein report` in COMMAND sends its progress to that Redis;
#   - the sweep's metric and cost keys as $PROTEIN_METRIC_KEY and
#     $PROTEIN_COST_KEY, by which the report is read;
#   - a password file others may read is not handed on, and the agent
#     says so;
#   - not its own authenticated Redis connection (a descriptor).
set -eu

: "${top_builddir:?run through make check}" "${top_srcdir:?run through make check}"
. "$top_srcdir/tests/common/cli_test.sh"
cli_test_init test_agent_auth
cli_test_redis
user=$(id -un)

printf 'name: auth\nmethod: random\nmax_trials: 10\nmetric: {name: loss}\ncost: {name: mycost}\nparameters:\n  x: {min: 0.0, max: 1.0}\n' \
    >"$tmp/auth.yaml"
"$PROTEIN" create "$tmp/auth.yaml" >"$tmp/create.out" 2>&1 ||
    fail "create auth: $(cat "$tmp/create.out")"

PW=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
rcli CONFIG SET requirepass "$PW" >/dev/null
(umask 077 && printf '%s\n' "$PW" >"$tmp/redis.pass")
field() {
    redis-cli -p "$REDIS_PORT" --no-auth-warning -a "$PW" \
        hget "protein:{$user/auth}:trial:$1" "$2"
}
# is GOT WANT: GOT is the number WANT
is() { awk -v got="$1" -v want="$2" 'BEGIN { exit !(got != "" && got + 0 == want) }'; }

# the trial reports, then ends with its result; what its report said on
# stderr and the variables it saw are kept
cat >"$tmp/trial.sh" <<EOS
#!/bin/sh
echo "\$PROTEIN_METRIC_KEY \$PROTEIN_COST_KEY" >"$tmp/names.\$PROTEIN_TRIAL"
env | grep -c "$PW" >"$tmp/leak.\$PROTEIN_TRIAL" || :
"$PROTEIN" report step=1 mycost=5 loss=0.3 2>"$tmp/report.\$PROTEIN_TRIAL"
printf 'loss=0.25\nmycost=9\n' >>"\$PROTEIN_RESULT"
EOS
chmod +x "$tmp/trial.sh"

# ------------------------------------------------ --redis and --password-file
# the agent's environment names a Redis nobody answers at: only --redis
# leads there, and only --password-file holds the password
PROTEIN_REDIS=redis://127.0.0.1:1 "$PROTEIN" agent auth --count 1 \
    --redis "$REDIS_URL" --password-file "$tmp/redis.pass" \
    -- "$tmp/trial.sh" >"$tmp/agent.out" 2>&1 ||
    fail "agent with --redis and --password-file: $(cat "$tmp/agent.out")"
[ ! -s "$tmp/report.1" ] ||
    fail "protein report in the agent's trial: $(cat "$tmp/report.1")"
is "$(field 1 progress_score)" 0.3 && is "$(field 1 progress_cost)" 5 ||
    fail "the trial's report did not reach Redis at cost 5: score '$(field 1 progress_score)', cost '$(field 1 progress_cost)'"
[ "$(field 1 status)" = completed ] && is "$(field 1 cost)" 9 ||
    fail "trial 1 is not completed at cost 9: $(field 1 status), $(field 1 cost)"
[ "$(cat "$tmp/names.1")" = "loss mycost" ] ||
    fail "the trial's PROTEIN_METRIC_KEY and PROTEIN_COST_KEY are '$(cat "$tmp/names.1")'"
[ "$(cat "$tmp/leak.1")" = 0 ] || fail "the password is in the trial's environment"

# ------------------------------------------------ --password-file alone
# $PROTEIN_REDIS (inherited by the trial) leads to Redis
PROTEIN_REDIS=$REDIS_URL "$PROTEIN" agent auth --count 1 \
    --password-file "$tmp/redis.pass" -- "$tmp/trial.sh" >"$tmp/agent2.out" 2>&1 ||
    fail "agent with --password-file: $(cat "$tmp/agent2.out")"
[ ! -s "$tmp/report.2" ] && is "$(field 2 progress_score)" 0.3 ||
    fail "the report of an agent's trial with --password-file did not reach Redis: $(cat "$tmp/report.2")"

# ------------------------------------------------ a file others may read
chmod 644 "$tmp/redis.pass"
PROTEIN_REDIS=$REDIS_URL "$PROTEIN" agent auth --count 1 \
    --password-file "$tmp/redis.pass" -- "$tmp/trial.sh" >"$tmp/agent3.out" 2>&1 ||
    fail "agent with a readable --password-file: $(cat "$tmp/agent3.out")"
grep -q "warning: password file .*redis.pass is not private to you (owner uid $(id -u), mode 0644); COMMAND is not handed it" \
    "$tmp/agent3.out" || fail "no warning for a password file others may read: $(cat "$tmp/agent3.out")"
grep -q 'progress not sent' "$tmp/report.3" && [ -z "$(field 3 progress_score)" ] ||
    fail "a password file others may read was handed on: $(cat "$tmp/report.3")"
[ "$(field 3 status)" = completed ] ||
    fail "trial 3 is not completed: $(field 3 status)"

# ------------------------------------------------ the agent's connection
# the agent's authenticated Redis connection is not the trial's: no socket
# beyond those this test itself was started with reaches COMMAND
sockets() { # sockets PID: the socket inodes among PID's descriptors
    for f in /proc/"$1"/fd/*; do readlink "$f"; done 2>/dev/null |
        grep '^socket:' | sort -u
}
chmod 600 "$tmp/redis.pass"
sockets $$ >"$tmp/sockets.own"
cat >"$tmp/sockets.sh" <<EOF
#!/bin/sh
for f in /proc/\$\$/fd/*; do readlink "\$f"; done 2>/dev/null |
    grep '^socket:' | sort -u >"$tmp/sockets.trial"
echo "loss=1" >>"\$PROTEIN_RESULT"
EOF
chmod +x "$tmp/sockets.sh"
"$PROTEIN" agent auth --redis "$REDIS_URL" --password-file "$tmp/redis.pass" \
    --count 1 -- "$tmp/sockets.sh" >"$tmp/agent4.out" 2>&1 ||
    fail "agent of sockets.sh: $(cat "$tmp/agent4.out")"
[ -e "$tmp/sockets.trial" ] || fail "the trial listed no descriptors"
inherited=$(comm -13 "$tmp/sockets.own" "$tmp/sockets.trial")
[ -z "$inherited" ] ||
    fail "the trial inherited the agent's Redis connection: $inherited"

cli_test_finish
