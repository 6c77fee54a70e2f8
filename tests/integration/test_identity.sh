#!/bin/sh
# test_identity.sh - identities enforced by Redis, not by clients: two Unix
# users (created here, removed at exit) get their Redis identities from
# `protein admin add-user`, the plugin its from `protein admin add-service`
# (the setup of docs/admin.md, "Security"), and every attack of issue 11 is
# replayed and must be refused, while the legitimate paths work: user A's
# own sweep through `protein agent` and `protein report`, A's jobs and B's
# jobs on A's shared sweep through the plugin (integration/plugin_step).
# Each check's message quotes the sentence of docs/admin.md it backs.
# Needs root (useradd); skips (77) otherwise.
set -eu

: "${top_builddir:?run through make check}" "${top_srcdir:?run through make check}"
if [ "$(id -u)" -ne 0 ]; then
    echo "test_identity: SKIP: needs root to create two Unix users"
    exit 77
fi
for tool in useradd userdel runuser sha1sum; do
    command -v $tool >/dev/null 2>&1 || { echo "test_identity: SKIP: no $tool"; exit 77; }
done
STEP=$top_builddir/tests/integration/plugin_step
[ -x "$STEP" ] || { echo "test_identity: SKIP: plugin_step not built (no Slurm headers)"; exit 77; }
. "$top_srcdir/tests/common/cli_test.sh"
# the test's files go in $TMPDIR, which may be root's own (a distcheck
# run with TMPDIR=/root/tmp), and so do the two users' private
# directories: the users must reach the one and make the other
export TMPDIR=/tmp
cli_test_init test_identity
export TMPDIR=/tmp
cli_test_redis

# The users are named after this shell's pid; those of a run that was
# killed before its cleanup (its pid gone) are removed first.
for u in $(getent passwd | sed -n 's/^\(pq[ab][0-9][0-9]*\):.*/\1/p'); do
    kill -0 "${u#pq?}" 2>/dev/null || userdel -r "$u" >/dev/null 2>&1 || true
done
A=pqa$$
B=pqb$$
drop_users() {
    # userdel refuses a user whose processes still run
    pkill -KILL -u "$A" 2>/dev/null || true
    pkill -KILL -u "$B" 2>/dev/null || true
    userdel -r "$A" >/dev/null 2>&1 || true
    userdel -r "$B" >/dev/null 2>&1 || true
}
trap 'drop_users; cli_test_cleanup' EXIT
trap 'exit 1' INT TERM HUP
useradd -m -s /bin/sh "$A"
useradd -m -s /bin/sh "$B"
UA=$(id -u "$A")
UB=$(id -u "$B")

# check WHAT COMMAND...: COMMAND must succeed.
check() { what=$1; shift; "$@" >"$tmp/check.out" 2>&1 || fail "$what: $(head -c 300 "$tmp/check.out")"; }
# refused WHAT COMMAND...: COMMAND must fail, or print an error (redis-cli
# exits 0 after an error reply).
refused() {
    what=$1; shift
    out=$("$@" 2>&1) && ! printf '%s' "$out" | grep -q 'NOPERM\|ERR\|error\|NOAUTH\|WRONGPASS' &&
        fail "not refused: $what (got: $(printf '%s' "$out" | head -c 200))"
    return 0
}

# ------------------------------------------------------------ the admin's setup
# docs/admin.md: the admin's own Redis user is `default` with a password.
ADMIN_PW=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
rcli CONFIG SET requirepass "$ADMIN_PW" >/dev/null
umask 077
printf '%s\n' "$ADMIN_PW" >"$tmp/admin.pass"
umask 022
radmin() { redis-cli -p "$REDIS_PORT" --no-auth-warning -a "$ADMIN_PW" "$@"; }
ADMIN="--redis $REDIS_URL --password-file $tmp/admin.pass"
# world-readable copies of what the users run, and a root-only secret dir
pub=$tmp/pub
mkdir -p "$pub/etc" "$pub/results"
chmod 755 "$tmp" "$pub" "$pub/etc"
chmod 1777 "$pub/results"
"$PROTEIN" admin add-service protein-plugin --secret-file "$pub/etc/plugin.pass" $ADMIN \
    >"$tmp/admin.out" || fail "admin add-service protein-plugin"
"$PROTEIN" admin add-service protein-proteind --secret-file "$pub/etc/proteind.pass" $ADMIN \
    >>"$tmp/admin.out" || fail "admin add-service protein-proteind"
"$PROTEIN" admin add-user "$A" $ADMIN >>"$tmp/admin.out" || fail "admin add-user A"
"$PROTEIN" admin add-user "$B" $ADMIN >>"$tmp/admin.out" || fail "admin add-user B"
APW=$(eval echo "~$A")/.config/protein/redis-password
BPW=$(eval echo "~$B")/.config/protein/redis-password
[ "$(stat -c '%U %a' "$APW")" = "$A 600" ] || fail "A's password file is not A's, mode 600"
[ "$(stat -c '%U %a' "$pub/etc/plugin.pass")" = "root 600" ] ||
    fail "the plugin's password file is not root's, mode 600"

ra() { redis-cli -p "$REDIS_PORT" --no-auth-warning --user "$A" -a "$(cat "$APW")" "$@"; }
rb() { redis-cli -p "$REDIS_PORT" --no-auth-warning --user "$B" -a "$(cat "$BPW")" "$@"; }
asA() { runuser -u "$A" -- env PROTEIN_REDIS="$REDIS_URL" "$@"; }
asB() { runuser -u "$B" -- env PROTEIN_REDIS="$REDIS_URL" "$@"; }
PLUGIN_URL=redis://protein-plugin@127.0.0.1:$REDIS_PORT
step() { # step SWEEP UID JOBID SCORE: one batch step through the plugin
    "$STEP" "$1" "$2" "$3" "$4" "redis=$PLUGIN_URL" "password_file=$pub/etc/plugin.pass" \
        "result_dir=$pub/results" "claim_timeout=0"
}

# docs/admin.md shows the rules add-user sets, as they are.
grep -qxF "$("$PROTEIN" admin rules user alice)" "$top_srcdir/docs/admin.md" ||
    fail "docs/admin.md does not show the rules of 'protein admin rules user alice'"
# Every command protein's functions run is in both roles' ACL rules.
for cmd in $(grep -o "redis\.call('[A-Z]*'" "$top_srcdir/queue/functions.lua" | cut -d"'" -f2 | sort -u); do
    lc=$(echo "$cmd" | tr 'A-Z' 'a-z')
    "$PROTEIN" admin rules user "$A" | grep -q -- "+$lc\( \|\$\)" ||
        fail "the user rules lack +$lc, which functions.lua runs"
    "$PROTEIN" admin rules service | grep -q -- "+$lc\( \|\$\)" ||
        fail "the service rules lack +$lc, which functions.lua runs"
done

# ------------------------------------------------------------ sweeps of A
cat >"$pub/quad.yaml" <<EOF
name: quad
metric: {name: score, goal: maximize}
max_trials: 6
parameters:
  x: {distribution: uniform, min: -2, max: 2}
EOF
chmod 644 "$pub/quad.yaml"
check "a user creates a sweep with their own credentials (protein create)" \
    asA "$PROTEIN" create --name ppo "$pub/quad.yaml"
check "a user creates a shared sweep" asA "$PROTEIN" create --name open --shared "$pub/quad.yaml"
[ "$(radmin exists "protein:{$A/ppo}:meta")" = 1 ] || fail "a bare name means USER/NAME"
asA "$PROTEIN" list >"$tmp/list.out" 2>&1 || fail "a user lists their sweeps"
grep -q "^$A/ppo " "$tmp/list.out" || fail "list shows $A/ppo: $(cat "$tmp/list.out")"

# A's own trials through the agent; the trial reports progress with A's
# credentials (protein report) and its score through the result file.
cat >"$pub/trial.sh" <<EOF
#!/bin/sh
$PROTEIN report step=1 score=\$PROTEIN_PARAM_X || exit 1
echo "score=\$PROTEIN_PARAM_X" >>"\$PROTEIN_RESULT"
EOF
chmod 755 "$pub/trial.sh"
asA "$PROTEIN" agent ppo --count 2 -- "$pub/trial.sh" >"$tmp/agent.out" 2>&1 ||
    fail "A's agent on A's sweep: $(cat "$tmp/agent.out")"
grep -q 'progress not sent' "$tmp/agent.out" && fail "A's progress was refused: $(cat "$tmp/agent.out")"
[ "$(radmin hget "protein:{$A/ppo}:trial:1" status)" = completed ] || fail "A's trial 1 not completed"
[ -n "$(radmin hget "protein:{$A/ppo}:trial:1" progress_step)" ] || fail "A's progress not stored"
check "A sees A's best trials" asA "$PROTEIN" best ppo
check "A sees A's sweep status" asA "$PROTEIN" status ppo

# A's job through the plugin: --sweep=ppo means A's own.
step ppo "$UA" 101 0.25 >"$tmp/stepA.out" 2>"$tmp/stepA.err" ||
    fail "A's job on A's sweep: $(cat "$tmp/stepA.err")"
id=$(sed -n 's/^trial \([0-9]*\) .*/\1/p' "$tmp/stepA.out")
[ "$(radmin hget "protein:{$A/ppo}:trial:$id" status)" = completed ] ||
    fail "A's job's trial not completed"

# B's job on A's shared sweep works; on A's other sweep it is refused.
step "$A/open" "$UB" 201 0.5 >"$tmp/stepB.out" 2>"$tmp/stepB.err" ||
    fail "B's job on A's shared sweep: $(cat "$tmp/stepB.err")"
id=$(sed -n 's/^trial \([0-9]*\) .*/\1/p' "$tmp/stepB.out")
[ "$(radmin hget "protein:{$A/open}:trial:$id" score)" = 0.5 ] ||
    fail "B's job's result not recorded in A's shared sweep"
# B's trial program cannot report progress into A's sweep (B's Redis user
# may not change it): a warning, exit status 0.
tokB=$(sed -n 's/^trial [0-9]* token \([0-9a-f]*\)$/\1/p' "$tmp/stepB.out")
runuser -u "$B" -- env PROTEIN_REDIS="$REDIS_URL" PROTEIN_SWEEP="$A/open" \
    PROTEIN_TRIAL="$id" PROTEIN_TOKEN="$tokB" PROTEIN_RESULT="$pub/results/b.txt" \
    "$PROTEIN" report score=1 >/dev/null 2>"$tmp/reportB.err" ||
    fail "B's report in A's shared sweep did not exit 0"
grep -q "another user's" "$tmp/reportB.err" ||
    fail "B's report did not say why progress was not sent: $(cat "$tmp/reportB.err")"
rc=0
step "$A/ppo" "$UB" 202 0.5 >/dev/null 2>"$tmp/stepB2.err" || rc=$?
[ $rc -eq 1 ] && grep -q "belongs to another user and is not shared" "$tmp/stepB2.err" ||
    fail "B's job was not refused A's unshared sweep (rc $rc): $(cat "$tmp/stepB2.err")"

# sbatch's check of --sweep, as the submitter with their own identity.
submit() { # submit USER SWEEP: the plugin's submit-time check, as USER
    runuser -u "$1" -- "$STEP" "$2" "$(id -u "$1")" 0 submit "redis=$PLUGIN_URL"
}
submit "$A" ppo >/dev/null 2>"$tmp/submit.err" || fail "A's submission refused: $(cat "$tmp/submit.err")"
grep -q 'could not check' "$tmp/submit.err" && fail "A's submission unchecked: $(cat "$tmp/submit.err")"
submit "$A" nosuch >/dev/null 2>"$tmp/submit.err" && fail "A's submission to no sweep accepted"
grep -q "no such sweep $A/nosuch" "$tmp/submit.err" || fail "no 'no such sweep': $(cat "$tmp/submit.err")"
check "B submits to A's shared sweep" submit "$B" "$A/open"
# $PROTEIN_REDIS_PASSWORD in the submitter's environment is the
# submitter's own password, not the plugstack URL's user's (the check
# logged in as protein-plugin with it, and let a mistyped sweep through);
# a wrong one is a warning that names the submitter's identity.
runuser -u "$A" -- env PROTEIN_REDIS_PASSWORD="$(cat "$APW")" "$STEP" nosuch \
    "$(id -u "$A")" 0 submit "redis=$PLUGIN_URL" >/dev/null 2>"$tmp/submit.err" &&
    fail "A's submission to no sweep accepted with PROTEIN_REDIS_PASSWORD set: $(cat "$tmp/submit.err")"
grep -q "no such sweep $A/nosuch" "$tmp/submit.err" ||
    fail "PROTEIN_REDIS_PASSWORD: no 'no such sweep': $(cat "$tmp/submit.err")"
runuser -u "$A" -- env PROTEIN_REDIS_PASSWORD=wrong "$STEP" ppo "$(id -u "$A")" 0 \
    submit "redis=$PLUGIN_URL" >/dev/null 2>"$tmp/submit.err" ||
    fail "a wrong PROTEIN_REDIS_PASSWORD refused the submission: $(cat "$tmp/submit.err")"
grep -q "could not check sweep 'ppo' (.*redis://$A@127.0.0.1:$REDIS_PORT" "$tmp/submit.err" ||
    fail "the warning does not name A's identity: $(cat "$tmp/submit.err")"

# A running trial of A's (a job of A that holds it), for the attacks below.
step ppo "$UA" 102 - >"$tmp/run.out" 2>"$tmp/run.err" || fail "A's running job: $(cat "$tmp/run.err")"
RID=$(sed -n 's/^trial \([0-9]*\) .*/\1/p' "$tmp/run.out")
RTOKEN=$(sed -n 's/^trial [0-9]* token \([0-9a-f]*\)$/\1/p' "$tmp/run.out")
[ -n "$RID" ] && [ -n "$RTOKEN" ] || fail "no running trial"
META="protein:{$A/ppo}:meta"

# ------------------------------------------------------------ attacks by B
# "No user can read a token": Redis keeps SHA-1 digests only, and B
# cannot read A's keys at all.
refused "B reads A's tokens" rb HGETALL "protein:{$A/ppo}:private"
stored=$(radmin hget "protein:{$A/ppo}:private" "token:$RID")
[ "$stored" = "$(printf '%s' "$RTOKEN" | sha1sum | cut -d' ' -f1)" ] ||
    fail "the stored token is not the digest of the job's token"
ra hgetall "protein:{$A/ppo}:private" | grep -qx "$stored" ||
    fail "the sweep's owner cannot read its token digests (HGETALL)"
ra hgetall "protein:{$A/ppo}:private" | grep -q "$RTOKEN" &&
    fail "a token is readable in Redis, even by the sweep's owner"
refused "B reads A's trial hashes" rb HGETALL "protein:{$A/ppo}:trial:$RID"
refused "B reads A's observations" rb XRANGE "protein:{$A/ppo}:observations" - +
refused "B follows A's observations" rb XREAD STREAMS "protein:{$A/ppo}:observations" 0
# "People read their own trials straight from Redis."
ra hgetall "protein:{$A/ppo}:trial:$RID" | grep -qx status ||
    fail "A cannot read her own trial hash whole (HGETALL)"
ra xrange "protein:{$A/ppo}:observations" - + | grep -q NOPERM &&
    fail "A cannot read her own sweep's observations (XRANGE)"
refused "B reads A's sweep through a function" rb FCALL_RO protein_info 1 "$META"
# "Control verbs and result recording cannot be forged."
refused "B completes A's trial with a forged score" \
    rb FCALL protein_complete 1 "$META" "$RID" "$RTOKEN" 1e300 ''
refused "B fails A's trial" rb FCALL protein_fail 1 "$META" "$RID" "$RTOKEN" 1 x
refused "B sends progress for A's trial" rb FCALL protein_progress 1 "$META" "$RID" "$RTOKEN" 1 1e300 ''
refused "B claims A's running trial with A's uid and claim key" \
    rb FCALL protein_claim 1 "$META" 102_0 "$UA" 102 0 node 0 1 \
    00000000000000000000000000000000 "$A"
refused "B expires A's leases" rb FCALL protein_expire 1 "$META" 99999999999
refused "B extends A's trial's lease" rb FCALL protein_extend 1 "$META" x "$RID" k
refused "B lists A's trials due" rb FCALL_RO protein_due 1 "$META" 16
refused "B pauses A's sweep as uid 0" rb FCALL protein_set_state 1 "$META" pause 0
refused "B stops A's sweep as uid 0" rb FCALL protein_set_state 1 "$META" stop 0
refused "B stops A's sweep with the CLI" asB "$PROTEIN" stop "$A/ppo"
refused "B raises A's budget as uid 0" rb FCALL protein_set_budget 1 "$META" +100 0
refused "B lowers A's budget with the CLI" asB "$PROTEIN" budget "$A/ppo" 1
refused "B makes himself the owner" rb HSET "$META" owner_uid "$UB"
refused "B deletes A's sweep" asB "$PROTEIN" delete --yes "$A/ppo"
refused "B deletes A's sweep through the function" \
    rb FCALL protein_delete 2 "$META" "protein:{$A/}:sweeps" 0
refused "B removes A's sweep from A's index" rb ZREM "protein:{$A/}:sweeps" "$A/ppo"
refused "B removes A from the user list" rb ZREM protein:users "$A"
refused "B replaces A's ready queue" rb FCALL protein_queue_replace 1 "$META" x
refused "B takes A's coordinator lease" rb FCALL protein_coord_acquire 1 "$META" me 100000
refused "B requests a stop of A's trial" rb FCALL protein_request_stop 1 "$META" "$RID"
refused "B creates a sweep in A's namespace" asB "$PROTEIN" create --name "$A/evil" "$pub/quad.yaml"
refused "B claims in A's shared sweep with his own credentials" \
    rb FCALL protein_claim 1 "protein:{$A/open}:meta" k "$UB" 1 0 n 0 1 \
    00000000000000000000000000000000 "$B"
refused "B reads A's password file" runuser -u "$B" -- cat "$APW"
refused "B reads the plugin's password file" runuser -u "$B" -- cat "$pub/etc/plugin.pass"
refused "B reads proteind's password file" runuser -u "$B" -- cat "$pub/etc/proteind.pass"
# the CLI's refusal says which rule refused it, not Redis' words alone
rc=0
asB "$PROTEIN" status "$A/ppo" >"$tmp/statusB.err" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q "^protein status: sweep $A/ppo: NOPERM .*(Redis' ACL refused it: a person's Redis user reaches only their own sweeps" "$tmp/statusB.err" ||
    fail "B's status of A's sweep (exit $rc): $(cat "$tmp/statusB.err")"
rc=0
asB "$PROTEIN" list --all >"$tmp/listB.err" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q "^protein list: NOPERM .*list --all needs the admin's or a service's" "$tmp/listB.err" ||
    fail "B's list --all (exit $rc): $(cat "$tmp/listB.err")"
# a refusal of protein's own (the admin's agent in A's unshared sweep) is
# no ACL's: said as the function says it, with no ACL rule blamed
rc=0
"$PROTEIN" agent "$A/ppo" --count 1 $ADMIN -- /bin/true >"$tmp/agentAdmin.err" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q "^protein agent: sweep $A/ppo: sweep '$A/ppo' belongs to $A and is not shared\$" "$tmp/agentAdmin.err" ||
    fail "the admin's agent in A's unshared sweep (exit $rc): $(cat "$tmp/agentAdmin.err")"
refused "anyone without a password" redis-cli -p "$REDIS_PORT" GET x
refused "B reads A's shared sweep (shared lets jobs claim, nothing more)" \
    rb HGETALL "protein:{$A/open}:meta"
refused "B changes A's shared sweep" rb FCALL protein_set_state 1 "protein:{$A/open}:meta" stop 0
refused "B runs FUNCTION" rb FUNCTION DELETE protein
refused "B runs CONFIG" rb CONFIG GET dir
refused "B runs EVAL" rb EVAL "return 1" 0
refused "B publishes" rb PUBLISH chan x
refused "B runs KEYS" rb KEYS '*'
refused "B flushes" rb FLUSHALL
[ "$(radmin hget "protein:{$A/ppo}:trial:$RID" status)" = running ] ||
    fail "A's running trial changed under B's attacks"
[ "$(radmin hget "$META" state)" = active ] || fail "A's sweep state changed"
[ "$(radmin zscore "protein:{$A/}:sweeps" "$A/ppo")" = 0 ] || fail "A's sweep left its index"
# The owner's expiry takes the server's clock, not a time from the client:
# its one argument is a grace that only delays it, at most an hour.
ra FCALL protein_expire 1 "$META" 99999999999 2>&1 | grep -q "EINVAL.*0 to 3600 seconds" ||
    fail "protein_expire took a grace of over an hour"
[ "$(ra FCALL protein_expire 1 "$META" 0)" = 0 ] &&
    [ "$(radmin hget "protein:{$A/ppo}:trial:$RID" status)" = running ] ||
    fail "protein_expire believed a client's time"
[ "$(radmin hget "protein:{$A/ppo}:trial:$RID" status)" = running ] ||
    fail "A's own expire call with a future time expired a lease"

# What A writes into A's own index by hand (another owner's name, a name
# too long to be one) is not listed, and listing still ends.
ra ZADD "protein:{$A/}:sweeps" 0 "$B/own" 0 "$A/$(printf 'x%.0s' $(seq 1 300))" >/dev/null
asA "$PROTEIN" list >"$tmp/list2.out" 2>&1 || fail "A's list after A's index was stuffed"
grep -q "$B/own\|xxxxxxxx" "$tmp/list2.out" && fail "list shows names stuffed into A's index"
grep -q "^$A/ppo " "$tmp/list2.out" || fail "A's list lost A's sweep: $(cat "$tmp/list2.out")"

# Wake streams: B cannot write A's; A's own, damaged by hand, takes
# nothing from her raises (they go on, only the wake is skipped), and the
# wakes of her sweeps are read back by the service alone (B: NOPERM).
refused "B writes into A's wake stream" rb XADD "protein:{$A/}:wake" '*' sweep "$A/ppo"
refused "B reads A's wake stream" rb FCALL_RO protein_wakes 1 "protein:{$A/}:wake" ''
ra SET "protein:{$A/}:wake" junk >/dev/null
check "A raises her budget with her wake stream damaged" asA "$PROTEIN" budget ppo +1
[ "$(radmin hget "$META" max_trials)" = 7 ] || fail "A's raise did not land"
ra DEL "protein:{$A/}:wake" >/dev/null
check "A raises her budget again" asA "$PROTEIN" budget ppo +1
[ "$(radmin xlen "protein:{$A/}:wake")" = 1 ] || fail "A's raise wrote no wake"

# A controls A's own sweeps.
check "A pauses A's sweep" asA "$PROTEIN" pause open
check "A resumes A's sweep" asA "$PROTEIN" resume open
check "A stops A's sweep" asA "$PROTEIN" stop open
check "A deletes A's sweep" asA "$PROTEIN" delete --yes open
[ "$(radmin exists "protein:{$A/open}:meta")" = 0 ] || fail "A's delete left the sweep"

# ------------------------------------------------------------ bounded work
# "No call makes Redis busy": B's own sweep, with huge counts passed and stored.
check "B creates his own sweep" asB "$PROTEIN" create --name own "$pub/quad.yaml"
BMETA="protein:{$B/own}:meta"
RB="redis-cli -p $REDIS_PORT --no-auth-warning --user $B -a $(cat "$BPW")"
n=$(timeout 10 $RB FCALL_RO protein_trials 1 "$BMETA" 1 200000000 | wc -l) ||
    fail "protein_trials with a huge range did not answer in 10 s"
[ "$n" -le 1000 ] || fail "protein_trials returned $n lines for a huge range"
timeout 10 $RB FCALL_RO protein_list 1 "protein:{$B/}:sweeps" '' 200000000 >/dev/null ||
    fail "protein_list with a huge count did not answer"
# B's own stored values, long ones included, cost a function no more
# than reading them: a 1 MB run of hex digits where a trial's token
# digests go once froze Redis for hours (a pattern search from every
# start), for A too, and no FUNCTION KILL could stop it.
rb HSET "$BMETA" n_trials 1 >/dev/null
rb HSET "protein:{$B/own}:trial:1" id 1 status running params '{}' >/dev/null
rb HSET "protein:{$B/own}:claims" k1 1 >/dev/null
tok=0123456789abcdef0123456789abcdef
{ printf '%s ' "$(printf '%s' $tok | sha1sum | cut -d' ' -f1)"
  head -c 1000000 /dev/zero | tr '\0' a; printf ' '; } |
    rb -x HSET "protein:{$B/own}:private" token:1 >/dev/null
for args in "protein_release 1 $BMETA k1 why $tok 1" "protein_interrupt 1 $BMETA 1 $tok why 1"; do
    # (a frozen server would hang every later command: stop at once)
    timeout 10 $RB FCALL $args >/dev/null || {
        fail "${args%% *} on a long stored token list did not answer in 10 s"
        exit 1
    }
done
[ "$(timeout 5 redis-cli -p "$REDIS_PORT" --no-auth-warning --user "$A" -a "$(cat "$APW")" ping)" = PONG ] ||
    fail "Redis does not answer A after B's long token list"
# The texts of B's meta reach the admin's terminal only without control
# characters: `protein status` of B's sweep, as root, shows no escape
# sequence B stored.
esc=$(printf '\033]2;owned\007\033[2J')
rb HSET "$BMETA" stopped_by "x${esc}" refit_at 1 refit_backend "c${esc}" metric "m${esc}" \
    cost_metric "k${esc}" >/dev/null
rb SET "protein:{$B/own}:coordinator" "h${esc}" >/dev/null
"$PROTEIN" status "$B/own" $ADMIN >"$tmp/status-esc.out" 2>&1 ||
    fail "the admin's status of B's sweep: $(cat "$tmp/status-esc.out")"
grep -q "$(printf '\033')" "$tmp/status-esc.out" &&
    fail "the admin's status of B's sweep shows an escape sequence B stored: $(od -c "$tmp/status-esc.out" | head -5)"
grep -q "coordinator: alive (h?\]2;owned?" "$tmp/status-esc.out" ||
    fail "the admin's status does not show B's texts with '?' for control characters: $(cat "$tmp/status-esc.out")"
rb DEL "protein:{$B/own}:coordinator" >/dev/null
# and so do a trial's parameters (a JSON \u escape decodes to any byte)
rb HSET "$BMETA" n_trials 2 >/dev/null
rb HSET "protein:{$B/own}:trial:2" id 2 status completed score 1 \
    params '{"x": 1, "a\u001b]2;owned\u0007": "v\u001b[2J"}' >/dev/null
for verb in trials show best; do
    id=; [ $verb = show ] && id=2
    "$PROTEIN" $verb "$B/own" $id $ADMIN >"$tmp/$verb-esc.out" 2>&1 ||
        fail "the admin's $verb of B's sweep: $(cat "$tmp/$verb-esc.out")"
    grep -q "$(printf '\033')" "$tmp/$verb-esc.out" &&
        fail "the admin's $verb of B's sweep shows an escape sequence B stored: $(od -c "$tmp/$verb-esc.out" | head -5)"
    grep -q 'v?\[2J' "$tmp/$verb-esc.out" ||
        fail "the admin's $verb does not show B's parameter with '?': $(cat "$tmp/$verb-esc.out")"
done
rb HSET "$BMETA" n_trials 100000000000 >/dev/null
timeout 20 runuser -u "$B" -- env PROTEIN_REDIS="$REDIS_URL" "$PROTEIN" delete --yes own \
    >/dev/null 2>&1 || fail "deleting a sweep whose meta says n_trials 1e11"
[ "$(radmin exists "$BMETA")" = 0 ] || fail "the sweep with n_trials 1e11 is not gone"
[ "$(radmin ping)" = PONG ] || fail "Redis does not answer after the huge calls"

# proteind's identity finds every user's sweeps and serves them (its ACL
# has what proteind runs); its --password-file beats a stray
# $PROTEIN_REDIS_PASSWORD.
if [ -x "$top_builddir/coordinator/proteind" ]; then
    # "make a proteind that serves every user busy by stuffing their own
    # sweep index": B writes 10,001 names into his.
    seq -f "0 $B/j%06g" 1 10001 | tr '\n' ' ' | sed "s|^|ZADD protein:{$B/}:sweeps |" |
        rb >/dev/null
    [ "$(radmin zcard "protein:{$B/}:sweeps")" = 10001 ] || fail "B could not stuff his own index"
    PROTEIN_REDIS_PASSWORD=wrong timeout 60 "$top_builddir/coordinator/proteind" --once \
        --redis "redis://protein-proteind@127.0.0.1:$REDIS_PORT" \
        --password-file "$pub/etc/proteind.pass" >"$tmp/proteind.out" 2>&1 ||
        fail "proteind with its service identity: $(tail -5 "$tmp/proteind.out")"
    [ "$(radmin llen "protein:{$A/ppo}:queue")" -gt 0 ] ||
        fail "proteind did not fill A's queue: $(tail -5 "$tmp/proteind.out")"
    grep -q "user $B's sweep index holds over 10000 entries" "$tmp/proteind.out" ||
        fail "proteind did not say that it reads part of B's stuffed index"
    grep -q "$B/j010001" "$tmp/proteind.out" && fail "proteind read past 10000 entries of B's index"
    radmin del "protein:{$B/}:sweeps" >/dev/null
    # A person's own proteind serves that person's sweeps with their own
    # Redis user (examples/proteind.sbatch --sweep NAME).
    check "A creates a sweep for her own proteind" asA "$PROTEIN" create --name mine "$pub/quad.yaml"
    asA timeout 60 "$top_builddir/coordinator/proteind" --once --sweep mine \
        --redis "redis://$A@127.0.0.1:$REDIS_PORT" --password-file "$APW" \
        >"$tmp/proteind-A.out" 2>&1 ||
        fail "A's own proteind: $(tail -5 "$tmp/proteind-A.out")"
    [ "$(radmin llen "protein:{$A/mine}:queue")" -gt 0 ] ||
        fail "A's own proteind did not fill her sweep's queue: $(cat "$tmp/proteind-A.out")"
    # ... and finds her identity as protein does, given no user or password
    check "A creates a second sweep" asA "$PROTEIN" create --name mine2 "$pub/quad.yaml"
    asA timeout 60 "$top_builddir/coordinator/proteind" --once --sweep mine2 \
        >"$tmp/proteind-A2.out" 2>&1 ||
        fail "A's own proteind without --password-file: $(tail -5 "$tmp/proteind-A2.out")"
    [ "$(radmin llen "protein:{$A/mine2}:queue")" -gt 0 ] ||
        fail "A's own proteind (her default identity) did not fill mine2's queue: $(cat "$tmp/proteind-A2.out")"
    # ... and, given no --sweep, serves her own sweeps (her Redis user may
    # not list everyone's), saying so
    check "A creates a third sweep" asA "$PROTEIN" create --name mine3 "$pub/quad.yaml"
    asA timeout 60 "$top_builddir/coordinator/proteind" --once \
        >"$tmp/proteind-A3.out" 2>&1 ||
        fail "A's own proteind without --sweep: $(tail -5 "$tmp/proteind-A3.out")"
    grep -q "may not list every user's sweeps: serving $A's own" "$tmp/proteind-A3.out" &&
        [ "$(radmin llen "protein:{$A/mine3}:queue")" -gt 0 ] ||
        fail "A's own proteind without --sweep did not serve mine3: $(cat "$tmp/proteind-A3.out")"
fi

# ------------------------------------------------------------ which password
# docs/redis-schema.md: --password-file, else $PROTEIN_REDIS_PASSWORD,
# else the user's own ~/.config/protein/redis-password.
check "--password-file beats \$PROTEIN_REDIS_PASSWORD" \
    env PROTEIN_REDIS_PASSWORD=wrong "$PROTEIN" list --all $ADMIN
rc=0
asA env PROTEIN_REDIS_PASSWORD=wrong "$PROTEIN" list >"$tmp/envpw.out" 2>&1 || rc=$?
[ $rc -ne 0 ] && grep -q WRONGPASS "$tmp/envpw.out" ||
    fail "\$PROTEIN_REDIS_PASSWORD did not beat A's own password file (rc $rc): $(cat "$tmp/envpw.out")"
check "an empty \$PROTEIN_REDIS_PASSWORD leaves A's own password file" \
    asA env PROTEIN_REDIS_PASSWORD= "$PROTEIN" list

# ------------------------------------------------------------ new passwords
# docs/admin.md: "a failure on the way (a missing directory, Redis
# unreachable) changes nothing and the old password keeps working".
svc() { redis-cli -p "$REDIS_PORT" --no-auth-warning --user protein-proteind -a "$1" ping 2>&1; }
no_tmp() { ! ls -a "$1" | grep -q '\.tmp$' || fail "$2 left a temporary file in $1: $(ls -a "$1")"; }
OLDPW=$(cat "$pub/etc/proteind.pass")
rc=0
"$PROTEIN" admin add-service protein-proteind --secret-file "$pub/nosuch/proteind.pass" $ADMIN \
    >"$tmp/nodir.out" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "add-service into a missing directory: rc $rc, not 1"
grep -qF "directory $pub/nosuch does not exist" "$tmp/nodir.out" ||
    fail "add-service did not name the missing directory: $(cat "$tmp/nodir.out")"
[ ! -e "$pub/nosuch" ] || fail "add-service made the directory it was told does not exist"
[ "$(svc "$OLDPW")" = PONG ] ||
    fail "add-service into a missing directory changed the service's password"
printf 'wrong\n' >"$tmp/wrong.pass"
rc=0
"$PROTEIN" admin add-service protein-proteind --secret-file "$pub/etc/proteind.pass" \
    --redis "$REDIS_URL" --password-file "$tmp/wrong.pass" >"$tmp/noauth.out" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "add-service without the admin's password: rc $rc, not 1"
[ "$(cat "$pub/etc/proteind.pass")" = "$OLDPW" ] ||
    fail "add-service that Redis refused replaced the service's password file"
no_tmp "$pub/etc" "add-service that Redis refused"
[ "$(svc "$OLDPW")" = PONG ] || fail "add-service that Redis refused changed the password"
# A new password works, the old one no longer; a file given to the
# service's user (here A) stays theirs.
chown "$A:$A" "$pub/etc/proteind.pass"
"$PROTEIN" admin add-service protein-proteind --secret-file "$pub/etc/proteind.pass" $ADMIN \
    >"$tmp/again.out" 2>&1 || fail "add-service again: $(cat "$tmp/again.out")"
NEWPW=$(cat "$pub/etc/proteind.pass")
[ "$NEWPW" != "$OLDPW" ] || fail "add-service again kept the old password"
[ "$(svc "$NEWPW")" = PONG ] || fail "the new service password does not work"
svc "$OLDPW" | grep -q WRONGPASS || fail "the old service password still works"
[ "$(stat -c '%U %G %a' "$pub/etc/proteind.pass")" = "$A $A 600" ] ||
    fail "the new service password file lost its owner or mode: $(stat -c '%U %G %a' "$pub/etc/proteind.pass")"
grep -qF "password in $pub/etc/proteind.pass (mode 0600, $A's)" "$tmp/again.out" ||
    fail "add-service did not name the file's owner: $(cat "$tmp/again.out")"
no_tmp "$pub/etc" "add-service"
# add-user: a password A cannot store (A's directory made read-only)
# leaves A's old one working; then a new one replaces it.
AOLD=$(cat "$APW")
chmod 500 "$(dirname "$APW")"
rc=0
"$PROTEIN" admin add-user "$A" $ADMIN >"$tmp/adduser.out" 2>&1 || rc=$?
chmod 700 "$(dirname "$APW")"
[ $rc -eq 1 ] || fail "add-user into a directory A cannot write: rc $rc, not 1"
grep -q "nothing was changed" "$tmp/adduser.out" ||
    fail "add-user did not say that nothing changed: $(cat "$tmp/adduser.out")"
[ "$(cat "$APW")" = "$AOLD" ] || fail "a failed add-user replaced A's password file"
check "A's old password works after a failed add-user" asA "$PROTEIN" list
"$PROTEIN" admin add-user "$A" $ADMIN >"$tmp/adduser.out" 2>&1 ||
    fail "add-user again: $(cat "$tmp/adduser.out")"
[ "$(cat "$APW")" != "$AOLD" ] || fail "add-user again kept A's old password"
[ "$(stat -c '%U %a' "$APW")" = "$A 600" ] || fail "A's new password file is not A's, mode 600"
no_tmp "$(dirname "$APW")" "add-user"
check "A's new password works" asA "$PROTEIN" list

# ------------------------------------------------------------ root cancels A's sweep
# scancel runs as A, the sweep's owner: whatever job ids A wrote into the
# sweep's keys, Slurm lets it cancel only A's jobs
asA "$PROTEIN" create --name cz "$pub/quad.yaml" >/dev/null || fail "A creates cz"
cat >"$pub/slow.sh" <<'EOF'
#!/bin/sh
echo $$ >"$PROTEIN_RESULT.pid"
exec sleep 30
EOF
chmod 755 "$pub/slow.sh"
asA "$PROTEIN" agent cz -- "$pub/slow.sh" >"$tmp/cz-agent.out" 2>&1 &
cz_agent=$!
n=100
while [ $n -gt 0 ] && [ "$(radmin hget "protein:{$A/cz}:trial:1" status)" != running ]; do
    sleep 0.1; n=$((n - 1))
done
radmin hset "protein:{$A/cz}:trial:1" job_id 4242 >/dev/null
mkdir -p "$tmp/fakebin"
: >"$pub/scancel.uid"
chmod 666 "$pub/scancel.uid"
printf '#!/bin/sh\nid -u >>%s\n' "$pub/scancel.uid" >"$tmp/fakebin/scancel"
chmod 755 "$tmp/fakebin" "$tmp/fakebin/scancel"
PATH=$tmp/fakebin:$PATH "$PROTEIN" cancel "$A/cz" $ADMIN >"$tmp/cz-cancel.out" 2>&1 ||
    fail "root cancels A's sweep: $(cat "$tmp/cz-cancel.out")"
[ "$(cat "$pub/scancel.uid")" = "$(id -u "$A")" ] ||
    fail "root's cancel of A's sweep ran scancel as uid '$(cat "$pub/scancel.uid")', not A's"
# $! is the subshell of asA: the agent is A's process below runuser
pkill -TERM -u "$A" -f "protein agent cz" 2>/dev/null || true
wait $cz_agent 2>/dev/null || true

# ------------------------------------------------------------ another build's functions
# A Redis user that may not load functions works with the server's library
# and is told so (docs/redis-schema.md); the admin's next command replaces it.
sed "s/@CONTENT_SHA256@/stale00000000000/" "$top_srcdir/queue/functions.lua" >"$tmp/stale.lua"
radmin -x FUNCTION LOAD REPLACE <"$tmp/stale.lua" | grep -qx protein ||
    fail "the admin could not load another build's functions"
asA "$PROTEIN" list >"$tmp/stale.out" 2>&1 || fail "A's list with another build's functions: $(cat "$tmp/stale.out")"
grep -q "^protein list: warning: Redis keeps another build's protein functions" "$tmp/stale.out" ||
    fail "A was not told that Redis keeps another build's functions: $(cat "$tmp/stale.out")"
if [ -x "$top_builddir/coordinator/proteind" ]; then
    timeout 60 "$top_builddir/coordinator/proteind" --once \
        --redis "redis://protein-proteind@127.0.0.1:$REDIS_PORT" \
        --password-file "$pub/etc/proteind.pass" >"$tmp/proteind-stale.out" 2>&1 ||
        fail "proteind with another build's functions: $(tail -5 "$tmp/proteind-stale.out")"
    grep -q "warning: Redis keeps another build's protein functions" "$tmp/proteind-stale.out" ||
        fail "proteind did not log that Redis keeps another build's functions: $(tail -5 "$tmp/proteind-stale.out")"
fi
"$PROTEIN" list --all $ADMIN >"$tmp/admin-list.out" 2>&1 || fail "the admin's list: $(cat "$tmp/admin-list.out")"
grep -q "another build" "$tmp/admin-list.out" && fail "the admin, who may replace the functions, was warned"
[ "$(radmin fcall_ro protein_version 0)" != stale00000000000 ] ||
    fail "the admin's command did not replace another build's functions"
asA "$PROTEIN" list >"$tmp/stale.out" 2>&1 || fail "A's list after the admin's: $(cat "$tmp/stale.out")"
grep -q "another build" "$tmp/stale.out" && fail "A was still warned after the admin's command replaced the functions"

# ------------------------------------------------------------ a long passwd entry
# A directory service's entry can be longer than 4 KiB; its user still
# owns the bare names (the lookup's buffer grows).
usermod -c "$(head -c 6000 /dev/zero | tr '\0' x)" "$A"
asA "$PROTEIN" status ppo >"$tmp/long.out" 2>&1 ||
    fail "a user with a 6 KB passwd entry: $(head -c 300 "$tmp/long.out")"
grep -q "$A/ppo" "$tmp/long.out" || fail "status of a long entry's ppo: $(head -c 300 "$tmp/long.out")"

# ------------------------------------------------------------ Redis' admin user
# `default` is the admin's own Redis user: provisioning a person or a
# service under that name would reset it to their rules and a password
# written into their file, locking the admin out. Refused, nothing changed.
for what in "add-user default" "add-service default --secret-file $tmp/default.pass"; do
    rc=0
    "$PROTEIN" admin $what $ADMIN >"$tmp/default.out" 2>&1 || rc=$?
    [ $rc -eq 2 ] || fail "admin $what: rc $rc, not 2: $(cat "$tmp/default.out")"
    grep -q "Redis' own admin user" "$tmp/default.out" ||
        fail "admin $what did not say why it is refused: $(cat "$tmp/default.out")"
    [ "$(radmin ping)" = PONG ] || fail "admin $what changed the admin's Redis user"
done
[ ! -e "$tmp/default.pass" ] || fail "admin add-service default wrote a password file"

cli_test_finish
