#!/bin/bash
# A protein trial for the peer benchmark: sends $PROTEIN_PARAMS and its
# launch number $PROTEIN_TRIAL to the harness's evaluation server on
# 127.0.0.1:$1, waits for its reply (which the harness holds until the
# trial's simulated finish), and writes score= and cost= to
# $PROTEIN_RESULT. Bash only (its /dev/tcp), so that a trial
# costs milliseconds, not an interpreter start.
set -eu
exec 3<>"/dev/tcp/127.0.0.1/$1"
printf '%s\n%s\n' "$PROTEIN_PARAMS" "$PROTEIN_TRIAL" >&3
read -r score cost curve <&3
# a curve problem's reply goes on with STEP SCORE COST per point: progress
# reports, as a training script writes them. All in one write: the run
# is over on the simulated clock, and protein run, which reads reports
# as they come (early stop), must not judge it half written.
out=
set -- ${curve:-}
while [ $# -ge 3 ]; do
    out="${out}step=$1
cost=$3
score=$2
"
    shift 3
done
printf '%sscore=%s\ncost=%s\n' "$out" "$score" "$cost" >>"$PROTEIN_RESULT"
