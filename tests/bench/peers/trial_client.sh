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
read -r score cost <&3
printf 'score=%s\ncost=%s\n' "$score" "$cost" >>"$PROTEIN_RESULT"
