#!/usr/bin/env bash
# test_pufferlib_train.sh - examples/pufferlib_train.py's reporter, the
# logger it gives PufferLib's train(), fed logs shaped as PufferLib 3.0's
# PuffeRL.mean_and_log writes them (environment/METRIC, uptime,
# agent_steps), through the real `protein report`:
#   - alone (PROTEIN_RESULT only, as under protein run): each report from
#     20% of the training on becomes a step=, cost= and metric line in the
#     result file, logs before it or without the metric none;
#   - under `protein agent` on a hyperband sweep in a private redis-server:
#     the reports reach Redis as the trial's curve, and a trial the sweep
#     stops ends its training (SweepStopped) and is recorded as pruned.
# The example itself ran a real `puffer train puffer_breakout` under
# protein run by hand (docs/config-reference.md); CI has no PufferLib.
set -eu
. "$top_srcdir/tests/common/cli_test.sh"

cli_test_init test_pufferlib_train
cli_test_python json
user=$(id -un)
export PROTEIN="$PROTEIN" PYTHONPATH="$top_srcdir/examples"

# drive.py TOTAL BASE N: N logs of agent_steps 10, 20, ... of a TOTAL-step
# training, environment/loss BASE + 1/i, through the reporter, as
# pufferlib_train.py's main() runs train(); prints "stopped" when the
# sweep stopped the trial.
cat >"$tmp/drive.py" <<'EOS'
import sys
from pufferlib_train import ProteinReporter, SweepStopped
total, base, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
reporter = ProteinReporter(total)
try:
    for i in range(1, n + 1):
        logs = {'agent_steps': 10 * i, 'uptime': 0.5 * i, 'SPS': 100.0,
                'environment/loss': base + 1.0 / i}
        if i == 2:
            del logs['environment/loss']  # an epoch without episodes
        reporter.log(logs, 10 * i)
except SweepStopped:
    print('stopped')
EOS

# ------------------------------------------------------------ alone
export PROTEIN_RESULT=$tmp/result PROTEIN_METRIC_KEY=loss
"$python" "$tmp/drive.py" 100 1 6 >"$tmp/alone.out" 2>&1 ||
    fail "reporter alone: $(cat "$tmp/alone.out")"
# steps 10 (below 20% of 100) and 20 (no loss) give no report
[ "$(grep -c '^step=' "$tmp/result")" = 4 ] || fail "reports: $(cat "$tmp/result")"
head -3 "$tmp/result" | tr '\n' ' ' | grep -qx 'step=30 cost=1.5 loss=1.3333333333333333 ' ||
    fail "first report: $(head -3 "$tmp/result")"
tail -1 "$tmp/result" | grep -qx 'loss=1.1666666666666667' ||
    fail "last line is not the last loss: $(tail -1 "$tmp/result")"
# a metric named as PufferLib logs it (environment/loss, as in
# examples/sweeps/pufferlib-ppo.yaml) is the same log
export PROTEIN_RESULT=$tmp/result2 PROTEIN_METRIC_KEY=environment/loss
"$python" "$tmp/drive.py" 100 1 6 >"$tmp/alone2.out" 2>&1 ||
    fail "reporter alone, metric environment/loss: $(cat "$tmp/alone2.out")"
[ "$(grep -c '^environment/loss=' "$tmp/result2")" = 4 ] ||
    fail "reports for metric environment/loss: $(cat "$tmp/result2" 2>&1) $(cat "$tmp/alone2.out")"
unset PROTEIN_RESULT PROTEIN_METRIC_KEY

# ------------------------------------------------------------ under the agent
cli_test_redis
cat >"$tmp/hb.yaml" <<'EOS'
name: puffer-hb
method: random
metric: {name: loss, goal: minimize}
early_terminate: {type: hyperband, min_iter: 2, eta: 3}
parameters:
  x: {min: 0.0, max: 1.0}
EOS
"$PROTEIN" create "$tmp/hb.yaml" >"$tmp/create.out" 2>&1 ||
    fail "create: $(cat "$tmp/create.out")"
# trial 1 learns (loss near 1), trial 2 does not (near 10): hyperband
# stops trial 2 at its second report
cat >"$tmp/trial.sh" <<EOS
#!/bin/sh
base=10
[ "\$PROTEIN_TRIAL" = 1 ] && base=1
exec "$python" "$tmp/drive.py" 10 \$base 12
EOS
chmod +x "$tmp/trial.sh"
"$PROTEIN" agent puffer-hb --count 2 -- "$tmp/trial.sh" >"$tmp/agent.out" 2>&1 ||
    fail "agent: $(cat "$tmp/agent.out")"
field() { redis-cli -p "$REDIS_PORT" hget "protein:{$user/puffer-hb}:trial:$1" "$2"; }
[ "$(field 1 status)" = completed ] || fail "trial 1: $(field 1 status) $(cat "$tmp/agent.out")"
[ "$(field 1 progress_n)" = 11 ] || fail "trial 1 sent $(field 1 progress_n) reports, not 11"
[ "$(field 2 status)" = pruned ] || fail "trial 2: $(field 2 status) $(cat "$tmp/agent.out")"
grep -q '^stopped$' "$tmp/agent.out" ||
    fail "trial 2's training did not end when the sweep stopped it: $(cat "$tmp/agent.out")"
[ "$(field 2 progress_n)" -lt 11 ] || fail "trial 2 went on reporting: $(field 2 progress_n)"

# without PufferLib installed: one line saying what to install, exit 2,
# not a traceback
if ! "$python" -c 'import pufferlib' 2>/dev/null; then
    rc=0
    "$python" "$top_srcdir/examples/pufferlib_train.py" puffer_breakout \
        >"$tmp/nopuffer.out" 2>&1 || rc=$?
    expect_rc 2 "$rc" "pufferlib_train.py without PufferLib"
    grep -q "^pufferlib_train.py: cannot import PufferLib's trainer" "$tmp/nopuffer.out" &&
        ! grep -q Traceback "$tmp/nopuffer.out" ||
        fail "pufferlib_train.py without PufferLib: $(cat "$tmp/nopuffer.out")"
fi

cli_test_finish
